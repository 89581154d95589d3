//! Two near-caches over one Redis, as two replicas of a service would
//! hold: a write through one invalidates the other's copy.
//!
//! ```sh
//! redis-server --port 6379 --save '' --appendonly no &
//! cargo run -p strcache-redis --example two_replicas -- redis://127.0.0.1:6379/
//! ```

use strcache_redis::NearCache;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), strcache_redis::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let a = NearCache::builder(url.as_str()).build().await?;
    let b = NearCache::builder(url.as_str()).build().await?;

    a.set("greeting", "hello", None).await?;
    let read = b.get("greeting").await?;
    println!("b reads {:?} and caches it", read.as_deref());
    drop(read);
    assert!(b.get_local("greeting").is_some());

    a.set("greeting", "bonjour", None).await?;
    // The server has queued its invalidation for b before it answered a's
    // SET; one round trip on b's connection brings it in.
    b.sync().await?;
    println!(
        "after a's write, b's local copy: {:?}",
        b.get_local("greeting").as_deref()
    );
    println!("b reads {:?}", b.get("greeting").await?.as_deref());
    println!("a: {:?}\nb: {:?}", a.stats(), b.stats());
    Ok(())
}
