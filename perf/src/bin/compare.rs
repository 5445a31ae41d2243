//! `compare`: shardis (A) against Debian's redis-server (B), side by side on one machine.
//!
//! Each run starts a fresh server pinned to core 0 and drives it from core 1, alternating
//! A B A B. It reports ratios A/B of throughput, latency percentiles, server CPU-µs per
//! operation (the server's own utime+stime from /proc, so the load generator does not count)
//! and resident memory per key, with hypervisor steal beside every run.
//!
//! ```text
//! compare [--quick] [--rounds 2] [--time 10] [--mem-keys 1000000,10000000]
//!         [--shardis target/release/shardis-server] [--redis redis-server]
//!         [--loadgen target/release/loadgen] [--out perf/last-compare.md] [--scaling]
//! ```

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shardis_perf::{parse_memtier, Results};

const USAGE: &str = "usage: compare [--quick] [--rounds 2] [--time 10] [--mem-keys 1000000,10000000]
               [--shardis target/release/shardis-server] [--redis redis-server]
               [--loadgen target/release/loadgen] [--out perf/last-compare.md] [--scaling]";

struct Opts {
    rounds: usize,
    time: f64,
    mem_keys: Vec<u64>,
    shardis: String,
    redis: String,
    loadgen: String,
    out: String,
    scaling: bool,
}

fn parse() -> Opts {
    let mut o = Opts {
        rounds: 2,
        time: 10.0,
        mem_keys: vec![1_000_000, 10_000_000],
        shardis: "target/release/shardis-server".into(),
        redis: "redis-server".into(),
        loadgen: "target/release/loadgen".into(),
        out: "perf/last-compare.md".into(),
        scaling: false,
    };
    let a: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < a.len() {
        let v = |i: usize| a.get(i + 1).cloned().unwrap_or_else(|| panic!("{} needs a value", a[i]));
        match a[i].as_str() {
            "--quick" => {
                o.time = 3.0;
                o.mem_keys = vec![100_000, 1_000_000];
                i -= 1;
            }
            "--rounds" => o.rounds = v(i).parse().expect("--rounds N"),
            "--time" => o.time = v(i).parse().expect("--time SECS"),
            "--mem-keys" => o.mem_keys = v(i).split(',').map(|x| x.parse().expect("--mem-keys N,N")).collect(),
            "--shardis" => o.shardis = v(i),
            "--redis" => o.redis = v(i),
            "--loadgen" => o.loadgen = v(i),
            "--out" => o.out = v(i),
            "--scaling" => {
                o.scaling = true;
                i -= 1;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                eprintln!("compare: unknown option {other}\n{USAGE}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    o
}

/// A server under test, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Shardis(usize),
    Redis,
}

fn start(o: &Opts, which: Which, pinned: bool) -> Server {
    let port = free_port();
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", if pinned { "0" } else { "0-1" }]);
    match which {
        Which::Shardis(shards) => {
            cmd.arg(&o.shardis).args([
                "--port",
                &port.to_string(),
                "--threads",
                &shards.to_string(),
                "--pin-cpus",
                "no",
                "--loglevel",
                "warning",
            ]);
        }
        Which::Redis => {
            cmd.arg(&o.redis).args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--loglevel", "warning"]);
        }
    }
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start server (is taskset installed?)");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port }
}

/// The server process's CPU time in seconds (utime + stime of all its threads).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0) + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn rss_bytes(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// (steal, total) jiffies from /proc/stat.
fn steal_counters() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = s.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    (v.get(7).copied().unwrap_or(0.0), v.iter().take(8).sum())
}

fn loadgen(o: &Opts, port: u16, args: &[&str], core: Option<&str>) -> Results {
    let json = std::env::temp_dir().join(format!("loadgen-{}-{port}.json", std::process::id()));
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", core.unwrap_or("0-1")]).arg(&o.loadgen).args(["--port", &port.to_string(), "--json"]).arg(&json).args(args);
    let out = cmd.stdout(Stdio::null()).status().expect("run loadgen");
    assert!(out.success(), "loadgen failed: {args:?}");
    serde_json::from_str(&std::fs::read_to_string(&json).expect("loadgen json")).expect("parse loadgen json")
}

/// One measured run.
#[derive(Default, Clone)]
struct Run {
    r: Results,
    cpu_us_per_op: f64,
    steal_pct: f64,
}

/// The load generator of a side-by-side run.
#[derive(Clone, Copy, PartialEq)]
enum Tool {
    /// Our `loadgen`.
    Loadgen,
    /// `memtier_benchmark`, when it is on PATH.
    Memtier,
}

/// One side-by-side workload, as arguments for each load generator.
struct Workload {
    name: &'static str,
    prefill: bool,
    loadgen: Vec<String>,
    memtier: Vec<String>,
}

const KEYS: &str = "100000";

fn workload_list(time: &str) -> Vec<Workload> {
    let w = |name, prefill, ratio: &str, size: &str, pipeline: &str| Workload {
        name,
        prefill,
        loadgen: ["--ratio", ratio, "--data-size", size, "--clients", "50", "--pipeline", pipeline, "--key-max", KEYS, "--test-time", time]
            .map(String::from)
            .to_vec(),
        memtier: vec![
            format!("--ratio={ratio}"),
            format!("--data-size={size}"),
            "--threads=1".into(),
            "--clients=50".into(),
            format!("--pipeline={pipeline}"),
            "--key-pattern=R:R".into(),
            "--key-minimum=0".into(),
            format!("--key-maximum={KEYS}"),
            "--key-prefix=key:".into(),
            format!("--test-time={time}"),
            "--hide-histogram".into(),
        ],
    };
    vec![
        w("1:10 SET:GET, 32 B, 50 conns, unpipelined", true, "1:10", "32", "1"),
        w("1:10 SET:GET, 32 B, 50 conns, pipeline 16", true, "1:10", "32", "16"),
        w("1:1 SET:GET, 1 KiB, 50 conns, unpipelined", false, "1:1", "1024", "1"),
        w("read-only GET after prefill, 50 conns", true, "0:1", "32", "1"),
    ]
}

fn memtier(o: &Opts, port: u16, args: &[String]) -> Results {
    let out = Command::new("taskset")
        .args(["-c", "1", "memtier_benchmark", "--server=127.0.0.1", &format!("--port={port}"), "--protocol=redis"])
        .args(args)
        .output()
        .expect("run memtier_benchmark");
    let text = String::from_utf8_lossy(&out.stdout);
    parse_memtier(&text, o.time).unwrap_or_else(|| panic!("could not read memtier_benchmark's summary:\n{text}"))
}

fn measure(o: &Opts, which: Which, tool: Tool, w: &Workload) -> Run {
    let s = start(o, which, true);
    if w.prefill {
        loadgen(o, s.port, &["--prefill", "--key-max", KEYS, "--requests", "0"], Some("1"));
    }
    let pid = s.child.id();
    let (st0, tot0) = steal_counters();
    let c0 = cpu_seconds(pid);
    let r = match tool {
        Tool::Loadgen => loadgen(o, s.port, &w.loadgen.iter().map(String::as_str).collect::<Vec<_>>(), Some("1")),
        Tool::Memtier => memtier(o, s.port, &w.memtier),
    };
    let c1 = cpu_seconds(pid);
    let (st1, tot1) = steal_counters();
    Run { cpu_us_per_op: (c1 - c0) * 1e6 / r.requests.max(1) as f64, steal_pct: 100.0 * (st1 - st0) / (tot1 - tot0).max(1.0), r }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn main() {
    let o = parse();
    let time = format!("{}", o.time);
    let mut report = String::new();
    let mut say = |s: String| {
        println!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    say(format!("# shardis (A) vs redis-server (B): {} round(s), {} s per run, server on core 0, load on core 1\n", o.rounds, o.time));
    if o.scaling {
        scaling(&o, &time, &mut say);
    } else {
        workloads(&o, &time, Tool::Loadgen, &mut say);
        redis_benchmark(&o, &mut say);
        workloads(&o, &time, Tool::Memtier, &mut say);
        memory(&o, &mut say);
    }
    std::fs::write(&o.out, report).expect("write report");
    eprintln!("report written to {}", o.out);
}

fn workloads(o: &Opts, time: &str, tool: Tool, say: &mut impl FnMut(String)) {
    if tool == Tool::Memtier {
        if Command::new("memtier_benchmark").arg("--version").output().is_err() {
            say("\nmemtier_benchmark is not on PATH: its runs were skipped.".into());
            return;
        }
        say("\n## memtier_benchmark, the same workloads\n".into());
    }
    say("| workload | ops/s A/B | p50 A/B | p99 A/B | p99.9 A/B | CPU-µs/op A | CPU-µs/op B | CPU A/B | steal % (A runs; B runs) |".into());
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |".into());
    for w in workload_list(time) {
        let name = w.name;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..o.rounds {
            a.push(measure(o, Which::Shardis(1), tool, &w));
            b.push(measure(o, Which::Redis, tool, &w));
        }
        let m = |v: &[Run], f: fn(&Run) -> f64| mean(&v.iter().map(f).collect::<Vec<_>>());
        let ratio = |f: fn(&Run) -> f64| m(&a, f) / m(&b, f).max(1e-9);
        let steals = |v: &[Run]| v.iter().map(|r| format!("{:.0}", r.steal_pct)).collect::<Vec<_>>().join(",");
        say(format!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {}; {} |",
            ratio(|r| r.r.ops_per_sec),
            ratio(|r| r.r.p50_ms),
            ratio(|r| r.r.p99_ms),
            ratio(|r| r.r.p999_ms),
            m(&a, |r| r.cpu_us_per_op),
            m(&b, |r| r.cpu_us_per_op),
            ratio(|r| r.cpu_us_per_op),
            steals(&a),
            steals(&b)
        ));
        for (tag, v) in [("A", &a), ("B", &b)] {
            for r in v.iter() {
                say(format!(
                    "|   {tag} run | {:.0} ops/s | {:.3} ms | {:.3} ms | {:.3} ms | {:.2} | | | {:.0} |",
                    r.r.ops_per_sec, r.r.p50_ms, r.r.p99_ms, r.r.p999_ms, r.cpu_us_per_op, r.steal_pct
                ));
            }
        }
    }
}

fn redis_benchmark(o: &Opts, say: &mut impl FnMut(String)) {
    if Command::new("redis-benchmark").arg("--version").output().is_err() {
        say("\nredis-benchmark not found: skipped".into());
        return;
    }
    // redis-benchmark stops at the first error reply: run only what shardis implements.
    let probe = start(o, Which::Shardis(1), true);
    let (mut tests, mut skipped) = (Vec::new(), Vec::new());
    for t in ["set", "get", "incr", "lpush", "rpop", "mset"] {
        let out = Command::new("redis-cli")
            .args(["-p", &probe.port.to_string(), "COMMAND", "INFO", t])
            .output()
            .map(|x| String::from_utf8_lossy(&x.stdout).into_owned())
            .unwrap_or_default();
        if out.lines().next().is_some_and(|l| !l.trim().is_empty()) {
            tests.push(t);
        } else {
            skipped.push(t);
        }
    }
    drop(probe);
    let tests = tests.join(",");
    say(format!("\n## redis-benchmark -t {tests} (50 clients), CPU-µs per request\n"));
    if !skipped.is_empty() {
        say(format!("Not implemented in shardis yet, so not run: {}\n", skipped.join(", ")));
    }
    say("| pipeline | test | rps A/B | A rps | B rps |".into());
    say("| --- | --- | --- | --- | --- |".into());
    for (p, n) in [("1", "100000"), ("16", "1000000")] {
        let mut rows: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
        let mut cpu = (Vec::new(), Vec::new());
        let mut steal = (Vec::new(), Vec::new());
        for _ in 0..o.rounds {
            for which in [Which::Shardis(1), Which::Redis] {
                let s = start(o, which, true);
                let pid = s.child.id();
                let (st0, tot0) = steal_counters();
                let c0 = cpu_seconds(pid);
                let out = Command::new("taskset")
                    .args(["-c", "1", "redis-benchmark", "-p", &s.port.to_string(), "-t", &tests, "-P", p, "-n", n, "-c", "50", "--csv"])
                    .output()
                    .expect("redis-benchmark");
                let c1 = cpu_seconds(pid);
                let (st1, tot1) = steal_counters();
                let stolen = format!("{:.0}", 100.0 * (st1 - st0) / (tot1 - tot0).max(1.0));
                if which == Which::Redis {
                    steal.1.push(stolen);
                } else {
                    steal.0.push(stolen);
                }
                let text = String::from_utf8_lossy(&out.stdout);
                let mut total = 0.0;
                for line in text.lines().skip(1) {
                    let f: Vec<&str> = line.split(',').map(|x| x.trim_matches('"')).collect();
                    if f.len() < 2 {
                        continue;
                    }
                    let rps: f64 = f[1].parse().unwrap_or(0.0);
                    total += n.parse::<f64>().unwrap_or(0.0);
                    let row = match rows.iter_mut().find(|r| r.0 == f[0]) {
                        Some(r) => r,
                        None => {
                            rows.push((f[0].to_string(), Vec::new(), Vec::new()));
                            rows.last_mut().expect("just pushed")
                        }
                    };
                    if which == Which::Redis {
                        row.2.push(rps);
                    } else {
                        row.1.push(rps);
                    }
                }
                let per = (c1 - c0) * 1e6 / total.max(1.0);
                if which == Which::Redis {
                    cpu.1.push(per);
                } else {
                    cpu.0.push(per);
                }
            }
        }
        for (test, a, b) in &rows {
            say(format!("| {p} | {test} | {:.2} | {:.0} | {:.0} |", mean(a) / mean(b).max(1e-9), mean(a), mean(b)));
        }
        say(format!(
            "| {p} | server CPU-µs/request over all tests | A/B {:.2} | {:.2} | {:.2} |",
            mean(&cpu.0) / mean(&cpu.1).max(1e-9),
            mean(&cpu.0),
            mean(&cpu.1)
        ));
        say(format!("| {p} | steal % per run (A runs; B runs) | | {} | {} |", steal.0.join(","), steal.1.join(",")));
    }
}

fn memory(o: &Opts, say: &mut impl FnMut(String)) {
    say("\n## Resident memory per key (SET key:N with a 32-byte value)\n".into());
    say("| keys | A bytes/key | B bytes/key | A/B |".into());
    say("| --- | --- | --- | --- |".into());
    for &n in &o.mem_keys {
        let mut per = [0.0f64; 2];
        for (i, which) in [Which::Shardis(1), Which::Redis].into_iter().enumerate() {
            let s = start(o, which, true);
            std::thread::sleep(Duration::from_millis(200));
            let base = rss_bytes(s.child.id());
            loadgen(o, s.port, &["--prefill", "--key-max", &(n - 1).to_string(), "--requests", "0", "--data-size", "32"], Some("1"));
            std::thread::sleep(Duration::from_millis(500));
            per[i] = (rss_bytes(s.child.id()).saturating_sub(base)) as f64 / n as f64;
        }
        say(format!("| {n} | {:.1} | {:.1} | {:.2} |", per[0], per[1], per[0] / per[1].max(1e-9)));
    }
    let _ = std::io::stdout().flush();
}

fn scaling(o: &Opts, time: &str, say: &mut impl FnMut(String)) {
    say("## Scaling: shardis with 1 and 2 shards (both cores shared by servers and load: no core is left for the load generator)\n".into());
    say("| workload | 1 shard ops/s | 2 shards ops/s | 2/1 | cross-shard fraction (2 shards) |".into());
    say("| --- | --- | --- | --- | --- |".into());
    for (name, args) in [
        ("1:10 SET:GET, 50 conns, unpipelined", vec!["--ratio", "1:10", "--clients", "50", "--threads", "2", "--test-time", time]),
        (
            "1:10 SET:GET, 50 conns, pipeline 16",
            vec!["--ratio", "1:10", "--clients", "50", "--threads", "2", "--pipeline", "16", "--test-time", time],
        ),
    ] {
        let mut ops = [Vec::new(), Vec::new()];
        let mut frac = Vec::new();
        for _ in 0..o.rounds {
            for (i, shards) in [1usize, 2].into_iter().enumerate() {
                let s = start(o, Which::Shardis(shards), false);
                let r = loadgen(o, s.port, &args, None);
                ops[i].push(r.ops_per_sec);
                if shards == 2 {
                    let info = Command::new("redis-cli")
                        .args(["-p", &s.port.to_string(), "INFO", "stats"])
                        .output()
                        .map(|x| String::from_utf8_lossy(&x.stdout).into_owned())
                        .unwrap_or_default();
                    let field =
                        |f: &str| info.lines().find_map(|l| l.strip_prefix(f)).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0);
                    frac.push(field("cross_shard_commands:") / field("total_commands_processed:").max(1.0));
                }
            }
        }
        say(format!(
            "| {name} | {:.0} | {:.0} | {:.2} | {:.2} |",
            mean(&ops[0]),
            mean(&ops[1]),
            mean(&ops[1]) / mean(&ops[0]).max(1e-9),
            mean(&frac)
        ));
    }
}
