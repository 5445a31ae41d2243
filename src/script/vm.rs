//! One shard's Lua VM: the sandbox (`prelude.lua`), the `redis.*` functions that need Rust,
//! compiled EVAL scripts and loaded function libraries, and the driver that runs a script
//! as a coroutine so that a command on another shard can be awaited mid-script.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ahash::AHashMap;
use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic};

use super::run::{call_from_script, call_now, RunCtx};
use super::{sha1_hex, FunctionFlags, LibraryCode};

/// What a script's run ended with.
#[derive(Debug)]
pub enum Outcome {
    /// The returned value, converted; true when it is an error a command already counted
    /// (`return redis.pcall(...)` of a failing command).
    Returned(crate::protocol::Reply, bool),
    /// Redis's error table: message (with its code), and the script position when known.
    Failed {
        /// The error line, its code first.
        msg: String,
        /// Source and line where it was raised.
        at: Option<(String, i64)>,
        /// The command that failed counted the error already (`ignore_error_stats_update`).
        counted: bool,
    },
    /// It touched a key it may not and asked to run again under wider locks.
    Restart,
}

/// A function library as registered by its code: (name, description, flags) per function.
pub type Registered = Vec<(String, Option<String>, FunctionFlags, Function)>;

/// One shard's Lua interpreter.
pub struct Vm {
    lua: Lua,
    driver: Function,
    eval_env: Table,
    load_library: Function,
    restart: Table,
    /// Compiled EVAL scripts by SHA1, for the script cache generation `.0`.
    scripts: RefCell<(u64, AHashMap<Box<str>, Function>)>,
    /// Loaded functions by name, for the library generation `.0`.
    functions: RefCell<(u64, AHashMap<Box<str>, Function>)>,
    /// The run in progress (one at a time per shard).
    pub(crate) ctx: Rc<RefCell<Option<RunCtx>>>,
    /// Runs since the last garbage-collection step.
    runs: std::cell::Cell<u32>,
}

/// Every this many runs the collector takes a step of this many KB, as Redis's
/// `LUA_GC_CYCLE_PERIOD`: garbage of short scripts does not pile up between Lua's own cycles.
const GC_PERIOD: u32 = 50;

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm").field("used_memory", &self.lua.used_memory()).finish_non_exhaustive()
    }
}

/// Redis's `lrand48` state after `redisSrand48(seed)`.
fn srand48(seed: i32) -> u64 {
    ((seed as u32 as u64) << 16) | 0x330E
}

/// Redis's `redisLrand48`: the next 31-bit value of the 48-bit linear congruential generator.
fn lrand48(state: &Cell<u64>) -> i32 {
    let x = (state.get().wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB)) & ((1 << 48) - 1);
    state.set(x);
    (x >> 17) as i32
}

/// Redis's version as a number (`0x070000f` for 7.0.15).
fn version_num() -> f64 {
    let mut n = 0.0;
    for part in crate::command::REDIS_VERSION.split('.') {
        n = n * 256.0 + part.parse::<f64>().unwrap_or(0.0);
    }
    n
}

impl Vm {
    /// A new interpreter with Redis's sandbox.
    pub fn new() -> mlua::Result<Vm> {
        // SAFETY: the debug library is loaded only for the prelude, which keeps what it needs
        // (debug.getinfo) in locals and removes it from the globals.
        let lua = unsafe { Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, LuaOptions::new()) };
        super::libs::register(&lua)?;
        super::busy::install(&lua)?;
        let ctx: Rc<RefCell<Option<RunCtx>>> = Rc::new(RefCell::new(None));
        let rand = Rc::new(Cell::new(srand48(fastrand::i32(..))));
        let internals = lua.create_table()?;
        let restart = lua.create_table()?;
        internals.raw_set("restart", restart.clone())?;
        internals.raw_set("version", crate::command::REDIS_VERSION)?;
        internals.raw_set("version_num", version_num())?;
        let c = ctx.clone();
        internals.raw_set("call_now", lua.create_function(move |lua, args: Variadic<Value>| call_now(lua, &c, args))?)?;
        let c = ctx.clone();
        internals.raw_set(
            "call",
            lua.create_async_function(move |lua, args: Variadic<Value>| {
                let c = c.clone();
                async move { call_from_script(&lua, &c, args).await }
            })?,
        )?;
        internals.raw_set(
            "log",
            lua.create_function(|_, (level, msg): (i64, mlua::String)| {
                let text = msg.to_string_lossy();
                match level {
                    0 => log::debug!("{text}"),
                    1 => log::info!("{text}"),
                    2 => log::info!("{text}"),
                    _ => log::warn!("{text}"),
                }
                Ok(())
            })?,
        )?;
        let c = ctx.clone();
        internals.raw_set(
            "setresp",
            lua.create_function(move |_, v: i64| {
                if let Some(run) = c.borrow_mut().as_mut() {
                    run.set_resp3(v == 3);
                }
                Ok(())
            })?,
        )?;
        internals.raw_set("sha1hex", lua.create_function(|_, s: mlua::String| Ok(sha1_hex(&s.as_bytes())))?)?;
        internals.raw_set(
            "command_exists",
            lua.create_function(|_, args: Variadic<Value>| {
                let mut argv = Vec::new();
                for a in args.iter() {
                    match a {
                        Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
                        Value::Integer(i) => argv.push(Bytes::from(i.to_string())),
                        Value::Number(n) => argv.push(Bytes::from(crate::num::format_f64(*n))),
                        _ => return Ok(false),
                    }
                }
                Ok(!argv.is_empty() && crate::command::lookup(&argv).is_ok_and(|spec| spec.arity_ok(argv.len())))
            })?,
        )?;
        let r = rand.clone();
        internals.raw_set(
            "random",
            lua.create_function(move |_, args: Variadic<Value>| {
                let v = f64::from(lrand48(&r) % i32::MAX) / f64::from(i32::MAX);
                let int = |x: &Value| -> mlua::Result<i64> {
                    match x {
                        Value::Integer(i) => Ok(*i),
                        Value::Number(n) => Ok(*n as i64),
                        Value::String(s) => s
                            .to_str()?
                            .trim()
                            .parse::<f64>()
                            .map(|f| f as i64)
                            .map_err(|_| mlua::Error::runtime("bad argument (number expected)")),
                        _ => Err(mlua::Error::runtime("bad argument (number expected)")),
                    }
                };
                match args.len() {
                    0 => Ok(v),
                    1 => {
                        let u = int(&args[0])?;
                        if u < 1 {
                            return Err(mlua::Error::runtime("bad argument #1 to 'random' (interval is empty)"));
                        }
                        Ok((v * u as f64).floor() + 1.0)
                    }
                    2 => {
                        let (l, u) = (int(&args[0])?, int(&args[1])?);
                        if l > u {
                            return Err(mlua::Error::runtime("bad argument #2 to 'random' (interval is empty)"));
                        }
                        Ok((v * (u - l + 1) as f64).floor() + l as f64)
                    }
                    _ => Err(mlua::Error::runtime("wrong number of arguments")),
                }
            })?,
        )?;
        let r = rand.clone();
        internals.raw_set(
            "randomseed",
            lua.create_function(move |_, seed: f64| {
                r.set(srand48(seed as i64 as i32));
                Ok(())
            })?,
        )?;
        let prelude = lua.load(include_str!("prelude.lua")).set_name("=shardis").into_function()?;
        let (driver, eval_env, _fn_env, load_library): (Function, Table, Table, Function) = prelude.call(internals)?;
        // What building the sandbox left behind goes now, not in a later script's time.
        lua.gc_collect()?;
        Ok(Vm {
            lua,
            driver,
            eval_env,
            load_library,
            restart,
            scripts: RefCell::new((0, AHashMap::new())),
            functions: RefCell::new((u64::MAX, AHashMap::new())),
            ctx,
            runs: std::cell::Cell::new(0),
        })
    }

    /// Bytes the interpreter has allocated.
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// The compiled EVAL script `sha` (compiling `body` when this VM has not yet, or when the
    /// script cache was flushed since: `generation`); the compile error's text otherwise.
    pub fn script(&self, generation: u64, sha: &str, body: &[u8]) -> Result<Function, String> {
        let mut cache = self.scripts.borrow_mut();
        if cache.0 != generation {
            *cache = (generation, AHashMap::new());
        }
        if let Some(f) = cache.1.get(sha) {
            return Ok(f.clone());
        }
        let f = self.compile(body)?;
        cache.1.insert(sha.into(), f.clone());
        Ok(f)
    }

    /// Compiles an EVAL script body: a shebang line is skipped but its line feed kept, so
    /// that line numbers stay the user's.
    pub fn compile(&self, body: &[u8]) -> Result<Function, String> {
        let skip = if body.starts_with(b"#!") { body.iter().position(|&b| b == b'\n').unwrap_or(body.len()) } else { 0 };
        self.lua
            .load(&*super::tailcall::keep_script_frame(&body[skip..]))
            .set_name("@user_script")
            .set_environment(self.eval_env.clone())
            .into_function()
            .map_err(|e| lua_error_text(&e))
    }

    /// Loads a function library's code (its metadata line is skipped, its line feed kept),
    /// returning what it registered or the error text.
    pub fn load_library(&self, code: &[u8]) -> Result<Registered, String> {
        let skip = if code.starts_with(b"#!") { code.iter().position(|&b| b == b'\n').unwrap_or(code.len()) } else { 0 };
        let chunk = self
            .lua
            .load(&*super::tailcall::keep_script_frame(&code[skip..]))
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
        super::busy::watch_load();
        let loaded = self.load_library.call::<(bool, Value)>(chunk);
        super::busy::unwatch();
        let (ok, got) = loaded.map_err(|e| lua_error_text(&e))?;
        let Value::Table(got) = got else { return Err("Error registering functions: unknown error".into()) };
        if !ok {
            let msg: String = got.raw_get("err").unwrap_or_else(|_| "ERR unknown error".into());
            return Err(format!("Error registering functions: {msg}"));
        }
        let mut out = Registered::new();
        for f in got.sequence_values::<Table>().flatten() {
            let name: String = f.raw_get("name").unwrap_or_default();
            let desc: Option<String> = f.raw_get("description").unwrap_or(None);
            let mut flags = FunctionFlags::empty();
            if let Ok(list) = f.raw_get::<Table>("flags") {
                for fl in list.sequence_values::<String>().flatten() {
                    flags |= FunctionFlags::from_name(&fl).unwrap_or(FunctionFlags::empty());
                }
            }
            let cb: Function = f.raw_get("callback").map_err(|e| lua_error_text(&e))?;
            out.push((name, desc, flags, cb));
        }
        Ok(out)
    }

    /// The callback of function `name` (lower case) as loaded for library generation
    /// `generation`, reloading every library from `libraries` first when this VM holds an
    /// older generation (its flags are the registry's).
    pub fn function(&self, generation: u64, name: &str, libraries: impl FnOnce() -> Vec<LibraryCode>) -> Option<Function> {
        let mut cache = self.functions.borrow_mut();
        if cache.0 != generation {
            let mut map = AHashMap::new();
            for lib in libraries() {
                if let Ok(fns) = self.load_library(&lib.code) {
                    for (n, _, _, callback) in fns {
                        map.insert(n.to_ascii_lowercase().into_boxed_str(), callback);
                    }
                }
            }
            *cache = (generation, map);
            self.lua.gc_collect().ok();
        }
        cache.1.get(name).cloned()
    }

    /// Drops every compiled script and loaded function, and collects the garbage.
    pub fn reset(&self) {
        *self.scripts.borrow_mut() = (0, AHashMap::new());
        *self.functions.borrow_mut() = (u64::MAX, AHashMap::new());
        self.lua.gc_collect().ok();
    }

    /// Runs `f` through the driver as a coroutine: EVAL scripts with KEYS and ARGV as
    /// globals (`eval`), functions with them as arguments.
    pub async fn run(&self, f: Function, keys: &[Bytes], argv: &[Bytes], eval: bool) -> mlua::Result<Outcome> {
        let (keys_t, argv_t) = self.arg_tables(keys, argv)?;
        let thread = self.lua.create_thread(self.driver.clone())?;
        let (ok, value) = thread.into_async::<(bool, Value)>((eval, f, keys_t, argv_t)).await?;
        self.runs.set(self.runs.get() + 1);
        if self.runs.get() >= GC_PERIOD {
            self.runs.set(0);
            self.lua.gc_step_kbytes(GC_PERIOD as i32)?;
        }
        let resp3 = self.ctx.borrow().as_ref().is_some_and(|c| c.resp3());
        let counted = |t: &Table| t.raw_get::<Option<bool>>("ignore_error_stats_update").ok().flatten() == Some(true);
        if ok {
            let c = matches!(&value, Value::Table(t) if counted(t));
            return Ok(Outcome::Returned(super::convert::lua_to_reply(&value, resp3), c));
        }
        match value {
            Value::Table(t) if t == self.restart => Ok(Outcome::Restart),
            Value::Table(t) => {
                let msg = match t.raw_get::<Value>("err")? {
                    Value::String(s) => s.to_string_lossy().to_string(),
                    _ => "ERR unknown error".into(),
                };
                let source: Option<String> = t.raw_get("source").ok().flatten();
                let line: Option<i64> = t.raw_get("line").ok().flatten();
                Ok(Outcome::Failed { msg, at: source.zip(line), counted: counted(&t) })
            }
            other => Ok(Outcome::Failed { msg: format!("ERR {}", other.to_string().unwrap_or_default()), at: None, counted: false }),
        }
    }

    /// The KEYS and ARGV tables of a run, built in one protected call (not a Lua value per
    /// string).
    fn arg_tables(&self, keys: &[Bytes], argv: &[Bytes]) -> mlua::Result<(Table, Table)> {
        // SAFETY: exec_raw runs the closure protected, with stack room checked below; it only
        // pushes two tables of strings, which it leaves as its results.
        unsafe {
            self.lua.exec_raw((), |state| {
                for list in [keys, argv] {
                    mlua::ffi::luaL_checkstack(state, 4, std::ptr::null());
                    mlua::ffi::lua_createtable(state, list.len() as i32, 0);
                    for (i, s) in list.iter().enumerate() {
                        mlua::ffi::lua_pushlstring(state, s.as_ptr().cast(), s.len());
                        mlua::ffi::lua_rawseti(state, -2, i as mlua::ffi::lua_Integer + 1);
                    }
                }
            })
        }
    }
}

/// A Lua error's message without mlua's decoration.
pub fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// Values returned to Lua by `redis.call`'s Rust halves: (0, value) for a reply, (1, error
/// table) for an error, (2) to restart the script, (3) to take the dispatcher's path.
pub fn call_result(kind: u8, v: Value) -> MultiValue {
    MultiValue::from_vec(vec![Value::Integer(i64::from(kind) as _), v])
}
