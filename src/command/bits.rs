//! Bitmaps: strings read and written bit by bit (SETBIT, GETBIT).

use bytes::Bytes;

use super::error::{CmdError, CmdResult};
use super::flags::{DENYOOM, FAST, READONLY, WRITE};
use super::strings::{read_str, write_str};
use super::{parse_int, CommandSpec, Route};
use crate::notify;
use crate::protocol::Reply;
use crate::shard::ShardCtx;
use crate::store::{Expiry, StrValue, Value};

const K1: (i32, i32, i32) = (1, 1, 1);

/// The bitmap commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, K1, "bitmap", Route::Shard(setbit)).doc(
        "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.",
        "2.2.0",
        "O(1)",
        "key offset:integer value:integer",
    ),
    CommandSpec::new("getbit", 3, READONLY | FAST, K1, "bitmap", Route::Shard(getbit)).doc(
        "Returns a bit value by offset.",
        "2.2.0",
        "O(1)",
        "key offset:integer",
    ),
];

/// A bit offset as Redis takes it: non-negative, its byte within `proto-max-bulk-len`.
fn bit_offset(ctx: &ShardCtx<'_>, arg: &Bytes) -> Result<u64, CmdError> {
    let bad = || CmdError::other("bit offset is not an integer or out of range");
    let off = parse_int(arg).map_err(|_| bad())?;
    if off < 0 || (off >> 3) >= ctx.config.num(crate::config::P::ProtoMaxBulkLen) {
        return Err(bad());
    }
    Ok(off as u64)
}

fn setbit(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let off = bit_offset(ctx, &a[2])?;
    let on = match &a[3][..] {
        b"1" => true,
        b"0" => false,
        _ => return Err(CmdError::other("bit is not an integer or out of range")),
    };
    let (byte, mask) = ((off >> 3) as usize, 0x80u8 >> (off & 7));
    let now = ctx.now;
    let old = match write_str(ctx, &a[1])? {
        Some(s) => {
            let v = s.make_raw();
            if v.len() <= byte {
                v.resize(byte + 1, 0);
            }
            let old = v[byte] & mask != 0;
            if on {
                v[byte] |= mask;
            } else {
                v[byte] &= !mask;
            }
            old
        }
        None => {
            let mut v = vec![0u8; byte + 1];
            if on {
                v[byte] |= mask;
            }
            ctx.db().set(&a[1], Value::Str(StrValue::Raw(v)), Expiry::Clear, now);
            false
        }
    };
    ctx.notify(notify::STRING, "setbit", &a[1]);
    Ok(Reply::Int(i64::from(old)))
}

fn getbit(ctx: &mut ShardCtx<'_>, a: &[Bytes]) -> CmdResult {
    let off = bit_offset(ctx, &a[2])?;
    let Some(s) = read_str(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let bytes = s.as_bytes();
    let bit = bytes.get((off >> 3) as usize).is_some_and(|b| b & (0x80 >> (off & 7)) != 0);
    Ok(Reply::Int(i64::from(bit)))
}
