//! Sorted set commands: `ZADD` and friends, on [`ZsetValue`].
//!
//! Replies, reply shapes (RESP3 pairs where Redis nests them), error texts
//! and the order in which arguments, keys and types are checked are Redis
//! 7.0's, the oracle's version; `ZRANK`/`ZREVRANK ... WITHSCORE` are 7.2's.
//! Scores print as Redis 7.0 prints them (`%.17g`, see `resp::fmt_double`).
//! A sorted set is created by its first member and deleted with its last.
//!
//! Every write is deterministic, so it is propagated as sent, except the
//! pops: `ZPOPMIN`/`ZPOPMAX`/`ZMPOP` and their blocking forms are logged as
//! `ZPOPMIN key n` / `ZPOPMAX key n` of what they popped. The blocking pops
//! (`BZPOPMIN`, `BZPOPMAX`, `BZMPOP`) wait the way the list pops do (see
//! `cmd::list` and `server::blocking`).
//!
//! Lex ranges (`BYLEX`) are only meaningful when all members share a
//! score. When they don't, Redis's answer depends on its representation: a
//! listpack is scanned from one end, which Helios reproduces exactly for
//! the listpack form; for the large form both use a search that assumes
//! the order.

use bytes::Bytes;
use rand::Rng;

use super::collection;
use super::keys::parse_cursor;
use super::list::{block, parse_timeout, BlockSpec, Wants};
use super::table::{flags as f, Command};
use super::{arg_f64, arg_i64, is, CmdError, CmdResult, Ctx, NOT_FLOAT, SYNTAX, WRONGTYPE};
use crate::atlas::{Blob, Db, Value, ZsetValue};
use crate::resp::Out;

fn get_zset<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d ZsetValue>, CmdError> {
    collection::get(db, key, now)
}

fn with_zset<T>(db: &mut Db, key: &[u8], now: u64, f: impl FnOnce(&mut ZsetValue) -> T) -> T {
    collection::with(db, key, now, f)
}

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const RANGE_NOT_LEX: &str = "ERR min or max not valid string range item";

/// A score argument (`ZADD`, `ZINCRBY`, weights): Redis's
/// `getDoubleFromObject`, which also refuses values that overflow to
/// infinity or underflow to zero.
fn arg_score(a: &[u8]) -> Result<f64, CmdError> {
    let v = arg_f64(a)?;
    if v.is_finite() && v != 0.0 {
        return Ok(v);
    }
    let text = std::str::from_utf8(a).unwrap_or("").to_ascii_lowercase();
    let unsigned = text.trim_start_matches(['+', '-']);
    if v.is_infinite() && unsigned != "inf" && unsigned != "infinity" {
        return Err(NOT_FLOAT.into());
    }
    let mantissa = match unsigned.strip_prefix("0x") {
        Some(hex) => hex.split('p').next().unwrap_or(""),
        None => unsigned.split('e').next().unwrap_or(""),
    };
    if v == 0.0
        && mantissa
            .bytes()
            .any(|b| b.is_ascii_alphanumeric() && b != b'0')
    {
        return Err(NOT_FLOAT.into());
    }
    Ok(v)
}

/// C's `strtod` over the whole argument, as Redis parses range bounds: an
/// empty string is 0, leading white space is skipped, NaN is refused.
fn strtod_all(a: &[u8]) -> Option<f64> {
    if a.is_empty() {
        return Some(0.0);
    }
    let s = std::str::from_utf8(a).ok()?;
    let s = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let v = super::parse_c_double(s)?;
    (!v.is_nan()).then_some(v)
}

/// `min max` of `ZRANGEBYSCORE` and friends: `(` makes a bound exclusive.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    min_ex: bool,
    max: f64,
    max_ex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
        let bound = |a: &[u8]| match a.first() {
            Some(b'(') => strtod_all(&a[1..]).map(|v| (v, true)),
            _ => strtod_all(a).map(|v| (v, false)),
        };
        match (bound(min), bound(max)) {
            (Some((min, min_ex)), Some((max, max_ex))) => Ok(ScoreRange {
                min,
                min_ex,
                max,
                max_ex,
            }),
            _ => Err(RANGE_NOT_FLOAT.into()),
        }
    }

    fn above_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The ranks `start..end` of the members in range.
    fn span(&self, z: &ZsetValue) -> (usize, usize) {
        let start = z.partition_point(|x| !self.above_min(x.0));
        let end = z.partition_point(|x| self.below_max(x.0));
        (start, end.max(start))
    }
}

/// One end of a lex range.
#[derive(Clone, Debug)]
enum LexBound {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

impl LexBound {
    fn parse(a: &Bytes) -> Option<LexBound> {
        match a.first() {
            Some(b'+') if a.len() == 1 => Some(LexBound::Max),
            Some(b'-') if a.len() == 1 => Some(LexBound::Min),
            Some(b'(') => Some(LexBound::Excl(a.slice(1..))),
            Some(b'[') => Some(LexBound::Incl(a.slice(1..))),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &Bytes, max: &Bytes) -> Result<LexRange, CmdError> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(RANGE_NOT_LEX.into()),
        }
    }

    fn above_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(v) => m >= &v[..],
            LexBound::Excl(v) => m > &v[..],
        }
    }

    fn below_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Max => true,
            LexBound::Min => false,
            LexBound::Incl(v) => m <= &v[..],
            LexBound::Excl(v) => m < &v[..],
        }
    }

    /// The ranks `start..end` Redis visits: from the first member (the
    /// last, when `rev`) that passes the near bound, while the far bound
    /// holds. A listpack is scanned linearly, as Redis's is.
    fn span(&self, z: &ZsetValue, rev: bool) -> (usize, usize) {
        let n = z.len();
        if z.is_large() {
            let start = z.partition_point(|x| !self.above_min(&x.1));
            let end = z.partition_point(|x| self.below_max(&x.1));
            return (start, end.max(start));
        }
        let members: Vec<&Blob> = z.iter_range(0, n, false).map(|(m, _)| m).collect();
        if rev {
            let Some(last) = (0..n).rev().find(|&i| self.below_max(members[i])) else {
                return (0, 0);
            };
            let run = (0..=last)
                .rev()
                .take_while(|&i| self.above_min(members[i]))
                .count();
            (last + 1 - run, last + 1)
        } else {
            let Some(first) = (0..n).find(|&i| self.above_min(members[i])) else {
                return (0, 0);
            };
            let run = (first..n)
                .take_while(|&i| self.below_max(members[i]))
                .count();
            (first, first + run)
        }
    }
}

/// Replies with (member, score) items: members only, or with scores as a
/// flat array in RESP2 and as pairs in RESP3 (Redis's shape for `ZRANGE
/// ... WITHSCORES`, `ZUNION`, `ZRANDMEMBER`, `ZPOPMIN` with a count).
fn reply_items<'a>(
    out: &mut Out,
    n: usize,
    items: impl Iterator<Item = (&'a Blob, f64)>,
    withscores: bool,
) {
    if !withscores {
        out.array(n);
        for (m, _) in items {
            out.bulk(m);
        }
        return;
    }
    out.array(if out.resp3 { n } else { 2 * n });
    for (m, s) in items {
        if out.resp3 {
            out.array(2);
        }
        out.bulk(m);
        out.double(s);
    }
}

// ---- ZADD / ZINCRBY -------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`,
/// and `ZINCRBY key increment member` (`incr_cmd`).
fn zadd_generic(ctx: &mut Ctx, args: &[Bytes], incr_cmd: bool) -> CmdResult {
    let mut fl = AddFlags {
        incr: incr_cmd,
        ..AddFlags::default()
    };
    let mut i = 2;
    while !incr_cmd && i < args.len() {
        let a = &args[i];
        if is(a, "nx") {
            fl.nx = true;
        } else if is(a, "xx") {
            fl.xx = true;
        } else if is(a, "gt") {
            fl.gt = true;
        } else if is(a, "lt") {
            fl.lt = true;
        } else if is(a, "ch") {
            fl.ch = true;
        } else if is(a, "incr") {
            fl.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(SYNTAX.into());
    }
    if fl.nx && fl.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (fl.nx && (fl.gt || fl.lt)) || (fl.gt && fl.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if fl.incr && rest.len() > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    let scores = rest
        .chunks(2)
        .map(|p| arg_score(&p[0]))
        .collect::<Result<Vec<f64>, _>>()?;
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let exists = get_zset(db, key, now)?.is_some();
    let (mut added, mut updated, mut processed, mut last) = (0, 0, 0, 0.0);
    if exists || !fl.xx {
        let outcome = with_zset(db, key, now, |z| {
            for (pair, &score) in rest.chunks(2).zip(&scores) {
                let member = &pair[1];
                match z.score(member) {
                    Some(cur) => {
                        if fl.nx {
                            continue;
                        }
                        let score = if fl.incr { score + cur } else { score };
                        if score.is_nan() {
                            return Err(CmdError::from(NAN_SCORE));
                        }
                        if (fl.lt && score >= cur) || (fl.gt && score <= cur) {
                            continue;
                        }
                        processed += 1;
                        last = score;
                        if score != cur {
                            z.insert(member, score);
                            updated += 1;
                        }
                    }
                    None if !fl.xx => {
                        z.insert(member, score);
                        added += 1;
                        processed += 1;
                        last = score;
                    }
                    None => {}
                }
            }
            Ok(())
        });
        if added + updated > 0 {
            ctx.propagate_argv(args);
        }
        outcome?;
    }
    if fl.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .int(if fl.ch { added + updated } else { added } as i64);
    }
    Ok(())
}

fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, false)
}

fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, true)
}

// ---- simple reads and ZREM ---------------------------------------------

fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    if get_zset(db, &args[1], now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let removed = with_zset(db, &args[1], now, |z| {
        args[2..].iter().filter(|m| z.remove(m).is_some()).count()
    });
    if removed > 0 {
        ctx.propagate_argv(args);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    match get_zset(ctx.db(), &args[1], now)?.and_then(|z| z.score(&args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let z = get_zset(db, &args[1], now)?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let n = get_zset(ctx.db(), &args[1], now)?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = ScoreRange::parse(&args[2], &args[3])?;
    let now = ctx.now;
    let n = get_zset(ctx.db(), &args[1], now)?.map_or(0, |z| {
        let (start, end) = range.span(z);
        end - start
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = LexRange::parse(&args[2], &args[3])?;
    let now = ctx.now;
    let n = get_zset(ctx.db(), &args[1], now)?.map_or(0, |z| {
        let (start, end) = range.span(z, false);
        end - start
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// `ZRANK`/`ZREVRANK key member [WITHSCORE]` (WITHSCORE as in Redis 7.2).
fn rank_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> CmdResult {
    let withscore = match args.len() {
        3 => false,
        4 if is(&args[3], "withscore") => true,
        4 => return Err(SYNTAX.into()),
        _ => {
            let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
            return Err(format!("ERR wrong number of arguments for '{name}' command").into());
        }
    };
    let now = ctx.now;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let found = get_zset(db, &args[1], now)?.and_then(|z| {
        let rank = z.rank(&args[2])?;
        let score = z.score(&args[2])?;
        Some((if rev { z.len() - 1 - rank } else { rank }, score))
    });
    match (found, withscore) {
        (Some((rank, _)), false) => ctx.out.int(rank as i64),
        (Some((rank, score)), true) => {
            ctx.out.array(2);
            ctx.out.int(rank as i64);
            ctx.out.double(score);
        }
        (None, false) => ctx.out.null(),
        (None, true) => ctx.out.null_array(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, false)
}
fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, true)
}

// ---- ZRANGE and its older forms ---------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum RangeBy {
    Rank,
    Score,
    Lex,
}

/// A parsed range, in the form the selection needs.
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Ranks `start..end` (ascending) selected by a rank range.
fn rank_span(len: usize, start: i64, stop: i64) -> (usize, usize) {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return (0, 0);
    }
    (start as usize, (stop.min(len - 1) + 1) as usize)
}

/// The items a range selects, in reply order.
fn select(z: &ZsetValue, range: &Range, rev: bool, offset: i64, limit: i64) -> Vec<(Blob, f64)> {
    let (start, end) = match range {
        Range::Rank(a, b) => {
            let (s, e) = rank_span(z.len(), *a, *b);
            if rev {
                // Ranks counted from the top.
                (z.len() - e.min(z.len()), z.len() - s)
            } else {
                (s, e)
            }
        }
        Range::Score(r) => r.span(z),
        Range::Lex(r) => r.span(z, rev),
    };
    if start >= end {
        return Vec::new();
    }
    let (start, end) = if matches!(range, Range::Rank(..)) {
        (start, end)
    } else {
        // LIMIT: a negative offset selects nothing, a negative count all.
        if offset < 0 || offset as u64 >= (end - start) as u64 {
            return Vec::new();
        }
        let offset = offset as usize;
        let n = if limit < 0 {
            end - start - offset
        } else {
            (limit as u64).min((end - start - offset) as u64) as usize
        };
        if rev {
            (end - offset - n, end - offset)
        } else {
            (start + offset, start + offset + n)
        }
    };
    z.iter_range(start, end, rev)
        .map(|(m, s)| (m.clone(), s))
        .collect()
}

/// Redis's `zrangeGenericCommand`: `args[from]` is the source key, then
/// min, max and options. `by`/`rev` are fixed by the older commands
/// (`ZRANGEBYSCORE`, `ZREVRANGE`, ...), which then refuse the keywords.
/// With `store`, the result goes to `args[1]` (`ZRANGESTORE`).
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    from: usize,
    store: bool,
    by: Option<RangeBy>,
    rev: Option<bool>,
) -> CmdResult {
    let (mut by_opt, mut rev_opt) = (by, rev);
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = from + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if !store && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = arg_i64(&args[j + 1])?;
            limit = arg_i64(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") && rev_opt.is_none() {
            rev_opt = Some(true);
        } else if by.is_none() && by_opt.is_none() && is(a, "bylex") {
            by_opt = Some(RangeBy::Lex);
        } else if by.is_none() && by_opt.is_none() && is(a, "byscore") {
            by_opt = Some(RangeBy::Score);
        } else {
            return Err(SYNTAX.into());
        }
        j += 1;
    }
    let rev = rev_opt.unwrap_or(false);
    let by = by_opt.unwrap_or(RangeBy::Rank);
    // As Redis: only a count other than -1 counts as a LIMIT here.
    if limit != -1 && by == RangeBy::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if withscores && by == RangeBy::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    let (mut lo, mut hi) = (&args[from + 1], &args[from + 2]);
    if rev && by != RangeBy::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match by {
        RangeBy::Rank => Range::Rank(arg_i64(lo)?, arg_i64(hi)?),
        RangeBy::Score => Range::Score(ScoreRange::parse(lo, hi)?),
        RangeBy::Lex => Range::Lex(LexRange::parse(lo, hi)?),
    };
    let now = ctx.now;
    let src = &args[from];
    let items = match get_zset(ctx.db(), src, now)? {
        Some(z) => select(z, &range, rev, offset, limit),
        None => Vec::new(),
    };
    if store {
        let mut z = ZsetValue::new();
        for (m, s) in &items {
            z.insert(m, *s);
        }
        store_result(ctx, args, &args[1], z);
    } else {
        reply_items(
            ctx.out,
            items.len(),
            items.iter().map(|(m, s)| (m, *s)),
            withscores,
        );
    }
    Ok(())
}

/// Stores `z` at `dst` (deleting `dst` when `z` is empty) and replies with
/// its size.
fn store_result(ctx: &mut Ctx, args: &[Bytes], dst: &[u8], z: ZsetValue) {
    let now = ctx.now;
    let n = z.len();
    let db = ctx.db();
    let changed = if n == 0 {
        db.remove(dst).is_some()
    } else {
        db.insert(dst, Value::Zset(std::sync::Arc::new(z)), 0, now);
        true
    };
    if changed {
        ctx.propagate_argv(args);
    }
    ctx.out.int(n as i64);
}

fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, None, None)
}
fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 2, true, None, None)
}
fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(RangeBy::Rank), Some(true))
}
fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(RangeBy::Score), Some(false))
}
fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(RangeBy::Score), Some(true))
}
fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(RangeBy::Lex), Some(false))
}
fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, 1, false, Some(RangeBy::Lex), Some(true))
}

// ---- ZREMRANGEBY* ------------------------------------------------------------

fn zremrange(ctx: &mut Ctx, args: &[Bytes], range: Range) -> CmdResult {
    let now = ctx.now;
    let key = &args[1];
    let db = ctx.db();
    let Some(z) = get_zset(db, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let doomed: Vec<Blob> = select(z, &range, false, 0, -1)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    if !doomed.is_empty() {
        with_zset(db, key, now, |z| {
            for m in &doomed {
                z.remove(m);
            }
        });
        ctx.propagate_argv(args);
    }
    ctx.out.int(doomed.len() as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = Range::Rank(arg_i64(&args[2])?, arg_i64(&args[3])?);
    zremrange(ctx, args, range)
}
fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = Range::Score(ScoreRange::parse(&args[2], &args[3])?);
    zremrange(ctx, args, range)
}
fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let range = Range::Lex(LexRange::parse(&args[2], &args[3])?);
    zremrange(ctx, args, range)
}

// ---- ZUNION / ZINTER / ZDIFF (and STORE, ZINTERCARD) -----------------------

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *acc += v;
                // inf + -inf: Redis makes it 0.
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Aggregate::Min => *acc = acc.min(v),
            Aggregate::Max => *acc = acc.max(v),
        }
    }
}

/// One input of a set operation: a sorted set, or a plain set whose
/// members all score 1 (as Redis allows).
enum Source {
    Missing,
    Zset(std::sync::Arc<ZsetValue>),
    Set(std::sync::Arc<crate::atlas::SetValue>),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Zset(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Zset(z) => z.score(m),
            Source::Set(s) => s.contains(m).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Source::Missing => {}
            Source::Zset(z) => z.iter_range(0, z.len(), false).for_each(|(m, s)| f(m, s)),
            Source::Set(s) => s.for_each(|m| f(m, 1.0)),
        }
    }
}

/// Parsed `numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE ...]
/// [WITHSCORES] [LIMIT n]`, with the sources loaded.
struct SetOpArgs {
    sources: Vec<(Source, f64)>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

/// Redis's `zunionInterDiffGenericCommand` argument handling: numkeys,
/// then the keys' types, then the options.
fn parse_setop(
    ctx: &mut Ctx,
    args: &[Bytes],
    numkeys_at: usize,
    op: SetOp,
    store: bool,
    card_only: bool,
) -> Result<SetOpArgs, CmdError> {
    let numkeys = arg_i64(&args[numkeys_at])?;
    if numkeys < 1 {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        return Err(format!("ERR at least 1 input key is needed for '{name}' command").into());
    }
    if numkeys as u64 > (args.len() - numkeys_at - 1) as u64 {
        return Err(SYNTAX.into());
    }
    let numkeys = numkeys as usize;
    let now = ctx.now;
    let db = ctx.db();
    let mut sources = Vec::with_capacity(numkeys);
    for key in &args[numkeys_at + 1..numkeys_at + 1 + numkeys] {
        let src = match db.get(key, now).map(|e| &e.value) {
            None => Source::Missing,
            Some(Value::Zset(z)) => Source::Zset(std::sync::Arc::clone(z)),
            Some(Value::Set(s)) => Source::Set(std::sync::Arc::clone(s)),
            Some(_) => return Err(WRONGTYPE.into()),
        };
        sources.push((src, 1.0));
    }
    let mut o = SetOpArgs {
        sources,
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = numkeys_at + 1 + numkeys;
    while j < args.len() {
        let left = args.len() - j;
        let a = &args[j];
        let weighted = op != SetOp::Diff && !card_only;
        if weighted && left > numkeys && is(a, "weights") {
            for k in 0..numkeys {
                o.sources[k].1 = arg_score(&args[j + 1 + k])
                    .map_err(|_| CmdError::from("ERR weight value is not a float"))?;
            }
            j += 1 + numkeys;
        } else if weighted && left >= 2 && is(a, "aggregate") {
            let v = &args[j + 1];
            o.aggregate = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX.into());
            };
            j += 2;
        } else if !store && !card_only && is(a, "withscores") {
            o.withscores = true;
            j += 1;
        } else if card_only && left >= 2 && is(a, "limit") {
            const NEG: &str = "ERR LIMIT can't be negative";
            let n = arg_i64(&args[j + 1]).map_err(|_| CmdError::from(NEG))?;
            if n < 0 {
                return Err(NEG.into());
            }
            o.limit = n as usize;
            j += 2;
        } else {
            return Err(SYNTAX.into());
        }
    }
    if op != SetOp::Diff {
        // Smallest first, as Redis (a stable sort, like glibc's qsort).
        o.sources.sort_by_key(|(s, _)| s.len());
    }
    Ok(o)
}

/// `weight * score`, with Redis's rule that NaN (0 * inf) counts as 0.
fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// The result of `op` as a sorted set, and (for `ZINTERCARD`) how many
/// members the intersection has, counting up to `limit` (0: no limit).
fn compute(op: SetOp, o: &SetOpArgs) -> (ZsetValue, usize) {
    let mut out = ZsetValue::new();
    let mut card = 0;
    match op {
        SetOp::Inter => {
            let (first, rest) = o.sources.split_first().expect("at least one key");
            if first.0.len() == 0 {
                return (out, 0);
            }
            let mut done = false;
            first.0.for_each(|m, s| {
                if done {
                    return;
                }
                let mut score = weighted(s, first.1);
                for (src, w) in rest {
                    match src.score(m) {
                        Some(v) => o.aggregate.apply(&mut score, weighted(v, *w)),
                        None => return,
                    }
                }
                card += 1;
                if o.limit > 0 && card >= o.limit {
                    done = true;
                }
                out.insert(m, score);
            });
        }
        SetOp::Union => {
            let mut acc: ahash::AHashMap<Vec<u8>, f64> = ahash::AHashMap::new();
            for (src, w) in &o.sources {
                src.for_each(|m, s| {
                    let v = weighted(s, *w);
                    match acc.get_mut(m) {
                        Some(cur) => o.aggregate.apply(cur, v),
                        None => {
                            acc.insert(m.to_vec(), v);
                        }
                    }
                });
            }
            let mut items: Vec<(Vec<u8>, f64)> = acc.into_iter().collect();
            items.sort_by(|a, b| crate::atlas::zset::cmp(a.1, &a.0, b.1, &b.0));
            for (m, s) in items {
                out.insert(&m, s);
            }
        }
        SetOp::Diff => {
            let (first, rest) = o.sources.split_first().expect("at least one key");
            first.0.for_each(|m, s| {
                if rest.iter().all(|(src, _)| src.score(m).is_none()) {
                    out.insert(m, s);
                }
            });
        }
    }
    (out, card)
}

fn setop(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let o = parse_setop(ctx, args, 1, op, false, false)?;
    let (z, _) = compute(op, &o);
    reply_items(
        ctx.out,
        z.len(),
        z.iter_range(0, z.len(), false),
        o.withscores,
    );
    Ok(())
}

fn setop_store(ctx: &mut Ctx, args: &[Bytes], op: SetOp) -> CmdResult {
    let o = parse_setop(ctx, args, 2, op, true, false)?;
    let (z, _) = compute(op, &o);
    store_result(ctx, args, &args[1], z);
    Ok(())
}

fn zunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop(ctx, args, SetOp::Union)
}
fn zinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop(ctx, args, SetOp::Inter)
}
fn zdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop(ctx, args, SetOp::Diff)
}
fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_store(ctx, args, SetOp::Union)
}
fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_store(ctx, args, SetOp::Inter)
}
fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setop_store(ctx, args, SetOp::Diff)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
fn zintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let o = parse_setop(ctx, args, 1, SetOp::Inter, false, true)?;
    let (_, card) = compute(SetOp::Inter, &o);
    ctx.out.int(card as i64);
    Ok(())
}

// ---- ZRANDMEMBER and ZSCAN -----------------------------------------------

/// `ZRANDMEMBER key [count [WITHSCORES]]` (a read: each node draws on
/// its own, as replicas of Redis do).
fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut rng = rand::thread_rng();
    if args.len() == 2 {
        let db = &mut ctx.store.ks.dbs[ctx.client.db];
        match get_zset(db, &args[1], now)?.and_then(|z| z.random(rng.gen())) {
            Some((m, _)) => ctx.out.bulk(m),
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
    let withscores = match args.len() {
        3 => false,
        4 if is(&args[3], "withscores") => true,
        _ => return Err(SYNTAX.into()),
    };
    if withscores && count < -(i64::MAX / 2) {
        return Err("ERR value is out of range".into());
    }
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let Some(z) = get_zset(db, &args[1], now)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let picks: Vec<(&Blob, f64)> = if count < 0 {
        (0..count.unsigned_abs())
            .filter_map(|_| z.random(rng.gen()))
            .collect()
    } else if count as usize >= z.len() {
        // Redis walks sorted sets from the top here.
        z.iter_range(0, z.len(), true).collect()
    } else {
        let want = count as usize;
        if want * 3 > z.len() {
            // Most of the set: drop random members from a full copy.
            let mut all: Vec<(&Blob, f64)> = z.iter_range(0, z.len(), false).collect();
            while all.len() > want {
                let i = rng.gen_range(0..all.len());
                all.swap_remove(i);
            }
            all
        } else {
            let mut seen = std::collections::HashSet::with_capacity(want);
            let mut out = Vec::with_capacity(want);
            while out.len() < want {
                let (m, s) = z.random(rng.gen()).expect("not empty");
                if seen.insert(m.as_slice()) {
                    out.push((m, s));
                }
            }
            out
        }
    };
    reply_items(ctx.out, picks.len(), picks.into_iter(), withscores);
    Ok(())
}

/// A score as `ZSCAN` shows it. A listpack stores a score that is an
/// integer of magnitude up to 2^62 as that integer (Redis's `double2ll`),
/// so `1e17` scans as `100000000000000000` there.
fn score_text(s: f64, listpack: bool) -> String {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    if listpack && (-LIMIT..=LIMIT).contains(&s) && s == (s as i64) as f64 {
        (s as i64).to_string()
    } else {
        crate::resp::out::fmt_double(s)
    }
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[2]).ok_or(CmdError::from("ERR invalid cursor"))?;
    let now = ctx.now;
    if get_zset(ctx.db(), &args[1], now)?.is_none() {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    }
    let o = collection::scan_options(args, 3, false)?;
    let db = &mut ctx.store.ks.dbs[ctx.client.db];
    let mut found: Vec<(&Blob, f64)> = Vec::new();
    let mut listpack = true;
    let next = match get_zset(db, &args[1], now)? {
        None => 0,
        Some(z) => {
            listpack = !z.is_large();
            z.scan(cursor, o.count, |m, s| {
                if o.matches(m) {
                    found.push((m, s));
                }
            })
        }
    };
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    // Scores as strings, in RESP3 too: the text Redis keeps in a listpack
    // (integral scores as integers), or its `%.17g` for the large form.
    ctx.out.array(found.len() * 2);
    for (m, s) in found {
        ctx.out.bulk(m);
        ctx.out.bulk(score_text(s, listpack).as_bytes());
    }
    Ok(())
}

// ---- pops ----------------------------------------------------------------

/// Which end a pop takes from.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum End {
    Min,
    Max,
}

/// Pops up to `count` members from `key` (which holds a sorted set) and
/// logs it as `ZPOPMIN|ZPOPMAX key n`.
fn pop_from(ctx: &mut Ctx, key: &[u8], end: End, count: usize) -> Vec<(Blob, f64)> {
    let now = ctx.now;
    let popped = with_zset(ctx.db(), key, now, |z| {
        let n = count.min(z.len());
        let items: Vec<(Blob, f64)> = match end {
            End::Min => z.iter_range(0, n, false),
            End::Max => z.iter_range(z.len() - n, z.len(), true),
        }
        .map(|(m, s)| (m.clone(), s))
        .collect();
        for (m, _) in &items {
            z.remove(m);
        }
        items
    });
    if !popped.is_empty() {
        let name: &[u8] = if end == End::Min {
            b"ZPOPMIN"
        } else {
            b"ZPOPMAX"
        };
        ctx.propagate(&[name, key, popped.len().to_string().as_bytes()]);
    }
    popped
}

/// The first key of `keys` that holds a sorted set; WRONGTYPE if the first
/// existing key holds something else.
fn first_zset<'k>(ctx: &mut Ctx, keys: &'k [Bytes]) -> Result<Option<&'k Bytes>, CmdError> {
    let now = ctx.now;
    let db = ctx.db();
    for key in keys {
        if get_zset(db, key, now)?.is_some() {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// `ZPOPMIN`/`ZPOPMAX key [count]`
fn zpop(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => {
            const POSITIVE: &str = "ERR value is out of range, must be positive";
            match arg_i64(&args[2]) {
                Ok(n) if n >= 0 => Some(n as usize),
                _ => return Err(POSITIVE.into()),
            }
        }
        _ => return Err(SYNTAX.into()),
    };
    let Some(key) = first_zset(ctx, &args[1..2])? else {
        ctx.out.array(0);
        return Ok(());
    };
    let popped = pop_from(ctx, key, end, count.unwrap_or(1));
    if count.is_none() {
        // One pop: a flat [member, score] in every protocol.
        ctx.out.array(2 * popped.len());
        for (m, s) in &popped {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    } else {
        reply_items(
            ctx.out,
            popped.len(),
            popped.iter().map(|(m, s)| (m, *s)),
            true,
        );
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, End::Min)
}
fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop(ctx, args, End::Max)
}

/// The keys, end and count of `numkeys key [key ...] MIN|MAX [COUNT n]`.
fn parse_mpop(args: &[Bytes]) -> Result<(&[Bytes], End, usize), CmdError> {
    collection::parse_mpop(args, |a| {
        if is(a, "min") {
            Ok(End::Min)
        } else if is(a, "max") {
            Ok(End::Max)
        } else {
            Err(SYNTAX.into())
        }
    })
}

/// `ZMPOP`'s work: pops from the first sorted set and replies `[key,
/// [[member, score] ...]]`; false (no reply) when none exists.
fn mpop(ctx: &mut Ctx, args: &[Bytes]) -> Result<bool, CmdError> {
    let (keys, end, count) = parse_mpop(args)?;
    let Some(key) = first_zset(ctx, keys)? else {
        return Ok(false);
    };
    let popped = pop_from(ctx, key, end, count);
    ctx.out.array(2);
    ctx.out.bulk(key);
    ctx.out.array(popped.len());
    for (m, s) in &popped {
        ctx.out.array(2);
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
    Ok(true)
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`
fn zmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !mpop(ctx, &args[1..])? {
        ctx.out.null_array();
    }
    Ok(())
}

/// The [`BlockSpec`] of `BZPOPMIN`, `BZPOPMAX` and `BZMPOP`.
pub fn block_spec(name: &str, args: &[Bytes]) -> Result<BlockSpec, CmdError> {
    let (keys, timeout) = if name == "bzmpop" {
        // As BLMPOP: the rest is parsed before the timeout.
        let (keys, _, _) = parse_mpop(&args[2..])?;
        (keys.to_vec(), parse_timeout(&args[1])?)
    } else {
        let timeout = parse_timeout(&args[args.len() - 1])?;
        (args[1..args.len() - 1].to_vec(), timeout)
    };
    Ok(BlockSpec {
        command: args.to_vec(),
        keys,
        timeout,
        null_array: true,
        wants: Wants::Zset,
    })
}

/// `BZPOPMIN`/`BZPOPMAX key [key ...] timeout`
fn bzpop(ctx: &mut Ctx, args: &[Bytes], end: End) -> CmdResult {
    let name = if end == End::Min {
        "bzpopmin"
    } else {
        "bzpopmax"
    };
    let spec = block_spec(name, args)?;
    let Some(key) = first_zset(ctx, &spec.keys)? else {
        return block(ctx, spec);
    };
    let key = key.clone();
    let popped = pop_from(ctx, &key, end, 1);
    let (m, s) = &popped[0];
    ctx.out.array(3);
    ctx.out.bulk(&key);
    ctx.out.bulk(m);
    ctx.out.double(*s);
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, End::Min)
}
fn bzpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop(ctx, args, End::Max)
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let spec = block_spec("bzmpop", args)?;
    if mpop(ctx, &args[2..])? {
        return Ok(());
    }
    block(ctx, spec)
}

const RW: u32 = f::WRITE | f::DENYOOM;
const RO: u32 = f::READONLY;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    Command { name: "zadd", full_name: "zadd", arity: -4, flags: RW | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set.", syntax: "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]", run: zadd, ..Command::BASE },
    Command { name: "zincrby", full_name: "zincrby", arity: 4, flags: RW | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Increments the score of a member in a sorted set.", complexity: "O(log(N)) where N is the number of elements in the sorted set.", syntax: "key increment member", run: zincrby, ..Command::BASE },
    Command { name: "zrem", full_name: "zrem", arity: -3, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", complexity: "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", syntax: "key member [member ...]", run: zrem, ..Command::BASE },
    Command { name: "zscore", full_name: "zscore", arity: 3, flags: RO | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Returns the score of a member in a sorted set.", syntax: "key member", run: zscore, ..Command::BASE },
    Command { name: "zmscore", full_name: "zmscore", arity: -3, flags: RO | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "6.2.0", summary: "Returns the score of one or more members in a sorted set.", complexity: "O(N) where N is the number of members being requested.", syntax: "key member [member ...]", run: zmscore, ..Command::BASE },
    Command { name: "zcard", full_name: "zcard", arity: 2, flags: RO | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Returns the number of members in a sorted set.", syntax: "key", run: zcard, ..Command::BASE },
    Command { name: "zcount", full_name: "zcount", arity: 4, flags: RO | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "2.0.0", summary: "Returns the count of members in a sorted set that have scores within a range.", complexity: "O(log(N)) with N being the number of elements in the sorted set.", syntax: "key min max", run: zcount, ..Command::BASE },
    Command { name: "zlexcount", full_name: "zlexcount", arity: 4, flags: RO | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "2.8.9", summary: "Returns the number of members in a sorted set within a lexicographical range.", complexity: "O(log(N)) with N being the number of elements in the sorted set.", syntax: "key min max", run: zlexcount, ..Command::BASE },
    Command { name: "zrank", full_name: "zrank", arity: -3, flags: RO | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "2.0.0", summary: "Returns the index of a member in a sorted set ordered by ascending scores.", complexity: "O(log(N))", syntax: "key member [WITHSCORE]", run: zrank, ..Command::BASE },
    Command { name: "zrevrank", full_name: "zrevrank", arity: -3, flags: RO | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "2.0.0", summary: "Returns the index of a member in a sorted set ordered by descending scores.", complexity: "O(log(N))", syntax: "key member [WITHSCORE]", run: zrevrank, ..Command::BASE },
    Command { name: "zrange", full_name: "zrange", arity: -4, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Returns members in a sorted set within a range of indexes.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", syntax: "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]", run: zrange, ..Command::BASE },
    Command { name: "zrangestore", full_name: "zrangestore", arity: -5, flags: RW, keys: (1, 2, 1), group: "sorted-set", since: "6.2.0", summary: "Stores a range of members from sorted set in a key.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", syntax: "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]", run: zrangestore, ..Command::BASE },
    Command { name: "zrevrange", full_name: "zrevrange", arity: -4, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Returns members in a sorted set within a range of indexes in reverse order.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", syntax: "key start stop [WITHSCORES]", run: zrevrange, ..Command::BASE },
    Command { name: "zrangebyscore", full_name: "zrangebyscore", arity: -4, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "1.0.5", summary: "Returns members in a sorted set within a range of scores.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", syntax: "key min max [WITHSCORES] [LIMIT offset count]", run: zrangebyscore, ..Command::BASE },
    Command { name: "zrevrangebyscore", full_name: "zrevrangebyscore", arity: -4, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "2.2.0", summary: "Returns members in a sorted set within a range of scores in reverse order.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", syntax: "key max min [WITHSCORES] [LIMIT offset count]", run: zrevrangebyscore, ..Command::BASE },
    Command { name: "zrangebylex", full_name: "zrangebylex", arity: -4, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "2.8.9", summary: "Returns members in a sorted set within a lexicographical range.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", syntax: "key min max [LIMIT offset count]", run: zrangebylex, ..Command::BASE },
    Command { name: "zrevrangebylex", full_name: "zrevrangebylex", arity: -4, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "2.8.9", summary: "Returns members in a sorted set within a lexicographical range in reverse order.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", syntax: "key max min [LIMIT offset count]", run: zrevrangebylex, ..Command::BASE },
    Command { name: "zremrangebyrank", full_name: "zremrangebyrank", arity: 4, flags: f::WRITE, keys: (1, 1, 1), group: "sorted-set", since: "2.0.0", summary: "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", syntax: "key start stop", run: zremrangebyrank, ..Command::BASE },
    Command { name: "zremrangebyscore", full_name: "zremrangebyscore", arity: 4, flags: f::WRITE, keys: (1, 1, 1), group: "sorted-set", since: "1.2.0", summary: "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", syntax: "key min max", run: zremrangebyscore, ..Command::BASE },
    Command { name: "zremrangebylex", full_name: "zremrangebylex", arity: 4, flags: f::WRITE, keys: (1, 1, 1), group: "sorted-set", since: "2.8.9", summary: "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", complexity: "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", syntax: "key min max", run: zremrangebylex, ..Command::BASE },
    Command { name: "zunion", full_name: "zunion", arity: -3, flags: RO, keys: (0, 0, 0), group: "sorted-set", since: "6.2.0", summary: "Returns the union of multiple sorted sets.", complexity: "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", syntax: "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]", run: zunion, ..Command::BASE },
    Command { name: "zinter", full_name: "zinter", arity: -3, flags: RO, keys: (0, 0, 0), group: "sorted-set", since: "6.2.0", summary: "Returns the intersect of multiple sorted sets.", complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", syntax: "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]", run: zinter, ..Command::BASE },
    Command { name: "zdiff", full_name: "zdiff", arity: -3, flags: RO, keys: (0, 0, 0), group: "sorted-set", since: "6.2.0", summary: "Returns the difference between multiple sorted sets.", complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", syntax: "numkeys key [key ...] [WITHSCORES]", run: zdiff, ..Command::BASE },
    Command { name: "zunionstore", full_name: "zunionstore", arity: -4, flags: RW, keys: (1, 1, 1), group: "sorted-set", since: "2.0.0", summary: "Stores the union of multiple sorted sets in a key.", complexity: "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", syntax: "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]", run: zunionstore, ..Command::BASE },
    Command { name: "zinterstore", full_name: "zinterstore", arity: -4, flags: RW, keys: (1, 1, 1), group: "sorted-set", since: "2.0.0", summary: "Stores the intersect of multiple sorted sets in a key.", complexity: "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", syntax: "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]", run: zinterstore, ..Command::BASE },
    Command { name: "zdiffstore", full_name: "zdiffstore", arity: -4, flags: RW, keys: (1, 1, 1), group: "sorted-set", since: "6.2.0", summary: "Stores the difference of multiple sorted sets in a key.", complexity: "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", syntax: "destination numkeys key [key ...]", run: zdiffstore, ..Command::BASE },
    Command { name: "zintercard", full_name: "zintercard", arity: -3, flags: RO, keys: (0, 0, 0), group: "sorted-set", since: "7.0.0", summary: "Returns the number of members of the intersect of multiple sorted sets.", complexity: "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", syntax: "numkeys key [key ...] [LIMIT limit]", run: zintercard, ..Command::BASE },
    Command { name: "zrandmember", full_name: "zrandmember", arity: -2, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "6.2.0", summary: "Returns one or more random members from a sorted set.", complexity: "O(N) where N is the number of members returned", syntax: "key [count [WITHSCORES]]", run: zrandmember, ..Command::BASE },
    Command { name: "zscan", full_name: "zscan", arity: -3, flags: RO, keys: (1, 1, 1), group: "sorted-set", since: "2.8.0", summary: "Iterates over members and scores of a sorted set.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", syntax: "key cursor [MATCH pattern] [COUNT count]", run: zscan, ..Command::BASE },
    Command { name: "zpopmin", full_name: "zpopmin", arity: -2, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "5.0.0", summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", syntax: "key [count]", run: zpopmin, ..Command::BASE },
    Command { name: "zpopmax", full_name: "zpopmax", arity: -2, flags: f::WRITE | f::FAST, keys: (1, 1, 1), group: "sorted-set", since: "5.0.0", summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", complexity: "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", syntax: "key [count]", run: zpopmax, ..Command::BASE },
    Command { name: "zmpop", full_name: "zmpop", arity: -4, flags: f::WRITE, keys: (0, 0, 0), group: "sorted-set", since: "7.0.0", summary: "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", syntax: "numkeys key [key ...] MIN | MAX [COUNT count]", run: zmpop, ..Command::BASE },
    Command { name: "bzpopmin", full_name: "bzpopmin", arity: -3, flags: f::WRITE | f::FAST | f::BLOCKING, keys: (1, -2, 1), group: "sorted-set", since: "5.0.0", summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", complexity: "O(log(N)) with N being the number of elements in the sorted set.", syntax: "key [key ...] timeout", run: bzpopmin, ..Command::BASE },
    Command { name: "bzpopmax", full_name: "bzpopmax", arity: -3, flags: f::WRITE | f::FAST | f::BLOCKING, keys: (1, -2, 1), group: "sorted-set", since: "5.0.0", summary: "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", complexity: "O(log(N)) with N being the number of elements in the sorted set.", syntax: "key [key ...] timeout", run: bzpopmax, ..Command::BASE },
    Command { name: "bzmpop", full_name: "bzmpop", arity: -5, flags: f::WRITE | f::BLOCKING, keys: (0, 0, 0), group: "sorted-set", since: "7.0.0", summary: "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", complexity: "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", syntax: "timeout numkeys key [key ...] MIN | MAX [COUNT count]", run: bzmpop, ..Command::BASE },
];
