//! Hash commands: `HSET` and friends, on [`HashValue`].
//!
//! Replies and error texts are Redis's. A hash is created by its first
//! field and deleted with its last one, so an empty hash never exists.
//! Writes are propagated as sent, except `HINCRBYFLOAT`, which is
//! propagated as an `HSET` of its result (as Redis does) so replay cannot
//! drift with float formatting. `HRANDFIELD` is a read: in raft mode each
//! node answers from its own random draw, which is fine for a read.

use bytes::Bytes;
use rand::Rng;

use super::collection;
use super::keys::parse_cursor;
use super::longdouble::{incr_by_float, IncrFloatError};
use super::table::{flags as f, Command};
use super::{arg_i64, is, CmdError, CmdResult, Ctx, NOT_FLOAT, OVERFLOW, SYNTAX};
use crate::atlas::{Blob, Db, HashValue};
use crate::resp::out::fmt_i64;
use crate::resp::parse::parse_i64;

fn get_hash<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d HashValue>, CmdError> {
    collection::get(db, key, now)
}

fn with_hash<T>(db: &mut Db, key: &[u8], now: u64, f: impl FnOnce(&mut HashValue) -> T) -> T {
    collection::with(db, key, now, f)
}

fn wrong_args(name: &str) -> CmdError {
    format!("ERR wrong number of arguments for '{name}' command").into()
}

/// `HSET key field value [field value ...]`: fields added.
fn hset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let added = hset_pairs(ctx, args, "hset")?;
    ctx.out.int(added as i64);
    Ok(())
}

/// `HMSET key field value [field value ...]`: `+OK`.
fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    hset_pairs(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hset_pairs(ctx: &mut Ctx, args: &[Bytes], name: &str) -> Result<usize, CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(wrong_args(name));
    }
    let now = ctx.now;
    let db = ctx.db();
    get_hash(db, &args[1], now)?;
    let added = with_hash(db, &args[1], now, |h| {
        args[2..]
            .chunks(2)
            .filter(|p| h.insert(&p[0], Blob::new(&p[1])))
            .count()
    });
    ctx.propagate_argv(args);
    Ok(added)
}

/// `HSETNX key field value`: 1 if set, 0 if the field existed.
fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    if get_hash(db, &args[1], now)?.is_some_and(|h| h.get(&args[2]).is_some()) {
        ctx.out.int(0);
        return Ok(());
    }
    with_hash(db, &args[1], now, |h| {
        h.insert(&args[2], Blob::new(&args[3]))
    });
    ctx.propagate_argv(args);
    ctx.out.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    match get_hash(db, &args[1], now)?.and_then(|h| h.get(&args[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let h = get_hash(db, &args[1], now)?;
    ctx.out.array(args.len() - 2);
    for field in &args[2..] {
        match h.and_then(|h| h.get(field)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// `HDEL key field [field ...]`: fields removed.
fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    if get_hash(db, &args[1], now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let removed = with_hash(db, &args[1], now, |h| {
        args[2..].iter().filter(|f| h.remove(f)).count()
    });
    if removed > 0 {
        ctx.propagate_argv(args);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let n = get_hash(ctx.db(), &args[1], now)?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let n = get_hash(ctx.db(), &args[1], now)?
        .and_then(|h| h.get(&args[2]))
        .map_or(0, |v| v.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let there = get_hash(ctx.db(), &args[1], now)?.is_some_and(|h| h.get(&args[2]).is_some());
    ctx.out.int(there as i64);
    Ok(())
}

/// Which halves of the pairs `HKEYS`, `HVALS` and `HGETALL` return.
#[derive(Clone, Copy)]
enum Parts {
    Fields,
    Values,
    Both,
}

fn hgetall_generic(ctx: &mut Ctx, args: &[Bytes], parts: Parts) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let Some(h) = get_hash(db, &args[1], now)? else {
        match parts {
            Parts::Both => ctx.out.map(0),
            _ => ctx.out.array(0),
        }
        return Ok(());
    };
    match parts {
        Parts::Both => ctx.out.map(h.len()),
        _ => ctx.out.array(h.len()),
    }
    for (field, value) in h.iter() {
        match parts {
            Parts::Fields => ctx.out.bulk(field),
            Parts::Values => ctx.out.bulk(value),
            Parts::Both => {
                ctx.out.bulk(field);
                ctx.out.bulk(value);
            }
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    hgetall_generic(ctx, args, Parts::Fields)
}

fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    hgetall_generic(ctx, args, Parts::Values)
}

fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    hgetall_generic(ctx, args, Parts::Both)
}

/// `HINCRBY key field increment`
fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let delta = arg_i64(&args[3])?;
    let now = ctx.now;
    let db = ctx.db();
    let cur = match get_hash(db, &args[1], now)?.and_then(|h| h.get(&args[2])) {
        Some(v) => parse_i64(v).ok_or(CmdError::from("ERR hash value is not an integer"))?,
        None => 0,
    };
    let new = cur.checked_add(delta).ok_or(CmdError::from(OVERFLOW))?;
    let mut tmp = [0u8; 20];
    let text = fmt_i64(new, &mut tmp);
    with_hash(db, &args[1], now, |h| h.insert(&args[2], Blob::new(text)));
    ctx.propagate_argv(args);
    ctx.out.int(new);
    Ok(())
}

/// `HINCRBYFLOAT key field increment`, replayed as `HSET` of the result.
fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis judges the increment before the stored value, and refuses an
    // infinite one outright.
    match incr_by_float(b"0", &args[3]) {
        Err(IncrFloatError::BadIncrement) => return Err(NOT_FLOAT.into()),
        Err(IncrFloatError::NanOrInfinity) => return Err("ERR value is NaN or Infinity".into()),
        _ => {}
    }
    let now = ctx.now;
    let db = ctx.db();
    let cur = get_hash(db, &args[1], now)?
        .and_then(|h| h.get(&args[2]))
        .map(|v| v.to_vec());
    let new = incr_by_float(cur.as_deref().unwrap_or(b"0"), &args[3]).map_err(|e| match e {
        IncrFloatError::BadValue => CmdError::from("ERR hash value is not a float"),
        IncrFloatError::BadIncrement => CmdError::from(NOT_FLOAT),
        IncrFloatError::NanOrInfinity => "ERR increment would produce NaN or Infinity".into(),
    })?;
    with_hash(db, &args[1], now, |h| h.insert(&args[2], Blob::new(&new)));
    ctx.propagate(&[b"HSET", &args[1], &args[2], &new]);
    ctx.out.bulk(&new);
    Ok(())
}

/// `HRANDFIELD key [count [WITHVALUES]]`
fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    if args.len() == 2 {
        let db = &mut ctx.store.ks.dbs[ctx.client.db];
        match get_hash(db, &args[1], now)?.and_then(|h| h.random(rand::thread_rng().gen())) {
            Some((field, _)) => ctx.out.bulk(field),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = arg_i64(&args[2])?;
    if count == i64::MIN {
        return Err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
                .into(),
        );
    }
    let with_values = match args.len() {
        3 => false,
        4 if is(&args[3], "withvalues") => true,
        _ => return Err(SYNTAX.into()),
    };
    if with_values && count < -(i64::MAX / 2) {
        return Err("ERR value is out of range".into());
    }
    let resp3 = ctx.out.resp3;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let Some(h) = get_hash(db, &args[1], now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let mut rng = rand::thread_rng();
    let picks: Vec<(&Blob, &Blob)> = if count < 0 {
        // Repeats allowed: independent draws.
        (0..count.unsigned_abs())
            .filter_map(|_| h.random(rng.gen()))
            .collect()
    } else if count as usize >= h.len() {
        h.iter().collect()
    } else {
        distinct_random(h, count as usize, &mut rng)
    };
    if with_values && resp3 {
        ctx.out.array(picks.len());
        for (field, value) in picks {
            ctx.out.array(2);
            ctx.out.bulk(field);
            ctx.out.bulk(value);
        }
    } else if with_values {
        ctx.out.array(picks.len() * 2);
        for (field, value) in picks {
            ctx.out.bulk(field);
            ctx.out.bulk(value);
        }
    } else {
        ctx.out.array(picks.len());
        for (field, _) in picks {
            ctx.out.bulk(field);
        }
    }
    Ok(())
}

/// `count` distinct fields, `count < h.len()`. As Redis: when most of the
/// hash is wanted, drop random fields from a full copy; otherwise draw
/// until enough distinct ones came up.
fn distinct_random<'h>(
    h: &'h HashValue,
    count: usize,
    rng: &mut impl Rng,
) -> Vec<(&'h Blob, &'h Blob)> {
    if count * 3 > h.len() {
        let mut all: Vec<(&Blob, &Blob)> = h.iter().collect();
        while all.len() > count {
            let i = rng.gen_range(0..all.len());
            all.swap_remove(i);
        }
        return all;
    }
    let mut seen = std::collections::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        if let Some((field, value)) = h.random(rng.gen()) {
            if seen.insert(field.as_slice()) {
                out.push((field, value));
            }
        }
    }
    out
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[2]).ok_or(CmdError::from("ERR invalid cursor"))?;
    let now = ctx.now;
    // As Redis: the cursor, then the key (a missing key is an empty page
    // whatever the options say), then the options.
    if get_hash(ctx.db(), &args[1], now)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let o = collection::scan_options(args, 3, false)?;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let mut found: Vec<&[u8]> = Vec::new();
    let next = match get_hash(db, &args[1], now)? {
        None => 0,
        Some(h) => h.scan(cursor, o.count, |field, value| {
            if o.matches(field) {
                found.push(field);
                found.push(value);
            }
        }),
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.bulk_array(found.into_iter());
    Ok(())
}

const RW: u32 = f::WRITE | f::DENYOOM;
const RO: u32 = f::READONLY;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command { name: "hset", full_name: "hset", arity: -4, flags: RW | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Creates or modifies the value of a field in a hash.", complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", syntax: "key field value [field value ...]", run: hset, ..Command::BASE },
    Command { name: "hmset", full_name: "hmset", arity: -4, flags: RW | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Sets the values of multiple fields.", complexity: "O(N) where N is the number of fields being set.", syntax: "key field value [field value ...]", run: hmset, ..Command::BASE },
    Command { name: "hsetnx", full_name: "hsetnx", arity: 4, flags: RW | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Sets the value of a field in a hash only when the field doesn't exist.", syntax: "key field value", run: hsetnx, ..Command::BASE },
    Command { name: "hget", full_name: "hget", arity: 3, flags: RO | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Returns the value of a field in a hash.", syntax: "key field", run: hget, ..Command::BASE },
    Command { name: "hmget", full_name: "hmget", arity: -3, flags: RO | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Returns the values of all fields in a hash.", complexity: "O(N) where N is the number of fields being requested.", syntax: "key field [field ...]", run: hmget, ..Command::BASE },
    Command { name: "hdel", full_name: "hdel", arity: -3, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", complexity: "O(N) where N is the number of fields to be removed.", syntax: "key field [field ...]", run: hdel, ..Command::BASE },
    Command { name: "hlen", full_name: "hlen", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Returns the number of fields in a hash.", syntax: "key", run: hlen, ..Command::BASE },
    Command { name: "hstrlen", full_name: "hstrlen", arity: 3, flags: RO | f::FAST, keys: (1, 1, 1), group: "hash", since: "3.2.0", summary: "Returns the length of the value of a field.", syntax: "key field", run: hstrlen, ..Command::BASE },
    Command { name: "hexists", full_name: "hexists", arity: 3, flags: RO | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Determines whether a field exists in a hash.", syntax: "key field", run: hexists, ..Command::BASE },
    Command { name: "hkeys", full_name: "hkeys", arity: 2, flags: RO, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Returns all fields in a hash.", complexity: "O(N) where N is the size of the hash.", syntax: "key", run: hkeys, ..Command::BASE },
    Command { name: "hvals", full_name: "hvals", arity: 2, flags: RO, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Returns all values in a hash.", complexity: "O(N) where N is the size of the hash.", syntax: "key", run: hvals, ..Command::BASE },
    Command { name: "hgetall", full_name: "hgetall", arity: 2, flags: RO, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Returns all fields and values in a hash.", complexity: "O(N) where N is the size of the hash.", syntax: "key", run: hgetall, ..Command::BASE },
    Command { name: "hincrby", full_name: "hincrby", arity: 4, flags: RW | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.0.0", summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", syntax: "key field increment", run: hincrby, ..Command::BASE },
    Command { name: "hincrbyfloat", full_name: "hincrbyfloat", arity: 4, flags: RW | f::FAST, keys: (1, 1, 1), group: "hash", since: "2.6.0", summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", syntax: "key field increment", run: hincrbyfloat, ..Command::BASE },
    Command { name: "hrandfield", full_name: "hrandfield", arity: -2, flags: RO, keys: (1, 1, 1), group: "hash", since: "6.2.0", summary: "Returns one or more random fields from a hash.", complexity: "O(N) where N is the number of fields returned", syntax: "key [count [WITHVALUES]]", run: hrandfield, ..Command::BASE },
    Command { name: "hscan", full_name: "hscan", arity: -3, flags: RO, keys: (1, 1, 1), group: "hash", since: "2.8.0", summary: "Iterates over fields and values of a hash.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", syntax: "key cursor [MATCH pattern] [COUNT count]", run: hscan, ..Command::BASE },
];
