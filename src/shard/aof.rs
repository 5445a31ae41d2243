//! A shard's side of the append-only file: the writes it runs are logged into one chunk,
//! which the shard appends to the current incremental file in one `write` before the
//! replies of those writes leave (the end of a connection's batch, of a remote job run, of
//! a call) or, for background work (expiry, eviction), at its flusher's next turn (see
//! [`crate::persist::aof::writer`]). Costs plain GET/SET one branch while the AOF is off.
//!
//! Work that is atomic over several shards (a transaction, a script, a multi-key command)
//! must replay all or nothing after a crash. Each shard *captures* what such work logs (by
//! the id of the client running it) instead of putting it in its chunk, and hands the part
//! over when its share is done ([`ShardLocal::aof_capture_end`]); the coordinating shard
//! then writes every part as one MULTI/EXEC block in one `write` ([`ShardLocal::aof_commit`]),
//! while the work still holds its keys. A crash leaves the whole block or an unfinished
//! MULTI, which loading cuts off.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::Bytes;

use super::ShardLocal;
use crate::persist::aof::propagate::{self, Chunk};
use crate::persist::aof::writer::{AofFile, Fsync};
use crate::protocol::{encode_command, Reply};
use crate::store::{Entry, Store};

/// The AOF state of one shard.
#[derive(Debug, Default)]
pub struct ShardAof {
    file: Option<Arc<AofFile>>,
    chunk: Chunk,
    /// Atomic work being captured here: (client or work id, what it logged).
    captures: Vec<(u64, Chunk)>,
    /// The bytes of one write, reused.
    out: Vec<u8>,
}

impl ShardLocal {
    /// Whether this shard logs its writes.
    #[inline]
    pub fn aof_on(&self) -> bool {
        self.aof_on.get()
    }

    /// Writes what is logged to the file it was logged for, then logs into `file` from now
    /// on (`None`: stops logging).
    pub fn aof_attach(&self, file: Option<Arc<AofFile>>) {
        self.aof_write_now();
        self.aof_on.set(file.is_some());
        self.store.borrow().signals.set_log_removals(file.is_some());
        let mut a = self.aof.borrow_mut();
        a.chunk = Chunk::default();
        a.file = file;
    }

    /// Logs what the command just run here did: keys expired or evicted on the way (as DEL),
    /// then the write itself when `changed` data.
    pub(super) fn aof_log_command(&self, store: &mut Store, db: usize, args: &[Bytes], reply: &Reply, changed: bool, client: u64) {
        let removed = store.signals.take_removed();
        if removed.is_empty() && !changed {
            return;
        }
        let mut guard = self.aof.borrow_mut();
        let a = &mut *guard;
        let chunk = match a.captures.iter_mut().find(|(c, _)| *c == client) {
            Some((_, captured)) => captured,
            None => &mut a.chunk,
        };
        propagate::log_removed(chunk, &removed);
        if changed {
            propagate::log_write(chunk, store, db, args, reply);
        }
        drop(guard);
        self.wake_flusher();
    }

    /// Starts capturing what `client`'s atomic work logs here (what was logged before is
    /// written first, so it stays ahead of the block).
    pub fn aof_capture_begin(&self, client: u64) {
        if !self.aof_on() {
            return;
        }
        self.aof_write_now();
        let mut a = self.aof.borrow_mut();
        if !a.captures.iter().any(|(c, _)| *c == client) {
            a.captures.push((client, Chunk::default()));
        }
    }

    /// Ends the capture for `client` here and hands what it logged to the coordinator.
    pub fn aof_capture_end(&self, client: u64) {
        let part = {
            let mut a = self.aof.borrow_mut();
            let Some(i) = a.captures.iter().position(|(c, _)| *c == client) else { return };
            a.captures.swap_remove(i).1
        };
        self.aof_hand_over(client, part);
    }

    /// Hands a part of `client`'s atomic work to the coordinator.
    fn aof_hand_over(&self, client: u64, part: Chunk) {
        if !part.is_empty() {
            self.shared.aof.parts.lock().expect("aof parts lock").entry(client).or_default().push(part);
        }
    }

    /// On the coordinating shard, once every shard's part is handed over (and the keys are
    /// still held): writes all parts of `client`'s atomic work as one MULTI/EXEC block.
    pub fn aof_commit(&self, client: u64) {
        self.aof_capture_end(client);
        let Some(parts) = self.shared.aof.parts.lock().expect("aof parts lock").remove(&client) else { return };
        if !self.aof_on() {
            return;
        }
        let first = parts.iter().find_map(Chunk::first_db).unwrap_or(0);
        let mut a = self.aof.borrow_mut();
        a.chunk.command(first, &[&b"MULTI"[..]]);
        for p in &parts {
            a.chunk.append(p);
        }
        let last = a.chunk.last_db().unwrap_or(first);
        a.chunk.command(last, &[&b"EXEC"[..]]);
        drop(a);
        self.aof_write_now();
    }

    /// Logs keys expired or evicted outside a command (active expiry, eviction).
    pub fn aof_log_removed(&self) {
        if !self.aof_on() {
            return;
        }
        let removed = self.store.borrow().signals.take_removed();
        if !removed.is_empty() {
            propagate::log_removed(&mut self.aof.borrow_mut().chunk, &removed);
            self.wake_flusher();
        }
    }

    /// Logs the state keys were given by a command run over several shards' keys, as a part
    /// of atomic work `work` (see [`ShardLocal::aof_commit`]).
    pub fn aof_log_states(&self, work: u64, states: &[(usize, Bytes, Option<Entry>)]) {
        if !self.aof_on() || states.is_empty() {
            return;
        }
        self.aof_log_removed();
        self.aof_write_now();
        let opts = crate::persist::rdb::EncodeOptions::from_config(&self.shared.config, crate::store::now_ms());
        let mut part = Chunk::default();
        for (db, key, e) in states {
            propagate::log_state(&mut part, *db, key, e.as_ref(), &opts);
        }
        self.aof_hand_over(work, part);
    }

    /// Logs a command as it is (FLUSHALL, SWAPDB...), in database `db`.
    pub fn aof_log_raw(&self, db: usize, args: &[Bytes]) {
        if !self.aof_on() {
            return;
        }
        self.aof_log_removed();
        self.aof.borrow_mut().chunk.command(db, args);
    }

    /// Appends what was logged to the file, in one `write` that starts with a SELECT.
    pub fn aof_write_now(&self) {
        if !self.aof_on() {
            return;
        }
        let mut guard = self.aof.borrow_mut();
        let a = &mut *guard;
        if a.chunk.is_empty() {
            return;
        }
        let Some(file) = a.file.clone() else { return };
        a.out.clear();
        let aof = &self.shared.aof;
        if self.shared.config.flag(crate::config::P::AofTimestampEnabled) {
            let secs = crate::store::now_ms() / 1000;
            if aof.last_ts.fetch_max(secs, Relaxed) < secs {
                a.out.extend_from_slice(format!("#TS:{secs}\r\n").as_bytes());
            }
        }
        for (db, bytes) in a.chunk.segments() {
            encode_command(&[&b"SELECT"[..], itoa::Buffer::new().format(db).as_bytes()], &mut a.out);
            a.out.extend_from_slice(bytes);
        }
        a.chunk.bytes.clear();
        a.chunk.dbs.clear();
        let always = Fsync::from_config(&self.shared.config) == Fsync::Always;
        let sleep = aof.flush_sleep_us.load(Relaxed);
        if sleep > 0 {
            std::thread::sleep(std::time::Duration::from_micros(sleep));
        }
        file.append(&a.out, aof, always);
        if a.out.capacity() > 1 << 20 {
            a.out = Vec::new();
        }
    }
}
