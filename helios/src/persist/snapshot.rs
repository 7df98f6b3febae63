//! Snapshot files: the whole keyspace at one instant.
//!
//! # Format (version 3), all integers little-endian
//!
//! ```text
//! header   (32 bytes)
//!   magic        8  b"HELIOSSN"
//!   version      4  u32 = 3 (1 and 2 are still read: 1 has strings
//!                   only, 2 no sorted sets)
//!   header_crc   4  u32, CRC-32C of the 32 header bytes with this field zeroed
//!   generation   8  u64, the AOF generation that continues this snapshot
//!   created_ms   8  u64, Unix ms of the point in time captured
//! block*   one or more
//!   length       4  u32, payload bytes
//!   crc32c       4  u32, CRC-32C of the payload
//!   payload      length bytes: records, never split across blocks
//! record
//!   0x01 SELECT  db: u32                      following entries belong to db
//!   0x02 STRING  expire_ms: u64 (0 = none), key_len: u32, key, val_len: u32, val
//!   0x03 HASH    expire_ms: u64, key_len: u32, key, large: u8, n: u32, n × pair
//!   0x05 SET     expire_ms: u64, key_len: u32, key, large: u8, n: u32, n × member
//!   0x06 LIST    expire_ms: u64, key_len: u32, key, large: u8 = 0, n: u32, n × member
//!   0x07 ZSET    expire_ms: u64, key_len: u32, key, large: u8, n: u32, n × scored
//!   0x04 MORE    n: u32, n × item             more of the preceding HASH, SET, LIST or ZSET
//!   0xFF END     keys: u64                    total entries; last record of the file
//! pair           field_len: u32, field, val_len: u32, val
//! member         len: u32, member
//! scored         score: f64 (IEEE 754 bits), len: u32, member
//! ```
//!
//! A list's members are its elements from the head; a sorted set's come
//! in score order (listpack) or slot order (skiplist). A collection is
//! written as one HASH, SET, LIST or ZSET record with up to
//! [`ITEMS_PER_RECORD`] items and MORE records for the rest, so a huge one
//! still fills blocks of about the target size. `large` is 1 for the
//! `hashtable`/`skiplist` representation, 0 for the compact one (listpack,
//! intset);
//! items come in the order that rebuilds the value exactly (see
//! `atlas::table`), and loading restores that representation instead of
//! choosing one by size: every node restored from the same snapshot holds
//! identical values, down to the order `HGETALL` lists and the members
//! `SPOP` draws.
//!
//! Blocks are about 64 KiB, so a flipped bit is reported with the offset of
//! the block that holds it. A snapshot is written to `<name>.tmp`, fsynced,
//! renamed into place and the directory fsynced: a reader never sees a
//! partial file under the final name, so any verification failure is
//! corruption and refuses start-up.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::{io_err, sync_dir, PersistError};
use crate::atlas::list::End;
use crate::atlas::{Blob, HashValue, Keyspace, ListValue, SetValue, Shard, Value, ZsetValue};

const MAGIC: &[u8; 8] = b"HELIOSSN";
const VERSION: u32 = 3;
/// Oldest version still loaded.
const MIN_VERSION: u32 = 1;
const HEADER_LEN: usize = 32;
const BLOCK_TARGET: usize = 64 * 1024;

const REC_SELECT: u8 = 0x01;
const REC_STRING: u8 = 0x02;
const REC_HASH: u8 = 0x03;
const REC_MORE: u8 = 0x04;
const REC_SET: u8 = 0x05;
const REC_LIST: u8 = 0x06;
const REC_ZSET: u8 = 0x07;
/// Items per HASH, SET or MORE record.
pub const ITEMS_PER_RECORD: usize = 512;
const REC_END: u8 = 0xFF;

/// A point-in-time view of every database (shards shared copy-on-write).
pub type View = Vec<Vec<Arc<Shard>>>;

/// Captures a view of the keyspace. Cheap: clones `Arc`s only.
pub fn capture(ks: &Keyspace) -> View {
    ks.dbs.iter().map(|db| db.view()).collect()
}

struct BlockWriter<W: Write> {
    out: W,
    block: Vec<u8>,
}

impl<W: Write> BlockWriter<W> {
    fn flush_block(&mut self) -> std::io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.out
            .write_all(&(self.block.len() as u32).to_le_bytes())?;
        self.out
            .write_all(&crc32c::crc32c(&self.block).to_le_bytes())?;
        self.out.write_all(&self.block)?;
        self.block.clear();
        Ok(())
    }

    fn record_done(&mut self) -> std::io::Result<()> {
        if self.block.len() >= BLOCK_TARGET {
            self.flush_block()?;
        }
        Ok(())
    }
}

/// Writes `view` to `path` atomically. Entries already expired at
/// `created_ms` are left out: every later command saw them as absent.
/// Returns the number of keys written.
pub fn write(path: &Path, view: &View, gen: u64, created_ms: u64) -> Result<u64, PersistError> {
    let tmp = path.with_extension("hsnap.tmp");
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let res = write_to(&mut out, view, gen, created_ms).and_then(|keys| {
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok(keys)
    });
    let keys = res.map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(keys)
}

/// Writes the snapshot format to any stream (a file, or the tail of a Raft
/// snapshot file). Returns the number of keys written.
pub fn write_to<W: Write>(out: W, view: &View, gen: u64, created_ms: u64) -> std::io::Result<u64> {
    let mut w = BlockWriter {
        out,
        block: Vec::with_capacity(BLOCK_TARGET * 2),
    };
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&gen.to_le_bytes());
    header.extend_from_slice(&created_ms.to_le_bytes());
    let hcrc = crc32c::crc32c(&header);
    header[12..16].copy_from_slice(&hcrc.to_le_bytes());
    let mut keys = 0u64;
    w.out.write_all(&header)?;
    for (db, shards) in view.iter().enumerate() {
        if shards.iter().all(|s| s.is_empty()) {
            continue;
        }
        w.block.push(REC_SELECT);
        w.block.extend_from_slice(&(db as u32).to_le_bytes());
        for e in shards.iter().flat_map(|s| s.iter()) {
            if e.is_expired(created_ms) {
                continue;
            }
            match &e.value {
                Value::Str(v) => {
                    w.block.push(REC_STRING);
                    w.block.extend_from_slice(&e.expire_at.to_le_bytes());
                    w.block
                        .extend_from_slice(&(e.key.len() as u32).to_le_bytes());
                    w.block.extend_from_slice(&e.key);
                    w.block.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    w.block.extend_from_slice(v);
                }
                Value::Hash(h) => {
                    let mut pairs = h.iter_for_snapshot();
                    write_collection(&mut w, REC_HASH, e, h.is_large(), h.len(), |b| {
                        let (f, v) = pairs.next().expect("len() pairs");
                        put_bytes(b, f);
                        put_bytes(b, v);
                    })?;
                }
                Value::Set(set) => {
                    let mut members = set.members_for_snapshot().into_iter();
                    write_collection(&mut w, REC_SET, e, set.is_large(), set.len(), |b| {
                        put_bytes(b, &members.next().expect("len() members"));
                    })?;
                }
                Value::List(l) => {
                    let mut items = l.iter();
                    write_collection(&mut w, REC_LIST, e, false, l.len(), |b| {
                        put_bytes(b, items.next().expect("len() elements"));
                    })?;
                }
                Value::Zset(z) => {
                    let mut items = z.items_for_snapshot().into_iter();
                    write_collection(&mut w, REC_ZSET, e, z.is_large(), z.len(), |b| {
                        let (m, score) = items.next().expect("len() elements");
                        b.extend_from_slice(&score.to_bits().to_le_bytes());
                        put_bytes(b, &m);
                    })?;
                }
            }
            keys += 1;
            w.record_done()?;
        }
    }
    w.block.push(REC_END);
    w.block.extend_from_slice(&keys.to_le_bytes());
    w.flush_block()?;
    w.out.flush()?;
    Ok(keys)
}

fn put_bytes(b: &mut Vec<u8>, bytes: &[u8]) {
    b.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    b.extend_from_slice(bytes);
}

/// Writes a HASH or SET record for `e` and MORE records for the items past
/// the first [`ITEMS_PER_RECORD`]; `item` appends the next item.
fn write_collection<W: Write>(
    w: &mut BlockWriter<W>,
    tag: u8,
    e: &crate::atlas::Entry,
    large: bool,
    len: usize,
    mut item: impl FnMut(&mut Vec<u8>),
) -> std::io::Result<()> {
    w.block.push(tag);
    w.block.extend_from_slice(&e.expire_at.to_le_bytes());
    put_bytes(&mut w.block, &e.key);
    w.block.push(u8::from(large));
    let mut left = len;
    loop {
        let n = left.min(ITEMS_PER_RECORD);
        w.block.extend_from_slice(&(n as u32).to_le_bytes());
        for _ in 0..n {
            item(&mut w.block);
        }
        left -= n;
        if left == 0 {
            return Ok(());
        }
        w.record_done()?;
        w.block.push(REC_MORE);
    }
}

/// A HASH, SET or LIST being loaded: MORE records add to it.
enum Loading {
    Hash(HashValue),
    Set(SetValue),
    List(ListValue),
    Zset(ZsetValue),
}

/// Header fields of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub generation: u64,
    pub created_ms: u64,
    pub keys: u64,
}

/// Loads a snapshot into `ks` (which should be empty).
pub fn load(path: &Path, ks: &mut Keyspace) -> Result<SnapshotInfo, PersistError> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(io_err(path))?;
    load_bytes(&data, path, 0, ks)
}

/// Loads a snapshot held in `data`, which starts at byte `base` of the file
/// at `path` (both only used to name the place of a corruption).
pub fn load_bytes(
    data: &[u8],
    path: &Path,
    base: u64,
    ks: &mut Keyspace,
) -> Result<SnapshotInfo, PersistError> {
    let corrupt = |offset: usize, what: &str| PersistError::Corrupt {
        path: path.to_path_buf(),
        offset: base + offset as u64,
        what: what.to_string(),
    };
    if data.len() < HEADER_LEN || &data[..8] != MAGIC {
        return Err(corrupt(0, "not a Helios snapshot (bad magic)"));
    }
    let u32_at = |d: &[u8], i: usize| u32::from_le_bytes(d[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |d: &[u8], i: usize| u64::from_le_bytes(d[i..i + 8].try_into().expect("8 bytes"));
    let version = u32_at(data, 8);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(corrupt(
            8,
            &format!("unsupported snapshot version {version}"),
        ));
    }
    let mut h = data[..HEADER_LEN].to_vec();
    h[12..16].fill(0);
    if crc32c::crc32c(&h) != u32_at(data, 12) {
        return Err(corrupt(0, "header checksum mismatch"));
    }
    let generation = u64_at(data, 16);
    let created_ms = u64_at(data, 24);
    let mut pos = HEADER_LEN;
    let mut db = 0usize;
    let mut keys = 0u64;
    let mut ended = None;
    // The collection being read: MORE records add to it until another record.
    let mut pending: Option<(usize, Vec<u8>, u64, Loading)> = None;
    let finish = |ks: &mut Keyspace, pending: &mut Option<(usize, Vec<u8>, u64, Loading)>| {
        if let Some((db, key, expire_at, value)) = pending.take() {
            let value = match value {
                Loading::Hash(h) => Value::Hash(Arc::new(h)),
                Loading::Set(s) => Value::Set(Arc::new(s)),
                Loading::List(l) => Value::List(Arc::new(l)),
                Loading::Zset(z) => Value::Zset(Arc::new(z)),
            };
            ks.dbs[db].insert(&key, value, expire_at, created_ms);
        }
    };
    while pos < data.len() {
        if ended.is_some() {
            return Err(corrupt(pos, "data after the end record"));
        }
        if data.len() - pos < 8 {
            return Err(corrupt(pos, "truncated block header"));
        }
        let len = u32_at(data, pos) as usize;
        let crc = u32_at(data, pos + 4);
        let body_at = pos + 8;
        if data.len() - body_at < len {
            return Err(corrupt(pos, "block extends past the end of the file"));
        }
        let body = &data[body_at..body_at + len];
        if crc32c::crc32c(body) != crc {
            return Err(corrupt(pos, "block checksum mismatch"));
        }
        let mut i = 0;
        let need = |i: usize, n: usize| -> Result<(), PersistError> {
            if body.len() - i < n {
                Err(corrupt(pos, "record truncated inside its block"))
            } else {
                Ok(())
            }
        };
        let bytes_at = |i: &mut usize| -> Result<&[u8], PersistError> {
            need(*i, 4)?;
            let n = u32_at(body, *i) as usize;
            *i += 4;
            need(*i, n)?;
            *i += n;
            Ok(&body[*i - n..*i])
        };
        // Reads a count and that many items at `i` into `into`.
        let read_items = |i: &mut usize, into: &mut Loading| -> Result<(), PersistError> {
            need(*i, 4)?;
            let n = u32_at(body, *i) as usize;
            *i += 4;
            for _ in 0..n {
                let fresh = match into {
                    Loading::Hash(h) => {
                        let field = bytes_at(i)?;
                        let value = bytes_at(i)?;
                        h.insert(field, Blob::new(value))
                    }
                    Loading::Set(s) => s.insert(bytes_at(i)?),
                    Loading::List(l) => {
                        l.push(End::Right, Blob::new(bytes_at(i)?));
                        true
                    }
                    Loading::Zset(z) => {
                        need(*i, 8)?;
                        let score = f64::from_bits(u64_at(body, *i));
                        *i += 8;
                        if score.is_nan() {
                            return Err(corrupt(pos, "sorted set score is NaN"));
                        }
                        z.insert(bytes_at(i)?, score).is_none()
                    }
                };
                if !fresh {
                    return Err(corrupt(pos, "collection item repeated"));
                }
            }
            Ok(())
        };
        while i < body.len() {
            let tag = body[i];
            i += 1;
            if tag != REC_MORE {
                finish(ks, &mut pending);
            }
            match tag {
                REC_SELECT => {
                    need(i, 4)?;
                    db = u32_at(body, i) as usize;
                    i += 4;
                    if db >= ks.dbs.len() {
                        return Err(corrupt(pos, &format!("database {db} out of range")));
                    }
                }
                REC_STRING => {
                    need(i, 12)?;
                    let expire_at = u64_at(body, i);
                    let klen = u32_at(body, i + 8) as usize;
                    i += 12;
                    need(i, klen + 4)?;
                    let key = &body[i..i + klen];
                    i += klen;
                    let vlen = u32_at(body, i) as usize;
                    i += 4;
                    need(i, vlen)?;
                    let val = &body[i..i + vlen];
                    i += vlen;
                    ks.dbs[db].insert(key, Value::Str(Blob::new(val)), expire_at, created_ms);
                    keys += 1;
                }
                REC_HASH | REC_SET | REC_LIST | REC_ZSET
                    if version >= 2 && (tag != REC_ZSET || version >= 3) =>
                {
                    need(i, 8)?;
                    let expire_at = u64_at(body, i);
                    i += 8;
                    let key = bytes_at(&mut i)?.to_vec();
                    need(i, 1)?;
                    let large = match body[i] {
                        0 => false,
                        1 => true,
                        b => return Err(corrupt(pos, &format!("bad representation flag {b}"))),
                    };
                    i += 1;
                    let mut value = match (tag, large) {
                        (REC_HASH, false) => Loading::Hash(HashValue::new()),
                        (REC_HASH, true) => Loading::Hash(HashValue::new_large()),
                        (REC_LIST, _) => Loading::List(ListValue::new()),
                        (REC_ZSET, false) => Loading::Zset(ZsetValue::new()),
                        (REC_ZSET, true) => Loading::Zset(ZsetValue::new_large()),
                        (_, false) => Loading::Set(SetValue::new()),
                        (_, true) => Loading::Set(SetValue::new_large()),
                    };
                    read_items(&mut i, &mut value)?;
                    pending = Some((db, key, expire_at, value));
                    keys += 1;
                }
                REC_MORE if version >= 2 => {
                    let Some((_, _, _, value)) = pending.as_mut() else {
                        return Err(corrupt(pos, "MORE record without a collection before it"));
                    };
                    read_items(&mut i, value)?;
                }
                REC_END => {
                    need(i, 8)?;
                    ended = Some(u64_at(body, i));
                    i += 8;
                    if i != body.len() {
                        return Err(corrupt(pos, "data after the end record"));
                    }
                }
                t => return Err(corrupt(pos, &format!("unknown record type 0x{t:02x}"))),
            }
        }
        pos = body_at + len;
    }
    finish(ks, &mut pending);
    match ended {
        Some(n) if n == keys => Ok(SnapshotInfo {
            generation,
            created_ms,
            keys,
        }),
        Some(n) => Err(corrupt(
            pos,
            &format!("end record counts {n} keys, file holds {keys}"),
        )),
        None => Err(corrupt(pos, "missing end record (truncated file)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Keyspace {
        let mut ks = Keyspace::new(16);
        for i in 0..n {
            let v = if i % 3 == 0 {
                vec![b'x'; 100]
            } else {
                b"v".to_vec()
            };
            ks.dbs[i % 2].insert(
                format!("key:{i}").as_bytes(),
                Value::Str(Blob::new(&v)),
                if i % 5 == 0 { 9_999_999_999_999 } else { 0 },
                1,
            );
        }
        ks.dbs[7].insert(b"gone", Value::Str(Blob::new(b"x")), 10, 1);
        // Hashes: small, over several MORE records, and one that expires.
        for (i, fields) in [3usize, 1500, 40].into_iter().enumerate() {
            let mut h = HashValue::new();
            for f in 0..fields {
                h.insert(
                    format!("field:{f}").as_bytes(),
                    Blob::new(&[b'v'; 30][..f % 30]),
                );
            }
            ks.dbs[1].insert(
                format!("hash:{i}").as_bytes(),
                Value::Hash(Arc::new(h)),
                if i == 2 { 9_999_999_999_999 } else { 0 },
                1,
            );
        }
        // Sets: an intset, and a large one that shrank back to integers
        // (it must stay a hashtable, with its slot order).
        let mut ints = SetValue::new();
        for m in [30, -2, 7] {
            ints.insert(m.to_string().as_bytes());
        }
        ks.dbs[1].insert(b"set:0", Value::Set(Arc::new(ints)), 0, 1);
        let mut shrunk = SetValue::new();
        for m in 0..1200 {
            shrunk.insert(format!("{}{m}", if m % 2 == 0 { "" } else { "m" }).as_bytes());
        }
        for m in 0..1200 {
            if m % 2 == 1 || m % 3 == 0 {
                shrunk.remove(format!("{}{m}", if m % 2 == 0 { "" } else { "m" }).as_bytes());
            }
        }
        ks.dbs[1].insert(b"set:1", Value::Set(Arc::new(shrunk)), 0, 1);
        let mut list = ListValue::new();
        for i in 0..1100 {
            list.push(End::Left, Blob::new(format!("e{i}").as_bytes()));
        }
        ks.dbs[2].insert(b"list", Value::List(Arc::new(list)), 0, 1);
        // Sorted sets: a listpack, and a skiplist over several MORE records
        // holding -0 and the infinities.
        let mut small = ZsetValue::new();
        for (m, s) in [("b", 2.0), ("a", 2.0), ("c", -1.5)] {
            small.insert(m.as_bytes(), s);
        }
        ks.dbs[2].insert(b"zset:0", Value::Zset(Arc::new(small)), 0, 1);
        let mut large = ZsetValue::new();
        for i in 0..1300 {
            large.insert(format!("m{i}").as_bytes(), (i % 17) as f64 * 0.1);
        }
        large.insert(b"neg-zero", -0.0);
        large.insert(b"top", f64::INFINITY);
        large.insert(b"bottom", f64::NEG_INFINITY);
        ks.dbs[2].insert(b"zset:1", Value::Zset(Arc::new(large)), 0, 1);
        ks
    }

    #[test]
    fn roundtrip_keeps_values_expiry_and_dbs() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("snapshot-00000002.hsnap");
        let ks = sample(20_000);
        let n = write(&p, &capture(&ks), 2, 1000).unwrap();
        assert_eq!(n, 20_008, "the expired key is not written");
        let mut back = Keyspace::new(16);
        let info = load(&p, &mut back).unwrap();
        assert_eq!(
            info,
            SnapshotInfo {
                generation: 2,
                created_ms: 1000,
                keys: 20_008
            }
        );
        for db in 0..3 {
            assert_eq!(back.dbs[db].len(), ks.dbs[db].len());
            assert_eq!(back.dbs[db].expires_len(), ks.dbs[db].expires_len());
            for e in ks.dbs[db].iter() {
                let got = back.dbs[db].peek(&e.key, 1).unwrap();
                assert_eq!((&got.value, got.expire_at), (&e.value, e.expire_at));
            }
        }
        assert!(back.dbs[7].is_empty());
        let Some(Value::Hash(big)) = back.dbs[1].peek(b"hash:1", 1).map(|e| &e.value) else {
            panic!("hash:1 is a hash")
        };
        assert_eq!((big.len(), big.encoding()), (1500, "hashtable"));
        let Some(Value::Hash(small)) = back.dbs[1].peek(b"hash:0", 1).map(|e| &e.value) else {
            panic!("hash:0 is a hash")
        };
        let order: Vec<&[u8]> = small.iter().map(|(f, _)| f.as_slice()).collect();
        assert_eq!(order, [&b"field:0"[..], b"field:1", b"field:2"]);
        assert_eq!(small.encoding(), "listpack");
        let Some(Value::Set(ints)) = back.dbs[1].peek(b"set:0", 1).map(|e| &e.value) else {
            panic!("set:0 is a set")
        };
        assert_eq!(ints.encoding(), "intset");
        assert_eq!(
            ints.members(),
            [b"-2".to_vec(), b"7".to_vec(), b"30".to_vec()]
        );
        let Some(Value::Set(shrunk)) = back.dbs[1].peek(b"set:1", 1).map(|e| &e.value) else {
            panic!("set:1 is a set")
        };
        let Some(Value::Set(orig)) = ks.dbs[1].peek(b"set:1", 1).map(|e| &e.value) else {
            panic!("set:1 is a set")
        };
        assert_eq!(shrunk.encoding(), "hashtable");
        for r in 0..orig.len() as u64 {
            assert_eq!(shrunk.random(r), orig.random(r), "slot {r} restored");
        }
        let zset = |ks: &Keyspace, key: &[u8]| match ks.dbs[2].peek(key, 1).map(|e| &e.value) {
            Some(Value::Zset(z)) => Arc::clone(z),
            _ => panic!("a sorted set"),
        };
        let (small, large) = (zset(&back, b"zset:0"), zset(&back, b"zset:1"));
        assert_eq!(small.encoding(), "listpack");
        let order: Vec<&[u8]> = small
            .iter_range(0, 3, false)
            .map(|(m, _)| m.as_slice())
            .collect();
        assert_eq!(order, [&b"c"[..], b"a", b"b"]);
        assert_eq!((large.len(), large.encoding()), (1303, "skiplist"));
        assert!(large.score(b"neg-zero").unwrap().is_sign_negative());
        assert_eq!(large.get(0).unwrap().0.as_slice(), b"bottom");
        assert_eq!(large.rank(b"top"), Some(1302));
        let orig = zset(&ks, b"zset:1");
        for r in 0..orig.len() as u64 {
            assert_eq!(large.random(r), orig.random(r), "slot {r} restored");
        }
    }

    /// `ks` written to `p`, with the header rewritten to say version 1.
    fn written_as_version_1(p: &Path, ks: &Keyspace) -> Vec<u8> {
        write(p, &capture(ks), 4, 1000).unwrap();
        let mut data = std::fs::read(p).unwrap();
        data[8..12].copy_from_slice(&1u32.to_le_bytes());
        data[12..16].fill(0);
        let crc = crc32c::crc32c(&data[..HEADER_LEN]);
        data[12..16].copy_from_slice(&crc.to_le_bytes());
        data
    }

    #[test]
    fn version_1_files_still_load() {
        // A version-1 file is a version-2 file with strings only and the
        // old version number: rewrite the header of one.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v1.hsnap");
        let mut ks = Keyspace::new(16);
        ks.dbs[0].insert(b"k", Value::Str(Blob::new(b"v")), 0, 1);
        let data = written_as_version_1(&p, &ks);
        let mut back = Keyspace::new(16);
        let info = load_bytes(&data, &p, 0, &mut back).unwrap();
        assert_eq!(info.keys, 1);
        assert_eq!(
            back.dbs[0].peek(b"k", 1).unwrap().value,
            Value::Str(Blob::new(b"v"))
        );
        // Version 1 has no hash records: one there is corruption.
        let mut h = HashValue::new();
        h.insert(b"f", Blob::new(b"v"));
        let mut ks = Keyspace::new(16);
        ks.dbs[0].insert(b"h", Value::Hash(Arc::new(h)), 0, 1);
        let data = written_as_version_1(&p, &ks);
        let e = load_bytes(&data, &p, 0, &mut Keyspace::new(16)).unwrap_err();
        assert!(e.to_string().contains("unknown record type 0x03"), "{e}");
    }

    #[test]
    fn any_flipped_byte_is_detected_with_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.hsnap");
        write(&p, &capture(&sample(5000)), 1, 1000).unwrap();
        let good = std::fs::read(&p).unwrap();
        for at in [
            0,
            9,
            13,
            17,
            30,
            HEADER_LEN + 2,
            HEADER_LEN + 10,
            good.len() / 2,
            good.len() - 3,
        ] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            std::fs::write(&p, &bad).unwrap();
            let err = load(&p, &mut Keyspace::new(16)).unwrap_err();
            assert!(
                matches!(err, PersistError::Corrupt { .. }),
                "byte {at}: {err}"
            );
        }
        std::fs::write(&p, &good[..good.len() - 20]).unwrap();
        assert!(
            load(&p, &mut Keyspace::new(16)).is_err(),
            "truncation detected"
        );
    }
}
