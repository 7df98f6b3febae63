//! End-to-end behaviour of a standalone node through real clients: the
//! `redis` crate, `redis-cli` and raw sockets.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{connect, redis_cli, run, Atlasd, Raw};
use redis::{Commands, Value};

#[test]
fn strings_and_keys_through_the_redis_crate() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    let _: () = c.set("greeting", "hello").unwrap();
    assert_eq!(c.get::<_, String>("greeting").unwrap(), "hello");
    assert_eq!(c.incr::<_, _, i64>("n", 5).unwrap(), 5);
    assert_eq!(c.append::<_, _, i64>("greeting", " world").unwrap(), 11);
    let _: () = redis::cmd("SET")
        .arg("t")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let ttl: i64 = c.ttl("t").unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(c.exists::<_, i64>(&["greeting", "n", "nope"]).unwrap(), 2);
    let mut keys: Vec<String> = c.keys("*").unwrap();
    keys.sort();
    assert_eq!(keys, vec!["greeting", "n", "t"]);
    assert_eq!(c.del::<_, i64>(&["greeting", "n"]).unwrap(), 2);
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(dbsize, 1);
}

#[test]
fn redis_cli_works_unchanged() {
    let node = Atlasd::start(&[]);
    let p = node.port;
    assert_eq!(redis_cli(p, &["PING"]), "PONG\n");
    assert_eq!(redis_cli(p, &["SET", "mykey", "hello cluster"]), "OK\n");
    assert_eq!(redis_cli(p, &["GET", "mykey"]), "hello cluster\n");
    let info = redis_cli(p, &["INFO"]);
    for field in [
        "redis_version:7.2.0",
        "role:master",
        "raft_enabled:false",
        "db0:keys=1,expires=0",
    ] {
        assert!(info.contains(field), "INFO lacks {field}:\n{info}");
    }
    let mem = redis_cli(p, &["INFO", "memory"]);
    assert!(mem.starts_with("# Memory"), "{mem}");
    assert!(!mem.contains("# Server"));
    // redis-cli's interactive mode fetches COMMAND DOCS; it must parse.
    let docs = redis_cli(p, &["COMMAND", "DOCS", "set"]);
    assert!(
        docs.contains("summary") && docs.contains("arguments"),
        "{docs}"
    );
    let out = Command::new("redis-cli")
        .args(["-p", &p.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            ch.stdin
                .take()
                .unwrap()
                .write_all(b"SET a 1\nINCR a\nGET a\n")?;
            ch.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n2\n2\n");
}

#[test]
fn inline_commands_and_pipelining_over_a_raw_socket() {
    let node = Atlasd::start(&[]);
    let mut r = Raw::connect(node.port);
    r.send(b"PING\r\n");
    assert_eq!(r.line(), "+PONG\r\n");
    r.send(b"SET k \"two words\"\r\nGET k\r\n");
    assert_eq!(r.line(), "+OK\r\n");
    assert_eq!(r.line(), "$9\r\n");
    assert_eq!(r.line(), "two words\r\n");
    // 1000 commands in one write: replies come back in order.
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend_from_slice(
            format!("*3\r\n$5\r\nSETNX\r\n$4\r\nk{i:03}\r\n$1\r\nv\r\n").as_bytes(),
        );
    }
    batch.extend_from_slice(b"*1\r\n$6\r\nDBSIZE\r\n");
    r.send(&batch);
    for _ in 0..1000 {
        assert_eq!(r.line(), ":1\r\n");
    }
    assert_eq!(r.line(), ":1001\r\n");
    r.send(b"QUIT\r\n");
    assert_eq!(r.line(), "+OK\r\n");
    assert!(r.closed());
}

#[test]
fn hello_3_switches_to_resp3() {
    let node = Atlasd::start(&[]);
    let mut r = Raw::connect(node.port);
    r.send(b"HELLO 3\r\n");
    assert_eq!(r.line(), "%7\r\n");
    let mut fields = Vec::new();
    loop {
        let l = r.line();
        let last = l == "*0\r\n";
        fields.push(l);
        if last {
            break;
        }
    }
    assert!(fields.concat().contains("proto\r\n:3\r\n"), "{fields:?}");
    r.send(b"GET missing\r\nHELLO 4\r\n");
    assert_eq!(r.line(), "_\r\n");
    assert_eq!(r.line(), "-NOPROTO unsupported protocol version\r\n");
    // The redis crate in RESP3 mode.
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", node.port)).unwrap();
    let mut c = client.get_connection().unwrap();
    let _: () = c.set("x", 1).unwrap();
    assert_eq!(c.get::<_, i64>("x").unwrap(), 1);
    let v: Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut c)
        .unwrap();
    assert!(matches!(v, Value::Map(_)), "{v:?}");
}

#[test]
fn requirepass_gates_every_command_but_auth_and_hello() {
    let node = Atlasd::start(&["-requirepass=s3cret"]);
    let mut r = Raw::connect(node.port);
    r.send(b"GET k\r\n");
    assert_eq!(r.line(), "-NOAUTH Authentication required.\r\n");
    r.send(b"AUTH wrong\r\n");
    assert_eq!(
        r.line(),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    r.send(b"AUTH s3cret\r\nGET k\r\n");
    assert_eq!(r.line(), "+OK\r\n");
    assert_eq!(r.line(), "$-1\r\n");
    let mut h = Raw::connect(node.port);
    h.send(b"HELLO 3\r\n");
    assert!(h
        .line()
        .starts_with("-NOAUTH HELLO must be called with the client already authenticated"));
    h.send(b"HELLO 3 AUTH default s3cret SETNAME app\r\nCLIENT GETNAME\r\n");
    assert_eq!(h.line(), "%7\r\n");
    while h.line() != "*0\r\n" {}
    assert_eq!(h.bulk(), b"app");
    let client = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", node.port)).unwrap();
    let mut c = client.get_connection().unwrap();
    let _: () = c.set("k", "v").unwrap();
}

#[test]
fn maxclients_refuses_extra_connections() {
    let node = Atlasd::start(&["-maxclients=2"]);
    let mut a = Raw::connect(node.port);
    // Wait until the start-up probe's connection is gone.
    for _ in 0..100 {
        a.send(b"INFO clients\r\n");
        if String::from_utf8_lossy(&a.bulk()).contains("connected_clients:1\r\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut b = Raw::connect(node.port);
    a.send(b"PING\r\n");
    b.send(b"PING\r\n");
    assert_eq!(a.line(), "+PONG\r\n");
    assert_eq!(b.line(), "+PONG\r\n");
    let mut c = Raw::connect(node.port);
    assert_eq!(c.line(), "-ERR max number of clients reached\r\n");
    assert!(c.closed());
    drop(b);
    std::thread::sleep(Duration::from_millis(200));
    let mut d = Raw::connect(node.port);
    d.send(b"PING\r\n");
    assert_eq!(d.line(), "+PONG\r\n");
}

#[test]
fn data_survives_sigterm_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut node = Atlasd::start_in(&dir, &["-aof-fsync=every"]);
    let mut c = node.client();
    for i in 0..500 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("x")
        .arg("PX")
        .arg(200)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("long")
        .arg("y")
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let _: () = c.set("in-db3", "z").unwrap();
    let status = node.terminate();
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    assert!(node.log().contains("stopped"), "{}", node.log());
    std::thread::sleep(Duration::from_millis(300));
    let node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    assert_eq!(c.get::<_, i64>("k499").unwrap(), 499);
    assert_eq!(
        c.get::<_, Option<String>>("short").unwrap(),
        None,
        "expired keys never come back"
    );
    let ttl: i64 = c.ttl("long").unwrap();
    assert!(ttl > 990, "{ttl}");
    let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("in-db3").unwrap(), "z");
}

#[test]
fn snapshot_restarts_the_aof_and_recovery_uses_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut node = Atlasd::start_in(
        &dir,
        &["-snapshot-interval-cmds=0", "-snapshot-interval-time=0"],
    );
    let mut c = node.client();
    for i in 0..1000 {
        let _: () = c.set(format!("before{i}"), i).unwrap();
    }
    let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(r, "Background saving started");
    wait_snapshot_done(&mut c);
    let r: String = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(r, "OK");
    for i in 0..10 {
        let _: () = c.incr("after", i).unwrap();
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "snapshot-00000003.hsnap"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n == "appendonly-00000003.aof"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("00000001") || n.contains("00000002")),
        "old files removed: {names:?}"
    );
    let aof = std::fs::read_to_string(dir.join("appendonly-00000003.aof")).unwrap();
    assert!(
        !aof.contains("before"),
        "the new AOF holds only writes after the snapshot"
    );
    assert!(aof.contains("INCRBY"));
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(lastsave > 1_700_000_000);
    node.kill9();
    let node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    assert_eq!(c.get::<_, i64>("before999").unwrap(), 999);
    assert_eq!(c.get::<_, i64>("after").unwrap(), 45);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1001);
}

fn wait_snapshot_done(c: &mut redis::Connection) {
    for _ in 0..500 {
        let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
        if info.contains("rdb_bgsave_in_progress:0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("snapshot did not finish");
}

#[test]
fn snapshots_are_triggered_by_write_count() {
    let node = Atlasd::start(&["-snapshot-interval-cmds=100"]);
    let mut c = node.client();
    for i in 0..150 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    let mut saved = false;
    for _ in 0..100 {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        if info.contains("rdb_saves:1") || info.contains("rdb_saves:2") {
            saved = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(saved, "100 writes must trigger a snapshot");
}

#[test]
fn debug_reload_round_trips_the_keyspace() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("x".repeat(i))
            .arg("EX")
            .arg(1000 + i)
            .query(&mut c)
            .unwrap();
    }
    let r: String = redis::cmd("DEBUG").arg("RELOAD").query(&mut c).unwrap();
    assert_eq!(r, "OK");
    assert_eq!(c.get::<_, String>("k299").unwrap(), "x".repeat(299));
    assert!(c.ttl::<_, i64>("k10").unwrap() > 1000);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 300);
}

#[test]
fn shutdown_command_stops_the_server_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    let _: () = c.set("k", "v").unwrap();
    let r: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("SAVE").query(&mut c);
    assert!(r.is_err(), "SHUTDOWN closes the connection without a reply");
    let status = node.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(dir.read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".hsnap")));
    let node = Atlasd::start_in(&dir, &[]);
    assert_eq!(node.client().get::<_, String>("k").unwrap(), "v");
}

#[test]
fn config_get_and_set() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec!["appendonly", "yes"]);
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut c)
        .unwrap();
    assert_eq!(v[0], "save");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("everysec")
        .query(&mut c)
        .unwrap();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendfsync")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, vec!["appendfsync", "everysec"]);
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("port")
        .arg("1")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("can't set immutable config"), "{e}");
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("nosuch")
        .arg("1")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("Unknown option"), "{e}");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let mut extra = Raw::connect(node.port);
    assert_eq!(extra.line(), "-ERR max number of clients reached\r\n");
}

#[test]
fn client_commands() {
    let node = Atlasd::start(&[]);
    let mut a = node.client();
    let mut b = node.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-a")
        .query(&mut a)
        .unwrap();
    let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut a).unwrap();
    assert_eq!(name, "worker-a");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut b).unwrap();
    assert!(list.contains("name=worker-a"), "{list}");
    assert_eq!(list.lines().count(), 2, "{list}");
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut a).unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query(&mut b)
        .unwrap();
    assert_eq!(killed, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        redis::cmd("PING").query::<String>(&mut a).is_err(),
        "killed client is disconnected"
    );
}

#[test]
fn bad_config_is_refused_with_one_line() {
    let bin = env!("CARGO_BIN_EXE_helios-atlasd");
    let out = Command::new(bin)
        .arg("-aof-fsync=sometimes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("-aof-fsync") && err.contains("sometimes"),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("n.yaml");
    std::fs::write(&f, "atlas:\n  data_dir: ./x\n  fsync: always\n").unwrap();
    let out = Command::new(bin)
        .arg(format!("-config={}", f.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fsync") && err.contains("n.yaml"), "{err}");
    let out = Command::new(bin)
        .args([
            "-raft=true",
            "-raft-node-id=node-1",
            "-raft-peers=node-1:127.0.0.1:7000,node-2:127.0.0.1:7001",
            &format!("-data-dir={}", tmp.path().display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node-1") && err.contains("itself"), "{err}");
}

#[test]
fn client_no_touch_leaves_idle_time_alone() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    let _: () = c.set("k", "v").unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    let _: () = run(&mut c, &["CLIENT", "NO-TOUCH", "ON"]);
    let _: String = c.get("k").unwrap();
    let idle: i64 = run(&mut c, &["OBJECT", "IDLETIME", "k"]);
    assert!(idle >= 1, "no-touch GET must not reset idle time ({idle})");
    let _: () = run(&mut c, &["CLIENT", "NO-TOUCH", "OFF"]);
    let _: String = c.get("k").unwrap();
    let idle: i64 = run(&mut c, &["OBJECT", "IDLETIME", "k"]);
    assert_eq!(idle, 0);
}

/// Regression: INFO (which reads AOF state under the keyspace lock) racing
/// AOF flushes and snapshots once deadlocked the server.
#[test]
fn info_writes_and_snapshots_race_without_deadlock() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let node = Atlasd::start(&["-aof-fsync=every"]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for t in 0..3 {
        let (port, stop) = (node.port, stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut c = common::connect(port);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _: () = c.set(format!("t{t}:{}", i % 5000), i).unwrap();
                i += 1;
            }
        }));
    }
    let (port, stop2) = (node.port, stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut c = common::connect(port);
        while !stop2.load(Ordering::Relaxed) {
            let _: String = redis::cmd("INFO").query(&mut c).unwrap();
            let _: redis::RedisResult<String> = redis::cmd("BGSAVE").query(&mut c);
        }
    }));
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join()
            .expect("client thread (a 60s read timeout means the server hung)");
    }
    let pong: String = redis::cmd("PING").query(&mut node.client()).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn idle_clients_are_closed_after_config_timeout() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let mut idle = Raw::connect(node.port);
    idle.send(b"PING\r\n");
    assert_eq!(idle.line(), "+PONG\r\n");
    std::thread::sleep(Duration::from_millis(1600));
    assert!(
        idle.closed(),
        "an idle client is closed after `timeout` seconds"
    );
    let role: Vec<Value> = redis::cmd("ROLE").query(&mut node.client()).unwrap();
    assert_eq!(role[0], Value::BulkString(b"master".to_vec()));
}

#[test]
fn aof_is_a_valid_redis_aof() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v\r\nwith\0bytes")
            .arg("EX")
            .arg(100)
            .query(&mut c)
            .unwrap();
    }
    let _: () = redis::cmd("SELECT").arg(5).query(&mut c).unwrap();
    let _: f64 = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg("1.5")
        .query(&mut c)
        .unwrap();
    assert!(node.terminate().success());
    let aof = dir.join("appendonly-00000001.aof");
    let out = Command::new("redis-check-aof")
        .arg(&aof)
        .output()
        .expect("redis-check-aof (redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("is valid"), "{text}");
    let body = std::fs::read_to_string(&aof).unwrap();
    assert!(
        body.contains("PXAT"),
        "relative expiry is written as absolute"
    );
    assert!(
        body.contains("KEEPTTL"),
        "INCRBYFLOAT is written as SET ... KEEPTTL"
    );
}

#[test]
fn large_values_round_trip_and_persist() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    let big: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let _: () = c.set("big", &big[..]).unwrap();
    let back: Vec<u8> = c.get("big").unwrap();
    assert!(back == big, "20 MB value round-trips");
    assert_eq!(
        c.append::<_, _, i64>("big", b"tail").unwrap(),
        big.len() as i64 + 4
    );
    node.kill9();
    let node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    assert_eq!(c.strlen::<_, i64>("big").unwrap(), big.len() as i64 + 4);
    let head: Vec<u8> = c.getrange("big", 0, 9).unwrap();
    assert_eq!(head, big[..10].to_vec());
}

#[test]
fn wait_blocks_for_its_timeout_and_debug_sleep_stops_the_server() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    let n: i64 = redis::cmd("WAIT").arg(0).arg(0).query(&mut c).unwrap();
    assert_eq!(n, 0);
    let t = std::time::Instant::now();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(300).query(&mut c).unwrap();
    assert_eq!(n, 0, "a standalone node has no replica to acknowledge");
    assert!(
        t.elapsed() >= Duration::from_millis(280),
        "{:?}",
        t.elapsed()
    );
    let port = node.port;
    let sleeper = std::thread::spawn(move || {
        let _: () = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg("0.5")
            .query(&mut common::connect(port))
            .unwrap();
    });
    std::thread::sleep(Duration::from_millis(100));
    let t = std::time::Instant::now();
    let _: String = redis::cmd("PING").query(&mut c).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "DEBUG SLEEP blocks every client: {:?}",
        t.elapsed()
    );
    sleeper.join().unwrap();
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mut node = Atlasd::start(&["-log-format=json"]);
    assert!(node.terminate().success());
    let log = node.log();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 2, "{log}");
    for l in lines {
        assert!(
            l.starts_with('{') && l.ends_with('}'),
            "not a JSON object: {l}"
        );
        assert!(l.contains("\"level\":\"INFO\""), "{l}");
    }
    assert!(log.contains("ready: mode=standalone"), "{log}");
}

#[test]
fn commandstats_and_errorstats() {
    let node = Atlasd::start(&[]);
    let mut c = node.client();
    let _: () = c.set("s", "text").unwrap();
    let _: Option<String> = c.get("s").unwrap();
    assert!(redis::cmd("GET").query::<String>(&mut c).is_err());
    assert!(redis::cmd("INCR").arg("s").query::<i64>(&mut c).is_err());
    assert!(redis::cmd("NOSUCH").query::<String>(&mut c).is_err());
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .arg("errorstats")
        .arg("stats")
        .query(&mut c)
        .unwrap();
    assert!(info.contains("cmdstat_get:calls=1,"), "{info}");
    assert!(info.contains(",rejected_calls=1,failed_calls=0"), "{info}");
    assert!(
        info.contains("cmdstat_incr:calls=1,") && info.contains("rejected_calls=0,failed_calls=1"),
        "{info}"
    );
    assert!(info.contains("errorstat_ERR:count=3"), "{info}");
    assert!(info.contains("total_error_replies:3"), "{info}");
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .unwrap();
    assert!(!info.contains("cmdstat_get"), "{info}");
}

#[test]
fn monitor_shows_every_command_but_admin_ones() {
    let node = Atlasd::start(&[]);
    // Connected first: its handshake (CLIENT SETINFO) is not in the way.
    let mut c = node.client();
    let mut mon = Raw::connect(node.port);
    mon.send(b"*1\r\n$7\r\nMONITOR\r\n");
    assert_eq!(mon.line(), "+OK\r\n");
    let _: () = run(&mut c, &["SET", "k", "a\"b\nc"]);
    let _: String = run(&mut c, &["GET", "k"]);
    let _: Vec<String> = run(&mut c, &["CONFIG", "GET", "timeout"]);
    let _: i64 = run(&mut c, &["ZADD", "z", "1", "m"]);
    let want = [
        "\"SET\" \"k\" \"a\\\"b\\nc\"",
        "\"GET\" \"k\"",
        "\"ZADD\" \"z\" \"1\" \"m\"",
    ];
    for w in want {
        let line = mon.line().trim_end().to_string();
        // `+<secs>.<micros> [0 127.0.0.1:<port>] "SET" ...`
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert!(stamp.starts_with('+') && stamp.contains('.'), "{line}");
        assert!(rest.starts_with("[0 127.0.0.1:"), "{line}");
        assert!(rest.ends_with(w), "{line} should end with {w}");
    }
    // RESET leaves monitor mode: later commands are not shown.
    mon.send(b"*1\r\n$5\r\nRESET\r\n");
    assert_eq!(mon.line(), "+RESET\r\n");
    let _: String = run(&mut c, &["PING"]);
    mon.send(b"*1\r\n$4\r\nPING\r\n");
    assert_eq!(mon.line(), "+PONG\r\n", "no monitor line came first");
}

#[test]
fn slowlog_records_like_redis() {
    let redis = common::RedisServer::start();
    let node = Atlasd::start(&[]);
    let long = "v".repeat(200);
    let mut many = vec!["RPUSH", "list"];
    let items: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
    many.extend(items.iter().map(String::as_str));
    let mut seen = Vec::new();
    for port in [redis.port, node.port] {
        let mut c = connect(port);
        let _: () = run(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        let _: () = run(&mut c, &["CONFIG", "SET", "slowlog-max-len", "3"]);
        let _: () = run(&mut c, &["CLIENT", "SETNAME", "slow"]);
        let _: () = run(&mut c, &["SLOWLOG", "RESET"]);
        let _: () = run(&mut c, &["SET", "k", &long]);
        let _: i64 = run(&mut c, &many);
        let log: redis::Value = redis::cmd("SLOWLOG").arg("GET").query(&mut c).unwrap();
        let redis::Value::Array(entries) = log else {
            panic!("an array: {log:?}")
        };
        assert_eq!(entries.len(), 3, "at most slowlog-max-len entries");
        // Newest first; the arguments and client name as Redis logs them.
        let args_and_name: Vec<(redis::Value, redis::Value)> = entries
            .iter()
            .map(|e| match e {
                redis::Value::Array(f) => (f[3].clone(), f[5].clone()),
                other => panic!("an entry: {other:?}"),
            })
            .collect();
        seen.push(args_and_name);
        let n: i64 = run(&mut c, &["SLOWLOG", "LEN"]);
        assert_eq!(n, 3);
        let e = redis::cmd("SLOWLOG")
            .arg("GET")
            .arg("-2")
            .query::<redis::Value>(&mut c)
            .unwrap_err();
        assert!(e.to_string().contains("greater than or equal to -1"), "{e}");
    }
    assert_eq!(seen[0], seen[1], "redis-server and helios log the same");
}

#[test]
fn maxmemory_refuses_writes_that_add_data_like_redis() {
    let redis = common::RedisServer::start();
    let node = Atlasd::start(&[]);
    let mut replies = Vec::new();
    for port in [redis.port, node.port] {
        let mut c = connect(port);
        let _: () = run(&mut c, &["SET", "a", "1"]);
        // Far below what either server holds already.
        let _: () = run(&mut c, &["CONFIG", "SET", "maxmemory", "1"]);
        let max: Vec<String> = run(&mut c, &["CONFIG", "GET", "maxmemory"]);
        assert_eq!(max, ["maxmemory", "1"]);
        let set = redis::cmd("SET").arg("b").arg("2").query::<()>(&mut c);
        let zadd = redis::cmd("ZADD")
            .arg("z")
            .arg("1")
            .arg("m")
            .query::<()>(&mut c);
        let get: String = run(&mut c, &["GET", "a"]);
        let del: i64 = run(&mut c, &["DEL", "a"]);
        // A refused write inside MULTI aborts the transaction.
        let mut raw = Raw::connect(port);
        let multi = [
            raw.call(&[b"MULTI"]),
            raw.call(&[b"SET", b"x", b"1"]),
            raw.call(&[b"EXEC"]),
        ];
        let _: () = run(&mut c, &["CONFIG", "SET", "maxmemory", "0"]);
        let after: () = run(&mut c, &["SET", "b", "2"]);
        replies.push((
            set.map_err(|e| e.to_string()),
            zadd.map_err(|e| e.to_string()),
            get,
            del,
            multi,
            after,
        ));
    }
    let helios = &replies[1];
    assert!(
        helios
            .0
            .as_ref()
            .is_err_and(|e| e.contains("command not allowed when used memory")),
        "{replies:?}"
    );
    assert_eq!(replies[0], replies[1], "redis-server and helios agree");
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query(&mut node.client())
        .unwrap();
    assert!(info.contains("maxmemory:0\r\n"), "{info}");
}
