//! Shared pieces of the performance tools: a minimal RESP client side (command encoding and
//! reply framing) and the load generator's result type.

use serde::{Deserialize, Serialize};

/// Appends a command as a RESP array of bulk strings.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// What a complete reply at the start of a buffer looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// A null bulk or null array (a miss for GET).
    Nil,
    /// An error reply.
    Error,
    /// Anything else.
    Value,
}

fn line_end(b: &[u8], from: usize) -> Option<usize> {
    b[from..].windows(2).position(|w| w == b"\r\n").map(|p| p + from)
}

/// Length of the complete reply at `b[from..]` and its kind, or `None` if incomplete.
pub fn frame(b: &[u8], from: usize) -> Option<(usize, ReplyKind)> {
    let end = line_end(b, from)?;
    let head = &b[from + 1..end];
    let num = || std::str::from_utf8(head).ok().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    match *b.get(from)? {
        b'+' | b':' | b',' | b'#' | b'(' => Some((end + 2 - from, ReplyKind::Value)),
        b'_' => Some((end + 2 - from, ReplyKind::Nil)),
        b'-' | b'!' => Some((end + 2 - from, ReplyKind::Error)),
        b'$' | b'=' => {
            let n = num();
            if n < 0 {
                return Some((end + 2 - from, ReplyKind::Nil));
            }
            let total = end + 2 + n as usize + 2;
            (b.len() >= total).then_some((total - from, ReplyKind::Value))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = num();
            if n < 0 {
                return Some((end + 2 - from, ReplyKind::Nil));
            }
            let items = if b[from] == b'%' { n * 2 } else { n };
            let mut pos = end + 2;
            for _ in 0..items {
                let (len, _) = frame(b, pos)?;
                pos += len;
            }
            Some((pos - from, ReplyKind::Value))
        }
        _ => Some((end + 2 - from, ReplyKind::Error)),
    }
}

/// One load generator run's results (also its JSON output).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Results {
    /// Requests completed.
    pub requests: u64,
    /// Wall-clock seconds of the measured phase.
    pub seconds: f64,
    /// Requests per second.
    pub ops_per_sec: f64,
    /// GET (or other read) replies that found a value.
    pub hits: u64,
    /// GET replies that were nil.
    pub misses: u64,
    /// Error replies.
    pub errors: u64,
    /// Latency percentiles in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_replies() {
        assert_eq!(frame(b"+OK\r\n", 0), Some((5, ReplyKind::Value)));
        assert_eq!(frame(b"$-1\r\n", 0), Some((5, ReplyKind::Nil)));
        assert_eq!(frame(b"$3\r\nabc\r\n", 0), Some((9, ReplyKind::Value)));
        assert_eq!(frame(b"$3\r\nab", 0), None);
        assert_eq!(frame(b"*2\r\n:1\r\n$1\r\nx\r\n", 0), Some((15, ReplyKind::Value)));
        assert_eq!(frame(b"-ERR x\r\n", 0), Some((8, ReplyKind::Error)));
    }
}
