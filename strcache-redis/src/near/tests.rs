//! The fill path's races, forced with the test-only hook that runs between
//! a fill's reply and its commit, against a real redis-server; and what
//! the server reports to the tracking connection itself.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{
            AtomicBool, AtomicU64,
            Ordering::{Acquire, Relaxed, Release},
        },
        Arc,
    },
    task::{Context, Poll},
};

use redis::AsyncCommands;
use support::{calls, wait_until, Server};

use crate::{builder::FillHook, near::Shared, NearCache, Tracking};

/// A hook that runs `inside` once, in the first fill, between its reply
/// and its commit.
fn once<F>(inside: impl Fn(Arc<Shared>) -> F + Send + Sync + 'static) -> FillHook
where
    F: Future<Output = ()> + Send + 'static,
{
    let armed = AtomicBool::new(true);
    Arc::new(move |_key, shared| {
        let run = armed.swap(false, Relaxed).then(|| inside(shared));
        Box::pin(async move {
            if let Some(run) = run {
                run.await;
            }
        })
    })
}

/// The same interleaving for an absence kept by `cache_missing_for`: the
/// fill reads that the key is missing, another connection's SET lands and
/// its invalidation is applied, then the fill ends. The caller gets
/// `None`, but the absence is not kept: the next read fetches the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_between_reply_and_commit_ends_a_kept_absence() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let writer = server.admin().await;
    let hook = once(move |shared| {
        let mut writer = writer.clone();
        async move {
            let () = writer.set("k", "new").await.unwrap();
            wait_until("the invalidation inside the fill", || {
                shared.counters.keys_invalidated.load(Relaxed) == 1
            })
            .await;
        }
    });
    let near = NearCache::builder(server.url())
        .fill_hook(hook)
        .cache_missing_for(std::time::Duration::from_secs(600))
        .build()
        .await
        .unwrap();
    assert!(near.get("k").await.unwrap().is_none());
    assert_eq!(near.get("k").await.unwrap().unwrap(), "new");
    assert_eq!(calls(&mut admin, "get").await, 2);
}

/// A near-cache over `server` whose fills run `hook`.
async fn near_with(server: &Server, hook: FillHook) -> NearCache {
    NearCache::builder(server.url())
        .fill_hook(hook)
        .build()
        .await
        .unwrap()
}

/// The forced interleaving: the fill has its reply (the old
/// value); another connection's SET lands and its invalidation is applied;
/// only then does the fill try to commit. The old value goes to the caller,
/// whose read began before the SET, but is not cached: without the guard
/// it would stay cached, with its invalidation already spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_between_reply_and_commit_discards_the_fill() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("k", "old").await.unwrap();
    let writer = server.admin().await;
    let hook = once(move |shared| {
        let mut writer = writer.clone();
        async move {
            let () = writer.set("k", "new").await.unwrap();
            wait_until("the invalidation inside the fill", || {
                shared.counters.keys_invalidated.load(Relaxed) == 1
            })
            .await;
        }
    });
    let near = near_with(&server, hook).await;
    assert_eq!(near.get("k").await.unwrap().unwrap(), "old");
    assert!(
        near.get_local("k").is_none(),
        "the overtaken fill was cached"
    );
    let stats = near.stats();
    assert_eq!((stats.fills, stats.fills_discarded), (1, 1));
    assert_eq!(near.get("k").await.unwrap().unwrap(), "new");
    assert!(near.get_local("k").is_some());
}

/// A disconnect between a fill's reply and its commit: the fill's
/// generation has ended, and its value is not cached, though the
/// near-cache has reconnected by the time the fill commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_between_reply_and_commit_discards_the_fill() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("k", "v").await.unwrap();
    let killer = server.admin().await;
    let hook = once(move |shared| {
        let mut killer = killer.clone();
        async move {
            let id = shared.link.session().unwrap().client_id;
            let () = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(id)
                .query_async(&mut killer)
                .await
                .unwrap();
            wait_until("the reconnect inside the fill", || {
                shared.counters.reconnects.load(Relaxed) == 1
            })
            .await;
        }
    });
    let near = near_with(&server, hook).await;
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v");
    assert!(
        near.get_local("k").is_none(),
        "a fill of an ended generation was cached"
    );
    let stats = near.stats();
    assert_eq!((stats.fills_discarded, stats.flushes.disconnect), (1, 1));
    assert!(near.is_tracking());
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v");
    assert!(near.get_local("k").is_some());
}

/// What `CLIENT TRACKINGINFO` reports for `near`'s tracking connection,
/// asked on that connection itself (the command answers only for the
/// connection that runs it): its flags and prefixes, each sorted, and its
/// redirect. Checks first that the connection is the client whose id the
/// near-cache reports.
async fn tracking_info(near: &NearCache) -> (Vec<String>, i64, Vec<String>) {
    let mut session = near.shared.link.session().expect("tracking is up");
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut session.conn)
        .await
        .unwrap();
    assert_eq!(Some(id), near.tracking_client_id());
    let info: HashMap<String, redis::Value> = redis::cmd("CLIENT")
        .arg("TRACKINGINFO")
        .query_async(&mut session.conn)
        .await
        .unwrap();
    let field = |name: &str| -> Vec<String> {
        let mut v: Vec<String> = redis::from_redis_value_ref(&info[name]).unwrap();
        v.sort();
        v
    };
    let redirect = redis::from_redis_value_ref(&info["redirect"]).unwrap();
    (field("flags"), redirect, field("prefixes"))
}

/// After `CLIENT KILL` of the tracking connection, the near-cache's new
/// connection is tracked in the mode it was built with, as the server
/// reports it to that connection (`CLIENT TRACKINGINFO`): `on`, plus
/// `optin`, or `bcast` with its prefixes, and redirect 0 (the pushes come
/// on the connection itself, RESP3). The integration test of the reconnect
/// in `tests/redis.rs` cannot ask this: it has no way to run a command on
/// the near-cache's connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_tracks_in_the_mode_it_was_built_with() {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let modes = [
        (Tracking::Default, strings(&["on"]), vec![]),
        (Tracking::OptIn, strings(&["on", "optin"]), vec![]),
        (
            Tracking::Broadcast {
                prefixes: strings(&["user:", "item:"]),
            },
            strings(&["bcast", "on"]),
            strings(&["item:", "user:"]),
        ),
    ];
    for (tracking, flags, prefixes) in modes {
        let Some(server) = Server::start() else {
            return;
        };
        let mut admin = server.admin().await;
        let near = NearCache::builder(server.url())
            .tracking(tracking.clone())
            .build()
            .await
            .unwrap();
        let expected = (flags, 0, prefixes);
        assert_eq!(tracking_info(&near).await, expected, "{tracking:?}, built");
        let old = near.tracking_client_id().unwrap();
        let () = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(old)
            .query_async(&mut admin)
            .await
            .unwrap();
        wait_until("the reconnect", || near.stats().reconnects == 1).await;
        assert_ne!(near.tracking_client_id().unwrap(), old);
        assert_eq!(
            tracking_info(&near).await,
            expected,
            "{tracking:?}, reconnected"
        );
    }
}

/// Readers in [`miss_together`].
const READERS: u64 = 64;

/// `READERS` concurrent reads of `key`, the first one's fill held until
/// every reader waits for it: what each read, and the near-cache.
///
/// A reader's first poll counts its miss and joins the key's load in
/// flight, with no `.await` between, and then returns `Pending` (see
/// [`CountParked`]). The fill waits for that, not for the count of misses:
/// a reader whose thread was descheduled between its miss and its join
/// would otherwise join only after the fill had ended, and run a GET of
/// its own.
async fn miss_together(server: &Server, key: &'static str) -> (Vec<Option<String>>, NearCache) {
    let parked = Arc::new(AtomicU64::new(0));
    let hook = once({
        let parked = Arc::clone(&parked);
        move |_shared: Arc<Shared>| {
            let parked = Arc::clone(&parked);
            async move {
                // Acquire: pairs with the Release increment in
                // `CountParked::poll`, after the reader's join.
                wait_until("every reader waiting for the fill", || {
                    parked.load(Acquire) == READERS
                })
                .await;
            }
        }
    });
    let near = Arc::new(near_with(server, hook).await);
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let near = Arc::clone(&near);
            let read = async move { near.get(key).await.unwrap().map(|v| v.to_string()) };
            tokio::spawn(CountParked {
                inner: Box::pin(read),
                parked: Arc::clone(&parked),
                counted: false,
            })
        })
        .collect();
    let mut read = Vec::new();
    for reader in readers {
        read.push(reader.await.unwrap());
    }
    let near = Arc::into_inner(near).expect("every reader has ended");
    assert_eq!(near.stats().misses, READERS);
    (read, near)
}

/// A future that adds one to `parked` the first time `inner` returns
/// `Pending`: for a read of [`miss_together`], once it waits for the fill,
/// its own or the first reader's.
struct CountParked<F> {
    inner: Pin<Box<F>>,
    parked: Arc<AtomicU64>,
    counted: bool,
}

impl<F: Future> Future for CountParked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let poll = self.inner.as_mut().poll(cx);
        if poll.is_pending() && !self.counted {
            self.counted = true;
            // Release: pairs with the hook's Acquire load, so that the
            // fill ends after this reader joined it.
            self.parked.fetch_add(1, Release);
        }
        poll
    }
}

/// 64 concurrent misses of one key: the first one's fill waits until all
/// 64 wait for it, and the server runs one GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_get() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("k", "v").await.unwrap();
    let (read, near) = miss_together(&server, "k").await;
    assert!(read.iter().all(|v| v.as_deref() == Some("v")), "{read:?}");
    assert_eq!(calls(&mut admin, "get").await, 1);
    let stats = near.stats();
    assert_eq!(
        (stats.misses, stats.fills, stats.fills_discarded),
        (READERS, 1, 0)
    );
}

/// 64 concurrent misses of a key Redis does not hold cost one GET too: the
/// fill's "missing" outcome is shared with every caller waiting for it,
/// and nothing is cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_of_a_missing_key_share_one_get() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let (read, near) = miss_together(&server, "absent").await;
    assert!(read.iter().all(Option::is_none), "{read:?}");
    assert_eq!(calls(&mut admin, "get").await, 1);
    assert_eq!(near.local_len(), 0);
}

/// A xorshift generator: the torture test's choices, reproducible by seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A hook that delays some fills between reply and commit, so that
/// invalidations overtake them: a yield, or a sleep of up to 2 ms.
fn delays(seed: u64) -> FillHook {
    let rng = std::sync::Mutex::new(Rng(seed));
    Arc::new(move |_key, _shared| {
        let pick = rng.lock().unwrap().below(8);
        Box::pin(async move {
            match pick {
                0..=3 => {}
                4..=5 => tokio::task::yield_now().await,
                n => {
                    tokio::time::sleep(std::time::Duration::from_micros(200 * (n - 3) * (n - 3)))
                        .await
                }
            }
        })
    })
}

/// The convergence torture test: three near-caches over one server, each
/// with delays injected into its fills; two writers, each owning half the
/// keys, write 10,000 increasing versions through connections of their own while
/// readers on every near-cache read. Each reader sees each key's versions
/// in order. Once the writers stop and each near-cache has made one PING
/// round trip, every near-cache holds nothing or exactly the server's
/// value for every key: no key stays stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn near_caches_converge_on_the_servers_values() {
    const KEYS: u64 = 16;
    const WRITES: u64 = 10_000;
    const NEARS: u64 = 3;
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let mut nears = Vec::new();
    for seed in 1..=NEARS {
        nears.push(Arc::new(near_with(&server, delays(seed * 7919)).await));
    }
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for owner in 0..2 {
        let mut conn = server.admin().await;
        writers.push(tokio::spawn(async move {
            let mut rng = Rng(owner + 17);
            for version in 1..=WRITES / 2 {
                let key = rng.below(KEYS / 2) * 2 + owner;
                let () = conn.set(format!("k{key}"), version).await.unwrap();
            }
        }));
    }
    let mut readers = Vec::new();
    for (i, near) in nears.iter().enumerate() {
        for r in 0..2 {
            let (near, writing) = (Arc::clone(near), Arc::clone(&writing));
            readers.push(tokio::spawn(async move {
                let mut rng = Rng(i as u64 * 31 + r + 5);
                let mut seen = [0u64; KEYS as usize];
                let mut reads = 0u64;
                while writing.load(Relaxed) {
                    let key = rng.below(KEYS);
                    let read = near.get(&format!("k{key}")).await.unwrap();
                    let version = read.map_or(0, |v| v.parse::<u64>().unwrap());
                    assert!(
                        version >= seen[key as usize],
                        "k{key} went back from {} to {version}",
                        seen[key as usize]
                    );
                    seen[key as usize] = version;
                    reads += 1;
                    // A hit completes without suspending: let the writers
                    // run.
                    tokio::task::yield_now().await;
                }
                reads
            }));
        }
    }
    for writer in writers {
        support::within("the writers", writer).await.unwrap();
    }
    writing.store(false, Relaxed);
    let mut reads = 0;
    for reader in readers {
        reads += support::within("the readers", reader).await.unwrap();
    }
    let (mut stale, mut compared) = (Vec::new(), 0);
    for (i, near) in nears.iter().enumerate() {
        near.sync().await.unwrap();
        for key in 0..KEYS {
            let key = format!("k{key}");
            let server_value: Option<String> = admin.get(&key).await.unwrap();
            if let Some(local) = near.get_local(&key) {
                compared += 1;
                if Some(&*local) != server_value.as_deref() {
                    stale.push(format!(
                        "near {i}: {key} = {local}, server {server_value:?}"
                    ));
                }
            }
        }
    }
    assert!(stale.is_empty(), "stale keys: {stale:?}");
    let discarded: u64 = nears.iter().map(|n| n.stats().fills_discarded).sum();
    eprintln!("{WRITES} writes, {reads} reads, {discarded} fills discarded, {compared} cached keys matched the server");
}
