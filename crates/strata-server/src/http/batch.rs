//! The batch layer's endpoints: `POST /v1/batch/archive` archives now, `POST
//! /v1/views/{v}/batch` recomputes a view's batch view (optionally streaming its progress),
//! `GET /v1/views/{v}/batch` answers with the latest one.
//!
//! Archiving and batch runs are blocking file work: they run on the blocking pool.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use strata_batch::{Archiver, Manifest, Progress, RunOptions};
use strata_engine::json_lines;
use strata_engine::plan::ViewPlan;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Params, RawQuery, blocking, json_response, json_sorted};
use super::state::AppState;
use crate::api::batch::{
    ArchiveFailure, ArchiveReport, Archived, BatchEpoch, BatchProgress, BatchRows, BatchRunLine,
};
use crate::api::{ApiError, ErrorBody, PartitionOffset};
use crate::batch::{archive, serve};
use crate::error::{Error, Result};

/// The routes of the batch layer.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(latest, run_now))
        .routes(routes!(archive_now))
}

/// Archive the sealed segments of one topic (or of every topic but views' changelogs) into
/// the Parquet lake now. Archiving one topic, its error is the answer's; archiving every
/// topic, each topic's error is listed beside the others' reports.
#[utoipa::path(post, path = "/v1/batch/archive", tag = "batch",
    params(("topic" = Option<String>, Query, description = "The topic (default: every topic).")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What each topic's run wrote.", body = Archived),
        (status = 400, description = "Unknown query parameter (`bad_query`), or a view's changelog (`not_archived`).", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "No such topic (`unknown_topic`).", body = ErrorBody),
        (status = 409, description = "The topic's schema differs from the lake's (`schema_changed`).", body = ErrorBody),
        (status = 500, description = "I/O or Parquet failure, naming the file (`batch_failed`, `corrupt_metadata`).", body = ErrorBody),
        (status = 507, description = "Disk full (`disk_full`); the manifest is untouched.", body = ErrorBody),
    ))]
async fn archive_now(State(state): State<AppState>, query: RawQuery) -> Result<Response> {
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
    let mut archived = Archived {
        reports: Vec::new(),
        errors: Vec::new(),
    };
    for (topic, r) in results {
        match r {
            Ok(report) => archived.reports.push(report_of(report)),
            Err(e) if one => return Err(e),
            Err(e) => {
                let (_, code, _) = e.classify();
                archived.errors.push(ArchiveFailure {
                    topic,
                    code: code.to_owned(),
                    message: e.to_string(),
                });
            }
        }
    }
    json_sorted(&archived)
}

/// Recompute the view's batch view from the lake now and publish it as the next epoch.
/// With `progress=true` the answer is NDJSON: a `{"progress": …}` line after every file
/// read, then `{"result": …}` or `{"error": …}`.
#[utoipa::path(post, path = "/v1/views/{view}/batch", tag = "batch",
    params(
        ("view" = String, Path, description = "View name (case-insensitive)."),
        ("progress" = Option<bool>, Query, description = "Stream the run's progress as NDJSON."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new epoch (or, with `progress=true`, the NDJSON stream).", content(
            (BatchEpoch = "application/json"),
            (BatchRunLine = "application/x-ndjson"),
        )),
        (status = 400, description = "A view the batch layer cannot compute, e.g. a stream-table join (`batch_unsupported`); a bad query (`bad_query`).", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "No such view (`unknown_view`).", body = ErrorBody),
        (status = 409, description = "The view's topic has nothing in the lake yet (`not_archived`: archive it first), or the lake holds foreign files (`foreign_files`, with paths).", body = ErrorBody),
        (status = 500, description = "A corrupt lake file or manifest, named (`corrupt_lake_file`, `corrupt_metadata`), or another failure (`batch_failed`).", body = ErrorBody),
        (status = 507, description = "Disk full (`disk_full`); the previous epoch stays.", body = ErrorBody),
    ))]
async fn run_now(
    State(state): State<AppState>,
    Path(view): Path<String>,
    query: RawQuery,
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
        return json_sorted(&epoch_of(&epoch));
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<BatchRunLine>();
    let store = Arc::clone(&state.batch.store);
    let engine = Arc::clone(&state.engine);
    tokio::task::spawn_blocking(move || {
        let mut report = |p: Progress| {
            let _ = tx.send(BatchRunLine::Progress(progress_of(&p)));
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
                BatchRunLine::Result(epoch_of(&epoch))
            }
            Err(e) => {
                let e = Error::from(e);
                let (_, code, _) = e.classify();
                BatchRunLine::Error(ApiError {
                    code: code.to_owned(),
                    message: e.to_string(),
                    details: serde_json::Map::new(),
                })
            }
        };
        let _ = tx.send(last);
    });
    let lines = futures_util::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        // Sorted keys, as the `Value` lines this replaced.
        let text = serde_json::to_value(&line)
            .map(|v| v.to_string())
            .unwrap_or_default();
        Some((Ok::<_, Infallible>(Bytes::from(format!("{text}\n"))), rx))
    });
    let mut r = Response::new(Body::from_stream(lines));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(r)
}

/// The view's latest batch view: its rows (complete up to the horizon, late records
/// included) and horizon.
#[utoipa::path(get, path = "/v1/views/{view}/batch", tag = "batch",
    params(("view" = String, Path, description = "View name (case-insensitive).")),
    responses(
        (status = 200, description = "Rows and horizon.", body = BatchRows),
        (status = 404, description = "No such view (`unknown_view`), or no batch view yet (`no_batch_view`).", body = ErrorBody),
    ))]
async fn latest(State(state): State<AppState>, Path(view): Path<String>) -> Result<Response> {
    let st = Arc::clone(&state);
    let body = blocking(move || {
        let plan = st.engine.plan(&view).ok_or_else(|| Error::unknown_view(&view))?;
        let epoch = st.batch.store.latest(&plan.name)?.ok_or_else(|| Error::NotFound {
            code: "no_batch_view",
            message: format!(
                "view {} has no batch view yet: run `strata batch run {}` (POST /v1/views/{}/batch), or wait for the schedule",
                plan.name, plan.name, plan.name
            ),
        })?;
        let lines = json_lines(epoch.rows())?;
        let summary = serde_json::to_value(epoch_of(&epoch))
            .map_err(|e| Error::Unavailable(format!("cannot write the answer: {e}")))?;
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 512);
        body.extend_from_slice(b"{\"batch\":");
        body.extend_from_slice(summary.to_string().as_bytes());
        body.extend_from_slice(b",\"columns\":");
        body.extend_from_slice(strata_serving::columns_json(epoch.rows()).to_string().as_bytes());
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

/// The view's plan, checked runnable: known, and its topic archived at least once.
fn runnable_plan(state: &AppState, view: &str) -> Result<ViewPlan> {
    let plan = state
        .engine
        .plan(view)
        .ok_or_else(|| Error::unknown_view(view))?;
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

/// A report as the API writes it.
fn report_of(r: strata_batch::ArchiveReport) -> ArchiveReport {
    ArchiveReport {
        topic: r.topic,
        segments: r.segments,
        rows: r.rows,
        invalid: r.invalid,
        files: r.files,
        bytes: r.bytes,
        missed: r.missed,
        leftovers_removed: r.leftovers_removed,
        problems: r.problems,
        horizon: r
            .horizon
            .into_iter()
            .map(|(partition, offset)| PartitionOffset { partition, offset })
            .collect(),
    }
}

/// An epoch as the API writes it.
fn epoch_of(e: &strata_batch::BatchEpoch) -> BatchEpoch {
    let h = e.horizon();
    BatchEpoch {
        view: h.view.clone(),
        epoch: e.epoch(),
        topic: h.topic.clone(),
        horizon: h
            .partitions
            .iter()
            .map(|p| PartitionOffset {
                partition: p.partition,
                offset: p.offset,
            })
            .collect(),
        rows: h.rows,
        input_rows: h.input_rows,
        created_at_ms: h.created_at_ms,
    }
}

/// A run's progress as the API writes it.
fn progress_of(p: &Progress) -> BatchProgress {
    BatchProgress {
        files_done: p.files_done as u64,
        files_total: p.files_total as u64,
        rows_read: p.rows_read,
        rows_total: p.rows_total,
    }
}
