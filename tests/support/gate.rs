//! A barrier for tests that fails instead of waiting forever.

use std::{
    sync::{Condvar, Mutex},
    time::Duration,
};

/// A one-use barrier for `n` threads whose wait fails after `patience`.
pub(crate) struct Gate {
    n: usize,
    patience: Duration,
    arrived: Mutex<usize>,
    all: Condvar,
}

impl Gate {
    pub(crate) fn new(n: usize, patience: Duration) -> Self {
        Gate {
            n,
            patience,
            arrived: Mutex::new(0),
            all: Condvar::new(),
        }
    }

    /// Waits until all `n` threads have arrived.
    pub(crate) fn wait(&self) {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        if *arrived == self.n {
            self.all.notify_all();
            return;
        }
        let (arrived, waited) = (self.all)
            .wait_timeout_while(arrived, self.patience, |arrived| *arrived < self.n)
            .unwrap();
        drop(arrived);
        assert!(!waited.timed_out(), "not every thread reached the gate");
    }
}
