//! SLOWLOG: the commands that ran longer than `slowlog-log-slower-than` ([`crate::slowlog`]).

use bytes::Bytes;

use super::error::{CmdError, CmdResult};
use super::flags::{ADMIN, LOADING, STALE};
use super::server::help_reply;
use super::{CommandSpec, Route};
use crate::protocol::Reply;
use crate::shard::Session;

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const META: u32 = ADMIN | LOADING | STALE;

/// The SLOWLOG family.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("slowlog", -2, 0, NOKEY, "server", Route::Parent).subs(SUBS).doc(
    "A container for slow log commands.",
    "2.2.12",
    "Depends on subcommand.",
    "",
)];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("slowlog|get", -2, META | LOADING, NOKEY, "server", Route::Session(get)).doc(
        "Returns the slow log's entries.",
        "2.2.12",
        "O(N) where N is the number of entries returned",
        "[count:integer]",
    ),
    CommandSpec::new("slowlog|len", 2, META | LOADING, NOKEY, "server", Route::Session(len)).doc(
        "Returns the number of entries in the slow log.",
        "2.2.12",
        "O(1)",
        "",
    ),
    CommandSpec::new("slowlog|reset", 2, META | LOADING, NOKEY, "server", Route::Session(reset)).doc(
        "Clears all entries from the slow log.",
        "2.2.12",
        "O(N) where N is the number of entries in the slowlog",
        "",
    ),
    CommandSpec::new("slowlog|help", 2, LOADING | STALE, NOKEY, "server", Route::Session(help)).doc(
        "Show helpful text about the different subcommands",
        "6.2.0",
        "O(1)",
        "",
    ),
];

fn get(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let count = match a.get(2) {
        None => Some(10),
        Some(c) => {
            let n = super::parse_int(c).map_err(|_| CmdError::other("count should be greater than or equal to -1"))?;
            if n < -1 {
                return Err(CmdError::other("count should be greater than or equal to -1"));
            }
            (n >= 0).then_some(n as usize)
        }
    };
    let entries = s.local.shared.slowlog.get(count);
    Ok(Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                Reply::Array(vec![
                    Reply::Int(e.id as i64),
                    Reply::Int(e.time as i64),
                    Reply::Int(e.micros as i64),
                    Reply::Array(e.args.into_iter().map(Reply::Bulk).collect()),
                    Reply::bulk(e.addr.as_bytes()),
                    Reply::Bulk(e.name),
                ])
            })
            .collect(),
    ))
}

fn len(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(s.local.shared.slowlog.len() as i64))
}

fn reset(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    s.local.shared.slowlog.reset();
    Ok(Reply::OK)
}

fn help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    ))
}
