//! RDB files and values back into entries (`rdbLoadRio`, `rdbLoadObject`).
//!
//! Values are rebuilt with the encodings Redis picks after a load under the same limits (a
//! listpack hash longer than `hash-max-listpack-entries` becomes a table, and so on), and
//! checked as deeply as Redis's `sanitize-dump-payload yes`: blob integrity, duplicate
//! members and fields, counts.

use std::collections::HashSet;
use std::io::Read;

use super::wire::Input;
use super::{
    intset, listpack, opcodes, types, ziplist, zipmap, Element, Limits, RdbError, Result, CONTAINER_PACKED, CONTAINER_PLAIN, RDB_VERSION,
};
use crate::store::{lru_clock, Entry, Hash, Lfu, List, PackLimits, Packed, Set, StrValue, Value, ZSet};

/// How loaded values are built.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// The encoding limits in force.
    pub limits: Limits,
    /// The time of the load, Unix ms: loaded idle times and frequencies count from it.
    pub now_ms: u64,
}

/// One item of an RDB file, in file order.
#[derive(Debug)]
pub enum Item {
    /// An aux field (`redis-ver`, `ctime`, ...).
    Aux {
        /// Its name.
        key: Vec<u8>,
        /// Its value.
        value: Vec<u8>,
    },
    /// A function library's code.
    Function(Vec<u8>),
    /// The sizes of a database's tables, a hint for what follows.
    ResizeDb {
        /// The database.
        db: usize,
        /// Keys.
        keys: u64,
        /// Keys with an expiry.
        expires: u64,
    },
    /// A key of database `db`, with its expiry (possibly past: the caller decides), its idle
    /// time and frequency applied to its access clock and LFU counter.
    Entry {
        /// The database.
        db: usize,
        /// The key and its value.
        entry: Entry,
    },
}

/// Reads an RDB file item by item from any reader (a file may be larger than memory): the
/// signature on [`FileDecoder::new`], then [`FileDecoder::next_item`] (or the iterator) up to
/// the `EOF` opcode, whose checksum it verifies when non-zero. Keys of empty collections are
/// skipped, as Redis skips them.
#[derive(Debug)]
pub struct FileDecoder<R> {
    input: Input<R>,
    opts: LoadOptions,
    version: u32,
    db: usize,
    done: bool,
}

impl<R: Read> FileDecoder<R> {
    /// Reads the signature (`REDIS` and a version from 1 to 10).
    pub fn new(r: R, opts: LoadOptions) -> Result<Self> {
        let mut input = Input::new(r);
        let magic: [u8; 9] = input.array()?;
        if &magic[..5] != b"REDIS" {
            return Err(RdbError::BadMagic);
        }
        let version = std::str::from_utf8(&magic[5..]).ok().and_then(|v| v.parse::<u32>().ok()).ok_or(RdbError::BadMagic)?;
        if version < 1 || version > u32::from(RDB_VERSION) {
            return Err(RdbError::Version(version));
        }
        Ok(FileDecoder { input, opts, version, db: 0, done: false })
    }

    /// The file's RDB version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The next item, or `None` after the `EOF` opcode and a good checksum.
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        if self.done {
            return Ok(None);
        }
        let r = self.read_item();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r
    }

    fn read_item(&mut self) -> Result<Option<Item>> {
        let (mut expire_at, mut idle, mut freq) = (0u64, None, None);
        loop {
            let t = self.input.byte()?;
            match t {
                opcodes::EXPIRETIME => expire_at = (i64::from(i32::from_le_bytes(self.input.array()?)) * 1000).max(0) as u64,
                opcodes::EXPIRETIME_MS => expire_at = i64::from_le_bytes(self.input.array()?).max(0) as u64,
                opcodes::FREQ => freq = Some(self.input.byte()?),
                opcodes::IDLE => idle = Some(self.input.len()?),
                opcodes::EOF => {
                    if self.version >= 5 {
                        let computed = self.input.checksum();
                        let expected = u64::from_le_bytes(self.input.array()?);
                        if expected != 0 && expected != computed {
                            return Err(RdbError::Checksum { expected, computed });
                        }
                    }
                    return Ok(None);
                }
                opcodes::SELECTDB => {
                    self.db = usize::try_from(self.input.len()?)
                        .ok()
                        .filter(|&d| d <= u32::MAX as usize)
                        .ok_or(RdbError::Corrupt("database index out of range"))?;
                }
                opcodes::RESIZEDB => {
                    let keys = self.input.len()?;
                    let expires = self.input.len()?;
                    return Ok(Some(Item::ResizeDb { db: self.db, keys, expires }));
                }
                opcodes::AUX => {
                    let key = self.input.string()?;
                    let value = self.input.string()?;
                    return Ok(Some(Item::Aux { key, value }));
                }
                opcodes::FUNCTION2 => return Ok(Some(Item::Function(self.input.string()?))),
                _ => {
                    let key = self.input.string()?;
                    let value = match read_value(&mut self.input, t, &self.opts.limits) {
                        Err(RdbError::EmptyKey) => {
                            (expire_at, idle, freq) = (0, None, None);
                            continue;
                        }
                        v => v?,
                    };
                    let now = self.opts.now_ms;
                    let mut entry = Entry::new(&key, value, expire_at, now);
                    apply_usage(&mut entry, idle, freq, now);
                    return Ok(Some(Item::Entry { db: self.db, entry }));
                }
            }
        }
    }
}

impl<R: Read> Iterator for FileDecoder<R> {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// Sets an entry's access clock from an idle time in seconds and its LFU counter from a
/// frequency, as of `now` (Redis's `objectSetLRUOrLFU`).
pub fn apply_usage(e: &mut Entry, idle_secs: Option<u64>, freq: Option<u8>, now: u64) {
    if let Some(idle) = idle_secs {
        e.access = lru_clock(now.saturating_sub(idle.saturating_mul(1000)));
    }
    if let Some(f) = freq {
        e.lfu = Lfu::with_counter(f, now);
    }
}

/// Decodes one value of type `rdb_type` from the start of `data`: the value and the bytes
/// it took.
pub fn decode_value(rdb_type: u8, data: &[u8], limits: &Limits) -> Result<(Value, usize)> {
    let mut input = Input::new(data);
    let v = read_value(&mut input, rdb_type, limits)?;
    Ok((v, data.len() - input.into_inner().len()))
}

const NO_LIMIT: PackLimits = PackLimits { entries: usize::MAX, value: usize::MAX };

/// Reads a value of type `t` (`rdbLoadObject`).
pub(crate) fn read_value<R: Read>(input: &mut Input<R>, t: u8, limits: &Limits) -> Result<Value> {
    let v = match t {
        types::STRING => Value::Str(StrValue::from_input(&input.string()?)),
        types::LIST => {
            let n = nonzero(input.len()?)?;
            let mut l = List::new();
            for _ in 0..n {
                l.push_back(&input.string()?);
            }
            Value::List(Box::new(l))
        }
        types::SET => {
            let n = nonzero(input.len()?)?;
            let max = if n > limits.set_max_intset as u64 { 0 } else { limits.set_max_intset };
            let mut s = Set::new();
            for _ in 0..n {
                if !s.insert(&input.string()?, max) {
                    return Err(RdbError::Corrupt("duplicate set members"));
                }
            }
            Value::Set(Box::new(s))
        }
        types::ZSET | types::ZSET_2 => {
            let n = nonzero(input.len()?)?;
            let mut z = ZSet::new_sorted();
            let mut longest = 0;
            for _ in 0..n {
                let m = input.string()?;
                let score = if t == types::ZSET_2 { input.binary_double()? } else { input.text_double()? };
                if score.is_nan() {
                    return Err(RdbError::Corrupt("zset with a NaN score"));
                }
                longest = longest.max(m.len());
                if !z.insert(&m, score, NO_LIMIT) {
                    return Err(RdbError::Corrupt("duplicate zset members"));
                }
            }
            z.pack_if_fits(limits.zset);
            Value::ZSet(Box::new(z))
        }
        types::HASH => {
            let n = nonzero(input.len()?)?;
            let lim = if n > limits.hash.entries as u64 { PackLimits { entries: 0, ..limits.hash } } else { limits.hash };
            let mut h = Hash::new();
            for _ in 0..n {
                let f = input.string()?;
                let v = input.string()?;
                if !h.set(&f, &v, lim) {
                    return Err(RdbError::Corrupt("duplicate hash fields"));
                }
            }
            Value::Hash(Box::new(h))
        }
        types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
            let nodes = nonzero(input.len()?)?;
            let mut l = List::new();
            for _ in 0..nodes {
                let container = if t == types::LIST_QUICKLIST_2 { input.len()? } else { CONTAINER_PACKED };
                if container != CONTAINER_PACKED && container != CONTAINER_PLAIN {
                    return Err(RdbError::Corrupt("quicklist integrity check failed"));
                }
                let blob = input.string()?;
                if blob.is_empty() {
                    return Err(RdbError::Corrupt("empty quicklist node"));
                }
                if container == CONTAINER_PLAIN {
                    l.push_back(&blob);
                    continue;
                }
                let items = if t == types::LIST_QUICKLIST_2 { listpack::parse(&blob)? } else { ziplist::parse(&blob)? };
                items.iter().for_each(|e| l.push_back(&e.bytes()));
            }
            nonzero(l.len() as u64)?;
            Value::List(Box::new(l))
        }
        types::LIST_ZIPLIST => {
            let blob = input.string()?;
            let mut l = List::new();
            ziplist::parse(&blob)?.iter().for_each(|e| l.push_back(&e.bytes()));
            nonzero(l.len() as u64)?;
            Value::List(Box::new(l))
        }
        types::SET_INTSET => {
            let ints = intset::decode(&input.string()?)?;
            if ints.len() <= limits.set_max_intset {
                Value::Set(Box::new(Set::Ints(ints)))
            } else {
                let mut s = Set::new();
                for i in ints {
                    s.insert(itoa::Buffer::new().format(i).as_bytes(), 0);
                }
                Value::Set(Box::new(s))
            }
        }
        types::HASH_ZIPMAP => {
            let blob = input.string()?;
            let pairs = zipmap::parse(&blob)?;
            let mut h = Hash::new();
            for (f, v) in pairs {
                if !h.set(f, v, limits.hash) {
                    return Err(RdbError::Corrupt("duplicate hash fields"));
                }
            }
            nonzero(h.len() as u64)?;
            Value::Hash(Box::new(h))
        }
        types::HASH_ZIPLIST | types::HASH_LISTPACK => {
            let blob = input.string()?;
            let items = if t == types::HASH_LISTPACK { listpack::parse(&blob)? } else { ziplist::parse(&blob)? };
            Value::Hash(Box::new(hash_from_pairs(&items, limits.hash)?))
        }
        types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
            let blob = input.string()?;
            let items = if t == types::ZSET_LISTPACK { listpack::parse(&blob)? } else { ziplist::parse(&blob)? };
            Value::ZSet(Box::new(zset_from_pairs(&items, limits.zset)?))
        }
        _ => return Err(RdbError::UnsupportedType(t)),
    };
    Ok(v)
}

fn nonzero(n: u64) -> Result<u64> {
    if n == 0 {
        Err(RdbError::EmptyKey)
    } else {
        Ok(n)
    }
}

/// Splits packed elements into pairs, refusing an odd count, duplicate first halves and
/// emptiness.
fn pairs<'a>(items: &'a [Element<'a>]) -> Result<Vec<(std::borrow::Cow<'a, [u8]>, Element<'a>)>> {
    if !items.len().is_multiple_of(2) {
        return Err(RdbError::Corrupt("packed pairs with an odd count"));
    }
    nonzero(items.len() as u64)?;
    let mut seen = HashSet::with_capacity(items.len() / 2);
    let mut out = Vec::with_capacity(items.len() / 2);
    for p in items.chunks_exact(2) {
        let k = p[0].bytes();
        if !seen.insert(k.clone()) {
            return Err(RdbError::Corrupt("duplicate fields in packed pairs"));
        }
        out.push((k, p[1]));
    }
    Ok(out)
}

/// A hash from packed field/value pairs: packed as they come unless there are more than
/// `limits.entries` of them (what Redis checks after a load).
fn hash_from_pairs(items: &[Element<'_>], limits: PackLimits) -> Result<Hash> {
    let pairs = pairs(items)?;
    if pairs.len() > limits.entries {
        let mut h = Hash::new();
        let table = PackLimits { entries: 0, ..limits };
        for (f, v) in &pairs {
            h.set(f, &v.bytes(), table);
        }
        return Ok(h);
    }
    let mut p = Packed::new();
    for (f, v) in &pairs {
        p.push(f);
        p.push(&v.bytes());
    }
    Ok(Hash::Packed(p))
}

/// A sorted set from packed member/score pairs: packed (in score order) unless there are more
/// than `limits.entries` of them.
fn zset_from_pairs(items: &[Element<'_>], limits: PackLimits) -> Result<ZSet> {
    let mut scored = Vec::with_capacity(items.len() / 2);
    for (m, s) in pairs(items)? {
        let score = match s {
            Element::Int(i) => i as f64,
            Element::Str(t) => crate::num::parse_f64_bound(t).ok_or(RdbError::Corrupt("bad score in a packed zset"))?,
        };
        scored.push((score, m));
    }
    if scored.len() > limits.entries {
        let mut z = ZSet::new_sorted();
        for (s, m) in &scored {
            z.insert(m, *s, NO_LIMIT);
        }
        return Ok(z);
    }
    scored.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.cmp(&b.1)));
    let mut p = Packed::new();
    for (s, m) in &scored {
        p.push(m);
        p.push(&s.to_le_bytes());
    }
    Ok(ZSet::Packed(p))
}
