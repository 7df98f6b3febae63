//! SIGHUP re-reads the config file: live settings change in the running
//! node, the rest is named as waiting for a restart, and a broken file
//! changes nothing.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, http, http_auth, run, Atlasd};

fn hup(node: &Atlasd) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &node.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_for_log(node: &Atlasd, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.log().matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
