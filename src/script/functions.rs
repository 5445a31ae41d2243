//! Function libraries: `#!lua name=...` code, the registry of loaded libraries and their
//! functions, script flags, and FUNCTION DUMP / RESTORE payloads (Redis's format: one
//! `RDB_OPCODE_FUNCTION2` string per library, the RDB version and a CRC64).

use std::collections::BTreeMap;

use bytes::Bytes;

/// Flags of a function or of a shebang EVAL script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionFlags(u8);

impl FunctionFlags {
    /// `no-writes`: the script may not write.
    pub const NO_WRITES: FunctionFlags = FunctionFlags(1);
    /// `allow-oom`: runs even over maxmemory.
    pub const ALLOW_OOM: FunctionFlags = FunctionFlags(2);
    /// `allow-stale`: runs on a stale replica.
    pub const ALLOW_STALE: FunctionFlags = FunctionFlags(4);
    /// `no-cluster`: refused in cluster mode.
    pub const NO_CLUSTER: FunctionFlags = FunctionFlags(8);
    /// `allow-cross-slot-keys`: may touch keys of several slots.
    pub const ALLOW_CROSS_SLOT: FunctionFlags = FunctionFlags(16);
    const NAMES: [(&'static str, FunctionFlags); 5] = [
        ("no-writes", Self::NO_WRITES),
        ("allow-oom", Self::ALLOW_OOM),
        ("allow-stale", Self::ALLOW_STALE),
        ("no-cluster", Self::NO_CLUSTER),
        ("allow-cross-slot-keys", Self::ALLOW_CROSS_SLOT),
    ];

    /// No flag.
    pub const fn empty() -> Self {
        FunctionFlags(0)
    }

    /// The flag named `name` (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, f)| *f)
    }

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: FunctionFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the flags set, in Redis's order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES.iter().filter(|(_, f)| self.contains(*f)).map(|(n, _)| *n).collect()
    }
}

impl std::ops::BitOrAssign for FunctionFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// Parses an EVAL script's `#!lua flags=a,b` line: `Ok(None)` without a shebang.
pub fn shebang_flags(body: &[u8]) -> Result<Option<FunctionFlags>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else { return Err("Invalid script shebang".into()) };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts = crate::protocol::splitargs::split_args(line.as_bytes()).ok_or("Invalid engine in script shebang")?;
    let Some(first) = parts.first() else { return Err("Invalid engine in script shebang".into()) };
    if &first[..] != b"#!lua" {
        return Err(format!("Unexpected engine in script shebang: {}", String::from_utf8_lossy(first)));
    }
    let mut flags = FunctionFlags::empty();
    for p in &parts[1..] {
        let p = String::from_utf8_lossy(p);
        let Some(list) = p.strip_prefix("flags=") else { return Err(format!("Unknown lua shebang option: {p}")) };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match FunctionFlags::NAMES.iter().find(|(n, _)| *n == f) {
                Some((_, fl)) => flags |= *fl,
                None => return Err(format!("Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok(Some(flags))
}

/// Whether `name` is a valid library or function name: letters, digits and underscores.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A library's metadata line: its name, from `#!lua name=<name>`.
pub fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else { return Err("Invalid library metadata".into()) };
    let parts = crate::protocol::splitargs::split_args(&code[..end]).ok_or("Invalid library metadata")?;
    let Some(first) = parts.first() else { return Err("Invalid library metadata".into()) };
    let engine = String::from_utf8_lossy(&first[2..]).into_owned();
    let mut name = None;
    for p in &parts[1..] {
        if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err("Invalid metadata value, name argument was given multiple times".into());
            }
            name = Some(String::from_utf8_lossy(&p[5..]).into_owned());
            continue;
        }
        return Err(format!("Invalid metadata value given: {}", String::from_utf8_lossy(p)));
    }
    let Some(name) = name else { return Err("Library name was not given".into()) };
    if !valid_name(&name) {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    Ok(name)
}

/// A library's code, as kept for every shard to load.
#[derive(Debug, Clone)]
pub struct LibraryCode {
    /// The library's name.
    pub name: String,
    /// The whole code, metadata line included (FUNCTION LIST WITHCODE).
    pub code: Bytes,
}

/// One registered function.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// Its name as registered (functions are found by name in any case).
    pub name: String,
    /// Its library.
    pub library: String,
    /// Its description, if given.
    pub description: Option<String>,
    /// Its flags.
    pub flags: FunctionFlags,
}

/// A loaded library.
#[derive(Debug, Clone)]
pub struct Library {
    /// Its code.
    pub code: LibraryCode,
    /// Its functions by name.
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// Every loaded library, and every function by name.
#[derive(Debug, Default, Clone)]
pub struct Libraries {
    /// Libraries by name.
    pub libs: BTreeMap<String, Library>,
    /// Functions by lower-case name.
    pub functions: BTreeMap<String, FunctionInfo>,
}

impl Libraries {
    /// Adds `lib`; with `replace`, in place of a library of the same name. Fails, changing
    /// nothing, on a name taken by another library's function or (without `replace`) by a
    /// library.
    pub fn add(&mut self, lib: Library, replace: bool) -> Result<(), String> {
        let name = lib.code.name.clone();
        if !replace && self.libs.contains_key(&name) {
            return Err(format!("Library '{name}' already exists"));
        }
        for (f, info) in &lib.functions {
            if let Some(other) = self.functions.get(&f.to_ascii_lowercase()) {
                if other.library != name {
                    return Err(format!("Function {} already exists", info.name));
                }
            }
        }
        self.remove(&name);
        for (f, info) in &lib.functions {
            self.functions.insert(f.to_ascii_lowercase(), info.clone());
        }
        self.libs.insert(name, lib);
        Ok(())
    }

    /// Removes the library `name`; false when there is none.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(lib) = self.libs.remove(name) else { return false };
        for f in lib.functions.keys() {
            self.functions.remove(&f.to_ascii_lowercase());
        }
        true
    }

    /// Every library's code.
    pub fn codes(&self) -> Vec<LibraryCode> {
        self.libs.values().map(|l| l.code.clone()).collect()
    }

    /// The FUNCTION DUMP payload of every library.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for lib in self.libs.values() {
            out.push(RDB_OPCODE_FUNCTION2);
            rdb_string(&mut out, &lib.code.code);
        }
        out.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

const RDB_OPCODE_FUNCTION2: u8 = 245;
const RDB_VERSION: u16 = 10;
static CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Appends an RDB length-prefixed string.
fn rdb_string(out: &mut Vec<u8>, s: &[u8]) {
    rdb_len(out, s.len());
    out.extend_from_slice(s);
}

/// Appends an RDB length.
fn rdb_len(out: &mut Vec<u8>, n: usize) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
}

/// Reads an RDB length at `*pos`: the length, or for a special encoding its type tagged as
/// `Err`.
fn read_rdb_len(data: &[u8], pos: &mut usize) -> Option<Result<usize, u8>> {
    let first = *data.get(*pos)?;
    *pos += 1;
    Some(Ok(match first >> 6 {
        0 => usize::from(first & 0x3f),
        1 => {
            let b = *data.get(*pos)?;
            *pos += 1;
            (usize::from(first & 0x3f) << 8) | usize::from(b)
        }
        2 if first == 0x80 => {
            let b = data.get(*pos..*pos + 4)?;
            *pos += 4;
            u32::from_be_bytes(b.try_into().ok()?) as usize
        }
        2 if first == 0x81 => {
            let b = data.get(*pos..*pos + 8)?;
            *pos += 8;
            usize::try_from(u64::from_be_bytes(b.try_into().ok()?)).ok()?
        }
        3 => return Some(Err(first & 0x3f)),
        _ => return None,
    }))
}

/// LZF expands a byte of input to at most this many bytes (a 3-byte back reference copies
/// 264): a declared length past it is a lie, refused before anything is allocated.
const LZF_MAX_RATIO: usize = 100;

/// Reads an RDB string at `*pos`: plain, or LZF-compressed as Redis writes long strings.
fn read_rdb_string(data: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    match read_rdb_len(data, pos)? {
        Ok(len) => {
            let s = data.get(*pos..pos.checked_add(len)?)?;
            *pos += len;
            Some(s.to_vec())
        }
        Err(3) => {
            let clen = read_rdb_len(data, pos)?.ok()?;
            let len = read_rdb_len(data, pos)?.ok()?;
            let packed = data.get(*pos..pos.checked_add(clen)?)?;
            *pos += clen;
            if len > clen.saturating_mul(LZF_MAX_RATIO) {
                return None;
            }
            lzf::decompress(packed, len).ok().filter(|v| v.len() == len)
        }
        Err(_) => None,
    }
}

/// The library codes in a FUNCTION DUMP payload, or Redis's error text.
pub fn parse_dump(data: &[u8]) -> Result<Vec<Bytes>, String> {
    const BAD: &str = "DUMP payload version or checksum are wrong";
    if data.len() < 10 {
        return Err(BAD.into());
    }
    let (body, footer) = data.split_at(data.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let crc = u64::from_le_bytes(footer[2..].try_into().map_err(|_| BAD)?);
    if version > RDB_VERSION || CRC64.checksum(&data[..data.len() - 8]) != crc {
        return Err(BAD.into());
    }
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < body.len() {
        let t = body[pos];
        pos += 1;
        if t != RDB_OPCODE_FUNCTION2 {
            return Err("given type is not a function".into());
        }
        let code = read_rdb_string(body, &mut pos).ok_or("failed loading the given functions payload")?;
        out.push(Bytes::from(code));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags_parse_as_redis_does() {
        assert_eq!(shebang_flags(b"return 1"), Ok(None));
        assert_eq!(shebang_flags(b"#!lua\nreturn 1"), Ok(Some(FunctionFlags::empty())));
        let f = shebang_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap().unwrap();
        assert!(f.contains(FunctionFlags::NO_WRITES) && f.contains(FunctionFlags::ALLOW_OOM));
        assert_eq!(shebang_flags(b"#!lua"), Err("Invalid script shebang".into()));
        assert_eq!(shebang_flags(b"#!/usr/bin/lua\n"), Err("Unexpected engine in script shebang: #!/usr/bin/lua".into()));
        assert_eq!(shebang_flags(b"#!lua foo=bar\n"), Err("Unknown lua shebang option: foo=bar".into()));
        assert_eq!(shebang_flags(b"#!lua flags=bad\n"), Err("Unexpected flag in script shebang: bad".into()));
    }

    #[test]
    fn library_metadata_is_checked() {
        assert_eq!(library_name(b"#!lua name=lib1\nx"), Ok("lib1".into()));
        assert_eq!(library_name(b"return 1"), Err("Missing library metadata".into()));
        assert_eq!(library_name(b"#!lua\nx"), Err("Library name was not given".into()));
        assert_eq!(library_name(b"#!lua name=a name=b\n"), Err("Invalid metadata value, name argument was given multiple times".into()));
        assert_eq!(library_name(b"#!lua foo=bar\n"), Err("Invalid metadata value given: foo=bar".into()));
        assert_eq!(library_name(b"#!js name=x\n"), Err("Engine 'js' not found".into()));
        assert!(library_name(b"#!lua name=a-b\n").is_err());
    }

    #[test]
    fn dump_round_trips_and_checks_its_checksum() {
        let mut libs = Libraries::default();
        for (name, len) in [("a", 10), ("b", 100), ("c", 20000)] {
            let code = Bytes::from(format!("#!lua name={name}\n{}", "x".repeat(len)));
            let lib = Library { code: LibraryCode { name: name.into(), code }, functions: BTreeMap::new() };
            libs.add(lib, false).unwrap();
        }
        let d = libs.dump();
        let codes = parse_dump(&d).unwrap();
        assert_eq!(codes, libs.codes().into_iter().map(|c| c.code).collect::<Vec<_>>());
        let mut bad = d.clone();
        bad[3] ^= 1;
        assert_eq!(parse_dump(&bad), Err("DUMP payload version or checksum are wrong".into()));
        assert!(parse_dump(b"short").is_err());
    }

    #[test]
    fn lzf_compressed_codes_are_read() {
        let code = format!("#!lua name=z\n{}", "redis.register_function('f', function() return 1 end)\n".repeat(20));
        let packed = lzf::compress(code.as_bytes()).unwrap();
        let mut body = vec![RDB_OPCODE_FUNCTION2, 0xC3];
        rdb_len(&mut body, packed.len());
        rdb_len(&mut body, code.len());
        body.extend_from_slice(&packed);
        body.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(parse_dump(&body).unwrap(), vec![Bytes::from(code)]);
    }

    #[test]
    fn a_lying_lzf_length_is_refused() {
        let mut body = vec![RDB_OPCODE_FUNCTION2, 0xC3];
        rdb_len(&mut body, 3);
        rdb_len(&mut body, 1 << 30);
        body.extend_from_slice(&[0, b'x', 0]);
        body.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(parse_dump(&body), Err("failed loading the given functions payload".into()));
    }
}
