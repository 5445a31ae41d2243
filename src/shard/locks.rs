//! A shard's lock table: the first phase of atomic cross-shard work.
//!
//! A transaction (MULTI/EXEC, or one multi-key command spanning shards) takes, on every shard
//! it touches and in ascending shard order, the locks of its keys there; only when it holds
//! them all does it run its commands, and then it releases them. Every owner takes resources
//! in one global order: (shard id, the shard's *gate*, then keys in byte order). Because an
//! owner only ever waits for a resource later in that order than everything it holds, no
//! cycle of waits, hence no deadlock, can form.
//!
//! The gate is a reader/writer resource ahead of every key of the shard: key requests pass it
//! shared ("intent"), whole-keyspace requests (FLUSHALL, SWAPDB, KEYS inside a transaction...)
//! take it exclusive, once no key request is past it. Waiting is first come, first served, at
//! the gate and on each key, so a command waits only for the owners that arrived before it.
//!
//! This file has no dependencies beyond `std`: `loom-tests/` compiles it as is and models it
//! between shards and transactions.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Who holds or waits for locks: a transaction or a single waiting command.
pub type Owner = u64;

/// What an owner asks for on one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want<K> {
    /// These keys (any order, duplicates allowed).
    Keys(Vec<K>),
    /// The whole shard, exclusively.
    All,
}

#[derive(Debug)]
struct Request<K> {
    /// Keys sorted and deduplicated; empty for a whole-shard request.
    keys: Vec<K>,
    /// How many of `keys` are held (a prefix).
    held: usize,
    all: bool,
    /// Whether the request is past the gate.
    passed: bool,
}

#[derive(Debug)]
struct KeyLock {
    holder: Owner,
    waiting: VecDeque<Owner>,
}

/// The locks of one shard (touched only by that shard's thread). `S` hashes owners and keys
/// (the server passes a faster hasher than std's default; the file stays std-only for loom).
#[derive(Debug)]
pub struct LockTable<K, S = std::collections::hash_map::RandomState> {
    requests: HashMap<Owner, Request<K>, S>,
    keys: HashMap<K, KeyLock, S>,
    /// Requests waiting to pass the gate, in arrival order.
    gate: VecDeque<Owner>,
    /// Key requests past the gate (holding or waiting for keys).
    intents: usize,
    /// The whole-shard holder.
    exclusive: Option<Owner>,
}

impl<K, S: Default> Default for LockTable<K, S> {
    fn default() -> Self {
        LockTable { requests: HashMap::default(), keys: HashMap::default(), gate: VecDeque::new(), intents: 0, exclusive: None }
    }
}

impl<K: Hash + Eq + Ord + Clone> LockTable<K> {
    /// An empty table with std's hasher.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<K: Hash + Eq + Ord + Clone, S: std::hash::BuildHasher + Default> LockTable<K, S> {
    /// Whether nobody holds or waits for anything (the fast path: no check per command).
    pub fn is_idle(&self) -> bool {
        self.requests.is_empty()
    }

    /// Whether a command on `key` may run now without waiting: nobody holds or waits for
    /// the key, and nobody holds or waits for the whole shard.
    pub fn is_free(&self, key: &K) -> bool {
        self.exclusive.is_none() && self.gate.is_empty() && !self.keys.contains_key(key)
    }

    /// Asks for `want` on behalf of `owner` (which must not already have a request here).
    /// Returns true when everything is granted at once; otherwise the owner waits and a later
    /// [`LockTable::release`] reports it granted.
    pub fn acquire(&mut self, owner: Owner, want: Want<K>) -> bool {
        let (keys, all) = match want {
            Want::Keys(mut keys) => {
                keys.sort();
                keys.dedup();
                (keys, false)
            }
            Want::All => (Vec::new(), true),
        };
        let prev = self.requests.insert(owner, Request { keys, held: 0, all, passed: false });
        assert!(prev.is_none(), "owner {owner} asked twice");
        if self.exclusive.is_some() || !self.gate.is_empty() {
            self.gate.push_back(owner);
            return false;
        }
        if all && self.intents > 0 {
            self.gate.push_back(owner);
            return false;
        }
        self.pass_gate(owner)
    }

    /// Moves `owner` past the gate and takes what keys it can; true when fully granted.
    fn pass_gate(&mut self, owner: Owner) -> bool {
        let r = self.requests.get_mut(&owner).expect("request");
        r.passed = true;
        if r.all {
            self.exclusive = Some(owner);
            return true;
        }
        self.intents += 1;
        self.advance(owner)
    }

    /// Takes `owner`'s next keys in order while they are free; true when all are held.
    fn advance(&mut self, owner: Owner) -> bool {
        let r = self.requests.get_mut(&owner).expect("request");
        while r.held < r.keys.len() {
            let k = &r.keys[r.held];
            match self.keys.get_mut(k) {
                Some(lock) => {
                    lock.waiting.push_back(owner);
                    return false;
                }
                None => {
                    self.keys.insert(k.clone(), KeyLock { holder: owner, waiting: VecDeque::new() });
                    r.held += 1;
                }
            }
        }
        true
    }

    /// Gives up everything `owner` holds or waits for, and returns the owners whose requests
    /// became fully granted, in the order they were granted.
    pub fn release(&mut self, owner: Owner) -> Vec<Owner> {
        let mut granted = Vec::new();
        let Some(r) = self.requests.remove(&owner) else { return granted };
        if !r.passed {
            self.gate.retain(|&o| o != owner);
        } else if r.all {
            self.exclusive = None;
        } else {
            if let Some(k) = r.keys.get(r.held) {
                // Waiting for this key, not holding it.
                if let Some(lock) = self.keys.get_mut(k) {
                    lock.waiting.retain(|&o| o != owner);
                }
            }
            for k in &r.keys[..r.held] {
                let lock = self.keys.get_mut(k).expect("held key is locked");
                let Some(next) = lock.waiting.pop_front() else {
                    self.keys.remove(k);
                    continue;
                };
                lock.holder = next;
                self.requests.get_mut(&next).expect("waiter has a request").held += 1;
                if self.advance(next) {
                    granted.push(next);
                }
            }
            self.intents -= 1;
        }
        self.open_gate(&mut granted);
        granted
    }

    /// Lets waiters through the gate in arrival order while the gate allows.
    fn open_gate(&mut self, granted: &mut Vec<Owner>) {
        while let Some(&front) = self.gate.front() {
            if self.exclusive.is_some() {
                return;
            }
            let all = self.requests[&front].all;
            if all && self.intents > 0 {
                return;
            }
            self.gate.pop_front();
            if self.pass_gate(front) {
                granted.push(front);
            }
            if all {
                return;
            }
        }
    }

    /// Adds `key` to what `owner` holds here if nobody holds or waits for it, without
    /// waiting: true when `owner` holds it now (or held it, or holds the whole shard). A
    /// lock taken this way never waits, so it cannot close a cycle of waits whatever order
    /// it comes in (two-phase locking extended while nothing has been released). An owner
    /// new to this shard passes the gate only when nobody waits there.
    pub fn try_extend(&mut self, owner: Owner, key: K) -> bool {
        match self.requests.get(&owner) {
            Some(r) if r.all && r.passed => return true,
            Some(r) if !r.passed || r.all || r.held < r.keys.len() => return false,
            Some(r) if r.keys.contains(&key) => return true,
            Some(_) => {}
            None if self.exclusive.is_some() || !self.gate.is_empty() => return false,
            None => {}
        }
        if self.keys.contains_key(&key) {
            return false;
        }
        self.keys.insert(key.clone(), KeyLock { holder: owner, waiting: VecDeque::new() });
        match self.requests.get_mut(&owner) {
            Some(r) => {
                r.keys.push(key);
                r.held += 1;
            }
            None => {
                self.requests.insert(owner, Request { keys: vec![key], held: 1, all: false, passed: true });
                self.intents += 1;
            }
        }
        true
    }

    /// The owner holding `key`, if any (for tests and INFO).
    pub fn holder(&self, key: &K) -> Option<Owner> {
        self.keys.get(key).map(|l| l.holder)
    }

    /// Number of owners holding or waiting for locks.
    pub fn owners(&self) -> usize {
        self.requests.len()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn try_extend_takes_only_free_keys_and_release_frees_them() {
        let mut t = LockTable::new();
        assert!(t.acquire(1, Want::Keys(vec!["a".to_string()])));
        assert!(t.try_extend(1, "z".to_string()), "a free key is added");
        assert!(t.try_extend(1, "a".to_string()), "a held key is held");
        assert!(!t.acquire(2, Want::Keys(vec!["z".to_string()])), "the added key is held");
        assert!(!t.try_extend(3, "z".to_string()), "held or awaited keys are refused");
        assert!(t.try_extend(3, "q".to_string()), "a new owner takes a free key");
        assert_eq!(t.release(1), vec![2]);
        assert_eq!(t.holder(&"z".to_string()), Some(2));
        t.release(2);
        t.release(3);
        assert!(t.is_idle());
        assert!(t.acquire(4, Want::All));
        assert!(t.try_extend(4, "x".to_string()), "a whole-shard holder holds every key");
        assert!(!t.try_extend(5, "x".to_string()), "nobody passes a held gate");
        t.release(4);
        assert!(t.is_idle());
    }

    use super::*;

    fn keys(ks: &[&str]) -> Want<String> {
        Want::Keys(ks.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn free_keys_are_granted_at_once_and_released() {
        let mut t = LockTable::new();
        assert!(t.acquire(1, keys(&["b", "a", "a"])));
        assert!(!t.is_free(&"a".to_string()));
        assert!(t.is_free(&"c".to_string()));
        assert_eq!(t.release(1), Vec::<Owner>::new());
        assert!(t.is_idle());
        assert!(t.is_free(&"a".to_string()));
    }

    #[test]
    fn waiters_are_served_in_arrival_order() {
        let mut t = LockTable::new();
        assert!(t.acquire(1, keys(&["a"])));
        assert!(!t.acquire(2, keys(&["a", "b"])));
        assert!(!t.acquire(3, keys(&["a"])));
        // 2 waits for "a" and holds nothing, so "b" is free for 4.
        assert!(t.acquire(4, keys(&["b"])));
        assert_eq!(t.release(1), Vec::<Owner>::new(), "2 now has a but waits for b");
        assert_eq!(t.holder(&"a".to_string()), Some(2));
        assert_eq!(t.release(4), vec![2]);
        assert_eq!(t.release(2), vec![3]);
        assert_eq!(t.release(3), Vec::<Owner>::new());
        assert!(t.is_idle());
    }

    #[test]
    fn the_whole_shard_waits_for_key_holders_and_blocks_later_arrivals() {
        let mut t = LockTable::new();
        assert!(t.acquire(1, keys(&["a"])));
        assert!(!t.acquire(2, Want::All));
        assert!(!t.is_free(&"z".to_string()), "a queued whole-shard request stops new commands");
        assert!(!t.acquire(3, keys(&["z"])));
        assert_eq!(t.release(1), vec![2]);
        assert_eq!(t.release(2), vec![3]);
        assert_eq!(t.release(3), Vec::<Owner>::new());
        assert!(t.is_idle());
    }

    #[test]
    fn consecutive_key_requests_pass_the_gate_together() {
        let mut t = LockTable::new();
        assert!(t.acquire(1, Want::All));
        assert!(!t.acquire(2, keys(&["a"])));
        assert!(!t.acquire(3, keys(&["b"])));
        assert!(!t.acquire(4, Want::All));
        assert_eq!(t.release(1), vec![2, 3]);
        assert_eq!(t.release(2), Vec::<Owner>::new());
        assert_eq!(t.release(3), vec![4]);
    }

    #[test]
    fn a_waiter_can_give_up() {
        let mut t = LockTable::new();
        assert!(t.acquire(1, keys(&["a"])));
        assert!(!t.acquire(2, keys(&["a"])));
        assert!(!t.acquire(3, Want::All));
        t.release(2);
        t.release(3);
        assert_eq!(t.release(1), Vec::<Owner>::new());
        assert!(t.is_idle());
        assert!(t.is_free(&"a".to_string()));
    }

    /// Random acquire/release sequences against a model: a granted owner holds exactly its
    /// keys, no two holders share a key, and when everything is released the table is empty.
    #[test]
    fn random_sequences_keep_the_invariants() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let mut t: LockTable<u8> = LockTable::new();
            let mut granted: HashMap<Owner, Want<u8>> = HashMap::new();
            let mut waiting: Vec<(Owner, Want<u8>)> = Vec::new();
            let mut next = 0;
            for _ in 0..60 {
                if rng.bool() || granted.is_empty() {
                    next += 1;
                    let want = if rng.u8(..10) == 0 { Want::All } else { Want::Keys((0..rng.usize(1..4)).map(|_| rng.u8(..6)).collect()) };
                    if t.acquire(next, want.clone()) {
                        granted.insert(next, want);
                    } else {
                        waiting.push((next, want));
                    }
                } else {
                    let o = *granted.keys().nth(rng.usize(..granted.len())).unwrap();
                    granted.remove(&o);
                    for g in t.release(o) {
                        let i = waiting.iter().position(|(w, _)| *w == g).expect("granted a waiter");
                        let (_, want) = waiting.remove(i);
                        granted.insert(g, want);
                    }
                }
                let mut seen = std::collections::HashSet::new();
                let all = granted.values().filter(|w| **w == Want::All).count();
                assert!(all <= 1 && (all == 0 || granted.len() == 1), "exclusive shared: {granted:?}");
                for (o, w) in &granted {
                    if let Want::Keys(ks) = w {
                        for k in ks {
                            assert_eq!(t.holder(k), Some(*o));
                            seen.insert(*k);
                        }
                    }
                }
            }
            // Releasing every granted owner eventually grants every waiter (no deadlock).
            while let Some(&o) = granted.keys().next() {
                granted.remove(&o);
                for g in t.release(o) {
                    let i = waiting.iter().position(|(w, _)| *w == g).unwrap();
                    let (_, want) = waiting.remove(i);
                    granted.insert(g, want);
                }
            }
            assert!(waiting.is_empty(), "stuck: {waiting:?}");
            assert!(t.is_idle());
        }
    }
}
