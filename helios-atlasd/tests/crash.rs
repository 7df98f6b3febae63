//! Crash safety: with `appendfsync always`, every write that was
//! acknowledged before a kill -9 is there after restart, and damaged files
//! are handled as the persistence docs say (torn tail truncated, corruption
//! refused with the offset).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Atlasd;
use redis::Commands;

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    // A low snapshot threshold so the kills also land during snapshots.
    let args = ["-aof-fsync=always", "-snapshot-interval-cmds=700"];
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut counter_acked = 0i64;
    for round in 0..3 {
        let mut node = Atlasd::start_in(&dir, &args);
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..4 {
            let (port, stop, acked) = (node.port, stop.clone(), acked.clone());
            writers.push(std::thread::spawn(move || {
                let mut c = common::connect(port);
                let mut last_incr = 0;
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("r{round}:w{w}:{i}");
                    match c.set::<_, _, ()>(&key, i) {
                        Ok(()) => acked.lock().unwrap().push((key, i)),
                        Err(_) => break,
                    }
                    match c.incr::<_, _, i64>("counter", 1) {
                        Ok(v) => last_incr = v,
                        Err(_) => break,
                    }
                    i += 1;
                }
                last_incr
            }));
        }
        std::thread::sleep(Duration::from_millis(700 + 300 * round));
        node.kill9();
        stop.store(true, Ordering::Relaxed);
        for h in writers {
            counter_acked = counter_acked.max(h.join().unwrap());
        }
        let node = Atlasd::start_in(&dir, &args);
        let mut c = node.client();
        let acked = acked.lock().unwrap();
        assert!(
            acked.len() > 100,
            "round {round}: writers made progress ({})",
            acked.len()
        );
        for (k, v) in acked.iter() {
            let got: Option<i64> = c.get(k).unwrap();
            assert_eq!(got, Some(*v), "round {round}: acknowledged write {k} lost");
        }
        let counter: i64 = c.get("counter").unwrap();
        assert!(
            counter >= counter_acked,
            "round {round}: counter {counter} < acknowledged {counter_acked}"
        );
    }
}

fn newest_aof(dir: &std::path::Path) -> std::path::PathBuf {
    let mut aofs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "aof"))
        .collect();
    aofs.sort();
    aofs.pop().expect("an AOF file")
}

#[test]
fn torn_tail_is_truncated_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    for i in 0..50 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    node.kill9();
    let aof = newest_aof(&dir);
    let good_len = std::fs::metadata(&aof).unwrap().len();
    // A write cut off by the crash: a partial command with no trailer.
    let mut f = std::fs::OpenOptions::new().append(true).open(&aof).unwrap();
    std::io::Write::write_all(&mut f, b"*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$5\r\nva").unwrap();
    drop(f);
    let node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    assert_eq!(c.get::<_, i64>("k49").unwrap(), 49);
    assert_eq!(c.exists::<_, i64>("torn").unwrap(), 0);
    assert!(
        node.log().contains("truncated a torn final batch"),
        "{}",
        node.log()
    );
    assert_eq!(std::fs::metadata(&aof).unwrap().len(), good_len);
}

#[test]
fn corruption_in_the_middle_refuses_to_start_and_names_the_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut node = Atlasd::start_in(&dir, &[]);
    let mut c = node.client();
    for i in 0..50 {
        let _: () = c.set(format!("key{i}"), "value").unwrap();
    }
    node.kill9();
    let aof = newest_aof(&dir);
    let mut bytes = std::fs::read(&aof).unwrap();
    let at = bytes.windows(5).position(|w| w == b"key10").unwrap();
    bytes[at] = b'K';
    std::fs::write(&aof, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_helios-atlasd"))
        .arg("-listen=127.0.0.1:0")
        .arg(format!("-data-dir={}", dir.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("corrupt at byte offset") && err.contains(".aof"),
        "{err}"
    );
}
