//! Server configuration: typed parameters with named defaults, read from a redis.conf-style
//! file and `--name value` flags, and the registry behind CONFIG GET / CONFIG SET.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::RwLock;

use thiserror::Error;

use crate::protocol::split_args;
use crate::store::glob_match;

/// Default TCP port.
pub const DEFAULT_PORT: u16 = 6379;
/// Default number of logical databases.
pub const DEFAULT_DATABASES: usize = 16;
/// Default largest bulk string (512 MB).
pub const DEFAULT_PROTO_MAX_BULK_LEN: i64 = 512 * 1024 * 1024;
/// Default largest query buffer per client (1 GB).
pub const DEFAULT_QUERY_BUFFER_LIMIT: i64 = 1024 * 1024 * 1024;
/// Default maximum number of clients.
pub const DEFAULT_MAXCLIENTS: i64 = 10000;

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

impl LogLevel {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "verbose" => LogLevel::Verbose,
            "notice" => LogLevel::Notice,
            "warning" => LogLevel::Warning,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        ["debug", "verbose", "notice", "warning"][self as usize]
    }
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
    /// The value does not parse.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - {1}")]
    Invalid(String, &'static str),
    /// A bad line in a configuration file.
    #[error("Bad directive or wrong number of arguments at line {line}: '{text}'")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
}

/// All configuration; runtime-settable values are atomics so shards read them without locks.
#[derive(Debug)]
pub struct Config {
    /// `port`.
    pub port: AtomicU64,
    /// `bind`: addresses to listen on.
    pub bind: RwLock<Vec<String>>,
    /// `databases`.
    pub databases: AtomicUsize,
    /// `threads`: number of shards (0 = every CPU the process may use).
    pub threads: AtomicUsize,
    /// `pin-cpus`: pin each shard to a CPU.
    pub pin_cpus: AtomicU8,
    /// `spin-before-park-us` (shardis's own): how long a shard keeps watching its mailbox
    /// after its last message before it waits on it. 0 (the default)
    /// sleeps at once; a few tens of microseconds spare a caller that sends again right away
    /// the wake-up latency (see README, "Embedding").
    pub spin_before_park_us: AtomicU64,
    /// `requirepass`; empty means none.
    pub requirepass: RwLock<Vec<u8>>,
    /// `maxclients`.
    pub maxclients: AtomicI64,
    /// `timeout`: idle seconds before a client is closed (0 = never).
    pub timeout: AtomicI64,
    /// `loglevel`.
    pub loglevel: AtomicU8,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: AtomicI64,
    /// `client-query-buffer-limit`.
    pub query_buffer_limit: AtomicI64,
    /// `maxmemory` (accepted and reported; enforced by a later release).
    pub maxmemory: AtomicI64,
    /// `maxmemory-policy`, as an index into [`POLICIES`].
    pub maxmemory_policy: AtomicU8,
    /// `lfu-log-factor`: hits it takes to grow a key's LFU counter.
    pub lfu_log_factor: AtomicI64,
    /// `lfu-decay-time`: minutes for an LFU counter to lose one (0: never).
    pub lfu_decay_time: AtomicI64,
    /// `hz` (accepted for compatibility).
    pub hz: AtomicI64,
    /// Path of the configuration file, if one was given.
    pub config_file: RwLock<String>,
    /// `hash-max-listpack-entries`: fields up to which a hash stays packed.
    pub hash_max_listpack_entries: AtomicI64,
    /// `hash-max-listpack-value`: longest field or value of a packed hash.
    pub hash_max_listpack_value: AtomicI64,
    /// `set-max-intset-entries`: members up to which an all-integer set stays an intset.
    pub set_max_intset_entries: AtomicI64,
    /// `zset-max-listpack-entries`: members up to which a sorted set stays packed.
    pub zset_max_listpack_entries: AtomicI64,
    /// `zset-max-listpack-value`: longest member of a packed sorted set.
    pub zset_max_listpack_value: AtomicI64,
    /// `client-output-buffer-limit`: (hard bytes, soft bytes, soft seconds) per client class.
    pub output_limits: [[AtomicI64; 3]; 3],
    /// `maxmemory-samples`: keys sampled per eviction.
    pub maxmemory_samples: AtomicI64,
    /// `notify-keyspace-events`, as [`crate::notify`] flag bits (0 = off).
    pub notify_keyspace_events: AtomicU32,
    /// `busy-reply-threshold` (alias `lua-time-limit`): ms after which a running script makes
    /// the server answer `-BUSY` and may be killed (0: never).
    pub busy_reply_threshold: AtomicI64,
    /// `busy-reply-scope` (shardis's own): `all` (Redis's behaviour) answers `-BUSY` to every
    /// command while a script is past `busy-reply-threshold`; `held` only to commands that
    /// need a key the script holds (and to keyless ones), other keys being served.
    pub busy_reply_held_only: AtomicBool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: AtomicU64::new(u64::from(DEFAULT_PORT)),
            bind: RwLock::new(vec!["127.0.0.1".into(), "-::1".into()]),
            databases: AtomicUsize::new(DEFAULT_DATABASES),
            threads: AtomicUsize::new(0),
            pin_cpus: AtomicU8::new(1),
            spin_before_park_us: AtomicU64::new(0),
            requirepass: RwLock::new(Vec::new()),
            maxclients: AtomicI64::new(DEFAULT_MAXCLIENTS),
            timeout: AtomicI64::new(0),
            loglevel: AtomicU8::new(LogLevel::Notice as u8),
            proto_max_bulk_len: AtomicI64::new(DEFAULT_PROTO_MAX_BULK_LEN),
            query_buffer_limit: AtomicI64::new(DEFAULT_QUERY_BUFFER_LIMIT),
            maxmemory: AtomicI64::new(0),
            maxmemory_policy: AtomicU8::new(NOEVICTION),
            lfu_log_factor: AtomicI64::new(10),
            lfu_decay_time: AtomicI64::new(1),
            hz: AtomicI64::new(10),
            config_file: RwLock::new(String::new()),
            hash_max_listpack_entries: AtomicI64::new(128),
            hash_max_listpack_value: AtomicI64::new(64),
            set_max_intset_entries: AtomicI64::new(512),
            zset_max_listpack_entries: AtomicI64::new(128),
            zset_max_listpack_value: AtomicI64::new(64),
            output_limits: OutputClass::DEFAULTS.map(|l| l.map(AtomicI64::new)),
            notify_keyspace_events: AtomicU32::new(0),
            maxmemory_samples: AtomicI64::new(5),
            busy_reply_threshold: AtomicI64::new(5000),
            busy_reply_held_only: AtomicBool::new(false),
        }
    }
}

/// A client class of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputClass {
    /// Ordinary clients.
    Normal = 0,
    /// Replicas (accepted for compatibility; shardis has none).
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

impl Config {
    /// The `maxmemory-policy` in force, by name.
    pub fn policy_name(&self) -> &'static str {
        POLICIES[usize::from(self.maxmemory_policy.load(Relaxed)).min(POLICIES.len() - 1)]
    }

    /// What a shard's store must follow now (applied before each command).
    pub fn store_settings(&self) -> crate::store::StoreSettings {
        crate::store::StoreSettings { notify_mask: self.notify_keyspace_events.load(Relaxed), lfu: self.lfu_mode() }
    }

    /// How key accesses update LFU counters under the current configuration.
    pub fn lfu_mode(&self) -> crate::store::LfuMode {
        crate::store::LfuMode {
            on: self.policy_name().ends_with("-lfu"),
            log_factor: self.lfu_log_factor.load(Relaxed) as u32,
            decay_minutes: self.lfu_decay_time.load(Relaxed) as u32,
        }
    }

    /// The (hard, soft, soft seconds) output limits of a client class.
    pub fn output_limit(&self, class: OutputClass) -> (i64, i64, i64) {
        let l = &self.output_limits[class as usize];
        (l[0].load(Relaxed), l[1].load(Relaxed), l[2].load(Relaxed))
    }
}

/// Sets `client-output-buffer-limit` from `<class> <hard> <soft> <seconds>` groups; nothing
/// changes unless every group is valid.
fn set_output_limits(c: &Config, v: &str) -> Result<(), &'static str> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.");
    }
    let mut parsed = Vec::new();
    for g in words.chunks(4) {
        let class = OutputClass::parse(g[0]).ok_or("Invalid client class specified in buffer limit configuration.")?;
        let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(g[1]).filter(|n| *n >= 0).ok_or(bad)?;
        let soft = parse_memory(g[2]).filter(|n| *n >= 0).ok_or(bad)?;
        let secs = g[3].parse::<i64>().ok().filter(|n| *n >= 0).ok_or(bad)?;
        parsed.push((class, [hard, soft, secs]));
    }
    for (class, vals) in parsed {
        for (slot, v) in c.output_limits[class as usize].iter().zip(vals) {
            slot.store(v, Relaxed);
        }
    }
    Ok(())
}

fn get_output_limits(c: &Config) -> String {
    let mut out = Vec::new();
    for (i, name) in OutputClass::NAMES.iter().enumerate() {
        let l = &c.output_limits[i];
        out.push(format!("{name} {} {} {}", l[0].load(Relaxed), l[1].load(Relaxed), l[2].load(Relaxed)));
    }
    out.join(" ")
}

/// Parses a memory size as Redis's `memtoll`: `100`, `1k` (1000), `1kb` (1024), `2gb`...
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
    num.parse::<i64>().ok()?.checked_mul(mul)
}

fn yes_no(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Some(1),
        "no" => Some(0),
        _ => None,
    }
}

type Getter = fn(&Config) -> String;
type Setter = fn(&Config, &str) -> Result<(), &'static str>;

/// One configuration parameter.
struct Param {
    name: &'static str,
    mutable: bool,
    get: Getter,
    set: Setter,
}

const NOT_INT: &str = "argument couldn't be parsed into an integer";
const NOT_MEM: &str = "argument must be a memory value";

fn int(v: &str) -> Result<i64, &'static str> {
    v.parse::<i64>().map_err(|_| NOT_INT)
}

/// An integer in `range`, or `outside` (Redis's error naming the range).
fn int_in(v: &str, range: std::ops::RangeInclusive<i64>, outside: &'static str) -> Result<i64, &'static str> {
    Some(int(v)?).filter(|n| range.contains(n)).ok_or(outside)
}

fn get_busy_threshold(c: &Config) -> String {
    c.busy_reply_threshold.load(Relaxed).to_string()
}

/// `busy-reply-threshold` and its alias `lua-time-limit`.
fn set_busy_threshold(c: &Config, v: &str) -> Result<(), &'static str> {
    c.busy_reply_threshold.store(int_in(v, 0..=i64::MAX, "argument must be a non-negative integer")?, Relaxed);
    Ok(())
}

/// Redis's error for an int config outside `0..=INT_MAX`.
const NOT_INT32: &str = "argument must be between 0 and 2147483647 inclusive";

/// The `maxmemory-policy` names, in the order of [`Config::maxmemory_policy`]'s index.
pub const POLICIES: [&str; 8] =
    ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"];
/// [`POLICIES`]' index of `noeviction`, the default.
const NOEVICTION: u8 = 7;

fn mem(v: &str) -> Result<i64, &'static str> {
    parse_memory(v).ok_or(NOT_MEM)
}

/// A non-negative size (Redis's size_t configs), read with `parse`.
fn size(v: &str, parse: fn(&str) -> Result<i64, &'static str>) -> Result<i64, &'static str> {
    let n = parse(v)?;
    if n < 0 {
        return Err("argument must be between 0 and 9223372036854775807 inclusive");
    }
    Ok(n)
}

static PARAMS: &[Param] = &[
    Param {
        name: "hash-max-listpack-entries",
        mutable: true,
        get: |c| c.hash_max_listpack_entries.load(Relaxed).to_string(),
        set: |c, v| size(v, int).map(|n| c.hash_max_listpack_entries.store(n, Relaxed)),
    },
    Param {
        name: "hash-max-listpack-value",
        mutable: true,
        get: |c| c.hash_max_listpack_value.load(Relaxed).to_string(),
        set: |c, v| size(v, mem).map(|n| c.hash_max_listpack_value.store(n, Relaxed)),
    },
    Param {
        name: "set-max-intset-entries",
        mutable: true,
        get: |c| c.set_max_intset_entries.load(Relaxed).to_string(),
        set: |c, v| size(v, int).map(|n| c.set_max_intset_entries.store(n, Relaxed)),
    },
    Param {
        name: "zset-max-listpack-entries",
        mutable: true,
        get: |c| c.zset_max_listpack_entries.load(Relaxed).to_string(),
        set: |c, v| size(v, int).map(|n| c.zset_max_listpack_entries.store(n, Relaxed)),
    },
    Param {
        name: "zset-max-listpack-value",
        mutable: true,
        get: |c| c.zset_max_listpack_value.load(Relaxed).to_string(),
        set: |c, v| size(v, mem).map(|n| c.zset_max_listpack_value.store(n, Relaxed)),
    },
    Param {
        name: "port",
        mutable: false,
        get: |c| c.port.load(Relaxed).to_string(),
        set: |c, v| {
            let p = int(v)?;
            if !(0..=65535).contains(&p) {
                return Err("argument must be between 0 and 65535 inclusive");
            }
            c.port.store(p as u64, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "bind",
        mutable: false,
        get: |c| c.bind.read().expect("config lock").join(" "),
        set: |c, v| {
            *c.bind.write().expect("config lock") = v.split_whitespace().map(String::from).collect();
            Ok(())
        },
    },
    Param {
        name: "databases",
        mutable: false,
        get: |c| c.databases.load(Relaxed).to_string(),
        set: |c, v| {
            let n = int(v)?;
            if !(1..=i64::from(i32::MAX)).contains(&n) {
                return Err("argument must be between 1 and 2147483647 inclusive");
            }
            c.databases.store(n as usize, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "threads",
        mutable: false,
        get: |c| c.threads.load(Relaxed).to_string(),
        set: |c, v| {
            let n = int(v)?;
            if !(0..=1024).contains(&n) {
                return Err("argument must be between 0 and 1024 inclusive");
            }
            c.threads.store(n as usize, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "pin-cpus",
        mutable: false,
        get: |c| if c.pin_cpus.load(Relaxed) == 1 { "yes".into() } else { "no".into() },
        set: |c, v| {
            c.pin_cpus.store(yes_no(v).ok_or("argument must be 'yes' or 'no'")?, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "spin-before-park-us",
        mutable: false,
        get: |c| c.spin_before_park_us.load(Relaxed).to_string(),
        set: |c, v| {
            let n = int(v)?;
            if !(0..=10_000).contains(&n) {
                return Err("argument must be between 0 and 10000 inclusive");
            }
            c.spin_before_park_us.store(n as u64, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "requirepass",
        mutable: true,
        get: |c| String::from_utf8_lossy(&c.requirepass.read().expect("config lock")).into_owned(),
        set: |c, v| {
            *c.requirepass.write().expect("config lock") = v.as_bytes().to_vec();
            Ok(())
        },
    },
    Param {
        name: "maxclients",
        mutable: true,
        get: |c| c.maxclients.load(Relaxed).to_string(),
        set: |c, v| {
            let n = int(v)?;
            if n < 1 {
                return Err("argument must be between 1 and 2147483647 inclusive");
            }
            c.maxclients.store(n, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "timeout",
        mutable: true,
        get: |c| c.timeout.load(Relaxed).to_string(),
        set: |c, v| {
            let n = int(v)?;
            if n < 0 {
                return Err("argument must be between 0 and 2147483647 inclusive");
            }
            c.timeout.store(n, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "loglevel",
        mutable: true,
        get: |c| c.log_level().name().into(),
        set: |c, v| {
            c.loglevel.store(
                LogLevel::parse(v).ok_or("argument(s) must be one of the following: debug, verbose, notice, warning, nothing")? as u8,
                Relaxed,
            );
            Ok(())
        },
    },
    Param {
        name: "proto-max-bulk-len",
        mutable: true,
        get: |c| c.proto_max_bulk_len.load(Relaxed).to_string(),
        set: |c, v| {
            let n = mem(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be between 1048576 and 9223372036854775807 inclusive");
            }
            c.proto_max_bulk_len.store(n, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "client-query-buffer-limit",
        mutable: true,
        get: |c| c.query_buffer_limit.load(Relaxed).to_string(),
        set: |c, v| {
            let n = mem(v)?;
            if n < 1024 * 1024 {
                return Err("argument must be between 1048576 and 9223372036854775807 inclusive");
            }
            c.query_buffer_limit.store(n, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "maxmemory",
        mutable: true,
        get: |c| c.maxmemory.load(Relaxed).to_string(),
        set: |c, v| {
            let n = mem(v)?;
            c.maxmemory.store(n.max(0), Relaxed);
            Ok(())
        },
    },
    Param {
        name: "maxmemory-policy",
        mutable: true,
        get: |c| c.policy_name().to_string(),
        set: |c, v| {
            let v = v.to_ascii_lowercase();
            let Some(i) = POLICIES.iter().position(|p| *p == v) else {
                return Err("argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction");
            };
            c.maxmemory_policy.store(i as u8, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "lfu-log-factor",
        mutable: true,
        get: |c| c.lfu_log_factor.load(Relaxed).to_string(),
        set: |c, v| {
            c.lfu_log_factor.store(int_in(v, 0..=i64::from(i32::MAX), NOT_INT32)?, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "lfu-decay-time",
        mutable: true,
        get: |c| c.lfu_decay_time.load(Relaxed).to_string(),
        set: |c, v| {
            c.lfu_decay_time.store(int_in(v, 0..=i64::from(i32::MAX), NOT_INT32)?, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "maxmemory-samples",
        mutable: true,
        get: |c| c.maxmemory_samples.load(Relaxed).to_string(),
        set: |c, v| {
            c.maxmemory_samples.store(int_in(v, 1..=64, "argument must be between 1 and 64 inclusive")?, Relaxed);
            Ok(())
        },
    },
    Param {
        name: "hz",
        mutable: true,
        get: |c| c.hz.load(Relaxed).to_string(),
        set: |c, v| {
            c.hz.store(int(v)?.clamp(1, 500), Relaxed);
            Ok(())
        },
    },
    Param { name: "client-output-buffer-limit", mutable: true, get: get_output_limits, set: set_output_limits },
    Param {
        name: "notify-keyspace-events",
        mutable: true,
        get: |c| crate::notify::flags_to_string(c.notify_keyspace_events.load(Relaxed)),
        set: |c, v| {
            let f = crate::notify::parse_flags(v).ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
            c.notify_keyspace_events.store(f, Relaxed);
            Ok(())
        },
    },
    Param { name: "busy-reply-threshold", mutable: true, get: get_busy_threshold, set: set_busy_threshold },
    Param { name: "lua-time-limit", mutable: true, get: get_busy_threshold, set: set_busy_threshold },
    Param {
        name: "busy-reply-scope",
        mutable: true,
        get: |c| if c.busy_reply_held_only.load(Relaxed) { "held" } else { "all" }.into(),
        set: |c, v| {
            let held = match v.to_ascii_lowercase().as_str() {
                "all" => false,
                "held" => true,
                _ => return Err("argument must be 'all' or 'held'"),
            };
            c.busy_reply_held_only.store(held, Relaxed);
            Ok(())
        },
    },
    // Persistence is not implemented: these report its absence so tools that ask are answered.
    Param {
        name: "save",
        mutable: true,
        get: |_| String::new(),
        set: |_, v| if v.is_empty() { Ok(()) } else { Err("persistence is not supported") },
    },
    Param {
        name: "appendonly",
        mutable: true,
        get: |_| "no".into(),
        set: |_, v| if v.eq_ignore_ascii_case("no") { Ok(()) } else { Err("persistence is not supported") },
    },
];

impl Config {
    /// The current log level.
    pub fn log_level(&self) -> LogLevel {
        [LogLevel::Debug, LogLevel::Verbose, LogLevel::Notice, LogLevel::Warning][usize::from(self.loglevel.load(Relaxed).min(3))]
    }

    /// Sets a parameter; at start-up (`startup`) immutable parameters may be set too.
    pub fn set(&self, name: &str, value: &str, startup: bool) -> Result<(), ConfigError> {
        let lname = name.to_ascii_lowercase();
        let p = PARAMS.iter().find(|p| p.name == lname).ok_or_else(|| ConfigError::Unknown(name.into()))?;
        if !p.mutable && !startup {
            return Err(ConfigError::Immutable(p.name.into()));
        }
        (p.set)(self, value).map_err(|e| ConfigError::Invalid(p.name.into(), e))
    }

    /// Every parameter matching the glob `pattern`, as (name, value).
    pub fn get_matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        PARAMS.iter().filter(|p| glob_match(pattern, p.name.as_bytes(), true)).map(|p| (p.name, (p.get)(self))).collect()
    }

    /// Builds a configuration from redis-server-style arguments: an optional config file
    /// path first, then `--name value...` options (which override the file).
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let cfg = Config::default();
        let mut rest = args;
        let mut lines = String::new();
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                let text = std::fs::read_to_string(first).map_err(|e| ConfigError::BadLine { line: 0, text: format!("{first}: {e}") })?;
                lines.push_str(&text);
                lines.push('\n');
                *cfg.config_file.write().expect("config lock") = first.clone();
                rest = &args[1..];
            }
        }
        let mut i = 0;
        while i < rest.len() {
            let name = rest[i].strip_prefix("--").ok_or_else(|| ConfigError::BadLine { line: 0, text: rest[i].clone() })?;
            let mut vals = Vec::new();
            i += 1;
            while i < rest.len() && !rest[i].starts_with("--") {
                vals.push(rest[i].clone());
                i += 1;
            }
            lines.push_str(name);
            for v in vals {
                lines.push_str(" \"");
                lines.push_str(&v.replace('\\', "\\\\").replace('"', "\\\""));
                lines.push('"');
            }
            lines.push('\n');
        }
        cfg.apply_text(&lines)?;
        Ok(cfg)
    }

    /// Applies redis.conf-style text: one `directive value...` a line, `#` comments.
    pub fn apply_text(&self, text: &str) -> Result<(), ConfigError> {
        for (n, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let bad = || ConfigError::BadLine { line: n + 1, text: t.to_string() };
            let toks = split_args(t.as_bytes()).ok_or_else(bad)?;
            let (name, vals) = toks.split_first().ok_or_else(bad)?;
            let name = String::from_utf8_lossy(name).to_string();
            let value = vals.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect::<Vec<_>>().join(" ");
            self.set(&name, &value, true).map_err(|e| match e {
                ConfigError::Unknown(_) => bad(),
                other => other,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_memory_units() {
        let c = Config::from_args(&[
            "--port".into(),
            "7000".into(),
            "--maxmemory".into(),
            "2gb".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "::1".into(),
        ])
        .unwrap();
        assert_eq!(c.port.load(Relaxed), 7000);
        assert_eq!(c.maxmemory.load(Relaxed), 2 * 1024 * 1024 * 1024);
        assert_eq!(c.get_matching(b"bind")[0].1, "127.0.0.1 ::1");
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert!(matches!(c.set("port", "1", false), Err(ConfigError::Immutable(_))));
        assert!(matches!(c.set("nope", "1", false), Err(ConfigError::Unknown(_))));
        assert!(c.apply_text("# comment\nnot-a-directive 1\n").is_err());
    }
}
