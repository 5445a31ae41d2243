//! The network front end: listeners (TCP, and the `unixsocket`) and the per-connection loop
//! (read, parse a batch, execute, one write of all replies).

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::BytesMut;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use futures::future::poll_fn;
use futures::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};

use crate::command::CmdError;
use crate::protocol::{Limits, Reply, RequestParser};
use crate::shard::{execute_batch, Msg, Session, ShardLocal};

/// Bytes read per socket read.
/// Bytes a connection reads at a time (its read buffer's size).
pub const READ_CHUNK: usize = 16 * 1024;

/// Accepts connections and hands each to the next shard in round-robin order.
pub async fn accept_loop(local: Rc<ShardLocal>, listener: TcpListener) {
    let shared = local.shared.clone();
    loop {
        let conn = match listener.shared_accept().await {
            Ok(c) => c,
            Err(e) => {
                if shared.shutting_down.load(Relaxed) {
                    return;
                }
                log::warn!("accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.stats.connections_received.fetch_add(1, Relaxed);
        let target = shared.next_conn_shard.fetch_add(1, Relaxed) % shared.shards();
        if target == local.id {
            local.spawn(serve(local.clone(), conn.bind_to_executor()));
        } else {
            shared.mailboxes[target].push(Msg::Adopt(conn));
        }
    }
}

/// Serves one client connection until it closes.
pub async fn serve(local: Rc<ShardLocal>, mut stream: TcpStream) {
    let shared = local.shared.clone();
    let connected = shared.stats.connected_clients.fetch_add(1, Relaxed) + 1;
    let _guard = ConnectedGuard(shared.clone());
    if connected as i64 > shared.config.num(crate::config::P::Maxclients) {
        shared.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        return;
    }
    let _ = stream.set_nodelay(true);
    let timeout = shared.config.num(crate::config::P::Timeout);
    if timeout > 0 {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(timeout as u64)));
    }
    // A connection without an inet address came through the `unixsocket` (see shard::start):
    // Redis names both ends `<path>:0`.
    let (addr, laddr) = match (stream.peer_addr(), stream.local_addr()) {
        (Ok(p), Ok(l)) => (p.to_string(), l.to_string()),
        _ => {
            let unix = format!("{}:0", shared.config.text(crate::config::P::Unixsocket));
            (unix.clone(), unix)
        }
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let mut session = Session::new(local.clone(), addr, laddr, fd);
    let push = session.push.clone();
    let gone = session.gone.clone();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut scratch = vec![0u8; READ_CHUNK].into_boxed_slice();
    let mut parser = RequestParser::new();
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut cmds: Vec<Vec<bytes::Bytes>> = Vec::new();
    let limit = |shared: &crate::shard::Shared| shared.config.num(crate::config::P::ClientQueryBufferLimit);
    // Set when requests arrived while a batch ran: parse them before waiting again.
    let mut have_input = false;
    loop {
        // Wait for requests or for pushed output (pub/sub messages), whichever comes first.
        // Reading into a reused scratch buffer and copying only what arrived is cheaper than
        // zero-filling fresh buffer space on every read.
        let event = poll_fn(|cx| {
            if push.ready() || std::mem::take(&mut have_input) {
                return Poll::Ready(None);
            }
            match Pin::new(&mut stream).poll_read(cx, &mut scratch[..]) {
                Poll::Ready(r) => Poll::Ready(Some(r)),
                Poll::Pending => {
                    push.register(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await;
        match event {
            None => {}
            Some(Ok(0) | Err(_)) => break,
            Some(Ok(n)) => {
                session.local.count_net(n as u64, 0);
                buf.extend_from_slice(&scratch[..n]);
            }
        }
        if session.meta.killed.load(Relaxed) || push.overflowed() {
            break;
        }
        if buf.len() as i64 > limit(&shared) {
            log::warn!("closing client {} that reached max query buffer length", session.meta.addr);
            break;
        }
        let mut fatal = None;
        loop {
            let limits =
                Limits { max_bulk_len: shared.config.num(crate::config::P::ProtoMaxBulkLen), authenticated: session.authenticated };
            match parser.next(&mut buf, limits) {
                Ok(Some(args)) => {
                    cmds.push(args);
                    // Before authentication, run one command at a time: AUTH changes the limits.
                    if !session.authenticated {
                        execute_batch(&mut session, &mut cmds, &mut out).await;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            }
        }
        if !cmds.is_empty() {
            // While the batch waits (remote shards, a blocked command), keep reading: a
            // closed connection ends a blocked wait, and what arrives is kept for later.
            let mut batch = std::pin::pin!(execute_batch(&mut session, &mut cmds, &mut out));
            let mut eof = false;
            poll_fn(|cx| loop {
                if batch.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                if eof {
                    return Poll::Pending;
                }
                match Pin::new(&mut stream).poll_read(cx, &mut scratch[..]) {
                    Poll::Ready(Ok(n)) if n > 0 && (buf.len() as i64) < limit(&shared) => {
                        local.count_net(n as u64, 0);
                        buf.extend_from_slice(&scratch[..n]);
                        have_input = true;
                    }
                    Poll::Ready(_) => {
                        eof = true;
                        gone.set(true);
                    }
                    Poll::Pending => return Poll::Pending,
                }
            })
            .await;
            if eof {
                break;
            }
        }
        if let Some(e) = fatal {
            log::debug!("protocol error from client {}: {e}", session.meta.addr);
            crate::protocol::encode(&Reply::from(CmdError::Line(e.to_string().into())), session.resp3, &mut out);
            session.close = true;
        }
        if session.close && shared.shutting_down.load(Relaxed) {
            // SHUTDOWN: like Redis, close without a reply.
            break;
        }
        // Pushed messages go after the replies of the batch that subscribed to them.
        push.drain_into(&mut out);
        if !out.is_empty() {
            session.local.count_net(0, out.len() as u64);
            if !write_out(&mut stream, &mut out, &push).await {
                break;
            }
            if out.capacity() > 4 * READ_CHUNK {
                out = Vec::with_capacity(READ_CHUNK);
            }
        }
        if session.close || session.meta.killed.load(Relaxed) || push.overflowed() {
            break;
        }
        if cmds.capacity() > 1024 {
            // A long pipeline's command list is not kept: memory is counted against maxmemory.
            cmds = Vec::new();
        }
        if buf.capacity() > 4 * READ_CHUNK && buf.is_empty() && !parser.in_progress() {
            buf = BytesMut::with_capacity(READ_CHUNK);
        }
    }
    // Unregister before closing so CLIENT KILL never shuts down a reused descriptor.
    drop(session);
    let _ = stream.close().await;
}

/// Writes all of `out` (then clears it); false when the connection failed, or when the
/// client passed its output limit while the write waited (a subscriber that stopped reading
/// must not hold its task).
async fn write_out(stream: &mut TcpStream, out: &mut Vec<u8>, push: &crate::shard::Pushes) -> bool {
    let mut done = 0;
    while done < out.len() {
        let r = poll_fn(|cx| {
            if push.overflowed() {
                return Poll::Ready(Err(()));
            }
            match Pin::new(&mut *stream).poll_write(cx, &out[done..]) {
                Poll::Ready(Ok(n)) if n > 0 => Poll::Ready(Ok(n)),
                Poll::Ready(_) => Poll::Ready(Err(())),
                Poll::Pending => {
                    push.register(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await;
        match r {
            Ok(n) => done += n,
            Err(()) => return false,
        }
    }
    out.clear();
    true
}

struct ConnectedGuard(std::sync::Arc<crate::shard::Shared>);

impl Drop for ConnectedGuard {
    fn drop(&mut self) {
        self.0.stats.connected_clients.fetch_sub(1, Relaxed);
    }
}
