//! Ending a shard's tasks when it stops. A waiting task (a connection, a blocked pop with no
//! timeout, an in-process session whose handle stays open, the expiry loop) is kept alive by
//! its waker, and it holds its shard: without help neither would ever be freed, and an
//! in-process caller would wait for ever. Every shard task runs its work through
//! [`StopSignal::or_stop`]: at stop they are woken and end, dropping what they hold (reply
//! channels included, so each caller learns that the engine stopped).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::task::{Poll, Waker};

/// The shard's stop flag and the wakers of the tasks that end with it.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: Cell<bool>,
    next: Cell<u64>,
    /// Work started through [`StopSignal::or_stop`] and not ended yet.
    running: Cell<usize>,
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
        self.signal.running.set(self.signal.running.get() - 1);
    }
}

impl StopSignal {
    /// Runs `work` until it completes (`Some`) or the shard stops (`None`).
    pub async fn or_stop<F: Future>(&self, work: F) -> Option<F::Output> {
        let id = self.next.get();
        self.next.set(id + 1);
        self.running.set(self.running.get() + 1);
        let _registration = Registration { signal: self, id };
        let mut work = std::pin::pin!(work);
        // The waker last registered: a task's waker rarely changes, so most polls skip the map.
        let mut registered: Option<Waker> = None;
        futures::future::poll_fn(|cx| {
            if self.stopped.get() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(v) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            if !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                registered = Some(cx.waker().clone());
                self.wakers.borrow_mut().insert(id, cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    /// How many pieces of work are running under [`StopSignal::or_stop`]: after
    /// [`StopSignal::stop`], those not yet polled to their end.
    pub fn running(&self) -> usize {
        self.running.get()
    }

    /// Sets the flag and wakes every registered task, which then ends.
    pub fn stop(&self) {
        self.stopped.set(true);
        let wakers: Vec<Waker> = self.wakers.borrow_mut().drain().map(|(_, w)| w).collect();
        wakers.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::LocalSpawnExt;
    use std::rc::Rc;

    #[test]
    fn work_that_finishes_returns_its_output() {
        let s = StopSignal::default();
        assert_eq!(futures::executor::block_on(s.or_stop(async { 7 })), Some(7));
        assert!(s.wakers.borrow().is_empty(), "registration removed");
    }

    #[test]
    fn stop_ends_waiting_work_and_drops_it() {
        let s = Rc::new(StopSignal::default());
        let held = Rc::new(());
        let mut pool = futures::executor::LocalPool::new();
        let out = Rc::new(std::cell::Cell::new(Some(1)));
        let (s2, held2, out2) = (s.clone(), held.clone(), out.clone());
        pool.spawner()
            .spawn_local(async move {
                let _keep = held2;
                out2.set(s2.or_stop(futures::future::pending::<i32>()).await);
            })
            .unwrap();
        pool.run_until_stalled();
        assert_eq!(Rc::strong_count(&held), 2, "the work waits");
        assert_eq!(s.running(), 1);
        s.stop();
        assert_eq!(s.running(), 1, "woken, not yet polled");
        pool.run_until_stalled();
        assert_eq!(out.get(), None);
        assert_eq!(Rc::strong_count(&held), 1, "what the work held is dropped");
        assert_eq!(s.running(), 0);
        assert!(s.wakers.borrow().is_empty());
    }
}
