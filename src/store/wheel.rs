//! A hierarchical timer wheel: seven levels of 64 slots at 1 ms resolution.
//!
//! Level `l` slots span `64^l` ms, so the wheel covers about 139 years of uptime (its clock
//! counts from its creation); later deadlines are parked in the top level and re-filed. Insertion is O(1); finding the next
//! deadline is O(levels); each entry cascades down at most once per level.

const LEVELS: usize = 7;
const BITS: u32 = 6;
const SLOTS: usize = 1 << BITS;
const MAX_SPAN: u64 = 1 << (BITS as u64 * LEVELS as u64);

struct Level<T> {
    occupied: u64,
    slots: Vec<Vec<(u64, T)>>,
}

/// Timers carrying a `T`, fired in deadline order at millisecond resolution.
pub struct TimerWheel<T> {
    /// Absolute time of the wheel's clock zero; all internal times are relative to it.
    base: u64,
    elapsed: u64,
    levels: Vec<Level<T>>,
    due: Vec<T>,
    len: usize,
}

impl<T> std::fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerWheel").field("elapsed", &self.elapsed).field("len", &self.len).finish()
    }
}

impl<T> TimerWheel<T> {
    /// A wheel whose clock starts at `now`.
    pub fn new(now: u64) -> Self {
        // Levels are allocated on first use, so an idle database costs almost nothing.
        TimerWheel { base: now, elapsed: 0, levels: Vec::new(), due: Vec::new(), len: 0 }
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every timer.
    pub fn clear(&mut self) {
        for l in &mut self.levels {
            for s in &mut l.slots {
                *s = Vec::new();
            }
            l.occupied = 0;
        }
        self.due.clear();
        self.len = 0;
    }

    /// Schedules `item` at `when` (ms). A deadline not after the wheel's clock fires at the
    /// next [`TimerWheel::advance`].
    pub fn insert(&mut self, when: u64, item: T) {
        self.len += 1;
        self.file(when.saturating_sub(self.base), item);
    }

    fn file(&mut self, when: u64, item: T) {
        if when <= self.elapsed {
            self.due.push(item);
            return;
        }
        if self.levels.is_empty() {
            self.levels = (0..LEVELS).map(|_| Level { occupied: 0, slots: (0..SLOTS).map(|_| Vec::new()).collect() }).collect();
        }
        // Far deadlines are filed at half the span, fire early there and are filed again.
        let pos = when.min(self.elapsed + MAX_SPAN / 2);
        let masked = (self.elapsed ^ pos) | (SLOTS as u64 - 1);
        let level = (((63 - masked.leading_zeros()) / BITS) as usize).min(LEVELS - 1);
        let slot = ((pos >> (level as u32 * BITS)) & (SLOTS as u64 - 1)) as usize;
        let l = &mut self.levels[level];
        l.slots[slot].push((when, item));
        l.occupied |= 1 << slot;
    }

    /// The earliest slot deadline at or after the clock: (level, slot, deadline). Every level
    /// is considered: a slot whose cascade was cut short by a budget can be due before the
    /// lower levels' slots.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let mut best: Option<(usize, usize, u64)> = None;
        for (level, l) in self.levels.iter().enumerate() {
            if l.occupied == 0 {
                continue;
            }
            let slot_range = 1u64 << (level as u32 * BITS);
            let level_range = slot_range << BITS;
            let now_slot = ((self.elapsed / slot_range) % SLOTS as u64) as u32;
            let rotated = l.occupied.rotate_right(now_slot);
            let slot = ((rotated.trailing_zeros() + now_slot) % SLOTS as u32) as usize;
            let level_start = self.elapsed & !(level_range - 1);
            let mut deadline = level_start + slot as u64 * slot_range;
            if deadline < self.elapsed && level > 0 {
                deadline += level_range;
            }
            let deadline = deadline.max(self.elapsed);
            if best.is_none_or(|b| deadline < b.2) {
                best = Some((level, slot, deadline));
            }
        }
        best
    }

    /// The time of the next timer (an upper bound on it for far deadlines), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.due.is_empty() {
            return Some(self.base + self.elapsed);
        }
        self.next_slot().map(|(_, _, d)| self.base + d)
    }

    /// Moves the clock towards `now`, pushing the items of fired timers into `out`. At most
    /// `budget` units of work are done (a fired timer, or a timer cascaded to a lower level),
    /// so a huge batch of deadlines never stalls the caller. Returns true when work due by
    /// `now` remains.
    pub fn advance(&mut self, now: u64, budget: usize, out: &mut Vec<T>) -> bool {
        let now = now.saturating_sub(self.base);
        let mut work = 0;
        loop {
            while let Some(item) = self.due.pop() {
                if work >= budget {
                    self.due.push(item);
                    return true;
                }
                out.push(item);
                self.len -= 1;
                work += 1;
            }
            match self.next_slot() {
                Some(_) if work >= budget => return true,
                Some((level, slot, deadline)) if deadline <= now => {
                    self.elapsed = deadline;
                    let l = &mut self.levels[level];
                    let entries = &mut l.slots[slot];
                    // Cascade at most the remaining budget; the rest stays for the next call.
                    let take = entries.len().min(budget - work);
                    let part: Vec<(u64, T)> = entries.drain(entries.len() - take..).collect();
                    if entries.is_empty() {
                        *entries = Vec::new();
                        l.occupied &= !(1 << slot);
                    }
                    work += take;
                    for (when, item) in part {
                        if when <= self.elapsed {
                            // Due now (every level-0 timer is): fire it directly.
                            out.push(item);
                            self.len -= 1;
                        } else {
                            self.file(when, item);
                        }
                    }
                }
                _ => break,
            }
        }
        self.elapsed = self.elapsed.max(now);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_order_against_sorted_model() {
        let mut rng = fastrand::Rng::with_seed(42);
        let start = 1_700_000_000_000u64;
        let mut w = TimerWheel::new(start);
        let mut model: Vec<(u64, u32)> = Vec::new();
        let mut now = start;
        for i in 0..20_000u32 {
            let span = match rng.u8(..4) {
                0 => rng.u64(..64),
                1 => rng.u64(..5_000),
                2 => rng.u64(..10_000_000),
                _ => rng.u64(..MAX_SPAN * 2),
            };
            w.insert(now + span, i);
            model.push((now + span, i));
            if i % 7 == 0 {
                now += rng.u64(..20_000);
                let mut out = Vec::new();
                assert!(!w.advance(now, usize::MAX, &mut out));
                let mut expect: Vec<u32> = model.iter().filter(|(t, _)| *t <= now).map(|x| x.1).collect();
                model.retain(|(t, _)| *t > now);
                out.sort_unstable();
                expect.sort_unstable();
                assert_eq!(out, expect, "at {now}");
                assert_eq!(w.len(), model.len());
                if let Some(next) = w.next_deadline() {
                    let min = model.iter().map(|x| x.0).min().unwrap();
                    assert!(next <= min, "next {next} after earliest {min}");
                }
            }
        }
    }

    #[test]
    fn budget_limits_work_per_advance() {
        let mut w = TimerWheel::new(0);
        for i in 0..100u32 {
            w.insert(5, i);
        }
        let mut out = Vec::new();
        assert!(w.advance(10, 30, &mut out));
        assert_eq!(out.len(), 30);
        assert!(!w.advance(10, 1000, &mut out));
        assert_eq!(out.len(), 100);
        // Cascading a crowded far slot is budgeted too.
        let mut w = TimerWheel::new(0);
        for i in 0..10_000u32 {
            w.insert(100_000 + u64::from(i % 50), i);
        }
        let mut out = Vec::new();
        let mut calls = 0;
        while w.advance(200_000, 500, &mut out) {
            calls += 1;
            assert!(out.len() <= 500 * calls);
        }
        assert_eq!(out.len(), 10_000);
        assert!(calls >= 20, "work was not split: {calls} calls");
        assert!(w.is_empty());
    }
}
