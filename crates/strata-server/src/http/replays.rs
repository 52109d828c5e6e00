//! Replay (Kappa) and view versions over HTTP.
//!
//! - `POST /v1/replays` starts a replay: `{"kind": "view", ...}` rebuilds a view from the log
//!   into a new version, `{"kind": "topic", ...}` copies a topic's history into another;
//!   `GET /v1/replays[/{id}]` reports progress (records/s, percent, ETA, counts);
//!   `DELETE /v1/replays/{id}` cancels.
//! - `GET /v1/views/{v}/versions`, `POST /v1/views/{v}/promote`,
//!   `DELETE /v1/views/{v}/versions/{version}`: an alias's versions, switching it, dropping one.
//!
//! Engine calls block (catalog writes, starting and stopping view threads): they run on the
//! blocking pool, and the node's topic index is synced after each that creates or deletes
//! topics.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use strata_views::replay::{DEFAULT_PROMOTE_LAG, TopicReplayRequest, ViewReplayRequest};
use strata_views::start::StartAt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{RawBody, blocking, body_bytes, json_sorted, parse_json_body};
use super::state::AppState;
use crate::api::ErrorBody;
use crate::api::replays::{
    DroppedVersion, PromoteRequest, Promotion, ReplayProgress, ReplayRequest, Replays, Versions,
};
use crate::error::{Error, Result};
use crate::time::{now_ms, parse_time};

/// The routes of replays and view versions.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, start))
        .routes(routes!(get_replay, cancel))
        .routes(routes!(versions))
        .routes(routes!(drop_version))
        .routes(routes!(promote))
}

/// Start a replay: a view into a new version (`kind` `view`) or a topic's history into
/// another topic (`kind` `topic`).
#[utoipa::path(post, path = "/v1/replays", tag = "replays", request_body = ReplayRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Started: the replay and its progress.", body = ReplayProgress),
        (status = 400, description = "A bad body, SQL, start position, time or name (`bad_json`, `sql_error`, `plan_error`, `bad_start`, `bad_time`, `bad_promote`).", body = ErrorBody),
        (status = 404, description = "Unknown view or topic.", body = ErrorBody),
    ))]
async fn start(State(state): State<AppState>, body: RawBody) -> Result<Response> {
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let kind = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_owned));
    let example = if kind.as_deref() == Some("topic") {
        TOPIC_EXAMPLE
    } else {
        VIEW_EXAMPLE
    };
    let request = engine_request(parse_json_body::<ReplayRequest>(&body, example)?)?;
    let engine = Arc::clone(&state.engine);
    let catalog = Arc::clone(&state.catalog);
    let progress = blocking(move || {
        let started = match request {
            Ok(view) => engine.replay_view(view),
            Err(topic) => engine.replay_topic(topic),
        };
        catalog.sync();
        Ok(started?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(ReplayProgress::from(progress))).into_response())
}

/// Every replay (finished ones too) with its progress.
#[utoipa::path(get, path = "/v1/replays", tag = "replays",
    responses((status = 200, description = "Every replay.", body = Replays)))]
async fn list(State(state): State<AppState>) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let replays = blocking(move || Ok(engine.replays())).await?;
    json_sorted(&Replays {
        replays: replays.into_iter().map(Into::into).collect(),
    })
}

/// One replay's progress: processed/total, percent, records/s, ETA, lag, counts.
#[utoipa::path(get, path = "/v1/replays/{id}", tag = "replays",
    params(("id" = u64, Path, description = "Replay id.")),
    responses(
        (status = 200, description = "The replay and its progress.", body = ReplayProgress),
        (status = 404, description = "No such replay (`unknown_replay`).", body = ErrorBody),
    ))]
async fn get_replay(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = replay_id(&id)?;
    let engine = Arc::clone(&state.engine);
    let progress = blocking(move || Ok(engine.replay(id)?)).await?;
    Ok(Json(ReplayProgress::from(progress)).into_response())
}

/// Cancel a replay: a view replay's unpromoted version is dropped; a topic replay stops
/// (what it copied stays).
#[utoipa::path(delete, path = "/v1/replays/{id}", tag = "replays",
    params(("id" = u64, Path, description = "Replay id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The replay and its progress.", body = ReplayProgress),
        (status = 404, description = "No such replay.", body = ErrorBody),
        (status = 409, description = "The replay already ended (`conflict`).", body = ErrorBody),
    ))]
async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = replay_id(&id)?;
    let engine = Arc::clone(&state.engine);
    let catalog = Arc::clone(&state.catalog);
    let progress = blocking(move || {
        let cancelled = engine.cancel_replay(id);
        catalog.sync();
        Ok(cancelled?)
    })
    .await?;
    Ok(Json(ReplayProgress::from(progress)).into_response())
}

/// The versions of a view (alias) and which one answers for it.
#[utoipa::path(get, path = "/v1/views/{view}/versions", tag = "replays",
    params(("view" = String, Path, description = "View or alias name (case-insensitive).")),
    responses(
        (status = 200, description = "The versions.", body = Versions),
        (status = 404, description = "No such view.", body = ErrorBody),
    ))]
async fn versions(State(state): State<AppState>, Path(view): Path<String>) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let info = blocking(move || Ok(engine.versions(&view)?)).await?;
    Ok(Json(Versions::from(info)).into_response())
}

/// Make a version the one answering for the alias, at once (promoting an older one back is
/// a rollback).
#[utoipa::path(post, path = "/v1/views/{view}/promote", tag = "replays",
    params(("view" = String, Path, description = "View or alias name (case-insensitive).")),
    request_body = PromoteRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the promotion switched.", body = Promotion),
        (status = 400, description = "Unknown version.", body = ErrorBody),
        (status = 404, description = "No such view.", body = ErrorBody),
        (status = 409, description = "The view was never replayed, or the version is not running.", body = ErrorBody),
    ))]
async fn promote(
    State(state): State<AppState>,
    Path(view): Path<String>,
    body: RawBody,
) -> Result<Response> {
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let req: PromoteRequest = parse_json_body(&body, r#"{"version": "totals_v2"} (or "2", "v2")"#)?;
    let engine = Arc::clone(&state.engine);
    let promotion = blocking(move || Ok(engine.promote(&view, &req.version)?)).await?;
    Ok(Json(Promotion::from(promotion)).into_response())
}

/// Stop and delete one version (not the current one) with its state, output topics and
/// batch views.
#[utoipa::path(delete, path = "/v1/views/{view}/versions/{version}", tag = "replays",
    params(
        ("view" = String, Path, description = "View or alias name (case-insensitive)."),
        ("version" = String, Path, description = "Version: view name, number or `vN`."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dropped.", body = DroppedVersion),
        (status = 404, description = "No such view.", body = ErrorBody),
        (status = 409, description = "The version is the alias's current one (`conflict`): promote another first.", body = ErrorBody),
    ))]
async fn drop_version(
    State(state): State<AppState>,
    Path((view, version)): Path<(String, String)>,
) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let catalog = Arc::clone(&state.catalog);
    let batch = Arc::clone(&state.batch);
    let alias = view.to_lowercase();
    let dropped = blocking(move || {
        let dropped = engine.drop_version(&view, &version);
        catalog.sync();
        let dropped = dropped?;
        // Its batch views go with it, as with a dropped view.
        batch.store.drop_view(&dropped)?;
        Ok(dropped)
    })
    .await?;
    json_sorted(&DroppedVersion { alias, dropped })
}

const VIEW_EXAMPLE: &str = r#"{"kind": "view", "view": "totals", "from_time": "-1h", "sql": "SELECT ...", "as": "totals_fixed", "promote_when_lag_under": 1000}"#;

const TOPIC_EXAMPLE: &str = r#"{"kind": "topic", "source": "orders", "to": "orders_2024", "from_time": "2024-01-01T00:00:00Z", "to_time": "2025-01-01T00:00:00Z", "where": "amount > 100"}"#;

/// A point in time given as ms or as text (RFC 3339, relative like `-1h`).
fn time_of(field: &str, v: Option<&Value>) -> Result<Option<i64>> {
    let bad = |e: String| Error::bad_request("bad_time", format!("{field}: {e}"));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(format!("{n} is not a time in ms"))),
        Some(Value::String(s)) => parse_time(s, now_ms()).map(Some).map_err(bad),
        Some(other) => Err(bad(format!(
            "{other} is not a time: give ms since the epoch, RFC 3339, or a relative time like -1h"
        ))),
    }
}

fn engine_request(
    r: ReplayRequest,
) -> Result<std::result::Result<ViewReplayRequest, TopicReplayRequest>> {
    match r {
        ReplayRequest::View {
            view,
            from_beginning,
            from_offsets,
            from_time,
            sql,
            name,
            promote,
            promote_when_lag_under,
        } => {
            let starts = usize::from(from_beginning)
                + usize::from(from_offsets.is_some())
                + usize::from(from_time.is_some());
            if starts > 1 {
                return Err(Error::bad_request(
                    "bad_start",
                    "give at most one of from_beginning, from_offsets and from_time",
                ));
            }
            let from = match (from_offsets, time_of("from_time", from_time.as_ref())?) {
                (Some(o), _) => {
                    StartAt::Offsets(o.into_iter().map(|o| (o.partition, o.offset)).collect())
                }
                (None, Some(t)) => StartAt::Time(t),
                (None, None) => StartAt::Beginning,
            };
            let promote_when_lag_under = match promote.as_deref() {
                None | Some("auto") => Some(promote_when_lag_under.unwrap_or(DEFAULT_PROMOTE_LAG)),
                Some("manual") if promote_when_lag_under.is_none() => None,
                Some("manual") => {
                    return Err(Error::bad_request(
                        "bad_promote",
                        "promote \"manual\" takes no promote_when_lag_under; drop one of them",
                    ));
                }
                Some(other) => {
                    return Err(Error::bad_request(
                        "bad_promote",
                        format!("promote is \"auto\" or \"manual\", not {other:?}"),
                    ));
                }
            };
            if promote_when_lag_under == Some(0) {
                return Err(Error::bad_request(
                    "bad_promote",
                    "promote_when_lag_under must be at least 1 (lag 0 is \"under 1\"); use promote \"manual\" to promote by command only",
                ));
            }
            Ok(Ok(ViewReplayRequest {
                view,
                from,
                sql,
                name,
                promote_when_lag_under,
            }))
        }
        ReplayRequest::Topic {
            source,
            to,
            from_time,
            to_time,
            predicate,
        } => Ok(Err(TopicReplayRequest {
            source,
            dest: to,
            from_time: time_of("from_time", from_time.as_ref())?,
            to_time: time_of("to_time", to_time.as_ref())?,
            predicate,
        })),
    }
}

fn replay_id(id: &str) -> Result<u64> {
    id.parse().map_err(|_| Error::NotFound {
        code: "unknown_replay",
        message: format!(
            "there is no replay {id:?}: replay ids are numbers (GET /v1/replays lists them)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<std::result::Result<ViewReplayRequest, TopicReplayRequest>> {
        engine_request(
            serde_json::from_value(v).map_err(|e| Error::bad_request("bad_json", e.to_string()))?,
        )
    }

    #[test]
    fn requests_are_checked() {
        let ok = parse(
            json!({"kind": "view", "view": "v", "from_offsets": [{"partition": 1, "offset": 5}]}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.from, StartAt::Offsets(vec![(1, 5)]));
        assert_eq!(ok.promote_when_lag_under, Some(DEFAULT_PROMOTE_LAG));
        let manual =
            parse(json!({"kind": "view", "view": "v", "promote": "manual", "from_time": 1000}))
                .unwrap()
                .unwrap();
        assert_eq!(
            (manual.from, manual.promote_when_lag_under),
            (StartAt::Time(1000), None)
        );
        for bad in [
            json!({"kind": "view", "view": "v", "from_beginning": true, "from_time": 5}),
            json!({"kind": "view", "view": "v", "promote": "sometimes"}),
            json!({"kind": "view", "view": "v", "promote_when_lag_under": 0}),
            json!({"kind": "view", "view": "v", "from_time": "yesterday-ish"}),
            json!({"kind": "view", "view": "v", "promote": "manual", "promote_when_lag_under": 5}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        let topic = parse(
            json!({"kind": "topic", "source": "a", "to": "b", "to_time": 77, "where": "x > 1"}),
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(
            (topic.to_time, topic.predicate.as_deref()),
            (Some(77), Some("x > 1"))
        );
        assert!(
            serde_json::from_value::<ReplayRequest>(json!({"kind": "topic", "source": "a"}))
                .is_err()
        );
    }
}
