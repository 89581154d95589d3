//! The policy's node arena: one slot per tracked entry, threaded on
//! intrusive circular doubly linked lists by 32-bit index, so that moving an
//! entry between queues, unlinking it from the middle and rotating a queue's
//! head to its tail are all O(1) and allocation free.

use super::policy::NodeId;

/// The null link.
const NIL: NodeId = NodeId::MAX;

/// One tracked entry (or a free slot, when `handle` is `None`).
///
/// 24 bytes plus the handle: `weight` 8, two links 8, `fp` 4, `meta` 1,
/// padded to 8. With a pointer-sized handle (whose niche makes `Option`
/// free) a node is 32 bytes.
#[derive(Debug)]
pub(super) struct Node<H> {
    /// The cache's handle; `None` in a free slot.
    pub(super) handle: Option<H>,
    /// The entry's weight.
    pub(super) weight: u64,
    /// The previous node of the node's list (its tail when it is the head).
    prev: NodeId,
    /// The next node of the node's list (its head when it is the tail); in
    /// a free slot, the next free slot.
    next: NodeId,
    /// 32 bits of the key's hash, for the frequency sketch and the ghost.
    pub(super) fp: u32,
    /// Policy bits: which queue, and accesses not yet seen through marks.
    pub(super) meta: u8,
}

/// A circular doubly linked list of arena nodes with its total weight.
#[derive(Debug, Clone, Copy)]
pub(super) struct List {
    /// The oldest node, or `NIL` when empty.
    head: NodeId,
    /// Number of nodes.
    len: u32,
    /// Sum of the nodes' weights.
    weight: u64,
}

impl List {
    /// An empty list.
    pub(super) const fn new() -> Self {
        Self {
            head: NIL,
            len: 0,
            weight: 0,
        }
    }

    /// The oldest node, if any.
    pub(super) fn head(&self) -> Option<NodeId> {
        (self.head != NIL).then_some(self.head)
    }

    /// Number of nodes.
    pub(super) fn len(&self) -> u32 {
        self.len
    }

    /// Sum of the nodes' weights.
    pub(super) fn weight(&self) -> u64 {
        self.weight
    }
}

/// The slots of all nodes, tracked or free.
///
/// # Invariants
/// Every slot with a handle is on exactly one `List` owned by the caller;
/// free slots are chained through `next` from `free`.
#[derive(Debug)]
pub(super) struct Arena<H> {
    /// All slots; a `NodeId` indexes this.
    nodes: Vec<Node<H>>,
    /// The first free slot, or `NIL`.
    free: NodeId,
    /// Number of slots with a handle.
    len: usize,
}

impl<H> Arena<H> {
    /// An arena with no slots.
    pub(super) const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    /// Number of tracked nodes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The node `id`.
    ///
    /// # Panics
    /// If `id` is not a slot of this arena.
    pub(super) fn get(&self, id: NodeId) -> &Node<H> {
        &self.nodes[id as usize]
    }

    /// The node `id`, mutably.
    ///
    /// # Panics
    /// If `id` is not a slot of this arena.
    pub(super) fn get_mut(&mut self, id: NodeId) -> &mut Node<H> {
        &mut self.nodes[id as usize]
    }

    /// Stores a new node in a free slot (reusing the most recently freed
    /// one) and returns its id; it is on no list yet.
    ///
    /// # Panics
    /// If `u32::MAX - 1` nodes are tracked already.
    pub(super) fn alloc(&mut self, handle: H, weight: u64, fp: u32, meta: u8) -> NodeId {
        let node = Node {
            handle: Some(handle),
            weight,
            prev: NIL,
            next: NIL,
            fp,
            meta,
        };
        self.len += 1;
        if self.free == NIL {
            let id = NodeId::try_from(self.nodes.len())
                .ok()
                .filter(|&id| id != NIL);
            let id = id.expect("evict: more than u32::MAX - 1 tracked entries");
            self.nodes.push(node);
            id
        } else {
            let id = self.free;
            self.free = self.nodes[id as usize].next;
            self.nodes[id as usize] = node;
            id
        }
    }

    /// Frees slot `id`, which must be on no list, and returns its handle.
    ///
    /// # Panics
    /// If the slot is free already.
    pub(super) fn release(&mut self, id: NodeId) -> H {
        let node = &mut self.nodes[id as usize];
        let handle = node.handle.take().expect("evict: node is not tracked");
        node.next = self.free;
        self.free = id;
        self.len -= 1;
        handle
    }

    /// Empties the arena, returning the handles of all tracked nodes.
    pub(super) fn drain(&mut self) -> Vec<H> {
        self.free = NIL;
        self.len = 0;
        self.nodes.drain(..).filter_map(|n| n.handle).collect()
    }

    /// Whether `id` names a tracked node.
    pub(super) fn is_tracked(&self, id: NodeId) -> bool {
        self.nodes
            .get(id as usize)
            .is_some_and(|n| n.handle.is_some())
    }

    /// Appends node `id` (on no list) at the tail of `list`.
    pub(super) fn push_back(&mut self, list: &mut List, id: NodeId) {
        if list.head == NIL {
            let node = &mut self.nodes[id as usize];
            node.prev = id;
            node.next = id;
            list.head = id;
        } else {
            let head = list.head;
            let tail = self.nodes[head as usize].prev;
            self.nodes[id as usize].prev = tail;
            self.nodes[id as usize].next = head;
            self.nodes[tail as usize].next = id;
            self.nodes[head as usize].prev = id;
        }
        list.len += 1;
        list.weight += self.nodes[id as usize].weight;
    }

    /// Takes node `id` off `list`, which must hold it.
    pub(super) fn unlink(&mut self, list: &mut List, id: NodeId) {
        let Node {
            prev, next, weight, ..
        } = self.nodes[id as usize];
        if next == id {
            list.head = NIL;
        } else {
            self.nodes[prev as usize].next = next;
            self.nodes[next as usize].prev = prev;
            if list.head == id {
                list.head = next;
            }
        }
        list.len -= 1;
        list.weight -= weight;
    }

    /// Moves the head of `list` to its tail (a clock hand's step).
    pub(super) fn rotate(&self, list: &mut List) {
        if list.head != NIL {
            list.head = self.nodes[list.head as usize].next;
        }
    }

    /// Changes the weight of node `id`, which is on `list`.
    pub(super) fn reweigh(&mut self, list: &mut List, id: NodeId, weight: u64) {
        let node = &mut self.nodes[id as usize];
        list.weight = list.weight - node.weight + weight;
        node.weight = weight;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids of `list` from head to tail, following `next`, checking the
    /// `prev` links on the way.
    fn ids(arena: &Arena<u64>, list: &List) -> Vec<NodeId> {
        let Some(head) = list.head() else {
            return Vec::new();
        };
        let mut out = vec![head];
        let mut id = arena.get(head).next;
        while id != head {
            assert_eq!(arena.get(arena.get(id).prev).next, id);
            out.push(id);
            id = arena.get(id).next;
        }
        assert_eq!(out.len() as u32, list.len());
        out
    }

    #[test]
    fn push_unlink_rotate_and_reweigh() {
        let mut arena = Arena::new();
        let mut list = List::new();
        let nodes: Vec<NodeId> = (0..4).map(|i| arena.alloc(i, i + 1, 0, 0)).collect();
        for &id in &nodes {
            arena.push_back(&mut list, id);
        }
        assert_eq!(ids(&arena, &list), [0, 1, 2, 3]);
        assert_eq!(list.weight(), 10);
        arena.rotate(&mut list);
        assert_eq!(ids(&arena, &list), [1, 2, 3, 0]);
        arena.unlink(&mut list, 1);
        arena.unlink(&mut list, 3);
        assert_eq!(ids(&arena, &list), [2, 0]);
        assert_eq!(list.weight(), 4);
        arena.reweigh(&mut list, 2, 10);
        assert_eq!(list.weight(), 11);
        arena.unlink(&mut list, 2);
        arena.unlink(&mut list, 0);
        assert_eq!((list.head(), list.len(), list.weight()), (None, 0, 0));
    }

    #[test]
    fn freed_slots_are_reused_and_drained() {
        let mut arena = Arena::new();
        let a = arena.alloc(10, 1, 0, 0);
        let b = arena.alloc(11, 1, 0, 0);
        assert_eq!(arena.release(a), 10);
        assert!(!arena.is_tracked(a) && arena.is_tracked(b));
        assert_eq!(arena.alloc(12, 1, 0, 0), a);
        assert_eq!(arena.len(), 2);
        let mut drained = arena.drain();
        drained.sort_unstable();
        assert_eq!(drained, [11, 12]);
        assert_eq!(arena.len(), 0);
        assert_eq!(arena.alloc(13, 1, 0, 0), 0);
    }

    #[test]
    fn a_node_with_a_pointer_handle_is_32_bytes() {
        assert_eq!(size_of::<Node<Box<u8>>>(), 32);
    }
}
