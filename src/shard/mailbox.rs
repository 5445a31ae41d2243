//! A shard's inbox: a lock-free multi-producer queue plus a waker, so producers on other
//! threads never block and a sleeping shard is woken once per burst, not once per message.
//!
//! Protocol (modelled in `loom-tests/`): one state word, changed only by read-modify-writes,
//! so it needs acquire/release and nothing stronger.
//! - producer: push, then swap the state to NOTIFIED; wake the consumer if it was SLEEPING.
//! - consumer: if NOTIFIED, set AWAKE and run; otherwise register the waker, then move
//!   AWAKE→SLEEPING. If that fails the state was NOTIFIED meanwhile: run instead of sleeping.
//!
//! Every push is followed by a swap that either finds the consumer SLEEPING (and wakes it,
//! its waker being registered before it slept) or leaves NOTIFIED for its next check, whose
//! acquire makes the pushed message visible. A wake-up may be spurious, never lost.
//!
//! When its shard has stopped, the mailbox is closed and emptied: messages are dropped, so
//! whoever waits on a reply channel inside one learns that it will never come. A producer
//! outside the shards checks [`Mailbox::is_closed`] after pushing and empties it too.

use std::task::{Context, Poll};

#[cfg(not(loom))]
use futures::task::AtomicWaker;
#[cfg(loom)]
use loom::future::AtomicWaker;
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicU8, Ordering::AcqRel, Ordering::Acquire, Ordering::SeqCst};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::AcqRel, Ordering::Acquire, Ordering::SeqCst};

/// The consumer is running (or about to check the queue).
const AWAKE: u8 = 0;
/// The consumer is asleep with its waker registered.
const SLEEPING: u8 = 1;
/// A message was pushed since the consumer last checked.
const NOTIFIED: u8 = 2;

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
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
}

#[cfg(not(loom))]
fn register(slot: &AtomicWaker, waker: &std::task::Waker) {
    slot.register(waker);
}

#[cfg(loom)]
fn register(slot: &AtomicWaker, waker: &std::task::Waker) {
    slot.register_by_ref(waker);
}

/// A multi-producer, single-consumer inbox with async wake-up.
pub struct Mailbox<T> {
    queue: Queue<T>,
    waker: AtomicWaker,
    state: AtomicU8,
    closed: AtomicBool,
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
        Mailbox { queue: Queue::new(), waker: AtomicWaker::new(), state: AtomicU8::new(AWAKE), closed: AtomicBool::new(false) }
    }

    /// Enqueues a message from any thread, waking the consumer if it may be asleep.
    pub fn push(&self, msg: T) {
        self.queue.push(msg);
        if self.state.swap(NOTIFIED, AcqRel) == SLEEPING {
            self.waker.wake();
        }
    }

    /// Messages waiting (a snapshot; for INFO and metrics).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no message waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Takes the next message, if any (consumer only).
    pub fn pop(&self) -> Option<T> {
        self.queue.pop()
    }

    /// Ready when a message may be waiting; otherwise arranges to be woken (consumer only).
    /// A ready result can be spurious: the caller drains with [`Mailbox::pop`] and asks again.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.compare_exchange(NOTIFIED, AWAKE, AcqRel, Acquire).is_ok() {
            return Poll::Ready(());
        }
        register(&self.waker, cx.waker());
        match self.state.compare_exchange(AWAKE, SLEEPING, AcqRel, Acquire) {
            Ok(_) | Err(SLEEPING) => Poll::Pending,
            Err(_) => {
                // NOTIFIED after we looked: take the notification and run.
                self.state.swap(AWAKE, AcqRel);
                Poll::Ready(())
            }
        }
    }

    /// Whether a message was pushed since the consumer last looked (consumer only; it stays
    /// set for [`Mailbox::poll_ready`]).
    pub fn notified(&self) -> bool {
        self.state.load(Acquire) == NOTIFIED
    }

    /// Marks the mailbox closed (its consumer has stopped) and drops what it holds.
    pub fn close(&self) {
        self.closed.store(true, SeqCst);
        self.drain();
    }

    /// Whether the consumer has stopped: a producer that pushed and then finds it closed
    /// calls [`Mailbox::drain`], as its message may have come after the consumer's last look.
    pub fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }

    /// Drops every waiting message (only once the consumer has stopped).
    pub fn drain(&self) {
        while self.queue.pop().is_some() {}
    }

    /// Waits until a message is waiting (consumer only).
    pub async fn ready(&self) {
        futures::future::poll_fn(|cx| self.poll_ready(cx)).await
    }
}
