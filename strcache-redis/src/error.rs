//! Why a near-cache operation failed.

use std::{error, fmt, string::FromUtf8Error};

/// Why a [`NearCache`](crate::NearCache) operation failed. Nothing is
/// cached from a failed operation, and the local tier is left as it was.
///
/// # Examples
/// ```
/// use strcache_redis::Error;
///
/// let err = Error::NotUtf8 {
///     key: "user:7".into(),
///     source: String::from_utf8(vec![0xff]).unwrap_err(),
/// };
/// assert_eq!(err.to_string(), "the value of key `user:7` is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The value Redis holds for `key` is not UTF-8, so it cannot be
    /// served as a `&str`. It is not cached.
    NotUtf8 {
        /// The key whose value is not UTF-8.
        key: String,
        /// Where the bytes stop being UTF-8.
        source: FromUtf8Error,
    },
    /// Redis could not be reached or refused the request: connection
    /// refused, a timeout, an authentication failure, a server error.
    Redis(redis::RedisError),
    /// The local tier refused the value (larger than the cache's bound).
    Cache(strcache::Error),
    /// The builder's settings cannot make a local tier (a bound of 0
    /// entries, a zero `max_ttl`); the error names the setting.
    Config(strcache::ConfigError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotUtf8 { key, source } => {
                write!(f, "the value of key `{key}` is not UTF-8: {source}")
            }
            Error::Redis(e) => write!(f, "Redis request failed: {e}"),
            Error::Cache(e) => write!(f, "the local tier refused the value: {e}"),
            Error::Config(e) => write!(f, "invalid near-cache settings: {e}"),
        }
    }
}

impl error::Error for Error {
    fn source(&self) -> Option<&(dyn error::Error + 'static)> {
        match self {
            Error::NotUtf8 { source, .. } => Some(source),
            Error::Redis(e) => Some(e),
            Error::Cache(e) => Some(e),
            Error::Config(e) => Some(e),
        }
    }
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        Error::Redis(e)
    }
}
