//! Pub/sub with real connections: reply and message bytes against
//! `redis-server` in RESP2 and RESP3 (subscribe confirmations, messages,
//! pattern messages, PING and refused commands while subscribed, PUBSUB
//! introspection), and on a Raft cluster a message published on any node
//! reaching subscribers on every node.

mod common;

use std::time::Duration;

use common::cluster::Cluster;
use common::{Atlasd, Raw, RedisServer};

/// A subscriber and a publisher on `port`; returns every byte each saw.
fn script(port: u16, proto: &str) -> Vec<String> {
    let mut sub = Raw::connect(port);
    let mut publ = Raw::connect(port);
    let mut seen = Vec::new();
    let mut note = |who: &str, what: &str, bytes: Vec<u8>| {
        seen.push(format!(
            "RESP{proto} {who} {what} -> {}",
            String::from_utf8_lossy(&bytes)
        ));
    };
    sub.call(&[b"HELLO", proto.as_bytes()]);
    note("sub", "SUBSCRIBE a b", {
        let mut r = sub.call(&[b"SUBSCRIBE", b"a", b"b"]);
        r.extend(sub.reply());
        r
    });
    note("sub", "PSUBSCRIBE a*", sub.call(&[b"PSUBSCRIBE", b"a*"]));
    note("pub", "PUBLISH a hi", publ.call(&[b"PUBLISH", b"a", b"hi"]));
    note("sub", "message", sub.reply());
    note("sub", "pmessage", sub.reply());
    note("pub", "PUBLISH ax x", publ.call(&[b"PUBLISH", b"ax", b"x"]));
    note("sub", "pmessage", sub.reply());
    note(
        "pub",
        "PUBLISH nobody x",
        publ.call(&[b"PUBLISH", b"nobody", b"x"]),
    );
    note(
        "pub",
        "PUBSUB NUMSUB a b c",
        publ.call(&[b"PUBSUB", b"NUMSUB", b"a", b"b", b"c"]),
    );
    note("pub", "PUBSUB NUMPAT", publ.call(&[b"PUBSUB", b"NUMPAT"]));
    note(
        "pub",
        "PUBSUB CHANNELS b*",
        publ.call(&[b"PUBSUB", b"CHANNELS", b"b*"]),
    );
    note("sub", "SSUBSCRIBE s1", sub.call(&[b"SSUBSCRIBE", b"s1"]));
    note(
        "pub",
        "SPUBLISH s1 m",
        publ.call(&[b"SPUBLISH", b"s1", b"m"]),
    );
    note("sub", "smessage", sub.reply());
    note(
        "pub",
        "PUBLISH s1 not-shard",
        publ.call(&[b"PUBLISH", b"s1", b"x"]),
    );
    note(
        "pub",
        "PUBSUB SHARDCHANNELS",
        publ.call(&[b"PUBSUB", b"SHARDCHANNELS"]),
    );
    note(
        "pub",
        "PUBSUB SHARDNUMSUB s1 a",
        publ.call(&[b"PUBSUB", b"SHARDNUMSUB", b"s1", b"a"]),
    );
    note("sub", "SUNSUBSCRIBE", sub.call(&[b"SUNSUBSCRIBE"]));
    note("sub", "PING", sub.call(&[b"PING"]));
    note("sub", "PING x", sub.call(&[b"PING", b"x"]));
    note("sub", "GET k", sub.call(&[b"GET", b"k"]));
    note("sub", "UNSUBSCRIBE b", sub.call(&[b"UNSUBSCRIBE", b"b"]));
    note("sub", "PUNSUBSCRIBE", sub.call(&[b"PUNSUBSCRIBE"]));
    note("sub", "UNSUBSCRIBE", sub.call(&[b"UNSUBSCRIBE"]));
    note("sub", "UNSUBSCRIBE", sub.call(&[b"UNSUBSCRIBE"]));
    note("sub", "GET k", sub.call(&[b"GET", b"k"]));
    note(
        "pub",
        "PUBLISH a late",
        publ.call(&[b"PUBLISH", b"a", b"late"]),
    );
    note("sub", "SUBSCRIBE c", sub.call(&[b"SUBSCRIBE", b"c"]));
    note("sub", "RESET", sub.call(&[b"RESET"]));
    note(
        "pub",
        "PUBSUB NUMSUB c",
        publ.call(&[b"PUBSUB", b"NUMSUB", b"c"]),
    );
    seen
}

#[test]
fn pubsub_bytes_match_redis() {
    let redis = RedisServer::start();
    let node = Atlasd::start(&[]);
    for proto in ["2", "3"] {
        let want = script(redis.port, proto);
        let got = script(node.port, proto);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w);
        }
        assert_eq!(got.len(), want.len());
    }
}

#[test]
fn a_message_published_on_any_node_reaches_subscribers_on_every_node() {
    let cluster = Cluster::start(3, &[]);
    let leader = cluster.wait_for_leader(Duration::from_secs(30));
    let mut subs: Vec<Raw> = cluster
        .nodes
        .iter()
        .map(|n| {
            let mut s = Raw::connect(n.port);
            assert_eq!(
                s.call(&[b"SUBSCRIBE", b"news"]),
                b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
            );
            s
        })
        .collect();
    for from in [leader, cluster.follower_of(leader)] {
        let mut p = Raw::connect(cluster.nodes[from].port);
        let text = format!("from-{from}");
        let n = p.call(&[b"PUBLISH", b"news", text.as_bytes()]);
        // The leader counts its own subscriber.
        assert_eq!(n, b":1\r\n");
        for (i, s) in subs.iter_mut().enumerate() {
            let want = format!(
                "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\n{text}\r\n",
                text.len()
            );
            assert_eq!(
                String::from_utf8_lossy(&s.reply()),
                want,
                "subscriber on node {i}, published on node {from}"
            );
        }
    }
}
