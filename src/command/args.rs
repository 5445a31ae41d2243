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

/// An integer of at least `min`, as Redis's `getRangeLongFromObjectOrReply` with a message:
/// a non-integer and an out-of-range value both reply with `msg`.
pub fn at_least(a: &[u8], min: i64, msg: &'static str) -> Result<usize, CmdError> {
    match parse_i64(a) {
        Some(n) if n >= min => Ok(n as usize),
        _ => Err(CmdError::other(msg)),
    }
}

/// Redis's start/stop normalisation of index ranges (LRANGE, LTRIM, ZRANGE by rank...):
/// negative indexes count from the end; the inclusive range, or `None` when empty.
pub fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// The arguments of LMPOP and ZMPOP (`numkeys key... END [COUNT count]`, `ends` naming the
/// two ends): the keys, whether the second end was named, and the count (1 by default).
pub fn parse_mpop<'a>(a: &'a [bytes::Bytes], ends: [&str; 2]) -> Result<(&'a [bytes::Bytes], bool, usize), CmdError> {
    let numkeys = at_least(&a[1], 1, "numkeys should be greater than 0")?;
    let where_at = 2 + numkeys as u64;
    if where_at >= a.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_at = where_at as usize;
    let second = if eq_ic(&a[where_at], ends[0]) {
        false
    } else if eq_ic(&a[where_at], ends[1]) {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        if count.is_none() && eq_ic(&a[j], "count") && j + 1 < a.len() {
            count = Some(at_least(&a[j + 1], 1, "count should be greater than 0")?);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((&a[2..where_at], second, count.unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_ranges_normalise_as_redis() {
        assert_eq!(index_range(0, -1, 5), Some((0, 4)));
        assert_eq!(index_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(index_range(3, 1, 5), None);
        assert_eq!(index_range(5, 10, 5), None);
        assert_eq!(index_range(0, 0, 0), None);
    }
}
