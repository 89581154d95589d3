//! Open-addressed slot arrays and the probes over them.
//!
//! A table is a power-of-two array of slots probed linearly. Each slot is
//! one 8-byte word: the entry's address with an 8-bit tag of its key's
//! hash in the address's unused bits 48 to 55, so that a lookup whose tag
//! does not match moves on without dereferencing the entry.
//!
//! A slot's tag, like the home slot, comes from the low 32 bits of the
//! key's hash tag, which the entry keeps ([`Entry::tag`]): a resize places
//! entries by them, without running the user's `Hash` under the shard lock.
//!
//! ```text
//! EMPTY      0
//! live       address | tag << 48                 (address & TAG_MASK == 0)
//! wide       address | WIDE                      (an address that uses bits 48..56)
//! tombstone  tag << 48 | tag32 << 2 | TOMBSTONE  (tag32: the hash tag's low 32 bits)
//! ```
//!
//! Addresses of the heap lie below 2^48 on the 64-bit targets Rust
//! supports, but top-byte tagging (Arm's TBI, as Android's allocator
//! uses it) and 57-bit address spaces may set higher bits. Bits 56 to 63
//! are kept as they are; an address that uses bits 48 to 55 is stored
//! *wide*, with no tag, and a probe that meets it reads the entry's tag.
//! Entries are aligned to at least 4, so bits 0 and 1 are free.
//!
//! # Synchronization
//! Shared locations: every slot's word.
//!
//! - Writers hold their shard's lock for every store, so stores to one
//!   table never race with each other; they race only with lock-free loads.
//! - Every store of a live word (`publish`) is a Release store,
//!   and every lock-free load an Acquire load, pairing with it: a reader
//!   that sees an entry's address sees the entry's header, key and value,
//!   written before. A tombstone (`remove`) carries no data; its store is
//!   Release too, which keeps it ordered after the writer's earlier stores.
//!   `EMPTY` means the slot is empty (or being filled, which is
//!   indistinguishable from a write that has not started) and ends a probe.
//! - A slot goes from `EMPTY` to a tag once, and its tag never changes:
//!   every entry ever stored in it has a key whose hash tag has the same
//!   low 32 bits (the word carries eight of them, or, wide, leaves them to
//!   the entry). Removal leaves a tombstone with all 32; a resize drops
//!   tombstones by copying live entries into a new table, and an insert may
//!   revive a tombstone with its key's 32 bits (the lowest-indexed one on
//!   its path), which puts a removed and re-inserted key back in its old
//!   slot, or, when those bits collide, into a slot before it. Eight-bit
//!   tags alone would let any key with the same eight bits revive a
//!   removed key's slot, and then the key's return would need a new table
//!   (see `Probe::Vacant`) far more often. So a slot a probe has passed can later hold the key it looks for
//!   only through a revival, or through a fill of the empty slot that
//!   ended the probe, which writers detect (see `shard/write.rs`); readers are
//!   unaffected, since they compare keys.
//! - The table as a whole is published by the shard (see `shard/mod.rs`).
//!
//! # Layout
//! A table is one allocation, aligned to [`TABLE_ALIGN`]: its mask, then
//! its slots. The shard's pointer to it carries the capacity's log2 in the
//! six low bits that alignment leaves free (crossbeam's tag), so a reader
//! computes the slots' address and the mask from the pointer it loaded
//! and goes on to the home slot, without the dependent load of a header.
//! The mask in the allocation serves `deref`, `drop` and the writers.

use std::{
    alloc::{self, Layout},
    borrow::Borrow,
    fmt,
    marker::PhantomData,
    panic::AssertUnwindSafe,
    ptr,
};

use crossbeam_epoch::{Atomic, Guard, Owned, Pointable, Pointer, Shared};

use crate::entry::Entry;
use crate::sync::{AtomicU64, Ordering};

/// The word of an empty slot.
const EMPTY: u64 = 0;
/// Low bit: a tombstone, with a null address.
const TOMBSTONE: u64 = 1;
/// Second bit: a wide word, whose address uses the tag's bits.
const WIDE: u64 = 2;
/// The bits below an entry's alignment.
const LOW: u64 = TOMBSTONE | WIDE;
/// Where the tag lies in a word.
const TAG_SHIFT: u32 = 48;
const TAG_MASK: u64 = 0xFF << TAG_SHIFT;

/// The smallest table a shard allocates: 256 bytes of slots. A few keys
/// in a smaller table often share a home slot, and a key moved off its
/// home slot is read one slot later, after a branch that depends on the
/// key. On the hot set of `examples/throughput` (16 keys over 8 shards),
/// one thread read 63 Mops/s with 32 slots, 51 with 8.
pub(crate) const MIN_CAPACITY: usize = 32;

/// The slot tag of hash tag `tag`, in place: bits 24 to 31, which a home
/// slot uses only in a table of more than 2^24 slots.
#[inline]
fn slot_tag(tag: u64) -> u64 {
    ((tag >> 24) & 0xFF) << TAG_SHIFT
}

/// Whether an entry whose address leaves room for the tag is stored wide
/// all the same: never in a release build; in tests and fuzz targets, for
/// half of the keys, so that both forms are checked on every platform.
#[inline]
fn forced_wide(tag: u64) -> bool {
    cfg!(any(test, fuzzing)) && tag & (1 << 23) != 0
}

/// The word of a live entry at `addr` whose key has hash tag `tag`.
#[inline]
fn live_word(tag: u64, addr: usize) -> u64 {
    let addr = addr as u64;
    debug_assert!(addr != 0 && addr & LOW == 0, "an aligned entry's address");
    if addr & TAG_MASK == 0 && !forced_wide(tag) {
        addr | slot_tag(tag)
    } else {
        addr | WIDE
    }
}

/// The word of a tombstone of a key with hash tag `tag`: its slot tag
/// and its low 32 bits.
#[inline]
fn tombstone_word(tag: u64) -> u64 {
    slot_tag(tag) | (low32(tag) << 2) | TOMBSTONE
}

/// The low 32 bits of a hash tag, which entries keep.
#[inline]
fn low32(tag: u64) -> u64 {
    tag & 0xFFFF_FFFF
}

/// The entry address in `word`; 0 for an empty slot or a tombstone.
#[inline]
fn address(word: u64) -> usize {
    if word & TOMBSTONE != 0 {
        return 0;
    }
    let tag_bits = if word & WIDE == 0 { TAG_MASK } else { 0 };
    (word & !(tag_bits | LOW)) as usize
}

/// Whether live `word` may hold an entry whose key has the slot tag
/// `want`: its tag matches, or it is wide.
#[inline]
fn may_match(word: u64, want: u64) -> bool {
    word & (TAG_MASK | WIDE) == want || word & WIDE != 0
}

/// One slot's word (see the module's diagram).
///
/// # Invariants
/// `ONCE`: the word goes from `EMPTY` to a tag once, and every entry ever
/// stored here has a key with that tag.
#[derive(Debug)]
pub(crate) struct Slot {
    word: AtomicU64,
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
    /// low 32 bits of the key's tag before `end`, the one with the lowest
    /// index, else `end`.
    ///
    /// An iterator walks slots in index order, and must not meet a removed
    /// and re-inserted key twice. If the key left a slot of this table, that
    /// slot is on its path before `end` and holds those 32 bits: a
    /// tombstone, so one at or after `index`, which the iterator passed if
    /// it passed the old slot; or, if a key whose tag has the same low 32
    /// bits revived it, a live entry of that key. `displaced` says whether
    /// such an entry lies before `index`: then the key may only go into a
    /// new table, which no iterator of this one walks. Unless two keys'
    /// tags share their low 32 bits it is always `false`.
    Vacant {
        index: usize,
        end: usize,
        displaced: bool,
    },
}

/// The alignment of a table's allocation: its pointer's six low bits
/// carry the capacity's log2 (see the module's layout).
const TABLE_ALIGN: usize = 64;
/// The bits of a table's pointer that carry the log2.
const LOG2_MASK: usize = TABLE_ALIGN - 1;

/// Where the slots start in a table's allocation: after the mask, at
/// `Slot`'s alignment, as `repr(C)` places the `slots` field.
const SLOTS: usize = {
    let align = std::mem::align_of::<Slot>();
    std::mem::size_of::<usize>().div_ceil(align) * align
};

/// A power-of-two array of slots, allocated with its mask ahead of them
/// (see the module's layout).
///
/// # Invariants
/// `LEN`: `slots.len() == mask + 1`, a power of two; neither changes.
/// `LOG2`: every pointer to a table carries `slots.len().trailing_zeros()`
/// as its tag.
/// `SPARE`: at least one slot is `EMPTY` (shards grow at 3/4 load), so every
/// probe ends.
/// `OWNS`: the live entries of the table the shard currently publishes are
/// owned by it; a retired table owns none of its entries (its live ones
/// were moved to its successor, or retired along with it by `clear`).
#[repr(C)]
pub(crate) struct Table<K> {
    mask: usize,
    /// The slots own entries through their addresses, as crossbeam's
    /// `Atomic`s would: the table is `Send` and `Sync` when those are.
    _entries: PhantomData<Atomic<Entry<K>>>,
    slots: [Slot],
}

impl<K> fmt::Debug for Table<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl<K> Pointable for Table<K> {
    const ALIGN: usize = TABLE_ALIGN;

    /// The capacity, a power of two.
    type Init = usize;

    unsafe fn init(capacity: usize) -> usize {
        debug_assert!(capacity.is_power_of_two());
        let layout = Self::layout(capacity);
        // SAFETY: the layout's size is at least `SLOTS`, which is not zero.
        let base = unsafe { alloc::alloc(layout) };
        if base.is_null() {
            alloc::handle_alloc_error(layout);
        }
        // SAFETY: `base` is a new allocation of `layout`: the mask at
        // offset 0, aligned, then `capacity` slots from `SLOTS`, in bounds
        // and aligned for `Slot`.
        unsafe {
            base.cast::<usize>().write(capacity - 1);
            let slots = base.add(SLOTS).cast::<Slot>();
            for index in 0..capacity {
                slots.add(index).write(Slot {
                    word: AtomicU64::new(EMPTY),
                });
            }
        }
        // Exposed: every pointer to the table is rebuilt from this address.
        base.expose_provenance()
    }

    unsafe fn deref<'a>(ptr: usize) -> &'a Self {
        // SAFETY: crossbeam's contract: a table `init` made, not dropped.
        unsafe { &*Self::wide(ptr) }
    }

    unsafe fn deref_mut<'a>(ptr: usize) -> &'a mut Self {
        // SAFETY: as in `deref`, and no other reference exists.
        unsafe { &mut *Self::wide(ptr) }
    }

    unsafe fn drop(ptr: usize) {
        // SAFETY: crossbeam's contract: a table `init` made, dropped once,
        // with no reference left.
        unsafe {
            let table = Self::wide(ptr);
            let layout = Self::layout((*table).capacity());
            ptr::drop_in_place(table);
            alloc::dealloc(table.cast::<u8>(), layout);
        }
    }
}

impl<K> Table<K> {
    /// An empty table of at least `capacity` slots, tagged with its
    /// capacity's log2 (invariant `LOG2`).
    pub(crate) fn with_capacity(capacity: usize) -> Owned<Self> {
        let capacity = capacity.max(MIN_CAPACITY).next_power_of_two();
        Owned::<Self>::init(capacity).with_tag(capacity.trailing_zeros() as usize)
    }

    /// The allocation of a table of `capacity` slots.
    fn layout(capacity: usize) -> Layout {
        let size = Layout::array::<Slot>(capacity)
            .ok()
            .and_then(|slots| SLOTS.checked_add(slots.size()))
            .expect("a table's size fits in `isize`");
        Layout::from_size_align(size, TABLE_ALIGN.max(std::mem::align_of::<Slot>()))
            .expect("a table's size fits in `isize`")
    }

    /// The table at `addr`, as a wide pointer.
    ///
    /// # Safety
    /// `addr` is the address of a table `init` made, not yet dropped.
    unsafe fn wide(addr: usize) -> *mut Self {
        let base = ptr::with_exposed_provenance_mut::<usize>(addr);
        // SAFETY: the mask lies at `addr` (caller's contract), written
        // before the address is handed out.
        let capacity = unsafe { *base } + 1;
        ptr::slice_from_raw_parts_mut(base.cast::<Slot>(), capacity) as *mut Self
    }

    /// Number of slots.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Heap bytes of the table itself, its entries not included.
    pub(crate) fn bytes(&self) -> usize {
        Self::layout(self.capacity()).size()
    }

    /// Slot indices on `tag`'s probe path, starting at its home slot. The
    /// path visits every slot once.
    #[inline]
    fn path(&self, tag: u64) -> impl Iterator<Item = (usize, &Slot)> {
        let start = tag as usize & self.mask;
        (0..=self.mask).map(move |i| {
            let index = (start + i) & self.mask;
            (index, &self.slots[index])
        })
    }

    /// The entry at `addr`, not 0, loaded from a slot under `guard`.
    ///
    /// # Safety
    /// `addr` came from [`address`] of a word loaded from this table's
    /// slots under `guard`.
    #[inline]
    unsafe fn entry(addr: usize, _guard: &Guard) -> &Entry<K> {
        // SAFETY: a non-null address loaded under `guard` is a live entry,
        // or one retired after this guard pinned, which the collector keeps
        // until the guard is dropped (caller's contract).
        unsafe { Entry::shared(addr).deref() }
    }

    /// Finds the live entry for `key` in the table `table` points to.
    /// Lock-free; used by readers.
    ///
    /// The hot path of every hit: the slots' address and the mask come
    /// from the pointer itself (invariant `LOG2`), so the first load is the
    /// home slot's; then one walk to the key or the first empty slot, with
    /// no iterator state, no bounds check and no count of slots. Invariant
    /// `SPARE` ends the walk: a slot never becomes `EMPTY` again (`ONCE`),
    /// so a reader that loads words any time after the shard published
    /// this table sees at least the empty slots it still has.
    ///
    /// # Safety
    /// `table` is not null, and was loaded from a shard under `guard`.
    #[inline]
    pub(crate) unsafe fn find<'g, Q>(
        table: Shared<'g, Self>,
        tag: u64,
        key: &Q,
        guard: &'g Guard,
    ) -> Option<&'g Entry<K>>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let word = table.into_usize();
        let mask = (1_usize << (word & LOG2_MASK)) - 1;
        let slots = ptr::with_exposed_provenance::<Slot>((word & !LOG2_MASK) + SLOTS);
        let want = slot_tag(tag);
        let mut index = tag as usize;
        loop {
            index &= mask;
            // SAFETY: the table is not freed while `guard` is pinned
            // (caller's contract), and `index <= mask`, the last slot's
            // index (invariants `LOG2` and `LEN`).
            let slot = unsafe { &*slots.add(index) };
            // Acquire: pairs with the Release store in `publish`, so the
            // entry's contents are visible.
            let word = slot.word.load(Ordering::Acquire);
            if word == EMPTY {
                return None;
            }
            // `address` and `may_match`, with the common case (a live
            // word that carries the tag) first; a tombstone matches
            // neither test.
            let addr = if word & (TAG_MASK | LOW) == want {
                (word & !TAG_MASK) as usize
            } else if word & WIDE != 0 {
                (word & !LOW) as usize
            } else {
                0
            };
            if addr != 0 {
                // SAFETY: loaded from this table under `guard`.
                let entry = unsafe { Self::entry(addr, guard) };
                if entry.key.borrow() == key {
                    return Some(entry);
                }
            }
            index += 1;
        }
    }

    /// A writer's lock-free search: where `key` lives, or where it would go.
    /// Runs the user's `Eq`, so it is called without the shard lock.
    pub(crate) fn probe<'g, Q>(&self, tag: u64, key: &Q, guard: &'g Guard) -> Probe<'g, K>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        let want = slot_tag(tag);
        // The lowest-indexed tombstone with the key's 32 bits so far. The
        // probe goes on past it: when keys share those bits, the key may be
        // live further on.
        let mut revivable: Option<usize> = None;
        // The lowest-indexed live entry of another key with the same 32
        // bits.
        let mut colliding: Option<usize> = None;
        for (index, slot) in self.path(tag) {
            // Acquire: as in `find`.
            let word = slot.word.load(Ordering::Acquire);
            if word == EMPTY {
                let chosen = revivable.unwrap_or(index);
                return Probe::Vacant {
                    index: chosen,
                    end: index,
                    displaced: colliding.is_some_and(|c| c < chosen),
                };
            }
            if word & TOMBSTONE != 0 {
                if word == tombstone_word(tag) {
                    revivable = Some(revivable.map_or(index, |r| r.min(index)));
                }
                continue;
            }
            if !may_match(word, want) {
                continue;
            }
            let addr = address(word);
            // SAFETY: loaded from this table under `guard`.
            let entry = unsafe { Self::entry(addr, guard) };
            // Another key whose eight-bit tag (or wide word) matched: its
            // low 32 bits tell it apart without the user's `Eq`.
            if entry.tag() != low32(tag) {
                continue;
            }
            if entry.key.borrow() == key {
                return Probe::Occupied {
                    index,
                    // SAFETY: as for `entry`.
                    current: unsafe { Entry::shared(addr) },
                };
            }
            colliding = Some(colliding.map_or(index, |c| c.min(index)));
        }
        unreachable!("a table always keeps an empty slot (invariant SPARE)")
    }

    /// Finds the slot that holds exactly `entry`, comparing addresses only.
    /// Runs no user code; called under the shard lock.
    pub(crate) fn position_of(&self, tag: u64, entry: Shared<'_, Entry<K>>) -> Option<usize> {
        let wanted = entry.into_usize();
        for (index, slot) in self.path(tag) {
            // Relaxed: the caller holds the shard lock, which orders every
            // store to this table before this load.
            let word = slot.word.load(Ordering::Relaxed);
            if word == EMPTY {
                return None;
            }
            if address(word) == wanted {
                return Some(index);
            }
        }
        None
    }

    /// Whether slot `index` holds a tombstone of a key with `tag`'s low
    /// 32 bits. Called under the shard lock.
    pub(crate) fn is_tombstone(&self, index: usize, tag: u64) -> bool {
        // Relaxed: the shard lock orders every store to this table.
        self.slots[index].word.load(Ordering::Relaxed) == tombstone_word(tag)
    }

    /// Whether slot `index` is still empty. Called under the shard lock.
    pub(crate) fn is_empty_slot(&self, index: usize) -> bool {
        // Relaxed: the shard lock orders every store to this table.
        self.slots[index].word.load(Ordering::Relaxed) == EMPTY
    }

    /// The entry in slot `index`, null for a tombstone. Called under the
    /// shard lock.
    pub(crate) fn current<'g>(&self, index: usize, _guard: &'g Guard) -> Shared<'g, Entry<K>> {
        // Relaxed: the shard lock orders every store to this table.
        let word = self.slots[index].word.load(Ordering::Relaxed);
        // SAFETY: an entry's address as `init` aligned it, or 0 (null).
        unsafe { Shared::from_usize(address(word)) }
    }

    /// Stores `entry`, whose key has hash tag `tag`, in slot `index`: an
    /// empty one (after `is_empty_slot(index)`), a tombstone with the tag,
    /// or over the key's live entry, which the caller then retires. Called
    /// under the shard lock.
    pub(crate) fn publish<P: Pointer<Entry<K>>>(&self, index: usize, tag: u64, entry: P) {
        // Release: pairs with the Acquire loads in `find`, `probe`, `live`
        // and `entry_at`; a reader that sees the address sees the entry.
        self.slots[index]
            .word
            .store(live_word(tag, entry.into_usize()), Ordering::Release);
    }

    /// Replaces the live entry in slot `index`, whose key has hash tag
    /// `tag`, with a tombstone. Called under the shard lock; the caller
    /// retires the entry it removed.
    pub(crate) fn remove(&self, index: usize, tag: u64) {
        // Release: a tombstone carries no data; Release keeps the store
        // ordered after the writer's earlier stores for readers that Acquire
        // it, the same as `publish`.
        self.slots[index]
            .word
            .store(tombstone_word(tag), Ordering::Release);
    }

    /// Live entries with the low 32 bits of their hash tags (as
    /// [`Entry::tag`] keeps them), in slot order.
    pub(crate) fn live<'g>(
        &'g self,
        guard: &'g Guard,
    ) -> impl Iterator<Item = (u64, Shared<'g, Entry<K>>)> + 'g {
        self.slots.iter().filter_map(move |slot| {
            // Acquire: as in `find`.
            let addr = address(slot.word.load(Ordering::Acquire));
            if addr == 0 {
                return None;
            }
            // SAFETY: loaded from this table under `guard`.
            let tag = unsafe { Self::entry(addr, guard) }.tag();
            // SAFETY: as above.
            Some((tag, unsafe { Entry::shared(addr) }))
        })
    }

    /// The live entry in slot `index`, if any. Lock-free; used by iterators.
    pub(crate) fn entry_at<'g>(&self, index: usize, guard: &'g Guard) -> Option<&'g Entry<K>> {
        let slot = self.slots.get(index)?;
        // Acquire: as in `find`.
        let addr = address(slot.word.load(Ordering::Acquire));
        // SAFETY: loaded from this table under `guard`.
        (addr != 0).then(|| unsafe { Self::entry(addr, guard) })
    }

    /// A new table of `capacity` slots holding this table's live entries,
    /// placed by the tags their entries keep: no user code runs. Called
    /// under the shard lock; the new table is published by the shard's
    /// Release store of the table pointer.
    pub(crate) fn rehash(&self, capacity: usize, guard: &Guard) -> Owned<Table<K>> {
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
        let mut panic = None;
        for slot in self.slots.iter() {
            let addr = address(slot.word.load(Ordering::Relaxed));
            if addr != 0 {
                // SAFETY: the table owns this entry and nothing else can
                // reach it; each slot holds a distinct entry, dropped once.
                let entry = unsafe { Owned::<Entry<K>>::from_usize(addr) };
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
    /// `EMPTY`.
    Empty,
    /// A live entry whose tag the word carries or, wide, leaves to the
    /// entry: the low 32 bits of its hash tag.
    Live { tag: u64, entry: &'g Entry<K> },
    /// A tombstone: a slot tag, the low 32 bits it came from and
    /// `TOMBSTONE`, no address.
    Tombstone,
    /// Any other word, which no writer ever stores, or a live word whose
    /// tag is not its entry's.
    Corrupt { word: u64 },
}

/// Read-only views for the invariant walk.
#[cfg(any(test, fuzzing))]
impl<K> Table<K> {
    /// Slot `index`, classified. Called under the shard lock.
    pub(crate) fn view<'g>(&self, index: usize, guard: &'g Guard) -> SlotView<'g, K> {
        // Relaxed: the shard lock orders every store to this table, and
        // every entry's construction, before this load.
        let word = self.slots[index].word.load(Ordering::Relaxed);
        let addr = address(word);
        if word == EMPTY {
            return SlotView::Empty;
        }
        if addr == 0 {
            // A tombstone's slot tag comes from the 32 bits it keeps.
            return if word & TOMBSTONE != 0 && word == tombstone_word(word >> 2 & 0xFFFF_FFFF) {
                SlotView::Tombstone
            } else {
                SlotView::Corrupt { word }
            };
        }
        // SAFETY: a non-null address loaded under `guard` from the
        // published table under the shard lock is a live entry, which the
        // collector keeps while `guard` is pinned.
        let entry = unsafe { Self::entry(addr, guard) };
        let tag = entry.tag();
        if word != live_word(tag, addr) {
            return SlotView::Corrupt { word };
        }
        SlotView::Live { tag, entry }
    }

    /// The slot indices on `tag`'s probe path, from its home slot on, in
    /// the order `find` and `probe` visit them.
    pub(crate) fn probe_path(&self, tag: u64) -> impl Iterator<Item = usize> + '_ {
        self.path(tag).map(|(index, _)| index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{entry::NewValue, expire::Stamp};

    /// An entry for `key` with hash tag `tag`, as a write makes it.
    fn entry(key: u64, tag: u64) -> Owned<Entry<u64>> {
        let stamp = Stamp {
            judge: 0,
            deadline: 0,
            written: 0,
        };
        Entry::new(key, tag, NewValue::Text("v".into()), stamp, false, false)
    }

    /// Where an insert of `key` would go, if it is absent.
    fn vacancy(table: &Table<u64>, tag: u64, key: u64, guard: &Guard) -> (usize, usize) {
        match table.probe(tag, &key, guard) {
            Probe::Vacant { index, end, .. } => (index, end),
            Probe::Occupied { index, .. } => panic!("key {key} is live in slot {index}"),
        }
    }

    /// A tombstone is revived only by a key whose tag has its low 32 bits:
    /// another key with the same eight-bit slot tag passes it by, so it
    /// cannot take the slot of a removed key and displace that key's
    /// return into a new table.
    #[test]
    fn only_the_same_low_32_bits_revive_a_tombstone() {
        let guard = crossbeam_epoch::pin();
        let mut table = Table::<u64>::with_capacity(8);
        // Both tags have home slot 0 and slot tag 0xAB; their low 32 bits
        // differ.
        let (a, b) = (0xAB00_0000_u64, 0xAB00_0100_u64);
        assert_eq!(slot_tag(a), slot_tag(b));
        let (index, end) = vacancy(&table, a, 1, &guard);
        assert_eq!((index, end), (0, 0));
        table.publish(0, a, entry(1, a));
        let removed = table.current(0, &guard);
        table.remove(0, a);
        assert!(table.is_tombstone(0, a) && !table.is_tombstone(0, b));
        assert_eq!(
            vacancy(&table, b, 2, &guard),
            (1, 1),
            "another key's tombstone"
        );
        assert_eq!(
            vacancy(&table, a, 1, &guard),
            (0, 1),
            "the key's own tombstone"
        );
        // SAFETY: unlinked above, never published elsewhere, and no other
        // thread can reach it.
        drop(unsafe { removed.into_owned() });
        table.publish(1, b, entry(2, b));
        // SAFETY: the test owns the table and its one live entry.
        unsafe { table.drop_entries() };
    }

    #[test]
    fn words_keep_the_address_and_the_tag() {
        let tag = 0xAB00_0000_u64;
        let narrow = 0x7fff_1234_5670_usize;
        let word = live_word(tag, narrow);
        assert_eq!(address(word), narrow);
        assert_eq!(word & TAG_MASK, 0xAB << TAG_SHIFT);
        assert!(may_match(word, slot_tag(tag)));
        assert!(!may_match(word, slot_tag(0xAC00_0000)));
        assert_eq!(address(tombstone_word(tag)), 0);
        assert_eq!(tombstone_word(tag) >> 2 & 0xFFFF_FFFF, tag);
        if usize::BITS == 64 {
            // A top-byte tag is kept; an address in bits 48..56 goes wide.
            let top_byte = (0xB4_u64 << 56) as usize | narrow;
            assert_eq!(address(live_word(tag, top_byte)), top_byte);
            let high = (1_u64 << 50) as usize | narrow;
            let word = live_word(tag, high);
            assert_eq!(word & WIDE, WIDE);
            assert_eq!(address(word), high);
            assert!(may_match(word, slot_tag(0x1200_0000)));
        }
    }

    #[test]
    fn half_of_the_tags_go_wide_in_tests() {
        let narrow = 0x1000_usize;
        assert_eq!(live_word(0, narrow) & WIDE, 0);
        assert_eq!(live_word(1 << 23, narrow) & WIDE, WIDE);
        assert_eq!(address(live_word(1 << 23, narrow)), narrow);
    }
}
