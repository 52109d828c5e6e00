//! Window Top-N: the best N rows of each event-time window, by one column — Flink's
//! `RANK() OVER (PARTITION BY window_start, window_end ORDER BY c DESC) … WHERE rk <= N`.
//!
//! Two shapes ([`TopNPlan`]): over the groups of a windowed aggregation (Nexmark Q5: the
//! auctions with the most bids per window), and over the rows of a stream (Q7: the highest
//! bids per window). The first runs a [`ViewOperator`] with EMIT FINAL and ranks the groups
//! of each window as the watermark closes it — every group of a window closes at once, so
//! the ranking sees them all. The second keeps, per open window, only the rows that can
//! still rank N or better; a row that cannot is dropped with one comparison against the
//! window's current N-th value. Kept rows are copied out of their input batch (so the
//! batches are not held), and compacted when the copies pile up.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, RecordBatchOptions,
    TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::{cast, interleave, take};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::operator::{Lateness, ViewOperator, WINDOW_END, WINDOW_START, timestamp};
use crate::plan::{EmitMode, ViewPlan, WindowSpec};
use crate::window;

/// How ranks count ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankKind {
    /// `RANK()`: equal values share a rank; every row ranked N or better is kept.
    Rank,
    /// `ROW_NUMBER()`: exactly N rows per window, ties by arrival.
    RowNumber,
}

/// A compiled window Top-N.
#[derive(Debug, Clone, PartialEq)]
pub struct TopNPlan {
    /// What is ranked: a windowed aggregation, or a filter/projection of a stream.
    pub inner: ViewPlan,
    /// The window (of the aggregation, or assigned to the rows).
    pub window: WindowSpec,
    /// The column ranked by.
    pub order_by: String,
    /// Highest first.
    pub descending: bool,
    /// Keep ranks `1..=limit`.
    pub limit: usize,
    /// How ties rank.
    pub kind: RankKind,
    /// The rank column's name (output when selected).
    pub rank_column: String,
    /// The output columns; `*` means every column of the ranked rows.
    pub output: Vec<String>,
}

/// One kept row: its ordering value (larger is better), arrival number, and place.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    key: f64,
    seq: u64,
    batch: u32,
    row: u32,
}

/// The kept rows of one window, best first.
#[derive(Debug, Default)]
struct WindowTop {
    end: i64,
    rows: Vec<Candidate>,
}

impl WindowTop {
    /// Whether a row of value `key` would be kept.
    fn admits(&self, key: f64, limit: usize, kind: RankKind) -> bool {
        if self.rows.len() < limit {
            return true;
        }
        let nth = self.rows[limit - 1].key;
        match kind {
            RankKind::Rank => key >= nth,
            RankKind::RowNumber => key > nth,
        }
    }

    fn insert(&mut self, c: Candidate, limit: usize, kind: RankKind) {
        // After the rows of equal value: ties rank by arrival.
        let at = self.rows.partition_point(|r| r.key >= c.key);
        self.rows.insert(at, c);
        match kind {
            RankKind::RowNumber => self.rows.truncate(limit),
            RankKind::Rank => {
                // Rank of a row = 1 + rows strictly better = 1 + index of its value's first row.
                if self.rows.len() > limit {
                    let nth = self.rows[limit - 1].key;
                    let keep = self.rows.partition_point(|r| r.key >= nth);
                    self.rows.truncate(keep);
                }
            }
        }
    }
}

/// Runs a [`TopNPlan`] over input batches of the inner view's source.
pub struct TopNOperator {
    plan: TopNPlan,
    inner: ViewOperator,
    /// Whether the inner view aggregates (ranks its closed groups) or passes rows through.
    aggregated: bool,
    /// The ranked rows' schema: the inner view's output (+ window bounds for rows).
    ranked_schema: SchemaRef,
    output_schema: SchemaRef,
    windows: BTreeMap<i64, WindowTop>,
    store: Vec<RecordBatch>,
    seq: u64,
    watermark: i64,
}

impl std::fmt::Debug for TopNOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopNOperator")
            .field("open_windows", &self.windows.len())
            .field("watermark", &self.watermark)
            .finish()
    }
}

/// Copies of kept rows are compacted into one batch past this many.
const COMPACT_AFTER: usize = 256;

impl TopNOperator {
    /// Compiles `plan` against the schema of its input batches.
    ///
    /// # Errors
    /// [`Error::Plan`] when the ranked column or an output column does not exist, or the
    /// ranked rows have no window bounds.
    pub fn new(mut plan: TopNPlan, input_schema: SchemaRef, lateness: Lateness) -> Result<Self> {
        let aggregated = plan.inner.is_aggregating();
        if aggregated {
            plan.inner.emit = EmitMode::Final;
        }
        let inner = ViewOperator::new(plan.inner.clone(), input_schema, lateness)?;
        let inner_out = inner.output_schema()?;
        let mut fields: Vec<Field> = inner_out
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        if aggregated {
            for bound in [WINDOW_START, WINDOW_END] {
                if inner_out.index_of(bound).is_err() {
                    return Err(Error::plan(format!(
                        "the ranked aggregation must select {bound} (a window Top-N partitions by the window)"
                    )));
                }
            }
        } else {
            let time = event_time_column(&plan.inner);
            if inner_out.index_of(&time).is_err() {
                return Err(Error::plan(format!(
                    "the ranked rows must include the event-time column {time}"
                )));
            }
            fields.push(Field::new(WINDOW_START, timestamp(), false));
            fields.push(Field::new(WINDOW_END, timestamp(), false));
        }
        let ranked_schema = Arc::new(Schema::new(fields));
        let order = ranked_schema.field_with_name(&plan.order_by).map_err(|_| {
            Error::plan(format!(
                "cannot rank by {}: not a column of the ranked rows ({})",
                plan.order_by,
                names(&ranked_schema)
            ))
        })?;
        if !order.data_type().is_numeric() && !matches!(order.data_type(), DataType::Timestamp(..))
        {
            return Err(Error::plan(format!(
                "cannot rank by {}: it is {}, not a number or timestamp",
                plan.order_by,
                order.data_type()
            )));
        }
        let mut out_fields = Vec::new();
        for name in &plan.output {
            if name == "*" {
                out_fields.extend(ranked_schema.fields().iter().map(|f| f.as_ref().clone()));
            } else if *name == plan.rank_column {
                out_fields.push(Field::new(name, DataType::Int64, false));
            } else {
                let f = ranked_schema.field_with_name(name).map_err(|_| {
                    Error::plan(format!(
                        "unknown column {name}; available: {}, {}",
                        names(&ranked_schema),
                        plan.rank_column
                    ))
                })?;
                out_fields.push(f.clone());
            }
        }
        Ok(TopNOperator {
            plan,
            inner,
            aggregated,
            ranked_schema,
            output_schema: Arc::new(Schema::new(out_fields)),
            windows: BTreeMap::new(),
            store: Vec::new(),
            seq: 0,
            watermark: i64::MIN,
        })
    }

    /// The output schema.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output_schema
    }

    /// The current watermark.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Processes one input batch; returns how many rows were too late (their windows had
    /// closed).
    ///
    /// # Errors
    /// Evaluation errors of the inner view.
    pub fn process(&mut self, batch: &RecordBatch) -> Result<usize> {
        let processed = self.inner.process(batch)?;
        if self.aggregated {
            return Ok(processed.late.len());
        }
        let Some(rows) = processed.passthrough else {
            return Ok(processed.late.len());
        };
        let time = event_time_column(&self.plan.inner);
        let times = as_i64(rows.column_by_name(&time).ok_or_else(|| {
            Error::plan(format!("no event-time column {time} in the ranked rows"))
        })?)?;
        let keys = self.order_keys(&rows)?;
        let mut late = 0;
        // (row, window start, window end) of the rows kept.
        let mut kept: Vec<(u32, i64, i64)> = Vec::new();
        let spec = self.plan.window;
        let (limit, kind) = (self.plan.limit, self.plan.kind);
        let watermark = self.watermark;
        for (i, &key) in keys.iter().enumerate() {
            if times.is_null(i) || key.is_nan() {
                late += 1;
                continue;
            }
            let ts = times.value(i);
            let mut counted = false;
            window::assign(&spec, ts, |start, end| {
                if end <= watermark {
                    if !counted {
                        late += 1;
                        counted = true;
                    }
                    return;
                }
                let top = self.windows.entry(start).or_insert_with(|| WindowTop {
                    end,
                    rows: Vec::new(),
                });
                if top.admits(key, limit, kind) {
                    kept.push((i as u32, start, end));
                    top.insert(
                        Candidate {
                            key,
                            seq: self.seq,
                            batch: u32::MAX,
                            row: 0,
                        },
                        limit,
                        kind,
                    );
                    self.seq += 1;
                }
            });
        }
        if !kept.is_empty() {
            self.keep_rows(&rows, &kept)?;
        }
        Ok(late)
    }

    /// Copies the kept rows into the store and points their candidates at the copies.
    fn keep_rows(&mut self, rows: &RecordBatch, kept: &[(u32, i64, i64)]) -> Result<()> {
        let indices = UInt32Array::from_iter_values(kept.iter().map(|k| k.0));
        let mut columns: Vec<ArrayRef> = rows
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<_, _>>()?;
        columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
            kept.iter().map(|k| k.1),
        )));
        columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
            kept.iter().map(|k| k.2),
        )));
        let copy = RecordBatch::try_new(Arc::clone(&self.ranked_schema), columns)?;
        let batch = self.store.len() as u32;
        self.store.push(copy);
        // Candidates inserted by this batch carry batch u32::MAX, in the order of `kept`
        // within each window; number them by that order.
        let first_seq = self.seq - kept.len() as u64;
        for top in self.windows.values_mut() {
            for c in &mut top.rows {
                if c.batch == u32::MAX {
                    c.row = (c.seq - first_seq) as u32;
                    c.batch = batch;
                }
            }
        }
        if self.store.len() > COMPACT_AFTER {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the store as one batch of the rows still kept.
    fn compact(&mut self) -> Result<()> {
        let mut picks = Vec::new();
        for top in self.windows.values_mut() {
            for c in &mut top.rows {
                picks.push((c.batch as usize, c.row as usize));
                c.batch = 0;
                c.row = (picks.len() - 1) as u32;
            }
        }
        let merged = self.gather(&picks)?;
        self.store = vec![merged];
        Ok(())
    }

    fn gather(&self, picks: &[(usize, usize)]) -> Result<RecordBatch> {
        let mut columns = Vec::with_capacity(self.ranked_schema.fields().len());
        for i in 0..self.ranked_schema.fields().len() {
            let arrays: Vec<&dyn Array> = self.store.iter().map(|b| b.column(i).as_ref()).collect();
            columns.push(if arrays.is_empty() {
                arrow::array::new_empty_array(self.ranked_schema.field(i).data_type())
            } else {
                interleave(&arrays, picks)?
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(picks.len()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.ranked_schema),
            columns,
            &options,
        )?)
    }

    /// The ordering values, negated for ascending order so that larger is always better.
    fn order_keys(&self, rows: &RecordBatch) -> Result<Vec<f64>> {
        let column = rows
            .column_by_name(&self.plan.order_by)
            .ok_or_else(|| Error::plan(format!("no column {}", self.plan.order_by)))?;
        let values = cast(column, &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        let sign = if self.plan.descending { 1.0 } else { -1.0 };
        Ok((0..values.len())
            .map(|i| {
                if values.is_null(i) {
                    f64::NAN
                } else {
                    sign * values.value(i)
                }
            })
            .collect())
    }

    /// Moves the watermark and returns the ranked rows of every window it closed, in window
    /// order, best first within a window.
    ///
    /// # Errors
    /// Evaluation errors of the inner view's output.
    pub fn advance_watermark(&mut self, watermark: i64) -> Result<RecordBatch> {
        if watermark <= self.watermark {
            return Ok(RecordBatch::new_empty(Arc::clone(&self.output_schema)));
        }
        self.watermark = watermark;
        if self.aggregated {
            let closed = self.inner.advance_watermark(watermark);
            if !closed.is_empty() {
                let groups = self.inner.output(&closed)?;
                self.rank_groups(&groups)?;
            }
            // Every window ranked here is complete.
            return self.emit(i64::MAX);
        }
        self.emit(watermark)
    }

    /// Ranks the closed groups of an aggregation, window by window.
    fn rank_groups(&mut self, groups: &RecordBatch) -> Result<()> {
        let starts = as_i64(
            groups
                .column_by_name(WINDOW_START)
                .ok_or_else(|| Error::plan("the ranked aggregation has no window_start"))?,
        )?;
        let ends = as_i64(
            groups
                .column_by_name(WINDOW_END)
                .ok_or_else(|| Error::plan("the ranked aggregation has no window_end"))?,
        )?;
        let keys = self.order_keys(groups)?;
        let batch = self.store.len() as u32;
        let (limit, kind) = (self.plan.limit, self.plan.kind);
        for (i, &key) in keys.iter().enumerate() {
            if key.is_nan() {
                continue;
            }
            let top = self
                .windows
                .entry(starts.value(i))
                .or_insert_with(|| WindowTop {
                    end: ends.value(i),
                    rows: Vec::new(),
                });
            if top.admits(key, limit, kind) {
                top.insert(
                    Candidate {
                        key,
                        seq: self.seq,
                        batch,
                        row: i as u32,
                    },
                    limit,
                    kind,
                );
                self.seq += 1;
            }
        }
        self.store.push(groups.clone());
        Ok(())
    }

    /// Emits (and forgets) the windows ending at or before `limit`.
    fn emit(&mut self, limit: i64) -> Result<RecordBatch> {
        let done: Vec<i64> = self
            .windows
            .iter()
            .filter(|(_, w)| w.end <= limit)
            .map(|(&s, _)| s)
            .collect();
        let mut picks = Vec::new();
        let mut ranks = Vec::new();
        for start in done {
            let Some(top) = self.windows.remove(&start) else {
                continue;
            };
            let mut rank = 0;
            let mut prev = f64::NAN;
            for (n, c) in top.rows.iter().enumerate() {
                rank = match self.plan.kind {
                    RankKind::RowNumber => n as i64 + 1,
                    RankKind::Rank if c.key == prev => rank,
                    RankKind::Rank => n as i64 + 1,
                };
                prev = c.key;
                picks.push((c.batch as usize, c.row as usize));
                ranks.push(rank);
            }
        }
        let ranked = self.gather(&picks)?;
        if self.windows.is_empty() {
            self.store.clear();
        }
        let rank_array: ArrayRef = Arc::new(Int64Array::from(ranks));
        let mut columns = Vec::new();
        for name in &self.plan.output {
            if name == "*" {
                columns.extend(ranked.columns().iter().cloned());
            } else if *name == self.plan.rank_column {
                columns.push(Arc::clone(&rank_array));
            } else {
                let i = self.ranked_schema.index_of(name)?;
                columns.push(Arc::clone(ranked.column(i)));
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(picks.len()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            columns,
            &options,
        )?)
    }
}

fn event_time_column(plan: &ViewPlan) -> String {
    plan.source
        .timestamp_column
        .clone()
        .unwrap_or_else(|| crate::operator::ROWTIME.to_owned())
}

fn names(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn as_i64(array: &ArrayRef) -> Result<Int64Array> {
    let values = cast(array, &DataType::Int64)?;
    Ok(values.as_primitive::<Int64Type>().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Statement;
    use crate::sql::{self, Catalog};
    use std::collections::HashMap;

    fn cand(key: f64, seq: u64) -> Candidate {
        Candidate {
            key,
            seq,
            batch: 0,
            row: seq as u32,
        }
    }

    fn kept(kind: RankKind, limit: usize, keys: &[f64]) -> Vec<u64> {
        let mut top = WindowTop::default();
        for (i, &k) in keys.iter().enumerate() {
            if top.admits(k, limit, kind) {
                top.insert(cand(k, i as u64), limit, kind);
            }
        }
        top.rows.iter().map(|c| c.seq).collect()
    }

    #[test]
    fn rank_keeps_ties_row_number_keeps_n() {
        let keys = [5.0, 9.0, 9.0, 1.0, 7.0, 9.0];
        assert_eq!(kept(RankKind::Rank, 1, &keys), vec![1, 2, 5]);
        assert_eq!(kept(RankKind::RowNumber, 1, &keys), vec![1]);
        assert_eq!(kept(RankKind::RowNumber, 2, &keys), vec![1, 2]);
        // Ranks 1, 1, 1 then 4: the 7 ranks fourth, outside the top 3.
        assert_eq!(kept(RankKind::Rank, 3, &keys), vec![1, 2, 5]);
        assert_eq!(kept(RankKind::Rank, 4, &keys), vec![1, 2, 5, 4]);
    }

    fn catalog() -> HashMap<String, crate::plan::SourceDef> {
        let text = "CREATE STREAM bid (auction BIGINT, price BIGINT, datetime TIMESTAMP) \
                    WITH (kafka_topic='bid', value_format='JSON', timestamp='datetime')";
        match sql::parse(text, &sql::EmptyCatalog).expect("schema").pop() {
            Some(Statement::CreateSource { source, .. }) => {
                HashMap::from([(source.name.clone(), source)])
            }
            other => panic!("{other:?}"),
        }
    }

    const ROWS: &str = "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price ASC) AS rn \
         FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND))) WHERE rn <= 2";

    #[test]
    fn rows_of_each_window_are_ranked_and_emitted_when_it_closes() {
        let catalog = catalog();
        assert!(catalog.source("bid").is_some());
        assert!(sql::is_window_topn(ROWS));
        let plan = sql::parse_window_topn(ROWS, &catalog).expect("plan");
        assert_eq!(plan.kind, RankKind::RowNumber);
        assert!(!plan.descending);
        let schema = crate::decode::source_schema(&plan.inner.source);
        let mut op = TopNOperator::new(plan, Arc::clone(&schema), Lateness::Enforce).expect("op");
        let n = 6;
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
                Arc::new(Int64Array::from(vec![30, 10, 20, 5, 50, 40])),
                Arc::new(TimestampMillisecondArray::from(vec![
                    0, 1, 2, 3, 10_000, 10_001,
                ])),
                Arc::new(TimestampMillisecondArray::from(vec![
                    0, 1, 2, 3, 10_000, 10_001,
                ])),
                Arc::new(Int64Array::from(vec![0; n])),
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
                Arc::new(arrow::array::StringArray::new_null(n)),
            ],
        )
        .expect("batch");
        assert_eq!(op.process(&batch).expect("process"), 0);
        let out = op.advance_watermark(10_000).expect("emit");
        // The first window's two cheapest bids, cheapest first; the second is still open.
        let auctions = out
            .column_by_name("auction")
            .expect("auction")
            .as_primitive::<Int64Type>();
        assert_eq!(auctions.values().to_vec(), vec![4, 2]);
        let rn = out
            .column_by_name("rn")
            .map(|c| c.as_primitive::<Int64Type>().values().to_vec());
        assert_eq!(
            rn, None,
            "the rank is not in the output unless selected by name"
        );
        let out = op.advance_watermark(i64::MAX).expect("emit");
        let auctions = out
            .column_by_name("auction")
            .expect("auction")
            .as_primitive::<Int64Type>();
        assert_eq!(auctions.values().to_vec(), vec![6, 5]);
    }

    #[test]
    fn shapes_that_are_not_a_window_top_n_are_explained() {
        let catalog = catalog();
        let err = |sql: &str| {
            sql::parse_window_topn(sql, &catalog)
                .expect_err(sql)
                .to_string()
        };
        let e = err(&ROWS.replace(
            "PARTITION BY window_start, window_end",
            "PARTITION BY auction",
        ));
        assert!(e.contains("PARTITION BY window_start, window_end"), "{e}");
        let e = err(&ROWS.replace("ROW_NUMBER()", "DENSE_RANK()"));
        assert!(e.contains("use RANK() or ROW_NUMBER()"), "{e}");
        let e = err(&ROWS.replace("rn <= 2", "rn >= 2"));
        assert!(e.contains("rownum <= N"), "{e}");
        // An unknown ranking column is found when the operator is compiled.
        let plan =
            sql::parse_window_topn(&ROWS.replace("ORDER BY price", "ORDER BY nope"), &catalog)
                .expect("parses");
        let schema = crate::decode::source_schema(&plan.inner.source);
        let e = TopNOperator::new(plan, schema, Lateness::Enforce).expect_err("no column nope");
        assert!(e.to_string().contains("cannot rank by nope"), "{e}");
    }
}
