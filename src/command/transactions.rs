//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI opens a block in which the dispatcher queues commands (`+QUEUED`) instead of running
//! them; a command refused while queuing (unknown, wrong arity, not allowed) makes EXEC
//! discard the block. EXEC takes the locks of every key the queued commands (and WATCH)
//! name, on every shard, in the global order (see `shard::txn`), checks the WATCH flag, runs
//! the commands as one batch and releases: no other client's command runs on those keys in
//! between, on any shard. Errors inside EXEC are per command, without rollback.
//!
//! WATCH registers a flag with each watched key's shard; the shard sets it when the key is
//! written, deleted, expired, flushed or swapped away. A write that looked a key up for
//! writing but left it as it was may also set it (a spurious abort, never a missed one).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::error::{CmdError, CmdResult};
use super::flags::{ALLOW_BUSY, FAST, LOADING, NOSCRIPT, NOT_QUEUED, SKIP_SLOWLOG, STALE};
use super::{CommandSpec, Route};
use crate::protocol::Reply;
use crate::shard::{call, execute_held, route::by_shard, transaction_plan, under_locks, Session, WatchState};
use crate::store::now_ms;

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const TX: u32 = NOSCRIPT | LOADING | STALE;
/// Transaction commands Redis accepts while a script is busy.
const TX_BUSY: u32 = TX | ALLOW_BUSY;

/// The transaction commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, TX_BUSY | FAST | NOT_QUEUED | LOADING, NOKEY, "transactions", Route::Session(multi)).doc(
        "Starts a transaction.",
        "1.2.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("exec", 1, TX | NOT_QUEUED | SKIP_SLOWLOG | LOADING, NOKEY, "transactions", Route::Coordinator(exec)).doc(
        "Executes all commands in a transaction.",
        "1.2.0",
        "Depends on commands in the transaction",
        "",
    ),
    CommandSpec::new("discard", 1, TX_BUSY | FAST | NOT_QUEUED | LOADING, NOKEY, "transactions", Route::Session(discard)).doc(
        "Discards a transaction.",
        "2.0.0",
        "O(N), when N is the number of queued commands",
        "",
    ),
    CommandSpec::new("watch", -2, TX_BUSY | FAST | NOT_QUEUED | LOADING, (1, -1, 1), "transactions", Route::Coordinator(watch)).doc(
        "Monitors changes to keys to determine the execution of a transaction.",
        "2.2.0",
        "O(1) for every key.",
        "key...",
    ),
    CommandSpec::new("unwatch", 1, TX_BUSY | FAST | LOADING, NOKEY, "transactions", Route::Session(unwatch)).doc(
        "Forgets about watched keys of a transaction.",
        "2.2.0",
        "O(1)",
        "",
    ),
];

fn multi(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    if s.multi.is_some() {
        return Err(CmdError::other("MULTI calls can not be nested"));
    }
    s.begin_multi();
    Ok(Reply::OK)
}

fn discard(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    if s.end_multi().is_none() {
        return Err(CmdError::other("DISCARD without MULTI"));
    }
    s.unwatch();
    Ok(Reply::OK)
}

fn unwatch(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    s.unwatch();
    Ok(Reply::OK)
}

/// `WATCH key [key ...]`: registers the keys with their shards before replying, so any
/// later change aborts the next EXEC.
fn watch(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        if s.multi.is_some() {
            return Err(CmdError::other("WATCH inside MULTI is not allowed"));
        }
        let local = s.local.clone();
        let shards = local.shared.shards();
        let db = s.db;
        let w = s.watch.get_or_insert_with(|| WatchState { flag: Arc::new(AtomicBool::new(false)), keys: Vec::new() });
        let mut new = Vec::new();
        for k in &a[1..] {
            if !w.keys.iter().any(|(d, wk)| *d == db && wk == k) && !new.contains(k) {
                w.keys.push((db, k.clone()));
                new.push(k.clone());
            }
        }
        let registrations = by_shard(new, |k| k, shards).into_iter().map(|(sh, keys)| {
            let flag = w.flag.clone();
            call(&local, sh, move |l| {
                let mut st = l.store.borrow_mut();
                let now = now_ms();
                for k in &keys {
                    st.db(db).watch(k, flag.clone(), now);
                }
            })
        });
        futures::future::join_all(registrations).await;
        Ok(Reply::OK)
    })
}

/// `EXEC`: runs the queued commands atomically, or replies nil when a WATCHed key changed.
fn exec(s: &mut Session, _a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let Some(m) = s.end_multi() else {
            return Err(CmdError::other("EXEC without MULTI"));
        };
        if m.failed {
            s.unwatch();
            return Err(CmdError::ExecAbort);
        }
        let local = s.local.clone();
        let shards = local.shared.shards();
        let watched: Vec<Bytes> = s.watch.as_ref().map(|w| w.keys.iter().map(|(_, k)| k.clone()).collect()).unwrap_or_default();
        let plan = transaction_plan(shards, &m.queued, &watched);
        let reply = under_locks(&local, plan, async {
            if watched_key_changed(s).await {
                Reply::NilArray
            } else {
                s.in_exec = true;
                // Its writes on every shard are written as one MULTI/EXEC block.
                let id = s.meta.id;
                s.local.aof_capture_begin(id);
                let replies = execute_held(s, m.queued).await;
                s.local.aof_commit(id);
                s.in_exec = false;
                Reply::Array(replies)
            }
        })
        .await;
        s.unwatch();
        Ok(reply)
    })
}

/// Whether a WATCHed key changed since WATCH. Run under the locks: keys whose time passed
/// are reclaimed first (their expiry is a change), then the flag is read.
async fn watched_key_changed(s: &Session) -> bool {
    let Some(w) = &s.watch else { return false };
    if w.flag.load(Relaxed) {
        return true;
    }
    let checks = by_shard(w.keys.iter().cloned(), |(_, k)| k, s.local.shared.shards()).into_iter().map(|(sh, keys)| {
        call(&s.local, sh, move |l| {
            let mut st = l.store.borrow_mut();
            let now = now_ms();
            for (db, k) in &keys {
                st.db(*db).contains(k, now);
            }
        })
    });
    futures::future::join_all(checks).await;
    w.flag.load(Relaxed)
}
