//! Client-side caching's key table on one shard (CLIENT TRACKING): which clients read which
//! keys, and the keys changed since the shard last looked. A key's clients are forgotten
//! once it changes (they get one invalidation), as in Redis; key names are tracked across
//! databases, as Redis's table is.

use std::cell::{Cell, RefCell};

/// A changed key, the ids of the clients that had read it, and whether the change is the
/// running command's own (not an expiry: NOLOOP clients are told of their keys' expiry).
pub type Changed = (Box<[u8]>, Vec<u64>, bool);

/// The tracking table and the changed keys.
#[derive(Debug, Default)]
pub struct Tracked {
    /// Key → the ids of the clients that read it since it last changed.
    keys: RefCell<ahash::AHashMap<Box<[u8]>, Vec<u64>>>,
    /// Set while some client tracks by prefix: every change is reported.
    all: Cell<bool>,
    /// Keys changed since the last [`Tracked::take_changed`], with the clients that had read
    /// them.
    changed: RefCell<Vec<Changed>>,
    /// Set while a key is reclaimed because its time passed.
    expiring: Cell<bool>,
}

impl Tracked {
    /// Whether a change of `key` must be reported (cheap when nobody tracks anything).
    #[inline]
    pub fn wants(&self, key: &[u8]) -> bool {
        self.all.get() || (!self.keys.borrow().is_empty() && self.keys.borrow().contains_key(key))
    }

    /// Whether anything is tracked at all.
    #[inline]
    pub fn active(&self) -> bool {
        self.all.get() || !self.keys.borrow().is_empty()
    }

    /// Reports that `key` changed (its readers are forgotten).
    pub fn changed(&self, key: &[u8]) {
        let readers = self.keys.borrow_mut().remove(key).unwrap_or_default();
        if readers.is_empty() && !self.all.get() {
            return;
        }
        self.changed.borrow_mut().push((key.into(), readers, !self.expiring.get()));
    }

    /// Marks the changes reported until `set_expiring(false)` as expiries.
    pub fn set_expiring(&self, on: bool) {
        self.expiring.set(on);
    }

    /// The keys changed since the last call, each with the clients that had read it.
    pub fn take_changed(&self) -> Vec<Changed> {
        if self.changed.borrow().is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut *self.changed.borrow_mut())
    }

    /// Remembers that client `client` read `key`; returns (whether the key is new to the
    /// table, whether the (key, client) pair is).
    pub fn remember(&self, key: &[u8], client: u64) -> (bool, bool) {
        let mut keys = self.keys.borrow_mut();
        match keys.get_mut(key) {
            Some(c) if c.contains(&client) => (false, false),
            Some(c) => {
                c.push(client);
                (false, true)
            }
            None => {
                keys.insert(key.into(), vec![client]);
                (true, true)
            }
        }
    }

    /// Sets whether every change is reported (some client tracks by prefix).
    pub fn set_all(&self, on: bool) {
        self.all.set(on);
    }

    /// Number of keys tracked.
    pub fn len(&self) -> usize {
        self.keys.borrow().len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.borrow().is_empty()
    }

    /// Removes one key (the table is over `tracking-table-max-keys`) and returns it with its
    /// readers, to be told it is no longer tracked.
    pub fn evict_one(&self) -> Option<Changed> {
        let mut keys = self.keys.borrow_mut();
        let k = keys.keys().next()?.clone();
        let readers = keys.remove(&k)?;
        Some((k, readers, false))
    }

    /// Forgets every key (FLUSHALL, FLUSHDB: every tracking client is told at once); returns
    /// how many keys and (key, client) pairs there were.
    pub fn clear(&self) -> (usize, usize) {
        let mut keys = self.keys.borrow_mut();
        let n = (keys.len(), keys.values().map(Vec::len).sum());
        keys.clear();
        self.changed.borrow_mut().clear();
        n
    }
}
