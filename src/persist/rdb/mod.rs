//! Redis 7.0's RDB format (version 10), both ways.
//!
//! - [`encode`]: values and key entries as Redis 7.0 saves them ([`encode_entry`],
//!   [`encode_value`]) and whole files, streamed ([`FileEncoder`]).
//! - [`decode`]: whole files from any `std::io::Read`, item by item ([`FileDecoder`]), and
//!   single values ([`decode_value`]), built with the encodings Redis would pick after load.
//! - [`payload`]: the DUMP / RESTORE and FUNCTION DUMP / RESTORE payloads (value, RDB version,
//!   CRC-64).
//! - [`listpack`], [`intset`] (both ways), [`ziplist`], [`zipmap`] (read only, for old files):
//!   the packed blobs some types are saved as, validated as deeply as Redis's sanitizer does.
//! - `wire`: lengths, strings (integer and LZF encodings), doubles.
//!
//! Nothing here panics on any input: a corrupt payload is an [`RdbError`], and no length read
//! from the input is trusted for an allocation before that many bytes have arrived.

mod decode;
mod encode;
pub mod intset;
pub mod listpack;
pub mod payload;
mod wire;
pub mod ziplist;
pub mod zipmap;

use std::borrow::Cow;

pub use decode::{apply_usage, decode_value, FileDecoder, Item, LoadOptions};
pub use encode::{encode_entry, encode_value, value_type, AuxFields, EncodeOptions, FileEncoder, KeyUsage};

use crate::config::{Config, P};
use crate::store::PackLimits;

/// The RDB version written, and the newest one read.
pub const RDB_VERSION: u16 = 10;
/// The Redis version written in the `redis-ver` aux field.
pub const REDIS_VERSION: &str = "7.0.15";

/// Value type bytes (`RDB_TYPE_*`).
pub mod types {
    /// A string.
    pub const STRING: u8 = 0;
    /// A list as a sequence of strings (before quicklists).
    pub const LIST: u8 = 1;
    /// A set as a sequence of strings.
    pub const SET: u8 = 2;
    /// A sorted set with scores as strings.
    pub const ZSET: u8 = 3;
    /// A hash as a sequence of field/value strings.
    pub const HASH: u8 = 4;
    /// A sorted set with binary scores.
    pub const ZSET_2: u8 = 5;
    /// A module value (version 1).
    pub const MODULE: u8 = 6;
    /// A module value (version 2).
    pub const MODULE_2: u8 = 7;
    /// A hash as a zipmap (Redis 2.4).
    pub const HASH_ZIPMAP: u8 = 9;
    /// A list as one ziplist.
    pub const LIST_ZIPLIST: u8 = 10;
    /// A set of integers as an intset.
    pub const SET_INTSET: u8 = 11;
    /// A sorted set as a ziplist.
    pub const ZSET_ZIPLIST: u8 = 12;
    /// A hash as a ziplist.
    pub const HASH_ZIPLIST: u8 = 13;
    /// A list as a quicklist of ziplists.
    pub const LIST_QUICKLIST: u8 = 14;
    /// A stream (version 1).
    pub const STREAM_LISTPACKS: u8 = 15;
    /// A hash as a listpack.
    pub const HASH_LISTPACK: u8 = 16;
    /// A sorted set as a listpack.
    pub const ZSET_LISTPACK: u8 = 17;
    /// A list as a quicklist of listpack (or plain) nodes.
    pub const LIST_QUICKLIST_2: u8 = 18;
    /// A stream (version 2).
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Opcodes between entries of a file (`RDB_OPCODE_*`).
pub mod opcodes {
    /// A function library's code.
    pub const FUNCTION2: u8 = 245;
    /// The pre-release (7.0 rc) function format, refused.
    pub const FUNCTION: u8 = 246;
    /// Module auxiliary data.
    pub const MODULE_AUX: u8 = 247;
    /// The next key's LRU idle time, in seconds.
    pub const IDLE: u8 = 248;
    /// The next key's LFU counter.
    pub const FREQ: u8 = 249;
    /// An aux field: two strings.
    pub const AUX: u8 = 250;
    /// Sizes of the database's tables (a hint).
    pub const RESIZEDB: u8 = 251;
    /// The next key's expiry, Unix milliseconds.
    pub const EXPIRETIME_MS: u8 = 252;
    /// The next key's expiry, Unix seconds (old files).
    pub const EXPIRETIME: u8 = 253;
    /// The database of the keys that follow.
    pub const SELECTDB: u8 = 254;
    /// The end of the file, before its checksum.
    pub const EOF: u8 = 255;
}

/// Quicklist node containers in `RDB_TYPE_LIST_QUICKLIST_2`.
pub(crate) const CONTAINER_PLAIN: u64 = 1;
/// A node holding a listpack.
pub(crate) const CONTAINER_PACKED: u64 = 2;

/// Redis's CRC-64 (Jones), over files and payloads.
pub(crate) static CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// What went wrong reading (or writing) RDB data.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    /// The reader or writer failed.
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    /// The input ended inside an item.
    #[error("unexpected end of RDB data")]
    Truncated,
    /// The file does not start with `REDIS` and a four-digit version.
    #[error("wrong signature, not an RDB file")]
    BadMagic,
    /// The file's RDB version is newer than 10, or 0.
    #[error("can't handle RDB format version {0}")]
    Version(u32),
    /// The checksum at the end does not match the data.
    #[error("RDB CRC error: wrong RDB checksum expected: ({expected:x}) got ({computed:x})")]
    Checksum {
        /// The checksum stored in the file.
        expected: u64,
        /// The checksum of the data read.
        computed: u64,
    },
    /// A DUMP payload's footer has a newer RDB version or a wrong checksum.
    #[error("DUMP payload version or checksum are wrong")]
    PayloadFooter,
    /// A value or opcode type that shardis cannot load (modules, streams for now).
    #[error("unsupported RDB type {0}")]
    UnsupportedType(u8),
    /// A collection with no elements (Redis skips such keys when loading a file).
    #[error("empty key")]
    EmptyKey,
    /// The data is malformed; the text says where.
    #[error("corrupt RDB data: {0}")]
    Corrupt(&'static str),
}

impl From<std::io::Error> for RdbError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            RdbError::Truncated
        } else {
            RdbError::Io(e)
        }
    }
}

/// Result of the RDB codec.
pub type Result<T, E = RdbError> = std::result::Result<T, E>;

/// One element of a listpack or ziplist: a packed integer or a byte string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element<'a> {
    /// An integer entry.
    Int(i64),
    /// A string entry.
    Str(&'a [u8]),
}

impl<'a> Element<'a> {
    /// The element as Redis returns it: integers in decimal.
    pub fn bytes(&self) -> Cow<'a, [u8]> {
        match *self {
            Element::Int(i) => Cow::Owned(itoa::Buffer::new().format(i).as_bytes().to_vec()),
            Element::Str(s) => Cow::Borrowed(s),
        }
    }
}

/// The encoding limits that decide how values are packed: Redis's `*-max-listpack-*`,
/// `set-max-intset-entries` and `list-max-listpack-size`; the default is Redis 7.0's.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `hash-max-listpack-entries` / `-value`.
    pub hash: PackLimits,
    /// `zset-max-listpack-entries` / `-value`.
    pub zset: PackLimits,
    /// `set-max-intset-entries`.
    pub set_max_intset: usize,
    /// `list-max-listpack-size`: negative for a node size class (-2 is 8 KiB), positive for
    /// a count of entries per quicklist node.
    pub list_fill: i32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash: PackLimits { entries: 512, value: 64 },
            zset: PackLimits { entries: 128, value: 64 },
            set_max_intset: 512,
            list_fill: -2,
        }
    }
}

impl Limits {
    /// The limits in force in `c`.
    pub fn from_config(c: &Config) -> Self {
        let n = |p| c.num(p).max(0) as usize;
        Limits {
            hash: PackLimits { entries: n(P::HashMaxListpackEntries), value: n(P::HashMaxListpackValue) },
            zset: PackLimits { entries: n(P::ZsetMaxListpackEntries), value: n(P::ZsetMaxListpackValue) },
            set_max_intset: n(P::SetMaxIntsetEntries),
            list_fill: c.num(P::ListMaxListpackSize).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
        }
    }
}

#[cfg(test)]
mod tests;
