//! A local Raft cluster of real `helios-atlasd` processes on free loopback
//! ports, started the way the seed document starts one (flags plus
//! `HELIOS_RAFT_PEERS`), with kill -9, SIGSTOP/SIGCONT, SIGTERM and restart
//! of individual nodes. Everything is killed and removed on drop.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

pub struct Node {
    pub id: String,
    /// The IP its Raft transport binds (and sends from).
    pub host: String,
    pub port: u16,
    pub raft_port: u16,
    /// The HTTP gateway and `/metrics`.
    pub http_port: u16,
    pub dir: PathBuf,
    pub child: Option<Child>,
    log: PathBuf,
}

impl Node {
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node running").id()
    }
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    extra: Vec<String>,
    _tmp: tempfile::TempDir,
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Cluster {
    /// Starts `n` nodes with `extra` flags on each and waits for one agreed
    /// leader.
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        Cluster::start_on(&vec!["127.0.0.1"; n], extra)
    }

    /// Like [`Cluster::start`], with node `i`'s Raft transport on
    /// `hosts[i]` (e.g. 127.0.0.11-13, to cut links by address).
    pub fn start_on(hosts: &[&str], extra: &[&str]) -> Cluster {
        let mut c = Cluster::prepare(hosts, extra);
        for i in 0..hosts.len() {
            c.spawn(i);
        }
        c.wait_for_leader(Duration::from_secs(30));
        c
    }

    /// The nodes of a cluster, none started yet.
    pub fn prepare(hosts: &[&str], extra: &[&str]) -> Cluster {
        let n = hosts.len();
        let tmp = tempfile::tempdir().expect("tempdir");
        let nodes = (1..=n)
            .map(|i| {
                let dir = tmp.path().join(format!("node{i}"));
                Node {
                    host: hosts[i - 1].to_string(),
                    id: format!("node-{i}"),
                    port: free_port(),
                    raft_port: free_port(),
                    http_port: free_port(),
                    log: tmp.path().join(format!("node{i}.log")),
                    dir,
                    child: None,
                }
            })
            .collect();
        Cluster {
            nodes,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _tmp: tmp,
        }
    }

    fn peers_of(&self, i: usize) -> String {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| format!("{}:{}:{}", n.id, n.host, n.raft_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Adds a node that knows no peers (it waits to be added with
    /// `RAFT.NODE ADD`); returns its index.
    pub fn add_unstarted(&mut self, id: &str) -> usize {
        let i = self.nodes.len();
        self.nodes.push(Node {
            host: "127.0.0.1".to_string(),
            id: id.to_string(),
            port: free_port(),
            raft_port: free_port(),
            http_port: free_port(),
            dir: self._tmp.path().join(id),
            log: self._tmp.path().join(format!("{id}.log")),
            child: None,
        });
        i
    }

    /// Starts node `i` with no peers configured.
    pub fn spawn_without_peers(&mut self, i: usize) {
        self.spawn_with(i, None);
    }

    /// Starts (or restarts, on its existing data) node `i`.
    pub fn spawn(&mut self, i: usize) {
        let peers = self.peers_of(i);
        self.spawn_with(i, Some(peers));
    }

    fn spawn_with(&mut self, i: usize, peers: Option<String>) {
        // Free ports are picked before use, so a parallel test can take one
        // first: then the node exits at once, and it is started again on
        // fresh client and HTTP ports (the Raft port is in the peers'
        // configuration and must stay).
        for _ in 0..3 {
            if self.try_spawn(i, peers.clone()) {
                return;
            }
            let n = &mut self.nodes[i];
            n.port = free_port();
            n.http_port = free_port();
        }
        panic!(
            "{} could not start:\n{}",
            self.nodes[i].id,
            self.nodes[i].log()
        );
    }

    /// Starts node `i`; false if it exited at start because a client or
    /// HTTP port was taken.
    fn try_spawn(&mut self, i: usize, peers: Option<String>) -> bool {
        let n = &mut self.nodes[i];
        assert!(n.child.is_none(), "{} is already running", n.id);
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)
            .expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_helios-atlasd"));
        for (k, _) in std::env::vars() {
            if k.starts_with("HELIOS_") {
                cmd.env_remove(k);
            }
        }
        if let Some(peers) = peers {
            cmd.env("HELIOS_RAFT_PEERS", peers);
        }
        cmd.arg(format!("-data-dir={}", n.dir.display()))
            .arg(format!("-listen=127.0.0.1:{}", n.port))
            .arg("-raft=true")
            .arg(format!("-raft-node-id={}", n.id))
            .arg(format!("-raft-addr={}:{}", n.host, n.raft_port))
            .arg(format!("-raft-data-dir={}", n.dir.join("raft").display()))
            // Gateway and metrics share one port; every cluster test runs them.
            .arg(format!("-gateway-listen=127.0.0.1:{}", n.http_port))
            .arg(format!("-metrics-listen=127.0.0.1:{}", n.http_port))
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(logf);
        let child = cmd.spawn().expect("spawn helios-atlasd");
        n.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", n.port)).is_err() {
            if let Some(Ok(Some(st))) = n.child.as_mut().map(|c| c.try_wait()) {
                let log = n.log();
                let taken = log.contains("cannot listen")
                    && [n.port, n.http_port]
                        .iter()
                        .any(|p| log.contains(&format!("127.0.0.1:{p}:")));
                if taken {
                    n.child = None;
                    return false;
                }
                panic!("{} exited at start: {st}\n{log}", n.id);
            }
            assert!(Instant::now() < deadline, "{} did not listen", n.id);
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn stop(&mut self, i: usize) {
        signal(self.nodes[i].pid(), "STOP");
    }

    pub fn cont(&mut self, i: usize) {
        signal(self.nodes[i].pid(), "CONT");
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self, i: usize) -> std::process::ExitStatus {
        let mut c = self.nodes[i].child.take().expect("running");
        signal(c.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "node ignored SIGTERM for 30s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn client(&self, i: usize) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.nodes[i].port)).unwrap();
        let con = c
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        con
    }

    /// `INFO raft` of node `i` as a map, or None if it does not answer.
    pub fn raft_info(&self, i: usize) -> Option<std::collections::HashMap<String, String>> {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.nodes[i].port)).ok()?;
        let mut con = c.get_connection_with_timeout(Duration::from_secs(1)).ok()?;
        con.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let s: String = redis::cmd("INFO").arg("raft").query(&mut con).ok()?;
        Some(
            s.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect(),
        )
    }

    /// The index of the leader once every running node agrees on it.
    pub fn agreed_leader(&self) -> Option<usize> {
        let mut leader: Option<String> = None;
        let mut leaders = 0;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_running() {
                continue;
            }
            let info = self.raft_info(i)?;
            let l = info.get("raft_leader").cloned().unwrap_or_default();
            if l.is_empty() || leader.as_ref().is_some_and(|x| *x != l) {
                return None;
            }
            if info.get("raft_state").map(String::as_str) == Some("Leader") {
                leaders += 1;
            }
            leader = Some(l);
        }
        let id = leader?;
        if leaders != 1 {
            return None;
        }
        self.nodes.iter().position(|n| n.id == id)
    }

    pub fn wait_for_leader(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.agreed_leader() {
                return l;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| format!("--- {}\n{}", n.id, n.log()))
                    .collect();
                panic!("no agreed leader within {timeout:?}\n{}", logs.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every running node has applied the leader's commit index.
    pub fn wait_converged(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let infos: Vec<_> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].is_running())
                .filter_map(|i| self.raft_info(i))
                .collect();
            let applied: Vec<u64> = infos
                .iter()
                .map(|m| {
                    m.get("raft_applied_index")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                })
                .collect();
            let running = self.nodes.iter().filter(|n| n.is_running()).count();
            if applied.len() == running
                && applied.windows(2).all(|w| w[0] == w[1])
                && applied[0] > 0
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nodes did not converge: applied {applied:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn follower_of(&self, leader: usize) -> usize {
        (0..self.nodes.len())
            .find(|&i| i != leader && self.nodes[i].is_running())
            .expect("a running follower")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                signal(c.id(), "CONT");
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
