//! Hash commands: fields and values, counters, random fields and HSCAN.

use bytes::Bytes;

use super::args::{eq_ic, parse_int, parse_rand_count, random_picks};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, FAST, RANDOM, READONLY, WRITE};
use super::keyspace::{parse_cursor, scan_options, scan_reply};
use super::{typed, CommandSpec, Route};
use crate::notify;
use crate::num::{incr_by_float, FloatIncrError};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use crate::store::{glob_match, Expiry, Hash, PackLimits, Value};

const K1: (i32, i32, i32) = (1, 1, 1);

/// The hash commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, K1, "hash", Route::Shard(hset)).doc(
        "Creates or modifies the value of a field in a hash.",
        "2.0.0",
        "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        "key (field value)...",
    ),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, K1, "hash", Route::Shard(hsetnx)).doc(
        "Sets the value of a field in a hash only when the field doesn't exist.",
        "2.0.0",
        "O(1)",
        "key field value",
    ),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, K1, "hash", Route::Shard(hmset)).doc(
        "Sets the values of multiple fields.",
        "2.0.0",
        "O(N) where N is the number of fields being set.",
        "key (field value)...",
    ),
    CommandSpec::new("hget", 3, READONLY | FAST, K1, "hash", Route::Shard(hget)).doc(
        "Returns the value of a field in a hash.",
        "2.0.0",
        "O(1)",
        "key field",
    ),
    CommandSpec::new("hmget", -3, READONLY | FAST, K1, "hash", Route::Shard(hmget)).doc(
        "Returns the values of all fields in a hash.",
        "2.0.0",
        "O(N) where N is the number of fields being requested.",
        "key field...",
    ),
    CommandSpec::new("hdel", -3, WRITE | FAST, K1, "hash", Route::Shard(hdel)).doc(
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        "2.0.0",
        "O(N) where N is the number of fields to be removed.",
        "key field...",
    ),
    CommandSpec::new("hlen", 2, READONLY | FAST, K1, "hash", Route::Shard(hlen)).doc(
        "Returns the number of fields in a hash.",
        "2.0.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, K1, "hash", Route::Shard(hstrlen)).doc(
        "Returns the length of the value of a field.",
        "3.2.0",
        "O(1)",
        "key field",
    ),
    CommandSpec::new("hexists", 3, READONLY | FAST, K1, "hash", Route::Shard(hexists)).doc(
        "Determines whether a field exists in a hash.",
        "2.0.0",
        "O(1)",
        "key field",
    ),
    CommandSpec::new("hkeys", 2, READONLY, K1, "hash", Route::Shard(hkeys)).doc(
        "Returns all fields in a hash.",
        "2.0.0",
        "O(N) where N is the size of the hash.",
        "key",
    ),
    CommandSpec::new("hvals", 2, READONLY, K1, "hash", Route::Shard(hvals)).doc(
        "Returns all values in a hash.",
        "2.0.0",
        "O(N) where N is the size of the hash.",
        "key",
    ),
    CommandSpec::new("hgetall", 2, READONLY, K1, "hash", Route::Shard(hgetall)).doc(
        "Returns all fields and values in a hash.",
        "2.0.0",
        "O(N) where N is the size of the hash.",
        "key",
    ),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, K1, "hash", Route::Shard(hincrby)).doc(
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        "2.0.0",
        "O(1)",
        "key field increment:integer",
    ),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, K1, "hash", Route::Shard(hincrbyfloat)).doc(
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        "2.6.0",
        "O(1)",
        "key field increment:double",
    ),
    CommandSpec::new("hrandfield", -2, READONLY | RANDOM, K1, "hash", Route::Shard(hrandfield)).doc(
        "Returns one or more random fields from a hash.",
        "6.2.0",
        "O(N) where N is the number of fields returned",
        "key [count:integer [WITHVALUES]]",
    ),
    CommandSpec::new("hscan", -3, READONLY | RANDOM, K1, "hash", Route::Shard(hscan)).doc(
        "Iterates over fields and values of a hash.",
        "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "key cursor:integer [MATCH pattern] [COUNT count:integer]",
    ),
];

fn limits(ctx: &ShardCtx<'_>) -> PackLimits {
    let c = ctx.config;
    PackLimits {
        entries: c.num(crate::config::P::HashMaxListpackEntries).max(0) as usize,
        value: c.num(crate::config::P::HashMaxListpackValue).max(0) as usize,
    }
}

/// A hash key for reading: `None` when missing, WRONGTYPE for another type.
fn read_hash<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut Hash>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().read(key, now), Value::as_hash_mut)
}

/// A hash key for writing, created empty when missing; WRONGTYPE for another type. A hash
/// left empty is removed by the caller ([`crate::store::Db::remove_if_empty`]).
fn hash_or_create<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<&'a mut Hash, CmdError> {
    let now = ctx.now;
    if typed(ctx.db().write(key, now), Value::as_hash_mut)?.is_none() {
        ctx.db().set(key, Value::Hash(Box::new(Hash::new())), Expiry::Clear, now);
    }
    Ok(typed(ctx.db().write(key, now), Value::as_hash_mut)?.expect("created above"))
}

/// Sets the field/value pairs of `a[2..]`; returns how many fields were new.
fn set_pairs(ctx: &mut ShardCtx<'_>, a: &[Bytes], name: &str) -> Result<i64, CmdError> {
    if a.len() % 2 == 1 {
        return Err(CmdError::Arity(name.into()));
    }
    let lim = limits(ctx);
    let h = hash_or_create(ctx, &a[1])?;
    let n = a[2..].chunks(2).map(|fv| i64::from(h.set(&fv[0], &fv[1], lim))).sum();
    ctx.notify(notify::HASH, "hset", &a[1]);
    Ok(n)
}

fn hset(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(set_pairs(ctx, a, "hset")?))
}

fn hmset(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    set_pairs(ctx, a, "hmset")?;
    Ok(Reply::OK)
}

fn hsetnx(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let lim = limits(ctx);
    let h = hash_or_create(ctx, &a[1])?;
    if h.get(&a[2]).is_some() {
        return Ok(Reply::Int(0));
    }
    h.set(&a[2], &a[3], lim);
    ctx.notify(notify::HASH, "hset", &a[1]);
    Ok(Reply::Int(1))
}

fn hget(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(read_hash(ctx, &a[1])?.and_then(|h| h.get(&a[2])).map_or(Reply::Nil, Reply::bulk))
}

fn hmget(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let h = read_hash(ctx, &a[1])?;
    Ok(Reply::Array(a[2..].iter().map(|f| h.as_ref().and_then(|h| h.get(f)).map_or(Reply::Nil, Reply::bulk)).collect()))
}

fn hdel(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let Some(h) = typed(ctx.db().write(&a[1], now), Value::as_hash_mut)? else {
        return Ok(Reply::Int(0));
    };
    let n = a[2..].iter().filter(|f| h.remove(f)).count();
    if n > 0 {
        ctx.notify(notify::HASH, "hdel", &a[1]);
    }
    ctx.db().remove_if_empty(&a[1], now);
    Ok(Reply::Int(n as i64))
}

fn hlen(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_hash(ctx, &a[1])?.map_or(0, |h| h.len() as i64)))
}

fn hstrlen(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_hash(ctx, &a[1])?.and_then(|h| h.get(&a[2])).map_or(0, |v| v.len() as i64)))
}

fn hexists(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(i64::from(read_hash(ctx, &a[1])?.is_some_and(|h| h.get(&a[2]).is_some()))))
}

fn hkeys(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(read_hash(ctx, &a[1])?.map_or_else(Vec::new, |h| h.iter().map(|(f, _)| Reply::bulk(f)).collect())))
}

fn hvals(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(read_hash(ctx, &a[1])?.map_or_else(Vec::new, |h| h.iter().map(|(_, v)| Reply::bulk(v)).collect())))
}

fn hgetall(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Map(read_hash(ctx, &a[1])?.map_or_else(Vec::new, |h| h.iter().map(|(f, v)| (Reply::bulk(f), Reply::bulk(v))).collect())))
}

fn hincrby(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let incr = parse_int(&a[3])?;
    let lim = limits(ctx);
    let h = hash_or_create(ctx, &a[1])?;
    let cur = match h.get(&a[2]) {
        None => 0,
        Some(v) => crate::num::parse_i64(v).ok_or(CmdError::other("hash value is not an integer"))?,
    };
    let new = cur.checked_add(incr).ok_or(CmdError::Overflow)?;
    h.set(&a[2], itoa::Buffer::new().format(new).as_bytes(), lim);
    ctx.notify(notify::HASH, "hincrby", &a[1]);
    Ok(Reply::Int(new))
}

fn hincrbyfloat(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    // The increment is checked first, on its own: not a float, or infinite.
    match incr_by_float(None, &a[3]) {
        Err(FloatIncrError::NotFinite) => return Err(CmdError::other("value is NaN or Infinity")),
        Err(_) => return Err(CmdError::NotFloat),
        Ok(_) => {}
    }
    let lim = limits(ctx);
    let h = hash_or_create(ctx, &a[1])?;
    // A new hash is never left empty: a missing field counts as 0 and the increment is finite.
    let sum = incr_by_float(h.get(&a[2]), &a[3]).map_err(|e| match e {
        FloatIncrError::BadValue => CmdError::other("hash value is not a float"),
        FloatIncrError::BadIncrement => CmdError::NotFloat,
        FloatIncrError::NotFinite => CmdError::NanOrInfinity,
    })?;
    h.set(&a[2], &sum, lim);
    ctx.notify(notify::HASH, "hincrbyfloat", &a[1]);
    Ok(Reply::bulk(&sum))
}

fn hrandfield(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let count = parse_rand_count(a.get(2))?;
    let withvalues = match a.len() {
        0..=3 => false,
        4 if eq_ic(&a[3], "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    let resp3 = ctx.resp3;
    let Some(h) = read_hash(ctx, &a[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil });
    };
    let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
    let Some(count) = count else {
        return Ok(Reply::bulk(pairs[random_picks(pairs.len(), 1)[0]].0));
    };
    let picks = random_picks(pairs.len(), count);
    let mut out = Vec::with_capacity(picks.len() * if withvalues { 2 } else { 1 });
    for i in picks {
        let (f, v) = (Reply::bulk(pairs[i].0), Reply::bulk(pairs[i].1));
        match (withvalues, resp3) {
            (false, _) => out.push(f),
            (true, false) => out.extend([f, v]),
            // RESP3 nests each field with its value.
            (true, true) => out.push(Reply::Array(vec![f, v])),
        }
    }
    Ok(Reply::Array(out))
}

fn hscan(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let Some(h) = read_hash(ctx, &a[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let (count, pattern) = scan_options(a)?;
    let mut items = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            items.push(Reply::bulk(f));
            items.push(Reply::bulk(v));
        }
    });
    Ok(scan_reply(next, items))
}
