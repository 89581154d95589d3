//! New entries: a write's value on its way in ([`NewValue`]), and the
//! entry it becomes ([`NewEntry`]), built in a new allocation or in a
//! block its shard kept (`spare.rs`).
//!
//! Building runs no user code, so a shard builds under its lock: the key
//! moves into the entry and the value's bytes are copied from the
//! writer's [`NewValue`], which the writer drops once no lock is held,
//! since its buffer's `Drop` may be the user's.

use std::{
    alloc::{self, Layout},
    cell::UnsafeCell,
    ptr::{self, NonNull},
};

use crossbeam_epoch::{Owned, Pointer};

use super::{Entry, Prefix, INLINE_MAX, MAX_MARKS, SHARED, TIMED, WATCHED, WRITTEN};
use crate::{
    expire::Stamp,
    sync::{AtomicU32, AtomicU8},
    Utf8Bytes,
};

/// A value on its way into a new entry. Public only to be named by
/// [`IntoValue`](crate::IntoValue), whose method is hidden.
#[derive(Debug)]
pub enum NewValue<'a> {
    /// Copied in when at most [`INLINE_MAX`] bytes, else kept: shared text
    /// (`Utf8Bytes`, `Arc<str>`) and loaded values.
    Text(Utf8Bytes),
    /// Copied in when at most [`INLINE_MAX`] bytes, then freed, else kept:
    /// an owned `String`, which no `Bytes` header wraps meanwhile.
    Owned(String),
    /// Kept, whatever its length: a value given as `Bytes`, or static
    /// text longer than [`INLINE_MAX`].
    Kept(Utf8Bytes),
    /// Copied in, or into a buffer of its own when longer than
    /// [`INLINE_MAX`]: static text, and text a serializer wrote into its
    /// scratch buffer.
    Borrowed(&'a str),
}

impl NewValue<'_> {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            NewValue::Text(text) | NewValue::Kept(text) => text,
            NewValue::Owned(text) => text,
            NewValue::Borrowed(text) => text,
        }
    }
}

/// How an entry gets its value.
pub(super) enum Value<'v> {
    /// Copied from this text, which the writer keeps meanwhile.
    Copy(&'v str),
    /// Kept as it is.
    Shared(Utf8Bytes),
}

/// An entry's fields, for [`NewEntry::from_init`] (and `Owned::init`).
pub(crate) struct Init<'v, K> {
    key: K,
    tag: u64,
    value: Value<'v>,
    stamp: Stamp,
    tracked: bool,
    counted: bool,
}

impl<K> Init<'_, K> {
    /// The entry's tail length and flags.
    #[inline]
    fn shape(&self) -> (usize, u8) {
        let (tail_len, shared) = match &self.value {
            Value::Copy(text) => (text.len(), 0),
            Value::Shared(_) => (Entry::<K>::SHARED_TAIL, SHARED),
        };
        let written = if self.stamp.written == 0 { 0 } else { WRITTEN };
        let timed = if self.stamp.deadline == 0 { 0 } else { TIMED };
        let watched = if self.tracked || self.counted {
            WATCHED
        } else {
            0
        };
        (tail_len, shared | written | timed | watched)
    }
}

/// An entry to build, its value ready to copy or keep: what a write hands
/// its shard, which builds the entry under its lock, in a spare block of
/// the same layout when it has one (`spare.rs`). Building runs no user
/// code: it moves the key and copies bytes. A value to copy is borrowed
/// from the writer's [`NewValue`], which the writer drops once no lock is
/// held: its buffer's `Drop` may be the user's (a `Bytes` over the user's
/// owner).
pub(crate) struct NewEntry<'v, K> {
    init: Init<'v, K>,
    tail_len: usize,
    flags: u8,
}

impl<'v, K> NewEntry<'v, K> {
    /// An entry for a key with hash tag `tag`; `tracked` says whether an
    /// eviction policy will read its marks, and `counted` whether its
    /// cache counts reads. An untracked entry starts with its marks
    /// saturated, so that [`mark`](Entry::mark) never stores to it. An
    /// entry neither tracked nor counted, without a deadline, is
    /// [`plain`](Entry::plain).
    ///
    /// A value the entry keeps whole (one given as `Bytes`, or text longer
    /// than [`INLINE_MAX`]) moves out of `value`, and becomes shared text
    /// here, before any lock, if it is not already; any other is copied
    /// from `value` when the entry is built.
    #[inline]
    pub(crate) fn new(
        key: K,
        tag: u64,
        value: &'v mut NewValue<'_>,
        stamp: Stamp,
        tracked: bool,
        counted: bool,
    ) -> Self {
        let copied = value.as_str().len() <= INLINE_MAX && !matches!(value, NewValue::Kept(_));
        let value = if copied {
            Value::Copy(value.as_str())
        } else {
            Value::Shared(match std::mem::replace(value, NewValue::Borrowed("")) {
                NewValue::Text(text) | NewValue::Kept(text) => text,
                NewValue::Owned(text) => text.into(),
                NewValue::Borrowed(text) => String::from(text).into(),
            })
        };
        Self::from_init(Init {
            key,
            tag,
            value,
            stamp,
            tracked,
            counted,
        })
    }

    /// An entry of `init`'s fields (what `Owned::init` hands over).
    #[inline]
    pub(super) fn from_init(init: Init<'v, K>) -> Self {
        let (tail_len, flags) = init.shape();
        NewEntry {
            init,
            tail_len,
            flags,
        }
    }

    /// The key.
    #[inline]
    pub(crate) fn key(&self) -> &K {
        &self.init.key
    }

    /// The layout of the entry's allocation.
    #[inline]
    pub(crate) fn layout(&self) -> Layout {
        Entry::<K>::layout(self.tail_len, self.flags)
    }

    /// Builds the entry in `block`, an allocation of [`layout`](Self::layout)
    /// that no one else uses, or in a new one.
    #[inline]
    pub(crate) fn build(self, block: Option<NonNull<u8>>) -> Owned<Entry<K>> {
        let NewEntry {
            init,
            tail_len,
            flags,
        } = self;
        let layout = Entry::<K>::layout(tail_len, flags);
        let base = block.map_or_else(
            || {
                // SAFETY: the layout's size is at least `TAIL`, which is not
                // zero.
                let base = unsafe { alloc::alloc(layout) };
                if base.is_null() {
                    alloc::handle_alloc_error(layout);
                }
                base
            },
            NonNull::as_ptr,
        );
        // SAFETY: `base` is an unused allocation of `layout` (caller's
        // contract, or new), whose tail length and flags these are.
        unsafe { Entry::write(base, init, tail_len, flags) };
        // Exposed: every pointer to the entry is rebuilt from this address.
        let addr = base.expose_provenance();
        // SAFETY: an entry just written, owned by no one else, as
        // `Owned::init` would have returned it.
        unsafe { Owned::from_usize(addr) }
    }
}

impl<K> Entry<K> {
    /// An entry for a key with hash tag `tag`, built at once in a new
    /// allocation (see [`NewEntry::new`] for the arguments). The value's
    /// buffer is dropped before this returns.
    #[cfg(test)]
    pub(crate) fn new(
        key: K,
        tag: u64,
        mut value: NewValue<'_>,
        stamp: Stamp,
        tracked: bool,
        counted: bool,
    ) -> Owned<Self> {
        NewEntry::new(key, tag, &mut value, stamp, tracked, counted).build(None)
    }

    /// Writes an entry of `init`'s fields at `base`.
    ///
    /// # Safety
    /// `base` is an allocation no one else uses, of the layout of
    /// `tail_len` and `flags`, which are `init.shape()`.
    #[inline]
    unsafe fn write(base: *mut u8, init: Init<'_, K>, tail_len: usize, flags: u8) {
        let Init {
            key,
            tag,
            value,
            stamp,
            tracked,
            counted: _,
        } = init;
        let prefix = Prefix {
            deadline: stamp.deadline,
            tail_len: u16::try_from(tail_len).expect("a copied value is at most INLINE_MAX"),
            marks: AtomicU8::new(if tracked { 0 } else { MAX_MARKS }),
            flags,
            // The low 32 bits, as the tables use them.
            tag: tag as u32,
            refs: AtomicU32::new(1),
            node: AtomicU32::new(0),
            key,
            tail: UnsafeCell::new([]),
        };
        // SAFETY: `base` is an allocation of the layout: `TAIL + tail_len`
        // bytes or more, aligned for `Prefix<K>`; the tail's bytes follow
        // the prefix's `TAIL` bytes, and the write time (flag `WRITTEN`)
        // the tail, in bounds (caller's contract).
        unsafe {
            base.cast::<Prefix<K>>().write(prefix);
            let tail = base.add(Self::TAIL);
            match value {
                Value::Copy(text) => ptr::copy_nonoverlapping(text.as_ptr(), tail, text.len()),
                // Aligned: `base` is aligned to `ALIGNMENT`, at least 8.
                Value::Shared(value) => tail.add(Self::PAD).cast::<Utf8Bytes>().write(value),
            }
            if flags & WRITTEN != 0 {
                // Aligned: `written_offset` is a multiple of 8, as `base` is.
                let at = base.add(Self::written_offset(tail_len)).cast::<u64>();
                at.write(stamp.written);
            }
        }
    }
}
