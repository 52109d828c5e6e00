//! Counters of the batch layer, for the node's `/metrics` endpoint.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters shared by the archiver and the batch-view runner.
#[derive(Debug, Default)]
pub struct BatchMetrics {
    /// Records written to the lake.
    pub records_archived: AtomicU64,
    /// Records that did not match their topic's schema (sent to `<topic>-invalid`).
    pub invalid_records: AtomicU64,
    /// Segments archived.
    pub segments_archived: AtomicU64,
    /// Parquet files committed to the lake.
    pub files_written: AtomicU64,
    /// Bytes of Parquet committed to the lake.
    pub bytes_written: AtomicU64,
    /// Records retention deleted before they could be archived.
    pub records_missed: AtomicU64,
    /// Archive runs of a topic that failed.
    pub archive_errors: AtomicU64,
    /// Foreign or corrupt files found in the lake.
    pub lake_problems: AtomicU64,
    /// Batch-view runs that published an epoch.
    pub batch_runs: AtomicU64,
    /// Batch-view runs that failed.
    pub batch_run_errors: AtomicU64,
    /// Lake rows read by batch-view runs.
    pub batch_rows_read: AtomicU64,
}

impl BatchMetrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter as (Prometheus name, help text, value), for `/metrics`.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, u64)> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            (
                "strata_batch_records_archived_total",
                "Records written to the Parquet lake.",
                get(&self.records_archived),
            ),
            (
                "strata_batch_invalid_records_total",
                "Records that did not match their topic's schema (kept in <topic>-invalid).",
                get(&self.invalid_records),
            ),
            (
                "strata_batch_segments_archived_total",
                "Log segments archived to the lake.",
                get(&self.segments_archived),
            ),
            (
                "strata_batch_files_written_total",
                "Parquet files committed to the lake.",
                get(&self.files_written),
            ),
            (
                "strata_batch_bytes_written_total",
                "Bytes of Parquet committed to the lake.",
                get(&self.bytes_written),
            ),
            (
                "strata_batch_records_missed_total",
                "Records deleted by retention before they were archived.",
                get(&self.records_missed),
            ),
            (
                "strata_batch_archive_errors_total",
                "Archive runs of a topic that failed.",
                get(&self.archive_errors),
            ),
            (
                "strata_batch_lake_problems_total",
                "Foreign or corrupt files found in the lake.",
                get(&self.lake_problems),
            ),
            (
                "strata_batch_view_runs_total",
                "Batch-view runs that published an epoch.",
                get(&self.batch_runs),
            ),
            (
                "strata_batch_view_run_errors_total",
                "Batch-view runs that failed.",
                get(&self.batch_run_errors),
            ),
            (
                "strata_batch_view_rows_read_total",
                "Lake rows read by batch-view runs.",
                get(&self.batch_rows_read),
            ),
        ]
    }

    /// The counters in the Prometheus text exposition format.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in self.snapshot() {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            ));
        }
        out
    }
}
