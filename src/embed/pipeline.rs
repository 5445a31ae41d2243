//! Pipelines: several commands sent in one message and answered in order, optionally
//! wrapped in MULTI/EXEC so that they run atomically.

use std::future::Future;

use bytes::Bytes;
use futures::channel::oneshot;

use super::client::{replies, AsyncClient, Client, IntoArgs};
use super::conn::{AsyncConn, Conn};
use super::value::{check, Error, FromReply, Result};
use crate::protocol::Reply;

/// Commands queued to run together: `Pipeline::new().set("a", 1).incr("n", 1).query(&client)`.
/// The typed methods queue the command of their name (see `typed.rs`); [`Pipeline::cmd`]
/// queues any command.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    cmds: Vec<Vec<Bytes>>,
    atomic: bool,
}

/// What runs a pipeline's commands as one batch, in order, on one session.
pub trait RunsBatch {
    /// Runs `cmds` and returns one reply per command.
    fn run_batch(&self, cmds: Vec<Vec<Bytes>>) -> Result<Vec<Reply>>;
}

impl RunsBatch for Client {
    fn run_batch(&self, cmds: Vec<Vec<Bytes>>) -> Result<Vec<Reply>> {
        self.submit(cmds)
    }
}

impl RunsBatch for Conn {
    fn run_batch(&self, cmds: Vec<Vec<Bytes>>) -> Result<Vec<Reply>> {
        super::client::wait(self.send(cmds))
    }
}

/// What runs a pipeline's commands as one batch from async code: an [`AsyncClient`] or an
/// [`AsyncConn`].
pub trait RunsBatchAsync: sealed::SendsBatch {}

mod sealed {
    use super::*;

    /// Sends a batch; the receiver gets one reply per command, or is cancelled when the
    /// engine stopped.
    pub trait SendsBatch {
        fn send_batch(&self, cmds: Vec<Vec<Bytes>>) -> oneshot::Receiver<Vec<Reply>>;
    }

    impl SendsBatch for AsyncClient {
        fn send_batch(&self, cmds: Vec<Vec<Bytes>>) -> oneshot::Receiver<Vec<Reply>> {
            self.core.submit(self.db, self.home, cmds)
        }
    }

    impl SendsBatch for AsyncConn {
        fn send_batch(&self, cmds: Vec<Vec<Bytes>>) -> oneshot::Receiver<Vec<Reply>> {
            self.send(cmds)
        }
    }
}

impl RunsBatchAsync for AsyncClient {}
impl RunsBatchAsync for AsyncConn {}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Makes the pipeline a transaction: it runs between MULTI and EXEC, so no other client
    /// sees a state between two of its commands, even when their keys are on different
    /// shards.
    pub fn atomic(&mut self) -> &mut Self {
        self.atomic = true;
        self
    }

    /// Queues any command.
    pub fn cmd(&mut self, args: impl IntoArgs) -> &mut Self {
        self.cmds.push(args.into_args());
        self
    }

    /// Number of commands queued.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Runs the commands and returns their replies in order; a command that failed has its
    /// error as its reply ([`Reply::Error`]), as Redis answers a pipeline. For an atomic
    /// pipeline these are EXEC's replies; a transaction refused as a whole (EXECABORT, a
    /// changed WATCHed key) is an `Err`.
    pub fn query(&self, on: &impl RunsBatch) -> Result<Vec<Reply>> {
        finish(self.atomic, on.run_batch(self.batch())?)
    }

    /// [`Pipeline::query`], with the replies converted as one array: `query_as::<(i64,
    /// Option<String>)>`.
    pub fn query_as<T: FromReply>(&self, on: &impl RunsBatch) -> Result<T> {
        T::from_reply(Reply::Array(self.query(on)?))
    }

    /// [`Pipeline::query`] from async code.
    pub fn query_async(&self, on: &impl RunsBatchAsync) -> impl Future<Output = Result<Vec<Reply>>> + Send + 'static {
        let rx = on.send_batch(self.batch());
        let atomic = self.atomic;
        async move { finish(atomic, replies(rx).await?) }
    }

    /// [`Pipeline::query_as`] from async code.
    pub fn query_as_async<T: FromReply>(&self, on: &impl RunsBatchAsync) -> impl Future<Output = Result<T>> + Send + 'static {
        let run = self.query_async(on);
        async move { T::from_reply(Reply::Array(run.await?)) }
    }

    fn batch(&self) -> Vec<Vec<Bytes>> {
        if !self.atomic {
            return self.cmds.clone();
        }
        let mut all = Vec::with_capacity(self.cmds.len() + 2);
        all.push(vec![Bytes::from_static(b"MULTI")]);
        all.extend(self.cmds.iter().cloned());
        all.push(vec![Bytes::from_static(b"EXEC")]);
        all
    }
}

/// The replies a caller sees: as they came, or, for a transaction, EXEC's.
fn finish(atomic: bool, mut replies: Vec<Reply>) -> Result<Vec<Reply>> {
    if !atomic {
        return Ok(replies);
    }
    match check(replies.pop().unwrap_or(Reply::Nil))? {
        Reply::Array(v) => Ok(v),
        Reply::NilArray | Reply::Nil => Err(Error::WatchedKeyChanged),
        r => Err(Error::Unexpected { reply: format!("{r:?}"), wanted: "EXEC replies" }),
    }
}
