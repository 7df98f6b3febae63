//! Bad input never crashes the node or loses data: malformed frames,
//! oversize lengths, garbage bytes and clients vanishing mid-frame get an
//! error (or a closed connection) while every other client keeps working.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::{Atlasd, Raw};
use rand::{Rng, SeedableRng};
use redis::Commands;

/// The node still answers another client and still holds `canary`.
fn assert_healthy(node: &Atlasd) {
    let mut c = node.client();
    assert_eq!(c.get::<_, String>("canary").unwrap(), "alive");
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

fn start() -> Atlasd {
    let node = Atlasd::start(&[]);
    let _: () = node.client().set("canary", "alive").unwrap();
    node
}

fn expect_protocol_error(node: &Atlasd, input: &[u8], want: &str) {
    let mut r = Raw::connect(node.port);
    r.send(input);
    assert_eq!(
        r.line(),
        format!("-ERR Protocol error: {want}\r\n"),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    assert!(r.closed(), "connection closed after a protocol error");
    assert_healthy(node);
}

#[test]
fn malformed_frames_get_redis_protocol_errors() {
    let node = start();
    expect_protocol_error(&node, b"*abc\r\n", "invalid multibulk length");
    expect_protocol_error(&node, b"*2\r\n$3\r\nGET\r\n+k\r\n", "expected '$', got '+'");
    expect_protocol_error(&node, b"*1\r\n$x\r\n", "invalid bulk length");
    expect_protocol_error(&node, b"*1\r\n$-3\r\n", "invalid bulk length");
    expect_protocol_error(
        &node,
        b"SET \"unterminated\r\n",
        "unbalanced quotes in request",
    );
}

#[test]
fn oversize_lengths_are_refused_before_allocation() {
    let node = start();
    // 1 GB bulk, over proto-max-bulk-len (512 MB): refused from the header.
    expect_protocol_error(
        &node,
        b"*2\r\n$3\r\nGET\r\n$1073741824\r\n",
        "invalid bulk length",
    );
    // 2^31 elements: refused from the header.
    expect_protocol_error(&node, b"*2147483648\r\n", "invalid multibulk length");
    expect_protocol_error(&node, b"*1048577\r\n", "invalid multibulk length");
    // An inline line over 64 KB with no newline.
    expect_protocol_error(&node, &vec![b'A'; 70 * 1024], "too big inline request");
    // A lowered limit applies to new requests.
    let mut c = node.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("proto-max-bulk-len")
        .arg("1mb")
        .query(&mut c)
        .unwrap();
    expect_protocol_error(
        &node,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
        "invalid bulk length",
    );
    let rss_kb = std::fs::read_to_string(format!("/proc/{}/status", node.child.id()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .map(|v| v.parse::<u64>().unwrap())
        })
        .unwrap();
    assert!(
        rss_kb < 200 * 1024,
        "refused lengths allocated nothing large: RSS {rss_kb} kB"
    );
}

#[test]
fn clients_vanishing_mid_frame_do_not_disturb_others() {
    let node = start();
    let partials: [&[u8]; 5] = [
        b"*3\r\n$3\r\nSET\r\n$1\r\nk",
        b"*3\r\n$3\r\nSET\r\n$6\r\ncanary\r\n$100000000\r\nabc",
        b"*2\r\n",
        b"GET canar",
        b"*",
    ];
    for p in partials {
        let mut s = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
        s.write_all(p).unwrap();
        drop(s);
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_healthy(&node);
    let mut c = node.client();
    assert_eq!(
        c.exists::<_, i64>("k").unwrap(),
        0,
        "a half-sent SET is never applied"
    );
}

#[test]
fn http_requests_close_the_connection() {
    let node = start();
    let mut r = Raw::connect(node.port);
    r.send(b"POST / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(r.closed());
    let mut r = Raw::connect(node.port);
    r.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    // The Host: line closes the connection, with no reply to the batch.
    assert_eq!(r.line(), "");
    assert_healthy(&node);
}

#[test]
fn random_garbage_never_crashes_the_node() {
    let node = start();
    let seed = 0x5eed_u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let alphabet: &[u8] = b"*$+-:\r\n0123456789-abcSETGET \"'\\\x00\xff";
    for round in 0..300 {
        let len = rng.gen_range(1..200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.gen_bool(0.7) {
                    alphabet[rng.gen_range(0..alphabet.len())]
                } else {
                    rng.gen()
                }
            })
            .collect();
        let mut s = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
        let _ = s.write_all(&bytes);
        if round % 10 == 0 {
            assert_healthy(&node);
        }
    }
    assert_healthy(&node);
    assert!(node.child.id() > 0);
}
