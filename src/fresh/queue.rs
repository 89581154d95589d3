//! The refresh pipeline's queue: bounded, closable, many producers (the
//! readers that schedule reloads) and many consumers (the workers).
//!
//! # Synchronization
//! One mutex guards the items and the closed flag; a condition variable
//! wakes idle workers. `push` never blocks beyond the mutex: a full or
//! closed queue hands the item back at once, which is the pipeline's
//! backpressure. `pop` waits, under the mutex, until an item comes or the
//! queue is closed; `push` and `close` notify after changing the state
//! under the same mutex, so no wake-up is lost. `close` takes the items
//! still queued, so that its caller ends them: no item is run after
//! `close` returns, and none is dropped unseen. The state also counts the
//! items taken and not yet `done`, so that `idle` can wait, on a second
//! condition variable, until nothing is queued or in hand. std's channels do not
//! fit: a sender cannot close a channel that the workers' shared state
//! also holds a sender of, nor take back what is queued.

use std::collections::VecDeque;

use crate::sync::{lock, Condvar, Mutex};

#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    /// Notified when the last item in hand is done with an empty queue.
    idle: Condvar,
    capacity: usize,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    /// Items popped and not yet `done`.
    in_hand: usize,
    closed: bool,
}

impl<T> Queue<T> {
    /// An open queue of at most `capacity` items, `capacity` > 0.
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                in_hand: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            idle: Condvar::new(),
            capacity,
        }
    }

    /// Queues `item`, or hands it back if the queue is full or closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let mut state = lock(&self.state);
        if state.closed || state.items.len() >= self.capacity {
            return Err(item);
        }
        state.items.push_back(item);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// The oldest item, waiting for one; `None` once the queue is closed.
    /// The caller calls [`done`](Self::done) when it has finished with it.
    pub(crate) fn pop(&self) -> Option<T> {
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                return None;
            }
            if let Some(item) = state.items.pop_front() {
                state.in_hand += 1;
                return Some(item);
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Notes that an item from [`pop`](Self::pop) is finished with.
    pub(crate) fn done(&self) {
        let mut state = lock(&self.state);
        state.in_hand -= 1;
        let idle = state.in_hand == 0 && state.items.is_empty();
        drop(state);
        if idle {
            self.idle.notify_all();
        }
    }

    /// Waits until no item is queued or in hand (or the queue is closed).
    pub(crate) fn idle(&self) {
        let mut state = lock(&self.state);
        while !state.closed && (state.in_hand > 0 || !state.items.is_empty()) {
            state = self
                .idle
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Closes the queue, wakes every waiting `pop`, and returns the items
    /// that were queued.
    pub(crate) fn close(&self) -> Vec<T> {
        let mut state = lock(&self.state);
        state.closed = true;
        let left = state.items.drain(..).collect();
        drop(state);
        self.ready.notify_all();
        self.idle.notify_all();
        left
    }

    /// Items queued now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.state).items.len()
    }
}

#[cfg(all(test, not(strcache_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_hands_the_item_back() {
        let queue = Queue::new(2);
        assert_eq!(queue.push(1), Ok(()));
        assert_eq!(queue.push(2), Ok(()));
        assert_eq!(queue.push(3), Err(3));
        assert_eq!(queue.pop(), Some(1));
        assert_eq!(queue.push(3), Ok(()));
        assert_eq!(queue.len(), 2);
    }

    #[test]
    fn idle_waits_for_the_items_in_hand() {
        let queue = Queue::new(2);
        queue.idle();
        queue.push(1).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| queue.idle());
            assert_eq!(queue.pop(), Some(1));
            queue.done();
            waiter.join().unwrap();
        });
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn close_returns_what_was_queued_and_ends_every_pop() {
        let queue = Queue::new(4);
        queue.push("a").unwrap();
        queue.push("b").unwrap();
        std::thread::scope(|s| {
            // Takes what it finds before the close, in order, then the
            // closed queue ends it, whatever it found.
            let waiting = s.spawn(|| {
                let mut got = Vec::new();
                while let Some(item) = queue.pop() {
                    got.push(item);
                }
                got
            });
            let left = queue.close();
            let got = waiting.join().unwrap();
            // Each item went to the worker or back to the closer, once.
            let all: Vec<_> = got.into_iter().chain(left).collect();
            assert_eq!(all, ["a", "b"]);
        });
        assert_eq!(queue.push("c"), Err("c"));
        assert_eq!(queue.pop(), None);
    }
}
