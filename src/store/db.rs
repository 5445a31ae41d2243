//! One logical database on one shard: the key table, its expiry wheel, and lazy expiry.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use super::access::{idle_ms, LfuMode};
use super::dict::{Dict, Pos};
use super::inline::Key;
use super::signals::Signals;
use super::snap::SnapView;
use super::value::{Entry, Value};
use super::wheel::TimerWheel;

/// What to do with a key's expiry when its value is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Remove any expiry (a plain SET).
    Clear,
    /// Keep the current expiry (SET KEEPTTL).
    Keep,
    /// Expire at this Unix time in milliseconds.
    At(u64),
}

/// Counters kept by a database's lookups.
#[derive(Debug, Default, Clone, Copy)]
pub struct DbStats {
    /// Read lookups that found a key.
    pub hits: u64,
    /// Read lookups that found nothing.
    pub misses: u64,
    /// Keys removed because their time passed.
    pub expired: u64,
    /// Keys removed to stay within maxmemory.
    pub evicted: u64,
    /// Changes to keys (Redis's `dirty`, for save points and `rdb_changes_since_last_save`):
    /// lookups for writing, stores, removals, expiry changes. Not reset by CONFIG RESETSTAT.
    pub changes: u64,
}

/// Which keys eviction may take, and which of a sample it takes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// The least recently used of a sample of all keys (`allkeys-lru`).
    AllLru,
    /// The least frequently used of a sample of all keys (`allkeys-lfu`).
    AllLfu,
    /// Any key (`allkeys-random`).
    AllRandom,
    /// The least recently used key with an expiry (`volatile-lru`).
    VolatileLru,
    /// The least frequently used key with an expiry (`volatile-lfu`).
    VolatileLfu,
    /// Any key with an expiry (`volatile-random`).
    VolatileRandom,
    /// The key with an expiry due soonest (`volatile-ttl`).
    VolatileTtl,
}

impl Eviction {
    /// The policy for a `maxmemory-policy` name; `None` for `noeviction`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "allkeys-lru" => Some(Eviction::AllLru),
            "allkeys-lfu" => Some(Eviction::AllLfu),
            "allkeys-random" => Some(Eviction::AllRandom),
            "volatile-lru" => Some(Eviction::VolatileLru),
            "volatile-lfu" => Some(Eviction::VolatileLfu),
            "volatile-random" => Some(Eviction::VolatileRandom),
            "volatile-ttl" => Some(Eviction::VolatileTtl),
            _ => None,
        }
    }

    /// Whether only keys with an expiry may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(self, Eviction::VolatileLru | Eviction::VolatileLfu | Eviction::VolatileRandom | Eviction::VolatileTtl)
    }

    fn random(self) -> bool {
        matches!(self, Eviction::AllRandom | Eviction::VolatileRandom)
    }

    /// How evictable `e` is by this policy at `now`: the lowest score goes first.
    fn score(self, e: &Entry, now: u64, lfu: LfuMode) -> u64 {
        let idle = idle_ms(e.access, now);
        match self {
            Eviction::AllLru | Eviction::VolatileLru => u64::MAX - idle,
            // Ties in frequency (common: new keys all start at 5) go to the idler key.
            Eviction::AllLfu | Eviction::VolatileLfu => (u64::from(e.lfu.decayed(now, lfu)) << 48) | (u64::MAX >> 16).saturating_sub(idle),
            Eviction::VolatileTtl => e.expire_at,
            Eviction::AllRandom | Eviction::VolatileRandom => 0,
        }
    }
}

/// A logical database's slice of the keyspace on one shard.
#[derive(Debug)]
pub struct Db {
    dict: Dict<Entry>,
    wheel: TimerWheel<u64>,
    hasher: ahash::RandomState,
    volatile: usize,
    /// Earliest timer added since the owner last looked (shared with the [`super::Store`]).
    added: Rc<Cell<u64>>,
    /// Lookup and expiry counters.
    pub stats: DbStats,
    /// WATCHed keys and the flags their watchers read at EXEC; `None` when nobody watches.
    watched: Option<Box<Watched>>,
    /// Watched keys looked up for writing by the running command: touched when it succeeds
    /// (see [`Db::settle_touches`]), so a command refused with an error changes nothing.
    pending_touch: Vec<Box<[u8]>>,
    /// Set when `pending_touch` of any database of the store is not empty.
    touch_pending: Rc<Cell<bool>>,
    /// This database's index.
    index: usize,
    /// Where keyspace events and created keys are reported.
    signals: Rc<Signals>,
    /// How accesses update LFU counters (shared with the [`super::Store`]).
    lfu: Rc<Cell<LfuMode>>,
    /// Set when the table is rehashing (shared with the [`super::Store`]).
    rehashing: Rc<Cell<bool>>,
    /// Client-side caching's table (shared with the [`super::Store`]).
    tracked: Rc<super::track::Tracked>,
    /// Expiry frozen by CLIENT PAUSE (shared with the [`super::Store`]).
    frozen: Rc<Cell<bool>>,
    /// The snapshot phase new entries are stamped with (see [`super::snap`]).
    phase: bool,
    /// The snapshot walking this database, if one is.
    snap: Option<Box<SnapView>>,
    /// Bytes of entries copied for the last snapshot begun, because they changed during its
    /// walk (a fork's copy-on-write size; kept after the walk for INFO).
    snap_copied: usize,
}

/// What a store's databases share with it.
#[derive(Debug, Clone)]
pub(super) struct DbShared {
    /// Earliest timer added since the owner last looked.
    pub added: Rc<Cell<u64>>,
    /// Set when a database has watched keys to touch at the end of the command.
    pub touch_pending: Rc<Cell<bool>>,
    /// Keyspace events and created keys.
    pub signals: Rc<Signals>,
    /// How accesses update LFU counters.
    pub lfu: Rc<Cell<LfuMode>>,
    /// Set when a database's table began a rehash that idle time should finish.
    pub rehashing: Rc<Cell<bool>>,
    /// Client-side caching's table: changes of tracked keys are reported there.
    pub tracked: Rc<super::track::Tracked>,
    /// Set while CLIENT PAUSE holds writes: a key whose time passed reads as missing but is
    /// not deleted (nor counted as expired) until the pause ends.
    pub frozen: Rc<Cell<bool>>,
}

/// A client's WATCH flag: set when a key it watches is modified.
pub type WatchFlag = Arc<AtomicBool>;

type Watched = ahash::AHashMap<Box<[u8]>, Vec<WatchFlag>>;

impl Db {
    /// An empty database whose expiry clock starts at `now`.
    pub(super) fn new(index: usize, hasher: ahash::RandomState, now: u64, shared: DbShared) -> Self {
        let DbShared { added, touch_pending, signals, lfu, rehashing, tracked, frozen } = shared;
        Db {
            dict: Dict::new(),
            wheel: TimerWheel::new(now),
            hasher,
            volatile: 0,
            added,
            stats: DbStats::default(),
            watched: None,
            pending_touch: Vec::new(),
            touch_pending,
            index,
            signals,
            lfu,
            rehashing,
            tracked,
            frozen,
            phase: false,
            snap: None,
            snap_copied: 0,
        }
    }

    /// Begins a snapshot of this database as it is now: every entry
    /// becomes "not yet written" (see [`super::snap`]).
    pub fn snapshot_begin(&mut self) {
        self.phase = !self.phase;
        self.snap = Some(Box::new(SnapView::new(self.phase)));
        self.snap_copied = 0;
    }

    /// One step of the snapshot walk: hands up to `buckets` buckets' unwritten entries, and
    /// copies saved before changes, to `f`. Returns true when this database is complete (or
    /// no snapshot walks it).
    pub fn snapshot_step(&mut self, buckets: usize, f: &mut dyn FnMut(&Entry)) -> bool {
        let Some(view) = self.snap.as_mut() else { return true };
        let done = view.step(&mut self.dict, buckets, f);
        if done {
            self.snap = None;
        }
        done
    }

    /// Ends a snapshot early (BGSAVE failed or was aborted): nothing more is kept for it.
    pub fn snapshot_abort(&mut self) {
        self.snap = None;
    }

    /// Bytes of entries copied for the last snapshot begun because they changed during it.
    pub fn snapshot_copied_bytes(&self) -> usize {
        self.snap_copied
    }

    /// Before the entry at `pos` changes or goes: counts the change, and a snapshot under
    /// way keeps the entry as it was.
    #[inline]
    fn preserve(&mut self, pos: Pos) {
        self.stats.changes += 1;
        if let Some(view) = self.snap.as_mut() {
            self.snap_copied += view.preserve(self.dict.at_mut(pos));
        }
    }

    /// Reclaims the entry at `pos` whose time has passed, with its `expired` event.
    fn expire_pos(&mut self, pos: Pos) {
        self.tracked.set_expiring(true);
        let e = self.remove_pos(pos);
        self.tracked.set_expiring(false);
        self.stats.expired += 1;
        self.signals.removed(self.index, &e.key);
        self.signals.event(self.index, crate::notify::EXPIRED, "expired", &e.key);
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Finds a live key, deleting it first if its time has passed.
    fn find(&mut self, key: &[u8], now: u64) -> Option<Pos> {
        let h = self.hash(key);
        let pos = self.dict.find(h, |e| &*e.key == key)?;
        if self.dict.at(pos).is_expired(now) && !self.signals.loading() {
            self.expire_pos(pos);
            return None;
        }
        Some(pos)
    }

    /// Whether a change must be looked at: a key is watched or tracked here.
    #[inline]
    fn interested(&self) -> bool {
        self.watched.is_some() || self.tracked.active()
    }

    /// Finds a live key for reading: as [`Db::find`], except that while expiry is frozen
    /// (CLIENT PAUSE) a key whose time passed is only hidden, not deleted.
    fn find_read(&mut self, key: &[u8], now: u64) -> Option<Pos> {
        if self.frozen.get() && !self.signals.loading() {
            let pos = self.dict.find(self.hash(key), |e| &*e.key == key)?;
            return (!self.dict.at(pos).is_expired(now)).then_some(pos);
        }
        self.find(key, now)
    }

    /// Records that `key` was modified: its watchers' flags are set (and forgotten, as a
    /// set flag stays set). One branch when nobody watches.
    fn touch(&mut self, key: &[u8]) {
        if self.tracked.wants(key) {
            self.tracked.changed(key);
        }
        if let Some(w) = self.watched.as_mut() {
            if let Some(flags) = w.remove(key) {
                for f in flags {
                    f.store(true, Relaxed);
                }
            }
            if w.is_empty() {
                self.watched = None;
            }
        }
    }

    /// Ends a command that looked watched keys up for writing: they count as modified when
    /// it `succeeded`, and not when it was refused with an error.
    pub fn settle_touches(&mut self, succeeded: bool) {
        for k in std::mem::take(&mut self.pending_touch) {
            if succeeded {
                self.touch(&k);
            }
        }
    }

    /// WATCH: `flag` is set when `key` is next modified (written, deleted, expired, flushed).
    /// A key whose time has passed is reclaimed first, so its reclaiming is not a change.
    pub fn watch(&mut self, key: &[u8], flag: WatchFlag, now: u64) {
        let _ = self.find(key, now);
        self.watched.get_or_insert_with(Default::default).entry(key.into()).or_default().push(flag);
    }

    /// Forgets `flag`'s watch of `key` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, key: &[u8], flag: &WatchFlag) {
        if let Some(w) = self.watched.as_mut() {
            if let Some(flags) = w.get_mut(key) {
                flags.retain(|f| !Arc::ptr_eq(f, flag));
                if flags.is_empty() {
                    w.remove(key);
                }
            }
            if w.is_empty() {
                self.watched = None;
            }
        }
    }

    /// Touches the watched keys that exist here or in `other` (FLUSHDB, SWAPDB), as Redis's
    /// `touchAllWatchedKeysInDb`.
    /// A key whose time has passed counts as absent: replacing nothing with a stale key, or a
    /// stale key with another, changes nothing (as Redis's `touchAllWatchedKeysInDb`).
    fn touch_existing(&mut self, other: Option<&Db>) {
        let Some(w) = self.watched.as_ref() else { return };
        let now = super::now_ms();
        let keys: Vec<Box<[u8]>> =
            w.keys().filter(|k| self.exists_live(k, now) || other.is_some_and(|o| o.exists_live(k, now))).cloned().collect();
        for k in keys {
            self.touch(&k);
        }
    }

    /// Whether the table holds `key` and its time has not passed (nothing is reclaimed).
    fn exists_live(&self, key: &[u8], now: u64) -> bool {
        self.dict.find(self.hash(key), |e| &*e.key == key).is_some_and(|p| !self.dict.at(p).is_expired(now))
    }

    /// Tells the store when the table is rehashing, so idle time finishes the job.
    fn note_rehash(&self) {
        if self.dict.rehashing() {
            self.rehashing.set(true);
        }
    }

    /// Runs up to `steps` steps of a table rehash under way; returns whether one still is.
    pub fn rehash_steps(&mut self, steps: usize) -> bool {
        self.dict.rehash_steps(steps)
    }

    fn remove_pos(&mut self, pos: Pos) -> Entry {
        self.preserve(pos);
        let e = self.dict.remove_at(pos);
        self.note_rehash();
        if self.interested() {
            self.touch(&e.key);
        }
        if e.expire_at != 0 {
            self.volatile -= 1;
        }
        e
    }

    /// Deletes `key` if it holds a collection with no elements left: empty collections do not
    /// exist, as in Redis.
    pub fn remove_if_empty(&mut self, key: &[u8], now: u64) {
        if self.peek(key, now).is_some_and(|e| e.value.is_empty_collection()) {
            self.remove(key, now);
            self.signals.event(self.index, crate::notify::GENERIC, "del", key);
        }
    }

    /// Looks a key up for reading: counts a hit or miss and updates its access time.
    pub fn read(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        match self.find_read(key, now) {
            Some(pos) => {
                self.stats.hits += 1;
                let lfu = self.lfu.get();
                let e = self.dict.at_mut(pos);
                e.touch(now, lfu);
                Some(e)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Looks a key up for writing: updates its access time, counts nothing.
    pub fn write(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        let pos = self.find(key, now)?;
        if self.watched.as_ref().is_some_and(|w| w.contains_key(key)) || self.tracked.wants(key) {
            self.pending_touch.push(key.into());
            self.touch_pending.set(true);
        }
        self.preserve(pos);
        let lfu = self.lfu.get();
        let e = self.dict.at_mut(pos);
        e.touch(now, lfu);
        Some(e)
    }

    /// Looks a key up as stored, whether or not its time has passed, deleting nothing (DEBUG
    /// OBJECT, which Redis answers from the table directly).
    pub fn peek_stored(&self, key: &[u8]) -> Option<&Entry> {
        let pos = self.dict.find(self.hash(key), |e| &*e.key == key)?;
        Some(self.dict.at(pos))
    }

    /// Looks a key up without touching its access time (OBJECT, TYPE, TTL).
    pub fn peek(&mut self, key: &[u8], now: u64) -> Option<&Entry> {
        let pos = self.find_read(key, now)?;
        Some(self.dict.at(pos))
    }

    /// Whether a live key exists.
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.find_read(key, now).is_some()
    }

    /// Stores `value` under `key`, replacing any value, with the given expiry treatment.
    pub fn set(&mut self, key: &[u8], value: Value, expiry: Expiry, now: u64) {
        if self.interested() {
            self.touch(key);
        }
        let old_expire = match self.find(key, now) {
            Some(pos) => {
                self.preserve(pos);
                let lfu = self.lfu.get();
                let e = self.dict.at_mut(pos);
                e.value = value;
                // Like Redis's dbOverwrite, the new value keeps the key's access frequency.
                e.touch(now, lfu);
                let old = e.expire_at;
                match expiry {
                    Expiry::Keep => return,
                    Expiry::Clear => e.expire_at = 0,
                    Expiry::At(t) => e.expire_at = t,
                }
                old
            }
            None => {
                let expire_at = match expiry {
                    Expiry::At(t) => t,
                    _ => 0,
                };
                let h = self.hash(key);
                let mut e = Entry::new(key, value, expire_at, now);
                e.set_snap_mark(self.phase);
                self.stats.changes += 1;
                self.dict.insert(h, e);
                self.note_rehash();
                self.signals.created(self.index, key);
                0
            }
        };
        self.after_expire_change(key, old_expire, expiry);
    }

    fn after_expire_change(&mut self, key: &[u8], old: u64, expiry: Expiry) {
        let new = match expiry {
            Expiry::At(t) => t,
            _ => 0,
        };
        match (old != 0, new != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        if new != 0 {
            let h = self.hash(key);
            self.add_timer(new, h);
        }
    }

    fn add_timer(&mut self, when: u64, hash: u64) {
        self.wheel.insert(when, hash);
        self.added.set(self.added.get().min(when));
    }

    /// Puts a whole entry in place (RENAME, MOVE, COPY, cross-shard transfer), replacing any.
    pub fn insert_entry(&mut self, mut entry: Entry, now: u64) {
        self.remove(&entry.key, now);
        entry.set_snap_mark(self.phase);
        self.stats.changes += 1;
        if self.interested() {
            self.touch(&entry.key);
        }
        let expire_at = entry.expire_at;
        let h = self.hash(&entry.key);
        if expire_at != 0 {
            self.volatile += 1;
            self.add_timer(expire_at, h);
        }
        let key = entry.key.clone();
        self.dict.insert(h, entry);
        self.note_rehash();
        self.signals.created(self.index, &key);
    }

    /// Removes a live key, returning its entry.
    pub fn remove(&mut self, key: &[u8], now: u64) -> Option<Entry> {
        let pos = self.find(key, now)?;
        Some(self.remove_pos(pos))
    }

    /// Sets a live key's absolute expiry; false when the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: u64, now: u64) -> bool {
        let Some(pos) = self.find(key, now) else { return false };
        if self.interested() {
            self.touch(key);
        }
        self.preserve(pos);
        let e = self.dict.at_mut(pos);
        let old = std::mem::replace(&mut e.expire_at, at);
        self.after_expire_change(key, old, Expiry::At(at));
        true
    }

    /// Removes a live key's expiry; true when it had one.
    pub fn persist(&mut self, key: &[u8], now: u64) -> bool {
        let Some(pos) = self.find(key, now) else { return false };
        if self.dict.at(pos).expire_at == 0 {
            return false;
        }
        self.preserve(pos);
        let e = self.dict.at_mut(pos);
        e.expire_at = 0;
        self.volatile -= 1;
        self.touch(key);
        true
    }

    /// Number of keys, including expired ones not yet reclaimed.
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Whether the database holds no keys.
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Bytes of the key table: its buckets and entry nodes (MEMORY STATS).
    pub fn table_bytes(&self) -> usize {
        self.dict.table_bytes()
    }

    /// Bytes of the expiry timers (MEMORY STATS `overhead.hashtable.expires`).
    pub fn timer_bytes(&self) -> usize {
        self.wheel.len() * std::mem::size_of::<(u64, u64)>()
    }

    /// Number of keys with an expiry.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.touch_existing(None);
        self.stats.changes += self.dict.len() as u64;
        // A snapshot under way goes on over the old table.
        if !self.snap.as_mut().is_some_and(|v| v.take_flushed(&mut self.dict)) {
            self.dict.clear();
        }
        self.wheel.clear();
        self.volatile = 0;
    }

    /// SWAPDB: swaps the contents of two databases. Watches stay with the database index, as
    /// in Redis, and watched keys that exist on either side count as modified.
    pub fn swap_contents(&mut self, other: &mut Db) {
        // A snapshot under way keeps both sides as they were, under their own indexes.
        self.preserve_all();
        other.preserve_all();
        self.touch_existing(Some(other));
        other.touch_existing(Some(self));
        std::mem::swap(&mut self.dict, &mut other.dict);
        std::mem::swap(&mut self.wheel, &mut other.wheel);
        std::mem::swap(&mut self.volatile, &mut other.volatile);
        let now = super::now_ms();
        self.reclaim_stale_watched(now);
        other.reclaim_stale_watched(now);
    }

    /// After SWAPDB: a watched key this side now holds whose time has passed is reclaimed
    /// without touching its watchers, so EXEC does not count its expiry as a change (Redis
    /// flags such a watch `expired`: a missing key replaced with a stale one changed nothing).
    fn reclaim_stale_watched(&mut self, now: u64) {
        let Some(w) = self.watched.take() else { return };
        for k in w.keys() {
            let pos = self.dict.find(self.hash(k), |e| e.key[..] == k[..]);
            if let Some(pos) = pos.filter(|&p| self.dict.at(p).is_expired(now)) {
                self.expire_pos(pos);
            }
        }
        self.watched = Some(w);
    }

    /// Before a change to the whole table: a snapshot under way keeps every entry it has
    /// not written yet.
    fn preserve_all(&mut self) {
        let Some(view) = self.snap.as_mut() else { return };
        let mut cursor = 0;
        loop {
            cursor = self.dict.scan_mut(cursor, |e| self.snap_copied += view.preserve(e));
            if cursor == 0 {
                break;
            }
        }
    }

    /// Visits one SCAN step of live keys; returns the next cursor (0 when done).
    pub fn scan(&mut self, cursor: u64, now: u64, mut f: impl FnMut(&Entry)) -> u64 {
        let mut expired = Vec::new();
        let next = self.dict.scan(cursor, |e| {
            if e.is_expired(now) {
                expired.push(e.key.clone());
            } else {
                f(e)
            }
        });
        for k in expired {
            // find() reclaims a key whose time has passed.
            let _ = self.find(&k, now);
        }
        next
    }

    /// Iterates over live keys (KEYS, FLUSH accounting); expired keys are skipped.
    pub fn live(&self, now: u64) -> impl Iterator<Item = &Entry> {
        self.dict.iter().filter(move |e| !e.is_expired(now))
    }

    /// A random live key.
    pub fn random_key(&mut self, now: u64, rng: &mut fastrand::Rng) -> Option<Key> {
        // Bounded retries over expired keys, as Redis's RANDOMKEY does.
        for _ in 0..100 {
            let key = self.dict.random(rng)?.key.clone();
            if self.find(&key, now).is_some() {
                return Some(key);
            }
        }
        None
    }

    /// The key eviction would take next by `policy`: of `samples` random keys, the one with
    /// the lowest [`Eviction::score`] (or the first drawn for the random policies).
    pub fn eviction_candidate(&self, policy: Eviction, samples: usize, now: u64, rng: &mut fastrand::Rng) -> Option<Key> {
        if self.dict.is_empty() || (policy.volatile_only() && self.volatile == 0) {
            return None;
        }
        let lfu = self.lfu.get();
        let mut best: Option<(u64, Key)> = None;
        let mut seen = 0;
        // Volatile keys may be rare among all keys: more draws, still bounded.
        let draws = if policy.volatile_only() { samples * 16 } else { samples };
        for _ in 0..draws.max(1) {
            let Some(e) = self.dict.random(rng) else { break };
            if policy.volatile_only() && e.expire_at == 0 {
                continue;
            }
            let score = policy.score(e, now, lfu);
            if best.as_ref().is_none_or(|(s, _)| score < *s) {
                best = Some((score, e.key.clone()));
            }
            seen += 1;
            if seen >= samples || policy.random() {
                break;
            }
        }
        best.map(|(_, key)| key)
    }

    /// Evicts `key` (from [`Db::eviction_candidate`]): its watchers are touched and its
    /// `evicted` event recorded.
    pub fn evict(&mut self, key: &[u8]) -> bool {
        let h = self.hash(key);
        let Some(pos) = self.dict.find(h, |e| *e.key == *key) else { return false };
        self.remove_pos(pos);
        self.stats.evicted += 1;
        self.signals.removed(self.index, key);
        self.signals.event(self.index, crate::notify::EVICTED, "evicted", key);
        true
    }

    /// The earliest pending expiry timer, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.wheel.next_deadline()
    }

    /// Reclaims keys whose timers fired by `now`, doing at most `budget` units of timer work.
    /// Returns whether more timers are due.
    pub fn expire_due(&mut self, now: u64, budget: usize) -> bool {
        let mut hashes = Vec::new();
        let more = self.wheel.advance(now, budget, &mut hashes);
        for h in hashes {
            while let Some(pos) = self.dict.find(h, |e| e.is_expired(now)) {
                self.expire_pos(pos);
            }
        }
        more
    }
}
