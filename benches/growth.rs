//! Growth stalls of one database's key table, without the network: inserts N keys (16-byte
//! keys, 32-byte values) into an empty store on jemalloc under the counting allocator, as the
//! server does, and prints every insert slower than 1 ms with the wall time, thread CPU time
//! and page faults of the 256 inserts around it.
//!
//! `cargo bench --bench growth -- [keys=20000000]` (pin it: `taskset -c 0 ...`). Before the
//! bucket arrays were chunked, the inserts that ended a rehash stalled for 2, 4, 7.6 and
//! 16.7 ms at 2.4M, 4.9M, 9.7M and 19.4M keys (the old array freed at once); see
//! perf/RESULTS.md for the figures since and for an idle spinner's gaps on the same VM.

use std::time::{Duration, Instant};

use shardis::store::{Expiry, Store, StrValue, Value};

#[global_allocator]
static ALLOC: shardis::alloc::Counting = shardis::alloc::Counting;

/// This thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the kernel leaves out steal) and minor
/// page faults so far.
fn thread_usage() -> (Duration, i64) {
    // SAFETY: both calls fill the zeroed structs they are given.
    let (mut ts, mut u): (libc::timespec, libc::rusage) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        libc::getrusage(libc::RUSAGE_THREAD, &mut u);
    }
    (Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32), u.ru_minflt)
}

/// Inserts per batch: each slow insert is reported with its batch's wall time, this thread's
/// CPU time and page faults over the batch (getrusage per insert would cost more than an insert).
const BATCH: usize = 256;

fn main() {
    // `cargo bench` passes `--bench`; the key count is the first numeric argument.
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000_000);
    let mut store = Store::new(1, 0);
    let value = [b'x'; 32];
    let mut slow = Vec::new();
    let start = Instant::now();
    let mut key = String::new();
    let mut batch_slow = Vec::new();
    let (mut batch_start, mut batch_usage) = (Instant::now(), thread_usage());
    for i in 0..n {
        use std::fmt::Write as _;
        key.clear();
        let _ = write!(key, "key:{:012}", 100_000_000_000u64 + i as u64);
        let t = Instant::now();
        store.db(0).set(key.as_bytes(), Value::Str(StrValue::from_input(&value)), Expiry::Clear, 0);
        let took = t.elapsed();
        if took > Duration::from_millis(1) {
            batch_slow.push((i, took.as_micros()));
        }
        if (i + 1) % BATCH == 0 || i + 1 == n {
            if !batch_slow.is_empty() {
                let (cpu, faults) = thread_usage();
                let wall = batch_start.elapsed();
                for (i, us) in batch_slow.drain(..) {
                    slow.push((i, us, wall, cpu - batch_usage.0, faults - batch_usage.1));
                }
            }
            (batch_start, batch_usage) = (Instant::now(), thread_usage());
        }
    }
    let worst = slow.iter().map(|s| s.1).max().unwrap_or(0);
    println!("{n} inserts in {:.1} s; {} over 1 ms, the longest {worst} µs", start.elapsed().as_secs_f64(), slow.len());
    for (i, us, wall, cpu, faults) in slow {
        println!(
            "  insert {i}: {us} µs; its batch of {BATCH}: {:.2} ms wall, {:.2} ms thread CPU, {faults} page faults",
            wall.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3
        );
    }
}
