//! Redis 7's multi-part append-only file: the manifest that lists the base and incremental
//! files of `appenddirname` ([`manifest`]), the command stream of an AOF file ([`reader`]),
//! what a write is logged as ([`propagate`]), the current incremental file the shards append
//! to and its fsyncs ([`writer`]), loading at start-up ([`load`]),
//! and rewrites (BGREWRITEAOF: a forkless snapshot as the new base, [`rewrite`]).

pub mod load;
pub mod manifest;
pub mod propagate;
pub mod reader;
pub mod rewrite;
pub mod writer;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// The AOF's state shared by the shards, the writer and INFO.
#[derive(Debug, Default)]
pub struct AofState {
    /// The AOF is on: shards log their writes.
    pub enabled: AtomicBool,
    /// The current incremental file, while the AOF is on.
    pub file: Mutex<Option<std::sync::Arc<writer::AofFile>>>,
    /// Bytes in the current incremental file.
    pub incr_size: AtomicU64,
    /// Bytes of the base file.
    pub base_size: AtomicU64,
    /// The last write to the file succeeded (`aof_last_write_status`).
    pub last_write_ok: AtomicBool,
    /// A rewrite is under way.
    pub rewrite_in_progress: AtomicBool,
    /// The rewrite under way turns the AOF on (`appendonly yes` at run time).
    pub turning_on: AtomicBool,
    /// A rewrite was asked for while a snapshot ran.
    pub rewrite_scheduled: AtomicBool,
    /// The last rewrite failed (`aof_last_bgrewrite_status:err`).
    pub last_rewrite_failed: AtomicBool,
    /// Seconds the last rewrite took (-1: none yet).
    pub last_rewrite_secs: AtomicI64,
    /// Unix ms the current rewrite began (0: none).
    pub rewrite_started_ms: AtomicU64,
    /// Rewrites done since start (`aof_rewrites`).
    pub rewrites: AtomicU64,
    /// Rewrites that failed since the last one that succeeded.
    pub consecutive_failures: AtomicU64,
    /// The manifest as last persisted.
    pub manifest: Mutex<manifest::Manifest>,
    /// Unix seconds of the last `#TS:` annotation written (`aof-timestamp-enabled`).
    pub last_ts: AtomicU64,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds to sleep before each write (tests).
    pub flush_sleep_us: AtomicU64,
    /// The parts of atomic work over several shards (a transaction, a script, a multi-key
    /// command) logged by each shard, by the client (or id) that runs it, until the shard
    /// that coordinates it writes them as one MULTI/EXEC block.
    pub parts: Mutex<ahash::AHashMap<u64, Vec<propagate::Chunk>>>,
    /// Ids for atomic work that has no client (above every client id).
    next_work: AtomicU64,
}

impl AofState {
    /// A new state: nothing written yet, no rewrite.
    pub fn new() -> Self {
        let s = AofState::default();
        s.last_write_ok.store(true, Relaxed);
        s.last_rewrite_secs.store(-1, Relaxed);
        s
    }

    /// INFO persistence's AOF fields, as Redis 7.0 prints them (the sizes only while on).
    pub fn info_fields(&self, out: &mut String) {
        use std::fmt::Write;
        let on = self.enabled.load(Relaxed);
        let current = match self.rewrite_started_ms.load(Relaxed) {
            0 => -1,
            t => (crate::store::now_ms().saturating_sub(t) / 1000) as i64,
        };
        let _ = write!(
            out,
            "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{current}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
            u8::from(on || self.rewrite_in_progress.load(Relaxed) && self.turning_on.load(Relaxed)),
            u8::from(self.rewrite_in_progress.load(Relaxed)),
            u8::from(self.rewrite_scheduled.load(Relaxed)),
            self.last_rewrite_secs.load(Relaxed),
            if self.last_rewrite_failed.load(Relaxed) { "err" } else { "ok" },
            self.rewrites.load(Relaxed),
            self.consecutive_failures.load(Relaxed),
            if self.last_write_ok.load(Relaxed) { "ok" } else { "err" },
        );
        if on {
            let (base, incr) = (self.base_size.load(Relaxed), self.incr_size.load(Relaxed));
            let _ = write!(
                out,
                "aof_current_size:{}\r\naof_base_size:{base}\r\naof_pending_rewrite:{}\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
                base + incr,
                u8::from(self.rewrite_scheduled.load(Relaxed)),
            );
        }
    }

    /// A fresh id for atomic work that has no client of its own.
    pub fn next_work_id(&self) -> u64 {
        (1 << 62) | self.next_work.fetch_add(1, Relaxed)
    }

    /// The current incremental file, while the AOF is on.
    pub fn file(&self) -> Option<std::sync::Arc<writer::AofFile>> {
        self.file.lock().expect("aof file lock").clone()
    }
}

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
