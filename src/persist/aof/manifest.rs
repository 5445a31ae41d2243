//! The AOF manifest: one line per file, `file <name> seq <n> type <b|h|i>`, base first, then
//! history, then incremental files in ascending sequence (Redis's `aofLoadManifestFromFile`
//! and `getAofManifestAsString`, with their error texts).

use crate::protocol::splitargs::{repr_into, split_args};

/// Longest manifest line Redis reads (`MANIFEST_MAX_LINE`).
const MAX_LINE: usize = 1024;

/// What a listed file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The dataset at the last rewrite (`b`).
    Base,
    /// A file a rewrite replaced, to be deleted (`h`).
    History,
    /// Commands since the base (`i`).
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Its name inside `appenddirname` (never a path).
    pub name: String,
    /// Its sequence number.
    pub seq: i64,
    /// What it holds.
    pub kind: FileKind,
}

/// A manifest: the base file if any, history files, incremental files in ascending `seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file.
    pub base: Option<FileInfo>,
    /// Files a rewrite replaced.
    pub history: Vec<FileInfo>,
    /// Incremental files, in load order.
    pub incr: Vec<FileInfo>,
}

/// Why a manifest was refused: Redis's message, and the line it was read from (1-based)
/// when one was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct ManifestError {
    /// Redis's text (`Invalid AOF manifest file format`...).
    pub msg: &'static str,
    /// The line number and its text.
    pub line: Option<(usize, String)>,
}

impl Manifest {
    /// Parses a manifest's bytes as Redis does: `#` lines skipped, keys in any case and
    /// order, unknown key pairs ignored (forward compatibility), strict otherwise.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut maxseq = 0;
        let mut linenum = 0;
        let mut rest = text;
        if rest.is_empty() {
            return Err(ManifestError { msg: "Found an empty AOF manifest", line: None });
        }
        while !rest.is_empty() {
            // fgets: a line with its '\n', or what is left.
            let end = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |i| i + 1);
            let (raw, tail) = rest.split_at(end.min(MAX_LINE));
            rest = tail;
            linenum += 1;
            if raw.first() == Some(&b'#') {
                // A long comment is read in pieces, as fgets would.
                continue;
            }
            let shown = String::from_utf8_lossy(raw).trim_matches([' ', '\t', '\r', '\n']).to_string();
            let err = |msg| Err(ManifestError { msg, line: Some((linenum, shown.clone())) });
            if raw.last() != Some(&b'\n') {
                return err("The AOF manifest file contains too long line");
            }
            let line = trim(raw);
            if line.is_empty() {
                return err("Invalid AOF manifest file format");
            }
            let argv = match split_args(line) {
                Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => return err("Invalid AOF manifest file format"),
            };
            let (mut name, mut seq, mut kind) = (None, 0i64, 0u8);
            for pair in argv.chunks(2) {
                let (k, v) = (&pair[0], &pair[1]);
                if k.eq_ignore_ascii_case(b"file") {
                    if v.contains(&b'/') || v.contains(&b'\\') {
                        return err("File can't be a path, just a filename");
                    }
                    name = Some(String::from_utf8_lossy(v).into_owned());
                } else if k.eq_ignore_ascii_case(b"seq") {
                    seq = atoll(v);
                } else if k.eq_ignore_ascii_case(b"type") {
                    kind = v.first().copied().unwrap_or(0);
                }
            }
            let Some(name) = name.filter(|_| seq != 0 && kind != 0) else {
                return err("Invalid AOF manifest file format");
            };
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return err("Found duplicate base file information");
                    }
                    m.base = Some(FileInfo { name, seq, kind: FileKind::Base });
                }
                b'h' => m.history.push(FileInfo { name, seq, kind: FileKind::History }),
                b'i' => {
                    if seq <= maxseq {
                        return err("Found a non-monotonic sequence number");
                    }
                    maxseq = seq;
                    m.incr.push(FileInfo { name, seq, kind: FileKind::Incr });
                }
                _ => return err("Unknown AOF file type"),
            }
        }
        Ok(m)
    }

    /// The manifest's bytes as Redis writes them: base, history, incremental files, one
    /// `file <name> seq <n> type <t>` line each, a name quoted when it needs to be.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incr) {
            out.extend_from_slice(b"file ");
            let name = f.name.as_bytes();
            if name.iter().any(|&c| !c.is_ascii_graphic() || c == b'\\' || c == b'"') {
                repr_into(&mut out, name);
            } else {
                out.extend_from_slice(name);
            }
            out.extend_from_slice(format!(" seq {} type {}\n", f.seq, f.kind.letter()).as_bytes());
        }
        out
    }

    /// The files to load, in order: the base, then the incremental files.
    pub fn load_order(&self) -> impl Iterator<Item = &FileInfo> {
        self.base.iter().chain(&self.incr)
    }
}

/// `sdstrim(s, " \t\r\n")`.
fn trim(mut s: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while s.first().is_some_and(ws) {
        s = &s[1..];
    }
    while s.last().is_some_and(ws) {
        s = &s[..s.len() - 1];
    }
    s
}

/// C's `atoll`: leading spaces, a sign, digits; 0 when there are none.
fn atoll(s: &[u8]) -> i64 {
    let s = std::str::from_utf8(s).unwrap_or("").trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits.bytes().take_while(u8::is_ascii_digit).fold(0i64, |n, d| n.wrapping_mul(10).wrapping_add(i64::from(d - b'0')));
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_damage_is_refused_or_read_never_a_panic() {
        let good = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile \"a b\" seq 2 type h\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..5000 {
            let mut bad = good.to_vec();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..bad.len());
                bad[i] = if rng.bool() { rng.u8(..) } else { b" \n\"\\x0#bhi"[rng.usize(..10)] };
            }
            bad.truncate(rng.usize(..=bad.len()));
            // What is read (and lists a file: comments alone read as no AOF) writes back to
            // something read the same.
            if let Some(m) = Manifest::parse(&bad).ok().filter(|m| m.load_order().next().is_some()) {
                assert_eq!(Manifest::parse(&m.to_bytes()).ok(), Some(m));
            }
        }
    }

    #[test]
    fn parses_and_writes_redis_manifests() {
        let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incr.iter().map(|f| f.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(m.to_bytes(), text);
        assert_eq!(m.load_order().count(), 3);
        // Keys in any order and case, extra pairs ignored, comments skipped, quoted names.
        let m = Manifest::parse(b"# hi\nSEQ 3 TYPE h FILE \"a b.aof\" extra x\n").unwrap();
        assert_eq!(m.history, [FileInfo { name: "a b.aof".into(), seq: 3, kind: FileKind::History }]);
        assert_eq!(m.to_bytes(), b"file \"a b.aof\" seq 3 type h\n");
    }

    #[test]
    fn refuses_what_redis_refuses() {
        let msg = |t: &[u8]| Manifest::parse(t).unwrap_err().msg;
        assert_eq!(msg(b""), "Found an empty AOF manifest");
        assert_eq!(msg(b"file a seq 1 type i"), "The AOF manifest file contains too long line");
        assert_eq!(msg(b"\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file a seq 0 type i\n"), "Invalid AOF manifest file format");
        assert_eq!(msg(b"file d/a seq 1 type i\n"), "File can't be a path, just a filename");
        assert_eq!(msg(b"file a seq 1 type b\nfile b seq 2 type b\n"), "Found duplicate base file information");
        assert_eq!(msg(b"file a seq 2 type i\nfile b seq 2 type i\n"), "Found a non-monotonic sequence number");
        assert_eq!(msg(b"file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(msg(b"file \"a seq 1 type i\n"), "Invalid AOF manifest file format");
        let long = [b"file ".as_slice(), &[b'a'; 1100], b" seq 1 type i\n"].concat();
        assert_eq!(msg(&long), "The AOF manifest file contains too long line");
        let e = Manifest::parse(b"file a seq 1 type i\nfile a seq 1\n").unwrap_err();
        assert_eq!(e.line, Some((2, "file a seq 1".into())));
    }
}
