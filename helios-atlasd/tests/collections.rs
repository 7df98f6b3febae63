//! Hashes, sets, lists and sorted sets beyond the random differential
//! test: exact reply bytes against `redis-server` in RESP2 and RESP3 (the
//! listpack order of small hashes, intset order, RESP3 maps, sets, doubles
//! and score pairs), collections surviving
//! restarts from the AOF, from a snapshot, and in a Raft cluster through a
//! snapshot install, and `SPOP` popping the same members on every node.

mod common;

use std::time::Duration;

use common::cluster::Cluster;
use common::{run, Atlasd, Raw, RedisServer};

/// Deterministic commands on small hashes: every reply is fully defined
/// by Redis (no random draws, no hashtable order).
const SCRIPT: &[&[&str]] = &[
    &["HSET", "h", "c", "1", "a", "2", "b", "3"],
    &["HSET", "h", "a", "20", "d", "4"],
    &["HGETALL", "h"],
    &["HDEL", "h", "c", "nope"],
    &["HSET", "h", "c", "5"],
    &["HKEYS", "h"],
    &["HVALS", "h"],
    &["HGETALL", "h"],
    &["HMGET", "h", "a", "zz", "c"],
    &["HSCAN", "h", "0"],
    &["HSCAN", "h", "0", "MATCH", "[ab]"],
    &["HRANDFIELD", "h", "10"],
    &["HRANDFIELD", "h", "4", "WITHVALUES"],
    &["HRANDFIELD", "h", "0"],
    &["HRANDFIELD", "missing"],
    &["HRANDFIELD", "missing", "3", "WITHVALUES"],
    &["HINCRBY", "h", "n", "-7"],
    &["HINCRBYFLOAT", "h", "x", "1.5e3"],
    &["HINCRBYFLOAT", "h", "x", "0.25"],
    &["HINCRBY", "h", "a", "9223372036854775800"],
    &["HINCRBY", "h", "a", "100"],
    &["HINCRBYFLOAT", "h", "c", "abc"],
    &["HSETNX", "h", "a", "no"],
    &["HSETNX", "h", "new", "yes"],
    &["HSTRLEN", "h", "x"],
    &["HEXISTS", "h", "new"],
    &["HLEN", "h"],
    &["OBJECT", "ENCODING", "h"],
    &["TYPE", "h"],
    &["SET", "s", "x"],
    &["HGET", "s", "f"],
    &["GET", "h"],
    &["APPEND", "h", "x"],
    &["MGET", "h", "s"],
    &["HGETALL", "missing"],
    &["HDEL", "h", "a", "b", "c", "d", "n", "x", "new"],
    &["EXISTS", "h"],
    &["HMSET", "m", "f", "v"],
    &["COPY", "m", "m2"],
    &["HSET", "m2", "g", "w"],
    &["HGETALL", "m"],
    &["HGETALL", "m2"],
    &["RENAME", "m2", "m3"],
    &["HGETALL", "m3"],
    // Sets: intsets list in ascending order, so these are exact too.
    &["SADD", "s", "30", "-4", "7", "7", "1000"],
    &["SADD", "t", "7", "8", "30"],
    &["SMEMBERS", "s"],
    &["OBJECT", "ENCODING", "s"],
    &["SINTER", "s", "t"],
    &["SUNION", "s", "t"],
    &["SDIFF", "s", "t"],
    &["SINTER", "s", "missing"],
    &["SINTERSTORE", "d", "s", "t"],
    &["SMEMBERS", "d"],
    &["SUNIONSTORE", "d", "s", "t"],
    &["SDIFFSTORE", "d", "missing", "s"],
    &["EXISTS", "d"],
    &["SINTERCARD", "2", "s", "t"],
    &["SINTERCARD", "2", "s", "t", "LIMIT", "1"],
    &["SINTERCARD", "0", "s"],
    &["SINTERCARD", "3", "s", "t"],
    &["SMISMEMBER", "s", "7", "8", "007"],
    &["SISMEMBER", "s", "1000"],
    &["SCARD", "s"],
    &["SRANDMEMBER", "s", "10"],
    &["SRANDMEMBER", "missing", "2"],
    &["SRANDMEMBER", "s", "0"],
    &["SSCAN", "s", "0"],
    &["SMOVE", "s", "t", "-4"],
    &["SMOVE", "s", "t", "nope"],
    &["SMOVE", "s", "h2", "7"],
    &["SMOVE", "t", "t", "8"],
    &["SMEMBERS", "t"],
    &["SADD", "t", "x"],
    &["OBJECT", "ENCODING", "t"],
    &["SPOP", "missing"],
    &["SPOP", "missing", "2"],
    &["SPOP", "s", "0"],
    &["SPOP", "s", "-1"],
    &["SPOP", "s", "1", "2"],
    &["SPOP", "s", "10"],
    &["EXISTS", "s"],
    &["SADD", "h2", "x"],
    &["HSET", "h2", "f", "v"],
    &["SADD", "h2", "x"],
    &["TYPE", "t"],
    // Lists.
    &["RPUSH", "l", "a", "b", "c", "d", "e", "a"],
    &["LPUSH", "l", "z"],
    &["OBJECT", "ENCODING", "l"],
    &["LRANGE", "l", "0", "-1"],
    &["LRANGE", "l", "-3", "100"],
    &["LRANGE", "missing", "0", "-1"],
    &["LPOP", "l", "0"],
    &["LPOP", "missing", "2"],
    &["LPOP", "missing"],
    &["RPOP", "l", "2"],
    &["LPOS", "l", "a"],
    &["LPOS", "l", "a", "RANK", "-1", "COUNT", "0"],
    &["LPOS", "l", "a", "RANK", "0"],
    &["LPOS", "missing", "a", "COUNT", "1"],
    &["LINSERT", "l", "BEFORE", "c", "x"],
    &["LINSERT", "l", "AFTER", "nope", "x"],
    &["LINSERT", "missing", "AFTER", "a", "x"],
    &["LSET", "l", "-1", "last"],
    &["LSET", "l", "99", "x"],
    &["LSET", "missing", "0", "x"],
    &["LINDEX", "l", "-2"],
    &["LINDEX", "missing", "abc"],
    &["LREM", "l", "-1", "a"],
    &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "l", "l2"],
    &["LRANGE", "l2", "0", "-1"],
    &["LMPOP", "2", "missing", "l", "RIGHT", "COUNT", "2"],
    &["LMPOP", "1", "missing", "LEFT"],
    &["LMPOP", "0", "l", "LEFT"],
    &["LTRIM", "l", "1", "0"],
    &["EXISTS", "l"],
    &["LPUSHX", "l", "x"],
    &["LPUSH", "s", "x"],
    &["LLEN", "l2"],
    // Sorted sets: doubles (RESP3 `,`), pairs in RESP3, flat in RESP2.
    &[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "0.1", "d", "-inf", "e",
    ],
    &["ZADD", "z", "INCR", "1e17", "a"],
    &["ZADD", "z", "GT", "CH", "0", "b", "5", "c", "-0", "f"],
    &["ZADD", "z", "LT", "INCR", "10", "b"],
    &["ZINCRBY", "z", "0x10", "d"],
    &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    &[
        "ZRANGE",
        "z",
        "(0",
        "+inf",
        "BYSCORE",
        "REV",
        "LIMIT",
        "1",
        "2",
        "WITHSCORES",
    ],
    &["ZRANGE", "z", "[z", "-", "BYLEX", "REV"],
    &["ZREVRANGE", "z", "0", "1", "WITHSCORES"],
    &["ZRANGEBYSCORE", "z", "-inf", "(2", "WITHSCORES"],
    &["ZSCORE", "z", "d"],
    &["ZSCORE", "z", "f"],
    &["ZSCORE", "z", "nope"],
    &["ZMSCORE", "z", "a", "nope", "e"],
    &["ZRANK", "z", "c"],
    &["ZREVRANK", "z", "c"],
    &["ZCOUNT", "z", "(1", "inf"],
    &["ZSCAN", "z", "0"],
    &["OBJECT", "ENCODING", "z"],
    &["ZPOPMIN", "z"],
    &["ZPOPMAX", "z", "2"],
    &["ZPOPMIN", "z", "0"],
    &["ZMPOP", "2", "missing", "z", "MAX", "COUNT", "1"],
    &["ZMPOP", "1", "missing", "MIN"],
    &["BZPOPMIN", "missing", "z", "0"],
    &["ZADD", "w", "2", "b", "4", "q"],
    &["ZUNION", "2", "z", "w", "WEIGHTS", "2", "0.5", "WITHSCORES"],
    &["ZINTER", "2", "z", "w", "AGGREGATE", "MAX", "WITHSCORES"],
    &["ZDIFF", "2", "w", "z", "WITHSCORES"],
    &["ZUNIONSTORE", "u", "2", "z", "w"],
    &["ZRANGESTORE", "r", "u", "1", "-1"],
    &["ZRANGE", "r", "0", "-1", "WITHSCORES"],
    &["ZRANDMEMBER", "r", "5", "WITHSCORES"],
    &["ZREMRANGEBYSCORE", "u", "-inf", "(2"],
    &["ZREMRANGEBYRANK", "u", "-1", "-1"],
    &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
    &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
    &["ZRANGEBYLEX", "lex", "(a", "[c"],
    &["ZREVRANGEBYLEX", "lex", "+", "-", "LIMIT", "1", "2"],
    &["ZLEXCOUNT", "lex", "-", "(c"],
    &["ZREMRANGEBYLEX", "lex", "[b", "[c"],
    &["ZRANGE", "lex", "0", "-1"],
    &["ZADD", "s", "1", "x"],
    &["ZCARD", "lex"],
    &["TYPE", "lex"],
];

#[test]
fn collection_replies_match_redis_byte_for_byte_in_resp2_and_resp3() {
    let redis = RedisServer::start();
    let helios = Atlasd::start(&[]);
    for proto in ["2", "3"] {
        let mut r = Raw::connect(redis.port);
        let mut h = Raw::connect(helios.port);
        // The HELLO replies describe each server; only the protocol matters.
        r.call(&[b"HELLO", proto.as_bytes()]);
        h.call(&[b"HELLO", proto.as_bytes()]);
        assert_eq!(r.call(&[b"FLUSHALL"]), h.call(&[b"FLUSHALL"]));
        for cmd in SCRIPT {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            let (want, got) = (r.call(&args), h.call(&args));
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "RESP{proto} {}",
                cmd.join(" ")
            );
        }
    }
}

fn sorted_pairs(c: &mut redis::Connection, key: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
    v.sort();
    v
}

/// Writes a small hash, a large one (past the listpack limit), float and
/// integer increments and a hash deleted field by field.
fn fill(c: &mut redis::Connection) {
    let _: i64 = run(c, &["HSET", "small", "z", "1", "a", "2"]);
    for i in 0..600 {
        let _: i64 = run(c, &["HSET", "large", &format!("f{i}"), &format!("v{i}")]);
    }
    let _: String = run(c, &["HINCRBYFLOAT", "small", "fl", "0.1"]);
    let _: String = run(c, &["HINCRBYFLOAT", "small", "fl", "0.2"]);
    let _: i64 = run(c, &["HINCRBY", "small", "n", "41"]);
    let _: i64 = run(c, &["HSET", "gone", "f", "v"]);
    let _: i64 = run(c, &["HDEL", "gone", "f"]);
    let _: i64 = run(c, &["HDEL", "large", "f7"]);
    let _: i64 = run(c, &["PEXPIRE", "small", "100000000"]);
}

fn check(c: &mut redis::Connection) {
    let keys: Vec<(String, String)> = redis::cmd("HGETALL").arg("small").query(c).unwrap();
    assert_eq!(
        keys,
        [
            ("z".into(), "1".into()),
            ("a".into(), "2".into()),
            ("fl".into(), "0.3".into()),
            ("n".into(), "41".into())
        ],
        "listpack order and the float result survive"
    );
    let large = sorted_pairs(c, "large");
    assert_eq!(large.len(), 599);
    assert!(large.contains(&("f599".into(), "v599".into())));
    assert!(!large.iter().any(|(f, _)| f == "f7"));
    let enc: String = run(c, &["OBJECT", "ENCODING", "large"]);
    assert_eq!(enc, "hashtable");
    let exists: i64 = run(c, &["EXISTS", "gone"]);
    assert_eq!(exists, 0);
    let ttl: i64 = run(c, &["PTTL", "small"]);
    assert!(ttl > 90_000_000, "{ttl}");
}

/// Sets whose content after SPOP is known: a set popped whole, and
/// members SREM'd; plus what a random SPOP left, checked by count.
fn fill_sets(c: &mut redis::Connection) {
    let _: i64 = run(c, &["SADD", "ints", "3", "1", "2"]);
    let members: Vec<String> = (0..700).map(|i| format!("m{i}")).collect();
    let mut sadd = vec!["SADD", "big"];
    sadd.extend(members.iter().map(String::as_str));
    let _: i64 = run(c, &sadd);
    let _: i64 = run(c, &["SREM", "big", "m0", "m1"]);
    let popped: Vec<String> = redis::cmd("SPOP").arg("big").arg(10).query(c).unwrap();
    assert_eq!(popped.len(), 10);
    let _: i64 = run(c, &["SADD", "whole", "a", "b"]);
    let _: Vec<String> = redis::cmd("SPOP").arg("whole").arg(5).query(c).unwrap();
    let _: i64 = run(c, &["RPUSH", "queue", "1", "2", "3", "4"]);
    let _: String = run(c, &["LPOP", "queue"]);
    let _: String = run(c, &["LMOVE", "queue", "done", "RIGHT", "LEFT"]);
    // A leaderboard past the listpack limit, and a small sorted set.
    let mut zadd = vec!["ZADD".to_string(), "board".to_string()];
    for i in 0..300 {
        zadd.push(format!("{}", i % 50));
        zadd.push(format!("player{i}"));
    }
    let zadd: Vec<&str> = zadd.iter().map(String::as_str).collect();
    let _: i64 = run(c, &zadd);
    let _: String = run(c, &["ZINCRBY", "board", "0.5", "player7"]);
    let _: Vec<String> = run(c, &["ZPOPMIN", "board", "5"]);
    let _: i64 = run(c, &["ZREMRANGEBYSCORE", "board", "(48", "+inf"]);
    let _: i64 = run(
        c,
        &["ZADD", "podium", "3", "gold", "2", "silver", "1", "bronze"],
    );
}

fn check_sets(c: &mut redis::Connection) -> Vec<String> {
    let ints: Vec<String> = run(c, &["SMEMBERS", "ints"]);
    assert_eq!(ints, ["1", "2", "3"]);
    let enc: String = run(c, &["OBJECT", "ENCODING", "ints"]);
    assert_eq!(enc, "intset");
    let mut big: Vec<String> = run(c, &["SMEMBERS", "big"]);
    assert_eq!(big.len(), 688);
    assert!(!big.iter().any(|m| m == "m0" || m == "m1"));
    let exists: i64 = run(c, &["EXISTS", "whole"]);
    assert_eq!(exists, 0, "a set popped whole is deleted");
    let queue: Vec<String> = run(c, &["LRANGE", "queue", "0", "-1"]);
    assert_eq!(queue, ["2", "3"]);
    let n: i64 = run(c, &["ZCARD", "board"]);
    assert_eq!(n, 300 - 5 - 6, "5 popped, the 6 players scoring 49 removed");
    let top: Vec<String> = run(c, &["ZREVRANGE", "board", "0", "1", "WITHSCORES"]);
    assert_eq!(top, ["player98", "48", "player48", "48"], "ties by member");
    let score: String = run(c, &["ZSCORE", "board", "player7"]);
    assert_eq!(score, "7.5");
    let rank: i64 = run(c, &["ZRANK", "board", "player1"]);
    assert_eq!(rank, 1, "only player50 is left at score 0");
    let enc: String = run(c, &["OBJECT", "ENCODING", "board"]);
    assert_eq!(enc, "skiplist");
    let podium: Vec<String> = run(c, &["ZRANGE", "podium", "0", "-1"]);
    assert_eq!(podium, ["bronze", "silver", "gold"]);
    let done: Vec<String> = run(c, &["LRANGE", "done", "0", "-1"]);
    assert_eq!(done, ["4"]);
    big.sort();
    big
}

#[test]
fn collections_survive_restart_from_the_aof_and_from_a_snapshot() {
    let mut node = Atlasd::start(&[]);
    let dir = node.dir.clone();
    fill(&mut node.client());
    check(&mut node.client());
    fill_sets(&mut node.client());
    let sets = check_sets(&mut node.client());
    assert!(node.terminate().success());
    let mut node = Atlasd::start_in(&dir, &[]);
    check(&mut node.client());
    assert_eq!(
        check_sets(&mut node.client()),
        sets,
        "SPOP replays as its SREM"
    );
    // A snapshot, then a change after it that only the AOF has.
    let _: String = run(&mut node.client(), &["SAVE"]);
    let _: i64 = run(&mut node.client(), &["HSET", "after", "f", "v"]);
    node.kill9();
    let mut node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    check(&mut c);
    assert_eq!(check_sets(&mut c), sets);
    let v: String = run(&mut c, &["HGET", "after", "f"]);
    assert_eq!(v, "v");
    assert!(node.terminate().success());
}

#[test]
fn collections_replicate_spop_agrees_and_a_lagging_follower_catches_up_by_snapshot() {
    let mut cluster = Cluster::start(3, &["-raft-snapshot-threshold", "20"]);
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let behind = cluster.follower_of(leader);
    cluster.kill9(behind);
    let mut c = cluster.client(leader);
    fill(&mut c);
    fill_sets(&mut c);
    // Random pops, applied on every node from the same log entry.
    for _ in 0..30 {
        let _: Option<String> = redis::cmd("SPOP").arg("big").query(&mut c).unwrap();
    }
    // Enough entries for several snapshots and a purged log.
    for i in 0..200 {
        let _: i64 = run(&mut c, &["HSET", "more", &format!("f{i}"), "v"]);
    }
    cluster.spawn(behind);
    cluster.wait_converged(Duration::from_secs(60));
    let mut leader_big: Vec<String> = run(&mut cluster.client(leader), &["SMEMBERS", "big"]);
    leader_big.sort();
    assert_eq!(leader_big.len(), 658);
    for i in 0..cluster.nodes.len() {
        let mut c = cluster.client(i);
        // Linearizable reads on followers see the leader's writes.
        check(&mut c);
        let mut big: Vec<String> = run(&mut c, &["SMEMBERS", "big"]);
        big.sort();
        let differ = big
            .iter()
            .filter(|m| leader_big.binary_search(m).is_err())
            .count();
        assert!(
            big == leader_big,
            "node {i} popped other members than the leader ({differ} of {} differ)",
            big.len()
        );
        assert_eq!(sorted_pairs(&mut c, "more").len(), 200, "node {i}");
    }
    let installed: u64 = cluster.raft_info(behind).unwrap()["raft_snapshots_installed"]
        .parse()
        .unwrap();
    assert!(installed >= 1, "the follower caught up without a snapshot");
    // After the snapshot install, pops still agree: slot order was restored.
    for _ in 0..20 {
        let _: Option<String> = redis::cmd("SPOP").arg("big").query(&mut c).unwrap();
    }
    cluster.wait_converged(Duration::from_secs(60));
    let mut after: Vec<Vec<String>> = Vec::new();
    for i in 0..cluster.nodes.len() {
        let mut m: Vec<String> = run(&mut cluster.client(i), &["SMEMBERS", "big"]);
        m.sort();
        after.push(m);
    }
    assert_eq!(after[0].len(), 638);
    assert!(
        after.iter().all(|m| *m == after[0]),
        "nodes diverged after SPOP"
    );
}
