//! Blocks of freed entries, kept for a shard's next writes.
//!
//! An overwrite allocates its entry, and the collector frees the entry it
//! replaced later, with the rest of its batch (`batch.rs`): dozens of
//! frees at once, more than the allocator's per-thread cache holds, so
//! most of them, and the mallocs that follow, take the allocator's slow
//! path. Instead, the collector's free of a batch keeps the blocks of the
//! entries it frees, once their keys are dropped, and hands them to the
//! shard that retired them; a write of that shard builds its entry in one
//! of them when the size is the same.
//!
//! A shard keeps at most [`SPARE_BYTES`] in its inbox, and at most that
//! many again in its own list, which it fills from the inbox when empty.
//! Both count in [`Stats::retired_bytes`](crate::Stats::retired_bytes).
//! Blocks of entries whose value is a buffer of its own are not kept:
//! those entries are few and their blocks small.
//!
//! # Synchronization
//! Shared locations: an [`Inbox`]'s `head` and `bytes`, in the
//! allocation of its shard's retired-bytes count (`retired.rs`), which
//! outlives the shard until every batch is freed.
//!
//! - A block enters the inbox only in the deferred function that frees
//!   its batch: after every thread that could reach the entry has
//!   unpinned (`batch.rs`), and after its key is dropped. So a block in
//!   an inbox is memory no one else reads.
//! - The collector pushes a whole chain with a compare-and-swap of
//!   `head`, Release: it pairs with the Acquire swap by which a writer
//!   takes the inbox, so the writer sees the chain's links and sizes, and
//!   every write the freeing thread made to the blocks before. Every push
//!   is a read-modify-write of `head`, so a writer that takes chains
//!   pushed by several threads synchronizes with all of them.
//! - `bytes` bounds the inbox and counts it for statistics; it is not in
//!   step with `head`. A push adds its chain's bytes before its
//!   compare-and-swap, and gives them back and frees the chain instead if
//!   the sum passed the bound; a writer subtracts what it took after its
//!   swap. So `bytes` is never less than what the inbox holds.
//!   Relaxed: it orders nothing.
//! - A writer takes the inbox under its shard's lock, so there is one
//!   taker at a time, and the list it keeps ([`Spares`]) is plain data
//!   under that lock. The list's bytes are mirrored in the inbox's
//!   `kept` for statistics, with a Relaxed store under the lock.
//! - The last holder of the retired-bytes count frees what the inbox
//!   still holds: its final subtraction is AcqRel, and every push comes
//!   before the pusher's own subtraction.

use std::{alloc, alloc::Layout, ptr, ptr::NonNull};

use crate::sync::{AtomicU64, AtomicUsize, Ordering};

/// Bytes an inbox holds at most, and a shard's list at most.
pub(crate) const SPARE_BYTES: u64 = 8192;

/// What a spare block holds at its start: the next block of its chain and
/// its own layout. Every entry is at least this large and as aligned.
#[repr(C)]
struct Free {
    next: usize,
    size: usize,
    align: usize,
}

/// A block an entry occupied, and its layout.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) addr: NonNull<u8>,
    pub(crate) layout: Layout,
}

/// Blocks linked through their [`Free`] headers, built by one thread.
///
/// # Invariants
/// `CHAIN`: `head` is 0, or the first of a chain of blocks owned by this
/// value, the last of which is `tail`, which links to 0.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    head: usize,
    tail: usize,
    bytes: u64,
}

impl Chain {
    /// Adds `block` to the chain, which owns it from now on.
    ///
    /// # Safety
    /// `block` is an allocation of its layout that no one else uses, at
    /// least as large and as aligned as a [`Free`].
    pub(crate) unsafe fn push(&mut self, block: Block) {
        debug_assert!(
            block.layout.size() >= size_of::<Free>() && block.layout.align() >= align_of::<Free>()
        );
        let addr = block.addr.as_ptr().expose_provenance();
        // SAFETY: the block is unused, large and aligned enough (caller's
        // contract).
        unsafe { write_free(addr, self.head, block.layout) };
        if self.head == 0 {
            self.tail = addr;
        }
        self.head = addr;
        self.bytes += block.layout.size() as u64;
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        // SAFETY: invariant `CHAIN`.
        unsafe { free_chain(self.head) };
    }
}

/// A shard's spare blocks, as the collector hands them over (see the
/// module's synchronization).
#[derive(Debug)]
pub(crate) struct Inbox {
    head: AtomicUsize,
    bytes: AtomicU64,
    /// Bytes of the shard's own list ([`Spares`]).
    kept: AtomicU64,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox {
            head: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            kept: AtomicU64::new(0),
        }
    }
}

impl Inbox {
    /// Takes `chain`, or frees it if the inbox would hold more than
    /// [`SPARE_BYTES`].
    pub(crate) fn give(&self, mut chain: Chain) {
        if chain.head == 0 {
            return;
        }
        // Relaxed: a bound (see the module's synchronization).
        let before = self.bytes.fetch_add(chain.bytes, Ordering::Relaxed);
        if before.saturating_add(chain.bytes) > SPARE_BYTES {
            self.bytes.fetch_sub(chain.bytes, Ordering::Relaxed);
            return;
        }
        // Relaxed: the compare-and-swap below publishes the chain.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: the chain's tail is its own (invariant `CHAIN`) and
            // not yet published.
            unsafe { set_next(chain.tail, head) };
            // Release: pairs with the Acquire swap in `take`.
            match self.head.compare_exchange_weak(
                head,
                chain.head,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => head = now,
            }
        }
        chain.head = 0;
    }

    /// Takes every block the inbox holds, as a chain's head (0 if none),
    /// and the chain's bytes. Under the shard lock.
    fn take(&self) -> (usize, u64) {
        // Relaxed: a look before the swap, which synchronizes.
        if self.head.load(Ordering::Relaxed) == 0 {
            return (0, 0);
        }
        // Acquire: pairs with the Release compare-and-swap in `give`.
        let head = self.head.swap(0, Ordering::Acquire);
        let mut bytes = 0;
        let mut at = head;
        while at != 0 {
            // SAFETY: a block of the chain just taken, which this thread
            // now owns.
            let (next, layout) = unsafe { read_free(at) };
            bytes += layout.size() as u64;
            at = next;
        }
        // Relaxed: see the module's synchronization.
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        (head, bytes)
    }

    /// Bytes the inbox and its shard's list hold, or a little more (see
    /// the module's synchronization).
    pub(crate) fn bytes(&self) -> u64 {
        // Relaxed: a statistic.
        let kept = self.kept.load(Ordering::Relaxed);
        self.bytes.load(Ordering::Relaxed).saturating_add(kept)
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Relaxed: `&mut self`; the last subtraction of the count that
        // owns the inbox ordered every push before this (see the module's
        // synchronization).
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: the inbox's blocks, owned by it alone now that it is
        // dropped.
        unsafe { free_chain(head) };
    }
}

/// The spare blocks a shard took from its inbox, under its lock.
///
/// # Invariants
/// `CHAIN`: `head` is 0, or the first of a chain of blocks owned by this
/// value, linked to 0, of `bytes` bytes.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    head: usize,
    bytes: u64,
}

impl Spares {
    /// A block of exactly `layout`, from this list, or from `inbox` once
    /// the list is empty; `None` if the next one has another layout, which
    /// is freed. Under the shard lock.
    pub(crate) fn take(&mut self, layout: Layout, inbox: &Inbox) -> Option<NonNull<u8>> {
        if self.head == 0 {
            (self.head, self.bytes) = inbox.take();
            if self.head == 0 {
                return None;
            }
        }
        // SAFETY: the list's first block (invariant `CHAIN`).
        let (next, kept) = unsafe { read_free(self.head) };
        let block = ptr::with_exposed_provenance_mut::<u8>(self.head);
        self.head = next;
        self.bytes -= kept.size() as u64;
        // Relaxed: under the lock (see the module's synchronization).
        inbox.kept.store(self.bytes, Ordering::Relaxed);
        if kept == layout {
            return NonNull::new(block);
        }
        // SAFETY: unlinked from the list, which owned it, allocated with
        // `kept`.
        unsafe { alloc::dealloc(block, kept) };
        None
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        // SAFETY: invariant `CHAIN`.
        unsafe { free_chain(self.head) };
    }
}

/// Writes a block's [`Free`] header.
///
/// # Safety
/// The block at `addr` is unused, and at least as large and as aligned as
/// a `Free`.
unsafe fn write_free(addr: usize, next: usize, layout: Layout) {
    let free = ptr::with_exposed_provenance_mut::<Free>(addr);
    // SAFETY: the caller's contract.
    unsafe {
        free.write(Free {
            next,
            size: layout.size(),
            align: layout.align(),
        });
    }
}

/// Relinks the block at `addr` to `next`.
///
/// # Safety
/// The block has a [`Free`] header and is the caller's.
unsafe fn set_next(addr: usize, next: usize) {
    let free = ptr::with_exposed_provenance_mut::<Free>(addr);
    // SAFETY: the caller's contract.
    unsafe { (*free).next = next };
}

/// The next block and the layout of the block at `addr`.
///
/// # Safety
/// The block has a [`Free`] header and is the caller's.
unsafe fn read_free(addr: usize) -> (usize, Layout) {
    let free = ptr::with_exposed_provenance::<Free>(addr);
    // SAFETY: the caller's contract; `write_free` stored a valid layout.
    unsafe {
        let Free { next, size, align } = free.read();
        (next, Layout::from_size_align_unchecked(size, align))
    }
}

/// Frees every block of the chain at `head`.
///
/// # Safety
/// The chain is the caller's, and no one uses its blocks afterwards.
unsafe fn free_chain(mut head: usize) {
    while head != 0 {
        // SAFETY: a block of the caller's chain.
        let (next, layout) = unsafe { read_free(head) };
        // SAFETY: allocated with `layout`, freed once.
        unsafe { alloc::dealloc(ptr::with_exposed_provenance_mut::<u8>(head), layout) };
        head = next;
    }
}
