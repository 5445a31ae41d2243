//! What a store's databases report to their shard while commands run: keyspace events to
//! publish, and keys that blocked clients wait for which just came into existence.

use std::cell::{Cell, RefCell};

/// One keyspace event: `event` happened to `key` in database `db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// Database index.
    pub db: usize,
    /// The event's class ([`crate::notify`] flag).
    pub class: u32,
    /// Redis's event name (`set`, `lpush`, `expired`...).
    pub event: &'static str,
    /// The key.
    pub key: Box<[u8]>,
}

/// A waited key that came into existence: (database, key).
pub type ReadyKey = (usize, Box<[u8]>);

/// Shared by a store and its databases (one shard's thread only).
#[derive(Debug, Default)]
pub struct Signals {
    /// `notify-keyspace-events` flags in force for the running command.
    mask: Cell<u32>,
    events: RefCell<Vec<KeyEvent>>,
    /// Keys some client is blocked on, with how many databases' queues wait on each (so a
    /// key's creation is checked without allocating).
    waited: RefCell<ahash::AHashMap<Box<[u8]>, u32>>,
    ready: RefCell<Vec<(usize, Box<[u8]>)>>,
    /// Set when `events` or `ready` is not empty.
    pending: Cell<bool>,
    /// Whether keys removed by expiry or eviction are recorded in `removed` (for the
    /// append-only file, which logs them as DEL).
    log_removals: Cell<bool>,
    removed: RefCell<Vec<ReadyKey>>,
    /// Set while a data file loads: no key expires (Redis's `server.loading`), so replayed
    /// commands see the keys they saw when they were logged.
    loading: Cell<bool>,
}

impl Signals {
    /// Sets the notification flags in force.
    pub fn set_mask(&self, mask: u32) {
        self.mask.set(mask);
    }

    /// Records `event` on `key` when its class is enabled (one branch when none is).
    pub fn event(&self, db: usize, class: u32, event: &'static str, key: &[u8]) {
        let mask = self.mask.get();
        if mask != 0 && crate::notify::wanted(mask, class) {
            self.events.borrow_mut().push(KeyEvent { db, class, event, key: key.into() });
            self.pending.set(true);
        }
    }

    /// A key was created: the `new` event, and a wake-up when clients wait for it.
    pub fn created(&self, db: usize, key: &[u8]) {
        self.event(db, crate::notify::NEW, "new", key);
        let waited = self.waited.borrow();
        if !waited.is_empty() && waited.contains_key(key) {
            self.ready.borrow_mut().push((db, key.into()));
            self.pending.set(true);
        }
    }

    /// Marks that a queue of clients waiting for `key` (in any database) was created
    /// (`true`) or emptied (`false`); calls pair up. [`Signals::created`] then reports the
    /// key's creation in every database, and the shard finds whose queue it is.
    pub fn set_waited(&self, key: &[u8], waited: bool) {
        let mut w = self.waited.borrow_mut();
        if waited {
            *w.entry(key.into()).or_insert(0) += 1;
        } else if let Some(n) = w.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                w.remove(key);
            }
        }
    }

    /// Number of keys clients wait for.
    pub fn waited_len(&self) -> usize {
        self.waited.borrow().len()
    }

    /// Whether events or ready keys are waiting to be taken.
    pub fn pending(&self) -> bool {
        self.pending.get()
    }

    /// Starts or stops recording keys removed by expiry or eviction.
    pub fn set_log_removals(&self, on: bool) {
        self.log_removals.set(on);
        if !on {
            self.removed.borrow_mut().clear();
        }
    }

    /// A key was removed by expiry or eviction: recorded when removals are logged.
    pub fn removed(&self, db: usize, key: &[u8]) {
        if self.log_removals.get() {
            self.removed.borrow_mut().push((db, key.into()));
        }
    }

    /// Takes the recorded removals (none when removals are not logged).
    pub fn take_removed(&self) -> Vec<ReadyKey> {
        if !self.log_removals.get() {
            return Vec::new();
        }
        std::mem::take(&mut *self.removed.borrow_mut())
    }

    /// Marks a load under way (no key expires) or ended.
    pub fn set_loading(&self, on: bool) {
        self.loading.set(on);
    }

    /// Whether a load is under way: keys whose time passed are kept as they are.
    pub fn loading(&self) -> bool {
        self.loading.get()
    }

    /// Takes the recorded events and ready keys.
    pub fn take(&self) -> (Vec<KeyEvent>, Vec<ReadyKey>) {
        self.pending.set(false);
        (std::mem::take(&mut *self.events.borrow_mut()), std::mem::take(&mut *self.ready.borrow_mut()))
    }
}
