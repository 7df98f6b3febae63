//! Clients blocked in `BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH` and `BLMPOP`:
//! which keys each waits for, in arrival order.
//!
//! A blocked client is not served by the writer (as Redis does): it is
//! woken and retries its command itself, through the same path as any
//! command (locally in standalone mode, as a Raft proposal in raft mode,
//! where the pop must be in the log). To keep arrival order, a write to a
//! key wakes only the first client queued on it; that client, once served
//! (or when it gives up), passes the turn on by waking the next one, and a
//! client that woke but found nothing goes back to the front of its
//! queues. A wake-up may be spurious (the element was taken by a client
//! that was not blocked); the retry then finds nothing and waits again.
//!
//! What this does not give: Redis serves every blocked client a push can
//! satisfy before the next command runs; here an unblocked client's
//! `LPOP` can get in between two blocked clients' retries.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

type Key = (usize, Vec<u8>);

/// The registry of blocked clients.
#[derive(Default)]
pub struct Blocked {
    inner: Mutex<Inner>,
    /// Registered waiters, for a lock-free "nobody is blocked" check on
    /// every write.
    count: AtomicUsize,
}

#[derive(Default)]
struct Inner {
    queues: HashMap<Key, VecDeque<u64>>,
    waiters: HashMap<u64, Arc<Notify>>,
    next_id: u64,
}

/// One blocked client's place in the queues of its keys.
pub struct Registration {
    id: u64,
    keys: Vec<Key>,
    pub notify: Arc<Notify>,
}

impl std::fmt::Debug for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocked")
            .field("clients", &self.len())
            .finish()
    }
}

impl Blocked {
    /// Blocked clients (`INFO` `blocked_clients`).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues a client on `keys` of database `db`: last, or first for a
    /// client that woke up and found nothing (it keeps its turn).
    pub fn register(&self, db: usize, keys: &[impl AsRef<[u8]>], first: bool) -> Registration {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let notify = Arc::new(Notify::new());
        inner.waiters.insert(id, Arc::clone(&notify));
        let mut mine: Vec<Key> = Vec::new();
        for k in keys {
            let key = (db, k.as_ref().to_vec());
            if mine.contains(&key) {
                continue;
            }
            let q = inner.queues.entry(key.clone()).or_default();
            if first {
                q.push_front(id);
            } else {
                q.push_back(id);
            }
            mine.push(key);
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        Registration {
            id,
            keys: mine,
            notify,
        }
    }

    /// Removes a client from its queues.
    pub fn unregister(&self, r: &Registration) {
        let mut inner = self.inner.lock();
        if inner.waiters.remove(&r.id).is_none() {
            return;
        }
        for key in &r.keys {
            if let Some(q) = inner.queues.get_mut(key) {
                q.retain(|&id| id != r.id);
                if q.is_empty() {
                    inner.queues.remove(key);
                }
            }
        }
        self.count.fetch_sub(1, Ordering::AcqRel);
    }

    /// Wakes the first client waiting on `key` of database `db`.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.is_empty() {
            return;
        }
        let inner = self.inner.lock();
        let first = inner
            .queues
            .get(&(db, key.to_vec()))
            .and_then(|q| q.front())
            .and_then(|id| inner.waiters.get(id));
        if let Some(n) = first {
            n.notify_one();
        }
    }

    /// Wakes the first client of every queue (after writes that move keys
    /// around wholesale: `SWAPDB`, `MOVE`, `FLUSHALL`, ...).
    pub fn signal_all(&self) {
        if self.is_empty() {
            return;
        }
        let inner = self.inner.lock();
        for q in inner.queues.values() {
            if let Some(n) = q.front().and_then(|id| inner.waiters.get(id)) {
                n.notify_one();
            }
        }
    }

    /// Passes the turn on after `r` was served or gave up: wakes the next
    /// client on each of its keys.
    pub fn pass_on(&self, r: &Registration) {
        for (db, key) in &r.keys {
            self.signal(*db, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn woken(r: &Registration) -> bool {
        // A stored permit completes `notified()` at once.
        let fut = r.notify.notified();
        futures_util::FutureExt::now_or_never(fut).is_some()
    }

    #[test]
    fn a_write_wakes_only_the_first_in_line_and_the_turn_passes_on() {
        let b = Blocked::default();
        let a = b.register(0, &[b"k"], false);
        let c = b.register(0, &[&b"k"[..], b"other"], false);
        assert_eq!(b.len(), 2);
        b.signal(0, b"k");
        assert!(woken(&a));
        assert!(!woken(&c), "only the first waiter is woken");
        b.unregister(&a);
        b.pass_on(&a);
        assert!(woken(&c));
        b.signal(1, b"k");
        assert!(!woken(&c), "another database's key");
        b.unregister(&c);
        assert!(b.is_empty());
    }

    #[test]
    fn a_client_that_found_nothing_keeps_its_turn() {
        let b = Blocked::default();
        let a = b.register(0, &[b"k"], false);
        let c = b.register(0, &[b"k"], false);
        b.unregister(&a);
        let a2 = b.register(0, &[b"k"], true);
        b.signal(0, b"k");
        assert!(woken(&a2));
        assert!(!woken(&c));
        b.signal_all();
        assert!(woken(&a2));
    }
}
