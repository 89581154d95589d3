//! Ghost history: fingerprints of the keys that most recently left the
//! cache, with the part they left (the window or main) and how long ago.
//! A miss on a young ghost says that its part, had it been a little
//! larger, would have served a hit; the policy moves capacity toward the
//! part whose ghosts are hit more.

/// Exit numbers count modulo 2^30, so that a slot holds a fingerprint, an
/// exit number, its part and an occupied bit in one word.
const EXIT_MASK: u32 = (1 << 30) - 1;
/// A slot's occupied bit; an empty slot is 0.
const OCCUPIED: u64 = 1 << 63;
/// A slot's part bit: set for a ghost of main, clear for the window's.
const MAIN: u64 = 1 << 62;
/// Slots a bucket holds: a fingerprint lives in one bucket, at any way.
const WAYS: usize = 4;
/// Slots the set holds per ghost its caller asks about (`limit`, for each
/// of the two parts).
const SLOTS_PER_GHOST: usize = 2;
/// Fewest slots the set holds once it holds any.
const MIN_SLOTS: usize = 16;

/// The part of the cache a key left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    /// The window: a candidate that admission rejected.
    Window = 0,
    /// Main: a victim.
    Main = 1,
}

/// The recent exits of both parts of the cache, as one set-associative
/// table of fingerprints with their parts and exit numbers: a fingerprint
/// has one bucket of [`WAYS`] slots, chosen by its bits, and a new ghost
/// takes the slot of its own fingerprint (whichever part it left), or
/// else an empty one, or else the oldest ghost's. Each part counts its own
/// exits, and a ghost's age is in exits of its part.
///
/// There is no queue of exits: the caller compares a ghost's age with its
/// horizon, and asks that the set have room for `limit` ghosts of each
/// part, which it gives two slots each. A ghost is then forgotten early
/// only when four younger ghosts fall in its bucket before it ages past
/// the horizon (`2 x limit` exits spread over `limit` buckets bring two to
/// a bucket on average, and four or more about one time in seven). A miss
/// asks about both parts with one take, and an add or a take reads one
/// bucket: half a cache line.
///
/// Memory: 32 to 64 bytes per ghost of `limit` (the slots rounded up to a
/// power of two).
///
/// # Invariants
/// An occupied slot holds the part and exit number of the latest `add` of
/// its fingerprint, which no other slot holds. A part's exit count wraps to
/// 0 only by emptying every slot, so an age is never taken across the
/// wrap.
#[derive(Debug, Default)]
pub(super) struct Ghosts {
    /// Occupied slots hold `OCCUPIED | part | exit << 32 | fingerprint`,
    /// where `part` is [`MAIN`] or 0; the length is zero or a power of two,
    /// at least [`MIN_SLOTS`].
    slots: Vec<u64>,
    /// Exits counted so far by each part, with or without a ghost (modulo
    /// 2^30), indexed by [`Part`].
    exits: [u32; 2],
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

    /// Counts an exit of `part` that leaves no ghost (the key stayed in
    /// the cache, in another part), so that later ghosts' ages stay exact.
    #[inline]
    pub(super) fn pass(&mut self, part: Part) {
        let exits = &mut self.exits[part as usize];
        *exits = exits.wrapping_add(1) & EXIT_MASK;
        if *exits == 0 {
            self.forget_all();
        }
    }

    /// Empties the set as an exit count wraps: every ghost of the part is
    /// 2^30 exits old or younger, so forgetting them all keeps any age
    /// from wrapping.
    #[cold]
    fn forget_all(&mut self) {
        self.slots.fill(0);
    }

    /// Remembers the exit of the key with fingerprint `fp` from `part`, in
    /// a set with room for `limit` ghosts of each part: the caller asks
    /// about no ghost older than `limit` exits of its part.
    #[inline]
    pub(super) fn add(&mut self, part: Part, fp: u32, limit: usize) {
        let wanted = limit.saturating_mul(2 * SLOTS_PER_GHOST).max(MIN_SLOTS);
        if self.slots.len() < wanted {
            self.grow(wanted);
        }
        self.pass(part);
        let exits = self.exits;
        let ways = bucket_mut(&mut self.slots, fp);
        ways[way_for(ways, fp, exits)] = slot(part, fp, exits[part as usize]);
    }

    /// If the key with fingerprint `fp` is a ghost, forgets it and returns
    /// the part it left and its age: how many exits of that part (with or
    /// without a ghost) followed its own.
    #[inline]
    pub(super) fn take(&mut self, fp: u32) -> Option<(Part, u32)> {
        if self.slots.is_empty() {
            return None;
        }
        let exits = self.exits;
        let ways = bucket_mut(&mut self.slots, fp);
        let word = ways.iter_mut().find(|word| holds(**word, fp))?;
        let taken = (part_of(*word), age(*word, exits));
        *word = 0;
        Some(taken)
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

/// The part that occupied slot `word` records.
#[inline]
fn part_of(word: u64) -> Part {
    if word & MAIN != 0 {
        Part::Main
    } else {
        Part::Window
    }
}

/// How many exits of its part followed the one recorded in occupied slot
/// `word`, when the parts have counted `exits`.
#[inline]
fn age(word: u64, exits: [u32; 2]) -> u32 {
    let exit = (word >> 32) as u32 & EXIT_MASK;
    exits[part_of(word) as usize].wrapping_sub(exit) & EXIT_MASK
}

/// The way of `ways`, `fp`'s bucket, that a new ghost of `fp` takes: the
/// one holding `fp`, else an empty one, else the oldest.
#[inline]
fn way_for(ways: &[u64; WAYS], fp: u32, exits: [u32; 2]) -> usize {
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

/// The occupied slot of `fp`, which left `part` at exit number `exit`.
#[inline]
fn slot(part: Part, fp: u32, exit: u32) -> u64 {
    let part = match part {
        Part::Window => 0,
        Part::Main => MAIN,
    };
    OCCUPIED | part | u64::from(exit & EXIT_MASK) << 32 | u64::from(fp)
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

    use Part::{Main, Window};

    #[test]
    fn take_returns_the_part_and_age_once() {
        let mut ghosts = Ghosts::new();
        assert_eq!(ghosts.take(1), None);
        ghosts.add(Window, 1, 10);
        ghosts.pass(Window);
        ghosts.add(Main, 2, 10);
        ghosts.add(Window, 3, 10);
        assert_eq!(ghosts.take(1), Some((Window, 2)));
        assert_eq!(ghosts.take(1), None);
        assert_eq!(ghosts.take(2), Some((Main, 0)));
        assert_eq!(ghosts.take(3), Some((Window, 0)));
        assert_eq!(ghosts.take(4), None);
        assert_eq!(ghosts.len(), 0);
    }

    #[test]
    fn a_re_added_ghost_keeps_one_slot_and_its_latest_exit() {
        let mut ghosts = Ghosts::new();
        ghosts.add(Window, 1, 3);
        ghosts.add(Window, 2, 3);
        ghosts.add(Main, 1, 3);
        assert_eq!(ghosts.len(), 2);
        assert_eq!(ghosts.take(1), Some((Main, 0)));
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
            ghosts.add(Window, fp, 1);
        }
        assert_eq!(ghosts.slots.len(), MIN_SLOTS);
        assert_eq!(ghosts.take(fps[0]), None);
        for (age, &fp) in fps[1..].iter().rev().enumerate() {
            assert_eq!(ghosts.take(fp), Some((Window, age as u32)));
        }
    }

    #[test]
    fn ages_count_the_exits_of_the_ghosts_own_part() {
        let fps = one_bucket(WAYS + 1);
        let mut ghosts = Ghosts::new();
        // Main's ghost is the oldest in time, but only one exit of main
        // followed it; the window's first ghost is three exits old.
        ghosts.add(Main, fps[0], 1);
        for &fp in &fps[1..WAYS] {
            ghosts.add(Window, fp, 1);
        }
        ghosts.pass(Main);
        ghosts.add(Window, fps[WAYS], 1);
        assert_eq!(ghosts.take(fps[1]), None);
        assert_eq!(ghosts.take(fps[0]), Some((Main, 1)));
    }

    #[test]
    fn growing_keeps_every_ghost_with_its_age() {
        let mut ghosts = Ghosts::new();
        for fp in 0..4 {
            ghosts.add(Window, fp, 1);
        }
        ghosts.add(Main, 100, 1_000);
        assert!(ghosts.slots.len() >= 2 * SLOTS_PER_GHOST * 1_000);
        assert_eq!(ghosts.len(), 5);
        for fp in 0..4 {
            assert_eq!(ghosts.take(fp), Some((Window, 3 - fp)));
        }
        assert_eq!(ghosts.take(100), Some((Main, 0)));
    }

    #[test]
    fn an_exit_count_wraps_only_over_an_empty_set() {
        let mut ghosts = Ghosts::new();
        ghosts.add(Window, 1, 1);
        ghosts.add(Main, 2, 1);
        ghosts.exits[Main as usize] = EXIT_MASK - 1;
        ghosts.add(Main, 3, 1);
        assert_eq!(ghosts.exits[Main as usize], EXIT_MASK);
        assert_eq!(ghosts.len(), 3);
        ghosts.pass(Main);
        assert_eq!(ghosts.exits[Main as usize], 0);
        assert_eq!(ghosts.len(), 0);
        ghosts.add(Main, 4, 1);
        assert_eq!(ghosts.take(4), Some((Main, 0)));
    }

    proptest::proptest! {
        // No failure file: Miri's isolation refuses the file system.
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 256 },
            failure_persistence: None,
            ..Default::default()
        })]

        /// Against a map from fingerprint to the part and exit number of
        /// its latest exit: every take returns exactly what the map holds,
        /// and an add forgets another ghost only when the bucket it falls
        /// in is full and holds no ghost of its own fingerprint, and then
        /// forgets one ghost, the oldest in exits of its own part.
        /// Fingerprints from a small range fill buckets.
        #[test]
        fn takes_are_exact_and_only_full_buckets_forget_their_oldest(
            limit in 1usize..40,
            ops in proptest::collection::vec((0u8..5, 0u32..48), 1..400),
        ) {
            let mut ghosts = Ghosts::new();
            let mut exits = [0u32; 2];
            let mut model: HashMap<u32, (Part, u32)> = HashMap::new();
            let age = |exits: [u32; 2], (part, exit): (Part, u32)| exits[part as usize] - exit;
            for (op, fp) in ops {
                let part = if op % 2 == 0 { Window } else { Main };
                match op {
                    0 => {
                        let want = model.remove(&fp).map(|seen| (seen.0, age(exits, seen)));
                        proptest::prop_assert_eq!(ghosts.take(fp), want);
                    }
                    1 | 2 => {
                        ghosts.pass(part);
                        exits[part as usize] += 1;
                    }
                    _ => {
                        ghosts.add(part, fp, limit);
                        // The ghosts of fp's bucket before the add, in the
                        // set as the add left it (growing loses none).
                        let mask = ghosts.slots.len() - 1;
                        let before: Vec<u32> = model
                            .keys()
                            .copied()
                            .filter(|&other| bucket(other, mask) == bucket(fp, mask))
                            .collect();
                        exits[part as usize] += 1;
                        model.insert(fp, (part, exits[part as usize]));
                        let lost: Vec<u32> = before
                            .iter()
                            .copied()
                            .filter(|&other| !ghosts.slots.iter().any(|&word| holds(word, other)))
                            .collect();
                        if before.len() < WAYS || before.contains(&fp) {
                            proptest::prop_assert!(lost.is_empty(), "{:?}", lost);
                        } else {
                            proptest::prop_assert_eq!(lost.len(), 1);
                            let oldest = before
                                .iter()
                                .map(|other| age(exits, model[other]))
                                .max();
                            proptest::prop_assert_eq!(Some(age(exits, model[&lost[0]])), oldest);
                            model.remove(&lost[0]);
                        }
                    }
                }
                proptest::prop_assert_eq!(ghosts.len(), model.len());
            }
        }
    }
}
