//! Blocking list and sorted set pops with real concurrent clients: woken by a push from
//! another client, served in the order they blocked, timeouts honoured,
//! later pipelined commands held until the pop is served; standalone and
//! on a 3-node Raft cluster (a client blocked on a follower is served by a
//! push on the leader, and every node ends with the same list).

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{connect, run, Atlasd, Raw};
use redis::Value;

/// `INFO clients` `blocked_clients` on the server at `port`.
fn blocked_clients(port: u16) -> usize {
    let mut c = connect(port);
    let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

fn wait_blocked(port: u16, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while blocked_clients(port) < n {
        assert!(Instant::now() < deadline, "{n} clients never blocked");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Starts a client on `port` that runs `cmd` and returns its reply.
fn spawn_blocked(port: u16, cmd: &'static [&'static str]) -> thread::JoinHandle<Value> {
    thread::spawn(move || {
        let mut c = connect(port);
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut q = redis::cmd(cmd[0]);
        for a in &cmd[1..] {
            q.arg(*a);
        }
        q.query(&mut c).unwrap()
    })
}

fn pair(k: &str, v: &str) -> Value {
    Value::Array(vec![
        Value::BulkString(k.as_bytes().to_vec()),
        Value::BulkString(v.as_bytes().to_vec()),
    ])
}

/// The scenarios, on a client port (`push_port` takes the writes: the
/// leader in raft mode, where `port` may be a follower).
fn scenarios(port: u16, push_port: u16) {
    let mut push = connect(push_port);

    // Three clients block on one key, one after the other; a push of three
    // elements serves them in that order.
    let mut waiters = Vec::new();
    for i in 0..3 {
        waiters.push(spawn_blocked(port, &["BLPOP", "queue", "0"]));
        wait_blocked(port, i + 1);
    }
    let _: i64 = run(&mut push, &["RPUSH", "queue", "a", "b", "c"]);
    let got: Vec<Value> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(
        got,
        [pair("queue", "a"), pair("queue", "b"), pair("queue", "c")]
    );
    let left: i64 = run(&mut push, &["EXISTS", "queue"]);
    assert_eq!(left, 0, "the emptied list is deleted");

    // A push to the second of two keys wakes the client; BRPOP pops the tail.
    let w = spawn_blocked(port, &["BRPOP", "k1", "k2", "0"]);
    wait_blocked(port, 1);
    let _: i64 = run(&mut push, &["RPUSH", "k2", "x", "y"]);
    assert_eq!(w.join().unwrap(), pair("k2", "y"));

    // BLMOVE, BRPOPLPUSH and BLMPOP wait and move or pop.
    let w = spawn_blocked(port, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(port, 1);
    let _: i64 = run(&mut push, &["RPUSH", "src", "m"]);
    assert_eq!(w.join().unwrap(), Value::BulkString(b"m".to_vec()));
    let w = spawn_blocked(port, &["BRPOPLPUSH", "src", "dst", "0"]);
    wait_blocked(port, 1);
    let _: i64 = run(&mut push, &["RPUSH", "src", "n"]);
    assert_eq!(w.join().unwrap(), Value::BulkString(b"n".to_vec()));
    let dst: Vec<String> = run(&mut push, &["LRANGE", "dst", "0", "-1"]);
    assert_eq!(dst, ["n", "m"]);
    let w = spawn_blocked(
        port,
        &["BLMPOP", "0", "2", "e1", "e2", "LEFT", "COUNT", "5"],
    );
    wait_blocked(port, 1);
    let _: i64 = run(&mut push, &["RPUSH", "e2", "p", "q"]);
    assert_eq!(
        w.join().unwrap(),
        Value::Array(vec![
            Value::BulkString(b"e2".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"p".to_vec()),
                Value::BulkString(b"q".to_vec())
            ])
        ])
    );

    // Sorted sets: two clients block in BZPOPMIN / BZPOPMAX on one key and
    // are served in arrival order by one ZADD (the min, then the max of
    // what is left); BZMPOP takes a count from the second key; a list
    // pushed to a key a zset client waits on does not serve it.
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    let w1 = spawn_blocked(port, &["BZPOPMIN", "board", "0"]);
    wait_blocked(port, 1);
    let w2 = spawn_blocked(port, &["BZPOPMAX", "board", "0"]);
    wait_blocked(port, 2);
    let _: i64 = run(&mut push, &["ZADD", "board", "3", "c", "1", "a", "2", "b"]);
    assert_eq!(
        w1.join().unwrap(),
        Value::Array(vec![bulk("board"), bulk("a"), bulk("1")])
    );
    assert_eq!(
        w2.join().unwrap(),
        Value::Array(vec![bulk("board"), bulk("c"), bulk("3")])
    );
    let w = spawn_blocked(port, &["BZMPOP", "0", "2", "z1", "z2", "MAX", "COUNT", "2"]);
    wait_blocked(port, 1);
    let _: i64 = run(&mut push, &["LPUSH", "z1", "not-a-zset"]);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(blocked_clients(port), 1, "a list does not serve BZMPOP");
    let _: i64 = run(&mut push, &["ZADD", "z2", "5", "p", "7", "q", "6", "r"]);
    assert_eq!(
        w.join().unwrap(),
        Value::Array(vec![
            bulk("z2"),
            Value::Array(vec![
                Value::Array(vec![bulk("q"), bulk("7")]),
                Value::Array(vec![bulk("r"), bulk("6")]),
            ])
        ])
    );
    let left: Vec<String> = run(&mut push, &["ZRANGE", "z2", "0", "-1"]);
    assert_eq!(left, ["p"]);
    let mut c = connect(port);
    let v: Value = redis::cmd("BZPOPMIN")
        .arg("nozset")
        .arg("0.1")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil, "a timeout answers a null array");

    // A key that turns into a string does not wake the client with an
    // error; it keeps waiting until a list is there.
    let w = spawn_blocked(port, &["BLPOP", "flip", "0"]);
    wait_blocked(port, 1);
    let _: String = run(&mut push, &["SET", "flip", "s"]);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(blocked_clients(port), 1);
    let _: i64 = run(&mut push, &["DEL", "flip"]);
    let _: i64 = run(&mut push, &["LPUSH", "flip", "z"]);
    assert_eq!(w.join().unwrap(), pair("flip", "z"));

    // A move whose destination became another type answers WRONGTYPE when
    // an element comes (as Redis), leaving the element where it was.
    let (tx, rx) = std::sync::mpsc::channel();
    let mover = thread::spawn(move || {
        let mut c = connect(port);
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let r = redis::cmd("BLMOVE")
            .arg("msrc")
            .arg("mdst")
            .arg("LEFT")
            .arg("LEFT")
            .arg("0")
            .query::<Value>(&mut c);
        tx.send(r.map_err(|e| e.to_string())).unwrap();
    });
    wait_blocked(port, 1);
    let _: String = run(&mut push, &["SET", "mdst", "s"]);
    let _: i64 = run(&mut push, &["RPUSH", "msrc", "kept"]);
    let r = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(r.unwrap_err().contains("WRONGTYPE"));
    mover.join().unwrap();
    let kept: Vec<String> = run(&mut push, &["LRANGE", "msrc", "0", "-1"]);
    assert_eq!(kept, ["kept"]);

    // Timeouts: a null after about the time asked (not before).
    let mut c = connect(port);
    let t = Instant::now();
    let v: Value = redis::cmd("BLPOP")
        .arg("none")
        .arg("0.3")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let v: Value = redis::cmd("BLMOVE")
        .arg("none")
        .arg("x")
        .arg("LEFT")
        .arg("LEFT")
        .arg("0.1")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
    assert_eq!(blocked_clients(port), 0);

    // A pipeline behind a blocked pop waits for it.
    let mut raw = Raw::connect(port);
    raw.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\npipe\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n");
    wait_blocked(port, 1);
    let _: i64 = run(&mut push, &["RPUSH", "pipe", "v"]);
    assert_eq!(raw.reply(), b"*2\r\n$4\r\npipe\r\n$1\r\nv\r\n");
    assert_eq!(raw.reply(), b"+PONG\r\n");

    // Wrong type and bad arguments answer at once.
    let e = redis::cmd("BLPOP")
        .arg("flip")
        .arg("abc")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("timeout is not a float"), "{e}");
    let _: String = run(&mut push, &["SET", "str", "s"]);
    let e = redis::cmd("BLPOP")
        .arg("str")
        .arg("0")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("WRONGTYPE"), "{e}");
}

#[test]
fn blocking_pops_standalone() {
    let node = Atlasd::start(&[]);
    scenarios(node.port, node.port);
    // A client killed while blocked leaves its queue; the next one is served.
    let (tx, rx) = std::sync::mpsc::channel();
    let port = node.port;
    let victim = thread::spawn(move || {
        let mut c = connect(port);
        let id: i64 = run(&mut c, &["CLIENT", "ID"]);
        tx.send(id).unwrap();
        redis::cmd("BLPOP")
            .arg("kq")
            .arg("0")
            .query::<Value>(&mut c)
            .is_err()
    });
    let id = rx.recv().unwrap();
    wait_blocked(port, 1);
    let w = spawn_blocked(port, &["BLPOP", "kq", "0"]);
    wait_blocked(port, 2);
    let mut admin = node.client();
    let killed: i64 = run(&mut admin, &["CLIENT", "KILL", "ID", &id.to_string()]);
    assert_eq!(killed, 1);
    assert!(
        victim.join().unwrap(),
        "the killed client's connection closed"
    );
    wait_until_blocked_is(port, 1);
    let _: i64 = run(&mut admin, &["RPUSH", "kq", "only"]);
    assert_eq!(w.join().unwrap(), pair("kq", "only"));
}

fn wait_until_blocked_is(port: u16, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while blocked_clients(port) != n {
        assert!(Instant::now() < deadline, "blocked clients never {n}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn blocking_pops_on_a_raft_cluster() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let follower = cluster.follower_of(leader);
    let (lp, fp) = (cluster.nodes[leader].port, cluster.nodes[follower].port);
    // Clients blocked on the leader, then on a follower.
    scenarios(lp, lp);
    let _: String = run(&mut cluster.client(leader), &["FLUSHALL"]);
    scenarios(fp, lp);
    cluster.wait_converged(Duration::from_secs(60));
    for i in 0..cluster.nodes.len() {
        let mut c = cluster.client(i);
        let dst: Vec<String> = run(&mut c, &["LRANGE", "dst", "0", "-1"]);
        assert_eq!(dst, ["n", "m"], "node {i}");
        let n: i64 = run(&mut c, &["EXISTS", "queue", "k2", "src", "e2"]);
        assert_eq!(n, 1, "node {i}: only k2 (x) is left");
        let board: Vec<String> = run(&mut c, &["ZRANGE", "board", "0", "-1"]);
        assert_eq!(board, ["b"], "node {i}");
        let z2: Vec<String> = run(&mut c, &["ZRANGE", "z2", "0", "-1"]);
        assert_eq!(z2, ["p"], "node {i}");
    }
}
