//! Replication with Redis 7.0's protocol (PSYNC2), both ways.
//!
//! ```text
//!   master                                              replica (link.rs)
//!   shards log writes (shard/aof.rs) ──► stream ◄─┐     connect, PING, AUTH, REPLCONF,
//!   in Redis's propagated form, one     (backlog) │     PSYNC replid offset
//!   append per shard turn                         │ ◄── +FULLRESYNC id off, $len RDB
//!   (SELECT when the db changes)                  │     (or $EOF:<mark>), then commands
//!                                                 │     applied in order by a session
//!   per replica (master.rs): a feeder thread ─────┘     (MULTI/EXEC atomic over shards),
//!   sends the snapshot, then the stream from its        REPLCONF ACK every second; the bytes
//!   offset; a reader thread takes REPLCONF ACKs         go into its own stream unchanged
//! ```
//!
//! The stream ([`backlog::Stream`]) is the one ordered byte stream every replica receives:
//! each shard appends what its turn wrote in one piece, under the stream's lock, so writes
//! of different shards (on different keys) interleave whole, and work atomic over several
//! shards appears as one MULTI/EXEC block written by its coordinator while it holds the
//! keys (the same order the append-only file has). The stream keeps `repl-backlog-size`
//! bytes of history for partial resyncs and whatever a replica has not been sent yet.
//!
//! A full sync takes a forkless snapshot; at its point in time (every shard held) each
//! shard appends what it had logged, and the last one to flip fixes the replica's start
//! offset, so the snapshot plus the stream from that offset is every write exactly once.
//! Replication ids follow PSYNC2: a promoted replica keeps its old master's id as
//! `master_replid2`, so other replicas of that master resync from it partially.

pub mod backlog;
pub mod link;
pub mod master;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};

use crate::config::{Config, P};

/// The replication ids of this server (PSYNC2).
#[derive(Debug, Clone)]
pub struct Ids {
    /// `master_replid`: the id of the history this server's offsets belong to.
    pub replid: String,
    /// `master_replid2`: the id of the master this server followed before a promotion.
    pub replid2: String,
    /// `second_repl_offset`: up to which offset `replid2` is valid (-1: none).
    pub second_offset: i64,
}

/// Where this server takes its data from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// It takes writes from clients.
    Master,
    /// It replicates the master at host, port.
    Replica(String, u16),
}

/// The state of a replica's link to its master (`master_link_status` and ROLE's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Not connected; trying again soon.
    Connect = 0,
    /// Connecting or in the handshake.
    Connecting = 1,
    /// Receiving and loading the master's snapshot.
    Sync = 2,
    /// Applying the master's stream.
    Connected = 3,
}

impl LinkState {
    fn from_u8(v: u8) -> LinkState {
        match v {
            1 => LinkState::Connecting,
            2 => LinkState::Sync,
            3 => LinkState::Connected,
            _ => LinkState::Connect,
        }
    }

    /// ROLE's name for it.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The replication state shared by the shards, the feeder threads and the link.
#[derive(Debug)]
pub struct ReplState {
    /// The stream replicas are sent, and its backlog.
    pub stream: Mutex<backlog::Stream>,
    /// Signalled when the stream grows or a reader must look at its state again.
    pub more: Condvar,
    /// The replication ids.
    pub ids: Mutex<Ids>,
    /// Master or replica of whom.
    pub role: Mutex<Role>,
    /// A copy of `role != Master` for the checks on every command.
    pub is_replica: AtomicBool,
    /// The client id of the session that applies the master's stream (0: none).
    pub master_client: AtomicU64,
    /// Bumped by every REPLICAOF: a link whose generation is old stops.
    pub link_gen: AtomicU64,
    /// The link's state (a [`LinkState`]).
    pub link_state: AtomicU8,
    /// Unix ms the link last read from the master.
    pub link_last_io_ms: AtomicU64,
    /// Unix ms the link went down (0: never up).
    pub link_down_since_ms: AtomicU64,
    /// Bytes of the snapshot the link has read, and its size (-1: unknown, `$EOF:` form).
    pub sync_read: AtomicI64,
    /// The size of the snapshot being read (-1: unknown).
    pub sync_size: AtomicI64,
    /// Connected replicas.
    pub replicas: Mutex<Vec<Arc<master::Replica>>>,
    /// Ids for replicas.
    pub next_replica: AtomicU64,
    /// Full syncs served (`sync_full`), partial resyncs accepted and refused.
    pub sync_full: AtomicU64,
    /// Partial resyncs accepted (`sync_partial_ok`).
    pub sync_partial_ok: AtomicU64,
    /// Partial resyncs refused (`sync_partial_err`).
    pub sync_partial_err: AtomicU64,
    /// The thread that PINGs replicas runs.
    cron_started: AtomicBool,
}

impl ReplState {
    /// A master with a fresh replication id and no backlog.
    pub fn new(replid: String) -> ReplState {
        ReplState {
            stream: Mutex::new(backlog::Stream::default()),
            more: Condvar::new(),
            ids: Mutex::new(Ids { replid, replid2: "0".repeat(40), second_offset: -1 }),
            role: Mutex::new(Role::Master),
            is_replica: AtomicBool::new(false),
            master_client: AtomicU64::new(0),
            link_gen: AtomicU64::new(0),
            link_state: AtomicU8::new(LinkState::Connect as u8),
            link_last_io_ms: AtomicU64::new(0),
            link_down_since_ms: AtomicU64::new(0),
            sync_read: AtomicI64::new(0),
            sync_size: AtomicI64::new(-1),
            replicas: Mutex::new(Vec::new()),
            next_replica: AtomicU64::new(1),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            cron_started: AtomicBool::new(false),
        }
    }

    /// Master or replica of whom.
    pub fn role(&self) -> Role {
        self.role.lock().expect("repl role lock").clone()
    }

    /// The link's state.
    pub fn link_state(&self) -> LinkState {
        LinkState::from_u8(self.link_state.load(Relaxed))
    }

    /// Sets the link's state.
    pub fn set_link_state(&self, s: LinkState) {
        let was = self.link_state.swap(s as u8, Relaxed);
        if s == LinkState::Connected {
            self.link_down_since_ms.store(0, Relaxed);
        } else if was == LinkState::Connected as u8 {
            self.link_down_since_ms.store(crate::store::now_ms(), Relaxed);
        }
    }

    /// The replication ids.
    pub fn ids(&self) -> Ids {
        self.ids.lock().expect("repl ids lock").clone()
    }

    /// `master_repl_offset`: bytes of stream produced (master) or applied (replica).
    pub fn offset(&self) -> i64 {
        self.stream.lock().expect("repl stream lock").end()
    }

    /// Appends the segments of a shard's turn ((database, commands)), each after a SELECT
    /// when the stream's database differs.
    pub fn feed<'a>(&self, config: &Config, segments: impl Iterator<Item = (usize, &'a [u8])>) {
        let mut st = self.stream.lock().expect("repl stream lock");
        for (db, bytes) in segments {
            st.append_in(db, bytes);
        }
        self.after_append(config, st);
    }

    /// Appends bytes that need no database (PING, REPLCONF GETACK, a master's stream that a
    /// replica passes on).
    pub fn feed_raw(&self, config: &Config, bytes: &[u8]) {
        let mut st = self.stream.lock().expect("repl stream lock");
        st.append(bytes);
        self.after_append(config, st);
    }

    fn after_append(&self, config: &Config, mut st: std::sync::MutexGuard<'_, backlog::Stream>) {
        let (hard, _, _) = config.output_limit(crate::config::OutputClass::Replica);
        let dropped = st.trim(config.num(P::ReplBacklogSize).max(1) as u64, hard.max(0) as u64);
        let wake = st.sleeping > 0 || !dropped.is_empty();
        drop(st);
        for id in dropped {
            if let Some(r) = self.replicas.lock().expect("replicas lock").iter().find(|r| r.id == id) {
                log::warn!("Client {} scheduled to be closed ASAP for overcoming of output buffer limits.", r.describe());
                r.close();
            }
        }
        if wake {
            self.more.notify_all();
        }
    }

    /// Connected replicas whose acknowledged offset reached `offset`.
    pub fn acked(&self, offset: i64) -> usize {
        self.replicas.lock().expect("replicas lock").iter().filter(|r| r.online() && r.ack.load(Relaxed) >= offset).count()
    }

    /// Replicas that are online and acknowledged within `max_lag` seconds
    /// (`min-replicas-max-lag`).
    pub fn good_replicas(&self, max_lag: i64) -> usize {
        let now = crate::store::now_ms();
        self.replicas
            .lock()
            .expect("replicas lock")
            .iter()
            .filter(|r| r.online() && (now.saturating_sub(r.ack_ms.load(Relaxed)) as i64) <= max_lag * 1000)
            .count()
    }

    /// Disconnects every replica (the server became a replica itself, or FLUSHALL on a
    /// replica's new history): they resync.
    pub fn drop_replicas(&self) {
        for r in self.replicas.lock().expect("replicas lock").iter() {
            r.close();
        }
        self.more.notify_all();
    }

    /// A new replication id, the current one kept as `replid2` up to the current offset
    /// (promotion, `shiftReplicationId`).
    pub fn shift_ids(&self) {
        let off = self.offset();
        let mut ids = self.ids.lock().expect("repl ids lock");
        ids.replid2 = std::mem::replace(&mut ids.replid, random_replid());
        ids.second_offset = off + 1;
    }

    /// A new replication id and none kept as `replid2` (DEBUG CHANGE-REPL-ID).
    pub fn change_ids(&self) {
        let mut ids = self.ids.lock().expect("repl ids lock");
        ids.replid = random_replid();
        ids.replid2 = "0".repeat(40);
        ids.second_offset = -1;
    }

    /// INFO's replication section.
    pub fn info(&self, config: &Config, out: &mut String) {
        use std::fmt::Write;
        let ids = self.ids();
        let role = self.role();
        let now = crate::store::now_ms();
        match &role {
            Role::Master => out.push_str("role:master\r\n"),
            Role::Replica(host, port) => {
                let state = self.link_state();
                let up = state == LinkState::Connected;
                let last_io = match self.link_last_io_ms.load(Relaxed) {
                    0 => -1,
                    t => (now.saturating_sub(t) / 1000) as i64,
                };
                let off = self.offset();
                let _ = write!(
                    out,
                    "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{last_io}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{off}\r\nslave_repl_offset:{off}\r\n",
                    if up { "up" } else { "down" },
                    u8::from(state == LinkState::Sync),
                );
                if state == LinkState::Sync {
                    let size = self.sync_size.load(Relaxed);
                    let read = self.sync_read.load(Relaxed);
                    let _ = write!(
                        out,
                        "master_sync_total_bytes:{size}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                        if size < 0 { -1 } else { size - read },
                        if size > 0 { read as f64 * 100.0 / size as f64 } else { 0.0 },
                        last_io.max(0),
                    );
                }
                if !up {
                    let since = self.link_down_since_ms.load(Relaxed);
                    let secs = if since == 0 { -1 } else { (now.saturating_sub(since) / 1000) as i64 };
                    let _ = write!(out, "master_link_down_since_seconds:{secs}\r\n");
                }
                let _ = write!(
                    out,
                    "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                    config.num(P::ReplicaPriority),
                    u8::from(config.flag(P::ReplicaReadOnly)),
                    u8::from(config.flag(P::ReplicaAnnounced)),
                );
            }
        }
        let replicas = self.replicas.lock().expect("replicas lock").clone();
        let listed: Vec<_> = replicas.iter().filter(|r| !r.is_closed()).collect();
        let _ = write!(out, "connected_slaves:{}\r\n", listed.len());
        let master_off = self.offset();
        for (i, r) in listed.iter().enumerate() {
            let lag = (now.saturating_sub(r.ack_ms.load(Relaxed)) / 1000) as i64;
            let _ = write!(
                out,
                "slave{i}:ip={},port={},state={},offset={},lag={lag}\r\n",
                r.ip,
                r.port.load(Relaxed),
                r.state_name(),
                r.ack.load(Relaxed),
            );
        }
        let st = self.stream.lock().expect("repl stream lock");
        let _ = write!(
            out,
            "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{master_off}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
            ids.replid,
            ids.replid2,
            ids.second_offset,
            u8::from(st.active),
            config.num(P::ReplBacklogSize),
            if st.active { st.start() + 1 } else { 0 },
            if st.active { st.histlen() } else { 0 },
        );
    }
}

/// A fresh random 40-hex-digit id (replication ids, the run id).
pub fn random_replid() -> String {
    let mut rng = fastrand::Rng::new();
    (0..40).map(|_| char::from_digit(rng.u32(..16), 16).expect("hex digit")).collect()
}
