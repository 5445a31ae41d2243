//! Argument helpers shared by the command families.

use super::error::CmdError;
use crate::num::parse_i64;

/// Case-insensitive comparison of an argument with an option name.
pub fn eq_ic(arg: &[u8], opt: &str) -> bool {
    arg.eq_ignore_ascii_case(opt.as_bytes())
}

/// An integer argument, or Redis's "not an integer" error.
pub fn parse_int(arg: &[u8]) -> Result<i64, CmdError> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// A database index argument, as Redis's `getIntFromObjectOrReply` + `selectDb`: not an
/// integer (or outside C `int`) → "not an integer"; otherwise out of range → "DB index is out
/// of range".
pub fn parse_db(arg: &[u8], databases: usize) -> Result<usize, CmdError> {
    let n = parse_int(arg)?;
    if !(i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&n) {
        return Err(CmdError::NotInteger);
    }
    if n < 0 || n as usize >= databases {
        return Err(CmdError::DbOutOfRange);
    }
    Ok(n as usize)
}

/// Text of an argument as C's `%.Ns` prints it: up to the first NUL, at most `max` bytes.
pub fn printable(a: &[u8], max: usize) -> String {
    let end = a.iter().position(|&b| b == 0).unwrap_or(a.len()).min(max);
    String::from_utf8_lossy(&a[..end]).into_owned()
}
