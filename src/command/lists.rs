//! List commands: pushes and pops at both ends, ranges and indexes, LINSERT/LREM/LTRIM/LPOS,
//! and the moves between lists (LMOVE, RPOPLPUSH, LMPOP).

use bytes::Bytes;

use super::args::{at_least, eq_ic, index_range, parse_int, parse_mpop};
use super::blocking::{attempt, parse_timeout, BlockSpec, MoveHalves};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, FAST, NOSCRIPT, READONLY, WRITE};
use super::{typed, CommandSpec, Route};
use crate::notify;
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use crate::store::{Expiry, List, Value};

const K1: (i32, i32, i32) = (1, 1, 1);
const K2: (i32, i32, i32) = (1, 2, 1);

/// The list commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, K1, "list", Route::Shard(lpush)).doc(
        "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "key element...",
    ),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, K1, "list", Route::Shard(rpush)).doc(
        "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "key element...",
    ),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, K1, "list", Route::Shard(lpushx)).doc(
        "Prepends one or more elements to a list only when the list exists.",
        "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "key element...",
    ),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, K1, "list", Route::Shard(rpushx)).doc(
        "Appends an element to a list only when the list exists.",
        "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "key element...",
    ),
    CommandSpec::new("lpop", -2, WRITE | FAST, K1, "list", Route::Shard(lpop)).doc(
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        "1.0.0",
        "O(N) where N is the number of elements returned",
        "key [count:integer]",
    ),
    CommandSpec::new("rpop", -2, WRITE | FAST, K1, "list", Route::Shard(rpop)).doc(
        "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        "1.0.0",
        "O(N) where N is the number of elements returned",
        "key [count:integer]",
    ),
    CommandSpec::new("llen", 2, READONLY | FAST, K1, "list", Route::Shard(llen)).doc(
        "Returns the length of a list.",
        "1.0.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("lrange", 4, READONLY, K1, "list", Route::Shard(lrange)).doc(
        "Returns a range of elements from a list.",
        "1.0.0",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        "key start:integer stop:integer",
    ),
    CommandSpec::new("lindex", 3, READONLY, K1, "list", Route::Shard(lindex)).doc(
        "Returns an element from a list by its index.",
        "1.0.0",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        "key index:integer",
    ),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, K1, "list", Route::Shard(lset)).doc(
        "Sets the value of an element in a list by its index.",
        "1.0.0",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        "key index:integer element",
    ),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, K1, "list", Route::Shard(linsert)).doc(
        "Inserts an element before or after another element in a list.",
        "2.2.0",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        "key BEFORE|AFTER pivot element",
    ),
    CommandSpec::new("lrem", 4, WRITE, K1, "list", Route::Shard(lrem)).doc(
        "Removes elements from a list. Deletes the list if the last element was removed.",
        "1.0.0",
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
        "key count:integer element",
    ),
    CommandSpec::new("ltrim", 4, WRITE, K1, "list", Route::Shard(ltrim)).doc(
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        "1.0.0",
        "O(N) where N is the number of elements to be removed by the operation.",
        "key start:integer stop:integer",
    ),
    CommandSpec::new("lpos", -3, READONLY, K1, "list", Route::Shard(lpos)).doc(
        "Returns the index of matching elements in a list.",
        "6.0.6",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        "key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]",
    ),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, K2, "list", Route::Shard(lmove)).doc(
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        "6.2.0",
        "O(1)",
        "source:key destination:key LEFT|RIGHT LEFT|RIGHT",
    ),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, K2, "list", Route::Shard(rpoplpush)).doc(
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        "1.2.0",
        "O(1)",
        "source:key destination:key",
    ),
    CommandSpec::new("lmpop", -4, WRITE, (0, 0, 0), "list", Route::Shard(lmpop)).numkeys(1).doc(
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "numkeys:integer key... LEFT|RIGHT [COUNT count:integer]",
    ),
    CommandSpec::new("blpop", -3, NOSCRIPT | WRITE, (1, -2, 1), "list", Route::Shard(blpop)).blocking(&BLPOP).doc(
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "2.0.0",
        "O(N) where N is the number of provided keys.",
        "key... timeout:double",
    ),
    CommandSpec::new("brpop", -3, NOSCRIPT | WRITE, (1, -2, 1), "list", Route::Shard(brpop)).blocking(&BRPOP).doc(
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "2.0.0",
        "O(N) where N is the number of provided keys.",
        "key... timeout:double",
    ),
    CommandSpec::new("blmove", 6, NOSCRIPT | WRITE | DENYOOM, K2, "list", Route::Shard(blmove)).blocking(&BLMOVE).doc(
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        "6.2.0",
        "O(1)",
        "source:key destination:key LEFT|RIGHT LEFT|RIGHT timeout:double",
    ),
    CommandSpec::new("brpoplpush", 4, NOSCRIPT | WRITE | DENYOOM, K2, "list", Route::Shard(brpoplpush)).blocking(&BRPOPLPUSH).doc(
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        "2.2.0",
        "O(1)",
        "source:key destination:key timeout:double",
    ),
    CommandSpec::new("blmpop", -5, WRITE, (0, 0, 0), "list", Route::Shard(blmpop)).numkeys(2).blocking(&BLMPOP).doc(
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "timeout:double numkeys:integer key... LEFT|RIGHT [COUNT count:integer]",
    ),
];

const BLPOP: BlockSpec = BlockSpec { serve: serve_blpop, timeout_at: -1, dest_at: 0, halves: None, null_bulk: false };
const BRPOP: BlockSpec = BlockSpec { serve: serve_brpop, timeout_at: -1, dest_at: 0, halves: None, null_bulk: false };
const BLMOVE: BlockSpec = BlockSpec { serve: serve_blmove, timeout_at: -1, dest_at: 2, halves: Some(blmove_halves), null_bulk: true };
const BRPOPLPUSH: BlockSpec =
    BlockSpec { serve: serve_brpoplpush, timeout_at: -1, dest_at: 2, halves: Some(brpoplpush_halves), null_bulk: true };
const BLMPOP: BlockSpec = BlockSpec { serve: serve_blmpop, timeout_at: 1, dest_at: 0, halves: None, null_bulk: false };

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn parse_end(a: &[u8]) -> Result<End, CmdError> {
    if eq_ic(a, "left") {
        Ok(End::Left)
    } else if eq_ic(a, "right") {
        Ok(End::Right)
    } else {
        Err(CmdError::Syntax)
    }
}

/// A list key for reading: `None` when missing, WRONGTYPE for another type.
fn read_list<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut List>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().read(key, now), Value::as_list_mut)
}

/// A list key for writing: `None` when missing, WRONGTYPE for another type.
fn write_list<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Result<Option<&'a mut List>, CmdError> {
    let now = ctx.now;
    typed(ctx.db().write(key, now), Value::as_list_mut)
}

fn remove_if_empty(ctx: &mut ShardCtx<'_>, key: &[u8]) {
    let now = ctx.now;
    ctx.db().remove_if_empty(key, now);
}

fn pop(l: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => l.pop_front(),
        End::Right => l.pop_back(),
    }
}

fn push(l: &mut List, end: End, v: &[u8]) {
    match end {
        End::Left => l.push_front(v),
        End::Right => l.push_back(v),
    }
}

/// Pushes onto `key`, creating the list unless `only_existing`; replies with the new length.
fn push_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let key = &a[1];
    let event = end_event(end, "lpush", "rpush");
    if let Some(l) = write_list(ctx, key)? {
        a[2..].iter().for_each(|v| push(l, end, v));
        let n = l.len();
        ctx.notify(notify::LIST, event, key);
        return Ok(Reply::Int(n as i64));
    }
    if only_existing {
        return Ok(Reply::Int(0));
    }
    let mut l = List::new();
    a[2..].iter().for_each(|v| push(&mut l, end, v));
    let n = l.len();
    let now = ctx.now;
    ctx.db().set(key, Value::List(Box::new(l)), Expiry::Clear, now);
    ctx.notify(notify::LIST, event, key);
    Ok(Reply::Int(n as i64))
}

fn lpush(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    push_generic(ctx, a, End::Left, false)
}

fn rpush(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    push_generic(ctx, a, End::Right, false)
}

fn lpushx(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    push_generic(ctx, a, End::Left, true)
}

fn rpushx(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    push_generic(ctx, a, End::Right, true)
}

fn pop_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], end: End) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Arity(if end == End::Left { "lpop" } else { "rpop" }.into()));
    }
    let count = a.get(2).map(|c| at_least(c, 0, "value is out of range, must be positive")).transpose()?;
    let key = &a[1];
    let Some(l) = write_list(ctx, key)? else {
        return Ok(if count.is_some() { Reply::NilArray } else { Reply::Nil });
    };
    let reply = match count {
        None => Reply::Bulk(pop(l, end).map(Bytes::from).unwrap_or_default()),
        Some(n) => Reply::Array((0..n.min(l.len())).filter_map(|_| pop(l, end)).map(|v| Reply::Bulk(v.into())).collect()),
    };
    if reply != Reply::Array(Vec::new()) {
        ctx.notify(notify::LIST, end_event(end, "lpop", "rpop"), key);
    }
    remove_if_empty(ctx, key);
    Ok(reply)
}

fn lpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    pop_generic(ctx, a, End::Left)
}

fn rpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    pop_generic(ctx, a, End::Right)
}

fn llen(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_list(ctx, &a[1])?.map_or(0, |l| l.len() as i64)))
}

fn lrange(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (start, stop) = (parse_int(&a[2])?, parse_int(&a[3])?);
    let Some(l) = read_list(ctx, &a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((from, to)) = index_range(start, stop, l.len()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Array(l.iter().skip(from).take(to - from + 1).map(Reply::bulk).collect()))
}

/// A possibly negative index into a list of `len`, if it falls inside.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn lindex(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    // Redis looks the key up before it parses the index.
    let Some(l) = read_list(ctx, &a[1])? else {
        return Ok(Reply::Nil);
    };
    let i = parse_int(&a[2])?;
    Ok(index(i, l.len()).and_then(|i| l.get(i)).map_or(Reply::Nil, Reply::bulk))
}

fn lset(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let l = write_list(ctx, &a[1])?.ok_or(CmdError::NoSuchKey)?;
    let i = parse_int(&a[2])?;
    match index(i, l.len()) {
        Some(i) => {
            l.set(i, &a[3]);
            ctx.notify(notify::LIST, "lset", &a[1]);
            Ok(Reply::OK)
        }
        None => Err(CmdError::other("index out of range")),
    }
}

fn linsert(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let after = if eq_ic(&a[2], "after") {
        true
    } else if eq_ic(&a[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let Some(l) = write_list(ctx, &a[1])? else {
        return Ok(Reply::Int(0));
    };
    let Some(at) = l.iter().position(|v| v == &a[3][..]) else {
        return Ok(Reply::Int(-1));
    };
    l.insert(at + usize::from(after), &a[4]);
    let n = l.len();
    ctx.notify(notify::LIST, "linsert", &a[1]);
    Ok(Reply::Int(n as i64))
}

fn lrem(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let count = parse_int(&a[2])?;
    let key = &a[1];
    let Some(l) = write_list(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let target = &a[3][..];
    let removed = if count == 0 {
        l.retain(|v| v != target)
    } else {
        // Positions of the first |count| matches from the chosen end, removed back to front
        // so earlier positions stay valid.
        let limit = count.unsigned_abs() as usize;
        let mut at: Vec<usize> = if count > 0 {
            l.iter().enumerate().filter(|(_, v)| *v == target).map(|(i, _)| i).take(limit).collect()
        } else {
            let n = l.len();
            l.iter().rev().enumerate().filter(|(_, v)| *v == target).map(|(i, _)| n - 1 - i).take(limit).collect()
        };
        at.sort_unstable();
        for &i in at.iter().rev() {
            l.remove(i);
        }
        at.len()
    };
    if removed > 0 {
        ctx.notify(notify::LIST, "lrem", key);
    }
    remove_if_empty(ctx, key);
    Ok(Reply::Int(removed as i64))
}

fn ltrim(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (start, stop) = (parse_int(&a[2])?, parse_int(&a[3])?);
    let key = &a[1];
    let Some(l) = write_list(ctx, key)? else {
        return Ok(Reply::OK);
    };
    let len = l.len();
    match index_range(start, stop, len) {
        None => l.drop_front(len),
        Some((from, to)) => {
            l.drop_back(len - 1 - to);
            l.drop_front(from);
        }
    }
    ctx.notify(notify::LIST, "ltrim", key);
    remove_if_empty(ctx, key);
    Ok(Reply::OK)
}

fn lpos(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        if eq_ic(&a[j], "rank") && more {
            rank = parse_int(&a[j + 1])?;
            if rank == 0 {
                return Err(CmdError::other(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if eq_ic(&a[j], "count") && more {
            count = Some(at_least(&a[j + 1], 0, "COUNT can't be negative")?);
        } else if eq_ic(&a[j], "maxlen") && more {
            maxlen = at_least(&a[j + 1], 0, "MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 2;
    }
    let Some(l) = read_list(ctx, &a[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Nil });
    };
    let (len, target) = (l.len(), &a[2][..]);
    let scan: Box<dyn Iterator<Item = (usize, &[u8])>> =
        if rank > 0 { Box::new(l.iter().enumerate()) } else { Box::new(l.iter().rev().enumerate().map(|(i, v)| (len - 1 - i, v))) };
    let limit = if maxlen == 0 { len } else { maxlen };
    let wanted = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(n) => n,
    };
    // Redis 7.0 negates the rank in a C long, so the most negative rank behaves as -1.
    let mut skip = if rank == i64::MIN { 0 } else { rank.unsigned_abs() - 1 };
    let mut found = Vec::new();
    for (i, v) in scan.take(limit) {
        if v != target {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        found.push(Reply::Int(i as i64));
        if found.len() == wanted {
            break;
        }
    }
    Ok(match count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    })
}

/// Pops from `src` and pushes onto `dst` (which may be the same list), as LMOVE.
fn move_generic(ctx: &mut ShardCtx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let now = ctx.now;
    match read_list(ctx, src)? {
        None => return Ok(Reply::Nil),
        Some(l) if l.is_empty() => return Ok(Reply::Nil),
        Some(_) => {}
    }
    // The destination's type is checked before anything is popped.
    write_list(ctx, dst)?;
    let l = write_list(ctx, src)?.expect("source checked above");
    let v = pop(l, from).expect("source is not empty");
    match write_list(ctx, dst)? {
        Some(d) => push(d, to, &v),
        None => {
            let mut d = List::new();
            push(&mut d, to, &v);
            ctx.db().set(dst, Value::List(Box::new(d)), Expiry::Clear, now);
        }
    }
    ctx.notify(notify::LIST, end_event(to, "lpush", "rpush"), dst);
    ctx.notify(notify::LIST, end_event(from, "lpop", "rpop"), src);
    remove_if_empty(ctx, src);
    Ok(Reply::Bulk(v.into()))
}

fn lmove(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (from, to) = (parse_end(&a[3])?, parse_end(&a[4])?);
    move_generic(ctx, &a[1], &a[2], from, to)
}

fn rpoplpush(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    move_generic(ctx, &a[1], &a[2], End::Right, End::Left)
}

/// Pops up to `count` elements from one end of `key` as LMPOP replies: `[key, [elements]]`;
/// `None` when the key is missing.
fn mpop_key(ctx: &mut ShardCtx<'_>, key: &[u8], end: End, count: usize) -> Result<Option<Reply>, CmdError> {
    let Some(l) = write_list(ctx, key)? else { return Ok(None) };
    let popped: Vec<Reply> = (0..count.min(l.len())).filter_map(|_| pop(l, end)).map(|v| Reply::Bulk(v.into())).collect();
    if popped.is_empty() {
        return Ok(None);
    }
    ctx.notify(notify::LIST, end_event(end, "lpop", "rpop"), key);
    remove_if_empty(ctx, key);
    Ok(Some(Reply::Array(vec![Reply::bulk(key), Reply::Array(popped)])))
}

fn end_event(end: End, left: &'static str, right: &'static str) -> &'static str {
    match end {
        End::Left => left,
        End::Right => right,
    }
}

fn lmpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let (keys, right, count) = parse_mpop(a, ["left", "right"])?;
    let end = if right { End::Right } else { End::Left };
    for key in keys {
        if let Some(r) = mpop_key(ctx, key, end, count)? {
            return Ok(r);
        }
    }
    Ok(Reply::NilArray)
}

// ---------------------------------------------------------------- blocking commands

fn blpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    attempt(ctx, a, &BLPOP, &a[1..a.len() - 1])
}

fn brpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    attempt(ctx, a, &BRPOP, &a[1..a.len() - 1])
}

fn blmove(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    parse_end(&a[3])?;
    parse_end(&a[4])?;
    attempt(ctx, a, &BLMOVE, &a[1..2])
}

fn brpoplpush(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    attempt(ctx, a, &BRPOPLPUSH, &a[1..2])
}

fn blmpop(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    parse_timeout(&a[1])?;
    let (keys, _, _) = parse_mpop(&a[1..], ["left", "right"])?;
    attempt(ctx, a, &BLMPOP, keys)
}

/// BLPOP/BRPOP's pop: `[key, element]`.
fn serve_end(ctx: &mut ShardCtx<'_>, key: &[u8], end: End) -> Result<Option<Reply>, CmdError> {
    Ok(mpop_key(ctx, key, end, 1)?.map(|r| match r {
        Reply::Array(mut kv) => match kv.pop() {
            Some(Reply::Array(mut one)) => Reply::Array(vec![Reply::bulk(key), one.pop().unwrap_or(Reply::Nil)]),
            _ => Reply::Nil,
        },
        other => other,
    }))
}

fn serve_blpop(ctx: &mut ShardCtx<'_>, _a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    serve_end(ctx, key, End::Left)
}

fn serve_brpop(ctx: &mut ShardCtx<'_>, _a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    serve_end(ctx, key, End::Right)
}

fn moved(r: Reply) -> Option<Reply> {
    (r != Reply::Nil).then_some(r)
}

/// Serves a blocked move from `key`: nothing while the source is not a list with elements;
/// a destination of another type ends the wait with WRONGTYPE, the element left in place.
fn serve_move(ctx: &mut ShardCtx<'_>, key: &[u8], dst: &[u8], from: End, to: End) -> Result<Option<Reply>, CmdError> {
    if read_list(ctx, key)?.is_none_or(|l| l.is_empty()) {
        return Ok(None);
    }
    match move_generic(ctx, key, dst, from, to) {
        Ok(r) => Ok(moved(r)),
        Err(e) => Ok(Some(Reply::from(e))),
    }
}

fn serve_blmove(ctx: &mut ShardCtx<'_>, a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    let (from, to) = (parse_end(&a[3])?, parse_end(&a[4])?);
    serve_move(ctx, key, &a[2], from, to)
}

fn serve_brpoplpush(ctx: &mut ShardCtx<'_>, a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    serve_move(ctx, key, &a[2], End::Right, End::Left)
}

fn serve_blmpop(ctx: &mut ShardCtx<'_>, a: &[Bytes], key: &[u8]) -> Result<Option<Reply>, CmdError> {
    let (_, right, count) = parse_mpop(&a[1..], ["left", "right"])?;
    mpop_key(ctx, key, if right { End::Right } else { End::Left }, count)
}

fn cmd(words: [&'static [u8]; 2]) -> Vec<Bytes> {
    words.iter().map(|w| Bytes::from_static(w)).collect()
}

fn end_word(end: End, pop: bool) -> &'static [u8] {
    match (end, pop) {
        (End::Left, true) => b"LPOP",
        (End::Right, true) => b"RPOP",
        (End::Left, false) => b"LPUSH",
        (End::Right, false) => b"RPUSH",
    }
}

/// A move split for a destination on another shard: pop from the source, push onto the
/// destination, or push back where it came from when the destination refuses it.
fn halves(a: &[Bytes], from: End, to: End) -> MoveHalves {
    let mut pop = cmd([end_word(from, true), b""]);
    pop[1] = a[1].clone();
    let mut push = cmd([end_word(to, false), b""]);
    push[1] = a[2].clone();
    let mut undo = cmd([end_word(from, false), b""]);
    undo[1] = a[1].clone();
    (pop, push, undo)
}

fn blmove_halves(a: &[Bytes]) -> MoveHalves {
    halves(a, parse_end(&a[3]).unwrap_or(End::Left), parse_end(&a[4]).unwrap_or(End::Left))
}

fn brpoplpush_halves(a: &[Bytes]) -> MoveHalves {
    halves(a, End::Right, End::Left)
}
