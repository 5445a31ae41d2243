//! `loadgen` against a real redis-server (Debian's, which `bash .ci/test-all` installs): both
//! ways of waiting for replies, blocking reads and `--busy-poll`, read every reply and write
//! what they claim to.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shardis_perf::Results;

/// A redis-server on a free loopback port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (bash .ci/test-all installs it)");
        let redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.call("PING") != "+PONG\r\n" {
            assert!(Instant::now() < deadline, "redis-server did not answer PING");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    /// Sends one inline command and returns the reply's bytes (or "" when not connected).
    fn call(&self, cmd: &str) -> String {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return String::new() };
        s.write_all(format!("{cmd}\r\n").as_bytes()).expect("write");
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs loadgen with `extra` flags: 4 connections × 25 rounds of 16 pipelined SETs of
/// distinct sequential keys, then returns its JSON results.
fn fill(redis: &Redis, extra: &[&str]) -> Results {
    let json = std::env::temp_dir().join(format!("loadgen-test-{}-{}.json", std::process::id(), redis.port));
    let port = redis.port.to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--port", &port, "--clients", "4", "--pipeline", "16", "--command", "set-get", "--ratio", "1:0"])
        .args(["--key-pattern", "S", "--key-min", "0", "--key-max", "1599", "--requests", "400", "--slow-ms", "5"])
        .args(["--json", json.to_str().expect("utf-8 path")])
        .args(extra)
        .output()
        .expect("run loadgen");
    assert!(out.status.success(), "loadgen failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&json).expect("loadgen wrote its results");
    let _ = std::fs::remove_file(&json);
    serde_json::from_str(&text).expect("results parse")
}

#[test]
fn blocking_and_busy_poll_clients_read_every_reply() {
    for extra in [&[][..], &["--busy-poll"][..]] {
        let redis = Redis::start();
        let r = fill(&redis, extra);
        assert_eq!((r.requests, r.errors), (1600, 0), "{extra:?}");
        assert!(r.max_ms > 0.0 && r.p50_ms <= r.max_ms, "{extra:?}: {r:?}");
        // 4 connections × 400 SETs of keys 0..1599 in sequence: each key once.
        assert_eq!(redis.call("DBSIZE"), ":1600\r\n", "{extra:?}");
    }
}
