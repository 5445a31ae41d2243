//! Redis's ziplist, read only (lists, hashes and sorted sets of files before Redis 7.0): a
//! header (total bytes, offset of the last entry, count), entries (previous entry's length,
//! encoding, data) and a 0xFF terminator.

use super::{Element, RdbError, Result};

const HEADER: usize = 10;
const END: u8 = 0xFF;
const BIG_PREVLEN: u8 = 254;

const BAD: RdbError = RdbError::Corrupt("ziplist integrity check failed");

/// The entry at `at`: its element and its whole size, and the previous entry's size it
/// records.
fn entry_at(zl: &[u8], at: usize) -> Result<(Element<'_>, usize, usize)> {
    let need = |from: usize, n: usize| from.checked_add(n).and_then(|end| zl.get(from..end)).ok_or(BAD);
    let (prevlen, mut p) = match *zl.get(at).ok_or(BAD)? {
        BIG_PREVLEN => {
            let b = need(at + 1, 4)?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, at + 5)
        }
        END => return Err(BAD),
        n => (usize::from(n), at + 1),
    };
    let enc = *zl.get(p).ok_or(BAD)?;
    let (elem, end) = match enc >> 6 {
        0 => {
            let n = usize::from(enc & 0x3F);
            (Element::Str(need(p + 1, n)?), p + 1 + n)
        }
        1 => {
            let b = need(p, 2)?;
            let n = (usize::from(b[0] & 0x3F) << 8) | usize::from(b[1]);
            (Element::Str(need(p + 2, n)?), p + 2 + n)
        }
        2 => {
            let b = need(p + 1, 4)?;
            let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            p += 5;
            (Element::Str(need(p, n)?), p + n)
        }
        _ => {
            p += 1;
            let (v, n) = match enc {
                0xC0 => (i64::from(i16::from_le_bytes(need(p, 2)?.try_into().map_err(|_| BAD)?)), 2),
                0xD0 => (i64::from(i32::from_le_bytes(need(p, 4)?.try_into().map_err(|_| BAD)?)), 4),
                0xE0 => (i64::from_le_bytes(need(p, 8)?.try_into().map_err(|_| BAD)?), 8),
                0xF0 => {
                    let b = need(p, 3)?;
                    (i64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8), 3)
                }
                0xFE => (i64::from(need(p, 1)?[0] as i8), 1),
                0xF1..=0xFD => (i64::from(enc & 0x0F) - 1, 0),
                _ => return Err(BAD),
            };
            (Element::Int(v), p + n)
        }
    };
    Ok((elem, end - at, prevlen))
}

/// Every element of a ziplist, after checking it as `ziplistValidateIntegrity` does in deep
/// mode: sizes, every entry's bounds and recorded previous length, the tail offset, the
/// count and the terminator.
pub fn parse(zl: &[u8]) -> Result<Vec<Element<'_>>> {
    if zl.len() < HEADER + 1 {
        return Err(BAD);
    }
    let total = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    let tail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let count = u16::from_le_bytes([zl[8], zl[9]]);
    if total != zl.len() || zl[total - 1] != END {
        return Err(BAD);
    }
    let body = &zl[..total - 1];
    let mut out = Vec::with_capacity((body.len() - HEADER) / 2);
    let (mut at, mut prev, mut last) = (HEADER, 0, HEADER);
    while at < body.len() {
        let (e, len, prevlen) = entry_at(body, at)?;
        if prevlen != prev {
            return Err(BAD);
        }
        out.push(e);
        last = at;
        prev = len;
        at += len;
    }
    if tail != last || (count != u16::MAX && usize::from(count) != out.len()) {
        return Err(BAD);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ziplist of `items` laid out as Redis writes one (for tests of old files).
    pub(crate) fn encode(items: &[&[u8]]) -> Vec<u8> {
        let mut zl = vec![0; HEADER];
        let (mut prev, mut last) = (0usize, HEADER);
        for s in items {
            let start = zl.len();
            last = start;
            if prev < usize::from(BIG_PREVLEN) {
                zl.push(prev as u8);
            } else {
                zl.push(BIG_PREVLEN);
                zl.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            match crate::num::parse_i64(s) {
                Some(v @ 0..=12) => zl.push(0xF1 + v as u8),
                Some(v) if i8::try_from(v).is_ok() => zl.extend_from_slice(&[0xFE, v as u8]),
                Some(v) if i16::try_from(v).is_ok() => {
                    zl.push(0xC0);
                    zl.extend_from_slice(&(v as i16).to_le_bytes());
                }
                Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                    zl.push(0xF0);
                    zl.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
                }
                Some(v) if i32::try_from(v).is_ok() => {
                    zl.push(0xD0);
                    zl.extend_from_slice(&(v as i32).to_le_bytes());
                }
                Some(v) => {
                    zl.push(0xE0);
                    zl.extend_from_slice(&v.to_le_bytes());
                }
                None if s.len() < 64 => zl.push(s.len() as u8),
                None if s.len() < 16384 => zl.extend_from_slice(&[0x40 | (s.len() >> 8) as u8, s.len() as u8]),
                None => {
                    zl.push(0x80);
                    zl.extend_from_slice(&(s.len() as u32).to_be_bytes());
                }
            }
            if crate::num::parse_i64(s).is_none() {
                zl.extend_from_slice(s);
            }
            prev = zl.len() - start;
        }
        zl.push(END);
        let total = zl.len() as u32;
        zl[..4].copy_from_slice(&total.to_le_bytes());
        zl[4..8].copy_from_slice(&(last as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
        zl
    }

    #[test]
    fn every_encoding_is_read() {
        let long = vec![b'L'; 300];
        let huge = vec![b'H'; 20000];
        let items: Vec<&[u8]> = vec![
            b"0",
            b"12",
            b"13",
            b"-128",
            b"127",
            b"-32768",
            b"32767",
            b"8388607",
            b"-8388608",
            b"2147483647",
            b"-2147483649",
            b"9223372036854775807",
            b"",
            b"abc",
            &long,
            &huge,
            b"007",
        ];
        let zl = encode(&items);
        let got: Vec<Vec<u8>> = parse(&zl).unwrap().iter().map(|e| e.bytes().into_owned()).collect();
        assert_eq!(got, items.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
    }

    #[test]
    fn corrupt_ziplists_are_refused() {
        let good = encode(&[b"a", &[b'b'; 300], b"7"]);
        assert!(parse(&good).is_ok());
        let mut tail = good.clone();
        tail[4] ^= 1;
        let mut count = good.clone();
        count[8] = 5;
        let mut prevlen = good.clone();
        prevlen[HEADER + 3] = 7;
        for bad in [&tail[..], &count, &prevlen, &good[..good.len() - 1], &[]] {
            assert!(matches!(parse(bad), Err(RdbError::Corrupt(_))));
        }
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..3000 {
            let mut bad = good.clone();
            let i = rng.usize(..bad.len());
            bad[i] = rng.u8(..);
            let _ = parse(&bad);
        }
    }
}
