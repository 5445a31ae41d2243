//! Incremental request parser: multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! The parser keeps its progress between reads, so a large argument arriving over many reads
//! is scanned once. Complete commands are cut from the read buffer and frozen; arguments are
//! slices of that frozen chunk, so payloads are never copied.

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use super::splitargs::split_args;
use crate::num::parse_i64;

/// Longest inline request, or multibulk/bulk count line, Redis accepts (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX_SIZE: usize = 64 * 1024;
/// Multibulk length allowed before authentication.
const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// Bulk length allowed before authentication.
const UNAUTH_MAX_BULK: i64 = 16384;

/// Limits applied while parsing one connection's input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// proto-max-bulk-len: the largest accepted bulk string.
    pub max_bulk_len: i64,
    /// Whether the client has authenticated (or needs no authentication).
    pub authenticated: bool,
}

/// A malformed request. `Display` gives Redis's exact reply text; the connection is closed
/// after replying.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProtoError {
    /// `*` count that is not an integer or exceeds INT_MAX.
    #[error("ERR Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$` length that is not an integer, negative, or over proto-max-bulk-len.
    #[error("ERR Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An array element that is not a bulk string.
    #[error("ERR Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// Inline request with unbalanced quotes.
    #[error("ERR Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// Inline request longer than 64 KiB.
    #[error("ERR Protocol error: too big inline request")]
    TooBigInline,
    /// Multibulk count line longer than 64 KiB.
    #[error("ERR Protocol error: too big mbulk count string")]
    TooBigMbulkCount,
    /// Bulk count line longer than 64 KiB.
    #[error("ERR Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// More than 10 arguments before AUTH.
    #[error("ERR Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulk,
    /// A bulk over 16 KiB before AUTH.
    #[error("ERR Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulk,
}

/// Progress through a multibulk request that is not complete yet.
#[derive(Debug, Default)]
struct Partial {
    /// Arguments still expected.
    remaining: usize,
    /// Offset of the next unparsed byte.
    pos: usize,
    /// Length of the bulk whose header was read, when its body is not complete yet.
    bulk_len: Option<usize>,
}

/// Parses requests out of a connection's read buffer, one at a time.
#[derive(Debug, Default)]
pub struct RequestParser {
    partial: Option<Partial>,
    /// Argument ranges of the request being parsed, as offsets into the buffer; reused.
    ranges: Vec<(usize, usize)>,
}

fn find_cr(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..].iter().position(|&b| b == b'\r').map(|p| p + from)
}

impl RequestParser {
    /// Creates a parser with no pending request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a partially received request is pending.
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Takes the next complete request from `buf`. `Ok(None)` means more bytes are needed.
    /// Empty requests (blank inline lines, `*0`) are consumed and skipped.
    pub fn next(&mut self, buf: &mut BytesMut, limits: Limits) -> Result<Option<Vec<Bytes>>, ProtoError> {
        loop {
            if buf.is_empty() {
                return Ok(None);
            }
            if self.partial.is_none() && buf[0] != b'*' {
                match self.inline(buf)? {
                    Some(args) if args.is_empty() => continue,
                    other => return Ok(other),
                }
            }
            match self.multibulk(buf, limits)? {
                Some(args) if args.is_empty() => continue,
                other => return Ok(other),
            }
        }
    }

    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtoError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > INLINE_MAX_SIZE {
                return Err(ProtoError::TooBigInline);
            }
            return Ok(None);
        };
        let end = if nl > 0 && buf[nl - 1] == b'\r' { nl - 1 } else { nl };
        let args = split_args(&buf[..end]).ok_or(ProtoError::UnbalancedQuotes)?;
        let _ = buf.split_to(nl + 1);
        Ok(Some(args.into_iter().map(Bytes::from).collect()))
    }

    fn multibulk(&mut self, buf: &mut BytesMut, limits: Limits) -> Result<Option<Vec<Bytes>>, ProtoError> {
        if self.partial.is_none() {
            let Some(cr) = find_cr(buf, 0) else {
                if buf.len() > INLINE_MAX_SIZE {
                    return Err(ProtoError::TooBigMbulkCount);
                }
                return Ok(None);
            };
            if cr + 2 > buf.len() {
                return Ok(None);
            }
            let n = parse_i64(&buf[1..cr]).filter(|&n| n <= i64::from(i32::MAX));
            let n = n.ok_or(ProtoError::InvalidMultibulkLength)?;
            if n > UNAUTH_MAX_MULTIBULK && !limits.authenticated {
                return Err(ProtoError::UnauthenticatedMultibulk);
            }
            if n <= 0 {
                let _ = buf.split_to(cr + 2);
                return Ok(Some(Vec::new()));
            }
            self.ranges.clear();
            self.partial = Some(Partial { remaining: n as usize, pos: cr + 2, bulk_len: None });
        }
        let p = self.partial.as_mut().expect("partial request");
        while p.remaining > 0 {
            let len = match p.bulk_len {
                Some(len) => len,
                None => {
                    let Some(cr) = find_cr(buf, p.pos) else {
                        if buf.len() - p.pos > INLINE_MAX_SIZE {
                            return Err(ProtoError::TooBigBulkCount);
                        }
                        return Ok(None);
                    };
                    if cr + 2 > buf.len() {
                        return Ok(None);
                    }
                    if buf[p.pos] != b'$' {
                        return Err(ProtoError::ExpectedDollar(buf[p.pos]));
                    }
                    let len = parse_i64(&buf[p.pos + 1..cr])
                        .filter(|&l| l >= 0 && l <= limits.max_bulk_len)
                        .ok_or(ProtoError::InvalidBulkLength)?;
                    if len > UNAUTH_MAX_BULK && !limits.authenticated {
                        return Err(ProtoError::UnauthenticatedBulk);
                    }
                    p.pos = cr + 2;
                    p.bulk_len = Some(len as usize);
                    len as usize
                }
            };
            if buf.len() - p.pos < len + 2 {
                buf.reserve(len + 2 - (buf.len() - p.pos));
                return Ok(None);
            }
            self.ranges.push((p.pos, p.pos + len));
            p.pos += len + 2;
            p.bulk_len = None;
            p.remaining -= 1;
        }
        let p = self.partial.take().expect("partial request");
        let chunk = buf.split_to(p.pos).freeze();
        Ok(Some(self.ranges.iter().map(|&(s, e)| chunk.slice(s..e)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true };

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtoError> {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(a) = p.next(&mut buf, L)? {
            out.push(a);
        }
        Ok(out)
    }

    #[test]
    fn parses_multibulk_and_inline() {
        let v = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\nset a 'b c'\n").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(v[1], vec![Bytes::from("PING")]);
        assert_eq!(v[2][2], Bytes::from("b c"));
    }

    #[test]
    fn resumes_across_reads_byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input.iter() {
            buf.extend_from_slice(&[b]);
            if let Some(a) = p.next(&mut buf, L).unwrap() {
                got = Some(a);
            }
        }
        assert_eq!(got.unwrap()[2], Bytes::from("hello"));
        assert!(buf.is_empty());
    }

    #[test]
    fn rejects_bad_lengths_with_redis_text() {
        assert_eq!(parse_all(b"*x\r\n").unwrap_err().to_string(), "ERR Protocol error: invalid multibulk length");
        assert_eq!(parse_all(b"*1\r\n$-1\r\n").unwrap_err(), ProtoError::InvalidBulkLength);
        assert_eq!(parse_all(b"*1\r\n$99999999999\r\n").unwrap_err(), ProtoError::InvalidBulkLength);
        assert_eq!(parse_all(b"*1\r\n:1\r\n").unwrap_err().to_string(), "ERR Protocol error: expected '$', got ':'");
        assert_eq!(parse_all(b"get \"a\n").unwrap_err(), ProtoError::UnbalancedQuotes);
        assert_eq!(parse_all(&vec![b'a'; INLINE_MAX_SIZE + 1]).unwrap_err(), ProtoError::TooBigInline);
    }
}
