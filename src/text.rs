//! `Utf8Bytes`: a `Bytes` buffer proven to hold UTF-8.
//!
//! This is the only module that calls `str::from_utf8_unchecked`; every
//! other reader of cached text goes through [`Utf8Bytes::as_str`].

use std::{borrow::Cow, fmt, ops::Deref, sync::Arc};

use bytes::Bytes;

use crate::Error;

/// An immutable, cheaply cloneable UTF-8 buffer: the value type of the cache.
///
/// Every conversion into `Utf8Bytes` keeps the caller's buffer; none copies
/// the text. `&'static str` is borrowed for ever, `String` and `Box<str>`
/// hand over their allocation, `Arc<str>` is kept alive by reference count.
///
/// # Invariants
/// `UTF8`: the bytes of `self.0` are valid UTF-8. Every constructor checks
/// it or takes it from a type that guarantees it.
///
/// # Examples
/// ```
/// use bytes::Bytes;
/// use strcache::Utf8Bytes;
///
/// let text = Utf8Bytes::try_from(Bytes::from_static(b"{\"a\":1}")).unwrap();
/// assert_eq!(text.as_str(), "{\"a\":1}");
/// assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps `bytes` without checking them.
    ///
    /// # Safety
    /// `bytes` must be valid UTF-8.
    ///
    /// # Examples
    /// ```
    /// use bytes::Bytes;
    /// use strcache::Utf8Bytes;
    ///
    /// let bytes = Bytes::from(String::from("known text"));
    /// // SAFETY: the bytes came from a `String`.
    /// let text = unsafe { Utf8Bytes::from_bytes_unchecked(bytes) };
    /// assert_eq!(text.as_str(), "known text");
    /// ```
    #[inline]
    pub const unsafe fn from_bytes_unchecked(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The text.
    ///
    /// # Examples
    /// ```
    /// let text = strcache::Utf8Bytes::from("hi");
    /// assert_eq!(text.as_str(), "hi");
    /// ```
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: `UTF8` invariant of `Utf8Bytes`.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying buffer, shared, not copied.
    ///
    /// # Examples
    /// ```
    /// let text = strcache::Utf8Bytes::from("hi");
    /// assert_eq!(&text.as_bytes()[..], b"hi");
    /// ```
    #[inline]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Converts into the underlying buffer without copying.
    ///
    /// # Examples
    /// ```
    /// let bytes = strcache::Utf8Bytes::from(String::from("hi")).into_bytes();
    /// assert_eq!(&bytes[..], b"hi");
    /// ```
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Error;

    /// Checks that `bytes` is UTF-8 and keeps the buffer.
    ///
    /// # Errors
    /// [`Error::InvalidUtf8`] naming the offset of the first invalid byte.
    fn try_from(bytes: Bytes) -> Result<Self, Error> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(e) => Err(Error::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
                error_len: e.error_len(),
            }),
        }
    }
}

impl From<&'static str> for Utf8Bytes {
    #[inline]
    fn from(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Utf8Bytes {
    #[inline]
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<Box<str>> for Utf8Bytes {
    #[inline]
    fn from(s: Box<str>) -> Self {
        Self(Bytes::from(s.into_boxed_bytes()))
    }
}

impl From<Cow<'static, str>> for Utf8Bytes {
    #[inline]
    fn from(s: Cow<'static, str>) -> Self {
        match s {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        }
    }
}

/// Lets `Bytes::from_owner` keep an `Arc<str>` alive.
struct ArcStr(Arc<str>);

impl AsRef<[u8]> for ArcStr {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<Arc<str>> for Utf8Bytes {
    #[inline]
    fn from(s: Arc<str>) -> Self {
        Self(Bytes::from_owner(ArcStr(s)))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_keep_the_text() {
        let owned = String::from("owned");
        let ptr = owned.as_ptr();
        let text = Utf8Bytes::from(owned);
        assert_eq!(text.as_str(), "owned");
        assert_eq!(text.as_bytes().as_ptr(), ptr, "String is not copied");

        let arc: Arc<str> = Arc::from("shared");
        let ptr = arc.as_ptr();
        let text = Utf8Bytes::from(arc);
        assert_eq!(text.as_bytes().as_ptr(), ptr, "Arc<str> is not copied");

        assert_eq!(Utf8Bytes::from(Box::<str>::from("boxed")).as_str(), "boxed");
        assert_eq!(Utf8Bytes::from(Cow::Borrowed("cow")).as_str(), "cow");
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let err = Utf8Bytes::try_from(Bytes::from_static(b"ok\xc3(")).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidUtf8 {
                valid_up_to: 2,
                error_len: Some(1)
            }
        );
        let err = Utf8Bytes::try_from(Bytes::from_static(b"abc\xe2\x82")).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidUtf8 {
                valid_up_to: 3,
                error_len: None
            }
        );
    }
}
