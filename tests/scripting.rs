//! Lua scripting over TCP: scripts and functions compared with redis-server byte for byte,
//! atomicity of scripts that touch keys they did not declare, time limits and kills, and
//! FUNCTION DUMP / RESTORE round trips (also between redis-server and shardis).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{show, Frame, Raw};

/// Runs each command on both servers and compares the replies exactly (FUNCTION LIST's
/// libraries and functions in any order: Redis lists them in its hash tables' order);
/// reports every mismatch.
/// HELLO is sent to both but not compared (its reply holds the client id).
fn same_on_both(redis: &mut Raw, shardis: &mut Raw, cmds: &[&[&str]]) {
    let mut bad = Vec::new();
    for c in cmds {
        let (mut want, mut got) = (redis.cmds(c), shardis.cmds(c));
        if c[0] == "HELLO" {
            continue;
        }
        if c[0] == "FUNCTION" && c[1] == "LIST" {
            for f in [&mut want, &mut got] {
                if let Frame::Array(Some(libs)) = f {
                    for lib in libs.iter_mut() {
                        if let Frame::Array(Some(fields)) = lib {
                            if let Some(Frame::Array(Some(fns))) = fields.get_mut(5) {
                                fns.sort();
                            }
                        }
                    }
                    libs.sort();
                }
            }
        }
        if want != got {
            bad.push(format!("{c:?}\n   redis:   {}\n   shardis: {}", show(&want), show(&got)));
        }
    }
    assert!(bad.is_empty(), "{} replies differ:\n{}", bad.len(), bad.join("\n"));
}

const LIB: &str = "#!lua name=mylib
local function incr_by(keys, args) return redis.call('incrby', keys[1], args[1]) end
redis.register_function('incr_by', incr_by)
redis.register_function{function_name='echo_ro', callback=function(keys, args) return args[1] end, flags={'no-writes'}, description='echoes'}
redis.register_function('bad_write', function(keys, args) local r = redis.call('set', keys[1], 'x') return r end)";

#[test]
fn scripts_and_functions_match_redis() {
    for shards in [1, 2, 4] {
        let r = common::redis_server();
        let s = common::shardis(shards, &[]);
        let (mut a, mut b) = (r.raw(), s.raw());
        let script: &[&[&str]] = &[
            &["EVAL", "return 'hello'", "0"],
            &["EVAL", "return {1, 2, 3, 'ciao', {1, 2}}", "0"],
            &["EVAL", "return {1, 2, nil, 4}", "0"],
            &["EVAL", "return 3.99", "0"],
            &["EVAL", "return -3.99", "0"],
            &["EVAL", "return true", "0"],
            &["EVAL", "return false", "0"],
            &["EVAL", "return nil", "0"],
            &["EVAL", "return {ok='fine'}", "0"],
            &["EVAL", "return {err='MYCODE went wrong'}", "0"],
            &["EVAL", "return redis.error_reply('MY_ERR_CODE custom')", "0"],
            &["EVAL", "return redis.status_reply('STATUS')", "0"],
            &["EVAL", "return redis.sha1hex('Pizza & Mandolino')", "0"],
            &["EVAL", "local r = redis.call('set', KEYS[1], ARGV[1]) return r", "1", "{a}k1", "v1"],
            &["EVAL", "local r = redis.call('get', KEYS[1]) return r", "1", "{a}k1"],
            &["EVAL", "local r = redis.call('get', KEYS[1]) return r", "1", "{a}missing"],
            &["EVAL", "local r = redis.call('incr', KEYS[1]) return r", "1", "{a}counter"],
            &["EVAL", "local r = redis.call('lpush', KEYS[1], 'x') return r", "1", "{a}k1"],
            &["EVAL", "local r = redis.pcall('lpush', KEYS[1], 'x') return r", "1", "{a}k1"],
            &[
                "EVAL",
                "local ok, e = pcall(function() return redis.call('lpush', KEYS[1], 'x') end) return {tostring(ok), e}",
                "1",
                "{a}k1",
            ],
            &["EVAL", "local r = redis.call('nosuchcommand') return r", "0"],
            &["EVAL", "local r = redis.call('get') return r", "0"],
            &["EVAL", "local r = redis.pcall('get') return r", "0"],
            &["EVAL", "local r = redis.call('eval', 'return 1', '0') return r", "0"],
            &["EVAL", "local r = redis.call('get', {}) return r", "0"],
            &["EVAL", "local r = redis.call() return r", "0"],
            &["EVAL", "return a", "0"],
            &["EVAL", "a = 10", "0"],
            &["EVAL", "redis.call = function() return 1 end", "0"],
            &["EVAL", "local x = {}; setmetatable(_G, x)", "0"],
            &["EVAL", "return loadstring(string.dump(function() return 1 end))()", "0"],
            &["EVAL", "print('x')", "0"],
            &["EVAL", "os.exit()", "0"],
            &["EVAL", "error('boom')", "0"],
            &["EVAL", "error({err='CODE table error'})", "0"],
            &["EVAL", "retur 1", "0"],
            &["EVAL", "return 1", "-1"],
            &["EVAL", "return 1", "3", "a"],
            &["EVAL", "return 1", "x"],
            &["EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", "2", "{a}x", "{b}y", "1", "2"],
            &[
                "EVAL",
                "local a = {} for i = 1, 7999 do a[i] = i end local r = redis.call('rpush', KEYS[1], unpack(a)) return r",
                "1",
                "{a}big",
            ],
            &["EVAL", "local r = redis.call('lrange', KEYS[1], 7990, -1) return r", "1", "{a}big"],
            &["EVAL", "return cjson.encode({1, 2, {a=1}})", "0"],
            &["EVAL", "local t = cjson.decode('[1,2,{\"a\":3.5}]') return {t[1], t[2], tostring(t[3].a)}", "0"],
            &["EVAL", "return cjson.encode(cjson.decode('{\"x\":[true,false,null]}'))", "0"],
            &["EVAL", "return cmsgpack.pack({1, 2, 3, 'x', {a=1}})", "0"],
            &["EVAL", "local t = cmsgpack.unpack(cmsgpack.pack({1, -2, 3.5, 'x'})) return {t[1], t[2], tostring(t[3]), t[4]}", "0"],
            &["EVAL", "return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(3, 1), bit.lshift(1, 4), bit.tohex(255)}", "0"],
            &["EVAL", "return struct.pack('>I2', 258)", "0"],
            &["EVAL", "return {struct.unpack('>I2', struct.pack('>I2', 258))}", "0"],
            &["EVAL", "return tostring(math.floor(7.5))", "0"],
            &["EVAL", "return string.format('%d-%s', 5, 'x')", "0"],
            &["EVAL_RO", "local r = redis.call('get', KEYS[1]) return r", "1", "{a}k2"],
            &["EVAL_RO", "local r = redis.call('set', KEYS[1], 'x') return r", "1", "{a}k2"],
            &["EVAL", "#!lua flags=no-writes\nlocal r = redis.call('set', KEYS[1], 'x') return r", "1", "{a}k2"],
            &["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
            &["EVAL_RO", "#!lua\nreturn 1", "0"],
            &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
            &["EVAL", "#!/usr/bin/lua\nreturn 1", "0"],
            &["EVAL", "#!lua foo=bar\nreturn 1", "0"],
            &["SCRIPT", "LOAD", "return 'loaded'"],
            &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
            &["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
            &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
            &["EVALSHA", "short", "0"],
            &["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffffffffffffffffffffffffffffffffffffffff"],
            &["SCRIPT", "FLUSH", "ASYNC"],
            &["SCRIPT", "FLUSH", "BAD"],
            &["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8"],
            &["SCRIPT", "LOAD", "retur 1"],
            &["SCRIPT", "KILL"],
            &["FUNCTION", "KILL"],
            &["FUNCTION", "LOAD", LIB],
            &["FUNCTION", "LOAD", LIB],
            &["FCALL", "incr_by", "1", "{a}fc", "5"],
            &["FCALL", "incr_by", "1", "{a}fc", "5"],
            &["FCALL_RO", "echo_ro", "0", "hi"],
            &["FCALL_RO", "incr_by", "1", "{a}fc", "5"],
            &["FCALL", "nosuch", "0"],
            &["FCALL", "incr_by", "3", "a"],
            &["FUNCTION", "LIST"],
            &["FUNCTION", "LIST", "WITHCODE"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "my*"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "zz*"],
            &["FUNCTION", "LIST", "BOGUS"],
            &["FUNCTION", "STATS"],
            &["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('incr_by', function() return 1 end)"],
            &["FUNCTION", "LOAD", "#!lua name=empty\nlocal x = 1"],
            &["FUNCTION", "LOAD", "return 1"],
            &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
            &["FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"],
            &["FUNCTION", "LOAD", "#!lua name=calls\nredis.call('ping')"],
            &["FUNCTION", "LOAD", "#!lua name=syntax\nthis is not lua"],
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=badflag\nredis.register_function{function_name='f', callback=function() end, flags={'bogus'}}",
            ],
            &["FUNCTION", "DELETE", "nosuch"],
            &["FUNCTION", "DELETE", "mylib"],
            &["FCALL", "incr_by", "1", "{a}fc", "5"],
            &["FUNCTION", "FLUSH"],
            &["FUNCTION", "LIST"],
            &["HELLO", "3"],
            &["EVAL", "redis.setresp(3) local r = redis.call('hgetall', KEYS[1]) return r", "1", "{a}h"],
            &["HSET", "{a}h", "f", "v"],
            &["EVAL", "redis.setresp(3) local r = redis.call('hgetall', KEYS[1]) return r", "1", "{a}h"],
            &["EVAL", "local r = redis.call('hgetall', KEYS[1]) return r", "1", "{a}h"],
            &["EVAL", "redis.setresp(3) return {double=3.5}", "0"],
            &["EVAL", "redis.setresp(3) return {big_number='123456789012345678901234567890'}", "0"],
            &["EVAL", "redis.setresp(3) return true", "0"],
            &["EVAL", "redis.setresp(3) local r = redis.call('zscore', KEYS[1], 'm') return r", "1", "{a}z"],
            &["EVAL", "redis.setresp(4)", "0"],
            &["EVAL", "return {map={a=1}}", "0"],
            &["EVAL", "return {set={a=true}}", "0"],
            &["HELLO", "2"],
        ];
        same_on_both(&mut a, &mut b, script);
    }
}

#[test]
fn scripts_reach_keys_on_every_shard() {
    let s = common::shardis(4, &[]);
    let mut c = s.raw();
    // Declared keys on four different shards, written and read in one script.
    let keys: Vec<String> = (0..16).map(|i| format!("acct:{i}")).collect();
    let mut args: Vec<&str> = vec!["EVAL", "for i, k in ipairs(KEYS) do redis.call('set', k, i) end local n = 0 for _, k in ipairs(KEYS) do n = n + tonumber(redis.call('get', k)) end return n", "16"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(c.cmds(&args), Frame::Int(136));
    // The same keys, not declared: the script reruns under the whole-keyspace lock.
    let mut args: Vec<&str> =
        vec!["EVAL", "local n = 0 for _, k in ipairs(ARGV) do n = n + tonumber(redis.call('get', k)) end return n", "0"];
    args.extend(keys.iter().map(String::as_str));
    assert_eq!(c.cmds(&args), Frame::Int(136));
    // A script that wrote and then reaches a free undeclared key adds it to its locks.
    let w = "redis.call('set', KEYS[1], 'x') local r = redis.call('get', 'undeclared{zz}') return r";
    assert_eq!(c.cmds(&["EVAL", w, "1", "w{aa}"]), Frame::Bulk(None));
    // KEYS and DBSIZE from a script see every shard.
    assert_eq!(c.cmds(&["EVAL", "local r = redis.call('dbsize') return r", "0"]), Frame::Int(17));
    // Scripts inside MULTI/EXEC.
    assert_eq!(c.cmds(&["MULTI"]), Frame::Simple(b"OK".to_vec()));
    c.cmds(&["EVAL", "local r = redis.call('incr', ARGV[1]) return r", "0", "acct:3"]);
    c.cmds(&["EVAL", "local r = redis.call('incr', KEYS[1]) return r", "1", "acct:7"]);
    assert_eq!(c.cmds(&["EXEC"]), Frame::Array(Some(vec![Frame::Int(5), Frame::Int(9)])));
}

/// Several clients move amounts between accounts with scripts that do not declare their
/// keys (and some that do), while checkers read every account in one script and with MGET:
/// every read must see the total intact, and the transfers must add up.
#[test]
fn undeclared_key_scripts_are_atomic() {
    for shards in [2, 4] {
        let s = common::shardis(shards, &[]);
        let accounts = 8;
        let names: Vec<String> = (0..accounts).map(|i| format!("acct{i}")).collect();
        let mut c = s.raw();
        for n in &names {
            c.cmds(&["SET", n, "100"]);
        }
        let total = 100 * accounts as i64;
        let transfer = "local a, b, amt = ARGV[1], ARGV[2], tonumber(ARGV[3])
            local va = tonumber(redis.call('get', a))
            local vb = tonumber(redis.call('get', b))
            redis.call('set', a, va - amt)
            redis.call('set', b, vb + amt)
            return 1";
        let declared = "local amt = tonumber(ARGV[1])
            redis.call('set', KEYS[1], tonumber(redis.call('get', KEYS[1])) - amt)
            redis.call('set', KEYS[2], tonumber(redis.call('get', KEYS[2])) + amt)
            return 1";
        let sum_all = "local n = 0 for _, k in ipairs(ARGV) do n = n + tonumber(redis.call('get', k)) end return n";
        let stop = Arc::new(AtomicBool::new(false));
        let moved = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for w in 0..4u64 {
            let (port, names, moved) = (s.port, names.clone(), moved.clone());
            workers.push(std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                let mut rng = fastrand::Rng::with_seed(w);
                for i in 0..400 {
                    let a = rng.usize(..names.len());
                    let b = (a + 1 + rng.usize(..names.len() - 1)) % names.len();
                    let amt = rng.u32(1..20).to_string();
                    let r = if i % 3 == 0 {
                        c.cmds(&["EVAL", declared, "2", &names[a], &names[b], &amt])
                    } else {
                        c.cmds(&["EVAL", transfer, "0", &names[a], &names[b], &amt])
                    };
                    assert_eq!(r, Frame::Int(1));
                    moved.fetch_add(1, Relaxed);
                }
            }));
        }
        let mut checkers = Vec::new();
        for _ in 0..2 {
            let (port, names, stop) = (s.port, names.clone(), stop.clone());
            checkers.push(std::thread::spawn(move || {
                let mut c = Raw::connect(port);
                let mut checks = 0;
                while !stop.load(Relaxed) {
                    let mut args: Vec<&str> = vec!["EVAL", sum_all, "0"];
                    args.extend(names.iter().map(String::as_str));
                    assert_eq!(c.cmds(&args), Frame::Int(total), "a script saw a transfer half done");
                    let mut mget: Vec<&str> = vec!["MGET"];
                    mget.extend(names.iter().map(String::as_str));
                    let Frame::Array(Some(vals)) = c.cmds(&mget) else { panic!("MGET failed") };
                    let sum: i64 = vals.iter().map(|v| v.text().parse::<i64>().unwrap()).sum();
                    assert_eq!(sum, total, "MGET saw a transfer half done");
                    checks += 1;
                }
                checks
            }));
        }
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Relaxed);
        for ch in checkers {
            assert!(ch.join().unwrap() > 0);
        }
        assert_eq!(moved.load(Relaxed), 1600);
        let mut mget: Vec<&str> = vec!["MGET"];
        mget.extend(names.iter().map(String::as_str));
        let Frame::Array(Some(vals)) = c.cmds(&mget) else { panic!("MGET failed") };
        assert_eq!(vals.iter().map(|v| v.text().parse::<i64>().unwrap()).sum::<i64>(), total);
    }
}

fn wait_busy(c: &mut Raw) {
    let t = Instant::now();
    loop {
        if let Frame::Error(e) = c.cmds(&["PING"]) {
            assert!(e.starts_with(b"BUSY"), "{}", String::from_utf8_lossy(&e));
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "the script never became busy");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn busy_scripts_can_be_killed_and_other_shards_serve() {
    for shards in [1, 2] {
        let s = common::shardis(shards, &["--busy-reply-threshold", "50"]);
        let mut c = s.raw();
        assert_eq!(c.cmds(&["SCRIPT", "KILL"]), Frame::Error(b"NOTBUSY No scripts in execution right now.".to_vec()));
        // A read-only runaway script: BUSY everywhere, then SCRIPT KILL stops it.
        let port = s.port;
        let runner = std::thread::spawn(move || {
            Raw::connect(port).cmds(&["EVAL", "local r = redis.call('get', KEYS[1]) while true do end", "1", "held"])
        });
        wait_busy(&mut c);
        assert!(matches!(c.cmds(&["GET", "other"]), Frame::Error(e) if e.starts_with(b"BUSY")));
        assert!(matches!(c.cmds(&["FUNCTION", "KILL"]), Frame::Error(e) if e.starts_with(b"BUSY")));
        assert_eq!(c.cmds(&["SCRIPT", "KILL"]), Frame::Simple(b"OK".to_vec()));
        let r = runner.join().unwrap();
        assert!(matches!(&r, Frame::Error(e) if String::from_utf8_lossy(e).contains("killed by user")), "{r:?}");
        assert_eq!(c.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));

        // busy-reply-scope held: keys the script does not hold keep being served.
        c.cmds(&["CONFIG", "SET", "busy-reply-scope", "held"]);
        c.cmds(&["SET", "free", "1"]);
        let runner = std::thread::spawn(move || {
            Raw::connect(port).cmds(&["EVAL", "local r = redis.call('get', KEYS[1]) while true do end", "1", "held"])
        });
        wait_busy(&mut c);
        assert_eq!(c.cmds(&["GET", "free"]), Frame::Bulk(Some(b"1".to_vec())));
        assert!(matches!(c.cmds(&["GET", "held"]), Frame::Error(e) if e.starts_with(b"BUSY")));
        assert_eq!(c.cmds(&["SCRIPT", "KILL"]), Frame::Simple(b"OK".to_vec()));
        runner.join().unwrap();
        c.cmds(&["CONFIG", "SET", "busy-reply-scope", "all"]);

        // A function is killed with FUNCTION KILL, not SCRIPT KILL.
        c.cmds(&["FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}"]);
        let runner = std::thread::spawn(move || Raw::connect(port).cmds(&["FCALL", "spin", "0"]));
        wait_busy(&mut c);
        assert!(matches!(c.cmds(&["SCRIPT", "KILL"]), Frame::Error(e) if e.starts_with(b"BUSY")));
        let Frame::Array(Some(stats)) = c.cmds(&["FUNCTION", "STATS"]) else { panic!("FUNCTION STATS") };
        assert_eq!(stats[0], Frame::Bulk(Some(b"running_script".to_vec())));
        assert_ne!(stats[1], Frame::Bulk(None));
        assert_eq!(c.cmds(&["FUNCTION", "KILL"]), Frame::Simple(b"OK".to_vec()));
        runner.join().unwrap();

        // A script that wrote cannot be killed; SHUTDOWN NOSAVE still stops the server.
        let runner = std::thread::spawn(move || {
            let mut r = Raw::connect(port);
            r.send(&common::encode_cmd(&[b"EVAL", b"redis.call('set', KEYS[1], 'v') while true do end", b"1", b"w"]));
        });
        wait_busy(&mut c);
        let e = c.cmds(&["SCRIPT", "KILL"]);
        assert!(matches!(&e, Frame::Error(m) if m.starts_with(b"UNKILLABLE")), "{e:?}");
        runner.join().unwrap();
        let mut s = s;
        c.send(&common::encode_cmd(&[b"SHUTDOWN", b"NOSAVE"]));
        assert!(s.wait_exit(Duration::from_secs(10)), "SHUTDOWN NOSAVE did not stop a server running a busy script");
    }
}

#[test]
fn function_dump_restore_round_trips_with_redis() {
    let r = common::redis_server();
    let s = common::shardis(2, &[]);
    let (mut a, mut b) = (r.raw(), s.raw());
    let long = format!(
        "#!lua name=longlib\n{}redis.register_function('long', function() return 'long' end)",
        "-- a comment that makes the code long enough to compress\n".repeat(30)
    );
    for c in [&mut a, &mut b] {
        assert_eq!(c.cmds(&["FUNCTION", "LOAD", LIB]), Frame::Bulk(Some(b"mylib".to_vec())));
        assert_eq!(c.cmds(&["FUNCTION", "LOAD", &long]), Frame::Bulk(Some(b"longlib".to_vec())));
    }
    let Frame::Bulk(Some(from_redis)) = a.cmds(&["FUNCTION", "DUMP"]) else { panic!("redis DUMP") };
    let Frame::Bulk(Some(from_shardis)) = b.cmds(&["FUNCTION", "DUMP"]) else { panic!("shardis DUMP") };
    // Each server restores the other's payload (redis-server's is LZF-compressed).
    for (c, payload) in [(&mut a, &from_shardis), (&mut b, &from_redis)] {
        let e = c.cmd(&[b"FUNCTION", b"RESTORE", payload]);
        assert!(matches!(&e, Frame::Error(m) if String::from_utf8_lossy(m).contains("already exists")), "{e:?}");
        assert_eq!(c.cmd(&[b"FUNCTION", b"RESTORE", payload, b"REPLACE"]), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.cmds(&["FUNCTION", "FLUSH"]), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.cmd(&[b"FUNCTION", b"RESTORE", payload]), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.cmds(&["FCALL", "long", "0"]), Frame::Bulk(Some(b"long".to_vec())));
        assert_eq!(c.cmds(&["FCALL", "incr_by", "1", "n", "2"]), Frame::Int(2));
        c.cmds(&["FUNCTION", "LOAD", "#!lua name=extra\nredis.register_function('extra', function() return 1 end)"]);
        assert_eq!(c.cmd(&[b"FUNCTION", b"RESTORE", payload, b"FLUSH"]), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.cmds(&["FCALL", "extra", "0"]), Frame::Error(b"ERR Function not found".to_vec()));
    }
    same_on_both(
        &mut a,
        &mut b,
        &[&["FUNCTION", "LIST", "WITHCODE"], &["FUNCTION", "RESTORE", "garbage"], &["FUNCTION", "RESTORE", "x", "BOGUS"]],
    );
    let mut bad = from_shardis.clone();
    bad[2] ^= 0xff;
    assert_eq!(b.cmd(&[b"FUNCTION", b"RESTORE", &bad]), Frame::Error(b"ERR DUMP payload version or checksum are wrong".to_vec()));
}

#[test]
fn script_memory_is_reported_and_freed() {
    let s = common::shardis(2, &[]);
    let mut c = s.raw();
    let info = |c: &mut Raw, field: &str| -> u64 {
        let text = c.cmds(&["INFO", "memory"]).text();
        text.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field}")).trim().parse().unwrap()
    };
    // Each script compiled on this connection's shard holds Lua memory until SCRIPT FLUSH.
    c.cmds(&["SCRIPT", "LOAD", "return 0"]);
    let base = info(&mut c, "used_memory_lua");
    for i in 0..300 {
        c.cmds(&["SCRIPT", "LOAD", &format!("local t = {{}} for j = 1, 10 do t[j] = j * {i} end return t")]);
    }
    assert_eq!(info(&mut c, "number_of_cached_scripts"), 301);
    let loaded = info(&mut c, "used_memory_lua");
    assert!(loaded > base + 100_000, "300 compiled scripts should hold Lua memory: {base} -> {loaded}");
    assert_eq!(c.cmds(&["SCRIPT", "FLUSH"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(info(&mut c, "number_of_cached_scripts"), 0);
    assert_eq!(info(&mut c, "used_memory_scripts_eval"), 0);
    let flushed = info(&mut c, "used_memory_lua");
    assert!(flushed < loaded - 100_000, "SCRIPT FLUSH should free the compiled scripts: {loaded} -> {flushed}");
}

/// redis-py's Lock (EVALSHA of its scripts) and register_script, from the venv the test
/// command makes (`target/pyenv`, `.ci/test-all`).
#[test]
fn redis_py_lock_works() {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyenv/bin/python");
    assert!(std::path::Path::new(python).exists(), "{python} is missing: run the test command (bash .ci/test-all), which creates it");
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let out = std::process::Command::new(python)
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/redis_py_lock.py"))
            .arg(s.port.to_string())
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "redis-py Lock failed on {shards} shards:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Scripts and functions from the in-process engine, keys on several shards.
#[test]
fn embedded_engine_runs_scripts() {
    let engine = shardis::embed::Engine::builder().shards(2).unpinned().start().unwrap();
    let c = engine.client();
    let sum = "local n = 0 for _, k in ipairs(KEYS) do n = n + redis.call('incr', k) end return n";
    assert_eq!(c.call::<i64>(["EVAL", sum, "4", "a", "b", "c", "d"]), Ok(4));
    assert_eq!(c.call::<i64>(["EVAL", sum, "4", "a", "b", "c", "d"]), Ok(8));
    let lib = "#!lua name=emb\nredis.register_function('double', function(keys) return 2 * redis.call('get', keys[1]) end)";
    assert_eq!(c.call::<String>(["FUNCTION", "LOAD", lib]).as_deref(), Ok("emb"));
    assert_eq!(c.call::<i64>(["FCALL", "double", "1", "a"]), Ok(4));
    let e = c.call::<i64>(["EVAL", "return redis.call('lpush', KEYS[1], 'x')", "1", "a"]);
    assert!(matches!(&e, Err(shardis::embed::Error::Command(err)) if err.to_string().starts_with("WRONGTYPE")), "{e:?}");
    engine.stop();
}

/// Undeclared keys under contention: while another owner holds a key, a script that reads
/// it before writing waits for it under the whole-keyspace gate (and runs when it is
/// released); one that wrote first gets an error from that call; a free undeclared key is
/// simply added to the script's locks.
#[test]
fn undeclared_keys_held_by_another_owner() {
    use shardis::shard::locks::Want;
    use shardis::shard::{route::key_shard, Msg};
    let engine = std::sync::Arc::new(shardis::embed::Engine::builder().shards(2).unpinned().start().unwrap());
    let c = engine.client();
    let shared = engine.shared();
    let held = bytes::Bytes::from_static(b"contended");
    let shard = key_shard(&held, 2);
    c.call::<()>(["SET", "contended", "7"]).unwrap();
    let owner = 1 << 60;
    let (granted, rx) = futures::channel::oneshot::channel();
    shared.mailboxes[shard].push(Msg::Lock { owner, want: Want::Keys(vec![held.clone()]), granted });
    futures::executor::block_on(rx).expect("granted");

    // A free undeclared key: no gate, no wait.
    assert_eq!(c.call::<i64>(["EVAL", "return redis.call('incr', 'free-key')", "0"]), Ok(1));
    // Wrote, then reached the held key: an error from that call, the write stands.
    let e = c.call::<()>(["EVAL", "redis.call('set', KEYS[1], 'w') return redis.call('get', 'contended')", "1", "wrote-first"]);
    assert!(matches!(&e, Err(shardis::embed::Error::Command(err)) if err.to_string().contains("another client holds it")), "{e:?}");
    assert_eq!(c.call::<String>(["GET", "wrote-first"]).as_deref(), Ok("w"));
    // Read the held key before writing: waits under the gate until the key is released.
    let e2 = engine.clone();
    let reader = std::thread::spawn(move || {
        e2.client().call::<i64>(["EVAL", "local v = redis.call('get', 'contended') return tonumber(v) + 1", "0"])
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!reader.is_finished(), "the script ran while another owner held its key");
    shared.mailboxes[shard].push(Msg::Unlock(owner));
    assert_eq!(reader.join().unwrap(), Ok(8));
    std::sync::Arc::into_inner(engine).expect("threads joined").stop();
}
