//! A point lookup's rows straight to JSON: the rows that [`rows::select`] would pick for a
//! `key`/`from`/`to` query, written as the objects [`json_lines`] would write, without the
//! Arrow filter kernels, the text casts of the key columns and the JSON writer's per-batch
//! set-up, which cost more than the few rows of a point lookup themselves.
//!
//! It covers the common shapes only (no ordering or limit; integer, boolean, string and
//! timestamp columns) and says so by returning `None`; the caller then takes the general
//! path. The property test below checks it byte for byte against that general path.
//!
//! [`rows::select`]: crate::rows::select
//! [`json_lines`]: strata_engine::json_lines

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use strata_engine::ViewPlan;

use crate::rows::{self, RowQuery};

/// Writes the rows `q` selects from `batch` (a view's rows in the view's order) as JSON
/// objects separated by commas into `out`, and returns how many; `None` (with nothing
/// written) when `q` or a column is outside what this path does, or `q` is an error the
/// general path reports.
pub(crate) fn write_selected(
    batch: &RecordBatch,
    plan: &ViewPlan,
    q: &RowQuery,
    out: &mut Vec<u8>,
) -> Option<usize> {
    if q.order_by.is_some() || q.desc || q.limit.is_some() || q.top_by.is_some() {
        return None;
    }
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from >= to
    {
        return None;
    }
    let schema = batch.schema();
    if !schema.fields().iter().all(|f| writable(f.data_type())) {
        return None;
    }
    let starts = if q.from.is_some() || q.to.is_some() {
        let column = rows::window_start(batch)?;
        Some((column, int_values(column)?))
    } else {
        None
    };
    let mut keys: Vec<(&ArrayRef, String)> = Vec::new();
    if let Some(key) = &q.key {
        let columns = rows::key_columns(plan);
        if columns.is_empty() {
            return None;
        }
        let parts = rows::key_values(plan, key)?;
        for (column, part) in columns.iter().zip(parts) {
            // A key column the rows lack does not narrow them (as in `select`).
            if let Some(values) = batch.column_by_name(column) {
                keys.push((values, part));
            }
        }
    }
    let names: Vec<Vec<u8>> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut name = serde_json::to_vec(f.name()).unwrap_or_default();
            name.push(b':');
            name
        })
        .collect();
    let mut count = 0;
    let mut text = String::new();
    for row in 0..batch.num_rows() {
        if let Some((column, starts)) = &starts {
            if column.is_null(row) {
                continue;
            }
            let start = starts[row];
            if q.from.is_some_and(|f| start < f) || q.to.is_some_and(|t| start >= t) {
                continue;
            }
        }
        let matches = keys.iter().all(|(values, part)| {
            text.clear();
            as_text(values, row, &mut text) && text == *part
        });
        if !matches {
            continue;
        }
        if count > 0 {
            out.push(b',');
        }
        out.push(b'{');
        let mut first = true;
        for (name, column) in names.iter().zip(batch.columns()) {
            if column.is_null(row) {
                // json_lines leaves NULL fields out.
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(name);
            write_value(column, row, out);
        }
        out.push(b'}');
        count += 1;
    }
    Some(count)
}

/// The types this path writes: those whose JSON is a plain number, boolean or string.
fn writable(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Boolean
            | DataType::Utf8
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Timestamp(..)
    )
}

/// A window start column's values as i64 (`None` for other types): a timestamp's values are
/// its i64 count of its unit, as a cast to Int64 gives them.
fn int_values(column: &ArrayRef) -> Option<&[i64]> {
    Some(match column.data_type() {
        DataType::Int64 => column.as_primitive::<Int64Type>().values(),
        DataType::Timestamp(TimeUnit::Second, _) => {
            column.as_primitive::<TimestampSecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            column.as_primitive::<TimestampMillisecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            column.as_primitive::<TimestampMicrosecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            column.as_primitive::<TimestampNanosecondType>().values()
        }
        _ => return None,
    })
}

/// A value as `select` compares it with a key: its text as a cast to Utf8 writes it
/// (timestamps as their i64). False for NULL and for types it does not cover.
fn as_text(column: &ArrayRef, row: usize, out: &mut String) -> bool {
    use std::fmt::Write;
    if column.is_null(row) {
        return false;
    }
    match column.data_type() {
        DataType::Utf8 => out.push_str(column.as_string::<i32>().value(row)),
        DataType::Boolean => out.push_str(if column.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        _ => match integer(column, row) {
            Some(Integer::Signed(v)) => {
                let _ = write!(out, "{v}");
            }
            Some(Integer::Unsigned(v)) => {
                let _ = write!(out, "{v}");
            }
            None => return false,
        },
    }
    true
}

enum Integer {
    Signed(i64),
    Unsigned(u64),
}

fn integer(column: &ArrayRef, row: usize) -> Option<Integer> {
    Some(match column.data_type() {
        DataType::Int8 => Integer::Signed(column.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Integer::Signed(column.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Integer::Signed(column.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Integer::Signed(column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Integer::Unsigned(column.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => {
            Integer::Unsigned(column.as_primitive::<UInt16Type>().value(row).into())
        }
        DataType::UInt32 => {
            Integer::Unsigned(column.as_primitive::<UInt32Type>().value(row).into())
        }
        DataType::UInt64 => Integer::Unsigned(column.as_primitive::<UInt64Type>().value(row)),
        DataType::Timestamp(..) => Integer::Signed(int_values(column)?[row]),
        _ => return None,
    })
}

/// A non-NULL value of a [`writable`] column as JSON.
fn write_value(column: &ArrayRef, row: usize, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = match column.data_type() {
        DataType::Utf8 => serde_json::to_writer(&mut *out, column.as_string::<i32>().value(row)),
        DataType::Boolean => serde_json::to_writer(&mut *out, &column.as_boolean().value(row)),
        _ => match integer(column, row) {
            Some(Integer::Signed(v)) => serde_json::to_writer(&mut *out, &v),
            Some(Integer::Unsigned(v)) => serde_json::to_writer(&mut *out, &v),
            None => Ok(()),
        },
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, Float64Array, Int32Array, Int64Array, StringArray, TimestampMillisecondArray,
        UInt64Array,
    };
    use arrow::datatypes::{Field, Schema};
    use proptest::prelude::*;
    use strata_engine::json_lines;
    use strata_views::engine::{Engine, EngineConfig};

    use super::*;

    /// A view keyed by (name, n) whose rows carry every writable type.
    fn plan() -> ViewPlan {
        let dir = tempfile::tempdir().unwrap();
        let log = strata_log::Log::open(dir.path().join("log"), Default::default()).unwrap();
        let engine = Engine::open(
            Arc::clone(&log),
            &dir.path().join("engine"),
            EngineConfig::default(),
        )
        .unwrap();
        engine
            .execute(
                "CREATE STREAM s (name VARCHAR, n BIGINT, v BIGINT) WITH (kafka_topic='s', value_format='JSON');
                 CREATE TABLE v AS SELECT name, n, COUNT(*) AS c, SUM(v) AS total FROM s
                   WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY name, n EMIT CHANGES;",
            )
            .unwrap();
        let plan = engine.plan("v").unwrap();
        engine.shutdown();
        log.close().unwrap();
        plan
    }

    /// Rows: (name, n, window start, c, total, flag, u).
    type Row = (
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i32>,
        Option<i64>,
        Option<bool>,
        Option<u64>,
    );

    fn batch(rows: &[Row]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new(
                "window_start",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("c", DataType::Int32, true),
            Field::new("total", DataType::Int64, true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("u", DataType::UInt64, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.0.clone()))),
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
                Arc::new(TimestampMillisecondArray::from_iter(
                    rows.iter().map(|r| r.2),
                )),
                Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.3))),
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.4))),
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.5))),
                Arc::new(UInt64Array::from_iter(rows.iter().map(|r| r.6))),
            ],
        )
        .unwrap()
    }

    /// The general path: select, then json_lines, joined as the answer's `rows` array.
    fn general(batch: &RecordBatch, plan: &ViewPlan, q: &RowQuery) -> Option<(Vec<u8>, usize)> {
        let selected = rows::select(batch, plan, q).ok()?;
        let lines = json_lines(&selected).unwrap();
        Some((lines.join(&b","[..]), lines.len()))
    }

    fn fast(batch: &RecordBatch, plan: &ViewPlan, q: &RowQuery) -> Option<(Vec<u8>, usize)> {
        let mut out = Vec::new();
        let n = write_selected(batch, plan, q, &mut out)?;
        Some((out, n))
    }

    fn name() -> impl Strategy<Value = Option<String>> {
        prop::option::weighted(
            0.9,
            prop::sample::select(vec!["a", "b", "a,b", "é\"x\\", "line\nbreak", ""])
                .prop_map(str::to_owned),
        )
    }

    fn row() -> impl Strategy<Value = Row> {
        (
            name(),
            prop::option::weighted(0.9, -3i64..3),
            prop::option::weighted(0.9, (0i64..4).prop_map(|m| m * 60_000)),
            prop::option::of(any::<i32>()),
            prop::option::of(any::<i64>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<u64>()),
        )
    }

    fn key() -> impl Strategy<Value = Option<String>> {
        prop::option::of(
            prop::sample::select(vec![
                r#"["a", 1]"#,
                r#"["a", -1]"#,
                "a,0",
                "b, 2",
                r#"["a,b", 0]"#,
                r#"["é\"x\\", -3]"#,
                r#"["", 1]"#,
                r#"["line\nbreak", 2]"#,
                "a,01",
                "a",
                r#"["a", 1, 2]"#,
            ])
            .prop_map(str::to_owned),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Wherever the fast path answers, it writes exactly what the general path does.
        #[test]
        fn fast_rows_equal_select_then_json_lines(
            rows in prop::collection::vec(row(), 0..24),
            key in key(),
            from in prop::option::of((0i64..5).prop_map(|m| m * 60_000 - 1)),
            to in prop::option::of((0i64..5).prop_map(|m| m * 60_000)),
        ) {
            let plan = plan_once();
            let batch = batch(&rows);
            let q = RowQuery { key, from, to, ..RowQuery::default() };
            let want = general(&batch, plan, &q);
            match fast(&batch, plan, &q) {
                Some(got) => prop_assert_eq!(Some(got), want),
                // It declines only what it does not cover: here, bad requests.
                None => prop_assert!(want.is_none(), "declined {:?}", q),
            }
        }
    }

    fn plan_once() -> &'static ViewPlan {
        static PLAN: std::sync::OnceLock<ViewPlan> = std::sync::OnceLock::new();
        PLAN.get_or_init(plan)
    }

    #[test]
    fn declines_what_it_does_not_cover() {
        let plan = plan_once();
        let rows = [(
            Some("a".to_owned()),
            Some(1),
            Some(0),
            Some(1),
            Some(2),
            None,
            None,
        )];
        let b = batch(&rows);
        let mut out = Vec::new();
        let sorted = RowQuery {
            order_by: Some("c".into()),
            ..RowQuery::default()
        };
        assert!(write_selected(&b, plan, &sorted, &mut out).is_none());
        let limited = RowQuery {
            limit: Some(1),
            ..RowQuery::default()
        };
        assert!(write_selected(&b, plan, &limited, &mut out).is_none());
        let floats = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)])),
            vec![Arc::new(Float64Array::from(vec![1.5]))],
        )
        .unwrap();
        assert!(write_selected(&floats, plan, &RowQuery::default(), &mut out).is_none());
        assert!(out.is_empty(), "nothing written when declining");
        let (json, n) = fast(&b, plan, &RowQuery::default()).unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"name":"a","n":1,"window_start":0,"c":1,"total":2}"#
        );
    }
}
