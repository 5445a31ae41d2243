//! The embedded engine in a program that counts its memory (the counting allocator is this
//! test program's global allocator): maxmemory holds, and starting and stopping engines
//! leaks neither threads nor memory.

use std::time::Duration;

use shardis::command::CmdError;
use shardis::embed::{Engine, Error, Pipeline};

#[global_allocator]
static ALLOC: shardis::alloc::Counting = shardis::alloc::Counting;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// One test function, so that no other test allocates while memory is compared.
#[test]
fn budget_holds_and_stop_leaks_nothing() {
    let threads0 = threads();
    // noeviction: writes that may grow memory are refused with Redis's OOM error, reads work.
    let full = Engine::builder().shards(1).unpinned().maxmemory("100kb").maxmemory_policy("noeviction").start().unwrap();
    let c = full.client();
    assert_eq!(c.set("k", "v"), Err(Error::Command(CmdError::OutOfMemory)));
    assert_eq!(c.get::<String>("k"), Ok(None));
    full.stop();

    // allkeys-lru under a budget: used memory stays near it while far more is written.
    let lru = Engine::builder().shards(2).unpinned().maxmemory("8mb").maxmemory_policy("allkeys-lru").start().unwrap();
    let c = lru.client();
    let value = "x".repeat(100);
    for chunk in 0..200 {
        let mut p = Pipeline::new();
        for i in 0..500 {
            p.set(format!("k:{chunk}:{i}"), value.as_str());
        }
        p.query(&c).unwrap();
    }
    let used = shardis::alloc::used_memory();
    assert!(used < 8 * 1024 * 1024 * 105 / 100, "used {used} over the 8mb budget");
    assert!(c.dbsize().unwrap() < 100_000, "evicted");
    lru.stop();

    // Start, use and stop engines: threads and memory come back to where they were.
    let cycle = || {
        let e = Engine::builder().shards(2).unpinned().start().unwrap();
        let c = e.client();
        let sub = c.subscriber();
        sub.subscribe(["ch"]).unwrap();
        let conn = c.conn();
        conn.watch(["w"]).unwrap();
        for i in 0..1000 {
            c.set(format!("k{i}"), i).unwrap();
        }
        c.publish("ch", "m").unwrap();
        let blocked = {
            let c = c.clone();
            std::thread::spawn(move || c.blpop::<String>(["never"], Duration::ZERO))
        };
        std::thread::sleep(Duration::from_millis(20));
        e.stop();
        assert_eq!(blocked.join().unwrap(), Err(Error::Stopped));
        drop((sub, conn, c));
    };
    cycle();
    let mem0 = shardis::alloc::used_memory();
    for _ in 0..10 {
        cycle();
    }
    // Helper threads of an executor may take a moment to exit after its shard joined.
    let t = std::time::Instant::now();
    while threads() > threads0 && t.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (threads1, mem1) = (threads(), shardis::alloc::used_memory());
    assert!(threads1 <= threads0, "{threads1} threads after 11 engines, {threads0} before the first");
    assert!(mem1 < mem0 + 256 * 1024, "memory after 10 more engines: {mem1} against {mem0}");
}
