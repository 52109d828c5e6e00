//! Prometheus metrics: request counts and latency histograms per route, plus the log's
//! state (offsets, sizes, group lag), per-topic traffic and per-view counters of the SQL
//! engine, rendered at scrape time.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;
use strata_log::sync::unmodelled::{Mutex, RwLock};

use strata_views::engine::Engine;

use crate::catalog::Catalog;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct RouteStats {
    by_status: Mutex<BTreeMap<u16, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Request metrics of the HTTP API.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: RwLock<HashMap<(String, String), Arc<RouteStats>>>,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let key = (method.to_owned(), route.to_owned());
        let stats = {
            let routes = self.routes.read();
            routes.get(&key).cloned()
        };
        let stats = match stats {
            Some(s) => s,
            None => {
                let mut routes = self.routes.write();
                Arc::clone(routes.entry(key).or_default())
            }
        };
        *stats.by_status.lock().entry(status).or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                stats.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        stats.count.fetch_add(1, Ordering::Relaxed);
        stats
            .sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Renders every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self, catalog: &Catalog, engine: &Engine) -> String {
        let mut out = String::with_capacity(8192);
        self.render_requests(&mut out);
        render_topics(&mut out, catalog);
        render_groups(&mut out, catalog);
        render_views(&mut out, engine);
        out
    }

    fn render_requests(&self, out: &mut String) {
        let routes = self.routes.read();
        let mut sorted: Vec<_> = routes.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        out.push_str("# HELP strata_http_requests_total HTTP requests served, by route, method and status.\n# TYPE strata_http_requests_total counter\n");
        for ((method, route), s) in &sorted {
            let by_status = s.by_status.lock();
            for (status, n) in by_status.iter() {
                let _ = writeln!(
                    out,
                    "strata_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP strata_http_request_duration_seconds Time to answer an HTTP request (to the response head for streams).\n# TYPE strata_http_request_duration_seconds histogram\n");
        for ((method, route), s) in &sorted {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "strata_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i].load(Ordering::Relaxed)
                );
            }
            let count = s.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "strata_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "strata_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "strata_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
    }
}

/// Picks one counter of a topic.
type CounterOf = fn(&crate::catalog::TopicCounters) -> &AtomicU64;
/// Picks one number of a partition.
type GaugeOf = fn(&strata_log::PartitionStats) -> u64;

fn render_topics(out: &mut String, catalog: &Catalog) {
    let topics = catalog.topics();
    let counters: [(&str, &str, CounterOf); 4] = [
        (
            "strata_topic_records_in_total",
            "Records appended to the topic.",
            |c| &c.records_in,
        ),
        (
            "strata_topic_bytes_in_total",
            "Key and value bytes appended to the topic.",
            |c| &c.bytes_in,
        ),
        (
            "strata_topic_records_out_total",
            "Records served from the topic to consumers.",
            |c| &c.records_out,
        ),
        (
            "strata_topic_bytes_out_total",
            "Response bytes served from the topic to consumers.",
            |c| &c.bytes_out,
        ),
    ];
    for (name, help, get) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for t in &topics {
            let _ = writeln!(
                out,
                "{name}{{topic=\"{}\"}} {}",
                t.topic.name(),
                get(&t.counters).load(Ordering::Relaxed)
            );
        }
    }
    let gauges: [(&str, &str, GaugeOf); 4] = [
        (
            "strata_partition_start_offset",
            "First retained offset.",
            |s| s.start_offset,
        ),
        (
            "strata_partition_end_offset",
            "Next offset to be written.",
            |s| s.end_offset,
        ),
        (
            "strata_partition_size_bytes",
            "Bytes of all segments.",
            |s| s.size_bytes,
        ),
        ("strata_partition_segments", "Number of segments.", |s| {
            s.segments as u64
        }),
    ];
    let stats: Vec<_> = topics
        .iter()
        .flat_map(|t| {
            t.topic
                .partitions()
                .iter()
                .map(move |p| (t.topic.name(), p.id(), p.stats()))
        })
        .collect();
    for (name, help, get) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (topic, p, s) in &stats {
            let _ = writeln!(
                out,
                "{name}{{topic=\"{topic}\",partition=\"{p}\"}} {}",
                get(s)
            );
        }
    }
}

fn render_groups(out: &mut String, catalog: &Catalog) {
    out.push_str("# HELP strata_group_lag Records a consumer group has yet to commit (end offset - committed offset).\n# TYPE strata_group_lag gauge\n");
    let mut committed = String::new();
    for group in catalog.log().groups().groups() {
        let Ok(lags) = catalog.log().group_lag(&group) else {
            continue;
        };
        for l in lags {
            let labels = format!(
                "group=\"{group}\",topic=\"{}\",partition=\"{}\"",
                l.topic, l.partition
            );
            let _ = writeln!(out, "strata_group_lag{{{labels}}} {}", l.lag);
            let _ = writeln!(
                committed,
                "strata_group_committed_offset{{{labels}}} {}",
                l.committed
            );
        }
    }
    out.push_str("# HELP strata_group_committed_offset The next offset a consumer group will read.\n# TYPE strata_group_committed_offset gauge\n");
    out.push_str(&committed);
}

/// Picks one number of a view's counters.
type ViewStatOf = fn(&strata_views::streaming::ViewStats) -> u64;

fn render_views(out: &mut String, engine: &Engine) {
    let stats: Vec<(String, strata_views::streaming::ViewStats, bool)> = engine
        .views()
        .into_iter()
        .filter_map(|v| {
            let s = engine.stats(&v).ok()?;
            let failed = engine.failure(&v).is_some();
            Some((v, s, failed))
        })
        .collect();
    let series: [(&str, &str, &str, ViewStatOf); 6] = [
        (
            "strata_view_records_in_total",
            "counter",
            "Source records the view has read.",
            |s| s.records_in,
        ),
        (
            "strata_view_late_total",
            "counter",
            "Records later than the view's grace period, sent to <view>-late.",
            |s| s.late,
        ),
        (
            "strata_view_invalid_total",
            "counter",
            "Records that did not match the source schema, sent to <view>-late.",
            |s| s.invalid,
        ),
        (
            "strata_view_emitted_total",
            "counter",
            "Rows the view has written to <view>-changelog.",
            |s| s.emitted,
        ),
        (
            "strata_view_lag",
            "gauge",
            "Source records not yet read by the view.",
            |s| s.lag,
        ),
        (
            "strata_view_checkpoints_total",
            "counter",
            "Checkpoints the view has written.",
            |s| s.checkpoints,
        ),
    ];
    for (name, kind, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (view, s, _) in &stats {
            let _ = writeln!(out, "{name}{{view=\"{}\"}} {}", escape(view), get(s));
        }
    }
    out.push_str("# HELP strata_view_watermark_ms The view's event-time watermark, ms since the epoch (absent before the first event).\n# TYPE strata_view_watermark_ms gauge\n");
    for (view, s, _) in &stats {
        if s.watermark != i64::MIN {
            let _ = writeln!(
                out,
                "strata_view_watermark_ms{{view=\"{}\"}} {}",
                escape(view),
                s.watermark
            );
        }
    }
    out.push_str("# HELP strata_view_failed 1 when the view stopped on an error (GET /v1/views says why).\n# TYPE strata_view_failed gauge\n");
    for (view, _, failed) in &stats {
        let _ = writeln!(
            out,
            "strata_view_failed{{view=\"{}\"}} {}",
            escape(view),
            u8::from(*failed)
        );
    }
}

/// Escapes a label value (routes never hold these characters, but stay correct).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
