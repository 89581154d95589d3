//! A long run of the concurrency workload on every core, reporting
//! operations done and the peak live heap. Run explicitly:
//! `STRCACHE_SOAK_SECS=600 cargo test --release --test soak -- --ignored --nocapture`.

use std::{
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    thread,
    time::Duration,
};

#[path = "support/counting.rs"]
mod counting;
#[path = "support/workers.rs"]
mod workers;
use counting::{Counting, LIVE};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The concurrency workload on every core for `STRCACHE_SOAK_SECS` seconds
/// (default 60), reporting operations done and the peak live heap.
#[test]
#[ignore = "soak: run explicitly with --ignored"]
fn soak() {
    let secs = std::env::var("STRCACHE_SOAK_SECS").map_or(60, |s| s.parse().expect("seconds"));
    let readers = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let base = LIVE.load(Ordering::Relaxed);
    let peak = AtomicUsize::new(base);
    let done = AtomicBool::new(false);
    let ops = thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(10));
            }
        });
        let ops = workers::run(Duration::from_secs(secs), 8, readers, None);
        done.store(true, Ordering::Relaxed);
        ops
    });
    let peak = peak.into_inner() - base;
    eprintln!("soak: {ops} operations in {secs} s, peak live heap {peak} bytes above the start");
    assert!(ops > 0);
    assert!(peak < 64 << 20, "peak live heap {peak} bytes");
}
