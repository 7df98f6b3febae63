//! Hash values: a map from field to value under one key.
//!
//! Two representations, as in Redis. A small hash (at most
//! [`LISTPACK_MAX_ENTRIES`] fields, every field and value at most
//! [`LISTPACK_MAX_VALUE`] bytes) is a vector of pairs in insertion order:
//! `HGETALL` and `HSCAN` list its fields in the order Redis's listpack does,
//! and `OBJECT ENCODING` says `listpack`. A hash that outgrows either limit
//! becomes a [`HashedTable`] (ordered by a fixed hash of the field, so
//! `HSCAN` cursors survive writes, with uniform random draws) and says
//! `hashtable`; it does not shrink back. (Redis converts back when it
//! reloads; Helios restores the representation a snapshot recorded, so a
//! node restored from a snapshot lists fields in the same order as the
//! node that wrote it, which replicas reading the same data rely on.)
//!
//! The value tracks its own heap size, so a write costs O(1) bookkeeping
//! however large the hash is.

use super::table::{HashedTable, SLOT_OVERHEAD};
use super::Blob;

/// Redis's `hash-max-listpack-entries` default (redis.conf and the built-in value).
pub const LISTPACK_MAX_ENTRIES: usize = 512;
/// Redis's `hash-max-listpack-value` default.
pub const LISTPACK_MAX_VALUE: usize = 64;

/// Bytes of bookkeeping per field of a small hash beyond its blobs.
const SMALL_SLOT: usize = 2 * std::mem::size_of::<Blob>();

/// A hash value. Two hashes are equal when they hold the same pairs,
/// whatever their representation.
#[derive(Clone, Debug, Default)]
pub struct HashValue {
    repr: Repr,
    heap: usize,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Vec<(Blob, Blob)>),
    Large(HashedTable<Blob>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}
impl Eq for HashValue {}

fn fits_small(b: &[u8]) -> bool {
    b.len() <= LISTPACK_MAX_VALUE
}

impl HashValue {
    pub fn new() -> HashValue {
        HashValue::default()
    }

    /// An empty hash already in the `hashtable` representation (snapshot
    /// loading restores the representation it recorded).
    pub fn new_large() -> HashValue {
        HashValue {
            repr: Repr::Large(HashedTable::default()),
            heap: 0,
        }
    }

    /// True in the `hashtable` representation.
    pub fn is_large(&self) -> bool {
        matches!(self.repr, Repr::Large(_))
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => v.len(),
            Repr::Large(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Small(_) => "listpack",
            Repr::Large(_) => "hashtable",
        }
    }

    /// Heap bytes held by the fields and values, for `used_memory`.
    pub fn heap_size(&self) -> usize {
        self.heap
    }

    pub fn get(&self, field: &[u8]) -> Option<&Blob> {
        match &self.repr {
            Repr::Small(v) => v
                .iter()
                .find(|(f, _)| f.as_slice() == field)
                .map(|(_, v)| v),
            Repr::Large(t) => t.get(field),
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: Blob) -> bool {
        if let Repr::Small(v) = &mut self.repr {
            if let Some(slot) = v.iter_mut().find(|(f, _)| f.as_slice() == field) {
                if fits_small(&value) {
                    self.heap = self.heap + value.heap_size() - slot.1.heap_size();
                    slot.1 = value;
                    return false;
                }
            } else if fits_small(field) && fits_small(&value) && v.len() < LISTPACK_MAX_ENTRIES {
                let field = Blob::new(field);
                self.heap += SMALL_SLOT + field.heap_size() + value.heap_size();
                v.push((field, value));
                return true;
            }
            self.convert_to_large();
        }
        let Repr::Large(t) = &mut self.repr else {
            unreachable!("converted above")
        };
        if let Some(v) = t.get_mut(field) {
            self.heap = self.heap + value.heap_size() - v.heap_size();
            *v = value;
            return false;
        }
        let field = Blob::new(field);
        self.heap += SLOT_OVERHEAD + field.heap_size() + value.heap_size();
        t.insert_new(field, value);
        true
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let removed = match &mut self.repr {
            Repr::Small(v) => v
                .iter()
                .position(|(f, _)| f.as_slice() == field)
                // Shifting keeps the listpack's order for the rest.
                .map(|i| (SMALL_SLOT, v.remove(i))),
            Repr::Large(t) => t.remove(field).map(|pair| (SLOT_OVERHEAD, pair)),
        };
        match removed {
            Some((slot, (f, val))) => {
                self.heap -= slot + f.heap_size() + val.heap_size();
                true
            }
            None => false,
        }
    }

    /// Every field and value, in the order `HGETALL` returns them.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&Blob, &Blob)> + '_> {
        match &self.repr {
            Repr::Small(v) => Box::new(v.iter().map(|(f, v)| (f, v))),
            Repr::Large(t) => Box::new(t.iter()),
        }
    }

    /// Every field and value in the order that rebuilds this exact value
    /// when inserted (snapshots).
    pub fn iter_for_snapshot(&self) -> Box<dyn Iterator<Item = (&Blob, &Blob)> + '_> {
        match &self.repr {
            Repr::Small(v) => Box::new(v.iter().map(|(f, v)| (f, v))),
            Repr::Large(t) => Box::new(t.iter_slots()),
        }
    }

    /// One `HSCAN` step from `cursor`: calls `f` for about `count` fields
    /// and returns the next cursor (0 when done). A small hash is returned
    /// whole in one step, as Redis does for a listpack.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a Blob, &'a Blob),
    ) -> u64 {
        match &self.repr {
            Repr::Small(v) => {
                for (k, val) in v {
                    f(k, val);
                }
                0
            }
            Repr::Large(t) => t.scan(cursor, count, f),
        }
    }

    /// A uniformly drawn field, given `r` drawn uniformly from u64
    /// (`HRANDFIELD`): O(1) for a small hash, O(log n) for a large one.
    pub fn random(&self, r: u64) -> Option<(&Blob, &Blob)> {
        match &self.repr {
            Repr::Small(v) if v.is_empty() => None,
            Repr::Small(v) => {
                let (f, val) = &v[(r % v.len() as u64) as usize];
                Some((f, val))
            }
            Repr::Large(t) => t.random(r),
        }
    }

    fn convert_to_large(&mut self) {
        let Repr::Small(v) = std::mem::take(&mut self.repr) else {
            return;
        };
        let n = v.len();
        let mut t = HashedTable::default();
        for (f, val) in v {
            t.insert_new(f, val);
        }
        self.heap = self.heap - n * SMALL_SLOT + n * SLOT_OVERHEAD;
        self.repr = Repr::Large(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Blob {
        Blob::new(s.as_bytes())
    }

    fn fields(h: &HashValue) -> Vec<String> {
        h.iter()
            .map(|(f, _)| String::from_utf8_lossy(f).into_owned())
            .collect()
    }

    /// Heap size recomputed from scratch, to check the running count.
    fn recount(h: &HashValue) -> usize {
        let slot = match h.encoding() {
            "listpack" => SMALL_SLOT,
            _ => SLOT_OVERHEAD,
        };
        h.iter()
            .map(|(f, v)| slot + f.heap_size() + v.heap_size())
            .sum()
    }

    #[test]
    fn small_hash_keeps_insertion_order_through_deletes_and_updates() {
        let mut h = HashValue::new();
        for f in ["c", "a", "b", "d"] {
            assert!(h.insert(f.as_bytes(), b("1")));
        }
        assert!(!h.insert(b"a", b("2")), "an update is not new");
        assert!(h.remove(b"c"));
        assert!(!h.remove(b"c"));
        assert!(h.insert(b"c", b("3")));
        assert_eq!(fields(&h), ["a", "b", "d", "c"]);
        assert_eq!(h.get(b"a"), Some(&b("2")));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.heap_size(), recount(&h));
    }

    #[test]
    fn converts_past_either_limit_and_stays_converted() {
        let mut h = HashValue::new();
        for i in 0..LISTPACK_MAX_ENTRIES {
            h.insert(format!("f{i}").as_bytes(), b("v"));
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"one-more", b("v"));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), LISTPACK_MAX_ENTRIES + 1);
        for i in 0..LISTPACK_MAX_ENTRIES {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        assert_eq!(
            h.encoding(),
            "hashtable",
            "no conversion back while running"
        );
        assert_eq!(h.heap_size(), recount(&h));

        let long = "x".repeat(LISTPACK_MAX_VALUE + 1);
        let mut by_value = HashValue::new();
        by_value.insert(b"f", b("short"));
        by_value.insert(b"f", b(&long));
        assert_eq!(by_value.encoding(), "hashtable");
        assert_eq!(by_value.get(b"f"), Some(&b(&long)));
        assert_eq!(by_value.len(), 1);
        let mut by_field = HashValue::new();
        by_field.insert(long.as_bytes(), b("v"));
        assert_eq!(by_field.encoding(), "hashtable");
        let mut at_limit = HashValue::new();
        at_limit.insert("y".repeat(LISTPACK_MAX_VALUE).as_bytes(), b("v"));
        assert_eq!(at_limit.encoding(), "listpack");
        for h in [&by_value, &by_field, &at_limit] {
            assert_eq!(h.heap_size(), recount(h));
        }
    }

    #[test]
    fn scan_returns_every_stable_field_exactly_once_while_the_hash_changes() {
        let mut h = HashValue::new();
        for i in 0..2000 {
            h.insert(format!("stable{i}").as_bytes(), b("v"));
        }
        let mut seen = std::collections::HashMap::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = h.scan(cursor, 7, |f, _| {
                *seen.entry(f.to_vec()).or_insert(0) += 1;
            });
            // Churn between calls: add and remove other fields.
            h.insert(format!("churn{step}").as_bytes(), b("v"));
            if step >= 3 {
                h.remove(format!("churn{}", step - 3).as_bytes());
            }
            step += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..2000 {
            assert_eq!(
                seen.get(format!("stable{i}").as_bytes()),
                Some(&1),
                "stable{i}"
            );
        }
        assert!(
            step > 2000 / 7 / 2,
            "COUNT is roughly honoured: {step} calls"
        );
    }

    #[test]
    fn small_hash_scans_whole_in_one_call() {
        let mut h = HashValue::new();
        for f in ["a", "b", "c"] {
            h.insert(f.as_bytes(), b("v"));
        }
        let mut n = 0;
        assert_eq!(h.scan(12345, 1, |_, _| n += 1), 0);
        assert_eq!(n, 3);
    }

    #[test]
    fn random_draws_reach_every_field() {
        for size in [3usize, 600] {
            let mut h = HashValue::new();
            for i in 0..size {
                h.insert(format!("f{i}").as_bytes(), b("v"));
            }
            let mut hit = std::collections::HashSet::new();
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..size * 200 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                hit.insert(h.random(state).unwrap().0.to_vec());
            }
            assert_eq!(hit.len(), size, "size {size}");
        }
        assert!(HashValue::new().random(7).is_none());
    }

    #[test]
    fn randomized_operations_match_a_model() {
        let mut h = HashValue::new();
        let mut model = std::collections::BTreeMap::new();
        let mut state = 1u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for step in 0..20_000 {
            let field = format!("f{}", next(900)).into_bytes();
            if next(3) == 0 {
                assert_eq!(h.remove(&field), model.remove(&field).is_some());
            } else {
                let value = format!("v{step}").into_bytes();
                assert_eq!(
                    h.insert(&field, Blob::new(&value)),
                    model.insert(field, value).is_none()
                );
            }
            if step % 1000 == 999 {
                assert_eq!(h.len(), model.len());
                for (f, v) in &model {
                    assert_eq!(h.get(f).map(|b| b.to_vec()), Some(v.clone()));
                }
                // Every slot holds a distinct live field.
                let drawn: std::collections::BTreeSet<Vec<u8>> = (0..h.len() as u64)
                    .map(|i| h.random(i).unwrap().0.to_vec())
                    .collect();
                assert_eq!(drawn.len(), model.len());
                assert_eq!(h.heap_size(), recount(&h));
            }
        }
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn field_hash_is_fixed() {
        // Cursors must mean the same on every node and after a restart.
        // Pinned values (computed independently): changing the function
        // would break cursors handed out by an older version.
        assert_eq!(
            crate::atlas::table::member_hash(b"helios"),
            0xc8ab28ce109295b1
        );
        assert_eq!(crate::atlas::table::member_hash(b""), 0xf52a15e9a9b5e89b);
        assert_ne!(
            crate::atlas::table::member_hash(b"a"),
            crate::atlas::table::member_hash(b"b")
        );
    }
}
