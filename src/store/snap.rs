//! A point-in-time snapshot of a database taken without fork, while the shard keeps serving:
//! the store's half of `persist::snapshot`.
//!
//! Every entry carries a mark bit ([`Entry::snap_mark`]); a database has a phase bit. Outside
//! snapshots every entry's mark equals the phase (new entries are stamped with it). Beginning
//! a snapshot flips the phase, so every entry is "not yet written". The snapshot then walks
//! the table with the SCAN cursor (which visits every element present for the whole walk at
//! least once, across resizes), hands each unwritten entry to the writer and marks it. Before
//! anything changes or removes an unwritten entry, the database first saves a copy of it as
//! it was ([`SnapView::preserve`]) for the writer to take next. Entries created after the
//! snapshot began carry the new phase and are never written. So the image is the database
//! as it was at the instant the phase flipped, and only entries changed during the walk are
//! copied: memory grows by what is written to meanwhile, not by the dataset.

use super::dict::Dict;
use super::value::Entry;

/// A snapshot's progress through one database.
#[derive(Debug)]
pub(super) struct SnapView {
    /// The phase written entries carry.
    phase: bool,
    /// The SCAN cursor of the walk.
    cursor: u64,
    /// Copies of entries saved before a change, for the writer.
    pending: Vec<Entry>,
    /// The table FLUSHDB/FLUSHALL took away during the walk: the walk goes on over it.
    flushed: Option<Dict<Entry>>,
}

impl SnapView {
    /// A walk that begins now, in `phase`.
    pub fn new(phase: bool) -> Self {
        SnapView { phase, cursor: 0, pending: Vec::new(), flushed: None }
    }

    /// Called before `e` changes or goes: keeps a copy of it as it was when the snapshot
    /// began, unless it is already written or newer. Returns the estimated bytes copied.
    #[inline]
    pub fn preserve(&mut self, e: &mut Entry) -> usize {
        if e.snap_mark() == self.phase {
            return 0;
        }
        e.set_snap_mark(self.phase);
        // Expired keys not yet removed are written too, as Redis writes them: loading
        // skips and counts them (INFO's rdb_last_load_keys_expired).
        self.pending.push(e.clone());
        e.memory_usage(16)
    }

    /// Takes a table being flushed: the walk finishes over it. Returns false when the walk
    /// already holds one (then every entry of `dict` is newer than the snapshot).
    pub fn take_flushed(&mut self, dict: &mut Dict<Entry>) -> bool {
        if self.flushed.is_some() {
            return false;
        }
        self.flushed = Some(std::mem::take(dict));
        true
    }

    /// One step of the walk: hands the saved copies, then the unwritten entries of up to
    /// `buckets` buckets, to `f`. Returns true when the walk is complete.
    pub fn step(&mut self, dict: &mut Dict<Entry>, buckets: usize, f: &mut dyn FnMut(&Entry)) -> bool {
        for e in self.pending.drain(..) {
            f(&e);
        }
        let phase = self.phase;
        let table = self.flushed.as_mut().unwrap_or(dict);
        for _ in 0..buckets {
            self.cursor = table.scan_mut(self.cursor, |e| {
                if e.snap_mark() != phase {
                    e.set_snap_mark(phase);
                    f(e);
                }
            });
            if self.cursor == 0 {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Expiry, Store, StrValue, Value};

    fn s(v: &str) -> Value {
        Value::Str(StrValue::from_input(v.as_bytes()))
    }

    fn walk(st: &mut Store) -> Vec<(usize, String, String)> {
        let mut out = Vec::new();
        while !st.snapshot_step(1, &mut |db, e| {
            let v = e.value.as_str().map(|v| String::from_utf8_lossy(&v.as_bytes()).into_owned()).unwrap_or_default();
            out.push((db, String::from_utf8_lossy(&e.key).into_owned(), v));
        }) {}
        out.sort();
        out
    }

    /// The image is the data at the instant the snapshot began, whatever happens meanwhile.
    #[test]
    fn a_snapshot_sees_the_data_as_it_was_when_it_began() {
        let now = 1_000_000;
        let mut st = Store::new(2, now);
        for i in 0..200 {
            st.db(0).set(format!("k{i}").as_bytes(), s("old"), Expiry::Clear, now);
        }
        st.db(1).set(b"other", s("1"), Expiry::Clear, now);
        st.snapshot_begin();
        // Changes during the walk: overwrite, delete, create, expire, flush, swap.
        let mut images = Vec::new();
        let mut step = 0;
        let done = loop {
            let mut got = Vec::new();
            let done = st.snapshot_step(2, &mut |db, e| got.push((db, e.key.to_vec())));
            images.extend(got);
            if done {
                break true;
            }
            step += 1;
            match step {
                1 => st.db(0).set(b"k5", s("new"), Expiry::Clear, now),
                2 => {
                    st.db(0).remove(b"k7", now);
                }
                3 => st.db(0).set(b"fresh", s("x"), Expiry::Clear, now),
                4 => {
                    st.db(0).set_expire(b"k9", now + 10, now);
                }
                5 => st.db(1).clear(),
                _ => {}
            }
        };
        assert!(done);
        let mut keys: Vec<(usize, Vec<u8>)> = images;
        keys.sort();
        let mut want: Vec<(usize, Vec<u8>)> = (0..200).map(|i| (0, format!("k{i}").into_bytes())).collect();
        want.push((1, b"other".to_vec()));
        want.sort();
        assert_eq!(keys, want, "every old key once, no new key");
        // A second snapshot sees the current data.
        st.snapshot_begin();
        let second = walk(&mut st);
        assert!(second.iter().any(|(db, k, v)| *db == 0 && k == "k5" && v == "new"));
        assert!(second.iter().any(|(_, k, _)| k == "fresh"));
        assert!(!second.iter().any(|(_, k, _)| k == "k7" || k == "other"));
        assert_eq!(second.len(), 200);
    }

    #[test]
    fn copies_keep_the_old_values() {
        let now = 1_000_000;
        let mut st = Store::new(1, now);
        for i in 0..64 {
            st.db(0).set(format!("k{i}").as_bytes(), s("old"), Expiry::Clear, now);
        }
        st.snapshot_begin();
        for i in 0..64 {
            st.db(0).set(format!("k{i}").as_bytes(), s("new"), Expiry::Clear, now);
        }
        st.db(0).set(b"a", s("1"), Expiry::Clear, now);
        st.db(0).set(b"b", s("2"), Expiry::Clear, now);
        let image = walk(&mut st);
        assert_eq!(image.len(), 64);
        assert!(image.iter().all(|(_, _, v)| v == "old"));
    }
}
