//! Row selection: the `key`, `from`/`to`, `order_by`/`desc` and `limit` of a view query,
//! applied to the view's current rows as an Arrow batch, so only the rows asked for become JSON.
//!
//! - `key` matches the view's group key column(s): the text of the value for one key
//!   column; a JSON array (`["home", 3]`) or comma-separated values for several.
//! - `from`/`to` bound the window start: `from <= window_start < to` (epoch ms).
//! - `order_by` sorts by any output column (NULLs last), ties kept in the view's order
//!   (window, then key); `desc` reverses; `limit` keeps the first rows after sorting.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt32Array};
use arrow::compute::kernels::cmp;
use arrow::compute::{
    SortColumn, SortOptions, and, cast, filter_record_batch, lexsort_to_indices, take_record_batch,
};
use arrow::datatypes::DataType;
use serde_json::{Value, json};
use strata_engine::ViewPlan;

use crate::error::{Error, Result};

/// Names a windowed view's start column may have (Flink's and ksqlDB's spelling).
pub(crate) const WINDOW_START_COLUMNS: [&str; 2] = ["window_start", "windowstart"];

/// What a client asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowQuery {
    /// Group key value(s), as text.
    pub key: Option<String>,
    /// Smallest window start (ms), inclusive.
    pub from: Option<i64>,
    /// Largest window start (ms), exclusive.
    pub to: Option<i64>,
    /// Sort by this output column.
    pub order_by: Option<String>,
    /// Descending order.
    pub desc: bool,
    /// Most rows returned.
    pub limit: Option<usize>,
    /// The aggregate a top-N query ranks by (`order_by` and `limit` are set from it).
    pub top_by: Option<String>,
}

/// The rows of `batch` (a view's snapshot, in the view's order) that `q` selects, sorted
/// and cut as asked.
///
/// # Errors
/// 400 for a key on a view without key columns among its output, a time range on a view
/// without a window start column, `from >= to`, or an unknown `order_by` column, each naming
/// what is available.
pub(crate) fn select(batch: &RecordBatch, plan: &ViewPlan, q: &RowQuery) -> Result<RecordBatch> {
    if let (Some(from), Some(to)) = (q.from, q.to)
        && from >= to
    {
        return Err(Error::bad_request(
            "bad_range",
            format!("from ({from}) must be before to ({to}): rows have from <= window_start < to"),
        ));
    }
    let mut mask: Option<BooleanArray> = None;
    let mut add = |m: BooleanArray| -> Result<()> {
        mask = Some(match mask.take() {
            Some(prev) => and(&prev, &m).map_err(internal)?,
            None => m,
        });
        Ok(())
    };
    if let Some(key) = &q.key {
        add(key_mask(batch, plan, key)?)?;
    }
    if q.from.is_some() || q.to.is_some() {
        let Some(ws) = window_start(batch) else {
            return Err(Error::bad_request(
                "bad_range",
                format!(
                    "view {} is not windowed (it has no window_start column), so from/to cannot apply; its columns are {}",
                    plan.name,
                    column_list(batch)
                ),
            ));
        };
        let ws = cast(ws, &DataType::Int64).map_err(internal)?;
        if let Some(from) = q.from {
            add(cmp::gt_eq(&ws, &arrow::array::Int64Array::new_scalar(from)).map_err(internal)?)?;
        }
        if let Some(to) = q.to {
            add(cmp::lt(&ws, &arrow::array::Int64Array::new_scalar(to)).map_err(internal)?)?;
        }
    }
    let batch = match mask {
        Some(m) => filter_record_batch(batch, &m).map_err(internal)?,
        None => batch.clone(),
    };
    let n = batch.num_rows();
    let mut indices: Vec<u32> = match &q.order_by {
        Some(column) => {
            let Some(values) = batch.column_by_name(column) else {
                return Err(Error::bad_request(
                    "bad_order_by",
                    format!(
                        "order_by {column:?} is not a column of view {}; its columns are {}",
                        plan.name,
                        column_list(&batch)
                    ),
                ));
            };
            // The row number breaks ties, so equal values keep the view's order.
            let position: ArrayRef = Arc::new(UInt32Array::from_iter_values(0..n as u32));
            let sorted = lexsort_to_indices(
                &[
                    SortColumn {
                        values: Arc::clone(values),
                        options: Some(SortOptions {
                            descending: q.desc,
                            nulls_first: false,
                        }),
                    },
                    SortColumn {
                        values: position,
                        options: None,
                    },
                ],
                None,
            )
            .map_err(internal)?;
            sorted.values().to_vec()
        }
        None if q.desc => (0..n as u32).rev().collect(),
        None => (0..n as u32).collect(),
    };
    if let Some(limit) = q.limit {
        indices.truncate(limit);
    }
    if indices.len() == n && indices.iter().enumerate().all(|(i, &j)| i as u32 == j) {
        return Ok(batch);
    }
    take_record_batch(&batch, &UInt32Array::from(indices)).map_err(internal)
}

/// The view's group key columns that are among its output columns, in key order.
pub(crate) fn key_columns(plan: &ViewPlan) -> Vec<String> {
    plan.group_by
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| plan.output.iter().any(|(out, _)| out == name))
        .collect()
}

/// The window start column of a view's rows, if it has one.
pub(crate) fn window_start(batch: &RecordBatch) -> Option<&ArrayRef> {
    WINDOW_START_COLUMNS
        .iter()
        .find_map(|name| batch.column_by_name(name))
}

/// Name and SQL type of each column, for clients that print tables.
pub fn columns_json(batch: &RecordBatch) -> Value {
    Value::Array(
        batch
            .schema()
            .fields()
            .iter()
            .map(|f| json!({ "name": f.name(), "type": sql_type(f.data_type()) }))
            .collect(),
    )
}

/// The SQL name of an Arrow type, as `docs/sql.md` lists them.
pub(crate) fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Boolean => "boolean".into(),
        DataType::Int64 | DataType::Int32 | DataType::UInt64 | DataType::UInt32 => "bigint".into(),
        DataType::Float64 | DataType::Float32 => "double".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Timestamp(..) => "timestamp".into(),
        other => other.to_string().to_lowercase(),
    }
}

fn key_mask(batch: &RecordBatch, plan: &ViewPlan, key: &str) -> Result<BooleanArray> {
    let columns = key_columns(plan);
    if columns.is_empty() {
        let why = if plan.group_by.is_empty() {
            "it has no GROUP BY key".to_owned()
        } else {
            format!(
                "its key ({}) is not among its output columns; select it in the view",
                plan.group_by
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(Error::bad_request(
            "bad_key",
            format!("view {} cannot be looked up by key: {why}", plan.name),
        ));
    }
    let parts = split_key(key, columns.len()).ok_or_else(|| {
        Error::bad_request(
            "bad_key",
            format!(
                "view {} has {} key columns ({}): give the key as a JSON array like [\"a\", 1] or as comma-separated values, not {key:?}",
                plan.name,
                columns.len(),
                columns.join(", ")
            ),
        )
    })?;
    let mut mask = BooleanArray::from(vec![true; batch.num_rows()]);
    for (column, part) in columns.iter().zip(parts) {
        let Some(values) = batch.column_by_name(column) else {
            continue;
        };
        let text = as_text(values)?;
        let m = cmp::eq(&text, &StringArray::new_scalar(part)).map_err(internal)?;
        mask = and(&mask, &m).map_err(internal)?;
    }
    Ok(mask)
}

/// A column as text the way it appears in JSON rows (timestamps as epoch ms).
fn as_text(values: &ArrayRef) -> Result<ArrayRef> {
    let values = match values.data_type() {
        DataType::Timestamp(..) => cast(values, &DataType::Int64).map_err(internal)?,
        _ => Arc::clone(values),
    };
    cast(&values, &DataType::Utf8).map_err(internal)
}

/// The values of a `key` parameter, one per key column of the view's output (`None` when
/// the count does not fit).
pub(crate) fn key_values(plan: &ViewPlan, key: &str) -> Option<Vec<String>> {
    split_key(key, key_columns(plan).len().max(1))
}

/// Splits a key into `n` parts: the text itself for one column, else a JSON array or
/// comma-separated values.
fn split_key(key: &str, n: usize) -> Option<Vec<String>> {
    if n == 1 {
        // A one-element JSON array is accepted too, so scripts can always send arrays.
        if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(key)
            && items.len() == 1
        {
            return Some(vec![json_text(&items[0])]);
        }
        return Some(vec![key.to_owned()]);
    }
    let parts: Vec<String> = match serde_json::from_str::<Value>(key) {
        Ok(Value::Array(items)) => items.iter().map(json_text).collect(),
        _ => key.split(',').map(|s| s.trim().to_owned()).collect(),
    };
    (parts.len() == n).then_some(parts)
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn column_list(batch: &RecordBatch) -> String {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn internal(e: arrow::error::ArrowError) -> Error {
    Error::Engine(strata_engine::Error::Arrow(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, TimestampMillisecondArray};
    use arrow::datatypes::{Field, Schema, TimeUnit};
    use strata_views::engine::{Engine, EngineConfig, Outcome};

    /// The plan of the issue's ksqlDB view, compiled by the engine itself.
    fn plan() -> ViewPlan {
        let dir = tempfile::tempdir().unwrap();
        let log = strata_log::Log::open(dir.path().join("log"), Default::default()).unwrap();
        let engine = Engine::open(
            Arc::clone(&log),
            &dir.path().join("engine"),
            EngineConfig::default(),
        )
        .unwrap();
        let out = engine
            .execute(
                "CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
                   WITH (kafka_topic='page_views', value_format='JSON');
                 CREATE TABLE page_view_counts AS
                   SELECT pageid, COUNT(*) AS view_count FROM page_views
                   WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY pageid EMIT CHANGES;",
            )
            .unwrap();
        assert!(matches!(out[1], Outcome::ViewCreated { .. }));
        let plan = engine.plan("page_view_counts").unwrap();
        engine.shutdown();
        log.close().unwrap();
        plan
    }

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("pageid", DataType::Utf8, true),
            Field::new(
                "window_start",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("view_count", DataType::Int64, true),
            Field::new("ratio", DataType::Float64, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "a", "c"])),
                Arc::new(TimestampMillisecondArray::from(vec![0, 0, 60_000, 60_000])),
                Arc::new(Int64Array::from(vec![Some(3), Some(5), None, Some(5)])),
                Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5, 3.5])),
            ],
        )
        .unwrap()
    }

    fn ids(b: &RecordBatch) -> Vec<String> {
        let c = b.column_by_name("pageid").unwrap();
        let s = c.as_any().downcast_ref::<StringArray>().unwrap();
        (0..s.len())
            .map(|i| format!("{}@{}", s.value(i), i64_at(b, "window_start", i)))
            .collect()
    }

    fn i64_at(b: &RecordBatch, name: &str, i: usize) -> i64 {
        let c = cast(b.column_by_name(name).unwrap(), &DataType::Int64).unwrap();
        c.as_any().downcast_ref::<Int64Array>().unwrap().value(i)
    }

    #[test]
    fn filters_sorts_and_limits() {
        let plan = plan();
        assert_eq!(key_columns(&plan), vec!["pageid".to_owned()]);
        let all = select(&batch(), &plan, &RowQuery::default()).unwrap();
        assert_eq!(ids(&all), ["a@0", "b@0", "a@60000", "c@60000"]);
        let q = |f: fn(&mut RowQuery)| {
            let mut q = RowQuery::default();
            f(&mut q);
            ids(&select(&batch(), &plan, &q).unwrap())
        };
        assert_eq!(q(|q| q.key = Some("a".into())), ["a@0", "a@60000"]);
        assert_eq!(q(|q| q.key = Some(r#"["a"]"#.into())), ["a@0", "a@60000"]);
        assert_eq!(q(|q| q.key = Some("zzz".into())), Vec::<String>::new());
        assert_eq!(q(|q| q.from = Some(1)), ["a@60000", "c@60000"]);
        assert_eq!(q(|q| q.to = Some(60_000)), ["a@0", "b@0"]);
        // Ties keep the view's order; NULLs go last either way.
        assert_eq!(
            q(|q| q.order_by = Some("view_count".into())),
            ["a@0", "b@0", "c@60000", "a@60000"]
        );
        assert_eq!(
            q(|q| {
                q.order_by = Some("view_count".into());
                q.desc = true;
                q.limit = Some(2);
            }),
            ["b@0", "c@60000"]
        );
        assert_eq!(
            q(|q| {
                q.desc = true;
                q.limit = Some(1);
            }),
            ["c@60000"]
        );
    }

    #[test]
    fn bad_requests_say_what_is_available() {
        let plan = plan();
        let err = |q: RowQuery| select(&batch(), &plan, &q).unwrap_err().to_string();
        let e = err(RowQuery {
            order_by: Some("nope".into()),
            ..RowQuery::default()
        });
        assert!(e.contains("pageid, window_start, view_count"), "{e}");
        let e = err(RowQuery {
            from: Some(10),
            to: Some(10),
            ..RowQuery::default()
        });
        assert!(e.contains("must be before"), "{e}");
        assert!(split_key("a,b", 3).is_none());
        assert_eq!(
            split_key(r#"["x", 2]"#, 2),
            Some(vec!["x".to_owned(), "2".to_owned()])
        );
    }
}
