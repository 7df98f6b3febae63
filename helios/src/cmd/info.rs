//! `INFO`: the server's state in Redis's `# Section` / `field:value` format.
//!
//! Field names are Redis's wherever a field means the same thing, so tools
//! written for Redis (client test suites, `redis-cli --stat`, exporters)
//! read them unchanged. Helios-specific fields are prefixed `helios_` or live
//! in the `Raft` section.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::Ctx;

/// Sections in `INFO` / `INFO default` order.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "raft",
];

/// Which sections `INFO <args>` selects.
pub fn selected(args: &[bytes::Bytes]) -> Vec<String> {
    if args.len() <= 1 {
        return DEFAULT.iter().map(|s| s.to_string()).collect();
    }
    let mut out: Vec<String> = Vec::new();
    for a in &args[1..] {
        let s = String::from_utf8_lossy(a).to_ascii_lowercase();
        let add: Vec<String> = match s.as_str() {
            "default" => DEFAULT.iter().map(|s| s.to_string()).collect(),
            "all" | "everything" => DEFAULT
                .iter()
                .map(|s| s.to_string())
                .chain(["commandstats".to_string()])
                .collect(),
            other => vec![other.to_string()],
        };
        for x in add {
            if !out.contains(&x) {
                out.push(x);
            }
        }
    }
    out
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", n / 1024.0 / 1024.0 / 1024.0)
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// (user, system) CPU seconds of this process.
fn cpu_times() -> (f64, f64) {
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = 100.0;
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    (get(11), get(12))
}

/// Renders the selected sections.
pub fn render(ctx: &mut Ctx, sections: &[String]) -> String {
    let mut s = String::new();
    let server = ctx.server;
    let now = super::unix_ms();
    for sec in sections {
        let before = s.len();
        match sec.as_str() {
            "server" => {
                let c = server.config.read();
                let up = server.started.elapsed().as_secs();
                let _ = write!(
                    s,
                    "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nhelios_io_threads:{}\r\nhelios_version:{}\r\nhelios_mode:{}\r\n",
                    crate::REDIS_VERSION,
                    std::env::consts::OS,
                    std::env::consts::ARCH,
                    std::process::id(),
                    server.run_id,
                    server.port.load(Ordering::Relaxed),
                    now * 1000,
                    up,
                    up / 86400,
                    (now / 1000) & 0xFF_FFFF,
                    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                    c.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                    c.io_threads,
                    env!("CARGO_PKG_VERSION"),
                    if server.raft.get().is_some() { "raft" } else { "standalone" },
                );
            }
            "clients" => {
                let _ = write!(
                    s,
                    "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                    server.clients.lock().len(),
                    server.config.read().maxclients,
                    server.blocked.len()
                );
            }
            "memory" => {
                let used = ctx.store.ks.used_memory() as u64;
                let maxmemory = server.maxmemory.load(Ordering::Relaxed);
                let peak = server.stats.peak_memory.load(Ordering::Relaxed).max(used);
                let rss = rss_bytes();
                let _ = write!(
                    s,
                    "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{used}\r\nmaxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:noeviction\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:libc\r\nlazyfree_pending_objects:0\r\n",
                    human_bytes(used),
                    human_bytes(rss),
                    human_bytes(peak),
                    human_bytes(maxmemory),
                    if used > 0 { rss as f64 / used as f64 } else { 1.0 },
                );
            }
            "persistence" => {
                let snap = server.snapshots.lock();
                let (aof_size, aof_gen) = server.aof.as_ref().map_or((0, 0), |a| a.current());
                let (policy, fsyncs) = server.aof.as_ref().map_or_else(
                    || (server.config.read().aof_fsync, 0),
                    |a| (a.policy(), a.fsyncs.load(Ordering::Relaxed)),
                );
                let cur = snap.started.map_or(-1, |t| t.elapsed().as_secs() as i64);
                let _ = write!(
                    s,
                    "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\naof_enabled:1\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\naof_current_size:{aof_size}\r\naof_fsync_policy:{}\r\naof_fsyncs:{}\r\nhelios_aof_generation:{aof_gen}\r\nhelios_snapshot_keys:{}\r\n",
                    ctx.store.dirty,
                    snap.in_progress as u8,
                    snap.last_save_unix,
                    if snap.last_ok { "ok" } else { "err" },
                    snap.last_duration.as_secs(),
                    cur,
                    snap.count,
                    snap.in_progress as u8,
                    snap.last_duration.as_secs(),
                    cur,
                    if snap.last_ok { "ok" } else { "err" },
                    snap.count,
                    policy,
                    fsyncs,
                    snap.last_keys,
                );
            }
            "stats" => {
                let st = &server.stats;
                let (expired, hits, misses) = ctx.store.ks.counters();
                let _ = write!(
                    s,
                    "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{expired}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nevicted_keys:0\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\npubsub_channels:0\r\npubsub_patterns:0\r\npubsubshard_channels:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:0\r\ntracking_total_items:0\r\ntracking_total_prefixes:0\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:0\r\ntotal_writes_processed:0\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n",
                    st.connections_received.load(Ordering::Relaxed),
                    st.commands_processed.load(Ordering::Relaxed),
                    st.ops_per_sec.load(Ordering::Relaxed),
                    st.net_input_bytes.load(Ordering::Relaxed),
                    st.net_output_bytes.load(Ordering::Relaxed),
                    st.rejected_connections.load(Ordering::Relaxed),
                    ctx.store.errorstats.values().sum::<u64>(),
                );
            }
            "replication" if server.raft.get().is_some() => {
                let st = server.raft.get().map(|n| n.status()).expect("raft node");
                replication_section(&mut s, &st, &server.run_id);
            }
            "replication" => {
                let _ = write!(
                    s,
                    "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                    server.run_id
                );
            }
            "cpu" => {
                let (user, sys) = cpu_times();
                let _ = write!(
                    s,
                    "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
                );
            }
            "modules" => s.push_str("# Modules\r\n"),
            "errorstats" => {
                s.push_str("# Errorstats\r\n");
                for (code, n) in &ctx.store.errorstats {
                    let _ = write!(s, "errorstat_{code}:count={n}\r\n");
                }
            }
            "cluster" => s.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => {
                s.push_str("# Keyspace\r\n");
                for (i, db) in ctx.store.ks.dbs.iter().enumerate() {
                    if !db.is_empty() {
                        let _ = write!(
                            s,
                            "db{i}:keys={},expires={},avg_ttl=0\r\n",
                            db.len(),
                            db.expires_len()
                        );
                    }
                }
            }
            "raft" => match server.raft.get() {
                None => s.push_str("# Raft\r\nraft_enabled:false\r\n"),
                Some(node) => raft_section(&mut s, &node.status()),
            },
            "commandstats" => {
                s.push_str("# Commandstats\r\n");
                let mut names: Vec<_> = ctx.store.cmdstats.iter().collect();
                names.sort_by_key(|(n, _)| **n);
                for (name, st) in names {
                    let per_call = if st.calls > 0 {
                        st.usec as f64 / st.calls as f64
                    } else {
                        0.0
                    };
                    let _ = write!(
                        s,
                        "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                        st.calls, st.usec, st.rejected, st.failed
                    );
                }
            }
            _ => {}
        }
        if s.len() > before {
            s.push_str("\r\n");
        }
    }
    // No trailing blank line after the last section, as in Redis.
    while s.ends_with("\r\n\r\n") {
        s.truncate(s.len() - 2);
    }
    s
}

/// `# Raft` in raft mode (DESIGN 3.4).
fn raft_section(s: &mut String, st: &crate::raft::RaftStatus) {
    let _ = write!(
        s,
        "# Raft\r\nraft_enabled:true\r\nraft_node_id:{}\r\nraft_state:{}\r\nraft_leader:{}\r\nraft_leader_addr:{}\r\nraft_term:{}\r\nraft_commit_index:{}\r\nraft_applied_index:{}\r\nraft_last_log_index:{}\r\nraft_snapshot_index:{}\r\n",
        st.id,
        st.state,
        st.leader.as_deref().unwrap_or(""),
        st.leader_addr,
        st.term,
        st.commit_index,
        st.applied_index,
        st.last_log_index,
        st.snapshot_index,
    );
    if let Some(ms) = st.millis_since_quorum_ack {
        let _ = write!(s, "raft_millis_since_quorum_ack:{ms}\r\n");
    }
    if let Some(ms) = st.millis_since_leader_contact {
        let _ = write!(s, "raft_millis_since_leader_contact:{ms}\r\n");
    }
    let _ = write!(
        s,
        "raft_purged_index:{}\r\nraft_snapshots_installed:{}\r\nraft_isolated:{}\r\n",
        st.purged_index,
        st.snapshots_installed,
        u8::from(st.isolated)
    );
    let _ = write!(
        s,
        "raft_voters:{}\r\nraft_learners:{}\r\nraft_peers:{}\r\n",
        st.voters.join(","),
        st.learners.join(","),
        st.voters.len() + st.learners.len()
            - usize::from(st.voters.contains(&st.id) || st.learners.contains(&st.id))
    );
    for (i, p) in st.peers.iter().enumerate() {
        let _ = write!(
            s,
            "raft_peer{i}:id={},addr={},match_index={},lag={},state={}{}\r\n",
            p.id,
            p.addr,
            p.match_index,
            p.lag,
            if p.online { "online" } else { "offline" },
            if p.learner { ",learner=1" } else { "" }
        );
    }
}

/// `# Replication` in raft mode: the leader is the master, followers are
/// replicas; offsets are log indexes.
fn replication_section(s: &mut String, st: &crate::raft::RaftStatus, run_id: &str) {
    if st.state == "Leader" {
        let _ = write!(
            s,
            "# Replication\r\nrole:master\r\nconnected_slaves:{}\r\n",
            st.peers.iter().filter(|p| p.online).count()
        );
        for (i, p) in st.peers.iter().enumerate() {
            // Redis reports where clients reach a replica; fall back to the
            // Raft address when the client address is unknown.
            let addr = if p.client_addr.is_empty() {
                &p.addr
            } else {
                &p.client_addr
            };
            let (ip, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
            let _ = write!(
                s,
                "slave{i}:ip={ip},port={port},state={},offset={},lag={}\r\n",
                if p.online { "online" } else { "offline" },
                p.match_index,
                p.lag
            );
        }
        let _ = write!(
            s,
            "master_failover_state:no-failover\r\nmaster_replid:{run_id}\r\nmaster_repl_offset:{}\r\n",
            st.last_log_index
        );
    } else {
        let (host, port) = st
            .leader_client_addr
            .rsplit_once(':')
            .map(|(h, p)| (h.to_string(), p.to_string()))
            .unwrap_or_default();
        let _ = write!(
            s,
            "# Replication\r\nrole:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\nslave_priority:100\r\nslave_read_only:0\r\nreplica_announced:1\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{run_id}\r\nmaster_repl_offset:{}\r\n",
            if st.leader.is_some() { "up" } else { "down" },
            st.applied_index,
            st.applied_index,
            st.applied_index,
        );
    }
}
