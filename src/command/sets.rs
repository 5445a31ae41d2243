//! Set commands: membership, random members, moves, and the intersection, union and
//! difference families with their STORE forms.

use std::borrow::Cow;

use bytes::Bytes;

use super::args::{at_least, eq_ic, parse_rand_count, random_picks};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, FAST, RANDOM, READONLY, WRITE};
use super::keyspace::{parse_cursor, scan_options, scan_reply};
use super::{typed, CommandSpec, Route};
use crate::notify;
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use crate::store::{glob_match, Expiry, Set, Value};

const K1: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);

/// The set commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, K1, "set", Route::Shard(sadd)).doc(
        "Adds one or more members to a set. Creates the key if it doesn't exist.",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "key member...",
    ),
    CommandSpec::new("srem", -3, WRITE | FAST, K1, "set", Route::Shard(srem)).doc(
        "Removes one or more members from a set. Deletes the set if the last member was removed.",
        "1.0.0",
        "O(N) where N is the number of members to be removed.",
        "key member...",
    ),
    CommandSpec::new("smembers", 2, READONLY, K1, "set", Route::Shard(smembers)).doc(
        "Returns all members of a set.",
        "1.0.0",
        "O(N) where N is the set cardinality.",
        "key",
    ),
    CommandSpec::new("sismember", 3, READONLY | FAST, K1, "set", Route::Shard(sismember)).doc(
        "Determines whether a member belongs to a set.",
        "1.0.0",
        "O(1)",
        "key member",
    ),
    CommandSpec::new("smismember", -3, READONLY | FAST, K1, "set", Route::Shard(smismember)).doc(
        "Determines whether multiple members belong to a set.",
        "6.2.0",
        "O(N) where N is the number of elements being checked for membership",
        "key member...",
    ),
    CommandSpec::new("scard", 2, READONLY | FAST, K1, "set", Route::Shard(scard)).doc(
        "Returns the number of members in a set.",
        "1.0.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("spop", -2, WRITE | FAST | RANDOM, K1, "set", Route::Shard(spop)).doc(
        "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        "key [count:integer]",
    ),
    CommandSpec::new("srandmember", -2, READONLY | RANDOM, K1, "set", Route::Shard(srandmember)).doc(
        "Get one or multiple random members from a set",
        "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        "key [count:integer]",
    ),
    CommandSpec::new("smove", 4, WRITE | FAST, (1, 2, 1), "set", Route::Shard(smove)).doc(
        "Moves a member from one set to another.",
        "1.0.0",
        "O(1)",
        "source:key destination:key member",
    ),
    CommandSpec::new("sinter", -2, READONLY, ALL, "set", Route::Shard(sinter)).doc(
        "Returns the intersect of multiple sets.",
        "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "key...",
    ),
    CommandSpec::new("sintercard", -3, READONLY, (0, 0, 0), "set", Route::Shard(sintercard)).numkeys(1).doc(
        "Returns the number of members of the intersect of multiple sets.",
        "7.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "numkeys:integer key... [LIMIT limit:integer]",
    ),
    CommandSpec::new("sunion", -2, READONLY, ALL, "set", Route::Shard(sunion)).doc(
        "Returns the union of multiple sets.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "key...",
    ),
    CommandSpec::new("sdiff", -2, READONLY, ALL, "set", Route::Shard(sdiff)).doc(
        "Returns the difference of multiple sets.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "key...",
    ),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, ALL, "set", Route::Shard(sinterstore)).doc(
        "Stores the intersect of multiple sets in a key.",
        "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "destination:key key...",
    ),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, ALL, "set", Route::Shard(sunionstore)).doc(
        "Stores the union of multiple sets in a key.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "destination:key key...",
    ),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, ALL, "set", Route::Shard(sdiffstore)).doc(
        "Stores the difference of multiple sets in a key.",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "destination:key key...",
    ),
    CommandSpec::new("sscan", -3, READONLY | RANDOM, K1, "set", Route::Shard(sscan)).doc(
        "Iterates over members of a set.",
        "2.0.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "key cursor:integer [MATCH pattern] [COUNT count:integer]",
    ),
];

fn max_ints(ctx: &ShardCtx<'_>) -> usize {
    ctx.config.num(crate::config::P::SetMaxIntsetEntries).max(0) as usize
}

fn read_set<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut Set>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().read(key, now), Value::as_set_mut)
}

fn write_set<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut Set>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().write(key, now), Value::as_set_mut)
}

fn members_reply<'a>(it: impl Iterator<Item = Cow<'a, [u8]>>) -> Reply {
    Reply::Set(it.map(|m| Reply::bulk(&m)).collect())
}

fn sadd(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (max, now) = (max_ints(ctx), ctx.now);
    let n = if let Some(s) = write_set(ctx, &a[1])? {
        a[2..].iter().filter(|m| s.insert(m, max)).count()
    } else {
        let mut s = Set::new();
        let n = a[2..].iter().filter(|m| s.insert(m, max)).count();
        ctx.db().set(&a[1], Value::Set(Box::new(s)), Expiry::Clear, now);
        n
    };
    if n > 0 {
        ctx.notify(notify::SET, "sadd", &a[1]);
    }
    Ok(Reply::Int(n as i64))
}

fn srem(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let Some(s) = write_set(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let n = a[2..].iter().filter(|m| s.remove(m)).count();
    if n > 0 {
        ctx.notify(notify::SET, "srem", &a[1]);
    }
    ctx.db().remove_if_empty(&a[1], now);
    Ok(Reply::Int(n as i64))
}

fn smembers(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(read_set(ctx, &a[1])?.map_or(Reply::Set(Vec::new()), |s| members_reply(s.iter())))
}

fn sismember(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(i64::from(read_set(ctx, &a[1])?.is_some_and(|s| s.contains(&a[2])))))
}

fn smismember(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let s = read_set(ctx, &a[1])?;
    Ok(Reply::Array(a[2..].iter().map(|m| Reply::Int(i64::from(s.as_ref().is_some_and(|s| s.contains(m))))).collect()))
}

fn scard(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_set(ctx, &a[1])?.map_or(0, |s| s.len() as i64)))
}

/// Random members for a count (see [`random_picks`]).
fn sample(s: &Set, count: i64) -> Vec<Vec<u8>> {
    let all: Vec<Vec<u8>> = s.iter().map(Cow::into_owned).collect();
    random_picks(all.len(), count).into_iter().map(|i| all[i].clone()).collect()
}

fn spop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = a.get(2).map(|c| at_least(c, 0, "value is out of range, must be positive")).transpose()?;
    let now = ctx.now;
    let Some(s) = write_set(ctx, &a[1])? else {
        return Ok(if count.is_some() { Reply::Set(Vec::new()) } else { Reply::Nil });
    };
    let picked = sample(s, count.unwrap_or(1) as i64);
    for m in &picked {
        s.remove(m);
    }
    if !picked.is_empty() {
        ctx.notify(notify::SET, "spop", &a[1]);
    }
    ctx.db().remove_if_empty(&a[1], now);
    Ok(match count {
        None => picked.first().map_or(Reply::Nil, |m| Reply::bulk(m)),
        Some(_) => Reply::Set(picked.iter().map(|m| Reply::bulk(m)).collect()),
    })
}

fn srandmember(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = parse_rand_count(a.get(2))?;
    let Some(s) = read_set(ctx, &a[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil });
    };
    Ok(match count {
        None => sample(s, 1).first().map_or(Reply::Nil, |m| Reply::bulk(m)),
        Some(n) => Reply::Array(sample(s, n).iter().map(|m| Reply::bulk(m)).collect()),
    })
}

fn smove(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&a[1], &a[2], &a[3]);
    let (max, now) = (max_ints(ctx), ctx.now);
    if write_set(ctx, src)?.is_none() {
        return Ok(Reply::Int(0));
    }
    write_set(ctx, dst)?;
    if src == dst {
        return Ok(Reply::Int(i64::from(read_set(ctx, src)?.is_some_and(|s| s.contains(m)))));
    }
    if !write_set(ctx, src)?.is_some_and(|s| s.remove(m)) {
        return Ok(Reply::Int(0));
    }
    ctx.notify(notify::SET, "srem", src);
    ctx.db().remove_if_empty(src, now);
    match write_set(ctx, dst)? {
        Some(d) => {
            d.insert(m, max);
        }
        None => {
            let mut d = Set::new();
            d.insert(m, max);
            ctx.db().set(dst, Value::Set(Box::new(d)), Expiry::Clear, now);
        }
    }
    ctx.notify(notify::SET, "sadd", dst);
    Ok(Reply::Int(1))
}

/// The sets named by `keys` (missing keys as `None`), or WRONGTYPE if any holds another type.
fn load(ctx: &mut ShardCtx<'_>, keys: &[Bytes]) -> Result<Vec<Option<Set>>, CmdError> {
    keys.iter().map(|k| Ok(read_set(ctx, k)?.map(|s| s.clone()))).collect()
}

/// Which combination of sets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Combines sets as Redis does; the result is built as a new set (an intset when it can be).
fn combine(sets: &[Option<Set>], op: Op, max: usize) -> Set {
    let mut out = Set::new();
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return out;
            }
            let sets: Vec<&Set> = sets.iter().flatten().collect();
            let smallest = sets.iter().min_by_key(|s| s.len()).expect("at least one key");
            for m in smallest.iter() {
                if sets.iter().all(|s| s.contains(&m)) {
                    out.insert(&m, max);
                }
            }
        }
        Op::Union => {
            for s in sets.iter().flatten() {
                for m in s.iter() {
                    out.insert(&m, max);
                }
            }
        }
        Op::Diff => {
            let Some(first) = &sets[0] else { return out };
            for m in first.iter() {
                if !sets[1..].iter().flatten().any(|s| s.contains(&m)) {
                    out.insert(&m, max);
                }
            }
        }
    }
    out
}

fn generic(ctx: &mut ShardCtx<'_>, keys: &[Bytes], op: Op) -> CmdResult {
    let sets = load(ctx, keys)?;
    let out = combine(&sets, op, max_ints(ctx));
    Ok(members_reply(out.iter()))
}

fn store(ctx: &mut ShardCtx<'_>, dst: &[u8], keys: &[Bytes], op: Op, event: &'static str) -> CmdResult {
    let sets = load(ctx, keys)?;
    let out = combine(&sets, op, max_ints(ctx));
    let (n, now) = (out.len(), ctx.now);
    if n == 0 {
        if ctx.db().remove(dst, now).is_some() {
            ctx.notify(notify::GENERIC, "del", dst);
        }
    } else {
        ctx.db().set(dst, Value::Set(Box::new(out)), Expiry::Clear, now);
        ctx.notify(notify::SET, event, dst);
    }
    Ok(Reply::Int(n as i64))
}

fn sinter(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, &a[1..], Op::Inter)
}

fn sunion(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, &a[1..], Op::Union)
}

fn sdiff(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    generic(ctx, &a[1..], Op::Diff)
}

fn sinterstore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    store(ctx, &a[1], &a[2..], Op::Inter, "sinterstore")
}

fn sunionstore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    store(ctx, &a[1], &a[2..], Op::Union, "sunionstore")
}

fn sdiffstore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    store(ctx, &a[1], &a[2..], Op::Diff, "sdiffstore")
}

fn sintercard(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let numkeys = at_least(&a[1], 1, "numkeys should be greater than 0")? as u64;
    if numkeys > a.len() as u64 - 2 {
        return Err(CmdError::other("Number of keys can't be greater than number of args"));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut j = end;
    while j < a.len() {
        if eq_ic(&a[j], "limit") && j + 1 < a.len() {
            limit = at_least(&a[j + 1], 0, "LIMIT can't be negative")?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let sets = load(ctx, &a[2..end])?;
    let n = combine(&sets, Op::Inter, usize::MAX).len();
    Ok(Reply::Int(if limit > 0 { n.min(limit) } else { n } as i64))
}

fn sscan(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let Some(s) = read_set(ctx, &a[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let (count, pattern) = scan_options(a)?;
    let mut items = Vec::new();
    let next = s.scan(cursor, count, |m| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            items.push(Reply::bulk(m));
        }
    });
    Ok(scan_reply(next, items))
}
