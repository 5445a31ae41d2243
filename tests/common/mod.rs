//! Test harness: starts shardis and Debian's redis-server on free loopback ports, and a raw
//! RESP client that returns replies byte for byte.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process that is killed when dropped.
pub struct Server {
    child: Child,
    /// The TCP port it listens on.
    pub port: u16,
    /// shardis's working directory (`dir`: its RDB file goes there), removed when dropped.
    pub dir: Option<std::path::PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A new empty directory for one server's files.
pub fn fresh_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!("shardis-test-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a test directory");
    d
}

impl Server {
    /// A `redis` crate connection.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap().get_connection().unwrap()
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit code, once exited.
    pub fn exit_code(&mut self) -> Option<i32> {
        self.child.try_wait().ok().flatten().and_then(|s| s.code())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit (after SHUTDOWN); returns whether it did within `d`.
    pub fn wait_exit(&mut self, d: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < d {
            if !self.alive() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// Starts shardis with `shards` shards (unpinned) and extra `--name value` flags, on a port
/// the server picks itself (port 0), read back from its start-up log.
pub fn shardis(shards: usize, extra: &[&str]) -> Server {
    start_shardis(None, shards, extra)
}

/// Starts shardis as [`shardis`] does, reading the configuration file `conf` first.
#[allow(dead_code)]
pub fn shardis_with_config(conf: &str, shards: usize, extra: &[&str]) -> Server {
    start_shardis(Some(conf), shards, extra)
}

fn start_shardis(conf: Option<&str>, shards: usize, extra: &[&str]) -> Server {
    // Each server works in a directory of its own (its dump.rdb goes there), unless told.
    let dir = (!extra.contains(&"--dir")).then(fresh_dir);
    let dir_args: Vec<String> = dir.iter().flat_map(|d| ["--dir".to_string(), d.display().to_string()]).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardis-server"))
        .args(conf)
        .args(["--port", "0", "--threads", &shards.to_string(), "--pin-cpus", "no"])
        .args(&dir_args)
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start shardis-server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = wait_ready(&mut lines).expect("shardis exited before it was ready");
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            eprintln!("[shardis] {l}");
        }
    });
    Server { child, port, dir }
}

/// Reads a server's log (redis-server's start-up lines) up to `Ready to accept connections`
/// and returns the port it named (`Running mode=standalone, port=P.`, or the logo's
/// `Port: P`); None when the log ends first.
pub fn wait_ready(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Option<u16> {
    let mut port = None;
    for line in lines.map_while(Result::ok) {
        eprintln!("[shardis] {line}");
        if let Some(p) = line.split("Running mode=standalone, port=").nth(1) {
            port = p.trim_end_matches('.').parse().ok();
        } else if let Some(p) = line.split(" Port: ").nth(1) {
            port = p.trim().parse().ok();
        }
        if line.contains("Ready to accept connections") {
            return port;
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether the server on `port` is process `pid` (INFO server's `process_id`). Any I/O error
/// counts as "no": the port may belong to another test's server that is shutting down.
fn serves_pid(port: u16, pid: u32) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&got);
        if let Some(line) = text.split("process_id:").nth(1).and_then(|rest| rest.split_once("\r\n")) {
            return line.0 == pid.to_string();
        }
    }
}

/// Starts Debian's redis-server (the oracle) on a free port, without persistence.
pub fn redis_server() -> Server {
    redis_server_with(&[])
}

/// Starts Debian's redis-server as [`redis_server`] does, with `extra` flags after the
/// defaults (`--dir D --dbfilename F` to load or write a file there).
pub fn redis_server_with(extra: &[&str]) -> Server {
    let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("redis-server is not installed: the test command installs it (apt-get install redis-server)");
    for _ in 0..20 {
        let port = free_port();
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"])
            // Never load a dump.rdb left in the working directory (it may hold functions).
            .args(["--dir", &std::env::temp_dir().display().to_string(), "--dbfilename", &format!("shardis-oracle-{port}.rdb")])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let mut s = Server { child, port, dir: None };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // The free port may have been taken meanwhile by a server another test started
                // (on port 0): only our own child counts.
                if serves_pid(port, s.pid()) {
                    return s;
                }
                break;
            }
            if !s.alive() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start redis-server");
}

/// A frame as readable text for failure messages.
pub fn show(f: &Frame) -> String {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match f {
        Frame::Simple(b) => format!("+{}", s(b)),
        Frame::Error(b) => format!("-{}", s(b)),
        Frame::Int(i) => format!(":{i}"),
        Frame::Bulk(None) => "(nil)".into(),
        Frame::Bulk(Some(b)) => format!("{:?}", s(b)),
        Frame::Array(None) => "(nil array)".into(),
        Frame::Array(Some(v)) => format!("[{}]", v.iter().map(show).collect::<Vec<_>>().join(", ")),
        Frame::Other(t, b, v) => format!("{}{} {:?}", *t as char, s(b), v.iter().map(show).collect::<Vec<_>>()),
    }
}

/// A raw RESP connection returning whole reply frames as bytes.
pub struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

/// A parsed reply frame (RESP2/RESP3), keeping bytes exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Frame {
    /// `+...`
    Simple(Vec<u8>),
    /// `-...`
    Error(Vec<u8>),
    /// `:...`
    Int(i64),
    /// `$...`; `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*...`; `None` for `*-1`.
    Array(Option<Vec<Frame>>),
    /// Any RESP3-only type, as (tag, raw line, children).
    Other(u8, Vec<u8>, Vec<Frame>),
}

impl Frame {
    /// The bytes of a bulk or simple string.
    pub fn text(&self) -> String {
        match self {
            Frame::Bulk(Some(b)) | Frame::Simple(b) | Frame::Error(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Raw {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Raw { r: BufReader::new(s.try_clone().unwrap()), w: s }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, b: &[u8]) {
        self.w.write_all(b).unwrap();
    }

    /// Sends a command and reads its reply.
    pub fn cmd(&mut self, args: &[&[u8]]) -> Frame {
        self.send(&encode_cmd(args));
        self.read()
    }

    /// Sends a command given as strings and reads its reply.
    pub fn cmds(&mut self, args: &[&str]) -> Frame {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.cmd(&a)
    }

    fn line(&mut self) -> Vec<u8> {
        let mut l = Vec::new();
        self.r.read_until(b'\n', &mut l).unwrap();
        assert!(l.ends_with(b"\r\n"), "truncated reply line: {l:?}");
        l.truncate(l.len() - 2);
        l
    }

    /// Reads one reply frame.
    pub fn read(&mut self) -> Frame {
        let l = self.line();
        assert!(!l.is_empty(), "empty reply line");
        let body = l[1..].to_vec();
        let num = || String::from_utf8_lossy(&body).parse::<i64>().unwrap();
        match l[0] {
            b'+' => Frame::Simple(body),
            b'-' => Frame::Error(body),
            b':' => Frame::Int(num()),
            b'$' => {
                let n = num();
                if n < 0 {
                    return Frame::Bulk(None);
                }
                let mut b = vec![0; n as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n as usize);
                Frame::Bulk(Some(b))
            }
            b'*' => {
                let n = num();
                if n < 0 {
                    return Frame::Array(None);
                }
                Frame::Array(Some((0..n).map(|_| self.read()).collect()))
            }
            b'%' => Frame::Other(b'%', body.clone(), (0..num() * 2).map(|_| self.read()).collect()),
            b'~' | b'>' => Frame::Other(l[0], body.clone(), (0..num()).map(|_| self.read()).collect()),
            b'=' | b'!' => {
                let mut b = vec![0; num() as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                Frame::Other(l[0], b, Vec::new())
            }
            t => Frame::Other(t, body, Vec::new()),
        }
    }

    /// A numeric INFO field (from `INFO everything`); panics when it is missing.
    pub fn info_u64(&mut self, field: &str) -> u64 {
        let text = self.cmds(&["INFO", "everything"]).text();
        let line = text.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field} in INFO"));
        line.split(':').nth(1).unwrap().trim().parse().unwrap()
    }

    /// Reads one frame if one starts within `wait`.
    pub fn read_within(&mut self, wait: Duration) -> Option<Frame> {
        self.w.set_read_timeout(Some(wait)).unwrap();
        let ready = matches!(self.r.fill_buf(), Ok(b) if !b.is_empty());
        self.w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        ready.then(|| self.read())
    }

    /// Reads `at_least` frames (each awaited up to 10 s, as a loaded CI machine can be slow),
    /// then any more until `quiet` passes without one.
    pub fn read_until_quiet(&mut self, at_least: usize, quiet: Duration) -> Vec<Frame> {
        let mut got = Vec::new();
        while got.len() < at_least {
            match self.read_within(Duration::from_secs(10)) {
                Some(f) => got.push(f),
                None => return got,
            }
        }
        while let Some(f) = self.read_within(quiet) {
            got.push(f);
        }
        got
    }

    /// Sends a command without reading its reply.
    pub fn send_cmd(&mut self, args: &[&str]) {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&encode_cmd(&a));
    }

    /// Whether the server closed the connection (reads EOF within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0) | Err(_))
    }
}

/// Every type, both encodings of each collection, TTLs, two databases.
pub fn fill_every_type(c: &mut redis::Connection) {
    use redis::Commands;
    let _: () = redis::cmd("FLUSHALL").query(c).unwrap();
    let _: () = c.set("int", 12345).unwrap();
    let _: () = c.set("neg", -9_000_000_000i64).unwrap();
    let _: () = c.set("short", "hello").unwrap();
    let _: () = c.set("long", "x".repeat(300)).unwrap();
    let _: () = c.set("random", (0..200u32).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect::<String>()).unwrap();
    let _: () = c.set_ex("ttl", "v", 1000).unwrap();
    let _: () = c.rpush("list:small", &["a", "1", "-2", "c"]).unwrap();
    let _: () = c.rpush("list:big", (0..1000).map(|i| format!("item-{i}")).collect::<Vec<_>>()).unwrap();
    let _: () = c.sadd("set:ints", &[1, 2, 3, -7]).unwrap();
    let _: () = c.sadd("set:strs", &["a", "b", "c"]).unwrap();
    let _: () = c.sadd("set:big", (0..600).collect::<Vec<_>>()).unwrap();
    let _: () = c.hset_multiple("hash:small", &[("f1", "v1"), ("f2", "2")]).unwrap();
    let _: () = c.hset_multiple("hash:big", &(0..300).map(|i| (format!("f{i}"), format!("v{i}"))).collect::<Vec<_>>()).unwrap();
    let _: () = c.zadd_multiple("zset:small", &[(1.5, "a"), (-2.0, "b"), (3.0, "c")]).unwrap();
    let _: () = c.zadd_multiple("zset:big", &(0..300).map(|i| (i as f64 / 3.0, format!("m{i}"))).collect::<Vec<_>>()).unwrap();
    let _: () = c.pexpire("zset:small", 5_000_000).unwrap();
    let _: () = redis::cmd("SELECT").arg(3).query(c).unwrap();
    let _: () = c.set("in-db-3", "three").unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

/// A comparable image of every key of databases 0 and 3: type, contents, and whether it has
/// a TTL (with the TTL rounded to minutes).
pub fn image(c: &mut redis::Connection) -> std::collections::BTreeMap<String, String> {
    use redis::Commands;
    let mut out = std::collections::BTreeMap::new();
    for db in [0, 3] {
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let keys: Vec<String> = c.keys("*").unwrap();
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            let v = match t.as_str() {
                "string" => format!("{:?}", c.get::<_, Vec<u8>>(&k).unwrap()),
                "list" => format!("{:?}", c.lrange::<_, Vec<String>>(&k, 0, -1).unwrap()),
                "set" => {
                    let mut m: Vec<String> = c.smembers(&k).unwrap();
                    m.sort();
                    format!("{m:?}")
                }
                "hash" => format!("{:?}", c.hgetall::<_, std::collections::BTreeMap<String, String>>(&k).unwrap()),
                "zset" => format!("{:?}", c.zrange_withscores::<_, Vec<(String, f64)>>(&k, 0, -1).unwrap()),
                other => panic!("unexpected type {other}"),
            };
            let ttl: i64 = c.pttl(&k).unwrap();
            let ttl = if ttl < 0 { ttl } else { (ttl + 30_000) / 60_000 };
            out.insert(format!("{db}/{k}"), format!("{t} {v} ttl={ttl}"));
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    out
}

/// INFO persistence's `field` (panics when INFO has no such field).
pub fn persistence(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    let line = info.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field}: {info}"));
    line[field.len() + 1..].trim().to_string()
}
