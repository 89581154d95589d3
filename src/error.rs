//! The crate's error type.

use std::fmt;

/// Why a write or a load was refused. A refused write changes nothing: the
/// previous value for the key is still there.
///
/// # Examples
/// ```
/// use bytes::Bytes;
/// use strcache::{Error, StrCache};
///
/// let cache: StrCache = StrCache::new();
/// let err = cache
///     .try_insert_bytes("k".to_string(), Bytes::from_static(b"caf\xc3"))
///     .unwrap_err();
/// assert_eq!(err, Error::InvalidUtf8 { valid_up_to: 3, error_len: None });
/// assert_eq!(
///     err.to_string(),
///     "value is not valid UTF-8: incomplete sequence at byte offset 3 (end of input)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The value is not UTF-8.
    InvalidUtf8 {
        /// Bytes before this offset are valid UTF-8.
        valid_up_to: usize,
        /// Length of the invalid sequence at `valid_up_to`, or `None` when
        /// the input ends in the middle of a sequence.
        error_len: Option<usize>,
    },
    /// The entry alone weighs more than the whole bound of the cache.
    TooLarge {
        /// The entry's weight.
        weight: u64,
        /// The cache's bound.
        max: u64,
    },
    /// A load waited longer than its timeout for another caller's loader,
    /// which carries on.
    Timeout,
    /// A loader tried to load its own key, which would wait for itself.
    Recursive,
    /// The value could not be serialized to JSON; serde_json's message.
    Serialize(String),
    /// The bytes are not exactly one JSON value.
    InvalidJson {
        /// Where simd-json found the error, in bytes from the start.
        offset: usize,
        /// What it found there.
        reason: String,
    },
    /// The cached text is not the type asked for; serde_json's message.
    Deserialize(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::InvalidUtf8 {
                valid_up_to,
                error_len: Some(len),
            } => write!(
                f,
                "value is not valid UTF-8: invalid sequence of {len} byte(s) at byte offset {valid_up_to}"
            ),
            Error::InvalidUtf8 {
                valid_up_to,
                error_len: None,
            } => write!(
                f,
                "value is not valid UTF-8: incomplete sequence at byte offset {valid_up_to} (end of input)"
            ),
            Error::TooLarge { weight, max } => write!(
                f,
                "entry weighs {weight}, more than the cache's whole bound of {max}"
            ),
            Error::Timeout => f.write_str("timed out waiting for another caller's loader"),
            Error::Recursive => f.write_str(
                "a loader tried to load its own key, which would wait for itself forever",
            ),
            Error::Serialize(ref message) => {
                write!(f, "value cannot be serialized to JSON: {message}")
            }
            Error::InvalidJson { offset, ref reason } => {
                write!(f, "value is not one JSON value: {reason} at byte offset {offset}")
            }
            Error::Deserialize(ref message) => {
                write!(f, "cached JSON is not of the type asked for: {message}")
            }
        }
    }
}

impl std::error::Error for Error {}
