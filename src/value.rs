//! `IntoValue`: what a write accepts as a value.

use std::{borrow::Cow, sync::Arc};

use crate::{
    entry::{NewValue, INLINE_MAX},
    Utf8Bytes,
};

/// Text that [`insert`](crate::StrCache::insert) and
/// [`insert_with_ttl`](crate::StrCache::insert_with_ttl) accept as a value:
/// a `String`, a `&'static str`, a `Box<str>`, a `Cow<'static, str>`, an
/// `Arc<str>` or a [`Utf8Bytes`].
///
/// Text of up to 4 KiB is copied into the entry, beside its key; longer
/// text is kept without a copy. A `String` or `Box<str>` is copied straight
/// from its own buffer, which the write then frees, so the write allocates
/// the entry alone whatever the `String`'s spare capacity (a `String` with
/// spare capacity turned into `Bytes` first would allocate a header for
/// it, and `serde_json::to_string` returns one more often than not).
///
/// The trait is sealed: how each kind of text is stored is the cache's
/// choice. Other text converts into a [`Utf8Bytes`] first (see its `From`
/// implementations), and a `Bytes` goes to
/// [`try_insert_bytes`](crate::StrCache::try_insert_bytes).
///
/// # Examples
/// ```
/// use std::{borrow::Cow, sync::Arc};
/// use strcache::{StrCache, Utf8Bytes};
///
/// let cache: StrCache = StrCache::new();
/// cache.insert("a".into(), "static").unwrap();
/// cache.insert("b".into(), format!("{{\"id\":{}}}", 7)).unwrap();
/// cache.insert("c".into(), Cow::Borrowed("borrowed")).unwrap();
/// cache.insert("d".into(), Arc::<str>::from("shared")).unwrap();
/// cache.insert("e".into(), Utf8Bytes::from("bytes")).unwrap();
/// assert_eq!(cache.get_str("b").unwrap(), "{\"id\":7}");
/// ```
pub trait IntoValue: sealed::Sealed {
    /// How the write takes the text.
    #[doc(hidden)]
    fn into_value(self) -> NewValue<'static>;
}

mod sealed {
    /// Keeps [`IntoValue`](super::IntoValue) to this crate's types.
    pub trait Sealed {}
}

impl sealed::Sealed for String {}
impl IntoValue for String {
    #[inline]
    fn into_value(self) -> NewValue<'static> {
        NewValue::Owned(self)
    }
}

impl sealed::Sealed for &'static str {}
impl IntoValue for &'static str {
    #[inline]
    fn into_value(self) -> NewValue<'static> {
        if self.len() <= INLINE_MAX {
            NewValue::Borrowed(self)
        } else {
            NewValue::Kept(self.into())
        }
    }
}

impl sealed::Sealed for Box<str> {}
impl IntoValue for Box<str> {
    #[inline]
    fn into_value(self) -> NewValue<'static> {
        NewValue::Owned(self.into())
    }
}

impl sealed::Sealed for Cow<'static, str> {}
impl IntoValue for Cow<'static, str> {
    #[inline]
    fn into_value(self) -> NewValue<'static> {
        match self {
            Cow::Borrowed(text) => text.into_value(),
            Cow::Owned(text) => text.into_value(),
        }
    }
}

impl sealed::Sealed for Arc<str> {}
impl IntoValue for Arc<str> {
    #[inline]
    fn into_value(self) -> NewValue<'static> {
        NewValue::Text(self.into())
    }
}

impl sealed::Sealed for Utf8Bytes {}
impl IntoValue for Utf8Bytes {
    #[inline]
    fn into_value(self) -> NewValue<'static> {
        NewValue::Text(self)
    }
}
