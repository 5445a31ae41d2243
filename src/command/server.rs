//! Connection and server commands: PING, ECHO, QUIT, RESET, AUTH, HELLO, SELECT, CLIENT,
//! INFO, CONFIG, TIME, SHUTDOWN, CLUSTER KEYSLOT.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::args::{eq_ic, parse_db, parse_int, printable};
use super::error::{CmdError, CmdResult};
use super::flags::{ADMIN, ALLOW_BUSY, FAST, LOADING, NOSCRIPT, NOT_QUEUED, NO_AUTH, NO_MULTI, RANDOM, STALE, SUBSCRIBED_OK};
use super::{CommandSpec, Route};
use crate::protocol::Reply;
use crate::shard::{call_all, route::key_slot, Session};
use crate::store::now_ms;

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const CONN: u32 = NOSCRIPT | LOADING | STALE;

/// The version of Redis whose behaviour shardis reproduces (reported as `redis_version`).
pub const REDIS_VERSION: &str = "7.0.15";

/// Connection, server and cluster commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST | SUBSCRIBED_OK, NOKEY, "connection", Route::Session(ping)).doc(
        "Returns the server's liveliness response.",
        "1.0.0",
        "O(1)",
        "[message]",
    ),
    CommandSpec::new("echo", 2, FAST | LOADING | STALE, NOKEY, "connection", Route::Session(echo)).doc(
        "Returns the given string.",
        "1.0.0",
        "O(1)",
        "message",
    ),
    CommandSpec::new(
        "quit",
        -1,
        FAST | CONN | NO_AUTH | NOT_QUEUED | SUBSCRIBED_OK | ALLOW_BUSY | LOADING,
        NOKEY,
        "connection",
        Route::Session(quit),
    )
    .doc("Closes the connection.", "1.0.0", "O(1)", ""),
    CommandSpec::new(
        "reset",
        1,
        FAST | CONN | NO_AUTH | NOT_QUEUED | SUBSCRIBED_OK | ALLOW_BUSY | LOADING,
        NOKEY,
        "connection",
        Route::Session(reset),
    )
    .doc("Resets the connection.", "6.2.0", "O(1)", ""),
    CommandSpec::new("auth", -2, FAST | CONN | NO_AUTH | ALLOW_BUSY | LOADING, NOKEY, "connection", Route::Session(auth)).doc(
        "Authenticates the connection.",
        "1.0.0",
        "O(N) where N is the number of passwords defined for the user",
        "[username] password",
    ),
    CommandSpec::new("hello", -1, FAST | CONN | NO_AUTH | ALLOW_BUSY | LOADING, NOKEY, "connection", Route::Session(hello)).doc(
        "Handshakes with the Redis server.",
        "6.0.0",
        "O(1)",
        "[protover:integer [AUTH username password] [SETNAME clientname]]",
    ),
    CommandSpec::new("select", 2, FAST | LOADING | STALE, NOKEY, "connection", Route::Session(select)).doc(
        "Changes the selected database.",
        "1.0.0",
        "O(1)",
        "index:integer",
    ),
    CommandSpec::new("client", -2, 0, NOKEY, "connection", Route::Parent).subs(CLIENT_SUBS).doc(
        "A container for client connection commands.",
        "2.4.0",
        "Depends on subcommand.",
        "",
    ),
    CommandSpec::new("config", -2, 0, NOKEY, "server", Route::Parent).subs(CONFIG_SUBS).doc(
        "A container for server configuration commands.",
        "2.0.0",
        "Depends on subcommand.",
        "",
    ),
    CommandSpec::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, NOKEY, "server", Route::Session(monitor)).doc(
        "Listens for all requests received by the server in real-time.",
        "1.0.0",
        "",
        "",
    ),
    CommandSpec::new("time", 1, FAST | LOADING | STALE | RANDOM, NOKEY, "server", Route::Session(time)).doc(
        "Returns the server time.",
        "2.6.0",
        "O(1)",
        "",
    ),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY,
        NOKEY,
        "server",
        Route::Coordinator(shutdown),
    )
    .doc(
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "1.0.0",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]",
    ),
    CommandSpec::new("cluster", -2, 0, NOKEY, "cluster", Route::Parent).subs(CLUSTER_SUBS).doc(
        "A container for Redis Cluster commands.",
        "3.0.0",
        "Depends on subcommand.",
        "",
    ),
];

static CLIENT_SUBS: &[CommandSpec] = &[
    CommandSpec::new("client|id", 2, CONN | LOADING, NOKEY, "connection", Route::Session(client_id)).doc("Returns the unique client ID of the connection.", "5.0.0", "O(1)", ""),
    CommandSpec::new("client|setname", 3, CONN | LOADING, NOKEY, "connection", Route::Session(client_setname)).doc("Sets the connection name.", "2.6.9", "O(1)", "connection-name"),
    CommandSpec::new("client|getname", 2, CONN | LOADING, NOKEY, "connection", Route::Session(client_getname)).doc("Returns the name of the connection.", "2.6.9", "O(1)", ""),
    CommandSpec::new("client|list", -2, ADMIN | CONN | LOADING, NOKEY, "connection", Route::Session(client_list)).doc("Lists open connections.", "2.4.0", "O(N) where N is the number of client connections", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id:integer...]"),
    CommandSpec::new("client|info", 2, CONN | LOADING, NOKEY, "connection", Route::Session(client_info)).doc("Returns information about the connection.", "6.2.0", "O(1)", ""),
    CommandSpec::new("client|kill", -3, ADMIN | CONN | LOADING, NOKEY, "connection", Route::Coordinator(client_kill)).doc("Terminates open connections.", "2.4.0", "O(N) where N is the number of client connections", "ip:port|([ID client-id:integer] [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME YES|NO])"),
    CommandSpec::new("client|unblock", -3, ADMIN | CONN | LOADING, NOKEY, "connection", Route::Session(client_unblock)).doc("Unblocks a client blocked by a blocking command from a different connection.", "5.0.0", "O(log N) where N is the number of client connections", "client-id:integer [TIMEOUT|ERROR]"),
    CommandSpec::new("client|setinfo", 4, CONN, NOKEY, "connection", Route::Session(client_setinfo)).doc("Sets information specific to the client or connection.", "7.2.0", "O(1)", "LIB-NAME libname|LIB-VER libver"),
    CommandSpec::new("client|tracking", -3, CONN | LOADING, NOKEY, "connection", Route::Session(client_tracking)).doc("Controls server-assisted client-side caching for the connection.", "6.0.0", "O(1). Some options may introduce additional complexity.", "ON|OFF [REDIRECT client-id:integer] [PREFIX prefix...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]"),
    CommandSpec::new("client|caching", 3, CONN | LOADING, NOKEY, "connection", Route::Session(client_caching)).doc("Instructs the server whether to track the keys in the next request.", "6.0.0", "O(1)", "YES|NO"),
    CommandSpec::new("client|trackinginfo", 2, CONN | LOADING, NOKEY, "connection", Route::Session(client_trackinginfo)).doc("Returns information about server-assisted client-side caching for the connection.", "6.2.0", "O(1)", ""),
    CommandSpec::new("client|getredir", 2, CONN | LOADING, NOKEY, "connection", Route::Session(client_getredir)).doc("Returns the client ID to which the connection's tracking notifications are redirected.", "6.0.0", "O(1)", ""),
    CommandSpec::new("client|pause", -3, ADMIN | CONN | LOADING, NOKEY, "connection", Route::Session(client_pause)).doc("Suspends commands processing.", "3.0.0", "O(1)", "timeout:integer [WRITE|ALL]"),
    CommandSpec::new("client|unpause", 2, ADMIN | CONN | LOADING, NOKEY, "connection", Route::Session(client_unpause)).doc("Resumes processing commands from paused clients.", "6.2.0", "O(N) Where N is the number of paused clients", ""),
    CommandSpec::new("client|no-evict", 3, ADMIN | CONN | LOADING, NOKEY, "connection", Route::Session(client_no_evict)).doc("Sets the client eviction mode of the connection.", "7.0.0", "O(1)", "ON|OFF"),
    CommandSpec::new("client|no-touch", 3, CONN, NOKEY, "connection", Route::Session(client_no_touch)).doc("Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "7.2.0", "O(1)", "ON|OFF"),
    CommandSpec::new("client|reply", 3, CONN | LOADING, NOKEY, "connection", Route::Session(client_reply)).doc("Instructs the server whether to reply to commands.", "3.2.0", "O(1)", "ON|OFF|SKIP"),
    CommandSpec::new("client|help", 2, CONN | LOADING, NOKEY, "connection", Route::Session(client_help)).doc("Returns helpful text about the different subcommands.", "5.0.0", "O(1)", ""),
];

static CONFIG_SUBS: &[CommandSpec] = &[
    CommandSpec::new("config|get", -3, ADMIN | CONN | LOADING, NOKEY, "server", Route::Session(config_get)).doc(
        "Returns the effective values of configuration parameters.",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "parameter...",
    ),
    CommandSpec::new("config|set", -4, ADMIN | CONN | LOADING, NOKEY, "server", Route::Coordinator(config_set)).doc(
        "Sets configuration parameters in-flight.",
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "(parameter value)...",
    ),
    CommandSpec::new("config|resetstat", 2, ADMIN | CONN | LOADING, NOKEY, "server", Route::Coordinator(config_resetstat)).doc(
        "Resets the server's statistics.",
        "2.0.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("config|rewrite", 2, ADMIN | NOSCRIPT | LOADING | STALE, NOKEY, "server", Route::Session(config_rewrite)).doc(
        "Persists the effective configuration to file.",
        "2.8.0",
        "O(1)",
        "",
    ),
    CommandSpec::new("config|help", 2, CONN | LOADING, NOKEY, "server", Route::Session(config_help)).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
        "",
    ),
];

static CLUSTER_SUBS: &[CommandSpec] = &[
    CommandSpec::new("cluster|keyslot", 3, STALE, NOKEY, "cluster", Route::Session(cluster_keyslot)).doc(
        "Returns the hash slot for a key.",
        "3.0.0",
        "O(N) where N is the number of bytes in the key",
        "key:string",
    ),
    CommandSpec::new("cluster|reset", -2, ADMIN | STALE | NOSCRIPT, NOKEY, "cluster", Route::Session(cluster_disabled)).doc(
        "Resets a Redis Cluster node.",
        "3.0.0",
        "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.",
        "[HARD|SOFT]",
    ),
    CommandSpec::new("cluster|help", 2, LOADING | STALE, NOKEY, "cluster", Route::Session(cluster_help)).doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
        "",
    ),
];

/// Redis's help reply: a header line, the given lines, and the HELP footer, as status lines.
pub fn help_reply(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::StatusOwned(Bytes::from(format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")))];
    out.extend(lines.iter().map(|l| Reply::StatusOwned(Bytes::copy_from_slice(l.as_bytes()))));
    out.push(Reply::Status("HELP"));
    out.push(Reply::Status("    Prints this help."));
    Reply::Array(out)
}

fn ping(s: &mut Session, a: &[Bytes]) -> CmdResult {
    if !s.resp3 && s.push.subscribed() && a.len() <= 2 {
        // RESP2 subscribed mode: a push-shaped pair, as Redis replies there.
        return Ok(Reply::Array(vec![Reply::bulk(b"pong"), Reply::Bulk(a.get(1).cloned().unwrap_or_default())]));
    }
    match a.len() {
        1 => Ok(Reply::Status("PONG")),
        2 => Ok(Reply::Bulk(a[1].clone())),
        _ => Err(CmdError::Arity("ping".into())),
    }
}

fn echo(_s: &mut Session, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(a[1].clone()))
}

fn quit(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    s.close = true;
    // Gone for every other client from now, before the reply: a tracking client redirecting
    // here learns of it with its next invalidation, not one lost in the closing connection.
    s.local.shared.clients.remove(&s.meta.id);
    Ok(Reply::OK)
}

fn password_required(s: &Session) -> Option<Vec<u8>> {
    let p = s.local.shared.config.requirepass.read().expect("config lock").clone();
    Some(p).filter(|p| !p.is_empty())
}

fn reset(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    if s.monitoring {
        s.monitoring = false;
        s.meta.set_mode(crate::shard::ClientMeta::MONITOR, false);
        s.local.shared.remove_monitor(s.meta.id);
    }
    s.reply_off = false;
    s.reply_skip = 0;
    s.stop_tracking();
    s.end_multi();
    s.unwatch();
    s.unsubscribe_all();
    s.select(0);
    s.set_resp3(false);
    *s.meta.name.lock().expect("client meta lock") = Bytes::new();
    s.authenticated = password_required(s).is_none();
    Ok(Reply::Status("RESET"))
}

/// Checks credentials against the default user.
fn check_auth(s: &mut Session, user: &[u8], pass: &[u8]) -> Result<(), CmdError> {
    let ok = user == b"default" && password_required(s).is_none_or(|p| p == pass);
    if ok {
        s.authenticated = true;
        Ok(())
    } else {
        Err(CmdError::WrongPass)
    }
}

fn auth(s: &mut Session, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    if a.len() == 2 {
        if password_required(s).is_none() {
            return Err(CmdError::other(
                "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ));
        }
        check_auth(s, b"default", &a[1])?;
    } else {
        check_auth(s, &a[1], &a[2])?;
    }
    Ok(Reply::OK)
}

/// Redis's client name rule: printable ASCII without spaces.
fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn hello(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let mut ver = None;
    let mut j = 1;
    if a.len() >= 2 {
        let v = parse_int(&a[1]).map_err(|_| CmdError::other("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::NoProto);
        }
        ver = Some(v);
        j = 2;
    }
    let mut creds = None;
    let mut name = None;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if eq_ic(&a[j], "auth") && more >= 2 {
            creds = Some((a[j + 1].clone(), a[j + 2].clone()));
            j += 2;
        } else if eq_ic(&a[j], "setname") && more >= 1 {
            if !valid_name(&a[j + 1]) {
                return Err(CmdError::other("Client names cannot contain spaces, newlines or special characters."));
            }
            name = Some(a[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Other(format!("Syntax error in HELLO option '{}'", printable(&a[j], usize::MAX)).into()));
        }
        j += 1;
    }
    if let Some((u, p)) = creds {
        check_auth(s, &u, &p)?;
    }
    if !s.authenticated {
        return Err(CmdError::Other("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into()));
    }
    if let Some(n) = name {
        *s.meta.name.lock().expect("client meta lock") = n;
    }
    if let Some(v) = ver {
        s.set_resp3(v == 3);
    }
    let b = |x: &str| Reply::bulk(x.as_bytes());
    Ok(Reply::Map(vec![
        (b("server"), b("redis")),
        (b("version"), b(REDIS_VERSION)),
        (b("proto"), Reply::Int(if s.resp3 { 3 } else { 2 })),
        (b("id"), Reply::Int(s.meta.id as i64)),
        (b("mode"), b("standalone")),
        (b("role"), b("master")),
        (b("modules"), Reply::Array(Vec::new())),
    ]))
}

fn select(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let db = parse_db(&a[1], s.local.shared.config.databases())?;
    s.select(db);
    Ok(Reply::OK)
}

fn client_id(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(s.meta.id as i64))
}

fn client_setname(s: &mut Session, a: &[Bytes]) -> CmdResult {
    if !valid_name(&a[2]) {
        return Err(CmdError::other("Client names cannot contain spaces, newlines or special characters."));
    }
    *s.meta.name.lock().expect("client meta lock") = a[2].clone();
    Ok(Reply::OK)
}

fn client_getname(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    let n = s.meta.name.lock().expect("client meta lock").clone();
    Ok(if n.is_empty() { Reply::Nil } else { Reply::Bulk(n) })
}

fn client_list(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut j = 2;
    while j < a.len() {
        if eq_ic(&a[j], "type") && j + 1 < a.len() {
            let t = &a[j + 1];
            if !["normal", "master", "replica", "slave", "pubsub"].iter().any(|n| eq_ic(t, n)) {
                return Err(CmdError::Other(format!("Unknown client type '{}'", printable(t, usize::MAX)).into()));
            }
            if !eq_ic(t, "normal") {
                return Ok(Reply::Verbatim(Bytes::new()));
            }
            j += 2;
        } else if eq_ic(&a[j], "id") && j + 1 < a.len() {
            let mut v = Vec::new();
            for x in &a[j + 1..] {
                let id = parse_int(x).ok().filter(|&i| i > 0).ok_or_else(|| CmdError::other("Invalid client ID"))?;
                v.push(id as u64);
            }
            ids = Some(v);
            j = a.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = now_ms();
    let mut metas: Vec<_> = s.local.shared.clients.iter().map(|e| e.value().clone()).collect();
    metas.sort_by_key(|m| m.id);
    let mut out = String::new();
    for m in metas.iter().filter(|m| ids.as_ref().is_none_or(|v| v.contains(&m.id))) {
        out.push_str(&m.info_line(now, (m.id == s.meta.id).then_some(a)));
        out.push('\n');
    }
    Ok(Reply::Verbatim(Bytes::from(out)))
}

fn client_info(s: &mut Session, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Verbatim(Bytes::from(s.meta.info_line(now_ms(), Some(a)) + "\n")))
}

fn client_kill(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let old_form = a.len() == 3;
        let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
        let (mut typ, mut maxage) = (None, None);
        if old_form {
            addr = Some(a[2].clone());
            skipme = false;
        } else {
            let mut j = 2;
            while j < a.len() {
                if j + 1 >= a.len() {
                    return Err(CmdError::Syntax);
                }
                let v = &a[j + 1];
                if eq_ic(&a[j], "id") {
                    let n = parse_int(v).map_err(|_| CmdError::other("client-id should be greater than 0"))?;
                    if n <= 0 {
                        return Err(CmdError::other("client-id should be greater than 0"));
                    }
                    id = Some(n as u64);
                } else if eq_ic(&a[j], "addr") {
                    addr = Some(v.clone());
                } else if eq_ic(&a[j], "laddr") {
                    laddr = Some(v.clone());
                } else if eq_ic(&a[j], "skipme") {
                    skipme = if eq_ic(v, "yes") {
                        true
                    } else if eq_ic(v, "no") {
                        false
                    } else {
                        return Err(CmdError::Syntax);
                    };
                } else if eq_ic(&a[j], "type") {
                    let t = v.to_ascii_lowercase();
                    if !matches!(t.as_slice(), b"normal" | b"master" | b"replica" | b"slave" | b"pubsub") {
                        return Err(CmdError::Other(format!("Unknown client type '{}'", printable(v, usize::MAX)).into()));
                    }
                    typ = Some(t);
                } else if eq_ic(&a[j], "user") {
                    // Every client is the default user's.
                    if !eq_ic(v, "default") {
                        return Err(CmdError::Other(format!("No such user '{}'", printable(v, usize::MAX)).into()));
                    }
                } else if eq_ic(&a[j], "maxage") {
                    maxage = Some(parse_int(v)?);
                } else {
                    return Err(CmdError::Syntax);
                }
                j += 2;
            }
        }
        let now = now_ms();
        let type_of = |m: &crate::shard::ClientMeta| -> &'static [u8] {
            if m.subs.iter().any(|n| n.load(Relaxed) > 0) {
                b"pubsub"
            } else {
                b"normal"
            }
        };
        let targets: Vec<_> = s
            .local
            .shared
            .clients
            .iter()
            .map(|e| e.value().clone())
            .filter(|m| id.is_none_or(|i| m.id == i))
            .filter(|m| addr.as_ref().is_none_or(|x| x[..] == *m.addr.as_bytes()))
            .filter(|m| laddr.as_ref().is_none_or(|x| x[..] == *m.laddr.as_bytes()))
            .filter(|m| typ.as_ref().is_none_or(|t| t[..] == *type_of(m)))
            .filter(|m| maxage.is_none_or(|age| (now.saturating_sub(m.created_ms) / 1000) as i64 >= age))
            .filter(|m| !(skipme && m.id == s.meta.id))
            .collect();
        for m in &targets {
            if m.id == s.meta.id {
                s.close = true;
            } else {
                m.killed.store(true, Relaxed);
                if m.fd >= 0 {
                    // SAFETY: shutting down a socket we do not own only wakes its reader; the
                    // descriptor stays registered until its connection unregisters and closes it.
                    unsafe { libc::shutdown(m.fd, libc::SHUT_RDWR) };
                }
            }
        }
        // As from Redis, the killed clients are gone from CLIENT LIST when the reply comes
        // (their connections close on their own shards; wait for that, a second at most).
        let deadline = now_ms() + 1000;
        while targets.iter().any(|m| m.id != s.meta.id && s.local.shared.clients.contains_key(&m.id)) && now_ms() < deadline {
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
        if old_form {
            if targets.is_empty() {
                return Err(CmdError::other("No such client"));
            }
            return Ok(Reply::OK);
        }
        Ok(Reply::Int(targets.len() as i64))
    })
}

fn client_unblock(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let id = parse_int(&a[2])?;
    let error = match a.get(3) {
        None => false,
        Some(r) if eq_ic(r, "timeout") => false,
        Some(r) if eq_ic(r, "error") => true,
        Some(_) => return Err(CmdError::other("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    if a.len() > 4 {
        return Err(CmdError::Syntax);
    }
    let waiter = u64::try_from(id)
        .ok()
        .and_then(|id| s.local.shared.clients.get(&id).and_then(|m| m.blocked.lock().expect("client meta lock").clone()));
    Ok(Reply::Int(i64::from(waiter.is_some_and(|w| w.unblock(error)))))
}

fn client_setinfo(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let slot = if eq_ic(&a[2], "lib-name") {
        &s.meta.lib_name
    } else if eq_ic(&a[2], "lib-ver") {
        &s.meta.lib_ver
    } else {
        return Err(CmdError::Other(format!("Unrecognized option '{}'", printable(&a[2], usize::MAX)).into()));
    };
    if !valid_name(&a[3]) {
        return Err(CmdError::Other(
            format!("{} cannot contain spaces, newlines or special characters.", printable(&a[2], usize::MAX).to_ascii_lowercase()).into(),
        ));
    }
    *slot.lock().expect("client meta lock") = a[3].clone();
    Ok(Reply::OK)
}

fn monitor(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    if !s.monitoring {
        s.monitoring = true;
        s.meta.set_mode(crate::shard::ClientMeta::MONITOR, true);
        s.local.shared.add_monitor(s.meta.id, s.local.id);
    }
    Ok(Reply::OK)
}

fn client_tracking(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let mut mode = crate::tracking::Mode::default();
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        if eq_ic(&a[j], "redirect") && more {
            if mode.redirect != 0 {
                return Err(CmdError::other("A client can only redirect to a single other client"));
            }
            let id = parse_int(&a[j + 1])?;
            if id <= 0 || !s.local.shared.clients.contains_key(&(id as u64)) {
                return Err(CmdError::other("The client ID you want redirect to does not exist"));
            }
            mode.redirect = id as u64;
            j += 1;
        } else if eq_ic(&a[j], "bcast") {
            mode.bcast = true;
        } else if eq_ic(&a[j], "optin") {
            mode.optin = true;
        } else if eq_ic(&a[j], "optout") {
            mode.optout = true;
        } else if eq_ic(&a[j], "noloop") {
            mode.noloop = true;
        } else if eq_ic(&a[j], "prefix") && more {
            mode.prefixes.push(a[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if eq_ic(&a[2], "off") {
        s.stop_tracking();
        return Ok(Reply::OK);
    }
    if !eq_ic(&a[2], "on") {
        return Err(CmdError::Syntax);
    }
    if !mode.bcast && !mode.prefixes.is_empty() {
        return Err(CmdError::other("PREFIX option requires BCAST mode to be enabled"));
    }
    if let Some(old) = &s.tracking {
        if old.bcast != mode.bcast {
            return Err(CmdError::other(
                "You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
    }
    if mode.bcast && (mode.optin || mode.optout) {
        return Err(CmdError::other("OPTIN and OPTOUT are not compatible with BCAST"));
    }
    if mode.optin && mode.optout {
        return Err(CmdError::other("You can't specify both OPTIN mode and OPTOUT mode"));
    }
    if let Some(old) = &s.tracking {
        if (mode.optin && old.optout) || (mode.optout && old.optin) {
            return Err(CmdError::other(
                "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
            ));
        }
    }
    if mode.bcast {
        let existing: Vec<Bytes> = s.tracking.as_ref().map(|m| m.prefixes.clone()).unwrap_or_default();
        let overlap = |x: &[u8], y: &[u8]| x.starts_with(y) || y.starts_with(x);
        for (i, p) in mode.prefixes.iter().enumerate() {
            if let Some(e) = existing.iter().find(|e| overlap(p, e)) {
                return Err(CmdError::Other(
                    format!(
                        "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(e)
                    )
                    .into(),
                ));
            }
            if let Some(q) = mode.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
                return Err(CmdError::Other(
                    format!(
                        "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(q)
                    )
                    .into(),
                ));
            }
        }
    }
    let shared = &s.local.shared;
    if s.tracking.is_none() {
        shared.stats.tracking_clients.fetch_add(1, Relaxed);
    }
    shared.tracking.enable(s.meta.id, mode.clone());
    shared.stats.tracking_prefixes.store(shared.tracking.prefixes() as u64, Relaxed);
    s.meta.set_mode(crate::shard::ClientMeta::TRACKING, true);
    s.meta.set_mode(crate::shard::ClientMeta::BROKEN_REDIR, false);
    s.meta.redir.store(if mode.redirect != 0 { mode.redirect as i64 } else { 0 }, Relaxed);
    s.tracking = shared.tracking.mode(s.meta.id);
    Ok(Reply::OK)
}

fn client_caching(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let Some(mode) = s.tracking.as_ref() else {
        return Err(CmdError::other(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if eq_ic(&a[2], "yes") {
        if !mode.optin {
            return Err(CmdError::other("CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."));
        }
        s.caching_next = Some(true);
    } else if eq_ic(&a[2], "no") {
        if !mode.optout {
            return Err(CmdError::other("CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."));
        }
        s.caching_next = Some(false);
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(Reply::OK)
}

fn client_trackinginfo(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    // CLIENT CACHING's choice holds until a command other than CLIENT runs, as in Redis.
    let caching = s.caching.or(s.caching_next);
    s.caching_next = caching;
    let broken = s.meta.mode.load(Relaxed) & crate::shard::ClientMeta::BROKEN_REDIR != 0;
    let (flags, redirect, prefixes) = match &s.tracking {
        None => (vec!["off"], -1, Vec::new()),
        Some(m) => {
            let mut f = vec!["on"];
            if m.bcast {
                f.push("bcast");
            }
            if m.optin {
                f.push("optin");
                if caching == Some(true) {
                    f.push("caching-yes");
                }
            }
            if m.optout {
                f.push("optout");
                if caching == Some(false) {
                    f.push("caching-no");
                }
            }
            if m.noloop {
                f.push("noloop");
            }
            if broken {
                f.push("broken_redirect");
            }
            // BCAST with no prefix covers every key: the empty prefix.
            let prefixes = if m.bcast && m.prefixes.is_empty() { vec![Bytes::new()] } else { m.prefixes.clone() };
            (f, m.redirect as i64, prefixes)
        }
    };
    Ok(Reply::Map(vec![
        (Reply::bulk(b"flags"), Reply::Set(flags.into_iter().map(|f| Reply::bulk(f.as_bytes())).collect())),
        (Reply::bulk(b"redirect"), Reply::Int(redirect)),
        (Reply::bulk(b"prefixes"), Reply::Array(prefixes.into_iter().map(Reply::Bulk).collect())),
    ]))
}

fn client_getredir(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(match &s.tracking {
        None => -1,
        Some(m) => m.redirect as i64,
    }))
}

fn client_pause(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let ms = parse_int(&a[2]).map_err(|_| CmdError::other("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::other("timeout is negative"));
    }
    let all = match a.get(3) {
        None => true,
        Some(m) if eq_ic(m, "all") && a.len() == 4 => true,
        Some(m) if eq_ic(m, "write") && a.len() == 4 => false,
        _ => return Err(CmdError::Syntax),
    };
    let shared = &s.local.shared;
    let until = now_ms().saturating_add(ms as u64);
    // A later or stronger pause wins, as in Redis.
    let cur = shared.pause_until.load(Relaxed);
    if cur == 0 || until > cur || (all && !shared.pause_all.load(Relaxed)) {
        shared.pause_all.store(all, Relaxed);
        shared.pause_until.store(until.max(cur), Relaxed);
    }
    Ok(Reply::OK)
}

fn client_unpause(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    s.local.shared.pause_until.store(0, Relaxed);
    s.local.shared.pause_all.store(false, Relaxed);
    Ok(Reply::OK)
}

/// `ON`/`OFF` of the CLIENT NO-EVICT / NO-TOUCH kind.
fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if eq_ic(arg, "on") {
        Ok(true)
    } else if eq_ic(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn client_no_evict(s: &mut Session, a: &[Bytes]) -> CmdResult {
    s.meta.set_mode(crate::shard::ClientMeta::NO_EVICT, on_off(&a[2])?);
    Ok(Reply::OK)
}

fn client_no_touch(s: &mut Session, a: &[Bytes]) -> CmdResult {
    s.meta.set_mode(crate::shard::ClientMeta::NO_TOUCH, on_off(&a[2])?);
    Ok(Reply::OK)
}

fn client_reply(s: &mut Session, a: &[Bytes]) -> CmdResult {
    match a[2].to_ascii_lowercase().as_slice() {
        b"on" => {
            s.reply_off = false;
            s.reply_skip = 0;
            Ok(Reply::OK)
        }
        b"off" => {
            s.reply_off = true;
            Ok(Reply::Seq(Vec::new()))
        }
        b"skip" => {
            if !s.reply_off {
                s.reply_skip = 1;
            }
            Ok(Reply::Seq(Vec::new()))
        }
        _ => Err(CmdError::Syntax),
    }
}

fn client_help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).",
            "LIST [TYPE normal] [ID <id> [<id> ...]]",
            "    Return information about client connections.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
        ],
    ))
}

fn config_get(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let patterns: Vec<&[u8]> = a[2..].iter().map(|p| &p[..]).collect();
    let found = s.local.shared.config.get(&patterns);
    Ok(Reply::Map(found.into_iter().map(|(k, v)| (Reply::bulk(k.as_bytes()), Reply::bulk(v.as_bytes()))).collect()))
}

/// Whether the client connects from this machine (a loopback address, the unix socket, or
/// in-process), as `enable-protected-configs local` and `enable-debug-command local` require.
pub fn is_local_client(s: &Session) -> bool {
    let a = s.meta.addr.as_str();
    a.is_empty() || a.starts_with("127.") || a.starts_with("::1:") || a.starts_with("[::1]") || a.starts_with('/')
}

fn config_set(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        if !a.len().is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
        let pairs: Vec<(&[u8], &[u8])> = a[2..].chunks(2).map(|p| (&p[0][..], &p[1][..])).collect();
        if s.local.shared.save.loading.load(Relaxed) && pairs.iter().any(|(n, _)| crate::config::Config::denied_while_loading(n)) {
            return Err(CmdError::Loading);
        }
        let local = is_local_client(s);
        s.local.shared.config.set_many(&pairs, local).map_err(|e| CmdError::Other(e.to_string().into()))?;
        // A smaller tracking table takes effect at once on every shard, and the invalidations
        // of the keys it drops are on their way before the reply (a client's next command
        // comes after them, as in Redis).
        if pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"tracking-table-max-keys")) {
            call_all(&s.local, |l| {
                l.enforce_tracking_limit();
                l.flush_pushes();
            })
            .await;
        }
        // The AOF turns on with a rewrite (replying at once, as Redis), off at once.
        if pairs.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"appendonly")) {
            let on = s.local.shared.config.flag(crate::config::P::Appendonly);
            if on && !s.local.shared.aof.enabled.load(Relaxed) {
                s.local.spawn(crate::persist::aof::rewrite::turn_on(s.local.clone()));
            } else if !on {
                crate::persist::aof::rewrite::turn_off(&s.local).await;
            }
        }
        // A lower budget (or a new policy) takes effect at once.
        if s.local.shared.over_budget() {
            s.local.check_memory();
        }
        Ok(Reply::OK)
    })
}

fn config_rewrite(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    s.local.shared.config.rewrite(false).map_err(|e| CmdError::Other(e.to_string().into()))?;
    log::info!("CONFIG REWRITE executed with success.");
    Ok(Reply::OK)
}

fn config_resetstat(s: &mut Session, _a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        call_all(&s.local, |sh| {
            sh.stats.borrow_mut().clear();
            let mut st = sh.store.borrow_mut();
            for d in 0..st.databases() {
                let changes = st.db(d).stats.changes;
                st.db(d).stats = crate::store::DbStats { changes, ..Default::default() };
            }
        })
        .await;
        let g = &s.local.shared.stats;
        g.connections_received.store(0, Relaxed);
        g.rejected_connections.store(0, Relaxed);
        Ok(Reply::OK)
    })
}

fn config_help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
}

fn time(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Ok(Reply::Array(vec![Reply::bulk(d.as_secs().to_string().as_bytes()), Reply::bulk(d.subsec_micros().to_string().as_bytes())]))
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: the snapshot first, unless NOSAVE (or
/// no save points and no SAVE); a failed snapshot keeps the server up unless FORCE.
fn shutdown(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    use crate::persist::snapshot::{self, AtShutdown};
    Box::pin(async move {
        let (mut abort, mut force, mut mode) = (false, false, AtShutdown::Default);
        for opt in &a[1..] {
            if eq_ic(opt, "abort") {
                abort = true;
            } else if eq_ic(opt, "nosave") {
                mode = AtShutdown::NoSave;
            } else if eq_ic(opt, "save") {
                mode = AtShutdown::Save;
            } else if eq_ic(opt, "force") {
                force = true;
            } else if !eq_ic(opt, "now") {
                return Err(CmdError::Syntax);
            }
        }
        if abort {
            return Err(CmdError::other("No shutdown in progress."));
        }
        log::warn!("User requested shutdown...");
        if !snapshot::shutdown(&s.local, mode, force).await {
            return Err(CmdError::other("Errors trying to SHUTDOWN. Check logs."));
        }
        s.close = true;
        Ok(Reply::OK)
    })
}

fn cluster_keyslot(_s: &mut Session, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(i64::from(key_slot(&a[2]))))
}

fn cluster_disabled(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Err(CmdError::other("This instance has cluster support disabled"))
}

fn cluster_help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply("CLUSTER", &["KEYSLOT <key>", "    Return the hash slot for <key>."]))
}
