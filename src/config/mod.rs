//! Server configuration: Redis 7.0's parameters with their names, aliases, types, ranges and
//! error texts (the table is in [`params`]), read from a redis.conf file and `--name value`
//! flags ([`file`]), and the registry behind CONFIG GET / SET / REWRITE. Values live in
//! atomics so shards read them without locks.

mod file;
pub mod params;
mod special;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering::Relaxed};
use std::sync::RwLock;

use thiserror::Error;

pub use params::P;
use params::{HIDDEN, IMMUTABLE, MULTI_ARG, OWN, PROTECTED, SENSITIVE, SPECS};
pub use special::strerror;

use crate::store::glob_match;

/// Default TCP port.
pub const DEFAULT_PORT: u16 = 6379;
/// Default number of logical databases.
pub const DEFAULT_DATABASES: usize = 16;

/// Log verbosity, as Redis names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Everything.
    Debug = 0,
    /// Much, but not all.
    Verbose = 1,
    /// What matters in production.
    Notice = 2,
    /// Only warnings.
    Warning = 3,
}

/// A configuration error, worded as Redis words it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// No such parameter.
    #[error("Unknown option or number of arguments for CONFIG SET - '{0}'")]
    Unknown(String),
    /// The parameter can only be set at start-up.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - can't set immutable config")]
    Immutable(String),
    /// `enable-protected-configs` does not allow this client to set the parameter.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - can't set protected config")]
    Protected(String),
    /// The same parameter twice in one CONFIG SET.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - duplicate parameter")]
    Duplicate(String),
    /// The value is refused.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - {1}")]
    Invalid(String, String),
    /// A bad line in the configuration file or on the command line.
    #[error("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{reason}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration file cannot be read or written.
    #[error("{0}")]
    File(String),
}

/// How a numeric parameter is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumFmt {
    /// A plain integer.
    Int,
    /// Bytes, with Redis's units (`1k`, `1kb`, `2gb`...).
    Memory,
    /// Bytes, or a percentage (`10%`, kept as -10).
    MemoryPercent,
    /// An octal number (`unixsocketperm`).
    Octal,
}

/// A parameter's type, default and (for numbers) range.
#[derive(Debug)]
pub enum Kind {
    /// `yes` or `no`.
    Bool {
        /// Default.
        def: bool,
    },
    /// A number in `min..=max`.
    Num {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
        /// Default.
        def: i64,
        /// Units and syntax.
        fmt: NumFmt,
    },
    /// One of a few names.
    Enum {
        /// The names and their values.
        names: &'static [(&'static str, i64)],
        /// Default value.
        def: i64,
    },
    /// A set of named flags (`shutdown-on-sigterm nosave now`).
    Flags {
        /// The names and their bits (a 0-valued name stands for no flag).
        names: &'static [(&'static str, i64)],
        /// Default bits.
        def: i64,
    },
    /// Any string.
    Text {
        /// Default.
        def: &'static str,
    },
    /// A parameter with its own storage and syntax.
    Special(&'static special::Ops),
}

/// One configuration parameter.
#[derive(Debug)]
pub struct Spec {
    /// Its name.
    pub name: &'static str,
    /// Its other name (`hash-max-ziplist-entries`, `slaveof`...).
    pub alias: Option<&'static str>,
    /// [`params`] flag bits.
    pub flags: u8,
    /// Type and default.
    pub kind: Kind,
}

impl Spec {
    fn is(&self, f: u8) -> bool {
        self.flags & f != 0
    }

    /// Its default value as CONFIG GET shows it.
    fn default_text(&self) -> Cow<'static, str> {
        match &self.kind {
            Kind::Bool { def } => yes_no(*def).into(),
            Kind::Num { def, fmt, .. } => format_num(*def, *fmt).into(),
            Kind::Enum { names, def } => enum_name(names, *def).into(),
            Kind::Flags { names, def } => flags_name(names, *def).into(),
            Kind::Text { def } => (*def).into(),
            Kind::Special(ops) => ops.default.into(),
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn enum_name(names: &[(&'static str, i64)], v: i64) -> &'static str {
    names.iter().find(|(_, x)| *x == v).map_or("", |(n, _)| n)
}

fn flags_name(names: &[(&'static str, i64)], v: i64) -> String {
    if v == 0 {
        return enum_name(names, 0).to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    for (n, bit) in names {
        if *bit != 0 && v & bit == *bit {
            out.push(n);
        }
    }
    out.join(" ")
}

fn format_num(v: i64, fmt: NumFmt) -> String {
    match fmt {
        NumFmt::MemoryPercent if v < 0 => format!("{}%", -v),
        NumFmt::Octal => format!("{v:o}"),
        _ => v.to_string(),
    }
}

/// Parses a memory size as Redis's `memtoull`: `100`, `1k` (1000), `1kb` (1024), `2gb`...
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let split = lower.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(lower.len());
    let (num, unit) = lower.split_at(split);
    let mul: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if num.starts_with('+') {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(mul)
}

/// Parses a number as a parameter of format `fmt` takes it, with Redis's error texts.
fn parse_num(v: &str, fmt: NumFmt) -> Result<i64, Cow<'static, str>> {
    let plain = || v.parse::<i64>().ok().filter(|_| !v.starts_with('+'));
    match fmt {
        NumFmt::Int => plain().ok_or("argument couldn't be parsed into an integer".into()),
        NumFmt::Memory => parse_memory(v).ok_or("argument must be a memory value".into()),
        NumFmt::MemoryPercent => {
            if let Some(n) = parse_memory(v) {
                return Ok(n);
            }
            match v.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
                Some(p) if p >= 0 && v.len() > 1 => Ok(-p),
                _ => Err("argument must be a memory or percent value".into()),
            }
        }
        NumFmt::Octal => i64::from_str_radix(v, 8).map_err(|_| "argument couldn't be parsed as an octal number".into()),
    }
}

/// Whether a client may use an action `enable-protected-configs` or `enable-debug-command`
/// governs: `yes`, or `local` and the client is on a loopback address.
pub fn protected_allowed(setting: i64, local_client: bool) -> bool {
    setting == 1 || (setting == 2 && local_client)
}

/// Where a value being set comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The configuration file or the command line, at start-up.
    Startup,
    /// CONFIG SET (or a rollback of one).
    Runtime,
}

/// The (hard, soft, soft seconds) output buffer limits of a client class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputClass {
    /// Ordinary clients.
    Normal = 0,
    /// Replicas.
    Replica = 1,
    /// Clients subscribed to a channel or pattern.
    PubSub = 2,
}

impl OutputClass {
    /// Redis's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    pub const DEFAULTS: [[i64; 3]; 3] = [[0, 0, 0], [256 << 20, 64 << 20, 60], [32 << 20, 8 << 20, 60]];
    const NAMES: [&'static str; 3] = ["normal", "slave", "pubsub"];

    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Some(OutputClass::Normal),
            "replica" | "slave" => Some(OutputClass::Replica),
            "pubsub" => Some(OutputClass::PubSub),
            _ => None,
        }
    }
}

/// The `maxmemory-policy` names, in the order of the policy's value.
pub const POLICIES: [&str; 8] =
    ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"];

/// All configuration.
#[derive(Debug)]
pub struct Config {
    /// Numeric, boolean, enum and flag values, one slot per [`SPECS`] entry.
    nums: Box<[AtomicI64]>,
    /// Text values, one slot per [`SPECS`] entry (only text parameters use theirs).
    texts: Box<[RwLock<String>]>,
    /// `bind`: addresses to listen on.
    pub bind: RwLock<Vec<String>>,
    /// `requirepass`; empty means none.
    pub requirepass: RwLock<Vec<u8>>,
    /// `client-output-buffer-limit`: (hard bytes, soft bytes, soft seconds) per client class.
    pub output_limits: [[AtomicI64; 3]; 3],
    /// `notify-keyspace-events`, as [`crate::notify`] flag bits (0 = off).
    pub notify_keyspace_events: AtomicU32,
    /// `save`: (seconds, changes) pairs.
    save: RwLock<Vec<(i64, i64)>>,
    /// Whether the file has set `save` yet (its first `save` line replaces the default).
    save_from_file: AtomicBool,
    /// `oom-score-adj-values`.
    oom_values: RwLock<[i64; 3]>,
    /// `latency-tracking-info-percentiles`.
    percentiles: RwLock<Vec<f64>>,
    /// Absolute path of the configuration file, if one was given.
    pub config_file: RwLock<String>,
}

impl Default for Config {
    fn default() -> Self {
        let c = Config {
            nums: SPECS.iter().map(|_| AtomicI64::new(0)).collect(),
            texts: SPECS.iter().map(|_| RwLock::new(String::new())).collect(),
            bind: RwLock::new(Vec::new()),
            requirepass: RwLock::new(Vec::new()),
            output_limits: OutputClass::DEFAULTS.map(|l| l.map(AtomicI64::new)),
            notify_keyspace_events: AtomicU32::new(0),
            save: RwLock::new(Vec::new()),
            save_from_file: AtomicBool::new(false),
            oom_values: RwLock::new([0; 3]),
            percentiles: RwLock::new(Vec::new()),
            config_file: RwLock::new(String::new()),
        };
        for (i, s) in SPECS.iter().enumerate() {
            match &s.kind {
                Kind::Bool { def } => c.nums[i].store(i64::from(*def), Relaxed),
                Kind::Num { def, .. } | Kind::Enum { def, .. } | Kind::Flags { def, .. } => c.nums[i].store(*def, Relaxed),
                Kind::Text { def } => *c.texts[i].write().expect("config lock") = (*def).to_string(),
                Kind::Special(ops) if !ops.default.is_empty() => {
                    if let Err(e) = (ops.set)(&c, &split_multi(ops.default), Source::Startup) {
                        unreachable!("default of {} is invalid: {e}", s.name);
                    }
                }
                Kind::Special(_) => {}
            }
        }
        c.save_from_file.store(false, Relaxed);
        c
    }
}

/// Splits a CONFIG SET value of a multi-word parameter on single spaces, as Redis does;
/// an empty value is no words.
fn split_multi(v: &str) -> Vec<String> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split(' ').map(String::from).collect()
}

/// The index of the parameter named `name` (or aliased so), case-insensitively.
fn lookup(name: &str) -> Option<usize> {
    SPECS.iter().position(|s| s.name.eq_ignore_ascii_case(name) || s.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)))
}

impl Config {
    /// Whether CONFIG SET refuses parameter `name` while the data set loads.
    pub fn denied_while_loading(name: &[u8]) -> bool {
        std::str::from_utf8(name).ok().and_then(lookup).is_some_and(|i| SPECS[i].is(params::DENY_LOADING))
    }

    /// The value of a numeric, boolean (1/0), enum or flags parameter.
    #[inline]
    pub fn num(&self, p: P) -> i64 {
        self.nums[p as usize].load(Relaxed)
    }

    /// Whether a boolean parameter is `yes`.
    #[inline]
    pub fn flag(&self, p: P) -> bool {
        self.num(p) != 0
    }

    /// The value of a text parameter.
    pub fn text(&self, p: P) -> String {
        self.texts[p as usize].read().expect("config lock").clone()
    }

    /// Stores a numeric value directly (for values kept by a [`Kind::Special`] parameter).
    fn store_num(&self, p: P, v: i64) {
        self.nums[p as usize].store(v, Relaxed);
    }

    /// The current log level.
    pub fn log_level(&self) -> LogLevel {
        [LogLevel::Debug, LogLevel::Verbose, LogLevel::Notice, LogLevel::Warning][self.num(P::Loglevel).clamp(0, 3) as usize]
    }

    /// The `maxmemory-policy` in force, by name.
    pub fn policy_name(&self) -> &'static str {
        POLICIES[(self.num(P::MaxmemoryPolicy).clamp(0, 7)) as usize]
    }

    /// The `save` points: (seconds, changes) pairs; empty when snapshots are not automatic.
    pub fn save_points(&self) -> Vec<(u64, u64)> {
        self.save.read().expect("config lock").iter().map(|&(s, n)| (s.max(0) as u64, n.max(0) as u64)).collect()
    }

    /// The number of logical databases.
    pub fn databases(&self) -> usize {
        self.num(P::Databases) as usize
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.num(P::Port) as u16
    }

    /// What a shard's store must follow now (applied before each command).
    pub fn store_settings(&self) -> crate::store::StoreSettings {
        crate::store::StoreSettings { notify_mask: self.notify_keyspace_events.load(Relaxed), lfu: self.lfu_mode() }
    }

    /// How key accesses update LFU counters under the current configuration.
    pub fn lfu_mode(&self) -> crate::store::LfuMode {
        crate::store::LfuMode {
            on: self.policy_name().ends_with("-lfu"),
            log_factor: self.num(P::LfuLogFactor) as u32,
            decay_minutes: self.num(P::LfuDecayTime) as u32,
        }
    }

    /// The (hard, soft, soft seconds) output limits of a client class.
    pub fn output_limit(&self, class: OutputClass) -> (i64, i64, i64) {
        let l = &self.output_limits[class as usize];
        (l[0].load(Relaxed), l[1].load(Relaxed), l[2].load(Relaxed))
    }

    /// The `latency-tracking-info-percentiles`.
    pub fn percentiles(&self) -> Vec<f64> {
        self.percentiles.read().expect("config lock").clone()
    }

    /// Whether the parameter at `i` is sensitive (its value must not be shown).
    pub fn is_sensitive(name: &[u8]) -> bool {
        std::str::from_utf8(name).ok().and_then(lookup).is_some_and(|i| SPECS[i].is(SENSITIVE))
    }

    /// The value of the parameter at `i` as CONFIG GET shows it.
    fn get_at(&self, i: usize) -> String {
        let s = &SPECS[i];
        let n = self.nums[i].load(Relaxed);
        match &s.kind {
            Kind::Bool { .. } => yes_no(n != 0).into(),
            Kind::Num { fmt, .. } => format_num(n, *fmt),
            Kind::Enum { names, .. } => enum_name(names, n).into(),
            Kind::Flags { names, .. } => flags_name(names, n),
            Kind::Text { .. } => self.texts[i].read().expect("config lock").clone(),
            Kind::Special(ops) => (ops.get)(self),
        }
    }

    /// Sets the parameter at `i` from its words (one word unless it is [`MULTI_ARG`]).
    fn set_at(&self, i: usize, words: &[String], src: Source) -> Result<(), Cow<'static, str>> {
        let s = &SPECS[i];
        let one = || -> Result<&str, Cow<'static, str>> {
            match words {
                [w] => Ok(w.as_str()),
                _ => Err("wrong number of arguments".into()),
            }
        };
        match &s.kind {
            Kind::Bool { .. } => {
                let v = match one()?.to_ascii_lowercase().as_str() {
                    "yes" => 1,
                    "no" => 0,
                    _ => return Err("argument must be 'yes' or 'no'".into()),
                };
                self.nums[i].store(v, Relaxed);
            }
            Kind::Num { min, max, fmt, .. } => {
                let n = parse_num(one()?, *fmt)?;
                if *fmt == NumFmt::MemoryPercent && n < 0 {
                    if n < *min {
                        return Err(format!("percentage argument must be less or equal to {}", -min).into());
                    }
                } else if n < *min || n > *max {
                    return Err(match fmt {
                        NumFmt::Octal => format!("argument must be between {min:o} and {max:o} inclusive"),
                        _ => format!("argument must be between {min} and {max} inclusive"),
                    }
                    .into());
                }
                self.nums[i].store(n, Relaxed);
            }
            Kind::Enum { names, .. } => {
                let w = one()?;
                let v = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(w)).map(|(_, v)| *v);
                self.nums[i].store(v.ok_or_else(|| enum_error(names))?, Relaxed);
            }
            Kind::Flags { names, .. } => {
                if words.is_empty() {
                    return Err(enum_error(names));
                }
                let mut bits = 0;
                for w in words {
                    bits |= names.iter().find(|(n, _)| n.eq_ignore_ascii_case(w)).map(|(_, v)| *v).ok_or_else(|| enum_error(names))?;
                }
                if bits & 1 != 0 && bits & 2 != 0 {
                    return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
                }
                self.nums[i].store(bits, Relaxed);
            }
            Kind::Text { .. } => *self.texts[i].write().expect("config lock") = one()?.to_string(),
            Kind::Special(ops) => (ops.set)(self, words, src)?,
        }
        Ok(())
    }

    /// Sets one parameter; at start-up immutable parameters may be set too.
    pub fn set(&self, name: &str, value: &str, startup: bool) -> Result<(), ConfigError> {
        if startup {
            let i = lookup(name).ok_or_else(|| ConfigError::Unknown(name.into()))?;
            let words = if SPECS[i].is(MULTI_ARG) { split_multi(value) } else { vec![value.to_string()] };
            return self.set_at(i, &words, Source::Startup).map_err(|e| ConfigError::Invalid(name.into(), e.into_owned()));
        }
        self.set_many(&[(name.as_bytes(), value.as_bytes())], true)
    }

    /// CONFIG SET: every pair is checked, then all are set, or none (a failure puts back the
    /// values set before it). `local_client` is whether the client is on a loopback address
    /// (for `enable-protected-configs local`).
    pub fn set_many(&self, pairs: &[(&[u8], &[u8])], local_client: bool) -> Result<(), ConfigError> {
        let mut chosen: Vec<usize> = Vec::with_capacity(pairs.len());
        let mut to_set: Vec<(usize, &[u8])> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            let name = String::from_utf8_lossy(name);
            let i = lookup(&name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
            let s = &SPECS[i];
            let unchanged_own = s.is(OWN) && self.get_at(i).as_bytes() == *value;
            if s.is(IMMUTABLE) && !unchanged_own {
                return Err(ConfigError::Immutable(name.into()));
            }
            if s.is(PROTECTED) && !protected_allowed(self.num(P::EnableProtectedConfigs), local_client) {
                return Err(ConfigError::Protected(name.into()));
            }
            if chosen.contains(&i) {
                return Err(ConfigError::Duplicate(name.into()));
            }
            chosen.push(i);
            if !s.is(IMMUTABLE) {
                to_set.push((i, value));
            }
        }
        let chosen: Vec<usize> = to_set.iter().map(|(i, _)| *i).collect();
        let backup: Vec<String> = chosen.iter().map(|&i| self.get_at(i)).collect();
        for (k, &(i, value)) in to_set.iter().enumerate() {
            let value = String::from_utf8_lossy(value);
            let words = if SPECS[i].is(MULTI_ARG) { split_multi(&value) } else { vec![value.into_owned()] };
            if let Err(e) = self.set_at(i, &words, Source::Runtime) {
                for (&j, old) in chosen[..=k].iter().zip(&backup).rev() {
                    let words = if SPECS[j].is(MULTI_ARG) { split_multi(old) } else { vec![old.clone()] };
                    let _ = self.set_at(j, &words, Source::Runtime);
                }
                return Err(ConfigError::Invalid(SPECS[i].name.into(), e.into_owned()));
            }
        }
        Ok(())
    }

    /// CONFIG GET: the parameters named by `patterns` (exact names, or globs that match names
    /// and aliases but never hidden parameters), each once, as (name, value).
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let has = |out: &Vec<(String, String)>, n: &str| out.iter().any(|(k, _)| k == n);
        for pat in patterns {
            if !pat.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
                let name = String::from_utf8_lossy(pat).to_ascii_lowercase();
                if let Some(i) = lookup(&name) {
                    if !has(&out, &name) {
                        out.push((name, self.get_at(i)));
                    }
                }
                continue;
            }
            for (i, s) in SPECS.iter().enumerate() {
                if s.is(HIDDEN) {
                    continue;
                }
                for n in std::iter::once(s.name).chain(s.alias) {
                    if !has(&out, n) && glob_match(pat, n.as_bytes(), true) {
                        out.push((n.to_string(), self.get_at(i)));
                    }
                }
            }
        }
        out
    }

    /// Every parameter matching the glob `pattern`, as (name, value).
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        self.get(&[pattern])
    }
}

fn enum_error(names: &[(&str, i64)]) -> Cow<'static, str> {
    let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    format!("argument(s) must be one of the following: {}", list.join(", ")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_flags_and_memory_units() {
        let c = Config::from_args(&args(&["--port", "7000", "--maxmemory", "2gb", "--bind", "127.0.0.1", "::1"])).unwrap();
        assert_eq!(c.port(), 7000);
        assert_eq!(c.num(P::Maxmemory), 2 * 1024 * 1024 * 1024);
        assert_eq!(c.get_matching(b"bind")[0].1, "127.0.0.1 ::1");
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert!(matches!(c.set("daemonize", "yes", false), Err(ConfigError::Immutable(_))));
        assert!(matches!(c.set("nope", "1", false), Err(ConfigError::Unknown(_))));
        assert!(c.apply_text("# comment\nnot-a-directive 1\n").is_err());
    }

    #[test]
    fn aliases_share_one_value() {
        let c = Config::default();
        c.set("list-max-ziplist-size", "-3", false).unwrap();
        assert_eq!(c.num(P::ListMaxListpackSize), -3);
        c.set("hash-max-ziplist-entries", "21", false).unwrap();
        assert_eq!(c.get(&[b"hash-max-listpack-entries"]), vec![("hash-max-listpack-entries".to_string(), "21".to_string())]);
        let both = c.get(&[b"*of"]);
        assert!(both.iter().any(|(k, _)| k == "slaveof") && both.iter().any(|(k, _)| k == "replicaof"));
    }

    #[test]
    fn a_failed_set_rolls_back_what_it_set() {
        let c = Config::default();
        c.set("maxmemory", "10000002", false).unwrap();
        let e = c
            .set_many(&[(b"maxmemory", b"10000001"), (b"maxmemory-clients", b"200%"), (b"client-query-buffer-limit", b"x")], true)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
        );
        assert_eq!(c.num(P::Maxmemory), 10000002);
        assert!(matches!(c.set_many(&[(b"maxmemory", b"1"), (b"maxmemory", b"2")], true), Err(ConfigError::Duplicate(_))));
    }

    #[test]
    fn errors_name_the_range_and_choices() {
        let c = Config::default();
        let e = c.set("maxmemory-samples", "0", false).unwrap_err().to_string();
        assert!(e.ends_with("argument must be between 1 and 2147483647 inclusive"), "{e}");
        let e = c.set("loglevel", "loud", false).unwrap_err().to_string();
        assert!(e.ends_with("argument(s) must be one of the following: debug, verbose, notice, warning"), "{e}");
        let e = c.set("appendfsync", "x", false).unwrap_err().to_string();
        assert!(e.contains("everysec, always, no"), "{e}");
        c.set("shutdown-on-sigterm", "nosave force now", false).unwrap();
        assert_eq!(c.get(&[b"shutdown-on-sigterm"])[0].1, "nosave now force");
        c.set("maxmemory-clients", "10%", false).unwrap();
        assert_eq!(c.get(&[b"maxmemory-clients"])[0].1, "10%");
    }

    #[test]
    fn hidden_parameters_need_their_exact_name() {
        let c = Config::default();
        assert!(!c.get(&[b"*"]).iter().any(|(k, _)| k == "key-load-delay"));
        assert_eq!(c.get(&[b"key-load-delay"]).len(), 1);
    }
}
