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
//! The value tracks its own heap size, so a write costs O(1) bookkeeping
//! however large the hash is.

use std::collections::BTreeMap;

use super::Blob;

/// Redis's `hash-max-listpack-entries` default (redis.conf and the built-in value).
pub const LISTPACK_MAX_ENTRIES: usize = 512;
/// Redis's `hash-max-listpack-value` default.
pub const LISTPACK_MAX_VALUE: usize = 64;

/// Approximate bytes of bookkeeping per field beyond the field and value
/// blobs: a vector slot when small, a B-tree slot and hash when large.
const SMALL_SLOT: usize = 2 * std::mem::size_of::<Blob>();
const LARGE_SLOT: usize = 2 * std::mem::size_of::<Blob>() + 8 + 16;

/// A hash value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HashValue {
    repr: Repr,
    heap: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Small(Vec<(Blob, Blob)>),
    Large(BTreeMap<(u64, Blob), Blob>),
}

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
            Repr::Large(m) => m.len(),
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
            Repr::Large(m) => m.get(&(field_hash(field), Blob::new(field))),
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
        let Repr::Large(m) = &mut self.repr else {
            unreachable!("converted above")
        };
        let field = Blob::new(field);
        let (fsize, vsize) = (field.heap_size(), value.heap_size());
        // An existing field keeps its key blob; only the value changes.
        match m.insert((field_hash(&field), field), value) {
            Some(old) => {
                self.heap = self.heap + vsize - old.heap_size();
                false
            }
            None => {
                self.heap += LARGE_SLOT + fsize + vsize;
                true
            }
        }
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
            Repr::Large(m) => match m.remove_entry(&(field_hash(field), Blob::new(field))) {
                Some(((_, f), val)) => {
                    self.heap -= LARGE_SLOT + f.heap_size() + val.heap_size();
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
            Repr::Large(m) => Box::new(m.iter().map(|((_, f), v)| (f, v))),
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
            Repr::Large(m) => {
                let mut seen = 0usize;
                let mut last: Option<u64> = None;
                for ((h, k), val) in m.range((cursor, Blob::new(b""))..) {
                    if seen >= count.max(1) && last != Some(*h) {
                        return *h;
                    }
                    f(k, val);
                    seen += 1;
                    last = Some(*h);
                }
                0
            }
        }
    }

    /// The field at or after a random point, `r` drawn uniformly from u64
    /// (`HRANDFIELD`): O(1) for a small hash, O(log n) for a large one.
    pub fn random(&self, r: u64) -> Option<(&Blob, &Blob)> {
        match &self.repr {
            Repr::Small(v) => {
                if v.is_empty() {
                    return None;
                }
                let (k, val) = &v[(r % v.len() as u64) as usize];
                Some((k, val))
            }
            Repr::Large(m) => m
                .range((r, Blob::new(b""))..)
                .next()
                .or_else(|| m.iter().next())
                .map(|((_, k), v)| (k, v)),
        }
    }

    fn convert_to_large(&mut self) {
        let Repr::Small(v) = std::mem::take(&mut self.repr) else {
            return;
        };
        let n = v.len();
        let m: BTreeMap<(u64, Blob), Blob> = v
            .into_iter()
            .map(|(f, val)| ((field_hash(&f), f), val))
            .collect();
        self.heap = self.heap - n * SMALL_SLOT + n * LARGE_SLOT;
        self.repr = Repr::Large(m);
    }
}
