//! New entries: a write's value on its way in ([`NewValue`]), and the
//! entry it becomes ([`NewEntry`]), built in a new allocation or in a
//! block its shard kept (`spare.rs`).
//!
//! Building runs no user code, so a shard builds under its lock: the key
//! moves into the entry and the value's bytes are copied; the buffer they
//! came from goes back to the writer as [`Copied`], whose `Drop` may be
//! the user's, to be dropped once no lock is held.

use std::{
    alloc::{self, Layout},
    cell::UnsafeCell,
    marker::PhantomData,
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
pub(super) enum Value {
    /// Copied from these bytes, valid UTF-8, which outlive the `init` call.
    Copy(*const u8, usize),
    /// Kept as it is.
    Shared(Utf8Bytes),
}

/// An entry's fields, for [`Entry::write`] (and `Owned::init`).
pub(crate) struct Init<K> {
    key: K,
    tag: u64,
    value: Value,
    stamp: Stamp,
    tracked: bool,
    counted: bool,
}

impl<K> Init<K> {
    /// The entry's tail length and flags.
    #[inline]
    pub(super) fn shape(&self) -> (usize, u8) {
        let (tail_len, shared) = match &self.value {
            Value::Copy(_, len) => (*len, 0),
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
/// code: it moves the key and copies bytes; the buffer copied from comes
/// back as [`Copied`], to be dropped once no lock is held.
pub(crate) struct NewEntry<'a, K> {
    init: Init<K>,
    copied: Copied<'a>,
    tail_len: usize,
    flags: u8,
}

/// The buffer an entry's value was copied from, if it owns one: its
/// `Drop` may be the user's (a `Bytes` over the user's owner).
#[must_use = "drop it once no lock is held"]
pub(crate) struct Copied<'a> {
    /// Shared text.
    _text: Option<Utf8Bytes>,
    /// An owned `String`.
    _owned: Option<String>,
    /// Neither: the value was kept, or borrowed for `'a`.
    _borrowed: PhantomData<&'a str>,
}

impl<'a> Copied<'a> {
    #[inline]
    fn new(text: Option<Utf8Bytes>, owned: Option<String>) -> Self {
        Copied {
            _text: text,
            _owned: owned,
            _borrowed: PhantomData,
        }
    }
}

impl<'a, K> NewEntry<'a, K> {
    /// An entry for a key with hash tag `tag`; `tracked` says whether an
    /// eviction policy will read its marks, and `counted` whether its
    /// cache counts reads. An untracked entry starts with its marks
    /// saturated, so that [`mark`](Entry::mark) never stores to it. An
    /// entry neither tracked nor counted, without a deadline, is
    /// [`plain`](Entry::plain).
    ///
    /// A value longer than [`INLINE_MAX`] that is not shared text already
    /// becomes some here, before any lock: that allocates and copies.
    #[inline]
    pub(crate) fn new(
        key: K,
        tag: u64,
        value: NewValue<'a>,
        stamp: Stamp,
        tracked: bool,
        counted: bool,
    ) -> Self {
        let (value, copied) = match value {
            NewValue::Text(text) if text.len() <= INLINE_MAX => (
                Value::Copy(text.as_ptr(), text.len()),
                Copied::new(Some(text), None),
            ),
            NewValue::Text(text) | NewValue::Kept(text) => {
                (Value::Shared(text), Copied::new(None, None))
            }
            NewValue::Owned(text) if text.len() <= INLINE_MAX => (
                Value::Copy(text.as_ptr(), text.len()),
                Copied::new(None, Some(text)),
            ),
            NewValue::Owned(text) => (Value::Shared(text.into()), Copied::new(None, None)),
            NewValue::Borrowed(text) if text.len() <= INLINE_MAX => (
                Value::Copy(text.as_ptr(), text.len()),
                Copied::new(None, None),
            ),
            NewValue::Borrowed(text) => (
                Value::Shared(String::from(text).into()),
                Copied::new(None, None),
            ),
        };
        let init = Init {
            key,
            tag,
            value,
            stamp,
            tracked,
            counted,
        };
        let (tail_len, flags) = init.shape();
        NewEntry {
            init,
            copied,
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
    /// that no one else uses, or in a new one. Returns it, and the buffer
    /// its value was copied from.
    #[inline]
    pub(crate) fn build(self, block: Option<NonNull<u8>>) -> (Owned<Entry<K>>, Copied<'a>) {
        let NewEntry {
            init,
            copied,
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
        // contract, or new), whose tail length and flags these are; a
        // copied value's bytes live in `copied`, not yet dropped.
        unsafe { Entry::write(base, init, tail_len, flags) };
        // Exposed: every pointer to the entry is rebuilt from this address.
        let addr = base.expose_provenance();
        // SAFETY: an entry just written, owned by no one else, as
        // `Owned::init` would have returned it.
        (unsafe { Owned::from_usize(addr) }, copied)
    }
}

impl<K> Entry<K> {
    /// An entry for a key with hash tag `tag`, built at once in a new
    /// allocation (see [`NewEntry::new`] for the arguments). The copied
    /// value's buffer is dropped before this returns.
    #[cfg(test)]
    pub(crate) fn new(
        key: K,
        tag: u64,
        value: NewValue<'_>,
        stamp: Stamp,
        tracked: bool,
        counted: bool,
    ) -> Owned<Self> {
        let (entry, copied) = NewEntry::new(key, tag, value, stamp, tracked, counted).build(None);
        drop(copied);
        entry
    }

    /// Writes an entry of `init`'s fields at `base`.
    ///
    /// # Safety
    /// `base` is an allocation no one else uses, of the layout of
    /// `tail_len` and `flags`, which are `init.shape()`; a copied value's
    /// bytes outlive this call (`Value::Copy`).
    #[inline]
    pub(super) unsafe fn write(base: *mut u8, init: Init<K>, tail_len: usize, flags: u8) {
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
                // The caller's bytes outlive this call (`Value::Copy`).
                Value::Copy(bytes, len) => ptr::copy_nonoverlapping(bytes, tail, len),
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
