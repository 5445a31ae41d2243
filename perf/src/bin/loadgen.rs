//! `loadgen`: a memtier_benchmark-style load generator speaking RESP to any Redis-compatible
//! server. Closed loop: each connection sends a pipeline of requests, waits for all replies,
//! and records each request's latency (send of its pipeline to arrival of its reply).
//!
//! ```text
//! loadgen [--host 127.0.0.1] [--port 6379] [--threads 1] [--clients 50] [--pipeline 1]
//!         [--ratio 1:10] [--key-pattern R|S|G|Z] [--zipf-exponent 0.99] [--key-min 0]
//!         [--key-max 100000] [--key-prefix key:] [--data-size 32] [--test-time 10 | --requests N]
//!         [--prefill] [--slow-ms 5] [--slow-log FILE] [--busy-poll]
//!         [--command set-get|cache|incr|lpush-rpop|hset-hget|zadd-zrange|publish|mset2|multi4]
//!         [--json FILE|-]
//! ```
//! `--requests` is per connection. `--prefill` first writes every key in the range once.
//! Key patterns: R uniform, S sequential, G Gaussian, Z Zipfian (key-min the most popular).
//! `cache` is a read-through cache: GET, and a SET of each missed key in the connection's next
//! round; hits and misses count the GETs. `--slow-ms` counts requests slower than that;
//! `--slow-log` writes each pipeline that had one, as `send reply` in CLOCK_MONOTONIC seconds
//! (the clock of `perf record -k CLOCK_MONOTONIC`), to line it up with a server profile.
//! `--busy-poll` makes the sockets non-blocking and polls them while waiting, yielding the CPU
//! between polls, so the load generator's thread never sleeps: its latencies then leave out
//! the time the kernel (or the hypervisor) takes to wake the load generator itself. (A pure
//! spin starved the softirq thread on the load generator's core, which delivers loopback
//! packets, for up to 10 ms.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shardis_perf::{encode, frame, ReplyKind, Results};

#[derive(Clone, Debug)]
struct Opts {
    host: String,
    port: u16,
    threads: usize,
    clients: usize,
    pipeline: usize,
    sets: u32,
    gets: u32,
    pattern: char,
    key_min: u64,
    key_max: u64,
    prefix: String,
    data_size: usize,
    test_time: Option<f64>,
    requests: Option<u64>,
    prefill: bool,
    command: String,
    json: Option<String>,
    zipf: f64,
    slow_ms: f64,
    slow_log: Option<String>,
    busy_poll: bool,
}

fn usage() -> ! {
    eprintln!(
        "{}",
        include_str!("loadgen.rs")
            .lines()
            .skip_while(|l| !l.contains("```text"))
            .skip(1)
            .take_while(|l| !l.contains("```"))
            .map(|l| l.trim_start_matches("//! "))
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::process::exit(2);
}

fn parse_args() -> Opts {
    let mut o = Opts {
        host: "127.0.0.1".into(),
        port: 6379,
        threads: 1,
        clients: 50,
        pipeline: 1,
        sets: 1,
        gets: 10,
        pattern: 'R',
        key_min: 0,
        key_max: 100_000,
        prefix: "key:".into(),
        data_size: 32,
        test_time: None,
        requests: None,
        prefill: false,
        command: "set-get".into(),
        json: None,
        zipf: 0.99,
        slow_ms: 0.0,
        slow_log: None,
        busy_poll: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let mut val = || {
            i += 1;
            args.get(i).cloned().unwrap_or_else(|| usage())
        };
        match flag {
            "--host" => o.host = val(),
            "--port" => o.port = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => o.threads = val().parse().unwrap_or_else(|_| usage()),
            "--clients" => o.clients = val().parse().unwrap_or_else(|_| usage()),
            "--pipeline" => o.pipeline = val().parse().unwrap_or_else(|_| usage()),
            "--ratio" => {
                let v = val();
                let (s, g) = v.split_once(':').unwrap_or_else(|| usage());
                o.sets = s.parse().unwrap_or_else(|_| usage());
                o.gets = g.parse().unwrap_or_else(|_| usage());
            }
            "--key-pattern" => o.pattern = val().chars().next().unwrap_or('R').to_ascii_uppercase(),
            "--key-min" => o.key_min = val().parse().unwrap_or_else(|_| usage()),
            "--key-max" => o.key_max = val().parse().unwrap_or_else(|_| usage()),
            "--key-prefix" => o.prefix = val(),
            "--data-size" => o.data_size = val().parse().unwrap_or_else(|_| usage()),
            "--test-time" => o.test_time = Some(val().parse().unwrap_or_else(|_| usage())),
            "--requests" => o.requests = Some(val().parse().unwrap_or_else(|_| usage())),
            "--prefill" => o.prefill = true,
            "--command" => o.command = val(),
            "--json" => o.json = Some(val()),
            "--zipf-exponent" => o.zipf = val().parse().unwrap_or_else(|_| usage()),
            "--slow-ms" => o.slow_ms = val().parse().unwrap_or_else(|_| usage()),
            "--slow-log" => o.slow_log = Some(val()),
            "--busy-poll" => o.busy_poll = true,
            _ => usage(),
        }
        i += 1;
    }
    if o.test_time.is_none() && o.requests.is_none() {
        o.test_time = Some(10.0);
    }
    if o.sets + o.gets == 0 || o.key_max < o.key_min || o.pipeline == 0 || o.clients == 0 || o.threads == 0 {
        usage();
    }
    o
}

/// Picks keys by the configured pattern.
struct Keys {
    rng: fastrand::Rng,
    next: u64,
    min: u64,
    span: u64,
    pattern: char,
    zipf: Option<(rand_distr::Zipf<f64>, rand::rngs::SmallRng)>,
}

impl Keys {
    fn next(&mut self) -> u64 {
        let off = match self.pattern {
            'S' => {
                self.next = (self.next + 1) % self.span;
                self.next
            }
            'G' => {
                // Box-Muller: centred, standard deviation a sixth of the range.
                let (u1, u2) = (self.rng.f64().max(1e-12), self.rng.f64());
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                let x = self.span as f64 / 2.0 + z * self.span as f64 / 6.0;
                (x.max(0.0) as u64).min(self.span - 1)
            }
            'Z' => {
                use rand::distr::Distribution;
                let (z, rng) = self.zipf.as_mut().expect("zipf keys");
                // Ranks run from 1 (the most popular).
                (z.sample(rng) as u64).clamp(1, self.span) - 1
            }
            _ => self.rng.u64(..self.span),
        };
        self.min + off
    }
}

/// Replies per request: a `multi4` request is MULTI, four commands and EXEC.
fn replies_per_request(o: &Opts) -> usize {
    if o.command == "multi4" {
        6
    } else {
        1
    }
}

/// Encodes the request the mix chooses next into `buf`, its key into `key`; returns whether
/// it is a read.
fn request(o: &Opts, keys: &mut Keys, rng: &mut fastrand::Rng, value: &[u8], buf: &mut Vec<u8>, key: &mut String) -> bool {
    key.clear();
    {
        use std::fmt::Write as _;
        let _ = write!(key, "{}{}", o.prefix, keys.next());
    }
    let key = key.as_str();
    let write = o.command != "cache" && rng.u32(..o.sets + o.gets) < o.sets;
    let k = key.as_bytes();
    match (o.command.as_str(), write) {
        ("incr", _) => encode(buf, &[b"INCR", k]),
        ("lpush-rpop", true) => encode(buf, &[b"LPUSH", k, value]),
        ("lpush-rpop", false) => encode(buf, &[b"RPOP", k]),
        ("hset-hget", true) => encode(buf, &[b"HSET", k, b"field", value]),
        ("hset-hget", false) => encode(buf, &[b"HGET", k, b"field"]),
        ("zadd-zrange", true) => encode(buf, &[b"ZADD", k, rng.u32(..1000).to_string().as_bytes(), value]),
        ("zadd-zrange", false) => encode(buf, &[b"ZRANGE", k, b"0", b"9"]),
        ("publish", _) => encode(buf, &[b"PUBLISH", k, value]),
        // Keys tagged {a} and {b} live on different shards when there are 2 or 4 (slots 15495
        // and 3300); {c} and {d} add the other two of 4 (slots 7365 and 11298).
        ("mset2", _) => encode(buf, &[b"MSET", format!("{{a}}{key}").as_bytes(), value, format!("{{b}}{key}").as_bytes(), value]),
        ("multi4", _) => {
            encode(buf, &[b"MULTI"]);
            for tag in ["a", "b", "c", "d"] {
                encode(buf, &[b"INCR", format!("{{{tag}}}{key}").as_bytes()]);
            }
            encode(buf, &[b"EXEC"]);
        }
        (_, true) => encode(buf, &[b"SET", k, value]),
        (_, false) => encode(buf, &[b"GET", k]),
    }
    !write
}

struct Conn {
    s: TcpStream,
    rbuf: Vec<u8>,
}

impl Conn {
    fn open(o: &Opts) -> Conn {
        let s = TcpStream::connect((o.host.as_str(), o.port)).unwrap_or_else(|e| {
            eprintln!("cannot connect to {}:{}: {e}", o.host, o.port);
            std::process::exit(1)
        });
        s.set_nodelay(true).ok();
        if o.busy_poll {
            s.set_nonblocking(true).expect("non-blocking socket");
        }
        Conn { s, rbuf: Vec::with_capacity(64 * 1024) }
    }

    /// Writes all of `buf`, spinning while a non-blocking socket is full.
    fn send(&mut self, mut buf: &[u8]) {
        while !buf.is_empty() {
            match self.s.write(buf) {
                Ok(0) => {
                    eprintln!("server closed the connection");
                    std::process::exit(1);
                }
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("write: {e}"),
            }
        }
    }

    /// Reads until `n` complete replies arrived; calls `f` with each kind in order.
    fn replies(&mut self, n: usize, mut f: impl FnMut(ReplyKind)) {
        let mut pos = 0;
        let mut got = 0;
        let mut chunk = [0u8; 64 * 1024];
        while got < n {
            while got < n {
                match frame(&self.rbuf, pos) {
                    Some((len, kind)) => {
                        pos += len;
                        got += 1;
                        f(kind);
                    }
                    None => break,
                }
            }
            if got == n {
                break;
            }
            let r = match self.s.read(&mut chunk) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::yield_now();
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => r.unwrap_or(0),
            };
            if r == 0 {
                eprintln!("server closed the connection");
                std::process::exit(1);
            }
            self.rbuf.extend_from_slice(&chunk[..r]);
        }
        self.rbuf.drain(..pos);
    }
}

fn prefill(o: &Opts) {
    let value = vec![b'x'; o.data_size];
    let span = o.key_max - o.key_min + 1;
    let workers = (o.threads * o.clients).clamp(1, 16) as u64;
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let o = o.clone();
            let value = value.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(&o);
                let mut buf = Vec::new();
                let mut k = o.key_min + w;
                let mut pending = 0;
                while k < o.key_min + span {
                    encode(&mut buf, &[b"SET", format!("{}{}", o.prefix, k).as_bytes(), &value]);
                    pending += 1;
                    k += workers;
                    if pending == 256 || k >= o.key_min + span {
                        c.send(&buf);
                        buf.clear();
                        c.replies(pending, |_| {});
                        pending = 0;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("prefill worker");
    }
}

fn main() {
    let o = parse_args();
    if o.prefill {
        let t = Instant::now();
        prefill(&o);
        eprintln!("prefilled {} keys in {:.1}s", o.key_max - o.key_min + 1, t.elapsed().as_secs_f64());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..o.threads)
        .map(|t| {
            let o = o.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut conns: Vec<Conn> = (0..o.clients).map(|_| Conn::open(&o)).collect();
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
                let mut rng = fastrand::Rng::with_seed(t as u64 * 7919 + 1);
                let span = o.key_max - o.key_min + 1;
                let mut keys = Keys {
                    rng: fastrand::Rng::with_seed(t as u64 + 17),
                    next: t as u64 * span / o.threads as u64,
                    min: o.key_min,
                    span,
                    pattern: o.pattern,
                    zipf: (o.pattern == 'Z').then(|| {
                        use rand::SeedableRng;
                        let z = rand_distr::Zipf::new(span as f64, o.zipf).unwrap_or_else(|_| usage());
                        (z, rand::rngs::SmallRng::seed_from_u64(t as u64 + 29))
                    }),
                };
                let value = vec![b'x'; o.data_size];
                let (mut done, mut hits, mut misses, mut errors) = (0u64, 0u64, 0u64, 0u64);
                let mut sent: Vec<(Instant, Vec<bool>)> = (0..o.clients).map(|_| (Instant::now(), Vec::new())).collect();
                // Per connection: the keys of this round's requests, and (cache) the keys its
                // GETs missed, written back in its next round.
                let mut round_keys: Vec<Vec<String>> = (0..o.clients).map(|_| Vec::new()).collect();
                let mut fills: Vec<Vec<String>> = (0..o.clients).map(|_| Vec::new()).collect();
                let slow_us = (o.slow_ms * 1000.0) as u64;
                let mut slow = 0u64;
                let mut slow_windows: Vec<(f64, f64)> = Vec::new();
                let mut sent_mono = vec![0.0f64; o.clients];
                let mut buf = Vec::new();
                let mut rounds = 0u64;
                loop {
                    if stop.load(Relaxed) || o.requests.is_some_and(|r| rounds * o.pipeline as u64 >= r) {
                        break;
                    }
                    for (i, c) in conns.iter_mut().enumerate() {
                        buf.clear();
                        sent[i].1.clear();
                        let rk = &mut round_keys[i];
                        for key in fills[i].drain(..) {
                            encode(&mut buf, &[b"SET", key.as_bytes(), &value]);
                            sent[i].1.push(false);
                            rk.push(key);
                        }
                        for _ in 0..o.pipeline {
                            let mut key = String::new();
                            let read = request(&o, &mut keys, &mut rng, &value, &mut buf, &mut key);
                            sent[i].1.push(read);
                            rk.push(key);
                        }
                        sent[i].0 = Instant::now();
                        sent_mono[i] = monotonic_secs();
                        c.send(&buf);
                    }
                    for (i, c) in conns.iter_mut().enumerate() {
                        let reads = std::mem::take(&mut sent[i].1);
                        let t0 = sent[i].0;
                        let mut j = 0;
                        let per = replies_per_request(&o);
                        let (rk, fill) = (&round_keys[i], &mut fills[i]);
                        let cache = o.command == "cache";
                        let mut was_slow = false;
                        c.replies(reads.len() * per, |kind| {
                            if kind == ReplyKind::Error {
                                errors += 1;
                            }
                            j += 1;
                            if j % per != 0 {
                                return;
                            }
                            let us = t0.elapsed().as_micros().max(1) as u64;
                            let _ = hist.record(us);
                            if slow_us > 0 && us > slow_us {
                                slow += 1;
                                was_slow = true;
                            }
                            match kind {
                                ReplyKind::Nil if reads[j / per - 1] => {
                                    misses += 1;
                                    if cache {
                                        fill.push(rk[j / per - 1].clone());
                                    }
                                }
                                ReplyKind::Error => {}
                                _ if reads[j / per - 1] => hits += 1,
                                _ => {}
                            }
                        });
                        if was_slow {
                            slow_windows.push((sent_mono[i], monotonic_secs()));
                        }
                        done += reads.len() as u64;
                        sent[i].1 = reads;
                        round_keys[i].clear();
                    }
                    rounds += 1;
                }
                (hist, done, hits, misses, errors, slow, slow_windows)
            })
        })
        .collect();
    if let Some(secs) = o.test_time {
        if o.requests.is_none() {
            std::thread::sleep(Duration::from_secs_f64(secs));
            stop.store(true, Relaxed);
        }
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut r = Results::default();
    let mut slow_windows = Vec::new();
    for h in handles {
        let (th, done, hits, misses, errors, slow, windows) = h.join().expect("load thread");
        r.slow += slow;
        slow_windows.extend(windows);
        hist.add(th).expect("merge histograms");
        r.requests += done;
        r.hits += hits;
        r.misses += misses;
        r.errors += errors;
    }
    r.seconds = start.elapsed().as_secs_f64();
    r.ops_per_sec = r.requests as f64 / r.seconds;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    r.p50_ms = ms(0.5);
    r.p99_ms = ms(0.99);
    r.p999_ms = ms(0.999);
    r.max_ms = hist.max() as f64 / 1000.0;
    println!(
        "{:.0} ops/s  p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  hits {}  misses {}  errors {}  slow {}  ({} requests in {:.1}s)",
        r.ops_per_sec, r.p50_ms, r.p99_ms, r.p999_ms, r.max_ms, r.hits, r.misses, r.errors, r.slow, r.requests, r.seconds
    );
    if let Some(path) = &o.json {
        let j = serde_json::to_string_pretty(&r).expect("json");
        if path == "-" {
            println!("{j}");
        } else {
            std::fs::write(path, j).expect("write json");
        }
    }
    if let Some(path) = &o.slow_log {
        let text: String = slow_windows.iter().map(|(a, b)| format!("{a:.6} {b:.6}\n")).collect();
        std::fs::write(path, text).expect("write slow log");
    }
    if r.errors > 0 {
        std::process::exit(3);
    }
}

/// CLOCK_MONOTONIC in seconds: the clock `perf record -k CLOCK_MONOTONIC` stamps samples with.
fn monotonic_secs() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes only the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
