//! The subscription registry shared by all shards: who listens on which channel, pattern or
//! shard channel, and on which shard each listener's connection lives.
//!
//! Publishing reads it to find receivers, then hands each message to the receivers' shards
//! (see [`crate::shard::ShardLocal::publish`]); a connection's own subscriptions live in its
//! session, so a message that arrives after an UNSUBSCRIBE is dropped there.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bytes::Bytes;
use dashmap::DashMap;

use crate::store::glob_match;

/// The three subscription namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE: glob patterns matched against PUBLISH channels.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

/// Subscribers of one name: client id → shard of its connection.
type Subscribers = ahash::AHashMap<u64, usize>;

/// Every subscription of every client.
#[derive(Debug, Default)]
pub struct Registry {
    channels: DashMap<Bytes, Subscribers>,
    patterns: DashMap<Bytes, Subscribers>,
    shard_channels: DashMap<Bytes, Subscribers>,
    /// Patterns with at least one subscriber (PUBLISH skips the pattern scan at zero).
    npatterns: AtomicUsize,
}

impl Registry {
    fn map(&self, kind: Kind) -> &DashMap<Bytes, Subscribers> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    /// Subscribes `client` (living on `shard`) to `name`.
    pub fn add(&self, kind: Kind, name: &Bytes, client: u64, shard: usize) {
        let mut e = self.map(kind).entry(name.clone()).or_default();
        if e.is_empty() && kind == Kind::Pattern {
            self.npatterns.fetch_add(1, Relaxed);
        }
        e.insert(client, shard);
    }

    /// Unsubscribes `client` from `name`; a name left without subscribers is dropped.
    pub fn remove(&self, kind: Kind, name: &[u8], client: u64) {
        let map = self.map(kind);
        if let Some(mut e) = map.get_mut(name) {
            e.remove(&client);
        }
        if map.remove_if(name, |_, v| v.is_empty()).is_some() && kind == Kind::Pattern {
            self.npatterns.fetch_sub(1, Relaxed);
        }
    }

    /// Calls `f(client, shard, pattern)` for every receiver of a message on `channel`: the
    /// channel's subscribers, then (for [`Kind::Channel`]) those of every matching pattern.
    pub fn receivers(&self, kind: Kind, channel: &[u8], mut f: impl FnMut(u64, usize, Option<&Bytes>)) {
        if let Some(subs) = self.map(kind).get(channel) {
            for (&c, &sh) in subs.iter() {
                f(c, sh, None);
            }
        }
        if kind == Kind::Channel && self.npatterns.load(Relaxed) > 0 {
            for e in self.patterns.iter() {
                if glob_match(e.key(), channel, false) {
                    for (&c, &sh) in e.value().iter() {
                        f(c, sh, Some(e.key()));
                    }
                }
            }
        }
    }

    /// Number of subscribers of `name` (PUBSUB NUMSUB / SHARDNUMSUB).
    pub fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).get(name).map_or(0, |s| s.len())
    }

    /// Names with subscribers, optionally only those matching a glob (PUBSUB CHANNELS).
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.map(kind).iter().map(|e| e.key().clone()).filter(|n| pattern.is_none_or(|p| glob_match(p, n, false))).collect()
    }

    /// Number of names with subscribers.
    pub fn len(&self, kind: Kind) -> usize {
        self.map(kind).len()
    }

    /// Whether nobody subscribes to anything.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard_channels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_finds_channel_and_pattern_receivers_and_forgets_empty_names() {
        let r = Registry::default();
        let ch = Bytes::from_static(b"news.1");
        r.add(Kind::Channel, &ch, 1, 0);
        r.add(Kind::Pattern, &Bytes::from_static(b"news.*"), 2, 1);
        r.add(Kind::Shard, &ch, 3, 1);
        let mut got = Vec::new();
        r.receivers(Kind::Channel, b"news.1", |c, sh, p| got.push((c, sh, p.cloned())));
        got.sort();
        assert_eq!(got, vec![(1, 0, None), (2, 1, Some(Bytes::from_static(b"news.*")))]);
        assert_eq!(r.count(Kind::Shard, b"news.1"), 1);
        r.remove(Kind::Channel, b"news.1", 1);
        r.remove(Kind::Pattern, b"news.*", 2);
        r.remove(Kind::Shard, b"news.1", 3);
        assert!(r.is_empty());
        assert_eq!(r.npatterns.load(Relaxed), 0);
    }
}
