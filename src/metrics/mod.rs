//! Prometheus metrics (`metrics-port N`, off by default): `GET /metrics` over HTTP in the
//! Prometheus text format (version 0.0.4).
//!
//! # Design: shards publish, the endpoint reads
//!
//! ```text
//!   shard 0 thread                      shard 1 thread             metrics thread
//!   counters in RefCells                counters in RefCells       (std, blocking I/O)
//!        |  every 1 s: changed?              |                          |
//!        v  yes: build a snapshot            v                          |  GET /metrics
//!   Board slot 0: Mutex<Arc<Snapshot>>  Board slot 1  <---- clone the Arcs, add live
//!                                                            atomics, encode, reply
//! ```
//!
//! A shard's counters (command calls, latency histograms, error codes, keys per database,
//! hits, misses, expirations, evictions, bytes read and written) live in `RefCell`s only its
//! own thread may touch. Rather than asking the shards at each scrape (INFO sends every
//! shard a closure through its mailbox), each shard runs [`publish::publish_loop`] while
//! metrics are on: once a second it adds up a few of those counters (no allocation) and,
//! only when the sum differs from the last one, builds a [`publish::Snapshot`] (a latency
//! histogram is converted to Prometheus buckets only when its command ran since) and swaps
//! it into its slot of the [`Board`] in [`crate::shard::Shared`]. A scrape clones the
//! slots' `Arc`s (each mutex is held for one pointer swap or clone), reads the values that
//! are atomics anyway (memory, connections, blocked clients, pub/sub counts, mailbox
//! depths) live, and encodes everything with `prometheus-client` ([`render`]). So a scrape
//! never makes a shard do work, however often it comes; the shard-side numbers are at most
//! a second old; an idle shard wakes once a second to compare a sum and goes back to sleep;
//! and with metrics off nothing runs at all. The commands themselves pay nothing: the
//! counters they update are the ones INFO already reads.
//!
//! The HTTP side (`http.rs`, [`Endpoint`]) is one plain thread with a blocking listener on the first
//! `bind` address that binds: it answers `GET` and `HEAD /metrics`, 404 for other paths,
//! 405 for other methods and 400 for anything it cannot parse, one connection at a time
//! with a 5 s deadline per request, and stops when the shards have stopped.
//!
//! # Metric families
//! See [`render`]: per command (`cmd`), per error code (`code`), per database (`db`), per
//! shard (`shard`), and server-wide gauges and counters, all prefixed `shardis_`.

mod http;
pub mod publish;
pub mod render;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub use http::{Bound, Endpoint};
pub use publish::{start_shard, Snapshot};

/// Where shards publish their snapshots: one slot per shard.
#[derive(Debug)]
pub struct Board {
    slots: Vec<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    /// The shard's latest snapshot (`None` until it first publishes).
    snapshot: Mutex<Option<Arc<Snapshot>>>,
    /// When (Unix ms) the shard last looked at its counters, changed or not.
    checked_ms: AtomicU64,
}

impl Board {
    /// A board for `shards` shards, with nothing published.
    pub fn new(shards: usize) -> Self {
        Board { slots: (0..shards).map(|_| Slot::default()).collect() }
    }

    /// Shard `shard` publishes `snapshot`.
    pub fn publish(&self, shard: usize, snapshot: Arc<Snapshot>) {
        let old = self.slots[shard].snapshot.lock().expect("metrics slot lock").replace(snapshot);
        // The old snapshot is freed here, outside the lock.
        drop(old);
    }

    /// Shard `shard` looked at its counters at `now_ms`.
    pub fn checked(&self, shard: usize, now_ms: u64) {
        self.slots[shard].checked_ms.store(now_ms, Relaxed);
    }

    /// Every shard's latest snapshot and when it last checked its counters, in shard order.
    pub fn read(&self) -> Vec<(Option<Arc<Snapshot>>, u64)> {
        self.slots.iter().map(|s| (s.snapshot.lock().expect("metrics slot lock").clone(), s.checked_ms.load(Relaxed))).collect()
    }
}

/// Whether metrics are on (`metrics-port` > 0).
pub fn enabled(shared: &crate::shard::Shared) -> bool {
    shared.config.num(crate::config::P::MetricsPort) > 0
}
