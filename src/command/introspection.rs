//! COMMAND and its subcommands, all read from the command table.

use bytes::Bytes;

use super::args::eq_ic;
use super::error::{CmdError, CmdResult};
use super::flags::{self, LOADING, RANDOM, STALE};
use super::{docs, find, lookup, meta, CommandSpec, Route, TABLE};
use crate::protocol::Reply;
use crate::shard::Session;
use crate::store::glob_match;

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const META: u32 = LOADING | STALE;

/// The COMMAND family.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("command", -1, META | LOADING, NOKEY, "server", Route::Session(command))
    .subs(SUBS)
    .doc("Returns detailed information about all commands.", "2.8.13", "O(N) where N is the total number of Redis commands", "")];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("command|count", 2, META | LOADING, NOKEY, "server", Route::Session(count)).doc(
        "Returns a count of commands.",
        "2.8.13",
        "O(1)",
        "",
    ),
    CommandSpec::new("command|info", -2, META | LOADING, NOKEY, "server", Route::Session(info)).doc(
        "Returns information about one, multiple or all commands.",
        "2.8.13",
        "O(N) where N is the number of commands to look up",
        "[command-name...]",
    ),
    CommandSpec::new("command|docs", -2, META | LOADING, NOKEY, "server", Route::Session(docs_cmd)).doc(
        "Returns documentary information about one, multiple or all commands.",
        "7.0.0",
        "O(N) where N is the number of commands to look up",
        "[command-name...]",
    ),
    CommandSpec::new("command|list", -2, META | LOADING, NOKEY, "server", Route::Session(list)).doc(
        "Returns a list of command names.",
        "7.0.0",
        "O(N) where N is the total number of Redis commands",
        "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]",
    ),
    CommandSpec::new("command|getkeys", -4, META | LOADING, NOKEY, "server", Route::Session(getkeys)).doc(
        "Extracts the key names from an arbitrary command.",
        "2.8.13",
        "O(N) where N is the number of arguments to the command",
        "command (arg...)",
    ),
    CommandSpec::new("command|getkeysandflags", -4, META | LOADING, NOKEY, "server", Route::Session(getkeys)).doc(
        "Extracts the key names and access flags for an arbitrary command.",
        "7.0.0",
        "O(N) where N is the number of arguments to the command",
        "command (arg...)",
    ),
    CommandSpec::new("command|help", 2, META | LOADING, NOKEY, "server", Route::Session(help)).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
        "",
    ),
];

fn b(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// The ACL categories of a command: Redis's, or for a command of shardis's own, the ones its
/// flags imply.
pub fn acl_categories(c: &CommandSpec) -> Vec<&'static str> {
    if let Some(m) = meta::of(c.name) {
        return meta::category_names(m.acl).collect();
    }
    let mut cats = Vec::new();
    if c.flags & flags::WRITE != 0 {
        cats.push("write");
    }
    if c.flags & flags::READONLY != 0 {
        cats.push("read");
    }
    if c.flags & flags::ADMIN != 0 {
        cats.extend(["admin", "dangerous"]);
    }
    cats.push(if c.flags & flags::FAST != 0 { "fast" } else { "slow" });
    cats
}

/// COMMAND INFO's flags, in Redis's order (`addReplyFlagsForCommand`).
const FLAG_ORDER: [(u32, &str); 13] = [
    (flags::WRITE, "write"),
    (flags::READONLY, "readonly"),
    (flags::DENYOOM, "denyoom"),
    (flags::ADMIN, "admin"),
    (flags::PUBSUB, "pubsub"),
    (flags::NOSCRIPT, "noscript"),
    (flags::BLOCKING, "blocking"),
    (flags::LOADING, "loading"),
    (flags::STALE, "stale"),
    (flags::SKIP_MONITOR, "skip_monitor"),
    (flags::SKIP_SLOWLOG, "skip_slowlog"),
    (flags::FAST, "fast"),
    (flags::NO_AUTH, "no_auth"),
];

fn key_spec(k: &meta::KeySpec) -> Reply {
    let begin = match k.begin {
        meta::Begin::Index(pos) => (b("index"), Reply::Map(vec![(b("index"), Reply::Int(i64::from(pos)))])),
        meta::Begin::Keyword(word, from) => {
            (b("keyword"), Reply::Map(vec![(b("keyword"), b(word)), (b("startfrom"), Reply::Int(i64::from(from)))]))
        }
        meta::Begin::Unknown => (b("unknown"), Reply::Map(Vec::new())),
    };
    let find = match k.find {
        meta::Find::Range { lastkey, step, limit } => (
            b("range"),
            Reply::Map(vec![
                (b("lastkey"), Reply::Int(i64::from(lastkey))),
                (b("keystep"), Reply::Int(i64::from(step))),
                (b("limit"), Reply::Int(i64::from(limit))),
            ]),
        ),
        meta::Find::Keynum { keynumidx, firstkey, step } => (
            b("keynum"),
            Reply::Map(vec![
                (b("keynumidx"), Reply::Int(i64::from(keynumidx))),
                (b("firstkey"), Reply::Int(i64::from(firstkey))),
                (b("keystep"), Reply::Int(i64::from(step))),
            ]),
        ),
        meta::Find::Unknown => (b("unknown"), Reply::Map(Vec::new())),
    };
    let mut m = Vec::with_capacity(4);
    if !k.notes.is_empty() {
        m.push((b("notes"), b(k.notes)));
    }
    m.push((b("flags"), Reply::Set(meta::key_flag_names(k.flags).map(Reply::Status).collect())));
    m.push((b("begin_search"), Reply::Map(vec![(b("type"), begin.0), (b("spec"), begin.1)])));
    m.push((b("find_keys"), Reply::Map(vec![(b("type"), find.0), (b("spec"), find.1)])));
    Reply::Map(m)
}

/// The COMMAND INFO entry of one command.
fn info_entry(c: &CommandSpec) -> Reply {
    let m = meta::of(c.name);
    let mut fl: Vec<Reply> = FLAG_ORDER.iter().filter(|(f, _)| c.flags & f != 0).map(|(_, n)| Reply::Status(n)).collect();
    if c.flags & flags::NO_MULTI != 0 {
        fl.push(Reply::Status("no_multi"));
    }
    if m.map_or(c.flags & flags::MOVABLEKEYS != 0, |m| m.movable) {
        fl.push(Reply::Status("movablekeys"));
    }
    if c.flags & flags::ALLOW_BUSY != 0 {
        fl.push(Reply::Status("allow_busy"));
    }
    let (first, last, step) = m.map_or((c.first_key, c.last_key, c.step), |m| m.legacy);
    let tips = match m {
        Some(m) => m.tips.iter().map(|t| b(t)).collect(),
        None if c.flags & RANDOM != 0 => vec![b("nondeterministic_output")],
        None => Vec::new(),
    };
    Reply::Array(vec![
        b(c.name),
        Reply::Int(i64::from(c.arity)),
        Reply::Set(fl),
        Reply::Int(i64::from(first)),
        Reply::Int(i64::from(last)),
        Reply::Int(i64::from(step)),
        Reply::Set(acl_categories(c).into_iter().map(|n| Reply::Status(category_status(n))).collect()),
        Reply::Set(tips),
        Reply::Set(m.map_or(&[][..], |m| m.specs).iter().map(key_spec).collect()),
        Reply::Array(c.subcommands.iter().map(info_entry).collect()),
    ])
}

/// `@name` for a category name, as a static string for a status reply.
fn category_status(name: &str) -> &'static str {
    meta::CATEGORY_TAGS[meta::CATEGORIES.iter().position(|c| *c == name).unwrap_or(0)]
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
                let cat = String::from_utf8_lossy(&a[4]).to_ascii_lowercase();
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

/// COMMAND GETKEYS and GETKEYSANDFLAGS.
fn getkeys(_s: &mut Session, a: &[Bytes]) -> CmdResult {
    let with_flags = eq_ic(&a[1], "getkeysandflags");
    let args = &a[2..];
    let spec = lookup(args).map_err(|_| CmdError::other("Invalid command specified"))?;
    let m = meta::of(spec.name);
    let has_keys = m.map_or(spec.first_key != 0 || spec.numkeys_at != 0 || spec.keys_fn.is_some(), |m| {
        m.specs.iter().any(|s| s.flags & meta::NOT_KEY == 0)
    });
    if !has_keys {
        return Err(CmdError::other("The command has no key arguments"));
    }
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::other("Invalid number of arguments specified for command"));
    }
    let positions: Vec<usize> = spec.key_positions(args).collect();
    if positions.is_empty() && !m.is_some_and(|m| m.optional_keys) {
        return Err(CmdError::other("Invalid arguments specified for command"));
    }
    let keys = positions.into_iter().map(|i| {
        let key = Reply::Bulk(args[i].clone());
        if !with_flags {
            return key;
        }
        let fl = m.map_or(0, |m| meta::key_flags(spec.name, m, args, i));
        Reply::Array(vec![key, Reply::Set(meta::key_flag_names(fl).map(Reply::Status).collect())])
    });
    Ok(Reply::Array(keys.collect()))
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
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    ))
}
