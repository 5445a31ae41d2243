//! Function libraries: `#!lua name=...` code, the registry of loaded libraries and their
//! functions, script flags, and FUNCTION DUMP / RESTORE payloads (Redis's format: one
//! `RDB_OPCODE_FUNCTION2` string per library, the RDB version and a CRC64).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::persist::rdb::{payload, RdbError};

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
        payload::dump_functions(self.libs.values().map(|l| &l.code.code[..]), true)
    }
}

/// The library codes in a FUNCTION DUMP payload, or Redis's error text.
pub fn parse_dump(data: &[u8]) -> Result<Vec<Bytes>, String> {
    match payload::restore_functions(data) {
        Ok(codes) => Ok(codes.into_iter().map(Bytes::from).collect()),
        Err(RdbError::PayloadFooter) => Err("DUMP payload version or checksum are wrong".into()),
        Err(RdbError::UnsupportedType(_)) => Err("given type is not a function".into()),
        Err(_) => Err("failed loading the given functions payload".into()),
    }
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
    fn long_codes_are_lzf_compressed_as_redis_does() {
        let code = format!("#!lua name=z\n{}", "redis.register_function('f', function() return 1 end)\n".repeat(20));
        let lib = Library { code: LibraryCode { name: "z".into(), code: Bytes::from(code.clone()) }, functions: BTreeMap::new() };
        let mut libs = Libraries::default();
        libs.add(lib, false).unwrap();
        let d = libs.dump();
        assert_eq!(d[1], 0xC3, "an LZF string");
        assert!(d.len() < code.len() / 4);
        assert_eq!(parse_dump(&d).unwrap(), vec![Bytes::from(code)]);
    }
}
