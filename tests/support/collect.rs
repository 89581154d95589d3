//! Driving crossbeam-epoch's global collector in tests.

use std::time::{Duration, Instant};

/// Pins and flushes until `done` holds, and fails if it never does: after
/// 100,000 tries, and not before 10 seconds have passed, since a thread of
/// another test may stay pinned for a while (a panic hook capturing a
/// backtrace, say), and the epoch cannot advance until it unpins.
pub(crate) fn collect_until(done: impl Fn() -> bool) {
    let started = Instant::now();
    let mut tries = 0;
    while tries < 100_000 || started.elapsed() < Duration::from_secs(10) {
        if done() {
            return;
        }
        crossbeam_epoch::pin().flush();
        std::thread::yield_now();
        tries += 1;
    }
    assert!(done(), "retired memory was never freed");
}
