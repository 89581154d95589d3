//! `Stats::export_metrics`: the counts through the `metrics` crate's
//! facade, under the names a Prometheus user expects.

use metrics::{counter, gauge};

use crate::Stats;

impl Stats {
    /// Publishes these counts through the [`metrics`] facade to whatever
    /// recorder the program installed (a Prometheus exporter, say), each
    /// labelled `cache = name`. Call it periodically, or from a scrape
    /// hook; counters are set to these totals, gauges to these values.
    ///
    /// | name | kind | labels |
    /// |---|---|---|
    /// | `strcache_requests_total` | counter | `result`: `hit`, `miss` (reads recorded only) |
    /// | `strcache_inserts_total` | counter | |
    /// | `strcache_updates_total` | counter | |
    /// | `strcache_removals_total` | counter | |
    /// | `strcache_evictions_total` | counter | `cause`: `size`, `expired` |
    /// | `strcache_loads_total` | counter | `result`: `success`, `failure`, `panic`, `cancelled`, `timeout`, `waited`, `superseded`, `cached_failure` |
    /// | `strcache_refreshes_total` | counter | `result`: `scheduled`, `dropped`, `success`, `failure` |
    /// | `strcache_stale_served_total` | counter | |
    /// | `strcache_entries` | gauge | |
    /// | `strcache_weight` | gauge | (bounded caches only) |
    /// | `strcache_retired_bytes` | gauge | |
    ///
    /// # Examples
    /// ```
    /// let cache = strcache::StrCache::<u32>::builder().record_reads(true).build();
    /// cache.insert(1, "one").unwrap();
    /// cache.get_str(&1);
    /// // With no recorder installed, this does nothing.
    /// cache.stats().export_metrics("users");
    /// ```
    pub fn export_metrics(&self, name: &str) {
        let cache = name.to_owned();
        if self.reads_recorded {
            for (result, n) in [("hit", self.hits), ("miss", self.misses)] {
                counter!("strcache_requests_total", "cache" => cache.clone(), "result" => result)
                    .absolute(n);
            }
        }
        counter!("strcache_inserts_total", "cache" => cache.clone()).absolute(self.inserts);
        counter!("strcache_updates_total", "cache" => cache.clone()).absolute(self.updates);
        counter!("strcache_removals_total", "cache" => cache.clone()).absolute(self.removals);
        for (cause, n) in [("size", self.evictions), ("expired", self.expirations)] {
            counter!("strcache_evictions_total", "cache" => cache.clone(), "cause" => cause)
                .absolute(n);
        }
        let l = &self.loads;
        for (result, n) in [
            ("success", l.succeeded),
            ("failure", l.failed),
            ("panic", l.panicked),
            ("cancelled", l.cancelled),
            ("timeout", l.timed_out),
            ("waited", l.waited),
            ("superseded", l.superseded),
            ("cached_failure", l.cached_failures),
        ] {
            counter!("strcache_loads_total", "cache" => cache.clone(), "result" => result)
                .absolute(n);
        }
        let r = &self.refreshes;
        for (result, n) in [
            ("scheduled", r.scheduled),
            ("dropped", r.dropped),
            ("success", r.succeeded),
            ("failure", r.failed),
        ] {
            counter!("strcache_refreshes_total", "cache" => cache.clone(), "result" => result)
                .absolute(n);
        }
        counter!("strcache_stale_served_total", "cache" => cache.clone()).absolute(r.stale_served);
        gauge!("strcache_entries", "cache" => cache.clone()).set(self.entries as f64);
        if let Some(weight) = self.weight {
            gauge!("strcache_weight", "cache" => cache.clone()).set(weight as f64);
        }
        gauge!("strcache_retired_bytes", "cache" => cache).set(self.retired_bytes as f64);
    }
}
