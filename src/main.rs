//! `shardis-server [/path/to/redis.conf] [--option value ...]`

use shardis::config::Config;

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
maxclients, timeout, loglevel, proto-max-bulk-len, client-query-buffer-limit, maxmemory,
maxmemory-policy, maxmemory-samples, lfu-log-factor, lfu-decay-time, notify-keyspace-events,
client-output-buffer-limit, hz, save, appendonly, metrics-port (Prometheus /metrics over
HTTP; 0 = off).";

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
    shardis::logging::init(cfg.log_level());
    let engine = match Engine::start_serving(cfg) {
        Ok(e) => e,
        Err(e) => {
            log::error!("{e}");
            std::process::exit(1);
        }
    };
    shardis::logging::follow(engine.shared());
    log::info!("shardis {} ready to accept connections on port {}", env!("CARGO_PKG_VERSION"), engine.port());
    let signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]);
    match signals {
        Ok(mut signals) => {
            let stopper = engine_stopper(&engine);
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let name = if sig == signal_hook::consts::SIGINT { "SIGINT" } else { "SIGTERM" };
                    log::warn!("Received {name} scheduling shutdown...");
                    stopper();
                }
            });
        }
        Err(e) => log::warn!("cannot install signal handlers: {e}"),
    }
    engine.wait();
    log::warn!("shardis is now ready to exit, bye bye...");
}

fn engine_stopper(engine: &Engine) -> impl Fn() + Send + 'static {
    let shared = engine.shared();
    move || shared.shutdown()
}
