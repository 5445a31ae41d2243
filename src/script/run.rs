//! Running a script: EVAL/EVALSHA and FCALL, with the locks that make it atomic (see the
//! module docs of [`crate::script`]), and `redis.call` from inside it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use ahash::AHashSet;
use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Value, Variadic};

use super::convert::{error_table, reply_to_lua};
use super::vm::{call_result, Outcome, Vm};
use super::{sha1_hex, FunctionFlags};
use crate::command::{flags, lookup, CmdError, CmdResult, Route};
use crate::protocol::Reply;
use crate::shard::locks::Owner;
use crate::shard::{execute_held, lock_all, lock_plan, unlock_all, LockPlan, Session, ShardLocal};

/// What a script may touch without stopping.
#[derive(Debug, Clone)]
enum Access {
    /// Only its declared keys (locked for it).
    Keys(AHashSet<Bytes>),
    /// Anything: every shard is locked for it (the gate, or an EXEC holding it).
    All,
}

/// A script running past the busy threshold.
#[derive(Debug, Clone)]
pub struct BusyScript {
    /// The shard it runs on.
    pub shard: usize,
    /// EVAL (true) or FCALL.
    pub eval: bool,
    /// Its name: the SHA1 or the function's name.
    pub name: String,
    /// The command that started it.
    pub command: Vec<Bytes>,
    /// When it started (Unix ms).
    pub started_ms: u64,
    /// Set once it has written.
    pub wrote: Arc<AtomicBool>,
    /// Set by SCRIPT KILL / FUNCTION KILL.
    pub kill: Arc<AtomicBool>,
}

/// The state of one script run, reachable from `redis.call`.
#[derive(Debug)]
pub struct RunCtx {
    /// The session its commands run on (taken while a command runs).
    session: Option<Session>,
    access: Access,
    read_only: bool,
    allow_oom: bool,
    oom_at_start: bool,
    /// Set once it has written.
    pub wrote: Arc<AtomicBool>,
    /// Set when it asked to run again under the gate.
    restart: bool,
    /// Set when it touched something outside its locks (its later runs take the gate).
    needs_all: bool,
    deny_disabled: bool,
    /// The lock owner the run's key locks belong to (`None` when every shard is its own:
    /// inside EXEC).
    owner: Option<Owner>,
    /// Shards where the run added undeclared keys to its locks (released with the others).
    locked_shards: Vec<usize>,
    /// Set once it called a read-only command: a tracking caller then tracks its declared
    /// keys, as in Redis.
    read_called: bool,
}

impl RunCtx {
    /// Whether the script speaks RESP3 (`redis.setresp(3)`): its session's protocol.
    pub fn resp3(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.resp3)
    }

    /// Switches the script's protocol version.
    pub fn set_resp3(&mut self, resp3: bool) {
        if let Some(s) = self.session.as_mut() {
            s.set_resp3(resp3);
        }
    }
}

/// The arguments of `redis.call`, or the error the call returns.
fn lua_args(args: &Variadic<Value>) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    args.iter()
        .map(|a| match a {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(i) => Ok(Bytes::from(crate::num::format_f64(*i as f64))),
            Value::Number(n) => Ok(Bytes::from(crate::num::format_f64(*n))),
            _ => Err("Lua redis lib command arguments must be strings or integers"),
        })
        .collect()
}

/// What `redis.call`'s Rust half answers: (0, reply), (1, error table), (2) restart, or
/// (3) "run me through the dispatcher" (the synchronous half cannot).
fn call_value(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<MultiValue> {
    Ok(call_result(if reply.is_error() { 1 } else { 0 }, reply_to_lua(lua, reply, resp3)?))
}

/// The checks every `redis.call` passes, with the run's context taken out of `cell`:
/// `Ok` with the arguments (and the remote keys to lock first, if any), or the values to
/// return to Lua.
#[allow(clippy::type_complexity)]
fn prepare(
    lua: &Lua,
    cell: &Rc<RefCell<Option<RunCtx>>>,
    args: &Variadic<Value>,
) -> Result<(RunCtx, Vec<Bytes>, Vec<(usize, Bytes)>), mlua::Result<MultiValue>> {
    let argv = match lua_args(args) {
        Ok(a) => a,
        Err(e) => return Err(fail(lua, e)),
    };
    let Some(mut run) = cell.borrow_mut().take() else {
        return Err(fail(lua, "redis.call/pcall can only be called inside a script invocation"));
    };
    match check(&mut run, &argv) {
        Ok(()) => Ok((run, argv, Vec::new())),
        Err(Refusal::LockRemote(keys)) => Ok((run, argv, keys)),
        Err(refusal) => {
            // Counted here, as Redis's scriptCall does (the raised error is not counted again).
            if let (Refusal::Fail(e), Some(s)) = (&refusal, run.session.as_ref()) {
                let code = e.strip_prefix('-').map_or("ERR", crate::shard::stats::error_code);
                s.local.stats.borrow_mut().reject(lookup(&argv).ok().map(|c| c.name), code);
            }
            *cell.borrow_mut() = Some(run);
            Err(refused(lua, refusal))
        }
    }
}

/// `redis.call`'s (1, error table) for `msg`.
fn fail(lua: &Lua, msg: &str) -> mlua::Result<MultiValue> {
    error_table(lua, msg, true).map(|t| call_result(1, t))
}

/// What Lua gets for a refusal: the restart signal or the error.
fn refused(lua: &Lua, r: Refusal) -> mlua::Result<MultiValue> {
    match r {
        Refusal::Fail(e) => fail(lua, &e),
        Refusal::Restart | Refusal::LockRemote(_) => Ok(call_result(2, Value::Nil)),
    }
}

/// The synchronous half of `redis.call` / `redis.pcall`: a command on this shard's keys
/// (the common case) runs here at once, on the store, without the dispatcher's batch or
/// Lua's coroutine machinery; any other answers (3) for [`call_from_script`].
pub fn call_now(lua: &Lua, cell: &Rc<RefCell<Option<RunCtx>>>, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let (run, argv, remote) = match prepare(lua, cell, &args) {
        Ok(x) => x,
        Err(done) => return done,
    };
    let ran = run.session.as_ref().filter(|_| remote.is_empty()).and_then(|s| {
        let spec = lookup(&argv).ok()?;
        let Route::Shard(handler) = spec.route else { return None };
        let local = &s.local;
        let shards = local.shared.shards();
        if spec.block.is_some() || spec.key_positions(&argv).any(|i| crate::shard::route::key_shard(&argv[i], shards) != local.id) {
            return None;
        }
        let now = s.clock.unwrap_or_else(crate::store::now_ms);
        if local.shared.monitoring() {
            crate::shard::feed_monitors(s, &argv);
        }
        Some((local.run(handler, s.db, &argv, spec, now, s.resp3, s.caller()), s.resp3))
    });
    let Some((reply, resp3)) = ran else {
        // The dispatcher's path runs the same checks again, with the same outcome.
        *cell.borrow_mut() = Some(run);
        return Ok(call_result(3, Value::Nil));
    };
    *cell.borrow_mut() = Some(run);
    call_value(lua, &reply, resp3)
}

/// The Rust half of `redis.call` / `redis.pcall` for what [`call_now`] cannot run: checks
/// the command as Redis does, runs it through the dispatcher for a lock holder (a command
/// on another shard's key travels there while the script's coroutine waits), and converts
/// its reply.
pub async fn call_from_script(lua: &Lua, cell: &Rc<RefCell<Option<RunCtx>>>, args: Variadic<Value>) -> mlua::Result<MultiValue> {
    let (mut run, argv, remote) = match prepare(lua, cell, &args) {
        Ok(x) => x,
        Err(done) => return done,
    };
    let Some(mut session) = run.session.take() else {
        *cell.borrow_mut() = Some(run);
        return fail(lua, "redis.call/pcall can only be called inside a script invocation");
    };
    if !remote.is_empty() {
        // Lock the undeclared keys of other shards (without waiting there), then check again.
        let owner = run.owner.expect("remote keys are only asked for under key locks");
        *cell.borrow_mut() = Some(run);
        let local = session.local.clone();
        let tries = remote.into_iter().map(|(sh, key)| {
            let (local, k) = (local.clone(), key.clone());
            async move { (sh, key, crate::shard::call(&local, sh, move |l| l.locks.borrow_mut().try_extend(owner, k)).await) }
        });
        let results = futures::future::join_all(tries).await;
        run = cell.borrow_mut().take().expect("the run's context is back");
        let mut all_locked = true;
        for (sh, key, ok) in results {
            if ok {
                if let Access::Keys(declared) = &mut run.access {
                    declared.insert(key);
                }
                if !run.locked_shards.contains(&sh) {
                    run.locked_shards.push(sh);
                }
            }
            all_locked &= ok;
        }
        run.session = Some(session);
        let verdict = if all_locked { check(&mut run, &argv) } else { Err(outside_locks(&mut run)) };
        if let Err(refusal) = verdict {
            *cell.borrow_mut() = Some(run);
            return refused(lua, refusal);
        }
        session = run.session.take().expect("the session was just put back");
    }
    *cell.borrow_mut() = Some(run);
    let reply = execute_held(&mut session, vec![argv]).await.pop().unwrap_or(Reply::Nil);
    let resp3 = session.resp3;
    if let Some(run) = cell.borrow_mut().as_mut() {
        run.session = Some(session);
    }
    call_value(lua, &reply, resp3)
}

/// Why a script's command may not run (yet).
enum Refusal {
    /// An error for the script, Redis's text.
    Fail(String),
    /// Stop and run the script again under the whole-keyspace gate.
    Restart,
    /// Undeclared keys on other shards: their locks are to be added first.
    LockRemote(Vec<(usize, Bytes)>),
}

/// The error of a script that wrote and then needed a key it could not lock.
const UNDECLARED_AFTER_WRITE: &str = "Script attempted to access a key it did not declare after writing, and another client holds it; declare every key in KEYS (its next runs lock the whole keyspace)";

/// Redis's checks before a script's command runs (`scriptCall`), and ours: whether the
/// script's locks cover what the command touches. A key the script did not declare is
/// added to its locks when nobody holds or awaits it (at once on this shard; other shards'
/// keys come back as [`Refusal::LockRemote`]); when that cannot be, or the command reads or
/// writes the whole keyspace, the script restarts under the gate if it has not written.
fn check(run: &mut RunCtx, argv: &[Bytes]) -> Result<(), Refusal> {
    if run.restart {
        return Err(Refusal::Restart);
    }
    let spec = match lookup(argv) {
        Ok(spec) if spec.arity_ok(argv.len()) => spec,
        Ok(_) => return Err(Refusal::Fail("Wrong number of args calling Redis command from script".into())),
        Err(_) => return Err(Refusal::Fail("Unknown Redis command called from script".into())),
    };
    if spec.flags & flags::NOSCRIPT != 0 && !run.deny_disabled {
        return Err(Refusal::Fail("This Redis command is not allowed from script".into()));
    }
    // Commands that may replicate (PUBLISH) count as writes here, as in Redis.
    if run.read_only && (spec.is_write() || matches!(spec.name, "publish" | "spublish")) {
        return Err(Refusal::Fail("Write commands are not allowed from read-only scripts.".into()));
    }
    run.read_called |= spec.flags & flags::READONLY != 0;
    let wrote = run.wrote.load(Relaxed);
    if !run.allow_oom && run.oom_at_start && !wrote && spec.flags & flags::DENYOOM != 0 {
        return Err(Refusal::Fail(format!("-{}", CmdError::OutOfMemory)));
    }
    if let Access::Keys(declared) = &mut run.access {
        // One pass over the command's keys: declared ones pass, free ones of this shard are
        // added to the locks, other shards' are handed back to lock there.
        let mut remote = Vec::new();
        let mut covered = !spec.whole_keyspace();
        if covered {
            for i in spec.key_positions(argv) {
                let k = &argv[i];
                if declared.contains(k) {
                    continue;
                }
                let (Some(owner), Some(s)) = (run.owner, run.session.as_ref()) else {
                    covered = false;
                    break;
                };
                let (local, shards) = (&s.local, s.local.shared.shards());
                let shard = crate::shard::route::key_shard(k, shards);
                if shard != local.id {
                    remote.push((shard, k.clone()));
                } else if local.locks.borrow_mut().try_extend(owner, k.clone()) {
                    declared.insert(k.clone());
                    if !run.locked_shards.contains(&shard) {
                        run.locked_shards.push(shard);
                    }
                } else {
                    covered = false;
                    break;
                }
            }
        }
        if !covered {
            return Err(outside_locks(run));
        }
        if !remote.is_empty() {
            return Err(Refusal::LockRemote(remote));
        }
    }
    if spec.is_write() {
        run.wrote.store(true, Relaxed);
    }
    Ok(())
}

/// The refusal for a command the script's locks cannot cover: a restart under the gate
/// before any write, an error after one. Either way the script takes the gate from now on.
fn outside_locks(run: &mut RunCtx) -> Refusal {
    run.needs_all = true;
    if run.wrote.load(Relaxed) {
        return Refusal::Fail(UNDECLARED_AFTER_WRITE.into());
    }
    run.restart = true;
    Refusal::Restart
}

/// What to run.
#[derive(Debug)]
pub struct Invocation {
    /// The compiled function.
    pub function: Function,
    /// SHA1 (EVAL) or function name (FCALL): error messages and the gate memory.
    pub name: String,
    /// EVAL (KEYS and ARGV as globals) or FCALL (as arguments).
    pub eval: bool,
    /// Flags (`None`: an EVAL script without shebang).
    pub flags: Option<FunctionFlags>,
    /// Called as EVAL_RO / EVALSHA_RO / FCALL_RO.
    pub ro_command: bool,
    /// The command as sent (FUNCTION STATS shows it).
    pub command: Vec<Bytes>,
}

/// Checks numkeys (`args[2]`) and splits the rest into keys and arguments; `bad` is the
/// error for a numkeys that is not a number.
pub fn split_keys(args: &[Bytes], bad: CmdError) -> Result<(Vec<Bytes>, Vec<Bytes>), CmdError> {
    let n = crate::num::parse_i64(&args[2]).ok_or(bad)?;
    if n > (args.len() - 3) as i64 {
        return Err(CmdError::other("Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(CmdError::other("Number of keys can't be negative"));
    }
    let n = n as usize;
    Ok((args[3..3 + n].to_vec(), args[3 + n..].to_vec()))
}

/// Runs a script for the client of `s` (EVAL, EVALSHA, FCALL and their _RO forms).
pub async fn invoke(s: &mut Session, inv: Invocation, keys: Vec<Bytes>, argv: Vec<Bytes>) -> CmdResult {
    let local = s.local.clone();
    let shared = local.shared.clone();
    let oom = shared.over_budget() && local.check_memory();
    let mut read_only = inv.ro_command;
    let mut allow_oom = false;
    if let Some(f) = inv.flags {
        if inv.ro_command && !f.contains(FunctionFlags::NO_WRITES) {
            return Err(CmdError::other("Can not execute a script with write flag using *_ro command."));
        }
        if oom && !f.contains(FunctionFlags::ALLOW_OOM) && !f.contains(FunctionFlags::NO_WRITES) {
            return Err(CmdError::Line(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into(),
            ));
        }
        read_only |= f.contains(FunctionFlags::NO_WRITES);
        allow_oom = f.contains(FunctionFlags::ALLOW_OOM);
    }
    let vm = local.scripting.vm()?;
    let shards = shared.shards();
    let mut all = s.in_exec || local.scripting.needs_all.borrow().contains(inv.name.as_str());
    loop {
        let (access, plan): (Access, LockPlan) = if s.in_exec {
            (Access::All, Vec::new())
        } else if all {
            (Access::All, lock_plan(shards, [], true))
        } else {
            (Access::Keys(keys.iter().cloned().collect()), lock_plan(shards, &keys, false))
        };
        let run = RunCtx {
            session: None,
            access,
            read_only,
            allow_oom,
            oom_at_start: oom,
            wrote: Arc::new(AtomicBool::new(false)),
            restart: false,
            needs_all: false,
            deny_disabled: shared.scripts.disable_deny_scripts.load(Relaxed),
            owner: (!s.in_exec).then(|| local.new_owner()),
            locked_shards: Vec::new(),
            read_called: false,
        };
        let owner = run.owner;
        let (db, name) = (s.db, inv.name.clone());
        let busy = BusyScript {
            shard: local.id,
            eval: inv.eval,
            name: name.clone(),
            command: inv.command.clone(),
            started_ms: crate::store::now_ms(),
            wrote: run.wrote.clone(),
            kill: Arc::new(AtomicBool::new(false)),
        };
        let threshold = shared.config.num(crate::config::P::BusyReplyThreshold);
        // Phase one as a transaction's: the declared keys (or every shard) in the global
        // order; the run may add free undeclared keys; all are released together.
        let mut release: Vec<usize> = plan.iter().map(|p| p.0).collect();
        if let Some(o) = owner {
            lock_all(&local, o, plan).await;
            // Its writes on every shard are written as one MULTI/EXEC block (inside EXEC,
            // the transaction's block holds them).
            local.aof_capture_begin(s.caller().id);
        }
        let out = {
            let _turn = local.scripting.turn.lock().await;
            super::busy::watch_script(busy, shared.clone(), threshold);
            let out = run_once(&local, &vm, run, db, s.caller().id, inv.function.clone(), &keys, &argv, inv.eval).await;
            super::busy::unwatch();
            out
        };
        if owner.is_some() {
            local.aof_commit(s.caller().id);
        }
        let (outcome, needs_all, locked, read_called) =
            out.map_err(|e| CmdError::Other(format!("Error running script {name}: {e}").into()))?;
        let caller = s.caller();
        if read_called && caller.track {
            track_declared(&local, &keys, caller.id).await;
        }
        if let Some(o) = owner {
            release.extend(locked);
            release.sort_unstable();
            release.dedup();
            unlock_all(&local, o, release);
        }
        if needs_all {
            local.scripting.needs_all.borrow_mut().insert(name.clone().into_boxed_str());
        }
        match outcome {
            Outcome::Restart if !all => all = true,
            Outcome::Restart => return Err(CmdError::other("script could not run under the whole-keyspace lock")),
            Outcome::Returned(r, counted) => {
                local.error_counted.set(counted && r.is_error());
                return Ok(r);
            }
            Outcome::Failed { msg, at, counted } => {
                local.error_counted.set(counted);
                let text = match at {
                    Some((source, line)) => format!("{msg} script: {name}, on {source}:{line}."),
                    None => msg,
                };
                return Err(CmdError::Line(text.into()));
            }
        }
    }
}

/// One run of a script under its locks and its shard's turn: gives the run the shard's
/// script session, installs the run's context, runs the driver, and keeps the session for
/// the next script.
#[allow(clippy::too_many_arguments)]
async fn run_once(
    local: &Rc<ShardLocal>,
    vm: &Rc<Vm>,
    mut run: RunCtx,
    db: usize,
    origin: u64,
    f: Function,
    keys: &[Bytes],
    argv: &[Bytes],
    eval: bool,
) -> mlua::Result<(Outcome, bool, Vec<usize>, bool)> {
    let mut sess = local.scripting.session.borrow_mut().take().unwrap_or_else(|| Session::detached(local.clone()));
    sess.select(db);
    sess.set_resp3(false);
    sess.on_behalf_of = origin;
    sess.clock = Some(crate::store::now_ms());
    run.session = Some(sess);
    *vm.ctx.borrow_mut() = Some(run);
    let outcome = vm.run(f, keys, argv, eval).await;
    let run = vm.ctx.borrow_mut().take();
    let (mut needs_all, mut locked, mut read_called) = (false, Vec::new(), false);
    if let Some(mut run) = run {
        needs_all = run.needs_all;
        read_called = run.read_called;
        locked = std::mem::take(&mut run.locked_shards);
        if let Some(sess) = run.session.take() {
            *local.scripting.session.borrow_mut() = Some(sess);
        }
    }
    // Released by the caller even when the run failed.
    Ok((outcome?, needs_all, locked, read_called))
}

/// A tracking client's script called a read command: its declared keys are tracked for it,
/// each on its shard.
async fn track_declared(local: &Rc<ShardLocal>, keys: &[Bytes], client: u64) {
    let shards = local.shared.shards();
    for k in keys {
        let key = k.clone();
        crate::shard::call(local, crate::shard::route::key_shard(k, shards), move |sh| sh.remember_key(&key, client)).await;
    }
}

/// EVAL / EVAL_RO (`sha_given` false) and EVALSHA / EVALSHA_RO: finds or compiles the
/// script, then runs it.
pub async fn eval(s: &mut Session, args: Vec<Bytes>, sha_given: bool, ro_command: bool) -> CmdResult {
    let local = s.local.clone();
    let registry = &local.shared.scripts;
    let (keys, argv) = split_keys(&args, CmdError::NotInteger)?;
    let (sha, script) = if sha_given {
        let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        match (sha.len() == 40).then(|| registry.script(&sha)).flatten() {
            Some(sc) => (sha, sc),
            None => return Err(CmdError::Line("NOSCRIPT No matching script. Please use EVAL.".into())),
        }
    } else {
        load_script(&local, &args[1])?
    };
    let vm = local.scripting.vm()?;
    let function = vm.script(registry.scripts_generation(), &sha, &script.body).map_err(compile_error)?;
    invoke(s, Invocation { function, name: sha, eval: true, flags: script.flags, ro_command, command: args }, keys, argv).await
}

/// The cached script `body` (SCRIPT LOAD, EVAL): its SHA1 and entry, checked (shebang) and
/// compiled on this shard's interpreter and cached first when new.
pub fn load_script(local: &ShardLocal, body: &Bytes) -> Result<(String, Arc<super::EvalScript>), CmdError> {
    let registry = &local.shared.scripts;
    let sha = sha1_hex(body);
    if let Some(sc) = registry.script(&sha) {
        return Ok((sha, sc));
    }
    let flags = super::functions::shebang_flags(body).map_err(|e| CmdError::Other(e.into()))?;
    local.scripting.vm()?.script(registry.scripts_generation(), &sha, body).map_err(compile_error)?;
    let sc = registry.add_script(&sha, body.clone(), flags);
    Ok((sha, sc))
}

/// The reply to a script that does not compile.
pub fn compile_error(text: String) -> CmdError {
    CmdError::Other(format!("Error compiling script (new function): {text}").into())
}

/// FCALL / FCALL_RO: finds the function, then runs it.
pub async fn fcall(s: &mut Session, args: Vec<Bytes>, ro_command: bool) -> CmdResult {
    let local = s.local.clone();
    let registry = &local.shared.scripts;
    let name = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let info = registry.libraries.read().expect("libraries lock").functions.get(&name).cloned();
    let Some(info) = info else { return Err(CmdError::other("Function not found")) };
    let (keys, argv) = split_keys(&args, CmdError::other("Bad number of keys provided"))?;
    let vm = local.scripting.vm()?;
    let generation = registry.libraries_generation();
    let loaded = vm.function(generation, &name, || registry.libraries.read().expect("libraries lock").codes());
    let Some(loaded) = loaded else { return Err(CmdError::other("Function not found")) };
    invoke(s, Invocation { function: loaded, name: info.name, eval: false, flags: Some(info.flags), ro_command, command: args }, keys, argv)
        .await
}
