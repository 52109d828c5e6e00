//! The batch layer in the node: the lake (`<data-dir>/lake`) and the batch views
//! (`<data-dir>/batch-views`), the continuous archiver and the scheduled batch-view runs
//! (their endpoints are in `http::batch`).
//!
//! Archiving and batch runs are blocking file work: the background jobs run on their own
//! threads ([`Periodic`]), the endpoints on the blocking pool. The archiver may create
//! `<topic>-invalid` topics in the log itself, so the node's topic index is synced after
//! every archive run.

use std::path::Path as FsPath;
use std::sync::Arc;

use std::time::Duration;
use strata_log::sync::unmodelled::Mutex;

use strata_batch::{
    ArchiveConfig, ArchiveReport, Archiver, BatchEpoch, BatchMetrics, BatchViewStore, Manifest,
    Periodic, RunOptions, schema_for_topic,
};
use strata_views::engine::Engine;

use crate::catalog::Catalog;
use crate::error::{Error, Result};

/// Where the lake (the Parquet master dataset) lives, under the data directory.
pub const LAKE_DIR: &str = "lake";
/// Where batch views are published, under the data directory.
pub const BATCH_VIEWS_DIR: &str = "batch-views";

/// The node's batch layer: the archiver, the batch-view store, their counters and the
/// background jobs.
#[derive(Debug)]
pub struct BatchLayer {
    /// Archives sealed segments into the lake.
    pub archiver: Arc<Archiver>,
    /// Computes and serves batch views.
    pub store: Arc<BatchViewStore>,
    /// Counters for `/metrics`.
    pub metrics: Arc<BatchMetrics>,
    jobs: Mutex<Vec<Periodic>>,
}

impl BatchLayer {
    /// Opens the lake and the batch-view store under `data_dir` and protects every topic's
    /// unarchived segments from retention (call before retention first runs).
    ///
    /// # Errors
    /// The directories cannot be created, or a manifest is unreadable.
    pub fn open(data_dir: &FsPath, catalog: &Catalog) -> Result<BatchLayer> {
        let metrics = Arc::new(BatchMetrics::default());
        let lake = data_dir.join(LAKE_DIR);
        let archiver = Archiver::new(ArchiveConfig::new(&lake), Arc::clone(&metrics))?;
        archiver.protect(catalog.log())?;
        let store =
            BatchViewStore::open(data_dir.join(BATCH_VIEWS_DIR), &lake, Arc::clone(&metrics))?;
        Ok(BatchLayer {
            archiver: Arc::new(archiver),
            store: Arc::new(store),
            metrics,
            jobs: Mutex::new(Vec::new()),
        })
    }

    /// Starts the continuous archiver (every `archive_every`) and, when `batch_every` is
    /// set, the scheduled batch-view runs.
    pub fn start_jobs(
        &self,
        catalog: &Arc<Catalog>,
        engine: &Arc<Engine>,
        archive_every: Duration,
        batch_every: Option<Duration>,
    ) {
        let mut jobs = self.jobs.lock();
        let (archiver, cat, eng) = (
            Arc::clone(&self.archiver),
            Arc::clone(catalog),
            Arc::clone(engine),
        );
        // Passes start one interval after the node: the floors set at open already keep
        // retention off unarchived segments, and a pass racing the node's first requests
        // would create `<topic>-invalid` topics under them.
        let mut first = true;
        jobs.push(Periodic::start("strata-archiver", archive_every, move || {
            if std::mem::take(&mut first) {
                return;
            }
            survive("archiver", || {
                // New topics get their retention floor when created (the hook `protect`
                // registered at open); this pass re-asserts every floor, which is idempotent
                // and repairs one a failed earlier pass could not set.
                if let Err(e) = archiver.protect(cat.log()) {
                    tracing::error!(error = %e, "cannot protect unarchived segments from retention");
                }
                // Failures are logged and counted by the archiver; the next pass retries.
                let _ = archive(&archiver, &cat, &eng, None);
            });
        }));
        if let Some(every) = batch_every {
            let (store, eng) = (Arc::clone(&self.store), Arc::clone(engine));
            let lake = self.archiver.config().lake_dir.clone();
            // The first pass waits a full interval: a restart should not recompute everything.
            let mut first = true;
            jobs.push(Periodic::start("strata-batch-views", every, move || {
                if std::mem::take(&mut first) {
                    return;
                }
                for view in eng.views() {
                    let Some(plan) = eng.plan(&view) else {
                        continue;
                    };
                    // Nothing archived yet, or a view the batch layer cannot compute (a join
                    // looks up the table at processing time; a view reading a table needs
                    // upsert semantics the lake lacks; a window Top-N ranks, which the batch
                    // layer does not): skip quietly rather than log an error every interval.
                    if plan.join.is_some()
                        || plan.reads_table()
                        || plan.is_ranked()
                        || !matches!(Manifest::load(&lake, &plan.source.topic), Ok(Some(_)))
                    {
                        continue;
                    }
                    // Failures are logged and counted by the store.
                    survive("batch view", || {
                        if let Ok(epoch) = store.run(&plan, RunOptions::default()) {
                            serve(&eng, &epoch);
                        }
                    });
                }
            }));
        }
    }

    /// Hands every view's latest batch view to its speed layer (at start: the speed layer
    /// remembers what it had handed over, but not the batch view itself).
    pub fn serve_latest(&self, engine: &Engine) {
        for view in engine.views() {
            match self.store.latest(&view) {
                Ok(Some(epoch)) => serve(engine, &epoch),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(view = %view, error = %e, "cannot load the batch view to serve it");
                }
            }
        }
    }

    /// Stops the background jobs, waiting for runs in progress (blocking).
    pub fn stop_jobs(&self) {
        let jobs = std::mem::take(&mut *self.jobs.lock());
        for job in jobs {
            job.stop();
        }
    }
}

/// Hands a published batch view to the serving layer (logged, never fatal: the previous
/// batch view keeps being served).
pub(crate) fn serve(engine: &Engine, epoch: &Arc<BatchEpoch>) {
    if let Err(e) = strata_serving::attach(engine, epoch) {
        tracing::error!(view = %epoch.horizon().view, error = %e, "cannot serve the new batch view");
    }
}

/// Runs one pass of a background job, logging a panic instead of letting it end the job's
/// thread: a bug hit by one topic or view must not stop archiving the others for good.
fn survive(job: &str, pass: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(pass)) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(job, panic = %what, "a batch-layer pass panicked; the next pass runs as scheduled");
    }
}

/// One topic's archive run: its report, or why it failed.
pub(crate) type TopicResult = (String, Result<ArchiveReport>);

/// Archives `topic`, or every archived topic, then brings the topic index up to date.
pub(crate) fn archive(
    archiver: &Archiver,
    catalog: &Catalog,
    engine: &Engine,
    topic: Option<&str>,
) -> Vec<TopicResult> {
    let log = catalog.log();
    let sources = engine.sources();
    let topics: Vec<String> = match topic {
        Some(t) => vec![t.to_owned()],
        None => log
            .topics()
            .iter()
            .map(|t| t.name().to_owned())
            .filter(|t| Archiver::archives(t))
            .collect(),
    };
    let results = topics
        .into_iter()
        .map(|t| {
            let r = archiver.archive_topic(log, &t, schema_for_topic(&sources, &t));
            (t, r.map_err(Error::from))
        })
        .collect();
    catalog.sync();
    results
}
