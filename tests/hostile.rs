//! Hostile user code. Every piece of user code the cache calls (the key's
//! `Hash`, `Eq`, `Clone` and `Drop`, the clock, the weigher, the eviction
//! listener and the loader) is made, once, to panic, to re-enter the cache
//! (read, write, `stats()`, `{:?}`), or to block until released.
//!
//! For each, the test checks that:
//! - the cache stays usable: while the code blocks, other threads read,
//!   write, take `stats()` and `{:?}` (all of them lock-free or taking
//!   only the locks no user code runs under);
//! - it loses no entry it should keep: every key but the one the hostile
//!   call wrote holds exactly what the test wrote, and that one holds its
//!   old or its new value;
//! - it leaks nothing: every key and value made is dropped once, after the
//!   cache is;
//! - it deadlocks nowhere: each scenario runs on a thread of its own under
//!   a watchdog that fails the test after 30 seconds
//!   (`support/watch.rs`), and every wait inside a scenario has a timeout.
//!
//! This backs DESIGN.md, invariant 5 (no user code under a lock) and the
//! promise that every key and value is dropped once.

use std::{
    fmt,
    hash::{Hash, Hasher},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed},
        Arc, Condvar, Mutex, OnceLock, Weak,
    },
    thread,
    time::Duration,
};

use bytes::Bytes;
use strcache::{Clock, ManualClock, StrCache, Utf8Bytes};

#[path = "support/collect.rs"]
mod collect;
#[path = "support/watch.rs"]
mod watch;
use collect::collect_until;
use watch::{watched, PATIENCE};

/// The piece of user code a scenario turns hostile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    Hash,
    Eq,
    Clone,
    Drop,
    Clock,
    Weigher,
    Listener,
    Loader,
}

/// What the hostile code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    /// Panic, the first time it runs.
    Panic,
    /// Use the cache, every time it runs until disarmed, so that a call
    /// made under any lock would deadlock.
    Reenter,
    /// Block until released, the first time it runs.
    Block,
}

type Cache = StrCache<Key>;

/// Keys the scenario fills the cache with before it arms the hook.
const FILL: u32 = 16;
/// The key each hook's trigger writes, or whose drop it awaits.
const TARGET: u32 = 7;

/// The script every hostile piece of code consults, and the counts that
/// show nothing leaked.
#[derive(Default)]
struct Script {
    /// The hook and act armed: until the hook fires, or for `Reenter`
    /// until the scenario disarms it.
    armed: Mutex<Option<(Hook, Act)>>,
    /// Set when the armed hook fired; a blocked hook waits for `released`.
    fired: AtomicBool,
    released: Mutex<bool>,
    release: Condvar,
    /// Re-entries completed.
    reentered: AtomicUsize,
    cache: OnceLock<Weak<Cache>>,
    keys_made: AtomicUsize,
    keys_dropped: AtomicUsize,
    values_made: AtomicUsize,
    values_dropped: AtomicUsize,
}

thread_local! {
    /// Whether this thread is inside a hostile call: code it runs behaves.
    static INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Script {
    /// Runs the act armed for `hook`, if it is armed and `id` (the key the
    /// code was called for, when it has one) is the target.
    fn hook(self: &Arc<Self>, hook: Hook, id: Option<u32>) {
        if id.is_some_and(|id| id != TARGET) || INSIDE.with(|i| i.get()) {
            return;
        }
        let act = {
            let mut armed = self.armed.lock().unwrap();
            match *armed {
                Some((h, act)) if h == hook => {
                    if act != Act::Reenter {
                        *armed = None;
                    }
                    act
                }
                _ => return,
            }
        };
        self.fired.store(true, Relaxed);
        match act {
            Act::Panic => panic!("hostile {hook:?}"),
            Act::Reenter => {
                INSIDE.with(|i| i.set(true));
                let used = catch_unwind(AssertUnwindSafe(|| self.use_cache()));
                INSIDE.with(|i| i.set(false));
                if let Err(panic) = used {
                    std::panic::resume_unwind(panic);
                }
                self.reentered.fetch_add(1, Relaxed);
            }
            Act::Block => {
                let released = self.released.lock().unwrap();
                let (released, timeout) = self
                    .release
                    .wait_timeout_while(released, PATIENCE, |r| !*r)
                    .unwrap();
                drop(released);
                assert!(!timeout.timed_out(), "never released");
            }
        }
    }

    /// Reads, writes and inspects the cache: what re-entering code does,
    /// and what the test does while a hook blocks.
    fn use_cache(self: &Arc<Self>) {
        let Some(cache) = self.cache.get().and_then(Weak::upgrade) else {
            return;
        };
        assert_eq!(cache.get_str(&self.key(0)).as_deref(), Some("value 0"));
        cache
            .insert(self.key(FILL + 1), self.value("other"))
            .unwrap();
        assert_eq!(cache.remove(&self.key(FILL + 1)).as_deref(), Some("other"));
        let loaded = cache.get_or_insert_with(&self.key(FILL + 2), || self.value("loaded"));
        assert_eq!(loaded.unwrap(), "loaded");
        cache.remove(&self.key(FILL + 2));
        let _ = cache.stats();
        let _ = format!("{cache:?}");
    }

    fn key(self: &Arc<Self>, id: u32) -> Key {
        self.keys_made.fetch_add(1, Relaxed);
        Key {
            id,
            script: Arc::clone(self),
        }
    }

    fn value(self: &Arc<Self>, text: &str) -> Utf8Bytes {
        self.values_made.fetch_add(1, Relaxed);
        let value = Value {
            text: text.to_owned(),
            script: Arc::clone(self),
        };
        Utf8Bytes::try_from(Bytes::from_owner(value)).unwrap()
    }

    /// Releases a blocked hook.
    fn release(&self) {
        *self.released.lock().unwrap() = true;
        self.release.notify_all();
    }

    fn keys_and_values_all_dropped(&self) -> bool {
        self.keys_made.load(Relaxed) == self.keys_dropped.load(Relaxed)
            && self.values_made.load(Relaxed) == self.values_dropped.load(Relaxed)
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("keys_made", &self.keys_made)
            .field("keys_dropped", &self.keys_dropped)
            .field("values_made", &self.values_made)
            .field("values_dropped", &self.values_dropped)
            .finish_non_exhaustive()
    }
}

/// A key whose `Hash`, `Eq`, `Clone` and `Drop` consult the script.
struct Key {
    id: u32,
    script: Arc<Script>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.script.hook(Hook::Hash, Some(self.id));
        self.id.hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.script.hook(Hook::Eq, Some(self.id));
        self.id == other.id
    }
}

impl Eq for Key {}

impl Clone for Key {
    fn clone(&self) -> Self {
        self.script.hook(Hook::Clone, Some(self.id));
        self.script.key(self.id)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.script.keys_dropped.fetch_add(1, Relaxed);
        // A second panic while unwinding would abort the process.
        if !thread::panicking() {
            self.script.hook(Hook::Drop, Some(self.id));
        }
    }
}

/// A value's buffer owner, counted.
struct Value {
    text: String,
    script: Arc<Script>,
}

impl AsRef<[u8]> for Value {
    fn as_ref(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        self.script.values_dropped.fetch_add(1, Relaxed);
    }
}

/// A clock that consults the script.
struct Hostile {
    script: Arc<Script>,
    time: ManualClock,
}

impl fmt::Debug for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hostile").finish_non_exhaustive()
    }
}

impl Clock for Hostile {
    fn now(&self) -> Duration {
        self.script.hook(Hook::Clock, None);
        self.time.now()
    }
}

/// A bounded cache with a time to live, whose user code all consults the
/// script, filled with keys `0..FILL`. One shard, so that code re-entering
/// the cache meets the locks of the write that called it.
fn build(script: &Arc<Script>) -> Arc<Cache> {
    let (weigher, listener) = (Arc::clone(script), Arc::clone(script));
    let cache = Arc::new(
        StrCache::builder()
            .shards(1)
            .max_weight(1_000, move |key: &Key, _: &str| {
                weigher.hook(Hook::Weigher, Some(key.id));
                1
            })
            .time_to_live(Duration::from_secs(3_600))
            .clock(Hostile {
                script: Arc::clone(script),
                time: ManualClock::new(),
            })
            .on_evict(move |key: &Key, _, _| listener.hook(Hook::Listener, Some(key.id)))
            .build(),
    );
    script.cache.set(Arc::downgrade(&cache)).unwrap();
    for id in 0..FILL {
        let value = script.value(&format!("value {id}"));
        cache.insert(script.key(id), value).unwrap();
    }
    cache
}

/// Calls the armed hook: writes key `TARGET` in the way that runs it. For
/// `Drop`, replaces the key and flushes until the collector drops the old
/// one.
fn trigger(cache: &Cache, script: &Arc<Script>, hook: Hook) {
    let key = script.key(TARGET);
    match hook {
        Hook::Clone | Hook::Loader => {
            cache.remove(&key);
            let load = || {
                script.hook(Hook::Loader, None);
                script.value("new")
            };
            assert_eq!(cache.get_or_insert_with(&key, load).unwrap(), "new");
        }
        Hook::Drop => {
            cache.insert(key, script.value("new")).unwrap();
            // The shard holds the replaced entry back, with others, to
            // be freed together, until this hands it to the collector.
            cache.purge_expired();
            for _ in 0..1_000_000 {
                if script.fired.load(Relaxed) {
                    return;
                }
                crossbeam_epoch::pin().flush();
                thread::yield_now();
            }
            panic!("the replaced key was never dropped");
        }
        Hook::Hash | Hook::Eq | Hook::Clock | Hook::Weigher | Hook::Listener => {
            cache.insert(key, script.value("new")).unwrap();
        }
    }
}

/// One scenario: fill, arm `hook` with `act`, trigger it, and check that
/// the cache stayed usable, kept every entry and leaked nothing.
fn scenario(hook: Hook, act: Act) {
    watched(move || {
        let script = Arc::new(Script::default());
        let cache = build(&script);
        *script.armed.lock().unwrap() = Some((hook, act));
        match act {
            Act::Panic => {
                let result = catch_unwind(AssertUnwindSafe(|| trigger(&cache, &script, hook)));
                // A key dropped by the collector panics on whichever thread
                // collects, which catches it there: the write succeeded.
                assert_eq!(result.is_err(), hook != Hook::Drop, "{hook:?} panicked");
            }
            Act::Reenter => {
                trigger(&cache, &script, hook);
                // A key's `Drop` runs on whichever thread collects it, which
                // may still be inside the hook when `trigger` sees it fire.
                let mut waited = Duration::ZERO;
                while script.reentered.load(Relaxed) == 0 {
                    assert!(waited < PATIENCE, "{hook:?} never re-entered");
                    thread::sleep(Duration::from_millis(1));
                    waited += Duration::from_millis(1);
                }
                *script.armed.lock().unwrap() = None;
            }
            Act::Block => {
                let writer = {
                    let (cache, script) = (Arc::clone(&cache), Arc::clone(&script));
                    thread::spawn(move || trigger(&cache, &script, hook))
                };
                let mut waited = Duration::ZERO;
                while !script.fired.load(Relaxed) {
                    assert!(waited < PATIENCE, "{hook:?} never ran");
                    thread::sleep(Duration::from_millis(1));
                    waited += Duration::from_millis(1);
                }
                // The hook blocks now; everything else goes on.
                script.use_cache();
                script.release();
                writer.join().unwrap();
            }
        }
        assert!(script.fired.load(Relaxed), "{hook:?} ran");
        check_contents(&cache, &script);
        drop(cache);
        collect_until(|| script.keys_and_values_all_dropped());
        assert!(script.keys_and_values_all_dropped(), "{script:?}");
    });
}

/// Every key but `TARGET` holds the value it was filled with; `TARGET`
/// holds that, or "new" (or is absent if the trigger removed it and the
/// load then failed); the count agrees with an iteration.
fn check_contents(cache: &Cache, script: &Arc<Script>) {
    for id in 0..FILL {
        let value = cache.get_str(&script.key(id)).map(|v| v.to_string());
        if id == TARGET {
            assert!(
                matches!(value.as_deref(), None | Some("new" | "value 7")),
                "key {id}: {value:?}"
            );
        } else {
            assert_eq!(value, Some(format!("value {id}")), "key {id}");
        }
    }
    assert_eq!(cache.iter().count(), cache.len());
    let usable = script.value("usable");
    cache.insert(script.key(FILL + 3), usable).unwrap();
    assert_eq!(
        cache.get_str(&script.key(FILL + 3)).as_deref(),
        Some("usable")
    );
}

macro_rules! scenarios {
    ($($name:ident: $hook:ident $act:ident;)*) => {$(
        #[test]
        fn $name() {
            scenario(Hook::$hook, Act::$act);
        }
    )*};
}

scenarios! {
    hash_panics: Hash Panic;
    hash_reenters: Hash Reenter;
    hash_blocks: Hash Block;
    eq_panics: Eq Panic;
    eq_reenters: Eq Reenter;
    eq_blocks: Eq Block;
    clone_panics: Clone Panic;
    clone_reenters: Clone Reenter;
    clone_blocks: Clone Block;
    drop_panics: Drop Panic;
    drop_reenters: Drop Reenter;
    drop_blocks: Drop Block;
    clock_panics: Clock Panic;
    clock_reenters: Clock Reenter;
    clock_blocks: Clock Block;
    weigher_panics: Weigher Panic;
    weigher_reenters: Weigher Reenter;
    weigher_blocks: Weigher Block;
    listener_panics: Listener Panic;
    listener_reenters: Listener Reenter;
    listener_blocks: Listener Block;
    loader_panics: Loader Panic;
    loader_reenters: Loader Reenter;
    loader_blocks: Loader Block;
}

/// A cache dropped while one of its keys' `Drop` panics drops every other
/// key and value, then passes the panic on to its owner.
#[test]
fn a_panicking_drop_when_the_cache_drops_leaks_nothing() {
    watched(|| {
        let script = Arc::new(Script::default());
        let cache = build(&script);
        *script.armed.lock().unwrap() = Some((Hook::Drop, Act::Panic));
        let dropped = catch_unwind(AssertUnwindSafe(move || drop(cache)));
        assert!(dropped.is_err(), "the panic reaches the cache's owner");
        collect_until(|| script.keys_and_values_all_dropped());
        assert!(script.keys_and_values_all_dropped(), "{script:?}");
    });
}
