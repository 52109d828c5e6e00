//! The bounded driver's parallel and dictionary paths: every thread aggregates into its own
//! operator and the operators are merged at the end, and a string group key is decoded as a
//! Parquet dictionary. Whatever the thread count, the rows are those of one thread, and the
//! dictionary path (NULL keys included) gives DuckDB's groups.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use strata_batch::run_bounded;
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::plan::{AggregateFunction as F, BinaryOp, Expr, Literal, ViewPlan, WindowSpec};
use strata_log::Record;

/// 2024-03-10T00:00:00Z.
const T0: i64 = 1_710_028_800_000;

/// 3 partitions of orders over 3 hours (so many files), 4% without a product, some late.
fn lake() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    log.create_topic("orders", 3, small_segments())
        .expect("topic");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for p in 0..3u32 {
        let records: Vec<Record> = (0..2_000i64)
            .map(|i| {
                let mut t = T0 + i * 5_400 + rng.random_range(-30_000..30_000);
                if rng.random_bool(0.03) {
                    t -= rng.random_range(60_000..3_600_000);
                }
                let product = if rng.random_bool(0.04) {
                    "null".to_owned()
                } else {
                    format!("\"p{}\"", rng.random_range(0..6))
                };
                let value = format!(
                    r#"{{"product":{product},"amount":{},"qty":{},"order_time":{t}}}"#,
                    rng.random_range(1..1000),
                    rng.random_range(1..9)
                );
                Record::new(value.into_bytes(), T0 + i * 5_400)
            })
            .collect();
        append(&log, "orders", p, &records, 40);
    }
    let (lake, report) = seal_and_archive_orders(&log, dir.path());
    assert_eq!(report.rows, 6_000);
    assert!(report.files > 6, "{report:?}");
    (dir, lake)
}

/// The view's rows as sorted JSON lines.
fn rows(plan: &ViewPlan, lake: &std::path::Path, threads: usize) -> Vec<String> {
    let mut files = 0;
    let result = run_bounded(plan, lake, threads, &mut |p| {
        assert!(p.files_done > files, "progress counts every file once");
        files = p.files_done;
    })
    .expect("batch view");
    assert_eq!(result.input_rows, 6_000);
    assert_eq!(files, result.files, "progress reached every file");
    assert_eq!(result.operator.is_some(), plan.is_aggregating());
    let mut lines: Vec<String> = strata_engine::json_lines(&result.rows)
        .expect("json")
        .into_iter()
        .map(|l| String::from_utf8(l).expect("utf-8"))
        .collect();
    lines.sort();
    lines
}

fn windowed(window: WindowSpec) -> ViewBuilder {
    ViewBuilder::new("v", orders_source())
        .window(window)
        .group_by("product", col("product"))
        .aggregate("n", F::Count, None)
        // Integral amounts: sums are exact whatever the order they are added in.
        .aggregate("total", F::Sum, Some(col("amount")))
        .aggregate("hi", F::Max, Some(col("qty")))
        .aggregate("kinds", F::CountDistinct, Some(col("qty")))
        .aggregate("first", F::Earliest, Some(col("qty")))
        .aggregate("last", F::Latest, Some(col("qty")))
}

#[test]
fn parallel_runs_give_the_rows_of_one_thread() {
    let (_dir, lake) = lake();
    let plans = [
        windowed(WindowSpec::Tumbling { size_ms: 600_000 }).build(),
        windowed(WindowSpec::Hopping {
            size_ms: 600_000,
            advance_ms: 200_000,
        })
        .build(),
        windowed(WindowSpec::Session { gap_ms: 30_000 }).build(),
        // The key is also filtered on, so it is read as plain strings.
        windowed(WindowSpec::Tumbling { size_ms: 600_000 })
            .filter(Expr::Binary {
                op: BinaryOp::NotEq,
                left: Box::new(col("product")),
                right: Box::new(Expr::Literal(Literal::String("p0".into()))),
            })
            .build(),
        // Two keys.
        ViewBuilder::new("v", orders_source())
            .group_by("product", col("product"))
            .group_by("qty", col("qty"))
            .aggregate("n", F::Count, None)
            .build(),
        // No aggregation: rows pass through from every thread.
        ViewBuilder::new("v", orders_source())
            .filter(Expr::Binary {
                op: BinaryOp::Gt,
                left: Box::new(col("qty")),
                right: Box::new(Expr::Literal(Literal::Int(6))),
            })
            .build(),
    ];
    for plan in &plans {
        let one = rows(plan, &lake, 1);
        assert!(one.len() > 10, "{plan:?}: {} rows", one.len());
        for threads in [2, 3] {
            assert_eq!(
                rows(plan, &lake, threads),
                one,
                "{threads} threads: {plan:?}"
            );
        }
    }
}

#[test]
fn dictionary_keys_including_null_give_duckdbs_groups() {
    let (_dir, lake) = lake();
    let plan = windowed(WindowSpec::Tumbling { size_ms: 600_000 }).build();
    let mut ours: Vec<serde_json::Value> = rows(&plan, &lake, 2)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("row");
            serde_json::json!([v["product"], v["window_start"], v["n"], v["total"]])
        })
        .collect();
    assert!(
        ours.iter().any(|r| r[0].is_null()),
        "the data has orders without a product"
    );
    let mut theirs = duckdb(&format!(
        "SELECT product, epoch_ms(order_time) // 600000 * 600000, count(*), sum(amount) \
         FROM read_parquet('{}/orders/**/*.parquet', hive_partitioning=true) GROUP BY ALL",
        lake.display()
    ));
    let key = |v: &serde_json::Value| v.to_string();
    ours.sort_by_key(key);
    theirs.sort_by_key(key);
    assert_eq!(ours, theirs);
}
