//! Transactions and atomic multi-key commands over TCP, with 1, 2 and 4 shards: WATCH
//! aborts, and a bounded stress test whose invariants only hold if no client ever sees half
//! a transaction or half a multi-key write.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use redis::Commands;

fn client(s: &common::Server) -> redis::Connection {
    let c = s.client();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

/// EXEC's reply after `WATCH key`, `change` from another client, and `MULTI; SET key x`.
fn exec_after(s: &common::Server, key: &str, change: &[&str]) -> Option<Vec<String>> {
    let (mut a, mut b) = (client(s), client(s));
    let _: () = redis::cmd("WATCH").arg(key).query(&mut a).unwrap();
    let _: redis::Value = redis::cmd(change[0]).arg(&change[1..]).query(&mut b).unwrap();
    redis::pipe().atomic().set(key, "x").query(&mut a).unwrap()
}

#[test]
fn watch_aborts_exec_when_another_client_changes_the_key() {
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut c = client(&s);
        let _: () = c.set("k", "1").unwrap();
        let _: () = c.set("other", "1").unwrap();
        assert_eq!(exec_after(&s, "k", &["SET", "k", "2"]), None, "SET, {shards} shards");
        assert_eq!(exec_after(&s, "k", &["SET", "other", "2"]), Some(vec!["OK".into()]), "another key");
        assert_eq!(exec_after(&s, "k", &["RENAME", "other", "k"]), None, "RENAME onto it");
        assert_eq!(exec_after(&s, "k", &["FLUSHDB"]), None, "FLUSHDB");
        assert_eq!(exec_after(&s, "k", &["DEL", "nosuch"]), Some(vec!["OK".into()]), "a no-op");
        let _: () = c.set("k", "1").unwrap();
        assert_eq!(exec_after(&s, "k", &["SWAPDB", "0", "1"]), None, "SWAPDB");
        let _: () = c.set_ex("k", "1", 1).unwrap();
        let mut w = client(&s);
        let _: () = redis::cmd("WATCH").arg("k").query(&mut w).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let r: Option<Vec<String>> = redis::pipe().atomic().set("k", "x").query(&mut w).unwrap();
        assert_eq!(r, None, "expiry after WATCH aborts, {shards} shards");
    }
}

#[test]
fn a_transaction_spanning_shards_runs_in_order() {
    for shards in [1, 2, 4] {
        let s = common::shardis(shards, &[]);
        let mut c = client(&s);
        let keys: Vec<String> = (0..8).map(|i| format!("t:{i}")).collect();
        let mut p = redis::pipe();
        p.atomic();
        for k in &keys {
            p.set(k, 1).incr(k, 1);
        }
        p.mget(&keys).rename(&keys[0], "moved").exists(&keys);
        let (_, mget, exists): ((), Vec<i64>, i64) = {
            let v: Vec<redis::Value> = p.query(&mut c).unwrap();
            let n = v.len();
            ((), redis::from_redis_value(&v[n - 3]).unwrap(), redis::from_redis_value(&v[n - 1]).unwrap())
        };
        assert_eq!(mget, vec![2; 8], "{shards} shards");
        assert_eq!(exists, 7);
    }
}

const ACCOUNTS: usize = 12;
const START: i64 = 1000;

fn accounts() -> Vec<String> {
    (0..ACCOUNTS).map(|i| format!("acct:{i}")).collect()
}

/// Many clients move amounts between counters on different shards, with MULTI/EXEC and with
/// WATCH-based optimistic retries, while others read every counter with MGET and inside
/// transactions, and a pair of keys is rewritten with MSET and read with MGET. Every read
/// sees the total intact and the pair equal, and the transfer count adds up.
#[test]
fn transfers_keep_the_total_on_every_read() {
    for shards in [2, 4] {
        let s = Arc::new(common::shardis(shards, &[]));
        let mut c = client(&s);
        let accts = accounts();
        let init: Vec<(String, i64)> = accts.iter().map(|a| (a.clone(), START)).collect();
        let _: () = c.mset(&init).unwrap();
        let _: () = c.mset(&[("pair:a", 0), ("pair:b", 0)]).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let retries = Arc::new(AtomicU64::new(0));
        let reads = Arc::new(AtomicU64::new(0));
        let mut writers = Vec::new();
        for w in 0..8u64 {
            let (s, committed, retries) = (s.clone(), committed.clone(), retries.clone());
            writers.push(std::thread::spawn(move || {
                let mut c = client(&s);
                let mut rng = fastrand::Rng::with_seed(w);
                let accts = accounts();
                for _ in 0..150 {
                    let (a, b) = (rng.usize(..ACCOUNTS), rng.usize(..ACCOUNTS));
                    let amount = rng.i64(1..20);
                    if w % 2 == 0 {
                        let r: Option<(i64, i64, i64)> = redis::pipe()
                            .atomic()
                            .decr(&accts[a], amount)
                            .incr(&accts[b], amount)
                            .incr("transfers", 1)
                            .query(&mut c)
                            .unwrap();
                        assert!(r.is_some(), "no WATCH, so EXEC never aborts");
                        committed.fetch_add(1, Relaxed);
                        continue;
                    }
                    loop {
                        let _: () = redis::cmd("WATCH").arg(&accts[a]).arg(&accts[b]).query(&mut c).unwrap();
                        let va: i64 = c.get(&accts[a]).unwrap();
                        let vb: i64 = c.get(&accts[b]).unwrap();
                        let (na, nb) = if a == b { (va, vb) } else { (va - amount, vb + amount) };
                        let r: Option<((), (), i64)> =
                            redis::pipe().atomic().set(&accts[a], na).set(&accts[b], nb).incr("transfers", 1).query(&mut c).unwrap();
                        if r.is_some() {
                            committed.fetch_add(1, Relaxed);
                            break;
                        }
                        retries.fetch_add(1, Relaxed);
                    }
                }
            }));
        }
        let pair_writer = {
            let (s, done) = (s.clone(), done.clone());
            std::thread::spawn(move || {
                let mut c = client(&s);
                let mut n = 0i64;
                while !done.load(Relaxed) {
                    n += 1;
                    let _: () = c.mset(&[("pair:a", n), ("pair:b", n)]).unwrap();
                }
            })
        };
        let mut readers = Vec::new();
        for r in 0..4 {
            let (s, done, reads) = (s.clone(), done.clone(), reads.clone());
            readers.push(std::thread::spawn(move || {
                let mut c = client(&s);
                let accts = accounts();
                while !done.load(Relaxed) {
                    let vals: Vec<i64> = if r % 2 == 0 {
                        c.mget(&accts).unwrap()
                    } else {
                        let mut p = redis::pipe();
                        p.atomic();
                        for a in &accts {
                            p.get(a);
                        }
                        p.query(&mut c).unwrap()
                    };
                    assert_eq!(vals.iter().sum::<i64>(), START * ACCOUNTS as i64, "a read saw half a transfer: {vals:?}");
                    let pair: (i64, i64) = redis::cmd("MGET").arg("pair:a").arg("pair:b").query(&mut c).unwrap();
                    assert_eq!(pair.0, pair.1, "a read saw half an MSET");
                    reads.fetch_add(1, Relaxed);
                }
            }));
        }
        for w in writers {
            w.join().expect("writer");
        }
        done.store(true, Relaxed);
        pair_writer.join().expect("pair writer");
        for r in readers {
            r.join().expect("reader");
        }
        let vals: Vec<i64> = c.mget(&accts).unwrap();
        assert_eq!(vals.iter().sum::<i64>(), START * ACCOUNTS as i64);
        let transfers: u64 = c.get("transfers").unwrap();
        assert_eq!(transfers, committed.load(Relaxed), "{shards} shards");
        assert_eq!(transfers, 8 * 150);
        assert!(reads.load(Relaxed) > 0);
        eprintln!("{shards} shards: {transfers} transfers, {} WATCH retries, {} checked reads", retries.load(Relaxed), reads.load(Relaxed));
    }
}

/// While an owner holds a key on a shard, commands on that key wait (from a connection on
/// either shard) and commands on other keys of the same shard keep flowing; the release lets
/// the waiting ones run, in order.
#[test]
fn a_held_key_makes_its_commands_wait_and_others_flow() {
    use shardis::shard::locks::Want;
    use shardis::shard::{route::key_shard, Msg};
    let cfg = shardis::config::Config::default();
    cfg.set("threads", "2", true).unwrap();
    let engine = Arc::new(shardis::Engine::start(cfg).unwrap());
    let shared = engine.shared();
    let held = bytes::Bytes::from_static(b"held");
    let shard = key_shard(&held, 2);
    let other = (0..).map(|i| format!("other:{i}")).find(|k| key_shard(k.as_bytes(), 2) == shard).unwrap();
    let owner = 1 << 60;
    let (granted, rx) = futures::channel::oneshot::channel();
    shared.mailboxes[shard].push(Msg::Lock { owner, want: Want::Keys(vec![held.clone()]), granted });
    futures::executor::block_on(rx).expect("granted");
    // In-process connections are opened round-robin over the shards: the waiting APPENDs
    // come from sessions on both.
    let waiting: Vec<_> = (0..4)
        .map(|i| {
            let e = engine.clone();
            std::thread::spawn(move || e.client().conn().call::<shardis::protocol::Reply>(["APPEND", "held", &i.to_string()]).unwrap())
        })
        .collect();
    for _ in 0..4 {
        assert_eq!(
            engine.client().call_reply(["SET", other.as_str(), "1"]),
            shardis::protocol::Reply::OK,
            "another key of the shard flows"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiting.iter().all(|t| !t.is_finished()), "a command on the held key ran before the release");
    shared.mailboxes[shard].push(Msg::Unlock(owner));
    for t in waiting {
        assert!(matches!(t.join().unwrap(), shardis::protocol::Reply::Int(_)));
    }
    assert_eq!(engine.client().call_reply(["STRLEN", "held"]), shardis::protocol::Reply::Int(4));
    Arc::into_inner(engine).expect("threads joined").stop();
}

#[test]
fn client_list_shows_an_open_transaction() {
    let s = common::shardis(2, &[]);
    let (mut a, mut b) = (client(&s), client(&s));
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("txn").query(&mut a).unwrap();
    let line = |b: &mut redis::Connection| -> String {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(b).unwrap();
        list.lines().find(|l| l.contains("name=txn")).unwrap().to_string()
    };
    assert!(line(&mut b).contains("flags=N") && line(&mut b).contains(" multi=-1 "));
    let _: () = redis::cmd("MULTI").query(&mut a).unwrap();
    let _: String = redis::cmd("SET").arg("k").arg("v").query(&mut a).unwrap();
    let _: String = redis::cmd("GET").arg("k").query(&mut a).unwrap();
    let l = line(&mut b);
    assert!(l.contains("flags=x") && l.contains(" multi=2 "), "{l}");
    let _: redis::Value = redis::cmd("EXEC").query(&mut a).unwrap();
    assert!(line(&mut b).contains(" multi=-1 "));
}
