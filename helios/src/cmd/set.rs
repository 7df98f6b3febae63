//! Set commands: `SADD` and friends, on [`SetValue`].
//!
//! Replies, reply types (RESP3 sets where Redis sends them) and error texts
//! are Redis 7.0's. A set is created by its first member and deleted with
//! its last one. `SPOP` is the one write whose effect is random: it draws
//! from [`Ctx::rng`], which in raft mode is seeded by the log entry, so
//! every node pops the same members (sets keep the same slot order on every
//! node, see `atlas::table`); the AOF records it as the `SREM` (or `DEL`)
//! of what was popped, as Redis propagates it.

use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;

use super::collection;
use super::keys::parse_cursor;
use super::table::{flags as f, Command};
use super::{arg_i64, is, CmdError, CmdResult, Ctx, SYNTAX, WRONGTYPE};
use crate::atlas::{Db, SetValue, Value};

fn get_set<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d SetValue>, CmdError> {
    collection::get(db, key, now)
}

fn with_set<T>(db: &mut Db, key: &[u8], now: u64, f: impl FnOnce(&mut SetValue) -> T) -> T {
    collection::with(db, key, now, f)
}

/// Replies with `members` as a set (RESP3 `~`, RESP2 array).
fn reply_set(ctx: &mut Ctx, members: &[Vec<u8>]) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    get_set(db, &args[1], now)?;
    let added = with_set(db, &args[1], now, |s| {
        args[2..].iter().filter(|m| s.insert(m)).count()
    });
    if added > 0 {
        ctx.propagate_argv(args);
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    if get_set(db, &args[1], now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let removed = with_set(db, &args[1], now, |s| {
        args[2..].iter().filter(|m| s.remove(m)).count()
    });
    if removed > 0 {
        ctx.propagate_argv(args);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let members = get_set(ctx.db(), &args[1], now)?.map_or_else(Vec::new, |s| s.members());
    reply_set(ctx, &members);
    Ok(())
}

fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let there = get_set(ctx.db(), &args[1], now)?.is_some_and(|s| s.contains(&args[2]));
    ctx.out.int(there as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let s = get_set(db, &args[1], now)?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let n = get_set(ctx.db(), &args[1], now)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// `SPOP key [count]`
fn spop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => {
            // Redis uses one message for both a non-number and a negative.
            const POSITIVE: &str = "ERR value is out of range, must be positive";
            let n = arg_i64(&args[2]).map_err(|_| CmdError::from(POSITIVE))?;
            if n < 0 {
                return Err(POSITIVE.into());
            }
            Some(n as u64)
        }
        _ => return Err(SYNTAX.into()),
    };
    let now = ctx.now;
    let key = &args[1];
    // Cheap (no system call); in raft mode the entry's seed.
    let mut rng = ctx.rng();
    let db = ctx.db();
    let Some(s) = get_set(db, key, now)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    let len = s.len() as u64;
    let popped: Vec<Vec<u8>> = match count {
        Some(0) => Vec::new(),
        Some(n) if n >= len => s.members(),
        _ => {
            let want = count.unwrap_or(1) as usize;
            let mut picked = Vec::with_capacity(want);
            let mut seen = std::collections::HashSet::with_capacity(want);
            // `want` < len: draw until enough distinct members came up.
            while picked.len() < want {
                let m = s.random(rng.gen()).expect("not empty");
                if seen.insert(m.clone()) {
                    picked.push(m);
                }
            }
            picked
        }
    };
    if !popped.is_empty() {
        if popped.len() as u64 == len {
            db.remove(key);
            ctx.propagate(&[b"DEL", key]);
        } else {
            with_set(db, key, now, |s| {
                for m in &popped {
                    s.remove(m);
                }
            });
            let mut srem: Vec<&[u8]> = vec![b"SREM", key];
            srem.extend(popped.iter().map(|m| m.as_slice()));
            ctx.propagate(&srem);
        }
    }
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => reply_set(ctx, &popped),
    }
    Ok(())
}

/// `SRANDMEMBER key [count]` (a read: each node draws on its own).
fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => {
            let n = arg_i64(&args[2])?;
            if n == i64::MIN {
                return Err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807".into());
            }
            Some(n)
        }
        _ => return Err(SYNTAX.into()),
    };
    let now = ctx.now;
    let mut rng = rand::thread_rng();
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let s = get_set(db, &args[1], now)?;
    let Some(count) = count else {
        match s.and_then(|s| s.random(rng.gen())) {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(s) = s else {
        ctx.out.array(0);
        return Ok(());
    };
    let picks: Vec<Vec<u8>> = if count < 0 {
        (0..count.unsigned_abs())
            .filter_map(|_| s.random(rng.gen()))
            .collect()
    } else if count as usize >= s.len() {
        s.members()
    } else {
        let want = count as usize;
        if want * 3 > s.len() {
            // Most of the set: drop random members from a full copy.
            let mut all = s.members();
            while all.len() > want {
                let i = rng.gen_range(0..all.len());
                all.swap_remove(i);
            }
            all
        } else {
            let mut seen = std::collections::HashSet::with_capacity(want);
            let mut out = Vec::with_capacity(want);
            while out.len() < want {
                let m = s.random(rng.gen()).expect("not empty");
                if seen.insert(m.clone()) {
                    out.push(m);
                }
            }
            out
        }
    };
    ctx.out.array(picks.len());
    for m in &picks {
        ctx.out.bulk(m);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// The sets at `keys` (`None` for a missing key), or WRONGTYPE if any key
/// holds another type.
fn load_sets(ctx: &mut Ctx, keys: &[Bytes]) -> Result<Vec<Option<Arc<SetValue>>>, CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    keys.iter()
        .map(|k| match db.get(k, now).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Set(s)) => Ok(Some(Arc::clone(s))),
            Some(_) => Err(WRONGTYPE.into()),
        })
        .collect()
}

/// The result of `op` over `sets`, as a set built member by member (so its
/// representation, and with it the reply order, is Redis's).
fn compute(op: SetOp, sets: &[Option<Arc<SetValue>>], limit: usize) -> SetValue {
    let mut out = SetValue::new();
    match op {
        SetOp::Inter => {
            if sets.iter().any(Option::is_none) {
                return out;
            }
            let mut sets: Vec<&SetValue> = sets.iter().flatten().map(|s| &**s).collect();
            sets.sort_by_key(|s| s.len());
            let (first, rest) = sets.split_first().expect("at least one key");
            first.for_each(|m| {
                if (limit == 0 || out.len() < limit) && rest.iter().all(|s| s.contains(m)) {
                    out.insert(m);
                }
            });
        }
        SetOp::Union => {
            for s in sets.iter().flatten() {
                s.for_each(|m| {
                    out.insert(m);
                });
            }
        }
        SetOp::Diff => {
            let Some(Some(first)) = sets.first() else {
                return out;
            };
            first.for_each(|m| {
                if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                    out.insert(m);
                }
            });
        }
    }
    out
}

fn set_op(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let sets = load_sets(ctx, &args[1..])?;
    let result = compute(op, &sets, 0);
    reply_set(ctx, &result.members());
    Ok(())
}

fn set_op_store(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let sets = load_sets(ctx, &args[2..])?;
    let result = compute(op, &sets, 0);
    let n = result.len();
    let now = ctx.now;
    let dst = &args[1];
    let db = ctx.db();
    if n == 0 {
        db.remove(dst);
    } else {
        db.insert(dst, Value::Set(Arc::new(result)), 0, now);
    }
    ctx.propagate_argv(args);
    ctx.out.int(n as i64);
    Ok(())
}

fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Inter)
}
fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Union)
}
fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op(ctx, args, SetOp::Diff)
}
fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Inter)
}
fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Union)
}
fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    set_op_store(ctx, args, SetOp::Diff)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = arg_i64(&args[1]).map_err(|_| CmdError::from(NUMKEYS))?;
    if numkeys <= 0 {
        return Err(NUMKEYS.into());
    }
    let numkeys = numkeys as usize;
    if numkeys > args.len() - 2 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(&args[i], "limit") && i + 1 < args.len() {
            const NEG: &str = "ERR LIMIT can't be negative";
            let l = arg_i64(&args[i + 1]).map_err(|_| CmdError::from(NEG))?;
            if l < 0 {
                return Err(NEG.into());
            }
            limit = l as usize;
            i += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    let sets = load_sets(ctx, &args[2..2 + numkeys])?;
    let n = compute(SetOp::Inter, &sets, limit).len();
    ctx.out.int(n as i64);
    Ok(())
}

/// `SMOVE source destination member`
fn smove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    let db = ctx.db();
    let Some(s) = get_set(db, src, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let there = s.contains(m);
    // The destination's type is checked even when nothing moves.
    get_set(db, dst, now)?;
    if src == dst || !there {
        ctx.out.int(there as i64);
        return Ok(());
    }
    with_set(db, src, now, |s| s.remove(m));
    with_set(db, dst, now, |s| s.insert(m));
    ctx.propagate_argv(args);
    ctx.out.int(1);
    Ok(())
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[2]).ok_or(CmdError::from("ERR invalid cursor"))?;
    let now = ctx.now;
    // As Redis: the cursor, then the key, then the options.
    if get_set(ctx.db(), &args[1], now)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let o = collection::scan_options(args, 3, false)?;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = match get_set(db, &args[1], now)? {
        None => 0,
        Some(s) => s.scan(cursor, o.count, |m| {
            if o.matches(m) {
                found.push(m.to_vec());
            }
        }),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.bulk_array(found.iter().map(|m| m.as_slice()));
    Ok(())
}

const RW: u32 = f::WRITE | f::DENYOOM;
const RO: u32 = f::READONLY;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command { name: "sadd", full_name: "sadd", arity: -3, flags: RW | f::FAST, keys: (1, 1, 1), group: "set", summary: "Adds one or more members to a set. Creates the key if it doesn't exist.", complexity: "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", syntax: "key member [member ...]", run: sadd, ..Command::BASE },
    Command { name: "srem", full_name: "srem", arity: -3, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "set", summary: "Removes one or more members from a set. Deletes the set if the last member was removed.", complexity: "O(N) where N is the number of members to be removed.", syntax: "key member [member ...]", run: srem, ..Command::BASE },
    Command { name: "smembers", full_name: "smembers", arity: 2, flags: RO, keys: (1, 1, 1), group: "set", summary: "Returns all members of a set.", complexity: "O(N) where N is the set cardinality.", syntax: "key", run: smembers, ..Command::BASE },
    Command { name: "sismember", full_name: "sismember", arity: 3, flags: RO | f::FAST, keys: (1, 1, 1), group: "set", summary: "Determines whether a member belongs to a set.", syntax: "key member", run: sismember, ..Command::BASE },
    Command { name: "smismember", full_name: "smismember", arity: -3, flags: RO | f::FAST, keys: (1, 1, 1), group: "set", since: "6.2.0", summary: "Determines whether multiple members belong to a set.", complexity: "O(N) where N is the number of elements being checked for membership", syntax: "key member [member ...]", run: smismember, ..Command::BASE },
    Command { name: "scard", full_name: "scard", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), group: "set", summary: "Returns the number of members in a set.", syntax: "key", run: scard, ..Command::BASE },
    Command { name: "spop", full_name: "spop", arity: -2, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "set", summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", complexity: "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", syntax: "key [count]", run: spop, ..Command::BASE },
    Command { name: "srandmember", full_name: "srandmember", arity: -2, flags: RO, keys: (1, 1, 1), group: "set", summary: "Get one or multiple random members from a set", complexity: "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", syntax: "key [count]", run: srandmember, ..Command::BASE },
    Command { name: "sinter", full_name: "sinter", arity: -2, flags: RO, keys: (1, -1, 1), group: "set", summary: "Returns the intersect of multiple sets.", complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", syntax: "key [key ...]", run: sinter, ..Command::BASE },
    Command { name: "sintercard", full_name: "sintercard", arity: -3, flags: RO, keys: (0, 0, 0), group: "set", since: "7.0.0", summary: "Returns the number of members of the intersect of multiple sets.", complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", syntax: "numkeys key [key ...] [LIMIT limit]", run: sintercard, ..Command::BASE },
    Command { name: "sunion", full_name: "sunion", arity: -2, flags: RO, keys: (1, -1, 1), group: "set", summary: "Returns the union of multiple sets.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "key [key ...]", run: sunion, ..Command::BASE },
    Command { name: "sdiff", full_name: "sdiff", arity: -2, flags: RO, keys: (1, -1, 1), group: "set", summary: "Returns the difference of multiple sets.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "key [key ...]", run: sdiff, ..Command::BASE },
    Command { name: "sinterstore", full_name: "sinterstore", arity: -3, flags: RW, keys: (1, -1, 1), group: "set", summary: "Stores the intersect of multiple sets in a key.", complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", syntax: "destination key [key ...]", run: sinterstore, ..Command::BASE },
    Command { name: "sunionstore", full_name: "sunionstore", arity: -3, flags: RW, keys: (1, -1, 1), group: "set", summary: "Stores the union of multiple sets in a key.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "destination key [key ...]", run: sunionstore, ..Command::BASE },
    Command { name: "sdiffstore", full_name: "sdiffstore", arity: -3, flags: RW, keys: (1, -1, 1), group: "set", summary: "Stores the difference of multiple sets in a key.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "destination key [key ...]", run: sdiffstore, ..Command::BASE },
    Command { name: "smove", full_name: "smove", arity: 4, flags: f::WRITE | f::FAST, keys: (1, 2, 1), group: "set", summary: "Moves a member from one set to another.", syntax: "source destination member", run: smove, ..Command::BASE },
    Command { name: "sscan", full_name: "sscan", arity: -3, flags: RO, keys: (1, 1, 1), group: "set", since: "2.8.0", summary: "Iterates over members of a set.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", syntax: "key cursor [MATCH pattern] [COUNT count]", run: sscan, ..Command::BASE },
];
