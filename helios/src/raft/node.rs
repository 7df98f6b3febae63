//! A running Raft node: openraft plus everything Helios layers on it —
//! bootstrap from static peers, the client write and read paths (forward,
//! redirect, read barriers), membership administration, leadership
//! transfer on shutdown, the operator-facing log lines and `INFO` fields.
//!
//! Connections never touch openraft directly; they call
//! [`RaftNode::write`] and [`RaftNode::read_barrier`] and get Redis-shaped
//! outcomes back ([`WriteOutcome`], [`ReadError`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::error::{ClientWriteError, InitializeError, LinearizableReadError, RaftError};
use openraft::raft::{ReadPolicy, SnapshotResponse};
use openraft::{ChangeMembers, RaftMetrics, ServerState, SnapshotPolicy};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::log_store::{LogCloser, LogStore};
use super::network::{
    self, AdminOp, CallError, ForwardReply, NetworkFactory, PeerPool, PeerStatus, Reply, Rpc,
};
use super::state_machine::{SnapshotFile, StateMachine};
use super::types::{
    NodeAddr, NodeId, Proposal, Raft, Request, Snapshot, SnapshotMeta, TypeConfig, Vote,
};
use super::wal::FsyncPolicy as WalPolicy;
use crate::config::{Config, FollowerWrites, FsyncPolicy, ReadConsistency};
use crate::server::Server;
use crate::Error;

/// How a write ended, in Redis terms.
#[derive(Debug)]
pub enum WriteOutcome {
    /// Committed and applied: the replies, and the entry's log index.
    Applied { reply: Bytes, index: u64 },
    /// `-MOVED 0 <addr>` (follower_writes: redirect).
    Moved(String),
    /// `-CLUSTERDOWN No raft leader`.
    NoLeader,
    /// `-TRYAGAIN ...`: the write may or may not have been applied.
    Unknown(String),
}

/// Why a read could not be served with the configured consistency.
#[derive(Debug)]
pub enum ReadError {
    NoLeader,
    Unknown(String),
}

/// A snapshot of the node's Raft state for `INFO`, `RAFT.INFO` and `ROLE`.
#[derive(Debug, Clone)]
pub struct RaftStatus {
    pub id: NodeId,
    pub state: &'static str,
    pub leader: Option<NodeId>,
    pub leader_addr: String,
    pub leader_client_addr: String,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub last_log_index: u64,
    pub snapshot_index: u64,
    pub purged_index: u64,
    pub snapshots_installed: u64,
    /// Raft traffic cut by `RAFT.DEBUG ISOLATE on`.
    pub isolated: bool,
    pub millis_since_quorum_ack: Option<u64>,
    /// Followers and learners: time since a leader last sent AppendEntries.
    pub millis_since_leader_contact: Option<u64>,
    pub voters: Vec<NodeId>,
    pub learners: Vec<NodeId>,
    /// Leader only: every other member's replication progress.
    pub peers: Vec<PeerProgress>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PeerProgress {
    pub id: NodeId,
    pub addr: String,
    /// Where clients reach it; empty when unknown.
    pub client_addr: String,
    pub match_index: u64,
    pub lag: u64,
    pub online: bool,
    pub learner: bool,
}

/// The running node.
pub struct RaftNode {
    pub id: NodeId,
    /// The running openraft core. Replaced as a whole when the Raft timing
    /// changes on a reload (openraft fixes its `Config` at start); use
    /// [`RaftNode::raft`] for the current one.
    raft: parking_lot::RwLock<Raft>,
    /// Bumped when a core starts being replaced; watchers of the old one's
    /// metrics re-subscribe once the new core is installed.
    raft_generation: watch::Sender<u64>,
    /// Serializes core replacements and shutdown.
    replacing: tokio::sync::Mutex<()>,
    /// A handle on the log the core writes, for its successor.
    log_store: LogStore<TypeConfig>,
    pub sm: StateMachine<TypeConfig>,
    pub pool: PeerPool,
    /// This node as the membership records it.
    pub me: NodeAddr,
    /// Static members from the configuration (this node included); empty
    /// when no peers are configured.
    configured: BTreeMap<NodeId, NodeAddr>,
    follower_writes: parking_lot::RwLock<FollowerWrites>,
    read_consistency: parking_lot::RwLock<ReadConsistency>,
    /// `raft.election_timeout` in milliseconds (changes on reload).
    election_timeout_ms: AtomicU64,
    server: std::sync::Weak<Server>,
    log: LogCloser,
    shutdown_tx: watch::Sender<bool>,
    stopped: AtomicBool,
    next_client: AtomicU64,
    /// Client addresses learned from peers' status replies.
    client_addrs: Mutex<BTreeMap<NodeId, String>>,
    /// When each peer last answered (leader view), for `state=online`.
    last_seen: Mutex<BTreeMap<NodeId, Instant>>,
    /// When a leader last sent this node AppendEntries (follower view).
    leader_contact: Mutex<Option<Instant>>,
    /// Requests waiting to be proposed (see [`RaftNode::propose_loop`]).
    proposals:
        tokio::sync::mpsc::UnboundedSender<(Request, tokio::sync::oneshot::Sender<ForwardReply>)>,
}

type MetricsRx = openraft::type_config::alias::WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>;

/// A subscription to the metrics of the core that was current at
/// `generation` (see [`RaftNode::metrics_changed`]).
struct MetricsWatch {
    rx: MetricsRx,
    generation: u64,
}

/// Proposals in flight at once; requests arriving meanwhile wait and go
/// out together in the next one.
const PROPOSALS_IN_FLIGHT: usize = 1;
/// Requests per proposal at most.
const MAX_PROPOSAL: usize = 1024;

impl std::fmt::Debug for RaftNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode").field("id", &self.id).finish()
    }
}

/// The address clients should use for this node: the listen address, with
/// an unspecified IP replaced by the Raft bind host.
fn advertised_client_addr(listen: SocketAddr, raft_bind: &str) -> String {
    if !listen.ip().is_unspecified() {
        return listen.to_string();
    }
    let host = raft_bind
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or("127.0.0.1");
    let host = if host.is_empty() || host == "0.0.0.0" || host == "[::]" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", listen.port())
}

fn bind_ip(addr: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    let sa = addr.to_socket_addrs().ok()?.next()?;
    (!sa.ip().is_unspecified()).then_some(sa.ip())
}

/// openraft's configuration for `raft.heartbeat_timeout`,
/// `raft.election_timeout` and `raft.snapshot_threshold`.
fn openraft_config(rc: &crate::config::RaftConfig) -> Result<openraft::Config, Error> {
    let hb = rc.heartbeat_timeout.as_millis().max(1) as u64;
    // `election_timeout` is how long followers wait after the leader's
    // last heartbeat before they may elect another: openraft's leader
    // lease, which is its `election_timeout_max` (voters refuse votes
    // until it runs out). A follower's own timer fires at random in
    // [et/2, et): a first attempt inside the lease is refused and the
    // next one, in [et, 2et), succeeds, so a dead leader is replaced in
    // about 1-1.5x `election_timeout`.
    // Config validation guarantees et > 2 * hb.
    let et = rc.election_timeout.as_millis() as u64;
    openraft::Config {
        cluster_name: "helios".into(),
        heartbeat_interval: hb,
        election_timeout_min: (et / 2).max(hb + 1),
        election_timeout_max: et,
        install_snapshot_timeout: 10_000.max(et * 4),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(rc.snapshot_threshold),
        // Entries kept after a snapshot for followers that are only a
        // little behind; further behind, they get the snapshot.
        max_in_snapshot_log_to_keep: rc.snapshot_threshold.min(1000),
        replication_lag_threshold: rc.snapshot_threshold.saturating_mul(2).max(5000),
        enable_pre_vote: Some(true),
        // Replicate entries as soon as they are written locally, so the
        // followers' fsyncs overlap the leader's instead of following it.
        broadcast_submitted_on_append: Some(true),
        // A restarted node rejoins as a follower and learns the leader
        // from the cluster instead of resuming leadership from its vote.
        enable_leader_restore: Some(false),
        // Partial-partition liveness (openraft issue #2080): must be at
        // least leader lease + max election timeout.
        quorum_loss_probe_interval: Some(et * 4 + 100),
        ..Default::default()
    }
    .validate()
    .map_err(|e| Error::Unsupported(format!("raft timing: {e}")))
}

impl RaftNode {
    /// Opens the Raft log and snapshot, starts openraft, the transport
    /// listener, bootstrap and the background jobs.
    pub async fn start(server: &Arc<Server>, listen: SocketAddr) -> Result<Arc<RaftNode>, Error> {
        let config: Config = server.config.read().clone();
        let rc = &config.raft;
        std::fs::create_dir_all(&rc.data_dir).map_err(|e| Error::Io {
            what: format!(
                "cannot create raft data directory {}",
                rc.data_dir.display()
            ),
            source: e,
        })?;
        let policy = match config.aof_fsync {
            FsyncPolicy::Always => WalPolicy::Always,
            FsyncPolicy::Every => WalPolicy::Every,
            FsyncPolicy::No => WalPolicy::No,
        };
        if config.aof_fsync != FsyncPolicy::Always {
            tracing::warn!(
                "aof_fsync is {}: the raft log is fsynced {}, so a machine crash can lose the last acknowledged writes on this node; Raft's guarantees then hold for process crashes only",
                config.aof_fsync,
                if config.aof_fsync == FsyncPolicy::Every { "once a second" } else { "when the OS decides" }
            );
        }
        let log_store =
            LogStore::open(&rc.data_dir, policy).map_err(|e| Error::Raft(e.to_string()))?;
        if config.snapshot_interval_cmds > 0 || !config.snapshot_interval_time.is_zero() {
            tracing::info!(
                "raft mode: snapshots follow raft.snapshot_threshold ({} entries); atlas.snapshot_interval_cmds/_time apply to standalone mode only",
                rc.snapshot_threshold
            );
        }
        let log = log_store.closer();
        let sm = StateMachine::new(server.store.clone(), &config.data_dir);
        sm.attach(server);
        sm.remove_temp_files();

        let raft_config = openraft_config(rc)?;
        let et = rc.election_timeout.as_millis() as u64;

        let me = NodeAddr {
            raft_addr: rc.bind_addr.clone(),
            client_addr: advertised_client_addr(listen, &rc.bind_addr),
        };
        let mut configured = BTreeMap::new();
        if !rc.peers.is_empty() {
            configured.insert(rc.node_id.clone(), me.clone());
            for p in &rc.peers {
                configured.insert(
                    p.id.clone(),
                    NodeAddr {
                        raft_addr: p.address.clone(),
                        client_addr: p.client_address.clone().unwrap_or_default(),
                    },
                );
            }
        }
        let pool = PeerPool::new(rc.node_id.clone(), bind_ip(&rc.bind_addr));
        let raft = Raft::new(
            rc.node_id.clone(),
            Arc::new(raft_config),
            NetworkFactory { pool: pool.clone() },
            log_store.share(),
            sm.clone(),
        )
        .await
        .map_err(|e| Error::Raft(format!("cannot start raft: {e}")))?;

        let listener = TcpListener::bind(&rc.bind_addr)
            .await
            .map_err(|e| Error::Io {
                what: format!("cannot listen on raft address {}", rc.bind_addr),
                source: e,
            })?;
        let (shutdown_tx, _) = watch::channel(false);
        let (proposals, proposal_rx) = tokio::sync::mpsc::unbounded_channel();
        let node = Arc::new(RaftNode {
            id: rc.node_id.clone(),
            raft: parking_lot::RwLock::new(raft),
            raft_generation: watch::channel(0).0,
            replacing: tokio::sync::Mutex::new(()),
            log_store,
            sm,
            pool,
            me,
            configured,
            follower_writes: parking_lot::RwLock::new(rc.follower_writes),
            read_consistency: parking_lot::RwLock::new(rc.read_consistency),
            election_timeout_ms: AtomicU64::new(et),
            server: Arc::downgrade(server),
            log,
            shutdown_tx,
            stopped: AtomicBool::new(false),
            next_client: AtomicU64::new(rand::random::<u64>() >> 16 << 16 | 1),
            client_addrs: Mutex::new(BTreeMap::new()),
            last_seen: Mutex::new(BTreeMap::new()),
            leader_contact: Mutex::new(None),
            proposals,
        });
        tokio::spawn(node.clone().propose_loop(proposal_rx));
        tokio::spawn(network::serve(listener, node.clone()));
        tokio::spawn(node.clone().watch_metrics());
        tokio::spawn(node.clone().bootstrap());
        tokio::spawn(node.clone().active_expiry());
        Ok(node)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// The running openraft core (a cheap handle).
    pub fn raft(&self) -> Raft {
        self.raft.read().clone()
    }

    /// True while the openraft core is being replaced (new timing).
    pub fn core_restarting(&self) -> bool {
        self.core_generation() % 2 == 1
    }

    /// Counts core replacements: odd while one is under way.
    pub fn core_generation(&self) -> u64 {
        *self.raft_generation.borrow()
    }

    /// `raft.election_timeout` as currently applied.
    fn election_timeout(&self) -> Duration {
        Duration::from_millis(self.election_timeout_ms.load(Ordering::Relaxed))
    }

    /// Subscribes to the current core's metrics.
    fn metrics_watch(&self) -> MetricsWatch {
        let raft = self.raft.read();
        MetricsWatch {
            rx: raft.metrics(),
            generation: *self.raft_generation.borrow(),
        }
    }

    /// Waits for the next metrics change. When the core behind `w` stopped
    /// because it is being replaced, waits for its successor and follows
    /// it. False when there is nothing more to watch (the node is stopping
    /// or its core died).
    async fn metrics_changed(&self, w: &mut MetricsWatch) -> bool {
        if w.rx.changed().await.is_ok() {
            return true;
        }
        self.follow_successor(w).await
    }

    /// [`RaftNode::metrics_changed`] after the core behind `w` stopped.
    async fn follow_successor(&self, w: &mut MetricsWatch) -> bool {
        let mut generation = self.raft_generation.subscribe();
        loop {
            if self.stopped.load(Ordering::Acquire) {
                return false;
            }
            let now = *generation.borrow_and_update();
            // Even: a core is installed. The same even generation as when
            // subscribing means no replacement was under way: the core died.
            if now.is_multiple_of(2) {
                if now == w.generation {
                    return false;
                }
                *w = self.metrics_watch();
                return true;
            }
            if generation.changed().await.is_err() {
                return false;
            }
        }
    }

    /// Applies new `raft.heartbeat_timeout`, `raft.election_timeout` and
    /// `raft.snapshot_threshold`. openraft fixes its configuration when a
    /// core starts, so the core is replaced: a leader first hands
    /// leadership to the most caught-up follower, the core stops, the log
    /// is fsynced, and a new core starts on the same log and state machine
    /// (a follower, as after a restart, but the process, its listeners,
    /// connections and keyspace stay). A write caught in the switch gets
    /// `-TRYAGAIN`; retried, it is applied once (sessions).
    pub async fn apply_raft_timing(&self, rc: &crate::config::RaftConfig) -> Result<(), String> {
        let config = Arc::new(openraft_config(rc).map_err(|e| e.to_string())?);
        let _one_at_a_time = self.replacing.lock().await;
        if self.stopped.load(Ordering::Acquire) {
            return Err("the node is shutting down".into());
        }
        self.step_down().await;
        let old = self.raft();
        // Odd: watchers of the old core wait for the next one.
        self.raft_generation.send_modify(|g| *g += 1);
        if let Err(e) = old.shutdown().await {
            tracing::warn!(target: "helios::raft", "raft core shutdown for new timing: {e}");
        }
        drop(old);
        let started = async {
            // The new core takes whatever the log holds as durable.
            self.log_store
                .sync()
                .map_err(|e| format!("raft log sync: {e}"))?;
            Raft::new(
                self.id.clone(),
                config,
                NetworkFactory {
                    pool: self.pool.clone(),
                },
                self.log_store.share(),
                self.sm.clone(),
            )
            .await
            .map_err(|e| format!("cannot restart the raft core: {e}"))
        }
        .await;
        match started {
            Ok(new) => {
                let mut raft = self.raft.write();
                *raft = new;
                self.election_timeout_ms
                    .store(rc.election_timeout.as_millis() as u64, Ordering::Relaxed);
                self.raft_generation.send_modify(|g| *g += 1);
                Ok(())
            }
            Err(e) => {
                tracing::error!(target: "helios::raft", "{e}; shutting down");
                if let Some(s) = self.server.upgrade() {
                    s.shutdown(false);
                }
                Err(e)
            }
        }
    }

    /// Applies `raft.follower_writes` and `raft.read_consistency`.
    pub fn set_client_policy(&self, writes: FollowerWrites, reads: ReadConsistency) {
        *self.follower_writes.write() = writes;
        *self.read_consistency.write() = reads;
    }

    /// A fresh client id for a connection's requests (never 0).
    pub fn new_client_id(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }

    fn metrics(&self) -> RaftMetrics<TypeConfig> {
        self.raft().metrics().borrow_watched().clone()
    }

    /// Every member's addresses as the membership records them.
    pub fn member_addrs(&self) -> BTreeMap<NodeId, NodeAddr> {
        let rx = self.raft.read().metrics();
        let m = rx.borrow_watched();
        m.membership_config
            .membership()
            .nodes()
            .map(|(id, a)| (id.clone(), a.clone()))
            .collect()
    }

    /// [`RaftNode::known_leader`] without copying the metrics (hot path).
    fn current_leader(&self) -> Option<NodeId> {
        let rx = self.raft.read().metrics();
        let m = rx.borrow_watched();
        self.known_leader(&m)
    }

    /// The leader as far as this node can tell: openraft keeps naming the
    /// last leader until a new one is elected (and with pre-vote, a node cut
    /// off from the majority never starts an election), so a follower that
    /// has not heard from its leader for longer than an election timeout
    /// reports none.
    fn known_leader(&self, m: &RaftMetrics<TypeConfig>) -> Option<NodeId> {
        let l = m.current_leader.clone()?;
        if l == self.id {
            return (m.state == ServerState::Leader).then_some(l);
        }
        let fresh = self
            .leader_contact
            .lock()
            .is_some_and(|t| t.elapsed() < self.election_timeout() * 3);
        fresh.then_some(l)
    }

    pub fn is_leader(&self) -> bool {
        let m = self.raft().metrics();
        let m = m.borrow_watched();
        m.state == ServerState::Leader
    }

    fn node_addr(&self, m: &RaftMetrics<TypeConfig>, id: &NodeId) -> Option<NodeAddr> {
        m.membership_config
            .membership()
            .get_node(id)
            .cloned()
            .or_else(|| self.configured.get(id).cloned())
    }

    fn peer_for(&self, id: &NodeId) -> Option<Arc<network::PeerClient>> {
        let addr = {
            let rx = self.raft.read().metrics();
            let m = rx.borrow_watched();
            self.node_addr(&m, id)?
        };
        Some(self.pool.get(id, &addr.raft_addr))
    }

    // ---- transport callbacks ------------------------------------------

    /// Records that a leader's AppendEntries was just accepted.
    pub fn note_leader_contact(&self) {
        *self.leader_contact.lock() = Some(Instant::now());
    }

    /// Checks the first frame of an incoming peer connection.
    pub fn check_hello(
        &self,
        from: &NodeId,
        to: &NodeId,
        acked: Option<u64>,
    ) -> Result<(), String> {
        if *to != self.id {
            return Err(format!(
                "this is node {} but the connection from {from} was meant for {to}: check the peer addresses",
                self.id
            ));
        }
        if let Some(acked) = acked {
            let m = self.metrics();
            let empty = m.last_log_index.is_none() && m.snapshot.is_none() && m.purged.is_none();
            if empty {
                let msg = format!(
                    "node {} has an empty raft log, but leader {from} saw it acknowledge entries up to index {acked}: its data directory was wiped or replaced. Refusing to rejoin, since acknowledged entries could be lost. Remove the node (RAFT.NODE REMOVE {}) and add it back (RAFT.NODE ADD), or restore its data directory",
                    self.id, self.id
                );
                tracing::error!(target: "helios::raft", "{msg}");
                return Err(msg);
            }
        }
        Ok(())
    }

    /// Serves one request from a peer.
    pub async fn handle_rpc(self: Arc<Self>, rpc: Rpc) -> Reply {
        match rpc {
            Rpc::Hello { .. } => Reply::Hello(Err("duplicate hello".into())),
            // The old core is stopping: openraft would refuse these too,
            // logging each refusal as an error.
            Rpc::Append(_) if self.core_restarting() => {
                Reply::Append(Err(network::CORE_RESTARTING.into()))
            }
            Rpc::Vote(_) | Rpc::PreVote(_) if self.core_restarting() => {
                Reply::Vote(Err(network::CORE_RESTARTING.into()))
            }
            Rpc::TransferLeader(_) if self.core_restarting() => {
                Reply::TransferLeader(Err(network::CORE_RESTARTING.into()))
            }
            Rpc::Append(r) => {
                let reply = self.raft().append_entries(r).await;
                if matches!(reply, Ok(openraft::raft::AppendEntriesResponse::Success)) {
                    self.note_leader_contact();
                }
                Reply::Append(reply.map_err(|e| e.to_string()))
            }
            Rpc::Vote(r) => Reply::Vote(self.raft().vote(r).await.map_err(|e| e.to_string())),
            Rpc::PreVote(r) => {
                Reply::Vote(self.raft().pre_vote(r).await.map_err(|e| e.to_string()))
            }
            Rpc::TransferLeader(r) => Reply::TransferLeader(
                self.raft()
                    .handle_transfer_leader(r)
                    .await
                    .map_err(|e| e.to_string()),
            ),
            Rpc::SnapshotChunk { .. } | Rpc::SnapshotDone { .. } | Rpc::StreamAppend(_) => {
                Reply::Snapshot(Err("snapshot frames are handled by the connection".into()))
            }
            Rpc::Forward(req) => Reply::Forward(self.write_local(req).await),
            Rpc::ReadIndex => Reply::ReadIndex(self.leader_read_index().await),
            Rpc::Status => Reply::Status(self.peer_status().await),
            Rpc::Admin(op) => Reply::Admin(self.admin_local(op).await),
            Rpc::Replicas(index) => {
                Reply::Replicas(self.is_leader().then(|| self.replicas_with(index)))
            }
            Rpc::Progress => Reply::Progress(self.is_leader().then(|| self.status().peers)),
        }
    }

    /// Every member's replication progress as the leader sees it, and the
    /// leader's id: from this node when it leads, else asked of the leader
    /// (bounded by `timeout`). `None` without a reachable leader.
    pub async fn leader_progress(&self, timeout: Duration) -> Option<(NodeId, Vec<PeerProgress>)> {
        let leader = self.current_leader()?;
        if leader == self.id {
            return Some((leader, self.status().peers));
        }
        let peer = self.peer_for(&leader)?;
        // The whole exchange (a connect included) within `timeout`.
        match tokio::time::timeout(timeout, peer.call(&Rpc::Progress, timeout)).await {
            Ok(Ok(Reply::Progress(Some(peers)))) => Some((leader, peers)),
            _ => None,
        }
    }

    pub async fn install_received_snapshot(
        &self,
        path: PathBuf,
        file: std::fs::File,
        vote: Vote,
        meta: SnapshotMeta,
    ) -> Result<SnapshotResponse<TypeConfig>, String> {
        if let Err(e) = file.sync_all() {
            let _ = std::fs::remove_file(&path);
            return Err(format!("fsync {}: {e}", path.display()));
        }
        drop(file);
        let snapshot = Snapshot {
            meta,
            snapshot: SnapshotFile { path: path.clone() },
        };
        let r = self.raft().install_full_snapshot(vote, snapshot).await;
        if path.exists() {
            // Not taken by install (a stale snapshot): drop it.
            let _ = std::fs::remove_file(&path);
        }
        r.map_err(|e| e.to_string())
    }

    async fn peer_status(&self) -> PeerStatus {
        let m = self.metrics();
        let membership = m.membership_config.membership();
        PeerStatus {
            id: self.id.clone(),
            initialized: self.raft().is_initialized().await.unwrap_or(false),
            configured: self.configured.keys().cloned().collect(),
            members: membership.nodes().map(|(id, _)| id.clone()).collect(),
            leader: m.current_leader.clone(),
            client_addr: self.me.client_addr.clone(),
        }
    }

    // ---- bootstrap ------------------------------------------------------

    /// Forms the cluster from the static peer list once a majority of it is
    /// up: exactly one node (the lowest id among the reachable ones that
    /// were given the same peer list) initializes, with the full configured
    /// membership. Skipped for an initialized node, for a node without
    /// peers (it waits to be added), and as soon as any peer reports that a
    /// cluster already exists.
    async fn bootstrap(self: Arc<Self>) {
        if self.raft().is_initialized().await.unwrap_or(true) {
            return;
        }
        if self.configured.is_empty() {
            tracing::info!(target: "helios::raft", "No peers configured: waiting to be added to a cluster (RAFT.NODE ADD on its leader) or initialized (RAFT.CLUSTER INIT)");
            return;
        }
        let mut shutdown = self.shutdown_signal();
        let mut warned_mismatch = false;
        let mut waiting_logged = false;
        loop {
            if self.raft().is_initialized().await.unwrap_or(true) {
                return;
            }
            let mut reachable = vec![self.id.clone()];
            let mut initializers = vec![self.id.clone()];
            let mut existing = None;
            let mut mismatch = None;
            let probes = self
                .configured
                .iter()
                .filter(|(id, _)| **id != self.id)
                .map(|(id, addr)| {
                    let peer = self.pool.get(id, &addr.raft_addr);
                    async move {
                        (
                            peer.target.clone(),
                            peer.call(&Rpc::Status, Duration::from_secs(1)).await,
                        )
                    }
                })
                .collect::<Vec<_>>();
            for (id, r) in futures_util::future::join_all(probes).await {
                if let Ok(Reply::Status(st)) = r {
                    self.client_addrs
                        .lock()
                        .insert(id.clone(), st.client_addr.clone());
                    reachable.push(id.clone());
                    if st.initialized {
                        existing = Some(st);
                        break;
                    }
                    let mine: Vec<NodeId> = self.configured.keys().cloned().collect();
                    if !st.configured.is_empty() {
                        if st.configured == mine {
                            initializers.push(id);
                        } else {
                            mismatch = Some((id, st.configured));
                        }
                    }
                }
            }
            if let Some(st) = existing {
                if st.members.contains(&self.id) {
                    tracing::info!(target: "helios::raft", "Joining existing cluster [peer {} leader {}]", st.id, st.leader.clone().unwrap_or_default());
                } else {
                    tracing::warn!(target: "helios::raft", "A cluster already exists without this node [peer {} members {}]: add it with RAFT.NODE ADD {} {} on the leader", st.id, st.members.join(","), self.id, self.me.raft_addr);
                }
                return;
            }
            if let Some((id, theirs)) = mismatch {
                if !warned_mismatch {
                    warned_mismatch = true;
                    tracing::error!(target: "helios::raft", "Peer lists disagree: this node has {} but {id} has {}; not initializing until every node is given the same members", self.configured.keys().cloned().collect::<Vec<_>>().join(","), theirs.join(","));
                }
            } else {
                let majority = self.configured.len() / 2 + 1;
                initializers.sort();
                if reachable.len() >= majority && initializers.first() == Some(&self.id) {
                    let members = self.members_for_init();
                    tracing::info!(target: "helios::raft", "Initializing cluster [members {}]", members.keys().cloned().collect::<Vec<_>>().join(","));
                    match self.raft().initialize(members).await {
                        Ok(()) => return,
                        Err(RaftError::APIError(InitializeError::NotAllowed(_))) => return,
                        Err(e) => {
                            tracing::error!(target: "helios::raft", "Initialization failed: {e}")
                        }
                    }
                } else if !waiting_logged {
                    waiting_logged = true;
                    tracing::info!(target: "helios::raft", "Waiting for peers [reachable {} of {} needed {majority}]", reachable.len(), self.configured.len());
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// The configured membership with every client address we know.
    fn members_for_init(&self) -> BTreeMap<NodeId, NodeAddr> {
        let learned = self.client_addrs.lock();
        self.configured
            .iter()
            .map(|(id, a)| {
                let mut a = a.clone();
                if a.client_addr.is_empty() {
                    if let Some(c) = learned.get(id) {
                        a.client_addr = c.clone();
                    }
                }
                (id.clone(), a)
            })
            .collect()
    }

    /// `RAFT.CLUSTER INIT`: initializes with the configured members, or
    /// with this node alone when none are configured.
    pub async fn init_cluster(&self) -> Result<String, String> {
        if self
            .raft()
            .is_initialized()
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok("already initialized".into());
        }
        let members = if self.configured.is_empty() {
            BTreeMap::from([(self.id.clone(), self.me.clone())])
        } else {
            self.members_for_init()
        };
        match self.raft().initialize(members).await {
            Ok(()) => Ok("OK".into()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                Ok("already initialized".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    // ---- writes ---------------------------------------------------------

    /// Replicates a client's write batch and returns its replies.
    pub async fn write(self: &Arc<Self>, req: Request) -> WriteOutcome {
        let outcome = self.replicate(req).await;
        if matches!(outcome, WriteOutcome::NoLeader | WriteOutcome::Unknown(_)) {
            crate::metrics::events().proposals_failed.inc();
        }
        outcome
    }

    async fn replicate(self: &Arc<Self>, req: Request) -> WriteOutcome {
        let deadline = Instant::now() + self.election_timeout() * 4 + Duration::from_secs(1);
        let mut target: Option<NodeId> = None;
        // Whether some attempt may have reached a leader's log: then running
        // out of time is "unknown" (-TRYAGAIN), never "no leader".
        let mut maybe_applied = false;
        loop {
            let leader = match target.take() {
                Some(l) => Some(l),
                None => self.current_leader(),
            };
            let outcome = match leader {
                Some(l) if l == self.id => self.write_local(req.clone()).await,
                Some(l) => {
                    if *self.follower_writes.read() == FollowerWrites::Redirect {
                        return match self.leader_client_addr(&l).await {
                            Some(a) => WriteOutcome::Moved(a),
                            None => WriteOutcome::NoLeader,
                        };
                    }
                    self.forward(&l, &req, deadline).await
                }
                None => ForwardReply::NotLeader { leader: None },
            };
            match outcome {
                ForwardReply::Applied { reply, index } => {
                    return WriteOutcome::Applied { reply, index }
                }
                ForwardReply::Unknown(e) => return WriteOutcome::Unknown(e),
                ForwardReply::Retry { leader } => {
                    maybe_applied = true;
                    if Instant::now() >= deadline || self.stopped.load(Ordering::Acquire) {
                        return WriteOutcome::Unknown(
                            "the leader changed while the write was in flight; it may or may not have been applied".into(),
                        );
                    }
                    if leader.is_none() {
                        self.wait_for_leader(deadline).await;
                    }
                    target = leader;
                }
                ForwardReply::NotLeader { leader } => {
                    if Instant::now() >= deadline || self.stopped.load(Ordering::Acquire) {
                        return if maybe_applied {
                            WriteOutcome::Unknown(
                                "no leader answered in time; the write may or may not have been applied".into(),
                            )
                        } else {
                            WriteOutcome::NoLeader
                        };
                    }
                    if leader.is_none() {
                        self.wait_for_leader(deadline).await;
                    }
                    target = leader;
                }
            }
        }
    }

    async fn wait_for_leader(&self, deadline: Instant) {
        let mut w = self.metrics_watch();
        let until = tokio::time::Instant::from_std(deadline);
        loop {
            if self.known_leader(&w.rx.borrow_watched()).is_some() {
                // A new leader may refuse writes until its first quorum
                // acknowledgement; give it a moment.
                tokio::time::sleep(Duration::from_millis(20)).await;
                return;
            }
            tokio::select! {
                ok = self.metrics_changed(&mut w) => if !ok { return },
                // Leader contact is not a metrics change: poll as well.
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = tokio::time::sleep_until(until) => return,
            }
        }
    }

    /// Sends a write to the leader, retrying the same `(client, seq)` across
    /// lost connections: the leader's session table makes retries safe.
    async fn forward(&self, leader: &NodeId, req: &Request, deadline: Instant) -> ForwardReply {
        let Some(peer) = self.peer_for(leader) else {
            return ForwardReply::NotLeader { leader: None };
        };
        let rpc = Rpc::Forward(req.clone());
        let mut sent = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return if sent {
                    ForwardReply::Unknown("the leader did not answer in time; the write may or may not have been applied".into())
                } else {
                    ForwardReply::NotLeader { leader: None }
                };
            }
            let call = tokio::select! {
                r = peer.call(&rpc, left) => r,
                // A hung leader (stopped, cut off) never answers; once a
                // new one is known, go there. The old one may have the
                // write in its log: the same (client, seq) is applied once.
                new = self.leader_moved_from(leader) => {
                    return ForwardReply::Retry { leader: Some(new) };
                }
            };
            match call {
                Ok(Reply::Forward(r)) => return r,
                Ok(_) => return ForwardReply::Unknown("unexpected reply from the leader".into()),
                Err(CallError::Timeout) => sent = true,
                Err(CallError::Lost(_)) => {
                    // Sent, then the connection broke: the leader may have
                    // it. Retrying the same (client, seq) is safe.
                    return ForwardReply::Retry { leader: None };
                }
                Err(CallError::Unreachable(_)) => {
                    // The leader may have died: let the caller re-resolve it.
                    if self.current_leader().as_ref() != Some(leader) {
                        return ForwardReply::NotLeader { leader: None };
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Resolves once this node knows a leader other than `old`.
    async fn leader_moved_from(&self, old: &NodeId) -> NodeId {
        let mut w = self.metrics_watch();
        loop {
            if let Some(l) = self.current_leader().filter(|l| l != old) {
                return l;
            }
            tokio::select! {
                ok = self.metrics_changed(&mut w) => if !ok { std::future::pending::<()>().await },
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    }

    /// Proposes a write on this node, which believes it is the leader: it
    /// joins the next proposal (see [`RaftNode::propose_loop`]).
    async fn write_local(&self, req: Request) -> ForwardReply {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.proposals.send((req, tx)).is_err() {
            return ForwardReply::NotLeader { leader: None };
        }
        rx.await
            .unwrap_or_else(|_| ForwardReply::Unknown("the node stopped while proposing".into()))
    }

    /// Cross-connection batching: whatever requests are waiting when a
    /// proposal slot frees up become one log entry, so under load one round
    /// of replication and fsyncs serves many clients.
    async fn propose_loop(
        self: Arc<Self>,
        mut rx: tokio::sync::mpsc::UnboundedReceiver<(
            Request,
            tokio::sync::oneshot::Sender<ForwardReply>,
        )>,
    ) {
        let slots = Arc::new(tokio::sync::Semaphore::new(PROPOSALS_IN_FLIGHT));
        while let Some(first) = rx.recv().await {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_PROPOSAL {
                match rx.try_recv() {
                    Ok(x) => batch.push(x),
                    Err(_) => break,
                }
            }
            let node = self.clone();
            tokio::spawn(async move {
                node.propose(batch).await;
                drop(slot);
            });
        }
    }

    /// Proposes one batch and hands every request its outcome.
    async fn propose(&self, batch: Vec<(Request, tokio::sync::oneshot::Sender<ForwardReply>)>) {
        // The leader's clock is what every node applies the entry with.
        let now = crate::cmd::unix_ms();
        let (reqs, waiters): (Vec<Request>, Vec<_>) = batch
            .into_iter()
            .map(|(mut r, w)| {
                r.now_ms = now;
                (r, w)
            })
            .unzip();
        let timeout = self.election_timeout() * 4 + Duration::from_secs(1);
        let result =
            tokio::time::timeout(timeout, self.raft().client_write(Proposal::new(reqs))).await;
        let shared = match result {
            Ok(Ok(resp)) => {
                let index = resp.log_id.index;
                let mut replies = resp.data.0.into_iter();
                for w in waiters {
                    let r = match replies.next() {
                        Some(reply) => ForwardReply::Applied { reply, index },
                        None => ForwardReply::Unknown("applied without a reply".into()),
                    };
                    let _ = w.send(r);
                }
                return;
            }
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                ForwardReply::NotLeader {
                    leader: f.leader_id,
                }
            }
            // The entry was appended and then discarded by a new leader:
            // it may still commit through that leader. Retrying with the
            // same (client, seq) is safe (sessions), so route it there.
            Ok(Err(RaftError::APIError(ClientWriteError::LogEntryDiscarded(f)))) => {
                ForwardReply::Retry {
                    leader: f.leader_id,
                }
            }
            Ok(Err(e)) => ForwardReply::Unknown(e.to_string()),
            Err(_) => ForwardReply::Unknown(format!(
                "not committed within {}ms (leader lost quorum?)",
                timeout.as_millis()
            )),
        };
        for w in waiters {
            let _ = w.send(shared.clone());
        }
    }

    /// The client address of `leader`, for `-MOVED`.
    async fn leader_client_addr(&self, leader: &NodeId) -> Option<String> {
        let m = self.metrics();
        if let Some(a) = self.node_addr(&m, leader) {
            if !a.client_addr.is_empty() {
                return Some(a.client_addr);
            }
        }
        if let Some(a) = self.client_addrs.lock().get(leader) {
            return Some(a.clone());
        }
        let peer = self.peer_for(leader)?;
        if let Ok(Reply::Status(st)) = peer.call(&Rpc::Status, Duration::from_secs(1)).await {
            self.client_addrs
                .lock()
                .insert(leader.clone(), st.client_addr.clone());
            return Some(st.client_addr);
        }
        None
    }

    // ---- reads ----------------------------------------------------------

    /// Waits until this node can serve a read with the configured
    /// consistency.
    pub async fn read_barrier(self: &Arc<Self>) -> Result<(), ReadError> {
        let policy = match *self.read_consistency.read() {
            ReadConsistency::Stale => return Ok(()),
            ReadConsistency::Lease => ReadPolicy::LeaseRead,
            ReadConsistency::Linearizable => ReadPolicy::ReadIndex,
        };
        let deadline = Instant::now() + self.election_timeout() * 4 + Duration::from_secs(1);
        loop {
            let leader = self.current_leader();
            let index = match leader {
                None => Err(None),
                Some(l) if l == self.id => self.read_index(policy.clone()).await,
                Some(l) => match self.peer_for(&l) {
                    None => Err(None),
                    Some(peer) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        match peer.call(&Rpc::ReadIndex, left).await {
                            Ok(Reply::ReadIndex(r)) => r,
                            _ => Err(None),
                        }
                    }
                },
            };
            match index {
                Ok(index) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    return self
                        .raft()
                        .wait(Some(left.max(Duration::from_millis(1))))
                        .applied_index_at_least(Some(index), "read barrier")
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            ReadError::Unknown(format!("not caught up with the leader: {e}"))
                        });
                }
                Err(hint) => {
                    if Instant::now() >= deadline {
                        return Err(ReadError::NoLeader);
                    }
                    if hint.is_none() {
                        self.wait_for_leader(deadline).await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
    }

    /// Waits until this node has applied `index` (a write this client made
    /// through another node).
    pub async fn wait_applied(&self, index: u64) -> Result<(), String> {
        if self.sm.last_applied().is_some_and(|l| l.index >= index) {
            return Ok(());
        }
        self.raft()
            .wait(Some(self.election_timeout() * 4 + Duration::from_secs(1)))
            .applied_index_at_least(Some(index), "read your writes")
            .await
            .map(|_| ())
            .map_err(|e| format!("not caught up with the leader: {e}"))
    }

    /// `SAVE`: builds a snapshot of everything applied so far and waits
    /// for it.
    pub async fn snapshot_now(&self) -> Result<(), String> {
        let applied = self.sm.last_applied().map(|l| l.index);
        if applied.is_none() {
            return Ok(());
        }
        self.raft()
            .trigger()
            .snapshot()
            .await
            .map_err(|e| e.to_string())?;
        self.raft()
            .wait(Some(Duration::from_secs(300)))
            .metrics(|m| m.snapshot.map(|l| l.index) >= applied, "snapshot")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn read_index(&self, policy: ReadPolicy) -> Result<u64, Option<NodeId>> {
        match self.raft().get_read_log_id(policy).await {
            Ok((read, _)) => Ok(read.index()),
            Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f))) => Err(f.leader_id),
            Err(_) => Err(None),
        }
    }

    /// A follower asks for a read index: the leader confirms its leadership
    /// (ReadIndex: a quorum round) and returns its commit point.
    async fn leader_read_index(&self) -> Result<u64, Option<NodeId>> {
        let policy = match *self.read_consistency.read() {
            ReadConsistency::Lease => ReadPolicy::LeaseRead,
            _ => ReadPolicy::ReadIndex,
        };
        self.read_index(policy).await
    }

    // ---- admin ----------------------------------------------------------

    /// Runs a membership change on the leader (forwarding it if needed).
    pub async fn admin(&self, op: AdminOp) -> Result<String, String> {
        let leader = self.current_leader();
        match leader {
            None => Err("CLUSTERDOWN No raft leader".into()),
            Some(l) if l == self.id => self.admin_local(op).await,
            Some(l) => {
                let peer = self.peer_for(&l).ok_or("CLUSTERDOWN No raft leader")?;
                match peer.call(&Rpc::Admin(op), Duration::from_secs(120)).await {
                    Ok(Reply::Admin(r)) => r,
                    Ok(_) => Err("ERR unexpected reply from the leader".into()),
                    Err(e) => Err(format!("TRYAGAIN leader {l}: {e}")),
                }
            }
        }
    }

    async fn admin_local(&self, op: AdminOp) -> Result<String, String> {
        let fmt_err = |e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>| match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => {
                "TRYAGAIN leadership changed; retry".to_string()
            }
            e => format!("ERR {e}"),
        };
        match op {
            AdminOp::AddNode { id, addr } => {
                let m = self.metrics();
                if m.membership_config
                    .membership()
                    .voter_ids()
                    .any(|v| v == id)
                {
                    return Ok(format!("{id} is already a voter"));
                }
                tracing::info!(target: "helios::raft", "Adding learner [node {id} addr {}]", addr.raft_addr);
                self.raft()
                    .add_learner(id.clone(), addr, false)
                    .await
                    .map_err(fmt_err)?;
                // Promote only once the learner has caught up (openraft's
                // blocking add counts "within 5000 entries" as caught up).
                let caught_up = self.wait_caught_up(&id, Duration::from_secs(60)).await;
                if !caught_up {
                    return Err(format!("TRYAGAIN {id} was added as a learner but has not caught up yet; run RAFT.NODE ADD again to promote it"));
                }
                self.raft()
                    .change_membership(
                        ChangeMembers::AddVoterIds(BTreeSet::from([id.clone()])),
                        false,
                    )
                    .await
                    .map_err(fmt_err)?;
                tracing::info!(target: "helios::raft", "Node promoted to voter [node {id}]");
                Ok("OK".into())
            }
            AdminOp::TransferLeader { to } => self.transfer_leader(to).await,
            AdminOp::RemoveNode { id } => {
                let m = self.metrics();
                let membership = m.membership_config.membership();
                if membership.get_node(&id).is_none() {
                    return Err(format!("ERR node {id} is not a member"));
                }
                let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
                if voters.contains(&id) {
                    if voters.len() == 1 {
                        return Err("ERR cannot remove the last voter".into());
                    }
                    self.raft()
                        .change_membership(
                            ChangeMembers::RemoveVoters(BTreeSet::from([id.clone()])),
                            false,
                        )
                        .await
                        .map_err(fmt_err)?;
                } else {
                    self.raft()
                        .change_membership(
                            ChangeMembers::RemoveNodes(BTreeSet::from([id.clone()])),
                            false,
                        )
                        .await
                        .map_err(fmt_err)?;
                }
                self.pool.retain_acked(|n| *n != id);
                tracing::info!(target: "helios::raft", "Node removed [node {id}]");
                Ok("OK".into())
            }
        }
    }

    async fn wait_caught_up(&self, id: &NodeId, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let m = self.metrics();
            let last = m.last_log_index.unwrap_or(0);
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(id).cloned().flatten())
                .map(|l| l.index)
                .unwrap_or(0);
            if matched > 0 && last.saturating_sub(matched) <= 10 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// `RAFT.TRANSFER_LEADER [id]`: hands leadership to `to` (or the most
    /// caught-up voter) and waits until it has it.
    /// A connection from `peer` broke. When `peer` is this node's leader
    /// and its Raft port now refuses connections, its process is gone (a
    /// crash, `kill -9`): nothing listens there, so it serves no reads and
    /// commits nothing, and waiting out the election timeout only delays the
    /// failover. The surviving voters then hold an election at once, as a
    /// leadership transfer (which the other voters' leader lease does not
    /// block), in id order: the lowest-id survivor first, the next one
    /// `election_timeout / 2` later if no leader has emerged by then.
    /// A leader that is merely slow, stopped or cut off still accepts (or
    /// times out) connections, so none of this applies to it; the normal
    /// election timeout does.
    pub fn peer_connection_lost(self: &Arc<Self>, peer: &NodeId) {
        if self.stopped.load(Ordering::Acquire) || *self.shutdown_tx.borrow() {
            return;
        }
        let m = self.metrics();
        if m.current_leader.as_ref() != Some(peer) || m.state != ServerState::Follower {
            return;
        }
        let membership = m.membership_config.membership();
        let mut survivors: Vec<NodeId> = membership.voter_ids().filter(|v| v != peer).collect();
        survivors.sort();
        let Some(rank) = survivors.iter().position(|v| *v == self.id) else {
            return;
        };
        let Some(addr) = self.node_addr(&m, peer) else {
            return;
        };
        let node = Arc::clone(self);
        let peer = peer.clone();
        let vote = m.vote;
        tokio::spawn(async move {
            // A killed process's connections close a moment before its
            // listening socket does: probe a few times.
            let mut refused = false;
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let probe = tokio::time::timeout(
                    Duration::from_millis(200),
                    tokio::net::TcpStream::connect(&addr.raft_addr),
                )
                .await;
                if let Ok(Err(e)) = probe {
                    if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        refused = true;
                        break;
                    }
                }
            }
            if !refused {
                return;
            }
            tokio::time::sleep(node.election_timeout() / 2 * rank as u32).await;
            let m = node.metrics();
            if m.current_leader.as_ref() != Some(&peer) || m.vote != vote {
                return;
            }
            tracing::info!(
                target: "helios::raft",
                "Leader {peer} is gone (its raft port refuses connections): starting an election now [term {}]",
                m.current_term
            );
            // No log position to wait for: the candidate's own log is what
            // the other voters judge it by.
            let req = openraft::raft::TransferLeaderRequest::new(vote, node.id.clone(), None);
            let _ = node.raft().handle_transfer_leader(req).await;
        });
    }

    pub async fn transfer_leader(&self, to: Option<NodeId>) -> Result<NodeId, String> {
        let m = self.metrics();
        if m.state != ServerState::Leader {
            return Err(match m.current_leader {
                Some(l) => format!("ERR this node is not the leader; the leader is {l}"),
                None => "CLUSTERDOWN No raft leader".into(),
            });
        }
        let target = match to {
            Some(t) => {
                if !m.membership_config.membership().voter_ids().any(|v| v == t) {
                    return Err(format!("ERR {t} is not a voter"));
                }
                if t == self.id {
                    return Ok(t);
                }
                t
            }
            None => {
                let best = m
                    .replication
                    .as_ref()
                    .into_iter()
                    .flatten()
                    .filter(|(id, _)| **id != self.id)
                    .filter(|(id, _)| {
                        m.membership_config
                            .membership()
                            .voter_ids()
                            .any(|v| v == **id)
                    })
                    .max_by_key(|(_, l)| l.map(|l| l.index).unwrap_or(0))
                    .map(|(id, _)| id.clone());
                best.ok_or("ERR no other voter to transfer leadership to")?
            }
        };
        tracing::info!(target: "helios::raft", "Transferring leadership [to {target} term {}]", m.current_term);
        self.raft()
            .trigger()
            .transfer_leader(target.clone())
            .await
            .map_err(|e| format!("ERR {e}"))?;
        let r = self
            .raft()
            .wait(Some(self.election_timeout() * 4))
            .metrics(
                |m| m.current_leader.as_ref() == Some(&target),
                "leader transfer",
            )
            .await;
        match r {
            Ok(_) => Ok(target),
            Err(_) => Err(format!(
                "TRYAGAIN leadership did not move to {target} in time"
            )),
        }
    }

    /// A leader hands leadership to the most caught-up follower, so clients
    /// see a short pause rather than an election timeout. Called on SIGTERM
    /// before connections close, and again (a no-op by then) on shutdown.
    pub async fn step_down(&self) {
        if !self.is_leader()
            || self
                .metrics()
                .membership_config
                .membership()
                .voter_ids()
                .count()
                < 2
        {
            return;
        }
        match tokio::time::timeout(self.election_timeout() * 4, self.transfer_leader(None)).await {
            Ok(Ok(to)) => {
                tracing::info!(target: "helios::raft", "Leadership transferred before shutdown [to {to}]")
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "helios::raft", "Leadership transfer before shutdown failed: {e}")
            }
            Err(_) => {
                tracing::warn!(target: "helios::raft", "Leadership transfer before shutdown timed out")
            }
        }
    }

    /// Stops openraft and closes the log.
    pub async fn shutdown(&self) {
        self.step_down().await;
        let _no_replacement = self.replacing.lock().await;
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shutdown_tx.send_replace(true);
        if let Err(e) = self.raft().shutdown().await {
            tracing::warn!(target: "helios::raft", "raft shutdown: {e}");
        }
        self.log.close();
    }

    // ---- status -----------------------------------------------------------

    pub fn status(&self) -> RaftStatus {
        let m = self.metrics();
        let membership = m.membership_config.membership();
        let state = match m.state {
            ServerState::Leader => "Leader",
            ServerState::Follower => "Follower",
            ServerState::Candidate => "Candidate",
            ServerState::Learner => "Learner",
            ServerState::Shutdown => "Shutdown",
        };
        let leader = self.known_leader(&m);
        let leader_addr = leader
            .as_ref()
            .and_then(|l| self.node_addr(&m, l))
            .unwrap_or_default();
        let last = m.last_log_index.unwrap_or(0);
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let learners: Vec<NodeId> = membership.learner_ids().collect();
        let mut peers = Vec::new();
        if let Some(rep) = &m.replication {
            let seen = self.last_seen.lock();
            for (id, node) in membership.nodes() {
                if *id == self.id {
                    continue;
                }
                let matched = rep.get(id).cloned().flatten().map(|l| l.index).unwrap_or(0);
                let online = seen
                    .get(id)
                    .is_some_and(|t| t.elapsed() < self.election_timeout() * 2);
                let client_addr = if node.client_addr.is_empty() {
                    self.client_addrs
                        .lock()
                        .get(id)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    node.client_addr.clone()
                };
                peers.push(PeerProgress {
                    id: id.clone(),
                    addr: node.raft_addr.clone(),
                    client_addr,
                    match_index: matched,
                    lag: last.saturating_sub(matched),
                    online,
                    learner: !voters.contains(id),
                });
            }
        }
        RaftStatus {
            id: self.id.clone(),
            state,
            leader,
            leader_addr: leader_addr.raft_addr,
            leader_client_addr: leader_addr.client_addr,
            term: m.current_term,
            commit_index: m.local_committed.map(|l| l.index).unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            last_log_index: last,
            snapshot_index: m.snapshot.map(|l| l.index).unwrap_or(0),
            purged_index: m.purged.map(|l| l.index).unwrap_or(0),
            snapshots_installed: self.sm.snapshots_installed(),
            isolated: self.pool.isolated(),
            millis_since_quorum_ack: if m.state == ServerState::Leader {
                m.last_quorum_acked
                    .as_ref()
                    .map(|t| openraft::Instant::elapsed(&**t).as_millis() as u64)
            } else {
                None
            },
            millis_since_leader_contact: if m.state == ServerState::Leader {
                None
            } else {
                self.leader_contact
                    .lock()
                    .map(|t| t.elapsed().as_millis() as u64)
            },
            voters,
            learners,
            peers,
        }
    }

    /// Counts followers that have the entry at `index` in their log.
    pub fn replicas_with(&self, index: u64) -> usize {
        let m = self.metrics();
        m.replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(id, l)| **id != self.id && l.is_some_and(|l| l.index >= index))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Followers holding `index`, as the leader sees it (asked over the
    /// transport when this node is a follower).
    async fn replicas_anywhere(&self, index: u64) -> usize {
        if self.is_leader() {
            return self.replicas_with(index);
        }
        let Some(leader) = self.current_leader() else {
            return 0;
        };
        let Some(peer) = self.peer_for(&leader) else {
            return 0;
        };
        match peer
            .call(&Rpc::Replicas(index), Duration::from_secs(1))
            .await
        {
            Ok(Reply::Replicas(Some(n))) => n,
            _ => 0,
        }
    }

    /// Waits until `n` followers have `index`, or the timeout.
    pub async fn wait_replicas(&self, index: u64, n: usize, timeout: Option<Duration>) -> usize {
        if !self.is_leader() {
            let deadline = timeout.map(|t| Instant::now() + t);
            loop {
                let have = self.replicas_anywhere(index).await;
                if have >= n || deadline.is_some_and(|d| Instant::now() >= d) {
                    return have;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let mut w = self.metrics_watch();
        let sleep = async {
            match timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        loop {
            let have = self.replicas_with(index);
            if have >= n {
                return have;
            }
            tokio::select! {
                ok = self.metrics_changed(&mut w) => if !ok { return have },
                _ = &mut sleep => return self.replicas_with(index),
            }
        }
    }

    // ---- background jobs ---------------------------------------------------

    /// Turns openraft's metrics stream into the operator log lines
    /// (DESIGN 3.5) and keeps per-peer bookkeeping.
    async fn watch_metrics(self: Arc<Self>) {
        let mut w = self.metrics_watch();
        let mut last_state = ServerState::Learner;
        let mut last_leader: Option<NodeId> = None;
        let mut last_term = 0;
        let mut election_logged = 0;
        let marks_client = self.new_client_id();
        let mut marks_seq = 0u64;
        let mut marks_proposed: std::collections::BTreeSet<NodeId> = Default::default();
        let mut progress_logged: BTreeMap<NodeId, (Instant, u64)> = BTreeMap::new();
        loop {
            let m = w.rx.borrow_watched().clone();
            if let Err(e) = &m.running_state {
                if self.stopped.load(Ordering::Acquire) {
                    return;
                }
                if self.follow_successor(&mut w).await {
                    continue;
                }
                if self.stopped.load(Ordering::Acquire) {
                    return;
                }
                tracing::error!(target: "helios::raft", "Raft stopped with a fatal error: {e}");
                if let Some(s) = self.server.upgrade() {
                    s.shutdown(false);
                }
                return;
            }
            if m.state != last_state || m.current_term != last_term {
                match m.state {
                    ServerState::Candidate => {
                        election_logged = m.current_term;
                        tracing::info!(target: "helios::raft", "Starting election [term {}]", m.current_term)
                    }
                    ServerState::Leader if last_state != ServerState::Leader => {
                        // Metrics are sampled: a quick election may never be
                        // seen in the Candidate state.
                        if election_logged != m.current_term {
                            tracing::info!(target: "helios::raft", "Starting election [term {}]", m.current_term);
                        }
                        let voters = m.membership_config.membership().voter_ids().count();
                        tracing::info!(target: "helios::raft", "Won election [votes {} term {}]", voters / 2 + 1, m.current_term);
                        tracing::info!(target: "helios::raft", "Entering leader state [term {}]", m.current_term);
                    }
                    ServerState::Follower if last_state == ServerState::Leader => {
                        tracing::info!(target: "helios::raft", "Leader lost, stepping down [term {}]", m.current_term)
                    }
                    _ => {}
                }
                last_state = m.state;
                last_term = m.current_term;
            }
            if m.current_leader != last_leader {
                if m.current_leader.is_some() {
                    crate::metrics::events().leader_changes.inc();
                }
                if let Some(l) = &m.current_leader {
                    if *l != self.id {
                        tracing::info!(target: "helios::raft", "Following leader [leader {l} term {}]", m.current_term);
                    }
                } else if last_leader.is_some() {
                    tracing::info!(target: "helios::raft", "Leader unknown [term {}]", m.current_term);
                }
                last_leader = m.current_leader.clone();
            }
            if let Some(rep) = &m.replication {
                let mut acked = Vec::new();
                let now = Instant::now();
                let hb = m.heartbeat.clone().unwrap_or_default();
                {
                    let mut seen = self.last_seen.lock();
                    for (id, t) in hb.iter() {
                        if let Some(t) = t {
                            let age = openraft::Instant::elapsed(&**t);
                            if let Some(at) = now.checked_sub(age) {
                                seen.insert(id.clone(), at);
                            }
                        }
                    }
                }
                for (id, l) in rep {
                    if *id == self.id {
                        continue;
                    }
                    let idx = l.map(|l| l.index).unwrap_or(0);
                    acked.push((id.clone(), idx));
                    let entry = progress_logged
                        .entry(id.clone())
                        .or_insert((now - Duration::from_secs(60), 0));
                    if idx > entry.1 && now.duration_since(entry.0) >= Duration::from_secs(5) {
                        tracing::info!(target: "helios::raft", "Log replication successful [peer {id} matchIndex {idx}]");
                        *entry = (now, idx);
                    }
                }
                // Record each follower's first acknowledgement in the log, so
                // that later leaders can spot it coming back wiped.
                if m.state == ServerState::Leader {
                    let marks = self.sm.acked_marks();
                    let missing: Vec<(NodeId, u64)> = acked
                        .iter()
                        .filter(|(id, idx)| {
                            *idx > 0
                                && !marks.iter().any(|(m, _)| m == id)
                                && !marks_proposed.contains(id)
                        })
                        .cloned()
                        .collect();
                    if !missing.is_empty() {
                        marks_proposed.extend(missing.iter().map(|(id, _)| id.clone()));
                        marks_seq += 1;
                        let req = Request {
                            client: marks_client,
                            seq: marks_seq,
                            now_ms: 0,
                            db: 0,
                            resp3: false,
                            cmds: Vec::new(),
                            expired: Vec::new(),
                            acked: missing,
                        };
                        let node = self.clone();
                        tokio::spawn(async move { node.write_local(req).await });
                    }
                } else {
                    marks_proposed.clear();
                }
                self.pool.record_acked(acked);
            }
            // Every node keeps the recorded marks of current members, so it
            // can check a returning follower once it leads.
            let members: std::collections::BTreeSet<NodeId> = m
                .membership_config
                .membership()
                .nodes()
                .map(|(id, _)| id.clone())
                .collect();
            self.pool.retain_acked(|id| members.contains(id));
            self.pool.record_acked(self.sm.acked_marks());
            if !self.metrics_changed(&mut w).await {
                return;
            }
            // Metrics change on every commit; logs and bookkeeping need far
            // less than that.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Active expiry in raft mode: the leader finds expired keys and
    /// proposes their deletion, so every node deletes the same keys at the
    /// same point of the log. Followers only hide expired keys.
    async fn active_expiry(self: Arc<Self>) {
        let mut shutdown = self.shutdown_signal();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let client = self.new_client_id();
        let mut seq = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if !self.is_leader() {
                continue;
            }
            let Some(server) = self.server.upgrade() else {
                return;
            };
            if !server.active_expire.load(Ordering::Relaxed) {
                continue;
            }
            let now = crate::cmd::unix_ms();
            let expired = {
                let mut st = server.store.lock();
                let mut found = Vec::new();
                for (i, db) in st.ks.dbs.iter_mut().enumerate() {
                    for k in db.find_expired(now, 16, 200) {
                        found.push((i as u32, Bytes::copy_from_slice(&k)));
                    }
                }
                found
            };
            drop(server);
            if expired.is_empty() {
                continue;
            }
            seq += 1;
            let req = Request {
                client,
                seq,
                now_ms: now,
                db: 0,
                resp3: false,
                cmds: Vec::new(),
                expired,
                acked: Vec::new(),
            };
            let _ = self.write_local(req).await;
        }
    }
}
