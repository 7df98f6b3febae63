//! The openraft type configuration and the data that travels through the
//! log: a [`Proposal`] (the [`Request`]s of several clients, each a batch of
//! Redis write commands) and its [`Response`] (the RESP bytes of the
//! replies, per request).
//!
//! Node ids are the operator's names (`node-1`): openraft 0.10 accepts any
//! ordered, hashable id, so no numeric mapping (and no hash collision) is
//! needed. Leader ids are the standard Raft `(term)` kind: one leader per
//! term, and log ids are `(term, index)`.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// Helios's openraft type configuration.
    pub TypeConfig:
        D = Proposal,
        R = Response,
        NodeId = String,
        Node = NodeAddr,
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, String>,
);

pub type NodeId = String;
type C = TypeConfig;
pub type LogId = openraft::type_config::alias::LogIdOf<C>;
pub type Entry = openraft::type_config::alias::EntryOf<C>;
pub type Vote = openraft::type_config::alias::VoteOf<C>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<C>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<C>;
pub type Snapshot = openraft::type_config::alias::SnapshotOf<C, super::state_machine::SnapshotFile>;
pub type Raft = openraft::Raft<C, super::state_machine::StateMachine<C>>;

/// One log entry's payload, seen through [`HeliosConfig`].
pub enum PayloadRef<'a, C: openraft::RaftTypeConfig> {
    Blank,
    Normal(&'a Proposal),
    Membership(&'a openraft::Membership<C::NodeId, C::Node>),
}

/// The type configurations the log store and state machine work with:
/// [`TypeConfig`] in production, and one with numeric node ids for
/// openraft's storage conformance suite (which builds ids from `u64`).
pub trait HeliosConfig:
    openraft::RaftTypeConfig<D = Proposal, R = Response, Node = NodeAddr>
{
    fn payload(entry: &Self::Entry) -> PayloadRef<'_, Self>;
}

/// Implements [`HeliosConfig`] for a type configuration that uses
/// openraft's default entry type.
#[macro_export]
macro_rules! impl_helios_config {
    ($t:ty) => {
        impl $crate::raft::types::HeliosConfig for $t {
            fn payload(entry: &Self::Entry) -> $crate::raft::types::PayloadRef<'_, Self> {
                match &entry.payload {
                    openraft::EntryPayload::Blank => $crate::raft::types::PayloadRef::Blank,
                    openraft::EntryPayload::Normal(r) => $crate::raft::types::PayloadRef::Normal(r),
                    openraft::EntryPayload::Membership(m) => {
                        $crate::raft::types::PayloadRef::Membership(m)
                    }
                }
            }
        }
    };
}

impl_helios_config!(TypeConfig);

/// What the membership records about a node: where its Raft transport
/// listens and, when known, where clients reach it (for `-MOVED`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeAddr {
    pub raft_addr: String,
    /// Empty when unknown (a peer given as `id:host:port` only).
    pub client_addr: String,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.raft_addr)?;
        if !self.client_addr.is_empty() {
            write!(f, " (clients {})", self.client_addr)?;
        }
        Ok(())
    }
}

/// One log entry's worth of client writes: the commands a client sent
/// together, applied atomically and in order on every node.
///
/// Everything apply needs is inside, so apply is deterministic: `now_ms`
/// is the leader's clock when the batch was proposed (relative expiry and
/// "is this key expired" are decided with it, not with each node's clock),
/// `db` the client's selected database, `resp3` the reply protocol.
/// `(client, seq)` identifies the batch: a retried batch (a forward whose
/// reply was lost) is applied once and answered from the session table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub client: u64,
    pub seq: u64,
    pub now_ms: u64,
    pub db: u32,
    pub resp3: bool,
    pub cmds: Vec<Vec<Bytes>>,
    /// Keys the leader's active expiry found expired: `(db, key)`, deleted
    /// on apply if still expired at `now_ms`.
    pub expired: Vec<(u32, Bytes)>,
    /// Follower acknowledgements the leader records in the state machine:
    /// `(node id, index)`. Every later leader then knows that a node which
    /// comes back with an empty log has lost entries (a wiped data dir).
    pub acked: Vec<(String, u64)>,
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {} seq {}: ", self.client, self.seq)?;
        if !self.expired.is_empty() {
            write!(f, "expire {} keys", self.expired.len())?;
        }
        for (i, c) in self.cmds.iter().enumerate().take(3) {
            if i > 0 {
                f.write_str("; ")?;
            }
            if let Some(name) = c.first() {
                write!(f, "{}", String::from_utf8_lossy(name))?;
            }
        }
        if self.cmds.len() > 3 {
            write!(f, "; ... ({} commands)", self.cmds.len())?;
        }
        Ok(())
    }
}

/// One log entry: the requests of every client that the leader proposed
/// together (cross-connection batching: one entry, one round of appends and
/// fsyncs, for everything that arrived while the previous entry was in
/// flight). Applied in order. Shared (`Arc`): openraft clones entries for
/// every follower's replication and for apply, and a deep copy of many
/// small argument vectors would cost more than the rest of the path.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Proposal(pub std::sync::Arc<Vec<Request>>);

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => write!(f, "{} requests", many.len()),
        }
    }
}

/// The replies to a [`Proposal`]: for each request, its commands' replies
/// RESP-encoded back to back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Response(pub Vec<Bytes>);
