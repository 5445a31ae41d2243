//! The two phases of atomic work across shards.
//!
//! Phase one: [`lock_all`] takes an owner's locks shard by shard in ascending shard id (each
//! shard's [`LockTable`](super::locks::LockTable) orders its keys), waiting where another
//! owner got there first. Phase two: the owner's commands run, sent as [`Held`](super::Held)
//! jobs that skip the lock checks; then [`unlock_all`] releases. Nothing is released before
//! everything is held, so the outcome is serializable; the one order means no deadlock.
//!
//! A split multi-key command (MSET, MGET, DEL...) folds the phases together: one
//! [`Msg::LockRun`] per shard, in shard order, takes that shard's locks and runs its part as
//! soon as they are granted; the last shard releases at once, the others after.
//!
//! Plain commands never take locks while the table is idle; when it is not, a command whose
//! key is held or awaited becomes a one-command owner of its keys ([`run_when_free`]), so it
//! runs in its arrival turn and sees either none or all of a transaction.
//!
//! ```text
//!  EXEC on shard 2                     shard 0             shard 1
//!   lock keys on 0  ---- Lock ------>  grant
//!   lock keys on 1  ---- Lock -------------------------->  grant (after earlier owners)
//!   run commands    ---- Exec(Held) -> run      ------>    run
//!   release         ---- Unlock ---->  next owner ----->   next owner
//! ```

use std::future::Future;
use std::rc::Rc;

use bytes::Bytes;
use futures::channel::oneshot;

use super::locks::{Owner, Want};
use super::route::by_shard;
use super::{Msg, ShardLocal};
use crate::command::{CommandSpec, ShardFn};
use crate::protocol::Reply;

/// What one owner locks: for each shard involved, in ascending shard order, what it wants.
pub type LockPlan = Vec<(usize, Want<Bytes>)>;

/// The lock plan for `keys` (any order, repeats allowed), or for every shard whole when `all`.
pub fn lock_plan<'a>(shards: usize, keys: impl IntoIterator<Item = &'a Bytes>, all: bool) -> LockPlan {
    if all {
        return (0..shards).map(|sh| (sh, Want::All)).collect();
    }
    by_shard(keys.into_iter().cloned(), |k| k, shards).into_iter().map(|(sh, ks)| (sh, Want::Keys(ks))).collect()
}

/// Phase one: takes `plan` for `owner`, one shard after another in shard order, waiting
/// for each shard's grant before asking the next.
pub async fn lock_all(local: &Rc<ShardLocal>, owner: Owner, plan: LockPlan) {
    debug_assert!(plan.windows(2).all(|w| w[0].0 < w[1].0), "shards in ascending order");
    for (shard, want) in plan {
        let rx = if shard == local.id {
            match local.lock_here(owner, want) {
                None => continue,
                Some(rx) => rx,
            }
        } else {
            let (granted, rx) = oneshot::channel();
            local.shared.mailboxes[shard].push(Msg::Lock { owner, want, granted });
            rx
        };
        if rx.await.is_err() {
            // The shard stopped: the server is shutting down and this task ends with it.
            futures::future::pending::<()>().await;
        }
    }
}

/// Releases `owner`'s locks on `shards` (without waiting for remote shards).
pub fn unlock_all(local: &Rc<ShardLocal>, owner: Owner, shards: impl IntoIterator<Item = usize>) {
    for sh in shards {
        if sh == local.id {
            local.unlock(owner);
        } else {
            local.shared.mailboxes[sh].push(Msg::Unlock(owner));
        }
    }
}

/// Runs `work` as a new owner of `plan`'s locks: phase one, then the work, then the
/// release. An empty plan runs it at once.
pub async fn under_locks<T>(local: &Rc<ShardLocal>, plan: LockPlan, work: impl Future<Output = T>) -> T {
    if plan.is_empty() {
        return work.await;
    }
    let owner = local.new_owner();
    let shards: Vec<usize> = plan.iter().map(|p| p.0).collect();
    lock_all(local, owner, plan).await;
    let out = work.await;
    unlock_all(local, owner, shards);
    out
}

/// Runs a plain command on this shard (which owns its keys) in its turn: at once when none
/// of its keys is held or awaited, else after the owners that came first.
pub async fn run_when_free(
    local: &Rc<ShardLocal>,
    spec: &'static CommandSpec,
    handler: ShardFn,
    db: usize,
    args: &[Bytes],
    resp3: bool,
) -> Reply {
    let plan = if local.keys_free(spec, args) {
        Vec::new()
    } else {
        vec![(local.id, Want::Keys(spec.key_positions(args).map(|i| args[i].clone()).collect()))]
    };
    under_locks(local, plan, async { local.run(handler, db, args, spec, crate::store::now_ms(), resp3, super::Caller::NONE) }).await
}
