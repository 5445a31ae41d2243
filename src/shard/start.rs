//! Starting and stopping the shard executors, and each shard's background tasks: the inbox
//! loop, the expiry loop and (when serving TCP) the listeners.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use glommio::{LocalExecutorBuilder, Placement};
use thiserror::Error;

use futures::channel::oneshot;

use super::locks::Owner;
use super::{run_when_free, GlobalStats, Held, Job, Mailbox, Msg, ReplyBatch, ShardLocal, Shared};
use crate::config::Config;
use crate::protocol::Reply;
use crate::store::now_ms;

/// Timers processed per expiry slice before yielding to other tasks.
const EXPIRE_BUDGET: usize = 1000;
/// Messages handled per inbox slice before yielding.
const INBOX_BUDGET: usize = 256;
/// Most turns of the task queue a stopping shard waits for its woken tasks to end.
const STOP_TURNS: usize = 100;

/// Why the shards could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// An executor thread could not be created.
    #[error("cannot start shard executor: {0}")]
    Executor(String),
    /// No listening socket could be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    /// A TCP port is taken (by another process) or cannot be bound; redis-server's words for
    /// this (`Failed listening on port P (TCP), aborting.`) are what scripts and Redis's test
    /// suite look for.
    #[error("Could not create server TCP listening socket {addr}: bind: {}", crate::config::strerror(.source))]
    Listen {
        /// The address and port, as `host:port`.
        addr: String,
        /// The port.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The `unixsocket` cannot be bound.
    #[error("Failed opening Unix socket: {}: {}", .0, crate::config::strerror(.1))]
    Unix(String, std::io::Error),
    /// The RDB file could not be loaded.
    #[error("Fatal error loading the DB: {0}. Exiting.")]
    Load(#[from] crate::persist::load::LoadError),
    /// The append-only file could not be loaded or opened.
    #[error("{0}")]
    Aof(#[from] crate::persist::aof::load::AofError),
}

/// The running shards.
#[derive(Debug)]
pub struct ShardSet {
    /// State shared by the shards.
    pub shared: Arc<Shared>,
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
    /// The metrics endpoint, when `metrics-port` is set; stopped after the shards.
    metrics: Option<crate::metrics::Endpoint>,
    /// The `unixsocket` file made at start, removed once the shards stopped.
    unix_path: Option<std::path::PathBuf>,
}

fn shard_count(cfg: &Config) -> usize {
    match cfg.num(crate::config::P::Threads) {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n as usize,
    }
}

fn random_hex40() -> String {
    let mut rng = fastrand::Rng::new();
    (0..40).map(|_| char::from_digit(rng.u32(..16), 16).expect("hex digit")).collect()
}

/// Binds every configured address with SO_REUSEPORT; `-addr` entries are optional, as in
/// Redis. Returns the listening sockets (for shard 0) and the port actually bound.
fn bind_all(cfg: &Config, port: u16) -> Result<(Vec<std::net::TcpListener>, u16), StartError> {
    let mut out = Vec::new();
    let mut port = port;
    for addr in cfg.bind.read().expect("config lock").iter() {
        let (optional, a) = match addr.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, addr.as_str()),
        };
        let a = if a == "*" { "0.0.0.0" } else { a };
        let sock = if a.contains(':') { format!("[{a}]:{port}") } else { format!("{a}:{port}") };
        match claim(&sock, port).and_then(|()| bind_one(&sock)) {
            Ok(l) => {
                port = l.local_addr().map(|x| x.port()).unwrap_or(port);
                out.push(l);
            }
            Err(e) if optional && e.kind() != std::io::ErrorKind::AddrInUse => {
                log::debug!("skipping optional bind {sock}: {e}")
            }
            Err(e) => return Err(StartError::Listen { addr: format!("{a}:{port}"), port, source: e }),
        }
    }
    if out.is_empty() {
        return Err(StartError::Bind("(no address)".into(), std::io::Error::other("nothing to bind")));
    }
    Ok((out, port))
}

/// Fails when another socket listens on `addr` already. The shards' listeners share their
/// port through SO_REUSEPORT, which would let a second server started by the same user join
/// the first one's port silently (and take half its connections); a plain bind, without
/// SO_REUSEPORT, fails on a port anyone listens on, as redis-server's own bind does. Port 0
/// (any free port) needs no check.
fn claim(addr: &str, port: u16) -> std::io::Result<()> {
    use std::net::ToSocketAddrs;
    if port == 0 {
        return Ok(());
    }
    let sa = addr.to_socket_addrs()?.next().ok_or_else(|| std::io::Error::other("bad address"))?;
    let s = socket2::Socket::new(socket2::Domain::for_address(sa), socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    if sa.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&sa.into())
}

/// Binds the `unixsocket` at `path` (a stale file there is removed first, as Redis does) with
/// the permissions of `unixsocketperm` when set.
fn bind_unix(path: &str, perm: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    let l = std::os::unix::net::UnixListener::bind(path)?;
    l.set_nonblocking(true)?;
    if perm != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))?;
    }
    Ok(l.into())
}

/// One listening socket with SO_REUSEPORT, so every shard can bind the same address.
fn bind_one(addr: &str) -> std::io::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;
    let sa = addr.to_socket_addrs()?.next().ok_or_else(|| std::io::Error::other("bad address"))?;
    let s = socket2::Socket::new(socket2::Domain::for_address(sa), socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if sa.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.bind(&sa.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

impl ShardSet {
    /// Starts the shards. With `serve_tcp`, every shard listens on the configured addresses
    /// (SO_REUSEPORT) and accepted connections are spread round-robin over the shards.
    pub fn start(config: Config, serve_tcp: bool) -> Result<ShardSet, StartError> {
        Self::start_with(config, serve_tcp, &mut |_| {})
    }

    /// [`ShardSet::start`], calling `listening` with the TCP port once the listeners are bound
    /// and before the RDB file loads (the server's start-up log says it is up there, as
    /// Redis's does before it loads).
    pub fn start_with(config: Config, serve_tcp: bool, listening: &mut dyn FnMut(u16)) -> Result<ShardSet, StartError> {
        let n = shard_count(&config);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let pin = config.flag(crate::config::P::PinCpus) && n <= cores;
        let save = crate::persist::snapshot::SaveState::default();
        save.last_save.store(now_ms() / 1000, Relaxed);
        save.last_secs.store(-1, Relaxed);
        let shared = Arc::new(Shared {
            config,
            save,
            aof: crate::persist::aof::AofState::new(),
            mailboxes: (0..n).map(|_| Mailbox::new()).collect(),
            clients: DashMap::new(),
            next_client_id: AtomicU64::new(0),
            next_conn_shard: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
            stats: GlobalStats::default(),
            started_ms: now_ms(),
            run_id: random_hex40(),
            tcp_port: AtomicU64::new(0),
            pubsub: Default::default(),
            blocked_clients: AtomicUsize::new(0),
            evict_exhausted: (0..n).map(|_| AtomicBool::new(false)).collect(),
            evict_nudged_ms: AtomicU64::new(0),
            evictable_keys: (0..n).map(|_| AtomicU64::new(0)).collect(),
            startup_memory: AtomicU64::new(0),
            scripts: Default::default(),
            active_expire_off_by: AtomicU64::new(0),
            active_expire_resume_ms: AtomicU64::new(0),
            slowlog: Default::default(),
            latency: Default::default(),
            monitors: Default::default(),
            tracking: Default::default(),
            pause_until: AtomicU64::new(0),
            blocking_inflight: (0..n).map(|_| AtomicUsize::new(0)).collect(),
            pause_all: AtomicBool::new(false),
            monitor_count: AtomicUsize::new(0),
            metrics: crate::metrics::Board::new(n),
        });
        let metrics = crate::metrics::Endpoint::bind(&shared)?;
        // Bind the first shard's listeners here so that bind errors (and port 0) are known
        // before any shard runs; the other shards bind the same port with SO_REUSEPORT.
        let mut first: Vec<std::os::fd::OwnedFd> = Vec::new();
        let mut addrs: Vec<String> = Vec::new();
        let mut unix_path = None;
        if serve_tcp {
            let port = shared.config.port();
            let (ls, actual) = bind_all(&shared.config, port)?;
            shared.tcp_port.store(u64::from(actual), Relaxed);
            addrs = ls.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.to_string()).collect();
            first = ls.into_iter().map(std::os::fd::OwnedFd::from).collect();
            let path = shared.config.text(crate::config::P::Unixsocket);
            if !path.is_empty() {
                let perm = shared.config.num(crate::config::P::Unixsocketperm) as u32;
                first.push(bind_unix(&path, perm).map_err(|e| StartError::Unix(path.clone(), e))?);
                unix_path = Some(std::path::PathBuf::from(path));
            }
        }
        listening(shared.tcp_port.load(Relaxed) as u16);
        // The RDB file, when there is one, is loaded before any shard accepts a connection.
        let rdb = crate::persist::snapshot::rdb_path(&shared);
        // With `appendonly yes` the AOF is the data set (as Redis, the RDB file is not read).
        let aof = serve_tcp && shared.config.flag(crate::config::P::Appendonly);
        let load = (serve_tcp && !aof && rdb.exists()).then(|| crate::persist::load::channels(n));
        shared.save.loading.store(load.is_some() || aof, Relaxed);
        let (feeder, mut load_rx) = match load {
            Some((f, rx)) => (Some(f), rx.into_iter().map(Some).collect()),
            None => (None, (0..n).map(|_| None).collect::<Vec<_>>()),
        };
        let (loaded_tx, loaded_rx) = std::sync::mpsc::channel::<()>();
        let mut handles = Vec::new();
        for id in 0..n {
            let shared = shared.clone();
            let load_rx = load_rx[id].take();
            let loaded_tx = loaded_tx.clone();
            // Shard 0 takes the sockets bound here (the unix socket too); the others bind the
            // same TCP addresses.
            let own: Vec<std::os::fd::OwnedFd> = if id == 0 { std::mem::take(&mut first) } else { Vec::new() };
            let addrs = addrs.clone();
            let placement = if pin { Placement::Fixed(id % cores) } else { Placement::Unbound };
            // glommio's own `spin_before_park` is not used for `spin-before-park-us`: its spin
            // never enters the kernel, so with cooperative task running (vendor/liburing) a
            // socket's completion waited for the spin to end; 100 µs of it took one client's
            // requests from 0.087 to 0.13 ms at p50 (perf/RESULTS.md).
            let h = LocalExecutorBuilder::new(placement)
                .name(&format!("shard-{id}"))
                // Registered buffers serve storage I/O, which shards do not do: the 64 KiB
                // minimum instead of the 10 MiB default keeps them out of used_memory.
                .io_memory(64 * 1024)
                .spawn(move || shard_main(id, shared, own, addrs, load_rx, loaded_tx, serve_tcp))
                .map_err(|e| StartError::Executor(e.to_string()))?;
            handles.push(h);
        }
        drop(loaded_tx);
        if let Some(feeder) = feeder {
            let started = std::time::Instant::now();
            let loaded = feeder.load_file(&rdb, &shared.config, now_ms(), false)?;
            // Every shard has inserted its keys once its channel closed and it said so.
            for _ in 0..n {
                let _ = loaded_rx.recv();
            }
            shared.save.loading.store(false, Relaxed);
            *shared.save.loaded.lock().expect("load stats lock") = (loaded.keys, loaded.expired);
            log::info!("Done loading RDB, keys loaded: {}, keys expired: {}.", loaded.keys, loaded.expired);
            log::info!("DB loaded from disk: {:.3} seconds", started.elapsed().as_secs_f64());
        }
        if aof {
            let started = std::time::Instant::now();
            let (tx, rx) = std::sync::mpsc::channel();
            shared.mailboxes[0].push(Msg::Call(Box::new(move |local| {
                let l = local.clone();
                local.spawn(async move {
                    let _ = tx.send(crate::persist::aof::load::start(&l).await);
                });
            })));
            let r = rx.recv().map_err(|_| StartError::Executor("shard 0 stopped while the AOF loaded".into()))?;
            r?;
            shared.save.loading.store(false, Relaxed);
            log::info!("DB loaded from append only file: {:.3} seconds", started.elapsed().as_secs_f64());
        }
        let metrics = match metrics {
            Some(b) => Some(b.serve(shared.clone()).map_err(|e| StartError::Executor(format!("metrics thread: {e}")))?),
            None => None,
        };
        Ok(ShardSet { shared, handles, metrics, unix_path })
    }

    /// Waits for every shard to stop (after [`Shared::shutdown`]).
    pub fn join(self) {
        for h in self.handles {
            if let Err(e) = h.join() {
                log::warn!("shard ended with an error: {e}");
            }
        }
        if let Some(p) = self.unix_path {
            if let Err(e) = std::fs::remove_file(&p) {
                log::warn!("Error removing the unix socket file: {}", crate::config::strerror(&e));
            }
        }
        if let Some(m) = self.metrics {
            m.stop();
        }
    }
}

async fn shard_main(
    id: usize,
    shared: Arc<Shared>,
    own: Vec<std::os::fd::OwnedFd>,
    addrs: Vec<String>,
    load: Option<flume::Receiver<crate::persist::load::Load>>,
    loaded: std::sync::mpsc::Sender<()>,
    serving: bool,
) {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let local = Rc::new(ShardLocal::new(id, shared));
    // The shard serves while its keys load (commands without the `loading` flag are refused
    // with LOADING meanwhile); save points count once the data set is whole.
    let l = local.clone();
    local.spawn(async move {
        if let Some(rx) = load {
            crate::persist::load::receive(&l, rx).await;
        }
        let _ = loaded.send(());
        if serving && id == 0 {
            l.spawn(crate::persist::snapshot::save_points_loop(l.clone()));
        }
    });
    local.spawn(expiry_loop(local.clone()));
    local.spawn(super::fanout::flusher_loop(local.clone()));
    crate::metrics::start_shard(&local);
    let mut listeners = Vec::new();
    if id == 0 {
        // SAFETY: each descriptor is a listening socket whose ownership moves here. The unix
        // socket is wrapped as a TcpListener too: glommio's accept, recv and send are the same
        // calls on either kind of stream socket, and `net::serve` names a connection without
        // an inet address by the unixsocket path.
        listeners.extend(own.into_iter().map(|fd| unsafe { glommio::net::TcpListener::from_raw_fd(fd.into_raw_fd()) }));
    } else {
        for a in &addrs {
            match bind_one(a) {
                // SAFETY: as above, a listening socket we own.
                Ok(l) => listeners.push(unsafe { glommio::net::TcpListener::from_raw_fd(l.into_raw_fd()) }),
                Err(e) => log::warn!("shard {id}: cannot listen on {a}: {e}"),
            }
        }
    }
    for l in listeners {
        local.spawn(crate::net::accept_loop(local.clone(), l));
    }
    local.shared.startup_memory.fetch_max(crate::alloc::used_memory(), Relaxed);
    inbox_loop(local.clone()).await;
    // Messages still queued, or arriving from now on, are dropped: in-process callers learn
    // that the engine stopped. Pooled in-process sessions hold the shard: let them go.
    local.shared.mailboxes[id].close();
    local.embedded.borrow_mut().clear();
    local.stop.stop();
    // Let the woken tasks end here, dropping what they hold (sessions, reply channels): each
    // ends at its next poll, so a few turns of the task queue see them all out.
    for _ in 0..STOP_TURNS {
        if local.stop.running() == 0 {
            break;
        }
        glommio::executor().yield_task_queue_now().await;
    }
    log::debug!("shard {id} stopped, {} tasks still running", local.stop.running());
}

/// Receives messages from other shards until shutdown.
async fn inbox_loop(local: Rc<ShardLocal>) {
    let shared = local.shared.clone();
    let mb = &shared.mailboxes[local.id];
    let n = shared.shards();
    let mut replies: Vec<Vec<ReplyBatch>> = (0..n).map(|_| Vec::new()).collect();
    let spin = Duration::from_micros(shared.config.num(crate::config::P::SpinBeforeParkUs) as u64);
    loop {
        mb.ready().await;
        let mut handled = 0;
        while let Some(msg) = mb.pop() {
            match msg {
                Msg::Exec { origin, jobs, reply, held, at } => {
                    local.remote_jobs.set(local.remote_jobs.get() + jobs.len() as u64);
                    // A transaction's or script's share: its writes are a part of its block.
                    let capture = (held == Held::Yes).then(|| jobs.first().map(|j| j.caller.id)).flatten();
                    if let Some(c) = capture {
                        local.aof_capture_begin(c);
                    }
                    let ran = run_jobs(&local, jobs, held, at);
                    if let Some(c) = capture {
                        local.aof_capture_end(c);
                    }
                    match ran {
                        Ok(out) => replies[origin].push((reply, out)),
                        Err((out, rest)) => {
                            local.spawn(finish_blocked(local.clone(), origin, out, rest, reply));
                        }
                    }
                }
                Msg::Lock { owner, want, granted } => {
                    local.lock(owner, want, granted);
                }
                Msg::LockRun { owner, want, job, release, reply } => {
                    local.remote_jobs.set(local.remote_jobs.get() + 1);
                    let (granted, rx) = oneshot::channel();
                    if local.lock(owner, want, granted) {
                        let _ = reply.send(run_locked(&local, owner, &job, release));
                    } else {
                        let l = local.clone();
                        local.spawn(async move {
                            if rx.await.is_ok() {
                                let _ = reply.send(run_locked(&l, owner, &job, release));
                            }
                        });
                    }
                }
                Msg::Unlock(owner) => local.unlock(owner),
                Msg::Replies(v) => {
                    for (tx, r) in v {
                        let _ = tx.send(r);
                    }
                }
                Msg::Deliver(v) => v.into_iter().for_each(|d| local.deliver(d)),
                Msg::Push(v) => v.into_iter().for_each(|(client, push)| local.deliver_push(client, &push)),
                Msg::Call(f) => f(&local),
                Msg::Adopt(s) => {
                    local.spawn(crate::net::serve(local.clone(), s.bind_to_executor()));
                }
                Msg::Shutdown => return,
            }
            handled += 1;
            if handled % INBOX_BUDGET == 0 {
                send_replies(&local, &mut replies);
                glommio::yield_if_needed().await;
            }
        }
        send_replies(&local, &mut replies);
        if !spin.is_zero() {
            // `spin-before-park-us`: watch the mailbox a while before waiting on it. A caller
            // that sends again meanwhile finds this task awake, so its push needs no wake-up
            // through the executor; other tasks of the shard wait at most this long.
            let until = std::time::Instant::now() + spin;
            while !mb.notified() && std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
    }
}

/// Runs remote jobs in order. A plain job whose keys another owner holds or awaits stops the
/// run: the replies so far and the jobs left (that one first) are returned for
/// [`finish_blocked`], as one client's commands must run in order.
fn run_jobs(local: &Rc<ShardLocal>, mut jobs: Vec<Job>, held: Held, at: Option<u64>) -> Result<Vec<Reply>, (Vec<Reply>, Vec<Job>)> {
    let now = at.unwrap_or_else(now_ms);
    let mut out = Vec::with_capacity(jobs.len());
    let check = held == Held::No && !local.locks.borrow().is_idle();
    for (i, j) in jobs.iter().enumerate() {
        if check && !local.keys_free(j.spec, &j.args) {
            // Held by a script past its time limit: answered -BUSY rather than waiting.
            if let Some(e) = local.shared.scripts.busy_error().filter(|_| j.spec.flags & crate::command::flags::ALLOW_BUSY == 0) {
                out.push(Reply::from(e));
                continue;
            }
            let rest = jobs.split_off(i);
            return Err((out, rest));
        }
        let r = local.run(j.handler, j.db, &j.args, j.spec, now, j.resp3, j.caller);
        out.push(local.park_or_refuse(r, j.spec, j.waiter.as_ref()));
        if j.waiter.is_some() {
            local.shared.blocking_inflight[local.id].fetch_sub(1, Relaxed);
        }
    }
    Ok(out)
}

/// Finishes a run of remote jobs that met a held key: each waits its turn, then the replies
/// go back to `origin`.
async fn finish_blocked(local: Rc<ShardLocal>, origin: usize, mut out: Vec<Reply>, rest: Vec<Job>, reply: oneshot::Sender<Vec<Reply>>) {
    for j in rest {
        let r = run_when_free(&local, j.spec, j.handler, j.db, &j.args, j.resp3).await;
        out.push(local.park_or_refuse(r, j.spec, j.waiter.as_ref()));
        if j.waiter.is_some() {
            local.shared.blocking_inflight[local.id].fetch_sub(1, Relaxed);
        }
    }
    local.aof_write_now();
    local.shared.mailboxes[origin].push(Msg::Replies(vec![(reply, out)]));
}

/// Runs `job` for `owner`, which holds its keys here, and releases them after when `release`
/// (see [`Msg::LockRun`]).
fn run_locked(local: &Rc<ShardLocal>, owner: Owner, job: &Job, release: bool) -> Reply {
    // A share of a multi-key command over several shards: a part of its block.
    local.aof_capture_begin(job.caller.id);
    let r = local.run(job.handler, job.db, &job.args, job.spec, now_ms(), job.resp3, job.caller);
    local.aof_capture_end(job.caller.id);
    if release {
        local.unlock(owner);
    }
    r
}

/// Sends the replies of remote jobs to their origins, after the writes they made are in the
/// append-only file.
fn send_replies(local: &ShardLocal, replies: &mut [Vec<ReplyBatch>]) {
    let shared = &local.shared;
    if replies.iter().any(|v| !v.is_empty()) {
        local.aof_write_now();
    }
    for (origin, v) in replies.iter_mut().enumerate() {
        if !v.is_empty() {
            shared.mailboxes[origin].push(Msg::Replies(std::mem::take(v)));
        }
    }
}

/// Pause between the idle-time rehash slices.
const REHASH_PAUSE: Duration = Duration::from_millis(10);
/// Longest idle-time rehash slice.
const REHASH_SLICE: Duration = Duration::from_millis(1);

/// Finishes table rehashes that commands alone would leave half done (Redis's
/// `activerehashing`): a slice of at most [`REHASH_SLICE`] every [`REHASH_PAUSE`], until no
/// table rehashes; then the task ends, so an idle server uses no CPU.
pub(super) async fn rehash_loop(local: Rc<ShardLocal>) {
    loop {
        glommio::timer::sleep(REHASH_PAUSE).await;
        let deadline = std::time::Instant::now() + REHASH_SLICE;
        if !local.store.borrow_mut().rehash_until(deadline) {
            break;
        }
    }
    // No await since the last slice looked at every table: none rehashes now.
    local.rehashing.set(false);
}

/// Sleeps until the next expiry timer (or until an earlier one is added), then reclaims due
/// keys in bounded slices.
async fn expiry_loop(local: Rc<ShardLocal>) {
    loop {
        let next = local.store.borrow().next_deadline();
        let now = now_ms();
        match next {
            Some(t) if t <= now => {}
            other => {
                local.expiry_wake_at.set(other.unwrap_or(u64::MAX));
                let sleep = other.map(|t| Duration::from_millis(t - now));
                let kicked = futures::future::poll_fn(|cx| {
                    if local.expiry_wake_at.get() != other.unwrap_or(u64::MAX) {
                        return std::task::Poll::Ready(());
                    }
                    *local.expiry_waker.borrow_mut() = Some(cx.waker().clone());
                    std::task::Poll::Pending
                });
                match sleep {
                    Some(d) => {
                        futures::future::select(Box::pin(glommio::timer::sleep(d)), Box::pin(kicked)).await;
                    }
                    None => kicked.await,
                }
                local.expiry_waker.borrow_mut().take();
            }
        }
        local.expiry_wake_at.set(0);
        // DEBUG SET-ACTIVE-EXPIRE 0: keys expire only when accessed; CLIENT PAUSE: not at all
        // in the background.
        while local.shared.active_expire_off()
            || local.shared.pause_until.load(Relaxed) > now_ms()
            || local.store.borrow().signals.loading()
        {
            glommio::timer::sleep(Duration::from_millis(100)).await;
        }
        // While a script or transaction holds (or waits for) locks here, keys are not
        // expired actively: a held key must not vanish halfway through its owner's work, as
        // Redis's clock stands still while a script runs. Lazy expiry on access still works.
        while !local.locks.borrow().is_idle() {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
        loop {
            let started = std::time::Instant::now();
            let more = {
                let mut st = local.store.borrow_mut();
                st.apply(local.shared.config.store_settings());
                st.expire_due(now_ms(), EXPIRE_BUDGET)
            };
            let ms = started.elapsed().as_millis() as u64;
            let threshold = local.shared.config.num(crate::config::P::LatencyMonitorThreshold);
            if threshold > 0 && ms >= threshold as u64 {
                local.shared.latency.add("expire-cycle", ms);
            }
            local.aof_log_removed();
            local.settle_signals();
            if !more {
                break;
            }
            super::let_io_in().await;
        }
    }
}
