//! openraft's storage conformance suite, run against the real log store
//! (WAL on disk, fsync `always`) and the real state machine (Atlas
//! keyspace, snapshot files), each test in a fresh temporary directory.
//!
//! The suite builds node ids from `u64`, so it runs with a type
//! configuration that differs from production only in the node id type.

use std::sync::Arc;

use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use parking_lot::Mutex;

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::types::{NodeAddr, Proposal, Response};
use super::wal::FsyncPolicy;
use crate::cmd::Store;

openraft::declare_raft_types!(
    pub SuiteConfig:
        D = Proposal,
        R = Response,
        Node = NodeAddr,
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, u64>,
);
crate::impl_helios_config!(SuiteConfig);

struct Builder;

impl StoreBuilder<SuiteConfig, LogStore<SuiteConfig>, StateMachine<SuiteConfig>, tempfile::TempDir>
    for Builder
{
    async fn build(
        &self,
    ) -> Result<
        (
            tempfile::TempDir,
            LogStore<SuiteConfig>,
            StateMachine<SuiteConfig>,
        ),
        StorageError<SuiteConfig>,
    > {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogStore::open(&dir.path().join("raft"), FsyncPolicy::Always).expect("open log");
        let sm = StateMachine::new(Arc::new(Mutex::new(Store::new(16))), dir.path());
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_storage_suite_passes() {
    Suite::test_all(Builder)
        .await
        .expect("openraft storage suite");
}
