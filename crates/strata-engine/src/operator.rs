//! The view operator: filter → window assignment → keyed aggregation → emit, over Arrow
//! batches. Both drivers run it; only the watermark they feed it differs.
//!
//! Groups (one per key × window) get dense ids; their keys are stored as arrow-row bytes and
//! their aggregates in column-wise [`Accumulator`]s. Open windows are indexed by end, so the
//! watermark closes them in order; closed windows stay queryable until `retention_ms` past
//! their end, then their ids are recycled.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, TimestampMillisecondArray, UInt32Array,
};
use arrow::compute::{cast, filter_record_batch, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow_row::{RowConverter, SortField};
use serde::{Deserialize, Serialize};

use crate::aggregate::{Accumulator, Position};
use crate::error::{Error, Result};
use crate::expr;
use crate::groups::GroupTable;
use crate::keys::BatchKeys;
use crate::plan::{AggregateFunction, EmitMode, SourceKind, ViewPlan, WindowSpec};
use crate::unnest::{self, UnnestStage};
use crate::upsert::{KEY_COLUMN, TableInputState, Upsert};
use crate::window;

pub use crate::rows::{LateRow, ROWTIME, WINDOW_END, WINDOW_START};

/// Whether late records are cut (streaming) or every record counts (bounded runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lateness {
    /// Records whose windows closed more than the grace period ago are late.
    Enforce,
    /// No record is late: the bounded driver sees all of history at once.
    Ignore,
}

/// How long closed windows stay queryable by default (ksqlDB's window retention default).
pub const DEFAULT_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// What one input batch did.
#[derive(Debug, Default)]
pub struct Processed {
    /// Groups whose values changed, in first-touch order (only under EMIT CHANGES).
    pub changed: Vec<u32>,
    /// Rows that were too late.
    pub late: Vec<LateRow>,
    /// Output rows of a stateless view (filter/projection only).
    pub passthrough: Option<RecordBatch>,
    /// Groups that disappeared (a view reading a table: their last row was deleted, replaced
    /// by a row of another group, or stopped matching WHERE): their identity, as the keys of
    /// [`ViewOperator::output_with_keys`]. The changelog gets a tombstone for each.
    pub removed: Option<RecordBatch>,
}

/// Which groups [`ViewOperator::absorb`] takes from another operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFilter {
    /// Only groups of this key (arrow-row bytes, see [`ViewOperator::key_row_from_text`]).
    pub key: Option<Vec<u8>>,
    /// Only windows starting at or after this (ms); applied to tumbling and hopping windows.
    pub from: Option<i64>,
    /// Only windows starting before this (ms); applied to tumbling and hopping windows.
    pub to: Option<i64>,
}

impl GroupFilter {
    fn admits_start(&self, start: i64) -> bool {
        self.from.is_none_or(|f| start >= f) && self.to.is_none_or(|t| start < t)
    }
}

/// The operator's state, as checkpointed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupState {
    table: GroupTable,
    accumulators: Vec<Accumulator>,
    open_by_end: EndIndex,
    closed_by_end: EndIndex,
    watermark: i64,
}

/// A compiled view, ready to process batches.
pub struct ViewOperator {
    pub(crate) plan: ViewPlan,
    lateness: Lateness,
    retention_ms: i64,
    input_schema: SchemaRef,
    key_converter: RowConverter,
    key_fields: Vec<Field>,
    output_scope: SchemaRef,
    event_time: String,
    pub(crate) state: GroupState,
    dirty: Vec<bool>,
    /// Sessions merged away during the current batch: rows already assigned to them are
    /// redirected to the surviving session, and their ids are freed only after the batch's
    /// rows are folded in (freeing earlier would let a later row reuse the id).
    merged_away: Vec<(u32, u32)>,
    /// The upsert stage and its state, for a view that reads a table.
    table: Option<(Upsert, TableInputState)>,
    /// The table-function stage (`EXPLODE` / `UNNEST`), which runs before the filter.
    unnest: Option<UnnestStage>,
    /// Whether [`Operator::process`] emits the rows of changed groups (EMIT CHANGES).
    pub(crate) emit_updates: bool,
}

impl std::fmt::Debug for ViewOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewOperator")
            .field("view", &self.plan.name)
            .field("groups", &self.group_count())
            .field("watermark", &self.state.watermark)
            .finish()
    }
}

impl ViewOperator {
    /// Compiles `plan` against the schema of its input batches.
    ///
    /// # Errors
    /// [`Error::Plan`] for type errors (SUM of strings, unknown columns, EMIT FINAL on an
    /// unwindowed view).
    pub fn new(plan: ViewPlan, input_schema: SchemaRef, lateness: Lateness) -> Result<Self> {
        let event_time = plan
            .source
            .timestamp_column
            .clone()
            .unwrap_or_else(|| ROWTIME.to_owned());
        let unnest = match &plan.unnest {
            Some(u) if plan.source.kind == SourceKind::Table => {
                return Err(Error::plan(format!(
                    "EXPLODE / UNNEST of {} over table {}: explode the rows of a stream",
                    u.column, plan.source.name
                )));
            }
            Some(u) => Some(UnnestStage::new(&plan, u, &input_schema)?),
            None => None,
        };
        // What the filter, the keys and the aggregates read: the exploded rows, when exploded.
        let rows_schema = unnest
            .as_ref()
            .map_or_else(|| Arc::clone(&input_schema), |u| Arc::clone(u.schema()));
        if input_schema.index_of(&event_time).is_err() {
            return Err(Error::plan(format!(
                "the event-time column {event_time:?} is not a column of {}",
                plan.source.name
            )));
        }
        if plan.window.is_none()
            && plan.emit == crate::plan::EmitMode::Final
            && plan.is_aggregating()
        {
            return Err(Error::plan(
                "EMIT FINAL needs a window: without one a group never closes; use EMIT CHANGES",
            ));
        }
        if let Some(spec) = &plan.window {
            validate_window(spec)?;
        }
        let table = if plan.source.kind == SourceKind::Table {
            validate_table_plan(&plan)?;
            Some((
                Upsert::new(&input_schema, &plan.source)?,
                TableInputState::default(),
            ))
        } else {
            None
        };
        let mut key_fields = Vec::new();
        for (name, e) in &plan.group_by {
            key_fields.push(Field::new(name, expr::data_type(e, &rows_schema)?, true));
        }
        let key_converter = RowConverter::new(
            key_fields
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        let mut accumulators = Vec::new();
        let mut scope = key_fields.clone();
        if plan.window.is_some() {
            scope.push(Field::new(WINDOW_START, timestamp(), false));
            scope.push(Field::new(WINDOW_END, timestamp(), false));
        }
        for agg in &plan.aggregates {
            let input = agg
                .arg
                .as_ref()
                .map(|a| expr::data_type(a, &rows_schema))
                .transpose()?;
            let acc = Accumulator::new(agg.function, input.as_ref())?;
            scope.push(Field::new(&agg.name, acc.output_type(), true));
            accumulators.push(acc);
        }
        let output_scope = Arc::new(Schema::new(scope));
        if plan.is_aggregating() {
            for (_, e) in &plan.output {
                expr::data_type(e, &output_scope)?;
            }
            if let Some(h) = &plan.having {
                expr::data_type(h, &output_scope)?;
            }
        }
        Ok(ViewOperator {
            plan,
            lateness,
            retention_ms: DEFAULT_RETENTION_MS,
            input_schema,
            key_converter,
            key_fields,
            output_scope,
            event_time,
            state: GroupState {
                table: GroupTable::default(),
                accumulators,
                open_by_end: EndIndex::default(),
                closed_by_end: EndIndex::default(),
                watermark: i64::MIN,
            },
            dirty: Vec::new(),
            merged_away: Vec::new(),
            table,
            unnest,
            emit_updates: true,
        })
    }

    /// The view's plan.
    pub fn plan(&self) -> &ViewPlan {
        &self.plan
    }

    /// The schema batches must have.
    pub fn input_schema(&self) -> &SchemaRef {
        &self.input_schema
    }

    /// The current watermark.
    pub fn watermark(&self) -> i64 {
        self.state.watermark
    }

    /// Number of live groups (key × window).
    pub fn group_count(&self) -> usize {
        self.state.table.live_groups().count()
    }

    /// Keeps closed windows queryable for `ms` after their end.
    pub fn set_retention_ms(&mut self, ms: i64) {
        self.retention_ms = ms;
    }

    /// Whether [`Operator::process`] emits the rows of the groups a batch changed (EMIT
    /// CHANGES; on by default). A bounded run turns it off: its result is the state at the end.
    pub fn set_emit_updates(&mut self, on: bool) {
        self.emit_updates = on;
    }

    /// Processes one batch of input rows.
    ///
    /// # Errors
    /// Evaluation errors of the view's expressions.
    pub fn process(&mut self, batch: &RecordBatch) -> Result<Processed> {
        self.process_with_tombstones(batch, &[])
    }

    /// As [`ViewOperator::process`]; for a view that reads a table, `tombstones` are the rows
    /// of `batch` whose record had an empty value (they delete their key). A table's records
    /// first go through the upsert stage ([`crate::upsert`]), which turns them into signed
    /// changes: the key's previous row retracted, the new one added.
    ///
    /// # Errors
    /// As [`ViewOperator::process`].
    pub fn process_with_tombstones(
        &mut self,
        batch: &RecordBatch,
        tombstones: &[usize],
    ) -> Result<Processed> {
        if let Some(stage) = &self.unnest {
            let (exploded, parents) = stage.apply(batch)?;
            let mut processed = self.process_rows(&exploded, None)?;
            processed.late = unnest::input_rows(processed.late, &parents);
            return Ok(processed);
        }
        let Some((upsert, state)) = &mut self.table else {
            return self.process_rows(batch, None);
        };
        let changes = upsert.apply(state, batch, tombstones)?;
        let mut processed = self.process_rows(&changes.batch, Some(&changes.signs))?;
        processed
            .late
            .extend(
                changes.unkeyed.into_iter().map(|row| LateRow {
                    row,
                    reason:
                        "a table row needs a key: the record has no key and no primary-key value"
                            .into(),
                }),
            );
        Ok(processed)
    }

    fn process_rows(&mut self, batch: &RecordBatch, signs: Option<&[i8]>) -> Result<Processed> {
        let mut processed = Processed::default();
        // Row indexes into `batch` that pass the filter.
        let (filtered, kept) = match &self.plan.filter {
            Some(f) => {
                let mask = expr::evaluate_predicate(f, batch)?;
                let kept: Vec<usize> = (0..mask.len()).filter(|&i| mask.value(i)).collect();
                (filter_record_batch(batch, &mask)?, Some(kept))
            }
            None => (batch.clone(), None),
        };
        let original_row = |i: usize| kept.as_ref().map_or(i, |k| k[i]);
        // The sign of each filtered row (a table's change rows; the filter is deterministic on
        // values, so a retraction passes it exactly when the row it takes back did).
        let signs: Option<Vec<i8>> = signs.map(|s| match &kept {
            Some(k) => k.iter().map(|&i| s[i]).collect(),
            None => s.to_vec(),
        });
        if !self.plan.is_aggregating() {
            processed.passthrough = Some(self.project(&filtered)?);
            return Ok(processed);
        }
        if filtered.num_rows() == 0 {
            return Ok(processed);
        }
        let times = event_times(&filtered, &self.event_time)?;
        // Each row's cell on the window grid, in one tight loop (see `window::assign_in_cell`).
        let cells: Vec<i64> = match self.plan.window.as_ref().and_then(window::step) {
            Some(step) => times
                .values()
                .iter()
                .map(|&t| window::align_down(t, step))
                .collect(),
            None => Vec::new(),
        };
        let keys = self
            .plan
            .group_by
            .iter()
            .map(|(_, e)| expr::evaluate(e, &filtered))
            .collect::<Result<Vec<_>>>()?;
        // A view without GROUP BY has one group, of the empty key.
        let mut batch_keys = BatchKeys::new(&self.key_converter, &self.key_fields, &keys)?;

        // (input row, group) pairs to fold.
        let mut input_rows: Vec<u32> = Vec::with_capacity(filtered.num_rows());
        let mut groups: Vec<u32> = Vec::with_capacity(filtered.num_rows());
        let watermark = self.state.watermark;
        let grace = self.plan.grace_ms;
        let enforce = self.lateness == Lateness::Enforce;
        let mut assigned: Vec<(i64, i64)> = Vec::with_capacity(64);
        for i in 0..filtered.num_rows() {
            let ts = if times.is_valid(i) {
                times.value(i)
            } else if signs.is_some() {
                // A table's rows are not windowed: event time plays no part.
                0
            } else {
                processed.late.push(LateRow {
                    row: original_row(i),
                    reason: format!("event time column {:?} is NULL", self.event_time),
                });
                continue;
            };
            match self.plan.window {
                None => {
                    let k = batch_keys.key_id(i, &mut self.state.table);
                    let g = self.group_for_key(k, None);
                    input_rows.push(i as u32);
                    groups.push(g);
                }
                Some(WindowSpec::Session { gap_ms }) => {
                    if enforce && ts.saturating_add(gap_ms).saturating_add(grace) < watermark {
                        processed
                            .late
                            .push(late_row(original_row(i), ts, watermark, grace));
                        continue;
                    }
                    let k = batch_keys.key_id(i, &mut self.state.table);
                    let g = self.session_group(k, ts, gap_ms)?;
                    input_rows.push(i as u32);
                    groups.push(g);
                }
                Some(spec) => {
                    if enforce && window::last_end(&spec, ts).saturating_add(grace) <= watermark {
                        processed
                            .late
                            .push(late_row(original_row(i), ts, watermark, grace));
                        continue;
                    }
                    assigned.clear();
                    let cell = cells.get(i).copied().unwrap_or_default();
                    window::assign_in_cell(&spec, ts, cell, |s, e| assigned.push((s, e)));
                    let k = batch_keys.key_id(i, &mut self.state.table);
                    for &(start, end) in &assigned {
                        if enforce && end.saturating_add(grace) <= watermark {
                            continue; // this window closed; the row still counts in later ones
                        }
                        let g = match self.state.table.find_open(k, start) {
                            Some(g) => g,
                            None => self.open_group(k, (start, end)),
                        };
                        input_rows.push(i as u32);
                        groups.push(g);
                    }
                }
            }
        }
        if !self.merged_away.is_empty() {
            let redirect: HashMap<u32, u32> = self.merged_away.iter().copied().collect();
            for g in &mut groups {
                while let Some(&to) = redirect.get(g) {
                    *g = to;
                }
            }
        }
        if groups.is_empty() {
            self.free_merged_away();
            return Ok(processed);
        }
        self.fold(
            &filtered,
            &input_rows,
            &groups,
            signs.as_deref(),
            &mut processed,
        )?;
        Ok(processed)
    }

    /// Folds the rows `input_rows` of `filtered` into their `groups` (one pair per row and
    /// window; `signs`, per row of `filtered`, for a table's changes), then lists in
    /// `processed` the groups that disappeared and, under EMIT CHANGES, the groups changed.
    fn fold(
        &mut self,
        filtered: &RecordBatch,
        input_rows: &[u32],
        groups: &[u32],
        signs: Option<&[i8]>,
        processed: &mut Processed,
    ) -> Result<()> {
        let partitions = column_i64(filtered, "_partition");
        let offsets = column_i64(filtered, "_offset");
        let fold_signs: Option<Vec<i8>> =
            signs.map(|s| input_rows.iter().map(|&r| s[r as usize]).collect());
        let identity = input_rows.len() == filtered.num_rows()
            && input_rows.iter().enumerate().all(|(i, &r)| r as usize == i);
        let indices = (!identity).then(|| UInt32Array::from(input_rows.to_vec()));
        let position = |r: usize| -> Position {
            let row = input_rows[r] as usize;
            // ksqlDB's EARLIEST/LATEST_BY_OFFSET: log order within the key's partition.
            let part = partitions.as_ref().map_or(0, |p| p.value(row));
            let off = offsets.as_ref().map_or(row as u64, |o| o.value(row) as u64);
            (part, off)
        };
        for (agg, acc) in self
            .plan
            .aggregates
            .iter()
            .zip(self.state.accumulators.iter_mut())
        {
            acc.ensure_groups(self.state.table.capacity());
            let input = match &agg.arg {
                None => None,
                Some(arg) => {
                    let values = expr::evaluate(arg, filtered)?;
                    Some(match &indices {
                        Some(idx) => take(values.as_ref(), idx, None)?,
                        None => values,
                    })
                }
            };
            match &fold_signs {
                Some(signs) => acc.update_signed(groups, input.as_ref(), &position, signs)?,
                None => acc.update(groups, input.as_ref(), &position)?,
            }
        }
        self.free_merged_away();
        let mut emptied = Vec::new();
        if let (Some(signs), Some((_, state))) = (&fold_signs, &mut self.table) {
            for (&g, &s) in groups.iter().zip(signs) {
                state.add_to_group(g, s);
            }
            let mut seen = std::collections::HashSet::new();
            for &g in groups {
                if state.group_rows(g) <= 0 && seen.insert(g) {
                    emptied.push(g);
                }
            }
        }
        if !emptied.is_empty() {
            let scope = self.scope_batch(&emptied)?;
            processed.removed =
                Some(scope.project(&(0..self.key_fields.len()).collect::<Vec<_>>())?);
            for &g in &emptied {
                self.release(g);
                if let Some((_, state)) = &mut self.table {
                    state.release_group(g);
                }
            }
        }
        if self.plan.emit == crate::plan::EmitMode::Final {
            // Nobody asks which groups changed: rows are emitted when windows close.
            return Ok(());
        }
        self.dirty.resize(self.state.table.capacity(), false);
        for &g in &emptied {
            // Gone, not changed: [`Processed::removed`] names it.
            self.dirty[g as usize] = true;
        }
        for &g in groups {
            if !self.dirty[g as usize] {
                self.dirty[g as usize] = true;
                processed.changed.push(g);
            }
        }
        for &g in processed.changed.iter().chain(&emptied) {
            self.dirty[g as usize] = false;
        }
        Ok(())
    }

    /// Opens a group of key id `k` over `window`, indexed by its end when windowed.
    fn open_group(&mut self, k: u32, window: (i64, i64)) -> u32 {
        let (g, grew) = self.state.table.open_group(k, window);
        if grew {
            for acc in &mut self.state.accumulators {
                acc.ensure_groups(self.state.table.capacity());
            }
        }
        if self.plan.window.is_some() {
            self.state.open_by_end.insert(window.1, g);
        }
        g
    }

    /// The group of `key` (arrow-row bytes) in `window` (tumbling/hopping) or without one.
    fn group_for(&mut self, key: &[u8], window: Option<(i64, i64)>) -> u32 {
        let k = self.state.table.key_id(key);
        self.group_for_key(k, window)
    }

    /// The group of key id `k` in `window` (tumbling/hopping) or without one.
    fn group_for_key(&mut self, k: u32, window: Option<(i64, i64)>) -> u32 {
        let window = window.unwrap_or((i64::MIN, i64::MAX));
        match self.state.table.find_open(k, window.0) {
            Some(g) => g,
            None => self.open_group(k, window),
        }
    }

    /// The session of key id `k` that `ts` falls into, merging sessions that `ts` bridges.
    fn session_group(&mut self, k: u32, ts: i64, gap: i64) -> Result<u32> {
        let own_end = ts.saturating_add(gap);
        // Sessions are [first event, last event + gap]; an event's own is [ts, ts + gap].
        // Like Flink, windows that touch merge.
        let mut hits: Vec<u32> = Vec::new();
        for w in self.state.table.open_groups(k) {
            if ts <= w.end && own_end >= w.start {
                hits.push(w.group);
            }
        }
        hits.sort_unstable();
        let Some((&target, rest)) = hits.split_first() else {
            return Ok(self.open_group(k, (ts, own_end)));
        };
        let (mut start, mut end) = self.state.table.window(target);
        start = start.min(ts);
        end = end.max(own_end);
        for &other in rest {
            let (s, e) = self.state.table.window(other);
            start = start.min(s);
            end = end.max(e);
            for acc in &mut self.state.accumulators {
                acc.merge_groups(target, other)?;
            }
            // Its entry in the end index goes stale; closing skips stale entries.
            self.state.table.detach(other);
            self.merged_away.push((other, target));
        }
        let (old_start, old_end) = self.state.table.window(target);
        if old_end != end {
            // The old entry goes stale rather than being searched for and removed.
            self.state.open_by_end.insert(end, target);
        }
        if (old_start, old_end) != (start, end) {
            self.state.table.set_window(target, (start, end));
        }
        Ok(target)
    }

    fn free_merged_away(&mut self) {
        for (g, _) in std::mem::take(&mut self.merged_away) {
            self.release(g);
        }
    }

    /// Frees a group id (merged-away session, expired window). The caller has already taken
    /// it out of the end indexes.
    fn release(&mut self, g: u32) {
        self.state.table.release(g);
        for acc in &mut self.state.accumulators {
            acc.reset(g);
        }
    }

    /// Moves the watermark to `watermark` (never backwards) and closes every window whose end
    /// plus the grace period it has passed; returns the closed groups (for EMIT FINAL) in
    /// window-end order. Windows past their retention are dropped.
    pub fn advance_watermark(&mut self, watermark: i64) -> Vec<u32> {
        if watermark <= self.state.watermark {
            return Vec::new();
        }
        self.state.watermark = watermark;
        // Expire windows closed by earlier calls first, so a window closed now is always
        // emitted before it can be dropped.
        let horizon = watermark.saturating_sub(self.retention_ms);
        for (_, g) in self.state.closed_by_end.pop_below(horizon) {
            self.release(g);
        }
        let grace = self.plan.grace_ms;
        // Session windows include their end (touching sessions merge), so they close only
        // once the watermark is past it.
        let sessions = matches!(self.plan.window, Some(WindowSpec::Session { .. }));
        let limit = if sessions {
            watermark
        } else {
            watermark.saturating_add(1)
        };
        let mut closed = Vec::new();
        for (end, g) in self
            .state
            .open_by_end
            .pop_below(limit.saturating_sub(grace))
        {
            // Sessions leave stale entries behind when they grow or merge away.
            if !self.state.table.is_open(g) || self.state.table.window(g).1 != end {
                continue;
            }
            closed.push(g);
        }
        for &g in &closed {
            self.state.table.close(g);
            self.state
                .closed_by_end
                .insert(self.state.table.window(g).1, g);
        }
        closed
    }

    /// The output rows of `groups` (HAVING applied, output projection evaluated).
    ///
    /// # Errors
    /// Evaluation errors of the output expressions.
    pub fn output(&self, groups: &[u32]) -> Result<RecordBatch> {
        let scope = self.scope_batch(groups)?;
        let scope = match &self.plan.having {
            Some(h) => filter_record_batch(&scope, &expr::evaluate_predicate(h, &scope)?)?,
            None => scope,
        };
        self.project(&scope)
    }

    /// Like [`ViewOperator::output`], plus each row's identity: the group key columns and, for
    /// windowed views, `window_start` (what a changelog record is keyed by).
    ///
    /// # Errors
    /// As [`ViewOperator::output`].
    pub fn output_with_keys(&self, groups: &[u32]) -> Result<(RecordBatch, RecordBatch)> {
        let scope = self.scope_batch(groups)?;
        let scope = match &self.plan.having {
            Some(h) => filter_record_batch(&scope, &expr::evaluate_predicate(h, &scope)?)?,
            None => scope,
        };
        let key_columns = self.key_fields.len() + usize::from(self.plan.window.is_some());
        let keys = scope.project(&(0..key_columns).collect::<Vec<_>>())?;
        Ok((keys, self.project(&scope)?))
    }

    /// As [`ViewOperator::output_with_keys`], plus the identity of the groups HAVING hides
    /// (for a view reading a table, whose changelog gets a tombstone for a row HAVING turns
    /// away, as a ksqlDB table's does).
    ///
    /// # Errors
    /// As [`ViewOperator::output`].
    pub fn output_with_keys_and_hidden(
        &self,
        groups: &[u32],
    ) -> Result<(RecordBatch, RecordBatch, RecordBatch)> {
        let scope = self.scope_batch(groups)?;
        let key_columns: Vec<usize> =
            (0..self.key_fields.len() + usize::from(self.plan.window.is_some())).collect();
        let (shown, hidden) = match &self.plan.having {
            Some(h) => {
                let mask = expr::evaluate_predicate(h, &scope)?;
                let hidden = arrow::compute::not(&mask)?;
                (
                    filter_record_batch(&scope, &mask)?,
                    filter_record_batch(&scope, &hidden)?,
                )
            }
            None => (scope.clone(), scope.slice(0, 0)),
        };
        Ok((
            shown.project(&key_columns)?,
            self.project(&shown)?,
            hidden.project(&key_columns)?,
        ))
    }

    /// Every live group's current row, ordered by window then key bytes.
    ///
    /// # Errors
    /// As [`ViewOperator::output`].
    pub fn snapshot(&self) -> Result<RecordBatch> {
        self.output(&self.live_sorted())
    }

    fn live_sorted(&self) -> Vec<u32> {
        let table = &self.state.table;
        let mut live: Vec<u32> = table.live_groups().collect();
        live.sort_by(|&a, &b| {
            (table.window(a), table.key_row(a)).cmp(&(table.window(b), table.key_row(b)))
        });
        live
    }

    /// Every live group's current row and its identity, as [`ViewOperator::output_with_keys`].
    ///
    /// # Errors
    /// As [`ViewOperator::output`].
    pub fn snapshot_with_keys(&self) -> Result<(RecordBatch, RecordBatch)> {
        self.output_with_keys(&self.live_sorted())
    }

    /// The output schema (names and types of the view's columns).
    ///
    /// # Errors
    /// Planning errors of the output expressions.
    pub fn output_schema(&self) -> Result<SchemaRef> {
        let scope = if self.plan.is_aggregating() {
            &self.output_scope
        } else {
            // A filter/projection view outputs its (exploded) input rows.
            self.unnest
                .as_ref()
                .map_or(&self.input_schema, |u| u.schema())
        };
        let fields = self
            .plan
            .output
            .iter()
            .map(|(name, e)| Ok(Field::new(name, expr::data_type(e, scope)?, true)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }

    fn scope_batch(&self, groups: &[u32]) -> Result<RecordBatch> {
        let parser = self.key_converter.parser();
        let rows = groups
            .iter()
            .map(|&g| parser.parse(self.state.table.key_row(g)));
        let mut columns: Vec<ArrayRef> = if self.key_fields.is_empty() {
            Vec::new()
        } else {
            self.key_converter.convert_rows(rows)?
        };
        if self.plan.window.is_some() {
            let starts = groups.iter().map(|&g| self.state.table.window(g).0);
            let ends = groups.iter().map(|&g| self.state.table.window(g).1);
            columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
                starts,
            )));
            columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(ends)));
        }
        for acc in &self.state.accumulators {
            columns.push(acc.evaluate(groups)?);
        }
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(groups.len()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.output_scope),
            columns,
            &options,
        )?)
    }

    fn project(&self, scope: &RecordBatch) -> Result<RecordBatch> {
        let schema = self.output_schema()?;
        let columns = self
            .plan
            .output
            .iter()
            .zip(schema.fields())
            .map(|((_, e), field)| {
                let array = expr::evaluate(e, scope)?;
                Ok(if array.data_type() == field.data_type() {
                    array
                } else {
                    cast(&array, field.data_type())?
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let options =
            arrow::array::RecordBatchOptions::new().with_row_count(Some(scope.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            schema, columns, &options,
        )?)
    }

    /// The arrow-row bytes of a group key given as text, one value per group key column
    /// (what [`GroupFilter::key`] takes); `None` when a value is not of its column's type (no
    /// group can have that key) or the number of values is not the number of key columns.
    ///
    /// # Errors
    /// Arrow errors converting the key.
    pub fn key_row_from_text(&self, values: &[String]) -> Result<Option<Vec<u8>>> {
        if values.len() != self.key_fields.len() {
            return Ok(None);
        }
        if values.is_empty() {
            // A view without GROUP BY: its one group has the empty key.
            return Ok(Some(Vec::new()));
        }
        let mut columns = Vec::with_capacity(values.len());
        for (field, text) in self.key_fields.iter().zip(values) {
            let text: ArrayRef = Arc::new(arrow::array::StringArray::from(vec![text.as_str()]));
            let options = arrow::compute::CastOptions {
                safe: true,
                ..Default::default()
            };
            let typed = arrow::compute::cast_with_options(&text, field.data_type(), &options)?;
            if typed.is_null(0) {
                return Ok(None);
            }
            columns.push(typed);
        }
        let rows = self.key_converter.convert_columns(&columns)?;
        Ok(Some(rows.row(0).as_ref().to_vec()))
    }

    /// Folds the groups of `other` that `filter` selects into this operator's groups: the
    /// same (key, window) adds up; session windows that overlap or touch merge into one, so
    /// sessions computed over disjoint parts of a stream combine into the sessions of the
    /// whole. This is how the serving layer adds a batch view and speed-layer partials.
    ///
    /// # Errors
    /// [`Error::Plan`] when `other` was compiled from another definition.
    pub fn absorb(&mut self, other: &ViewOperator, filter: &GroupFilter) -> Result<()> {
        if self.output_scope != other.output_scope || self.plan.window != other.plan.window {
            return Err(Error::plan(
                "cannot merge states of different view definitions",
            ));
        }
        let table = &other.state.table;
        // Only fixed windows are cut by start: a session's extent depends on what it merges
        // with, and an unwindowed view has no start.
        let by_start = matches!(
            self.plan.window,
            Some(WindowSpec::Tumbling { .. } | WindowSpec::Hopping { .. })
        );
        let candidates: Vec<u32> = match &filter.key {
            Some(key) => match table.find_key(key) {
                Some(k) => {
                    let open = table.open_groups(k);
                    if by_start && open.len() == table.groups_of_key(k).len() {
                        // Every group of the key is open (always so in a batch view's state):
                        // the open list is sorted by start, so a window range is a slice.
                        let lo = filter
                            .from
                            .map_or(0, |f| open.partition_point(|w| w.start < f));
                        let hi = filter
                            .to
                            .map_or(open.len(), |t| open.partition_point(|w| w.start < t));
                        open[lo..hi.max(lo)].iter().map(|w| w.group).collect()
                    } else {
                        table.groups_of_key(k).to_vec()
                    }
                }
                None => Vec::new(),
            },
            None => table.live_groups().collect(),
        };
        for src in candidates {
            let window = table.window(src);
            if by_start && !filter.admits_start(window.0) {
                continue;
            }
            let key = table.key_row(src);
            let dst = match self.plan.window {
                None => self.group_for(key, None),
                Some(WindowSpec::Session { .. }) => self.absorb_session(key, window)?,
                Some(_) => self.group_for(key, Some(window)),
            };
            for (acc, from) in self
                .state
                .accumulators
                .iter_mut()
                .zip(&other.state.accumulators)
            {
                acc.ensure_groups(self.state.table.capacity());
                acc.merge(dst, from, src)?;
            }
        }
        Ok(())
    }

    /// The session of `key` that a partial session over `window` joins: every session it
    /// overlaps or touches is merged into one spanning them all.
    fn absorb_session(&mut self, key: &[u8], (start, end): (i64, i64)) -> Result<u32> {
        let k = self.state.table.key_id(key);
        let mut hits: Vec<u32> = self
            .state
            .table
            .open_groups(k)
            .iter()
            .filter(|w| start <= w.end && end >= w.start)
            .map(|w| w.group)
            .collect();
        hits.sort_unstable();
        let Some((&target, rest)) = hits.split_first() else {
            return Ok(self.open_group(k, (start, end)));
        };
        let (mut lo, mut hi) = self.state.table.window(target);
        lo = lo.min(start);
        hi = hi.max(end);
        for &other in rest {
            let (s, e) = self.state.table.window(other);
            lo = lo.min(s);
            hi = hi.max(e);
            for acc in &mut self.state.accumulators {
                acc.merge_groups(target, other)?;
            }
            self.release(other);
        }
        if self.state.table.window(target) != (lo, hi) {
            self.state.table.set_window(target, (lo, hi));
        }
        Ok(target)
    }

    /// The state to checkpoint.
    pub fn state(&self) -> &GroupState {
        &self.state
    }

    /// The upsert state of a view that reads a table (checkpointed beside [`GroupState`]).
    pub fn table_state(&self) -> Option<&TableInputState> {
        self.table.as_ref().map(|(_, state)| state)
    }

    /// Restores the upsert state of a view that reads a table.
    ///
    /// # Errors
    /// [`Error::Plan`] when the view does not read a table.
    pub fn restore_table_state(&mut self, state: TableInputState) -> Result<()> {
        match &mut self.table {
            Some((_, current)) => {
                *current = state;
                Ok(())
            }
            None => Err(Error::plan(
                "checkpointed table state for a view that does not read a table",
            )),
        }
    }

    /// Restores checkpointed state (the plan must be the one that produced it).
    ///
    /// # Errors
    /// [`Error::Plan`] when the state does not fit the plan.
    pub fn restore(&mut self, state: GroupState) -> Result<()> {
        if state.accumulators.len() != self.plan.aggregates.len() {
            return Err(Error::plan(
                "checkpointed state does not match the view's aggregates",
            ));
        }
        self.dirty = vec![false; state.table.capacity()];
        self.state = state;
        self.state.table.rebuild_index();
        Ok(())
    }
}

fn validate_window(spec: &WindowSpec) -> Result<()> {
    let ok = match *spec {
        WindowSpec::Tumbling { size_ms } => size_ms > 0,
        WindowSpec::Hopping {
            size_ms,
            advance_ms,
        } => size_ms > 0 && advance_ms > 0 && advance_ms <= size_ms && size_ms / advance_ms <= 64,
        WindowSpec::Session { gap_ms } => gap_ms > 0,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::plan(format!(
            "invalid window {spec:?}: sizes and gaps must be positive, a hop's advance at most its size, and at most 64 windows per record"
        )))
    }
}

/// What a view over a table can compute: running aggregates that retract (ksqlDB's rules).
fn validate_table_plan(plan: &ViewPlan) -> Result<()> {
    let table = &plan.source.name;
    if plan.window.is_some() {
        return Err(Error::plan(format!(
            "a window over table {table}: a table's rows are current values, not events in time; window the stream instead"
        )));
    }
    if plan.join.is_some() {
        return Err(Error::plan(format!(
            "a join with table {table} read as the driving input: join a table to a STREAM"
        )));
    }
    if plan.emit == EmitMode::Final {
        return Err(Error::plan(format!(
            "EMIT FINAL over table {table}: a table's aggregates never close; use EMIT CHANGES"
        )));
    }
    if !plan.is_aggregating() {
        return Err(Error::plan(format!(
            "a view of table {table} keeps the latest row per key: group by {KEY_COLUMN} (the SQL front end does)"
        )));
    }
    // LATEST_BY_OFFSET ignores retractions, exact when each group holds one row: a table's
    // row view, grouped by the record key.
    let by_record_key =
        matches!(plan.group_by.as_slice(), [(_, crate::plan::Expr::Column(c))] if c == KEY_COLUMN);
    for agg in &plan.aggregates {
        let ok = crate::aggregate::Accumulator::retracts(agg.function)
            || (agg.function == AggregateFunction::Latest && by_record_key);
        if !ok {
            return Err(Error::plan(format!(
                "{} cannot aggregate a table: an update of a table row takes back the old row, which {} cannot undo; use COUNT, SUM or AVG, or aggregate the stream instead",
                function_name(agg.function),
                function_name(agg.function)
            )));
        }
    }
    Ok(())
}

/// The SQL name of an aggregate function, for messages.
pub fn function_name(f: AggregateFunction) -> &'static str {
    match f {
        AggregateFunction::Count => "COUNT",
        AggregateFunction::Sum => "SUM",
        AggregateFunction::Min => "MIN",
        AggregateFunction::Max => "MAX",
        AggregateFunction::Avg => "AVG",
        AggregateFunction::CountDistinct => "COUNT(DISTINCT)",
        AggregateFunction::ApproxCountDistinct => "APPROX_COUNT_DISTINCT",
        AggregateFunction::Earliest => "EARLIEST_BY_OFFSET",
        AggregateFunction::Latest => "LATEST_BY_OFFSET",
    }
}

fn late_row(row: usize, ts: i64, watermark: i64, grace: i64) -> LateRow {
    LateRow {
        row,
        reason: format!(
            "event time {ts} is too late: its windows closed (watermark {watermark}, grace {grace} ms)"
        ),
    }
}

/// The Arrow type of timestamps in engine batches.
pub fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

/// Event times of a batch as epoch millis.
fn event_times(batch: &RecordBatch, column: &str) -> Result<Int64Array> {
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| Error::plan(format!("no event-time column {column:?}")))?;
    let as_ms = match array.data_type() {
        DataType::Int64 => Arc::clone(array),
        DataType::Timestamp(TimeUnit::Millisecond, _) => cast(array, &DataType::Int64)?,
        other => {
            return Err(Error::plan(format!(
                "event-time column {column:?} must be TIMESTAMP or BIGINT (epoch ms), not {other}"
            )));
        }
    };
    Ok(as_ms.as_primitive::<arrow::datatypes::Int64Type>().clone())
}

fn column_i64(batch: &RecordBatch, name: &str) -> Option<Int64Array> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
}

/// Group ids by window end, for closing windows in end order and expiring them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndIndex(BTreeMap<i64, Vec<u32>>);

impl EndIndex {
    fn insert(&mut self, end: i64, g: u32) {
        self.0.entry(end).or_default().push(g);
    }

    /// Removes and returns every `(end, group)` whose end is below `limit`, in end order.
    fn pop_below(&mut self, limit: i64) -> Vec<(i64, u32)> {
        let mut out = Vec::new();
        while let Some(entry) = self.0.first_entry() {
            if *entry.key() >= limit {
                break;
            }
            let end = *entry.key();
            out.extend(entry.remove().into_iter().map(|g| (end, g)));
        }
        out
    }
}
