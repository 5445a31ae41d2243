//! Redis's listpack, both ways: a 6-byte header (total bytes, element count, little-endian),
//! the entries (encoding, data, back-length) and a 0xFF terminator.
//!
//! [`Writer`] encodes strings exactly as `lpAppend` does (canonical integers in the smallest
//! integer encoding); [`parse`] validates a whole listpack as `lpValidateIntegrity` does in
//! deep mode.

use super::{Element, RdbError, Result};
use crate::num::parse_i64;

/// Bytes of the header: total bytes (u32) and element count (u16).
pub const HEADER: usize = 6;
/// The terminator byte.
pub const EOF: u8 = 0xFF;
/// The header's count when the count does not fit 16 bits.
pub const COUNT_UNKNOWN: u16 = u16::MAX;

const ENC_16BIT_INT: u8 = 0xF1;
const ENC_24BIT_INT: u8 = 0xF2;
const ENC_32BIT_INT: u8 = 0xF3;
const ENC_64BIT_INT: u8 = 0xF4;
const ENC_32BIT_STR: u8 = 0xF0;

/// Builds a listpack one element at a time.
#[derive(Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

/// Appends the back-length of an entry of `l` bytes (`lpEncodeBacklen`).
fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let l = l as u64;
    let n = match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    // The first byte holds the high bits; every later one has its top bit set.
    for i in 0..n {
        let shift = 7 * (n - 1 - i);
        let b = ((l >> shift) & 127) as u8;
        out.push(if i == 0 { (l >> shift) as u8 } else { b | 128 });
    }
}

impl Writer {
    /// An empty listpack.
    pub fn new() -> Self {
        Writer { buf: vec![0; HEADER], count: 0 }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the finished listpack in bytes (`lpBytes`).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends `s`, as an integer when it is a canonical one.
    pub fn push(&mut self, s: &[u8]) {
        match parse_i64(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    /// Appends an integer in its smallest encoding.
    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1FFF;
            b.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
        } else if (-32768..=32767).contains(&v) {
            b.push(ENC_16BIT_INT);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8388608..=8388607).contains(&v) {
            b.push(ENC_24BIT_INT);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(w) = i32::try_from(v) {
            b.push(ENC_32BIT_INT);
            b.extend_from_slice(&w.to_le_bytes());
        } else {
            b.push(ENC_64BIT_INT);
            b.extend_from_slice(&v.to_le_bytes());
        }
        let l = self.buf.len() - start;
        put_backlen(&mut self.buf, l);
        self.count += 1;
    }

    /// Appends a string in a string encoding.
    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if s.len() < 64 {
            b.push(0x80 | s.len() as u8);
        } else if s.len() < 4096 {
            b.extend_from_slice(&[0xE0 | (s.len() >> 8) as u8, s.len() as u8]);
        } else {
            b.push(ENC_32BIT_STR);
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        let l = self.buf.len() - start;
        put_backlen(&mut self.buf, l);
        self.count += 1;
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// A listpack of `items`.
pub fn encode<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut w = Writer::new();
    items.into_iter().for_each(|s| w.push(s));
    w.finish()
}

const BAD: RdbError = RdbError::Corrupt("listpack integrity check failed");

/// The entry at `at`: its element and the size of encoding plus data.
fn entry_at(lp: &[u8], at: usize) -> Result<(Element<'_>, usize)> {
    let need = |n: usize| at.checked_add(n).and_then(|end| lp.get(at..end)).ok_or(BAD);
    let b = *lp.get(at).ok_or(BAD)?;
    let sign = |u: u64, bits: u32| -> i64 { ((u << (64 - bits)) as i64) >> (64 - bits) };
    Ok(if b & 0x80 == 0 {
        (Element::Int(i64::from(b)), 1)
    } else if b & 0xC0 == 0x80 {
        let n = usize::from(b & 0x3F);
        (Element::Str(&need(1 + n)?[1..]), 1 + n)
    } else if b & 0xE0 == 0xC0 {
        let e = need(2)?;
        (Element::Int(sign((u64::from(b & 0x1F) << 8) | u64::from(e[1]), 13)), 2)
    } else if b & 0xF0 == 0xE0 {
        let e = need(2)?;
        let n = (usize::from(b & 0x0F) << 8) | usize::from(e[1]);
        (Element::Str(&need(2 + n)?[2..]), 2 + n)
    } else {
        match b {
            ENC_16BIT_INT => {
                let e = need(3)?;
                (Element::Int(i64::from(i16::from_le_bytes([e[1], e[2]]))), 3)
            }
            ENC_24BIT_INT => {
                let e = need(4)?;
                (Element::Int(sign(u64::from(u32::from_le_bytes([e[1], e[2], e[3], 0])), 24)), 4)
            }
            ENC_32BIT_INT => {
                let e = need(5)?;
                (Element::Int(i64::from(i32::from_le_bytes([e[1], e[2], e[3], e[4]]))), 5)
            }
            ENC_64BIT_INT => {
                let e = need(9)?;
                (Element::Int(i64::from_le_bytes(e[1..9].try_into().map_err(|_| BAD)?)), 9)
            }
            ENC_32BIT_STR => {
                let e = need(5)?;
                let n = u32::from_le_bytes([e[1], e[2], e[3], e[4]]) as usize;
                let total = n.checked_add(5).ok_or(BAD)?;
                (Element::Str(&need(total)?[5..]), total)
            }
            _ => return Err(BAD),
        }
    })
}

/// Every element of a listpack, after checking the whole of it: header, every entry's
/// bounds and back-length, the count and the terminator.
pub fn parse(lp: &[u8]) -> Result<Vec<Element<'_>>> {
    if lp.len() < HEADER + 1 {
        return Err(BAD);
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    if total != lp.len() || lp[total - 1] != EOF {
        return Err(BAD);
    }
    let end = total - 1;
    // Every entry takes at least 2 bytes, so this much room is never too much.
    let mut out = Vec::with_capacity((end - HEADER) / 2);
    let mut at = HEADER;
    while at < end {
        let (e, len) = entry_at(&lp[..end], at)?;
        let back_at = at + len;
        let mut tail = Vec::with_capacity(5);
        put_backlen(&mut tail, len);
        let next = back_at.checked_add(tail.len()).filter(|&n| n <= end).ok_or(BAD)?;
        if lp[back_at..next] != tail[..] {
            return Err(BAD);
        }
        out.push(e);
        at = next;
    }
    if count != COUNT_UNKNOWN && usize::from(count) != out.len() {
        return Err(BAD);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(lp: &[u8]) -> Vec<Vec<u8>> {
        parse(lp).unwrap().iter().map(|e| e.bytes().into_owned()).collect()
    }

    #[test]
    fn every_integer_encoding_boundary_round_trips() {
        let bounds: [(i64, usize); 14] = [
            (0, 1),
            (127, 1),
            (128, 2),
            (-1, 2),
            (-4096, 2),
            (4095, 2),
            (4096, 3),
            (-4097, 3),
            (32767, 3),
            (-32769, 4),
            (8388607, 4),
            (8388608, 5),
            (i64::from(i32::MIN), 5),
            (i64::from(i32::MAX) + 1, 9),
        ];
        for (v, enc) in bounds.into_iter().chain([(i64::MIN, 9), (i64::MAX, 9)]) {
            let lp = encode([v.to_string().as_bytes()]);
            // Header, encoding and data, a one-byte back-length, terminator.
            assert_eq!(lp.len(), HEADER + enc + 1 + 1, "{v}");
            assert_eq!(parse(&lp).unwrap(), vec![Element::Int(v)]);
        }
    }

    #[test]
    fn strings_of_every_length_class_round_trip() {
        let vals: Vec<Vec<u8>> = [0usize, 1, 63, 64, 127, 128, 4095, 4096, 16383, 20000].iter().map(|&n| vec![b'x'; n]).collect();
        let mut items: Vec<&[u8]> = vals.iter().map(Vec::as_slice).collect();
        let odd: [&[u8]; 4] = [b"-0", b"01", b"12345678901234567890123", b"9223372036854775808"];
        items.extend(odd);
        let lp = encode(items.iter().copied());
        assert_eq!(elements(&lp), items.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
        assert!(parse(&lp).unwrap()[10..].iter().all(|e| matches!(e, Element::Str(_))));
    }

    #[test]
    fn the_layout_is_redis_s() {
        // lpAppend("a"), lpAppend("1024"), lpAppend("-1") as Redis lays them out.
        let lp = encode([&b"a"[..], b"1024", b"-1"]);
        assert_eq!(lp, [16, 0, 0, 0, 3, 0, 0x81, b'a', 2, 0xC4, 0x00, 2, 0xDF, 0xFF, 2, 0xFF]);
        // A 200-byte string: 12-bit length, two-byte back-length.
        let lp = encode([&[b'y'; 200][..]]);
        assert_eq!(&lp[HEADER..HEADER + 2], &[0xE0, 200]);
        assert_eq!(&lp[lp.len() - 3..lp.len() - 1], &[1, 202]);
    }

    #[test]
    fn a_count_past_16_bits_is_written_as_unknown() {
        let items: Vec<Vec<u8>> = (0..70_000).map(|i: i32| i.to_string().into_bytes()).collect();
        let lp = encode(items.iter().map(Vec::as_slice));
        assert_eq!(&lp[4..6], &[0xFF, 0xFF]);
        assert_eq!(parse(&lp).unwrap().len(), 70_000);
    }

    #[test]
    fn corrupt_listpacks_are_refused() {
        let good = encode([&b"hello"[..], b"12", &[b'z'; 300]]);
        assert!(parse(&good).is_ok());
        let mut wrong_count = good.clone();
        wrong_count[4] = 2;
        let mut wrong_total = good.clone();
        wrong_total[0] ^= 1;
        let mut no_eof = good.clone();
        *no_eof.last_mut().unwrap() = 0;
        let mut bad_backlen = good.clone();
        bad_backlen[HEADER + 6] = 9;
        for bad in [&wrong_count[..], &wrong_total, &no_eof, &bad_backlen, &good[..5], &[]] {
            assert!(matches!(parse(bad), Err(RdbError::Corrupt(_))));
        }
    }

    #[test]
    fn random_damage_never_panics() {
        let items: Vec<Vec<u8>> =
            (0..50).map(|i| if i % 3 == 0 { vec![b'q'; i * 10] } else { (i * 1000).to_string().into_bytes() }).collect();
        let good = encode(items.iter().map(Vec::as_slice));
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..5000 {
            let mut bad = good.clone();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..bad.len());
                bad[i] = rng.u8(..);
            }
            bad.truncate(rng.usize(..=bad.len()));
            let _ = parse(&bad);
        }
    }
}
