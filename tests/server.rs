//! Behaviour over TCP with the `redis` crate (and raw RESP where bytes matter), against a
//! server each test starts on a free loopback port, with 1, 2 and 4 shards.

mod common;

use std::time::{Duration, Instant};

use common::Frame;
use redis::Commands;

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
}

#[test]
fn strings_and_multi_key_commands_work_across_shards() {
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut c = s.client();
        let keys: Vec<String> = (0..64).map(|i| format!("key:{i}")).collect();
        let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), format!("v-{k}"))).collect();
        let _: () = c.mset(&pairs).unwrap();
        let got: Vec<String> = c.mget(&keys).unwrap();
        assert_eq!(got, pairs.iter().map(|p| p.1.clone()).collect::<Vec<_>>(), "{shards} shards");
        let n: i64 = c.exists(&keys).unwrap();
        assert_eq!(n, 64);
        let _: () = c.rename("key:1", "key:renamed").unwrap();
        let v: String = c.get("key:renamed").unwrap();
        assert_eq!(v, "v-key:1");
        let n: i64 = c.del(&keys).unwrap();
        assert_eq!(n, 63);
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n, 1);
        let n: i64 = c.incr("counter", 5).unwrap();
        assert_eq!(n, 5);
    }
}

#[test]
fn pipeline_of_ten_thousand_commands_in_one_write_keeps_order() {
    let s = common::shardis(4, &[]);
    let mut raw = s.raw();
    let mut buf = Vec::new();
    for i in 0..5000 {
        buf.extend(common::encode_cmd(&[b"SET", format!("p:{i}").as_bytes(), format!("{i}").as_bytes()]));
        buf.extend(common::encode_cmd(&[b"GET", format!("p:{i}").as_bytes()]));
    }
    raw.send(&buf);
    for i in 0..5000 {
        assert_eq!(raw.read(), Frame::Simple(b"OK".to_vec()));
        assert_eq!(raw.read(), Frame::Bulk(Some(i.to_string().into_bytes())), "reply {i} out of order");
    }
}

#[test]
fn expired_keys_are_invisible_and_reclaimed_within_100ms() {
    let s = common::shardis(2, &[]);
    let mut c = s.client();
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.cmd("SET").arg(format!("vol:{i}")).arg("x").arg("PX").arg(300).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let _: () = c.set("persistent", "1").unwrap();
    let deadline = Instant::now() + Duration::from_millis(300);
    std::thread::sleep(deadline - Instant::now() + Duration::from_millis(100));
    // INFO keyspace counts keys not yet reclaimed, as Redis does: only the expiry task can
    // have removed them by now.
    assert_eq!(info_field(&mut c, "keyspace", "db0").as_deref(), Some("keys=1,expires=0,avg_ttl=0"));
    assert_eq!(info_field(&mut c, "stats", "expired_keys").as_deref(), Some("20000"));
    let v: Option<String> = c.get("vol:7").unwrap();
    assert_eq!(v, None);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn expired_key_is_never_visible_even_before_reclamation() {
    let s = common::shardis(1, &[]);
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("gone").arg("v").arg("PXAT").arg(1).query(&mut c).unwrap();
    let v: Option<String> = c.get("gone").unwrap();
    assert_eq!(v, None);
    let keys: Vec<String> = c.keys("*").unwrap();
    assert!(keys.is_empty());
    let (cursor, found): (u64, Vec<String>) = redis::cmd("SCAN").arg(0).query(&mut c).unwrap();
    assert_eq!((cursor, found.len()), (0, 0));
    let n: i64 = c.exists("gone").unwrap();
    assert_eq!(n, 0);
}

#[test]
fn scan_walks_every_shard_and_returns_every_key() {
    let s = common::shardis(4, &[]);
    let mut c = s.client();
    for i in 0..1000 {
        let _: () = c.set(format!("s:{i}"), i).unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(50).query(&mut c).unwrap();
        seen.extend(keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 1000);
    let typed: (u64, Vec<String>) = redis::cmd("SCAN").arg(0).arg("TYPE").arg("list").query(&mut c).unwrap();
    assert!(typed.1.is_empty());
}

#[test]
fn scan_count_spans_shards_so_a_small_keyspace_comes_back_whole() {
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut c = s.client();
        for i in 0..6 {
            let _: () = c.set(format!("a{i}"), i).unwrap();
        }
        let _: () = c.sadd("aset", "m").unwrap();
        let _: () = c.sadd("bset", "m").unwrap();
        // Like Redis's: fewer keys than COUNT come back in one call, cursor 0.
        let (next, mut keys): (u64, Vec<String>) = redis::cmd("SCAN").arg(0).query(&mut c).unwrap();
        keys.sort();
        assert_eq!((next, keys.len()), (0, 8), "{shards} shards: {keys:?}");
        // Filters do not end a call early.
        let (next, keys): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(0).arg("MATCH").arg("a*").arg("TYPE").arg("set").query(&mut c).unwrap();
        assert_eq!((next, keys), (0, vec!["aset".to_string()]), "{shards} shards");
        // A small COUNT still walks every key, a few per call.
        let (mut cursor, mut seen, mut calls) = (0u64, Vec::new(), 0);
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN").arg(cursor).arg("COUNT").arg(2).query(&mut c).unwrap();
            seen.extend(keys);
            calls += 1;
            if next == 0 {
                break;
            }
            cursor = next;
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 8, "{shards} shards");
        assert!(calls > 1, "{shards} shards: COUNT 2 took one call");
    }
}

#[test]
fn resp3_hello_returns_a_map_and_auth_is_enforced() {
    let s = common::shardis(2, &["--requirepass", "secret"]);
    let mut raw = s.raw();
    assert_eq!(raw.cmds(&["GET", "k"]), Frame::Error(b"NOAUTH Authentication required.".to_vec()));
    assert_eq!(raw.cmds(&["AUTH", "wrong"]), Frame::Error(b"WRONGPASS invalid username-password pair or user is disabled.".to_vec()));
    match raw.cmds(&["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me"]) {
        Frame::Other(b'%', n, items) => {
            assert_eq!(n, b"7".to_vec());
            assert_eq!(items[0], Frame::Bulk(Some(b"server".to_vec())));
        }
        other => panic!("HELLO 3 should reply with a map, got {other:?}"),
    }
    assert_eq!(raw.cmds(&["GET", "missing"]), Frame::Other(b'_', Vec::new(), Vec::new()));
    assert_eq!(raw.cmds(&["CLIENT", "GETNAME"]), Frame::Bulk(Some(b"me".to_vec())));
    let mut c = redis::Client::open(format!("redis://:secret@127.0.0.1:{}/", s.port)).unwrap().get_connection().unwrap();
    let _: () = c.set("a", "b").unwrap();
}

#[test]
fn client_list_kill_and_setname() {
    let s = common::shardis(2, &[]);
    let mut a = s.client();
    let mut b = s.raw();
    assert_eq!(b.cmds(&["CLIENT", "SETNAME", "victim"]), Frame::Simple(b"OK".to_vec()));
    let Frame::Int(id) = b.cmds(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
    assert!(list.lines().any(|l| l.contains("name=victim")), "{list}");
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query(&mut a).unwrap();
    assert_eq!(killed, 1);
    assert!(b.closed(), "killed client must be disconnected");
    // The server unregisters it as soon as its connection task runs again.
    let t = Instant::now();
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut a).unwrap();
        if !list.contains("name=victim") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "killed client still listed: {list}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn config_get_set_and_file() {
    let dir = std::env::temp_dir().join(format!("shardis-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("test.conf");
    std::fs::write(&file, "# a comment\ndatabases 4\nmaxclients 77\n").unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shardis-server"))
        .arg(&file)
        .args(["--port", "0", "--threads", "1", "--pin-cpus", "no", "--databases", "3"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let port = common::wait_ready(&mut lines).expect("server did not start");
    std::thread::spawn(move || lines.for_each(drop));
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("databases").arg("maxclients").query(&mut c).unwrap();
    assert_eq!(v, vec!["databases", "3", "maxclients", "77"], "flags override the file");
    let r: redis::RedisResult<()> = redis::cmd("CONFIG").arg("SET").arg("databases").arg("5").query(&mut c);
    assert!(r.unwrap_err().to_string().contains("can't set immutable config"));
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxclients").arg("5").query(&mut c).unwrap();
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("max*").query(&mut c).unwrap();
    assert!(v.windows(2).any(|w| w == ["maxclients", "5"]), "{v:?}");
    let r: redis::RedisResult<()> = redis::cmd("SELECT").arg(3).query(&mut c);
    assert!(r.is_err());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn maxclients_refuses_extra_connections() {
    let s = common::shardis(2, &["--maxclients", "2"]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(b.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    let mut c = s.raw();
    assert_eq!(c.read(), Frame::Error(b"ERR max number of clients reached".to_vec()));
}

#[test]
fn shutdown_command_and_sigterm_stop_the_server_cleanly() {
    let mut s = common::shardis(2, &[]);
    let mut raw = s.raw();
    raw.send(&common::encode_cmd(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(raw.closed());
    assert!(s.wait_exit(Duration::from_secs(10)), "server did not exit after SHUTDOWN");

    let mut s = common::shardis(4, &[]);
    let _ = s.raw().cmds(&["SET", "a", "b"]);
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(s.pid() as i32, libc::SIGTERM) };
    assert!(s.wait_exit(Duration::from_secs(10)), "server did not exit after SIGTERM");
    assert_eq!(s.exit_code(), Some(0));
}

#[test]
fn redis_cli_works_against_shardis() {
    let s = common::shardis(2, &[]);
    let cli = |args: &[&str]| -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &s.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli is installed by the test command");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(cli(&["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(&["--no-raw", "GET", "greeting"]), "\"hello world\"\n");
    assert_eq!(cli(&["--no-raw", "MGET", "greeting", "nope"]), "1) \"hello world\"\n2) (nil)\n");
    assert_eq!(cli(&["--no-raw", "INCR", "n"]), "(integer) 1\n");
    assert_eq!(cli(&["--no-raw", "GET"]), "(error) ERR wrong number of arguments for 'get' command\n");
    assert_eq!(cli(&["CLUSTER", "KEYSLOT", "foo"]), "12182\n");
    // redis-cli builds its hints from COMMAND DOCS: every command must have docs.
    let docs = cli(&["--no-raw", "COMMAND", "DOCS", "set"]);
    assert!(docs.contains("\"arguments\"") && docs.contains("\"token\"") && docs.contains("\"EX\""), "{docs}");
}

#[test]
fn connections_are_spread_evenly_over_shards() {
    let s = common::shardis(4, &[]);
    let mut conns: Vec<_> = (0..8).map(|_| s.raw()).collect();
    for c in &mut conns {
        // A reply proves the connection reached its shard and registered.
        assert_eq!(c.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    }
    let mut c = s.client();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    let mut per_shard = std::collections::HashMap::new();
    for l in list.lines() {
        let shard = l.split_whitespace().find_map(|f| f.strip_prefix("shard=")).expect("CLIENT LIST shows the shard").to_string();
        *per_shard.entry(shard).or_insert(0) += 1;
    }
    assert_eq!(per_shard.len(), 4, "{per_shard:?}");
    assert!(per_shard.values().all(|&n| n == 2 || n == 3), "{per_shard:?}");
    drop(conns);
}

#[test]
fn many_concurrent_clients_lose_no_update() {
    let s = common::shardis(4, &[]);
    let port = s.port;
    let threads: Vec<_> = (0..32)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
                for i in 0..200 {
                    let mut p = redis::pipe();
                    p.cmd("INCR").arg("shared").ignore();
                    p.cmd("INCR").arg(format!("own:{t}")).ignore();
                    p.cmd("SET").arg(format!("k:{t}:{i}")).arg(i).ignore();
                    p.cmd("MGET").arg(format!("k:{t}:{i}")).arg(format!("own:{t}"));
                    let (got,): (Vec<i64>,) = p.query(&mut c).unwrap();
                    assert_eq!(got, vec![i, i + 1]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = s.client();
    let total: i64 = c.get("shared").unwrap();
    assert_eq!(total, 32 * 200);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1 + 32 + 32 * 200);
}

/// CPU seconds (user + system) the process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn idle_server_uses_no_cpu() {
    let s = common::shardis(4, &[]);
    let mut clients: Vec<_> = (0..8).map(|_| s.raw()).collect();
    for c in &mut clients {
        assert_eq!(c.cmds(&["SET", "k", "v", "EX", "100"]), Frame::Simple(b"OK".to_vec()));
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_seconds(s.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(s.pid()) - before;
    // Four shards with open connections and a pending expiry: only the 10 Hz housekeeping
    // timers may run. Busy-polling would use 2 s per shard here.
    assert!(used < 0.1, "an idle 4-shard server used {used:.3} s of CPU in 2 s");
}

#[test]
fn shards_ask_io_uring_for_cooperative_task_running() {
    // The vendored liburing (vendor/liburing/SHARDIS.md) adds IORING_SETUP_COOP_TASKRUN to the
    // interrupt-driven rings, so completions never interrupt a running shard. strace shows the
    // flags each ring was created with.
    let trace = std::env::temp_dir().join(format!("shardis-uring-{}.trace", std::process::id()));
    let mut child = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=io_uring_setup", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_shardis-server"))
        .args(["--port", "0", "--threads", "2", "--pin-cpus", "no"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("strace is installed by the test command (apt-get install strace)");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let port = common::wait_ready(&mut lines).expect("server did not start");
    std::thread::spawn(move || lines.for_each(drop));
    // Stop the server itself, so strace exits on its own and writes the whole trace.
    let mut raw = common::Raw::connect(port);
    raw.send(&common::encode_cmd(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(raw.closed());
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(10), "server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&trace).unwrap();
    let _ = std::fs::remove_file(&trace);
    // One line per call (or its first half, when threads interleave), with the flags asked for.
    let setups: Vec<&str> = text.lines().filter(|l| l.contains("io_uring_setup(")).collect();
    let coop = setups.iter().filter(|l| l.contains("IORING_SETUP_COOP_TASKRUN")).count();
    let iopoll = setups.iter().filter(|l| l.contains("IORING_SETUP_IOPOLL")).count();
    // Each shard makes two interrupt-driven rings (main and latency) and one IOPOLL ring, plus
    // glommio's start-up probe ring: every ring that is not IOPOLL must be cooperative.
    assert_eq!(coop + iopoll, setups.len(), "{text}");
    assert!(coop >= 4 && iopoll == 2, "{text}");
}

#[test]
fn info_commandstats_counts_calls_failures_and_time() {
    let s = common::shardis(2, &[]);
    let mut c = s.client();
    for k in ["a", "b", "c"] {
        let _: () = c.set(k, "x").unwrap();
    }
    let _: Option<String> = c.get("a").unwrap();
    let _: Option<String> = c.get("zz").unwrap();
    assert!(redis::cmd("INCR").arg("a").query::<i64>(&mut c).is_err());
    let stats = |name: &str| -> Vec<(String, f64)> {
        let line = info_field(&mut s.client(), "commandstats", &format!("cmdstat_{name}")).unwrap_or_else(|| panic!("no cmdstat_{name}"));
        line.split(',').map(|kv| kv.split_once('=').unwrap()).map(|(k, v)| (k.to_string(), v.parse().unwrap())).collect()
    };
    let field = |v: &[(String, f64)], f: &str| v.iter().find(|(k, _)| k == f).unwrap().1;
    let set = stats("set");
    assert_eq!((field(&set, "calls"), field(&set, "failed_calls")), (3.0, 0.0), "{set:?}");
    assert!(field(&set, "usec_per_call") > 0.0, "sub-microsecond calls still add up: {set:?}");
    assert_eq!(field(&stats("get"), "calls"), 2.0);
    let incr = stats("incr");
    assert_eq!((field(&incr, "calls"), field(&incr, "failed_calls")), (1.0, 1.0), "{incr:?}");
}

#[test]
fn zrank_withscore_and_resp3_doubles() {
    // ZRANK/ZREVRANK WITHSCORE is Redis 7.2's form, which the 7.0 oracle refuses, so it is
    // tested here rather than in the differential test.
    let s = common::shardis(2, &[]);
    let mut r = s.raw();
    assert_eq!(r.cmds(&["ZADD", "z", "1.5", "a", "2", "b"]), Frame::Int(2));
    assert_eq!(r.cmds(&["ZRANK", "z", "b", "WITHSCORE"]), Frame::Array(Some(vec![Frame::Int(1), Frame::Bulk(Some(b"2".to_vec()))])));
    assert_eq!(r.cmds(&["ZREVRANK", "z", "b", "withscore"]), Frame::Array(Some(vec![Frame::Int(0), Frame::Bulk(Some(b"2".to_vec()))])));
    assert_eq!(r.cmds(&["ZREVRANK", "z", "nope", "WITHSCORE"]), Frame::Array(None));
    assert_eq!(r.cmds(&["ZRANK", "z", "a", "WITHSCORES"]), Frame::Error(b"ERR syntax error".to_vec()));
    // RESP3 sends scores as doubles.
    let _ = r.cmds(&["HELLO", "3"]);
    assert_eq!(r.cmds(&["ZSCORE", "z", "a"]), Frame::Other(b',', b"1.5".to_vec(), Vec::new()));
    assert_eq!(r.cmds(&["ZINCRBY", "z", "inf", "a"]), Frame::Other(b',', b"inf".to_vec(), Vec::new()));
}
