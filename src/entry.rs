//! The immutable record a slot publishes, and the one way to retire it.

use std::sync::Arc;

use crossbeam_epoch::{Guard, Shared};

use crate::{
    expire::{Expiry, Stamp},
    stats::Retired,
    sync::{AtomicU32, AtomicU8, Ordering},
    Utf8Bytes,
};

/// The most marks an entry holds; readers store nothing once it is reached.
const MAX_MARKS: u8 = 3;

/// One published key/value pair. Never mutated after publication, except
/// for the readers' use marks: a write replaces the whole entry.
///
/// The key is stored inline beside the value's buffer header, so a lookup
/// that matches the slot's hash tag reads the entry's first line or two
/// before it reaches the key's and the value's own bytes. The layout is
/// fixed: the marks end 13 bytes after the start of the deadline, which
/// every hit reads (to check expiry), so under the 16-byte alignment that
/// the system allocators give they share its cache line, and a bound's
/// marks cost a hit no line that a hit on an unbounded cache does not read.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Entry<K> {
    /// When the entry expires, in the cache clock's nanoseconds; 0 for never.
    pub(crate) deadline: u64,
    /// The eviction policy's node for this key (bounded caches only). Set
    /// before publication and read only under the policy lock; atomic so
    /// that it is set through a shared reference, which keeps the policy's
    /// handle (derived from one) valid.
    node: AtomicU32,
    /// Reads since the policy last looked, saturating at `MAX_MARKS`;
    /// saturated from the start in an unbounded cache, where no policy looks.
    marks: AtomicU8,
    /// When the entry was written, in the cache clock's nanoseconds; 0 if
    /// the write did not read the clock (an untimed cache). A
    /// [`LoadingCache`](crate::LoadingCache) tells its age from it.
    pub(crate) written: u64,
    pub(crate) key: K,
    pub(crate) value: Utf8Bytes,
}

// A tombstone is a null pointer with tag 1, so entries need a spare low bit.
const _: () = assert!(std::mem::align_of::<Entry<u8>>() >= 2);

impl<K> Entry<K> {
    /// An entry; `tracked` says whether an eviction policy will read its
    /// marks. An untracked entry starts with its marks saturated, so that
    /// [`mark`](Self::mark) never stores to it and readers of bounded and
    /// unbounded caches run the same instructions.
    pub(crate) fn new(key: K, value: Utf8Bytes, stamp: Stamp, tracked: bool) -> Self {
        Entry {
            key,
            value,
            deadline: stamp.deadline,
            written: stamp.written,
            node: AtomicU32::new(0),
            marks: AtomicU8::new(if tracked { 0 } else { MAX_MARKS }),
        }
    }

    /// Heap bytes of the entry and its value, as `stats()` counts them
    /// while retired (the key's own heap bytes are not known here).
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.value.len()
    }

    /// The policy node (bounded caches).
    pub(crate) fn node(&self) -> u32 {
        // Relaxed: written before publication or under the policy lock,
        // read under it.
        self.node.load(Ordering::Relaxed)
    }

    /// Sets the policy node, before publication, under the policy lock.
    pub(crate) fn set_node(&self, node: u32) {
        // Relaxed: as in `node`.
        self.node.store(node, Ordering::Relaxed);
    }

    /// Whether the entry has expired by `expiry`'s clock, which is read
    /// only if the entry has a deadline.
    #[inline]
    pub(crate) fn expired(&self, expiry: &Expiry) -> bool {
        self.deadline != 0 && expiry.now() >= self.deadline
    }

    /// Whether the entry had expired at the clock reading `now` (0: before
    /// every deadline), which a write took before locking anything.
    #[inline]
    pub(crate) fn expired_at(&self, now: u64) -> bool {
        self.deadline != 0 && now >= self.deadline
    }

    /// Records a read for the eviction policy. Once the count is saturated
    /// (at once, for an untracked entry) this only loads, so readers of a
    /// hot entry do not write its line.
    #[inline]
    pub(crate) fn mark(&self) {
        // Relaxed: the marks are a hint for the policy; a lost increment
        // between the load and the store only makes the hint smaller.
        let marks = self.marks.load(Ordering::Relaxed);
        if marks < MAX_MARKS {
            self.marks.store(marks + 1, Ordering::Relaxed);
        }
    }

    /// Returns the reads marked since the last call and clears them.
    ///
    /// A load, and a store only if there were marks: not a swap, whose
    /// locked instruction every step of the policy's clock hands would pay.
    /// A reader's mark between the two is lost, which, as in `mark`, only
    /// makes the hint smaller.
    pub(crate) fn take_marks(&self) -> u8 {
        // Relaxed: as in `mark`; the count orders no other memory.
        let marks = self.marks.load(Ordering::Relaxed);
        if marks != 0 {
            // Relaxed: as above.
            self.marks.store(0, Ordering::Relaxed);
        }
        marks
    }

    /// Starts this (unpublished) entry with the marks of the one it
    /// replaces, so a rewrite keeps the key's standing with the policy.
    pub(crate) fn inherit_marks(&self, from: &Entry<K>) {
        // Relaxed: as in `mark`; publication of this entry orders the store.
        let marks = from.marks.load(Ordering::Relaxed);
        self.marks.store(marks, Ordering::Relaxed);
    }
}

/// Runs `drop_user_data` as a deferred function of the epoch collector.
///
/// It drops keys or values, whose `Drop` is user code and may panic. The
/// collector runs it on whichever thread collects next, inside that thread's
/// pin or flush, where a panic has no caller to reach: it would unwind
/// through the collector and skip the other deferred functions of its bag,
/// leaking their entries. So the panic is caught here and discarded (the
/// panic hook has already reported it), and reclamation goes on.
pub(crate) fn reclaim(drop_user_data: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(drop_user_data));
}

/// Hands an unlinked entry to the epoch collector, which drops it once every
/// thread that was pinned at this moment has unpinned. Its bytes (header
/// and value) count in `retired` until then.
///
/// `K: Send`: whichever thread next collects the global garbage drops the
/// entry, key included.
///
/// # Safety
/// `entry` is non-null, was unlinked from every slot of every reachable table
/// before this call, and is retired once. No thread that pins after this
/// call can reach it.
pub(crate) unsafe fn retire<K: Send>(
    guard: &Guard,
    entry: Shared<'_, Entry<K>>,
    retired: &Arc<Retired>,
) {
    // SAFETY: non-null and not yet freed: the caller retires it only now.
    let bytes = unsafe { entry.deref() }.bytes();
    retired.add(bytes);
    let retired = Arc::clone(retired);
    // SAFETY: the caller guarantees the entry is unlinked and retired once,
    // so the closure, run after every guard that could reach it is gone,
    // owns it. The closure's three words are stored inline: no allocation.
    unsafe {
        guard.defer_unchecked(move || {
            retired.sub(bytes);
            reclaim(|| drop(entry.into_owned()));
        });
    }
}
