//! The input language of [`ops`](super::ops): keys, values, operations
//! and bounds, decoded from fuzz input with `arbitrary`.

use std::{sync::Arc, time::Duration};

use arbitrary::Arbitrary;
use bytes::Bytes;

use crate::{Error, InsertOutcome, IntoValue, Utf8Bytes, MAX_WEIGHT};

use super::Cache;

/// Keys in [`ops`] come from a small set, so inserts replace, removes hit,
/// and tables fill, gather tombstones and resize.
const OPS_KEYS: u8 = 64;

/// The texts `&'static str` values are drawn from.
const STATIC_TEXTS: [&str; 5] = [
    "",
    "v",
    r#"{"id":7,"name":"Ada"}"#,
    "naïve café, 東京, 🦀",
    "a value long enough to span more than one cache line of its buffer: \
     0123456789abcdef0123456789abcdef",
];

/// Time in [`ops`] moves in whole ticks of the cache's `ManualClock`.
pub(super) const TICK: Duration = Duration::from_secs(1);

/// A key of [`ops`].
#[derive(Debug, Arbitrary)]
pub(super) struct Key(u8);

impl Key {
    pub(super) fn name(&self) -> String {
        format!("key-{}", self.0 % OPS_KEYS)
    }
}

/// A value of each kind `insert` accepts.
#[derive(Debug, Arbitrary)]
pub(super) enum Value {
    Static(u8),
    Owned(String),
    Boxed(String),
    Shared(String),
    Checked(String),
}

impl Value {
    pub(super) fn text(&self) -> &str {
        match self {
            Value::Static(i) => STATIC_TEXTS[usize::from(*i) % STATIC_TEXTS.len()],
            Value::Owned(s) | Value::Boxed(s) | Value::Shared(s) | Value::Checked(s) => s,
        }
    }

    /// Inserts the value as its own type, through the `Into` bound of
    /// `insert`, or of `insert_with_ttl` when `ttl` is set.
    pub(super) fn insert_into(
        self,
        cache: &Cache,
        key: String,
        ttl: Option<Duration>,
    ) -> Result<InsertOutcome, Error> {
        fn write(
            cache: &Cache,
            key: String,
            value: impl IntoValue,
            ttl: Option<Duration>,
        ) -> Result<InsertOutcome, Error> {
            match ttl {
                Some(ttl) => cache.insert_with_ttl(key, value, ttl),
                None => cache.insert(key, value),
            }
        }
        match self {
            Value::Static(i) => write(
                cache,
                key,
                STATIC_TEXTS[usize::from(i) % STATIC_TEXTS.len()],
                ttl,
            ),
            Value::Owned(s) => write(cache, key, s, ttl),
            Value::Boxed(s) => write(cache, key, s.into_boxed_str(), ttl),
            Value::Shared(s) => write(cache, key, Arc::<str>::from(s), ttl),
            Value::Checked(s) => {
                let text = Utf8Bytes::try_from(Bytes::from(s)).expect("a String is UTF-8");
                write(cache, key, text, ttl)
            }
        }
    }

    /// The value as a loader returns it.
    pub(super) fn into_text(self) -> Utf8Bytes {
        match self {
            Value::Static(i) => STATIC_TEXTS[usize::from(i) % STATIC_TEXTS.len()].into(),
            Value::Owned(s) => s.into(),
            Value::Boxed(s) => s.into_boxed_str().into(),
            Value::Shared(s) => Arc::<str>::from(s).into(),
            Value::Checked(s) => Utf8Bytes::try_from(Bytes::from(s)).expect("a String is UTF-8"),
        }
    }
}

/// The error of a failing loader in [`ops`].
pub(super) const FAILED: &str = "the loader failed";

/// One step of [`ops`]: every public read and write, and the clock.
#[derive(Debug, Arbitrary)]
pub(super) enum Op {
    Insert(Key, Value),
    /// `insert_with_ttl`, with a time to live in ticks.
    InsertWithTtl(Key, Value, u8),
    TryInsertBytes(Key, Vec<u8>),
    GetStr(Key),
    GetBytes(Key),
    ContainsKey(Key),
    Remove(Key),
    /// `retain`, dropping the entries whose key and value lengths add up
    /// to `residue` modulo `modulus`.
    Retain {
        modulus: u8,
        residue: u8,
    },
    Clear,
    PurgeExpired,
    /// `try_get_or_insert_with`, with a loader that fails for `None`.
    Load(Key, Option<Value>),
    /// `get_or_insert_with` whose loader first loads `inner`: its own key
    /// (an `Error::Recursive`) when the names match.
    NestedLoad {
        outer: Key,
        value: Value,
        inner: Key,
        inner_value: Value,
    },
    /// Moves the clock on by a few ticks.
    Advance(u8),
    /// Lookups under one `pin()`.
    Pinned(Vec<Key>),
    Iter,
    PinnedIter,
    /// An iteration, through `Pinned::iter` when `pinned`, else `iter`,
    /// with one write (an insert, or a remove for `None`) after each entry
    /// it yields.
    IterWhileWriting {
        pinned: bool,
        writes: Vec<(Key, Option<Value>)>,
    },
}

/// A bound of the cache under test.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limit {
    /// `max_entries`: each entry weighs 1.
    Entries(u64),
    /// `max_weight` with a weigher of key and value lengths.
    Bytes(u64),
    /// `max_weight` with weights near `u64::MAX`: key and value lengths
    /// times 2^56, saturating, under a bound of `u64::MAX` less the
    /// number, which the cache lowers to [`MAX_WEIGHT`].
    Heavy(u64),
}

impl Limit {
    /// The bound given to the builder.
    pub(super) fn given(self) -> u64 {
        match self {
            Limit::Entries(max) | Limit::Bytes(max) => max,
            Limit::Heavy(less) => u64::MAX - less,
        }
    }

    /// The bound the cache keeps.
    pub(super) fn max(self) -> u64 {
        self.given().min(MAX_WEIGHT)
    }

    pub(super) fn weigh(self, key: &str, value: &str) -> u64 {
        let bytes = (key.len() + value.len()) as u64;
        match self {
            Limit::Entries(_) => 1,
            Limit::Bytes(_) => bytes,
            Limit::Heavy(_) => bytes.saturating_mul(1 << 56),
        }
    }
}
