//! The bounded driver: a view's plan over the lake, up to the manifest's horizon, with the
//! engine's own [`ViewOperator`] and no lateness cut.
//!
//! Only the columns the plan refers to are read (Parquet projection). With more than one
//! thread, files are decoded in parallel and fed to one operator: aggregates are monoids and
//! sessions merge whatever the arrival order, so the result does not depend on file order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::{Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_engine::decode::source_schema;
use strata_engine::operator::{Lateness, ROWTIME, ViewOperator};
use strata_engine::plan::{AggregateFunction, ViewPlan};

use crate::archive::{TIMESTAMP_COLUMN, rename_field};
use crate::error::{Error, IoContext, ParquetContext, Result};
use crate::lake::{self, Problem};
use crate::manifest::{Layout, Manifest};

/// Rows per decoded Parquet batch.
const READ_BATCH_ROWS: usize = 64 * 1024;

/// Progress of a run, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Files read so far.
    pub files_done: usize,
    /// Files to read.
    pub files_total: usize,
    /// Rows read so far.
    pub rows_read: u64,
    /// Rows to read.
    pub rows_total: u64,
}

/// The result of a bounded run.
#[derive(Debug)]
pub struct BoundedResult {
    /// The view's rows.
    pub rows: RecordBatch,
    /// The aggregating view's state, which the serving layer merges with speed-layer
    /// partials (`None` for filter/projection views).
    pub operator: Option<ViewOperator>,
    /// Per partition, the offset below which the input was complete.
    pub horizon: Vec<(u32, u64)>,
    /// Lake rows read.
    pub input_rows: u64,
    /// Lake files read.
    pub files: usize,
}

/// Runs `plan` over the lake at `lake_dir` with `threads` decoding threads (≥ 1), calling
/// `progress` after every file.
///
/// # Errors
/// [`Error::Unsupported`] for views with a join or over a topic archived without a schema;
/// [`Error::ForeignFiles`] / [`Error::CorruptFile`] when the topic's lake directory holds files
/// that do not belong there or damaged ones (each named); Parquet, I/O and engine errors.
pub fn run_bounded(
    plan: &ViewPlan,
    lake_dir: &Path,
    threads: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<BoundedResult> {
    if plan.join.is_some() {
        return Err(Error::Unsupported {
            view: plan.name.clone(),
            reason: "stream-table joins look tables up at processing time, which a batch recomputation cannot reproduce; serve this view from the speed layer only (Kappa)".into(),
        });
    }
    let topic = &plan.source.topic;
    let manifest = Manifest::load(lake_dir, topic)?;
    if let Some(m) = &manifest
        && m.layout == Layout::Raw
    {
        return Err(Error::Unsupported {
            view: plan.name.clone(),
            reason: format!(
                "topic {topic:?} was archived without a schema; declare its schema before archiving"
            ),
        });
    }
    let scan = lake::scan(lake_dir, topic, manifest.as_ref())?;
    let mut foreign = Vec::new();
    for problem in scan.problems {
        match problem {
            Problem::Foreign(path) => foreign.push(path),
            Problem::Corrupt { path, reason } => {
                return Err(Error::CorruptFile { path, reason });
            }
        }
    }
    if !foreign.is_empty() {
        return Err(Error::ForeignFiles { paths: foreign });
    }

    let full_schema = source_schema(&plan.source);
    let needed = needed_columns(plan, &full_schema);
    let input_schema: SchemaRef = Arc::new(Schema::new(
        full_schema
            .fields()
            .iter()
            .filter(|f| needed.contains(f.name().as_str()))
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
    ));
    let mut operator =
        ViewOperator::new(plan.clone(), Arc::clone(&input_schema), Lateness::Ignore)?;
    // Never advance the watermark: every window stays open, so late records still merge
    // into their windows and sessions, and nothing expires.
    operator.set_retention_ms(i64::MAX);

    let topic_dir = lake_dir.join(topic);
    let files: Vec<(PathBuf, u64)> = manifest
        .as_ref()
        .map(|m| {
            m.files()
                .map(|(_, f)| (topic_dir.join(&f.path), f.rows))
                .collect()
        })
        .unwrap_or_default();
    let rows_total: u64 = files.iter().map(|(_, r)| r).sum();
    let lake_names: Vec<String> = input_schema
        .fields()
        .iter()
        .map(|f| {
            if f.name() == ROWTIME {
                TIMESTAMP_COLUMN.to_owned()
            } else {
                f.name().clone()
            }
        })
        .collect();

    let mut passthrough = Vec::new();
    let mut state = Progress {
        files_done: 0,
        files_total: files.len(),
        rows_read: 0,
        rows_total,
    };
    let mut consume = |batch: RecordBatch, operator: &mut ViewOperator| -> Result<()> {
        let processed = operator.process(&batch)?;
        if let Some(rows) = processed.passthrough {
            passthrough.push(rows);
        }
        Ok(())
    };
    let threads = threads.max(1).min(files.len().max(1));
    if threads == 1 {
        for (path, _) in &files {
            read_file(path, &lake_names, &input_schema, &mut |b| {
                state.rows_read += b.num_rows() as u64;
                consume(b, &mut operator)
            })?;
            state.files_done += 1;
            progress(state);
        }
    } else {
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::sync_channel::<Result<Option<RecordBatch>>>(threads * 2);
        std::thread::scope(|scope| -> Result<()> {
            for _ in 0..threads {
                let tx = tx.clone();
                let (next, files, lake_names, input_schema) =
                    (&next, &files, &lake_names, &input_schema);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, _)) = files.get(i) else { break };
                        let r = read_file(path, lake_names, input_schema, &mut |b| {
                            tx.send(Ok(Some(b))).map_err(|_| stopped())
                        });
                        let msg = match r {
                            Ok(()) => Ok(None),
                            Err(e) => Err(e),
                        };
                        let failed = msg.is_err();
                        if tx.send(msg).is_err() || failed {
                            // Stop the others too: the run fails anyway.
                            next.store(files.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut first_error = None;
            for msg in rx {
                match msg {
                    Ok(Some(batch)) => {
                        if first_error.is_none() {
                            state.rows_read += batch.num_rows() as u64;
                            if let Err(e) = consume(batch, &mut operator) {
                                next.store(files.len(), Ordering::Relaxed);
                                first_error = Some(e);
                            }
                        }
                    }
                    Ok(None) => {
                        state.files_done += 1;
                        progress(state);
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            first_error.map_or(Ok(()), Err)
        })?;
    }

    let (rows, operator) = if plan.is_aggregating() {
        (operator.snapshot()?, Some(operator))
    } else {
        let schema = operator.output_schema()?;
        (concat_batches(&schema, &passthrough)?, None)
    };
    Ok(BoundedResult {
        rows,
        operator,
        horizon: manifest.as_ref().map(Manifest::horizon).unwrap_or_default(),
        input_rows: state.rows_read,
        files: files.len(),
    })
}

fn stopped() -> Error {
    Error::Engine(strata_engine::Error::Stopped)
}

/// Reads the `lake_names` columns of one lake file, renamed to `schema`, batch by batch.
fn read_file(
    path: &Path,
    lake_names: &[String],
    schema: &SchemaRef,
    each: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let file = std::fs::File::open(path).at(path)?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::CorruptFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let file_schema = Arc::clone(builder.schema());
    let mut indices = Vec::with_capacity(lake_names.len());
    for (name, field) in lake_names.iter().zip(schema.fields()) {
        let i = file_schema.index_of(name).map_err(|_| Error::CorruptFile {
            path: path.to_owned(),
            reason: format!("no column {name:?}: the file does not have the topic's schema"),
        })?;
        let found = file_schema.field(i).data_type();
        if found != field.data_type() {
            return Err(Error::CorruptFile {
                path: path.to_owned(),
                reason: format!(
                    "column {name:?} is {found}, the schema says {}",
                    field.data_type()
                ),
            });
        }
        indices.push(i);
    }
    // The projection yields columns in file order; map them to the schema's order.
    let mut sorted = indices.clone();
    sorted.sort_unstable();
    let order: Vec<usize> = indices
        .iter()
        .map(|i| sorted.binary_search(i).unwrap_or_default())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .at(path)?;
    for batch in reader {
        let batch = batch.map_err(|e| Error::CorruptFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let columns = order.iter().map(|&i| Arc::clone(batch.column(i))).collect();
        each(RecordBatch::try_new(Arc::clone(schema), columns)?)?;
    }
    Ok(())
}

/// The source columns `plan` refers to (event time and, for EARLIEST/LATEST, the position
/// columns included).
///
/// Column references are found in the plan's serde form (`{"column": name}`), which cannot
/// miss an expression kind added to the engine later: a missed column would fail the run.
fn needed_columns(plan: &ViewPlan, schema: &Schema) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Ok(value) = serde_json::to_value(plan) {
        collect_columns(&value, &mut names);
    }
    names.insert(
        plan.source
            .timestamp_column
            .clone()
            .unwrap_or_else(|| ROWTIME.to_owned()),
    );
    if plan.aggregates.iter().any(|a| {
        matches!(
            a.function,
            AggregateFunction::Earliest | AggregateFunction::Latest
        )
    }) {
        names.insert("_partition".into());
        names.insert("_offset".into());
    }
    names.retain(|n| schema.index_of(n).is_ok());
    names
}

fn collect_columns(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if map.len() == 1
                && let Some(serde_json::Value::String(name)) = map.get("column")
            {
                out.insert(name.clone());
            }
            for v in map.values() {
                collect_columns(v, out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                collect_columns(v, out);
            }
        }
        _ => {}
    }
}

/// The schema of lake files of `schema`'s topic as the engine sees it (`_timestamp` →
/// `rowtime`).
pub fn engine_schema(lake_schema: &SchemaRef) -> SchemaRef {
    rename_field(lake_schema, TIMESTAMP_COLUMN, ROWTIME)
}
