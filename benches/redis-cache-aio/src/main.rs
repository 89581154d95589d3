//! redis-rs's own client-side cache (`cache-aio`) under the workload of
//! `strcache-redis/examples/loopback.rs`, for the third column of that
//! benchmark: throughput and read latency on Zipf 0.99 keys with 95%
//! reads and 5% writes, with 1 and 2 threads; then invalidation latency,
//! from another client's SET returning to the cached copy being gone.
//!
//! The tier is one `MultiplexedConnection` over RESP3 with
//! `CacheConfig` in `CacheMode::All` (redis-rs sends `CLIENT TRACKING ON`
//! on it and caches every GET, each miss sent as `PTTL` + `GET`), shared
//! by the threads like loopback.rs's plain connection. Writes are plain
//! `SET`s on the same connection; the server's invalidation of its own
//! write drops the cached copy.
//!
//! After each run the cache is compared with the server: a `PING` on the
//! cached connection (whose reply follows every invalidation pushed
//! before it), then every key read through the cache and through an
//! uncached connection. A difference is a stale entry, which stays until
//! its client-side TTL (30 minutes by default) or eviction; the check
//! runs again a second later to see whether it stays.
//!
//! Invalidation latency is seen through redis-rs's public
//! `get_cache_statistics().invalidate` count, which the connection's
//! reader raises when a push drops a cached key.
//!
//! ```sh
//! redis-server --port 6379 --save '' --appendonly no &
//! cargo run --release -- redis://127.0.0.1:6379/ 50000
//! ```
//! The second argument is the operations each thread runs (default
//! 50,000), after a tenth as many unmeasured.

use std::{
    num::NonZeroUsize,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use rand::{rngs::SmallRng, RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use redis::{
    aio::MultiplexedConnection, caching::CacheConfig, AsyncCommands, AsyncConnectionConfig,
};

const KEYS: u64 = 10_000;
const WRITE_PERCENT: u32 = 5;

fn value(key: u64, version: u64) -> String {
    format!(
        r#"{{"id":{key},"version":{version},"name":"user {key}","tags":["a","b","c"],"pad":"{}"}}"#,
        "x".repeat(40)
    )
}

/// A connection with redis-rs's client-side cache, four times the keys
/// in size so that its LRU (32 shards) never evicts: the near-cache it is
/// compared with is unbounded.
async fn cached(url: &str) -> MultiplexedConnection {
    let sep = if url.contains('?') { '&' } else { '?' };
    let config = AsyncConnectionConfig::new().set_cache_config(
        CacheConfig::new().set_size(NonZeroUsize::new(4 * KEYS as usize).unwrap()),
    );
    redis::Client::open(format!("{url}{sep}protocol=resp3"))
        .unwrap()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

async fn plain(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Runs `ops` operations on each of `threads` tasks on `runtime` (of as
/// many workers, which also drive the connection): the measured
/// operations per second and read latencies.
fn run(
    runtime: &tokio::runtime::Runtime,
    conn: &MultiplexedConnection,
    threads: usize,
    ops: u64,
) -> (f64, Histogram<u64>) {
    runtime.block_on(async {
        let zipf = Zipf::new(KEYS as f64, 0.99).unwrap();
        let tasks: Vec<_> = (0..threads as u64)
            .map(|t| {
                let mut conn = conn.clone();
                tokio::spawn(async move {
                    let mut rng = SmallRng::seed_from_u64(t + 1);
                    let mut latencies =
                        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
                    let warmup = ops / 10;
                    let mut started = Instant::now();
                    for i in 0..warmup + ops {
                        if i == warmup {
                            started = Instant::now();
                        }
                        let key = format!("user:{}", zipf.sample(&mut rng) as u64 - 1);
                        if rng.random_ratio(WRITE_PERCENT, 100) {
                            conn.set::<_, _, ()>(&key, value(0, i)).await.unwrap();
                        } else {
                            let t0 = Instant::now();
                            let v: Option<String> = conn.get(&key).await.unwrap();
                            std::hint::black_box(v.map_or(0, |v| v.len()));
                            if i >= warmup {
                                latencies.record(t0.elapsed().as_nanos() as u64).unwrap();
                            }
                        }
                    }
                    (started.elapsed(), latencies)
                })
            })
            .collect();
        let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        let mut longest = Duration::ZERO;
        for task in tasks {
            let (took, latencies) = task.await.unwrap();
            longest = longest.max(took);
            all.add(latencies).unwrap();
        }
        ((threads as u64 * ops) as f64 / longest.as_secs_f64(), all)
    })
}

/// The keys whose value read through `conn`'s cache differs from the
/// server's, once every invalidation sent before a `PING` is applied: each
/// key with the version the cache returned and the server's.
async fn stale_keys(
    conn: &mut MultiplexedConnection,
    server: &mut MultiplexedConnection,
) -> Vec<String> {
    let _: String = redis::cmd("PING").query_async(conn).await.unwrap();
    let version = |v: &Option<String>| -> String {
        let v = v.as_deref().unwrap_or("none");
        let start = v.find(r#""version":"#).map_or(0, |i| i + 10);
        v[start..].split(',').next().unwrap_or(v).to_owned()
    };
    let mut stale = Vec::new();
    for key in (0..KEYS).map(|k| format!("user:{k}")) {
        let seen: Option<String> = conn.get(&key).await.unwrap();
        let truth: Option<String> = server.get(&key).await.unwrap();
        if seen != truth {
            stale.push(format!(
                "{key} cached version {}, server {}",
                version(&seen),
                version(&truth)
            ));
        }
    }
    stale
}

/// Invalidation latency: `rounds` times, the cached connection caches a
/// key (a second GET is a hit), another client SETs it, and the time from
/// the SET's reply to the cache's invalidation count rising is recorded.
fn invalidation(url: &str, rounds: u64) -> Histogram<u64> {
    runtime(2).block_on(async {
        let mut conn = cached(url).await;
        let mut writer = plain(url).await;
        let stats = |conn: &MultiplexedConnection| conn.get_cache_statistics().unwrap();
        let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for i in 0..rounds {
            let key = format!("user:{}", i % KEYS);
            let _: Option<String> = conn.get(&key).await.unwrap();
            let hits = stats(&conn).hit;
            let _: Option<String> = conn.get(&key).await.unwrap();
            assert_eq!(stats(&conn).hit, hits + 1, "{key} not cached");
            let invalidated = stats(&conn).invalidate;
            let () = writer.set(&key, value(i % KEYS, i)).await.unwrap();
            let t0 = Instant::now();
            while stats(&conn).invalidate == invalidated {
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "no invalidation for {key}"
                );
                tokio::task::yield_now().await;
            }
            latencies.record(t0.elapsed().as_nanos() as u64).unwrap();
        }
        latencies
    })
}

fn micros(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// A runtime of `threads` workers.
fn runtime(threads: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let ops: u64 = args
        .next()
        .map_or(50_000, |n| n.parse().expect("ops per thread"));
    runtime(1).block_on(async {
        let mut conn = plain(&url).await;
        for key in 0..KEYS {
            let () = conn
                .set(format!("user:{key}"), value(key, 0))
                .await
                .unwrap();
        }
    });
    println!(
        "Zipf 0.99 over {KEYS} keys, {}% reads, {ops} operations a thread; read latency in µs",
        100 - WRITE_PERCENT
    );
    println!("| tier | threads | ops/s | p50 | p99 | p99.9 | reads |");
    println!("|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    for threads in [1, 2] {
        // The connection is made on the runtime that drives it.
        let runtime = runtime(threads);
        let mut conn = runtime.block_on(cached(&url));
        let (rate, h) = run(&runtime, &conn, threads, ops);
        println!(
            "| redis-rs cache-aio | {threads} | {rate:.0} | {:.1} | {:.1} | {:.1} | {} |",
            micros(&h, 0.5),
            micros(&h, 0.99),
            micros(&h, 0.999),
            h.len()
        );
        let s = conn.get_cache_statistics().unwrap();
        let (stale, later) = runtime.block_on(async {
            let mut server = plain(&url).await;
            let stale = stale_keys(&mut conn, &mut server).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            (stale, stale_keys(&mut conn, &mut server).await.len())
        });
        notes.push(format!(
            "{threads} thread(s): cache hits {}, misses {}, invalidated {}; \
             stale after the run: {} of {KEYS} keys, {later} still 1 s later{}",
            s.hit,
            s.miss,
            s.invalidate,
            stale.len(),
            if stale.is_empty() {
                String::new()
            } else {
                format!(" ({})", stale[..stale.len().min(5)].join("; "))
            }
        ));
    }
    println!();
    for note in notes {
        println!("{note}");
    }
    let h = invalidation(&url, 2_000);
    println!(
        "\ninvalidation latency (another client's SET returned -> cached copy gone), µs: p50 {:.1}, p99 {:.1}, p99.9 {:.1}, {} samples",
        micros(&h, 0.5),
        micros(&h, 0.99),
        micros(&h, 0.999),
        h.len()
    );
}
