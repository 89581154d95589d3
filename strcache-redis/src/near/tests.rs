//! The fill path's races, forced with the test-only hook that runs between
//! a fill's reply and its commit, against a real redis-server.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::{
    atomic::{AtomicBool, Ordering::Relaxed},
    Arc,
};

use redis::AsyncCommands;
use support::{calls, wait_until, Server};

use crate::{builder::FillHook, near::Shared, NearCache};

/// A hook that runs `inside` once, in the first fill, between its reply
/// and its commit.
fn once<F>(inside: impl Fn(Arc<Shared>) -> F + Send + Sync + 'static) -> FillHook
where
    F: std::future::Future<Output = ()> + Send + 'static,
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

/// 64 concurrent misses of one key: the first one's fill waits until all
/// 64 have missed, and the server runs one GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_get() {
    const READERS: u64 = 64;
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("k", "v").await.unwrap();
    let hook = once(|shared: Arc<Shared>| async move {
        wait_until("every reader's miss", || {
            shared.counters.misses.load(Relaxed) == READERS
        })
        .await;
    });
    let near = Arc::new(near_with(&server, hook).await);
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let near = Arc::clone(&near);
            tokio::spawn(async move { near.get("k").await.unwrap().unwrap().to_string() })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap(), "v");
    }
    assert_eq!(calls(&mut admin, "get").await, 1);
    let stats = near.stats();
    assert_eq!(
        (stats.misses, stats.fills, stats.fills_discarded),
        (READERS, 1, 0)
    );
}
