//! A small stderr logger in Redis's line format (`pid:M date time.ms * message`), with the
//! level read from the live configuration.

use std::io::Write;
use std::sync::Arc;

use crate::config::{Config, LogLevel};

struct Logger(Arc<Config>);

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let want = self.0.log_level();
        let lvl = match m.level() {
            log::Level::Error | log::Level::Warn => LogLevel::Warning,
            log::Level::Info => LogLevel::Notice,
            log::Level::Debug => LogLevel::Verbose,
            log::Level::Trace => LogLevel::Debug,
        };
        lvl >= want
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

/// Installs the logger; later calls are ignored.
pub fn init(config: Arc<Config>) {
    if log::set_boxed_logger(Box::new(Logger(config))).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}
