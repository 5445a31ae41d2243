//! DEBUG: the subcommands Redis's test suite and operators use (OBJECT, POPULATE, SLEEP,
//! PROTOCOL, SET-ACTIVE-EXPIRE, QUICKLIST-PACKED-THRESHOLD, CONFIG-REWRITE-FORCE-ALL...).
//! `enable-debug-command` decides who may run it.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::error::{CmdError, CmdResult};
use super::flags::{ADMIN, LOADING, NOSCRIPT, STALE};
use super::server::{help_reply, is_local_client};
use super::{CommandSpec, Route};
use crate::config::{protected_allowed, P};
use crate::protocol::Reply;
use crate::shard::route::key_shard;
use crate::shard::{call, call_all, Session};
use crate::store::{now_ms, StrValue, Value};

/// The DEBUG command.
pub static COMMANDS: &[CommandSpec] =
    &[CommandSpec::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), "server", Route::Coordinator(debug)).doc(
        "A container for debugging commands.",
        "1.0.0",
        "Depends on subcommand.",
        "subcommand [arg...]",
    )];

const HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "JMAP",
    "    Accepted for compatibility (shardis has no Java heap to map).",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: Merge the content of the RDB instead of clearing the dataset.",
    "    * NOFLUSH: Do not empty the dataset before loading the RDB.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SET-DISABLE-DENY-SCRIPTS <0|1>",
    "    Enable or disable scripts' refusal of commands flagged noscript.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-LEN <pattern> <string>",
    "    Run a fuzz tester against the stringmatchlen() function.",
];

fn unknown(sub: &[u8]) -> CmdError {
    CmdError::Other(
        format!("unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.", String::from_utf8_lossy(sub)).into(),
    )
}

fn debug(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        if !protected_allowed(s.local.shared.config.num(P::EnableDebugCommand), is_local_client(s)) {
            return Err(CmdError::other(
                "DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
            ));
        }
        let sub = a[1].to_ascii_lowercase();
        let n = a.len();
        match (sub.as_slice(), n) {
            (b"help", 2) => Ok(help_reply("DEBUG", HELP)),
            (b"log", 3) => {
                log::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&a[2]));
                Ok(Reply::OK)
            }
            (b"protocol", 3) => protocol(&a[2]),
            (b"sleep", 3) => {
                let secs = crate::num::parse_f64(&a[2]).filter(|v| *v >= 0.0).ok_or(CmdError::NotFloat)?;
                // As Redis's: the whole server stops for that long, every shard at once (the
                // other shards get their turn to sleep before this one sleeps).
                let pause = std::time::Duration::from_secs_f64(secs.min(3600.0));
                let local = s.local.clone();
                let others = (0..local.shared.shards())
                    .filter(|&i| i != local.id)
                    .map(|i| crate::shard::call(&local, i, move |_| std::thread::sleep(pause)));
                let mut others = std::pin::pin!(futures::future::join_all(others));
                let _ = futures::poll!(others.as_mut());
                std::thread::sleep(pause);
                others.await;
                Ok(Reply::OK)
            }
            (b"set-disable-deny-scripts", 3) => {
                let on = crate::command::parse_int(&a[2])? != 0;
                s.local.shared.scripts.disable_deny_scripts.store(on, Relaxed);
                Ok(Reply::OK)
            }
            (b"set-active-expire", 3) => {
                let on = crate::command::parse_int(&a[2])? != 0;
                // Off until this client turns it back on or goes away (see README).
                s.local.shared.active_expire_off_by.store(if on { 0 } else { s.meta.id }, Relaxed);
                s.local.shared.active_expire_resume_ms.store(0, Relaxed);
                Ok(Reply::OK)
            }
            (b"quicklist-packed-threshold", 3) => {
                let ok = std::str::from_utf8(&a[2]).ok().and_then(crate::config::parse_memory).is_some_and(|v| (0..1 << 32).contains(&v));
                if ok {
                    Ok(Reply::OK)
                } else {
                    Err(CmdError::other("argument must be a memory value bigger than 1 and smaller than 4gb"))
                }
            }
            (b"stringmatch-len", 4) => {
                crate::store::glob_match(&a[2], &a[3], false);
                Ok(Reply::Status("Apparently Redis did not crash: test passed"))
            }
            (b"jmap" | b"change-repl-id", 2) | (b"pause-cron", 3) => Ok(Reply::OK),
            (b"config-rewrite-force-all", 2) => match s.local.shared.config.rewrite(true) {
                Ok(()) => Ok(Reply::OK),
                Err(e) => Err(CmdError::Other(format!("CONFIG-REWRITE-FORCE-ALL failed: {e}").into())),
            },
            (b"object", 3) => object(s, a[2].clone()).await,
            (b"digest", 2) => digest(s).await,
            (b"digest-value", _) => digest_values(s, &a[2..]).await,
            (b"listpack", 3) => listpack(s, a[2].clone()).await,
            (b"populate", 3..=5) => populate(s, &a).await,
            (b"reload", _) => reload(s, &a[2..]).await,
            (b"loadaof", 2) => match crate::persist::aof::load::reload(&s.local).await {
                Ok(()) => {
                    log::warn!("Append Only File loaded by DEBUG LOADAOF");
                    Ok(Reply::OK)
                }
                Err(e) => {
                    // As Redis, which exits when the files it wrote cannot be loaded back.
                    log::warn!("{e}");
                    std::process::exit(1);
                }
            },
            (b"aof-flush-sleep", 3) => {
                let us = crate::command::parse_int(&a[2])?.max(0) as u64;
                s.local.shared.aof.flush_sleep_us.store(us, Relaxed);
                Ok(Reply::OK)
            }
            _ => Err(unknown(&a[1])),
        }
    })
}

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: save, empty, load back.
async fn reload(s: &Session, opts: &[Bytes]) -> CmdResult {
    let (mut save, mut flush) = (true, true);
    for o in opts {
        match o.to_ascii_lowercase().as_slice() {
            b"merge" => {}
            b"noflush" => flush = false,
            b"nosave" => save = false,
            _ => return Err(CmdError::other("DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.")),
        }
    }
    match crate::persist::load::reload(&s.local, save, flush).await {
        Ok(_) => Ok(Reply::OK),
        Err(crate::persist::load::ReloadError::Save(e)) => {
            log::warn!("DEBUG RELOAD: {e}");
            Err(CmdError::Line("ERR".into()))
        }
        Err(crate::persist::load::ReloadError::Load(e)) => {
            log::warn!("DEBUG RELOAD: {e}");
            Err(CmdError::other("Error trying to load the RDB dump, check server logs."))
        }
    }
}

/// `DEBUG OBJECT <key>`: Redis's line (address, refcount, encoding, serialized length, LRU).
async fn object(s: &Session, key: Bytes) -> CmdResult {
    let (db, shard) = (s.db, key_shard(&key, s.local.shared.shards()));
    let line = call(&s.local, shard, move |sh| {
        let mut st = sh.store.borrow_mut();
        let e = st.db(db).peek_stored(&key)?;
        let extra = match &e.value {
            Value::List(l) => {
                let nodes = l.len().div_ceil(128).max(1);
                format!(
                    " ql_nodes:{nodes} ql_avg_node:{:.2} ql_listpack_max:-2 ql_compressed:0 ql_uncompressed_size:{}",
                    l.len() as f64 / nodes as f64,
                    e.memory_usage(0)
                )
            }
            _ => String::new(),
        };
        Some(format!(
            "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}{extra}",
            &e.value as *const Value,
            e.value.encoding(),
            e.memory_usage(0),
            e.access & ((1 << 24) - 1),
            crate::store::idle_ms(e.access, now_ms()) / 1000,
        ))
    })
    .await;
    line.map(|l| Reply::StatusOwned(Bytes::from(l))).ok_or(CmdError::NoSuchKey)
}

/// A digest of a value: SHA-1 over its type and contents, in a form that does not depend on
/// its encoding, members of sets and fields of hashes taken in sorted order.
fn value_digest(v: &Value) -> [u8; 20] {
    let mut h = sha1_smol::Sha1::new();
    let mut item = |b: &[u8]| {
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    };
    item(v.type_name().as_bytes());
    match v {
        Value::Str(s) => item(&s.as_bytes()),
        Value::List(l) => l.iter().for_each(&mut item),
        Value::Set(s) => {
            let mut m: Vec<_> = s.iter().collect();
            m.sort();
            m.iter().for_each(|x| item(x));
        }
        Value::Hash(hs) => {
            let mut m: Vec<_> = hs.iter().collect();
            m.sort();
            for (f, v) in m {
                item(f);
                item(v);
            }
        }
        Value::ZSet(z) => {
            for (score, m) in z.iter_from(0, false) {
                item(&m);
                item(crate::num::format_f64(score).as_bytes());
            }
        }
    }
    h.digest().bytes()
}

fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `DEBUG DIGEST-VALUE <key>...`: each value's digest (zeros for a missing key).
async fn digest_values(s: &Session, keys: &[Bytes]) -> CmdResult {
    let (db, shards) = (s.db, s.local.shared.shards());
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let key = k.clone();
        let d = call(&s.local, key_shard(k, shards), move |sh| {
            sh.store.borrow_mut().db(db).peek(&key, now_ms()).map(|e| value_digest(&e.value))
        })
        .await;
        out.push(Reply::bulk(hex(&d.unwrap_or([0; 20])).as_bytes()));
    }
    Ok(Reply::Array(out))
}

/// Mixes digest `d` into `acc` (XOR: the result does not depend on the order).
fn xor_into(acc: &mut [u8; 20], d: &[u8; 20]) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}

/// `DEBUG DIGEST`: a digest of every database (keys, values and expiry times), the same
/// whatever the order of keys or the number of shards; zeros when every database is empty.
async fn digest(s: &Session) -> CmdResult {
    let dbs = s.local.shared.config.databases();
    let parts = call_all(&s.local, move |sh| {
        let now = now_ms();
        let mut acc = [0u8; 20];
        let mut st = sh.store.borrow_mut();
        for d in 0..dbs {
            let db = st.db(d);
            for e in db.live(now) {
                let mut h = sha1_smol::Sha1::new();
                h.update(&(d as u64).to_le_bytes());
                h.update(&e.key);
                h.update(&value_digest(&e.value));
                h.update(&e.expire_at.to_le_bytes());
                xor_into(&mut acc, &h.digest().bytes());
            }
        }
        acc
    })
    .await;
    let mut acc = [0u8; 20];
    for p in parts {
        xor_into(&mut acc, &p);
    }
    Ok(Reply::StatusOwned(Bytes::from(hex(&acc))))
}

/// `DEBUG LISTPACK <key>`: Redis prints the listpack on its stdout; shardis has nothing to print.
async fn listpack(s: &Session, key: Bytes) -> CmdResult {
    let (db, shard) = (s.db, key_shard(&key, s.local.shared.shards()));
    let enc = call(&s.local, shard, move |sh| sh.store.borrow_mut().db(db).peek(&key, now_ms()).map(|e| e.value.encoding())).await;
    match enc {
        None => Err(CmdError::NoSuchKey),
        Some("listpack") => Ok(Reply::Status("Listpack structure printed on stdout")),
        Some(_) => Err(CmdError::other("Not a listpack encoded object.")),
    }
}

/// `DEBUG POPULATE <count> [prefix] [size]`: string keys `prefix:N` = `value:N` (padded or
/// cut to `size`), each made by the shard that owns it; existing keys are left alone.
async fn populate(s: &Session, a: &[Bytes]) -> CmdResult {
    let positive =
        |b: &Bytes| crate::command::parse_int(b).ok().filter(|n| *n >= 0).ok_or(CmdError::other("value is out of range, must be positive"));
    let count = positive(&a[2])? as u64;
    let prefix = a.get(3).cloned().unwrap_or_else(|| Bytes::from_static(b"key"));
    let size = a.get(4).map(positive).transpose()?.unwrap_or(0) as usize;
    let db = s.db;
    call_all(&s.local, move |sh| {
        let shards = sh.shared.shards();
        let now = now_ms();
        let mut st = sh.store.borrow_mut();
        let d = st.db(db);
        let mut key = Vec::with_capacity(prefix.len() + 21);
        for j in 0..count {
            key.clear();
            key.extend_from_slice(&prefix);
            key.push(b':');
            key.extend_from_slice(itoa::Buffer::new().format(j).as_bytes());
            if key_shard(&key, shards) != sh.id || d.contains(&key, now) {
                continue;
            }
            let mut val = format!("value:{j}").into_bytes();
            if size > 0 {
                val.resize(size, 0);
            }
            d.set(&key, Value::Str(StrValue::from_input(&val)), crate::store::Expiry::Clear, now);
        }
    })
    .await;
    Ok(Reply::OK)
}

/// `DEBUG PROTOCOL <type>`: a sample reply of each RESP type, as Redis's.
fn protocol(kind: &[u8]) -> CmdResult {
    let ints = || (0..3).map(Reply::Int).collect::<Vec<_>>();
    Ok(match kind.to_ascii_lowercase().as_slice() {
        b"string" => Reply::bulk(b"Hello World"),
        b"integer" => Reply::Int(12345),
        #[allow(clippy::approx_constant)] // Redis's sample value, not pi.
        b"double" => Reply::Double(3.141),
        b"bignum" => Reply::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999")),
        b"null" => Reply::Nil,
        b"array" => Reply::Array(ints()),
        b"set" => Reply::Set(ints()),
        b"map" => Reply::Map((0..3).map(|j| (Reply::Int(j), Reply::Bool(j == 1))).collect()),
        // The attribute itself is not sent (as to a RESP2 client); the reply that follows is.
        b"attrib" => Reply::bulk(b"Some real reply following the attribute"),
        b"push" => Reply::Push(vec![Reply::bulk(b"server-cpu-usage"), Reply::Int(42)]),
        b"verbatim" => Reply::Verbatim(Bytes::from_static(b"This is a verbatim\nstring")),
        b"true" => Reply::Bool(true),
        b"false" => Reply::Bool(false),
        _ => {
            return Err(CmdError::other(
                "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    })
}
