//! The crate's errors: [`Error`] for what a cache refuses, [`ConfigError`]
//! for settings a [`Builder`](crate::Builder) cannot build.

#[cfg(feature = "json")]
use std::sync::Arc;
use std::{error, fmt, time::Duration};

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
///     .try_insert_bytes("k".into(), Bytes::from_static(b"caf\xc3"))
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
    /// The value could not be serialized to JSON; serde_json's error is
    /// the [`source`](std::error::Error::source).
    #[cfg(feature = "json")]
    Serialize(JsonError),
    /// The bytes are not exactly one JSON value.
    #[cfg(feature = "json")]
    InvalidJson {
        /// Where simd-json found the error, in bytes from the start.
        offset: usize,
        /// What it found there.
        reason: String,
    },
    /// The cached text is not the type asked for; serde_json's error is
    /// the [`source`](std::error::Error::source).
    #[cfg(feature = "json")]
    Deserialize(JsonError),
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
            #[cfg(feature = "json")]
            Error::Serialize(ref e) => write!(f, "value cannot be serialized to JSON: {e}"),
            #[cfg(feature = "json")]
            Error::InvalidJson { offset, ref reason } => {
                write!(f, "value is not one JSON value: {reason} at byte offset {offset}")
            }
            #[cfg(feature = "json")]
            Error::Deserialize(ref e) => {
                write!(f, "cached JSON is not of the type asked for: {e}")
            }
        }
    }
}

/// The message of each variant names the cause too, as
/// [`LoadError`](crate::LoadError)'s do, so printing the error alone says
/// everything; `source` hands the cause over as a value.
impl error::Error for Error {
    fn source(&self) -> Option<&(dyn error::Error + 'static)> {
        #[cfg(feature = "json")]
        if let Error::Serialize(e) | Error::Deserialize(e) = self {
            return Some(e.serde_json());
        }
        None
    }
}

/// Why a [`Builder`](crate::Builder) refused its settings: each names the
/// setting as it was called. [`Builder::try_build`](crate::Builder::try_build)
/// returns it; [`Builder::build`](crate::Builder::build) panics with its
/// message.
///
/// # Examples
/// ```
/// use strcache::{ConfigError, StrCache};
///
/// let err = StrCache::<String>::builder().max_entries(0).try_build().unwrap_err();
/// assert_eq!(err, ConfigError::ZeroBound { setting: "max_entries" });
/// assert_eq!(
///     err.to_string(),
///     "max_entries(0): a cache bounded to 0 can hold nothing; \
///      leave the bound out for an unbounded cache"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_entries(0)` or `max_bytes(0)`: no entry would fit.
    ZeroBound {
        /// `"max_entries"` or `"max_bytes"`.
        setting: &'static str,
    },
    /// Two different bounds: a cache has one.
    TwoBounds {
        /// The first bound set, as called: `"max_entries(100)"`.
        first: String,
        /// The bound set after it.
        second: String,
    },
    /// `time_to_live(Duration::ZERO)`: every entry would expire as it is
    /// inserted.
    ZeroTimeToLive,
    /// `shards(0)`.
    ZeroShards,
    /// More shards than a cache can have.
    TooManyShards {
        /// The number asked for.
        shards: usize,
        /// The most a cache can have, 65,536.
        max: usize,
    },
    /// A freshness setting on a cache built without a loader: `build`
    /// instead of [`build_loading`](crate::Builder::build_loading).
    NeedsLoader {
        /// `"refresh_after"`, `"serve_stale_for"` or `"refresh_pipeline"`.
        setting: &'static str,
    },
    /// `refresh_after` or `serve_stale_for` without a
    /// [`refresh_pipeline`](crate::Builder::refresh_pipeline) to run the
    /// reloads on.
    NoPipeline {
        /// `"refresh_after"` or `"serve_stale_for"`.
        setting: &'static str,
    },
    /// A `refresh_pipeline` with neither `refresh_after` nor
    /// `serve_stale_for`: no reload would ever run on it.
    IdlePipeline,
    /// A pipeline of the other kind: [`Pipeline::threads`](crate::Pipeline::threads)
    /// runs a [`LoadingCache`](crate::LoadingCache)'s reloads,
    /// [`Pipeline::spawn`](crate::Pipeline::spawn) an
    /// [`AsyncLoadingCache`](crate::AsyncLoadingCache)'s.
    PipelineKind {
        /// `"Pipeline::threads"` or `"Pipeline::spawn"`.
        expected: &'static str,
    },
    /// A pipeline with no threads or no queue.
    ZeroPipeline {
        /// `"threads"` or `"queue"`.
        setting: &'static str,
    },
    /// `refresh_after`, `serve_stale_for` or `cache_failures_for` of
    /// `Duration::ZERO`.
    ZeroWindow {
        /// `"refresh_after"`, `"serve_stale_for"` or `"cache_failures_for"`.
        setting: &'static str,
    },
    /// A refresh window no shorter than the time to live: entries would
    /// expire before a read found them due for a refresh.
    RefreshAfterTtl {
        /// The `refresh_after` setting.
        refresh_after: Duration,
        /// The `time_to_live` setting.
        ttl: Duration,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroBound { setting } => write!(
                f,
                "{setting}(0): a cache bounded to 0 can hold nothing; \
                 leave the bound out for an unbounded cache"
            ),
            ConfigError::TwoBounds { first, second } => write!(
                f,
                "{first} and {second}: a cache has one bound; keep the one you mean"
            ),
            ConfigError::ZeroTimeToLive => f.write_str(
                "time_to_live(0s): every entry would expire as it is inserted; \
                 leave it out for entries that do not expire",
            ),
            ConfigError::ZeroShards => f.write_str("shards(0): a cache needs at least one shard"),
            ConfigError::TooManyShards { shards, max } => {
                write!(f, "shards({shards}): a cache has at most {max} shards")
            }
            ConfigError::NeedsLoader { setting } => write!(
                f,
                "{setting}: only a cache with a loader reloads; \
                 build it with build_loading(loader)"
            ),
            ConfigError::NoPipeline { setting } => write!(
                f,
                "{setting}: the reloads need refresh_pipeline(Pipeline::threads(n)) to run on"
            ),
            ConfigError::IdlePipeline => f.write_str(
                "refresh_pipeline: without refresh_after or serve_stale_for, \
                 no reload would run on it; leave it out",
            ),
            ConfigError::PipelineKind { expected } => write!(
                f,
                "refresh_pipeline: this cache's reloads run on {expected}(..); \
                 Pipeline::threads is for build_loading, Pipeline::spawn for build_loading_async"
            ),
            ConfigError::ZeroPipeline { setting } => write!(
                f,
                "refresh_pipeline: a pipeline with 0 {setting} runs no reload"
            ),
            ConfigError::ZeroWindow { setting } => {
                write!(f, "{setting}(0s): a zero window is no window; leave it out")
            }
            ConfigError::RefreshAfterTtl { refresh_after, ttl } => write!(
                f,
                "refresh_after({refresh_after:?}) is not shorter than time_to_live({ttl:?}): \
                 entries would expire before a read found them due for a refresh"
            ),
        }
    }
}

impl error::Error for ConfigError {}

/// serde_json's error, behind an `Arc` so that [`Error`] stays `Clone`.
/// Two are equal when they say the same thing (serde_json's error is not
/// `PartialEq`).
///
/// # Examples
/// ```
/// use std::error::Error as _;
///
/// let cache: strcache::StrCache = strcache::StrCache::new();
/// cache.insert("n".into(), "[1,2]").unwrap();
/// let err = cache.get_json::<u8>("n").unwrap_err();
/// let strcache::Error::Deserialize(json) = &err else { panic!("{err}") };
/// assert!(json.serde_json().is_data());
/// let source = err.source().unwrap().downcast_ref::<serde_json::Error>().unwrap();
/// assert_eq!(source.to_string(), json.to_string());
/// ```
#[cfg(feature = "json")]
#[derive(Clone)]
pub struct JsonError(Arc<serde_json::Error>);

#[cfg(feature = "json")]
impl JsonError {
    /// serde_json's error: its category, line and column.
    ///
    /// # Examples
    /// ```
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("n".into(), "[1,\n2]").unwrap();
    /// let Err(strcache::Error::Deserialize(json)) = cache.get_json::<Vec<bool>>("n") else {
    ///     panic!("a list of numbers is not a list of booleans")
    /// };
    /// assert_eq!((json.serde_json().line(), json.serde_json().column()), (1, 2));
    /// ```
    pub fn serde_json(&self) -> &serde_json::Error {
        &self.0
    }
}

#[cfg(feature = "json")]
impl From<serde_json::Error> for JsonError {
    fn from(e: serde_json::Error) -> Self {
        JsonError(Arc::new(e))
    }
}

#[cfg(feature = "json")]
impl PartialEq for JsonError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

#[cfg(feature = "json")]
impl Eq for JsonError {}

#[cfg(feature = "json")]
impl fmt::Debug for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(feature = "json")]
impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
