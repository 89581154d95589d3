//! A load in flight: its status and waiters, its leader's hold on it, and
//! the count of how its loader ended. The protocol is in the parent
//! module's docs.

use std::{any::Any, fmt, sync::Arc, task::Waker, time::Instant};

use crate::{
    shard::Shard,
    stats::{bump, Counters},
    sync::{lock, Condvar, Mutex, ThreadId},
    Utf8Bytes,
};

/// A load in progress, shared by its leader and its waiters.
pub(crate) struct Flight<K> {
    pub(super) tag: u64,
    pub(super) key: K,
    pub(super) state: Mutex<State>,
    pub(super) done: Condvar,
    /// For a failure kept listed (`cache_failures_for`), the clock reading
    /// at which it expires; 0 for a flight that leaves the list as it
    /// ends. Stored before the status is set under `state`'s mutex, so a
    /// caller that saw the status `Failed` there reads it as stored; the
    /// shard's cleanup reads it under the shard lock as a hint, which is
    /// either 0 (not ended yet: kept) or final. A `std` atomic even under
    /// loom, like `sync::Counter`: it orders no other memory.
    kept_until: std::sync::atomic::AtomicU64,
}

pub(super) struct State {
    pub(super) status: Status,
    /// The thread running a synchronous loader: set when the load is led
    /// by the thread that listed it, or by the one that took it over from
    /// a queue; `None` for an async load, or a reload still queued.
    pub(super) leader: Option<ThreadId>,
    /// Whether it is a reload that waits for a worker, and no one runs
    /// yet (`take`).
    pub(super) queued: bool,
    /// Async waiters to wake when the status leaves `Loading`.
    pub(super) wakers: Vec<Waker>,
}

#[derive(Clone)]
pub(super) enum Status {
    Loading,
    Loaded(Utf8Bytes),
    /// The loader's error, an `Arc<E>` for the leader's `E`, shared with
    /// the waiters whose `E` is the same type.
    Failed(Arc<dyn Any + Send + Sync>),
    Abandoned,
}

impl<K> fmt::Debug for Flight<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flight")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl<K> Flight<K> {
    /// A load of `key`, whose hash tag is `tag`, led by the thread
    /// `leader` (`None` for an async load); or, if `leader` is `None` and
    /// `queued`, a reload that waits to be taken (`take`).
    pub(super) fn new(tag: u64, key: K, leader: Option<ThreadId>, queued: bool) -> Self {
        Flight {
            tag,
            key,
            state: Mutex::new(State {
                status: Status::Loading,
                leader,
                queued,
                wakers: Vec::new(),
            }),
            done: Condvar::new(),
            kept_until: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether it is a failure kept listed.
    pub(crate) fn kept(&self) -> bool {
        // Relaxed: see `kept_until`.
        self.kept_until.load(std::sync::atomic::Ordering::Relaxed) != 0
    }

    /// Whether it is a failure kept listed whose time ran out at the clock
    /// reading `now`.
    pub(crate) fn expired(&self, now: u64) -> bool {
        // Relaxed: see `kept_until`.
        let until = self.kept_until.load(std::sync::atomic::Ordering::Relaxed);
        until != 0 && now >= until
    }

    /// The hash tag of the key it loads.
    pub(crate) fn tag(&self) -> u64 {
        self.tag
    }

    /// The key it loads.
    pub(crate) fn key(&self) -> &K {
        &self.key
    }

    /// The thread running its synchronous loader, if one is.
    pub(super) fn leader(&self) -> Option<ThreadId> {
        lock(&self.state).leader
    }

    /// Takes a queued reload for `leader` (the thread that will run its
    /// loader, `None` for an async task): whether it was queued. Exactly
    /// one party takes each reload, under the flight's mutex: a worker or
    /// task to run it, a caller that misses its key to run it at once, or
    /// whoever drops it unrun, to abandon it.
    pub(crate) fn take(&self, leader: Option<ThreadId>) -> bool {
        let mut state = lock(&self.state);
        let queued = std::mem::replace(&mut state.queued, false);
        if queued {
            state.leader = leader;
        }
        queued
    }

    /// Waits until the load ends or `deadline` passes: `Some(status)` with
    /// `Loaded` or `Abandoned`, or `None` on timeout.
    pub(super) fn wait(&self, deadline: Option<Instant>) -> Option<Status> {
        let mut state = lock(&self.state);
        loop {
            if !matches!(state.status, Status::Loading) {
                return Some(state.status.clone());
            }
            state = match deadline {
                None => self
                    .done
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.done
                        .wait_timeout(state, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// The status if the load has ended; else registers `waker`.
    #[cfg(feature = "async")]
    pub(super) fn poll_end(&self, waker: &Waker) -> Option<Status> {
        let mut state = lock(&self.state);
        if matches!(state.status, Status::Loading) {
            if !state.wakers.iter().any(|w| w.will_wake(waker)) {
                state.wakers.push(waker.clone());
            }
            None
        } else {
            Some(state.status.clone())
        }
    }
}

/// The leader's hold on its flight: ends it as `Abandoned` when dropped
/// before [`complete`](Self::complete).
pub(super) struct Leader<'a, K> {
    pub(super) shard: &'a Shard<K>,
    pub(super) flight: Arc<Flight<K>>,
    /// Whether the flight has ended.
    pub(super) ended: bool,
}

impl<'a, K> Leader<'a, K> {
    /// The leader of `flight`, listed in `shard`.
    pub(super) fn new(shard: &'a Shard<K>, flight: Arc<Flight<K>>) -> Self {
        Leader {
            shard,
            flight,
            ended: false,
        }
    }

    pub(super) fn complete(mut self, value: Utf8Bytes) {
        self.end(Status::Loaded(value));
    }

    /// Ends the flight with the loader's error, for the waiters to share;
    /// kept listed until the clock reading `until` if it is not 0, for the
    /// callers that come meanwhile to share too (`cache_failures_for`).
    pub(super) fn fail<E: Send + Sync + 'static>(mut self, error: &Arc<E>, until: u64) {
        let status = Status::Failed(Arc::clone(error) as Arc<dyn Any + Send + Sync>);
        if until == 0 {
            self.end(status);
        } else {
            // Relaxed: `end` publishes it under the flight's mutex.
            (self.flight.kept_until).store(until, std::sync::atomic::Ordering::Relaxed);
            self.end_listed(status);
        }
    }

    /// Ends the flight with `status`, once, and unlists it.
    fn end(&mut self, status: Status) {
        if !self.ended {
            self.shard.unlist_flight(&self.flight);
        }
        self.end_listed(status);
    }

    /// Ends the flight with `status`, once, leaving the list as it is.
    fn end_listed(&mut self, status: Status) {
        if self.ended {
            return;
        }
        self.ended = true;
        let mut state = lock(&self.flight.state);
        state.status = status;
        // A thread that loads the key again later does not lead this load:
        // it must not take itself for a recursive loader.
        state.leader = None;
        let wakers = std::mem::take(&mut state.wakers);
        drop(state);
        self.flight.done.notify_all();
        for waker in wakers {
            waker.wake();
        }
    }
}

impl<K> Drop for Leader<'_, K> {
    fn drop(&mut self) {
        self.end(Status::Abandoned);
    }
}

/// Counts how a loader ended in its shard's counters: its caller reports
/// a returned result; dropped before that, it counts a panic, or a
/// cancelled async load.
pub(super) struct Tally<'a> {
    counters: &'a Counters,
    ended: bool,
}

impl<'a> Tally<'a> {
    pub(super) fn new(counters: &'a Counters) -> Self {
        Tally {
            counters,
            ended: false,
        }
    }

    /// Counts a loader that returned, a value if `ok`, else an error.
    pub(super) fn ended(mut self, ok: bool) {
        self.ended = true;
        let counters = self.counters;
        bump(if ok {
            &counters.loads_succeeded
        } else {
            &counters.loads_failed
        });
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let counters = self.counters;
            bump(if std::thread::panicking() {
                &counters.loads_panicked
            } else {
                &counters.loads_cancelled
            });
        }
    }
}
