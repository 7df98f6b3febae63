//! `HashedTable`: the large representation shared by hashes and sets.
//!
//! Members are kept in a B-tree ordered by (a fixed 64-bit hash of the
//! member, the member), with a value each (a hash's field value; `()` for
//! a set), plus a vector of every member (each entry knows its slot).
//!
//! - The B-tree order is what `HSCAN`/`SSCAN` need: the cursor is the next
//!   hash value to visit, so a member present for the whole iteration is
//!   returned exactly once however the table changes in between (members
//!   sharing a hash value are always returned together). The hash function
//!   is fixed (FNV-1a with a final mix), not seeded per process, so a cursor
//!   means the same on every node of a cluster and after a restart; a flood
//!   of colliding members costs a B-tree nothing.
//! - The slot vector gives uniform random draws in O(log n) (`HRANDFIELD`,
//!   `SRANDMEMBER`, `SPOP`). A removal moves the last slot into the freed
//!   one. Slot order is part of the state: the same inserts and removals in
//!   the same order give the same slots, which is what lets `SPOP` draw the
//!   same members on every node of a cluster from a shared seed; snapshots
//!   write members in slot order so a restored table has the same slots.

use std::collections::BTreeMap;

use super::Blob;

/// Bytes of bookkeeping per member beyond its blobs: the B-tree entry
/// (key, hash, slot number and value), the slot, and allocator overhead.
pub const SLOT_OVERHEAD: usize = 3 * std::mem::size_of::<Blob>() + 8 + 4 + 8 + 16;

/// The fixed member hash that orders large tables and their scan cursor.
pub fn member_hash(member: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in member {
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

#[derive(Clone, Debug)]
pub struct HashedTable<V> {
    /// (hash, member) -> (value, index in `slots`).
    map: BTreeMap<(u64, Blob), (V, u32)>,
    slots: Vec<(u64, Blob)>,
}

impl<V> Default for HashedTable<V> {
    fn default() -> Self {
        HashedTable {
            map: BTreeMap::new(),
            slots: Vec::new(),
        }
    }
}

impl<V> HashedTable<V> {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get(&self, member: &[u8]) -> Option<&V> {
        self.map
            .get(&(member_hash(member), Blob::new(member)))
            .map(|(v, _)| v)
    }

    pub fn get_mut(&mut self, member: &[u8]) -> Option<&mut V> {
        self.map
            .get_mut(&(member_hash(member), Blob::new(member)))
            .map(|(v, _)| v)
    }

    /// Adds a member known to be absent.
    pub fn insert_new(&mut self, member: Blob, value: V) {
        let key = (member_hash(&member), member);
        self.slots.push(key.clone());
        self.map.insert(key, (value, (self.slots.len() - 1) as u32));
    }

    /// Removes `member`, returning it and its value.
    pub fn remove(&mut self, member: &[u8]) -> Option<(Blob, V)> {
        let ((_, m), (value, slot)) = self
            .map
            .remove_entry(&(member_hash(member), Blob::new(member)))?;
        let slot = slot as usize;
        self.slots.swap_remove(slot);
        if let Some(moved) = self.slots.get(slot) {
            if let Some((_, at)) = self.map.get_mut(moved) {
                *at = slot as u32;
            }
        }
        Some((m, value))
    }

    /// Members in hash order (the order `HGETALL`/`SMEMBERS` list them).
    pub fn iter(&self) -> impl Iterator<Item = (&Blob, &V)> {
        self.map.iter().map(|((_, m), (v, _))| (m, v))
    }

    /// Members in slot order (what snapshots write).
    pub fn iter_slots(&self) -> impl Iterator<Item = (&Blob, &V)> {
        self.slots
            .iter()
            .filter_map(|key| self.map.get(key).map(|(v, _)| (&key.1, v)))
    }

    /// One scan step from `cursor`: calls `f` for about `count` members
    /// and returns the next cursor, 0 when done.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a Blob, &'a V),
    ) -> u64 {
        let mut last: Option<u64> = None;
        for (seen, ((h, m), (v, _))) in self.map.range((cursor, Blob::new(b""))..).enumerate() {
            // Never split members sharing a hash across two pages.
            if seen >= count.max(1) && last != Some(*h) {
                return *h;
            }
            f(m, v);
            last = Some(*h);
        }
        0
    }

    /// The member in slot `r % len` (uniform for a uniform `r`).
    pub fn random(&self, r: u64) -> Option<(&Blob, &V)> {
        if self.slots.is_empty() {
            return None;
        }
        let key = &self.slots[(r % self.slots.len() as u64) as usize];
        self.map.get(key).map(|(v, _)| (&key.1, v))
    }
}
