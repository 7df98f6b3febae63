//! Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`.
//!
//! After `MULTI` a client's commands are checked (name, arity,
//! authentication) and queued instead of run ([`queue`], called by
//! dispatch); a command that fails the check is answered with its error
//! and dooms the transaction (`EXEC` answers `EXECABORT`), as in Redis.
//! `EXEC` runs the queue back to back under the keyspace lock, so nothing
//! interleaves; errors while running (WRONGTYPE, ...) are per command and
//! do not stop the rest. Blocking pops inside a transaction do not block.
//!
//! `WATCH` remembers a fingerprint of each key: its type, value, and
//! expiry (or that it is absent). `EXEC` runs only if every fingerprint is
//! unchanged, otherwise it answers a null and runs nothing. This is
//! value-based optimistic locking: a key changed and changed back to the
//! same value and TTL between `WATCH` and `EXEC` does not abort the
//! transaction (Redis, which tracks writes, would abort). It is what lets
//! the same check run in raft mode: the fingerprints travel with the
//! transaction's Raft entry and are compared when the entry is applied,
//! identically on every node (see `server::conn`).
//!
//! In raft mode the connection handles `EXEC` itself (one Raft entry for the
//! whole transaction); this module provides the pieces.

use bytes::Bytes;

use super::table::{flags as f, Command};
use super::{execute, CmdResult, Ctx};
use crate::atlas::{Db, Value};

/// A client's open transaction.
#[derive(Debug, Default, Clone)]
pub struct Multi {
    pub queued: Vec<Vec<Bytes>>,
    /// A queued command failed its check: `EXEC` aborts.
    pub doomed: bool,
}

/// One watched key and what it looked like at `WATCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub db: usize,
    pub key: Bytes,
    pub fingerprint: u64,
}

/// The internal first command of a raft-mode transaction entry, carrying
/// its `WATCH` fingerprints: `\0exec [db key fp ...]`; the commands after
/// it are the queue. No client can send it: a name dispatch does not know
/// is answered locally and never proposed.
pub const EXEC_MARKER: &[u8] = b"\0exec";

/// The marker command for `watched` (see [`EXEC_MARKER`]).
pub fn exec_marker(watched: &[Watched]) -> Vec<Bytes> {
    let mut cmd = vec![Bytes::from_static(EXEC_MARKER)];
    for w in watched {
        cmd.push(Bytes::from(w.db.to_string()));
        cmd.push(w.key.clone());
        cmd.push(Bytes::from(w.fingerprint.to_string()));
    }
    cmd
}

/// Applies a raft-mode transaction entry (`cmds[0]` is the marker): checks
/// the watches, then runs the rest as `EXEC` would.
pub fn apply_exec(ctx: &mut Ctx, cmds: &[Vec<Bytes>]) {
    // A marker that does not parse fails closed: the transaction aborts.
    let watched: Option<Vec<Watched>> = cmds[0][1..]
        .chunks(3)
        .map(|w| {
            let number = |b: &Bytes| std::str::from_utf8(b).ok()?.parse().ok();
            Some(Watched {
                db: number(&w[0])? as usize,
                key: w.get(1)?.clone(),
                fingerprint: number(w.get(2)?)?,
            })
        })
        .collect();
    if !watched.is_some_and(|w| watches_hold(ctx, &w)) {
        ctx.out.null_array();
        return;
    }
    run_queued(ctx, &cmds[1..]);
}

/// FNV-1a over the bytes fed to it.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    /// Feeds a length-prefixed item, so item boundaries count.
    fn item(&mut self, bytes: &[u8]) {
        self.feed(&(bytes.len() as u64).to_le_bytes());
        self.feed(bytes);
    }
}

/// What `WATCH` compares: type, value and expiry of `key`, or absence.
pub fn fingerprint(db: &Db, key: &[u8], now: u64) -> u64 {
    let mut h = Fnv::new();
    let Some(e) = db.peek(key, now) else {
        return 0;
    };
    h.item(e.value.type_name().as_bytes());
    h.feed(&e.expire_at.to_le_bytes());
    match &e.value {
        Value::Str(b) => h.item(b),
        Value::Hash(v) => {
            for (f, x) in v.iter() {
                h.item(f);
                h.item(x);
            }
        }
        Value::Set(v) => v.for_each(|m| h.item(m)),
        Value::List(v) => {
            for x in v.iter() {
                h.item(x);
            }
        }
        Value::Zset(v) => {
            for (m, score) in v.iter_range(0, v.len(), false) {
                h.item(m);
                h.feed(&score.to_bits().to_le_bytes());
            }
        }
    }
    // 0 means absent.
    h.0.max(1)
}

/// Whether every watched key still has the fingerprint it had at `WATCH`.
pub fn watches_hold(ctx: &mut Ctx, watched: &[Watched]) -> bool {
    let now = ctx.now;
    watched.iter().all(|w| {
        ctx.store
            .ks
            .dbs
            .get(w.db)
            .is_some_and(|db| fingerprint(db, &w.key, now) == w.fingerprint)
    })
}

/// Commands that run at once inside `MULTI` instead of being queued.
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Queues a checked command of a client in `MULTI`.
pub fn queue(ctx: &mut Ctx, args: &[Bytes]) {
    if let Some(m) = ctx.client.multi.as_mut() {
        m.queued.push(args.to_vec());
    }
    ctx.out.simple("QUEUED");
}

/// Marks the open transaction doomed (a queued command failed its check).
pub fn doom(ctx: &mut Ctx) {
    if let Some(m) = ctx.client.multi.as_mut() {
        m.doomed = true;
    }
}

fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.client.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err("ERR DISCARD without MULTI".into());
    }
    ctx.client.watched.clear();
    ctx.out.ok();
    Ok(())
}

/// What `EXEC` must do with the client's transaction.
pub enum ExecPlan {
    /// `EXEC` without `MULTI`: this error.
    NoMulti,
    /// A queued command failed its check.
    Doomed,
    /// Run these, checking these watches first.
    Run {
        queued: Vec<Vec<Bytes>>,
        watched: Vec<Watched>,
    },
}

/// Closes the client's transaction and says what `EXEC` runs; the watches
/// end with it, whatever happens next.
pub fn take_exec(client: &mut crate::server::Client) -> ExecPlan {
    let Some(m) = client.multi.take() else {
        return ExecPlan::NoMulti;
    };
    let watched = std::mem::take(&mut client.watched);
    if m.doomed {
        return ExecPlan::Doomed;
    }
    ExecPlan::Run {
        queued: m.queued,
        watched,
    }
}

pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

fn exec(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let (queued, watched) = match take_exec(ctx.client) {
        ExecPlan::NoMulti => return Err("ERR EXEC without MULTI".into()),
        ExecPlan::Doomed => return Err(EXECABORT.into()),
        ExecPlan::Run { queued, watched } => (queued, watched),
    };
    if !watches_hold(ctx, &watched) {
        ctx.out.null_array();
        return Ok(());
    }
    run_queued(ctx, &queued);
    Ok(())
}

/// Runs a transaction's commands back to back: the reply is an array of
/// their replies. Blocking pops do not block here.
pub fn run_queued(ctx: &mut Ctx, queued: &[Vec<Bytes>]) {
    ctx.out.array(queued.len());
    let was = std::mem::replace(&mut ctx.client.in_exec, true);
    for cmd in queued {
        execute(ctx, cmd);
    }
    ctx.client.in_exec = was;
}

fn watch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err("ERR WATCH inside MULTI is not allowed".into());
    }
    let now = ctx.now;
    let db = ctx.client.db;
    for key in &args[1..] {
        let fp = fingerprint(&ctx.store.ks.dbs[db], key, now);
        let w = Watched {
            db,
            key: key.clone(),
            fingerprint: fp,
        };
        // Watching a key again keeps its first fingerprint, as Redis keeps
        // the first watch.
        if !ctx
            .client
            .watched
            .iter()
            .any(|x| x.db == db && x.key == w.key)
        {
            ctx.client.watched.push(w);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.client.watched.clear();
    ctx.out.ok();
    Ok(())
}

const TX: u32 = f::NOSCRIPT | f::LOADING | f::STALE | f::FAST;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command { name: "multi", full_name: "multi", arity: 1, flags: TX, group: "transactions", since: "1.2.0", summary: "Starts a transaction.", run: multi, ..Command::BASE },
    Command { name: "exec", full_name: "exec", arity: 1, flags: f::NOSCRIPT | f::LOADING | f::STALE, group: "transactions", since: "1.2.0", summary: "Executes all commands in a transaction.", complexity: "Depends on commands in the transaction", run: exec, ..Command::BASE },
    Command { name: "discard", full_name: "discard", arity: 1, flags: TX, group: "transactions", since: "2.0.0", summary: "Discards a transaction.", complexity: "O(N), when N is the number of queued commands", run: discard, ..Command::BASE },
    Command { name: "watch", full_name: "watch", arity: -2, flags: TX, keys: (1, -1, 1), group: "transactions", since: "2.2.0", summary: "Monitors changes to keys to determine the execution of a transaction.", complexity: "O(1) for every key.", syntax: "key [key ...]", run: watch, ..Command::BASE },
    Command { name: "unwatch", full_name: "unwatch", arity: 1, flags: TX, group: "transactions", since: "2.2.0", summary: "Forgets about watched keys of a transaction.", run: unwatch, ..Command::BASE },
];
