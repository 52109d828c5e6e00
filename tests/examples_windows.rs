//! The windowed examples (examples/word-count, event-time, sales-by-category,
//! ksqldb-page-views, flink-hourly-orders) run through the real binary, and their views
//! equal a computation in plain Rust over the input each script fed — lateness included,
//! simulated from the chunks the script fed (one micro-batch each).

mod common;
mod examples_support;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use examples_support::*;

const MINUTE: i64 = 60_000;
/// The engine's default watermark delay (no WATERMARK clause).
const DEFAULT_DELAY: i64 = 5_000;

fn words_of(line: &str) -> Vec<String> {
    line.to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn word_count_overall_tumbling_and_sliding() {
    let node = Node::start(&[]);
    let run = run_example(&node, "word-count", &[], &[("EVENTS", "60")]);
    let lines = run.records("lines.ndjson");
    let mut overall: BTreeMap<String, i64> = BTreeMap::new();
    let mut tumbling: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut sliding: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for l in &lines {
        for w in words_of(l.value.as_str().expect("a line of text")) {
            *overall.entry(w.clone()).or_default() += 1;
            *tumbling
                .entry((w.clone(), tumble(l.timestamp, 10_000)))
                .or_default() += 1;
            for s in hops(l.timestamp, 30_000, 10_000) {
                *sliding.entry((w.clone(), s)).or_default() += 1;
            }
        }
    }
    let got: BTreeMap<String, i64> = view_rows(&node, "word_counts")
        .iter()
        .map(|r| (text(r, "word"), int(r, "n")))
        .collect();
    assert_eq!(got, overall);
    let windowed = |view: &str| -> BTreeMap<(String, i64), i64> {
        view_rows(&node, view)
            .iter()
            .map(|r| ((text(r, "word"), int(r, "window_start")), int(r, "n")))
            .collect()
    };
    assert_eq!(windowed("word_counts_tumbling"), tumbling);
    assert_eq!(windowed("word_counts_sliding"), sliding);
    assert!(run.stdout.contains("the 10 most frequent words"));
}

#[test]
fn word_count_reads_lines_from_stdin() {
    let node = Node::start(&[]);
    let input = "To be, or not to be\nthat is the question\n\nTo BE\n";
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new("bash")
        .arg(repo().join("examples/word-count/run.sh"))
        .arg("--stdin")
        .env("STRATA", BIN)
        .env("STRATA_SERVER", &node.url)
        .env("WORK", tmp.path())
        .stdin(
            std::fs::File::open({
                let p = tmp.path().join("in.txt");
                std::fs::write(&p, input).expect("write");
                p
            })
            .expect("open"),
        )
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeMap<String, i64> = view_rows(&node, "word_counts")
        .iter()
        .map(|r| (text(r, "word"), int(r, "n")))
        .collect();
    let mut want: BTreeMap<String, i64> = BTreeMap::new();
    for w in words_of(input) {
        *want.entry(w).or_default() += 1;
    }
    assert_eq!(got, want);
    assert_eq!(got["be"], 3);
}

/// Splits records into the chunks `feed` sent.
fn chunked(records: &[Record], chunk: usize) -> Vec<&[Record]> {
    records.chunks(chunk).collect()
}

#[test]
fn event_time_late_readings_go_to_the_late_topic_and_the_rest_count() {
    let node = Node::start(&[]);
    let run = run_example(
        &node,
        "event-time",
        &[],
        &[("EVENTS", "1200"), ("CHUNK", "150")],
    );
    let input = run.records("readings.ndjson");
    let late = late_flags(&chunked(&input, 150), 5_000, 0, |ts| {
        tumble(ts, MINUTE) + MINUTE
    });
    let want_late: BTreeSet<(String, i64)> = input
        .iter()
        .zip(&late)
        .filter(|(_, l)| **l)
        .map(|(r, _)| (r.key.clone().expect("key"), r.timestamp))
        .collect();
    assert!(!want_late.is_empty(), "the run should have late readings");
    let got_late: BTreeSet<(String, i64)> = topic_records(&node, "readings_per_minute-late")
        .iter()
        .map(|r| (text(&r["value"], "sensor_id"), int(&r["value"], "ts")))
        .collect();
    assert_eq!(got_late, want_late);
    assert_eq!(
        int(&view_stats(&node, "readings_per_minute"), "late"),
        want_late.len() as i64
    );

    let mut want: BTreeMap<(i64, String), (i64, f64)> = BTreeMap::new();
    for (r, l) in input.iter().zip(&late) {
        if !l {
            let e = want
                .entry((tumble(r.timestamp, MINUTE), text(&r.value, "sensor_id")))
                .or_default();
            e.0 += 1;
            e.1 += num(&r.value, "temperature");
        }
    }
    let rows = view_rows(&node, "readings_per_minute");
    let got = rows_by(&rows, |r| (int(r, "window_start"), text(r, "sensor_id")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, (n, sum)) in &want {
        assert_eq!(int(&got[k], "readings"), *n, "{k:?}");
        assert!(close(num(&got[k], "avg_temp"), sum / *n as f64), "{k:?}");
    }
    assert!(run.stdout.contains("late reading(s)"));
}

#[test]
fn sales_by_category_late_within_grace_update_their_window() {
    let node = Node::start(&[]);
    let run = run_example(
        &node,
        "sales-by-category",
        &[],
        &[("EVENTS", "1500"), ("CHUNK", "100")],
    );
    let input = run.records("transactions.ndjson");
    let size = 5 * MINUTE;
    let late = late_flags(&chunked(&input, 100), DEFAULT_DELAY, 2 * MINUTE, |ts| {
        tumble(ts, size) + size
    });
    let dropped = late.iter().filter(|l| **l).count();
    assert!(
        dropped > 0,
        "some transactions should be past the grace period"
    );
    // Late for a window the watermark had passed, but within the grace period: counted, by
    // an update of that window.
    let closed = late_flags(&chunked(&input, 100), DEFAULT_DELAY, 0, |ts| {
        tumble(ts, size) + size
    });
    let within_grace = closed
        .iter()
        .zip(&late)
        .filter(|(c, l)| **c && !**l)
        .count();
    assert!(
        within_grace > 0,
        "some late transactions should fall within the grace period"
    );
    assert_eq!(
        topic_records(&node, "sales_by_category-late").len(),
        dropped
    );

    let mut want: BTreeMap<(i64, String), (f64, i64)> = BTreeMap::new();
    for (r, l) in input.iter().zip(&late) {
        if !l {
            let e = want
                .entry((tumble(r.timestamp, size), text(&r.value, "category")))
                .or_default();
            e.0 += num(&r.value, "amount");
            e.1 += 1;
        }
    }
    let rows = view_rows(&node, "sales_by_category");
    let got = rows_by(&rows, |r| (int(r, "window_start"), text(r, "category")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, (sum, n)) in &want {
        assert_eq!(int(&got[k], "transactions"), *n, "{k:?}");
        let total = num(&got[k], "total_sales");
        assert!((total - sum).abs() < 0.006, "{k:?}: {total} vs {sum}");
    }
}

#[test]
fn ksqldb_page_view_counts_per_minute() {
    let node = Node::start(&[]);
    run_example(
        &node,
        "ksqldb-page-views",
        &[],
        &[("EVENTS", "1000"), ("CHUNK", "250")],
    );
    let input = run_records_of(&node, "page_views");
    let mut want: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for r in &input {
        *want
            .entry((text(&r.value, "pageid"), tumble(r.timestamp, MINUTE)))
            .or_default() += 1;
    }
    let got: BTreeMap<(String, i64), i64> = view_rows(&node, "page_view_counts")
        .iter()
        .map(|r| {
            (
                (text(r, "pageid"), int(r, "window_start")),
                int(r, "view_count"),
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// Records of a topic as the oracle's input (for examples whose input file is not needed).
fn run_records_of(node: &Node, topic: &str) -> Vec<Record> {
    topic_records(node, topic)
        .into_iter()
        .map(|r| Record {
            key: r["key"].as_str().map(str::to_owned),
            timestamp: int(&r, "timestamp"),
            value: r["value"].clone(),
        })
        .collect()
}

#[test]
fn flink_hourly_order_totals() {
    let node = Node::start(&[]);
    let run = run_example(
        &node,
        "flink-hourly-orders",
        &[],
        &[("EVENTS", "2500"), ("CHUNK", "500")],
    );
    let input = run.records("orders.ndjson");
    let hour = 60 * MINUTE;
    let mut want: BTreeMap<(i64, String), (f64, i64)> = BTreeMap::new();
    for r in &input {
        let e = want
            .entry((tumble(r.timestamp, hour), text(&r.value, "product")))
            .or_default();
        e.0 += num(&r.value, "amount");
        e.1 += 1;
    }
    let rows = view_rows(&node, "hourly_order_totals");
    let got = rows_by(&rows, |r| (int(r, "window_start"), text(r, "product")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, (sum, n)) in &want {
        assert_eq!(int(&got[k], "order_count"), *n, "{k:?}");
        assert!(close(num(&got[k], "total_amount"), *sum), "{k:?}");
    }
    // The continuous query streamed closed hours only: the first hour's products.
    let streamed: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("{\"window_start\""))
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(streamed.len(), 5);
    for r in &streamed {
        let k = (int(r, "window_start"), text(r, "product"));
        assert_eq!(int(r, "order_count"), want[&k].1, "{k:?}");
        assert!(int(r, "window_end") <= input.iter().map(|r| r.timestamp).max().unwrap_or(0));
    }
}
