//! Writing the current incremental file. Every shard appends its logged writes to the
//! file itself (one `write` per turn that wrote, before the replies of those writes leave,
//! as Redis writes before it replies); the file is opened with `O_APPEND`, so each `write` is
//! placed whole at the end. Writes on different shards touch different keys and commute, so
//! their order between shards does not matter; what does not commute (FLUSHALL, FLUSHDB,
//! SWAPDB, a rewrite's switch to the next file) happens while every shard is held, after
//! each has written what it had. Each `write` starts with a SELECT. With `appendfsync
//! everysec` a thread fsyncs the file once a second when it changed; with `always` the
//! shard fsyncs before replying.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use super::manifest::Manifest;
use crate::shard::Shared;

/// When the file is fsynced (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every write (`always`).
    Always,
    /// Once a second (`everysec`).
    EverySec,
    /// Never: the kernel decides (`no`).
    No,
}

impl Fsync {
    /// The policy named by `appendfsync`.
    pub fn from_config(config: &crate::config::Config) -> Fsync {
        match config.text(crate::config::P::Appendfsync).as_str() {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// The AOF directory and the names in it.
#[derive(Debug, Clone)]
pub struct AofDir {
    /// `appenddirname`.
    pub dir: PathBuf,
    /// `appendfilename`.
    pub filename: String,
}

impl AofDir {
    /// The directory of `config` (relative to the working directory, `dir`).
    pub fn from_config(config: &crate::config::Config) -> AofDir {
        AofDir { dir: PathBuf::from(config.text(crate::config::P::Appenddirname)), filename: config.text(crate::config::P::Appendfilename) }
    }

    /// The path of a file in it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> PathBuf {
        self.path(&super::manifest_name(&self.filename))
    }

    /// Writes `m` as the manifest: a temporary file, fsync, rename, fsync of the directory.
    pub fn persist(&self, m: &Manifest) -> std::io::Result<()> {
        let tmp = self.path(&format!("temp-{}", super::manifest_name(&self.filename)));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&m.to_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.manifest_path())?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// Opens incremental file `name` for appending (created if missing).
    pub fn open_incr(&self, name: &str) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new().append(true).create(true).open(self.path(name))
    }
}

/// The size of a file in the directory (0 when missing).
pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The bytes of the incremental files `m` lists (INFO's `aof_current_size` less the base).
pub fn incr_bytes(dir: &AofDir, m: &Manifest) -> u64 {
    m.incr.iter().map(|f| file_size(&dir.path(&f.name))).sum()
}

/// The next incremental file's sequence number after those of `m`.
pub fn next_incr_seq(m: &Manifest) -> i64 {
    m.incr.iter().map(|f| f.seq).max().unwrap_or(0) + 1
}

/// The current incremental file, shared by the shards.
#[derive(Debug)]
pub struct AofFile {
    file: std::fs::File,
    /// Written since the last fsync.
    unsynced: AtomicBool,
    /// The last write failed.
    failed: AtomicBool,
}

impl AofFile {
    /// Opens (creating it if missing) incremental file `name` of `dir` for appending.
    pub fn open(dir: &AofDir, name: &str) -> std::io::Result<Arc<AofFile>> {
        let file = dir.open_incr(name)?;
        Ok(Arc::new(AofFile { file, unsynced: AtomicBool::new(false), failed: AtomicBool::new(false) }))
    }

    /// Appends `bytes` in one `write`, fsynced at once with `always`. Errors are logged once
    /// and reported by `aof_last_write_status`.
    pub fn append(&self, bytes: &[u8], state: &super::AofState, always: bool) {
        match (&self.file).write_all(bytes) {
            Ok(()) => {
                state.incr_size.fetch_add(bytes.len() as u64, Relaxed);
                if self.failed.swap(false, Relaxed) {
                    log::warn!("AOF write error looks solved, Redis can write again.");
                }
                state.last_write_ok.store(true, Relaxed);
                if always {
                    self.sync();
                } else {
                    self.unsynced.store(true, Relaxed);
                }
            }
            Err(e) => {
                if !self.failed.swap(true, Relaxed) {
                    log::warn!("Error writing to the AOF file: {e}");
                }
                state.last_write_ok.store(false, Relaxed);
            }
        }
    }

    /// fsyncs what was written.
    pub fn sync(&self) {
        self.unsynced.store(false, Relaxed);
        if let Err(e) = self.file.sync_data() {
            log::warn!("Can't persist the AOF file with fsync: {e}");
        }
    }

    /// fsyncs when something was written since the last fsync.
    pub fn sync_if_needed(&self) {
        if self.unsynced.load(Relaxed) {
            self.sync();
        }
    }
}

/// With `appendfsync everysec`: fsyncs the current file once a second while the AOF is on
/// (the file the shards write to is read from `current` each time).
pub fn spawn_fsync_thread(shared: Arc<Shared>) -> std::io::Result<()> {
    std::thread::Builder::new().name("aof-fsync".into()).spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        if shared.shutting_down.load(Relaxed) {
            return;
        }
        let f = shared.aof.file.lock().expect("aof file lock").clone();
        match f {
            Some(f) if Fsync::from_config(&shared.config) == Fsync::EverySec => f.sync_if_needed(),
            Some(_) => {}
            None => return,
        }
    })?;
    Ok(())
}
