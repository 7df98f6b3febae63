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
/// flight). Applied in order.
///
/// The leader encodes the requests once, when it proposes them; the WAL and
/// every follower's AppendEntries then copy those bytes instead of walking
/// the requests again, and a follower decodes them into slices of the one
/// received buffer instead of an allocation per argument. Shared (`Arc`):
/// openraft clones entries for every follower's replication and for apply.
///
/// The encoding (all integers little-endian): `u32` request count, then per
/// request `client u64`, `seq u64`, `now_ms u64`, `db u32`, `resp3 u8`,
/// `u32` command count and per command `u32` argument count and per
/// argument `u32` length + bytes; `u32` expired count and per key `db u32`,
/// `u32` length + key; `u32` acked count and per mark `u32` length + node id
/// (UTF-8) and `index u64`.
#[derive(Clone, Default)]
pub struct Proposal(std::sync::Arc<ProposalData>);

#[derive(Default)]
struct ProposalData {
    requests: Vec<Request>,
    encoded: Bytes,
}

impl Proposal {
    pub fn new(requests: Vec<Request>) -> Proposal {
        let mut buf = Vec::with_capacity(64 * requests.len() + 4);
        put_u32(&mut buf, requests.len());
        for r in &requests {
            encode_request(&mut buf, r);
        }
        Proposal(std::sync::Arc::new(ProposalData {
            requests,
            encoded: Bytes::from(buf),
        }))
    }

    pub fn requests(&self) -> &[Request] {
        &self.0.requests
    }

    /// Decodes an encoded proposal; the arguments are slices of `encoded`.
    pub fn decode(encoded: Bytes) -> Result<Proposal, String> {
        let mut r = Reader {
            buf: &encoded,
            at: 0,
        };
        let n = r.u32()?;
        let mut requests = Vec::with_capacity(n.min(r.left() / 33));
        for _ in 0..n {
            requests.push(decode_request(&mut r)?);
        }
        if r.left() != 0 {
            return Err(format!("{} trailing bytes", r.left()));
        }
        Ok(Proposal(std::sync::Arc::new(ProposalData {
            requests,
            encoded,
        })))
    }
}

fn put_u32(buf: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("proposal part over 4 GiB");
    buf.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_u32(buf, b.len());
    buf.extend_from_slice(b);
}

fn encode_request(buf: &mut Vec<u8>, r: &Request) {
    buf.extend_from_slice(&r.client.to_le_bytes());
    buf.extend_from_slice(&r.seq.to_le_bytes());
    buf.extend_from_slice(&r.now_ms.to_le_bytes());
    buf.extend_from_slice(&r.db.to_le_bytes());
    buf.push(u8::from(r.resp3));
    put_u32(buf, r.cmds.len());
    for cmd in &r.cmds {
        put_u32(buf, cmd.len());
        for arg in cmd {
            put_bytes(buf, arg);
        }
    }
    put_u32(buf, r.expired.len());
    for (db, key) in &r.expired {
        buf.extend_from_slice(&db.to_le_bytes());
        put_bytes(buf, key);
    }
    put_u32(buf, r.acked.len());
    for (node, index) in &r.acked {
        put_bytes(buf, node.as_bytes());
        buf.extend_from_slice(&index.to_le_bytes());
    }
}

struct Reader<'a> {
    buf: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.left() < n {
            return Err(format!("truncated at byte {} (wanted {n} more)", self.at));
        }
        self.at += n;
        Ok(&self.buf[self.at - n..self.at])
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<usize, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self) -> Result<Bytes, String> {
        let n = self.u32()?;
        self.take(n)?;
        Ok(self.buf.slice(self.at - n..self.at))
    }

    /// A count of items each at least `min_size` bytes long, checked
    /// against what is left so a corrupt count cannot reserve huge vectors.
    fn count(&mut self, min_size: usize) -> Result<usize, String> {
        let n = self.u32()?;
        if n.saturating_mul(min_size) > self.left() {
            return Err(format!(
                "count {n} at byte {} exceeds the data",
                self.at - 4
            ));
        }
        Ok(n)
    }
}

fn decode_request(r: &mut Reader<'_>) -> Result<Request, String> {
    let client = r.u64()?;
    let seq = r.u64()?;
    let now_ms = r.u64()?;
    let db = r.u32()? as u32;
    let resp3 = match r.u8()? {
        0 => false,
        1 => true,
        other => return Err(format!("bad resp3 flag {other}")),
    };
    let ncmds = r.count(4)?;
    let mut cmds = Vec::with_capacity(ncmds);
    for _ in 0..ncmds {
        let nargs = r.count(4)?;
        let mut args = Vec::with_capacity(nargs);
        for _ in 0..nargs {
            args.push(r.bytes()?);
        }
        cmds.push(args);
    }
    let nexpired = r.count(8)?;
    let mut expired = Vec::with_capacity(nexpired);
    for _ in 0..nexpired {
        let db = r.u32()? as u32;
        expired.push((db, r.bytes()?));
    }
    let nacked = r.count(12)?;
    let mut acked = Vec::with_capacity(nacked);
    for _ in 0..nacked {
        let node = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| "node id is not UTF-8")?;
        acked.push((node, r.u64()?));
    }
    Ok(Request {
        client,
        seq,
        now_ms,
        db,
        resp3,
        cmds,
        expired,
        acked,
    })
}

impl PartialEq for Proposal {
    fn eq(&self, other: &Proposal) -> bool {
        self.0.requests == other.0.requests
    }
}

impl Eq for Proposal {}

impl fmt::Debug for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Proposal").field(&self.0.requests).finish()
    }
}

impl Serialize for Proposal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.encoded.is_empty() {
            // `Proposal::default()`: no requests.
            return s.serialize_bytes(&0u32.to_le_bytes());
        }
        s.serialize_bytes(&self.0.encoded)
    }
}

impl<'de> Deserialize<'de> for Proposal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Proposal, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Proposal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an encoded proposal")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Proposal, E> {
                Proposal::decode(Bytes::copy_from_slice(v))
                    .map_err(|e| E::custom(format!("bad proposal: {e}")))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Proposal, E> {
                Proposal::decode(Bytes::from(v))
                    .map_err(|e| E::custom(format!("bad proposal: {e}")))
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.requests() {
            [one] => write!(f, "{one}"),
            many => write!(f, "{} requests", many.len()),
        }
    }
}

/// The replies to a [`Proposal`]: for each request, its commands' replies
/// RESP-encoded back to back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Response(pub Vec<Bytes>);

#[cfg(test)]
mod tests {
    use super::*;

    fn request(client: u64) -> Request {
        Request {
            client,
            seq: 7,
            now_ms: 1_700_000_000_000,
            db: 3,
            resp3: true,
            cmds: vec![
                vec![
                    Bytes::from_static(b"SET"),
                    Bytes::from_static(b"k"),
                    Bytes::new(),
                ],
                vec![Bytes::from_static(b"INCR"), Bytes::from(vec![0xff; 300])],
            ],
            expired: vec![(1, Bytes::from_static(b"old"))],
            acked: vec![("node-2".into(), 42)],
        }
    }

    #[test]
    fn proposal_round_trips_through_serde_and_slices_one_buffer() {
        let p = Proposal::new(vec![request(1), request(2)]);
        let wire = postcard::to_stdvec(&p).unwrap();
        let back: Proposal = postcard::from_bytes(&wire).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.requests()[1].cmds[1][1].len(), 300);
        // Arguments point into the proposal's one buffer.
        let inside = back.0.encoded.as_ptr_range();
        assert!(inside.contains(&back.requests()[0].cmds[0][1].as_ptr()));
        let empty: Proposal =
            postcard::from_bytes(&postcard::to_stdvec(&Proposal::default()).unwrap()).unwrap();
        assert!(empty.requests().is_empty());
    }

    #[test]
    fn corrupt_proposals_are_errors_not_panics() {
        let good = Proposal::new(vec![request(1)]).0.encoded.clone();
        for cut in 0..good.len() {
            let err = Proposal::decode(good.slice(..cut)).unwrap_err();
            assert!(
                err.contains("truncated") || err.contains("exceeds"),
                "{err}"
            );
        }
        let mut huge = good.to_vec();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Proposal::decode(Bytes::from(huge)).is_err());
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert!(Proposal::decode(Bytes::from(trailing))
            .unwrap_err()
            .contains("trailing"));
    }
}
