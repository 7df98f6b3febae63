//! Commands: the table, argument helpers and dispatch.
//!
//! Every command is one [`Command`] entry in a family file (`strings`,
//! `keys`, `server`, `conn`): name, arity, flags, key positions, docs and
//! handler. `COMMAND`, arity checks and unknown-command errors are all
//! generated from that table, so a command cannot exist without its metadata.
//!
//! A handler runs with the keyspace already locked ([`Ctx::store`]) and
//! writes its reply into [`Ctx::out`]. It either writes exactly one reply and
//! returns `Ok`, or writes nothing and returns the error text, which dispatch
//! turns into an error reply. Work that must not happen under the lock
//! (waiting for a snapshot, shutting down) is requested through
//! [`Ctx::action`] and carried out by the connection after the batch.
//!
//! Writes call [`Ctx::propagate`] with the command in the form it must be
//! replayed (relative times made absolute, `INCRBYFLOAT` as `SET`), which
//! feeds the append-only file; replay of that file is therefore
//! deterministic.

pub mod collection;
pub mod conn;
mod docs;
pub mod hash;
pub(crate) mod info;
pub mod keys;
pub mod list;
pub mod longdouble;
pub mod multi;
pub mod pubsub;
pub mod raft;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod strings;
mod table;
pub mod zset;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::atlas::{Db, Keyspace};
use crate::persist::AofStream;
use crate::resp::parse::parse_i64;
use crate::resp::Out;
use crate::server::{Client, Server};

pub use table::{lookup, Command, Flags, COMMANDS};

/// An error reply, with its code (`ERR ...`, `WRONGTYPE ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdError(pub Cow<'static, str>);

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError(Cow::Borrowed(s))
    }
}
impl From<String> for CmdError {
    fn from(s: String) -> Self {
        CmdError(Cow::Owned(s))
    }
}

pub type CmdResult = Result<(), CmdError>;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";

/// What lives behind the server's one keyspace lock: the data, and the
/// append-only stream that must stay in the same order as the data changes.
#[derive(Debug)]
pub struct Store {
    pub ks: Keyspace,
    pub aof: AofStream,
    /// Writes since the last snapshot.
    pub dirty: u64,
    /// `INFO commandstats`, by full command name (`config|get`).
    pub cmdstats: ahash::AHashMap<&'static str, CmdStat>,
    /// `INFO errorstats`: error replies by code (`ERR`, `WRONGTYPE`, ...).
    pub errorstats: std::collections::BTreeMap<String, u64>,
    /// Raft mode: the Raft log is the record of writes, so nothing is
    /// appended to [`Store::aof`].
    pub replicated: bool,
}

/// Counters for one command, as `INFO commandstats` reports them.
#[derive(Debug, Default, Clone, Copy)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    /// Refused before running (arity, authentication).
    pub rejected: u64,
    /// Ran and answered with an error.
    pub failed: u64,
}

/// Redis keeps at most this many distinct error codes in `errorstats`.
const MAX_ERROR_CODES: usize = 128;

impl Store {
    pub fn new(databases: usize) -> Store {
        Store {
            ks: Keyspace::new(databases),
            aof: AofStream::default(),
            dirty: 0,
            cmdstats: Default::default(),
            errorstats: Default::default(),
            replicated: false,
        }
    }
}

/// Work a handler asks the connection to do once the lock is released.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Close after flushing the reply (`QUIT`, a killed client).
    Close,
    /// Stop the server (`SHUTDOWN`); `save` forces a final snapshot.
    Shutdown { save: bool },
    /// Write a snapshot and reply when it is on disk (`SAVE`).
    Save,
    /// Block for up to `timeout` (0 = forever) until `numreplicas`
    /// followers have the client's last write (`WAIT`; a standalone node
    /// has none and waits out the timeout).
    Wait { numreplicas: u64, timeout: Duration },
    /// Cluster administration (`RAFT.*`), which talks to other nodes.
    Raft(raft::RaftAdmin),
    /// A blocking pop found nothing: wait for the keys and run the command
    /// again (see `server::blocking`). The handler wrote no reply.
    Block(list::BlockSpec),
}

/// Everything a handler may touch.
pub struct Ctx<'a> {
    pub server: &'a Arc<Server>,
    pub store: &'a mut Store,
    pub client: &'a mut Client,
    pub out: &'a mut Out,
    /// Unix ms this command runs at; 0 while loading (nothing expires).
    pub now: u64,
    /// True while replaying the AOF: nothing is propagated.
    pub loading: bool,
    pub action: Option<Action>,
    /// Raft mode: what random draws of a write (`SPOP`) derive from, the
    /// same on every node for the same log entry. `None`: the thread's
    /// random generator (standalone, where a random write is logged by its
    /// effect instead).
    pub seed: Option<u64>,
}

impl Ctx<'_> {
    /// The client's selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.store.ks.dbs[self.client.db]
    }

    /// The random source for this command (see [`Ctx::seed`]).
    pub fn rng(&self) -> rand::rngs::StdRng {
        use rand::SeedableRng;
        match self.seed {
            Some(seed) => rand::rngs::StdRng::seed_from_u64(seed),
            // Seeded from the thread's generator: no system call per command.
            None => rand::rngs::StdRng::from_rng(rand::thread_rng())
                .unwrap_or_else(|_| rand::rngs::StdRng::from_entropy()),
        }
    }

    /// Records a write in the append-only stream, in replayable form.
    pub fn propagate(&mut self, args: &[&[u8]]) {
        self.store.dirty += 1;
        if !self.loading && !self.store.replicated {
            self.store.aof.append(self.client.db, args);
        }
    }

    /// Propagates the command exactly as the client sent it.
    pub fn propagate_argv(&mut self, args: &[Bytes]) {
        self.store.dirty += 1;
        if !self.loading && !self.store.replicated {
            self.store.aof.append(self.client.db, args);
        }
    }
}

/// Runs one command: lookup, arity and auth checks, handler, error reply,
/// and the `commandstats` / `errorstats` counters (not while loading).
pub fn execute(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(cmd) = lookup(&args[0]) else {
        multi::doom(ctx);
        reply_error(ctx, None, &unknown_command(args));
        return;
    };
    let (cmd, name) = match resolve_subcommand(cmd, args) {
        Ok(x) => x,
        Err(e) => {
            multi::doom(ctx);
            reply_error(ctx, None, &e.0);
            return;
        }
    };
    if !cmd.arity_ok(args.len()) {
        multi::doom(ctx);
        let msg = format!("ERR wrong number of arguments for '{name}' command");
        reply_error(ctx, Some((cmd.full_name, false)), &msg);
        return;
    }
    if !ctx.client.authenticated && !cmd.has(Flags::NO_AUTH) {
        multi::doom(ctx);
        reply_error(
            ctx,
            Some((cmd.full_name, false)),
            "NOAUTH Authentication required.",
        );
        return;
    }
    if !ctx.out.resp3 && ctx.client.subscribed() && !pubsub::allowed_while_subscribed(cmd.name) {
        multi::doom(ctx);
        let msg = format!("ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
        reply_error(ctx, Some((cmd.full_name, false)), &msg);
        return;
    }
    // Raft apply (`seed` set) never refuses: the entry is in the log; the
    // node that took the command checked before proposing it.
    if ctx.seed.is_none() && !ctx.loading && over_maxmemory(ctx.server, ctx.store, cmd) {
        multi::doom(ctx);
        reply_error(ctx, Some((cmd.full_name, false)), OOM);
        return;
    }
    if ctx.client.multi.is_some() && !multi::runs_inside_multi(cmd.name) {
        multi::queue(ctx, args);
        return;
    }
    ctx.client.last_cmd = cmd.full_name;
    let db = ctx.client.db;
    // TOUCH always touches, as in Redis.
    ctx.store
        .ks
        .set_no_touch(ctx.client.no_touch && cmd.name != "touch");
    let started = std::time::Instant::now();
    let result = (cmd.run)(ctx, args);
    if !ctx.loading {
        let took = started.elapsed();
        crate::metrics::observe_command(took);
        let (addr, name) = (&ctx.client.handle.addr, &ctx.client.name);
        ctx.server
            .slowlog
            .observe(args, took.as_micros() as u64, addr, name);
        let stat = ctx.store.cmdstats.entry(cmd.full_name).or_default();
        stat.calls += 1;
        stat.usec += took.as_micros() as u64;
    }
    if let Err(e) = result {
        reply_error(ctx, Some((cmd.full_name, true)), &e.0);
    }
    let blocked = matches!(ctx.action, Some(Action::Block(_)));
    if !blocked && !ctx.server.blocked.is_empty() {
        wake_blocked(ctx, cmd, db, args);
    }
}

/// Redis's refusal of a write that adds data above `maxmemory`.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Whether `cmd` adds data (`denyoom`) while `used_memory` is above
/// `maxmemory` (the `noeviction` policy: nothing is evicted, such writes
/// are refused; reads and deletions go on).
pub fn over_maxmemory(server: &Server, store: &Store, cmd: &Command) -> bool {
    let limit = server.maxmemory.load(std::sync::atomic::Ordering::Relaxed);
    limit > 0 && cmd.has(Flags::DENYOOM) && store.ks.used_memory() as u64 > limit
}

/// Writes that can put an element into a list or sorted set a client is
/// blocked on.
const FILLS_BLOCKED: &[&str] = &[
    "lpush",
    "rpush",
    "lpushx",
    "rpushx",
    "linsert",
    "lmove",
    "rpoplpush",
    "blmove",
    "brpoplpush",
    "zadd",
    "zincrby",
    "zunionstore",
    "zinterstore",
    "zdiffstore",
    "zrangestore",
];
/// Writes that bring a whole key (maybe a list) under another name or
/// into another database.
const MOVES_KEYS: &[&str] = &["rename", "renamenx", "copy", "move", "swapdb"];

/// After a write that can fill a list or sorted set: wakes the first client blocked on
/// each key it names (they look again; see `server::blocking`). Only such
/// writes wake anyone: a retry that finds nothing must not wake the next
/// client, or two blocked clients would wake each other forever.
fn wake_blocked(ctx: &Ctx, cmd: &Command, db: usize, args: &[Bytes]) {
    let blocked = &ctx.server.blocked;
    if MOVES_KEYS.contains(&cmd.name) {
        blocked.signal_all();
    } else if FILLS_BLOCKED.contains(&cmd.name) {
        for i in cmd.key_positions(args.len()) {
            let holds = match ctx.store.ks.dbs[db]
                .peek(&args[i], ctx.now)
                .map(|e| &e.value)
            {
                Some(crate::atlas::Value::List(_)) => Some(list::Wants::List),
                Some(crate::atlas::Value::Zset(_)) => Some(list::Wants::Zset),
                _ => None,
            };
            blocked.signal(db, &args[i], holds);
        }
    }
}

/// Sends an error reply and counts it: by error code, and against the
/// command as rejected (`ran == false`) or failed.
fn reply_error(ctx: &mut Ctx, cmd: Option<(&'static str, bool)>, msg: &str) {
    ctx.out.error(msg);
    if ctx.loading {
        return;
    }
    let code = msg.split(' ').next().unwrap_or("ERR");
    let errors = &mut ctx.store.errorstats;
    if let Some(n) = errors.get_mut(code) {
        *n += 1;
    } else if errors.len() < MAX_ERROR_CODES {
        errors.insert(code.to_string(), 1);
    }
    if let Some((name, ran)) = cmd {
        let stat = ctx.store.cmdstats.entry(name).or_default();
        if ran {
            stat.failed += 1;
        } else {
            stat.rejected += 1;
        }
    }
}

/// For container commands (`CONFIG GET`), the subcommand entry and the
/// name used in error texts (`config|get`).
fn resolve_subcommand<'c>(
    cmd: &'c Command,
    args: &[Bytes],
) -> Result<(&'c Command, &'static str), CmdError> {
    if cmd.subcommands.is_empty() {
        return Ok((cmd, cmd.name));
    }
    if args.len() < 2 {
        return Err(format!("ERR wrong number of arguments for '{}' command", cmd.name).into());
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match cmd.subcommands.iter().find(|s| s.name == sub) {
        Some(s) => Ok((s, s.full_name)),
        None => Err(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            truncate(&String::from_utf8_lossy(&args[1]), 128),
            cmd.name.to_ascii_uppercase()
        )
        .into()),
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Redis's text: `unknown command 'foo', with args beginning with: 'a' 'b' `.
/// Redis formats arguments with `%s`, so each stops at its first NUL byte.
pub fn unknown_command(args: &[Bytes]) -> String {
    let c_str = |a: &[u8]| {
        let end = a.iter().position(|&b| b == 0).unwrap_or(a.len());
        String::from_utf8_lossy(&a[..end]).into_owned()
    };
    let mut rest = String::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push_str(&format!("'{}' ", truncate(&c_str(a), room)));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        truncate(&c_str(&args[0]), 128),
        rest
    )
}

/// A `HELP` subcommand's reply: one status line per text line.
pub fn help_reply(out: &mut Out, lines: &[&str]) {
    out.array(lines.len());
    for l in lines {
        out.simple(l);
    }
}

// ---- argument helpers -------------------------------------------------

pub fn arg_i64(a: &[u8]) -> Result<i64, CmdError> {
    parse_i64(a).ok_or(CmdError::from(NOT_INTEGER))
}

/// A 32-bit integer argument (a database index), with Redis's errors.
pub fn arg_i32(a: &[u8]) -> Result<i32, CmdError> {
    let n = arg_i64(a)?;
    i32::try_from(n).map_err(|_| {
        CmdError::from("ERR value is out of range, value must between -2147483648 and 2147483647")
    })
}

/// A database index argument: a 32-bit integer naming an existing database.
pub fn arg_db(a: &[u8], databases: usize) -> Result<usize, CmdError> {
    let id = arg_i32(a)?;
    if id < 0 || id as usize >= databases {
        return Err("ERR DB index is out of range".into());
    }
    Ok(id as usize)
}

/// Parses a float argument the way Redis's `getDoubleFromObject` does:
/// no leading/trailing space, no NaN.
pub fn arg_f64(a: &[u8]) -> Result<f64, CmdError> {
    let s = std::str::from_utf8(a).map_err(|_| CmdError::from(NOT_FLOAT))?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_whitespace())
        || s.ends_with(|c: char| c.is_whitespace())
    {
        return Err(NOT_FLOAT.into());
    }
    let v = parse_c_double(s).ok_or(CmdError::from(NOT_FLOAT))?;
    if v.is_nan() {
        return Err(NOT_FLOAT.into());
    }
    Ok(v)
}

/// The whole of `s` as C's `strtod` reads a double: decimal with optional
/// exponent, `inf`/`infinity`/`nan` in any case, or a hexadecimal float
/// (`0x1.8p3`). No surrounding white space.
pub fn parse_c_double(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = if body.len() > 2 && body[..2].eq_ignore_ascii_case("0x") {
        parse_hex_double(&body[2..])?
    } else {
        // Rust's parser already takes inf/infinity/nan in any case, but
        // also a second sign, which C refuses.
        if body.starts_with(['+', '-']) {
            return None;
        }
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// The digits of a hexadecimal float after `0x`: `h[.h][p[+-]d]`.
fn parse_hex_double(s: &str) -> Option<f64> {
    let (digits, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut mantissa = 0f64;
    for c in int.chars().chain(frac.chars()) {
        mantissa = mantissa * 16.0 + c.to_digit(16)? as f64;
    }
    let scale = exp.checked_sub(4 * frac.len() as i32)?;
    Some(mantissa * 2f64.powi(scale))
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

/// Current Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
