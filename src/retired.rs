//! Each shard's count of retired bytes, which also keeps itself alive.
//!
//! An entry or table that a writer unlinks is retired to the epoch
//! collector, and its bytes count in its shard's [`Retired`] until the
//! collector frees it ([`Stats::retired_bytes`](crate::Stats::retired_bytes)).
//! The free may run after the cache is gone, so the deferred function must
//! keep the count alive. An `Arc` of the count would cost every retired
//! object four locked instructions: the retire's add and the `Arc`'s
//! clone, the free's subtraction and the `Arc`'s drop. Here the bytes
//! themselves are the reference count, and each side costs one.
//!
//! # Synchronization
//! One shared location per shard: `state`, the bytes retired and not yet
//! freed, plus [`OPEN`] while the shard holds the count.
//!
//! - Every retired object counts at least one byte, so `state` is zero
//!   only when the shard has let go and every retired object is freed:
//!   `state` is an `Arc`'s strong count in disguise, with each retired
//!   object holding as many references as it has bytes. Whoever takes it
//!   to zero frees the allocation.
//! - [`Retired::retire`] adds with a Relaxed `fetch_add`, as `Arc::clone`
//!   increments: its caller borrows the shard's `Retired`, whose `OPEN`
//!   keeps `state` above zero, so the count is alive and cannot reach zero
//!   meanwhile.
//! - Every subtraction ([`Retiring`]'s drop, the shard's drop) is an
//!   AcqRel `fetch_sub`: its Release half orders the subtracting thread's
//!   earlier uses of the count before it, and its Acquire half, in the
//!   subtraction that reaches zero, pairs with every other subtraction's
//!   Release, so the free comes after all uses, as `Arc`'s drop does.
//! - The bytes of entries a shard holds back before retiring them
//!   together (`batch.rs`) are its own `held`, which changes only under
//!   the shard lock, with a Relaxed load and store, and joins `state`
//!   with one add when the batch is retired.
//! - The allocation also holds the shard's inbox of spare blocks
//!   (`spare.rs`), which the last holder frees with it.
//! - [`Retired::bytes`] loads `state`, then `held`, then the spare
//!   blocks' counts, all Relaxed: a statistic that orders nothing. A batch whose bytes move from `held`
//!   to `state` while it loads them may count twice, or not at all.

use std::{fmt, ptr::NonNull};

use crate::{
    spare::Inbox,
    sync::{AtomicU64, Ordering},
};

/// `state`'s bit for the shard's own reference.
const OPEN: u64 = 1 << 63;

/// The shared allocation: the count, and the shard's spare blocks
/// (`spare.rs`), which live as long as it.
struct Count {
    state: AtomicU64,
    inbox: Inbox,
}

/// One shard's count of bytes retired and not yet freed (see the module's
/// synchronization).
///
/// # Invariants
/// `LIVE`: `state` points to a live allocation while this value exists.
pub(crate) struct Retired {
    state: NonNull<Count>,
    /// Bytes of the entries the shard's batch holds (see the module's
    /// synchronization).
    held: AtomicU64,
}

// SAFETY: the only shared data is an atomic, and the allocation is freed
// by whichever thread takes the count to zero, after every other use.
unsafe impl Send for Retired {}
// SAFETY: as for `Send`; `&Retired` only loads and adds.
unsafe impl Sync for Retired {}

impl Default for Retired {
    fn default() -> Self {
        let state = Box::new(Count {
            state: AtomicU64::new(OPEN),
            inbox: Inbox::default(),
        });
        Retired {
            state: NonNull::from(Box::leak(state)),
            held: AtomicU64::new(0),
        }
    }
}

impl Retired {
    fn state(&self) -> &AtomicU64 {
        // SAFETY: invariant `LIVE`.
        unsafe { &self.state.as_ref().state }
    }

    /// The shard's spare blocks (`spare.rs`).
    pub(crate) fn inbox(&self) -> &Inbox {
        // SAFETY: invariant `LIVE`.
        unsafe { &self.state.as_ref().inbox }
    }

    /// Bytes retired and not yet freed, those the shard's batch holds
    /// and its spare blocks included.
    pub(crate) fn bytes(&self) -> u64 {
        // Relaxed: a statistic (see the module's synchronization).
        let retired = self.state().load(Ordering::Relaxed) & !OPEN;
        retired
            .saturating_add(self.held.load(Ordering::Relaxed))
            .saturating_add(self.inbox().bytes())
    }

    /// Counts `bytes` (at least one) of an entry the shard's batch holds,
    /// and returns the bytes it holds now. Under the shard lock.
    #[inline]
    pub(crate) fn hold_locked(&self, bytes: usize) -> u64 {
        let bytes = (bytes as u64).clamp(1, OPEN - 1);
        // Relaxed: under the shard lock (see the module's synchronization).
        let held = self.held.load(Ordering::Relaxed).saturating_add(bytes);
        self.held.store(held, Ordering::Relaxed);
        held
    }

    /// Retires the bytes the shard's batch holds, as [`retire`](Self::retire)
    /// does, for the deferred function that frees the batch. Under the
    /// shard lock.
    pub(crate) fn retire_held_locked(&self) -> Retiring {
        // Relaxed: under the shard lock (see the module's synchronization).
        let held = self.held.load(Ordering::Relaxed);
        let retiring = self.retire(usize::try_from(held).unwrap_or(usize::MAX));
        self.held.store(0, Ordering::Relaxed);
        retiring
    }

    /// Counts `bytes` (at least one) as retired until the returned
    /// [`Retiring`] is dropped, which the object's deferred free does.
    pub(crate) fn retire(&self, bytes: usize) -> Retiring {
        let bytes = (bytes as u64).clamp(1, OPEN - 1);
        // Relaxed: `OPEN` keeps the count alive (see the module's
        // synchronization).
        self.state().fetch_add(bytes, Ordering::Relaxed);
        Retiring {
            state: self.state,
            bytes,
        }
    }
}

impl Drop for Retired {
    fn drop(&mut self) {
        // SAFETY: the shard's reference, given up once.
        unsafe { release(self.state, OPEN) };
    }
}

impl fmt::Debug for Retired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Retired").field(&self.bytes()).finish()
    }
}

/// The bytes of one retired object, counted in its shard's [`Retired`]
/// until this is dropped, which keeps the count alive until then.
///
/// # Invariants
/// `HELD`: `bytes` of `state`'s count are this value's own.
#[must_use = "dropping it counts the bytes as freed"]
pub(crate) struct Retiring {
    state: NonNull<Count>,
    bytes: u64,
}

impl Retiring {
    /// The spare blocks of the shard whose count this is (`spare.rs`).
    pub(crate) fn inbox(&self) -> &Inbox {
        // SAFETY: invariant `HELD`: this value's bytes keep the count
        // alive.
        unsafe { &self.state.as_ref().inbox }
    }
}

// SAFETY: as for `Retired`: the allocation holds an atomic, and whoever
// takes the count to zero frees it after every other use.
unsafe impl Send for Retiring {}

impl Drop for Retiring {
    fn drop(&mut self) {
        // SAFETY: invariant `HELD`: this value's bytes, given up once.
        unsafe { release(self.state, self.bytes) };
    }
}

/// Subtracts `share` from the count at `state`, freeing it if that was the
/// last of it.
///
/// # Safety
/// The caller holds `share` of the count, and gives it up.
unsafe fn release(state: NonNull<Count>, share: u64) {
    // SAFETY: the caller's share keeps the allocation alive until this
    // subtraction.
    let count = unsafe { &state.as_ref().state };
    // AcqRel: see the module's synchronization.
    if count.fetch_sub(share, Ordering::AcqRel) == share {
        // SAFETY: the count reached zero: no share and no other use
        // remains, and it came from `Box::leak` in `Retired::default`.
        drop(unsafe { Box::from_raw(state.as_ptr()) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count is freed by whichever lets go last, the shard or a
    /// retired object's free: Miri reports a free that comes too early,
    /// or twice (CI runs it with leaks ignored).
    #[test]
    fn the_last_to_let_go_frees_the_count() {
        let retired = Retired::default();
        let first = retired.retire(100);
        let second = retired.retire(0);
        assert_eq!(retired.bytes(), 101, "an empty object counts one byte");
        drop(first);
        assert_eq!(retired.bytes(), 1);
        drop(retired);
        drop(second);

        let retired = Retired::default();
        let only = retired.retire(7);
        drop(only);
        assert_eq!(retired.bytes(), 0);
    }
}
