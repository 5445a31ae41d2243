//! In-process round trips against the same commands over TCP loopback, on one engine (one
//! shard, pinned to CPU 0): GET, SET, and a pipeline of 16 GETs. Run as
//! `taskset -c 1 cargo bench --bench embedded` so that the caller and the shard each have a
//! core. Each case runs twice: with the shard sleeping as soon as it is idle (the default)
//! and with `spin-before-park-us 50`. Figures: perf/RESULTS.md ("Embedded engine").

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use shardis::embed::{Engine, Pipeline};

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

criterion_group!(benches, round_trips);
criterion_main!(benches);
