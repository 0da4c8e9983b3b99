//! Counters of the artifact cache, exposed at `/metrics` in Prometheus text format.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Process-wide cache counters.
#[derive(Debug)]
pub struct CacheMetrics {
    registry: Registry,
    /// Reads served from the table.
    pub hits: Counter,
    /// Reads that had to go to the source.
    pub misses: Counter,
    /// Full reads of one artifact from the source (hashing its files).
    pub source_reads: Counter,
    /// Completed full refreshes.
    pub syncs: Counter,
    /// Rows in the cache, set when scraped.
    pub entries: Gauge,
    /// Bytes of cached data, set when scraped.
    pub bytes: Gauge,
    /// Finished job runs by kind and status.
    pub job_runs: Family<Labels, Counter>,
    /// Duration of finished job runs by kind, in seconds.
    pub job_duration: Family<Labels, Histogram, fn() -> Histogram>,
}

/// Metric labels as name/value pairs.
pub type Labels = Vec<(String, String)>;

fn job_duration_histogram() -> Histogram {
    // 5 ms .. about 2.7 min.
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

impl Default for CacheMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("skillmeat");
        let hits = Counter::default();
        let misses = Counter::default();
        let source_reads = Counter::default();
        let syncs = Counter::default();
        let entries = Gauge::default();
        let bytes = Gauge::default();
        let job_runs = Family::<Labels, Counter>::default();
        let job_duration = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            job_duration_histogram,
        );
        registry.register(
            "job_runs",
            "Finished background job runs, by kind and status",
            job_runs.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "Duration of finished background job runs, by kind",
            job_duration.clone(),
        );
        registry.register(
            "cache_hits",
            "Artifact reads served from the cache",
            hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Artifact reads that went to the source",
            misses.clone(),
        );
        registry.register(
            "source_reads",
            "Full artifact reads from a source (files listed and hashed)",
            source_reads.clone(),
        );
        registry.register(
            "cache_syncs",
            "Completed full cache refreshes",
            syncs.clone(),
        );
        registry.register(
            "cache_entries",
            "Rows in the artifact cache",
            entries.clone(),
        );
        registry.register(
            "cache_size_bytes",
            "Bytes of cached artifact data",
            bytes.clone(),
        );
        Self {
            registry,
            hits,
            misses,
            source_reads,
            syncs,
            entries,
            bytes,
            job_runs,
            job_duration,
        }
    }
}

impl CacheMetrics {
    /// Renders every metric in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
