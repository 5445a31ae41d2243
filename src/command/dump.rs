//! DUMP and RESTORE: a key's value as Redis's serialized payload (an RDB value, the RDB
//! version and a CRC-64), byte for byte what redis-server gives for the same value and
//! encoding, and back.

use bytes::Bytes;

use super::args::{eq_ic, parse_int};
use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, READONLY, WRITE};
use super::{CommandSpec, Route};
use crate::notify;
use crate::persist::rdb::{apply_usage, payload, EncodeOptions, Limits, RdbError};
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use crate::store::Entry;

const K1: (i32, i32, i32) = (1, 1, 1);

/// DUMP and RESTORE.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, READONLY, K1, "generic", Route::Shard(dump)).doc(
        "Returns a serialized representation of the value stored at a key.",
        "2.6.0",
        "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        "key",
    ),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, K1, "generic", Route::Shard(restore)).doc(
        "Creates a key from the serialized representation of a value.",
        "2.6.0",
        "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        "key ttl:integer serialized-value:string [REPLACE] [ABSTTL] [IDLETIME seconds:integer] [FREQ frequency:integer]",
    ),
];

/// `DUMP key`: the payload, or nil for a missing key.
fn dump(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let opts = EncodeOptions::from_config(ctx.config, now);
    Ok(match ctx.db().read(&a[1], now) {
        Some(e) => Reply::Bulk(Bytes::from(payload::dump(&e.value, &opts))),
        None => Reply::Nil,
    })
}

/// RESTORE's options.
#[derive(Debug, Default)]
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    idle: Option<u64>,
    freq: Option<u8>,
}

fn restore_opts(a: &[Bytes]) -> Result<RestoreOpts, CmdError> {
    let mut o = RestoreOpts::default();
    let mut j = 4;
    while j < a.len() {
        let more = j + 1 < a.len();
        if eq_ic(&a[j], "replace") {
            o.replace = true;
        } else if eq_ic(&a[j], "absttl") {
            o.absttl = true;
        } else if eq_ic(&a[j], "idletime") && more && o.freq.is_none() {
            let idle = parse_int(&a[j + 1])?;
            o.idle = Some(u64::try_from(idle).map_err(|_| CmdError::other("Invalid IDLETIME value, must be >= 0"))?);
            j += 1;
        } else if eq_ic(&a[j], "freq") && more && o.idle.is_none() {
            let freq = parse_int(&a[j + 1])?;
            o.freq = Some(u8::try_from(freq).map_err(|_| CmdError::other("Invalid FREQ value, must be >= 0 and <= 255"))?);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`:
/// checks in Redis's order (options, an existing key, the TTL, the payload's footer, its
/// body); a TTL already past stores nothing (and with REPLACE deletes the key).
fn restore(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let o = restore_opts(a)?;
    let now = ctx.now;
    if !o.replace && ctx.db().contains(&a[1], now) {
        return Err(CmdError::Line("BUSYKEY Target key name already exists.".into()));
    }
    let ttl = parse_int(&a[2])?;
    if ttl < 0 {
        return Err(CmdError::other("Invalid TTL value, must be >= 0"));
    }
    let value = match payload::restore(&a[3], &Limits::from_config(ctx.config)) {
        Ok(v) => v,
        Err(RdbError::PayloadFooter) => return Err(CmdError::other("DUMP payload version or checksum are wrong")),
        Err(_) => return Err(CmdError::other("Bad data format")),
    };
    let expire_at = match ttl {
        0 => 0,
        t if o.absttl => t as u64,
        t => (t as u64).saturating_add(now),
    };
    if expire_at != 0 && expire_at <= now && !ctx.loading() {
        if o.replace && ctx.db().remove(&a[1], now).is_some() {
            ctx.notify(notify::GENERIC, "del", &a[1]);
        }
        return Ok(Reply::OK);
    }
    let mut e = Entry::new(&a[1], value, expire_at, now);
    apply_usage(&mut e, o.idle, o.freq, now);
    ctx.db().insert_entry(e, now);
    ctx.notify(notify::GENERIC, "restore", &a[1]);
    Ok(Reply::OK)
}
