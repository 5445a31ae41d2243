//! A namespaced typed map: a dictionary-like view over the keys that start with one prefix,
//! with values stored as JSON (serde), and a subscription to its key changes built on
//! keyspace notifications.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use std::sync::atomic::Ordering::Relaxed;

use super::client::{Client, Cmd};
use super::subscriber::Subscriber;
use super::value::{Error, Result};
use crate::notify;

/// Keys fetched per SCAN step and per MGET while iterating.
const BATCH: usize = 512;

/// The keys under `prefix` as a map from the rest of the key to a `V`:
/// `client.map::<User>("user:")` reads and writes `user:<name>` keys. The map holds no state of
/// its own: every method is one or a few commands, so other clients (TCP ones too) see and
/// change the same data. Keys may be spread over all shards; `len`, iteration and `clear` scan.
#[derive(Debug, Clone)]
pub struct NsMap<V> {
    client: Client,
    prefix: String,
    _values: PhantomData<fn() -> V>,
}

/// What happened to a key of an [`NsMap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapEvent {
    /// The key was written (SET and its variants).
    Set(String),
    /// The key was deleted (DEL, UNLINK, GETDEL) or evicted.
    Removed(String),
    /// The key expired.
    Expired(String),
}

/// The key changes of an [`NsMap`], from keyspace notifications.
#[derive(Debug)]
pub struct MapEvents {
    sub: Subscriber,
    prefix_len: usize,
}

/// Escapes glob metacharacters so that `s` matches only itself.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl<V: Serialize + DeserializeOwned> NsMap<V> {
    pub(crate) fn new(client: Client, prefix: &str) -> NsMap<V> {
        NsMap { client, prefix: prefix.to_string(), _values: PhantomData }
    }

    /// The prefix of every key of the map.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn encode(value: &V) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| Error::Serde(e.to_string()))
    }

    fn decode(bytes: &[u8]) -> Result<V> {
        serde_json::from_slice(bytes).map_err(|e| Error::Serde(e.to_string()))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Result<Option<V>> {
        self.client.get::<Bytes>(self.full(key))?.map(|b| Self::decode(&b)).transpose()
    }

    /// Stores `value` under `key` (no time to live; one set before is dropped).
    pub fn insert(&self, key: &str, value: &V) -> Result<()> {
        self.client.set(self.full(key), Self::encode(value)?)
    }

    /// Stores `value` under `key` for `ttl`.
    pub fn insert_with_ttl(&self, key: &str, value: &V, ttl: Duration) -> Result<()> {
        self.client.set_ex(self.full(key), Self::encode(value)?, ttl)
    }

    /// Removes `key`; returns the value it held.
    pub fn remove(&self, key: &str) -> Result<Option<V>> {
        self.client.getdel::<Bytes>(self.full(key))?.map(|b| Self::decode(&b)).transpose()
    }

    /// Whether `key` is in the map.
    pub fn contains_key(&self, key: &str) -> Result<bool> {
        Ok(self.client.exists([self.full(key)])? == 1)
    }

    /// The keys (without the prefix) that match the glob `pattern`, in no particular order.
    pub fn keys_matching(&self, pattern: &str) -> Result<Vec<String>> {
        let glob = format!("{}{pattern}", glob_escape(&self.prefix));
        let mut out = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) =
                self.client.call(Cmd::new("SCAN").arg(cursor).arg("MATCH").arg(glob.as_str()).arg("COUNT").arg(BATCH))?;
            out.extend(keys.into_iter().map(|k| k[self.prefix.len()..].to_string()));
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }

    /// Every key of the map (without the prefix).
    pub fn keys(&self) -> Result<Vec<String>> {
        self.keys_matching("*")
    }

    /// Number of keys in the map (a scan of the keyspace).
    pub fn len(&self) -> Result<usize> {
        Ok(self.keys()?.len())
    }

    /// Whether the map has no key.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Every (key, value) pair of the map, read in batches; a key removed between the scan
    /// and the read is left out.
    pub fn iter(&self) -> Result<impl Iterator<Item = (String, V)>> {
        let keys = self.keys()?;
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let values: Vec<Option<Bytes>> = self.client.mget(chunk.iter().map(|k| self.full(k)))?;
            for (k, v) in chunk.iter().zip(values) {
                if let Some(v) = v {
                    out.push((k.clone(), Self::decode(&v)?));
                }
            }
        }
        Ok(out.into_iter())
    }

    /// The map as a `HashMap`.
    pub fn to_hash_map(&self) -> Result<HashMap<String, V>> {
        Ok(self.iter()?.collect())
    }

    /// Inserts every pair of `items` (one MSET per batch, each atomic).
    pub fn extend<'a>(&self, items: impl IntoIterator<Item = (&'a str, V)>) -> Result<()> {
        let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
        for (k, v) in items {
            batch.push((self.full(k), Self::encode(&v)?));
            if batch.len() == BATCH {
                self.client.mset(std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            self.client.mset(batch)?;
        }
        Ok(())
    }

    /// Removes every key of the map; returns how many there were.
    pub fn clear(&self) -> Result<usize> {
        let keys = self.keys()?;
        let mut removed = 0;
        for chunk in keys.chunks(BATCH) {
            removed += self.client.call::<i64>(Cmd::new("UNLINK").args(chunk.iter().map(|k| self.full(k))))? as usize;
        }
        Ok(removed)
    }

    /// Subscribes to the map's key changes. Needs keyspace notifications for generic,
    /// string and expiry events (`notify-keyspace-events` with `K` and `g$x`, or `KA`);
    /// without them this fails with an error that says so.
    pub fn watch(&self) -> Result<MapEvents> {
        let need = notify::KEYSPACE | notify::GENERIC | notify::STRING | notify::EXPIRED;
        let on = self.client.core.shared.config.notify_keyspace_events.load(Relaxed);
        if on & need != need {
            return Err(Error::MapEventsOff(notify::flags_to_string(on)));
        }
        let sub = self.client.subscriber();
        let pattern = format!("__keyspace@{}__:{}*", self.client.db(), glob_escape(&self.prefix));
        sub.psubscribe([pattern])?;
        let prefix_len = format!("__keyspace@{}__:{}", self.client.db(), self.prefix).len();
        Ok(MapEvents { sub, prefix_len })
    }
}

impl MapEvents {
    fn event(&self, m: crate::shard::Message) -> Option<MapEvent> {
        let key = String::from_utf8_lossy(m.channel.get(self.prefix_len..)?).into_owned();
        Some(match &m.payload[..] {
            b"set" => MapEvent::Set(key),
            b"del" | b"evicted" => MapEvent::Removed(key),
            b"expired" => MapEvent::Expired(key),
            _ => return None,
        })
    }

    /// The next change, or `None` when none came within `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<MapEvent>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.sub.recv_timeout(left)? {
                None => return Ok(None),
                Some(m) => {
                    if let Some(e) = self.event(m) {
                        return Ok(Some(e));
                    }
                }
            }
        }
    }

    /// The next change, from async code.
    pub async fn recv_async(&self) -> Result<MapEvent> {
        loop {
            if let Some(e) = self.event(self.sub.recv_async().await?) {
                return Ok(e);
            }
        }
    }
}

impl Client {
    /// A typed map over the keys starting with `prefix` (see [`NsMap`]).
    pub fn map<V: Serialize + DeserializeOwned>(&self, prefix: &str) -> NsMap<V> {
        NsMap::new(self.clone(), prefix)
    }
}
