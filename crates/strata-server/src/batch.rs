//! The batch layer in the node: the lake (`<data-dir>/lake`) and the batch views
//! (`<data-dir>/batch-views`), the continuous archiver and the scheduled batch-view runs, and
//! their HTTP endpoints (`POST /v1/batch/archive`, `POST|GET /v1/views/{v}/batch`).
//!
//! Archiving and batch runs are blocking file work: the background jobs run on their own
//! threads ([`Periodic`]) and the handlers on the blocking pool. The archiver may create
//! `<topic>-invalid` topics in the log itself, so the node's topic index is synced after
//! every archive run.

use std::convert::Infallible;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use strata_batch::{
    ArchiveConfig, ArchiveReport, Archiver, BatchEpoch, BatchMetrics, BatchViewStore, Manifest,
    Periodic, Progress, RunOptions, schema_for_topic,
};
use strata_engine::json_lines;
use strata_engine::plan::ViewPlan;
use strata_views::engine::Engine;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::http::{AppState, Params, blocking, json_response};
use crate::rows;

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
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
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
        let jobs = std::mem::take(&mut *self.jobs.lock().unwrap_or_else(|e| e.into_inner()));
        for job in jobs {
            job.stop();
        }
    }
}

/// Hands a published batch view to the serving layer (logged, never fatal: the previous
/// batch view keeps being served).
fn serve(engine: &Engine, epoch: &Arc<BatchEpoch>) {
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
type TopicResult = (String, Result<ArchiveReport>);

/// Archives `topic`, or every archived topic, then brings the topic index up to date.
fn archive(
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

fn report_json(r: &ArchiveReport) -> Value {
    json!({
        "topic": r.topic,
        "segments": r.segments,
        "rows": r.rows,
        "invalid": r.invalid,
        "files": r.files,
        "bytes": r.bytes,
        "missed": r.missed,
        "leftovers_removed": r.leftovers_removed,
        "problems": r.problems,
        "horizon": horizon_json(r.horizon.iter().copied()),
    })
}

fn horizon_json(h: impl Iterator<Item = (u32, u64)>) -> Value {
    Value::Array(
        h.map(|(partition, offset)| json!({ "partition": partition, "offset": offset }))
            .collect(),
    )
}

/// `POST /v1/batch/archive?topic=`: archives one topic (its errors are the response's), or
/// every topic (each topic's error is listed beside the others' reports).
pub(crate) async fn archive_now(
    State(state): State<AppState>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response> {
    let params = Params::new(query, &["topic"])?;
    let topic = params.get("topic").map(str::to_owned);
    if let Some(t) = &topic {
        state.catalog.topic(t)?;
        if !Archiver::archives(t) {
            return Err(Error::bad_request(
                "not_archived",
                format!(
                    "{t} is a view's changelog, which the batch layer does not archive (a view may rewrite it after a crash); archive the view's source topic instead"
                ),
            ));
        }
    }
    let st = Arc::clone(&state);
    let one = topic.is_some();
    let results = blocking(move || {
        Ok(archive(
            &st.batch.archiver,
            &st.catalog,
            &st.engine,
            topic.as_deref(),
        ))
    })
    .await?;
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for (topic, r) in results {
        match r {
            Ok(report) => reports.push(report_json(&report)),
            Err(e) if one => return Err(e),
            Err(e) => {
                let (_, code, _) = e.classify();
                errors.push(json!({ "topic": topic, "code": code, "message": e.to_string() }));
            }
        }
    }
    Ok(axum::Json(json!({ "reports": reports, "errors": errors })).into_response())
}

fn unknown_view(name: &str) -> Error {
    Error::Engine(strata_engine::Error::Unknown {
        kind: strata_engine::NameKind::View,
        name: name.to_owned(),
    })
}

/// The view's plan, checked runnable: known, and its topic archived at least once.
fn runnable_plan(state: &AppState, view: &str) -> Result<ViewPlan> {
    let plan = state.engine.plan(view).ok_or_else(|| unknown_view(view))?;
    let lake = &state.batch.archiver.config().lake_dir;
    if Manifest::load(lake, &plan.source.topic)?.is_none() {
        return Err(Error::Conflict {
            code: "not_archived",
            message: format!(
                "topic {} of view {} has nothing in the lake yet: run `strata batch archive {}` (POST /v1/batch/archive?topic={}) or wait for the archiver, then run the batch view",
                plan.source.topic, plan.name, plan.source.topic, plan.source.topic
            ),
        });
    }
    Ok(plan)
}

fn epoch_summary(e: &BatchEpoch) -> Value {
    let h = e.horizon();
    json!({
        "view": h.view,
        "epoch": e.epoch(),
        "topic": h.topic,
        "horizon": horizon_json(h.partitions.iter().map(|p| (p.partition, p.offset))),
        "rows": h.rows,
        "input_rows": h.input_rows,
        "created_at_ms": h.created_at_ms,
    })
}

fn progress_json(p: &Progress) -> Value {
    json!({
        "files_done": p.files_done,
        "files_total": p.files_total,
        "rows_read": p.rows_read,
        "rows_total": p.rows_total,
    })
}

fn error_json(e: &Error) -> Value {
    let (_, code, _) = e.classify();
    json!({ "error": { "code": code, "message": e.to_string() } })
}

/// `POST /v1/views/{v}/batch?progress=`: recomputes the view's batch view from the lake now
/// and answers with the new epoch. With `progress=true` the answer is NDJSON: a
/// `{"progress": …}` line after every file read, then `{"result": …}` or `{"error": …}`.
pub(crate) async fn run_now(
    State(state): State<AppState>,
    Path(view): Path<String>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response> {
    let params = Params::new(query, &["progress"])?;
    let stream = params.bool("progress", false)?;
    let st = Arc::clone(&state);
    let name = view.clone();
    // Checked before answering, so a bad request is a plain error even when streaming.
    let plan = blocking(move || runnable_plan(&st, &name)).await?;
    if !stream {
        let st = Arc::clone(&state);
        let epoch = blocking(move || {
            let epoch = st.batch.store.run(
                &plan,
                RunOptions {
                    threads: 0,
                    progress: None,
                },
            )?;
            serve(&st.engine, &epoch);
            Ok(epoch)
        })
        .await?;
        return Ok(axum::Json(epoch_summary(&epoch)).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let store = Arc::clone(&state.batch.store);
    let engine = Arc::clone(&state.engine);
    tokio::task::spawn_blocking(move || {
        let mut report = |p: Progress| {
            let _ = tx.send(json!({ "progress": progress_json(&p) }));
        };
        let result = store.run(
            &plan,
            RunOptions {
                threads: 0,
                progress: Some(&mut report),
            },
        );
        let last = match result {
            Ok(epoch) => {
                serve(&engine, &epoch);
                json!({ "result": epoch_summary(&epoch) })
            }
            Err(e) => error_json(&Error::from(e)),
        };
        let _ = tx.send(last);
    });
    let lines = futures_util::stream::unfold(rx, |mut rx| async move {
        let v = rx.recv().await?;
        Some((Ok::<_, Infallible>(Bytes::from(format!("{v}\n"))), rx))
    });
    let mut r = Response::new(Body::from_stream(lines));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(r)
}

/// `GET /v1/views/{v}/batch`: the latest batch view's rows and horizon.
pub(crate) async fn latest(
    State(state): State<AppState>,
    Path(view): Path<String>,
) -> Result<Response> {
    let st = Arc::clone(&state);
    let body = blocking(move || {
        let plan = st.engine.plan(&view).ok_or_else(|| unknown_view(&view))?;
        let epoch = st.batch.store.latest(&plan.name)?.ok_or_else(|| Error::NotFound {
            code: "no_batch_view",
            message: format!(
                "view {} has no batch view yet: run `strata batch run {}` (POST /v1/views/{}/batch), or wait for the schedule",
                plan.name, plan.name, plan.name
            ),
        })?;
        let lines = json_lines(epoch.rows())?;
        let summary = epoch_summary(&epoch);
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 512);
        body.extend_from_slice(b"{\"batch\":");
        body.extend_from_slice(summary.to_string().as_bytes());
        body.extend_from_slice(b",\"columns\":");
        body.extend_from_slice(rows::columns_json(epoch.rows()).to_string().as_bytes());
        body.extend_from_slice(b",\"rows\":[");
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(line);
        }
        body.extend_from_slice(format!("],\"count\":{}}}", lines.len()).as_bytes());
        Ok(body)
    })
    .await?;
    Ok(json_response(StatusCode::OK, body))
}
