//! Driving crossbeam-epoch's global collector in tests.

/// Pins and flushes until `done` holds, and fails if it never does.
pub(crate) fn collect_until(done: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if done() {
            return;
        }
        crossbeam_epoch::pin().flush();
    }
    assert!(done(), "retired memory was never freed");
}
