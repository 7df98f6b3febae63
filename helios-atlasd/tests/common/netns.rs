//! Network namespaces for partition tests, shared by the helios-atlasd and
//! helios-ctl test crates (`#[path]`-included): a test re-runs itself
//! inside a fresh namespace (`unshare -n`, root), where nodes on
//! 127.0.0.11, .12, ... are cut apart with `ip rule ... blackhole`.

/// Cuts (or restores) every link between `host` and each of `others`, in
/// both directions. Traffic from 127.0.0.1 (the test's own polls) passes.
pub fn isolate(host: &str, others: &[&str], cut: bool) {
    for other in others {
        for (from, to) in [(host, *other), (*other, host)] {
            let status = std::process::Command::new("ip")
                .args(["rule", if cut { "add" } else { "del" }, "priority", "10"])
                .args(["from", from, "to", to, "blackhole"])
                .status()
                .expect("ip rule");
            assert!(status.success(), "ip rule {from} -> {to}");
        }
    }
}

/// Runs the calling test again inside a fresh network namespace (needs
/// root: `unshare -n`), where nodes on 127.0.0.11-13 can be partitioned
/// with `ip rule`. Returns true when the caller is the re-run and should
/// do the work; false when the re-run has been done (and passed) here.
pub fn in_network_namespace(test: &str) -> bool {
    if std::env::var_os("HELIOS_IN_NETNS").is_some() {
        return true;
    }
    let usable = std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        // CI runs as root; a developer without root gets a clear note.
        assert!(
            std::env::var_os("CI").is_none(),
            "{test} needs `unshare -n` (root) to build a network namespace"
        );
        eprintln!("{test}: skipped: `unshare -n` needs root");
        return false;
    }
    let script = "ip link set lo up && ip rule del priority 0 lookup local && ip rule add priority 100 lookup local && exec \"$@\"";
    let status = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", script, "sh"])
        .arg(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("HELIOS_IN_NETNS", "1")
        .status()
        .expect("unshare");
    assert!(
        status.success(),
        "{test} failed inside the network namespace"
    );
    false
}
