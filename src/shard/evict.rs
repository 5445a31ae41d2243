//! Staying within `maxmemory`: when the process's allocated bytes ([`crate::alloc`]) pass the
//! budget, every shard evicts from its own keys by the policy, in slices of at most a
//! millisecond, until the total fits; under `noeviction`, or when nothing may be evicted,
//! commands that may grow memory are refused with Redis's OOM error.

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

impl Shared {
    /// Whether allocated memory is over `maxmemory` (never when it is 0).
    pub fn over_budget(&self) -> bool {
        let max = self.config.maxmemory.load(Relaxed);
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

    /// The eviction policy in force; `None` for `noeviction`.
    pub fn eviction(&self) -> Option<Eviction> {
        Eviction::from_name(&self.config.maxmemory_policy.read().expect("config lock"))
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
        glommio::spawn_local(evict_loop(self.clone())).detach();
    }

    /// One slice: evicts until the total fits, nothing here is evictable, or the slice's time
    /// is up. Returns whether to go on.
    fn evict_slice(self: &Rc<Self>) -> bool {
        let shared = &self.shared;
        let Some(policy) = shared.eviction() else { return false };
        let samples = shared.config.maxmemory_samples.load(Relaxed).clamp(1, 64) as usize;
        let start = std::time::Instant::now();
        loop {
            if !shared.over_budget() {
                shared.evict_exhausted[self.id].store(false, Relaxed);
                return false;
            }
            let (mut evicted, mut empty) = (0, false);
            {
                let mut st = self.store.borrow_mut();
                st.signals.set_mask(shared.config.notify_keyspace_events.load(Relaxed));
                let mut db = self.evict_db.get();
                while evicted < CHECK_EVERY {
                    let Some((d, key)) = st.eviction_candidate(policy, samples, &mut db) else {
                        empty = true;
                        break;
                    };
                    if st.db(d).evict(&key) {
                        evicted += 1;
                    }
                }
                self.evict_db.set(db);
            }
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
    while local.evict_slice() {
        glommio::executor().yield_task_queue_now().await;
    }
    local.evicting.set(false);
}
