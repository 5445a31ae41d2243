//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION, FCALL, FCALL_RO.
//!
//! The scripts themselves run in [`crate::script`]; this file holds the command table's
//! entries and the replies of the management commands.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::error::{CmdError, CmdResult};
use super::flags::{ALLOW_BUSY, DENYOOM, LOADING, NOSCRIPT, READONLY, SCRIPT, SKIP_MONITOR, STALE, WRITE};
use super::server::help_reply;
use super::{eq_ic, CommandSpec, Route};
use crate::protocol::Reply;
use crate::script::functions::{library_name, parse_dump, FunctionInfo, Library, LibraryCode};
use crate::script::run;
use crate::shard::{call_all, Session};
use crate::store::glob_match;

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const EVAL: u32 = NOSCRIPT | STALE | SCRIPT | SKIP_MONITOR;

/// The scripting commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, EVAL, NOKEY, "scripting", Route::Coordinator(eval)).numkeys(2).doc(
        "Executes a server-side Lua script.",
        "2.6.0",
        "Depends on the script that is executed.",
        "script numkeys:integer [key...] [arg...]",
    ),
    CommandSpec::new("evalsha", -3, EVAL, NOKEY, "scripting", Route::Coordinator(evalsha)).numkeys(2).doc(
        "Executes a server-side Lua script by SHA1 digest.",
        "2.6.0",
        "Depends on the script that is executed.",
        "sha1 numkeys:integer [key...] [arg...]",
    ),
    CommandSpec::new("eval_ro", -3, EVAL | READONLY, NOKEY, "scripting", Route::Coordinator(eval_ro)).numkeys(2).doc(
        "Executes a read-only server-side Lua script.",
        "7.0.0",
        "Depends on the script that is executed.",
        "script numkeys:integer [key...] [arg...]",
    ),
    CommandSpec::new("evalsha_ro", -3, EVAL | READONLY, NOKEY, "scripting", Route::Coordinator(evalsha_ro)).numkeys(2).doc(
        "Executes a read-only server-side Lua script by SHA1 digest.",
        "7.0.0",
        "Depends on the script that is executed.",
        "sha1 numkeys:integer [key...] [arg...]",
    ),
    CommandSpec::new("fcall", -3, EVAL, NOKEY, "scripting", Route::Coordinator(fcall)).numkeys(2).doc(
        "Invokes a function.",
        "7.0.0",
        "Depends on the function that is executed.",
        "function numkeys:integer [key...] [arg...]",
    ),
    CommandSpec::new("fcall_ro", -3, EVAL | READONLY, NOKEY, "scripting", Route::Coordinator(fcall_ro)).numkeys(2).doc(
        "Invokes a read-only function.",
        "7.0.0",
        "Depends on the function that is executed.",
        "function numkeys:integer [key...] [arg...]",
    ),
    CommandSpec::new("script", -2, 0, NOKEY, "scripting", Route::Parent).subs(SCRIPT_SUBS).doc(
        "A container for Lua scripts management commands.",
        "2.6.0",
        "Depends on subcommand.",
        "",
    ),
    CommandSpec::new("function", -2, 0, NOKEY, "scripting", Route::Parent).subs(FUNCTION_SUBS).doc(
        "A container for function commands.",
        "7.0.0",
        "Depends on subcommand.",
        "",
    ),
];

static SCRIPT_SUBS: &[CommandSpec] = &[
    CommandSpec::new("script|load", 3, NOSCRIPT | STALE, NOKEY, "scripting", Route::Session(script_load)).doc(
        "Loads a server-side Lua script to the script cache.",
        "2.6.0",
        "O(N) with N being the length in bytes of the script body.",
        "script",
    ),
    CommandSpec::new("script|exists", -3, NOSCRIPT, NOKEY, "scripting", Route::Session(script_exists)).doc(
        "Determines whether server-side Lua scripts exist in the script cache.",
        "2.6.0",
        "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        "sha1...",
    ),
    CommandSpec::new("script|flush", -2, NOSCRIPT, NOKEY, "scripting", Route::Coordinator(script_flush)).doc(
        "Removes all server-side Lua scripts from the script cache.",
        "2.6.0",
        "O(N) with N being the number of scripts in cache",
        "[ASYNC|SYNC]",
    ),
    CommandSpec::new("script|kill", 2, NOSCRIPT | ALLOW_BUSY, NOKEY, "scripting", Route::Session(script_kill)).doc(
        "Terminates a server-side Lua script during execution.",
        "2.6.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("script|debug", 3, NOSCRIPT, NOKEY, "scripting", Route::Session(script_debug)).doc(
        "Sets the debug mode of server-side Lua scripts.",
        "3.2.0",
        "O(1)",
        "YES|SYNC|NO",
    ),
    CommandSpec::new("script|help", 2, STALE | LOADING, NOKEY, "scripting", Route::Session(script_help)).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
        "",
    ),
];

static FUNCTION_SUBS: &[CommandSpec] = &[
    CommandSpec::new("function|load", -3, WRITE | DENYOOM | NOSCRIPT, NOKEY, "scripting", Route::Session(function_load)).doc(
        "Creates a library.",
        "7.0.0",
        "O(1) (considering compilation time is redundant)",
        "[REPLACE] function-code",
    ),
    CommandSpec::new("function|delete", 3, WRITE | NOSCRIPT, NOKEY, "scripting", Route::Session(function_delete)).doc(
        "Deletes a library and its functions.",
        "7.0.0",
        "O(1)",
        "library-name",
    ),
    CommandSpec::new("function|flush", -2, WRITE | NOSCRIPT, NOKEY, "scripting", Route::Session(function_flush)).doc(
        "Deletes all libraries and functions.",
        "7.0.0",
        "O(N) where N is the number of functions deleted",
        "[ASYNC|SYNC]",
    ),
    CommandSpec::new("function|list", -2, NOSCRIPT, NOKEY, "scripting", Route::Session(function_list)).doc(
        "Returns information about all libraries.",
        "7.0.0",
        "O(N) where N is the number of functions",
        "[LIBRARYNAME library-name-pattern] [WITHCODE]",
    ),
    CommandSpec::new("function|dump", 2, NOSCRIPT, NOKEY, "scripting", Route::Session(function_dump)).doc(
        "Dumps all libraries into a serialized binary payload.",
        "7.0.0",
        "O(N) where N is the number of functions",
        "",
    ),
    CommandSpec::new("function|restore", -3, WRITE | DENYOOM | NOSCRIPT, NOKEY, "scripting", Route::Session(function_restore)).doc(
        "Restores all libraries from a payload.",
        "7.0.0",
        "O(N) where N is the number of functions on the payload",
        "serialized-value [FLUSH|APPEND|REPLACE]",
    ),
    CommandSpec::new("function|stats", 2, NOSCRIPT | ALLOW_BUSY, NOKEY, "scripting", Route::Session(function_stats)).doc(
        "Returns information about a function during execution.",
        "7.0.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("function|kill", 2, NOSCRIPT | ALLOW_BUSY, NOKEY, "scripting", Route::Session(function_kill)).doc(
        "Terminates a function during execution.",
        "7.0.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("function|help", 2, STALE | LOADING, NOKEY, "scripting", Route::Session(function_help)).doc(
        "Returns helpful text about the different subcommands.",
        "7.0.0",
        "O(1)",
        "",
    ),
];

fn eval(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(run::eval(s, a, false, false))
}

fn evalsha(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(run::eval(s, a, true, false))
}

fn eval_ro(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(run::eval(s, a, false, true))
}

fn evalsha_ro(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(run::eval(s, a, true, true))
}

fn fcall(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(run::fcall(s, a, false))
}

fn fcall_ro(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(run::fcall(s, a, true))
}

/// `SCRIPT LOAD script`: compiles and caches the script, replies its SHA1.
fn script_load(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let (sha, _) = run::load_script(&s.local, &a[2])?;
    Ok(Reply::Bulk(Bytes::from(sha)))
}

fn script_exists(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let registry = &s.local.shared.scripts;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|sha| Reply::Int(i64::from(registry.script(&String::from_utf8_lossy(sha).to_ascii_lowercase()).is_some())))
            .collect(),
    ))
}

/// The `[ASYNC|SYNC]` argument of the FLUSH subcommands.
fn flush_mode(a: &[Bytes], what: &'static str) -> Result<(), CmdError> {
    match a.len() {
        2 => Ok(()),
        3 if eq_ic(&a[2], "sync") || eq_ic(&a[2], "async") => Ok(()),
        3 => Err(CmdError::other(what)),
        _ => Err(subcommand_syntax(a)),
    }
}

/// Redis's error for a subcommand given the wrong arguments.
fn subcommand_syntax(a: &[Bytes]) -> CmdError {
    CmdError::Other(
        format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            String::from_utf8_lossy(&a[1]),
            String::from_utf8_lossy(&a[0]).to_ascii_uppercase()
        )
        .into(),
    )
}

/// `SCRIPT FLUSH [ASYNC|SYNC]`: empties the cache and every shard's compiled scripts.
fn script_flush(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        flush_mode(&a, "SCRIPT FLUSH only support SYNC|ASYNC option")?;
        s.local.shared.scripts.flush_scripts();
        call_all(&s.local, |l| l.scripting.reset()).await;
        Ok(Reply::OK)
    })
}

fn script_kill(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    kill(s, true)
}

fn function_kill(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    kill(s, false)
}

/// SCRIPT KILL (`eval`) and FUNCTION KILL: stops the busy script, as Redis's `scriptKill`.
fn kill(s: &Session, eval: bool) -> CmdResult {
    let busy = s.local.shared.scripts.busy.lock().expect("busy lock");
    let Some(b) = busy.first() else { return Err(CmdError::Line("NOTBUSY No scripts in execution right now.".into())) };
    if b.wrote.load(Relaxed) {
        return Err(CmdError::Line("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into()));
    }
    if eval && !b.eval {
        return Err(CmdError::Line("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.".into()));
    }
    if !eval && b.eval {
        return Err(CmdError::Line("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.".into()));
    }
    b.kill.store(true, Relaxed);
    Ok(Reply::OK)
}

fn script_debug(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Err(CmdError::other("SCRIPT DEBUG is not supported"))
}

fn script_help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    ))
}

/// Compiles `code` as a library on this shard's interpreter and checks what it registers.
fn make_library(s: &Session, code: &Bytes) -> Result<Library, CmdError> {
    compile_library(&s.local, code)
}

/// Compiles `code` as a library on `local`'s interpreter (FUNCTION LOAD, RESTORE, and the
/// libraries of an RDB file at start-up).
pub fn compile_library(local: &crate::shard::ShardLocal, code: &Bytes) -> Result<Library, CmdError> {
    let name = library_name(code).map_err(|e| CmdError::Other(e.into()))?;
    let vm = local.scripting.vm()?;
    let registered = vm.load_library(code).map_err(|e| CmdError::Other(e.into()))?;
    if registered.is_empty() {
        return Err(CmdError::other("No functions registered"));
    }
    let mut functions = BTreeMap::new();
    for (fname, description, flags, _) in registered {
        functions.insert(fname.clone(), FunctionInfo { name: fname, library: name.clone(), description, flags });
    }
    Ok(Library { code: LibraryCode { name, code: code.clone() }, functions })
}

/// `FUNCTION LOAD [REPLACE] code`.
fn function_load(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < a.len() - 1 {
        if eq_ic(&a[i], "replace") {
            replace = true;
            i += 1;
            continue;
        }
        return Err(CmdError::Other(format!("Unknown option given: {}", String::from_utf8_lossy(&a[i])).into()));
    }
    if i >= a.len() {
        return Err(CmdError::other("Function code is missing"));
    }
    let lib = make_library(s, &a[i])?;
    let name = lib.code.name.clone();
    let registry = &s.local.shared.scripts;
    registry.libraries.write().expect("libraries lock").add(lib, replace).map_err(|e| CmdError::Other(e.into()))?;
    registry.libraries_changed();
    Ok(Reply::Bulk(Bytes::from(name)))
}

fn function_delete(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let registry = &s.local.shared.scripts;
    if !registry.libraries.write().expect("libraries lock").remove(&String::from_utf8_lossy(&a[2])) {
        return Err(CmdError::other("Library not found"));
    }
    registry.libraries_changed();
    Ok(Reply::OK)
}

fn function_flush(s: &mut Session, a: &[Bytes]) -> CmdResult {
    flush_mode(a, "FUNCTION FLUSH only supports SYNC|ASYNC option")?;
    let registry = &s.local.shared.scripts;
    *registry.libraries.write().expect("libraries lock") = Default::default();
    registry.libraries_changed();
    Ok(Reply::OK)
}

/// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`.
fn function_list(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < a.len() {
        if !with_code && eq_ic(&a[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && eq_ic(&a[i], "libraryname") {
            if i >= a.len() - 1 {
                return Err(CmdError::other("library name argument was not given"));
            }
            i += 1;
            pattern = Some(a[i].clone());
        } else {
            return Err(CmdError::Other(format!("Unknown argument {}", String::from_utf8_lossy(&a[i])).into()));
        }
        i += 1;
    }
    let libs = s.local.shared.scripts.libraries.read().expect("libraries lock");
    let bulk = |t: &str| Reply::Bulk(Bytes::copy_from_slice(t.as_bytes()));
    let mut out = Vec::new();
    for lib in libs.libs.values() {
        if let Some(p) = &pattern {
            if !glob_match(p, lib.code.name.as_bytes(), true) {
                continue;
            }
        }
        let functions = lib
            .functions
            .iter()
            .map(|(name, f)| {
                Reply::Map(vec![
                    (bulk("name"), bulk(name)),
                    (bulk("description"), f.description.as_deref().map_or(Reply::Nil, bulk)),
                    (bulk("flags"), Reply::Set(f.flags.names().into_iter().map(Reply::Status).collect())),
                ])
            })
            .collect();
        let mut m =
            vec![(bulk("library_name"), bulk(&lib.code.name)), (bulk("engine"), bulk("LUA")), (bulk("functions"), Reply::Array(functions))];
        if with_code {
            m.push((bulk("library_code"), Reply::Bulk(lib.code.code.clone())));
        }
        out.push(Reply::Map(m));
    }
    Ok(Reply::Array(out))
}

fn function_dump(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(Bytes::from(s.local.shared.scripts.libraries.read().expect("libraries lock").dump())))
}

/// `FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]`: all or nothing.
fn function_restore(s: &mut Session, a: &[Bytes]) -> CmdResult {
    if a.len() > 4 {
        return Err(subcommand_syntax(a));
    }
    let (mut flush, mut replace) = (false, false);
    if let Some(p) = a.get(3) {
        if eq_ic(p, "flush") {
            flush = true;
        } else if eq_ic(p, "replace") {
            replace = true;
        } else if !eq_ic(p, "append") {
            return Err(CmdError::other("Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."));
        }
    }
    let codes = parse_dump(&a[2]).map_err(|e| CmdError::Other(e.into()))?;
    let mut loaded = Vec::new();
    for code in codes {
        loaded.push(make_library(s, &code)?);
    }
    let registry = &s.local.shared.scripts;
    let mut libs = registry.libraries.write().expect("libraries lock");
    let mut next = if flush { Default::default() } else { libs.clone() };
    for lib in loaded {
        let name = lib.code.name.clone();
        next.add(lib, replace)
            .map_err(|e| CmdError::Other(if e.starts_with("Library") { format!("Library {name} already exists") } else { e }.into()))?;
    }
    *libs = next;
    drop(libs);
    registry.libraries_changed();
    Ok(Reply::OK)
}

/// `FUNCTION STATS`: the running function, if any, and the engine's counts.
fn function_stats(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    let registry = &s.local.shared.scripts;
    let bulk = |t: &str| Reply::Bulk(Bytes::copy_from_slice(t.as_bytes()));
    let busy = registry.busy.lock().expect("busy lock").first().cloned();
    if busy.as_ref().is_some_and(|b| b.eval) {
        return Err(CmdError::Line("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.".into()));
    }
    let running = match busy {
        Some(b) => Reply::Map(vec![
            (bulk("name"), bulk(&b.name)),
            (bulk("command"), Reply::Array(b.command.iter().cloned().map(Reply::Bulk).collect())),
            (bulk("duration_ms"), Reply::Int(crate::store::now_ms().saturating_sub(b.started_ms) as i64)),
        ]),
        None => Reply::Nil,
    };
    let libs = registry.libraries.read().expect("libraries lock");
    let lua = Reply::Map(vec![
        (bulk("libraries_count"), Reply::Int(libs.libs.len() as i64)),
        (bulk("functions_count"), Reply::Int(libs.functions.len() as i64)),
    ]);
    Ok(Reply::Map(vec![(bulk("running_script"), running), (bulk("engines"), Reply::Map(vec![(bulk("LUA"), lua)]))]))
}

fn function_help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    ))
}
