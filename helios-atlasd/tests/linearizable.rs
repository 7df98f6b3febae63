//! Linearizability under leader failures: concurrent clients run SET, GET,
//! INCR and APPEND on a few keys through every node of a 3-node cluster
//! while the leader is killed (kill -9) and restarted twice. The recorded
//! history must be linearizable per key (checked by
//! `common/linearizability.rs`, whose own tests feed it histories known not
//! to be).
//!
//! Outcomes: a reply is a definite outcome; `-CLUSTERDOWN` means the write
//! was not applied (Helios answers it only when no attempt can have reached
//! a leader's log), so it is dropped; `-TRYAGAIN`, a timeout or a broken
//! connection is unknown (it may take effect at any later time, or never).

mod common;
#[path = "common/linearizability.rs"]
mod linearizability;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use linearizability::{check, Event, Op, Outcome};
use rand::{Rng, SeedableRng};

const CLIENTS: usize = 5;
const INT_KEYS: &[&str] = &["n0", "n1"];
const STR_KEYS: &[&str] = &["s0", "s1"];

fn connect(port: u16) -> Option<redis::Connection> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let con = c
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    con.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    con.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    Some(con)
}

fn client(
    id: usize,
    ports: Vec<u16>,
    base: Instant,
    stop: Arc<AtomicBool>,
    history: Arc<Mutex<Vec<Event>>>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + id as u64);
    let mut con: Option<redis::Connection> = None;
    let mut which = id;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if con.is_none() {
            con = connect(ports[which % ports.len()]);
            which += 1;
            if con.is_none() {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        }
        n += 1;
        let int_key = rng.gen_bool(0.5);
        let key = if int_key {
            INT_KEYS[rng.gen_range(0..INT_KEYS.len())]
        } else {
            STR_KEYS[rng.gen_range(0..STR_KEYS.len())]
        };
        let roll = rng.gen_range(0..100);
        let (op, cmd) = if roll < 40 {
            (Op::Get, redis::cmd("GET").arg(key).clone())
        } else if roll < 60 {
            let v = if int_key {
                format!("{}", rng.gen_range(0..1000))
            } else {
                format!("c{id}-{n}")
            };
            (
                Op::Set(v.clone().into_bytes()),
                redis::cmd("SET").arg(key).arg(v).clone(),
            )
        } else if int_key {
            (Op::Incr, redis::cmd("INCR").arg(key).clone())
        } else {
            let v = format!("+{id}.{n}");
            (
                Op::Append(v.clone().into_bytes()),
                redis::cmd("APPEND").arg(key).arg(v).clone(),
            )
        };
        let invoke = base.elapsed().as_nanos() as u64;
        let reply: redis::RedisResult<redis::Value> = cmd.query(con.as_mut().unwrap());
        let complete = base.elapsed().as_nanos() as u64;
        let outcome = match (&op, reply) {
            (Op::Get, Ok(redis::Value::Nil)) => Outcome::Value(None),
            (Op::Get, Ok(redis::Value::BulkString(b))) => Outcome::Value(Some(b)),
            (Op::Set(_), Ok(redis::Value::Okay)) => Outcome::Ok,
            (Op::Incr | Op::Append(_), Ok(redis::Value::Int(i))) => Outcome::Int(i),
            (_, Ok(other)) => panic!("client {id}: unexpected reply {other:?} to {op:?}"),
            (Op::Get, Err(_)) => Outcome::Failed,
            (_, Err(e)) => {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                    con = None;
                    Outcome::Unknown
                } else if e.code() == Some("CLUSTERDOWN") {
                    Outcome::Failed
                } else if e.code() == Some("TRYAGAIN") {
                    Outcome::Unknown
                } else {
                    panic!("client {id}: unexpected error {e} to {op:?}");
                }
            }
        };
        history.lock().unwrap().push(Event {
            client: id,
            key: key.as_bytes().to_vec(),
            op,
            invoke,
            complete,
            outcome,
        });
    }
}

#[test]
fn history_under_leader_kills_is_linearizable() {
    let mut c = Cluster::start(
        3,
        &[
            "-raft-election-timeout=500ms",
            "-raft-heartbeat-timeout=100ms",
        ],
    );
    let ports: Vec<u16> = c.nodes.iter().map(|n| n.port).collect();
    let base = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let history = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (ports, stop, history) = (ports.clone(), stop.clone(), history.clone());
            std::thread::spawn(move || client(id, ports, base, stop, history))
        })
        .collect();
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1200));
        let l = c.wait_for_leader(Duration::from_secs(30));
        c.kill9(l);
        std::thread::sleep(Duration::from_millis(1500));
        c.spawn(l);
    }
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let history = history.lock().unwrap();
    let definite = history
        .iter()
        .filter(|e| !matches!(e.outcome, Outcome::Unknown | Outcome::Failed))
        .count();
    println!(
        "{} operations, {definite} with a definite outcome",
        history.len()
    );
    assert!(
        definite > 200,
        "too little happened: {definite} definite operations"
    );
    if let Err(v) = check(&history) {
        panic!("not linearizable: {v}");
    }
}
