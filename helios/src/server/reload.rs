//! SIGHUP: read the configuration again (flags, environment and the
//! config file, with the usual precedence) and apply what can change in a
//! running node; name everything else that changed, since it only takes
//! effect at the next start.
//!
//! Applied live: `log_level`, `requirepass`, `maxclients`,
//! `proto_max_bulk_len`, `snapshot_interval_cmds`, `snapshot_interval_time`
//! and `gateway.auth_token`. Everything else (addresses, directories,
//! the gateway's TLS files,
//! `aof_fsync`, `io_threads`, `log_format` and the whole Raft section —
//! openraft fixes its timing when the node starts) is reported in a warning.
//! A file that no longer loads changes nothing: the error is logged and the
//! node keeps running as it was.

use crate::config::Config;

use super::Server;

/// What a reload did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// `key: old -> new` for each setting applied.
    pub applied: Vec<String>,
    /// `key` for each changed setting that waits for a restart.
    pub needs_restart: Vec<String>,
}

/// Applies `new` to the running server's configuration.
pub fn apply(server: &Server, new: &Config) -> Result<Reloaded, String> {
    let mut out = Reloaded::default();
    let mut c = server.config.write();
    if c.log_level != new.log_level {
        crate::logging::set_level(&new.log_level)?;
    }
    macro_rules! live {
        ($field:ident, $name:expr) => {
            if c.$field != new.$field {
                out.applied
                    .push(format!("{}: {:?} -> {:?}", $name, c.$field, new.$field));
                c.$field = new.$field.clone();
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
    restart!(raft.heartbeat_timeout, "raft.heartbeat_timeout");
    restart!(raft.election_timeout, "raft.election_timeout");
    restart!(raft.snapshot_threshold, "raft.snapshot_threshold");
    restart!(raft.follower_writes, "raft.follower_writes");
    restart!(raft.read_consistency, "raft.read_consistency");
    Ok(out)
}

/// SIGHUP: reload from the process's flags, environment and file, and log
/// the outcome.
pub fn reload(server: &Server) {
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
            if r.applied.is_empty() {
                tracing::info!("config reloaded from {source}: nothing to change");
            } else {
                tracing::info!(
                    "config reloaded from {source}: applied {}",
                    r.applied.join(", ")
                );
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
