//! In-process pub/sub: a session whose messages arrive as values on a channel, read as a
//! blocking iterator or an async stream. Keyspace notifications are ordinary messages on
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` channels.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use futures::StreamExt;

use super::client::Core;
use super::conn::Conn;
use super::value::{Error, Result, ToArg};
use super::Cmd;
use crate::shard::{Message, MessageSink};

/// A subscribing session and the messages it has received. Messages wait in an unbounded
/// channel whose bytes count against `client-output-buffer-limit pubsub`, as a subscriber
/// connection's output does: a subscriber that stops reading past the limit is cut off (its
/// iterator and stream end, [`Subscriber::recv`] returns [`Error::Stopped`]).
#[derive(Debug)]
pub struct Subscriber {
    conn: Conn,
    rx: flume::Receiver<Message>,
    pending: Arc<AtomicI64>,
}

impl Subscriber {
    pub(crate) fn open(core: &Arc<Core>) -> Subscriber {
        let (tx, rx) = flume::unbounded();
        let pending = Arc::new(AtomicI64::new(0));
        let conn = Conn::open(core, 0, Some(MessageSink { tx, pending: pending.clone() }));
        Subscriber { conn, rx, pending }
    }

    fn command<A: ToArg>(&self, name: &str, names: impl IntoIterator<Item = A>) -> Result<()> {
        self.conn.call(Cmd::new(name).args(names))
    }

    /// SUBSCRIBE: once it returns, every message published on `channels` arrives here.
    pub fn subscribe<A: ToArg>(&self, channels: impl IntoIterator<Item = A>) -> Result<()> {
        self.command("SUBSCRIBE", channels)
    }

    /// PSUBSCRIBE to glob patterns (`news.*`, `__keyspace@0__:user:*`).
    pub fn psubscribe<A: ToArg>(&self, patterns: impl IntoIterator<Item = A>) -> Result<()> {
        self.command("PSUBSCRIBE", patterns)
    }

    /// SSUBSCRIBE to shard channels.
    pub fn ssubscribe<A: ToArg>(&self, channels: impl IntoIterator<Item = A>) -> Result<()> {
        self.command("SSUBSCRIBE", channels)
    }

    /// UNSUBSCRIBE from `channels` (all of them when empty).
    pub fn unsubscribe<A: ToArg>(&self, channels: impl IntoIterator<Item = A>) -> Result<()> {
        self.command("UNSUBSCRIBE", channels)
    }

    /// PUNSUBSCRIBE from `patterns` (all of them when empty).
    pub fn punsubscribe<A: ToArg>(&self, patterns: impl IntoIterator<Item = A>) -> Result<()> {
        self.command("PUNSUBSCRIBE", patterns)
    }

    /// [`Subscriber::subscribe`] from async code.
    pub fn subscribe_async<A: ToArg>(&self, channels: impl IntoIterator<Item = A>) -> impl Future<Output = Result<()>> + Send + 'static {
        self.conn.to_async().call(Cmd::new("SUBSCRIBE").args(channels))
    }

    /// [`Subscriber::psubscribe`] from async code.
    pub fn psubscribe_async<A: ToArg>(&self, patterns: impl IntoIterator<Item = A>) -> impl Future<Output = Result<()>> + Send + 'static {
        self.conn.to_async().call(Cmd::new("PSUBSCRIBE").args(patterns))
    }

    fn took(&self, m: Message) -> Message {
        self.pending.fetch_sub(m.size(), Relaxed);
        m
    }

    /// The next message, waiting for it.
    pub fn recv(&self) -> Result<Message> {
        self.rx.recv().map(|m| self.took(m)).map_err(|_| Error::Stopped)
    }

    /// The next message, or `None` when none came within `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Message>> {
        match self.rx.recv_timeout(timeout) {
            Ok(m) => Ok(Some(self.took(m))),
            Err(flume::RecvTimeoutError::Timeout) => Ok(None),
            Err(flume::RecvTimeoutError::Disconnected) => Err(Error::Stopped),
        }
    }

    /// The next message if one is waiting.
    pub fn try_recv(&self) -> Option<Message> {
        self.rx.try_recv().ok().map(|m| self.took(m))
    }

    /// The next message, from async code.
    pub async fn recv_async(&self) -> Result<Message> {
        self.rx.recv_async().await.map(|m| self.took(m)).map_err(|_| Error::Stopped)
    }

    /// Messages as they come, blocking for each; ends when the subscriber is cut off.
    pub fn iter(&self) -> impl Iterator<Item = Message> + '_ {
        self.rx.iter().map(|m| self.took(m))
    }

    /// Messages as an async stream; ends when the subscriber is cut off.
    pub fn stream(&self) -> impl Stream<Item = Message> + '_ {
        self.rx.stream().map(|m| self.took(m))
    }
}

impl super::Client {
    /// A new subscriber: a session of its own whose messages arrive as values.
    pub fn subscriber(&self) -> Subscriber {
        Subscriber::open(&self.core)
    }
}

impl super::AsyncClient {
    /// A new subscriber (see [`super::Client::subscriber`]).
    pub fn subscriber(&self) -> Subscriber {
        Subscriber::open(&self.core)
    }
}
