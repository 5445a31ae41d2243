//! Shards: one executor per core, each owning a slice of the keyspace, and the message
//! mesh between them.
//!
//! A command whose keys a remote shard owns travels there as a [`Job`] inside one
//! [`Msg::Exec`] per (pipeline batch, destination); the destination runs the batch and sends
//! all its replies for each origin back in one [`Msg::Replies`]. Coordinating commands
//! (SCAN, FLUSHDB, cross-shard RENAME...) use [`call`] to run a closure on a shard.

pub mod aof;
pub mod blocking;
pub mod claim;
mod dispatch;
mod evict;
mod fanout;
pub mod locks;
mod mailbox;
mod monitor;
mod push;
pub mod route;
mod session;
mod start;
pub mod stats;
mod stop;
mod tracking;
pub mod txn;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use futures::channel::oneshot;

use crate::command::{CmdResult, CommandSpec, ShardFn};
use crate::config::Config;
use crate::protocol::Reply;
use crate::store::{now_ms, Store};

pub use blocking::{Outcome, Waiter};
pub(crate) use dispatch::feed_monitors;
pub use dispatch::{execute_batch, execute_held, execute_replies, transaction_plan};
pub use fanout::Delivery;
pub use mailbox::Mailbox;
pub use push::{Message, MessageSink, Pushes, Subscriptions};
pub use session::{ClientMeta, MultiState, Session, WatchState};
pub use start::{ShardSet, StartError};
pub use stop::StopSignal;
pub use txn::{lock_all, lock_plan, run_when_free, under_locks, unlock_all, LockPlan};

use locks::{LockTable, Owner, Want};

/// A command sent to the shard that owns its keys.
#[derive(Debug)]
pub struct Job {
    /// The handler to run there.
    pub handler: ShardFn,
    /// The command (its name for statistics, its key positions for lock checks).
    pub spec: &'static CommandSpec,
    /// The database selected by the client.
    pub db: usize,
    /// The command's arguments, name first.
    pub args: Vec<Bytes>,
    /// Whether the client speaks RESP3.
    pub resp3: bool,
    /// For a blocking command outside a transaction: the waiter to register when it finds
    /// nothing.
    pub waiter: Option<Arc<Waiter>>,
    /// The client (for the slow log and client-side caching).
    pub caller: Caller,
}

/// Who runs a command on a shard: the client (0: none) and whether its reads are to be
/// remembered for client-side caching (CLIENT TRACKING).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    /// The client's id.
    pub id: u64,
    /// Whether the keys it reads are tracked.
    pub track: bool,
}

impl Caller {
    /// A caller with no client (expiry, internal moves).
    pub const NONE: Caller = Caller { id: 0, track: false };
}

/// The replies to one `Exec`, with the channel that delivers them on the origin shard.
pub type ReplyBatch = (oneshot::Sender<Vec<Reply>>, Vec<Reply>);

/// A closure run on a shard by [`call`].
pub type ShardCall = Box<dyn FnOnce(&Rc<ShardLocal>) + Send>;

/// Whether the jobs of an `Exec` run for a lock holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Plain commands: each waits while another owner holds or waits for one of its keys.
    No,
    /// Commands of an owner that holds their keys (a transaction body): they run at once.
    Yes,
}

/// A message between shards.
pub enum Msg {
    /// Run these jobs in order and reply to `origin` with their replies in order.
    Exec {
        /// Shard to send the replies to.
        origin: usize,
        /// Jobs to run.
        jobs: Vec<Job>,
        /// Where the replies go, delivered by the origin shard.
        reply: oneshot::Sender<Vec<Reply>>,
        /// Whether a lock holder sent them.
        held: Held,
        /// The time to run them at (Unix ms): a script's frozen clock; `None` is now.
        at: Option<u64>,
    },
    /// Take locks for `owner` here; `granted` fires once all are held.
    Lock {
        /// Who asks.
        owner: Owner,
        /// What it asks for on this shard.
        want: Want<Bytes>,
        /// Fired when granted.
        granted: oneshot::Sender<()>,
    },
    /// Take locks for `owner` here, run `job` once they are granted, and send its reply;
    /// with `release`, release the owner's locks here right after.
    LockRun {
        /// Who asks.
        owner: Owner,
        /// What it asks for on this shard.
        want: Want<Bytes>,
        /// The command to run under the locks.
        job: Job,
        /// Whether to release right after running (the owner's last shard).
        release: bool,
        /// Where the reply goes.
        reply: oneshot::Sender<Reply>,
    },
    /// Release everything `owner` holds here.
    Unlock(Owner),
    /// Replies to earlier `Exec`s from this shard, delivered on the origin.
    Replies(Vec<ReplyBatch>),
    /// Published messages for clients whose connections live on this shard.
    Deliver(Vec<Delivery>),
    /// MONITOR lines and invalidations for clients on this shard.
    Push(Vec<(u64, crate::tracking::Push)>),
    /// Run a closure on this shard.
    Call(ShardCall),
    /// Adopt an accepted connection.
    Adopt(glommio::net::AcceptedTcpStream),
    /// Stop the shard.
    Shutdown,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Exec { .. } => "Exec",
            Msg::Lock { .. } => "Lock",
            Msg::LockRun { .. } => "LockRun",
            Msg::Unlock(_) => "Unlock",
            Msg::Replies(_) => "Replies",
            Msg::Deliver(_) => "Deliver",
            Msg::Push(_) => "Push",
            Msg::Call(_) => "Call",
            Msg::Adopt(_) => "Adopt",
            Msg::Shutdown => "Shutdown",
        })
    }
}

/// Server-wide counters, updated with relaxed atomics.
#[derive(Debug, Default)]
pub struct GlobalStats {
    /// Connections accepted since start.
    pub connections_received: AtomicU64,
    /// Connections refused over maxclients.
    pub rejected_connections: AtomicU64,
    /// Clients connected now.
    pub connected_clients: AtomicUsize,
    /// Clients with CLIENT TRACKING on.
    pub tracking_clients: AtomicU64,
    /// Keys remembered for client-side caching.
    pub tracking_keys: AtomicU64,
    /// (key, client) pairs remembered for client-side caching.
    pub tracking_items: AtomicU64,
    /// Prefixes broadcast-mode clients track.
    pub tracking_prefixes: AtomicU64,
    /// MIGRATE connections cached on every shard.
    pub migrate_cached_sockets: AtomicU64,
    /// (unix ms, total commands) at the last INFO, for `instantaneous_ops_per_sec`.
    pub ops_sample: std::sync::Mutex<(u64, u64, u64)>,
}

/// Bytes and syscalls of a shard's connections.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetCounters {
    /// Bytes read from clients.
    pub input: u64,
    /// Bytes written to clients.
    pub output: u64,
    /// Reads that returned data.
    pub reads: u64,
    /// Writes.
    pub writes: u64,
}

/// State shared by all shards (`Send + Sync`): config, mailboxes and registries.
#[derive(Debug)]
pub struct Shared {
    /// Configuration.
    pub config: Config,
    /// Snapshot state: in progress, last save, INFO persistence.
    pub save: crate::persist::snapshot::SaveState,
    /// The append-only file's state.
    pub aof: crate::persist::aof::AofState,
    /// One inbox per shard.
    pub mailboxes: Vec<Mailbox<Msg>>,
    /// Connected clients by id (CLIENT LIST / KILL).
    pub clients: DashMap<u64, Arc<ClientMeta>>,
    /// Next client id.
    pub next_client_id: AtomicU64,
    /// Round-robin counter spreading accepted connections over shards.
    pub next_conn_shard: AtomicUsize,
    /// Set once shutdown has begun.
    pub shutting_down: AtomicBool,
    /// Server-wide counters.
    pub stats: GlobalStats,
    /// Unix ms at start.
    pub started_ms: u64,
    /// Random 40-hex-digit run id.
    pub run_id: String,
    /// The TCP port actually listened on (0 when not serving TCP).
    pub tcp_port: AtomicU64,
    /// `used_memory` once every shard had started (MEMORY STATS `startup.allocated`).
    pub startup_memory: AtomicU64,
    /// Every pub/sub subscription.
    pub pubsub: crate::pubsub::Registry,
    /// Clients blocked now (INFO blocked_clients).
    pub blocked_clients: AtomicUsize,
    /// Per shard: set when it was over maxmemory with nothing left that the policy may evict.
    /// When every shard is, commands that may grow memory are refused.
    pub evict_exhausted: Vec<AtomicBool>,
    /// Per shard: how many of its keys the policy may evict, as the shard last counted them.
    /// A shard with fewer than the others' average leaves eviction to them ([`super::evict`]).
    pub evictable_keys: Vec<AtomicU64>,
    /// When (ms) shards were last told to evict.
    pub evict_nudged_ms: AtomicU64,
    /// The script cache and function libraries.
    pub scripts: crate::script::Registry,
    /// The client whose DEBUG SET-ACTIVE-EXPIRE 0 stopped background expiry (0: it runs).
    /// It runs again when that client turns it back on, or a second after it disconnects
    /// (time for a test harness that closes its client to kill the server: its shutdown
    /// snapshot still holds the keys expiry did not reclaim, as Redis's does).
    pub active_expire_off_by: AtomicU64,
    /// Unix ms until which background expiry stays off after that client left.
    pub active_expire_resume_ms: AtomicU64,
    /// SLOWLOG's entries.
    pub slowlog: crate::slowlog::SlowLog,
    /// LATENCY's spikes.
    pub latency: crate::latency::Monitor,
    /// CLIENT PAUSE: until when (unix ms; 0: not paused) and whether every command waits
    /// (`ALL`) or only writes (`WRITE`).
    pub pause_until: AtomicU64,
    /// Per shard: blocking commands sent to it by other shards and not yet registered there.
    /// While some are on their way, a shard holds back serving the waiters of keys that just
    /// got elements (see [`ShardLocal::serve_ready`]), so that a client that blocked first,
    /// from another shard, is not overtaken by one that blocked here later.
    pub blocking_inflight: Vec<AtomicUsize>,
    /// CLIENT PAUSE ALL (else WRITE).
    pub pause_all: AtomicBool,
    /// The clients with CLIENT TRACKING on.
    pub tracking: crate::tracking::Registry,
    /// Clients in MONITOR mode: (client id, its shard).
    pub monitors: std::sync::RwLock<Vec<(u64, usize)>>,
    /// How many clients are in MONITOR mode.
    pub monitor_count: AtomicUsize,
    /// The shards' published counters, read by the metrics endpoint.
    pub metrics: crate::metrics::Board,
}

impl Shared {
    /// Whether background expiry is off (DEBUG SET-ACTIVE-EXPIRE 0, or within a second of its
    /// client leaving).
    pub fn active_expire_off(&self) -> bool {
        self.active_expire_off_by.load(Relaxed) != 0 || self.active_expire_resume_ms.load(Relaxed) > crate::store::now_ms()
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.mailboxes.len()
    }

    /// `instantaneous_ops_per_sec`: commands per second since the previous call (INFO,
    /// the metrics endpoint), given the total now; at most one new sample a 100 ms.
    pub fn ops_rate(&self, total: u64, now_ms: u64) -> u64 {
        let mut s = self.stats.ops_sample.lock().expect("ops sample lock");
        let (at, count, rate) = *s;
        if at == 0 {
            *s = (now_ms, total, 0);
            return 0;
        }
        if now_ms >= at + 100 {
            let r = total.saturating_sub(count) * 1000 / (now_ms - at);
            *s = (now_ms, total, r);
            return r;
        }
        rate
    }

    /// Starts shutdown: every shard is told to stop.
    pub fn shutdown(&self) {
        if !self.shutting_down.swap(true, Relaxed) {
            for m in &self.mailboxes {
                m.push(Msg::Shutdown);
            }
        }
    }
}

/// A shard's own state, touched only by its thread.
pub struct ShardLocal {
    /// Shard index.
    pub id: usize,
    /// The data.
    pub store: RefCell<Store>,
    /// State shared with other shards.
    pub shared: Arc<Shared>,
    /// Statistics of the commands this shard ran.
    pub stats: RefCell<stats::CommandStats>,
    /// A TSC-based clock for timing commands: far cheaper per read than the system clock.
    pub clock: quanta::Clock,
    /// Commands this shard received from other shards.
    pub remote_jobs: Cell<u64>,
    /// What this shard's connections read and wrote.
    pub net: Cell<NetCounters>,
    /// Key locks held and waited for on this shard.
    pub locks: RefCell<LockTable<Bytes, ahash::RandomState>>,
    /// Owners waiting for locks here, with what tells them they were granted.
    lock_waiters: RefCell<ahash::AHashMap<Owner, oneshot::Sender<()>>>,
    /// Lock owners created on this shard so far.
    owners_made: Cell<u64>,
    /// Connections on this shard that may receive pushes, by client id.
    pub conns: RefCell<ahash::AHashMap<u64, Rc<Pushes>>>,
    /// Deliveries waiting to leave for each shard, sent by the flusher task.
    outgoing: RefCell<Vec<Vec<Delivery>>>,
    /// Broadcast invalidations gathered in this task: (client, prefix, keys).
    bcast_pending: RefCell<Vec<(u64, Bytes, Vec<Bytes>)>>,
    /// MONITOR lines and invalidations waiting to leave for each shard, sent by the flusher.
    push_out: RefCell<Vec<Vec<(u64, crate::tracking::Push)>>>,
    outgoing_pending: Cell<bool>,
    flusher: RefCell<Option<std::task::Waker>>,
    /// Blocked clients per key on this shard.
    blocked: RefCell<blocking::Queues>,
    /// Whether this shard's eviction task runs.
    evicting: Cell<bool>,
    /// Whether this shard's idle-time rehash task runs.
    rehashing: Cell<bool>,
    /// The database eviction takes from next.
    evict_db: Cell<usize>,
    /// Waited keys that came into existence while a lock owner held them.
    deferred_ready: RefCell<Vec<(usize, Bytes)>>,
    /// When the expiry task will next wake (ms); a new earlier timer must wake it.
    expiry_wake_at: Cell<u64>,
    expiry_waker: RefCell<Option<std::task::Waker>>,
    /// Idle sessions kept for the in-process engine's one-off calls ([`crate::embed`]).
    pub embedded: RefCell<Vec<Session>>,
    /// Ends the shard's tasks when it stops ([`ShardLocal::spawn`]).
    pub stop: StopSignal,
    /// This shard's Lua interpreter and script state.
    pub scripting: crate::script::ShardScripts,
    /// MIGRATE's cached connections to other servers.
    pub migrate: crate::command::SocketCache,
    /// The error the command about to be recorded replies with was counted already (a
    /// script failing with its command's error): [`ShardLocal::record`] counts the call
    /// as failed but not the error again, as Redis's `ERR_REPLY_FLAG_NO_STATS_UPDATE`.
    pub error_counted: Cell<bool>,
    /// Whether this shard logs its writes to the append-only file.
    aof_on: Cell<bool>,
    /// Writes logged and not yet handed to the AOF writer.
    aof: RefCell<aof::ShardAof>,
}

impl std::fmt::Debug for ShardLocal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardLocal").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Execution context of a shard-local command handler.
#[derive(Debug)]
pub struct ShardCtx<'a> {
    /// The shard's data.
    pub store: &'a mut Store,
    /// Selected database.
    pub db: usize,
    /// Time of the command, Unix ms.
    pub now: u64,
    /// Configuration.
    pub config: &'a Config,
    /// Whether the client speaks RESP3 (pairs such as member and score then nest).
    pub resp3: bool,
}

impl ShardCtx<'_> {
    /// Whether a data file is loading: a time already passed keeps the key (it goes once
    /// the load ends), as Redis's `checkAlreadyExpired` while loading.
    pub fn loading(&self) -> bool {
        self.store.signals.loading()
    }

    /// The selected database.
    pub fn db(&mut self) -> &mut crate::store::Db {
        self.store.db(self.db)
    }

    /// Records a keyspace event of `class` ([`crate::notify`]) on `key` in the selected
    /// database.
    pub fn notify(&self, class: u32, event: &'static str, key: &[u8]) {
        self.store.notify(self.db, class, event, key);
    }
}

impl ShardLocal {
    fn new(id: usize, shared: Arc<Shared>) -> Self {
        let dbs = shared.config.databases();
        let shards = shared.shards();
        ShardLocal {
            id,
            store: RefCell::new(Store::new(dbs, now_ms())),
            shared,
            stats: RefCell::new(stats::CommandStats::default()),
            clock: quanta::Clock::new(),
            remote_jobs: Cell::new(0),
            net: Cell::new(NetCounters::default()),
            locks: RefCell::new(LockTable::default()),
            lock_waiters: RefCell::new(ahash::AHashMap::new()),
            owners_made: Cell::new(0),
            expiry_wake_at: Cell::new(u64::MAX),
            expiry_waker: RefCell::new(None),
            conns: RefCell::new(ahash::AHashMap::new()),
            outgoing: RefCell::new((0..shards).map(|_| Vec::new()).collect()),
            bcast_pending: RefCell::new(Vec::new()),
            push_out: RefCell::new((0..shards).map(|_| Vec::new()).collect()),
            outgoing_pending: Cell::new(false),
            flusher: RefCell::new(None),
            blocked: RefCell::new(ahash::AHashMap::new()),
            deferred_ready: RefCell::new(Vec::new()),
            evicting: Cell::new(false),
            rehashing: Cell::new(false),
            evict_db: Cell::new(0),
            embedded: RefCell::new(Vec::new()),
            stop: StopSignal::default(),
            scripting: Default::default(),
            migrate: Default::default(),
            error_counted: Cell::new(false),
            aof_on: Cell::new(false),
            aof: RefCell::new(aof::ShardAof::default()),
        }
    }

    /// Runs a shard handler on this shard's data at time `now` (Unix ms, read once per batch)
    /// for a client speaking RESP3 or not, and records its statistics.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        self: &Rc<Self>,
        handler: ShardFn,
        db: usize,
        args: &[Bytes],
        spec: &'static CommandSpec,
        now: u64,
        resp3: bool,
        caller: Caller,
    ) -> Reply {
        self.run_raw(spec, db, resp3, now, args, caller, |ctx| handler(ctx, args))
    }

    /// Runs `f` on this shard's data as command `spec` with arguments `args` for client
    /// `client` (see [`ShardLocal::run`]), then publishes the keyspace events it recorded and
    /// serves clients blocked on keys it created.
    #[allow(clippy::too_many_arguments)]
    pub fn run_raw(
        self: &Rc<Self>,
        spec: &'static CommandSpec,
        db: usize,
        resp3: bool,
        now: u64,
        args: &[Bytes],
        caller: Caller,
        f: impl FnOnce(&mut ShardCtx<'_>) -> CmdResult,
    ) -> Reply {
        let name = spec.name;
        let start = self.clock.raw();
        // A handler bug must never take its shard down: the panic is logged and answered.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut store = self.store.borrow_mut();
            store.apply(self.shared.config.store_settings());
            store.tracked.set_all(self.shared.tracking.any_bcast());
            store.frozen.set(self.shared.pause_until.load(Relaxed) > now);
            let logging = self.aof_on();
            let before = if logging { store.changes() } else { 0 };
            let mut ctx = ShardCtx { store: &mut store, db, now, config: &self.shared.config, resp3 };
            let reply = into_reply(f(&mut ctx));
            store.settle_touches(!reply.is_error());
            if logging {
                let changed = spec.is_write() && store.changes() != before;
                self.aof_log_command(&mut store, db, args, &reply, changed, caller.id);
            }
            reply
        }));
        let reply = result.unwrap_or_else(|_| {
            log::warn!("command '{name}' panicked on shard {}; replied with an error", self.id);
            Reply::err("ERR internal error")
        });
        self.record(spec, start, &reply, args, caller.id);
        if caller.track && spec.flags & crate::command::flags::READONLY != 0 && !reply.is_error() {
            self.remember_reads(spec, args, caller.id);
        }
        self.settle_tracking(caller.id);
        self.kick_background();
        self.settle_signals();
        reply
    }

    /// Sends the invalidations of changed tracked keys, publishes recorded keyspace events and
    /// serves clients blocked on created keys.
    pub fn settle_signals(self: &Rc<Self>) {
        // Changes made outside a client's command (expiry, eviction, a closure) invalidate
        // tracked keys too.
        self.settle_tracking(0);
        loop {
            let (events, ready) = {
                let st = self.store.borrow();
                if !st.signals.pending() {
                    return;
                }
                st.signals.take()
            };
            if !events.is_empty() {
                self.publish_events(events);
            }
            if !ready.is_empty() {
                self.serve_ready(ready.into_iter().map(|(db, k)| (db, Bytes::from(k))).collect());
            }
        }
    }

    /// Finishes a blocking command's run here: when it found nothing, its waiter is
    /// registered in the same step (the reply stays [`Reply::Blocked`]), or, with no waiter
    /// (inside a transaction), the reply is the one for not waiting.
    pub fn park_or_refuse(&self, reply: Reply, spec: &CommandSpec, waiter: Option<&Arc<Waiter>>) -> Reply {
        if reply != Reply::Blocked {
            return reply;
        }
        match waiter {
            Some(w) => {
                self.park(w);
                Reply::Blocked
            }
            None => spec.block.map_or(Reply::Nil, |b| b.no_wait_reply()),
        }
    }

    /// A lock owner id unique over all shards.
    pub fn new_owner(&self) -> Owner {
        let n = self.owners_made.get() + 1;
        self.owners_made.set(n);
        ((self.id as u64) << 48) | n
    }

    /// Whether a plain command on these keys may run now, ahead of nobody.
    pub fn keys_free(&self, spec: &CommandSpec, args: &[Bytes]) -> bool {
        let locks = self.locks.borrow();
        locks.is_idle() || spec.key_positions(args).all(|i| locks.is_free(&args[i]))
    }

    /// Takes `want` for `owner` here: true when granted at once; otherwise `granted` fires
    /// when it is.
    pub fn lock(&self, owner: Owner, want: Want<Bytes>, granted: oneshot::Sender<()>) -> bool {
        if self.locks.borrow_mut().acquire(owner, want) {
            let _ = granted.send(());
            return true;
        }
        self.lock_waiters.borrow_mut().insert(owner, granted);
        false
    }

    /// Takes `want` for `owner` on this shard from its own thread: `None` when granted at
    /// once (no channel is made), else what fires when it is.
    pub fn lock_here(&self, owner: Owner, want: Want<Bytes>) -> Option<oneshot::Receiver<()>> {
        if self.locks.borrow_mut().acquire(owner, want) {
            return None;
        }
        let (granted, rx) = oneshot::channel();
        self.lock_waiters.borrow_mut().insert(owner, granted);
        Some(rx)
    }

    /// Releases `owner`'s locks here and tells the owners that became fully granted.
    pub fn unlock(self: &Rc<Self>, owner: Owner) {
        let granted = self.locks.borrow_mut().release(owner);
        {
            let mut waiters = self.lock_waiters.borrow_mut();
            for g in granted {
                if let Some(tx) = waiters.remove(&g) {
                    let _ = tx.send(());
                }
            }
        }
        self.serve_deferred();
    }

    /// Adds one call of `spec` (arguments `args`, client `client`), started at `start` (a
    /// `self.clock.raw()` reading) and answered `reply`, to the statistics, the latency
    /// histograms, the slow log and the latency monitor.
    pub fn record(&self, spec: &'static CommandSpec, start: u64, reply: &Reply, args: &[Bytes], client: u64) {
        use crate::config::P;
        let nanos = self.clock.delta_as_nanos(start, self.clock.raw());
        let cfg = &self.shared.config;
        let code = match reply {
            Reply::Error(e) => Some(e.to_string()),
            _ => None,
        };
        let counted = self.error_counted.take() && code.is_some();
        let mut st = self.stats.borrow_mut();
        if counted {
            st.record(spec.name, nanos, None, cfg.flag(P::LatencyTracking));
            st.mark_failed(spec.name);
        } else {
            st.record(spec.name, nanos, code.as_deref().map(stats::error_code), cfg.flag(P::LatencyTracking));
        }
        drop(st);
        let micros = nanos / 1000;
        let slower_than = cfg.num(P::SlowlogLogSlowerThan);
        if slower_than >= 0 && micros >= slower_than as u64 && spec.flags & crate::command::flags::SKIP_SLOWLOG == 0 {
            let (addr, name) = match self.shared.clients.get(&client) {
                Some(m) => (m.addr.clone(), m.name.lock().expect("client meta lock").clone()),
                None => (String::new(), Bytes::new()),
            };
            self.shared.slowlog.push(args, micros, addr, name, cfg.num(P::SlowlogMaxLen).max(0) as usize);
        }
        let threshold = cfg.num(P::LatencyMonitorThreshold);
        if threshold > 0 && micros / 1000 >= threshold as u64 {
            let event = if spec.flags & crate::command::flags::FAST != 0 { "fast-command" } else { "command" };
            self.shared.latency.add(event, micros / 1000);
        }
    }

    /// Counts `input` bytes read from a client (one read) or `output` bytes written (one write).
    pub fn count_net(&self, input: u64, output: u64) {
        let mut n = self.net.get();
        if input > 0 {
            n.input += input;
            n.reads += 1;
        }
        if output > 0 {
            n.output += output;
            n.writes += 1;
        }
        self.net.set(n);
    }

    /// Counts a command refused before it ran (`spec` when it is known) with error `e`.
    pub fn record_rejected(&self, spec: Option<&'static CommandSpec>, e: &Reply) {
        if let Reply::Error(e) = e {
            let line = e.to_string();
            self.stats.borrow_mut().reject(spec.map(|s| s.name), stats::error_code(&line));
        }
    }

    /// Spawns a task on this shard that ends when the shard stops (so that nothing it holds,
    /// this shard included, outlives the shard).
    pub fn spawn(self: &Rc<Self>, work: impl std::future::Future<Output = ()> + 'static) {
        let local = self.clone();
        glommio::spawn_local(async move {
            local.stop.or_stop(work).await;
        })
        .detach();
    }

    /// After store work: wakes the expiry task when a timer earlier than its planned wake-up
    /// was added, and starts the rehash task when a table began rehashing.
    pub fn kick_background(self: &Rc<Self>) {
        if self.store.borrow().take_rehashing() && !self.rehashing.replace(true) {
            self.spawn(start::rehash_loop(self.clone()));
        }
        let added = self.store.borrow().take_earliest_added();
        if let Some(t) = added {
            if t < self.expiry_wake_at.get() {
                self.expiry_wake_at.set(t);
                if let Some(w) = self.expiry_waker.borrow_mut().take() {
                    w.wake();
                }
            }
        }
    }
}

/// Turns a handler result into a reply.
pub fn into_reply(r: CmdResult) -> Reply {
    r.unwrap_or_else(Reply::from)
}

/// Lets the executor poll io_uring before the calling task goes on. Background work that
/// runs in slices (snapshot walk, active expiry) calls it between them: glommio reaps socket
/// completions only when its task queues run dry or its preempt timer (100 ms) fires, and
/// `yield_task_queue_now` re-runs the same queue without polling, so a task that only yields
/// holds connections off for up to 100 ms. A timer wait lets the queue run dry. (A shorter
/// preempt timer would too, but polls on every turn: it halved plain GET/SET throughput.)
pub async fn let_io_in() {
    glommio::timer::sleep(std::time::Duration::from_micros(1)).await;
}

/// Runs `f` on shard `target` and returns its result; inline when `target` is this shard.
pub async fn call<T: Send + 'static>(local: &Rc<ShardLocal>, target: usize, f: impl FnOnce(&Rc<ShardLocal>) -> T + Send + 'static) -> T {
    if target == local.id {
        let r = f(local);
        local.kick_background();
        local.settle_signals();
        return r;
    }
    let (tx, rx) = oneshot::channel();
    local.shared.mailboxes[target].push(Msg::Call(Box::new(move |s| {
        let _ = tx.send(f(s));
        s.kick_background();
        // Keys it created may have blocked clients; its keyspace events are published.
        s.settle_signals();
    })));
    match rx.await {
        Ok(v) => v,
        // The target shard stopped (shutdown): this task is about to be dropped with it.
        Err(_) => futures::future::pending().await,
    }
}

/// Runs `f` on every shard concurrently and returns the results in shard order.
pub async fn call_all<T: Send + 'static>(
    local: &Rc<ShardLocal>,
    f: impl Fn(&Rc<ShardLocal>) -> T + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let n = local.shared.shards();
    let futs = (0..n).map(|i| {
        let f = f.clone();
        call(local, i, move |s| f(s))
    });
    futures::future::join_all(futs).await
}
