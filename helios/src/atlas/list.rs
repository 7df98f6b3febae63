//! List values: a sequence of elements under one key, pushed and popped at
//! both ends.
//!
//! A ring buffer of [`Blob`]s: O(1) at both ends, O(1) indexing, O(n)
//! inserts and removals in the middle (Redis's quicklist is O(n) there
//! too). `OBJECT ENCODING` says `quicklist`, as Redis 7.0 does for every
//! list. The value tracks its own heap size.

use std::collections::VecDeque;

use super::Blob;

/// A list value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListValue {
    items: VecDeque<Blob>,
    heap: usize,
}

/// Bytes per element beyond its blob's heap: the ring buffer slot.
const SLOT: usize = std::mem::size_of::<Blob>();

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes held by the elements, for `used_memory`.
    pub fn heap_size(&self) -> usize {
        self.heap
    }

    pub fn push(&mut self, end: End, b: Blob) {
        self.heap += SLOT + b.heap_size();
        match end {
            End::Left => self.items.push_front(b),
            End::Right => self.items.push_back(b),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Blob> {
        let b = match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }?;
        self.heap -= SLOT + b.heap_size();
        Some(b)
    }

    pub fn get(&self, i: usize) -> Option<&Blob> {
        self.items.get(i)
    }

    /// Replaces element `i` (which must exist).
    pub fn set(&mut self, i: usize, b: Blob) {
        let old = std::mem::replace(&mut self.items[i], b);
        self.heap = self.heap + self.items[i].heap_size() - old.heap_size();
    }

    /// Inserts `b` so that it becomes element `i`.
    pub fn insert(&mut self, i: usize, b: Blob) {
        self.heap += SLOT + b.heap_size();
        self.items.insert(i, b);
    }

    pub fn remove(&mut self, i: usize) -> Option<Blob> {
        let b = self.items.remove(i)?;
        self.heap -= SLOT + b.heap_size();
        Some(b)
    }

    /// Keeps elements `start..=end` (already clamped, `start <= end < len`).
    pub fn trim(&mut self, start: usize, end: usize) {
        for b in self.items.drain(end + 1..) {
            self.heap -= SLOT + b.heap_size();
        }
        for b in self.items.drain(..start) {
            self.heap -= SLOT + b.heap_size();
        }
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.items.clear();
        self.heap = 0;
    }

    /// Removes elements equal to `x`: up to `count` from the head (`count >
    /// 0`), from the tail (`count < 0`), or all (`0`). Returns how many.
    pub fn remove_matching(&mut self, x: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut hits: Vec<usize> = Vec::new();
        let matches = |b: &Blob| b.as_slice() == x;
        if count >= 0 {
            hits.extend(
                self.items
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| matches(b))
                    .map(|(i, _)| i)
                    .take(limit),
            );
        } else {
            hits.extend(
                self.items
                    .iter()
                    .enumerate()
                    .rev()
                    .filter(|(_, b)| matches(b))
                    .map(|(i, _)| i)
                    .take(limit),
            );
            hits.reverse();
        }
        if hits.is_empty() {
            return 0;
        }
        let mut next_hit = 0;
        let mut i = 0;
        let mut freed = 0;
        let n = hits.len();
        self.items.retain(|b| {
            let drop = next_hit < n && hits[next_hit] == i;
            if drop {
                next_hit += 1;
                freed += SLOT + b.heap_size();
            }
            i += 1;
            !drop
        });
        self.heap -= freed;
        n
    }

    /// Elements from the head.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Blob> + ExactSizeIterator {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> ListValue {
        let mut l = ListValue::new();
        for i in items {
            l.push(End::Right, Blob::new(i.as_bytes()));
        }
        l
    }

    fn items(l: &ListValue) -> Vec<String> {
        l.iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    fn recount(l: &ListValue) -> usize {
        l.iter().map(|b| SLOT + b.heap_size()).sum()
    }

    #[test]
    fn remove_matching_from_either_end() {
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", -2), 2);
        assert_eq!(items(&l), ["a", "b", "c"]);
        let mut l = list(&["a", "b", "a", "c", "a"]);
        assert_eq!(l.remove_matching(b"a", 2), 2);
        assert_eq!(items(&l), ["b", "c", "a"]);
        let long = "x".repeat(100);
        let mut l = list(&[&long, "a", &long]);
        assert_eq!(l.remove_matching(long.as_bytes(), 0), 2);
        assert_eq!(items(&l), ["a"]);
        assert_eq!(l.heap_size(), recount(&l));
        assert_eq!(l.remove_matching(b"zz", 0), 0);
    }

    #[test]
    fn trim_insert_set_keep_the_heap_count() {
        let long = "y".repeat(50);
        let mut l = list(&["a", &long, "b", &long, "c"]);
        l.trim(1, 3);
        assert_eq!(items(&l), [long.as_str(), "b", long.as_str()]);
        l.insert(1, Blob::new(long.as_bytes()));
        l.set(0, Blob::new(b"z"));
        assert_eq!(l.remove(2).unwrap().as_slice(), b"b");
        assert_eq!(l.heap_size(), recount(&l));
        l.clear();
        assert_eq!(l.heap_size(), 0);
    }
}
