//! The RDB primitives: lengths, strings (with Redis's integer and LZF encodings), doubles,
//! and a checksummed reader that never trusts a length before the bytes arrive.

use std::io::Read;

use super::{RdbError, Result, CRC64};
use crate::num::parse_i64;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// LZF expands a byte of input to at most this many bytes (a 3-byte back reference copies
/// 264): a declared length past it is a lie, refused before anything is allocated.
const LZF_MAX_RATIO: usize = 100;

/// Bytes read ahead of need at most, however long the length read says a string is.
const READ_CHUNK: usize = 64 * 1024;

/// Appends an RDB length (`rdbSaveLen`).
pub(crate) fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Appends `v` in an integer encoding if it fits 32 bits (`rdbEncodeInteger`).
fn write_int_encoded(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.extend_from_slice(&[0xC0 | ENC_INT8, b as u8]);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(0xC0 | ENC_INT16);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(0xC0 | ENC_INT32);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Appends a string as `rdbSaveRawString` does: a canonical integer of up to 11 characters in
/// an integer encoding, else (with `compress`, over 20 bytes) LZF-compressed when that saves
/// at least 4 bytes, else length and bytes.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = parse_i64(s) {
            if write_int_encoded(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(packed) = lzf_compress(s) {
            out.push(0xC0 | ENC_LZF);
            write_len(out, packed.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `s` compressed as `rdbSaveLzfStringObject` does, with the liblzf 3.6 Redis ships (so the
/// bytes match Redis's): `None` unless it saves at least 4 bytes.
pub(crate) fn lzf_compress(s: &[u8]) -> Option<Vec<u8>> {
    let room = s.len().checked_sub(4).filter(|&n| n > 0)?;
    let (Ok(in_len), Ok(out_len)) = (u32::try_from(s.len()), u32::try_from(room)) else {
        return None;
    };
    let mut out = vec![0u8; room];
    // SAFETY: liblzf reads exactly `in_len` bytes of `s` and writes at most `out_len` bytes
    // of `out`, both of which are live buffers of those sizes.
    let n = unsafe { lzf_sys::lzf_compress(s.as_ptr().cast(), in_len, out.as_mut_ptr().cast(), out_len) };
    (n > 0).then(|| {
        out.truncate(n as usize);
        out
    })
}

/// `packed` decompressed to exactly `len` bytes, or `None` when it is not valid LZF data of
/// that length (liblzf checks every reference against both buffers).
pub(crate) fn lzf_decompress(packed: &[u8], len: usize) -> Option<Vec<u8>> {
    let (Ok(in_len), Ok(out_len)) = (u32::try_from(packed.len()), u32::try_from(len)) else {
        return None;
    };
    let mut out = vec![0u8; len];
    // SAFETY: liblzf (built with CHECK_INPUT) reads at most `in_len` bytes of `packed` and
    // writes at most `out_len` bytes of `out`, both live buffers of those sizes.
    let n = unsafe { lzf_sys::lzf_decompress(packed.as_ptr().cast(), in_len, out.as_mut_ptr().cast(), out_len) };
    (n as usize == len && len > 0).then_some(out)
}

/// Appends an integer-encoded string value (`rdbSaveLongLongAsStringObject`).
pub(crate) fn write_int_string(out: &mut Vec<u8>, v: i64) {
    if !write_int_encoded(out, v) {
        let mut buf = itoa::Buffer::new();
        let s = buf.format(v);
        write_len(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
}

/// An RDB length, or the special encoding a string starts with instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Len {
    /// A plain length.
    Len(u64),
    /// `RDB_ENCVAL`: an integer or LZF string of this encoding.
    Encoded(u8),
}

/// A reader of RDB data that counts and checksums what it reads.
pub(crate) struct Input<R> {
    r: R,
    digest: crc::Digest<'static, u64>,
}

impl<R> std::fmt::Debug for Input<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").finish_non_exhaustive()
    }
}

impl<R: Read> Input<R> {
    /// Reads from `r`.
    pub(crate) fn new(r: R) -> Self {
        Input { r, digest: CRC64.digest() }
    }

    /// The checksum of everything read so far.
    pub(crate) fn checksum(&self) -> u64 {
        self.digest.clone().finalize()
    }

    /// The reader, given back.
    pub(crate) fn into_inner(self) -> R {
        self.r
    }

    /// Fills `buf` exactly.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        self.r.read_exact(buf)?;
        self.digest.update(buf);
        Ok(())
    }

    /// Reads `N` bytes.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    /// Reads one byte.
    pub(crate) fn byte(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads `n` bytes, growing the buffer as they arrive (a lying length costs nothing).
    pub(crate) fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        let mut v = Vec::with_capacity(n.min(READ_CHUNK as u64) as usize);
        let got = (&mut self.r).take(n).read_to_end(&mut v)?;
        if got as u64 != n {
            return Err(RdbError::Truncated);
        }
        self.digest.update(&v);
        Ok(v)
    }

    /// Reads a length or a string's special encoding (`rdbLoadLenByRef`).
    pub(crate) fn len_or_encoding(&mut self) -> Result<Len> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Len::Len(u64::from(first & 0x3f)),
            1 => Len::Len((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            3 => Len::Encoded(first & 0x3f),
            _ if first == 0x80 => Len::Len(u64::from(u32::from_be_bytes(self.array()?))),
            _ if first == 0x81 => Len::Len(u64::from_be_bytes(self.array()?)),
            _ => return Err(RdbError::Corrupt("unknown length encoding")),
        })
    }

    /// Reads a length.
    pub(crate) fn len(&mut self) -> Result<u64> {
        match self.len_or_encoding()? {
            Len::Len(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::Corrupt("an encoded string where a length belongs")),
        }
    }

    /// Reads a string in any of its encodings (`rdbGenericLoadStringObject`).
    pub(crate) fn string(&mut self) -> Result<Vec<u8>> {
        let enc = match self.len_or_encoding()? {
            Len::Len(n) => return self.bytes(n),
            Len::Encoded(e) => e,
        };
        let int = match enc {
            ENC_INT8 => i64::from(self.byte()? as i8),
            ENC_INT16 => i64::from(i16::from_le_bytes(self.array()?)),
            ENC_INT32 => i64::from(i32::from_le_bytes(self.array()?)),
            ENC_LZF => {
                let clen = self.len()?;
                let len = self.len()?;
                let packed = self.bytes(clen)?;
                if len == 0 || len > clen.saturating_mul(LZF_MAX_RATIO as u64) {
                    return Err(RdbError::Corrupt("invalid LZF compressed string"));
                }
                return lzf_decompress(&packed, len as usize).ok_or(RdbError::Corrupt("invalid LZF compressed string"));
            }
            _ => return Err(RdbError::Corrupt("unknown string encoding")),
        };
        Ok(itoa::Buffer::new().format(int).as_bytes().to_vec())
    }

    /// Reads a binary double, little-endian (`rdbLoadBinaryDoubleValue`).
    pub(crate) fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// Reads a double written as text with a length byte (`rdbLoadDoubleValue`, old zsets).
    pub(crate) fn text_double(&mut self) -> Result<f64> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let b = self.bytes(u64::from(n))?;
                std::str::from_utf8(&b)
                    .ok()
                    .and_then(|t| crate::num::parse_f64(t.as_bytes()).or_else(|| t.parse().ok()))
                    .ok_or(RdbError::Corrupt("bad double value"))
            }
        }
    }
}

impl<'a> Input<&'a [u8]> {
    /// What is left to read of a slice.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.r
    }
}

/// Reads one RDB string from the start of `data`: the string and the bytes it took.
#[cfg(test)]
pub(crate) fn read_string(data: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut input = Input::new(data);
    let s = input.string()?;
    Ok((s, data.len() - input.into_inner().len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &[u8], compress: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, s, compress);
        let (back, used) = read_string(&out).unwrap();
        assert_eq!(back, s);
        assert_eq!(used, out.len());
        out
    }

    #[test]
    fn lengths_use_every_width() {
        for (n, width) in [(0u64, 1), (63, 1), (64, 2), (16383, 2), (16384, 5), (u64::from(u32::MAX), 5), (1 << 32, 9)] {
            let mut out = Vec::new();
            write_len(&mut out, n);
            assert_eq!(out.len(), width, "{n}");
            assert_eq!(Input::new(&out[..]).len().unwrap(), n);
        }
    }

    #[test]
    fn integer_strings_take_the_smallest_encoding() {
        for (s, first, len) in [
            ("0", 0xC0, 2),
            ("-128", 0xC0, 2),
            ("127", 0xC0, 2),
            ("128", 0xC1, 3),
            ("-32768", 0xC1, 3),
            ("32768", 0xC2, 5),
            ("-2147483648", 0xC2, 5),
            ("2147483647", 0xC2, 5),
        ] {
            let out = round_trip(s.as_bytes(), true);
            assert_eq!((out[0], out.len()), (first, len), "{s}");
        }
        // Not canonical, or too long for 32 bits: a plain string.
        for s in ["2147483648", "-0", "01", "+1", "12345678901"] {
            let out = round_trip(s.as_bytes(), true);
            assert_eq!(out[0] as usize, s.len(), "{s}");
        }
        let mut out = Vec::new();
        write_int_string(&mut out, i64::MAX);
        assert_eq!(read_string(&out).unwrap().0, i64::MAX.to_string().as_bytes());
    }

    #[test]
    fn long_compressible_strings_are_lzf_compressed() {
        let s = vec![b'a'; 100];
        let out = round_trip(&s, true);
        assert_eq!(out[0], 0xC3);
        assert!(out.len() < 20);
        assert_eq!(round_trip(&s, false).len(), 102);
        let short = vec![b'a'; 20];
        assert_eq!(round_trip(&short, true).len(), 21, "20 bytes or fewer are never compressed");
        let random: Vec<u8> = (0..200).map(|i| (i * 7919 % 251) as u8).collect();
        round_trip(&random, true);
    }

    #[test]
    fn lying_lengths_are_errors_without_allocating() {
        assert!(matches!(read_string(&[0x80, 0xff, 0xff, 0xff, 0xff, b'x']), Err(RdbError::Truncated)));
        assert!(matches!(read_string(&[0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Err(RdbError::Truncated)));
        // An LZF string claiming to expand 3 bytes to a gigabyte.
        let mut lie = vec![0xC3];
        write_len(&mut lie, 3);
        write_len(&mut lie, 1 << 30);
        lie.extend_from_slice(&[0, b'x', 0]);
        assert!(matches!(read_string(&lie), Err(RdbError::Corrupt(_))));
        assert!(matches!(read_string(&[0xC4]), Err(RdbError::Corrupt(_))));
        assert!(matches!(read_string(&[]), Err(RdbError::Truncated)));
    }
}
