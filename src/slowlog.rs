//! The slow log: commands whose run took at least `slowlog-log-slower-than` microseconds,
//! newest first, at most `slowlog-max-len` of them (SLOWLOG GET / LEN / RESET). One log
//! for the whole server; a shard takes its lock only to add a slow command.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use bytes::Bytes;

/// Most arguments an entry keeps (the last one kept says how many more there were).
const MAX_ARGS: usize = 32;
/// Longest argument an entry keeps, in bytes.
const MAX_ARG_LEN: usize = 128;

/// One slow command.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Increasing id.
    pub id: u64,
    /// Unix time, seconds, when it was logged.
    pub time: u64,
    /// How long it ran, microseconds.
    pub micros: u64,
    /// Its arguments, trimmed as Redis trims them.
    pub args: Vec<Bytes>,
    /// The client's address (`ip:port`).
    pub addr: String,
    /// The client's name.
    pub name: Bytes,
}

/// The slow log.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: Mutex<VecDeque<Entry>>,
    next_id: AtomicU64,
}

impl SlowLog {
    /// Adds a command that ran `micros` µs, keeping at most `max_len` entries.
    pub fn push(&self, args: &[Bytes], micros: u64, addr: String, name: Bytes, max_len: usize) {
        let mut kept: Vec<Bytes> = Vec::with_capacity(args.len().min(MAX_ARGS));
        let shown = if args.len() > MAX_ARGS { MAX_ARGS - 1 } else { args.len() };
        let redact = redacted_from(args);
        for (i, a) in args[..shown].iter().enumerate() {
            if redact.is_some_and(|r| i >= r.0 && i < r.1) {
                kept.push(Bytes::from_static(b"(redacted)"));
            } else if a.len() > MAX_ARG_LEN {
                let mut v = a[..MAX_ARG_LEN].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes());
                kept.push(Bytes::from(v));
            } else {
                kept.push(a.clone());
            }
        }
        if shown < args.len() {
            kept.push(Bytes::from(format!("... ({} more arguments)", args.len() - shown)));
        }
        let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut log = self.entries.lock().expect("slowlog lock");
        let id = self.next_id.fetch_add(1, Relaxed);
        log.push_front(Entry { id, time, micros, args: kept, addr, name });
        log.truncate(max_len);
    }

    /// The newest `count` entries (all with `None`).
    pub fn get(&self, count: Option<usize>) -> Vec<Entry> {
        let log = self.entries.lock().expect("slowlog lock");
        log.iter().take(count.unwrap_or(usize::MAX)).cloned().collect()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("slowlog lock").len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// SLOWLOG RESET.
    pub fn reset(&self) {
        self.entries.lock().expect("slowlog lock").clear();
    }

    /// Drops the oldest entries past `max_len` (after CONFIG SET slowlog-max-len).
    pub fn trim(&self, max_len: usize) {
        self.entries.lock().expect("slowlog lock").truncate(max_len);
    }
}

/// The range of argument positions a log must not show (passwords): AUTH's arguments,
/// HELLO's AUTH pair, MIGRATE's AUTH / AUTH2 values, a sensitive CONFIG SET value and
/// ACL SETUSER's rules.
pub fn redacted_from(args: &[Bytes]) -> Option<(usize, usize)> {
    let name = args.first()?.to_ascii_lowercase();
    let find = |word: &str| args.iter().position(|a| a.eq_ignore_ascii_case(word.as_bytes()));
    match name.as_slice() {
        b"auth" => Some((1, args.len())),
        b"hello" => find("auth").map(|i| (i + 1, i + 3)),
        b"migrate" => {
            if let Some(i) = find("auth2") {
                Some((i + 1, i + 3))
            } else {
                find("auth").map(|i| (i + 1, i + 2))
            }
        }
        b"config" if args.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"set")) => {
            // Each sensitive parameter's value.
            args.iter().skip(2).step_by(2).position(|n| crate::config::Config::is_sensitive(n)).map(|k| (3 + 2 * k, 4 + 2 * k))
        }
        b"acl" if args.get(1).is_some_and(|s| s.eq_ignore_ascii_case(b"setuser")) => Some((2, args.len())),
        _ => None,
    }
}
