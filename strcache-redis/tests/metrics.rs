//! `NearCache::export_metrics` (feature `metrics`), against a real
//! redis-server.

#![cfg(feature = "metrics")]

mod support;

use metrics::{Key, Label};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use redis::AsyncCommands;
use strcache_redis::NearCache;
use support::{wait_until, Server};

#[tokio::test]
async fn export_sets_the_near_caches_and_its_local_tiers_counters() {
    let Some(server) = Server::start() else {
        return;
    };
    let mut admin = server.admin().await;
    let () = admin.set("k", "v1").await.unwrap();
    let near = NearCache::builder(server.url()).build().await.unwrap();
    near.get("k").await.unwrap().unwrap();
    near.get("k").await.unwrap().unwrap();
    let () = admin.set("k", "v2").await.unwrap();
    wait_until("the invalidation", || near.stats().keys_invalidated == 1).await;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || near.export_metrics("sessions"));
    let snapshot = snapshotter.snapshot().into_vec();
    // The counter named `name`, labelled `cache=sessions` and then `label`.
    let get = |name: &'static str, label: Option<(&'static str, &'static str)>| {
        let mut labels = vec![Label::new("cache", "sessions")];
        labels.extend(label.map(|(k, v)| Label::new(k, v)));
        let wanted = Key::from_parts(name, labels);
        snapshot.iter().find_map(|(key, _, _, value)| match value {
            DebugValue::Counter(n) if *key.key() == wanted => Some(*n),
            _ => None,
        })
    };
    let requests = "strcache_redis_requests_total";
    assert_eq!(get(requests, Some(("result", "hit"))), Some(1));
    assert_eq!(get(requests, Some(("result", "miss"))), Some(1));
    assert_eq!(get("strcache_redis_fills_total", None), Some(1));
    assert_eq!(get("strcache_redis_fills_discarded_total", None), Some(0));
    assert_eq!(get("strcache_redis_keys_invalidated_total", None), Some(1));
    let flushes = "strcache_redis_flushes_total";
    assert_eq!(get(flushes, Some(("reason", "null"))), Some(0));
    assert_eq!(get("strcache_redis_reconnects_total", None), Some(0));
    // The local tier's own, as strcache names them.
    assert_eq!(get("strcache_removals_total", None), Some(1));
}
