//! Ghost history: fingerprints of the keys that most recently left one part
//! of the cache, with how long ago each left. A miss on a young ghost says
//! that this part, had it been a little larger, would have served a hit;
//! the policy moves capacity toward the part whose ghosts are hit more.

use std::collections::VecDeque;

/// Exit numbers count modulo 2^31, so that a slot holds a fingerprint, an
/// exit number and an occupied bit in one word.
const EXIT_MASK: u32 = (1 << 31) - 1;
/// A slot's occupied bit; an empty slot is 0.
const OCCUPIED: u64 = 1 << 63;
/// Fewest slots the set holds once it holds any.
const MIN_SLOTS: usize = 16;

/// The most recent exits of one part of the cache, as a bounded FIFO set of
/// fingerprints.
///
/// The set is an open-addressed table probed linearly from a slot chosen
/// by the fingerprint, with no tombstones: a removal moves the slots after
/// it back (backward-shift deletion), so the first empty slot ends every
/// search. It is at most half full, so that a search for an absent
/// fingerprint, the common case, meets an empty slot within a few slots.
///
/// Memory: 8 bytes per ghost in the queue, and 16 to 32 in the set (one
/// 8-byte slot per ghost at its load of 1/4 to 1/2).
///
/// # Invariants
/// Every fingerprint of `slots` is in `queue`, and its slot holds the exit
/// number of its latest position there. A queue position whose fingerprint
/// was taken, or added again later, is stale: popping it leaves the set
/// alone. `live` counts the occupied slots.
#[derive(Debug, Default)]
pub(super) struct Ghosts {
    /// Occupied slots hold `OCCUPIED | exit << 32 | fingerprint`; the
    /// length is zero or a power of two at least twice `live`.
    slots: Vec<u64>,
    /// Occupied slots.
    live: usize,
    /// Fingerprints and their exit numbers, oldest first.
    queue: VecDeque<(u32, u32)>,
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
        self.live
    }

    /// Counts an exit that leaves no ghost (the key stayed in the cache,
    /// in another part), so that later ghosts' ages stay exact.
    pub(super) fn pass(&mut self) {
        self.exits = self.exits.wrapping_add(1) & EXIT_MASK;
    }

    /// Remembers the exit of the key with fingerprint `fp`, then forgets
    /// the oldest ghosts until at most `limit` queue positions remain.
    pub(super) fn add(&mut self, fp: u32, limit: usize) {
        if self.slots.is_empty() {
            self.slots = vec![0; MIN_SLOTS];
        }
        self.pass();
        let exit = self.exits;
        match self.find(fp) {
            Ok(index) => self.slots[index] = slot(fp, exit),
            Err(index) => {
                self.slots[index] = slot(fp, exit);
                self.live += 1;
                if self.live * 2 > self.slots.len() {
                    self.grow();
                }
            }
        }
        self.queue.push_back((fp, exit));
        while self.queue.len() > limit {
            let Some((old, exit)) = self.queue.pop_front() else {
                break;
            };
            if let Ok(index) = self.find(old) {
                if self.slots[index] == slot(old, exit) {
                    self.remove(index);
                }
            }
        }
    }

    /// If the key with fingerprint `fp` is a ghost, forgets it and returns
    /// its age: how many exits (with or without a ghost) followed its own.
    pub(super) fn take(&mut self, fp: u32) -> Option<u32> {
        if self.live == 0 {
            return None;
        }
        let index = self.find(fp).ok()?;
        let exit = (self.slots[index] >> 32) as u32 & EXIT_MASK;
        self.remove(index);
        Some(self.exits.wrapping_sub(exit) & EXIT_MASK)
    }

    /// Bytes held, roughly.
    pub(super) fn memory(&self) -> usize {
        self.queue.capacity() * 8 + self.slots.capacity() * 8
    }

    /// The slot holding `fp` (`Ok`), or the empty slot that ends its search
    /// (`Err`), where it would go. The set must have slots, not all full.
    fn find(&self, fp: u32) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut index = home(fp, mask);
        loop {
            let word = self.slots[index];
            if word == 0 {
                return Err(index);
            }
            if word as u32 == fp {
                return Ok(index);
            }
            index = (index + 1) & mask;
        }
    }

    /// Empties occupied slot `index`, moving back each later slot of its
    /// run whose search passes the hole, so that no search stops short.
    fn remove(&mut self, index: usize) {
        let mask = self.slots.len() - 1;
        let mut hole = index;
        let mut next = index;
        loop {
            next = (next + 1) & mask;
            let word = self.slots[next];
            if word == 0 {
                break;
            }
            // The hole lies on this slot's search, from its home to it.
            let from_home = next.wrapping_sub(home(word as u32, mask)) & mask;
            if from_home >= next.wrapping_sub(hole) & mask {
                self.slots[hole] = word;
                hole = next;
            }
        }
        self.slots[hole] = 0;
        self.live -= 1;
    }

    /// Doubles the slots and places every ghost again.
    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for word in old.into_iter().filter(|&word| word != 0) {
            if let Err(index) = self.find(word as u32) {
                self.slots[index] = word;
            }
        }
    }
}

/// The occupied slot of `fp`, which left at exit number `exit`.
fn slot(fp: u32, exit: u32) -> u64 {
    OCCUPIED | u64::from(exit & EXIT_MASK) << 32 | u64::from(fp)
}

/// Where the search for `fp` starts in a set of `mask + 1` slots: the top
/// bits of a multiplication that spreads the fingerprint over 64 bits.
fn home(fp: u32, mask: usize) -> usize {
    (u64::from(fp).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_the_age_once() {
        let mut ghosts = Ghosts::new();
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
    fn the_oldest_are_forgotten_past_the_limit() {
        let mut ghosts = Ghosts::new();
        for fp in 0..10 {
            ghosts.add(fp, 4);
        }
        assert_eq!(ghosts.len(), 4);
        assert_eq!(ghosts.take(5), None);
        assert_eq!(ghosts.take(6), Some(3));
    }

    #[test]
    fn a_re_added_ghost_outlives_its_stale_position() {
        let mut ghosts = Ghosts::new();
        ghosts.add(1, 3);
        ghosts.add(2, 3);
        ghosts.add(1, 3);
        // Pops 1's first position, which is stale: 1 stays.
        ghosts.add(3, 3);
        assert_eq!(ghosts.take(1), Some(1));
        assert_eq!(ghosts.len(), 2);
    }

    /// The behaviour `Ghosts` keeps: a map from fingerprint to exit number
    /// beside the same queue.
    #[derive(Default)]
    struct Model {
        map: std::collections::HashMap<u32, u32>,
        queue: VecDeque<(u32, u32)>,
        exits: u32,
    }

    impl Model {
        fn add(&mut self, fp: u32, limit: usize) {
            self.exits += 1;
            self.map.insert(fp, self.exits);
            self.queue.push_back((fp, self.exits));
            while self.queue.len() > limit {
                let (old, exit) = self.queue.pop_front().unwrap();
                if self.map.get(&old) == Some(&exit) {
                    self.map.remove(&old);
                }
            }
        }

        fn take(&mut self, fp: u32) -> Option<u32> {
            self.map.remove(&fp).map(|exit| self.exits - exit)
        }
    }

    proptest::proptest! {
        // No failure file: Miri's isolation refuses the file system.
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 256 },
            failure_persistence: None,
            ..Default::default()
        })]

        /// Fingerprints from a small range share home slots and runs, so
        /// removals shift slots back across runs and the table wraps.
        #[test]
        fn matches_a_map_beside_a_queue(
            ops in proptest::collection::vec((0u8..3, 0u32..48, 1usize..40), 1..400),
        ) {
            let (mut ghosts, mut model) = (Ghosts::new(), Model::default());
            for (op, fp, limit) in ops {
                match op {
                    0 => proptest::prop_assert_eq!(ghosts.take(fp), model.take(fp)),
                    1 => {
                        ghosts.pass();
                        model.exits += 1;
                    }
                    _ => {
                        ghosts.add(fp, limit);
                        model.add(fp, limit);
                    }
                }
                proptest::prop_assert_eq!(ghosts.len(), model.map.len());
                proptest::prop_assert!(ghosts.len() * 2 <= ghosts.slots.len());
            }
            for fp in 0..48 {
                proptest::prop_assert_eq!(ghosts.take(fp), model.take(fp));
            }
            proptest::prop_assert_eq!(ghosts.len(), 0);
            proptest::prop_assert!(ghosts.slots.iter().all(|&word| word == 0));
        }
    }
}
