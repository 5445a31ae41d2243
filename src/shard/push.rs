//! Out-of-band output for one connection: pub/sub messages and keyspace events waiting to be
//! written, the connection's subscriptions, and the `client-output-buffer-limit` check that
//! disconnects a subscriber which does not keep up.

use std::cell::{Cell, RefCell};
use std::task::Waker;

use bytes::Bytes;

use crate::config::{Config, OutputClass};
use crate::protocol::{encode, Reply};
use crate::pubsub::Kind;

/// A connection's subscriptions, per namespace.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// SUBSCRIBE channels.
    pub channels: ahash::AHashSet<Bytes>,
    /// PSUBSCRIBE patterns.
    pub patterns: ahash::AHashSet<Bytes>,
    /// SSUBSCRIBE shard channels.
    pub shard: ahash::AHashSet<Bytes>,
}

impl Subscriptions {
    /// The set of one namespace.
    pub fn of(&mut self, kind: Kind) -> &mut ahash::AHashSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count SUBSCRIBE-family replies carry: channels and patterns together, or shard
    /// channels for the S-commands.
    pub fn count(&self, kind: Kind) -> i64 {
        match kind {
            Kind::Shard => self.shard.len() as i64,
            _ => (self.channels.len() + self.patterns.len()) as i64,
        }
    }

    /// Whether any subscription is open (RESP2 subscribed mode).
    pub fn any(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shard.is_empty()
    }
}

/// A published message, as an in-process subscriber receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The namespace it was published in: `Channel` (PUBLISH) or `Shard` (SPUBLISH).
    pub kind: Kind,
    /// The pattern it matched, for pattern subscriptions.
    pub pattern: Option<Bytes>,
    /// The channel.
    pub channel: Bytes,
    /// The message.
    pub payload: Bytes,
}

impl Message {
    /// Bytes it holds, counted against the pubsub output limit while it waits.
    pub fn size(&self) -> i64 {
        (self.channel.len() + self.payload.len() + self.pattern.as_ref().map_or(0, Bytes::len)) as i64
    }
}

/// Where an in-process subscriber's messages go instead of encoded frames: a channel to the
/// subscriber's thread, and the bytes waiting in it (the receiver subtracts what it takes).
#[derive(Debug)]
pub struct MessageSink {
    /// The subscriber's channel.
    pub tx: flume::Sender<Message>,
    /// Bytes sent and not yet received.
    pub pending: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// Out-of-band output of one connection, shared between its session and its shard's
/// delivery code (same thread).
#[derive(Debug)]
pub struct Pushes {
    /// Client id.
    pub client: u64,
    buf: RefCell<Vec<u8>>,
    waker: RefCell<Option<Waker>>,
    resp3: Cell<bool>,
    /// Open subscriptions.
    pub subs: RefCell<Subscriptions>,
    /// Since when (ms) the pending output has been over the soft limit.
    over_soft_since: Cell<Option<u64>>,
    /// Set when the output limit was passed: the connection must close.
    overflowed: Cell<bool>,
    /// For an in-process subscriber: where its messages go.
    sink: RefCell<Option<MessageSink>>,
}

impl Pushes {
    /// Empty output for client `client`.
    pub fn new(client: u64) -> Self {
        Pushes {
            client,
            buf: RefCell::new(Vec::new()),
            waker: RefCell::new(None),
            resp3: Cell::new(false),
            subs: RefCell::new(Subscriptions::default()),
            over_soft_since: Cell::new(None),
            overflowed: Cell::new(false),
            sink: RefCell::new(None),
        }
    }

    /// Sends this client's messages to `sink` as values instead of encoded frames.
    pub fn set_sink(&self, sink: MessageSink) {
        *self.sink.borrow_mut() = Some(sink);
    }

    /// Whether messages go to an in-process sink.
    pub fn has_sink(&self) -> bool {
        self.sink.borrow().is_some()
    }

    /// Sends `msg` to the in-process sink, then applies the pubsub output limit to the bytes
    /// waiting there: past it, the sink is dropped (the subscriber sees its channel end).
    pub fn send_message(&self, msg: Message, config: &Config, now_ms: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut slot = self.sink.borrow_mut();
        let Some(sink) = slot.as_ref() else { return };
        let size = msg.size();
        let pending = sink.pending.fetch_add(size, Relaxed) + size;
        if sink.tx.send(msg).is_err() {
            *slot = None;
            return;
        }
        if self.over_limit(pending, config, now_ms) {
            log::warn!("dropping in-process subscriber id={} for overcoming of output buffer limits (pubsub class)", self.client);
            self.overflowed.set(true);
            *slot = None;
        }
    }

    /// Sets the protocol deliveries are encoded in.
    pub fn set_resp3(&self, resp3: bool) {
        self.resp3.set(resp3);
    }

    /// Whether the client subscribes to anything.
    pub fn subscribed(&self) -> bool {
        self.subs.borrow().any()
    }

    /// Whether a message published on `channel` (through `pattern` when it matched one) is
    /// still wanted: the client may have unsubscribed since it was sent, or been cut off.
    pub fn wants(&self, kind: Kind, pattern: Option<&Bytes>, channel: &Bytes) -> bool {
        if self.overflowed.get() {
            return false;
        }
        let mut subs = self.subs.borrow_mut();
        match pattern {
            Some(p) => subs.patterns.contains(p),
            None => subs.of(kind).contains(channel),
        }
    }

    /// Whether the client speaks RESP3.
    pub fn resp3(&self) -> bool {
        self.resp3.get()
    }

    /// The encoded message frame (`message`, `pmessage` or `smessage`).
    pub fn frame(kind: Kind, pattern: Option<&Bytes>, channel: &Bytes, payload: &Bytes, resp3: bool) -> Vec<u8> {
        let msg = match (kind, pattern) {
            (_, Some(p)) => {
                vec![Reply::bulk(b"pmessage"), Reply::Bulk(p.clone()), Reply::Bulk(channel.clone()), Reply::Bulk(payload.clone())]
            }
            (Kind::Shard, None) => vec![Reply::bulk(b"smessage"), Reply::Bulk(channel.clone()), Reply::Bulk(payload.clone())],
            _ => vec![Reply::bulk(b"message"), Reply::Bulk(channel.clone()), Reply::Bulk(payload.clone())],
        };
        let mut out = Vec::with_capacity(payload.len() + channel.len() + 40);
        encode(&Reply::Push(msg), resp3, &mut out);
        out
    }

    /// Queues an encoded message frame, then applies the pubsub output limit.
    pub fn append(&self, frame: &[u8], config: &Config, now_ms: u64) {
        let pending = {
            let mut buf = self.buf.borrow_mut();
            buf.extend_from_slice(frame);
            buf.len() as i64
        };
        if self.over_limit(pending, config, now_ms) {
            log::warn!("closing client id={} for overcoming of output buffer limits (pubsub class)", self.client);
            self.overflowed.set(true);
            self.buf.borrow_mut().clear();
        }
        self.wake();
    }

    /// Queues an encoded frame with no output limit (a MONITOR line: monitors are of the
    /// normal client class, unlimited by default).
    pub fn append_unlimited(&self, frame: &[u8]) {
        self.buf.borrow_mut().extend_from_slice(frame);
        self.wake();
    }

    /// Whether `pending` bytes pass the pubsub class limit: over the hard limit, or over the
    /// soft limit for longer than its seconds.
    fn over_limit(&self, pending: i64, config: &Config, now_ms: u64) -> bool {
        let (hard, soft, secs) = config.output_limit(OutputClass::PubSub);
        if hard > 0 && pending >= hard {
            return true;
        }
        if soft > 0 && pending >= soft {
            let since = *self.over_soft_since.get().get_or_insert(now_ms);
            self.over_soft_since.set(Some(since));
            return now_ms.saturating_sub(since) >= secs.max(0) as u64 * 1000;
        }
        self.over_soft_since.set(None);
        false
    }

    /// Wakes the connection task if it waits for output.
    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Registers the connection task to be woken by the next delivery.
    pub fn register(&self, w: &Waker) {
        let mut slot = self.waker.borrow_mut();
        if !slot.as_ref().is_some_and(|old| old.will_wake(w)) {
            *slot = Some(w.clone());
        }
    }

    /// Whether output waits or the connection must close.
    pub fn ready(&self) -> bool {
        self.overflowed.get() || !self.buf.borrow().is_empty()
    }

    /// Whether the output limit was passed.
    pub fn overflowed(&self) -> bool {
        self.overflowed.get()
    }

    /// Moves the pending output to the end of `out`.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        let mut buf = self.buf.borrow_mut();
        if !buf.is_empty() {
            out.extend_from_slice(&buf);
            buf.clear();
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            self.over_soft_since.set(None);
        }
    }
}
