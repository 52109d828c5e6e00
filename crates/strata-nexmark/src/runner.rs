//! Running a query: the engine's [`Pipeline`] of the view a query compiles to — the one the
//! streaming driver runs — fed either with Arrow batches straight from the generator
//! (in-process) or with JSON records read from the topics of a log and decoded by the pipeline
//! (`--from-log`), timed, with the latency of every emitted row.
//!
//! Event time is in order (the reference's default: no out-of-order groups), so the
//! watermark is the latest event time read. A stream–table join applies the table's records
//! before the stream's: in-process, one chunk ahead of the stream (the generator may name a
//! seller up to ten persons before the person's own event, far less than a chunk); from the
//! log, every table record in the topic — what the streaming driver does with the records
//! that have arrived.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, new_null_array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use strata_engine::decode::source_schema;
use strata_engine::json_lines;
use strata_engine::operator::ROWTIME;
use strata_engine::pipeline::{Change, Output, Pipeline, PipelineOptions};
use strata_engine::plan::{EmitMode, SourceDef, ViewPlan};
use strata_engine::sql;
use strata_engine::topn::TopNPlan;
use strata_log::{BatchBuilder, Durability, Log, LogOptions, ReadLimits, TopicConfig};

use crate::columns::{BatchMaker, EventBatches};
use crate::config::NexmarkConfig;
use crate::error::{NexmarkError, Result};
use crate::generator::NexmarkGenerator;
use crate::json;
use crate::model::{Event, Kind};
use crate::queries;

/// A query compiled for the engine.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// An ordinary view (stateless, aggregating, joined).
    View(ViewPlan),
    /// A window Top-N.
    TopN(TopNPlan),
    /// Views over views: `first` reads the input, each of `then` reads the one before it as
    /// a table (`FROM view`; Nexmark q4 averages per category the changing maxima per auction).
    Chain {
        /// The view that reads the streams.
        first: ViewPlan,
        /// The views after it, in order.
        then: Vec<ViewPlan>,
    },
}

impl Compiled {
    /// The plan that reads the input.
    pub fn view(&self) -> &ViewPlan {
        match self {
            Compiled::View(p) | Compiled::Chain { first: p, .. } => p,
            Compiled::TopN(t) => &t.inner,
        }
    }
}

/// Compiles query `name` (`q0` … `q11`).
///
/// # Errors
/// [`NexmarkError::UnknownQuery`], or the engine's planning error.
pub fn compile(name: &str) -> Result<Compiled> {
    let text = queries::sql_of(name)?;
    if sql::is_window_topn(text) {
        let catalog = queries::catalog()?;
        return sql::parse_window_topn(text, &catalog)
            .map(Compiled::TopN)
            .map_err(|source| NexmarkError::Engine {
                query: name.into(),
                source,
            });
    }
    let mut plans = queries::plans(name, text)?.into_iter();
    let first = plans.next().ok_or_else(|| NexmarkError::Engine {
        query: name.into(),
        source: strata_engine::Error::plan("the query file holds no SELECT"),
    })?;
    let then: Vec<ViewPlan> = plans.collect();
    Ok(if then.is_empty() {
        Compiled::View(first)
    } else {
        Compiled::Chain { first, then }
    })
}

/// The topic of query 13's bounded side input.
pub const SIDE_INPUT_TOPIC: &str = "side_input";
/// The number of rows of the side input: keys 0 to 9 999, each with its key as text.
pub const SIDE_INPUT_ROWS: i64 = 10_000;

/// What a query's joined table is filled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableInput {
    /// The events of a kind (persons or auctions by id).
    Events(Kind),
    /// The bounded side input, written before the events.
    SideInput,
}

fn table_input(source: &SourceDef) -> Result<TableInput> {
    if source.topic == SIDE_INPUT_TOPIC {
        return Ok(TableInput::SideInput);
    }
    kind_of(source).map(TableInput::Events)
}

/// The side input as a batch of the `side_input` table's columns (`key`, `value`).
///
/// # Errors
/// Arrow's (not expected: the columns are built to match).
pub fn side_input_batch() -> Result<RecordBatch> {
    let keys: Int64Array = (0..SIDE_INPUT_ROWS).collect();
    let values: StringArray = (0..SIDE_INPUT_ROWS).map(|k| Some(k.to_string())).collect();
    Ok(RecordBatch::try_from_iter([
        ("key", Arc::new(keys) as ArrayRef),
        ("value", Arc::new(values) as ArrayRef),
    ])?)
}

fn kind_of(source: &SourceDef) -> Result<Kind> {
    Kind::ALL
        .into_iter()
        .find(|k| k.name() == source.topic)
        .ok_or_else(|| NexmarkError::BadSetting {
            setting: "query",
            reason: format!(
                "reads topic {}, which is not person, auction or bid",
                source.topic
            ),
        })
}

/// One query's pipeline (its operator and its join table, if any).
pub struct QueryRun {
    name: String,
    pipeline: Pipeline,
    stream: Kind,
    table: Option<TableInput>,
    /// The views reading this one's results, in order (a [`Compiled::Chain`]).
    downstream: Vec<Downstream>,
    collect: Option<Vec<RecordBatch>>,
}

impl std::fmt::Debug for QueryRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRun")
            .field("query", &self.name)
            .finish()
    }
}

impl QueryRun {
    /// Compiles query `name`; with `collect`, every emitted batch is kept for
    /// [`QueryRun::results`].
    ///
    /// # Errors
    /// As [`compile`]; a query reading a topic other than the three.
    pub fn new(name: &str, collect: bool) -> Result<Self> {
        let compiled = compile(name)?;
        let engine = |source| NexmarkError::Engine {
            query: name.into(),
            source,
        };
        let view = compiled.view();
        let stream = kind_of(&view.source)?;
        let table = view
            .join
            .as_ref()
            .map(|j| table_input(&j.table))
            .transpose()?;
        let mut downstream = Vec::new();
        let plan = match compiled {
            Compiled::View(plan) => plan,
            Compiled::Chain { first, then } => {
                for plan in then {
                    downstream.push(Downstream::new(plan).map_err(engine)?);
                }
                first
            }
            Compiled::TopN(plan) => plan.into_view(),
        };
        let pipeline = Pipeline::new(plan, PipelineOptions::streaming()).map_err(engine)?;
        Ok(QueryRun {
            name: name.into(),
            pipeline,
            stream,
            table,
            downstream,
            collect: collect.then(Vec::new),
        })
    }

    /// The stream the query reads.
    pub fn stream(&self) -> Kind {
        self.stream
    }

    /// The table it joins, if any.
    pub fn table(&self) -> Option<TableInput> {
        self.table
    }

    fn engine(&self, source: strata_engine::Error) -> NexmarkError {
        NexmarkError::Engine {
            query: self.name.clone(),
            source,
        }
    }

    /// Applies records of the joined table.
    ///
    /// # Errors
    /// The engine's.
    pub fn apply_table(&mut self, batch: &RecordBatch) -> Result<()> {
        let r = self.pipeline.apply_table_batch(batch);
        r.map_err(|e| self.engine(e))
    }

    /// Processes a batch of the stream, then moves the watermark to `watermark`; returns the
    /// number of rows emitted.
    ///
    /// # Errors
    /// The engine's.
    pub fn process(&mut self, batch: &RecordBatch, watermark: i64) -> Result<usize> {
        let out = self
            .pipeline
            .process(batch, &[])
            .map_err(|e| engine_err(&self.name, e))?;
        self.advance(out, watermark)
    }

    /// Decodes records of the stream and processes them, then moves the watermark to
    /// `watermark`; returns the number of rows emitted.
    fn process_records(
        &mut self,
        records: &[(u32, strata_log::RecordView<'_>)],
        watermark: i64,
    ) -> Result<usize> {
        let step = self
            .pipeline
            .process_records(records)
            .map_err(|e| engine_err(&self.name, e))?;
        self.advance(step.output, watermark)
    }

    /// Closes every window (end of input); returns the rows emitted.
    ///
    /// # Errors
    /// The engine's.
    pub fn finish(&mut self) -> Result<usize> {
        self.advance(Output::default(), i64::MAX)
    }

    /// Moves the watermark after `out` was emitted, and hands everything down the chain.
    fn advance(&mut self, mut out: Output, watermark: i64) -> Result<usize> {
        let closed = self
            .pipeline
            .advance(watermark)
            .map_err(|e| engine_err(&self.name, e))?;
        out.append(closed);
        let out =
            flow(&mut self.downstream, out, watermark).map_err(|e| engine_err(&self.name, e))?;
        Ok(self.emit(out))
    }

    fn emit(&mut self, out: Output) -> usize {
        let rows = out.row_count();
        if let Some(all) = &mut self.collect {
            all.extend(out.into_rows().map(|(_, values)| values));
        }
        rows
    }

    /// The query's result: every emitted row, or for an EMIT CHANGES aggregation (its rows
    /// change) the current row of every group.
    ///
    /// # Errors
    /// The engine's.
    pub fn results(&self) -> Result<Vec<RecordBatch>> {
        let last = self
            .downstream
            .last()
            .map_or(&self.pipeline, |d| &d.pipeline);
        let plan = last.plan();
        if !plan.is_ranked() && plan.is_aggregating() && plan.emit != EmitMode::Final {
            let rows = last.current_rows().map_err(|e| engine_err(&self.name, e))?;
            return Ok(vec![rows]);
        }
        Ok(self.collect.clone().unwrap_or_default())
    }
}

/// Hands the first view's output down the chain; what the last view emits.
fn flow(
    downstream: &mut [Downstream],
    first: Output,
    watermark: i64,
) -> strata_engine::Result<Output> {
    let mut out = first;
    for d in downstream {
        let mut next = if out.is_empty() {
            Output::default()
        } else {
            let (batch, tombstones) = d.input_of(&out, watermark)?;
            d.pipeline.process(&batch, &tombstones)?
        };
        next.append(d.pipeline.advance(watermark)?);
        out = next;
    }
    Ok(out)
}

/// A view reading the previous view's results (`FROM view`). Through a node it reads the
/// view's changelog topic; here the rows are handed over as Arrow, keyed as the changelog
/// keys them (the group key as JSON), deletions as tombstones.
struct Downstream {
    pipeline: Pipeline,
    /// The decoded schema of the previous view read as a source.
    schema: SchemaRef,
    /// The offset the next handed-over row gets (`_offset`, as in the changelog).
    next_offset: i64,
}

impl Downstream {
    fn new(plan: ViewPlan) -> strata_engine::Result<Self> {
        let schema = source_schema(&plan.source);
        Ok(Downstream {
            pipeline: Pipeline::new(plan, PipelineOptions::streaming())?,
            schema,
            next_offset: 0,
        })
    }

    /// The previous view's output as a decoded batch of this view's source, and the indexes
    /// of its tombstones (after the rows, as the changelog has them within a micro-batch).
    fn input_of(
        &mut self,
        out: &Output,
        watermark: i64,
    ) -> strata_engine::Result<(RecordBatch, Vec<usize>)> {
        let mut parts = Vec::with_capacity(out.changes.len());
        let mut rows = 0;
        for (keys, values) in out.rows() {
            parts.push(self.rows(keys, Some(values), values.num_rows(), watermark)?);
            rows += values.num_rows();
        }
        let mut tombstones = Vec::new();
        for change in &out.changes {
            if let Change::Removed(removed) = change {
                tombstones.extend(rows..rows + removed.num_rows());
                rows += removed.num_rows();
                parts.push(self.rows(Some(removed), None, removed.num_rows(), watermark)?);
            }
        }
        Ok((concat_batches(&self.schema, &parts)?, tombstones))
    }

    /// `n` rows of the source schema: value columns from `values` (NULL for a tombstone),
    /// the record key from `keys`, the record time at the watermark.
    fn rows(
        &mut self,
        keys: Option<&RecordBatch>,
        values: Option<&RecordBatch>,
        n: usize,
        watermark: i64,
    ) -> strata_engine::Result<RecordBatch> {
        let first_offset = self.next_offset;
        self.next_offset += n as i64;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.schema.fields() {
            let column: ArrayRef = match field.name().as_str() {
                ROWTIME => cast(
                    &Int64Array::from(vec![watermark.max(0); n]),
                    field.data_type(),
                )?,
                "_partition" => Arc::new(Int64Array::from(vec![0; n])),
                "_offset" => Arc::new(Int64Array::from_iter_values(
                    first_offset..first_offset + n as i64,
                )),
                "_key" => match keys {
                    Some(k) => Arc::new(
                        json_lines(k)?
                            .into_iter()
                            .map(|line| Some(String::from_utf8_lossy(&line).into_owned()))
                            .collect::<StringArray>(),
                    ),
                    None => new_null_array(field.data_type(), n),
                },
                name => match values.and_then(|v| v.column_by_name(name)) {
                    Some(c) => cast(c, field.data_type())?,
                    None => new_null_array(field.data_type(), n),
                },
            };
            columns.push(column);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

fn engine_err(query: &str, source: strata_engine::Error) -> NexmarkError {
    NexmarkError::Engine {
        query: query.into(),
        source,
    }
}

/// Pre-generates `events` events in chunks of `chunk` as engine batches.
///
/// # Errors
/// An invalid config.
pub fn generate_batches(
    config: &NexmarkConfig,
    events: u64,
    chunk: usize,
) -> Result<Vec<EventBatches>> {
    let mut generator = NexmarkGenerator::new(config.clone(), Some(events))?;
    let mut maker = BatchMaker::new(queries::streams()?);
    let mut out = Vec::new();
    let mut buf: Vec<Event> = Vec::with_capacity(chunk);
    loop {
        buf.clear();
        buf.extend(generator.by_ref().take(chunk));
        if buf.is_empty() {
            return Ok(out);
        }
        out.push(maker.make(&buf)?);
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// The query.
    pub query: String,
    /// Events of the input (all three kinds).
    pub events: u64,
    /// Processing time.
    pub elapsed: Duration,
    /// Rows emitted.
    pub rows_out: u64,
    /// Latencies from ingestion to emit, one per emitted row (sorted).
    latencies: Vec<Duration>,
}

impl RunStats {
    /// Events per second.
    pub fn events_per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile (0..=1) of the latency of emitted rows; `None` without output.
    pub fn latency_quantile(&self, q: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        Some(self.latencies[i])
    }
}

/// Per emitted row, the time from the ingestion of the micro-batch that produced it to its
/// emission (compressed: one entry per micro-batch and row count, expanded at the end).
#[derive(Default)]
struct Latencies(Vec<(Duration, usize)>);

impl Latencies {
    fn add(&mut self, d: Duration, rows: usize) {
        if rows > 0 {
            self.0.push((d, rows));
        }
    }

    fn sorted(mut self) -> Vec<Duration> {
        self.0.sort();
        // Cap the expansion: quantiles of a sample of the rows are as good.
        let total: usize = self.0.iter().map(|e| e.1).sum();
        let step = total.div_ceil(1_000_000).max(1);
        let mut out = Vec::new();
        let mut seen = 0usize;
        for (d, n) in self.0 {
            for _ in 0..n {
                if seen.is_multiple_of(step) {
                    out.push(d);
                }
                seen += 1;
            }
        }
        out
    }
}

/// Runs query `name` in-process over pre-generated `chunks`; the results are kept when
/// `collect`.
///
/// # Errors
/// The engine's.
pub fn run_in_process(
    name: &str,
    chunks: &[EventBatches],
    collect: bool,
) -> Result<(RunStats, QueryRun)> {
    let mut run = QueryRun::new(name, collect)?;
    let mut lat = Latencies::default();
    let start = Instant::now();
    let mut rows_out = 0u64;
    let table = match run.table() {
        Some(TableInput::Events(t)) => Some(t),
        Some(TableInput::SideInput) => {
            run.apply_table(&side_input_batch()?)?;
            None
        }
        None => None,
    };
    if let (Some(t), Some(first)) = (table, chunks.first()) {
        run.apply_table(first.of(t))?;
    }
    for (i, chunk) in chunks.iter().enumerate() {
        let t0 = Instant::now();
        if let (Some(t), Some(next)) = (table, chunks.get(i + 1)) {
            run.apply_table(next.of(t))?;
        }
        let rows = run.process(chunk.of(run.stream()), chunk.max_time)?;
        lat.add(t0.elapsed(), rows);
        rows_out += rows as u64;
    }
    let t0 = Instant::now();
    let rows = run.finish()?;
    lat.add(t0.elapsed(), rows);
    rows_out += rows as u64;
    let elapsed = start.elapsed();
    let events = chunks.iter().map(|c| c.len() as u64).sum();
    Ok((
        RunStats {
            query: name.into(),
            events,
            elapsed,
            rows_out,
            latencies: lat.sorted(),
        },
        run,
    ))
}

/// A temporary log holding `events` generated events as JSON in topics `person`,
/// `auction` and `bid` (one partition each, record timestamp = event time), and the side
/// input in topic `side_input`.
///
/// # Errors
/// Log errors.
pub fn fill_log(dir: &std::path::Path, config: &NexmarkConfig, events: u64) -> Result<Arc<Log>> {
    let log = Log::open(
        dir,
        LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        },
    )?;
    let topics = Kind::ALL.map(|k| {
        log.create_topic(
            k.name(),
            1,
            TopicConfig {
                durability: Durability::Never,
                ..TopicConfig::default()
            },
        )
    });
    let [p, a, b] = topics;
    let topics = [p?, a?, b?];
    let side = log.create_topic(
        SIDE_INPUT_TOPIC,
        1,
        TopicConfig {
            durability: Durability::Never,
            ..TopicConfig::default()
        },
    )?;
    let mut builder = BatchBuilder::with_capacity(1 << 20);
    for k in 0..SIDE_INPUT_ROWS {
        let value = format!("{{\"key\":{k},\"value\":\"{k}\"}}");
        builder.push(None, value.as_bytes(), 0, std::iter::empty());
    }
    if let Some(batch) = builder.finish() {
        side.append(0, batch)?;
    }
    let generator = NexmarkGenerator::new(config.clone(), Some(events))?;
    let mut builders: [BatchBuilder; 3] =
        std::array::from_fn(|_| BatchBuilder::with_capacity(1 << 20));
    let mut counts = [0usize; 3];
    let mut value = String::with_capacity(1024);
    for e in generator {
        let k = e.kind() as usize;
        value.clear();
        json::write_value(&e, &mut value);
        builders[k].push(None, value.as_bytes(), e.date_time(), std::iter::empty());
        counts[k] += 1;
        if counts[k] == 4096 {
            let full = std::mem::replace(&mut builders[k], BatchBuilder::with_capacity(1 << 20));
            if let Some(batch) = full.finish() {
                topics[k].append(0, batch)?;
            }
            counts[k] = 0;
        }
    }
    for (k, b) in builders.into_iter().enumerate() {
        if let Some(batch) = b.finish() {
            topics[k].append(0, batch)?;
        }
    }
    Ok(log)
}

/// Records per micro-batch read from the log (the streaming driver's default).
pub const LOG_BATCH: u64 = 8192;

/// Runs query `name` over the topics of `log`: read, decode JSON, process; `events` is the
/// number of events the log holds (all kinds), for the rate.
///
/// # Errors
/// Log and engine errors.
pub fn run_from_log(
    name: &str,
    log: &Log,
    events: u64,
    collect: bool,
) -> Result<(RunStats, QueryRun)> {
    let mut run = QueryRun::new(name, collect)?;
    let mut lat = Latencies::default();
    let start = Instant::now();
    let mut rows_out = 0u64;
    let mut table_reader = match &run.pipeline.plan().join {
        Some(join) => {
            let partition = Arc::clone(log.topic(&join.table.topic)?.partition(0)?);
            Some((partition, 0u64))
        }
        None => None,
    };
    let stream = Arc::clone(log.topic(run.stream().name())?.partition(0)?);
    let limits = ReadLimits {
        max_records: LOG_BATCH,
        max_bytes: 64 << 20,
    };
    let mut offset = 0;
    let mut watermark = i64::MIN;
    while offset < stream.end_offset() {
        let t0 = Instant::now();
        if let Some((partition, table_offset)) = &mut table_reader {
            // The table records that have arrived, as the streaming driver applies them.
            while *table_offset < partition.end_offset() {
                let fetch = partition.read(*table_offset, limits)?;
                let records = fetch
                    .records()
                    .map(|r| r.map(|r| (0u32, r)))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                run.pipeline
                    .apply_table_records(&records)
                    .map_err(|e| engine_err(name, e))?;
                *table_offset = fetch.next_offset();
            }
        }
        let fetch = stream.read(offset, limits)?;
        let records = fetch
            .records()
            .map(|r| r.map(|r| (0u32, r)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if let Some(last) = records.last() {
            watermark = watermark.max(last.1.timestamp);
        }
        let rows = run.process_records(&records, watermark)?;
        lat.add(t0.elapsed(), rows);
        rows_out += rows as u64;
        offset = fetch.next_offset();
    }
    let t0 = Instant::now();
    let rows = run.finish()?;
    lat.add(t0.elapsed(), rows);
    rows_out += rows as u64;
    Ok((
        RunStats {
            query: name.into(),
            events,
            elapsed: start.elapsed(),
            rows_out,
            latencies: lat.sorted(),
        },
        run,
    ))
}
