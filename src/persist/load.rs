//! Loading an RDB file at start-up (and for DEBUG RELOAD): one thread decodes the file and
//! sends each key to its shard in batches over bounded channels; every shard inserts its
//! own keys while it already accepts connections, answering LOADING to every command that
//! does not carry the `loading` flag until the whole file is in.

use std::path::Path;

use super::rdb;
use crate::shard::route::key_shard;
use crate::store::Entry;

/// Keys per batch sent to a shard.
const BATCH: usize = 1024;
/// Batches in flight per shard.
const IN_FLIGHT: usize = 8;

/// What a shard receives from the loader.
#[derive(Debug)]
pub enum Load {
    /// Keys with their database index.
    Keys(Vec<(usize, Entry)>),
    /// Function library codes (sent to shard 0, which compiles them).
    Libraries(Vec<Vec<u8>>),
}

/// Why a file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a valid RDB file.
    #[error("{0}")]
    Format(#[from] rdb::RdbError),
    /// The file names a database this server does not have.
    #[error("FATAL: Data file was created with a Redis server configured to handle more than {0} databases. Exiting")]
    TooManyDbs(usize),
}

/// What a load found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Loaded {
    /// Keys loaded.
    pub keys: u64,
    /// Keys skipped because their time had passed.
    pub expired: u64,
    /// Bytes of the file the RDB took (what follows is an old AOF's command tail).
    pub rdb_len: u64,
}

/// A reader that counts what it hands out.
struct Counted<R> {
    r: R,
    n: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = self.r.read(buf)?;
        self.n.set(self.n.get() + got as u64);
        Ok(got)
    }
}

/// The loader's side: the channels to each shard.
#[derive(Debug)]
pub struct Feeder {
    to: Vec<flume::Sender<Load>>,
    batches: Vec<Vec<(usize, Entry)>>,
}

/// Channels for a load into `shards` shards: the feeder, and each shard's receiver.
pub fn channels(shards: usize) -> (Feeder, Vec<flume::Receiver<Load>>) {
    let (to, from): (Vec<_>, Vec<_>) = (0..shards).map(|_| flume::bounded(IN_FLIGHT)).unzip();
    (Feeder { to, batches: (0..shards).map(|_| Vec::new()).collect() }, from)
}

impl Feeder {
    fn send(&mut self, shard: usize) {
        let batch = std::mem::take(&mut self.batches[shard]);
        // A shard that stopped takes nothing more; the start-up fails elsewhere.
        let _ = self.to[shard].send(Load::Keys(batch));
    }

    /// Decodes `path` and feeds every live key to its shard. Keys whose time passed by `now`
    /// are counted and dropped, as a Redis master does, unless `keep_expired` (an AOF's base:
    /// the commands after it may touch them, and they go once the load ends).
    pub fn load_file(mut self, path: &Path, cfg: &crate::config::Config, now: u64, keep_expired: bool) -> Result<Loaded, LoadError> {
        let databases = cfg.databases();
        let file = std::fs::File::open(path)?;
        let consumed = std::rc::Rc::new(std::cell::Cell::new(0));
        let reader = Counted { r: std::io::BufReader::with_capacity(1 << 20, file), n: consumed.clone() };
        let opts = rdb::LoadOptions { limits: rdb::Limits::from_config(cfg), now_ms: now };
        let mut decoder = rdb::FileDecoder::new(reader, opts)?;
        let shards = self.to.len();
        let mut loaded = Loaded::default();
        let mut libraries = Vec::new();
        // `key-load-delay` (a testing knob, as Redis's debugDelay): microseconds per key, or
        // when negative one microsecond every -N keys.
        let delay = cfg.num(crate::config::P::KeyLoadDelay);
        while let Some(item) = decoder.next_item()? {
            match item {
                rdb::Item::Function(code) => libraries.push(code),
                rdb::Item::Entry { db, entry } => {
                    if db >= databases {
                        return Err(LoadError::TooManyDbs(databases));
                    }
                    if entry.is_expired(now) && !keep_expired {
                        loaded.expired += 1;
                        continue;
                    }
                    let shard = key_shard(&entry.key, shards);
                    self.batches[shard].push((db, entry));
                    loaded.keys += 1;
                    if self.batches[shard].len() >= BATCH {
                        self.send(shard);
                    }
                    if delay > 0 {
                        std::thread::sleep(std::time::Duration::from_micros(delay as u64));
                    } else if delay < 0 && loaded.keys % delay.unsigned_abs() == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(1));
                    }
                }
                rdb::Item::Aux { .. } | rdb::Item::ResizeDb { .. } => {}
            }
        }
        if !libraries.is_empty() {
            let _ = self.to[0].send(Load::Libraries(libraries));
        }
        for shard in 0..shards {
            if !self.batches[shard].is_empty() {
                self.send(shard);
            }
        }
        loaded.rdb_len = consumed.get();
        Ok(loaded)
    }
}

/// A shard's side: inserts what the loader sends until the loader is done.
pub async fn receive(local: &std::rc::Rc<crate::shard::ShardLocal>, rx: flume::Receiver<Load>) {
    while let Ok(load) = rx.recv_async().await {
        match load {
            Load::Keys(keys) => {
                let now = crate::store::now_ms();
                let mut st = local.store.borrow_mut();
                for (db, entry) in keys {
                    st.db(db).insert_entry(entry, now);
                }
            }
            Load::Libraries(codes) => {
                let registry = &local.shared.scripts;
                for code in codes {
                    match crate::command::compile_library(local, &bytes::Bytes::from(code)) {
                        Ok(lib) => {
                            if let Err(e) = registry.libraries.write().expect("libraries lock").add(lib, true) {
                                log::warn!("Failed loading library: {e}");
                            }
                        }
                        Err(e) => log::warn!("Failed loading library: {e}"),
                    }
                }
                registry.libraries_changed();
            }
        }
    }
}

/// DEBUG RELOAD: saves a snapshot unless `!save_first`, empties every database unless
/// `!flush`, and loads the file back into the shards (entries of the file replace keys that
/// exist, for MERGE). Other clients wait meanwhile: every shard is held whole.
pub async fn reload(local: &std::rc::Rc<crate::shard::ShardLocal>, save_first: bool, flush: bool) -> Result<Loaded, ReloadError> {
    use crate::shard::txn;
    if save_first {
        super::snapshot::save(local, false).await.map_err(|e| ReloadError::Save(e.to_string()))?;
    }
    let shared = local.shared.clone();
    let n = shared.shards();
    txn::under_locks(local, txn::lock_plan(n, [], true), async {
        let path = super::snapshot::rdb_path(&shared);
        let loaded = load_into_shards(local, path, flush, false).await.map_err(|e| ReloadError::Load(e.to_string()))?;
        *shared.save.loaded.lock().expect("load stats lock") = (loaded.keys, loaded.expired);
        log::warn!("DB reloaded by DEBUG RELOAD");
        Ok(loaded)
    })
    .await
}

/// Loads the RDB file at `path` into the running shards (emptied first when `flush`): a
/// thread decodes it, each shard inserts its keys. `keep_expired` as [`Feeder::load_file`].
pub async fn load_into_shards(
    local: &std::rc::Rc<crate::shard::ShardLocal>,
    path: std::path::PathBuf,
    flush: bool,
    keep_expired: bool,
) -> Result<Loaded, LoadError> {
    use crate::shard::call_all;
    let shared = local.shared.clone();
    let (feeder, receivers) = channels(shared.shards());
    let receivers = std::sync::Arc::new(std::sync::Mutex::new(receivers.into_iter().map(Some).collect::<Vec<_>>()));
    let dones = call_all(local, move |sh| {
        if flush {
            let mut st = sh.store.borrow_mut();
            for d in 0..st.databases() {
                st.db(d).clear();
            }
        }
        let rx = receivers.lock().expect("receivers lock")[sh.id].take();
        let (tx, done) = futures::channel::oneshot::channel::<()>();
        let l = sh.clone();
        sh.spawn(async move {
            if let Some(rx) = rx {
                receive(&l, rx).await;
            }
            let _ = tx.send(());
        });
        done
    })
    .await;
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(feeder.load_file(&path, &shared.config, crate::store::now_ms(), keep_expired));
    });
    let result = rx.await.map_err(|_| LoadError::Io(std::io::Error::other("the loader stopped")))?;
    for d in dones {
        let _ = d.await;
    }
    result
}

/// Why DEBUG RELOAD failed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The snapshot before the load failed.
    #[error("{0}")]
    Save(String),
    /// The file could not be loaded.
    #[error("{0}")]
    Load(String),
}
