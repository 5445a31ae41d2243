//! Per-shard data: databases, values and encodings, the hash table, expiry timers, globs.
//!
//! Nothing here does I/O or awaits; a shard's store is touched only by its own thread.

use std::cell::Cell;
use std::rc::Rc;

mod access;
mod db;
mod dict;
mod glob;
mod hash;
mod inline;
mod list;
mod packed;
mod set;
mod signals;
mod skiplist;
mod snap;
pub mod track;
mod usage;
mod value;
mod wheel;
mod zset;

pub use access::{idle_ms, lru_clock, Lfu, LfuMode};
pub use db::{Db, DbStats, Eviction, Expiry, WatchFlag};
pub use dict::{Dict, Pos};
pub use glob::glob_match;
pub use hash::{hash_bytes, Field, Hash, PackLimits};
pub use inline::{Inline, Key, INLINE_KEY};
pub use list::List;
pub use packed::Packed;
pub use set::Set;
pub use signals::{KeyEvent, Signals};
pub use skiplist::SkipList;
pub use value::{Entry, StrValue, Value, EMBSTR_MAX, SMALL_MAX};
pub use wheel::TimerWheel;
pub use zset::ZSet;

/// Current Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The configuration a store follows, applied before each command ([`Store::apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreSettings {
    /// `notify-keyspace-events`, as [`crate::notify`] flag bits.
    pub notify_mask: u32,
    /// How accesses update LFU counters.
    pub lfu: LfuMode,
}

/// A shard's slice of every logical database.
#[derive(Debug)]
pub struct Store {
    dbs: Vec<Db>,
    added: Rc<Cell<u64>>,
    lfu: Rc<Cell<LfuMode>>,
    rehashing: Rc<Cell<bool>>,
    touch_pending: Rc<Cell<bool>>,
    /// Keyspace events and ready keys reported by the databases.
    pub signals: Rc<Signals>,
    /// Client-side caching's key table (CLIENT TRACKING).
    pub tracked: Rc<track::Tracked>,
    /// Set while CLIENT PAUSE freezes expiry (see [`Db`]'s reads).
    pub frozen: Rc<Cell<bool>>,
    /// Randomness for RANDOMKEY.
    pub rng: fastrand::Rng,
}

impl Store {
    /// A store with `databases` empty databases.
    pub fn new(databases: usize, now: u64) -> Self {
        let hasher = ahash::RandomState::new();
        let added = Rc::new(Cell::new(u64::MAX));
        let touch_pending = Rc::new(Cell::new(false));
        let signals = Rc::new(Signals::default());
        let lfu = Rc::new(Cell::new(LfuMode::default()));
        let rehashing = Rc::new(Cell::new(false));
        let tracked = Rc::new(track::Tracked::default());
        let frozen = Rc::new(Cell::new(false));
        let shared = db::DbShared {
            added: added.clone(),
            touch_pending: touch_pending.clone(),
            signals: signals.clone(),
            lfu: lfu.clone(),
            rehashing: rehashing.clone(),
            tracked: tracked.clone(),
            frozen: frozen.clone(),
        };
        let dbs = (0..databases).map(|i| Db::new(i, hasher.clone(), now, shared.clone())).collect();
        Store { dbs, added, lfu, rehashing, touch_pending, signals, tracked, frozen, rng: fastrand::Rng::new() }
    }

    /// Whether a table began rehashing since the last call (see [`Store::rehash_until`]).
    pub fn take_rehashing(&self) -> bool {
        self.rehashing.replace(false)
    }

    /// Moves rehashing tables along until `deadline`; returns whether any still rehashes.
    pub fn rehash_until(&mut self, deadline: std::time::Instant) -> bool {
        let mut more = false;
        for db in &mut self.dbs {
            while db.rehash_steps(64) {
                if std::time::Instant::now() >= deadline {
                    more = true;
                    break;
                }
            }
        }
        more
    }

    /// Follows `settings` from now on.
    pub fn apply(&self, settings: StoreSettings) {
        self.signals.set_mask(settings.notify_mask);
        self.lfu.set(settings.lfu);
    }

    /// How accesses update LFU counters now.
    pub fn lfu_mode(&self) -> LfuMode {
        self.lfu.get()
    }

    /// Records a keyspace event of `class` on `key` in database `db` (see [`crate::notify`]).
    pub fn notify(&self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        self.signals.event(db, class, event, key);
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

    /// Begins a snapshot of every database as it is now (see [`snap`]).
    pub fn snapshot_begin(&mut self) {
        for db in &mut self.dbs {
            db.snapshot_begin();
        }
    }

    /// One step of the snapshot walk over the databases in order: up to `buckets` buckets,
    /// each unwritten entry handed to `f` with its database index. Returns true when every
    /// database is complete.
    pub fn snapshot_step(&mut self, buckets: usize, f: &mut dyn FnMut(usize, &Entry)) -> bool {
        for (i, db) in self.dbs.iter_mut().enumerate() {
            if !db.snapshot_step(buckets, &mut |e| f(i, e)) {
                return false;
            }
        }
        true
    }

    /// Changes to keys since start over every database (Redis's `dirty`).
    pub fn changes(&self) -> u64 {
        self.dbs.iter().map(|d| d.stats.changes).sum()
    }

    /// Ends a snapshot early.
    pub fn snapshot_abort(&mut self) {
        for db in &mut self.dbs {
            db.snapshot_abort();
        }
    }

    /// Bytes of entries copied for the last snapshot begun because they changed during it.
    pub fn snapshot_copied_bytes(&self) -> usize {
        self.dbs.iter().map(Db::snapshot_copied_bytes).sum()
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

    /// The next eviction candidate by `policy` over the databases in turn from `*next_db`:
    /// (database, key); `None` when nothing may be evicted.
    pub fn eviction_candidate(&mut self, policy: Eviction, samples: usize, now: u64, next_db: &mut usize) -> Option<(usize, Key)> {
        let n = self.dbs.len();
        for i in 0..n {
            let d = (*next_db + i) % n;
            if let Some(key) = self.dbs[d].eviction_candidate(policy, samples, now, &mut self.rng) {
                *next_db = (d + 1) % n;
                return Some((d, key));
            }
        }
        None
    }

    /// Keys that `policy` may evict: all of them, or those with an expiry.
    pub fn evictable_keys(&self, policy: Eviction) -> u64 {
        self.dbs.iter().map(|d| if policy.volatile_only() { d.volatile() } else { d.len() } as u64).sum()
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::sync::Arc;

    use super::*;

    fn watched(st: &mut Store, db: usize, key: &[u8]) -> WatchFlag {
        let f: WatchFlag = Arc::new(AtomicBool::new(false));
        st.db(db).watch(key, f.clone(), 1000);
        f
    }

    fn str_value(s: &str) -> Value {
        Value::Str(StrValue::from_bytes(s.as_bytes()))
    }

    #[test]
    fn watch_flags_follow_changes_not_reads() {
        let mut st = Store::new(2, 1000);
        st.db(0).set(b"k", str_value("v"), Expiry::Clear, 1000);
        let f = watched(&mut st, 0, b"k");
        st.db(0).read(b"k", 1000);
        st.db(0).peek(b"k", 1000);
        st.db(0).set(b"other", str_value("v"), Expiry::Clear, 1000);
        assert!(!f.load(Relaxed), "reads and other keys are not changes");
        st.db(0).set(b"k", str_value("w"), Expiry::Clear, 1000);
        assert!(f.load(Relaxed));
    }

    #[test]
    fn a_write_lookup_counts_only_when_the_command_succeeds() {
        let mut st = Store::new(1, 1000);
        st.db(0).set(b"k", str_value("v"), Expiry::Clear, 1000);
        let f = watched(&mut st, 0, b"k");
        st.db(0).write(b"k", 1000);
        st.settle_touches(false);
        assert!(!f.load(Relaxed), "a refused command changed nothing");
        st.db(0).write(b"k", 1000);
        st.settle_touches(true);
        assert!(f.load(Relaxed));
    }

    #[test]
    fn expiry_flush_and_swap_touch_watched_keys() {
        let mut st = Store::new(2, 1000);
        st.db(0).set(b"e", str_value("v"), Expiry::At(1500), 1000);
        let expiring = watched(&mut st, 0, b"e");
        st.expire_due(2000, 100);
        assert!(expiring.load(Relaxed), "expiry is a change");

        st.db(0).set(b"f", str_value("v"), Expiry::Clear, 1000);
        let flushed = watched(&mut st, 0, b"f");
        let absent = watched(&mut st, 0, b"never");
        st.db(0).clear();
        assert!(flushed.load(Relaxed));
        assert!(!absent.load(Relaxed), "flushing a missing key changes nothing");

        st.db(1).set(b"s", str_value("v"), Expiry::Clear, 1000);
        let swapped_in = watched(&mut st, 0, b"s");
        let untouched = watched(&mut st, 0, b"nowhere");
        st.swap(0, 1);
        assert!(swapped_in.load(Relaxed), "a key appearing by SWAPDB is a change");
        assert!(!untouched.load(Relaxed));
        assert!(st.db(0).peek(b"s", 1000).is_some());
    }

    #[test]
    fn unwatch_forgets_the_flag() {
        let mut st = Store::new(1, 1000);
        let f = watched(&mut st, 0, b"k");
        st.db(0).unwatch(b"k", &f);
        st.db(0).set(b"k", str_value("v"), Expiry::Clear, 1000);
        assert!(!f.load(Relaxed));
    }
}
