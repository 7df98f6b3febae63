//! Sorted set values: members with a score each, ordered by (score, member).
//!
//! Two representations, as in Redis 7.0 (the oracle's version):
//!
//! - **listpack**: at most [`LISTPACK_MAX_ENTRIES`] members, each at most
//!   [`LISTPACK_MAX_VALUE`] bytes: one vector of (score, member) kept in
//!   order. Everything is a binary search or a short memmove.
//! - **skiplist**: beyond either limit, and never converting back (as in
//!   Redis). A [`HashedTable`] maps member to score (O(log n) lookups, the
//!   stable `ZSCAN` cursor and uniform random draws shared with hashes and
//!   sets), and a [`RankedSeq`] keeps (score, member) in order with a
//!   counted index, so rank, the element at a rank and the boundary of a
//!   score or lex range are O(log n) (Redis uses a skip list with spans
//!   for the same job).
//!
//! Scores are never NaN (commands refuse it). `-0` and `0` are equal in the
//! order, as in Redis; a listpack stores `-0` as `0`, as Redis's does, and
//! the large form keeps the sign.
//!
//! The value tracks its own heap size, so a write costs O(1) bookkeeping.

use std::cmp::Ordering;

use super::table::{HashedTable, SLOT_OVERHEAD};
use super::Blob;

/// Redis's `zset-max-listpack-entries` default.
pub const LISTPACK_MAX_ENTRIES: usize = 128;
/// Redis's `zset-max-listpack-value` default.
pub const LISTPACK_MAX_VALUE: usize = 64;

/// One element in score order.
pub type Item = (f64, Blob);

/// Bytes of one ordered item beyond the member's heap.
const ITEM: usize = std::mem::size_of::<Item>();

/// The order of sorted sets: by score, then by member bytes.
pub fn cmp(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.cmp(b))
}

fn before(item: &Item, score: f64, member: &[u8]) -> bool {
    cmp(item.0, &item.1, score, member) == Ordering::Less
}

/// Items in order in blocks of at most `BLOCK_MAX` (256), with a
/// Fenwick tree over the block lengths: a two-level counted B-tree.
///
/// Finding a position is a binary search over the blocks' last items and
/// then inside one block; turning a block number into a rank (or a rank
/// into a block) walks the Fenwick tree, O(log n). Inserting or removing
/// moves at most a block's items. A block that grows past `BLOCK_MAX` is
/// split and one that shrinks below `BLOCK_MIN` is merged into a neighbour;
/// both rebuild the Fenwick tree, O(n / BLOCK_MAX), which happens once per
/// about `BLOCK_MAX / 2` writes to that block.
#[derive(Clone, Debug, Default)]
pub struct RankedSeq {
    /// Non-empty, each in order, and in order one after the other.
    blocks: Vec<Vec<Item>>,
    /// Fenwick tree (1-based) of `blocks[i].len()`.
    tree: Vec<usize>,
    len: usize,
}

impl RankedSeq {
    const BLOCK_MAX: usize = 256;
    const BLOCK_MIN: usize = 32;

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn rebuild(&mut self) {
        let n = self.blocks.len();
        self.tree.clear();
        self.tree.resize(n + 1, 0);
        for i in 1..=n {
            self.tree[i] += self.blocks[i - 1].len();
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                self.tree[parent] += self.tree[i];
            }
        }
    }

    fn adjust(&mut self, block: usize, grew: bool) {
        let mut i = block + 1;
        while i < self.tree.len() {
            if grew {
                self.tree[i] += 1;
            } else {
                self.tree[i] -= 1;
            }
            i += i & i.wrapping_neg();
        }
    }

    /// Items in the blocks before `block`.
    fn before_block(&self, block: usize) -> usize {
        let (mut i, mut sum) = (block, 0);
        while i > 0 {
            sum += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    /// The block and offset of the item at `rank` (< len).
    fn locate(&self, rank: usize) -> (usize, usize) {
        let n = self.blocks.len();
        let (mut pos, mut rest) = (0, rank);
        let mut step = if n == 0 { 0 } else { 1 << n.ilog2() };
        while step > 0 {
            if pos + step <= n && self.tree[pos + step] <= rest {
                pos += step;
                rest -= self.tree[pos];
            }
            step >>= 1;
        }
        (pos, rest)
    }

    /// The number of leading items for which `pred` holds (`pred` must hold
    /// for a prefix of the order and fail for the rest).
    pub fn partition_point(&self, pred: impl Fn(&Item) -> bool) -> usize {
        let b = self
            .blocks
            .partition_point(|blk| pred(blk.last().expect("blocks are never empty")));
        if b == self.blocks.len() {
            return self.len;
        }
        self.before_block(b) + self.blocks[b].partition_point(pred)
    }

    pub fn get(&self, rank: usize) -> Option<&Item> {
        if rank >= self.len {
            return None;
        }
        let (b, off) = self.locate(rank);
        Some(&self.blocks[b][off])
    }

    /// Items from `rank` on, in order.
    pub fn iter_from(&self, rank: usize) -> impl Iterator<Item = &Item> {
        let (b, off) = if rank >= self.len {
            (self.blocks.len(), 0)
        } else {
            self.locate(rank)
        };
        let first = self.blocks.get(b).map_or(&[][..], |blk| &blk[off..]);
        first
            .iter()
            .chain(self.blocks.iter().skip(b + 1).flat_map(|blk| blk.iter()))
    }

    /// Items from `rank` (< len) down to the first, in reverse order.
    pub fn iter_back_from(&self, rank: usize) -> impl Iterator<Item = &Item> {
        let (b, off) = self.locate(rank);
        self.blocks[b][..=off].iter().rev().chain(
            self.blocks[..b]
                .iter()
                .rev()
                .flat_map(|blk| blk.iter().rev()),
        )
    }

    pub fn insert(&mut self, score: f64, member: Blob) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(vec![(score, member)]);
            self.rebuild();
            return;
        }
        let b = self
            .blocks
            .partition_point(|blk| before(blk.last().expect("not empty"), score, &member))
            .min(self.blocks.len() - 1);
        let blk = &mut self.blocks[b];
        let at = blk.partition_point(|x| before(x, score, &member));
        blk.insert(at, (score, member));
        if blk.len() > Self::BLOCK_MAX {
            let tail = blk.split_off(blk.len() / 2);
            self.blocks.insert(b + 1, tail);
            self.rebuild();
        } else {
            self.adjust(b, true);
        }
    }

    /// Removes the item (score, member), returning its member.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> Option<Blob> {
        let b = self
            .blocks
            .partition_point(|blk| before(blk.last().expect("not empty"), score, member));
        let blk = self.blocks.get_mut(b)?;
        let at = blk.partition_point(|x| before(x, score, member));
        if at == blk.len() || cmp(blk[at].0, &blk[at].1, score, member) != Ordering::Equal {
            return None;
        }
        let (_, removed) = blk.remove(at);
        self.len -= 1;
        if blk.is_empty() {
            self.blocks.remove(b);
            self.rebuild();
        } else if blk.len() < Self::BLOCK_MIN && self.blocks.len() > 1 {
            let left = if b > 0 { b - 1 } else { 0 };
            let right = self.blocks.remove(left + 1);
            self.blocks[left].extend(right);
            if self.blocks[left].len() > Self::BLOCK_MAX {
                let half = self.blocks[left].len() / 2;
                let tail = self.blocks[left].split_off(half);
                self.blocks.insert(left + 1, tail);
            }
            self.rebuild();
        } else {
            self.adjust(b, false);
        }
        Some(removed)
    }
}

/// A sorted set value. Two are equal when they hold the same members with
/// the same scores, whatever their representation.
#[derive(Clone, Debug, Default)]
pub struct ZsetValue {
    repr: Repr,
    heap: usize,
}

#[derive(Clone, Debug)]
enum Repr {
    /// In order.
    Small(Vec<Item>),
    Large {
        scores: HashedTable<f64>,
        order: RankedSeq,
    },
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(Vec::new())
    }
}

impl PartialEq for ZsetValue {
    fn eq(&self, other: &ZsetValue) -> bool {
        self.len() == other.len()
            && self.iter_range(0, self.len(), false).all(|(m, s)| {
                other
                    .score(m)
                    .is_some_and(|o| o == s && o.is_sign_negative() == s.is_sign_negative())
            })
    }
}
impl Eq for ZsetValue {}

fn item_bytes(member: &Blob) -> usize {
    ITEM + member.heap_size()
}

impl ZsetValue {
    pub fn new() -> ZsetValue {
        ZsetValue::default()
    }

    /// An empty sorted set already in the `skiplist` representation
    /// (snapshot loading restores the representation it recorded).
    pub fn new_large() -> ZsetValue {
        ZsetValue {
            repr: Repr::Large {
                scores: HashedTable::default(),
                order: RankedSeq::default(),
            },
            heap: 0,
        }
    }

    /// True in the `skiplist` representation.
    pub fn is_large(&self) -> bool {
        matches!(self.repr, Repr::Large { .. })
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => v.len(),
            Repr::Large { order, .. } => order.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Small(_) => "listpack",
            Repr::Large { .. } => "skiplist",
        }
    }

    /// Heap bytes held by the members and the index, for `used_memory`.
    pub fn heap_size(&self) -> usize {
        self.heap
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Small(v) => v.iter().find(|(_, m)| m.as_slice() == member).map(|x| x.0),
            Repr::Large { scores, .. } => scores.get(member).copied(),
        }
    }

    /// Sets `member`'s score, adding it if new. Returns the previous score.
    /// A score equal to the current one (`-0` and `0` included) is left as
    /// it is.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Repr::Small(v) = &mut self.repr {
            // A listpack holds -0 as 0, as Redis's does.
            let score = if score == 0.0 { 0.0 } else { score };
            if let Some(i) = v.iter().position(|(_, m)| m.as_slice() == member) {
                let old = v[i].0;
                if old == score {
                    return Some(old);
                }
                let (_, m) = v.remove(i);
                let at = v.partition_point(|x| before(x, score, member));
                v.insert(at, (score, m));
                return Some(old);
            }
            if v.len() < LISTPACK_MAX_ENTRIES && member.len() <= LISTPACK_MAX_VALUE {
                let m = Blob::new(member);
                self.heap += item_bytes(&m);
                let at = v.partition_point(|x| before(x, score, member));
                v.insert(at, (score, m));
                return None;
            }
            self.convert_to_large();
        }
        let Repr::Large { scores, order } = &mut self.repr else {
            unreachable!("converted above")
        };
        if let Some(s) = scores.get_mut(member) {
            let old = *s;
            // An equal score (0 for -0 too) changes nothing, as in Redis.
            if old != score {
                *s = score;
                // The same blob moves, still shared with the member table.
                let m = order.remove(old, member).expect("in the order");
                order.insert(score, m);
            }
            return Some(old);
        }
        let m = Blob::new(member);
        self.heap += SLOT_OVERHEAD + item_bytes(&m);
        order.insert(score, m.clone());
        scores.insert_new(m, score);
        None
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Small(v) => {
                let i = v.iter().position(|(_, m)| m.as_slice() == member)?;
                let (s, m) = v.remove(i);
                self.heap -= item_bytes(&m);
                Some(s)
            }
            Repr::Large { scores, order } => {
                let (m, s) = scores.remove(member)?;
                order.remove(s, member);
                self.heap -= SLOT_OVERHEAD + item_bytes(&m);
                Some(s)
            }
        }
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.partition_point(|x| before(x, score, member)))
    }

    /// The number of leading elements (in ascending order) for which
    /// `pred` holds; `pred` must hold for a prefix and fail after it.
    pub fn partition_point(&self, pred: impl Fn(&Item) -> bool) -> usize {
        match &self.repr {
            Repr::Small(v) => v.partition_point(pred),
            Repr::Large { order, .. } => order.partition_point(pred),
        }
    }

    /// The element at ascending rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&Blob, f64)> {
        let item = match &self.repr {
            Repr::Small(v) => v.get(rank),
            Repr::Large { order, .. } => order.get(rank),
        };
        item.map(|(s, m)| (m, *s))
    }

    /// The elements with ascending ranks in `start..end`, in ascending
    /// order, or descending when `rev`.
    pub fn iter_range(
        &self,
        start: usize,
        end: usize,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&Blob, f64)> + '_> {
        let end = end.min(self.len());
        let start = start.min(end);
        fn pair((s, m): &Item) -> (&Blob, f64) {
            (m, *s)
        }
        match (&self.repr, rev) {
            (Repr::Small(v), false) => Box::new(v[start..end].iter().map(pair)),
            (Repr::Small(v), true) => Box::new(v[start..end].iter().rev().map(pair)),
            _ if start == end => Box::new(std::iter::empty()),
            (Repr::Large { order, .. }, false) => {
                Box::new(order.iter_from(start).take(end - start).map(pair))
            }
            (Repr::Large { order, .. }, true) => {
                Box::new(order.iter_back_from(end - 1).take(end - start).map(pair))
            }
        }
    }

    /// One `ZSCAN` step: a listpack is returned whole with cursor 0, as
    /// Redis does; a large set pages through its member-hash order (see
    /// `HashedTable::scan`).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a Blob, f64)) -> u64 {
        match &self.repr {
            Repr::Small(v) => {
                for (s, m) in v {
                    f(m, *s);
                }
                0
            }
            Repr::Large { scores, .. } => scores.scan(cursor, count, |m, s| f(m, *s)),
        }
    }

    /// A uniformly drawn element, given `r` drawn uniformly from u64.
    pub fn random(&self, r: u64) -> Option<(&Blob, f64)> {
        match &self.repr {
            Repr::Small(v) if v.is_empty() => None,
            Repr::Small(v) => {
                let (s, m) = &v[(r % v.len() as u64) as usize];
                Some((m, *s))
            }
            Repr::Large { scores, .. } => scores.random(r).map(|(m, s)| (m, *s)),
        }
    }

    /// Every element in the order that rebuilds this exact value when
    /// inserted (snapshots): ascending for a listpack, slot order for the
    /// large form.
    pub fn items_for_snapshot(&self) -> Vec<(Blob, f64)> {
        match &self.repr {
            Repr::Small(v) => v.iter().map(|(s, m)| (m.clone(), *s)).collect(),
            Repr::Large { scores, .. } => {
                scores.iter_slots().map(|(m, s)| (m.clone(), *s)).collect()
            }
        }
    }

    fn convert_to_large(&mut self) {
        let Repr::Small(v) = std::mem::take(&mut self.repr) else {
            return;
        };
        let mut large = ZsetValue::new_large();
        for (s, m) in v {
            large.insert(&m, s);
        }
        *self = large;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The model: (score, member) pairs sorted by the zset order.
    fn model_order(m: &std::collections::HashMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<(Vec<u8>, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
        v.sort_by(|a, b| cmp(a.1, &a.0, b.1, &b.0));
        v
    }

    fn check_against(z: &ZsetValue, m: &std::collections::HashMap<Vec<u8>, f64>) {
        let want = model_order(m);
        assert_eq!(z.len(), want.len());
        let got: Vec<(Vec<u8>, f64)> = z
            .iter_range(0, z.len(), false)
            .map(|(b, s)| (b.to_vec(), s))
            .collect();
        assert_eq!(got, want);
        let back: Vec<(Vec<u8>, f64)> = z
            .iter_range(0, z.len(), true)
            .map(|(b, s)| (b.to_vec(), s))
            .collect();
        assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
        for (i, (member, score)) in want.iter().enumerate().step_by(7) {
            assert_eq!(z.rank(member), Some(i), "rank of {member:?}");
            assert_eq!(z.score(member), Some(*score));
            let (at, s) = z.get(i).unwrap();
            assert_eq!((at.as_slice(), s), (member.as_slice(), *score));
        }
    }

    #[test]
    fn random_writes_match_a_sorted_model_across_both_forms() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let mut z = ZsetValue::new();
        let mut m = std::collections::HashMap::new();
        for step in 0..20_000 {
            let member = format!("m{}", rng.gen_range(0..3000)).into_bytes();
            // Few distinct scores, so ties are ordered by member.
            let score = rng.gen_range(-50..50) as f64 / 4.0;
            if rng.gen_bool(0.7) {
                assert_eq!(z.insert(&member, score), m.insert(member, score));
            } else {
                assert_eq!(z.remove(&member), m.remove(&member));
            }
            if step % 2000 == 0 {
                check_against(&z, &m);
            }
        }
        assert!(z.is_large(), "3000 members outgrow the listpack");
        check_against(&z, &m);
        // Remove almost everything: blocks merge and vanish.
        let all: Vec<Vec<u8>> = m.keys().cloned().collect();
        for member in all.iter().skip(5) {
            assert_eq!(z.remove(member), m.remove(member));
        }
        check_against(&z, &m);
        assert_eq!(z.encoding(), "skiplist", "never converts back");
    }

    #[test]
    fn ranges_by_partition_point() {
        let mut z = ZsetValue::new_large();
        for i in 0..1000 {
            z.insert(format!("{i:04}").as_bytes(), (i / 10) as f64);
        }
        // Scores in [5, 7): ranks 50..70.
        let start = z.partition_point(|x| x.0 < 5.0);
        let end = z.partition_point(|x| x.0 < 7.0);
        assert_eq!((start, end), (50, 70));
        let got: Vec<&[u8]> = z
            .iter_range(start, end, true)
            .map(|(m, _)| m.as_slice())
            .take(2)
            .collect();
        assert_eq!(got, [&b"0069"[..], b"0068"]);
        assert_eq!(z.iter_range(990, 2000, false).count(), 10);
        assert_eq!(z.iter_range(5, 5, true).count(), 0);
    }

    #[test]
    fn listpack_limits_and_negative_zero() {
        let mut z = ZsetValue::new();
        for i in 0..LISTPACK_MAX_ENTRIES {
            z.insert(format!("{i}").as_bytes(), i as f64);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"one-more", 0.5);
        assert_eq!(z.encoding(), "skiplist");

        let mut z = ZsetValue::new();
        z.insert(&[b'x'; LISTPACK_MAX_VALUE + 1], 1.0);
        assert_eq!(z.encoding(), "skiplist");
        z.insert(b"neg", -0.0);
        assert!(
            z.score(b"neg").unwrap().is_sign_negative(),
            "the large form keeps -0"
        );

        let mut small = ZsetValue::new();
        small.insert(b"neg", -0.0);
        assert!(
            !small.score(b"neg").unwrap().is_sign_negative(),
            "a listpack holds 0"
        );
    }

    #[test]
    fn heap_accounting_returns_to_zero() {
        let mut z = ZsetValue::new();
        for i in 0..500 {
            z.insert(
                format!("member-with-a-longer-name-{i}").as_bytes(),
                i as f64,
            );
        }
        assert!(z.heap_size() > 500 * 32);
        for i in 0..500 {
            z.remove(format!("member-with-a-longer-name-{i}").as_bytes());
        }
        assert_eq!(z.heap_size(), 0);
    }
}
