//! The scrape: the shards' published snapshots plus the server-wide values that are atomics
//! anyway, encoded in the Prometheus text format by `prometheus-client`.
//!
//! Families (all prefixed `shardis_`; counters end in `_total`):
//!
//! | family | type | labels | what |
//! | --- | --- | --- | --- |
//! | `build_info` | gauge (1) | `version`, `redis_version` | the build |
//! | `uptime_seconds`, `shards` | gauge | | time since start, shard count |
//! | `commands_total` | counter | `cmd` | calls that ran (INFO commandstats `calls`) |
//! | `command_failed_calls_total` | counter | `cmd` | calls that ran and replied an error |
//! | `command_rejected_calls_total` | counter | `cmd` | calls refused before running |
//! | `command_duration_seconds` | histogram | `cmd` | latency, buckets 1 µs..10 s (1-2-5) |
//! | `errors_total` | counter | `code` | error replies by code (INFO errorstats) |
//! | `keys`, `expiring_keys` | gauge | `db` | keys, keys with an expiry |
//! | `keyspace_hits_total`, `keyspace_misses_total` | counter | `db` | read lookups |
//! | `expired_keys_total`, `evicted_keys_total` | counter | `db` | keys removed by time, by maxmemory |
//! | `memory_used_bytes`, `memory_rss_bytes`, `memory_peak_bytes`, `memory_max_bytes` | gauge | | allocated, resident, peak, budget (0: none) |
//! | `connected_clients`, `blocked_clients` | gauge | | clients now, blocked now |
//! | `connections_received_total`, `rejected_connections_total` | counter | | accepted, refused over maxclients |
//! | `pubsub_channels`, `pubsub_patterns`, `pubsub_shard_channels` | gauge | | names with subscribers |
//! | `net_input_bytes_total`, `net_output_bytes_total` | counter | `shard` | bytes read from and written to clients |
//! | `shard_commands_total`, `shard_remote_commands_total` | counter | `shard` | commands run, of which for other shards |
//! | `shard_keys`, `shard_blocking_keys`, `shard_mailbox_depth` | gauge | `shard` | keys, keys with blocked clients, messages waiting |
//! | `shard_publish_age_seconds` | gauge | `shard` | time since the shard last looked at its counters (about 1 s at most when it is not stuck) |
//!
//! A database is listed once it has keys or its counters moved (database 0 always).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::publish::{Latency, Snapshot, BOUNDS_NS};
use crate::config::P;
use crate::shard::stats::CallStats;
use crate::shard::Shared;
use crate::store::{now_ms, DbStats};

/// The `Content-Type` of the encoding.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The registry a metrics endpoint encodes: one collector reading `shared` at each scrape.
pub fn registry(shared: Arc<Shared>) -> Registry {
    let mut r = Registry::with_prefix("shardis");
    r.register_collector(Box::new(Scrape { shared }));
    r
}

/// Encodes `registry` in the Prometheus text format (version 0.0.4).
pub fn encode(registry: &Registry) -> Result<String, fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?;
    Ok(out)
}

#[derive(Debug)]
struct Scrape {
    shared: Arc<Shared>,
}

impl Collector for Scrape {
    fn encode(&self, enc: DescriptorEncoder<'_>) -> fmt::Result {
        View::gather(&self.shared).encode(enc)
    }
}

/// Server-wide values read at the scrape (atomics and registries the shards share).
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// Unix ms now.
    pub now_ms: u64,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// `used_memory` (the resident size when the counting allocator is not installed).
    pub used: u64,
    /// Resident set size.
    pub rss: u64,
    /// Peak of `used`.
    pub peak: u64,
    /// `maxmemory` (0: no budget).
    pub maxmemory: u64,
    /// Clients connected.
    pub connected: u64,
    /// Connections accepted since start.
    pub received: u64,
    /// Connections refused over maxclients.
    pub rejected: u64,
    /// Clients blocked.
    pub blocked: u64,
    /// Channels, patterns and shard channels with subscribers.
    pub pubsub: [u64; 3],
    /// Messages waiting in each shard's mailbox.
    pub mailboxes: Vec<u64>,
}

/// Everything one scrape shows.
#[derive(Debug, Default, Clone)]
pub struct View {
    /// Per shard: its latest snapshot (`None` before its first) and when it last looked at
    /// its counters (Unix ms).
    pub shards: Vec<(Option<Arc<Snapshot>>, u64)>,
    /// The live values.
    pub live: Live,
}

impl View {
    /// Reads the published snapshots and the live values; touches nothing a shard owns.
    pub fn gather(shared: &Shared) -> View {
        use crate::pubsub::Kind;
        let now = now_ms();
        let rss = crate::command::rss_bytes();
        let used = Some(crate::alloc::used_memory()).filter(|&u| u > 0).unwrap_or(rss);
        let live = Live {
            now_ms: now,
            uptime_seconds: now.saturating_sub(shared.started_ms) / 1000,
            used,
            rss,
            peak: crate::alloc::peak_memory().max(used),
            maxmemory: shared.config.num(P::Maxmemory).max(0) as u64,
            connected: shared.clients.len() as u64,
            received: shared.stats.connections_received.load(Relaxed),
            rejected: shared.stats.rejected_connections.load(Relaxed),
            blocked: shared.blocked_clients.load(Relaxed) as u64,
            pubsub: [Kind::Channel, Kind::Pattern, Kind::Shard].map(|k| shared.pubsub.len(k) as u64),
            mailboxes: shared.mailboxes.iter().map(|m| m.len() as u64).collect(),
        };
        View { shards: shared.metrics.read(), live }
    }

    fn published(&self) -> impl Iterator<Item = (usize, &Snapshot)> {
        self.shards.iter().enumerate().filter_map(|(i, (s, _))| s.as_deref().map(|s| (i, s)))
    }

    /// Encodes every family.
    pub fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let e = &mut enc;
        let live = &self.live;
        let info = [("version", env!("CARGO_PKG_VERSION")), ("redis_version", crate::command::REDIS_VERSION)];
        e.encode_descriptor("build", "The shardis version and the Redis version it is compatible with.", None, MetricType::Info)?
            .encode_info(&info)?;
        single(e, "uptime_seconds", "Seconds since the server started.", ConstGauge::new(live.uptime_seconds))?;
        single(e, "shards", "Shards (threads) serving the keyspace.", ConstGauge::new(self.shards.len() as u64))?;
        self.encode_commands(e)?;
        self.encode_keyspace(e)?;

        single(e, "memory_used_bytes", "Bytes allocated (INFO used_memory).", ConstGauge::new(live.used))?;
        single(e, "memory_rss_bytes", "Resident set size of the process.", ConstGauge::new(live.rss))?;
        single(e, "memory_peak_bytes", "Peak of memory_used_bytes.", ConstGauge::new(live.peak))?;
        single(e, "memory_max_bytes", "The maxmemory budget (0: none).", ConstGauge::new(live.maxmemory))?;
        single(e, "connected_clients", "Clients connected now.", ConstGauge::new(live.connected))?;
        single(e, "connections_received", "Connections accepted since start.", ConstCounter::new(live.received))?;
        single(e, "rejected_connections", "Connections refused over maxclients.", ConstCounter::new(live.rejected))?;
        single(e, "blocked_clients", "Clients waiting in a blocking command.", ConstGauge::new(live.blocked))?;
        single(e, "pubsub_channels", "Channels with subscribers.", ConstGauge::new(live.pubsub[0]))?;
        single(e, "pubsub_patterns", "Patterns with subscribers.", ConstGauge::new(live.pubsub[1]))?;
        single(e, "pubsub_shard_channels", "Shard channels with subscribers.", ConstGauge::new(live.pubsub[2]))?;

        let per_shard = |f: fn(&Snapshot) -> u64| self.published().map(move |(i, s)| (i.to_string(), f(s)));
        family(e, "net_input_bytes", "Bytes read from clients.", "shard", per_shard(|s| s.net_input).map(counter))?;
        family(e, "net_output_bytes", "Bytes written to clients.", "shard", per_shard(|s| s.net_output).map(counter))?;
        family(e, "shard_commands", "Commands the shard ran.", "shard", per_shard(Snapshot::ops).map(counter))?;
        family(
            e,
            "shard_remote_commands",
            "Commands the shard ran for another shard.",
            "shard",
            per_shard(|s| s.remote_jobs).map(counter),
        )?;
        family(e, "shard_keys", "Keys on the shard, all databases.", "shard", per_shard(Snapshot::keys).map(gauge))?;
        family(e, "shard_blocking_keys", "Keys on the shard with blocked clients.", "shard", per_shard(|s| s.blocking_keys).map(gauge))?;
        let depth = live.mailboxes.iter().enumerate().map(|(i, n)| (i.to_string(), ConstGauge::new(*n)));
        family(e, "shard_mailbox_depth", "Messages waiting in the shard's mailbox.", "shard", depth)?;
        let age = self
            .shards
            .iter()
            .enumerate()
            .filter(|(_, (_, checked))| *checked > 0)
            .map(|(i, (_, checked))| (i.to_string(), ConstGauge::new(live.now_ms.saturating_sub(*checked) as f64 / 1000.0)));
        family(e, "shard_publish_age_seconds", "Seconds since the shard last looked at its counters to publish them.", "shard", age)
    }

    fn encode_commands(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let mut merged: BTreeMap<&'static str, (CallStats, Option<Latency>)> = BTreeMap::new();
        for (_, s) in self.published() {
            for c in &s.commands {
                let (calls, latency) = merged.entry(c.name).or_default();
                calls.calls += c.calls.calls;
                calls.nanos += c.calls.nanos;
                calls.failed += c.calls.failed;
                calls.rejected += c.calls.rejected;
                match (latency.as_mut(), &c.latency) {
                    (Some(a), Some(b)) => a.add(b),
                    (None, b) => *latency = *b,
                    _ => {}
                }
            }
        }
        let rows = |f: fn(&CallStats) -> u64| merged.iter().map(move |(name, (c, _))| (name.to_string(), ConstCounter::new(f(c))));
        family(e, "commands", "Calls of each command that ran.", "cmd", rows(|c| c.calls))?;
        family(e, "command_failed_calls", "Calls that ran and replied with an error.", "cmd", rows(|c| c.failed))?;
        family(e, "command_rejected_calls", "Calls refused before they ran (arity, OOM, BUSY...).", "cmd", rows(|c| c.rejected))?;
        let bounds: Vec<f64> = BOUNDS_NS.iter().map(|&ns| ns as f64 / 1e9).collect();
        let mut fam = e.encode_descriptor(
            "command_duration_seconds",
            "Time each command took on its shard (latency-tracking).",
            None,
            MetricType::Histogram,
        )?;
        for (name, (_, latency)) in &merged {
            let Some(l) = latency else { continue };
            // Bucket counts as recorded (the encoder makes them cumulative); the calls over
            // the last bound are only in +Inf, which is the count.
            let buckets: Vec<(f64, u64)> = bounds.iter().copied().zip(l.buckets.iter().copied()).collect();
            let labels = [("cmd", *name)];
            fam.encode_family(&labels)?.encode_histogram::<NoLabelSet>(l.sum_seconds, l.count, &buckets, None)?;
        }
        let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
        for (_, s) in self.published() {
            for (code, n) in &s.errors {
                *errors.entry(code).or_default() += n;
            }
        }
        family(
            e,
            "errors",
            "Error replies by code (ERR, WRONGTYPE...).",
            "code",
            errors.iter().map(|(c, n)| (c.to_string(), ConstCounter::new(*n))),
        )
    }

    fn encode_keyspace(&self, e: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let dbs = self.published().map(|(_, s)| s.dbs.len()).max().unwrap_or(0);
        let mut rows: Vec<(u64, u64, DbStats)> = vec![(0, 0, DbStats::default()); dbs];
        for (_, s) in self.published() {
            for (row, d) in rows.iter_mut().zip(&s.dbs) {
                row.0 += d.keys;
                row.1 += d.expiring;
                row.2.hits += d.stats.hits;
                row.2.misses += d.stats.misses;
                row.2.expired += d.stats.expired;
                row.2.evicted += d.stats.evicted;
            }
        }
        let used =
            |(i, r): &(usize, &(u64, u64, DbStats))| *i == 0 || r.0 > 0 || r.1 > 0 || r.2.hits + r.2.misses + r.2.expired + r.2.evicted > 0;
        let listed: Vec<(usize, &(u64, u64, DbStats))> = rows.iter().enumerate().filter(used).collect();
        let each = |f: fn(&(u64, u64, DbStats)) -> u64| listed.iter().map(move |(i, r)| (i.to_string(), f(r)));
        family(e, "keys", "Keys in the database.", "db", each(|r| r.0).map(gauge))?;
        family(e, "expiring_keys", "Keys with an expiry in the database.", "db", each(|r| r.1).map(gauge))?;
        family(e, "keyspace_hits", "Read lookups that found their key.", "db", each(|r| r.2.hits).map(counter))?;
        family(e, "keyspace_misses", "Read lookups that found nothing.", "db", each(|r| r.2.misses).map(counter))?;
        family(e, "expired_keys", "Keys removed because their time passed.", "db", each(|r| r.2.expired).map(counter))?;
        family(e, "evicted_keys", "Keys removed to stay within maxmemory.", "db", each(|r| r.2.evicted).map(counter))
    }
}

fn counter((label, v): (String, u64)) -> (String, ConstCounter<u64>) {
    (label, ConstCounter::new(v))
}

fn gauge((label, v): (String, u64)) -> (String, ConstGauge<u64>) {
    (label, ConstGauge::new(v))
}

/// A family of one unlabelled metric.
fn single<M: EncodeMetric>(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, m: M) -> fmt::Result {
    m.encode(e.encode_descriptor(name, help, None, m.metric_type())?)
}

/// A family with one label `key`, one metric per `(label value, metric)` row; a family with
/// no rows yet (no errors so far, say) is left out.
fn family<M: EncodeMetric>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    key: &str,
    rows: impl IntoIterator<Item = (String, M)>,
) -> fmt::Result {
    let mut rows = rows.into_iter().peekable();
    let Some((_, first)) = rows.peek() else { return Ok(()) };
    let mut fam = e.encode_descriptor(name, help, None, first.metric_type())?;
    for (value, m) in rows {
        let labels = [(key, value.as_str())];
        m.encode(fam.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::publish::{CommandSnapshot, DbSnapshot};

    fn text(view: &View) -> String {
        #[derive(Debug)]
        struct Fixed(View);
        impl Collector for Fixed {
            fn encode(&self, enc: DescriptorEncoder<'_>) -> fmt::Result {
                self.0.encode(enc)
            }
        }
        let mut r = Registry::with_prefix("shardis");
        r.register_collector(Box::new(Fixed(view.clone())));
        encode(&r).unwrap()
    }

    fn shard(set_calls: u64, keys: u64) -> Snapshot {
        let mut h = crate::shard::stats::new_histogram();
        for _ in 0..set_calls {
            h.record(1_500).unwrap();
        }
        let calls = CallStats { calls: set_calls, nanos: set_calls * 1_500, failed: 1, rejected: 0 };
        Snapshot {
            at_ms: 1,
            commands: vec![CommandSnapshot { name: "set", calls, latency: Latency::of(&h, &calls) }],
            errors: vec![("WRONGTYPE".into(), 1)],
            dbs: vec![
                DbSnapshot { keys, expiring: 1, stats: DbStats::default() },
                DbSnapshot::default(),
                DbSnapshot { keys: 2, ..Default::default() },
            ],
            net_input: 10,
            net_output: 20,
            remote_jobs: 0,
            blocking_keys: 0,
        }
    }

    #[test]
    fn shards_add_up() {
        let view = View {
            shards: vec![(Some(Arc::new(shard(3, 5))), 1000), (Some(Arc::new(shard(4, 6))), 1500), (None, 0)],
            live: Live { now_ms: 2000, mailboxes: vec![0, 1, 2], ..Default::default() },
        };
        let t = text(&view);
        for line in [
            "shardis_commands_total{cmd=\"set\"} 7\n",
            "shardis_command_failed_calls_total{cmd=\"set\"} 2\n",
            "shardis_command_duration_seconds_bucket{cmd=\"set\",le=\"1e-06\"} 0\n",
            "shardis_command_duration_seconds_bucket{cmd=\"set\",le=\"2e-06\"} 7\n",
            "shardis_command_duration_seconds_bucket{cmd=\"set\",le=\"+Inf\"} 7\n",
            "shardis_command_duration_seconds_count{cmd=\"set\"} 7\n",
            "shardis_errors_total{code=\"WRONGTYPE\"} 2\n",
            "shardis_keys{db=\"0\"} 11\n",
            "shardis_keys{db=\"2\"} 4\n",
            "shardis_expiring_keys{db=\"0\"} 2\n",
            "shardis_shard_keys{shard=\"1\"} 8\n",
            "shardis_shard_mailbox_depth{shard=\"2\"} 2\n",
            "shardis_shard_publish_age_seconds{shard=\"0\"} 1.0\n",
            "shardis_net_input_bytes_total{shard=\"0\"} 10\n",
            "# TYPE shardis_build_info gauge\n",
        ] {
            assert!(t.contains(line), "no {line:?} in\n{t}");
        }
        assert!(!t.contains("db=\"1\""), "an unused database is not listed:\n{t}");
        assert!(!t.contains("shard_keys{shard=\"2\"}"), "a shard that never published has no snapshot rows:\n{t}");
    }

    #[test]
    fn nothing_published_still_encodes() {
        let t = text(&View { shards: vec![(None, 0)], live: Live { mailboxes: vec![0], ..Default::default() } });
        assert!(t.contains("shardis_uptime_seconds 0\n"), "{t}");
        assert!(t.contains("shardis_shard_mailbox_depth{shard=\"0\"} 0\n"), "{t}");
    }
}
