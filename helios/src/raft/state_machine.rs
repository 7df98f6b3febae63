//! The Raft state machine: the Atlas keyspace, plus the bookkeeping that
//! makes applying the log deterministic and exactly-once.
//!
//! Applying an entry runs its Redis commands through the same
//! [`crate::cmd::execute`] that a standalone node uses, under the server's
//! keyspace lock, with the clock fixed to the leader's `now_ms` from the
//! entry: every node computes the same expiry deadlines and expires the same
//! keys, and the replies it produces are the replies the client receives.
//!
//! Exactly-once: a [`Request`] carries `(client, seq)`. The session table
//! remembers the last `seq` applied per client and its reply; a request
//! seen again (a forwarded write retried after a lost reply) is answered
//! from the table instead of being applied twice. The table is part of the
//! snapshot and is bounded ([`MAX_SESSIONS`]), evicting the client whose
//! last write is oldest in the log, which every node decides identically.
//!
//! # Snapshot file (`<data_dir>/raft.snapshot`), little-endian
//!
//! ```text
//! magic      8  b"HRAFTSNP"
//! version    4  u32 = 2
//! meta_len   4  u32
//! meta_crc   4  u32, CRC-32C of the meta bytes
//! meta       meta_len bytes: postcard of SnapshotHeader
//!                (openraft SnapshotMeta: last log id + membership; sessions;
//!                the acknowledgement marks of `Request::acked`)
//! keyspace   the Atlas snapshot format (see persist::snapshot), to EOF
//! ```
//!
//! It is written to a temporary name, fsynced and renamed, so the current
//! snapshot is always complete. Followers receive the same bytes over the
//! transport and install them with the same code that restores a node at
//! start-up. What this module does not do: decide when to snapshot (the
//! openraft policy, `snapshot_threshold`) or move bytes between nodes
//! (`network`).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use futures_util::StreamExt;
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::OptionalSend;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::types::{HeliosConfig, PayloadRef, Request, Response};
use crate::atlas::Keyspace;
use crate::cmd::{execute, Ctx, Store};
use crate::persist::snapshot;
use crate::resp::Out;
use crate::server::{Client, Server};

/// Sessions kept for de-duplication.
pub const MAX_SESSIONS: usize = 10_000;

const MAGIC: &[u8; 8] = b"HRAFTSNP";
const VERSION: u32 = 2;
const PREFIX_LEN: usize = 20;
const FILE_NAME: &str = "raft.snapshot";

/// The last request applied for one client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub client: u64,
    pub seq: u64,
    pub reply: Bytes,
    /// Log index of that request, for eviction.
    pub index: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "")]
struct SnapshotHeader<C: HeliosConfig> {
    meta: SnapshotMetaOf<C>,
    sessions: Vec<Session>,
    acked: Vec<(String, u64)>,
}

/// A snapshot on disk: what openraft hands around as `SnapshotData`.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    pub path: PathBuf,
}

/// The session table: the last request applied for each client, bounded
/// by [`MAX_SESSIONS`]. Eviction takes the client whose last request is
/// oldest (lowest index, then lowest id), so every node evicts the same one.
#[derive(Debug, Default)]
struct Sessions {
    by_client: HashMap<u64, Session>,
    /// `(index, client)` of every session, oldest first.
    by_age: std::collections::BTreeSet<(u64, u64)>,
}

impl Sessions {
    fn get(&self, client: u64) -> Option<&Session> {
        self.by_client.get(&client)
    }

    fn insert(&mut self, session: Session) {
        if let Some(old) = self.by_client.get(&session.client) {
            self.by_age.remove(&(old.index, old.client));
        }
        self.by_age.insert((session.index, session.client));
        self.by_client.insert(session.client, session);
        while self.by_client.len() > MAX_SESSIONS {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_client.remove(&oldest);
        }
    }

    fn from_vec(sessions: Vec<Session>) -> Sessions {
        let mut table = Sessions::default();
        for s in sessions {
            table.insert(s);
        }
        table
    }

    /// Every session, ordered by client id (the snapshot's order).
    fn to_vec(&self) -> Vec<Session> {
        let mut v: Vec<Session> = self.by_client.values().cloned().collect();
        v.sort_by_key(|s| s.client);
        v
    }
}

/// State machine bookkeeping outside the keyspace.
#[derive(Debug)]
struct Applied<C: HeliosConfig> {
    last_applied: Option<LogIdOf<C>>,
    membership: StoredMembershipOf<C>,
    sessions: Sessions,
    /// Highest index each member was recorded acknowledging.
    acked: std::collections::BTreeMap<String, u64>,
}

/// Shared between the openraft state machine worker, snapshot builders and
/// the node (which reads `last_applied` for `INFO`).
#[derive(Debug)]
pub struct SmShared<C: HeliosConfig> {
    server: OnceLock<Weak<Server>>,
    store: Arc<Mutex<Store>>,
    dir: PathBuf,
    /// Locked after the keyspace lock when both are held.
    applied: Mutex<Applied<C>>,
    snapshot_seq: std::sync::atomic::AtomicU64,
    /// Snapshots installed from a leader (not counting the restore of this
    /// node's own snapshot at start-up).
    installed: std::sync::atomic::AtomicU64,
}

/// The openraft state machine handle.
#[derive(Debug)]
pub struct StateMachine<C: HeliosConfig> {
    shared: Arc<SmShared<C>>,
}

impl<C: HeliosConfig> Clone for StateMachine<C> {
    fn clone(&self) -> Self {
        StateMachine {
            shared: self.shared.clone(),
        }
    }
}

fn io_other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl<C: HeliosConfig> StateMachine<C> {
    pub fn new(store: Arc<Mutex<Store>>, dir: &Path) -> StateMachine<C> {
        StateMachine {
            shared: Arc::new(SmShared {
                server: OnceLock::new(),
                store,
                dir: dir.to_path_buf(),
                applied: Mutex::new(Applied {
                    last_applied: None,
                    membership: Default::default(),
                    sessions: Sessions::default(),
                    acked: Default::default(),
                }),
                snapshot_seq: Default::default(),
                installed: Default::default(),
            }),
        }
    }

    /// Connects the state machine to the server whose commands it runs.
    pub fn attach(&self, server: &Arc<Server>) {
        let _ = self.shared.server.set(Arc::downgrade(server));
    }

    pub fn current_path(&self) -> PathBuf {
        self.shared.dir.join(FILE_NAME)
    }

    /// A fresh temporary path in the data directory (for a snapshot being
    /// built or received).
    pub fn temp_path(&self, what: &str) -> PathBuf {
        let n = self
            .shared
            .snapshot_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.shared
            .dir
            .join(format!("{FILE_NAME}.{what}-{}-{n}.tmp", std::process::id()))
    }

    /// Removes leftovers of snapshots interrupted by a crash.
    pub fn remove_temp_files(&self) {
        if let Ok(rd) = std::fs::read_dir(&self.shared.dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(FILE_NAME) && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Snapshots received from a leader and installed since start-up.
    pub fn snapshots_installed(&self) -> u64 {
        self.shared
            .installed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Acknowledgements recorded through the log (see `Request::acked`).
    pub fn acked_marks(&self) -> Vec<(String, u64)> {
        let a = self.shared.applied.lock();
        a.acked.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn last_applied(&self) -> Option<LogIdOf<C>> {
        self.shared.applied.lock().last_applied.clone()
    }

    /// Applies one client request under the keyspace lock. `out` and
    /// `client` are scratch space reused across the requests of an entry.
    #[allow(clippy::too_many_arguments)]
    fn apply_request(
        &self,
        server: &Arc<Server>,
        store: &mut Store,
        applied: &mut Applied<C>,
        out: &mut Out,
        client: &mut Client,
        index: u64,
        req: &Request,
    ) -> Bytes {
        if let Some(s) = applied.sessions.get(req.client) {
            if req.seq <= s.seq {
                // A retry of a request already applied: same reply, no effect.
                return if req.seq == s.seq {
                    s.reply.clone()
                } else {
                    Bytes::from_static(
                        b"-TRYAGAIN request superseded by a newer one from the same client\r\n",
                    )
                };
            }
        }
        store.ks.set_lazy_delete(true);
        out.buf.clear();
        out.resp3 = req.resp3;
        // A fresh client per request (no state leaks between clients), on
        // the shared handle (which costs allocations to make).
        *client = Client::new(Arc::clone(&client.handle), true);
        client.resp3 = req.resp3;
        client.db = (req.db as usize).min(store.ks.dbs.len().saturating_sub(1));
        let transaction = req.cmds.first().is_some_and(|c| {
            c.first()
                .is_some_and(|n| n == crate::cmd::multi::EXEC_MARKER)
        });
        for (n, cmd) in req.cmds.iter().enumerate() {
            if cmd.is_empty() || (transaction && n > 0) {
                continue;
            }
            let mut ctx = Ctx {
                server,
                store,
                client: &mut *client,
                out: &mut *out,
                now: req.now_ms.max(1),
                loading: false,
                action: None,
                // Every node applies this entry with the same draws.
                seed: Some(
                    (index ^ req.client.rotate_left(17) ^ req.seq.rotate_left(41))
                        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        ^ n as u64,
                ),
            };
            if transaction {
                // The whole request is one `EXEC`: watches, then the queue.
                crate::cmd::multi::apply_exec(&mut ctx, &req.cmds);
                break;
            }
            execute(&mut ctx, cmd);
            if matches!(ctx.action, Some(crate::cmd::Action::Block(_))) {
                // An entry cannot block: the proposing connection waits.
                out.buf.extend_from_slice(crate::cmd::list::BLOCKED_REPLY);
            }
        }
        for (node, index) in &req.acked {
            let mark = applied.acked.entry(node.clone()).or_default();
            *mark = (*mark).max(*index);
        }
        for (db, key) in &req.expired {
            // Expire only what is still expired at the leader's clock: the
            // key may have been rewritten since the leader saw it.
            if let Some(db) = store.ks.dbs.get_mut(*db as usize) {
                let _ = db.get(key, req.now_ms.max(1));
            }
        }
        let reply = Bytes::copy_from_slice(&out.buf);
        if req.client != 0 {
            applied.sessions.insert(Session {
                client: req.client,
                seq: req.seq,
                reply: reply.clone(),
                index,
            });
        }
        reply
    }

    /// Reads a snapshot file's header and returns it with the offset where
    /// the keyspace data starts.
    fn read_header(path: &Path, data: &[u8]) -> std::io::Result<(SnapshotHeader<C>, usize)> {
        let bad = |what: &str| {
            io_other(format!(
                "raft snapshot {} is corrupt: {what}",
                path.display()
            ))
        };
        if data.len() < PREFIX_LEN || &data[..8] != MAGIC {
            return Err(bad("bad magic"));
        }
        let version = u32::from_le_bytes(data[8..12].try_into().expect("4"));
        if version != VERSION {
            return Err(bad(&format!("unsupported version {version}")));
        }
        let len = u32::from_le_bytes(data[12..16].try_into().expect("4")) as usize;
        let crc = u32::from_le_bytes(data[16..20].try_into().expect("4"));
        let meta = data
            .get(PREFIX_LEN..PREFIX_LEN + len)
            .ok_or_else(|| bad("header extends past the end of the file"))?;
        if crc32c::crc32c(meta) != crc {
            return Err(bad("header checksum mismatch"));
        }
        let header: SnapshotHeader<C> =
            postcard::from_bytes(meta).map_err(|e| bad(&format!("header: {e}")))?;
        Ok((header, PREFIX_LEN + len))
    }

    /// The openraft meta recorded in a snapshot file's header.
    pub fn file_meta(path: &Path, data: &[u8]) -> std::io::Result<SnapshotMetaOf<C>> {
        Ok(Self::read_header(path, data)?.0.meta)
    }

    fn read_file_header(path: &Path) -> std::io::Result<SnapshotHeader<C>> {
        let mut f = std::fs::File::open(path)?;
        let mut prefix = [0u8; PREFIX_LEN];
        f.read_exact(&mut prefix)?;
        let len = u32::from_le_bytes(prefix[12..16].try_into().expect("4")) as usize;
        let mut data = prefix.to_vec();
        data.resize(PREFIX_LEN + len, 0);
        f.read_exact(&mut data[PREFIX_LEN..])?;
        Ok(Self::read_header(path, &data)?.0)
    }
}

fn write_snapshot_file<C: HeliosConfig>(
    tmp: &Path,
    final_path: &Path,
    header: &SnapshotHeader<C>,
    view: &snapshot::View,
    created_ms: u64,
) -> std::io::Result<u64> {
    let meta = postcard::to_stdvec(header).map_err(io_other)?;
    let file = std::fs::File::create(tmp)?;
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, file);
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    w.write_all(&(meta.len() as u32).to_le_bytes())?;
    w.write_all(&crc32c::crc32c(&meta).to_le_bytes())?;
    w.write_all(&meta)?;
    let keys = snapshot::write_to(&mut w, view, 0, created_ms)?;
    w.flush()?;
    w.get_ref().sync_all()?;
    drop(w);
    std::fs::rename(tmp, final_path)?;
    if let Some(dir) = final_path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(keys)
}

impl<C: HeliosConfig> RaftStateMachine<C> for StateMachine<C> {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = StateMachine<C>;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<C>>, StoredMembershipOf<C>), std::io::Error> {
        let a = self.shared.applied.lock();
        Ok((a.last_applied.clone(), a.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), std::io::Error>
    where
        Strm: futures_util::Stream<Item = Result<EntryResponder<C>, std::io::Error>>
            + Unpin
            + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let log_id = entry.log_id();
            let reply = {
                let mut store = self.shared.store.lock();
                let mut applied = self.shared.applied.lock();
                let reply = match C::payload(&entry) {
                    PayloadRef::Blank => Vec::new(),
                    PayloadRef::Normal(proposal) => {
                        let server = self
                            .shared
                            .server
                            .get()
                            .and_then(Weak::upgrade)
                            .ok_or_else(|| {
                                io_other("state machine is not attached to a running server")
                            })?;
                        let mut out = Out::with_capacity(false, 512);
                        let mut client = Client::internal();
                        proposal
                            .requests()
                            .iter()
                            .map(|req| {
                                self.apply_request(
                                    &server,
                                    &mut store,
                                    &mut applied,
                                    &mut out,
                                    &mut client,
                                    log_id.index,
                                    req,
                                )
                            })
                            .collect()
                    }
                    PayloadRef::Membership(m) => {
                        applied.membership =
                            StoredMembershipOf::<C>::new(Some(log_id.clone()), m.clone());
                        // A removed node's marks go: added back, it starts
                        // empty legitimately.
                        let members: std::collections::BTreeSet<String> =
                            m.nodes().map(|(id, _)| id.to_string()).collect();
                        applied.acked.retain(|id, _| members.contains(id));
                        Vec::new()
                    }
                };
                applied.last_applied = Some(log_id);
                reply
            };
            if let Some(r) = responder {
                r.send(Response(reply));
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<C>,
        snapshot: SnapshotFile,
    ) -> Result<(), std::io::Error> {
        let path = snapshot.path;
        let data = std::fs::read(&path)?;
        let (header, at) = Self::read_header(&path, &data)?;
        let databases = self.shared.store.lock().ks.dbs.len();
        let mut ks = Keyspace::new(databases);
        let info =
            snapshot::load_bytes(&data[at..], &path, at as u64, &mut ks).map_err(io_other)?;
        drop(data);
        let current = self.current_path();
        if path != current {
            self.shared
                .installed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::fs::rename(&path, &current)?;
            std::fs::File::open(&self.shared.dir)?.sync_all()?;
        }
        let old = {
            let mut store = self.shared.store.lock();
            let mut applied = self.shared.applied.lock();
            applied.last_applied = meta.last_log_id.clone();
            applied.membership = meta.last_membership.clone();
            applied.sessions = Sessions::from_vec(header.sessions);
            applied.acked = header.acked.into_iter().collect();
            std::mem::replace(&mut store.ks, ks)
        };
        // Dropping a big keyspace takes a while: not under the lock.
        drop(old);
        tracing::info!(
            target: "helios::raft",
            "Snapshot installed [lastIndex {} term {} keys {}]",
            meta.last_log_id.as_ref().map(|l| l.index).unwrap_or(0),
            meta.last_log_id.as_ref().map(|l| l.leader_id.to_string()).unwrap_or_default(),
            info.keys
        );
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<C, SnapshotFile>>, std::io::Error> {
        let path = self.current_path();
        if !path.exists() {
            return Ok(None);
        }
        let header = Self::read_file_header(&path)?;
        Ok(Some(SnapshotOf::<C, SnapshotFile> {
            meta: header.meta,
            snapshot: SnapshotFile { path },
        }))
    }
}

impl<C: HeliosConfig> RaftSnapshotBuilder<C> for StateMachine<C> {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<C, SnapshotFile>, std::io::Error> {
        let created = crate::cmd::unix_ms();
        // A consistent point: the keyspace view and the applied position
        // are read under the keyspace lock, which apply holds while it
        // changes either.
        let (view, header) = {
            let store = self.shared.store.lock();
            let applied = self.shared.applied.lock();
            let sessions = applied.sessions.to_vec();
            (
                snapshot::capture(&store.ks),
                SnapshotHeader::<C> {
                    meta: SnapshotMetaOf::<C> {
                        last_log_id: applied.last_applied.clone(),
                        last_membership: applied.membership.clone(),
                    },
                    sessions,
                    acked: applied.acked.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                },
            )
        };
        let tmp = self.temp_path("build");
        let current = self.current_path();
        let meta = header.meta.clone();
        let t = std::time::Instant::now();
        let keys = tokio::task::spawn_blocking(move || {
            let r = write_snapshot_file(&tmp, &current, &header, &view, created);
            if r.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            r
        })
        .await
        .map_err(io_other)??;
        tracing::info!(
            target: "helios::raft",
            "Snapshot built [lastIndex {} term {} keys {} took {}ms]",
            meta.last_log_id.as_ref().map(|l| l.index).unwrap_or(0),
            meta.last_log_id.as_ref().map(|l| l.leader_id.to_string()).unwrap_or_default(),
            keys,
            t.elapsed().as_millis()
        );
        Ok(SnapshotOf::<C, SnapshotFile> {
            meta,
            snapshot: SnapshotFile {
                path: self.current_path(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(client: u64, index: u64) -> Session {
        Session {
            client,
            seq: index,
            reply: Bytes::from_static(b"+OK\r\n"),
            index,
        }
    }

    #[test]
    fn sessions_evict_the_oldest_last_request_and_updates_move_a_client() {
        let mut t = Sessions::default();
        for c in 1..=MAX_SESSIONS as u64 {
            t.insert(session(c, c));
        }
        // Client 1 writes again: it is now the newest, so client 2 goes next.
        t.insert(session(1, 20_000));
        assert_eq!(t.by_age.len(), MAX_SESSIONS);
        t.insert(session(50_000, 20_001));
        assert_eq!(t.by_client.len(), MAX_SESSIONS);
        assert!(t.get(2).is_none(), "the oldest session was kept");
        assert_eq!(t.get(1).map(|s| s.index), Some(20_000));
        assert!(t.get(3).is_some() && t.get(50_000).is_some());
        assert_eq!(t.by_age.len(), t.by_client.len());
        // Round trip through the snapshot form keeps the same table.
        let again = Sessions::from_vec(t.to_vec());
        assert_eq!(again.by_age, t.by_age);
    }
}
