//! Configuration of the `helios-atlasd` daemon. This module owns the embedded
//! defaults, the YAML config file schema (the seed's `cluster-node*.yaml`, key
//! for key, plus `atlas.listen`, `atlas.requirepass`, `atlas.maxclients`,
//! `atlas.raft.{follower_writes,read_consistency}`, `peers[].client_address`
//! and `observability.log_format`), the `HELIOS_*` environment variables, the
//! command-line flags (Go-style `-name=value` and GNU `--name value`), the
//! precedence flag > env > file > default applied key by key, and the
//! validation that turns every mistake into a one-line [`ConfigError`] naming
//! the flag, variable or file key and what was expected. It does not open
//! sockets, create directories or touch any file other than reading the config
//! file: checking that addresses can be bound and directories written is left
//! to the server at start-up.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// Default client address: all interfaces, port 6379.
const DEFAULT_PORT: u16 = 6379;
/// Default metrics port when `observability.metrics_enabled: true` has no port.
const DEFAULT_METRICS_PORT: u16 = 9090;
const DEFAULT_DATA_DIR: &str = "./data";
const DEFAULT_SNAPSHOT_INTERVAL_CMDS: u64 = 10_000;
const DEFAULT_SNAPSHOT_INTERVAL_TIME: Duration = Duration::from_secs(5 * 60);
const DEFAULT_MAXCLIENTS: usize = 10_000;
const DEFAULT_PROTO_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Number of logical databases (`SELECT 0`..`SELECT 15`); not configurable.
pub const DATABASES: usize = 16;
const DEFAULT_LOG_LEVEL: &str = "info";
const DEFAULT_RAFT_NODE_ID: &str = "node-1";
const DEFAULT_RAFT_BIND_ADDR: &str = "127.0.0.1:7000";
const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(100);
const DEFAULT_ELECTION_TIMEOUT: Duration = Duration::from_millis(500);
const DEFAULT_SNAPSHOT_THRESHOLD: u64 = 10_000;
const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// One thread per core but one, at least one: the AOF fsync thread, the
/// snapshot thread and the kernel's network processing need a core too, and
/// on small machines a second worker mostly adds cross-thread wake-ups
/// (measured with bench/compare.sh on 2 cores: one worker gave equal or
/// better throughput, a third of the tail latency, and `appendfsync always`
/// at parity with Redis instead of 0.77x).
pub fn default_io_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1).max(1))
        .unwrap_or(1)
}

/// Help text printed for `-h`, `-help` and `--help`.
pub const USAGE: &str = "\
Usage: helios-atlasd [flags]

Helios Atlas daemon: a Redis-compatible key-value server, optionally
replicated with Raft.

Flags take one or two dashes and a value after '=' or as the next argument
(-data-dir=./data/node1 or --data-dir ./data/node1). A boolean flag alone
means true (-raft). Every flag can also be set in the environment as
HELIOS_<FLAG> (upper case, '-' becomes '_'; an empty value counts as unset).
Precedence, key by key: flag > environment > config file > default.
An empty value for -requirepass, -gateway-listen, -gateway-auth-token or
-metrics-listen unsets it.

  -config FILE                    env HELIOS_CONFIG
        YAML config file (keys: atlas.*, atlas.raft.*, gateway.listen,
        observability.*). Default: none.
  -data-dir DIR                   env HELIOS_DATA_DIR
        Directory for the AOF and snapshots. Default: ./data
  -listen [HOST]:PORT             env HELIOS_LISTEN
        Client (RESP) address; :6379 means all interfaces. Default: :6379
  -aof-fsync always|every|no      env HELIOS_AOF_FSYNC
        When the active log (AOF, or Raft WAL in raft mode) is fsynced;
        everysec is accepted for every. Default: always
  -snapshot-interval-cmds N       env HELIOS_SNAPSHOT_INTERVAL_CMDS
        Snapshot after N writes; 0 disables. Default: 10000
  -snapshot-interval-time DUR     env HELIOS_SNAPSHOT_INTERVAL_TIME
        Snapshot after this long (e.g. 30s, 5m); 0 disables. Default: 5m
  -requirepass PASSWORD           env HELIOS_REQUIREPASS
        Password clients must AUTH with. Default: none
  -maxclients N                   env HELIOS_MAXCLIENTS
        Maximum simultaneous client connections (at least 1). Default: 10000
  -io-threads N                   env HELIOS_IO_THREADS
        Threads serving clients. Default: one per core but one (min 1)
  -proto-max-bulk-len SIZE        env HELIOS_PROTO_MAX_BULK_LEN
        Largest bulk string accepted, in bytes or with a k, kb, m, mb, g or
        gb suffix. Default: 512mb
  -log-level LEVEL                env HELIOS_LOG_LEVEL
        error, warn, info, debug or trace. Default: info
  -log-format text|json           env HELIOS_LOG_FORMAT
        Log line format. Default: text
  -raft BOOL                      env HELIOS_RAFT
        Replicate writes through Raft. Default: false
  -raft-node-id ID                env HELIOS_RAFT_NODE_ID
        This node's id (letters, digits, '-', '_', '.'). Default: node-1
  -raft-addr HOST:PORT            env HELIOS_RAFT_ADDR
        Raft transport address of this node. Default: 127.0.0.1:7000
  -raft-data-dir DIR              env HELIOS_RAFT_DATA_DIR
        Raft log and vote directory. Default: <data-dir>/raft
  -raft-peers ID:HOST:PORT,...    env HELIOS_RAFT_PEERS
        The other cluster members, e.g.
        node-2:127.0.0.1:7001,node-3:127.0.0.1:7002. Default: none
  -raft-heartbeat-timeout DUR     env HELIOS_RAFT_HEARTBEAT_TIMEOUT
        Leader heartbeat interval. Default: 100ms
  -raft-election-timeout DUR      env HELIOS_RAFT_ELECTION_TIMEOUT
        Minimum election timeout, above the heartbeat. Default: 500ms
  -raft-snapshot-threshold N      env HELIOS_RAFT_SNAPSHOT_THRESHOLD
        Log entries between Raft snapshots (at least 1). Default: 10000
  -raft-follower-writes forward|redirect
                                  env HELIOS_RAFT_FOLLOWER_WRITES
        Writes on a follower are forwarded to the leader, or answered with
        -MOVED. Default: forward
  -raft-read-consistency linearizable|lease|stale
                                  env HELIOS_RAFT_READ_CONSISTENCY
        How reads are served in raft mode. Default: linearizable
  -gateway-listen [HOST]:PORT     env HELIOS_GATEWAY_LISTEN
        HTTP status API (/livez, /readyz, /v1/status, /v1/cluster).
        Default: disabled
  -gateway-auth-token TOKEN       env HELIOS_GATEWAY_AUTH_TOKEN
        Bearer token the gateway's POST/DELETE endpoints require (reads stay
        open). Default: none (no token needed)
  -gateway-tls-cert FILE          env HELIOS_GATEWAY_TLS_CERT
        PEM certificate chain: the gateway serves HTTPS (with
        -gateway-tls-key). Default: plain HTTP
  -gateway-tls-key FILE           env HELIOS_GATEWAY_TLS_KEY
        PEM private key for -gateway-tls-cert. Default: none
  -metrics-listen [HOST]:PORT     env HELIOS_METRICS_LISTEN
        Prometheus /metrics; may equal -gateway-listen. Default: disabled
  -h, -help, --help
        Print this help and exit.
  -version, --version
        Print the version and exit.
";

/// When the active log (the AOF standalone, the Raft WAL in raft mode) is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FsyncPolicy {
    /// fsync before the write is acknowledged (group commit).
    #[default]
    Always,
    /// Written before the ack, fsynced once a second.
    Every,
    /// The OS decides when to flush.
    No,
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Every => "everysec",
            FsyncPolicy::No => "no",
        })
    }
}

impl FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "every" | "everysec" => Ok(FsyncPolicy::Every),
            "no" => Ok(FsyncPolicy::No),
            _ => Err(invalid_value(s, "always, every or no")),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogFormat {
    /// `[INFO] raft: Starting election [term 2]`
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(invalid_value(s, "text or json")),
        }
    }
}

/// What a follower does with a write (`raft.follower_writes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FollowerWrites {
    /// Forward to the leader over the Raft transport and relay the reply.
    #[default]
    Forward,
    /// Answer `-MOVED 0 <leader client addr>`.
    Redirect,
}

impl fmt::Display for FollowerWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FollowerWrites::Forward => "forward",
            FollowerWrites::Redirect => "redirect",
        })
    }
}

impl FromStr for FollowerWrites {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "forward" => Ok(FollowerWrites::Forward),
            "redirect" => Ok(FollowerWrites::Redirect),
            _ => Err(invalid_value(s, "forward or redirect")),
        }
    }
}

/// How reads are served in raft mode (`raft.read_consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReadConsistency {
    /// ReadIndex through the leader, also on followers.
    #[default]
    Linearizable,
    /// Leader lease.
    Lease,
    /// Local state, fastest.
    Stale,
}

impl fmt::Display for ReadConsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadConsistency::Linearizable => "linearizable",
            ReadConsistency::Lease => "lease",
            ReadConsistency::Stale => "stale",
        })
    }
}

impl FromStr for ReadConsistency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "linearizable" => Ok(ReadConsistency::Linearizable),
            "lease" => Ok(ReadConsistency::Lease),
            "stale" => Ok(ReadConsistency::Stale),
            _ => Err(invalid_value(s, "linearizable, lease or stale")),
        }
    }
}

/// Another member of the Raft cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Node id, e.g. `node-2`.
    pub id: String,
    /// Raft transport address, `host:port` (the host may be a name, as in
    /// docker-compose's `helios-node1:7000`).
    pub address: String,
    /// The peer's client (RESP) address, used for `-MOVED` redirects.
    pub client_address: Option<String>,
}

/// The `atlas.raft` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftConfig {
    pub enabled: bool,
    pub node_id: String,
    /// This node's Raft transport address, `host:port`.
    pub bind_addr: String,
    pub data_dir: PathBuf,
    /// Leader heartbeat interval.
    pub heartbeat_timeout: Duration,
    /// Minimum election timeout (randomized up to 2x by the Raft layer).
    pub election_timeout: Duration,
    /// Log entries between snapshots.
    pub snapshot_threshold: u64,
    /// The other members; never contains this node.
    pub peers: Vec<Peer>,
    pub follower_writes: FollowerWrites,
    pub read_consistency: ReadConsistency,
}

impl RaftConfig {
    fn with_data_dir(data_dir: &Path) -> RaftConfig {
        RaftConfig {
            enabled: false,
            node_id: DEFAULT_RAFT_NODE_ID.to_string(),
            bind_addr: DEFAULT_RAFT_BIND_ADDR.to_string(),
            data_dir: data_dir.join("raft"),
            heartbeat_timeout: DEFAULT_HEARTBEAT_TIMEOUT,
            election_timeout: DEFAULT_ELECTION_TIMEOUT,
            snapshot_threshold: DEFAULT_SNAPSHOT_THRESHOLD,
            peers: Vec::new(),
            follower_writes: FollowerWrites::default(),
            read_consistency: ReadConsistency::default(),
        }
    }
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig::with_data_dir(Path::new(DEFAULT_DATA_DIR))
    }
}

/// The daemon's complete, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Client (RESP) address; `:6379` means `0.0.0.0:6379`.
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub aof_fsync: FsyncPolicy,
    /// Snapshot after this many writes; 0 disables.
    pub snapshot_interval_cmds: u64,
    /// Snapshot after this long; zero disables.
    pub snapshot_interval_time: Duration,
    pub requirepass: Option<String>,
    pub maxclients: usize,
    /// Threads serving clients (the async runtime's workers).
    pub io_threads: usize,
    pub proto_max_bulk_len: usize,
    /// Always [`DATABASES`].
    pub databases: usize,
    /// One of `error`, `warn`, `info`, `debug`, `trace` (lower case).
    pub log_level: String,
    pub log_format: LogFormat,
    pub raft: RaftConfig,
    pub gateway_listen: Option<SocketAddr>,
    /// Bearer token the gateway's mutating endpoints require.
    pub gateway_auth_token: Option<String>,
    /// PEM certificate chain and private key: the gateway speaks HTTPS.
    pub gateway_tls: Option<(PathBuf, PathBuf)>,
    pub metrics_listen: Option<SocketAddr>,
    /// The YAML file that was read, if any.
    pub config_file: Option<PathBuf>,
}

impl Default for Config {
    /// The embedded default: a standalone node on `:6379` with data in `./data`.
    fn default() -> Self {
        let data_dir = PathBuf::from(DEFAULT_DATA_DIR);
        Config {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
            raft: RaftConfig::with_data_dir(&data_dir),
            data_dir,
            aof_fsync: FsyncPolicy::default(),
            snapshot_interval_cmds: DEFAULT_SNAPSHOT_INTERVAL_CMDS,
            snapshot_interval_time: DEFAULT_SNAPSHOT_INTERVAL_TIME,
            requirepass: None,
            maxclients: DEFAULT_MAXCLIENTS,
            io_threads: default_io_threads(),
            proto_max_bulk_len: DEFAULT_PROTO_MAX_BULK_LEN,
            databases: DATABASES,
            log_level: DEFAULT_LOG_LEVEL.to_string(),
            log_format: LogFormat::default(),
            gateway_listen: None,
            gateway_auth_token: None,
            gateway_tls: None,
            metrics_listen: None,
            config_file: None,
        }
    }
}

/// Why the configuration could not be loaded. Every variant except
/// [`ConfigError::Help`] displays as a single line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `-h`/`-help`/`--help` was given; carries [`USAGE`]. Print it, exit 0.
    #[error("{0}")]
    Help(String),
    /// `-version`/`--version` was given; carries the version line. Print it, exit 0.
    #[error("{0}")]
    Version(String),
    /// An unknown flag, a flag without its value or with a bad value.
    /// `flag` is spelled with one dash, e.g. `-aof-fsync`.
    #[error("flag {flag}: {message}")]
    Flag { flag: String, message: String },
    /// A command-line argument that is not a flag.
    #[error("unexpected argument {0:?} (helios-atlasd takes only flags; see -help)")]
    UnexpectedArgument(String),
    /// A `HELIOS_*` variable with a bad value.
    #[error("env {var}: {message}")]
    Env { var: String, message: String },
    /// The config file could not be read.
    #[error("config {}: cannot read file: {message}", .path.display())]
    Read { path: PathBuf, message: String },
    /// The config file is malformed or has a bad value; `message` starts with
    /// (or names) the key path, e.g. `atlas.raft.heartbeat_timeout: ...`.
    #[error("config {}{}: {message}", .path.display(), line_suffix(.line))]
    File {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// Inconsistent settings that all come from the defaults.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

fn line_suffix(line: &Option<usize>) -> String {
    match line {
        Some(n) => format!(" line {n}"),
        None => String::new(),
    }
}

impl Config {
    /// Parses command-line args (without `argv[0]`) and environment (a lookup fn
    /// so tests need not touch the real env), reads the config file named by
    /// `-config` or `HELIOS_CONFIG`, merges flag > env > file > default key by
    /// key and validates the result.
    pub fn load(
        args: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let flags = flag_layer(args)?;
        let env_vars = env_layer(env)?;
        let config_file = flags.config.clone().or_else(|| env_vars.config.clone());
        let file = match &config_file {
            Some(path) => file_layer(path)?,
            None => Layer::default(),
        };
        let layers = [
            (Origin::Flag, flags),
            (Origin::Env, env_vars),
            (Origin::File(config_file.clone().unwrap_or_default()), file),
        ];
        merge(&layers, config_file)
    }

    /// `Config::load(std::env::args().skip(1)..., &|k| std::env::var(k).ok())`
    pub fn from_process() -> Result<Config, ConfigError> {
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        Config::load(&args, &|k| std::env::var(k).ok())
    }
}

// ---------------------------------------------------------------------------
// Settable keys: one entry per flag, with its env variable and YAML path.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Config,
    DataDir,
    Listen,
    AofFsync,
    SnapshotIntervalCmds,
    SnapshotIntervalTime,
    Requirepass,
    Maxclients,
    IoThreads,
    ProtoMaxBulkLen,
    LogLevel,
    LogFormat,
    Raft,
    RaftNodeId,
    RaftAddr,
    RaftDataDir,
    RaftPeers,
    RaftHeartbeatTimeout,
    RaftElectionTimeout,
    RaftSnapshotThreshold,
    RaftFollowerWrites,
    RaftReadConsistency,
    GatewayListen,
    GatewayAuthToken,
    GatewayTlsCert,
    GatewayTlsKeyFile,
    MetricsListen,
}

const KEYS: [Key; 27] = [
    Key::Config,
    Key::DataDir,
    Key::Listen,
    Key::AofFsync,
    Key::SnapshotIntervalCmds,
    Key::SnapshotIntervalTime,
    Key::Requirepass,
    Key::Maxclients,
    Key::IoThreads,
    Key::ProtoMaxBulkLen,
    Key::LogLevel,
    Key::LogFormat,
    Key::Raft,
    Key::RaftNodeId,
    Key::RaftAddr,
    Key::RaftDataDir,
    Key::RaftPeers,
    Key::RaftHeartbeatTimeout,
    Key::RaftElectionTimeout,
    Key::RaftSnapshotThreshold,
    Key::RaftFollowerWrites,
    Key::RaftReadConsistency,
    Key::GatewayListen,
    Key::GatewayAuthToken,
    Key::GatewayTlsCert,
    Key::GatewayTlsKeyFile,
    Key::MetricsListen,
];

impl Key {
    /// Flag name without dashes.
    fn flag(self) -> &'static str {
        match self {
            Key::Config => "config",
            Key::DataDir => "data-dir",
            Key::Listen => "listen",
            Key::AofFsync => "aof-fsync",
            Key::SnapshotIntervalCmds => "snapshot-interval-cmds",
            Key::SnapshotIntervalTime => "snapshot-interval-time",
            Key::Requirepass => "requirepass",
            Key::Maxclients => "maxclients",
            Key::IoThreads => "io-threads",
            Key::ProtoMaxBulkLen => "proto-max-bulk-len",
            Key::LogLevel => "log-level",
            Key::LogFormat => "log-format",
            Key::Raft => "raft",
            Key::RaftNodeId => "raft-node-id",
            Key::RaftAddr => "raft-addr",
            Key::RaftDataDir => "raft-data-dir",
            Key::RaftPeers => "raft-peers",
            Key::RaftHeartbeatTimeout => "raft-heartbeat-timeout",
            Key::RaftElectionTimeout => "raft-election-timeout",
            Key::RaftSnapshotThreshold => "raft-snapshot-threshold",
            Key::RaftFollowerWrites => "raft-follower-writes",
            Key::RaftReadConsistency => "raft-read-consistency",
            Key::GatewayListen => "gateway-listen",
            Key::GatewayAuthToken => "gateway-auth-token",
            Key::GatewayTlsCert => "gateway-tls-cert",
            Key::GatewayTlsKeyFile => "gateway-tls-key",
            Key::MetricsListen => "metrics-listen",
        }
    }

    /// Path of the key in the YAML file, for error messages.
    fn yaml(self) -> &'static str {
        match self {
            Key::Config => "(none)",
            Key::DataDir => "atlas.data_dir",
            Key::Listen => "atlas.listen",
            Key::AofFsync => "atlas.aof_fsync",
            Key::SnapshotIntervalCmds => "atlas.snapshot_interval_cmds",
            Key::SnapshotIntervalTime => "atlas.snapshot_interval_time",
            Key::Requirepass => "atlas.requirepass",
            Key::Maxclients => "atlas.maxclients",
            Key::IoThreads => "atlas.io_threads",
            Key::ProtoMaxBulkLen => "proto_max_bulk_len",
            Key::LogLevel => "observability.log_level",
            Key::LogFormat => "observability.log_format",
            Key::Raft => "atlas.raft.enabled",
            Key::RaftNodeId => "atlas.raft.node_id",
            Key::RaftAddr => "atlas.raft.bind_addr",
            Key::RaftDataDir => "atlas.raft.data_dir",
            Key::RaftPeers => "atlas.raft.peers",
            Key::RaftHeartbeatTimeout => "atlas.raft.heartbeat_timeout",
            Key::RaftElectionTimeout => "atlas.raft.election_timeout",
            Key::RaftSnapshotThreshold => "atlas.raft.snapshot_threshold",
            Key::RaftFollowerWrites => "atlas.raft.follower_writes",
            Key::RaftReadConsistency => "atlas.raft.read_consistency",
            Key::GatewayListen => "gateway.listen",
            Key::GatewayAuthToken => "gateway.auth_token",
            Key::GatewayTlsCert => "gateway.tls.cert_file",
            Key::GatewayTlsKeyFile => "gateway.tls.key_file",
            Key::MetricsListen => "observability.metrics_port",
        }
    }

    /// What a value looks like, for "missing value" messages.
    fn expect(self) -> &'static str {
        match self {
            Key::Config => "a YAML file path",
            Key::DataDir | Key::RaftDataDir => "a directory path",
            Key::GatewayTlsCert | Key::GatewayTlsKeyFile => "a PEM file path",
            Key::Listen | Key::GatewayListen | Key::MetricsListen => {
                "an address like :6379 or 127.0.0.1:6379"
            }
            Key::AofFsync => "always, every or no",
            Key::SnapshotIntervalCmds => "a non-negative integer",
            Key::SnapshotIntervalTime | Key::RaftHeartbeatTimeout | Key::RaftElectionTimeout => {
                "a duration like 100ms or 5s"
            }
            Key::Requirepass => "a password",
            Key::GatewayAuthToken => "a token",
            Key::Maxclients | Key::IoThreads | Key::RaftSnapshotThreshold => "a positive integer",
            Key::ProtoMaxBulkLen => "a size like 536870912 or 512mb",
            Key::LogLevel => "error, warn, info, debug or trace",
            Key::LogFormat => "text or json",
            Key::Raft => "true or false",
            Key::RaftNodeId => "a node id like node-1",
            Key::RaftAddr => "host:port, e.g. 127.0.0.1:7000",
            Key::RaftPeers => "id:host:port,..., e.g. node-2:127.0.0.1:7001",
            Key::RaftFollowerWrites => "forward or redirect",
            Key::RaftReadConsistency => "linearizable, lease or stale",
        }
    }

    fn is_bool(self) -> bool {
        self == Key::Raft
    }

    /// `HELIOS_<FLAG>`: upper case, `-` becomes `_`.
    fn env(self) -> String {
        format!(
            "HELIOS_{}",
            self.flag().to_ascii_uppercase().replace('-', "_")
        )
    }

    fn from_flag(name: &str) -> Option<Key> {
        KEYS.iter().copied().find(|k| k.flag() == name)
    }
}

/// Where a merged value came from; used to name it in validation errors.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Default,
    Flag,
    Env,
    File(PathBuf),
}

impl Origin {
    fn error(&self, key: Key, message: String) -> ConfigError {
        match self {
            Origin::Flag => ConfigError::Flag {
                flag: format!("-{}", key.flag()),
                message,
            },
            Origin::Env => ConfigError::Env {
                var: key.env(),
                message,
            },
            Origin::File(path) => ConfigError::File {
                path: path.clone(),
                line: None,
                message: format!("{}: {message}", key.yaml()),
            },
            Origin::Default => ConfigError::Invalid(format!("{}: {message}", key.yaml())),
        }
    }
}

/// The settings given by one source (flags, env or file); `None` = not given.
/// `Some(None)` for optional settings means explicitly unset.
#[derive(Debug, Clone, Default)]
struct Layer {
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    aof_fsync: Option<FsyncPolicy>,
    snapshot_interval_cmds: Option<u64>,
    snapshot_interval_time: Option<Duration>,
    requirepass: Option<Option<String>>,
    maxclients: Option<usize>,
    io_threads: Option<usize>,
    proto_max_bulk_len: Option<usize>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    raft_enabled: Option<bool>,
    raft_node_id: Option<String>,
    raft_bind_addr: Option<String>,
    raft_data_dir: Option<PathBuf>,
    raft_peers: Option<Vec<Peer>>,
    raft_heartbeat_timeout: Option<Duration>,
    raft_election_timeout: Option<Duration>,
    raft_snapshot_threshold: Option<u64>,
    raft_follower_writes: Option<FollowerWrites>,
    raft_read_consistency: Option<ReadConsistency>,
    gateway_listen: Option<Option<SocketAddr>>,
    gateway_auth_token: Option<Option<String>>,
    gateway_tls_cert: Option<Option<PathBuf>>,
    gateway_tls_key: Option<Option<PathBuf>>,
    metrics_listen: Option<Option<SocketAddr>>,
}

impl Layer {
    /// Parses `raw` as the value of `key`. The error says what was wrong and
    /// what was expected; the caller prefixes the flag, variable or file key.
    fn set(&mut self, key: Key, raw: &str) -> Result<(), String> {
        match key {
            Key::Config => self.config = Some(parse_path(raw, key)?),
            Key::DataDir => self.data_dir = Some(parse_path(raw, key)?),
            Key::Listen => self.listen = Some(parse_listen_addr(raw)?),
            Key::AofFsync => self.aof_fsync = Some(raw.parse()?),
            Key::SnapshotIntervalCmds => {
                self.snapshot_interval_cmds = Some(parse_u64(raw, "a non-negative integer")?)
            }
            Key::SnapshotIntervalTime => self.snapshot_interval_time = Some(parse_duration(raw)?),
            Key::Requirepass => self.requirepass = Some(non_empty(raw)),
            Key::Maxclients => {
                let n = parse_positive(raw)?;
                self.maxclients = Some(usize::try_from(n).map_err(|_| too_large(raw))?);
            }
            Key::IoThreads => {
                let n = parse_positive(raw)?;
                if n > 1024 {
                    return Err(invalid_value(raw, "a positive integer up to 1024"));
                }
                self.io_threads = Some(n as usize);
            }
            Key::ProtoMaxBulkLen => {
                let n = parse_size(raw)?;
                if n == 0 {
                    return Err(invalid_value(raw, "a size of at least 1 byte"));
                }
                self.proto_max_bulk_len = Some(usize::try_from(n).map_err(|_| too_large(raw))?);
            }
            Key::LogLevel => self.log_level = Some(parse_log_level(raw)?),
            Key::LogFormat => self.log_format = Some(raw.parse()?),
            Key::Raft => self.raft_enabled = Some(parse_bool(raw)?),
            Key::RaftNodeId => {
                if !raw.is_empty() {
                    check_node_id(raw)?;
                }
                self.raft_node_id = Some(raw.to_string());
            }
            Key::RaftAddr => {
                check_host_port(raw, AddrRole::Bind)?;
                self.raft_bind_addr = Some(raw.to_string());
            }
            Key::RaftDataDir => self.raft_data_dir = Some(parse_path(raw, key)?),
            Key::RaftPeers => self.raft_peers = Some(parse_peer_list(raw)?),
            Key::RaftHeartbeatTimeout => {
                self.raft_heartbeat_timeout = Some(parse_nonzero_duration(raw)?)
            }
            Key::RaftElectionTimeout => {
                self.raft_election_timeout = Some(parse_nonzero_duration(raw)?)
            }
            Key::RaftSnapshotThreshold => self.raft_snapshot_threshold = Some(parse_positive(raw)?),
            Key::RaftFollowerWrites => self.raft_follower_writes = Some(raw.parse()?),
            Key::RaftReadConsistency => self.raft_read_consistency = Some(raw.parse()?),
            Key::GatewayListen => self.gateway_listen = Some(parse_optional_addr(raw)?),
            Key::GatewayAuthToken => self.gateway_auth_token = Some(non_empty(raw)),
            Key::GatewayTlsCert => self.gateway_tls_cert = Some(non_empty(raw).map(PathBuf::from)),
            Key::GatewayTlsKeyFile => {
                self.gateway_tls_key = Some(non_empty(raw).map(PathBuf::from))
            }
            Key::MetricsListen => self.metrics_listen = Some(parse_optional_addr(raw)?),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Flags and environment.

fn flag_layer(args: &[String]) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            // Everything after `--` is positional, and we take none.
            return match args.get(i) {
                Some(extra) => Err(ConfigError::UnexpectedArgument(extra.clone())),
                None => Ok(layer),
            };
        }
        let body = match arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
            Some(body) if !body.is_empty() => body,
            _ => return Err(ConfigError::UnexpectedArgument(arg.clone())),
        };
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        match name {
            "h" | "help" => return Err(ConfigError::Help(USAGE.to_string())),
            "version" => return Err(ConfigError::Version(version_line())),
            _ => {}
        }
        let Some(key) = Key::from_flag(name) else {
            return Err(ConfigError::Flag {
                flag: format!("-{name}"),
                message: "unknown flag (run with -help to list the flags)".to_string(),
            });
        };
        let flag = format!("-{}", key.flag());
        let value = match inline {
            Some(value) => value.to_string(),
            // Go semantics: a bare boolean flag means true. We also accept the
            // value as the next argument when it is a boolean literal.
            None if key.is_bool() => match args.get(i) {
                Some(next) if parse_bool(next).is_ok() => {
                    i += 1;
                    next.clone()
                }
                _ => "true".to_string(),
            },
            None => match args.get(i) {
                Some(next) => {
                    i += 1;
                    next.clone()
                }
                None => {
                    return Err(ConfigError::Flag {
                        flag,
                        message: format!("missing value (expected {})", key.expect()),
                    })
                }
            },
        };
        layer
            .set(key, &value)
            .map_err(|message| ConfigError::Flag { flag, message })?;
    }
    Ok(layer)
}

fn env_layer(env: &dyn Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for key in KEYS {
        let var = key.env();
        let Some(value) = env(&var).filter(|v| !v.is_empty()) else {
            continue;
        };
        layer
            .set(key, &value)
            .map_err(|message| ConfigError::Env { var, message })?;
    }
    Ok(layer)
}

fn version_line() -> String {
    format!("helios-atlasd {}", env!("CARGO_PKG_VERSION"))
}

// ---------------------------------------------------------------------------
// YAML file. Scalars are read as strings and parsed by the same functions as
// flags and env, so every source accepts the same values and reports them the
// same way; serde only checks the shape (unknown, duplicate, missing keys).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoot {
    atlas: Option<FileAtlas>,
    gateway: Option<FileGateway>,
    observability: Option<FileObservability>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAtlas {
    data_dir: Option<String>,
    listen: Option<String>,
    aof_fsync: Option<String>,
    snapshot_interval_cmds: Option<String>,
    snapshot_interval_time: Option<String>,
    requirepass: Option<String>,
    maxclients: Option<String>,
    io_threads: Option<String>,
    raft: Option<FileRaft>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRaft {
    enabled: Option<String>,
    node_id: Option<String>,
    bind_addr: Option<String>,
    data_dir: Option<String>,
    heartbeat_timeout: Option<String>,
    election_timeout: Option<String>,
    snapshot_threshold: Option<String>,
    follower_writes: Option<String>,
    read_consistency: Option<String>,
    peers: Option<Vec<FilePeer>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePeer {
    id: String,
    address: String,
    client_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGateway {
    listen: Option<String>,
    auth_token: Option<String>,
    tls: Option<FileGatewayTls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGatewayTls {
    cert_file: Option<String>,
    key_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileObservability {
    log_level: Option<String>,
    log_format: Option<String>,
    metrics_enabled: Option<String>,
    metrics_port: Option<String>,
}

fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse_file(path, &text)
}

fn parse_file(path: &Path, text: &str) -> Result<Layer, ConfigError> {
    let root: FileRoot = serde_norway::from_str(text).map_err(|e| yaml_error(path, &e))?;
    let file_err = |key: &str, message: String| ConfigError::File {
        path: path.to_path_buf(),
        line: None,
        message: format!("{key}: {message}"),
    };
    let mut layer = Layer::default();
    let mut set = |key: Key, value: &Option<String>| -> Result<(), ConfigError> {
        match value {
            Some(raw) => layer.set(key, raw).map_err(|m| file_err(key.yaml(), m)),
            None => Ok(()),
        }
    };

    let atlas = root.atlas.unwrap_or_default();
    set(Key::DataDir, &atlas.data_dir)?;
    set(Key::Listen, &atlas.listen)?;
    set(Key::AofFsync, &atlas.aof_fsync)?;
    set(Key::SnapshotIntervalCmds, &atlas.snapshot_interval_cmds)?;
    set(Key::SnapshotIntervalTime, &atlas.snapshot_interval_time)?;
    set(Key::Requirepass, &atlas.requirepass)?;
    set(Key::Maxclients, &atlas.maxclients)?;
    set(Key::IoThreads, &atlas.io_threads)?;

    let raft = atlas.raft.unwrap_or_default();
    set(Key::Raft, &raft.enabled)?;
    set(Key::RaftNodeId, &raft.node_id)?;
    set(Key::RaftAddr, &raft.bind_addr)?;
    set(Key::RaftDataDir, &raft.data_dir)?;
    set(Key::RaftHeartbeatTimeout, &raft.heartbeat_timeout)?;
    set(Key::RaftElectionTimeout, &raft.election_timeout)?;
    set(Key::RaftSnapshotThreshold, &raft.snapshot_threshold)?;
    set(Key::RaftFollowerWrites, &raft.follower_writes)?;
    set(Key::RaftReadConsistency, &raft.read_consistency)?;

    let gateway = root.gateway.unwrap_or_default();
    set(Key::GatewayListen, &gateway.listen)?;
    set(Key::GatewayAuthToken, &gateway.auth_token)?;
    let tls = gateway.tls.unwrap_or_default();
    set(Key::GatewayTlsCert, &tls.cert_file)?;
    set(Key::GatewayTlsKeyFile, &tls.key_file)?;

    let obs = root.observability.unwrap_or_default();
    set(Key::LogLevel, &obs.log_level)?;
    set(Key::LogFormat, &obs.log_format)?;

    if let Some(peers) = raft.peers {
        let mut list = Vec::with_capacity(peers.len());
        for (i, p) in peers.into_iter().enumerate() {
            let at = |field: &str| format!("{}[{i}].{field}", Key::RaftPeers.yaml());
            check_node_id(&p.id).map_err(|m| file_err(&at("id"), m))?;
            check_host_port(&p.address, AddrRole::Peer).map_err(|m| file_err(&at("address"), m))?;
            let client_address = match p.client_address.filter(|a| !a.is_empty()) {
                Some(a) => {
                    check_host_port(&a, AddrRole::Peer)
                        .map_err(|m| file_err(&at("client_address"), m))?;
                    Some(a)
                }
                None => None,
            };
            list.push(Peer {
                id: p.id,
                address: p.address,
                client_address,
            });
        }
        check_duplicate_peers(&list).map_err(|m| file_err(Key::RaftPeers.yaml(), m))?;
        layer.raft_peers = Some(list);
    }

    // Metrics: observability.metrics_port, served only with metrics_enabled: true.
    let enabled = match &obs.metrics_enabled {
        Some(raw) => {
            Some(parse_bool(raw).map_err(|m| file_err("observability.metrics_enabled", m))?)
        }
        None => None,
    };
    let port = match &obs.metrics_port {
        Some(raw) => parse_metrics_port(raw).map_err(|m| file_err(Key::MetricsListen.yaml(), m))?,
        None => None,
    };
    match enabled {
        Some(true) => {
            let default = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_METRICS_PORT);
            layer.metrics_listen = Some(Some(port.unwrap_or(default)));
        }
        Some(false) => layer.metrics_listen = Some(None),
        None => {}
    }
    Ok(layer)
}

/// Turns a serde_norway error into one line: `unknown key atlas.fsync
/// (expected one of ...)`, with the line number from the error's location.
fn yaml_error(path: &Path, err: &serde_norway::Error) -> ConfigError {
    let mut text = err.to_string();
    let line = err.location().map(|loc| {
        let suffix = format!(" at line {} column {}", loc.line(), loc.column());
        text = text.replacen(&suffix, "", 1);
        loc.line()
    });
    let (key, msg) = match text.split_once(": ") {
        Some((head, rest))
            if !head.is_empty()
                && head
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']')) =>
        {
            (Some(head), rest)
        }
        _ => (None, text.as_str()),
    };
    let full = |name: &str| match key {
        Some(k) => format!("{k}.{name}"),
        None => name.to_string(),
    };
    let named = |prefix: &str| -> Option<(String, String)> {
        let rest = msg.strip_prefix(prefix)?;
        let (name, tail) = rest.split_once('`')?;
        Some((full(name), tail.trim_start_matches(", ").replace('`', "")))
    };
    let message = if let Some((name, expected)) = named("unknown field `") {
        let expected = expected.replace("there are no fields", "no keys here");
        format!("unknown key {name} ({expected})")
    } else if let Some((name, _)) = named("missing field `") {
        format!("missing key {name}")
    } else if let Some((name, _)) = named("duplicate field `") {
        format!("duplicate key {name}")
    } else {
        let mut msg = msg.replace('`', "");
        if let Some(rest) = msg.strip_prefix("invalid type: ") {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                let expected = if expected.starts_with("struct ") {
                    "a mapping of keys"
                } else if expected.starts_with("a sequence") {
                    "a list"
                } else {
                    expected
                };
                msg = format!("invalid value: {found} (expected {expected})");
            }
        }
        match key {
            Some(k) => format!("{k}: {msg}"),
            None => msg,
        }
    };
    ConfigError::File {
        path: path.to_path_buf(),
        line,
        message: message.replace(['\n', '\r'], " "),
    }
}

// ---------------------------------------------------------------------------
// Merging and validation.

fn pick<T>(layers: &[(Origin, Layer)], get: impl Fn(&Layer) -> Option<T>) -> Option<(T, Origin)> {
    layers
        .iter()
        .find_map(|(origin, layer)| get(layer).map(|v| (v, origin.clone())))
}

fn merge(layers: &[(Origin, Layer)], config_file: Option<PathBuf>) -> Result<Config, ConfigError> {
    let d = Config::default();
    macro_rules! value {
        ($field:ident, $default:expr) => {
            pick(layers, |l| l.$field.clone()).map_or($default, |(v, _)| v)
        };
    }
    macro_rules! with_origin {
        ($field:ident, $default:expr) => {
            pick(layers, |l| l.$field.clone()).unwrap_or(($default, Origin::Default))
        };
    }

    let data_dir = value!(data_dir, d.data_dir);
    let raft_data_dir = value!(raft_data_dir, data_dir.join("raft"));
    let (node_id, node_id_origin) = with_origin!(raft_node_id, d.raft.node_id);
    let (bind_addr, _) = with_origin!(raft_bind_addr, d.raft.bind_addr);
    let (peers, peers_origin) = with_origin!(raft_peers, d.raft.peers);
    let (heartbeat, heartbeat_origin) =
        with_origin!(raft_heartbeat_timeout, d.raft.heartbeat_timeout);
    let (election, election_origin) = with_origin!(raft_election_timeout, d.raft.election_timeout);
    let (tls_cert, cert_origin) = with_origin!(gateway_tls_cert, None);
    let (tls_key, key_origin) = with_origin!(gateway_tls_key, None);
    let gateway_tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(cert_origin.error(
                Key::GatewayTlsCert,
                "set without gateway.tls.key_file (expected both, or neither)".to_string(),
            ))
        }
        (None, Some(_)) => {
            return Err(key_origin.error(
                Key::GatewayTlsKeyFile,
                "set without gateway.tls.cert_file (expected both, or neither)".to_string(),
            ))
        }
    };

    let config = Config {
        listen: value!(listen, d.listen),
        aof_fsync: value!(aof_fsync, d.aof_fsync),
        snapshot_interval_cmds: value!(snapshot_interval_cmds, d.snapshot_interval_cmds),
        snapshot_interval_time: value!(snapshot_interval_time, d.snapshot_interval_time),
        requirepass: value!(requirepass, d.requirepass),
        maxclients: value!(maxclients, d.maxclients),
        io_threads: value!(io_threads, d.io_threads),
        proto_max_bulk_len: value!(proto_max_bulk_len, d.proto_max_bulk_len),
        databases: DATABASES,
        log_level: value!(log_level, d.log_level),
        log_format: value!(log_format, d.log_format),
        raft: RaftConfig {
            enabled: value!(raft_enabled, d.raft.enabled),
            node_id,
            bind_addr,
            data_dir: raft_data_dir,
            heartbeat_timeout: heartbeat,
            election_timeout: election,
            snapshot_threshold: value!(raft_snapshot_threshold, d.raft.snapshot_threshold),
            peers,
            follower_writes: value!(raft_follower_writes, d.raft.follower_writes),
            read_consistency: value!(raft_read_consistency, d.raft.read_consistency),
        },
        gateway_listen: value!(gateway_listen, d.gateway_listen),
        gateway_auth_token: value!(gateway_auth_token, d.gateway_auth_token),
        gateway_tls,
        metrics_listen: value!(metrics_listen, d.metrics_listen),
        data_dir,
        config_file,
    };

    // Checks that involve more than one key; single values were checked as
    // they were parsed.
    let raft = &config.raft;
    if raft.enabled && raft.node_id.is_empty() {
        return Err(node_id_origin.error(
            Key::RaftNodeId,
            "empty node id (required when raft is enabled; expected a node id like node-1)"
                .to_string(),
        ));
    }
    for peer in &raft.peers {
        if peer.id == raft.node_id {
            return Err(peers_origin.error(
                Key::RaftPeers,
                format!("peer list contains this node itself ({})", raft.node_id),
            ));
        }
        if same_address(&peer.address, &raft.bind_addr) {
            return Err(peers_origin.error(
                Key::RaftPeers,
                format!(
                    "peer {} has this node's own raft address {} (expected the other members only)",
                    peer.id, raft.bind_addr
                ),
            ));
        }
    }
    // Followers' election timers run from half the election timeout, and
    // openraft needs that to be longer than the heartbeat interval.
    if raft.election_timeout <= raft.heartbeat_timeout * 2 {
        let (key, origin) = if election_origin != Origin::Default {
            (Key::RaftElectionTimeout, &election_origin)
        } else {
            (Key::RaftHeartbeatTimeout, &heartbeat_origin)
        };
        return Err(origin.error(
            key,
            format!(
                "election timeout {} must be more than twice the heartbeat timeout {}",
                humantime::format_duration(raft.election_timeout),
                humantime::format_duration(raft.heartbeat_timeout)
            ),
        ));
    }
    Ok(config)
}

fn same_address(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    match (a.parse::<SocketAddr>(), b.parse::<SocketAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Value parsers. Each returns a message without the source prefix.

fn invalid_value(raw: &str, expected: &str) -> String {
    format!("invalid value {raw:?} (expected {expected})")
}

fn too_large(raw: &str) -> String {
    format!("value {raw:?} is too large for this machine")
}

fn non_empty(raw: &str) -> Option<String> {
    (!raw.is_empty()).then(|| raw.to_string())
}

fn parse_path(raw: &str, key: Key) -> Result<PathBuf, String> {
    if raw.is_empty() {
        return Err(format!("empty value (expected {})", key.expect()));
    }
    Ok(PathBuf::from(raw))
}

fn parse_u64(raw: &str, expected: &str) -> Result<u64, String> {
    let t = raw.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_value(raw, expected));
    }
    t.parse::<u64>().map_err(|_| too_large(raw))
}

fn parse_positive(raw: &str) -> Result<u64, String> {
    match parse_u64(raw, "a positive integer")? {
        0 => Err(invalid_value(raw, "a positive integer")),
        n => Ok(n),
    }
}

fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Ok(true),
        "false" | "f" | "0" | "no" | "n" | "off" => Ok(false),
        _ => Err(invalid_value(raw, "true or false")),
    }
}

fn parse_duration(raw: &str) -> Result<Duration, String> {
    let t = raw.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(t)
        .map_err(|_| format!("invalid duration {raw:?} (expected a duration like 100ms or 5s)"))
}

fn parse_nonzero_duration(raw: &str) -> Result<Duration, String> {
    let d = parse_duration(raw)?;
    if d.is_zero() {
        return Err(format!(
            "invalid duration {raw:?} (expected a duration greater than zero, like 100ms)"
        ));
    }
    Ok(d)
}

/// Bytes, or a number with a Redis-style suffix: k=1000, kb=1024, m=1000^2,
/// mb=1024^2, g=1000^3, gb=1024^3 (case-insensitive).
fn parse_size(raw: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {raw:?} (expected bytes or a size like 512mb)");
    let lower = raw.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, suffix) = lower.split_at(split);
    let multiplier: u64 = match suffix {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    if digits.is_empty() {
        return Err(bad());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| too_large(raw))
}

fn parse_log_level(raw: &str) -> Result<String, String> {
    let lower = raw.trim().to_ascii_lowercase();
    if LOG_LEVELS.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(invalid_value(raw, "error, warn, info, debug or trace"))
    }
}

fn parse_optional_addr(raw: &str) -> Result<Option<SocketAddr>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    parse_listen_addr(raw).map(Some)
}

/// `observability.metrics_port`: `":9090"`, `9090` or a full address.
fn parse_metrics_port(raw: &str) -> Result<Option<SocketAddr>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    parse_listen_addr(raw.trim()).map(Some)
}

/// Node ids appear in `INFO` (`raft_peer0:id=node-2,...`) and in the
/// `id:host:port` peer syntax, so they are restricted to a safe alphabet.
/// Validates a node id and its Raft address (`RAFT.NODE ADD`).
pub fn check_peer(id: &str, raft_addr: &str) -> Result<(), String> {
    check_node_id(id)?;
    check_host_port(raft_addr, AddrRole::Peer)
}

fn check_node_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty node id (expected a node id like node-2)".to_string());
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "invalid node id {id:?} (expected letters, digits, '-', '_' or '.')"
        ));
    }
    Ok(())
}

fn check_duplicate_peers(peers: &[Peer]) -> Result<(), String> {
    for (i, p) in peers.iter().enumerate() {
        if peers[..i].iter().any(|q| q.id == p.id) {
            return Err(format!("duplicate peer id {:?}", p.id));
        }
    }
    Ok(())
}

/// `id:host:port,...`; the id is everything before the first `:`.
fn parse_peer_list(raw: &str) -> Result<Vec<Peer>, String> {
    let mut peers = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((id, address)) = entry.split_once(':') else {
            return Err(format!(
                "invalid peer {entry:?} (expected id:host:port, e.g. node-2:127.0.0.1:7001)"
            ));
        };
        check_node_id(id).map_err(|m| format!("peer {entry:?}: {m}"))?;
        check_host_port(address, AddrRole::Peer).map_err(|m| format!("peer {id}: {m}"))?;
        peers.push(Peer {
            id: id.to_string(),
            address: address.to_string(),
            client_address: None,
        });
    }
    check_duplicate_peers(&peers)?;
    Ok(peers)
}

/// Splits `host:port` or `[v6]:port`; returns (host, port, bracketed).
fn split_host_port(s: &str) -> Option<(&str, &str, bool)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host, port, true));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None; // an IPv6 address without brackets
    }
    Some((host, port, false))
}

fn parse_port(addr: &str, port: &str, min: u32) -> Result<u16, String> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid address {addr:?}: port {port:?} is not a number (expected {min}-65535)"
        ));
    }
    match port.parse::<u32>() {
        Ok(n) if (min..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!(
            "invalid address {addr:?}: port {port} out of range (expected {min}-65535)"
        )),
    }
}

/// Parses a listening address: `:6379` -> `0.0.0.0:6379`, `6379` -> the same,
/// `127.0.0.1:7000`, `[::1]:6379`, `localhost:6379` -> `127.0.0.1:6379`.
/// Ports 0-65535; hosts must be IP literals, `localhost` or empty (no DNS).
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(SocketAddr::new(any, parse_port(s, s, 0)?));
    }
    let Some((host, port, bracketed)) = split_host_port(s) else {
        return Err(format!(
            "invalid address {s:?} (expected [host]:port, e.g. :6379 or 127.0.0.1:6379)"
        ));
    };
    let port = parse_port(s, port, 0)?;
    let ip = if bracketed {
        host.parse::<Ipv6Addr>().map(IpAddr::V6).ok()
    } else if host.is_empty() || host == "*" {
        Some(any)
    } else if host.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        host.parse::<IpAddr>().ok()
    };
    match ip {
        Some(ip) => Ok(SocketAddr::new(ip, port)),
        None => Err(format!(
            "invalid address {s:?}: host {host:?} is not an IP address (expected an IP, localhost or nothing, e.g. :6379)"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddrRole {
    /// This node's raft address: the host may be empty, the port 0.
    Bind,
    /// A peer's address: host required, port 1-65535.
    Peer,
}

/// Checks a `host:port` that may name a host (no DNS lookup is done here).
fn check_host_port(s: &str, role: AddrRole) -> Result<(), String> {
    let Some((host, port, bracketed)) = split_host_port(s) else {
        return Err(format!(
            "invalid address {s:?} (expected host:port, e.g. 127.0.0.1:7000)"
        ));
    };
    parse_port(s, port, if role == AddrRole::Peer { 1 } else { 0 })?;
    let host_ok = if bracketed {
        host.parse::<Ipv6Addr>().is_ok()
    } else if host.is_empty() {
        role == AddrRole::Bind
    } else {
        host.parse::<IpAddr>().is_ok()
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    if !host_ok {
        return Err(format!(
            "invalid address {s:?}: bad host {host:?} (expected host:port, e.g. 127.0.0.1:7000)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const SEED_NODE1: &str = r#"atlas:
  data_dir: "./data/node1"
  aof_fsync: "every"
  snapshot_interval_cmds: 10000
  snapshot_interval_time: "5m"

  raft:
    enabled: true
    node_id: "node-1"
    bind_addr: "127.0.0.1:7000"
    data_dir: "./data/node1/raft"
    heartbeat_timeout: "100ms"
    election_timeout: "500ms"
    snapshot_threshold: 10000

    peers:
      - id: "node-2"
        address: "127.0.0.1:7001"
      - id: "node-3"
        address: "127.0.0.1:7002"

gateway:
  listen: ":8443"

observability:
  log_level: "info"
  metrics_enabled: true
  metrics_port: ":9090"
"#;

    const SEED_NODE2: &str = r#"atlas:
  data_dir: "./data/node2"
  aof_fsync: "every"
  snapshot_interval_cmds: 10000
  snapshot_interval_time: "5m"

  raft:
    enabled: true
    node_id: "node-2"
    bind_addr: "127.0.0.1:7001"
    data_dir: "./data/node2/raft"
    heartbeat_timeout: "100ms"
    election_timeout: "500ms"
    snapshot_threshold: 10000

    peers:
      - id: "node-1"
        address: "127.0.0.1:7000"
      - id: "node-3"
        address: "127.0.0.1:7002"

gateway:
  listen: ":8444"

observability:
  log_level: "info"
  metrics_enabled: true
  metrics_port: ":9091"
"#;

    const SEED_NODE3: &str = r#"atlas:
  data_dir: "./data/node3"
  aof_fsync: "every"
  snapshot_interval_cmds: 10000
  snapshot_interval_time: "5m"

  raft:
    enabled: true
    node_id: "node-3"
    bind_addr: "127.0.0.1:7002"
    data_dir: "./data/node3/raft"
    heartbeat_timeout: "100ms"
    election_timeout: "500ms"
    snapshot_threshold: 10000

    peers:
      - id: "node-1"
        address: "127.0.0.1:7000"
      - id: "node-2"
        address: "127.0.0.1:7001"

gateway:
  listen: ":8445"

observability:
  log_level: "info"
  metrics_enabled: true
  metrics_port: ":9092"
"#;

    /// A YAML file under the temp dir, removed on drop.
    struct TempYaml(PathBuf);

    impl TempYaml {
        fn new(contents: &str) -> TempYaml {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "helios-config-test-{}-{n}.yaml",
                std::process::id()
            ));
            std::fs::write(&path, contents).expect("write temp config");
            TempYaml(path)
        }

        fn arg(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for TempYaml {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn load_with(list: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&args(list), &move |k| vars.get(k).cloned())
    }

    fn load(list: &[&str]) -> Result<Config, ConfigError> {
        load_with(list, &[])
    }

    fn load_file(yaml: &str) -> (Result<Config, ConfigError>, TempYaml) {
        let file = TempYaml::new(yaml);
        let result = load(&["-config", &file.arg()]);
        (result, file)
    }

    fn err_text(r: Result<Config, ConfigError>) -> String {
        match r {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => {
                let text = e.to_string();
                assert!(!text.contains('\n'), "multi-line error: {text}");
                text
            }
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn peer(id: &str, address: &str) -> Peer {
        Peer {
            id: id.to_string(),
            address: address.to_string(),
            client_address: None,
        }
    }

    #[test]
    fn no_args_gives_standalone_defaults() {
        let c = load(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.listen, addr("0.0.0.0:6379"));
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(!c.raft.enabled);
        assert_eq!(c.raft.node_id, "node-1");
        assert_eq!(c.raft.bind_addr, "127.0.0.1:7000");
        assert_eq!(c.raft.data_dir, Path::new("./data").join("raft"));
        assert_eq!(c.raft.heartbeat_timeout, Duration::from_millis(100));
        assert_eq!(c.raft.election_timeout, Duration::from_millis(500));
        assert_eq!(c.raft.snapshot_threshold, 10000);
        assert!(c.raft.peers.is_empty());
        assert_eq!(c.raft.follower_writes, FollowerWrites::Forward);
        assert_eq!(c.raft.read_consistency, ReadConsistency::Linearizable);
        assert_eq!(c.aof_fsync, FsyncPolicy::Always);
        assert_eq!(c.snapshot_interval_cmds, 10000);
        assert_eq!(c.snapshot_interval_time, Duration::from_secs(300));
        assert_eq!(c.requirepass, None);
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(c.databases, 16);
        assert_eq!(c.log_level, "info");
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.gateway_listen, None);
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.config_file, None);
    }

    #[test]
    fn listen_addr_forms() {
        assert_eq!(parse_listen_addr(":6379").unwrap(), addr("0.0.0.0:6379"));
        assert_eq!(parse_listen_addr("6380").unwrap(), addr("0.0.0.0:6380"));
        assert_eq!(
            parse_listen_addr("127.0.0.1:7000").unwrap(),
            addr("127.0.0.1:7000")
        );
        assert_eq!(parse_listen_addr("[::1]:6379").unwrap(), addr("[::1]:6379"));
        assert_eq!(
            parse_listen_addr("localhost:6379").unwrap(),
            addr("127.0.0.1:6379")
        );
        assert_eq!(parse_listen_addr(":0").unwrap(), addr("0.0.0.0:0"));
        assert_eq!(parse_listen_addr(":65535").unwrap(), addr("0.0.0.0:65535"));
        let e = parse_listen_addr(":65536").unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        assert!(parse_listen_addr(":99999999999")
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_listen_addr("nohost").is_err());
        assert!(parse_listen_addr(":abc").is_err());
        assert!(parse_listen_addr("::1:6379").is_err());
        assert!(parse_listen_addr("example.com:6379").is_err());
        assert!(parse_listen_addr("").is_err());
    }

    fn assert_seed(c: &Config, n: u16, others: [(&str, &str); 2], gateway: u16, metrics: u16) {
        assert_eq!(c.data_dir, PathBuf::from(format!("./data/node{n}")));
        assert_eq!(c.aof_fsync, FsyncPolicy::Every);
        assert_eq!(c.snapshot_interval_cmds, 10000);
        assert_eq!(c.snapshot_interval_time, Duration::from_secs(300));
        assert!(c.raft.enabled);
        assert_eq!(c.raft.node_id, format!("node-{n}"));
        assert_eq!(c.raft.bind_addr, format!("127.0.0.1:{}", 6999 + n));
        assert_eq!(
            c.raft.data_dir,
            PathBuf::from(format!("./data/node{n}/raft"))
        );
        assert_eq!(c.raft.heartbeat_timeout, Duration::from_millis(100));
        assert_eq!(c.raft.election_timeout, Duration::from_millis(500));
        assert_eq!(c.raft.snapshot_threshold, 10000);
        assert_eq!(
            c.raft.peers,
            vec![
                peer(others[0].0, others[0].1),
                peer(others[1].0, others[1].1)
            ]
        );
        assert_eq!(c.gateway_listen, Some(addr(&format!("0.0.0.0:{gateway}"))));
        assert_eq!(c.log_level, "info");
        assert_eq!(c.metrics_listen, Some(addr(&format!("0.0.0.0:{metrics}"))));
        // Not in the seed files: defaults.
        assert_eq!(c.listen, addr("0.0.0.0:6379"));
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.raft.follower_writes, FollowerWrites::Forward);
    }

    #[test]
    fn seed_yaml_node1() {
        let (c, file) = load_file(SEED_NODE1);
        let c = c.unwrap();
        assert_seed(
            &c,
            1,
            [("node-2", "127.0.0.1:7001"), ("node-3", "127.0.0.1:7002")],
            8443,
            9090,
        );
        assert_eq!(c.config_file, Some(file.0.clone()));
    }

    #[test]
    fn seed_yaml_node2() {
        let (c, _file) = load_file(SEED_NODE2);
        assert_seed(
            &c.unwrap(),
            2,
            [("node-1", "127.0.0.1:7000"), ("node-3", "127.0.0.1:7002")],
            8444,
            9091,
        );
    }

    #[test]
    fn seed_yaml_node3() {
        let (c, _file) = load_file(SEED_NODE3);
        assert_seed(
            &c.unwrap(),
            3,
            [("node-1", "127.0.0.1:7000"), ("node-2", "127.0.0.1:7001")],
            8445,
            9092,
        );
    }

    #[test]
    fn seed_flag_lines() {
        for n in 1..=3u16 {
            let list = [
                format!("-data-dir=./data/node{n}"),
                format!("-listen=:{}", 6378 + n),
                "-raft=true".to_string(),
                format!("-raft-node-id=node-{n}"),
                format!("-raft-addr=127.0.0.1:{}", 6999 + n),
                format!("-raft-data-dir=./data/node{n}/raft"),
            ];
            let refs: Vec<&str> = list.iter().map(String::as_str).collect();
            let c = load(&refs).unwrap();
            assert_eq!(c.data_dir, PathBuf::from(format!("./data/node{n}")));
            assert_eq!(c.listen, addr(&format!("0.0.0.0:{}", 6378 + n)));
            assert!(c.raft.enabled);
            assert_eq!(c.raft.node_id, format!("node-{n}"));
            assert_eq!(c.raft.bind_addr, format!("127.0.0.1:{}", 6999 + n));
            assert_eq!(
                c.raft.data_dir,
                PathBuf::from(format!("./data/node{n}/raft"))
            );
            assert!(c.raft.peers.is_empty());
            assert_eq!(c.gateway_listen, None);
            assert_eq!(c.metrics_listen, None);
        }
    }

    #[test]
    fn seed_docker_compose_flags_and_env() {
        let c = load_with(
            &[
                "-data-dir=/data",
                "-listen=:6379",
                "-raft=true",
                "-raft-node-id=node-2",
                "-raft-addr=helios-node2:7000",
                "-raft-data-dir=/data/raft",
            ],
            &[(
                "HELIOS_RAFT_PEERS",
                "node-1:helios-node1:7000,node-3:helios-node3:7000",
            )],
        )
        .unwrap();
        assert_eq!(c.raft.bind_addr, "helios-node2:7000");
        assert_eq!(
            c.raft.peers,
            vec![
                peer("node-1", "helios-node1:7000"),
                peer("node-3", "helios-node3:7000")
            ]
        );
    }

    #[test]
    fn env_peers_in_seed_format() {
        let c = load_with(
            &["-raft"],
            &[(
                "HELIOS_RAFT_PEERS",
                "node-2:127.0.0.1:7001,node-3:127.0.0.1:7002",
            )],
        )
        .unwrap();
        assert!(c.raft.enabled);
        assert_eq!(
            c.raft.peers,
            vec![
                peer("node-2", "127.0.0.1:7001"),
                peer("node-3", "127.0.0.1:7002")
            ]
        );
        // The id is everything before the first ':', so IPv6 works too.
        let c = load(&["-raft-peers", "node-2:[::1]:7001"]).unwrap();
        assert_eq!(c.raft.peers, vec![peer("node-2", "[::1]:7001")]);
        // A bad entry names the variable.
        let e = err_text(load_with(&[], &[("HELIOS_RAFT_PEERS", "node-2")]));
        assert!(
            e.starts_with("env HELIOS_RAFT_PEERS: invalid peer \"node-2\""),
            "{e}"
        );
        assert!(e.contains("id:host:port"), "{e}");
        let e = err_text(load_with(
            &[],
            &[("HELIOS_RAFT_PEERS", "node-2:127.0.0.1:70001")],
        ));
        assert!(e.starts_with("env HELIOS_RAFT_PEERS: peer node-2:"), "{e}");
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn flag_spellings() {
        let c = load(&["--data-dir", "./data/node1", "--listen", ":6380", "-raft"]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./data/node1"));
        assert_eq!(c.listen, addr("0.0.0.0:6380"));
        assert!(c.raft.enabled);
        assert_eq!(c.raft.data_dir, PathBuf::from("./data/node1/raft"));

        assert!(!load(&["-raft=false"]).unwrap().raft.enabled);
        assert!(!load(&["--raft", "false"]).unwrap().raft.enabled);
        assert!(load(&["--raft=true", "--data-dir=x"]).unwrap().raft.enabled);
        // A bare boolean followed by another flag stays true.
        let c = load(&["-raft", "-raft-node-id", "n1"]).unwrap();
        assert!(c.raft.enabled);
        assert_eq!(c.raft.node_id, "n1");
        // Last one wins, as with Go's flag package.
        assert_eq!(
            load(&["-maxclients=5", "-maxclients=7"])
                .unwrap()
                .maxclients,
            7
        );
        // A separate value may start with a dash.
        assert_eq!(
            load(&["-requirepass", "-secret"])
                .unwrap()
                .requirepass
                .as_deref(),
            Some("-secret")
        );
    }

    #[test]
    fn every_flag_parses() {
        let c = load(&[
            "-aof-fsync=everysec",
            "-snapshot-interval-cmds=0",
            "-snapshot-interval-time=0",
            "-requirepass=pw",
            "-maxclients=3",
            "-proto-max-bulk-len=1mb",
            "-log-level=DEBUG",
            "-log-format=json",
            "-raft-heartbeat-timeout=50ms",
            "-raft-election-timeout=1s",
            "-raft-snapshot-threshold=7",
            "-raft-follower-writes=redirect",
            "-raft-read-consistency=lease",
            "-gateway-listen=127.0.0.1:8443",
            "-gateway-auth-token=t0ken",
            "-metrics-listen=:9100",
        ])
        .unwrap();
        assert_eq!(c.gateway_auth_token.as_deref(), Some("t0ken"));
        assert_eq!(c.aof_fsync, FsyncPolicy::Every);
        assert_eq!(c.snapshot_interval_cmds, 0);
        assert_eq!(c.snapshot_interval_time, Duration::ZERO);
        assert_eq!(c.requirepass.as_deref(), Some("pw"));
        assert_eq!(c.maxclients, 3);
        assert_eq!(c.proto_max_bulk_len, 1024 * 1024);
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.raft.heartbeat_timeout, Duration::from_millis(50));
        assert_eq!(c.raft.election_timeout, Duration::from_secs(1));
        assert_eq!(c.raft.snapshot_threshold, 7);
        assert_eq!(c.raft.follower_writes, FollowerWrites::Redirect);
        assert_eq!(c.raft.read_consistency, ReadConsistency::Lease);
        assert_eq!(c.gateway_listen, Some(addr("127.0.0.1:8443")));
        assert_eq!(c.metrics_listen, Some(addr("0.0.0.0:9100")));
        assert_eq!(
            load(&["-raft-read-consistency", "stale"])
                .unwrap()
                .raft
                .read_consistency,
            ReadConsistency::Stale
        );
    }

    #[test]
    fn bulk_len_sizes() {
        let cases = [
            ("1000", 1000),
            ("1k", 1000),
            ("1KB", 1024),
            ("2m", 2_000_000),
            ("512mb", 512 * 1024 * 1024),
            ("1G", 1_000_000_000),
            ("1gb", 1 << 30),
        ];
        for (raw, want) in cases {
            let c = load(&["-proto-max-bulk-len", raw]).unwrap();
            assert_eq!(c.proto_max_bulk_len, want, "{raw}");
        }
        for bad in ["", "mb", "12x", "1.5mb", "0"] {
            let e = err_text(load(&["-proto-max-bulk-len", bad]));
            assert!(e.starts_with("flag -proto-max-bulk-len: "), "{e}");
        }
    }

    #[test]
    fn fsync_policy_display_and_parse() {
        assert_eq!(FsyncPolicy::Always.to_string(), "always");
        assert_eq!(FsyncPolicy::Every.to_string(), "everysec");
        assert_eq!(FsyncPolicy::No.to_string(), "no");
        for (s, p) in [
            ("always", FsyncPolicy::Always),
            ("every", FsyncPolicy::Every),
            ("everysec", FsyncPolicy::Every),
            ("no", FsyncPolicy::No),
        ] {
            assert_eq!(s.parse::<FsyncPolicy>().unwrap(), p);
            // Display round-trips.
            assert_eq!(p.to_string().parse::<FsyncPolicy>().unwrap(), p);
        }
    }

    #[test]
    fn bad_flag_values_name_the_flag() {
        assert_eq!(
            err_text(load(&["-aof-fsync", "sometimes"])),
            "flag -aof-fsync: invalid value \"sometimes\" (expected always, every or no)"
        );
        assert_eq!(
            err_text(load(&["--aof-fsync=sometimes"])),
            "flag -aof-fsync: invalid value \"sometimes\" (expected always, every or no)"
        );
        let e = err_text(load(&["-raft=maybe"]));
        assert_eq!(
            e,
            "flag -raft: invalid value \"maybe\" (expected true or false)"
        );
        let e = err_text(load(&["-snapshot-interval-time", "100"]));
        assert_eq!(
            e,
            "flag -snapshot-interval-time: invalid duration \"100\" (expected a duration like 100ms or 5s)"
        );
        let e = err_text(load(&["-log-format", "xml"]));
        assert!(
            e.starts_with("flag -log-format: invalid value \"xml\""),
            "{e}"
        );
        let e = err_text(load(&["-raft-follower-writes", "drop"]));
        assert!(e.starts_with("flag -raft-follower-writes: "), "{e}");
        let e = err_text(load(&["-raft-read-consistency", "eventual"]));
        assert!(e.starts_with("flag -raft-read-consistency: "), "{e}");
        let e = err_text(load(&["-snapshot-interval-cmds", "-1"]));
        assert!(
            e.starts_with("flag -snapshot-interval-cmds: invalid value \"-1\""),
            "{e}"
        );
        let e = err_text(load(&["-data-dir="]));
        assert_eq!(e, "flag -data-dir: empty value (expected a directory path)");
        let e = err_text(load(&["-raft-node-id", "node 1"]));
        assert!(e.starts_with("flag -raft-node-id: invalid node id"), "{e}");
        let e = err_text(load(&["-raft-addr", "127.0.0.1"]));
        assert!(e.starts_with("flag -raft-addr: invalid address"), "{e}");
    }

    #[test]
    fn unknown_flag_missing_value_and_positional() {
        let e = err_text(load(&["-fsync=always"]));
        assert!(e.starts_with("flag -fsync: unknown flag"), "{e}");
        let e = err_text(load(&["--nope"]));
        assert!(e.starts_with("flag -nope: unknown flag"), "{e}");
        assert_eq!(
            err_text(load(&["-listen=:1", "-data-dir"])),
            "flag -data-dir: missing value (expected a directory path)"
        );
        assert_eq!(
            err_text(load(&["-aof-fsync"])),
            "flag -aof-fsync: missing value (expected always, every or no)"
        );
        assert_eq!(
            load(&["stray"]).unwrap_err(),
            ConfigError::UnexpectedArgument("stray".to_string())
        );
        assert_eq!(
            load(&["-raft", "--", "x"]).unwrap_err(),
            ConfigError::UnexpectedArgument("x".to_string())
        );
        assert!(load(&["-raft", "--"]).unwrap().raft.enabled);
        assert!(matches!(
            load(&["-"]).unwrap_err(),
            ConfigError::UnexpectedArgument(_)
        ));
    }

    #[test]
    fn help_and_version() {
        for h in ["-h", "-help", "--help", "--h"] {
            assert_eq!(
                load(&["-listen=:1", h]).unwrap_err(),
                ConfigError::Help(USAGE.to_string())
            );
        }
        for v in ["-version", "--version"] {
            match load(&[v]).unwrap_err() {
                ConfigError::Version(s) => {
                    assert!(s.starts_with("helios-atlasd "), "{s}");
                    assert!(s.contains(env!("CARGO_PKG_VERSION")));
                }
                e => panic!("unexpected {e:?}"),
            }
        }
    }

    #[test]
    fn usage_lists_every_flag_env_var_and_default() {
        for key in KEYS {
            assert!(
                USAGE.contains(&format!("  -{} ", key.flag())),
                "USAGE lacks -{}",
                key.flag()
            );
            assert!(USAGE.contains(&key.env()), "USAGE lacks {}", key.env());
        }
        let flag_lines = USAGE.lines().filter(|l| l.starts_with("  -")).count();
        let default_lines = USAGE.matches("Default:").count();
        assert_eq!(default_lines, KEYS.len());
        assert_eq!(flag_lines, KEYS.len() + 2);
        assert!(USAGE.contains("-help"));
        assert!(USAGE.contains("--version"));
    }

    #[test]
    fn env_vars_and_empty_means_unset() {
        let c = load_with(
            &[],
            &[
                ("HELIOS_DATA_DIR", "/srv/helios"),
                ("HELIOS_LISTEN", "127.0.0.1:6390"),
                ("HELIOS_RAFT", "true"),
                ("HELIOS_RAFT_NODE_ID", "node-7"),
                ("HELIOS_AOF_FSYNC", "no"),
                ("HELIOS_REQUIREPASS", ""),
                ("HELIOS_MAXCLIENTS", ""),
                ("HELIOS_PROTO_MAX_BULK_LEN", "64kb"),
            ],
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/helios"));
        assert_eq!(c.raft.data_dir, PathBuf::from("/srv/helios/raft"));
        assert_eq!(c.listen, addr("127.0.0.1:6390"));
        assert!(c.raft.enabled);
        assert_eq!(c.raft.node_id, "node-7");
        assert_eq!(c.aof_fsync, FsyncPolicy::No);
        assert_eq!(c.requirepass, None);
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.proto_max_bulk_len, 64 * 1024);

        assert_eq!(
            err_text(load_with(&[], &[("HELIOS_AOF_FSYNC", "sometimes")])),
            "env HELIOS_AOF_FSYNC: invalid value \"sometimes\" (expected always, every or no)"
        );
        let e = err_text(load_with(&[], &[("HELIOS_LISTEN", ":70000")]));
        assert!(
            e.starts_with("env HELIOS_LISTEN: invalid address \":70000\""),
            "{e}"
        );
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn precedence_flag_over_env_over_file_per_key() {
        let file = TempYaml::new(
            "atlas:\n  data_dir: ./from-file\n  listen: \":7777\"\n  maxclients: 50\n  aof_fsync: no\n  raft:\n    node_id: file-node\n    heartbeat_timeout: 200ms\n    election_timeout: 2s\nobservability:\n  log_level: warn\n",
        );
        // File only.
        let c = load(&["-config", &file.arg()]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./from-file"));
        assert_eq!(c.listen, addr("0.0.0.0:7777"));
        assert_eq!(c.maxclients, 50);
        assert_eq!(c.aof_fsync, FsyncPolicy::No);
        assert_eq!(c.raft.node_id, "file-node");
        assert_eq!(c.log_level, "warn");

        // Env overrides some keys; the others keep the file's values.
        let env = [
            ("HELIOS_MAXCLIENTS", "60"),
            ("HELIOS_RAFT_NODE_ID", "env-node"),
            ("HELIOS_DATA_DIR", "./from-env"),
        ];
        let c = load_with(&["-config", &file.arg()], &env).unwrap();
        assert_eq!(c.maxclients, 60);
        assert_eq!(c.raft.node_id, "env-node");
        assert_eq!(c.data_dir, PathBuf::from("./from-env"));
        assert_eq!(c.listen, addr("0.0.0.0:7777"));
        assert_eq!(c.aof_fsync, FsyncPolicy::No);

        // Flags override env; untouched keys keep env or file values.
        let c = load_with(
            &[
                "-config",
                &file.arg(),
                "-maxclients",
                "70",
                "-raft-election-timeout=3s",
            ],
            &env,
        )
        .unwrap();
        assert_eq!(c.maxclients, 70);
        assert_eq!(c.raft.node_id, "env-node");
        assert_eq!(c.data_dir, PathBuf::from("./from-env"));
        assert_eq!(c.raft.data_dir, PathBuf::from("./from-env/raft"));
        assert_eq!(c.listen, addr("0.0.0.0:7777"));
        assert_eq!(c.log_level, "warn");
        assert_eq!(c.raft.heartbeat_timeout, Duration::from_millis(200));
        assert_eq!(c.raft.election_timeout, Duration::from_secs(3));
        assert_eq!(c.config_file, Some(file.0.clone()));
    }

    #[test]
    fn config_file_from_env_and_flag_wins() {
        let from_env = TempYaml::new("atlas:\n  maxclients: 11\n");
        let from_flag = TempYaml::new("atlas:\n  maxclients: 22\n");
        let c = load_with(&[], &[("HELIOS_CONFIG", &from_env.arg())]).unwrap();
        assert_eq!(c.maxclients, 11);
        assert_eq!(c.config_file, Some(from_env.0.clone()));
        let c = load_with(
            &["--config", &from_flag.arg()],
            &[("HELIOS_CONFIG", &from_env.arg())],
        )
        .unwrap();
        assert_eq!(c.maxclients, 22);
        assert_eq!(c.config_file, Some(from_flag.0.clone()));
    }

    #[test]
    fn flags_override_seed_file_and_peers_replace_whole_list() {
        let file = TempYaml::new(SEED_NODE1);
        let c = load(&[
            "-config",
            &file.arg(),
            "-data-dir=./elsewhere",
            "-raft-peers=node-9:127.0.0.1:7009",
            "-metrics-listen=",
            "-gateway-listen=127.0.0.1:1",
        ])
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./elsewhere"));
        // raft.data_dir was set explicitly in the file, so it stays.
        assert_eq!(c.raft.data_dir, PathBuf::from("./data/node1/raft"));
        assert_eq!(c.raft.peers, vec![peer("node-9", "127.0.0.1:7009")]);
        assert_eq!(c.metrics_listen, None);
        assert_eq!(c.gateway_listen, Some(addr("127.0.0.1:1")));
        assert_eq!(c.aof_fsync, FsyncPolicy::Every);
        assert_eq!(c.raft.node_id, "node-1");
    }

    #[test]
    fn yaml_optional_keys_and_metrics() {
        let (c, _f) = load_file(
            "atlas:\n  listen: \"127.0.0.1:6400\"\n  requirepass: s3cret\n  raft:\n    follower_writes: redirect\n    read_consistency: stale\n    peers:\n      - id: node-2\n        address: 127.0.0.1:7001\n        client_address: 127.0.0.1:6380\ngateway:\n  auth_token: g4te\nobservability:\n  log_format: json\n  metrics_enabled: true\n",
        );
        let c = c.unwrap();
        assert_eq!(c.gateway_auth_token.as_deref(), Some("g4te"));
        assert_eq!(c.listen, addr("127.0.0.1:6400"));
        assert_eq!(c.requirepass.as_deref(), Some("s3cret"));
        assert_eq!(c.raft.follower_writes, FollowerWrites::Redirect);
        assert_eq!(c.raft.read_consistency, ReadConsistency::Stale);
        assert_eq!(
            c.raft.peers[0].client_address.as_deref(),
            Some("127.0.0.1:6380")
        );
        assert_eq!(c.log_format, LogFormat::Json);
        // metrics_enabled without a port means :9090.
        assert_eq!(c.metrics_listen, Some(addr("0.0.0.0:9090")));

        let (c, _f) =
            load_file("observability:\n  metrics_enabled: false\n  metrics_port: \":9999\"\n");
        assert_eq!(c.unwrap().metrics_listen, None);
        let (c, _f) = load_file("observability:\n  metrics_enabled: true\n  metrics_port: 9191\n");
        assert_eq!(c.unwrap().metrics_listen, Some(addr("0.0.0.0:9191")));
        // The flag beats the file.
        let file = TempYaml::new("observability:\n  metrics_enabled: true\n");
        let c = load(&["-config", &file.arg(), "-metrics-listen", "127.0.0.1:9300"]).unwrap();
        assert_eq!(c.metrics_listen, Some(addr("127.0.0.1:9300")));
        // Empty and comment-only files are fine.
        let (c, _f) = load_file("");
        let c = c.unwrap();
        assert_eq!(c.listen, Config::default().listen);
        let (c, _f) = load_file("# nothing\natlas:\n");
        assert!(c.is_ok());
    }

    #[test]
    fn yaml_unknown_key_is_refused_with_line() {
        let (r, file) = load_file("atlas:\n  data_dir: ./d\n  fsync: always\n");
        let e = r.unwrap_err();
        match &e {
            ConfigError::File { path, line, .. } => {
                assert_eq!(path, &file.0);
                assert_eq!(*line, Some(3));
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "config {} line 3: unknown key atlas.fsync (expected one of data_dir, listen,",
                file.arg()
            )),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('`'), "{text}");

        let (r, _f) = load_file(
            "atlas:\n  raft:\n    peers:\n      - id: node-2\n        adress: 127.0.0.1:7001\n",
        );
        let text = err_text(r);
        assert!(
            text.contains("line 5: unknown key atlas.raft.peers[0].adress (expected id, address or client_address)")
                || text.contains("line 5: unknown key atlas.raft.peers[0].adress (expected one of id, address, client_address)"),
            "{text}"
        );

        let (r, _f) = load_file("atlas: {}\nmetrics: {}\n");
        let text = err_text(r);
        assert!(
            text.contains("unknown key metrics (expected one of atlas, gateway, observability)"),
            "{text}"
        );

        let (r, _f) = load_file("atlas:\n  raft:\n    peers:\n      - id: node-2\n");
        let text = err_text(r);
        assert!(
            text.contains("missing key atlas.raft.peers[0].address"),
            "{text}"
        );

        let (r, _f) = load_file("atlas:\n  data_dir: [a, b]\n");
        let text = err_text(r);
        assert!(
            text.contains("line 2: atlas.data_dir: invalid value: sequence"),
            "{text}"
        );
    }

    #[test]
    fn yaml_bad_values_name_file_and_key() {
        let (r, file) = load_file("atlas:\n  raft:\n    heartbeat_timeout: 100\n");
        assert_eq!(
            err_text(r),
            format!(
                "config {}: atlas.raft.heartbeat_timeout: invalid duration \"100\" (expected a duration like 100ms or 5s)",
                file.arg()
            )
        );
        let (r, file) = load_file("atlas:\n  aof_fsync: sometimes\n");
        assert_eq!(
            err_text(r),
            format!(
                "config {}: atlas.aof_fsync: invalid value \"sometimes\" (expected always, every or no)",
                file.arg()
            )
        );
        let (r, _f) = load_file("atlas:\n  snapshot_interval_time: soon\n");
        assert!(err_text(r).contains("atlas.snapshot_interval_time: invalid duration \"soon\""));
        let (r, _f) = load_file("gateway:\n  listen: \":99999\"\n");
        let text = err_text(r);
        assert!(
            text.contains("gateway.listen: invalid address \":99999\""),
            "{text}"
        );
        assert!(text.contains("out of range"), "{text}");
        let (r, _f) = load_file(
            "atlas:\n  raft:\n    peers:\n      - id: node-2\n        address: 127.0.0.1:0\n",
        );
        assert!(err_text(r).contains("atlas.raft.peers[0].address: invalid address"));
        let (r, _f) = load_file("atlas:\n  raft:\n    enabled: maybe\n");
        assert!(err_text(r).contains("atlas.raft.enabled: invalid value \"maybe\""));
        let (r, _f) = load_file("observability:\n  metrics_port: \"x\"\n");
        assert!(err_text(r).contains("observability.metrics_port: invalid address"));
    }

    #[test]
    fn missing_config_file_names_it() {
        let path = std::env::temp_dir().join(format!(
            "helios-config-test-{}-missing.yaml",
            std::process::id()
        ));
        let e = load(&["-config", &path.display().to_string()]).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("config {}: cannot read file: ", path.display())),
            "{text}"
        );
    }

    #[test]
    fn port_out_of_range_everywhere() {
        let e = err_text(load(&["-listen=:65536"]));
        assert!(
            e.starts_with("flag -listen: invalid address \":65536\": port 65536 out of range"),
            "{e}"
        );
        let e = err_text(load(&["-raft-addr=127.0.0.1:70000"]));
        assert!(e.starts_with("flag -raft-addr: "), "{e}");
        assert!(e.contains("out of range"), "{e}");
        let e = err_text(load(&["-gateway-listen", ":123456"]));
        assert!(e.starts_with("flag -gateway-listen: "), "{e}");
        let (r, _f) = load_file("atlas:\n  listen: \":65536\"\n");
        assert!(err_text(r).contains("atlas.listen: invalid address"));
    }

    #[test]
    fn duplicate_peer_ids() {
        let e = err_text(load(&[
            "-raft-peers=node-2:127.0.0.1:7001,node-2:127.0.0.1:7002",
        ]));
        assert_eq!(e, "flag -raft-peers: duplicate peer id \"node-2\"");
        let (r, file) = load_file(
            "atlas:\n  raft:\n    peers:\n      - id: node-2\n        address: 127.0.0.1:7001\n      - id: node-2\n        address: 127.0.0.1:7002\n",
        );
        assert_eq!(
            err_text(r),
            format!(
                "config {}: atlas.raft.peers: duplicate peer id \"node-2\"",
                file.arg()
            )
        );
    }

    #[test]
    fn peer_list_containing_this_node() {
        let e = err_text(load(&[
            "-raft",
            "-raft-peers=node-1:127.0.0.1:7005,node-2:127.0.0.1:7001",
        ]));
        assert_eq!(
            e,
            "flag -raft-peers: peer list contains this node itself (node-1)"
        );
        // Peers from the file, node id from a flag: the file's key is named.
        let file = TempYaml::new(SEED_NODE1);
        let e = err_text(load(&["-config", &file.arg(), "-raft-node-id=node-2"]));
        assert_eq!(
            e,
            format!(
                "config {}: atlas.raft.peers: peer list contains this node itself (node-2)",
                file.arg()
            )
        );
        let e = err_text(load_with(
            &["-raft-node-id", "node-3"],
            &[(
                "HELIOS_RAFT_PEERS",
                "node-2:127.0.0.1:7001,node-3:127.0.0.1:7002",
            )],
        ));
        assert_eq!(
            e,
            "env HELIOS_RAFT_PEERS: peer list contains this node itself (node-3)"
        );
    }

    #[test]
    fn peer_with_this_nodes_address() {
        let e = err_text(load(&[
            "-raft-addr=127.0.0.1:7001",
            "-raft-peers=node-2:127.0.0.1:7001",
        ]));
        assert!(
            e.starts_with(
                "flag -raft-peers: peer node-2 has this node's own raft address 127.0.0.1:7001"
            ),
            "{e}"
        );
        // Default bind address 127.0.0.1:7000.
        let e = err_text(load(&["-raft-peers=node-2:127.0.0.1:7000"]));
        assert!(e.contains("own raft address"), "{e}");
    }

    #[test]
    fn empty_node_id_when_raft_enabled() {
        let e = err_text(load(&["-raft", "-raft-node-id="]));
        assert!(e.starts_with("flag -raft-node-id: empty node id"), "{e}");
        let (r, file) = load_file("atlas:\n  raft:\n    enabled: true\n    node_id: \"\"\n");
        let e = err_text(r);
        assert!(
            e.starts_with(&format!(
                "config {}: atlas.raft.node_id: empty node id",
                file.arg()
            )),
            "{e}"
        );
        // Standalone does not need a node id.
        assert!(load(&["-raft-node-id="]).is_ok());
    }

    #[test]
    fn election_timeout_must_exceed_heartbeat() {
        let e = err_text(load(&[
            "-raft-heartbeat-timeout=200ms",
            "-raft-election-timeout=200ms",
        ]));
        assert_eq!(
            e,
            "flag -raft-election-timeout: election timeout 200ms must be more than twice the heartbeat timeout 200ms"
        );
        // Only the heartbeat was changed: it is the one named.
        let e = err_text(load_with(&[], &[("HELIOS_RAFT_HEARTBEAT_TIMEOUT", "1s")]));
        assert_eq!(
            e,
            "env HELIOS_RAFT_HEARTBEAT_TIMEOUT: election timeout 500ms must be more than twice the heartbeat timeout 1s"
        );
        let (r, file) =
            load_file("atlas:\n  raft:\n    heartbeat_timeout: 1s\n    election_timeout: 500ms\n");
        assert!(err_text(r).starts_with(&format!(
            "config {}: atlas.raft.election_timeout: election timeout",
            file.arg()
        )));
    }

    #[test]
    fn zero_heartbeat_is_refused() {
        let e = err_text(load(&["-raft-heartbeat-timeout=0"]));
        assert!(
            e.starts_with("flag -raft-heartbeat-timeout: invalid duration \"0\""),
            "{e}"
        );
        assert!(e.contains("greater than zero"), "{e}");
        let (r, _f) = load_file("atlas:\n  raft:\n    heartbeat_timeout: 0s\n");
        assert!(err_text(r).contains("atlas.raft.heartbeat_timeout: invalid duration \"0s\""));
    }

    #[test]
    fn maxclients_zero_is_refused() {
        assert_eq!(
            err_text(load(&["-maxclients=0"])),
            "flag -maxclients: invalid value \"0\" (expected a positive integer)"
        );
        let (r, file) = load_file("atlas:\n  maxclients: 0\n");
        assert_eq!(
            err_text(r),
            format!(
                "config {}: atlas.maxclients: invalid value \"0\" (expected a positive integer)",
                file.arg()
            )
        );
    }

    #[test]
    fn io_threads_from_flag_file_and_default() {
        assert_eq!(load(&["-io-threads=3"]).unwrap().io_threads, 3);
        assert_eq!(load(&[]).unwrap().io_threads, default_io_threads());
        assert!(default_io_threads() >= 1);
        let (r, _f) = load_file("atlas:\n  io_threads: 2\n");
        assert_eq!(r.unwrap().io_threads, 2);
        assert_eq!(
            err_text(load(&["-io-threads=0"])),
            "flag -io-threads: invalid value \"0\" (expected a positive integer)"
        );
    }

    #[test]
    fn log_level_is_validated() {
        assert_eq!(
            err_text(load(&["-log-level=verbose"])),
            "flag -log-level: invalid value \"verbose\" (expected error, warn, info, debug or trace)"
        );
        let e = err_text(load_with(&[], &[("HELIOS_LOG_LEVEL", "loud")]));
        assert!(
            e.starts_with("env HELIOS_LOG_LEVEL: invalid value \"loud\""),
            "{e}"
        );
        let (r, _f) = load_file("observability:\n  log_level: chatty\n");
        assert!(err_text(r).contains("observability.log_level: invalid value \"chatty\""));
        for level in LOG_LEVELS {
            assert_eq!(load(&["-log-level", level]).unwrap().log_level, level);
        }
    }

    #[test]
    fn env_names_follow_flag_names() {
        assert_eq!(Key::RaftPeers.env(), "HELIOS_RAFT_PEERS");
        assert_eq!(Key::DataDir.env(), "HELIOS_DATA_DIR");
        assert_eq!(Key::Config.env(), "HELIOS_CONFIG");
        assert_eq!(Key::Raft.env(), "HELIOS_RAFT");
        assert_eq!(Key::RaftNodeId.env(), "HELIOS_RAFT_NODE_ID");
        for key in KEYS {
            assert_eq!(Key::from_flag(key.flag()), Some(key));
        }
    }
}
