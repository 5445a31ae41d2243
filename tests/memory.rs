//! maxmemory over TCP: accounting (INFO used_memory back to its baseline after FLUSHALL),
//! noeviction's OOM reply (checked against redis-server), each eviction policy taking the
//! keys it should, and CONFIG SET maxmemory evicting down to a lowered budget.

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

    // allkeys-lru: a hot tenth of the keys, read again and again while cold keys are
    // written, survives. One shard: each shard evicts its own oldest keys, so with several
    // shards the one that evicts more gives up hotter keys (eviction quality is the next
    // step of issue 7).
    let ours = shardis(1, &[]);
    let mut c = ours.raw();
    ok(c.cmds(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]));
    ok(c.cmds(&["CONFIG", "SET", "maxmemory-samples", "64"]));
    let base = c.info_u64("used_memory");
    fill(&mut c, "hot", 2_000, None);
    ok(c.cmds(&["CONFIG", "SET", "maxmemory", &(base + 3_000_000).to_string()]));
    for round in 0..10 {
        thread::sleep(Duration::from_millis(1100 / 10));
        for i in (0..2_000).step_by(10) {
            c.cmds(&["GET", &format!("hot:{i}")]);
        }
        fill(&mut c, &format!("cold{round}"), 5_000, None);
    }
    settles_within(&mut c, base + 3_000_000);
    let hot: Vec<usize> = (0..2_000).step_by(10).filter(|i| exists(&mut c, &format!("hot:{i}"))).collect();
    let cold = (0..5_000).step_by(25).filter(|i| exists(&mut c, &format!("cold0:{i}"))).count();
    assert!(hot.len() > 180, "allkeys-lru kept only {}/200 hot keys ({cold}/200 of the oldest cold ones): {hot:?}", hot.len());
}
