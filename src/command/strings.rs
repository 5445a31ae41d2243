//! String commands: GET, SET and options, counters, ranges, MGET/MSET, LCS.

use bytes::Bytes;

use super::args::{eq_ic, parse_int};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::{typed, CommandSpec, Merge, Route};
use crate::notify;
use crate::num::{incr_by_float, FloatIncrError};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use crate::store::{Expiry, StrValue, Value};

const K1: (i32, i32, i32) = (1, 1, 1);

/// The string commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, K1, "string", Route::Shard(get)).doc(
        "Returns the string value of a key.",
        "1.0.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("set", -3, WRITE | DENYOOM, K1, "string", Route::Shard(set)).doc(
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        "1.0.0",
        "O(1)",
        "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
    ),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(setnx)).doc(
        "Set the string value of a key only when the key doesn't exist.",
        "1.0.0",
        "O(1)",
        "key value",
    ),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, K1, "string", Route::Shard(setex)).doc(
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        "2.0.0",
        "O(1)",
        "key seconds value",
    ),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, K1, "string", Route::Shard(psetex)).doc(
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        "2.6.0",
        "O(1)",
        "key milliseconds value",
    ),
    CommandSpec::new("getex", -2, WRITE | FAST, K1, "string", Route::Shard(getex)).doc(
        "Returns the string value of a key after setting its expiration time.",
        "6.2.0",
        "O(1)",
        "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]",
    ),
    CommandSpec::new("getdel", 2, WRITE | FAST, K1, "string", Route::Shard(getdel)).doc(
        "Returns the string value of a key after deleting the key.",
        "6.2.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(getset)).doc(
        "Returns the previous string value of a key after setting it to a new value.",
        "1.0.0",
        "O(1)",
        "key value",
    ),
    CommandSpec::new("mget", -2, READONLY | FAST, (1, -1, 1), "string", Route::Shard(mget)).split(Merge::Gather).doc(
        "Atomically returns the string values of one or more keys.",
        "1.0.0",
        "O(N) where N is the number of keys to retrieve.",
        "key...",
    ),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, (1, -1, 2), "string", Route::Shard(mset)).split(Merge::AllOk).doc(
        "Atomically creates or modifies the string values of one or more keys.",
        "1.0.1",
        "O(N) where N is the number of keys to set.",
        "(key value)...",
    ),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), "string", Route::Shard(msetnx)).doc(
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        "1.0.1",
        "O(N) where N is the number of keys to set.",
        "(key value)...",
    ),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(append)).doc(
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        "2.0.0",
        "O(1)",
        "key value",
    ),
    CommandSpec::new("strlen", 2, READONLY | FAST, K1, "string", Route::Shard(strlen)).doc(
        "Returns the length of a string value.",
        "2.2.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("getrange", 4, READONLY, K1, "string", Route::Shard(getrange)).doc(
        "Returns a substring of the string stored at a key.",
        "2.4.0",
        "O(N) where N is the length of the returned string.",
        "key start end",
    ),
    CommandSpec::new("substr", 4, READONLY, K1, "string", Route::Shard(getrange)).doc(
        "Returns a substring from a string value.",
        "1.0.0",
        "O(N) where N is the length of the returned string.",
        "key start end",
    ),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, K1, "string", Route::Shard(setrange)).doc(
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        "2.2.0",
        "O(1), not counting the time taken to copy the new string in place.",
        "key offset value",
    ),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(incr)).doc(
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(decr)).doc(
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(incrby)).doc(
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        "O(1)",
        "key increment",
    ),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(decrby)).doc(
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        "1.0.0",
        "O(1)",
        "key decrement",
    ),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, K1, "string", Route::Shard(incrbyfloat)).doc(
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        "2.6.0",
        "O(1)",
        "key increment:double",
    ),
    CommandSpec::new("lcs", -3, READONLY, (1, 2, 1), "string", Route::Shard(lcs)).doc(
        "Finds the longest common substring.",
        "7.0.0",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        "key1:key key2:key [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
    ),
];

/// Reads a string key: `None` when missing, WRONGTYPE for another type.
pub(super) fn read_str<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut StrValue>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().read(key, now), Value::as_str_mut)
}

/// Looks up a string key for writing: `None` when missing, WRONGTYPE for another type.
pub(super) fn write_str<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut StrValue>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().write(key, now), Value::as_str_mut)
}

fn bulk_or_nil(v: Option<&mut StrValue>) -> Reply {
    v.map_or(Reply::Nil, |s| Reply::Bulk(s.to_bytes()))
}

fn get(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(bulk_or_nil(read_str(ctx, &a[1])?))
}

/// Expiry units of SET/GETEX options.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Converts an expire argument to an absolute Unix ms, with Redis's checks.
fn expire_at(cmd: &'static str, unit: Unit, arg: &[u8], now: u64) -> Result<u64, CmdError> {
    let v = parse_int(arg)?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(CmdError::InvalidExpire(cmd));
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if matches!(unit, Unit::Ex | Unit::Px) {
        ms = ms.checked_add(now as i64).ok_or(CmdError::InvalidExpire(cmd))?;
    }
    Ok(ms as u64)
}

#[derive(Default)]
struct SetOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(Unit, usize)>,
}

/// Parses SET (`is_set`) or GETEX options from `a[from..]` as Redis's
/// `parseExtendedStringArgumentsOrReply`.
fn parse_set_opts(a: &[Bytes], from: usize, is_set: bool) -> Result<SetOpts, CmdError> {
    let mut o = SetOpts::default();
    let mut j = from;
    while j < a.len() {
        let opt = &a[j];
        let has_next = j + 1 < a.len();
        let no_exp = o.expire.is_none();
        let exp_is = |u: Unit| o.expire.map(|e| e.0) == Some(u);
        if eq_ic(opt, "nx") && !o.xx && is_set {
            o.nx = true;
        } else if eq_ic(opt, "xx") && !o.nx && is_set {
            o.xx = true;
        } else if eq_ic(opt, "get") && is_set {
            o.get = true;
        } else if eq_ic(opt, "keepttl") && !o.persist && no_exp && is_set {
            o.keepttl = true;
        } else if eq_ic(opt, "persist") && !is_set && no_exp && !o.keepttl {
            o.persist = true;
        } else if let Some(unit) = [("ex", Unit::Ex), ("px", Unit::Px), ("exat", Unit::ExAt), ("pxat", Unit::PxAt)]
            .iter()
            .find(|(n, u)| eq_ic(opt, n) && !o.keepttl && !o.persist && (no_exp || exp_is(*u)) && has_next)
            .map(|x| x.1)
        {
            o.expire = Some((unit, j + 1));
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

fn set(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let o = parse_set_opts(a, 3, true)?;
    let when = match o.expire {
        Some((unit, i)) => Some(expire_at("set", unit, &a[i], ctx.now)?),
        None => None,
    };
    let old = if o.get { Some(bulk_or_nil(read_str(ctx, &a[1])?)) } else { None };
    let now = ctx.now;
    let found = ctx.db().contains(&a[1], now);
    if (o.nx && found) || (o.xx && !found) {
        return Ok(old.unwrap_or(Reply::Nil));
    }
    let expiry = match (when, o.keepttl) {
        (Some(t), _) => Expiry::At(t),
        (None, true) => Expiry::Keep,
        (None, false) => Expiry::Clear,
    };
    ctx.db().set(&a[1], Value::Str(StrValue::from_input(&a[2])), expiry, now);
    ctx.notify(notify::STRING, "set", &a[1]);
    if when.is_some() {
        ctx.notify(notify::GENERIC, "expire", &a[1]);
    }
    Ok(old.unwrap_or(Reply::OK))
}

fn setnx(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    if ctx.db().contains(&a[1], now) {
        return Ok(Reply::Int(0));
    }
    ctx.db().set(&a[1], Value::Str(StrValue::from_input(&a[2])), Expiry::Clear, now);
    ctx.notify(notify::STRING, "set", &a[1]);
    Ok(Reply::Int(1))
}

fn setex_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], cmd: &'static str, unit: Unit) -> CmdResult {
    let when = expire_at(cmd, unit, &a[2], ctx.now)?;
    let now = ctx.now;
    ctx.db().set(&a[1], Value::Str(StrValue::from_input(&a[3])), Expiry::At(when), now);
    ctx.notify(notify::STRING, "set", &a[1]);
    ctx.notify(notify::GENERIC, "expire", &a[1]);
    Ok(Reply::OK)
}

fn setex(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    setex_generic(ctx, a, "setex", Unit::Ex)
}

fn psetex(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    setex_generic(ctx, a, "psetex", Unit::Px)
}

fn getex(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let o = parse_set_opts(a, 2, false)?;
    let Some(v) = read_str(ctx, &a[1])? else { return Ok(Reply::Nil) };
    let value = v.to_bytes();
    let now = ctx.now;
    if let Some((unit, i)) = o.expire {
        let when = expire_at("getex", unit, &a[i], now)?;
        if matches!(unit, Unit::ExAt | Unit::PxAt) && when <= now && !ctx.loading() {
            ctx.db().remove(&a[1], now);
            ctx.notify(notify::GENERIC, "del", &a[1]);
        } else {
            ctx.db().set_expire(&a[1], when, now);
            ctx.notify(notify::GENERIC, "expire", &a[1]);
        }
    } else if o.persist && ctx.db().persist(&a[1], now) {
        ctx.notify(notify::GENERIC, "persist", &a[1]);
    }
    Ok(Reply::Bulk(value))
}

fn getdel(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let Some(v) = read_str(ctx, &a[1])? else { return Ok(Reply::Nil) };
    let value = v.to_bytes();
    let now = ctx.now;
    ctx.db().remove(&a[1], now);
    ctx.notify(notify::GENERIC, "del", &a[1]);
    Ok(Reply::Bulk(value))
}

fn getset(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let old = bulk_or_nil(read_str(ctx, &a[1])?);
    let now = ctx.now;
    ctx.db().set(&a[1], Value::Str(StrValue::from_input(&a[2])), Expiry::Clear, now);
    ctx.notify(notify::STRING, "set", &a[1]);
    Ok(old)
}

fn mget(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    Ok(Reply::Array(
        a[1..]
            .iter()
            .map(|k| db.read(k, now).and_then(|e| e.value.as_str().map(|s| Reply::Bulk(s.to_bytes()))).unwrap_or(Reply::Nil))
            .collect(),
    ))
}

fn mset(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(CmdError::Arity("mset".into()));
    }
    let now = ctx.now;
    for kv in a[1..].chunks(2) {
        ctx.db().set(&kv[0], Value::Str(StrValue::from_input(&kv[1])), Expiry::Clear, now);
        ctx.notify(notify::STRING, "set", &kv[0]);
    }
    Ok(Reply::OK)
}

fn msetnx(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(CmdError::Arity("msetnx".into()));
    }
    let now = ctx.now;
    let db = ctx.db();
    if a[1..].chunks(2).any(|kv| db.contains(&kv[0], now)) {
        return Ok(Reply::Int(0));
    }
    for kv in a[1..].chunks(2) {
        ctx.db().set(&kv[0], Value::Str(StrValue::from_input(&kv[1])), Expiry::Clear, now);
        ctx.notify(notify::STRING, "set", &kv[0]);
    }
    Ok(Reply::Int(1))
}

/// Rejects a string that would grow past proto-max-bulk-len (Redis's `checkStringLength`).
fn check_len(ctx: &ShardCtx<'_>, size: u64, add: u64) -> Result<(), CmdError> {
    let max = ctx.config.num(crate::config::P::ProtoMaxBulkLen);
    match size.checked_add(add) {
        Some(t) if t <= max as u64 => Ok(()),
        _ => Err(CmdError::StringTooLong),
    }
}

fn append(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let cur_len = match write_str(ctx, &a[1])? {
        None => {
            let now = ctx.now;
            ctx.db().set(&a[1], Value::Str(StrValue::from_input(&a[2])), Expiry::Clear, now);
            ctx.notify(notify::STRING, "append", &a[1]);
            return Ok(Reply::Int(a[2].len() as i64));
        }
        Some(v) => v.len(),
    };
    check_len(ctx, cur_len as u64, a[2].len() as u64)?;
    let v = write_str(ctx, &a[1])?.expect("checked above").make_raw();
    v.extend_from_slice(&a[2]);
    let n = v.len();
    ctx.notify(notify::STRING, "append", &a[1]);
    Ok(Reply::Int(n as i64))
}

fn strlen(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_str(ctx, &a[1])?.map_or(0, |v| v.len() as i64)))
}

fn getrange(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let mut start = parse_int(&a[2])?;
    let mut end = parse_int(&a[3])?;
    let Some(v) = read_str(ctx, &a[1])? else { return Ok(Reply::Bulk(Bytes::new())) };
    let s = v.as_bytes();
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Ok(Reply::Bulk(Bytes::new()));
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
        return Ok(Reply::Bulk(Bytes::new()));
    }
    Ok(Reply::bulk(&s[start as usize..=end as usize]))
}

fn setrange(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let offset = parse_int(&a[2])?;
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let val = &a[3];
    let offset = offset as u64;
    let now = ctx.now;
    match write_str(ctx, &a[1])? {
        None => {
            if val.is_empty() {
                return Ok(Reply::Int(0));
            }
            check_len(ctx, offset, val.len() as u64)?;
            let mut v = vec![0u8; offset as usize];
            v.extend_from_slice(val);
            let n = v.len();
            ctx.db().set(&a[1], Value::Str(StrValue::Raw(v)), Expiry::Clear, now);
            ctx.notify(notify::STRING, "setrange", &a[1]);
            Ok(Reply::Int(n as i64))
        }
        Some(cur) => {
            let olen = cur.len();
            if val.is_empty() {
                return Ok(Reply::Int(olen as i64));
            }
            check_len(ctx, offset, val.len() as u64)?;
            let v = write_str(ctx, &a[1])?.expect("checked above").make_raw();
            let end = offset as usize + val.len();
            if v.len() < end {
                v.resize(end, 0);
            }
            v[offset as usize..end].copy_from_slice(val);
            let n = v.len();
            ctx.notify(notify::STRING, "setrange", &a[1]);
            Ok(Reply::Int(n as i64))
        }
    }
}

fn incr_decr(ctx: &mut ShardCtx<'_>, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now;
    let cur = match write_str(ctx, key)? {
        Some(v) => v.as_i64().ok_or(CmdError::NotInteger)?,
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(CmdError::Overflow)?;
    match write_str(ctx, key)? {
        Some(v) => *v = StrValue::Int(new),
        None => ctx.db().set(key, Value::Str(StrValue::Int(new)), Expiry::Clear, now),
    }
    ctx.notify(notify::STRING, "incrby", key);
    Ok(Reply::Int(new))
}

fn incr(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    incr_decr(ctx, &a[1], 1)
}

fn decr(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    incr_decr(ctx, &a[1], -1)
}

fn incrby(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let by = parse_int(&a[2])?;
    incr_decr(ctx, &a[1], by)
}

fn decrby(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let by = parse_int(&a[2])?;
    if by == i64::MIN {
        return Err(CmdError::DecrementOverflow);
    }
    incr_decr(ctx, &a[1], -by)
}

fn incrbyfloat(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let cur = write_str(ctx, &a[1])?.map(|v| v.as_bytes().into_owned());
    let sum = incr_by_float(cur.as_deref(), &a[2]).map_err(|e| match e {
        FloatIncrError::BadValue | FloatIncrError::BadIncrement => CmdError::NotFloat,
        FloatIncrError::NotFinite => CmdError::NanOrInfinity,
    })?;
    let reply = Reply::bulk(&sum);
    match write_str(ctx, &a[1])? {
        Some(v) => *v = StrValue::from_bytes(&sum),
        None => ctx.db().set(&a[1], Value::Str(StrValue::from_bytes(&sum)), Expiry::Clear, now),
    }
    ctx.notify(notify::STRING, "incrbyfloat", &a[1]);
    Ok(reply)
}

fn lcs(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let mut fetch = |k: &[u8]| -> Result<Vec<u8>, ()> {
        match db.read(k, now) {
            None => Ok(Vec::new()),
            Some(e) => e.value.as_str().map(|s| s.as_bytes().into_owned()).ok_or(()),
        }
    };
    let (sa, sb) = (fetch(&a[1]), fetch(&a[2]));
    let (Ok(sa), Ok(sb)) = (sa, sb) else {
        return Err(CmdError::other("The specified keys must contain string values"));
    };
    let (mut getlen, mut getidx, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut j = 3;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if eq_ic(&a[j], "idx") {
            getidx = true;
        } else if eq_ic(&a[j], "len") {
            getlen = true;
        } else if eq_ic(&a[j], "withmatchlen") {
            withmatchlen = true;
        } else if eq_ic(&a[j], "minmatchlen") && more > 0 {
            minmatchlen = parse_int(&a[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(CmdError::other("If you want both the length and indexes, please just use IDX."));
    }
    let (alen, blen) = (sa.len(), sb.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    let max = ctx.config.num(crate::config::P::ProtoMaxBulkLen) as u64;
    if cells.saturating_mul(4) > max {
        return Err(CmdError::other("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let w = blen + 1;
    let mut t = vec![0u32; cells as usize];
    for i in 1..=alen {
        for jj in 1..=blen {
            t[i * w + jj] = if sa[i - 1] == sb[jj - 1] { t[(i - 1) * w + jj - 1] + 1 } else { t[(i - 1) * w + jj].max(t[i * w + jj - 1]) };
        }
    }
    let total = t[alen * w + blen];
    let mut idx = total as usize;
    let mut result = vec![0u8; idx];
    let mut matches = Vec::new();
    let (mut i, mut jj) = (alen, blen);
    let (mut ars, mut are, mut brs, mut bre) = (alen, 0usize, 0usize, 0usize);
    let compute = getidx || !getlen;
    while compute && i > 0 && jj > 0 {
        let mut emit = false;
        if sa[i - 1] == sb[jj - 1] {
            result[idx - 1] = sa[i - 1];
            if ars == alen {
                ars = i - 1;
                are = i - 1;
                brs = jj - 1;
                bre = jj - 1;
            } else if ars == i && brs == jj {
                ars -= 1;
                brs -= 1;
            } else {
                emit = true;
            }
            if ars == 0 || brs == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            if t[(i - 1) * w + jj] > t[i * w + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
            if ars != alen {
                emit = true;
            }
        }
        let match_len = (are as i64) - (ars as i64) + 1;
        if emit {
            if (minmatchlen == 0 || match_len >= minmatchlen) && getidx {
                let mut m = vec![
                    Reply::Array(vec![Reply::Int(ars as i64), Reply::Int(are as i64)]),
                    Reply::Array(vec![Reply::Int(brs as i64), Reply::Int(bre as i64)]),
                ];
                if withmatchlen {
                    m.push(Reply::Int(match_len));
                }
                matches.push(Reply::Array(m));
            }
            ars = alen;
        }
    }
    if getidx {
        Ok(Reply::Map(vec![(Reply::bulk(b"matches"), Reply::Array(matches)), (Reply::bulk(b"len"), Reply::Int(i64::from(total)))]))
    } else if getlen {
        Ok(Reply::Int(i64::from(total)))
    } else {
        Ok(Reply::Bulk(Bytes::from(result)))
    }
}
