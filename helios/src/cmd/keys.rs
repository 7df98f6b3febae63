//! Generic key commands: deletion, existence, expiry, iteration, renaming,
//! copying between databases, and `OBJECT`.

use bytes::Bytes;

use super::table::{flags as f, Command};
use super::{arg_db, arg_i64, help_reply, is, CmdError, CmdResult, Ctx, SYNTAX};
use crate::atlas::{glob, lru_clock, Db, Entry};
use crate::resp::out::fmt_i64;

fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut n = 0;
    for k in &args[1..] {
        let db = ctx.db();
        if db.peek(k, now).is_some() {
            n += 1;
        }
        // An expired key is removed too; it just does not count.
        db.remove(k);
    }
    if n > 0 {
        ctx.propagate_argv(args);
    }
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let n = args[1..]
        .iter()
        .filter(|k| db.get(k, now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    exists(ctx, args)
}

fn type_cmd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let name = ctx
        .db()
        .peek(&args[1], now)
        .map_or("none", |e| e.value.type_name());
    ctx.out.simple(name);
    Ok(())
}

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

fn expire_flags(args: &[Bytes]) -> Result<u8, CmdError> {
    let mut fl = 0;
    for a in &args[3..] {
        fl |= if is(a, "nx") {
            EXPIRE_NX
        } else if is(a, "xx") {
            EXPIRE_XX
        } else if is(a, "gt") {
            EXPIRE_GT
        } else if is(a, "lt") {
            EXPIRE_LT
        } else {
            return Err(format!("ERR Unsupported option {}", String::from_utf8_lossy(a)).into());
        };
    }
    if fl & EXPIRE_NX != 0 && fl & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if fl & EXPIRE_GT != 0 && fl & EXPIRE_LT != 0 {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    Ok(fl)
}

/// The four EXPIRE commands, as Redis's `expireGenericCommand`.
fn expire_generic(ctx: &mut Ctx, args: &[Bytes], relative: bool, seconds: bool) -> CmdResult {
    let name = ctx.client.last_cmd;
    let invalid = || CmdError::from(format!("ERR invalid expire time in '{name}' command"));
    let fl = expire_flags(args)?;
    let mut when = arg_i64(&args[2])?;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(invalid());
        }
        when *= 1000;
    }
    let base = if relative { ctx.now as i64 } else { 0 };
    if when > i64::MAX - base {
        return Err(invalid());
    }
    when += base;
    let now = ctx.now;
    let key = &args[1];
    let Some(current) = ctx.db().get_mut(key, now).map(|e| e.expire_at) else {
        ctx.out.int(0);
        return Ok(());
    };
    let current: i64 = if current == 0 { -1 } else { current as i64 };
    let refused = (fl & EXPIRE_NX != 0 && current != -1)
        || (fl & EXPIRE_XX != 0 && current == -1)
        || (fl & EXPIRE_GT != 0 && (when <= current || current == -1))
        || (fl & EXPIRE_LT != 0 && current != -1 && when >= current);
    if refused {
        ctx.out.int(0);
        return Ok(());
    }
    if !ctx.loading && when <= now as i64 {
        ctx.db().remove(key);
        ctx.propagate(&[b"DEL", key]);
    } else {
        if let Some(mut e) = ctx.db().get_mut(key, now) {
            e.expire_at = when.max(1) as u64;
        }
        let mut tmp = [0u8; 20];
        ctx.propagate(&[b"PEXPIREAT", key, fmt_i64(when, &mut tmp)]);
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, true, true)
}
fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, true, false)
}
fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, false, true)
}
fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, false, false)
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME.
fn ttl_generic(ctx: &mut Ctx, args: &[Bytes], ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now;
    let Some(at) = ctx.db().peek(&args[1], now).map(|e| e.expire_at) else {
        ctx.out.int(-2);
        return Ok(());
    };
    if at == 0 {
        ctx.out.int(-1);
        return Ok(());
    }
    // i128: a deadline near i64::MAX must not overflow the rounding.
    let ttl = if absolute {
        at as i128
    } else {
        (at as i128 - now as i128).max(0)
    };
    ctx.out
        .int(if ms { ttl } else { (ttl + 500) / 1000 } as i64);
    Ok(())
}

fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}
fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}
fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}
fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

fn persist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut changed = false;
    if let Some(mut e) = ctx.db().get_mut(&args[1], now) {
        changed = e.expire_at != 0;
        e.expire_at = 0;
    }
    if changed {
        ctx.propagate_argv(args);
    }
    ctx.out.int(changed as i64);
    Ok(())
}

fn keys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let pat = &args[1][..];
    let all = pat == b"*";
    let db = &ctx.store.ks.dbs[ctx.client.db];
    let found: Vec<&[u8]> = db
        .iter()
        .filter(|e| !e.is_expired(now) && (all || glob::matches(pat, &e.key, false)))
        .map(|e| e.key.as_slice())
        .collect();
    ctx.out.bulk_array(found.into_iter());
    Ok(())
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`. The cursor is a
/// shard index (see `atlas`): whole shards are returned, so `COUNT` is a
/// lower bound per call rather than an exact size, which Redis also allows.
fn scan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1]).ok_or(CmdError::from("ERR invalid cursor"))?;
    let o = super::collection::scan_options(args, 2, true)?;
    let now = ctx.now;
    let db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = if cursor >= crate::atlas::SHARDS as u64 {
        0
    } else {
        db.scan(cursor as usize, o.count, |e: &Entry| {
            let typed = o
                .typ
                .is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
            if !e.is_expired(now) && o.matches(&e.key) && typed {
                found.push(e.key.to_vec());
            }
        })
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.bulk_array(found.iter().map(|k| k.as_slice()));
    Ok(())
}

/// Stores `e`'s value, expiry and encoding under `key` (RENAME, MOVE, COPY
/// keep all three, as Redis moves or duplicates the object itself).
fn move_entry(db: &mut Db, key: &[u8], e: Entry, now: u64) {
    db.insert(key, e.value, e.expire_at, now);
    if let Some(mut moved) = db.get_mut(key, now) {
        moved.enc = e.enc;
    }
}

/// A cursor as Redis reads it with `strtoul`: optional sign (a negative
/// value wraps), decimal digits, no leading space, no overflow.
pub(crate) fn parse_cursor(a: &[u8]) -> Option<u64> {
    let (neg, digits) = match a.first() {
        Some(b'-') => (true, &a[1..]),
        Some(b'+') => (false, &a[1..]),
        _ => (false, a),
    };
    if digits.iter().any(|d| !d.is_ascii_digit()) || (digits.is_empty() && !a.is_empty()) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

fn rename_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> CmdResult {
    let now = ctx.now;
    let (src, dst) = (&args[1], &args[2]);
    let db = ctx.db();
    if db.peek(src, now).is_none() {
        db.remove(src);
        return Err("ERR no such key".into());
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && db.peek(dst, now).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let e = db.remove(src).expect("checked above");
    move_entry(db, dst, e, now);
    ctx.propagate_argv(args);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, false)
}
fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, true)
}

fn randomkey(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    match ctx.db().random_key(now) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn db_index(ctx: &Ctx, a: &[u8]) -> Result<usize, CmdError> {
    arg_db(a, ctx.store.ks.dbs.len())
}

/// `COPY source destination [DB destination-db] [REPLACE]`
fn copy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if is(&args[j], "replace") {
            replace = true;
        } else if is(&args[j], "db") && j + 1 < args.len() {
            dst_db = db_index(ctx, &args[j + 1])?;
            j += 1;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let (key, newkey) = (&args[1], &args[2]);
    if src_db == dst_db && key == newkey {
        return Err("ERR source and destination objects are the same".into());
    }
    let now = ctx.now;
    let Some(copy) = ctx.store.ks.dbs[src_db].get(key, now).cloned() else {
        ctx.out.int(0);
        return Ok(());
    };
    let dst = &mut ctx.store.ks.dbs[dst_db];
    if dst.peek(newkey, now).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        dst.remove(newkey);
    }
    move_entry(dst, newkey, copy, now);
    ctx.propagate_argv(args);
    ctx.out.int(1);
    Ok(())
}

fn move_cmd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let dst_db = db_index(ctx, &args[2])?;
    let src_db = ctx.client.db;
    if src_db == dst_db {
        return Err("ERR source and destination objects are the same".into());
    }
    let now = ctx.now;
    let key = &args[1];
    if ctx.store.ks.dbs[src_db].get_mut(key, now).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if ctx.store.ks.dbs[dst_db].peek(key, now).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let e = ctx.store.ks.dbs[src_db].remove(key).expect("checked above");
    move_entry(&mut ctx.store.ks.dbs[dst_db], key, e, now);
    ctx.propagate_argv(args);
    ctx.out.int(1);
    Ok(())
}

fn object_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
    ];
    help_reply(ctx.out, &lines);
    Ok(())
}

fn object_entry<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Option<&'c Entry> {
    let now = ctx.now;
    ctx.store.ks.dbs[ctx.client.db].peek(key, now)
}

fn object_encoding(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match object_entry(ctx, &args[2]).map(|e| e.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if object_entry(ctx, &args[2]).is_none() {
        ctx.out.null();
        return Ok(());
    }
    Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into())
}

fn object_idletime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let clock = lru_clock(ctx.now);
    match object_entry(ctx, &args[2]).map(|e| e.access) {
        Some(at) => ctx.out.int(clock.wrapping_sub(at) as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_refcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let Some(e) = object_entry(ctx, &args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    // Redis shares the integer objects 0..9999 and reports them as
    // referenced INT_MAX times.
    let shared = match &e.value {
        crate::atlas::Value::Str(b) => {
            crate::resp::parse::parse_i64(b).is_some_and(|n| (0..10_000).contains(&n))
        }
        _ => false,
    };
    ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
    Ok(())
}

const W: u32 = f::WRITE;
const RO: u32 = f::READONLY;

static OBJECT_SUBCOMMANDS: &[Command] = &[
    Command {
        name: "encoding",
        full_name: "object|encoding",
        arity: 3,
        flags: RO,
        keys: (2, 2, 1),
        since: "2.2.3",
        summary: "Returns the internal encoding of a Redis object.",
        syntax: "key",
        run: object_encoding,
        ..Command::BASE
    },
    Command {
        name: "freq",
        full_name: "object|freq",
        arity: 3,
        flags: RO,
        keys: (2, 2, 1),
        since: "4.0.0",
        summary: "Returns the logarithmic access frequency counter of a Redis object.",
        syntax: "key",
        run: object_freq,
        ..Command::BASE
    },
    Command {
        name: "idletime",
        full_name: "object|idletime",
        arity: 3,
        flags: RO,
        keys: (2, 2, 1),
        since: "2.2.3",
        summary: "Returns the time since the last access to a Redis object.",
        syntax: "key",
        run: object_idletime,
        ..Command::BASE
    },
    Command {
        name: "refcount",
        full_name: "object|refcount",
        arity: 3,
        flags: RO,
        keys: (2, 2, 1),
        since: "2.2.3",
        summary: "Returns the reference count of a value of a key.",
        syntax: "key",
        run: object_refcount,
        ..Command::BASE
    },
    Command {
        name: "help",
        full_name: "object|help",
        arity: 2,
        flags: f::LOADING | f::STALE,
        since: "6.2.0",
        summary: "Returns helpful text about the different subcommands.",
        run: object_help,
        ..Command::BASE
    },
];

pub static COMMANDS: &[Command] = &[
    Command { name: "del", full_name: "del", arity: -2, flags: W, keys: (1, -1, 1), summary: "Deletes one or more keys.", complexity: "O(N) where N is the number of keys that will be removed.", syntax: "key [key ...]", run: del, ..Command::BASE },
    Command { name: "unlink", full_name: "unlink", arity: -2, flags: W | f::FAST, keys: (1, -1, 1), since: "4.0.0", summary: "Asynchronously deletes one or more keys.", complexity: "O(1) for each key removed regardless of its size.", syntax: "key [key ...]", run: del, ..Command::BASE },
    Command { name: "exists", full_name: "exists", arity: -2, flags: RO | f::FAST, keys: (1, -1, 1), summary: "Determines whether one or more keys exist.", complexity: "O(N) where N is the number of keys to check.", syntax: "key [key ...]", run: exists, ..Command::BASE },
    Command { name: "touch", full_name: "touch", arity: -2, flags: RO | f::FAST, keys: (1, -1, 1), since: "3.2.1", summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed.", complexity: "O(N) where N is the number of keys that will be touched.", syntax: "key [key ...]", run: touch, ..Command::BASE },
    Command { name: "type", full_name: "type", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), summary: "Determines the type of value stored at a key.", syntax: "key", run: type_cmd, ..Command::BASE },
    Command { name: "expire", full_name: "expire", arity: -3, flags: W | f::FAST, keys: (1, 1, 1), summary: "Sets the expiration time of a key in seconds.", syntax: "key seconds [NX | XX | GT | LT]", run: expire, ..Command::BASE },
    Command { name: "pexpire", full_name: "pexpire", arity: -3, flags: W | f::FAST, keys: (1, 1, 1), since: "2.6.0", summary: "Sets the expiration time of a key in milliseconds.", syntax: "key milliseconds [NX | XX | GT | LT]", run: pexpire, ..Command::BASE },
    Command { name: "expireat", full_name: "expireat", arity: -3, flags: W | f::FAST, keys: (1, 1, 1), since: "1.2.0", summary: "Sets the expiration time of a key to a Unix timestamp.", syntax: "key unix-time-seconds [NX | XX | GT | LT]", run: expireat, ..Command::BASE },
    Command { name: "pexpireat", full_name: "pexpireat", arity: -3, flags: W | f::FAST, keys: (1, 1, 1), since: "2.6.0", summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.", syntax: "key unix-time-milliseconds [NX | XX | GT | LT]", run: pexpireat, ..Command::BASE },
    Command { name: "ttl", full_name: "ttl", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), summary: "Returns the expiration time in seconds of a key.", syntax: "key", run: ttl, ..Command::BASE },
    Command { name: "pttl", full_name: "pttl", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), since: "2.6.0", summary: "Returns the expiration time in milliseconds of a key.", syntax: "key", run: pttl, ..Command::BASE },
    Command { name: "expiretime", full_name: "expiretime", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), since: "7.0.0", summary: "Returns the expiration time of a key as a Unix timestamp.", syntax: "key", run: expiretime, ..Command::BASE },
    Command { name: "pexpiretime", full_name: "pexpiretime", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), since: "7.0.0", summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.", syntax: "key", run: pexpiretime, ..Command::BASE },
    Command { name: "persist", full_name: "persist", arity: 2, flags: W | f::FAST, keys: (1, 1, 1), since: "2.2.0", summary: "Removes the expiration time of a key.", syntax: "key", run: persist, ..Command::BASE },
    Command { name: "keys", full_name: "keys", arity: 2, flags: RO, summary: "Returns all key names that match a pattern.", complexity: "O(N) with N being the number of keys in the database", syntax: "pattern", run: keys, ..Command::BASE },
    Command { name: "scan", full_name: "scan", arity: -2, flags: RO, since: "2.8.0", summary: "Iterates over the key names in the database.", complexity: "O(1) for every call. O(N) for a complete iteration.", syntax: "cursor [MATCH pattern] [COUNT count] [TYPE type]", run: scan, ..Command::BASE },
    Command { name: "rename", full_name: "rename", arity: 3, flags: W, keys: (1, 2, 1), summary: "Renames a key and overwrites the destination.", syntax: "key newkey", run: rename, ..Command::BASE },
    Command { name: "renamenx", full_name: "renamenx", arity: 3, flags: W | f::FAST, keys: (1, 2, 1), summary: "Renames a key only when the target key name doesn't exist.", syntax: "key newkey", run: renamenx, ..Command::BASE },
    Command { name: "randomkey", full_name: "randomkey", arity: 1, flags: RO, summary: "Returns a random key name from the database.", run: randomkey, ..Command::BASE },
    Command { name: "copy", full_name: "copy", arity: -3, flags: W | f::DENYOOM, keys: (1, 2, 1), since: "6.2.0", summary: "Copies the value of a key to a new key.", complexity: "O(N) worst case for collections, where N is the number of nested items.", syntax: "source destination [DB destination-db] [REPLACE]", run: copy, ..Command::BASE },
    Command { name: "move", full_name: "move", arity: 3, flags: W | f::FAST, keys: (1, 1, 1), summary: "Moves a key to another database.", syntax: "key db", run: move_cmd, ..Command::BASE },
    Command { name: "object", full_name: "object", arity: -2, since: "2.2.3", summary: "A container for object introspection commands.", complexity: "Depends on subcommand.", subcommands: OBJECT_SUBCOMMANDS, ..Command::BASE },
];
