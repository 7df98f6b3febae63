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
//! * [`logging`]: log output in the operator-facing format.
//!
//! The binaries (`helios-atlasd`) only parse arguments and call [`run`].

pub mod atlas;
pub mod cmd;
pub mod config;
pub mod logging;
pub mod persist;
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
}

/// Runs the daemon with `config` until it is shut down.
pub async fn run(config: config::Config) -> Result<(), Error> {
    if config.raft.enabled {
        return Err(Error::Unsupported(
            "raft mode (-raft=true / atlas.raft.enabled) is not yet supported by this build; run without it for a standalone node".into(),
        ));
    }
    if config.gateway_listen.is_some() {
        return Err(Error::Unsupported(
            "the HTTP gateway (gateway.listen / -gateway-listen) is not yet supported by this build; remove it to start".into(),
        ));
    }
    if config.metrics_listen.is_some() {
        return Err(Error::Unsupported(
            "metrics (observability.metrics_enabled / -metrics-listen) are not yet supported by this build; remove them to start".into(),
        ));
    }
    server::run(config).await
}
