//! Pipelines: several commands sent in one message and answered in order, optionally
//! wrapped in MULTI/EXEC so that they run atomically.

use std::future::Future;

use bytes::Bytes;

use super::client::{AsyncClient, Client, IntoArgs};
use super::conn::Conn;
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
    pub fn query_async(&self, on: &AsyncClient) -> impl Future<Output = Result<Vec<Reply>>> + Send + 'static {
        let run = on.submit(self.batch());
        let atomic = self.atomic;
        async move { finish(atomic, run.await?) }
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
