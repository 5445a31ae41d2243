//! A small stderr logger in Redis's line format (`pid:M date time.ms * message`). Until the
//! shards start it uses the level given at start-up; then it follows the live configuration,
//! so `CONFIG SET loglevel` takes effect.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use crate::config::LogLevel;
use crate::shard::Shared;

static STARTUP_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Notice as u8);
static LIVE: OnceLock<Arc<Shared>> = OnceLock::new();

struct Logger;

fn current_level() -> LogLevel {
    match LIVE.get() {
        Some(s) => s.config.log_level(),
        None => match STARTUP_LEVEL.load(Relaxed) {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            _ => LogLevel::Warning,
        },
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let lvl = match m.level() {
            log::Level::Error | log::Level::Warn => LogLevel::Warning,
            log::Level::Info => LogLevel::Notice,
            log::Level::Debug => LogLevel::Verbose,
            log::Level::Trace => LogLevel::Debug,
        };
        lvl >= current_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let mark = match r.level() {
            log::Level::Error | log::Level::Warn => '#',
            log::Level::Info => '*',
            log::Level::Debug => '-',
            log::Level::Trace => '.',
        };
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        let _ = writeln!(std::io::stderr().lock(), "{}:M {} {} {}", std::process::id(), now, mark, r.args());
    }

    fn flush(&self) {}
}

/// Installs the logger at `level`; later calls only change the start-up level.
pub fn init(level: LogLevel) {
    STARTUP_LEVEL.store(level as u8, Relaxed);
    if log::set_logger(&Logger).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

/// From now on, follow the running server's `loglevel`.
pub fn follow(shared: Arc<Shared>) {
    let _ = LIVE.set(shared);
}
