//! The one place that chooses between `std` and `loom` primitives.
//!
//! Under `cfg(strcache_loom)` every atomic, mutex, condition variable, thread
//! (the refresh workers' too), thread identity and the epoch collector come from loom (crossbeam-epoch becomes
//! loom-aware with `--cfg crossbeam_loom`), so the model checker sees every
//! synchronizing operation the crate performs.

#[cfg(not(strcache_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

#[cfg(not(strcache_loom))]
pub(crate) use std::thread::{
    current as current_thread, Builder as ThreadBuilder, JoinHandle, ThreadId,
};

/// A statistics counter (`stats.rs`): a `std` atomic even under loom, since
/// counters order no other memory and modelling them would only multiply
/// the schedules loom explores.
pub(crate) use std::sync::atomic::AtomicU64 as Counter;

#[cfg(strcache_loom)]
pub(crate) use loom::thread::{
    current as current_thread, Builder as ThreadBuilder, JoinHandle, ThreadId,
};

#[cfg(strcache_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

use crossbeam_epoch::Guard;

/// The source of epoch guards for one cache.
///
/// Normal builds pin crossbeam-epoch's global collector: the thread-local
/// handle is already registered, so pinning allocates nothing. Under loom
/// the global collector does not exist, so each cache owns a collector,
/// and each loom thread registers one handle on it, on its first pin, kept
/// in a loom thread-local until the thread ends; each pin then flushes, so
/// that reclamation runs as often as the models can race it. A handle per
/// pin would
/// churn the collector's list of participants: freed entries of that list
/// come back at addresses that differ from one execution to the next, the
/// list's pointer comparisons then differ too, and loom's replay of an
/// execution diverges ("is the model fully deterministic?").
#[derive(Debug, Default)]
pub(crate) struct Epoch {
    #[cfg(strcache_loom)]
    collector: crossbeam_epoch::Collector,
}

impl Epoch {
    /// Pins the current thread.
    #[inline]
    pub(crate) fn pin(&self) -> Guard {
        #[cfg(not(strcache_loom))]
        {
            crossbeam_epoch::pin()
        }
        #[cfg(strcache_loom)]
        {
            let guard = HANDLES.with(|handles| {
                let mut handles = handles.borrow_mut();
                if let Some((_, handle)) = handles.iter().find(|(c, _)| *c == self.collector) {
                    return handle.pin();
                }
                let handle = self.collector.register();
                let guard = handle.pin();
                handles.push((self.collector.clone(), handle));
                guard
            });
            // Every pin tries to advance the epoch and frees what it can,
            // as a fresh handle's first pin did: the models explore
            // reclamation racing every read, not once in 128 pins.
            guard.flush();
            guard
        }
    }
}

#[cfg(strcache_loom)]
loom::thread_local! {
    /// This loom thread's handle on each collector it has pinned (`Epoch`).
    static HANDLES: std::cell::RefCell<
        Vec<(crossbeam_epoch::Collector, crossbeam_epoch::LocalHandle)>,
    > = std::cell::RefCell::new(Vec::new());
}

/// Locks `mutex`, ignoring poison.
///
/// No user code runs while a shard lock is held (DESIGN.md, invariant 5),
/// so a poisoned lock can only come from an allocation failure or a bug in
/// this crate, and the state it protects is consistent at every point a
/// panic could leave it: the writer mutates it last, after all fallible work.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
