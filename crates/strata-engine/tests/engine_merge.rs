//! Merging view states (`ViewOperator::absorb`), what the serving layer does to add a batch
//! view and speed-layer partials: for any split of a stream into parts, each part aggregated
//! on its own and the parts absorbed into one state give exactly what one operator over the
//! whole stream gives — for every window type, sessions included (partial sessions that
//! touch merge) and for every aggregate kind, AVG and COUNT(DISTINCT) included.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use proptest::prelude::*;
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::decode::source_schema;
use strata_engine::json_lines;
use strata_engine::operator::{GroupFilter, Lateness, ViewOperator};
use strata_engine::plan::{AggregateFunction, SourceDef, SqlType, ViewPlan, WindowSpec};

fn source() -> SourceDef {
    SourceDef::stream("events")
        .column("k", SqlType::Varchar)
        .column("v", SqlType::BigInt)
        .column("ts", SqlType::Timestamp)
        .event_time("ts")
}

/// Rows (key, value, event time) at offsets `first_offset..`.
fn batch(rows: &[(String, i64, i64)], first_offset: i64) -> RecordBatch {
    let schema = source_schema(&source());
    let n = rows.len();
    let times = || TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.2));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.0.as_str()),
        )),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(times()),
        Arc::new(times()),
        Arc::new(Int64Array::from_iter_values(std::iter::repeat_n(0, n))),
        Arc::new(Int64Array::from_iter_values(
            (0..n as i64).map(|i| first_offset + i),
        )),
        Arc::new(StringArray::from_iter(std::iter::repeat_n(None::<&str>, n))),
    ];
    RecordBatch::try_new(schema, columns).expect("batch")
}

fn plan(window: Option<WindowSpec>) -> ViewPlan {
    let mut b = ViewBuilder::new("v", source())
        .group_by("k", col("k"))
        .aggregate("n", AggregateFunction::Count, None)
        .aggregate("total", AggregateFunction::Sum, Some(col("v")))
        .aggregate("mean", AggregateFunction::Avg, Some(col("v")))
        .aggregate("low", AggregateFunction::Min, Some(col("v")))
        .aggregate("values", AggregateFunction::CountDistinct, Some(col("v")))
        .aggregate("last", AggregateFunction::Latest, Some(col("v")));
    if let Some(w) = window {
        b = b.window(w);
    }
    b.build()
}

fn bounded(plan: &ViewPlan) -> ViewOperator {
    let mut op = ViewOperator::new(plan.clone(), source_schema(&source()), Lateness::Ignore)
        .expect("operator");
    op.set_retention_ms(i64::MAX);
    op
}

fn rows(op: &ViewOperator) -> Vec<String> {
    json_lines(&op.snapshot().expect("snapshot"))
        .expect("json")
        .into_iter()
        .map(|l| String::from_utf8(l).expect("utf8"))
        .collect()
}

fn windows() -> impl Strategy<Value = Option<WindowSpec>> {
    prop_oneof![
        Just(None),
        Just(Some(WindowSpec::Tumbling { size_ms: 10 })),
        Just(Some(WindowSpec::Hopping {
            size_ms: 20,
            advance_ms: 5
        })),
        Just(Some(WindowSpec::Session { gap_ms: 7 })),
    ]
}

fn records() -> impl Strategy<Value = Vec<(String, i64, i64)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_owned),
            -5i64..20,
            0i64..120,
        ),
        1..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn absorbing_the_parts_equals_the_whole(
        window in windows(),
        records in records(),
        cuts in prop::collection::vec(0usize..80, 0..4),
    ) {
        let plan = plan(window);
        let mut whole = bounded(&plan);
        whole.process(&batch(&records, 0)).expect("process");

        let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (records.len() + 1)).collect();
        bounds.extend([0, records.len()]);
        bounds.sort_unstable();
        let mut merged = bounded(&plan);
        // Parts absorbed newest first, to show the order does not matter.
        for pair in bounds.windows(2).rev() {
            let (from, to) = (pair[0], pair[1]);
            let mut part = bounded(&plan);
            if from < to {
                part.process(&batch(&records[from..to], from as i64)).expect("process");
            }
            merged.absorb(&part, &GroupFilter::default()).expect("absorb");
        }
        prop_assert_eq!(rows(&merged), rows(&whole));
    }

    #[test]
    fn a_key_and_range_filter_takes_exactly_those_groups(
        window in windows(),
        records in records(),
        (from, to) in (0i64..130, 0i64..130),
        closed_below in prop::option::of(0i64..130),
    ) {
        let plan = plan(window);
        let mut whole = bounded(&plan);
        whole.process(&batch(&records, 0)).expect("process");
        // Some windows closed (as in a speed-layer partial), or all open (a batch view).
        if let Some(watermark) = closed_below {
            whole.advance_watermark(watermark);
        }
        let key = whole
            .key_row_from_text(&["b".to_owned()])
            .expect("convert")
            .expect("a string key always converts");
        let mut only_b = bounded(&plan);
        let filter = GroupFilter { key: Some(key), from: Some(from), to: Some(to) };
        only_b.absorb(&whole, &filter).expect("absorb");
        let sessions = matches!(plan.window, Some(WindowSpec::Session { .. }));
        let expected: Vec<String> = rows(&whole)
            .into_iter()
            .filter(|r| r.starts_with(r#"{"k":"b""#))
            .filter(|r| {
                let row: serde_json::Value = serde_json::from_str(r).expect("json");
                // Sessions are not cut by start (their extent depends on the merge).
                sessions
                    || row["window_start"]
                        .as_i64()
                        .is_none_or(|start| start >= from && start < to)
            })
            .collect();
        prop_assert_eq!(rows(&only_b), expected);
    }
}

#[test]
fn states_of_other_definitions_do_not_merge() {
    let mut tumbling = bounded(&plan(Some(WindowSpec::Tumbling { size_ms: 10 })));
    let session = bounded(&plan(Some(WindowSpec::Session { gap_ms: 10 })));
    let err = tumbling
        .absorb(&session, &GroupFilter::default())
        .expect_err("different windows");
    assert!(
        err.to_string().contains("different view definitions"),
        "{err}"
    );
}

#[test]
fn keys_of_the_wrong_type_match_nothing() {
    let source = source();
    let plan = ViewBuilder::new("v", source.clone())
        .group_by("v", col("v"))
        .aggregate("n", AggregateFunction::Count, None)
        .build();
    let op = ViewOperator::new(plan, source_schema(&source), Lateness::Ignore).expect("op");
    assert!(op.key_row_from_text(&["12".into()]).expect("ok").is_some());
    assert_eq!(op.key_row_from_text(&["twelve".into()]).expect("ok"), None);
    assert_eq!(
        op.key_row_from_text(&["1".into(), "2".into()]).expect("ok"),
        None,
        "one value per key column"
    );
}
