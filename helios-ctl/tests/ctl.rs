//! helios-ctl against real helios-atlasd processes: `cluster render`
//! produces the node files the daemons start from; `status` and `health`
//! report on the running cluster, with 0, 1 and 2 of 3 nodes down.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../../helios-atlasd/tests/common/netns.rs"]
mod netns;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// helios-atlasd from the same target directory as this test's helios-ctl
/// (`cargo test --workspace` builds both).
fn atlasd() -> PathBuf {
    let ctl = PathBuf::from(env!("CARGO_BIN_EXE_helios-ctl"));
    let path = ctl.with_file_name("helios-atlasd");
    assert!(
        path.exists(),
        "{} not found: build it first (cargo build -p helios-atlasd)",
        path.display()
    );
    path
}

fn ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helios-ctl"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}stderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

struct Nodes {
    children: Vec<Option<Child>>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in self.children.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Nodes {
    fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

fn write_spec(dir: &Path) -> (PathBuf, Vec<u16>) {
    write_spec_on(dir, &["127.0.0.1"; 3])
}

/// A 3-node spec with node `i` listening on `hosts[i]`.
fn write_spec_on(dir: &Path, hosts: &[&str]) -> (PathBuf, Vec<u16>) {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut spec = format!(
        "name: test\ndata_dir: {}\nnodes:\n",
        dir.join("data").display()
    );
    for (i, p) in ports.iter().enumerate() {
        spec += &format!(
            "  - id: node-{}\n    client_address: {host}:{p}\n    raft_address: {host}:{}\n",
            i + 1,
            free_port(),
            host = hosts[i]
        );
    }
    spec += "raft:\n  heartbeat_timeout: 100ms\n  election_timeout: 500ms\n";
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, spec).unwrap();
    (path, ports)
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn render_start_status_and_health_with_nodes_going_down() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, ports) = write_spec(dir.path());
    let spec = spec.to_str().unwrap();
    let conf = dir.path().join("conf");
    let o = ctl(&[
        "cluster",
        "render",
        "-f",
        spec,
        "--dir",
        conf.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = ctl(&[
        "cluster",
        "render",
        "-f",
        spec,
        "--dir",
        conf.to_str().unwrap(),
        "-o",
        "json",
    ]);
    let written: Vec<String> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(written.len(), 3, "{}", text(&o));
    let mut nodes = Nodes {
        children: Vec::new(),
    };
    for i in 1..=3 {
        let file = conf.join(format!("node-{i}.yaml"));
        let child = Command::new(atlasd())
            .arg("-config")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        nodes.children.push(Some(child));
    }
    wait_for("a healthy cluster", Duration::from_secs(30), || {
        ctl(&["health", "-f", spec]).status.code() == Some(0)
    });

    let o = ctl(&["status", "-f", spec]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(table.starts_with("NODE"), "{table}");
    assert_eq!(table.matches("● Leader").count(), 1, "{table}");
    assert_eq!(table.matches("○ Follower").count(), 2, "{table}");

    let o = ctl(&["status", "-f", spec, "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let leader = rows
        .iter()
        .find(|r| r["state"] == "Leader")
        .expect("a leader row")["node_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        rows.iter().all(|r| r["leader"] == leader.as_str()),
        "{rows:?}"
    );
    // Followers report how long ago their leader last reached them.
    for r in rows.iter().filter(|r| r["state"] == "Follower") {
        assert!(r["last_contact_ms"].as_u64().is_some(), "{r}");
    }
    let leader_idx: usize = leader.trim_start_matches("node-").parse::<usize>().unwrap() - 1;

    // One follower down: degraded, still serving.
    let follower = (0..3).find(|&i| i != leader_idx).unwrap();
    nodes.kill(follower);
    let o = ctl(&["health", "-f", spec, "--timeout", "1s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("HEALTH WARNING"),
        "{}",
        text(&o)
    );
    let o = ctl(&["status", "-f", spec, "--timeout", "1s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("✗ down"),
        "{}",
        text(&o)
    );
    // The survivor still passes its own container check.
    let survivor = (0..3).find(|&i| i != leader_idx && i != follower).unwrap();
    let endpoint = format!("127.0.0.1:{}", ports[survivor]);
    let o = ctl(&["health", "--local", "--endpoints", &endpoint]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Two down: no quorum.
    nodes.kill(leader_idx);
    let o = ctl(&["health", "-f", spec, "--timeout", "1s", "-o", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["status"], "CRITICAL");
    let quorum = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "quorum-reachable")
        .unwrap();
    assert_eq!(quorum["status"], "CRITICAL", "{report}");
}

#[test]
fn bad_input_exits_with_the_documented_codes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.yaml");
    std::fs::write(
        &spec,
        "name: x\nnodes:\n  - id: a\n    client_adress: 127.0.0.1:1\n",
    )
    .unwrap();
    let o = ctl(&["status", "-f", spec.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("client_adress"),
        "{}",
        text(&o)
    );
    // health: usage problems are UNKNOWN (3), as Nagios expects.
    let o = ctl(&["health"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = ctl(&["health", "--max-lag", "lots"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let o = ctl(&["status", "--bogus"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // top: a refresh under 100ms, or no terminal, is refused.
    let o = ctl(&["top", "--endpoints", "127.0.0.1:1", "--refresh", "50ms"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = ctl(&["top", "--endpoints", "127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("needs a terminal"),
        "{}",
        text(&o)
    );
    // Cluster commands need the spec; endpoints alone are refused, not ignored.
    let o = ctl(&["cluster", "render", "--endpoints", "127.0.0.1:1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not --endpoints"),
        "{}",
        text(&o)
    );
}

/// Stops whatever `cluster up` left running, even when the test failed.
struct Down<'a> {
    spec: &'a str,
    dir: &'a str,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = ctl(&[
            "cluster", "down", "-f", self.spec, "--dir", self.dir, "--grace", "2s",
        ]);
    }
}

/// A cluster started with `cluster up` in a temp dir, stopped (and the dir
/// removed) on drop, even when the test fails.
struct UpCluster {
    spec: String,
    run: String,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl UpCluster {
    fn start(hosts: &[&str]) -> UpCluster {
        atlasd();
        let dir = tempfile::tempdir().unwrap();
        let (spec, ports) = write_spec_on(dir.path(), hosts);
        let c = UpCluster {
            spec: spec.to_str().unwrap().to_string(),
            run: dir.path().join("run").to_str().unwrap().to_string(),
            ports,
            _dir: dir,
        };
        let o = ctl(&["cluster", "up", "-f", &c.spec, "--dir", &c.run]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        c
    }
}

impl Drop for UpCluster {
    fn drop(&mut self) {
        let _ = ctl(&[
            "cluster", "down", "-f", &self.spec, "--dir", &self.run, "--grace", "2s",
        ]);
    }
}

#[test]
fn cluster_up_starts_a_healthy_cluster_is_idempotent_and_down_stops_it() {
    atlasd();
    let dir = tempfile::tempdir().unwrap();
    let (spec, ports) = write_spec(dir.path());
    let spec = spec.to_str().unwrap();
    let run_dir = dir.path().join("run");
    let run = run_dir.to_str().unwrap();
    let _guard = Down { spec, dir: run };

    let o = ctl(&["cluster", "up", "-f", spec, "--dir", run]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("● Leader").count(), 1, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is up; connect with redis-cli"),
        "{}",
        text(&o)
    );
    for id in ["node-1", "node-2", "node-3"] {
        assert!(run_dir.join("pids").join(format!("{id}.pid")).exists());
        assert!(run_dir.join("logs").join(format!("{id}.log")).exists());
    }

    // Again: nothing new starts, the report is the same.
    let o = ctl(&["cluster", "up", "-f", spec, "--dir", run]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr)
            .matches("is already running")
            .count(),
        3,
        "{}",
        text(&o)
    );

    // Another directory, the same ports: the running cluster answers, but
    // it is not what this `up` started.
    let other = dir.path().join("other");
    let other = other.to_str().unwrap();
    let _other_guard = Down { spec, dir: other };
    let o = ctl(&["cluster", "up", "-f", spec, "--dir", other]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // Which is seen first depends on timing: the new node exiting, or the
    // old cluster answering with another pid.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is another process") || err.contains("Address already in use"),
        "{}",
        text(&o)
    );

    let o = ctl(&["cluster", "down", "-f", spec, "--dir", run]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("stopped 3 node(s)"),
        "{}",
        text(&o)
    );
    let endpoints = ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let o = ctl(&["status", "--endpoints", &endpoints, "--timeout", "1s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches("✗ down").count(),
        3,
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_dir(run_dir.join("pids")).unwrap().count(), 0);
}

#[test]
fn cluster_up_reports_a_node_that_cannot_start() {
    atlasd();
    let dir = tempfile::tempdir().unwrap();
    let (spec, ports) = write_spec(dir.path());
    // Something else holds node-2's client port.
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", ports[1])).unwrap();
    let spec = spec.to_str().unwrap();
    let run = dir.path().join("run");
    let run = run.to_str().unwrap();
    let _guard = Down { spec, dir: run };
    let o = ctl(&["cluster", "up", "-f", spec, "--dir", run, "--wait", "20s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("node-2 exited") && err.contains("Address already in use"),
        "{}",
        text(&o)
    );
}

#[test]
fn cluster_init_forms_a_cluster_from_nodes_started_without_peers() {
    let dir = tempfile::tempdir().unwrap();
    let (spec_path, _) = write_spec(dir.path());
    let (spec, _) = helios_ctl::spec::ClusterSpec::load(&spec_path).unwrap();
    let mut nodes = Nodes {
        children: Vec::new(),
    };
    for n in &spec.nodes {
        let data = dir.path().join("data").join(&n.id);
        let child = Command::new(atlasd())
            .arg(format!("-data-dir={}", data.display()))
            .arg(format!("-listen={}", n.client_address))
            .arg("-raft=true")
            .arg(format!("-raft-node-id={}", n.id))
            .arg(format!("-raft-addr={}", n.raft_address))
            .arg(format!("-raft-data-dir={}", data.join("raft").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        nodes.children.push(Some(child));
    }
    let spec_arg = spec_path.to_str().unwrap();
    let o = ctl(&["cluster", "init", "-f", spec_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.matches("● Leader").count(), 1, "{}", text(&o));
    assert_eq!(out.matches("○ Follower").count(), 2, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("RAFT.CLUSTER INIT on node-1: OK"),
        "{}",
        text(&o)
    );
    assert_eq!(err.matches("RAFT.NODE ADD").count(), 2, "{}", text(&o));
    // Formed: a second run only reports.
    let o = ctl(&["cluster", "init", "-f", spec_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("RAFT.CLUSTER INIT") && !err.contains("RAFT.NODE ADD"),
        "{}",
        text(&o)
    );
    let o = ctl(&["status", "-f", spec_arg, "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for r in rows.as_array().unwrap() {
        assert_eq!(r["voters"].as_array().unwrap().len(), 3, "{r}");
    }
    drop(nodes);
}

fn leader_of(spec: &str) -> Option<String> {
    let o = ctl(&["status", "-f", spec, "-o", "json", "--timeout", "1s"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
    rows.as_array()?
        .iter()
        .filter(|r| r["state"] == "Leader")
        .max_by_key(|r| r["term"].as_u64())
        .and_then(|r| r["node_id"].as_str().map(str::to_string))
}

#[test]
fn check_split_brain_finds_a_partitioned_leader() {
    if !netns::in_network_namespace("check_split_brain_finds_a_partitioned_leader") {
        return;
    }
    let hosts = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];
    let c = UpCluster::start(&hosts);
    let spec = c.spec.as_str();

    let check = |samples: &str| {
        ctl(&[
            "check",
            "split-brain",
            "-f",
            spec,
            "--samples",
            samples,
            "--interval",
            "300ms",
            "--timeout",
            "1s",
            "-o",
            "json",
        ])
    };
    let o = check("3");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let old = leader_of(spec).expect("a leader");
    let i: usize = old.trim_start_matches("node-").parse::<usize>().unwrap() - 1;
    let others: Vec<&str> = (0..3).filter(|&j| j != i).map(|j| hosts[j]).collect();
    netns::isolate(hosts[i], &others, true);
    wait_for("the majority to elect", Duration::from_secs(30), || {
        leader_of(spec).is_some_and(|l| l != old)
    });
    // The cut-off leader still claims its old term and names itself;
    // the majority names the new leader: both findings, naming it.
    let o = check("5");
    // The table form too, while the cut lasts.
    let table = ctl(&[
        "check",
        "split-brain",
        "-f",
        spec,
        "--samples",
        "3",
        "--interval",
        "400ms",
    ]);
    netns::isolate(hosts[i], &others, false);
    assert!(
        table.status.code() == Some(1)
            && String::from_utf8_lossy(&table.stdout).starts_with("SPLIT-BRAIN:"),
        "{}",
        text(&table)
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"leader-disagreement"), "{}", text(&o));
    assert!(
        findings.iter().all(|f| f["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == old.as_str())),
        "{}",
        text(&o)
    );

    // Healed: the old leader steps down and the evidence is gone.
    wait_for("a healthy cluster", Duration::from_secs(30), || {
        ctl(&["health", "-f", spec]).status.code() == Some(0)
    });
    let o = check("3");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Every node's DBSIZE, read independently of the drill's own check.
fn dbsizes(ports: &[u16]) -> Vec<u64> {
    ports
        .iter()
        .map(|p| {
            helios_ctl::poll::query(
                &format!("127.0.0.1:{p}"),
                Duration::from_secs(5),
                &["DBSIZE"],
            )
            .unwrap()
            .parse()
            .unwrap()
        })
        .collect()
}

fn drill_json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

#[test]
fn drill_failover_kill_pause_and_partition_lose_nothing() {
    let c = UpCluster::start(&["127.0.0.1"; 3]);
    let (spec, run, ports) = (c.spec.as_str(), c.run.as_str(), &c.ports);

    // Without --yes nothing happens: the plan, and exit 2.
    let o = ctl(&["drill", "failover", "-f", spec, "--dir", run]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("SIGKILL"),
        "{}",
        text(&o)
    );
    let o = ctl(&["drill", "failover", "-f", spec, "--dir", run, "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let mut acknowledged = 0;
    for fault in ["kill", "pause", "partition"] {
        let o = ctl(&[
            "drill", "failover", "-f", spec, "--dir", run, "--yes", "--fault", fault, "--rounds",
            "1", "--hold", "1s", "-o", "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let r = drill_json(&o);
        assert_eq!(r["passed"], true, "{r}");
        assert_eq!(r["lost"], 0, "{r}");
        assert_eq!(r["nodes_verified"], 3, "{r}");
        let f = &r["faults"][0];
        assert_ne!(f["old_leader"], f["new_leader"], "{r}");
        assert!(f["time_to_leader_ms"].as_u64().is_some(), "{r}");
        assert!(f["unavailable_ms"].as_u64().is_some(), "{r}");
        acknowledged += r["acknowledged"].as_u64().unwrap();
        assert!(r["acknowledged"].as_u64().unwrap() > 20, "{r}");
    }
    // Every acknowledged write is a distinct key, on every node.
    for size in dbsizes(ports) {
        assert!(
            size >= acknowledged,
            "{size} keys < {acknowledged} acknowledged"
        );
    }

    let script = std::path::Path::new(run).join("drill.yaml");
    let run_script = |steps: &str| {
        std::fs::write(&script, steps).unwrap();
        ctl(&[
            "drill",
            "failover",
            "-f",
            spec,
            "--dir",
            run,
            "--yes",
            "--script",
            script.to_str().unwrap(),
        ])
    };
    // A script: pause a follower (the leader stays), transfer, a threshold.
    let o = run_script(
        "steps:\n  - fault: pause\n    target: follower\n  - wait: 500ms\n  - heal: true\n  - assert: healthy\n  - fault: transfer\n  - assert: max-unavailability 10s\n  - assert: healthy\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("✓ DRILL PASSED: 2 fault(s)"), "{}", text(&o));
    assert!(out.contains("pause"), "{}", text(&o));

    // A threshold nobody can meet fails the drill (exit 1), saying why.
    let o = run_script(
        "steps:\n  - fault: pause\n    target: leader\n  - assert: max-unavailability 1ms\n  - heal: true\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("over 1ms"),
        "{}",
        text(&o)
    );
    // The failed drill healed what it broke.
    wait_for("a healthy cluster", Duration::from_secs(30), || {
        ctl(&["health", "-f", spec]).status.code() == Some(0)
    });

    // Ctrl-C in the middle of a long hold: the paused leader is resumed,
    // the drill says so and exits 130.
    let mut child = Command::new(env!("CARGO_BIN_EXE_helios-ctl"))
        .args([
            "drill", "failover", "-f", spec, "--dir", run, "--yes", "--fault", "pause", "--rounds",
            "1", "--hold", "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the leader to be paused", Duration::from_secs(30), || {
        ctl(&["health", "-f", spec, "--timeout", "500ms"])
            .status
            .code()
            != Some(0)
    });
    std::thread::sleep(Duration::from_secs(2));
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the drill did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(out.contains("interrupted by a signal"), "{out}");
    wait_for(
        "the paused node to be resumed",
        Duration::from_secs(30),
        || ctl(&["health", "-f", spec]).status.code() == Some(0),
    );
}

#[test]
fn completions_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let o = ctl(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let script = String::from_utf8_lossy(&o.stdout);
        for word in ["cluster", "split-brain", "failover", "max-unavailability"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let o = ctl(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// tmux, or a skip note (CI installs it and must not skip).
fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "CI needs tmux for the top test"
    );
    if !ok {
        eprintln!("skipped: tmux not installed");
    }
    ok
}

/// Kills the tmux session even when the test fails.
struct TmuxSession(String);

impl Drop for TmuxSession {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

fn capture(session: &str) -> String {
    let o = Command::new("tmux")
        .args(["capture-pane", "-p", "-t", session])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn top_shows_the_live_cluster_in_a_real_terminal_and_quits_on_q() {
    if !have_tmux() {
        return;
    }
    let c = UpCluster::start(&["127.0.0.1"; 3]);
    let (spec, ports) = (c.spec.as_str(), &c.ports);

    let session = format!("helios-top-{}", std::process::id());
    let _tmux = TmuxSession(session.clone());
    let command = format!(
        "{} top -f {spec} --refresh 200ms; echo top-exited-$?; sleep 30",
        env!("CARGO_BIN_EXE_helios-ctl")
    );
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "80",
            "-y",
            "24",
            &command,
        ])
        .env_remove("NO_COLOR")
        .status()
        .unwrap();
    assert!(status.success());
    let mut screen = String::new();
    wait_for(
        "the dashboard to show a healthy cluster",
        Duration::from_secs(30),
        || {
            screen = capture(&session);
            screen.contains("✓ OK") && screen.contains("● Leader")
        },
    );
    assert_eq!(screen.matches("○ Follower").count(), 2, "{screen}");
    assert!(screen.contains("leader changes"), "{screen}");

    // A node goes down: the table shows it, the UI keeps refreshing.
    let o = Command::new("redis-cli")
        .args(["-p", &ports[2].to_string(), "SHUTDOWN"])
        .output();
    assert!(o.is_ok(), "redis-cli is needed");
    wait_for(
        "the dashboard to show node-3 down",
        Duration::from_secs(30),
        || {
            screen = capture(&session);
            screen.contains("✗ down") && screen.contains("! WARNING")
        },
    );

    // Help opens and closes; q quits and restores the terminal.
    Command::new("tmux")
        .args(["send-keys", "-t", &session, "?"])
        .status()
        .unwrap();
    wait_for("the help overlay", Duration::from_secs(10), || {
        capture(&session).contains("pause / resume polling")
    });
    Command::new("tmux")
        .args(["send-keys", "-t", &session, "Escape"])
        .status()
        .unwrap();
    Command::new("tmux")
        .args(["send-keys", "-t", &session, "q"])
        .status()
        .unwrap();
    wait_for("top to exit 0", Duration::from_secs(10), || {
        capture(&session).contains("top-exited-0")
    });
    let after = capture(&session);
    assert!(
        !after.contains("leader changes"),
        "alternate screen not left: {after}"
    );
}
