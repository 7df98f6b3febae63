//! Clients in `MONITOR` mode, and the lines they are sent.
//!
//! Every command a connection of this node receives (except administrative
//! ones, as in Redis) is written to each monitor as one status line,
//! `+<unix seconds>.<micros> [<db> <client addr>] "arg" "arg" ...`, with the
//! arguments quoted as Redis's `sdscatrepr` quotes them. Lines go through
//! the same per-client queue as pub/sub messages, so a slow monitor never
//! holds a command up. In raft mode a node shows what its own clients send
//! (a write is shown on the node it was sent to, not on every node).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use super::pubsub::Mailbox;

/// The monitors of this node.
#[derive(Default)]
pub struct Monitors {
    inner: Mutex<HashMap<u64, Mailbox>>,
    /// For a lock-free "nobody monitors" check on every command.
    count: AtomicUsize,
}

impl std::fmt::Debug for Monitors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitors")
            .field("clients", &self.count.load(Ordering::Relaxed))
            .finish()
    }
}

impl Monitors {
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    pub fn add(&self, id: u64, mailbox: Mailbox) {
        let mut inner = self.inner.lock();
        inner.insert(id, mailbox);
        self.count.store(inner.len(), Ordering::Release);
    }

    pub fn remove(&self, id: u64) {
        let mut inner = self.inner.lock();
        if inner.remove(&id).is_some() {
            self.count.store(inner.len(), Ordering::Release);
        }
    }

    /// Sends the line for `args`, run by client `from` (at `addr`, in
    /// database `db`), to every other monitor. (A monitor's own `RESET` or
    /// `QUIT` ends its monitoring; it is not shown its own commands.)
    pub fn feed(&self, from: u64, db: usize, addr: &str, args: &[Bytes]) {
        if self.is_empty() {
            return;
        }
        let line = Bytes::from(line(std::time::SystemTime::now(), db, addr, args));
        for (id, m) in self.inner.lock().iter() {
            if *id != from {
                // A monitor that is gone is removed when its connection ends.
                let _ = m.tx.send(line.clone());
            }
        }
    }
}

/// One monitor line. `AUTH` and `HELLO ... AUTH` show their arguments as
/// `(redacted)`, as in Redis.
pub fn line(at: std::time::SystemTime, db: usize, addr: &str, args: &[Bytes]) -> Vec<u8> {
    let t = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut out = format!("+{}.{:06} [{db} {addr}]", t.as_secs(), t.subsec_micros()).into_bytes();
    let redact_from = if args[0].eq_ignore_ascii_case(b"auth") {
        1
    } else if args[0].eq_ignore_ascii_case(b"hello") {
        args.iter()
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
            .map_or(args.len(), |i| i + 1)
    } else {
        args.len()
    };
    for (i, a) in args.iter().enumerate() {
        out.push(b' ');
        if i >= redact_from && i < redact_from + 2 {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(&mut out, a);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `s` in double quotes with Redis's escapes (`sdscatrepr`).
fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&[u8]]) -> Vec<Bytes> {
        a.iter().map(|x| Bytes::copy_from_slice(x)).collect()
    }

    #[test]
    fn lines_quote_like_redis_and_redact_passwords() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456);
        let l = line(
            at,
            3,
            "127.0.0.1:5000",
            &args(&[b"SET", b"k\"1", b"a\nb\x01\xff"]),
        );
        assert_eq!(
            String::from_utf8(l).unwrap(),
            "+1700000000.123456 [3 127.0.0.1:5000] \"SET\" \"k\\\"1\" \"a\\nb\\x01\\xff\"\r\n"
        );
        let l = line(at, 0, "a", &args(&[b"AUTH", b"user", b"secret"]));
        assert!(String::from_utf8(l)
            .unwrap()
            .ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\"\r\n"));
        let l = line(
            at,
            0,
            "a",
            &args(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]),
        );
        assert!(String::from_utf8(l).unwrap().ends_with(
            "\"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
        ));
    }

    #[test]
    fn monitors_come_and_go() {
        let m = Monitors::default();
        assert!(m.is_empty());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        m.add(7, Mailbox { tx, resp3: false });
        m.feed(1, 0, "x", &args(&[b"PING"]));
        m.feed(7, 0, "x", &args(&[b"QUIT"]));
        assert!(rx.try_recv().unwrap().ends_with(b"[0 x] \"PING\"\r\n"));
        assert!(rx.try_recv().is_err(), "not its own commands");
        m.remove(7);
        assert!(m.is_empty());
    }
}
