//! How a command reaches its shard.
//!
//! A pipeline batch is planned in order. Each command is resolved in the command table
//! (name, subcommand, arity, auth), then routed by its route and key positions:
//! - keys all on this shard: run inline now;
//! - keys all on one other shard: queued into that shard's job group for this batch;
//! - keys on several shards: atomically, under the locks of all its keys ([`super::txn`]):
//!   split per shard and merged (MGET, DEL, MSET...), or run by [`materialize`] (copy the
//!   keys here, run, write the results back);
//! - session commands (SELECT, HELLO...) run inline; coordinating commands (SCAN, FLUSHDB...)
//!   first wait for everything queued before them, then run (whole-keyspace ones with every
//!   shard locked whole);
//! - inside MULTI, commands are queued instead; EXEC runs them as one [`Mode::Held`] batch
//!   once their owner holds every lock they need.
//!
//! Job groups go out as one message per destination shard; replies are put back in request
//! order before the batch's single write.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::channel::oneshot;

use super::blocking::{unpark_everywhere, Outcome, Waiter};
use super::locks::Want;
use super::txn::{lock_all, lock_plan, run_when_free, under_locks, unlock_all};
use super::{call, call_all, into_reply, Held, Job, Msg, Session, ShardCtx, ShardLocal};
use crate::command::blocking::parse_timeout;
use crate::command::{flags, lookup, CmdError, CommandSpec, Merge, Route, ShardFn};
use crate::protocol::{encode, Reply};
use crate::store::{now_ms, Entry, Store};

use super::route::key_shard;

/// Where one command's reply will come from.
enum Pending {
    Ready(Reply),
    Remote { shard: usize, idx: usize },
    Merge { merge: Merge, nunits: usize, parts: Vec<Part> },
}

/// One shard's share of a split multi-key command.
struct Part {
    src: Pending,
    /// Position of each of the part's key units in the original command.
    units: Vec<usize>,
}

/// Whether a batch's commands take their turn at the locks or run for an owner of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Plain client commands.
    Plain,
    /// The body of a transaction whose owner holds every lock it needs.
    Held,
}

/// A batch's reply slots, kept on the session between batches so that a batch does not
/// allocate them (up to [`SLOTS_KEPT`] of them).
#[derive(Default)]
pub(crate) struct SlotBuf(Vec<(Pending, Emit)>);

/// How a slot's reply is written: in RESP2, in RESP3, or not at all (CLIENT REPLY OFF/SKIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// RESP2.
    Resp2,
    /// RESP3.
    Resp3,
    /// Not written (CLIENT REPLY OFF / SKIP), except pushes (subscription confirmations),
    /// which are written in RESP3 or not.
    Silent(bool),
}

/// Whether a reply is out-of-band pushes only (SUBSCRIBE's confirmations).
fn is_push(r: &Reply) -> bool {
    match r {
        Reply::Push(_) => true,
        Reply::Seq(v) => !v.is_empty() && v.iter().all(is_push),
        _ => false,
    }
}

/// Most slots a session keeps between batches (a longer pipeline allocates its own).
const SLOTS_KEPT: usize = 1024;

impl std::fmt::Debug for SlotBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBuf({} kept)", self.0.capacity())
    }
}

struct Batch {
    mode: Mode,
    /// The session's frozen clock (a script's), passed to the shards the batch visits.
    at: Option<u64>,
    slots: Vec<(Pending, Emit)>,
    groups: Vec<Vec<Job>>,
    counts: Vec<usize>,
    inflight: Vec<(usize, oneshot::Receiver<Vec<Reply>>)>,
    done: Vec<Vec<Option<Reply>>>,
}

impl Batch {
    /// An empty plan for `commands` commands, its slots in `slots` (empty); the per-shard
    /// vectors are allocated only when a command is first sent to another shard.
    fn new(mut slots: Vec<(Pending, Emit)>, commands: usize, mode: Mode) -> Self {
        slots.reserve(commands);
        Batch { mode, at: None, slots, groups: Vec::new(), counts: Vec::new(), inflight: Vec::new(), done: Vec::new() }
    }

    fn queue(&mut self, shards: usize, shard: usize, job: Job) -> Pending {
        if self.groups.is_empty() {
            self.groups = (0..shards).map(|_| Vec::new()).collect();
            self.counts = vec![0; shards];
            self.done = (0..shards).map(|_| Vec::new()).collect();
        }
        self.groups[shard].push(job);
        self.counts[shard] += 1;
        Pending::Remote { shard, idx: self.counts[shard] - 1 }
    }

    /// Sends every queued group and waits for all replies so far.
    async fn flush(&mut self, local: &ShardLocal) {
        let held = if self.mode == Mode::Held { Held::Yes } else { Held::No };
        for (shard, group) in self.groups.iter_mut().enumerate() {
            if group.is_empty() {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            let jobs = std::mem::take(group);
            local.shared.mailboxes[shard].push(Msg::Exec { origin: local.id, jobs, reply: tx, held, at: self.at });
            self.inflight.push((shard, rx));
        }
        for (shard, rx) in self.inflight.drain(..) {
            match rx.await {
                Ok(replies) => self.done[shard].extend(replies.into_iter().map(Some)),
                // The shard stopped: the server is shutting down and this task ends with it.
                Err(_) => futures::future::pending::<()>().await,
            }
        }
    }

    /// The replies of a flushed batch, in order. (A new vector: collecting in place would
    /// shrink the slots' allocation with a `realloc`, which costs more.)
    fn replies(mut self) -> Vec<Reply> {
        let slots = std::mem::take(&mut self.slots);
        let mut out = Vec::with_capacity(slots.len());
        for (p, _) in slots {
            out.push(self.take(p));
        }
        out
    }

    /// The reply of one slot of a flushed batch.
    fn take(&mut self, p: Pending) -> Reply {
        match p {
            Pending::Ready(r) => r,
            Pending::Remote { shard, idx } => self.done[shard][idx].take().expect("reply present"),
            Pending::Merge { merge, nunits, parts } => {
                let parts: Vec<(Reply, Vec<usize>)> = parts.into_iter().map(|p| (self.take(p.src), p.units)).collect();
                merge_replies(merge, nunits, parts)
            }
        }
    }
}

fn merge_replies(merge: Merge, nunits: usize, parts: Vec<(Reply, Vec<usize>)>) -> Reply {
    if let Some((err, _)) = parts.iter().find(|(r, _)| r.is_error()) {
        return err.clone();
    }
    match merge {
        Merge::SumInts => Reply::Int(parts.iter().map(|(r, _)| if let Reply::Int(i) = r { *i } else { 0 }).sum()),
        Merge::AllOk => Reply::OK,
        Merge::Gather => {
            let mut out = vec![Reply::Nil; nunits];
            for (r, units) in parts {
                if let Reply::Array(items) = r {
                    for (item, u) in items.into_iter().zip(units) {
                        out[u] = item;
                    }
                }
            }
            Reply::Array(out)
        }
    }
}

/// Whether a command must be answered `-BUSY` while a script runs past its time limit:
/// every command under `busy-reply-scope all` (Redis's behaviour, the default); under
/// `held`, one without keys, another script, or one whose keys on this shard are held (by
/// the script, or by someone waiting behind it), keys of other shards being checked there.
fn busy_blocks(local: &ShardLocal, spec: &CommandSpec, args: &[Bytes]) -> bool {
    if local.shared.config.num(crate::config::P::BusyReplyScope) == 0 {
        return true;
    }
    let mut keys = spec.key_positions(args).peekable();
    if keys.peek().is_none() || spec.flags & flags::SCRIPT != 0 {
        return true;
    }
    let locks = local.locks.borrow();
    let shards = local.shared.shards();
    keys.any(|i| key_shard(&args[i], shards) == local.id && !locks.is_free(&args[i]))
}

/// Whether the server's state refuses `spec` now, as Redis's `processCommand` does: writes
/// (and PING) while snapshots fail under `stop-writes-on-bgsave-error` (`MISCONF`), and
/// every command without the `loading` flag while the RDB file loads (`LOADING`). Two
/// relaxed loads in the common case.
fn state_refusal(local: &ShardLocal, s: &Session, spec: &'static CommandSpec) -> Option<CmdError> {
    if s.replaying {
        return None;
    }
    let save = &local.shared.save;
    let queued_lack = |f: u32, want: bool| {
        spec.name == "exec"
            && s.multi.as_ref().is_some_and(|m| m.queued.iter().any(|q| lookup(q).is_ok_and(|c| (c.flags & f != 0) == want)))
    };
    if save.writes_refused(&local.shared.config)
        && (spec.flags & flags::WRITE != 0 || spec.name == "ping" || queued_lack(flags::WRITE, true))
    {
        return Some(CmdError::Misconf);
    }
    if save.loading.load(Relaxed) && (spec.flags & flags::LOADING == 0 || queued_lack(flags::LOADING, false)) {
        return Some(CmdError::Loading);
    }
    None
}

/// A command that may not run while data loads first waits a moment for the load to end:
/// Redis serves clients during a load only between 2 MB steps
/// (`loading-process-events-interval-bytes`), so a client of a small load never sees
/// LOADING; a longer load answers LOADING after this wait.
async fn wait_loaded(local: &ShardLocal) {
    const WAIT: std::time::Duration = std::time::Duration::from_millis(200);
    let until = std::time::Instant::now() + WAIT;
    while local.shared.save.loading.load(Relaxed) && std::time::Instant::now() < until {
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
}

/// Resolves a command in the table and checks arity and authentication.
fn resolve(s: &Session, args: &[Bytes]) -> Result<&'static CommandSpec, Reply> {
    let spec = lookup(args).map_err(Reply::from)?;
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::Arity(spec.name.into()).into());
    }
    if !s.authenticated && !spec.no_auth() {
        return Err(CmdError::NoAuth.into());
    }
    Ok(spec)
}

/// Runs one pipeline batch (draining `cmds`, whose capacity the caller reuses) and appends
/// the encoded replies, in order, to `out`.
pub async fn execute_batch(s: &mut Session, cmds: &mut Vec<Vec<Bytes>>, out: &mut Vec<u8>) {
    let mut b = run_batch(s, cmds, Mode::Plain).await;
    let mut slots = std::mem::take(&mut b.slots);
    for (p, emit) in slots.drain(..) {
        let reply = b.take(p);
        match emit {
            Emit::Resp2 => encode(&reply, false, out),
            Emit::Resp3 => encode(&reply, true, out),
            Emit::Silent(resp3) => {
                if is_push(&reply) {
                    encode(&reply, resp3, out);
                }
            }
        }
    }
    if slots.capacity() <= SLOTS_KEPT {
        s.slots.0 = slots;
    }
    // The batch's writes are in the file before its replies leave.
    s.local.aof_write_now();
}

/// Runs one pipeline batch and returns the replies in order (the in-process engine's path).
pub async fn execute_replies(s: &mut Session, cmds: &mut Vec<Vec<Bytes>>) -> Vec<Reply> {
    run_batch(s, cmds, Mode::Plain).await.replies()
}

/// Runs a transaction's queued commands for an owner that already holds every lock they
/// need, and returns their replies in order (EXEC).
pub async fn execute_held(s: &mut Session, mut cmds: Vec<Vec<Bytes>>) -> Vec<Reply> {
    run_batch(s, &mut cmds, Mode::Held).await.replies()
}

/// What EXEC must lock for `cmds` (all already resolved when queued): their keys, plus
/// `extra` keys (the WATCHed ones), or every shard whole when one reads or writes the whole
/// keyspace.
pub fn transaction_plan(shards: usize, cmds: &[Vec<Bytes>], extra: &[Bytes]) -> super::LockPlan {
    let mut keys: Vec<Bytes> = extra.to_vec();
    for args in cmds {
        let Ok(spec) = lookup(args) else { continue };
        if spec.whole_keyspace() || spec.flags & flags::SCRIPT != 0 {
            return lock_plan(shards, [], true);
        }
        keys.extend(spec.key_positions(args).map(|i| args[i].clone()));
    }
    lock_plan(shards, &keys, false)
}

/// The reply to a command sent inside MULTI, or `None` when it runs now (EXEC, DISCARD...).
fn queue_in_multi(s: &mut Session, resolved: &Result<&'static CommandSpec, Reply>, args: &mut Vec<Bytes>) -> Option<Reply> {
    let m = s.multi.as_mut()?;
    match resolved {
        Err(e) => {
            m.failed = true;
            Some(e.clone())
        }
        Ok(spec) if spec.flags & flags::NOT_QUEUED != 0 => None,
        Ok(spec) if spec.flags & flags::NO_MULTI != 0 => {
            m.failed = true;
            Some(CmdError::other("Command not allowed inside a transaction").into())
        }
        Ok(_) => {
            s.queue(std::mem::take(args));
            Some(Reply::Status("QUEUED"))
        }
    }
}

/// Plans and runs `cmds` (draining it); the returned batch has every reply in hand, in
/// request order in its slots.
async fn run_batch(s: &mut Session, cmds: &mut Vec<Vec<Bytes>>, mode: Mode) -> Batch {
    let local = s.local.clone();
    let mut b = Batch::new(std::mem::take(&mut s.slots.0), cmds.len(), mode);
    b.at = s.clock;
    let now = s.clock.unwrap_or_else(now_ms);
    for mut args in cmds.drain(..) {
        if s.close {
            break;
        }
        s.meta.last_ms.store(now, Relaxed);
        let mut resolved = resolve(s, &args);
        if let Ok(spec) = resolved {
            // Over maxmemory: shards evict; a command that may grow memory is refused when
            // nothing may be evicted (always under noeviction).
            let grows = spec.flags & flags::DENYOOM != 0
                || (spec.name == "exec"
                    && s.multi.as_ref().is_some_and(|m| m.queued.iter().any(|q| lookup(q).is_ok_and(|c| c.flags & flags::DENYOOM != 0))));
            // Over maxmemory every command nudges the shards to evict.
            let exhausted = b.mode == Mode::Plain && local.shared.over_budget() && local.check_memory();
            if exhausted && grows {
                if s.multi.is_some() && spec.name == "exec" {
                    // As Redis: a transaction that may grow memory is discarded at EXEC.
                    s.end_multi();
                    s.unwatch();
                    resolved =
                        Err(CmdError::Line(format!("EXECABORT Transaction discarded because of: {}", CmdError::OutOfMemory).into()).into());
                } else {
                    resolved = Err(CmdError::OutOfMemory.into());
                }
            } else if spec.flags & flags::ALLOW_BUSY == 0 && b.mode == Mode::Plain && !local.shared.save.loading.load(Relaxed) {
                if let Some(e) = local.shared.scripts.busy_error() {
                    if busy_blocks(&local, spec, &args) {
                        // EXEC refused ends the transaction, as Redis's rejectCommand does.
                        if s.multi.is_some() && spec.name == "exec" {
                            s.end_multi();
                            s.unwatch();
                            resolved = Err(CmdError::Line(format!("EXECABORT Transaction discarded because of: {e}").into()).into());
                        } else {
                            resolved = Err(e.into());
                        }
                    }
                }
            }
        }
        if let (Ok(spec), Mode::Plain) = (&resolved, b.mode) {
            if spec.flags & flags::LOADING == 0 && local.shared.save.loading.load(Relaxed) && !s.replaying {
                wait_loaded(&local).await;
            }
            if let Some(e) = state_refusal(&local, s, spec) {
                resolved = Err(e.into());
            }
        }
        if s.multi.is_some() {
            if let Some(reply) = queue_in_multi(s, &resolved, &mut args) {
                // A command refused while queuing counts as rejected, as in Redis.
                if reply.is_error() {
                    local.record_rejected(lookup(&args).ok(), &reply);
                }
                b.slots.push((Pending::Ready(reply), s.take_emit()));
                continue;
            }
        }
        let spec = match resolved {
            Ok(spec) => spec,
            Err(reply) => {
                local.record_rejected(lookup(&args).ok(), &reply);
                b.slots.push((Pending::Ready(reply), s.take_emit()));
                continue;
            }
        };
        if !s.resp3 && spec.flags & flags::SUBSCRIBED_OK == 0 && s.push.subscribed() {
            let e = format!(
                "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            );
            b.slots.push((Pending::Ready(Reply::from(CmdError::Other(e.into()))), s.take_emit()));
            continue;
        }
        // Over maxmemory, a tracking client's command waits for a round of eviction, and the
        // invalidations it brings go before the command's reply (as Redis evicts first).
        if b.mode == Mode::Plain && s.tracking.is_some() && local.shared.over_budget() && local.shared.eviction().is_some() {
            b.flush(&local).await;
            call_all(&local, |l| l.evict_once()).await;
            // The other shards sent their invalidations (also those of evictions they ran
            // in the background just before) ahead of their answers: let this shard's inbox
            // take what is in it now. A short sleep rather than a yield, so the executor
            // polls for the inbox's wake-up from the other thread; bounded, as the inbox may
            // never be empty under load.
            for _ in 0..EARLY_PUSH_TURNS {
                if local.shared.mailboxes[local.id].is_empty() {
                    break;
                }
                glommio::timer::sleep(std::time::Duration::from_micros(20)).await;
            }
            let mut early = Vec::new();
            s.push.drain_into(&mut early);
            if !early.is_empty() {
                b.slots.push((Pending::Ready(Reply::Raw(Bytes::from(early))), Emit::Resp3));
            }
        }
        if b.mode == Mode::Plain && local.shared.pause_until.load(Relaxed) != 0 && pausable(s, spec, &args) {
            b.flush(&local).await;
            wait_unpaused(s, spec, &args).await;
        }
        s.meta.last_cmd.store(spec as *const CommandSpec as *mut CommandSpec, Relaxed);
        // MONITOR sees a command as it starts (EXEC after its commands, admin ones never).
        let fed_after = spec.name == "exec";
        if local.shared.monitoring() && spec.flags & flags::ADMIN == 0 && !fed_after {
            feed_monitors(s, &args);
        }
        let pending = match spec.route {
            Route::Shard(handler) => route_keyed(s, &mut b, spec, handler, args, now).await,
            Route::Session(f) => {
                let start = local.clock.raw();
                let reply = into_reply(f(s, &args));
                local.record(spec, start, &reply, &args, s.meta.id);
                // The writes that touch no key (FUNCTION LOAD, DELETE, FLUSH, RESTORE) are
                // logged as sent.
                if spec.is_write() && !reply.is_error() {
                    local.aof_log_raw(s.db, &args);
                }
                Pending::Ready(reply)
            }
            Route::Coordinator(f) => {
                b.flush(&local).await;
                let start = local.clock.raw();
                // Plain: under the locks of what it touches, its keys or every shard whole.
                let plan = match b.mode {
                    Mode::Plain if spec.flags & flags::SCRIPT == 0 => {
                        lock_plan(local.shared.shards(), spec.key_positions(&args).map(|i| &args[i]), spec.whole_keyspace())
                    }
                    _ => Vec::new(),
                };
                // The arguments go to the handler; the slow log may want them after.
                let kept = args.clone();
                let reply = into_reply(under_locks(&local, plan, f(s, args)).await);
                local.record(spec, start, &reply, &kept, s.meta.id);
                Pending::Ready(reply)
            }
            Route::Parent => unreachable!("lookup resolves container commands to a subcommand"),
        };
        if fed_after && local.shared.monitoring() {
            feed_monitors(s, &[Bytes::from_static(b"exec")]);
        }
        b.slots.push((pending, s.take_emit()));
    }
    b.flush(&local).await;
    b
}

async fn route_keyed(s: &mut Session, b: &mut Batch, spec: &'static CommandSpec, handler: ShardFn, args: Vec<Bytes>, now: u64) -> Pending {
    let local = s.local.clone();
    let shards = local.shared.shards();
    let mut target = None;
    let mut single = true;
    for i in spec.key_positions(&args) {
        let sh = key_shard(&args[i], shards);
        match target {
            None => target = Some(sh),
            Some(t) if t != sh => single = false,
            _ => {}
        }
    }
    let target = target.unwrap_or(local.id);
    if spec.block.is_some() && b.mode == Mode::Plain {
        b.flush(&local).await;
        return Pending::Ready(run_blocking(s, spec, handler, args, single.then_some(target)).await);
    }
    if single {
        if target == local.id {
            if b.mode == Mode::Held || local.keys_free(spec, &args) {
                let r = local.run(handler, s.db, &args, spec, now, s.resp3, s.caller());
                return Pending::Ready(local.park_or_refuse(r, spec, None));
            }
            let r = run_when_free(&local, spec, handler, s.db, &args, s.resp3).await;
            return Pending::Ready(local.park_or_refuse(r, spec, None));
        }
        return b.queue(shards, target, Job { handler, spec, db: s.db, args, resp3: s.resp3, caller: s.caller(), waiter: None });
    }
    // Key/value units must be whole before anything runs anywhere (MSET a 1 b).
    if spec.merge.is_some() && !(args.len() - spec.first_key.max(1) as usize).is_multiple_of(spec.step.max(1) as usize) {
        return Pending::Ready(CmdError::Arity(spec.name.into()).into());
    }
    // Keys on several shards. In a transaction body the owner holds them all already;
    // otherwise the command becomes an owner of its keys for the time it runs.
    b.flush(&local).await;
    if let Some(merge) = spec.merge {
        if b.mode == Mode::Held {
            return split(s, b, spec, handler, merge, args, now_ms());
        }
        return Pending::Ready(split_atomic(s, spec, handler, merge, args).await);
    }
    let plan = match b.mode {
        Mode::Plain => lock_plan(shards, spec.key_positions(&args).map(|i| &args[i]), false),
        Mode::Held => Vec::new(),
    };
    let start = local.clock.raw();
    let kept = args.clone();
    // Inside a transaction its writes are a part of the transaction's block; alone, a
    // block of their own.
    let work = if b.mode == Mode::Held { s.meta.id } else { local.shared.aof.next_work_id() };
    let reply = under_locks(&local, plan, materialize(&local, s.db, spec, handler, args, s.resp3, work, b.mode == Mode::Plain)).await;
    local.record(spec, start, &reply, &kept, s.meta.id);
    Pending::Ready(local.park_or_refuse(reply, spec, None))
}

/// Whether CLIENT PAUSE holds `spec` back: under ALL every command but the ones that end a
/// pause; under WRITE the writes and what may replicate (PUBLISH, PFCOUNT, scripts without
/// `no-writes`, EXEC of a transaction holding one).
fn pausable(s: &Session, spec: &'static CommandSpec, args: &[Bytes]) -> bool {
    if matches!(spec.name, "client|unpause" | "client|pause" | "quit" | "reset") {
        return false;
    }
    if s.local.shared.pause_all.load(Relaxed) {
        return true;
    }
    if s.multi.is_some() && spec.name != "exec" {
        return false;
    }
    may_write(s, spec, args)
}

/// Most turns of the task queue a tracking client's command gives the inbox to take the
/// invalidations of evicted keys before its reply.
const EARLY_PUSH_TURNS: usize = 64;

/// Whether a command may change data or replicate (for CLIENT PAUSE WRITE).
fn may_write(s: &Session, spec: &'static CommandSpec, args: &[Bytes]) -> bool {
    use crate::script::functions::FunctionFlags;
    match spec.name {
        "publish" | "spublish" | "pfcount" => true,
        "eval" | "evalsha" => {
            let flags = if spec.name == "eval" {
                crate::script::functions::shebang_flags(&args[1]).ok().flatten()
            } else {
                s.local.shared.scripts.script(&String::from_utf8_lossy(&args[1]).to_ascii_lowercase()).and_then(|sc| sc.flags)
            };
            !flags.is_some_and(|f| f.contains(FunctionFlags::NO_WRITES))
        }
        "eval_ro" | "evalsha_ro" | "fcall_ro" => false,
        "fcall" => {
            let name = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
            let libs = s.local.shared.scripts.libraries.read().expect("libraries lock");
            !libs.functions.get(&name).is_some_and(|f| f.flags.contains(FunctionFlags::NO_WRITES))
        }
        "exec" => {
            s.multi.as_ref().is_some_and(|m| m.queued.iter().any(|q| lookup(q).is_ok_and(|sp| sp.name != "exec" && may_write(s, sp, q))))
        }
        _ => spec.is_write(),
    }
}

/// Waits while CLIENT PAUSE holds commands like this one back (counted as a blocked client).
async fn wait_unpaused(s: &Session, spec: &'static CommandSpec, args: &[Bytes]) {
    let shared = s.local.shared.clone();
    let mut counted = false;
    loop {
        let until = shared.pause_until.load(Relaxed);
        if until == 0 || now_ms() >= until || !pausable(s, spec, args) {
            break;
        }
        if !counted {
            shared.blocked_clients.fetch_add(1, Relaxed);
            counted = true;
        }
        glommio::timer::sleep(std::time::Duration::from_millis((until - now_ms()).clamp(1, 10))).await;
    }
    if counted {
        shared.blocked_clients.fetch_sub(1, Relaxed);
    }
}

/// Sends a command of session `s` to the monitors: a script's commands show as `lua`.
pub(crate) fn feed_monitors(s: &Session, args: &[Bytes]) {
    let addr = if s.from_script { "lua" } else { s.meta.addr.as_str() };
    s.local.feed_monitors(s.db, addr, args);
}

/// Runs a blocking command: a first attempt that registers its waiter in the same step when
/// it finds nothing (on the keys' shard, or under the locks of all its keys when they span
/// shards), then the wait for a shard to serve it, the timeout, CLIENT UNBLOCK or the
/// client's going away.
async fn run_blocking(s: &mut Session, spec: &'static CommandSpec, handler: ShardFn, args: Vec<Bytes>, single: Option<usize>) -> Reply {
    let local = s.local.clone();
    let started = now_ms();
    let arrived = std::time::Instant::now();
    let new_waiter = || Waiter::new(s.meta.id, s.db, args.clone(), spec, s.resp3, arrived);
    // On this shard the waiter is made only when needed: the run and the registration are
    // one synchronous step either way.
    let mut waiter = None;
    let first = match single {
        Some(t) if t == local.id => {
            let r = if local.keys_free(spec, &args) {
                local.run(handler, s.db, &args, spec, started, s.resp3, s.caller())
            } else {
                run_when_free(&local, spec, handler, s.db, &args, s.resp3).await
            };
            if r == Reply::Blocked {
                local.park(waiter.insert(new_waiter()));
            }
            r
        }
        Some(t) => {
            let w = waiter.insert(new_waiter()).clone();
            let (tx, rx) = oneshot::channel();
            let job = Job { handler, spec, db: s.db, args: args.clone(), resp3: s.resp3, caller: s.caller(), waiter: Some(w) };
            local.shared.blocking_inflight[t].fetch_add(1, Relaxed);
            local.shared.mailboxes[t].push(Msg::Exec { origin: local.id, jobs: vec![job], reply: tx, held: Held::No, at: None });
            match rx.await {
                Ok(mut r) => r.pop().unwrap_or(Reply::Nil),
                Err(_) => futures::future::pending().await,
            }
        }
        None => {
            let plan = lock_plan(local.shared.shards(), spec.key_positions(&args).map(|i| &args[i]), false);
            let (db, resp3, w2) = (s.db, s.resp3, waiter.insert(new_waiter()).clone());
            let work = async {
                let work = local.shared.aof.next_work_id();
                let r = materialize(&local, db, spec, handler, args.clone(), resp3, work, true).await;
                if r == Reply::Blocked {
                    for sh in w2.shards(local.shared.shards()) {
                        let w3 = w2.clone();
                        call(&local, sh, move |l| l.park(&w3)).await;
                    }
                }
                r
            };
            under_locks(&local, plan, work).await
        }
    };
    let (Reply::Blocked, Some(w)) = (&first, waiter) else { return first };
    let timeout = spec.block.and_then(|b| parse_timeout(b.timeout_arg(&args)).ok()).unwrap_or(0);
    let deadline = if timeout > 0 { started + timeout } else { 0 };
    *s.meta.blocked.lock().expect("client meta lock") = Some(w.clone());
    local.shared.blocked_clients.fetch_add(1, Relaxed);
    let (gone, meta) = (s.gone.clone(), s.meta.clone());
    let outcome = w.wait(deadline, || gone.get() || meta.killed.load(Relaxed)).await;
    *s.meta.blocked.lock().expect("client meta lock") = None;
    local.shared.blocked_clients.fetch_sub(1, Relaxed);
    unpark_everywhere(&local, &w);
    match outcome {
        Outcome::Served(r) => r,
        Outcome::TimedOut | Outcome::Unblocked { error: false } => Reply::NilArray,
        Outcome::Unblocked { error: true } => {
            local.stats.borrow_mut().fail_late(spec.name, "UNBLOCKED");
            Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        }
        Outcome::Gone => {
            s.close = true;
            Reply::NilArray
        }
    }
}

/// One shard's share of a split command: its shard, its sub-command, and the positions of
/// its key units in the original command.
type SplitPart = (usize, Vec<Bytes>, Vec<usize>);

/// Splits a multi-key command's key units by shard, in ascending shard order; also returns
/// the number of units.
fn split_parts(spec: &CommandSpec, args: &[Bytes], shards: usize) -> (Vec<SplitPart>, usize) {
    let step = spec.step.max(1) as usize;
    let mut per_shard: Vec<Option<(Vec<Bytes>, Vec<usize>)>> = (0..shards).map(|_| None).collect();
    let mut nunits = 0;
    for (unit, i) in spec.key_positions(args).enumerate() {
        let sh = key_shard(&args[i], shards);
        let (sub, units) = per_shard[sh].get_or_insert_with(|| (vec![args[0].clone()], Vec::new()));
        sub.extend(args[i..(i + step).min(args.len())].iter().cloned());
        units.push(unit);
        nunits += 1;
    }
    let parts = per_shard.into_iter().enumerate().filter_map(|(sh, p)| p.map(|(sub, units)| (sh, sub, units))).collect();
    (parts, nunits)
}

/// Splits a multi-key command into one command per shard, each with that shard's key units
/// (in a transaction body, whose owner holds the keys).
fn split(s: &Session, b: &mut Batch, spec: &'static CommandSpec, handler: ShardFn, merge: Merge, args: Vec<Bytes>, now: u64) -> Pending {
    let local = &s.local;
    let shards = local.shared.shards();
    let (split, nunits) = split_parts(spec, &args, shards);
    let mut parts = Vec::new();
    for (sh, sub, units) in split {
        let src = if sh == local.id {
            Pending::Ready(local.run(handler, s.db, &sub, spec, now, s.resp3, s.caller()))
        } else {
            b.queue(shards, sh, Job { handler, spec, db: s.db, args: sub, resp3: s.resp3, caller: s.caller(), waiter: None })
        };
        parts.push(Part { src, units });
    }
    Pending::Merge { merge, nunits, parts }
}

/// Runs a split multi-key command atomically: on each shard in ascending order, one message
/// takes the part's locks and runs the part as soon as they are granted (the last shard
/// releases at once, as every lock is then held); the other shards release afterwards. So a
/// command over two shards costs one round trip when its connection is on one of them.
async fn split_atomic(s: &Session, spec: &'static CommandSpec, handler: ShardFn, merge: Merge, args: Vec<Bytes>) -> Reply {
    let local = &s.local;
    let shards = local.shared.shards();
    let (split, nunits) = split_parts(spec, &args, shards);
    let owner = local.new_owner();
    // With the AOF on every shard keeps its keys until the parts are written as one block.
    let aof = local.aof_on();
    let last = if aof { usize::MAX } else { split.len() - 1 };
    let mut replies = Vec::with_capacity(split.len());
    let mut release = Vec::new();
    for (n, (sh, sub, units)) in split.into_iter().enumerate() {
        let want = Want::Keys(spec.key_positions(&sub).map(|i| sub[i].clone()).collect());
        let job = Job { handler, spec, db: s.db, args: sub, resp3: s.resp3, caller: s.caller(), waiter: None };
        let reply = if sh == local.id {
            lock_all(local, owner, vec![(sh, want)]).await;
            local.aof_capture_begin(job.caller.id);
            let r = local.run(job.handler, job.db, &job.args, spec, now_ms(), job.resp3, job.caller);
            if n == last {
                local.unlock(owner);
            }
            r
        } else {
            let (tx, rx) = oneshot::channel();
            local.shared.mailboxes[sh].push(Msg::LockRun { owner, want, job, release: n == last, reply: tx });
            match rx.await {
                Ok(r) => r,
                // The shard stopped: the server is shutting down and this task ends with it.
                Err(_) => futures::future::pending().await,
            }
        };
        if n != last {
            release.push(sh);
        }
        replies.push((reply, units));
    }
    local.aof_commit(s.meta.id);
    unlock_all(local, owner, release);
    merge_replies(merge, nunits, replies)
}

/// Runs a command whose keys live on several shards: copies every involved key (in every
/// database) into a private store here, runs the command on it, and for write commands
/// writes each key's resulting state back to its owner. The states written back are logged
/// as parts of atomic work `work`, written as one block here when `commit`.
#[allow(clippy::too_many_arguments)]
async fn materialize(
    local: &Rc<ShardLocal>,
    db: usize,
    spec: &'static CommandSpec,
    handler: ShardFn,
    args: Vec<Bytes>,
    resp3: bool,
    work: u64,
    commit: bool,
) -> Reply {
    let shards = local.shared.shards();
    let mut by_shard: Vec<Vec<Bytes>> = vec![Vec::new(); shards];
    for i in spec.key_positions(&args) {
        let k = &args[i];
        let sh = key_shard(k, shards);
        if !by_shard[sh].contains(k) {
            by_shard[sh].push(k.clone());
        }
    }
    let fetches = by_shard.iter().enumerate().filter(|(_, k)| !k.is_empty()).map(|(sh, keys)| {
        let keys = keys.clone();
        call(local, sh, move |s| {
            let mut st = s.store.borrow_mut();
            let now = now_ms();
            let mut found: Vec<(usize, Entry)> = Vec::new();
            for k in &keys {
                for d in 0..st.databases() {
                    if let Some(e) = st.db(d).peek(k, now) {
                        found.push((d, e.clone()));
                    }
                }
            }
            found
        })
    });
    let fetched = futures::future::join_all(fetches).await;
    let now = now_ms();
    let dbs = local.shared.config.databases();
    let mut temp = Store::new(dbs, now);
    let mut before = ahash::AHashMap::new();
    for (d, e) in fetched.into_iter().flatten() {
        before.insert((d, Bytes::copy_from_slice(&e.key)), (e.value.clone(), e.expire_at));
        temp.db(d).insert_entry(e, now);
    }
    temp.apply(local.shared.config.store_settings());
    let reply = {
        let mut ctx = ShardCtx { store: &mut temp, db, now, config: &local.shared.config, resp3 };
        into_reply(handler(&mut ctx, &args))
    };
    // Its keyspace events are published from here (the "new" events of written-back keys
    // come from their owners).
    let (events, _) = temp.signals.take();
    local.publish_events(events.into_iter().filter(|e| e.event != "new").collect());
    if spec.is_write() {
        let writes = by_shard.into_iter().enumerate().filter(|(_, k)| !k.is_empty()).map(|(sh, keys)| {
            let mut states: Vec<(usize, Bytes, Option<Entry>)> = Vec::new();
            for k in keys {
                for d in 0..dbs {
                    let after = temp.db(d).peek(&k, now).cloned();
                    let changed = match (before.get(&(d, k.clone())), &after) {
                        (None, None) => false,
                        (Some((v, x)), Some(e)) => *v != e.value || *x != e.expire_at,
                        _ => true,
                    };
                    if changed {
                        states.push((d, k.clone(), after));
                    }
                }
            }
            call(local, sh, move |s| {
                s.aof_log_states(work, &states);
                let mut st = s.store.borrow_mut();
                let now = now_ms();
                for (d, k, state) in states {
                    match state {
                        Some(e) => st.db(d).insert_entry(e, now),
                        None => {
                            st.db(d).remove(&k, now);
                        }
                    }
                }
            })
        });
        futures::future::join_all(writes).await;
        if commit {
            local.aof_commit(work);
        }
    }
    reply
}
