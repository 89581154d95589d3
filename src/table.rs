//! Open-addressed slot arrays and the probes over them.
//!
//! A table is a power-of-two array of slots probed linearly. Each slot holds
//! a hash tag and a pointer to an [`Entry`]; a lookup whose tag does not
//! match moves on without dereferencing the entry.
//!
//! # Synchronization
//! Shared locations: `Slot::hash` and `Slot::entry` of every slot.
//!
//! - Writers hold their shard's lock for every store, so stores to one
//!   table never race with each other; they race only with lock-free loads.
//! - A slot goes `EMPTY -> LIVE` once: the writer stores the entry pointer,
//!   then the tag with Release (`Slot::publish`). A reader loads the tag with
//!   Acquire, pairing with that Release, so a non-zero tag implies the entry
//!   pointer (live or tombstone) is visible. A zero tag means the slot is
//!   empty (or being filled, which is indistinguishable from a write that
//!   has not started) and ends the probe.
//! - A slot's tag never changes after it is set. Removal leaves a
//!   tombstone (null with tag 1); a resize drops tombstones by copying live
//!   slots into a new table, and an insert may revive a tombstone with its
//!   key's tag (the lowest-indexed one on its path), which puts a removed
//!   and re-inserted key back in its old slot, or, when hashes collide,
//!   into a slot before it. So a slot a probe has passed can later hold the
//!   key it looks for only through a revival, or through a fill of the
//!   empty slot that ended the probe, which writers detect (see
//!   `shard.rs`); readers are unaffected, since they compare keys.
//! - Replacing or removing stores the entry pointer with Release; readers
//!   load it with Acquire, pairing with it, so the entry's key and value
//!   bytes written before publication are visible.
//! - The table as a whole is published by the shard (see `shard.rs`).

use std::{borrow::Borrow, panic::AssertUnwindSafe};

use crossbeam_epoch::{Atomic, Guard, Pointer, Shared};

use crate::entry::Entry;
use crate::sync::{AtomicU64, Ordering};

/// Tag value of an empty slot.
const EMPTY: u64 = 0;
/// Pointer tag of a removed entry.
const TOMBSTONE: usize = 1;

/// The smallest table a shard allocates.
pub(crate) const MIN_CAPACITY: usize = 8;

/// Maps a hash to the tag stored in a slot: any value but `EMPTY`.
#[inline]
pub(crate) fn tag_of(hash: u64) -> u64 {
    hash.max(1)
}

/// One slot: a hash tag beside the entry pointer, 16 bytes, so both lie on
/// one cache line.
///
/// # Invariants
/// `ONCE`: `hash` goes from `EMPTY` to a tag once, after `entry` was first
/// stored, and every entry ever stored here has a key with that tag.
#[derive(Debug)]
pub(crate) struct Slot<K> {
    hash: AtomicU64,
    entry: Atomic<Entry<K>>,
}

/// The result of a writer's lock-free search for a key.
pub(crate) enum Probe<'g, K> {
    /// The key is live in slot `index` as `current`.
    Occupied {
        index: usize,
        current: Shared<'g, Entry<K>>,
    },
    /// The key is absent from the probe path up to slot `end`, the first
    /// empty one. Slot `index` is where it goes: of the tombstones with the
    /// key's tag before `end`, the one with the lowest index, else `end`.
    ///
    /// An iterator walks slots in index order, and must not meet a removed
    /// and re-inserted key twice. If the key left a slot of this table, that
    /// slot is on its path before `end` and holds its tag: a tombstone, so
    /// one at or after `index`, which the iterator passed if it passed the
    /// old slot; or, if a key with a colliding hash revived it, a live
    /// entry of another key with the same tag. `displaced` says whether
    /// such an entry lies before `index`: then the key may only go into a
    /// new table, which no iterator of this one walks. Without colliding
    /// hashes it is always `false`.
    Vacant {
        index: usize,
        end: usize,
        displaced: bool,
    },
}

/// A power-of-two array of slots.
///
/// # Invariants
/// `LEN`: `slots.len() == mask + 1`, a power of two; neither changes.
/// `SPARE`: at least one slot is `EMPTY` (shards grow at 3/4 load), so every
/// probe ends.
/// `OWNS`: the live entries of the table the shard currently publishes are
/// owned by it; a retired table owns none of its entries (its live ones
/// were moved to its successor, or retired along with it by `clear`).
#[derive(Debug)]
pub(crate) struct Table<K> {
    mask: usize,
    slots: Box<[Slot<K>]>,
}

impl<K> Table<K> {
    /// An empty table of at least `capacity` slots.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(MIN_CAPACITY).next_power_of_two();
        let slots = (0..capacity)
            .map(|_| Slot {
                hash: AtomicU64::new(EMPTY),
                entry: Atomic::null(),
            })
            .collect();
        Table {
            mask: capacity - 1,
            slots,
        }
    }

    /// Number of slots.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Heap bytes of the table itself, its entries not included.
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.capacity() * std::mem::size_of::<Slot<K>>()
    }

    /// Slot indices on `tag`'s probe path, starting at its home slot. The
    /// path visits every slot once.
    #[inline]
    fn path(&self, tag: u64) -> impl Iterator<Item = (usize, &Slot<K>)> {
        let start = tag as usize & self.mask;
        (0..=self.mask).map(move |i| {
            let index = (start + i) & self.mask;
            (index, &self.slots[index])
        })
    }

    /// Finds the live entry for `key`. Lock-free; used by readers.
    ///
    /// The hot path of every hit: one walk from the home slot, at most
    /// once round the table, with no iterator state and no bounds check.
    #[inline]
    pub(crate) fn find<'g, Q>(&self, tag: u64, key: &Q, guard: &'g Guard) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let mut index = tag as usize;
        for _ in 0..self.capacity() {
            index &= self.mask;
            // SAFETY: `index <= mask`, so it is in bounds (invariant `LEN`).
            let slot = unsafe { self.slots.get_unchecked(index) };
            // Acquire: pairs with the Release tag store in `Slot::publish`,
            // so the slot's first entry pointer is visible.
            let h = slot.hash.load(Ordering::Acquire);
            if h == EMPTY {
                return None;
            }
            if h == tag {
                // Acquire: pairs with the Release entry stores in
                // `publish`, `replace` and `remove`, so the entry's
                // contents are visible.
                let entry = slot.entry.load(Ordering::Acquire, guard);
                // SAFETY: a non-null pointer loaded under `guard` is a live
                // entry, or one retired after this guard pinned, which the
                // collector keeps until the guard is dropped.
                if let Some(entry) = unsafe { entry.as_ref() } {
                    if entry.key.borrow() == key {
                        return Some(entry);
                    }
                }
            }
            index += 1;
        }
        None
    }

    /// A writer's lock-free search: where `key` lives, or where it would go.
    /// Runs the user's `Eq`, so it is called without the shard lock.
    pub(crate) fn probe<'g, Q>(&self, tag: u64, key: &Q, guard: &'g Guard) -> Probe<'g, K>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        // The lowest-indexed tombstone with the key's tag so far. The probe
        // goes on past it: with colliding hashes the key may be live
        // further on.
        let mut revivable: Option<usize> = None;
        // The lowest-indexed live entry of another key with the same tag.
        let mut colliding: Option<usize> = None;
        for (index, slot) in self.path(tag) {
            // Acquire: as in `find`.
            let h = slot.hash.load(Ordering::Acquire);
            if h == EMPTY {
                let chosen = revivable.unwrap_or(index);
                return Probe::Vacant {
                    index: chosen,
                    end: index,
                    displaced: colliding.is_some_and(|c| c < chosen),
                };
            }
            if h != tag {
                continue;
            }
            // Acquire: as in `find`.
            let current = slot.entry.load(Ordering::Acquire, guard);
            // SAFETY: as in `find`.
            match unsafe { current.as_ref() } {
                Some(entry) if entry.key.borrow() == key => {
                    return Probe::Occupied { index, current };
                }
                Some(_) => colliding = Some(colliding.map_or(index, |c| c.min(index))),
                None => revivable = Some(revivable.map_or(index, |r| r.min(index))),
            }
        }
        unreachable!("a table always keeps an empty slot (invariant SPARE)")
    }

    /// Finds the slot that holds exactly `entry`, comparing pointers only.
    /// Runs no user code; called under the shard lock.
    pub(crate) fn position_of(
        &self,
        tag: u64,
        entry: Shared<'_, Entry<K>>,
        guard: &Guard,
    ) -> Option<usize> {
        for (index, slot) in self.path(tag) {
            // Relaxed: the caller holds the shard lock, which orders every
            // store to this table before this load.
            let h = slot.hash.load(Ordering::Relaxed);
            if h == EMPTY {
                return None;
            }
            if h == tag && slot.entry.load(Ordering::Relaxed, guard) == entry {
                return Some(index);
            }
        }
        None
    }

    /// Whether slot `index` holds a tombstone with tag `tag`. Called under
    /// the shard lock.
    pub(crate) fn is_tombstone(&self, index: usize, tag: u64, guard: &Guard) -> bool {
        let slot = &self.slots[index];
        // Relaxed: the shard lock orders every store to this table.
        slot.hash.load(Ordering::Relaxed) == tag
            && slot.entry.load(Ordering::Relaxed, guard).is_null()
    }

    /// Whether slot `index` is still empty. Called under the shard lock.
    pub(crate) fn is_empty_slot(&self, index: usize) -> bool {
        // Relaxed: the shard lock orders every store to this table.
        self.slots[index].hash.load(Ordering::Relaxed) == EMPTY
    }

    /// The entry pointer in slot `index`. Called under the shard lock.
    pub(crate) fn current<'g>(&self, index: usize, guard: &'g Guard) -> Shared<'g, Entry<K>> {
        // Relaxed: the shard lock orders every store to this table.
        self.slots[index].entry.load(Ordering::Relaxed, guard)
    }

    /// Fills empty slot `index` with a new key's entry. Called under the
    /// shard lock, after `is_empty_slot(index)`.
    pub(crate) fn publish<P: Pointer<Entry<K>>>(&self, index: usize, tag: u64, entry: P) {
        let slot = &self.slots[index];
        // Relaxed: made visible by the Release tag store below.
        slot.entry.store(entry, Ordering::Relaxed);
        // Release: pairs with the Acquire tag loads in `find` and `probe`;
        // a reader that sees the tag sees the entry pointer (invariant ONCE).
        slot.hash.store(tag, Ordering::Release);
    }

    /// Stores `entry` over the live entry in slot `index`. Called under the
    /// shard lock; the caller retires the entry it replaced.
    pub(crate) fn replace<P: Pointer<Entry<K>>>(&self, index: usize, entry: P) {
        // Release: pairs with the Acquire entry loads in `find` and `probe`,
        // so a reader that sees the new entry sees its contents.
        self.slots[index].entry.store(entry, Ordering::Release);
    }

    /// Replaces the live entry in slot `index` with a tombstone. Called
    /// under the shard lock; the caller retires the entry it removed.
    pub(crate) fn remove(&self, index: usize) {
        // Release: a tombstone carries no data; Release keeps the store
        // ordered after the writer's earlier stores for readers that Acquire
        // it, the same as `replace`.
        self.slots[index]
            .entry
            .store(Shared::null().with_tag(TOMBSTONE), Ordering::Release);
    }

    /// Live entries with their tags, in slot order.
    pub(crate) fn live<'g>(
        &'g self,
        guard: &'g Guard,
    ) -> impl Iterator<Item = (u64, Shared<'g, Entry<K>>)> + 'g {
        self.slots.iter().filter_map(move |slot| {
            // Acquire: as in `find`.
            let tag = slot.hash.load(Ordering::Acquire);
            if tag == EMPTY {
                return None;
            }
            // Acquire: as in `find`.
            let entry = slot.entry.load(Ordering::Acquire, guard);
            (!entry.is_null()).then_some((tag, entry))
        })
    }

    /// The live entry in slot `index`, if any. Lock-free; used by iterators.
    pub(crate) fn entry_at<'g>(&self, index: usize, guard: &'g Guard) -> Option<&'g Entry<K>> {
        let slot = self.slots.get(index)?;
        // Acquire: as in `find`.
        if slot.hash.load(Ordering::Acquire) == EMPTY {
            return None;
        }
        // Acquire: as in `find`.
        let entry = slot.entry.load(Ordering::Acquire, guard);
        // SAFETY: as in `find`.
        unsafe { entry.as_ref() }
    }

    /// A new table of `capacity` slots holding this table's live entries.
    /// Called under the shard lock; the new table is published by the
    /// shard's Release store of the table pointer.
    pub(crate) fn rehash(&self, capacity: usize, guard: &Guard) -> Table<K> {
        let table = Table::with_capacity(capacity);
        for (tag, entry) in self.live(guard) {
            let (index, _) = table
                .path(tag)
                .find(|(i, _)| table.is_empty_slot(*i))
                .expect("the new table has room for every live entry");
            // The entry moves to the new table: the old one will own none
            // of its entries once it is retired (invariant `OWNS`).
            table.publish(index, tag, entry);
        }
        table
    }

    /// Drops every live entry.
    ///
    /// # Safety
    /// The table owns its live entries (invariant `OWNS`) and no other
    /// thread can reach them: the table is unlinked and no guard that could
    /// have loaded it is still pinned, or the owner has `&mut` access.
    ///
    /// A key's or value's `Drop` may panic (user code): every other entry
    /// is dropped all the same, and then the first panic resumes, unless
    /// the thread is unwinding already.
    pub(crate) unsafe fn drop_entries(&mut self) {
        // SAFETY: no other thread can access the table (caller's contract).
        let guard = unsafe { crossbeam_epoch::unprotected() };
        let mut panic = None;
        for slot in self.slots.iter() {
            let entry = slot.entry.load(Ordering::Relaxed, guard);
            if !entry.is_null() {
                // SAFETY: the table owns this entry and nothing else can
                // reach it; each slot holds a distinct entry, dropped once.
                let entry = unsafe { entry.into_owned() };
                let dropped = std::panic::catch_unwind(AssertUnwindSafe(|| drop(entry)));
                if let Err(payload) = dropped {
                    panic.get_or_insert(payload);
                }
            }
        }
        if let Some(payload) = panic {
            if !std::thread::panicking() {
                std::panic::resume_unwind(payload);
            }
        }
    }
}

/// One slot as the invariant walk (`StrCache::validate`) classifies it.
#[cfg(any(test, fuzzing))]
#[derive(Debug)]
pub(crate) enum SlotView<'g, K> {
    /// Tag `EMPTY` and a null, untagged pointer.
    Empty,
    /// A tag and a live entry.
    Live { tag: u64, entry: &'g Entry<K> },
    /// A tag and a tombstone: a null pointer with pointer tag `TOMBSTONE`.
    Tombstone,
    /// Any other combination, which no writer ever stores.
    Corrupt {
        tag: u64,
        null: bool,
        pointer_tag: usize,
    },
}

/// Read-only views for the invariant walk.
#[cfg(any(test, fuzzing))]
impl<K> Table<K> {
    /// Slot `index`, classified. Called under the shard lock.
    pub(crate) fn view<'g>(&self, index: usize, guard: &'g Guard) -> SlotView<'g, K> {
        let slot = &self.slots[index];
        // Relaxed: the shard lock orders every store to this table, and
        // every entry's construction, before this load.
        let tag = slot.hash.load(Ordering::Relaxed);
        // Relaxed: as above.
        let entry = slot.entry.load(Ordering::Relaxed, guard);
        match (tag, entry.is_null(), entry.tag()) {
            (EMPTY, true, 0) => SlotView::Empty,
            (EMPTY, ..) => SlotView::Corrupt {
                tag,
                null: entry.is_null(),
                pointer_tag: entry.tag(),
            },
            (_, true, TOMBSTONE) => SlotView::Tombstone,
            (tag, false, 0) => SlotView::Live {
                tag,
                // SAFETY: a non-null pointer loaded under `guard` from the
                // published table under the shard lock is a live entry,
                // which the collector keeps while `guard` is pinned.
                entry: unsafe { entry.deref() },
            },
            (tag, null, pointer_tag) => SlotView::Corrupt {
                tag,
                null,
                pointer_tag,
            },
        }
    }

    /// The slot indices on `tag`'s probe path, from its home slot on, in
    /// the order `find` and `probe` visit them.
    pub(crate) fn probe_path(&self, tag: u64) -> impl Iterator<Item = usize> + '_ {
        self.path(tag).map(|(index, _)| index)
    }
}
