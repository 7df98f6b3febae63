//! The Raft transport: one persistent TCP connection per peer, carrying
//! length-prefixed, multiplexed request/reply frames.
//!
//! # Frames
//!
//! ```text
//! length   4  u32 LE, bytes after this field (id + body)
//! id       8  u64 LE, request id; a reply carries its request's id
//! body     postcard of Rpc (requests) or Reply (replies)
//! ```
//!
//! Requests are pipelined: a caller writes its frame and waits for the
//! reply with its id, so a slow snapshot chunk or a forwarded write does not
//! hold up heartbeats, and several AppendEntries can be in flight. The
//! first frame on a connection is [`Rpc::Hello`], naming the sender and the
//! node it meant to reach: a node answering for someone else (a wrong
//! address in a peer list) is refused before any Raft message flows, since
//! openraft asserts on replication that loops back to the leader. Hello
//! also catches a follower whose log was wiped: the leader says how far the
//! follower had acknowledged, and an empty follower refuses to rejoin
//! rather than let the cluster silently re-fill (and possibly revert) it.
//!
//! Outgoing sockets bind their source address to this node's Raft bind IP,
//! so nodes on 127.0.0.11/12/13 can be partitioned by address. A peer that
//! cannot be reached is retried with exponential backoff (50 ms to 1 s);
//! openraft additionally backs off on `Unreachable`.
//!
//! Snapshots travel as a sequence of 1 MiB [`Rpc::SnapshotChunk`] frames
//! written into a temporary file on the receiver, then
//! [`Rpc::SnapshotDone`] installs it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use openraft::base::{BoxFuture, BoxStream};
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::OptionalSend;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::node::RaftNode;
use super::state_machine::SnapshotFile;
use super::types::{NodeAddr, NodeId, Request, Snapshot, SnapshotMeta, TypeConfig, Vote};

type C = TypeConfig;

/// Largest frame accepted (a snapshot chunk is 1 MiB; an AppendEntries
/// batch of big values can be large, but not this large).
const MAX_FRAME: usize = 1 << 30;
const SNAPSHOT_CHUNK: usize = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub enum Rpc {
    Hello {
        from: NodeId,
        to: NodeId,
        /// The highest index the sender (a leader) saw `to` acknowledge.
        acked: Option<u64>,
    },
    Append(AppendEntriesRequest<C>),
    /// One AppendEntries of a pipelined stream: the receiver feeds these, in
    /// arrival order, to one `Raft::stream_append` per connection and
    /// answers each in order.
    StreamAppend(AppendEntriesRequest<C>),
    Vote(VoteRequest<C>),
    PreVote(VoteRequest<C>),
    TransferLeader(TransferLeaderRequest<C>),
    SnapshotChunk {
        transfer: u64,
        offset: u64,
        data: Bytes,
    },
    SnapshotDone {
        transfer: u64,
        vote: Vote,
        meta: SnapshotMeta,
    },
    /// A client write forwarded by a follower to the leader.
    Forward(Request),
    /// A follower asks the leader for a read index (linearizable reads).
    ReadIndex,
    /// Bootstrap probe and `RAFT.INFO`-style status.
    Status,
    /// A membership change forwarded to the leader.
    Admin(AdminOp),
    /// How many followers hold the entry at this index (`WAIT` on a
    /// follower).
    Replicas(u64),
    /// The leader's view of every member's replication progress (the
    /// gateway's `/v1/cluster` on a follower).
    Progress,
}

/// Membership operations that must run on the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminOp {
    AddNode { id: NodeId, addr: NodeAddr },
    RemoveNode { id: NodeId },
    TransferLeader { to: Option<NodeId> },
}

/// What a node says about itself to a probe.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerStatus {
    pub id: NodeId,
    pub initialized: bool,
    /// The member set from this node's static configuration (itself and
    /// its peers); empty when it has none.
    pub configured: Vec<NodeId>,
    /// Voters and learners of its current membership.
    pub members: Vec<NodeId>,
    pub leader: Option<NodeId>,
    /// Where clients reach it.
    pub client_addr: String,
}

/// The outcome of a forwarded write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ForwardReply {
    /// Applied: the replies and the entry's log index.
    Applied { reply: Bytes, index: u64 },
    /// The receiver is not the leader (nothing was proposed); here is who
    /// is, if known.
    NotLeader { leader: Option<NodeId> },
    /// The write may have been proposed and lost with a leader change: retry
    /// the same request (sessions make that safe) with this leader.
    Retry { leader: Option<NodeId> },
    /// The write may or may not have been committed.
    Unknown(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    Hello(Result<(), String>),
    Append(Result<AppendEntriesResponse<C>, String>),
    StreamAppend(Result<StreamAppendResult<C>, String>),
    Vote(Result<VoteResponse<C>, String>),
    TransferLeader(Result<TransferLeaderResponse<C>, String>),
    Snapshot(Result<Option<SnapshotResponse<C>>, String>),
    Forward(ForwardReply),
    ReadIndex(Result<u64, Option<NodeId>>),
    Status(PeerStatus),
    Admin(Result<String, String>),
    Replicas(Option<usize>),
    /// `None` when the node asked is not the leader.
    Progress(Option<Vec<crate::raft::node::PeerProgress>>),
}

/// The reply to Raft traffic while this node replaces its openraft core.
pub const CORE_RESTARTING: &str = "raft core restarting for new timing";

// ---- framing -------------------------------------------------------------

fn encode_frame<T: Serialize>(id: u64, body: &T) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(128);
    buf.extend_from_slice(&[0u8; 12]);
    let mut buf = postcard::to_extend(body, buf)
        .map_err(|e| std::io::Error::other(format!("encode: {e}")))?;
    let len = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&len.to_le_bytes());
    buf[4..12].copy_from_slice(&id.to_le_bytes());
    Ok(buf)
}

async fn read_frame<T: serde::de::DeserializeOwned>(
    r: &mut (impl AsyncReadExt + Unpin),
    buf: &mut Vec<u8>,
) -> std::io::Result<(u64, T)> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).await?;
    let len = u32::from_le_bytes(head) as usize;
    if !(8..=MAX_FRAME).contains(&len) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad frame length {len}"),
        ));
    }
    buf.resize(len, 0);
    r.read_exact(buf).await?;
    let id = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
    let body = postcard::from_bytes(&buf[8..]).map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad frame: {e}"))
    })?;
    Ok((id, body))
}

/// Writes `first` and every frame already queued behind it with one
/// `write` (up to 1 MiB): under load, many small frames (appends, their
/// replies) share a syscall.
async fn write_frames(
    wr: &mut (impl AsyncWriteExt + Unpin),
    first: Vec<u8>,
    rx: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    let Ok(next) = rx.try_recv() else {
        return wr.write_all(&first).await;
    };
    // A buffer kept across calls: growing a fresh one for every batch
    // costs page faults once it is past malloc's mmap threshold.
    scratch.clear();
    scratch.extend_from_slice(&first);
    scratch.extend_from_slice(&next);
    while scratch.len() < 1 << 20 {
        match rx.try_recv() {
            Ok(f) => scratch.extend_from_slice(&f),
            Err(_) => break,
        }
    }
    let r = wr.write_all(scratch).await;
    if scratch.capacity() > 4 << 20 {
        *scratch = Vec::new();
    }
    r
}

// ---- client side ---------------------------------------------------------

const ISOLATED: &str = "raft traffic is cut on this node (RAFT.DEBUG ISOLATE on)";

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// Could not connect: the request was not sent.
    Unreachable(String),
    /// Sent, then the connection broke: it may or may not have arrived.
    Lost(String),
    Timeout,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unreachable(s) => write!(f, "unreachable: {s}"),
            CallError::Lost(s) => write!(f, "connection lost: {s}"),
            CallError::Timeout => f.write_str("timed out"),
        }
    }
}

struct Conn {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    next_id: AtomicU64,
    alive: AtomicBool,
    /// Set by [`Conn::fail_all`]: the reader and writer tasks stop, which
    /// closes the socket (they would otherwise keep it, and each other,
    /// alive).
    closed: tokio::sync::watch::Sender<bool>,
}

impl Conn {
    fn fail_all(&self) {
        self.alive.store(false, Ordering::Release);
        self.pending.lock().clear();
        self.closed.send_replace(true);
    }

    /// Sends a request and returns the receiver of its reply, without
    /// waiting (pipelining).
    fn send(&self, rpc: &Rpc) -> Result<(u64, oneshot::Receiver<Reply>), CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_frame(id, rpc).map_err(|e| CallError::Unreachable(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        if !self.alive.load(Ordering::Acquire) || self.tx.send(frame).is_err() {
            self.pending.lock().remove(&id);
            return Err(CallError::Unreachable("connection closed".into()));
        }
        Ok((id, rx))
    }

    async fn call(&self, rpc: &Rpc, timeout: Duration) -> Result<Reply, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode_frame(id, rpc).map_err(|e| CallError::Unreachable(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        // Removes the entry however this call ends: reply, timeout, or the
        // caller giving up on it (a forward abandoned for a new leader).
        let _pending = PendingCall { conn: self, id };
        if !self.alive.load(Ordering::Acquire) || self.tx.send(frame).is_err() {
            return Err(CallError::Unreachable("connection closed".into()));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(CallError::Lost("connection lost before the reply".into())),
            Err(_) => Err(CallError::Timeout),
        }
    }
}

struct PendingCall<'a> {
    conn: &'a Conn,
    id: u64,
}

impl Drop for PendingCall<'_> {
    fn drop(&mut self) {
        self.conn.pending.lock().remove(&self.id);
    }
}

struct Backoff {
    next_try: Option<Instant>,
    delay: Duration,
    logged: bool,
}

/// The connection to one peer, shared by every openraft replication stream
/// and by forwarding.
pub struct PeerClient {
    pub target: NodeId,
    addr: Mutex<String>,
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    backoff: Mutex<Backoff>,
    pool: Arc<PeerPoolInner>,
}

impl PeerClient {
    pub fn addr(&self) -> String {
        self.addr.lock().clone()
    }

    /// How long until the next connection attempt is allowed (zero when
    /// connected or due).
    fn retry_in(&self) -> Duration {
        self.backoff.lock().next_try.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    async fn connection(&self) -> Result<Arc<Conn>, CallError> {
        let mut guard = self.conn.lock().await;
        if *self.pool.isolated.borrow() {
            if let Some(c) = guard.take() {
                c.fail_all();
            }
            return Err(CallError::Unreachable(ISOLATED.into()));
        }
        if let Some(c) = guard.as_ref() {
            if c.alive.load(Ordering::Acquire) {
                return Ok(c.clone());
            }
        }
        *guard = None;
        {
            let b = self.backoff.lock();
            if let Some(t) = b.next_try {
                if Instant::now() < t {
                    return Err(CallError::Unreachable(format!(
                        "{} ({}) is unreachable; retrying shortly",
                        self.target,
                        self.addr()
                    )));
                }
            }
        }
        match self.connect().await {
            Ok(c) => {
                let mut b = self.backoff.lock();
                if b.logged {
                    tracing::info!(target: "helios::raft", "Connected to peer [peer {} addr {}]", self.target, self.addr());
                }
                *b = Backoff {
                    next_try: None,
                    delay: Duration::from_millis(50),
                    logged: false,
                };
                *guard = Some(c.clone());
                Ok(c)
            }
            Err(e) => {
                let mut b = self.backoff.lock();
                b.next_try = Some(Instant::now() + b.delay);
                b.delay = (b.delay * 2).min(Duration::from_secs(1));
                if !b.logged {
                    b.logged = true;
                    tracing::warn!(target: "helios::raft", "Peer unreachable [peer {} addr {} error {e}]", self.target, self.addr());
                }
                Err(CallError::Unreachable(e))
            }
        }
    }

    async fn connect(&self) -> Result<Arc<Conn>, String> {
        let addr_s = self.addr();
        let addr: SocketAddr = tokio::net::lookup_host(&addr_s)
            .await
            .map_err(|e| format!("cannot resolve {addr_s}: {e}"))?
            .next()
            .ok_or_else(|| format!("cannot resolve {addr_s}"))?;
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| e.to_string())?;
        if let Some(ip) = self.pool.source_ip {
            if ip.is_ipv4() == addr.is_ipv4() {
                socket
                    .bind(SocketAddr::new(ip, 0))
                    .map_err(|e| format!("cannot bind source address {ip}: {e}"))?;
            }
        }
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr))
            .await
            .map_err(|_| format!("connect to {addr} timed out"))?
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let conn = spawn_conn(stream);
        {
            let mut conns = self.pool.conns.lock();
            conns.retain(|c| c.strong_count() > 0);
            conns.push(Arc::downgrade(&conn));
        }
        let acked = self.pool.acked(&self.target);
        let hello = Rpc::Hello {
            from: self.pool.me.clone(),
            to: self.target.clone(),
            acked,
        };
        match conn.call(&hello, CONNECT_TIMEOUT * 2).await {
            // Isolated while connecting: the partition wins.
            Ok(Reply::Hello(Ok(()))) if *self.pool.isolated.borrow() => {
                conn.fail_all();
                Err(ISOLATED.into())
            }
            Ok(Reply::Hello(Ok(()))) => Ok(conn),
            Ok(Reply::Hello(Err(e))) => {
                conn.fail_all();
                tracing::error!(target: "helios::raft", "Peer refused connection [peer {} addr {addr}: {e}]", self.target);
                Err(e)
            }
            Ok(_) => {
                conn.fail_all();
                Err("unexpected reply to hello".into())
            }
            Err(e) => {
                conn.fail_all();
                Err(e.to_string())
            }
        }
    }

    /// Sends one request and waits for its reply.
    pub async fn call(&self, rpc: &Rpc, timeout: Duration) -> Result<Reply, CallError> {
        let started = Instant::now();
        let conn = self.connection().await?;
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(CallError::Timeout);
        }
        conn.call(rpc, left).await
    }
}

fn spawn_conn(stream: TcpStream) -> Arc<Conn> {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let conn = Arc::new(Conn {
        tx,
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        alive: AtomicBool::new(true),
        closed: tokio::sync::watch::Sender::new(false),
    });
    let writer = conn.clone();
    let mut closed = conn.closed.subscribe();
    tokio::spawn(async move {
        let mut scratch = Vec::new();
        loop {
            let frame = tokio::select! {
                f = rx.recv() => match f {
                    Some(frame) => frame,
                    None => break,
                },
                _ = closed.wait_for(|c| *c) => break,
            };
            if write_frames(&mut wr, frame, &mut rx, &mut scratch)
                .await
                .is_err()
            {
                break;
            }
        }
        writer.fail_all();
    });
    let reader = conn.clone();
    let mut closed = conn.closed.subscribe();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        loop {
            let (id, reply) = tokio::select! {
                r = read_frame::<Reply>(&mut rd, &mut buf) => match r {
                    Ok(x) => x,
                    Err(_) => break,
                },
                _ = closed.wait_for(|c| *c) => break,
            };
            if let Some(tx) = reader.pending.lock().remove(&id) {
                let _ = tx.send(reply);
            }
        }
        reader.fail_all();
    });
    conn
}

struct PeerPoolInner {
    me: NodeId,
    source_ip: Option<IpAddr>,
    /// `RAFT.DEBUG ISOLATE on`: no Raft traffic in or out (a partition
    /// drill); client connections are untouched.
    isolated: tokio::sync::watch::Sender<bool>,
    /// Every outgoing connection, so isolation can close them all (a
    /// replication stream holds its own handle to one).
    conns: Mutex<Vec<std::sync::Weak<Conn>>>,
    /// Match index per follower as last seen by this node while leader.
    acked: Mutex<HashMap<NodeId, u64>>,
}

impl PeerPoolInner {
    fn acked(&self, id: &NodeId) -> Option<u64> {
        self.acked.lock().get(id).copied().filter(|&i| i > 0)
    }
}

/// Every peer connection of this node, by node id.
#[derive(Clone)]
pub struct PeerPool {
    inner: Arc<PeerPoolInner>,
    peers: Arc<Mutex<HashMap<NodeId, Arc<PeerClient>>>>,
}

impl PeerPool {
    pub fn new(me: NodeId, source_ip: Option<IpAddr>) -> PeerPool {
        PeerPool {
            inner: Arc::new(PeerPoolInner {
                me,
                source_ip,
                isolated: tokio::sync::watch::Sender::new(false),
                conns: Mutex::new(Vec::new()),
                acked: Mutex::new(HashMap::new()),
            }),
            peers: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The client for `id` at `addr`, created or re-pointed as needed.
    pub fn get(&self, id: &NodeId, addr: &str) -> Arc<PeerClient> {
        let mut peers = self.peers.lock();
        if let Some(p) = peers.get(id) {
            if *p.addr.lock() == addr {
                return p.clone();
            }
        }
        let p = Arc::new(PeerClient {
            target: id.clone(),
            addr: Mutex::new(addr.to_string()),
            conn: tokio::sync::Mutex::new(None),
            backoff: Mutex::new(Backoff {
                next_try: None,
                delay: Duration::from_millis(50),
                logged: false,
            }),
            pool: self.inner.clone(),
        });
        peers.insert(id.clone(), p.clone());
        p
    }

    /// Cuts (or restores) all Raft traffic of this node, as a network
    /// partition would: open connections stop carrying frames, new ones
    /// are refused both ways. Returns the previous setting.
    pub fn set_isolated(&self, on: bool) -> bool {
        let was = self.inner.isolated.send_replace(on);
        if on {
            for c in self.inner.conns.lock().drain(..) {
                if let Some(c) = c.upgrade() {
                    c.fail_all();
                }
            }
        }
        if was != on {
            tracing::warn!(target: "helios::raft", "Raft traffic {} by RAFT.DEBUG ISOLATE", if on { "cut" } else { "restored" });
        }
        was
    }

    pub fn isolated(&self) -> bool {
        *self.inner.isolated.borrow()
    }

    /// Changes of [`PeerPool::set_isolated`], for the serving side.
    pub fn isolation(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.isolated.subscribe()
    }

    /// Records follower match indexes (from leader metrics) for the wiped-
    /// follower check in `Hello`.
    pub fn record_acked(&self, acked: impl IntoIterator<Item = (NodeId, u64)>) {
        let mut m = self.inner.acked.lock();
        for (id, i) in acked {
            let e = m.entry(id).or_default();
            *e = (*e).max(i);
        }
    }

    /// Keeps only the marks of nodes `keep` accepts (current members).
    pub fn retain_acked(&self, keep: impl Fn(&NodeId) -> bool) {
        self.inner.acked.lock().retain(|id, _| keep(id));
    }
}

/// openraft's network factory: hands out clients from the pool.
pub struct NetworkFactory {
    pub pool: PeerPool,
}

impl RaftNetworkFactory<C> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> Network {
        Network {
            peer: self.pool.get(&target, &node.raft_addr),
        }
    }
}

/// One openraft replication/election client for one target.
pub struct Network {
    peer: Arc<PeerClient>,
}

fn unreachable(e: impl std::fmt::Display) -> RPCError<C> {
    RPCError::Unreachable(Unreachable::from_string(e))
}

fn call_error(e: CallError) -> RPCError<C> {
    match e {
        CallError::Unreachable(s) | CallError::Lost(s) => unreachable(s),
        CallError::Timeout => RPCError::Network(NetworkError::from_string("rpc timed out")),
    }
}

impl Network {
    /// One request, one reply: `pick` extracts the expected reply kind.
    async fn unary<T>(
        &self,
        rpc: Rpc,
        option: RPCOption,
        pick: impl FnOnce(Reply) -> Option<Result<T, String>>,
    ) -> Result<T, RPCError<C>> {
        let reply = self
            .peer
            .call(&rpc, option.soft_ttl())
            .await
            .map_err(call_error)?;
        match pick(reply) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(unreachable(e)),
            None => Err(unreachable("unexpected reply")),
        }
    }
}

/// AppendEntries in flight per follower at most.
const PIPELINE_DEPTH: usize = 16;

impl RaftNetworkV2<C> for Network {
    type SnapshotData = SnapshotFile;

    /// Pipelined AppendEntries: requests go out as openraft produces them
    /// (up to `PIPELINE_DEPTH` unanswered), replies come back in order.
    /// The stream ends at the first error, as openraft expects.
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, Result<BoxStream<'s, Result<StreamAppendResult<C>, RPCError<C>>>, RPCError<C>>>
    where
        S: futures_util::Stream<Item = AppendEntriesRequest<C>> + OptionalSend + Unpin + 'static,
    {
        Box::pin(async move {
            let conn = match self.peer.connection().await {
                Ok(c) => c,
                Err(e) => {
                    // openraft opens the next stream as soon as this one
                    // fails (its backoff only paces an open stream): wait
                    // for the reconnect backoff here, or a down peer keeps
                    // the leader in a busy loop.
                    let wait = self.peer.retry_in().clamp(
                        Duration::from_millis(10),
                        option.soft_ttl().max(Duration::from_millis(10)),
                    );
                    tokio::time::sleep(wait).await;
                    return Err(call_error(e));
                }
            };
            let (pending_tx, pending_rx) =
                mpsc::channel::<(u64, oneshot::Receiver<Reply>)>(PIPELINE_DEPTH);
            let sender_conn = conn.clone();
            tokio::spawn(async move {
                use futures_util::StreamExt;
                let mut input = input;
                while let Some(req) = input.next().await {
                    match sender_conn.send(&Rpc::StreamAppend(req)) {
                        Ok(p) => {
                            if pending_tx.send(p).await.is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    }
                }
            });
            let timeout = option.soft_ttl().max(Duration::from_secs(1));
            let out =
                futures_util::stream::unfold(Some((pending_rx, conn)), move |state| async move {
                    let (mut rx, conn) = state?;
                    let (id, reply) = rx.recv().await?;
                    let r = match tokio::time::timeout(timeout, reply).await {
                        Ok(Ok(Reply::StreamAppend(Ok(r)))) => Ok(r),
                        Ok(Ok(Reply::StreamAppend(Err(e)))) => Err(unreachable(e)),
                        Ok(Ok(_)) => Err(unreachable("unexpected reply")),
                        Ok(Err(_)) => Err(unreachable("connection lost")),
                        Err(_) => {
                            conn.pending.lock().remove(&id);
                            Err(RPCError::Network(NetworkError::from_string(
                                "append timed out",
                            )))
                        }
                    };
                    let next = match &r {
                        Ok(Ok(_)) => Some((rx, conn)),
                        _ => None,
                    };
                    Some((r, next))
                });
            let out: BoxStream<'s, Result<StreamAppendResult<C>, RPCError<C>>> = Box::pin(out);
            Ok(out)
        })
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        self.unary(Rpc::Append(rpc), option, |r| match r {
            Reply::Append(x) => Some(x),
            _ => None,
        })
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        self.unary(Rpc::Vote(rpc), option, |r| match r {
            Reply::Vote(x) => Some(x),
            _ => None,
        })
        .await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        self.unary(Rpc::PreVote(rpc), option, |r| match r {
            Reply::Vote(x) => Some(x),
            _ => None,
        })
        .await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<C>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<C>, RPCError<C>> {
        self.unary(Rpc::TransferLeader(req), option, |r| match r {
            Reply::TransferLeader(x) => Some(x),
            _ => None,
        })
        .await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl std::future::Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let send = send_snapshot(&self.peer, vote, snapshot, option.soft_ttl());
        tokio::select! {
            r = send => r,
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }
}

async fn send_snapshot(
    peer: &PeerClient,
    vote: Vote,
    snapshot: Snapshot,
    chunk_timeout: Duration,
) -> Result<SnapshotResponse<C>, StreamingError<C>> {
    let path = snapshot.snapshot.path.clone();
    let data = tokio::fs::read(&path).await.map_err(|e| {
        StreamingError::Unreachable(Unreachable::from_string(format!(
            "read {}: {e}",
            path.display()
        )))
    })?;
    // The file's own header is authoritative: a newer snapshot may have
    // replaced the file since openraft read its meta.
    let meta = super::state_machine::StateMachine::<C>::file_meta(&path, &data)
        .map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e)))?;
    let transfer = rand::random::<u64>();
    let data = Bytes::from(data);
    let mut offset = 0usize;
    let to_stream = |e: CallError| match e {
        CallError::Unreachable(s) | CallError::Lost(s) => {
            StreamingError::Unreachable(Unreachable::from_string(s))
        }
        CallError::Timeout => {
            StreamingError::Network(NetworkError::from_string("snapshot chunk timed out"))
        }
    };
    while offset < data.len() {
        let end = (offset + SNAPSHOT_CHUNK).min(data.len());
        let rpc = Rpc::SnapshotChunk {
            transfer,
            offset: offset as u64,
            data: data.slice(offset..end),
        };
        match peer.call(&rpc, chunk_timeout).await.map_err(to_stream)? {
            Reply::Snapshot(Ok(_)) => {}
            Reply::Snapshot(Err(e)) => {
                return Err(StreamingError::Unreachable(Unreachable::from_string(e)))
            }
            _ => {
                return Err(StreamingError::Unreachable(Unreachable::from_string(
                    "unexpected reply",
                )))
            }
        }
        offset = end;
    }
    let done = Rpc::SnapshotDone {
        transfer,
        vote,
        meta,
    };
    // Installing a large snapshot takes a while on the receiver.
    match peer
        .call(&done, chunk_timeout.max(Duration::from_secs(30)))
        .await
        .map_err(to_stream)?
    {
        Reply::Snapshot(Ok(Some(r))) => Ok(r),
        Reply::Snapshot(Ok(None)) => Err(StreamingError::Unreachable(Unreachable::from_string(
            "snapshot not installed",
        ))),
        Reply::Snapshot(Err(e)) => Err(StreamingError::Unreachable(Unreachable::from_string(e))),
        _ => Err(StreamingError::Unreachable(Unreachable::from_string(
            "unexpected reply",
        ))),
    }
}

// ---- server side ---------------------------------------------------------

/// Accepts peer connections until the node shuts down.
pub async fn serve(listener: TcpListener, node: Arc<RaftNode>) {
    let mut shutdown = node.shutdown_signal();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let node = node.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve_conn(stream, node).await {
                            tracing::debug!(target: "helios::raft", "peer connection from {peer} ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(target: "helios::raft", "raft accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

struct Incoming {
    path: PathBuf,
    file: std::fs::File,
}

async fn serve_conn(stream: TcpStream, node: Arc<RaftNode>) -> std::io::Result<()> {
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = Vec::new();
    let (id, hello) = read_frame::<Rpc>(&mut rd, &mut buf).await?;
    let Rpc::Hello { from, to, acked } = hello else {
        return Err(std::io::Error::other("first frame is not hello"));
    };
    if node.pool.isolated() {
        // A partition answers nothing; the peer sees a closed connection.
        return Err(std::io::Error::other(ISOLATED));
    }
    let verdict = node.check_hello(&from, &to, acked);
    wr.write_all(&encode_frame(id, &Reply::Hello(verdict.clone()))?)
        .await?;
    if let Err(e) = verdict {
        return Err(std::io::Error::other(e));
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        let mut scratch = Vec::new();
        while let Some(frame) = rx.recv().await {
            if write_frames(&mut wr, frame, &mut rx, &mut scratch)
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut incoming: HashMap<u64, Incoming> = HashMap::new();
    let mut appends = None;
    let r = serve_requests(&mut rd, &node, &tx, &mut incoming, &mut appends).await;
    node.peer_connection_lost(&from);
    // Transfers cut off by a broken connection leave their partial files.
    for (_, inc) in incoming {
        let _ = std::fs::remove_file(inc.path);
    }
    r
}

async fn serve_requests(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    node: &Arc<RaftNode>,
    tx: &mpsc::UnboundedSender<Vec<u8>>,
    incoming: &mut HashMap<u64, Incoming>,
    appends: &mut Option<AppendPipeline>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut shutdown = node.shutdown_signal();
    let mut isolation = node.pool.isolation();
    loop {
        let (id, rpc) = tokio::select! {
            r = read_frame::<Rpc>(rd, &mut buf) => r?,
            _ = shutdown.changed() => return Ok(()),
            r = isolation.wait_for(|on| *on) => {
                return match r {
                    Ok(_) => Err(std::io::Error::other(ISOLATED)),
                    Err(_) => Ok(()),
                };
            }
        };
        match rpc {
            // In arrival order into this connection's pipeline.
            Rpc::StreamAppend(req) => {
                if node.core_restarting() {
                    // The old core is stopping; the sender retries shortly.
                    appends.take();
                    send(tx, id, &Reply::StreamAppend(Err(CORE_RESTARTING.into())));
                    return Ok(());
                }
                // A pipeline feeds the core it started on: after a core
                // replacement, a new one.
                if appends
                    .as_ref()
                    .is_none_or(|p| p.closed() || p.generation != node.core_generation())
                {
                    *appends = Some(AppendPipeline::start(node.clone(), tx.clone()));
                }
                if let Some(p) = appends.as_ref() {
                    p.push(id, req);
                }
            }
            // Chunks are written in order on this task: the sender waits for
            // each acknowledgement before sending the next.
            Rpc::SnapshotChunk {
                transfer,
                offset,
                data,
            } => {
                let r = write_chunk(node, incoming, transfer, offset, &data);
                send(tx, id, &Reply::Snapshot(r.map(|_| None)));
            }
            Rpc::SnapshotDone {
                transfer,
                vote,
                meta,
            } => {
                let Some(inc) = incoming.remove(&transfer) else {
                    send(
                        tx,
                        id,
                        &Reply::Snapshot(Err("unknown snapshot transfer".into())),
                    );
                    continue;
                };
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let r = node
                        .install_received_snapshot(inc.path, inc.file, vote, meta)
                        .await;
                    send(&tx, id, &Reply::Snapshot(r.map(Some)));
                });
            }
            rpc => {
                let node = node.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let reply = node.handle_rpc(rpc).await;
                    send(&tx, id, &reply);
                });
            }
        }
    }
}

/// One `Raft::stream_append` fed by a connection's `StreamAppend` frames.
struct AppendPipeline {
    /// The core generation it feeds (see `RaftNode::core_generation`).
    generation: u64,
    input: mpsc::UnboundedSender<AppendEntriesRequest<C>>,
    ids: Arc<Mutex<std::collections::VecDeque<u64>>>,
    done: Arc<AtomicBool>,
}

impl AppendPipeline {
    fn start(node: Arc<RaftNode>, tx: mpsc::UnboundedSender<Vec<u8>>) -> AppendPipeline {
        let (input, rx) = mpsc::unbounded_channel::<AppendEntriesRequest<C>>();
        let ids: Arc<Mutex<std::collections::VecDeque<u64>>> = Default::default();
        let done = Arc::new(AtomicBool::new(false));
        let requests =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|r| (r, rx)) },
            );
        let generation = node.core_generation();
        let out = node.raft().stream_append(requests);
        let (ids2, done2) = (ids.clone(), done.clone());
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut out = std::pin::pin!(out);
            while let Some(r) = out.next().await {
                let Some(id) = ids2.lock().pop_front() else {
                    break;
                };
                if matches!(r, Ok(Ok(_))) {
                    node.note_leader_contact();
                }
                send(&tx, id, &Reply::StreamAppend(r.map_err(|e| e.to_string())));
            }
            // openraft ends the stream after an error; the sender starts a
            // new one, which gets a new pipeline here.
            done2.store(true, Ordering::Release);
        });
        AppendPipeline {
            generation,
            input,
            ids,
            done,
        }
    }

    fn closed(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    fn push(&self, id: u64, req: AppendEntriesRequest<C>) {
        self.ids.lock().push_back(id);
        if self.input.send(req).is_err() {
            self.done.store(true, Ordering::Release);
        }
    }
}

fn send(tx: &mpsc::UnboundedSender<Vec<u8>>, id: u64, reply: &Reply) {
    match encode_frame(id, reply) {
        Ok(f) => {
            let _ = tx.send(f);
        }
        Err(e) => tracing::error!(target: "helios::raft", "cannot encode reply: {e}"),
    }
}

fn write_chunk(
    node: &RaftNode,
    incoming: &mut HashMap<u64, Incoming>,
    transfer: u64,
    offset: u64,
    data: &[u8],
) -> Result<(), String> {
    use std::io::Write;
    if offset == 0 {
        let path = node.sm.temp_path("recv");
        let file =
            std::fs::File::create(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        incoming.insert(transfer, Incoming { path, file });
    }
    let inc = incoming
        .get_mut(&transfer)
        .ok_or_else(|| "snapshot chunk for an unknown transfer".to_string())?;
    let len = inc.file.metadata().map(|m| m.len()).unwrap_or(0);
    if len != offset {
        return Err(format!("snapshot chunk at {offset}, expected {len}"));
    }
    inc.file
        .write_all(data)
        .map_err(|e| format!("write {}: {e}", inc.path.display()))
}
