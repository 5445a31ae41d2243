//! Snapshots without fork: SAVE, BGSAVE, save points and the snapshot at SHUTDOWN.
//!
//! ```text
//!  coordinator (the client's shard)        shard 0 .. n-1                writer thread
//!   open temp file, header  ------------------------------------------>  write header
//!   lock every shard whole (txn::under_locks)
//!     Call: snapshot_begin + walk task ->  flip phase, start walking
//!   unlock: commands run again             walk: encode entries  --->  chunks (bounded
//!                                           (store/snap.rs keeps a        channel), SELECTDB
//!                                            copy of what changes)        when the db changes
//!   await the writer  <------------------------------------------------  EOF, CRC64, fsync,
//!                                                                          rename, fsync dir
//! ```
//!
//! The phase flips on every shard while one owner holds every shard whole, so no
//! cross-shard transaction or script is half applied in the image: it is one point in time
//! across the shards. Shards keep serving while they walk: a walk runs [`WALK_SLICE`] at a
//! time, then lets the shard poll its sockets ([`crate::shard::let_io_in`]), and waits when
//! the writer is behind (the channel is bounded), so the memory a snapshot costs is the
//! copies of entries changed meanwhile plus
//! [`CHANNEL_CHUNKS`] chunks in flight.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use futures::channel::oneshot;

use super::rdb;
use crate::config::P;
use crate::shard::{call_all, txn, ShardLocal, Shared};
use crate::store::now_ms;

/// Buckets one walk step visits before it looks at its buffer and yields.
const STEP_BUCKETS: usize = 64;
/// Bytes a walk gathers before it hands them to the writer.
const CHUNK_BYTES: usize = 256 * 1024;
/// How long a walk runs steps before it lets the shard poll its sockets (measured on one
/// core with 20 clients: 100 µs kept 60% of plain GET/SET throughput during BGSAVE and
/// p99 under 2 ms; 250 µs kept 45%; idle, a SAVE takes ~25% longer than without pauses).
const WALK_SLICE: std::time::Duration = std::time::Duration::from_micros(100);
/// Bytes the writer gathers before it hands them to io_uring.
const WRITE_BYTES: usize = 1 << 20;
/// Chunks in flight between the walks and the writer.
const CHANNEL_CHUNKS: usize = 16;

/// Why a snapshot did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Another snapshot is under way.
    #[error("Background save already in progress")]
    InProgress,
    /// The file could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The encoder failed.
    #[error("{0}")]
    Rdb(#[from] rdb::RdbError),
    /// A shard stopped during the walk (shutdown).
    #[error("the server stopped during the snapshot")]
    Stopped,
    /// FLUSHALL or SHUTDOWN ended it early (Redis kills its child): not a failure.
    #[error("the snapshot was aborted")]
    Aborted,
}

/// What INFO's persistence section and LASTSAVE report, shared by the shards.
#[derive(Debug, Default)]
pub struct SaveState {
    /// A snapshot is under way.
    pub in_progress: AtomicBool,
    /// BGSAVE SCHEDULE asked for one while another ran.
    pub scheduled: AtomicBool,
    /// Unix seconds of the last successful save (start-up time before any).
    pub last_save: AtomicU64,
    /// Whether the last snapshot failed (`rdb_last_bgsave_status:err`).
    pub last_failed: AtomicBool,
    /// Unix seconds the last snapshot was tried.
    pub last_try: AtomicU64,
    /// Seconds the last snapshot took (-1: none yet).
    pub last_secs: AtomicI64,
    /// Unix ms the current snapshot began (0: none).
    pub started_ms: AtomicU64,
    /// Successful snapshots since start (`rdb_saves`).
    pub saves: AtomicU64,
    /// Keys written by the current snapshot.
    pub keys_done: AtomicU64,
    /// Keys there were when the current snapshot began.
    pub keys_total: AtomicU64,
    /// Changes counted by the shards when the last successful snapshot began.
    pub changes_at_save: AtomicU64,
    /// Bytes of entries the last snapshot copied because they changed during it
    /// (`rdb_last_cow_size`).
    pub last_copies: AtomicU64,
    /// Keys loaded, and keys skipped as expired, by the last load.
    pub loaded: Mutex<(u64, u64)>,
    /// The RDB file is loading at start-up: commands without the `loading` flag are refused.
    pub loading: AtomicBool,
    /// The snapshot under way is to stop (FLUSHALL, SHUTDOWN): walks check it every step.
    pub abort: AtomicBool,
}

impl SaveState {
    /// Whether writes are refused (`MISCONF`): the last snapshot failed while save points are
    /// set and `stop-writes-on-bgsave-error` is on, as Redis's `writeCommandsDeniedByDiskError`.
    /// One relaxed load when snapshots succeed.
    pub fn writes_refused(&self, config: &crate::config::Config) -> bool {
        self.last_failed.load(Relaxed) && config.flag(crate::config::P::StopWritesOnBgsaveError) && !config.save_points().is_empty()
    }

    /// Records a successful save that began when the shards had counted `changes`.
    fn saved(&self, changes: u64) {
        self.last_failed.store(false, Relaxed);
        self.last_save.store(now_ms() / 1000, Relaxed);
        self.saves.fetch_add(1, Relaxed);
        self.changes_at_save.store(changes, Relaxed);
        log::info!("DB saved on disk");
    }

    /// Unix seconds of the last successful save (LASTSAVE).
    pub fn last_save(&self) -> u64 {
        self.last_save.load(Relaxed)
    }
}

/// The file snapshots are written to: `dir` (the working directory) and `dbfilename`.
pub fn rdb_path(shared: &Shared) -> PathBuf {
    PathBuf::from(shared.config.text(P::Dbfilename))
}

/// Writes a snapshot of every shard to `dbfilename` and waits for it (SAVE, BGSAVE's task,
/// save points, SHUTDOWN). Shards keep serving meanwhile. Only a `background` one that fails
/// marks `rdb_last_bgsave_status:err` (and so may stop writes, `stop-writes-on-bgsave-error`),
/// as in Redis; any success clears it.
pub async fn save(local: &Rc<ShardLocal>, background: bool) -> Result<(), SaveError> {
    let state = &local.shared.save;
    if state.in_progress.swap(true, Relaxed) {
        return Err(SaveError::InProgress);
    }
    let start = std::time::Instant::now();
    state.started_ms.store(now_ms(), Relaxed);
    state.last_try.store(now_ms() / 1000, Relaxed);
    state.keys_done.store(0, Relaxed);
    state.abort.store(false, Relaxed);
    let parts = FileParts::new(&local.shared, rdb_path(&local.shared));
    let result = match write_snapshot(local, parts, None).await {
        Err(SaveError::Stopped) if state.abort.load(Relaxed) => Err(SaveError::Aborted),
        r => r,
    };
    let copied = call_all(local, |sh| sh.store.borrow().snapshot_copied_bytes() as u64).await;
    state.last_copies.store(copied.into_iter().sum(), Relaxed);
    state.last_secs.store(start.elapsed().as_secs() as i64, Relaxed);
    state.started_ms.store(0, Relaxed);
    match &result {
        Ok(changes) => state.saved(*changes),
        Err(SaveError::Aborted) => log::warn!("Background saving terminated by abort"),
        Err(e) if background => {
            state.last_failed.store(true, Relaxed);
            log::warn!("Background saving error: {e}");
        }
        Err(e) => log::warn!("Error saving DB on disk: {e}"),
    }
    state.in_progress.store(false, Relaxed);
    result.map(|_| ())
}

/// Asks the snapshot under way, if one is, to stop (FLUSHALL and SHUTDOWN, where Redis
/// kills its child); its temporary file is removed. Does not wait: FLUSHALL runs under every
/// shard's lock, which a snapshot still starting waits for.
pub fn abort(shared: &Shared) {
    if shared.save.in_progress.load(Relaxed) {
        shared.save.abort.store(true, Relaxed);
    }
}

/// After FLUSHALL with save points set, as Redis's `flushAllDataAndResetRDB`: writes the
/// snapshot of the now empty dataset (the function libraries only) at once, without a walk
/// or locks (FLUSHALL holds every shard whole), and counts `changes` (the shards' count
/// now) as saved. A failure is logged and left for the save points, as Redis's `rdbSave`.
pub fn save_empty(shared: &Shared, changes: u64) {
    match write_empty(shared, rdb_path(shared)) {
        Ok(()) => shared.save.saved(changes),
        Err(e) => log::warn!("Error saving DB on disk: {e}"),
    }
}

/// Writes an RDB file of no keys (the function libraries only) to `dest`, through a
/// temporary file renamed into place.
pub fn write_empty(shared: &Shared, dest: PathBuf) -> Result<(), SaveError> {
    let f = FileParts::new(shared, dest);
    let write = || -> Result<(), SaveError> {
        let file = std::fs::File::create(&f.tmp)?;
        let mut enc = rdb::FileEncoder::new(std::io::BufWriter::new(file), f.checksum, f.opts.compress);
        enc.header(&f.aux, f.libraries.iter().map(Vec::as_slice))?;
        enc.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&f.tmp, &f.dest)?;
        Ok(())
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&f.tmp);
    })
}

/// What a snapshot file is made of besides its keys, taken when it begins.
#[derive(Debug)]
pub struct FileParts {
    /// Where it goes (`dbfilename`, or an AOF base file).
    dest: PathBuf,
    /// The temporary name it is written under.
    tmp: PathBuf,
    opts: rdb::EncodeOptions,
    aux: rdb::AuxFields,
    /// The function libraries' code.
    libraries: Vec<Vec<u8>>,
    /// `rdbchecksum`.
    checksum: bool,
    /// Written as the commands that rebuild the data (an AOF base with
    /// `aof-use-rdb-preamble no`), not as RDB.
    pub commands: bool,
    /// `aof-timestamp-enabled`: a command-form file starts with a `#TS:` annotation.
    timestamp: bool,
}

impl FileParts {
    /// What a snapshot to `dest` begun now is made of.
    pub fn new(shared: &Shared, dest: PathBuf) -> Self {
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        FileParts {
            dest,
            tmp: dir.join(format!("temp-{}-{}.rdb", std::process::id(), now_ms())),
            opts: rdb::EncodeOptions::from_config(&shared.config, now_ms()),
            aux: rdb::AuxFields { ctime: now_ms() / 1000, used_mem: crate::alloc::used_memory(), ..Default::default() },
            libraries: shared.scripts.libraries.read().expect("libraries lock").codes().into_iter().map(|c| c.code.to_vec()).collect(),
            checksum: shared.config.flag(P::Rdbchecksum),
            commands: false,
            timestamp: shared.config.flag(P::AofTimestampEnabled),
        }
    }
}

/// Starts [`save`] in the background (BGSAVE, save points); a scheduled one follows it.
pub fn start_background(local: &Rc<ShardLocal>) {
    let l = local.clone();
    local.spawn(async move {
        log::info!("Background saving started");
        loop {
            let _ = save(&l, true).await;
            if !l.shared.save.scheduled.swap(false, Relaxed) {
                break;
            }
        }
    });
}

/// Whether save points are configured (`save` is not empty).
pub fn has_save_points(shared: &Shared) -> bool {
    !shared.config.save_points().is_empty()
}

/// How SHUTDOWN (or a signal, by `shutdown-on-sigterm`/`-sigint`) treats the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtShutdown {
    /// Save when save points are configured (Redis's default).
    Default,
    /// Save whatever the save points say.
    Save,
    /// Do not save.
    NoSave,
}

/// Shuts the server down after the snapshot `mode` asks for. A failed snapshot stops the
/// shutdown unless `force` (returns false then).
pub async fn shutdown(local: &Rc<ShardLocal>, mode: AtShutdown, force: bool) -> bool {
    let shared = &local.shared;
    let wanted = match mode {
        AtShutdown::Default => has_save_points(shared),
        AtShutdown::Save => true,
        AtShutdown::NoSave => false,
    };
    if wanted {
        log::info!("Saving the final RDB snapshot before exiting.");
        // A snapshot under way is not waited for: a new one covers everything.
        abort(shared);
        while shared.save.in_progress.load(Relaxed) {
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
        if let Err(e) = save(local, false).await {
            log::warn!("Error trying to save the DB, can't exit: {e}");
            if !force {
                log::warn!("Errors trying to shut down the server. Check the logs for more information.");
                return false;
            }
        }
    }
    crate::persist::aof::rewrite::flush_at_shutdown(local).await;
    shared.shutdown();
    true
}

/// From a thread outside the shards (a signal): runs [`shutdown`] on shard 0.
pub fn shutdown_from_outside(shared: &Shared, mode: AtShutdown, force: bool) {
    shared.mailboxes[0].push(crate::shard::Msg::Call(Box::new(move |local| {
        let l = local.clone();
        local.spawn(async move {
            shutdown(&l, mode, force).await;
        });
    })));
}

/// Seconds between save-point checks.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// After a failed snapshot, save points wait this long before trying again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
const RETRY_AFTER_SECS: u64 = 5;

/// Shard 0's task for the `save <seconds> <changes>` points (and the AOF's automatic
/// rewrites): once a second, a snapshot
/// starts when one point has both its time since the last save and its changes.
pub async fn save_points_loop(local: Rc<ShardLocal>) {
    loop {
        glommio::timer::sleep(CHECK_EVERY).await;
        let shared = &local.shared;
        crate::persist::aof::rewrite::maybe_auto(&local);
        let points = shared.config.save_points();
        if points.is_empty() || shared.save.in_progress.load(Relaxed) || shared.shutting_down.load(Relaxed) {
            continue;
        }
        let now = now_ms() / 1000;
        let since = now.saturating_sub(shared.save.last_save());
        if shared.save.last_failed.load(Relaxed) && now.saturating_sub(shared.save.last_try.load(Relaxed)) < RETRY_AFTER_SECS {
            continue;
        }
        let changes = changes_since_save(&local).await;
        if let Some((secs, n)) = points.iter().find(|(secs, n)| changes >= *n && since >= *secs) {
            log::info!("{n} changes in {secs} seconds. Saving...");
            start_background(&local);
        }
    }
}

/// Changes since the last successful snapshot began (`rdb_changes_since_last_save`).
pub async fn changes_since_save(local: &Rc<ShardLocal>) -> u64 {
    let total: u64 = call_all(local, |sh| sh.store.borrow().changes()).await.into_iter().sum();
    total.saturating_sub(local.shared.save.changes_at_save.load(Relaxed))
}

/// One snapshot: returns the changes counted when it began.
/// Something every shard does at a snapshot's point in time, while every shard is held.
pub type AtFlip = std::sync::Arc<dyn Fn(&Rc<ShardLocal>) + Send + Sync>;

/// Writes a snapshot of every shard as `parts` says; `at_flip` runs on every shard at its
/// point in time. Returns the changes the shards had counted then. The caller holds
/// [`SaveState::in_progress`] (one walk at a time).
pub async fn write_snapshot(local: &Rc<ShardLocal>, parts: FileParts, at_flip: Option<AtFlip>) -> Result<u64, SaveError> {
    let shared = &local.shared;
    let (opts, commands) = (parts.opts, parts.commands);
    let (tx, rx) = flume::bounded::<Chunk>(CHANNEL_CHUNKS);
    let (done_tx, done_rx) = oneshot::channel();
    let n = shared.shards();
    // The writer runs on a thread of its own (encoding, LZF and CRC off the shards) with a
    // glommio executor: the file is written through io_uring.
    glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .name("rdb-writer")
        .io_memory(64 * 1024)
        .spawn(move || async move {
            let r = write_file(&parts, rx, n).await;
            if r.is_err() {
                let _ = std::fs::remove_file(&parts.tmp);
            }
            let _ = done_tx.send(r);
        })
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // The point in time: every shard flips its phase while this owner holds them all.
    let counts = txn::under_locks(local, txn::lock_plan(n, [], true), async {
        call_all(local, move |sh| {
            let (keys, changes) = {
                let mut st = sh.store.borrow_mut();
                st.snapshot_begin();
                (st.dbs().iter().map(|d| d.len() as u64).sum::<u64>(), st.changes())
            };
            if let Some(f) = &at_flip {
                f(sh);
            }
            sh.spawn(walk(sh.clone(), tx.clone(), opts, commands));
            (keys, changes)
        })
        .await
    })
    .await;
    shared.save.keys_total.store(counts.iter().map(|c| c.0).sum(), Relaxed);
    let changes = counts.iter().map(|c| c.1).sum();
    match done_rx.await {
        Ok(r) => r.map(|()| changes),
        Err(_) => Err(SaveError::Stopped),
    }
}

/// Entries of one database, encoded, on their way to the writer; an empty chunk says that
/// its shard's walk is complete.
struct Chunk {
    db: usize,
    bytes: Vec<u8>,
}

/// A shard's walk: encodes its unwritten entries a step at a time and hands them over.
/// With `rdb-key-save-delay` (µs per key, for tests) a step is one bucket and the walk
/// sleeps for its keys before the next, times the shards walking side by side: the whole
/// snapshot takes about as long as Redis's one child would.
async fn walk(sh: Rc<ShardLocal>, tx: flume::Sender<Chunk>, opts: rdb::EncodeOptions, commands: bool) {
    let mut ready: Vec<Chunk> = Vec::new();
    let mut cur = Chunk { db: 0, bytes: Vec::new() };
    let mut turn = std::time::Instant::now();
    loop {
        // Read at every step: a test may lower it while the walk runs.
        let delay_us = sh.shared.config.num(P::RdbKeySaveDelay).max(0) as u64 * sh.shared.shards() as u64;
        let step = if delay_us > 0 { 1 } else { STEP_BUCKETS };
        if sh.shared.save.abort.load(Relaxed) {
            sh.store.borrow_mut().snapshot_abort();
            return;
        }
        let mut keys = 0u64;
        let done = {
            let mut st = sh.store.borrow_mut();
            st.snapshot_step(step, &mut |db, e| {
                if db != cur.db && !cur.bytes.is_empty() {
                    ready.push(std::mem::replace(&mut cur, Chunk { db, bytes: Vec::new() }));
                }
                cur.db = db;
                if commands {
                    crate::persist::aof::propagate::rewrite_entry(&mut cur.bytes, e);
                } else {
                    rdb::encode_entry(&mut cur.bytes, e, &opts);
                }
                keys += 1;
            })
        };
        sh.shared.save.keys_done.fetch_add(keys, Relaxed);
        if cur.bytes.len() >= CHUNK_BYTES || (done && !cur.bytes.is_empty()) {
            let db = cur.db;
            ready.push(std::mem::replace(&mut cur, Chunk { db, bytes: Vec::new() }));
        }
        if done {
            ready.push(Chunk { db: 0, bytes: Vec::new() });
        }
        for c in ready.drain(..) {
            if tx.send_async(c).await.is_err() {
                // The writer failed: this shard stops keeping copies for it.
                sh.store.borrow_mut().snapshot_abort();
                return;
            }
        }
        if done {
            return;
        }
        if delay_us > 0 {
            key_save_delay(&sh.shared, keys * delay_us).await;
        } else if turn.elapsed() >= WALK_SLICE {
            crate::shard::let_io_in().await;
            turn = std::time::Instant::now();
        }
    }
}

/// Sleeps `us` microseconds in slices short enough that an abort is seen promptly.
async fn key_save_delay(shared: &Shared, us: u64) {
    const SLICE_US: u64 = 10_000;
    let mut left = us;
    while left > 0 && !shared.save.abort.load(Relaxed) && shared.config.num(P::RdbKeySaveDelay) > 0 {
        let now = left.min(SLICE_US);
        glommio::timer::sleep(std::time::Duration::from_micros(now)).await;
        left -= now;
    }
}

/// The writer (on its own thread and glommio executor): header, the shards' chunks (a
/// SELECTDB where the database changes), EOF and checksum into the temporary file; then
/// fsync, rename into place and fsync of the directory, only when all `shards` walks said
/// they were complete.
async fn write_file(parts: &FileParts, rx: flume::Receiver<Chunk>, shards: usize) -> Result<(), SaveError> {
    use futures::AsyncWriteExt;
    let (tmp, dest) = (&parts.tmp, &parts.dest);
    let file = glommio::io::BufferedFile::create(tmp).await.map_err(std::io::Error::from)?;
    let mut out = glommio::io::StreamWriterBuilder::new(file).with_buffer_size(WRITE_BYTES).build();
    if parts.commands {
        write_commands(parts, rx, shards, &mut out).await?;
    } else {
        write_rdb(parts, rx, shards, &mut out).await?;
    }
    // Closing flushes and fsyncs the file.
    out.close().await?;
    std::fs::rename(tmp, dest)?;
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The file in command form (an AOF base with `aof-use-rdb-preamble no`), as Redis's
/// rewrite writes it: a `#TS:` annotation with `aof-timestamp-enabled`, FUNCTION LOAD of each
/// library, then each database's keys after a SELECT.
async fn write_commands(
    parts: &FileParts,
    rx: flume::Receiver<Chunk>,
    shards: usize,
    out: &mut (impl futures::AsyncWrite + Unpin),
) -> Result<(), SaveError> {
    use futures::AsyncWriteExt;
    let mut head = Vec::new();
    if parts.timestamp {
        head.extend_from_slice(format!("#TS:{}\r\n", now_ms() / 1000).as_bytes());
    }
    for code in &parts.libraries {
        crate::protocol::encode_command(&[&b"FUNCTION"[..], b"LOAD", code], &mut head);
    }
    out.write_all(&head).await?;
    let (mut db, mut complete) = (None, 0);
    while let Ok(chunk) = rx.recv_async().await {
        if chunk.bytes.is_empty() {
            complete += 1;
            continue;
        }
        if db != Some(chunk.db) {
            let mut select = Vec::new();
            crate::protocol::encode_command(&[&b"SELECT"[..], itoa::Buffer::new().format(chunk.db).as_bytes()], &mut select);
            out.write_all(&select).await?;
            db = Some(chunk.db);
        }
        out.write_all(&chunk.bytes).await?;
    }
    if complete != shards {
        return Err(SaveError::Stopped);
    }
    Ok(())
}

/// The RDB file: header, the shards' chunks (a SELECTDB where the database changes), EOF
/// and checksum.
async fn write_rdb(
    parts: &FileParts,
    rx: flume::Receiver<Chunk>,
    shards: usize,
    out: &mut (impl futures::AsyncWrite + Unpin),
) -> Result<(), SaveError> {
    use futures::AsyncWriteExt;
    let mut enc = rdb::FileEncoder::new(Vec::with_capacity(2 * WRITE_BYTES), parts.checksum, parts.opts.compress);
    enc.header(&parts.aux, parts.libraries.iter().map(Vec::as_slice))?;
    let mut complete = 0;
    while let Ok(chunk) = rx.recv_async().await {
        if chunk.bytes.is_empty() {
            complete += 1;
            continue;
        }
        enc.chunk(chunk.db, &chunk.bytes)?;
        if enc.output().len() >= WRITE_BYTES {
            out.write_all(enc.output()).await?;
            enc.output().clear();
        }
    }
    if complete != shards {
        return Err(SaveError::Stopped);
    }
    out.write_all(&enc.finish()?).await?;
    Ok(())
}
