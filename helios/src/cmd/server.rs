//! Server commands: databases (`DBSIZE`, `FLUSHDB`, `FLUSHALL`, `SWAPDB`),
//! introspection (`INFO`, `COMMAND`, `TIME`), configuration (`CONFIG`),
//! persistence (`SAVE`, `BGSAVE`, `BGREWRITEAOF`, `LASTSAVE`), `SHUTDOWN`,
//! `DEBUG` and `WAIT`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use super::table::{flags as f, Command, COMMANDS as ALL};
use super::{
    arg_f64, arg_i32, arg_i64, docs, help_reply, info, is, lookup, Action, CmdError, CmdResult,
    Ctx, SYNTAX,
};
use crate::atlas::glob;
use crate::config::FsyncPolicy;
use crate::resp::Out;
use crate::server::Server;

fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let replicated = ctx.store.replicated;
    let db = ctx.db();
    // In raft mode reads only hide expired keys (deleting them is the
    // leader's replicated job), so they are not counted either: the answer
    // is what a Redis primary that just touched them would say.
    let n = if replicated && now > 0 {
        db.len() - db.count_expired(now)
    } else {
        db.len()
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// `ASYNC` drops the old data on a background thread.
fn flush_mode(args: &[Bytes]) -> Result<bool, CmdError> {
    match args.get(1) {
        None => Ok(false),
        Some(a) if args.len() == 2 && is(a, "async") => Ok(true),
        Some(a) if args.len() == 2 && is(a, "sync") => Ok(false),
        _ => Err(SYNTAX.into()),
    }
}

fn drop_in_background<T: Send + 'static>(old: T) {
    let _ = std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || drop(old));
}

fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(args)?;
    let old = ctx.db().clear();
    if lazy {
        drop_in_background(old);
    }
    ctx.propagate(&[b"FLUSHDB"]);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(args)?;
    let old: Vec<_> = ctx.store.ks.dbs.iter_mut().map(|d| d.clear()).collect();
    if lazy {
        drop_in_background(old);
    }
    ctx.propagate(&[b"FLUSHALL"]);
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let a = arg_i32(&args[1]).map_err(|_| CmdError::from("ERR invalid first DB index"))?;
    let b = arg_i32(&args[2]).map_err(|_| CmdError::from("ERR invalid second DB index"))?;
    let n = ctx.store.ks.dbs.len() as i32;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err("ERR DB index is out of range".into());
    }
    ctx.store.ks.dbs.swap(a as usize, b as usize);
    ctx.propagate_argv(args);
    ctx.out.ok();
    Ok(())
}

fn info_cmd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sections = info::selected(args);
    let text = info::render(ctx, &sections);
    ctx.out.verbatim(&text);
    Ok(())
}

/// `ROLE`: a standalone node is a master with no replicas; in raft mode the
/// leader is the master of its followers (offsets are log indexes).
fn role(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if let Some(node) = ctx.server.raft.get() {
        let st = node.status();
        if st.state == "Leader" {
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(st.last_log_index as i64);
            ctx.out.array(st.peers.len());
            for p in &st.peers {
                let addr = if p.client_addr.is_empty() {
                    &p.addr
                } else {
                    &p.client_addr
                };
                let (ip, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
                ctx.out.array(3);
                ctx.out.bulk(ip.as_bytes());
                ctx.out.bulk(port.as_bytes());
                ctx.out.bulk(p.match_index.to_string().as_bytes());
            }
        } else {
            let (host, port) = st
                .leader_client_addr
                .rsplit_once(':')
                .map(|(h, p)| (h.to_string(), p.parse::<i64>().unwrap_or(0)))
                .unwrap_or_default();
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(host.as_bytes());
            ctx.out.int(port);
            ctx.out.bulk(if st.leader.is_some() {
                b"connected"
            } else {
                b"connect"
            });
            ctx.out.int(st.applied_index as i64);
        }
        return Ok(());
    }
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(0);
    ctx.out.array(0);
    Ok(())
}

fn time(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk(d.as_secs().to_string().as_bytes());
    ctx.out.bulk(d.subsec_micros().to_string().as_bytes());
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let t = ctx.server.snapshots.lock().last_save_unix;
    ctx.out.int(t as i64);
    Ok(())
}

fn save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.server.snapshots.lock().in_progress {
        return Err("ERR Background save already in progress".into());
    }
    ctx.action = Some(Action::Save);
    Ok(())
}

fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let schedule = match args.get(1) {
        None => false,
        Some(a) if args.len() == 2 && is(a, "schedule") => true,
        _ => return Err(SYNTAX.into()),
    };
    let server = ctx.server;
    match server.start_snapshot_locked(ctx.store) {
        Ok(()) => ctx.out.simple("Background saving started"),
        Err(e) if schedule => {
            let _ = e;
            server.snapshots.lock().scheduled = true;
            ctx.out.simple("Background saving scheduled");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The AOF is rewritten by taking a snapshot (which starts a new, empty
/// AOF generation), so this is `BGSAVE` with Redis's replies.
fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let server = ctx.server;
    match server.start_snapshot_locked(ctx.store) {
        Ok(()) => ctx
            .out
            .simple("Background append only file rewriting started"),
        Err(_) => {
            server.snapshots.lock().scheduled = true;
            ctx.out
                .simple("Background append only file rewriting scheduled");
        }
    }
    Ok(())
}

fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut save, mut nosave) = (false, false);
    for a in &args[1..] {
        if is(a, "save") {
            save = true;
        } else if is(a, "nosave") {
            nosave = true;
        } else if is(a, "now") || is(a, "force") {
            // Helios has no replicas to wait for and no failing save to force past.
        } else if is(a, "abort") {
            return Err("ERR No shutdown in progress.".into());
        } else {
            return Err(SYNTAX.into());
        }
    }
    if save && nosave {
        return Err(SYNTAX.into());
    }
    ctx.action = Some(Action::Shutdown { save });
    Ok(())
}

fn wait(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let numreplicas = arg_i64(&args[1])?;
    let timeout = arg_i64(&args[2])
        .map_err(|_| CmdError::from("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    if numreplicas <= 0 {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.action = Some(Action::Wait {
        numreplicas: numreplicas as u64,
        timeout: Duration::from_millis(timeout as u64),
    });
    Ok(())
}

// ---- DEBUG -------------------------------------------------------------

fn debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let bad = || {
        CmdError::from(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&args[1])
        ))
    };
    match (sub.as_str(), args.len()) {
        ("help", 2) => {
            let lines = [
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "OBJECT <key>",
                "    Show low-level info about the key and associated value.",
                "RELOAD",
                "    Save a snapshot, empty the keyspace and load the snapshot back.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in the background when they are",
                "    not accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "HELP",
                "    Print this help.",
            ];
            help_reply(ctx.out, &lines);
        }
        ("sleep", 3) => {
            let secs = arg_f64(&args[2])?;
            // Holding the keyspace lock stops every client, as in Redis.
            std::thread::sleep(Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            let on = arg_i64(&args[2])? != 0;
            ctx.server.active_expire.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        ("object", 3) => {
            let now = ctx.now;
            let clock = crate::atlas::lru_clock(now);
            let Some(e) = ctx.db().peek(&args[2], now) else {
                return Err("ERR no such key".into());
            };
            let serialized = match &e.value {
                crate::atlas::Value::Str(b) => b.len(),
                crate::atlas::Value::Hash(h) => h.iter().map(|(f, v)| f.len() + v.len()).sum(),
                crate::atlas::Value::Set(s) => s.members().iter().map(Vec::len).sum(),
                crate::atlas::Value::List(l) => l.iter().map(|b| b.len()).sum(),
                crate::atlas::Value::Zset(z) => z
                    .iter_range(0, z.len(), false)
                    .map(|(m, _)| m.len() + 8)
                    .sum(),
            };
            let line = format!(
                "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                e.encoding(),
                serialized,
                e.access & 0xFF_FFFF,
                clock.wrapping_sub(e.access)
            );
            ctx.out.simple(&line);
        }
        ("reload", 2) => {
            reload(ctx)?;
            ctx.out.ok();
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// `DEBUG RELOAD`: writes the keyspace through the snapshot format and
/// loads it back, under the lock (Redis blocks during it too). This proves
/// the snapshot format round-trips the live data.
fn reload(ctx: &mut Ctx) -> CmdResult {
    use crate::persist::snapshot;
    let dir = ctx.server.config.read().data_dir.clone();
    let path = dir.join("debug-reload.hsnap");
    let view = snapshot::capture(&ctx.store.ks);
    snapshot::write(&path, &view, 0, ctx.now).map_err(|e| CmdError::from(format!("ERR {e}")))?;
    drop(view);
    let mut fresh = crate::atlas::Keyspace::new(ctx.store.ks.dbs.len());
    let loaded = snapshot::load(&path, &mut fresh);
    let _ = std::fs::remove_file(&path);
    loaded.map_err(|e| CmdError::from(format!("ERR Error trying to load the snapshot: {e}")))?;
    let old = std::mem::replace(&mut ctx.store.ks, fresh);
    drop_in_background(old);
    Ok(())
}

// ---- CONFIG --------------------------------------------------------------

type Getter = fn(&Server) -> String;
type Setter = fn(&Server, &str) -> Result<(), String>;

struct Param {
    name: &'static str,
    get: Getter,
    /// `None` for parameters fixed at start-up.
    set: Option<Setter>,
}

fn parse_count(v: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

fn parse_memory(v: &str) -> Result<usize, String> {
    let l = v.to_ascii_lowercase();
    let (num, mul) = [
        ("gb", 1 << 30),
        ("g", 1_000_000_000),
        ("mb", 1 << 20),
        ("m", 1_000_000),
        ("kb", 1 << 10),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| l.strip_suffix(suf).map(|n| (n.to_string(), *m as usize)))
    .unwrap_or((l.clone(), 1));
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| "argument must be a memory value".to_string())
}

static PARAMS: &[Param] = &[
    Param {
        name: "save",
        get: |s| {
            let c = s.config.read();
            let mut parts = Vec::new();
            if !c.snapshot_interval_time.is_zero() {
                parts.push(format!("{} 1", c.snapshot_interval_time.as_secs().max(1)));
            }
            if c.snapshot_interval_cmds > 0 {
                parts.push(format!("0 {}", c.snapshot_interval_cmds));
            }
            parts.join(" ")
        },
        set: Some(|s, v| {
            // Pairs of "<seconds> <changes>": a pair with 1 change sets the
            // time interval, a pair with more sets the write-count interval.
            let nums: Result<Vec<u64>, _> =
                v.split_whitespace().map(|x| x.parse::<u64>()).collect();
            let nums = nums.map_err(|_| "Invalid save parameters".to_string())?;
            if nums.len() % 2 != 0 {
                return Err("Invalid save parameters".into());
            }
            let (mut time, mut cmds) = (Duration::ZERO, 0);
            for p in nums.chunks(2) {
                if p[1] <= 1 {
                    time = Duration::from_secs(p[0]);
                } else {
                    cmds = p[1];
                }
            }
            let mut c = s.config.write();
            c.snapshot_interval_time = time;
            c.snapshot_interval_cmds = cmds;
            Ok(())
        }),
    },
    Param {
        name: "appendonly",
        get: |_| "yes".into(),
        set: Some(|_, v| {
            if v.eq_ignore_ascii_case("yes") {
                Ok(())
            } else {
                Err("Helios always keeps an append-only file; use appendfsync to trade durability for speed".into())
            }
        }),
    },
    Param {
        name: "appendfsync",
        get: |s| {
            s.aof
                .as_ref()
                .map_or(s.config.read().aof_fsync, |a| a.policy())
                .to_string()
        },
        set: Some(|s, v| {
            let p: FsyncPolicy = v.parse().map_err(|_| {
                "argument(s) must be one of the following: always, everysec, no".to_string()
            })?;
            let Some(aof) = &s.aof else {
                return Err("appendfsync of the raft log is fixed at start-up (aof_fsync); restart the node to change it".into());
            };
            aof.set_policy(p);
            s.config.write().aof_fsync = p;
            Ok(())
        }),
    },
    Param {
        name: "requirepass",
        get: |s| s.config.read().requirepass.clone().unwrap_or_default(),
        set: Some(|s, v| {
            s.config.write().requirepass = (!v.is_empty()).then(|| v.to_string());
            Ok(())
        }),
    },
    Param {
        name: "maxclients",
        get: |s| s.config.read().maxclients.to_string(),
        set: Some(|s, v| {
            let n = parse_count(v)?;
            if n < 1 {
                return Err("argument must be between 1 and 4294967295 inclusive".into());
            }
            s.config.write().maxclients = n as usize;
            Ok(())
        }),
    },
    Param {
        name: "proto-max-bulk-len",
        get: |s| s.config.read().proto_max_bulk_len.to_string(),
        set: Some(|s, v| {
            let n = parse_memory(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be a memory value bigger than 1mb".into());
            }
            s.config.write().proto_max_bulk_len = n;
            Ok(())
        }),
    },
    Param {
        name: "snapshot-interval-cmds",
        get: |s| s.config.read().snapshot_interval_cmds.to_string(),
        set: Some(|s, v| {
            s.config.write().snapshot_interval_cmds = parse_count(v)?;
            Ok(())
        }),
    },
    Param {
        name: "snapshot-interval-time",
        get: |s| humantime::format_duration(s.config.read().snapshot_interval_time).to_string(),
        set: Some(|s, v| {
            let d = if v == "0" {
                Duration::ZERO
            } else {
                humantime::parse_duration(v).map_err(|e| format!("invalid duration: {e}"))?
            };
            s.config.write().snapshot_interval_time = d;
            Ok(())
        }),
    },
    Param {
        name: "io-threads",
        get: |s| s.config.read().io_threads.to_string(),
        set: None,
    },
    Param {
        name: "databases",
        get: |s| s.config.read().databases.to_string(),
        set: None,
    },
    Param {
        name: "port",
        get: |s| s.port.load(Ordering::Relaxed).to_string(),
        set: None,
    },
    Param {
        name: "bind",
        get: |s| s.config.read().listen.ip().to_string(),
        set: None,
    },
    Param {
        name: "dir",
        get: |s| {
            let d = s.config.read().data_dir.clone();
            std::fs::canonicalize(&d).unwrap_or(d).display().to_string()
        },
        set: None,
    },
    Param {
        name: "loglevel",
        get: |s| s.config.read().log_level.clone(),
        // Redis's names map onto ours: verbose is debug, notice is info.
        set: Some(|s, v| {
            let level = match v.to_ascii_lowercase().as_str() {
                "debug" | "verbose" => "debug",
                "info" | "notice" => "info",
                "warn" | "warning" => "warn",
                "error" | "nothing" => "error",
                "trace" => "trace",
                _ => {
                    return Err(
                        "argument(s) must be one of the following: debug, verbose, notice, warning, nothing (or trace, info, warn, error)".into(),
                    )
                }
            };
            crate::logging::set_level(level)?;
            s.config.write().log_level = level.to_string();
            Ok(())
        }),
    },
    Param {
        name: "maxmemory",
        get: |s| s.maxmemory.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v| {
            s.maxmemory
                .store(parse_memory(v)? as u64, Ordering::Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "maxmemory-policy",
        get: |_| "noeviction".into(),
        set: None,
    },
    Param {
        name: "timeout",
        get: |s| s.idle_timeout_secs.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v| {
            let n = v
                .parse::<i64>()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if !(0..=i32::MAX as i64).contains(&n) {
                return Err("argument must be between 0 and 2147483647 inclusive".into());
            }
            s.idle_timeout_secs.store(n as u64, Ordering::Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "slowlog-log-slower-than",
        get: |s| s.slowlog.slower_than.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v| {
            let n = v
                .parse::<i64>()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if n < -1 {
                return Err("argument must be between -1 and 9223372036854775807 inclusive".into());
            }
            s.slowlog.slower_than.store(n, Ordering::Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "slowlog-max-len",
        get: |s| s.slowlog.max_len.load(Ordering::Relaxed).to_string(),
        set: Some(|s, v| {
            let n = v
                .parse::<i64>()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            if !(0..=i64::from(i32::MAX)).contains(&n) {
                return Err("argument must be between 0 and 2147483647 inclusive".into());
            }
            s.slowlog.set_max_len(n as u64);
            Ok(())
        }),
    },
    // The collection encoding limits Helios uses (Redis's defaults), under
    // their names and their older ziplist aliases; fixed, so CONFIG SET
    // refuses them.
    Param {
        name: "hash-max-listpack-entries",
        get: |_| crate::atlas::hash::LISTPACK_MAX_ENTRIES.to_string(),
        set: None,
    },
    Param {
        name: "hash-max-listpack-value",
        get: |_| crate::atlas::hash::LISTPACK_MAX_VALUE.to_string(),
        set: None,
    },
    Param {
        name: "hash-max-ziplist-entries",
        get: |_| crate::atlas::hash::LISTPACK_MAX_ENTRIES.to_string(),
        set: None,
    },
    Param {
        name: "hash-max-ziplist-value",
        get: |_| crate::atlas::hash::LISTPACK_MAX_VALUE.to_string(),
        set: None,
    },
    Param {
        name: "set-max-intset-entries",
        get: |_| crate::atlas::set::INTSET_MAX_ENTRIES.to_string(),
        set: None,
    },
    Param {
        name: "zset-max-listpack-entries",
        get: |_| crate::atlas::zset::LISTPACK_MAX_ENTRIES.to_string(),
        set: None,
    },
    Param {
        name: "zset-max-listpack-value",
        get: |_| crate::atlas::zset::LISTPACK_MAX_VALUE.to_string(),
        set: None,
    },
    Param {
        name: "zset-max-ziplist-entries",
        get: |_| crate::atlas::zset::LISTPACK_MAX_ENTRIES.to_string(),
        set: None,
    },
    Param {
        name: "zset-max-ziplist-value",
        get: |_| crate::atlas::zset::LISTPACK_MAX_VALUE.to_string(),
        set: None,
    },
];

fn config_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut found: Vec<(&str, String)> = Vec::new();
    for pat in &args[2..] {
        for p in PARAMS {
            if glob::matches(pat, p.name.as_bytes(), true)
                && !found.iter().any(|(n, _)| *n == p.name)
            {
                found.push((p.name, (p.get)(ctx.server)));
            }
        }
    }
    ctx.out.map(found.len());
    for (n, v) in found {
        ctx.out.bulk(n.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err("ERR wrong number of arguments for 'config|set' command".into());
    }
    let mut changes = Vec::new();
    for pair in args[2..].chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let Some(p) = PARAMS.iter().find(|p| p.name == name) else {
            return Err(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )
            .into());
        };
        let Some(set) = p.set else {
            return Err(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config").into());
        };
        changes.push((name, value, set));
    }
    // Apply in order; report the first failure with Redis's wording.
    for (name, value, set) in changes {
        set(ctx.server, &value).map_err(|e| {
            CmdError::from(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"
            ))
        })?;
    }
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let s = &ctx.server.stats;
    for c in [
        &s.commands_processed,
        &s.connections_received,
        &s.rejected_connections,
        &s.net_input_bytes,
        &s.net_output_bytes,
    ] {
        c.store(0, Ordering::Relaxed);
    }
    ctx.store.cmdstats.clear();
    ctx.store.errorstats.clear();
    for db in ctx.store.ks.dbs.iter_mut() {
        db.expired = 0;
        db.hits = 0;
        db.misses = 0;
    }
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.out,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}

// ---- COMMAND ---------------------------------------------------------------

fn acl_categories(c: &Command) -> Vec<String> {
    let mut v = Vec::new();
    if c.has(f::WRITE) {
        v.push("@write".to_string());
    }
    if c.has(f::READONLY) {
        v.push("@read".to_string());
    }
    if c.group != "generic" {
        v.push(format!(
            "@{}",
            if c.group == "generic" {
                "keyspace"
            } else {
                c.group
            }
        ));
    } else {
        v.push("@keyspace".to_string());
    }
    v.push(if c.has(f::FAST) { "@fast" } else { "@slow" }.to_string());
    if c.has(f::ADMIN) {
        v.push("@admin".to_string());
        v.push("@dangerous".to_string());
    }
    v
}

fn command_entry(out: &mut Out, c: &Command) {
    out.array(10);
    out.bulk(c.full_name.as_bytes());
    out.int(c.arity as i64);
    let names: Vec<&str> = f::NAMES
        .iter()
        .filter(|(b, _)| c.has(*b))
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
    out.int(c.keys.0 as i64);
    out.int(c.keys.1 as i64);
    out.int(c.keys.2 as i64);
    let cats = acl_categories(c);
    out.set(cats.len());
    for cat in cats {
        out.simple(&cat);
    }
    out.array(0); // tips
    if c.keys.0 > 0 {
        out.array(1);
        out.map(4);
        out.bulk(b"flags");
        out.array(1);
        out.simple(if c.has(f::WRITE) { "RW" } else { "RO" });
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        out.bulk(b"index");
        out.bulk(b"spec");
        out.map(1);
        out.bulk(b"index");
        out.int(c.keys.0 as i64);
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        out.bulk(b"range");
        out.bulk(b"spec");
        out.map(3);
        out.bulk(b"lastkey");
        out.int(if c.keys.1 < 0 {
            c.keys.1 as i64
        } else {
            (c.keys.1 - c.keys.0) as i64
        });
        out.bulk(b"keystep");
        out.int(c.keys.2 as i64);
        out.bulk(b"limit");
        out.int(0);
        out.bulk(b"notes");
        out.bulk(b"");
    } else {
        out.array(0);
    }
    out.array(c.subcommands.len());
    for s in c.subcommands {
        command_entry(out, s);
    }
}

fn command(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 1 {
        ctx.out.array(ALL.len());
        for c in ALL.iter() {
            command_entry(ctx.out, c);
        }
        return Ok(());
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "count" if args.len() == 2 => ctx.out.int(ALL.len() as i64),
        "info" => {
            if args.len() == 2 {
                ctx.out.array(ALL.len());
                for c in ALL.iter() {
                    command_entry(ctx.out, c);
                }
            } else {
                ctx.out.array(args.len() - 2);
                for name in &args[2..] {
                    match find_full(name) {
                        Some(c) => command_entry(ctx.out, c),
                        None => ctx.out.null_array(),
                    }
                }
            }
        }
        "docs" => {
            let cmds: Vec<&Command> = if args.len() == 2 {
                ALL.iter().copied().collect()
            } else {
                args[2..].iter().filter_map(|n| find_full(n)).collect()
            };
            ctx.out.map(cmds.len());
            for c in cmds {
                ctx.out.bulk(c.full_name.as_bytes());
                docs::write_docs(ctx.out, c);
            }
        }
        "list" => {
            let filter = match args.len() {
                2 => None,
                5 if is(&args[2], "filterby") => Some((
                    String::from_utf8_lossy(&args[3]).to_ascii_lowercase(),
                    args[4].clone(),
                )),
                _ => return Err(SYNTAX.into()),
            };
            let mut names = Vec::new();
            for c in ALL.iter() {
                for x in std::iter::once(*c).chain(c.subcommands.iter()) {
                    let keep = match &filter {
                        None => true,
                        Some((k, v)) if k == "pattern" => {
                            glob::matches(v, x.full_name.as_bytes(), true)
                        }
                        Some((k, v)) if k == "aclcat" => acl_categories(x)
                            .iter()
                            .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(v)),
                        Some((k, _)) if k == "module" => false,
                        Some(_) => return Err(SYNTAX.into()),
                    };
                    if keep {
                        names.push(x.full_name);
                    }
                }
            }
            ctx.out.bulk_array(names.iter().map(|n| n.as_bytes()));
        }
        "getkeys" if args.len() >= 3 => {
            let Some(c) = lookup(&args[2]) else {
                return Err("ERR Invalid command specified".into());
            };
            let argv = &args[2..];
            if !c.arity_ok(argv.len()) {
                return Err("ERR Invalid number of arguments specified for command".into());
            }
            let keys = c.key_positions(argv.len());
            if keys.is_empty() {
                return Err("ERR The command has no key arguments".into());
            }
            ctx.out.bulk_array(keys.iter().map(|&i| &argv[i][..]));
        }
        "help" if args.len() == 2 => help_reply(
            ctx.out,
            &[
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "HELP",
                "    Print this help.",
            ],
        ),
        "count" | "getkeys" | "help" => {
            return Err(format!("ERR wrong number of arguments for 'command|{sub}' command").into())
        }
        _ => {
            return Err(format!(
                "ERR unknown subcommand '{}'. Try COMMAND HELP.",
                String::from_utf8_lossy(&args[1])
            )
            .into())
        }
    }
    Ok(())
}

/// `get` or `config|get`.
fn find_full(name: &[u8]) -> Option<&'static Command> {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((parent, sub)) => lookup(parent.as_bytes())?
            .subcommands
            .iter()
            .find(|c| c.name == sub),
        None => lookup(name),
    }
}

static CONFIG_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "get",
        full_name: "config|get",
        arity: -3,
        flags: f::ADMIN | f::NOSCRIPT | f::LOADING | f::STALE,
        group: "server",
        since: "2.0.0",
        summary: "Returns the effective values of configuration parameters.",
        complexity: "O(N) when N is the number of configuration parameters provided",
        syntax: "parameter [parameter ...]",
        run: config_get,
        ..Command::BASE
    },
    Command {
        name: "set",
        full_name: "config|set",
        arity: -4,
        flags: f::ADMIN | f::NOSCRIPT | f::LOADING | f::STALE,
        group: "server",
        since: "2.0.0",
        summary: "Sets configuration parameters in-flight.",
        complexity: "O(N) when N is the number of configuration parameters provided",
        syntax: "parameter value [parameter value ...]",
        run: config_set,
        ..Command::BASE
    },
    Command {
        name: "resetstat",
        full_name: "config|resetstat",
        arity: 2,
        flags: f::ADMIN | f::NOSCRIPT | f::LOADING | f::STALE,
        group: "server",
        since: "2.0.0",
        summary: "Resets the server's statistics.",
        run: config_resetstat,
        ..Command::BASE
    },
    Command {
        name: "help",
        full_name: "config|help",
        arity: 2,
        flags: f::LOADING | f::STALE,
        group: "server",
        since: "5.0.0",
        summary: "Returns helpful text about the different subcommands.",
        run: config_help,
        ..Command::BASE
    },
];

const ADM: u32 = f::ADMIN | f::NOSCRIPT;

pub static COMMANDS: &[Command] = &[
    Command { name: "dbsize", full_name: "dbsize", arity: 1, flags: f::READONLY | f::FAST, group: "server", summary: "Returns the number of keys in the database.", run: dbsize, ..Command::BASE },
    Command { name: "flushdb", full_name: "flushdb", arity: -1, flags: f::WRITE, group: "server", summary: "Removes all keys from the current database.", complexity: "O(N) where N is the number of keys in the selected database", syntax: "[ASYNC | SYNC]", run: flushdb, ..Command::BASE },
    Command { name: "flushall", full_name: "flushall", arity: -1, flags: f::WRITE, group: "server", summary: "Removes all keys from all databases.", complexity: "O(N) where N is the total number of keys in all databases", syntax: "[ASYNC | SYNC]", run: flushall, ..Command::BASE },
    Command { name: "swapdb", full_name: "swapdb", arity: 3, flags: f::WRITE | f::FAST, group: "server", since: "4.0.0", summary: "Swaps two Redis databases.", complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases.", syntax: "index1 index2", run: swapdb, ..Command::BASE },
    Command { name: "info", full_name: "info", arity: -1, flags: f::LOADING | f::STALE, group: "server", summary: "Returns information and statistics about the server.", syntax: "[section [section ...]]", run: info_cmd, ..Command::BASE },
    Command { name: "role", full_name: "role", arity: 1, flags: f::NOSCRIPT | f::LOADING | f::STALE | f::FAST, group: "server", since: "2.8.12", summary: "Returns the replication role.", run: role, ..Command::BASE },
    Command { name: "time", full_name: "time", arity: 1, flags: f::LOADING | f::STALE | f::FAST, group: "server", since: "2.6.0", summary: "Returns the server time.", run: time, ..Command::BASE },
    Command { name: "lastsave", full_name: "lastsave", arity: 1, flags: f::LOADING | f::STALE | f::FAST, group: "server", summary: "Returns the Unix timestamp of the last successful save to disk.", run: lastsave, ..Command::BASE },
    Command { name: "save", full_name: "save", arity: 1, flags: ADM | f::NO_MULTI, group: "server", summary: "Synchronously saves the database(s) to disk.", complexity: "O(N) where N is the total number of keys in all databases", run: save, ..Command::BASE },
    Command { name: "bgsave", full_name: "bgsave", arity: -1, flags: ADM, group: "server", summary: "Asynchronously saves the database(s) to disk.", complexity: "O(N) where N is the total number of keys in all databases", syntax: "[SCHEDULE]", run: bgsave, ..Command::BASE },
    Command { name: "bgrewriteaof", full_name: "bgrewriteaof", arity: 1, flags: ADM, group: "server", summary: "Asynchronously rewrites the append-only file to disk.", complexity: "O(N) where N is the total number of keys in all databases", run: bgrewriteaof, ..Command::BASE },
    Command { name: "shutdown", full_name: "shutdown", arity: -1, flags: ADM | f::LOADING | f::STALE | f::NO_MULTI, group: "server", summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.", complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", syntax: "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]", run: shutdown, ..Command::BASE },
    Command { name: "debug", full_name: "debug", arity: -2, flags: ADM | f::LOADING | f::STALE, group: "server", summary: "A container for debugging commands.", complexity: "Depends on subcommand.", syntax: "subcommand [argument ...]", run: debug, ..Command::BASE },
    Command { name: "wait", full_name: "wait", arity: 3, flags: f::BLOCKING, group: "generic", since: "3.0.0", summary: "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", syntax: "numreplicas timeout", run: wait, ..Command::BASE },
    Command { name: "command", full_name: "command", arity: -1, flags: f::LOADING | f::STALE, group: "server", since: "2.8.13", summary: "Returns detailed information about all commands.", complexity: "O(N) where N is the total number of Redis commands", syntax: "[COUNT | DOCS [command-name ...] | INFO [command-name ...] | LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern] | GETKEYS command [arg ...]]", run: command, ..Command::BASE },
    Command { name: "config", full_name: "config", arity: -2, group: "server", since: "2.0.0", summary: "A container for server configuration commands.", complexity: "Depends on subcommand.", subcommands: CONFIG_SUBCOMMANDS, ..Command::BASE },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values_parse_like_redis() {
        assert_eq!(parse_memory("512mb").unwrap(), 512 << 20);
        assert_eq!(parse_memory("1gb").unwrap(), 1 << 30);
        assert_eq!(parse_memory("1000").unwrap(), 1000);
        assert!(parse_memory("lots").is_err());
    }

    #[test]
    fn every_param_is_listed_once() {
        let mut names: Vec<_> = PARAMS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PARAMS.len());
    }
}
