//! The immutable record a slot publishes, and the one way to retire it.

use crossbeam_epoch::{Guard, Shared};

use crate::Utf8Bytes;

/// One published key/value pair. Never mutated after publication: a write
/// replaces the whole entry.
///
/// The key is stored inline beside the value's buffer header, so a lookup
/// that matches the slot's hash tag reads one entry cache line before it
/// reaches the key's and the value's own bytes.
#[derive(Debug)]
pub(crate) struct Entry<K> {
    pub(crate) key: K,
    pub(crate) value: Utf8Bytes,
}

// A tombstone is a null pointer with tag 1, so entries need a spare low bit.
const _: () = assert!(std::mem::align_of::<Entry<u8>>() >= 2);

/// Hands an unlinked entry to the epoch collector, which drops it once every
/// thread that was pinned at this moment has unpinned.
///
/// # Safety
/// `entry` is non-null, was unlinked from every slot of every reachable table
/// before this call, and is retired once. No thread that pins after this
/// call can reach it.
pub(crate) unsafe fn retire<K>(guard: &Guard, entry: Shared<'_, Entry<K>>) {
    // SAFETY: the caller guarantees the entry is unlinked and retired once.
    unsafe { guard.defer_destroy(entry) }
}
