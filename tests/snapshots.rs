//! Snapshots to disk through the real protocol: SAVE/BGSAVE/SHUTDOWN and the load at start,
//! on 1, 2 and 4 shards; files moved between shardis and Debian's redis-server both ways; a
//! BGSAVE under a cross-shard transactional load is one point in time; a corrupt file stops
//! the start-up cleanly.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{fill_every_type as fill, fresh_dir, image, persistence, redis_server_with, shardis};
use redis::{Commands, Connection, Value};

fn rdb_in(dir: &Path) -> std::path::PathBuf {
    dir.join("dump.rdb")
}

#[test]
fn save_and_restart_keep_every_key_on_1_2_4_shards() {
    for shards in [1, 2, 4] {
        let dir = fresh_dir();
        let d = dir.display().to_string();
        let before = {
            let s = shardis(shards, &["--dir", &d]);
            let mut c = s.client();
            fill(&mut c);
            let _: () = redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg("#!lua name=lib\nredis.register_function('f', function() return 7 end)")
                .query(&mut c)
                .unwrap();
            let last0: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
            // fill's FLUSHALL saved once already (save points are set).
            let saves0: u64 = persistence(&mut c, "rdb_saves").parse().unwrap();
            std::thread::sleep(Duration::from_millis(1100));
            let ok: String = redis::cmd("SAVE").query(&mut c).unwrap();
            assert_eq!(ok, "OK");
            let last1: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
            assert!(last1 > last0, "LASTSAVE moves on a save");
            let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
            assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
            assert!(info.contains("rdb_last_bgsave_status:ok\r\n"), "{info}");
            assert!(info.contains(&format!("rdb_saves:{}\r\n", saves0 + 1)), "{info}");
            image(&mut c)
        };
        assert!(rdb_in(&dir).exists());
        let s = shardis(shards, &["--dir", &d]);
        let mut c = s.client();
        assert_eq!(image(&mut c), before, "{shards} shards: the restarted server has the same data");
        let r: i64 = redis::cmd("FCALL").arg("f").arg(0).query(&mut c).unwrap();
        assert_eq!(r, 7, "function libraries are saved too");
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        assert!(info.contains(&format!("rdb_last_load_keys_loaded:{}\r\n", before.len())), "{info}");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn files_move_between_shardis_and_redis_both_ways() {
    // shardis writes, redis-server reads.
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let s = shardis(2, &["--dir", &d]);
    let mut c = s.client();
    fill(&mut c);
    let want = image(&mut c);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let r = redis_server_with(&["--dir", &d, "--dbfilename", "dump.rdb", "--enable-protected-configs", "yes"]);
    let mut rc = r.client();
    assert_eq!(image(&mut rc), want, "redis-server loads shardis's file");
    // redis-server writes (its own encodings), shardis reads.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("dbfilename").arg("from-redis.rdb").query(&mut rc).unwrap();
    let _: () = rc.set("written-by", "redis").unwrap();
    let want = image(&mut rc);
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    for shards in [1, 4] {
        let s2 = shardis(shards, &["--dir", &d, "--dbfilename", "from-redis.rdb"]);
        let mut c2 = s2.client();
        assert_eq!(image(&mut c2), want, "{shards} shards load redis-server's file");
    }
    drop((s, r));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Pairs of keys on different shards are only ever changed together, by MULTI/EXEC; a
/// snapshot taken meanwhile must hold every pair equal.
#[test]
fn bgsave_under_cross_shard_transactions_is_one_point_in_time() {
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let s = shardis(4, &["--dir", &d]);
    let mut c = s.client();
    let pairs = 200;
    for i in 0..pairs {
        let _: () = c.set(format!("a{i}"), 0).unwrap();
        let _: () = c.set(format!("b{i}"), 0).unwrap();
    }
    let port = s.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let i = (n * 7 + w * 13) % pairs;
                    let _: () = redis::pipe().atomic().incr(format!("a{i}"), 1).incr(format!("b{i}"), 1).query(&mut c).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..3 {
        let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
        assert_eq!(r, "Background saving started");
        loop {
            let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
            if info.contains("rdb_bgsave_in_progress:0") {
                assert!(info.contains("rdb_last_bgsave_status:ok"), "{info}");
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let done: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(done > 0);
    drop(s);
    let s = shardis(2, &["--dir", &d]);
    let mut c = s.client();
    let mut total = 0;
    for i in 0..pairs {
        let a: i64 = c.get(format!("a{i}")).unwrap();
        let b: i64 = c.get(format!("b{i}")).unwrap();
        assert_eq!(a, b, "pair {i} was saved half-way through a transaction");
        total += a;
    }
    assert!(total > 0, "the snapshot saw some of the writes");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_replies_as_redis_and_shutdown_saves_unless_nosave() {
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let mut s = shardis(2, &["--dir", &d]);
    let mut c = s.client();
    let _: () = c.set("k", "v1").unwrap();
    let e = redis::cmd("BGSAVE").arg("NOW").query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("syntax error"), "{e}");
    let _: () = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut c).unwrap_or(());
    assert!(s.wait_exit(Duration::from_secs(10)));
    assert!(!rdb_in(&dir).exists(), "SHUTDOWN NOSAVE writes nothing");

    let mut s = shardis(2, &["--dir", &d]);
    let mut c = s.client();
    let _: () = c.set("k", "v2").unwrap();
    // Save points are configured by default: a plain SHUTDOWN saves.
    let _: () = redis::cmd("SHUTDOWN").query(&mut c).unwrap_or(());
    assert!(s.wait_exit(Duration::from_secs(10)));
    assert_eq!(s.exit_code(), Some(0));
    let s = shardis(1, &["--dir", &d, "--save", ""]);
    let mut c = s.client();
    let v: String = c.get("k").unwrap();
    assert_eq!(v, "v2");
    let _: () = c.set("k", "v3").unwrap();
    // Without save points, SIGTERM does not save; SHUTDOWN SAVE does.
    let _: () = redis::cmd("SHUTDOWN").arg("SAVE").query(&mut c).unwrap_or(());
    drop(s);
    let s = shardis(1, &["--dir", &d]);
    let mut c = s.client();
    let v: String = c.get("k").unwrap();
    assert_eq!(v, "v3");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_or_truncated_file_stops_the_start_with_an_error() {
    let dir = fresh_dir();
    let d = dir.display().to_string();
    {
        let s = shardis(2, &["--dir", &d]);
        let mut c = s.client();
        fill(&mut c);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    }
    let good = std::fs::read(rdb_in(&dir)).unwrap();
    let bin = env!("CARGO_BIN_EXE_shardis-server");
    let mut rng = fastrand::Rng::with_seed(7);
    let mut cases: Vec<Vec<u8>> = vec![good[..good.len() / 2].to_vec(), good[..good.len() - 1].to_vec(), b"REDIS0010garbage".to_vec()];
    for _ in 0..6 {
        let mut bad = good.clone();
        let at = rng.usize(9..bad.len());
        bad[at] ^= 0x5a;
        cases.push(bad);
    }
    for bad in cases {
        std::fs::write(rdb_in(&dir), &bad).unwrap();
        let out = std::process::Command::new(bin)
            .args(["--port", "0", "--threads", "2", "--pin-cpus", "no", "--dir", &d])
            .output()
            .expect("run shardis-server");
        let log = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "exits with status 1: {log}");
        assert!(log.contains("Fatal error loading the DB"), "{log}");
        assert!(!log.contains("panicked"), "{log}");
        assert!(!log.contains("Ready to accept connections"), "{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// While a large file loads the server already answers: INFO says `loading:1`, commands
/// without the `loading` flag get LOADING; once loaded every key is there.
#[test]
fn the_server_answers_loading_while_the_file_loads() {
    use std::io::{BufRead, BufReader};
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let s = shardis(2, &["--dir", &d]);
    let mut c = s.client();
    let _: () = redis::cmd("DEBUG").arg("POPULATE").arg(20_000).query(&mut c).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    drop(s);
    // 20,000 keys at 200 µs each: about 4 seconds of loading.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_shardis-server"))
        .args([
            "--port",
            "0",
            "--threads",
            "2",
            "--pin-cpus",
            "no",
            "--dir",
            &d,
            "--key-load-delay",
            "200",
            "--enable-protected-configs",
            "yes",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    /// Kills the server however the test ends.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _guard = Kill(child);
    let mut port = None;
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(p) = line.split("Running mode=standalone, port=").nth(1) {
            port = p.trim_end_matches('.').parse::<u16>().ok();
        }
        if line.contains("Server initialized") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let port = port.expect("the port is logged before loading");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let mut c = client.get_connection().unwrap();
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.lines().any(|l| l == "loading:1"), "{info}");
    for cmd in ["GET", "PING"] {
        let mut q = redis::cmd(cmd);
        if cmd == "GET" {
            q.arg("key:1");
        }
        let e = q.query::<Value>(&mut c).unwrap_err();
        assert_eq!(e.code(), Some("LOADING"), "{cmd}: {e}");
    }
    // Some parameters may change while loading, others not (Redis's DENY_LOADING_CONFIG).
    let _: () = redis::cmd("CONFIG").arg("SET").arg("loglevel").arg("debug").query(&mut c).unwrap();
    let e = redis::cmd("CONFIG").arg("SET").arg("dir").arg("/tmp").query::<Value>(&mut c).unwrap_err();
    assert_eq!(e.code(), Some("LOADING"), "{e}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        if info.lines().any(|l| l == "loading:0") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still loading after a minute");
        std::thread::sleep(Duration::from_millis(50));
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 20_000);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A failed snapshot with save points set stops writes (and PING) with MISCONF, as Redis's
/// `stop-writes-on-bgsave-error`; reads go on; a successful snapshot lifts it.
#[test]
fn a_failed_snapshot_stops_writes_until_one_succeeds() {
    let dir = fresh_dir();
    let gone = dir.join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    let s = shardis(2, &["--dir", &gone.display().to_string(), "--enable-protected-configs", "yes"]);
    let mut c = s.client();
    let _: () = c.set("k", "v").unwrap();
    std::fs::remove_dir_all(&gone).unwrap();
    let _: Value = redis::cmd("BGSAVE").query(&mut c).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        if info.contains("rdb_bgsave_in_progress:0") && info.contains("rdb_last_bgsave_status:err") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the snapshot did not fail: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let e = c.set::<_, _, ()>("k", "w").unwrap_err();
    assert_eq!(e.code(), Some("MISCONF"), "{e}");
    assert_eq!(redis::cmd("PING").query::<Value>(&mut c).unwrap_err().code(), Some("MISCONF"));
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let _: Value = redis::cmd("INCR").arg("n").query(&mut c).unwrap_or(Value::Nil);
    assert_eq!(redis::cmd("EXEC").query::<Value>(&mut c).unwrap_err().code(), Some("EXECABORT"));
    let v: String = c.get("k").unwrap();
    assert_eq!(v, "v");
    // Off, writes pass; on again, a snapshot that succeeds lifts the refusal.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("stop-writes-on-bgsave-error").arg("no").query(&mut c).unwrap();
    let _: () = c.set("k", "w").unwrap();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("stop-writes-on-bgsave-error").arg("yes").query(&mut c).unwrap();
    assert!(c.set::<_, _, ()>("k", "x").is_err());
    let _: () = redis::cmd("CONFIG").arg("SET").arg("dir").arg(dir.display().to_string()).query(&mut c).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let _: () = c.set("k", "x").unwrap();
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until no snapshot is under way.
fn wait_bgsave_done(c: &mut Connection) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while persistence(c, "rdb_bgsave_in_progress") != "0" {
        assert!(std::time::Instant::now() < deadline, "the snapshot did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `rdb-key-save-delay` slows the walk so that writes land during it: the file holds the
/// values from when BGSAVE began, `rdb_last_cow_size` reports the copies kept for them, and
/// FLUSHALL aborts a snapshot under way without marking it failed (Redis kills its child).
#[test]
fn writes_during_a_slow_bgsave_are_copied_and_flushall_aborts_it() {
    for shards in [1, 2, 4] {
        let dir = fresh_dir();
        let d = dir.display().to_string();
        let s = shardis(shards, &["--dir", &d, "--save", ""]);
        let mut c = s.client();
        let big = "x".repeat(1000);
        for i in 0..400 {
            let _: () = c.set(format!("k{i}"), &big).unwrap();
        }
        // 400 keys at 2 ms each: the walk takes about 0.8 s over the shards.
        let _: () = redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg("2000").query(&mut c).unwrap();
        let _: Value = redis::cmd("BGSAVE").query(&mut c).unwrap();
        assert_eq!(persistence(&mut c, "rdb_bgsave_in_progress"), "1");
        for i in 0..400 {
            let _: () = c.set(format!("k{i}"), "new").unwrap();
        }
        wait_bgsave_done(&mut c);
        assert_eq!(persistence(&mut c, "rdb_last_bgsave_status"), "ok");
        let cow: u64 = persistence(&mut c, "rdb_last_cow_size").parse().unwrap();
        assert!(cow >= 1000, "{shards} shards: copies of the overwritten values were kept ({cow} bytes)");

        // FLUSHALL during a slow snapshot ends it at once; the file is not replaced.
        let _: () = redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg("1000000").query(&mut c).unwrap();
        let saves = persistence(&mut c, "rdb_saves");
        let _: Value = redis::cmd("BGSAVE").query(&mut c).unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
        let t = std::time::Instant::now();
        wait_bgsave_done(&mut c);
        assert!(t.elapsed() < Duration::from_secs(5), "FLUSHALL aborted the snapshot");
        assert_eq!(persistence(&mut c, "rdb_last_bgsave_status"), "ok", "an aborted snapshot is not a failure");
        assert_eq!(persistence(&mut c, "rdb_saves"), saves);
        let n: u64 = persistence(&mut c, "rdb_changes_since_last_save").parse().unwrap();
        assert!(n >= 400, "the aborted snapshot did not reset the change count ({n})");
        let _: () = c.set("after", "1").unwrap();
        drop(c);
        drop(s);

        // The file is the first snapshot's: every key with its value from before the writes.
        let s = shardis(shards, &["--dir", &d, "--save", ""]);
        let mut c = s.client();
        let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(n, 400, "{shards} shards");
        let v: String = c.get("k7").unwrap();
        assert_eq!(v, big, "{shards} shards: the value from when BGSAVE began");
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// With save points set, FLUSHALL saves the emptied dataset at once, as Redis does: the
/// change count drops to 0 and a restart finds no key; without save points nothing is saved.
#[test]
fn flushall_with_save_points_saves_the_empty_dataset() {
    let dir = fresh_dir();
    let d = dir.display().to_string();
    let mut s = shardis(2, &["--dir", &d]);
    let mut c = s.client();
    for i in 0..100 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let _: () = c.set("late", 1).unwrap();
    let saves: u64 = persistence(&mut c, "rdb_saves").parse().unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(persistence(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(persistence(&mut c, "rdb_saves"), (saves + 1).to_string());
    let _: () = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut c).unwrap_or(());
    assert!(s.wait_exit(Duration::from_secs(10)));
    drop(s);
    let s = shardis(2, &["--dir", &d, "--save", ""]);
    let mut c = s.client();
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 0, "the file FLUSHALL wrote is empty");
    let _: () = c.set("k", "v").unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(persistence(&mut c, "rdb_changes_since_last_save"), "2", "no save points: nothing saved");
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
