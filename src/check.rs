//! Checking functions shared by the fuzz targets in `fuzz/` and by
//! `cargo test`, which replays the committed corpus through them.
//!
//! Each function decodes raw fuzzer input with `arbitrary`, drives a cache
//! with it, and panics when the cache disagrees with a model or breaks an
//! invariant ([`StrCache::validate`]): a differential or invariant check,
//! never a bare "does not crash". Each returns the number of operations it
//! applied, so a replay can tell that it exercised something. Compiled only
//! for tests and under `cfg(fuzzing)`.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Barrier,
    },
    thread,
};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;

use crate::{Error, InsertOutcome, StrCache, Utf8Bytes};

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
    fn insert_into(self, cache: &StrCache, key: String) -> InsertOutcome {
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

/// The default hasher with keys drawn from the input rather than at random,
/// so an input places its keys in the same slots on every run.
fn seeded(seed: u64) -> ahash::RandomState {
    ahash::RandomState::with_seeds(seed, !seed, seed.rotate_left(32), 0x5eed)
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
            assert_eq!(value.insert_into(cache, key.name()), expected, "insert");
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

/// Keys in [`threads`]; key `k` is written only by thread `k % threads`.
const THREAD_KEYS: u64 = 16;
/// The most operations one thread runs per round.
const THREAD_OPS: usize = 64;

/// One step of a thread in [`threads`].
#[derive(Debug, Clone, Arbitrary)]
enum ThreadOp {
    /// Writes the next version of one of the thread's own keys, as the
    /// value kind `kind` picks.
    Write {
        key: u8,
        kind: u8,
    },
    /// Removes one of the thread's own keys.
    Remove {
        key: u8,
    },
    /// Reads any key with `get_str`, `get_bytes` or `contains_key`.
    Read {
        key: u8,
        how: u8,
    },
    /// Reads several keys under one pin.
    PinnedBatch(Vec<u8>),
    Iter,
    PinnedIter,
    /// Removes the entries whose version is a multiple of `modulus`.
    Retain {
        modulus: u8,
    },
    Clear,
}

impl ThreadOp {
    /// Whether the operation may remove keys other threads own.
    fn is_destructive(&self) -> bool {
        matches!(self, ThreadOp::Retain { .. } | ThreadOp::Clear)
    }
}

/// The value of version `version` of `key`: its length depends on the
/// version, so a torn or mixed read cannot pass for a whole value.
fn versioned(key: u64, version: u64) -> String {
    format!("{key}:{version}:{}.", "#".repeat((version % 13) as usize))
}

/// Runs 2 or 3 threads of decoded operations on one cache. Each key is
/// written by one thread only, with rising versions encoded in its values.
/// Every value any thread reads must be one its owner wrote for that key,
/// whole; per key and thread, versions never go back; an owner reads its
/// own latest write; after the threads join, the cache holds each key's
/// last write and passes [`StrCache::validate`].
///
/// # Panics
/// When any of those properties fails.
pub fn threads(data: &[u8]) -> usize {
    let mut u = Unstructured::new(data);
    let (Ok(three_threads), Ok(two_shards), Ok(rounds), Ok(seed)) = (
        u.arbitrary::<bool>(),
        u.arbitrary::<bool>(),
        u.int_in_range(1..=4usize),
        u.arbitrary::<u64>(),
    ) else {
        return 0;
    };
    let threads = if three_threads { 3 } else { 2 };
    let mut scripts = vec![Vec::new(); threads];
    // Each operation names the thread that runs it.
    while !u.is_empty() {
        let Ok((thread, op)) = <(u8, ThreadOp)>::arbitrary(&mut u) else {
            break;
        };
        let script = &mut scripts[usize::from(thread) % threads];
        if script.len() < THREAD_OPS {
            script.push(op);
        }
    }
    let destructive: Vec<bool> = scripts
        .iter()
        .map(|s| s.iter().any(ThreadOp::is_destructive))
        .collect();
    let cache: StrCache<u64> = StrCache::builder()
        .shards(if two_shards { 2 } else { 1 })
        .hasher(seeded(seed))
        .build();
    let announced: Vec<AtomicU64> = (0..THREAD_KEYS).map(|_| AtomicU64::new(0)).collect();
    let start = Barrier::new(threads);
    let finals: Vec<Vec<(u64, Option<u64>)>> = thread::scope(|s| {
        let workers: Vec<_> = scripts
            .iter()
            .enumerate()
            .map(|(id, script)| {
                let mut worker = Worker {
                    id: id as u64,
                    threads: threads as u64,
                    cache: &cache,
                    announced: &announced,
                    others_destroy: destructive.iter().enumerate().any(|(t, &d)| d && t != id),
                    current: [None; THREAD_KEYS as usize],
                    seen: [0; THREAD_KEYS as usize],
                };
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    for _ in 0..rounds {
                        for op in script {
                            worker.run(op);
                        }
                    }
                    worker
                        .own_keys()
                        .map(|k| (k, worker.current[k as usize]))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    cache.validate();
    let mut present = 0;
    for (key, last) in finals.into_iter().flatten() {
        let got = cache.get_str(&key).map(|v| v.to_string());
        match last {
            None => assert_eq!(got, None, "key {key} was last removed by its owner"),
            Some(version) if got.is_none() => {
                let owner = (key % threads as u64) as usize;
                assert!(
                    destructive
                        .iter()
                        .enumerate()
                        .any(|(t, &d)| d && t != owner),
                    "key {key}: version {version} vanished"
                );
            }
            Some(version) => {
                assert_eq!(
                    got,
                    Some(versioned(key, version)),
                    "key {key}: not its last write"
                );
                present += 1;
            }
        }
    }
    assert_eq!(cache.len(), present, "len after join");
    assert_eq!(cache.iter().count(), present, "iter after join");
    scripts.iter().map(Vec::len).sum::<usize>() * rounds
}

/// One thread of [`threads`] and what it knows.
struct Worker<'a> {
    id: u64,
    threads: u64,
    cache: &'a StrCache<u64>,
    /// Per key, the highest version its owner has started to write.
    announced: &'a [AtomicU64],
    /// Whether another thread may remove this thread's keys.
    others_destroy: bool,
    /// Per own key, the version this thread last wrote, `None` once it
    /// removed the key or saw it removed by its own `retain` or `clear`.
    current: [Option<u64>; THREAD_KEYS as usize],
    /// Per key, the highest version this thread has read.
    seen: [u64; THREAD_KEYS as usize],
}

impl Worker<'_> {
    fn own_keys(&self) -> impl Iterator<Item = u64> {
        (self.id..THREAD_KEYS).step_by(self.threads as usize)
    }

    fn owns(&self, key: u64) -> bool {
        key % self.threads == self.id
    }

    /// The `pick`-th of this thread's keys.
    fn own_key(&self, pick: u8) -> u64 {
        let owned = (THREAD_KEYS - self.id).div_ceil(self.threads);
        self.id + self.threads * (u64::from(pick) % owned)
    }

    fn run(&mut self, op: &ThreadOp) {
        let cache = self.cache;
        match *op {
            ThreadOp::Write { key, kind } => self.write(self.own_key(key), kind),
            ThreadOp::Remove { key } => {
                let key = self.own_key(key);
                let removed = cache.remove(&key);
                self.saw(key, removed.as_deref());
                self.current[key as usize] = None;
            }
            ThreadOp::Read { key, how } => {
                let key = u64::from(key) % THREAD_KEYS;
                match how % 3 {
                    0 => {
                        let text = cache.get_str(&key);
                        self.saw(key, text.as_deref());
                    }
                    1 => {
                        let bytes = cache.get_bytes(&key);
                        let text = bytes
                            .as_deref()
                            .map(|b| std::str::from_utf8(b).expect("get_bytes returned UTF-8"));
                        self.saw(key, text);
                    }
                    _ => {
                        let present = cache.contains_key(&key);
                        if self.owns(key) && !self.others_destroy {
                            assert_eq!(
                                present,
                                self.current[key as usize].is_some(),
                                "contains_key({key}) by its owner"
                            );
                        }
                    }
                }
            }
            ThreadOp::PinnedBatch(ref keys) => {
                let pinned = cache.pin();
                for &key in keys.iter().take(THREAD_KEYS as usize) {
                    let key = u64::from(key) % THREAD_KEYS;
                    self.saw(key, pinned.get_str(&key));
                }
            }
            ThreadOp::Iter => {
                let all: Vec<(u64, Utf8Bytes)> = cache.iter().collect();
                self.saw_all(all.iter().map(|(k, v)| (*k, v.as_str())));
            }
            ThreadOp::PinnedIter => {
                let pinned = cache.pin();
                self.saw_all(pinned.iter().map(|(k, v)| (*k, v)));
            }
            ThreadOp::Retain { modulus } => {
                let modulus = u64::from(modulus.max(1));
                let mut dropped = Vec::new();
                cache.retain(|&key, text| {
                    let version = self.saw(key, Some(text)).expect("a value was offered");
                    let keep = !version.is_multiple_of(modulus);
                    if !keep {
                        dropped.push(key);
                    }
                    keep
                });
                for key in dropped {
                    if self.owns(key) {
                        self.current[key as usize] = None;
                    }
                }
            }
            ThreadOp::Clear => {
                cache.clear();
                self.current = [None; THREAD_KEYS as usize];
            }
        }
    }

    /// Writes the next version of own `key` as value kind `kind`.
    fn write(&mut self, key: u64, kind: u8) {
        let version = self.announced[key as usize].load(Ordering::Relaxed) + 1;
        // Relaxed: the cache's Release publication of the value orders this
        // store before any read of it, so a reader that sees `version` finds
        // it announced; a missing edge in the cache would fail `saw`.
        self.announced[key as usize].store(version, Ordering::Relaxed);
        let text = versioned(key, version);
        let outcome = match kind % 4 {
            0 => self.cache.insert(key, text),
            1 => self.cache.insert(key, text.into_boxed_str()),
            2 => self.cache.insert(key, Arc::<str>::from(text)),
            _ => self
                .cache
                .try_insert_bytes(key, Bytes::from(text))
                .expect("a String is UTF-8"),
        };
        let had = self.current[key as usize].is_some();
        match outcome {
            InsertOutcome::Replaced => {
                assert!(had, "key {key}: replaced a value its owner had removed")
            }
            InsertOutcome::Inserted => assert!(
                !had || self.others_destroy,
                "key {key}: its owner's value vanished"
            ),
        }
        self.current[key as usize] = Some(version);
        self.seen[key as usize] = version;
    }

    /// Checks one read of `key` and returns the version read.
    fn saw(&mut self, key: u64, text: Option<&str>) -> Option<u64> {
        assert!(key < THREAD_KEYS, "a key nobody wrote: {key}");
        let Some(text) = text else {
            if self.owns(key) && !self.others_destroy {
                assert_eq!(
                    self.current[key as usize], None,
                    "key {key}: its owner's value vanished"
                );
            }
            return None;
        };
        let version = text
            .split(':')
            .nth(1)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("key {key}: torn or foreign value {text:?}"));
        assert_eq!(
            text,
            versioned(key, version),
            "key {key}: torn or foreign value"
        );
        // Relaxed: see `write`.
        let announced = self.announced[key as usize].load(Ordering::Relaxed);
        assert!(
            (1..=announced).contains(&version),
            "key {key}: version {version} was never written"
        );
        let seen = &mut self.seen[key as usize];
        assert!(
            version >= *seen,
            "key {key}: saw version {version} after {seen}"
        );
        *seen = version;
        if self.owns(key) {
            assert_eq!(
                Some(version),
                self.current[key as usize],
                "key {key}: its owner read a stale value"
            );
        }
        Some(version)
    }

    /// Checks one whole iteration: each key at most once, each value valid,
    /// and every own key that must be present among them.
    fn saw_all<'t>(&mut self, entries: impl Iterator<Item = (u64, &'t str)>) {
        let mut keys = HashSet::new();
        for (key, text) in entries {
            assert!(keys.insert(key), "iteration yielded key {key} twice");
            self.saw(key, Some(text));
        }
        if !self.others_destroy {
            for key in self.own_keys() {
                assert_eq!(
                    keys.contains(&key),
                    self.current[key as usize].is_some(),
                    "iteration and own key {key}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{fs, path::Path};

    use super::*;

    /// A checking function: input in, operations applied out.
    type Check = fn(&[u8]) -> usize;

    /// Each fuzz target's name and checking function.
    const TARGETS: [(&str, Check); 3] = [
        ("ops", ops),
        ("utf8_ingress", utf8_ingress),
        ("threads", threads),
    ];

    #[test]
    #[cfg_attr(miri, ignore = "reads files, which Miri's isolation forbids")]
    fn fuzz_corpus_replays() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (target, check) in TARGETS {
            let (mut files, mut applied) = (0, 0);
            for file in fs::read_dir(corpus.join(target)).expect("the target's corpus directory") {
                let path = file.expect("a corpus entry").path();
                applied += check(&fs::read(&path).expect("a corpus file"));
                files += 1;
            }
            assert!(files > 0, "no corpus files for {target}");
            assert!(applied > 0, "the corpus of {target} applied no operation");
        }
    }

    /// Deterministic pseudo-random bytes (xorshift64), so the checks also
    /// run where files cannot be read, as under Miri.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    /// Runs `check` over generated inputs, asserting each applied something.
    fn generated(check: Check) {
        let (inputs, len) = if cfg!(miri) { (2, 96) } else { (64, 2048) };
        for seed in 1..=inputs {
            assert!(check(&noise(seed, len)) > 0, "seed {seed} applied nothing");
        }
    }

    #[test]
    fn ops_on_generated_input() {
        generated(ops);
    }

    #[test]
    fn utf8_ingress_on_generated_input() {
        generated(utf8_ingress);
    }

    /// Long generated inputs often iterate while another thread removes
    /// and re-inserts a key.
    #[test]
    fn threads_on_generated_input() {
        generated(threads);
    }

    /// The `ops` input that found the bug reduced to
    /// `iteration_yields_a_reinserted_key_at_most_once` in
    /// `tests/regressions.rs`.
    #[test]
    fn ops_reinsert_during_iteration() {
        const INPUT: [u8; 48] = [
            0x00, 0x00, 0x00, 0x43, 0x43, 0x43, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd7, 0x1e,
            0x24, 0x1a, 0x1a, 0x00, 0x00, 0x00, 0x31, 0x3a, 0x41, 0x00, 0x1a, 0x00, 0x00, 0x00,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x17, 0xff, 0xff, 0xff, 0x28, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert!(ops(&INPUT) > 0);
    }

    #[test]
    fn empty_input_applies_nothing() {
        for (target, check) in TARGETS {
            assert_eq!(check(&[]), 0, "{target}");
        }
    }
}
