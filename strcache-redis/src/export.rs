//! `NearCache::export_metrics`: the near-cache's counts, and its local
//! tier's, through the `metrics` crate's facade.

use metrics::counter;

use crate::NearCache;

impl NearCache {
    /// Publishes the near-cache's counts through the [`metrics`] facade to
    /// whatever recorder the program installed, each labelled
    /// `cache = name`, then its local tier's as strcache's
    /// `Stats::export_metrics` names them (`strcache_*`). Call it
    /// periodically, or from a scrape hook; counters are set to these
    /// totals.
    ///
    /// | name | labels |
    /// |---|---|
    /// | `strcache_redis_requests_total` | `result`: `hit`, `miss` |
    /// | `strcache_redis_fills_total` | |
    /// | `strcache_redis_fills_discarded_total` | |
    /// | `strcache_redis_keys_invalidated_total` | |
    /// | `strcache_redis_flushes_total` | `reason`: `null`, `disconnect`, `heartbeat` |
    /// | `strcache_redis_reconnects_total` | |
    ///
    /// # Examples
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), strcache_redis::Error> {
    /// let near = strcache_redis::NearCache::builder("redis://127.0.0.1:6379").build().await?;
    /// // With no recorder installed, this does nothing.
    /// near.export_metrics("sessions");
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn export_metrics(&self, name: &str) {
        let stats = self.stats();
        let cache = name.to_owned();
        for (result, n) in [("hit", stats.hits), ("miss", stats.misses)] {
            counter!("strcache_redis_requests_total", "cache" => cache.clone(), "result" => result)
                .absolute(n);
        }
        counter!("strcache_redis_fills_total", "cache" => cache.clone()).absolute(stats.fills);
        counter!("strcache_redis_fills_discarded_total", "cache" => cache.clone())
            .absolute(stats.fills_discarded);
        counter!("strcache_redis_keys_invalidated_total", "cache" => cache.clone())
            .absolute(stats.keys_invalidated);
        let f = stats.flushes;
        for (reason, n) in [
            ("null", f.null),
            ("disconnect", f.disconnect),
            ("heartbeat", f.heartbeat),
        ] {
            counter!("strcache_redis_flushes_total", "cache" => cache.clone(), "reason" => reason)
                .absolute(n);
        }
        counter!("strcache_redis_reconnects_total", "cache" => cache).absolute(stats.reconnects);
        self.local_stats().export_metrics(name);
    }
}
