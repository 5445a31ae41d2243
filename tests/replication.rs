//! Replication against Debian's redis-server 7.0, both ways, on 2 and 4 shards: a shardis
//! replica of a redis-server master and a redis-server replica of a shardis master end with
//! the master's data under a write load of every type, expiry, scripts and MULTI/EXEC
//! (started before the replica, so the full sync happens under writes); a cut link resumes
//! with +CONTINUE; a promoted replica keeps serving and another replica continues from it
//! partially; WAIT returns once the replica acknowledged.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{image_of, redis_server, shardis, Server};
use redis::Commands;

/// The databases the load writes to and the images compare.
const DBS: &[usize] = &[0, 1, 2, 5];

/// `field` of INFO `section`.
fn info(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}: {text}"))
        .trim()
        .to_string()
}

fn info_i64(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    info(c, section, field).parse().unwrap()
}

/// Waits until `replica`'s link is up and it applied everything `master` produced.
fn wait_caught_up(master: &Server, replica: &Server) {
    let (mut m, mut r) = (master.client(), replica.client());
    let t = Instant::now();
    loop {
        let up = info(&mut r, "replication", "master_link_status") == "up";
        let (mo, ro) = (info_i64(&mut m, "replication", "master_repl_offset"), info_i64(&mut r, "replication", "master_repl_offset"));
        if up && mo == ro {
            // Still equal a moment later: nothing was in flight.
            std::thread::sleep(Duration::from_millis(200));
            if info_i64(&mut m, "replication", "master_repl_offset") == info_i64(&mut r, "replication", "master_repl_offset") {
                return;
            }
        }
        assert!(t.elapsed() < Duration::from_secs(30), "replica did not catch up: master at {mo}, replica at {ro}, link up: {up}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The longest time to live the load gives (PX, PEXPIRE), with a margin.
const SHORT_TTLS: Duration = Duration::from_millis(600);

/// After a load: lets its short-lived keys expire (a master and its replica read a moment
/// apart would disagree on them), then waits for the replica to catch up.
fn settle(master: &Server, replica: &Server) {
    std::thread::sleep(SHORT_TTLS);
    wait_caught_up(master, replica);
}

fn wait_link_up(replica: &Server) {
    let mut r = replica.client();
    let t = Instant::now();
    while info(&mut r, "replication", "master_link_status") != "up" {
        assert!(t.elapsed() < Duration::from_secs(30), "the replica's link did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One random write of the load (a seeded generator: every run writes the same kinds).
fn one_write(c: &mut redis::Connection, rng: &mut fastrand::Rng) {
    let k = rng.u32(0..60);
    let v = format!("v{}", rng.u32(..1_000_000));
    let db = DBS[rng.usize(..DBS.len())];
    let cmd = |name: &str, args: &[String]| {
        let mut c0 = redis::cmd(name);
        for a in args {
            c0.arg(a);
        }
        c0
    };
    let s = |x: &str| x.to_string();
    let write = match rng.u32(0..24) {
        0 => cmd("SET", &[format!("s:{k}"), v.clone()]),
        1 => cmd("SET", &[format!("s:{k}"), v.clone(), s("EX"), rng.u32(1000..5000).to_string()]),
        2 => cmd("SET", &[format!("t:{k}"), v.clone(), s("PX"), rng.u32(20..400).to_string()]),
        3 => cmd("INCRBY", &[format!("n:{k}"), rng.i32(-50..50).to_string()]),
        4 => cmd("APPEND", &[format!("s:{k}"), v.clone()]),
        5 => cmd("DEL", &[format!("s:{k}"), format!("l:{k}")]),
        6 => cmd("EXPIRE", &[format!("h:{k}"), rng.u32(1000..5000).to_string()]),
        7 => cmd("PERSIST", &[format!("h:{k}")]),
        8 => cmd("RPUSH", &[format!("l:{k}"), v.clone(), s("x")]),
        9 => cmd("LPOP", &[format!("l:{k}")]),
        10 => cmd("LMOVE", &[format!("l:{k}"), format!("l:{}", rng.u32(0..60)), s("LEFT"), s("RIGHT")]),
        11 => cmd("SADD", &[format!("S:{k}"), v.clone(), rng.u32(0..20).to_string()]),
        12 => cmd("SPOP", &[format!("S:{k}")]),
        13 => cmd("HSET", &[format!("h:{k}"), format!("f{}", rng.u32(0..30)), v.clone()]),
        14 => cmd("HINCRBY", &[format!("h:{k}"), s("n"), s("3")]),
        15 => cmd("ZADD", &[format!("z:{k}"), rng.i32(-100..100).to_string(), v.clone()]),
        16 => cmd("ZPOPMIN", &[format!("z:{k}")]),
        17 => cmd("ZINCRBY", &[format!("z:{k}"), s("1.5"), format!("m{}", rng.u32(0..10))]),
        18 => cmd("SUNIONSTORE", &[format!("S:{k}"), format!("S:{}", rng.u32(0..60)), format!("S:{}", rng.u32(0..60))]),
        19 => cmd("RENAME", &[format!("s:{k}"), format!("s:{}", rng.u32(0..60))]),
        20 => cmd(
            "EVAL",
            &[
                s("redis.call('incr', KEYS[1]); return redis.call('rpush', KEYS[2], ARGV[1])"),
                s("2"),
                format!("{{e}}:{k}"),
                format!("{{e}}:l{k}"),
                v.clone(),
            ],
        ),
        21 => cmd("MSET", &[format!("s:{k}"), v.clone(), format!("s:{}", rng.u32(0..60)), v.clone()]),
        22 => cmd("PEXPIRE", &[format!("S:{k}"), rng.u32(30..300).to_string()]),
        _ => {
            // A transaction over several keys (and shards).
            let mut p = redis::pipe();
            p.atomic()
                .cmd("INCR")
                .arg(format!("n:{k}"))
                .cmd("RPUSH")
                .arg(format!("l:{k}"))
                .arg(&v)
                .cmd("HSET")
                .arg(format!("h:{}", rng.u32(0..60)))
                .arg("tx")
                .arg(&v)
                .cmd("DECR")
                .arg(format!("n:{}", rng.u32(0..60)));
            let _: redis::RedisResult<redis::Value> = redis::cmd("SELECT").arg(db).query(c);
            let _: redis::RedisResult<redis::Value> = p.query(c);
            return;
        }
    };
    let _: redis::RedisResult<redis::Value> = redis::cmd("SELECT").arg(db).query(c);
    let _: redis::RedisResult<redis::Value> = write.query(c);
}

/// Writes to `port` from a thread until `stop`; returns how many writes it made.
fn start_load(port: u16, seed: u64, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            one_write(&mut c, &mut rng);
            n += 1;
        }
        n
    })
}

/// Loads `master` with data and a write load, attaches `replica` during it, lets it run,
/// then checks the replica holds what the master holds.
fn replicate_under_load(master: &Server, replica: &Server, seed: u64) {
    let mut m = master.client();
    let _: () = redis::cmd("FLUSHALL").query(&mut m).unwrap();
    common::fill_every_type(&mut m);
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = (0..3).map(|i| start_load(master.port, seed + i, stop.clone())).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut r = replica.client();
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master.port).query(&mut r).unwrap();
    wait_link_up(replica);
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::Relaxed);
    let writes: u64 = loads.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(writes > 100, "the load made only {writes} writes");
    settle(master, replica);
    let (a, b) = (image_of(&mut m, DBS), image_of(&mut r, DBS));
    assert!(a.len() > 20, "too few keys to compare: {}", a.len());
    assert_same(&a, &b);
}

/// Fails naming the first keys whose images differ (values cut short).
fn assert_same(a: &std::collections::BTreeMap<String, String>, b: &std::collections::BTreeMap<String, String>) {
    let cut = |v: Option<&String>| v.map(|v| if v.len() > 120 { format!("{}...{}", &v[..60], &v[v.len() - 40..]) } else { v.clone() });
    // TTLs are in minutes, rounded: read a moment apart they may differ by one.
    let same =
        |x: Option<&String>, y: Option<&String>| match (x.and_then(|x| x.rsplit_once(" ttl=")), y.and_then(|y| y.rsplit_once(" ttl="))) {
            (Some((vx, tx)), Some((vy, ty))) => {
                let (tx, ty): (i64, i64) = (tx.parse().unwrap(), ty.parse().unwrap());
                vx == vy && (tx == ty || (tx >= 0 && ty >= 0 && (tx - ty).abs() <= 1))
            }
            _ => x == y,
        };
    let diff: Vec<_> = a
        .keys()
        .chain(b.keys())
        .filter(|k| !same(a.get(*k), b.get(*k)))
        .take(5)
        .map(|k| match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => {
                let at = x.bytes().zip(y.bytes()).position(|(p, q)| p != q).unwrap_or(x.len().min(y.len()));
                let from = at.saturating_sub(30);
                format!("{k}: from byte {at}: master {:?} replica {:?}", &x[from..(at + 40).min(x.len())], &y[from..(at + 40).min(y.len())])
            }
            _ => format!("{k}: master {:?} replica {:?}", cut(a.get(k)), cut(b.get(k))),
        })
        .collect();
    assert!(diff.is_empty(), "replica differs from master ({} vs {} keys), first differences:\n{}", a.len(), b.len(), diff.join("\n"));
}

#[test]
fn shardis_replica_of_a_redis_master_under_load() {
    for shards in [2, 4] {
        let master = redis_server();
        let replica = shardis(shards, &[]);
        replicate_under_load(&master, &replica, 10 + shards as u64);
        let mut r = replica.client();
        let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut r).unwrap();
        assert_eq!(role[0], redis::Value::BulkString(b"slave".to_vec()));
        assert_eq!(role[3], redis::Value::BulkString(b"connected".to_vec()));
        // A replica refuses writes from clients.
        let e = r.set::<_, _, ()>("k", "v").unwrap_err();
        assert_eq!(e.code(), Some("READONLY"), "{e}");
        // And WAIT.
        let e = redis::cmd("WAIT").arg(1).arg(0).query::<i64>(&mut r).unwrap_err();
        assert!(e.to_string().contains("WAIT cannot be used with replica instances"), "{e}");
    }
}

#[test]
fn redis_replica_of_a_shardis_master_under_load() {
    for shards in [2, 4] {
        let master = shardis(shards, &["--save", ""]);
        let replica = redis_server();
        replicate_under_load(&master, &replica, 20 + shards as u64);
        let mut m = master.client();
        assert_eq!(info(&mut m, "replication", "connected_slaves"), "1");
        let line = info(&mut m, "replication", "slave0");
        assert!(line.contains(&format!("port={}", replica.port)) && line.contains("state=online"), "{line}");
        assert_eq!(info_i64(&mut m, "stats", "sync_full"), 1);
    }
}

/// Cuts the link between `master` and `replica` mid-stream with CLIENT KILL on `killer`;
/// the replica continues with +CONTINUE: the master counts a partial resync, no new full one.
fn cut_and_resume(master: &Server, replica: &Server, killer: &Server, kill: &[&str], seed: u64) {
    let mut m = master.client();
    let mut r = replica.client();
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master.port).query(&mut r).unwrap();
    wait_link_up(replica);
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(master.port, seed, stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let full = info_i64(&mut m, "stats", "sync_full");
    let partial = info_i64(&mut m, "stats", "sync_partial_ok");
    let mut k = killer.client();
    let killed: i64 = redis::cmd("CLIENT").arg("KILL").arg(kill).query(&mut k).unwrap();
    assert_eq!(killed, 1);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    std::thread::sleep(SHORT_TTLS);
    let t = Instant::now();
    while info_i64(&mut m, "stats", "sync_partial_ok") == partial {
        assert!(t.elapsed() < Duration::from_secs(20), "no partial resync after the cut");
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_caught_up(master, replica);
    assert_eq!(info_i64(&mut m, "stats", "sync_full"), full, "the cut link resynced fully");
    assert_same(&image_of(&mut m, DBS), &image_of(&mut r, DBS));
}

#[test]
fn a_cut_link_resumes_with_continue() {
    for shards in [2, 4] {
        // shardis replica: the redis master kills its replica client.
        let master = redis_server();
        let replica = shardis(shards, &[]);
        cut_and_resume(&master, &replica, &master, &["TYPE", "replica"], 30 + shards as u64);
        // shardis master: the redis replica kills its master client.
        let master = shardis(shards, &["--save", ""]);
        let replica = redis_server();
        cut_and_resume(&master, &replica, &replica, &["TYPE", "master"], 40 + shards as u64);
    }
}

/// `a` and `b` replicate `m`; `a` is promoted and `b` follows it: `a` accepts `b`'s PSYNC
/// partially (its `master_replid2` is `m`'s id), and writes to `a` reach `b`.
fn promote_and_follow(m: &Server, a: &Server, b: &Server) {
    let mut mc = m.client();
    common::fill_every_type(&mut mc);
    for r in [a, b] {
        let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(m.port).query(&mut r.client()).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(m.port, 77, stop.clone());
    wait_link_up(a);
    wait_link_up(b);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    settle(m, a);
    wait_caught_up(m, b);
    let mut ac = a.client();
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut ac).unwrap();
    assert_eq!(info(&mut ac, "replication", "role"), "master");
    assert_eq!(info(&mut ac, "replication", "master_replid2"), info(&mut mc, "replication", "master_replid"));
    let _: () = ac.set("after-promotion", "yes").unwrap();
    let full = info_i64(&mut ac, "stats", "sync_full");
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(a.port).query(&mut b.client()).unwrap();
    wait_caught_up(a, b);
    assert_eq!(info_i64(&mut ac, "stats", "sync_partial_ok"), 1, "the promoted replica did not accept a partial resync");
    assert_eq!(info_i64(&mut ac, "stats", "sync_full"), full);
    let mut bc = b.client();
    assert_eq!(bc.get::<_, Option<String>>("after-promotion").unwrap().as_deref(), Some("yes"));
    assert_same(&image_of(&mut ac, DBS), &image_of(&mut bc, DBS));
}

#[test]
fn a_promoted_replica_serves_and_another_resyncs_from_it_partially() {
    for shards in [2, 4] {
        // shardis promoted, a redis replica follows it.
        let (m, a, b) = (redis_server(), shardis(shards, &[]), redis_server());
        promote_and_follow(&m, &a, &b);
        // redis promoted, a shardis replica follows it.
        let (m, a, b) = (redis_server(), redis_server(), shardis(shards, &[]));
        promote_and_follow(&m, &a, &b);
    }
}

#[test]
fn wait_returns_once_the_replica_acknowledged() {
    for shards in [2, 4] {
        let master = shardis(shards, &["--save", ""]);
        let replica = redis_server();
        let mut m = master.client();
        // No replica: WAIT 0 answers at once, WAIT 1 after its timeout with 0.
        assert_eq!(redis::cmd("WAIT").arg(0).arg(0).query::<i64>(&mut m).unwrap(), 0);
        assert_eq!(redis::cmd("WAIT").arg(1).arg(100).query::<i64>(&mut m).unwrap(), 0);
        let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master.port).query(&mut replica.client()).unwrap();
        wait_link_up(&replica);
        for i in 0..20 {
            // Writes on every shard, then WAIT: the replica has them once it answered.
            let _: () = redis::cmd("MSET")
                .arg(format!("a{i}"))
                .arg(i)
                .arg(format!("b{i}"))
                .arg(i)
                .arg(format!("c{i}"))
                .arg(i)
                .query(&mut m)
                .unwrap();
            let acked: i64 = redis::cmd("WAIT").arg(1).arg(0).query(&mut m).unwrap();
            assert_eq!(acked, 1);
            let mut r = replica.client();
            let got: Vec<Option<i64>> = r.mget(&[format!("a{i}"), format!("b{i}"), format!("c{i}")]).unwrap();
            assert_eq!(got, vec![Some(i); 3]);
        }
        // Asking for more replicas than there are waits for the timeout, then counts.
        let t = Instant::now();
        assert_eq!(redis::cmd("WAIT").arg(2).arg(200).query::<i64>(&mut m).unwrap(), 1);
        assert!(t.elapsed() >= Duration::from_millis(200));
    }
}
