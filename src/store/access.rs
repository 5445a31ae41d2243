//! What eviction knows about a key's use: an LRU clock (OBJECT IDLETIME, the `*-lru`
//! policies) and Redis's logarithmic LFU counter with its decay (OBJECT FREQ, the `*-lfu`
//! policies).
//!
//! Both fit in the 8 bytes an entry has left after its key, value and deadline. Like Redis,
//! the LFU counter is updated only while an LFU policy is in force; the LRU clock always.

/// Milliseconds per tick of the LRU clock: 31 bits of ticks last 6.8 years and wrap.
const LRU_TICK_MS: u64 = 100;
/// The LRU clock's bits in an entry's `access` word; the top bit is the snapshot mark
/// ([`super::Entry::snap_mark`]).
pub const CLOCK_MASK: u32 = (1 << 31) - 1;
/// A new key's LFU counter, so that it is not evicted before it had a chance (`LFU_INIT_VAL`).
pub const LFU_INIT: u8 = 5;

/// The LRU clock at `now` (Unix ms).
pub fn lru_clock(now: u64) -> u32 {
    (now / LRU_TICK_MS) as u32 & CLOCK_MASK
}

/// Milliseconds since `clock` (from [`lru_clock`]) at `now`.
pub fn idle_ms(clock: u32, now: u64) -> u64 {
    u64::from(lru_clock(now).wrapping_sub(clock) & CLOCK_MASK) * LRU_TICK_MS
}

/// How accesses update a key's LFU counter (`lfu-log-factor`, `lfu-decay-time`), or that
/// they do not (no LFU policy in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LfuMode {
    /// Whether an LFU policy is in force.
    pub on: bool,
    /// `lfu-log-factor`: how many hits it takes to grow the counter.
    pub log_factor: u32,
    /// `lfu-decay-time`: minutes for the counter to lose one (0: never).
    pub decay_minutes: u32,
}

/// A key's access frequency: a logarithmic 8-bit counter and the minute (mod 2^16) it last
/// decayed, as in Redis's `lru` field under LFU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lfu {
    counter: u8,
    minutes: u16,
}

fn minutes(now: u64) -> u16 {
    (now / 60_000) as u16
}

impl Lfu {
    /// A new key's frequency.
    pub fn new(now: u64) -> Self {
        Lfu { counter: LFU_INIT, minutes: minutes(now) }
    }

    /// A frequency of `counter` as of `now` (RESTORE FREQ, a loaded RDB `FREQ` opcode).
    pub fn with_counter(counter: u8, now: u64) -> Self {
        Lfu { counter, minutes: minutes(now) }
    }

    /// The counter after decay at `now` (OBJECT FREQ; Redis's `LFUDecrAndReturn`).
    pub fn decayed(&self, now: u64, mode: LfuMode) -> u8 {
        if mode.decay_minutes == 0 {
            return self.counter;
        }
        let periods = u32::from(minutes(now).wrapping_sub(self.minutes)) / mode.decay_minutes;
        self.counter.saturating_sub(periods.min(255) as u8)
    }

    /// Records an access: decays, then grows the counter with probability
    /// `1 / ((counter - LFU_INIT) * log_factor + 1)` (Redis's `updateLFU`).
    pub fn touch(&mut self, now: u64, mode: LfuMode) {
        let mut counter = self.decayed(now, mode);
        if counter < 255 {
            let base = f64::from(counter.saturating_sub(LFU_INIT));
            if fastrand::f64() < 1.0 / (base * f64::from(mode.log_factor) + 1.0) {
                counter += 1;
            }
        }
        *self = Lfu { counter, minutes: minutes(now) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODE: LfuMode = LfuMode { on: true, log_factor: 10, decay_minutes: 1 };

    #[test]
    fn the_counter_grows_logarithmically_and_saturates() {
        // The counter is random, so one key after 100 hits is below 8 about once in 60
        // runs; the mean over 400 keys is 9.7 with a spread of 0.06, far inside 9..=10.5.
        let after = |hits: usize| {
            let mut f = Lfu::new(0);
            for _ in 0..hits {
                f.touch(0, MODE);
            }
            f.decayed(0, MODE)
        };
        let mean_100 = (0..400).map(|_| f64::from(after(100))).sum::<f64>() / 400.0;
        // One key after 100K hits: 147 with a spread of 7.
        let after_100k = after(100_000);
        // Redis's table for factor 10: about 10 at 100 hits, 142 at 100K.
        assert!((9.0..=10.5).contains(&mean_100), "{mean_100}");
        assert!((100..=200).contains(&after_100k), "{after_100k}");
        let fast = LfuMode { log_factor: 0, ..MODE };
        let mut g = Lfu::new(0);
        for _ in 0..1000 {
            g.touch(0, fast);
        }
        assert_eq!(g.decayed(0, fast), 255);
    }

    #[test]
    fn the_counter_decays_one_per_period() {
        let mut f = Lfu::new(0);
        for _ in 0..1000 {
            f.touch(0, LfuMode { log_factor: 0, ..MODE });
        }
        assert_eq!(f.decayed(3 * 60_000, MODE), 252);
        assert_eq!(f.decayed(3 * 60_000, LfuMode { decay_minutes: 2, ..MODE }), 254);
        assert_eq!(f.decayed(1000 * 60_000, MODE), 0);
        assert_eq!(f.decayed(1000 * 60_000, LfuMode { decay_minutes: 0, ..MODE }), 255);
    }

    #[test]
    fn the_lru_clock_measures_idle_time_across_its_wrap() {
        assert_eq!(idle_ms(lru_clock(5_000), 65_000), 60_000);
        let wrap = (u64::from(u32::MAX) + 1) * LRU_TICK_MS;
        assert_eq!(idle_ms(lru_clock(wrap - 1_000), wrap + 2_000), 3_000);
    }
}
