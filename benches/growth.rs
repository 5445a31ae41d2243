//! Growth stalls of one database's key table, without the network: inserts N keys (16-byte
//! keys, 32-byte values) into an empty store on jemalloc under the counting allocator, as the
//! server does, and prints every insert slower than 1 ms.
//!
//! `cargo bench --bench growth -- [keys=20000000]` (pin it: `taskset -c 0 ...`). Before the
//! bucket arrays were chunked, the inserts that ended a rehash stalled for 2, 4, 7.6 and
//! 16.7 ms at 2.4M, 4.9M, 9.7M and 19.4M keys (the old array freed at once); see
//! perf/RESULTS.md for the figures since and for an idle spinner's gaps on the same VM.

use std::time::{Duration, Instant};

use shardis::store::{Expiry, Store, StrValue, Value};

#[global_allocator]
static ALLOC: shardis::alloc::Counting = shardis::alloc::Counting;

fn main() {
    // `cargo bench` passes `--bench`; the key count is the first numeric argument.
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000_000);
    let mut store = Store::new(1, 0);
    let value = [b'x'; 32];
    let mut slow = Vec::new();
    let start = Instant::now();
    let mut key = String::new();
    for i in 0..n {
        use std::fmt::Write as _;
        key.clear();
        let _ = write!(key, "key:{:012}", 100_000_000_000u64 + i as u64);
        let t = Instant::now();
        store.db(0).set(key.as_bytes(), Value::Str(StrValue::from_input(&value)), Expiry::Clear, 0);
        let took = t.elapsed();
        if took > Duration::from_millis(1) {
            slow.push((i, took.as_micros()));
        }
    }
    let worst = slow.iter().map(|s| s.1).max().unwrap_or(0);
    println!("{n} inserts in {:.1} s; {} over 1 ms, the longest {worst} µs", start.elapsed().as_secs_f64(), slow.len());
    for (i, us) in slow {
        println!("  insert {i}: {us} µs");
    }
}
