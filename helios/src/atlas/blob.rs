//! `Blob`: the byte string used for every key and string value.
//!
//! Short strings (up to 22 bytes, which covers most keys and counters) live
//! inline in the 24-byte value itself, with no heap allocation; longer ones
//! live in a reference-counted `Vec`, so cloning a whole keyspace shard for a
//! copy-on-write snapshot never copies value bytes. A heap blob that is not
//! shared is mutated in place (`APPEND` is amortised O(1), as in Redis).

use std::sync::Arc;

/// Longest string stored inline.
pub const INLINE_CAP: usize = 22;

#[derive(Clone)]
pub enum Blob {
    Inline { len: u8, data: [u8; INLINE_CAP] },
    Heap(Arc<Vec<u8>>),
}

impl Blob {
    pub fn new(bytes: &[u8]) -> Blob {
        if bytes.len() <= INLINE_CAP {
            let mut data = [0u8; INLINE_CAP];
            data[..bytes.len()].copy_from_slice(bytes);
            Blob::Inline {
                len: bytes.len() as u8,
                data,
            }
        } else {
            Blob::Heap(Arc::new(bytes.to_vec()))
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Blob {
        if v.len() <= INLINE_CAP {
            Blob::new(&v)
        } else {
            Blob::Heap(Arc::new(v))
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Blob::Inline { len, data } => &data[..*len as usize],
            Blob::Heap(v) => v,
        }
    }

    /// Heap bytes owned by this blob (0 when inline), for `used_memory`.
    pub fn heap_size(&self) -> usize {
        match self {
            // Arc header (two counters) + Vec header + capacity.
            Blob::Heap(v) => 16 + std::mem::size_of::<Vec<u8>>() + v.capacity(),
            Blob::Inline { .. } => 0,
        }
    }

    /// A mutable `Vec` view, moving the bytes to the heap if needed.
    fn make_vec(&mut self, reserve: usize) -> &mut Vec<u8> {
        if let Blob::Inline { len, data } = self {
            let mut v = Vec::with_capacity((*len as usize + reserve).max(INLINE_CAP * 2));
            v.extend_from_slice(&data[..*len as usize]);
            *self = Blob::Heap(Arc::new(v));
        }
        match self {
            Blob::Heap(v) => Arc::make_mut(v),
            Blob::Inline { .. } => unreachable!("converted above"),
        }
    }

    /// Appends bytes; returns the new length.
    pub fn append(&mut self, extra: &[u8]) -> usize {
        if let Blob::Inline { len, data } = self {
            let l = *len as usize;
            if l + extra.len() <= INLINE_CAP {
                data[l..l + extra.len()].copy_from_slice(extra);
                *len += extra.len() as u8;
                return *len as usize;
            }
        }
        let v = self.make_vec(extra.len());
        v.extend_from_slice(extra);
        v.len()
    }

    /// Overwrites bytes at `offset`, zero-padding if the string is shorter;
    /// returns the new length.
    pub fn set_range(&mut self, offset: usize, bytes: &[u8]) -> usize {
        let end = offset + bytes.len();
        if let Blob::Inline { len, data } = self {
            if end <= INLINE_CAP {
                let l = *len as usize;
                if end > l {
                    data[l..end].fill(0);
                    *len = end as u8;
                }
                data[offset..end].copy_from_slice(bytes);
                return *len as usize;
            }
        }
        let v = self.make_vec(end.saturating_sub(self.len()));
        if v.len() < end {
            v.resize(end, 0);
        }
        v[offset..end].copy_from_slice(bytes);
        v.len()
    }
}

impl std::ops::Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Blob) -> bool {
        self.as_slice() == other.as_slice()
    }
}
impl Eq for Blob {}

impl PartialOrd for Blob {
    fn partial_cmp(&self, other: &Blob) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte order, as Redis compares strings (`memcmp`, shorter first on a tie).
impl Ord for Blob {
    fn cmp(&self, other: &Blob) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_24_bytes() {
        assert_eq!(std::mem::size_of::<Blob>(), 24);
    }

    #[test]
    fn inline_and_heap_roundtrip() {
        for n in [0, 1, 21, 22, 23, 100] {
            let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let b = Blob::new(&data);
            assert_eq!(b.as_slice(), &data[..]);
            assert_eq!(b.heap_size() == 0, n <= INLINE_CAP);
        }
    }

    #[test]
    fn append_grows_across_the_inline_limit() {
        let mut b = Blob::new(b"hello");
        assert_eq!(b.append(b" world"), 11);
        assert_eq!(b.append(b", and a longer tail"), 30);
        assert_eq!(&*b, b"hello world, and a longer tail");
        let shared = b.clone();
        b.append(b"!");
        assert_eq!(
            &*shared, b"hello world, and a longer tail",
            "clones are not mutated"
        );
    }

    #[test]
    fn set_range_pads_with_zeros() {
        let mut b = Blob::new(b"ab");
        assert_eq!(b.set_range(4, b"cd"), 6);
        assert_eq!(&*b, b"ab\0\0cd");
        assert_eq!(b.set_range(30, b"x"), 31);
        assert_eq!(b[30], b'x');
        assert_eq!(b[10], 0);
        assert_eq!(b.set_range(0, b"Z"), 31);
        assert_eq!(b[0], b'Z');
    }
}
