//! Expiry: an expired entry is never returned by any read, and its memory
//! is reclaimed by writes, by eviction and by `purge_expired`, all without
//! a background thread. Time moves only through a `ManualClock`.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use strcache::{EvictionCause, InsertOutcome, ManualClock, StrCache};

const SEC: Duration = Duration::from_secs(1);

fn cache_with(clock: &ManualClock) -> StrCache<u64> {
    StrCache::builder().shards(1).clock(clock.clone()).build()
}

#[test]
fn no_read_returns_an_expired_entry() {
    let clock = ManualClock::new();
    let cache = cache_with(&clock);
    cache.insert_with_ttl(1, "short", SEC).unwrap();
    cache.insert(2, "forever").unwrap();
    assert_eq!(cache.get_str(&1).unwrap(), "short");
    clock.advance(SEC);
    assert!(cache.get_str(&1).is_none());
    assert!(cache.get_bytes(&1).is_none());
    assert!(!cache.contains_key(&1));
    let pinned = cache.pin();
    assert!(pinned.get_str(&1).is_none());
    assert!(!pinned.contains_key(&1));
    assert_eq!(pinned.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [2]);
    drop(pinned);
    assert_eq!(cache.iter().map(|(k, _)| k).collect::<Vec<_>>(), [2]);
    assert!(
        cache.remove(&1).is_none(),
        "remove returns no expired value"
    );
    assert_eq!(cache.get_str(&2).unwrap(), "forever");
}

#[test]
fn the_default_ttl_applies_unless_an_entry_has_its_own() {
    let clock = ManualClock::new();
    let cache: StrCache<u64> = StrCache::builder()
        .clock(clock.clone())
        .time_to_live(10 * SEC)
        .build();
    cache.insert(1, "default").unwrap();
    cache.insert_with_ttl(2, "longer", 20 * SEC).unwrap();
    cache.insert_with_ttl(3, "shorter", SEC).unwrap();
    clock.advance(SEC);
    assert_eq!(cache.iter().count(), 2);
    clock.advance(9 * SEC);
    assert!(!cache.contains_key(&1));
    assert!(cache.contains_key(&2));
    clock.advance(10 * SEC);
    assert!(!cache.contains_key(&2));
}

#[test]
fn len_and_is_empty_count_an_expired_entry_until_it_is_unlinked() {
    let clock = ManualClock::new();
    let cache = cache_with(&clock);
    cache.insert_with_ttl(1, "v", SEC).unwrap();
    clock.advance(SEC);
    assert!(cache.get_str(&1).is_none());
    assert_eq!(cache.len(), 1);
    assert!(!cache.is_empty());
    cache.purge_expired();
    assert!(cache.is_empty());
}

#[test]
fn a_zero_ttl_expires_at_once() {
    let clock = ManualClock::new();
    let cache = cache_with(&clock);
    cache.insert_with_ttl(1, "gone", Duration::ZERO).unwrap();
    assert!(cache.get_str(&1).is_none());
}

#[test]
fn rewriting_a_key_gives_it_a_new_deadline() {
    let clock = ManualClock::new();
    let cache = cache_with(&clock);
    cache.insert_with_ttl(1, "v1", SEC).unwrap();
    cache.insert(1, "v2").unwrap();
    clock.advance(10 * SEC);
    assert_eq!(cache.get_str(&1).unwrap(), "v2");
    cache.purge_expired();
    assert_eq!(cache.len(), 1);
}

#[test]
fn purge_expired_reclaims_every_expired_entry() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let cache: StrCache<u64> = StrCache::builder()
        .clock(clock.clone())
        .on_evict(move |k: &u64, _, cause| sink.lock().unwrap().push((*k, cause)))
        .build();
    for k in 0..100 {
        cache
            .insert_with_ttl(k, "v", (k as u32 % 2 + 1) * SEC)
            .unwrap();
    }
    clock.advance(SEC);
    assert_eq!(cache.len(), 100, "expired entries wait for a reclaimer");
    cache.purge_expired();
    assert_eq!(cache.len(), 50);
    let mut expired: Vec<u64> = log
        .lock()
        .unwrap()
        .iter()
        .map(|&(k, c)| {
            assert_eq!(c, EvictionCause::Expired);
            k
        })
        .collect();
    expired.sort_unstable();
    assert_eq!(expired, (0..100).step_by(2).collect::<Vec<_>>());
}

#[test]
fn writes_reclaim_expired_entries_of_their_shard() {
    let clock = ManualClock::new();
    let cache = cache_with(&clock);
    for k in 0..20 {
        cache.insert_with_ttl(k, "v", SEC).unwrap();
    }
    clock.advance(SEC);
    // Each write unlinks a few expired entries; enough writes unlink all.
    for k in 100..120 {
        cache.insert(k, "new").unwrap();
    }
    assert_eq!(cache.len(), 20);
}

#[test]
fn overwrites_leave_no_stale_deadline_behind() {
    let clock = ManualClock::new();
    let cache = cache_with(&clock);
    // Each overwrite leaves its predecessor's deadline in the index, where
    // it must match no live entry: only the last writes expire.
    for i in 0..if cfg!(miri) { 200 } else { 10_000u64 } {
        cache.insert_with_ttl(i % 10, "v", 3600 * SEC).unwrap();
    }
    assert_eq!(cache.len(), 10);
    clock.advance(3600 * SEC);
    cache.purge_expired();
    assert!(cache.is_empty());
}

#[test]
fn a_bounded_cache_reports_expired_victims_as_expired() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let cache: StrCache<u64> = StrCache::builder()
        .shards(4)
        .max_entries(10)
        .clock(clock.clone())
        .on_evict(move |k: &u64, _, cause| sink.lock().unwrap().push((*k, cause)))
        .build();
    for k in 0..10 {
        cache.insert_with_ttl(k, "v", SEC).unwrap();
    }
    clock.advance(SEC);
    cache.purge_expired();
    assert!(cache.is_empty());
    // Their weight is free: ten new entries fit without a size eviction.
    for k in 10..20 {
        cache.insert(k, "v").unwrap();
    }
    assert_eq!(cache.len(), 10);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 10);
    assert!(log.iter().all(|&(_, c)| c == EvictionCause::Expired));
}

#[test]
fn whatever_unlinks_an_expired_entry_reports_it_expired() {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let cache: StrCache<u64> = StrCache::builder()
        .shards(1)
        .clock(clock.clone())
        .on_evict(move |k: &u64, v, cause| sink.lock().unwrap().push((*k, v.to_string(), cause)))
        .build();
    cache.insert_with_ttl(1, "old", SEC).unwrap();
    cache.insert_with_ttl(2, "old", SEC).unwrap();
    cache.insert(3, "kept").unwrap();
    clock.advance(SEC);
    // The key was absent to readers, so this is an insert, not a replace.
    assert_eq!(cache.insert(1, "new"), Ok(InsertOutcome::Inserted));
    cache.clear();
    let mut log = log.lock().unwrap().clone();
    log.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    assert_eq!(
        log,
        [
            (1, "new".into(), EvictionCause::Removed),
            (1, "old".into(), EvictionCause::Expired),
            (2, "old".into(), EvictionCause::Expired),
            (3, "kept".into(), EvictionCause::Removed),
        ]
    );
}
