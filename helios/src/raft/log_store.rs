//! The openraft log store: the durable [`Wal`] plus an in-memory copy of the
//! entries that openraft reads back (replication, apply, conflict checks).
//!
//! The WAL is written only from openraft's core task, in call order, so a
//! vote and the entries after it reach the disk in the order openraft
//! issued them (its I/O-ordering requirement). Entries become readable as
//! soon as `append` returns; the flush callback fires when the WAL says
//! they are durable under `aof_fsync` (group commit with `always`). Votes
//! are always fsynced before `save_vote` returns.
//!
//! Entries are encoded with postcard; vote, committed and purged markers
//! likewise. The in-memory copy holds everything after the last purge,
//! which openraft bounds (`snapshot_threshold` plus the entries it keeps
//! for lagging followers).

use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::type_config::alias::{LogIdOf, VoteOf};
use openraft::{OptionalSend, RaftLogReader, RaftTypeConfig};
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::wal::{FsyncPolicy, Wal, WalError};

struct Log<C: RaftTypeConfig> {
    /// Entries after the purge point, contiguous.
    entries: VecDeque<C::Entry>,
    vote: Option<VoteOf<C>>,
    committed: Option<LogIdOf<C>>,
    purged: Option<LogIdOf<C>>,
}

impl<C: RaftTypeConfig> Log<C>
where
    C::Entry: Clone,
{
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|e| e.index())
    }

    fn range(&self, range: impl RangeBounds<u64>) -> Vec<C::Entry> {
        let Some(first) = self.first_index() else {
            return Vec::new();
        };
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i + 1,
            Bound::Unbounded => first,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => i.saturating_add(1),
            Bound::Excluded(&i) => i,
            Bound::Unbounded => u64::MAX,
        };
        let from = start.saturating_sub(first) as usize;
        let to = (end.saturating_sub(first) as usize).min(self.entries.len());
        if from >= to {
            return Vec::new();
        }
        self.entries.range(from..to).cloned().collect()
    }
}

/// The log store handed to openraft.
pub struct LogStore<C: RaftTypeConfig> {
    log: Arc<RwLock<Log<C>>>,
    wal: Arc<Mutex<Option<Wal>>>,
}

impl<C: RaftTypeConfig> Debug for LogStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
}

/// A reader sharing the store's in-memory entries.
pub struct LogReader<C: RaftTypeConfig> {
    log: Arc<RwLock<Log<C>>>,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, b: &[u8]) -> Result<T, std::io::Error> {
    postcard::from_bytes(b)
        .map_err(|e| std::io::Error::other(format!("raft log: undecodable {what}: {e}")))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, std::io::Error> {
    postcard::to_stdvec(v).map_err(|e| std::io::Error::other(format!("raft log: encode: {e}")))
}

impl<C> LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
    VoteOf<C>: Serialize + DeserializeOwned,
    LogIdOf<C>: Serialize + DeserializeOwned,
{
    /// Opens (or creates) the WAL under `dir` and loads it. A torn tail is
    /// dropped with a warning; corruption anywhere else is an error naming
    /// the file and offset.
    pub fn open(dir: &Path, policy: FsyncPolicy) -> Result<LogStore<C>, WalError> {
        let (wal, rec) = Wal::open(dir, policy, 64 * 1024 * 1024)?;
        if let Some(t) = &rec.torn_tail {
            tracing::warn!(
                "raft log: {t} (a crash interrupted the last write; it was never acknowledged)"
            );
        }
        let corrupt = |what: String| WalError::Corrupt {
            file: dir.to_path_buf(),
            offset: 0,
            reason: what,
        };
        let mut log = Log::<C> {
            entries: VecDeque::new(),
            vote: None,
            committed: None,
            purged: None,
        };
        if let Some(v) = &rec.vote {
            log.vote = Some(decode("vote", v).map_err(|e| corrupt(e.to_string()))?);
        }
        if let Some(c) = &rec.committed {
            log.committed = decode("committed", c).map_err(|e| corrupt(e.to_string()))?;
        }
        if let Some((_, p)) = &rec.purged {
            log.purged = Some(decode("purged", p).map_err(|e| corrupt(e.to_string()))?);
        }
        for (index, bytes) in &rec.entries {
            let e: C::Entry = decode("entry", bytes).map_err(|e| corrupt(e.to_string()))?;
            if e.index() != *index {
                return Err(corrupt(format!(
                    "entry stored at index {index} claims index {}",
                    e.index()
                )));
            }
            log.entries.push_back(e);
        }
        Ok(LogStore {
            log: Arc::new(RwLock::new(log)),
            wal: Arc::new(Mutex::new(Some(wal))),
        })
    }

    fn reader(&self) -> LogReader<C> {
        LogReader {
            log: self.log.clone(),
        }
    }

    /// A handle that can close the WAL at shutdown after openraft stopped.
    pub fn closer(&self) -> LogCloser {
        LogCloser {
            wal: self.wal.clone(),
        }
    }

    /// A second handle on the same log and WAL, for the openraft core that
    /// replaces a stopped one (see `RaftNode::apply_raft_timing`).
    pub fn share(&self) -> LogStore<C> {
        LogStore {
            log: Arc::clone(&self.log),
            wal: Arc::clone(&self.wal),
        }
    }

    /// Makes everything written so far durable.
    pub fn sync(&self) -> Result<(), std::io::Error> {
        self.with_wal(|w| w.sync_now())
    }

    fn with_wal<T>(
        &self,
        f: impl FnOnce(&mut Wal) -> std::io::Result<T>,
    ) -> Result<T, std::io::Error> {
        let mut g = self.wal.lock();
        match g.as_mut() {
            Some(w) => f(w),
            None => Err(std::io::Error::other("raft log is closed")),
        }
    }
}

/// Flushes and closes the WAL.
#[derive(Clone)]
pub struct LogCloser {
    wal: Arc<Mutex<Option<Wal>>>,
}

impl LogCloser {
    pub fn close(&self) {
        if let Some(w) = self.wal.lock().take() {
            if let Err(e) = w.close() {
                tracing::error!("raft log: close failed: {e}");
            }
        }
    }
}

impl<C: RaftTypeConfig> RaftLogReader<C> for LogReader<C>
where
    C::Entry: Clone,
{
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, std::io::Error> {
        Ok(self.log.read().range(range))
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<C>>, std::io::Error> {
        Ok(self.log.read().vote.clone())
    }
}

impl<C> RaftLogStorage<C> for LogStore<C>
where
    C: RaftTypeConfig,
    C::Entry: Serialize + DeserializeOwned + Clone,
    VoteOf<C>: Serialize + DeserializeOwned,
    LogIdOf<C>: Serialize + DeserializeOwned,
{
    type LogReader = LogReader<C>;

    async fn get_log_state(&mut self) -> Result<LogState<C>, std::io::Error> {
        let log = self.log.read();
        let last = log
            .entries
            .back()
            .map(|e| e.log_id())
            .or(log.purged.clone());
        Ok(LogState {
            last_purged_log_id: log.purged.clone(),
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader<C> {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &VoteOf<C>) -> Result<(), std::io::Error> {
        let bytes = encode(vote)?;
        self.with_wal(|w| w.save_vote(&bytes))?;
        self.log.write().vote = Some(vote.clone());
        Ok(())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<C>>,
    ) -> Result<(), std::io::Error> {
        let bytes = encode(&committed)?;
        self.with_wal(|w| w.save_committed(&bytes))?;
        self.log.write().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<C>>, std::io::Error> {
        Ok(self.log.read().committed.clone())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), std::io::Error>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        let mut encoded = Vec::with_capacity(entries.len());
        for e in &entries {
            encoded.push((e.index(), encode(e)?));
        }
        let refs: Vec<(u64, &[u8])> = encoded.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        {
            let mut log = self.log.write();
            for e in entries {
                // openraft truncates before it appends over a conflict, so
                // an append always continues the log.
                if let Some(last) = log.entries.back() {
                    if e.index() != last.index() + 1 {
                        return Err(std::io::Error::other(format!(
                            "raft log: append of index {} after {} would leave a hole",
                            e.index(),
                            last.index()
                        )));
                    }
                }
                log.entries.push_back(e);
            }
        }
        self.with_wal(|w| w.append(&refs, Box::new(move |r| callback.io_completed(r))))
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<C>>,
    ) -> Result<(), std::io::Error> {
        let keep_to = last_log_id.as_ref().map(|l| l.index);
        {
            let mut log = self.log.write();
            while let Some(e) = log.entries.back() {
                if keep_to.is_some_and(|k| e.index() <= k) {
                    break;
                }
                log.entries.pop_back();
            }
        }
        self.with_wal(|w| w.truncate_after(keep_to))
    }

    async fn purge(&mut self, log_id: LogIdOf<C>) -> Result<(), std::io::Error> {
        let bytes = encode(&log_id)?;
        let upto = log_id.index;
        {
            let mut log = self.log.write();
            while log.entries.front().is_some_and(|e| e.index() <= upto) {
                log.entries.pop_front();
            }
            log.purged = Some(log_id);
        }
        self.with_wal(|w| w.purge(upto, &bytes))
    }
}
