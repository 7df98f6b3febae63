//! `SLOWLOG`: the commands that took longer than `slowlog-log-slower-than`
//! microseconds, newest first, at most `slowlog-max-len` of them.
//!
//! Entries are Redis's: id, Unix time, duration in microseconds, the
//! arguments (at most 32, each cut at 128 bytes, with Redis's `... (N more
//! arguments)` / `... (N more bytes)` notes), the client's address and
//! name. The time is the handler's own, under the keyspace lock, as Redis
//! measures it (not the time a command waited for a lock, a Raft commit or
//! a blocked pop). Commands that carry passwords (`AUTH`, `HELLO`) and
//! `EXEC` (its commands are logged one by one) are not logged, as in Redis.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use super::table::{flags as f, Command};
use super::{arg_i64, help_reply, is, CmdError, CmdResult, Ctx};

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC` and `SLOWLOG_ENTRY_MAX_STRING`.
const MAX_ARGS: usize = 32;
const MAX_STRING: usize = 128;

struct Entry {
    id: u64,
    unix_secs: u64,
    micros: u64,
    args: Vec<Bytes>,
    addr: String,
    name: String,
}

/// The slow log and its two settings (`CONFIG SET` changes them live).
pub struct SlowLog {
    /// `slowlog-log-slower-than`: microseconds; negative turns logging off,
    /// 0 logs every command.
    pub slower_than: AtomicI64,
    /// `slowlog-max-len`.
    pub max_len: AtomicU64,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            slower_than: AtomicI64::new(10_000),
            max_len: AtomicU64::new(128),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl std::fmt::Debug for SlowLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlowLog")
            .field("len", &self.entries.lock().len())
            .finish()
    }
}

impl SlowLog {
    /// Records `args` if it took `micros` or more than the threshold.
    pub fn observe(&self, args: &[Bytes], micros: u64, addr: &str, name: &str) {
        let threshold = self.slower_than.load(Ordering::Relaxed);
        if threshold < 0 || micros < threshold as u64 {
            return;
        }
        let cmd = &args[0];
        if is(cmd, "exec") || is(cmd, "auth") || is(cmd, "hello") {
            return;
        }
        let kept = args.len().min(MAX_ARGS);
        let mut logged: Vec<Bytes> = Vec::with_capacity(kept);
        for (i, a) in args.iter().take(kept).enumerate() {
            if kept < args.len() && i == kept - 1 {
                let more = args.len() - kept + 1;
                logged.push(Bytes::from(format!("... ({more} more arguments)")));
            } else if a.len() > MAX_STRING {
                let mut cut = a[..MAX_STRING].to_vec();
                cut.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                logged.push(Bytes::from(cut));
            } else {
                logged.push(a.clone());
            }
        }
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_secs: super::unix_ms() / 1000,
            micros,
            args: logged,
            addr: addr.to_string(),
            name: name.to_string(),
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(self.max_len.load(Ordering::Relaxed) as usize);
    }

    /// Drops entries beyond a new `slowlog-max-len`.
    pub fn set_max_len(&self, n: u64) {
        self.max_len.store(n, Ordering::Relaxed);
        self.entries.lock().truncate(n as usize);
    }
}

fn slowlog_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    const RANGE: &str = "ERR count should be greater than or equal to -1";
    let count = match args.get(2) {
        None => 10,
        Some(a) => match arg_i64(a) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Err(CmdError::from(RANGE)),
        },
    };
    let entries = ctx.server.slowlog.entries.lock();
    let n = count.min(entries.len());
    ctx.out.array(n);
    for e in entries.iter().take(n) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.unix_secs as i64);
        ctx.out.int(e.micros as i64);
        ctx.out.bulk_array(e.args.iter().map(|a| a.as_ref()));
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(e.name.as_bytes());
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.server.slowlog.entries.lock().len();
    ctx.out.int(n as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.server.slowlog.entries.lock().clear();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    help_reply(
        ctx.out,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}

const SUB: u32 = f::ADMIN | f::LOADING | f::STALE;

#[rustfmt::skip]
static SLOWLOG_SUBCOMMANDS: &[Command] = &[
    Command { name: "get", full_name: "slowlog|get", arity: -2, flags: SUB, group: "server", since: "2.2.12", summary: "Returns the slow log's entries.", complexity: "O(N) where N is the number of entries returned", syntax: "[count]", run: slowlog_get, ..Command::BASE },
    Command { name: "len", full_name: "slowlog|len", arity: 2, flags: SUB, group: "server", since: "2.2.12", summary: "Returns the number of entries in the slow log.", run: slowlog_len, ..Command::BASE },
    Command { name: "reset", full_name: "slowlog|reset", arity: 2, flags: SUB, group: "server", since: "2.2.12", summary: "Clears all entries from the slow log.", complexity: "O(N) where N is the number of entries in the slowlog", run: slowlog_reset, ..Command::BASE },
    Command { name: "help", full_name: "slowlog|help", arity: 2, flags: f::LOADING | f::STALE, group: "server", since: "6.2.0", summary: "Show helpful text about the different subcommands", run: slowlog_help, ..Command::BASE },
];

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command { name: "slowlog", full_name: "slowlog", arity: -2, group: "server", since: "2.2.12", summary: "A container for slow log commands.", complexity: "Depends on subcommand.", subcommands: SLOWLOG_SUBCOMMANDS, ..Command::BASE },
];
