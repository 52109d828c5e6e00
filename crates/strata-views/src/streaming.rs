//! The streaming driver (speed layer): tails a view's source topic, runs its operator on
//! micro-batches on a thread of its own, and writes results to the log.
//!
//! Outputs, all topics of the same log:
//! - `<view>-changelog`: every emitted row (each update under EMIT CHANGES, one final row per
//!   window under EMIT FINAL), keyed by group key and window;
//!   A window Top-N view ([`strata_engine::topn`]) appends the ranked rows of each window, unkeyed,
//!   when the watermark closes it;
//! - `<view>-late`: source records set aside — later than the grace period, or not matching
//!   the schema — with a `strata.reason` header;
//! - a named output topic, when the plan has one ([`crate::forward`]): the changelog's records
//!   up to each checkpoint, copied after it.
//!
//! Exactly-once: every `checkpoint_interval` the driver fsyncs its outputs, then writes one
//! checkpoint (operator state, source positions, watermarks, output end offsets) atomically.
//! On start it restores the checkpoint and truncates its outputs back to the recorded ends,
//! so the run continues as if the crash had not happened: no duplicate, nothing lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use strata_log::sync::unmodelled::Mutex;

use arrow::array::{Array as _, RecordBatch};
use serde::{Deserialize, Serialize};
use strata_engine::json_lines;
use strata_log::{
    BatchBuilder, Durability, Fetch, Log, ReadLimits, RecordView, Topic, TopicConfig,
};
pub use strata_sql::plan::{changelog_topic, late_topic};

use crate::forward::{ForwardCheckpoint, Forwarder};
use crate::start::StartAt;
use strata_engine::codec;
use strata_engine::decode::{InvalidRecord, MAX_BATCH_ROWS};
use strata_engine::error::{Error, Result};
use strata_engine::generations::{BatchView, Generation, Ledger};
use strata_engine::join::TableState;
use strata_engine::operator::{GroupState, Lateness, ViewOperator};
use strata_engine::pipeline::{
    Change, OperatorState, Output, Pipeline, PipelineOptions, PipelineState, SharedOperator, lock,
};
use strata_engine::topn::TopNState;
use strata_engine::upsert::TableInputState;
use strata_engine::watermark::{DEFAULT_DELAY_MS, DEFAULT_IDLE_TIMEOUT, WatermarkTracker};
use strata_sql::plan::ViewPlan;

/// A batch view as the speed layer holds it (the batch layer's epoch, behind its trait).
pub type BatchHandle = Arc<dyn BatchView>;

/// A view's speed-layer partials per generation, and the batch view they complement.
pub type SpeedPartials = Ledger<ViewOperator, BatchHandle>;

/// How often, at most, a view with a named output checkpoints: its named topic receives rows
/// only after a checkpoint commits them, so this bounds their delay (Kafka Streams commits
/// every 100 ms under exactly-once; a checkpoint here also writes the view's state).
pub const NAMED_OUTPUT_COMMIT_INTERVAL: Duration = Duration::from_secs(1);

/// Header naming why a record went to the late topic.
pub const REASON_HEADER: &str = "strata.reason";

/// Tuning of a streaming view.
#[derive(Debug, Clone)]
pub struct StreamingConfig {
    /// How often state is checkpointed.
    pub checkpoint_interval: Duration,
    /// Most records read from one partition per micro-batch.
    pub max_records_per_partition: u64,
    /// How long a partition may be silent before it stops holding the watermark back.
    pub idle_timeout: Duration,
    /// How long the driver sleeps when there is nothing to read.
    pub poll_interval: Duration,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        StreamingConfig {
            checkpoint_interval: Duration::from_secs(5),
            // ~8 K rows keeps a batch's columns under the allocator's mmap threshold: bigger
            // batches paid for fresh zeroed pages on every micro-batch (profiled).
            max_records_per_partition: 8 * 1024,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            poll_interval: Duration::from_millis(20),
        }
    }
}

/// Counters of a running view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewStats {
    /// Source records read.
    pub records_in: u64,
    /// Records later than the grace period.
    pub late: u64,
    /// Records that did not match the schema.
    pub invalid: u64,
    /// Rows written to the changelog.
    pub emitted: u64,
    /// The view's watermark (ms; `i64::MIN` before any event).
    pub watermark: i64,
    /// Source records not yet read (sum over partitions).
    pub lag: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    plan: String,
    positions: Vec<u64>,
    watermarks: WatermarkTracker,
    state: GroupState,
    changelog_end: u64,
    late_end: u64,
    max_event_time: i64,
    stats: ViewStats,
    table_positions: Vec<u64>,
    table: Option<TableState>,
    /// The horizon of the batch view handed over last.
    covered: Vec<(u32, u64)>,
    /// Partials of the generations at or above it.
    generations: Vec<(Generation, GroupState)>,
}

/// Parts of a checkpoint added after its first format, written after it in the same
/// envelope (see [`codec::encode_with_tail`]), so checkpoints written before still read.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CheckpointTail {
    /// The upsert state of a view that reads a table.
    table_input: Option<TableInputState>,
}

struct Shared {
    /// The pipeline's operator (a [`ViewOperator`], or a window Top-N), which queries read.
    operator: SharedOperator,
    /// Present for views the serving layer merges with a batch view.
    partials: Option<Arc<SpeedPartials>>,
    stats: Mutex<ViewStats>,
    stop: AtomicBool,
    failure: Mutex<Option<String>>,
}

/// A running streaming view; dropping it stops the thread (after a final checkpoint).
pub struct StreamingView {
    name: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for StreamingView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingView")
            .field("name", &self.name)
            .finish()
    }
}

struct Driver {
    plan: ViewPlan,
    plan_text: String,
    config: StreamingConfig,
    source: Arc<Topic>,
    changelog: Arc<Topic>,
    late: Arc<Topic>,
    /// Copies committed changelog records to the named output, when the view has one.
    forward: Option<Forwarder>,
    /// Decode → join → operator, per micro-batch.
    pipeline: Pipeline,
    /// The joined table's topic and the positions read in it.
    table: Option<(Arc<Topic>, Vec<u64>)>,
    positions: Vec<u64>,
    /// Per source partition, the base offsets of its segments (refreshed every micro-batch):
    /// a record's generation is the segment holding it.
    segment_bases: Vec<Vec<u64>>,
    watermarks: WatermarkTracker,
    max_event_time: i64,
    checkpoint_path: PathBuf,
    last_checkpoint: Instant,
    shared: Arc<Shared>,
}

impl StreamingView {
    /// Starts (or resumes from its checkpoint in `state_dir`) the view `plan` over `log`.
    ///
    /// # Errors
    /// Planning errors, an unknown source topic, an unreadable checkpoint, log errors.
    pub fn start(
        log: Arc<Log>,
        plan: ViewPlan,
        state_dir: &Path,
        config: StreamingConfig,
    ) -> Result<Self> {
        Self::start_from(log, plan, state_dir, config, &StartAt::Beginning)
    }

    /// As [`StreamingView::start`], but a view without a checkpoint starts reading its
    /// source at `from` instead of the beginning (replay into a new version). Catch-up and
    /// live processing are the same loop over the same positions, so the hand-over from
    /// history to new records can neither skip nor repeat one.
    ///
    /// # Errors
    /// As [`StreamingView::start`].
    pub fn start_from(
        log: Arc<Log>,
        plan: ViewPlan,
        state_dir: &Path,
        config: StreamingConfig,
        from: &StartAt,
    ) -> Result<Self> {
        let source = log.topic(&plan.source.topic)?;
        let table = match &plan.join {
            Some(join) => {
                let topic = log.topic(&join.table.topic)?;
                let positions = vec![0; topic.partition_count() as usize];
                Some((topic, positions))
            }
            None => None,
        };
        let pipeline = Pipeline::new(plan.clone(), PipelineOptions::streaming())?;
        let output_config = TopicConfig {
            durability: Durability::Never, // fsynced before each checkpoint instead
            ..TopicConfig::default()
        };
        // Before the view's own topics: a named output it cannot write leaves nothing behind.
        let forward = Forwarder::open(&log, &plan)?;
        let changelog = ensure_topic(&log, &changelog_topic(&plan.name), &output_config)?;
        let late = ensure_topic(&log, &late_topic(&plan.name), &output_config)?;
        std::fs::create_dir_all(state_dir).map_err(|e| Error::Checkpoint {
            path: state_dir.to_owned(),
            message: e.to_string(),
        })?;
        let partitions = source.partition_count() as usize;
        let delay = plan
            .source
            .watermark_delay_ms
            .map_or(DEFAULT_DELAY_MS, |d| d as i64);
        let plan_text = serde_json::to_string(&plan).map_err(|e| Error::plan(e.to_string()))?;
        let shared = Arc::new(Shared {
            operator: Arc::clone(pipeline.operator()),
            partials: plan
                .merges_batch()
                .then(|| Arc::new(SpeedPartials::default())),
            stats: Mutex::new(ViewStats {
                watermark: i64::MIN,
                ..ViewStats::default()
            }),
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
        });
        let mut driver = Driver {
            plan_text,
            config: config.clone(),
            source,
            changelog,
            late,
            forward,
            pipeline,
            table,
            positions: vec![0; partitions],
            segment_bases: vec![Vec::new(); partitions],
            watermarks: WatermarkTracker::new(partitions, delay, config.idle_timeout),
            max_event_time: i64::MIN,
            checkpoint_path: state_dir.join("checkpoint.bin"),
            last_checkpoint: Instant::now(),
            shared: Arc::clone(&shared),
            plan: plan.clone(),
        };
        driver.restore(from)?;
        let name = plan.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("view-{name}"))
            .spawn(move || driver.run())
            .map_err(|e| Error::plan(format!("cannot start the view's thread: {e}")))?;
        Ok(StreamingView {
            name,
            shared,
            thread: Some(thread),
        })
    }

    /// The view's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Current rows of the view.
    ///
    /// # Errors
    /// Evaluation errors of the output expressions.
    pub fn snapshot(&self) -> Result<RecordBatch> {
        lock(&self.shared.operator).current_rows()
    }

    /// Counters.
    pub fn stats(&self) -> ViewStats {
        self.shared.stats.lock().clone()
    }

    /// Why the view stopped, if it failed.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure.lock().clone()
    }

    /// Runs `f` with the operator locked (for queries that need more than a snapshot);
    /// `None` for a window Top-N view, which runs no [`ViewOperator`] of its own rows.
    pub fn with_operator<T>(&self, f: impl FnOnce(&ViewOperator) -> T) -> Option<T> {
        let guard = lock(&self.shared.operator);
        guard.as_any().downcast_ref::<ViewOperator>().map(f)
    }

    /// The view's speed-layer partials per generation, for the serving layer's merge with
    /// its batch view; `None` for views served from the speed layer alone.
    pub fn partials(&self) -> Option<Arc<SpeedPartials>> {
        self.shared.partials.clone()
    }

    /// Stops the view after a final checkpoint.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StreamingView {
    fn drop(&mut self) {
        self.halt();
    }
}

fn ensure_topic(log: &Log, name: &str, config: &TopicConfig) -> Result<Arc<Topic>> {
    match log.topic(name) {
        Ok(t) => Ok(t),
        Err(_) => match log.create_topic(name, 1, config.clone()) {
            Ok(t) => Ok(t),
            Err(strata_log::Error::TopicExists(_)) => Ok(log.topic(name)?),
            Err(e) => Err(e.into()),
        },
    }
}

impl Driver {
    fn restore(&mut self, from: &StartAt) -> Result<()> {
        let bytes = match std::fs::read(&self.checkpoint_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A fresh view: anything in its output topics is from an earlier view of the
                // same name that never checkpointed; start them over.
                self.changelog
                    .partition(0)?
                    .truncate_to(self.changelog.partition(0)?.start_offset())
                    .ok();
                self.late
                    .partition(0)?
                    .truncate_to(self.late.partition(0)?.start_offset())
                    .ok();
                if let Some(f) = &mut self.forward {
                    f.start_at(self.changelog.partition(0)?.start_offset());
                }
                self.positions = from.positions(&self.source)?;
                self.watermarks.start(Instant::now());
                return Ok(());
            }
            Err(e) => {
                return Err(Error::Checkpoint {
                    path: self.checkpoint_path.clone(),
                    message: e.to_string(),
                });
            }
        };
        let unreadable = |message: String| Error::Checkpoint {
            path: self.checkpoint_path.clone(),
            message,
        };
        let mut parts = codec::parts(&bytes).map_err(unreadable)?;
        let checkpoint: Checkpoint = parts
            .read()
            .and_then(|c| c.ok_or_else(|| "the checkpoint is empty".to_owned()))
            .map_err(unreadable)?;
        let tail: CheckpointTail = parts
            .read()
            .map_err(|e| unreadable(format!("the state's tail: {e}")))?
            .unwrap_or_default();
        // Written after the tail: the ranking state of a window Top-N view.
        let topn: Option<TopNState> = parts
            .read::<Option<TopNState>>()
            .map_err(|e| unreadable(format!("the Top-N state: {e}")))?
            .flatten();
        // Written after the Top-N state: where the copy to the named output stood.
        let forwarded: Option<ForwardCheckpoint> = parts
            .read::<Option<ForwardCheckpoint>>()
            .map_err(|e| unreadable(format!("the named output's position: {e}")))?
            .flatten();
        if checkpoint.plan != self.plan_text {
            return Err(Error::Checkpoint {
                path: self.checkpoint_path.clone(),
                message: "the checkpoint belongs to another definition of this view; replay the view into a new version instead".into(),
            });
        }
        self.changelog
            .partition(0)?
            .truncate_to(checkpoint.changelog_end)?;
        self.late.partition(0)?.truncate_to(checkpoint.late_end)?;
        if let Some(f) = &mut self.forward {
            let at = forwarded.ok_or_else(|| {
                unreadable(
                    "the checkpoint of a view with a named output has no position in it".into(),
                )
            })?;
            f.restore(&at)?;
            // What the checkpoint committed and the crash kept from the named topic.
            f.forward(&self.changelog, checkpoint.changelog_end)?;
        }
        self.positions = checkpoint.positions;
        self.positions
            .resize(self.source.partition_count() as usize, 0);
        self.watermarks = checkpoint.watermarks;
        self.watermarks.resume(
            self.positions.len(),
            self.config.idle_timeout,
            Instant::now(),
        );
        self.max_event_time = checkpoint.max_event_time;
        if let (Some((_, positions)), Some(_)) = (&mut self.table, &checkpoint.table) {
            positions.clone_from(&checkpoint.table_positions);
        }
        if self.plan.is_ranked() && topn.is_none() {
            return Err(Error::Checkpoint {
                path: self.checkpoint_path.clone(),
                message: "the checkpoint of a window Top-N view has no ranking state".into(),
            });
        }
        self.pipeline.restore_state(PipelineState {
            operator: OperatorState {
                groups: checkpoint.state,
                // Only a view reading a table has an upsert stage, only a Top-N a ranking.
                table_input: tail.table_input.filter(|_| !self.plan.is_ranked()),
                topn: topn.filter(|_| self.plan.is_ranked()),
            },
            join_table: checkpoint.table,
        })?;
        if let Some(partials) = &self.shared.partials {
            let mut generations = Vec::with_capacity(checkpoint.generations.len());
            for (generation, state) in checkpoint.generations {
                let mut op = self.new_partial(i64::MIN)?;
                op.restore(state)?;
                generations.push((generation, op));
            }
            partials.restore(checkpoint.covered, generations);
        }
        *self.shared.stats.lock() = checkpoint.stats;
        Ok(())
    }

    fn run(mut self) {
        loop {
            let stopping = self.shared.stop.load(Ordering::Acquire);
            let result = self.step().and_then(|read| {
                if stopping || self.last_checkpoint.elapsed() >= self.checkpoint_interval() {
                    self.checkpoint()?;
                }
                Ok(read)
            });
            match result {
                Ok(_) if stopping => return,
                Ok(0) => std::thread::sleep(self.config.poll_interval),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(view = %self.plan.name, error = %e, "view stopped");
                    *self.shared.failure.lock() = Some(e.to_string());
                    return;
                }
            }
        }
    }

    /// One micro-batch: read, decode, process, emit. Returns the number of records read.
    fn step(&mut self) -> Result<usize> {
        self.follow_table()?;
        let limits = ReadLimits {
            max_records: self.config.max_records_per_partition,
            max_bytes: 16 * 1024 * 1024,
        };
        let fetches: Vec<(u32, Fetch)> = self
            .source
            .partitions()
            .iter()
            .map(|p| Ok((p.id(), p.read(self.positions[p.id() as usize], limits)?)))
            .collect::<Result<_>>()?;
        if self.shared.partials.is_some() {
            // After the reads: every segment holding a record just read is listed.
            for p in self.source.partitions() {
                self.segment_bases[p.id() as usize] =
                    p.segments().iter().map(|s| s.base_offset).collect();
            }
        }
        let mut records: Vec<(u32, RecordView<'_>)> = Vec::new();
        for (p, fetch) in &fetches {
            for r in fetch.records() {
                records.push((*p, r?));
            }
        }
        let now = Instant::now();
        let read = records.len();
        for chunk in records.chunks(MAX_BATCH_ROWS) {
            self.process_chunk(chunk, now)?;
        }
        for (p, fetch) in &fetches {
            self.positions[*p as usize] = fetch.next_offset();
        }
        // Time moves the watermark even without data (idle partitions); on processing time,
        // the clock itself does, so windows close when their time has passed.
        let mut watermark = self.watermarks.watermark(now);
        if self.plan.on_processing_time() {
            let delay = self.plan.source.watermark_delay_ms.unwrap_or(0);
            let clock = strata_sql::proctime::processing_time_ms();
            watermark = watermark.max(clock.saturating_sub(i64::try_from(delay).unwrap_or(0)));
        }
        self.close_windows(watermark)?;
        let lag = self
            .source
            .partitions()
            .iter()
            .map(|p| {
                p.end_offset()
                    .saturating_sub(self.positions[p.id() as usize])
            })
            .sum();
        let mut stats = self.shared.stats.lock();
        stats.lag = lag;
        stats.records_in += read as u64;
        Ok(read)
    }

    /// Applies every table record that has arrived since the last micro-batch.
    fn follow_table(&mut self) -> Result<()> {
        let Some((topic, positions)) = &mut self.table else {
            return Ok(());
        };
        for p in topic.partitions() {
            let i = p.id() as usize;
            while positions[i] < p.end_offset() {
                let fetch = p.read(
                    positions[i],
                    ReadLimits {
                        max_records: MAX_BATCH_ROWS as u64,
                        max_bytes: 16 << 20,
                    },
                )?;
                let records: Vec<(u32, RecordView<'_>)> = fetch
                    .records()
                    .map(|r| r.map(|r| (p.id(), r)))
                    .collect::<strata_log::Result<_>>()?;
                let invalid = self.pipeline.apply_table_records(&records)?;
                if invalid > 0 {
                    self.shared.stats.lock().invalid += invalid as u64;
                }
                positions[i] = fetch.next_offset();
            }
        }
        Ok(())
    }

    /// One chunk of records through the pipeline; its output to the changelog, its invalid
    /// and late records to the late topic, then the watermark moved.
    fn process_chunk(&mut self, chunk: &[(u32, RecordView<'_>)], now: Instant) -> Result<()> {
        let step = self.pipeline.process_records(chunk)?;
        self.set_aside_invalid(chunk, &step.invalid)?;
        let watermark = self.pipeline.watermark();
        self.fold_generations(&step.batch, watermark)?;
        // Event time advances per partition from what this chunk delivered.
        self.observe_event_times(&step.batch, now)?;
        self.emit_output(&step.output)?;
        self.set_aside_late(chunk, &step.batch, &step.output.late)?;
        let watermark = self.watermarks.watermark(now);
        self.close_windows(watermark)
    }

    /// Moves each partition's watermark and the view's latest event time by the event times of
    /// `batch`.
    fn observe_event_times(&mut self, batch: &RecordBatch, now: Instant) -> Result<()> {
        let times = event_time_by_partition(batch, &self.plan, self.watermarks_len())?;
        for (p, max) in times.into_iter().enumerate() {
            if let Some(max) = max {
                self.watermarks.observe(p, max, now);
                self.max_event_time = self.max_event_time.max(max);
            }
        }
        Ok(())
    }

    /// Copies the source records of `late` rows of `batch` to the late topic, and counts them.
    fn set_aside_late(
        &mut self,
        chunk: &[(u32, RecordView<'_>)],
        batch: &RecordBatch,
        late: &[strata_engine::operator::LateRow],
    ) -> Result<()> {
        if late.is_empty() {
            return Ok(());
        }
        let offsets = offsets_of(batch);
        let late: Vec<(u32, u64, String)> = late
            .iter()
            .map(|l| (offsets[l.row].0, offsets[l.row].1, l.reason.clone()))
            .collect();
        self.write_late(chunk, &late)?;
        self.shared.stats.lock().late += late.len() as u64;
        Ok(())
    }

    /// A fresh partial of this view at `watermark`. Partials cut late records exactly as the
    /// view does (the cut depends only on a record's time and the watermark, which they share)
    /// but keep closed windows until a batch view covers them.
    fn new_partial(&self, watermark: i64) -> Result<ViewOperator> {
        let mut op = ViewOperator::new(
            self.plan.clone(),
            Arc::clone(self.pipeline.input_schema()),
            Lateness::Enforce,
        )?;
        op.set_retention_ms(i64::MAX);
        op.advance_watermark(watermark);
        Ok(op)
    }

    /// Folds the rows of `batch` into the partials of their generations. Rows come grouped
    /// by partition in offset order, so each generation is one run of rows.
    fn fold_generations(&self, batch: &RecordBatch, watermark: i64) -> Result<()> {
        let Some(partials) = &self.shared.partials else {
            return Ok(());
        };
        let positions = offsets_of(batch);
        let generation = |i: usize| {
            let (p, offset) = positions[i];
            let bases = &self.segment_bases[p as usize];
            let at = bases.partition_point(|&b| b <= offset);
            (p, if at == 0 { 0 } else { bases[at - 1] })
        };
        let mut start = 0;
        while start < positions.len() {
            let g = generation(start);
            let mut end = start + 1;
            while end < positions.len() && generation(end) == g {
                end += 1;
            }
            let rows = batch.slice(start, end - start);
            partials.fold(
                g,
                || self.new_partial(watermark),
                |op| op.process(&rows).map(drop),
            )?;
            start = end;
        }
        Ok(())
    }

    fn watermarks_len(&self) -> usize {
        self.positions.len()
    }

    fn close_windows(&mut self, watermark: i64) -> Result<()> {
        let output = self.pipeline.advance(watermark)?;
        let wm = self.pipeline.watermark();
        if let Some(partials) = &self.shared.partials {
            partials.for_each(|p| {
                p.advance_watermark(wm);
            });
        }
        self.emit_output(&output)?;
        self.shared.stats.lock().watermark = wm;
        Ok(())
    }

    /// Writes what the pipeline emitted to the changelog, in order.
    fn emit_output(&mut self, output: &Output) -> Result<()> {
        for change in &output.changes {
            match change {
                Change::Rows { keys, values } => self.emit(keys.as_ref(), values)?,
                Change::Removed(keys) => self.emit_deletions(keys)?,
            }
        }
        Ok(())
    }

    fn emit(&mut self, keys: Option<&RecordBatch>, values: &RecordBatch) -> Result<()> {
        if values.num_rows() == 0 {
            return Ok(());
        }
        let values_json = json_lines(values)?;
        let keys_json = keys.map(json_lines).transpose()?;
        let mut builder = BatchBuilder::with_capacity(values_json.iter().map(Vec::len).sum());
        let timestamp = self.max_event_time.max(0);
        for (i, value) in values_json.iter().enumerate() {
            let key = keys_json.as_ref().map(|k| k[i].as_slice());
            builder.push(key, value, timestamp, std::iter::empty());
            if builder.size_bytes() > 4 * 1024 * 1024 {
                let full = std::mem::replace(&mut builder, BatchBuilder::new());
                self.append_changelog(full)?;
            }
        }
        self.append_changelog(builder)?;
        self.shared.stats.lock().emitted += values.num_rows() as u64;
        Ok(())
    }

    /// Tombstones (the key, an empty value) for groups that are gone, as a ksqlDB table's
    /// changelog carries them.
    fn emit_deletions(&mut self, keys: &RecordBatch) -> Result<()> {
        if keys.num_rows() == 0 {
            return Ok(());
        }
        let keys_json = json_lines(keys)?;
        let mut builder = BatchBuilder::with_capacity(keys_json.iter().map(Vec::len).sum());
        let timestamp = self.max_event_time.max(0);
        for key in &keys_json {
            builder.push(Some(key), &[], timestamp, std::iter::empty());
        }
        self.append_changelog(builder)?;
        self.shared.stats.lock().emitted += keys.num_rows() as u64;
        Ok(())
    }

    fn append_changelog(&self, builder: BatchBuilder) -> Result<()> {
        if let Some(batch) = builder.finish() {
            self.changelog.append(0, batch)?;
        }
        Ok(())
    }

    fn set_aside_invalid(
        &mut self,
        chunk: &[(u32, RecordView<'_>)],
        invalid: &[InvalidRecord],
    ) -> Result<()> {
        if invalid.is_empty() {
            return Ok(());
        }
        let late: Vec<(u32, u64, String)> = invalid
            .iter()
            .map(|i| (i.partition, i.offset, format!("invalid: {}", i.reason)))
            .collect();
        self.write_late(chunk, &late)?;
        self.shared.stats.lock().invalid += invalid.len() as u64;
        Ok(())
    }

    /// Copies the named source records to the late topic, with their reason.
    fn write_late(
        &self,
        chunk: &[(u32, RecordView<'_>)],
        which: &[(u32, u64, String)],
    ) -> Result<()> {
        // One pass to index the chunk: a search per late record was quadratic.
        let by_position: std::collections::HashMap<(u32, u64), &RecordView<'_>> =
            chunk.iter().map(|(p, r)| ((*p, r.offset), r)).collect();
        let mut builder = BatchBuilder::new();
        for (partition, offset, reason) in which {
            let Some(record) = by_position.get(&(*partition, *offset)) else {
                continue;
            };
            let origin = format!("{}/{partition}/{offset}", self.plan.source.topic);
            let headers = [
                (REASON_HEADER, reason.as_bytes()),
                ("strata.origin", origin.as_bytes()),
            ];
            builder.push(
                record.key,
                record.value,
                record.timestamp,
                headers.into_iter(),
            );
        }
        if let Some(batch) = builder.finish() {
            self.late.append(0, batch)?;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        // Outputs first: the checkpoint may only name output that is on disk.
        self.changelog.partition(0)?.flush()?;
        self.late.partition(0)?.flush()?;
        let forwarded = self
            .forward
            .as_ref()
            .map(Forwarder::checkpoint)
            .transpose()?;
        let PipelineState {
            operator:
                OperatorState {
                    groups: state,
                    table_input,
                    topn,
                },
            join_table,
        } = self.pipeline.snapshot_state()?;
        let (covered, generations) = match &self.shared.partials {
            Some(p) => p.export(|op| op.state().clone()),
            None => (Vec::new(), Vec::new()),
        };
        let stats = {
            let mut stats = self.shared.stats.lock();
            stats.checkpoints += 1;
            stats.clone()
        };
        let checkpoint = Checkpoint {
            plan: self.plan_text.clone(),
            positions: self.positions.clone(),
            watermarks: self.watermarks.clone(),
            state,
            changelog_end: self.changelog.partition(0)?.end_offset(),
            late_end: self.late.partition(0)?.end_offset(),
            max_event_time: self.max_event_time,
            stats,
            table_positions: self.table.as_ref().map(|t| t.1.clone()).unwrap_or_default(),
            table: join_table,
            covered,
            generations,
        };
        // Parts in order (see `restore`): what came later is appended, so that checkpoints
        // written before still read.
        let changelog_end = checkpoint.changelog_end;
        let tail = CheckpointTail { table_input };
        let bytes = codec::encode(&(&checkpoint, &tail, &topn, &forwarded)).map_err(|message| {
            Error::Checkpoint {
                path: self.checkpoint_path.clone(),
                message,
            }
        })?;
        strata_log::fsutil::write_atomically(&self.checkpoint_path, &bytes)?;
        self.last_checkpoint = Instant::now();
        // Committed: the named output may have it now.
        if let Some(f) = &mut self.forward {
            f.forward(&self.changelog, changelog_end)?;
        }
        Ok(())
    }

    /// How often the view checkpoints: a view with a named output at least every
    /// [`NAMED_OUTPUT_COMMIT_INTERVAL`], since that is when its rows reach the topic.
    fn checkpoint_interval(&self) -> Duration {
        match &self.forward {
            Some(_) => self
                .config
                .checkpoint_interval
                .min(NAMED_OUTPUT_COMMIT_INTERVAL),
            None => self.config.checkpoint_interval,
        }
    }
}

/// The largest event time per source partition in `batch`.
fn event_time_by_partition(
    batch: &RecordBatch,
    plan: &ViewPlan,
    partitions: usize,
) -> Result<Vec<Option<i64>>> {
    let mut out = vec![None; partitions];
    let column = plan
        .source
        .timestamp_column
        .as_deref()
        .unwrap_or(strata_engine::operator::ROWTIME);
    let Some(times) = batch.column_by_name(column) else {
        return Ok(out);
    };
    let times = arrow::compute::cast(times, &arrow::datatypes::DataType::Int64)?;
    let times = times
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .ok_or_else(|| Error::Eval("event time is not numeric".into()))?;
    let parts = offsets_of(batch);
    for (i, (p, _)) in parts.iter().enumerate() {
        if times.is_valid(i) {
            let slot = &mut out[*p as usize];
            *slot = Some(slot.map_or(times.value(i), |m: i64| m.max(times.value(i))));
        }
    }
    Ok(out)
}

fn offsets_of(batch: &RecordBatch) -> Vec<(u32, u64)> {
    let col = |name: &str| {
        batch.column_by_name(name).and_then(|c| {
            c.as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .cloned()
        })
    };
    match (col("_partition"), col("_offset")) {
        (Some(p), Some(o)) => p
            .values()
            .iter()
            .zip(o.values().iter())
            .map(|(&p, &o)| (p as u32, o as u64))
            .collect(),
        _ => vec![(0, 0); batch.num_rows()],
    }
}
