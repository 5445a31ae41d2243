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

/// The optional count of HRANDFIELD, SRANDMEMBER and ZRANDMEMBER: any integer but the most
/// negative one (Redis accepts ±LONG_MAX).
pub fn parse_rand_count(a: Option<&bytes::Bytes>) -> Result<Option<i64>, CmdError> {
    match a.map(|c| parse_int(c)).transpose()? {
        Some(i64::MIN) => Err(CmdError::other("value is out of range, value must between -9223372036854775807 and 9223372036854775807")),
        n => Ok(n),
    }
}

/// Positions among `len` elements for a random-member count: distinct ones for a positive
/// count (at most `len`), possibly repeated ones for a negative count.
pub fn random_picks(len: usize, count: i64) -> Vec<usize> {
    let mut rng = fastrand::Rng::new();
    if count < 0 {
        return (0..count.unsigned_abs()).map(|_| rng.usize(..len)).collect();
    }
    let mut idx: Vec<usize> = (0..len).collect();
    rng.shuffle(&mut idx);
    idx.truncate(count as usize);
    idx
}
