//! The invariant walk behind `StrCache::validate`, compiled for tests and
//! fuzz targets only.
//!
//! The structural checks (counts, slot states, probe paths) run under each
//! shard's lock, so they never see a half-done write. The checks that hash
//! or compare keys run user code (`Hash`, `Eq`), which must not run under a
//! shard lock (DESIGN.md, invariant 5), so they run after it is released,
//! on the entries collected under it: entries are immutable and the guard
//! keeps them alive, so that snapshot stays exact.

use std::{hash::Hash, ptr};

use crossbeam_epoch::Guard;

use crate::{
    bound::Bound,
    entry::Entry,
    shard::{Counts, Shard},
    sync::lock,
    table::{SlotView, Table, MIN_CAPACITY},
};

/// Checks the published table of shard `index` against its counts and its
/// keys' placement; panics naming the first broken invariant.
///
/// `locate` is the cache's placement of a key: the shard its hash chooses
/// and its hash tag, whose low 32 bits its entry must keep.
pub(crate) fn shard<'c, K: Hash + Eq>(
    index: usize,
    shard: &'c Shard<K>,
    guard: &Guard,
    locate: impl Fn(&K) -> (&'c Shard<K>, u64),
) {
    let live = shard.inspect_locked(guard, |table, counts| {
        structure(index, table, counts, guard)
    });
    let mut placed = Vec::with_capacity(live.len());
    for (slot, tag, entry) in live {
        let (home, expected) = locate(&entry.key);
        let expected = u64::from(expected as u32);
        assert_eq!(
            tag, expected,
            "shard {index}, slot {slot}: tag {tag:#x} is not the key's hash tag {expected:#x}"
        );
        assert!(
            ptr::eq(home, shard),
            "shard {index}, slot {slot}: the key's hash chooses another shard"
        );
        placed.push((tag, slot, &entry.key));
    }
    // Equal keys hash alike, and their tags were just checked, so a key
    // live in two slots sits in one run of equal tags: sorting by tag finds
    // it with one `Eq` per pair in a run, hashing nothing more (the fuzz
    // targets call this after every step).
    placed.sort_unstable_by_key(|&(tag, slot, _)| (tag, slot));
    for run in placed.chunk_by(|a, b| a.0 == b.0) {
        for (i, &(_, slot, key)) in run.iter().enumerate() {
            if let Some(&(_, other, _)) = run[i + 1..].iter().find(|&&(_, _, k)| k == key) {
                panic!(
                    "shard {index}, slot {slot}: the key is live in slot {other} of the same \
                     table too"
                );
            }
        }
    }
}

/// The checks made under the shard lock. Returns the live entries with
/// their slot indices and tags.
fn structure<'g, K>(
    index: usize,
    table: &Table<K>,
    counts: Counts,
    guard: &'g Guard,
) -> Vec<(usize, u64, &'g Entry<K>)> {
    let capacity = table.capacity();
    assert!(
        capacity.is_power_of_two() && capacity >= MIN_CAPACITY,
        "shard {index}: capacity {capacity} is not a power of two of at least {MIN_CAPACITY}"
    );
    let mut live = Vec::with_capacity(counts.len);
    let (mut empty, mut tombstones) = (0, 0);
    for slot in 0..capacity {
        match table.view(slot, guard) {
            SlotView::Empty => empty += 1,
            SlotView::Tombstone => tombstones += 1,
            SlotView::Live { tag, entry } => {
                // A probe stops at the first empty slot, so one before the
                // entry on its path would hide it from every lookup.
                let mut path = table.probe_path(tag).peekable();
                let home = path.peek().copied();
                for on_path in path.take_while(|&i| i != slot) {
                    assert!(
                        !matches!(table.view(on_path, guard), SlotView::Empty),
                        "shard {index}, slot {slot}: empty slot {on_path} lies between \
                         the entry and its home slot {home:?}, so lookups cannot reach it"
                    );
                }
                live.push((slot, tag, entry));
            }
            SlotView::Corrupt { word } => panic!(
                "shard {index}, slot {slot}: word {word:#x} is neither empty, a live entry \
                 with its tag, nor a tombstone"
            ),
        }
    }
    assert_eq!(
        live.len(),
        counts.len,
        "shard {index}: {} live slots, but the writer state counts {}",
        live.len(),
        counts.len
    );
    assert_eq!(
        counts.len_mirror, counts.len,
        "shard {index}: the lock-free len mirror disagrees with the writer state"
    );
    assert_eq!(
        tombstones, counts.tombstones,
        "shard {index}: {tombstones} tombstone slots, but the writer state counts {}",
        counts.tombstones
    );
    assert!(
        (counts.len + counts.tombstones) * 4 <= capacity * 3,
        "shard {index}: invariant LOAD broken: {} live + {} tombstones in {capacity} slots",
        counts.len,
        counts.tombstones
    );
    assert!(
        empty > 0,
        "shard {index}: invariant SPARE broken: no empty slot"
    );
    let timed = live.iter().filter(|(_, _, e)| e.deadline != 0).count();
    assert_eq!(
        timed, counts.timed,
        "shard {index}: {timed} live entries have deadlines, but the timers count {}",
        counts.timed
    );
    live
}

/// Checks a bounded cache's policy against its tables (invariant
/// `TRACKED`): one node per live entry, each node's handle pointing to the
/// entry that names it, the total weight within the bound and equal to the
/// sum of the entries' weights. The weigher is user code, so it runs after
/// every lock is released, on entries the guard keeps alive.
pub(crate) fn bound<K>(bound: &Bound<K>, shards: &[Shard<K>], guard: &Guard) {
    let policy = lock(&bound.policy);
    let mut entries = Vec::with_capacity(policy.len());
    for shard in shards {
        shard.inspect_locked(guard, |table, _| {
            // SAFETY: live, loaded under `guard`, which is still pinned.
            entries.extend(table.live(guard).map(|(_, e)| unsafe { e.deref() }.addr()));
        });
    }
    assert_eq!(
        policy.len(),
        entries.len(),
        "the policy tracks {} entries, the tables hold {}",
        policy.len(),
        entries.len()
    );
    for &entry in &entries {
        // SAFETY: live, loaded under `guard`, which is still pinned.
        let node = unsafe { Entry::<K>::shared(entry).deref() }.node();
        assert!(
            policy.handle(node).entry.as_ptr() as usize == entry,
            "policy node {node} does not point to the entry that names it"
        );
    }
    let (weight, capacity) = (policy.weight(), policy.capacity());
    drop(policy);
    assert!(
        weight <= capacity,
        "total weight {weight} is over the bound {capacity}"
    );
    let sum: u64 = entries
        .iter()
        // SAFETY: as above; `guard` is still pinned.
        .map(|&e| unsafe { Entry::<K>::shared(e).deref() })
        .map(|e| bound.weigher.weigh(&e.key, e.text()))
        .sum();
    assert_eq!(
        sum, weight,
        "the policy's total weight {weight} drifted from the entries' sum {sum}"
    );
}

#[cfg(test)]
mod tests {
    use std::{
        collections::hash_map::DefaultHasher,
        hash::{BuildHasher, Hasher},
        sync::{
            atomic::{AtomicU64, Ordering},
            Arc,
        },
    };

    use crate::StrCache;

    /// A hasher whose salt can change after keys were placed, leaving them
    /// where no lookup finds them, as a placement bug would.
    #[derive(Clone, Default)]
    struct Salted(Arc<AtomicU64>);

    impl BuildHasher for Salted {
        type Hasher = DefaultHasher;

        fn build_hasher(&self) -> DefaultHasher {
            let mut hasher = DefaultHasher::new();
            hasher.write_u64(self.0.load(Ordering::Relaxed));
            hasher
        }
    }

    fn filled(salt: &Salted) -> StrCache<u32, Salted> {
        let cache = StrCache::builder().shards(2).hasher(salt.clone()).build();
        for key in 0..40 {
            cache.insert(key, "value").unwrap();
        }
        for key in (0..40).step_by(3) {
            cache.remove(&key);
        }
        cache
    }

    #[test]
    fn a_sound_cache_passes() {
        let salt = Salted::default();
        let cache = filled(&salt);
        cache.validate();
        cache.clear();
        cache.validate();
    }

    #[test]
    #[should_panic(expected = "is not the key's hash tag")]
    fn misplaced_keys_are_caught() {
        let salt = Salted::default();
        let cache = filled(&salt);
        salt.0.store(1, Ordering::Relaxed);
        cache.validate();
    }
}
