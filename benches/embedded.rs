//! In-process round trips against the same commands over TCP loopback, on one engine (one
//! shard, pinned to CPU 0): GET, SET, and a pipeline of 16 GETs. Run as
//! `taskset -c 1 cargo bench --bench embedded` so that the caller and the shard each have a
//! core. Each case runs twice: with the shard sleeping as soon as it is idle (the default)
//! and with `spin-before-park-us 50`. Criterion reports the mean of each; before it, 20,000
//! timed round trips per case print p50/p99/p99.9 (hdrhistogram), as latency is skewed on
//! these VMs. Figures: perf/RESULTS.md ("Embedded engine").

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use hdrhistogram::Histogram;
use shardis::embed::{Engine, Pipeline};

/// A named round trip to time.
type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn round_trips(c: &mut Criterion) {
    for spin in [0u64, 50] {
        let engine = Engine::builder().shards(1).pinned().spin_before_park(Duration::from_micros(spin)).serve_tcp(0).start().unwrap();
        let client = engine.client();
        client.set("k", "v").unwrap();
        let mut tcp = redis::Client::open(format!("redis://127.0.0.1:{}/", engine.port())).unwrap().get_connection().unwrap();
        let mut p16 = Pipeline::new();
        let mut tcp16 = redis::pipe();
        for _ in 0..16 {
            p16.get("k");
            tcp16.cmd("GET").arg("k");
        }
        let mut cases: Vec<Case<'_>> = vec![
            ("in-process GET", Box::new(|| drop(black_box(client.get::<bytes::Bytes>("k").unwrap())))),
            ("in-process pipeline 16 GET", Box::new(|| drop(black_box(p16.query(&client).unwrap())))),
        ];
        let mut tcp2 = redis::Client::open(format!("redis://127.0.0.1:{}/", engine.port())).unwrap().get_connection().unwrap();
        cases.push(("tcp GET", Box::new(move || drop(black_box(redis::cmd("GET").arg("k").query::<Vec<u8>>(&mut tcp2).unwrap())))));
        for (name, f) in &mut cases {
            percentiles(&format!("spin {spin}us/{name}"), f);
        }
        drop(cases);
        let mut g = c.benchmark_group(format!("spin {spin}us"));
        g.bench_function("in-process GET", |b| b.iter(|| black_box(client.get::<bytes::Bytes>("k").unwrap())));
        g.bench_function("in-process SET", |b| b.iter(|| client.set("k", "v").unwrap()));
        g.bench_function("in-process pipeline 16 GET", |b| b.iter(|| black_box(p16.query(&client).unwrap())));
        g.bench_function("tcp GET", |b| b.iter(|| black_box(redis::cmd("GET").arg("k").query::<Vec<u8>>(&mut tcp).unwrap())));
        g.bench_function("tcp SET", |b| b.iter(|| redis::cmd("SET").arg("k").arg("v").query::<()>(&mut tcp).unwrap()));
        g.bench_function("tcp pipeline 16 GET", |b| b.iter(|| black_box(tcp16.query::<Vec<Vec<u8>>>(&mut tcp).unwrap())));
        g.finish();
        drop(tcp);
        engine.stop();
    }
}

/// Times 20,000 calls of `f` one by one and prints the percentiles.
fn percentiles(name: &str, f: &mut dyn FnMut()) {
    let mut h = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
    for _ in 0..2_000 {
        f();
    }
    for _ in 0..20_000 {
        let t = std::time::Instant::now();
        f();
        h.record(t.elapsed().as_nanos() as u64).unwrap();
    }
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!("{name:40} p50 {:8.1} us  p99 {:8.1} us  p99.9 {:8.1} us", us(0.5), us(0.99), us(0.999));
}

criterion_group!(benches, round_trips);
criterion_main!(benches);
