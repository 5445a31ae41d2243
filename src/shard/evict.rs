//! Staying within `maxmemory`: when the process's allocated bytes ([`crate::alloc`]) pass the
//! budget, every shard evicts from its own keys by the policy, in slices of at most a
//! millisecond, until the total fits; under `noeviction`, or when nothing may be evicted,
//! commands that may grow memory are refused with Redis's OOM error.
//!
//! **Splitting the budget.** Each shard evicts its own least valuable keys, so if one shard
//! evicted more than the others it would give up keys hotter than theirs. Shards therefore
//! publish how many evictable keys they hold, and a shard that holds fewer than the average
//! (by more than a little slack) leaves the evicting to the others: the budget is shared in
//! proportion to keys, and rebalanced as soon as one shard holds more.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::{Msg, ShardLocal, Shared};
use crate::alloc::used_memory;
use crate::store::{now_ms, Eviction};

/// Keys evicted between two reads of the allocation counters.
const CHECK_EVERY: usize = 16;
/// Longest eviction slice before the shard serves other work.
const SLICE: Duration = Duration::from_millis(1);
/// Evictable keys a shard may lag behind the average before it leaves eviction to others.
const LAG_SLACK: u64 = 2 * CHECK_EVERY as u64;

impl Shared {
    /// Whether allocated memory is over `maxmemory` (never when it is 0).
    pub fn over_budget(&self) -> bool {
        let max = self.config.num(crate::config::P::Maxmemory);
        if max == 0 {
            return false;
        }
        let over = used_memory() > max as u64;
        if !over && self.evict_exhausted.iter().any(|e| e.load(Relaxed)) {
            // Back within budget: what was exhausted then may have keys again.
            self.evict_exhausted.iter().for_each(|e| e.store(false, Relaxed));
        }
        over
    }

    /// Whether a shard holding `mine` evictable keys holds fewer than the shards' average by
    /// more than [`LAG_SLACK`], so that the others should evict first.
    fn lagging(&self, mine: u64) -> bool {
        let n = self.shards() as u64;
        let total: u64 = self.evictable_keys.iter().map(|k| k.load(Relaxed)).sum();
        (mine + LAG_SLACK) * n < total
    }

    /// The eviction policy in force; `None` for `noeviction`.
    pub fn eviction(&self) -> Option<Eviction> {
        Eviction::from_name(self.config.policy_name())
    }
}

impl ShardLocal {
    /// Called before each command when over budget: starts eviction on every shard (at most
    /// once a millisecond) and says whether a command that may grow memory must be refused.
    pub fn check_memory(self: &Rc<Self>) -> bool {
        let shared = &self.shared;
        if shared.eviction().is_none() {
            return true;
        }
        let now = now_ms();
        if shared.evict_nudged_ms.swap(now, Relaxed) != now {
            for sh in 0..shared.shards() {
                if sh == self.id {
                    self.start_eviction();
                } else {
                    shared.mailboxes[sh].push(Msg::Call(Box::new(|l| l.start_eviction())));
                }
            }
        }
        shared.evict_exhausted.iter().all(|e| e.load(Relaxed))
    }

    /// Starts this shard's eviction task unless it runs.
    pub fn start_eviction(self: &Rc<Self>) {
        if self.evicting.replace(true) {
            return;
        }
        self.spawn(evict_loop(self.clone()));
    }

    /// Runs one eviction slice here now (a tracking client's command waits for it, so that
    /// the invalidations of evicted keys reach it before its reply, as in Redis).
    /// Every shard runs it at once, each taking its own keys whatever its share (a shard
    /// that would leave eviction to fuller shards might leave the client's key, and its
    /// invalidation, for after the reply).
    /// The invalidations for clients of other shards leave at once, ahead of the reply
    /// to this call.
    pub fn evict_once(self: &Rc<Self>) {
        self.evict_slice(false);
        self.flush_pushes();
    }

    /// One slice: evicts until the total fits, nothing here is evictable, or the slice's time
    /// is up. Returns whether to go on. With `share`, a shard holding fewer evictable keys
    /// than the others leaves eviction to them.
    fn evict_slice(self: &Rc<Self>, share: bool) -> bool {
        let shared = &self.shared;
        let Some(policy) = shared.eviction() else { return false };
        let samples = shared.config.num(crate::config::P::MaxmemorySamples).clamp(1, 64) as usize;
        let start = std::time::Instant::now();
        loop {
            if !shared.over_budget() {
                shared.evict_exhausted[self.id].store(false, Relaxed);
                return false;
            }
            let (mut evicted, mut empty) = (0, false);
            {
                let mut st = self.store.borrow_mut();
                let mine = st.evictable_keys(policy);
                shared.evictable_keys[self.id].store(mine, Relaxed);
                if share && shared.lagging(mine) {
                    // The next nudge (at most a millisecond away) looks again.
                    shared.evict_exhausted[self.id].store(false, Relaxed);
                    return false;
                }
                st.apply(shared.config.store_settings());
                let mut db = self.evict_db.get();
                let now = now_ms();
                while evicted < CHECK_EVERY {
                    let Some((d, key)) = st.eviction_candidate(policy, samples, now, &mut db) else {
                        empty = true;
                        break;
                    };
                    if st.db(d).evict(&key) {
                        evicted += 1;
                    }
                }
                self.evict_db.set(db);
            }
            self.aof_log_removed();
            self.settle_signals();
            // Nothing left here: commands are refused once no shard has anything left.
            shared.evict_exhausted[self.id].store(empty && evicted == 0, Relaxed);
            if empty && evicted == 0 {
                return false;
            }
            if start.elapsed() >= SLICE {
                return true;
            }
        }
    }
}

async fn evict_loop(local: Rc<ShardLocal>) {
    while local.evict_slice(true) {
        glommio::executor().yield_task_queue_now().await;
    }
    local.evicting.set(false);
}
