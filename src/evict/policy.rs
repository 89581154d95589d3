//! The eviction policy: W-TinyLFU over clock queues, fed by readers' marks,
//! with the window's share of the capacity adapted by ghost hits.
//!
//! # Algorithm
//! A new entry enters the *window*, a small FIFO queue. When the window is
//! over its share of the capacity, its oldest entry (a marked one goes
//! round again, its marks counted) is a *candidate* for the *main* queue,
//! a segmented queue (*probation*, then *protected* for entries requested
//! while in main). If main is full, the candidate duels with main's victim,
//! the oldest unmarked entry of probation: the frequency sketch decides,
//! and the one requested more often recently stays (TinyLFU admission;
//! ties go to the incumbent, which makes the policy scan resistant). As in
//! Caffeine, a warm candidate (estimate at least [`JITTER_MIN`]) that loses
//! still wins once in [`JITTER_ODDS`] duels, so that no victim stays
//! forever, whether its estimate is inflated by colliding keys (hash
//! flooding) or stale from a set of keys no longer requested. The sketch
//! halves its counters once ten times the tracked entries in additions
//! have passed, as Caffeine's does, or later while the victims' estimates
//! are low (see `sketch`).
//!
//! No single split of the capacity fits every workload: recency-heavy
//! traces want a large window, frequency-heavy ones a small one. The
//! policy keeps ghosts of the most recent exits of each part, the window
//! (rejected candidates) and main (evicted victims). A miss on a young
//! ghost of one part (age below 2% of the tracked entries) shows that the
//! part, slightly larger, would have served a hit, so the window target
//! moves toward it by twice the entry's weight. In equilibrium both
//! parts gain equally from the margin, which is where the hit ratio peaks
//! (the same gradient signal Caffeine's hill climber samples, but read
//! per miss, with no need to see hits).
//!
//! Readers' marks are the only signal of hits: the policy reads them when a
//! clock hand reaches an entry, folds them into the sketch, and gives the
//! entry another round (in the window), or a promotion (probation to
//! protected), or another round in protected. Every hand step clears what
//! it read, and a sweep gives up after [`MAX_SCAN`] steps, so eviction
//! terminates even while readers mark everything.

use std::fmt;

use super::{
    ghost::{Ghosts, Part},
    list::{Arena, List},
    sketch::Sketch,
};

/// Index of a tracked entry; reused after the entry leaves.
pub(crate) type NodeId = u32;

/// What the policy needs from the cache's handle of an entry.
pub(crate) trait Marks {
    /// Returns how many times readers marked the entry since the last call
    /// (0..=3: readers increment a 2-bit saturating counter and store nothing
    /// once it is saturated) and resets it to 0.
    fn take_marks(&self) -> u8;
}

/// `meta` bits: the queue a node is on.
const QUEUE: u8 = 0b11;
/// Queue of new entries.
const WINDOW: u8 = 1;
/// Main queue, segment of entries not requested since admission.
const PROBATION: u8 = 2;
/// Main queue, segment of entries requested while in main.
const PROTECTED: u8 = 3;
/// `meta` bit: the entry was updated since the policy last looked at it.
const TOUCHED: u8 = 0b100;

/// Most clock steps one sweep takes before it stops looking for an
/// unmarked node and takes the one under the hand.
const MAX_SCAN: u32 = 64;
/// The window's share of the capacity at the start.
const WINDOW_START: f64 = 0.10;
/// Least share of the window.
const WINDOW_MIN: f64 = 0.01;
/// Greatest share of the window.
const WINDOW_MAX: f64 = 0.80;
/// Share of main that protected may hold.
const PROTECTED_SHARE: f64 = 0.60;
/// Ghosts younger than this many tracked entries (as a divisor: 1/50) count.
const GHOST_HORIZON: usize = 50;
/// Weight units the window target moves per unit of weight of a ghost hit.
const STEP: f64 = 2.0;
/// Least estimate of a losing candidate that may still be admitted.
const JITTER_MIN: u8 = 6;
/// A losing warm candidate is admitted once in this many duels, on average.
const JITTER_ODDS: u64 = 128;

/// An eviction policy for a cache of weighted entries: adaptive W-TinyLFU.
///
/// Memory: 24 bytes per tracked entry plus its handle (32 bytes with a
/// pointer-sized handle; see [`Node`](super::list::Node)), plus per unit of
/// tracked entries about 8 to 16 bytes of sketch and 0.64 to 1.28 bytes
/// of ghosts.
pub(crate) struct Policy<H> {
    /// Every tracked node.
    arena: Arena<H>,
    /// New entries, oldest first; a clock: marked nodes go round again.
    window: List,
    /// Admitted entries not requested since, oldest first; victims come
    /// from its head.
    probation: List,
    /// Admitted entries requested since admission, oldest first; a clock.
    protected: List,
    /// Bound on the total weight.
    capacity: u64,
    /// Weight the window may hold before its oldest entries move on.
    window_target: f64,
    /// `window_target` in whole units of weight.
    window_limit: u64,
    /// The weight protected may hold: its share of main's target.
    protected_limit: u64,
    /// Recent request frequencies, for admission.
    sketch: Sketch,
    /// The latest exits of the window (rejected candidates) and of main
    /// (victims).
    ghosts: Ghosts,
    /// State of the xorshift generator behind admission's jitter; never 0.
    random: u64,
}

impl<H: Marks> Policy<H> {
    /// A policy that keeps total weight <= capacity (weights are u64: 1 per
    /// entry for max_entries, bytes for max_bytes).
    pub(crate) fn new(capacity: u64) -> Self {
        let mut policy = Self {
            arena: Arena::new(),
            window: List::new(),
            probation: List::new(),
            protected: List::new(),
            capacity,
            window_target: 0.0,
            window_limit: 0,
            protected_limit: 0,
            sketch: Sketch::new(),
            ghosts: Ghosts::new(),
            random: 0x2545_F491_4F6C_DD1D,
        };
        policy.set_window_target(capacity as f64 * WINDOW_START);
        policy
    }

    /// Moves the window's target to `target` and the limits derived from
    /// it, which `evict` reads on every call.
    fn set_window_target(&mut self, target: f64) {
        self.window_target = target;
        self.window_limit = target as u64;
        let main = self.capacity.saturating_sub(self.window_limit);
        self.protected_limit = (main as f64 * PROTECTED_SHARE) as u64;
    }

    /// The bound on the total weight.
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Sum of the weights of the tracked entries.
    pub(crate) fn weight(&self) -> u64 {
        self.window.weight() + self.probation.weight() + self.protected.weight()
    }

    /// Number of tracked entries.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn len(&self) -> usize {
        self.arena.len()
    }

    /// Tracks a newly inserted key (it was absent). `hash` is the key's full
    /// 64-bit hash. Never evicts by itself.
    ///
    /// # Panics
    /// If `u32::MAX - 1` entries are tracked already.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64, weight: u64, handle: H) -> NodeId {
        let fp = (hash ^ (hash >> 32)) as u32;
        self.sketch.ensure_capacity(self.arena.len() + 1);
        self.sketch.increment(fp, 1);
        self.adapt(fp, weight);
        let id = self.arena.alloc(handle, weight, fp, WINDOW);
        self.arena.push_back(&mut self.window, id);
        id
    }

    /// The key of `node` got a new value: new weight and handle; returns the
    /// old handle. Counts as an access.
    ///
    /// # Panics
    /// If `node` is not tracked.
    pub(crate) fn update(&mut self, node: NodeId, weight: u64, handle: H) -> H {
        assert!(self.arena.is_tracked(node), "evict: node is not tracked");
        let meta = self.arena.get(node).meta;
        let mut list = *self.list(meta);
        self.arena.reweigh(&mut list, node, weight);
        *self.list_mut(meta) = list;
        let n = self.arena.get_mut(node);
        n.meta |= TOUCHED;
        let fp = n.fp;
        let old = n.handle.replace(handle);
        self.sketch.increment(fp, 1);
        old.expect("evict: node is not tracked")
    }

    /// The entry was removed by the user (or expired): forget it, return its
    /// handle.
    ///
    /// # Panics
    /// If `node` is not tracked.
    pub(crate) fn remove(&mut self, node: NodeId) -> H {
        assert!(self.arena.is_tracked(node), "evict: node is not tracked");
        self.detach(node);
        self.arena.release(node)
    }

    /// The handle of `node`.
    ///
    /// # Panics
    /// If `node` is not tracked.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn handle(&self, node: NodeId) -> &H {
        let handle = self.arena.get(node).handle.as_ref();
        handle.expect("evict: node is not tracked")
    }

    /// Picks and forgets one victim; the cache calls this while `weight() >
    /// capacity()`. May return the node just inserted (admission rejection).
    /// Returns `None` only when empty.
    pub(crate) fn evict(&mut self) -> Option<(NodeId, H)> {
        if self.arena.len() == 0 {
            return None;
        }
        let window_target = self.window_limit;
        let main_target = self.capacity.saturating_sub(window_target);
        // Each round moves a candidate from the window to main, so this
        // ends after at most the window's length of rounds.
        loop {
            let main = self.probation.weight() + self.protected.weight();
            if self.window.len() == 0 || (self.window.weight() <= window_target && main > 0) {
                let victim = self.main_victim()?;
                return Some(self.evict_from_main(victim));
            }
            let candidate = self.window_candidate();
            self.arena.unlink(&mut self.window, candidate);
            if main + self.arena.get(candidate).weight <= main_target {
                self.ghosts.pass(Part::Window);
                self.enter_main(candidate);
                continue;
            }
            return Some(match self.main_victim() {
                Some(victim) if self.admit(candidate, victim) => {
                    self.ghosts.pass(Part::Window);
                    self.enter_main(candidate);
                    self.evict_from_main(victim)
                }
                _ => self.reject(candidate),
            });
        }
    }

    /// Forgets every tracked entry and returns their handles. The frequency
    /// sketch, the ghosts and the window's share are kept: they describe the
    /// workload, which a clear does not change.
    pub(crate) fn clear(&mut self) -> Vec<H> {
        self.window = List::new();
        self.probation = List::new();
        self.protected = List::new();
        self.arena.drain()
    }

    /// Moves the window target toward the part of the cache that has a
    /// young ghost of the key with fingerprint `fp`, now missed.
    fn adapt(&mut self, fp: u32, weight: u64) {
        let horizon = u32::try_from(self.arena.len() / GHOST_HORIZON).unwrap_or(u32::MAX);
        match self.ghosts.take(fp) {
            Some((Part::Window, age)) if age < horizon => {
                let most = self.capacity as f64 * WINDOW_MAX;
                self.set_window_target((self.window_target + STEP * weight as f64).min(most));
            }
            Some((Part::Main, age)) if age < horizon => {
                let least = self.capacity as f64 * WINDOW_MIN;
                self.set_window_target((self.window_target - STEP * weight as f64).max(least));
            }
            _ => {}
        }
    }

    /// The ghost limit: exits older than the horizon are never counted.
    fn ghost_limit(&self) -> usize {
        self.arena.len() / GHOST_HORIZON + 1
    }

    /// Evicts `candidate`, off every queue, leaving a window ghost.
    fn reject(&mut self, candidate: NodeId) -> (NodeId, H) {
        let limit = self.ghost_limit();
        self.ghosts
            .add(Part::Window, self.arena.get(candidate).fp, limit);
        (candidate, self.arena.release(candidate))
    }

    /// Evicts `victim`, on a main queue, leaving a main ghost.
    fn evict_from_main(&mut self, victim: NodeId) -> (NodeId, H) {
        let limit = self.ghost_limit();
        self.ghosts
            .add(Part::Main, self.arena.get(victim).fp, limit);
        self.detach(victim);
        (victim, self.arena.release(victim))
    }

    /// Whether `candidate`, leaving the window, should replace `victim`,
    /// main's next victim: TinyLFU's rule, the one requested more often
    /// recently stays, the incumbent on a tie; but a warm candidate wins
    /// once in [`JITTER_ODDS`] duels it loses.
    fn admit(&mut self, candidate: NodeId, victim: NodeId) -> bool {
        let candidate = self.sketch.frequency(self.arena.get(candidate).fp);
        let victim = self.sketch.frequency(self.arena.get(victim).fp);
        self.sketch.record_victim(victim);
        if candidate > victim {
            return true;
        }
        candidate >= JITTER_MIN && self.next_random().is_multiple_of(JITTER_ODDS)
    }

    /// The next number of the xorshift64 generator.
    fn next_random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    /// Puts `node`, on no queue, at the tail of probation.
    fn enter_main(&mut self, node: NodeId) {
        self.set_queue(node, PROBATION);
        self.arena.push_back(&mut self.probation, node);
    }

    /// Records that `node` is on `queue` now.
    fn set_queue(&mut self, node: NodeId, queue: u8) {
        let n = self.arena.get_mut(node);
        n.meta = (n.meta & !QUEUE) | queue;
    }

    /// Takes `node` off its queue.
    fn detach(&mut self, node: NodeId) {
        let meta = self.arena.get(node).meta;
        let mut list = *self.list(meta);
        self.arena.unlink(&mut list, node);
        *self.list_mut(meta) = list;
    }

    /// The queue named by `meta`.
    fn list(&self, meta: u8) -> &List {
        match meta & QUEUE {
            WINDOW => &self.window,
            PROBATION => &self.probation,
            _ => &self.protected,
        }
    }

    /// The queue named by `meta`, mutably.
    fn list_mut(&mut self, meta: u8) -> &mut List {
        match meta & QUEUE {
            WINDOW => &mut self.window,
            PROBATION => &mut self.probation,
            _ => &mut self.protected,
        }
    }

    /// Collects the accesses to `node` since the policy last looked (its
    /// readers' marks and an update) and counts the marks in the sketch;
    /// returns whether there were any.
    fn take_accesses(&mut self, node: NodeId) -> bool {
        let n = self.arena.get_mut(node);
        let touched = n.meta & TOUCHED != 0;
        n.meta &= !TOUCHED;
        let marks = n.handle.as_ref().map_or(0, Marks::take_marks);
        if marks == 0 {
            return touched;
        }
        let fp = n.fp;
        self.sketch.increment(fp, marks);
        true
    }

    /// The window's oldest unaccessed node (accessed ones go round again),
    /// still on the window, which must not be empty.
    fn window_candidate(&mut self) -> NodeId {
        for _ in 0..MAX_SCAN {
            let head = self.window.head().expect("evict: window is empty");
            if !self.take_accesses(head) {
                return head;
            }
            self.arena.rotate(&mut self.window);
        }
        self.window.head().expect("evict: window is empty")
    }

    /// Main's next victim, still on its queue, or `None` when main is empty:
    /// the oldest unaccessed node of probation; accessed nodes met on the
    /// way are promoted to protected.
    fn main_victim(&mut self) -> Option<NodeId> {
        let protected_target = self.protected_limit;
        for _ in 0..MAX_SCAN {
            if self.probation.len() == 0 && !self.demote() {
                return None;
            }
            let head = self.probation.head()?;
            if !self.take_accesses(head) {
                return Some(head);
            }
            self.arena.unlink(&mut self.probation, head);
            self.set_queue(head, PROTECTED);
            self.arena.push_back(&mut self.protected, head);
            while self.protected.weight() > protected_target && self.demote() {}
        }
        self.probation.head().or_else(|| self.protected.head())
    }

    /// Moves protected's oldest unaccessed node to probation (accessed ones
    /// go round again, up to `MAX_SCAN` of them); false if protected is
    /// empty.
    fn demote(&mut self) -> bool {
        for _ in 0..MAX_SCAN {
            match self.protected.head() {
                None => return false,
                Some(head) if self.take_accesses(head) => self.arena.rotate(&mut self.protected),
                Some(_) => break,
            }
        }
        let Some(head) = self.protected.head() else {
            return false;
        };
        self.arena.unlink(&mut self.protected, head);
        self.set_queue(head, PROBATION);
        self.arena.push_back(&mut self.probation, head);
        true
    }
}

impl<H> fmt::Debug for Policy<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("capacity", &self.capacity)
            .field("len", &self.arena.len())
            .field("window", &self.window)
            .field("probation", &self.probation)
            .field("protected", &self.protected)
            .field("window_target", &self.window_target)
            .field("sketch_bytes", &self.sketch.memory())
            .field("ghost_bytes", &self.ghosts.memory())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
