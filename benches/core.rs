//! Micro-benchmarks of the hot-path building blocks: RESP parsing and encoding, command
//! lookup, the key table, the timer wheel, and an in-process engine round trip.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use shardis::protocol::{encode, Limits, Reply, RequestParser};
use shardis::store::{Expiry, Store, StrValue, TimerWheel, Value};

fn resp(c: &mut Criterion) {
    let one = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000001\r\n$32\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n";
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 16).collect();
    let limits = Limits { max_bulk_len: 512 << 20, authenticated: true };
    c.bench_function("parse 16 pipelined SETs", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&batch[..]);
            let mut p = RequestParser::new();
            let mut n = 0;
            while let Some(a) = p.next(&mut buf, limits).unwrap() {
                n += a.len();
            }
            black_box(n)
        })
    });
    let reply = Reply::Array(vec![Reply::bulk(b"value-000000000001"); 16]);
    let mut out = Vec::with_capacity(4096);
    c.bench_function("encode 16-element array", |b| {
        b.iter(|| {
            out.clear();
            encode(black_box(&reply), false, &mut out);
            black_box(out.len())
        })
    });
}

fn lookup(c: &mut Criterion) {
    let args = vec![bytes::Bytes::from_static(b"get"), bytes::Bytes::from_static(b"k")];
    c.bench_function("command lookup", |b| b.iter(|| black_box(shardis::command::lookup(black_box(&args)).is_ok())));
}

fn table(c: &mut Criterion) {
    let mut store = Store::new(1, 0);
    let db = store.db(0);
    for i in 0..100_000u32 {
        db.set(format!("key:{i}").as_bytes(), Value::Str(StrValue::Int(i64::from(i))), Expiry::Clear, 0);
    }
    let mut i = 0u32;
    c.bench_function("keyspace read hit (100k keys)", |b| {
        b.iter(|| {
            i = (i + 7919) % 100_000;
            black_box(db.read(format!("key:{i}").as_bytes(), 0).is_some())
        })
    });
}

fn wheel(c: &mut Criterion) {
    c.bench_function("timer wheel insert+advance 1k", |b| {
        b.iter(|| {
            let mut w = TimerWheel::new(0);
            for i in 0..1000u64 {
                w.insert(i * 37 % 5000, i);
            }
            let mut out = Vec::new();
            w.advance(5000, usize::MAX, &mut out);
            black_box(out.len())
        })
    });
}

fn list(c: &mut Criterion) {
    use shardis::store::List;
    c.bench_function("list push+pop 1k (packed chunks)", |b| {
        b.iter(|| {
            let mut l = List::new();
            for i in 0..1000u32 {
                l.push_back(&i.to_le_bytes());
            }
            while let Some(v) = l.pop_front() {
                black_box(v);
            }
        })
    });
    let mut big = List::new();
    for i in 0..100_000u32 {
        big.push_back(format!("element:{i}").as_bytes());
    }
    c.bench_function("list index middle of 100k", |b| b.iter(|| black_box(big.get(black_box(50_000)).map(<[u8]>::len))));
}

fn skiplist(c: &mut Criterion) {
    use shardis::store::SkipList;
    let mut sl = SkipList::new();
    let members: Vec<Vec<u8>> = (0..100_000u32).map(|i| format!("member:{i}").into_bytes()).collect();
    for (i, m) in members.iter().enumerate() {
        sl.insert((i % 1000) as f64, m);
    }
    let mut i = 0usize;
    c.bench_function("skiplist rank in 100k", |b| {
        b.iter(|| {
            i = (i + 7919) % members.len();
            black_box(sl.rank((i % 1000) as f64, &members[i]))
        })
    });
    c.bench_function("skiplist remove+insert in 100k", |b| {
        b.iter(|| {
            i = (i + 7919) % members.len();
            let score = (i % 1000) as f64;
            sl.remove(score, &members[i]);
            sl.insert(score, &members[i]);
        })
    });
}

fn packed(c: &mut Criterion) {
    use shardis::store::{Hash, PackLimits, ZSet};
    let limits = PackLimits { entries: 128, value: 64 };
    let fields: Vec<Vec<u8>> = (0..100u32).map(|i| format!("field:{i}").into_bytes()).collect();
    c.bench_function("packed hash: set 100 fields, get each", |b| {
        b.iter(|| {
            let mut h = Hash::new();
            for f in &fields {
                h.set(f, b"value", limits);
            }
            for f in &fields {
                black_box(h.get(f));
            }
        })
    });
    c.bench_function("packed sorted set: add 100 members", |b| {
        b.iter(|| {
            let mut z = ZSet::new();
            for (i, f) in fields.iter().enumerate() {
                z.insert(f, ((i * 37) % 100) as f64, limits);
            }
            black_box(z.len())
        })
    });
}

fn engine(c: &mut Criterion) {
    let cfg = shardis::config::Config::default();
    cfg.set("threads", "1", true).unwrap();
    cfg.set("pin-cpus", "no", true).unwrap();
    let e = shardis::Engine::start(cfg).unwrap();
    let client = e.client();
    client.set("k", "v").unwrap();
    c.bench_function("engine GET round trip", |b| b.iter(|| black_box(client.call_reply(["GET", "k"]))));
    e.stop();
}

criterion_group!(benches, resp, lookup, table, wheel, list, skiplist, packed, engine);
criterion_main!(benches);
