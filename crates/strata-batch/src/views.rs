//! Stored batch views: `<views>/<view>/batch-<epoch>/part-0.parquet` plus `horizon.json`, and
//! the reader API of the serving layer.
//!
//! A run computes the view with the bounded driver, writes its epoch into a temp directory,
//! fsyncs it and renames it into place: an epoch directory exists whole or not at all. The
//! newest epoch is the view's batch view. Readers hold an [`Arc<BatchEpoch>`]; an epoch that a
//! newer one replaced is deleted when its last handle drops (or at once if none is held).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use strata_log::sync::unmodelled::Mutex;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use strata_engine::codec;
use strata_engine::decode::source_schema;
use strata_engine::operator::{GroupState, Lateness, ViewOperator};
use strata_engine::plan::ViewPlan;

use crate::bounded::{Progress, run_bounded};
use crate::error::{Error, IoContext, ParquetContext, Result};
use crate::fsutil::{now_ms, sync_dir, write_atomically};
use crate::metrics::BatchMetrics;

/// Name of an epoch's data file.
pub const PART_FILE: &str = "part-0.parquet";
/// Name of an epoch's horizon file.
pub const HORIZON_FILE: &str = "horizon.json";
/// Name of an epoch's aggregation state (the engine's checkpoint envelope), which the
/// serving layer merges with speed-layer partials.
pub const STATE_FILE: &str = "state.bin";

/// What a batch view covers: written next to its rows as `horizon.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Horizon {
    /// Format version (1).
    pub version: u32,
    /// The view.
    pub view: String,
    /// The epoch (1, 2, …; increasing per view).
    pub epoch: u64,
    /// The source topic.
    pub topic: String,
    /// Per partition, the offset below which every record of the log is counted. Each is a
    /// segment boundary, so the speed layer's generations (partition, segment base offset)
    /// at or above it are exactly what the batch view lacks.
    pub partitions: Vec<HorizonPartition>,
    /// Rows of the view.
    pub rows: u64,
    /// Lake rows read.
    pub input_rows: u64,
    /// When the run finished (ms since the epoch).
    pub created_at_ms: i64,
    /// The plan the rows were computed with (a changed view definition is a new plan).
    pub plan: ViewPlan,
}

/// One partition's horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HorizonPartition {
    /// The partition.
    pub partition: u32,
    /// Offsets below it are covered.
    pub offset: u64,
}

impl Horizon {
    /// The covered offset of partition `p` (0 when the view has not seen it).
    pub fn offset(&self, p: u32) -> u64 {
        self.partitions
            .iter()
            .find(|h| h.partition == p)
            .map_or(0, |h| h.offset)
    }
}

/// One published epoch of a batch view, loaded. Hold the `Arc` while using it: the directory
/// stays until the last handle of a replaced epoch drops.
#[derive(Debug)]
pub struct BatchEpoch {
    dir: PathBuf,
    horizon: Horizon,
    rows: RecordBatch,
    state: Option<ViewOperator>,
    obsolete: AtomicBool,
}

impl BatchEpoch {
    /// The epoch number.
    pub fn epoch(&self) -> u64 {
        self.horizon.epoch
    }

    /// What it covers.
    pub fn horizon(&self) -> &Horizon {
        &self.horizon
    }

    /// The view's rows.
    pub fn rows(&self) -> &RecordBatch {
        &self.rows
    }

    /// The epoch's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The aggregation state the rows were computed from (groups with their mergeable
    /// accumulators), for an exact merge with the speed layer; `None` for views that do not
    /// aggregate.
    pub fn state(&self) -> Option<&ViewOperator> {
        self.state.as_ref()
    }

    fn load(dir: &Path) -> Result<BatchEpoch> {
        let hpath = dir.join(HORIZON_FILE);
        let bytes = fs::read(&hpath).at(&hpath)?;
        let horizon: Horizon = serde_json::from_slice(&bytes).map_err(|e| Error::Metadata {
            path: hpath.clone(),
            reason: e.to_string(),
        })?;
        let path = dir.join(PART_FILE);
        let file = fs::File::open(&path).at(&path)?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::CorruptFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let schema = Arc::clone(builder.schema());
        let batches = builder
            .build()
            .at(&path)?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = concat_batches(&schema, &batches)?;
        let state = load_state(dir, &horizon.plan)?;
        Ok(BatchEpoch {
            dir: dir.to_owned(),
            horizon,
            rows,
            state,
            obsolete: AtomicBool::new(false),
        })
    }
}

impl strata_engine::generations::BatchView for BatchEpoch {
    fn epoch(&self) -> u64 {
        self.horizon.epoch
    }

    fn created_at_ms(&self) -> i64 {
        self.horizon.created_at_ms
    }

    fn state(&self) -> Option<&ViewOperator> {
        self.state.as_ref()
    }
}

impl Drop for BatchEpoch {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            remove_epoch_dir(&self.dir);
        }
    }
}

/// The epoch's aggregation state, as an operator of its plan ready to be merged from.
fn load_state(dir: &Path, plan: &ViewPlan) -> Result<Option<ViewOperator>> {
    let path = dir.join(STATE_FILE);
    if !plan.is_aggregating() {
        return Ok(None);
    }
    let bytes = fs::read(&path).at(&path)?;
    let state: GroupState = codec::decode(&bytes).map_err(|reason| Error::CorruptFile {
        path: path.clone(),
        reason,
    })?;
    let mut operator =
        ViewOperator::new(plan.clone(), source_schema(&plan.source), Lateness::Ignore)?;
    operator.set_retention_ms(i64::MAX);
    operator.restore(state)?;
    Ok(Some(operator))
}

fn remove_epoch_dir(dir: &Path) {
    match fs::remove_dir_all(dir) {
        Ok(()) => tracing::debug!(dir = %dir.display(), "removed a replaced batch-view epoch"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a replaced batch-view epoch")
        }
    }
}

/// Options of one batch-view run.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Parquet decoding threads (0: all cores).
    pub threads: usize,
    /// Called after each lake file (for a progress bar).
    pub progress: Option<&'a mut dyn FnMut(Progress)>,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("threads", &self.threads)
            .finish()
    }
}

#[derive(Default)]
struct ViewEntry {
    latest: Option<Arc<BatchEpoch>>,
    /// Every epoch handed out in this process, to mark replaced ones obsolete.
    handed_out: BTreeMap<u64, Weak<BatchEpoch>>,
    run_lock: Arc<Mutex<()>>,
}

/// The batch views of a node: runs them and serves their latest epochs.
#[derive(Debug)]
pub struct BatchViewStore {
    views_dir: PathBuf,
    lake_dir: PathBuf,
    metrics: Arc<BatchMetrics>,
    views: Mutex<HashMap<String, ViewEntry>>,
}

impl std::fmt::Debug for ViewEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewEntry")
            .field("latest", &self.latest.as_ref().map(|e| e.epoch()))
            .finish()
    }
}

impl BatchViewStore {
    /// A store keeping views in `views_dir` and reading the lake at `lake_dir`.
    ///
    /// # Errors
    /// I/O errors creating `views_dir`.
    pub fn open(
        views_dir: impl Into<PathBuf>,
        lake_dir: impl Into<PathBuf>,
        metrics: Arc<BatchMetrics>,
    ) -> Result<Self> {
        let views_dir = views_dir.into();
        fs::create_dir_all(&views_dir).at(&views_dir)?;
        Ok(BatchViewStore {
            views_dir,
            lake_dir: lake_dir.into(),
            metrics,
            views: Mutex::new(HashMap::new()),
        })
    }

    /// The views directory.
    pub fn views_dir(&self) -> &Path {
        &self.views_dir
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<BatchMetrics> {
        &self.metrics
    }

    /// Computes `plan` over the lake up to the manifest's horizon and publishes it as the
    /// view's next epoch. Runs of the same view are serialised.
    ///
    /// # Errors
    /// Those of the bounded driver (`run_bounded`), and I/O or Parquet errors writing the
    /// epoch; on error the previous epoch stays the view's batch view.
    pub fn run(&self, plan: &ViewPlan, options: RunOptions<'_>) -> Result<Arc<BatchEpoch>> {
        let result = self.run_inner(plan, options);
        match &result {
            Ok(_) => BatchMetrics::add(&self.metrics.batch_runs, 1),
            Err(e) => {
                BatchMetrics::add(&self.metrics.batch_run_errors, 1);
                tracing::error!(view = %plan.name, error = %e, "batch view run failed");
            }
        }
        result
    }

    fn run_inner(&self, plan: &ViewPlan, mut options: RunOptions<'_>) -> Result<Arc<BatchEpoch>> {
        let run_lock = {
            let mut views = self.views.lock();
            Arc::clone(&views.entry(plan.name.clone()).or_default().run_lock)
        };
        let _running = run_lock.lock();
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut no_progress = |_: Progress| {};
        let progress: &mut dyn FnMut(Progress) = match options.progress.as_mut() {
            Some(p) => *p,
            None => &mut no_progress,
        };
        let result = run_bounded(plan, &self.lake_dir, threads, progress)?;
        BatchMetrics::add(&self.metrics.batch_rows_read, result.input_rows);

        let view_dir = self.views_dir.join(&plan.name);
        fs::create_dir_all(&view_dir).at(&view_dir)?;
        let existing = epochs_on_disk(&view_dir)?;
        let epoch = existing.last().map_or(1, |e| e + 1);
        let horizon = Horizon {
            version: 1,
            view: plan.name.clone(),
            epoch,
            topic: plan.source.topic.clone(),
            partitions: result
                .horizon
                .iter()
                .map(|&(partition, offset)| HorizonPartition { partition, offset })
                .collect(),
            rows: result.rows.num_rows() as u64,
            input_rows: result.input_rows,
            created_at_ms: now_ms(),
            plan: plan.clone(),
        };
        let tmp = view_dir.join(format!(".batch-{epoch}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).at(&tmp)?;
        }
        let written = write_epoch(&tmp, &result.rows, result.operator.as_ref(), &horizon);
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let dir = view_dir.join(format!("batch-{epoch}"));
        fs::rename(&tmp, &dir).at(&dir)?;
        sync_dir(&view_dir)?;

        let published = Arc::new(BatchEpoch {
            dir,
            horizon,
            rows: result.rows,
            state: result.operator,
            obsolete: AtomicBool::new(false),
        });
        let mut views = self.views.lock();
        let entry = views.entry(plan.name.clone()).or_default();
        entry.latest = Some(Arc::clone(&published));
        entry.handed_out.insert(epoch, Arc::downgrade(&published));
        // Replaced epochs: deleted now if nobody holds them, else by their last handle.
        let replaced: Vec<u64> = existing.into_iter().filter(|&e| e < epoch).collect();
        for old in replaced {
            match entry.handed_out.remove(&old).and_then(|w| w.upgrade()) {
                Some(held) => held.obsolete.store(true, Ordering::Release),
                None => remove_epoch_dir(&view_dir.join(format!("batch-{old}"))),
            }
        }
        Ok(published)
    }

    /// The view's latest batch view, loaded from disk on first use; `None` before its first
    /// run.
    ///
    /// # Errors
    /// Unreadable epoch files (named).
    pub fn latest(&self, view: &str) -> Result<Option<Arc<BatchEpoch>>> {
        let view = view.to_lowercase();
        let mut views = self.views.lock();
        let entry = views.entry(view.clone()).or_default();
        if let Some(latest) = &entry.latest {
            return Ok(Some(Arc::clone(latest)));
        }
        let view_dir = self.views_dir.join(&view);
        if !view_dir.exists() {
            return Ok(None);
        }
        let Some(&epoch) = epochs_on_disk(&view_dir)?.last() else {
            return Ok(None);
        };
        let loaded = Arc::new(BatchEpoch::load(&view_dir.join(format!("batch-{epoch}")))?);
        entry.latest = Some(Arc::clone(&loaded));
        entry.handed_out.insert(epoch, Arc::downgrade(&loaded));
        Ok(Some(loaded))
    }

    /// Forgets a dropped view and deletes its batch views (held epochs go when released).
    ///
    /// # Errors
    /// I/O errors.
    pub fn drop_view(&self, view: &str) -> Result<()> {
        let view = view.to_lowercase();
        let mut views = self.views.lock();
        let mut held = Vec::new();
        if let Some(entry) = views.remove(&view) {
            for (epoch, handle) in &entry.handed_out {
                if let Some(h) = handle.upgrade() {
                    h.obsolete.store(true, Ordering::Release);
                    held.push(*epoch);
                }
            }
        }
        let view_dir = self.views_dir.join(&view);
        for epoch in epochs_on_disk(&view_dir)? {
            if !held.contains(&epoch) {
                remove_epoch_dir(&view_dir.join(format!("batch-{epoch}")));
            }
        }
        if held.is_empty() {
            match fs::remove_dir(&view_dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(&view_dir),
            }
        }
        Ok(())
    }
}

/// Epoch numbers of the complete epochs in `view_dir`, ascending.
fn epochs_on_disk(view_dir: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(view_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).at(view_dir),
    };
    for entry in entries {
        let entry = entry.at(view_dir)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix("batch-").and_then(|n| n.parse().ok()) {
            out.push(n);
        } else if name.starts_with(".batch-") && name.ends_with(".tmp") {
            // A run that crashed before its rename.
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn write_epoch(
    dir: &Path,
    rows: &RecordBatch,
    state: Option<&ViewOperator>,
    horizon: &Horizon,
) -> Result<()> {
    fs::create_dir_all(dir).at(dir)?;
    let path = dir.join(PART_FILE);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let file = fs::File::create(&path).at(&path)?;
    let mut writer = ArrowWriter::try_new(file, rows.schema(), Some(props)).at(&path)?;
    writer.write(rows).at(&path)?;
    let file = writer.into_inner().at(&path)?;
    file.sync_all().at(&path)?;
    if let Some(operator) = state {
        let path = dir.join(STATE_FILE);
        let bytes = codec::encode(operator.state()).map_err(|reason| Error::Metadata {
            path: path.clone(),
            reason,
        })?;
        write_atomically(&path, &bytes)?;
    }
    let bytes = serde_json::to_vec_pretty(horizon).map_err(|e| Error::Metadata {
        path: dir.join(HORIZON_FILE),
        reason: e.to_string(),
    })?;
    write_atomically(&dir.join(HORIZON_FILE), &bytes)?;
    sync_dir(dir)
}
