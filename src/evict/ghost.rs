//! Ghost history: fingerprints of the keys that most recently left one part
//! of the cache, with how long ago each left. A miss on a young ghost says
//! that this part, had it been a little larger, would have served a hit;
//! the policy moves capacity toward the part whose ghosts are hit more.

use std::{
    collections::{hash_map::Entry, HashMap, VecDeque},
    hash::{BuildHasherDefault, Hasher},
};

/// Hashes a fingerprint, random already, by one multiplication that spreads
/// it over all 64 bits (the map's table needs the high bits too).
#[derive(Debug, Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = ((self.0 << 8) | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The most recent exits of one part of the cache, as a bounded FIFO set of
/// fingerprints.
///
/// Memory: about 18 bytes per ghost (8 in the queue; 8 plus a control byte
/// in the map, at its load factor of 7/8).
///
/// # Invariants
/// Every key of `map` is in `queue`, and maps to the exit number of its
/// latest position there. A queue position whose fingerprint was taken, or
/// added again later, is stale: popping it leaves the map alone.
#[derive(Debug, Default)]
pub(super) struct Ghosts {
    /// Live fingerprints to their exit number.
    map: HashMap<u32, u32, BuildHasherDefault<Spread>>,
    /// Fingerprints and their exit numbers, oldest first.
    queue: VecDeque<(u32, u32)>,
    /// Exits counted so far, with or without a ghost (wrapping).
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
        self.map.len()
    }

    /// Counts an exit that leaves no ghost (the key stayed in the cache,
    /// in another part), so that later ghosts' ages stay exact.
    pub(super) fn pass(&mut self) {
        self.exits = self.exits.wrapping_add(1);
    }

    /// Remembers the exit of the key with fingerprint `fp`, then forgets
    /// the oldest ghosts until at most `limit` queue positions remain.
    pub(super) fn add(&mut self, fp: u32, limit: usize) {
        self.exits = self.exits.wrapping_add(1);
        self.map.insert(fp, self.exits);
        self.queue.push_back((fp, self.exits));
        while self.queue.len() > limit {
            let Some((old, exit)) = self.queue.pop_front() else {
                break;
            };
            if let Entry::Occupied(ghost) = self.map.entry(old) {
                if *ghost.get() == exit {
                    ghost.remove();
                }
            }
        }
    }

    /// If the key with fingerprint `fp` is a ghost, forgets it and returns
    /// its age: how many exits (with or without a ghost) followed its own.
    pub(super) fn take(&mut self, fp: u32) -> Option<u32> {
        let exit = self.map.remove(&fp)?;
        Some(self.exits.wrapping_sub(exit))
    }

    /// Bytes held, roughly.
    pub(super) fn memory(&self) -> usize {
        self.queue.capacity() * 8 + self.map.capacity() * 9
    }
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
}
