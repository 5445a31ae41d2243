//! The embedded engine through its public API: typed calls from plain threads, tokio and
//! glommio; pipelines, transactions and WATCH; blocking pops; pub/sub and keyspace
//! notifications; the namespaced map; serving TCP at the same time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shardis::command::CmdError;
use shardis::embed::{Cmd, End, Engine, Error, MapEvent, Pipeline, SetOptions};
use shardis::protocol::Reply;

fn engine(shards: usize) -> Engine {
    Engine::builder().shards(shards).unpinned().start().expect("engine starts")
}

#[test]
fn typed_commands_reply_as_redis_on_1_2_and_4_shards() {
    for shards in [1, 2, 4] {
        let e = engine(shards);
        let c = e.client();
        c.set("s", "v").unwrap();
        assert_eq!(c.get::<String>("s").unwrap().as_deref(), Some("v"));
        assert_eq!(c.get::<String>("missing").unwrap(), None);
        assert!(c.set_nx("s", "w").is_ok_and(|wrote| !wrote));
        let old = c.set_with::<String>("s", "w", SetOptions::default().get_old()).unwrap();
        assert_eq!(old.as_deref(), Some("v"));
        assert_eq!(c.set_with::<String>("s", "x", SetOptions::default().if_absent()).unwrap(), None, "NX on an existing key");
        assert_eq!(c.append("s", "!").unwrap(), 2);
        assert_eq!(c.incr("n").unwrap(), 1);
        assert_eq!(c.incr_by("n", 41).unwrap(), 42);
        assert_eq!(c.decr_by("n", 2).unwrap(), 40);
        assert_eq!(c.incr_by_float("f", 1.5).unwrap(), 1.5);
        c.mset([("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
        assert_eq!(c.mget::<i64>(["a", "b", "zz", "c"]).unwrap(), vec![Some(1), Some(2), None, Some(3)]);
        assert_eq!(c.del(["a", "b", "zz"]).unwrap(), 2);
        assert_eq!(c.exists(["a", "c"]).unwrap(), 1);

        c.set_ex("t", "v", Duration::from_secs(100)).unwrap();
        assert!((99..=100).contains(&c.ttl("t").unwrap()));
        assert!(c.persist("t").unwrap());
        assert_eq!(c.ttl("t").unwrap(), -1);
        assert!(c.expire("t", Duration::from_millis(30)).unwrap());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.ttl("t").unwrap(), -2, "expired");

        assert_eq!(c.rpush("l", ["a", "b", "c"]).unwrap(), 3);
        assert_eq!(c.lpush("l", ["z"]).unwrap(), 4);
        assert_eq!(c.lrange::<String>("l", 0, -1).unwrap(), ["z", "a", "b", "c"]);
        assert_eq!(c.lmove::<String>("l", "l2", End::Right, End::Left).unwrap().as_deref(), Some("c"));
        assert_eq!(c.lpop::<String>("l").unwrap().as_deref(), Some("z"));
        assert_eq!(c.llen("l").unwrap(), 2);

        assert_eq!(c.hset_multiple("h", [("f1", "1"), ("f2", "2")]).unwrap(), 2);
        assert_eq!(c.hincr_by("h", "f1", 9).unwrap(), 10);
        let all: HashMap<String, i64> = c.hgetall("h").unwrap();
        assert_eq!(all, HashMap::from([("f1".to_string(), 10), ("f2".to_string(), 2)]));
        assert!(c.hexists("h", "f2").unwrap());

        assert_eq!(c.sadd("set", ["x", "y", "x"]).unwrap(), 2);
        assert!(c.sismember("set", "y").unwrap());
        let mut members = c.smembers::<String>("set").unwrap();
        members.sort();
        assert_eq!(members, ["x", "y"]);

        c.zadd_multiple("z", [(2.0, "b"), (1.0, "a")]).unwrap();
        assert_eq!(c.zincr_by("z", 5.5, "a").unwrap(), 6.5);
        assert_eq!(c.zscore("z", "a").unwrap(), Some(6.5));
        assert_eq!(c.zrank("z", "a").unwrap(), Some(1));
        assert_eq!(c.zrange_with_scores::<String>("z", 0, -1).unwrap(), vec![("b".to_string(), 2.0), ("a".to_string(), 6.5)]);
        assert_eq!(c.key_type("z").unwrap(), "zset");
        assert_eq!(c.dbsize().unwrap(), 9, "{shards} shards");
        e.stop();
    }
}

#[test]
fn errors_are_typed() {
    let e = Engine::builder().shards(2).unpinned().databases(4).start().unwrap();
    let c = e.client();
    c.set("s", "text").unwrap();
    assert_eq!(c.lpush("s", ["x"]), Err(Error::Command(CmdError::WrongType)));
    assert_eq!(c.incr("s"), Err(Error::Command(CmdError::NotInteger)));
    assert_eq!(c.call::<()>(["SET", "k"]), Err(Error::Command(CmdError::Arity("set".into()))));
    assert!(matches!(c.call::<()>(["NOSUCHCMD"]), Err(Error::Command(CmdError::UnknownCommand { name, .. })) if name == "NOSUCHCMD"));
    assert_eq!(c.with_db(3).set("k", "v"), Ok(()));
    assert_eq!(c.with_db(3).get::<String>("k").unwrap().as_deref(), Some("v"));
    assert_eq!(c.get::<String>("k").unwrap(), None, "databases are apart");
    assert_eq!(c.with_db(4).set("k", "v"), Err(Error::Command(CmdError::DbOutOfRange)));
    assert!(matches!(c.get::<i64>("s"), Err(Error::Unexpected { .. })), "a reply that is not the type asked for");
    e.stop();

    // This test program counts no memory (see tests/embed_memory.rs for one that does).
    assert!(matches!(Engine::builder().maxmemory("1mb").start(), Err(shardis::embed::EngineError::NoAccounting)));
    assert!(
        matches!(Engine::builder().maxmemory_policy("sometimes").start(), Err(shardis::embed::EngineError::Config(name, _)) if name == "maxmemory-policy")
    );
}

#[test]
fn threads_share_one_client() {
    let e = engine(4);
    let c = e.client();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    c.incr("shared").unwrap();
                    c.set(format!("k:{t}:{i}"), i).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(c.get::<i64>("shared").unwrap(), Some(4000));
    assert_eq!(c.dbsize().unwrap(), 4001);
    assert_eq!(c.get::<i64>("k:7:499").unwrap(), Some(499));
    e.stop();
}

#[test]
fn tokio_tasks_call_the_engine() {
    let e = engine(2);
    let a = e.async_client();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let a = a.clone();
                tokio::spawn(async move {
                    a.set(format!("t:{i}"), i).await.unwrap();
                    a.incr("counter").await.unwrap();
                    a.get::<i64>(format!("t:{i}")).await.unwrap()
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Some(i as i64));
        }
        assert_eq!(a.get::<i64>("counter").await.unwrap(), Some(32));
        // A blocking pop awaited in one task is served by a push from another.
        let waiter = {
            let a = a.clone();
            tokio::spawn(async move { a.blpop::<String>(["jobs"], Duration::from_secs(5)).await.unwrap() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        a.rpush("jobs", ["j1"]).await.unwrap();
        assert_eq!(waiter.await.unwrap(), Some(("jobs".to_string(), "j1".to_string())));
        let replies = Pipeline::new().set("p", 1).incr("p").get("p").query_async(&a).await.unwrap();
        assert_eq!(replies, vec![Reply::OK, Reply::Int(2), Reply::Bulk("2".into())]);
    });
    e.stop();
}

#[test]
fn glommio_tasks_call_the_engine() {
    let e = engine(2);
    let a = e.async_client();
    let got = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .spawn(move || async move {
            let mut sum = 0;
            for i in 0..100 {
                sum += a.incr_by("g", i).await.unwrap();
            }
            (sum, a.get::<i64>("g").await.unwrap())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(got.1, Some(4950));
    assert!(got.0 > 0);
    e.stop();
}

#[test]
fn pipelines_keep_order_across_shards() {
    let e = engine(4);
    let c = e.client();
    let mut p = Pipeline::new();
    for i in 0..200 {
        p.set(format!("key:{i}"), i).get(format!("key:{i}"));
    }
    let replies = p.query(&c).unwrap();
    assert_eq!(replies.len(), 400);
    for i in 0..200 {
        assert_eq!(replies[2 * i + 1], Reply::Bulk(i.to_string().into()), "reply {i} in order");
    }
    let (n, v): (i64, Option<String>) = Pipeline::new().incr("x").get("key:5").query_as(&c).unwrap();
    assert_eq!((n, v.as_deref()), (1, Some("5")));
    // A failing command's error is its own reply; the others run.
    let r = Pipeline::new().set("s", "a").incr("s").get("s").query(&c).unwrap();
    assert_eq!(r[1], Reply::from(CmdError::NotInteger));
    assert_eq!(r[2], Reply::Bulk("a".into()));
    e.stop();
}

#[test]
fn atomic_pipelines_are_transactions() {
    let e = engine(4);
    let c = e.client();
    let r = Pipeline::new().atomic().set("{a}1", 1).set("b", 2).incr("b").query(&c).unwrap();
    assert_eq!(r, vec![Reply::OK, Reply::OK, Reply::Int(3)]);
    let aborted = Pipeline::new().atomic().set("b", 9).cmd(["NOSUCHCMD"]).query(&c);
    assert_eq!(aborted, Err(Error::Command(CmdError::ExecAbort)));
    assert_eq!(c.get::<i64>("b").unwrap(), Some(3), "nothing of an aborted transaction ran");

    // No observer sees half of a transaction that moves value between keys on two shards.
    c.mset([("acct:a", 1000), ("acct:b", 0)]).unwrap();
    let writer = {
        let c = c.clone();
        std::thread::spawn(move || {
            for _ in 0..300 {
                Pipeline::new().atomic().decr_by("acct:a", 1).incr_by("acct:b", 1).query(&c).unwrap();
            }
        })
    };
    while !writer.is_finished() {
        let v: Vec<Option<i64>> = c.mget(["acct:a", "acct:b"]).unwrap();
        assert_eq!(v[0].unwrap() + v[1].unwrap(), 1000, "a half-done transfer was visible");
    }
    writer.join().unwrap();
    assert_eq!(c.get::<i64>("acct:b").unwrap(), Some(300));
    e.stop();
}

#[test]
fn watch_detects_a_change_and_transaction_retries() {
    let e = engine(2);
    let c = e.client();
    let conn = c.conn();
    conn.watch(["w"]).unwrap();
    c.set("w", "changed by another client").unwrap();
    assert_eq!(Pipeline::new().atomic().set("w", "mine").query(&conn), Err(Error::WatchedKeyChanged));
    assert_eq!(c.get::<String>("w").unwrap().as_deref(), Some("changed by another client"));

    // Read-modify-write through WATCH from four threads: every increment lands once.
    c.set("counter", 0).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let _: Vec<Reply> = c
                        .transaction(&["counter"], |conn, p| {
                            let v: i64 = conn.get("counter")?.unwrap_or(0);
                            p.set("counter", v + 1);
                            Ok(())
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(c.get::<i64>("counter").unwrap(), Some(200));
    e.stop();
}

#[test]
fn async_watch_and_transactions_from_tokio() {
    let e = engine(2);
    let a = e.client().to_async();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let conn = a.conn();
        conn.watch(["w"]).await.unwrap();
        a.set("w", "changed by another client").await.unwrap();
        assert_eq!(Pipeline::new().atomic().set("w", "mine").query_async(&conn).await, Err(Error::WatchedKeyChanged));
        assert_eq!(conn.get::<String>("w").await.unwrap().as_deref(), Some("changed by another client"));

        // A write between the WATCH and the EXEC makes the transaction run `build` again.
        let builds = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (b, other) = (builds.clone(), a.clone());
        let ((), n): ((), i64) = a
            .transaction(&["x"], move |conn, mut p| {
                let (b, other) = (b.clone(), other.clone());
                async move {
                    if b.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        other.set("x", 41).await?;
                    }
                    let x: i64 = conn.get("x").await?.unwrap_or(0);
                    p.set("x", x).incr("x");
                    Ok(p)
                }
            })
            .await
            .unwrap();
        assert_eq!((n, builds.load(std::sync::atomic::Ordering::SeqCst)), (42, 2));

        // Moving value between two keys on different shards from eight tasks: every move
        // lands once and the total never changes.
        a.mset([("acct:a", 1000), ("acct:b", 0)]).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let a = a.clone();
                tokio::spawn(async move {
                    for _ in 0..25 {
                        let _: Vec<Reply> = a
                            .transaction(&["acct:a", "acct:b"], |conn, mut p| async move {
                                let (from, to): (Option<i64>, Option<i64>) = conn.call(["MGET", "acct:a", "acct:b"]).await?;
                                p.set("acct:a", from.unwrap_or(0) - 1).set("acct:b", to.unwrap_or(0) + 1);
                                Ok(p)
                            })
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(a.mget::<i64>(["acct:a", "acct:b"]).await.unwrap(), vec![Some(800), Some(200)]);
    });
    e.stop();
}

#[test]
fn blocking_pops_time_out_and_wake() {
    let e = engine(2);
    let c = e.client();
    let t = Instant::now();
    assert_eq!(c.blpop::<String>(["empty"], Duration::from_millis(100)).unwrap(), None);
    assert!(t.elapsed() >= Duration::from_millis(100));
    let pusher = {
        let c = c.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            c.rpush("q", ["item"]).unwrap();
        })
    };
    assert_eq!(c.blmove::<String>("q", "done", End::Left, End::Right, Duration::ZERO).unwrap().as_deref(), Some("item"));
    pusher.join().unwrap();
    assert_eq!(c.lrange::<String>("done", 0, -1).unwrap(), ["item"]);
    e.stop();
}

#[test]
fn an_abandoned_async_pop_takes_nothing() {
    let e = engine(2);
    let a = e.async_client();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let pop = a.blpop::<String>(["q"], Duration::ZERO);
        assert!(tokio::time::timeout(Duration::from_millis(50), pop).await.is_err(), "nothing to pop");
        tokio::time::sleep(Duration::from_millis(20)).await;
        a.rpush("q", ["kept"]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(a.lpop::<String>("q").await.unwrap().as_deref(), Some("kept"), "the dropped BLPOP must not take it");
    });
    e.stop();
}

#[test]
fn subscribers_get_messages_as_iterator_and_stream() {
    let e = engine(4);
    let c = e.client();
    let sub = c.subscriber();
    sub.subscribe(["news"]).unwrap();
    sub.psubscribe(["log.*"]).unwrap();
    let publisher = {
        let c = c.clone();
        std::thread::spawn(move || {
            for i in 0..100 {
                assert_eq!(c.publish("news", i).unwrap(), 1);
            }
            c.publish("log.app", "hello").unwrap();
        })
    };
    let got: Vec<String> = sub.iter().take(100).map(|m| String::from_utf8(m.payload.to_vec()).unwrap()).collect();
    assert_eq!(got, (0..100).map(|i| i.to_string()).collect::<Vec<_>>(), "in order");
    let m = sub.recv_timeout(Duration::from_secs(5)).unwrap().expect("pattern message");
    assert_eq!((m.pattern.as_deref(), &m.channel[..], &m.payload[..]), (Some(&b"log.*"[..]), &b"log.app"[..], &b"hello"[..]));
    publisher.join().unwrap();
    sub.unsubscribe(["news"]).unwrap();
    assert_eq!(c.publish("news", "x").unwrap(), 0);
    assert_eq!(sub.recv_timeout(Duration::from_millis(50)).unwrap(), None);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use futures::StreamExt;
        let a = e.async_client();
        let s2 = a.subscriber();
        s2.subscribe_async(["ch"]).await.unwrap();
        for i in 0..3 {
            a.publish("ch", i).await.unwrap();
        }
        let got: Vec<_> = s2.stream().take(3).map(|m| m.payload).collect().await;
        assert_eq!(got, vec!["0", "1", "2"]);
    });
    e.stop();
}

#[test]
fn keyspace_notifications_work_in_process() {
    let e = Engine::builder().shards(2).unpinned().notify_keyspace_events("KEA").start().unwrap();
    let c = e.client();
    let sub = c.subscriber();
    sub.psubscribe(["__keyspace@0__:*"]).unwrap();
    c.set("k1", "v").unwrap();
    c.del(["k1"]).unwrap();
    let events: Vec<(String, String)> = (0..2)
        .map(|_| {
            let m = sub.recv_timeout(Duration::from_secs(5)).unwrap().expect("event");
            (String::from_utf8(m.channel.to_vec()).unwrap(), String::from_utf8(m.payload.to_vec()).unwrap())
        })
        .collect();
    assert_eq!(events, [("__keyspace@0__:k1".into(), "set".into()), ("__keyspace@0__:k1".into(), "del".into())]);
    e.stop();
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct User {
    name: String,
    age: u32,
}

fn user(name: &str, age: u32) -> User {
    User { name: name.into(), age }
}

#[test]
fn namespaced_map_reads_and_writes_its_prefix_only() {
    let e = engine(4);
    let c = e.client();
    c.set("other:1", "not in the map").unwrap();
    c.set("userXx", "glob characters in the prefix match only themselves").unwrap();
    let users = c.map::<User>("user*");
    assert!(users.is_empty().unwrap());
    c.set("user*x", "not JSON").unwrap();
    users.insert("ann", &user("Ann", 31)).unwrap();
    users
        .extend((0..1200).map(|i| (format!("u{i}"), user("N", i))).collect::<Vec<_>>().iter().map(|(k, v)| (k.as_str(), v.clone())))
        .unwrap();
    assert_eq!(users.get("ann").unwrap(), Some(user("Ann", 31)));
    assert_eq!(c.get::<String>("user*ann").unwrap().as_deref(), Some(r#"{"name":"Ann","age":31}"#), "JSON under prefix+key");
    assert!(users.contains_key("u7").unwrap());
    assert!(users.contains_key("x").unwrap(), "any key under the prefix is the map's, JSON or not");
    assert_eq!(users.len().unwrap(), 1202);
    let mut some = users.keys_matching("u11?").unwrap();
    some.sort();
    assert_eq!(some, (110..120).map(|i| format!("u{i}")).collect::<Vec<_>>());
    assert_eq!(users.remove("ann").unwrap(), Some(user("Ann", 31)));
    assert_eq!(users.remove("ann").unwrap(), None);
    assert!(matches!(users.get("x"), Err(Error::Serde(_))), "a value that is not JSON of a User");
    c.del(["user*x"]).unwrap();
    let all = users.to_hash_map().unwrap();
    assert_eq!(all.len(), 1200);
    assert_eq!(all["u5"], user("N", 5));
    assert_eq!(users.iter().unwrap().count(), 1200);
    users.insert_with_ttl("brief", &user("B", 1), Duration::from_millis(30)).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(users.get("brief").unwrap(), None, "expired");
    assert_eq!(users.clear().unwrap(), 1200);
    assert!(users.is_empty().unwrap());
    assert_eq!(c.get::<String>("other:1").unwrap().as_deref(), Some("not in the map"));
    e.stop();
}

#[test]
fn namespaced_map_reports_its_key_changes() {
    let e = Engine::builder().shards(2).unpinned().notify_keyspace_events("Kg$x").start().unwrap();
    let c = e.client();
    let m = c.map::<u32>("cfg:");
    let events = m.watch().unwrap();
    m.insert("a", &1).unwrap();
    c.set("elsewhere", 1).unwrap();
    m.remove("a").unwrap();
    m.insert_with_ttl("b", &2, Duration::from_millis(20)).unwrap();
    let mut got = Vec::new();
    while got.len() < 4 {
        got.push(events.recv_timeout(Duration::from_secs(5)).unwrap().expect("an event"));
    }
    // Events of one key keep their order; a and b live on different shards.
    let of = |k: &str| {
        got.iter()
            .filter(|e| matches!(e, MapEvent::Set(x) | MapEvent::Removed(x) | MapEvent::Expired(x) if x == k))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(of("a"), [MapEvent::Set("a".into()), MapEvent::Removed("a".into())]);
    assert_eq!(of("b"), [MapEvent::Set("b".into()), MapEvent::Expired("b".into())]);
    e.stop();

    let quiet = engine(1);
    assert!(matches!(quiet.client().map::<u32>("p:").watch(), Err(Error::MapEventsOff(on)) if on.is_empty()));
    quiet.stop();
}

#[test]
fn serves_tcp_at_the_same_time() {
    use redis::Commands;
    let e = Engine::builder().shards(2).unpinned().serve_tcp(0).start().unwrap();
    assert_ne!(e.port(), 0);
    let c = e.client();
    c.set("from-process", "1").unwrap();
    let mut tcp = redis::Client::open(format!("redis://127.0.0.1:{}/", e.port())).unwrap().get_connection().unwrap();
    let v: String = tcp.get("from-process").unwrap();
    assert_eq!(v, "1");
    let _: () = tcp.set("from-tcp", "2").unwrap();
    assert_eq!(c.get::<String>("from-tcp").unwrap().as_deref(), Some("2"));
    e.stop();
}

#[test]
fn calls_after_stop_fail_with_stopped() {
    let e = engine(2);
    let c = e.client();
    let a = e.async_client();
    c.set("k", "v").unwrap();
    e.stop();
    assert_eq!(c.get::<String>("k"), Err(Error::Stopped));
    assert_eq!(futures::executor::block_on(a.get::<String>("k")), Err(Error::Stopped));
    assert_eq!(c.call_reply(Cmd::new("GET").arg("k")), Reply::err("ERR engine stopped"));
}

#[test]
fn a_blocked_call_ends_when_the_engine_stops() {
    let e = engine(2);
    let c = e.client();
    let waiter = std::thread::spawn(move || c.blpop::<String>(["never"], Duration::ZERO));
    std::thread::sleep(Duration::from_millis(50));
    e.stop();
    assert_eq!(waiter.join().unwrap(), Err(Error::Stopped));
}

#[test]
fn engine_is_shared_between_threads() {
    let e = Arc::new(engine(2));
    let t = {
        let e = e.clone();
        std::thread::spawn(move || e.client().incr("n").unwrap())
    };
    assert_eq!(t.join().unwrap(), 1);
    Arc::into_inner(e).unwrap().stop();
}

#[test]
fn handles_are_clone_send_sync() {
    fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}
    clone_send_sync::<shardis::embed::Client>();
    clone_send_sync::<shardis::embed::AsyncClient>();
    clone_send_sync::<shardis::embed::AsyncConn>();
    send::<shardis::embed::Conn>();
    send::<shardis::embed::Subscriber>();
    send::<Engine>();
}

#[test]
fn spinning_shards_serve_every_kind_of_call() {
    use redis::Commands;
    let e = Engine::builder().shards(2).unpinned().spin_before_park(Duration::from_micros(50)).serve_tcp(0).start().unwrap();
    let c = e.client();
    for i in 0..200 {
        c.set(format!("k{i}"), i).unwrap();
    }
    assert_eq!(c.dbsize().unwrap(), 200);
    let waiter = {
        let c = c.clone();
        std::thread::spawn(move || c.blpop::<String>(["q"], Duration::from_secs(5)).unwrap())
    };
    let sub = c.subscriber();
    sub.subscribe(["ch"]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    c.rpush("q", ["x"]).unwrap();
    assert_eq!(waiter.join().unwrap(), Some(("q".into(), "x".into())));
    c.publish("ch", "m").unwrap();
    assert_eq!(&sub.recv_timeout(Duration::from_secs(5)).unwrap().expect("message").payload[..], b"m");
    let mut tcp = redis::Client::open(format!("redis://127.0.0.1:{}/", e.port())).unwrap().get_connection().unwrap();
    let v: i64 = tcp.get("k7").unwrap();
    assert_eq!(v, 7);
    e.stop();
}
