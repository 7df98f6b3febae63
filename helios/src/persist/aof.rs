//! The append-only file: format, writer (group commit) and replay.
//!
//! # Format
//!
//! An AOF is a text file Redis's own tools can read:
//!
//! ```text
//! #HELIOS-AOF 1 gen=3\r\n                      header: format version 1, generation
//! *2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n           RESP multibulk commands ...
//! *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n
//! #CRC32C 52 1a2b3c4d\r\n                       batch trailer
//! ...
//! ```
//!
//! Commands are written in batches (one batch per group commit). Every batch
//! ends with a trailer line giving the batch's length in bytes and the
//! CRC-32C of those bytes, in lower-case hex. Lines starting with `#` are
//! annotations that Redis's loader skips, so the file stays a valid Redis AOF.
//! Commands appear in replayable form: absolute expiry (`PEXPIREAT`,
//! `SET ... PXAT`), `INCRBYFLOAT` as `SET ... KEEPTTL`, and a `SELECT`
//! before the first command of each database switch.
//!
//! On replay, a batch is applied only once its trailer verified. A batch at
//! the end of the newest file without a valid trailer is a torn write from a
//! crash: it was never acknowledged, so it is truncated with a warning.
//! Anything else that does not verify is corruption and stops start-up with
//! the file and byte offset.
//!
//! # Durability (the writer)
//!
//! Commands are appended to [`AofStream`] under the keyspace lock, so the
//! file order is the order in which the keyspace changed. A connection that
//! ran a batch calls [`AofWriter::commit`] before replying. With
//! `appendfsync always` the connection hands over to the fsync thread and
//! waits: the thread writes everything pending from all connections in one
//! `write` and syncs it with one `fdatasync` (group commit), then wakes
//! every connection whose offset is covered. With `everysec` and `no` the
//! connection writes the pending bytes itself (whoever gets there first
//! writes for everyone); the fsync thread syncs once a second (`everysec`)
//! or never (`no`). Either way the reply waits for the `write`, so a
//! process crash loses nothing.
//!
//! Lock order: the writer lock, then the keyspace lock (to take the pending
//! bytes). Code running under the keyspace lock never takes the writer lock.
//!
//! A failed write or fsync leaves the keyspace ahead of the disk. Helios then
//! logs the error and exits rather than acknowledge writes it cannot keep
//! (Redis does the same under `always`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;

use super::{aof_path, io_err, sync_dir, PersistError};
use crate::config::FsyncPolicy;
use crate::resp::out::push_i64;
use crate::resp::parse::{Limits, RequestParser};

const HEADER_PREFIX: &str = "#HELIOS-AOF ";
const FORMAT_VERSION: u32 = 1;
const TRAILER_PREFIX: &[u8] = b"#CRC32C ";

/// The in-memory tail of the AOF: commands appended under the keyspace lock
/// and not yet handed to the writer. Offsets are logical (bytes of command
/// data since the process started) and never go backwards.
#[derive(Debug, Default)]
pub struct AofStream {
    pending: Vec<u8>,
    /// Logical offset after the last appended byte.
    pub end: u64,
    /// Logical offset up to which bytes were handed to the writer.
    taken: u64,
    selected_db: Option<usize>,
    /// Generation the next appended bytes belong to.
    pub gen: u64,
    /// A requested switch to a new file: (logical offset, new generation).
    rotate: Option<(u64, u64)>,
}

impl AofStream {
    /// Appends a command, preceded by a `SELECT` if the database changed.
    pub fn append<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        let before = self.pending.len();
        if self.selected_db != Some(db) {
            let mut tmp = Vec::with_capacity(4);
            push_i64(&mut tmp, db as i64);
            encode_command(&mut self.pending, &[&b"SELECT"[..], &tmp]);
            self.selected_db = Some(db);
        }
        encode_command(&mut self.pending, args);
        self.end += (self.pending.len() - before) as u64;
    }

    /// Cuts the stream: bytes appended from now on belong to the next
    /// generation, which is returned. Used when a snapshot captures the
    /// keyspace, under the same lock, so the cut matches the snapshot exactly.
    pub fn cut(&mut self) -> u64 {
        debug_assert!(self.rotate.is_none(), "one snapshot at a time");
        self.gen += 1;
        self.rotate = Some((self.end, self.gen));
        // The new file is replayed by a fresh client in database 0.
        self.selected_db = None;
        self.gen
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode_command<A: AsRef<[u8]>>(buf: &mut Vec<u8>, args: &[A]) {
    buf.push(b'*');
    push_i64(buf, args.len() as i64);
    buf.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        buf.push(b'$');
        push_i64(buf, a.len() as i64);
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// The fsync thread's doorbell.
#[derive(Default)]
struct Wake {
    /// Work was requested since the thread last looked.
    rung: bool,
    /// The thread is blocked on the condvar (only then is a futex wake
    /// worth its syscall).
    sleeping: bool,
}

struct WriterState {
    file: Arc<File>,
    gen: u64,
    path: PathBuf,
    /// Bytes in the current file.
    size: u64,
    /// Recycled buffer swapped with the stream's pending bytes.
    spare: Vec<u8>,
}

/// Writes the AOF and keeps it synced according to the fsync policy.
pub struct AofWriter {
    dir: PathBuf,
    /// The keyspace lock, which also guards the pending AOF bytes.
    store: Arc<Mutex<crate::cmd::Store>>,
    policy: AtomicU8,
    state: Mutex<WriterState>,
    written: AtomicU64,
    synced: AtomicU64,
    synced_tx: tokio::sync::watch::Sender<u64>,
    wake: (std::sync::Mutex<Wake>, Condvar),
    stop: AtomicBool,
    /// Mirrors of the current file's size and generation for `current`.
    file_size: AtomicU64,
    file_gen: AtomicU64,
    /// fsync count and total time, for INFO and metrics.
    pub fsyncs: AtomicU64,
    pub fsync_micros: AtomicU64,
}

impl std::fmt::Debug for AofWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AofWriter").field("dir", &self.dir).finish()
    }
}

fn policy_code(p: FsyncPolicy) -> u8 {
    match p {
        FsyncPolicy::Always => 0,
        FsyncPolicy::Every => 1,
        FsyncPolicy::No => 2,
    }
}

fn fatal(what: &str, e: impl std::fmt::Display) -> ! {
    tracing::error!("{what}: {e}; exiting rather than acknowledge writes that are not on disk");
    std::process::exit(1)
}

impl AofWriter {
    /// Opens (or creates) `appendonly-<gen>.aof` for appending and starts
    /// the fsync thread.
    pub fn open(
        dir: &Path,
        gen: u64,
        policy: FsyncPolicy,
        store: Arc<Mutex<crate::cmd::Store>>,
    ) -> Result<Arc<AofWriter>, PersistError> {
        let (file, path, size) = open_file(dir, gen)?;
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let w = Arc::new(AofWriter {
            dir: dir.to_path_buf(),
            store,
            policy: AtomicU8::new(policy_code(policy)),
            state: Mutex::new(WriterState {
                file: Arc::new(file),
                gen,
                path,
                size,
                spare: Vec::new(),
            }),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            synced_tx: tx,
            wake: (std::sync::Mutex::new(Wake::default()), Condvar::new()),
            stop: AtomicBool::new(false),
            file_size: AtomicU64::new(size),
            file_gen: AtomicU64::new(gen),
            fsyncs: AtomicU64::new(0),
            fsync_micros: AtomicU64::new(0),
        });
        let bg = w.clone();
        std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || bg.fsync_loop())
            .map_err(io_err(dir))?;
        Ok(w)
    }

    pub fn policy(&self) -> FsyncPolicy {
        match self.policy.load(Ordering::Relaxed) {
            0 => FsyncPolicy::Always,
            1 => FsyncPolicy::Every,
            _ => FsyncPolicy::No,
        }
    }

    pub fn set_policy(&self, p: FsyncPolicy) {
        self.policy.store(policy_code(p), Ordering::Relaxed);
        self.notify();
    }

    /// Bytes in the current file and its generation. Lock-free: `INFO`
    /// calls it while holding the keyspace lock, and `flush` takes the
    /// writer lock before the keyspace lock.
    pub fn current(&self) -> (u64, u64) {
        (
            self.file_size.load(Ordering::Relaxed),
            self.file_gen.load(Ordering::Relaxed),
        )
    }

    /// Makes sure everything up to logical offset `needed` is written to
    /// the file (not necessarily synced).
    pub fn flush_to(&self, needed: u64) {
        if self.written.load(Ordering::Acquire) >= needed {
            return;
        }
        self.flush(needed);
    }

    /// Writes everything pending, handling a requested rotation. `needed`
    /// lets a flusher that waited for the lock notice that another one
    /// already did its work.
    pub fn flush(&self, needed: u64) {
        let mut w = self.state.lock();
        // Group commit: another connection may have written our bytes while
        // we waited for the lock. `u64::MAX` forces a flush (and with it a
        // pending rotation) even when nothing new was appended.
        if needed != u64::MAX && self.written.load(Ordering::Acquire) >= needed {
            return;
        }
        let mut data = std::mem::take(&mut w.spare);
        data.clear();
        let (start, rotate) = {
            let mut st = self.store.lock();
            std::mem::swap(&mut st.aof.pending, &mut data);
            let start = st.aof.taken;
            st.aof.taken = st.aof.end;
            (start, st.aof.rotate.take())
        };
        let end = start + data.len() as u64;
        let result = match rotate {
            Some((at, gen)) => {
                let split = (at - start) as usize;
                let mut tail = data.split_off(split);
                self.write_batch(&mut w, &mut data)
                    .and_then(|_| w.file.sync_data().map_err(io_err(&w.path)))
                    .and_then(|_| self.switch_file(&mut w, gen))
                    .and_then(|_| self.write_batch(&mut w, &mut tail))
            }
            None => self.write_batch(&mut w, &mut data),
        };
        if let Err(e) = result {
            fatal("append-only file write failed", e);
        }
        w.spare = data;
        self.file_size.store(w.size, Ordering::Relaxed);
        self.file_gen.store(w.gen, Ordering::Relaxed);
        self.written.store(end, Ordering::Release);
    }

    fn write_batch(&self, w: &mut WriterState, data: &mut Vec<u8>) -> Result<(), PersistError> {
        if data.is_empty() {
            return Ok(());
        }
        let len = data.len();
        let crc = crc32c::crc32c(data);
        data.extend_from_slice(format!("#CRC32C {len} {crc:08x}\r\n").as_bytes());
        let mut f: &File = &w.file;
        f.write_all(data).map_err(io_err(&w.path))?;
        w.size += data.len() as u64;
        data.truncate(len);
        Ok(())
    }

    fn switch_file(&self, w: &mut WriterState, gen: u64) -> Result<(), PersistError> {
        let (file, path, size) = open_file(&self.dir, gen)?;
        w.file = Arc::new(file);
        w.path = path;
        w.size = size;
        w.gen = gen;
        Ok(())
    }

    /// Makes everything up to logical offset `needed` durable as the
    /// policy requires before a reply may be sent: written to the file for
    /// `everysec` and `no` (done right here, in the caller), written and
    /// fsynced for `always` (done by the fsync thread, which writes and
    /// syncs everything pending from all connections in one go).
    pub async fn commit(&self, needed: u64) {
        if self.policy() != FsyncPolicy::Always {
            self.flush_to(needed);
            return;
        }
        if self.synced.load(Ordering::Acquire) >= needed {
            return;
        }
        // Let the other connections that are ready append first, so they
        // share this fsync (Redis gets the same batching by syncing once per
        // event-loop iteration).
        tokio::task::yield_now().await;
        if self.synced.load(Ordering::Acquire) >= needed {
            return;
        }
        let mut rx = self.synced_tx.subscribe();
        self.notify();
        let _ = rx.wait_for(|&s| s >= needed).await;
    }

    fn notify(&self) {
        let (m, c) = &self.wake;
        let mut w = m.lock().unwrap_or_else(|e| e.into_inner());
        w.rung = true;
        if w.sleeping {
            c.notify_one();
        }
    }

    fn sync_now(&self) {
        let target = self.written.load(Ordering::Acquire);
        if target <= self.synced.load(Ordering::Acquire) {
            return;
        }
        let file = self.state.lock().file.clone();
        let t = Instant::now();
        if let Err(e) = file.sync_data() {
            let path = self.state.lock().path.clone();
            fatal(&format!("fsync of {} failed", path.display()), e);
        }
        crate::metrics::observe_wal_fsync(t.elapsed());
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_micros
            .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.synced.store(target, Ordering::Release);
        self.synced_tx.send_replace(target);
    }

    fn fsync_loop(&self) {
        let mut last = Instant::now();
        loop {
            {
                let (m, c) = &self.wake;
                let mut w = m.lock().unwrap_or_else(|e| e.into_inner());
                if !w.rung {
                    w.sleeping = true;
                    w = c
                        .wait_timeout(w, Duration::from_millis(100))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    w.sleeping = false;
                }
                w.rung = false;
            }
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            match self.policy() {
                FsyncPolicy::Always => {
                    self.flush(u64::MAX);
                    self.sync_now();
                }
                FsyncPolicy::Every if last.elapsed() >= Duration::from_secs(1) => {
                    self.sync_now();
                    last = Instant::now();
                }
                _ => {}
            }
        }
    }

    /// Flushes and fsyncs everything, then stops the fsync thread. Used at
    /// shutdown.
    pub fn close(&self) {
        self.flush(u64::MAX);
        self.sync_now();
        self.stop.store(true, Ordering::Release);
        self.notify();
    }

    /// Flushes pending bytes and processes a pending rotation, then syncs.
    pub fn flush_and_sync(&self) {
        self.flush(u64::MAX);
        self.sync_now();
    }
}

fn open_file(dir: &Path, gen: u64) -> Result<(File, PathBuf, u64), PersistError> {
    let path = aof_path(dir, gen);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(&path)
        .map_err(io_err(&path))?;
    let mut size = file.metadata().map_err(io_err(&path))?.len();
    if size == 0 {
        let header = format!("{HEADER_PREFIX}{FORMAT_VERSION} gen={gen}\r\n");
        file.write_all(header.as_bytes()).map_err(io_err(&path))?;
        file.sync_all().map_err(io_err(&path))?;
        sync_dir(dir)?;
        size = header.len() as u64;
    }
    Ok((file, path, size))
}

/// What replaying one file found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub commands: u64,
    /// Set when a torn tail was cut off: the new length of the file.
    pub truncated_to: Option<u64>,
}

/// Replays one AOF file, calling `apply` for every command of every
/// verified batch. `last` says whether this is the newest file (the only one
/// allowed to end in a torn batch, which is then truncated on disk).
pub fn replay(
    path: &Path,
    last: bool,
    mut apply: impl FnMut(&[Bytes]) -> Result<(), String>,
) -> Result<ReplayReport, PersistError> {
    let data = std::fs::read(path).map_err(io_err(path))?;
    let corrupt = |offset: usize, what: String| PersistError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        what,
    };
    let mut report = ReplayReport::default();
    // Header.
    let Some(nl) = data.iter().position(|&b| b == b'\n') else {
        if data.is_empty() {
            return Ok(report);
        }
        return Err(corrupt(0, "missing header line".into()));
    };
    let header = String::from_utf8_lossy(&data[..nl]);
    let version = header
        .trim_end()
        .strip_prefix(HEADER_PREFIX)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(corrupt(
                0,
                format!("unsupported format version {v} (this build reads {FORMAT_VERSION})"),
            ))
        }
        None => return Err(corrupt(0, format!("not a Helios AOF header: {header:?}"))),
    }
    let mut batch_start = nl + 1;
    let mut batch: Vec<(usize, Vec<Bytes>)> = Vec::new();
    let limits = Limits {
        max_bulk_len: usize::MAX >> 1,
        max_multibulk_len: usize::MAX >> 1,
        max_inline_len: 64 * 1024,
    };
    let mut parser = RequestParser::new(limits);
    // `buf` is the unread rest of the file; `pos` its offset in the file.
    let mut buf = BytesMut::from(&data[..]);
    buf.advance(nl + 1);
    // A problem at `at` is a torn tail, cut off at the start of its batch,
    // when this is the newest file and no complete batch follows it.
    let torn_or_corrupt = |at: usize, batch_start: usize, what: String| {
        let later = data[at..]
            .windows(TRAILER_PREFIX.len() + 1)
            .any(|w| w[0] == b'\n' && &w[1..] == TRAILER_PREFIX);
        if last && !later {
            Ok(batch_start as u64)
        } else {
            Err(corrupt(at, what))
        }
    };
    loop {
        let pos = data.len() - buf.len();
        if buf.is_empty() {
            if batch_start < data.len() {
                report.truncated_to = Some(torn_or_corrupt(
                    batch_start,
                    batch_start,
                    "incomplete final batch".into(),
                )?);
            }
            break;
        }
        if buf[0] == b'#' {
            let Some(rel) = buf.iter().position(|&b| b == b'\n') else {
                report.truncated_to = Some(torn_or_corrupt(
                    pos,
                    batch_start,
                    "incomplete trailer".into(),
                )?);
                break;
            };
            let line = buf.split_to(rel + 1);
            let next = pos + rel + 1;
            if let Some(rest) = line[..rel].strip_prefix(TRAILER_PREFIX) {
                let rest = String::from_utf8_lossy(rest);
                let mut it = rest.split_whitespace();
                let len = it.next().and_then(|l| l.parse::<usize>().ok());
                let crc = it.next().and_then(|c| u32::from_str_radix(c, 16).ok());
                let body = &data[batch_start..pos];
                if len != Some(body.len()) || crc != Some(crc32c::crc32c(body)) {
                    if last && next >= data.len() {
                        report.truncated_to = Some(batch_start as u64);
                        break;
                    }
                    return Err(corrupt(batch_start, "batch checksum mismatch".into()));
                }
                for (at, args) in batch.drain(..) {
                    apply(&args)
                        .map_err(|e| corrupt(at, format!("command failed on replay: {e}")))?;
                    report.commands += 1;
                }
                batch_start = next;
            }
            continue;
        }
        match parser.parse(&mut buf) {
            Ok(Some(args)) => {
                if !args.is_empty() {
                    batch.push((pos, args));
                }
            }
            Ok(None) => {
                report.truncated_to = Some(torn_or_corrupt(
                    pos,
                    batch_start,
                    "incomplete command".into(),
                )?);
                break;
            }
            Err(e) => {
                report.truncated_to = Some(torn_or_corrupt(
                    pos,
                    batch_start,
                    format!("unparsable command: {e}"),
                )?);
                break;
            }
        }
    }
    if let Some(len) = report.truncated_to {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        f.set_len(len).map_err(io_err(path))?;
        f.sync_all().map_err(io_err(path))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(cmds: &[&[&[u8]]]) -> Vec<u8> {
        let mut body = Vec::new();
        for c in cmds {
            encode_command(&mut body, c);
        }
        let crc = crc32c::crc32c(&body);
        let mut out = body.clone();
        out.extend_from_slice(format!("#CRC32C {} {crc:08x}\r\n", body.len()).as_bytes());
        out
    }

    fn file(batches: &[Vec<u8>]) -> Vec<u8> {
        let mut f = b"#HELIOS-AOF 1 gen=1\r\n".to_vec();
        for b in batches {
            f.extend_from_slice(b);
        }
        f
    }

    fn run(
        bytes: &[u8],
        last: bool,
    ) -> (Result<ReplayReport, PersistError>, Vec<Vec<u8>>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.aof");
        std::fs::write(&p, bytes).unwrap();
        let mut seen = Vec::new();
        let r = replay(&p, last, |args| {
            seen.push(args[1].to_vec());
            Ok(())
        });
        let after = std::fs::read(&p).unwrap();
        (r, seen, after)
    }

    #[test]
    fn replays_verified_batches() {
        let f = file(&[
            batch(&[&[b"SET", b"a", b"1"], &[b"SET", b"b", b"2"]]),
            batch(&[&[b"DEL", b"c"]]),
        ]);
        let (r, seen, _) = run(&f, true);
        assert_eq!(
            r.unwrap(),
            ReplayReport {
                commands: 3,
                truncated_to: None
            }
        );
        assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn torn_tail_is_truncated_at_every_cut_point() {
        let good = file(&[batch(&[&[b"SET", b"a", b"1"]])]);
        let tail = batch(&[&[b"SET", b"b", b"2"]]);
        for cut in 1..tail.len() {
            let mut f = good.clone();
            f.extend_from_slice(&tail[..cut]);
            let (r, seen, after) = run(&f, true);
            let r = r.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert_eq!(r.truncated_to, Some(good.len() as u64), "cut {cut}");
            assert_eq!(seen, vec![b"a".to_vec()], "cut {cut}");
            assert_eq!(
                after, good,
                "cut {cut}: file truncated to the last good batch"
            );
        }
    }

    #[test]
    fn torn_tail_in_an_older_file_is_corruption() {
        let mut f = file(&[batch(&[&[b"SET", b"a", b"1"]])]);
        f.extend_from_slice(b"*3\r\n$3\r\nSET");
        let (r, _, _) = run(&f, false);
        assert!(matches!(r, Err(PersistError::Corrupt { .. })));
    }

    #[test]
    fn corruption_in_the_middle_names_the_offset() {
        let first = batch(&[&[b"SET", b"a", b"1"]]);
        let mut f = file(&[first.clone(), batch(&[&[b"SET", b"b", b"2"]])]);
        let header_len = b"#HELIOS-AOF 1 gen=1\r\n".len();
        f[header_len + 20] ^= 0x01; // flip a bit inside the first batch's value
        let (r, seen, _) = run(&f, true);
        match r {
            Err(PersistError::Corrupt { offset, .. }) => assert_eq!(offset, header_len as u64),
            other => panic!("expected corruption, got {other:?}"),
        }
        assert!(seen.is_empty(), "nothing from a bad batch is applied");
    }

    #[test]
    fn bad_header_is_refused() {
        let (r, _, _) = run(b"*1\r\n$4\r\nPING\r\n", true);
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("not a Helios AOF header"));
        let (r, _, _) = run(b"#HELIOS-AOF 9 gen=1\r\n", true);
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("unsupported format version 9"));
    }

    #[test]
    fn stream_emits_select_on_db_change_and_after_cut() {
        let mut s = AofStream::default();
        s.append(0, &[&b"SET"[..], b"a", b"1"]);
        s.append(0, &[&b"SET"[..], b"b", b"1"]);
        s.append(3, &[&b"SET"[..], b"c", b"1"]);
        let text = String::from_utf8(s.pending.clone()).unwrap();
        assert_eq!(text.matches("SELECT").count(), 2);
        assert_eq!(s.end, s.pending.len() as u64);
        let g = s.cut();
        assert_eq!(g, 1);
        s.append(3, &[&b"SET"[..], b"d", b"1"]);
        let text = String::from_utf8(s.pending.clone()).unwrap();
        assert_eq!(text.matches("SELECT").count(), 3);
    }
}
