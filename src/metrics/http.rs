//! The metrics endpoint: a thread with a blocking listener answering `GET /metrics` with
//! just enough HTTP/1.1 for a scraper (one request per connection, `Connection: close`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::P;
use crate::shard::{Shared, StartError};

/// Longest a client may take to send its request, and to take the reply.
const DEADLINE: Duration = Duration::from_secs(5);
/// Largest request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;

/// The metrics port, bound but not served yet ([`Bound::serve`]).
#[derive(Debug)]
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
}

/// The running endpoint; stopping or dropping it ends its thread.
#[derive(Debug)]
pub struct Endpoint {
    addr: SocketAddr,
    listener_fd: i32,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Endpoint {
    /// Binds `metrics-port` on the first `bind` address that binds (an address with a
    /// leading `-` is optional, as for the Redis port); `None` when metrics are off.
    pub fn bind(shared: &Shared) -> Result<Option<Bound>, StartError> {
        let port = shared.config.num(P::MetricsPort);
        if port <= 0 {
            return Ok(None);
        }
        let addrs = shared.config.bind.read().expect("config lock").clone();
        let mut last = None;
        for addr in &addrs {
            let (optional, a) = match addr.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, addr.as_str()),
            };
            let a = if a == "*" { "0.0.0.0" } else { a };
            let sock = if a.contains(':') { format!("[{a}]:{port}") } else { format!("{a}:{port}") };
            match TcpListener::bind(&sock) {
                Ok(listener) => {
                    let addr = listener.local_addr().map_err(|e| StartError::Bind(sock.clone(), e))?;
                    return Ok(Some(Bound { listener, addr }));
                }
                Err(e) if optional => {
                    log::debug!("metrics: skipping optional bind {sock}: {e}");
                    last = Some(StartError::Bind(sock, e));
                }
                Err(e) => return Err(StartError::Bind(sock, e)),
            }
        }
        Err(last.unwrap_or_else(|| StartError::Bind("(no address)".into(), std::io::Error::other("nothing to bind"))))
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        self.stop.store(true, Relaxed);
        // Wakes the thread's blocking accept(2), which then fails (EINVAL on Linux).
        // SAFETY: the descriptor is the listener the thread owns until it sees `stop`.
        unsafe { libc::shutdown(self.listener_fd, libc::SHUT_RDWR) };
        if thread.join().is_err() {
            log::warn!("the metrics thread panicked");
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Bound {
    /// Serves `/metrics` from a thread of its own until the endpoint is stopped.
    pub fn serve(self, shared: Arc<Shared>) -> std::io::Result<Endpoint> {
        let stop = Arc::new(AtomicBool::new(false));
        let addr = self.addr;
        let listener_fd = self.listener.as_raw_fd();
        let registry = super::render::registry(shared);
        let flag = stop.clone();
        let listener = self.listener;
        let thread = std::thread::Builder::new().name("metrics".into()).spawn(move || {
            while !flag.load(Relaxed) {
                match listener.accept() {
                    Ok((s, _)) if !flag.load(Relaxed) => {
                        // A bug answering one request must not end the thread: it owns the
                        // listener `Endpoint::halt` shuts down by its descriptor.
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| answer(s, &registry))).is_err() {
                            log::warn!("metrics: a request panicked");
                        }
                    }
                    Ok(_) => {}
                    Err(e) if !flag.load(Relaxed) => {
                        // Out of descriptors, say: wait rather than spin.
                        log::debug!("metrics: accept failed: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(_) => {}
                }
            }
        })?;
        log::info!("Metrics on http://{addr}/metrics");
        Ok(Endpoint { addr, listener_fd, stop, thread: Some(thread) })
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// `GET /metrics` (`head`: `HEAD`, the headers only).
    Metrics { head: bool },
    /// Another path.
    NotFound,
    /// `/metrics` with another method.
    BadMethod,
    /// Not a request line this endpoint understands.
    BadRequest,
}

/// Routes a request by its request line (`METHOD /path?query HTTP/1.x`).
fn route(head: &[u8]) -> Route {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else { return Route::BadRequest };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Route::BadRequest;
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    if target.split('?').next() != Some("/metrics") {
        return Route::NotFound;
    }
    match method {
        "GET" => Route::Metrics { head: false },
        "HEAD" => Route::Metrics { head: true },
        _ => Route::BadMethod,
    }
}

/// Reads a request head through its blank line: `Some((head, true))`, or `Some((part,
/// false))` once [`MAX_HEAD`] bytes came without one; `None` when the client closed, failed,
/// or took too long (`wait`, called before each read, gives the time left, `None` past it).
fn read_head(s: &mut impl Read, mut wait: impl FnMut() -> Option<Duration>) -> Option<(Vec<u8>, bool)> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Some((head, true));
        }
        if head.len() >= MAX_HEAD {
            return Some((head, false));
        }
        wait()?;
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Where the head ends (after its blank line), if it does.
fn head_end(b: &[u8]) -> Option<usize> {
    let crlf = b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = b.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Answers one connection.
fn answer(s: TcpStream, registry: &prometheus_client::registry::Registry) {
    let started = Instant::now();
    let _ = s.set_write_timeout(Some(DEADLINE));
    let wait = || {
        let left = DEADLINE.checked_sub(started.elapsed()).filter(|d| !d.is_zero())?;
        s.set_read_timeout(Some(left)).ok()?;
        Some(left)
    };
    let Some((head, complete)) = read_head(&mut &s, wait) else { return };
    let reply = match (complete, route(&head)) {
        (false, _) | (_, Route::BadRequest) => plain("400 Bad Request", "bad request\n", ""),
        (_, Route::NotFound) => plain("404 Not Found", "not found: try /metrics\n", ""),
        (_, Route::BadMethod) => plain("405 Method Not Allowed", "use GET\n", "Allow: GET, HEAD\r\n"),
        (_, Route::Metrics { head }) => match super::render::encode(registry) {
            Ok(body) => response("200 OK", super::render::CONTENT_TYPE, "", &body, head),
            Err(_) => plain("500 Internal Server Error", "cannot encode the metrics\n", ""),
        },
    };
    let _ = (&s).write_all(&reply);
}

fn plain(status: &str, body: &str, extra: &str) -> Vec<u8> {
    response(status, "text/plain; charset=utf-8", extra, body, false)
}

fn response(status: &str, content_type: &str, extra: &str, body: &str, head_only: bool) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n", body.len())
            .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Route::Metrics { head: false });
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics { head: false });
        assert_eq!(route(b"HEAD /metrics HTTP/1.1\n\n"), Route::Metrics { head: true });
        assert_eq!(route(b"GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"GET /metricsx HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1\r\n\r\n"), Route::BadMethod);
        for bad in [
            &b""[..],
            b"\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"get /metrics HTTP/1.1\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            assert_eq!(route(bad), Route::BadRequest, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn heads_end_at_their_blank_line() {
        let mut r = &b"GET /metrics HTTP/1.1\r\nA: b\r\n\r\nbody"[..];
        let (head, complete) = read_head(&mut r, || Some(DEADLINE)).unwrap();
        assert!(complete);
        assert_eq!(head, b"GET /metrics HTTP/1.1\r\nA: b\r\n\r\n");
        let mut r = &b"GET /metrics HTTP/1.1\n\n"[..];
        assert!(read_head(&mut r, || Some(DEADLINE)).unwrap().1);
    }

    #[test]
    fn unfinished_heads() {
        // The client closed before the blank line.
        let mut r = &b"GET /metrics HTTP/1.1\r\n"[..];
        assert_eq!(read_head(&mut r, || Some(DEADLINE)), None);
        // Past the deadline.
        let mut r = &b"GET /metrics HTTP/1.1\r\n"[..];
        assert_eq!(read_head(&mut r, || None), None);
        // Too long: answered 400.
        let long = vec![b'a'; MAX_HEAD + 10];
        let (_, complete) = read_head(&mut &long[..], || Some(DEADLINE)).unwrap();
        assert!(!complete);
    }

    #[test]
    fn responses_state_their_length() {
        let r = String::from_utf8(response("200 OK", "text/plain", "", "abc", false)).unwrap();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Length: 3\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\nabc"), "{r}");
        let r = String::from_utf8(response("200 OK", "text/plain", "", "abc", true)).unwrap();
        assert!(r.contains("Content-Length: 3\r\n") && r.ends_with("\r\n\r\n"), "{r}");
    }
}
