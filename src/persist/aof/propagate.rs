//! What a write is logged as: the command itself when replaying it gives the same data, else
//! its effect, as Redis's propagation rewrites (`EXPIRE` as `PEXPIREAT`, `SPOP` as `SREM`,
//! a served `BLPOP` as `LPOP`...). Pure: commands become RESP in a [`Chunk`], no I/O.

use bytes::Bytes;

use crate::protocol::{encode_command, Reply};
use crate::store::{Entry, Store};

/// Commands in RESP, each for a database: `dbs` marks from which byte offset on the
/// commands are for which database (the writer puts a SELECT where the file's changes).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The commands, back to back.
    pub bytes: Vec<u8>,
    /// (offset into `bytes`, database) where the database changes; the first at offset 0.
    pub dbs: Vec<(usize, usize)>,
}

impl Chunk {
    /// Whether it holds no command.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends one command for database `db`.
    pub fn command<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        if self.dbs.last().map(|&(_, d)| d) != Some(db) {
            self.dbs.push((self.bytes.len(), db));
        }
        encode_command(args, &mut self.bytes);
    }

    /// Appends the commands of `other`, each in its database.
    pub fn append(&mut self, other: &Chunk) {
        for (db, bytes) in other.segments() {
            if self.dbs.last().map(|&(_, d)| d) != Some(db) {
                self.dbs.push((self.bytes.len(), db));
            }
            self.bytes.extend_from_slice(bytes);
        }
    }

    /// The database of its first command.
    pub fn first_db(&self) -> Option<usize> {
        self.dbs.first().map(|&(_, d)| d)
    }

    /// The database of its last command.
    pub fn last_db(&self) -> Option<usize> {
        self.dbs.last().map(|&(_, d)| d)
    }

    /// The commands grouped by database, in order: (database, RESP bytes).
    pub fn segments(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        self.dbs.iter().enumerate().map(|(i, &(at, db))| {
            let end = self.dbs.get(i + 1).map_or(self.bytes.len(), |&(e, _)| e);
            (db, &self.bytes[at..end])
        })
    }
}

/// The state of `key` after a command that changed only its time to live (or removed it):
/// `PEXPIREAT key <abs ms>`, `PERSIST key`, or `DEL key`.
fn expiry_effect(chunk: &mut Chunk, db: usize, key: &[u8], e: Option<&Entry>) {
    match e {
        Some(e) if e.expire_at != 0 => chunk.command(db, &[&b"PEXPIREAT"[..], key, itoa::Buffer::new().format(e.expire_at).as_bytes()]),
        Some(_) => chunk.command(db, &[&b"PERSIST"[..], key]),
        None => chunk.command(db, &[&b"DEL"[..], key]),
    }
}

/// The bulk strings of a reply (a bulk, or an array of bulks).
fn bulks(r: &Reply) -> Vec<&Bytes> {
    match r {
        Reply::Bulk(b) => vec![b],
        Reply::Array(v) | Reply::Set(v) => v.iter().flat_map(bulks).collect(),
        _ => Vec::new(),
    }
}

/// `[key, [elements...]]` of LMPOP/ZMPOP: the key and how many came out.
fn mpop_reply(r: &Reply) -> Option<(&Bytes, usize)> {
    match r {
        Reply::Array(v) if v.len() == 2 => match (&v[0], &v[1]) {
            (Reply::Bulk(k), Reply::Array(items)) => Some((k, items.len())),
            _ => None,
        },
        Reply::Map(pairs) if pairs.len() == 1 => match &pairs[0] {
            (Reply::Bulk(k), Reply::Array(items)) => Some((k, items.len())),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `args` name one of `words` (case-insensitively) from position `from` on.
fn has_word(args: &[Bytes], from: usize, word: &str) -> bool {
    args.iter().skip(from).any(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// Logs a write command that changed data on this shard, run in database `db` with `args`
/// and answered `reply`; `store` is the shard's data after it (for times to live).
pub fn log_write(chunk: &mut Chunk, store: &mut Store, db: usize, args: &[Bytes], reply: &Reply) {
    let name = args[0].to_ascii_uppercase();
    let key = args.get(1);
    let stored = |store: &mut Store, k: &[u8]| store.db(db).peek_stored(k).cloned();
    match name.as_slice() {
        // Times to live: the absolute result, never a time relative to the replay.
        b"EXPIRE" | b"PEXPIRE" | b"EXPIREAT" | b"PEXPIREAT" | b"GETEX" => {
            let Some(k) = key else { return };
            let e = stored(store, k);
            expiry_effect(chunk, db, k, e.as_ref());
        }
        b"SET" | b"SETEX" | b"PSETEX" | b"RESTORE" => {
            chunk.command(db, args);
            let relative = match name.as_slice() {
                b"SET" => ["EX", "PX", "EXAT"].iter().any(|w| has_word(args, 3, w)),
                b"RESTORE" => !has_word(args, 4, "ABSTTL") && args.get(2).is_some_and(|t| &t[..] != b"0"),
                _ => true,
            };
            if let (true, Some(k)) = (relative, key) {
                if let Some(e) = stored(store, k).filter(|e| e.expire_at != 0) {
                    expiry_effect(chunk, db, k, Some(&e));
                }
            }
        }
        // Random choices: what was chosen.
        b"SPOP" => {
            let Some(k) = key else { return };
            let members = bulks(reply);
            if !members.is_empty() {
                let mut cmd: Vec<&[u8]> = vec![b"SREM", k];
                cmd.extend(members.iter().map(|m| &m[..]));
                chunk.command(db, &cmd);
            }
        }
        // Blocking pops served: the plain pop of the key served.
        b"BLPOP" | b"BRPOP" => {
            if let Reply::Array(v) = reply {
                if let Some(Reply::Bulk(k)) = v.first() {
                    let pop: &[u8] = if name == b"BLPOP" { b"LPOP" } else { b"RPOP" };
                    chunk.command(db, &[pop, k]);
                }
            }
        }
        b"BZPOPMIN" | b"BZPOPMAX" => {
            if let Reply::Array(v) = reply {
                if let Some(Reply::Bulk(k)) = v.first() {
                    let pop: &[u8] = if name == b"BZPOPMIN" { b"ZPOPMIN" } else { b"ZPOPMAX" };
                    chunk.command(db, &[pop, k]);
                }
            }
        }
        b"BRPOPLPUSH" if args.len() >= 3 => chunk.command(db, &[&b"RPOPLPUSH"[..], &args[1], &args[2]]),
        b"BLMOVE" if args.len() >= 5 => chunk.command(db, &[&b"LMOVE"[..], &args[1], &args[2], &args[3], &args[4]]),
        b"LMPOP" | b"BLMPOP" | b"ZMPOP" | b"BZMPOP" => {
            let Some((k, n)) = mpop_reply(reply) else { return };
            let first = if name.starts_with(b"B") { 3 } else { 2 };
            let pop: &[u8] = match (name.ends_with(b"LMPOP"), has_word(args, first, "LEFT") || has_word(args, first, "MIN")) {
                (true, true) => b"LPOP",
                (true, false) => b"RPOP",
                (false, true) => b"ZPOPMIN",
                (false, false) => b"ZPOPMAX",
            };
            chunk.command(db, &[pop, k, itoa::Buffer::new().format(n).as_bytes()]);
        }
        _ => chunk.command(db, args),
    }
}

/// A key's state written back by a command run over several shards' keys: `RESTORE ...
/// REPLACE ABSTTL` of its value, or `DEL` when it is gone.
pub fn log_state(chunk: &mut Chunk, db: usize, key: &[u8], e: Option<&Entry>, opts: &crate::persist::rdb::EncodeOptions) {
    match e {
        Some(e) => {
            let payload = crate::persist::rdb::payload::dump(&e.value, opts);
            let ttl = itoa::Buffer::new().format(e.expire_at).to_string();
            chunk.command(db, &[&b"RESTORE"[..], key, ttl.as_bytes(), &payload, b"REPLACE", b"ABSTTL"]);
        }
        None => chunk.command(db, &[&b"DEL"[..], key]),
    }
}

/// Commands per key of a rewrite in command form at most (Redis's
/// `AOF_REWRITE_ITEMS_PER_CMD`).
const ITEMS_PER_CMD: usize = 64;

/// A key as the commands that rebuild it, as Redis's AOF rewrite writes them when
/// `aof-use-rdb-preamble` is off: SET, RPUSH, SADD, HMSET or ZADD (64 items a command), then
/// PEXPIREAT when it has a time to live. Appended to `out` (no SELECT).
pub fn rewrite_entry(out: &mut Vec<u8>, e: &Entry) {
    use crate::store::Value;
    let key: &[u8] = &e.key;
    let mut batch = |name: &[u8], items: &mut dyn Iterator<Item = Vec<u8>>, per_item: usize| loop {
        let mut cmd: Vec<Vec<u8>> = vec![name.to_vec(), key.to_vec()];
        cmd.extend(items.take(ITEMS_PER_CMD * per_item));
        if cmd.len() == 2 {
            break;
        }
        encode_command(&cmd, out);
        if cmd.len() < 2 + ITEMS_PER_CMD * per_item {
            break;
        }
    };
    match &e.value {
        Value::Str(s) => encode_command(&[&b"SET"[..], key, &s.to_bytes()], out),
        Value::List(l) => batch(b"RPUSH", &mut l.iter().map(<[u8]>::to_vec), 1),
        Value::Set(s) => batch(b"SADD", &mut s.iter().map(|m| m.into_owned()), 1),
        Value::Hash(h) => batch(b"HMSET", &mut h.iter().flat_map(|(f, v)| [f.to_vec(), v.to_vec()]), 2),
        Value::ZSet(z) => batch(
            b"ZADD",
            &mut z.iter_from(0, false).flat_map(|(score, m)| [crate::num::format_f64(score).into_bytes(), m.into_owned()]),
            2,
        ),
    }
    if e.expire_at != 0 {
        encode_command(&[&b"PEXPIREAT"[..], key, itoa::Buffer::new().format(e.expire_at).as_bytes()], out);
    }
}

/// Keys removed by expiry or eviction, as DEL (Redis propagates them so).
pub fn log_removed(chunk: &mut Chunk, removed: &[(usize, Box<[u8]>)]) {
    for (db, key) in removed {
        chunk.command(*db, &[&b"DEL"[..], key]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    fn text(c: &Chunk) -> String {
        String::from_utf8_lossy(&c.bytes).replace("\r\n", " ")
    }

    #[test]
    fn segments_follow_database_changes() {
        let mut c = Chunk::default();
        c.command(0, &args("SET a 1"));
        c.command(0, &args("SET b 2"));
        c.command(3, &args("DEL a"));
        let segs: Vec<(usize, usize)> = c.segments().map(|(d, b)| (d, b.len())).collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].0, 0);
        assert_eq!(segs[1].0, 3);
        assert_eq!(segs[0].1 + segs[1].1, c.bytes.len());
    }

    #[test]
    fn relative_times_become_absolute_and_random_choices_concrete() {
        let mut st = Store::new(16, 1000);
        st.db(0).insert_entry(Entry::new(b"k", crate::store::Value::Str(crate::store::StrValue::from_bytes(b"v")), 5000, 1000), 1000);
        let mut c = Chunk::default();
        log_write(&mut c, &mut st, 0, &args("EXPIRE k 4"), &Reply::Int(1));
        assert_eq!(text(&c), "*3 $9 PEXPIREAT $1 k $4 5000 ");
        let mut c = Chunk::default();
        log_write(&mut c, &mut st, 0, &args("SET k v EX 4"), &Reply::OK);
        assert_eq!(text(&c), "*5 $3 SET $1 k $1 v $2 EX $1 4 *3 $9 PEXPIREAT $1 k $4 5000 ");
        let mut c = Chunk::default();
        log_write(&mut c, &mut st, 0, &args("SPOP s 2"), &Reply::Array(vec![Reply::Bulk("a".into()), Reply::Bulk("b".into())]));
        assert_eq!(text(&c), "*4 $4 SREM $1 s $1 a $1 b ");
        let mut c = Chunk::default();
        let r = Reply::Array(vec![Reply::Bulk("l".into()), Reply::Array(vec![Reply::Bulk("x".into()), Reply::Bulk("y".into())])]);
        log_write(&mut c, &mut st, 0, &args("BLMPOP 0 2 m l RIGHT COUNT 5"), &r);
        assert_eq!(text(&c), "*3 $4 RPOP $1 l $1 2 ");
        let mut c = Chunk::default();
        log_write(&mut c, &mut st, 0, &args("EXPIRE gone 4"), &Reply::Int(1));
        assert_eq!(text(&c), "*2 $3 DEL $4 gone ");
    }
}
