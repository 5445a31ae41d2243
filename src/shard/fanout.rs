//! Publishing: a message's receivers are looked up in the shared registry, receivers on this
//! shard get it at once, and the rest are batched per receiving shard: everything published
//! while a task runs leaves in one [`Msg::Deliver`] per shard, sent by the shard's flusher
//! task. Each shard pair's mailbox is FIFO, so one publisher's messages arrive in order.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;

use bytes::Bytes;

use super::{Message, Msg, Pushes, ShardLocal};
use crate::notify;
use crate::pubsub::Kind;
use crate::store::{now_ms, KeyEvent};
use crate::tracking::Push;

/// One published message for some receivers on one shard.
#[derive(Debug)]
pub struct Delivery {
    /// The namespace it was published in.
    pub kind: Kind,
    /// The channel.
    pub channel: Bytes,
    /// The message.
    pub payload: Bytes,
    /// Receiving clients, each with the pattern it matched through (if any).
    pub to: Vec<(u64, Option<Bytes>)>,
}

impl ShardLocal {
    /// Publishes `payload` on `channel`; returns the number of receivers.
    pub fn publish(&self, kind: Kind, channel: &Bytes, payload: &Bytes) -> i64 {
        let n = self.shared.shards();
        let mut per_shard: Vec<Vec<(u64, Option<Bytes>)>> = Vec::new();
        let mut count = 0;
        self.shared.pubsub.receivers(kind, channel, |client, shard, pattern| {
            if per_shard.is_empty() {
                per_shard = (0..n).map(|_| Vec::new()).collect();
            }
            per_shard[shard].push((client, pattern.cloned()));
            count += 1;
        });
        for (shard, to) in per_shard.into_iter().enumerate() {
            if to.is_empty() {
                continue;
            }
            let d = Delivery { kind, channel: channel.clone(), payload: payload.clone(), to };
            if shard == self.id {
                self.deliver(d);
            } else {
                self.outgoing.borrow_mut()[shard].push(d);
                self.wake_flusher();
            }
        }
        count
    }

    /// Sends `push` to client `client` of shard `shard`: at once when it is this shard,
    /// otherwise in this shard's next batch of pushes for that shard.
    pub fn send_push(&self, shard: usize, client: u64, push: Push) {
        if shard == self.id {
            self.deliver_push(client, &push);
        } else {
            self.push_out.borrow_mut()[shard].push((client, push));
            self.wake_flusher();
        }
    }

    /// Sends the pushes batched for other shards now, ahead of the flusher.
    pub fn flush_pushes(&self) {
        let pushes: Vec<Vec<(u64, Push)>> = self.push_out.borrow_mut().iter_mut().map(std::mem::take).collect();
        for (shard, batch) in pushes.into_iter().enumerate() {
            if !batch.is_empty() {
                self.shared.mailboxes[shard].push(Msg::Push(batch));
            }
        }
    }

    /// Writes `push` into client `client`'s pushed output, if it is on this shard.
    pub fn deliver_push(&self, client: u64, push: &Push) {
        let conns = self.conns.borrow();
        let Some(p) = conns.get(&client) else { return };
        let subscribed = p.subscribed();
        if let Some(frame) = crate::tracking::frame(push, p.resp3(), subscribed) {
            p.append_unlimited(&frame);
        }
    }

    /// Marks output as waiting for other shards and wakes the flusher task.
    pub(super) fn wake_flusher(&self) {
        if !self.outgoing_pending.replace(true) {
            if let Some(w) = self.flusher.borrow_mut().take() {
                w.wake();
            }
        }
    }

    /// Hands a delivery to its receivers' connections on this shard.
    pub fn deliver(&self, d: Delivery) {
        let conns = self.conns.borrow();
        let now = now_ms();
        // Encoded once per protocol for plain receivers (a pattern receiver's frame names
        // its pattern).
        let mut plain: [Option<Vec<u8>>; 2] = [None, None];
        for (client, pattern) in &d.to {
            let Some(p) = conns.get(client) else { continue };
            if !p.wants(d.kind, pattern.as_ref(), &d.channel) {
                continue;
            }
            if p.has_sink() {
                let msg = Message { kind: d.kind, pattern: pattern.clone(), channel: d.channel.clone(), payload: d.payload.clone() };
                p.send_message(msg, &self.shared.config, now);
                continue;
            }
            let resp3 = p.resp3();
            match pattern {
                None => {
                    let f = plain[usize::from(resp3)].get_or_insert_with(|| Pushes::frame(d.kind, None, &d.channel, &d.payload, resp3));
                    p.append(f, &self.shared.config, now);
                }
                Some(pat) => p.append(&Pushes::frame(d.kind, Some(pat), &d.channel, &d.payload, resp3), &self.shared.config, now),
            }
        }
    }

    /// Publishes keyspace events recorded by commands, as the flags in force ask.
    pub fn publish_events(&self, events: Vec<KeyEvent>) {
        let flags = self.shared.config.notify_keyspace_events.load(Relaxed);
        for e in events {
            let key = Bytes::from(e.key);
            if flags & notify::KEYSPACE != 0 {
                self.publish(Kind::Channel, &Bytes::from(notify::keyspace_channel(e.db, &key)), &Bytes::from_static(e.event.as_bytes()));
            }
            if flags & notify::KEYEVENT != 0 {
                self.publish(Kind::Channel, &Bytes::from(notify::keyevent_channel(e.db, e.event)), &key);
            }
        }
    }
}

/// Sends the deliveries batched for other shards whenever some are waiting.
pub(super) async fn flusher_loop(local: Rc<ShardLocal>) {
    loop {
        futures::future::poll_fn(|cx| {
            if local.outgoing_pending.get() {
                return Poll::Ready(());
            }
            *local.flusher.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        local.outgoing_pending.set(false);
        local.flush_bcast();
        let batches: Vec<Vec<Delivery>> = local.outgoing.borrow_mut().iter_mut().map(std::mem::take).collect();
        for (shard, batch) in batches.into_iter().enumerate() {
            if !batch.is_empty() {
                local.shared.mailboxes[shard].push(Msg::Deliver(batch));
            }
        }
        local.flush_pushes();
        local.aof_write_now();
    }
}
