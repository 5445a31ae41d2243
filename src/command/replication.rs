//! Replication commands ([`crate::repl`]): REPLICAOF/SLAVEOF, ROLE, WAIT, and what a
//! replica sends its master (REPLCONF, PSYNC, SYNC).

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::args::{eq_ic, parse_int};
use super::error::{CmdError, CmdResult};
use super::flags::{ADMIN, FAST, LOADING, NOSCRIPT, NO_MULTI, STALE};
use super::{CommandSpec, Route};
use crate::protocol::Reply;
use crate::repl::{link, master, LinkState, Role};
use crate::shard::Session;

const NOKEY: (i32, i32, i32) = (0, 0, 0);

/// The replication commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_MULTI, NOKEY, "server", Route::Coordinator(replicaof)).doc(
        "Configures a server as replica of another, or promotes it to a master.",
        "5.0.0",
        "O(1)",
        "host port",
    ),
    CommandSpec::new("slaveof", 3, ADMIN | NOSCRIPT | STALE | NO_MULTI, NOKEY, "server", Route::Coordinator(replicaof)).doc(
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
        "1.0.0",
        "O(1)",
        "host port",
    ),
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, NOKEY, "server", Route::Session(role)).doc(
        "Returns the replication role.",
        "2.8.12",
        "O(1)",
        "",
    ),
    CommandSpec::new("wait", 3, NOSCRIPT, NOKEY, "generic", Route::Coordinator(wait)).doc(
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
        "3.0.0",
        "O(1)",
        "numreplicas timeout",
    ),
    CommandSpec::new("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE, NOKEY, "server", Route::Session(replconf)).doc(
        "An internal command for configuring the replication stream.",
        "3.0.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, NOKEY, "server", Route::Session(psync)).doc(
        "An internal command used in replication.",
        "2.8.0",
        "",
        "replicationid offset",
    ),
    CommandSpec::new("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, NOKEY, "server", Route::Session(sync)).doc(
        "An internal command used in replication.",
        "1.0.0",
        "",
        "",
    ),
];

/// `REPLICAOF host port | NO ONE` (and SLAVEOF).
fn replicaof(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        if eq_ic(&a[1], "no") && eq_ic(&a[2], "one") {
            link::become_master(&s.local).await;
            return Ok(Reply::OK);
        }
        let port = parse_int(&a[2])?;
        let port = u16::try_from(port).map_err(|_| CmdError::other("Invalid master port"))?;
        let host = String::from_utf8_lossy(&a[1]).into_owned();
        if s.local.shared.repl.role() == Role::Replica(host.clone(), port) {
            return Ok(Reply::Status("OK Already connected to specified master"));
        }
        link::become_replica(&s.local, host, port).await;
        Ok(Reply::OK)
    })
}

/// `ROLE`: `master, offset, [[ip, port, offset]...]` or `slave, host, port, state, offset`.
fn role(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    let repl = &s.local.shared.repl;
    let b = |v: String| Reply::Bulk(Bytes::from(v));
    Ok(match repl.role() {
        Role::Master => {
            let replicas = repl.replicas.lock().expect("replicas lock").clone();
            let list = replicas
                .iter()
                .filter(|r| !r.is_closed())
                .map(|r| Reply::Array(vec![b(r.ip.clone()), b(r.port.load(Relaxed).to_string()), b(r.ack.load(Relaxed).to_string())]))
                .collect();
            Reply::Array(vec![b("master".into()), Reply::Int(repl.offset()), Reply::Array(list)])
        }
        Role::Replica(host, port) => {
            let state = repl.link_state();
            let off = if state == LinkState::Connected { repl.offset() } else { -1 };
            Reply::Array(vec![b("slave".into()), b(host), Reply::Int(i64::from(port)), b(state.name().into()), Reply::Int(off)])
        }
    })
}

/// `WAIT numreplicas timeout`: once the writes so far are in the stream, waits until that
/// many replicas acknowledged them (or the timeout, ms, 0: forever); replies how many did.
fn wait(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let shared = s.local.shared.clone();
        let repl = &shared.repl;
        if repl.is_replica.load(Relaxed) {
            return Err(CmdError::other("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
        }
        let want = parse_int(&a[1])?;
        let timeout = parse_int(&a[2])?;
        if timeout < 0 {
            return Err(CmdError::other("timeout is negative"));
        }
        s.local.aof_write_now();
        let target = repl.offset();
        let done = repl.acked(target);
        if done as i64 >= want || s.in_exec {
            return Ok(Reply::Int(done as i64));
        }
        repl.feed_raw(&shared.config, b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
        let until = (timeout > 0).then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout as u64));
        loop {
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            let done = repl.acked(target);
            if done as i64 >= want || until.is_some_and(|u| std::time::Instant::now() >= u) || s.gone.get() {
                return Ok(Reply::Int(done as i64));
            }
        }
    })
}

/// `REPLCONF option value ...`: what a replica tells its master before PSYNC
/// (listening-port, ip-address, capa), and ACKs (no reply).
fn replconf(s: &mut Session, a: &[Bytes]) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut i = 1;
    while i < a.len() {
        let (opt, val) = (&a[i], &a[i + 1]);
        if eq_ic(opt, "listening-port") {
            s.replica_hello.port = parse_int(val)?;
        } else if eq_ic(opt, "ip-address") {
            s.replica_hello.ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "ack") || eq_ic(opt, "fack") || eq_ic(opt, "getack") {
            // From a replica's link these are handled by its reader; here there is
            // nothing to acknowledge.
            return Ok(Reply::Raw(Bytes::new()));
        } else if !(eq_ic(opt, "capa") || eq_ic(opt, "rdb-only") || eq_ic(opt, "rdb-filter-only")) {
            return Err(CmdError::Line(format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(opt)).into()));
        }
        i += 2;
    }
    Ok(Reply::OK)
}

/// `PSYNC replid offset`: the connection becomes a replica's (see [`master::attach`]).
fn psync(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let offset = parse_int(&a[2])?;
    hand_over(s, Some((String::from_utf8_lossy(&a[1]).into_owned(), offset)))
}

/// `SYNC`: a full sync without PSYNC's first line.
fn sync(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    hand_over(s, None)
}

fn hand_over(s: &mut Session, psync: Option<(String, i64)>) -> CmdResult {
    if let Some(e) = master::refusal(&s.local.shared) {
        return Err(CmdError::Line(e.into()));
    }
    if s.handoff.is_some() {
        return Ok(Reply::Raw(Bytes::new()));
    }
    let mut h = s.replica_hello.clone();
    h.psync = psync;
    s.handoff = Some(h);
    Ok(Reply::Raw(Bytes::new()))
}
