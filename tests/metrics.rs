//! The Prometheus endpoint (`--metrics-port`): scraped over HTTP with ureq, parsed with
//! prometheus-parse, on 1, 2 and 4 shards; off by default; bad requests; stopping.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{shardis, Server};
use prometheus_parse::{Sample, Scrape, Value};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// shardis with `shards` shards serving metrics on a free port; returns it and that port.
fn with_metrics(shards: usize, extra: &[&str]) -> (Server, u16) {
    let port = free_port();
    let mut args = vec!["--metrics-port".to_string(), port.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    (shardis(shards, &a), port)
}

/// GET /metrics: the body, after checking the status, the content type and every line.
fn scrape_text(port: u16) -> String {
    let mut resp = ureq::get(&format!("http://127.0.0.1:{port}/metrics")).call().expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let body = resp.body_mut().read_to_string().unwrap();
    check_format(&body);
    body
}

fn scrape(port: u16) -> Scrape {
    let body = scrape_text(port);
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("prometheus text")
}

/// Checks what prometheus-parse passes over silently: every line is a HELP, a TYPE or a
/// sample `name{label="value",...} number` of a family whose TYPE came before it.
fn check_format(body: &str) {
    assert!(body.ends_with('\n'), "the text ends with a newline");
    let mut typed: HashSet<String> = HashSet::new();
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
            assert!(is_name(name), "bad name in {line:?}");
            assert!(["counter", "gauge", "histogram"].contains(&ty), "bad type in {line:?}");
            assert!(typed.insert(name.to_string()), "family typed twice: {line:?}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(rest.split_once(' ').is_some_and(|(n, _)| is_name(n)), "bad HELP line {line:?}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
        assert!(value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value), "bad value in {line:?}");
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, Some(l.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}")))),
            None => (series, None),
        };
        assert!(is_name(name), "bad name in {line:?}");
        if let Some(labels) = labels {
            for pair in labels.split(',') {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("bad label in {line:?}"));
                assert!(is_name(k) && v.len() >= 2 && v.starts_with('"') && v.ends_with('"'), "bad label {pair:?} in {line:?}");
            }
        }
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f))).unwrap_or(name);
        assert!(typed.contains(family), "sample before its TYPE line: {line:?}");
    }
}

fn find<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    s.samples.iter().find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
}

/// A counter's, gauge's or untyped sample's value.
fn value(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    find(s, metric, labels).and_then(|x| match x.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        _ => None,
    })
}

fn must(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    value(s, metric, labels).unwrap_or_else(|| panic!("no {metric}{labels:?} in the scrape"))
}

/// The sum of a family's values over every label.
fn total(s: &Scrape, metric: &str) -> f64 {
    s.samples.iter().filter(|x| x.metric == metric).filter_map(|x| value_of(&x.value)).sum()
}

fn value_of(v: &Value) -> Option<f64> {
    match v {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(*v),
        _ => None,
    }
}

/// Scrapes until every one of the `shards` shards has looked at its counters since `since`
/// (its `shard_publish_age_seconds` is shorter than the time since then), so the published
/// numbers include everything done before `since`.
fn settled(port: u16, shards: usize, since: Instant) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let elapsed = since.elapsed().as_secs_f64();
        let s = scrape(port);
        let ages: Vec<f64> =
            s.samples.iter().filter(|x| x.metric == "shardis_shard_publish_age_seconds").filter_map(|x| value_of(&x.value)).collect();
        // Ages count whole milliseconds: a look within 2 ms of `since` may have come before.
        if ages.len() == shards && ages.iter().all(|&a| a + 0.002 < elapsed) {
            return s;
        }
        assert!(Instant::now() < deadline, "shards did not publish within 10 s: ages {ages:?}, {elapsed} s since the commands");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn counters_after_commands(shards: usize) {
    let (server, port) = with_metrics(shards, &["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = server.client();
    for i in 0..100 {
        let _: () = redis::cmd("SET").arg(format!("key:{i}")).arg(i).query(&mut c).unwrap();
    }
    for i in 0..10 {
        let _: () = redis::cmd("SET").arg(format!("ttl:{i}")).arg(i).arg("EX").arg(1000).query(&mut c).unwrap();
    }
    for i in 0..5 {
        let _: Option<String> = redis::cmd("GET").arg(format!("key:{i}")).query(&mut c).unwrap();
    }
    for i in 0..3 {
        let _: Option<String> = redis::cmd("GET").arg(format!("missing:{i}")).query(&mut c).unwrap();
    }
    let mut other = server.client();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut other).unwrap();
    for i in 0..5 {
        let _: () = redis::cmd("SET").arg(format!("db3:{i}")).arg(i).query(&mut other).unwrap();
    }
    // Errors: one WRONGTYPE and one ERR from commands that ran, one ERR refused before.
    assert!(redis::cmd("LPUSH").arg("key:1").arg("x").query::<i64>(&mut c).is_err());
    let _: () = redis::cmd("SET").arg("word").arg("abc").query(&mut c).unwrap();
    assert!(redis::cmd("INCR").arg("word").query::<i64>(&mut c).is_err());
    assert!(redis::cmd("NOSUCHCOMMAND").query::<()>(&mut c).is_err());
    // Live values: a subscriber and a blocked client.
    let mut sub = server.raw();
    sub.cmds(&["SUBSCRIBE", "news"]);
    sub.cmds(&["PSUBSCRIBE", "n*"]);
    let mut blocked = server.raw();
    blocked.send_cmd(&["BLPOP", "queue", "0"]);
    let wait = Instant::now() + Duration::from_secs(5);
    while redis::cmd("INFO").arg("clients").query::<String>(&mut c).unwrap().contains("blocked_clients:0") {
        assert!(Instant::now() < wait, "the BLPOP did not block");
        std::thread::sleep(Duration::from_millis(10));
    }
    let done = Instant::now();

    let s = settled(port, shards, done);
    let set = [("cmd", "set")];
    assert_eq!(must(&s, "shardis_commands_total", &set), 116.0, "100 + 10 + 5 + 1 SETs");
    assert_eq!(must(&s, "shardis_commands_total", &[("cmd", "get")]), 8.0);
    assert_eq!(must(&s, "shardis_command_failed_calls_total", &[("cmd", "lpush")]), 1.0);
    assert_eq!(must(&s, "shardis_command_failed_calls_total", &[("cmd", "incr")]), 1.0);
    assert_eq!(must(&s, "shardis_command_failed_calls_total", &set), 0.0);
    assert_eq!(must(&s, "shardis_errors_total", &[("code", "WRONGTYPE")]), 1.0);
    assert_eq!(must(&s, "shardis_errors_total", &[("code", "ERR")]), 2.0, "INCR's error and the unknown command's");

    // The latency histogram counts every call, in buckets that only grow.
    let h = find(&s, "shardis_command_duration_seconds", &set).expect("SET's latency histogram");
    let Value::Histogram(buckets) = &h.value else { panic!("not a histogram: {h:?}") };
    assert_eq!(buckets.len(), 23, "22 bounds and +Inf");
    assert!(buckets.windows(2).all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count), "{buckets:?}");
    assert_eq!(buckets.first().unwrap().less_than, 1e-6);
    let inf = buckets.last().unwrap();
    assert!(inf.less_than.is_infinite());
    assert_eq!(inf.count, 116.0);
    assert_eq!(must(&s, "shardis_command_duration_seconds_count", &set), 116.0);
    let sum = must(&s, "shardis_command_duration_seconds_sum", &set);
    assert!(sum > 0.0 && sum < 1.0, "SET's total time {sum}");

    // Keys per database.
    assert_eq!(must(&s, "shardis_keys", &[("db", "0")]), 111.0, "100 + 10 with a TTL + word");
    assert_eq!(must(&s, "shardis_expiring_keys", &[("db", "0")]), 10.0);
    assert_eq!(must(&s, "shardis_keys", &[("db", "3")]), 5.0);
    assert_eq!(must(&s, "shardis_expiring_keys", &[("db", "3")]), 0.0);
    assert_eq!(value(&s, "shardis_keys", &[("db", "5")]), None, "an unused database is not listed");
    assert!(must(&s, "shardis_keyspace_hits_total", &[("db", "0")]) >= 5.0);
    assert!(must(&s, "shardis_keyspace_misses_total", &[("db", "0")]) >= 3.0);
    assert_eq!(must(&s, "shardis_expired_keys_total", &[("db", "0")]), 0.0);
    assert_eq!(must(&s, "shardis_evicted_keys_total", &[("db", "0")]), 0.0);

    // Per shard: one row per shard, adding up to the totals.
    assert_eq!(total(&s, "shardis_shard_keys"), 116.0);
    let per_shard_ops = total(&s, "shardis_shard_commands_total");
    assert_eq!(per_shard_ops, total(&s, "shardis_commands_total"), "every command is counted once, on the shard that ran it");
    for i in 0..shards {
        let shard = [("shard", &*i.to_string())];
        assert!(value(&s, "shardis_shard_mailbox_depth", &shard).is_some(), "shard {i} has a mailbox depth");
        assert!(value(&s, "shardis_shard_remote_commands_total", &shard).is_some());
        assert!(must(&s, "shardis_shard_publish_age_seconds", &shard) < 5.0);
    }
    assert_eq!(s.samples.iter().filter(|x| x.metric == "shardis_shard_mailbox_depth").count(), shards);
    if shards > 1 {
        assert!(total(&s, "shardis_shard_remote_commands_total") > 0.0, "keys on other shards than the connection's");
    }
    assert!(total(&s, "shardis_net_input_bytes_total") > 0.0);
    assert!(total(&s, "shardis_net_output_bytes_total") > 0.0);

    // Server-wide.
    assert_eq!(must(&s, "shardis_shards", &[]), shards as f64);
    assert_eq!(must(&s, "shardis_connected_clients", &[]), 4.0);
    assert!(must(&s, "shardis_connections_received_total", &[]) >= 4.0);
    assert_eq!(must(&s, "shardis_blocked_clients", &[]), 1.0);
    assert_eq!(total(&s, "shardis_shard_blocking_keys"), 1.0);
    assert_eq!(must(&s, "shardis_pubsub_channels", &[]), 1.0);
    assert_eq!(must(&s, "shardis_pubsub_patterns", &[]), 1.0);
    assert_eq!(must(&s, "shardis_pubsub_shard_channels", &[]), 0.0);
    assert!(must(&s, "shardis_memory_used_bytes", &[]) > 0.0);
    assert!(must(&s, "shardis_memory_rss_bytes", &[]) > 0.0);
    assert!(must(&s, "shardis_memory_peak_bytes", &[]) >= must(&s, "shardis_memory_used_bytes", &[]));
    assert_eq!(must(&s, "shardis_memory_max_bytes", &[]), 100.0 * 1024.0 * 1024.0);
    assert_eq!(must(&s, "shardis_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);

    // The same numbers as INFO commandstats.
    let info: String = redis::cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    assert!(info.contains("cmdstat_set:calls=116,"), "{info}");
}

#[test]
fn counters_after_commands_1_shard() {
    counters_after_commands(1);
}

#[test]
fn counters_after_commands_2_shards() {
    counters_after_commands(2);
}

#[test]
fn counters_after_commands_4_shards() {
    counters_after_commands(4);
}

#[test]
fn expired_keys_are_counted() {
    let (server, port) = with_metrics(2, &[]);
    let mut c = server.client();
    for i in 0..20 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(1).arg("PX").arg(1).query(&mut c).unwrap();
    }
    // The expiry tasks reclaim them within a few ms.
    let wait = Instant::now() + Duration::from_secs(5);
    while redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap() > 0 {
        assert!(Instant::now() < wait);
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let s = settled(port, 2, Instant::now());
    assert_eq!(must(&s, "shardis_expired_keys_total", &[("db", "0")]), 20.0);
    assert_eq!(must(&s, "shardis_keys", &[("db", "0")]), 0.0);
}

/// The TCP ports process `pid` listens on (its sockets in LISTEN state in /proc/net/tcp*).
fn listening_ports(pid: u32) -> HashSet<u16> {
    let mut inodes = HashSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            if let Some(n) = target.to_string_lossy().strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(n.to_string());
            }
        }
    }
    let mut ports = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                let port = f[1].rsplit(':').next().unwrap();
                ports.insert(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

#[test]
fn metrics_are_off_by_default() {
    let server = shardis(2, &[]);
    let mut c = server.client();
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("metrics-port").query(&mut c).unwrap();
    assert_eq!(v, ["metrics-port", "0"]);
    assert_eq!(listening_ports(server.pid()), HashSet::from([server.port]), "only the Redis port listens");
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", server.pid()))
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect();
    assert!(!threads.iter().any(|t| t == "metrics"), "no metrics thread: {threads:?}");

    let (with, port) = with_metrics(1, &[]);
    assert_eq!(listening_ports(with.pid()), HashSet::from([with.port, port]), "the metrics port listens when set");
}

/// Sends `request` raw and returns the whole response.
fn raw_http(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn bad_requests_get_errors_and_the_endpoint_keeps_serving() {
    let (server, port) = with_metrics(1, &[]);
    let status = |req: &[u8]| raw_http(port, req).lines().next().unwrap_or_default().to_string();
    assert_eq!(status(b"hello\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert_eq!(status(b"GET /metrics HTTP/2.0\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert_eq!(status(b"\x00\xff\xfe garbage \x01\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    assert_eq!(status(&[b'A'; 20_000]), "HTTP/1.1 400 Bad Request");
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "HTTP/1.1 404 Not Found");
    assert_eq!(status(b"DELETE /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 405 Method Not Allowed");
    match ureq::get(&format!("http://127.0.0.1:{port}/other")).call() {
        Err(ureq::Error::StatusCode(404)) => {}
        other => panic!("expected a 404, got {other:?}"),
    }
    // HEAD: the headers only.
    let head = raw_http(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"), "{head}");
    // A client that connects and says nothing, and one that leaves halfway.
    drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(b"GET /metr").unwrap();
    drop(half);
    // Still serving, and the Redis side too.
    let s = scrape(port);
    assert!(value(&s, "shardis_uptime_seconds", &[]).is_some());
    let pong: String = redis::cmd("PING").query(&mut server.client()).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn shutdown_stops_the_endpoint() {
    let (mut server, port) = with_metrics(2, &[]);
    scrape(port);
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut server.client());
    assert!(server.wait_exit(Duration::from_secs(10)), "shardis exits with the endpoint running");
    assert_eq!(server.exit_code(), Some(0));
}

#[test]
fn embedded_engine_serves_and_stops_metrics() {
    let port = free_port();
    let engine = shardis::Engine::builder().shards(2).unpinned().config("metrics-port", &port.to_string()).start().unwrap();
    let client = engine.client();
    client.set("a", "1").unwrap();
    let since = Instant::now();
    let s = settled(port, 2, since);
    assert_eq!(must(&s, "shardis_commands_total", &[("cmd", "set")]), 1.0);
    assert_eq!(must(&s, "shardis_keys", &[("db", "0")]), 1.0);
    engine.stop();
    // The port is free again: the thread and its listener are gone.
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the metrics port is released at stop");
}
