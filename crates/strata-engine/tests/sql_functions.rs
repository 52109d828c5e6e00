//! The scalar functions added for Nexmark q14, q21 and q22 (`HOUR`, `EXTRACT`, `REPLACE`,
//! `REGEXP_EXTRACT`, `SPLIT_INDEX`) from SQL text to the rows of a stateless view, and their
//! errors at `CREATE` time.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::Int64Type;
use strata_engine::decode::source_schema;
use strata_engine::operator::{Lateness, ViewOperator};
use strata_engine::plan::{SourceDef, Statement, ViewPlan};
use strata_engine::sql;

fn catalog() -> HashMap<String, SourceDef> {
    let ddl = "CREATE STREAM bid (price BIGINT, url VARCHAR, extra VARCHAR, datetime TIMESTAMP) \
               WITH (kafka_topic='bid', value_format='JSON', timestamp='datetime');";
    sql::parse(ddl, &sql::EmptyCatalog)
        .unwrap()
        .into_iter()
        .filter_map(|s| match s {
            Statement::CreateSource { source, .. } => Some((source.name.clone(), source)),
            _ => None,
        })
        .collect()
}

fn plan(select: &str) -> strata_engine::Result<ViewPlan> {
    let mut statements = sql::parse(select, &catalog())?;
    match statements.pop().map(Statement::into_select) {
        Some(Some(p)) => Ok(p),
        other => panic!("not a query: {other:?}"),
    }
}

fn run(select: &str) -> RecordBatch {
    let plan = plan(select).unwrap();
    let source = catalog()["bid"].clone();
    let schema = source_schema(&source);
    let n = 3;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![Some(10), None, Some(30)])),
        Arc::new(StringArray::from(vec![
            Some("https://www.nexmark.com/abc/de/f/item.htm?query=1&channel_id=42"),
            Some("https://www.nexmark.com/googl/item.htm?query=1"),
            None,
        ])),
        Arc::new(StringArray::from(vec![Some("accc"), Some("x"), None])),
        // 2024-01-01 19:30:05, 07:00:00, NULL (UTC).
        Arc::new(TimestampMillisecondArray::from(vec![
            Some(1_704_137_405_000),
            Some(1_704_092_400_000),
            None,
        ])),
        Arc::new(TimestampMillisecondArray::from(vec![0i64; n])),
        Arc::new(Int64Array::from(vec![0i64; n])),
        Arc::new(Int64Array::from_iter_values(0..n as i64)),
        Arc::new(StringArray::new_null(n)),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    let mut op = ViewOperator::new(plan, schema, Lateness::Enforce).unwrap();
    op.process(&batch)
        .unwrap()
        .passthrough
        .expect("a stateless view")
}

fn ints(b: &RecordBatch, c: &str) -> Vec<Option<i64>> {
    b.column_by_name(c)
        .unwrap()
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

fn strings(b: &RecordBatch, c: &str) -> Vec<Option<String>> {
    b.column_by_name(c)
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(|x| x.map(str::to_owned))
        .collect()
}

#[test]
fn time_fields_by_function_and_by_extract() {
    let b = run(
        "SELECT HOUR(datetime) AS h, EXTRACT(HOUR FROM datetime) AS eh, \
                 MINUTE(datetime) AS m, EXTRACT(SECOND FROM datetime) AS s FROM bid",
    );
    assert_eq!(ints(&b, "h"), vec![Some(19), Some(7), None]);
    assert_eq!(ints(&b, "eh"), ints(&b, "h"));
    assert_eq!(ints(&b, "m"), vec![Some(30), Some(0), None]);
    assert_eq!(ints(&b, "s"), vec![Some(5), Some(0), None]);
    let e = plan("SELECT EXTRACT(DAY FROM datetime) AS d FROM bid")
        .unwrap_err()
        .to_string();
    assert!(e.contains("EXTRACT takes HOUR, MINUTE or SECOND"), "{e}");
}

#[test]
fn string_functions_in_a_view() {
    let b = run(
        "SELECT LENGTH(extra) - LENGTH(REPLACE(extra, 'c', '')) AS c_count, \
         REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) AS channel_id, \
         SPLIT_INDEX(url, '/', 3) AS dir1, SPLIT_INDEX(url, '/', 5) AS dir3 FROM bid \
         WHERE price IS NULL OR price > 5 OR url IS NULL",
    );
    assert_eq!(ints(&b, "c_count"), vec![Some(3), Some(0), None]);
    assert_eq!(
        strings(&b, "channel_id"),
        vec![Some("42".into()), None, None]
    );
    assert_eq!(
        strings(&b, "dir1"),
        vec![Some("abc".into()), Some("googl".into()), None]
    );
    assert_eq!(strings(&b, "dir3"), vec![Some("f".into()), None, None]);
}

#[test]
fn bad_arguments_fail_when_the_view_is_planned() {
    for (select, wanted) in [
        (
            "SELECT REGEXP_EXTRACT(url, '(', 1) AS x FROM bid",
            "invalid regular expression",
        ),
        (
            "SELECT REGEXP_EXTRACT(url, 'a(b)', 2) AS x FROM bid",
            "group 2 does not exist",
        ),
        (
            "SELECT REGEXP_EXTRACT(url, extra) AS x FROM bid",
            "must be a constant string",
        ),
        (
            "SELECT SPLIT_INDEX(url, '/') AS x FROM bid",
            "SPLIT_INDEX() takes 3 argument(s), got 2",
        ),
        (
            "SELECT REPLACE(url, price, 'x') AS x FROM bid",
            "argument 2 of REPLACE() must be VARCHAR, got BIGINT",
        ),
        (
            "SELECT HOUR(price) AS x FROM bid",
            "argument 1 of HOUR() must be TIMESTAMP",
        ),
    ] {
        let e = plan(select).unwrap_err().to_string();
        assert!(e.contains(wanted), "{select}: {e}");
    }
}
