//! Segmented, checksummed write-ahead log backing Helios' openraft log store.
//!
//! # What this module owns
//!
//! One directory of append-only segment files holding, in write order, every
//! change the raft log store makes: log entries (opaque payloads keyed by log
//! index), the vote, the committed marker, truncations and purges. All
//! payloads and markers are opaque bytes to this module. While running the WAL
//! is write-only (the caller keeps its own in-memory copy for reads); it is
//! read exactly once, by [`Wal::open`], which replays it into [`Recovered`].
//!
//! # Files
//!
//! `dir/wal-<seq>.log`, where `<seq>` is a 20-digit zero-padded decimal that
//! starts at 1 and grows by one per segment. Before every write, if the current
//! segment has reached `segment_bytes`, a new segment is started; one write (a
//! whole append batch) never spans two segments. Other file names are ignored.
//!
//! # Segment layout (all integers little-endian)
//!
//! ```text
//! byte 0..8   magic + format version: b"HWAL\0\0\0\x01"
//! byte 8..    Checkpoint record, then any number of other records
//!
//! record:     u32 len         payload length in bytes, always > 0
//!             u32 crc         crc32c (Castagnoli) of the payload
//!             [u8; len]       payload = u8 kind, then the body below
//!
//! kind 1 Entry          u64 index, entry bytes (rest of payload)
//! kind 2 Vote           vote bytes (rest of payload)
//! kind 3 Committed      committed bytes (rest of payload)
//! kind 4 TruncateAfter  u8 has (0|1), u64 index (0 if has = 0)
//!                       removes entries > index, or all entries if has = 0
//! kind 5 Purge          u64 upto, purged blob (rest of payload)
//!                       removes entries <= upto, sets the purged marker
//! kind 6 Checkpoint     u8 has_vote,      if 1: u32 len, vote bytes
//!                       u8 has_committed, if 1: u32 len, committed bytes
//!                       u8 has_purged,    if 1: u64 upto, u32 len, blob bytes
//! ```
//!
//! # Invariants
//!
//! * Every segment starts with a Checkpoint of vote/committed/purged as they
//!   were when it was created, so older segments can be deleted without losing
//!   those markers. A Checkpoint appears nowhere else.
//! * A new segment's header and checkpoint are fsynced, and the directory too,
//!   before anything else goes into it; the previous segment is fsynced before
//!   rotating. So every segment except the last is complete on disk, and only
//!   the last one can ever end in a torn record.
//! * Entries stay contiguous. An Entry first drops any entries >= its index
//!   (openraft overwrites conflicting entries); then its index must be last+1,
//!   or, if no entries remain, greater than the purged index. [`Wal::append`]
//!   rejects anything else, and replay reports a violation as corruption.
//! * Segments are deleted only from the front, never the current one, only if
//!   every entry ever written to them is <= the purged index, and only after
//!   the Purge record is fsynced. So a gap in the sequence is corruption.
//! * After any failed write or fsync the log is poisoned: every later call and
//!   callback gets an error (after a failed fsync the kernel may have dropped
//!   dirty pages, so retrying cannot be trusted).
//!
//! # Recovery
//!
//! Segments are replayed in sequence order into a model (BTreeMap of
//! entries + markers). In the LAST segment a torn tail is dropped: a record
//! header or payload running past EOF, zero bytes from a record start to EOF,
//! or a checksum mismatch in a record followed only by zero bytes (or nothing).
//! The file is cut at that record's start (fsynced) and reported in
//! [`Recovered::torn_tail`]; appends then continue in that segment. If the tail
//! cut leaves the last segment without its checkpoint (a crash while it was
//! created), the header and checkpoint are rewritten. Anything else invalid
//! (bad magic, unknown kind, bad checksum followed by data, any damage in an
//! earlier segment, a gap) is [`WalError::Corrupt`] with file and byte offset.
//!
//! # Durability
//!
//! See [`FsyncPolicy`]. Independently of the policy: save_vote, truncate_after
//! and rotation fsync before returning; purge fsyncs only when it deletes
//! segments; close (and Drop, best effort) fsyncs the current segment.
//!
//! # What it does not do
//!
//! Serve reads; interpret blobs; guard against two processes opening the same
//! directory; repair corruption other than a torn tail; compress. Segments are
//! read whole into memory at open, so `segment_bytes` bounds that memory
//! (plus one append batch, since batches are never split).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAGIC: &[u8; 8] = b"HWAL\0\0\0\x01";
const HEADER: usize = 8;
const EVERY_INTERVAL: Duration = Duration::from_secs(1);

const KIND_ENTRY: u8 = 1;
const KIND_VOTE: u8 = 2;
const KIND_COMMITTED: u8 = 3;
const KIND_TRUNCATE_AFTER: u8 = 4;
const KIND_PURGE: u8 = 5;
const KIND_CHECKPOINT: u8 = 6;

/// Completion callback of [`Wal::append`].
pub type Callback = Box<dyn FnOnce(io::Result<()>) + Send>;

/// When appended entries are fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Callbacks fire after an fdatasync covering the append (group commit).
    Always,
    /// A background thread fdatasyncs about once a second; callbacks fire
    /// right after write(2).
    Every,
    /// Appends are fsynced only by other operations and close; callbacks fire
    /// right after write(2).
    No,
}

/// State replayed by [`Wal::open`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub vote: Option<Vec<u8>>,
    pub committed: Option<Vec<u8>>,
    /// Purged up to and including this index, with the caller's blob.
    pub purged: Option<(u64, Vec<u8>)>,
    /// Ascending, contiguous, all above the purged index.
    pub entries: Vec<(u64, Vec<u8>)>,
    /// Set when a torn record at the end of the last segment was dropped.
    pub torn_tail: Option<String>,
}

/// Error opening (recovering) the log.
#[derive(Debug)]
pub enum WalError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
}

impl fmt::Display for WalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalError::Io { path, source } => {
                write!(f, "raft log I/O error on {}: {source}", path.display())
            }
            WalError::Corrupt {
                file,
                offset,
                reason,
            } => write!(
                f,
                "raft log {} is corrupt at byte {offset}: {reason}",
                file.display()
            ),
        }
    }
}

impl std::error::Error for WalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WalError::Io { source, .. } => Some(source),
            WalError::Corrupt { .. } => None,
        }
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// io::Error is not Clone; callbacks each get a copy carrying kind and message.
fn copy_err(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

// ---------------------------------------------------------------------------
// Records

#[derive(Debug)]
enum Record<'a> {
    Entry {
        index: u64,
        data: &'a [u8],
    },
    Vote(&'a [u8]),
    Committed(&'a [u8]),
    TruncateAfter(Option<u64>),
    Purge {
        upto: u64,
        blob: &'a [u8],
    },
    Checkpoint {
        vote: Option<&'a [u8]>,
        committed: Option<&'a [u8]>,
        purged: Option<(u64, &'a [u8])>,
    },
}

impl Record<'_> {
    /// Appends the framed record (header + payload) to `out`.
    fn encode(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.extend_from_slice(&[0; HEADER]);
        match *self {
            Record::Entry { index, data } => {
                out.push(KIND_ENTRY);
                out.extend_from_slice(&index.to_le_bytes());
                out.extend_from_slice(data);
            }
            Record::Vote(vote) => {
                out.push(KIND_VOTE);
                out.extend_from_slice(vote);
            }
            Record::Committed(committed) => {
                out.push(KIND_COMMITTED);
                out.extend_from_slice(committed);
            }
            Record::TruncateAfter(after) => {
                out.push(KIND_TRUNCATE_AFTER);
                out.push(u8::from(after.is_some()));
                out.extend_from_slice(&after.unwrap_or(0).to_le_bytes());
            }
            Record::Purge { upto, blob } => {
                out.push(KIND_PURGE);
                out.extend_from_slice(&upto.to_le_bytes());
                out.extend_from_slice(blob);
            }
            Record::Checkpoint {
                vote,
                committed,
                purged,
            } => {
                out.push(KIND_CHECKPOINT);
                for blob in [vote, committed] {
                    out.push(u8::from(blob.is_some()));
                    if let Some(blob) = blob {
                        put_blob(out, blob);
                    }
                }
                out.push(u8::from(purged.is_some()));
                if let Some((upto, blob)) = purged {
                    out.extend_from_slice(&upto.to_le_bytes());
                    put_blob(out, blob);
                }
            }
        }
        let payload = &out[start + HEADER..];
        let Ok(len) = u32::try_from(payload.len()) else {
            out.truncate(start);
            return Err(invalid("raft log record larger than 4 GiB"));
        };
        let crc = crc32c::crc32c(payload);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    fn decode(payload: &[u8]) -> Result<Record<'_>, String> {
        let mut c = Cursor(payload);
        let record = match c.u8()? {
            KIND_ENTRY => Record::Entry {
                index: c.u64()?,
                data: c.rest(),
            },
            KIND_VOTE => Record::Vote(c.rest()),
            KIND_COMMITTED => Record::Committed(c.rest()),
            KIND_TRUNCATE_AFTER => {
                let has = c.flag()?;
                let index = c.u64()?;
                Record::TruncateAfter(has.then_some(index))
            }
            KIND_PURGE => Record::Purge {
                upto: c.u64()?,
                blob: c.rest(),
            },
            KIND_CHECKPOINT => {
                let vote = if c.flag()? { Some(c.blob()?) } else { None };
                let committed = if c.flag()? { Some(c.blob()?) } else { None };
                let purged = if c.flag()? {
                    Some((c.u64()?, c.blob()?))
                } else {
                    None
                };
                Record::Checkpoint {
                    vote,
                    committed,
                    purged,
                }
            }
            kind => return Err(format!("unknown record kind {kind}")),
        };
        if !c.0.is_empty() {
            return Err(format!("{} unexpected trailing bytes in record", c.0.len()));
        }
        Ok(record)
    }
}

// A blob longer than u32::MAX makes the payload too long too, which encode()
// rejects, so the truncating cast cannot produce a bad record.
fn put_blob(out: &mut Vec<u8>, blob: &[u8]) {
    out.extend_from_slice(&(blob.len() as u32).to_le_bytes());
    out.extend_from_slice(blob);
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self.bytes(N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("record body is too short".into());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take::<1>()?[0])
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn flag(&mut self) -> Result<bool, String> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("invalid flag byte {b}")),
        }
    }
    fn blob(&mut self) -> Result<&'a [u8], String> {
        let len = u32::from_le_bytes(self.take()?) as usize;
        self.bytes(len)
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// Why `index` cannot follow a log whose remaining last entry is `last`.
fn check_next_index(last: Option<u64>, purged: Option<u64>, index: u64) -> Result<(), String> {
    match (last, purged) {
        (Some(last), _) if last.checked_add(1) != Some(index) => {
            Err(format!("entry {index} does not follow entry {last}"))
        }
        (None, Some(purged)) if index <= purged => Err(format!(
            "entry {index} is not above the purged index {purged}"
        )),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Replay

/// The markers every segment's checkpoint carries.
#[derive(Clone, Default)]
struct Meta {
    vote: Option<Vec<u8>>,
    committed: Option<Vec<u8>>,
    purged: Option<(u64, Vec<u8>)>,
}

impl Meta {
    fn checkpoint(&self) -> Record<'_> {
        Record::Checkpoint {
            vote: self.vote.as_deref(),
            committed: self.committed.as_deref(),
            purged: self.purged.as_ref().map(|(i, b)| (*i, b.as_slice())),
        }
    }

    fn purged_index(&self) -> Option<u64> {
        self.purged.as_ref().map(|p| p.0)
    }
}

#[derive(Default)]
struct Model {
    meta: Meta,
    entries: BTreeMap<u64, Vec<u8>>,
}

impl Model {
    fn apply(&mut self, record: Record<'_>) -> Result<(), String> {
        match record {
            Record::Entry { index, data } => {
                self.entries.split_off(&index);
                let last = self.entries.last_key_value().map(|(i, _)| *i);
                check_next_index(last, self.meta.purged_index(), index)?;
                self.entries.insert(index, data.to_vec());
            }
            Record::Vote(vote) => self.meta.vote = Some(vote.to_vec()),
            Record::Committed(committed) => self.meta.committed = Some(committed.to_vec()),
            Record::TruncateAfter(None) => self.entries.clear(),
            Record::TruncateAfter(Some(after)) => {
                if let Some(first_removed) = after.checked_add(1) {
                    self.entries.split_off(&first_removed);
                }
            }
            Record::Purge { upto, blob } => self.purge(upto, blob),
            Record::Checkpoint {
                vote,
                committed,
                purged,
            } => {
                self.meta.vote = vote.map(<[u8]>::to_vec);
                self.meta.committed = committed.map(<[u8]>::to_vec);
                self.meta.purged = None;
                if let Some((upto, blob)) = purged {
                    self.purge(upto, blob);
                }
            }
        }
        Ok(())
    }

    fn purge(&mut self, upto: u64, blob: &[u8]) {
        self.entries = match upto.checked_add(1) {
            Some(first_kept) => self.entries.split_off(&first_kept),
            None => BTreeMap::new(),
        };
        self.meta.purged = Some((upto, blob.to_vec()));
    }
}

struct Scan {
    /// Highest entry index ever written to the segment (bounds what purge may delete).
    max_index: Option<u64>,
    has_checkpoint: bool,
    /// Offset of a torn record at the end of the last segment.
    torn_at: Option<usize>,
}

/// A record frame that failed validation; `torn` if it may be an interrupted write.
struct BadFrame {
    reason: String,
    torn: bool,
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Validates the frame at the start of `rest`: returns the payload and the frame length.
fn frame(rest: &[u8]) -> Result<(&[u8], usize), BadFrame> {
    let bad = |reason: String, torn| Err(BadFrame { reason, torn });
    if rest.len() < HEADER {
        return bad(
            format!("truncated record header ({} bytes)", rest.len()),
            true,
        );
    }
    let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if len == 0 {
        // Zeros to EOF: file size was extended but the data never reached disk.
        let torn = is_zero(rest);
        return bad("zero-length record".into(), torn);
    }
    let end = HEADER + len;
    if end > rest.len() {
        let left = rest.len() - HEADER;
        return bad(
            format!("record of {len} bytes runs past end of file ({left} bytes left)"),
            true,
        );
    }
    let payload = &rest[HEADER..end];
    let found = crc32c::crc32c(payload);
    if found != crc {
        return bad(
            format!("checksum mismatch (expected {crc:#010x}, found {found:#010x})"),
            is_zero(&rest[end..]),
        );
    }
    Ok((payload, end))
}

fn replay_segment(
    model: &mut Model,
    path: &Path,
    data: &[u8],
    is_last: bool,
) -> Result<Scan, WalError> {
    let corrupt = |offset: usize, reason: String| WalError::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let mut scan = Scan {
        max_index: None,
        has_checkpoint: false,
        torn_at: None,
    };
    if data.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        // A crash while creating the segment leaves a prefix of the magic, or zeros.
        if is_last && (MAGIC.starts_with(data) || is_zero(data)) {
            scan.torn_at = Some(0);
            return Ok(scan);
        }
        let head = &data[..data.len().min(MAGIC.len())];
        return Err(corrupt(0, format!("bad magic {head:02x?}")));
    }
    let mut pos = MAGIC.len();
    while pos < data.len() {
        let (payload, len) = match frame(&data[pos..]) {
            Ok(frame) => frame,
            Err(bad) if is_last && bad.torn => {
                scan.torn_at = Some(pos);
                return Ok(scan);
            }
            Err(bad) => return Err(corrupt(pos, bad.reason)),
        };
        // The checksum matched, so a record that does not decode was written
        // that way: corruption, never a torn tail.
        let record = Record::decode(payload).map_err(|r| corrupt(pos, r))?;
        let is_checkpoint = matches!(record, Record::Checkpoint { .. });
        if is_checkpoint == scan.has_checkpoint {
            let reason = if is_checkpoint {
                "checkpoint record after the start of the segment"
            } else {
                "segment does not start with a checkpoint record"
            };
            return Err(corrupt(pos, reason.into()));
        }
        scan.has_checkpoint = true;
        if let Record::Entry { index, .. } = record {
            scan.max_index = scan.max_index.max(Some(index));
        }
        model.apply(record).map_err(|r| corrupt(pos, r))?;
        pos += len;
    }
    if !scan.has_checkpoint && !is_last {
        return Err(corrupt(pos, "segment has no checkpoint record".into()));
    }
    Ok(scan)
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("wal-{seq:020}.log"))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for entry in fs::read_dir(dir)? {
        if let Some(seq) = entry?.file_name().to_str().and_then(parse_segment_name) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Makes creations and deletions of segment files durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

// ---------------------------------------------------------------------------
// Background fsync thread

#[derive(Default)]
struct Shared {
    state: Mutex<SyncState>,
    wake: Condvar,
    fsyncs: AtomicU64,
}

#[derive(Default)]
struct SyncState {
    /// Always: appends waiting for an fsync of the file they were written to.
    queue: Vec<(Arc<File>, Callback)>,
    /// Every: the segment to sync and whether anything was written since.
    current: Option<Arc<File>>,
    dirty: bool,
    /// Set by the first failed write or fsync; the log is unusable afterwards.
    failed: Option<(io::ErrorKind, String)>,
    shutdown: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SyncState> {
        // Callbacks run without the lock, so poisoning can only come from a
        // bug in this module; the state is still consistent enough to report.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sync(&self, file: &File) -> io::Result<()> {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = file.sync_data();
        crate::metrics::observe_wal_fsync(started.elapsed());
        if let Err(e) = &result {
            self.poison(e);
        }
        result
    }

    fn poison(&self, e: &io::Error) {
        let mut state = self.lock();
        if state.failed.is_none() {
            tracing::error!(error = %e, "raft log failed; refusing further writes");
            state.failed = Some((e.kind(), e.to_string()));
        }
    }

    fn check(&self) -> io::Result<()> {
        match &self.lock().failed {
            Some((kind, msg)) => Err(unusable(*kind, msg)),
            None => Ok(()),
        }
    }
}

fn unusable(kind: io::ErrorKind, msg: &str) -> io::Error {
    io::Error::new(
        kind,
        format!("raft log is unusable after an earlier error: {msg}"),
    )
}

fn sync_thread(shared: Arc<Shared>, policy: FsyncPolicy) {
    let mut next_tick = Instant::now() + EVERY_INTERVAL;
    let mut state = shared.lock();
    loop {
        if !state.queue.is_empty() {
            // Everything queued so far shares this round of fsyncs; appends
            // arriving meanwhile queue up for the next round.
            let batch = std::mem::take(&mut state.queue);
            let mut failed = state.failed.clone();
            drop(state);
            if failed.is_none() {
                let mut synced: Vec<&Arc<File>> = Vec::new();
                for (file, _) in &batch {
                    if !synced.iter().any(|s| Arc::ptr_eq(s, file)) {
                        if let Err(e) = shared.sync(file) {
                            failed = Some((e.kind(), e.to_string()));
                            break;
                        }
                        synced.push(file);
                    }
                }
            }
            for (_, done) in batch {
                done(match &failed {
                    None => Ok(()),
                    Some((kind, msg)) => Err(unusable(*kind, msg)),
                });
            }
            state = shared.lock();
            continue;
        }
        if state.shutdown {
            return;
        }
        if policy != FsyncPolicy::Every {
            state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let now = Instant::now();
        if now < next_tick {
            state = shared
                .wake
                .wait_timeout(state, next_tick - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            continue;
        }
        next_tick = now + EVERY_INTERVAL;
        if let (true, None, Some(file)) = (state.dirty, &state.failed, state.current.clone()) {
            state.dirty = false;
            drop(state);
            // A failure poisons the log; the next append reports it.
            let _ = shared.sync(&file);
            state = shared.lock();
        }
    }
}

// ---------------------------------------------------------------------------
// The log

struct Segment {
    seq: u64,
    path: PathBuf,
    max_index: Option<u64>,
}

/// A durable, segmented write-ahead log. See the module docs.
pub struct Wal {
    dir: PathBuf,
    policy: FsyncPolicy,
    segment_bytes: u64,
    /// Oldest first; the last one is being written.
    segments: VecDeque<Segment>,
    file: Arc<File>,
    file_len: u64,
    meta: Meta,
    /// (first, last) index of the present entries.
    range: Option<(u64, u64)>,
    /// Reused encoding buffer.
    buf: Vec<u8>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Writes magic and checkpoint to an empty segment file and fsyncs it.
fn start_segment(file: &File, checkpoint: &Record<'_>, shared: &Shared) -> io::Result<u64> {
    let mut buf = MAGIC.to_vec();
    checkpoint.encode(&mut buf)?;
    (&*file).write_all(&buf)?;
    shared.sync(file)?;
    Ok(buf.len() as u64)
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` and replays it.
    pub fn open(
        dir: &Path,
        policy: FsyncPolicy,
        segment_bytes: u64,
    ) -> Result<(Wal, Recovered), WalError> {
        fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
            move |source| WalError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let seqs = list_segments(dir).map_err(io_err(dir))?;
        for pair in seqs.windows(2) {
            if pair[1] != pair[0] + 1 {
                return Err(WalError::Corrupt {
                    file: segment_path(dir, pair[0] + 1),
                    offset: 0,
                    reason: format!("segment missing between {} and {}", pair[0], pair[1]),
                });
            }
        }

        let shared = Arc::new(Shared::default());
        let mut model = Model::default();
        let mut segments = VecDeque::new();
        let mut last_scan = None;
        for (i, &seq) in seqs.iter().enumerate() {
            let path = segment_path(dir, seq);
            let data = fs::read(&path).map_err(io_err(&path))?;
            let is_last = i + 1 == seqs.len();
            let scan = replay_segment(&mut model, &path, &data, is_last)?;
            segments.push_back(Segment {
                seq,
                path,
                max_index: scan.max_index,
            });
            last_scan = Some((scan, data.len()));
        }

        let checkpoint = model.meta.checkpoint();
        let mut torn_tail = None;
        let (file, file_len) = match (segments.back(), last_scan) {
            (Some(seg), Some((scan, len))) => {
                let path = &seg.path;
                let file = OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(io_err(path))?;
                if let Some(at) = scan.torn_at {
                    let msg = format!(
                        "file {}: dropped {} bytes of a torn record at offset {at}",
                        path.display(),
                        len - at
                    );
                    tracing::warn!("raft log recovery: {msg}");
                    torn_tail = Some(msg);
                }
                let file_len = if !scan.has_checkpoint {
                    // Torn while being created: the previous segment is complete,
                    // so the replayed state is exactly what the checkpoint needs.
                    file.set_len(0).map_err(io_err(path))?;
                    start_segment(&file, &checkpoint, &shared).map_err(io_err(path))?
                } else if let Some(at) = scan.torn_at {
                    file.set_len(at as u64).map_err(io_err(path))?;
                    shared.sync(&file).map_err(io_err(path))?;
                    at as u64
                } else {
                    len as u64
                };
                (file, file_len)
            }
            _ => {
                let path = segment_path(dir, 1);
                let file = OpenOptions::new()
                    .append(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                let len = start_segment(&file, &checkpoint, &shared).map_err(io_err(&path))?;
                sync_dir(dir).map_err(io_err(dir))?;
                segments.push_back(Segment {
                    seq: 1,
                    path,
                    max_index: None,
                });
                (file, len)
            }
        };

        let file = Arc::new(file);
        shared.lock().current = Some(Arc::clone(&file));
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("raft-wal-fsync".into())
                .spawn(move || sync_thread(shared, policy))
                .map_err(io_err(dir))?
        };
        let range = match (
            model.entries.first_key_value(),
            model.entries.last_key_value(),
        ) {
            (Some((first, _)), Some((last, _))) => Some((*first, *last)),
            _ => None,
        };
        let wal = Wal {
            dir: dir.to_path_buf(),
            policy,
            segment_bytes,
            segments,
            file,
            file_len,
            meta: model.meta.clone(),
            range,
            buf: Vec::new(),
            shared,
            thread: Some(thread),
        };
        let recovered = Recovered {
            vote: model.meta.vote,
            committed: model.meta.committed,
            purged: model.meta.purged,
            entries: model.entries.into_iter().collect(),
            torn_tail,
        };
        Ok((wal, recovered))
    }

    /// Writes `entries` (consecutive indexes) to the current segment; `done` is
    /// called exactly once, in append order, when they are durable per the
    /// policy, or with the error. An error from `append` itself also poisons
    /// the log (a rejected or partial batch would break ordering guarantees).
    pub fn append(&mut self, entries: &[(u64, &[u8])], done: Callback) -> io::Result<()> {
        let result = self.write_entries(entries);
        if let Err(e) = &result {
            self.shared.poison(e);
        }
        match self.policy {
            // Even failed appends go through the queue so callbacks stay ordered.
            FsyncPolicy::Always => {
                self.shared
                    .lock()
                    .queue
                    .push((Arc::clone(&self.file), done));
                self.shared.wake.notify_one();
            }
            FsyncPolicy::Every | FsyncPolicy::No => {
                done(result.as_ref().map_err(copy_err).copied())
            }
        }
        result
    }

    fn write_entries(&mut self, entries: &[(u64, &[u8])]) -> io::Result<()> {
        let (Some(&(first, _)), Some(&(last, _))) = (entries.first(), entries.last()) else {
            return self.shared.check();
        };
        if entries
            .windows(2)
            .any(|w| w[0].0.checked_add(1) != Some(w[1].0))
        {
            return Err(invalid(
                "raft log append: indexes in a batch must be consecutive",
            ));
        }
        // Entries >= first are overwritten; what remains must end at first - 1.
        let kept = match self.range {
            Some((f, l)) if first > f => Some((f, l.min(first - 1))),
            _ => None,
        };
        check_next_index(kept.map(|k| k.1), self.meta.purged_index(), first)
            .map_err(|e| invalid(format!("raft log append: {e}")))?;
        self.prepare()?;
        self.buf.clear();
        for &(index, data) in entries {
            Record::Entry { index, data }.encode(&mut self.buf)?;
        }
        self.write_buf()?;
        self.range = Some((kept.map_or(first, |k| k.0), last));
        if let Some(seg) = self.segments.back_mut() {
            seg.max_index = seg.max_index.max(Some(last));
        }
        Ok(())
    }

    /// Writes the vote and fsyncs it, whatever the policy.
    pub fn save_vote(&mut self, vote: &[u8]) -> io::Result<()> {
        self.write_record(&Record::Vote(vote))?;
        self.meta.vote = Some(vote.to_vec());
        self.sync_current()
    }

    /// Writes the committed marker; it becomes durable with the next fsync.
    pub fn save_committed(&mut self, committed: &[u8]) -> io::Result<()> {
        self.write_record(&Record::Committed(committed))?;
        self.meta.committed = Some(committed.to_vec());
        Ok(())
    }

    /// Removes all entries with index > `after` (all entries if None); durable on return.
    pub fn truncate_after(&mut self, after: Option<u64>) -> io::Result<()> {
        self.write_record(&Record::TruncateAfter(after))?;
        self.range = match (self.range, after) {
            (Some((first, last)), Some(after)) if after >= first => Some((first, last.min(after))),
            _ => None,
        };
        self.sync_current()
    }

    /// Removes all entries with index <= `upto`, records `blob` as the purged
    /// marker and deletes the oldest segments holding only such entries.
    pub fn purge(&mut self, upto: u64, blob: &[u8]) -> io::Result<()> {
        if let Some(purged) = self.meta.purged_index().filter(|&p| upto < p) {
            return Err(invalid(format!(
                "raft log purge up to {upto} is below the purged index {purged}"
            )));
        }
        self.write_record(&Record::Purge { upto, blob })?;
        self.meta.purged = Some((upto, blob.to_vec()));
        self.range = match self.range {
            Some((first, last)) if last > upto => Some((first.max(upto + 1), last)),
            _ => None,
        };
        let deletable = self
            .segments
            .iter()
            .take(self.segments.len() - 1)
            .take_while(|seg| seg.max_index.is_none_or(|max| max <= upto))
            .count();
        if deletable == 0 {
            return Ok(());
        }
        // If the files went away but the Purge record did not survive a crash,
        // the log would reopen with its head missing and no purged marker.
        self.sync_current()?;
        for _ in 0..deletable {
            let path = &self.segments[0].path;
            fs::remove_file(path)?;
            tracing::debug!(path = %path.display(), "deleted purged raft log segment");
            self.segments.pop_front();
        }
        sync_dir(&self.dir)
    }

    /// Fsyncs everything, stops the fsync thread after it fired all pending callbacks.
    pub fn close(mut self) -> io::Result<()> {
        self.shutdown()
    }

    /// Fsyncs what has been written so far, whatever the policy (before a
    /// new openraft core takes the log over: it treats the log as durable).
    pub fn sync_now(&self) -> io::Result<()> {
        self.shared.check()?;
        self.sync_current()
    }

    /// Number of fdatasync calls made on segment files so far.
    pub fn fsync_count(&self) -> u64 {
        self.shared.fsyncs.load(Ordering::Relaxed)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        if thread.join().is_err() {
            self.shared
                .poison(&io::Error::other("raft log fsync thread panicked"));
        }
        self.shared.check()?;
        self.sync_current()
    }

    fn write_record(&mut self, record: &Record<'_>) -> io::Result<()> {
        self.prepare()?;
        self.buf.clear();
        record.encode(&mut self.buf)?;
        self.write_buf()
    }

    /// Refuses writes once poisoned; starts a new segment if the current one is full.
    fn prepare(&mut self) -> io::Result<()> {
        self.shared.check()?;
        if self.file_len < self.segment_bytes {
            return Ok(());
        }
        let result = self.rotate();
        if let Err(e) = &result {
            self.shared.poison(e);
        }
        result
    }

    fn rotate(&mut self) -> io::Result<()> {
        // Only the last segment may end torn, so the one left behind must be on disk.
        self.sync_current()?;
        let seq = self.segments.back().map_or(1, |seg| seg.seq + 1);
        let path = segment_path(&self.dir, seq);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)?;
        self.file_len = start_segment(&file, &self.meta.checkpoint(), &self.shared)?;
        sync_dir(&self.dir)?;
        self.file = Arc::new(file);
        self.shared.lock().current = Some(Arc::clone(&self.file));
        self.segments.push_back(Segment {
            seq,
            path,
            max_index: None,
        });
        Ok(())
    }

    fn write_buf(&mut self) -> io::Result<()> {
        // One write(2) per call; a partial write leaves a torn record in the
        // middle of the segment if we kept going, hence the poisoning.
        if let Err(e) = (&*self.file).write_all(&self.buf) {
            self.shared.poison(&e);
            return Err(e);
        }
        self.file_len += self.buf.len() as u64;
        if self.policy == FsyncPolicy::Every {
            self.shared.lock().dirty = true;
        }
        Ok(())
    }

    fn sync_current(&self) -> io::Result<()> {
        self.shared.sync(&self.file)
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "raft log close on drop failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use tempfile::tempdir;

    /// Independent model of what the log should hold.
    #[derive(Default)]
    struct Expect {
        vote: Option<Vec<u8>>,
        committed: Option<Vec<u8>>,
        purged: Option<(u64, Vec<u8>)>,
        entries: BTreeMap<u64, Vec<u8>>,
    }

    impl Expect {
        fn append(&mut self, batch: &[(u64, Vec<u8>)]) {
            self.entries.split_off(&batch[0].0);
            self.entries.extend(batch.iter().cloned());
        }
        fn truncate_after(&mut self, after: Option<u64>) {
            self.entries.retain(|&i, _| after.is_some_and(|a| i <= a));
        }
        fn purge(&mut self, upto: u64, blob: &[u8]) {
            self.entries.retain(|&i, _| i > upto);
            self.purged = Some((upto, blob.to_vec()));
        }
        fn last(&self) -> Option<u64> {
            self.entries.keys().next_back().copied()
        }
        fn check(&self, r: &Recovered) {
            assert_eq!(r.vote, self.vote, "vote");
            assert_eq!(r.committed, self.committed, "committed");
            assert_eq!(r.purged, self.purged, "purged");
            let want: Vec<_> = self.entries.clone().into_iter().collect();
            assert_eq!(r.entries, want, "entries");
        }
    }

    fn ok_callback() -> Callback {
        Box::new(|r| r.expect("append callback failed"))
    }

    fn append(wal: &mut Wal, m: &mut Expect, batch: &[(u64, Vec<u8>)]) {
        let refs: Vec<(u64, &[u8])> = batch.iter().map(|(i, d)| (*i, d.as_slice())).collect();
        wal.append(&refs, ok_callback()).unwrap();
        m.append(batch);
    }

    fn entry(i: u64) -> (u64, Vec<u8>) {
        (i, format!("entry-{i}-payload").into_bytes())
    }

    fn reopen(wal: Wal, dir: &Path, seg: u64, m: &Expect) -> Wal {
        wal.close().unwrap();
        let (wal, r) = Wal::open(dir, FsyncPolicy::No, seg).unwrap();
        m.check(&r);
        assert_eq!(r.torn_tail, None);
        wal
    }

    fn segment_count(dir: &Path) -> usize {
        list_segments(dir).unwrap().len()
    }

    /// Start offsets of the records in a segment.
    fn record_offsets(data: &[u8]) -> Vec<usize> {
        let (mut pos, mut out) = (MAGIC.len(), Vec::new());
        while pos < data.len() {
            out.push(pos);
            pos += HEADER + u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        }
        out
    }

    #[test]
    fn reopen_after_each_operation_kind() {
        let dir = tempdir().unwrap();
        let (d, seg) = (dir.path(), 1 << 20);
        let mut m = Expect::default();
        let (mut wal, r) = Wal::open(d, FsyncPolicy::Always, seg).unwrap();
        m.check(&r);
        append(&mut wal, &mut m, &[entry(1), entry(2), entry(3)]);
        wal = reopen(wal, d, seg, &m);
        wal.save_vote(b"vote-a").unwrap();
        m.vote = Some(b"vote-a".to_vec());
        wal = reopen(wal, d, seg, &m);
        wal.save_committed(b"committed-2").unwrap();
        m.committed = Some(b"committed-2".to_vec());
        wal = reopen(wal, d, seg, &m);
        append(&mut wal, &mut m, &[entry(4), entry(5), entry(6)]);
        wal.truncate_after(Some(4)).unwrap();
        m.truncate_after(Some(4));
        wal = reopen(wal, d, seg, &m);
        wal.purge(2, b"purged-2").unwrap();
        m.purge(2, b"purged-2");
        wal = reopen(wal, d, seg, &m);
        // Overwrite from 4 on (openraft conflict semantics), then drop everything.
        append(&mut wal, &mut m, &[(4, b"x".to_vec()), (5, b"y".to_vec())]);
        wal = reopen(wal, d, seg, &m);
        wal.truncate_after(None).unwrap();
        m.truncate_after(None);
        wal = reopen(wal, d, seg, &m);
        // An empty log may restart at any index above the purged one.
        append(&mut wal, &mut m, &[entry(10)]);
        wal.purge(12, b"purged-12").unwrap();
        m.purge(12, b"purged-12");
        wal = reopen(wal, d, seg, &m);
        append(&mut wal, &mut m, &[entry(13)]);
        reopen(wal, d, seg, &m).close().unwrap();
    }

    #[test]
    fn invalid_appends_are_rejected_and_poison_the_log() {
        let dir = tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), FsyncPolicy::No, 1 << 20).unwrap();
        wal.append(&[(1, b"a")], ok_callback()).unwrap();
        let (tx, rx) = mpsc::channel();
        let err = wal
            .append(&[(3, b"gap")], Box::new(move |r| tx.send(r).unwrap()))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(rx.recv().unwrap().is_err());
        assert!(wal.save_vote(b"v").is_err());
        assert!(wal.close().is_err());
        let (_, r) = Wal::open(dir.path(), FsyncPolicy::No, 1 << 20).unwrap();
        assert_eq!(r.entries, vec![(1, b"a".to_vec())]);
    }

    #[test]
    fn group_commit_fires_callbacks_in_order_with_few_fsyncs() {
        let dir = tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), FsyncPolicy::Always, 1 << 20).unwrap();
        let shared = Arc::clone(&wal.shared);
        let before = wal.fsync_count();
        let order = Arc::new(Mutex::new(Vec::new()));
        // The first callback blocks the fsync thread until all 100 appends are
        // queued, so they must share one fsync: deterministic, not timing-based.
        let (release, gate) = mpsc::channel::<()>();
        let mut gate = Some(gate);
        for i in 0..100u64 {
            let order = Arc::clone(&order);
            let gate = gate.take();
            let done: Callback = Box::new(move |r| {
                r.unwrap();
                if let Some(gate) = gate {
                    gate.recv().unwrap();
                }
                order.lock().unwrap().push(i);
            });
            wal.append(&[(i + 1, b"payload")], done).unwrap();
        }
        release.send(()).unwrap();
        wal.close().unwrap();
        let syncs = shared.fsyncs.load(Ordering::Relaxed) - before;
        assert!(syncs < 100, "{syncs} fsyncs");
        assert!(syncs <= 3, "{syncs} fsyncs: two group commits plus close");
        assert_eq!(*order.lock().unwrap(), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn callbacks_fire_in_order_without_fsync_policy() {
        for policy in [FsyncPolicy::Every, FsyncPolicy::No] {
            let dir = tempdir().unwrap();
            let (mut wal, _) = Wal::open(dir.path(), policy, 1 << 20).unwrap();
            let order = Arc::new(Mutex::new(Vec::new()));
            for i in 1..=20u64 {
                let order = Arc::clone(&order);
                let done: Callback = Box::new(move |r| {
                    r.unwrap();
                    order.lock().unwrap().push(i);
                });
                wal.append(&[(i, b"p")], done).unwrap();
            }
            wal.close().unwrap();
            assert_eq!(*order.lock().unwrap(), (1..=20).collect::<Vec<_>>());
            let (_, r) = Wal::open(dir.path(), policy, 1 << 20).unwrap();
            assert_eq!(r.entries.len(), 20);
        }
    }

    #[test]
    fn rotation_truncation_purge_and_checkpoint() {
        let dir = tempdir().unwrap();
        let (d, seg) = (dir.path(), 256);
        let mut m = Expect::default();
        let (mut wal, _) = Wal::open(d, FsyncPolicy::Every, seg).unwrap();
        wal.save_vote(b"the-vote").unwrap();
        m.vote = Some(b"the-vote".to_vec());
        for start in (1..=60).step_by(3) {
            append(
                &mut wal,
                &mut m,
                &[entry(start), entry(start + 1), entry(start + 2)],
            );
        }
        assert!(segment_count(d) > 5, "{} segments", segment_count(d));
        wal = reopen(wal, d, seg, &m);
        // Index 20 lives in an early segment, far from the current one.
        wal.truncate_after(Some(20)).unwrap();
        m.truncate_after(Some(20));
        wal = reopen(wal, d, seg, &m);
        for i in 21..=80 {
            append(&mut wal, &mut m, &[entry(i)]);
        }
        wal.save_committed(b"committed-70").unwrap();
        m.committed = Some(b"committed-70".to_vec());
        wal = reopen(wal, d, seg, &m);
        let before = segment_count(d);
        wal.purge(50, b"p50").unwrap();
        m.purge(50, b"p50");
        assert!(segment_count(d) < before);
        // The segment holding the Vote record is gone; checkpoints carry it.
        assert!(!segment_path(d, 1).exists());
        wal = reopen(wal, d, seg, &m);
        wal.purge(79, b"p79").unwrap();
        m.purge(79, b"p79");
        wal = reopen(wal, d, seg, &m);
        let first = list_segments(d).unwrap()[0];
        assert!(first > 10, "first remaining segment {first}");
        append(&mut wal, &mut m, &[entry(81)]);
        reopen(wal, d, seg, &m).close().unwrap();
    }

    #[test]
    fn torn_last_record_at_every_cut_point() {
        let dir = tempdir().unwrap();
        let d = dir.path();
        let mut m = Expect::default();
        let (mut wal, _) = Wal::open(d, FsyncPolicy::Always, 1 << 20).unwrap();
        for i in 1..=5 {
            append(&mut wal, &mut m, &[entry(i)]);
        }
        wal.close().unwrap();
        let path = segment_path(d, 1);
        let full = fs::read(&path).unwrap();
        let start = *record_offsets(&full).last().unwrap();
        m.truncate_after(Some(4));
        for cut in start + 1..full.len() {
            fs::write(&path, &full[..cut]).unwrap();
            let (mut wal, r) = Wal::open(d, FsyncPolicy::Always, 1 << 20).unwrap();
            m.check(&r);
            let torn = r.torn_tail.expect("torn tail reported");
            assert!(torn.contains(&format!("at offset {start}")), "{torn}");
            assert!(
                torn.contains(&format!("dropped {} bytes", cut - start)),
                "{torn}"
            );
            assert_eq!(fs::metadata(&path).unwrap().len(), start as u64);
            wal.append(&[(5, b"again")], ok_callback()).unwrap();
            wal.close().unwrap();
            let (_, r) = Wal::open(d, FsyncPolicy::Always, 1 << 20).unwrap();
            assert_eq!(r.torn_tail, None);
            assert_eq!(r.entries.last(), Some(&(5, b"again".to_vec())));
            assert_eq!(r.entries.len(), 5);
        }
    }

    #[test]
    fn zero_filled_tail_is_dropped_as_torn() {
        let dir = tempdir().unwrap();
        let d = dir.path();
        let mut m = Expect::default();
        let (mut wal, _) = Wal::open(d, FsyncPolicy::No, 1 << 20).unwrap();
        append(&mut wal, &mut m, &[entry(1), entry(2)]);
        wal.close().unwrap();
        let path = segment_path(d, 1);
        let len = fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0; 4096]).unwrap();
        drop(f);
        let (mut wal, r) = Wal::open(d, FsyncPolicy::No, 1 << 20).unwrap();
        m.check(&r);
        assert!(r.torn_tail.unwrap().contains("dropped 4096 bytes"));
        assert_eq!(fs::metadata(&path).unwrap().len(), len);
        append(&mut wal, &mut m, &[entry(3)]);
        reopen(wal, d, 1 << 20, &m).close().unwrap();
    }

    #[test]
    fn torn_segment_header_is_rewritten_with_checkpoint() {
        let dir = tempdir().unwrap();
        let (d, seg) = (dir.path(), 200);
        let mut m = Expect::default();
        let (mut wal, _) = Wal::open(d, FsyncPolicy::No, seg).unwrap();
        wal.save_vote(b"kept-vote").unwrap();
        m.vote = Some(b"kept-vote".to_vec());
        for i in 1..=12 {
            append(&mut wal, &mut m, &[entry(i)]);
        }
        wal.close().unwrap();
        // Simulate a crash while creating the next segment: a prefix of the magic.
        let next = list_segments(d).unwrap().last().unwrap() + 1;
        fs::write(segment_path(d, next), &MAGIC[..5]).unwrap();
        let (mut wal, r) = Wal::open(d, FsyncPolicy::No, seg).unwrap();
        m.check(&r);
        assert!(r.torn_tail.unwrap().contains("dropped 5 bytes"));
        // Purge deletes every older segment: the rewritten checkpoint keeps the vote.
        wal.purge(12, b"all").unwrap();
        m.purge(12, b"all");
        assert_eq!(list_segments(d).unwrap(), vec![next]);
        reopen(wal, d, seg, &m).close().unwrap();
    }

    #[test]
    fn corrupt_record_in_the_middle_is_reported_with_offset() {
        let dir = tempdir().unwrap();
        let d = dir.path();
        let (mut wal, _) = Wal::open(d, FsyncPolicy::No, 1 << 20).unwrap();
        for i in 1..=5 {
            append(&mut wal, &mut Expect::default(), &[entry(i)]);
        }
        wal.close().unwrap();
        let path = segment_path(d, 1);
        let mut data = fs::read(&path).unwrap();
        let offset = record_offsets(&data)[2]; // [checkpoint, entry 1, entry 2, ...]
        data[offset + HEADER + 12] ^= 0x40;
        fs::write(&path, &data).unwrap();
        let err = Wal::open(d, FsyncPolicy::No, 1 << 20)
            .err()
            .expect("must fail");
        let text = err.to_string();
        match err {
            WalError::Corrupt {
                file,
                offset: at,
                reason,
            } => {
                assert_eq!((file, at), (path.clone(), offset as u64));
                assert!(reason.starts_with("checksum mismatch"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("byte {offset}:")), "{text}");
    }

    #[test]
    fn damage_in_an_earlier_segment_or_a_gap_is_corruption() {
        let setup = |dir: &Path| {
            let (mut wal, _) = Wal::open(dir, FsyncPolicy::No, 128).unwrap();
            for i in 1..=20 {
                append(&mut wal, &mut Expect::default(), &[entry(i)]);
            }
            wal.close().unwrap();
            assert!(segment_count(dir) >= 4);
        };
        let expect_corrupt = |dir: &Path, want: &Path| match Wal::open(dir, FsyncPolicy::No, 128) {
            Err(WalError::Corrupt { file, .. }) => assert_eq!(file, want),
            other => panic!("expected corruption, got {:?}", other.map(|_| ())),
        };
        // Checksum failure in the last record of a non-last segment: not a torn tail.
        let dir = tempdir().unwrap();
        setup(dir.path());
        let path = segment_path(dir.path(), 1);
        let mut data = fs::read(&path).unwrap();
        let n = data.len();
        data[n - 1] ^= 1;
        fs::write(&path, &data).unwrap();
        expect_corrupt(dir.path(), &path);
        // A non-last segment cut short.
        let dir = tempdir().unwrap();
        setup(dir.path());
        let path = segment_path(dir.path(), 2);
        let len = fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        expect_corrupt(dir.path(), &path);
        // A segment missing in the middle.
        let dir = tempdir().unwrap();
        setup(dir.path());
        fs::remove_file(segment_path(dir.path(), 2)).unwrap();
        expect_corrupt(dir.path(), &segment_path(dir.path(), 2));
        // Bad record followed by more data in the last segment.
        let dir = tempdir().unwrap();
        setup(dir.path());
        let last = *list_segments(dir.path()).unwrap().last().unwrap();
        let path = segment_path(dir.path(), last);
        let mut data = fs::read(&path).unwrap();
        let offsets = record_offsets(&data);
        assert!(offsets.len() >= 3);
        data[offsets[1] + HEADER] = 99; // unknown kind; checksum now fails too
        fs::write(&path, &data).unwrap();
        expect_corrupt(dir.path(), &path);
    }

    struct XorShift(u64);

    impl XorShift {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
        fn bytes(&mut self, max: u64) -> Vec<u8> {
            let len = self.below(max + 1);
            (0..len).map(|_| self.below(256) as u8).collect()
        }
    }

    #[test]
    fn randomized_operations_match_model() {
        let dir = tempdir().unwrap();
        let (d, seg) = (dir.path(), 512);
        let policies = [FsyncPolicy::Always, FsyncPolicy::Every, FsyncPolicy::No];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut m = Expect::default();
        let (mut wal, _) = Wal::open(d, FsyncPolicy::No, seg).unwrap();
        let mut reopens = 0;
        for _ in 0..2000 {
            let purged = m.purged.as_ref().map(|p| p.0);
            match rng.below(100) {
                0..=49 => {
                    let start = match (m.entries.keys().next(), m.last()) {
                        (Some(&first), Some(last)) if rng.below(5) == 0 => {
                            first + rng.below(last - first + 2)
                        }
                        (_, Some(last)) => last + 1,
                        _ => purged.map_or(0, |p| p + 1) + rng.below(3),
                    };
                    let batch: Vec<_> = (start..start + 1 + rng.below(4))
                        .map(|i| (i, rng.bytes(40)))
                        .collect();
                    append(&mut wal, &mut m, &batch);
                }
                50..=59 => {
                    let after = match m.entries.keys().next() {
                        _ if rng.below(8) == 0 => None,
                        Some(&first) => {
                            Some(first.saturating_sub(1) + rng.below(m.last().unwrap() - first + 3))
                        }
                        None => Some(purged.unwrap_or(0)),
                    };
                    wal.truncate_after(after).unwrap();
                    m.truncate_after(after);
                }
                60..=69 => {
                    let lo = purged.unwrap_or(0);
                    let upto = lo + rng.below(m.last().unwrap_or(lo) - lo + 3);
                    let blob = rng.bytes(16);
                    wal.purge(upto, &blob).unwrap();
                    m.purge(upto, &blob);
                }
                70..=77 => {
                    let vote = rng.bytes(24);
                    wal.save_vote(&vote).unwrap();
                    m.vote = Some(vote);
                }
                78..=84 => {
                    let committed = rng.bytes(24);
                    wal.save_committed(&committed).unwrap();
                    m.committed = Some(committed);
                }
                _ => {
                    if rng.below(2) == 0 {
                        wal.close().unwrap();
                    } else {
                        drop(wal);
                    }
                    let policy = policies[rng.below(3) as usize];
                    let (w, r) = Wal::open(d, policy, seg).unwrap();
                    m.check(&r);
                    assert_eq!(r.torn_tail, None);
                    wal = w;
                    reopens += 1;
                }
            }
        }
        assert!(reopens > 100);
        let rotated = list_segments(d).unwrap();
        assert!(
            rotated[rotated.len() - 1] > 20 && rotated[0] > 1,
            "{rotated:?}"
        );
        reopen(wal, d, seg, &m).close().unwrap();
    }
}
