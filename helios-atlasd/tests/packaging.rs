//! The packaging files work as shipped: `docker-compose.yml` is the seed's
//! cluster (and that topology, node-1 without peers, really forms), the
//! `Dockerfile`'s command and health check work against a real node, and
//! the systemd unit's `Type=notify` is answered with `READY=1` once the
//! node serves. (No Docker engine or systemd runs on the test machine, so
//! the files are parsed and their commands run directly.)

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::cluster::Cluster;
use common::{free_port, run, Atlasd};

fn repo_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `helios-atlasd` flags as its config loader takes them (no program name).
fn load(args: &[&str], env: &[(&str, &str)]) -> Result<helios::config::Config, String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    helios::config::Config::load(&args, &|k| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .map_err(|e| e.to_string())
}

#[test]
fn compose_file_is_the_seed_cluster_and_its_flags_load() {
    let doc: serde_norway::Value =
        serde_norway::from_str(&repo_file("docker-compose.yml")).unwrap();
    let services = &doc["services"];
    let seed = [
        ("helios-node1", "node-1", ["6379:6379", "7000:7000"], None),
        (
            "helios-node2",
            "node-2",
            ["6380:6379", "7001:7000"],
            Some("node-1:helios-node1:7000,node-3:helios-node3:7000"),
        ),
        (
            "helios-node3",
            "node-3",
            ["6381:6379", "7002:7000"],
            Some("node-1:helios-node1:7000,node-2:helios-node2:7000"),
        ),
    ];
    for (service, id, ports, peers) in seed {
        let s = &services[service];
        assert_eq!(s["build"].as_str(), Some("."), "{service}");
        let got_ports: Vec<&str> = s["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        assert_eq!(got_ports, ports, "{service}");
        let env: Vec<&str> = s["environment"]
            .as_sequence()
            .map(|e| e.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let got_peers = env
            .iter()
            .find_map(|e| e.strip_prefix("HELIOS_RAFT_PEERS="));
        assert_eq!(got_peers, peers, "{service}");
        let command: Vec<&str> = s["command"].as_str().unwrap().split_whitespace().collect();
        assert_eq!(command[0], "/app/helios-atlasd", "{service}");
        let env_pairs: Vec<(&str, &str)> = peers
            .map(|p| vec![("HELIOS_RAFT_PEERS", p)])
            .unwrap_or_default();
        let c = load(&command[1..], &env_pairs).unwrap_or_else(|e| panic!("{service}: {e}"));
        assert!(c.raft.enabled);
        assert_eq!(c.raft.node_id, id);
        assert_eq!(c.raft.bind_addr, format!("{service}:7000"));
        assert_eq!(c.listen.port(), 6379);
        assert_eq!(c.raft.peers.len(), usize::from(peers.is_some()) * 2);
    }
    for v in ["node1-data", "node2-data", "node3-data"] {
        assert!(doc["volumes"].get(v).is_some(), "volume {v}");
    }
}

/// The compose topology on loopback: node-1 knows no peers, node-2 and
/// node-3 name all three; the cluster forms with node-1 as a voter.
#[test]
fn the_seed_compose_topology_forms_one_cluster_of_three() {
    let mut c = Cluster::prepare(&["127.0.0.1"; 3], &[]);
    c.spawn_without_peers(0);
    c.spawn(1);
    c.spawn(2);
    let l = c.wait_for_leader(Duration::from_secs(30));
    let _: String = run(&mut c.client(l), &["SET", "compose", "up"]);
    c.wait_converged(Duration::from_secs(30));
    for i in 0..3 {
        let info = c.raft_info(i).unwrap();
        assert_eq!(info["raft_voters"].split(',').count(), 3, "{info:?}");
        let v: Option<String> = redis::cmd("GET")
            .arg("compose")
            .query(&mut c.client(i))
            .unwrap();
        assert_eq!(v.as_deref(), Some("up"));
    }
}

/// The JSON-array arguments of a Dockerfile instruction line.
fn exec_form(line: &str) -> Vec<String> {
    let start = line.find('[').expect("exec form");
    serde_json::from_str(&line[start..]).expect("JSON array")
}

#[test]
fn dockerfile_command_and_health_check_work_on_a_real_node() {
    let text = repo_file("Dockerfile");
    // Continuation lines joined, comments dropped.
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let lines: Vec<&str> = joined.lines().map(str::trim).collect();
    let froms: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    let user = lines
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert_ne!(user.trim(), "root");
    let cmd = exec_form(lines.iter().find(|l| l.starts_with("CMD ")).expect("CMD"));
    assert_eq!(cmd[0], "/app/helios-atlasd");
    let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
    let c = load(&args, &[]).unwrap();
    assert_eq!(c.listen.port(), 6379);

    // The health check, as the container runs it, against a standalone
    // node like the image's default command starts.
    let check = exec_form(
        lines
            .iter()
            .find(|l| l.starts_with("HEALTHCHECK "))
            .expect("HEALTHCHECK"),
    );
    assert_eq!(check[0], "/app/helios-ctl");
    let node = Atlasd::start(&[]);
    let mut args: Vec<String> = check[1..].to_vec();
    let at = args.iter().position(|a| a == "--endpoints").unwrap() + 1;
    args[at] = format!("127.0.0.1:{}", node.port);
    let ctl = Path::new(env!("CARGO_BIN_EXE_helios-atlasd")).with_file_name("helios-ctl");
    if !ctl.exists() {
        // `cargo test --workspace` builds it; a lone `-p helios-atlasd` may not.
        assert!(std::env::var_os("CI").is_none(), "helios-ctl not built");
        return;
    }
    let ok = Command::new(&ctl).args(&args).output().unwrap();
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    drop(node);
    args[at] = format!("127.0.0.1:{}", free_port());
    let down = Command::new(&ctl).args(&args).output().unwrap();
    assert_eq!(
        down.status.code(),
        Some(2),
        "a dead node is CRITICAL: {down:?}"
    );
}

#[test]
fn systemd_unit_is_type_notify_and_the_node_notifies_ready_then_stopping() {
    let unit = repo_file("examples/systemd/helios-atlasd.service");
    let mut section = "";
    let mut service = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not key=value: {line}"));
        if section == "[Service]" {
            service.push((k.to_string(), v.to_string()));
        }
    }
    let get = |k: &str| {
        service
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("Type"), Some("notify"));
    assert_eq!(get("User"), Some("helios"));
    assert_eq!(get("KillSignal"), Some("SIGTERM"));
    assert_eq!(get("ExecReload"), Some("/bin/kill -HUP $MAINPID"));
    assert_eq!(get("NoNewPrivileges"), Some("yes"));
    assert_eq!(get("ProtectSystem"), Some("strict"));
    let exec: Vec<&str> = get("ExecStart").unwrap().split_whitespace().collect();
    assert!(exec[0].ends_with("/helios-atlasd"));
    // Every flag it passes is one helios-atlasd documents.
    for flag in exec[1..].iter().filter(|a| a.starts_with('-')) {
        assert!(
            helios::config::USAGE.contains(&format!("  {flag} ")),
            "unknown flag {flag}"
        );
    }

    // READY=1 only once the node serves; STOPPING=1 when it stops.
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_helios-atlasd"))
        .arg(format!("-listen=127.0.0.1:{port}"))
        .arg(format!("-data-dir={}", dir.path().join("data").display()))
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 within 30s");
    assert_eq!(&buf[..n], b"READY=1");
    // By then the client port serves.
    let mut c = common::connect(port);
    let _: String = run(&mut c, &["SET", "ready", "yes"]);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let n = sock.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(child.wait().unwrap().success());
}
