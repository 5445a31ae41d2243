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
    /// Requests slower than `--slow-ms` (loadgen only).
    #[serde(default)]
    pub slow: u64,
}

/// Reads memtier_benchmark's summary table (`--hide-histogram` output) after a run of
/// `seconds`: the header row names the columns, and the `Totals` row holds the figures.
/// Latency columns are in milliseconds; a column memtier did not print reads as 0.
pub fn parse_memtier(text: &str, seconds: f64) -> Option<Results> {
    let header = text.lines().rev().find(|l| l.trim_start().starts_with("Type ") && l.contains("Ops/sec"))?;
    // Column names are separated by two or more spaces ("Avg. Latency", "p99.9 Latency").
    let names: Vec<&str> = header.split("  ").map(str::trim).filter(|n| !n.is_empty()).collect();
    let totals = text.lines().rev().find(|l| l.trim_start().starts_with("Totals"))?;
    let values: Vec<&str> = totals.split_whitespace().collect();
    if values.len() != names.len() {
        return None;
    }
    let col = |name: &str| names.iter().position(|n| *n == name).and_then(|i| values[i].parse::<f64>().ok()).unwrap_or(0.0);
    let ops = col("Ops/sec");
    Some(Results {
        requests: (ops * seconds) as u64,
        seconds,
        ops_per_sec: ops,
        hits: (col("Hits/sec") * seconds) as u64,
        misses: (col("Misses/sec") * seconds) as u64,
        errors: 0,
        p50_ms: col("p50 Latency"),
        p99_ms: col("p99 Latency"),
        p999_ms: col("p99.9 Latency"),
        max_ms: col("Max Latency"),
        // memtier reports no per-request count above a threshold.
        slow: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_memtier_totals_by_column_name() {
        // The layout of memtier_benchmark 1.4/2.x with its default --print-percentiles=50,99,99.9.
        let text = "\
[RUN #1 100%,  10 secs]  0 threads:      499632 ops,   49963 (avg:   49963) ops/sec
ALL STATS
==========================================================================================
Type         Ops/sec     Hits/sec   Misses/sec    Avg. Latency     p50 Latency     p99 Latency   p99.9 Latency       KB/sec
------------------------------------------------------------------------------------------
Sets         4545.41          ---          ---         0.40089         0.37500         0.83100         1.59900       350.17
Gets        45417.87     45000.00       417.87         0.39963         0.37500         0.82300         1.57500      3327.36
Waits           0.00          ---          ---             ---             ---             ---             ---          ---
Totals      49963.28     45000.00       417.87         0.39974         0.37500         0.82300         1.58300      3677.53
";
        let r = parse_memtier(text, 10.0).unwrap();
        assert_eq!((r.requests, r.hits, r.misses), (499632, 450000, 4178));
        assert_eq!((r.ops_per_sec, r.p50_ms, r.p99_ms, r.p999_ms), (49963.28, 0.375, 0.823, 1.583));
        // An older layout without percentile columns still gives throughput.
        let old = "Type        Ops/sec     Hits/sec   Misses/sec      Latency       KB/sec\nTotals     1000.00         0.00         0.00      0.50000        10.00\n";
        let r = parse_memtier(old, 2.0).unwrap();
        assert_eq!((r.ops_per_sec, r.requests, r.p99_ms), (1000.0, 2000, 0.0));
        assert!(parse_memtier("memtier crashed", 1.0).is_none());
    }

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
