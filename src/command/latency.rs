//! LATENCY: the latency monitor's spikes ([`crate::latency`]) and the per-command latency
//! histograms every shard keeps ([`crate::shard::stats`]).

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use super::error::{CmdError, CmdResult};
use super::flags::{ADMIN, LOADING, STALE};
use super::server::help_reply;
use super::{CommandSpec, Route, TABLE};
use crate::protocol::Reply;
use crate::shard::{call_all, Session};

const NOKEY: (i32, i32, i32) = (0, 0, 0);
const META: u32 = ADMIN | LOADING | STALE;

/// The LATENCY family.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("latency", -2, 0, NOKEY, "server", Route::Parent).subs(SUBS).doc(
    "A container for latency diagnostics commands.",
    "2.8.13",
    "Depends on subcommand.",
    "",
)];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("latency|latest", 2, META | LOADING, NOKEY, "server", Route::Session(latest)).doc(
        "Returns the latest latency samples for all events.",
        "2.8.13",
        "O(1)",
        "",
    ),
    CommandSpec::new("latency|history", 3, META | LOADING, NOKEY, "server", Route::Session(history)).doc(
        "Returns timestamp-latency samples for an event.",
        "2.8.13",
        "O(1)",
        "event",
    ),
    CommandSpec::new("latency|reset", -2, META | LOADING, NOKEY, "server", Route::Session(reset)).doc(
        "Resets the latency data for one or more events.",
        "2.8.13",
        "O(1)",
        "[event...]",
    ),
    CommandSpec::new("latency|graph", 3, META | LOADING, NOKEY, "server", Route::Session(graph)).doc(
        "Returns a latency graph for an event.",
        "2.8.13",
        "O(1)",
        "event",
    ),
    CommandSpec::new("latency|doctor", 2, META | LOADING, NOKEY, "server", Route::Session(doctor)).doc(
        "Returns a human-readable latency analysis report.",
        "2.8.13",
        "O(1)",
        "",
    ),
    CommandSpec::new("latency|histogram", -2, META | LOADING, NOKEY, "server", Route::Coordinator(histogram)).doc(
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        "7.0.0",
        "O(N) where N is the number of commands with latency information being retrieved.",
        "[command...]",
    ),
    CommandSpec::new("latency|help", 2, LOADING | STALE, NOKEY, "server", Route::Session(help)).doc(
        "Returns helpful text about the different subcommands.",
        "2.8.13",
        "O(1)",
        "",
    ),
];

fn latest(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    let events = s.local.shared.latency.events();
    Ok(Reply::Array(
        events
            .into_iter()
            .filter_map(|(name, series)| {
                let (time, ms) = *series.samples.back()?;
                Some(Reply::Array(vec![
                    Reply::bulk(name.as_bytes()),
                    Reply::Int(time as i64),
                    Reply::Int(ms as i64),
                    Reply::Int(series.max as i64),
                ]))
            })
            .collect(),
    ))
}

fn history(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let series = s.local.shared.latency.series(&a[2]).unwrap_or_default();
    Ok(Reply::Array(series.samples.iter().map(|(t, ms)| Reply::Array(vec![Reply::Int(*t as i64), Reply::Int(*ms as i64)])).collect()))
}

fn reset(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let names: Vec<&[u8]> = a[2..].iter().map(|n| &n[..]).collect();
    Ok(Reply::Int(s.local.shared.latency.reset(&names) as i64))
}

fn graph(s: &mut Session, a: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&a[2]).into_owned();
    match s.local.shared.latency.series(&a[2]) {
        Some(series) if !series.samples.is_empty() => Ok(Reply::Verbatim(Bytes::from(crate::latency::graph(&name, &series)))),
        _ => Err(CmdError::Other(format!("No samples available for event '{name}'").into())),
    }
}

fn doctor(s: &mut Session, _a: &[Bytes]) -> CmdResult {
    let threshold = s.local.shared.config.num(crate::config::P::LatencyMonitorThreshold);
    Ok(Reply::Verbatim(Bytes::from(crate::latency::doctor(&s.local.shared.latency.events(), threshold))))
}

/// The full names `LATENCY HISTOGRAM` asks for: every command (`None`), or the named ones, a
/// container name standing for its subcommands; unknown names are skipped.
fn histogram_names(a: &[Bytes]) -> Option<Vec<&'static str>> {
    if a.len() == 2 {
        return None;
    }
    let mut out = Vec::new();
    for n in &a[2..] {
        let name = String::from_utf8_lossy(n).to_ascii_lowercase();
        for c in TABLE.iter() {
            if c.name == name {
                if c.subcommands.is_empty() {
                    out.push(c.name);
                }
                out.extend(c.subcommands.iter().map(|s| s.name));
            }
            out.extend(c.subcommands.iter().filter(|s| s.name == name).map(|s| s.name));
        }
    }
    Some(out)
}

fn histogram(s: &mut Session, a: Vec<Bytes>) -> LocalBoxFuture<'_, CmdResult> {
    Box::pin(async move {
        let names = histogram_names(&a);
        let per_shard = call_all(&s.local, |sh| sh.stats.borrow().latencies()).await;
        let mut merged = crate::shard::stats::merge_latencies(per_shard);
        if let Some(n) = names {
            merged.retain(|name, _| n.contains(name));
        }
        Ok(Reply::Map(merged.into_iter().map(|(name, h)| (Reply::bulk(name.as_bytes()), cdf(&h))).collect()))
    })
}

/// One command's `calls` and cumulative `histogram_usec` (power-of-two microsecond buckets),
/// as Redis's fillCommandCDF gives them.
fn cdf(h: &hdrhistogram::Histogram<u64>) -> Reply {
    let mut buckets = Vec::new();
    let mut cumulative = 0u64;
    for v in h.iter_log(1024, 2.0) {
        let before = cumulative;
        cumulative += v.count_since_last_iteration();
        if cumulative > before {
            buckets.push((Reply::Int((h.highest_equivalent(v.value_iterated_to()) / 1000) as i64), Reply::Int(cumulative as i64)));
        }
    }
    Reply::Map(vec![(Reply::bulk(b"calls"), Reply::Int(h.len() as i64)), (Reply::bulk(b"histogram_usec"), Reply::Map(buckets))])
}

fn help(_s: &mut Session, _a: &[Bytes]) -> CmdResult {
    Ok(help_reply(
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    ))
}
