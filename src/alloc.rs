//! Memory accounting: a global allocator that counts the bytes the process has allocated
//! (Redis's `used_memory`), on jemalloc.
//!
//! jemalloc was chosen by measurement (`perf/memory_per_key.sh`, `perf/RESULTS.md`): at 10M
//! small keys it kept the least resident memory per key of jemalloc, mimalloc and glibc's
//! malloc (it has a 96-byte size class for the table's 96-byte entries and no per-block
//! header, where glibc spends 112 bytes on each). The `system-alloc` and `mimalloc` features
//! swap it out for that comparison.
//!
//! Each thread adds to its own cache-line-sized slot (no contended atomics on the hot path);
//! [`used_memory`] sums the slots. A block freed on another thread than the one that
//! allocated it moves bytes between slots, so only the sum is meaningful.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

const SLOTS: usize = 128;

#[repr(align(64))]
struct Slot(AtomicI64);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicI64::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

thread_local! {
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn add(n: i64) {
    let slot = MY_SLOT
        .try_with(|s| {
            if s.get() == usize::MAX {
                // Threads beyond the slots share the last one (still correct, atomically).
                s.set(NEXT_SLOT.fetch_add(1, Relaxed).min(SLOTS - 1));
            }
            s.get()
        })
        .unwrap_or(SLOTS - 1);
    let c = &COUNTS[slot].0;
    if slot == SLOTS - 1 {
        c.fetch_add(n, Relaxed);
    } else {
        // Only this thread writes its slot: a plain add, no locked instruction.
        c.store(c.load(Relaxed) + n, Relaxed);
    }
}

#[cfg(not(any(feature = "system-alloc", feature = "mimalloc")))]
static INNER: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(feature = "system-alloc")]
static INNER: std::alloc::System = std::alloc::System;
#[cfg(all(feature = "mimalloc", not(feature = "system-alloc")))]
static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator under [`Counting`], by the name INFO's `mem_allocator` gives.
pub const ALLOCATOR: &str = if cfg!(feature = "system-alloc") {
    "libc"
} else if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "jemalloc"
};

/// The counting allocator (installed as the global allocator by the server binary and tests).
#[derive(Debug)]
pub struct Counting;

// SAFETY: every call is forwarded to the inner allocator unchanged; only counters change.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { INNER.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { INNER.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { INNER.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Bytes allocated through [`Counting`] and not yet freed (0 when it is not installed).
pub fn used_memory() -> u64 {
    let used = COUNTS[..NEXT_SLOT.load(Relaxed).min(SLOTS)].iter().map(|s| s.0.load(Relaxed)).sum::<i64>().max(0);
    PEAK.fetch_max(used, Relaxed);
    used as u64
}

/// Bytes the calling thread allocated minus those it freed (blocks freed by another thread
/// count there, so this is indicative only; the sum over threads is [`used_memory`]).
pub fn thread_memory() -> i64 {
    match MY_SLOT.try_with(|s| s.get()) {
        Ok(slot) if slot < SLOTS - 1 => COUNTS[slot].0.load(Relaxed),
        _ => 0,
    }
}

/// Whether [`Counting`] is the process's global allocator (so `used_memory` and `maxmemory`
/// mean something). A program that embeds the engine installs it with
/// `#[global_allocator] static A: shardis::alloc::Counting = shardis::alloc::Counting;`.
pub fn counting() -> bool {
    NEXT_SLOT.load(Relaxed) > 0
}

/// The highest [`used_memory`] seen so far.
pub fn peak_memory() -> u64 {
    used_memory().max(PEAK.load(Relaxed) as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_nothing_when_not_installed() {
        // The library's unit tests run on the default allocator: the count stays at zero.
        let v = vec![0u8; 1 << 20];
        assert_eq!(super::used_memory(), 0);
        drop(v);
    }
}
