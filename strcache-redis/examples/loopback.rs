//! The near-cache against plain redis-rs GETs, on loopback: throughput and
//! read latency on Zipf 0.99 keys with 95% reads and 5% writes, with 1 and
//! 2 threads; then invalidation latency, from another client's SET
//! returning to the local copy being gone.
//!
//! ```sh
//! redis-server --port 6379 --save '' --appendonly no &
//! cargo run --release -p strcache-redis --example loopback -- redis://127.0.0.1:6379/ 50000
//! ```
//! The second argument is the operations each thread runs (default
//! 50,000), after a tenth as many unmeasured.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use rand::{rngs::SmallRng, RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};
use redis::{aio::MultiplexedConnection, AsyncCommands};
use strcache_redis::NearCache;

const KEYS: u64 = 10_000;
const WRITE_PERCENT: u32 = 5;

/// What serves the reads.
#[derive(Clone)]
enum Tier {
    Near(Arc<NearCache>),
    Plain(MultiplexedConnection),
}

impl Tier {
    fn name(&self) -> &'static str {
        match self {
            Tier::Near(_) => "near-cache",
            Tier::Plain(_) => "redis-rs GET",
        }
    }

    async fn read(&mut self, key: &str) -> usize {
        match self {
            Tier::Near(near) => near.get(key).await.unwrap().map_or(0, |v| v.len()),
            Tier::Plain(conn) => {
                let v: Option<String> = conn.get(key).await.unwrap();
                v.map_or(0, |v| v.len())
            }
        }
    }

    async fn write(&mut self, key: &str, value: &str) {
        match self {
            Tier::Near(near) => near.set(key, value, None).await.unwrap(),
            Tier::Plain(conn) => conn.set::<_, _, ()>(key, value).await.unwrap(),
        }
    }
}

fn value(key: u64, version: u64) -> String {
    format!(
        r#"{{"id":{key},"version":{version},"name":"user {key}","tags":["a","b","c"],"pad":"{}"}}"#,
        "x".repeat(40)
    )
}

/// Runs `ops` operations on each of `threads` tasks on `runtime` (of as
/// many workers, which also drive the tier's connection): the measured
/// operations per second and read latencies.
fn run(
    runtime: &tokio::runtime::Runtime,
    tier: &Tier,
    threads: usize,
    ops: u64,
) -> (f64, Histogram<u64>) {
    runtime.block_on(async {
        let zipf = Zipf::new(KEYS as f64, 0.99).unwrap();
        let tasks: Vec<_> = (0..threads as u64)
            .map(|t| {
                let mut tier = tier.clone();
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
                            tier.write(&key, &value(0, i)).await;
                        } else {
                            let t0 = Instant::now();
                            std::hint::black_box(tier.read(&key).await);
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

/// Invalidation latency: `rounds` times, the near-cache caches a key,
/// another client SETs it, and the time from the SET's reply to the local
/// copy being gone is recorded.
fn invalidation(url: &str, rounds: u64) -> Histogram<u64> {
    runtime(2).block_on(async {
        let near = NearCache::builder(url).build().await.unwrap();
        let mut writer = redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for i in 0..rounds {
            let key = format!("user:{}", i % KEYS);
            near.get(&key).await.unwrap();
            assert!(near.get_local(&key).is_some());
            let () = writer.set(&key, value(i % KEYS, i)).await.unwrap();
            let t0 = Instant::now();
            while near.get_local(&key).is_some() {
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

async fn connect(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
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
        let mut conn = connect(&url).await;
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
    for threads in [1, 2] {
        // Each tier's connection is made on the runtime that drives it.
        let runtime = runtime(threads);
        let near = runtime
            .block_on(NearCache::builder(url.as_str()).build())
            .unwrap();
        let plain = runtime.block_on(connect(&url));
        for tier in [Tier::Near(Arc::new(near)), Tier::Plain(plain)] {
            let (rate, h) = run(&runtime, &tier, threads, ops);
            println!(
                "| {} | {threads} | {rate:.0} | {:.1} | {:.1} | {:.1} | {} |",
                tier.name(),
                micros(&h, 0.5),
                micros(&h, 0.99),
                micros(&h, 0.999),
                h.len()
            );
        }
    }
    let h = invalidation(&url, 2_000);
    println!(
        "\ninvalidation latency (another client's SET returned -> local copy gone), µs: p50 {:.1}, p99 {:.1}, p99.9 {:.1}, {} samples",
        micros(&h, 0.5),
        micros(&h, 0.99),
        micros(&h, 0.999),
        h.len()
    );
}
