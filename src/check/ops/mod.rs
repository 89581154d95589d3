//! [`ops`]: every public operation against a `HashMap` model.

use std::{
    collections::{HashMap, HashSet},
    mem,
    sync::{Arc, Mutex},
};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;

use crate::{Error, EvictionCause, InsertOutcome, LoadError, ManualClock, StrCache};

use super::Hashing;

mod input;

use input::{Key, Limit, Op, Value, FAILED, TICK};

/// The cache under test, with hashes that collide for some inputs.
type Cache = StrCache<String, Hashing>;

/// The model's maps and sets hash with ahash: SipHash, std's default, took
/// a quarter of a fuzz run's instructions, since the model is consulted
/// after every step.
type Map<K, V> = HashMap<K, V, ahash::RandomState>;
type Set<K> = HashSet<K, ahash::RandomState>;

/// A value in the model, with its deadline in ticks, if it has one.
#[derive(Debug, Clone)]
struct Stored {
    value: String,
    deadline: Option<u64>,
}

/// What the listener was told: key, value and cause.
type Report = (String, String, EvictionCause);

/// A cache and its model. Every entry the cache unlinks is reported to
/// its listener; the model follows those reports after checking that each
/// is legal: the entry was there with that value, and it was removed, or
/// replaced, or had expired, or its eviction was needed to get within the
/// bound.
struct Harness {
    /// Shared, so an iteration can run while the harness writes.
    cache: Arc<Cache>,
    clock: ManualClock,
    reports: Arc<Mutex<Vec<Report>>>,
    limit: Option<Limit>,
    /// The default time to live, in ticks.
    ttl: Option<u64>,
    /// The clock, in ticks.
    now: u64,
    model: Map<String, Stored>,
    /// Keys whose entries left the cache since this was last cleared.
    unlinked: Set<String>,
    /// Reports taken so far, by `EvictionCause` in declaration order.
    reported: [u64; 4],
}

impl Harness {
    /// Decodes a cache configuration from the front of the input.
    fn new(u: &mut Unstructured<'_>) -> arbitrary::Result<Self> {
        let shards = u.int_in_range(0..=3u32)?;
        let capacity = u.int_in_range(0..=64usize)?;
        let seed = u.arbitrary::<u64>()?;
        let limit = match u.int_in_range(0..=3u8)? {
            0 => None,
            // At least 1: `max_entries(0)` is refused when built.
            1 => Some(Limit::Entries(u.int_in_range(1..=24)?)),
            2 => Some(Limit::Bytes(u.int_in_range(0..=600)?)),
            _ => Some(Limit::Heavy(u.int_in_range(0..=600)?)),
        };
        let ttl = u
            .arbitrary::<Option<u8>>()?
            // At least one tick: a zero time to live is refused when built.
            .map(|ticks| u64::from(1 + ticks % 8));
        let clock = ManualClock::new();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&reports);
        let mut builder = StrCache::builder()
            .shards(1 << shards)
            .initial_capacity(capacity)
            .hasher(Hashing::new(seed))
            .clock(clock.clone())
            .on_evict(move |key: &String, value, cause| {
                let report = (key.clone(), value.to_string(), cause);
                sink.lock().expect("the report log").push(report);
            });
        builder = match limit {
            None => builder,
            Some(Limit::Entries(max)) => builder.max_entries(max),
            Some(limit @ (Limit::Bytes(_) | Limit::Heavy(_))) => builder
                .max_weight(limit.given(), move |key: &String, value| {
                    limit.weigh(key, value)
                }),
        };
        if let Some(ticks) = ttl {
            builder = builder.time_to_live(TICK * ticks as u32);
        }
        Ok(Harness {
            cache: Arc::new(builder.build()),
            clock,
            reports,
            limit,
            ttl,
            now: 0,
            model: Map::default(),
            unlinked: Set::default(),
            reported: [0; 4],
        })
    }

    fn expired(&self, stored: &Stored) -> bool {
        stored.deadline.is_some_and(|deadline| self.now >= deadline)
    }

    /// The value a reader must see for `key`.
    fn visible(&self, key: &str) -> Option<&str> {
        self.model
            .get(key)
            .filter(|stored| !self.expired(stored))
            .map(|stored| stored.value.as_str())
    }

    /// The entries a reader must see, sorted.
    fn visible_entries(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .model
            .iter()
            .filter(|(_, stored)| !self.expired(stored))
            .map(|(k, stored)| (k.clone(), stored.value.clone()))
            .collect();
        all.sort_unstable();
        all
    }

    fn weight(&self) -> u64 {
        self.limit.map_or(0, |limit| {
            self.model
                .iter()
                .map(|(k, stored)| limit.weigh(k, &stored.value))
                .sum()
        })
    }

    /// Takes the reports of the last operation.
    fn take_reports(&mut self) -> Vec<Report> {
        let reports = mem::take(&mut *self.reports.lock().expect("the report log"));
        self.count(&reports);
        reports
    }

    /// Counts `reports` by cause, for `check_stats`.
    fn count(&mut self, reports: &[Report]) {
        for &(.., cause) in reports {
            self.reported[cause as usize] += 1;
        }
    }

    /// Checks the cache's counters against the listener's reports and its
    /// length.
    fn check_stats(&self) {
        let s = self.cache.stats();
        let unlinked = [s.evictions, s.expirations, s.updates, s.removals];
        assert_eq!(unlinked, self.reported, "stats against reports");
        let left = s.removals + s.evictions + s.expirations;
        assert_eq!(s.entries, s.inserts - left, "entries against inserts");
    }

    /// The cause an entry leaving the cache now, not by eviction, has.
    fn cause(&self, stored: &Stored, otherwise: EvictionCause) -> EvictionCause {
        if self.expired(stored) {
            EvictionCause::Expired
        } else {
            otherwise
        }
    }

    /// Checks that `reports` are exactly the entries the model says an
    /// operation unlinks (in any order), and takes them out of the model.
    fn expect_unlinked(&mut self, mut reports: Vec<Report>, mut expected: Vec<Report>) {
        let by_key = |a: &Report, b: &Report| a.0.cmp(&b.0);
        reports.sort_by(by_key);
        expected.sort_by(by_key);
        assert_eq!(reports, expected, "reported removals");
        for (key, ..) in reports {
            self.model.remove(&key);
            self.unlinked.insert(key);
        }
    }

    /// Follows the reports of a write: each unlinked entry was in the
    /// model with the value reported, and either had expired or was
    /// evicted, for size, while the cache was over its bound, and the
    /// write leaves it within.
    fn follow_write(&mut self, reports: impl IntoIterator<Item = Report>) {
        let mut weight = self.weight();
        for (key, value, cause) in reports {
            let stored = self
                .model
                .get(&key)
                .unwrap_or_else(|| panic!("{cause:?} report of {key}, which had no entry"));
            assert_eq!(stored.value, value, "{cause:?} report of {key}");
            match cause {
                EvictionCause::Expired => assert!(self.expired(stored), "{key} had not expired"),
                EvictionCause::Size => {
                    let limit = self.limit.expect("a size eviction in an unbounded cache");
                    assert!(!self.expired(stored), "{key} expired, reported as Size");
                    assert!(
                        weight > limit.max(),
                        "{key} evicted at weight {weight}, within {limit:?}"
                    );
                    weight -= limit.weigh(&key, &value);
                }
                other => panic!("a write reported {key} as {other:?}"),
            }
            self.model.remove(&key);
            self.unlinked.insert(key);
        }
        if let Some(limit) = self.limit {
            assert!(
                self.weight() <= limit.max(),
                "weight {} after a write, over {limit:?}",
                self.weight()
            );
        }
    }

    /// Checks the outcome of writing `value` to `key` with `ttl` (ticks)
    /// and follows it in the model.
    fn write(
        &mut self,
        key: String,
        value: &str,
        ttl: Option<u64>,
        result: Result<InsertOutcome, Error>,
    ) {
        let reports = self.take_reports();
        let expected = self.written(key.clone(), value, ttl, reports);
        assert_eq!(result, expected, "insert({key})");
    }

    /// Follows a write of `value` to `key` with `ttl` (ticks) in the model,
    /// checking the `reports` it made, and returns the result it should
    /// have had.
    fn written(
        &mut self,
        key: String,
        value: &str,
        ttl: Option<u64>,
        reports: Vec<Report>,
    ) -> Result<InsertOutcome, Error> {
        if let Some(limit) = self.limit {
            let (weight, max) = (limit.weigh(&key, value), limit.max());
            if weight > max {
                assert_eq!(reports, [], "a refused write({key}) reported removals");
                return Err(Error::TooLarge { weight, max });
            }
        }
        let deadline = ttl.or(self.ttl).map(|ticks| self.now + ticks);
        let stored = Stored {
            value: value.to_owned(),
            deadline,
        };
        let old = self.model.insert(key.clone(), stored);
        let mut reports = reports.into_iter();
        let outcome = match old {
            Some(old) => {
                // Unlinked first, under the shard lock, before any eviction.
                let cause = self.cause(&old, EvictionCause::Replaced);
                assert_eq!(
                    reports.next(),
                    Some((key.clone(), old.value, cause)),
                    "the old value's report"
                );
                self.unlinked.insert(key);
                if cause == EvictionCause::Replaced {
                    InsertOutcome::Replaced
                } else {
                    InsertOutcome::Inserted
                }
            }
            None => InsertOutcome::Inserted,
        };
        self.follow_write(reports);
        Ok(outcome)
    }

    /// Checks the result of a load of `key` with a loader of `value`
    /// (`None` for one that fails), given whether the loader ran and the
    /// `reports` the load made, and follows it in the model.
    fn loaded(
        &mut self,
        key: String,
        value: Option<&str>,
        ran: bool,
        reports: Vec<Report>,
        result: Result<String, LoadError<&str>>,
    ) {
        if let Some(hit) = self.visible(&key) {
            assert!(!ran, "the loader of {key} ran on a hit");
            assert_eq!(result.as_deref(), Ok(hit), "load({key}) hit");
            assert_eq!(reports, [], "a hit reported removals");
            return;
        }
        assert!(ran, "the loader of {key} did not run on a miss");
        let expected = match value {
            None => {
                assert_eq!(reports, [], "a failed load reported removals");
                Err(LoadError::Load(FAILED.into()))
            }
            Some(value) => self
                .written(key.clone(), value, None, reports)
                .map(|_| value.to_owned())
                .map_err(LoadError::Cache),
        };
        assert_eq!(result, expected, "load({key})");
    }

    /// Loads `key` with `value`'s loader (a failing one for `None`),
    /// through `try_get_or_insert_with`, and says whether the loader ran.
    fn load(
        cache: &Cache,
        key: String,
        value: Option<Value>,
    ) -> (Result<String, LoadError<&'static str>>, bool) {
        let mut ran = false;
        let result = cache
            .try_get_or_insert_with(&key, || {
                ran = true;
                value.map(Value::into_text).ok_or(FAILED)
            })
            .map(|v| v.to_string());
        (result, ran)
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Insert(key, value) => {
                let text = value.text().to_owned();
                let result = value.insert_into(&self.cache, key.name(), None);
                self.write(key.name(), &text, None, result);
            }
            Op::InsertWithTtl(key, value, ticks) => {
                let ticks = u64::from(ticks % 8);
                let text = value.text().to_owned();
                let result = value.insert_into(&self.cache, key.name(), Some(TICK * ticks as u32));
                self.write(key.name(), &text, Some(ticks), result);
            }
            Op::TryInsertBytes(key, bytes) => {
                let result = self
                    .cache
                    .try_insert_bytes(key.name(), Bytes::from(bytes.clone()));
                match String::from_utf8(bytes) {
                    Ok(text) => self.write(key.name(), &text, None, result),
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
                    self.cache.get_str(name.as_str()).as_deref(),
                    self.visible(&name),
                    "get_str({name})"
                );
            }
            Op::GetBytes(key) => {
                let name = key.name();
                assert_eq!(
                    self.cache.get_bytes(name.as_str()).as_deref(),
                    self.visible(&name).map(str::as_bytes),
                    "get_bytes({name})"
                );
            }
            Op::ContainsKey(key) => {
                let name = key.name();
                assert_eq!(
                    self.cache.contains_key(name.as_str()),
                    self.visible(&name).is_some(),
                    "contains_key({name})"
                );
            }
            Op::Remove(key) => {
                let name = key.name();
                let removed = self.cache.remove(name.as_str());
                assert_eq!(removed.as_deref(), self.visible(&name), "remove({name})");
                let expected = self.model.get(&name).map(|stored| {
                    let cause = self.cause(stored, EvictionCause::Removed);
                    (name.clone(), stored.value.clone(), cause)
                });
                let reports = self.take_reports();
                self.expect_unlinked(reports, expected.into_iter().collect());
            }
            Op::Retain { modulus, residue } => {
                let modulus = usize::from(modulus.max(1));
                let keep = |k: &str, v: &str| {
                    (k.len() + v.len()) % modulus != usize::from(residue) % modulus
                };
                self.cache.retain(|k, v| {
                    assert_eq!(self.visible(k), Some(v), "retain offered {k} = {v:?}");
                    // Re-entering the cache from the predicate must work
                    // (DESIGN.md, invariant 5) and see the value offered.
                    assert_eq!(
                        self.cache.get_str(k).as_deref(),
                        Some(v),
                        "re-entrant get_str({k})"
                    );
                    keep(k, v)
                });
                let expected = self
                    .model
                    .iter()
                    .filter_map(|(k, stored)| {
                        let cause = if self.expired(stored) {
                            EvictionCause::Expired
                        } else if !keep(k, &stored.value) {
                            EvictionCause::Removed
                        } else {
                            return None;
                        };
                        Some((k.clone(), stored.value.clone(), cause))
                    })
                    .collect();
                let reports = self.take_reports();
                self.expect_unlinked(reports, expected);
            }
            Op::Clear => {
                self.cache.clear();
                let expected = self.all_unlinked(EvictionCause::Removed);
                let reports = self.take_reports();
                self.expect_unlinked(reports, expected);
            }
            Op::PurgeExpired => {
                self.cache.purge_expired();
                let expected = self
                    .all_unlinked(EvictionCause::Removed)
                    .into_iter()
                    .filter(|(.., cause)| *cause == EvictionCause::Expired)
                    .collect();
                let reports = self.take_reports();
                self.expect_unlinked(reports, expected);
            }
            Op::Load(key, value) => {
                let text = value.as_ref().map(|v| v.text().to_owned());
                let (result, ran) = Harness::load(&self.cache, key.name(), value);
                let reports = self.take_reports();
                self.loaded(key.name(), text.as_deref(), ran, reports, result);
            }
            Op::NestedLoad {
                outer,
                value,
                inner,
                inner_value,
            } => self.nested_load(outer, value, inner, inner_value),
            Op::Advance(ticks) => {
                let ticks = u64::from(ticks % 4);
                self.clock.advance(TICK * ticks as u32);
                self.now += ticks;
            }
            Op::Pinned(keys) => {
                let pinned = self.cache.pin();
                for key in keys {
                    let name = key.name();
                    assert_eq!(
                        pinned.get_str(name.as_str()),
                        self.visible(&name),
                        "Pinned::get_str({name})"
                    );
                    assert_eq!(
                        pinned.contains_key(name.as_str()),
                        self.visible(&name).is_some(),
                        "Pinned::contains_key({name})"
                    );
                }
            }
            Op::Iter => {
                let mut seen: Vec<(String, String)> =
                    self.cache.iter().map(|(k, v)| (k, v.to_string())).collect();
                seen.sort_unstable();
                assert_eq!(seen, self.visible_entries(), "iter");
            }
            Op::PinnedIter => {
                let pinned = self.cache.pin();
                let mut seen: Vec<(String, String)> = pinned
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_owned()))
                    .collect();
                seen.sort_unstable();
                assert_eq!(seen, self.visible_entries(), "Pinned::iter");
            }
            Op::IterWhileWriting { pinned, writes } => self.iter_while_writing(pinned, writes),
        }
    }

    /// A load of `outer` whose loader loads `inner` first. The reports of
    /// the inner load are taken inside the outer loader, so each load's
    /// reports are checked on their own.
    fn nested_load(&mut self, outer: Key, value: Value, inner: Key, inner_value: Value) {
        let (outer, inner) = (outer.name(), inner.name());
        let (text, inner_text) = (value.text().to_owned(), inner_value.text().to_owned());
        let cache = Arc::clone(&self.cache);
        let log = Arc::clone(&self.reports);
        let mut nested = None;
        let result = cache
            .get_or_insert_with(&outer, || {
                let (result, ran) = Harness::load(&cache, inner.clone(), Some(inner_value));
                let reports = mem::take(&mut *log.lock().expect("the report log"));
                nested = Some((result, ran, reports));
                value.into_text()
            })
            .map(|v| v.to_string())
            .map_err(LoadError::Cache);
        let ran = nested.is_some();
        if let Some((inner_result, inner_ran, reports)) = nested {
            self.count(&reports);
            if inner == outer {
                assert!(!inner_ran, "a recursive load ran its loader");
                assert_eq!(reports, [], "a recursive load reported removals");
                assert_eq!(inner_result, Err(LoadError::Cache(Error::Recursive)));
            } else {
                self.loaded(inner, Some(&inner_text), inner_ran, reports, inner_result);
            }
        }
        let reports = self.take_reports();
        self.loaded(outer, Some(&text), ran, reports, result);
    }

    /// Every entry of the model, with the cause it leaves the cache with
    /// when it is taken out now.
    fn all_unlinked(&self, otherwise: EvictionCause) -> Vec<Report> {
        self.model
            .iter()
            .map(|(k, stored)| {
                (
                    k.clone(),
                    stored.value.clone(),
                    self.cause(stored, otherwise),
                )
            })
            .collect()
    }

    /// Runs an iteration with writes between its steps and checks it is
    /// weakly consistent: each key yielded at most once, with a value it
    /// held at some point during the iteration, and every key present
    /// throughout (not written, not evicted) yielded.
    fn iter_while_writing(&mut self, pinned: bool, writes: Vec<(Key, Option<Value>)>) {
        let before = self.visible_entries();
        // Every value each key held while the iteration ran.
        let mut held: Map<String, Vec<String>> = before
            .iter()
            .map(|(k, v)| (k.clone(), vec![v.clone()]))
            .collect();
        self.unlinked.clear();
        let mut written = Set::default();
        let mut writes = writes.into_iter();
        let mut seen = Vec::new();
        let cache = Arc::clone(&self.cache);
        let mut write = |harness: &mut Harness| {
            let Some((key, value)) = writes.next() else {
                return;
            };
            let name = key.name();
            harness.apply(match value {
                Some(value) => Op::Insert(key, value),
                None => Op::Remove(key),
            });
            if let Some(value) = harness.visible(&name) {
                held.entry(name.clone()).or_default().push(value.to_owned());
            }
            written.insert(name);
        };
        if pinned {
            let pin = cache.pin();
            for (k, v) in pin.iter() {
                seen.push((k.clone(), v.to_owned()));
                write(self);
            }
        } else {
            for (k, v) in cache.iter() {
                seen.push((k, v.to_string()));
                write(self);
            }
        }
        let mut yielded = Set::default();
        for (k, v) in &seen {
            assert!(yielded.insert(k), "iteration yielded {k} twice: {seen:?}");
            assert!(
                held.get(k).is_some_and(|values| values.contains(v)),
                "iteration yielded {k} = {v:?}, a value it never held while the iteration ran"
            );
        }
        for (k, _) in &before {
            if !written.contains(k) && !self.unlinked.contains(k) {
                assert!(
                    yielded.contains(k),
                    "iteration missed {k}, present throughout"
                );
            }
        }
    }
}

/// Applies a decoded sequence of operations to a `StrCache` and to a
/// `HashMap` model, with a bound, a default time to live and a clock
/// drawn from the input, comparing every result and every listener
/// report, and validating the cache's invariants after each step.
///
/// # Panics
/// When the cache and the model disagree, an eviction was not needed, or
/// an invariant is broken.
pub fn ops(data: &[u8]) -> usize {
    let mut u = Unstructured::new(data);
    let Ok(mut harness) = Harness::new(&mut u) else {
        return 0;
    };
    let mut applied = 0;
    while !u.is_empty() {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        harness.apply(op);
        applied += 1;
        assert_eq!(
            harness.take_reports(),
            [],
            "reports no operation accounted for"
        );
        assert_eq!(harness.cache.len(), harness.model.len(), "len");
        assert_eq!(
            harness.cache.is_empty(),
            harness.model.is_empty(),
            "is_empty"
        );
        harness.cache.validate();
        harness.check_stats();
    }
    for (key, value) in harness.visible_entries() {
        assert_eq!(
            harness.cache.get_str(&key).as_deref(),
            Some(value.as_str()),
            "{key}"
        );
    }
    applied
}
