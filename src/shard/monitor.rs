//! MONITOR: every command any shard runs, as one line per command in Redis's format
//! (`+1339518083.107412 [0 127.0.0.1:60866] "set" "k" "v"`), sent to every monitoring client.
//! Monitors are listed in [`Shared::monitors`]; a shard with none to feed pays one relaxed
//! load per command. Lines for monitors on other shards leave with the shard's other pushes
//! ([`ShardLocal::send_push`]).

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use super::{ShardLocal, Shared};
use crate::protocol::repr_into;
use crate::tracking::Push;

impl Shared {
    /// Whether any client is in MONITOR mode.
    #[inline]
    pub fn monitoring(&self) -> bool {
        self.monitor_count.load(Relaxed) > 0
    }

    /// Adds client `client` of shard `shard` to the monitors.
    pub fn add_monitor(&self, client: u64, shard: usize) {
        let mut m = self.monitors.write().expect("monitors lock");
        if !m.iter().any(|(c, _)| *c == client) {
            m.push((client, shard));
            self.monitor_count.store(m.len(), Relaxed);
        }
    }

    /// Removes client `client` from the monitors (RESET, disconnect).
    pub fn remove_monitor(&self, client: u64) {
        let mut m = self.monitors.write().expect("monitors lock");
        m.retain(|(c, _)| *c != client);
        self.monitor_count.store(m.len(), Relaxed);
    }
}

/// The MONITOR line for a command: time, database, the client's address (`lua` for a
/// script's command), the quoted arguments, passwords redacted.
pub fn monitor_line(db: usize, addr: &str, args: &[Bytes]) -> Bytes {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut line = format!("+{}.{:06} [{db} {addr}]", now.as_secs(), now.subsec_micros()).into_bytes();
    let redact = crate::slowlog::redacted_from(args);
    for (i, a) in args.iter().enumerate() {
        line.push(b' ');
        if redact.is_some_and(|r| i >= r.0 && i < r.1) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            repr_into(&mut line, a);
        }
    }
    line.extend_from_slice(b"\r\n");
    Bytes::from(line)
}

impl ShardLocal {
    /// Sends the line of a command run in database `db` by the client at `addr` to every
    /// monitor (call only when [`Shared::monitoring`]).
    pub fn feed_monitors(self: &Rc<Self>, db: usize, addr: &str, args: &[Bytes]) {
        let line = monitor_line(db, addr, args);
        let monitors = self.shared.monitors.read().expect("monitors lock").clone();
        for (client, shard) in monitors {
            self.send_push(shard, client, Push::Line(line.clone()));
        }
    }
}
