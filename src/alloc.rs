//! Memory accounting: a global allocator that counts the bytes the process has allocated
//! (Redis's `used_memory`), on the system allocator.
//!
//! Each thread adds to its own cache-line-sized slot (no contended atomics on the hot path);
//! [`used_memory`] sums the slots. A block freed on another thread than the one that
//! allocated it moves bytes between slots, so only the sum is meaningful.

use std::alloc::{GlobalAlloc, Layout, System};
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

/// The counting allocator (installed as the global allocator by the server binary and tests).
#[derive(Debug)]
pub struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; only counters change.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
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
