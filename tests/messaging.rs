//! Pub/sub, keyspace notifications and blocking commands over TCP: replies checked against
//! Debian's redis-server where they are deterministic, and the broker/queue behaviour
//! (fan-out order, exactly-once work queues, FIFO wake-ups, clean-up) checked on shardis
//! with 1, 2 and 4 shards.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::thread;
use std::time::{Duration, Instant};

use common::{redis_server, shardis, Frame, Raw, Server};

fn bulk(f: &Frame) -> String {
    f.text()
}

fn items(f: Frame) -> Vec<Frame> {
    match f {
        Frame::Array(Some(v)) => v,
        Frame::Other(_, _, v) => v,
        other => panic!("not an array: {other:?}"),
    }
}

/// Runs the same conversation on both servers (each command's replies read until quiet) and
/// compares the raw frames.
fn same_conversation(redis: &Server, ours: &Server, script: &[&[&str]]) {
    let (mut a, mut b) = (redis.raw(), ours.raw());
    for cmd in script {
        a.send_cmd(cmd);
        b.send_cmd(cmd);
        // Every command here gets at least one reply; shardis is given as long as it needs to
        // send as many frames as redis sent.
        let got_a = a.read_until_quiet(1, Duration::from_millis(150));
        let got_b = b.read_until_quiet(got_a.len(), Duration::from_millis(150));
        if cmd[0] == "HELLO" {
            // The client id differs.
            assert_eq!(got_a.len(), got_b.len());
            continue;
        }
        assert_eq!(got_a, got_b, "replies to {cmd:?} differ from redis");
    }
}

#[test]
fn pubsub_and_blocking_replies_match_redis() {
    let redis = redis_server();
    let ours = shardis(2, &[]);
    // RESP2 subscribed mode: the allowed commands, the error for the rest, PING's shape, the
    // counts and the null name when there is nothing to leave.
    same_conversation(
        &redis,
        &ours,
        &[
            &["SUBSCRIBE", "a"],
            &["SUBSCRIBE", "b", "b"],
            &["PSUBSCRIBE", "x*"],
            &["SSUBSCRIBE", "s"],
            &["GET", "k"],
            &["PUBSUB", "NUMSUB", "a"],
            &["PING"],
            &["PING", "hi"],
            &["UNSUBSCRIBE", "b"],
            &["UNSUBSCRIBE"],
            &["PUNSUBSCRIBE"],
            &["SUNSUBSCRIBE", "s", "t"],
            &["UNSUBSCRIBE"],
            &["PUNSUBSCRIBE", "x"],
            &["GET", "k"],
            &["SUBSCRIBE"],
            &["PUBLISH", "a"],
            &["PUBSUB", "FOO"],
            &["PUBSUB", "NUMPAT"],
            &["PUBSUB", "NUMSUB", "a", "zz"],
            &["PUBSUB", "SHARDNUMSUB", "s"],
            &["PUBSUB", "CHANNELS", "nomatch*"],
            &["RESET"],
        ],
    );
    // RESP3: pushes, and ordinary commands allowed while subscribed.
    same_conversation(
        &redis,
        &ours,
        &[&["HELLO", "3", "SETNAME", "x"], &["SUBSCRIBE", "a"], &["GET", "k"], &["PING"], &["UNSUBSCRIBE", "a"], &["UNSUBSCRIBE"]],
    );
    // Blocking commands: argument errors, timeouts (float seconds), inside MULTI, CLIENT
    // UNBLOCK's errors.
    same_conversation(
        &redis,
        &ours,
        &[
            &["DEL", "a", "b", "z"],
            &["BLPOP", "a", "x"],
            &["BLPOP", "a", "-1"],
            &["BLPOP", "a", "nan"],
            &["BLPOP", "a", "inf"],
            &["BLPOP", "a", "0.05"],
            &["BRPOP", "a", "b", "0.01"],
            &["BLMOVE", "a", "b", "LEFT", "UP", "0.01"],
            &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0.01"],
            &["BRPOPLPUSH", "a", "b", "0.01"],
            &["BZPOPMIN", "z", "0.01"],
            &["BZPOPMAX", "z", "a", "0.01"],
            &["BLMPOP", "0.01", "0", "a", "LEFT"],
            &["BLMPOP", "0.01", "1", "a", "UP"],
            &["BLMPOP", "0.01", "1", "a", "LEFT", "COUNT", "0"],
            &["BLMPOP", "0.01", "2", "a", "b", "RIGHT"],
            &["BZMPOP", "0.01", "1", "z", "MIN"],
            &["SET", "str", "v"],
            &["BLPOP", "str", "0"],
            &["BZPOPMIN", "str", "0"],
            &["RPUSH", "a", "1", "2", "3"],
            &["BLPOP", "nothing", "a", "0"],
            &["BRPOP", "a", "0"],
            &["BLMPOP", "0", "2", "nothing", "a", "LEFT", "COUNT", "5"],
            &["ZADD", "z", "1", "m", "2", "n"],
            &["BZPOPMAX", "z", "0"],
            &["BZMPOP", "0", "1", "z", "MIN", "COUNT", "3"],
            &["MULTI"],
            &["BLPOP", "a", "0"],
            &["BLMOVE", "a", "b", "LEFT", "LEFT", "0"],
            &["BZPOPMIN", "z", "0"],
            &["EXEC"],
            &["CLIENT", "UNBLOCK", "99999"],
            &["CLIENT", "UNBLOCK", "99999", "FOO"],
            &["CLIENT", "UNBLOCK", "x"],
            &["DEL", "str"],
        ],
    );
}

/// Keyspace events of a script on both servers, grouped by key (events of one key keep
/// their order; events of keys on different shards may interleave differently).
#[test]
fn keyspace_events_of_every_class_match_redis() {
    let redis = redis_server();
    let ours = shardis(2, &[]);
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["SET", "s2", "v", "EX", "100"],
        &["SETNX", "s", "2"],
        &["SETEX", "s3", "100", "v"],
        &["APPEND", "s", "x"],
        &["SETRANGE", "s", "0", "ab"],
        &["INCR", "n"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["MSET", "m1", "a", "m2", "b"],
        &["GETSET", "m1", "c"],
        &["GETDEL", "m2"],
        &["GETEX", "m1", "PERSIST"],
        &["EXPIRE", "m1", "100"],
        &["PERSIST", "m1"],
        &["RENAME", "m1", "m3"],
        &["DEL", "m3", "nokey"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LPUSH", "l", "z"],
        &["LPOP", "l"],
        &["RPOP", "l"],
        &["LINSERT", "l", "BEFORE", "a", "q"],
        &["LSET", "l", "0", "w"],
        &["LREM", "l", "0", "w"],
        &["LTRIM", "l", "0", "0"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["HSET", "h", "f", "1", "g", "2"],
        &["HINCRBY", "h", "f", "2"],
        &["HINCRBYFLOAT", "h", "f", "0.5"],
        &["HDEL", "h", "f", "g"],
        &["SADD", "st", "a", "b"],
        &["SREM", "st", "a", "b"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["ZINCRBY", "z", "1", "a"],
        &["ZREM", "z", "a"],
        &["ZPOPMIN", "z"],
        &["SADD", "sa", "a", "b"],
        &["SADD", "sb", "b", "c"],
        &["SADD", "sp", "only"],
        &["SPOP", "sp"],
        &["SMOVE", "sb", "sa", "c"],
        &["SINTERSTORE", "sc", "sa", "sb"],
        &["SUNIONSTORE", "sd", "sa", "sb"],
        &["SDIFFSTORE", "sd", "nokey"],
        &["ZADD", "za", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZREMRANGEBYSCORE", "za", "4", "4"],
        &["ZREMRANGEBYRANK", "za", "0", "0"],
        &["ZREMRANGEBYLEX", "za", "[b", "[b"],
        &["ZUNIONSTORE", "zu", "1", "za"],
        &["ZINTERSTORE", "zi", "1", "za"],
        &["ZDIFFSTORE", "zi", "1", "nokey"],
        &["ZRANGESTORE", "zr", "za", "0", "-1"],
        &["COPY", "zu", "zcopy"],
        &["RPUSH", "tosort", "3", "1", "2"],
        &["SORT", "tosort", "STORE", "sorted"],
        &["MOVE", "sorted", "1"],
        &["LMPOP", "1", "tosort", "LEFT", "COUNT", "3"],
        &["SET", "e", "v", "PX", "1"],
    ];
    let mut events = Vec::new();
    for srv in [&redis, &ours] {
        // Shardis must publish at least as many events as redis did.
        let expected: usize = events.first().map_or(0, |e: &BTreeMap<String, Vec<String>>| e.values().map(Vec::len).sum());
        let mut c = srv.raw();
        assert_eq!(c.cmds(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]), Frame::Simple(b"OK".to_vec()));
        let mut sub = srv.raw();
        items(sub.cmds(&["PSUBSCRIBE", "__key*__:*"]));
        for cmd in script {
            c.cmds(cmd);
        }
        thread::sleep(Duration::from_millis(50));
        // A lazily expired key reports `expired` when it is next touched.
        c.cmds(&["GET", "e"]);
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in sub.read_until_quiet(expected, Duration::from_millis(300)) {
            let v = items(f);
            let (channel, payload) = (bulk(&v[2]), bulk(&v[3]));
            if let Some(key) = channel.strip_prefix("__keyspace@0__:") {
                by_key.entry(key.to_string()).or_default().push(format!("space:{payload}"));
            } else if let Some(event) = channel.strip_prefix("__keyevent@0__:") {
                by_key.entry(payload).or_default().push(format!("event:{event}"));
            }
        }
        c.cmds(&["CONFIG", "SET", "notify-keyspace-events", ""]);
        c.cmds(&["FLUSHALL"]);
        events.push(by_key);
    }
    assert!(events[0].len() > 10, "redis published events: {:?}", events[0]);
    assert_eq!(events[0], events[1], "keyspace events differ from redis");
}

#[test]
fn keyspace_flags_filter_classes() {
    let ours = shardis(2, &[]);
    let mut c = ours.raw();
    assert_eq!(c.cmds(&["CONFIG", "SET", "notify-keyspace-events", "Elx"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(items(c.cmds(&["CONFIG", "GET", "notify-keyspace-events"]))[1], Frame::Bulk(Some(b"lxE".to_vec())));
    assert!(matches!(c.cmds(&["CONFIG", "SET", "notify-keyspace-events", "Q"]), Frame::Error(_)));
    let mut sub = ours.raw();
    items(sub.cmds(&["PSUBSCRIBE", "__key*"]));
    c.cmds(&["SET", "a", "1"]);
    c.cmds(&["RPUSH", "l", "x"]);
    c.cmds(&["SET", "t", "1", "PX", "20"]);
    let got: Vec<String> = sub.read_until_quiet(2, Duration::from_millis(400)).iter().map(|f| bulk(&items(f.clone())[2])).collect();
    // No string or keyspace-channel events; the list event, and the expiry reported by the
    // timer wheel without any access.
    assert_eq!(got, vec!["__keyevent@0__:rpush".to_string(), "__keyevent@0__:expired".to_string()]);
}

#[test]
fn one_publisher_fans_out_to_100_subscribers_in_order() {
    for shards in [1, 4] {
        let ours = shardis(shards, &[]);
        let mut subs: Vec<Raw> = (0..100).map(|_| ours.raw()).collect();
        for (i, s) in subs.iter_mut().enumerate() {
            if i % 2 == 0 {
                items(s.cmds(&["SUBSCRIBE", "news"]));
            } else {
                items(s.cmds(&["PSUBSCRIBE", "ne*"]));
            }
        }
        let mut p = ours.raw();
        assert_eq!(p.cmds(&["PUBSUB", "NUMSUB", "news"]), Frame::Array(Some(vec![Frame::Bulk(Some(b"news".to_vec())), Frame::Int(50)])));
        assert_eq!(p.cmds(&["PUBSUB", "NUMPAT"]), Frame::Int(1));
        const N: usize = 300;
        // Pipelined, so messages from one publisher race across shards.
        let mut batch = Vec::new();
        for i in 0..N {
            batch.extend(common::encode_cmd(&[b"PUBLISH", b"news", format!("m{i}").as_bytes()]));
        }
        p.send(&batch);
        for _ in 0..N {
            assert_eq!(p.read(), Frame::Int(100));
        }
        for (i, s) in subs.iter_mut().enumerate() {
            for n in 0..N {
                let v = items(s.read());
                let payload = bulk(v.last().unwrap());
                assert_eq!(payload, format!("m{n}"), "subscriber {i} on {shards} shards got messages out of order");
                assert_eq!(bulk(&v[0]), if i % 2 == 0 { "message" } else { "pmessage" });
            }
        }
    }
}

#[test]
fn pattern_and_shard_channel_subscriptions() {
    let ours = shardis(2, &[]);
    let mut sub = ours.raw();
    items(sub.cmds(&["PSUBSCRIBE", "user:*:login", "h?llo"]));
    assert_eq!(items(sub.read())[2], Frame::Int(2));
    items(sub.cmds(&["SSUBSCRIBE", "orders"]));
    let mut p = ours.raw();
    assert_eq!(p.cmds(&["PUBLISH", "user:7:login", "x"]), Frame::Int(1));
    assert_eq!(p.cmds(&["PUBLISH", "user:7:logout", "x"]), Frame::Int(0));
    assert_eq!(p.cmds(&["PUBLISH", "hallo", "y"]), Frame::Int(1));
    assert_eq!(p.cmds(&["PUBLISH", "orders", "not a shard publish"]), Frame::Int(0));
    assert_eq!(p.cmds(&["SPUBLISH", "orders", "o1"]), Frame::Int(1));
    let got: Vec<Vec<String>> = (0..3).map(|_| items(sub.read()).iter().map(bulk).collect()).collect();
    assert_eq!(
        got,
        vec![
            vec!["pmessage", "user:*:login", "user:7:login", "x"],
            vec!["pmessage", "h?llo", "hallo", "y"],
            vec!["smessage", "orders", "o1"],
        ]
    );
    assert_eq!(p.cmds(&["PUBSUB", "SHARDCHANNELS"]), Frame::Array(Some(vec![Frame::Bulk(Some(b"orders".to_vec()))])));
    // RESET leaves every subscription.
    assert_eq!(sub.cmds(&["RESET"]), Frame::Simple(b"RESET".to_vec()));
    assert_eq!(p.cmds(&["PUBSUB", "NUMPAT"]), Frame::Int(0));
    assert_eq!(p.cmds(&["SPUBLISH", "orders", "o2"]), Frame::Int(0));
}

#[test]
fn a_subscriber_that_does_not_read_is_cut_off_at_the_output_limit() {
    let ours = shardis(2, &[]);
    let mut c = ours.raw();
    assert_eq!(c.cmds(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 128kb 1"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(
        items(c.cmds(&["CONFIG", "GET", "client-output-buffer-limit"]))[1].text(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 262144 131072 1"
    );
    assert!(matches!(c.cmds(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 2"]), Frame::Error(_)));
    let mut slow = ours.raw();
    items(slow.cmds(&["SUBSCRIBE", "firehose"]));
    let payload = "x".repeat(16 * 1024);
    let start = Instant::now();
    // Far more than the socket buffers and the limit hold; the subscriber never reads.
    let mut receivers = 1;
    let mut sent = 0;
    while receivers > 0 && start.elapsed() < Duration::from_secs(20) {
        match c.cmds(&["PUBLISH", "firehose", &payload]) {
            Frame::Int(n) => receivers = n,
            other => panic!("{other:?}"),
        }
        sent += 1;
    }
    assert_eq!(receivers, 0, "the slow subscriber was never disconnected ({sent} messages)");
    assert!(sent < 2000, "disconnected only after {sent} messages");
    assert_eq!(c.cmds(&["PUBSUB", "NUMSUB", "firehose"]), Frame::Array(Some(vec![Frame::Bulk(Some(b"firehose".to_vec())), Frame::Int(0)])));
}

fn reply_within(c: &mut Raw, ms: u64) -> Option<Frame> {
    c.read_within(Duration::from_millis(ms))
}

#[test]
fn blocked_clients_are_served_first_come_first_served_from_any_shard() {
    for shards in [1, 2, 4] {
        let ours = shardis(shards, &[]);
        let mut w: Vec<Raw> = (0..3).map(|_| ours.raw()).collect();
        let mut p = ours.raw();
        for (i, c) in w.iter_mut().enumerate() {
            c.send_cmd(&["BLPOP", "q", "0"]);
            // The next one comes once this one is registered on the key's shard (a client
            // on another shard may take longer to get there than a fixed pause).
            let t = Instant::now();
            while p.info_u64("blocked_clients") < i as u64 + 1 {
                assert!(t.elapsed() < Duration::from_secs(10), "BLPOP {i} did not block");
                thread::sleep(Duration::from_millis(5));
            }
        }
        assert!(reply_within(&mut w[0], 100).is_none(), "BLPOP on an empty list must wait");
        assert_eq!(p.cmds(&["RPUSH", "q", "a", "b", "c", "d"]), Frame::Int(4));
        for (i, v) in ["a", "b", "c"].iter().enumerate() {
            let got: Vec<String> = items(w[i].read()).iter().map(bulk).collect();
            assert_eq!(got, vec!["q".to_string(), v.to_string()], "{shards} shards: waiter {i}");
        }
        assert_eq!(p.cmds(&["LRANGE", "q", "0", "-1"]), Frame::Array(Some(vec![Frame::Bulk(Some(b"d".to_vec()))])));

        // Keys on several shards: whichever gets an element wakes the client, once.
        w[0].send_cmd(&["BZPOPMIN", "za", "zb", "zc", "zd", "0"]);
        thread::sleep(Duration::from_millis(50));
        p.cmds(&["ZADD", "zc", "5", "m"]);
        p.cmds(&["ZADD", "za", "1", "n"]);
        let got: Vec<String> = items(w[0].read()).iter().map(bulk).collect();
        assert_eq!(got, vec!["zc", "m", "5"]);
        assert_eq!(p.cmds(&["ZCARD", "za"]), Frame::Int(1), "a served client takes nothing more");

        // A push inside MULTI serves at EXEC, with the state EXEC left.
        w[1].send_cmd(&["BRPOP", "t", "0"]);
        thread::sleep(Duration::from_millis(50));
        p.cmds(&["MULTI"]);
        p.cmds(&["RPUSH", "t", "1"]);
        p.cmds(&["RPOP", "t"]);
        p.cmds(&["RPUSH", "t", "2", "3"]);
        items(p.cmds(&["EXEC"]));
        let got: Vec<String> = items(w[1].read()).iter().map(bulk).collect();
        assert_eq!(got, vec!["t", "3"]);

        // BLMOVE between lists of (possibly) different shards.
        w[2].send_cmd(&["BLMOVE", "src", "dst{x}", "RIGHT", "LEFT", "0"]);
        thread::sleep(Duration::from_millis(50));
        p.cmds(&["RPUSH", "src", "v1", "v2"]);
        assert_eq!(w[2].read(), Frame::Bulk(Some(b"v2".to_vec())));
        assert_eq!(p.cmds(&["LRANGE", "dst{x}", "0", "-1"]), Frame::Array(Some(vec![Frame::Bulk(Some(b"v2".to_vec()))])));

        // A key created by a command running over two shards (copied here, written back)
        // wakes its blocked clients too, and so does SORT ... STORE.
        let slot = |p: &mut Raw, k: &str| match p.cmds(&["CLUSTER", "KEYSLOT", k]) {
            Frame::Int(i) => i,
            f => panic!("{f:?}"),
        };
        let names: Vec<String> = (0..64).map(|i| format!("k{i}")).collect();
        let low = names.iter().find(|k| slot(&mut p, k) < 4096).unwrap().clone();
        let high = names.iter().find(|k| slot(&mut p, k) >= 8192).unwrap().clone();
        w[1].send_cmd(&["BLPOP", &high, "0"]);
        thread::sleep(Duration::from_millis(50));
        p.cmds(&["RPUSH", &low, "moved"]);
        assert_eq!(p.cmds(&["LMOVE", &low, &high, "LEFT", "LEFT"]), Frame::Bulk(Some(b"moved".to_vec())));
        assert_eq!(items(w[1].read())[1], Frame::Bulk(Some(b"moved".to_vec())), "{shards} shards: cross-shard LMOVE");
        w[1].send_cmd(&["BLPOP", &high, "0"]);
        thread::sleep(Duration::from_millis(50));
        p.cmds(&["RPUSH", &low, "s"]);
        assert_eq!(p.cmds(&["SORT", &low, "ALPHA", "STORE", &high]), Frame::Int(1));
        assert_eq!(items(w[1].read())[1], Frame::Bulk(Some(b"s".to_vec())), "{shards} shards: SORT STORE");
        p.cmds(&["DEL", &low]);

        // Timeouts are float seconds.
        let t = Instant::now();
        assert_eq!(w[0].cmds(&["BLPOP", "never", "0.2"]), Frame::Array(None));
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(190) && took < Duration::from_secs(2), "{took:?}");

        // CLIENT UNBLOCK, TIMEOUT and ERROR.
        let id = match w[0].cmds(&["CLIENT", "ID"]) {
            Frame::Int(i) => i.to_string(),
            f => panic!("{f:?}"),
        };
        for (how, want) in
            [("TIMEOUT", Frame::Array(None)), ("ERROR", Frame::Error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK".to_vec()))]
        {
            w[0].send_cmd(&["BLPOP", "never", "0"]);
            thread::sleep(Duration::from_millis(50));
            assert_eq!(p.cmds(&["CLIENT", "UNBLOCK", &id, how]), Frame::Int(1));
            assert_eq!(w[0].read(), want);
        }
        assert_eq!(p.cmds(&["CLIENT", "UNBLOCK", &id]), Frame::Int(0), "not blocked any more");
    }
}

#[test]
fn work_queue_8_producers_8_consumers_delivers_each_item_once() {
    for shards in [2, 4] {
        let ours = shardis(shards, &[]);
        const PER: usize = 400;
        let port = ours.port;
        let producers: Vec<_> = (0..8)
            .map(|p| {
                thread::spawn(move || {
                    let mut c = Raw::connect(port);
                    for i in 0..PER {
                        let q = if i % 2 == 0 { "jobs" } else { "jobs2" };
                        assert!(matches!(c.cmds(&["RPUSH", q, &format!("{p}-{i}")]), Frame::Int(_)));
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..8)
            .map(|n| {
                thread::spawn(move || {
                    let mut c = Raw::connect(port);
                    let mut got = Vec::new();
                    let mine = format!("inflight{n}");
                    loop {
                        // Half the consumers take jobs with BLPOP over both queues, half move
                        // them to their own (other-shard) in-flight list first.
                        let item = if n % 2 == 0 {
                            match c.cmds(&["BLPOP", "jobs", "jobs2", "1"]) {
                                Frame::Array(Some(v)) => Some(bulk(&v[1])),
                                Frame::Array(None) => None,
                                f => panic!("{f:?}"),
                            }
                        } else {
                            let q = if got.len() % 2 == 0 { "jobs" } else { "jobs2" };
                            match c.cmds(&["BLMOVE", q, &mine, "LEFT", "RIGHT", "0.5"]) {
                                Frame::Bulk(Some(v)) => {
                                    assert_eq!(c.cmds(&["LPOP", &mine]), Frame::Bulk(Some(v.clone())));
                                    Some(String::from_utf8(v).unwrap())
                                }
                                Frame::Array(None) => {
                                    // One queue may be empty while the other is not.
                                    let other = if q == "jobs" { "jobs2" } else { "jobs" };
                                    match c.cmds(&["LMOVE", other, &mine, "LEFT", "RIGHT"]) {
                                        Frame::Bulk(Some(v)) => {
                                            c.cmds(&["LPOP", &mine]);
                                            Some(String::from_utf8(v).unwrap())
                                        }
                                        _ => None,
                                    }
                                }
                                f => panic!("{f:?}"),
                            }
                        };
                        match item {
                            Some(i) => got.push(i),
                            None => return got,
                        }
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all = Vec::new();
        for c in consumers {
            all.extend(c.join().unwrap());
        }
        let unique: HashSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "{shards} shards: an item was delivered twice");
        assert_eq!(all.len(), 8 * PER, "{shards} shards: items were lost");
        let mut c = ours.raw();
        assert_eq!(c.cmds(&["DBSIZE"]), Frame::Int(0));
    }
}

#[test]
fn subscriptions_and_blocked_waits_are_released_on_disconnect_kill_and_reset() {
    let ours = shardis(2, &[]);
    let mut admin = ours.raw();
    // Warm up allocator pools before the baseline.
    for i in 0..200 {
        let mut c = ours.raw();
        items(c.cmds(&["SUBSCRIBE", &format!("warm{i}")]));
    }
    thread::sleep(Duration::from_millis(200));
    let rss0 = admin.info_u64("used_memory_rss");
    for i in 0..10_000 {
        let mut c = ours.raw();
        let kill = i % 100 == 1;
        let id = if kill { c.cmds(&["CLIENT", "ID"]).text() } else { String::new() };
        match i % 4 {
            0 => {
                items(c.cmds(&["SUBSCRIBE", &format!("ch{i}"), "shared"]));
                items(c.cmds(&["PSUBSCRIBE", &format!("p{i}*")]));
            }
            1 => c.send_cmd(&["BLPOP", &format!("k{i}"), "other", "0"]),
            2 => {
                items(c.cmds(&["SSUBSCRIBE", &format!("s{i}")]));
                c.cmds(&["RESET"]);
            }
            _ => c.send_cmd(&["BZPOPMIN", &format!("z{i}"), "0"]),
        }
        if kill {
            // Now and then CLIENT KILL ends a blocked client instead of a disconnect.
            let id = id.trim_start_matches("Int(").trim_end_matches(')').to_string();
            thread::sleep(Duration::from_millis(5));
            assert_eq!(admin.cmds(&["CLIENT", "KILL", "ID", &id]), Frame::Int(1));
            assert!(c.closed());
        }
    }
    // Disconnects are noticed asynchronously: wait for the registries to empty.
    let start = Instant::now();
    loop {
        let blocked = admin.info_u64("blocked_clients");
        let keys = admin.info_u64("blocking_keys");
        let channels = admin.info_u64("pubsub_channels");
        let patterns = admin.info_u64("pubsub_patterns");
        let shard = admin.info_u64("pubsubshard_channels");
        let clients = admin.info_u64("connected_clients");
        if (blocked, keys, channels, patterns, shard, clients) == (0, 0, 0, 0, 0, 1) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "left behind: blocked {blocked} keys {keys} channels {channels} patterns {patterns} shard {shard} clients {clients}"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let rss1 = admin.info_u64("used_memory_rss");
    assert!(rss1 < rss0 + 16 * 1024 * 1024, "RSS grew from {rss0} to {rss1} over 10,000 cycles");
    // And nothing is served to a client that left: a push stays in the list.
    assert_eq!(admin.cmds(&["RPUSH", "other", "x"]), Frame::Int(1));
    assert_eq!(admin.cmds(&["LLEN", "other"]), Frame::Int(1));
}
