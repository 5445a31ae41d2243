//! Persistence against Debian's redis-server: DUMP / RESTORE both ways with byte-identical
//! payloads, RESTORE's replies and errors, and RDB files written by redis-server read by our
//! decoder, and files written by our encoder loaded by redis-server.

mod common;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use common::show;
use redis::Connection;
use shardis::persist::rdb::{AuxFields, EncodeOptions, FileDecoder, FileEncoder, Item, KeyUsage, LoadOptions};
use shardis::store::{Entry, Hash, List, PackLimits, Set, StrValue, Value, ZSet};

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A fresh directory under the system's temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shardis-persistence-{name}-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(c: &mut Connection, args: &[&[u8]]) -> redis::Value {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args.concat())))
}

fn cmd(c: &mut Connection, line: &str) -> redis::Value {
    let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    run(c, &words)
}

fn text(n: usize, seed: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n).map(|_| rng.alphanumeric()).collect()
}

/// Keys of every type and encoding, made by the same commands on either server: (key,
/// whether its DUMP is byte-identical across servers: everything but hash tables, whose
/// order is the table's).
fn populate(c: &mut Connection) -> Vec<(String, bool)> {
    let mut keys = Vec::new();
    let mut add = |c: &mut Connection, key: &str, same: bool, args: Vec<Vec<u8>>| {
        let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        run(c, &argv);
        keys.push((key.to_string(), same));
    };
    let words = |line: String| -> Vec<Vec<u8>> { line.split(' ').map(|w| w.as_bytes().to_vec()).collect() };
    for (key, v) in [
        ("str:int8", "42".to_string()),
        ("str:int16", "-3000".into()),
        ("str:int32", "2000000000".into()),
        ("str:int64", "123456789012345".into()),
        ("str:embstr", "hello world".into()),
        ("str:raw", text(100, 1)),
        ("str:lzf", "abcdefgh".repeat(40)),
        ("str:notint", "0123".into()),
    ] {
        add(c, key, true, vec![b"SET".to_vec(), key.into(), v.into_bytes()]);
    }
    add(c, "str:empty", true, vec![b"SET".to_vec(), b"str:empty".to_vec(), Vec::new()]);
    add(c, "list:small", true, words(format!("RPUSH list:small a 1 -100 70000 5000000000 {}", "x".repeat(100))));
    let long: Vec<String> = (0..3000).map(|i| format!("element-{i}-{}", i * 7)).collect();
    add(c, "list:long", true, words(format!("RPUSH list:long {}", long.join(" "))));
    let big: Vec<String> = (0..6).map(|i| text(5000, i)).collect();
    add(c, "list:bigelems", true, words(format!("RPUSH list:bigelems {}", big.join(" "))));
    add(c, "set:intset", true, words("SADD set:intset 1 2 -3 70000 5000000000 -32769".into()));
    add(c, "set:table", false, words("SADD set:table a b c 1".into()));
    let ints: Vec<String> = (0..600).map(|i| (i * 13).to_string()).collect();
    add(c, "set:manyints", false, words(format!("SADD set:manyints {}", ints.join(" "))));
    add(c, "hash:listpack", true, words("HSET hash:listpack f1 v1 f2 12 f3 -7 f4 3.5".into()));
    let fields: Vec<String> = (0..600).map(|i| format!("field{i} value{i}")).collect();
    add(c, "hash:many", false, words(format!("HSET hash:many {}", fields.join(" "))));
    add(c, "hash:longvalue", false, words(format!("HSET hash:longvalue f {}", "y".repeat(100))));
    add(c, "zset:listpack", true, words("ZADD zset:listpack 1 a 2.5 b -inf c 1e100 d 0.1 e 7 f".into()));
    let members: Vec<String> = (0..200).map(|i| format!("{} member{i}", f64::from(i) / 7.0)).collect();
    add(c, "zset:skiplist", true, words(format!("ZADD zset:skiplist {}", members.join(" "))));
    add(c, "zset:longmember", true, words(format!("ZADD zset:longmember 1 {} 2 b", "m".repeat(100))));
    keys
}

fn bytes(v: &redis::Value) -> Vec<u8> {
    match v {
        redis::Value::BulkString(b) => b.clone(),
        redis::Value::SimpleString(s) => s.clone().into_bytes(),
        redis::Value::Int(i) => i.to_string().into_bytes(),
        redis::Value::Double(d) => shardis::num::format_f64(*d).into_bytes(),
        other => panic!("not a string: {other:?}"),
    }
}

fn array(v: redis::Value) -> Vec<Vec<u8>> {
    match v {
        redis::Value::Array(items) => items.iter().map(bytes).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// A key's type and contents in a canonical order (sets and hashes sorted).
fn contents(c: &mut Connection, key: &str) -> (String, Vec<Vec<u8>>) {
    let k = key.as_bytes();
    let t = String::from_utf8(bytes(&run(c, &[b"TYPE", k]))).unwrap();
    let mut items = match t.as_str() {
        "string" => vec![bytes(&run(c, &[b"GET", k]))],
        "list" => return (t, array(run(c, &[b"LRANGE", k, b"0", b"-1"]))),
        "zset" => return (t, array(run(c, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"]))),
        "set" => array(run(c, &[b"SMEMBERS", k])),
        "hash" => array(run(c, &[b"HGETALL", k])).chunks(2).map(|p| [&p[0][..], b"\0", &p[1]].concat()).collect(),
        other => panic!("{key}: type {other}"),
    };
    items.sort();
    (t, items)
}

/// A decoded value's type and contents, as [`contents`] reads them from a server.
fn value_contents(v: &Value) -> (String, Vec<Vec<u8>>) {
    let mut items: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.as_bytes().into_owned()],
        Value::List(l) => return ("list".into(), l.iter().map(<[u8]>::to_vec).collect()),
        Value::ZSet(z) => {
            let flat = z.iter_from(0, false).flat_map(|(s, m)| [m.into_owned(), shardis::num::format_f64(s).into_bytes()]).collect();
            return ("zset".into(), flat);
        }
        Value::Set(s) => s.iter().map(|m| m.into_owned()).collect(),
        Value::Hash(h) => h.iter().map(|(f, v)| [f, b"\0", v].concat()).collect(),
    };
    items.sort();
    (v.type_name().into(), items)
}

fn encoding(c: &mut Connection, key: &str) -> Vec<u8> {
    bytes(&run(c, &[b"OBJECT", b"ENCODING", key.as_bytes()]))
}

fn dump(c: &mut Connection, key: &str) -> Vec<u8> {
    bytes(&run(c, &[b"DUMP", key.as_bytes()]))
}

fn restore(c: &mut Connection, key: &str, ttl: u64, payload: &[u8]) {
    let ttl = ttl.to_string();
    assert_eq!(run(c, &[b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload, b"REPLACE"]), redis::Value::Okay);
}

fn pttl(c: &mut Connection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(c).unwrap()
}

#[test]
fn redis_dumps_restore_on_shardis_and_back() {
    for shards in [1, 2, 4] {
        let r = common::redis_server();
        let s = common::shardis(shards, &[]);
        let (mut rc, mut sc) = (r.client(), s.client());
        let keys = populate(&mut rc);
        for (i, (key, _)) in keys.iter().enumerate() {
            let ttl = if i % 3 == 0 { 100_000 } else { 0 };
            let payload = dump(&mut rc, key);
            restore(&mut sc, key, ttl, &payload);
            assert_eq!(contents(&mut sc, key), contents(&mut rc, key), "{key} on {shards} shards");
            assert_eq!(encoding(&mut sc, key), encoding(&mut rc, key), "{key}");
            let left = pttl(&mut sc, key);
            if ttl == 0 {
                assert_eq!(left, -1, "{key}");
            } else {
                assert!((90_000..=100_000).contains(&left), "{key}: {left}");
            }
            // And back: shardis's payload restores on redis-server to the same value.
            let back = dump(&mut sc, key);
            let copy = format!("{key}:back");
            restore(&mut rc, &copy, 0, &back);
            assert_eq!(contents(&mut rc, &copy), contents(&mut rc, key), "{key} back on redis");
            assert_eq!(encoding(&mut rc, &copy), encoding(&mut rc, key), "{key} back on redis");
        }
    }
}

#[test]
fn dump_payloads_are_byte_identical_to_redis() {
    for shards in [1, 2, 4] {
        let r = common::redis_server();
        let s = common::shardis(shards, &[]);
        let (mut rc, mut sc) = (r.client(), s.client());
        let keys = populate(&mut rc);
        populate(&mut sc);
        for (key, same) in &keys {
            let (theirs, ours) = (dump(&mut rc, key), dump(&mut sc, key));
            if *same {
                assert_eq!(ours, theirs, "{key}: DUMP differs on {shards} shards");
            } else {
                assert_eq!(ours.len(), theirs.len(), "{key}: same encoding, same size");
            }
        }
        // Without compression, and with another list fill, as well.
        for c in [&mut rc, &mut sc] {
            cmd(c, "CONFIG SET rdbcompression no list-max-listpack-size 5");
            cmd(c, "DEL list:long str:lzf");
        }
        let long: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
        for c in [&mut rc, &mut sc] {
            cmd(c, &format!("RPUSH list:long {}", long.join(" ")));
            cmd(c, &format!("SET str:lzf {}", "abcdefgh".repeat(40)));
        }
        for key in ["list:long", "str:lzf", "zset:skiplist"] {
            assert_eq!(dump(&mut sc, key), dump(&mut rc, key), "{key} without compression");
        }
    }
}

/// The replies of the same commands on both servers, as text, side by side.
fn replies(r: &mut common::Raw, s: &mut common::Raw, args: &[&[u8]]) -> (String, String) {
    (show(&r.cmd(args)), show(&s.cmd(args)))
}

#[test]
fn restore_replies_and_errors_match_redis() {
    for shards in [1, 2, 4] {
        let r = common::redis_server();
        let s = common::shardis(shards, &[]);
        let (mut rr, mut sr) = (r.raw(), s.raw());
        rr.cmds(&["SET", "src", "value"]);
        let good = match rr.cmd(&[b"DUMP", b"src"]) {
            common::Frame::Bulk(Some(b)) => b,
            other => panic!("{}", show(&other)),
        };
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        // A good footer on a bad body: the type byte of a set with a string body.
        let mut bad_body = good.clone();
        bad_body[0] = 2;
        let body_len = bad_body.len() - 8;
        let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&bad_body[..body_len]);
        bad_body[body_len..].copy_from_slice(&crc.to_le_bytes());
        let past = (now_ms() - 10_000).to_string();
        let future = (now_ms() + 100_000).to_string();
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![b"RESTORE", b"k", b"0", &good],
            vec![b"RESTORE", b"k", b"0", &good],
            vec![b"GET", b"k"],
            vec![b"RESTORE", b"k", b"0", &good, b"REPLACE"],
            vec![b"RESTORE", b"k2", b"-1", &good],
            vec![b"RESTORE", b"k2", b"abc", &good],
            vec![b"RESTORE", b"k2", b"0", &bad_crc],
            vec![b"RESTORE", b"k2", b"0", b"short"],
            vec![b"RESTORE", b"k2", b"0", &bad_body],
            vec![b"RESTORE", b"k2", b"0", &good, b"BOGUS"],
            vec![b"RESTORE", b"k2", b"0", &good, b"IDLETIME", b"-1"],
            vec![b"RESTORE", b"k2", b"0", &good, b"IDLETIME", b"x"],
            vec![b"RESTORE", b"k2", b"0", &good, b"FREQ", b"256"],
            vec![b"RESTORE", b"k2", b"0", &good, b"FREQ", b"5", b"IDLETIME", b"5"],
            vec![b"RESTORE", b"k2", b"0", &good, b"IDLETIME"],
            vec![b"EXISTS", b"k2"],
            // A TTL already past: nothing is stored, and REPLACE deletes what was there.
            vec![b"RESTORE", b"k3", past.as_bytes(), &good, b"ABSTTL"],
            vec![b"EXISTS", b"k3"],
            vec![b"RESTORE", b"k", past.as_bytes(), &good, b"ABSTTL", b"REPLACE"],
            vec![b"EXISTS", b"k"],
            vec![b"RESTORE", b"k4", future.as_bytes(), &good, b"ABSTTL"],
            vec![b"RESTORE", b"k5", b"100000", &good, b"IDLETIME", b"1000"],
            vec![b"OBJECT", b"IDLETIME", b"k5"],
            vec![b"DUMP", b"nokey"],
            vec![b"DUMP", b"k5"],
        ];
        for args in &cases {
            let (theirs, ours) = replies(&mut rr, &mut sr, args);
            assert_eq!(ours, theirs, "{:?} on {shards} shards", String::from_utf8_lossy(&args[..3.min(args.len())].concat()));
        }
        for key in [&b"k4"[..], b"k5"] {
            let (theirs, ours) = (rr.cmd(&[b"PTTL", key]), sr.cmd(&[b"PTTL", key]));
            match (theirs, ours) {
                (common::Frame::Int(a), common::Frame::Int(b)) => assert!((a - b).abs() < 2000, "{a} {b}"),
                other => panic!("{other:?}"),
            }
        }
        // FREQ under an LFU policy.
        for c in [&mut rr, &mut sr] {
            c.cmds(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
        }
        let (theirs, ours) = replies(&mut rr, &mut sr, &[b"RESTORE", b"k6", b"0", &good, b"FREQ", b"100"]);
        assert_eq!(ours, theirs);
        let (theirs, ours) = replies(&mut rr, &mut sr, &[b"OBJECT", b"FREQ", b"k6"]);
        assert_eq!(ours, theirs);
    }
}

#[test]
fn restore_notifies_keyspace_events() {
    let s = common::shardis(2, &["--notify-keyspace-events", "KEA"]);
    let mut c = s.client();
    let payload = {
        cmd(&mut c, "SET src v");
        dump(&mut c, "src")
    };
    let mut sub = s.raw();
    sub.cmds(&["PSUBSCRIBE", "__keyspace@0__:*"]);
    restore(&mut c, "dst", 0, &payload);
    let got = show(&sub.read());
    assert!(got.contains("__keyspace@0__:dst") && got.contains("restore"), "{got}");
}

/// Keys and values of several databases with expiries: (db, key, value, expire_at).
fn sample_entries(now: u64) -> Vec<(usize, Entry)> {
    // Redis 7.0's defaults: 512 fields for a packed hash, 128 members for a packed zset.
    let hash_limits = PackLimits { entries: 512, value: 64 };
    let zset_limits = PackLimits { entries: 128, value: 64 };
    let mut out = Vec::new();
    let mut push = |db: usize, key: &str, v: Value, expire_at: u64| out.push((db, Entry::new(key.as_bytes(), v, expire_at, now)));
    push(0, "s:int", Value::Str(StrValue::from_input(b"-12345")), 0);
    push(3, "s:text", Value::Str(StrValue::from_input(text(300, 3).as_bytes())), now + 500_000);
    push(0, "s:lzf", Value::Str(StrValue::from_input("xyz".repeat(100).as_bytes())), 0);
    let mut l = List::new();
    (0..2000).for_each(|i| l.push_back(format!("item{i}").as_bytes()));
    push(3, "l", Value::List(Box::new(l)), 0);
    let mut si = Set::new();
    [-5i64, 7, 100_000, 5_000_000_000].iter().for_each(|i| {
        si.insert(i.to_string().as_bytes(), 512);
    });
    push(0, "set:ints", Value::Set(Box::new(si)), now + 900_000);
    let mut st = Set::new();
    ["a", "b", "c"].iter().for_each(|m| {
        st.insert(m.as_bytes(), 512);
    });
    push(15, "set:table", Value::Set(Box::new(st)), 0);
    let (mut hp, mut ht) = (Hash::new(), Hash::new());
    (0..5).for_each(|i| {
        hp.set(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), hash_limits);
    });
    (0..600).for_each(|i| {
        ht.set(format!("f{i}").as_bytes(), format!("v{i}").as_bytes(), hash_limits);
    });
    push(0, "h:packed", Value::Hash(Box::new(hp)), 0);
    push(3, "h:table", Value::Hash(Box::new(ht)), 0);
    let (mut zp, mut zs) = (ZSet::new(), ZSet::new());
    (0..5).for_each(|i| {
        zp.insert(format!("m{i}").as_bytes(), f64::from(i) * 1.5, zset_limits);
    });
    (0..300).for_each(|i| {
        zs.insert(format!("m{i}").as_bytes(), f64::from(i) / 3.0, zset_limits);
    });
    push(0, "z:packed", Value::ZSet(Box::new(zp)), 0);
    push(0, "z:sorted", Value::ZSet(Box::new(zs)), now + 1_000_000);
    out
}

const LIBRARY: &str = "#!lua name=persisted\nredis.register_function('persisted_f', function() return 7 end)";

#[test]
fn rdb_files_we_write_load_in_redis() {
    for (compress, checksum) in [(true, true), (false, false)] {
        let dir = temp_dir("encode");
        let now = now_ms();
        let entries = sample_entries(now);
        let file = std::fs::File::create(dir.join("ours.rdb")).unwrap();
        let mut enc = FileEncoder::new(std::io::BufWriter::new(file), checksum, compress);
        enc.header(&AuxFields { ctime: now / 1000, used_mem: 1 << 20, ..AuxFields::default() }, [LIBRARY.as_bytes()]).unwrap();
        let opts = EncodeOptions { compress, usage: KeyUsage::Idle, now_ms: now, ..EncodeOptions::default() };
        for (db, e) in &entries {
            enc.entry(*db, e, &opts).unwrap();
        }
        enc.finish().unwrap();
        let r = common::redis_server_with(&["--dir", dir.to_str().unwrap(), "--dbfilename", "ours.rdb"]);
        let mut c = r.client();
        let fcall: i64 = redis::cmd("FCALL").arg("persisted_f").arg(0).query(&mut c).unwrap();
        assert_eq!(fcall, 7);
        let mut per_db = std::collections::HashMap::new();
        for (db, e) in &entries {
            *per_db.entry(*db).or_insert(0) += 1;
            cmd(&mut c, &format!("SELECT {db}"));
            let key = std::str::from_utf8(&e.key).unwrap();
            assert_eq!(contents(&mut c, key), value_contents(&e.value), "{key}");
            assert_eq!(encoding(&mut c, key), e.value.encoding().as_bytes(), "{key}");
            let at: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut c).unwrap();
            assert_eq!(at, if e.expire_at == 0 { -1 } else { e.expire_at as i64 }, "{key}");
        }
        for (db, n) in per_db {
            cmd(&mut c, &format!("SELECT {db}"));
            let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
            assert_eq!(size, n, "db {db}");
        }
        drop(r);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Every entry of an RDB file, by (db, key), with its aux fields and functions.
type Decoded = (Vec<(Vec<u8>, Vec<u8>)>, Vec<Vec<u8>>, Vec<(usize, Entry)>);

fn decode_file(path: &std::path::Path) -> Decoded {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let (mut aux, mut functions, mut entries) = (Vec::new(), Vec::new(), Vec::new());
    for item in FileDecoder::new(file, LoadOptions { now_ms: now_ms(), ..LoadOptions::default() }).unwrap() {
        match item.unwrap() {
            Item::Aux { key, value } => aux.push((key, value)),
            Item::Function(code) => functions.push(code),
            Item::Entry { db, entry } => entries.push((db, entry)),
            Item::ResizeDb { .. } => {}
        }
    }
    (aux, functions, entries)
}

#[test]
fn rdb_files_redis_writes_decode() {
    let dir = temp_dir("decode");
    let r = common::redis_server_with(&["--dir", dir.to_str().unwrap(), "--dbfilename", "theirs.rdb"]);
    let mut c = r.client();
    let mut keys = Vec::new();
    for (db, setup) in [
        (0, ""),
        (5, "CONFIG SET list-compress-depth 1 list-max-listpack-size 4"),
        (9, "CONFIG SET hash-max-listpack-entries 2 zset-max-listpack-entries 2 set-max-intset-entries 2"),
    ] {
        cmd(&mut c, &format!("SELECT {db}"));
        if !setup.is_empty() {
            cmd(&mut c, setup);
        }
        for (i, (key, _)) in populate(&mut c).into_iter().enumerate() {
            if i % 4 == 1 {
                cmd(&mut c, &format!("PEXPIRE {key} {}", 1_000_000 + i));
            }
            keys.push((db, key));
        }
    }
    redis::cmd("FUNCTION").arg("LOAD").arg(LIBRARY).query::<String>(&mut c).unwrap();
    for policy in ["allkeys-lru", "allkeys-lfu", "noeviction"] {
        cmd(&mut c, &format!("CONFIG SET maxmemory-policy {policy}"));
        cmd(&mut c, "SAVE");
        let (aux, functions, entries) = decode_file(&dir.join("theirs.rdb"));
        assert!(aux.contains(&(b"redis-ver".to_vec(), b"7.0.15".to_vec())), "{aux:?}");
        assert_eq!(functions, vec![LIBRARY.as_bytes().to_vec()]);
        assert_eq!(entries.len(), keys.len(), "{policy}");
        for (db, e) in &entries {
            let key = std::str::from_utf8(&e.key).unwrap();
            cmd(&mut c, &format!("SELECT {db}"));
            assert_eq!(value_contents(&e.value), contents(&mut c, key), "db {db} {key}");
            let at: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut c).unwrap();
            assert_eq!(if e.expire_at == 0 { -1 } else { e.expire_at as i64 }, at, "{key}");
            // Loaded under our default limits, values take the encodings Redis gives them.
            if *db == 0 {
                assert_eq!(e.value.encoding().as_bytes(), encoding(&mut c, key), "{key}");
            }
        }
        // Our encoder writes the same values back into a file redis-server loads.
        let ours = dir.join("again.rdb");
        let mut enc = FileEncoder::new(std::fs::File::create(&ours).unwrap(), true, true);
        enc.header(&AuxFields::default(), functions.iter().map(Vec::as_slice)).unwrap();
        for (db, e) in &entries {
            enc.entry(*db, e, &EncodeOptions::default()).unwrap();
        }
        enc.finish().unwrap();
        let (_, _, again) = decode_file(&ours);
        assert_eq!(again.len(), entries.len());
        for ((_, a), (_, b)) in again.iter().zip(&entries) {
            assert_eq!((&a.key, value_contents(&a.value), a.expire_at), (&b.key, value_contents(&b.value), b.expire_at));
        }
        // And redis-server loads it: the same keys with the same contents.
        let back = common::redis_server_with(&["--dir", dir.to_str().unwrap(), "--dbfilename", "again.rdb"]);
        let mut b = back.client();
        for (db, e) in &entries {
            let key = std::str::from_utf8(&e.key).unwrap();
            cmd(&mut b, &format!("SELECT {db}"));
            assert_eq!(value_contents(&e.value), contents(&mut b, key), "reloaded {policy} db {db} {key}");
        }
        assert_eq!(redis::cmd("FUNCTION").arg("LIST").query::<Vec<redis::Value>>(&mut b).unwrap().len(), 1);
    }
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reply as short text: `OK`, `12`, `"bulk"`, `[...]`, `nil`.
fn val(v: &redis::Value) -> String {
    match v {
        redis::Value::Okay => "OK".into(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(i) => i.to_string(),
        redis::Value::BulkString(b) => format!("\"{}\"", String::from_utf8_lossy(b)),
        redis::Value::Array(a) => format!("[{}]", a.iter().map(val).collect::<Vec<_>>().join(", ")),
        redis::Value::Nil => "nil".into(),
        other => format!("{other:?}"),
    }
}

fn try_cmd(c: &mut Connection, line: &str) -> redis::RedisResult<redis::Value> {
    let words: Vec<&str> = line.split(' ').collect();
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(if *w == "\"\"" { "" } else { w });
    }
    cmd.query(c)
}

fn info_field(c: &mut Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field}")).trim().to_string()
}

/// MIGRATE from shardis to redis-server and to another shardis: keys on every shard, TTLs,
/// COPY, REPLACE, AUTH, NOKEY, a busy key on the target (only acknowledged keys leave),
/// and the connection cache INFO reports.
#[test]
fn migrate_moves_keys_to_redis_and_to_shardis() {
    for shards in [1, 2, 4] {
        let redis = common::redis_server();
        let other = common::shardis(2, &[]);
        for target in [&redis, &other] {
            let s = common::shardis(shards, &[]);
            let mut c = s.client();
            let mut t = target.client();
            let port = target.port;
            cmd(&mut t, "SELECT 9");
            assert_eq!(info_field(&mut c, "migrate_cached_sockets"), "0");
            // One key, with a TTL: it moves, keeping the TTL; the connection is cached.
            cmd(&mut c, "SET key value");
            cmd(&mut c, "PEXPIRE key 100000");
            assert_eq!(val(&cmd(&mut c, &format!("MIGRATE 127.0.0.1 {port} key 9 5000"))), "OK");
            assert_eq!(val(&cmd(&mut c, "EXISTS key")), "0");
            assert_eq!(val(&cmd(&mut t, "GET key")), "\"value\"");
            let ttl: i64 = redis::cmd("PTTL").arg("key").query(&mut t).unwrap();
            assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
            assert_eq!(info_field(&mut c, "migrate_cached_sockets"), "1");
            // Many keys over every shard, some missing.
            let names: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
            for n in &names {
                cmd(&mut c, &format!("RPUSH {n} a b {n}"));
            }
            let none = try_cmd(&mut c, &format!("MIGRATE 127.0.0.1 {port} \"\" 9 5000 KEYS nokey1 nokey2")).unwrap();
            assert_eq!(val(&none), "NOKEY");
            let line = format!("MIGRATE 127.0.0.1 {port} \"\" 9 5000 KEYS nokey {}", names.join(" "));
            assert_eq!(val(&try_cmd(&mut c, &line).unwrap()), "OK");
            assert_eq!(val(&cmd(&mut c, "DBSIZE")), "0");
            for n in &names {
                assert_eq!(val(&cmd(&mut t, &format!("LRANGE {n} 0 -1"))), format!("[\"a\", \"b\", \"{n}\"]"));
            }
            // COPY keeps the source; without REPLACE a busy target key is an error; with it, fine.
            cmd(&mut c, "SET copied mine");
            cmd(&mut t, "SET copied theirs");
            let err = try_cmd(&mut c, &format!("MIGRATE 127.0.0.1 {port} copied 9 5000 COPY")).unwrap_err();
            assert!(err.to_string().contains("Target instance replied with error: BUSYKEY"), "{err}");
            assert_eq!(val(&cmd(&mut c, &format!("MIGRATE 127.0.0.1 {port} copied 9 5000 COPY REPLACE"))), "OK");
            assert_eq!(val(&cmd(&mut c, "GET copied")), "\"mine\"");
            assert_eq!(val(&cmd(&mut t, "GET copied")), "\"mine\"");
            // Two busy keys among many: only the acknowledged ones leave.
            cmd(&mut c, "FLUSHALL");
            for n in &names {
                cmd(&mut c, &format!("SET {n} v"));
            }
            cmd(&mut t, "FLUSHDB");
            cmd(&mut t, "MSET k3 busy k7 busy");
            let line = format!("MIGRATE 127.0.0.1 {port} \"\" 9 5000 KEYS {}", names.join(" "));
            assert!(try_cmd(&mut c, &line).is_err());
            assert_eq!(val(&cmd(&mut c, "DBSIZE")), "2");
            assert_eq!(val(&cmd(&mut c, "EXISTS k3 k7")), "2");
            assert_eq!(val(&cmd(&mut t, "DBSIZE")), "20");
            // AUTH: the right password works, a wrong one is the target's error.
            cmd(&mut t, "CONFIG SET requirepass secret");
            cmd(&mut c, "SET authed yes");
            assert_eq!(val(&cmd(&mut c, &format!("MIGRATE 127.0.0.1 {port} authed 9 5000 AUTH secret"))), "OK");
            cmd(&mut c, "SET authed again");
            let err = try_cmd(&mut c, &format!("MIGRATE 127.0.0.1 {port} authed 9 5000 AUTH wrong")).unwrap_err();
            assert!(err.to_string().contains("WRONGPASS"), "{err}");
            assert_eq!(val(&cmd(&mut c, "EXISTS authed")), "1");
            redis::cmd("AUTH").arg("secret").query::<()>(&mut t).unwrap();
            redis::cmd("CONFIG").arg("SET").arg("requirepass").arg("").query::<()>(&mut t).unwrap();
            // Errors of the command itself.
            let err = try_cmd(&mut c, &format!("MIGRATE 127.0.0.1 {port} notempty 9 5000 KEYS a")).unwrap_err();
            assert!(err.to_string().contains("the key argument must be set to the empty string"), "{err}");
            cmd(&mut c, "SET lost v");
            let err = try_cmd(&mut c, "MIGRATE 127.0.0.1 1 lost 9 500").unwrap_err();
            assert_eq!((err.code(), err.detail()), (Some("IOERR"), Some("error or timeout connecting to the client")), "{err}");
            assert_eq!(val(&cmd(&mut c, "EXISTS lost")), "1");
        }
    }
}
