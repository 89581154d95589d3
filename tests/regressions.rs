//! Bugs found by the fuzz targets in `fuzz/`, each reduced to a
//! deterministic test that runs on stable.

use std::{collections::HashSet, hash::BuildHasherDefault};

use strcache::StrCache;

/// A fixed hasher, so every run places keys in the same slots.
type Fixed = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// Found by the `threads` target ("iteration yielded key 0 twice"): a key
/// removed and re-inserted while an iteration is under way is yielded twice.
/// Removal leaves a tombstone that only a resize clears, so the re-insert
/// lands in the next empty slot on the key's probe path; when that slot lies
/// after the tombstone, the cursor, still walking the same table, meets the
/// key again. The documented contract is "each key at most once". The
/// `ops` target reproduces it deterministically; its input is kept as the
/// ignored unit test `check::tests::ops_reinsert_during_iteration`.
#[test]
#[ignore = "bug: iter() and Pinned::iter() yield a key twice when it is removed and re-inserted during the iteration"]
fn iteration_yields_a_reinserted_key_at_most_once() {
    // One key per fresh cache, so at least one of them has a home slot
    // before the table's last, where the re-insert moves it forward.
    for key in 0..8u64 {
        let cache: StrCache<u64, Fixed> = StrCache::builder()
            .shards(1)
            .hasher(Fixed::default())
            .build();
        cache.insert(key, "first");
        let pinned = cache.pin();
        let mut iter = pinned.iter();
        let (&first, _) = iter.next().expect("the key");
        assert_eq!(first, key);
        cache.remove(&key);
        cache.insert(key, "second");
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
        cache.insert(first, "third");
        let mut seen = HashSet::from([first]);
        for (k, v) in iter {
            assert!(
                seen.insert(k),
                "iter: key {k} yielded twice (then as {v:?})"
            );
        }
    }
}
