//! Prometheus metrics (DESIGN 3.6), served as `GET /metrics` in the
//! OpenMetrics text format on `-metrics-listen` /
//! `observability.metrics_port` (see [`crate::http`]).
//!
//! Two kinds of metric live here:
//! - **events** that happen on hot paths and must be counted as they
//!   happen: WAL fsync and command durations (histograms), leader changes
//!   and failed proposals (counters). They are process-wide statics
//!   ([`events`]): the WAL's fsync thread has no handle on the server, and
//!   one process runs one server.
//! - **state** read when scraped: term, indexes, leader, per-peer lag,
//!   clients, keys per database, calls per command. These are built fresh
//!   for every scrape from the same sources as `INFO`, so the two never
//!   disagree and nothing is kept in step on the write path.
//!
//! Names use base units and `_total` only on counters (the encoder adds
//! it): `helios_raft_term`, `helios_raft_is_leader`, `helios_raft_has_leader`,
//! `helios_raft_leader_changes_total`, `helios_raft_commit_index`,
//! `helios_raft_applied_index`, `helios_raft_peer_lag_entries{peer}`,
//! `helios_raft_proposals_failed_total`, `helios_wal_fsync_duration_seconds`,
//! `helios_commands_total{cmd}`, `helios_command_duration_seconds`,
//! `helios_connected_clients`, `helios_keys{db}`, `helios_build_info`.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::server::Server;

/// Counters and histograms fed as things happen.
#[derive(Debug)]
pub struct Events {
    pub wal_fsync: Histogram,
    pub command_duration: Histogram,
    pub leader_changes: Counter,
    pub proposals_failed: Counter,
}

/// The process's event metrics.
pub fn events() -> &'static Events {
    static EVENTS: LazyLock<Events> = LazyLock::new(|| Events {
        // 50 µs .. ~0.8 s: a page-cache fsync to a slow disk under load.
        wal_fsync: Histogram::new(exponential_buckets(0.000_05, 2.0, 15)),
        // 1 µs .. ~1 s.
        command_duration: Histogram::new(exponential_buckets(0.000_001, 4.0, 11)),
        leader_changes: Counter::default(),
        proposals_failed: Counter::default(),
    });
    &EVENTS
}

pub fn observe_wal_fsync(d: Duration) {
    events().wal_fsync.observe(d.as_secs_f64());
}

pub fn observe_command(d: Duration) {
    events().command_duration.observe(d.as_secs_f64());
}

type Labels = Vec<(String, String)>;

/// The whole exposition for one scrape.
pub fn render(server: &Server) -> String {
    let mut reg = Registry::with_prefix("helios");
    let ev = events();
    reg.register(
        "build",
        "Build information",
        Info::new(vec![
            ("version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            (
                "mode".to_string(),
                if server.raft.get().is_some() {
                    "raft"
                } else {
                    "standalone"
                }
                .to_string(),
            ),
        ]),
    );
    reg.register(
        "connected_clients",
        "Client connections open now",
        ConstGauge::new(server.clients.lock().len() as i64),
    );
    {
        let store = server.store.lock();
        let keys = Family::<Labels, Gauge>::default();
        for (i, db) in store.ks.dbs.iter().enumerate() {
            if !db.is_empty() {
                keys.get_or_create(&vec![("db".to_string(), i.to_string())])
                    .set(db.len() as i64);
            }
        }
        reg.register("keys", "Keys per database", keys);
        let commands = Family::<Labels, Counter>::default();
        for (name, st) in store.cmdstats.iter() {
            commands
                .get_or_create(&vec![("cmd".to_string(), name.to_string())])
                .inc_by(st.calls);
        }
        reg.register("commands", "Commands executed, by command", commands);
    }
    reg.register(
        "command_duration_seconds",
        "Time spent executing a command (not waiting for replication)",
        ev.command_duration.clone(),
    );
    if let Some(node) = server.raft.get() {
        let st = node.status();
        let raft = reg.sub_registry_with_prefix("raft");
        raft.register("term", "Current Raft term", ConstGauge::new(st.term as i64));
        raft.register(
            "is_leader",
            "1 when this node is the leader",
            ConstGauge::new(i64::from(st.state == "Leader")),
        );
        raft.register(
            "has_leader",
            "1 when this node knows a leader",
            ConstGauge::new(i64::from(st.leader.is_some())),
        );
        raft.register(
            "commit_index",
            "Highest log index known committed",
            ConstGauge::new(st.commit_index as i64),
        );
        raft.register(
            "applied_index",
            "Highest log index applied to the keyspace",
            ConstGauge::new(st.applied_index as i64),
        );
        let lag = Family::<Labels, Gauge>::default();
        for p in &st.peers {
            lag.get_or_create(&vec![("peer".to_string(), p.id.clone())])
                .set(p.lag as i64);
        }
        raft.register(
            "peer_lag_entries",
            "Leader only: entries each peer is behind the leader's last log index",
            lag,
        );
        raft.register(
            "leader_changes",
            "Times this node saw the leader change",
            ev.leader_changes.clone(),
        );
        raft.register(
            "proposals_failed",
            "Writes this node could not get committed (no leader, lost quorum, timeout)",
            ev.proposals_failed.clone(),
        );
        raft.register(
            "snapshots_installed",
            "Snapshots received from a leader since start-up",
            ConstCounter::new(st.snapshots_installed),
        );
    }
    reg.register(
        "wal_fsync_duration_seconds",
        "Time one fsync of the active log (Raft WAL or AOF) took",
        ev.wal_fsync.clone(),
    );
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
    out
}
