//! Atlas, the in-memory keyspace.
//!
//! Atlas owns the data: sixteen numbered databases, each a map from key to
//! [`Entry`] (value, absolute expiry, last access). It knows nothing about
//! the protocol, persistence or replication; commands drive it through the
//! [`Db`] methods, which keep the key, expiry and memory counters exact.
//!
//! # Layout and snapshots
//!
//! A database is split into [`SHARDS`] shards, each behind an `Arc`; a shard
//! is a dense vector of entries with a hash index of their positions.
//! Taking a snapshot clones the `Arc`s (microseconds, under the server's
//! lock); afterwards the first write to a shard that the snapshot still
//! holds clones that one shard (about a thousand entries for a million-key
//! database; values are reference-counted, so no value bytes are copied).
//! This is copy-on-write at shard granularity: the point-in-time view the
//! snapshot writer serialises in the background never blocks writers for
//! longer than one shard clone.
//!
//! Sharding also gives `SCAN` a stable cursor: the cursor is the next shard
//! index, and every call returns whole shards, so a key present for the whole
//! iteration is returned at least once even if tables resize in between.
//!
//! # Time
//!
//! Every operation takes `now` in Unix milliseconds from its caller instead of
//! reading a clock, so replaying a log is deterministic. `now == 0` means
//! "loading": nothing is considered expired (as Redis does while loading its
//! AOF, since a key's expiry must be judged by the time a later command ran,
//! not by the time of the replay).

pub mod blob;
pub mod glob;
pub mod hash;
pub mod list;
pub mod set;
pub mod table;
pub mod zset;

pub use blob::Blob;
pub use hash::HashValue;
pub use list::ListValue;
pub use set::SetValue;
pub use zset::ZsetValue;

use std::sync::Arc;

use hashbrown::HashTable;

/// Hash tables per database. A power of two.
pub const SHARDS: usize = 1024;

/// A stored value. Collections sit behind an `Arc`: cloning a shard for a
/// snapshot shares them, and the first write after that copies the one
/// collection it touches (`Arc::make_mut`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(Blob),
    Hash(Arc<HashValue>),
    Set(Arc<SetValue>),
    List(Arc<ListValue>),
    Zset(Arc<ZsetValue>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::Zset(_) => "zset",
        }
    }

    /// The name `OBJECT ENCODING` reports, by Redis's rules for strings:
    /// `int` for a canonical 64-bit integer, `embstr` up to 44 bytes,
    /// `raw` above.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(b) => {
                if b.len() <= 20 && crate::resp::parse::parse_i64(b).is_some() {
                    "int"
                } else if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Zset(z) => z.encoding(),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.heap_size(),
            // Arc counters + the value itself + what it owns.
            Value::Hash(h) => 16 + std::mem::size_of::<HashValue>() + h.heap_size(),
            Value::Set(s) => 16 + std::mem::size_of::<SetValue>() + s.heap_size(),
            Value::List(l) => 16 + std::mem::size_of::<ListValue>() + l.heap_size(),
            Value::Zset(z) => 16 + std::mem::size_of::<ZsetValue>() + z.heap_size(),
        }
    }
}

/// One key's slot.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Blob,
    pub value: Value,
    /// Absolute expiry in Unix ms; 0 when the key is persistent.
    pub expire_at: u64,
    /// Last access, in seconds of the server's LRU clock (`OBJECT IDLETIME`).
    pub access: u32,
    /// How the string reports its encoding; fits in the entry's padding.
    pub enc: StrEncoding,
}

/// What `OBJECT ENCODING` reports for a string beyond what its bytes say.
/// Redis keeps a string it modified in place (`APPEND`, `SETRANGE`) as
/// `raw`, and never integer-encodes a number it formatted itself
/// (`INCRBYFLOAT`); tests and tools that check encodings see the same here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StrEncoding {
    /// Decided by the bytes: `int`, `embstr` up to 44 bytes, else `raw`.
    #[default]
    Auto,
    /// Always `raw`.
    Raw,
    /// `embstr` up to 44 bytes, else `raw`; never `int`.
    NoInt,
}

impl Entry {
    /// Redis's rule: a key expires strictly after its deadline.
    pub fn is_expired(&self, now: u64) -> bool {
        now != 0 && self.expire_at != 0 && now > self.expire_at
    }

    fn heap_size(&self) -> usize {
        self.key.heap_size() + self.value.heap_size()
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match (&self.value, self.enc) {
            (Value::Str(_), StrEncoding::Auto)
            | (Value::Hash(_) | Value::Set(_) | Value::List(_) | Value::Zset(_), _) => {
                self.value.encoding()
            }
            (Value::Str(_), StrEncoding::Raw) => "raw",
            (Value::Str(b), StrEncoding::NoInt) => {
                if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
        }
    }
}

/// The LRU clock: seconds, wrapping at 2^32.
pub fn lru_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// One hash shard: a dense vector of entries plus a hash index of their
/// positions. Keeping entries dense (instead of inside the hash table)
/// means their memory grows in 25% steps rather than doubling with the
/// table, the index costs 5 bytes a slot instead of 65, and a random entry
/// (`RANDOMKEY`) is one array access.
#[derive(Clone, Default)]
pub struct Shard {
    index: HashTable<u32>,
    entries: Vec<Entry>,
    expires: usize,
}

impl Shard {
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, h: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(h, |&i| entries[i as usize].key.as_slice() == key)
            .map(|&i| i as usize)
    }

    fn get(&self, h: u64, key: &[u8]) -> Option<&Entry> {
        self.find(h, key).map(|i| &self.entries[i])
    }

    fn get_mut(&mut self, h: u64, key: &[u8]) -> Option<&mut Entry> {
        let i = self.find(h, key)?;
        Some(&mut self.entries[i])
    }

    /// Adds an entry whose key is known to be absent.
    fn push(&mut self, h: u64, e: Entry, hasher: &ahash::RandomState) {
        if self.entries.len() == self.entries.capacity() {
            let len = self.entries.len();
            self.entries.reserve_exact((len / 4).max(4));
        }
        let at = self.entries.len() as u32;
        self.entries.push(e);
        let Shard { index, entries, .. } = self;
        index.insert_unique(h, at, |&i| {
            hasher.hash_one(entries[i as usize].key.as_slice())
        });
    }

    /// Removes the entry for `key`; the last entry moves into its place.
    fn remove(&mut self, h: u64, key: &[u8], hasher: &ahash::RandomState) -> Option<Entry> {
        let entries = &self.entries;
        let Ok(slot) = self
            .index
            .find_entry(h, |&i| entries[i as usize].key.as_slice() == key)
        else {
            return None;
        };
        let (at, _) = slot.remove();
        let at = at as usize;
        let last = self.entries.len() - 1;
        let old = self.entries.swap_remove(at);
        if at != last {
            let moved = hasher.hash_one(self.entries[at].key.as_slice());
            if let Some(i) = self.index.find_mut(moved, |&i| i as usize == last) {
                *i = at as u32;
            }
        }
        Some(old)
    }

    /// Bytes of the index and entry storage.
    fn slot_bytes(&self) -> usize {
        self.index.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.entries.capacity() * std::mem::size_of::<Entry>()
    }
}

/// One numbered database.
pub struct Db {
    shards: Vec<Arc<Shard>>,
    hasher: ahash::RandomState,
    keys: usize,
    expires: usize,
    heap: usize,
    /// Sum of every shard's [`Shard::slot_bytes`], kept as shards change, so
    /// `used_memory` is O(1) (`maxmemory` asks it before every write).
    slots: usize,
    /// Next shard the active-expiry sweep visits.
    sweep_cursor: usize,
    /// Keys deleted because they expired (lazily or by the sweep).
    pub expired: u64,
    /// Read lookups that found / did not find their key.
    pub hits: u64,
    pub misses: u64,
    /// When set, lookups leave the access time alone (`CLIENT NO-TOUCH`).
    pub no_touch: bool,
    /// See [`Keyspace::set_lazy_delete`].
    lazy_delete: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("keys", &self.keys)
            .field("expires", &self.expires)
            .finish()
    }
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

/// Mutable access to an entry. Dropping it brings the database's memory and
/// expiry counters up to date with whatever the caller changed.
pub struct EntryMut<'a> {
    pub entry: &'a mut Entry,
    heap: &'a mut usize,
    db_expires: &'a mut usize,
    shard_expires: &'a mut usize,
    heap_before: usize,
    had_expire: bool,
}

impl std::ops::Deref for EntryMut<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        self.entry
    }
}
impl std::ops::DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut Entry {
        self.entry
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        let after = self.entry.heap_size();
        *self.heap = (*self.heap + after).saturating_sub(self.heap_before);
        let has = self.entry.expire_at != 0;
        if has != self.had_expire {
            if has {
                *self.db_expires += 1;
                *self.shard_expires += 1;
            } else {
                *self.db_expires -= 1;
                *self.shard_expires -= 1;
            }
        }
    }
}

impl Db {
    pub fn new() -> Db {
        Db {
            shards: (0..SHARDS).map(|_| Arc::new(Shard::default())).collect(),
            hasher: ahash::RandomState::new(),
            keys: 0,
            expires: 0,
            heap: 0,
            slots: 0,
            sweep_cursor: 0,
            expired: 0,
            hits: 0,
            misses: 0,
            no_touch: false,
            lazy_delete: true,
        }
    }

    fn locate(&self, key: &[u8]) -> (u64, usize) {
        let h = self.hasher.hash_one(key);
        // Middle bits: hashbrown uses the low bits for the bucket and the
        // top seven as tags, so these leave both well distributed.
        (h, ((h >> 40) as usize) & (SHARDS - 1))
    }

    pub fn len(&self) -> usize {
        self.keys
    }
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }
    pub fn expires_len(&self) -> usize {
        self.expires
    }

    /// Estimated bytes used: table slots plus the heap owned by entries.
    pub fn used_memory(&self) -> usize {
        self.slots + self.heap
    }

    /// Brings `slots` up to date after shard `s` changed (it was `before`).
    fn resized(&mut self, s: usize, before: usize) {
        self.slots = self.slots + self.shards[s].slot_bytes() - before;
    }

    /// Looks a key up without side effects; expired keys are invisible.
    pub fn peek(&self, key: &[u8], now: u64) -> Option<&Entry> {
        let (h, s) = self.locate(key);
        self.shards[s].get(h, key).filter(|e| !e.is_expired(now))
    }

    /// Looks a key up for reading: an expired key is deleted on the spot
    /// (lazy expiry, reported through `expired`), and the access time is
    /// refreshed unless a snapshot shares the shard.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let (h, s) = self.locate(key);
        let Some(found) = self.shards[s].get(h, key) else {
            self.misses += 1;
            return None;
        };
        if found.is_expired(now) {
            if self.lazy_delete {
                self.remove(key);
                self.expired += 1;
            }
            self.misses += 1;
            return None;
        }
        self.hits += 1;
        if !self.no_touch && Arc::get_mut(&mut self.shards[s]).is_some() {
            let shard = Arc::get_mut(&mut self.shards[s])?;
            let e = shard.get_mut(h, key)?;
            e.access = lru_clock(now);
            return Some(e);
        }
        self.shards[s].get(h, key)
    }

    /// Looks a key up for writing; expired keys are deleted first.
    pub fn get_mut(&mut self, key: &[u8], now: u64) -> Option<EntryMut<'_>> {
        let (h, s) = self.locate(key);
        let is_expired = self.shards[s].get(h, key)?.is_expired(now);
        if is_expired {
            self.remove(key);
            self.expired += 1;
            return None;
        }
        if Arc::get_mut(&mut self.shards[s]).is_none() {
            // A snapshot shares the shard: this write copies it.
            let before = self.shards[s].slot_bytes();
            Arc::make_mut(&mut self.shards[s]);
            self.resized(s, before);
        }
        let shard = Arc::make_mut(&mut self.shards[s]);
        let i = shard.find(h, key)?;
        let entry = &mut shard.entries[i];
        if !self.no_touch {
            entry.access = lru_clock(now);
        }
        Some(EntryMut {
            heap_before: entry.heap_size(),
            had_expire: entry.expire_at != 0,
            entry,
            heap: &mut self.heap,
            db_expires: &mut self.expires,
            shard_expires: &mut shard.expires,
        })
    }

    /// Inserts or replaces a key. Returns the previous entry, if any
    /// (whether or not it had expired).
    pub fn insert(&mut self, key: &[u8], value: Value, expire_at: u64, now: u64) -> Option<Entry> {
        let (h, s) = self.locate(key);
        let before = self.shards[s].slot_bytes();
        let old = self.insert_in(h, s, key, value, expire_at, now);
        self.resized(s, before);
        old
    }

    fn insert_in(
        &mut self,
        h: u64,
        s: usize,
        key: &[u8],
        value: Value,
        expire_at: u64,
        now: u64,
    ) -> Option<Entry> {
        let hasher = self.hasher.clone();
        let shard = Arc::make_mut(&mut self.shards[s]);
        let new = Entry {
            key: Blob::new(key),
            value,
            expire_at,
            access: lru_clock(now),
            enc: StrEncoding::Auto,
        };
        self.heap += new.heap_size();
        if new.expire_at != 0 {
            self.expires += 1;
            shard.expires += 1;
        }
        match shard.get_mut(h, key) {
            Some(slot) => {
                let old = std::mem::replace(slot, new);
                self.heap -= old.heap_size();
                if old.expire_at != 0 {
                    self.expires -= 1;
                    shard.expires -= 1;
                }
                Some(old)
            }
            None => {
                shard.push(h, new, &hasher);
                self.keys += 1;
                None
            }
        }
    }

    /// Removes a key, expired or not.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (h, s) = self.locate(key);
        // Avoid cloning a snapshot-shared shard for a miss.
        self.shards[s].find(h, key)?;
        let before = self.shards[s].slot_bytes();
        let shard = Arc::make_mut(&mut self.shards[s]);
        let old = shard.remove(h, key, &self.hasher)?;
        if old.expire_at != 0 {
            self.expires -= 1;
            shard.expires -= 1;
        }
        self.keys -= 1;
        self.heap -= old.heap_size();
        self.resized(s, before);
        Some(old)
    }

    /// Removes every key. The old tables are returned so a caller can drop
    /// them off the hot path (`FLUSHALL ASYNC`).
    pub fn clear(&mut self) -> Vec<Arc<Shard>> {
        self.keys = 0;
        self.slots = 0;
        self.expires = 0;
        self.heap = 0;
        std::mem::replace(
            &mut self.shards,
            (0..SHARDS).map(|_| Arc::new(Shard::default())).collect(),
        )
    }

    /// A point-in-time view for a snapshot: shares every shard.
    pub fn view(&self) -> Vec<Arc<Shard>> {
        self.shards.clone()
    }

    /// Visits whole shards from `cursor` until at least `count` entries were
    /// offered to `f`. Returns the next cursor (0 when done).
    pub fn scan(&self, cursor: usize, count: usize, mut f: impl FnMut(&Entry)) -> usize {
        let mut seen = 0;
        let mut s = cursor;
        while s < SHARDS {
            for e in self.shards[s].iter() {
                f(e);
                seen += 1;
            }
            s += 1;
            if seen >= count {
                break;
            }
        }
        if s >= SHARDS {
            0
        } else {
            s
        }
    }

    /// Every live entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// A random key that has not expired (`RANDOMKEY`), deleting expired
    /// ones it comes across.
    pub fn random_key(&mut self, now: u64) -> Option<Blob> {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            if self.keys == 0 {
                return None;
            }
            let start = rng.gen_range(0..SHARDS);
            let shard = (0..SHARDS)
                .map(|i| (start + i) & (SHARDS - 1))
                .find(|&i| !self.shards[i].is_empty())?;
            let entries = &self.shards[shard].entries;
            let e = &entries[rng.gen_range(0..entries.len())];
            if !e.is_expired(now) {
                return Some(e.key.clone());
            }
            if self.lazy_delete {
                let key = e.key.clone();
                self.remove(&key);
                self.expired += 1;
            }
        }
        None
    }

    /// Keys present but expired at `now` (visits only shards with deadlines).
    pub fn count_expired(&self, now: u64) -> usize {
        if self.expires == 0 {
            return 0;
        }
        self.shards
            .iter()
            .filter(|s| s.expires > 0)
            .map(|s| s.iter().filter(|e| e.is_expired(now)).count())
            .sum()
    }

    /// Raft-mode active expiry: like [`Db::sweep_expired`] but only
    /// reports up to `max_keys` expired keys; deleting them is a replicated
    /// write.
    pub fn find_expired(&mut self, now: u64, max_shards: usize, max_keys: usize) -> Vec<Blob> {
        let mut found = Vec::new();
        if self.expires == 0 {
            return found;
        }
        let mut visited = 0;
        for _ in 0..SHARDS {
            let s = self.sweep_cursor;
            self.sweep_cursor = (self.sweep_cursor + 1) & (SHARDS - 1);
            if self.shards[s].expires == 0 {
                continue;
            }
            visited += 1;
            found.extend(
                self.shards[s]
                    .iter()
                    .filter(|e| e.is_expired(now))
                    .map(|e| e.key.clone()),
            );
            if visited >= max_shards || found.len() >= max_keys {
                break;
            }
        }
        found.truncate(max_keys);
        found
    }

    /// Active expiry: visits up to `max_shards` shards that hold keys with a
    /// deadline and deletes the expired ones. Returns the deleted keys.
    pub fn sweep_expired(&mut self, now: u64, max_shards: usize) -> Vec<Blob> {
        let removed = self.find_expired(now, max_shards, usize::MAX);
        for key in &removed {
            self.remove(key);
            self.expired += 1;
        }
        removed
    }
}

/// All databases, plus the counters `INFO keyspace`/`stats` report.
#[derive(Debug)]
pub struct Keyspace {
    pub dbs: Vec<Db>,
}

impl Keyspace {
    pub fn new(databases: usize) -> Keyspace {
        Keyspace {
            dbs: (0..databases).map(|_| Db::new()).collect(),
        }
    }

    pub fn used_memory(&self) -> usize {
        self.dbs.iter().map(Db::used_memory).sum()
    }

    /// Whether a read that finds an expired key deletes it. In raft mode
    /// local reads only hide expired keys: deleting is a write, which must
    /// happen in log order on every node (apply, with the leader's clock),
    /// or a node's keyspace would drift from the others.
    pub fn set_lazy_delete(&mut self, on: bool) {
        if self.dbs.first().is_some_and(|d| d.lazy_delete != on) {
            for db in &mut self.dbs {
                db.lazy_delete = on;
            }
        }
    }

    /// Whether lookups update access times; set per command from the
    /// client's `CLIENT NO-TOUCH` mode.
    pub fn set_no_touch(&mut self, on: bool) {
        if self.dbs.first().is_some_and(|d| d.no_touch != on) {
            for db in &mut self.dbs {
                db.no_touch = on;
            }
        }
    }

    /// (expired keys, keyspace hits, keyspace misses) over all databases.
    pub fn counters(&self) -> (u64, u64, u64) {
        self.dbs.iter().fold((0, 0, 0), |(e, h, m), d| {
            (e + d.expired, h + d.hits, m + d.misses)
        })
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(Db::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(Blob::new(v.as_bytes()))
    }

    #[test]
    fn entry_is_64_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
    }

    #[test]
    fn insert_get_remove_keep_counters() {
        let mut db = Db::new();
        assert!(db.insert(b"a", s("1"), 0, 1).is_none());
        assert!(db.insert(b"b", s("2"), 500, 1).is_none());
        assert_eq!((db.len(), db.expires_len()), (2, 1));
        assert!(db.insert(b"b", s("3"), 0, 1).is_some());
        assert_eq!((db.len(), db.expires_len()), (2, 0));
        assert_eq!(db.get(b"b", 2).unwrap().value, s("3"));
        assert!(db.remove(b"a").is_some());
        assert!(db.remove(b"a").is_none());
        assert_eq!(db.len(), 1);
    }

    #[test]
    fn removals_keep_the_shard_index_consistent() {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let mut db = Db::new();
        let keys: Vec<String> = (0..20_000).map(|i| format!("key:{i}")).collect();
        for k in &keys {
            db.insert(k.as_bytes(), s(k), 0, 1);
        }
        let mut gone: Vec<&String> = keys.iter().step_by(3).collect();
        gone.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
        for k in &gone {
            assert_eq!(db.remove(k.as_bytes()).unwrap().value, s(k));
        }
        for (i, k) in keys.iter().enumerate() {
            let found = db.peek(k.as_bytes(), 1).map(|e| e.value.clone());
            if i % 3 == 0 {
                assert!(found.is_none(), "{k} was removed");
            } else {
                assert_eq!(found, Some(s(k)), "{k} survives the moves");
            }
        }
        assert_eq!(db.len(), keys.len() - gone.len());
        assert_eq!(db.iter().count(), db.len());
    }

    #[test]
    fn lazy_expiry_is_strictly_after_deadline() {
        let mut db = Db::new();
        db.insert(b"k", s("v"), 1000, 1);
        assert!(db.get(b"k", 1000).is_some());
        assert!(db.peek(b"k", 1001).is_none());
        assert!(db.get(b"k", 0).is_some(), "now=0 (loading) never expires");
        assert!(db.get(b"k", 1001).is_none());
        assert_eq!((db.len(), db.expires_len(), db.expired), (0, 0, 1));
    }

    #[test]
    fn entry_mut_updates_expiry_and_memory() {
        let mut db = Db::new();
        db.insert(b"k", s("short"), 0, 1);
        let base = db.heap;
        {
            let mut e = db.get_mut(b"k", 1).unwrap();
            e.expire_at = 99;
            let Value::Str(b) = &mut e.value else {
                panic!("a string")
            };
            b.append(&[b'x'; 100]);
        }
        assert_eq!(db.expires_len(), 1);
        assert!(db.heap > base + 100);
        {
            let mut e = db.get_mut(b"k", 1).unwrap();
            e.expire_at = 0;
            e.value = s("tiny");
        }
        assert_eq!((db.expires_len(), db.heap), (0, 0));
    }

    #[test]
    fn used_memory_is_kept_as_shards_change() {
        let full = |db: &Db| db.shards.iter().map(|s| s.slot_bytes()).sum::<usize>();
        let mut db = Db::new();
        for i in 0..20_000 {
            db.insert(format!("k{i}").as_bytes(), s("v"), 0, 1);
        }
        assert_eq!(db.slots, full(&db));
        // Writes to shards a snapshot shares copy them.
        let view = db.view();
        for i in (0..20_000).step_by(3) {
            db.remove(format!("k{i}").as_bytes());
        }
        for i in (1..20_000).step_by(7) {
            db.get_mut(format!("k{i}").as_bytes(), 1);
        }
        drop(view);
        assert_eq!(db.slots, full(&db));
        assert_eq!(db.used_memory(), full(&db) + db.heap);
        db.clear();
        assert_eq!((db.slots, full(&db)), (0, 0));
    }

    #[test]
    fn snapshot_view_is_isolated_from_later_writes() {
        let mut db = Db::new();
        for i in 0..5000 {
            db.insert(format!("k{i}").as_bytes(), s("old"), 0, 1);
        }
        let view = db.view();
        for i in 0..5000 {
            db.insert(format!("k{i}").as_bytes(), s("new"), 0, 1);
        }
        db.insert(b"extra", s("x"), 0, 1);
        let in_view: usize = view.iter().map(|s| s.len()).sum();
        assert_eq!(in_view, 5000);
        assert!(view
            .iter()
            .flat_map(|s| s.iter())
            .all(|e| e.value == s("old")));
        assert_eq!(db.len(), 5001);
    }

    #[test]
    fn scan_visits_every_key_once() {
        let mut db = Db::new();
        for i in 0..3000 {
            db.insert(format!("k{i}").as_bytes(), s("v"), 0, 1);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = db.scan(cursor, 10, |e| assert!(seen.insert(e.key.to_vec())));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 3000);
    }

    #[test]
    fn sweep_removes_only_expired_keys() {
        let mut db = Db::new();
        for i in 0..2000u64 {
            let at = if i % 2 == 0 { 100 } else { 0 };
            db.insert(format!("k{i}").as_bytes(), s("v"), at, 1);
        }
        db.insert(b"later", s("v"), 10_000, 1);
        let mut removed = 0;
        for _ in 0..10 {
            removed += db.sweep_expired(200, SHARDS).len();
        }
        assert_eq!(removed, 1000);
        assert_eq!((db.len(), db.expires_len()), (1001, 1));
    }

    #[test]
    fn random_key_skips_expired() {
        let mut db = Db::new();
        assert!(db.random_key(1).is_none());
        db.insert(b"dead", s("v"), 5, 1);
        db.insert(b"live", s("v"), 0, 1);
        for _ in 0..20 {
            assert_eq!(&*db.random_key(10).unwrap(), b"live");
        }
    }
}
