//! Stored values and their encodings.

use std::borrow::Cow;

use bytes::Bytes;

use super::access::{lru_clock, Lfu, LfuMode, CLOCK_MASK};
use super::inline::{Inline, Key};
use super::{Hash, List, Set, ZSet};
use crate::num::parse_i64;

/// Longest string stored in the compact `embstr` encoding, as Redis (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
pub const EMBSTR_MAX: usize = 44;
/// Longest string stored inside the value itself, with no heap object ([`StrValue::Small`]).
pub const SMALL_MAX: usize = 38;

/// A string value in one of Redis's three encodings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrValue {
    /// A canonical decimal integer, stored as its number. Redis shares the objects of 0..9999
    /// (OBJECT REFCOUNT reports 2147483647 for them).
    Int(i64),
    /// An integer in an object of its own: what COPY makes of a shared integer, as Redis's
    /// `dupStringObject` does (OBJECT REFCOUNT 1, encoding still `int`).
    IntOwn(i64),
    /// A string of up to [`SMALL_MAX`] bytes, in place (still `embstr` to OBJECT ENCODING).
    Small(Inline<SMALL_MAX>),
    /// A short string, created whole and never modified in place.
    Emb(Box<[u8]>),
    /// A string that may be appended to or modified in place.
    Raw(Vec<u8>),
}

impl StrValue {
    /// Encodes input bytes as Redis's `tryObjectEncoding` would: integers as numbers,
    /// short strings compactly.
    pub fn from_input(b: &[u8]) -> Self {
        if b.len() <= 20 {
            if let Some(i) = parse_i64(b) {
                return StrValue::Int(i);
            }
        }
        Self::from_bytes(b)
    }

    /// Stores bytes without trying the integer encoding.
    pub fn from_bytes(b: &[u8]) -> Self {
        if let Some(small) = Inline::new(b) {
            StrValue::Small(small)
        } else if b.len() <= EMBSTR_MAX {
            StrValue::Emb(b.into())
        } else {
            StrValue::Raw(b.to_vec())
        }
    }

    /// The string's bytes (integers are formatted).
    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            StrValue::Int(i) | StrValue::IntOwn(i) => Cow::Owned(itoa::Buffer::new().format(*i).as_bytes().to_vec()),
            StrValue::Small(b) => Cow::Borrowed(b.as_slice()),
            StrValue::Emb(b) => Cow::Borrowed(b),
            StrValue::Raw(v) => Cow::Borrowed(v),
        }
    }

    /// The string as an owned reply payload.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            StrValue::Int(i) | StrValue::IntOwn(i) => Bytes::copy_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
            StrValue::Small(b) => Bytes::copy_from_slice(b.as_slice()),
            StrValue::Emb(b) => Bytes::copy_from_slice(b),
            StrValue::Raw(v) => Bytes::copy_from_slice(v),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(i) | StrValue::IntOwn(i) => itoa::Buffer::new().format(*i).len(),
            StrValue::Small(b) => b.as_slice().len(),
            StrValue::Emb(b) => b.len(),
            StrValue::Raw(v) => v.len(),
        }
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value as an integer, if it is one in canonical form.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            StrValue::Int(i) | StrValue::IntOwn(i) => Some(*i),
            StrValue::Small(b) => parse_i64(b.as_slice()),
            StrValue::Emb(b) => parse_i64(b),
            StrValue::Raw(v) => parse_i64(v),
        }
    }

    /// A mutable byte vector, converting to the raw encoding (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            *self = StrValue::Raw(self.as_bytes().into_owned());
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!("converted to raw above"),
        }
    }

    /// Whether the value is one of Redis's shared integer objects (0..9999).
    pub fn is_shared(&self) -> bool {
        matches!(self, StrValue::Int(i) if (0..10_000).contains(i))
    }

    /// Redis's encoding name for OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) | StrValue::IntOwn(_) => "int",
            StrValue::Small(_) | StrValue::Emb(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }
}

/// A value of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string.
    Str(StrValue),
    /// A list. Collections are boxed so that every key, strings included, keeps a small
    /// entry (a value is 32 bytes; a sorted set alone is over 100).
    List(Box<List>),
    /// A hash.
    Hash(Box<Hash>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
}

impl Value {
    /// The string inside, or `None` for another type (WRONGTYPE).
    pub fn as_str(&self) -> Option<&StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string inside, mutably, or `None` for another type.
    pub fn as_str_mut(&mut self) -> Option<&mut StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The list inside, mutably, or `None` for another type.
    pub fn as_list_mut(&mut self) -> Option<&mut List> {
        match self {
            Value::List(l) => Some(&mut **l),
            _ => None,
        }
    }

    /// The hash inside, mutably, or `None` for another type.
    pub fn as_hash_mut(&mut self) -> Option<&mut Hash> {
        match self {
            Value::Hash(h) => Some(&mut **h),
            _ => None,
        }
    }

    /// The set inside, mutably, or `None` for another type.
    pub fn as_set_mut(&mut self) -> Option<&mut Set> {
        match self {
            Value::Set(s) => Some(&mut **s),
            _ => None,
        }
    }

    /// The sorted set inside, mutably, or `None` for another type.
    pub fn as_zset_mut(&mut self) -> Option<&mut ZSet> {
        match self {
            Value::ZSet(z) => Some(&mut **z),
            _ => None,
        }
    }

    /// Whether this is a collection with no elements left (such keys are deleted).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }

    /// Redis's type name for TYPE and SCAN TYPE.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Redis's encoding name for OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            // Redis 7.0 keeps every list in a quicklist (listpack lists came in 7.2).
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// A key with its value and metadata, as stored in a database: 80 bytes, with short keys
/// and values inside.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// The LRU clock at the last access ([`super::access::lru_clock`], 31 bits) and, in the
    /// top bit, the snapshot mark ([`Entry::snap_mark`]).
    pub access: u32,
    /// Access frequency, kept while an LFU policy is in force.
    pub lfu: Lfu,
}

impl Entry {
    /// A new entry, last accessed `now`.
    pub fn new(key: &[u8], value: Value, expire_at: u64, now: u64) -> Self {
        Entry { key: key.into(), value, expire_at, access: lru_clock(now), lfu: Lfu::new(now) }
    }

    /// Whether the entry's deadline has passed at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }

    /// Whether a snapshot has this key written out: the mark equals the database's phase
    /// when it has (or when the key is newer than the snapshot). See `Db::snapshot_begin`.
    pub fn snap_mark(&self) -> bool {
        self.access & !CLOCK_MASK != 0
    }

    /// Sets the snapshot mark, keeping the LRU clock.
    pub fn set_snap_mark(&mut self, mark: bool) {
        self.access = (self.access & CLOCK_MASK) | if mark { !CLOCK_MASK } else { 0 };
    }

    /// Sets the LRU clock, keeping the snapshot mark.
    pub fn set_clock(&mut self, clock: u32) {
        self.access = (self.access & !CLOCK_MASK) | (clock & CLOCK_MASK);
    }

    /// The LRU clock at the last access.
    pub fn clock(&self) -> u32 {
        self.access & CLOCK_MASK
    }

    /// Records an access at `now`: the LRU clock, and the LFU counter when `lfu` is on.
    pub fn touch(&mut self, now: u64, lfu: LfuMode) {
        self.set_clock(lru_clock(now));
        if lfu.on {
            self.lfu.touch(now, lfu);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_stay_small_whatever_the_type() {
        // Every key pays for its value's inline size: collections live behind a box. With the
        // table's link and hash, an entry is a 96-byte allocation (a size class of mimalloc).
        assert_eq!(std::mem::size_of::<Value>(), 40);
        assert_eq!(std::mem::size_of::<Entry>(), 80);
    }

    #[test]
    fn short_strings_live_in_place_and_keep_redis_encoding_names() {
        for (len, inline, encoding) in
            [(0, true, "embstr"), (SMALL_MAX, true, "embstr"), (SMALL_MAX + 1, false, "embstr"), (EMBSTR_MAX + 1, false, "raw")]
        {
            let b = vec![b'x'; len];
            let v = StrValue::from_input(&b);
            assert_eq!(matches!(v, StrValue::Small(_)), inline, "length {len}");
            assert_eq!(v.encoding(), encoding);
            assert_eq!(&*v.as_bytes(), &b[..]);
            assert_eq!(v.len(), len);
        }
        assert_eq!(StrValue::from_input(b"12345").encoding(), "int");
    }
}
