//! Access to collection values (hashes, sets, lists, sorted sets) for the command
//! families: typed lookup with WRONGTYPE, and write access that creates
//! the value on first use and deletes the key when the value empties (a
//! collection key is never empty). Also the option parsing shared by the
//! `SCAN` family and by `LMPOP`/`ZMPOP`.

use std::sync::Arc;

use bytes::Bytes;

use super::{arg_i64, is, CmdError, SYNTAX, WRONGTYPE};
use crate::atlas::{Db, HashValue, ListValue, SetValue, Value, ZsetValue};

/// A collection type stored behind an `Arc` in a [`Value`].
pub trait Collection: Clone + Default {
    fn of(v: &Value) -> Option<&Arc<Self>>;
    fn of_mut(v: &mut Value) -> Option<&mut Arc<Self>>;
    fn wrap(self) -> Value;
    fn is_empty(&self) -> bool;
}

macro_rules! collection {
    ($t:ty, $variant:ident) => {
        impl Collection for $t {
            fn of(v: &Value) -> Option<&Arc<Self>> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Arc<Self>> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn wrap(self) -> Value {
                Value::$variant(Arc::new(self))
            }
            fn is_empty(&self) -> bool {
                <$t>::is_empty(self)
            }
        }
    };
}

collection!(HashValue, Hash);
collection!(SetValue, Set);
collection!(ListValue, List);
collection!(ZsetValue, Zset);

/// The `T` at `key`, if any (an expired key is deleted first); WRONGTYPE
/// if the key holds something else.
pub fn get<'d, T: Collection>(
    db: &'d mut Db,
    key: &[u8],
    now: u64,
) -> Result<Option<&'d T>, CmdError> {
    match db.get(key, now) {
        None => Ok(None),
        Some(e) => T::of(&e.value)
            .map(|x| Some(&**x))
            .ok_or(CmdError::from(WRONGTYPE)),
    }
}

/// Runs `f` on the `T` at `key` for writing, creating it empty first if
/// needed, and deletes the key if `f` leaves it empty. The caller has
/// checked that `key` holds a `T` or nothing ([`get`]).
pub fn with<T: Collection, R>(db: &mut Db, key: &[u8], now: u64, f: impl FnOnce(&mut T) -> R) -> R {
    // One lookup when the key exists (the common case of a write).
    let found = match db.get_mut(key, now) {
        Some(mut e) => {
            let x = T::of_mut(&mut e.value).expect("the caller checked the type");
            let x = Arc::make_mut(x);
            let out = f(x);
            Ok((out, x.is_empty()))
        }
        None => Err(f),
    };
    match found {
        Ok((out, empty)) => {
            if empty {
                db.remove(key);
            }
            out
        }
        Err(f) => {
            let mut x = T::default();
            let out = f(&mut x);
            if !x.is_empty() {
                db.insert(key, x.wrap(), 0, now);
            }
            out
        }
    }
}

/// `[MATCH pattern] [COUNT count]` (and `TYPE type` where `with_type`),
/// from `args[from..]`, with Redis's errors.
pub struct ScanOptions<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub typ: Option<&'a [u8]>,
}

pub fn scan_options(
    args: &[Bytes],
    from: usize,
    with_type: bool,
) -> Result<ScanOptions<'_>, CmdError> {
    let mut o = ScanOptions {
        pattern: None,
        count: 10,
        typ: None,
    };
    let mut i = from;
    while i < args.len() {
        let more = i + 1 < args.len();
        if is(&args[i], "count") && more {
            let n = arg_i64(&args[i + 1])?;
            if n < 1 {
                return Err(SYNTAX.into());
            }
            o.count = n as usize;
        } else if is(&args[i], "match") && more {
            o.pattern = Some(&args[i + 1]);
        } else if with_type && is(&args[i], "type") && more {
            o.typ = Some(&args[i + 1]);
        } else {
            return Err(SYNTAX.into());
        }
        i += 2;
    }
    Ok(o)
}

impl ScanOptions<'_> {
    /// Whether `item` passes `MATCH`.
    pub fn matches(&self, item: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| p == b"*" || crate::atlas::glob::matches(p, item, false))
    }
}

/// `numkeys key [key ...] <end> [COUNT count]` (`LMPOP`, `ZMPOP` and their
/// blocking forms after the timeout): the keys, the end as `end` reads it
/// (`LEFT|RIGHT`, `MIN|MAX`) and the count, with Redis's errors.
pub fn parse_mpop<E>(
    args: &[Bytes],
    end: impl Fn(&[u8]) -> Result<E, CmdError>,
) -> Result<(&[Bytes], E, usize), CmdError> {
    const NUMKEYS: &str = "ERR numkeys should be greater than 0";
    let numkeys = match arg_i64(&args[0]) {
        Ok(n) if n > 0 => n as usize,
        _ => return Err(NUMKEYS.into()),
    };
    if numkeys >= args.len() - 1 {
        return Err(SYNTAX.into());
    }
    let keys = &args[1..1 + numkeys];
    let rest = &args[1 + numkeys..];
    let end = end(&rest[0])?;
    let count = match &rest[1..] {
        [] => 1,
        [c, n] if is(c, "count") => match arg_i64(n) {
            Ok(n) if n > 0 => n as usize,
            _ => return Err("ERR count should be greater than 0".into()),
        },
        _ => return Err(SYNTAX.into()),
    };
    Ok((keys, end, count))
}
