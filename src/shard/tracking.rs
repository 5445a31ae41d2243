//! Client-side caching on a shard: remembering what tracking clients read here, and sending
//! invalidations when those keys (or keys under a broadcast prefix) change. See
//! [`crate::tracking`] for the client side.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use super::{ClientMeta, ShardLocal};
use crate::command::CommandSpec;
use crate::config::P;
use crate::tracking::Push;

impl ShardLocal {
    /// Remembers that client `client` read the keys of `args` (a read-only command), then
    /// keeps the table within its share of `tracking-table-max-keys`: the keys it drops are
    /// invalidated as if they had changed.
    pub(super) fn remember_reads(self: &Rc<Self>, spec: &'static CommandSpec, args: &[Bytes], client: u64) {
        let tracked = self.store.borrow().tracked.clone();
        for i in spec.key_positions(args) {
            self.count_remembered(tracked.remember(&args[i], client));
        }
        self.enforce_tracking_limit();
    }

    /// Keeps this shard's table within its share of `tracking-table-max-keys`: the keys it
    /// drops are invalidated as if they had changed.
    pub fn enforce_tracking_limit(self: &Rc<Self>) {
        let tracked = self.store.borrow().tracked.clone();
        let max = self.shared.config.num(P::TrackingTableMaxKeys);
        if max <= 0 {
            return;
        }
        // The limit is the server's: while the total is over it, this shard gives up keys
        // (each claimed from the shared count first, so shards never give up too many).
        let total = &self.shared.stats.tracking_keys;
        let mut dropped = Vec::new();
        while !tracked.is_empty() {
            let cur = total.load(Relaxed);
            if cur <= max as u64 {
                break;
            }
            if total.compare_exchange(cur, cur - 1, Relaxed, Relaxed).is_err() {
                continue;
            }
            match tracked.evict_one() {
                Some(k) => dropped.push(k),
                None => {
                    total.fetch_add(1, Relaxed);
                    break;
                }
            }
        }
        if !dropped.is_empty() {
            let items: usize = dropped.iter().map(|(_, r, _)| r.len()).sum();
            self.shared.stats.tracking_items.fetch_sub(items as u64, Relaxed);
            self.invalidate(dropped, 0);
        }
    }

    /// Remembers that client `client` read `key` (a script's declared key).
    pub fn remember_key(self: &Rc<Self>, key: &[u8], client: u64) {
        let r = self.store.borrow().tracked.remember(key, client);
        self.count_remembered(r);
    }

    /// Counts a [`crate::store::track::Tracked::remember`] in INFO's tracking totals.
    fn count_remembered(&self, (new_key, new_item): (bool, bool)) {
        if new_key {
            self.shared.stats.tracking_keys.fetch_add(1, Relaxed);
        }
        if new_item {
            self.shared.stats.tracking_items.fetch_add(1, Relaxed);
        }
    }

    /// Sends the invalidations for the keys changed here since the last call; `origin` is the
    /// client whose command changed them (NOLOOP clients are not told of their own changes).
    pub fn settle_tracking(self: &Rc<Self>, origin: u64) {
        let changed = {
            let st = self.store.borrow();
            st.tracked.set_all(self.shared.tracking.any_bcast());
            st.tracked.take_changed()
        };
        if changed.is_empty() {
            return;
        }
        let forgotten = changed.iter().filter(|(_, r, _)| !r.is_empty()).count();
        let items: usize = changed.iter().map(|(_, r, _)| r.len()).sum();
        self.shared.stats.tracking_keys.fetch_sub(forgotten as u64, Relaxed);
        self.shared.stats.tracking_items.fetch_sub(items as u64, Relaxed);
        self.invalidate(changed, origin);
    }

    /// Tells the readers of each key (and the broadcast clients whose prefixes cover it) that
    /// it changed: one message per key to a reader right away, and to a broadcast client one
    /// message per prefix with every key changed under it until this shard's task ends (as
    /// Redis sends them before it sleeps).
    fn invalidate(self: &Rc<Self>, changed: Vec<crate::store::track::Changed>, origin: u64) {
        let reg = &self.shared.tracking;
        let mut bcast = self.bcast_pending.borrow_mut();
        let had = !bcast.is_empty();
        for (key, readers, by_command) in changed {
            let key = Bytes::from(key.into_vec());
            let own = |c: u64| by_command && c == origin;
            for c in readers {
                let Some(mode) = reg.mode(c) else { continue };
                if mode.bcast || (mode.noloop && own(c)) {
                    continue;
                }
                self.send_invalidation(c, mode.redirect, Some(vec![key.clone()]));
            }
            if reg.any_bcast() {
                for (c, prefix, mode) in reg.bcast_matches(&key) {
                    if mode.noloop && own(c) {
                        continue;
                    }
                    match bcast.iter_mut().find(|(bc, p, _)| *bc == c && *p == prefix) {
                        Some((_, _, keys)) if keys.contains(&key) => {}
                        Some((_, _, keys)) => keys.push(key.clone()),
                        None => bcast.push((c, prefix, vec![key.clone()])),
                    }
                }
            }
        }
        if !had && !bcast.is_empty() {
            drop(bcast);
            self.wake_flusher();
        }
    }

    /// Sends the broadcast invalidations gathered since the flusher last ran.
    pub(super) fn flush_bcast(&self) {
        let pending = std::mem::take(&mut *self.bcast_pending.borrow_mut());
        for (c, _, keys) in pending {
            let redirect = self.shared.tracking.mode(c).map_or(0, |m| m.redirect);
            self.send_invalidation(c, redirect, Some(keys));
        }
    }

    /// Sends client `client` (or its REDIRECT target) an invalidation of `keys` (`None`:
    /// everything); a vanished target is reported to the client once per message.
    pub fn send_invalidation(&self, client: u64, redirect: u64, keys: Option<Vec<Bytes>>) {
        let target = if redirect != 0 { redirect } else { client };
        match self.shared.clients.get(&target).map(|m| m.shard) {
            Some(shard) => self.send_push(shard, target, Push::Invalidate { keys, redirected: redirect != 0 }),
            None => {
                let Some(meta) = self.shared.clients.get(&client).map(|m| m.clone()) else { return };
                meta.set_mode(ClientMeta::BROKEN_REDIR, true);
                self.send_push(meta.shard, client, Push::RedirectBroken(redirect));
            }
        }
    }
}
