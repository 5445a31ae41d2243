//! COMMAND and its subcommands, all read from the command table.

use bytes::Bytes;

use super::args::eq_ic;
use super::error::{CmdError, CmdResult};
use super::flags::{self, LOADING, RANDOM, STALE};
use super::{docs, find, lookup, CommandSpec, Route, TABLE};
use crate::protocol::Reply;
use crate::shard::Session;
use crate::store::glob_match;

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const META: u32 = LOADING | STALE;

/// The COMMAND family.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("command", -1, META, NOKEY, "server", Route::Session(command)).subs(SUBS).doc(
    "Returns detailed information about all commands.",
    "2.8.13",
    "O(N) where N is the total number of Redis commands",
    "",
)];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("command|count", 2, META, NOKEY, "server", Route::Session(count)).doc(
        "Returns a count of commands.",
        "2.8.13",
        "O(1)",
        "",
    ),
    CommandSpec::new("command|info", -2, META, NOKEY, "server", Route::Session(info)).doc(
        "Returns information about one, multiple or all commands.",
        "2.8.13",
        "O(N) where N is the number of commands to look up",
        "[command-name...]",
    ),
    CommandSpec::new("command|docs", -2, META, NOKEY, "server", Route::Session(docs_cmd)).doc(
        "Returns documentary information about one, multiple or all commands.",
        "7.0.0",
        "O(N) where N is the number of commands to look up",
        "[command-name...]",
    ),
    CommandSpec::new("command|list", -2, META, NOKEY, "server", Route::Session(list)).doc(
        "Returns a list of command names.",
        "7.0.0",
        "O(N) where N is the total number of Redis commands",
        "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]",
    ),
    CommandSpec::new("command|getkeys", -4, META, NOKEY, "server", Route::Session(getkeys)).doc(
        "Extracts the key names from an arbitrary command.",
        "2.8.13",
        "O(N) where N is the number of arguments to the command",
        "command (arg...)",
    ),
    CommandSpec::new("command|help", 2, META, NOKEY, "server", Route::Session(help)).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
        "",
    ),
];

fn b(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn acl_categories(c: &CommandSpec) -> Vec<&'static str> {
    let mut cats = Vec::new();
    if c.flags & flags::WRITE != 0 {
        cats.push("@write");
    }
    if c.flags & flags::READONLY != 0 {
        cats.push("@read");
    }
    match c.group {
        "string" => cats.push("@string"),
        "generic" => cats.push("@keyspace"),
        "connection" => cats.push("@connection"),
        _ => {}
    }
    if c.flags & flags::ADMIN != 0 {
        cats.extend(["@admin", "@dangerous"]);
    }
    cats.push(if c.flags & flags::FAST != 0 { "@fast" } else { "@slow" });
    cats
}

fn key_specs(c: &CommandSpec) -> Vec<Reply> {
    let access = if c.flags & flags::WRITE != 0 { "RW" } else { "RO" };
    let spec = |begin: i64, find: Reply| {
        Reply::Map(vec![
            (b("flags"), Reply::Set(vec![Reply::Status(access)])),
            (b("begin_search"), Reply::Map(vec![(b("type"), b("index")), (b("spec"), Reply::Map(vec![(b("index"), Reply::Int(begin))]))])),
            (b("find_keys"), find),
        ])
    };
    let mut specs = Vec::new();
    if c.first_key > 0 {
        let lastkey = if c.last_key < 0 { c.last_key } else { c.last_key - c.first_key };
        let range = Reply::Map(vec![
            (b("lastkey"), Reply::Int(i64::from(lastkey))),
            (b("keystep"), Reply::Int(i64::from(c.step))),
            (b("limit"), Reply::Int(0)),
        ]);
        specs.push(spec(i64::from(c.first_key), Reply::Map(vec![(b("type"), b("range")), (b("spec"), range)])));
    }
    if c.numkeys_at > 0 {
        let keynum = Reply::Map(vec![(b("keynumidx"), Reply::Int(0)), (b("firstkey"), Reply::Int(1)), (b("keystep"), Reply::Int(1))]);
        specs.push(spec(i64::from(c.numkeys_at), Reply::Map(vec![(b("type"), b("keynum")), (b("spec"), keynum)])));
    }
    specs
}

/// The COMMAND INFO entry of one command.
fn info_entry(c: &CommandSpec) -> Reply {
    let fl =
        flags::NAMES.iter().enumerate().filter(|(i, n)| c.flags & (1 << i) != 0 && !n.is_empty()).map(|(_, n)| Reply::Status(n)).collect();
    let tips = if c.flags & RANDOM != 0 { vec![b("nondeterministic_output")] } else { Vec::new() };
    Reply::Array(vec![
        b(c.name),
        Reply::Int(i64::from(c.arity)),
        Reply::Set(fl),
        Reply::Int(i64::from(c.first_key)),
        Reply::Int(i64::from(c.last_key)),
        Reply::Int(i64::from(c.step)),
        Reply::Set(acl_categories(c).into_iter().map(Reply::Status).collect()),
        Reply::Set(tips),
        Reply::Array(key_specs(c)),
        Reply::Array(c.subcommands.iter().map(info_entry).collect()),
    ])
}

/// The COMMAND DOCS map of one command.
fn doc_entry(c: &CommandSpec) -> Reply {
    let mut m = vec![(b("summary"), b(c.summary)), (b("since"), b(c.since)), (b("group"), b(c.group)), (b("complexity"), b(c.complexity))];
    let args = docs::parse(c.syntax);
    if !args.is_empty() {
        m.push((b("arguments"), Reply::Array(args.iter().map(docs::arg_reply).collect())));
    }
    if !c.subcommands.is_empty() {
        m.push((b("subcommands"), Reply::Map(c.subcommands.iter().map(|s| (b(s.name), doc_entry(s))).collect())));
    }
    Reply::Map(m)
}

/// COMMAND with no subcommand (lookup() has already routed or rejected any subcommand).
fn command(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Array(TABLE.iter().map(|c| info_entry(c)).collect()))
}

fn count(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(TABLE.len() as i64))
}

/// Finds a command or `container|sub` by name.
fn by_full_name(name: &[u8]) -> Option<&'static CommandSpec> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.split_once('|') {
        None => find(lower.as_bytes()),
        Some((parent, _)) => find(parent.as_bytes())?.subcommands.iter().find(|s| s.name == lower),
    }
}

fn info(_s: &mut Session, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        return Ok(Reply::Array(TABLE.iter().map(|c| info_entry(c)).collect()));
    }
    Ok(Reply::Array(a[2..].iter().map(|n| by_full_name(n).map_or(Reply::NilArray, info_entry)).collect()))
}

fn docs_cmd(_s: &mut Session, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        return Ok(Reply::Map(TABLE.iter().map(|c| (b(c.name), doc_entry(c))).collect()));
    }
    Ok(Reply::Map(a[2..].iter().filter_map(|n| by_full_name(n)).map(|c| (b(c.name), doc_entry(c))).collect()))
}

fn list(_s: &mut Session, a: &[Bytes]) -> CmdResult {
    let all = TABLE.iter().flat_map(|c| std::iter::once(*c).chain(c.subcommands.iter()));
    let names: Vec<&CommandSpec> = match a.len() {
        2 => all.collect(),
        5 if eq_ic(&a[2], "filterby") => {
            if eq_ic(&a[3], "module") {
                Vec::new()
            } else if eq_ic(&a[3], "aclcat") {
                let cat = format!("@{}", String::from_utf8_lossy(&a[4]).to_ascii_lowercase());
                all.filter(|c| acl_categories(c).contains(&cat.as_str())).collect()
            } else if eq_ic(&a[3], "pattern") {
                all.filter(|c| glob_match(&a[4], c.name.as_bytes(), true)).collect()
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    Ok(Reply::Array(names.into_iter().map(|c| b(c.name)).collect()))
}

fn getkeys(_s: &mut Session, a: &[Bytes]) -> CmdResult {
    let args = &a[2..];
    let spec = lookup(args).map_err(|_| CmdError::other("Invalid command specified"))?;
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::other("Invalid number of arguments specified for command"));
    }
    let keys: Vec<Reply> = spec.key_positions(args).map(|i| Reply::Bulk(args[i].clone())).collect();
    if keys.is_empty() {
        return Err(CmdError::other("The command has no key arguments"));
    }
    Ok(Reply::Array(keys))
}

fn help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(super::server::help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    ))
}
