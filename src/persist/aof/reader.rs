//! An AOF file's command stream, read as Redis's `loadSingleAppendOnlyFile` reads it:
//! `*<argc>` then `$<len>` arguments, `#` annotation lines skipped; a short read is a
//! truncated file (loadable up to the last whole command with `aof-load-truncated`), and a
//! MULTI without its EXEC at the end is cut off before the MULTI.

use std::io::{BufRead, Read};

use bytes::Bytes;

/// The longest `*`/`$`/annotation line Redis reads at once (`AOF_ANNOTATION_LINE_MAX_LEN`).
const LINE_MAX: usize = 1024;

/// Whether a file's first bytes are an RDB (an RDB-encoded base file, or the preamble of an
/// old single-file AOF): then the commands, if any, follow the RDB's end.
pub fn is_rdb(head: &[u8]) -> bool {
    head.starts_with(b"REDIS")
}

/// How a file's command stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// At the end of a whole command, outside MULTI.
    Complete,
    /// A short read, or a MULTI without EXEC: the commands before byte `valid_up_to` are
    /// whole (Redis truncates the file there when `aof-load-truncated` is on).
    Truncated {
        /// Offset, from where the reader started, of the end of the last command to keep.
        valid_up_to: u64,
    },
    /// Not an AOF: a line that is neither `*<argc>`, `$<len>` nor an annotation.
    BadFormat {
        /// Offset of the bad line.
        at: u64,
    },
}

/// Reads commands one at a time from an AOF file (or what follows its RDB preamble).
#[derive(Debug)]
pub struct CommandReader<R> {
    r: R,
    offset: u64,
    valid_up_to: u64,
    before_multi: u64,
    in_multi: bool,
    line: Vec<u8>,
}

impl<R: BufRead> CommandReader<R> {
    /// A reader of `r`; offsets count from here.
    pub fn new(r: R) -> Self {
        CommandReader { r, offset: 0, valid_up_to: 0, before_multi: 0, in_multi: false, line: Vec::new() }
    }

    /// The next command, or how the stream ended. I/O errors other than a short read are
    /// returned as they are.
    pub fn next_command(&mut self) -> std::io::Result<Result<Vec<Bytes>, End>> {
        loop {
            let at = self.offset;
            if !self.read_line()? {
                return Ok(Err(self.end_of_stream(self.line.is_empty())));
            }
            if self.cut_short() {
                return Ok(Err(self.truncated()));
            }
            match self.line.first() {
                Some(b'#') => continue,
                Some(b'*') => {}
                _ => return Ok(Err(End::BadFormat { at })),
            }
            let argc = atoi(&self.line[1..]);
            if argc < 1 {
                return Ok(Err(End::BadFormat { at }));
            }
            let mut argv = Vec::with_capacity((argc as usize).min(1024));
            for _ in 0..argc {
                let at = self.offset;
                if !self.read_line()? || self.cut_short() {
                    return Ok(Err(self.truncated()));
                }
                if self.line.first() != Some(&b'$') {
                    return Ok(Err(End::BadFormat { at }));
                }
                let len = atoi(&self.line[1..]).max(0) as u64;
                // Read as it arrives: a corrupt length cannot make us allocate it up front.
                let mut arg = Vec::new();
                let got = (&mut self.r).take(len).read_to_end(&mut arg)? as u64;
                self.offset += got;
                if got < len {
                    return Ok(Err(self.truncated()));
                }
                let mut crlf = [0u8; 2];
                let got = read_up_to(&mut self.r, &mut crlf)?;
                self.offset += got as u64;
                if got < 2 {
                    return Ok(Err(self.truncated()));
                }
                argv.push(Bytes::from(arg));
            }
            if argv[0].eq_ignore_ascii_case(b"multi") {
                self.before_multi = self.valid_up_to;
                self.in_multi = true;
            } else if argv[0].eq_ignore_ascii_case(b"exec") {
                self.in_multi = false;
            }
            self.valid_up_to = self.offset;
            return Ok(Ok(argv));
        }
    }

    /// Reads one line (up to and with its `\n`, at most [`LINE_MAX`] - 1 bytes, as fgets)
    /// into `self.line`; false at the end of the stream with nothing read.
    fn read_line(&mut self) -> std::io::Result<bool> {
        self.line.clear();
        let n = (&mut self.r).take(LINE_MAX as u64 - 1).read_until(b'\n', &mut self.line)?;
        self.offset += n as u64;
        Ok(n > 0)
    }

    /// Whether the line just read stopped at the end of the stream, before its `\n`.
    fn cut_short(&self) -> bool {
        self.line.last() != Some(&b'\n') && self.line.len() < LINE_MAX - 1
    }

    /// The stream ended where a command would start (`clean`) or inside one.
    fn end_of_stream(&self, clean: bool) -> End {
        if clean && !self.in_multi {
            End::Complete
        } else {
            self.truncated()
        }
    }

    /// A short read: whole commands are kept, a transaction without EXEC is not.
    fn truncated(&self) -> End {
        End::Truncated { valid_up_to: if self.in_multi { self.before_multi } else { self.valid_up_to } }
    }
}

/// Fills `buf` as far as the stream allows; returns how much was read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// C's `atoi`/`strtol` on a protocol line: optional sign, digits, anything after ignored.
fn atoi(s: &[u8]) -> i64 {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits.iter().take_while(|c| c.is_ascii_digit()).fold(0i64, |n, &d| n.saturating_mul(10).saturating_add(i64::from(d - b'0')));
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> (Vec<Vec<String>>, End) {
        let mut r = CommandReader::new(bytes);
        let mut out = Vec::new();
        loop {
            match r.next_command().unwrap() {
                Ok(argv) => out.push(argv.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()),
                Err(end) => return (out, end),
            }
        }
    }

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";

    #[test]
    fn random_damage_ends_the_stream_cleanly() {
        let good = [b"#TS:1\r\n".as_slice(), SET, b"*1\r\n$5\r\nMULTI\r\n", SET, b"*1\r\n$4\r\nEXEC\r\n", SET].concat();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..5000 {
            let mut bad = good.clone();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..bad.len());
                bad[i] = if rng.bool() { rng.u8(..) } else { b"*$\r\n0123456789-"[rng.usize(..15)] };
            }
            bad.truncate(rng.usize(..=bad.len()));
            // Every byte read is accounted for: the stream ends, whatever the damage.
            let (cmds, end) = all(&bad);
            assert!(cmds.len() <= 5);
            if let End::Truncated { valid_up_to } = end {
                assert!(valid_up_to <= bad.len() as u64);
            }
        }
    }

    #[test]
    fn reads_commands_and_skips_annotations() {
        let file = [b"#TS:1700000000\r\n".as_slice(), SET, b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", b"*1\r\n$0\r\n\r\n"].concat();
        let (cmds, end) = all(&file);
        assert_eq!(cmds, [vec!["SET", "k", "v"], vec!["SELECT", "0"], vec![""]]);
        assert_eq!(end, End::Complete);
        assert!(is_rdb(b"REDIS0010\xfa"));
        assert!(!is_rdb(SET));
    }

    #[test]
    fn a_short_read_keeps_the_whole_commands() {
        for cut in 1..SET.len() {
            let file = [SET, &SET[..cut]].concat();
            let (cmds, end) = all(&file);
            assert_eq!(cmds.len(), 1, "cut at {cut}");
            assert_eq!(end, End::Truncated { valid_up_to: SET.len() as u64 }, "cut at {cut}");
        }
        // A corrupt length reads what there is and stops.
        let (cmds, end) = all(b"*1\r\n$99999999999999\r\nabc");
        assert!(cmds.is_empty());
        assert_eq!(end, End::Truncated { valid_up_to: 0 });
    }

    #[test]
    fn a_transaction_without_exec_is_cut_before_its_multi() {
        let multi = b"*1\r\n$5\r\nMULTI\r\n";
        let exec = b"*1\r\n$4\r\nEXEC\r\n";
        let (cmds, end) = all(&[SET, multi, SET].concat());
        assert_eq!(cmds.len(), 3);
        assert_eq!(end, End::Truncated { valid_up_to: SET.len() as u64 });
        let (_, end) = all(&[SET, multi, SET, &exec[..5]].concat());
        assert_eq!(end, End::Truncated { valid_up_to: SET.len() as u64 });
        let (cmds, end) = all(&[SET, multi, SET, exec].concat());
        assert_eq!((cmds.len(), end), (4, End::Complete));
    }

    #[test]
    fn anything_else_is_a_format_error() {
        assert_eq!(all(b"SET k v\r\n").1, End::BadFormat { at: 0 });
        assert_eq!(all(&[SET, b"*0\r\n"].concat()).1, End::BadFormat { at: SET.len() as u64 });
        assert_eq!(all(b"*1\r\n:3\r\n").1, End::BadFormat { at: 4 });
    }
}
