//! The batch layer's endpoints: `POST /v1/batch/archive` archives now, `POST
//! /v1/views/{v}/batch` recomputes a view's batch view (optionally streaming its progress),
//! `GET /v1/views/{v}/batch` answers with the latest one.
//!
//! Archiving and batch runs are blocking file work: they run on the blocking pool.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use strata_batch::{ArchiveReport, Archiver, BatchEpoch, Manifest, Progress, RunOptions};
use strata_engine::json_lines;
use strata_engine::plan::ViewPlan;

use super::extract::{Params, RawQuery, blocking, json_response};
use super::state::AppState;
use crate::batch::{archive, serve};
use crate::error::{Error, Result};

/// The routes of the batch layer.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/views/{view}/batch", get(latest).post(run_now))
        .route("/v1/batch/archive", post(archive_now))
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
        let summary = epoch_summary(&epoch);
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
