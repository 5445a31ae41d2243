//! Redis 7's multi-part append-only file, the formats only: the manifest that lists the
//! base and incremental files of `appenddirname` ([`manifest`]), and the command stream of
//! an AOF file ([`reader`]: RESP multibulk commands, `#` annotations, an RDB-encoded base or
//! preamble detected). Pure codecs over bytes, no I/O, as [`super::rdb`]; loading and
//! writing the directory build on them.

pub mod manifest;
pub mod reader;

/// The suffix of the manifest's name (`appendonly.aof.manifest`).
pub const MANIFEST_SUFFIX: &str = ".manifest";

/// The manifest's file name for `appendfilename`.
pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}{MANIFEST_SUFFIX}")
}

/// A base file's name: `<appendfilename>.<seq>.base.rdb` (RDB-encoded, `aof-use-rdb-preamble
/// yes`) or `.base.aof` (commands).
pub fn base_name(appendfilename: &str, seq: i64, rdb: bool) -> String {
    format!("{appendfilename}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

/// An incremental file's name: `<appendfilename>.<seq>.incr.aof`.
pub fn incr_name(appendfilename: &str, seq: i64) -> String {
    format!("{appendfilename}.{seq}.incr.aof")
}
