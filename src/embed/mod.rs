//! The engine in-process: the same shards, commands and semantics as the server, called from
//! the host program's own threads and async tasks instead of over TCP.
//!
//! ```
//! use shardis::embed::{Engine, SetOptions};
//! use std::time::Duration;
//!
//! let engine = Engine::builder().shards(2).unpinned().start().unwrap();
//! let client = engine.client();
//! client.set("greeting", "hello").unwrap();
//! assert_eq!(client.get::<String>("greeting").unwrap().as_deref(), Some("hello"));
//! client.set_with::<String>("session", "x", SetOptions::default().ttl(Duration::from_secs(60))).unwrap();
//! assert_eq!(client.incr("hits").unwrap(), 1);
//! engine.stop();
//! ```
//!
//! # Layout
//! - [`Engine`], [`EngineBuilder`] (this file): start, configure, serve TCP too, stop.
//! - [`Client`] / [`AsyncClient`] (`client.rs`): any command from any thread or runtime;
//!   how a call reaches its shard and how the caller waits.
//! - typed methods (`typed.rs`): one list of the everyday commands, generated for every handle.
//! - [`Pipeline`] (`pipeline.rs`): batches, and MULTI/EXEC transactions.
//! - [`Conn`] / [`AsyncConn`] (`conn.rs`): a dedicated session for WATCH and other state
//!   across calls; optimistic transactions.
//! - [`Subscriber`] (`subscriber.rs`): pub/sub and keyspace notifications as values.
//! - [`NsMap`] (`map.rs`): a typed map over a key prefix, with change events.
//! - [`Error`], [`FromReply`], [`ToArg`] (`value.rs`): arguments in, typed values out.

mod client;
mod conn;
mod map;
mod pipeline;
mod subscriber;
mod typed;
mod value;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use thiserror::Error as ThisError;

pub use client::{AsyncClient, Client, Cmd, IntoArgs};
pub use conn::{AsyncConn, Conn};
pub use map::{MapEvent, MapEvents, NsMap};
pub use pipeline::{Pipeline, RunsBatch, RunsBatchAsync};
pub use subscriber::Subscriber;
pub use typed::{Condition, End, Expiry, SetOptions};
pub use value::{check, Error, FromReply, Result, ToArg};

pub use crate::pubsub::Kind;
pub use crate::shard::Message;

use crate::config::{Config, ConfigError};
use crate::shard::{ShardSet, Shared, StartError};

/// Why an engine did not start.
#[derive(Debug, ThisError)]
pub enum EngineError {
    /// A setting was refused (its name and Redis's error).
    #[error("bad setting '{0}': {1}")]
    Config(String, ConfigError),
    /// A memory budget was set, but the program's global allocator is not
    /// [`crate::alloc::Counting`], so memory cannot be counted against it.
    #[error("maxmemory needs `#[global_allocator] static A: shardis::alloc::Counting = shardis::alloc::Counting;` in the program")]
    NoAccounting,
    /// The shards could not start or the port could not be bound.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// How an engine is configured before it starts: `Engine::builder().shards(4).start()`.
/// Every redis.conf directive the server knows can be given with [`EngineBuilder::config`];
/// the named methods cover the usual ones.
#[derive(Debug)]
pub struct EngineBuilder {
    config: Config,
    serve_tcp: bool,
    error: Option<EngineError>,
}

impl EngineBuilder {
    /// Sets any directive, as redis.conf or `--name value` would.
    pub fn config(mut self, name: &str, value: &str) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(name, value, true) {
                self.error = Some(EngineError::Config(name.to_string(), e));
            }
        }
        self
    }

    /// Number of shards (threads); 0 means one per CPU.
    pub fn shards(self, n: usize) -> Self {
        self.config("threads", &n.to_string())
    }

    /// Pins shard `i` to CPU `i` (the default, when there are no more shards than CPUs).
    pub fn pinned(self) -> Self {
        self.config("pin-cpus", "yes")
    }

    /// Leaves shard threads to the OS scheduler: for hosts whose own threads own the cores.
    pub fn unpinned(self) -> Self {
        self.config("pin-cpus", "no")
    }

    /// Keeps each shard watching its mailbox for `spin` after its last message before it
    /// sleeps: a caller that calls again within that time finds it awake (an in-process GET
    /// then takes about 2 µs instead of a thread wake-up, `perf/RESULTS.md`). Costs that much
    /// CPU after each burst of calls, and other tasks of the shard wait at most that long;
    /// 0 (the default) sleeps at once.
    pub fn spin_before_park(self, spin: std::time::Duration) -> Self {
        self.config("spin-before-park-us", &spin.as_micros().to_string())
    }

    /// Number of logical databases.
    pub fn databases(self, n: usize) -> Self {
        self.config("databases", &n.to_string())
    }

    /// The memory budget, with Redis's units (`"100mb"`, `"2gb"`). Memory is counted by
    /// [`crate::alloc::Counting`], which the program must install as its global allocator.
    pub fn maxmemory(self, budget: &str) -> Self {
        self.config("maxmemory", budget)
    }

    /// What to evict at the budget (`allkeys-lru`, `volatile-ttl`, `noeviction`...).
    pub fn maxmemory_policy(self, policy: &str) -> Self {
        self.config("maxmemory-policy", policy)
    }

    /// Keyspace notification classes (`"KEA"`, `"Kgx$"`...), as `notify-keyspace-events`.
    pub fn notify_keyspace_events(self, flags: &str) -> Self {
        self.config("notify-keyspace-events", flags)
    }

    /// Also serves the Redis protocol on `port` of 127.0.0.1 (0: any free port, see
    /// [`Engine::port`]), so redis-cli can look at the embedded store.
    pub fn serve_tcp(mut self, port: u16) -> Self {
        self.serve_tcp = true;
        self.config("port", &port.to_string()).config("bind", "127.0.0.1")
    }

    /// Starts the shards.
    pub fn start(self) -> std::result::Result<Engine, EngineError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.config.num(crate::config::P::Maxmemory) > 0 && !crate::alloc::counting() {
            return Err(EngineError::NoAccounting);
        }
        Ok(Engine::from_set(ShardSet::start(self.config, self.serve_tcp)?))
    }
}

/// A running engine: its shards, and the handles to call them. Dropping it stops it, as
/// [`Engine::stop`] does.
#[derive(Debug)]
pub struct Engine {
    shards: Option<ShardSet>,
    core: Arc<client::Core>,
}

impl Engine {
    /// A builder with the server's defaults (one shard per CPU, 16 databases, no budget).
    pub fn builder() -> EngineBuilder {
        EngineBuilder { config: Config::default(), serve_tcp: false, error: None }
    }

    /// Starts the shards described by `config` (no TCP listener).
    pub fn start(config: Config) -> std::result::Result<Engine, StartError> {
        Ok(Engine::from_set(ShardSet::start(config, false)?))
    }

    /// Starts the shards and also serves TCP on the configured addresses and port.
    pub fn start_serving(config: Config) -> std::result::Result<Engine, StartError> {
        Self::start_serving_with(config, &mut |_| {})
    }

    /// [`Engine::start_serving`], calling `listening` with the TCP port once it is bound, before
    /// the RDB file (if any) loads.
    pub fn start_serving_with(config: Config, listening: &mut dyn FnMut(u16)) -> std::result::Result<Engine, StartError> {
        Ok(Engine::from_set(ShardSet::start_with(config, true, listening)?))
    }

    fn from_set(set: ShardSet) -> Engine {
        let core = client::Core::new(set.shared.clone());
        Engine { shards: Some(set), core }
    }

    /// A handle for calls from any thread, database 0.
    pub fn client(&self) -> Client {
        Client::new(self.core.clone())
    }

    /// The async flavour of [`Engine::client`].
    pub fn async_client(&self) -> AsyncClient {
        self.client().to_async()
    }

    /// The TCP port served (0 when not serving).
    pub fn port(&self) -> u16 {
        self.core.shared.tcp_port.load(Relaxed) as u16
    }

    /// The state shared by the shards (for signal handlers and statistics).
    pub fn shared(&self) -> Arc<Shared> {
        self.core.shared.clone()
    }

    /// Asks the shards to stop without waiting.
    pub fn request_stop(&self) {
        self.core.shared.shutdown();
    }

    /// Blocks until the engine stops (SHUTDOWN, a signal, or [`Engine::request_stop`]).
    pub fn wait(mut self) {
        self.join();
    }

    /// Stops every shard and joins their threads. Calls still in flight, and any made later
    /// through a surviving handle, fail with [`Error::Stopped`].
    pub fn stop(mut self) {
        self.core.shared.shutdown();
        self.join();
    }

    fn join(&mut self) {
        if let Some(set) = self.shards.take() {
            set.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.shards.is_some() {
            self.core.shared.shutdown();
            self.join();
        }
    }
}
