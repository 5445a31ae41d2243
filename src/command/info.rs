//! INFO: every section of Redis 7.0 with its field names (server, clients, memory,
//! persistence, stats, replication, cpu, modules, commandstats, errorstats, latencystats,
//! cluster, keyspace) and shardis's own `# Shards`. Fields shardis has no equivalent for yet
//! carry Redis's neutral value (`role:master`, `aof_enabled:0`...).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::error::CmdResult;
use super::flags::{LOADING, STALE};
use super::server::REDIS_VERSION;
use super::{CommandSpec, Route};
use crate::config::P;
use crate::protocol::Reply;
use crate::shard::stats::CallStats;
use crate::shard::{call_all, Session, Shared};
use crate::store::now_ms;

/// The INFO command.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("info", -1, LOADING | STALE, (0, 0, 0), "server", Route::Coordinator(info)).doc(
    "Returns information and statistics about the server.",
    "1.0.0",
    "O(1)",
    "[section...]",
)];

/// The sections INFO gives with no argument (and `default`).
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
    "shards",
];

/// What INFO needs from one shard.
struct ShardInfo {
    keys: Vec<(usize, usize)>,
    hits: u64,
    misses: u64,
    expired: u64,
    evicted: u64,
    /// Changes to keys (Redis's `dirty`).
    changes: u64,
    /// Bytes of entries the last snapshot begun copied because they changed during it.
    snapshot_copies: u64,
    counters: Vec<(&'static str, CallStats)>,
    errors: Vec<(String, u64)>,
    /// Per-command latencies, when latencystats is asked for.
    latency: Vec<crate::shard::stats::Latencies>,
    remote_jobs: u64,
    blocking_keys: u64,
    lua_memory: u64,
    net_in: u64,
    net_out: u64,
    reads: u64,
    writes: u64,
    mailbox: usize,
    thread_memory: i64,
    cpu: (f64, f64),
}

/// Which sections a request names.
struct Wanted {
    all: bool,
    names: Vec<String>,
}

impl Wanted {
    fn new(args: &[Bytes]) -> Self {
        let mut names = Vec::new();
        let mut all = false;
        if args.is_empty() {
            names.extend(DEFAULT.iter().map(|s| s.to_string()));
        }
        for a in args {
            let a = String::from_utf8_lossy(a).to_ascii_lowercase();
            match a.as_str() {
                "all" | "everything" => all = true,
                "default" => names.extend(DEFAULT.iter().map(|s| s.to_string())),
                _ => names.push(a),
            }
        }
        Wanted { all, names }
    }

    fn has(&self, section: &str) -> bool {
        self.all || self.names.iter().any(|n| n == section)
    }
}

fn info(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let want = Wanted::new(&a[1..]);
        let dbs = s.local.shared.config.databases();
        let with_latency = want.has("latencystats");
        let per_shard = call_all(&s.local, move |sh| {
            // Counts as Redis reports them: keys whose time passed count until the expiry
            // task (or an access) reclaims them, which makes reclamation observable.
            let mut st = sh.store.borrow_mut();
            let keys = (0..dbs).map(|d| (st.db(d).len(), st.db(d).volatile())).collect();
            let (mut hits, mut misses, mut expired, mut evicted) = (0, 0, 0, 0);
            let (changes, snapshot_copies) = (st.changes(), st.snapshot_copied_bytes() as u64);
            for d in st.dbs() {
                hits += d.stats.hits;
                misses += d.stats.misses;
                expired += d.stats.expired;
                evicted += d.stats.evicted;
            }
            let stats = sh.stats.borrow();
            let net = sh.net.get();
            ShardInfo {
                keys,
                hits,
                misses,
                expired,
                evicted,
                changes,
                snapshot_copies,
                counters: stats.counters(),
                errors: stats.errors(),
                latency: if with_latency { stats.latencies() } else { Vec::new() },
                remote_jobs: sh.remote_jobs.get(),
                blocking_keys: sh.blocking_keys() as u64,
                lua_memory: sh.scripting.used_memory() as u64,
                net_in: net.input,
                net_out: net.output,
                reads: net.reads,
                writes: net.writes,
                mailbox: sh.shared.mailboxes[sh.id].len(),
                thread_memory: crate::alloc::thread_memory(),
                cpu: rusage(libc::RUSAGE_THREAD),
            }
        })
        .await;
        Ok(Reply::Verbatim(Bytes::from(render(&s.local.shared, &want, &per_shard, s.local.id))))
    })
}

fn render(shared: &Shared, want: &Wanted, per_shard: &[ShardInfo], this_shard: usize) -> String {
    let cfg = &shared.config;
    let now = now_ms();
    let mut out = String::new();
    let mut section = |name: &str, body: String| {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {name}\r\n{body}");
    };
    let sum = |f: fn(&ShardInfo) -> u64| per_shard.iter().map(f).sum::<u64>();
    let total_cmds: u64 = per_shard.iter().flat_map(|p| p.counters.iter().map(|c| c.1.calls)).sum();
    let total_errors: u64 = per_shard.iter().flat_map(|p| p.errors.iter().map(|e| e.1)).sum();
    if want.has("server") {
        let uptime = now.saturating_sub(shared.started_ms) / 1000;
        let (sysname, release, machine) = uname();
        section(
            "Server",
            format!(
                "redis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{sysname} {release} {machine}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:io_uring\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{hz}\r\nconfigured_hz:{hz}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nshardis_version:{}\r\nshards:{}\r\n",
                std::process::id(),
                shared.run_id,
                shared.tcp_port.load(Relaxed),
                now * 1000,
                uptime / 86400,
                crate::store::lru_clock(now),
                std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
                cfg.config_file.read().expect("config lock"),
                env!("CARGO_PKG_VERSION"),
                shared.shards(),
                hz = cfg.num(P::Hz),
            ),
        );
    }
    if want.has("clients") {
        section(
            "Clients",
            format!(
                "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\nblocking_keys:{}\r\n",
                shared.clients.len(),
                cfg.num(P::Maxclients),
                shared.blocked_clients.load(Relaxed),
                shared.stats.tracking_clients.load(Relaxed),
                shared.blocked_clients.load(Relaxed),
                sum(|p| p.blocking_keys),
            ),
        );
    }
    if want.has("memory") {
        let rss = rss_bytes();
        // Bytes allocated (the counting allocator); the resident size when it is not
        // installed (an embedding program's own allocator).
        let used = Some(crate::alloc::used_memory()).filter(|&u| u > 0).unwrap_or(rss);
        let peak = crate::alloc::peak_memory().max(used);
        let startup = shared.startup_memory.load(Relaxed);
        let maxmem = cfg.num(P::Maxmemory) as u64;
        let system = total_system_memory();
        let dataset = used.saturating_sub(startup);
        section(
            "Memory",
            format!(
                "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{startup}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{used}\r\nallocator_active:{rss}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{system}\r\ntotal_system_memory_human:{}\r\n",
                human(used),
                human(rss),
                human(peak),
                used as f64 * 100.0 / peak.max(1) as f64,
                dataset as f64 * 100.0 / used.max(1) as f64,
                human(system),
            ) + &scripts_memory(shared, per_shard.iter().map(|p| p.lua_memory).sum())
                + &format!(
                    "maxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:{}\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
                    human(maxmem),
                    cfg.policy_name(),
                    rss as f64 / used.max(1) as f64,
                    rss as i64 - used as i64,
                    crate::alloc::ALLOCATOR,
                ),
        );
    }
    if want.has("persistence") {
        let save = &shared.save;
        let in_progress = save.in_progress.load(Relaxed);
        let (keys_done, keys_total) = (save.keys_done.load(Relaxed), save.keys_total.load(Relaxed));
        let loaded = *save.loaded.lock().expect("load stats lock");
        // Entries copied because they changed during the walk: like a fork's copied pages,
        // they only grow while the snapshot runs, so the peak is the current size.
        let copies = per_shard.iter().map(|p| p.snapshot_copies).sum::<u64>();
        // The snapshot slot is shared with AOF rewrites, which are not BGSAVEs.
        let in_progress = in_progress && !shared.aof.rewrite_in_progress.load(Relaxed);
        let mut aof_fields = String::new();
        shared.aof.info_fields(&mut aof_fields);
        section(
            "Persistence",
            format!(
                "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:{}\r\ncurrent_cow_size:{}\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:{:.2}\r\ncurrent_save_keys_processed:{}\r\ncurrent_save_keys_total:{}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:{}\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n{}",
                u8::from(save.loading.load(Relaxed)),
                if in_progress { copies } else { 0 },
                if in_progress { copies } else { 0 },
                if in_progress { 100.0 * keys_done as f64 / keys_total.max(1) as f64 } else { 0.0 },
                if in_progress { keys_done } else { 0 },
                if in_progress { keys_total } else { 0 },
                per_shard.iter().map(|p| p.changes).sum::<u64>().saturating_sub(save.changes_at_save.load(Relaxed)),
                u8::from(in_progress),
                save.last_save(),
                if save.last_failed.load(Relaxed) { "err" } else { "ok" },
                save.last_secs.load(Relaxed),
                match save.started_ms.load(Relaxed) {
                    0 => -1,
                    t => (crate::store::now_ms().saturating_sub(t) / 1000) as i64,
                },
                save.saves.load(Relaxed),
                save.last_copies.load(Relaxed),
                loaded.1,
                loaded.0,
                aof_fields,
            ),
        );
    }
    if want.has("stats") {
        section(
            "Stats",
            format!(
                "total_connections_received:{}\r\ntotal_commands_processed:{total_cmds}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:{}\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\nunexpected_error_replies:0\r\ntotal_error_replies:{total_errors}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\ncross_shard_commands:{}\r\n",
                shared.stats.connections_received.load(Relaxed),
                shared.ops_rate(total_cmds, now),
                sum(|p| p.net_in),
                sum(|p| p.net_out),
                shared.stats.rejected_connections.load(Relaxed),
                sum(|p| p.expired),
                sum(|p| p.evicted),
                sum(|p| p.hits),
                sum(|p| p.misses),
                shared.pubsub.len(crate::pubsub::Kind::Channel),
                shared.pubsub.len(crate::pubsub::Kind::Pattern),
                shared.pubsub.len(crate::pubsub::Kind::Shard),
                shared.stats.migrate_cached_sockets.load(Relaxed),
                shared.stats.tracking_keys.load(Relaxed),
                shared.stats.tracking_items.load(Relaxed),
                shared.stats.tracking_prefixes.load(Relaxed),
                sum(|p| p.reads),
                sum(|p| p.writes),
                sum(|p| p.remote_jobs),
            ),
        );
    }
    if want.has("replication") {
        section(
            "Replication",
            format!(
                "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                shared.run_id,
                cfg.num(P::ReplBacklogSize)
            ),
        );
    }
    if want.has("cpu") {
        let (sys, user) = rusage(libc::RUSAGE_SELF);
        let (msys, muser) = per_shard.get(this_shard).map_or((0.0, 0.0), |p| p.cpu);
        section(
            "CPU",
            format!("used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{msys:.6}\r\nused_cpu_user_main_thread:{muser:.6}\r\n"),
        );
    }
    if want.has("modules") || want.has("module_list") {
        section("Modules", String::new());
    }
    if want.has("commandstats") {
        let mut merged: std::collections::BTreeMap<&str, CallStats> = Default::default();
        for p in per_shard {
            for (name, c) in &p.counters {
                let m = merged.entry(name).or_default();
                m.calls += c.calls;
                m.nanos += c.nanos;
                m.failed += c.failed;
                m.rejected += c.rejected;
            }
        }
        let mut body = String::new();
        for (name, c) in merged {
            let per = if c.calls > 0 { c.nanos as f64 / 1000.0 / c.calls as f64 } else { 0.0 };
            let _ = write!(
                body,
                "cmdstat_{name}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                c.calls,
                c.nanos / 1000,
                c.rejected,
                c.failed
            );
        }
        section("Commandstats", body);
    }
    if want.has("errorstats") {
        let mut merged: std::collections::BTreeMap<&str, u64> = Default::default();
        for p in per_shard {
            for (code, n) in &p.errors {
                *merged.entry(code).or_default() += n;
            }
        }
        let body: String = merged.iter().map(|(code, n)| format!("errorstat_{code}:count={n}\r\n")).collect();
        section("Errorstats", body);
    }
    if want.has("latencystats") {
        let mut body = String::new();
        if cfg.flag(P::LatencyTracking) {
            let percentiles = cfg.percentiles();
            let parts = per_shard.iter().map(|p| p.latency.clone()).collect();
            for (name, h) in crate::shard::stats::merge_latencies(parts) {
                let parts: Vec<String> = percentiles
                    .iter()
                    .map(|p| format!("p{}={:.3}", crate::num::format_f64_short(*p), h.value_at_quantile(p / 100.0) as f64 / 1000.0))
                    .collect();
                let _ = write!(body, "latency_percentiles_usec_{name}:{}\r\n", parts.join(","));
            }
        }
        section("Latencystats", body);
    }
    if want.has("cluster") {
        section("Cluster", "cluster_enabled:0\r\n".into());
    }
    if want.has("keyspace") {
        let mut body = String::new();
        for d in 0..per_shard.first().map_or(0, |p| p.keys.len()) {
            let (k, e) = per_shard.iter().fold((0, 0), |acc, p| (acc.0 + p.keys[d].0, acc.1 + p.keys[d].1));
            if k > 0 {
                let _ = write!(body, "db{d}:keys={k},expires={e},avg_ttl=0\r\n");
            }
        }
        section("Keyspace", body);
    }
    if want.has("shards") {
        let mut body = String::new();
        for (i, p) in per_shard.iter().enumerate() {
            let keys: usize = p.keys.iter().map(|k| k.0).sum();
            let ops: u64 = p.counters.iter().map(|c| c.1.calls).sum();
            let _ = write!(
                body,
                "shard{i}:keys={keys},ops={ops},mailbox_depth={},remote_jobs={},thread_allocated_bytes={},blocking_keys={}\r\n",
                p.mailbox, p.remote_jobs, p.thread_memory, p.blocking_keys
            );
        }
        section("Shards", body);
    }
    out
}

/// INFO memory's script fields: the interpreters' memory (summed over shards), the script
/// cache and the function libraries.
fn scripts_memory(shared: &Shared, lua: u64) -> String {
    let (cached, script_bytes) = shared.scripts.scripts_usage();
    let libs = shared.scripts.libraries.read().expect("libraries lock");
    let (nlibs, nfuncs) = (libs.libs.len(), libs.functions.len());
    let lib_bytes: u64 = libs.libs.values().map(|l| l.code.code.len() as u64).sum();
    format!(
        "used_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{script_bytes}\r\nnumber_of_cached_scripts:{cached}\r\nnumber_of_functions:{nfuncs}\r\nnumber_of_libraries:{nlibs}\r\nused_memory_vm_functions:0\r\nused_memory_vm_total:{lua}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{lib_bytes}\r\nused_memory_scripts:{}\r\nused_memory_scripts_human:{}\r\n",
        human(lua),
        human(lua),
        script_bytes + lib_bytes,
        human(script_bytes + lib_bytes),
    )
}

/// (system, user) CPU seconds of the process (`RUSAGE_SELF`) or the calling thread.
fn rusage(who: i32) -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we pass.
    unsafe { libc::getrusage(who, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

/// (system name, release, machine) from uname(2).
fn uname() -> (String, String, String) {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we pass.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (std::env::consts::OS.into(), String::new(), std::env::consts::ARCH.into());
    }
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (s(&u.sysname), s(&u.release), s(&u.machine))
}

/// The machine's memory in bytes, from /proc/meminfo.
fn total_system_memory() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Resident set size in bytes, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Bytes as Redis's `*_human` fields show them (`1.50M`).
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", b / 1024.0 / 1024.0 / 1024.0)
    }
}
