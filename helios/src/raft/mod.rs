//! Raft replication: the only module that knows openraft.
//!
//! * [`types`]: the openraft type configuration; [`types::Request`] is one
//!   client's batch of write commands, the unit of replication.
//! * [`wal`]: the segmented, checksummed write-ahead log on disk.
//! * [`log_store`]: openraft's log storage over the WAL.
//! * [`state_machine`]: applying entries to the Atlas keyspace; snapshots.
//! * [`network`]: the TCP transport between nodes.
//! * [`node`]: a running node — bootstrap, the client write/read paths,
//!   administration, status and logs.
//!
//! The rest of Helios sees [`RaftNode`], [`WriteOutcome`], [`ReadError`]
//! and [`RaftStatus`] only.

pub mod log_store;
pub mod network;
pub mod node;
pub mod state_machine;
pub mod types;
pub mod wal;

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod router_tests;

pub use network::AdminOp;
pub use node::{RaftNode, RaftStatus, ReadError, WriteOutcome};
pub use types::{NodeAddr, Request};
