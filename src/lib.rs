//! shardis: a Redis-compatible, thread-per-core, shared-nothing in-memory data store.
//!
//! # Thread model
//!
//! ```text
//!            clients (RESP2/RESP3 over TCP)
//!               |        |        |
//!   SO_REUSEPORT listeners on every shard; accepted sockets are dealt round-robin
//!               v        v        v
//!   +-----------------+   crossbeam    +-----------------+
//!   | shard 0 (core 0)| <------------> | shard 1 (core 1)|  ... one glommio executor
//!   |  connections    |   Msg::Exec    |  connections    |      pinned per core
//!   |  store: dbs[]   |   Msg::Replies |  store: dbs[]   |
//!   |  expiry wheel   |   Msg::Call    |  expiry wheel   |
//!   +-----------------+                +-----------------+
//! ```
//!
//! A key belongs to the shard owning its Redis Cluster hash slot ([`shard::route`]). A
//! connection lives on one shard; [`shard::execute_batch`] plans each pipeline batch: commands
//! on local keys run inline, commands on remote keys travel to their shard in one message per
//! destination, and the replies are put back in request order before one write.
//!
//! # Layout
//! - [`protocol`]: bytes ↔ requests and replies (RESP2/RESP3, inline); knows no commands.
//! - [`command`]: the command table (single source of truth) and one file per family.
//! - [`store`]: per-shard data with no I/O: hash table, values, timer wheel, globs.
//! - [`shard`]: executors, mailboxes, routing, dispatch, sessions.
//! - [`net`]: listeners and the connection loop.
//! - [`metrics`]: Prometheus metrics over HTTP (`metrics-port`), published by the shards.
//! - [`embed`]: the engine in-process, without TCP.
//! - [`config`]: Redis 7.0's parameters, the config file, CONFIG GET/SET/REWRITE.
//! - [`alloc`]: the counting global allocator behind `used_memory` and `maxmemory`.
//! - [`notify`]: keyspace notification flags and channels.
//! - [`pubsub`]: the subscription registry shared by all shards.
//! - [`persist`]: the RDB format (values, entries, files; DUMP and RESTORE payloads),
//!   forkless snapshots (SAVE, BGSAVE, save points, SHUTDOWN) and loading at start-up.
//! - [`script`]: Lua scripts and function libraries, atomic across shards.
//! - [`slowlog`], [`latency`]: the slow log and the latency monitor (SLOWLOG, LATENCY).
//! - [`tracking`]: client-side caching (CLIENT TRACKING) and out-of-band pushes.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod alloc;
pub mod command;
pub mod config;
pub mod embed;
pub mod latency;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod num;
pub mod persist;
pub mod protocol;
pub mod pubsub;
pub mod script;
pub mod shard;
pub mod slowlog;
pub mod store;
pub mod tracking;

pub use embed::Engine;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
