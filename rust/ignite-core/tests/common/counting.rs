//! The fuzz harnesses' allocation bounds: the system allocator, recording per thread (each test
//! runs on its own) the bytes live, the most live at once since [`reset_peak`], and the largest
//! single allocation asked for. A harness installs it with
//! `#[global_allocator] static ALLOCATOR: Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

pub struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn grew(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + size);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

fn shrank(size: usize) {
    // a block freed on another thread than it was allocated on: saturate
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

// SAFETY: every method hands its arguments to the system allocator, whose contract is the
// same; the bookkeeping beside it neither allocates nor panics (thread-local cells of const
// initialisers, `try_with`, sums far below usize::MAX).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's promises for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: the caller's promises for `dealloc`: `ptr` came from this allocator, which is
        // the system's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        shrank(layout.size());
        // SAFETY: the caller's promises for `realloc`: `ptr` came from this allocator, which is
        // the system's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts measuring: the peak becomes what is live now, which is returned.
pub fn reset_peak() -> usize {
    let live = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(live));
    live
}

/// The most bytes live at once beyond `base` since [`reset_peak`].
pub fn peak_above(base: usize) -> usize {
    PEAK.with(Cell::get).saturating_sub(base)
}

/// The largest single allocation this thread has asked for.
pub fn largest_allocation() -> usize {
    LARGEST.with(Cell::get)
}
