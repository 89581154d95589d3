//! The policy on its own: scan resistance, frequency, weights, updates
//! and admission, with handles that stand in for cache entries.

use std::{
    cell::Cell,
    collections::{HashMap, HashSet},
};

use super::*;

/// A handle that names its entry and holds readers' marks.
#[derive(Debug)]
struct Handle {
    /// Unique per handle ever made.
    id: u64,
    /// The 2-bit mark counter.
    marks: Cell<u8>,
    /// Readers mark it again at once: every look finds it marked.
    sticky: bool,
}

impl Marks for Handle {
    fn take_marks(&self) -> u8 {
        if self.sticky {
            3
        } else {
            self.marks.replace(0)
        }
    }
}

fn handle(id: u64) -> Handle {
    Handle {
        id,
        marks: Cell::new(0),
        sticky: false,
    }
}

/// A reader's hit: one more mark, saturating at 3.
fn hit(policy: &Policy<Handle>, node: NodeId) {
    let marks = &policy.handle(node).marks;
    marks.set((marks.get() + 1).min(3));
}

/// A well-spread stand-in for the key's ahash.
fn hash(key: u64) -> u64 {
    let z = key
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (z ^ (z >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB)
}

/// A get-or-insert cache of keys over the policy, with unit weights.
struct Sim {
    policy: Policy<Handle>,
    nodes: HashMap<u64, NodeId>,
    hits: u64,
}

impl Sim {
    fn new(capacity: u64) -> Self {
        Self {
            policy: Policy::new(capacity),
            nodes: HashMap::new(),
            hits: 0,
        }
    }

    fn get(&mut self, key: u64) {
        if let Some(&node) = self.nodes.get(&key) {
            self.hits += 1;
            hit(&self.policy, node);
            return;
        }
        let node = self.policy.insert(hash(key), 1, handle(key));
        self.nodes.insert(key, node);
        while self.policy.weight() > self.policy.capacity() {
            let (_, h) = self.policy.evict().unwrap();
            assert!(self.nodes.remove(&h.id).is_some());
        }
        assert_eq!(self.nodes.len(), self.policy.len());
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn evicts_down_to_capacity_and_none_when_empty() {
    let mut sim = Sim::new(100);
    for key in 0..1_000 {
        sim.get(key);
        assert!(sim.policy.weight() <= 100);
    }
    assert_eq!(sim.policy.len(), 100);
    let mut seen = HashSet::new();
    while let Some((_, h)) = sim.policy.evict() {
        assert!(seen.insert(h.id));
    }
    assert_eq!(seen.len(), 100);
    assert_eq!((sim.policy.len(), sim.policy.weight()), (0, 0));
    assert!(sim.policy.evict().is_none());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn a_scan_does_not_flush_the_frequent_set() {
    let mut sim = Sim::new(1_000);
    // A working set in use, among one-off keys that keep the cache full.
    let mut one_off = 1_000..;
    for _ in 0..20 {
        for key in 0..500 {
            sim.get(key);
            if key % 2 == 0 {
                sim.get(one_off.next().unwrap());
            }
        }
    }
    // The scan: 20x the cache's size of keys never seen again.
    for key in 1_000_000..1_020_000 {
        sim.get(key);
    }
    let kept = (0..500).filter(|k| sim.nodes.contains_key(k)).count();
    assert!(
        kept >= 475,
        "only {kept} of 500 frequent keys survived the scan"
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn beats_lru_on_a_loop_larger_than_the_cache() {
    // LRU gets no hit at all on a loop over 1.5x its size.
    let mut sim = Sim::new(1_000);
    for _ in 0..50 {
        for key in 0..1_500 {
            sim.get(key);
        }
    }
    assert!(sim.hits > 50 * 1_500 / 4, "hits {}", sim.hits);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn weighted_entries_respect_the_capacity() {
    let mut policy = Policy::new(10_000);
    let mut nodes = HashMap::new();
    let mut rng = Rng(7);
    for id in 0..20_000 {
        let weight = 1 + rng.below(1_000);
        let node = policy.insert(hash(id), weight, handle(id));
        nodes.insert(id, (node, weight));
        if rng.below(3) == 0 {
            let &(node, _) = nodes.values().next().unwrap();
            hit(&policy, node);
        }
        while policy.weight() > policy.capacity() {
            let (node, h) = policy.evict().unwrap();
            assert_eq!(nodes.remove(&h.id).unwrap().0, node);
        }
        assert!(policy.weight() <= 10_000);
        assert_eq!(
            policy.weight(),
            nodes.values().map(|&(_, w)| w).sum::<u64>()
        );
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn eviction_ends_when_readers_mark_everything() {
    let mut policy = Policy::new(1_000);
    for id in 0..1_000 {
        let h = Handle {
            id,
            marks: Cell::new(0),
            sticky: true,
        };
        policy.insert(hash(id), 1, h);
    }
    for id in 1_000..3_000 {
        let h = Handle {
            id,
            marks: Cell::new(0),
            sticky: true,
        };
        policy.insert(hash(id), 1, h);
        while policy.weight() > policy.capacity() {
            policy.evict().unwrap();
        }
    }
    assert_eq!(policy.len(), 1_000);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn update_swaps_the_handle_and_weight() {
    let mut policy = Policy::new(10);
    let a = policy.insert(hash(1), 2, handle(1));
    let b = policy.insert(hash(2), 3, handle(2));
    assert_eq!(policy.update(a, 5, handle(10)).id, 1);
    assert_eq!(policy.handle(a).id, 10);
    assert_eq!((policy.len(), policy.weight()), (2, 8));
    assert_eq!(policy.remove(b).id, 2);
    assert_eq!((policy.len(), policy.weight()), (1, 5));
    let c = policy.insert(hash(3), 1, handle(3));
    assert_eq!(c, b, "a freed slot is reused");
    let mut ids: Vec<u64> = policy.clear().into_iter().map(|h| h.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [3, 10]);
    assert_eq!((policy.len(), policy.weight()), (0, 0));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn recently_updated_entries_survive() {
    let mut policy = Policy::new(100);
    let hot: Vec<NodeId> = (0..10)
        .map(|id| policy.insert(hash(id), 1, handle(id)))
        .collect();
    let mut next = 1_000;
    for round in 0..100 {
        for &node in &hot {
            policy.update(node, 1, handle(next));
            next += 1;
        }
        for id in 0..50 {
            policy.insert(hash(10_000 + round * 50 + id), 1, handle(0));
            while policy.weight() > policy.capacity() {
                let (node, _) = policy.evict().unwrap();
                assert!(
                    !hot.contains(&node),
                    "an entry updated every round was evicted"
                );
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn a_warm_candidate_sometimes_beats_a_hotter_victim() {
    let mut policy = Policy::new(1_000);
    let nodes: Vec<NodeId> = (0..100)
        .map(|id| policy.insert(hash(id), 1, handle(id)))
        .collect();
    let (candidate, victim) = (nodes[0], nodes[1]);
    let fp = |node: NodeId| policy.arena.get(node).fp;
    let (c, v) = (fp(candidate), fp(victim));
    for _ in 0..5 {
        policy.sketch.increment(v, 3);
    }
    policy.sketch.increment(c, JITTER_MIN - 2);
    assert_eq!(policy.sketch.frequency(v), 15);
    assert_eq!(policy.sketch.frequency(c), JITTER_MIN - 1);
    assert!((0..10_000).all(|_| !policy.admit(candidate, victim)));
    policy.sketch.increment(c, 1);
    let wins = (0..12_800)
        .filter(|_| policy.admit(candidate, victim))
        .count();
    assert!((50..=150).contains(&wins), "{wins} wins in 12,800 duels");
}

/// xorshift64*: a small deterministic generator for the tests.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "safe code in long loops; Miri checks the crate's unsafe code"
)]
fn random_operations_agree_with_a_model() {
    for seed in 1..=20 {
        let mut rng = Rng(seed);
        let capacity = 1 + rng.below(200);
        let mut policy = Policy::new(capacity);
        // node -> (handle id, weight): what the policy must hold.
        let mut model: HashMap<NodeId, (u64, u64)> = HashMap::new();
        let mut returned = HashSet::new();
        let mut made = 0;
        let give_back = |id: u64, returned: &mut HashSet<u64>| {
            assert!(returned.insert(id), "handle {id} came back twice");
        };
        for _ in 0..5_000 {
            let nodes: Vec<NodeId> = model.keys().copied().collect();
            let pick = |rng: &mut Rng| nodes[rng.below(nodes.len() as u64) as usize];
            match rng.below(100) {
                0..=44 => {
                    made += 1;
                    let weight = 1 + rng.below(capacity.min(20));
                    let node = policy.insert(rng.below(1_000), weight, handle(made));
                    assert!(model.insert(node, (made, weight)).is_none());
                    while policy.weight() > policy.capacity() {
                        let (node, h) = policy.evict().unwrap();
                        assert_eq!(model.remove(&node).unwrap().0, h.id);
                        give_back(h.id, &mut returned);
                    }
                }
                45..=69 if !nodes.is_empty() => hit(&policy, pick(&mut rng)),
                70..=79 if !nodes.is_empty() => {
                    let node = pick(&mut rng);
                    made += 1;
                    let weight = 1 + rng.below(capacity.min(20));
                    let old = policy.update(node, weight, handle(made));
                    let (was, _) = model.insert(node, (made, weight)).unwrap();
                    assert_eq!(old.id, was);
                    give_back(old.id, &mut returned);
                }
                80..=89 if !nodes.is_empty() => {
                    let node = pick(&mut rng);
                    let h = policy.remove(node);
                    assert_eq!(model.remove(&node).unwrap().0, h.id);
                    give_back(h.id, &mut returned);
                }
                90..=91 => {
                    for h in policy.clear() {
                        give_back(h.id, &mut returned);
                    }
                    model.clear();
                }
                92..=93 => {
                    if let Some((node, h)) = policy.evict() {
                        assert_eq!(model.remove(&node).unwrap().0, h.id);
                        give_back(h.id, &mut returned);
                    } else {
                        assert!(model.is_empty());
                    }
                }
                _ => {}
            }
            assert_eq!(policy.len(), model.len());
            assert_eq!(
                policy.weight(),
                model.values().map(|&(_, w)| w).sum::<u64>()
            );
            for (&node, &(id, _)) in &model {
                assert_eq!(policy.handle(node).id, id);
            }
        }
        for h in policy.clear() {
            give_back(h.id, &mut returned);
        }
        assert_eq!(
            returned.len() as u64,
            made,
            "every handle comes back exactly once"
        );
    }
}
