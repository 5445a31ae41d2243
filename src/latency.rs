//! The latency monitor: spikes of at least `latency-monitor-threshold` milliseconds, by
//! event (`command`, `fast-command`, `expire-cycle`, `eviction-cycle`), one sample a second
//! (the worst), the last 160 seconds with samples kept (LATENCY LATEST / HISTORY / RESET /
//! GRAPH / DOCTOR). A shard takes the lock only to add a spike.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Samples kept per event.
const HISTORY: usize = 160;

/// One event's samples.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// (unix seconds, milliseconds), oldest first.
    pub samples: VecDeque<(u64, u64)>,
    /// The worst latency since the last reset, milliseconds.
    pub max: u64,
}

/// The latency monitor.
#[derive(Debug, Default)]
pub struct Monitor {
    events: Mutex<Vec<(&'static str, Series)>>,
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Monitor {
    /// Records a spike of `ms` milliseconds of `event`.
    pub fn add(&self, event: &'static str, ms: u64) {
        let now = unix_secs();
        let mut ev = self.events.lock().expect("latency lock");
        let series = match ev.iter().position(|(e, _)| *e == event) {
            Some(i) => &mut ev[i].1,
            None => {
                ev.push((event, Series::default()));
                &mut ev.last_mut().expect("just pushed").1
            }
        };
        series.max = series.max.max(ms);
        match series.samples.back_mut() {
            Some(last) if last.0 == now => last.1 = last.1.max(ms),
            _ => {
                series.samples.push_back((now, ms));
                if series.samples.len() > HISTORY {
                    series.samples.pop_front();
                }
            }
        }
    }

    /// Every event with its series, in the order they first happened.
    pub fn events(&self) -> Vec<(&'static str, Series)> {
        self.events.lock().expect("latency lock").clone()
    }

    /// One event's series.
    pub fn series(&self, event: &[u8]) -> Option<Series> {
        self.events.lock().expect("latency lock").iter().find(|(e, _)| e.as_bytes() == event).map(|(_, s)| s.clone())
    }

    /// LATENCY RESET: forgets the named events (all with an empty list); returns how many
    /// it forgot.
    pub fn reset(&self, names: &[&[u8]]) -> usize {
        let mut ev = self.events.lock().expect("latency lock");
        let before = ev.len();
        if names.is_empty() {
            ev.clear();
        } else {
            ev.retain(|(e, _)| !names.iter().any(|n| n.eq_ignore_ascii_case(e.as_bytes())));
        }
        before - ev.len()
    }
}

/// LATENCY GRAPH's picture of a series, as Redis draws it: one column per sample, scaled
/// between the lowest and highest, with each sample's age under it.
pub fn graph(event: &str, s: &Series) -> String {
    let now = unix_secs();
    let (min, max) = s.samples.iter().fold((u64::MAX, 0), |(lo, hi), (_, v)| (lo.min(*v), hi.max(*v)));
    let mut out = format!("{event} - high {max} ms, low {min} ms (all time high {} ms)\n", s.max);
    out.push_str(&"-".repeat(80));
    out.push('\n');
    const ROWS: u64 = 4;
    for row in (0..ROWS).rev() {
        let line: String = s
            .samples
            .iter()
            .map(|(_, v)| {
                let level = if max == min { ROWS - 1 } else { (v - min) * (ROWS - 1) / (max - min) };
                if level >= row {
                    if level == row {
                        '_'
                    } else {
                        '|'
                    }
                } else {
                    ' '
                }
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    // Ages, written vertically.
    let ages: Vec<String> = s
        .samples
        .iter()
        .map(|(t, _)| {
            let age = now.saturating_sub(*t);
            if age < 60 {
                format!("{age}s")
            } else if age < 3600 {
                format!("{}m", age / 60)
            } else {
                format!("{}h", age / 3600)
            }
        })
        .collect();
    let height = ages.iter().map(String::len).max().unwrap_or(0);
    for r in 0..height {
        let line: String = ages.iter().map(|a| a.as_bytes().get(r).map_or(' ', |b| *b as char)).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// LATENCY DOCTOR's report.
pub fn doctor(events: &[(&'static str, Series)], threshold_ms: i64) -> String {
    let mut out =
        String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
    if threshold_ms == 0 {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a bit more, Dave.\n\nNote: the latency monitor is disabled: set latency-monitor-threshold to a number of milliseconds to enable it.\n".into();
    }
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep a bit more, Dave.\n".into();
    }
    for (i, (name, s)) in events.iter().enumerate() {
        let n = s.samples.len() as u64;
        let avg = s.samples.iter().map(|(_, v)| v).sum::<u64>() / n.max(1);
        let period = match (s.samples.front(), s.samples.back()) {
            (Some(a), Some(b)) if n > 1 => (b.0 - a.0) / (n - 1),
            _ => 0,
        };
        out.push_str(&format!(
            "{}. {name}: {n} latency spikes (average {avg}ms, mean deviation 0ms, period {period} sec). Worst all time event {}ms.\n",
            i + 1,
            s.max
        ));
    }
    out.push_str("\nI have a few advices for you:\n\n- Check your system for a process or a job that competes with shardis for CPU, and for swapping.\n");
    out
}
