//! A dedicated in-process connection: one session that lives as long as its handle, for
//! state that spans calls (WATCH, SELECT, CLIENT SETNAME, subscriptions); blocking
//! ([`Conn`]) and async ([`AsyncConn`]). Optimistic transactions are built on it.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;

use super::client::{
    new_session, only, refuse_all, replies, run_now_or_spawn, until_caller_leaves, wait, AsyncClient, Client, Core, IntoArgs,
};
use super::pipeline::Pipeline;
use super::value::{Error, FromReply, Result, ToArg};
use crate::command::CmdError;
use crate::protocol::Reply;
use crate::shard::{MessageSink, Msg, ShardLocal};

type Request = (Vec<Vec<Bytes>>, oneshot::Sender<Vec<Reply>>);

/// One session on one shard, like one TCP connection: its calls run in order, and what a
/// call leaves (a WATCH, a SELECT, an open MULTI) is there for the next. `Send`; dropping it
/// closes the session (its WATCHes and subscriptions end) unless an [`AsyncConn`] made from
/// it ([`Conn::to_async`]) still holds it.
#[derive(Debug)]
pub struct Conn {
    tx: mpsc::UnboundedSender<Request>,
}

/// The async flavour of [`Conn`]: the same kind of session, each call a `Send + 'static`
/// future. Clones share one session, which closes when the last of them is dropped.
#[derive(Debug, Clone)]
pub struct AsyncConn {
    tx: mpsc::UnboundedSender<Request>,
}

/// Sends one batch to a session; the receiver gets one reply per command. When the session
/// is gone (engine stopped), the request and its sender are dropped.
fn send(tx: &mpsc::UnboundedSender<Request>, cmds: Vec<Vec<Bytes>>) -> oneshot::Receiver<Vec<Reply>> {
    let (reply, rx) = oneshot::channel();
    let _ = tx.unbounded_send((cmds, reply));
    rx
}

impl Conn {
    /// Opens a session on the next shard in turn, in database `db`, its pub/sub messages
    /// going to `sink` when given.
    pub(crate) fn open(core: &Arc<Core>, db: usize, sink: Option<MessageSink>) -> Conn {
        let (tx, mut rx) = mpsc::unbounded::<Request>();
        let open = move |local: &Rc<ShardLocal>| {
            let mut s = new_session(local);
            let valid = db < local.shared.config.databases();
            if valid {
                s.select(db);
            }
            if let Some(sink) = sink {
                s.push.set_sink(sink);
            }
            let local = local.clone();
            run_now_or_spawn(async move {
                let serve = async {
                    while let Some((mut cmds, mut reply)) = rx.next().await {
                        if !valid {
                            let _ = reply.send(refuse_all(&cmds, CmdError::DbOutOfRange));
                            continue;
                        }
                        let replies = until_caller_leaves(&mut s, &mut reply, &mut cmds).await;
                        let _ = reply.send(replies);
                    }
                };
                // At shard stop the session ends: pending and later calls get `Stopped`.
                local.stop.or_stop(serve).await;
            });
        };
        core.push(core.next_shard(), Msg::Call(Box::new(open)));
        Conn { tx }
    }

    pub(crate) fn send(&self, cmds: Vec<Vec<Bytes>>) -> oneshot::Receiver<Vec<Reply>> {
        send(&self.tx, cmds)
    }

    /// The same session, called from async code.
    pub fn to_async(&self) -> AsyncConn {
        AsyncConn { tx: self.tx.clone() }
    }

    /// Runs any command on this session and converts its reply.
    pub fn call<T: FromReply>(&self, args: impl IntoArgs) -> Result<T> {
        self.run(args.into_args())
    }

    /// WATCH: a later atomic pipeline on this connection fails with
    /// [`Error::WatchedKeyChanged`] if another client modifies one of `keys` first.
    pub fn watch<K: ToArg>(&self, keys: impl IntoIterator<Item = K>) -> Result<()> {
        self.run(super::Cmd::new("WATCH").args(keys).0)
    }

    /// UNWATCH.
    pub fn unwatch(&self) -> Result<()> {
        self.run(vec![Bytes::from_static(b"UNWATCH")])
    }

    /// Runs `pipeline` on this session (see [`Pipeline::query`]).
    pub fn query(&self, pipeline: &Pipeline) -> Result<Vec<Reply>> {
        pipeline.query(self)
    }

    pub(crate) fn run<T: FromReply>(&self, args: Vec<Bytes>) -> Result<T> {
        T::from_reply(only(wait(self.send(vec![args]))?))
    }
}

impl AsyncConn {
    pub(crate) fn send(&self, cmds: Vec<Vec<Bytes>>) -> oneshot::Receiver<Vec<Reply>> {
        send(&self.tx, cmds)
    }

    /// Runs any command on this session and converts its reply.
    pub fn call<T: FromReply + Send + 'static>(&self, args: impl IntoArgs) -> impl Future<Output = Result<T>> + Send + 'static {
        self.run(args.into_args())
    }

    /// WATCH (see [`Conn::watch`]).
    pub fn watch<K: ToArg>(&self, keys: impl IntoIterator<Item = K>) -> impl Future<Output = Result<()>> + Send + 'static {
        self.run(super::Cmd::new("WATCH").args(keys).0)
    }

    /// UNWATCH.
    pub fn unwatch(&self) -> impl Future<Output = Result<()>> + Send + 'static {
        self.run(vec![Bytes::from_static(b"UNWATCH")])
    }

    /// Runs `pipeline` on this session (see [`Pipeline::query_async`]).
    pub fn query(&self, pipeline: &Pipeline) -> impl Future<Output = Result<Vec<Reply>>> + Send + 'static {
        pipeline.query_async(self)
    }

    pub(crate) fn run<T: FromReply + Send + 'static>(&self, args: Vec<Bytes>) -> impl Future<Output = Result<T>> + Send + 'static {
        let rx = self.send(vec![args]);
        async move { T::from_reply(only(replies(rx).await?)) }
    }
}

impl Client {
    /// A dedicated session on this handle's database (see [`Conn`]).
    pub fn conn(&self) -> Conn {
        Conn::open(&self.core, self.db, None)
    }

    /// An optimistic transaction: WATCHes `keys`, lets `build` read through the connection
    /// and queue writes in the pipeline, then runs the pipeline atomically, starting over
    /// while another client modified a watched key in between. Returns EXEC's replies,
    /// converted.
    pub fn transaction<K: ToArg, T: FromReply>(&self, keys: &[K], mut build: impl FnMut(&Conn, &mut Pipeline) -> Result<()>) -> Result<T> {
        let conn = self.conn();
        loop {
            conn.watch(keys)?;
            let mut p = Pipeline::new();
            build(&conn, &mut p)?;
            match p.atomic().query_as::<T>(&conn) {
                Err(Error::WatchedKeyChanged) => continue,
                r => return r,
            }
        }
    }
}

impl AsyncClient {
    /// A dedicated session on this handle's database (see [`AsyncConn`]).
    pub fn conn(&self) -> AsyncConn {
        Conn::open(&self.core, self.db, None).to_async()
    }

    /// [`Client::transaction`] from async code. `build` gets the connection (a clone: its
    /// reads may be awaited) and an empty pipeline, and returns the pipeline with the writes
    /// queued; it runs again on each retry.
    ///
    /// ```
    /// # use shardis::embed::{Engine, Pipeline};
    /// # let engine = Engine::builder().shards(2).unpinned().start().unwrap();
    /// let client = engine.client().to_async();
    /// let ((), sold): ((), i64) = futures::executor::block_on(client.transaction(&["stock", "sold"], |conn, mut p| async move {
    ///     let stock: i64 = conn.get("stock").await?.unwrap_or(10);
    ///     p.set("stock", stock - 1).incr("sold");
    ///     Ok(p)
    /// }))
    /// .unwrap();
    /// assert_eq!(sold, 1);
    /// # engine.stop();
    /// ```
    pub fn transaction<K, T, F, Fut>(&self, keys: &[K], mut build: F) -> impl Future<Output = Result<T>> + Send + 'static
    where
        K: ToArg,
        T: FromReply + Send + 'static,
        F: FnMut(AsyncConn, Pipeline) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Pipeline>> + Send,
    {
        let conn = self.conn();
        let watch = super::Cmd::new("WATCH").args(keys).0;
        async move {
            loop {
                conn.run::<()>(watch.clone()).await?;
                let mut p = build(conn.clone(), Pipeline::new()).await?;
                match p.atomic().query_as_async::<T>(&conn).await {
                    Err(Error::WatchedKeyChanged) => continue,
                    r => return r,
                }
            }
        }
    }
}
