//! Conversions between Lua values and replies, as Redis 7.0 makes them.
//!
//! A command's reply reaches a script as the script's protocol version (`redis.setresp`)
//! would encode it: under RESP2 a map is a flat array, a double a bulk string and a null
//! `false`; under RESP3 maps, sets, doubles, big numbers and booleans keep their types as
//! `{map=...}`, `{set=...}`, `{double=...}`, `{big_number=...}` and Lua booleans. Errors
//! become `{err="CODE message"}`, status replies `{ok="..."}`.
//!
//! A script's return value becomes a reply the other way round: strings are bulk strings,
//! numbers are truncated to integers, tables with `err`/`ok`/`double`/`big_number`/
//! `verbatim_string`/`map`/`set` fields are those replies, other tables are arrays up to
//! their first nil, and `true`/`false` are `1`/null under RESP2 or booleans under RESP3.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::command::CmdError;
use crate::protocol::Reply;

/// Deepest nesting of tables turned into a reply; deeper ones become an error reply.
const MAX_DEPTH: usize = 1000;

/// The Lua value a script sees for `reply`, under RESP3 when `resp3`.
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Status(s) => field_table(lua, "ok", Value::String(lua.create_string(s)?))?,
        Reply::StatusOwned(s) => field_table(lua, "ok", Value::String(lua.create_string(s)?))?,
        Reply::Error(e) => error_table(lua, &e.to_string(), true)?,
        Reply::Int(i) => Value::Number(*i as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Double(d) if resp3 => field_table(lua, "double", Value::Number(*d))?,
        Reply::Double(d) => Value::String(lua.create_string(crate::num::format_f64(*d))?),
        Reply::Nil | Reply::NilArray if resp3 => Value::Nil,
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Bool(b) if resp3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Number(f64::from(u8::from(*b))),
        Reply::BigNumber(n) if resp3 => field_table(lua, "big_number", Value::String(lua.create_string(n)?))?,
        Reply::BigNumber(n) => Value::String(lua.create_string(n)?),
        Reply::Verbatim(b) if resp3 => {
            let v = lua.create_table()?;
            v.raw_set("format", "txt")?;
            v.raw_set("string", lua.create_string(b)?)?;
            field_table(lua, "verbatim_string", Value::Table(v))?
        }
        Reply::Verbatim(b) => Value::String(lua.create_string(b)?),
        Reply::Array(items) | Reply::Push(items) | Reply::Seq(items) => array(lua, items, resp3)?,
        Reply::Set(items) if resp3 => {
            let t = lua.create_table_with_capacity(0, items.len())?;
            for it in items {
                t.raw_set(reply_to_lua(lua, it, resp3)?, true)?;
            }
            field_table(lua, "set", Value::Table(t))?
        }
        Reply::Set(items) => array(lua, items, resp3)?,
        Reply::Map(pairs) if resp3 => {
            let t = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                t.raw_set(reply_to_lua(lua, k, resp3)?, reply_to_lua(lua, v, resp3)?)?;
            }
            field_table(lua, "map", Value::Table(t))?
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.raw_set(2 * i + 1, reply_to_lua(lua, k, resp3)?)?;
                t.raw_set(2 * i + 2, reply_to_lua(lua, v, resp3)?)?;
            }
            Value::Table(t)
        }
        Reply::Blocked | Reply::Raw(_) => error_table(lua, "ERR internal error", true)?,
    })
}

fn array(lua: &Lua, items: &[Reply], resp3: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, it) in items.iter().enumerate() {
        t.raw_set(i + 1, reply_to_lua(lua, it, resp3)?)?;
    }
    Ok(Value::Table(t))
}

fn field_table(lua: &Lua, field: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(field, v)?;
    Ok(Value::Table(t))
}

/// `{err = "CODE message"}` for an error line (a leading `-` dropped, `ERR` added when the
/// text has no code of its own, trailing CR/LF trimmed), as `luaPushErrorBuff` builds it;
/// `ignore_stats` marks an error the command already counted.
pub fn error_table(lua: &Lua, line: &str, ignore_stats: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 2)?;
    t.raw_set("err", error_text(line))?;
    if ignore_stats {
        t.raw_set("ignore_error_stats_update", true)?;
    }
    Ok(Value::Table(t))
}

/// An error line in Redis's script form: `-CODE msg` becomes `CODE msg`, a line that does
/// not start with `-` is given the `ERR` code.
pub fn error_text(line: &str) -> String {
    let (code, msg) = match line.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => (code, msg),
            None => ("ERR", rest),
        },
        None if looks_coded(line) => return line.trim_end_matches(['\r', '\n']).to_string(),
        None => ("ERR", line),
    };
    format!("{code} {}", msg.trim_matches(['\r', '\n']))
}

/// Whether an error line already starts with an upper-case code (`WRONGTYPE ...`), as every
/// error a command replies does.
fn looks_coded(line: &str) -> bool {
    let code = line.split(' ').next().unwrap_or("");
    line.contains(' ') && !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The reply for a script's return value; `resp3` is the script's protocol version.
pub fn lua_to_reply(v: &Value, resp3: bool) -> Reply {
    to_reply(v, resp3, 0)
}

fn to_reply(v: &Value, resp3: bool, depth: usize) -> Reply {
    match v {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) => Reply::Nil,
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(truncate(*n)),
        Value::Table(t) if depth >= MAX_DEPTH => {
            let _ = t;
            Reply::err("ERR reached lua stack limit")
        }
        Value::Table(t) => table_to_reply(t, resp3, depth),
        _ => Reply::Nil,
    }
}

/// `(long long)n` as C converts it: truncation, saturating where C is undefined.
fn truncate(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn string_field(t: &Table, name: &str) -> Option<mlua::String> {
    match t.raw_get::<Value>(name) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

fn table_to_reply(t: &Table, resp3: bool, depth: usize) -> Reply {
    if let Some(e) = string_field(t, "err") {
        let text = e.to_string_lossy();
        return Reply::from(CmdError::Line(error_text(&format!("-{text}")).into()));
    }
    if let Some(ok) = string_field(t, "ok") {
        let s: Vec<u8> = ok.as_bytes().iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
        return Reply::StatusOwned(Bytes::from(s));
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Reply::Double(d),
        Ok(Value::Integer(i)) => return Reply::Double(i as f64),
        _ => {}
    }
    if let Some(n) = string_field(t, "big_number") {
        let s: Vec<u8> = n.as_bytes().iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect();
        return Reply::BigNumber(Bytes::from(s));
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Some(_format), Some(s)) = (string_field(&v, "format"), string_field(&v, "string")) {
            return Reply::Verbatim(Bytes::copy_from_slice(&s.as_bytes()));
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((to_reply(&k, resp3, depth + 1), to_reply(&v, resp3, depth + 1)));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let items = s.pairs::<Value, Value>().flatten().map(|(k, _)| to_reply(&k, resp3, depth + 1)).collect();
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp3, depth + 1)),
        }
    }
    Reply::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_take_redis_script_form() {
        assert_eq!(error_text("-WRONGTYPE Operation"), "WRONGTYPE Operation");
        assert_eq!(error_text("-nocode"), "ERR nocode");
        assert_eq!(error_text("My error"), "ERR My error");
        assert_eq!(error_text("ERR syntax error"), "ERR syntax error");
        assert_eq!(error_text("-ERR x\r\n"), "ERR x");
    }

    #[test]
    fn replies_round_trip_through_lua() {
        let lua = Lua::new();
        let r = Reply::Array(vec![Reply::Int(3), Reply::bulk(b"x"), Reply::Nil]);
        // Under RESP2 a null is false, which converts back to a null.
        let v = reply_to_lua(&lua, &r, false).unwrap();
        assert_eq!(lua_to_reply(&v, false), r);
        // Under RESP3 it is nil, which ends the array, as in Redis.
        let v = reply_to_lua(&lua, &r, true).unwrap();
        assert_eq!(lua_to_reply(&v, true), Reply::Array(vec![Reply::Int(3), Reply::bulk(b"x")]));
        let m = Reply::Map(vec![(Reply::bulk(b"k"), Reply::Double(1.5))]);
        let v2 = reply_to_lua(&lua, &m, false).unwrap();
        assert_eq!(lua_to_reply(&v2, false), Reply::Array(vec![Reply::bulk(b"k"), Reply::bulk(b"1.5")]));
        let v3 = reply_to_lua(&lua, &m, true).unwrap();
        assert_eq!(lua_to_reply(&v3, true), m);
        assert_eq!(lua_to_reply(&Value::Number(3.99), false), Reply::Int(3));
        assert_eq!(lua_to_reply(&Value::Boolean(true), false), Reply::Int(1));
        assert_eq!(lua_to_reply(&Value::Boolean(false), true), Reply::Bool(false));
    }
}
