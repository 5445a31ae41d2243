//! The reply value every command produces, and its RESP2/RESP3 encoding.

use std::borrow::Cow;
use std::fmt::Write as _;

use bytes::Bytes;

use crate::command::CmdError;

/// A reply to one command, independent of protocol version until encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A simple string such as `+OK`.
    Status(&'static str),
    /// A simple string built at run time (TYPE, RESET).
    StatusOwned(Bytes),
    /// An error, kept typed so that in-process callers get the variant; its `Display` is the
    /// whole line without the leading `-` (for example `ERR syntax error`). Boxed: errors are
    /// rare and the largest variants would double the size of every reply.
    Error(Box<CmdError>),
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// A double (`,` in RESP3; a bulk string formatted as Redis's `%.17g` in RESP2).
    Double(f64),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    /// An array.
    Array(Vec<Reply>),
    /// A map: a flat array of alternating keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// A set: a plain array in RESP2.
    Set(Vec<Reply>),
    /// A boolean (`#t`/`#f` in RESP3; the integer 1 or 0 in RESP2).
    Bool(bool),
    /// A big number (`(` in RESP3; a bulk string in RESP2).
    BigNumber(Bytes),
    /// A verbatim text string (INFO in RESP3); a bulk string in RESP2.
    Verbatim(Bytes),
    /// An out-of-band push (`>` in RESP3, an array in RESP2): pub/sub messages and the
    /// SUBSCRIBE family's confirmations.
    Push(Vec<Reply>),
    /// Several replies written one after another (SUBSCRIBE a b confirms each channel).
    Seq(Vec<Reply>),
    /// Internal, never written: a blocking command found nothing to pop and its waiter was
    /// (or is to be) registered.
    Blocked,
    /// Bytes already encoded for this connection (pushes that must precede a reply).
    Raw(Bytes),
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Status("OK");

    /// A bulk reply copied from a byte slice.
    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b))
    }

    /// An error reply from a whole static error line (`"UNBLOCKED client unblocked ..."`).
    pub fn err(s: &'static str) -> Reply {
        Reply::from(CmdError::Line(Cow::Borrowed(s)))
    }

    /// Whether this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Appends text to a reply buffer with CR and LF turned into spaces, as Redis keeps an error
/// reply on one line.
struct OneLine<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for OneLine<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend(s.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
        Ok(())
    }
}

fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    out.push(tag);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    header(out, b'$', b.len());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// Appends a command as a client sends it: a multibulk of its arguments (the form of the
/// append-only file and of the replication stream).
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    header(out, b'*', args.len());
    args.iter().for_each(|a| bulk(out, a.as_ref()));
}

/// Appends `reply` to `out` in RESP3 when `resp3`, else RESP2.
pub fn encode(reply: &Reply, resp3: bool, out: &mut Vec<u8>) {
    match reply {
        Reply::Status(s) => {
            out.push(b'+');
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::StatusOwned(s) => {
            out.push(b'+');
            out.extend_from_slice(s);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Error(e) => {
            out.push(b'-');
            // Redis turns newlines in error text into spaces so the reply stays one line.
            let _ = write!(OneLine(out), "{e}");
            out.extend_from_slice(b"\r\n");
        }
        Reply::Int(i) => {
            out.push(b':');
            out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Bulk(b) => bulk(out, b),
        Reply::Double(d) if resp3 => {
            out.push(b',');
            out.extend_from_slice(crate::num::format_f64(*d).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        Reply::Double(d) => bulk(out, crate::num::format_f64(*d).as_bytes()),
        Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            header(out, b'*', items.len());
            items.iter().for_each(|r| encode(r, resp3, out));
        }
        Reply::Push(items) => {
            header(out, if resp3 { b'>' } else { b'*' }, items.len());
            items.iter().for_each(|r| encode(r, resp3, out));
        }
        Reply::Seq(items) => items.iter().for_each(|r| encode(r, resp3, out)),
        Reply::Blocked => out.extend_from_slice(b"-ERR internal error\r\n"),
        Reply::Raw(b) => out.extend_from_slice(b),
        Reply::Set(items) => {
            header(out, if resp3 { b'~' } else { b'*' }, items.len());
            items.iter().for_each(|r| encode(r, resp3, out));
        }
        Reply::Map(pairs) => {
            if resp3 {
                header(out, b'%', pairs.len());
            } else {
                header(out, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode(k, resp3, out);
                encode(v, resp3, out);
            }
        }
        Reply::Verbatim(b) if resp3 => {
            header(out, b'=', b.len() + 4);
            out.extend_from_slice(b"txt:");
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Verbatim(b) => bulk(out, b),
        Reply::Bool(b) if resp3 => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Bool(b) => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
        Reply::BigNumber(n) if resp3 => {
            out.push(b'(');
            out.extend_from_slice(n);
            out.extend_from_slice(b"\r\n");
        }
        Reply::BigNumber(n) => bulk(out, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, resp3: bool) -> String {
        let mut v = Vec::new();
        encode(r, resp3, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn encodes_both_protocols() {
        let m = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Int(1))]);
        assert_eq!(enc(&m, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, true), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::Nil, false), "$-1\r\n");
        assert_eq!(enc(&Reply::NilArray, true), "_\r\n");
        assert_eq!(enc(&Reply::from(CmdError::Other("a\r\nb".into())), false), "-ERR a  b\r\n");
    }
}
