//! Keyspace commands: DEL/EXISTS/TYPE/RENAME/COPY/MOVE, expiry, OBJECT, and the commands that
//! visit every shard (KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB).

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::args::{eq_ic, parse_db, parse_int};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, FAST, LOADING, RANDOM, READONLY, WRITE};
use super::{CommandSpec, Merge, Route};
use crate::notify;
use crate::protocol::Reply;
use crate::shard::{call, call_all, Session, ShardCtx};
use crate::store::{glob_match, idle_ms, Entry, StrValue, Value};

const K1: (i32, i32, i32) = (1, 1, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);
const NOKEY: (i32, i32, i32) = (0, 0, 0);

/// The keyspace commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, KALL, "generic", Route::Shard(del)).split(Merge::SumInts).doc("Deletes one or more keys.", "1.0.0", "O(N) where N is the number of keys that will be removed.", "key..."),
    CommandSpec::new("unlink", -2, WRITE | FAST, KALL, "generic", Route::Shard(del)).split(Merge::SumInts).doc("Asynchronously deletes one or more keys.", "4.0.0", "O(1) for each key removed regardless of its size.", "key..."),
    CommandSpec::new("exists", -2, READONLY | FAST, KALL, "generic", Route::Shard(exists)).split(Merge::SumInts).doc("Determines whether one or more keys exist.", "1.0.0", "O(N) where N is the number of keys to check.", "key..."),
    CommandSpec::new("touch", -2, READONLY | FAST, KALL, "generic", Route::Shard(touch)).split(Merge::SumInts).doc("Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1", "O(N) where N is the number of keys that will be touched.", "key..."),
    CommandSpec::new("type", 2, READONLY | FAST, K1, "generic", Route::Shard(type_cmd)).doc("Determines the type of value stored at a key.", "1.0.0", "O(1)", "key"),
    CommandSpec::new("rename", 3, WRITE, (1, 2, 1), "generic", Route::Shard(rename)).doc("Renames a key and overwrites the destination.", "1.0.0", "O(1)", "key newkey:key"),
    CommandSpec::new("renamenx", 3, WRITE | FAST, (1, 2, 1), "generic", Route::Shard(renamenx)).doc("Renames a key only when the target key name doesn't exist.", "1.0.0", "O(1)", "key newkey:key"),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, (1, 2, 1), "generic", Route::Shard(copy)).doc("Copies the value of a key to a new key.", "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "source:key destination:key [DB destination-db:integer] [REPLACE]"),
    CommandSpec::new("move", 3, WRITE | FAST, K1, "generic", Route::Shard(move_cmd)).doc("Moves a key to another database.", "1.0.0", "O(1)", "key db:integer"),
    CommandSpec::new("keys", 2, READONLY, NOKEY, "generic", Route::Coordinator(keys)).doc("Returns all key names that match a pattern.", "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "pattern:pattern"),
    CommandSpec::new("scan", -2, READONLY, NOKEY, "generic", Route::Coordinator(scan)).doc("Iterates over the key names in the database.", "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [TYPE type]"),
    CommandSpec::new("randomkey", 1, READONLY | RANDOM, NOKEY, "generic", Route::Coordinator(randomkey)).doc("Returns a random key name from the database.", "1.0.0", "O(1)", ""),
    CommandSpec::new("dbsize", 1, READONLY | FAST, NOKEY, "server", Route::Coordinator(dbsize)).doc("Returns the number of keys in the database.", "1.0.0", "O(1)", ""),
    CommandSpec::new("flushdb", -1, WRITE, NOKEY, "server", Route::Coordinator(flushdb)).doc("Remove all keys from the current database.", "1.0.0", "O(N) where N is the number of keys in the selected database", "[ASYNC|SYNC]"),
    CommandSpec::new("flushall", -1, WRITE, NOKEY, "server", Route::Coordinator(flushall)).doc("Removes all keys from all databases.", "1.0.0", "O(N) where N is the total number of keys in all databases", "[ASYNC|SYNC]"),
    CommandSpec::new("swapdb", 3, WRITE | FAST, NOKEY, "server", Route::Coordinator(swapdb)).doc("Swaps two Redis databases.", "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.", "index1:integer index2:integer"),
    CommandSpec::new("expire", -3, WRITE | FAST, K1, "generic", Route::Shard(expire)).doc("Sets the expiration time of a key in seconds.", "1.0.0", "O(1)", "key seconds:integer [NX|XX|GT|LT]"),
    CommandSpec::new("pexpire", -3, WRITE | FAST, K1, "generic", Route::Shard(pexpire)).doc("Sets the expiration time of a key in milliseconds.", "2.6.0", "O(1)", "key milliseconds:integer [NX|XX|GT|LT]"),
    CommandSpec::new("expireat", -3, WRITE | FAST, K1, "generic", Route::Shard(expireat)).doc("Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "O(1)", "key unix-time-seconds:unix-time [NX|XX|GT|LT]"),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, K1, "generic", Route::Shard(pexpireat)).doc("Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "O(1)", "key unix-time-milliseconds:unix-time [NX|XX|GT|LT]"),
    CommandSpec::new("ttl", 2, READONLY | FAST | RANDOM, K1, "generic", Route::Shard(ttl)).doc("Returns the expiration time in seconds of a key.", "1.0.0", "O(1)", "key"),
    CommandSpec::new("pttl", 2, READONLY | FAST | RANDOM, K1, "generic", Route::Shard(pttl)).doc("Returns the expiration time in milliseconds of a key.", "2.6.0", "O(1)", "key"),
    CommandSpec::new("expiretime", 2, READONLY | FAST, K1, "generic", Route::Shard(expiretime)).doc("Returns the expiration time of a key as a Unix timestamp.", "7.0.0", "O(1)", "key"),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, K1, "generic", Route::Shard(pexpiretime)).doc("Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0", "O(1)", "key"),
    CommandSpec::new("persist", 2, WRITE | FAST, K1, "generic", Route::Shard(persist)).doc("Removes the expiration time of a key.", "2.2.0", "O(1)", "key"),
    CommandSpec::new("object", -2, 0, NOKEY, "generic", Route::Parent).subs(OBJECT_SUBS).doc("A container for object introspection commands.", "2.2.3", "Depends on subcommand.", ""),
];

static OBJECT_SUBS: &[CommandSpec] = &[
    CommandSpec::new("object|encoding", 3, READONLY, (2, 2, 1), "generic", Route::Shard(object_encoding)).doc(
        "Returns the internal encoding of a Redis object.",
        "2.2.3",
        "O(1)",
        "key",
    ),
    CommandSpec::new("object|freq", 3, READONLY, (2, 2, 1), "generic", Route::Shard(object_freq)).doc(
        "Returns the logarithmic access frequency counter of a Redis object.",
        "4.0.0",
        "O(1)",
        "key",
    ),
    CommandSpec::new("object|idletime", 3, READONLY, (2, 2, 1), "generic", Route::Shard(object_idletime)).doc(
        "Returns the time since the last access to a Redis object.",
        "2.2.3",
        "O(1)",
        "key",
    ),
    CommandSpec::new("object|refcount", 3, READONLY, (2, 2, 1), "generic", Route::Shard(object_refcount)).doc(
        "Returns the reference count of a value of a key.",
        "2.2.3",
        "O(1)",
        "key",
    ),
    CommandSpec::new("object|help", 2, LOADING, NOKEY, "generic", Route::Session(object_help)).doc(
        "Returns helpful text about the different subcommands.",
        "6.2.0",
        "O(1)",
        "",
    ),
];

fn del(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut n = 0;
    for k in &a[1..] {
        if ctx.db().remove(k, now).is_some() {
            ctx.notify(notify::GENERIC, "del", k);
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

fn exists(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    // Counted as hits and misses, but the keys' access times are left alone (as Redis's
    // LOOKUP_NOTOUCH).
    let mut n = 0;
    for k in &a[1..] {
        if db.peek(k, now).is_some() {
            db.stats.hits += 1;
            n += 1;
        } else {
            db.stats.misses += 1;
        }
    }
    Ok(Reply::Int(n))
}

fn touch(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    Ok(Reply::Int(a[1..].iter().filter(|k| db.read(k, now).is_some()).count() as i64))
}

fn type_cmd(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let t = ctx.db().peek(&a[1], now).map_or("none", |e| e.value.type_name());
    Ok(Reply::Status(t))
}

fn rename_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], nx: bool) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    if !db.contains(&a[1], now) {
        return Err(CmdError::NoSuchKey);
    }
    if a[1] == a[2] {
        return Ok(if nx { Reply::Int(0) } else { Reply::OK });
    }
    if nx && db.contains(&a[2], now) {
        return Ok(Reply::Int(0));
    }
    let mut e = db.remove(&a[1], now).expect("checked above");
    e.key = a[2][..].into();
    db.insert_entry(e, now);
    ctx.notify(notify::GENERIC, "rename_from", &a[1]);
    ctx.notify(notify::GENERIC, "rename_to", &a[2]);
    Ok(if nx { Reply::Int(1) } else { Reply::OK })
}

fn rename(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    rename_generic(ctx, a, false)
}

fn renamenx(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    rename_generic(ctx, a, true)
}

fn copy(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let mut dst = ctx.db;
    let mut replace = false;
    let mut j = 3;
    while j < a.len() {
        if eq_ic(&a[j], "replace") {
            replace = true;
        } else if eq_ic(&a[j], "db") && j + 1 < a.len() {
            dst = parse_db(&a[j + 1], ctx.store.databases())?;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if dst == ctx.db && a[1] == a[2] {
        return Err(CmdError::SameObject);
    }
    let now = ctx.now;
    let Some(src) = ctx.db().read(&a[1], now).cloned() else { return Ok(Reply::Int(0)) };
    let target = ctx.store.db(dst);
    if target.contains(&a[2], now) && !replace {
        return Ok(Reply::Int(0));
    }
    // The copy is a new object, with a new access clock and frequency.
    let mut e = Entry::new(&a[2], src.value, src.expire_at, now);
    // The copy is a new object: a shared integer becomes one of its own.
    if let Value::Str(StrValue::Int(i)) = e.value {
        e.value = Value::Str(StrValue::IntOwn(i));
    }
    target.insert_entry(e, now);
    ctx.store.notify(dst, notify::GENERIC, "copy_to", &a[2]);
    Ok(Reply::Int(1))
}

fn move_cmd(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let dst = parse_db(&a[2], ctx.store.databases())?;
    if dst == ctx.db {
        return Err(CmdError::SameObject);
    }
    let now = ctx.now;
    if !ctx.db().contains(&a[1], now) || ctx.store.db(dst).contains(&a[1], now) {
        return Ok(Reply::Int(0));
    }
    let e = ctx.db().remove(&a[1], now).expect("checked above");
    ctx.store.db(dst).insert_entry(e, now);
    ctx.notify(notify::GENERIC, "move_from", &a[1]);
    ctx.store.notify(dst, notify::GENERIC, "move_to", &a[1]);
    Ok(Reply::Int(1))
}

/// Flags of EXPIRE and friends.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(a: &[Bytes]) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for opt in &a[3..] {
        if eq_ic(opt, "nx") {
            f.nx = true;
        } else if eq_ic(opt, "xx") {
            f.xx = true;
        } else if eq_ic(opt, "gt") {
            f.gt = true;
        } else if eq_ic(opt, "lt") {
            f.lt = true;
        } else {
            return Err(CmdError::Other(format!("Unsupported option {}", super::args::printable(opt, usize::MAX)).into()));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(CmdError::other("NX and XX, GT or LT options at the same time are not compatible"));
    }
    if f.gt && f.lt {
        return Err(CmdError::other("GT and LT options at the same time are not compatible"));
    }
    Ok(f)
}

fn expire_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], cmd: &'static str, seconds: bool, absolute: bool) -> CmdResult {
    let f = parse_expire_flags(a)?;
    let mut when = parse_int(&a[2])?;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(CmdError::InvalidExpire(cmd));
        }
        when *= 1000;
    }
    let now = ctx.now;
    let base = if absolute { 0 } else { now as i64 };
    if when > i64::MAX - base {
        return Err(CmdError::InvalidExpire(cmd));
    }
    when += base;
    let loading = ctx.loading();
    let db = ctx.db();
    let Some(e) = db.peek(&a[1], now) else { return Ok(Reply::Int(0)) };
    let cur = if e.expire_at == 0 { -1 } else { e.expire_at as i64 };
    if (f.nx && cur != -1) || (f.xx && cur == -1) || (f.gt && (when <= cur || cur == -1)) || (f.lt && cur != -1 && when >= cur) {
        return Ok(Reply::Int(0));
    }
    if when <= now as i64 && !loading {
        db.remove(&a[1], now);
        ctx.notify(notify::GENERIC, "del", &a[1]);
    } else {
        db.set_expire(&a[1], when as u64, now);
        ctx.notify(notify::GENERIC, "expire", &a[1]);
    }
    Ok(Reply::Int(1))
}

fn expire(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, "expire", true, false)
}

fn pexpire(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, "pexpire", false, false)
}

fn expireat(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, "expireat", true, true)
}

fn pexpireat(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, "pexpireat", false, true)
}

fn ttl_generic(ctx: &mut ShardCtx<'_>, a: &[Bytes], ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now;
    let Some(e) = ctx.db().peek(&a[1], now) else { return Ok(Reply::Int(-2)) };
    if e.expire_at == 0 {
        return Ok(Reply::Int(-1));
    }
    let t = if absolute { e.expire_at as i64 } else { (e.expire_at as i64 - now as i64).max(0) };
    // t >= 0 here; near i64::MAX Redis's C overflows into an unsigned result, and so do we.
    Ok(Reply::Int(if ms { t } else { ((t as u64 + 500) / 1000) as i64 }))
}

fn ttl(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, false, false)
}

fn pttl(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, true, false)
}

fn expiretime(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, false, true)
}

fn pexpiretime(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, a, true, true)
}

fn persist(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let done = ctx.db().persist(&a[1], now);
    if done {
        ctx.notify(notify::GENERIC, "persist", &a[1]);
    }
    Ok(Reply::Int(i64::from(done)))
}

fn object_encoding(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    Ok(ctx.db().peek(&a[2], now).map_or(Reply::Nil, |e| Reply::bulk(e.value.encoding().as_bytes())))
}

fn object_freq(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let lfu = ctx.store.lfu_mode();
    let Some(freq) = ctx.db().peek(&a[2], now).map(|e| e.lfu.decayed(now, lfu)) else { return Ok(Reply::Nil) };
    if !lfu.on {
        return Err(CmdError::other("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    Ok(Reply::Int(i64::from(freq)))
}

fn object_idletime(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let Some(access) = ctx.db().peek(&a[2], now).map(|e| e.access) else { return Ok(Reply::Nil) };
    if ctx.store.lfu_mode().on {
        return Err(CmdError::other("An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    Ok(Reply::Int((idle_ms(access, now) / 1000) as i64))
}

fn object_refcount(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    Ok(ctx.db().peek(&a[2], now).map_or(Reply::Nil, |e| match e.value.as_str() {
        // Redis shares the integers 0..9999 (OBJ_SHARED_REFCOUNT).
        Some(v) if v.is_shared() => Reply::Int(i64::from(i32::MAX)),
        _ => Reply::Int(1),
    }))
}

fn object_help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(super::server::help_reply(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access logarithmic access frequency counter associated with a <key>.",
            "IDLETIME <key>",
            "    Return the idle time associated with a <key>.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    ))
}

fn keys(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let db = s.db;
        let pat = a[1].clone();
        let parts = call_all(&s.local, move |sh| {
            let now = crate::store::now_ms();
            let mut st = sh.store.borrow_mut();
            let d = st.db(db);
            let all = pat[..] == b"*"[..];
            d.live(now).filter(|e| all || glob_match(&pat, &e.key, false)).map(|e| Reply::bulk(&e.key)).collect::<Vec<_>>()
        })
        .await;
        Ok(Reply::Array(parts.into_iter().flatten().collect()))
    })
}

/// Bits of a SCAN cursor that hold the shard index; the rest is that shard's table cursor.
const SHARD_BITS: u32 = 10;

/// COUNT and MATCH of HSCAN, SSCAN and ZSCAN (from `a[3]` on): Redis's checks and errors.
pub(super) fn scan_options(a: &[Bytes]) -> Result<(usize, Option<&Bytes>), CmdError> {
    let (mut count, mut pattern) = (10usize, None);
    let mut j = 3;
    while j < a.len() {
        if eq_ic(&a[j], "count") && j + 1 < a.len() {
            let n = parse_int(&a[j + 1])?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else if eq_ic(&a[j], "match") && j + 1 < a.len() {
            pattern = Some(&a[j + 1]).filter(|p| p[..] != b"*"[..]);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 2;
    }
    Ok((count, pattern))
}

/// The reply of SCAN, HSCAN, SSCAN and ZSCAN: the next cursor and the items.
pub(super) fn scan_reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(itoa::Buffer::new().format(next).as_bytes()), Reply::Array(items)])
}

pub(super) fn parse_cursor(a: &[u8]) -> Result<u64, CmdError> {
    let t = std::str::from_utf8(a).map_err(|_| CmdError::InvalidCursor)?;
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CmdError::InvalidCursor);
    }
    let v: u64 = digits.parse().map_err(|_| CmdError::InvalidCursor)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

fn scan(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let cursor = parse_cursor(&a[1])?;
        let mut count = 10i64;
        let mut pattern: Option<Bytes> = None;
        let mut typ: Option<Bytes> = None;
        let mut i = 2;
        while i < a.len() {
            let more = a.len() - i;
            if eq_ic(&a[i], "count") && more >= 2 {
                count = parse_int(&a[i + 1])?;
                if count < 1 {
                    return Err(CmdError::Syntax);
                }
            } else if eq_ic(&a[i], "match") && more >= 2 {
                pattern = Some(a[i + 1].clone()).filter(|p| p[..] != b"*"[..]);
            } else if eq_ic(&a[i], "type") && more >= 2 {
                typ = Some(a[i + 1].clone());
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        // As Redis, COUNT bounds the keys looked at (before MATCH and TYPE filter them), and
        // a call visits at most 10 × COUNT table slots; a shard that runs out hands the rest of
        // the budget to the next one, so a small keyspace comes back whole in one call.
        let shards = s.local.shared.shards();
        let mut shard = (cursor & ((1 << SHARD_BITS) - 1)) as usize;
        if shard >= shards {
            return Ok(scan_reply(0, Vec::new()));
        }
        let mut local_cursor = cursor >> SHARD_BITS;
        let (mut budget, mut steps) = (count as u64, (count as u64).saturating_mul(10));
        let (db, pattern, typ) = (s.db, std::sync::Arc::new(pattern), std::sync::Arc::new(typ));
        let mut found: Vec<Reply> = Vec::new();
        loop {
            let (pattern, typ) = (pattern.clone(), typ.clone());
            let (next, keys, seen, used) = call(&s.local, shard, move |sh| {
                let now = crate::store::now_ms();
                let mut st = sh.store.borrow_mut();
                let d = st.db(db);
                let (mut keys, mut seen, mut used) = (Vec::new(), 0u64, 0u64);
                let mut c = local_cursor;
                loop {
                    c = d.scan(c, now, |e| {
                        seen += 1;
                        let type_ok = typ.as_ref().as_ref().is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
                        let pat_ok = pattern.as_ref().as_ref().is_none_or(|p| glob_match(p, &e.key, false));
                        if type_ok && pat_ok {
                            keys.push(Bytes::copy_from_slice(&e.key));
                        }
                    });
                    used += 1;
                    if c == 0 || seen >= budget || used >= steps {
                        break;
                    }
                }
                (c, keys, seen, used)
            })
            .await;
            found.extend(keys.into_iter().map(Reply::Bulk));
            budget = budget.saturating_sub(seen);
            steps = steps.saturating_sub(used);
            if next != 0 {
                return Ok(scan_reply((next << SHARD_BITS) | shard as u64, found));
            }
            if shard + 1 == shards {
                return Ok(scan_reply(0, found));
            }
            shard += 1;
            local_cursor = 0;
            if budget == 0 || steps == 0 {
                return Ok(scan_reply(shard as u64, found));
            }
        }
    })
}

/// Live key count of database `db` on each shard, after reclaiming every due key.
async fn live_counts(s: &Session, db: usize) -> Vec<usize> {
    call_all(&s.local, move |sh| {
        let mut st = sh.store.borrow_mut();
        while st.expire_due(crate::store::now_ms(), usize::MAX) {}
        st.db(db).len()
    })
    .await
}

/// DBSIZE: the live keys; with active expiry off (DEBUG SET-ACTIVE-EXPIRE 0), keys whose time
/// passed but that nothing reclaimed count too, as Redis counts its table's size.
fn dbsize(s: &mut Session, _a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let db = s.db;
        let n: usize = if s.local.shared.active_expire_off() {
            call_all(&s.local, move |sh| sh.store.borrow_mut().db(db).len()).await.into_iter().sum()
        } else {
            live_counts(s, db).await.iter().sum()
        };
        Ok(Reply::Int(n as i64))
    })
}

fn randomkey(s: &mut Session, _a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let db = s.db;
        for _ in 0..8 {
            let counts = live_counts(s, db).await;
            let total: usize = counts.iter().sum();
            if total == 0 {
                return Ok(Reply::Nil);
            }
            let mut pick = fastrand::usize(..total);
            let shard = counts.iter().position(|&c| {
                if pick < c {
                    true
                } else {
                    pick -= c;
                    false
                }
            });
            let shard = shard.expect("pick < total");
            let key = call(&s.local, shard, move |sh| {
                let mut st = sh.store.borrow_mut();
                let mut rng = std::mem::replace(&mut st.rng, fastrand::Rng::with_seed(0));
                let k = st.db(db).random_key(crate::store::now_ms(), &mut rng);
                st.rng = rng;
                k
            })
            .await;
            if let Some(k) = key {
                return Ok(Reply::bulk(&k));
            }
        }
        Ok(Reply::Nil)
    })
}

fn flush_flags(a: &[Bytes]) -> Result<(), CmdError> {
    match a.len() {
        1 => Ok(()),
        2 if eq_ic(&a[1], "sync") || eq_ic(&a[1], "async") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

/// After a flush: a shard's tracking table is emptied (every tracking client is told at once).
fn forget_tracked(sh: &crate::shard::ShardLocal) {
    let st = sh.store.borrow();
    let (keys, items) = st.tracked.clear();
    sh.shared.stats.tracking_keys.fetch_sub(keys as u64, std::sync::atomic::Ordering::Relaxed);
    sh.shared.stats.tracking_items.fetch_sub(items as u64, std::sync::atomic::Ordering::Relaxed);
}

/// After FLUSHALL or FLUSHDB: every tracking client gets an invalidation of everything.
fn invalidate_everything(s: &Session) {
    for (client, mode) in s.local.shared.tracking.all() {
        s.local.send_invalidation(client, mode.redirect, None);
    }
}

/// Logs a command over every shard (FLUSHALL, FLUSHDB, SWAPDB) to the append-only file,
/// written at once: every shard wrote what it logged before, and holds still until it
/// returns.
fn log_whole(s: &Session, cmd: &[Bytes]) {
    s.local.aof_log_raw(s.db, cmd);
    s.local.aof_write_now();
}

fn flushdb(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        flush_flags(&a)?;
        let db = s.db;
        call_all(&s.local, move |sh| {
            sh.aof_write_now();
            sh.store.borrow_mut().db(db).clear();
            forget_tracked(sh);
        })
        .await;
        log_whole(s, &[Bytes::from_static(b"FLUSHDB")]);
        invalidate_everything(s);
        Ok(Reply::OK)
    })
}

fn flushall(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        flush_flags(&a)?;
        // As Redis kills its snapshot child: the image of the flushed data is not finished.
        crate::persist::snapshot::abort(&s.local.shared);
        let changes: u64 = call_all(&s.local, move |sh| {
            sh.aof_write_now();
            let mut st = sh.store.borrow_mut();
            for d in 0..st.databases() {
                st.db(d).clear();
            }
            let changes = st.changes();
            drop(st);
            forget_tracked(sh);
            changes
        })
        .await
        .into_iter()
        .sum();
        log_whole(s, &[Bytes::from_static(b"FLUSHALL")]);
        // With save points set, Redis saves the empty dataset at once (a server's: the
        // embedded engine, which listens on no port, writes no file).
        let shared = &s.local.shared;
        if crate::persist::snapshot::has_save_points(shared) && shared.tcp_port.load(std::sync::atomic::Ordering::Relaxed) != 0 {
            crate::persist::snapshot::save_empty(shared, changes);
        }
        invalidate_everything(s);
        Ok(Reply::OK)
    })
}

fn swapdb(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let idx = |b: &[u8], msg: &'static str| -> Result<i64, CmdError> {
            match parse_int(b) {
                Ok(n) if n >= i64::from(i32::MIN) && n <= i64::from(i32::MAX) => Ok(n),
                _ => Err(CmdError::other(msg)),
            }
        };
        let a1 = idx(&a[1], "invalid first DB index")?;
        let a2 = idx(&a[2], "invalid second DB index")?;
        let n = s.local.shared.config.databases() as i64;
        if a1 < 0 || a1 >= n || a2 < 0 || a2 >= n {
            return Err(CmdError::DbOutOfRange);
        }
        call_all(&s.local, move |sh| {
            sh.aof_write_now();
            sh.store.borrow_mut().swap(a1 as usize, a2 as usize);
        })
        .await;
        log_whole(s, &[Bytes::from_static(b"SWAPDB"), a[1].clone(), a[2].clone()]);
        Ok(Reply::OK)
    })
}
