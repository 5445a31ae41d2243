//! How an in-process call reaches its shard and how its caller waits.
//!
//! A one-off call (a command or a pipeline of them) travels in one [`Msg::Call`] to the shard
//! owning its first key, where it runs on an idle session from that shard's pool through the
//! same dispatcher as a TCP connection's batch: commands on that shard run inline, the others
//! hop on as they would for a connection. A command that completes without waiting (the usual
//! case) is answered before the shard goes back to its inbox; one that waits (a remote key, a
//! blocking pop) continues as a task. The caller spins a few microseconds for the reply before
//! it parks its thread (blocking flavour), or awaits it (async flavour, any runtime).

use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Context;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::oneshot;

use super::value::{Error, FromReply, Result, ToArg};
use crate::command::{flags, lookup, CmdError};
use crate::protocol::Reply;
use crate::shard::route::key_shard;
use crate::shard::{execute_replies, Msg, Session, ShardLocal, Shared};

/// Longest a blocking caller spins for its reply before parking its thread.
const SPIN: Duration = Duration::from_micros(20);
/// Idle sessions kept per shard for one-off calls.
const POOL_MAX: usize = 64;

/// What every handle of one engine shares: the shards' shared state and a round-robin
/// counter for calls with no key.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    next: AtomicUsize,
}

impl Core {
    pub(crate) fn new(shared: Arc<Shared>) -> Arc<Core> {
        Arc::new(Core { shared, next: AtomicUsize::new(0) })
    }

    /// The next shard in round-robin order.
    pub(crate) fn next_shard(&self) -> usize {
        self.next.fetch_add(1, Relaxed) % self.shared.shards()
    }

    /// Sends `msg` to `shard`. Once that shard has stopped, its mailbox is closed and the
    /// message dropped, so a reply channel inside it reports that the engine stopped.
    pub(crate) fn push(&self, shard: usize, msg: Msg) {
        let mb = &self.shared.mailboxes[shard];
        mb.push(msg);
        if mb.is_closed() {
            mb.drain();
        }
    }

    /// Runs `cmds` in database `db` on a pooled session of the shard owning the first
    /// command's first key (a PUBLISH: its channel's; no key: `home`, so one handle's keyless
    /// calls keep their order); the receiver gets one reply per command.
    pub(crate) fn submit(&self, db: usize, home: usize, cmds: Vec<Vec<Bytes>>) -> oneshot::Receiver<Vec<Reply>> {
        let (tx, rx) = oneshot::channel();
        if db >= self.shared.config.databases() {
            let _ = tx.send(refuse_all(&cmds, CmdError::DbOutOfRange));
            return rx;
        }
        let shards = self.shared.shards();
        let routed = cmds.first().and_then(|args| {
            let spec = lookup(args).ok()?;
            match spec.key_positions(args).next() {
                Some(i) => Some(key_shard(&args[i], shards)),
                None if spec.flags & flags::PUBSUB != 0 && args.len() == 3 => Some(key_shard(&args[1], shards)),
                None => None,
            }
        });
        let target = routed.unwrap_or(home % shards);
        self.push(target, Msg::Call(Box::new(move |local: &Rc<ShardLocal>| run_pooled(local, db, cmds, tx))));
        rx
    }
}

/// The same error as the reply to every command of a call.
pub(crate) fn refuse_all(cmds: &[Vec<Bytes>], e: CmdError) -> Vec<Reply> {
    cmds.iter().map(|_| Reply::from(e.clone())).collect()
}

/// A session for in-process use on `local`: authenticated (the caller is the process
/// itself) and speaking RESP3, so replies keep their types (maps, doubles, sets).
pub(crate) fn new_session(local: &Rc<ShardLocal>) -> Session {
    let mut s = Session::new(local.clone(), "embedded".into(), "embedded".into(), -1);
    s.authenticated = true;
    s.set_resp3(true);
    s
}

/// Runs one call on a pooled session and sends its replies. The session goes back to the
/// pool unless the call left state on it (MULTI, WATCH, subscriptions, a closed wait).
fn run_pooled(local: &Rc<ShardLocal>, db: usize, mut cmds: Vec<Vec<Bytes>>, mut tx: oneshot::Sender<Vec<Reply>>) {
    let mut s = local.embedded.borrow_mut().pop().unwrap_or_else(|| new_session(local));
    let local = local.clone();
    run_now_or_spawn(async move {
        let work = async {
            s.select(db);
            let replies = until_caller_leaves(&mut s, &mut tx, &mut cmds).await;
            let _ = tx.send(replies);
            s.multi.is_none() && s.watch.is_none() && !s.push.subscribed() && !s.close
        };
        // At shard stop the work is dropped, and with it the caller's reply channel.
        let clean = local.stop.or_stop(work).await == Some(true);
        let mut pool = local.embedded.borrow_mut();
        if clean && pool.len() < POOL_MAX {
            pool.push(s);
        }
    });
}

/// Runs `cmds` on `s`; if the caller stops waiting (its future dropped), a blocked command
/// ends as if its connection had closed, so it takes nothing that nobody would receive.
pub(crate) async fn until_caller_leaves(s: &mut Session, tx: &mut oneshot::Sender<Vec<Reply>>, cmds: &mut Vec<Vec<Bytes>>) -> Vec<Reply> {
    let gone = s.gone.clone();
    let mut run = std::pin::pin!(execute_replies(s, cmds));
    futures::future::poll_fn(|cx| {
        if !gone.get() && tx.poll_canceled(cx).is_ready() {
            gone.set(true);
        }
        run.as_mut().poll(cx)
    })
    .await
}

/// Polls `fut` once here; only if it must wait is it spawned as a task on this shard. (A
/// future may be polled again with another waker: the task's first poll registers its own.)
pub(crate) fn run_now_or_spawn(fut: impl Future<Output = ()> + 'static) {
    let mut fut = Box::pin(fut);
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    if fut.as_mut().poll(&mut cx).is_pending() {
        glommio::spawn_local(fut).detach();
    }
}

/// Waits for a reply on this thread: spins for up to [`SPIN`] (a shard that is awake answers
/// within microseconds), then parks.
pub(crate) fn wait<T>(mut rx: oneshot::Receiver<T>) -> Result<T> {
    let start = Instant::now();
    let mut n = 0u32;
    loop {
        match rx.try_recv() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(_) => return Err(Error::Stopped),
        }
        n += 1;
        if n.is_multiple_of(64) && start.elapsed() > SPIN {
            break;
        }
        std::hint::spin_loop();
    }
    futures::executor::block_on(rx).map_err(|_| Error::Stopped)
}

/// Awaits a call's replies (any runtime); a dropped sender means the engine stopped.
pub(crate) async fn replies(rx: oneshot::Receiver<Vec<Reply>>) -> Result<Vec<Reply>> {
    rx.await.map_err(|_| Error::Stopped)
}

/// The single reply of a one-command call.
pub(crate) fn only(replies: Vec<Reply>) -> Reply {
    replies.into_iter().next().unwrap_or(Reply::Nil)
}

/// A command's arguments, name first: anything iterable over [`ToArg`] values (`["GET",
/// "k"]`), or a [`Cmd`] built argument by argument when their types differ.
pub trait IntoArgs {
    /// The arguments.
    fn into_args(self) -> Vec<Bytes>;
}

impl<I> IntoArgs for I
where
    I: IntoIterator,
    I::Item: ToArg,
{
    fn into_args(self) -> Vec<Bytes> {
        self.into_iter().map(|a| a.to_arg()).collect()
    }
}

/// A command built argument by argument: `Cmd::new("SET").arg("k").arg(42)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd(pub Vec<Bytes>);

impl Cmd {
    /// A command with no arguments yet.
    pub fn new(name: &str) -> Cmd {
        Cmd(vec![Bytes::copy_from_slice(name.as_bytes())])
    }

    /// Appends one argument.
    pub fn arg(mut self, a: impl ToArg) -> Cmd {
        self.0.push(a.to_arg());
        self
    }

    /// Appends every argument of `it`.
    pub fn args<A: ToArg>(mut self, it: impl IntoIterator<Item = A>) -> Cmd {
        self.0.extend(it.into_iter().map(|a| a.to_arg()));
        self
    }
}

impl IntoArgs for Cmd {
    fn into_args(self) -> Vec<Bytes> {
        self.0
    }
}

/// A handle to the engine for any thread: `Clone + Send + Sync`, cheap to clone. Each call
/// runs on its own (pooled) session, so calls from many threads proceed in parallel. For state
/// that spans calls (WATCH, SELECT, MULTI typed in by hand) use a [`super::Conn`]; for
/// messages, a [`super::Subscriber`].
///
/// Every typed method (`get`, `set`, `incr`, `lpush`, `blpop`, `hset`, `sadd`, `zadd`...) has
/// the same arguments and reply as the Redis command of that name; see `typed.rs`.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) core: Arc<Core>,
    pub(crate) db: usize,
    /// The shard that runs this handle's calls without a key (its clones share it).
    pub(crate) home: usize,
}

impl Client {
    pub(crate) fn new(core: Arc<Core>) -> Client {
        let home = core.next_shard();
        Client { core, db: 0, home }
    }

    /// The same engine, with calls going to database `db` (as SELECT would). An index out of
    /// range makes every call fail with `ERR DB index is out of range`.
    pub fn with_db(&self, db: usize) -> Client {
        Client { db, ..self.clone() }
    }

    /// The database this handle's calls go to.
    pub fn db(&self) -> usize {
        self.db
    }

    /// The async flavour of this handle (same engine and database).
    pub fn to_async(&self) -> AsyncClient {
        AsyncClient { core: self.core.clone(), db: self.db, home: self.home }
    }

    /// Runs any command of the command table and converts its reply:
    /// `client.call::<Option<String>>(["GET", "k"])`.
    pub fn call<T: FromReply>(&self, args: impl IntoArgs) -> Result<T> {
        self.run(args.into_args())
    }

    /// Runs any command and returns Redis's reply as it is (errors included, as
    /// [`Reply::Error`]).
    pub fn call_reply(&self, args: impl IntoArgs) -> Reply {
        self.submit(vec![args.into_args()]).map(only).unwrap_or_else(|_| Reply::err("ERR engine stopped"))
    }

    pub(crate) fn run<T: FromReply>(&self, args: Vec<Bytes>) -> Result<T> {
        T::from_reply(only(self.submit(vec![args])?))
    }

    pub(crate) fn submit(&self, cmds: Vec<Vec<Bytes>>) -> Result<Vec<Reply>> {
        wait(self.core.submit(self.db, self.home, cmds))
    }
}

/// The async flavour of [`Client`]: the same calls, each a `Send + 'static` future that any
/// runtime can drive (tokio, glommio, `futures::executor`).
#[derive(Debug, Clone)]
pub struct AsyncClient {
    pub(crate) core: Arc<Core>,
    pub(crate) db: usize,
    pub(crate) home: usize,
}

impl AsyncClient {
    /// The same engine, with calls going to database `db`.
    pub fn with_db(&self, db: usize) -> AsyncClient {
        AsyncClient { db, ..self.clone() }
    }

    /// The blocking flavour of this handle.
    pub fn to_blocking(&self) -> Client {
        Client { core: self.core.clone(), db: self.db, home: self.home }
    }

    /// Runs any command of the command table and converts its reply.
    pub fn call<T: FromReply + Send + 'static>(&self, args: impl IntoArgs) -> impl Future<Output = Result<T>> + Send + 'static {
        self.run(args.into_args())
    }

    /// Runs a pipeline (see [`Pipeline::query_async`]).
    pub fn submit(&self, cmds: Vec<Vec<Bytes>>) -> impl Future<Output = Result<Vec<Reply>>> + Send + 'static {
        replies(self.core.submit(self.db, self.home, cmds))
    }

    pub(crate) fn run<T: FromReply + Send + 'static>(&self, args: Vec<Bytes>) -> impl Future<Output = Result<T>> + Send + 'static {
        let rx = self.core.submit(self.db, self.home, vec![args]);
        async move { T::from_reply(only(replies(rx).await?)) }
    }
}
