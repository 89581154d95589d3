//! [`ops`]: every public operation against a `HashMap` model, and
//! [`utf8_ingress`]: arbitrary bytes into `try_insert_bytes`.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;

use crate::{Error, InsertOutcome, StrCache, Utf8Bytes};

use super::seeded;

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

/// A key of [`ops`].
#[derive(Debug, Arbitrary)]
struct Key(u8);

impl Key {
    fn name(&self) -> String {
        format!("key-{}", self.0 % OPS_KEYS)
    }
}

/// A value of each kind `insert` accepts.
#[derive(Debug, Arbitrary)]
enum Value {
    Static(u8),
    Owned(String),
    Boxed(String),
    Shared(String),
    Checked(String),
}

impl Value {
    fn text(&self) -> &str {
        match self {
            Value::Static(i) => STATIC_TEXTS[usize::from(*i) % STATIC_TEXTS.len()],
            Value::Owned(s) | Value::Boxed(s) | Value::Shared(s) | Value::Checked(s) => s,
        }
    }

    /// Inserts the value as its own type, through `insert`'s `Into` bound.
    fn insert_into(self, cache: &StrCache, key: String) -> Result<InsertOutcome, Error> {
        match self {
            Value::Static(i) => {
                cache.insert(key, STATIC_TEXTS[usize::from(i) % STATIC_TEXTS.len()])
            }
            Value::Owned(s) => cache.insert(key, s),
            Value::Boxed(s) => cache.insert(key, s.into_boxed_str()),
            Value::Shared(s) => cache.insert(key, Arc::<str>::from(s)),
            Value::Checked(s) => {
                let text = Utf8Bytes::try_from(Bytes::from(s)).expect("a String is UTF-8");
                cache.insert(key, text)
            }
        }
    }
}

/// One step of [`ops`]: every public read and write.
#[derive(Debug, Arbitrary)]
enum Op {
    Insert(Key, Value),
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

/// The outcome a `HashMap` model predicts for an insert.
fn outcome(previous: Option<String>) -> InsertOutcome {
    match previous {
        Some(_) => InsertOutcome::Replaced,
        None => InsertOutcome::Inserted,
    }
}

/// Applies a decoded sequence of operations to a `StrCache` and to a
/// `HashMap` model, comparing every result and validating the cache's
/// invariants after each step.
///
/// # Panics
/// When the cache and the model disagree, or an invariant is broken.
pub fn ops(data: &[u8]) -> usize {
    let mut u = Unstructured::new(data);
    let (Ok(shards), Ok(capacity), Ok(seed)) = (
        u.int_in_range(0..=3u32),
        u.int_in_range(0..=64usize),
        u.arbitrary::<u64>(),
    ) else {
        return 0;
    };
    let cache: StrCache = StrCache::builder()
        .shards(1 << shards)
        .initial_capacity(capacity)
        .hasher(seeded(seed))
        .build();
    let mut model: HashMap<String, String> = HashMap::new();
    let mut applied = 0;
    while !u.is_empty() {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        apply(&cache, &mut model, op);
        applied += 1;
        assert_eq!(cache.len(), model.len(), "len");
        assert_eq!(cache.is_empty(), model.is_empty(), "is_empty");
        cache.validate();
    }
    for (key, value) in &model {
        assert_eq!(cache.get_str(key).as_deref(), Some(value.as_str()), "{key}");
    }
    applied
}

fn apply(cache: &StrCache, model: &mut HashMap<String, String>, op: Op) {
    match op {
        Op::Insert(key, value) => {
            let expected = outcome(model.insert(key.name(), value.text().to_owned()));
            assert_eq!(value.insert_into(cache, key.name()), Ok(expected), "insert");
        }
        Op::TryInsertBytes(key, bytes) => {
            let result = cache.try_insert_bytes(key.name(), Bytes::from(bytes.clone()));
            match String::from_utf8(bytes) {
                Ok(text) => {
                    assert_eq!(result, Ok(outcome(model.insert(key.name(), text))));
                }
                Err(e) => assert_eq!(
                    result,
                    Err(Error::InvalidUtf8 {
                        valid_up_to: e.utf8_error().valid_up_to(),
                        error_len: e.utf8_error().error_len(),
                    })
                ),
            }
        }
        Op::GetStr(key) => {
            let name = key.name();
            assert_eq!(
                cache.get_str(name.as_str()).as_deref(),
                model.get(&name).map(String::as_str),
                "get_str({name})"
            );
        }
        Op::GetBytes(key) => {
            let name = key.name();
            assert_eq!(
                cache.get_bytes(name.as_str()).as_deref(),
                model.get(&name).map(String::as_bytes),
                "get_bytes({name})"
            );
        }
        Op::ContainsKey(key) => {
            let name = key.name();
            assert_eq!(
                cache.contains_key(name.as_str()),
                model.contains_key(&name),
                "contains_key({name})"
            );
        }
        Op::Remove(key) => {
            let name = key.name();
            assert_eq!(
                cache.remove(name.as_str()).as_deref(),
                model.remove(&name).as_deref(),
                "remove({name})"
            );
        }
        Op::Retain { modulus, residue } => {
            let modulus = usize::from(modulus.max(1));
            let keep =
                |k: &str, v: &str| (k.len() + v.len()) % modulus != usize::from(residue) % modulus;
            cache.retain(|k, v| {
                // Re-entering the cache from the predicate must work
                // (DESIGN.md, invariant 5) and see the value offered.
                assert_eq!(
                    cache.get_str(k).as_deref(),
                    Some(v),
                    "re-entrant get_str({k})"
                );
                keep(k, v)
            });
            model.retain(|k, v| keep(k, v));
        }
        Op::Clear => {
            cache.clear();
            model.clear();
        }
        Op::Pinned(keys) => {
            let pinned = cache.pin();
            for key in keys {
                let name = key.name();
                assert_eq!(
                    pinned.get_str(name.as_str()),
                    model.get(&name).map(String::as_str),
                    "Pinned::get_str({name})"
                );
                assert_eq!(
                    pinned.contains_key(name.as_str()),
                    model.contains_key(&name),
                    "Pinned::contains_key({name})"
                );
            }
        }
        Op::Iter => {
            let mut seen: Vec<(String, String)> =
                cache.iter().map(|(k, v)| (k, v.to_string())).collect();
            seen.sort_unstable();
            assert_eq!(seen, sorted(model), "iter");
        }
        Op::PinnedIter => {
            let pinned = cache.pin();
            let mut seen: Vec<(String, String)> = pinned
                .iter()
                .map(|(k, v)| (k.clone(), v.to_owned()))
                .collect();
            seen.sort_unstable();
            assert_eq!(seen, sorted(model), "Pinned::iter");
        }
        Op::IterWhileWriting { pinned, writes } => {
            iter_while_writing(cache, model, pinned, writes);
        }
    }
}

/// Runs an iteration with writes between its steps and checks it is weakly
/// consistent: each key yielded at most once, with a value it held at some
/// point during the iteration, and every key present throughout yielded.
fn iter_while_writing(
    cache: &StrCache,
    model: &mut HashMap<String, String>,
    pinned: bool,
    writes: Vec<(Key, Option<Value>)>,
) {
    let before = model.clone();
    // Every value each key held while the iteration ran.
    let mut held: HashMap<String, Vec<String>> = model
        .iter()
        .map(|(k, v)| (k.clone(), vec![v.clone()]))
        .collect();
    let mut written = HashSet::new();
    let mut writes = writes.into_iter();
    let mut write = |model: &mut HashMap<String, String>| {
        let Some((key, value)) = writes.next() else {
            return;
        };
        let name = key.name();
        apply(
            cache,
            model,
            match value {
                Some(value) => Op::Insert(key, value),
                None => Op::Remove(key),
            },
        );
        if let Some(value) = model.get(&name) {
            held.entry(name.clone()).or_default().push(value.clone());
        }
        written.insert(name);
    };
    let mut seen = Vec::new();
    if pinned {
        let pin = cache.pin();
        for (k, v) in pin.iter() {
            seen.push((k.clone(), v.to_owned()));
            write(model);
        }
    } else {
        for (k, v) in cache.iter() {
            seen.push((k, v.to_string()));
            write(model);
        }
    }
    let mut yielded = HashSet::new();
    for (k, v) in &seen {
        assert!(yielded.insert(k), "iteration yielded {k} twice: {seen:?}");
        assert!(
            held.get(k).is_some_and(|values| values.contains(v)),
            "iteration yielded {k} = {v:?}, a value it never held while the iteration ran"
        );
    }
    for k in before.keys().filter(|k| !written.contains(*k)) {
        assert!(
            yielded.contains(k),
            "iteration missed {k}, present throughout"
        );
    }
}

fn sorted(model: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    all.sort_unstable();
    all
}

/// Feeds arbitrary byte strings to `try_insert_bytes`: each is accepted
/// exactly when `std::str::from_utf8` accepts it, kept without a copy when
/// accepted, and refused with std's offsets otherwise, leaving the previous
/// value in place and readable.
///
/// # Panics
/// When the cache's verdict, error or stored value differs from std's, or
/// a refused write changed anything.
pub fn utf8_ingress(data: &[u8]) -> usize {
    let mut u = Unstructured::new(data);
    // Few keys, so most writes land on a key that already has a value.
    let cache: StrCache<u8> = StrCache::builder().shards(1).build();
    let mut applied = 0;
    while !u.is_empty() {
        let (Ok(key), Ok(bytes), Ok(skip)) = (
            u.int_in_range(0..=3u8),
            <&[u8]>::arbitrary(&mut u),
            u.arbitrary::<u8>(),
        ) else {
            break;
        };
        // A slice that starts inside the buffer: offsets must be relative
        // to the value, not to the allocation.
        let value = Bytes::copy_from_slice(bytes).slice(usize::from(skip) % (bytes.len() + 1)..);
        let before = cache.get_bytes(&key);
        let len_before = cache.len();
        let result = cache.try_insert_bytes(key, value.clone());
        match std::str::from_utf8(&value) {
            Ok(text) => {
                let expected = if before.is_some() {
                    InsertOutcome::Replaced
                } else {
                    InsertOutcome::Inserted
                };
                assert_eq!(result, Ok(expected));
                let stored = cache.get_str(&key).expect("an accepted value is readable");
                assert_eq!(&*stored, text);
                assert_eq!(
                    stored.as_ptr(),
                    value.as_ptr(),
                    "the buffer is kept, not copied"
                );
            }
            Err(e) => {
                let expected = Error::InvalidUtf8 {
                    valid_up_to: e.valid_up_to(),
                    error_len: e.error_len(),
                };
                assert_eq!(result, Err(expected.clone()));
                assert_eq!(Utf8Bytes::try_from(value).unwrap_err(), expected);
                assert!(
                    expected
                        .to_string()
                        .contains(&format!("byte offset {}", e.valid_up_to())),
                    "the message names the offset: {expected}"
                );
                let after = cache.get_bytes(&key);
                assert_eq!(after, before, "a refused write changed the value");
                if let (Some(after), Some(before)) = (&after, &before) {
                    assert_eq!(after.as_ptr(), before.as_ptr(), "the same buffer");
                    assert!(std::str::from_utf8(after).is_ok());
                    assert_eq!(
                        cache.get_str(&key).as_deref().map(str::as_bytes),
                        Some(&after[..])
                    );
                }
                assert_eq!(cache.len(), len_before, "a refused write changed len");
            }
        }
        applied += 1;
        cache.validate();
    }
    applied
}
