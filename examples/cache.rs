//! A read-through cache with a time to live: reads go to the cache first, and a miss loads
//! the value from the slow source and stores it with a TTL, so each value is loaded once per
//! TTL however often it is read.
//!
//! `cargo run --release --example cache` runs it in-process; `-- --tcp` runs the same over TCP
//! with the `redis` crate.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use shardis::embed::{Client, Engine};

/// Time to live of most cached values, and of the few read again after they expire.
const TTL: Duration = Duration::from_secs(60);
const SHORT_TTL: Duration = Duration::from_millis(500);

/// The slow source of truth (a database, a remote service).
static LOADS: AtomicUsize = AtomicUsize::new(0);
fn load_user(id: u32) -> String {
    LOADS.fetch_add(1, Relaxed);
    std::thread::sleep(Duration::from_millis(2));
    format!("user #{id}")
}

/// One way to reach the cache: in-process or over TCP.
trait Cache {
    fn get(&mut self, key: &str) -> Option<String>;
    fn put(&mut self, key: &str, value: &str, ttl: Duration);
}

impl Cache for Client {
    fn get(&mut self, key: &str) -> Option<String> {
        Client::get(self, key).unwrap()
    }
    fn put(&mut self, key: &str, value: &str, ttl: Duration) {
        self.set_ex(key, value, ttl).unwrap()
    }
}

impl Cache for redis::Connection {
    fn get(&mut self, key: &str) -> Option<String> {
        redis::cmd("GET").arg(key).query(self).unwrap()
    }
    fn put(&mut self, key: &str, value: &str, ttl: Duration) {
        redis::cmd("SET").arg(key).arg(value).arg("PX").arg(ttl.as_millis() as u64).query::<()>(self).unwrap()
    }
}

fn get_user(cache: &mut impl Cache, id: u32, ttl: Duration) -> String {
    let key = format!("cache:user:{id}");
    if let Some(v) = cache.get(&key) {
        return v;
    }
    let v = load_user(id);
    cache.put(&key, &v, ttl);
    v
}

fn main() {
    let tcp = std::env::args().any(|a| a == "--tcp");
    let mut builder = Engine::builder().shards(2).unpinned();
    if tcp {
        builder = builder.serve_tcp(0);
    }
    let engine = builder.start().expect("engine starts");
    let mut cache: Box<dyn FnMut(u32, Duration) -> String> = if tcp {
        let mut con = redis::Client::open(format!("redis://127.0.0.1:{}/", engine.port())).unwrap().get_connection().unwrap();
        Box::new(move |id, ttl| get_user(&mut con, id, ttl))
    } else {
        let mut client = engine.client();
        Box::new(move |id, ttl| get_user(&mut client, id, ttl))
    };
    // 1000 reads of 20 users: 20 loads.
    for i in 0..1000u32 {
        assert_eq!(cache(i % 20, TTL), format!("user #{}", i % 20));
    }
    assert_eq!(LOADS.load(Relaxed), 20, "one load per user");
    // Values cached briefly are loaded again once they expire.
    for id in 100..110 {
        cache(id, SHORT_TTL);
        cache(id, SHORT_TTL);
    }
    assert_eq!(LOADS.load(Relaxed), 30, "cached until they expire");
    std::thread::sleep(SHORT_TTL + Duration::from_millis(200));
    for id in 100..110 {
        cache(id, SHORT_TTL);
    }
    assert_eq!(LOADS.load(Relaxed), 40, "reloaded after expiry");
    println!("ok: 1030 reads, 40 loads; values reloaded after their TTL ({})", if tcp { "tcp" } else { "in-process" });
    drop(cache);
    engine.stop();
}
