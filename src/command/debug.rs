//! DEBUG: the subcommands Redis's test suite uses around scripts (PROTOCOL, SLEEP,
//! SET-DISABLE-DENY-SCRIPTS, SET-ACTIVE-EXPIRE).

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use super::error::{CmdError, CmdResult};
use super::flags::{ADMIN, LOADING, NOSCRIPT, STALE};
use super::server::help_reply;
use super::{eq_ic, CommandSpec, Route};
use crate::protocol::Reply;
use crate::shard::Session;

/// The DEBUG command.
pub static COMMANDS: &[CommandSpec] =
    &[CommandSpec::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, (0, 0, 0), "server", Route::Session(debug)).doc(
        "A container for debugging commands.",
        "1.0.0",
        "Depends on subcommand.",
        "subcommand [arg...]",
    )];

fn debug(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    if eq_ic(sub, "help") {
        return Ok(help_reply(
            "DEBUG",
            &[
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SET-DISABLE-DENY-SCRIPTS <0|1>",
                "    Enable or disable scripts' refusal of commands flagged noscript.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        ));
    }
    if eq_ic(sub, "protocol") && a.len() == 3 {
        return protocol(&a[2]);
    }
    if eq_ic(sub, "sleep") && a.len() == 3 {
        let secs = crate::num::parse_f64(&a[2]).filter(|v| *v >= 0.0).ok_or(CmdError::NotFloat)?;
        // As Redis's: the whole shard stops for that long.
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
        return Ok(Reply::OK);
    }
    if eq_ic(sub, "set-disable-deny-scripts") && a.len() == 3 {
        let on = crate::command::parse_int(&a[2])? != 0;
        s.local.shared.scripts.disable_deny_scripts.store(on, Relaxed);
        return Ok(Reply::OK);
    }
    if eq_ic(sub, "set-active-expire") && a.len() == 3 {
        crate::command::parse_int(&a[2])?;
        return Ok(Reply::OK);
    }
    Err(CmdError::Other(
        format!("unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.", String::from_utf8_lossy(sub)).into(),
    ))
}

/// `DEBUG PROTOCOL <type>`: a sample reply of each RESP type, as Redis's.
fn protocol(kind: &[u8]) -> CmdResult {
    let ints = || (0..3).map(Reply::Int).collect::<Vec<_>>();
    Ok(match kind.to_ascii_lowercase().as_slice() {
        b"string" => Reply::bulk(b"Hello World"),
        b"integer" => Reply::Int(12345),
        #[allow(clippy::approx_constant)] // Redis's sample value, not pi.
        b"double" => Reply::Double(3.141),
        b"bignum" => Reply::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999")),
        b"null" => Reply::Nil,
        b"array" => Reply::Array(ints()),
        b"set" => Reply::Set(ints()),
        b"map" => Reply::Map((0..3).map(|j| (Reply::Int(j), Reply::Bool(j == 1))).collect()),
        // The attribute itself is not sent (as to a RESP2 client); the reply that follows is.
        b"attrib" => Reply::bulk(b"Some real reply following the attribute"),
        b"push" => Reply::Push(vec![Reply::bulk(b"server-cpu-usage"), Reply::Int(42)]),
        b"verbatim" => Reply::Verbatim(Bytes::from_static(b"This is a verbatim\nstring")),
        b"true" => Reply::Bool(true),
        b"false" => Reply::Bool(false),
        _ => {
            return Err(CmdError::other(
                "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    })
}
