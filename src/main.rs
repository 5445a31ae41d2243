//! `shardis-server [/path/to/redis.conf] [--option value ...]`: redis-server's command line,
//! start-up and shutdown. The log says what redis-server's says at the same moments (scripts
//! and Redis's own test suite read it): the start banner, `Configuration loaded`, the logo
//! (with `always-show-logo yes`, or on a terminal) or `Running mode=standalone, port=P.`,
//! `Server initialized`, `Ready to accept connections`; `Failed listening on port P (TCP),
//! aborting.` when the port is taken; on SIGTERM/SIGINT or SHUTDOWN, `Redis is now ready to
//! exit, bye bye...`. `pidfile` is written at start and removed at exit, and `supervised`
//! talks to systemd (`READY=1`) or upstart (SIGSTOP) as Redis does.

use shardis::config::{strerror, Config, LogLevel, P};
use shardis::shard::StartError;
use signal_hook::consts::{SIGINT, SIGTERM};

/// Counts allocated bytes for INFO memory and maxmemory.
#[global_allocator]
static ALLOC: shardis::alloc::Counting = shardis::alloc::Counting;
use shardis::Engine;

const HELP: &str = "Usage: shardis-server [/path/to/redis.conf] [options]
       shardis-server -v or --version
       shardis-server -h or --help

Options are redis.conf directives given as --name value, for example:
       shardis-server --port 7777 --threads 2
       shardis-server /etc/redis/6379.conf --loglevel verbose

Supported: port, bind, databases, threads (0 = all CPUs), pin-cpus (yes|no),
spin-before-park-us (0 = sleep when idle), requirepass,
maxclients, timeout, loglevel, logfile, pidfile, unixsocket, supervised,
proto-max-bulk-len, client-query-buffer-limit, maxmemory, maxmemory-policy,
maxmemory-samples, lfu-log-factor, lfu-decay-time, notify-keyspace-events,
client-output-buffer-limit, hz, save, appendonly, metrics-port (Prometheus /metrics over
HTTP; 0 = off).";

/// Redis's logo, with the name, mode, port and pid filled in as redis-server fills them.
fn logo(port: u16, pid: u32) -> String {
    let name = format!("shardis {} (Redis {})", env!("CARGO_PKG_VERSION"), shardis::command::REDIS_VERSION);
    let lines = [
        "                _._".to_string(),
        "           _.-``__ ''-._".to_string(),
        format!("      _.-``    `.  `_.  ''-._           {name} 64 bit"),
        "  .-`` .-```.  ```\\/    _.,_ ''-._".to_string(),
        " (    '      ,       .-`  | `,    )     Running in standalone mode".to_string(),
        format!(" |`-._`-...-` __...-.``-._|'` _.-'|     Port: {port}"),
        format!(" |    `-._   `._    /     _.-'    |     PID: {pid}"),
        "  `-._    `-._  `-./  _.-'    _.-'".to_string(),
        " |`-._`-._    `-.__.-'    _.-'_.-'|".to_string(),
        " |    `-._`-._        _.-'_.-'    |           https://redis.io".to_string(),
        "  `-._    `-._`-.__.-'_.-'    _.-'".to_string(),
        " |`-._`-._    `-.__.-'    _.-'_.-'|".to_string(),
        " |    `-._`-._        _.-'_.-'    |".to_string(),
        "  `-._    `-._`-.__.-'_.-'    _.-'".to_string(),
        "      `-._    `-.__.-'    _.-'".to_string(),
        "          `-._        _.-'".to_string(),
        "              `-.__.-'".to_string(),
    ];
    lines.join("\n") + "\n\n"
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("-h" | "--help") => {
            println!("{HELP}");
            return;
        }
        Some("-v" | "--version") => {
            println!("shardis-server v={} (Redis {} compatible)", env!("CARGO_PKG_VERSION"), shardis::command::REDIS_VERSION);
            return;
        }
        _ => {}
    }
    let cfg = match Config::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let logfile = cfg.text(P::Logfile);
    if !logfile.is_empty() {
        // As Redis: a log file that cannot be opened is a configuration error (later the
        // server could not say why it stopped).
        if let Err(e) = std::fs::OpenOptions::new().create(true).append(true).open(&logfile) {
            eprintln!(
                "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\nCan't open the log file: {}",
                shardis::command::REDIS_VERSION,
                strerror(&e)
            );
            std::process::exit(1);
        }
    }
    shardis::logging::init(&cfg);
    let pid = std::process::id();
    let systemd = supervise(cfg.num(P::Supervised));
    log::warn!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    log::warn!(
        "Redis version={}, bits=64, commit=00000000, modified=0, pid={pid}, just started (shardis {})",
        shardis::command::REDIS_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    if args.first().is_some_and(|a| !a.starts_with('-')) {
        log::warn!("Configuration loaded");
    } else {
        log::warn!("Warning: no config file specified, using the default config. In order to specify a config file use shardis-server /path/to/redis.conf");
    }
    let pidfile = cfg.text(P::Pidfile);
    let show_logo = cfg.flag(P::AlwaysShowLogo)
        // SAFETY: isatty only looks at the descriptor.
        || (!cfg.flag(P::SyslogEnabled) && shardis::logging::to_stdout() && unsafe { libc::isatty(1) } == 1);
    let unixsocket = cfg.text(P::Unixsocket);
    // Caught from here on, as Redis sets its handlers up before it listens: a signal that
    // comes during start-up is handled once the server runs.
    let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]);
    // Up once listening, as Redis's log says before it loads the data set.
    let mut up = |port: u16| {
        if show_logo {
            shardis::logging::raw(LogLevel::Notice, &logo(port, pid));
        } else {
            log::info!("Running mode=standalone, port={port}.");
        }
        log::warn!("Server initialized");
    };
    let engine = match Engine::start_serving_with(cfg, &mut up) {
        Ok(e) => e,
        Err(e @ StartError::Listen { port, .. }) => {
            log::warn!("Warning: {e}");
            // The test suite matches this text to retry on another port.
            log::warn!("Failed listening on port {port} (TCP), aborting.");
            std::process::exit(1);
        }
        Err(e) => {
            log::warn!("{e}");
            std::process::exit(1);
        }
    };
    shardis::logging::follow(engine.shared());
    if !pidfile.is_empty() {
        // Best effort, as Redis: a server that cannot write its pid file still serves.
        if let Err(e) = std::fs::write(&pidfile, format!("{pid}\n")) {
            log::warn!("Failed to write PID file: {}", strerror(&e));
        }
    }
    log::info!("{} shards serving the keyspace", engine.shared().shards());
    log::info!("Ready to accept connections");
    if !unixsocket.is_empty() {
        log::info!("The server is now ready to accept connections at {unixsocket}");
    }
    if systemd {
        notify_systemd("STATUS=Ready to accept connections\nREADY=1\n");
    }
    match signals {
        Ok(signals) => watch_signals(signals, &engine),
        Err(e) => log::warn!("cannot install signal handlers: {e}"),
    }
    engine.wait();
    if systemd {
        notify_systemd("STOPPING=1\n");
    }
    if !pidfile.is_empty() {
        log::info!("Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    log::warn!("Redis is now ready to exit, bye bye...");
}

/// SIGINT and SIGTERM start a clean shutdown, logged as Redis logs it; a second SIGINT while
/// shutting down exits at once (status 1), as Redis's "You insist...".
use shardis::persist::snapshot::AtShutdown;

fn watch_signals(mut signals: signal_hook::iterator::Signals, engine: &Engine) {
    let shared = engine.shared();
    std::thread::spawn(move || {
        let mut scheduled = false;
        for sig in signals.forever() {
            if scheduled {
                if sig == SIGINT {
                    log::warn!("You insist... exiting now.");
                    std::process::exit(1);
                }
                continue;
            }
            scheduled = true;
            let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
            log::warn!("Received {name} scheduling shutdown...");
            log::warn!("User requested shutdown...");
            // `shutdown-on-sigterm` / `-sigint`: default, save, nosave, now, force.
            let flags = shared.config.num(if sig == SIGINT { P::ShutdownOnSigint } else { P::ShutdownOnSigterm });
            let mode = if flags & 2 != 0 {
                AtShutdown::NoSave
            } else if flags & 1 != 0 {
                AtShutdown::Save
            } else {
                AtShutdown::Default
            };
            shardis::persist::snapshot::shutdown_from_outside(&shared, mode, flags & 8 != 0);
        }
    });
}

/// `supervised`: `upstart` stops the process (SIGSTOP) to say it started, `systemd` is told
/// READY=1 once the server accepts connections (returns true then), `auto` picks by the
/// environment (UPSTART_JOB, NOTIFY_SOCKET); the messages are Redis's.
fn supervise(mode: i64) -> bool {
    const UPSTART: i64 = 1;
    const SYSTEMD: i64 = 2;
    const AUTO: i64 = 3;
    let mode = match mode {
        AUTO if std::env::var_os("UPSTART_JOB").is_some() => {
            log::debug!("Upstart supervision detected.");
            UPSTART
        }
        AUTO if std::env::var_os("NOTIFY_SOCKET").is_some() => {
            log::debug!("Systemd supervision detected.");
            SYSTEMD
        }
        m => m,
    };
    match mode {
        UPSTART if std::env::var_os("UPSTART_JOB").is_none() => {
            log::warn!("upstart supervision requested, but UPSTART_JOB not found!");
            false
        }
        UPSTART => {
            log::info!("supervised by upstart, will stop to signal readiness.");
            // SAFETY: raising a signal at ourselves; upstart sends SIGCONT.
            unsafe { libc::raise(libc::SIGSTOP) };
            std::env::remove_var("UPSTART_JOB");
            false
        }
        SYSTEMD if notify_systemd("STATUS=Redis is loading...\n") => {
            log::info!("Supervised by systemd. Please make sure you set appropriate values for TimeoutStartSec and TimeoutStopSec in your service unit.");
            true
        }
        SYSTEMD => {
            log::warn!("systemd supervision requested or auto-detected, but NOTIFY_SOCKET not found!");
            false
        }
        _ => false,
    }
}

/// Sends `msg` to systemd's notification socket ($NOTIFY_SOCKET, `@` for an abstract name);
/// false when there is none or the send failed.
fn notify_systemd(msg: &str) -> bool {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return false };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(&path),
    };
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(msg.as_bytes(), &addr?));
    if let Err(e) = &sent {
        log::warn!("Can't send notification to systemd: {}", strerror(e));
    }
    sent.is_ok()
}
