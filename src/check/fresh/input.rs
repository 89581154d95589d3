//! The input language of [`fresh`](super::fresh): keys, operations and
//! the loader they drive, decoded from fuzz input with `arbitrary`.

use std::time::Duration;

use arbitrary::Arbitrary;

use crate::{Expiring, Loaded, Utf8Bytes};

/// Few keys, so that loads, reloads, writes and clock steps meet on the
/// same key often.
pub(super) const KEYS: usize = 6;

/// Time moves in whole ticks of the cache's `ManualClock`.
const TICK: Duration = Duration::from_secs(1);

/// `n` ticks.
pub(super) fn ticks(n: u64) -> Duration {
    TICK * u32::try_from(n).expect("a tick count of a bounded input")
}

/// The name of key `i`.
pub(super) fn name(i: usize) -> String {
    format!("k{i}")
}

/// The index of a key named by [`name`].
pub(super) fn index(key: &str) -> usize {
    key.strip_prefix('k')
        .and_then(|i| i.parse().ok())
        .expect("a key of the harness")
}

/// A key of [`fresh`](super::fresh): one of [`KEYS`].
#[derive(Debug, Arbitrary)]
pub(super) struct Key(u8);

impl Key {
    pub(super) fn index(&self) -> usize {
        usize::from(self.0) % KEYS
    }
}

/// One step of [`fresh`](super::fresh).
#[derive(Debug, Arbitrary)]
pub(super) enum Op {
    /// `LoadingCache::get`.
    Get(Key),
    /// `LoadingCache::get_bytes`.
    GetBytes(Key),
    /// `StrCache::get_str`, a plain read.
    GetStr(Key),
    /// `insert` of a value made from the byte.
    Insert(Key, u8),
    /// `insert_with_ttl`, with a time to live of a few ticks.
    InsertWithTtl(Key, u8, u8),
    Remove(Key),
    Clear,
    /// `retain`, keeping the keys whose bit is set.
    Retain(u8),
    /// Moves the clock on by up to 3 ticks.
    Step(u8),
    /// Moves the clock on by up to 31 ticks, past every window.
    Jump(u8),
    /// Makes the loader fail for the key from now on, or succeed again.
    ToggleFailing(Key),
    /// Makes the loader return the key's values as `Expiring` with a time
    /// to live of a few ticks, or, for `None`, as plain values.
    LoaderTtl(Key, Option<u8>),
}

/// What the loader returns: a plain value, or an [`Expiring`] one.
pub(super) struct Reply {
    pub(super) value: String,
    /// The `Expiring` time to live, in ticks.
    pub(super) ttl: Option<u64>,
}

impl Loaded for Reply {
    fn into_parts(self) -> (Utf8Bytes, Option<Duration>) {
        match self.ttl {
            Some(n) => Expiring::new(self.value, ticks(n)).into_parts(),
            None => self.value.into_parts(),
        }
    }
}

/// The loader's state: its calls per key, and what the input told it to
/// do. The cache's loader runs one; the model runs a copy, to predict.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Backend {
    calls: [u64; KEYS],
    pub(super) failing: [bool; KEYS],
    /// The `Expiring` time to live of each key's values, in ticks.
    pub(super) ttl: [Option<u64>; KEYS],
}

impl Backend {
    /// The `n`th call for key `i`: `"{key}#{n}"`, or an error if the key
    /// is failing.
    pub(super) fn call(&mut self, i: usize) -> Result<Reply, String> {
        self.calls[i] += 1;
        let n = self.calls[i];
        if self.failing[i] {
            return Err(format!("{} failed #{n}", name(i)));
        }
        Ok(Reply {
            value: format!("{}#{n}", name(i)),
            ttl: self.ttl[i],
        })
    }
}
