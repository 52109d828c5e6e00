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

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use strata_engine::plan::{EmitMode, WindowSpec};
use strata_serving::{Change, RowQuery};
use strata_views::engine::Engine;
use strata_views::streaming::{changelog_topic, late_topic};
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{MAX_LIMIT, Params, RawQuery, blocking, json_response, json_sorted};
use super::state::AppState;
use crate::api::ErrorBody;
use crate::api::views::{Answer, Dropped, ViewDefinition, ViewStats, ViewSummary, Views, Window};
use crate::catalog::{APPEND_POLL, TopicEntry};
use crate::error::{Error, Result};
use crate::time::{now_ms, parse_time};

/// The routes of views (their batch views and versions are in `batch` and `replays`).
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(rows, drop_view))
        .routes(routes!(definition))
        .routes(routes!(key_rows))
        .routes(routes!(changes))
}

/// List views (continuous queries left out) with their source, window, emission, status
/// and counters.
#[utoipa::path(get, path = "/v1/views", tag = "views",
    responses((status = 200, description = "Every view.", body = Views)))]
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
    json_sorted(&Views { views })
}

/// The view as `GET /v1/views` lists it, plus its compiled plan.
#[utoipa::path(get, path = "/v1/views/{view}/definition", tag = "views",
    params(("view" = String, Path, description = "View name (case-insensitive).")),
    responses(
        (status = 200, description = "The view and its plan.", body = ViewDefinition),
        (status = 404, description = "No such view (`unknown_view`).", body = ErrorBody),
    ))]
async fn definition(State(state): State<AppState>, Path(view): Path<String>) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let v = blocking(move || {
        let summary = summary(&engine, &view).ok_or_else(|| Error::unknown_view(&view))?;
        let plan = engine
            .plan(&view)
            .map(|plan| serde_json::to_value(plan).unwrap_or(serde_json::Value::Null));
        Ok(ViewDefinition { summary, plan })
    })
    .await?;
    json_sorted(&v)
}

/// Drop the view: stop it and delete its state, its output topics (`<view>-changelog`,
/// `<view>-late`) and its batch views.
#[utoipa::path(delete, path = "/v1/views/{view}", tag = "views",
    params(("view" = String, Path, description = "View name (case-insensitive).")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dropped.", body = Dropped),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "No such view (`unknown_view`).", body = ErrorBody),
    ))]
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
    json_sorted(&Dropped {
        dropped: view.to_lowercase(),
    })
}

/// The view's current rows, filtered, sorted and cut on the node, with their provenance
/// (for a Lambda view, the merge of its batch view and the speed layer).
#[utoipa::path(get, path = "/v1/views/{view}", tag = "views",
    params(
        ("view" = String, Path, description = "View name or alias (case-insensitive)."),
        ("key" = Option<String>, Query, description = "Only the rows of this group key: its text for one key column; a JSON array or comma-separated values for several."),
        ("from" = Option<String>, Query, description = "Only rows whose window_start is at or after this time: ms since the epoch, RFC 3339, or relative (`-1h`)."),
        ("to" = Option<String>, Query, description = "Only rows whose window_start is before this time (same forms)."),
        ("order_by" = Option<String>, Query, description = "Sort by this output column (NULLs last; ties keep the view's order)."),
        ("desc" = Option<bool>, Query, description = "Sort descending (without order_by: the view's order reversed)."),
        ("limit" = Option<u64>, Query, description = "Most rows returned, after sorting (default: all)."),
        ("top" = Option<u64>, Query, description = "With `by`: the top N rows by that aggregate (`order_by=by&desc=true&limit=N`)."),
        ("by" = Option<String>, Query, description = "The aggregate column `top` ranks by."),
    ),
    responses(
        (status = 200, description = "Rows and provenance.", body = Answer),
        (status = 400, description = "A bad filter: from not before to, an unknown order_by column, a key on a view without key columns, from/to on a view without windows (`bad_range`, `bad_order_by`, `bad_key`, `bad_top`, `bad_query`).", body = ErrorBody),
        (status = 404, description = "No such view (`unknown_view`).", body = ErrorBody),
        (status = 503, description = "The view is not running (it failed; the message says why).", body = ErrorBody),
    ))]
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

/// The rows of one group key (every window), as `GET /v1/views/{view}?key=` answers them.
#[utoipa::path(get, path = "/v1/views/{view}/keys/{key}", tag = "views",
    params(
        ("view" = String, Path, description = "View name or alias (case-insensitive)."),
        ("key" = String, Path, description = "Group key (several key columns: a JSON array or comma-separated values)."),
        ("from" = Option<String>, Query, description = "Only rows whose window_start is at or after this time."),
        ("to" = Option<String>, Query, description = "Only rows whose window_start is before this time."),
        ("order_by" = Option<String>, Query, description = "Sort by this output column."),
        ("desc" = Option<bool>, Query, description = "Sort descending."),
        ("limit" = Option<u64>, Query, description = "Most rows returned, after sorting."),
        ("top" = Option<u64>, Query, description = "With `by`: the top N rows by that aggregate."),
        ("by" = Option<String>, Query, description = "The aggregate column `top` ranks by."),
    ),
    responses(
        (status = 200, description = "Rows and provenance.", body = Answer),
        (status = 400, description = "A bad filter.", body = ErrorBody),
        (status = 404, description = "No such view (`unknown_view`).", body = ErrorBody),
        (status = 503, description = "The view is not running.", body = ErrorBody),
    ))]
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

/// Server-Sent Events of the view's changelog rows as they are emitted: `id` is the row's
/// changelog offset, `data` the row (for a Lambda view, its group as the serving layer answers
/// it now); a row that is gone (a view reading a table) is a `delete` event whose data is its
/// key. A reconnect's `Last-Event-ID` resumes after that row. Ends when the view is dropped or
/// the node shuts down (an error ends it with an `error` event); a comment every 15 s keeps
/// the connection alive.
#[utoipa::path(get, path = "/v1/views/{view}/changes", tag = "views",
    params(
        ("view" = String, Path, description = "View name or alias (case-insensitive)."),
        ("offset" = Option<String>, Query, description = "Where to start: `latest` (default; new rows only), `earliest`, or a changelog offset."),
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this changelog offset."),
    ),
    responses(
        (status = 200, description = "The event stream.", content_type = "text/event-stream", body = String),
        (status = 400, description = "A bad offset.", body = ErrorBody),
        (status = 404, description = "No such view (`unknown_view`).", body = ErrorBody),
    ))]
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
                    return Some((
                        Ok(Event::default().event("error").data(e.stream_line())),
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
fn summary(engine: &Engine, name: &str) -> Option<ViewSummary> {
    let plan = engine.plan(name)?;
    let stats = engine.stats(name).ok();
    let failure = engine.failure(name);
    let status = match (&stats, &failure) {
        (_, Some(_)) => "failed",
        (Some(_), None) => "running",
        (None, None) => "stopped",
    };
    Some(ViewSummary {
        name: plan.name.clone(),
        source: plan.source.name.clone(),
        source_topic: plan.source.topic.clone(),
        window: window(plan.window.or(plan.rank.as_ref().map(|r| r.window))),
        grace_ms: plan.grace_ms,
        emit: match plan.emit {
            EmitMode::Changes => "changes",
            EmitMode::Final => "final",
        }
        .to_owned(),
        keys: plan.group_by.iter().map(|(n, _)| n.clone()).collect(),
        columns: match &plan.rank {
            // A window Top-N's columns are its outer SELECT's, not what it ranks.
            Some(_) => engine.columns(name).unwrap_or_default(),
            None => plan.output.iter().map(|(n, _)| n.clone()).collect(),
        },
        rank: plan
            .rank
            .as_ref()
            .and_then(|r| serde_json::to_value(r).ok()),
        changelog_topic: changelog_topic(&plan.name),
        late_topic: late_topic(&plan.name),
        status: status.to_owned(),
        failure,
        stats: stats.as_ref().map(|s| ViewStats {
            records_in: s.records_in,
            late: s.late,
            invalid: s.invalid,
            emitted: s.emitted,
            watermark: strata_serving::watermark(s),
            lag: s.lag,
            checkpoints: s.checkpoints,
        }),
    })
}

/// A view's window; `None` when not windowed.
fn window(window: Option<WindowSpec>) -> Option<Window> {
    Some(match window? {
        WindowSpec::Tumbling { size_ms } => Window::Tumbling { size_ms },
        WindowSpec::Hopping {
            size_ms,
            advance_ms,
        } => Window::Hopping {
            size_ms,
            advance_ms,
        },
        WindowSpec::Session { gap_ms } => Window::Session { gap_ms },
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
