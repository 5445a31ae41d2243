//! Blocked clients: who waits on which key, and serving them when a key they wait for comes
//! into existence.
//!
//! A blocking command first runs like its non-blocking twin on the shard owning its keys
//! (under the locks of all of them when they span shards). When every key is empty, the same
//! step registers a [`Waiter`] in the queue of each key on that key's shard, so no push can
//! slip between the check and the registration. A queue keeps the order in which the
//! commands arrived at their connections' shards, not the order their messages reached the
//! key's. A push that creates a waited key is reported by the store
//! ([`crate::store::Signals`]); after the command (or, when the key is locked by a
//! transaction, after its owner releases it) the shard serves that key's waiters in queue
//! order while the key has elements: it pops for the waiter right there, and hands the reply
//! over. A waiter is claimed once (an atomic flag), so a client blocked on keys of several
//! shards, a timeout and CLIENT UNBLOCK never both take it: exactly one outcome wins.

use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::claim::Claim;
use super::route::key_shard;
use super::{Caller, Msg, ShardCtx, ShardLocal};
use crate::command::{lookup, CommandSpec, Route};
use crate::protocol::Reply;
use crate::store::now_ms;

/// How a blocked wait ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A shard served the client: this is its reply.
    Served(Reply),
    /// The timeout passed.
    TimedOut,
    /// CLIENT UNBLOCK, with ERROR or not.
    Unblocked {
        /// ERROR was asked: the client gets `-UNBLOCKED`.
        error: bool,
    },
    /// The client went away.
    Gone,
}

/// One blocked command.
#[derive(Debug)]
pub struct Waiter {
    /// The client's id.
    pub client: u64,
    /// Its database.
    pub db: usize,
    /// The command, name first.
    pub args: Vec<Bytes>,
    /// The command's table entry.
    pub spec: &'static CommandSpec,
    /// Whether the client speaks RESP3.
    pub resp3: bool,
    /// When its connection's shard began to run the command: waiters queue in this order,
    /// whichever shard's message reached the key's shard first.
    pub arrived: std::time::Instant,
    claim: Claim<Outcome>,
}

impl Waiter {
    /// A waiter for a blocking command.
    pub fn new(
        client: u64,
        db: usize,
        args: Vec<Bytes>,
        spec: &'static CommandSpec,
        resp3: bool,
        arrived: std::time::Instant,
    ) -> Arc<Waiter> {
        Arc::new(Waiter { client, db, args, spec, resp3, arrived, claim: Claim::default() })
    }

    /// The keys it waits on.
    pub fn keys(&self) -> impl Iterator<Item = &Bytes> {
        let dest = self.spec.block.map_or(0, |b| b.dest_at);
        self.spec.key_positions(&self.args).filter(move |&i| i != dest || dest == 0).map(|i| &self.args[i])
    }

    /// The shards holding its keys, ascending, each once.
    pub fn shards(&self, shards: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self.keys().map(|k| key_shard(k, shards)).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Takes the waiter for one outcome; false when another already took it.
    pub fn claim(&self) -> bool {
        self.claim.claim()
    }

    /// Gives back a claim that found nothing to serve; the client re-checks its timeout.
    fn release_claim(&self) {
        self.claim.release();
    }

    /// Whether some outcome took it.
    pub fn claimed(&self) -> bool {
        self.claim.claimed()
    }

    /// Sets the outcome (after a successful [`Waiter::claim`]) and wakes the client.
    pub fn finish(&self, o: Outcome) {
        self.claim.finish(o);
    }

    /// CLIENT UNBLOCK: ends the wait unless something else ended it first.
    pub fn unblock(&self, error: bool) -> bool {
        if self.claim() {
            self.finish(Outcome::Unblocked { error });
            return true;
        }
        false
    }

    /// Waits for the outcome: served, unblocked, timed out at `deadline_ms` (0 = never), or
    /// gone when `gone()` turns true (checked each time the connection task polls).
    pub async fn wait(&self, deadline_ms: u64, gone: impl Fn() -> bool) -> Outcome {
        let timer = (deadline_ms > 0).then(|| glommio::timer::sleep(Duration::from_millis(deadline_ms.saturating_sub(now_ms()))));
        let mut timer = timer.map(Box::pin);
        futures::future::poll_fn(|cx| {
            self.claim.poll_outcome(cx, |cx| {
                let timed_out = timer.as_mut().is_some_and(|t| t.as_mut().poll(cx).is_ready());
                if gone() {
                    Some(Outcome::Gone)
                } else if timed_out {
                    Some(Outcome::TimedOut)
                } else {
                    None
                }
            })
        })
        .await
    }
}

/// A shard's blocked clients: waiters per (database, key), in arrival order.
pub(super) type Queues = ahash::AHashMap<(usize, Bytes), VecDeque<Arc<Waiter>>>;

impl ShardLocal {
    /// Registers `w` on its keys that live on this shard.
    pub fn park(&self, w: &Arc<Waiter>) {
        let shards = self.shared.shards();
        let mut q = self.blocked.borrow_mut();
        let st = self.store.borrow();
        for k in w.keys().filter(|k| key_shard(k, shards) == self.id) {
            let queue = q.entry((w.db, k.clone())).or_default();
            if queue.is_empty() {
                st.signals.set_waited(k, true);
            }
            if !queue.iter().any(|x| Arc::ptr_eq(x, w)) {
                // In the order the clients' commands arrived at their shards.
                let at = queue.iter().rposition(|x| x.arrived <= w.arrived).map_or(0, |i| i + 1);
                queue.insert(at, w.clone());
            }
        }
    }

    /// Removes `w` from the queues of its keys on this shard.
    pub fn unpark(&self, w: &Arc<Waiter>) {
        let shards = self.shared.shards();
        let mut q = self.blocked.borrow_mut();
        let st = self.store.borrow();
        for k in w.keys().filter(|k| key_shard(k, shards) == self.id) {
            let slot = (w.db, k.clone());
            if let Some(queue) = q.get_mut(&slot) {
                queue.retain(|x| !Arc::ptr_eq(x, w));
                if queue.is_empty() {
                    q.remove(&slot);
                    st.signals.set_waited(k, false);
                }
            }
        }
    }

    /// Number of keys with blocked clients on this shard.
    pub fn blocking_keys(&self) -> usize {
        self.blocked.borrow().len()
    }

    /// Serves the waiters of keys that came into existence, in arrival order while each key
    /// has elements; keys a lock owner holds wait for its release.
    pub(super) fn serve_ready(self: &Rc<Self>, ready: Vec<(usize, Bytes)>) {
        // A blocking command from another shard is on its way here: let it register first
        // (its place in the queue follows its arrival), then serve, a few milliseconds at most.
        if self.shared.blocking_inflight[self.id].load(std::sync::atomic::Ordering::Relaxed) > 0 {
            let first = self.deferred_ready.borrow().is_empty();
            self.deferred_ready.borrow_mut().extend(ready);
            if first {
                let local = self.clone();
                self.spawn(async move {
                    let start = std::time::Instant::now();
                    while local.shared.blocking_inflight[local.id].load(std::sync::atomic::Ordering::Relaxed) > 0
                        && start.elapsed() < Duration::from_millis(5)
                    {
                        glommio::timer::sleep(Duration::from_micros(50)).await;
                    }
                    local.serve_deferred_now();
                });
            }
            return;
        }
        for (db, key) in ready {
            self.serve_key(db, key);
        }
    }

    /// Serves the waiters of `key` in queue order while it has elements; a key a lock owner
    /// holds waits for its release.
    fn serve_key(self: &Rc<Self>, db: usize, key: Bytes) {
        let free = {
            let locks = self.locks.borrow();
            locks.is_idle() || locks.is_free(&key)
        };
        if !free {
            self.deferred_ready.borrow_mut().push((db, key));
            return;
        }
        let waiters: Vec<Arc<Waiter>> =
            self.blocked.borrow().get(&(db, key.clone())).map(|q| q.iter().cloned().collect()).unwrap_or_default();
        for w in waiters {
            if !self.store.borrow_mut().db(db).contains(&key, now_ms()) {
                break;
            }
            if !w.claimed() {
                self.serve_one(&w, &key);
            }
        }
    }

    /// Serves `w` from `key` if the key has what it waits for (the pop runs here, now).
    fn serve_one(self: &Rc<Self>, w: &Arc<Waiter>, key: &Bytes) {
        let Some(block) = w.spec.block else { return };
        if block.dest_at > 0 {
            let dest = key_shard(&w.args[block.dest_at], self.shared.shards());
            if dest != self.id {
                self.serve_move_across(w, dest);
                return;
            }
        }
        // Check first, claim second: a waiter whose pop finds nothing (another type) stays.
        let found =
            self.run_raw(w.spec, w.db, w.resp3, now_ms(), &w.args, Caller { id: w.client, track: false }, |ctx: &mut ShardCtx<'_>| {
                if !w.claim() {
                    return Ok(Reply::Blocked);
                }
                match (block.serve)(ctx, &w.args, key) {
                    Ok(Some(r)) => Ok(r),
                    // Nothing for it after all (wrong type): give the claim back.
                    _ => {
                        w.release_claim();
                        Ok(Reply::Blocked)
                    }
                }
            });
        if found != Reply::Blocked {
            w.finish(Outcome::Served(found));
        }
    }

    /// Serves a move whose destination is on shard `dest`, not this one: pops here, pushes
    /// there, and pushes back here when the destination refuses it (wrong type).
    fn serve_move_across(self: &Rc<Self>, w: &Arc<Waiter>, dest: usize) {
        let Some((pop, push, undo)) = w.spec.block.and_then(|b| b.halves).map(|h| h(&w.args)) else { return };
        let handler = |args: &[Bytes]| match lookup(args) {
            Ok(spec) => match spec.route {
                Route::Shard(h) => Some((h, spec)),
                _ => None,
            },
            Err(_) => None,
        };
        let (Some((pop_h, _)), Some((push_h, push_name)), Some((undo_h, undo_name))) = (handler(&pop), handler(&push), handler(&undo))
        else {
            return;
        };
        if !w.claim() {
            return;
        }
        let value = match self.run(pop_h, w.db, &pop, w.spec, now_ms(), w.resp3, Caller { id: w.client, track: false }) {
            Reply::Bulk(v) => v,
            _ => {
                w.release_claim();
                return;
            }
        };
        let (w, local) = (w.clone(), self.clone());
        self.spawn(async move {
            let mut push = push;
            push.push(value.clone());
            let db = w.db;
            let pushed = super::call(&local, dest, move |s| s.run(push_h, db, &push, push_name, now_ms(), false, Caller::NONE)).await;
            if pushed.is_error() {
                let mut undo = undo;
                undo.push(value);
                local.run(undo_h, db, &undo, undo_name, now_ms(), false, Caller::NONE);
                w.finish(Outcome::Served(pushed));
            } else {
                w.finish(Outcome::Served(Reply::Bulk(value)));
            }
        });
    }

    /// Serves keys whose lock owners released them.
    pub(super) fn serve_deferred(self: &Rc<Self>) {
        let ready = std::mem::take(&mut *self.deferred_ready.borrow_mut());
        if !ready.is_empty() {
            self.serve_ready(ready);
        }
    }

    /// Serves the held-back keys whatever is still on its way (the wait for in-flight blocking
    /// commands is over).
    fn serve_deferred_now(self: &Rc<Self>) {
        let ready = std::mem::take(&mut *self.deferred_ready.borrow_mut());
        for (db, key) in ready {
            self.serve_key(db, key);
        }
    }
}

/// Unregisters `w` from every shard holding one of its keys (without waiting).
pub fn unpark_everywhere(local: &Rc<ShardLocal>, w: &Arc<Waiter>) {
    for sh in w.shards(local.shared.shards()) {
        if sh == local.id {
            local.unpark(w);
        } else {
            let w = w.clone();
            local.shared.mailboxes[sh].push(Msg::Call(Box::new(move |l| l.unpark(&w))));
        }
    }
}
