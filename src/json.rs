//! JSON: serialize once at write time, outside every lock; validate raw
//! JSON without copying what is stored; read it back without copying.
//!
//! Writing uses serde_json's serializer into a per-thread scratch buffer,
//! then copies the text once, from there into the entry beside its key (or
//! into an exact-size buffer of its own past 4 KiB), so an insert of up to
//! 4 KiB allocates no more than a plain `insert` of the same text. Validation uses simd-json, which
//! parses in place: it runs on a copy in the same scratch buffer, and the
//! caller's buffer is what the cache keeps. A rejected document is
//! described with serde_json's error where the two agree, as its messages
//! name the problem more precisely.

use std::{
    borrow::Borrow,
    cell::RefCell,
    hash::{BuildHasher, Hash},
};

use bytes::Bytes;
use serde::{
    de::{DeserializeOwned, IgnoredAny},
    ser::SerializeMap,
    Deserialize, Serialize, Serializer,
};
use serde_json::Value;

use crate::{
    entry::NewValue, CachedStr, Error, InsertOutcome, IntoKey, Pinned, StrCache, Utf8Bytes,
};

/// Scratch buffers larger than this are freed after use rather than kept
/// for the thread's next call.
const SCRATCH_KEEP: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer, empty; with a fresh one if
/// the scratch is in use further up the stack (a `Serialize` impl that
/// inserts JSON itself).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = f(&mut buf);
            if buf.capacity() > SCRATCH_KEEP {
                *buf = Vec::new();
            }
            result
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// A JSON value that serializes the keys of each object in sorted order
/// (by their UTF-8 bytes), whatever order its map keeps them in.
struct Sorted<'a>(&'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Sorted(value))?;
                }
                out.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Sorted)),
            other => other.serialize(serializer),
        }
    }
}

/// Checks that `json` is UTF-8 holding exactly one JSON value.
fn validate(json: Bytes) -> Result<Utf8Bytes, Error> {
    let text = Utf8Bytes::try_from(json)?;
    match with_scratch(|buf| parse(text.as_bytes(), buf)) {
        Ok(()) => Ok(text),
        Err(e) => Err(describe(text.as_bytes(), &e)),
    }
}

/// The deepest nesting simd-json accepts: serde_json's (its recursion
/// limit of 128 admits 127 levels), so what is accepted can be read back
/// with [`StrCache::get_json`].
const MAX_DEPTH: usize = 127;

/// simd-json's working memory, kept per thread between validations.
struct Parser {
    buffers: simd_json::Buffers,
    /// Empty between uses; only its allocation is kept.
    tape: simd_json::Tape<'static>,
}

thread_local! {
    static PARSER: RefCell<Option<Parser>> = const { RefCell::new(None) };
}

/// Parses `json` with simd-json, copied into `scratch` with the padding
/// that spares simd-json a copy of its own.
fn parse(json: &[u8], scratch: &mut Vec<u8>) -> Result<(), simd_json::Error> {
    scratch.extend_from_slice(json);
    scratch.resize(json.len() + simd_json::INPUT_PADDING, 0);
    PARSER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let parser = cell.get_or_insert_with(|| Parser {
            buffers: simd_json::Buffers::with_max_depth(json.len(), MAX_DEPTH),
            tape: simd_json::Tape::null(),
        });
        let mut tape = std::mem::replace(&mut parser.tape, simd_json::Tape::null()).reset();
        let parsed =
            simd_json::fill_tape_padded(scratch, json.len(), &mut parser.buffers, &mut tape);
        parser.tape = tape.reset();
        if json.len() > SCRATCH_KEEP {
            *cell = None;
        }
        parsed
    })
}

/// The error for `json`, which simd-json rejected. simd-json names few
/// error kinds precisely (a trailing value is an "InternalError"), so on
/// this cold path serde_json, where it agrees, says where and what.
fn describe(json: &[u8], simd: &simd_json::Error) -> Error {
    let Err(e) = serde_json::from_slice::<IgnoredAny>(json) else {
        return Error::InvalidJson {
            offset: simd.index(),
            // simd-json names its error kinds only through `Debug`.
            reason: format!("{:?}", simd.error()),
        };
    };
    let offset = if e.is_eof() {
        json.len()
    } else {
        // serde_json counts lines and byte columns from 1.
        let line_start = json
            .split_inclusive(|&b| b == b'\n')
            .take(e.line().saturating_sub(1))
            .map(<[u8]>::len)
            .sum::<usize>();
        line_start + e.column().saturating_sub(1)
    };
    let message = e.to_string();
    let reason = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(reason, _)| reason);
    Error::InvalidJson {
        offset,
        reason: reason.to_owned(),
    }
}

/// Deserializes `T` from cached JSON `text`.
fn from_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::Deserialize(e.into()))
}

/// A key to look up a `StrCache<K>` by in [`StrCache::get_json`] and
/// [`Pinned::get_json`]: any `Q` that `K` borrows as (`K: Borrow<Q>`), as
/// in `HashMap::get`, so `&str` for `CompactString` or `String` keys. The
/// key is an `impl Lookup<K>` argument, so `get_json` has one type
/// argument to name, the type to read: `get_json::<User>("user:7")`.
/// Sealed: implemented for every such `Q`, and by nothing else.
///
/// # Examples
/// ```
/// use strcache::{CompactString, Lookup, StrCache};
///
/// fn age(cache: &StrCache, key: &(impl Lookup<CompactString> + ?Sized)) -> Option<u8> {
///     cache.get_json::<u8>(key).ok().flatten()
/// }
///
/// let cache: StrCache = StrCache::new();
/// cache.insert_json("age:7", &36).unwrap();
/// assert_eq!(age(&cache, "age:7"), Some(36));
/// assert_eq!(age(&cache, &CompactString::from("age:7")), Some(36));
/// ```
pub trait Lookup<K>: sealed::Sealed<K> {}

impl<K, Q> Lookup<K> for Q
where
    K: Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
}

mod sealed {
    use super::{Borrow, BuildHasher, CachedStr, Hash, Pinned, StrCache};

    /// What [`Lookup`](super::Lookup) does, where no other crate can implement it.
    // `pub` in a private module: it bounds the public `Lookup`, so it may
    // not be private, and it cannot be named outside this crate.
    #[allow(unreachable_pub)]
    pub trait Sealed<K> {
        /// `cache.get_str(self)`.
        fn text<'c, S: BuildHasher>(&self, cache: &'c StrCache<K, S>) -> Option<CachedStr<'c>>
        where
            K: Hash + Eq;

        /// `pinned.get_str(self)`.
        fn pinned_text<'p, S: BuildHasher>(&self, pinned: &'p Pinned<'_, K, S>) -> Option<&'p str>
        where
            K: Hash + Eq;
    }

    impl<K, Q> Sealed<K> for Q
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        fn text<'c, S: BuildHasher>(&self, cache: &'c StrCache<K, S>) -> Option<CachedStr<'c>>
        where
            K: Hash + Eq,
        {
            cache.get_str(self)
        }

        fn pinned_text<'p, S: BuildHasher>(&self, pinned: &'p Pinned<'_, K, S>) -> Option<&'p str>
        where
            K: Hash + Eq,
        {
            pinned.get_str(self)
        }
    }
}

impl<K, S> StrCache<K, S>
where
    K: Hash + Eq + Send + 'static,
    S: BuildHasher,
{
    /// Serializes `value` to JSON and publishes it for `key`. The
    /// serialization runs before any lock, into a per-thread scratch
    /// buffer; the text is then copied once, into the entry (or, past
    /// 4 KiB, into an exact-size buffer of its own).
    ///
    /// The key is an [`IntoKey`]: a `K`, or for `CompactString` and `String`
    /// keys a `&str` too (and a `String` for `CompactString` keys), so
    /// `"user:7"` and `format!("user:{id}")` both do. A cache
    /// whose key type nothing fixes gets none from this key: the compiler
    /// asks for it (see [`IntoKey`]).
    ///
    /// # Errors
    /// [`Error::Serialize`], holding serde_json's error, when `value`
    /// cannot be serialized (a map with keys that are not strings, a
    /// `Serialize` impl that fails), or as [`insert`](Self::insert).
    /// Nothing changes.
    ///
    /// # Examples
    /// ```
    /// use std::collections::HashMap;
    /// use strcache::{Error, StrCache};
    ///
    /// let cache: StrCache = StrCache::builder().max_entries(10_000).build();
    /// cache.insert_json("ids", &[1, 2, 3]).unwrap();
    /// cache.insert_json(format!("ids:{}", 2), &[4]).unwrap();
    /// assert_eq!(cache.get_str("ids").unwrap(), "[1,2,3]");
    ///
    /// let bad: HashMap<Vec<u8>, u8> = HashMap::from([(vec![1], 1)]);
    /// let err = cache.insert_json("ids", &bad).unwrap_err();
    /// assert!(matches!(err, Error::Serialize(_)), "{err}");
    /// assert_eq!(cache.get_str("ids").unwrap(), "[1,2,3]");
    /// ```
    pub fn insert_json<T: Serialize + ?Sized>(
        &self,
        key: impl IntoKey<K>,
        value: &T,
    ) -> Result<InsertOutcome, Error> {
        self.write_json(key.into_key(), value)
    }

    /// As [`insert_json`](Self::insert_json), with the keys of every object
    /// sorted (by their UTF-8 bytes), so equal maps give equal text
    /// whatever their iteration order: usable as a cache key or an ETag.
    /// Numbers and strings are written as serde_json writes them.
    ///
    /// # Errors
    /// As [`insert_json`](Self::insert_json).
    ///
    /// # Examples
    /// ```
    /// use std::collections::HashMap;
    ///
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// let map: HashMap<&str, u8> = HashMap::from([("b", 2), ("a", 1), ("c", 3)]);
    /// cache.insert_json_canonical("m", &map).unwrap();
    /// assert_eq!(cache.get_str("m").unwrap(), r#"{"a":1,"b":2,"c":3}"#);
    /// ```
    pub fn insert_json_canonical<T: Serialize + ?Sized>(
        &self,
        key: impl IntoKey<K>,
        value: &T,
    ) -> Result<InsertOutcome, Error> {
        let value = serde_json::to_value(value).map_err(|e| Error::Serialize(e.into()))?;
        self.write_json(key.into_key(), &Sorted(&value))
    }

    /// Serializes `value` into this thread's scratch buffer and publishes
    /// the text for `key` from there (see [`NewValue::Borrowed`]).
    fn write_json<T: Serialize + ?Sized>(&self, key: K, value: &T) -> Result<InsertOutcome, Error> {
        with_scratch(|buf| {
            serde_json::to_writer(&mut *buf, value).map_err(|e| Error::Serialize(e.into()))?;
            // SAFETY: serde_json writes only UTF-8: its `to_string` relies
            // on the same guarantee.
            let text = unsafe { std::str::from_utf8_unchecked(buf) };
            self.write(key, NewValue::Borrowed(text), None)
        })
    }

    /// Publishes `json` for `key` after checking, with simd-json, that it
    /// is exactly one JSON value (whitespace around it allowed, nothing
    /// else). The buffer is kept, not copied.
    ///
    /// # Errors
    /// [`Error::InvalidUtf8`] or [`Error::InvalidJson`] with the offset
    /// and the reason, or as [`insert`](Self::insert). Nothing changes.
    ///
    /// # Examples
    /// ```
    /// use bytes::Bytes;
    /// use strcache::{Error, StrCache};
    ///
    /// let cache: StrCache = StrCache::new();
    /// cache.try_insert_json_bytes("k", Bytes::from_static(br#"{"ok":true}"#)).unwrap();
    /// let err = cache
    ///     .try_insert_json_bytes("k", Bytes::from_static(br#"{"ok":true} x"#))
    ///     .unwrap_err();
    /// assert!(matches!(err, Error::InvalidJson { .. }), "{err}");
    /// assert_eq!(cache.get_str("k").unwrap(), r#"{"ok":true}"#);
    /// ```
    pub fn try_insert_json_bytes(
        &self,
        key: impl IntoKey<K>,
        json: Bytes,
    ) -> Result<InsertOutcome, Error> {
        self.write(key.into_key(), NewValue::Kept(validate(json)?), None)
    }

    /// Deserializes the value for `key` into an owned `T`; `Ok(None)` when
    /// the key has no value. The one type argument is `T`:
    /// `get_json::<User>("user:7")`; the key is any [`Lookup`], as for
    /// [`get_str`](Self::get_str). To borrow `&str` fields from the cached
    /// text instead of copying them, use [`Pinned::get_json`].
    ///
    /// # Errors
    /// [`Error::Deserialize`], holding serde_json's error, when the text is
    /// not a `T`.
    ///
    /// # Examples
    /// ```
    /// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    /// struct User {
    ///     id: u32,
    ///     name: String,
    /// }
    ///
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// let ada = User { id: 7, name: "Ada".into() };
    /// cache.insert_json("user:7", &ada).unwrap();
    /// assert_eq!(cache.get_json::<User>("user:7").unwrap(), Some(ada));
    /// assert_eq!(cache.get_json::<User>("user:8").unwrap(), None);
    /// assert!(cache.get_json::<Vec<u8>>("user:7").is_err());
    /// ```
    pub fn get_json<T: DeserializeOwned>(
        &self,
        key: &(impl Lookup<K> + ?Sized),
    ) -> Result<Option<T>, Error> {
        key.text(self).map(|text| from_json(&text)).transpose()
    }
}

impl<K, S> Pinned<'_, K, S>
where
    K: Hash + Eq,
    S: BuildHasher,
{
    /// Deserializes the value for `key` into a `T` that may borrow from the
    /// cached text for as long as the pin lives: a `&str` field costs no
    /// copy (unless it has escapes to undo). `Ok(None)` when the key has no
    /// value. The one type argument is `T`, as for [`StrCache::get_json`].
    ///
    /// # Errors
    /// [`Error::Deserialize`], holding serde_json's error, when the text is
    /// not a `T`.
    ///
    /// # Examples
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct User<'a> {
    ///     name: &'a str,
    /// }
    ///
    /// let cache: strcache::StrCache = strcache::StrCache::new();
    /// cache.insert("u".into(), r#"{"name":"Ada","bio":"a long text"}"#).unwrap();
    /// let pin = cache.pin();
    /// let user = pin.get_json::<User>("u").unwrap().unwrap();
    /// assert_eq!(user.name, "Ada");
    /// assert!(pin.get_str("u").unwrap().contains(user.name));
    /// ```
    pub fn get_json<'p, T: Deserialize<'p>>(
        &'p self,
        key: &(impl Lookup<K> + ?Sized),
    ) -> Result<Option<T>, Error> {
        key.pinned_text(self).map(from_json).transpose()
    }
}
