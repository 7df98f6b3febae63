//! String commands: `GET`, `SET` and its relatives, counters, ranges, `LCS`.

use bytes::Bytes;

use super::longdouble::{incr_by_float, IncrFloatError};
use super::table::{flags as f, Command};
use super::{
    arg_i64, is, CmdError, CmdResult, Ctx, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE,
};
use crate::atlas::{Blob, Db, StrEncoding, Value};
use crate::resp::out::fmt_i64;
use crate::resp::parse::parse_i64;

const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// The string stored at `key`, if any (expired keys are deleted).
fn get_str<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d Blob>, CmdError> {
    match db.get(key, now) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(Some(b)),
            _ => Err(WRONGTYPE.into()),
        },
    }
}

fn set_encoding(db: &mut Db, key: &[u8], now: u64, enc: StrEncoding) {
    if let Some(mut e) = db.get_mut(key, now) {
        e.enc = enc;
    }
}

fn str_value(v: &[u8]) -> Value {
    Value::Str(Blob::new(v))
}

fn int_value(n: i64) -> Value {
    let mut tmp = [0u8; 20];
    Value::Str(Blob::new(fmt_i64(n, &mut tmp)))
}

fn max_len(ctx: &Ctx) -> usize {
    ctx.server.config.read().proto_max_bulk_len
}

// ---- SET options (shared by SET and GETEX, as in Redis) ----------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExpireUnit {
    /// EX seconds, relative
    Ex,
    /// PX milliseconds, relative
    Px,
    /// EXAT unix seconds
    ExAt,
    /// PXAT unix milliseconds
    PxAt,
}

#[derive(Default, Debug)]
struct StrOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`: an option may repeat, but
/// two different expiry options (or NX with XX) are a syntax error.
fn parse_str_opts(args: &[Bytes], set: bool) -> Result<StrOpts<'_>, CmdError> {
    let mut o = StrOpts::default();
    let mut j = if set { 3 } else { 2 };
    while j < args.len() {
        let a = &args[j][..];
        let next = args.get(j + 1).map(|b| &b[..]);
        let unit = if is(a, "ex") {
            Some(ExpireUnit::Ex)
        } else if is(a, "px") {
            Some(ExpireUnit::Px)
        } else if is(a, "exat") {
            Some(ExpireUnit::ExAt)
        } else if is(a, "pxat") {
            Some(ExpireUnit::PxAt)
        } else {
            None
        };
        if let Some(unit) = unit {
            let other = o.expire.is_some_and(|(u, _)| u != unit);
            match next {
                Some(v) if !other && !o.keepttl && !o.persist => {
                    o.expire = Some((unit, v));
                    j += 2;
                    continue;
                }
                _ => return Err(SYNTAX.into()),
            }
        }
        if set && is(a, "nx") && !o.xx {
            o.nx = true;
        } else if set && is(a, "xx") && !o.nx {
            o.xx = true;
        } else if set && is(a, "get") {
            o.get = true;
        } else if set && is(a, "keepttl") && o.expire.is_none() {
            o.keepttl = true;
        } else if !set && is(a, "persist") && o.expire.is_none() {
            o.persist = true;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

/// Absolute deadline in Unix ms for an expiry option, validated as Redis's
/// `getExpireMillisecondsOrReply` does.
fn deadline(unit: ExpireUnit, raw: &[u8], now: u64, cmd: &str) -> Result<i64, CmdError> {
    let invalid = || CmdError::from(format!("ERR invalid expire time in '{cmd}' command"));
    let mut ms = arg_i64(raw)?;
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if ms <= 0 || (seconds && ms > i64::MAX / 1000) {
        return Err(invalid());
    }
    if seconds {
        ms *= 1000;
    }
    if matches!(unit, ExpireUnit::Ex | ExpireUnit::Px) {
        ms = ms.checked_add(now as i64).ok_or_else(invalid)?;
    }
    if ms <= 0 {
        return Err(invalid());
    }
    Ok(ms)
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms | KEEPTTL]`
fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = parse_str_opts(args, true)?;
    let when = match o.expire {
        Some((unit, raw)) => Some(deadline(unit, raw, ctx.now, "set")?),
        None => None,
    };
    set_generic(ctx, &args[1], &args[2], o.nx, o.xx, o.get, o.keepttl, when)
}

#[allow(clippy::too_many_arguments)]
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    val: &[u8],
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    when: Option<i64>,
) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let old = if get {
        get_str(db, key, now)?.map(|b| b.to_vec())
    } else {
        None
    };
    let existing = db.peek(key, now).map(|e| e.expire_at);
    let found = existing.is_some();
    if (nx && found) || (xx && !found) {
        match (get, old) {
            (true, Some(v)) => ctx.out.bulk(&v),
            _ => ctx.out.null(),
        }
        return Ok(());
    }
    let expire_at = match (when, keepttl) {
        (Some(ms), _) => ms as u64,
        (None, true) => existing.unwrap_or(0),
        (None, false) => 0,
    };
    db.insert(key, str_value(val), expire_at, now);
    match (when, keepttl) {
        (Some(ms), _) => {
            let mut tmp = [0u8; 20];
            let ms = fmt_i64(ms, &mut tmp);
            ctx.propagate(&[b"SET", key, val, b"PXAT", ms]);
        }
        (None, true) => ctx.propagate(&[b"SET", key, val, b"KEEPTTL"]),
        (None, false) => ctx.propagate(&[b"SET", key, val]),
    }
    if get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    if ctx.db().peek(&args[1], now).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.db().insert(&args[1], str_value(&args[2]), 0, now);
    ctx.propagate(&[b"SET", &args[1], &args[2]]);
    ctx.out.int(1);
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, args: &[Bytes], unit: ExpireUnit, name: &str) -> CmdResult {
    let when = deadline(unit, &args[2], ctx.now, name)?;
    set_generic(
        ctx,
        &args[1],
        &args[3],
        false,
        false,
        false,
        false,
        Some(when),
    )
}

fn setex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setex_generic(ctx, args, ExpireUnit::Ex, "setex")
}

fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setex_generic(ctx, args, ExpireUnit::Px, "psetex")
}

fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    match get_str(db, &args[1], now)? {
        Some(b) => ctx.out.bulk(b),
        None => ctx.out.null(),
    }
    Ok(())
}

fn mget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    ctx.out.array(args.len() - 1);
    for k in &args[1..] {
        match db.get(k, now).map(|e| &e.value) {
            Some(Value::Str(b)) => ctx.out.bulk(b),
            // Redis answers nil for a key of another type.
            Some(_) | None => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset_check(args: &[Bytes], name: &str) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(format!("ERR wrong number of arguments for '{name}' command").into());
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    mset_check(args, "mset")?;
    let now = ctx.now;
    for kv in args[1..].chunks(2) {
        ctx.db().insert(&kv[0], str_value(&kv[1]), 0, now);
    }
    ctx.propagate_argv(args);
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    mset_check(args, "msetnx")?;
    let now = ctx.now;
    if args[1..]
        .chunks(2)
        .any(|kv| ctx.db().peek(&kv[0], now).is_some())
    {
        ctx.out.int(0);
        return Ok(());
    }
    for kv in args[1..].chunks(2) {
        ctx.db().insert(&kv[0], str_value(&kv[1]), 0, now);
    }
    let mut prop: Vec<&[u8]> = vec![b"MSET"];
    prop.extend(args[1..].iter().map(|a| &a[..]));
    ctx.propagate(&prop);
    ctx.out.int(1);
    Ok(())
}

fn getset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let old = get_str(ctx.db(), &args[1], now)?.map(|b| b.to_vec());
    ctx.db().insert(&args[1], str_value(&args[2]), 0, now);
    ctx.propagate(&[b"SET", &args[1], &args[2]]);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let Some(v) = get_str(ctx.db(), &args[1], now)?.map(|b| b.to_vec()) else {
        ctx.out.null();
        return Ok(());
    };
    ctx.db().remove(&args[1]);
    ctx.propagate(&[b"DEL", &args[1]]);
    ctx.out.bulk(&v);
    Ok(())
}

/// `GETEX key [EX s | PX ms | EXAT ts | PXAT ms | PERSIST]`
fn getex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = parse_str_opts(args, false)?;
    let now = ctx.now;
    let key = &args[1];
    // Redis looks the key up before it validates the expiry.
    let Some(v) = get_str(ctx.db(), key, now)?.map(|b| b.to_vec()) else {
        ctx.out.null();
        return Ok(());
    };
    let when = match o.expire {
        Some((unit, raw)) => Some(deadline(unit, raw, now, "getex")?),
        None => None,
    };
    if let Some(ms) = when {
        if ms as u64 <= now {
            ctx.db().remove(key);
            ctx.propagate(&[b"DEL", key]);
        } else {
            if let Some(mut e) = ctx.db().get_mut(key, now) {
                e.expire_at = ms as u64;
            }
            let mut tmp = [0u8; 20];
            ctx.propagate(&[b"PEXPIREAT", key, fmt_i64(ms, &mut tmp)]);
        }
    } else if o.persist {
        let mut changed = false;
        if let Some(mut e) = ctx.db().get_mut(key, now) {
            changed = e.expire_at != 0;
            e.expire_at = 0;
        }
        if changed {
            ctx.propagate(&[b"PERSIST", key]);
        }
    }
    ctx.out.bulk(&v);
    Ok(())
}

fn append(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let limit = max_len(ctx);
    let db = ctx.db();
    let appended = match db.get_mut(&args[1], now) {
        Some(mut e) => {
            let Value::Str(b) = &mut e.value else {
                return Err(WRONGTYPE.into());
            };
            if b.len() + args[2].len() > limit {
                return Err(TOO_BIG.into());
            }
            let n = b.append(&args[2]);
            e.enc = StrEncoding::Raw;
            Some(n)
        }
        None => None,
    };
    let len = appended.unwrap_or_else(|| {
        db.insert(&args[1], str_value(&args[2]), 0, now);
        args[2].len()
    });
    ctx.propagate_argv(args);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let n = get_str(ctx.db(), &args[1], now)?.map_or(0, |b| b.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx, args: &[Bytes], delta: i64) -> CmdResult {
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let updated = match db.get_mut(key, now) {
        Some(mut e) => {
            let Value::Str(b) = &e.value else {
                return Err(WRONGTYPE.into());
            };
            let cur = parse_i64(b).ok_or(CmdError::from(NOT_INTEGER))?;
            let new = cur.checked_add(delta).ok_or(CmdError::from(OVERFLOW))?;
            e.value = int_value(new);
            e.enc = StrEncoding::Auto;
            Some(new)
        }
        None => None,
    };
    let new = updated.unwrap_or_else(|| {
        db.insert(key, int_value(delta), 0, now);
        delta
    });
    ctx.propagate_argv(args);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_generic(ctx, args, 1)
}

fn decr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_generic(ctx, args, -1)
}

fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = arg_i64(&args[2])?;
    incr_generic(ctx, args, by)
}

fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = arg_i64(&args[2])?;
    if by == i64::MIN {
        return Err("ERR decrement would overflow".into());
    }
    incr_generic(ctx, args, -by)
}

fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let key = &args[1];
    let cur = get_str(ctx.db(), key, now)?.map(|b| b.to_vec());
    let new = incr_by_float(cur.as_deref().unwrap_or(b"0"), &args[2]).map_err(|e| match e {
        IncrFloatError::BadValue | IncrFloatError::BadIncrement => CmdError::from(NOT_FLOAT),
        IncrFloatError::NanOrInfinity => "ERR increment would produce NaN or Infinity".into(),
    })?;
    let keep = ctx.db().peek(key, now).map_or(0, |e| e.expire_at);
    ctx.db().insert(key, str_value(&new), keep, now);
    set_encoding(ctx.db(), key, now, StrEncoding::NoInt);
    // Replayed as a SET so the result cannot drift with float formatting.
    ctx.propagate(&[b"SET", key, &new, b"KEEPTTL"]);
    ctx.out.bulk(&new);
    Ok(())
}

fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut start = arg_i64(&args[2])?;
    let mut end = arg_i64(&args[3])?;
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let Some(b) = get_str(db, &args[1], now)? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let len = b.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        let slice = &b[start as usize..=end as usize];
        ctx.out.bulk(slice);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err("ERR offset is out of range".into());
    }
    let offset = offset as usize;
    let val = &args[3];
    let now = ctx.now;
    let limit = max_len(ctx);
    // Redis checks the type before the length.
    if ctx
        .db()
        .peek(&args[1], now)
        .is_some_and(|e| !matches!(e.value, Value::Str(_)))
    {
        return Err(WRONGTYPE.into());
    }
    if !val.is_empty() && offset + val.len() > limit {
        return Err(TOO_BIG.into());
    }
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let existing = match db.get_mut(&args[1], now) {
        Some(mut e) => {
            let Value::Str(b) = &mut e.value else {
                return Err(WRONGTYPE.into());
            };
            if val.is_empty() {
                Some(b.len())
            } else {
                let n = b.set_range(offset, val);
                e.enc = StrEncoding::Raw;
                Some(n)
            }
        }
        None => None,
    };
    let len = match existing {
        Some(n) => n,
        None if val.is_empty() => 0,
        None => {
            let mut b = Blob::new(b"");
            let n = b.set_range(offset, val);
            db.insert(&args[1], Value::Str(b), 0, now);
            set_encoding(db, &args[1], now, StrEncoding::Raw);
            n
        }
    };
    if !val.is_empty() {
        ctx.propagate_argv(args);
    }
    ctx.out.int(len as i64);
    Ok(())
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`, a port of
/// Redis's dynamic-programming implementation so that the matches reported
/// (not just the length) are the same.
fn lcs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    // Redis's own text here, not WRONGTYPE.
    let not_strings = |_| CmdError::from("ERR The specified keys must contain string values");
    let a = get_str(ctx.db(), &args[1], now)
        .map_err(not_strings)?
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let b = get_str(ctx.db(), &args[2], now)
        .map_err(not_strings)?
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        let more = args.len() - 1 - j;
        if is(opt, "idx") {
            getidx = true;
        } else if is(opt, "len") {
            getlen = true;
        } else if is(opt, "withmatchlen") {
            withmatchlen = true;
        } else if is(opt, "minmatchlen") && more > 0 {
            minmatchlen = arg_i64(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    if getidx && getlen {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u128 + 1) * (blen as u128 + 1);
    if cells * 4 > max_len(ctx) as u128 {
        return Err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
        );
    }
    let w = blen + 1;
    let mut dp = vec![0u32; cells as usize];
    for i in 1..=alen {
        for jj in 1..=blen {
            dp[i * w + jj] = if a[i - 1] == b[jj - 1] {
                dp[(i - 1) * w + jj - 1] + 1
            } else {
                dp[(i - 1) * w + jj].max(dp[i * w + jj - 1])
            };
        }
    }
    let total = dp[alen * w + blen] as usize;
    let mut idx = total;
    let computelcs = getidx || !getlen;
    let mut result = vec![0u8; if computelcs { idx } else { 0 }];
    let mut ranges: Vec<[usize; 5]> = Vec::new();
    let (mut ar_start, mut ar_end, mut br_start, mut br_end) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut jj) = (alen, blen);
    while computelcs && i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            if ar_start == alen {
                ar_start = i - 1;
                ar_end = i - 1;
                br_start = jj - 1;
                br_end = jj - 1;
            } else if ar_start == i && br_start == jj {
                ar_start -= 1;
                br_start -= 1;
            } else {
                emit = true;
            }
            if ar_start == 0 || br_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            if dp[(i - 1) * w + jj] > dp[i * w + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
            if ar_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = ar_end.wrapping_sub(ar_start).wrapping_add(1);
            if minmatchlen == 0 || match_len as i64 >= minmatchlen {
                ranges.push([ar_start, ar_end, br_start, br_end, match_len]);
            }
            ar_start = alen;
        }
    }
    let out = &mut *ctx.out;
    if getidx {
        out.map(2);
        out.bulk(b"matches");
        out.array(ranges.len());
        for r in &ranges {
            out.array(2 + withmatchlen as usize);
            out.array(2);
            out.int(r[0] as i64);
            out.int(r[1] as i64);
            out.array(2);
            out.int(r[2] as i64);
            out.int(r[3] as i64);
            if withmatchlen {
                out.int(r[4] as i64);
            }
        }
        out.bulk(b"len");
        out.int(total as i64);
    } else if getlen {
        out.int(total as i64);
    } else {
        out.bulk(&result);
    }
    Ok(())
}

const RW: u32 = f::WRITE | f::DENYOOM;
const RO: u32 = f::READONLY;

pub static COMMANDS: &[Command] = &[
    Command { name: "get", full_name: "get", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), group: "string", summary: "Returns the string value of a key.", syntax: "key", run: get, ..Command::BASE },
    Command { name: "set", full_name: "set", arity: -3, flags: RW, keys: (1, 1, 1), group: "string", summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", syntax: "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]", run: set, ..Command::BASE },
    Command { name: "setnx", full_name: "setnx", arity: 3, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", summary: "Set the string value of a key only when the key doesn't exist.", syntax: "key value", run: setnx, ..Command::BASE },
    Command { name: "setex", full_name: "setex", arity: 4, flags: RW, keys: (1, 1, 1), group: "string", since: "2.0.0", summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", syntax: "key seconds value", run: setex, ..Command::BASE },
    Command { name: "psetex", full_name: "psetex", arity: 4, flags: RW, keys: (1, 1, 1), group: "string", since: "2.6.0", summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", syntax: "key milliseconds value", run: psetex, ..Command::BASE },
    Command { name: "mget", full_name: "mget", arity: -2, flags: RO | f::FAST, keys: (1, -1, 1), group: "string", summary: "Atomically returns the string values of one or more keys.", complexity: "O(N) where N is the number of keys to retrieve.", syntax: "key [key ...]", run: mget, ..Command::BASE },
    Command { name: "mset", full_name: "mset", arity: -3, flags: RW, keys: (1, -1, 2), group: "string", since: "1.0.1", summary: "Atomically creates or modifies the string values of one or more keys.", complexity: "O(N) where N is the number of keys to set.", syntax: "key value [key value ...]", run: mset, ..Command::BASE },
    Command { name: "msetnx", full_name: "msetnx", arity: -3, flags: RW, keys: (1, -1, 2), group: "string", since: "1.0.1", summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.", complexity: "O(N) where N is the number of keys to set.", syntax: "key value [key value ...]", run: msetnx, ..Command::BASE },
    Command { name: "getset", full_name: "getset", arity: 3, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", summary: "Returns the previous string value of a key after setting it to a new value.", syntax: "key value", run: getset, ..Command::BASE },
    Command { name: "getdel", full_name: "getdel", arity: 2, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "string", since: "6.2.0", summary: "Returns the string value of a key after deleting the key.", syntax: "key", run: getdel, ..Command::BASE },
    Command { name: "getex", full_name: "getex", arity: -2, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "string", since: "6.2.0", summary: "Returns the string value of a key after setting its expiration time.", syntax: "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]", run: getex, ..Command::BASE },
    Command { name: "append", full_name: "append", arity: 3, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", since: "2.0.0", summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.", syntax: "key value", run: append, ..Command::BASE },
    Command { name: "strlen", full_name: "strlen", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), group: "string", since: "2.2.0", summary: "Returns the length of a string value.", syntax: "key", run: strlen, ..Command::BASE },
    Command { name: "incr", full_name: "incr", arity: 2, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", syntax: "key", run: incr, ..Command::BASE },
    Command { name: "decr", full_name: "decr", arity: 2, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", syntax: "key", run: decr, ..Command::BASE },
    Command { name: "incrby", full_name: "incrby", arity: 3, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", syntax: "key increment", run: incrby, ..Command::BASE },
    Command { name: "decrby", full_name: "decrby", arity: 3, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", syntax: "key decrement", run: decrby, ..Command::BASE },
    Command { name: "incrbyfloat", full_name: "incrbyfloat", arity: 3, flags: RW | f::FAST, keys: (1, 1, 1), group: "string", since: "2.6.0", summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", syntax: "key increment", run: incrbyfloat, ..Command::BASE },
    Command { name: "getrange", full_name: "getrange", arity: 4, flags: RO, keys: (1, 1, 1), group: "string", since: "2.4.0", summary: "Returns a substring of the string stored at a key.", complexity: "O(N) where N is the length of the returned string.", syntax: "key start end", run: getrange, ..Command::BASE },
    Command { name: "substr", full_name: "substr", arity: 4, flags: RO, keys: (1, 1, 1), group: "string", summary: "Returns a substring from a string value.", complexity: "O(N) where N is the length of the returned string.", syntax: "key start end", run: getrange, ..Command::BASE },
    Command { name: "setrange", full_name: "setrange", arity: 4, flags: RW, keys: (1, 1, 1), group: "string", since: "2.2.0", summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", syntax: "key offset value", run: setrange, ..Command::BASE },
    Command { name: "lcs", full_name: "lcs", arity: -3, flags: RO, keys: (1, 2, 1), group: "string", since: "7.0.0", summary: "Finds the longest common substring.", complexity: "O(N*M) where N and M are the lengths of s1 and s2, respectively", syntax: "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]", run: lcs, ..Command::BASE },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn b(parts: &[&str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn set_option_conflicts_are_syntax_errors() {
        assert!(parse_str_opts(&b(&["set", "k", "v", "NX", "XX"]), true).is_err());
        assert!(parse_str_opts(&b(&["set", "k", "v", "EX", "1", "PX", "1"]), true).is_err());
        assert!(parse_str_opts(&b(&["set", "k", "v", "KEEPTTL", "EX", "1"]), true).is_err());
        assert!(parse_str_opts(&b(&["set", "k", "v", "EX"]), true).is_err());
        assert!(parse_str_opts(&b(&["getex", "k", "GET"]), false).is_err());
        let args = b(&["set", "k", "v", "nx", "get", "ex", "5", "EX", "7"]);
        let o = parse_str_opts(&args, true).unwrap();
        assert!(o.nx && o.get);
        assert_eq!(o.expire.unwrap().1, b"7");
    }

    #[test]
    fn deadlines_are_validated_like_redis() {
        assert_eq!(
            deadline(ExpireUnit::Ex, b"10", 1000, "set").unwrap(),
            11_000
        );
        assert_eq!(deadline(ExpireUnit::PxAt, b"5", 1000, "set").unwrap(), 5);
        let e = deadline(ExpireUnit::Ex, b"0", 1000, "set").unwrap_err();
        assert_eq!(e.0, "ERR invalid expire time in 'set' command");
        assert!(deadline(ExpireUnit::Ex, b"9223372036854776", 1, "set").is_err());
        assert_eq!(
            deadline(ExpireUnit::Px, b"x", 1, "set").unwrap_err().0,
            NOT_INTEGER
        );
    }
}
