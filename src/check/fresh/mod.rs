//! [`fresh`]: a [`LoadingCache`] against a model of what it serves, when
//! it reloads, and what its loader is asked.
//!
//! The model holds, for each key, the value the cache has, when it was
//! written and when it expires, and predicts each read from them and the
//! clock: the value, whether it is stale, its age, and whether the read is
//! a miss (the loader runs on the caller's thread, and its error is
//! returned and not cached) or finds the value due (one reload runs on the
//! pipeline). After each read, `await_refreshes` lets that reload finish,
//! and the model checks what it did: the value it published, with the
//! loader's time to live ([`Expiring`](crate::Expiring)) capped by the
//! cache's. After every step the model checks each key's loader calls,
//! `stats().refreshes` and `stats().loads`, and
//! [`StrCache::validate`](crate::StrCache::validate). Writes and plain
//! reads through `Deref` are checked against the same entries: plain reads
//! treat a stale value as expired, writes treat it as present until its
//! stale window ends, and `retain` is offered exactly the entries still
//! servable.
//!
//! A reload is queued only by a read, and waited for before the next step,
//! so at most one is queued at a time: with a queue of one slot per key,
//! none is dropped, and the model expects `refreshes.dropped` to stay 0.
//! Writes that race a reload in flight are left to `tests/fresh.rs`, which
//! holds the loader to make those interleavings.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use arbitrary::{Arbitrary, Unstructured};

use crate::{
    InsertOutcome, LoadError, LoadStats, LoadingCache, ManualClock, Pipeline, RefreshStats,
    StrCache,
};

use super::Hashing;

mod input;

use input::{index, name, ticks, Backend, Op, Reply, KEYS};

/// The cache under test, with hashes that collide for some inputs.
type Cache = LoadingCache<String, String, Hashing>;

/// A value in the model, with its times in ticks.
#[derive(Debug, Clone)]
struct Stored {
    value: String,
    written: u64,
    deadline: Option<u64>,
}

/// What a `get` returned: the value, whether it was stale, and its age.
type Outcome = Result<(String, bool, Duration), LoadError<String>>;

/// A cache and its model.
struct Harness {
    cache: Cache,
    clock: ManualClock,
    /// The state of the cache's loader.
    backend: Arc<Mutex<Backend>>,
    /// The model's copy of `backend`: the calls it predicts.
    expected: Backend,
    /// The clock, in ticks.
    now: u64,
    /// The cache's time to live, in ticks.
    ttl: Option<u64>,
    refresh_after: Option<u64>,
    /// `serve_stale_for` in ticks, 0 without.
    grace: u64,
    entries: [Option<Stored>; KEYS],
    refreshes: RefreshStats,
    loads: LoadStats,
}

impl Harness {
    /// Decodes a valid configuration from the front of the input: a time
    /// to live or none, `refresh_after` shorter than it or none, a stale
    /// window or none, and a pipeline of one or two workers if either
    /// window is set.
    fn new(u: &mut Unstructured<'_>) -> arbitrary::Result<Self> {
        let seed = u.arbitrary::<u64>()?;
        let shards = u.int_in_range(0..=2u32)?;
        let ttl = u.arbitrary::<Option<u8>>()?.map(|n| 2 + u64::from(n % 12));
        let refresh_after = if u.arbitrary()? {
            Some(u.int_in_range(1..=ttl.map_or(12, |ttl| ttl - 1))?)
        } else {
            None
        };
        let grace = u
            .arbitrary::<Option<u8>>()?
            .map_or(0, |n| 1 + u64::from(n % 8));
        let threads = u.int_in_range(1..=2)?;
        let clock = ManualClock::new();
        let mut builder = StrCache::<String>::builder()
            .shards(1 << shards)
            .hasher(Hashing::new(seed))
            .clock(clock.clone());
        if let Some(n) = ttl {
            builder = builder.time_to_live(ticks(n));
        }
        if let Some(n) = refresh_after {
            builder = builder.refresh_after(ticks(n));
        }
        if grace > 0 {
            builder = builder.serve_stale_for(ticks(grace));
        }
        if refresh_after.is_some() || grace > 0 {
            builder = builder.refresh_pipeline(Pipeline::threads(threads).queue(KEYS));
        }
        let backend = Arc::new(Mutex::new(Backend::default()));
        let loader = Arc::clone(&backend);
        let cache = builder.build_loading(move |key: &String| {
            loader.lock().expect("the backend").call(index(key))
        });
        Ok(Harness {
            cache,
            clock,
            backend,
            expected: Backend::default(),
            now: 0,
            ttl,
            refresh_after,
            grace,
            entries: Default::default(),
            refreshes: RefreshStats::default(),
            loads: LoadStats::default(),
        })
    }

    fn expired(&self, stored: &Stored) -> bool {
        stored.deadline.is_some_and(|deadline| self.now >= deadline)
    }

    /// The entry of key `i` that `get` serves, fresh or stale, and that
    /// writes treat as present.
    fn servable(&self, i: usize) -> Option<&Stored> {
        self.entries[i].as_ref().filter(|stored| {
            stored
                .deadline
                .is_none_or(|deadline| self.now < deadline + self.grace)
        })
    }

    /// The value of key `i` that plain reads return.
    fn visible(&self, i: usize) -> Option<&str> {
        (self.entries[i].as_ref())
            .filter(|stored| !self.expired(stored))
            .map(|stored| stored.value.as_str())
    }

    /// Stores `value` for key `i`, written now, to expire after `ttl`
    /// ticks or the cache's time to live.
    fn store(&mut self, i: usize, value: String, ttl: Option<u64>) {
        self.entries[i] = Some(Stored {
            value,
            written: self.now,
            deadline: ttl.or(self.ttl).map(|ttl| self.now + ttl),
        });
    }

    /// Stores what the loader returned for key `i`: its own time to live
    /// never outlasts the cache's.
    fn store_loaded(&mut self, i: usize, reply: Reply) {
        let ttl = match (reply.ttl, self.ttl) {
            (Some(chosen), Some(cap)) => Some(chosen.min(cap)),
            (chosen, _) => chosen,
        };
        self.store(i, reply.value, ttl);
    }

    /// What `get` of key `i` returns now, following in the model the load
    /// or the reload it makes.
    fn predict_get(&mut self, i: usize) -> Outcome {
        let Some(stored) = self.servable(i).cloned() else {
            return self.miss(i);
        };
        let stale = self.expired(&stored);
        if stale {
            self.refreshes.stale_served += 1;
        }
        let due = (self.refresh_after).is_some_and(|after| self.now >= stored.written + after);
        if stale || due {
            self.reload(i);
        }
        Ok((stored.value, stale, ticks(self.now - stored.written)))
    }

    /// A miss of key `i`: the loader runs on the caller's thread.
    fn miss(&mut self, i: usize) -> Outcome {
        match self.expected.call(i) {
            Ok(reply) => {
                self.loads.succeeded += 1;
                let value = reply.value.clone();
                self.store_loaded(i, reply);
                Ok((value, false, Duration::ZERO))
            }
            Err(error) => {
                self.loads.failed += 1;
                Err(LoadError::Load(Arc::new(error)))
            }
        }
    }

    /// A reload of key `i` on the pipeline: a failure leaves the value.
    fn reload(&mut self, i: usize) {
        self.refreshes.scheduled += 1;
        match self.expected.call(i) {
            Ok(reply) => {
                self.refreshes.succeeded += 1;
                self.store_loaded(i, reply);
            }
            Err(_) => self.refreshes.failed += 1,
        }
    }

    /// `get` (or `get_bytes`) of key `i`, checked once its reload, if it
    /// scheduled one, has run.
    fn get(&mut self, i: usize, bytes: bool) {
        let key = name(i);
        let served: Outcome = if bytes {
            self.cache.get_bytes(key.as_str()).map(|served| {
                let text = std::str::from_utf8(&served).expect("a cached value is UTF-8");
                (text.to_owned(), served.is_stale(), served.age())
            })
        } else {
            (self.cache.get(key.as_str()))
                .map(|served| (served.to_string(), served.is_stale(), served.age()))
        };
        self.cache.await_refreshes();
        let expected = self.predict_get(i);
        assert_eq!(served, expected, "get({key}) at tick {}", self.now);
    }

    /// A write of `value` to key `i`, with `ttl` ticks or the default.
    fn insert(&mut self, i: usize, value: String, ttl: Option<u64>) {
        let key = name(i);
        let result = match ttl {
            Some(n) => (self.cache).insert_with_ttl(key.clone(), value.clone(), ticks(n)),
            None => self.cache.insert(key.clone(), value.clone()),
        };
        let outcome = if self.servable(i).is_some() {
            InsertOutcome::Replaced
        } else {
            InsertOutcome::Inserted
        };
        assert_eq!(result, Ok(outcome), "insert({key}) at tick {}", self.now);
        self.store(i, value, ttl);
    }

    fn advance(&mut self, n: u64) {
        self.clock.advance(ticks(n));
        self.now += n;
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Get(key) => self.get(key.index(), false),
            Op::GetBytes(key) => self.get(key.index(), true),
            Op::GetStr(key) => {
                let i = key.index();
                assert_eq!(
                    self.cache.get_str(name(i).as_str()).as_deref(),
                    self.visible(i),
                    "get_str({}) at tick {}",
                    name(i),
                    self.now
                );
            }
            Op::Insert(key, v) => {
                let i = key.index();
                self.insert(i, format!("{}={v}", name(i)), None);
            }
            Op::InsertWithTtl(key, v, n) => {
                let i = key.index();
                self.insert(i, format!("{}={v}", name(i)), Some(u64::from(n % 8)));
            }
            Op::Remove(key) => {
                let i = key.index();
                let removed = self.cache.remove(name(i).as_str());
                assert_eq!(
                    removed.as_deref(),
                    self.servable(i).map(|stored| stored.value.as_str()),
                    "remove({}) at tick {}",
                    name(i),
                    self.now
                );
                self.entries[i] = None;
            }
            Op::Clear => {
                self.cache.clear();
                self.entries = Default::default();
            }
            Op::Retain(mask) => {
                let keep = |i: usize| mask & (1 << i) != 0;
                let mut offered = Vec::new();
                self.cache.retain(|key, value| {
                    offered.push((key.clone(), value.to_owned()));
                    keep(index(key))
                });
                offered.sort_unstable();
                let servable: Vec<(String, String)> = (0..KEYS)
                    .filter_map(|i| Some((name(i), self.servable(i)?.value.clone())))
                    .collect();
                assert_eq!(offered, servable, "retain offered at tick {}", self.now);
                for i in (0..KEYS).filter(|&i| !keep(i)) {
                    self.entries[i] = None;
                }
            }
            Op::Step(n) => self.advance(u64::from(n % 4)),
            Op::Jump(n) => self.advance(u64::from(n % 32)),
            Op::ToggleFailing(key) => {
                let i = key.index();
                self.expected.failing[i] ^= true;
                self.backend.lock().expect("the backend").failing[i] ^= true;
            }
            Op::LoaderTtl(key, n) => {
                let (i, ttl) = (key.index(), n.map(|n| u64::from(n % 8)));
                self.expected.ttl[i] = ttl;
                self.backend.lock().expect("the backend").ttl[i] = ttl;
            }
        }
    }

    /// Checks the loader's calls and the counters against the model.
    fn check(&self) {
        assert_eq!(
            *self.backend.lock().expect("the backend"),
            self.expected,
            "loader calls at tick {}",
            self.now
        );
        let stats = self.cache.stats();
        assert_eq!(
            stats.refreshes, self.refreshes,
            "refreshes at tick {}",
            self.now
        );
        assert_eq!(stats.loads, self.loads, "loads at tick {}", self.now);
    }
}

/// Applies a decoded sequence of reads, writes, clock steps and loader
/// changes to a [`LoadingCache`] on a manual clock, with settings drawn
/// from the input, and to a model of its freshness, comparing every
/// value, staleness, age, error, loader call and counter, and validating
/// the cache's invariants after each step.
///
/// # Panics
/// When the cache and the model disagree, or an invariant is broken.
pub fn fresh(data: &[u8]) -> usize {
    run(data).map_or(0, |(applied, _)| applied)
}

/// [`fresh`], returning the operations applied and the harness after them.
fn run(data: &[u8]) -> Option<(usize, Harness)> {
    let mut u = Unstructured::new(data);
    let mut harness = Harness::new(&mut u).ok()?;
    let mut applied = 0;
    while !u.is_empty() {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        harness.apply(op);
        applied += 1;
        harness.cache.validate();
        harness.check();
    }
    Some((applied, harness))
}

#[cfg(test)]
mod tests {
    use proptest::{
        collection::vec,
        prelude::*,
        strategy::ValueTree,
        test_runner::{Config, TestRunner},
    };

    use super::*;

    /// Inputs of random bytes, a few hundred in a run.
    fn inputs() -> impl Strategy<Value = Vec<u8>> {
        vec(any::<u8>(), 0..if cfg!(miri) { 64 } else { 1024 })
    }

    proptest! {
        #![proptest_config(Config {
            cases: if cfg!(miri) { 4 } else { 300 },
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn fresh_on_generated_input(data in inputs()) {
            fresh(&data);
        }
    }

    /// Generated inputs reach every event the model predicts: a check
    /// whose inputs never reloaded, served stale or failed a load would
    /// pass whatever the cache did.
    #[test]
    #[cfg_attr(miri, ignore = "needs more inputs than Miri runs in time")]
    fn generated_inputs_reach_every_event() {
        let mut runner = TestRunner::deterministic();
        let mut seen = [0; 6];
        for _ in 0..100 {
            let data = inputs().new_tree(&mut runner).expect("an input").current();
            let (_, harness) = run(&data).expect("a configuration");
            let (r, l) = (harness.refreshes, harness.loads);
            let counts = [r.scheduled, r.succeeded, r.failed, r.stale_served];
            for (seen, n) in seen
                .iter_mut()
                .zip(counts.into_iter().chain([l.succeeded, l.failed]))
            {
                *seen += n;
            }
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    }
}
