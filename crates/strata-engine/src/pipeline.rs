//! One operator abstraction ([`Operator`]) and one pipeline ([`Pipeline`]) that every driver
//! runs a view with: the streaming driver (`strata-views`), the bounded driver over the lake
//! (`strata-batch`) and the Nexmark runner (`strata-nexmark`).
//!
//! An operator is pushed batches of input rows ([`Operator::process`]) and watermarks
//! ([`Operator::advance`]); what it emits goes into an [`Output`], as ordered [`Change`]s (rows
//! with their changelog keys, identities of rows that are gone) and the input rows it set aside
//! as late. Its state is taken and put back as one [`OperatorState`] — the shape of
//! Arroyo's `ArrowOperator` (process a batch, handle a watermark, checkpoint) and of
//! DataFusion's `ExecutionPlan` (a schema, an `as_any` for the callers that need the
//! concrete type).
//!
//! A [`Pipeline`] is built from a [`ViewPlan`] and owns the chain a micro-batch goes through:
//! decode (log records → Arrow) → the stream–table join (the followed table's rows, applied
//! by the driver between micro-batches) → the operator (whose upsert stage, for a view that
//! reads a table, runs inside [`ViewOperator`]). A driver keeps only what is its own: where
//! records come from, the watermark it moves the pipeline to, where output goes, and where
//! state is stored.
//!
//! State stays typed ([`OperatorState`], [`PipelineState`]) rather than opaque bytes: the
//! streaming driver lays these parts out in its checkpoint file exactly as checkpoints written
//! before the pipeline existed did, so a node restarted on a new binary resumes from them.

use std::any::Any;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use strata_log::RecordView;

use crate::decode::{InvalidRecord, SourceDecoder};
use crate::error::{Error, Result};
use crate::join::{TableFollower, TableState, joined_schema};
use std::sync::Arc;

use crate::operator::{GroupState, LateRow, Lateness, ViewOperator};
use crate::plan::ViewPlan;
use crate::topn::{TopNOperator, TopNPlan, TopNState};
use crate::upsert::TableInputState;
use strata_log::sync::unmodelled::{Mutex, MutexGuard};

/// One thing an operator emitted, in the order it emitted them.
#[derive(Debug, Clone)]
pub enum Change {
    /// Rows to append (a changelog's records).
    Rows {
        /// Each row's identity — the group key columns and, for windowed views,
        /// `window_start` — what a changelog record is keyed by; `None` for rows without one
        /// (a filter/projection view's rows, a window Top-N's ranked rows).
        keys: Option<RecordBatch>,
        /// The rows.
        values: RecordBatch,
    },
    /// The identities of rows that are gone (a changelog gets a tombstone for each).
    Removed(RecordBatch),
}

/// What an operator emitted for one call.
#[derive(Debug, Default)]
pub struct Output {
    /// Rows and deletions, in order; never an empty batch.
    pub changes: Vec<Change>,
    /// Input rows set aside instead of processed (later than the grace period, or a table
    /// row without a key), indexes into the batch given to [`Operator::process`].
    pub late: Vec<LateRow>,
}

impl Output {
    /// Appends rows (nothing when `values` is empty).
    pub fn push_rows(&mut self, keys: Option<RecordBatch>, values: RecordBatch) {
        if values.num_rows() > 0 {
            self.changes.push(Change::Rows { keys, values });
        }
    }

    /// Appends the identities of rows that are gone (nothing when `keys` is empty).
    pub fn push_removed(&mut self, keys: RecordBatch) {
        if keys.num_rows() > 0 {
            self.changes.push(Change::Removed(keys));
        }
    }

    /// Appends everything `other` holds.
    pub fn append(&mut self, other: Output) {
        self.changes.extend(other.changes);
        self.late.extend(other.late);
    }

    /// True when nothing was emitted (late rows aside).
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The number of rows emitted (deletions not counted).
    pub fn row_count(&self) -> usize {
        self.rows().map(|(_, values)| values.num_rows()).sum()
    }

    /// The emitted rows, with their keys, in order (deletions skipped), moved out.
    pub fn into_rows(self) -> impl Iterator<Item = (Option<RecordBatch>, RecordBatch)> {
        self.changes.into_iter().filter_map(|c| match c {
            Change::Rows { keys, values } => Some((keys, values)),
            Change::Removed(_) => None,
        })
    }

    /// The emitted rows, with their keys, in order (deletions skipped).
    pub fn rows(&self) -> impl Iterator<Item = (Option<&RecordBatch>, &RecordBatch)> {
        self.changes.iter().filter_map(|c| match c {
            Change::Rows { keys, values } => Some((keys.as_ref(), values)),
            Change::Removed(_) => None,
        })
    }
}

/// An operator's state, as checkpointed. The parts are the ones checkpoint files have always
/// held (see the module docs), so they stay typed.
#[derive(Debug, Clone)]
pub struct OperatorState {
    /// The groups of the view (of the ranked view, for a window Top-N).
    pub groups: GroupState,
    /// The upsert stage's state, for a view that reads a table.
    pub table_input: Option<TableInputState>,
    /// The ranking's state, for a window Top-N.
    pub topn: Option<TopNState>,
}

/// A dataflow operator: pushed batches and watermarks, it emits changes; its state can be
/// taken and restored.
pub trait Operator: Send + std::fmt::Debug {
    /// The schema of the rows it emits.
    ///
    /// # Errors
    /// Planning errors of the output expressions.
    fn output_schema(&self) -> Result<SchemaRef>;

    /// The current watermark (ms; `i64::MIN` before the first).
    fn watermark(&self) -> i64;

    /// Processes one batch of input rows at the current watermark; `tombstones` are the rows
    /// of `batch` that delete their key (a table's records with an empty value; empty for a
    /// stream). What it emits is appended to `out`.
    ///
    /// # Errors
    /// Evaluation errors of the operator's expressions.
    fn process(
        &mut self,
        batch: &RecordBatch,
        tombstones: &[usize],
        out: &mut Output,
    ) -> Result<()>;

    /// Moves the watermark to `watermark` (never backwards) and appends what that emits
    /// (windows it closed) to `out`.
    ///
    /// # Errors
    /// Evaluation errors of the output expressions.
    fn advance(&mut self, watermark: i64, out: &mut Output) -> Result<()>;

    /// The operator's current rows (what a query of the view answers).
    ///
    /// # Errors
    /// Evaluation errors of the output expressions.
    fn current_rows(&self) -> Result<RecordBatch>;

    /// The state to checkpoint.
    ///
    /// # Errors
    /// Arrow errors converting rows to their stored form.
    fn snapshot_state(&self) -> Result<OperatorState>;

    /// Puts back checkpointed state (of an operator of the same plan).
    ///
    /// # Errors
    /// [`Error::Plan`] when the state does not fit the operator.
    fn restore_state(&mut self, state: OperatorState) -> Result<()>;

    /// The operator as [`Any`], for callers that need its concrete type.
    fn as_any(&self) -> &dyn Any;

    /// The boxed operator as [`Any`], to take back its concrete type.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// How a driver runs its pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Whether late records are cut.
    pub lateness: Lateness,
    /// How long closed windows stay queryable after their end (the operators' default when
    /// `None`).
    pub retention_ms: Option<i64>,
    /// Whether an EMIT CHANGES aggregation emits its changed rows per batch; a bounded run
    /// reads its result from the state at the end instead.
    pub emit_updates: bool,
}

impl PipelineOptions {
    /// A streaming run: late records cut, updates emitted.
    pub fn streaming() -> Self {
        PipelineOptions {
            lateness: Lateness::Enforce,
            retention_ms: None,
            emit_updates: true,
        }
    }

    /// A bounded run over all of history at once: nothing is late, nothing expires, and an
    /// aggregation's result is its state at the end (filter/projection rows are emitted).
    pub fn bounded() -> Self {
        PipelineOptions {
            lateness: Lateness::Ignore,
            retention_ms: Some(i64::MAX),
            emit_updates: false,
        }
    }
}

/// The pipeline's state, as checkpointed.
#[derive(Debug, Clone)]
pub struct PipelineState {
    /// The operator's.
    pub operator: OperatorState,
    /// The joined table's rows, for a view with a stream–table join.
    pub join_table: Option<TableState>,
}

/// One micro-batch of log records through a pipeline.
#[derive(Debug)]
pub struct Step {
    /// The rows the operator was given: the decoded records (joined with the table, for a
    /// view with a join). [`Output::late`] indexes into it.
    pub batch: RecordBatch,
    /// The records that did not decode.
    pub invalid: Vec<InvalidRecord>,
    /// What the operator emitted.
    pub output: Output,
}

/// The operator of a running pipeline, shared with the readers that query it while the
/// driver runs (the streaming driver's queries); locked per batch, never while decoding.
pub type SharedOperator = Arc<Mutex<Box<dyn Operator>>>;

/// Locks `operator`; a panic of another holder leaves the operator as it was after its last
/// whole call, which is what a reader can use.
pub fn lock(operator: &SharedOperator) -> MutexGuard<'_, Box<dyn Operator>> {
    operator.lock()
}

/// The stream–table join stage: the followed table and the schema of joined batches.
struct JoinStage {
    follower: TableFollower,
    schema: SchemaRef,
}

/// A view's chain — decode → join → operator — driven one micro-batch at a time.
pub struct Pipeline {
    plan: ViewPlan,
    /// Present when the input is the source's log records (absent when a driver hands over
    /// Arrow batches of another schema, as the bounded driver does with projected lake files).
    decoder: Option<SourceDecoder>,
    join: Option<JoinStage>,
    /// The schema of the batches the operator is given (after the join).
    input_schema: SchemaRef,
    operator: SharedOperator,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("view", &self.plan.name)
            .field("join", &self.join.is_some())
            .finish()
    }
}

impl Pipeline {
    /// The pipeline of `plan` over its source's log records (or Arrow batches of
    /// [`source_schema`]).
    ///
    /// # Errors
    /// Planning errors (see [`ViewOperator::new`], [`TopNOperator::new`]).
    pub fn new(plan: ViewPlan, options: PipelineOptions) -> Result<Self> {
        let mut decoder = SourceDecoder::new(&plan.source)?;
        if plan.reads_table() {
            // A table's empty values are tombstones: they delete their key from the view.
            decoder = decoder.keeping_tombstones();
        }
        let schema = Arc::clone(decoder.schema());
        Self::build(plan, Some(decoder), schema, options)
    }

    /// The pipeline of `plan` over Arrow batches of `schema` (a projection of the source's
    /// columns): no decode stage.
    ///
    /// # Errors
    /// As [`Pipeline::new`].
    pub fn over_batches(
        plan: ViewPlan,
        schema: SchemaRef,
        options: PipelineOptions,
    ) -> Result<Self> {
        Self::build(plan, None, schema, options)
    }

    fn build(
        plan: ViewPlan,
        decoder: Option<SourceDecoder>,
        schema: SchemaRef,
        options: PipelineOptions,
    ) -> Result<Self> {
        let join = match &plan.join {
            Some(join) => Some(JoinStage {
                follower: TableFollower::new(join.clone())?,
                schema: joined_schema(&schema, join),
            }),
            None => None,
        };
        let input_schema = join.as_ref().map_or(schema, |j| Arc::clone(&j.schema));
        let operator: Box<dyn Operator> = match TopNPlan::from_view(&plan) {
            Some(topn) => {
                let mut op = TopNOperator::new(topn, Arc::clone(&input_schema), options.lateness)?;
                if let Some(ms) = options.retention_ms {
                    op.set_retention_ms(ms);
                }
                Box::new(op)
            }
            None => {
                let mut op =
                    ViewOperator::new(plan.clone(), Arc::clone(&input_schema), options.lateness)?;
                if let Some(ms) = options.retention_ms {
                    op.set_retention_ms(ms);
                }
                op.set_emit_updates(options.emit_updates);
                Box::new(op)
            }
        };
        Ok(Pipeline {
            plan,
            decoder,
            join,
            input_schema,
            operator: Arc::new(Mutex::new(operator)),
        })
    }

    /// The view's plan.
    pub fn plan(&self) -> &ViewPlan {
        &self.plan
    }

    /// The schema of the batches the operator is given (the source's, joined with the
    /// table's columns for a view with a join).
    pub fn input_schema(&self) -> &SchemaRef {
        &self.input_schema
    }

    /// The operator, shared: what readers lock to query the view while the driver runs.
    pub fn operator(&self) -> &SharedOperator {
        &self.operator
    }

    /// The operator's current watermark.
    pub fn watermark(&self) -> i64 {
        lock(&self.operator).watermark()
    }

    /// The schema of the rows the pipeline emits.
    ///
    /// # Errors
    /// As [`Operator::output_schema`].
    pub fn output_schema(&self) -> Result<SchemaRef> {
        lock(&self.operator).output_schema()
    }

    /// The view's current rows.
    ///
    /// # Errors
    /// As [`Operator::current_rows`].
    pub fn current_rows(&self) -> Result<RecordBatch> {
        lock(&self.operator).current_rows()
    }

    /// Applies records of the joined table `(partition, record)` in log order (an empty value
    /// deletes its key); returns the number that did not decode. A no-op without a join.
    ///
    /// # Errors
    /// Arrow errors.
    pub fn apply_table_records(&mut self, records: &[(u32, RecordView<'_>)]) -> Result<usize> {
        match &mut self.join {
            Some(j) => j.follower.apply(records),
            None => Ok(0),
        }
    }

    /// Applies decoded rows of the joined table (upserts only). A no-op without a join.
    ///
    /// # Errors
    /// When the table's key column is missing from `batch`.
    pub fn apply_table_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.join {
            Some(j) => j.follower.state.apply(&j.follower.join, batch, &[]),
            None => Ok(()),
        }
    }

    /// Decodes `records` (at most [`crate::decode::MAX_BATCH_ROWS`]) and runs them through
    /// the join and the operator.
    ///
    /// # Errors
    /// [`Error::Plan`] for a pipeline built by [`Pipeline::over_batches`]; as
    /// [`Pipeline::process`].
    pub fn process_records(&mut self, records: &[(u32, RecordView<'_>)]) -> Result<Step> {
        let decoder = self
            .decoder
            .as_mut()
            .ok_or_else(|| Error::plan("this pipeline takes Arrow batches, not log records"))?;
        let decoded = decoder.decode(records)?;
        let batch = crate::proctime::stamp(decoded.batch, &self.plan.source)?;
        let batch = self.join(batch)?;
        let mut output = Output::default();
        lock(&self.operator).process(&batch, &decoded.tombstones, &mut output)?;
        Ok(Step {
            batch,
            invalid: decoded.invalid,
            output,
        })
    }

    /// Runs a batch of the pipeline's input rows (`tombstones`: rows deleting their key, for
    /// a view reading a table) through the join and the operator; [`Output::late`] indexes
    /// into the joined batch.
    ///
    /// # Errors
    /// Evaluation errors of the join key and the operator.
    pub fn process(&mut self, batch: &RecordBatch, tombstones: &[usize]) -> Result<Output> {
        let mut output = Output::default();
        match &self.join {
            Some(j) => {
                let joined = j
                    .follower
                    .state
                    .enrich(&j.follower.join, batch, &j.schema)?;
                lock(&self.operator).process(&joined, tombstones, &mut output)?;
            }
            None => lock(&self.operator).process(batch, tombstones, &mut output)?,
        }
        Ok(output)
    }

    fn join(&self, batch: RecordBatch) -> Result<RecordBatch> {
        match &self.join {
            Some(j) => j.follower.state.enrich(&j.follower.join, &batch, &j.schema),
            None => Ok(batch),
        }
    }

    /// Moves the watermark to `watermark`; what that emits.
    ///
    /// # Errors
    /// As [`Operator::advance`].
    pub fn advance(&mut self, watermark: i64) -> Result<Output> {
        let mut output = Output::default();
        lock(&self.operator).advance(watermark, &mut output)?;
        Ok(output)
    }

    /// The state to checkpoint.
    ///
    /// # Errors
    /// As [`Operator::snapshot_state`].
    pub fn snapshot_state(&self) -> Result<PipelineState> {
        Ok(PipelineState {
            operator: lock(&self.operator).snapshot_state()?,
            join_table: self.join.as_ref().map(|j| j.follower.state.clone()),
        })
    }

    /// Puts back checkpointed state (a joined table's rows only when the view has a join).
    ///
    /// # Errors
    /// As [`Operator::restore_state`].
    pub fn restore_state(&mut self, state: PipelineState) -> Result<()> {
        lock(&self.operator).restore_state(state.operator)?;
        if let (Some(j), Some(table)) = (&mut self.join, state.join_table) {
            j.follower.state = table;
        }
        Ok(())
    }

    /// The operator, when it is a [`ViewOperator`] and no reader holds it any more (what a
    /// bounded run hands to the serving layer's merge).
    pub fn into_view_operator(self) -> Option<ViewOperator> {
        let operator = Arc::try_unwrap(self.operator).ok()?;
        let operator = operator.into_inner();
        operator
            .into_any()
            .downcast::<ViewOperator>()
            .ok()
            .map(|b| *b)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::AsArray;
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Int64Type};
    use proptest::prelude::*;
    use strata_log::{BatchView, EncodedBatch, Record};

    use super::*;
    use crate::builder::{ViewBuilder, col};
    use crate::plan::{
        AggregateFunction, ColumnDef, EmitMode, SourceDef, SourceKind, SqlType, ValueFormat,
        WindowSpec,
    };

    const WINDOW_MS: i64 = 10;

    fn column(name: &str, data_type: SqlType) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            data_type,
        }
    }

    fn source(kind: SourceKind) -> SourceDef {
        SourceDef {
            name: "events".into(),
            topic: "events".into(),
            kind,
            columns: match kind {
                SourceKind::Stream => vec![
                    column("k", SqlType::BigInt),
                    column("v", SqlType::BigInt),
                    column("ts", SqlType::Timestamp),
                ],
                SourceKind::Table => vec![
                    column("id", SqlType::Varchar),
                    column("region", SqlType::Varchar),
                ],
            },
            format: ValueFormat::Json,
            timestamp_column: (kind == SourceKind::Stream).then(|| "ts".into()),
            watermark_delay_ms: None,
            primary_key: (kind == SourceKind::Table).then(|| "id".into()),
            properties: Vec::new(),
            proctime_column: None,
        }
    }

    /// `SELECT k, COUNT(*) AS n, SUM(v) AS total … WINDOW TUMBLING (10 ms) GROUP BY k EMIT FINAL`.
    fn tumbling() -> ViewPlan {
        ViewBuilder::new("counts", source(SourceKind::Stream))
            .window(WindowSpec::Tumbling { size_ms: WINDOW_MS })
            .group_by("k", col("k"))
            .aggregate("n", AggregateFunction::Count, None)
            .aggregate("total", AggregateFunction::Sum, Some(col("v")))
            .emit(EmitMode::Final)
            .build()
    }

    /// Runs `f` over `values` framed as log records `(partition 0, offset i)` with `keys`.
    fn with_records<T>(
        values: &[(Option<&str>, String)],
        first_offset: u64,
        f: impl FnOnce(&[(u32, RecordView<'_>)]) -> T,
    ) -> T {
        let records: Vec<Record> = values
            .iter()
            .map(|(key, value)| {
                let mut r = Record::new(value.as_bytes().to_vec(), 0);
                r.key = key.map(|k| k.as_bytes().to_vec());
                r
            })
            .collect();
        let batch = EncodedBatch::from_records(&records).expect("batch");
        let view = BatchView::frame(batch.as_bytes()).expect("frame");
        let views: Vec<(u32, RecordView<'_>)> = view
            .records()
            .enumerate()
            .map(|(i, r)| {
                let mut r = r.expect("record");
                r.offset = first_offset + i as u64;
                (0, r)
            })
            .collect();
        f(&views)
    }

    fn ints(batch: &RecordBatch, name: &str) -> Vec<i64> {
        let c = batch.column_by_name(name).expect("column");
        let c = cast(c, &DataType::Int64).expect("cast");
        c.as_primitive::<Int64Type>().values().to_vec()
    }

    /// (k, window start) → (count, sum) of the emitted rows.
    fn tally(out: &Output, into: &mut BTreeMap<(i64, i64), (i64, i64)>) {
        for (keys, values) in out.rows() {
            assert!(keys.is_some(), "an aggregation's rows carry their keys");
            let (k, start) = (ints(values, "k"), ints(values, "window_start"));
            let (n, total) = (ints(values, "n"), ints(values, "total"));
            for i in 0..values.num_rows() {
                let prior = into.insert((k[i], start[i]), (n[i], total[i]));
                assert!(prior.is_none(), "a window is emitted once under EMIT FINAL");
            }
        }
    }

    /// One event: (key, value, time step ≥ 0 from the previous event), or a malformed record.
    fn event() -> impl Strategy<Value = Option<(i64, i64, i64)>> {
        prop_oneof![
            9 => (0i64..4, 0i64..100, 0i64..7).prop_map(Some),
            1 => Just(None),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Events in time order, cut into micro-batches at random, with a checkpoint and a
        /// restart into a new pipeline at a random batch: the windows emitted are exactly the
        /// model's (a map from key and window to count and sum), malformed records set aside.
        #[test]
        fn a_restarted_pipeline_emits_what_the_model_says(
            events in prop::collection::vec(event(), 0..200),
            cuts in prop::collection::vec(1usize..40, 1..20),
            restart_at in 0usize..20,
        ) {
            let mut values = Vec::new();
            let mut model: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
            let mut ts = 1_000;
            let mut malformed = 0;
            for e in &events {
                match *e {
                    Some((k, v, step)) => {
                        ts += step;
                        values.push((None, format!(r#"{{"k":{k},"v":{v},"ts":{ts}}}"#)));
                        let slot = model.entry((k, ts - ts.rem_euclid(WINDOW_MS))).or_default();
                        slot.0 += 1;
                        slot.1 += v;
                    }
                    None => {
                        values.push((None, "{\"k\": oops".to_owned()));
                        malformed += 1;
                    }
                }
            }
            let mut pipeline = Pipeline::new(tumbling(), PipelineOptions::streaming()).expect("pipeline");
            let mut emitted = BTreeMap::new();
            let mut invalid = 0;
            let (mut at, mut max_ts) = (0, i64::MIN);
            for (b, cut) in cuts.iter().cycle().enumerate() {
                if at >= values.len() {
                    break;
                }
                if b == restart_at {
                    let state = pipeline.snapshot_state().expect("snapshot");
                    pipeline = Pipeline::new(tumbling(), PipelineOptions::streaming()).expect("pipeline");
                    pipeline.restore_state(state).expect("restore");
                }
                let end = (at + cut).min(values.len());
                let step = with_records(&values[at..end], at as u64, |records| {
                    pipeline.process_records(records).expect("process")
                });
                invalid += step.invalid.len();
                prop_assert!(step.output.late.is_empty(), "in-order events are never late");
                tally(&step.output, &mut emitted);
                max_ts = max_ts.max(ints(&step.batch, "ts").into_iter().max().unwrap_or(i64::MIN));
                // One window behind the latest event: nothing that still arrives is late.
                let closed = pipeline.advance(max_ts.saturating_sub(WINDOW_MS)).expect("advance");
                tally(&closed, &mut emitted);
                at = end;
            }
            tally(&pipeline.advance(i64::MAX).expect("finish"), &mut emitted);
            prop_assert_eq!(invalid, malformed);
            prop_assert_eq!(emitted, model);
        }
    }

    #[test]
    fn a_bounded_pipeline_emits_no_updates_and_hands_back_its_operator() {
        let plan = ViewBuilder::new("counts", source(SourceKind::Stream))
            .group_by("k", col("k"))
            .aggregate("n", AggregateFunction::Count, None)
            .build();
        let values: Vec<(Option<&str>, String)> = (0..10)
            .map(|i| (None, format!(r#"{{"k":{},"v":1,"ts":{i}}}"#, i % 3)))
            .collect();
        let mut streaming = Pipeline::new(plan.clone(), PipelineOptions::streaming()).expect("p");
        let out = with_records(&values, 0, |r| {
            streaming.process_records(r).expect("process")
        });
        assert_eq!(
            out.output.row_count(),
            3,
            "EMIT CHANGES: one row per changed group"
        );

        let mut bounded =
            Pipeline::over_batches(plan, out.batch.schema(), PipelineOptions::bounded())
                .expect("p");
        let err = with_records(&values, 0, |r| bounded.process_records(r).map(|_| ()));
        assert!(err.is_err(), "a pipeline over batches has no decoder");
        let output = bounded.process(&out.batch, &[]).expect("process");
        assert!(
            output.is_empty(),
            "a bounded aggregation emits nothing per batch"
        );
        assert_eq!(bounded.current_rows().expect("rows").num_rows(), 3);
        let op = bounded.into_view_operator().expect("a view operator");
        assert_eq!(op.group_count(), 3);
    }

    #[test]
    fn a_table_view_emits_a_removal_when_a_key_is_deleted() {
        let plan = ViewBuilder::new("by_region", source(SourceKind::Table))
            .group_by("region", col("region"))
            .aggregate("n", AggregateFunction::Count, None)
            .build();
        let mut pipeline = Pipeline::new(plan, PipelineOptions::streaming()).expect("pipeline");
        let put = with_records(
            &[
                (Some("a"), r#"{"id":"a","region":"x"}"#.to_owned()),
                (Some("b"), r#"{"id":"b","region":"y"}"#.to_owned()),
            ],
            0,
            |r| pipeline.process_records(r).expect("process"),
        );
        assert_eq!(put.output.row_count(), 2);
        let delete = with_records(&[(Some("a"), String::new())], 2, |r| {
            pipeline.process_records(r).expect("process")
        });
        let removed: Vec<usize> = delete
            .output
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Removed(keys) => Some(keys.num_rows()),
                Change::Rows { .. } => None,
            })
            .collect();
        assert_eq!(removed, vec![1], "region x lost its only row");
        let state = pipeline.snapshot_state().expect("state");
        assert!(
            state.operator.table_input.is_some(),
            "the upsert state is checkpointed"
        );
        assert_eq!(pipeline.current_rows().expect("rows").num_rows(), 1);
    }
}
