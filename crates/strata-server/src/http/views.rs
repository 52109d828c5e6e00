//! Views: `GET /v1/views` lists them, `GET /v1/views/{v}` and `/v1/views/{v}/keys/{key}`
//! answer with their rows (selected and written by the serving layer), `/definition` shows
//! one's plan, `DELETE` drops one, and `/changes` streams its changes as Server-Sent Events.
//!
//! Engine calls block (locks held by view threads): they run on the blocking pool, except a
//! Lambda view's point lookup, which is faster answered where it arrived.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use strata_engine::plan::WindowSpec;
use strata_serving::{Change, RowQuery};
use strata_views::engine::Engine;
use strata_views::streaming::{ViewStats, changelog_topic, late_topic};
use tokio::sync::watch;

use super::extract::{MAX_LIMIT, Params, RawQuery, blocking, json_response};
use super::state::AppState;
use crate::catalog::{APPEND_POLL, TopicEntry};
use crate::error::{Error, Result};
use crate::time::{now_ms, parse_time};

/// The routes of views (their batch views and versions are under [`super::batch`] and
/// [`super::replays`]).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/views", get(list))
        .route("/v1/views/{view}", get(rows).delete(drop_view))
        .route("/v1/views/{view}/definition", get(definition))
        .route("/v1/views/{view}/keys/{key}", get(key_rows))
        .route("/v1/views/{view}/changes", get(changes))
}

/// `GET /v1/views`.
async fn list(State(state): State<AppState>) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let views = blocking(move || {
        Ok(engine
            .views()
            .iter()
            .filter_map(|v| summary(&engine, v))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(axum::Json(json!({ "views": views })).into_response())
}

/// `GET /v1/views/{v}/definition`: the summary plus the compiled plan.
async fn definition(State(state): State<AppState>, Path(view): Path<String>) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let v = blocking(move || {
        let mut s = summary(&engine, &view).ok_or_else(|| Error::unknown_view(&view))?;
        if let (Some(plan), Some(obj)) = (engine.plan(&view), s.as_object_mut()) {
            obj.insert(
                "plan".into(),
                serde_json::to_value(plan).unwrap_or(Value::Null),
            );
        }
        Ok(s)
    })
    .await?;
    Ok(axum::Json(v).into_response())
}

/// `DELETE /v1/views/{v}`: stops the view, deletes its state, output topics and batch views.
async fn drop_view(State(state): State<AppState>, Path(view): Path<String>) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let catalog = Arc::clone(&state.catalog);
    let batch = Arc::clone(&state.batch);
    let name = view.clone();
    blocking(move || {
        let dropped = engine.drop_view(&name);
        catalog.sync();
        dropped?;
        // Its batch views go with it (a later view of the same name starts afresh).
        Ok(batch.store.drop_view(&name)?)
    })
    .await?;
    Ok(axum::Json(json!({ "dropped": view.to_lowercase() })).into_response())
}

/// `GET /v1/views/{v}?key=&from=&to=&limit=&order_by=&desc=`.
async fn rows(
    State(state): State<AppState>,
    Path(view): Path<String>,
    query: RawQuery,
) -> Result<Response> {
    let params = Params::new(
        query,
        &[
            "key", "from", "to", "limit", "order_by", "desc", "top", "by",
        ],
    )?;
    let mut q = row_query(&params)?;
    q.key = params.get("key").map(str::to_owned);
    answer_rows(&state, view, q).await
}

/// `GET /v1/views/{v}/keys/{key}?from=&to=&limit=&order_by=&desc=`: the rows of one key.
async fn key_rows(
    State(state): State<AppState>,
    Path((view, key)): Path<(String, String)>,
    query: RawQuery,
) -> Result<Response> {
    let params = Params::new(
        query,
        &["from", "to", "limit", "order_by", "desc", "top", "by"],
    )?;
    let mut q = row_query(&params)?;
    q.key = Some(key);
    answer_rows(&state, view, q).await
}

/// `GET /v1/views/{v}/changes?offset=`: Server-Sent Events, one per changelog row (`id` is
/// the row's changelog offset, `data` the row), from the end (`offset=latest`, the default),
/// the beginning (`earliest`) or an offset; a reconnecting client's `Last-Event-ID` resumes
/// after the last row it saw. Ends when the view is dropped or the node shuts down.
async fn changes(
    State(state): State<AppState>,
    Path(view): Path<String>,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response> {
    let params = Params::new(query, &["offset"])?;
    let engine = Arc::clone(&state.engine);
    let name = view.clone();
    let plan = blocking(move || {
        let view = engine
            .resolve(&name)
            .ok_or_else(|| Error::unknown_view(&name))?;
        engine.plan(&view).ok_or_else(|| Error::unknown_view(&name))
    })
    .await?;
    let entry = state.catalog.topic(&changelog_topic(&plan.name))?;
    let next = first_change(&entry, &headers, &params)?;
    let st = Changes {
        engine: Arc::clone(&state.engine),
        plan: Arc::new(plan),
        entry,
        next,
        pending: VecDeque::new(),
        shutdown: state.shutdown.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(event) = st.pending.pop_front() {
                return Some((Ok::<_, Infallible>(event), st));
            }
            if st.done || *st.shutdown.borrow() || st.entry.is_deleted() {
                return None;
            }
            let (entry, next) = (Arc::clone(&st.entry), st.next);
            let (engine, plan) = (Arc::clone(&st.engine), Arc::clone(&st.plan));
            let read = blocking(move || {
                let changes = strata_serving::read_changes(
                    &engine,
                    &plan,
                    &entry.topic,
                    next,
                    strata_serving::TAIL_BATCH,
                )?;
                Ok(changes)
            });
            match read.await {
                Ok(changes) if !changes.is_empty() => {
                    for change in changes {
                        let offset = change.offset();
                        st.next = offset + 1;
                        let event = Event::default().id(offset.to_string());
                        st.pending.push_back(match change {
                            // A group that is gone (a view reading a table): its key.
                            Change::Delete { key, .. } => {
                                event.event("delete").data(String::from_utf8_lossy(&key))
                            }
                            Change::Update { row, .. } => event.data(String::from_utf8_lossy(&row)),
                        });
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    st.done = true;
                    let (_, code, _) = e.classify();
                    let data = json!({ "error": { "code": code, "message": e.to_string() } });
                    return Some((
                        Ok(Event::default().event("error").data(data.to_string())),
                        st,
                    ));
                }
            }
            tokio::select! {
                _ = st.shutdown.changed() => return None,
                () = tokio::time::sleep(APPEND_POLL) => {},
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn row_query(params: &Params) -> Result<RowQuery> {
    let time = |name: &str| -> Result<Option<i64>> {
        params
            .get(name)
            .map(|t| {
                parse_time(t, now_ms())
                    .map_err(|e| Error::bad_request("bad_range", format!("{name}: {e}")))
            })
            .transpose()
    };
    let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let mut q = RowQuery {
        key: None,
        from: time("from")?,
        to: time("to")?,
        order_by: params.get("order_by").map(str::to_lowercase),
        desc: params.bool("desc", false)?,
        limit: params.u64_in("limit", MAX_LIMIT)?.map(as_usize),
        top_by: None,
    };
    // Top N by an aggregate: `top=N&by=AGG` is `order_by=AGG&desc=true&limit=N`, with `by`
    // checked against the view's aggregates.
    match (params.u64_in("top", MAX_LIMIT)?, params.get("by")) {
        (None, None) => {}
        (Some(n), Some(by)) => {
            if q.order_by.is_some() || q.limit.is_some() {
                return Err(Error::bad_request(
                    "bad_top",
                    "top/by already sort and cut the rows: drop order_by, desc and limit",
                ));
            }
            q.order_by = Some(by.to_lowercase());
            q.desc = true;
            q.limit = Some(as_usize(n));
            q.top_by = Some(by.to_lowercase());
        }
        _ => {
            return Err(Error::bad_request(
                "bad_top",
                "top and by go together: top=10&by=view_count ranks rows by that aggregate",
            ));
        }
    }
    Ok(q)
}

async fn answer_rows(state: &AppState, view: String, q: RowQuery) -> Result<Response> {
    // A Lambda view's point lookup merges one key's groups with kept scratch operators and
    // writes its rows straight to JSON: tens of microseconds, less than the two thread
    // switches of the blocking pool, which dominated its profile. Everything else (and
    // everything that may touch a whole view) runs on the blocking pool.
    if let Some(body) = state.lookups.answer(&state.engine, &view, &q) {
        return Ok(json_response(StatusCode::OK, body));
    }
    let engine = Arc::clone(&state.engine);
    let body = blocking(move || Ok(strata_serving::answer(&engine, &view, &q)?)).await?;
    Ok(json_response(StatusCode::OK, body))
}

/// What `GET /v1/views` says about one view; `None` when it is gone.
fn summary(engine: &Engine, name: &str) -> Option<Value> {
    let plan = engine.plan(name)?;
    let stats = engine.stats(name).ok();
    let failure = engine.failure(name);
    let status = match (&stats, &failure) {
        (_, Some(_)) => "failed",
        (Some(_), None) => "running",
        (None, None) => "stopped",
    };
    Some(json!({
        "name": plan.name,
        "source": plan.source.name,
        "source_topic": plan.source.topic,
        "window": window_json(plan.window.or(plan.rank.as_ref().map(|r| r.window))),
        "grace_ms": plan.grace_ms,
        "emit": plan.emit,
        "keys": plan.group_by.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        "columns": match &plan.rank {
            // A window Top-N's columns are its outer SELECT's, not what it ranks.
            Some(_) => engine.columns(name).unwrap_or_default(),
            None => plan.output.iter().map(|(n, _)| n.clone()).collect(),
        },
        "rank": plan.rank,
        "changelog_topic": changelog_topic(&plan.name),
        "late_topic": late_topic(&plan.name),
        "status": status,
        "failure": failure,
        "stats": stats.as_ref().map(stats_json),
    }))
}

/// A window as JSON: `{"kind": "tumbling", "size_ms": 60000}`; `null` when not windowed.
fn window_json(window: Option<WindowSpec>) -> Value {
    match window {
        None => Value::Null,
        Some(WindowSpec::Tumbling { size_ms }) => json!({ "kind": "tumbling", "size_ms": size_ms }),
        Some(WindowSpec::Hopping {
            size_ms,
            advance_ms,
        }) => json!({ "kind": "hopping", "size_ms": size_ms, "advance_ms": advance_ms }),
        Some(WindowSpec::Session { gap_ms }) => json!({ "kind": "session", "gap_ms": gap_ms }),
    }
}

/// A view's counters; the watermark is `null` before the first event.
fn stats_json(s: &ViewStats) -> Value {
    json!({
        "records_in": s.records_in,
        "late": s.late,
        "invalid": s.invalid,
        "emitted": s.emitted,
        "watermark": strata_serving::watermark(s),
        "lag": s.lag,
        "checkpoints": s.checkpoints,
    })
}

/// A change stream between two reads of the changelog.
struct Changes {
    engine: Arc<Engine>,
    plan: Arc<strata_engine::ViewPlan>,
    entry: Arc<TopicEntry>,
    next: u64,
    pending: VecDeque<Event>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// The changelog offset a change stream starts at: after the client's `Last-Event-ID` when
/// it reconnects, else `offset` (`latest`, the default; `earliest`; or an offset).
fn first_change(entry: &TopicEntry, headers: &HeaderMap, params: &Params) -> Result<u64> {
    let part = entry.topic.partition(0)?;
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    Ok(match (last_event, params.get("offset")) {
        (Some(id), _) => id + 1,
        (None, None | Some("latest")) => part.end_offset(),
        (None, Some("earliest")) => part.start_offset(),
        (None, Some(o)) => o.parse::<u64>().map_err(|_| {
            Error::bad_request(
                "bad_query",
                format!("offset must be earliest, latest or a changelog offset, not {o:?}"),
            )
        })?,
    })
}
