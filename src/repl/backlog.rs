//! The replication stream: one ordered byte stream, its history kept for partial resyncs
//! (`repl-backlog-size`) and for the replicas still sending it.
//!
//! Offsets are Redis's: `end` is `master_repl_offset`, the count of bytes ever produced;
//! the buffer holds bytes `start..end`, so INFO's `repl_backlog_first_byte_offset` is
//! `start + 1`. A reader (a replica's feeder) is at the count of bytes it has taken.

use std::collections::VecDeque;

use crate::protocol::encode_command;

/// A replica's place in the stream.
#[derive(Debug)]
struct Reader {
    id: u64,
    /// Bytes of the stream taken so far.
    pos: i64,
}

/// The stream and its backlog.
#[derive(Debug, Default)]
pub struct Stream {
    buf: VecDeque<u8>,
    start: i64,
    end: i64,
    /// The backlog exists (`repl_backlog_active`): the shards feed the stream.
    pub active: bool,
    /// The database the stream's commands apply to now (None: the next needs a SELECT).
    pub sel_db: Option<usize>,
    readers: Vec<Reader>,
    /// Feeders waiting for bytes.
    pub sleeping: usize,
    select: Vec<u8>,
}

impl Stream {
    /// `master_repl_offset`.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// The offset before the oldest byte kept.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// Bytes of history kept (`repl_backlog_histlen`).
    pub fn histlen(&self) -> i64 {
        self.end - self.start
    }

    /// Starts (or restarts) the stream at `offset` with no history: a new master's first
    /// replica, or a replica that loaded its master's snapshot taken at `offset`.
    pub fn reset(&mut self, offset: i64) {
        self.buf.clear();
        self.start = offset;
        self.end = offset;
        self.active = true;
        self.sel_db = None;
    }

    /// Appends `bytes`, commands that apply to database `db`, after a SELECT if needed.
    pub fn append_in(&mut self, db: usize, bytes: &[u8]) {
        if self.sel_db != Some(db) {
            let mut sel = std::mem::take(&mut self.select);
            sel.clear();
            encode_command(&[&b"SELECT"[..], itoa::Buffer::new().format(db).as_bytes()], &mut sel);
            self.append(&sel);
            self.select = sel;
            self.sel_db = Some(db);
        }
        self.append(bytes);
    }

    /// Appends `bytes` as they are.
    pub fn append(&mut self, bytes: &[u8]) {
        self.buf.extend(bytes);
        self.end += bytes.len() as i64;
    }

    /// Drops history older than both `keep` bytes and what every reader still needs; a
    /// reader more than `hard_limit` bytes behind (0: no limit) is dropped instead of held.
    /// Returns the ids of the readers dropped.
    pub fn trim(&mut self, keep: u64, hard_limit: u64) -> Vec<u64> {
        let mut dropped = Vec::new();
        if hard_limit > 0 {
            let end = self.end;
            self.readers.retain(|r| {
                let keep = ((end - r.pos) as u64) <= hard_limit;
                if !keep {
                    dropped.push(r.id);
                }
                keep
            });
        }
        let mut new_start = self.end - keep as i64;
        if let Some(min) = self.readers.iter().map(|r| r.pos).min() {
            new_start = new_start.min(min);
        }
        if new_start > self.start {
            let n = (new_start - self.start) as usize;
            self.buf.drain(..n);
            self.start = new_start;
        }
        dropped
    }

    /// Whether bytes from offset `pos` on are all still here.
    pub fn has_from(&self, pos: i64) -> bool {
        self.active && pos >= self.start && pos <= self.end
    }

    /// Adds reader `id` at `pos` (bytes taken so far).
    pub fn add_reader(&mut self, id: u64, pos: i64) {
        self.readers.retain(|r| r.id != id);
        self.readers.push(Reader { id, pos });
    }

    /// Removes reader `id`.
    pub fn remove_reader(&mut self, id: u64) {
        self.readers.retain(|r| r.id != id);
    }

    /// Moves up to `max` bytes for reader `id` into `out`. `None`: the reader is gone
    /// (dropped for its output limit, or removed); `Some(0)`: nothing new.
    pub fn take(&mut self, id: u64, out: &mut Vec<u8>, max: usize) -> Option<usize> {
        let r = self.readers.iter_mut().find(|r| r.id == id)?;
        let from = (r.pos - self.start) as usize;
        let n = ((self.end - r.pos) as usize).min(max);
        let (a, b) = self.buf.as_slices();
        if from + n <= a.len() {
            out.extend_from_slice(&a[from..from + n]);
        } else if from >= a.len() {
            out.extend_from_slice(&b[from - a.len()..from - a.len() + n]);
        } else {
            out.extend_from_slice(&a[from..]);
            out.extend_from_slice(&b[..from + n - a.len()]);
        }
        r.pos += n as i64;
        Some(n)
    }

    /// How far behind the end reader `id` is (bytes not yet taken).
    pub fn behind(&self, id: u64) -> Option<i64> {
        self.readers.iter().find(|r| r.id == id).map(|r| self.end - r.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_once_per_database_change_and_keeps_what_readers_need() {
        let mut s = Stream::default();
        s.reset(100);
        s.append_in(0, b"A");
        s.append_in(0, b"B");
        s.append_in(3, b"C");
        let sel0 = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n".len() as i64;
        assert_eq!(s.end(), 100 + 2 * sel0 + 3);
        s.add_reader(7, 100);
        assert!(s.trim(1, 0).is_empty());
        assert_eq!(s.start(), 100, "a reader at the start holds the history");
        let mut out = Vec::new();
        assert_eq!(s.take(7, &mut out, 1 << 20), Some(s.histlen() as usize));
        assert!(out.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\nAB*2"));
        assert!(out.ends_with(b"3\r\nC"));
        s.trim(1, 0);
        assert_eq!(s.histlen(), 1);
        assert!(s.has_from(s.end() - 1) && !s.has_from(s.end() - 2));
        assert_eq!(s.take(7, &mut out, 10), Some(0));
    }

    #[test]
    fn a_reader_past_the_hard_limit_is_dropped() {
        let mut s = Stream::default();
        s.reset(0);
        s.add_reader(1, 0);
        s.add_reader(2, 0);
        s.append(&[b'x'; 100]);
        let mut out = Vec::new();
        s.take(2, &mut out, 1000);
        assert_eq!(s.trim(10, 50), vec![1]);
        assert_eq!(s.take(1, &mut out, 10), None);
        assert_eq!(s.histlen(), 10);
    }
}
