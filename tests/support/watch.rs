//! Waiting in tests without hanging the run: every wait fails the test
//! after [`PATIENCE`] instead of blocking forever.

use std::{sync::mpsc, thread, time::Duration};

/// Long enough for any wait that should end, so that one which never does
/// fails the test instead of hanging the run.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Runs `f` on a thread of its own and returns its result, or fails if it
/// has not finished after [`PATIENCE`]: a deadlock fails the test instead
/// of hanging the run. A panic in `f` reaches the caller.
pub(crate) fn watched<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || done.send(f()).unwrap());
    match finished.recv_timeout(PATIENCE) {
        Ok(value) => {
            worker.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlocked: not done after {PATIENCE:?}")
        }
    }
}
