//! List commands: `LPUSH` and friends, on [`ListValue`].
//!
//! Replies and error texts are Redis 7.0's, including the order in which
//! Redis checks arguments, the key's existence and its type. A list is
//! created by its first push and deleted with its last element. Every list
//! write is deterministic, so it is propagated as sent.
//!
//! The blocking pops (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`)
//! run like their non-blocking forms when a list has an element; when none
//! has, the handler replies nothing and asks the connection to block
//! ([`Action::Block`] with a [`BlockSpec`]). The connection then waits for
//! a write to one of the keys and runs the same command again (see
//! `server::blocking`), so a served pop goes through the AOF or the Raft
//! log like any write. A served blocking pop is logged as the
//! non-blocking command it performed (`LPOP key`, `LMOVE ...`).

use bytes::Bytes;

use super::collection;
use super::table::{flags as f, Command};
use super::{arg_i64, is, Action, CmdError, CmdResult, Ctx, SYNTAX};
use crate::atlas::list::End;
use crate::atlas::{Blob, Db, ListValue};

fn get_list<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d ListValue>, CmdError> {
    collection::get(db, key, now)
}

fn with_list<T>(db: &mut Db, key: &[u8], now: u64, f: impl FnOnce(&mut ListValue) -> T) -> T {
    collection::with(db, key, now, f)
}

fn end_arg(a: &[u8]) -> Result<End, CmdError> {
    if is(a, "left") {
        Ok(End::Left)
    } else if is(a, "right") {
        Ok(End::Right)
    } else {
        Err(SYNTAX.into())
    }
}

/// A `count` that must be >= 0, with the message Redis uses for both a
/// non-number and a negative.
fn positive(a: &[u8], msg: &'static str) -> Result<usize, CmdError> {
    match arg_i64(a) {
        Ok(n) if n >= 0 => Ok(n as usize),
        _ => Err(msg.into()),
    }
}

/// Redis's index arithmetic: a negative index counts from the tail.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

/// `start..=stop` clamped to the list as `LRANGE` and `LTRIM` do; `None`
/// when empty.
fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut stop = if stop < 0 { stop + len } else { stop };
    start = start.max(0);
    if start > stop || start >= len {
        return None;
    }
    stop = stop.min(len - 1);
    Some((start as usize, stop as usize))
}

fn push(ctx: &mut Ctx, args: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    if get_list(db, &args[1], now)?.is_none() && only_existing {
        ctx.out.int(0);
        return Ok(());
    }
    let len = with_list(db, &args[1], now, |l| {
        for x in &args[2..] {
            l.push(end, Blob::new(x));
        }
        l.len()
    });
    ctx.propagate_argv(args);
    ctx.out.int(len as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Left, false)
}
fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Right, false)
}
fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Left, true)
}
fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push(ctx, args, End::Right, true)
}

/// Pops up to `count` elements from the list at `key`, deleting it when
/// emptied. `None` when the key does not exist.
fn pop_from(db: &mut Db, key: &[u8], now: u64, end: End, count: usize) -> Option<Vec<Blob>> {
    get_list(db, key, now).ok()??;
    Some(with_list(db, key, now, |l| {
        (0..count).map_while(|_| l.pop(end)).collect()
    }))
}

fn pop(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(format!(
            "ERR wrong number of arguments for '{}' command",
            String::from_utf8_lossy(&args[0]).to_ascii_lowercase()
        )
        .into());
    }
    let count = match args.get(2) {
        Some(a) => Some(positive(a, "ERR value is out of range, must be positive")?),
        None => None,
    };
    let now = ctx.now;
    let db = ctx.db();
    if get_list(db, &args[1], now)?.is_none() {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let popped = pop_from(db, &args[1], now, end, count.unwrap_or(1)).unwrap_or_default();
    if !popped.is_empty() {
        ctx.propagate_argv(args);
    }
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => {
            ctx.out.array(popped.len());
            for b in &popped {
                ctx.out.bulk(b);
            }
        }
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, End::Left)
}
fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, End::Right)
}

fn llen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let n = get_list(ctx.db(), &args[1], now)?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    // Redis looks the key up before it parses the index.
    let Some(l) = get_list(db, &args[1], now)? else {
        ctx.out.null();
        return Ok(());
    };
    let i = arg_i64(&args[2])?;
    match index(i, l.len()).and_then(|i| l.get(i)) {
        Some(b) => ctx.out.bulk(b),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (start, stop) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let Some(l) = get_list(db, &args[1], now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    match range(start, stop, l.len()) {
        None => ctx.out.array(0),
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for x in l.iter().skip(a).take(b - a + 1) {
                ctx.out.bulk(x);
            }
        }
    }
    Ok(())
}

fn lset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    // Redis looks the key up before it parses the index.
    let Some(l) = get_list(db, &args[1], now)? else {
        return Err("ERR no such key".into());
    };
    let i = arg_i64(&args[2])?;
    let at = index(i, l.len()).ok_or(CmdError::from("ERR index out of range"))?;
    with_list(db, &args[1], now, |l| l.set(at, Blob::new(&args[3])));
    ctx.propagate_argv(args);
    ctx.out.ok();
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = arg_i64(&args[2])?;
    let now = ctx.now;
    let db = ctx.db();
    if get_list(db, &args[1], now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let n = with_list(db, &args[1], now, |l| l.remove_matching(&args[3], count));
    if n > 0 {
        ctx.propagate_argv(args);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (start, stop) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
    let now = ctx.now;
    let db = ctx.db();
    if get_list(db, &args[1], now)?.is_some() {
        with_list(db, &args[1], now, |l| match range(start, stop, l.len()) {
            Some((a, b)) => l.trim(a, b),
            None => l.clear(),
        });
        ctx.propagate_argv(args);
    }
    ctx.out.ok();
    Ok(())
}

/// `LINSERT key BEFORE|AFTER pivot element`
fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(SYNTAX.into());
    };
    let now = ctx.now;
    let db = ctx.db();
    let Some(l) = get_list(db, &args[1], now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(at) = l.iter().position(|b| b.as_slice() == &args[3][..]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let len = with_list(db, &args[1], now, |l| {
        l.insert(at + usize::from(after), Blob::new(&args[4]));
        l.len()
    });
    ctx.propagate_argv(args);
    ctx.out.int(len as i64);
    Ok(())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen = 0usize;
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(SYNTAX.into());
        }
        let v = &args[i + 1];
        if is(&args[i], "rank") {
            rank = arg_i64(v)?;
            if rank == 0 {
                return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into());
            }
            if rank == i64::MIN {
                return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
            }
        } else if is(&args[i], "count") {
            count = Some(positive(v, "ERR COUNT can't be negative")?);
        } else if is(&args[i], "maxlen") {
            maxlen = positive(v, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let Some(l) = get_list(db, &args[1], now)? else {
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let scan = if maxlen == 0 {
        l.len()
    } else {
        maxlen.min(l.len())
    };
    let skip = rank.unsigned_abs() as usize - 1;
    let x = &args[2][..];
    let found: Vec<usize> = if rank > 0 {
        l.iter()
            .take(scan)
            .enumerate()
            .filter(|(_, b)| b.as_slice() == x)
            .map(|(i, _)| i)
            .skip(skip)
            .take(want)
            .collect()
    } else {
        let len = l.len();
        l.iter()
            .rev()
            .take(scan)
            .enumerate()
            .filter(|(_, b)| b.as_slice() == x)
            .map(|(i, _)| len - 1 - i)
            .skip(skip)
            .take(want)
            .collect()
    };
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// Moves one element from `src`'s `from` end to `dst`'s `to` end; `None`
/// when `src` does not exist. Types are checked first, as Redis does.
fn move_element(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Blob>, CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    if get_list(db, src, now)?.is_none() {
        return Ok(None);
    }
    get_list(db, dst, now)?;
    if src == dst {
        // One list: rotate in place, so a one-element list is never
        // deleted and re-created (which would drop its expiry).
        let b = with_list(db, src, now, |l| {
            let b = l.pop(from).expect("a list is never empty");
            l.push(to, b.clone());
            b
        });
        return Ok(Some(b));
    }
    let b = with_list(db, src, now, |l| l.pop(from)).expect("a list is never empty");
    with_list(db, dst, now, |l| l.push(to, b.clone()));
    Ok(Some(b))
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (from, to) = (end_arg(&args[3])?, end_arg(&args[4])?);
    match move_element(ctx, &args[1], &args[2], from, to)? {
        Some(b) => {
            ctx.propagate_argv(args);
            ctx.out.bulk(&b);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// `RPOPLPUSH source destination` (`LMOVE ... RIGHT LEFT`)
fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match move_element(ctx, &args[1], &args[2], End::Right, End::Left)? {
        Some(b) => {
            ctx.propagate_argv(args);
            ctx.out.bulk(&b);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !mpop(ctx, &args[1..])? {
        ctx.out.null_array();
    }
    Ok(())
}

/// The keys, end and count of `numkeys key [key ...] LEFT|RIGHT [COUNT n]`.
fn parse_mpop(args: &[Bytes]) -> Result<(&[Bytes], End, usize), CmdError> {
    collection::parse_mpop(args, end_arg)
}

/// `LMPOP`'s work on `numkeys key ... LEFT|RIGHT [COUNT n]`: pops from the
/// first non-empty list and replies; false (no reply) when all are empty.
fn mpop(ctx: &mut Ctx, args: &[Bytes]) -> Result<bool, CmdError> {
    let (keys, end, count) = parse_mpop(args)?;
    let now = ctx.now;
    let db = ctx.db();
    for key in keys {
        if get_list(db, key, now)?.is_none() {
            continue;
        }
        let popped = pop_from(db, key, now, end, count).unwrap_or_default();
        // Replayed as the pop it did, on the key it found.
        let side: &[u8] = if end == End::Left { b"LPOP" } else { b"RPOP" };
        ctx.propagate(&[side, key, popped.len().to_string().as_bytes()]);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(popped.len());
        for b in &popped {
            ctx.out.bulk(b);
        }
        return Ok(true);
    }
    Ok(false)
}

// ---- blocking pops ---------------------------------------------------------

/// What a blocked connection waits for: the keys, until when, and what to
/// answer when the time is up.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockSpec {
    /// The command, run again on every wake-up.
    pub command: Vec<Bytes>,
    /// Keys of the client's database whose writes wake it.
    pub keys: Vec<Bytes>,
    /// `None`: until an element comes (timeout 0).
    pub timeout: Option<std::time::Duration>,
    /// The reply on timeout is a null array (`BLPOP`, `BLMPOP`), else a
    /// null bulk string (`BLMOVE`, `BRPOPLPUSH`).
    pub null_array: bool,
    /// The type whose arrival is worth a retry.
    pub wants: Wants,
}

/// What a blocked client waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wants {
    List,
    Zset,
}

impl BlockSpec {
    /// The command to run again when woken, narrowed to `ready`, the keys
    /// that now hold what the client waits for (in its order). Like
    /// Redis, a client is served from a key that got an element even if
    /// an earlier key it named has since become another type.
    pub fn retry_command(&self, ready: &[Bytes]) -> Vec<Bytes> {
        let c = &self.command;
        let name = String::from_utf8_lossy(&c[0]).to_ascii_lowercase();
        match name.as_str() {
            "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
                let mut out = vec![c[0].clone()];
                out.extend(ready.iter().cloned());
                out.push(c[c.len() - 1].clone());
                out
            }
            "blmpop" | "bzmpop" => {
                // name timeout numkeys key... where [COUNT n]
                let rest = &c[3 + self.keys.len()..];
                let mut out = vec![c[0].clone(), c[1].clone()];
                out.push(Bytes::from(ready.len().to_string()));
                out.extend(ready.iter().cloned());
                out.extend(rest.iter().cloned());
                out
            }
            _ => c.clone(),
        }
    }

    /// Whether the command also writes a destination (`BLMOVE`,
    /// `BRPOPLPUSH`), whose wrong type is the client's error.
    pub fn has_destination(&self) -> bool {
        let name = String::from_utf8_lossy(&self.command[0]).to_ascii_lowercase();
        name == "blmove" || name == "brpoplpush"
    }
}

/// Redis's blocking timeout: seconds, fractions allowed, 0 = forever.
pub(super) fn parse_timeout(a: &[u8]) -> Result<Option<std::time::Duration>, CmdError> {
    const BAD: &str = "ERR timeout is not a float or out of range";
    let secs = super::arg_f64(a).map_err(|_| CmdError::from(BAD))?;
    // Redis converts to integer milliseconds; past the range of that
    // (infinity included) the value wraps negative there, hence its text.
    if secs < 0.0 || !secs.is_finite() || secs * 1000.0 > i64::MAX as f64 {
        return Err("ERR timeout is negative".into());
    }
    Ok((secs > 0.0).then(|| std::time::Duration::from_secs_f64(secs)))
}

/// Parses a blocking command's arguments (errors as Redis reports them,
/// before it looks at any key) into what its connection waits for.
pub fn block_spec(args: &[Bytes]) -> Result<BlockSpec, CmdError> {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let last = &args[args.len() - 1];
    match name.as_str() {
        "blpop" | "brpop" => Ok(BlockSpec {
            command: args.to_vec(),
            keys: args[1..args.len() - 1].to_vec(),
            timeout: parse_timeout(last)?,
            null_array: true,
            wants: Wants::List,
        }),
        "blmove" => {
            end_arg(&args[3])?;
            end_arg(&args[4])?;
            Ok(BlockSpec {
                command: args.to_vec(),
                keys: vec![args[1].clone()],
                timeout: parse_timeout(last)?,
                null_array: false,
                wants: Wants::List,
            })
        }
        "brpoplpush" => Ok(BlockSpec {
            command: args.to_vec(),
            keys: vec![args[1].clone()],
            timeout: parse_timeout(last)?,
            null_array: false,
            wants: Wants::List,
        }),
        "blmpop" => {
            // Redis parses the rest before the timeout here.
            let (keys, _, _) = parse_mpop(&args[2..])?;
            let timeout = parse_timeout(&args[1])?;
            Ok(BlockSpec {
                command: args.to_vec(),
                keys: keys.to_vec(),
                timeout,
                null_array: true,
                wants: Wants::List,
            })
        }
        "bzpopmin" | "bzpopmax" | "bzmpop" => super::zset::block_spec(&name, args),
        other => Err(format!("ERR {other} does not block").into()),
    }
}

/// What a blocking command that found nothing answers when it runs as a
/// Raft entry: the connection that proposed it turns this into waiting
/// (an entry cannot block; other nodes discard it).
pub const BLOCKED_REPLY: &[u8] = b"-HELIOSBLOCKED internal: the command would block\r\n";

pub(super) fn block(ctx: &mut Ctx, spec: BlockSpec) -> CmdResult {
    if ctx.client.in_exec {
        // Inside a transaction a blocking pop answers at once, as a timeout.
        if spec.null_array {
            ctx.out.null_array();
        } else {
            ctx.out.null();
        }
        return Ok(());
    }
    ctx.action = Some(Action::Block(spec));
    Ok(())
}

/// `BLPOP`/`BRPOP key [key ...] timeout`
fn blocking_pop(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let spec = block_spec(args)?;
    let now = ctx.now;
    let db = ctx.db();
    for key in &spec.keys {
        if get_list(db, key, now)?.is_none() {
            continue;
        }
        let b = pop_from(db, key, now, end, 1)
            .and_then(|mut v| v.pop())
            .expect("a list is never empty");
        let side: &[u8] = if end == End::Left { b"LPOP" } else { b"RPOP" };
        ctx.propagate(&[side, key]);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.bulk(&b);
        return Ok(());
    }
    block(ctx, spec)
}

fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, End::Left)
}
fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    blocking_pop(ctx, args, End::Right)
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let spec = block_spec(args)?;
    let (from, to) = (end_arg(&args[3])?, end_arg(&args[4])?);
    match move_element(ctx, &args[1], &args[2], from, to)? {
        Some(b) => {
            ctx.propagate(&[b"LMOVE", &args[1], &args[2], &args[3], &args[4]]);
            ctx.out.bulk(&b);
            Ok(())
        }
        None => block(ctx, spec),
    }
}

/// `BRPOPLPUSH source destination timeout`
fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let spec = block_spec(args)?;
    match move_element(ctx, &args[1], &args[2], End::Right, End::Left)? {
        Some(b) => {
            ctx.propagate(&[b"RPOPLPUSH", &args[1], &args[2]]);
            ctx.out.bulk(&b);
            Ok(())
        }
        None => block(ctx, spec),
    }
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let spec = block_spec(args)?;
    if mpop(ctx, &args[2..])? {
        return Ok(());
    }
    block(ctx, spec)
}

const RW: u32 = f::WRITE | f::DENYOOM;
const RO: u32 = f::READONLY;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command { name: "lpush", full_name: "lpush", arity: -3, flags: RW | f::FAST, keys: (1, 1, 1), group: "list", summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.", complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", syntax: "key element [element ...]", run: lpush, ..Command::BASE },
    Command { name: "rpush", full_name: "rpush", arity: -3, flags: RW | f::FAST, keys: (1, 1, 1), group: "list", summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.", complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", syntax: "key element [element ...]", run: rpush, ..Command::BASE },
    Command { name: "lpushx", full_name: "lpushx", arity: -3, flags: RW | f::FAST, keys: (1, 1, 1), group: "list", since: "2.2.0", summary: "Prepends one or more elements to a list only when the list exists.", complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", syntax: "key element [element ...]", run: lpushx, ..Command::BASE },
    Command { name: "rpushx", full_name: "rpushx", arity: -3, flags: RW | f::FAST, keys: (1, 1, 1), group: "list", since: "2.2.0", summary: "Appends an element to a list only when the list exists.", complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", syntax: "key element [element ...]", run: rpushx, ..Command::BASE },
    Command { name: "lpop", full_name: "lpop", arity: -2, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "list", summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", complexity: "O(N) where N is the number of elements returned", syntax: "key [count]", run: lpop, ..Command::BASE },
    Command { name: "rpop", full_name: "rpop", arity: -2, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "list", summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", complexity: "O(N) where N is the number of elements returned", syntax: "key [count]", run: rpop, ..Command::BASE },
    Command { name: "llen", full_name: "llen", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), group: "list", summary: "Returns the length of a list.", syntax: "key", run: llen, ..Command::BASE },
    Command { name: "lindex", full_name: "lindex", arity: 3, flags: RO, keys: (1, 1, 1), group: "list", summary: "Returns an element from a list by its index.", complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", syntax: "key index", run: lindex, ..Command::BASE },
    Command { name: "lrange", full_name: "lrange", arity: 4, flags: RO, keys: (1, 1, 1), group: "list", summary: "Returns a range of elements from a list.", complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", syntax: "key start stop", run: lrange, ..Command::BASE },
    Command { name: "lset", full_name: "lset", arity: 4, flags: RW, keys: (1, 1, 1), group: "list", summary: "Sets the value of an element in a list by its index.", complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", syntax: "key index element", run: lset, ..Command::BASE },
    Command { name: "lrem", full_name: "lrem", arity: 4, flags: f::WRITE, keys: (1, 1, 1), group: "list", summary: "Removes elements from a list. Deletes the list if the last element was removed.", complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.", syntax: "key count element", run: lrem, ..Command::BASE },
    Command { name: "ltrim", full_name: "ltrim", arity: 4, flags: f::WRITE, keys: (1, 1, 1), group: "list", summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", complexity: "O(N) where N is the number of elements to be removed by the operation.", syntax: "key start stop", run: ltrim, ..Command::BASE },
    Command { name: "linsert", full_name: "linsert", arity: 5, flags: RW, keys: (1, 1, 1), group: "list", since: "2.2.0", summary: "Inserts an element before or after another element in a list.", complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", syntax: "key BEFORE | AFTER pivot element", run: linsert, ..Command::BASE },
    Command { name: "lpos", full_name: "lpos", arity: -3, flags: RO, keys: (1, 1, 1), group: "list", since: "6.0.6", summary: "Returns the index of matching elements in a list.", complexity: "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", syntax: "key element [RANK rank] [COUNT num-matches] [MAXLEN len]", run: lpos, ..Command::BASE },
    Command { name: "lmove", full_name: "lmove", arity: 5, flags: RW, keys: (1, 2, 1), group: "list", since: "6.2.0", summary: "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", syntax: "source destination LEFT | RIGHT LEFT | RIGHT", run: lmove, ..Command::BASE },
    Command { name: "rpoplpush", full_name: "rpoplpush", arity: 3, flags: RW, keys: (1, 2, 1), group: "list", since: "1.2.0", summary: "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", syntax: "source destination", run: rpoplpush, ..Command::BASE },
    Command { name: "blpop", full_name: "blpop", arity: -3, flags: f::WRITE | f::BLOCKING, keys: (1, -2, 1), group: "list", summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", complexity: "O(N) where N is the number of provided keys.", syntax: "key [key ...] timeout", run: blpop, ..Command::BASE },
    Command { name: "brpop", full_name: "brpop", arity: -3, flags: f::WRITE | f::BLOCKING, keys: (1, -2, 1), group: "list", since: "2.0.0", summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", complexity: "O(N) where N is the number of provided keys.", syntax: "key [key ...] timeout", run: brpop, ..Command::BASE },
    Command { name: "blmove", full_name: "blmove", arity: 6, flags: RW | f::BLOCKING, keys: (1, 2, 1), group: "list", since: "6.2.0", summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", syntax: "source destination LEFT | RIGHT LEFT | RIGHT timeout", run: blmove, ..Command::BASE },
    Command { name: "brpoplpush", full_name: "brpoplpush", arity: 4, flags: RW | f::BLOCKING, keys: (1, 2, 1), group: "list", since: "2.2.0", summary: "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", syntax: "source destination timeout", run: brpoplpush, ..Command::BASE },
    Command { name: "blmpop", full_name: "blmpop", arity: -5, flags: f::WRITE | f::BLOCKING, keys: (0, 0, 0), group: "list", since: "7.0.0", summary: "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.", syntax: "timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]", run: blmpop, ..Command::BASE },
    Command { name: "lmpop", full_name: "lmpop", arity: -4, flags: f::WRITE, keys: (0, 0, 0), group: "list", since: "7.0.0", summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", complexity: "O(N+M) where N is the number of provided keys and M is the number of elements returned.", syntax: "numkeys key [key ...] LEFT | RIGHT [COUNT count]", run: lmpop, ..Command::BASE },
];
