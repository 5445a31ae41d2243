//! Time limits: a count hook that watches the running script (or library load).
//!
//! Every 100,000 Lua instructions the hook checks the clock. Past `busy-reply-threshold`
//! the script is registered as busy ([`super::Registry::busy_error`] then makes shards
//! answer `-BUSY`) and each check yields the script's coroutine, so its shard serves other
//! tasks (SCRIPT KILL among them) between slices. A kill request raises Redis's error at
//! the next check; a library load past 500 ms fails with `FUNCTION LOAD timeout`.

use std::cell::RefCell;
use std::os::raw::{c_int, c_void};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::ffi;

use super::run::BusyScript;
use crate::shard::Shared;

/// Instructions between two checks.
const EVERY: c_int = 100_000;
/// Longest a library's load may run.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// What the hook watches on this thread.
enum Watch {
    /// A script: registered as busy once past the threshold.
    Script { started: Instant, threshold: Option<Duration>, busy: BusyScript, shared: Arc<Shared>, registered: bool },
    /// A library being loaded.
    Load { started: Instant },
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

enum Action {
    Continue,
    Yield,
    Fail(&'static [u8]),
}

/// Installs the hook on a VM's main thread; coroutines created later inherit it.
pub fn install(lua: &mlua::Lua) -> mlua::Result<()> {
    // SAFETY: sets a hook on the state mlua passes; `hook` below follows Lua's rules for
    // hooks (it yields only where the thread may, and raises errors with no Rust value
    // alive across the longjmp).
    unsafe {
        lua.exec_raw::<()>((), |state| {
            ffi::lua_sethook(state, Some(hook), ffi::LUA_MASKCOUNT, EVERY);
        })
    }
}

/// Starts watching a script run on this thread; `threshold` 0 never marks it busy.
pub fn watch_script(busy: BusyScript, shared: Arc<Shared>, threshold_ms: i64) {
    let threshold = (threshold_ms > 0).then(|| Duration::from_millis(threshold_ms as u64));
    WATCH.with(|w| *w.borrow_mut() = Some(Watch::Script { started: Instant::now(), threshold, busy, shared, registered: false }));
}

/// Starts watching a library load on this thread.
pub fn watch_load() {
    WATCH.with(|w| *w.borrow_mut() = Some(Watch::Load { started: Instant::now() }));
}

/// Stops watching; a busy script is unregistered.
pub fn unwatch() {
    let old = WATCH.with(|w| w.borrow_mut().take());
    if let Some(Watch::Script { busy, shared, registered: true, .. }) = old {
        shared.scripts.unregister_busy(&busy.kill);
    }
}

fn check() -> Action {
    WATCH.with(|w| {
        let mut w = w.borrow_mut();
        match w.as_mut() {
            None => Action::Continue,
            Some(Watch::Load { started }) => {
                if started.elapsed() > LOAD_TIMEOUT {
                    Action::Fail(b"ERR FUNCTION LOAD timeout")
                } else {
                    Action::Continue
                }
            }
            Some(Watch::Script { started, threshold, busy, shared, registered }) => {
                if busy.kill.load(Relaxed) {
                    return Action::Fail(b"ERR Script killed by user with SCRIPT KILL...");
                }
                match threshold {
                    Some(t) if started.elapsed() >= *t => {
                        if !*registered {
                            *registered = true;
                            log::warn!(
                                "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the {} command.",
                                started.elapsed().as_millis(),
                                if busy.eval { "SCRIPT KILL" } else { "FUNCTION KILL" }
                            );
                            shared.scripts.register_busy(busy.clone());
                        }
                        Action::Yield
                    }
                    _ => Action::Continue,
                }
            }
        }
    })
}

/// Lua 5.1's thread state, as far as the yield check reads it (lstate.h of the vendored
/// 5.1.5).
#[repr(C)]
struct ThreadHead {
    next: *mut c_void,
    tt: u8,
    marked: u8,
    status: u8,
    top: *mut c_void,
    base: *mut c_void,
    l_g: *mut c_void,
    ci: *mut c_void,
    savedpc: *const c_void,
    stack_last: *mut c_void,
    stack: *mut c_void,
    end_ci: *mut c_void,
    base_ci: *mut c_void,
    stacksize: c_int,
    size_ci: c_int,
    n_ccalls: u16,
    base_ccalls: u16,
}

/// Whether the thread may yield here: inside a coroutine and not under a C call (Lua 5.1's
/// own test in `lua_yield`).
unsafe fn yieldable(state: *mut ffi::lua_State) -> bool {
    let head = &*(state as *const ThreadHead);
    head.base_ccalls > 0 && head.n_ccalls <= head.base_ccalls
}

unsafe extern "C-unwind" fn hook(state: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    match check() {
        Action::Continue => {}
        Action::Yield => {
            if yieldable(state) {
                ffi::lua_yield(state, 0);
            }
        }
        Action::Fail(msg) => {
            // Check every line from now on, so that a pcall cannot catch the error and run on.
            ffi::lua_sethook(state, Some(hook), ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT, EVERY);
            ffi::lua_createtable(state, 0, 1);
            ffi::lua_pushlstring(state, msg.as_ptr().cast(), msg.len());
            ffi::lua_setfield(state, -2, c"err".as_ptr());
            ffi::lua_error(state);
        }
    }
}
