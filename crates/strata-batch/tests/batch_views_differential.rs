//! Differential test: batch views computed by the engine's operator over the lake equal
//! DuckDB's SQL over the same Parquet files — tumbling, hopping and session windows × COUNT,
//! SUM, MIN, MAX, AVG, COUNT(DISTINCT), on generated data with out-of-order and late records.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use strata_batch::run_bounded;
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::plan::{AggregateFunction as F, ViewPlan, WindowSpec};
use strata_log::Record;

/// 2024-03-10T00:00:00Z.
const T0: i64 = 1_710_028_800_000;

/// Archives 4 partitions of generated orders into a lake; returns (tempdir, lake glob).
fn lake_with_generated_orders() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    log.create_topic("orders", 4, small_segments())
        .expect("topic");
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    for p in 0..4u32 {
        let records: Vec<Record> = (0..5_000i64)
            .map(|i| {
                // Mostly in order, ±40 s of jitter; 3% arrive up to 20 minutes late.
                let mut t = T0 + i * 1_500 + rng.random_range(-40_000..40_000);
                if rng.random_bool(0.03) {
                    t -= rng.random_range(60_000..1_200_000);
                }
                let product = format!("p{}", rng.random_range(0..8));
                let value = if rng.random_bool(0.05) {
                    format!(r#"{{"product":"{product}","qty":null,"order_time":{t}}}"#)
                } else {
                    format!(
                        r#"{{"product":"{product}","amount":{},"qty":{},"order_time":{t}}}"#,
                        f64::from(rng.random_range(1..10_000)) / 100.0,
                        rng.random_range(1..40)
                    )
                };
                Record::new(value.into_bytes(), T0 + i * 1_500)
            })
            .collect();
        append(&log, "orders", p, &records, 50);
    }
    let (lake, report) = seal_and_archive_orders(&log, dir.path());
    assert_eq!(report.rows, 20_000);
    assert!(report.files > 20, "{report:?}");
    (dir, lake)
}

fn plan(window: WindowSpec) -> ViewPlan {
    ViewBuilder::new("v", orders_source())
        .window(window)
        .group_by("product", col("product"))
        .aggregate("n", F::Count, None)
        .aggregate("total", F::Sum, Some(col("amount")))
        .aggregate("lo", F::Min, Some(col("amount")))
        .aggregate("hi", F::Max, Some(col("qty")))
        .aggregate("mean", F::Avg, Some(col("amount")))
        .aggregate("kinds", F::CountDistinct, Some(col("qty")))
        .build()
}

const AGGS: &str = "count(*), sum(amount), min(amount), max(qty), avg(amount), count(DISTINCT qty)";

/// Rows as JSON arrays: product, window_start, window_end, the six aggregates.
fn engine_rows(plan: &ViewPlan, lake: &std::path::Path, threads: usize) -> Vec<serde_json::Value> {
    let result = run_bounded(plan, lake, threads, &mut |_| {}).expect("batch view");
    assert_eq!(result.input_rows, 20_000);
    let names: Vec<String> = result
        .rows
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    strata_engine::json_lines(&result.rows)
        .expect("json")
        .into_iter()
        .map(|line| {
            let obj: serde_json::Value = serde_json::from_slice(&line).expect("row");
            serde_json::Value::Array(
                names
                    .iter()
                    .map(|n| obj.get(n).cloned().unwrap_or(serde_json::Value::Null))
                    .collect(),
            )
        })
        .collect()
}

fn assert_same(mut ours: Vec<serde_json::Value>, mut theirs: Vec<serde_json::Value>, what: &str) {
    let key = |v: &serde_json::Value| format!("{}|{}|{}", v[0], v[1], v[2]);
    ours.sort_by_key(key);
    theirs.sort_by_key(key);
    assert_eq!(ours.len(), theirs.len(), "{what}: row counts differ");
    for (a, b) in ours.iter().zip(&theirs) {
        let (a, b) = (a.as_array().expect("a"), b.as_array().expect("b"));
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(b) {
            let same = match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                _ => x == y,
            };
            assert!(same, "{what}: engine {a:?} != DuckDB {b:?}");
        }
    }
}

fn source_sql(lake: &std::path::Path) -> String {
    format!(
        "(SELECT *, epoch_ms(order_time) AS ts FROM read_parquet('{}/orders/**/*.parquet', hive_partitioning=true))",
        lake.display()
    )
}

#[test]
fn tumbling_batch_view_equals_duckdb() {
    let (_dir, lake) = lake_with_generated_orders();
    let size = 300_000;
    let ours = engine_rows(&plan(WindowSpec::Tumbling { size_ms: size }), &lake, 1);
    let theirs = duckdb(&format!(
        "SELECT product, ts // {size} * {size} AS ws, ts // {size} * {size} + {size}, {AGGS} \
         FROM {} GROUP BY ALL",
        source_sql(&lake)
    ));
    assert_same(ours, theirs, "tumbling");
}

#[test]
fn hopping_batch_view_equals_duckdb_with_parallel_decoding() {
    let (_dir, lake) = lake_with_generated_orders();
    let (size, advance) = (600_000i64, 120_000i64);
    let ours = engine_rows(
        &plan(WindowSpec::Hopping {
            size_ms: size,
            advance_ms: advance,
        }),
        &lake,
        3,
    );
    let theirs = duckdb(&format!(
        "SELECT product, ws, ws + {size}, {AGGS} FROM \
         (SELECT *, unnest(range((ts - {size}) // {advance} * {advance} + {advance}, ts // {advance} * {advance} + 1, {advance})) AS ws FROM {}) \
         GROUP BY ALL",
        source_sql(&lake)
    ));
    assert_same(ours, theirs, "hopping");
}

#[test]
fn session_batch_view_equals_duckdb() {
    let (_dir, lake) = lake_with_generated_orders();
    let gap = 20_000i64;
    let ours = engine_rows(&plan(WindowSpec::Session { gap_ms: gap }), &lake, 2);
    // A new session starts where the previous event of the product is more than `gap` ago
    // (sessions that touch merge, as in Flink): [first event, last event + gap).
    let theirs = duckdb(&format!(
        "WITH s AS (SELECT *, sum(CASE WHEN prev IS NULL OR ts - prev > {gap} THEN 1 ELSE 0 END) \
           OVER (PARTITION BY product ORDER BY ts, _partition, _offset ROWS UNBOUNDED PRECEDING) AS sid \
           FROM (SELECT *, lag(ts) OVER (PARTITION BY product ORDER BY ts, _partition, _offset) AS prev FROM {})) \
         SELECT product, min(ts), max(ts) + {gap}, {AGGS} FROM s GROUP BY product, sid",
        source_sql(&lake)
    ));
    assert_same(ours, theirs, "session");
}
