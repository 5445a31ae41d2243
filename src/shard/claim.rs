//! A one-time hand-over decided by a claim. Several parties race to end a blocked wait (the
//! shard that serves it, its timeout, CLIENT UNBLOCK, the client's disconnect): the first to
//! [`Claim::claim`] it sets the outcome, and the waiting task takes it. A claimer that finds
//! nothing to hand over gives the claim back ([`Claim::release`]).
//!
//! Modelled with loom in `loom-tests/` (this file, compiled there): exactly one outcome, never
//! a lost wake-up.

use std::task::{Context, Poll};

#[cfg(not(loom))]
use futures::task::AtomicWaker;
#[cfg(loom)]
use loom::future::AtomicWaker;
#[cfg(loom)]
use loom::sync::Mutex;
#[cfg(not(loom))]
use std::sync::Mutex;

/// A slot one of several parties fills, once.
#[derive(Debug)]
pub struct Claim<T> {
    /// Whether a party holds the claim, and the outcome it set. One lock for both: few
    /// parties ever touch it, and the lock orders a claim given back before a retry (an
    /// atomic flag beside it let loom find a retry that missed the give-back's wake-up).
    state: Mutex<(bool, Option<T>)>,
    waker: AtomicWaker,
}

impl<T> Default for Claim<T> {
    fn default() -> Self {
        Claim { state: Mutex::new((false, None)), waker: AtomicWaker::new() }
    }
}

impl<T> Claim<T> {
    /// Takes the right to set the outcome; false when another party has it.
    pub fn claim(&self) -> bool {
        !std::mem::replace(&mut self.state.lock().expect("claim lock").0, true)
    }

    /// Whether some party holds the claim.
    pub fn claimed(&self) -> bool {
        self.state.lock().expect("claim lock").0
    }

    /// Gives back a claim that found nothing to hand over, and wakes the waiting task so it
    /// looks again (its own ending may have lost the race to this claim).
    pub fn release(&self) {
        self.state.lock().expect("claim lock").0 = false;
        self.waker.wake();
    }

    /// Sets the outcome (by the claim's holder) and wakes the waiting task.
    pub fn finish(&self, v: T) {
        self.state.lock().expect("claim lock").1 = Some(v);
        self.waker.wake();
    }

    /// The waiting side: ready with the outcome once set; otherwise, when `end` offers an
    /// outcome of its own (timeout, disconnect) and the claim is free, that one.
    pub fn poll_outcome(&self, cx: &mut Context<'_>, end: impl FnOnce(&mut Context<'_>) -> Option<T>) -> Poll<T> {
        #[cfg(not(loom))]
        self.waker.register(cx.waker());
        #[cfg(loom)]
        self.waker.register_by_ref(cx.waker());
        if let Some(v) = self.state.lock().expect("claim lock").1.take() {
            return Poll::Ready(v);
        }
        match end(cx) {
            Some(v) if self.claim() => Poll::Ready(v),
            // Lost the race: the winner's outcome is on its way (or it gives the claim back
            // and wakes us).
            _ => Poll::Pending,
        }
    }
}
