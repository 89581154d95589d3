//! [`threads`]: 2 to 3 threads driven by the input on one cache, each
//! checking every value it reads.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Barrier,
    },
    thread,
};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;

use crate::{InsertOutcome, StrCache, Utf8Bytes};

use super::seeded;

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
/// last write and passes [`StrCache::validate`]. A third of the inputs
/// bound the cache to fewer entries than keys, so keys may also vanish by
/// eviction, and `validate` checks the policy's weight after the join.
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
    // A third of the inputs bound the cache below its key count, so every
    // thread's writes may evict any key: destructive, like `clear`.
    let bound = (seed % 3 == 0).then(|| 4 + (seed >> 8) % 8);
    let destructive: Vec<bool> = scripts
        .iter()
        .map(|s| bound.is_some() || s.iter().any(ThreadOp::is_destructive))
        .collect();
    let builder = StrCache::builder()
        .shards(if two_shards { 2 } else { 1 })
        .hasher(seeded(seed));
    let cache: StrCache<u64> = match bound {
        Some(max) => builder.max_entries(max).build(),
        None => builder.build(),
    };
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
            _ => self.cache.try_insert_bytes(key, Bytes::from(text)),
        }
        .expect("every value weighs 1, within any bound used here");
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
