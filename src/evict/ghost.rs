//! Ghost history: fingerprints of the keys that most recently left one part
//! of the cache, with how long ago each left. A miss on a young ghost says
//! that this part, had it been a little larger, would have served a hit;
//! the policy moves capacity toward the part whose ghosts are hit more.

/// Exit numbers count modulo 2^31, so that a slot holds a fingerprint, an
/// exit number and an occupied bit in one word.
const EXIT_MASK: u32 = (1 << 31) - 1;
/// A slot's occupied bit; an empty slot is 0.
const OCCUPIED: u64 = 1 << 63;
/// Slots a bucket holds: a fingerprint lives in one bucket, at any way.
const WAYS: usize = 4;
/// Slots the set holds per ghost its caller asks about (`limit`).
const SLOTS_PER_GHOST: usize = 2;
/// Fewest slots the set holds once it holds any.
const MIN_SLOTS: usize = 16;

/// The recent exits of one part of the cache, as a set-associative table
/// of fingerprints with their exit numbers: a fingerprint has one bucket
/// of [`WAYS`] slots, chosen by its bits, and a new ghost takes the slot
/// of its own fingerprint, or else an empty one, or else the oldest ghost's.
///
/// There is no queue of exits: the caller compares a ghost's age with its
/// horizon, and asks that the set have room for `limit` ghosts, which it
/// gives two slots each. A ghost is then forgotten early only when four
/// younger ghosts fall in its bucket before it ages past the horizon
/// (`limit` exits spread over `limit / 2` buckets bring two to a bucket
/// on average, and four or more about one time in seven), and an add or a
/// take reads one bucket: half a cache line.
///
/// Memory: 16 to 32 bytes per ghost of `limit` (the slots rounded up to a
/// power of two).
///
/// # Invariants
/// An occupied slot holds the exit number of the latest `add` of its
/// fingerprint, which no other slot holds. `exits` wraps to 0 only by
/// emptying every slot, so an age is never taken across the wrap.
#[derive(Debug, Default)]
pub(super) struct Ghosts {
    /// Occupied slots hold `OCCUPIED | exit << 32 | fingerprint`; the
    /// length is zero or a power of two, at least [`MIN_SLOTS`].
    slots: Vec<u64>,
    /// Exits counted so far, with or without a ghost (modulo 2^31).
    exits: u32,
}

impl Ghosts {
    /// An empty history.
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Number of live ghosts.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.iter().filter(|&&word| word != 0).count()
    }

    /// Counts an exit that leaves no ghost (the key stayed in the cache,
    /// in another part), so that later ghosts' ages stay exact.
    #[inline]
    pub(super) fn pass(&mut self) {
        self.exits = self.exits.wrapping_add(1) & EXIT_MASK;
        if self.exits == 0 {
            self.forget_all();
        }
    }

    /// Empties the set as the exit count wraps: every ghost is 2^31 exits
    /// old or younger, so forgetting them all keeps any age from wrapping.
    #[cold]
    fn forget_all(&mut self) {
        self.slots.fill(0);
    }

    /// Remembers the exit of the key with fingerprint `fp`, in a set with
    /// room for `limit` ghosts: the caller asks about no ghost older than
    /// `limit` exits.
    #[inline]
    pub(super) fn add(&mut self, fp: u32, limit: usize) {
        let wanted = limit.saturating_mul(SLOTS_PER_GHOST).max(MIN_SLOTS);
        if self.slots.len() < wanted {
            self.grow(wanted);
        }
        self.pass();
        let exits = self.exits;
        let ways = bucket_mut(&mut self.slots, fp);
        ways[way_for(ways, fp, exits)] = slot(fp, exits);
    }

    /// If the key with fingerprint `fp` is a ghost, forgets it and returns
    /// its age: how many exits (with or without a ghost) followed its own.
    #[inline]
    pub(super) fn take(&mut self, fp: u32) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let exits = self.exits;
        let ways = bucket_mut(&mut self.slots, fp);
        let word = ways.iter_mut().find(|word| holds(**word, fp))?;
        let age = age(*word, exits);
        *word = 0;
        Some(age)
    }

    /// Bytes held, roughly.
    pub(super) fn memory(&self) -> usize {
        self.slots.capacity() * 8
    }

    /// Takes at least `wanted` slots (a power of two) and places every
    /// ghost again, the youngest first, so that a bucket that overflows
    /// keeps its youngest.
    #[cold]
    fn grow(&mut self, wanted: usize) {
        let mut old = std::mem::replace(&mut self.slots, vec![0; wanted.next_power_of_two()]);
        old.retain(|&word| word != 0);
        let exits = self.exits;
        old.sort_unstable_by_key(|&word| age(word, exits));
        for word in old {
            let ways = bucket_mut(&mut self.slots, word as u32);
            let at = way_for(ways, word as u32, exits);
            if ways[at] == 0 {
                ways[at] = word;
            }
        }
    }
}

/// Whether slot `word` holds a ghost of `fp`.
#[inline]
fn holds(word: u64, fp: u32) -> bool {
    word & (OCCUPIED | u64::from(u32::MAX)) == OCCUPIED | u64::from(fp)
}

/// How many exits followed the one recorded in occupied slot `word`, when
/// `exits` exits have been counted.
#[inline]
fn age(word: u64, exits: u32) -> u32 {
    exits.wrapping_sub((word >> 32) as u32) & EXIT_MASK
}

/// The way of `ways`, `fp`'s bucket, that a new ghost of `fp` takes: the
/// one holding `fp`, else an empty one, else the oldest.
#[inline]
fn way_for(ways: &[u64; WAYS], fp: u32, exits: u32) -> usize {
    let mut pick = 0;
    let mut pick_age = 0;
    let mut empty = None;
    for (at, &word) in ways.iter().enumerate() {
        if word == 0 {
            empty = empty.or(Some(at));
        } else if holds(word, fp) {
            return at;
        } else if age(word, exits) >= pick_age {
            (pick, pick_age) = (at, age(word, exits));
        }
    }
    empty.unwrap_or(pick)
}

/// The bucket of `fp` in `slots`, whose length is a power of two, at
/// least [`WAYS`].
#[inline]
fn bucket_mut(slots: &mut [u64], fp: u32) -> &mut [u64; WAYS] {
    let start = bucket(fp, slots.len() - 1);
    let ways = &mut slots[start..start + WAYS];
    ways.try_into().expect("a bucket is WAYS slots")
}

/// The occupied slot of `fp`, which left at exit number `exit`.
fn slot(fp: u32, exit: u32) -> u64 {
    OCCUPIED | u64::from(exit & EXIT_MASK) << 32 | u64::from(fp)
}

/// The first slot of `fp`'s bucket in a set of `mask + 1` slots: the top
/// bits of a multiplication that spreads the fingerprint over 64 bits,
/// rounded down to a whole bucket.
#[inline]
fn bucket(fp: u32, mask: usize) -> usize {
    (u64::from(fp).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask & !(WAYS - 1)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn take_returns_the_age_once() {
        let mut ghosts = Ghosts::new();
        assert_eq!(ghosts.take(1), None);
        ghosts.add(1, 10);
        ghosts.pass();
        ghosts.add(2, 10);
        assert_eq!(ghosts.take(1), Some(2));
        assert_eq!(ghosts.take(1), None);
        assert_eq!(ghosts.take(2), Some(0));
        assert_eq!(ghosts.take(3), None);
        assert_eq!(ghosts.len(), 0);
    }

    #[test]
    fn a_re_added_ghost_keeps_one_slot_and_its_latest_exit() {
        let mut ghosts = Ghosts::new();
        ghosts.add(1, 3);
        ghosts.add(2, 3);
        ghosts.add(1, 3);
        assert_eq!(ghosts.len(), 2);
        assert_eq!(ghosts.take(1), Some(0));
        assert_eq!(ghosts.take(1), None);
    }

    /// Fingerprints that share a bucket in a set of `MIN_SLOTS` slots.
    fn one_bucket(count: usize) -> Vec<u32> {
        let mask = MIN_SLOTS - 1;
        let fps: Vec<u32> = (0..)
            .filter(|&fp| bucket(fp, mask) == bucket(0, mask))
            .take(count)
            .collect();
        assert_eq!(fps.len(), count);
        fps
    }

    #[test]
    fn a_full_bucket_forgets_its_oldest() {
        let fps = one_bucket(WAYS + 1);
        let mut ghosts = Ghosts::new();
        for &fp in &fps {
            ghosts.add(fp, 1);
        }
        assert_eq!(ghosts.slots.len(), MIN_SLOTS);
        assert_eq!(ghosts.take(fps[0]), None);
        for (age, &fp) in fps[1..].iter().rev().enumerate() {
            assert_eq!(ghosts.take(fp), Some(age as u32));
        }
    }

    #[test]
    fn growing_keeps_every_ghost_with_its_age() {
        let mut ghosts = Ghosts::new();
        for fp in 0..4 {
            ghosts.add(fp, 1);
        }
        ghosts.add(100, 1_000);
        assert!(ghosts.slots.len() >= SLOTS_PER_GHOST * 1_000);
        assert_eq!(ghosts.len(), 5);
        for fp in 0..4 {
            assert_eq!(ghosts.take(fp), Some(4 - fp));
        }
        assert_eq!(ghosts.take(100), Some(0));
    }

    #[test]
    fn the_exit_count_wraps_only_over_an_empty_set() {
        let mut ghosts = Ghosts::new();
        ghosts.add(1, 1);
        ghosts.exits = EXIT_MASK - 1;
        ghosts.add(2, 1);
        assert_eq!(ghosts.exits, EXIT_MASK);
        ghosts.pass();
        assert_eq!(ghosts.exits, 0);
        assert_eq!(ghosts.len(), 0);
        ghosts.add(3, 1);
        assert_eq!(ghosts.take(3), Some(0));
    }

    proptest::proptest! {
        // No failure file: Miri's isolation refuses the file system.
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 256 },
            failure_persistence: None,
            ..Default::default()
        })]

        /// Against a map from fingerprint to its latest exit: every age
        /// `take` returns is exact, and a ghost is only forgotten once
        /// `WAYS` other fingerprints have been added to its bucket since
        /// its own exit. Fingerprints from a small range fill buckets.
        #[test]
        fn ages_are_exact_and_only_full_buckets_forget(
            limit in 1usize..40,
            ops in proptest::collection::vec((0u8..3, 0u32..48), 1..400),
        ) {
            let mut ghosts = Ghosts::new();
            let mut exits = 0u32;
            let mut model: HashMap<u32, u32> = HashMap::new();
            // Every add, in order: (fingerprint, exit number).
            let mut log: Vec<(u32, u32)> = Vec::new();
            for (op, fp) in ops {
                match op {
                    0 => {
                        let taken = ghosts.take(fp);
                        let Some(exit) = model.remove(&fp) else {
                            proptest::prop_assert_eq!(taken, None);
                            continue;
                        };
                        let mask = ghosts.slots.len() - 1;
                        let mut rivals: Vec<u32> = log
                            .iter()
                            .filter(|&&(other, at)| {
                                at > exit
                                    && other != fp
                                    && bucket(other, mask) == bucket(fp, mask)
                            })
                            .map(|&(other, _)| other)
                            .collect();
                        rivals.sort_unstable();
                        rivals.dedup();
                        if rivals.len() < WAYS {
                            proptest::prop_assert_eq!(taken, Some(exits - exit));
                        } else if let Some(age) = taken {
                            proptest::prop_assert_eq!(age, exits - exit);
                        }
                    }
                    1 => {
                        ghosts.pass();
                        exits += 1;
                    }
                    _ => {
                        ghosts.add(fp, limit);
                        exits += 1;
                        model.insert(fp, exits);
                        log.push((fp, exits));
                    }
                }
                proptest::prop_assert!(ghosts.len() <= model.len());
            }
        }
    }
}
