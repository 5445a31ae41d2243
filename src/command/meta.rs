//! Redis's own metadata of each command: ACL categories, key specs, tips and whether its keys
//! are movable, generated from Redis 7.0.15's command descriptions into [`meta_data`]
//! (`tools/gen-command-meta.py`). COMMAND INFO, COMMAND GETKEYSANDFLAGS and COMMAND LIST
//! FILTERBY ACLCAT read it; the command table stays the source of arity, flags and routing.

use bytes::Bytes;

use super::meta_data::META;

/// ACL category names in Redis's bit order (`ACL_CATEGORY_*`), without the `@`.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The same names with their `@`, as COMMAND INFO and ACL CAT print them.
pub const CATEGORY_TAGS: [&str; 21] = [
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

/// Key-spec flag names in Redis's bit order (`CMD_KEY_*`), as COMMAND INFO prints them.
pub const KEY_FLAGS: [&str; 11] =
    ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key", "incomplete", "variable_flags"];

/// `CMD_KEY_RO | CMD_KEY_ACCESS`.
const RO_ACCESS: u16 = 1 | 1 << 4;
/// `CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE`.
const RW_ACCESS_UPDATE: u16 = 2 | 1 << 4 | 1 << 5;
/// `CMD_KEY_OW | CMD_KEY_UPDATE`.
const OW_UPDATE: u16 = 4 | 1 << 5;
/// `CMD_KEY_NOT_KEY`.
pub const NOT_KEY: u16 = 1 << 8;
/// `CMD_KEY_VARIABLE_FLAGS`.
const VARIABLE_FLAGS: u16 = 1 << 10;

/// One command's metadata.
#[derive(Debug)]
pub struct Meta {
    /// ACL categories, bit `i` for [`CATEGORIES`]`[i]` (implicit ones from the flags included).
    pub acl: u32,
    /// Whether the keys cannot all be found from the legacy (first, last, step) triple.
    pub movable: bool,
    /// The legacy (first, last, step) triple COMMAND INFO shows.
    pub legacy: (i32, i32, i32),
    /// Whether a call may name no key at all (EVAL with numkeys 0: `no_mandatory_keys`).
    pub optional_keys: bool,
    /// Command tips (`nondeterministic_output`, `request_policy:all_shards`...).
    pub tips: &'static [&'static str],
    /// Key specs in Redis's order.
    pub specs: &'static [KeySpec],
}

/// Where a key spec starts looking for keys.
#[derive(Debug)]
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end, backwards).
    Keyword(&'static str, i32),
    /// Not described (the command's own logic finds the keys).
    Unknown,
}

/// How a key spec finds its keys from where it begins.
#[derive(Debug)]
pub enum Find {
    /// Keys up to `lastkey` (relative; negative from the end), every `step`.
    Range {
        /// Last key, relative to the first; negative counts from the end.
        lastkey: i32,
        /// Step between keys.
        step: i32,
        /// With a negative lastkey, only 1/limit of the remaining arguments.
        limit: i32,
    },
    /// A count at `keynumidx`, then keys from `firstkey`, every `step`.
    Keynum {
        /// Index of the count, relative to the beginning.
        keynumidx: i32,
        /// First key, relative to the beginning.
        firstkey: i32,
        /// Step between keys.
        step: i32,
    },
    /// Not described.
    Unknown,
}

/// One key spec.
#[derive(Debug)]
pub struct KeySpec {
    /// Redis's note, empty when none.
    pub notes: &'static str,
    /// Flags, bit `i` for [`KEY_FLAGS`]`[i]`.
    pub flags: u16,
    /// Where the search begins.
    pub begin: Begin,
    /// How keys are found.
    pub find: Find,
}

impl KeySpec {
    /// The argument positions this spec names in `args` (name at 0), as Redis's
    /// getKeysUsingKeySpecs finds them; empty when the spec cannot be evaluated.
    pub fn positions(&self, args: &[Bytes]) -> Vec<usize> {
        let argc = args.len() as i64;
        let first = match self.begin {
            Begin::Index(pos) => i64::from(pos),
            Begin::Keyword(word, from) => {
                let from = i64::from(from);
                let (start, end) = if from > 0 { (from, argc - 1) } else { (argc + from, 0) };
                let mut i = start;
                let mut found = 0;
                loop {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if args[i as usize].eq_ignore_ascii_case(word.as_bytes()) {
                        found = i + 1;
                        break;
                    }
                    if i == end {
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                if found == 0 {
                    return Vec::new();
                }
                found
            }
            Begin::Unknown => return Vec::new(),
        };
        let (first, last, step) = match self.find {
            Find::Range { lastkey, step, limit } => {
                let lastkey = i64::from(lastkey);
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / i64::from(limit) + lastkey)
                };
                (first, last, i64::from(step))
            }
            Find::Keynum { keynumidx, firstkey, step } => {
                let at = first + i64::from(keynumidx);
                let Some(n) = args.get(at as usize).and_then(|a| crate::num::parse_i64(a)).filter(|n| *n >= 0) else {
                    return Vec::new();
                };
                let first = first + i64::from(firstkey);
                (first, first + n * i64::from(step) - 1, i64::from(step))
            }
            Find::Unknown => return Vec::new(),
        };
        if step < 1 {
            return Vec::new();
        }
        (first..=last).step_by(step as usize).filter(|&i| i >= 1 && i < argc).map(|i| i as usize).collect()
    }
}

/// The metadata of a command by full lower-case name (`get`, `config|get`).
pub fn of(name: &str) -> Option<&'static Meta> {
    META.binary_search_by(|(n, _)| n.cmp(&name)).ok().map(|i| &META[i].1)
}

/// The names of the categories in `acl`, in Redis's order.
pub fn category_names(acl: u32) -> impl Iterator<Item = &'static str> {
    CATEGORIES.iter().enumerate().filter(move |(i, _)| acl & (1 << i) != 0).map(|(_, n)| *n)
}

/// The names of the key-spec flags in `flags`, in Redis's order.
pub fn key_flag_names(flags: u16) -> impl Iterator<Item = &'static str> {
    KEY_FLAGS.iter().enumerate().filter(move |(i, _)| flags & (1 << i) != 0).map(|(_, n)| *n)
}

/// The flags of the key at `pos` of `args`, as COMMAND GETKEYSANDFLAGS reports them: from the
/// spec naming that position, or for keys the specs cannot describe (SORT's STORE), from the
/// last spec that leaves its keys to the command; the variable flags of SET and BITFIELD are
/// resolved from the arguments as Redis's setGetKeys and bitfieldGetKeys do.
pub fn key_flags(name: &str, meta: &Meta, args: &[Bytes], pos: usize) -> u16 {
    let has = |word: &str| args.iter().skip(1).any(|a| a.eq_ignore_ascii_case(word.as_bytes()));
    if meta.specs.iter().any(|s| s.flags & VARIABLE_FLAGS != 0) {
        return match name {
            "set" if has("get") => RW_ACCESS_UPDATE,
            "set" => OW_UPDATE,
            "bitfield" if !has("set") && !has("incrby") => RO_ACCESS,
            _ => RW_ACCESS_UPDATE,
        };
    }
    if let Some(s) = meta.specs.iter().find(|s| s.positions(args).contains(&pos)) {
        return s.flags;
    }
    meta.specs.iter().rev().find(|s| matches!(s.begin, Begin::Unknown)).or(meta.specs.last()).map_or(0, |s| s.flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(META.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(of("get").is_some() && of("config|get").is_some() && of("nosuch").is_none());
    }

    #[test]
    fn key_specs_find_keys_as_redis() {
        let lmove = of("lmove").unwrap();
        let a = args("LMOVE k1 k2 left right");
        assert_eq!(lmove.specs[0].positions(&a), vec![1]);
        assert_eq!(key_flag_names(key_flags("lmove", lmove, &a, 2)).collect::<Vec<_>>(), ["RW", "insert"]);
        let sort = of("sort").unwrap();
        let a = args("sort k1 store k2");
        assert_eq!(key_flag_names(key_flags("sort", sort, &a, 3)).collect::<Vec<_>>(), ["OW", "update"]);
        let zunion = of("zunionstore").unwrap();
        let a = args("zunionstore d 2 a b weights 1 2");
        assert_eq!(zunion.specs.iter().flat_map(|s| s.positions(&a)).collect::<Vec<_>>(), vec![1, 3, 4]);
        let migrate = of("migrate").unwrap();
        let a = args("migrate h 1 \"\" 0 5 keys a b");
        assert_eq!(migrate.specs[1].positions(&a), vec![7, 8]);
        assert_eq!(
            key_flag_names(key_flags("set", of("set").unwrap(), &args("set k v get"), 1)).collect::<Vec<_>>(),
            ["RW", "access", "update"]
        );
    }

    #[test]
    fn categories_include_the_implicit_ones() {
        let cats: Vec<_> = category_names(of("get").unwrap().acl).collect();
        assert_eq!(cats, ["read", "string", "fast"]);
        assert!(category_names(of("eval").unwrap().acl).any(|c| c == "scripting"));
    }
}
