//! What a shard counts about the commands it runs: calls, time, failures and rejections per
//! command (INFO commandstats), a latency histogram per command (LATENCY HISTOGRAM, INFO
//! latencystats, the metrics endpoint), and error replies by their code (INFO errorstats).
//! Only the shard's thread touches its counters; readers ask the shard for a copy.

use hdrhistogram::Histogram;

/// Per-command counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct CallStats {
    /// Calls that ran.
    pub calls: u64,
    /// Total nanoseconds spent running them.
    pub nanos: u64,
    /// Calls that ran and replied with an error.
    pub failed: u64,
    /// Calls refused before they ran (arity, OOM, BUSY...).
    pub rejected: u64,
}

/// The histogram shape Redis uses: 1 ns to 1 s, 2 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1_000_000_000, 2).expect("valid histogram bounds")
}

/// One command's counters and latency histogram.
#[derive(Debug, Clone)]
pub struct CommandRecord {
    /// The command's full name (`client|list`).
    pub name: &'static str,
    /// Its counters.
    pub calls: CallStats,
    /// Its latencies in nanoseconds (empty while `latency-tracking` is off).
    pub latency: Histogram<u64>,
}

/// A shard's command statistics.
#[derive(Debug, Default)]
pub struct CommandStats {
    /// By command, keyed by the address and length of its name (cheaper to hash than text).
    commands: ahash::AHashMap<(usize, usize), CommandRecord>,
    /// Error replies by code (`ERR`, `WRONGTYPE`...).
    errors: ahash::AHashMap<String, u64>,
}

impl CommandStats {
    fn entry(&mut self, name: &'static str) -> &mut CommandRecord {
        self.commands.entry((name.as_ptr() as usize, name.len())).or_insert_with(|| CommandRecord {
            name,
            calls: CallStats::default(),
            latency: new_histogram(),
        })
    }

    /// Counts a call of `name` that took `nanos`; `error` is the code of its error reply.
    /// `track` adds the time to the command's latency histogram.
    pub fn record(&mut self, name: &'static str, nanos: u64, error: Option<&str>, track: bool) {
        let e = self.entry(name);
        e.calls.calls += 1;
        e.calls.nanos += nanos;
        if track {
            e.latency.saturating_record(nanos.max(1));
        }
        if let Some(code) = error {
            e.calls.failed += 1;
            self.count_error(code);
        }
    }

    /// Counts a call of `name` refused before it ran, with its error code.
    pub fn reject(&mut self, name: Option<&'static str>, code: &str) {
        if let Some(name) = name {
            self.entry(name).calls.rejected += 1;
        }
        self.count_error(code);
    }

    /// Counts a call of `name` already recorded that ended in an error of code `code` later
    /// (a blocked command unblocked with an error).
    pub fn fail_late(&mut self, name: &'static str, code: &str) {
        self.mark_failed(name);
        self.count_error(code);
    }

    /// Counts a call of `name` as failed, its error counted elsewhere.
    pub fn mark_failed(&mut self, name: &'static str) {
        self.entry(name).calls.failed += 1;
    }

    /// Counts an error reply of code `code` (one not tied to a command's run).
    pub fn count_error(&mut self, code: &str) {
        match self.errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                // Redis keeps at most 128 distinct codes; past that it stops adding new ones.
                if self.errors.len() < 128 {
                    self.errors.insert(code.to_string(), 1);
                }
            }
        }
    }

    /// Every command's counters.
    pub fn counters(&self) -> Vec<(&'static str, CallStats)> {
        self.commands.values().map(|r| (r.name, r.calls)).collect()
    }

    /// Every command's recorded latencies as (nanoseconds, count) pairs, without the empty
    /// buckets: small to ship to another shard, where [`merge_latencies`] adds them up.
    pub fn latencies(&self) -> Vec<Latencies> {
        self.commands
            .values()
            .filter(|r| !r.latency.is_empty())
            .map(|r| (r.name, r.latency.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()))
            .collect()
    }

    /// A copy of the error counts.
    pub fn errors(&self) -> Vec<(String, u64)> {
        self.errors.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Every command's record, borrowed (the metrics publisher reads them without copying
    /// the histograms).
    pub fn records(&self) -> impl Iterator<Item = &CommandRecord> {
        self.commands.values()
    }

    /// The error counts, borrowed.
    pub fn error_counts(&self) -> impl Iterator<Item = (&str, u64)> {
        self.errors.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// CONFIG RESETSTAT.
    pub fn clear(&mut self) {
        self.commands.clear();
        self.errors.clear();
    }
}

/// A command's recorded latencies: its name and (nanoseconds, count) pairs.
pub type Latencies = (&'static str, Vec<(u64, u64)>);

/// Adds up the shards' [`CommandStats::latencies`] into one histogram per command, by name.
pub fn merge_latencies(parts: Vec<Vec<Latencies>>) -> std::collections::BTreeMap<&'static str, Histogram<u64>> {
    let mut merged: std::collections::BTreeMap<&'static str, Histogram<u64>> = Default::default();
    for (name, samples) in parts.into_iter().flatten() {
        let h = merged.entry(name).or_insert_with(new_histogram);
        for (v, n) in samples {
            h.saturating_record_n(v, n);
        }
    }
    merged
}

/// The code of an error reply: its first word (`ERR`, `WRONGTYPE`, `NOSCRIPT`...).
pub fn error_code(line: &str) -> &str {
    line.split(' ').next().unwrap_or(line)
}
