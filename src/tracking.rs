//! Client-side caching (CLIENT TRACKING): who tracks, how, and what an invalidation looks
//! like. A tracking client's reads are remembered on the shard owning each key
//! ([`crate::store::track`]); when such a key changes, that shard sends the invalidation to
//! the client's shard (or its REDIRECT target's) in its batched push messages, where it is
//! written as a RESP3 `invalidate` push, or for a RESP2 redirect target subscribed to
//! `__redis__:invalidate` as a pub/sub message on that channel.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::RwLock;

use bytes::Bytes;

use crate::protocol::{encode, Reply};

/// The channel RESP2 redirect targets subscribe to.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// How one client tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mode {
    /// Client id to send invalidations to instead of this one (0: none).
    pub redirect: u64,
    /// Broadcast mode: every change of a key under one of `prefixes` (all keys when none).
    pub bcast: bool,
    /// Prefixes of broadcast mode.
    pub prefixes: Vec<Bytes>,
    /// Reads are tracked only after CLIENT CACHING yes.
    pub optin: bool,
    /// Reads are tracked unless after CLIENT CACHING no.
    pub optout: bool,
    /// No invalidation for this client's own changes.
    pub noloop: bool,
}

/// The tracking clients, read by a shard when a tracked key changes.
#[derive(Debug, Default)]
pub struct Registry {
    clients: RwLock<ahash::AHashMap<u64, Mode>>,
    bcast: AtomicUsize,
}

impl Registry {
    /// Starts or changes `client`'s tracking (prefixes add to those it has).
    pub fn enable(&self, client: u64, mode: Mode) {
        let mut c = self.clients.write().expect("tracking lock");
        let was_bcast = c.get(&client).is_some_and(|m| m.bcast);
        let entry = c.entry(client).or_default();
        let mut prefixes = std::mem::take(&mut entry.prefixes);
        for p in &mode.prefixes {
            if !prefixes.contains(p) {
                prefixes.push(p.clone());
            }
        }
        *entry = Mode { prefixes, ..mode };
        if entry.bcast && !was_bcast {
            self.bcast.fetch_add(1, Relaxed);
        }
    }

    /// Stops `client`'s tracking; returns whether it tracked.
    pub fn disable(&self, client: u64) -> bool {
        let removed = self.clients.write().expect("tracking lock").remove(&client);
        if removed.as_ref().is_some_and(|m| m.bcast) {
            self.bcast.fetch_sub(1, Relaxed);
        }
        removed.is_some()
    }

    /// `client`'s tracking, if it tracks.
    pub fn mode(&self, client: u64) -> Option<Mode> {
        self.clients.read().expect("tracking lock").get(&client).cloned()
    }

    /// Whether some client tracks by prefix.
    pub fn any_bcast(&self) -> bool {
        self.bcast.load(Relaxed) > 0
    }

    /// Number of tracking clients.
    pub fn len(&self) -> usize {
        self.clients.read().expect("tracking lock").len()
    }

    /// Whether no client tracks.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every tracking client with its mode.
    pub fn all(&self) -> Vec<(u64, Mode)> {
        self.clients.read().expect("tracking lock").iter().map(|(k, v)| (*k, v.clone())).collect()
    }

    /// Broadcast clients (with their modes) whose prefixes `key` falls under, and the prefix.
    pub fn bcast_matches(&self, key: &[u8]) -> Vec<(u64, Bytes, Mode)> {
        let c = self.clients.read().expect("tracking lock");
        let mut out = Vec::new();
        for (id, m) in c.iter().filter(|(_, m)| m.bcast) {
            if m.prefixes.is_empty() {
                out.push((*id, Bytes::new(), m.clone()));
            } else if let Some(p) = m.prefixes.iter().find(|p| key.starts_with(p)) {
                out.push((*id, p.clone(), m.clone()));
            }
        }
        out
    }

    /// Total prefixes registered (INFO `tracking_total_prefixes`).
    pub fn prefixes(&self) -> usize {
        let c = self.clients.read().expect("tracking lock");
        let mut all: Vec<&Bytes> = c.values().flat_map(|m| m.prefixes.iter()).collect();
        all.sort();
        all.dedup();
        all.len()
    }
}

/// Something pushed to a client out of band, delivered on its shard.
#[derive(Debug, Clone)]
pub enum Push {
    /// A MONITOR line.
    Line(Bytes),
    /// An invalidation of these keys (`None`: of everything, after FLUSHALL / FLUSHDB);
    /// `redirected` when the receiver gets it for another client.
    Invalidate {
        /// The keys.
        keys: Option<Vec<Bytes>>,
        /// Sent to a REDIRECT target.
        redirected: bool,
    },
    /// The client's REDIRECT target is gone (RESP3 only).
    RedirectBroken(u64),
}

/// The frame `push` becomes for a client speaking RESP3 (`resp3`) or not and subscribed to
/// anything (`subscribed`); `None` when it cannot be told (RESP2 without redirection).
pub fn frame(push: &Push, resp3: bool, subscribed: bool) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match push {
        Push::Line(l) => out.extend_from_slice(l),
        Push::Invalidate { keys, redirected } => {
            let keys = match keys {
                Some(k) => Reply::Array(k.iter().cloned().map(Reply::Bulk).collect()),
                None => Reply::Nil,
            };
            if resp3 {
                encode(&Reply::Push(vec![Reply::bulk(b"invalidate"), keys]), true, &mut out);
            } else if *redirected && subscribed {
                encode(&Reply::Push(vec![Reply::bulk(b"message"), Reply::bulk(CHANNEL), keys]), false, &mut out);
            } else {
                return None;
            }
        }
        Push::RedirectBroken(id) => {
            if !resp3 {
                return None;
            }
            encode(&Reply::Push(vec![Reply::bulk(b"tracking-redir-broken"), Reply::Int(*id as i64)]), true, &mut out);
        }
    }
    Some(out)
}
