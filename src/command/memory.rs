//! MEMORY: USAGE (per key, on its shard), STATS and DOCTOR (over every shard), MALLOC-STATS,
//! PURGE and HELP.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::args::{eq_ic, parse_int};
use super::error::{CmdError, CmdResult};
use super::flags::{LOADING, RANDOM, READONLY};
use super::info::rss_bytes;
use super::server::help_reply;
use super::{CommandSpec, Route};
use crate::protocol::Reply;
use crate::shard::{call_all, Session, ShardCtx};

const NOKEY: (i32, i32, i32) = (0, 0, 0);
/// Elements of a collection MEMORY USAGE samples by default (Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES).
const DEFAULT_SAMPLES: usize = 5;

/// The MEMORY container.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("memory", -2, 0, NOKEY, "server", Route::Parent).subs(MEMORY_SUBS).doc(
    "A container for memory diagnostics commands.",
    "4.0.0",
    "Depends on subcommand.",
    "",
)];

static MEMORY_SUBS: &[CommandSpec] = &[
    CommandSpec::new("memory|usage", -3, READONLY, (2, 2, 1), "server", Route::Shard(usage)).doc(
        "Estimates the memory usage of a key.",
        "4.0.0",
        "O(N) where N is the number of samples.",
        "key [SAMPLES count:integer]",
    ),
    CommandSpec::new("memory|stats", 2, 0, NOKEY, "server", Route::Coordinator(stats)).doc(
        "Returns details about memory usage.",
        "4.0.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("memory|doctor", 2, 0, NOKEY, "server", Route::Session(doctor)).doc(
        "Outputs a memory problems report.",
        "4.0.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("memory|malloc-stats", 2, 0, NOKEY, "server", Route::Session(malloc_stats)).doc(
        "Returns the allocator statistics.",
        "4.0.0",
        "Depends on how much memory is allocated, could be slow",
        "",
    ),
    CommandSpec::new("memory|purge", 2, 0, NOKEY, "server", Route::Session(purge)).doc(
        "Asks the allocator to release memory.",
        "4.0.0",
        "Depends on how much memory is allocated, could be slow",
        "",
    ),
    CommandSpec::new("memory|help", 2, RANDOM | LOADING, NOKEY, "server", Route::Session(help)).doc(
        "Returns helpful text about the different subcommands.",
        "4.0.0",
        "O(1)",
        "",
    ),
];

/// `MEMORY USAGE key [SAMPLES count]`: bytes held for the key, or nil.
fn usage(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < a.len() {
        if eq_ic(&a[j], "samples") && j + 1 < a.len() {
            let n = parse_int(&a[j + 1])?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            // 0 samples everything.
            samples = n as usize;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.now;
    Ok(ctx.db().peek(&a[2], now).map_or(Reply::Nil, |e| Reply::Int(e.memory_usage(samples) as i64)))
}

/// One database's keys and the bytes of its table and expiry timers, on one shard.
#[derive(Debug, Default, Clone, Copy)]
struct DbOverhead {
    keys: u64,
    table: u64,
    timers: u64,
}

/// `MEMORY STATS`: Redis's fields that shardis can account for.
fn stats(s: &mut Session, _a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let per_shard = call_all(&s.local, |sh| {
            sh.store
                .borrow()
                .dbs()
                .iter()
                .map(|d| DbOverhead { keys: d.len() as u64, table: d.table_bytes() as u64, timers: d.timer_bytes() as u64 })
                .collect::<Vec<_>>()
        })
        .await;
        let mut dbs = vec![DbOverhead::default(); per_shard.first().map_or(0, Vec::len)];
        for shard in &per_shard {
            for (sum, d) in dbs.iter_mut().zip(shard) {
                sum.keys += d.keys;
                sum.table += d.table;
                sum.timers += d.timers;
            }
        }
        let shared = &s.local.shared;
        let total = crate::alloc::used_memory();
        let peak = crate::alloc::peak_memory().max(total);
        let startup = shared.startup_memory.load(Relaxed).min(total);
        let keys: u64 = dbs.iter().map(|d| d.keys).sum();
        let overhead = startup + dbs.iter().map(|d| d.table + d.timers).sum::<u64>();
        let dataset = total.saturating_sub(overhead);
        let rss = rss_bytes();
        let name = |n: &str| Reply::bulk(n.as_bytes());
        let mut m = vec![
            (name("peak.allocated"), Reply::Int(peak as i64)),
            (name("total.allocated"), Reply::Int(total as i64)),
            (name("startup.allocated"), Reply::Int(startup as i64)),
        ];
        for (i, d) in dbs.iter().enumerate().filter(|(_, d)| d.keys > 0) {
            let inner = vec![
                (name("overhead.hashtable.main"), Reply::Int(d.table as i64)),
                (name("overhead.hashtable.expires"), Reply::Int(d.timers as i64)),
            ];
            m.push((Reply::bulk(format!("db.{i}").as_bytes()), Reply::Map(inner)));
        }
        let pct = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 };
        m.extend([
            (name("overhead.total"), Reply::Int(overhead as i64)),
            (name("keys.count"), Reply::Int(keys as i64)),
            (name("keys.bytes-per-key"), Reply::Int(total.saturating_sub(startup).checked_div(keys).unwrap_or(0) as i64)),
            (name("dataset.bytes"), Reply::Int(dataset as i64)),
            (name("dataset.percentage"), Reply::Double(pct(dataset, total.saturating_sub(startup)))),
            (name("peak.percentage"), Reply::Double(pct(total, peak))),
            (name("fragmentation"), Reply::Double(rss as f64 / total.max(1) as f64)),
            (name("fragmentation.bytes"), Reply::Int(rss as i64 - total as i64)),
        ]);
        Ok(Reply::Map(m))
    })
}

/// `MEMORY DOCTOR`: Redis's report, for the conditions shardis can see.
fn doctor(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    let used = crate::alloc::used_memory();
    let peak = crate::alloc::peak_memory();
    let rss = rss_bytes();
    let report = if used < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else {
        let mut issues = String::new();
        if peak as f64 > used as f64 * 1.5 {
            issues.push_str(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
        }
        if rss as f64 > used as f64 * 1.4 {
            issues.push_str(&format!(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"{}\".\n\n", crate::alloc::ALLOCATOR));
        }
        if issues.is_empty() {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
        } else {
            format!("Sam, I detected a few issues in this Redis instance memory implants:\n\n{issues}I'm here to keep you safe, Sam. I want to help you.\n")
        }
    };
    Ok(Reply::Verbatim(Bytes::from(report)))
}

/// `MEMORY MALLOC-STATS`: Redis's reply for an allocator without a stats report.
fn malloc_stats(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::bulk(b"Stats not supported for the current allocator"))
}

/// `MEMORY PURGE`: freed pages return to the OS as the allocator decides.
fn purge(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::OK)
}

fn help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    ))
}
