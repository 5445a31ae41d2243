//! The server log, as redis-server writes it: lines `pid:M dd Mon yyyy hh:mm:ss.mmm * message`
//! (local time; the mark is `.` debug, `-` verbose, `*` notice, `#` warning) on standard output,
//! or appended to `logfile` when one is set, and copied to syslog with `syslog-enabled yes`.
//! Until the shards start the level given at start-up applies; then the logger follows the live
//! configuration, so `CONFIG SET loglevel` takes effect.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::{Config, LogLevel, P};
use crate::shard::Shared;

static STARTUP_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Notice as u8);
static LIVE: OnceLock<Arc<Shared>> = OnceLock::new();
/// Where lines go; fixed at start-up (`logfile` and the syslog parameters are immutable).
static TARGET: Mutex<Target> = Mutex::new(Target { logfile: String::new(), syslog: false });

struct Target {
    /// Empty: standard output.
    logfile: String,
    /// Whether lines are also sent to syslog (opened by [`init`]).
    syslog: bool,
}

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

/// The server level a `log` crate level stands for.
fn server_level(l: log::Level) -> LogLevel {
    match l {
        log::Level::Error | log::Level::Warn => LogLevel::Warning,
        log::Level::Info => LogLevel::Notice,
        log::Level::Debug => LogLevel::Verbose,
        log::Level::Trace => LogLevel::Debug,
    }
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        server_level(m.level()) >= current_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let level = server_level(r.level());
        let mark = match level {
            LogLevel::Debug => '.',
            LogLevel::Verbose => '-',
            LogLevel::Notice => '*',
            LogLevel::Warning => '#',
        };
        let msg = r.args().to_string();
        write_out(&format!("{}:M {} {} {}\n", std::process::id(), timestamp(), mark, msg), level, &msg);
    }

    fn flush(&self) {}
}

/// Writes `text` as it is (no prefix, no newline added) at `level`, as Redis writes its logo.
pub fn raw(level: LogLevel, text: &str) {
    if level >= current_level() {
        write_out(text, level, text);
    }
}

/// One write of `line` to the log's destination (a file is opened for each line, as Redis
/// does, so a rotated log file is followed); `msg` is what syslog gets.
fn write_out(line: &str, level: LogLevel, msg: &str) {
    let target = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    if target.logfile.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    } else if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&target.logfile) {
        let _ = f.write_all(line.as_bytes());
    }
    if target.syslog {
        let priority = match level {
            LogLevel::Debug => libc::LOG_DEBUG,
            LogLevel::Verbose => libc::LOG_INFO,
            LogLevel::Notice => libc::LOG_NOTICE,
            LogLevel::Warning => libc::LOG_WARNING,
        };
        if let Ok(m) = std::ffi::CString::new(msg.replace('\0', "")) {
            // SAFETY: both strings are NUL-terminated and outlive the call; "%s" takes one.
            unsafe { libc::syslog(priority, c"%s".as_ptr(), m.as_ptr()) };
        }
    }
}

/// `dd Mon yyyy hh:mm:ss.mmm` in local time, as Redis stamps its log lines.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&secs, &mut tm) };
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}

/// Installs the logger with the start-up configuration's `loglevel`, `logfile` and syslog
/// parameters; later calls only change the level and destination.
pub fn init(cfg: &Config) {
    STARTUP_LEVEL.store(cfg.log_level() as u8, Relaxed);
    let syslog = cfg.flag(P::SyslogEnabled);
    if syslog {
        // openlog keeps the pointer: the ident lives as long as the process.
        let ident = std::ffi::CString::new(cfg.text(P::SyslogIdent).replace('\0', "")).unwrap_or_default();
        // SAFETY: a leaked, NUL-terminated string; the facility comes from Redis's table.
        unsafe {
            libc::openlog(
                Box::leak(ident.into_boxed_c_str()).as_ptr(),
                libc::LOG_PID | libc::LOG_NDELAY | libc::LOG_NOWAIT,
                cfg.num(P::SyslogFacility) as libc::c_int,
            )
        };
    }
    *TARGET.lock().unwrap_or_else(|e| e.into_inner()) = Target { logfile: cfg.text(P::Logfile), syslog };
    if log::set_logger(&Logger).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
}

/// Whether the log goes to standard output (no `logfile`).
pub fn to_stdout() -> bool {
    TARGET.lock().unwrap_or_else(|e| e.into_inner()).logfile.is_empty()
}

/// From now on, follow the running server's `loglevel`.
pub fn follow(shared: Arc<Shared>) {
    let _ = LIVE.set(shared);
}
