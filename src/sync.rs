//! The one place that chooses between `std` and `loom` primitives.
//!
//! Under `cfg(strcache_loom)` every atomic, mutex, condition variable, thread
//! identity and the epoch collector come from loom (crossbeam-epoch becomes
//! loom-aware with `--cfg crossbeam_loom`), so the model checker sees every
//! synchronizing operation the crate performs.

#[cfg(not(strcache_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

#[cfg(not(strcache_loom))]
pub(crate) use std::thread::{current as current_thread, ThreadId};

/// A statistics counter (`stats.rs`): a `std` atomic even under loom, since
/// counters order no other memory and modelling them would only multiply
/// the schedules loom explores.
pub(crate) use std::sync::atomic::AtomicU64 as Counter;

#[cfg(strcache_loom)]
pub(crate) use loom::thread::{current as current_thread, ThreadId};

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
/// the global collector does not exist, so each cache owns a collector and
/// registers a handle per pin (allocation is harmless under the model
/// checker).
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
            self.collector.register().pin()
        }
    }
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
