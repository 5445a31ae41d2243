//! A shard's inbox: a lock-free multi-producer queue plus a waker, so producers on other
//! threads never block and a sleeping shard is woken once per burst, not once per message.
//!
//! Protocol (modelled in `loom-tests/`): a producer pushes, then swaps `notified` to true and
//! wakes the consumer only if it was false. The consumer, finding the queue empty, registers
//! its waker, clears `notified`, and checks the queue again before sleeping. SeqCst on both
//! sides means either the consumer's re-check sees the message or the producer sees the
//! cleared flag and wakes it: no lost wake-up.

use std::task::{Context, Poll};

#[cfg(not(loom))]
use futures::task::AtomicWaker;
#[cfg(loom)]
use loom::future::AtomicWaker;
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};
#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, Ordering::SeqCst};

#[cfg(not(loom))]
type Queue<T> = crossbeam_queue::SegQueue<T>;

/// Under loom, a queue loom can see into; the server uses crossbeam's lock-free `SegQueue`.
#[cfg(loom)]
struct Queue<T>(loom::sync::Mutex<std::collections::VecDeque<T>>);

#[cfg(loom)]
impl<T> Queue<T> {
    fn new() -> Self {
        Queue(loom::sync::Mutex::new(std::collections::VecDeque::new()))
    }
    fn push(&self, t: T) {
        self.0.lock().unwrap().push_back(t)
    }
    fn pop(&self) -> Option<T> {
        self.0.lock().unwrap().pop_front()
    }
    fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
}

/// A multi-producer, single-consumer inbox with async wake-up.
pub struct Mailbox<T> {
    queue: Queue<T>,
    waker: AtomicWaker,
    notified: AtomicBool,
}

impl<T> std::fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox").finish_non_exhaustive()
    }
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox.
    pub fn new() -> Self {
        Mailbox { queue: Queue::new(), waker: AtomicWaker::new(), notified: AtomicBool::new(true) }
    }

    /// Enqueues a message from any thread, waking the consumer if it may be asleep.
    pub fn push(&self, msg: T) {
        self.queue.push(msg);
        fence(SeqCst);
        if !self.notified.swap(true, SeqCst) {
            self.waker.wake();
        }
    }

    /// Takes the next message, if any (consumer only).
    pub fn pop(&self) -> Option<T> {
        self.queue.pop()
    }

    /// Ready when a message is waiting; otherwise arranges to be woken (consumer only).
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.queue.is_empty() {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        self.notified.store(false, SeqCst);
        fence(SeqCst);
        if !self.queue.is_empty() {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Waits until a message is waiting (consumer only).
    pub async fn ready(&self) {
        futures::future::poll_fn(|cx| self.poll_ready(cx)).await
    }
}
