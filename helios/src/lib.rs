//! Helios: a Redis-compatible key-value server whose storage engine, Atlas,
//! keeps an in-memory keyspace durable with an append-only file and
//! snapshots.
//!
//! The crate reads top-down:
//!
//! * [`config`]: flags, environment and YAML into one validated [`config::Config`].
//! * [`server`]: start-up and recovery, connections, background jobs, shutdown.
//! * [`resp`]: the wire protocol.
//! * [`cmd`]: the command table and one module per command family.
//! * [`atlas`]: the keyspace itself.
//! * [`persist`]: the AOF and snapshot formats.
//! * [`raft`]: replication (openraft): log store, state machine, transport.
//! * [`logging`]: log output in the operator-facing format.
//!
//! The binaries (`helios-atlasd`) only parse arguments and call [`run`].

pub mod atlas;
pub mod cmd;
pub mod config;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod persist;
pub mod raft;
pub mod resp;
pub mod server;

/// The Redis version Helios reports (`INFO`, `HELLO`). Client libraries and
/// their test suites decide which features to use from it; Helios implements
/// the 7.2 command semantics.
pub const REDIS_VERSION: &str = "7.2.0";

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
    /// The Raft log or state could not be opened or started (exit 1, like
    /// damaged data files).
    #[error("{0}")]
    Raft(String),
}

/// Runs the daemon with `config` until it is shut down.
pub async fn run(config: config::Config) -> Result<(), Error> {
    server::run(config).await
}
