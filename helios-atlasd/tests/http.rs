//! The HTTP gateway and `/metrics` of real processes: standalone and in a
//! 3-node cluster. What the gateway says must agree with `INFO raft`, and
//! metrics must move when writes happen.

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{free_port, http, http_auth, http_with, metric, run, Atlasd};

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

#[test]
fn standalone_gateway_and_metrics() {
    let (gw, mx) = (free_port(), free_port());
    let node = Atlasd::start(&[
        &format!("-gateway-listen=127.0.0.1:{gw}"),
        &format!("-metrics-listen=127.0.0.1:{mx}"),
        "-gateway-auth-token=s3cret",
    ]);
    assert_eq!(
        http(gw, "GET", "/livez"),
        (200, r#"{"status":"ok"}"#.into())
    );
    assert_eq!(http(gw, "GET", "/readyz").0, 200);
    let st = json(&http(gw, "GET", "/v1/status").1);
    assert_eq!(st["mode"], "standalone");
    let (code, body) = http(gw, "GET", "/v1/cluster");
    assert_eq!(
        (code, json(&body)["code"].clone()),
        (409, "raft_disabled".into())
    );
    // Wrong path or method: a JSON error, never a 500.
    let (code, body) = http(gw, "GET", "/v2/nothing");
    assert_eq!(
        (code, json(&body)["code"].clone()),
        (404, "not_found".into())
    );
    let (code, body) = http(gw, "DELETE", "/livez");
    assert_eq!(
        (code, json(&body)["code"].clone()),
        (405, "method_not_allowed".into())
    );
    // Changes need the token; reads do not.
    let (code, body) = http(gw, "POST", "/v1/cluster/transfer-leader");
    assert_eq!(
        (code, json(&body)["code"].clone()),
        (401, "unauthorized".into())
    );
    let (code, _) = http_auth(gw, "POST", "/v1/cluster/transfer-leader", "wrong");
    assert_eq!(code, 401);
    // Past the token check, a standalone node has no cluster to change.
    let (code, body) = http_auth(gw, "POST", "/v1/cluster/transfer-leader", "s3cret");
    assert_eq!(
        (code, json(&body)["code"].clone()),
        (409, "raft_disabled".into())
    );
    // Metrics live on their own port, not on the gateway's.
    assert_eq!(http(gw, "GET", "/metrics").0, 404);

    let before = http(mx, "GET", "/metrics").1;
    let fsyncs = |b: &str| metric(b, "helios_wal_fsync_duration_seconds_count").unwrap_or(0.0);
    let mut c = node.client();
    for i in 0..5 {
        let _: String = run(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    let after = http(mx, "GET", "/metrics").1;
    assert_eq!(
        metric(&after, r#"helios_keys{db="0"}"#),
        Some(5.0),
        "{after}"
    );
    assert_eq!(
        metric(&after, r#"helios_commands_total{cmd="set"}"#),
        Some(5.0),
        "{after}"
    );
    assert!(
        fsyncs(&after) >= fsyncs(&before) + 1.0,
        "appendfsync always but no fsync observed:\n{after}"
    );
    assert!(metric(&after, "helios_command_duration_seconds_count").unwrap() >= 5.0);
    assert!(metric(&after, "helios_connected_clients").unwrap() >= 1.0);
    assert!(after.contains(r#"helios_build_info{version=""#), "{after}");
    assert!(after.trim_end().ends_with("# EOF"), "{after}");
    // No raft series on a standalone node.
    assert!(!after.contains("helios_raft_term"), "{after}");
}

#[test]
fn a_taken_gateway_port_stops_start_up_with_a_clear_error() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helios-atlasd"))
        .arg(format!("-listen=127.0.0.1:{}", free_port()))
        .arg(format!("-data-dir={}", dir.path().display()))
        .arg(format!("-gateway-listen=127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot listen for the HTTP gateway on 127.0.0.1:{port}"
        )),
        "{err}"
    );
}

#[test]
fn cluster_gateway_agrees_with_info_and_readyz_follows_quorum() {
    let mut c = Cluster::start(
        3,
        &[
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    let _: String = run(&mut c.client(l), &["SET", "k", "v"]);
    c.wait_converged(Duration::from_secs(10));
    let leader_id = c.nodes[l].id.clone();

    for i in 0..3 {
        let port = c.nodes[i].http_port;
        assert_eq!(http(port, "GET", "/readyz").0, 200, "{}", c.nodes[i].id);
        let st = json(&http(port, "GET", "/v1/status").1);
        let info = c.raft_info(i).unwrap();
        assert_eq!(st["node_id"], c.nodes[i].id.as_str());
        assert_eq!(st["state"], info["raft_state"].as_str());
        assert_eq!(st["term"].to_string(), info["raft_term"]);
        assert_eq!(st["leader"], leader_id.as_str());
        assert_eq!(st["voters"].as_array().unwrap().len(), 3);
        let cl = json(&http(port, "GET", "/v1/cluster").1);
        assert_eq!(cl["leader"], leader_id.as_str());
        assert_eq!(cl["members"].as_array().unwrap().len(), 3);
        for m in cl["members"].as_array().unwrap() {
            assert!(m["raft_addr"].is_string(), "{cl}");
        }
    }
    // Every node answers with the leader's view of the followers' progress
    // (a follower asks the leader).
    for i in 0..3 {
        let cl = json(&http(c.nodes[i].http_port, "GET", "/v1/cluster").1);
        assert_eq!(cl["view"], leader_id.as_str(), "{cl}");
        assert_eq!(cl["view_is_leader"], true, "{cl}");
        assert_eq!(cl["answered_by"], c.nodes[i].id.as_str(), "{cl}");
    }
    let cl = json(&http(c.nodes[c.follower_of(l)].http_port, "GET", "/v1/cluster").1);
    let followers: Vec<&serde_json::Value> = cl["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["leader"] == false)
        .collect();
    assert_eq!(followers.len(), 2);
    for f in followers {
        assert_eq!(f["lag"], 0, "{cl}");
        assert_eq!(f["online"], true, "{cl}");
    }

    // Metrics: one leader, everyone has one, lag per peer on the leader,
    // commit index moving with writes.
    let scrape = |i: usize| http(c.nodes[i].http_port, "GET", "/metrics").1;
    let leaders: f64 = (0..3)
        .map(|i| metric(&scrape(i), "helios_raft_is_leader").unwrap())
        .sum();
    assert_eq!(leaders, 1.0);
    for i in 0..3 {
        assert_eq!(metric(&scrape(i), "helios_raft_has_leader"), Some(1.0));
        assert!(metric(&scrape(i), "helios_raft_leader_changes_total").unwrap() >= 1.0);
    }
    let on_leader = scrape(l);
    alert_rules_use_only_served_metrics(&on_leader);
    let f = c.follower_of(l);
    let series = format!(
        r#"helios_raft_peer_lag_entries{{peer="{}"}}"#,
        c.nodes[f].id
    );
    assert_eq!(metric(&on_leader, &series), Some(0.0), "{on_leader}");
    let commit = |b: &str| metric(b, "helios_raft_commit_index").unwrap();
    let before = commit(&on_leader);
    for i in 0..10 {
        let _: String = run(&mut c.client(l), &["SET", &format!("m{i}"), "v"]);
    }
    assert!(commit(&scrape(l)) >= before + 10.0);

    // Leadership moves over HTTP, to a named voter.
    let to = c.nodes[f].id.clone();
    let (code, body) = http_with(
        c.nodes[l].http_port,
        "POST",
        "/v1/cluster/transfer-leader",
        &format!(r#"{{"to": "{to}"}}"#),
    );
    assert_eq!(
        (code, json(&body)["leader"].clone()),
        (200, to.as_str().into()),
        "{body}"
    );
    let l = c.wait_for_leader(Duration::from_secs(30));
    assert_eq!(c.nodes[l].id, to);
    let f = c.follower_of(l);

    // Membership over HTTP: a fourth node (started without peers) joins
    // through any node's gateway, then leaves.
    let n4 = c.add_unstarted("node-4");
    c.spawn_without_peers(n4);
    let add = format!(
        r#"{{"id": "node-4", "raft_address": "127.0.0.1:{}"}}"#,
        c.nodes[n4].raft_port
    );
    let (code, body) = http_with(c.nodes[f].http_port, "POST", "/v1/cluster/members", &add);
    assert_eq!(code, 200, "{body}");
    let voters = |i: usize| {
        json(&http(c.nodes[i].http_port, "GET", "/v1/status").1)["voters"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(voters(l), 4);
    let (code, body) = http(c.nodes[l].http_port, "DELETE", "/v1/cluster/members/node-4");
    assert_eq!(code, 200, "{body}");
    assert_eq!(voters(l), 3);
    c.kill9(n4);
    // Bad requests are named, not 500s.
    for (method, path, body, code, what) in [
        (
            "POST",
            "/v1/cluster/members",
            r#"{"id": "node-5"}"#,
            400,
            "raft_address",
        ),
        (
            "POST",
            "/v1/cluster/members",
            r#"{"id": "n", "raft_address": "x:1", "port": 1}"#,
            400,
            "port",
        ),
        ("POST", "/v1/cluster/members", "not json", 400, "expected"),
        (
            "POST",
            "/v1/cluster/transfer-leader",
            "{\"to\": 5}",
            400,
            "expected",
        ),
        (
            "DELETE",
            "/v1/cluster/members/node-9",
            "",
            409,
            "not a member",
        ),
    ] {
        let (got, text) = http_with(c.nodes[l].http_port, method, path, body);
        assert_eq!(got, code, "{method} {path} {body}: {text}");
        assert!(
            json(&text)["message"].as_str().unwrap().contains(what),
            "{text}"
        );
    }

    // Quorum lost: the survivor stops being ready, and says why.
    let others: Vec<usize> = (0..3).filter(|&i| i != f).collect();
    for i in others {
        c.kill9(i);
    }
    let port = c.nodes[f].http_port;
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (code, body) = http(port, "GET", "/readyz");
        if code == 503 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "still ready without a quorum: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let r = json(&body);
    assert_eq!(r["code"], "not_ready");
    assert!(
        r["message"].as_str().unwrap().contains("no known leader"),
        "{r}"
    );
    assert_eq!(http(port, "GET", "/livez").0, 200);
}

/// `examples/prometheus/alerts.yml` is well formed and every `helios_*`
/// series it uses is in a real scrape (promtool is not on this machine).
fn alert_rules_use_only_served_metrics(scrape: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/prometheus/alerts.yml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let groups = doc["groups"].as_sequence().expect("groups: a list");
    let mut alerts = Vec::new();
    for g in groups {
        assert!(g["name"].as_str().is_some(), "a group without a name");
        for r in g["rules"].as_sequence().expect("rules: a list") {
            let name = r["alert"].as_str().expect("alert: a name").to_string();
            let expr = r["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no expr"));
            let severity = r["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("critical") | Some("warning")),
                "{name}: severity {severity:?}"
            );
            assert!(
                r["annotations"]["summary"].as_str().is_some(),
                "{name}: no summary"
            );
            if let Some(d) = r["for"].as_str() {
                assert!(humantime_like(d), "{name}: for: {d}");
            }
            let mut rest = expr;
            let mut used = 0;
            while let Some(at) = rest.find("helios_") {
                let tail = &rest[at..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                let series = &tail[..end];
                assert!(
                    scrape.lines().any(|l| l.starts_with(series)),
                    "{name} uses {series}, which /metrics does not serve"
                );
                used += 1;
                rest = &tail[end..];
            }
            assert!(used > 0, "{name}: uses no helios metric");
            alerts.push(name);
        }
    }
    for needed in [
        "HeliosNoLeader",
        "HeliosMoreThanOneLeader",
        "HeliosReplicationLag",
        "HeliosFrequentLeaderChanges",
        "HeliosSlowFsync",
    ] {
        assert!(alerts.iter().any(|a| a == needed), "no {needed} rule");
    }
}

/// Prometheus durations: a number and a unit (30s, 5m, 1h).
fn humantime_like(d: &str) -> bool {
    let (n, unit) = d.split_at(d.len().saturating_sub(1));
    n.parse::<u64>().is_ok() && matches!(unit, "s" | "m" | "h")
}

/// One HTTPS request trusting only `ca` (DER); returns status and body.
fn https(port: u16, ca: &[u8], path: &str) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca.to_vec()))
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut text = String::new();
    // A server closing without close_notify is fine here.
    let _ = tls.read_to_string(&mut text);
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad response {text:?}"))?;
    Ok((
        code,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

#[test]
fn gateway_serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("gw.crt");
    let key = dir.path().join("gw.key");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let gw = free_port();
    let _node = Atlasd::start(&[
        &format!("-gateway-listen=127.0.0.1:{gw}"),
        &format!("-gateway-tls-cert={}", cert.display()),
        &format!("-gateway-tls-key={}", key.display()),
    ]);
    let (code, body) = https(gw, ck.cert.der(), "/v1/status").unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["mode"], "standalone");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = std::panic::catch_unwind(|| http(gw, "GET", "/livez"));
    assert!(plain.is_err() || plain.unwrap().0 != 200);
    // A client that does not trust the certificate is refused.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    assert!(https(gw, other.cert.der(), "/livez").is_err());

    // A key that is not a key stops start-up, naming the file.
    std::fs::write(&key, "not a key\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helios-atlasd"))
        .arg(format!("-listen=127.0.0.1:{}", free_port()))
        .arg(format!("-data-dir={}", dir.path().join("d2").display()))
        .arg(format!("-gateway-listen=127.0.0.1:{}", free_port()))
        .arg(format!("-gateway-tls-cert={}", cert.display()))
        .arg(format!("-gateway-tls-key={}", key.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gw.key") && err.contains("no private key"),
        "{err}"
    );
    // Half a TLS setup is a configuration error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helios-atlasd"))
        .arg(format!("-gateway-tls-cert={}", cert.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without gateway.tls.key_file"),
        "{out:?}"
    );
}
