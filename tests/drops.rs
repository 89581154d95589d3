//! Every key and value is dropped exactly once: replaced, removed, cleared,
//! retained away, loaded, or still in the cache when it is dropped.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use bytes::Bytes;
use strcache::{ManualClock, StrCache, Utf8Bytes};

/// Drop counts, one slot per value id.
#[derive(Clone)]
struct Counts(Arc<Mutex<Vec<usize>>>);

impl Counts {
    fn new(n: usize) -> Self {
        Counts(Arc::new(Mutex::new(vec![0; n])))
    }
    fn get(&self) -> Vec<usize> {
        self.0.lock().unwrap().clone()
    }
}

/// A value owner that records its drop.
struct Tracked {
    text: String,
    id: usize,
    counts: Counts,
}

impl AsRef<[u8]> for Tracked {
    fn as_ref(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counts.0.lock().unwrap()[self.id] += 1;
    }
}

fn tracked(id: usize, counts: &Counts) -> Bytes {
    Bytes::from_owner(Tracked {
        text: format!("value {id}"),
        id,
        counts: counts.clone(),
    })
}

/// A tracked value longer than the 4 KiB that `insert` copies into an
/// entry, so that `insert` keeps its buffer, and its drop tells when the
/// entry's is.
fn kept(id: usize, counts: &Counts) -> Utf8Bytes {
    let text = format!("value {id} {}", " ".repeat(4096));
    Utf8Bytes::try_from(Bytes::from_owner(Tracked {
        text,
        id,
        counts: counts.clone(),
    }))
    .unwrap()
}

/// A key that counts its drops.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key(u32);

static KEY_DROPS: AtomicUsize = AtomicUsize::new(0);

impl Drop for Key {
    fn drop(&mut self) {
        KEY_DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

#[path = "support/collect.rs"]
mod collect;
use collect::collect_until;

/// Checks that value 0, unlinked from the cache, stays alive while `held`
/// reads it, and is freed once it is dropped.
fn freed_only_after(held: strcache::CachedStr<'_>, counts: &Counts) {
    for _ in 0..1_000 {
        crossbeam_epoch::pin().flush();
    }
    assert_eq!(counts.get()[0], 0, "freed while a reader held it");
    assert_eq!(held, "value 0");
    drop(held);
    collect_until(|| counts.get()[0] == 1);
}

#[test]
fn every_value_is_dropped_exactly_once() {
    let n = if cfg!(miri) { 40 } else { 2_000 };
    let counts = Counts::new(n);
    let cache: StrCache<Key> = StrCache::builder().shards(2).build();
    let mut id = 0;
    let mut next = || {
        id += 1;
        tracked(id - 1, &counts)
    };
    let keys = n as u32 / 8;
    // Inserts, replacements, removals, retain and clear, then a drop with
    // entries still inside.
    for round in 0..4 {
        for k in 0..keys {
            cache.try_insert_bytes(Key(k), next()).unwrap();
        }
        for k in (0..keys).step_by(3) {
            assert!(cache.remove(&Key(k)).is_some());
        }
        if round == 1 {
            cache.retain(|k, _| k.0 % 2 == 0);
        }
        if round == 2 {
            cache.clear();
        }
    }
    for k in 0..keys {
        cache.try_insert_bytes(Key(k), next()).unwrap();
    }
    let inserted_keys = 5 * keys as usize;
    let ids = 5 * keys as usize;
    drop(cache);
    collect_until(|| counts.get()[..ids].iter().all(|&c| c == 1));
    assert!(
        counts.get()[..ids].iter().all(|&c| c == 1),
        "{:?}",
        counts.get()
    );
    // Keys passed to insert are stored in entries; every one is dropped.
    collect_until(|| KEY_DROPS.load(Ordering::Relaxed) >= inserted_keys);
    // Lookup keys built by the test (remove) are dropped too: count those.
    let lookups = 4 * (keys as usize).div_ceil(3);
    assert_eq!(KEY_DROPS.load(Ordering::Relaxed), inserted_keys + lookups);
}

#[test]
fn values_still_in_the_cache_are_freed_when_it_drops() {
    let counts = Counts::new(3);
    let cache: StrCache = StrCache::new();
    for id in 0..3 {
        cache
            .try_insert_bytes(id.to_string().into(), tracked(id, &counts))
            .unwrap();
    }
    assert_eq!(counts.get(), [0, 0, 0]);
    drop(cache);
    // Live entries are dropped by `Drop` itself, not deferred.
    assert_eq!(counts.get(), [1, 1, 1]);
}

/// `insert` copies short text into the entry and drops the caller's
/// buffer at once; `try_insert_bytes` keeps the buffer until the entry
/// goes.
#[test]
fn a_copied_value_is_dropped_by_its_insert() {
    let counts = Counts::new(2);
    let cache: StrCache = StrCache::new();
    let copied = Utf8Bytes::try_from(tracked(0, &counts)).unwrap();
    cache.insert("copied".into(), copied).unwrap();
    cache
        .try_insert_bytes("kept".into(), tracked(1, &counts))
        .unwrap();
    assert_eq!(counts.get(), [1, 0]);
    assert_eq!(cache.get_str("copied").unwrap(), "value 0");
    assert_eq!(cache.get_str("kept").unwrap(), "value 1");
    drop(cache);
    assert_eq!(counts.get(), [1, 1]);
}

#[test]
fn a_reader_keeps_a_replaced_value_alive() {
    let counts = Counts::new(2);
    let cache: StrCache = StrCache::new();
    cache
        .try_insert_bytes("k".into(), tracked(0, &counts))
        .unwrap();
    let held = cache.get_str("k").unwrap();
    cache
        .try_insert_bytes("k".into(), tracked(1, &counts))
        .unwrap();
    freed_only_after(held, &counts);
}

#[test]
fn evicted_and_expired_values_are_dropped_exactly_once() {
    let n = if cfg!(miri) { 60 } else { 3_000 };
    let counts = Counts::new(n);
    let clock = ManualClock::new();
    let cache: StrCache<u32> = StrCache::builder()
        .shards(2)
        .max_entries(n as u64 / 10)
        .clock(clock.clone())
        .build();
    let keys = n as u32 / 4;
    for id in 0..n {
        let key = id as u32 % keys;
        let value = kept(id, &counts);
        if id % 3 == 0 {
            cache
                .insert_with_ttl(key, value, Duration::from_secs(1))
                .unwrap();
        } else {
            cache.insert(key, value).unwrap();
        }
        if id == n / 2 {
            clock.advance(Duration::from_secs(1));
            cache.purge_expired();
        }
    }
    drop(cache);
    collect_until(|| counts.get().iter().all(|&c| c == 1));
}

#[test]
fn a_reader_keeps_an_evicted_value_alive() {
    let counts = Counts::new(1);
    let cache: StrCache<u32> = StrCache::builder().max_entries(1).build();
    cache.try_insert_bytes(0, tracked(0, &counts)).unwrap();
    let held = cache.get_str(&0).unwrap();
    let mut next = 1;
    while cache.contains_key(&0) {
        assert!(next < 10_000, "key 0 was never evicted");
        cache.insert(next, "newer").unwrap();
        next += 1;
    }
    freed_only_after(held, &counts);
}

/// A key that counts its live copies: loads clone keys into their flights.
#[derive(Debug)]
struct Counted {
    id: u32,
    live: Arc<AtomicUsize>,
}

impl Counted {
    fn new(id: u32, live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::Relaxed);
        Counted {
            id,
            live: Arc::clone(live),
        }
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(self.id, &self.live)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for Counted {}

impl std::hash::Hash for Counted {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

#[test]
fn loaded_keys_and_values_are_dropped_exactly_once() {
    let n = if cfg!(miri) { 10 } else { 1_000 };
    let counts = Counts::new(n);
    let live = Arc::new(AtomicUsize::new(0));
    let cache: StrCache<Counted> = StrCache::builder().shards(2).build();
    for id in 0..n {
        let key = Counted::new(id as u32, &live);
        let value = || Utf8Bytes::try_from(tracked(id, &counts)).unwrap();
        assert_eq!(
            cache.get_or_insert_with(&key, value).unwrap(),
            format!("value {id}")
        );
    }
    for id in 0..n {
        let key = Counted::new(id as u32, &live);
        let hit = cache.get_or_insert_with(&key, || -> &str { unreachable!("a hit") });
        assert_eq!(hit.unwrap(), format!("value {id}"));
    }
    let failed =
        cache.try_get_or_insert_with(&Counted::new(u32::MAX, &live), || Err::<&str, _>(()));
    assert!(failed.is_err());
    drop(cache);
    collect_until(|| counts.get().iter().all(|&c| c == 1) && live.load(Ordering::Relaxed) == 0);
    assert_eq!(live.load(Ordering::Relaxed), 0, "keys leaked");
    assert!(counts.get().iter().all(|&c| c == 1), "{:?}", counts.get());
}

/// A kept failure holds its key until it expires, a write clears it, or
/// the cache is dropped; expired ones are dropped by the shard's next
/// load, so failing loads of ever new keys (a scan of missing ids) hold no
/// more keys than one window's worth.
#[test]
fn kept_failures_drop_their_keys_once_they_expire() {
    let n = if cfg!(miri) { 10 } else { 200 };
    let live = Arc::new(AtomicUsize::new(0));
    let clock = strcache::ManualClock::new();
    let cache: StrCache<Counted> = StrCache::builder()
        .shards(1)
        .clock(clock.clone())
        .cache_failures_for(std::time::Duration::from_secs(5))
        .build();
    let calls = AtomicUsize::new(0);
    let fail = |id| {
        let key = Counted::new(id, &live);
        let down = || {
            calls.fetch_add(1, Ordering::Relaxed);
            Err::<&str, _>(())
        };
        assert!(cache.try_get_or_insert_with(&key, down).is_err());
    };
    for id in 0..n {
        fail(id);
    }
    assert_eq!(
        live.load(Ordering::Relaxed),
        n as usize,
        "one key per kept failure"
    );
    // A write of one key clears its failure: the next load of it runs,
    // and fails again. The cleared failure's key goes with that load.
    cache.remove(&Counted::new(0, &live));
    fail(0);
    assert_eq!(calls.load(Ordering::Relaxed), n as usize + 1);
    assert_eq!(live.load(Ordering::Relaxed), n as usize);
    fail(0);
    assert_eq!(calls.load(Ordering::Relaxed), n as usize + 1, "kept again");
    // Past the window, the next load drops every expired failure.
    clock.advance(std::time::Duration::from_secs(5));
    fail(n);
    assert_eq!(
        live.load(Ordering::Relaxed),
        1,
        "only the newest failure is kept"
    );
    drop(cache);
    collect_until(|| live.load(Ordering::Relaxed) == 0);
    assert_eq!(live.load(Ordering::Relaxed), 0, "keys leaked");
}

/// Found by review (#17, defect 5): `clear` swapped every shard's table,
/// then retired and reported each in turn, so a listener that panicked
/// abandoned every later shard's table and its entries. All tables are now
/// retired before the first report.
#[test]
fn a_panicking_listener_in_clear_leaks_nothing() {
    let n = if cfg!(miri) { 40 } else { 200 };
    let counts = Counts::new(n);
    let cache: StrCache<u32> = StrCache::builder()
        .shards(8)
        .on_evict(|_: &u32, _, _| panic!("listener fails"))
        .build();
    for id in 0..n {
        cache
            .try_insert_bytes(id as u32, tracked(id, &counts))
            .unwrap();
    }
    let cleared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.clear()));
    assert!(cleared.is_err(), "the listener panics");
    assert!(cache.is_empty());
    collect_until(|| counts.get().iter().all(|&c| c == 1));
    assert_eq!(counts.get(), vec![1; n], "every value dropped once");
    cache.insert(1, "usable").unwrap();
    assert_eq!(cache.get_str(&1).as_deref(), Some("usable"));
}

/// A shard holds back the entries that writes replace, counted as retired
/// bytes, and retires them 64 at a time; `purge_expired` retires what it
/// holds, and the cache's drop frees it. Every replaced key is dropped
/// exactly once.
#[test]
fn replaced_entries_are_retired_64_at_a_time() {
    let live = Arc::new(AtomicUsize::new(0));
    let cache: StrCache<Counted> = StrCache::builder().shards(1).build();
    let write = || {
        cache.insert(Counted::new(1, &live), "v").unwrap();
    };
    let flush = || {
        for _ in 0..if cfg!(miri) { 100 } else { 1_000 } {
            crossbeam_epoch::pin().flush();
        }
    };
    // The live key, and the replaced ones not yet freed.
    let keys = || live.load(Ordering::Relaxed);
    for _ in 0..64 {
        write();
    }
    flush();
    assert_eq!(keys(), 64, "63 replaced: held back");
    assert!(cache.stats().retired_bytes >= 63, "{:?}", cache.stats());
    write();
    collect_until(|| keys() == 1);
    write();
    flush();
    assert_eq!(keys(), 2, "one replaced: held back");
    cache.purge_expired();
    collect_until(|| keys() == 1);
    write();
    drop(cache);
    assert_eq!(keys(), 0, "the held key and the live one");
}

/// Every operation that retires a batch of entries hands it to the
/// collector itself, not only an insert: a thread that removes, evicts
/// through an insert, retains or purges, and then stays alive without
/// writing again, leaves no batch in its own bag of deferred functions,
/// which only that thread could flush. Each operation runs on a thread of
/// its own that waits, alive and unpinned, while this one collects.
#[test]
fn every_operation_that_retires_a_batch_hands_it_to_the_collector() {
    type Op = fn(&StrCache<Counted>, &Arc<AtomicUsize>);
    // Entries that, with a value of `text()`, weigh a batch's 4 KiB (three
    // weigh less).
    const N: u32 = 4;
    fn text() -> String {
        "v".repeat(1_100)
    }
    let ops: [(&str, usize, Op); 4] = [
        ("remove", 0, |cache, live| {
            for id in 0..N {
                cache.insert(Counted::new(id, live), text()).unwrap();
            }
            for id in 0..N {
                assert!(cache.remove(&Counted::new(id, live)).is_some());
            }
        }),
        ("evict", 1, |cache, live| {
            for id in 0..=N {
                cache.insert(Counted::new(id, live), text()).unwrap();
            }
        }),
        ("retain", 1, |cache, live| {
            for id in 0..2 {
                cache.insert(Counted::new(id, live), text()).unwrap();
            }
            cache.insert(Counted::new(0, live), text()).unwrap();
            cache.retain(|k, _| k.id == 0);
        }),
        ("purge_expired", 1, |cache, live| {
            cache.insert(Counted::new(0, live), text()).unwrap();
            cache.insert(Counted::new(0, live), text()).unwrap();
            cache.purge_expired();
        }),
    ];
    for (name, left, op) in ops {
        let live = Arc::new(AtomicUsize::new(0));
        let builder = StrCache::builder().shards(1);
        let cache: StrCache<Counted> = if name == "evict" {
            builder.max_entries(1).build()
        } else {
            builder.build()
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (ran_tx, ran_rx) = std::sync::mpsc::channel::<()>();
        let (cache, live) = (&cache, &live);
        std::thread::scope(|s| {
            s.spawn(move || {
                op(cache, live);
                ran_tx.send(()).unwrap();
                // Alive, unpinned, its bag never flushed by itself again,
                // until this thread is done or has failed.
                let _ = done_rx.recv();
            });
            // Dropped, ending the other thread, if the collection fails.
            let done_tx = done_tx;
            ran_rx.recv().unwrap();
            collect_until(|| live.load(Ordering::Relaxed) == left);
            done_tx.send(()).unwrap();
        });
        assert_eq!(live.load(Ordering::Relaxed), left, "{name}");
    }
}

/// A loaded value handed to its caller is held past the caller's pin by
/// a deferred drop; the load hands that drop to the collector itself, so
/// a thread that loads once and then idles, alive and unpinned, does not
/// keep the loader's buffer until 63 more deferred functions fill its
/// bag, which only that thread could flush.
#[test]
fn a_loaded_value_goes_while_its_loader_idles() {
    let counts = Counts::new(1);
    let cache: StrCache = StrCache::new();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let (ran_tx, ran_rx) = std::sync::mpsc::channel::<()>();
    let (cache, counts) = (&cache, &counts);
    std::thread::scope(|s| {
        s.spawn(move || {
            let value = || Utf8Bytes::try_from(tracked(0, counts)).unwrap();
            assert_eq!(cache.get_or_insert_with("k", value).unwrap(), "value 0");
            ran_tx.send(()).unwrap();
            // Alive and unpinned until this thread is done or has failed.
            let _ = done_rx.recv();
        });
        // Dropped, ending the other thread, if the collection fails.
        let done_tx = done_tx;
        ran_rx.recv().unwrap();
        // The entry holds a copy of the text: the loader's buffer is held
        // only by what the load handed its caller.
        collect_until(|| counts.get() == [1]);
        done_tx.send(()).unwrap();
    });
    assert_eq!(counts.get(), [1]);
    assert_eq!(cache.get_str("k").unwrap(), "value 0");
}
