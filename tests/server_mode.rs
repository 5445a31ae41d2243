//! shardis-server as a drop-in for redis-server: it starts from Redis 7.0's own redis.conf and
//! from the test suite's default.conf (tests/assets/, unchanged, plus a few override lines as
//! Redis's harness appends them), says what redis-server says at start-up and on a taken port,
//! writes and removes its pid file, serves the unixsocket, logs to `logfile`, and exits with
//! status 0 on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{Frame, Raw};

const REDIS_CONF: &str = include_str!("assets/redis-7.0.15.conf");
const SUITE_DEFAULT_CONF: &str = include_str!("assets/redis-suite-default.conf");

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let p = std::env::temp_dir().join(format!("shardis-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server started from a configuration file, with its log (standard output) as it came.
struct Started {
    child: Child,
    log: Vec<String>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Started {
    /// The port named by the start-up log (the logo's `Port: P` or `port=P.`).
    fn port(&self) -> u16 {
        self.log
            .iter()
            .find_map(|l| {
                l.split(" Port: ")
                    .nth(1)
                    .or_else(|| l.split("Running mode=standalone, port=").nth(1))
                    .map(|p| p.trim().trim_end_matches('.'))
            })
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in the start-up log:\n{}", self.log.join("\n")))
    }

    /// Sends `sig` and waits (up to 10 s) for the exit; returns the status and the rest of
    /// the log.
    fn stop_with(mut self, sig: i32) -> (ExitStatus, Vec<String>) {
        // SAFETY: signalling our own child process.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
        let status = wait_exit(&mut self.child);
        let rest = self.lines.by_ref().map_while(Result::ok).collect();
        (status, rest)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_exit(child: &mut Child) -> ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `base` followed by `overrides` into `dir/redis.conf` (later lines win, as in the
/// harness's files) and starts shardis-server with it as its only argument.
fn spawn(dir: &TempDir, base: &str, overrides: &str) -> (Child, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let conf = dir.path("redis.conf");
    std::fs::write(&conf, format!("{base}\n{overrides}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shardis-server"))
        .arg(&conf)
        .current_dir(&dir.0)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start shardis-server");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Starts a server and reads its log up to `Ready to accept connections`.
fn start(dir: &TempDir, base: &str, overrides: &str) -> Started {
    let (child, mut lines) = spawn(dir, base, overrides);
    let mut log = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        let ready = line.contains("Ready to accept connections");
        log.push(line);
        if ready {
            return Started { child, log, lines };
        }
    }
    panic!("the server exited before it was ready:\n{}", log.join("\n"));
}

/// Two shards, unpinned (tests run side by side), on a port of the system's choosing.
fn overrides(dir: &TempDir, extra: &str) -> String {
    format!("port 0\nthreads 2\npin-cpus no\npidfile {}\n{extra}", dir.path("shardis.pid").display())
}

fn has(log: &[String], text: &str) -> bool {
    log.iter().any(|l| l.contains(text))
}

#[test]
fn redis_conf_starts_with_the_logo_and_sigterm_exits_cleanly() {
    let dir = TempDir::new("redis-conf");
    let s = start(&dir, REDIS_CONF, &overrides(&dir, "always-show-logo yes"));
    let pid = s.child.id();
    for line in ["Redis is starting", "Configuration loaded", "Server initialized"] {
        assert!(has(&s.log, line), "no {line:?} in:\n{}", s.log.join("\n"));
    }
    // The harness of Redis's test suite waits for exactly this.
    assert!(has(&s.log, &format!(" PID: {pid}")), "no logo with the pid in:\n{}", s.log.join("\n"));
    assert_eq!(std::fs::read_to_string(dir.path("shardis.pid")).unwrap(), format!("{pid}\n"));
    let mut c = Raw::connect(s.port());
    assert_eq!(c.cmds(&["PING"]), Frame::Simple(b"PONG".to_vec()));
    assert_eq!(
        c.cmds(&["CONFIG", "GET", "tcp-keepalive"]),
        Frame::Array(Some(vec![Frame::Bulk(Some(b"tcp-keepalive".to_vec())), Frame::Bulk(Some(b"300".to_vec()))]))
    );
    let (status, rest) = s.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{}", rest.join("\n"));
    assert!(has(&rest, "Received SIGTERM scheduling shutdown..."), "{}", rest.join("\n"));
    assert!(has(&rest, "Redis is now ready to exit, bye bye..."), "{}", rest.join("\n"));
    assert!(!dir.path("shardis.pid").exists(), "the pid file is removed at exit");
}

#[test]
fn without_the_logo_the_start_up_line_names_mode_and_port() {
    // redis.conf says `always-show-logo no`, and standard output is a pipe here.
    let dir = TempDir::new("no-logo");
    let s = start(&dir, REDIS_CONF, &overrides(&dir, ""));
    assert!(!has(&s.log, " PID: "), "{}", s.log.join("\n"));
    let line = s.log.iter().find(|l| l.contains("Running mode=standalone, port=")).expect("a Running mode line");
    assert!(line.ends_with(&format!("port={}.", s.port())), "{line}");
    // Redis's line format: `pid:M dd Mon yyyy hh:mm:ss.mmm * message`.
    let prefix = format!("{}:M ", s.child.id());
    assert!(line.starts_with(&prefix) && line.contains(" * Running mode"), "{line}");
    let (status, _) = s.stop_with(libc::SIGINT);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_taken_port_fails_listening_and_exits_non_zero() {
    let dir = TempDir::new("taken-port");
    let first = start(&dir, REDIS_CONF, &overrides(&dir, ""));
    let port = first.port();
    // The same user's second server must not join the first one's SO_REUSEPORT group.
    let dir2 = TempDir::new("taken-port-2");
    let (mut child, lines) =
        spawn(&dir2, REDIS_CONF, &format!("port {port}\nthreads 2\npin-cpus no\npidfile {}", dir2.path("p.pid").display()));
    let status = wait_exit(&mut child);
    let log: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(!status.success(), "{}", log.join("\n"));
    assert!(has(&log, &format!("Failed listening on port {port} (TCP), aborting.")), "{}", log.join("\n"));
    assert!(!dir2.path("p.pid").exists(), "no pid file for a server that did not start");
    // Every connection still reaches the first server.
    for _ in 0..8 {
        let Frame::Bulk(Some(info)) = Raw::connect(port).cmds(&["INFO", "server"]) else { panic!("INFO failed") };
        assert!(String::from_utf8_lossy(&info).contains(&format!("process_id:{}\r\n", first.child.id())));
    }
}

#[test]
fn the_test_suites_default_conf_with_a_unixsocket_and_a_logfile() {
    let dir = TempDir::new("suite-conf");
    let sock = dir.path("socket");
    let logfile = dir.path("server.log");
    // What the harness appends: its own dir, port and unixsocket.
    let extra = format!("dir {}\nunixsocket {}\nlogfile {}", dir.0.display(), sock.display(), logfile.display());
    let (mut child, mut lines) = spawn(&dir, SUITE_DEFAULT_CONF, &overrides(&dir, &extra));
    // With a logfile nothing goes to standard output; wait for the file to say it is ready.
    let t = Instant::now();
    let log = loop {
        let text = std::fs::read_to_string(&logfile).unwrap_or_default();
        if text.contains("Ready to accept connections") {
            break text;
        }
        assert!(child.try_wait().unwrap().is_none(), "the server exited: {text}");
        assert!(t.elapsed() < Duration::from_secs(10), "not ready: {text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(log.contains(&format!(" PID: {}", child.id())), "default.conf says always-show-logo yes: {log}");
    assert!(log.contains(&format!("The server is now ready to accept connections at {}", sock.display())), "{log}");
    let mut u = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    u.write_all(b"PING\r\nCLIENT INFO\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"\r\n") || !String::from_utf8_lossy(&got).contains("flags=") {
        let n = u.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("+PONG\r\n"), "{text}");
    assert!(text.contains(&format!("addr={}:0 ", sock.display())) && text.contains("flags=U "), "{text}");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    assert!(lines.next().is_none(), "nothing was written to standard output");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("Redis is now ready to exit, bye bye..."), "{log}");
    assert!(!Path::new(&sock).exists(), "the unix socket file is removed at exit");
}

#[test]
fn an_unopenable_logfile_is_a_fatal_config_error() {
    let dir = TempDir::new("bad-logfile");
    let conf = dir.path("redis.conf");
    std::fs::write(&conf, format!("port 0\nlogfile {}\n", dir.path("no/such/dir/log").display())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shardis-server")).arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Can't open the log file: No such file or directory"), "{err}");
}
