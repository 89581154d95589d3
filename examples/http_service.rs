//! Using strcache in a web service: a JSON API on axum in front of a
//! deliberately slow backend (2 ms a call), whose serialized responses are
//! cached with strcache's loading API and served as `Bytes` bodies that
//! share the cached buffer.
//!
//! ```sh
//! cargo run --release --all-features --example http_service -- --cache strcache --addr 127.0.0.1:3000
//! curl 127.0.0.1:3000/users/7; curl 127.0.0.1:3000/stats; curl 127.0.0.1:3000/metrics
//! ```
//!
//! `--cache none` sends every request to the backend; `--cache moka` puts
//! moka's `future::Cache` in the same handler. The server prints the
//! address it listens on (`--addr 127.0.0.1:0` picks a free port), which
//! `examples/http_service_load.sh` reads to load each mode with `wrk`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use strcache::bytes::Bytes;
use strcache::{CachedStr, LoadError, StrCache};

/// The ids the backend knows: `/users/0` to `/users/999`.
const USERS: u32 = 1_000;

/// What the backend serves, serialized once per load.
#[derive(Serialize)]
struct User {
    id: u32,
    name: String,
    email: String,
    roles: [&'static str; 2],
}

/// The answer for an id the backend does not know. Not cached: a failed
/// load caches nothing, in strcache and in moka.
#[derive(Debug, Clone, Copy)]
struct NotFound;

/// A slow backend that counts its calls, so tests can check what the
/// caches spare it by counting rather than timing.
struct Backend {
    delay: Duration,
    calls: AtomicU64,
    /// Holds every call until the test opens it, so that a test's requests
    /// overlap a backend call still in flight.
    #[cfg(test)]
    gate: tokio::sync::Semaphore,
}

impl Backend {
    fn new(delay: Duration) -> Self {
        Backend {
            delay,
            calls: AtomicU64::new(0),
            #[cfg(test)]
            gate: tokio::sync::Semaphore::new(tokio::sync::Semaphore::MAX_PERMITS),
        }
    }

    /// One user, serialized: the response body, built once per call.
    async fn user(&self, id: u32) -> Result<String, NotFound> {
        self.calls.fetch_add(1, Relaxed);
        #[cfg(test)]
        drop(self.gate.acquire().await);
        tokio::time::sleep(self.delay).await;
        if id >= USERS {
            return Err(NotFound);
        }
        let user = User {
            id,
            name: format!("User {id}"),
            email: format!("user{id}@example.com"),
            roles: ["reader", "writer"],
        };
        Ok(serde_json::to_string(&user).expect("a User always serializes"))
    }
}

/// Where responses are cached, chosen by `--cache`.
enum Cache {
    // Boxed: a `StrCache` is a kilobyte, the other variants a pointer or two.
    Strcache(Box<StrCache<u32>>),
    None,
    Moka(moka::future::Cache<u32, Bytes>),
}

impl Cache {
    fn new(mode: &str) -> Option<Self> {
        // Bounded above the id set, so that after the first pass every
        // request is a hit.
        let capacity = 10_000;
        match mode {
            "strcache" => Some(Cache::Strcache(Box::new(
                StrCache::builder()
                    .max_entries(capacity)
                    .record_reads(true)
                    .build(),
            ))),
            "none" => Some(Cache::None),
            "moka" => Some(Cache::Moka(moka::future::Cache::new(capacity))),
            _ => None,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Cache::Strcache(_) => "strcache",
            Cache::None => "none",
            Cache::Moka(_) => "moka",
        }
    }
}

struct App {
    cache: Cache,
    backend: Backend,
    prometheus: PrometheusHandle,
}

/// The service's routes over `cache` and `backend`.
fn router(cache: Cache, backend: Backend) -> (Router, Arc<App>) {
    let app = Arc::new(App {
        cache,
        backend,
        prometheus: prometheus(),
    });
    let router = Router::new()
        .route("/users/{id}", get(user))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .with_state(app.clone());
    (router, app)
}

/// The process's one Prometheus recorder (the `metrics` facade has one
/// global recorder; the tests build several routers).
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("no other recorder is installed")
        })
        .clone()
}

async fn user(State(app): State<Arc<App>>, Path(id): Path<u32>) -> Response {
    let body = match &app.cache {
        Cache::Strcache(cache) => match cache.get_bytes(&id) {
            Some(hit) => Ok(hit),
            None => {
                let loaded = cache
                    .try_get_or_insert_with_async(&id, app.backend.user(id))
                    .await;
                body_of(loaded)
            }
        },
        Cache::None => app.backend.user(id).await.map(Bytes::from),
        Cache::Moka(cache) => cache
            .try_get_with(id, async { app.backend.user(id).await.map(Bytes::from) })
            .await
            .map_err(|e| *e),
    };
    match body {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(NotFound) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The body of a load's result, as `Bytes` that share the cached buffer.
///
/// A load returns a `CachedStr`, which pins the thread's epoch and is not
/// `Send`, so it cannot be the body of a response that may be written from
/// another worker; `CachedStr::to_bytes` hands out the very value loaded,
/// with no second lookup and no copy. A plain function, so that the
/// `CachedStr` is dropped before the handler's next `.await`.
fn body_of(loaded: Result<CachedStr<'_>, LoadError<NotFound>>) -> Result<Bytes, NotFound> {
    match loaded {
        Ok(text) => Ok(text.to_bytes()),
        Err(LoadError::Load(_)) => Err(NotFound),
        Err(e) => panic!("a cache bounded by entries refuses no value: {e:?}"),
    }
}

/// `/stats`: the backend's call count and, in strcache mode, `cache.stats()`.
async fn stats(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let cache = match &app.cache {
        Cache::Strcache(cache) => serde_json::to_value(cache.stats()).expect("Stats serializes"),
        Cache::None | Cache::Moka(_) => serde_json::Value::Null,
    };
    Json(serde_json::json!({
        "mode": app.cache.name(),
        "backend_calls": app.backend.calls.load(Relaxed),
        "cache": cache,
    }))
}

/// `/metrics`: Prometheus text, with strcache's counts published just
/// before rendering (`Stats::export_metrics` sets totals, so publishing on
/// each scrape is all it needs).
async fn metrics(State(app): State<Arc<App>>) -> String {
    if let Cache::Strcache(cache) = &app.cache {
        cache.stats().export_metrics("users");
    }
    ::metrics::counter!("backend_calls_total").absolute(app.backend.calls.load(Relaxed));
    app.prometheus.render()
}

fn main() {
    let mut mode = String::from("strcache");
    let mut addr = String::from("127.0.0.1:3000");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--cache", Some(value)) => mode = value,
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: http_service [--cache strcache|none|moka] [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let Some(cache) = Cache::new(&mode) else {
        eprintln!("--cache takes strcache, none or moka, not {mode:?}");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let (router, _) = router(cache, Backend::new(Duration::from_millis(2)));
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        let local = listener.local_addr().expect("a bound address");
        println!("listening on http://{local} (cache: {mode})");
        axum::serve(listener, router)
            .await
            .expect("the server runs");
    });
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::Semaphore;

    use super::*;

    /// Concurrent requests for one id.
    const N: u64 = 16;

    /// Serves `mode` on a free loopback port, with a backend that holds
    /// every call until the test opens its gate.
    async fn serve(mode: &str) -> (SocketAddr, Arc<App>) {
        let mut backend = Backend::new(Duration::ZERO);
        backend.gate = Semaphore::new(0);
        let (router, app) = router(Cache::new(mode).unwrap(), backend);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (addr, app)
    }

    /// As `serve`, with the gate open.
    async fn serve_open(mode: &str) -> (SocketAddr, Arc<App>) {
        let (addr, app) = serve(mode).await;
        app.backend.gate.add_permits(Semaphore::MAX_PERMITS);
        (addr, app)
    }

    /// One HTTP/1.1 GET on a connection of its own: the status line and
    /// the body.
    async fn get(addr: SocketAddr, path: &str) -> (String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    }

    /// Yields until `ready` holds: the test waits for a count, never a time.
    async fn until(ready: impl Fn() -> bool) {
        while !ready() {
            tokio::task::yield_now().await;
        }
    }

    /// `N` concurrent requests for one id, the backend opened once
    /// `backend_calls` have reached it; returns the backend's call count.
    async fn burst(mode: &str, backend_calls: u64) -> u64 {
        let (addr, app) = serve(mode).await;
        let requests: Vec<_> = (0..N)
            .map(|_| tokio::spawn(get(addr, "/users/7")))
            .collect();
        until(|| app.backend.calls.load(Relaxed) == backend_calls).await;
        app.backend.gate.add_permits(Semaphore::MAX_PERMITS);
        for request in requests {
            let (status, body) = request.await.unwrap();
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert_eq!(
                body,
                r#"{"id":7,"name":"User 7","email":"user7@example.com","roles":["reader","writer"]}"#
            );
        }
        app.backend.calls.load(Relaxed)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_cache_each_request_calls_the_backend() {
        assert_eq!(burst("none", N).await, N);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strcache_loads_one_id_once_for_concurrent_requests() {
        assert_eq!(burst("strcache", 1).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn moka_loads_one_id_once_for_concurrent_requests() {
        assert_eq!(burst("moka", 1).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_ids_are_not_found_and_not_cached() {
        let (addr, app) = serve_open("strcache").await;
        for _ in 0..2 {
            assert_eq!(get(addr, "/users/1000").await.0, "HTTP/1.1 404 Not Found");
        }
        assert_eq!(app.backend.calls.load(Relaxed), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stats_and_metrics_report_the_loads() {
        let (addr, _) = serve_open("strcache").await;
        for _ in 0..3 {
            assert_eq!(get(addr, "/users/1").await.0, "HTTP/1.1 200 OK");
        }
        let stats: serde_json::Value = serde_json::from_str(&get(addr, "/stats").await.1).unwrap();
        assert_eq!(stats["backend_calls"], 1);
        assert_eq!(stats["cache"]["loads"]["succeeded"], 1);
        // Each hit is one hit; the load's miss is two (the handler's probe
        // and the load's own), and its body is the loaded value itself, not
        // a second lookup.
        assert_eq!(stats["cache"]["hits"], 2);
        assert_eq!(stats["cache"]["misses"], 2);
        let metrics = get(addr, "/metrics").await.1;
        assert!(
            metrics.contains(r#"strcache_loads_total{cache="users",result="success"}"#),
            "{metrics}"
        );
    }
}
