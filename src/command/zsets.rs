//! Sorted set commands: ZADD and scores, ranks and the ZRANGE family (by rank, score and
//! lex, forward and reverse, with LIMIT and STORE), removals by range, pops, random
//! members, the union/intersection/difference family, and ZSCAN.

use bytes::Bytes;

use super::args::{at_least, eq_ic, index_range, parse_int, parse_mpop, parse_rand_count, random_picks};
use super::blocking::{attempt, parse_timeout, BlockSpec};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, FAST, NOSCRIPT, RANDOM, READONLY, WRITE};
use super::keyspace::{parse_cursor, scan_options, scan_reply};
use super::{typed, CommandSpec, Route};
use crate::notify;
use crate::num::{format_f64, format_f64_human, parse_f64, parse_f64_bound};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use crate::store::{glob_match, Expiry, PackLimits, Value, ZSet};

const K1: (i32, i32, i32) = (1, 1, 1);
const NONE: (i32, i32, i32) = (0, 0, 0);

/// The sorted set commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, K1, "sorted_set", Route::Shard(zadd)).doc(
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        "1.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "key [NX|XX] [GT|LT] [CH] [INCR] (score:double member)...",
    ),
    CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, K1, "sorted_set", Route::Shard(zincrby)).doc(
        "Increments the score of a member in a sorted set.",
        "1.2.0",
        "O(log(N)) where N is the number of elements in the sorted set.",
        "key increment:integer member",
    ),
    CommandSpec::new("zrem", -3, WRITE | FAST, K1, "sorted_set", Route::Shard(zrem)).doc(
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        "1.2.0",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        "key member...",
    ),
    CommandSpec::new("zcard", 2, READONLY | FAST, K1, "sorted_set", Route::Shard(zcard)).doc(
        "Returns the number of members in a sorted set.",
        "1.2.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("zcount", 4, READONLY | FAST, K1, "sorted_set", Route::Shard(zcount)).doc(
        "Returns the count of members in a sorted set that have scores within a range.",
        "2.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "key min:double max:double",
    ),
    CommandSpec::new("zlexcount", 4, READONLY | FAST, K1, "sorted_set", Route::Shard(zlexcount)).doc(
        "Returns the number of members in a sorted set within a lexicographical range.",
        "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "key min:string max:string",
    ),
    CommandSpec::new("zscore", 3, READONLY | FAST, K1, "sorted_set", Route::Shard(zscore)).doc(
        "Returns the score of a member in a sorted set.",
        "1.2.0",
        "O(1)",
        "key member",
    ),
    CommandSpec::new("zmscore", -3, READONLY | FAST, K1, "sorted_set", Route::Shard(zmscore)).doc(
        "Returns the score of one or more members in a sorted set.",
        "6.2.0",
        "O(N) where N is the number of members being requested.",
        "key member...",
    ),
    CommandSpec::new("zrank", -3, READONLY | FAST, K1, "sorted_set", Route::Shard(zrank)).doc(
        "Returns the index of a member in a sorted set ordered by ascending scores.",
        "2.0.0",
        "O(log(N))",
        "key member [WITHSCORE]",
    ),
    CommandSpec::new("zrevrank", -3, READONLY | FAST, K1, "sorted_set", Route::Shard(zrevrank)).doc(
        "Returns the index of a member in a sorted set ordered by descending scores.",
        "2.0.0",
        "O(log(N))",
        "key member [WITHSCORE]",
    ),
    CommandSpec::new("zrange", -4, READONLY, K1, "sorted_set", Route::Shard(zrange)).doc(
        "Returns members in a sorted set within a range of indexes.",
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "key start:string stop:string [BYSCORE|BYLEX] [REV] [LIMIT offset:integer count:integer] [WITHSCORES]",
    ),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), "sorted_set", Route::Shard(zrangestore)).doc(
        "Stores a range of members from sorted set in a key.",
        "6.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        "dst:key src:key min:string max:string [BYSCORE|BYLEX] [REV] [LIMIT offset:integer count:integer]",
    ),
    CommandSpec::new("zrevrange", -4, READONLY, K1, "sorted_set", Route::Shard(zrevrange)).doc(
        "Returns members in a sorted set within a range of indexes in reverse order.",
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "key start:integer stop:integer [WITHSCORES]",
    ),
    CommandSpec::new("zrangebyscore", -4, READONLY, K1, "sorted_set", Route::Shard(zrangebyscore)).doc(
        "Returns members in a sorted set within a range of scores.",
        "1.0.5",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
        "key min:double max:double [WITHSCORES] [LIMIT offset:integer count:integer]",
    ),
    CommandSpec::new("zrevrangebyscore", -4, READONLY, K1, "sorted_set", Route::Shard(zrevrangebyscore)).doc(
        "Returns members in a sorted set within a range of scores in reverse order.",
        "2.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
        "key max:double min:double [WITHSCORES] [LIMIT offset:integer count:integer]",
    ),
    CommandSpec::new("zrangebylex", -4, READONLY, K1, "sorted_set", Route::Shard(zrangebylex)).doc(
        "Returns members in a sorted set within a lexicographical range.",
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
        "key min:string max:string [LIMIT offset:integer count:integer]",
    ),
    CommandSpec::new("zrevrangebylex", -4, READONLY, K1, "sorted_set", Route::Shard(zrevrangebylex)).doc(
        "Returns members in a sorted set within a lexicographical range in reverse order.",
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned.",
        "key max:string min:string [LIMIT offset:integer count:integer]",
    ),
    CommandSpec::new("zremrangebyrank", 4, WRITE, K1, "sorted_set", Route::Shard(zremrangebyrank)).doc(
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        "2.0.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "key start:integer stop:integer",
    ),
    CommandSpec::new("zremrangebyscore", 4, WRITE, K1, "sorted_set", Route::Shard(zremrangebyscore)).doc(
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "key min:double max:double",
    ),
    CommandSpec::new("zremrangebylex", 4, WRITE, K1, "sorted_set", Route::Shard(zremrangebylex)).doc(
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "key min:string max:string",
    ),
    CommandSpec::new("zpopmin", -2, WRITE | FAST, K1, "sorted_set", Route::Shard(zpopmin)).doc(
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "key [count:integer]",
    ),
    CommandSpec::new("zpopmax", -2, WRITE | FAST, K1, "sorted_set", Route::Shard(zpopmax)).doc(
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "key [count:integer]",
    ),
    CommandSpec::new("zmpop", -4, WRITE, NONE, "sorted_set", Route::Shard(zmpop)).numkeys(1).doc(
        "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "numkeys:integer key... MIN|MAX [COUNT count:integer]",
    ),
    CommandSpec::new("zrandmember", -2, READONLY | RANDOM, K1, "sorted_set", Route::Shard(zrandmember)).doc(
        "Returns one or more random members from a sorted set.",
        "6.2.0",
        "O(N) where N is the number of members returned",
        "key [count:integer [WITHSCORES]]",
    ),
    CommandSpec::new("zunion", -3, READONLY, NONE, "sorted_set", Route::Shard(zunion)).numkeys(1).doc(
        "Returns the union of multiple sorted sets.",
        "6.2.0",
        "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]",
    ),
    CommandSpec::new("zinter", -3, READONLY, NONE, "sorted_set", Route::Shard(zinter)).numkeys(1).doc(
        "Returns the intersect of multiple sorted sets.",
        "6.2.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]",
    ),
    CommandSpec::new("zdiff", -3, READONLY, NONE, "sorted_set", Route::Shard(zdiff)).numkeys(1).doc(
        "Returns the difference between multiple sorted sets.",
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "numkeys:integer key... [WITHSCORES]",
    ),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, K1, "sorted_set", Route::Shard(zunionstore)).numkeys(2).doc(
        "Stores the union of multiple sorted sets in a key.",
        "2.0.0",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "destination:key numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX]",
    ),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, K1, "sorted_set", Route::Shard(zinterstore)).numkeys(2).doc(
        "Stores the intersect of multiple sorted sets in a key.",
        "2.0.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "destination:key numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX]",
    ),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, K1, "sorted_set", Route::Shard(zdiffstore)).numkeys(2).doc(
        "Stores the difference of multiple sorted sets in a key.",
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "destination:key numkeys:integer key...",
    ),
    CommandSpec::new("zintercard", -3, READONLY, NONE, "sorted_set", Route::Shard(zintercard)).numkeys(1).doc(
        "Returns the number of members of the intersect of multiple sorted sets.",
        "7.0.0",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        "numkeys:integer key... [LIMIT limit:integer]",
    ),
    CommandSpec::new("zscan", -3, READONLY | RANDOM, K1, "sorted_set", Route::Shard(zscan)).doc(
        "Iterates over members and scores of a sorted set.",
        "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "key cursor:integer [MATCH pattern] [COUNT count:integer]",
    ),
    CommandSpec::new("bzpopmin", -3, NOSCRIPT | WRITE | FAST, (1, -2, 1), "sorted-set", Route::Shard(bzpopmin)).blocking(&BZPOPMIN).doc(
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "key... timeout:double",
    ),
    CommandSpec::new("bzpopmax", -3, NOSCRIPT | WRITE | FAST, (1, -2, 1), "sorted-set", Route::Shard(bzpopmax)).blocking(&BZPOPMAX).doc(
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "key... timeout:double",
    ),
    CommandSpec::new("bzmpop", -5, WRITE, (0, 0, 0), "sorted-set", Route::Shard(bzmpop)).numkeys(2).blocking(&BZMPOP).doc(
        "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "timeout:double numkeys:integer key... MIN|MAX [COUNT count:integer]",
    ),
];

fn limits(ctx: &ShardCtx<'_>) -> PackLimits {
    let c = ctx.config;
    PackLimits {
        entries: c.num(crate::config::P::ZsetMaxListpackEntries).max(0) as usize,
        value: c.num(crate::config::P::ZsetMaxListpackValue).max(0) as usize,
    }
}

fn read_zset<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().read(key, now), Value::as_zset_mut)
}

fn write_zset<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().write(key, now), Value::as_zset_mut)
}

/// Stores `z` at `dst` (deleting `dst` when `z` is empty); returns its size.
fn store_result(ctx: &mut ShardCtx<'_>, dst: &[u8], mut z: ZSet, event: &'static str) -> i64 {
    let (n, now) = (z.len(), ctx.now);
    if n == 0 {
        if ctx.db().remove(dst, now).is_some() {
            ctx.notify(notify::GENERIC, "del", dst);
        }
    } else {
        z.pack_if_fits(limits(ctx));
        ctx.db().set(dst, Value::ZSet(Box::new(z)), Expiry::Clear, now);
        ctx.notify(notify::ZSET, event, dst);
    }
    n as i64
}

/// (score, member) pairs taken out of a sorted set.
type Scored = Vec<(f64, Vec<u8>)>;

/// Members, and with `withscores` their scores as doubles: a flat array, or with `nest` (RESP3
/// clients) one [member, score] array per member, as Redis 7 replies.
fn scored(items: impl Iterator<Item = (f64, Vec<u8>)>, withscores: bool, nest: bool) -> Reply {
    let mut out = Vec::new();
    for (s, m) in items {
        match (withscores, nest) {
            (false, _) => out.push(Reply::Bulk(m.into())),
            (true, false) => out.extend([Reply::Bulk(m.into()), Reply::Double(s)]),
            (true, true) => out.push(Reply::Array(vec![Reply::Bulk(m.into()), Reply::Double(s)])),
        }
    }
    Reply::Array(out)
}

fn not_float() -> CmdError {
    CmdError::other("min or max is not a float")
}

/// A score range `[min, max]`, either end exclusive (Redis's `zrangespec`).
#[derive(Clone, Copy)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

fn parse_bound(b: &[u8]) -> Result<(f64, bool), CmdError> {
    match b.strip_prefix(b"(") {
        Some(rest) => Ok((parse_f64_bound(rest).ok_or_else(not_float)?, true)),
        None => Ok((parse_f64_bound(b).ok_or_else(not_float)?, false)),
    }
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, CmdError> {
        let ((min, minex), (max, maxex)) = (parse_bound(min)?, parse_bound(max)?);
        Ok(ScoreRange { min, minex, max, maxex })
    }

    fn below_min(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    fn within_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// Ranks `[start, end)` of the members in range.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        (z.count_while(|s, _| self.below_min(s)), z.count_while(|s, _| self.within_max(s)))
    }
}

/// One end of a lexicographical range.
enum Lex {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

/// A lexicographical range (Redis's `zlexrangespec`).
struct LexRange {
    min: Lex,
    max: Lex,
}

fn parse_lex(b: &Bytes) -> Result<Lex, CmdError> {
    match b.first() {
        Some(b'+') if b.len() == 1 => Ok(Lex::Max),
        Some(b'-') if b.len() == 1 => Ok(Lex::Min),
        Some(b'[') => Ok(Lex::Incl(b.slice(1..))),
        Some(b'(') => Ok(Lex::Excl(b.slice(1..))),
        _ => Err(CmdError::other("min or max not valid string range item")),
    }
}

impl LexRange {
    fn parse(min: &Bytes, max: &Bytes) -> Result<Self, CmdError> {
        Ok(LexRange { min: parse_lex(min)?, max: parse_lex(max)? })
    }

    fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(v) => m < &v[..],
            Lex::Excl(v) => m <= &v[..],
        }
    }

    fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::Max => true,
            Lex::Min => false,
            Lex::Incl(v) => m <= &v[..],
            Lex::Excl(v) => m < &v[..],
        }
    }

    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        (z.count_while(|_, m| self.below_min(m)), z.count_while(|_, m| self.within_max(m)))
    }
}

// ---------------------------------------------------------------- ZADD and single members

pub(super) fn zadd(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, false);
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else if eq_ic(o, "incr") {
            incr = true;
        } else if eq_ic(o, "gt") {
            gt = true;
        } else if eq_ic(o, "lt") {
            lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = &a[i..];
    if pairs.is_empty() || pairs.len() % 2 == 1 {
        return Err(CmdError::Syntax);
    }
    if nx && xx {
        return Err(CmdError::other("XX and NX options at the same time are not compatible"));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::other("GT, LT, and/or NX options at the same time are not compatible"));
    }
    if incr && pairs.len() > 2 {
        return Err(CmdError::other("INCR option supports a single increment-element pair"));
    }
    let scores: Vec<f64> = pairs.chunks(2).map(|p| parse_f64(&p[0]).ok_or(CmdError::NotFloat)).collect::<Result<_, _>>()?;
    let (lim, now) = (limits(ctx), ctx.now);
    if write_zset(ctx, &a[1])?.is_none() {
        if xx {
            return Ok(if incr { Reply::Nil } else { Reply::Int(0) });
        }
        ctx.db().set(&a[1], Value::ZSet(Box::new(ZSet::new())), Expiry::Clear, now);
    }
    let z = write_zset(ctx, &a[1])?.expect("created above");
    let (mut added, mut updated, mut last) = (0, 0, None);
    for (pair, &score) in pairs.chunks(2).zip(&scores) {
        let m = &pair[1];
        match z.score(m) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let new = if incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(CmdError::other("resulting score is not a number (NaN)"));
                }
                if (lt && new >= cur) || (gt && new <= cur) {
                    continue;
                }
                if new != cur {
                    z.insert(m, new, lim);
                    updated += 1;
                }
                last = Some(new);
            }
            None if xx => {}
            None => {
                z.insert(m, score, lim);
                added += 1;
                last = Some(score);
            }
        }
    }
    if added + updated > 0 {
        ctx.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, &a[1]);
    }
    if incr {
        return Ok(last.map_or(Reply::Nil, Reply::Double));
    }
    Ok(Reply::Int(if ch { added + updated } else { added }))
}

fn zincrby(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let args = [a[0].clone(), a[1].clone(), Bytes::from_static(b"INCR"), a[2].clone(), a[3].clone()];
    zadd(ctx, &args)
}

fn zrem(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let Some(z) = write_zset(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let n = a[2..].iter().filter(|m| z.remove(m)).count();
    if n > 0 {
        ctx.notify(notify::ZSET, "zrem", &a[1]);
    }
    ctx.db().remove_if_empty(&a[1], now);
    Ok(Reply::Int(n as i64))
}

fn zcard(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_zset(ctx, &a[1])?.map_or(0, |z| z.len() as i64)))
}

fn zcount(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let r = ScoreRange::parse(&a[2], &a[3])?;
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let (start, end) = r.ranks(z);
    Ok(Reply::Int(end.saturating_sub(start) as i64))
}

fn zlexcount(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let r = LexRange::parse(&a[2], &a[3])?;
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let (start, end) = r.ranks(z);
    Ok(Reply::Int(end.saturating_sub(start) as i64))
}

fn zscore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(read_zset(ctx, &a[1])?.and_then(|z| z.score(&a[2])).map_or(Reply::Nil, Reply::Double))
}

fn zmscore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let z = read_zset(ctx, &a[1])?;
    Ok(Reply::Array(a[2..].iter().map(|m| z.as_ref().and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double)).collect()))
}

fn rank_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], rev: bool) -> CmdResult {
    let withscore = match a.len() {
        3 => false,
        4 if eq_ic(&a[3], "withscore") => true,
        _ => return Err(CmdError::Syntax),
    };
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(if withscore { Reply::NilArray } else { Reply::Nil });
    };
    let Some(r) = z.rank(&a[2]) else {
        return Ok(if withscore { Reply::NilArray } else { Reply::Nil });
    };
    let r = if rev { z.len() - 1 - r } else { r } as i64;
    Ok(match z.score(&a[2]) {
        Some(s) if withscore => Reply::Array(vec![Reply::Int(r), Reply::Double(s)]),
        _ => Reply::Int(r),
    })
}

fn zrank(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    rank_generic(ctx, a, false)
}

fn zrevrank(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    rank_generic(ctx, a, true)
}

// ---------------------------------------------------------------- the ZRANGE family

#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand`: `at` is the source key's position; `store` is the
/// destination for ZRANGESTORE. Options are parsed, then the range, then the key is read.
fn zrange_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], at: usize, store: Option<&Bytes>, mut by: By, rev: Option<bool>) -> CmdResult {
    let (mut withscores, mut limit, mut rev_opt) = (false, None::<(i64, i64)>, rev);
    let mut j = at + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        if store.is_none() && eq_ic(&a[j], "withscores") {
            withscores = true;
        } else if eq_ic(&a[j], "limit") && left >= 2 {
            limit = Some((parse_int(&a[j + 1])?, parse_int(&a[j + 2])?));
            j += 2;
        } else if rev.is_none() && eq_ic(&a[j], "rev") {
            rev_opt = Some(true);
        } else if by == By::Auto && eq_ic(&a[j], "bylex") {
            by = By::Lex;
        } else if by == By::Auto && eq_ic(&a[j], "byscore") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev_opt.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit.is_some() && by == By::Rank {
        return Err(CmdError::other("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::other("syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    // BYSCORE and BYLEX in reverse take the range as max, min.
    let (lo, hi) = if rev && by != By::Rank { (&a[at + 2], &a[at + 1]) } else { (&a[at + 1], &a[at + 2]) };
    enum Range {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let range = match by {
        By::Score => Range::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Range::Lex(LexRange::parse(lo, hi)?),
        _ => Range::Rank(parse_int(lo)?, parse_int(hi)?),
    };
    let items: Scored = match read_zset(ctx, &a[at])? {
        None => Vec::new(),
        Some(z) => {
            let len = z.len();
            // Ranks [start, end) in ascending order, then the offset and count of LIMIT.
            let (start, end) = match &range {
                Range::Rank(s, e) => match index_range(*s, *e, len) {
                    None => (0, 0),
                    Some((s, e)) if rev => (len - 1 - e, len - s),
                    Some((s, e)) => (s, e + 1),
                },
                Range::Score(r) => r.ranks(z),
                Range::Lex(r) => r.ranks(z),
            };
            let (offset, count) = limit.unwrap_or((0, -1));
            if end <= start || offset < 0 || (offset > 0 && offset as usize >= len) {
                Vec::new()
            } else {
                let n = end - start;
                let skip = (offset as usize).min(n);
                let take = if count < 0 { n - skip } else { (count as usize).min(n - skip) };
                let from = if rev { end - 1 - skip } else { start + skip };
                z.iter_from(from, rev).take(take).map(|(s, m)| (s, m.into_owned())).collect()
            }
        }
    };
    match store {
        Some(dst) => {
            let mut out = ZSet::new_sorted();
            let unlimited = PackLimits { entries: usize::MAX, value: usize::MAX };
            for (s, m) in &items {
                out.insert(m, *s, unlimited);
            }
            Ok(Reply::Int(store_result(ctx, dst, out, "zrangestore")))
        }
        None => Ok(scored(items.into_iter(), withscores, ctx.resp3)),
    }
}

fn zrange(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Auto, None)
}

fn zrangestore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 2, Some(&a[1]), By::Auto, None)
}

fn zrevrange(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Score, Some(true))
}

fn zrangebylex(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, By::Lex, Some(true))
}

/// Removes the members at ascending ranks `[start, end)`; deletes the key if it empties.
fn remove_ranks(ctx: &mut ShardCtx<'_>, key: &[u8], start: usize, end: usize, event: &'static str) -> CmdResult {
    let now = ctx.now;
    let Some(z) = write_zset(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    if end <= start {
        return Ok(Reply::Int(0));
    }
    let doomed: Vec<Vec<u8>> = z.iter_from(start, false).take(end - start).map(|(_, m)| m.into_owned()).collect();
    for m in &doomed {
        z.remove(m);
    }
    if !doomed.is_empty() {
        ctx.notify(notify::ZSET, event, key);
    }
    ctx.db().remove_if_empty(key, now);
    Ok(Reply::Int(doomed.len() as i64))
}

fn zremrangebyrank(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (start, stop) = (parse_int(&a[2])?, parse_int(&a[3])?);
    let Some(len) = read_zset(ctx, &a[1])?.map(|z| z.len()) else {
        return Ok(Reply::Int(0));
    };
    match index_range(start, stop, len) {
        None => Ok(Reply::Int(0)),
        Some((s, e)) => remove_ranks(ctx, &a[1], s, e + 1, "zremrangebyrank"),
    }
}

fn zremrangebyscore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let r = ScoreRange::parse(&a[2], &a[3])?;
    let Some((s, e)) = read_zset(ctx, &a[1])?.map(|z| r.ranks(z)) else {
        return Ok(Reply::Int(0));
    };
    remove_ranks(ctx, &a[1], s, e, "zremrangebyscore")
}

fn zremrangebylex(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let r = LexRange::parse(&a[2], &a[3])?;
    let Some((s, e)) = read_zset(ctx, &a[1])?.map(|z| r.ranks(z)) else {
        return Ok(Reply::Int(0));
    };
    remove_ranks(ctx, &a[1], s, e, "zremrangebylex")
}

// ---------------------------------------------------------------- pops and random members

/// Pops up to `count` members from the low (or high, `max`) end of `key`.
fn pop(ctx: &mut ShardCtx<'_>, key: &[u8], count: usize, max: bool) -> Result<Option<Scored>, CmdError> {
    let now = ctx.now;
    let Some(z) = write_zset(ctx, key)? else {
        return Ok(None);
    };
    let from = if max { z.len().saturating_sub(1) } else { 0 };
    let items: Vec<(f64, Vec<u8>)> = z.iter_from(from, max).take(count).map(|(s, m)| (s, m.into_owned())).collect();
    for (_, m) in &items {
        z.remove(m);
    }
    if !items.is_empty() {
        ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    }
    ctx.db().remove_if_empty(key, now);
    Ok(Some(items))
}

fn zpop_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], max: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = a.get(2).map(|c| at_least(c, 0, "value is out of range, must be positive")).transpose()?.unwrap_or(1);
    // The key's type is checked before a count of 0 answers.
    if write_zset(ctx, &a[1])?.is_none() || count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    // RESP3 nests pairs only when a count was given.
    let nest = ctx.resp3 && a.len() == 3;
    Ok(scored(pop(ctx, &a[1], count, max)?.unwrap_or_default().into_iter(), true, nest))
}

fn zpopmin(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, a, false)
}

fn zpopmax(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, a, true)
}

/// Pops up to `count` members of `key` as ZMPOP replies: `[key, [[member, score]...]]`;
/// `None` when the key is missing.
fn mpop_key(ctx: &mut ShardCtx<'_>, key: &[u8], count: usize, max: bool) -> Result<Option<Reply>, CmdError> {
    let Some(items) = pop(ctx, key, count, max)? else { return Ok(None) };
    let pairs = items.into_iter().map(|(s, m)| Reply::Array(vec![Reply::Bulk(m.into()), Reply::Double(s)])).collect();
    Ok(Some(Reply::Array(vec![Reply::bulk(key), Reply::Array(pairs)])))
}

fn zmpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (keys, max, count) = parse_mpop(a, ["min", "max"])?;
    for key in keys {
        if let Some(r) = mpop_key(ctx, key, count, max)? {
            return Ok(r);
        }
    }
    Ok(Reply::NilArray)
}

const BZPOPMIN: BlockSpec = BlockSpec { serve: serve_bzpopmin, timeout_at: -1, dest_at: 0, halves: None, null_bulk: false };
const BZPOPMAX: BlockSpec = BlockSpec { serve: serve_bzpopmax, timeout_at: -1, dest_at: 0, halves: None, null_bulk: false };
const BZMPOP: BlockSpec = BlockSpec { serve: serve_bzmpop, timeout_at: 1, dest_at: 0, halves: None, null_bulk: false };

fn bzpopmin(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    attempt(ctx, a, &BZPOPMIN, &a[1..a.len() - 1])
}

fn bzpopmax(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    attempt(ctx, a, &BZPOPMAX, &a[1..a.len() - 1])
}

fn bzmpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    parse_timeout(&a[1])?;
    let (keys, _, _) = parse_mpop(&a[1..], ["min", "max"])?;
    attempt(ctx, a, &BZMPOP, keys)
}

/// BZPOPMIN/BZPOPMAX's pop: `[key, member, score]`.
fn serve_bzpop(ctx: &mut ShardCtx<'_>, key: &[u8], max: bool) -> Result<Option<Reply>, CmdError> {
    let Some(mut items) = pop(ctx, key, 1, max)? else { return Ok(None) };
    Ok(items.pop().map(|(s, m)| Reply::Array(vec![Reply::bulk(key), Reply::Bulk(m.into()), Reply::Double(s)])))
}

fn serve_bzpopmin(ctx: &mut ShardCtx<'_>, _a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    serve_bzpop(ctx, key, false)
}

fn serve_bzpopmax(ctx: &mut ShardCtx<'_>, _a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    serve_bzpop(ctx, key, true)
}

fn serve_bzmpop(ctx: &mut ShardCtx<'_>, a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    let (_, max, count) = parse_mpop(&a[1..], ["min", "max"])?;
    mpop_key(ctx, key, count, max)
}

fn zrandmember(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let count = parse_rand_count(a.get(2))?;
    let withscores = match a.len() {
        0..=3 => false,
        4 if eq_ic(&a[3], "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil });
    };
    let all: Vec<(f64, Vec<u8>)> = z.iter_from(0, false).map(|(s, m)| (s, m.into_owned())).collect();
    let Some(count) = count else {
        return Ok(Reply::Bulk(all[random_picks(all.len(), 1)[0]].1.clone().into()));
    };
    Ok(scored(random_picks(all.len(), count).into_iter().map(|i| all[i].clone()), withscores, ctx.resp3))
}

// ---------------------------------------------------------------- union, intersection, difference

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(acc: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *acc += v;
            // inf + -inf: Redis stores 0 rather than NaN.
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => *acc = acc.min(v),
        Aggregate::Max => *acc = acc.max(v),
    }
}

/// One input of ZUNION/ZINTER/ZDIFF: a sorted set, or a plain set whose members score 1.
enum Source {
    Missing,
    Z(Vec<(f64, Vec<u8>)>, ahash::AHashMap<Vec<u8>, f64>),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Z(v, _) => v.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Z(_, map) => map.get(m).copied(),
        }
    }
}

fn load_source(ctx: &mut ShardCtx<'_>, key: &[u8]) -> Result<Source, CmdError> {
    let now = ctx.now;
    let Some(e) = ctx.db().read(key, now) else {
        return Ok(Source::Missing);
    };
    let items: Vec<(f64, Vec<u8>)> = match &e.value {
        Value::ZSet(z) => z.iter_from(0, false).map(|(s, m)| (s, m.into_owned())).collect(),
        Value::Set(s) => s.iter().map(|m| (1.0, m.into_owned())).collect(),
        _ => return Err(CmdError::WrongType),
    };
    let map = items.iter().map(|(s, m)| (m.clone(), *s)).collect();
    Ok(Source::Z(items, map))
}

/// What a ZUNION/ZINTER/ZDIFF-style command does with its result.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    /// Replies with it (WITHSCORES allowed).
    Reply,
    /// Stores it.
    Store,
    /// Replies with its size (ZINTERCARD; LIMIT allowed).
    Card,
}

/// Parses and computes ZUNION/ZINTER/ZDIFF, their STORE forms and ZINTERCARD from the
/// numkeys at `at`, as Redis's `zunionInterDiffGenericCommand`; returns the result, whether
/// WITHSCORES was given, and the LIMIT (0 for none).
fn combine(ctx: &mut ShardCtx<'_>, a: &[Bytes], at: usize, op: SetOp, output: Output) -> Result<(ZSet, bool, usize), CmdError> {
    let name = a[0].to_ascii_lowercase();
    let n = parse_int(&a[at])?;
    if n < 1 {
        return Err(CmdError::Other(format!("at least 1 input key is needed for '{}' command", String::from_utf8_lossy(&name)).into()));
    }
    if n as u64 > (a.len() - at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let n = n as usize;
    let keys = &a[at + 1..at + 1 + n];
    let mut sources = Vec::with_capacity(n);
    for k in keys {
        sources.push(load_source(ctx, k)?);
    }
    let mut weights = vec![1.0; n];
    let (mut how, mut withscores, mut limit) = (Aggregate::Sum, false, 0);
    let mut j = at + 1 + n;
    while j < a.len() {
        let remaining = a.len() - j;
        if op != SetOp::Diff && remaining > n && eq_ic(&a[j], "weights") {
            for (w, arg) in weights.iter_mut().zip(&a[j + 1..j + 1 + n]) {
                *w = parse_f64(arg).ok_or(CmdError::other("weight value is not a float"))?;
            }
            j += 1 + n;
        } else if op != SetOp::Diff && remaining >= 2 && eq_ic(&a[j], "aggregate") {
            how = if eq_ic(&a[j + 1], "sum") {
                Aggregate::Sum
            } else if eq_ic(&a[j + 1], "min") {
                Aggregate::Min
            } else if eq_ic(&a[j + 1], "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if output == Output::Card && remaining >= 2 && eq_ic(&a[j], "limit") {
            limit = at_least(&a[j + 1], 0, "LIMIT can't be negative")?;
            j += 2;
        } else if output == Output::Reply && eq_ic(&a[j], "withscores") {
            withscores = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        // inf * 0: Redis stores 0 rather than NaN.
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut out = ZSet::new_sorted();
    let unlimited = PackLimits { entries: usize::MAX, value: usize::MAX };
    match op {
        SetOp::Union => {
            let mut acc: ahash::AHashMap<Vec<u8>, f64> = ahash::AHashMap::new();
            for (src, &w) in sources.iter().zip(&weights) {
                if let Source::Z(items, _) = src {
                    for (s, m) in items {
                        let v = weighted(*s, w);
                        match acc.get_mut(m) {
                            Some(cur) => aggregate(cur, v, how),
                            None => {
                                acc.insert(m.clone(), v);
                            }
                        }
                    }
                }
            }
            for (m, s) in acc {
                out.insert(&m, s, unlimited);
            }
        }
        SetOp::Inter => {
            if sources.iter().all(|s| !matches!(s, Source::Missing)) {
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by_key(|&i| sources[i].len());
                if let Source::Z(items, _) = &sources[order[0]] {
                    'member: for (s, m) in items {
                        let mut score = weighted(*s, weights[order[0]]);
                        for &i in &order[1..] {
                            match sources[i].score(m) {
                                Some(other) => aggregate(&mut score, weighted(other, weights[i]), how),
                                None => continue 'member,
                            }
                        }
                        out.insert(m, score, unlimited);
                    }
                }
            }
        }
        SetOp::Diff => {
            if let Source::Z(items, _) = &sources[0] {
                for (s, m) in items {
                    if sources[1..].iter().all(|o| o.score(m).is_none()) {
                        out.insert(m, *s, unlimited);
                    }
                }
            }
        }
    }
    Ok((out, withscores, limit))
}

fn combine_reply(ctx: &mut ShardCtx<'_>, a: &[Bytes], op: SetOp) -> CmdResult {
    let (z, withscores, _) = combine(ctx, a, 1, op, Output::Reply)?;
    Ok(scored(z.iter_from(0, false).map(|(s, m)| (s, m.into_owned())), withscores, ctx.resp3))
}

fn combine_store(ctx: &mut ShardCtx<'_>, a: &[Bytes], op: SetOp, event: &'static str) -> CmdResult {
    let (z, _, _) = combine(ctx, a, 2, op, Output::Store)?;
    Ok(Reply::Int(store_result(ctx, &a[1], z, event)))
}

fn zunion(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    combine_reply(ctx, a, SetOp::Union)
}

fn zinter(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    combine_reply(ctx, a, SetOp::Inter)
}

fn zdiff(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    combine_reply(ctx, a, SetOp::Diff)
}

fn zunionstore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    combine_store(ctx, a, SetOp::Union, "zunionstore")
}

fn zinterstore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    combine_store(ctx, a, SetOp::Inter, "zinterstore")
}

fn zdiffstore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    combine_store(ctx, a, SetOp::Diff, "zdiffstore")
}

fn zintercard(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (z, _, limit) = combine(ctx, a, 1, SetOp::Inter, Output::Card)?;
    let n = z.len();
    Ok(Reply::Int(if limit > 0 { n.min(limit) } else { n } as i64))
}

fn zscan(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let Some(z) = read_zset(ctx, &a[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let (count, pattern) = scan_options(a)?;
    // Scores come back as strings in every protocol: as stored in a packed set (`%.17g`),
    // as Redis's human long-double form from a skiplist.
    let format = if z.encoding() == "skiplist" { format_f64_human } else { format_f64 };
    let mut items = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            items.push(Reply::bulk(m));
            items.push(Reply::Bulk(format(s).into()));
        }
    });
    Ok(scan_reply(next, items))
}
