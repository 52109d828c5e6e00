//! The SQL engine over HTTP: `POST /v1/sql` runs statements (a bare `SELECT` streams its
//! rows back as NDJSON), and `/v1/views/...` lists views, answers with their current rows
//! (filtered, sorted and cut on the node, see [`crate::rows`]), drops them, and streams their
//! changelog as Server-Sent Events.
//!
//! Engine calls block (locks held by view threads, file I/O for catalog changes): they run on
//! the blocking pool. The engine creates and deletes topics in the log itself, so after each
//! call that may have done so the node's topic index is brought up to date
//! ([`Catalog::sync`](crate::catalog::Catalog::sync)).
//!
//! A continuous query is a temporary view owned by its HTTP response: when the response
//! ends — the client went away, `limit` rows were sent, the node shuts down — a guard drops
//! the view with its topics.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use strata_engine::json_lines;
use strata_engine::plan::{Statement, WindowSpec};
use strata_log::{ReadLimits, Topic};
use strata_views::engine::{Engine, Outcome};
use strata_views::streaming::{ViewStats, changelog_topic, late_topic};
use tokio::sync::watch;

use crate::catalog::{APPEND_POLL, Catalog, TopicEntry};
use crate::error::{Error, Result};
use crate::http::{AppState, Params, blocking, body_bytes, json_response, parse_json_body};
use crate::rows::{self, RowQuery};
use crate::time::{now_ms, parse_time};

/// Most changelog records one read of a tailing stream takes.
const TAIL_BATCH: u64 = 5_000;

/// Most rows `limit` may ask for.
const MAX_LIMIT: u64 = 10_000_000;

// ---------------------------------------------------------------------------------------
// POST /v1/sql

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
}

/// `POST /v1/sql`: runs the statements of a text. A text ending in a bare `SELECT` answers
/// with its rows as NDJSON until the client disconnects (or `limit` rows); otherwise with
/// `{"outcomes": [...]}`, one per statement.
pub(crate) async fn sql(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let params = Params::new(query, &["limit"])?;
    let limit = params.u64_in("limit", MAX_LIMIT)?;
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let text = sql_text(&headers, &body)?;
    let engine = Arc::clone(&state.engine);
    let catalog = Arc::clone(&state.catalog);
    let outcomes = blocking(move || {
        check_statements(&engine, &text)?;
        let outcomes = engine.execute(&text);
        // Even a failed text may have run (and created topics for) earlier statements.
        catalog.sync();
        Ok(outcomes?)
    })
    .await?;
    if let Some(Outcome::QueryStarted { name, changelog }) = outcomes.last() {
        let (name, changelog) = (name.clone(), changelog.clone());
        let earlier = &outcomes[..outcomes.len() - 1];
        return query_response(&state, name, &changelog, limit, earlier);
    }
    let body = serde_json::to_vec(&json!({ "outcomes": outcomes }))
        .map_err(|e| Error::Unavailable(format!("cannot write the outcomes: {e}")))?;
    Ok(json_response(StatusCode::OK, body))
}

/// The SQL of a request: `{"sql": "..."}` when the body is JSON, else the body as text.
fn sql_text(headers: &HeaderMap, body: &[u8]) -> Result<String> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // SQL never starts with `{`, so a JSON object is recognised without a content type.
    let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let text = if json_type || looks_json {
        parse_json_body::<SqlRequest>(
            body,
            r#"{"sql": "SELECT * FROM page_views;"} (or send the SQL itself as text/plain)"#,
        )?
        .sql
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| {
            Error::bad_request("bad_body", "the SQL text is not UTF-8; send it as UTF-8")
        })?
    };
    if text.trim().is_empty() {
        return Err(Error::bad_request(
            "bad_body",
            r#"no SQL in the request: send {"sql": "..."} or the SQL text itself"#,
        ));
    }
    Ok(text)
}

/// Rejects, before anything runs, a text whose continuous query is not its last statement:
/// its rows are the response, so nothing may come after it.
fn check_statements(engine: &Engine, text: &str) -> Result<()> {
    // The engine resolves views too (a view may read another view).
    let statements = strata_engine::sql::parse(text, engine)?;
    let queries = statements
        .iter()
        .filter(|s| matches!(s, Statement::Query(_)))
        .count();
    let last_is_query = matches!(statements.last(), Some(Statement::Query(_)));
    if queries > 1 || (queries == 1 && !last_is_query) {
        return Err(Error::bad_request(
            "one_query",
            "a request may run one bare SELECT, as its last statement (its rows stream back as the response); send the other SELECTs in requests of their own, or make them views with CREATE TABLE v AS SELECT …",
        ));
    }
    Ok(())
}

/// Drops a continuous query's temporary view when its response ends, however it ends.
struct QueryGuard {
    engine: Arc<Engine>,
    catalog: Arc<Catalog>,
    name: String,
}

impl Drop for QueryGuard {
    fn drop(&mut self) {
        let engine = Arc::clone(&self.engine);
        let catalog = Arc::clone(&self.catalog);
        let name = std::mem::take(&mut self.name);
        let drop_view = move || {
            match engine.drop_view(&name) {
                Ok(()) | Err(strata_engine::Error::Unknown { .. }) => {}
                Err(e) => {
                    tracing::warn!(query = %name, error = %e, "cannot drop a finished continuous query; the next start drops it")
                }
            }
            catalog.sync();
        };
        // Stopping the view joins its thread: not on an async worker.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(drop_view);
            }
            Err(_) => drop_view(),
        }
    }
}

struct QueryStream {
    guard: QueryGuard,
    topic: Arc<Topic>,
    next: u64,
    remaining: Option<u64>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// Streams a continuous query's rows (its changelog's values, one JSON object per line).
/// Headers name the temporary view (`strata-query`) and the statements that ran before it
/// (`strata-outcomes`, JSON).
fn query_response(
    state: &AppState,
    name: String,
    changelog: &str,
    limit: Option<u64>,
    earlier: &[Outcome],
) -> Result<Response> {
    let guard = QueryGuard {
        engine: Arc::clone(&state.engine),
        catalog: Arc::clone(&state.catalog),
        name: name.clone(),
    };
    let topic = state.catalog.log().topic(changelog)?;
    let st = QueryStream {
        guard,
        topic,
        next: 0,
        remaining: limit,
        shutdown: state.shutdown.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if st.done || st.remaining == Some(0) || *st.shutdown.borrow() {
                return None;
            }
            let (topic, next) = (Arc::clone(&st.topic), st.next);
            let max = st.remaining.unwrap_or(u64::MAX).min(TAIL_BATCH);
            let engine = Arc::clone(&st.guard.engine);
            let view = st.guard.name.clone();
            let read = blocking(move || {
                let rows = read_changelog(&topic, next, max)?;
                if rows.is_empty()
                    && let Some(failure) = engine.failure(&view)
                {
                    return Err(Error::Unavailable(format!("the query stopped: {failure}")));
                }
                Ok(rows)
            })
            .await;
            match read {
                Ok(rows) if !rows.is_empty() => {
                    let mut out = Vec::with_capacity(rows.iter().map(|r| r.1.len() + 1).sum());
                    for (offset, value) in &rows {
                        out.extend_from_slice(value);
                        out.push(b'\n');
                        st.next = offset + 1;
                    }
                    st.remaining = st.remaining.map(|r| r.saturating_sub(rows.len() as u64));
                    return Some((Ok::<_, Infallible>(Bytes::from(out)), st));
                }
                Ok(_) => {}
                Err(e) => {
                    st.done = true;
                    let (_, code, _) = e.classify();
                    let line = json!({ "error": { "code": code, "message": e.to_string() } });
                    return Some((Ok(Bytes::from(format!("{line}\n"))), st));
                }
            }
            // The view thread appends to the log directly: look again shortly.
            tokio::select! {
                _ = st.shutdown.changed() => return None,
                () = tokio::time::sleep(APPEND_POLL) => {},
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert("strata-query", v);
    }
    if !earlier.is_empty()
        && let Ok(text) = serde_json::to_string(earlier)
        && let Ok(v) = HeaderValue::from_str(&ascii_json(&text))
    {
        h.insert("strata-outcomes", v);
    }
    Ok(r)
}

/// JSON text with every non-ASCII character escaped, so it fits in a header.
fn ascii_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// Up to `max` records of a changelog from `next` on: (offset, value). Nothing while `next`
/// is past the end (the view cut its output back to a checkpoint and will write the same
/// rows again).
/// Changelog records from `next`: (offset, key, value).
fn read_changelog_keyed(topic: &Topic, next: u64, max: u64) -> Result<Vec<ChangelogRow>> {
    let part = topic.partition(0)?;
    if next >= part.end_offset() {
        return Ok(Vec::new());
    }
    let fetch = part.read(
        next.max(part.start_offset()),
        ReadLimits {
            max_records: max,
            max_bytes: 4 * 1024 * 1024,
        },
    )?;
    fetch
        .records()
        .map(|r| {
            let r = r?;
            Ok((r.offset, r.key.map(<[u8]>::to_vec), r.value.to_vec()))
        })
        .collect()
}

/// A changelog record: offset, key (the group key and window start, as JSON), value.
type ChangelogRow = (u64, Option<Vec<u8>>, Vec<u8>);

/// For a Lambda view, each changelog row's group as the serving layer answers it now (batch
/// view ⊕ speed partials; the speed layer's row differs from it by the late records a batch
/// run has counted since). Rows of other views, session windows (a session's extent may
/// change in the merge) and rows whose group no longer passes HAVING stay as written.
fn merged_updates(
    engine: &Engine,
    plan: &strata_engine::ViewPlan,
    rows: Vec<ChangelogRow>,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let sessions = matches!(plan.window, Some(WindowSpec::Session { .. }));
    if !plan.merges_batch() || sessions {
        return Ok(rows.into_iter().map(|(o, _, v)| (o, v)).collect());
    }
    let mut merged: std::collections::HashMap<Vec<u8>, Option<Vec<u8>>> =
        std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (offset, key, value) in rows {
        let Some(key) = key else {
            out.push((offset, value));
            continue;
        };
        if !merged.contains_key(&key) {
            let now = merged_row(engine, plan, &key)?;
            merged.insert(key.clone(), now);
        }
        let row = merged.get(&key).cloned().flatten().unwrap_or(value);
        out.push((offset, row));
    }
    Ok(out)
}

/// The merged row of the group a changelog key names (`None` when it has none).
fn merged_row(
    engine: &Engine,
    plan: &strata_engine::ViewPlan,
    key: &[u8],
) -> Result<Option<Vec<u8>>> {
    let Ok(Value::Object(key)) = serde_json::from_slice::<Value>(key) else {
        return Ok(None);
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let values: Option<Vec<String>> = plan
        .group_by
        .iter()
        .map(|(name, _)| key.get(name).map(text))
        .collect();
    let start = key.get("window_start").and_then(Value::as_i64);
    let selection = strata_serving::Selection {
        key: values,
        from: start,
        to: start.map(|s| s.saturating_add(1)),
    };
    let answer = strata_serving::query(engine, plan, &selection).map_err(|e| match e {
        strata_serving::Error::Engine(e) => Error::Engine(e),
        other => Error::Unavailable(other.to_string()),
    })?;
    Ok(json_lines(&answer.rows)?.into_iter().next())
}

/// As [`read_changelog_keyed`], values only; a tombstone (a row that is gone, from a view
/// reading a table) becomes its key with `"_deleted": true`, so every line is a JSON object.
fn read_changelog(topic: &Topic, next: u64, max: u64) -> Result<Vec<(u64, Vec<u8>)>> {
    let rows = read_changelog_keyed(topic, next, max)?;
    Ok(rows
        .into_iter()
        .map(|(offset, key, value)| match key {
            Some(key) if value.is_empty() => {
                let mut deleted = match serde_json::from_slice::<Value>(&key) {
                    Ok(Value::Object(fields)) => fields,
                    _ => serde_json::Map::new(),
                };
                deleted.insert("_deleted".into(), Value::Bool(true));
                (offset, Value::Object(deleted).to_string().into_bytes())
            }
            _ => (offset, value),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// /v1/views

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
        "watermark": watermark(s),
        "lag": s.lag,
        "checkpoints": s.checkpoints,
    })
}

fn watermark(s: &ViewStats) -> Option<i64> {
    (s.watermark != i64::MIN).then_some(s.watermark)
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

fn unknown_view(name: &str) -> Error {
    Error::Engine(strata_engine::Error::Unknown {
        kind: strata_engine::NameKind::View,
        name: name.to_owned(),
    })
}

/// `GET /v1/views`.
pub(crate) async fn list(State(state): State<AppState>) -> Result<Response> {
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
pub(crate) async fn definition(
    State(state): State<AppState>,
    Path(view): Path<String>,
) -> Result<Response> {
    let engine = Arc::clone(&state.engine);
    let v = blocking(move || {
        let mut s = summary(&engine, &view).ok_or_else(|| unknown_view(&view))?;
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
pub(crate) async fn drop_view(
    State(state): State<AppState>,
    Path(view): Path<String>,
) -> Result<Response> {
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
pub(crate) async fn rows(
    State(state): State<AppState>,
    Path(view): Path<String>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
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
pub(crate) async fn key_rows(
    State(state): State<AppState>,
    Path((view, key)): Path<(String, String)>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response> {
    let params = Params::new(
        query,
        &["from", "to", "limit", "order_by", "desc", "top", "by"],
    )?;
    let mut q = row_query(&params)?;
    q.key = Some(key);
    answer_rows(&state, view, q).await
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
    let body = blocking(move || answer(&engine, &view, &q)).await?;
    Ok(json_response(StatusCode::OK, body))
}

/// The JSON body answering `q` on view (or alias) `asked`.
pub(crate) fn answer(engine: &Engine, asked: &str, q: &RowQuery) -> Result<Vec<u8>> {
    // One resolution per answer: an alias's current version answers it whole, so a
    // promotion during the request never mixes two versions.
    let view = engine.resolve(asked).ok_or_else(|| unknown_view(asked))?;
    let plan = engine.plan(&view).ok_or_else(|| unknown_view(asked))?;
    let (rows, stats) = match (current_rows(engine, &plan, q), engine.stats(&view)) {
        (Ok(b), Ok(s)) => (b, s),
        (Err(Error::Engine(strata_engine::Error::Unknown { .. })), _)
        | (_, Err(strata_engine::Error::Unknown { .. })) => {
            let why = engine
                .failure(&view)
                .unwrap_or_else(|| "it could not resume; see the node's log".into());
            return Err(Error::Unavailable(format!(
                "view {view} is not running: {why}"
            )));
        }
        (Err(e), _) => return Err(e),
        (_, Err(e)) => return Err(e.into()),
    };
    let (snapshot, served) = rows;
    if let Some(by) = &q.top_by {
        check_aggregate(&plan, by)?;
    }
    let selected = rows::select(&snapshot, &plan, q)?;
    let lines = json_lines(&selected)?;
    let provenance = Provenance::new(&plan, served.as_ref(), &stats, engine.failure(&view));
    let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 512);
    let columns = rows::columns_json(&selected).to_string();
    write_body_head(&mut body, asked, &plan.name, columns.as_bytes());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(line);
    }
    body.extend_from_slice(format!("],\"count\":{},\"provenance\":", lines.len()).as_bytes());
    provenance.write(&mut body);
    body.push(b'}');
    Ok(body)
}

/// The start of an answer's body, up to the opening of its `rows` array.
pub(crate) fn write_body_head(body: &mut Vec<u8>, asked: &str, version: &str, columns: &[u8]) {
    body.extend_from_slice(b"{\"view\":");
    crate::records::write_str(body, &asked.to_lowercase());
    body.extend_from_slice(b",\"version\":");
    crate::records::write_str(body, version);
    body.extend_from_slice(b",\"columns\":");
    body.extend_from_slice(columns);
    body.extend_from_slice(b",\"rows\":[");
}

/// Rejects a top-N ranking by something that is not one of the view's aggregate columns.
fn check_aggregate(plan: &strata_engine::ViewPlan, by: &str) -> Result<()> {
    let aggregates: Vec<&str> = plan
        .output
        .iter()
        .filter(|(name, _)| !plan.group_by.iter().any(|(g, _)| g == name))
        .filter(|(name, _)| !rows::WINDOW_START_COLUMNS.contains(&name.as_str()))
        .filter(|(name, _)| !matches!(name.as_str(), "window_end" | "windowend"))
        .map(|(name, _)| name.as_str())
        .collect();
    if aggregates.contains(&by) {
        return Ok(());
    }
    Err(Error::bad_request(
        "bad_top",
        format!(
            "top-N ranks by an aggregate, and {by:?} is not one of view {}; its aggregates are {}",
            plan.name,
            if aggregates.is_empty() {
                "none".to_owned()
            } else {
                aggregates.join(", ")
            }
        ),
    ))
}

/// The view's rows to select from: for a Lambda view the merge of its batch view and the
/// speed layer's partials (narrowed to the asked key and window range before merging), with
/// where they come from; else the speed layer's current rows.
fn current_rows(
    engine: &Engine,
    plan: &strata_engine::ViewPlan,
    q: &RowQuery,
) -> Result<(
    arrow::array::RecordBatch,
    Option<strata_serving::Provenance>,
)> {
    if !plan.merges_batch() {
        return Ok((engine.snapshot(&plan.name)?, None));
    }
    let selection = strata_serving::Selection {
        key: q.key.as_deref().and_then(|k| rows::key_values(plan, k)),
        from: q.from,
        to: q.to,
    };
    let answer = strata_serving::query(engine, plan, &selection).map_err(|e| match e {
        strata_serving::Error::Engine(e) => Error::Engine(e),
        other => Error::Unavailable(other.to_string()),
    })?;
    Ok((answer.rows, Some(answer.provenance)))
}

/// Where an answer comes from: the layers merged, the batch view's epoch and horizon, the
/// speed layer's watermark, lag and generations, the view's counters and failure. Fields in
/// name order (as the `serde_json::Value` this replaced wrote them), written straight into
/// the body.
#[derive(Serialize)]
pub(crate) struct Provenance {
    batch: Option<BatchJson>,
    checkpoints: u64,
    emitted: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<String>,
    invalid: u64,
    lag: u64,
    late: u64,
    layers: Vec<&'static str>,
    mode: &'static str,
    records_in: u64,
    speed: SpeedJson,
    watermark: Option<i64>,
}

#[derive(Serialize)]
struct BatchJson {
    created_at: i64,
    epoch: u64,
    horizon: Vec<OffsetJson>,
}

#[derive(Serialize)]
struct OffsetJson {
    offset: u64,
    partition: u32,
}

#[derive(Serialize)]
struct SpeedJson {
    generations: Option<Vec<GenerationJson>>,
    lag: u64,
    watermark: Option<i64>,
}

#[derive(Serialize)]
struct GenerationJson {
    base_offset: u64,
    partition: u32,
}

impl Provenance {
    pub(crate) fn new(
        plan: &strata_engine::ViewPlan,
        served: Option<&strata_serving::Provenance>,
        stats: &ViewStats,
        failure: Option<String>,
    ) -> Self {
        let mode = if plan.merges_batch() {
            "lambda"
        } else {
            "kappa"
        };
        let layers = served.map_or_else(|| vec!["speed"], strata_serving::Provenance::layers);
        let batch = served.and_then(|p| p.batch.as_ref()).map(|b| BatchJson {
            created_at: b.created_at_ms,
            epoch: b.epoch,
            horizon: b
                .horizon
                .iter()
                .map(|&(partition, offset)| OffsetJson { offset, partition })
                .collect(),
        });
        let generations = served.map(|p| {
            p.generations
                .iter()
                .map(|&(partition, base_offset)| GenerationJson {
                    base_offset,
                    partition,
                })
                .collect()
        });
        Provenance {
            batch,
            checkpoints: stats.checkpoints,
            emitted: stats.emitted,
            failure,
            invalid: stats.invalid,
            lag: stats.lag,
            late: stats.late,
            layers,
            mode,
            records_in: stats.records_in,
            speed: SpeedJson {
                generations,
                lag: stats.lag,
                watermark: watermark(stats),
            },
            watermark: watermark(stats),
        }
    }

    /// Appends it as JSON.
    pub(crate) fn write(&self, body: &mut Vec<u8>) {
        // Writing plain structs into a Vec cannot fail.
        let _ = serde_json::to_writer(body, self);
    }
}

// ---------------------------------------------------------------------------------------
// GET /v1/views/{v}/changes

struct Changes {
    engine: Arc<Engine>,
    plan: Arc<strata_engine::ViewPlan>,
    entry: Arc<TopicEntry>,
    next: u64,
    pending: VecDeque<Event>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// `GET /v1/views/{v}/changes?offset=`: Server-Sent Events, one per changelog row (`id` is
/// the row's changelog offset, `data` the row), from the end (`offset=latest`, the default),
/// the beginning (`earliest`) or an offset; a reconnecting client's `Last-Event-ID` resumes
/// after the last row it saw. Ends when the view is dropped or the node shuts down.
pub(crate) async fn changes(
    State(state): State<AppState>,
    Path(view): Path<String>,
    headers: HeaderMap,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response> {
    let params = Params::new(query, &["offset"])?;
    let engine = Arc::clone(&state.engine);
    let name = view.clone();
    let plan = blocking(move || {
        let view = engine.resolve(&name).ok_or_else(|| unknown_view(&name))?;
        engine.plan(&view).ok_or_else(|| unknown_view(&name))
    })
    .await?;
    let entry = state.catalog.topic(&changelog_topic(&plan.name))?;
    let part = entry.topic.partition(0)?;
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let next = match (last_event, params.get("offset")) {
        (Some(id), _) => id + 1,
        (None, None | Some("latest")) => part.end_offset(),
        (None, Some("earliest")) => part.start_offset(),
        (None, Some(o)) => o.parse::<u64>().map_err(|_| {
            Error::bad_request(
                "bad_query",
                format!("offset must be earliest, latest or a changelog offset, not {o:?}"),
            )
        })?,
    };
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
                let rows = read_changelog_keyed(&entry.topic, next, TAIL_BATCH)?;
                // Tombstones (a key, an empty value): a group that is gone (a view reading a
                // table), sent as `delete` events whose data is the key.
                let deleted: std::collections::HashMap<u64, Vec<u8>> = rows
                    .iter()
                    .filter(|(_, _, value)| value.is_empty())
                    .filter_map(|(offset, key, _)| Some((*offset, key.clone()?)))
                    .collect();
                Ok((merged_updates(&engine, &plan, rows)?, deleted))
            });
            match read.await {
                Ok((rows, deleted)) if !rows.is_empty() => {
                    for (offset, value) in rows {
                        st.next = offset + 1;
                        let event = Event::default().id(offset.to_string());
                        st.pending.push_back(match deleted.get(&offset) {
                            Some(key) => event.event("delete").data(String::from_utf8_lossy(key)),
                            None => event.data(String::from_utf8_lossy(&value)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_fit_in_a_header() {
        let text = ascii_json(r#"{"name":"vüe","x":"😀"}"#);
        assert!(text.is_ascii());
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["name"], "vüe");
        assert_eq!(back["x"], "😀");
    }

    #[test]
    fn sql_comes_as_json_or_text() {
        let mut h = HeaderMap::new();
        assert_eq!(sql_text(&h, b"SELECT 1").unwrap(), "SELECT 1");
        assert_eq!(
            sql_text(&h, br#" {"sql": "SHOW VIEWS"}"#).unwrap(),
            "SHOW VIEWS"
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(sql_text(&h, br#"{"sql": "x", "extra": 1}"#).is_err());
        assert!(sql_text(&HeaderMap::new(), b"  ").is_err());
    }
}
