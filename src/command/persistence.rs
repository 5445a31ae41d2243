//! SAVE, BGSAVE, LASTSAVE: snapshots to the RDB file ([`crate::persist::snapshot`]);
//! BGREWRITEAOF: a rewrite of the append-only file ([`crate::persist::aof::rewrite`]).

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::args::eq_ic;
use super::error::{CmdError, CmdResult};
use super::flags::{ADMIN, FAST, LOADING, NOSCRIPT, NO_MULTI, RANDOM, STALE};
use super::{CommandSpec, Route};
use crate::persist::snapshot::{self, SaveError};
use crate::protocol::Reply;
use crate::shard::Session;

const NOKEY: (i32, i32, i32) = (0, 0, 0);

/// The snapshot commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, ADMIN | NOSCRIPT | NO_MULTI, NOKEY, "server", Route::Coordinator(save)).doc(
        "Synchronously saves the database(s) to disk.",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        "",
    ),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT, NOKEY, "server", Route::Session(bgsave)).doc(
        "Asynchronously saves the database(s) to disk.",
        "1.0.0",
        "O(1)",
        "[SCHEDULE]",
    ),
    CommandSpec::new("bgrewriteaof", 1, ADMIN | NOSCRIPT, NOKEY, "server", Route::Session(bgrewriteaof)).doc(
        "Asynchronously rewrites the append-only file to disk.",
        "1.0.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("lastsave", 1, LOADING | STALE | FAST | RANDOM, NOKEY, "server", Route::Session(lastsave)).doc(
        "Returns the Unix timestamp of the last successful save to disk.",
        "1.0.0",
        "O(1)",
        "",
    ),
];

/// `SAVE`: writes a snapshot and replies when it is on disk. Unlike Redis's, other clients
/// are served meanwhile: the snapshot needs no stop.
fn save(s: &mut Session, _a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        match snapshot::save(&s.local, false).await {
            Ok(()) => Ok(Reply::OK),
            Err(SaveError::InProgress) => Err(CmdError::other("Background save already in progress")),
            Err(_) => Err(CmdError::Line("ERR".into())),
        }
    })
}

/// `BGSAVE [SCHEDULE]`: starts a snapshot and replies at once.
fn bgsave(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let schedule = match a.get(1) {
        None => false,
        Some(o) if a.len() == 2 && eq_ic(o, "schedule") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let state = &s.local.shared.save;
    if state.in_progress.load(std::sync::atomic::Ordering::Relaxed) {
        if schedule {
            state.scheduled.store(true, std::sync::atomic::Ordering::Relaxed);
            return Ok(Reply::Status("Background saving scheduled"));
        }
        return Err(CmdError::other("Background save already in progress"));
    }
    snapshot::start_background(&s.local);
    Ok(Reply::Status("Background saving started"))
}

/// `LASTSAVE`.
fn lastsave(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(s.local.shared.save.last_save() as i64))
}

/// `BGREWRITEAOF`: starts a rewrite, or schedules it after the snapshot under way.
fn bgrewriteaof(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    use std::sync::atomic::Ordering::Relaxed;
    let shared = &s.local.shared;
    if shared.aof.rewrite_in_progress.load(Relaxed) || shared.aof.rewrite_scheduled.load(Relaxed) {
        return Err(CmdError::other("Background append only file rewriting already in progress"));
    }
    let busy = shared.save.in_progress.load(Relaxed);
    shared.aof.rewrite_scheduled.store(busy, Relaxed);
    s.local.spawn(crate::persist::aof::rewrite::rewrite(s.local.clone()));
    Ok(Reply::Status(if busy {
        "Background append only file rewriting scheduled"
    } else {
        "Background append only file rewriting started"
    }))
}
