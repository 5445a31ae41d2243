//! The parameter table: every configuration parameter shardis knows, with Redis 7.0's name,
//! alias, flags, type, range and default. CONFIG GET/SET, the config file, the command line
//! and CONFIG REWRITE all read this one table.

use super::special;
use super::{Kind, NumFmt, Spec};

/// Can only be set at start-up.
pub const IMMUTABLE: u8 = 1;
/// Takes several words (`save 900 1 300 10`); CONFIG SET splits its value on spaces.
pub const MULTI_ARG: u8 = 2;
/// Its value is a secret (not shown by MONITOR or SLOWLOG).
pub const SENSITIVE: u8 = 4;
/// Settable only when `enable-protected-configs` allows the client.
pub const PROTECTED: u8 = 8;
/// Matched by CONFIG GET only by its exact name, never by a pattern.
pub const HIDDEN: u8 = 16;
/// shardis's own (not Redis's): an immutable one may be "set" to the value it has, so that
/// tools which CONFIG SET back every CONFIG GET value do not fail on it.
pub const OWN: u8 = 32;
/// Refused by CONFIG SET while the data set loads (`LOADING`), as Redis's
/// `DENY_LOADING_CONFIG`.
pub const DENY_LOADING: u8 = 64;

/// Redis's INT_MAX.
const INT_MAX: i64 = i32::MAX as i64;
/// Redis's INT_MIN.
const INT_MIN: i64 = i32::MIN as i64;
/// Redis's LONG_MAX (and LLONG_MAX, SSIZE_MAX on 64-bit Linux).
const LONG_MAX: i64 = i64::MAX;
/// Redis's UINT_MAX.
const UINT_MAX: i64 = u32::MAX as i64;

const fn boolean(def: bool) -> Kind {
    Kind::Bool { def }
}
const fn int(min: i64, max: i64, def: i64) -> Kind {
    Kind::Num { min, max, def, fmt: NumFmt::Int }
}
const fn mem(min: i64, max: i64, def: i64) -> Kind {
    Kind::Num { min, max, def, fmt: NumFmt::Memory }
}
const fn text(def: &'static str) -> Kind {
    Kind::Text { def }
}
const fn choice(names: &'static [(&'static str, i64)], def: i64) -> Kind {
    Kind::Enum { names, def }
}

const LOGLEVELS: &[(&str, i64)] = &[("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)];
/// `maxmemory-policy` names; the value is the index into [`super::POLICIES`].
const POLICY_NAMES: &[(&str, i64)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
const SUPERVISED: &[(&str, i64)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
const SYSLOG_FACILITY: &[(&str, i64)] = &[
    ("user", 8),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];
const FSYNC: &[(&str, i64)] = &[("everysec", 1), ("always", 2), ("no", 0)];
const DISKLESS_LOAD: &[(&str, i64)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const OOM_ADJ: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const PUBSUB_DEFAULT: &[(&str, i64)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("clients", 2)];
/// `enable-protected-configs`, `enable-debug-command`, `enable-module-command`.
pub const PROTECTED_ACTION: &[(&str, i64)] = &[("no", 0), ("yes", 1), ("local", 2)];
const PROPAGATION_ERR: &[(&str, i64)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];
/// `shutdown-on-sigint` / `shutdown-on-sigterm` flags (a set of them, 0 = `default`).
pub const SHUTDOWN_FLAGS: &[(&str, i64)] = &[("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8)];

macro_rules! params {
    ($( $(#[$doc:meta])* $id:ident = $name:literal $(| $alias:literal)?, $flags:expr, $kind:expr; )*) => {
        /// A parameter of [`SPECS`], by position.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum P {
            $( $(#[$doc])* $id, )*
        }

        /// Every parameter, in the order CONFIG REWRITE appends them.
        pub static SPECS: &[Spec] = &[
            $( Spec { name: $name, alias: params!(@alias $($alias)?), flags: $flags, kind: $kind }, )*
        ];
    };
    (@alias) => { None };
    (@alias $a:literal) => { Some($a) };
}

params! {
    // ---- Network and process ----
    /// `port`: TCP port (changing it at run time is refused).
    Port = "port", 0, Kind::Special(&special::PORT);
    /// `bind`: addresses to listen on.
    Bind = "bind", MULTI_ARG, Kind::Special(&special::BIND);
    /// `tcp-backlog`.
    TcpBacklog = "tcp-backlog", IMMUTABLE, int(0, INT_MAX, 511);
    /// `tcp-keepalive` (seconds).
    TcpKeepalive = "tcp-keepalive", 0, int(0, INT_MAX, 300);
    /// `protected-mode`.
    ProtectedMode = "protected-mode", 0, boolean(true);
    /// `timeout`: idle seconds before a client is closed (0 = never).
    Timeout = "timeout", 0, int(0, INT_MAX, 0);
    /// `unixsocket`: the path of a Unix-domain socket to listen on as well (empty: none).
    Unixsocket = "unixsocket", IMMUTABLE, text("");
    /// `unixsocketperm`.
    Unixsocketperm = "unixsocketperm", IMMUTABLE, Kind::Num { min: 0, max: 0o777, def: 0, fmt: NumFmt::Octal };
    /// `socket-mark-id`.
    SocketMarkId = "socket-mark-id", IMMUTABLE, int(0, UINT_MAX, 0);
    /// `bind-source-addr`.
    BindSourceAddr = "bind-source-addr", 0, text("");
    /// `daemonize` (only `no`: run shardis under a supervisor).
    Daemonize = "daemonize", IMMUTABLE, Kind::Special(&special::DAEMONIZE);
    /// `supervised`.
    Supervised = "supervised", IMMUTABLE, choice(SUPERVISED, 0);
    /// `pidfile`: written at start, removed at exit.
    Pidfile = "pidfile", IMMUTABLE, text("");
    /// `loglevel`.
    Loglevel = "loglevel", 0, choice(LOGLEVELS, 2);
    /// `logfile` (empty: standard output).
    Logfile = "logfile", IMMUTABLE, text("");
    /// `syslog-enabled`.
    SyslogEnabled = "syslog-enabled", IMMUTABLE, boolean(false);
    /// `syslog-ident`.
    SyslogIdent = "syslog-ident", IMMUTABLE, text("redis");
    /// `syslog-facility`.
    SyslogFacility = "syslog-facility", IMMUTABLE, choice(SYSLOG_FACILITY, 128);
    /// `crash-log-enabled`.
    CrashLogEnabled = "crash-log-enabled", 0, boolean(true);
    /// `crash-memcheck-enabled`.
    CrashMemcheckEnabled = "crash-memcheck-enabled", 0, boolean(true);
    /// `databases`.
    Databases = "databases", IMMUTABLE, int(1, INT_MAX, 16);
    /// `always-show-logo`.
    AlwaysShowLogo = "always-show-logo", IMMUTABLE, boolean(false);
    /// `set-proc-title`.
    SetProcTitle = "set-proc-title", IMMUTABLE, boolean(true);
    /// `proc-title-template`.
    ProcTitleTemplate = "proc-title-template", 0, text("{title} {listen-addr} {server-mode}");
    /// `enable-protected-configs`.
    EnableProtectedConfigs = "enable-protected-configs", IMMUTABLE, choice(PROTECTED_ACTION, 0);
    /// `enable-debug-command` (shardis's default is `local`).
    EnableDebugCommand = "enable-debug-command", IMMUTABLE, choice(PROTECTED_ACTION, 2);
    /// `enable-module-command` (modules are not supported).
    EnableModuleCommand = "enable-module-command", IMMUTABLE, choice(PROTECTED_ACTION, 0);
    /// `io-threads` (shardis's threads are its shards: see `threads`).
    IoThreads = "io-threads", IMMUTABLE, int(1, 128, 1);
    /// `io-threads-do-reads`.
    IoThreadsDoReads = "io-threads-do-reads", IMMUTABLE, boolean(false);
    /// `server_cpulist`.
    ServerCpulist = "server_cpulist", IMMUTABLE, text("");
    /// `bio_cpulist`.
    BioCpulist = "bio_cpulist", IMMUTABLE, text("");
    /// `aof_rewrite_cpulist`.
    AofRewriteCpulist = "aof_rewrite_cpulist", IMMUTABLE, text("");
    /// `bgsave_cpulist`.
    BgsaveCpulist = "bgsave_cpulist", IMMUTABLE, text("");
    /// `ignore-warnings`.
    IgnoreWarnings = "ignore-warnings", 0, text("");
    /// `disable-thp`.
    DisableThp = "disable-thp", IMMUTABLE, boolean(true);
    /// `oom-score-adj`.
    OomScoreAdj = "oom-score-adj", 0, choice(OOM_ADJ, 0);
    /// `oom-score-adj-values`.
    OomScoreAdjValues = "oom-score-adj-values", MULTI_ARG, Kind::Special(&special::OOM_VALUES);
    /// `shutdown-timeout`.
    ShutdownTimeout = "shutdown-timeout", 0, int(0, INT_MAX, 10);
    /// `shutdown-on-sigint`.
    ShutdownOnSigint = "shutdown-on-sigint", MULTI_ARG, Kind::Flags { names: SHUTDOWN_FLAGS, def: 0 };
    /// `shutdown-on-sigterm`.
    ShutdownOnSigterm = "shutdown-on-sigterm", MULTI_ARG, Kind::Flags { names: SHUTDOWN_FLAGS, def: 0 };
    /// `hz`: background task frequency (kept between 1 and 500).
    Hz = "hz", 0, Kind::Special(&special::HZ);
    /// `dynamic-hz`.
    DynamicHz = "dynamic-hz", 0, boolean(true);
    /// `activerehashing`.
    Activerehashing = "activerehashing", 0, boolean(true);
    /// `jemalloc-bg-thread`.
    JemallocBgThread = "jemalloc-bg-thread", 0, boolean(true);
    /// `watchdog-period`.
    WatchdogPeriod = "watchdog-period", HIDDEN, int(0, INT_MAX, 0);
    /// `use-exit-on-panic`.
    UseExitOnPanic = "use-exit-on-panic", HIDDEN, boolean(false);
    /// `propagation-error-behavior`.
    PropagationErrorBehavior = "propagation-error-behavior", 0, choice(PROPAGATION_ERR, 0);

    // ---- Clients and security ----
    /// `requirepass`: the default user's password (empty: none).
    Requirepass = "requirepass", SENSITIVE, Kind::Special(&special::REQUIREPASS);
    /// `maxclients`.
    Maxclients = "maxclients", 0, int(1, UINT_MAX, 10000);
    /// `client-query-buffer-limit`.
    ClientQueryBufferLimit = "client-query-buffer-limit", 0, mem(1024 * 1024, LONG_MAX, 1024 * 1024 * 1024);
    /// `client-output-buffer-limit`.
    ClientOutputBufferLimit = "client-output-buffer-limit", MULTI_ARG, Kind::Special(&special::OUTPUT_LIMITS);
    /// `proto-max-bulk-len`.
    ProtoMaxBulkLen = "proto-max-bulk-len", 0, mem(1024 * 1024, LONG_MAX, 512 * 1024 * 1024);
    /// `maxmemory-clients` (a size, or a percentage of maxmemory).
    MaxmemoryClients = "maxmemory-clients", 0, Kind::Num { min: -100, max: LONG_MAX, def: 0, fmt: NumFmt::MemoryPercent };
    /// `aclfile`.
    Aclfile = "aclfile", IMMUTABLE, text("");
    /// `acllog-max-len`.
    AcllogMaxLen = "acllog-max-len", 0, int(0, LONG_MAX, 128);
    /// `acl-pubsub-default`.
    AclPubsubDefault = "acl-pubsub-default", 0, choice(PUBSUB_DEFAULT, 0);
    /// `tracking-table-max-keys`: keys remembered for client-side caching.
    TrackingTableMaxKeys = "tracking-table-max-keys", 0, int(0, LONG_MAX, 1_000_000);

    // ---- Memory and eviction ----
    /// `maxmemory`.
    Maxmemory = "maxmemory", 0, mem(0, LONG_MAX, 0);
    /// `maxmemory-policy`.
    MaxmemoryPolicy = "maxmemory-policy", 0, choice(POLICY_NAMES, 7);
    /// `maxmemory-samples`.
    MaxmemorySamples = "maxmemory-samples", 0, int(1, INT_MAX, 5);
    /// `maxmemory-eviction-tenacity`.
    MaxmemoryEvictionTenacity = "maxmemory-eviction-tenacity", 0, int(0, 100, 10);
    /// `lfu-log-factor`.
    LfuLogFactor = "lfu-log-factor", 0, int(0, INT_MAX, 10);
    /// `lfu-decay-time` (minutes).
    LfuDecayTime = "lfu-decay-time", 0, int(0, INT_MAX, 1);
    /// `lazyfree-lazy-eviction`.
    LazyfreeLazyEviction = "lazyfree-lazy-eviction", 0, boolean(false);
    /// `lazyfree-lazy-expire`.
    LazyfreeLazyExpire = "lazyfree-lazy-expire", 0, boolean(false);
    /// `lazyfree-lazy-server-del`.
    LazyfreeLazyServerDel = "lazyfree-lazy-server-del", 0, boolean(false);
    /// `lazyfree-lazy-user-del`.
    LazyfreeLazyUserDel = "lazyfree-lazy-user-del", 0, boolean(false);
    /// `lazyfree-lazy-user-flush`.
    LazyfreeLazyUserFlush = "lazyfree-lazy-user-flush", 0, boolean(false);
    /// `active-expire-effort`.
    ActiveExpireEffort = "active-expire-effort", 0, int(1, 10, 1);
    /// `activedefrag`.
    Activedefrag = "activedefrag", 0, boolean(false);
    /// `active-defrag-ignore-bytes`.
    ActiveDefragIgnoreBytes = "active-defrag-ignore-bytes", 0, mem(1, LONG_MAX, 100 << 20);
    /// `active-defrag-threshold-lower`.
    ActiveDefragThresholdLower = "active-defrag-threshold-lower", 0, int(0, 1000, 10);
    /// `active-defrag-threshold-upper`.
    ActiveDefragThresholdUpper = "active-defrag-threshold-upper", 0, int(0, 1000, 100);
    /// `active-defrag-cycle-min`.
    ActiveDefragCycleMin = "active-defrag-cycle-min", 0, int(1, 99, 1);
    /// `active-defrag-cycle-max`.
    ActiveDefragCycleMax = "active-defrag-cycle-max", 0, int(1, 99, 25);
    /// `active-defrag-max-scan-fields`.
    ActiveDefragMaxScanFields = "active-defrag-max-scan-fields", 0, int(1, LONG_MAX, 1000);

    // ---- Encodings ----
    /// `hash-max-listpack-entries`.
    HashMaxListpackEntries = "hash-max-listpack-entries" | "hash-max-ziplist-entries", 0, int(0, LONG_MAX, 512);
    /// `hash-max-listpack-value`.
    HashMaxListpackValue = "hash-max-listpack-value" | "hash-max-ziplist-value", 0, mem(0, LONG_MAX, 64);
    /// `list-max-listpack-size`: entries (positive) or bytes class (-1..-5) per list node.
    ListMaxListpackSize = "list-max-listpack-size" | "list-max-ziplist-size", 0, int(INT_MIN, INT_MAX, -2);
    /// `list-compress-depth`.
    ListCompressDepth = "list-compress-depth", 0, int(0, INT_MAX, 0);
    /// `set-max-intset-entries`.
    SetMaxIntsetEntries = "set-max-intset-entries", 0, int(0, LONG_MAX, 512);
    /// `zset-max-listpack-entries`.
    ZsetMaxListpackEntries = "zset-max-listpack-entries" | "zset-max-ziplist-entries", 0, int(0, LONG_MAX, 128);
    /// `zset-max-listpack-value`.
    ZsetMaxListpackValue = "zset-max-listpack-value" | "zset-max-ziplist-value", 0, mem(0, LONG_MAX, 64);
    /// `hll-sparse-max-bytes`.
    HllSparseMaxBytes = "hll-sparse-max-bytes", 0, mem(0, LONG_MAX, 3000);
    /// `stream-node-max-bytes`.
    StreamNodeMaxBytes = "stream-node-max-bytes", 0, mem(0, LONG_MAX, 4096);
    /// `stream-node-max-entries`.
    StreamNodeMaxEntries = "stream-node-max-entries", 0, int(0, LONG_MAX, 100);
    /// `sanitize-dump-payload`.
    SanitizeDumpPayload = "sanitize-dump-payload", 0, choice(SANITIZE, 0);

    // ---- Observability ----
    /// `notify-keyspace-events`.
    NotifyKeyspaceEvents = "notify-keyspace-events", 0, Kind::Special(&special::NOTIFY);
    /// `slowlog-log-slower-than` (µs; -1 disables, 0 logs every command).
    SlowlogLogSlowerThan = "slowlog-log-slower-than", 0, int(-1, LONG_MAX, 10000);
    /// `slowlog-max-len`.
    SlowlogMaxLen = "slowlog-max-len", 0, int(0, LONG_MAX, 128);
    /// `latency-monitor-threshold` (ms; 0 disables).
    LatencyMonitorThreshold = "latency-monitor-threshold", 0, int(0, LONG_MAX, 0);
    /// `latency-tracking`: per-command latency histograms.
    LatencyTracking = "latency-tracking", 0, boolean(true);
    /// `latency-tracking-info-percentiles`.
    LatencyTrackingInfoPercentiles = "latency-tracking-info-percentiles", MULTI_ARG, Kind::Special(&special::PERCENTILES);
    /// `busy-reply-threshold` (ms a script runs before -BUSY; 0: never).
    BusyReplyThreshold = "busy-reply-threshold" | "lua-time-limit", 0, int(0, LONG_MAX, 5000);

    // ---- Persistence (snapshots and the AOF arrive with persistence; the values are kept) ----
    /// `save`: snapshot schedule.
    Save = "save", MULTI_ARG, Kind::Special(&special::SAVE);
    /// `dir`: the working directory.
    Dir = "dir", PROTECTED | DENY_LOADING, Kind::Special(&special::DIR);
    /// `dbfilename`.
    Dbfilename = "dbfilename", PROTECTED, Kind::Special(&special::DBFILENAME);
    /// `rdbcompression`.
    Rdbcompression = "rdbcompression", 0, boolean(true);
    /// `rdbchecksum`.
    Rdbchecksum = "rdbchecksum", IMMUTABLE, boolean(true);
    /// `rdb-del-sync-files`.
    RdbDelSyncFiles = "rdb-del-sync-files", 0, boolean(false);
    /// `rdb-save-incremental-fsync`.
    RdbSaveIncrementalFsync = "rdb-save-incremental-fsync", 0, boolean(true);
    /// `rdb-key-save-delay`.
    RdbKeySaveDelay = "rdb-key-save-delay", HIDDEN, int(INT_MIN, INT_MAX, 0);
    /// `key-load-delay`.
    KeyLoadDelay = "key-load-delay", HIDDEN, int(INT_MIN, INT_MAX, 0);
    /// `loading-process-events-interval-bytes`.
    LoadingProcessEventsIntervalBytes = "loading-process-events-interval-bytes", HIDDEN, int(1024, INT_MAX, 2 * 1024 * 1024);
    /// `stop-writes-on-bgsave-error`.
    StopWritesOnBgsaveError = "stop-writes-on-bgsave-error", 0, boolean(true);
    /// `appendonly`.
    Appendonly = "appendonly", DENY_LOADING, boolean(false);
    /// `appendfilename`.
    Appendfilename = "appendfilename", IMMUTABLE, text("appendonly.aof");
    /// `appenddirname`.
    Appenddirname = "appenddirname", IMMUTABLE, text("appendonlydir");
    /// `appendfsync`.
    Appendfsync = "appendfsync", 0, choice(FSYNC, 1);
    /// `no-appendfsync-on-rewrite`.
    NoAppendfsyncOnRewrite = "no-appendfsync-on-rewrite", 0, boolean(false);
    /// `auto-aof-rewrite-percentage`.
    AutoAofRewritePercentage = "auto-aof-rewrite-percentage", 0, int(0, INT_MAX, 100);
    /// `auto-aof-rewrite-min-size`.
    AutoAofRewriteMinSize = "auto-aof-rewrite-min-size", 0, mem(0, LONG_MAX, 64 * 1024 * 1024);
    /// `aof-load-truncated`.
    AofLoadTruncated = "aof-load-truncated", 0, boolean(true);
    /// `aof-use-rdb-preamble`.
    AofUseRdbPreamble = "aof-use-rdb-preamble", 0, boolean(true);
    /// `aof-timestamp-enabled`.
    AofTimestampEnabled = "aof-timestamp-enabled", 0, boolean(false);
    /// `aof-rewrite-incremental-fsync`.
    AofRewriteIncrementalFsync = "aof-rewrite-incremental-fsync", 0, boolean(true);
    /// `aof-disable-auto-gc`.
    AofDisableAutoGc = "aof-disable-auto-gc", 0, boolean(false);

    // ---- Replication (a shardis server is always a master until replication exists) ----
    /// `replicaof`: only `no one` until replication exists.
    Replicaof = "replicaof" | "slaveof", IMMUTABLE | MULTI_ARG, Kind::Special(&special::REPLICAOF);
    /// `masterauth`.
    Masterauth = "masterauth", SENSITIVE, text("");
    /// `masteruser`.
    Masteruser = "masteruser", SENSITIVE, text("");
    /// `replica-serve-stale-data`.
    ReplicaServeStaleData = "replica-serve-stale-data" | "slave-serve-stale-data", 0, boolean(true);
    /// `replica-read-only`.
    ReplicaReadOnly = "replica-read-only" | "slave-read-only", 0, boolean(true);
    /// `replica-lazy-flush`.
    ReplicaLazyFlush = "replica-lazy-flush" | "slave-lazy-flush", 0, boolean(false);
    /// `replica-ignore-maxmemory`.
    ReplicaIgnoreMaxmemory = "replica-ignore-maxmemory" | "slave-ignore-maxmemory", 0, boolean(true);
    /// `replica-announced`.
    ReplicaAnnounced = "replica-announced", 0, boolean(true);
    /// `replica-priority`.
    ReplicaPriority = "replica-priority" | "slave-priority", 0, int(0, INT_MAX, 100);
    /// `replica-announce-ip`.
    ReplicaAnnounceIp = "replica-announce-ip" | "slave-announce-ip", 0, text("");
    /// `replica-announce-port`.
    ReplicaAnnouncePort = "replica-announce-port" | "slave-announce-port", 0, int(0, 65535, 0);
    /// `replica-ignore-disk-write-errors`.
    ReplicaIgnoreDiskWriteErrors = "replica-ignore-disk-write-errors", 0, boolean(false);
    /// `repl-diskless-sync`.
    ReplDisklessSync = "repl-diskless-sync", 0, boolean(true);
    /// `repl-diskless-sync-delay`.
    ReplDisklessSyncDelay = "repl-diskless-sync-delay", 0, int(0, INT_MAX, 5);
    /// `repl-diskless-sync-max-replicas`.
    ReplDisklessSyncMaxReplicas = "repl-diskless-sync-max-replicas", 0, int(0, INT_MAX, 0);
    /// `repl-diskless-load`.
    ReplDisklessLoad = "repl-diskless-load", DENY_LOADING, choice(DISKLESS_LOAD, 0);
    /// `repl-disable-tcp-nodelay`.
    ReplDisableTcpNodelay = "repl-disable-tcp-nodelay", 0, boolean(false);
    /// `repl-ping-replica-period`.
    ReplPingReplicaPeriod = "repl-ping-replica-period" | "repl-ping-slave-period", 0, int(1, INT_MAX, 10);
    /// `repl-timeout`.
    ReplTimeout = "repl-timeout", 0, int(1, INT_MAX, 60);
    /// `repl-backlog-size`.
    ReplBacklogSize = "repl-backlog-size", 0, mem(1, LONG_MAX, 1024 * 1024);
    /// `repl-backlog-ttl`.
    ReplBacklogTtl = "repl-backlog-ttl", 0, int(0, LONG_MAX, 3600);
    /// `min-replicas-to-write`.
    MinReplicasToWrite = "min-replicas-to-write" | "min-slaves-to-write", 0, int(0, INT_MAX, 0);
    /// `min-replicas-max-lag`.
    MinReplicasMaxLag = "min-replicas-max-lag" | "min-slaves-max-lag", 0, int(0, INT_MAX, 10);

    // ---- shardis's own ----
    /// `threads`: number of shards (0 = every CPU the process may use).
    Threads = "threads", IMMUTABLE | OWN, int(0, 1024, 0);
    /// `pin-cpus`: pin each shard to a CPU.
    PinCpus = "pin-cpus", IMMUTABLE | OWN, boolean(true);
    /// `spin-before-park-us`: how long a shard keeps watching its mailbox after its last
    /// message before it sleeps (0 sleeps at once; see README, "Embedding").
    SpinBeforeParkUs = "spin-before-park-us", IMMUTABLE | OWN, int(0, 10_000, 0);
    /// `busy-reply-scope`: `all` (Redis's behaviour) answers -BUSY to every command while a
    /// script is past `busy-reply-threshold`; `held` only to commands that need a key the
    /// script holds (and to keyless ones).
    BusyReplyScope = "busy-reply-scope", OWN, choice(&[("all", 0), ("held", 1)], 0);
    /// `metrics-port`: serve Prometheus metrics on this port (0: off).
    MetricsPort = "metrics-port", IMMUTABLE | OWN, int(0, 65535, 0);
}
