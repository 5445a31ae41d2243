//! The command table and the command families.
//!
//! Every command is one [`CommandSpec`]: name, arity, flags, key positions, documentation and
//! its route. The table drives arity and unknown-command errors, routing of keys to shards,
//! COMMAND / COMMAND DOCS, and the README's command list. Each family file exports its specs.

mod args;
mod bits;
pub mod blocking;
mod debug;
mod docs;
mod dump;
mod error;
mod geo;
mod hashes;
mod info;
mod introspection;
mod keyspace;
mod latency;
mod lists;
mod memory;
pub mod meta;
mod meta_data;
mod migrate;
mod persistence;
mod pubsub;
mod scripting;
mod server;
mod sets;
mod slowlog;
mod sort;
mod strings;
mod transactions;
mod zsets;

use std::sync::LazyLock;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

pub use args::{eq_ic, parse_db, parse_int};
pub use blocking::BlockSpec;
pub use error::{CmdError, CmdResult};
pub use info::rss_bytes;
pub use migrate::SocketCache;
pub use scripting::compile_library;
pub use server::REDIS_VERSION;

use crate::shard::{Session, ShardCtx};
use crate::store::{Entry, Value};

/// A handler run on the shard that owns the command's keys.
pub type ShardFn = fn(&mut ShardCtx<'_>, &[Bytes]) -> CmdResult;
/// A handler that reads or changes the client's session, run where the connection lives.
pub type SessionFn = fn(&mut Session, &[Bytes]) -> CmdResult;
/// A handler that coordinates work over several shards.
pub type CoordFn = for<'a> fn(&'a mut Session, Vec<Bytes>) -> LocalBoxFuture<'a, CmdResult>;

/// Finds key positions by reading a command's arguments (SORT's STORE destination).
pub type KeysFn = fn(&[Bytes]) -> Vec<usize>;

/// How a command is executed.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    /// On the shard owning its keys.
    Shard(ShardFn),
    /// On the connection's shard, touching only the session.
    Session(SessionFn),
    /// On the connection's shard, after earlier commands finish, visiting shards as needed.
    Coordinator(CoordFn),
    /// A container whose subcommands carry the routes.
    Parent,
}

/// How per-shard replies of a split multi-key command combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Sum integer replies (DEL, EXISTS, TOUCH, UNLINK).
    SumInts,
    /// `+OK` when every part replied OK (MSET).
    AllOk,
    /// Put array elements back in key order (MGET).
    Gather,
}

/// Command flags, as COMMAND INFO reports them.
pub mod flags {
    /// Writes data.
    pub const WRITE: u32 = 1;
    /// Reads data only.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 4;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 5;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 6;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 7;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 8;
    /// Allowed while the server is busy.
    pub const ALLOW_BUSY: u32 = 1 << 9;
    /// Output is not deterministic.
    pub const RANDOM: u32 = 1 << 10;
    /// Key positions depend on the arguments (a numkeys count); set by [`super::CommandSpec::numkeys`].
    pub const MOVABLEKEYS: u32 = 1 << 11;
    /// Refused inside MULTI (and the refusal discards the transaction).
    pub const NO_MULTI: u32 = 1 << 12;
    /// May block the client (BLPOP...); set by [`super::CommandSpec::blocking`].
    pub const BLOCKING: u32 = 1 << 13;
    /// A pub/sub command.
    pub const PUBSUB: u32 = 1 << 14;
    /// Runs at once even inside MULTI instead of being queued (MULTI, EXEC, DISCARD, WATCH,
    /// QUIT, RESET). Internal: COMMAND INFO does not show it.
    pub const NOT_QUEUED: u32 = 1 << 15;
    /// Allowed while a RESP2 client is subscribed (the SUBSCRIBE family, PING, QUIT, RESET).
    /// Internal.
    pub const SUBSCRIBED_OK: u32 = 1 << 16;
    /// Runs a script (EVAL, FCALL...): the command takes its own locks, and a transaction
    /// holding it locks every shard whole. Internal.
    pub const SCRIPT: u32 = 1 << 17;
    /// Not shown to MONITOR when it runs (EVAL and FCALL show themselves before their
    /// commands).
    pub const SKIP_MONITOR: u32 = 1 << 18;
    /// Not written to the slow log (EXEC: its commands are, one by one).
    pub const SKIP_SLOWLOG: u32 = 1 << 19;
    /// Names, in bit order, for COMMAND INFO (empty: internal).
    pub const NAMES: [&str; 20] = [
        "write",
        "readonly",
        "denyoom",
        "admin",
        "noscript",
        "loading",
        "stale",
        "fast",
        "no_auth",
        "allow_busy",
        "random",
        "movablekeys",
        "no_multi",
        "blocking",
        "pubsub",
        "",
        "",
        "",
        "skip_monitor",
        "skip_slowlog",
    ];
}

/// One command's entry in the table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Full lower-case name (`get`, `client|list`).
    pub name: &'static str,
    /// Arity: positive is the exact argument count with the name; negative is the minimum.
    pub arity: i32,
    /// Flags from [`flags`].
    pub flags: u32,
    /// Position of the first key (0 = no keys).
    pub first_key: i32,
    /// Position of the last key; negative counts from the end.
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Position of a numkeys argument followed by that many keys (LMPOP); 0 when none.
    pub numkeys_at: i32,
    /// Redis's group (`string`, `generic`, `server`, `connection`, `cluster`).
    pub group: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// Redis version that introduced the command.
    pub since: &'static str,
    /// Time complexity.
    pub complexity: &'static str,
    /// Argument syntax after the name (see `docs.rs`), for COMMAND DOCS and redis-cli hints.
    pub syntax: &'static str,
    /// Execution route.
    pub route: Route,
    /// How a multi-key command is split over shards; `None` runs it whole.
    pub merge: Option<Merge>,
    /// Subcommands of a container command.
    pub subcommands: &'static [CommandSpec],
    /// Key positions found by reading the arguments (SORT's STORE destination).
    pub keys_fn: Option<KeysFn>,
    /// How a blocking command waits and is served.
    pub block: Option<&'static BlockSpec>,
}

impl CommandSpec {
    /// A spec with the required fields; documentation is added with [`CommandSpec::doc`].
    pub const fn new(name: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), group: &'static str, route: Route) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            step: keys.2,
            numkeys_at: 0,
            group,
            summary: "",
            since: "1.0.0",
            complexity: "O(1)",
            syntax: "",
            route,
            merge: None,
            subcommands: &[],
            keys_fn: None,
            block: None,
        }
    }

    /// Makes the command a blocking one, served as `b` says.
    pub const fn blocking(mut self, b: &'static BlockSpec) -> Self {
        self.block = Some(b);
        self.flags |= flags::BLOCKING;
        self
    }

    /// Adds summary, version, complexity and argument syntax.
    pub const fn doc(mut self, summary: &'static str, since: &'static str, complexity: &'static str, syntax: &'static str) -> Self {
        self.summary = summary;
        self.since = since;
        self.complexity = complexity;
        self.syntax = syntax;
        self
    }

    /// Splits the command over shards with this merge rule.
    pub const fn split(mut self, merge: Merge) -> Self {
        self.merge = Some(merge);
        self
    }

    /// Keys follow a count at position `at` (`LMPOP numkeys key...`) instead of fixed positions.
    pub const fn numkeys(mut self, at: i32) -> Self {
        self.numkeys_at = at;
        self.flags |= flags::MOVABLEKEYS;
        self
    }

    /// Adds key positions found by `f` reading the arguments.
    pub const fn keys_fn(mut self, f: KeysFn) -> Self {
        self.keys_fn = Some(f);
        self.flags |= flags::MOVABLEKEYS;
        self
    }

    /// Gives a container command its subcommands.
    pub const fn subs(mut self, subs: &'static [CommandSpec]) -> Self {
        self.subcommands = subs;
        self
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let a = i64::from(self.arity);
        if a >= 0 {
            argc == a
        } else {
            argc >= -a
        }
    }

    /// Whether the command writes.
    pub fn is_write(&self) -> bool {
        self.flags & flags::WRITE != 0
    }

    /// Whether the command is allowed before authentication.
    pub fn no_auth(&self) -> bool {
        self.flags & flags::NO_AUTH != 0
    }

    /// Argument positions holding keys in `args` (the command name included): the fixed
    /// positions, then the keys counted by a numkeys argument.
    #[inline]
    pub fn key_positions(&self, args: &[Bytes]) -> impl Iterator<Item = usize> {
        let argc = args.len() as i64;
        let first = i64::from(self.first_key);
        let last = if self.last_key < 0 { argc + i64::from(self.last_key) } else { i64::from(self.last_key) };
        let fixed = if first <= 0 { (1, 0) } else { (first, last.min(argc - 1)) };
        let counted = if self.numkeys_at > 0 {
            let at = i64::from(self.numkeys_at);
            let n = args.get(at as usize).and_then(|a| crate::num::parse_i64(a)).unwrap_or(0);
            // As Redis's key extraction: no keys unless numkeys is a count that fits.
            if n < 1 || n > argc - at - 1 {
                (1, 0)
            } else {
                (at + 1, at + n)
            }
        } else {
            (1, 0)
        };
        let found = self.keys_fn.map(|f| f(args)).unwrap_or_default();
        (fixed.0..=fixed.1).step_by(self.step.max(1) as usize).chain(counted.0..=counted.1).map(|i| i as usize).chain(found)
    }

    /// Whether the command reads or writes the whole keyspace rather than named keys
    /// (KEYS, SCAN, DBSIZE, FLUSHALL, SWAPDB...): atomic work takes every shard whole for it.
    pub fn whole_keyspace(&self) -> bool {
        self.first_key == 0
            && self.numkeys_at == 0
            && self.flags & (flags::READONLY | flags::WRITE) != 0
            && matches!(self.route, Route::Coordinator(_))
    }

    /// The name without the container prefix (`list` for `client|list`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }
}

/// A key's value as the type a command works on: `None` when the key is missing, WRONGTYPE
/// when it holds another type. `as_t` is one of [`Value`]'s typed accessors.
pub fn typed<T>(entry: Option<&mut Entry>, as_t: fn(&mut Value) -> Option<&mut T>) -> Result<Option<&mut T>, CmdError> {
    match entry {
        None => Ok(None),
        Some(e) => as_t(&mut e.value).map(Some).ok_or(CmdError::WrongType),
    }
}

/// All top-level commands, in the order the families declare them.
pub static TABLE: LazyLock<Vec<&'static CommandSpec>> = LazyLock::new(|| {
    strings::COMMANDS
        .iter()
        .chain(bits::COMMANDS)
        .chain(lists::COMMANDS)
        .chain(hashes::COMMANDS)
        .chain(sets::COMMANDS)
        .chain(zsets::COMMANDS)
        .chain(geo::COMMANDS)
        .chain(sort::COMMANDS)
        .chain(pubsub::COMMANDS)
        .chain(transactions::COMMANDS)
        .chain(scripting::COMMANDS)
        .chain(keyspace::COMMANDS)
        .chain(dump::COMMANDS)
        .chain(migrate::COMMANDS)
        .chain(server::COMMANDS)
        .chain(info::COMMANDS)
        .chain(memory::COMMANDS)
        .chain(introspection::COMMANDS)
        .chain(debug::COMMANDS)
        .chain(slowlog::COMMANDS)
        .chain(latency::COMMANDS)
        .chain(persistence::COMMANDS)
        .collect()
});

static BY_NAME: LazyLock<ahash::AHashMap<&'static [u8], &'static CommandSpec>> =
    LazyLock::new(|| TABLE.iter().map(|c| (c.name.as_bytes(), *c)).collect());

/// The top-level command named `name` (any case).
pub fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    BY_NAME.get(&*lower).copied()
}

/// Resolves a request to its command or subcommand, with Redis's errors for unknown ones.
pub fn lookup(args: &[Bytes]) -> Result<&'static CommandSpec, CmdError> {
    let name = &args[0];
    let Some(spec) = find(name) else {
        return Err(CmdError::unknown_command(args));
    };
    if spec.subcommands.is_empty() || args.len() < 2 {
        return Ok(spec);
    }
    spec.subcommands
        .iter()
        .find(|s| s.short_name().as_bytes().eq_ignore_ascii_case(&args[1]))
        .ok_or_else(|| CmdError::UnknownSubcommand { sub: args::printable(&args[1], 128), cmd: spec.name.to_ascii_uppercase() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_reachable_and_sane() {
        let mut seen = std::collections::HashSet::new();
        for c in TABLE.iter() {
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert_eq!(find(c.name.to_uppercase().as_bytes()).map(|s| s.name), Some(c.name));
            assert!(!c.summary.is_empty(), "{} lacks a summary", c.name);
            assert!(c.arity != 0);
            if matches!(c.route, Route::Parent) {
                assert!(!c.subcommands.is_empty(), "{}", c.name);
            }
            for s in c.subcommands {
                assert!(s.name.starts_with(&format!("{}|", c.name)), "{}", s.name);
                assert!(!s.summary.is_empty(), "{} lacks a summary", s.name);
            }
        }
    }

    #[test]
    fn readme_lists_every_command_and_subcommand() {
        let readme = include_str!("../../README.md");
        let start = readme.find("### Commands").expect("README has a Commands section");
        let end = readme[start..].find("### Deliberate").map_or(readme.len(), |e| start + e);
        let words: std::collections::HashSet<&str> =
            readme[start..end].split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-').filter(|w| !w.is_empty()).collect();
        for c in TABLE.iter() {
            assert!(words.contains(c.name.to_uppercase().as_str()), "README does not list {}", c.name);
            for s in c.subcommands {
                assert!(words.contains(s.short_name().to_uppercase().as_str()), "README does not list {}", s.name);
            }
        }
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let args = |s: &str| s.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect::<Vec<_>>();
        let keys = |cmd: &str| find(cmd.split(' ').next().unwrap().as_bytes()).unwrap().key_positions(&args(cmd)).collect::<Vec<_>>();
        assert_eq!(keys("mset a 1 b 2"), vec![1, 3]);
        assert_eq!(keys("GET a"), vec![1]);
        assert_eq!(keys("ping x"), Vec::<usize>::new());
        assert_eq!(keys("lmpop 2 a b LEFT COUNT 3"), vec![2, 3]);
        assert_eq!(keys("zunionstore dst 2 a b WEIGHTS 1 2"), vec![1, 3, 4]);
        assert_eq!(keys("zunionstore dst 3 a b"), vec![1]);
        for bad in ["lmpop 0 a LEFT", "lmpop 3 a LEFT", "lmpop x a LEFT", "lmpop -1 a LEFT"] {
            assert_eq!(keys(bad), Vec::<usize>::new(), "{bad}");
        }
    }
}
