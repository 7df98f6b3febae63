//! Hash values: a map from field to value under one key.
//!
//! Two representations, as in Redis. A small hash (at most
//! [`LISTPACK_MAX_ENTRIES`] fields, every field and value at most
//! [`LISTPACK_MAX_VALUE`] bytes) is a vector of pairs in insertion order:
//! `HGETALL` and `HSCAN` list its fields in the order Redis's listpack does,
//! and `OBJECT ENCODING` says `listpack`. A hash that outgrows either limit
//! becomes a B-tree ordered by (a fixed 64-bit hash of the field, the field)
//! and says `hashtable`; it does not shrink back while the server runs
//! (Redis converts back only when it reloads, and so does a snapshot load
//! here, since loading inserts field by field).
//!
//! The B-tree order is what `HSCAN` needs: its cursor is the next hash value
//! to visit, so a field present for the whole iteration is returned exactly
//! once however the hash changes in between (fields sharing a hash value
//! are always returned together). The hash function is fixed (FNV-1a with a
//! final mix), not seeded per process, so a cursor means the same on every
//! node of a cluster; a flood of colliding fields costs a B-tree nothing.
//!
//! A large hash also keeps its fields in a vector (each knows its slot), so
//! `HRANDFIELD` draws uniformly in O(log n); a removal moves the last slot
//! into the freed one.
//!
//! The value tracks its own heap size, so a write costs O(1) bookkeeping
//! however large the hash is.

use std::collections::BTreeMap;

use super::Blob;

/// Redis's `hash-max-listpack-entries` default (redis.conf and the built-in value).
pub const LISTPACK_MAX_ENTRIES: usize = 512;
/// Redis's `hash-max-listpack-value` default.
pub const LISTPACK_MAX_VALUE: usize = 64;

/// Approximate bytes of bookkeeping per field beyond the field and value
/// blobs: a vector slot when small; a B-tree slot, its hash and slot
/// number, and the random-access slot when large.
const SMALL_SLOT: usize = 2 * std::mem::size_of::<Blob>();
const LARGE_SLOT: usize = 3 * std::mem::size_of::<Blob>() + 8 + 4 + 8 + 16;

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
    Large(Large),
}

#[derive(Clone, Debug, Default)]
struct Large {
    /// (hash, field) -> (value, index in `slots`).
    map: BTreeMap<(u64, Blob), (Blob, u32)>,
    /// Every field once, for uniform random draws.
    slots: Vec<(u64, Blob)>,
}

impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}
impl Eq for HashValue {}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

/// The fixed field hash that orders large hashes and their scan cursor.
pub fn field_hash(field: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in field {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finalizer: FNV's low bits are weak on short inputs.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn fits_small(b: &[u8]) -> bool {
    b.len() <= LISTPACK_MAX_VALUE
}

impl HashValue {
    pub fn new() -> HashValue {
        HashValue::default()
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => v.len(),
            Repr::Large(l) => l.slots.len(),
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
            Repr::Large(l) => l
                .map
                .get(&(field_hash(field), Blob::new(field)))
                .map(|(v, _)| v),
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
        let Repr::Large(l) = &mut self.repr else {
            unreachable!("converted above")
        };
        let h = field_hash(field);
        let key = (h, Blob::new(field));
        if let Some((v, _)) = l.map.get_mut(&key) {
            self.heap = self.heap + value.heap_size() - v.heap_size();
            *v = value;
            return false;
        }
        self.heap += LARGE_SLOT + key.1.heap_size() + value.heap_size();
        l.slots.push(key.clone());
        l.map.insert(key, (value, (l.slots.len() - 1) as u32));
        true
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Small(v) => match v.iter().position(|(f, _)| f.as_slice() == field) {
                Some(i) => {
                    // Shifting keeps the listpack's order for the rest.
                    let (f, val) = v.remove(i);
                    self.heap -= SMALL_SLOT + f.heap_size() + val.heap_size();
                    true
                }
                None => false,
            },
            Repr::Large(l) => match l.map.remove_entry(&(field_hash(field), Blob::new(field))) {
                Some(((_, f), (val, slot))) => {
                    self.heap -= LARGE_SLOT + f.heap_size() + val.heap_size();
                    let slot = slot as usize;
                    l.slots.swap_remove(slot);
                    if let Some(moved) = l.slots.get(slot) {
                        if let Some((_, at)) = l.map.get_mut(moved) {
                            *at = slot as u32;
                        }
                    }
                    true
                }
                None => false,
            },
        }
    }

    /// Every field and value, in the order `HGETALL` returns them.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&Blob, &Blob)> + '_> {
        match &self.repr {
            Repr::Small(v) => Box::new(v.iter().map(|(f, v)| (f, v))),
            Repr::Large(l) => Box::new(l.map.iter().map(|((_, f), (v, _))| (f, v))),
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
            Repr::Large(l) => {
                let mut last: Option<u64> = None;
                for (seen, ((h, k), (val, _))) in
                    l.map.range((cursor, Blob::new(b""))..).enumerate()
                {
                    // Never split fields sharing a hash across two pages.
                    if seen >= count.max(1) && last != Some(*h) {
                        return *h;
                    }
                    f(k, val);
                    last = Some(*h);
                }
                0
            }
        }
    }

    /// A uniformly drawn field, given `r` drawn uniformly from u64
    /// (`HRANDFIELD`): O(1) for a small hash, O(log n) for a large one.
    pub fn random(&self, r: u64) -> Option<(&Blob, &Blob)> {
        let n = self.len() as u64;
        if n == 0 {
            return None;
        }
        let i = (r % n) as usize;
        match &self.repr {
            Repr::Small(v) => Some((&v[i].0, &v[i].1)),
            Repr::Large(l) => {
                let key = &l.slots[i];
                l.map.get(key).map(|(v, _)| (&key.1, v))
            }
        }
    }

    fn convert_to_large(&mut self) {
        let Repr::Small(v) = std::mem::take(&mut self.repr) else {
            return;
        };
        let n = v.len();
        let mut l = Large::default();
        for (f, val) in v {
            let key = (field_hash(&f), f);
            l.slots.push(key.clone());
            l.map.insert(key, (val, (l.slots.len() - 1) as u32));
        }
        self.heap = self.heap - n * SMALL_SLOT + n * LARGE_SLOT;
        self.repr = Repr::Large(l);
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
            _ => LARGE_SLOT,
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
        assert_eq!(field_hash(b"helios"), 0xc8ab28ce109295b1);
        assert_eq!(field_hash(b""), 0xf52a15e9a9b5e89b);
        assert_ne!(field_hash(b"a"), field_hash(b"b"));
    }
}
