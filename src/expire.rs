//! Expiry: the cache's clock, and each shard's index of deadlines.
//!
//! An entry with a time to live stores its deadline in clock nanoseconds;
//! readers compare it with the clock and treat a passed deadline as absence,
//! so an expired entry is never returned. Entries without one store 0 and
//! cost readers no clock read. Nothing runs in the background: a shard's
//! writers unlink a few of its expired entries whenever they hold its lock,
//! eviction prefers nothing but reports expired victims as such, and
//! [`StrCache::purge_expired`](crate::StrCache::purge_expired) unlinks them
//! all.
//!
//! The clock is user code, so no lock is held while it runs. A write reads
//! it once, before it locks anything, and judges every entry it unlinks or
//! replaces by that reading. A cache that has never given an entry a
//! deadline skips the reading: it stands for the instant before the first
//! deadline, by which nothing has expired.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    fmt,
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
    time::Instant,
};

use crate::sync::{AtomicU64, Ordering};

/// A source of time for expiry: the time elapsed since a fixed origin.
///
/// It must never go backwards. The default clock is [`Instant`]-based;
/// [`ManualClock`] lets tests move time by hand.
///
/// # Examples
/// ```
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// struct Frozen;
///
/// impl strcache::Clock for Frozen {
///     fn now(&self) -> Duration {
///         Duration::from_secs(1)
///     }
/// }
///
/// let cache = strcache::StrCache::<String>::builder().clock(Frozen).build();
/// cache.insert_with_ttl("k".into(), "v", Duration::from_secs(5)).unwrap();
/// assert!(cache.contains_key("k")); // time never moves on
/// ```
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// Time elapsed since this clock's origin.
    fn now(&self) -> Duration;
}

/// A [`Clock`] that moves only when told to; clones share one time.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use strcache::{ManualClock, StrCache};
///
/// let clock = ManualClock::new();
/// let cache = StrCache::<String>::builder()
///     .time_to_live(Duration::from_secs(60))
///     .clock(clock.clone())
///     .build();
/// cache.insert("k".into(), "v").unwrap();
/// clock.advance(Duration::from_secs(59));
/// assert!(cache.contains_key("k"));
/// clock.advance(Duration::from_secs(1));
/// assert!(!cache.contains_key("k"));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    ///
    /// # Examples
    /// ```
    /// use strcache::Clock;
    ///
    /// assert_eq!(strcache::ManualClock::new().now(), std::time::Duration::ZERO);
    /// ```
    pub fn new() -> Self {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves the clock forward by `by`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use strcache::Clock;
    ///
    /// let clock = strcache::ManualClock::new();
    /// clock.advance(Duration::from_millis(5));
    /// assert_eq!(clock.now(), Duration::from_millis(5));
    /// ```
    pub fn advance(&self, by: Duration) {
        // Relaxed: the time is a value, not a guard for other memory.
        self.nanos.fetch_add(nanos(by), Ordering::Relaxed);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        // Relaxed: as in `advance`.
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

/// The default clock: monotonic time since the cache was built.
#[derive(Debug)]
struct Monotonic(Instant);

impl Clock for Monotonic {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A cache's expiry settings: its clock, default time to live, and the
/// grace period of a cache that serves stale values.
///
/// Entries store their deadline, when plain reads stop returning them. A
/// cache with a grace period (`serve_stale_for`) keeps an entry for that
/// long past its deadline, for a [`LoadingCache`](crate::LoadingCache) to
/// serve as stale while it reloads: its writers judge expiry by the clock's
/// reading minus the grace period, so they unlink, sweep and report as
/// expired only entries whose grace period has ended too.
#[derive(Debug)]
pub(crate) struct Expiry {
    clock: Box<dyn Clock>,
    ttl: Option<Duration>,
    /// How long past its deadline an entry stays linked, in nanoseconds.
    grace: u64,
    /// Whether writes read the clock. Set from the start in a cache with a
    /// default time to live or a [`LoadingCache`](crate::LoadingCache),
    /// whose entries record when they were written; else set before the
    /// clock is read for the first deadline, so a writer that finds it
    /// unset is judging at an instant before every deadline. A `std`
    /// atomic even under loom, like `sync::Counter`: it orders no other
    /// memory, and a stale `false` is only the instant before a concurrent
    /// first deadline.
    timed: AtomicBool,
}

/// What a write reads from the clock, before it locks anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The reading it judges the expiry of other entries by (0: before
    /// every deadline).
    pub(crate) judge: u64,
    /// Its own entry's deadline (0 for never).
    pub(crate) deadline: u64,
    /// When its entry was written, the clock's reading (0: the clock was
    /// not read).
    pub(crate) written: u64,
}

impl Expiry {
    /// `grace` is the time an entry stays past its deadline; `timed`,
    /// whether every write reads the clock.
    pub(crate) fn new(
        clock: Option<Box<dyn Clock>>,
        ttl: Option<Duration>,
        grace: Option<Duration>,
        timed: bool,
    ) -> Self {
        Expiry {
            clock: clock.unwrap_or_else(|| Box::new(Monotonic(Instant::now()))),
            ttl,
            grace: grace.map_or(0, nanos),
            timed: AtomicBool::new(timed || ttl.is_some()),
        }
    }

    /// The clock's time in nanoseconds, plus one so that it is never 0
    /// (the deadline that means "never").
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        nanos(self.clock.now()).saturating_add(1)
    }

    /// The default time to live, if the cache has one.
    pub(crate) fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// How long past its deadline an entry stays linked, in nanoseconds.
    pub(crate) fn grace(&self) -> u64 {
        self.grace
    }

    /// The reading a write that sets no deadline judges expiry by: the
    /// clock's less the grace period, or 0 (before every deadline) if no
    /// entry has a deadline yet.
    #[inline]
    pub(crate) fn now_if_timed(&self) -> u64 {
        self.stamp_at(self.read_if_timed(), 0).judge
    }

    /// The clock's reading if writes read it, else 0.
    #[inline]
    fn read_if_timed(&self) -> u64 {
        // Relaxed: see `timed`.
        if self.timed.load(std::sync::atomic::Ordering::Relaxed) {
            self.now()
        } else {
            0
        }
    }

    /// What a write of an entry with `ttl` (or the default time to live
    /// when `None`) reads from the clock.
    #[inline]
    pub(crate) fn stamp(&self, ttl: Option<Duration>) -> Stamp {
        let Some(ttl) = ttl.or(self.ttl) else {
            return self.stamp_at(self.read_if_timed(), 0);
        };
        // Relaxed: see `timed`; it is set before the clock is read below.
        if !self.timed.load(std::sync::atomic::Ordering::Relaxed) {
            self.timed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let now = self.now();
        self.stamp_at(now, now.saturating_add(nanos(ttl)))
    }

    #[inline]
    fn stamp_at(&self, now: u64, deadline: u64) -> Stamp {
        Stamp {
            judge: now.saturating_sub(self.grace),
            deadline,
            written: now,
        }
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One deadline in a shard's index: the entry's hash tag and address.
///
/// The address is only compared with slot contents, never dereferenced, so
/// a stale timer (its entry replaced or removed) is harmless: it matches no
/// live entry, or one with the same tag at the same address whose own
/// deadline then decides.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timer {
    pub(crate) deadline: u64,
    pub(crate) tag: u64,
    pub(crate) addr: usize,
}

/// A shard's deadlines, earliest first. Written under the shard lock.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    /// Live entries with a deadline; the rest of `heap` is stale.
    live: usize,
}

impl Timers {
    /// Records the deadline of an entry just linked.
    pub(crate) fn linked(&mut self, timer: Timer) {
        self.live += 1;
        self.heap.push(Reverse(timer));
    }

    /// Notes that a linked entry with a deadline was unlinked.
    pub(crate) fn unlinked(&mut self) {
        self.live -= 1;
    }

    /// Live entries with a deadline.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Whether any deadline, live or stale, is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<Timer> {
        if self.heap.peek()?.0.deadline > now {
            return None;
        }
        self.heap.pop().map(|Reverse(t)| t)
    }

    /// Drops stale timers once they outnumber the live ones, keeping
    /// those for which `is_live` holds; amortized O(log n) per timer.
    pub(crate) fn compact(&mut self, mut is_live: impl FnMut(&Timer) -> bool) {
        if self.heap.len() <= 2 * self.live + 32 {
            return;
        }
        self.heap.retain(|Reverse(t)| is_live(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(deadline: u64, addr: usize) -> Timer {
        Timer {
            deadline,
            tag: 1,
            addr,
        }
    }

    #[test]
    fn pops_due_timers_earliest_first() {
        let mut timers = Timers::default();
        for (d, a) in [(30, 3), (10, 1), (20, 2)] {
            timers.linked(timer(d, a));
        }
        assert!(timers.pop_due(5).is_none());
        assert_eq!(timers.pop_due(25).map(|t| t.addr), Some(1));
        assert_eq!(timers.pop_due(25).map(|t| t.addr), Some(2));
        assert!(timers.pop_due(25).is_none());
        assert_eq!(timers.pop_due(u64::MAX).map(|t| t.addr), Some(3));
        assert!(timers.is_empty());
    }

    #[test]
    fn compaction_drops_stale_timers_only_past_the_threshold() {
        let mut timers = Timers::default();
        for a in 0..100 {
            timers.linked(timer(a as u64, a));
        }
        for _ in 0..90 {
            timers.unlinked();
        }
        // 100 timers, 10 live: over 2 * 10 + 32, so stale ones go.
        timers.compact(|t| t.addr < 10);
        assert_eq!(timers.heap.len(), 10);
        assert_eq!(timers.live(), 10);
        // Below the threshold nothing is scanned.
        timers.compact(|_| panic!("scanned below the threshold"));
    }

    #[test]
    fn deadlines_saturate_and_zero_means_never() {
        let clock = ManualClock::new();
        let expiry = Expiry::new(Some(Box::new(clock.clone())), None, None, false);
        clock.advance(Duration::from_nanos(4));
        // No deadline yet: a write judges at the instant before them all.
        assert_eq!(stamp(&expiry, None), (0, 0, 0));
        // A zero time to live expires at once: the deadline is now.
        assert_eq!(stamp(&expiry, Some(Duration::ZERO)), (5, 5, 5));
        assert_eq!(stamp(&expiry, Some(Duration::MAX)), (5, u64::MAX, 5));
        // Once one entry has a deadline, every write reads the clock.
        assert_eq!(stamp(&expiry, None), (5, 0, 5));
        clock.advance(Duration::from_nanos(7));
        assert_eq!(expiry.now(), 12);
        assert_eq!(stamp(&expiry, Some(Duration::from_nanos(3))), (12, 15, 12));
    }

    #[test]
    fn a_default_time_to_live_reads_the_clock_from_the_first_write() {
        let clock = ManualClock::new();
        let expiry = Expiry::new(
            Some(Box::new(clock)),
            Some(Duration::from_nanos(2)),
            None,
            false,
        );
        assert_eq!(expiry.now_if_timed(), 1);
        assert_eq!(stamp(&expiry, None), (1, 3, 1));
    }

    #[test]
    fn a_grace_period_delays_what_writes_judge_expired() {
        let clock = ManualClock::new();
        let grace = Some(Duration::from_nanos(10));
        let expiry = Expiry::new(Some(Box::new(clock.clone())), None, grace, true);
        // Timed from the start: a write with no deadline still reads the
        // clock, and records when it was written.
        clock.advance(Duration::from_nanos(4));
        assert_eq!(stamp(&expiry, None), (0, 0, 5));
        clock.advance(Duration::from_nanos(20));
        assert_eq!(stamp(&expiry, Some(Duration::from_nanos(3))), (15, 28, 25));
        assert_eq!(expiry.now_if_timed(), 15);
    }

    /// `expiry.stamp(ttl)` as `(judge, deadline, written)`.
    fn stamp(expiry: &Expiry, ttl: Option<Duration>) -> (u64, u64, u64) {
        let s = expiry.stamp(ttl);
        (s.judge, s.deadline, s.written)
    }
}
