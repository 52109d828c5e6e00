//! Golden tests of the view operator for each window type, with out-of-order and late
//! records (expectations worked out by hand in each test), and a property test: any arrival
//! order within the watermark bound gives the final result of the sorted input.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use proptest::prelude::*;
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::decode::source_schema;
use strata_engine::json_lines;
use strata_engine::operator::{Lateness, ViewOperator};
use strata_engine::plan::{AggregateFunction, EmitMode, SourceDef, SqlType, ViewPlan, WindowSpec};

fn source() -> SourceDef {
    SourceDef::stream("events")
        .column("k", SqlType::Varchar)
        .column("v", SqlType::BigInt)
        .column("ts", SqlType::Timestamp)
        .event_time("ts")
}

/// Rows (key, value, event time); offsets number the rows in order.
fn batch(rows: &[(&str, i64, i64)], first_offset: i64) -> RecordBatch {
    let schema = source_schema(&source());
    let n = rows.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|r| r.2),
        )),
        Arc::new(TimestampMillisecondArray::from_iter_values(
            rows.iter().map(|r| r.2),
        )),
        Arc::new(Int64Array::from_iter_values(std::iter::repeat_n(0, n))),
        Arc::new(Int64Array::from_iter_values(
            (0..n as i64).map(|i| first_offset + i),
        )),
        Arc::new(StringArray::from_iter(std::iter::repeat_n(None::<&str>, n))),
    ];
    RecordBatch::try_new(schema, columns).expect("batch")
}

fn plan(window: WindowSpec, grace_ms: i64, emit: EmitMode) -> ViewPlan {
    ViewBuilder::new("v", source())
        .window(window)
        .grace_ms(grace_ms)
        .group_by("k", col("k"))
        .aggregate("n", AggregateFunction::Count, None)
        .aggregate("total", AggregateFunction::Sum, Some(col("v")))
        .emit(emit)
        .build()
}

fn operator(plan: ViewPlan, lateness: Lateness) -> ViewOperator {
    ViewOperator::new(plan, source_schema(&source()), lateness).expect("operator")
}

fn rows(batch: &RecordBatch) -> Vec<String> {
    json_lines(batch)
        .expect("json")
        .into_iter()
        .map(|l| String::from_utf8(l).expect("utf8"))
        .collect()
}

fn final_rows(op: &mut ViewOperator, watermark: i64) -> Vec<String> {
    let closed = op.advance_watermark(watermark);
    rows(&op.output(&closed).expect("output"))
}

#[test]
fn tumbling_with_out_of_order_late_and_grace() {
    // 10 s windows, 2 s grace.
    let mut op = operator(
        plan(
            WindowSpec::Tumbling { size_ms: 10_000 },
            2_000,
            EmitMode::Final,
        ),
        Lateness::Enforce,
    );
    // Out of order inside window [0, 10 s), and one event in [10 s, 20 s).
    let p = op
        .process(&batch(
            &[
                ("a", 1, 5_000),
                ("a", 2, 1_000),
                ("b", 4, 9_999),
                ("a", 8, 12_000),
            ],
            0,
        ))
        .expect("p");
    assert!(p.late.is_empty());
    // Watermark 11 s: window [0,10) ends at 10 s but grace keeps it open until 12 s.
    assert!(final_rows(&mut op, 11_000).is_empty());
    // A record for [0,10) at watermark 11 s is within grace: it updates the window.
    let p = op.process(&batch(&[("a", 16, 3_000)], 4)).expect("p");
    assert!(p.late.is_empty());
    // Watermark 12 s closes [0,10): a = 1+2+16 over 3 events, b = 4.
    let closed = final_rows(&mut op, 12_000);
    assert_eq!(
        closed,
        vec![
            r#"{"k":"a","window_start":0,"window_end":10000,"n":3,"total":19}"#,
            r#"{"k":"b","window_start":0,"window_end":10000,"n":1,"total":4}"#,
        ]
    );
    // Now a record for [0,10) is too late; one for [10,20) still counts.
    let p = op
        .process(&batch(&[("a", 100, 9_000), ("a", 32, 19_000)], 5))
        .expect("p");
    assert_eq!(p.late.iter().map(|l| l.row).collect::<Vec<_>>(), vec![0]);
    assert!(p.late[0].reason.contains("too late"));
    let closed = final_rows(&mut op, 22_000);
    assert_eq!(
        closed,
        vec![r#"{"k":"a","window_start":10000,"window_end":20000,"n":2,"total":40}"#]
    );
}

#[test]
fn hopping_counts_each_record_in_every_window_it_falls_in() {
    // 10 s windows every 5 s, no grace.
    let mut op = operator(
        plan(
            WindowSpec::Hopping {
                size_ms: 10_000,
                advance_ms: 5_000,
            },
            0,
            EmitMode::Final,
        ),
        Lateness::Enforce,
    );
    op.process(&batch(
        &[("a", 1, 7_000), ("a", 2, 3_000), ("a", 4, 12_000)],
        0,
    ))
    .expect("p");
    // Windows: [-5,5): 3 s → 2; [0,10): 7 s, 3 s → 3; [5,15): 7 s, 12 s → 5; [10,20): 12 s → 4.
    let closed = final_rows(&mut op, 30_000);
    let totals: Vec<String> = closed
        .iter()
        .map(|r| {
            r.split("\"total\":")
                .nth(1)
                .expect("total")
                .trim_end_matches('}')
                .to_string()
        })
        .collect();
    assert_eq!(totals, vec!["2", "3", "5", "4"]);
    // At watermark 12 s, a record at 8 s is late for [0,10) but still counts in [5,15).
    let mut op = operator(
        plan(
            WindowSpec::Hopping {
                size_ms: 10_000,
                advance_ms: 5_000,
            },
            0,
            EmitMode::Final,
        ),
        Lateness::Enforce,
    );
    op.process(&batch(&[("a", 1, 11_000)], 0)).expect("p");
    op.advance_watermark(12_000);
    let p = op.process(&batch(&[("a", 10, 8_000)], 1)).expect("p");
    assert!(
        p.late.is_empty(),
        "not late while one of its windows is open"
    );
    let closed = final_rows(&mut op, 100_000);
    assert_eq!(closed.len(), 2, "[5,15) and [10,20)");
    assert!(closed[0].contains(r#""window_start":5000"#) && closed[0].contains(r#""total":11"#));
    assert!(closed[1].contains(r#""total":1}"#));
}

#[test]
fn sessions_extend_merge_and_close_after_the_gap() {
    // 5 s gap, no grace.
    let mut op = operator(
        plan(WindowSpec::Session { gap_ms: 5_000 }, 0, EmitMode::Final),
        Lateness::Enforce,
    );
    // a: 1 s and 10 s are separate sessions ([1,6] and [10,15]); 5.5 s (arriving last)
    // touches both and merges them.
    op.process(&batch(
        &[("a", 1, 1_000), ("a", 2, 10_000), ("b", 4, 2_000)],
        0,
    ))
    .expect("p");
    assert_eq!(op.group_count(), 3);
    op.process(&batch(&[("a", 8, 5_500)], 3)).expect("p");
    assert_eq!(op.group_count(), 2, "bridging event merged a's sessions");
    // Sessions include their end: b's [2 s, 7 s] closes once the watermark passes 7 s.
    assert!(final_rows(&mut op, 7_000).is_empty());
    let closed = final_rows(&mut op, 7_001);
    assert_eq!(
        closed,
        vec![r#"{"k":"b","window_start":2000,"window_end":7000,"n":1,"total":4}"#]
    );
    let closed = final_rows(&mut op, 15_001);
    assert_eq!(
        closed,
        vec![r#"{"k":"a","window_start":1000,"window_end":15000,"n":3,"total":11}"#]
    );
    // A record that could only join a closed session is late.
    let p = op.process(&batch(&[("a", 1, 9_000)], 4)).expect("p");
    assert_eq!(p.late.len(), 1);
}

#[test]
fn emit_changes_reports_each_touched_group_once_per_batch() {
    let mut op = operator(
        plan(
            WindowSpec::Tumbling { size_ms: 10_000 },
            0,
            EmitMode::Changes,
        ),
        Lateness::Enforce,
    );
    let p = op
        .process(&batch(
            &[("a", 1, 1_000), ("a", 2, 2_000), ("b", 3, 3_000)],
            0,
        ))
        .expect("p");
    assert_eq!(p.changed.len(), 2);
    let out = rows(&op.output(&p.changed).expect("output"));
    assert!(out[0].contains(r#""k":"a""#) && out[0].contains(r#""total":3"#));
    let p = op.process(&batch(&[("a", 5, 4_000)], 3)).expect("p");
    let out = rows(&op.output(&p.changed).expect("output"));
    assert_eq!(out.len(), 1);
    assert!(out[0].contains(r#""total":8"#));
}

#[test]
fn emit_final_without_a_window_is_rejected() {
    let plan = ViewBuilder::new("v", source())
        .group_by("k", col("k"))
        .aggregate("n", AggregateFunction::Count, None)
        .emit(EmitMode::Final)
        .build();
    let err = ViewOperator::new(plan, source_schema(&source()), Lateness::Enforce)
        .expect_err("needs a window");
    assert!(err.to_string().contains("EMIT FINAL"), "{err}");
}

#[test]
fn state_survives_a_checkpoint_round_trip() {
    let p = plan(WindowSpec::Session { gap_ms: 5_000 }, 0, EmitMode::Final);
    let mut op = operator(p.clone(), Lateness::Enforce);
    op.process(&batch(&[("a", 1, 1_000), ("b", 2, 2_000)], 0))
        .expect("p");
    let bytes = strata_engine::codec::encode(op.state()).expect("encode");
    let mut restored = operator(p, Lateness::Enforce);
    restored
        .restore(strata_engine::codec::decode(&bytes).expect("decode"))
        .expect("restore");
    for o in [&mut op, &mut restored] {
        o.process(&batch(&[("a", 5, 4_000)], 2)).expect("p");
    }
    assert_eq!(
        final_rows(&mut op, 100_000),
        final_rows(&mut restored, 100_000)
    );
}

fn window_strategy() -> impl Strategy<Value = WindowSpec> {
    prop_oneof![
        (1i64..20).prop_map(|s| WindowSpec::Tumbling { size_ms: s * 1000 }),
        (1i64..5, 1i64..4).prop_map(|(a, m)| WindowSpec::Hopping {
            size_ms: a * m * 1000,
            advance_ms: a * 1000
        }),
        (1i64..10).prop_map(|g| WindowSpec::Session { gap_ms: g * 1000 }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arrival order within the watermark bound does not change the final result.
    #[test]
    fn any_bounded_disorder_gives_the_sorted_result(
        events in proptest::collection::vec((0usize..4, -50i64..50, 0i64..60_000, 0i64..5_000), 1..120),
        cuts in proptest::collection::vec(1usize..20, 1..20),
        window in window_strategy(),
    ) {
        const DELAY: i64 = 5_000;
        let keys = ["a", "b", "c", "d"];
        // Arrival order: by event time plus a jitter of at most DELAY, so when an event
        // arrives nothing seen before it is more than DELAY newer: never late.
        let mut arrival: Vec<(usize, i64, i64, i64)> = events.clone();
        arrival.sort_by_key(|e| (e.2 + e.3, e.2));
        let mut streaming = operator(plan(window, 0, EmitMode::Final), Lateness::Enforce);
        let mut finals = Vec::new();
        let mut max_seen = i64::MIN;
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < arrival.len() {
            let n = (*cut.next().expect("cycle")).min(arrival.len() - at);
            let chunk: Vec<(&str, i64, i64)> = arrival[at..at + n].iter().map(|e| (keys[e.0], e.1, e.2)).collect();
            let p = streaming.process(&batch(&chunk, at as i64)).expect("process");
            prop_assert!(p.late.is_empty(), "nothing is late within the bound");
            max_seen = max_seen.max(chunk.iter().map(|c| c.2).max().expect("non-empty"));
            finals.extend(final_rows(&mut streaming, max_seen - DELAY));
            at += n;
        }
        finals.extend(final_rows(&mut streaming, i64::MAX));

        let mut sorted: Vec<(&str, i64, i64)> = events.iter().map(|e| (keys[e.0], e.1, e.2)).collect();
        sorted.sort_by_key(|e| e.2);
        let mut bounded = operator(plan(window, 0, EmitMode::Final), Lateness::Ignore);
        bounded.process(&batch(&sorted, 0)).expect("process");
        let mut expected = final_rows(&mut bounded, i64::MAX);

        finals.sort();
        expected.sort();
        prop_assert_eq!(finals, expected);
    }
}
