//! A global allocator that counts, shared by `tests/alloc.rs` and
//! `examples/memory.rs`. Each user installs it with `#[global_allocator]`.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicUsize, Ordering},
};

/// Counts live requested heap bytes (all threads) and allocations (per
/// thread), forwarding to `System`.
pub(crate) struct Counting;

/// Live requested heap bytes, all threads.
pub(crate) static LIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Allocations made by this thread.
    pub(crate) static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to `System` unchanged; the bookkeeping does not allocate
// (the thread-local is const-initialized and has no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's contract for `alloc` is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}
