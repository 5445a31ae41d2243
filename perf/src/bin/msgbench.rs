//! Messaging load: PUBLISH fan-out and a BLPOP/LPUSH work queue, against any RESP server.
//!
//! msgbench fanout --port P --subs N [--secs S] [--size 64] [--pipeline 16]
//!   N subscriber connections on channel `bench`; one publisher sends PUBLISH in pipelined
//!   batches. Prints published/s, delivered/s and the publisher's p50/p99 batch round trip.
//! msgbench queue --port P [--pairs 4] [--secs S]
//!   `pairs` producers LPUSH timestamped items, `pairs` consumers BLPOP them. Prints items/s
//!   and push-to-pop latency p50/p99/p99.9 (µs).
//! Output is one JSON line.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shardis_perf::{encode, frame};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until `n` complete replies are buffered; returns them as raw frames.
fn read_replies(s: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut chunk = [0u8; 64 * 1024];
    while out.len() < n {
        match frame(buf, at) {
            Some((len, _)) => {
                out.push(buf[at..at + len].to_vec());
                at += len;
            }
            None => {
                let r = s.read(&mut chunk).expect("read");
                assert!(r > 0, "server closed the connection");
                buf.extend_from_slice(&chunk[..r]);
            }
        }
    }
    buf.drain(..at);
    out
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn fanout(port: u16, subs: usize, secs: u64, size: usize, pipeline: usize) {
    let delivered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..subs {
        let mut s = connect(port);
        let mut cmd = Vec::new();
        encode(&mut cmd, &[b"SUBSCRIBE", b"bench"]);
        s.write_all(&cmd).unwrap();
        let mut buf = Vec::new();
        read_replies(&mut s, &mut buf, 1);
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let (d, st) = (delivered.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut chunk = vec![0u8; 256 * 1024];
            let mut at = 0;
            while !st.load(Relaxed) {
                match s.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(_) => continue,
                }
                let mut got = 0;
                while let Some((len, _)) = frame(&buf, at) {
                    at += len;
                    got += 1;
                }
                buf.drain(..at);
                at = 0;
                d.fetch_add(got, Relaxed);
            }
        }));
    }
    let mut p = connect(port);
    let payload = vec![b'x'; size];
    let mut batch = Vec::new();
    for _ in 0..pipeline {
        encode(&mut batch, &[b"PUBLISH", b"bench", &payload]);
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut buf = Vec::new();
    let mut published = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        let t = Instant::now();
        p.write_all(&batch).unwrap();
        read_replies(&mut p, &mut buf, pipeline);
        hist.record(t.elapsed().as_micros() as u64).unwrap();
        published += pipeline as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let delivered_by_end = delivered.load(Relaxed);
    stop.store(true, Relaxed);
    for h in handles {
        let _ = h.join();
    }
    println!(
        "{{\"mode\":\"fanout\",\"subs\":{subs},\"published_per_sec\":{:.0},\"delivered_per_sec\":{:.0},\"batch_p50_us\":{},\"batch_p99_us\":{}}}",
        published as f64 / elapsed,
        delivered_by_end as f64 / elapsed,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99)
    );
}

fn queue(port: u16, pairs: usize, secs: u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let popped = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..pairs {
        let (st, h, n) = (stop.clone(), hist.clone(), popped.clone());
        handles.push(std::thread::spawn(move || {
            let mut s = connect(port);
            let mut buf = Vec::new();
            let mut cmd = Vec::new();
            encode(&mut cmd, &[b"BLPOP", b"benchq", b"1"]);
            let mut local = Histogram::<u64>::new(3).unwrap();
            while !st.load(Relaxed) {
                s.write_all(&cmd).unwrap();
                let r = read_replies(&mut s, &mut buf, 1).pop().unwrap();
                // *2\r\n$6\r\nbenchq\r\n$N\r\n<ts>\r\n
                let text = String::from_utf8_lossy(&r);
                if let Some(ts) = text.split("\r\n").nth(4).and_then(|t| t.parse::<u64>().ok()) {
                    local.record(now_ns().saturating_sub(ts) / 1000).unwrap();
                    n.fetch_add(1, Relaxed);
                }
            }
            h.lock().unwrap().add(local).unwrap();
        }));
    }
    for _ in 0..pairs {
        let st = stop.clone();
        handles.push(std::thread::spawn(move || {
            let mut s = connect(port);
            let mut buf = Vec::new();
            while !st.load(Relaxed) {
                let mut cmd = Vec::new();
                encode(&mut cmd, &[b"LPUSH", b"benchq", now_ns().to_string().as_bytes()]);
                s.write_all(&cmd).unwrap();
                read_replies(&mut s, &mut buf, 1);
            }
        }));
    }
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let n = popped.load(Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let h = hist.lock().unwrap();
    println!(
        "{{\"mode\":\"queue\",\"pairs\":{pairs},\"items_per_sec\":{:.0},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{}}}",
        n as f64 / elapsed,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port = arg(&args, "--port", 6379) as u16;
    let secs = arg(&args, "--secs", 5);
    match args.get(1).map(String::as_str) {
        Some("fanout") => {
            fanout(port, arg(&args, "--subs", 10) as usize, secs, arg(&args, "--size", 64) as usize, arg(&args, "--pipeline", 16) as usize)
        }
        Some("queue") => queue(port, arg(&args, "--pairs", 4) as usize, secs),
        _ => {
            eprintln!("usage: msgbench fanout|queue --port P [options] (see the source header)");
            std::process::exit(2);
        }
    }
}
