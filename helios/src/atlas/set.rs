//! Set values: unordered collections of distinct members under one key.
//!
//! Two representations, as in Redis 7.0 (the oracle's version). A set of
//! at most [`INTSET_MAX_ENTRIES`] members that are all integers in
//! canonical form (`12`, not `012` or `+12`) is a sorted vector of `i64`:
//! `OBJECT ENCODING` says `intset` and `SMEMBERS` lists it in ascending
//! order, as Redis does. Anything else is a [`HashedTable`] (`hashtable`),
//! which never converts back. (Redis converts back when it reloads;
//! Helios restores the representation and slot order a snapshot recorded,
//! so `SPOP` draws the same members on a node restored from a snapshot as
//! on the node that wrote it.)

use super::table::{HashedTable, SLOT_OVERHEAD};
use super::Blob;
use crate::resp::out::fmt_i64;
use crate::resp::parse::parse_i64;

/// Redis's `set-max-intset-entries` default.
pub const INTSET_MAX_ENTRIES: usize = 512;

/// A set value. Two sets are equal when they hold the same members.
#[derive(Clone, Debug, Default)]
pub struct SetValue {
    repr: Repr,
    heap: usize,
}

#[derive(Clone, Debug)]
enum Repr {
    Ints(Vec<i64>),
    Large(HashedTable<()>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Ints(Vec::new())
    }
}

impl PartialEq for SetValue {
    fn eq(&self, other: &SetValue) -> bool {
        let mut same = self.len() == other.len();
        if same {
            self.for_each(|m| same &= other.contains(m));
        }
        same
    }
}
impl Eq for SetValue {}

/// `m` as an integer if it is one in canonical form (what Redis's
/// `string2ll` accepts and prints back identically).
fn as_int(m: &[u8]) -> Option<i64> {
    if m.len() > 20 {
        return None;
    }
    let n = parse_i64(m)?;
    let mut tmp = [0u8; 20];
    (fmt_i64(n, &mut tmp) == m).then_some(n)
}

impl SetValue {
    pub fn new() -> SetValue {
        SetValue::default()
    }

    /// An empty set already in the `hashtable` representation (snapshot
    /// loading restores the representation it recorded).
    pub fn new_large() -> SetValue {
        SetValue {
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
            Repr::Ints(v) => v.len(),
            Repr::Large(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Large(_) => "hashtable",
        }
    }

    /// Heap bytes held by the members, for `used_memory`.
    pub fn heap_size(&self) -> usize {
        self.heap
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(v) => as_int(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            Repr::Large(t) => t.get(m).is_some(),
        }
    }

    /// Adds `m`; true when it is new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if let Repr::Ints(v) = &mut self.repr {
            if let Some(n) = as_int(m) {
                match v.binary_search(&n) {
                    Ok(_) => return false,
                    Err(at) if v.len() < INTSET_MAX_ENTRIES => {
                        v.insert(at, n);
                        self.heap += 8;
                        return true;
                    }
                    Err(_) => {}
                }
            }
            self.convert_to_large();
        }
        let Repr::Large(t) = &mut self.repr else {
            unreachable!("converted above")
        };
        if t.get(m).is_some() {
            return false;
        }
        let m = Blob::new(m);
        self.heap += SLOT_OVERHEAD + m.heap_size();
        t.insert_new(m, ());
        true
    }

    /// Removes `m`; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => match as_int(m).map(|n| v.binary_search(&n)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    self.heap -= 8;
                    true
                }
                _ => false,
            },
            Repr::Large(t) => match t.remove(m) {
                Some((m, ())) => {
                    self.heap -= SLOT_OVERHEAD + m.heap_size();
                    true
                }
                None => false,
            },
        }
    }

    /// Calls `f` with every member, in the order `SMEMBERS` lists them.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match &self.repr {
            Repr::Ints(v) => {
                let mut tmp = [0u8; 20];
                for &n in v {
                    f(fmt_i64(n, &mut tmp));
                }
            }
            Repr::Large(t) => t.iter().for_each(|(m, _)| f(m)),
        }
    }

    /// Every member, owned, in `SMEMBERS` order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|m| out.push(m.to_vec()));
        out
    }

    /// Every member in the order that rebuilds this exact value when
    /// inserted (snapshots; slot order matters to `SPOP`).
    pub fn members_for_snapshot(&self) -> Vec<Vec<u8>> {
        match &self.repr {
            Repr::Ints(_) => self.members(),
            Repr::Large(t) => t.iter_slots().map(|(m, _)| m.to_vec()).collect(),
        }
    }

    /// One `SSCAN` step (see `HashedTable::scan`); an intset is returned
    /// whole with cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        match &self.repr {
            Repr::Ints(_) => {
                self.for_each(f);
                0
            }
            Repr::Large(t) => t.scan(cursor, count, |m, _| f(m)),
        }
    }

    /// A uniformly drawn member, given `r` drawn uniformly from u64.
    pub fn random(&self, r: u64) -> Option<Vec<u8>> {
        match &self.repr {
            Repr::Ints(v) if v.is_empty() => None,
            Repr::Ints(v) => {
                let mut tmp = [0u8; 20];
                Some(fmt_i64(v[(r % v.len() as u64) as usize], &mut tmp).to_vec())
            }
            Repr::Large(t) => t.random(r).map(|(m, _)| m.to_vec()),
        }
    }

    fn convert_to_large(&mut self) {
        let Repr::Ints(v) = std::mem::take(&mut self.repr) else {
            return;
        };
        let mut t = HashedTable::default();
        let mut tmp = [0u8; 20];
        let mut heap = 0;
        for n in v {
            let m = Blob::new(fmt_i64(n, &mut tmp));
            heap += SLOT_OVERHEAD + m.heap_size();
            t.insert_new(m, ());
        }
        self.heap = heap;
        self.repr = Repr::Large(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recount(s: &SetValue) -> usize {
        match s.encoding() {
            "intset" => 8 * s.len(),
            _ => s
                .members()
                .iter()
                .map(|m| SLOT_OVERHEAD + Blob::new(m).heap_size())
                .sum(),
        }
    }

    #[test]
    fn canonical_integers_make_a_sorted_intset() {
        let mut s = SetValue::new();
        for m in ["5", "-3", "100", "5"] {
            s.insert(m.as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(
            s.members(),
            [b"-3".to_vec(), b"5".to_vec(), b"100".to_vec()]
        );
        assert!(s.contains(b"100"));
        assert!(!s.contains(b"0100"), "not canonical, so not the member 100");
        assert_eq!(s.heap_size(), recount(&s));
        // Non-canonical integers are strings.
        for m in ["007", "+1", "-0", " 1", "9223372036854775808"] {
            let mut t = SetValue::new();
            t.insert(m.as_bytes());
            assert_eq!(t.encoding(), "hashtable", "{m}");
            assert!(t.contains(m.as_bytes()));
        }
    }

    #[test]
    fn converts_on_a_string_member_or_past_the_entry_limit() {
        let mut s = SetValue::new();
        for i in 0..INTSET_MAX_ENTRIES {
            assert!(s.insert(i.to_string().as_bytes()));
        }
        assert_eq!(s.encoding(), "intset");
        assert!(s.insert(b"512"));
        assert_eq!((s.encoding(), s.len()), ("hashtable", 513));
        assert!(s.contains(b"0") && s.contains(b"512"));
        assert_eq!(s.heap_size(), recount(&s));
        let mut t = SetValue::new();
        t.insert(b"1");
        t.insert(b"a");
        assert_eq!(t.encoding(), "hashtable");
        assert!(t.remove(b"a"));
        assert_eq!(t.encoding(), "hashtable", "no conversion back");
        assert!(t.contains(b"1") && !t.remove(b"a"));
        assert_eq!(t.heap_size(), recount(&t));
    }

    #[test]
    fn randomized_operations_match_a_model() {
        let mut s = SetValue::new();
        let mut model = std::collections::BTreeSet::new();
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for step in 0..20_000 {
            let m = if step < 10_000 {
                next(700).to_string()
            } else {
                format!("m{}", next(700))
            }
            .into_bytes();
            if next(3) == 0 {
                assert_eq!(s.remove(&m), model.remove(&m));
            } else {
                assert_eq!(s.insert(&m), model.insert(m.clone()));
            }
            if step % 1000 == 999 {
                let mut got = s.members();
                got.sort();
                assert_eq!(got, model.iter().cloned().collect::<Vec<_>>());
                let drawn: std::collections::BTreeSet<Vec<u8>> =
                    (0..s.len() as u64).map(|i| s.random(i).unwrap()).collect();
                assert_eq!(drawn.len(), model.len());
                assert_eq!(s.heap_size(), recount(&s));
            }
        }
    }

    #[test]
    fn snapshot_order_rebuilds_the_same_slots() {
        let mut s = SetValue::new();
        for i in 0..300 {
            s.insert(format!("m{i}").as_bytes());
        }
        for i in (0..300).step_by(7) {
            s.remove(format!("m{i}").as_bytes());
        }
        // Integers too: they must not go through an intset on the way.
        for i in 0..50 {
            s.insert(i.to_string().as_bytes());
        }
        let mut rebuilt = SetValue::new_large();
        for m in s.members_for_snapshot() {
            rebuilt.insert(&m);
        }
        for r in 0..s.len() as u64 {
            assert_eq!(s.random(r), rebuilt.random(r), "slot {r}");
        }
    }
}
