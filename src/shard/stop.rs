//! Ending a shard's in-process sessions when it stops. A task that serves an embedded caller
//! may wait on something only the caller can end (a blocking pop with no timeout, a
//! connection handle that stays open); its waker would keep it, and the session it holds,
//! alive after the shard stopped, and its caller waiting. Such tasks run their work through
//! [`StopSignal::or_stop`]: at stop they are woken and end, dropping their reply channels,
//! so each caller learns that the engine stopped.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::task::{Poll, Waker};

/// The shard's stop flag and the wakers of the tasks that end with it.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: Cell<bool>,
    next: Cell<u64>,
    wakers: RefCell<ahash::AHashMap<u64, Waker>>,
}

/// Removes a task's waker once its work ends either way.
struct Registration<'a> {
    signal: &'a StopSignal,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.signal.wakers.borrow_mut().remove(&self.id);
    }
}

impl StopSignal {
    /// Runs `work` until it completes (`Some`) or the shard stops (`None`).
    pub async fn or_stop<F: Future>(&self, work: F) -> Option<F::Output> {
        let id = self.next.get();
        self.next.set(id + 1);
        let _registration = Registration { signal: self, id };
        let mut work = std::pin::pin!(work);
        futures::future::poll_fn(|cx| {
            if self.stopped.get() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(v) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            let mut wakers = self.wakers.borrow_mut();
            match wakers.get(&id) {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => {
                    wakers.insert(id, cx.waker().clone());
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Sets the flag and wakes every registered task, which then ends.
    pub fn stop(&self) {
        self.stopped.set(true);
        let wakers: Vec<Waker> = self.wakers.borrow_mut().drain().map(|(_, w)| w).collect();
        wakers.into_iter().for_each(Waker::wake);
    }
}
