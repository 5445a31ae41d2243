//! MIGRATE: moves keys to another server (shardis or Redis) as Redis does, as DUMP payloads
//! sent in RESTORE commands over a connection each shard caches per target for 10 seconds.
//!
//! The keys stay locked (the dispatcher takes them, as for any keyed coordinator) from the
//! moment they are read until the acknowledged ones are deleted, so no write to them is lost
//! in between; the rest of the keyspace is served meanwhile, unlike Redis, which blocks.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use futures::future::LocalBoxFuture;
use futures::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use super::args::{eq_ic, parse_int};
use super::error::{CmdError, CmdResult};
use super::flags::WRITE;
use super::{CommandSpec, Route};
use crate::persist::rdb::{payload, EncodeOptions};
use crate::protocol::Reply;
use crate::shard::route::by_shard;
use crate::shard::{call, execute_held, Session, ShardLocal};
use crate::store::now_ms;

/// How long an unused cached connection stays open (Redis's `MIGRATE_SOCKET_CACHE_TTL`).
const CACHE_TTL_MS: u64 = 10_000;
/// Most cached connections per shard (Redis's `MIGRATE_SOCKET_CACHE_ITEMS`).
const CACHE_ITEMS: usize = 64;
/// Longest reply line read from the target, as Redis's 1 KiB buffers.
const MAX_LINE: usize = 1024;

/// MIGRATE.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("migrate", -6, WRITE, (0, 0, 0), "generic", Route::Coordinator(migrate))
    .keys_fn(migrate_keys)
    .doc(
        "Atomically transfers a key from one Redis instance to another.",
        "2.6.0",
        "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
        "host port key|\"\" destination-db:integer timeout:integer [COPY] [REPLACE] [AUTH password|AUTH2 username password] [KEYS key [key ...]]",
    )];

/// The key positions: the `key` argument, or the keys after KEYS (Redis's `migrateGetKeys`).
fn migrate_keys(a: &[Bytes]) -> Vec<usize> {
    let mut i = 6;
    while i < a.len() {
        if eq_ic(&a[i], "keys") {
            return if a[3].is_empty() { (i + 1..a.len()).collect() } else { Vec::new() };
        }
        i += if eq_ic(&a[i], "auth") {
            2
        } else if eq_ic(&a[i], "auth2") {
            3
        } else {
            1
        };
    }
    if a.len() > 3 {
        vec![3]
    } else {
        Vec::new()
    }
}

/// What MIGRATE was asked to do.
#[derive(Debug)]
struct Request {
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    keys: Vec<Bytes>,
    db: i64,
    timeout: Duration,
}

fn parse(a: &[Bytes]) -> Result<Request, CmdError> {
    let (mut copy, mut replace, mut auth) = (false, false, None);
    let mut keys = vec![a[3].clone()];
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if eq_ic(&a[j], "copy") {
            copy = true;
        } else if eq_ic(&a[j], "replace") {
            replace = true;
        } else if eq_ic(&a[j], "auth") && more >= 1 {
            auth = Some((None, a[j + 1].clone()));
            j += 1;
        } else if eq_ic(&a[j], "auth2") && more >= 2 {
            auth = Some((Some(a[j + 1].clone()), a[j + 2].clone()));
            j += 2;
        } else if eq_ic(&a[j], "keys") {
            if !a[3].is_empty() {
                return Err(CmdError::other("When using MIGRATE KEYS option, the key argument must be set to the empty string"));
            }
            keys = a[j + 1..].to_vec();
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout = parse_int(&a[5])?;
    let db = parse_int(&a[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    Ok(Request { copy, replace, auth, keys, db, timeout })
}

/// A connection kept open to one target.
#[derive(Debug)]
struct Cached {
    stream: TcpStream,
    /// The database the target has selected on it, when known.
    db: Option<i64>,
    last_use: u64,
    /// Bytes read past the last reply line.
    pending: Vec<u8>,
}

/// A shard's cached MIGRATE connections, by `host:port`.
#[derive(Debug, Default)]
pub struct SocketCache {
    sockets: RefCell<HashMap<String, Cached>>,
    reaping: std::cell::Cell<bool>,
}

impl SocketCache {
    /// Takes the cached connection to `name` out of the cache while it is in use.
    fn take(&self, local: &ShardLocal, name: &str) -> Option<Cached> {
        let c = self.sockets.borrow_mut().remove(name)?;
        local.shared.stats.migrate_cached_sockets.fetch_sub(1, Relaxed);
        Some(c)
    }

    /// Puts a connection (back) in the cache, making room as Redis does (a random one goes).
    fn put(&self, local: &std::rc::Rc<ShardLocal>, name: String, c: Cached) {
        let mut map = self.sockets.borrow_mut();
        if map.len() >= CACHE_ITEMS {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
                local.shared.stats.migrate_cached_sockets.fetch_sub(1, Relaxed);
            }
        }
        if map.insert(name, c).is_none() {
            local.shared.stats.migrate_cached_sockets.fetch_add(1, Relaxed);
        }
        drop(map);
        if !self.reaping.replace(true) {
            local.spawn(reap(local.clone()));
        }
    }
}

/// Closes cached connections unused for [`CACHE_TTL_MS`], checking every second while any
/// is cached (Redis's `migrateCloseTimedoutSockets`, from its cron).
async fn reap(local: std::rc::Rc<ShardLocal>) {
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        let now = now_ms();
        let cache = &local.migrate;
        let mut map = cache.sockets.borrow_mut();
        let before = map.len();
        map.retain(|_, c| now.saturating_sub(c.last_use) <= CACHE_TTL_MS);
        local.shared.stats.migrate_cached_sockets.fetch_sub((before - map.len()) as u64, Relaxed);
        if map.is_empty() {
            cache.reaping.set(false);
            return;
        }
    }
}

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
/// AUTH2 username password] [KEYS key...]`.
fn migrate(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(run(s, a))
}

/// One key to send: its name, DUMP payload and TTL (0 for none).
type Outgoing = (Bytes, Vec<u8>, i64);

async fn run(s: &mut Session, a: Vec<Bytes>) -> CmdResult {
    let req = parse(&a)?;
    let local = s.local.clone();
    let keys = read_keys(&local, s.db, &req.keys).await;
    if keys.is_empty() {
        return Ok(Reply::Status("NOKEY"));
    }
    let name = format!("{}:{}", String::from_utf8_lossy(&a[1]), String::from_utf8_lossy(&a[2]));
    let mut may_retry = true;
    loop {
        let mut conn = match local.migrate.take(&local, &name) {
            Some(c) => c,
            None => {
                connect(&a[1], &a[2], req.timeout).await.ok_or(CmdError::Line("IOERR error or timeout connecting to the client".into()))?
            }
        };
        conn.last_use = now_ms();
        let select = conn.db != Some(req.db);
        let out = request(&req, select, &keys);
        if let Err(e) = write_all(&mut conn.stream, &out, req.timeout).await {
            // The connection is dropped (closed); a cached one may just have gone stale.
            if may_retry && e.kind() != std::io::ErrorKind::TimedOut {
                may_retry = false;
                continue;
            }
            return Err(CmdError::Line("IOERR error or timeout writing to target instance".into()));
        }
        let mut lines = Vec::new();
        let mut failure = None;
        for _ in 0..(usize::from(req.auth.is_some()) + usize::from(select) + keys.len()) {
            match read_line(&mut conn, req.timeout).await {
                Ok(l) => lines.push(l),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // The replies to AUTH and SELECT come first; then one per RESTORE.
        let head = usize::from(req.auth.is_some()) + usize::from(select);
        if let Some(e) = &failure {
            if lines.len() <= head && may_retry && e.kind() != std::io::ErrorKind::TimedOut {
                may_retry = false;
                continue;
            }
        }
        let target_error = lines.iter().find(|l| l.first() == Some(&b'-')).map(|l| String::from_utf8_lossy(&l[1..]).into_owned());
        let head_ok = lines.len() >= head && lines[..head].iter().all(|l| l.first() != Some(&b'-'));
        let acked: Vec<Bytes> = if head_ok {
            lines[head.min(lines.len())..].iter().zip(&keys).filter(|(l, _)| l.first() != Some(&b'-')).map(|(_, k)| k.0.clone()).collect()
        } else {
            Vec::new()
        };
        if !req.copy && !acked.is_empty() {
            let mut del = vec![Bytes::from_static(b"DEL")];
            del.extend(acked);
            execute_held(s, vec![del]).await;
        }
        if let Some(msg) = target_error {
            // SELECT must be sent again next time; the connection stays cached.
            conn.db = None;
            if failure.is_none() {
                local.migrate.put(&local, name, conn);
            }
            return Err(CmdError::Other(format!("Target instance replied with error: {msg}").into()));
        }
        if failure.is_some() {
            return Err(CmdError::Line("IOERR error or timeout reading to target instance".into()));
        }
        conn.db = Some(req.db);
        local.migrate.put(&local, name, conn);
        return Ok(Reply::OK);
    }
}

/// The keys of `names` that exist (and have not expired), read on their shards.
async fn read_keys(local: &std::rc::Rc<ShardLocal>, db: usize, names: &[Bytes]) -> Vec<Outgoing> {
    let shards = local.shared.shards();
    let mut found: Vec<(usize, Outgoing)> = Vec::new();
    let indexed: Vec<(usize, Bytes)> = names.iter().cloned().enumerate().collect();
    for (shard, part) in by_shard(indexed, |(_, k)| k, shards) {
        let got = call(local, shard, move |l| {
            let now = now_ms();
            let opts = EncodeOptions::from_config(&l.shared.config, now);
            let mut store = l.store.borrow_mut();
            let d = store.db(db);
            part.into_iter()
                .filter_map(|(i, k)| {
                    let e = d.read(&k, now)?;
                    let ttl = if e.expire_at == 0 { 0 } else { (e.expire_at as i64 - now as i64).max(1) };
                    let dump = payload::dump(&e.value, &opts);
                    Some((i, (k, dump, ttl)))
                })
                .collect::<Vec<_>>()
        })
        .await;
        found.extend(got);
    }
    // In the order given, as Redis sends them.
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().map(|(_, o)| o).collect()
}

async fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Option<Cached> {
    let host = std::str::from_utf8(host).ok()?.to_string();
    let port: u16 = std::str::from_utf8(port).ok()?.parse().ok()?;
    let stream = TcpStream::connect_timeout((host.as_str(), port), timeout).await.ok()?;
    stream.set_nodelay(true).ok()?;
    Some(Cached { stream, db: None, last_use: now_ms(), pending: Vec::new() })
}

/// The pipelined request: AUTH, SELECT when needed, one RESTORE per key.
fn request(req: &Request, select: bool, keys: &[Outgoing]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some((user, pass)) = &req.auth {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = user {
            args.push(u);
        }
        args.push(pass);
        push_command(&mut out, &args);
    }
    if select {
        push_command(&mut out, &[b"SELECT", req.db.to_string().as_bytes()]);
    }
    for (key, dump, ttl) in keys {
        let ttl = ttl.to_string();
        let mut args: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), dump];
        if req.replace {
            args.push(b"REPLACE");
        }
        push_command(&mut out, &args);
    }
    out
}

/// Appends `args` as a RESP array of bulk strings (a request, written by the reply encoder).
fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    crate::protocol::encode(&Reply::Array(args.iter().map(|a| Reply::bulk(a)).collect()), false, out);
}

async fn write_all(stream: &mut TcpStream, buf: &[u8], timeout: Duration) -> std::io::Result<()> {
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(buf).await?;
    stream.flush().await
}

/// One reply line (without its CRLF), waiting at most `timeout` for each read.
async fn read_line(c: &mut Cached, timeout: Duration) -> std::io::Result<Vec<u8>> {
    c.stream.set_read_timeout(Some(timeout))?;
    loop {
        if let Some(end) = c.pending.windows(2).position(|w| w == b"\r\n") {
            let line = c.pending[..end].to_vec();
            c.pending.drain(..end + 2);
            return Ok(line);
        }
        if c.pending.len() > MAX_LINE {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "reply line too long"));
        }
        let mut buf = [0u8; 4096];
        let n = c.stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        c.pending.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ').map(|w| Bytes::copy_from_slice(if w == "\"\"" { b"" } else { w.as_bytes() })).collect()
    }

    #[test]
    fn keys_are_found_as_redis_finds_them() {
        assert_eq!(migrate_keys(&args("migrate h 1 k 0 5")), vec![3]);
        assert_eq!(migrate_keys(&args("migrate h 1 \"\" 0 5 auth keys keys a b")), vec![9, 10]);
        assert_eq!(migrate_keys(&args("migrate h 1 \"\" 0 5 copy auth2 u p keys a")), vec![11]);
        assert_eq!(migrate_keys(&args("migrate h 1 k 0 5 keys a")), Vec::<usize>::new());
    }

    #[test]
    fn options_parse_and_refuse_as_redis() {
        let r = parse(&args("migrate h 1 \"\" 3 0 copy replace auth2 u p keys a b")).unwrap();
        assert!(r.copy && r.replace);
        assert_eq!(r.keys.len(), 2);
        assert_eq!((r.db, r.timeout), (3, Duration::from_millis(1000)));
        assert!(matches!(parse(&args("migrate h 1 k 0 5 keys a")), Err(CmdError::Other(_))));
        assert!(matches!(parse(&args("migrate h 1 k 0 5 auth")), Err(CmdError::Syntax)));
        assert!(matches!(parse(&args("migrate h 1 k 0 5 bogus")), Err(CmdError::Syntax)));
        assert!(parse(&args("migrate h 1 k x 5")).is_err());
    }

    #[test]
    fn the_request_is_resp() {
        let req = parse(&args("migrate h 1 k 9 5 replace auth pw")).unwrap();
        let out = request(&req, true, &[(Bytes::from_static(b"k"), b"P".to_vec(), 0)]);
        assert_eq!(
            out,
            b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n9\r\n*5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nP\r\n$7\r\nREPLACE\r\n"
        );
    }
}
