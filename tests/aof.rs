//! The append-only file: Redis 7's multi-part layout read with shardis's codecs (a
//! redis-server started here writes its directory; its manifest and files are parsed and
//! compared with what was sent); shardis's AOF over restarts, rewrites and SIGKILL on 1, 2
//! and 4 shards; directories moved between shardis and redis-server both ways; the AOF
//! turned on and off at run time.

mod common;

use std::io::BufReader;
use std::time::{Duration, Instant};

use common::{fill_every_type, fresh_dir, image, persistence, redis_server_with, shardis};
use redis::{Commands, Connection};

use shardis::persist::aof::manifest::{FileKind, Manifest};
use shardis::persist::aof::reader::{is_rdb, CommandReader, End};

/// The commands of one AOF file of commands, as strings, and how its stream ended.
fn commands(path: &std::path::Path) -> (Vec<Vec<String>>, End) {
    let mut r = CommandReader::new(BufReader::new(std::fs::File::open(path).unwrap()));
    let mut out = Vec::new();
    loop {
        match r.next_command().unwrap() {
            Ok(argv) => out.push(argv.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()),
            Err(end) => return (out, end),
        }
    }
}

#[test]
fn redis_servers_aof_directory_reads_back() {
    let dir = common::fresh_dir();
    let d = dir.display().to_string();
    let redis = common::redis_server_with(&["--dir", &d, "--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = redis.raw();
    // Wait for the first rewrite (the base file) to finish.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !c.cmds(&["INFO", "persistence"]).text().contains("aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0") {
        assert!(std::time::Instant::now() < deadline, "the first AOF rewrite did not end");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    c.cmds(&["SET", "k", "v"]);
    c.cmds(&["RPUSH", "l", "a", "b c", "\r\n"]);
    c.cmds(&["SELECT", "3"]);
    c.cmds(&["MULTI"]);
    c.cmds(&["INCR", "n"]);
    c.cmds(&["HSET", "h", "f", ""]);
    c.cmds(&["EXEC"]);

    let aof_dir = dir.join("appendonlydir");
    let text = std::fs::read(aof_dir.join("appendonly.aof.manifest")).unwrap();
    let m = Manifest::parse(&text).unwrap();
    assert_eq!(m.to_bytes(), text, "written back byte for byte");
    let base = m.base.as_ref().expect("a base file");
    assert_eq!((base.kind, base.name.as_str()), (FileKind::Base, "appendonly.aof.1.base.rdb"));
    assert!(is_rdb(&std::fs::read(aof_dir.join(&base.name)).unwrap()));
    assert_eq!(m.incr.len(), 1);
    let (cmds, end) = commands(&aof_dir.join(&m.incr[0].name));
    assert_eq!(end, End::Complete);
    let want: Vec<Vec<&str>> = vec![
        vec!["SELECT", "0"],
        vec!["SET", "k", "v"],
        vec!["RPUSH", "l", "a", "b c", "\r\n"],
        vec!["SELECT", "3"],
        vec!["MULTI"],
        vec!["INCR", "n"],
        vec!["HSET", "h", "f", ""],
        vec!["EXEC"],
    ];
    let got: Vec<Vec<&str>> = cmds.iter().map(|c| c.iter().map(String::as_str).collect()).collect();
    assert_eq!(got, want);

    // Cut inside the transaction: loading would keep what came before its MULTI.
    let bytes = std::fs::read(aof_dir.join(&m.incr[0].name)).unwrap();
    let multi_at = bytes.windows(5).position(|w| w == b"MULTI").unwrap() - "*1\r\n$5\r\n".len();
    let cut = dir.join("cut.aof");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    assert_eq!(commands(&cut).1, End::Truncated { valid_up_to: multi_at as u64 });
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until no AOF rewrite is under way or scheduled.
fn wait_rewrites_done(c: &mut Connection) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while persistence(c, "aof_rewrite_in_progress") != "0" || persistence(c, "aof_rewrite_scheduled") != "0" {
        assert!(Instant::now() < deadline, "the AOF rewrite did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Writes whose logged form is not the command as sent: relative times, random pops, a
/// served blocking pop, cross-shard commands (RENAME, SUNIONSTORE, LMOVE, MSET), a
/// transaction over several shards, SWAPDB and FLUSHDB, keys that expire and are then
/// written again; and a function library loaded.
fn tricky_writes(s: &common::Server, c: &mut Connection) {
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg("#!lua name=lib\nredis.register_function('f', function() return 7 end)")
        .query(c)
        .unwrap();
    let _: () = c.set_ex("ex", "v", 500).unwrap();
    let _: () = redis::cmd("SET").arg("px").arg("v").arg("PX").arg(900_000).query(c).unwrap();
    let _: () = c.set("persisted", "v").unwrap();
    let _: () = c.expire("persisted", 100).unwrap();
    let _: () = c.persist("persisted").unwrap();
    let _: () = redis::cmd("GETEX").arg("long").arg("EX").arg(700).query(c).unwrap();
    let _: Vec<String> = redis::cmd("SPOP").arg("set:big").arg(5).query(c).unwrap();
    let _: String = redis::cmd("INCRBYFLOAT").arg("float").arg("10.5").query(c).unwrap();
    let _: String = redis::cmd("INCRBYFLOAT").arg("float").arg("0.1").query(c).unwrap();
    // A client blocked on an empty list is served by a push from another.
    let mut waiter = s.client();
    let blocked = std::thread::spawn(move || {
        let r: (String, String) = redis::cmd("BLPOP").arg("queue").arg(5).query(&mut waiter).unwrap();
        r
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let clients: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        if clients.contains("blocked_clients:1") || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _: () = c.rpush("queue", &["first", "second"]).unwrap();
    assert_eq!(blocked.join().unwrap(), ("queue".to_string(), "first".to_string()));
    for i in 0..20 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    let _: () = redis::cmd("MSET").arg(&["m1", "1", "m2", "2", "m3", "3", "m4", "4"]).query(c).unwrap();
    let _: () = c.rename("k1", "renamed-k1").unwrap();
    let _: () = c.rename("k2", "renamed-k2").unwrap();
    let _: () = c.sadd("sa", &["x", "y"]).unwrap();
    let _: () = c.sadd("sb", &["y", "z"]).unwrap();
    let _: () = redis::cmd("SUNIONSTORE").arg("union").arg("sa").arg("sb").arg("set:strs").query(c).unwrap();
    let _: () = redis::cmd("LMOVE").arg("list:small").arg("moved").arg("LEFT").arg("RIGHT").query(c).unwrap();
    let _: () = redis::pipe().atomic().incr("k3", 100).incr("k4", 100).del("k5").lpush("list:small", "tx").query(c).unwrap();
    let _: () = redis::cmd("SELECT").arg(5).query(c).unwrap();
    let _: () = c.set("db5", "gone").unwrap();
    let _: () = redis::cmd("FLUSHDB").query(c).unwrap();
    let _: () = c.set("db5", "after flushdb").unwrap();
    let _: () = redis::cmd("SWAPDB").arg(5).arg(3).query(c).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    // Keys that expire, then are written again without a time to live.
    let _: () = redis::cmd("SET").arg("short-lived").arg("a").arg("PX").arg(30).query(c).unwrap();
    let _: () = c.rpush("short-list", "old").unwrap();
    let _: () = c.pexpire("short-list", 30).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let _: () = c.rpush("short-list", "new").unwrap();
    let _: () = c.append("short-lived", "b").unwrap();
}

/// Every database's keys as [`image`] shows them (databases 0 and 3 there; 5 added), and
/// what the function `f` returns.
fn full_image(c: &mut Connection) -> std::collections::BTreeMap<String, String> {
    let mut all = image(c);
    let _: () = redis::cmd("SELECT").arg(5).query(c).unwrap();
    let keys: Vec<String> = c.keys("*").unwrap();
    for k in keys {
        let v: Option<String> = c.get(&k).unwrap_or(None);
        all.insert(format!("5/{k}"), format!("{v:?}"));
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    let f: Option<i64> = redis::cmd("FCALL").arg("f").arg(0).query(c).ok();
    all.insert("function f".into(), format!("{f:?}"));
    all
}

#[test]
fn the_aof_keeps_every_write_over_restarts_rewrites_and_sigkill_on_1_2_4_shards() {
    for shards in [1, 2, 4] {
        let dir = fresh_dir();
        let d = dir.display().to_string();
        let args = ["--dir", d.as_str(), "--appendonly", "yes", "--save", ""];
        let before = {
            let s = shardis(shards, &args);
            let mut c = s.client();
            fill_every_type(&mut c);
            tricky_writes(&s, &mut c);
            let want = full_image(&mut c);
            let ok: String = redis::cmd("SHUTDOWN").query(&mut c).unwrap_or_else(|_| "gone".into());
            assert_eq!(ok, "gone", "SHUTDOWN closes the connection");
            want
        };
        let s = shardis(shards, &args);
        let mut c = s.client();
        assert_eq!(full_image(&mut c), before, "{shards} shards: the commands logged rebuild the data");
        // A rewrite while writes go on, then more writes, then SIGKILL: every write that was
        // answered is in the files (written before the reply; the kernel keeps it).
        let st: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
        assert!(st.starts_with("Background append only file rewriting"), "{st}");
        for i in 0..2000 {
            let _: () = c.incr("counter", 1).unwrap();
            let _: () = c.hset("during", format!("f{i}"), i).unwrap();
        }
        wait_rewrites_done(&mut c);
        assert_eq!(persistence(&mut c, "aof_last_bgrewrite_status"), "ok");
        let _: () = c.del("renamed-k1").unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap_or(());
        fill_every_type(&mut c);
        tricky_writes(&s, &mut c);
        let want = full_image(&mut c);
        let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
        assert_eq!(m, "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n", "{shards} shards");
        drop(c);
        drop(s); // SIGKILL
        let s = shardis(shards, &args);
        let mut c = s.client();
        assert_eq!(full_image(&mut c), want, "{shards} shards: after SIGKILL every answered write is back");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn aof_directories_move_between_shardis_and_redis_both_ways() {
    // shardis writes (a base from a rewrite, in command form, then commands), redis-server
    // reads.
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let s = shardis(2, &["--dir", &d, "--appendonly", "yes", "--save", "", "--aof-use-rdb-preamble", "no"]);
    let mut c = s.client();
    fill_every_type(&mut c);
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    wait_rewrites_done(&mut c);
    let aof_dir = dir.join("appendonlydir");
    let m = Manifest::parse(&std::fs::read(aof_dir.join("appendonly.aof.manifest")).unwrap()).unwrap();
    let base = m.base.expect("a base");
    assert_eq!(base.name, "appendonly.aof.2.base.aof");
    let (cmds, end) = commands(&aof_dir.join(&base.name));
    assert_eq!(end, End::Complete);
    assert!(cmds.iter().any(|c| c[0] == "ZADD") && cmds.iter().any(|c| c[0] == "PEXPIREAT"), "{cmds:?}");
    tricky_writes(&s, &mut c);
    let want = full_image(&mut c);
    let _: Result<(), _> = redis::cmd("SHUTDOWN").query::<()>(&mut c);
    drop(s);
    let r = redis_server_with(&["--dir", &d, "--appendonly", "yes", "--save", ""]);
    let mut rc = r.client();
    assert_eq!(full_image(&mut rc), want, "redis-server loads shardis's AOF directory");
    // redis-server appends its own commands; shardis loads the result on 1 and 4 shards.
    let _: () = rc.set("written-by", "redis").unwrap();
    let _: () = rc.lpush("list:big", "from-redis").unwrap();
    let _: () = rc.expire("short", 4000).unwrap();
    let _: Vec<String> = redis::cmd("SPOP").arg("set:ints").arg(2).query(&mut rc).unwrap();
    let want = full_image(&mut rc);
    let _: Result<(), _> = redis::cmd("SHUTDOWN").query::<()>(&mut rc);
    drop(r);
    for shards in [1, 4] {
        let s = shardis(shards, &["--dir", &d, "--appendonly", "yes", "--save", ""]);
        let mut c = s.client();
        assert_eq!(full_image(&mut c), want, "{shards} shards load redis-server's AOF directory");
        let _: Result<(), _> = redis::cmd("SHUTDOWN").query::<()>(&mut c);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn appendonly_turns_on_and_off_at_run_time() {
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let s = shardis(2, &["--dir", &d, "--save", ""]);
    let mut c = s.client();
    fill_every_type(&mut c);
    assert_eq!(persistence(&mut c, "aof_enabled"), "0");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("yes").query(&mut c).unwrap();
    wait_rewrites_done(&mut c);
    assert_eq!(persistence(&mut c, "aof_enabled"), "1");
    tricky_writes(&s, &mut c);
    let want = full_image(&mut c);
    // DEBUG LOADAOF empties the data set and loads the files back.
    let _: () = redis::cmd("DEBUG").arg("LOADAOF").query(&mut c).unwrap();
    assert_eq!(full_image(&mut c), want, "DEBUG LOADAOF");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("no").query(&mut c).unwrap();
    assert_eq!(persistence(&mut c, "aof_enabled"), "0");
    let _: () = c.set("not-logged", "x").unwrap();
    drop(s);
    let s = shardis(1, &["--dir", &d, "--appendonly", "yes", "--save", ""]);
    let mut c = s.client();
    assert_eq!(full_image(&mut c), want, "what was logged while on, nothing after");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn atomic_work_over_several_shards_is_one_block_and_replays_all_or_nothing() {
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let args = ["--dir", d.as_str(), "--appendonly", "yes", "--save", ""];
    let s = shardis(4, &args);
    let mut c = s.client();
    let mut tx = redis::pipe();
    tx.atomic();
    for i in 0..8 {
        tx.set(format!("t{i}"), i);
    }
    let _: () = tx.query(&mut c).unwrap();
    let pairs: Vec<(String, i32)> = (0..8).map(|i| (format!("m{i}"), i)).collect();
    let _: () = c.mset(&pairs).unwrap();
    let _: Result<(), _> = redis::cmd("SHUTDOWN").query::<()>(&mut c);
    drop(s);

    // Each is one MULTI/EXEC block holding all of its writes, from every shard.
    let aof_dir = dir.join("appendonlydir");
    let m = Manifest::parse(&std::fs::read(aof_dir.join("appendonly.aof.manifest")).unwrap()).unwrap();
    let incr = aof_dir.join(&m.incr.last().unwrap().name);
    let (cmds, end) = commands(&incr);
    assert_eq!(end, End::Complete);
    let names: Vec<String> = cmds.iter().filter(|c| c[0] != "SELECT").map(|c| c[0].to_ascii_uppercase()).collect();
    let sets = names.iter().filter(|n| *n == "SET").count();
    assert_eq!(sets, 8);
    let first_multi = names.iter().position(|n| n == "MULTI").unwrap();
    let first_exec = names.iter().position(|n| n == "EXEC").unwrap();
    assert!(names[first_multi + 1..first_exec].iter().all(|n| n == "SET") && first_exec - first_multi == 9, "{names:?}");
    let second_multi = first_exec + 1;
    assert_eq!(names[second_multi], "MULTI", "{names:?}");
    assert!(names[second_multi + 1..].iter().take_while(|n| *n != "EXEC").all(|n| n == "MSET"), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("EXEC"));

    // A crash inside the second block: loading keeps the first whole, none of the second.
    let bytes = std::fs::read(&incr).unwrap();
    let mset_at = bytes.windows(4).rposition(|w| w == b"MSET").unwrap();
    std::fs::write(&incr, &bytes[..mset_at + 20]).unwrap();
    let s = shardis(2, &args);
    let mut c = s.client();
    let t: Vec<Option<i32>> = c.mget((0..8).map(|i| format!("t{i}")).collect::<Vec<_>>()).unwrap();
    assert_eq!(t, (0..8).map(Some).collect::<Vec<_>>());
    let m: Vec<Option<i32>> = c.mget((0..8).map(|i| format!("m{i}")).collect::<Vec<_>>()).unwrap();
    assert_eq!(m, vec![None; 8], "the cut transaction is all gone");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_mid_load_loses_no_answered_write_under_every_fsync_policy() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::SeqCst};
    use std::sync::Arc;
    // Two keys on different shards of two.
    let pair: Vec<String> = {
        let a = "pair-0".to_string();
        let sa = shardis::shard::route::key_shard(a.as_bytes(), 2);
        let b = (1..).map(|i| format!("pair-{i}")).find(|k| shardis::shard::route::key_shard(k.as_bytes(), 2) != sa).unwrap();
        vec![a, b]
    };
    for policy in ["always", "everysec", "no"] {
        let dir = fresh_dir();
        let d = dir.display().to_string();
        let args = ["--dir", d.as_str(), "--appendonly", "yes", "--appendfsync", policy, "--save", ""];
        let s = shardis(2, &args);
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Arc<Vec<AtomicI64>> = Arc::new((0..4).map(|_| AtomicI64::new(0)).collect());
        let mut writers = Vec::new();
        for w in 0..4 {
            let (stop, acked, pair) = (stop.clone(), acked.clone(), pair.clone());
            let mut c = s.client();
            writers.push(std::thread::spawn(move || {
                while !stop.load(SeqCst) {
                    // Writer 3 moves two counters on different shards in one transaction.
                    let r: redis::RedisResult<i64> = if w == 3 {
                        redis::pipe().atomic().incr(&pair[0], 1).incr(&pair[1], 1).query::<(i64, i64)>(&mut c).map(|(a, _)| a)
                    } else {
                        c.incr(format!("counter-{w}"), 1)
                    };
                    match r {
                        Ok(v) => acked[w].store(v, SeqCst),
                        Err(_) => return,
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(400));
        drop(s); // SIGKILL, with the writers still writing
        stop.store(true, SeqCst);
        for t in writers {
            t.join().unwrap();
        }
        let s = shardis(2, &args);
        let mut c = s.client();
        for w in 0..3 {
            let got: i64 = c.get(format!("counter-{w}")).unwrap();
            let a = acked[w].load(SeqCst);
            assert!(a > 0, "{policy}: writer {w} wrote");
            assert!(got == a || got == a + 1, "{policy}: counter-{w} is {got}, {a} were answered");
        }
        let (pa, pb): (i64, i64) = (c.get(&pair[0]).unwrap(), c.get(&pair[1]).unwrap());
        let a = acked[3].load(SeqCst);
        assert_eq!(pa, pb, "{policy}: the transaction's two writes are both there or neither");
        assert!(pa == a || pa == a + 1, "{policy}: the pair is at {pa}, {a} were answered");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
