//! Lua scripting: EVAL scripts and function libraries, atomic across shards.
//!
//! # Design
//!
//! Each shard runs its own Lua 5.1 interpreter ([`vm::Vm`], created on the first script the
//! shard runs). The script cache (SHA1 → body) and the function libraries live in one
//! [`Registry`] shared by every shard; a shard compiles a script or loads the libraries into
//! its interpreter the first time it needs them (a generation number tells it when the
//! registry changed under it).
//!
//! A script runs on the shard of the connection that sent it, as a coroutine: a
//! `redis.call` on a key of this shard runs inline, one on a key of another shard travels
//! there as a held job (as a transaction body's commands do) and the coroutine yields until
//! the reply is back. Lua 5.1 cannot yield across `pcall`, so the sandbox's `pcall` and
//! `xpcall` are written in Lua over coroutines (`prelude.lua`).
//!
//! ## Atomicity
//!
//! A script is one atomic unit to every other client ([`run`]):
//! - its declared keys (`KEYS`, the numkeys arguments) are locked with the transaction
//!   machinery ([`crate::shard::lock_all`]) in the global order before it runs; nothing else
//!   touches them until it ends;
//! - one script runs at a time per shard (`ShardScripts::turn`, taken after the locks);
//! - a key the script did not declare is added to its locks when nobody holds or awaits it
//!   ([`crate::shard::locks::LockTable::try_extend`]: never waiting, so it cannot close a
//!   cycle of waits; two-phase locking extended before anything is released);
//! - when that key is held by someone else, or the command reads or writes the whole
//!   keyspace (KEYS, SCAN, FLUSHALL...), a script that has not written yet is stopped and
//!   run again from the start with every shard locked whole (the whole-keyspace gate). That
//!   is safe: nothing it did is visible. The script (its SHA1, or the function's name) is
//!   remembered, so its later runs take the gate at once. A script that has already
//!   written gets an error from that call instead (its writes so far stand, as with any
//!   script error) and takes the gate from then on;
//! - inside MULTI/EXEC, a transaction holding a script locks every shard whole.
//!
//! ## Time limits
//!
//! Past `busy-reply-threshold` ms a script lets its shard serve again between slices of
//! work: that shard answers `-BUSY` to everything but SCRIPT KILL, FUNCTION KILL and
//! SHUTDOWN NOSAVE, and other shards answer `-BUSY` to commands on keys the script holds
//! while serving every other key. SCRIPT KILL stops a script that has not written
//! (`-UNKILLABLE` otherwise), FUNCTION KILL a function.

mod busy;
pub mod convert;
pub mod functions;
mod libs;
pub mod run;
mod tailcall;
pub mod vm;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;

pub use functions::{FunctionFlags, Libraries, LibraryCode};
pub use vm::Vm;

/// The SHA1 of `data` in lower-case hex, as EVALSHA names scripts.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// The reply while an EVAL script is busy.
pub const SLOW_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The reply while a function is busy.
pub const SLOW_FUNCTION: &str = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// A cached EVAL script.
#[derive(Debug)]
pub struct EvalScript {
    /// The script as sent.
    pub body: Bytes,
    /// Flags from its `#!lua flags=...` line; `None` without a shebang (compatibility mode).
    pub flags: Option<FunctionFlags>,
}

/// The scripts and function libraries shared by every shard.
#[derive(Debug, Default)]
pub struct Registry {
    scripts: RwLock<AHashMap<Box<str>, Arc<EvalScript>>>,
    scripts_gen: AtomicU64,
    scripts_bytes: AtomicU64,
    /// The function libraries.
    pub libraries: RwLock<Libraries>,
    libraries_gen: AtomicU64,
    /// Scripts running past the busy threshold, for SCRIPT KILL / FUNCTION KILL / FUNCTION STATS.
    pub busy: Mutex<Vec<run::BusyScript>>,
    busy_count: AtomicUsize,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands flagged `noscript`.
    pub disable_deny_scripts: std::sync::atomic::AtomicBool,
}

impl Registry {
    /// The cached script `sha` (lower-case hex).
    pub fn script(&self, sha: &str) -> Option<Arc<EvalScript>> {
        self.scripts.read().expect("scripts lock").get(sha).cloned()
    }

    /// Caches `body` under `sha`.
    pub fn add_script(&self, sha: &str, body: Bytes, flags: Option<FunctionFlags>) -> Arc<EvalScript> {
        let mut map = self.scripts.write().expect("scripts lock");
        map.entry(sha.into())
            .or_insert_with(|| {
                self.scripts_bytes.fetch_add(body.len() as u64 + 40, Relaxed);
                Arc::new(EvalScript { body, flags })
            })
            .clone()
    }

    /// Forgets every cached script (SCRIPT FLUSH).
    pub fn flush_scripts(&self) {
        self.scripts.write().expect("scripts lock").clear();
        self.scripts_bytes.store(0, Relaxed);
        self.scripts_gen.fetch_add(1, Relaxed);
    }

    /// The script cache's generation (changes on SCRIPT FLUSH).
    pub fn scripts_generation(&self) -> u64 {
        self.scripts_gen.load(Relaxed)
    }

    /// The number of cached scripts and the bytes their bodies hold.
    pub fn scripts_usage(&self) -> (usize, u64) {
        (self.scripts.read().expect("scripts lock").len(), self.scripts_bytes.load(Relaxed))
    }

    /// The function libraries' generation (changes with every library change).
    pub fn libraries_generation(&self) -> u64 {
        self.libraries_gen.load(Relaxed)
    }

    /// The `-BUSY` error while a script runs past `busy-reply-threshold`, else `None` (one
    /// atomic load on every command's path).
    #[inline]
    pub fn busy_error(&self) -> Option<crate::command::CmdError> {
        if self.busy_count.load(Relaxed) == 0 {
            return None;
        }
        self.busy_error_now()
    }

    #[cold]
    fn busy_error_now(&self) -> Option<crate::command::CmdError> {
        let eval = self.busy.lock().expect("busy lock").first().is_none_or(|b| b.eval);
        Some(crate::command::CmdError::Line(if eval { SLOW_EVAL } else { SLOW_FUNCTION }.into()))
    }

    fn register_busy(&self, b: run::BusyScript) {
        self.busy.lock().expect("busy lock").push(b);
        self.busy_count.fetch_add(1, Relaxed);
    }

    fn unregister_busy(&self, kill: &Arc<std::sync::atomic::AtomicBool>) {
        let mut busy = self.busy.lock().expect("busy lock");
        let before = busy.len();
        busy.retain(|b| !Arc::ptr_eq(&b.kill, kill));
        self.busy_count.fetch_sub(before - busy.len(), Relaxed);
    }

    /// Marks the libraries changed: every shard reloads them before its next FCALL.
    pub fn libraries_changed(&self) {
        self.libraries_gen.fetch_add(1, Relaxed);
    }
}

/// One shard's scripting state.
#[derive(Default)]
pub struct ShardScripts {
    vm: RefCell<Option<Rc<Vm>>>,
    /// One script at a time on this shard (taken after the script's key locks).
    pub turn: futures::lock::Mutex<()>,
    /// Scripts (SHA1s and function names) seen touching keys they did not declare: they run
    /// with every shard locked whole.
    pub needs_all: RefCell<AHashSet<Box<str>>>,
    /// The session scripts run their commands on, kept between scripts.
    pub session: RefCell<Option<crate::shard::Session>>,
}

impl std::fmt::Debug for ShardScripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardScripts").field("vm", &self.vm.borrow().is_some()).finish_non_exhaustive()
    }
}

impl ShardScripts {
    /// This shard's interpreter, started on first use.
    pub fn vm(&self) -> Result<Rc<Vm>, crate::command::CmdError> {
        if let Some(vm) = self.vm.borrow().as_ref() {
            return Ok(vm.clone());
        }
        let vm = Rc::new(Vm::new().map_err(|e| crate::command::CmdError::Other(format!("Lua start failed: {e}").into()))?);
        *self.vm.borrow_mut() = Some(vm.clone());
        Ok(vm)
    }

    /// Bytes this shard's interpreter uses (0 before its first script).
    pub fn used_memory(&self) -> usize {
        self.vm.borrow().as_ref().map_or(0, |vm| vm.used_memory())
    }

    /// Drops the interpreter's compiled scripts and functions (SCRIPT FLUSH, FUNCTION FLUSH).
    pub fn reset(&self) {
        if let Some(vm) = self.vm.borrow().as_ref() {
            vm.reset();
        }
        self.needs_all.borrow_mut().clear();
    }
}
