//! The master's side: a client that sends PSYNC (or SYNC) becomes a replica. Its connection
//! leaves its shard's loop and is served by two threads of its own: a feeder that sends
//! `+CONTINUE` and the backlog from the replica's offset, or `+FULLRESYNC`, a snapshot and
//! the stream from the snapshot's point in time; and a reader that takes the replica's
//! `REPLCONF ACK`s (WAIT, INFO's `slaveN` lines, `min-replicas-to-write`).
//!
//! A snapshot for a replica is taken like BGSAVE's (forkless, one at a time) into a
//! temporary file that is sent as `$<length>` and removed. While it is prepared, the feeder
//! sends a newline every second, as Redis does, so the replica's timeout does not fire.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;

use super::ReplState;
use crate::config::P;
use crate::persist::snapshot::{write_snapshot, AtFlip, FileParts};
use crate::protocol::{Limits, RequestParser};
use crate::shard::{call_all, ShardLocal, Shared};
use crate::store::now_ms;

/// Bytes a feeder sends per write.
const SEND_CHUNK: usize = 256 * 1024;

/// What a client said before PSYNC/SYNC (REPLCONF), and what it asked for.
#[derive(Debug, Clone, Default)]
pub struct Handoff {
    /// PSYNC's (replication id, offset); `None` for SYNC.
    pub psync: Option<(String, i64)>,
    /// REPLCONF listening-port.
    pub port: i64,
    /// REPLCONF ip-address.
    pub ip: Option<String>,
}

/// A replica's state (INFO's `state=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReplicaState {
    /// Waiting for its snapshot.
    WaitBgsave = 0,
    /// Being sent its snapshot.
    SendBulk = 1,
    /// Being sent the stream.
    Online = 2,
}

/// A connected replica.
#[derive(Debug)]
pub struct Replica {
    /// Its id (a reader of the stream).
    pub id: u64,
    /// Its address as seen, or as announced (REPLCONF ip-address).
    pub ip: String,
    /// Its listening port (REPLCONF listening-port).
    pub port: AtomicI64,
    state: AtomicU8,
    /// The offset it last acknowledged.
    pub ack: AtomicI64,
    /// Unix ms of its last acknowledgement.
    pub ack_ms: AtomicU64,
    closed: AtomicBool,
    sock: TcpStream,
}

impl Replica {
    /// Whether it is being sent the stream.
    pub fn online(&self) -> bool {
        self.state.load(Relaxed) == ReplicaState::Online as u8 && !self.is_closed()
    }

    /// Whether it was disconnected.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// INFO's name for its state.
    pub fn state_name(&self) -> &'static str {
        match self.state.load(Relaxed) {
            0 => "wait_bgsave",
            1 => "send_bulk",
            _ => "online",
        }
    }

    fn set_state(&self, s: ReplicaState) {
        self.state.store(s as u8, Relaxed);
    }

    /// `ip:port` for the log.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.ip, self.port.load(Relaxed))
    }

    /// Disconnects it (both its threads end).
    pub fn close(&self) {
        if !self.closed.swap(true, Relaxed) {
            let _ = self.sock.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl ReplState {
    /// Forgets replica `r` (its threads end): out of the list and of the stream's readers.
    fn forget(&self, r: &Replica) {
        r.close();
        self.replicas.lock().expect("replicas lock").retain(|x| x.id != r.id);
        self.stream.lock().expect("repl stream lock").remove_reader(r.id);
        self.more.notify_all();
    }
}

/// Why PSYNC or SYNC is refused before the connection is handed over.
pub fn refusal(shared: &Shared) -> Option<&'static str> {
    if shared.repl.is_replica.load(Relaxed) && shared.repl.link_state() != super::LinkState::Connected {
        return Some("NOMASTERLINK Can't SYNC while not connected with my master");
    }
    None
}

/// Serves `sock`, a client that sent PSYNC/SYNC, as a replica from now on. `leftover`: what
/// it sent after PSYNC. Runs on the shard its connection lived on.
pub fn attach(local: &Rc<ShardLocal>, sock: TcpStream, h: Handoff, leftover: Vec<u8>) {
    let shared = local.shared.clone();
    let repl = &shared.repl;
    let id = repl.next_replica.fetch_add(1, Relaxed);
    let ip = h.ip.clone().unwrap_or_else(|| sock.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default());
    let Ok(sock2) = sock.try_clone() else { return };
    let r = Arc::new(Replica {
        id,
        ip,
        port: AtomicI64::new(h.port),
        state: AtomicU8::new(ReplicaState::WaitBgsave as u8),
        ack: AtomicI64::new(0),
        ack_ms: AtomicU64::new(now_ms()),
        closed: AtomicBool::new(false),
        sock: sock2,
    });
    log::info!("Replica {} asks for synchronization", r.describe());
    start_cron(&shared);
    if let Some((replid, offset)) = &h.psync {
        if let Some(first) = try_partial(repl, &r, replid, *offset) {
            spawn_threads(shared, r, sock, leftover, Feed::Continue(first));
            return;
        }
    }
    repl.sync_full.fetch_add(1, Relaxed);
    let (tx, rx) = std::sync::mpsc::channel();
    repl.replicas.lock().expect("replicas lock").push(r.clone());
    local.spawn(full_sync(local.clone(), r.clone(), tx));
    spawn_threads(shared, r, sock, leftover, Feed::Full { rx, psync: h.psync.is_some() });
}

/// Accepts a partial resync from `offset` (the next byte the replica needs) of history
/// `replid` when the backlog still has it: returns the `+CONTINUE` line.
fn try_partial(repl: &ReplState, r: &Arc<Replica>, replid: &str, offset: i64) -> Option<Vec<u8>> {
    let ids = repl.ids();
    let mut st = repl.stream.lock().expect("repl stream lock");
    let known = replid == ids.replid || (replid == ids.replid2 && offset <= ids.second_offset);
    if !known || !st.has_from(offset - 1) {
        drop(st);
        if replid != "?" {
            repl.sync_partial_err.fetch_add(1, Relaxed);
            if known {
                log::info!("Unable to partial resync with replica {} for lack of backlog (Replica request was: {offset}).", r.describe());
            } else {
                log::info!(
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
                    ids.replid,
                    ids.replid2
                );
            }
        }
        return None;
    }
    st.add_reader(r.id, offset - 1);
    let backlog = st.end() - (offset - 1);
    drop(st);
    r.set_state(ReplicaState::Online);
    repl.replicas.lock().expect("replicas lock").push(r.clone());
    repl.sync_partial_ok.fetch_add(1, Relaxed);
    log::info!(
        "Partial resynchronization request from {} accepted. Sending {backlog} bytes of backlog starting from offset {offset}.",
        r.describe()
    );
    Some(format!("+CONTINUE {}\r\n", ids.replid).into_bytes())
}

/// Makes sure the shards feed the stream: the first replica of a master creates the backlog
/// (with a new replication id, as Redis's `syncCommand`).
pub async fn ensure_feeding(local: &Rc<ShardLocal>) {
    let repl = &local.shared.repl;
    if repl.is_replica.load(Relaxed) {
        return;
    }
    let fresh = {
        let mut st = repl.stream.lock().expect("repl stream lock");
        let fresh = !st.active;
        if fresh {
            let end = st.end();
            st.reset(end);
        }
        fresh
    };
    if fresh {
        repl.change_ids();
    }
    call_all(local, |sh| sh.repl_attach(true)).await;
}

/// Takes the snapshot for replica `r` and hands it (with the offset the stream continues
/// from) to its feeder.
async fn full_sync(local: Rc<ShardLocal>, r: Arc<Replica>, tx: std::sync::mpsc::Sender<Result<(PathBuf, i64), String>>) {
    let shared = local.shared.clone();
    ensure_feeding(&local).await;
    while shared.save.in_progress.swap(true, Relaxed) {
        if r.is_closed() {
            return;
        }
        glommio::timer::sleep(Duration::from_millis(50)).await;
    }
    log::info!("Starting BGSAVE for SYNC with target: disk");
    shared.save.started_ms.store(now_ms(), Relaxed);
    shared.save.keys_done.store(0, Relaxed);
    shared.save.abort.store(false, Relaxed);
    let path = PathBuf::from(format!("temp-{}-repl-{}.rdb", std::process::id(), r.id));
    let parts = FileParts::new(&shared, path.clone());
    let flipped = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(AtomicI64::new(-1));
    let (n, id, at) = (shared.shards(), r.id, start.clone());
    // Each shard appends what it logged before its point in time; the last one to flip
    // (every shard still held, so none logs meanwhile) fixes where the replica's stream
    // starts.
    let flip: AtFlip = Arc::new(move |sh: &Rc<ShardLocal>| {
        sh.aof_write_now();
        if flipped.fetch_add(1, Relaxed) + 1 == n {
            let mut st = sh.shared.repl.stream.lock().expect("repl stream lock");
            st.sel_db = None;
            let pos = st.end();
            st.add_reader(id, pos);
            at.store(pos, Relaxed);
        }
    });
    let result = write_snapshot(&local, parts, Some(flip)).await;
    shared.save.started_ms.store(0, Relaxed);
    shared.save.in_progress.store(false, Relaxed);
    let msg = match result {
        Ok(_) => Ok((path, start.load(Relaxed))),
        Err(e) => {
            shared.repl.stream.lock().expect("repl stream lock").remove_reader(r.id);
            log::warn!("BGSAVE for replication failed: {e}");
            Err(e.to_string())
        }
    };
    let _ = tx.send(msg);
}

/// What a feeder sends before the stream.
enum Feed {
    /// `+CONTINUE`: the stream follows.
    Continue(Vec<u8>),
    /// A snapshot on its way, `+FULLRESYNC` first when the replica used PSYNC.
    Full { rx: std::sync::mpsc::Receiver<Result<(PathBuf, i64), String>>, psync: bool },
}

fn spawn_threads(shared: Arc<Shared>, r: Arc<Replica>, sock: TcpStream, leftover: Vec<u8>, feed: Feed) {
    let Ok(read_sock) = sock.try_clone() else {
        shared.repl.forget(&r);
        return;
    };
    let (s2, r2) = (shared.clone(), r.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("repl-feed-{}", r.id))
        .spawn(move || {
            feeder(&s2, &r2, sock, feed);
            s2.repl.forget(&r2);
            log::info!("Connection with replica {} lost.", r2.describe());
        })
        .and_then(|_| {
            let (s3, r3) = (shared.clone(), r.clone());
            std::thread::Builder::new().name(format!("repl-acks-{}", r.id)).spawn(move || {
                read_acks(&s3, &r3, read_sock, leftover);
                s3.repl.forget(&r3);
            })
        });
    if spawned.is_err() {
        shared.repl.forget(&r);
    }
}

/// Sends the replica what `feed` says, then the stream, until it is closed.
fn feeder(shared: &Shared, r: &Replica, mut sock: TcpStream, feed: Feed) {
    let repl = &shared.repl;
    match feed {
        Feed::Continue(line) => {
            if sock.write_all(&line).is_err() {
                return;
            }
        }
        Feed::Full { rx, psync } => {
            let (path, offset) = loop {
                match rx.recv_timeout(Duration::from_secs(1)) {
                    Ok(Ok(v)) => break v,
                    Ok(Err(_)) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if r.is_closed() || sock.write_all(b"\n").is_err() {
                            return;
                        }
                    }
                }
            };
            let sent = send_snapshot(&mut sock, &path, psync.then(|| (repl.ids().replid, offset)));
            let _ = std::fs::remove_file(&path);
            if let Err(e) = sent {
                log::warn!("SYNC failed. Can't send the RDB to replica {}: {e}", r.describe());
                return;
            }
            r.set_state(ReplicaState::Online);
            r.ack_ms.store(now_ms(), Relaxed);
            log::info!("Synchronization with replica {} succeeded", r.describe());
        }
    }
    let mut out = Vec::with_capacity(SEND_CHUNK);
    loop {
        out.clear();
        {
            let mut st = repl.stream.lock().expect("repl stream lock");
            loop {
                if r.is_closed() {
                    return;
                }
                match st.take(r.id, &mut out, SEND_CHUNK) {
                    None => return,
                    Some(0) => {
                        st.sleeping += 1;
                        st = repl.more.wait_timeout(st, Duration::from_secs(1)).expect("repl stream lock").0;
                        st.sleeping -= 1;
                    }
                    Some(_) => break,
                }
            }
        }
        if sock.write_all(&out).is_err() {
            return;
        }
        if out.capacity() > 4 * SEND_CHUNK {
            out = Vec::with_capacity(SEND_CHUNK);
        }
    }
}

/// Sends `+FULLRESYNC <replid> <offset>` (PSYNC) and the snapshot file as `$<length>`.
fn send_snapshot(sock: &mut TcpStream, path: &std::path::Path, fullresync: Option<(String, i64)>) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = String::new();
    if let Some((id, off)) = fullresync {
        head.push_str(&format!("+FULLRESYNC {id} {off}\r\n"));
    }
    head.push_str(&format!("${len}\r\n"));
    sock.write_all(head.as_bytes())?;
    let copied = std::io::copy(&mut file, sock)?;
    if copied != len {
        return Err(std::io::Error::other("the snapshot file changed while it was sent"));
    }
    Ok(())
}

/// Reads what the replica sends (REPLCONF ACK <offset>) until the connection ends.
fn read_acks(shared: &Shared, r: &Replica, mut sock: TcpStream, leftover: Vec<u8>) {
    let mut buf = BytesMut::from(&leftover[..]);
    let mut parser = RequestParser::new();
    let mut scratch = vec![0u8; 4096];
    let limits = Limits { max_bulk_len: 1 << 20, authenticated: true };
    loop {
        loop {
            match parser.next(&mut buf, limits) {
                Ok(Some(args)) => {
                    let is = |i: usize, w: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
                    if is(0, "replconf") && is(1, "ack") {
                        if let Some(off) = args.get(2).and_then(|a| std::str::from_utf8(a).ok()?.parse::<i64>().ok()) {
                            r.ack.fetch_max(off, Relaxed);
                            r.ack_ms.store(now_ms(), Relaxed);
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        if buf.len() > 1 << 20 || r.is_closed() {
            return;
        }
        match sock.read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&scratch[..n]),
        }
        if shared.shutting_down.load(Relaxed) {
            return;
        }
    }
}

/// Starts, once, the thread that sends a PING into the stream every
/// `repl-ping-replica-period` seconds while replicas are connected (they time out a
/// master that says nothing).
fn start_cron(shared: &Arc<Shared>) {
    if shared.repl.cron_started.swap(true, Relaxed) {
        return;
    }
    let shared = Arc::downgrade(shared);
    let _ = std::thread::Builder::new().name("repl-cron".into()).spawn(move || {
        let mut last_ping = std::time::Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let Some(shared) = shared.upgrade() else { return };
            if shared.shutting_down.load(Relaxed) {
                return;
            }
            let period = Duration::from_secs(shared.config.num(P::ReplPingReplicaPeriod).max(1) as u64);
            let repl = &shared.repl;
            let any = repl.replicas.lock().expect("replicas lock").iter().any(|r| r.online());
            if last_ping.elapsed() >= period {
                last_ping = std::time::Instant::now();
                if any && !repl.is_replica.load(Relaxed) {
                    repl.feed_raw(&shared.config, b"*1\r\n$4\r\nPING\r\n");
                }
            }
        }
    });
}
