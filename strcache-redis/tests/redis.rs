//! The near-cache against a real redis-server that each test starts on a
//! free loopback port. Every wait is for a counted event, and fails the
//! test after `support::PATIENCE`.

mod support;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
        Arc,
    },
    time::Duration,
};

use redis::AsyncCommands;
use strcache_redis::{Error, NearCache, Tracking};
use support::{calls, wait_until, within, Server};

async fn near(server: &Server) -> NearCache {
    NearCache::builder(server.url()).build().await.unwrap()
}

/// A server, another client's connection to it, and a near-cache with
/// `tracking` that has cached `k` = `v1`; `None` when the test skips.
async fn filled(
    tracking: Tracking,
) -> Option<(Server, redis::aio::MultiplexedConnection, NearCache)> {
    let server = Server::start()?;
    let mut admin = server.admin().await;
    let () = admin.set("k", "v1").await.unwrap();
    let near = NearCache::builder(server.url())
        .tracking(tracking)
        .build()
        .await
        .unwrap();
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v1");
    Some((server, admin, near))
}

/// Another client's SET of `key` to `new` removes `near`'s copy (waiting
/// for the invalidation), and the next read fills `new`.
async fn assert_set_invalidates(
    near: &NearCache,
    admin: &mut redis::aio::MultiplexedConnection,
    key: &str,
    new: &str,
) {
    assert!(near.get_local(key).is_some(), "`{key}` is not cached");
    let () = admin.set(key, new).await.unwrap();
    wait_until("the invalidation", || near.get_local(key).is_none()).await;
    assert_eq!(near.get(key).await.unwrap().unwrap(), new);
    assert!(
        near.get_local(key).is_some(),
        "`{key}` was not cached again"
    );
}

#[tokio::test]
async fn a_fill_then_hits() {
    let Some((_server, mut admin, near)) = filled(Tracking::Default).await else {
        return;
    };
    for _ in 0..10 {
        assert_eq!(near.get("k").await.unwrap().unwrap(), "v1");
    }
    let stats = near.stats();
    assert_eq!((stats.misses, stats.fills, stats.hits), (1, 1, 10));
    assert_eq!(calls(&mut admin, "get").await, 1);
    assert_eq!(stats.fills_discarded, 0);
}

/// Hits are counted per thread and summed: hits from tasks on several
/// worker threads all show in `stats()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_on_every_thread_are_counted() {
    let Some((_server, _admin, near)) = filled(Tracking::Default).await else {
        return;
    };
    let near = Arc::new(near);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let near = Arc::clone(&near);
            tokio::spawn(async move {
                for _ in 0..250 {
                    assert!(near.get("k").await.unwrap().is_some());
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let stats = near.stats();
    assert_eq!((stats.hits, stats.misses), (1_000, 1));
}

#[tokio::test]
async fn another_clients_set_invalidates() {
    let Some((_server, mut admin, near)) = filled(Tracking::Default).await else {
        return;
    };
    assert_set_invalidates(&near, &mut admin, "k", "v2").await;
    let stats = near.stats();
    assert_eq!((stats.keys_invalidated, stats.fills), (1, 2));
}

#[tokio::test]
async fn flushall_flushes_every_key() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let near = near(&server).await;
    for i in 0..5 {
        let () = admin.set(format!("k{i}"), i).await.unwrap();
        near.get(&format!("k{i}")).await.unwrap().unwrap();
    }
    assert_eq!(near.local_len(), 5);
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    wait_until("the null invalidation", || near.stats().flushes.null == 1).await;
    assert_eq!(near.local_len(), 0);
    assert!(near.get("k0").await.unwrap().is_none());
}

#[tokio::test]
async fn a_killed_tracking_connection_flushes_reconnects_and_retracks() {
    let Some((_server, mut admin, near)) = filled(Tracking::Default).await else {
        return;
    };
    let old = near.tracking_client_id().unwrap();
    let () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(old)
        .query_async(&mut admin)
        .await
        .unwrap();
    wait_until("the reconnect", || near.stats().reconnects == 1).await;
    let stats = near.stats();
    assert_eq!((stats.flushes.disconnect, stats.flushes.heartbeat), (1, 0));
    assert!(
        near.get_local("k").is_none(),
        "a value cached before the disconnect survived it"
    );
    let new = near.tracking_client_id().unwrap();
    assert_ne!(new, old);
    // The server tracks the new connection (flag `t`; its mode, as
    // `CLIENT TRACKINGINFO` reports it, is checked in `src/near/tests.rs`:
    // that command answers only for the connection that runs it, and this
    // test cannot run one on the near-cache's)...
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(new)
        .query_async(&mut admin)
        .await
        .unwrap();
    let flags = list
        .split_whitespace()
        .find_map(|f| f.strip_prefix("flags="))
        .unwrap();
    assert!(flags.contains('t'), "not tracking: {list}");
    // ...and its invalidations arrive.
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v1");
    assert_set_invalidates(&near, &mut admin, "k", "v2").await;
}

/// A server that stops answering (CLIENT PAUSE, as a half-open connection
/// looks): the heartbeat's PING times out and flushes, and once the server
/// answers again the near-cache reconnects and tracks.
#[tokio::test]
async fn a_silent_connection_fails_the_heartbeat_and_flushes() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("k", "v1").await.unwrap();
    let near = NearCache::builder(server.url())
        .heartbeat(Duration::from_millis(100))
        .timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    near.get("k").await.unwrap().unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1_000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    wait_until("the heartbeat flush", || {
        near.stats().flushes.heartbeat == 1
    })
    .await;
    assert!(near.get_local("k").is_none());
    wait_until("the reconnect", || near.stats().reconnects == 1).await;
    assert_eq!(near.stats().flushes.disconnect, 0);
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v1");
    assert_set_invalidates(&near, &mut admin, "k", "v2").await;
}

#[tokio::test]
async fn evictions_from_the_servers_tracking_table_invalidate() {
    let Some(server) = Server::start_with(&["--tracking-table-max-keys", "2"]) else {
        return;
    };
    let mut admin = server.admin().await;
    let near = near(&server).await;
    for i in 0..10 {
        let () = admin.set(format!("k{i}"), i).await.unwrap();
        near.get(&format!("k{i}")).await.unwrap().unwrap();
    }
    // Each of the 8 keys past the table's 2 is evicted from it, and the
    // server invalidates it.
    wait_until("8 evictions", || near.stats().keys_invalidated >= 8).await;
    assert!(
        near.local_len() <= 2,
        "{} keys cached, 2 tracked",
        near.local_len()
    );
}

#[tokio::test]
async fn the_servers_ttl_caps_the_local_one() {
    // Without the server's active expiry the key's expiry sends no
    // invalidation: what drops the local copy is its own TTL.
    let Some(server) = Server::start_with(&["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut admin = server.admin().await;
    let () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query_async(&mut admin)
        .await
        .unwrap();
    let () = admin.set("long", "v").await.unwrap();
    let () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(200)
        .query_async(&mut admin)
        .await
        .unwrap();
    let near = NearCache::builder(server.url())
        .max_ttl(Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    near.get("short").await.unwrap().unwrap();
    near.get("long").await.unwrap().unwrap();
    wait_until("the local expiry", || near.get_local("short").is_none()).await;
    assert!(near.get_local("long").is_some());
    assert_eq!(near.stats().keys_invalidated, 0);
}

#[tokio::test]
async fn a_near_cache_reads_its_own_writes() {
    let Some(server) = Server::start() else {
        return;
    };
    let near = near(&server).await;
    near.set("k", "v1", None).await.unwrap();
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v1");
    near.set("k", "v2", None).await.unwrap();
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v2");
    assert!(near.del("k").await.unwrap());
    assert!(near.get("k").await.unwrap().is_none());
    assert!(!near.del("k").await.unwrap());
    near.set("t", "v", Some(Duration::from_secs(100)))
        .await
        .unwrap();
    let mut admin = server.admin().await;
    let pttl: i64 = admin.pttl("t").await.unwrap();
    assert!((1..=100_000).contains(&pttl), "PTTL {pttl}");
}

#[tokio::test]
async fn two_near_caches_see_each_others_writes() {
    let Some(server) = Server::start() else {
        return;
    };
    let (a, b) = (near(&server).await, near(&server).await);
    a.set("k", "v1", None).await.unwrap();
    assert_eq!(b.get("k").await.unwrap().unwrap(), "v1");
    a.set("k", "v2", None).await.unwrap();
    wait_until("b's invalidation", || b.get_local("k").is_none()).await;
    assert_eq!(b.get("k").await.unwrap().unwrap(), "v2");
}

#[tokio::test]
async fn a_missing_key_is_none_and_not_cached() {
    let Some(server) = Server::start() else {
        return;
    };
    let near = near(&server).await;
    assert!(near.get("nope").await.unwrap().is_none());
    assert_eq!(near.local_len(), 0);
}

/// With `cache_missing_for`, a missing key costs one GET per window,
/// however many reads; another client's SET of it (its invalidation) ends
/// the window at once, in the default tracking mode and in broadcast
/// mode; a key outside the broadcast prefixes (read without tracking) is
/// never remembered as missing.
#[tokio::test]
async fn a_missing_key_is_remembered_until_it_is_written() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let modes = [
        (Tracking::Default, "nope"),
        (
            Tracking::Broadcast {
                prefixes: vec!["user:".into()],
            },
            "user:nope",
        ),
    ];
    for (tracking, key) in modes {
        let near = NearCache::builder(server.url())
            .tracking(tracking.clone())
            .cache_missing_for(Duration::from_secs(600))
            .build()
            .await
            .unwrap();
        let gets = calls(&mut admin, "get").await;
        for _ in 0..10 {
            assert!(near.get(key).await.unwrap().is_none(), "{tracking:?}");
        }
        assert_eq!(calls(&mut admin, "get").await, gets + 1, "{tracking:?}");
        let () = admin.set(key, "now").await.unwrap();
        wait_until("the invalidation", || near.stats().keys_invalidated == 1).await;
        assert_eq!(near.get(key).await.unwrap().unwrap(), "now", "{tracking:?}");
        let () = admin.del(key).await.unwrap();
    }
    // Outside the prefixes, reads are not tracked: each asks the server.
    let near = NearCache::builder(server.url())
        .tracking(Tracking::Broadcast {
            prefixes: vec!["user:".into()],
        })
        .cache_missing_for(Duration::from_secs(600))
        .build()
        .await
        .unwrap();
    let gets = calls(&mut admin, "get").await;
    for _ in 0..3 {
        assert!(near.get("other:nope").await.unwrap().is_none());
    }
    assert_eq!(calls(&mut admin, "get").await, gets + 3);
}

#[tokio::test]
async fn a_value_that_is_not_utf8_is_an_error_naming_its_key() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("bin", &[0x66, 0xff][..]).await.unwrap();
    let near = near(&server).await;
    let err = near.get("bin").await.unwrap_err();
    assert!(
        matches!(&err, Error::NotUtf8 { key, .. } if key == "bin"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`bin`"), "{err}");
    assert_eq!(near.local_len(), 0);
}

#[tokio::test]
async fn redis_down_is_a_clear_error_and_nothing_is_served_from_memory() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("k", "v").await.unwrap();
    let near = NearCache::builder(server.url())
        .timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    near.get("k").await.unwrap().unwrap();
    server.kill();
    wait_until("the disconnect flush", || {
        near.stats().flushes.disconnect == 1
    })
    .await;
    assert!(!near.is_tracking());
    let err = within("a read with Redis down", near.get("k"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    assert!(err.to_string().starts_with("Redis request failed"), "{err}");
    let err = within("a write with Redis down", near.set("k", "v", None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
}

#[tokio::test]
async fn settings_that_cannot_make_a_local_tier_fail_the_build() {
    // Refused before any connection: no server needed.
    let url = "redis://127.0.0.1:1/";
    let err = NearCache::builder(url)
        .max_entries(0)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("max_entries"), "{err}");
    let err = NearCache::builder(url)
        .max_ttl(Duration::ZERO)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test]
async fn building_against_a_closed_port_fails() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let url = server.url();
    server.kill();
    let err = NearCache::builder(url).build().await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
}

#[tokio::test]
async fn a_wrong_password_fails_the_build_and_the_right_one_works() {
    let Some(server) = Server::start_with(&["--requirepass", "s3cret"]) else {
        return;
    };
    let err = NearCache::builder(server.url()).build().await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    let url = server.url().replace("redis://", "redis://:wrong@");
    let err = NearCache::builder(url).build().await.unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
    let url = server.url().replace("redis://", "redis://:s3cret@");
    let near = NearCache::builder(url).build().await.unwrap();
    near.set("k", "v", None).await.unwrap();
    assert_eq!(near.get("k").await.unwrap().unwrap(), "v");
    assert!(near.get_local("k").is_some());
}

#[tokio::test]
async fn broadcast_mode_caches_its_prefixes_only() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("user:1", "a").await.unwrap();
    let () = admin.set("other:1", "b").await.unwrap();
    let near = NearCache::builder(server.url())
        .tracking(Tracking::Broadcast {
            prefixes: vec!["user:".into()],
        })
        .build()
        .await
        .unwrap();
    assert_eq!(near.get("user:1").await.unwrap().unwrap(), "a");
    assert_eq!(near.get("other:1").await.unwrap().unwrap(), "b");
    assert!(near.get_local("other:1").is_none());
    assert_set_invalidates(&near, &mut admin, "user:1", "a2").await;
}

#[tokio::test]
async fn optin_mode_tracks_its_fills() {
    let Some((_server, mut admin, near)) = filled(Tracking::OptIn).await else {
        return;
    };
    assert_set_invalidates(&near, &mut admin, "k", "v2").await;
}

/// The fault test: SIGKILL the server under load (a writer writing
/// increasing versions, readers reading through the near-cache), and start
/// it again, empty. Each reader's versions of a key never go back (a key
/// the restart lost reads as missing), the near-cache reconnects by
/// itself, and after one sync every cached key equals the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_nothing_stale_and_the_near_cache_recovers() {
    const KEYS: u64 = 8;
    let Some(mut server) = Server::start() else {
        return;
    };
    let near = Arc::new(
        NearCache::builder(server.url())
            .timeout(Duration::from_millis(300))
            .heartbeat(Duration::from_millis(100))
            .build()
            .await
            .unwrap(),
    );
    let client = redis::Client::open(server.url()).unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let (writes, reads) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let writer = {
        let (running, writes) = (Arc::clone(&running), Arc::clone(&writes));
        tokio::spawn(async move {
            let mut conn = None;
            let mut version = 0u64;
            while running.load(Relaxed) {
                if conn.is_none() {
                    conn = client.get_multiplexed_async_connection().await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    // The server is down: try again shortly.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                };
                version += 1;
                let written: redis::RedisResult<()> =
                    c.set(format!("k{}", version % KEYS), version).await;
                if written.is_ok() {
                    writes.fetch_add(1, Relaxed);
                } else {
                    conn = None;
                }
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (near, running, reads) =
                (Arc::clone(&near), Arc::clone(&running), Arc::clone(&reads));
            tokio::spawn(async move {
                let mut seen = [0u64; KEYS as usize];
                let mut i = r;
                while running.load(Relaxed) {
                    i += 1;
                    let key = (i * 3) % KEYS;
                    // Errors are expected while the server is down.
                    if let Ok(read) = near.get(&format!("k{key}")).await {
                        if let Some(version) = read.map(|v| v.parse::<u64>().unwrap()) {
                            assert!(
                                version >= seen[key as usize],
                                "k{key} went back from {} to {version}",
                                seen[key as usize]
                            );
                            seen[key as usize] = version;
                        }
                        reads.fetch_add(1, Relaxed);
                    }
                    // A hit, or a refused connection, completes without
                    // suspending: let the other tasks run.
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let at_least = |counter: &Arc<AtomicU64>, n: u64| {
        let counter = Arc::clone(counter);
        move || counter.load(Relaxed) >= n
    };
    wait_until("500 writes", at_least(&writes, 500)).await;
    wait_until("500 reads", at_least(&reads, 500)).await;
    server.kill();
    wait_until("the disconnect flush", || {
        near.stats().flushes.disconnect >= 1
    })
    .await;
    assert!(near.get_local("k1").is_none());
    server.restart();
    wait_until("the reconnect", || near.stats().reconnects >= 1).await;
    let (w, r) = (writes.load(Relaxed), reads.load(Relaxed));
    wait_until("500 more writes", at_least(&writes, w + 500)).await;
    wait_until("500 more reads", at_least(&reads, r + 500)).await;
    running.store(false, Relaxed);
    within("the writer", writer).await.unwrap();
    for reader in readers {
        within("a reader", reader).await.unwrap();
    }
    assert!(near.is_tracking());
    near.sync().await.unwrap();
    let mut admin = server.admin().await;
    for key in 0..KEYS {
        let key = format!("k{key}");
        let server_value: Option<String> = admin.get(&key).await.unwrap();
        if let Some(local) = near.get_local(&key) {
            assert_eq!(Some(&*local), server_value.as_deref(), "{key} is stale");
        }
        assert_eq!(
            near.get(&key).await.unwrap().as_deref(),
            server_value.as_deref()
        );
    }
}
