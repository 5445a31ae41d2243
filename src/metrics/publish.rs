//! The shard side of the metrics: each shard's task that copies its counters into its slot of
//! the [`super::Board`] once a second, when they changed.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::shard::stats::CallStats;
use crate::shard::ShardLocal;
use crate::store::{now_ms, DbStats};

/// How often a shard looks at its counters (and publishes them when they changed).
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// Upper bounds, in nanoseconds, of the latency buckets: 1-2-5 steps from 1 µs to 10 s.
/// (The shards' histograms stop at 1 s, Redis's shape: a slower call counts as 1 s.)
pub const BOUNDS_NS: [u64; 22] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    1_000_000_000,
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// What a shard published: a copy of its counters at `at_ms`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// When it was taken (Unix ms).
    pub at_ms: u64,
    /// Per command, sorted by name.
    pub commands: Vec<CommandSnapshot>,
    /// Error replies by code.
    pub errors: Vec<(String, u64)>,
    /// Per database, by index.
    pub dbs: Vec<DbSnapshot>,
    /// Bytes read from this shard's clients.
    pub net_input: u64,
    /// Bytes written to this shard's clients.
    pub net_output: u64,
    /// Commands this shard ran for other shards.
    pub remote_jobs: u64,
    /// Keys with blocked clients on this shard.
    pub blocking_keys: u64,
}

impl Snapshot {
    /// Commands run on this shard (the sum of the per-command calls).
    pub fn ops(&self) -> u64 {
        self.commands.iter().map(|c| c.calls.calls).sum()
    }

    /// Keys on this shard over every database.
    pub fn keys(&self) -> u64 {
        self.dbs.iter().map(|d| d.keys).sum()
    }

    fn command(&self, name: &str) -> Option<&CommandSnapshot> {
        self.commands.binary_search_by(|c| c.name.cmp(name)).ok().map(|i| &self.commands[i])
    }
}

/// One command's counters on one shard.
#[derive(Debug, Clone)]
pub struct CommandSnapshot {
    /// The command's full name (`client|list`).
    pub name: &'static str,
    /// Calls, time, failures, rejections.
    pub calls: CallStats,
    /// Its latency histogram as buckets; `None` when nothing was recorded
    /// (`latency-tracking no`).
    pub latency: Option<Latency>,
}

/// A latency histogram in Prometheus's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Calls recorded.
    pub count: u64,
    /// Their total time in seconds.
    pub sum_seconds: f64,
    /// Calls per bucket (not cumulative): `buckets[i]` took at most `BOUNDS_NS[i]` and more
    /// than the bound before; the last counts those above every bound.
    pub buckets: [u64; BOUNDS_NS.len() + 1],
}

impl Latency {
    /// The buckets of histogram `h` (nanoseconds), whose command's counters are `calls`.
    /// Values are placed by the lowest value of their histogram bucket, so a call lands in
    /// the right Prometheus bucket to the histogram's precision (2 significant digits).
    pub fn of(h: &Histogram<u64>, calls: &CallStats) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let mut buckets = [0; BOUNDS_NS.len() + 1];
        for v in h.iter_recorded() {
            let low = h.lowest_equivalent(v.value_iterated_to());
            buckets[BOUNDS_NS.partition_point(|&b| b < low)] += v.count_at_value();
        }
        let count = h.len();
        // The exact total when every call was recorded, else the histogram's estimate.
        let sum_ns = if count == calls.calls { calls.nanos as f64 } else { h.mean() * count as f64 };
        Some(Latency { count, sum_seconds: sum_ns / 1e9, buckets })
    }

    /// Adds `other`'s calls (another shard's) to these.
    pub fn add(&mut self, other: &Latency) {
        self.count += other.count;
        self.sum_seconds += other.sum_seconds;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }
}

/// One database's counters on one shard.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbSnapshot {
    /// Keys (those whose time passed count until they are reclaimed, as in INFO keyspace).
    pub keys: u64,
    /// Keys with an expiry.
    pub expiring: u64,
    /// Hits, misses, expirations, evictions.
    pub stats: DbStats,
}

/// A few sums of a shard's counters, cheap to take (no allocation): when they have not
/// moved, neither has anything a snapshot shows, so nothing is published.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Pulse {
    calls: u64,
    nanos: u64,
    rejected: u64,
    errors: u64,
    keys: u64,
    expiring: u64,
    lookups: u64,
    removed: u64,
    net: (u64, u64),
    remote_jobs: u64,
    blocking_keys: u64,
}

fn pulse(local: &ShardLocal) -> Pulse {
    let mut p = Pulse::default();
    {
        let stats = local.stats.borrow();
        for r in stats.records() {
            p.calls += r.calls.calls;
            p.nanos += r.calls.nanos;
            p.rejected += r.calls.rejected;
        }
        p.errors = stats.error_counts().map(|(_, n)| n).sum();
    }
    for d in local.store.borrow().dbs() {
        p.keys += d.len() as u64;
        p.expiring += d.volatile() as u64;
        p.lookups += d.stats.hits + d.stats.misses;
        p.removed += d.stats.expired + d.stats.evicted;
    }
    let net = local.net.get();
    p.net = (net.input, net.output);
    p.remote_jobs = local.remote_jobs.get();
    p.blocking_keys = local.blocking_keys() as u64;
    p
}

/// Copies the shard's counters; a command whose counters did not move since `prev` keeps
/// its buckets from there rather than walking its histogram again.
fn snapshot(local: &ShardLocal, prev: Option<&Snapshot>, now: u64) -> Snapshot {
    let (mut commands, errors) = {
        let stats = local.stats.borrow();
        let commands: Vec<CommandSnapshot> = stats
            .records()
            .map(|r| {
                let unchanged = prev.and_then(|p| p.command(r.name)).filter(|c| {
                    c.calls.calls == r.calls.calls && c.calls.nanos == r.calls.nanos && c.latency.map_or(0, |l| l.count) == r.latency.len()
                });
                let latency = match unchanged {
                    Some(c) => c.latency,
                    None => Latency::of(&r.latency, &r.calls),
                };
                CommandSnapshot { name: r.name, calls: r.calls, latency }
            })
            .collect();
        (commands, stats.error_counts().map(|(code, n)| (code.to_string(), n)).collect())
    };
    commands.sort_unstable_by_key(|c| c.name);
    let dbs = local
        .store
        .borrow()
        .dbs()
        .iter()
        .map(|d| DbSnapshot { keys: d.len() as u64, expiring: d.volatile() as u64, stats: d.stats })
        .collect();
    let net = local.net.get();
    Snapshot {
        at_ms: now,
        commands,
        errors,
        dbs,
        net_input: net.input,
        net_output: net.output,
        remote_jobs: local.remote_jobs.get(),
        blocking_keys: local.blocking_keys() as u64,
    }
}

/// Starts the shard's publishing task when metrics are on.
pub fn start_shard(local: &Rc<ShardLocal>) {
    if super::enabled(&local.shared) {
        local.spawn(publish_loop(local.clone()));
    }
}

/// Every [`PUBLISH_EVERY`]: when the shard's counters moved, publishes a snapshot of them;
/// in any case, notes when it looked. Ends with the shard.
pub async fn publish_loop(local: Rc<ShardLocal>) {
    let mut last: Option<Pulse> = None;
    let mut prev: Option<Arc<Snapshot>> = None;
    loop {
        let now = now_ms();
        let p = pulse(&local);
        if last != Some(p) {
            let snap = Arc::new(snapshot(&local, prev.as_deref(), now));
            local.shared.metrics.publish(local.id, snap.clone());
            prev = Some(snap);
            last = Some(p);
        }
        local.shared.metrics.checked(local.id, now);
        glommio::timer::sleep(PUBLISH_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::stats::new_histogram;

    fn calls(n: u64, nanos: u64) -> CallStats {
        CallStats { calls: n, nanos, failed: 0, rejected: 0 }
    }

    #[test]
    fn empty_histogram_has_no_latency() {
        assert_eq!(Latency::of(&new_histogram(), &calls(3, 30)), None);
    }

    #[test]
    fn calls_land_in_their_bucket() {
        let mut h = new_histogram();
        for ns in [500, 1_000, 1_500, 3_000, 999_999_999, 1_000_000_000] {
            h.record(ns).unwrap();
        }
        let l = Latency::of(&h, &calls(6, 123)).unwrap();
        assert_eq!(l.count, 6);
        assert_eq!(l.buckets[0], 2, "500 ns and 1 µs are at most 1 µs");
        assert_eq!(l.buckets[1], 1, "1.5 µs");
        assert_eq!(l.buckets[2], 1, "3 µs");
        assert_eq!(l.buckets[18], 2, "just under 1 s and 1 s");
        assert_eq!(l.buckets.iter().sum::<u64>(), 6);
        // Every call was recorded: the sum is the exact total.
        assert_eq!(l.sum_seconds, 123e-9);
    }

    #[test]
    fn partly_recorded_sum_is_estimated() {
        let mut h = new_histogram();
        h.record(2_000).unwrap();
        let l = Latency::of(&h, &calls(5, 1)).unwrap();
        assert!((l.sum_seconds - 2e-6).abs() < 1e-7, "{}", l.sum_seconds);
    }

    #[test]
    fn latencies_add_up() {
        let mut h = new_histogram();
        h.record(2_000).unwrap();
        let mut a = Latency::of(&h, &calls(1, 2_000)).unwrap();
        a.add(&a.clone());
        assert_eq!(a.count, 2);
        assert_eq!(a.buckets[1], 2);
        assert_eq!(a.sum_seconds, 4e-6);
    }
}
