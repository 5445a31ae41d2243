//! Loading the append-only files at start-up, as Redis's `loadAppendOnlyFiles`: the
//! manifest (an old single `appendonly.aof` is moved into the directory first), the base
//! file (RDB-encoded: decoded into the shards; commands: replayed), then every incremental
//! file, whose commands a session on shard 0 replays as a client would send them. While it
//! loads, keys do not expire and clients are answered LOADING. Then the writer starts.

use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;

use super::manifest::{FileInfo, FileKind, Manifest};
use super::reader::{self, CommandReader, End};
use super::writer::{self, AofDir, AofFile};
use crate::config::P;
use crate::shard::{call_all, Session, ShardLocal};

/// Commands replayed per batch.
const BATCH: usize = 1024;

/// Why the AOF could not be loaded or opened (Redis's log texts; the server exits).
#[derive(Debug, thiserror::Error)]
pub enum AofError {
    /// The manifest is not valid.
    #[error("{0}")]
    Manifest(String),
    /// A listed file is missing.
    #[error("Unable to obtain the AOF file {0} length. stat: No such file or directory")]
    Missing(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// A line is not part of a command.
    #[error("Bad file format reading the append only file {0}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")]
    BadFormat(String),
    /// The file ends inside a command or a MULTI, and truncation is not allowed.
    #[error("Unexpected end of file reading the append only file {0}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")]
    Truncated(String),
    /// A truncated file that is not the last one.
    #[error("Fatal error: the truncated file is not the last file")]
    TruncatedNotLast,
    /// A command the server does not know.
    #[error("Unknown command '{0}' reading the append only file {1}")]
    UnknownCommand(String, String),
}

impl From<std::io::Error> for AofError {
    fn from(e: std::io::Error) -> Self {
        AofError::Io(e.to_string())
    }
}

/// Reads the manifest of `dir` (none yet: empty), moving an old single AOF file in first
/// (Redis's upgrade from before 7.0).
pub fn read_manifest(dir: &AofDir) -> Result<Manifest, AofError> {
    let mpath = dir.manifest_path();
    let mut m = match std::fs::read(&mpath) {
        Ok(bytes) => Manifest::parse(&bytes).map_err(|e| AofError::Manifest(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Manifest::default(),
        Err(e) => return Err(AofError::Manifest(format!("Fail to open AOF manifest {}: {e}", mpath.display()))),
    };
    let old = Path::new(&dir.filename);
    let upgrade = old.is_file()
        && (!dir.dir.is_dir()
            || (m.base.is_none() && m.incr.is_empty())
            || (m.incr.is_empty() && m.base.as_ref().is_some_and(|b| b.name == dir.filename) && !dir.path(&dir.filename).exists()));
    if upgrade {
        std::fs::create_dir_all(&dir.dir)?;
        let base = FileInfo { name: dir.filename.clone(), seq: 1, kind: FileKind::Base };
        m.base = Some(base);
        dir.persist(&m)?;
        std::fs::rename(old, dir.path(&dir.filename))?;
        log::info!("Successfully migrated an old-style AOF into the AOF directory");
    }
    Ok(m)
}

/// Loads every file of `m` into the shards (run on shard 0 before clients are served).
pub async fn load_all(local: &Rc<ShardLocal>, dir: &AofDir, m: &Manifest) -> Result<(), AofError> {
    let files: Vec<FileInfo> = m.load_order().cloned().collect();
    for f in &files {
        if !dir.path(&f.name).is_file() {
            return Err(AofError::Missing(f.name.clone()));
        }
    }
    let total: u64 = files.iter().map(|f| writer::file_size(&dir.path(&f.name))).sum();
    if total == 0 {
        return Ok(());
    }
    let n = files.len();
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == n;
        let started = std::time::Instant::now();
        let path = dir.path(&f.name);
        let mut head = [0u8; 5];
        let got = std::fs::File::open(&path)?.read(&mut head)?;
        if reader::is_rdb(&head[..got]) {
            log::info!("Reading RDB base file on AOF loading...");
            let loaded = crate::persist::load::load_into_shards(local, path.clone(), false, true)
                .await
                .map_err(|e| AofError::Io(format!("Error reading the RDB base file {}, AOF loading aborted: {e}", f.name)))?;
            // An old single AOF: commands follow its RDB preamble.
            if loaded.rdb_len < writer::file_size(&path) {
                log::info!("Reading the remaining AOF tail...");
                let end = replay(local, &path, loaded.rdb_len).await?;
                check_end(local, f, &path, last, end, loaded.rdb_len)?;
            }
        } else {
            let end = replay(local, &path, 0).await?;
            check_end(local, f, &path, last, end, 0)?;
        }
        let what = if f.kind == FileKind::Base { "base" } else { "incr" };
        log::info!("DB loaded from {what} file {}: {:.3} seconds", f.name, started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// What a file's end means: nothing, a fatal error, or (`aof-load-truncated`, last file) a
/// truncation at the last whole command (`from`: where its commands began).
fn check_end(local: &Rc<ShardLocal>, f: &FileInfo, path: &Path, last: bool, end: End, from: u64) -> Result<(), AofError> {
    match end {
        End::Complete => Ok(()),
        End::BadFormat { .. } => Err(AofError::BadFormat(f.name.clone())),
        End::Truncated { .. } if !local.shared.config.flag(P::AofLoadTruncated) => Err(AofError::Truncated(f.name.clone())),
        End::Truncated { .. } if !last => Err(AofError::TruncatedNotLast),
        End::Truncated { valid_up_to } => {
            let at = from + valid_up_to;
            log::warn!("!!! Warning: short read while loading the AOF file {}!!!", f.name);
            log::warn!("!!! Truncating the AOF {} at offset {at} !!!", f.name);
            std::fs::OpenOptions::new().write(true).open(path)?.set_len(at)?;
            log::warn!("AOF {} loaded anyway because aof-load-truncated is enabled", f.name);
            Ok(())
        }
    }
}

/// What the reading thread sends: commands, then how the file ended.
enum Read_ {
    Commands(Vec<Vec<Bytes>>),
    End(std::io::Result<End>),
}

/// Replays the commands of the file at `path` from byte `from` on a session of this shard.
async fn replay(local: &Rc<ShardLocal>, path: &Path, from: u64) -> Result<End, AofError> {
    use std::io::Seek;
    let mut file = std::fs::File::open(path)?;
    file.seek(std::io::SeekFrom::Start(from))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (tx, rx) = flume::bounded::<Read_>(4);
    std::thread::spawn(move || {
        let mut r = CommandReader::new(std::io::BufReader::with_capacity(1 << 20, file));
        let mut batch = Vec::new();
        let end = loop {
            match r.next_command() {
                Ok(Ok(cmd)) => {
                    batch.push(cmd);
                    if batch.len() >= BATCH && tx.send(Read_::Commands(std::mem::take(&mut batch))).is_err() {
                        return;
                    }
                }
                Ok(Err(end)) => break Ok(end),
                Err(e) => break Err(e),
            }
        };
        if !batch.is_empty() {
            let _ = tx.send(Read_::Commands(batch));
        }
        let _ = tx.send(Read_::End(end));
    });
    let mut s = Session::detached(local.clone());
    s.replaying = true;
    let mut in_multi = false;
    while let Ok(msg) = rx.recv_async().await {
        let cmds = match msg {
            Read_::Commands(c) => c,
            Read_::End(end) => return Ok(end?),
        };
        let mut run: Vec<Vec<Bytes>> = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            let spec = crate::command::lookup(&cmd)
                .map_err(|_| AofError::UnknownCommand(String::from_utf8_lossy(&cmd[0]).into_owned(), name.clone()))?;
            let blocking = spec.block.is_some() && !in_multi;
            match spec.name {
                "multi" => in_multi = true,
                "exec" | "discard" => in_multi = false,
                _ => {}
            }
            // A blocking command replays as inside MULTI: it never waits.
            if blocking {
                run.push(vec![Bytes::from_static(b"MULTI")]);
                run.push(cmd);
                run.push(vec![Bytes::from_static(b"EXEC")]);
            } else {
                run.push(cmd);
            }
        }
        crate::shard::execute_replies(&mut s, &mut run).await;
    }
    Err(AofError::Io(format!("reading {name} stopped")))
}

/// Sets or clears the loading state on every shard (no key expires meanwhile).
pub async fn set_loading(local: &Rc<ShardLocal>, on: bool) {
    call_all(local, move |sh| sh.store.borrow().signals.set_loading(on)).await;
}

/// At start-up with `appendonly yes`: loads the files, then opens the directory for
/// writing (a base file of the empty data set first when there is none, as Redis makes)
/// and starts the writer and every shard's logging. Runs on shard 0.
pub async fn start(local: &Rc<ShardLocal>) -> Result<(), AofError> {
    let shared = &local.shared;
    let dir = AofDir::from_config(&shared.config);
    let mut m = read_manifest(&dir)?;
    set_loading(local, true).await;
    let loaded = load_all(local, &dir, &m).await;
    set_loading(local, false).await;
    loaded?;
    std::fs::create_dir_all(&dir.dir)
        .map_err(|e| AofError::Io(format!("Can't open or create append-only dir {}: {e}", dir.dir.display())))?;
    if m.base.is_none() && m.incr.is_empty() {
        let seq = 1;
        let rdb = shared.config.flag(P::AofUseRdbPreamble);
        let name = super::base_name(&dir.filename, seq, rdb);
        if rdb {
            crate::persist::snapshot::write_empty(shared, dir.path(&name)).map_err(|e| AofError::Io(e.to_string()))?;
        } else {
            std::fs::File::create(dir.path(&name))?.sync_all()?;
        }
        log::info!("Creating AOF base file {name} on server start");
        m.base = Some(FileInfo { name, seq, kind: FileKind::Base });
    }
    if m.incr.is_empty() {
        let seq = writer::next_incr_seq(&m);
        let name = super::incr_name(&dir.filename, seq);
        log::info!("Creating AOF incr file {name} on server start");
        m.incr.push(FileInfo { name, seq, kind: FileKind::Incr });
    } else if let Some(f) = m.incr.last() {
        log::info!("Opening AOF incr file {} on server start", f.name);
    }
    dir.persist(&m)?;
    enable(local, dir, m).await
}

/// Logs every shard's writes into the last incremental file of `m` (persisted) from now on.
pub async fn enable(local: &Rc<ShardLocal>, dir: AofDir, m: Manifest) -> Result<(), AofError> {
    let shared = &local.shared;
    let base = m.base.as_ref().map_or(0, |b| writer::file_size(&dir.path(&b.name)));
    shared.aof.base_size.store(base, Relaxed);
    let last = m.incr.last().map(|f| f.name.clone()).ok_or_else(|| AofError::Io("no incremental file".into()))?;
    let file = AofFile::open(&dir, &last).map_err(|e| AofError::Io(format!("Can't open the append-only file {last}: {e}")))?;
    shared.aof.incr_size.store(writer::incr_bytes(&dir, &m), Relaxed);
    *shared.aof.manifest.lock().expect("aof manifest lock") = m;
    *shared.aof.file.lock().expect("aof file lock") = Some(file.clone());
    call_all(local, move |sh| sh.aof_attach(Some(file.clone()))).await;
    shared.aof.enabled.store(true, Relaxed);
    writer::spawn_fsync_thread(shared.clone())?;
    Ok(())
}

/// DEBUG LOADAOF: writes and fsyncs what the shards logged, empties every database and
/// loads the files back (other clients are answered LOADING meanwhile, and nothing is
/// logged until it is done).
pub async fn reload(local: &Rc<ShardLocal>) -> Result<(), AofError> {
    let shared = &local.shared;
    // What is replayed is not logged again (Redis turns the AOF off while it loads).
    let file = shared.aof.file();
    if let Some(f) = &file {
        call_all(local, |sh| sh.aof_attach(None)).await;
        f.sync();
    }
    shared.save.loading.store(true, Relaxed);
    call_all(local, |sh| {
        let mut st = sh.store.borrow_mut();
        for d in 0..st.databases() {
            st.db(d).clear();
        }
        st.signals.set_loading(true);
    })
    .await;
    let dir = AofDir::from_config(&shared.config);
    let r = match read_manifest(&dir) {
        Ok(m) => load_all(local, &dir, &m).await,
        Err(e) => Err(e),
    };
    set_loading(local, false).await;
    if let Some(f) = file {
        call_all(local, move |sh| sh.aof_attach(Some(f.clone()))).await;
    }
    shared.save.loading.store(false, Relaxed);
    r
}
