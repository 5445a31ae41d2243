//! Number parsing and formatting with Redis's exact rules.

/// Parses a signed 64-bit integer exactly as Redis's `string2ll` does: optional `-`, no `+`,
/// no leading zeros, no spaces, and nothing else in the string.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_i64;

    #[test]
    fn parse_i64_matches_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-0", b"01", b"+1", b" 1", b"1 ", b"9223372036854775808", b"1a", b"-"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }
}

/// C's `strtod` over the argument up to its first NUL byte, as Redis sees a C string: the
/// value, whether the whole string was consumed, and whether `errno` reported a range error.
fn strtod(s: &[u8]) -> (f64, bool, bool) {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    let c = std::ffi::CString::new(&s[..end]).expect("no NUL before end");
    let mut eptr: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call; errno is this thread's.
    unsafe {
        *libc::__errno_location() = 0;
        let v = libc::strtod(c.as_ptr(), &mut eptr);
        let consumed = eptr.offset_from(c.as_ptr()) as usize;
        (v, consumed == end, *libc::__errno_location() == libc::ERANGE)
    }
}

/// Parses a float argument as Redis's `getDoubleFromObject`: strtod over the whole argument,
/// no leading space, no NaN, no overflow or underflow to zero.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let (v, whole, erange) = strtod(s);
    let ok = !s.is_empty()
        && !s[0].is_ascii_whitespace()
        && whole
        && s.len() == s.iter().position(|&b| b == 0).unwrap_or(s.len())
        && !(erange && (v.is_infinite() || v == 0.0))
        && !v.is_nan();
    ok.then_some(v)
}

/// Parses a score bound as Redis's `zslParseRange` does after the `(`: strtod must reach the
/// end of the C string, and NaN is refused (an empty string reads as 0).
pub fn parse_f64_bound(s: &[u8]) -> Option<f64> {
    let (v, whole, _) = strtod(s);
    (whole && !v.is_nan()).then_some(v)
}

/// Formats a double as Redis's `ld2string(.., LD_STR_HUMAN)`: 17 decimals without an
/// exponent, trailing zeros (and a trailing point) removed, `-0` as `0`.
pub fn format_f64_human(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut buf = vec![0u8; 400];
    // SAFETY: snprintf writes at most buf.len() bytes, NUL included, into our buffer; a double
    // printed with 17 decimals needs at most 309 + 19 characters.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17f".as_ptr(), d) };
    let mut t = String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned();
    if t.contains('.') {
        let keep = t.trim_end_matches('0').trim_end_matches('.').len();
        t.truncate(keep);
    }
    if t == "-0" {
        t = "0".into();
    }
    t
}

/// Formats a double as C's `%f` (six decimals), trailing zeros and a trailing point removed,
/// as Redis shows latency percentiles (`99.9`, `50`).
pub fn format_f64_short(d: f64) -> String {
    let s = format!("{d:.6}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// Reads a SORT weight as Redis does: strtod over the whole C string (leading spaces
/// skipped, an empty string is 0), refusing range errors and NaN.
pub fn parse_f64_weight(s: &[u8]) -> Option<f64> {
    let (v, whole, erange) = strtod(s);
    (whole && !erange && !v.is_nan()).then_some(v)
}

/// Formats a double as Redis's replies do (`%.17g`; `inf` and `-inf`).
pub fn format_f64(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mut buf = [0u8; 64];
    // SAFETY: snprintf writes at most buf.len() bytes, NUL included, into our buffer.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), d) };
    String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned()
}

extern "C" {
    fn shardis_ld_incr(
        cur: *const u8,
        curlen: usize,
        has_cur: i32,
        incr: *const u8,
        incrlen: usize,
        out: *mut u8,
        outlen: usize,
    ) -> std::os::raw::c_long;
}

/// Why INCRBYFLOAT could not add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatIncrError {
    /// The stored value is not a float.
    BadValue,
    /// The increment is not a float.
    BadIncrement,
    /// The sum is NaN or infinite.
    NotFinite,
}

/// Adds `incr` to `cur` in C `long double` and formats the sum as Redis's INCRBYFLOAT does.
pub fn incr_by_float(cur: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, FloatIncrError> {
    let mut out = vec![0u8; 5200];
    let (cp, cl) = cur.map_or((std::ptr::null(), 0), |c| (c.as_ptr(), c.len()));
    // SAFETY: pointers and lengths describe live slices; the C side writes at most `out.len()` bytes.
    let n = unsafe { shardis_ld_incr(cp, cl, i32::from(cur.is_some()), incr.as_ptr(), incr.len(), out.as_mut_ptr(), out.len()) };
    match n {
        -1 => Err(FloatIncrError::BadValue),
        -2 => Err(FloatIncrError::BadIncrement),
        n if n < 0 => Err(FloatIncrError::NotFinite),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod float_tests {
    use super::*;

    #[test]
    fn doubles_parse_and_print_as_redis() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"0x10"), Some(16.0), "strtod reads hex");
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        for bad in [&b""[..], b" 1", b"1 ", b"nan", b"1e400", b"1e-400", b"abc", b"1\0"] {
            assert_eq!(parse_f64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_f64_bound(b""), Some(0.0));
        assert_eq!(parse_f64_bound(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_f64_bound(b"nan"), None);
        assert_eq!(parse_f64_weight(b" 2"), Some(2.0));
        assert_eq!(parse_f64_weight(b""), Some(0.0));
        assert_eq!(parse_f64_weight(b"1e-400"), None);
        assert_eq!(parse_f64_weight(b"abc"), None);
        assert_eq!(format_f64(1.5), "1.5");
        assert_eq!(format_f64(0.1), "0.10000000000000001");
        assert_eq!(format_f64(3.0), "3");
        assert_eq!(format_f64(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_f64(1e20), "1e+20");
        assert_eq!(format_f64_human(1e20), "100000000000000000000");
        assert_eq!(format_f64_human(2.5), "2.5");
        assert_eq!(format_f64_human(1e-5), "0.00001");
        assert_eq!(format_f64_human(-0.0), "0");
    }

    #[test]
    fn incr_by_float_matches_redis() {
        assert_eq!(incr_by_float(Some(b"10.5"), b"0.1").unwrap(), b"10.6");
        assert_eq!(incr_by_float(None, b"5.0e3").unwrap(), b"5000");
        assert_eq!(incr_by_float(Some(b"aaa"), b"1"), Err(FloatIncrError::BadValue));
        assert_eq!(incr_by_float(Some(b"aaa"), b"inf"), Err(FloatIncrError::BadValue));
        assert_eq!(incr_by_float(None, b"x"), Err(FloatIncrError::BadIncrement));
    }
}
