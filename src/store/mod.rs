//! Per-shard data: databases, values and encodings, the hash table, expiry timers, globs.
//!
//! Nothing here does I/O or awaits; a shard's store is touched only by its own thread.

use std::cell::Cell;
use std::rc::Rc;

mod db;
mod dict;
mod glob;
mod hash;
mod list;
mod packed;
mod set;
mod skiplist;
mod value;
mod wheel;
mod zset;

pub use db::{Db, DbStats, Expiry, WatchFlag};
pub use dict::{Dict, Pos};
pub use glob::glob_match;
pub use hash::{hash_bytes, Field, Hash, PackLimits};
pub use list::List;
pub use packed::Packed;
pub use set::Set;
pub use skiplist::SkipList;
pub use value::{Entry, StrValue, Value, EMBSTR_MAX};
pub use wheel::TimerWheel;
pub use zset::ZSet;

/// Current Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A shard's slice of every logical database.
#[derive(Debug)]
pub struct Store {
    dbs: Vec<Db>,
    added: Rc<Cell<u64>>,
    touch_pending: Rc<Cell<bool>>,
    /// Randomness for RANDOMKEY.
    pub rng: fastrand::Rng,
}

impl Store {
    /// A store with `databases` empty databases.
    pub fn new(databases: usize, now: u64) -> Self {
        let hasher = ahash::RandomState::new();
        let added = Rc::new(Cell::new(u64::MAX));
        let touch_pending = Rc::new(Cell::new(false));
        let dbs = (0..databases).map(|_| Db::new(hasher.clone(), now, added.clone(), touch_pending.clone())).collect();
        Store { dbs, added, touch_pending, rng: fastrand::Rng::new() }
    }

    /// The earliest expiry timer added since the last call, if any.
    pub fn take_earliest_added(&self) -> Option<u64> {
        Some(self.added.replace(u64::MAX)).filter(|&t| t != u64::MAX)
    }

    /// Ends a command: watched keys it looked up for writing count as modified if it
    /// `succeeded` (one branch when none were).
    pub fn settle_touches(&mut self, succeeded: bool) {
        if self.touch_pending.replace(false) {
            for db in &mut self.dbs {
                db.settle_touches(succeeded);
            }
        }
    }

    /// Number of logical databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Database `i` (callers validate the index when the client selects it).
    pub fn db(&mut self, i: usize) -> &mut Db {
        &mut self.dbs[i]
    }

    /// All databases, read-only.
    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    /// Swaps two databases (SWAPDB); each keeps its own timers.
    pub fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (lo, hi) = (a.min(b), a.max(b));
        let (left, right) = self.dbs.split_at_mut(hi);
        left[lo].swap_contents(&mut right[0]);
    }

    /// The earliest expiry timer over all databases.
    pub fn next_deadline(&self) -> Option<u64> {
        self.dbs.iter().filter_map(Db::next_deadline).min()
    }

    /// Reclaims expired keys in all databases, at most `budget` timers per database.
    /// Returns whether more are due.
    pub fn expire_due(&mut self, now: u64, budget: usize) -> bool {
        let mut more = false;
        for db in &mut self.dbs {
            more |= db.expire_due(now, budget);
        }
        more
    }
}
