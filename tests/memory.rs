//! maxmemory over TCP: accounting (INFO used_memory back to its baseline after FLUSHALL),
//! noeviction's OOM reply (checked against redis-server), each eviction policy taking the
//! keys it should (LRU and LFU keeping hot keys on 1 and 2 shards), CONFIG SET maxmemory
//! evicting down to a lowered budget, OBJECT FREQ/IDLETIME and the LFU settings against
//! redis-server, MEMORY USAGE/STATS/DOCTOR, and the key table finishing its rehash when idle.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{redis_server, shardis, Frame, Raw};

fn ok(f: Frame) {
    assert_eq!(f, Frame::Simple(b"OK".to_vec()));
}

/// Writes `n` keys `prefix:i` with 100-byte values, pipelined 200 at a time (client buffers
/// count as used memory, as in Redis: a huge pipeline would itself pass a small budget).
fn fill(c: &mut Raw, prefix: &str, n: usize, ttl: Option<u64>) {
    for from in (0..n).step_by(200) {
        fill_range(c, prefix, from, (from + 200).min(n), ttl);
    }
}

fn fill_range(c: &mut Raw, prefix: &str, from: usize, to: usize, ttl: Option<u64>) {
    let value = "v".repeat(100);
    let mut batch = Vec::new();
    let n = to - from;
    for i in from..to {
        let k = format!("{prefix}:{i}");
        match ttl {
            Some(t) => {
                batch.extend(common::encode_cmd(&[b"SET", k.as_bytes(), value.as_bytes(), b"EX", (t + i as u64).to_string().as_bytes()]))
            }
            None => batch.extend(common::encode_cmd(&[b"SET", k.as_bytes(), value.as_bytes()])),
        }
    }
    c.send(&batch);
    for _ in 0..n {
        let r = c.read();
        assert!(matches!(r, Frame::Simple(_) | Frame::Error(_)), "{r:?}");
    }
}

fn exists(c: &mut Raw, k: &str) -> bool {
    c.cmds(&["EXISTS", k]) == Frame::Int(1)
}

/// Waits until used_memory is within `max` (eviction runs in slices). INFO counts the memory
/// of its own reply as it is built, so 64 KiB of slack.
fn settles_within(c: &mut Raw, max: u64) -> u64 {
    let start = Instant::now();
    loop {
        let used = c.info_u64("used_memory");
        if used <= max + 65_536 {
            return used;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let keys = c.cmds(&["DBSIZE"]);
            let evicted = c.info_u64("evicted_keys");
            panic!("used_memory {used} stayed over {max} ({keys:?} keys, {evicted} evicted)");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn noeviction_refuses_growing_commands_with_redis_error() {
    let redis = redis_server();
    let ours = shardis(2, &[]);
    let mut replies = Vec::new();
    for srv in [&redis, &ours] {
        let mut c = srv.raw();
        ok(c.cmds(&["SET", "present", "1"]));
        ok(c.cmds(&["CONFIG", "SET", "maxmemory", "1"]));
        let got: Vec<Frame> = [
            vec!["SET", "a", "b"],
            vec!["LPUSH", "l", "x"],
            vec!["INCR", "present"],
            vec!["GET", "present"],
            vec!["DEL", "present"],
            vec!["EXISTS", "present"],
        ]
        .iter()
        .map(|cmd| c.cmds(cmd))
        .collect();
        ok(c.cmds(&["CONFIG", "SET", "maxmemory", "0"]));
        ok(c.cmds(&["SET", "a", "b"]));
        replies.push(got);
    }
    assert_eq!(replies[0][0], Frame::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec()));
    assert_eq!(replies[0], replies[1]);
}

#[test]
fn accounting_returns_to_its_baseline_after_flushall() {
    let ours = shardis(2, &[]);
    let mut c = ours.raw();
    let base = c.info_u64("used_memory");
    assert!(base < 8 << 20, "baseline used_memory {base}");
    fill(&mut c, "k", 50_000, None);
    let full = c.info_u64("used_memory");
    assert!(full > base + 5_000_000, "50,000 keys of 100 bytes took only {} bytes", full - base);
    ok(c.cmds(&["FLUSHALL"]));
    let after = c.info_u64("used_memory");
    assert!(after < base + (1 << 20), "used_memory {after} after FLUSHALL, baseline {base}");
}

#[test]
fn allkeys_policies_hold_the_budget_and_lowering_it_evicts_down() {
    for policy in ["allkeys-lru", "allkeys-random", "allkeys-lfu"] {
        let ours = shardis(2, &[]);
        let mut c = ours.raw();
        let base = c.info_u64("used_memory");
        let budget = base + 4_000_000;
        ok(c.cmds(&["CONFIG", "SET", "maxmemory-policy", policy]));
        ok(c.cmds(&["CONFIG", "SET", "maxmemory", &budget.to_string()]));
        fill(&mut c, "k", 100_000, None);
        settles_within(&mut c, budget);
        assert!(c.info_u64("evicted_keys") > 10_000, "{policy}");
        let keys = match c.cmds(&["DBSIZE"]) {
            Frame::Int(n) => n,
            f => panic!("{f:?}"),
        };
        assert!(keys > 5_000 && keys < 100_000, "{policy}: {keys} keys left");
        // Lowering the budget evicts down to it (table and buffer overhead stays: 3 MB keeps
        // keys in it).
        let lower = base + 3_000_000;
        ok(c.cmds(&["CONFIG", "SET", "maxmemory", &lower.to_string()]));
        settles_within(&mut c, lower);
        match c.cmds(&["DBSIZE"]) {
            Frame::Int(n) => assert!(n > 0 && n < keys, "{policy}: {n} keys after lowering from {keys}"),
            f => panic!("{f:?}"),
        }
    }
}

#[test]
fn volatile_policies_never_touch_persistent_keys() {
    for policy in ["volatile-lru", "volatile-random", "volatile-ttl", "volatile-lfu"] {
        let ours = shardis(2, &[]);
        let mut c = ours.raw();
        ok(c.cmds(&["CONFIG", "SET", "maxmemory-policy", policy]));
        fill(&mut c, "keep", 5_000, None);
        let base = c.info_u64("used_memory");
        let budget = base + 2_000_000;
        ok(c.cmds(&["CONFIG", "SET", "maxmemory", &budget.to_string()]));
        fill(&mut c, "tmp", 40_000, Some(1000));
        settles_within(&mut c, budget);
        for i in (0..5_000).step_by(50) {
            assert!(exists(&mut c, &format!("keep:{i}")), "{policy} evicted a persistent key");
        }
        assert!(c.info_u64("evicted_keys") > 1_000, "{policy}");
        // With only persistent keys left over the budget, growing commands are refused.
        ok(c.cmds(&["CONFIG", "SET", "maxmemory", "1"]));
        let start = Instant::now();
        loop {
            match c.cmds(&["SET", "more", "x"]) {
                Frame::Error(e) => {
                    assert_eq!(e, b"OOM command not allowed when used memory > 'maxmemory'.".to_vec());
                    break;
                }
                _ => assert!(start.elapsed() < Duration::from_secs(5), "{policy}: never refused"),
            }
            thread::sleep(Duration::from_millis(10));
        }
        assert!(exists(&mut c, "keep:0"));
    }
}

#[test]
fn volatile_ttl_takes_the_nearest_deadlines_and_lru_keeps_hot_keys() {
    // volatile-ttl: keys with deadlines 1000 + i seconds; the survivors are the far ones.
    let ours = shardis(2, &[]);
    let mut c = ours.raw();
    ok(c.cmds(&["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]));
    ok(c.cmds(&["CONFIG", "SET", "maxmemory-samples", "64"]));
    let base = c.info_u64("used_memory");
    fill(&mut c, "t", 20_000, Some(1000));
    let full = c.info_u64("used_memory");
    ok(c.cmds(&["CONFIG", "SET", "maxmemory", &(base + (full - base) / 2).to_string()]));
    settles_within(&mut c, base + (full - base) / 2);
    let near = (0..2_000).step_by(20).filter(|i| exists(&mut c, &format!("t:{i}"))).count();
    let far = (18_000..20_000).step_by(20).filter(|i| exists(&mut c, &format!("t:{i}"))).count();
    assert!(near < 20 && far > 80, "volatile-ttl kept {near}/100 near and {far}/100 far deadlines");
}

/// Reads a hot tenth of the keys again and again while cold keys are written once, over a
/// budget that holds about half; returns how many of 200 sampled hot keys survived.
fn hot_keys_survive(shards: usize, policy: &str) -> usize {
    let ours = shardis(shards, &[]);
    let mut c = ours.raw();
    ok(c.cmds(&["CONFIG", "SET", "maxmemory-policy", policy]));
    ok(c.cmds(&["CONFIG", "SET", "maxmemory-samples", "64"]));
    let base = c.info_u64("used_memory");
    fill(&mut c, "hot", 2_000, None);
    ok(c.cmds(&["CONFIG", "SET", "maxmemory", &(base + 3_000_000).to_string()]));
    for round in 0..10 {
        // LRU: the clock ticks every 100 ms, so rounds are apart by more than a tick.
        thread::sleep(Duration::from_millis(110));
        for i in (0..2_000).step_by(10) {
            c.cmds(&["GET", &format!("hot:{i}")]);
        }
        fill(&mut c, &format!("cold{round}"), 5_000, None);
    }
    settles_within(&mut c, base + 3_000_000);
    assert!(c.info_u64("evicted_keys") > 20_000, "{policy} on {shards} shards evicted too little");
    (0..2_000).step_by(10).filter(|i| exists(&mut c, &format!("hot:{i}"))).count()
}

#[test]
fn lru_and_lfu_keep_hot_keys_on_one_and_two_shards() {
    // Two shards share the budget by their evictable keys, so neither gives up its hot keys
    // while the other still holds cold ones.
    for shards in [1, 2] {
        for policy in ["allkeys-lru", "allkeys-lfu"] {
            let hot = hot_keys_survive(shards, policy);
            assert!(hot > 180, "{policy} on {shards} shards kept only {hot}/200 hot keys");
        }
    }
}

#[test]
fn object_freq_idletime_and_lfu_settings_match_redis() {
    let redis = redis_server();
    let ours = shardis(2, &[]);
    let mut replies = Vec::new();
    for srv in [&redis, &ours] {
        let mut c = srv.raw();
        let mut got = Vec::new();
        let mut run = |c: &mut Raw, args: &[&str]| got.push(c.cmds(args));
        run(&mut c, &["SET", "k", "v"]);
        run(&mut c, &["OBJECT", "FREQ", "k"]);
        run(&mut c, &["OBJECT", "IDLETIME", "k"]);
        run(&mut c, &["CONFIG", "SET", "lfu-log-factor", "-1"]);
        run(&mut c, &["CONFIG", "SET", "lfu-decay-time", "x"]);
        run(&mut c, &["CONFIG", "GET", "lfu-log-factor"]);
        run(&mut c, &["CONFIG", "GET", "lfu-decay-time"]);
        // Factor 0: every access counts, so the counter is exact.
        run(&mut c, &["CONFIG", "SET", "lfu-log-factor", "0"]);
        run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
        run(&mut c, &["SET", "f", "v"]);
        run(&mut c, &["OBJECT", "FREQ", "f"]);
        for _ in 0..20 {
            c.cmds(&["GET", "f"]);
        }
        run(&mut c, &["OBJECT", "FREQ", "f"]);
        run(&mut c, &["OBJECT", "FREQ", "missing"]);
        run(&mut c, &["OBJECT", "IDLETIME", "f"]);
        run(&mut c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
        run(&mut c, &["OBJECT", "FREQ", "f"]);
        // Not compared: IDLETIME right after leaving LFU (Redis reads its LFU bits as a clock).
        replies.push(got);
    }
    assert_eq!(replies[1], replies[0]);
    assert!(replies[0].contains(&Frame::Int(25)), "20 hits after the initial 5: {:?}", replies[0]);
}

#[test]
fn memory_usage_stats_and_doctor() {
    let redis = redis_server();
    let ours = shardis(2, &[]);
    // Errors and nil replies as Redis gives them (sizes differ: our entries are smaller).
    let mut replies = Vec::new();
    for srv in [&redis, &ours] {
        let mut c = srv.raw();
        ok(c.cmds(&["SET", "k", "v"]));
        replies.push(vec![
            c.cmds(&["MEMORY", "USAGE", "missing"]),
            c.cmds(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"]),
            c.cmds(&["MEMORY", "USAGE", "k", "SAMPLES"]),
            c.cmds(&["MEMORY", "USAGE", "k", "FOO", "1"]),
            c.cmds(&["MEMORY", "USAGE", "k", "SAMPLES", "x"]),
            c.cmds(&["MEMORY", "USAGE"]),
            c.cmds(&["MEMORY", "NOPE"]),
            c.cmds(&["MEMORY", "DOCTOR"]),
            c.cmds(&["MEMORY", "HELP"]),
        ]);
    }
    assert_eq!(replies[1], replies[0]);

    let mut c = ours.raw();
    let usage = |c: &mut Raw, k: &str, extra: &[&str]| match c.cmds(&[&["MEMORY", "USAGE", k][..], extra].concat()) {
        Frame::Int(n) => n,
        f => panic!("{f:?}"),
    };
    ok(c.cmds(&["SET", "small", "0123456789"]));
    ok(c.cmds(&["SET", "big", &"x".repeat(10_000)]));
    let (small, big) = (usage(&mut c, "small", &[]), usage(&mut c, "big", &[]));
    assert!(small > 0 && small < 200, "{small}");
    assert!(big >= small + 10_000, "{big}");
    for i in 0..1_000 {
        c.cmds(&["RPUSH", "list", &format!("element-{i:04}")]);
        c.cmds(&["HSET", "hash", &format!("field-{i:04}"), "value"]);
        c.cmds(&["ZADD", "zset", &i.to_string(), &format!("member-{i:04}")]);
        c.cmds(&["SADD", "set", &format!("member-{i:04}")]);
    }
    for k in ["list", "hash", "zset", "set"] {
        let (sampled, all) = (usage(&mut c, k, &[]), usage(&mut c, k, &["SAMPLES", "0"]));
        assert!(all > 12_000, "{k}: {all}");
        assert!(sampled * 2 > all && sampled < all * 2, "{k}: sampled {sampled} against {all}");
    }

    // MEMORY STATS adds up over both shards.
    let stats = match c.cmds(&["MEMORY", "STATS"]) {
        Frame::Array(Some(items)) => items,
        f => panic!("{f:?}"),
    };
    let field = |name: &str| {
        let i = stats.iter().position(|f| f.text() == name).unwrap_or_else(|| panic!("no {name} in {stats:?}"));
        stats[i + 1].clone()
    };
    assert_eq!(field("keys.count"), Frame::Int(7));
    assert!(matches!(field("db.0"), Frame::Array(Some(ref m)) if m.len() == 4));
    match (field("total.allocated"), field("startup.allocated")) {
        (Frame::Int(total), Frame::Int(startup)) => assert!(startup > 0 && startup < total, "{startup} {total}"),
        f => panic!("{f:?}"),
    }
}

/// MEMORY STATS `overhead.hashtable.main` of database 0: buckets plus entry nodes.
fn table_bytes(c: &mut Raw) -> i64 {
    let stats = match c.cmds(&["MEMORY", "STATS"]) {
        Frame::Array(Some(items)) => items,
        f => panic!("{f:?}"),
    };
    let i = stats.iter().position(|f| f.text() == "db.0").expect("db.0 in MEMORY STATS");
    match &stats[i + 1] {
        Frame::Array(Some(m)) => match m[1] {
            Frame::Int(n) => n,
            ref f => panic!("{f:?}"),
        },
        f => panic!("{f:?}"),
    }
}

#[test]
fn an_idle_shard_finishes_its_table_rehash() {
    // 70,000 keys: the table doubled to 131,072 buckets at 65,537 and still moves the old
    // 65,536 a few per insert; with no more inserts, idle time finishes the move, leaving
    // only the new bucket array beside the 96-byte entries.
    let ours = shardis(1, &[]);
    let mut c = ours.raw();
    fill(&mut c, "k", 70_000, None);
    let done = 131_072 * 8 + 70_000 * 96;
    let start = Instant::now();
    loop {
        let t = table_bytes(&mut c);
        if t == done {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "table still rehashing after 5 s: {t} bytes, {done} when done");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn evictions_raise_keyspace_events_and_idle_time_is_counted() {
    let ours = shardis(2, &[]);
    let mut sub = ours.raw();
    let mut c = ours.raw();
    ok(c.cmds(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]));
    sub.send_cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    assert!(matches!(sub.read(), Frame::Array(Some(_))));
    ok(c.cmds(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]));
    let base = c.info_u64("used_memory");
    ok(c.cmds(&["CONFIG", "SET", "maxmemory", &(base + 1_000_000).to_string()]));
    fill(&mut c, "k", 20_000, None);
    settles_within(&mut c, base + 1_000_000);
    // No budget, no more evictions: every event is in flight or delivered.
    ok(c.cmds(&["CONFIG", "SET", "maxmemory", "0"]));
    let evicted = c.info_u64("evicted_keys");
    assert!(evicted > 5_000, "{evicted}");
    // One event per evicted key, naming a key that is gone.
    let mut events = 0;
    for f in sub.read_until_quiet(evicted as usize, Duration::from_millis(300)) {
        let Frame::Array(Some(parts)) = f else { panic!("{f:?}") };
        assert_eq!(parts[1].text(), "__keyevent@0__:evicted");
        if events % 500 == 0 {
            assert!(!exists(&mut c, &parts[2].text()), "evicted {} still exists", parts[2].text());
        }
        events += 1;
    }
    assert_eq!(events, evicted);

    // OBJECT IDLETIME counts seconds since the last access; a read resets it.
    ok(c.cmds(&["SET", "idle", "v"]));
    thread::sleep(Duration::from_millis(2_100));
    let idle = c.cmds(&["OBJECT", "IDLETIME", "idle"]);
    assert!(matches!(idle, Frame::Int(2 | 3)), "{idle:?}");
    c.cmds(&["GET", "idle"]);
    assert_eq!(c.cmds(&["OBJECT", "IDLETIME", "idle"]), Frame::Int(0));
}
