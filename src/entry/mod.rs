//! The record a slot publishes, one allocation per entry.
//!
//! An entry is a header, the key, and the value: its bytes, copied in at
//! write time, or a [`Utf8Bytes`] handle on a buffer the writer handed in
//! (`try_insert_bytes`) or one longer than [`INLINE_MAX`]. A hit on a copied
//! value reads the header, the key and the text from one allocation, where
//! a separate buffer would cost it one more dependent load.
//!
//! ```text
//! | deadline | tail_len | marks | flags | tag | refs | node | key | tail | (written) |
//!   tail: the value's bytes, or padding and a `Utf8Bytes` (SHARED)
//!   written: the write time, aligned after the tail (WRITTEN)
//! ```
//!
//! # Synchronization
//! Shared locations: each entry's `refs`, `marks` and `node`; everything
//! else is written before publication and never again.
//!
//! - Publication and retirement are the table's and the collector's (see
//!   `table.rs` and `batch.rs`).
//! - `refs` counts what keeps the allocation: one reference for the cache,
//!   from construction until the collector (or the drop of the table that
//!   owns the entry) releases it, and one for each live [`ValueOwner`], the
//!   owner of a `Bytes` that [`Entry::to_bytes`] hands out over a copied
//!   value. Owners are made only through a reference to a reachable
//!   entry: under a pin that loaded it (the collector does not release the
//!   cache's reference while that pin lasts), or with the cache's
//!   reference in hand. So the count is at least 1 when it is incremented,
//!   and the increment is Relaxed, as `Arc::clone`'s.
//! - Every release is an AcqRel decrement: its Release orders the
//!   releaser's reads of the value before it; the release that takes the
//!   count to zero Acquires all the others and frees the allocation, as
//!   `Arc`'s drop does. A release that loads a count of one (Acquire,
//!   pairing with the others' decrements) holds the last reference, since
//!   none can be added once the cache's is released, and frees at once,
//!   as `Arc::get_mut` tells a unique `Arc`: the collector's release of an
//!   entry that no `Bytes` shares pays no locked instruction. Only the
//!   cache's release drops the key and a
//!   shared value (user `Drop`s); an owner reads the copied bytes only, so
//!   the last release, whoever makes it, frees memory and runs no user
//!   code.
//! - The marks are a hint (see [`Entry::mark`]); the node is read and
//!   written under the policy lock.

mod new;

use std::{
    alloc::{self, Layout},
    cell::UnsafeCell,
    fmt,
    marker::PhantomData,
    ptr::{self, NonNull},
};

use bytes::Bytes;
use crossbeam_epoch::{Owned, Pointable, Pointer, Shared};

use new::Init;
pub(crate) use new::{NewEntry, NewValue};

use crate::{
    expire::Expiry,
    notify::EvictionCause,
    spare::Block,
    sync::{AtomicU32, AtomicU8, Ordering},
    Utf8Bytes,
};

/// The most marks an entry holds; readers store nothing once it is reached.
const MAX_MARKS: u8 = 3;

/// `flags`: the tail holds a shared value.
const SHARED: u8 = 1;
/// `flags`: the write time follows the tail.
const WRITTEN: u8 = 2;
/// `flags`: the entry has a deadline.
const TIMED: u8 = 4;
/// `flags`: a hit marks the entry for an eviction policy, or counts the
/// read (`Builder::record_reads`), or both: the entry's cache is bounded
/// or records reads.
const WATCHED: u8 = 8;

/// The longest value that `insert` copies into its entry. Longer ones
/// keep their buffer, as every value given as `Bytes` does: the copy grows
/// with the length, while the dependent load that it saves a hit does not.
pub(crate) const INLINE_MAX: usize = 4096;
const _: () = assert!(INLINE_MAX <= u16::MAX as usize);

/// Past this many references, [`Entry::to_bytes`] aborts rather than let
/// the count wrap and free the entry under its owners (as `Arc` does).
const MAX_REFS: u32 = u32::MAX / 2;

/// One published key/value pair, generic over its tail so that
/// [`Prefix`] (an empty tail) gives the layout of every field before it.
/// Never mutated after publication, except for the readers' use marks and
/// the count of references: a write replaces the whole entry.
///
/// The header is 24 bytes. What a hit reads of it (the deadline, the
/// tail's length, the marks and the flags) lies in its first 16, which
/// the 16-byte alignment of the system allocators keeps on one cache line;
/// the count and the policy node follow. Then come the key and, when
/// copied, the value. The write time, which only a
/// [`LoadingCache`](crate::LoadingCache) reads, follows the tail, and only
/// when the write read the clock.
#[repr(C)]
pub(crate) struct EntryOf<K, T: ?Sized> {
    /// When the entry expires, in the cache clock's nanoseconds; 0 for never.
    pub(crate) deadline: u64,
    /// Length of `tail` in bytes: at most `INLINE_MAX`, or `SHARED_TAIL`.
    tail_len: u16,
    /// Reads since the policy last looked, saturating at `MAX_MARKS`;
    /// saturated from the start in an unbounded cache, where no policy looks.
    marks: AtomicU8,
    /// `SHARED`: `tail` holds a `Utf8Bytes` (after `PAD` bytes) rather
    /// than the value's bytes. `WRITTEN`: the write time follows the tail.
    flags: u8,
    /// The low 32 bits of the key's hash tag, by which a resize places the
    /// entry without running the user's `Hash` (see `table.rs`).
    tag: u32,
    /// References to the allocation (see the module's synchronization).
    refs: AtomicU32,
    /// The eviction policy's node for this key (bounded caches only). Set
    /// before publication and read only under the policy lock; atomic so
    /// that it is set through a shared reference, which keeps the policy's
    /// handle (derived from one) valid.
    node: AtomicU32,
    pub(crate) key: K,
    /// In an `UnsafeCell`: a shared `Utf8Bytes` updates its own atomics in
    /// place (a `Bytes` made from a `Vec` is promoted on its first clone).
    tail: UnsafeCell<T>,
}

/// An entry as a slot holds it: a thin pointer, the tail's length in the
/// header (see the `Pointable` implementation).
pub(crate) type Entry<K> = EntryOf<K, [u8]>;

/// The fields of an entry before its tail, as a sized type.
type Prefix<K> = EntryOf<K, [u8; 0]>;

// SAFETY: the tail's `UnsafeCell` is written only before publication, or
// through a shared `Utf8Bytes`'s own atomics, which are thread-safe
// (`Utf8Bytes: Sync`); every other field is `Sync` when `K` is.
unsafe impl<K: Sync, T: ?Sized> Sync for EntryOf<K, T> {}

// A slot's word keeps two flags in an address's low bits (`table.rs`), so
// entries are aligned to at least 4; a shared value and the write time are
// aligned within the allocation. Every `Prefix<K>` is aligned at least as
// `Prefix<u8>`.
const _: () = assert!(
    std::mem::align_of::<Prefix<u8>>() >= 4
        && std::mem::align_of::<Prefix<u8>>() >= std::mem::align_of::<Utf8Bytes>()
        && std::mem::align_of::<Prefix<u8>>() >= std::mem::align_of::<u64>()
);

/// Bytes of an entry before its value, for `K`: the header and the key.
pub(crate) const fn header_bytes<K>() -> usize {
    std::mem::offset_of!(Prefix<K>, tail)
}

impl<K> Entry<K> {
    /// Where the tail starts.
    const TAIL: usize = header_bytes::<K>();
    /// The allocation's alignment, at least a `Utf8Bytes`'s.
    const ALIGNMENT: usize = std::mem::align_of::<Prefix<K>>();
    /// Padding before a shared value in the tail, which aligns it: the
    /// allocation is aligned to `ALIGNMENT`, at least 8.
    const PAD: usize = Self::TAIL.next_multiple_of(std::mem::align_of::<Utf8Bytes>()) - Self::TAIL;
    /// The tail of a shared value.
    const SHARED_TAIL: usize = Self::PAD + std::mem::size_of::<Utf8Bytes>();

    /// The allocation of an entry with a tail of `tail_len` bytes and
    /// the given flags.
    fn layout(tail_len: usize, flags: u8) -> Layout {
        let size = if flags & WRITTEN == 0 {
            Self::TAIL + tail_len
        } else {
            Self::written_offset(tail_len) + std::mem::size_of::<u64>()
        };
        Layout::from_size_align(size, Self::ALIGNMENT)
            .expect("an entry's size fits in isize")
            .pad_to_align()
    }

    /// Where the write time lies in an entry with a tail of `tail_len`
    /// bytes: after the tail, aligned.
    fn written_offset(tail_len: usize) -> usize {
        (Self::TAIL + tail_len).next_multiple_of(std::mem::align_of::<u64>())
    }

    /// The hash tag's low 32 bits (see `tag`).
    #[inline]
    pub(crate) fn tag(&self) -> u64 {
        u64::from(self.tag)
    }

    /// When the entry was written, in the cache clock's nanoseconds; 0 if
    /// the write did not read the clock (an untimed cache). A
    /// [`LoadingCache`](crate::LoadingCache) tells its age from it.
    pub(crate) fn written(&self) -> u64 {
        if self.flags & WRITTEN == 0 {
            return 0;
        }
        let offset = Self::written_offset(usize::from(self.tail_len));
        // From the address: the write time lies past the tail, outside
        // `&self`. `init` wrote it there, aligned, before publication,
        // and exposed the allocation's provenance.
        let base = ptr::with_exposed_provenance::<u8>(self.addr());
        // SAFETY: the allocation holds the write time at `offset` (flag
        // `WRITTEN`); it is never written again while the entry is
        // reachable.
        unsafe { base.add(offset).cast::<u64>().read() }
    }

    /// Whether a hit has nothing to do but return the entry: it has no
    /// deadline, and its cache neither tracks it for eviction nor counts
    /// reads. One test of the flags, which lie on the line a hit loads for
    /// the key, stands for every feature a hit may have to serve.
    #[inline(always)]
    pub(crate) fn plain(&self) -> bool {
        self.flags & (TIMED | WATCHED) == 0
    }

    /// Whether the tail holds a shared value.
    #[inline]
    pub(crate) fn is_shared(&self) -> bool {
        self.flags & SHARED != 0
    }

    /// The entry at `addr` as a wide pointer, its tail's length read from
    /// its header.
    ///
    /// # Safety
    /// `addr` is an entry's address, from [`Entry::addr`] or `init`, and
    /// the entry is not yet freed.
    unsafe fn wide(addr: usize) -> *mut Self {
        let base = ptr::with_exposed_provenance_mut::<u8>(addr);
        // SAFETY: the header lies at `addr` (caller's contract), and
        // `tail_len` is written before the address is handed out.
        let tail_len = unsafe { (*base.cast::<Prefix<K>>()).tail_len };
        ptr::slice_from_raw_parts_mut(base, usize::from(tail_len)) as *mut Self
    }

    /// The entry's address, which a timer or the policy keeps.
    pub(crate) fn addr(&self) -> usize {
        ptr::from_ref(self).cast::<u8>() as usize
    }

    /// The entry at `addr`, as the tables hold it.
    ///
    /// # Safety
    /// `addr` is the address of an entry that is not yet freed, as
    /// [`addr`](Self::addr) gives it and a table's slot holds it.
    pub(crate) unsafe fn shared<'g>(addr: usize) -> Shared<'g, Self> {
        // SAFETY: an entry's address, which `init` aligned (caller's
        // contract).
        unsafe { Shared::from_usize(addr) }
    }

    /// The value's text.
    #[inline]
    pub(crate) fn text(&self) -> &str {
        if self.is_shared() {
            self.shared_value().as_str()
        } else {
            // SAFETY: the tail of a copied value is written before
            // publication and never again, and holds the bytes of a
            // `Utf8Bytes` (invariant `UTF8`).
            unsafe { std::str::from_utf8_unchecked(&*self.tail.get()) }
        }
    }

    /// The shared value, which a shared entry's tail holds.
    fn shared_value(&self) -> &Utf8Bytes {
        // SAFETY: `init` wrote it, and only the cache's release drops it.
        unsafe { &*self.shared_value_ptr() }
    }

    /// Where a shared entry's tail holds its value: at the aligned offset
    /// `PAD` of a tail of `SHARED_TAIL` bytes. Derived from the tail's
    /// `UnsafeCell`, so the value may update its atomics and be dropped
    /// through it.
    fn shared_value_ptr(&self) -> *mut Utf8Bytes {
        debug_assert!(self.is_shared());
        // SAFETY: `PAD` is within the tail of a shared entry.
        unsafe { self.tail.get().cast::<u8>().add(Self::PAD).cast() }
    }

    /// The value as `Bytes` that share its buffer: a clone of a shared
    /// value, or over a copied one an owner that holds a reference to the
    /// entry. The caller reaches `self` through the cache's reference (see
    /// the module's synchronization).
    pub(crate) fn to_bytes(&self) -> Bytes {
        if self.is_shared() {
            return self.shared_value().as_bytes().clone();
        }
        // Relaxed: the count is at least 1 while the cache's reference is
        // held, as the caller's is; no memory is published with it.
        if self.refs.fetch_add(1, Ordering::Relaxed) > MAX_REFS {
            std::process::abort();
        }
        // SAFETY: a pointer into `self` is not null. The tail is the copied
        // bytes, immutable, and the reference just taken keeps them until
        // the owner releases it.
        let value = unsafe { NonNull::new_unchecked(self.tail.get()) };
        // From the address, not from `&self`: the last owner may free the
        // allocation, which a pointer derived from a shared reference may
        // not; `init` exposed the allocation's own provenance.
        let entry = ptr::with_exposed_provenance_mut::<u8>(self.addr());
        Bytes::from_owner(ValueOwner {
            // SAFETY: the address of `self`, not null.
            entry: unsafe { NonNull::new_unchecked(entry) },
            value,
            release: Self::release,
        })
    }

    /// The value as a `Utf8Bytes` sharing its buffer, as in
    /// [`to_bytes`](Self::to_bytes).
    pub(crate) fn to_utf8(&self) -> Utf8Bytes {
        if self.is_shared() {
            return self.shared_value().clone();
        }
        // SAFETY: a copied value's bytes came from a `Utf8Bytes`.
        unsafe { Utf8Bytes::from_bytes_unchecked(self.to_bytes()) }
    }

    /// Heap bytes of the entry and its value, as `stats()` counts them
    /// while retired (the key's own heap bytes are not known here).
    pub(crate) fn bytes(&self) -> usize {
        let shared = if self.is_shared() {
            self.shared_value().len()
        } else {
            0
        };
        Self::layout(usize::from(self.tail_len), self.flags).size() + shared
    }

    /// Releases one reference to the entry at `entry`, freeing it if it
    /// was the last.
    ///
    /// # Safety
    /// The caller holds a reference (the cache's, whose key and shared value
    /// it has dropped, or an owner's) and gives it up.
    unsafe fn release(entry: NonNull<u8>) {
        // SAFETY: the caller's contract.
        if let Some(layout) = unsafe { Self::last_release(entry) } {
            // SAFETY: the last reference: no other holder remains, the key
            // and any shared value are dropped (only the cache's release
            // drops them, before its decrement), and the allocation has the
            // layout `init` gave it (the same tail length and flags).
            unsafe { alloc::dealloc(entry.as_ptr(), layout) };
        }
    }

    /// Releases one reference, as [`release`](Self::release) does, but
    /// returns the allocation's layout instead of freeing it if it was the
    /// last, for the caller to free or reuse.
    ///
    /// # Safety
    /// As for `release`.
    unsafe fn last_release(entry: NonNull<u8>) -> Option<Layout> {
        let prefix = entry.as_ptr().cast::<Prefix<K>>();
        // SAFETY: the caller's reference keeps the entry allocated.
        let (refs, tail_len, flags) =
            unsafe { (&(*prefix).refs, (*prefix).tail_len, (*prefix).flags) };
        // A count of one is the caller's own reference, and none can be
        // added then: owners are made only while the cache's reference
        // lasts, which is then the caller's or gone. So the last holder, in
        // the common case the collector releasing an entry that no `Bytes`
        // shares, frees without a locked decrement. Acquire: as the
        // decrement's Acquire half, it pairs with every other holder's
        // Release decrement. The decrement is AcqRel: its Release half
        // orders this holder's reads of the entry before it; its Acquire
        // half pairs with every other holder's Release decrement, so the
        // last one frees after all reads.
        let last = refs.load(Ordering::Acquire) == 1 || refs.fetch_sub(1, Ordering::AcqRel) == 1;
        last.then(|| Self::layout(usize::from(tail_len), flags))
    }

    /// Releases the cache's reference to the entry at `addr`, as dropping
    /// it does, but keeps its allocation if that was the last reference
    /// and its value was copied in: the block, for a later entry of the
    /// same layout (`spare.rs`). A key's `Drop` that panics frees the
    /// allocation instead, and the panic goes on.
    ///
    /// # Safety
    /// As for dropping it (`Pointable::drop`): no thread reaches the entry
    /// through the cache any more, and the cache's reference is given up
    /// once, here.
    pub(crate) unsafe fn recycle(addr: usize) -> Option<Block> {
        let prefix = ptr::with_exposed_provenance::<Prefix<K>>(addr);
        // SAFETY: allocated until the cache's reference goes (caller's
        // contract).
        if unsafe { (*prefix).flags } & SHARED != 0 {
            // SAFETY: the caller's contract.
            drop(unsafe { Owned::<Self>::from_usize(addr) });
            return None;
        }
        let rest = Rest::<K>(addr, PhantomData);
        // SAFETY: the caller's contract: no other thread reaches the entry
        // through the cache any more, and the key is dropped once, here;
        // owners never read it.
        unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*Self::wide(addr)).key)) };
        // The key is dropped and the value is not shared: nothing is left
        // for `Rest` to drop but the reference, released below.
        std::mem::forget(rest);
        // SAFETY: the address of a live entry is not null.
        let entry = unsafe { NonNull::new_unchecked(ptr::with_exposed_provenance_mut::<u8>(addr)) };
        // SAFETY: the cache's reference, given up once.
        let layout = unsafe { Self::last_release(entry) }?;
        Some(Block {
            addr: entry,
            layout,
        })
    }
}

/// Entries in crossbeam's `Atomic`, `Owned` and `Shared`: `init` returns the
/// address of a new allocation aligned to `ALIGNMENT` holding a whole
/// entry; `deref` and `deref_mut` rebuild the entry's wide pointer from its
/// header; `drop` releases the cache's reference, which frees the
/// allocation once every owner has released theirs.
impl<K> Pointable for Entry<K> {
    const ALIGN: usize = Self::ALIGNMENT;

    type Init = Init<'static, K>;

    unsafe fn init(init: Init<'static, K>) -> usize {
        NewEntry::from_init(init).build(None).into_usize()
    }

    unsafe fn deref<'a>(ptr: usize) -> &'a Self {
        // SAFETY: crossbeam's contract: an entry `init` made, not dropped.
        unsafe { &*Self::wide(ptr) }
    }

    unsafe fn deref_mut<'a>(ptr: usize) -> &'a mut Self {
        // SAFETY: as in `deref`, and no other reference exists.
        unsafe { &mut *Self::wide(ptr) }
    }

    unsafe fn drop(ptr: usize) {
        let rest = Rest::<K>(ptr, PhantomData);
        // SAFETY: crossbeam's contract: no other thread reaches the entry
        // through the cache any more, and the key is dropped once, here;
        // owners never read it.
        unsafe { ptr::drop_in_place(ptr::addr_of_mut!((*Self::wide(ptr)).key)) };
        drop(rest);
    }
}

/// Drops a shared value and releases the cache's reference to the entry
/// at its address, when dropped: after the key's `Drop`, also when that
/// panics.
struct Rest<K>(usize, PhantomData<K>);

impl<K> Drop for Rest<K> {
    fn drop(&mut self) {
        // SAFETY: the entry is allocated until the release below.
        let entry = unsafe { &*Entry::<K>::wide(self.0) };
        if entry.is_shared() {
            // SAFETY: the cache's release drops the shared value once; no
            // reader remains (crossbeam's contract).
            unsafe { ptr::drop_in_place(entry.shared_value_ptr()) };
        }
        let entry = ptr::with_exposed_provenance_mut::<u8>(self.0);
        // SAFETY: the cache's reference, given up once; the address of a
        // live entry is not null.
        unsafe { Entry::<K>::release(NonNull::new_unchecked(entry)) };
    }
}

/// The header's fields; never the key or the value.
impl<K> fmt::Debug for Entry<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("deadline", &self.deadline)
            .field("written", &self.written())
            .field("flags", &self.flags)
            .field("tag", &self.tag)
            .field("tail_len", &self.tail_len)
            .finish_non_exhaustive()
    }
}

/// The owner of a `Bytes` over a copied value: one reference to its entry.
struct ValueOwner {
    entry: NonNull<u8>,
    value: NonNull<[u8]>,
    /// `Entry::<K>::release` for the entry's `K`.
    release: unsafe fn(NonNull<u8>),
}

// SAFETY: an owner reads the immutable copied bytes and releases its
// reference with an atomic decrement; the last release frees memory and
// runs no user code (the key was dropped by the cache's release). Neither
// depends on the thread.
unsafe impl Send for ValueOwner {}
// SAFETY: as for `Send`; `&ValueOwner` only reads the bytes.
unsafe impl Sync for ValueOwner {}

impl AsRef<[u8]> for ValueOwner {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the owner's reference keeps the bytes until it is dropped.
        unsafe { self.value.as_ref() }
    }
}

impl Drop for ValueOwner {
    fn drop(&mut self) {
        // SAFETY: the reference `to_bytes` took for this owner, given up
        // once.
        unsafe { (self.release)(self.entry) };
    }
}

impl<K> Entry<K> {
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

    /// Why the entry leaves when it is unlinked at `now` for `cause`:
    /// `Expired` instead, if it had expired by then.
    pub(crate) fn cause_at(&self, now: u64, cause: EvictionCause) -> EvictionCause {
        if self.expired_at(now) {
            EvictionCause::Expired
        } else {
            cause
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expire::Stamp;

    /// An entry is plain, and a hit on it returns it without looking
    /// further, only when it has no deadline, no policy tracks it and its
    /// cache counts no reads.
    #[test]
    fn only_an_untimed_untracked_uncounted_entry_is_plain() {
        for deadline in [0, 7] {
            for tracked in [false, true] {
                for counted in [false, true] {
                    let stamp = Stamp {
                        judge: 0,
                        deadline,
                        written: 0,
                    };
                    let value = NewValue::Text("v".into());
                    let entry = Entry::new(1_u64, 0, value, stamp, tracked, counted);
                    assert_eq!(
                        entry.plain(),
                        deadline == 0 && !tracked && !counted,
                        "deadline {deadline}, tracked {tracked}, counted {counted}"
                    );
                }
            }
        }
    }
}
