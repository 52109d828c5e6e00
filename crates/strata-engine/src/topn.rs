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
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, RecordBatchOptions,
    TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::{cast, concat_batches, filter_record_batch, interleave, take};
use arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimestampMillisecondType,
};
use arrow_row::{RowConverter, SortField};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::operator::{
    DEFAULT_RETENTION_MS, GroupState, LateRow, Lateness, ViewOperator, WINDOW_END, WINDOW_START,
    timestamp,
};
pub use crate::plan::RankKind;
pub use crate::plan::TopNPlan;
use crate::plan::{EmitMode, ViewPlan, WindowSpec};
use crate::window;

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

/// The state of a [`TopNOperator`] beside its inner view's [`GroupState`], as checkpointed:
/// the kept rows of open windows and the ranked rows of closed windows still retained.
/// Rows are arrow-row bytes of the ranked (open) and output (closed) schemas.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TopNState {
    open: Vec<OpenWindow>,
    seq: u64,
    watermark: i64,
    closed: Vec<ClosedWindow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenWindow {
    start: i64,
    end: i64,
    /// (ordering value, arrival number, row bytes), best first.
    rows: Vec<(f64, u64, Vec<u8>)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClosedWindow {
    start: i64,
    end: i64,
    rows: Vec<Vec<u8>>,
}

/// Runs a [`TopNPlan`] over input batches of the inner view's source.
pub struct TopNOperator {
    plan: TopNPlan,
    inner: ViewOperator,
    /// Whether the inner view aggregates (ranks its closed groups) or passes rows through.
    aggregated: bool,
    lateness: Lateness,
    /// The ranked rows' schema: the inner view's output (+ window bounds for rows).
    ranked_schema: SchemaRef,
    pub(crate) output_schema: SchemaRef,
    windows: BTreeMap<i64, WindowTop>,
    store: Vec<RecordBatch>,
    seq: u64,
    pub(crate) watermark: i64,
    /// Ranked rows of closed windows by window start: (end, rows), kept for `retention_ms`
    /// after the window's end (what [`TopNOperator::snapshot`] answers).
    closed: BTreeMap<i64, (i64, RecordBatch)>,
    retention_ms: i64,
}

impl std::fmt::Debug for TopNOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopNOperator")
            .field("open_windows", &self.windows.len())
            .field("closed_windows", &self.closed.len())
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
        let mut inner = ViewOperator::new(plan.inner.clone(), input_schema, lateness)?;
        // Closed groups are ranked once and retained here, as ranked rows, not there.
        inner.set_retention_ms(0);
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
        let rank = &plan.rank;
        let order = ranked_schema.field_with_name(&rank.order_by).map_err(|_| {
            Error::plan(format!(
                "cannot rank by {}: not a column of the ranked rows ({})",
                rank.order_by,
                names(&ranked_schema)
            ))
        })?;
        if !order.data_type().is_numeric() && !matches!(order.data_type(), DataType::Timestamp(..))
        {
            return Err(Error::plan(format!(
                "cannot rank by {}: it is {}, not a number or timestamp",
                rank.order_by,
                order.data_type()
            )));
        }
        if rank.limit == 0 {
            return Err(Error::plan("a window Top-N keeps at least rank 1"));
        }
        let mut out_fields = Vec::new();
        for name in &rank.output {
            if name == "*" {
                out_fields.extend(ranked_schema.fields().iter().map(|f| f.as_ref().clone()));
            } else if *name == rank.rank_column {
                out_fields.push(Field::new(name, DataType::Int64, false));
            } else {
                let f = ranked_schema.field_with_name(name).map_err(|_| {
                    Error::plan(format!(
                        "unknown column {name}; available: {}, {}",
                        names(&ranked_schema),
                        rank.rank_column
                    ))
                })?;
                out_fields.push(f.clone());
            }
        }
        let output_schema = Arc::new(Schema::new(out_fields));
        // Row formats of both schemas must exist for checkpoints; fail here, not mid-run.
        row_converter(&ranked_schema)?;
        row_converter(&output_schema)?;
        Ok(TopNOperator {
            plan,
            inner,
            aggregated,
            lateness,
            ranked_schema,
            output_schema,
            windows: BTreeMap::new(),
            store: Vec::new(),
            seq: 0,
            watermark: i64::MIN,
            closed: BTreeMap::new(),
            retention_ms: DEFAULT_RETENTION_MS,
        })
    }

    /// The plan.
    pub fn plan(&self) -> &TopNPlan {
        &self.plan
    }

    /// The output schema.
    pub fn output_schema(&self) -> &SchemaRef {
        &self.output_schema
    }

    /// The current watermark.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Keeps the ranked rows of closed windows queryable ([`TopNOperator::snapshot`]) for
    /// `ms` after the window's end (by event time); 0 keeps none.
    pub fn set_retention_ms(&mut self, ms: i64) {
        self.retention_ms = ms;
    }

    /// Processes one input batch; returns how many rows were too late (their windows had
    /// closed).
    ///
    /// # Errors
    /// Evaluation errors of the inner view.
    pub fn process(&mut self, batch: &RecordBatch) -> Result<usize> {
        self.process_with_late(batch).map(|late| late.len())
    }

    /// As [`TopNOperator::process`], returning the rows of `batch` that were too late and
    /// why (what a driver sets aside in the view's late topic).
    ///
    /// # Errors
    /// As [`TopNOperator::process`].
    pub fn process_with_late(&mut self, batch: &RecordBatch) -> Result<Vec<LateRow>> {
        if self.aggregated {
            return Ok(self.inner.process(batch)?.late);
        }
        let time = event_time_column(&self.plan.inner);
        let times_in = batch.column_by_name(&time).ok_or_else(|| {
            Error::plan(format!("no event-time column {time} in the input batch"))
        })?;
        // A row is late when every window it belongs to has closed; a hopping row still
        // counts in the windows of it that are open. The last window of `ts` starts at
        // align_down(ts, step) and is open while its end is above the watermark, which holds
        // exactly for ts >= align_down(watermark - size, step) + step: one comparison a row.
        let spec = self.plan.rank.window;
        let watermark = self.watermark;
        let enforce = self.lateness == Lateness::Enforce;
        let cutoff = if enforce {
            late_before(&spec, watermark)
        } else {
            i64::MIN
        };
        let mut late = Vec::new();
        // In-order input (the usual case) has nothing late: one min over the column says so.
        let maybe_late = times_in.null_count() > 0
            || (cutoff != i64::MIN && min_time(times_in)?.is_some_and(|m| m < cutoff));
        if maybe_late {
            let input_times = as_i64(times_in)?;
            for i in 0..input_times.len() {
                if input_times.is_null(i) {
                    late.push(LateRow {
                        row: i,
                        reason: format!("event time column {time:?} is NULL"),
                    });
                } else if input_times.value(i) < cutoff {
                    let ts = input_times.value(i);
                    late.push(LateRow {
                        row: i,
                        reason: format!(
                            "event time {ts} is too late: its windows closed (watermark {watermark})"
                        ),
                    });
                }
            }
        }
        let on_time;
        let input = if late.is_empty() {
            batch
        } else {
            let mut keep = vec![true; batch.num_rows()];
            for l in &late {
                keep[l.row] = false;
            }
            on_time = filter_record_batch(batch, &BooleanArray::from(keep))?;
            &on_time
        };
        let processed = self.inner.process(input)?;
        let Some(rows) = processed.passthrough else {
            return Ok(late);
        };
        let times = as_i64(rows.column_by_name(&time).ok_or_else(|| {
            Error::plan(format!("no event-time column {time} in the ranked rows"))
        })?)?;
        let keys = self.order_keys(&rows)?;
        // (row, window start, window end) of the rows kept.
        let mut kept: Vec<(u32, i64, i64)> = Vec::new();
        let (limit, kind) = (self.plan.rank.limit, self.plan.rank.kind);
        for (i, &key) in keys.iter().enumerate() {
            if times.is_null(i) || key.is_nan() {
                continue;
            }
            let ts = times.value(i);
            window::assign(&spec, ts, |start, end| {
                if enforce && end <= watermark {
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
            .column_by_name(&self.plan.rank.order_by)
            .ok_or_else(|| Error::plan(format!("no column {}", self.plan.rank.order_by)))?;
        let values = cast(column, &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        let sign = if self.plan.rank.descending { 1.0 } else { -1.0 };
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
        let horizon = watermark.saturating_sub(self.retention_ms);
        self.closed.retain(|_, (end, _)| *end > horizon);
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
        let (limit, kind) = (self.plan.rank.limit, self.plan.rank.kind);
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

    /// Emits the windows ending at or before `limit` (they move from the open windows to
    /// the retained closed ones).
    fn emit(&mut self, limit: i64) -> Result<RecordBatch> {
        let done: Vec<i64> = self
            .windows
            .iter()
            .filter(|(_, w)| w.end <= limit)
            .map(|(&s, _)| s)
            .collect();
        let mut picks = Vec::new();
        let mut ranks = Vec::new();
        // (start, end, first output row, rows) per window emitted.
        let mut spans = Vec::new();
        for start in done {
            let Some(top) = self.windows.remove(&start) else {
                continue;
            };
            spans.push((start, top.end, picks.len(), top.rows.len()));
            let mut rank = 0;
            let mut prev = f64::NAN;
            for (n, c) in top.rows.iter().enumerate() {
                rank = match self.plan.rank.kind {
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
        let out = self.project(&ranked, ranks)?;
        let horizon = self.watermark.saturating_sub(self.retention_ms);
        for (start, end, first, len) in spans {
            if end > horizon && len > 0 {
                self.closed.insert(start, (end, out.slice(first, len)));
            }
        }
        Ok(out)
    }

    /// The output columns of ranked rows with their ranks.
    fn project(&self, ranked: &RecordBatch, ranks: Vec<i64>) -> Result<RecordBatch> {
        let rows = ranks.len();
        let rank_array: ArrayRef = Arc::new(Int64Array::from(ranks));
        let mut columns = Vec::new();
        for name in &self.plan.rank.output {
            if name == "*" {
                columns.extend(ranked.columns().iter().cloned());
            } else if *name == self.plan.rank.rank_column {
                columns.push(Arc::clone(&rank_array));
            } else {
                let i = self.ranked_schema.index_of(name)?;
                columns.push(Arc::clone(ranked.column(i)));
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            columns,
            &options,
        )?)
    }

    /// The ranked rows of the closed windows still retained, in window order, best first
    /// within a window: the view's current rows.
    ///
    /// # Errors
    /// Arrow errors concatenating them.
    pub fn snapshot(&self) -> Result<RecordBatch> {
        let batches: Vec<&RecordBatch> = self.closed.values().map(|(_, b)| b).collect();
        Ok(concat_batches(&self.output_schema, batches)?)
    }

    /// The inner view's state (the open groups of a ranked aggregation), checkpointed with
    /// [`TopNOperator::state`].
    pub fn inner_state(&self) -> &GroupState {
        self.inner.state()
    }

    /// The ranking's own state, to checkpoint beside [`TopNOperator::inner_state`].
    ///
    /// # Errors
    /// Arrow errors converting rows.
    pub fn state(&self) -> Result<TopNState> {
        let ranked = row_converter(&self.ranked_schema)?;
        let mut open = Vec::with_capacity(self.windows.len());
        for (&start, top) in &self.windows {
            let picks: Vec<(usize, usize)> = top
                .rows
                .iter()
                .map(|c| (c.batch as usize, c.row as usize))
                .collect();
            let rows = self.gather(&picks)?;
            let bytes = row_bytes(&ranked, &rows)?;
            open.push(OpenWindow {
                start,
                end: top.end,
                rows: top
                    .rows
                    .iter()
                    .zip(bytes)
                    .map(|(c, b)| (c.key, c.seq, b))
                    .collect(),
            });
        }
        let output = row_converter(&self.output_schema)?;
        let mut closed = Vec::with_capacity(self.closed.len());
        for (&start, (end, rows)) in &self.closed {
            closed.push(ClosedWindow {
                start,
                end: *end,
                rows: row_bytes(&output, rows)?,
            });
        }
        Ok(TopNState {
            open,
            seq: self.seq,
            watermark: self.watermark,
            closed,
        })
    }

    /// Restores checkpointed state (the plan must be the one that produced it).
    ///
    /// # Errors
    /// [`Error::Plan`] when the state does not fit the plan; arrow errors reading rows.
    pub fn restore(&mut self, inner: GroupState, state: TopNState) -> Result<()> {
        self.inner.restore(inner)?;
        let ranked = row_converter(&self.ranked_schema)?;
        let parser = ranked.parser();
        let mut windows = BTreeMap::new();
        let mut all = Vec::new();
        for w in &state.open {
            let mut rows = Vec::with_capacity(w.rows.len());
            for (key, seq, bytes) in &w.rows {
                rows.push(Candidate {
                    key: *key,
                    seq: *seq,
                    batch: 0,
                    row: all.len() as u32,
                });
                all.push(bytes.as_slice());
            }
            windows.insert(w.start, WindowTop { end: w.end, rows });
        }
        self.store.clear();
        if !all.is_empty() {
            let columns = ranked
                .convert_rows(all.iter().map(|b| parser.parse(b)))
                .map_err(|e| Error::plan(format!("checkpointed Top-N rows do not fit: {e}")))?;
            self.store.push(RecordBatch::try_new(
                Arc::clone(&self.ranked_schema),
                columns,
            )?);
        }
        self.windows = windows;
        let output = row_converter(&self.output_schema)?;
        let parser = output.parser();
        self.closed.clear();
        for w in &state.closed {
            let columns = output
                .convert_rows(w.rows.iter().map(|b| parser.parse(b)))
                .map_err(|e| Error::plan(format!("checkpointed Top-N rows do not fit: {e}")))?;
            let options = RecordBatchOptions::new().with_row_count(Some(w.rows.len()));
            let rows = RecordBatch::try_new_with_options(
                Arc::clone(&self.output_schema),
                columns,
                &options,
            )?;
            self.closed.insert(w.start, (w.end, rows));
        }
        self.seq = state.seq;
        self.watermark = state.watermark;
        Ok(())
    }
}

fn row_converter(schema: &Schema) -> Result<RowConverter> {
    Ok(RowConverter::new(
        schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect(),
    )?)
}

fn row_bytes(converter: &RowConverter, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    let rows = converter.convert_columns(batch.columns())?;
    Ok(rows.iter().map(|r| r.as_ref().to_vec()).collect())
}

/// The event time below which a row is late at `watermark`: every window of it has ended
/// (`i64::MIN` before any watermark, and for sessions, which rows are not ranked over).
fn late_before(spec: &WindowSpec, watermark: i64) -> i64 {
    match (*spec, window::step(spec)) {
        (WindowSpec::Tumbling { size_ms } | WindowSpec::Hopping { size_ms, .. }, Some(step))
            if watermark != i64::MIN =>
        {
            window::align_down(watermark.saturating_sub(size_ms), step).saturating_add(step)
        }
        _ => i64::MIN,
    }
}

/// The smallest non-null value of a time column, as epoch milliseconds.
fn min_time(column: &ArrayRef) -> Result<Option<i64>> {
    if let Some(ts) = column.as_primitive_opt::<TimestampMillisecondType>() {
        return Ok(arrow::compute::min(ts));
    }
    Ok(arrow::compute::min(&as_i64(column)?))
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
        assert_eq!(plan.rank.kind, RankKind::RowNumber);
        assert!(!plan.rank.descending);
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

    fn bids(rows: &[(i64, i64, i64)]) -> RecordBatch {
        let catalog = catalog();
        let schema = crate::decode::source_schema(&catalog["bid"]);
        let n = rows.len();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.2),
                )),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.2),
                )),
                Arc::new(Int64Array::from(vec![0; n])),
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
                Arc::new(arrow::array::StringArray::new_null(n)),
            ],
        )
        .expect("batch")
    }

    fn auctions(batch: &RecordBatch) -> Vec<i64> {
        batch
            .column_by_name("auction")
            .expect("auction")
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()
    }

    const HOP: &str = "SELECT auction, price, window_start, rn FROM (SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn \
         FROM TABLE(HOP(TABLE bid, DESCRIPTOR(datetime), INTERVAL '5' SECOND, INTERVAL '10' SECOND))) WHERE rn <= 1";

    fn hop_operator() -> TopNOperator {
        let catalog = catalog();
        let plan = sql::parse_window_topn(HOP, &catalog).expect("plan");
        let schema = crate::decode::source_schema(&plan.inner.source);
        TopNOperator::new(plan, schema, Lateness::Enforce).expect("op")
    }

    #[test]
    fn a_row_is_late_only_when_all_its_hopping_windows_closed_and_state_round_trips() {
        let mut op = hop_operator();
        // Windows [0,10) and [5,15) hold 7 s; [5,15) and [10,20) hold 12 s.
        op.process(&bids(&[(1, 3, 7_000), (2, 9, 12_000)]))
            .expect("process");
        let out = op.advance_watermark(10_000).expect("close [0,10)");
        assert_eq!(auctions(&out), vec![1]);
        // 6 s is in [0,10) (closed) and [5,15) (open): not late, ranked in [5,15) only.
        // 2 s is only in closed windows: late.
        let late = op
            .process_with_late(&bids(&[(3, 20, 6_000), (4, 50, 2_000)]))
            .expect("process");
        assert_eq!(late.iter().map(|l| l.row).collect::<Vec<_>>(), vec![1]);
        assert!(late[0].reason.contains("too late"), "{:?}", late[0]);

        // Checkpoint here, restore into a fresh operator: both go on alike.
        let inner = op.inner_state().clone();
        let state = op.state().expect("state");
        let bytes = crate::codec::encode(&state).expect("encode");
        let mut restored = hop_operator();
        restored
            .restore(inner, crate::codec::decode(&bytes).expect("decode"))
            .expect("restore");
        assert_eq!(
            restored.snapshot().expect("snapshot"),
            op.snapshot().expect("snapshot")
        );
        for o in [&mut op, &mut restored] {
            o.process(&bids(&[(5, 10, 14_000)])).expect("process");
        }
        let a = op.advance_watermark(25_000).expect("close");
        let b = restored.advance_watermark(25_000).expect("close");
        assert_eq!(a, b);
        // [5,15): auction 3 (20); [10,20): auction 5 (10) beats 2 (9).
        assert_eq!(auctions(&a), vec![3, 5]);
        assert_eq!(auctions(&op.snapshot().expect("rows")), vec![1, 3, 5]);
    }

    #[test]
    fn closed_windows_are_kept_for_the_retention_then_dropped() {
        let mut op = hop_operator();
        op.set_retention_ms(12_000);
        op.process(&bids(&[(1, 3, 1_000), (2, 4, 21_000)]))
            .expect("process");
        op.advance_watermark(15_000).expect("close");
        // [-5,5) and [0,10) closed, one row each.
        assert_eq!(auctions(&op.snapshot().expect("rows")), vec![1, 1]);
        op.advance_watermark(17_000).expect("advance");
        // [-5,5) ended 12 s before the watermark: at the end of its retention.
        assert_eq!(auctions(&op.snapshot().expect("rows")), vec![1]);
        op.advance_watermark(30_000).expect("advance");
        assert_eq!(auctions(&op.snapshot().expect("rows")), vec![2, 2]);
    }

    proptest::proptest! {
        #[test]
        fn late_before_agrees_with_the_windows_of_a_row(
            size in 1i64..50,
            steps in 1i64..6,
            hop in proptest::bool::ANY,
            ts in -200i64..200,
            watermark in -200i64..200,
        ) {
            let spec = if hop {
                WindowSpec::Hopping { size_ms: size * steps, advance_ms: size }
            } else {
                WindowSpec::Tumbling { size_ms: size }
            };
            let mut all_closed = true;
            window::assign(&spec, ts, |_, end| all_closed &= end <= watermark);
            proptest::prop_assert_eq!(ts < late_before(&spec, watermark), all_closed);
        }
    }
}
