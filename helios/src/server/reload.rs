//! SIGHUP: read the configuration again (flags, environment and the
//! config file, with the usual precedence) and apply what can change in a
//! running node; name everything else that changed, since it only takes
//! effect at the next start.
//!
//! Applied live: `log_level`, `requirepass`, `maxclients`,
//! `proto_max_bulk_len`, `snapshot_interval_cmds`, `snapshot_interval_time`,
//! `gateway.auth_token`, `raft.follower_writes`, `raft.read_consistency`,
//! and the Raft timing: `raft.heartbeat_timeout`, `raft.election_timeout`
//! and `raft.snapshot_threshold`. openraft fixes those when its core
//! starts, so a change replaces the core in place (a leader hands
//! leadership over first; see `RaftNode::apply_raft_timing`); that happens
//! in the background and is logged when done.
//!
//! Everything else (addresses, directories, the gateway's TLS files,
//! `aof_fsync`, `io_threads`, `log_format`, the node id and the peer list)
//! is reported in a warning: it takes effect at the next start. A file
//! that no longer loads changes nothing: the error is logged and the node
//! keeps running as it was.

use std::sync::Arc;

use crate::config::{Config, RaftConfig};

use super::Server;

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// `key: old -> new` for each setting applied.
    pub applied: Vec<String>,
    /// `key` for each changed setting that waits for a restart.
    pub needs_restart: Vec<String>,
    /// New Raft timing for the running Raft node, with `key: old -> new`
    /// for each part that changed; applied by [`reload`] in the background.
    pub raft_timing: Option<(RaftConfig, Vec<String>)>,
}

/// Applies `new` to the running server's configuration.
pub fn apply(server: &Server, new: &Config) -> Result<Reloaded, String> {
    let mut out = Reloaded::default();
    let mut c = server.config.write();
    if c.log_level != new.log_level {
        crate::logging::set_level(&new.log_level)?;
    }
    macro_rules! live {
        ($($field:ident).+, $name:expr) => {
            if c.$($field).+ != new.$($field).+ {
                out.applied.push(format!(
                    "{}: {:?} -> {:?}",
                    $name,
                    c.$($field).+,
                    new.$($field).+
                ));
                c.$($field).+ = new.$($field).+.clone();
            }
        };
    }
    macro_rules! secret {
        ($field:ident, $name:expr) => {
            if c.$field != new.$field {
                out.applied.push(format!("{}: changed", $name));
                c.$field = new.$field.clone();
            }
        };
    }
    live!(log_level, "log_level");
    secret!(requirepass, "requirepass");
    live!(maxclients, "maxclients");
    live!(proto_max_bulk_len, "proto_max_bulk_len");
    live!(snapshot_interval_cmds, "snapshot_interval_cmds");
    live!(snapshot_interval_time, "snapshot_interval_time");
    secret!(gateway_auth_token, "gateway.auth_token");
    macro_rules! restart {
        ($($field:ident).+, $name:expr) => {
            if c.$($field).+ != new.$($field).+ {
                out.needs_restart.push($name.to_string());
            }
        };
    }
    restart!(listen, "listen");
    restart!(data_dir, "data_dir");
    restart!(aof_fsync, "aof_fsync");
    restart!(io_threads, "io_threads");
    restart!(log_format, "log_format");
    restart!(gateway_listen, "gateway.listen");
    restart!(gateway_tls, "gateway.tls");
    restart!(metrics_listen, "metrics");
    restart!(raft.enabled, "raft.enabled");
    restart!(raft.node_id, "raft.node_id");
    restart!(raft.bind_addr, "raft.bind_addr");
    restart!(raft.data_dir, "raft.data_dir");
    restart!(raft.peers, "raft.peers");
    if c.raft.follower_writes != new.raft.follower_writes
        || c.raft.read_consistency != new.raft.read_consistency
    {
        live!(raft.follower_writes, "raft.follower_writes");
        live!(raft.read_consistency, "raft.read_consistency");
        if let Some(node) = server.raft.get() {
            node.set_client_policy(c.raft.follower_writes, c.raft.read_consistency);
        }
    }
    let mut timing = Vec::new();
    macro_rules! timing {
        ($field:ident, $name:expr) => {
            if c.raft.$field != new.raft.$field {
                timing.push(format!(
                    "{}: {:?} -> {:?}",
                    $name, c.raft.$field, new.raft.$field
                ));
            }
        };
    }
    timing!(heartbeat_timeout, "raft.heartbeat_timeout");
    timing!(election_timeout, "raft.election_timeout");
    timing!(snapshot_threshold, "raft.snapshot_threshold");
    if !timing.is_empty() {
        if server.raft.get().is_some() {
            // Recorded in the running configuration once the new core runs.
            out.raft_timing = Some((new.raft.clone(), timing));
        } else {
            // Standalone: nothing runs on these; the next raft start reads them.
            c.raft.heartbeat_timeout = new.raft.heartbeat_timeout;
            c.raft.election_timeout = new.raft.election_timeout;
            c.raft.snapshot_threshold = new.raft.snapshot_threshold;
            out.applied.extend(timing);
        }
    }
    Ok(out)
}

/// Replaces the Raft core with `rc`'s timing and records it; logs the outcome.
async fn apply_raft_timing(server: Arc<Server>, rc: RaftConfig, changes: Vec<String>) {
    let Some(node) = server.raft.get().cloned() else {
        return;
    };
    let changes = changes.join(", ");
    tracing::info!("config reload: restarting the raft core for {changes}");
    match node.apply_raft_timing(&rc).await {
        Ok(()) => {
            let mut c = server.config.write();
            c.raft.heartbeat_timeout = rc.heartbeat_timeout;
            c.raft.election_timeout = rc.election_timeout;
            c.raft.snapshot_threshold = rc.snapshot_threshold;
            tracing::info!("config reload: applied {changes} (raft core restarted)");
        }
        Err(e) => tracing::error!("config reload: could not apply {changes}: {e}"),
    }
}

/// SIGHUP: reload from the process's flags, environment and file, and log
/// the outcome.
pub fn reload(server: &Arc<Server>) {
    let source = server
        .config
        .read()
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "flags and environment".into());
    let new = match Config::from_process() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                "config reload from {source} failed, keeping the running configuration: {e}"
            );
            return;
        }
    };
    match apply(server, &new) {
        Err(e) => tracing::error!("config reload from {source} failed: {e}"),
        Ok(r) => {
            if r.applied.is_empty() && r.raft_timing.is_none() {
                tracing::info!("config reloaded from {source}: nothing to change");
            } else if r.applied.is_empty() {
                tracing::info!("config reloaded from {source}");
            } else {
                tracing::info!(
                    "config reloaded from {source}: applied {}",
                    r.applied.join(", ")
                );
            }
            if let Some((rc, changes)) = r.raft_timing {
                tokio::spawn(apply_raft_timing(server.clone(), rc, changes));
            }
            if !r.needs_restart.is_empty() {
                tracing::warn!(
                    "config reload: {} changed but only take effect at the next start",
                    r.needs_restart.join(", ")
                );
            }
        }
    }
}
