//! Clients blocked in `BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`,
//! `BZPOPMIN`, `BZPOPMAX` and `BZMPOP`: which keys each waits for, for
//! which type (list or sorted set), in arrival order.
//!
//! A blocked client is not served by the writer (as Redis does): it is
//! woken and retries its command itself, through the same path as any
//! command (locally in standalone mode, as a Raft proposal in raft mode,
//! where the pop must be in the log). To keep arrival order, a write to a
//! key wakes only the first client queued on it that waits for the type
//! the key now holds; that client, once served (or when it gives up),
//! passes the turn on by waking the next one of each type, and a client
//! that woke but found nothing goes back to the front of its queues
//! without passing anything on (so two clients can never wake each other
//! in turn for ever). A wake-up may be spurious (the element was taken by a client
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

use crate::cmd::list::Wants;

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
    waiters: HashMap<u64, (Arc<Notify>, Wants)>,
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
    pub fn register(
        &self,
        db: usize,
        keys: &[impl AsRef<[u8]>],
        wants: Wants,
        first: bool,
    ) -> Registration {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let notify = Arc::new(Notify::new());
        inner.waiters.insert(id, (Arc::clone(&notify), wants));
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

    /// Wakes the first client waiting on `key` of database `db` for what
    /// the key now holds (`None`: neither a list nor a sorted set, nobody).
    pub fn signal(&self, db: usize, key: &[u8], holds: Option<Wants>) {
        if self.is_empty() {
            return;
        }
        let inner = self.inner.lock();
        if let (Some(q), Some(holds)) = (inner.queues.get(&(db, key.to_vec())), holds) {
            inner.wake_first(q, |w| w == holds);
        }
    }

    /// Wakes the first client of each type in every queue (after writes
    /// that move keys around wholesale: `SWAPDB`, `MOVE`, `RENAME`, ...).
    pub fn signal_all(&self) {
        if self.is_empty() {
            return;
        }
        let inner = self.inner.lock();
        for q in inner.queues.values() {
            inner.wake_first(q, |w| w == Wants::List);
            inner.wake_first(q, |w| w == Wants::Zset);
        }
    }

    /// Passes the turn on after `r` was served or gave up: wakes the next
    /// client of each type on each of its keys (one whose type the key
    /// does not hold finds nothing and waits on, quietly).
    pub fn pass_on(&self, r: &Registration) {
        if self.is_empty() {
            return;
        }
        let inner = self.inner.lock();
        for key in &r.keys {
            if let Some(q) = inner.queues.get(key) {
                inner.wake_first(q, |w| w == Wants::List);
                inner.wake_first(q, |w| w == Wants::Zset);
            }
        }
    }
}

impl Inner {
    /// Wakes the first client in `q` whose type passes `wanted`.
    fn wake_first(&self, q: &VecDeque<u64>, wanted: impl Fn(Wants) -> bool) {
        let first = q
            .iter()
            .filter_map(|id| self.waiters.get(id))
            .find(|(_, w)| wanted(*w));
        if let Some((n, _)) = first {
            n.notify_one();
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

    const L: Option<Wants> = Some(Wants::List);

    #[test]
    fn a_write_wakes_only_the_first_in_line_and_the_turn_passes_on() {
        let b = Blocked::default();
        let a = b.register(0, &[b"k"], Wants::List, false);
        let c = b.register(0, &[&b"k"[..], b"other"], Wants::List, false);
        assert_eq!(b.len(), 2);
        b.signal(0, b"k", L);
        assert!(woken(&a));
        assert!(!woken(&c), "only the first waiter is woken");
        b.unregister(&a);
        b.pass_on(&a);
        assert!(woken(&c));
        b.signal(1, b"k", L);
        assert!(!woken(&c), "another database's key");
        b.unregister(&c);
        assert!(b.is_empty());
    }

    #[test]
    fn a_client_that_found_nothing_keeps_its_turn() {
        let b = Blocked::default();
        let a = b.register(0, &[b"k"], Wants::List, false);
        let c = b.register(0, &[b"k"], Wants::List, false);
        b.unregister(&a);
        let a2 = b.register(0, &[b"k"], Wants::List, true);
        b.signal(0, b"k", L);
        assert!(woken(&a2));
        assert!(!woken(&c));
        b.signal_all();
        assert!(woken(&a2));
    }

    #[test]
    fn a_write_wakes_the_first_client_waiting_for_that_type() {
        let b = Blocked::default();
        let z = b.register(0, &[b"k"], Wants::Zset, false);
        let l = b.register(0, &[b"k"], Wants::List, false);
        b.signal(0, b"k", L);
        assert!(woken(&l), "a push serves the list client behind a zset one");
        assert!(!woken(&z));
        b.signal(0, b"k", None);
        assert!(!woken(&z) && !woken(&l), "a string wakes nobody");
        b.unregister(&l);
        b.pass_on(&l);
        assert!(woken(&z), "the turn passes to every type");
    }
}
