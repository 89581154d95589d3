//! Bugs found by the fuzz targets in `fuzz/`, each reduced to a
//! deterministic test that runs on stable.

use std::{collections::HashSet, hash::BuildHasherDefault};

use strcache::StrCache;

/// A fixed hasher, so every run places keys in the same slots.
type Fixed = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// Found by the `threads` target ("iteration yielded key 0 twice"): a key
/// removed and re-inserted while an iteration was under way was yielded
/// twice, because the re-insert skipped the key's tombstone and landed in a
/// later empty slot that the cursor had yet to reach. Inserts now revive the
/// first tombstone with the key's tag, which puts the key back in its old
/// slot. The `ops` input that found it is the unit test
/// `check::tests::ops_reinsert_during_iteration`.
#[test]
fn iteration_yields_a_reinserted_key_at_most_once() {
    // One key per fresh cache, so at least one of them has a home slot
    // before the table's last, where the re-insert moves it forward.
    for key in 0..8u64 {
        let cache: StrCache<u64, Fixed> = StrCache::builder()
            .shards(1)
            .hasher(Fixed::default())
            .build();
        cache.insert(key, "first").unwrap();
        let pinned = cache.pin();
        let mut iter = pinned.iter();
        let (&first, _) = iter.next().expect("the key");
        assert_eq!(first, key);
        cache.remove(&key);
        cache.insert(key, "second").unwrap();
        let mut seen = HashSet::from([first]);
        for (k, v) in iter {
            assert!(
                seen.insert(*k),
                "Pinned::iter: key {k} yielded twice (then as {v:?})"
            );
        }
        drop(pinned);

        // `iter()` walks the table with the same cursor.
        let mut iter = cache.iter();
        let (first, _) = iter.next().expect("the key");
        cache.remove(&first);
        cache.insert(first, "third").unwrap();
        let mut seen = HashSet::from([first]);
        for (k, v) in iter {
            assert!(
                seen.insert(k),
                "iter: key {k} yielded twice (then as {v:?})"
            );
        }
    }
}
