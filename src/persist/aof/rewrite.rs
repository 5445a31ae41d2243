//! AOF rewrites without fork: BGREWRITEAOF, and `appendonly yes` at run time.
//!
//! A rewrite is a forkless snapshot ([`crate::persist::snapshot::write_snapshot`]) written as
//! the next base file. A new incremental file is listed in the manifest first; at the
//! snapshot's point in time, while every shard is held, each shard writes what it logged and
//! switches to that file, so the new base plus the files from that one on hold everything.
//! Once the base is on disk the manifest takes it and the files before are deleted. Turning
//! the AOF on at run time is the same rewrite, with the shards starting to log at its point
//! in time.

use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::manifest::{FileInfo, FileKind, Manifest};
use super::writer::{self, AofDir, AofFile};
use crate::persist::snapshot::{write_snapshot, AtFlip, FileParts, SaveError};
use crate::shard::{call_all, ShardLocal};
use crate::store::now_ms;

/// Waits until no snapshot runs, then holds the snapshot slot (one walk at a time).
async fn take_slot(local: &Rc<ShardLocal>) {
    let state = &local.shared.save;
    while state.in_progress.swap(true, Relaxed) {
        glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The next base file's name and sequence number after `m`'s (`rdb`: RDB-encoded, else
/// commands).
fn next_base(dir: &AofDir, m: &Manifest, rdb: bool) -> FileInfo {
    let seq = m.base.as_ref().map_or(0, |b| b.seq) + 1;
    FileInfo { name: super::base_name(&dir.filename, seq, rdb), seq, kind: FileKind::Base }
}

/// Runs a rewrite with the snapshot slot held; `flip` runs on every shard at its point in
/// time. Returns the new base.
async fn snapshot_base(local: &Rc<ShardLocal>, dir: &AofDir, m: &Manifest, flip: AtFlip) -> Result<FileInfo, SaveError> {
    let shared = &local.shared;
    let rdb = shared.config.flag(crate::config::P::AofUseRdbPreamble);
    let base = next_base(dir, m, rdb);
    std::fs::create_dir_all(&dir.dir)?;
    let mut parts = FileParts::new(shared, dir.path(&base.name));
    parts.commands = !rdb;
    shared.save.abort.store(false, Relaxed);
    write_snapshot(local, parts, Some(flip)).await?;
    Ok(base)
}

/// Lists a new incremental file in the manifest (persisted) and opens it.
fn new_incr(dir: &AofDir, m: &mut Manifest) -> Result<(i64, Arc<AofFile>), SaveError> {
    std::fs::create_dir_all(&dir.dir)?;
    let seq = writer::next_incr_seq(m);
    let name = super::incr_name(&dir.filename, seq);
    let file = AofFile::open(dir, &name)?;
    m.incr.push(FileInfo { name, seq, kind: FileKind::Incr });
    dir.persist(m)?;
    Ok((seq, file))
}

/// Makes `base` the manifest's base, drops the incremental files before `from_incr`, and
/// deletes the files it no longer lists.
fn take_base(dir: &AofDir, m: &mut Manifest, base: FileInfo, from_incr: i64) -> std::io::Result<()> {
    let mut gone: Vec<FileInfo> = m.base.take().into_iter().collect();
    let (old, keep): (Vec<FileInfo>, Vec<FileInfo>) = m.incr.drain(..).partition(|f| f.seq < from_incr);
    gone.extend(old);
    m.incr = keep;
    m.base = Some(base);
    m.history.extend(gone.into_iter().map(|f| FileInfo { kind: FileKind::History, ..f }));
    dir.persist(m)?;
    for f in m.history.drain(..) {
        if let Err(e) = std::fs::remove_file(dir.path(&f.name)) {
            log::warn!("Removing the history file {} failed: {e}", f.name);
        }
    }
    dir.persist(m)?;
    Ok(())
}

/// Switches every shard to `file` at the snapshot's point in time.
fn switch_to(file: Arc<AofFile>) -> AtFlip {
    Arc::new(move |sh: &Rc<ShardLocal>| sh.aof_attach(Some(file.clone())))
}

/// BGREWRITEAOF's work, in the background: waits for a snapshot under way (as Redis
/// schedules the rewrite), then writes the new base. With the AOF off it writes a base and
/// a manifest of it alone, as Redis does.
pub async fn rewrite(local: Rc<ShardLocal>) {
    let shared = local.shared.clone();
    let aof = &shared.aof;
    take_slot(&local).await;
    aof.rewrite_scheduled.store(false, Relaxed);
    aof.rewrite_in_progress.store(true, Relaxed);
    aof.rewrite_started_ms.store(now_ms(), Relaxed);
    log::info!("Background append only file rewriting started");
    let started = std::time::Instant::now();
    let dir = AofDir::from_config(&shared.config);
    let result = async {
        let on = aof.enabled.load(Relaxed);
        let mut m = if on {
            aof.manifest.lock().expect("aof manifest lock").clone()
        } else {
            super::load::read_manifest(&dir).map_err(|e| SaveError::Io(std::io::Error::other(e.to_string())))?
        };
        let (flip, from_incr) = if on {
            let (seq, file) = new_incr(&dir, &mut m)?;
            *aof.manifest.lock().expect("aof manifest lock") = m.clone();
            *aof.file.lock().expect("aof file lock") = Some(file.clone());
            (switch_to(file), seq)
        } else {
            (Arc::new(|_: &Rc<ShardLocal>| {}) as AtFlip, i64::MAX)
        };
        let base = snapshot_base(&local, &dir, &m, flip).await?;
        let mut m = if on { aof.manifest.lock().expect("aof manifest lock").clone() } else { m };
        take_base(&dir, &mut m, base, from_incr)?;
        aof.incr_size.store(writer::incr_bytes(&dir, &m), Relaxed);
        *aof.manifest.lock().expect("aof manifest lock") = m;
        Ok::<(), SaveError>(())
    }
    .await;
    finish(&shared, started, &dir, result);
}

/// Records how a rewrite ended and frees the snapshot slot.
fn finish(shared: &crate::shard::Shared, started: std::time::Instant, dir: &AofDir, result: Result<(), SaveError>) {
    let aof = &shared.aof;
    aof.last_rewrite_secs.store(started.elapsed().as_secs() as i64, Relaxed);
    aof.rewrite_started_ms.store(0, Relaxed);
    match result {
        Ok(()) => {
            aof.last_rewrite_failed.store(false, Relaxed);
            aof.consecutive_failures.store(0, Relaxed);
            aof.rewrites.fetch_add(1, Relaxed);
            if let Some(b) = &aof.manifest.lock().expect("aof manifest lock").base {
                aof.base_size.store(writer::file_size(&dir.path(&b.name)), Relaxed);
            }
            log::info!("Background AOF rewrite finished successfully");
        }
        Err(e) => {
            aof.last_rewrite_failed.store(true, Relaxed);
            aof.consecutive_failures.fetch_add(1, Relaxed);
            log::warn!("Background AOF rewrite terminated with error: {e}");
        }
    }
    aof.rewrite_in_progress.store(false, Relaxed);
    aof.turning_on.store(false, Relaxed);
    shared.save.in_progress.store(false, Relaxed);
}

/// `CONFIG SET appendonly yes` at run time: a rewrite whose point in time is where every
/// shard starts logging into a new incremental file; the AOF is on once its base is on
/// disk (a failed one turns logging off again).
pub async fn turn_on(local: Rc<ShardLocal>) {
    let shared = local.shared.clone();
    let aof = &shared.aof;
    if aof.enabled.load(Relaxed) || aof.turning_on.swap(true, Relaxed) {
        return;
    }
    take_slot(&local).await;
    aof.rewrite_in_progress.store(true, Relaxed);
    aof.rewrite_started_ms.store(now_ms(), Relaxed);
    let started = std::time::Instant::now();
    let dir = AofDir::from_config(&shared.config);
    log::info!("Background append only file rewriting started");
    let result = async {
        let mut m = super::load::read_manifest(&dir).map_err(|e| SaveError::Io(std::io::Error::other(e.to_string())))?;
        // Until the base is on disk the writes go to a temporary file the manifest does not
        // list: a crash meanwhile loads the old files alone, not old files plus new writes.
        std::fs::create_dir_all(&dir.dir)?;
        let seq = writer::next_incr_seq(&m);
        let name = super::incr_name(&dir.filename, seq);
        let temp = format!("temp-{}.incr", dir.filename);
        let _ = std::fs::remove_file(dir.path(&temp));
        let file = AofFile::open(&dir, &temp)?;
        match snapshot_base(&local, &dir, &m, switch_to(file.clone())).await {
            Ok(base) => {
                std::fs::rename(dir.path(&temp), dir.path(&name))?;
                m.incr.push(FileInfo { name, seq, kind: FileKind::Incr });
                take_base(&dir, &mut m, base, seq)?;
                shared.aof.incr_size.store(writer::incr_bytes(&dir, &m), Relaxed);
                *aof.manifest.lock().expect("aof manifest lock") = m;
                *aof.file.lock().expect("aof file lock") = Some(file);
                aof.enabled.store(true, Relaxed);
                writer::spawn_fsync_thread(shared.clone())?;
                Ok(())
            }
            Err(e) => {
                call_all(&local, |sh| sh.aof_attach(None)).await;
                let _ = std::fs::remove_file(dir.path(&temp));
                Err(e)
            }
        }
    }
    .await;
    finish(&shared, started, &dir, result);
}

/// `CONFIG SET appendonly no`: every shard writes what it logged and stops logging; the
/// file is fsynced.
pub async fn turn_off(local: &Rc<ShardLocal>) {
    let shared = &local.shared;
    // As Redis kills its rewrite child: the rewrite under way stops (its file is removed).
    if shared.aof.rewrite_in_progress.load(Relaxed) {
        log::info!("Killing running AOF rewrite child: {}", std::process::id());
        shared.save.abort.store(true, Relaxed);
    }
    let Some(file) = shared.aof.file.lock().expect("aof file lock").take() else { return };
    shared.aof.enabled.store(false, Relaxed);
    call_all(local, |sh| sh.aof_attach(None)).await;
    file.sync();
}

/// At shutdown: what every shard logged is written and fsynced before the process ends.
pub async fn flush_at_shutdown(local: &Rc<ShardLocal>) {
    let Some(file) = local.shared.aof.file() else { return };
    call_all(local, |sh| sh.aof_write_now()).await;
    file.sync();
}

/// Starts a rewrite when the AOF grew by `auto-aof-rewrite-percentage` since the last one
/// and is over `auto-aof-rewrite-min-size` (Redis's check in `serverCron`).
pub fn maybe_auto(local: &Rc<ShardLocal>) {
    use crate::config::P;
    let shared = &local.shared;
    let aof = &shared.aof;
    let perc = shared.config.num(P::AutoAofRewritePercentage);
    if !aof.enabled.load(Relaxed) || perc <= 0 || shared.save.in_progress.load(Relaxed) || aof.rewrite_scheduled.load(Relaxed) {
        return;
    }
    let base = aof.base_size.load(Relaxed);
    let current = base + aof.incr_size.load(Relaxed);
    if current <= shared.config.num(P::AutoAofRewriteMinSize).max(0) as u64 {
        return;
    }
    let growth = (current * 100 / base.max(1)) as i64 - 100;
    if growth >= perc {
        log::info!("Starting automatic rewriting of AOF on {growth}% growth");
        aof.rewrite_scheduled.store(true, Relaxed);
        local.spawn(rewrite(local.clone()));
    }
}
