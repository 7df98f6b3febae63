//! SIGHUP re-reads the config file: live settings change in the running
//! node, the rest is named as waiting for a restart, and a broken file
//! changes nothing.

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{free_port, http, http_auth, run, Atlasd};

fn hup_pid(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn hup(node: &Atlasd) {
    hup_pid(node.pid());
}

fn wait_for(log: impl Fn() -> String, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while log().matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_log(node: &Atlasd, needle: &str, count: usize) {
    wait_for(|| node.log(), needle, count);
}

fn raft_file(election: &str, heartbeat: &str, threshold: u64, writes: &str) -> String {
    format!(
        "atlas:\n  raft:\n    heartbeat_timeout: {heartbeat}\n    election_timeout: {election}\n    snapshot_threshold: {threshold}\n    follower_writes: {writes}\n"
    )
}

/// The Raft timing, the snapshot threshold and the follower policies change
/// on SIGHUP in a running cluster, and nothing acknowledged is lost.
#[test]
fn sighup_changes_raft_timing_and_policies_live() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("raft.yaml");
    std::fs::write(&file, raft_file("500ms", "100ms", 100_000, "forward")).unwrap();
    let path = file.to_str().unwrap().to_string();
    let mut cluster = Cluster::start(3, &["-config", &path]);
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let mut c = cluster.client(leader);
    for i in 0..10 {
        let _: String = run(&mut c, &["SET", &format!("before:{i}"), "v"]);
    }
    let info = cluster.raft_info(leader).unwrap();
    assert_eq!(info["raft_snapshot_index"], "0", "{info:?}");

    // A long election timeout, a tiny snapshot threshold, redirects.
    std::fs::write(&file, raft_file("8s", "200ms", 20, "redirect")).unwrap();
    for n in &cluster.nodes {
        hup_pid(n.pid());
    }
    for n in &cluster.nodes {
        wait_for(|| n.log(), "config reload: applied raft.heartbeat_timeout: 100ms -> 200ms, raft.election_timeout: 500ms -> 8s, raft.snapshot_threshold: 100000 -> 20 (raft core restarted)", 1);
        let log = n.log();
        assert!(
            log.contains(r#"raft.follower_writes: Forward -> Redirect"#),
            "{log}"
        );
    }
    let leader = cluster.wait_for_leader(Duration::from_secs(60));
    let follower = cluster.follower_of(leader);
    let mut f = cluster.client(follower);
    let e = redis::cmd("SET")
        .arg("on-follower")
        .arg("x")
        .query::<String>(&mut f)
        .unwrap_err();
    assert!(e.to_string().to_uppercase().contains("MOVED"), "{e}");

    // The new threshold: 50 more entries make the leader snapshot.
    let mut c = cluster.client(leader);
    for i in 0..50 {
        let _: String = run(&mut c, &["SET", &format!("after:{i}"), "v"]);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = cluster.raft_info(leader).unwrap();
        if info["raft_snapshot_index"].parse::<u64>().unwrap() > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot at threshold 20: {info:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The new election timeout: a frozen leader is not replaced for 4 s
    // (with 500ms it would be within about 1 s).
    cluster.stop(leader);
    let frozen = Instant::now();
    while frozen.elapsed() < Duration::from_secs(4) {
        for (i, _) in cluster
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != leader)
        {
            if let Some(info) = cluster.raft_info(i) {
                assert_ne!(
                    info["raft_state"], "Leader",
                    "node {i} elected itself {:?} after the leader froze, inside the new 8s election timeout",
                    frozen.elapsed()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.cont(leader);
    cluster.wait_converged(Duration::from_secs(60));
    let leader = cluster.wait_for_leader(Duration::from_secs(60));
    for i in 0..cluster.nodes.len() {
        let mut c = cluster.client(i);
        let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n, 60, "node {i} after the timing change");
    }
    let _ = leader;
}

#[test]
fn sighup_applies_live_settings_and_names_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("helios.yaml");
    let gw = free_port();
    let write = |level: &str, pass: &str, token: &str, maxclients: &str| {
        std::fs::write(
            &file,
            format!(
                "atlas:\n  requirepass: {pass}\n  maxclients: {maxclients}\ngateway:\n  listen: 127.0.0.1:{gw}\n  auth_token: {token}\nobservability:\n  log_level: {level}\n"
            ),
        )
        .unwrap();
    };
    write("info", "first", "t1", "100");
    let node = Atlasd::start(&["-config", file.to_str().unwrap()]);
    let mut c = node.client();
    let _: String = run(&mut c, &["AUTH", "first"]);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["CONFIG", "GET", "loglevel"])[1],
        "info"
    );

    // Live changes, plus one (the gateway address) that needs a restart.
    write("debug", "second", "t2", "50");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        &format!("127.0.0.1:{gw}"),
        &format!("127.0.0.1:{}", free_port()),
    );
    std::fs::write(&file, text).unwrap();
    hup(&node);
    wait_for_log(&node, "config reloaded from", 1);
    let log = node.log();
    assert!(
        log.contains(r#"log_level: "info" -> "debug""#)
            && log.contains("requirepass: changed")
            && log.contains("gateway.auth_token: changed")
            && log.contains("maxclients: 100 -> 50"),
        "{log}"
    );
    assert!(
        log.contains(
            "config reload: gateway.listen changed but only take effect at the next start"
        ),
        "{log}"
    );
    assert!(!log.contains("first"), "a password reached the log: {log}");
    let mut c = node.client();
    let e = redis::cmd("AUTH")
        .arg("first")
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("WRONGPASS"), "{e}");
    let _: String = run(&mut c, &["AUTH", "second"]);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["CONFIG", "GET", "loglevel"])[1],
        "debug"
    );
    assert_eq!(
        run::<Vec<String>>(&mut c, &["CONFIG", "GET", "maxclients"])[1],
        "50"
    );
    // The gateway keeps its old address and takes the new token.
    assert_eq!(
        http_auth(gw, "POST", "/v1/cluster/transfer-leader", "t1").0,
        401
    );
    assert_eq!(
        http_auth(gw, "POST", "/v1/cluster/transfer-leader", "t2").0,
        409
    );
    assert_eq!(http(gw, "GET", "/livez").0, 200);

    // A broken file: logged, nothing changes.
    std::fs::write(&file, "atlas:\n  requirepas: typo\n").unwrap();
    hup(&node);
    wait_for_log(&node, "keeping the running configuration", 1);
    assert!(node.log().contains("requirepas"), "{}", node.log());
    let mut c = node.client();
    let _: String = run(&mut c, &["AUTH", "second"]);
    let _: String = run(&mut c, &["SET", "still", "serving"]);
}

#[test]
fn config_set_loglevel_changes_the_running_level() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    let _: String = run(&mut c, &["CONFIG", "SET", "loglevel", "verbose"]);
    assert_eq!(
        run::<Vec<String>>(&mut c, &["CONFIG", "GET", "loglevel"])[1],
        "debug"
    );
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("loglevel")
        .arg("loud")
        .query::<String>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("must be one of"), "{e}");
}
