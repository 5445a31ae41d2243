//! The replica's side: the link to the master (REPLICAOF, `replicaof` in the config).
//!
//! A task on one shard connects, does the handshake a Redis 7.0 master expects (PING,
//! AUTH with `masterauth`/`masteruser`, REPLCONF listening-port, REPLCONF capa eof capa
//! psync2, PSYNC with the id and offset of the history it has), then either loads the
//! master's snapshot (`$<length>` or the diskless `$EOF:<mark>` form, through a temporary
//! file, every database emptied first, other clients answered LOADING) or continues from
//! its offset (`+CONTINUE`). The stream is then applied by a session of the server's own,
//! in order, each command routed to its key's shard (MULTI/EXEC atomic over the shards, as
//! for any client), and passed on unchanged into this server's own stream for its replicas.
//! It sends REPLCONF ACK every second and at REPLCONF GETACK, reconnects (partially when it
//! can) after the link drops, and stops when REPLICAOF names another master or NO ONE.

use std::io::Write;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::future::poll_fn;
use futures::{AsyncRead, AsyncWriteExt};
use glommio::net::TcpStream;

use super::{LinkState, Role};
use crate::config::P;
use crate::protocol::{encode_command, Limits, RequestParser};
use crate::shard::{call_all, txn, Msg, Session, ShardLocal, Shared};
use crate::store::now_ms;

/// Why a link ended (it is tried again a second later unless REPLICAOF changed).
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Master(String),
    #[error("REPLICAOF changed")]
    Replaced,
}

/// Starts the link `replicaof` in the configuration names (at start-up, on shard 0).
pub fn start_from_config(shared: &Shared) {
    let v = shared.config.text(P::Replicaof);
    let mut it = v.split_whitespace();
    let (Some(host), Some(port)) = (it.next(), it.next().and_then(|p| p.parse::<u16>().ok())) else { return };
    let host = host.to_string();
    shared.mailboxes[0].push(Msg::Call(Box::new(move |local| {
        let l = local.clone();
        local.spawn(async move { become_replica(&l, host, port).await });
    })));
}

/// REPLICAOF host port: from now on this server replicates that master. Its replicas are
/// disconnected (they resync, partially when they can), its shards stop feeding the stream
/// (the master's stream is passed on instead), and the link starts.
pub async fn become_replica(local: &Rc<ShardLocal>, host: String, port: u16) {
    let shared = local.shared.clone();
    let repl = &shared.repl;
    let gen = repl.link_gen.fetch_add(1, Relaxed) + 1;
    *repl.role.lock().expect("repl role lock") = Role::Replica(host.clone(), port);
    repl.is_replica.store(true, Relaxed);
    crate::logging::set_replica(true);
    repl.set_link_state(LinkState::Connect);
    repl.link_down_since_ms.store(0, Relaxed);
    shared.config.set_replicaof(format!("{host} {port}"));
    call_all(local, |sh| {
        sh.repl_attach(false);
        sh.store.borrow().signals.set_from_master(true);
    })
    .await;
    repl.drop_replicas();
    log::info!("Connecting to MASTER {host}:{port}");
    local.spawn(run(local.clone(), gen, host, port));
}

/// REPLICAOF NO ONE: this server takes writes again. It keeps its data and offset; the
/// master's id becomes `master_replid2`, so the other replicas of that master can continue
/// from this server partially.
pub async fn become_master(local: &Rc<ShardLocal>) {
    let shared = local.shared.clone();
    let repl = &shared.repl;
    if !repl.is_replica.load(Relaxed) {
        return;
    }
    repl.link_gen.fetch_add(1, Relaxed);
    *repl.role.lock().expect("repl role lock") = Role::Master;
    repl.is_replica.store(false, Relaxed);
    crate::logging::set_replica(false);
    shared.config.set_replicaof(String::new());
    repl.shift_ids();
    let active = {
        let mut st = repl.stream.lock().expect("repl stream lock");
        st.sel_db = None;
        st.active
    };
    repl.drop_replicas();
    call_all(local, move |sh| {
        sh.store.borrow().signals.set_from_master(false);
        if active {
            sh.repl_attach(true);
        }
    })
    .await;
    log::info!("MASTER MODE enabled (user request from 'id=0')");
}

/// The link, until REPLICAOF changes: connect, sync, apply; again a second after it drops.
async fn run(local: Rc<ShardLocal>, gen: u64, host: String, port: u16) {
    let shared = local.shared.clone();
    let repl = &shared.repl;
    let current = || repl.link_gen.load(Relaxed) == gen && !shared.shutting_down.load(Relaxed);
    // One session applies the stream across reconnections: after +CONTINUE the master's
    // stream goes on in the database it had selected.
    let mut session = Session::detached(local.clone());
    session.replaying = true;
    repl.master_client.store(session.meta.id, Relaxed);
    while current() {
        repl.set_link_state(LinkState::Connecting);
        match serve_link(&local, &mut session, gen, &host, port).await {
            Ok(()) | Err(LinkError::Replaced) => {}
            Err(e) => log::warn!("Link with MASTER {host}:{port} ended: {e}"),
        }
        if session.multi.is_some() {
            // A transaction the master did not finish sending is not applied.
            session.end_multi();
        }
        if !current() {
            break;
        }
        repl.set_link_state(LinkState::Connect);
        glommio::timer::sleep(Duration::from_secs(1)).await;
        if current() {
            log::info!("Connecting to MASTER {host}:{port}");
        }
    }
}

/// A connection to the master with a read buffer.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    scratch: Box<[u8]>,
}

impl Conn {
    async fn send(&mut self, args: &[&[u8]]) -> Result<(), LinkError> {
        let mut out = Vec::new();
        encode_command(args, &mut out);
        self.stream.write_all(&out).await?;
        Ok(())
    }

    async fn fill(&mut self) -> Result<(), LinkError> {
        let n = futures::AsyncReadExt::read(&mut self.stream, &mut self.scratch).await?;
        if n == 0 {
            return Err(LinkError::Master("connection closed by the master".into()));
        }
        self.buf.extend_from_slice(&self.scratch[..n]);
        Ok(())
    }

    /// One line without its end (an empty one is a keepalive newline).
    async fn line(&mut self) -> Result<String, LinkError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(nl + 1);
                let text = String::from_utf8_lossy(&line[..nl]).trim_end_matches('\r').to_string();
                return Ok(text);
            }
            if self.buf.len() > 64 * 1024 {
                return Err(LinkError::Master("line too long from the master".into()));
            }
            self.fill().await?;
        }
    }

    /// The reply to a handshake command (newlines skipped).
    async fn reply(&mut self) -> Result<String, LinkError> {
        loop {
            let l = self.line().await?;
            if !l.is_empty() {
                return Ok(l);
            }
        }
    }
}

/// One connection: handshake, sync, then the stream until it ends.
async fn serve_link(local: &Rc<ShardLocal>, session: &mut Session, gen: u64, host: &str, port: u16) -> Result<(), LinkError> {
    let shared = local.shared.clone();
    let repl = &shared.repl;
    let timeout = Duration::from_secs(shared.config.num(P::ReplTimeout).max(1) as u64);
    let addr = format!("{host}:{port}");
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .await
        .map_err(|e| LinkError::Master(format!("Error condition on socket for SYNC: {e}")))?;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(timeout));
    let mut c = Conn { stream, buf: BytesMut::new(), scratch: vec![0u8; 16 * 1024].into_boxed_slice() };
    log::info!("MASTER <-> REPLICA sync started");
    c.send(&[b"PING"]).await?;
    let pong = c.reply().await?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(LinkError::Master(format!("Error reply to PING from master: '{pong}'")));
    }
    log::info!("Master replied to PING, replication can continue...");
    let pass = shared.config.text(P::Masterauth);
    if !pass.is_empty() {
        let user = shared.config.text(P::Masteruser);
        if user.is_empty() {
            c.send(&[b"AUTH", pass.as_bytes()]).await?;
        } else {
            c.send(&[b"AUTH", user.as_bytes(), pass.as_bytes()]).await?;
        }
        let r = c.reply().await?;
        if r.starts_with('-') {
            return Err(LinkError::Master(format!("Unable to AUTH to MASTER: {r}")));
        }
    }
    let announce = match shared.config.num(P::ReplicaAnnouncePort) {
        0 => shared.tcp_port.load(Relaxed) as i64,
        p => p,
    };
    c.send(&[b"REPLCONF", b"listening-port", announce.to_string().as_bytes()]).await?;
    let _ = c.reply().await?;
    let ip = shared.config.text(P::ReplicaAnnounceIp);
    if !ip.is_empty() {
        c.send(&[b"REPLCONF", b"ip-address", ip.as_bytes()]).await?;
        let _ = c.reply().await?;
    }
    c.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    let _ = c.reply().await?;
    let (id, next) = {
        let ids = repl.ids();
        let st = repl.stream.lock().expect("repl stream lock");
        if st.active {
            (ids.replid, st.end() + 1)
        } else {
            ("?".to_string(), -1)
        }
    };
    c.send(&[b"PSYNC", id.as_bytes(), next.to_string().as_bytes()]).await?;
    if repl.link_gen.load(Relaxed) != gen {
        return Err(LinkError::Replaced);
    }
    let r = c.reply().await?;
    if let Some(rest) = r.strip_prefix("+FULLRESYNC ") {
        let mut it = rest.split_whitespace();
        let (Some(id), Some(off)) = (it.next(), it.next().and_then(|o| o.parse::<i64>().ok())) else {
            return Err(LinkError::Master(format!("bad reply to PSYNC: {r}")));
        };
        log::info!("Full resync from master: {id}:{off}");
        full_sync(local, &mut c, gen, id.to_string(), off).await?;
        session.select(0);
    } else if let Some(rest) = r.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        log::info!("Successful partial resynchronization with master.");
        if !new_id.is_empty() && new_id != id {
            let mut ids = repl.ids.lock().expect("repl ids lock");
            ids.replid2 = std::mem::replace(&mut ids.replid, new_id.to_string());
            ids.second_offset = next;
            drop(ids);
            log::info!("Master replication ID changed to {new_id}");
            repl.drop_replicas();
        }
        log::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else {
        return Err(LinkError::Master(format!("Unexpected reply to PSYNC from master: {r}")));
    }
    repl.set_link_state(LinkState::Connected);
    repl.link_last_io_ms.store(now_ms(), Relaxed);
    apply_stream(local, session, &mut c, gen).await
}

/// Reads the master's snapshot into a temporary file and loads it in place of every
/// database; the stream then continues at `offset` of history `id`.
async fn full_sync(local: &Rc<ShardLocal>, c: &mut Conn, gen: u64, id: String, offset: i64) -> Result<(), LinkError> {
    let shared = local.shared.clone();
    let repl = &shared.repl;
    repl.set_link_state(LinkState::Sync);
    let head = c.reply().await?;
    let Some(size) = head.strip_prefix('$') else {
        return Err(LinkError::Master(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{head}'), are you sure the host and port are right?"
        )));
    };
    let path = std::path::PathBuf::from(format!("temp-{}.{}.rdb", now_ms() / 1000, std::process::id()));
    let mut file = std::fs::File::create(&path)?;
    let result = receive_payload(c, &mut file, size, repl).await;
    drop(file);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    if repl.link_gen.load(Relaxed) != gen {
        let _ = std::fs::remove_file(&path);
        return Err(LinkError::Replaced);
    }
    log::info!("MASTER <-> REPLICA sync: Flushing old data");
    log::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    shared.save.loading.store(true, Relaxed);
    let n = shared.shards();
    let p = path.clone();
    let loaded = txn::under_locks(local, txn::lock_plan(n, [], true), async {
        call_all(local, |sh| sh.store.borrow().signals.set_loading(true)).await;
        let r = crate::persist::load::load_into_shards(local, p, true, true).await;
        call_all(local, |sh| sh.store.borrow().signals.set_loading(false)).await;
        r
    })
    .await;
    shared.save.loading.store(false, Relaxed);
    let _ = std::fs::remove_file(&path);
    let loaded = loaded.map_err(|e| LinkError::Master(format!("Failed trying to load the MASTER synchronization DB from disk: {e}")))?;
    *shared.save.loaded.lock().expect("load stats lock") = (loaded.keys, loaded.expired);
    {
        let mut ids = repl.ids.lock().expect("repl ids lock");
        ids.replid = id;
        ids.replid2 = "0".repeat(40);
        ids.second_offset = -1;
    }
    repl.stream.lock().expect("repl stream lock").reset(offset);
    log::info!("MASTER <-> REPLICA sync: Finished with success");
    if shared.aof.enabled.load(Relaxed) {
        // The file must describe the data just loaded, as Redis's restartAOFAfterSYNC.
        local.spawn(crate::persist::aof::rewrite::rewrite(local.clone()));
    }
    Ok(())
}

/// Copies the snapshot payload (`size` is what followed `$`: a length, or `EOF:<mark>`).
async fn receive_payload(c: &mut Conn, file: &mut std::fs::File, size: &str, repl: &super::ReplState) -> Result<(), LinkError> {
    repl.sync_read.store(0, Relaxed);
    if let Some(mark) = size.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err(LinkError::Master("bad EOF mark from the master".into()));
        }
        repl.sync_size.store(-1, Relaxed);
        // Everything up to the mark is the file; the last 40 bytes are held back until more
        // arrive or they turn out to be the mark.
        loop {
            if c.buf.len() >= 40 && c.buf.ends_with(&mark) {
                let body = c.buf.len() - 40;
                file.write_all(&c.buf[..body])?;
                repl.sync_read.fetch_add(body as i64, Relaxed);
                c.buf.clear();
                return Ok(());
            }
            if c.buf.len() > 40 {
                let n = c.buf.len() - 40;
                let part = c.buf.split_to(n);
                file.write_all(&part)?;
                repl.sync_read.fetch_add(n as i64, Relaxed);
            }
            c.fill().await?;
            repl.link_last_io_ms.store(now_ms(), Relaxed);
        }
    }
    let Ok(len) = size.parse::<u64>() else {
        return Err(LinkError::Master(format!("bad snapshot length from the master: {size}")));
    };
    repl.sync_size.store(len as i64, Relaxed);
    let mut left = len;
    loop {
        let n = (c.buf.len() as u64).min(left) as usize;
        if n > 0 {
            let part = c.buf.split_to(n);
            file.write_all(&part)?;
            left -= n as u64;
            repl.sync_read.fetch_add(n as i64, Relaxed);
        }
        if left == 0 {
            return Ok(());
        }
        c.fill().await?;
        repl.link_last_io_ms.store(now_ms(), Relaxed);
    }
}

/// Applies the master's stream until the link ends: batches of commands as they arrive,
/// REPLCONF GETACK answered in place, an ACK every second.
async fn apply_stream(local: &Rc<ShardLocal>, s: &mut Session, c: &mut Conn, gen: u64) -> Result<(), LinkError> {
    let shared = local.shared.clone();
    let repl = &shared.repl;
    let timeout = Duration::from_secs(shared.config.num(P::ReplTimeout).max(1) as u64);
    let mut parser = RequestParser::new();
    // The bytes read and not yet applied, kept whole to be passed on to this server's stream.
    let mut raw: Vec<u8> = Vec::new();
    let mut pending = 0usize;
    let mut last_ack = Instant::now() - Duration::from_secs(2);
    let mut last_read = Instant::now();
    let mut batch: Vec<Vec<Bytes>> = Vec::new();
    raw.extend_from_slice(&c.buf);
    loop {
        if repl.link_gen.load(Relaxed) != gen {
            return Err(LinkError::Replaced);
        }
        // Apply every complete command in the buffer; `raw` holds their bytes from 0 to
        // `applied`, the current batch's from `from`.
        let limits = Limits { max_bulk_len: i64::MAX, authenticated: true };
        let (mut applied, mut from) = (0usize, 0usize);
        loop {
            let before = c.buf.len();
            let cmd = parser.next(&mut c.buf, limits).map_err(|e| LinkError::Master(format!("protocol error from the master: {e}")))?;
            pending += before - c.buf.len();
            let Some(args) = cmd else { break };
            let size = std::mem::take(&mut pending);
            if args[0].eq_ignore_ascii_case(b"replconf") {
                // What came before is applied first: GETACK's answer counts it.
                apply(s, &mut batch, &raw[from..applied], &shared).await;
                if args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"getack")) {
                    let off = repl.offset();
                    c.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]).await?;
                    last_ack = Instant::now();
                }
                repl.feed_raw(&shared.config, &raw[applied..applied + size]);
                applied += size;
                from = applied;
                continue;
            }
            batch.push(args);
            applied += size;
            if batch.len() >= 1024 {
                apply(s, &mut batch, &raw[from..applied], &shared).await;
                from = applied;
            }
        }
        apply(s, &mut batch, &raw[from..applied], &shared).await;
        raw.drain(..applied);
        if last_ack.elapsed() >= Duration::from_secs(1) {
            let off = repl.offset();
            c.send(&[b"REPLCONF", b"ACK", off.to_string().as_bytes()]).await?;
            last_ack = Instant::now();
        }
        // Wait for bytes, at most until the next ACK is due.
        let wait = Duration::from_secs(1).saturating_sub(last_ack.elapsed()).max(Duration::from_millis(10));
        let mut timer = glommio::timer::Timer::new(wait);
        let scratch = &mut c.scratch;
        let stream = &mut c.stream;
        let read = poll_fn(|cx| {
            if let Poll::Ready(r) = Pin::new(&mut *stream).poll_read(cx, &mut scratch[..]) {
                return Poll::Ready(Some(r));
            }
            if std::future::Future::poll(Pin::new(&mut timer), cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        match read {
            Some(Ok(0)) => return Err(LinkError::Master("connection closed by the master".into())),
            Some(Ok(n)) => {
                c.buf.extend_from_slice(&c.scratch[..n]);
                raw.extend_from_slice(&c.scratch[..n]);
                last_read = Instant::now();
                repl.link_last_io_ms.store(now_ms(), Relaxed);
            }
            Some(Err(e)) => return Err(e.into()),
            None => {
                if last_read.elapsed() > timeout {
                    return Err(LinkError::Master("MASTER timeout: no data nor PING received...".into()));
                }
            }
        }
    }
}

/// Applies `batch` (the master's commands whose bytes are `bytes`) and passes the bytes on
/// to this server's stream.
async fn apply(s: &mut Session, batch: &mut Vec<Vec<Bytes>>, bytes: &[u8], shared: &Shared) {
    if !batch.is_empty() {
        crate::shard::execute_replies(s, batch).await;
        batch.clear();
    }
    if !bytes.is_empty() {
        shared.repl.feed_raw(&shared.config, bytes);
    }
}
