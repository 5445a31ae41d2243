//! Values, key entries and whole files as Redis 7.0 saves them (`rdbSaveObject`,
//! `rdbSaveKeyValuePair`, `rdbSaveRio`).
//!
//! Our in-memory encodings are not Redis's, so the blobs Redis saves as-is (listpacks,
//! intsets, quicklist nodes) are rebuilt here from the elements, laid out as Redis would have
//! laid them out had the value been built by appending its elements in order: a value whose
//! encoding matches Redis's gives the same bytes as redis-server's DUMP.

use std::io::Write;

use super::wire::{write_int_string, write_len, write_string};
use super::{intset, listpack, opcodes, types, Result, CONTAINER_PACKED, CONTAINER_PLAIN, CRC64, RDB_VERSION, REDIS_VERSION};
use crate::config::{Config, P};
use crate::store::{idle_ms, Entry, Hash, LfuMode, List, Set, StrValue, Value, ZSet};

/// Which access statistic precedes each key in a file: Redis writes the idle time under an
/// LRU `maxmemory-policy`, the frequency under an LFU one, neither otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyUsage {
    /// Neither.
    #[default]
    None,
    /// `RDB_OPCODE_IDLE`: seconds since the last access.
    Idle,
    /// `RDB_OPCODE_FREQ`: the LFU counter.
    Freq,
}

/// How values and entries are encoded.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    /// `rdbcompression`: LZF-compress strings over 20 bytes when it saves space.
    pub compress: bool,
    /// `list-max-listpack-size`: how lists are cut into quicklist nodes.
    pub list_fill: i32,
    /// Which access statistic to write before each key.
    pub usage: KeyUsage,
    /// How LFU counters decay (for [`KeyUsage::Freq`]).
    pub lfu: LfuMode,
    /// The time of the save, Unix ms (for idle times and decay).
    pub now_ms: u64,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions { compress: true, list_fill: -2, usage: KeyUsage::None, lfu: LfuMode::default(), now_ms: 0 }
    }
}

impl EncodeOptions {
    /// The options Redis would save with under `c`, at `now_ms`.
    pub fn from_config(c: &Config, now_ms: u64) -> Self {
        let policy = c.policy_name();
        let usage = if policy.ends_with("-lru") {
            KeyUsage::Idle
        } else if policy.ends_with("-lfu") {
            KeyUsage::Freq
        } else {
            KeyUsage::None
        };
        EncodeOptions {
            compress: c.flag(P::Rdbcompression),
            list_fill: super::Limits::from_config(c).list_fill,
            usage,
            lfu: c.lfu_mode(),
            now_ms,
        }
    }
}

/// The type byte Redis saves `v` under (`rdbSaveObjectType`).
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Set(s) => match **s {
            Set::Ints(_) => types::SET_INTSET,
            Set::Table(_) => types::SET,
        },
        Value::Hash(h) => match **h {
            Hash::Packed(_) => types::HASH_LISTPACK,
            Hash::Table(_) => types::HASH,
        },
        Value::ZSet(z) => match **z {
            ZSet::Packed(_) => types::ZSET_LISTPACK,
            ZSet::Sorted { .. } => types::ZSET_2,
        },
    }
}

/// Appends `v` without its type byte, as `rdbSaveObject` does.
pub fn encode_value(out: &mut Vec<u8>, v: &Value, opts: &EncodeOptions) {
    let c = opts.compress;
    match v {
        Value::Str(StrValue::Int(i) | StrValue::IntOwn(i)) => write_int_string(out, *i),
        Value::Str(s) => write_string(out, &s.as_bytes(), c),
        Value::List(l) => encode_list(out, l, opts),
        Value::Set(s) => match &**s {
            Set::Ints(v) => write_string(out, &intset::encode(v), c),
            Set::Table(_) => {
                write_len(out, s.len() as u64);
                s.iter().for_each(|m| write_string(out, &m, c));
            }
        },
        Value::Hash(h) => match &**h {
            Hash::Packed(_) => {
                let mut w = listpack::Writer::new();
                for (f, v) in h.iter() {
                    w.push(f);
                    w.push(v);
                }
                write_string(out, &w.finish(), c);
            }
            Hash::Table(_) => {
                write_len(out, h.len() as u64);
                for (f, v) in h.iter() {
                    write_string(out, f, c);
                    write_string(out, v, c);
                }
            }
        },
        Value::ZSet(z) => match &**z {
            ZSet::Packed(_) => {
                let mut w = listpack::Writer::new();
                for (score, m) in z.iter_from(0, false) {
                    w.push(&m);
                    w.push(d2string(score).as_bytes());
                }
                write_string(out, &w.finish(), c);
            }
            ZSet::Sorted { .. } => {
                // Highest first, as Redis walks its skiplist from the tail.
                write_len(out, z.len() as u64);
                if !z.is_empty() {
                    for (score, m) in z.iter_from(z.len() - 1, true) {
                        write_string(out, &m, c);
                        out.extend_from_slice(&score.to_le_bytes());
                    }
                }
            }
        },
    }
}

/// A score as Redis's `d2string` writes it into a listpack.
fn d2string(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else if d == 0.0 {
        if d.is_sign_negative() { "-0" } else { "0" }.into()
    } else if d >= -(i64::MAX / 2) as f64 && d <= (i64::MAX / 2) as f64 && d == (d as i64) as f64 {
        (d as i64).to_string()
    } else {
        crate::num::format_f64(d)
    }
}

/// Elements of this many bytes get a quicklist node of their own (`packed_threshold`).
const PACKED_THRESHOLD: usize = 1 << 30;
/// Node size classes of negative `list-max-listpack-size` values (`optimization_level`).
const SIZE_CLASSES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// No node grows past this by a count limit (`SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Whether a quicklist node of `bytes` and `count` elements takes one more of `sz` bytes
/// (`_quicklistNodeAllowInsert`).
fn node_allows(bytes: usize, count: usize, fill: i32, sz: usize) -> bool {
    let new_sz = bytes + sz + 8;
    if fill < 0 {
        return new_sz <= SIZE_CLASSES[(-fill - 1) as usize];
    }
    new_sz <= SIZE_SAFETY_LIMIT && count < fill as usize
}

enum Node<'a> {
    Packed(listpack::Writer),
    Plain(&'a [u8]),
}

/// A list as `RDB_TYPE_LIST_QUICKLIST_2`, cut into nodes as RPUSH would have cut it.
fn encode_list(out: &mut Vec<u8>, l: &List, opts: &EncodeOptions) {
    let fill = opts.list_fill.clamp(-5, (1 << 15) - 1);
    let mut nodes: Vec<Node<'_>> = Vec::new();
    for v in l.iter() {
        if v.len() >= PACKED_THRESHOLD {
            nodes.push(Node::Plain(v));
            continue;
        }
        match nodes.last_mut() {
            Some(Node::Packed(w)) if node_allows(w.bytes(), w.len(), fill, v.len()) => w.push(v),
            _ => {
                let mut w = listpack::Writer::new();
                w.push(v);
                nodes.push(Node::Packed(w));
            }
        }
    }
    write_len(out, nodes.len() as u64);
    for n in nodes {
        match n {
            Node::Packed(w) => {
                write_len(out, CONTAINER_PACKED);
                write_string(out, &w.finish(), opts.compress);
            }
            Node::Plain(v) => {
                write_len(out, CONTAINER_PLAIN);
                write_string(out, v, opts.compress);
            }
        }
    }
}

/// Appends a key entry as `rdbSaveKeyValuePair` does: its expiry, its idle time or frequency
/// (as `opts.usage` says), its type, key and value.
pub fn encode_entry(out: &mut Vec<u8>, e: &Entry, opts: &EncodeOptions) {
    if e.expire_at != 0 {
        out.push(opcodes::EXPIRETIME_MS);
        out.extend_from_slice(&e.expire_at.to_le_bytes());
    }
    match opts.usage {
        KeyUsage::None => {}
        KeyUsage::Idle => {
            out.push(opcodes::IDLE);
            write_len(out, idle_ms(e.access, opts.now_ms) / 1000);
        }
        KeyUsage::Freq => {
            out.extend_from_slice(&[opcodes::FREQ, e.lfu.decayed(opts.now_ms, opts.lfu)]);
        }
    }
    out.push(value_type(&e.value));
    write_string(out, &e.key, opts.compress);
    encode_value(out, &e.value, opts);
}

/// The aux fields at the head of a file (`rdbSaveInfoAuxFields`).
#[derive(Debug, Clone, Default)]
pub struct AuxFields {
    /// `ctime`: the time of the save, Unix seconds.
    pub ctime: u64,
    /// `used-mem`: bytes in use.
    pub used_mem: u64,
    /// `repl-stream-db`, `repl-id`, `repl-offset`: written when the save serves replication.
    pub repl: Option<(u64, String, i64)>,
    /// `aof-base`: whether the file is the base of an AOF.
    pub aof_base: bool,
}

/// Writes an RDB file to `W` piece by piece: [`FileEncoder::header`], then entries of any
/// database in any order ([`FileEncoder::entry`], or [`FileEncoder::chunk`] for entries
/// encoded elsewhere with [`encode_entry`], say by several producers), then
/// [`FileEncoder::finish`]. A `SELECTDB` goes out whenever the database changes; the CRC-64
/// is kept over every byte written.
pub struct FileEncoder<W: Write> {
    w: W,
    digest: Option<crc::Digest<'static, u64>>,
    compress: bool,
    db: Option<usize>,
    written: u64,
}

impl<W: Write> std::fmt::Debug for FileEncoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileEncoder").field("db", &self.db).field("written", &self.written).finish_non_exhaustive()
    }
}

impl<W: Write> FileEncoder<W> {
    /// An encoder writing to `w`; with `checksum` off (`rdbchecksum no`) the trailer's
    /// checksum is zero.
    pub fn new(w: W, checksum: bool, compress: bool) -> Self {
        FileEncoder { w, digest: checksum.then(|| CRC64.digest()), compress, db: None, written: 0 }
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.w.write_all(b)?;
        if let Some(d) = &mut self.digest {
            d.update(b);
        }
        self.written += b.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The signature `REDIS0010`, the aux fields, then one `RDB_OPCODE_FUNCTION2` record per
    /// function library (its code).
    pub fn header<'a>(&mut self, aux: &AuxFields, libraries: impl IntoIterator<Item = &'a [u8]>) -> Result<()> {
        let mut out = format!("REDIS{RDB_VERSION:04}").into_bytes();
        let c = self.compress;
        let field = |out: &mut Vec<u8>, k: &str, v: &[u8]| {
            out.push(opcodes::AUX);
            write_string(out, k.as_bytes(), c);
            write_string(out, v, c);
        };
        field(&mut out, "redis-ver", REDIS_VERSION.as_bytes());
        field(&mut out, "redis-bits", b"64");
        field(&mut out, "ctime", aux.ctime.to_string().as_bytes());
        field(&mut out, "used-mem", aux.used_mem.to_string().as_bytes());
        if let Some((db, id, offset)) = &aux.repl {
            field(&mut out, "repl-stream-db", db.to_string().as_bytes());
            field(&mut out, "repl-id", id.as_bytes());
            field(&mut out, "repl-offset", offset.to_string().as_bytes());
        }
        field(&mut out, "aof-base", if aux.aof_base { b"1" } else { b"0" });
        for code in libraries {
            out.push(opcodes::FUNCTION2);
            write_string(&mut out, code, c);
        }
        self.put(&out)
    }

    /// Starts database `db`: `SELECTDB`, and `RESIZEDB` with `sizes` (keys, keys with an
    /// expiry) when given.
    pub fn select_db(&mut self, db: usize, sizes: Option<(u64, u64)>) -> Result<()> {
        let mut out = vec![opcodes::SELECTDB];
        write_len(&mut out, db as u64);
        if let Some((keys, expires)) = sizes {
            out.push(opcodes::RESIZEDB);
            write_len(&mut out, keys);
            write_len(&mut out, expires);
        }
        self.db = Some(db);
        self.put(&out)
    }

    /// Writes entries of database `db` already encoded with [`encode_entry`], after a
    /// `SELECTDB` if `db` is not the current database.
    pub fn chunk(&mut self, db: usize, bytes: &[u8]) -> Result<()> {
        if self.db != Some(db) {
            self.select_db(db, None)?;
        }
        self.put(bytes)
    }

    /// Writes one entry of database `db`.
    pub fn entry(&mut self, db: usize, e: &Entry, opts: &EncodeOptions) -> Result<()> {
        let mut out = Vec::new();
        encode_entry(&mut out, e, opts);
        self.chunk(db, &out)
    }

    /// The writer, to drain what was encoded so far (a `Vec` handed on to async I/O).
    pub fn output(&mut self) -> &mut W {
        &mut self.w
    }

    /// Writes `EOF` and the checksum, flushes, and gives the writer back.
    pub fn finish(mut self) -> Result<W> {
        self.put(&[opcodes::EOF])?;
        let crc: u64 = self.digest.take().map_or(0, |d| d.finalize());
        self.put(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_written_as_d2string_does() {
        for (d, s) in [
            (1.0, "1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (4611686018427387904.0, "4611686018427387904"),
            (9223372036854775808.0, "9.2233720368547758e+18"),
        ] {
            assert_eq!(d2string(d), s, "{d}");
        }
    }

    #[test]
    fn nodes_follow_the_fill_factor() {
        // -2: 8 KiB nodes; 5: at most five elements per node.
        assert!(node_allows(8000, 1000, -2, 100));
        assert!(!node_allows(8100, 1000, -2, 100));
        assert!(node_allows(10, 4, 5, 1));
        assert!(!node_allows(10, 5, 5, 1));
        assert!(!node_allows(8190, 1, 100, 1), "the safety limit caps counted nodes");
        assert!(!node_allows(10, 0, 0, 1));
    }
}
