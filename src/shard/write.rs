//! A shard's writes: inserts, removals, evictions, expiry, `clear` and
//! resizes, each under the shard lock after a search without it (see the
//! parent module's synchronization).

use std::borrow::Borrow;

use crossbeam_epoch::{Guard, Owned, Shared};

use super::{
    flush_large, link_timer, table_capacity_for, Ctx, InsertOutcome, Inserted, Shard, WriterState,
    EXPIRE_PER_WRITE,
};
use crate::{
    bound::EntryRef,
    entry::{Entry, NewEntry},
    evict::policy::Policy,
    notify::{EvictionCause, Unlinked},
    sync::{lock, Ordering},
    table::{Probe, Table},
};

/// The writes, which retire what they unlink to the epoch collector, whose
/// thread may drop the keys: `K: Send`.
impl<K: Send> Shard<K> {
    /// Builds `new` (of weight `weight`) and publishes it under its key,
    /// and unlinks a few expired entries of this shard. Returns the policy
    /// of a bounded cache still locked, for the caller to evict down to
    /// the bound; or `None` for a load that a write beat (`fill`), whose
    /// `new` is dropped unbuilt once no lock is held.
    ///
    /// The entry is built under the lock, once the write is sure to
    /// publish it, so that it can take a spare block of this shard's
    /// (`spare.rs`); building runs no user code.
    #[inline]
    pub(crate) fn insert<'a, 'g, 'v>(
        &self,
        tag: u64,
        new: NewEntry<'v, K>,
        weight: u64,
        ctx: Ctx<'a, K>,
        out: &mut Unlinked<'g, K>,
        guard: &'g Guard,
    ) -> Option<Inserted<'a, K>>
    where
        K: Eq,
    {
        loop {
            // Acquire: pairs with the Release increment after a revival
            // below, so the search sees every revived slot this count
            // includes.
            let revivals = self.revivals.load(Ordering::Acquire);
            let table_ptr = self.table.load(Ordering::Acquire, guard);
            let table = self.table(guard);
            let probe = table.probe(tag, new.key(), guard);
            let mut policy = ctx.lock_policy();
            let mut state = lock(&self.state);
            // Relaxed: under the lock, which orders every store to these.
            if self.table.load(Ordering::Relaxed, guard) != table_ptr
                || self.revivals.load(Ordering::Relaxed) != revivals
            {
                continue;
            }
            let outcome = match probe {
                Probe::Occupied { index, current } => {
                    if table.current(index, guard) != current {
                        continue;
                    }
                    if !state.fill(tag, ctx.fill) {
                        drop(state);
                        drop(policy);
                        // Key and value: user `Drop`s, with no lock held.
                        drop(new);
                        return None;
                    }
                    let entry = self.build(&mut state, new);
                    // SAFETY: live in the published table, under the lock.
                    let old = unsafe { current.deref() };
                    entry.set_node(old.node());
                    entry.inherit_marks(old);
                    if let Some(policy) = policy.as_deref_mut() {
                        policy.update(old.node(), weight, EntryRef::new(tag, &entry));
                    }
                    if old.deadline != 0 {
                        state.timers.unlinked();
                    }
                    link_timer(&mut state, tag, &entry);
                    table.publish(index, tag, entry);
                    // An expired value was already absent to readers.
                    let (cause, outcome) = if old.expired_at(ctx.now) {
                        self.counters.inserted_locked();
                        (EvictionCause::Expired, InsertOutcome::Inserted)
                    } else {
                        (EvictionCause::Replaced, InsertOutcome::Replaced)
                    };
                    self.counters.unlinked_locked(cause);
                    // SAFETY: `current` was just unlinked from the published
                    // table, the only reachable one holding it, under the
                    // lock that makes this writer its only retirer; it is
                    // retired here, under `guard`, and recorded once.
                    unsafe {
                        state.batch.retire(current, &self.counters.retired, guard);
                        out.push(current, cause);
                    }
                    outcome
                }
                Probe::Vacant {
                    index,
                    end,
                    displaced,
                } => {
                    let revive = index != end;
                    if !table.is_empty_slot(end) || (revive && !table.is_tombstone(index, tag)) {
                        continue;
                    }
                    let full =
                        !revive && (state.len + state.tombstones + 1) * 4 > table.capacity() * 3;
                    // A displaced key goes into a new table (see
                    // `Probe::Vacant`); only colliding hashes displace.
                    if full || (displaced && state.unlinked) {
                        self.resize(&mut state, table_ptr, guard);
                        drop(state);
                        drop(policy);
                        flush_large(guard);
                        continue;
                    }
                    if !state.fill(tag, ctx.fill) {
                        drop(state);
                        drop(policy);
                        // Key and value: user `Drop`s, with no lock held.
                        drop(new);
                        return None;
                    }
                    let entry = self.build(&mut state, new);
                    if let Some(policy) = policy.as_deref_mut() {
                        entry.set_node(policy.insert(tag, weight, EntryRef::new(tag, &entry)));
                    }
                    link_timer(&mut state, tag, &entry);
                    table.publish(index, tag, entry);
                    if revive {
                        state.tombstones -= 1;
                    }
                    state.len += 1;
                    self.len.store(state.len, Ordering::Relaxed);
                    self.counters.inserted_locked();
                    if revive {
                        // Release: pairs with the Acquire load at the top of
                        // this loop in other writers.
                        self.revivals.fetch_add(1, Ordering::Release);
                    }
                    InsertOutcome::Inserted
                }
            };
            self.expire(
                &mut state,
                ctx.now,
                EXPIRE_PER_WRITE,
                policy.as_deref_mut(),
                out,
                guard,
            );
            let flush = state.batch.take_sealed();
            drop(state);
            return Some(Inserted {
                outcome,
                policy,
                flush,
            });
        }
    }

    /// Builds `new`, in a spare block of its layout if the shard has one.
    /// Under the lock.
    #[inline]
    fn build<'v>(&self, state: &mut WriterState<K>, new: NewEntry<'v, K>) -> Owned<Entry<K>> {
        let block = state
            .spares
            .take(new.layout(), self.counters.retired.inbox());
        new.build(block)
    }

    /// Unlinks `key`'s entry, retires it, and returns it (readable while
    /// `guard` lives), with why it left: removed, or expired at `ctx.now`;
    /// and whether a batch was sealed (`Batch::take_sealed`), which the
    /// caller then flushes once it holds no lock.
    pub(crate) fn remove<'g, Q>(
        &self,
        tag: u64,
        key: &Q,
        ctx: Ctx<'_, K>,
        guard: &'g Guard,
    ) -> Option<(Shared<'g, Entry<K>>, EvictionCause, bool)>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        loop {
            // Acquire: as in `insert`.
            let revivals = self.revivals.load(Ordering::Acquire);
            let table_ptr = self.table.load(Ordering::Acquire, guard);
            let table = self.table(guard);
            let (index, current) = match table.probe(tag, key, guard) {
                Probe::Occupied { index, current } => (index, current),
                Probe::Vacant { end, .. } => {
                    // Absent, but a load of it may be in flight, which the
                    // removal wins over (module docs), if the key is still
                    // absent under the lock: validated as an insert's
                    // search is, or searched again.
                    let mut state = lock(&self.state);
                    // Relaxed: under the lock, as in `insert`.
                    if self.table.load(Ordering::Relaxed, guard) != table_ptr
                        || self.revivals.load(Ordering::Relaxed) != revivals
                        || !table.is_empty_slot(end)
                    {
                        continue;
                    }
                    state.supersede(tag);
                    return None;
                }
            };
            let mut policy = ctx.lock_policy();
            let mut state = lock(&self.state);
            if self.table.load(Ordering::Relaxed, guard) != table_ptr
                || table.current(index, guard) != current
            {
                continue;
            }
            state.supersede(tag);
            // SAFETY: live in the published table, under the lock.
            let cause = unsafe { current.deref() }.cause_at(ctx.now, EvictionCause::Removed);
            let policy = policy.as_deref_mut();
            self.unlink(&mut state, table, index, cause, policy, guard);
            return Some((current, cause, state.batch.take_sealed()));
        }
    }

    /// Unlinks exactly `entry` if it is live here, the victim the policy
    /// chose, and returns why it left: evicted, or expired at `now`; and
    /// whether a batch was sealed, as `remove` does. Called with the policy
    /// locked, which has already forgotten it.
    pub(crate) fn evict(
        &self,
        tag: u64,
        entry: Shared<'_, Entry<K>>,
        now: u64,
        guard: &Guard,
    ) -> Option<(EvictionCause, bool)> {
        let mut state = lock(&self.state);
        let table = self.table(guard);
        let index = table.position_of(tag, entry)?;
        // SAFETY: live in the published table, under the lock.
        let cause = unsafe { entry.deref() }.cause_at(now, EvictionCause::Size);
        self.unlink(&mut state, table, index, cause, None, guard);
        Some((cause, state.batch.take_sealed()))
    }

    /// Unlinks every entry for which `judge` names a cause. `judge` runs
    /// without the lock; an entry replaced after `judge` saw it is kept.
    /// Returns whether a batch was sealed, as `remove` does.
    pub(crate) fn retain<'g>(
        &self,
        mut judge: impl FnMut(&Entry<K>) -> Option<EvictionCause>,
        ctx: Ctx<'_, K>,
        out: &mut Unlinked<'g, K>,
        guard: &'g Guard,
    ) -> bool {
        let mut victims = Vec::new();
        for (tag, entry) in self.table(guard).live(guard) {
            // SAFETY: a live pointer loaded under `guard` (see `Table::find`).
            if let Some(cause) = judge(unsafe { entry.deref() }) {
                victims.push((tag, entry, cause));
            }
        }
        if victims.is_empty() {
            return false;
        }
        let mut policy = ctx.lock_policy();
        let mut state = lock(&self.state);
        let table = self.table(guard);
        for (tag, entry, cause) in victims {
            if let Some(index) = table.position_of(tag, entry) {
                state.supersede(tag);
                let policy = policy.as_deref_mut();
                self.unlink(&mut state, table, index, cause, policy, guard);
                // SAFETY: unlinked above under the lock, once: `position_of`
                // found it live in the published table.
                unsafe { out.push(entry, cause) };
            }
        }
        state.batch.seal(&self.counters.retired, guard);
        state.batch.take_sealed()
    }

    /// Unlinks up to `limit` entries expired at `now`. The caller holds the
    /// policy lock of a bounded cache and passes the policy. Returns
    /// whether a batch was sealed, as `remove` does.
    pub(crate) fn purge<'g>(
        &self,
        now: u64,
        limit: usize,
        policy: Option<&mut Policy<EntryRef<K>>>,
        out: &mut Unlinked<'g, K>,
        guard: &'g Guard,
    ) -> bool {
        let mut state = lock(&self.state);
        self.expire(&mut state, now, limit, policy, out, guard);
        state.batch.seal(&self.counters.retired, guard);
        state.batch.take_sealed()
    }

    /// Unlinks up to `limit` entries expired at `now`, under the lock.
    /// Inlined for its first test: most caches have no deadlines, and
    /// every write calls this.
    #[inline]
    fn expire<'g>(
        &self,
        state: &mut WriterState<K>,
        now: u64,
        limit: usize,
        policy: Option<&mut Policy<EntryRef<K>>>,
        out: &mut Unlinked<'g, K>,
        guard: &'g Guard,
    ) {
        if !state.timers.is_empty() {
            self.expire_due(state, now, limit, policy, out, guard);
        }
    }

    /// `expire` for a shard with deadlines.
    #[inline(never)]
    fn expire_due<'g>(
        &self,
        state: &mut WriterState<K>,
        now: u64,
        limit: usize,
        mut policy: Option<&mut Policy<EntryRef<K>>>,
        out: &mut Unlinked<'g, K>,
        guard: &'g Guard,
    ) {
        let table = self.table(guard);
        let mut unlinked = 0;
        while unlinked < limit {
            let Some(timer) = state.timers.pop_due(now) else {
                break;
            };
            // SAFETY: a timer of this shard's table names an entry that is live
            // or, once unlinked, retired under a guard that this writer's
            // pin outlasts.
            let entry = unsafe { Entry::shared(timer.addr) };
            let Some(index) = table.position_of(timer.tag, entry) else {
                continue;
            };
            // SAFETY: live in the published table, under the lock.
            if unsafe { entry.deref() }.deadline != timer.deadline {
                continue;
            }
            let cause = EvictionCause::Expired;
            self.unlink(state, table, index, cause, policy.as_deref_mut(), guard);
            // SAFETY: unlinked above under the lock, once: it was live.
            unsafe { out.push(entry, cause) };
            unlinked += 1;
        }
        state.timers.compact(|t| {
            // SAFETY: as above.
            let entry = unsafe { Entry::shared(t.addr) };
            table.position_of(t.tag, entry).is_some()
                // SAFETY: live in the published table, under the lock.
                && unsafe { entry.deref() }.deadline == t.deadline
        });
    }

    /// Replaces the table with an empty one and returns the old one, which
    /// the caller passes to `retire_table`. `None` if there was nothing to
    /// clear. Unlists every load in flight, and counts each entry of the
    /// old table as removed, or expired if it had expired at `now`.
    pub(crate) fn clear<'g>(&self, now: u64, guard: &'g Guard) -> Option<Shared<'g, Table<K>>> {
        let mut state = lock(&self.state);
        // Every load in flight loses to the clear (module docs); kept
        // failures go to the graveyard, the others are held by their
        // leaders.
        let mut graveyard = std::mem::take(&mut state.graveyard);
        graveyard.extend(state.flights.drain(..).filter(|f| f.kept()));
        state.graveyard = graveyard;
        state.batch.seal(&self.counters.retired, guard);
        // `StrCache::clear` flushes once, for every shard: the next insert
        // here need not flush again.
        state.batch.take_sealed();
        if state.len == 0 && state.tombstones == 0 {
            return None;
        }
        let old = self.swap_table(Table::with_capacity(0), guard);
        // SAFETY: just unlinked, under `guard`: not yet retired.
        for (_, entry) in unsafe { old.deref() }.live(guard) {
            // SAFETY: live in the table just unlinked, which owns it.
            let cause = unsafe { entry.deref() }.cause_at(now, EvictionCause::Removed);
            self.counters.unlinked_locked(cause);
        }
        let graveyard = std::mem::take(&mut state.graveyard);
        // Its batch is empty: sealed above.
        *state = WriterState::default();
        state.graveyard = graveyard;
        self.len.store(0, Ordering::Relaxed);
        Some(old)
    }

    /// Tombstones live slot `index`, counts its entry as unlinked for
    /// `cause`, updates the counts, the timers and, when given, the
    /// policy, and retires the entry into the shard's batch.
    fn unlink(
        &self,
        state: &mut WriterState<K>,
        table: &Table<K>,
        index: usize,
        cause: EvictionCause,
        policy: Option<&mut Policy<EntryRef<K>>>,
        guard: &Guard,
    ) {
        self.counters.unlinked_locked(cause);
        let current = table.current(index, guard);
        // SAFETY: slot `index` is live in the published table, under the
        // lock, so its entry is not retired.
        let entry = unsafe { current.deref() };
        if entry.deadline != 0 {
            state.timers.unlinked();
        }
        if let Some(policy) = policy {
            policy.remove(entry.node());
        }
        table.remove(index, entry.tag());
        state.unlinked = true;
        state.len -= 1;
        state.tombstones += 1;
        self.len.store(state.len, Ordering::Relaxed);
        // SAFETY: unlinked from the published table just above, under the
        // lock, once: it was live.
        unsafe { state.batch.retire(current, &self.counters.retired, guard) };
    }

    /// Rehashes into a table sized for the live entries, dropping
    /// tombstones. Called under the lock with the published table.
    fn resize(&self, state: &mut WriterState<K>, old: Shared<'_, Table<K>>, guard: &Guard) {
        // SAFETY: `old` is the published table, loaded under `guard`.
        let old_table = unsafe { old.deref() };
        let new = old_table.rehash(table_capacity_for(state.len + 1), guard);
        let unlinked = self.swap_table(new, guard);
        debug_assert_eq!(unlinked, old);
        state.tombstones = 0;
        state.unlinked = false;
        let retiring = self.counters.retired.retire(old_table.bytes());
        // SAFETY: unlinked by the swap above; it owns none of its entries
        // now (they moved to the new table), so destroying it frees only
        // the slot array. The closure runs once, after every guard that
        // could have loaded the table is gone.
        unsafe {
            guard.defer_unchecked(move || {
                drop(retiring);
                drop(unlinked.into_owned());
            });
        }
    }

    /// Publishes `table`, returning the unlinked one. Called under the lock.
    fn swap_table<'g>(&self, table: Owned<Table<K>>, guard: &'g Guard) -> Shared<'g, Table<K>> {
        // Release: pairs with the Acquire loads in `Shard::table` and
        // `Shard::get`, so readers see the slots written before the swap.
        self.table.swap(table, Ordering::Release, guard)
    }
}
