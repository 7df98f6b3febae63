//! MULTI/EXEC/DISCARD/WATCH: reply bytes against `redis-server`, WATCH
//! with a second client changing the key, atomic pipelines from the
//! `redis` crate, standalone and on a Raft cluster (leader and follower),
//! and a transaction stream through a leader kill: every transaction is
//! applied entirely on every node or not at all.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::cluster::Cluster;
use common::{run, Atlasd, Raw, RedisServer};

const SCRIPT: &[&[&str]] = &[
    &["EXEC"],
    &["DISCARD"],
    &["MULTI"],
    &["MULTI"],
    &["WATCH", "k"],
    &["SET", "k", "v"],
    &["GET", "k"],
    &["EXEC"],
    &["MULTI"],
    &["SET", "k"],
    &["EXEC"],
    &["MULTI"],
    &["FOO", "bar"],
    &["EXEC"],
    &["MULTI"],
    &["INCR", "s"],
    &["LPUSH", "s", "x"],
    &["INCR", "s"],
    &["EXEC"],
    &["MULTI"],
    &["BLPOP", "empty", "0"],
    &["BLMOVE", "empty", "x", "LEFT", "LEFT", "0"],
    &["EXEC"],
    &["WATCH", "k"],
    &["MULTI"],
    &["EXEC"],
    &["MULTI"],
    &["SET", "a", "1"],
    &["DISCARD"],
    &["EXISTS", "a"],
    &["UNWATCH"],
    &["WATCH", "k", "k"],
    &["MULTI"],
    &["PING"],
    &["HSET", "h", "f", "v"],
    &["SADD", "set", "m"],
    &["EXEC"],
    &["MULTI"],
    &["RESET"],
    &["EXEC"],
];

/// Runs the script on fresh connections in RESP2 and RESP3; returns the
/// raw replies.
fn replies(port: u16) -> Vec<String> {
    let mut all = Vec::new();
    for proto in ["2", "3"] {
        let mut c = Raw::connect(port);
        c.call(&[b"HELLO", proto.as_bytes()]);
        c.call(&[b"FLUSHALL"]);
        for cmd in SCRIPT {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            all.push(format!(
                "RESP{proto} {} -> {}",
                cmd.join(" "),
                String::from_utf8_lossy(&c.call(&args))
            ));
        }
    }
    all
}

fn same_as_redis(got: Vec<String>, want: &[String]) {
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g, w);
    }
    assert_eq!(got.len(), want.len());
}

/// WATCH semantics with a second client; `port` serves the transaction,
/// `other` the interfering writes.
fn watch_scenarios(port: u16, other: u16) {
    let mut c = common::connect(port);
    let mut o = common::connect(other);
    let exec = |c: &mut redis::Connection| -> redis::Value { redis::cmd("EXEC").query(c).unwrap() };
    for (setup, interfere, aborts) in [
        (&["SET", "w", "1"][..], &["SET", "w", "2"][..], true),
        (&["SET", "w", "1"], &["GET", "w"], false),
        (&["SET", "w", "1"], &["EXPIRE", "w", "100"], true),
        (&["DEL", "w"], &["SET", "w", "new"], true),
        (&["RPUSH", "w", "a"], &["RPUSH", "w", "b"], true),
        (&["SET", "w", "1"], &["SET", "other", "x"], false),
    ] {
        let _: i64 = run(&mut c, &["DEL", "w"]);
        let _: redis::Value = redis::cmd(setup[0]).arg(&setup[1..]).query(&mut c).unwrap();
        let _: String = run(&mut c, &["WATCH", "w"]);
        let _: redis::Value = redis::cmd(interfere[0])
            .arg(&interfere[1..])
            .query(&mut o)
            .unwrap();
        let _: String = run(&mut c, &["MULTI"]);
        let _: String = run(&mut c, &["SET", "done", "yes"]);
        let r = exec(&mut c);
        if aborts {
            assert_eq!(r, redis::Value::Nil, "{interfere:?} must abort EXEC");
        } else {
            assert_eq!(
                r,
                redis::Value::Array(vec![redis::Value::Okay]),
                "{interfere:?} must not abort EXEC"
            );
        }
        let _: i64 = run(&mut c, &["DEL", "done"]);
    }
    // An atomic pipeline from a client library (MULTI ... EXEC).
    let _: i64 = run(&mut c, &["DEL", "pa"]);
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("pa")
        .cmd("INCRBY")
        .arg("pa")
        .arg(10)
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b), (1, 11));
}

#[test]
fn transactions_standalone_match_redis() {
    let redis = RedisServer::start();
    let want = replies(redis.port);
    let node = Atlasd::start(&[]);
    same_as_redis(replies(node.port), &want);
    watch_scenarios(node.port, node.port);
}

#[test]
fn transactions_on_a_raft_cluster() {
    let redis = RedisServer::start();
    let want = replies(redis.port);
    let mut cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let follower = cluster.follower_of(leader);
    let (lp, fp) = (cluster.nodes[leader].port, cluster.nodes[follower].port);
    same_as_redis(replies(lp), &want);
    same_as_redis(replies(fp), &want);
    watch_scenarios(fp, lp);
    watch_scenarios(lp, fp);

    // Transactions through a leader kill: each is one Raft entry, so on
    // every node both counters always move together.
    let stop = Arc::new(AtomicBool::new(false));
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let writer = thread::spawn({
        let stop = stop.clone();
        move || {
            let mut acked = 0;
            while !stop.load(Ordering::Relaxed) {
                for &p in &ports {
                    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{p}/")) else {
                        continue;
                    };
                    let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(1))
                    else {
                        continue;
                    };
                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                    let r: redis::RedisResult<(i64, i64)> = redis::pipe()
                        .atomic()
                        .cmd("INCR")
                        .arg("tx:a")
                        .cmd("INCR")
                        .arg("tx:b")
                        .query(&mut c);
                    if r.is_ok() {
                        acked += 1;
                    }
                }
            }
            acked
        }
    });
    thread::sleep(Duration::from_millis(500));
    cluster.kill9(leader);
    cluster.wait_for_leader(Duration::from_secs(30));
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let acked: i64 = writer.join().unwrap();
    cluster.spawn(leader);
    cluster.wait_converged(Duration::from_secs(60));
    for i in 0..cluster.nodes.len() {
        let mut c = cluster.client(i);
        let (a, b): (Option<i64>, Option<i64>) = redis::pipe()
            .cmd("GET")
            .arg("tx:a")
            .cmd("GET")
            .arg("tx:b")
            .query(&mut c)
            .unwrap();
        assert_eq!(a, b, "node {i}: a transaction was applied in part");
        assert!(
            a.unwrap_or(0) >= acked,
            "node {i}: {a:?} < {acked} acknowledged"
        );
    }
}
