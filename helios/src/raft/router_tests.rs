//! In-process clusters: three real [`Server`]s (keyspace, command
//! execution), each with the real WAL log store and state machine, wired
//! through a router instead of TCP. The router drops, delays and cuts
//! messages, so these tests exercise the adapter's behaviour under loss
//! and partitions deterministically enough to assert on, in milliseconds.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use openraft::error::{ClientWriteError, RPCError, RaftError, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{Config, OptionalSend, ServerState, SnapshotPolicy};
use parking_lot::Mutex;
use rand::Rng;

use super::log_store::LogStore;
use super::state_machine::{SnapshotFile, StateMachine};
use super::types::{NodeAddr, NodeId, Proposal, Raft, Request, Snapshot, TypeConfig, Vote};
use super::wal::FsyncPolicy;
use crate::server::Server;

type C = TypeConfig;

#[derive(Default)]
struct Faults {
    /// Directed links that deliver nothing.
    cut: HashSet<(NodeId, NodeId)>,
    /// Probability that a message is lost.
    drop: f64,
    /// Upper bound of a random delivery delay.
    max_delay_ms: u64,
}

/// Each node's Raft handle and state machine, by id.
type Members = BTreeMap<NodeId, (Raft, StateMachine<C>)>;

#[derive(Clone, Default)]
struct Router {
    nodes: Arc<Mutex<Members>>,
    faults: Arc<Mutex<Faults>>,
}

impl Router {
    /// Applies the faults for one message from `from` to `to`; returns the
    /// target if the message gets through.
    async fn deliver(
        &self,
        from: &NodeId,
        to: &NodeId,
    ) -> Result<(Raft, StateMachine<C>), Unreachable<C>> {
        let (lost, delay) = {
            let f = self.faults.lock();
            let mut rng = rand::thread_rng();
            let lost = f.cut.contains(&(from.clone(), to.clone())) || rng.gen_bool(f.drop);
            let delay = if f.max_delay_ms > 0 {
                rng.gen_range(0..=f.max_delay_ms)
            } else {
                0
            };
            (lost, delay)
        };
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if lost {
            return Err(Unreachable::from_string(format!("{from} -> {to} dropped")));
        }
        self.nodes
            .lock()
            .get(to)
            .cloned()
            .ok_or_else(|| Unreachable::from_string(format!("{to} is down")))
    }

    fn isolate(&self, id: &str, cut: bool) {
        let ids: Vec<NodeId> = self.nodes.lock().keys().cloned().collect();
        let mut f = self.faults.lock();
        for other in ids.iter().filter(|o| *o != id) {
            for link in [
                (id.to_string(), other.clone()),
                (other.clone(), id.to_string()),
            ] {
                if cut {
                    f.cut.insert(link);
                } else {
                    f.cut.remove(&link);
                }
            }
        }
    }
}

struct Factory {
    router: Router,
    from: NodeId,
}

struct Net {
    router: Router,
    from: NodeId,
    to: NodeId,
}

impl RaftNetworkFactory<C> for Factory {
    type Network = Net;

    async fn new_client(&mut self, target: NodeId, _node: &NodeAddr) -> Net {
        Net {
            router: self.router.clone(),
            from: self.from.clone(),
            to: target,
        }
    }
}

fn remote(e: impl std::fmt::Display) -> RPCError<C> {
    RPCError::Unreachable(Unreachable::from_string(e))
}

impl RaftNetworkV2<C> for Net {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        let (raft, _) = self.router.deliver(&self.from, &self.to).await?;
        raft.append_entries(rpc).await.map_err(remote)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<C>,
        _option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        let (raft, _) = self.router.deliver(&self.from, &self.to).await?;
        raft.vote(rpc).await.map_err(remote)
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<C>,
        _option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        let (raft, _) = self.router.deliver(&self.from, &self.to).await?;
        raft.pre_vote(rpc).await.map_err(remote)
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<C>,
        _option: RPCOption,
    ) -> Result<TransferLeaderResponse<C>, RPCError<C>> {
        let (raft, _) = self.router.deliver(&self.from, &self.to).await?;
        raft.handle_transfer_leader(req).await.map_err(remote)
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl std::future::Future<Output = openraft::error::ReplicationClosed>
            + OptionalSend
            + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let (raft, sm) = self.router.deliver(&self.from, &self.to).await?;
        // Same bytes the TCP transport would carry: the file, copied into a
        // temporary file on the receiver, installed from there.
        let data = std::fs::read(&snapshot.snapshot.path)
            .map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e)))?;
        let meta = StateMachine::<C>::file_meta(&snapshot.snapshot.path, &data)
            .map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e)))?;
        let tmp = sm.temp_path("recv");
        std::fs::write(&tmp, &data)
            .map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e)))?;
        let snap = Snapshot {
            meta,
            snapshot: SnapshotFile { path: tmp },
        };
        raft.install_full_snapshot(vote, snap)
            .await
            .map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e)))
    }
}

struct TestNode {
    server: Arc<Server>,
    _dir: tempfile::TempDir,
}

async fn cluster(n: usize, snapshot_every: u64) -> (Router, Vec<TestNode>) {
    let router = Router::default();
    let mut nodes = Vec::new();
    let mut members = BTreeMap::new();
    for i in 1..=n {
        let id = format!("node-{i}");
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config {
            data_dir: dir.path().join("data"),
            ..Default::default()
        };
        config.raft.enabled = true;
        let server = Server::open(config).unwrap();
        let log = LogStore::<C>::open(&dir.path().join("raft"), FsyncPolicy::Always).unwrap();
        let sm = StateMachine::<C>::new(server.store.clone(), &dir.path().join("data"));
        sm.attach(&server);
        let raft_config = Config {
            heartbeat_interval: 50,
            election_timeout_min: 200,
            election_timeout_max: 400,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_every),
            max_in_snapshot_log_to_keep: 5,
            enable_pre_vote: Some(true),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let raft = Raft::new(
            id.clone(),
            Arc::new(raft_config),
            Factory {
                router: router.clone(),
                from: id.clone(),
            },
            log,
            sm.clone(),
        )
        .await
        .unwrap();
        router.nodes.lock().insert(id.clone(), (raft, sm));
        members.insert(id, NodeAddr::default());
        nodes.push(TestNode { server, _dir: dir });
    }
    let first = router.nodes.lock().get("node-1").unwrap().0.clone();
    first.initialize(members).await.unwrap();
    (router, nodes)
}

fn raft_of(router: &Router, id: &str) -> Raft {
    router.nodes.lock().get(id).unwrap().0.clone()
}

async fn leader(router: &Router, among: &[&str]) -> NodeId {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for id in among {
            if raft_of(router, id).is_leader() {
                return id.to_string();
            }
        }
        assert!(Instant::now() < deadline, "no leader among {among:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn request(client: u64, seq: u64, words: &[&str]) -> Request {
    Request {
        client,
        seq,
        now_ms: crate::cmd::unix_ms(),
        db: 0,
        resp3: false,
        cmds: vec![words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()],
        expired: Vec::new(),
        acked: Vec::new(),
    }
}

/// Proposes on whoever leads `among`, retrying (same client and seq) until
/// applied: the session table makes the retries safe.
async fn write(router: &Router, among: &[&str], req: Request) -> Bytes {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let l = leader(router, among).await;
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            raft_of(router, &l).client_write(Proposal::new(vec![req.clone()])),
        )
        .await;
        match r {
            Ok(Ok(resp)) => return resp.data.0.into_iter().next().expect("one reply"),
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))))
            | Ok(Err(RaftError::APIError(ClientWriteError::LogEntryDiscarded(_))))
            | Err(_) => {}
            Ok(Err(e)) => panic!("write failed: {e}"),
        }
        assert!(Instant::now() < deadline, "write never applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every node has applied the same index, then compares the
/// keyspaces key by key.
async fn assert_converged(router: &Router, nodes: &[TestNode]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let applied: Vec<Option<u64>> = router
            .nodes
            .lock()
            .values()
            .map(|(r, _)| r.metrics().borrow_watched().last_applied.map(|l| l.index))
            .collect();
        if applied.windows(2).all(|w| w[0] == w[1]) && applied[0].is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "not converged: {applied:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dump = |s: &Server| {
        let st = s.store.lock();
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = st.ks.dbs[0]
            .iter()
            .map(|e| {
                let crate::atlas::Value::Str(b) = &e.value else {
                    panic!("only strings are written here")
                };
                (e.key.to_vec(), b.to_vec())
            })
            .collect();
        v.sort();
        v
    };
    let first = dump(&nodes[0].server);
    assert!(!first.is_empty());
    for n in &nodes[1..] {
        assert_eq!(dump(&n.server), first, "keyspaces differ");
    }
}

use openraft::async_runtime::watch::WatchReceiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lossy_delayed_links_still_converge_with_every_write_applied_once() {
    let (router, nodes) = cluster(3, 1000).await;
    {
        let mut f = router.faults.lock();
        f.drop = 0.15;
        f.max_delay_ms = 15;
    }
    let all = ["node-1", "node-2", "node-3"];
    for seq in 1..=60u64 {
        let reply = write(&router, &all, request(7, seq, &["INCR", "counter"])).await;
        assert_eq!(
            reply,
            Bytes::from(format!(":{seq}\r\n")),
            "INCR {seq} applied twice or lost"
        );
        let _ = write(
            &router,
            &all,
            request(8, seq, &["SET", &format!("k{seq}"), "v"]),
        )
        .await;
    }
    // A retry of an applied request is answered from the session table.
    let again = write(&router, &all, request(7, 60, &["INCR", "counter"])).await;
    assert_eq!(again, Bytes::from_static(b":60\r\n"));
    {
        let mut f = router.faults.lock();
        f.drop = 0.0;
        f.max_delay_ms = 0;
    }
    assert_converged(&router, &nodes).await;
    let st = nodes[1].server.store.lock();
    assert_eq!(st.ks.dbs[0].len(), 61);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_leader_is_replaced_and_catches_up_by_snapshot() {
    let (router, nodes) = cluster(3, 20).await;
    let all = ["node-1", "node-2", "node-3"];
    let old = leader(&router, &all).await;
    let _ = write(&router, &all, request(1, 1, &["SET", "a", "1"])).await;
    router.isolate(&old, true);
    let rest: Vec<&str> = all.iter().copied().filter(|n| *n != old).collect();
    let new = leader(&router, &rest).await;
    assert_ne!(new, old);
    // Enough writes for several snapshots and purges on the majority.
    for seq in 2..=120u64 {
        let _ = write(
            &router,
            &rest,
            request(1, seq, &["SET", &format!("k{seq}"), &seq.to_string()]),
        )
        .await;
    }
    let snap = raft_of(&router, &new).metrics().borrow_watched().snapshot;
    assert!(
        snap.is_some_and(|s| s.index >= 100),
        "no snapshot on the new leader: {snap:?}"
    );
    // The old leader never saw a quorum: it committed none of it.
    let old_raft = raft_of(&router, &old);
    assert!(
        old_raft
            .metrics()
            .borrow_watched()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0)
            < 5
    );
    router.isolate(&old, false);
    assert_converged(&router, &nodes).await;
    let m = old_raft.metrics().borrow_watched().clone();
    assert_ne!(m.state, ServerState::Leader);
    assert!(
        m.snapshot.is_some(),
        "the old leader caught up without a snapshot"
    );
}
