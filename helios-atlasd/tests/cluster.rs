//! Raft clusters of real processes: the seed scenario, failures (kill -9,
//! SIGSTOP, SIGTERM, a wiped node), catch-up by snapshot, administration.
//! Every acknowledged write must survive; no read may go back in time.

mod common;
#[path = "common/netns.rs"]
mod netns;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::run;

fn get(c: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).expect("GET")
}

fn info_field(info: &str, field: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

#[test]
fn seed_scenario_replicates_to_followers_with_one_agreed_leader() {
    let c = Cluster::start(3, &[]);
    let l = c.wait_for_leader(Duration::from_secs(30));
    let mut lc = c.client(l);
    assert_eq!(
        run::<String>(&mut lc, &["SET", "mykey", "hello cluster"]),
        "OK"
    );
    for f in (0..3).filter(|&i| i != l) {
        let mut fc = c.client(f);
        // Linearizable by default: a follower read sees the acknowledged write.
        assert_eq!(get(&mut fc, "mykey").as_deref(), Some("hello cluster"));
        let info: String = run(&mut fc, &["INFO"]);
        assert_eq!(info_field(&info, "raft_enabled"), "true");
        assert_eq!(info_field(&info, "raft_state"), "Follower");
        assert_eq!(info_field(&info, "raft_leader"), c.nodes[l].id);
        assert_eq!(info_field(&info, "role"), "slave");
        assert_eq!(
            info_field(&info, "master_port"),
            c.nodes[l].port.to_string()
        );
    }
    let info: String = run(&mut lc, &["INFO"]);
    assert_eq!(info_field(&info, "raft_state"), "Leader");
    assert_eq!(info_field(&info, "role"), "master");
    assert_eq!(info_field(&info, "raft_peers"), "2");
    let commit: u64 = info_field(&info, "raft_commit_index").parse().unwrap();
    assert!(commit >= 2, "commit index {commit}");
    assert!(info.contains("raft_peer0:id=node-"), "{info}");

    // A write sent to a follower is forwarded; its reply is the leader's.
    let f = c.follower_of(l);
    let mut fc = c.client(f);
    assert_eq!(run::<i64>(&mut fc, &["INCR", "counter"]), 1);
    assert_eq!(run::<i64>(&mut fc, &["INCRBY", "counter", "41"]), 42);
    assert_eq!(get(&mut lc, "counter").as_deref(), Some("42"));
    // Relative expiry is fixed by the leader's clock: the same on every node.
    assert_eq!(
        run::<String>(&mut fc, &["SET", "ttl", "v", "EX", "1000"]),
        "OK"
    );
    // WAIT counts the followers holding this client's last write.
    assert_eq!(run::<i64>(&mut fc, &["WAIT", "2", "5000"]), 2);
    c.wait_converged(Duration::from_secs(10));
    for i in 0..3 {
        let mut ci = c.client(i);
        let ttl: i64 = run(&mut ci, &["PTTL", "ttl"]);
        assert!((990_000..=1_000_000).contains(&ttl), "node {i}: pttl {ttl}");
    }
    // The real redis-cli works against a follower.
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &c.nodes[f].port.to_string(), "GET", "mykey"])
        .output()
        .expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello cluster");
}

/// Writes `SET k<i> <i>` through whichever node answers, recording the
/// acknowledged ones, until `stop` is set.
fn writer(ports: Vec<u16>, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<(u64, Instant)>>>) {
    let mut i = 0u64;
    let mut which = 0usize;
    let mut con: Option<redis::Connection> = None;
    while !stop.load(Ordering::Relaxed) {
        if con.is_none() {
            let port = ports[which % ports.len()];
            which += 1;
            con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .ok()
                .and_then(|c| {
                    c.get_connection_with_timeout(Duration::from_millis(500))
                        .ok()
                });
            if let Some(c) = &con {
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            } else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        }
        i += 1;
        let r: redis::RedisResult<String> = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i.to_string())
            .query(con.as_mut().unwrap());
        match r {
            Ok(_) => acked.lock().unwrap().push((i, Instant::now())),
            Err(e) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    con = None;
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

fn assert_has_all(c: &Cluster, node: usize, acked: &[u64]) {
    let mut con = c.client(node);
    for chunk in acked.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|i| format!("k{i}")).collect();
        let vals: Vec<Option<String>> =
            redis::cmd("MGET").arg(&keys).query(&mut con).expect("MGET");
        for (i, v) in chunk.iter().zip(vals) {
            assert_eq!(
                v.as_deref(),
                Some(i.to_string().as_str()),
                "{} lost acknowledged write k{i}",
                c.nodes[node].id
            );
        }
    }
}

#[test]
fn kill9_leader_under_writes_loses_no_acknowledged_write() {
    let mut c = Cluster::start(
        3,
        &[
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    let ports: Vec<u16> = c.nodes.iter().map(|n| n.port).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let w = {
        let (stop, acked) = (stop.clone(), acked.clone());
        std::thread::spawn(move || writer(ports, stop, acked))
    };
    std::thread::sleep(Duration::from_millis(1500));
    let killed_at = Instant::now();
    c.kill9(l);
    let new_leader = c.wait_for_leader(Duration::from_secs(30));
    assert_ne!(new_leader, l);
    // The survivors saw the leader's process gone (its raft port refuses
    // connections) and elected at once rather than after the timeout.
    assert!(
        (0..3).filter(|&i| i != l).any(|i| c.nodes[i]
            .log()
            .contains("is gone (its raft port refuses connections)")),
        "no survivor took the crashed-leader fast path"
    );
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    let after = acked.iter().filter(|(_, t)| *t > killed_at).count();
    assert!(acked.len() > 20, "too few writes: {}", acked.len());
    assert!(after > 0, "no write succeeded after the leader was killed");
    let ids: Vec<u64> = acked.iter().map(|(i, _)| *i).collect();
    c.wait_converged(Duration::from_secs(20));
    for i in (0..3).filter(|&i| i != l) {
        assert_has_all(&c, i, &ids);
    }
    // The old leader comes back with its log and catches up.
    c.spawn(l);
    c.wait_for_leader(Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(30));
    assert_has_all(&c, l, &ids);
}

#[test]
fn paused_leader_steps_down_and_serves_no_stale_read() {
    let mut c = Cluster::start(
        3,
        &[
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    let mut lc = c.client(l);
    assert_eq!(run::<String>(&mut lc, &["SET", "x", "old"]), "OK");
    let others: Vec<usize> = (0..3).filter(|&i| i != l).collect();
    let mut fc = c.client(others[0]);
    c.stop(l);
    // Forwarded to the frozen leader, the write must not hang there: once
    // the others elect a new leader, the follower sends it on.
    assert_eq!(run::<String>(&mut fc, &["SET", "y", "during-pause"]), "OK");
    // The other two elect a leader among themselves.
    let deadline = Instant::now() + Duration::from_secs(20);
    let new_leader = loop {
        let found = others.iter().copied().find(|&i| {
            c.raft_info(i)
                .is_some_and(|m| m.get("raft_state").map(String::as_str) == Some("Leader"))
        });
        if let Some(n) = found {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "no new leader while {} was paused",
            c.nodes[l].id
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut nc = c.client(new_leader);
    assert_eq!(run::<String>(&mut nc, &["SET", "x", "new"]), "OK");
    std::thread::sleep(Duration::from_millis(3000));
    c.cont(l);
    // The old leader may refuse the read while it finds out, but it must
    // never answer with the overwritten value.
    let r: redis::RedisResult<Option<String>> = redis::cmd("GET").arg("x").query(&mut lc);
    match r {
        Ok(v) => assert_eq!(v.as_deref(), Some("new"), "stale read from the old leader"),
        Err(e) => {
            let code = e.code().unwrap_or("");
            assert!(
                code == "TRYAGAIN" || code == "CLUSTERDOWN",
                "unexpected error {e}"
            );
        }
    }
    let leader = c.wait_for_leader(Duration::from_secs(30));
    assert_ne!(leader, l, "the paused leader kept leadership");
    // A stopped process still holds its port: only the election timeout
    // may replace it, never the crashed-leader fast path.
    for i in others {
        assert!(
            !c.nodes[i].log().contains("is gone"),
            "{} took a paused leader for a crashed one",
            c.nodes[i].id
        );
    }
    assert_eq!(get(&mut c.client(l), "x").as_deref(), Some("new"));
    assert_eq!(get(&mut c.client(l), "y").as_deref(), Some("during-pause"));
}

#[test]
fn lagging_follower_catches_up_by_snapshot_and_restarts_from_it() {
    let mut c = Cluster::start(3, &["-raft-snapshot-threshold=100"]);
    let l = c.wait_for_leader(Duration::from_secs(30));
    let f = c.follower_of(l);
    c.kill9(f);
    let mut lc = c.client(l);
    // One entry per command (a pipeline would be one entry).
    for batch in 0..10 {
        for i in 0..30 {
            let _: String = run(
                &mut lc,
                &["SET", &format!("key:{batch}:{i}"), &format!("{batch}-{i}")],
            );
        }
        let _: i64 = run(&mut lc, &["INCR", "batches"]);
    }
    let info: String = run(&mut lc, &["INFO", "raft"]);
    let snap: u64 = info_field(&info, "raft_snapshot_index").parse().unwrap();
    assert!(
        snap >= 100,
        "leader has not snapshotted: {info}\n{}",
        c.nodes[l].log()
    );
    // openraft postpones a purge while a replication stream still reads the
    // range; the down follower's stream backs off, and the next progress
    // (a write) lets the purge through.
    let _: String = run(&mut lc, &["SET", "nudge", "1"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info: String = run(&mut lc, &["INFO", "raft"]);
        let purged: u64 = info_field(&info, "raft_purged_index").parse().unwrap();
        if purged > 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the leader never purged its log: {info}"
        );
        let _: String = run(&mut lc, &["SET", "nudge", "1"]);
        std::thread::sleep(Duration::from_millis(100));
    }
    c.spawn(f);
    c.wait_for_leader(Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(30));
    let finfo: String = run(&mut c.client(f), &["INFO", "raft"]);
    // The entries it missed are gone from the leader's log.
    assert_eq!(
        info_field(&finfo, "raft_snapshots_installed"),
        "1",
        "{finfo}"
    );
    let mut fc = c.client(f);
    assert_eq!(run::<i64>(&mut fc, &["DBSIZE"]), 302);
    assert_eq!(get(&mut fc, "key:7:22").as_deref(), Some("7-22"));
    assert_eq!(get(&mut fc, "batches").as_deref(), Some("10"));

    // A node joining now cannot get the purged entries: it gets the snapshot.
    let n4 = c.add_unstarted("node-4");
    c.spawn_without_peers(n4);
    let addr = format!("127.0.0.1:{}", c.nodes[n4].raft_port);
    let r: String = run(&mut c.client(l), &["RAFT.NODE", "ADD", "node-4", &addr]);
    assert_eq!(r, "OK");
    c.wait_converged(Duration::from_secs(30));
    let info4: String = run(&mut c.client(n4), &["INFO", "raft"]);
    assert_eq!(
        info_field(&info4, "raft_snapshots_installed"),
        "1",
        "{info4}"
    );
    assert_eq!(run::<i64>(&mut c.client(n4), &["DBSIZE"]), 302);

    // A restart restores the snapshot and replays the log after it.
    c.kill9(l);
    c.spawn(l);
    c.wait_for_leader(Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(30));
    let mut lc = c.client(l);
    assert_eq!(run::<i64>(&mut lc, &["DBSIZE"]), 302);
    assert_eq!(get(&mut lc, "batches").as_deref(), Some("10"));
}

#[test]
fn wiped_follower_is_refused_instead_of_silently_rejoining() {
    let mut c = Cluster::start(3, &[]);
    let l = c.wait_for_leader(Duration::from_secs(30));
    let mut lc = c.client(l);
    for i in 0..20 {
        let _: String = run(&mut lc, &["SET", &format!("w{i}"), "v"]);
    }
    c.wait_converged(Duration::from_secs(10));
    let f = c.follower_of(l);
    c.kill9(f);
    std::fs::remove_dir_all(&c.nodes[f].dir).unwrap();
    // Leadership moves to the third node, which never led while `f` was
    // acknowledging: it knows from the marks recorded in the log.
    let other = (0..3).find(|&i| i != l && i != f).unwrap();
    let r: String = run(&mut lc, &["RAFT.TRANSFER_LEADER", &c.nodes[other].id]);
    assert_eq!(r, c.nodes[other].id);
    let l = other;
    let mut lc = c.client(l);
    c.spawn(f);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.nodes[f].log().contains("Refusing to rejoin") {
        assert!(
            Instant::now() < deadline,
            "wiped node did not refuse:\n{}",
            c.nodes[f].log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The cluster carries on with the other two; the leader is alive.
    assert_eq!(run::<String>(&mut lc, &["SET", "after", "wipe"]), "OK");
    assert!(c.nodes[l]
        .child
        .as_mut()
        .unwrap()
        .try_wait()
        .unwrap()
        .is_none());
    let mut fc = c.client(f);
    let r: redis::RedisResult<String> = redis::cmd("SET").arg("x").arg("y").query(&mut fc);
    assert!(r.is_err(), "a refused node accepted a write");
}

#[test]
fn redirect_mode_answers_moved_and_no_quorum_answers_clusterdown() {
    let mut c = Cluster::start(
        3,
        &[
            "-raft-follower-writes=redirect",
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    let f = c.follower_of(l);
    let mut fc = c.client(f);
    let err = redis::cmd("SET")
        .arg("a")
        .arg("b")
        .query::<String>(&mut fc)
        .unwrap_err();
    assert_eq!(err.code(), Some("MOVED"), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("127.0.0.1:{}", c.nodes[l].port)),
        "{err}"
    );
    // Reads are served on followers.
    assert_eq!(get(&mut fc, "a"), None);
    // Two of three down: no leader, writes refused with CLUSTERDOWN.
    let other = (0..3).find(|&i| i != l && i != f).unwrap();
    c.kill9(l);
    c.kill9(other);
    // Until the follower notices, it still redirects to the dead leader.
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.raft_info(f).is_some_and(|m| !m["raft_leader"].is_empty()) {
        assert!(Instant::now() < deadline, "follower still sees a leader");
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = redis::cmd("SET")
        .arg("a")
        .arg("b")
        .query::<String>(&mut fc)
        .unwrap_err();
    assert_eq!(err.code(), Some("CLUSTERDOWN"), "{err}");
    assert!(err.to_string().contains("No raft leader"), "{err}");
}

#[test]
fn admin_transfer_add_remove_and_graceful_sigterm() {
    let mut c = Cluster::start(
        3,
        &[
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    let target = c.follower_of(l);
    let mut lc = c.client(l);
    let _: String = run(&mut lc, &["SET", "before", "transfer"]);
    let r: String = run(&mut lc, &["RAFT.TRANSFER_LEADER", &c.nodes[target].id]);
    assert_eq!(r, c.nodes[target].id);
    assert_eq!(c.wait_for_leader(Duration::from_secs(10)), target);

    // A fourth node without peers joins through RAFT.NODE ADD.
    let n4 = c.add_unstarted("node-4");
    c.spawn_without_peers(n4);
    let mut tc = c.client(target);
    let addr = format!("127.0.0.1:{}", c.nodes[n4].raft_port);
    let r: String = run(&mut tc, &["RAFT.NODE", "ADD", "node-4", &addr]);
    assert_eq!(r, "OK");
    let info: String = run(&mut tc, &["RAFT.INFO"]);
    assert!(
        info_field(&info, "raft_voters").contains("node-4"),
        "{info}"
    );
    c.wait_converged(Duration::from_secs(20));
    assert_eq!(
        get(&mut c.client(n4), "before").as_deref(),
        Some("transfer")
    );
    // ... and leaves through RAFT.NODE REMOVE (sent to a follower: forwarded).
    let r: String = run(&mut c.client(l), &["RAFT.NODE", "REMOVE", "node-4"]);
    assert_eq!(r, "OK");
    let info: String = run(&mut tc, &["RAFT.INFO"]);
    assert!(
        !info_field(&info, "raft_voters").contains("node-4"),
        "{info}"
    );
    c.kill9(n4);

    // SIGTERM on the leader hands leadership over before it exits.
    let status = c.terminate(target);
    assert!(status.success(), "{status}");
    assert!(
        c.nodes[target]
            .log()
            .contains("Leadership transferred before shutdown"),
        "{}",
        c.nodes[target].log()
    );
    let new_leader = c.wait_for_leader(Duration::from_secs(10));
    assert_ne!(new_leader, target);
    assert_eq!(
        get(&mut c.client(new_leader), "before").as_deref(),
        Some("transfer")
    );
}

#[test]
fn raft_commands_on_a_standalone_node_say_raft_is_off() {
    let n = common::Atlasd::start(&[]);
    let mut con = n.client();
    let err = redis::cmd("RAFT.INFO")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("raft is not enabled"), "{err}");
    let info: String = run(&mut con, &["INFO", "raft"]);
    assert!(info.contains("raft_enabled:false"));
}

/// Waits (up to 20 s) until a node other than `l` claims leadership: what
/// the majority does once `l` is cut off.
fn leader_other_than(c: &Cluster, l: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(n) = (0..c.nodes.len()).filter(|&i| i != l).find(|&i| {
            c.raft_info(i)
                .is_some_and(|m| m.get("raft_state").map(String::as_str) == Some("Leader"))
        }) {
            return n;
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Cuts (or restores) every link between node `i` and the others, in both
/// directions, with policy-routing blackhole rules on their Raft IPs.
fn isolate(c: &Cluster, i: usize, cut: bool) {
    let others: Vec<&str> = (0..c.nodes.len())
        .filter(|&j| j != i)
        .map(|j| c.nodes[j].host.as_str())
        .collect();
    netns::isolate(&c.nodes[i].host, &others, cut);
}

#[test]
fn partitioned_leader_commits_nothing_and_healing_converges() {
    if !netns::in_network_namespace("partitioned_leader_commits_nothing_and_healing_converges") {
        return;
    }
    let c = Cluster::start_on(
        &["127.0.0.11", "127.0.0.12", "127.0.0.13"],
        &[
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    let mut lc = c.client(l);
    assert_eq!(run::<String>(&mut lc, &["SET", "before", "1"]), "OK");
    c.wait_converged(Duration::from_secs(10));

    isolate(&c, l, true);
    // An entry the leader proposed on its own just before the cut (it
    // records followers' acknowledgements in the log) may still commit
    // with acks sent before it; after a few heartbeats nothing can.
    std::thread::sleep(Duration::from_millis(500));
    let commit_before = c.raft_info(l).unwrap()["raft_commit_index"].clone();
    // The minority side acknowledges nothing.
    let r: redis::RedisResult<String> = redis::cmd("SET").arg("minority").arg("x").query(&mut lc);
    let e = r.expect_err("the isolated leader acknowledged a write");
    assert!(
        matches!(e.code(), Some("TRYAGAIN") | Some("CLUSTERDOWN")),
        "{e}"
    );
    // The majority elects a leader and goes on.
    let new_leader = leader_other_than(&c, l);
    assert_eq!(
        run::<String>(&mut c.client(new_leader), &["SET", "majority", "y"]),
        "OK"
    );
    let minority = c.raft_info(l).unwrap();
    assert_eq!(
        minority["raft_commit_index"], commit_before,
        "the isolated node committed something"
    );
    // openraft keeps an isolated leader in the Leader state (it refuses
    // proposals once its lease is gone); INFO shows how stale it is, which
    // is what split-brain checks look at.
    if minority["raft_state"] == "Leader" {
        let stale: u64 = minority["raft_millis_since_quorum_ack"].parse().unwrap();
        assert!(
            stale > 600,
            "isolated leader claims a recent quorum: {minority:?}"
        );
    }

    isolate(&c, l, false);
    c.wait_for_leader(Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(30));
    for i in 0..3 {
        let mut ci = c.client(i);
        assert_eq!(
            get(&mut ci, "majority").as_deref(),
            Some("y"),
            "{}",
            c.nodes[i].id
        );
        assert_eq!(get(&mut ci, "before").as_deref(), Some("1"));
        assert_eq!(
            get(&mut ci, "minority"),
            None,
            "an unacknowledged minority write survived"
        );
    }
}

#[test]
fn raft_debug_isolate_cuts_a_leader_off_until_lifted() {
    let c = Cluster::start(
        3,
        &[
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    let mut lc = c.client(l);
    assert_eq!(run::<String>(&mut lc, &["SET", "before", "1"]), "OK");
    c.wait_converged(Duration::from_secs(10));
    let e = redis::cmd("RAFT.DEBUG")
        .arg("ISOLATE")
        .arg("sideways")
        .query::<String>(&mut lc)
        .unwrap_err();
    assert!(e.to_string().contains("on or off"), "{e}");

    assert_eq!(
        run::<String>(&mut lc, &["RAFT.DEBUG", "ISOLATE", "on"]),
        "OK"
    );
    assert_eq!(c.raft_info(l).unwrap()["raft_isolated"], "1");
    std::thread::sleep(Duration::from_millis(300));
    let commit_before = c.raft_info(l).unwrap()["raft_commit_index"].clone();
    // Clients still reach it, but it can commit nothing.
    let r: redis::RedisResult<String> = redis::cmd("SET").arg("minority").arg("x").query(&mut lc);
    assert!(r.is_err(), "the isolated leader acknowledged a write");
    let new_leader = leader_other_than(&c, l);
    assert_eq!(
        run::<String>(&mut c.client(new_leader), &["SET", "majority", "y"]),
        "OK"
    );
    assert_eq!(c.raft_info(l).unwrap()["raft_commit_index"], commit_before);
    // The others keep redialling the isolated node, which refuses them:
    // their refused connections must be closed, not pile up.
    let dialer = c.nodes[new_leader].pid();
    let fds = || {
        std::fs::read_dir(format!("/proc/{dialer}/fd"))
            .unwrap()
            .count()
    };
    let before = fds();
    std::thread::sleep(Duration::from_secs(3));
    let after = fds();
    assert!(
        after <= before + 2,
        "file descriptors grew from {before} to {after}"
    );
    assert!(c.nodes[l]
        .log()
        .contains("Raft traffic cut by RAFT.DEBUG ISOLATE"));

    assert_eq!(
        run::<String>(&mut lc, &["RAFT.DEBUG", "ISOLATE", "off"]),
        "OK"
    );
    assert_eq!(c.raft_info(l).unwrap()["raft_isolated"], "0");
    c.wait_for_leader(Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(30));
    let mut old = c.client(l);
    assert_eq!(get(&mut old, "majority").as_deref(), Some("y"));
    assert_eq!(get(&mut old, "minority"), None);
}

#[test]
fn cluster_forms_with_a_late_node_and_restarts_never_reinitialize() {
    let mut c = Cluster::prepare(&["127.0.0.1"; 3], &[]);
    // Two of three form the cluster (a majority of the configured members).
    c.spawn(1);
    c.spawn(2);
    let l = c.wait_for_leader(Duration::from_secs(30));
    assert_ne!(l, 0);
    let _: String = run(&mut c.client(l), &["SET", "early", "1"]);
    // A configured peer that is down costs the leader a reconnect attempt
    // per backoff step, not a busy loop (it once burned a whole core).
    let cpu_ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let before = cpu_ticks(c.nodes[l].pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(c.nodes[l].pid()) - before;
    assert!(
        used < 100,
        "the leader used {used} clock ticks of CPU in 2 s while idle with a peer down"
    );
    // The late node joins the existing cluster instead of initializing.
    c.spawn(0);
    c.wait_for_leader(Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(20));
    assert_eq!(get(&mut c.client(0), "early").as_deref(), Some("1"));
    assert!(
        c.nodes[0].log().contains("Joining existing cluster"),
        "{}",
        c.nodes[0].log()
    );
    let initialized = c
        .nodes
        .iter()
        .filter(|n| n.log().contains("Initializing cluster"))
        .count();
    assert_eq!(initialized, 1, "exactly one node initializes");
    // Restart everything: nobody initializes again, the data is still there.
    for i in 0..3 {
        c.kill9(i);
    }
    for i in 0..3 {
        c.spawn(i);
    }
    let l = c.wait_for_leader(Duration::from_secs(30));
    let initialized = c
        .nodes
        .iter()
        .map(|n| n.log().matches("Initializing cluster").count())
        .sum::<usize>();
    assert_eq!(initialized, 1, "a restarted node initialized again");
    assert_eq!(get(&mut c.client(l), "early").as_deref(), Some("1"));
}

#[test]
fn nodes_without_peers_form_a_cluster_with_init_and_node_add() {
    let mut c = Cluster::prepare(&["127.0.0.1"; 3], &[]);
    for i in 0..3 {
        c.spawn_without_peers(i);
    }
    let mut c0 = c.client(0);
    // Without peers and before INIT there is no cluster: writes are refused.
    let err = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .query::<String>(&mut c0)
        .unwrap_err();
    assert_eq!(err.code(), Some("CLUSTERDOWN"), "{err}");
    assert_eq!(run::<String>(&mut c0, &["RAFT.CLUSTER", "INIT"]), "OK");
    assert_eq!(
        run::<String>(&mut c0, &["RAFT.CLUSTER", "INIT"]),
        "already initialized"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.raft_info(0).is_none_or(|m| m["raft_state"] != "Leader") {
        assert!(
            Instant::now() < deadline,
            "the initialized node did not lead"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for i in 1..3 {
        let addr = format!("127.0.0.1:{}", c.nodes[i].raft_port);
        let r: String = run(&mut c0, &["RAFT.NODE", "ADD", &c.nodes[i].id, &addr]);
        assert_eq!(r, "OK");
    }
    assert_eq!(run::<String>(&mut c0, &["SET", "a", "1"]), "OK");
    c.wait_converged(Duration::from_secs(20));
    let info: String = run(&mut c0, &["RAFT.INFO"]);
    assert_eq!(
        info_field(&info, "raft_voters"),
        "node-1,node-2,node-3",
        "{info}"
    );
    for i in 1..3 {
        assert_eq!(get(&mut c.client(i), "a").as_deref(), Some("1"));
    }
}

#[test]
fn maxmemory_is_checked_by_the_receiving_node_and_never_at_apply() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let follower = cluster.follower_of(leader);
    let mut l = cluster.client(leader);
    let mut f = cluster.client(follower);
    let _: () = run(&mut l, &["SET", "before", "1"]);
    let _: () = run(&mut l, &["CONFIG", "SET", "maxmemory", "1"]);
    let e = redis::cmd("SET")
        .arg("refused")
        .arg("1")
        .query::<()>(&mut l)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("command not allowed when used memory"),
        "{e}"
    );
    let got: Option<String> = run(&mut l, &["GET", "before"]);
    assert_eq!(got.as_deref(), Some("1"), "reads go on");
    // The follower has no limit: its write is proposed, and every node
    // applies it, the leader included, whatever its own limit.
    let _: () = run(&mut f, &["SET", "through-follower", "2"]);
    cluster.wait_converged(Duration::from_secs(30));
    for i in 0..cluster.nodes.len() {
        let mut c = cluster.client(i);
        let n: i64 = run(&mut c, &["EXISTS", "before", "through-follower", "refused"]);
        assert_eq!(n, 2, "node {i}");
    }
}
