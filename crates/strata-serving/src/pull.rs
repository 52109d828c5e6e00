//! Pull queries (`SELECT … FROM table_or_view WHERE …` without `EMIT`): answered once from
//! current rows, as ksqlDB answers them, then done.
//!
//! - Over a **view**, the rows are what `GET /v1/views/{v}` answers from — the serving
//!   layer's merge of batch view and speed layer for a Lambda view, the speed layer's rows
//!   otherwise — filtered and projected by the query.
//! - Over a **table source** (declared, not materialized), the table's current rows are
//!   computed on the spot: the query as a push query would run it (upserts, tombstones, WHERE
//!   on each key's latest row) over the topic from its first record to its end, then read.
//! - Over a **stream source** (ksqlDB's pull query on a stream), the query's rows over the
//!   stream's records from the first to the current end, partition by partition, stopping
//!   early once `LIMIT` rows are there.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{Field, Schema};
use strata_engine::decode::MAX_BATCH_ROWS;
use strata_engine::expr::{evaluate, evaluate_predicate};
use strata_engine::json_lines;
use strata_engine::pipeline::{Output, Pipeline, PipelineOptions};
use strata_engine::plan::ViewPlan;
use strata_engine::sql::PullQuery;
use strata_log::{ReadLimits, RecordView};
use strata_views::engine::Engine;

use crate::answer::current_rows;
use crate::error::{Error, Result};
use crate::rows::{RowQuery, columns_json};

/// A pull query's answer: its columns (as view answers describe them) and rows (one JSON
/// object each).
#[derive(Debug, Clone, PartialEq)]
pub struct PullAnswer {
    /// `[{"name", "type"}]`.
    pub columns: serde_json::Value,
    /// The rows, each a JSON object.
    pub rows: Vec<Vec<u8>>,
}

/// Answers `q`.
///
/// # Errors
/// [`Error::BadRequest`] when the query uses what the current rows do not have (`ROWTIME`
/// of a view's rows); [`Error::Unavailable`] for a view that is not running; log errors.
pub fn pull(engine: &Engine, q: &PullQuery) -> Result<PullAnswer> {
    let mut rows = match engine.resolve(&q.rows.source.name) {
        Some(view) => view_rows(engine, &view, &q.rows)?,
        None if q.push.reads_table() => table_rows(engine, &q.push)?,
        None => stream_rows(engine, &q.push, q.limit)?,
    };
    if let Some(limit) = q.limit {
        let n = usize::try_from(limit).unwrap_or(usize::MAX);
        rows = rows.slice(0, n.min(rows.num_rows()));
    }
    Ok(PullAnswer {
        columns: columns_json(&rows),
        rows: json_lines(&rows)?,
    })
}

/// A view's current rows, filtered and projected by `plan` (a filter/projection over them).
fn view_rows(engine: &Engine, view: &str, plan: &ViewPlan) -> Result<RecordBatch> {
    let view_plan = engine.plan(view).ok_or_else(|| Error::unknown_view(view))?;
    let (current, _) = match current_rows(engine, &view_plan, &RowQuery::default()) {
        Ok(rows) => rows,
        Err(Error::Engine(strata_engine::Error::Unknown { .. })) => {
            let why = engine
                .failure(view)
                .unwrap_or_else(|| "it could not resume; see the node's log".into());
            return Err(Error::Unavailable(format!(
                "view {view} is not running: {why}"
            )));
        }
        Err(e) => return Err(e),
    };
    let not_here = |e: strata_engine::Error| {
        let columns: Vec<String> = current
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        Error::bad_request(
            "bad_query",
            format!(
                "the pull query cannot be answered from the rows of view {view} ({e}); a pull query reads the view's columns: {}",
                columns.join(", ")
            ),
        )
    };
    let filtered = match &plan.filter {
        Some(f) => {
            let keep = evaluate_predicate(f, &current).map_err(not_here)?;
            filter_record_batch(&current, &keep).map_err(|e| Error::Engine(e.into()))?
        }
        None => current.clone(),
    };
    let mut fields = Vec::with_capacity(plan.output.len());
    let mut columns = Vec::with_capacity(plan.output.len());
    for (name, expr) in &plan.output {
        let column = evaluate(expr, &filtered).map_err(not_here)?;
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    let schema = Arc::new(Schema::new(fields));
    RecordBatch::try_new_with_options(
        schema,
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(filtered.num_rows())),
    )
    .map_err(|e| Error::Engine(e.into()))
}

/// A table source's current rows under `plan` (the query as a push query runs it), from a
/// bounded run over its topic up to the end it has now.
fn table_rows(engine: &Engine, plan: &ViewPlan) -> Result<RecordBatch> {
    let mut pipeline = Pipeline::new(plan.clone(), PipelineOptions::bounded())?;
    run_to_end(engine, plan, &mut pipeline, |_| Ok(true))?;
    Ok(pipeline.current_rows()?)
}

/// A stream source's rows under `plan` (a filter/projection) from its first record to the
/// end it has now; no more than `limit`.
fn stream_rows(engine: &Engine, plan: &ViewPlan, limit: Option<u64>) -> Result<RecordBatch> {
    let mut pipeline = Pipeline::new(plan.clone(), PipelineOptions::bounded())?;
    let schema = pipeline.output_schema()?;
    let limit = limit.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut batches = Vec::new();
    let mut rows = 0;
    run_to_end(engine, plan, &mut pipeline, |output| {
        for (_, values) in output.into_rows() {
            rows += values.num_rows();
            batches.push(values);
        }
        Ok(rows < limit)
    })?;
    concat_batches(&schema, &batches).map_err(|e| Error::Engine(e.into()))
}

/// Runs `pipeline` over `plan`'s source topic from its first record to the end it has now,
/// partition by partition (a key lives in one partition, so each key's records are applied
/// in their log order), handing each step's output to `emitted` until it answers false.
fn run_to_end(
    engine: &Engine,
    plan: &ViewPlan,
    pipeline: &mut Pipeline,
    mut emitted: impl FnMut(Output) -> Result<bool>,
) -> Result<()> {
    let topic = engine.log().topic(&plan.source.topic)?;
    let limits = ReadLimits {
        max_records: MAX_BATCH_ROWS as u64,
        max_bytes: 16 * 1024 * 1024,
    };
    for p in topic.partitions() {
        let end = p.end_offset();
        let mut next = p.start_offset();
        while next < end {
            let fetch = p.read(next, limits)?;
            let mut records: Vec<(u32, RecordView<'_>)> = Vec::new();
            for r in fetch.records() {
                let r = r?;
                if r.offset < end {
                    records.push((p.id(), r));
                }
            }
            if records.is_empty() {
                break;
            }
            let step = pipeline.process_records(&records)?;
            if !emitted(step.output)? {
                return Ok(());
            }
            next = fetch.next_offset();
        }
    }
    Ok(())
}
