//! The HTTP API under `/v1`, plus `/health` and `/metrics`: routing, authentication, body
//! limits, request metrics, and the handlers of topics, records and groups (SQL and views
//! are in [`crate::views`]). Handlers only translate between HTTP and the [`Catalog`];
//! everything that touches the log runs on the blocking pool.
//!
//! The API is documented in `docs/http-api.md` and served as OpenAPI at `/v1/openapi.json`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use strata_log::TopicConfig;
use strata_log::names::validate_name;
use strata_views::engine::Engine;
use tokio::sync::watch;

use crate::batch;
use crate::catalog::{APPEND_POLL, Catalog, TopicEntry};
use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::fetch::{self, FetchOutput, Framing, Start};
use crate::metrics::Metrics;
use crate::records::ValueFormat;
use crate::time::{TIME_FORMS, now_ms, parse_bytes, parse_duration_ms, parse_time};
use crate::{replays, views};

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Most records one fetch returns.
pub const MAX_FETCH_RECORDS: u64 = 100_000;
/// Records one fetch returns when `max` is not given.
pub const DEFAULT_FETCH_RECORDS: u64 = 500;
/// Longest long poll.
pub const MAX_WAIT_MS: u64 = 60_000;

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    /// Topics and groups.
    pub catalog: Arc<Catalog>,
    /// Sources and views (blocking: call it from the blocking pool).
    pub engine: Arc<Engine>,
    /// The node's configuration.
    pub config: NodeConfig,
    /// Request metrics.
    pub metrics: Metrics,
    /// The batch layer: archiver and batch views.
    pub batch: Arc<crate::batch::BatchLayer>,
    /// Becomes `true` when the node shuts down; follow streams end.
    pub shutdown: watch::Receiver<bool>,
    /// When the node started.
    pub started: Instant,
    /// Kept state of Lambda views' point lookups.
    pub lookups: crate::lookup::Lookups,
}

/// Handle on [`Shared`] given to handlers.
pub type AppState = Arc<Shared>;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/topics", get(list_topics).post(create_topic))
        .route(
            "/v1/topics/{topic}",
            get(describe_topic).delete(delete_topic),
        )
        .route("/v1/topics/{topic}/records", post(produce).get(consume))
        .route("/v1/groups", get(list_groups))
        .route(
            "/v1/groups/{group}",
            get(describe_group).delete(delete_group),
        )
        .route("/v1/groups/{group}/offsets", post(commit_offsets))
        .route("/v1/groups/{group}/reset", post(reset_group))
        .route(
            "/v1/groups/{group}/topics/{topic}/records",
            get(group_fetch),
        )
        .route("/v1/sql", post(views::sql))
        .route("/v1/views", get(views::list))
        .route(
            "/v1/views/{view}",
            get(views::rows).delete(views::drop_view),
        )
        .route("/v1/views/{view}/definition", get(views::definition))
        .route("/v1/views/{view}/keys/{key}", get(views::key_rows))
        .route("/v1/views/{view}/changes", get(views::changes))
        .route(
            "/v1/views/{view}/batch",
            get(batch::latest).post(batch::run_now),
        )
        .route("/v1/batch/archive", post(batch::archive_now))
        .route("/v1/replays", get(replays::list).post(replays::start))
        .route(
            "/v1/replays/{id}",
            get(replays::get).delete(replays::cancel),
        )
        .route("/v1/views/{view}/versions", get(replays::versions))
        .route(
            "/v1/views/{view}/versions/{version}",
            axum::routing::delete(replays::drop_version),
        )
        .route("/v1/views/{view}/promote", post(replays::promote))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), auth))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------
// Middleware

async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    state.metrics.observe(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Writes and admin calls need the bearer token when one is configured: every method but
/// GET, and group fetches (they commit offsets).
async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.config.auth_token.as_deref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD)
        || (path.starts_with("/v1/groups/") && path.contains("/topics/"));
    if !writes {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        next.run(req).await
    } else {
        let mut r = Error::Unauthorized.into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn no_route(method: Method, uri: axum::http::Uri) -> Error {
    Error::NotFound {
        code: "unknown_route",
        message: format!(
            "there is no {method} {}: the API is under /v1 (GET /v1/openapi.json lists every route)",
            uri.path()
        ),
    }
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    let e = Error::bad_request(
        "method_not_allowed",
        format!(
            "{} does not take {method} (GET /v1/openapi.json lists the methods of every route)",
            uri.path()
        ),
    );
    let mut r = e.into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Runs blocking log work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Unavailable(format!("a background task failed: {e}")))?
}

pub(crate) fn body_bytes(
    body: std::result::Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::BodyTooLarge { limit }
        } else {
            Error::bad_request(
                "bad_body",
                format!("cannot read the request body: {rejection}"),
            )
        }
    })
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn parse_json_body<T: for<'de> Deserialize<'de>>(
    body: &[u8],
    example: &str,
) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::bad_request(
            "bad_json",
            format!("the request body is not valid: {e}; it should look like {example}"),
        )
    })
}

/// Query parameters, checked against the names an endpoint takes.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn new(
        query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
        allowed: &[&str],
    ) -> Result<Self> {
        let Query(pairs) = query.map_err(|e| {
            Error::bad_request("bad_query", format!("cannot read the query string: {e}"))
        })?;
        for (k, _) in &pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(Error::bad_request(
                    "bad_query",
                    format!(
                        "unknown query parameter {k:?}: this endpoint takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(Params(pairs))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn u64_in(&self, name: &str, max: u64) -> Result<Option<u64>> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.parse::<u64>() {
            Ok(n) if n <= max => Ok(Some(n)),
            _ => Err(Error::bad_request(
                "bad_query",
                format!("{name} must be an integer between 0 and {max}, not {v:?}"),
            )),
        }
    }

    pub(crate) fn bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(v) => Err(Error::bad_request(
                "bad_query",
                format!("{name} must be true or false, not {v:?}"),
            )),
        }
    }

    fn format(&self) -> Result<ValueFormat> {
        match self.get("format") {
            None | Some("auto") => Ok(ValueFormat::Auto),
            Some("text") => Ok(ValueFormat::Text),
            Some("base64") => Ok(ValueFormat::Base64),
            Some(v) => Err(Error::bad_request(
                "bad_query",
                format!("format must be auto, text or base64, not {v:?}"),
            )),
        }
    }

    /// The partitions to read: the one named, or all.
    fn partitions(&self, entry: &TopicEntry) -> Result<Vec<u32>> {
        let n = entry.topic.partition_count();
        match self.get("partition") {
            None => Ok((0..n).collect()),
            Some(v) => match v.parse::<u32>() {
                Ok(p) if p < n => Ok(vec![p]),
                Ok(p) => Err(Error::Log(strata_log::Error::UnknownPartition {
                    topic: entry.topic.name().to_owned(),
                    partition: p,
                    partitions: n,
                })),
                Err(_) => Err(Error::bad_request(
                    "bad_query",
                    format!(
                        "partition must be an integer between 0 and {}, not {v:?}",
                        n - 1
                    ),
                )),
            },
        }
    }

    fn wait(&self) -> Result<Duration> {
        Ok(Duration::from_millis(
            self.u64_in("wait_ms", MAX_WAIT_MS)?.unwrap_or(0),
        ))
    }

    fn max(&self, default: u64) -> Result<u64> {
        Ok(self.u64_in("max", MAX_FETCH_RECORDS)?.unwrap_or(default))
    }
}

fn check_group_name(group: &str) -> Result<()> {
    validate_name("group", group).map_err(Error::Log)
}

// ---------------------------------------------------------------------------------------
// Health, metrics, OpenAPI

async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "topics": state.catalog.topics().len(),
        "uptime_ms": state.started.elapsed().as_millis() as u64,
        "auth": state.config.auth_token.is_some(),
    }))
}

async fn metrics(State(state): State<AppState>) -> Result<Response> {
    // The engine's counters sit behind locks its view threads hold while they work.
    let st = Arc::clone(&state);
    let text = blocking(move || {
        let mut text = st.metrics.render(&st.catalog, &st.engine);
        text.push_str(&st.batch.metrics.render_prometheus());
        Ok(text)
    })
    .await?;
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(r)
}

async fn openapi() -> Response {
    json_response(StatusCode::OK, OPENAPI_JSON.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------
// Topics

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTopic {
    name: String,
    #[serde(default = "one")]
    partitions: u32,
    #[serde(default)]
    config: Option<serde_json::Map<String, Value>>,
}

fn one() -> u32 {
    1
}

/// Reads a topic config, accepting `"7d"` for `*_ms` fields and `"256MiB"` for `*_bytes`.
///
/// # Errors
/// [`Error::BadRequest`] naming the field.
pub fn topic_config_from_json(mut map: serde_json::Map<String, Value>) -> Result<TopicConfig> {
    for (k, v) in map.iter_mut() {
        if let Value::String(s) = v {
            let parsed = if k.ends_with("_ms") {
                Some(parse_duration_ms(s))
            } else if k.ends_with("_bytes") {
                Some(parse_bytes(s))
            } else {
                None
            };
            if let Some(parsed) = parsed {
                *v = Value::from(parsed.map_err(|e| {
                    Error::bad_request("invalid_config", format!("config.{k}: {e}"))
                })?);
            }
        }
    }
    let config: TopicConfig = serde_json::from_value(Value::Object(map)).map_err(|e| {
        Error::bad_request(
            "invalid_config",
            format!("config: {e} (fields: segment_bytes, segment_ms, retention_ms, retention_bytes, durability = always|interval|never, flush_interval_ms, max_record_bytes, index_interval_bytes)"),
        )
    })?;
    config.validate()?;
    Ok(config)
}

fn describe(entry: &TopicEntry) -> Value {
    let t = &entry.topic;
    let partitions: Vec<Value> = t
        .partitions()
        .iter()
        .map(|p| {
            let s = p.stats();
            json!({
                "partition": p.id(),
                "start_offset": s.start_offset,
                "end_offset": s.end_offset,
                "records": s.end_offset - s.start_offset,
                "size_bytes": s.size_bytes,
                "segments": s.segments,
                "durable_offset": s.durable_offset,
            })
        })
        .collect();
    let records: u64 = partitions
        .iter()
        .filter_map(|p| p["records"].as_u64())
        .sum();
    let size: u64 = partitions
        .iter()
        .filter_map(|p| p["size_bytes"].as_u64())
        .sum();
    json!({
        "name": t.name(),
        "partition_count": t.partition_count(),
        "created_at_ms": t.created_at_ms(),
        "config": t.config(),
        "records": records,
        "size_bytes": size,
        "partitions": partitions,
    })
}

async fn create_topic(
    State(state): State<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let req: CreateTopic = parse_json_body(
        &body,
        r#"{"name": "orders", "partitions": 3, "config": {"durability": "always", "retention_ms": "7d"}}"#,
    )?;
    validate_name("topic", &req.name)?;
    let config = topic_config_from_json(req.config.unwrap_or_default())?;
    let catalog = Arc::clone(&state.catalog);
    let batch = Arc::clone(&state.batch);
    let entry = blocking(move || {
        let entry = catalog.create_topic(&req.name, req.partitions, config)?;
        // Retention must not reach the new topic's segments before they are archived.
        batch.archiver.protect(catalog.log())?;
        Ok(entry)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(describe(&entry))).into_response())
}

async fn list_topics(State(state): State<AppState>) -> Json<Value> {
    let topics: Vec<Value> = state.catalog.topics().iter().map(|e| describe(e)).collect();
    Json(json!({ "topics": topics }))
}

async fn describe_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Json<Value>> {
    let entry = state.catalog.topic(&topic)?;
    Ok(Json(describe(&entry)))
}

async fn delete_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Json<Value>> {
    let catalog = Arc::clone(&state.catalog);
    let name = topic.clone();
    blocking(move || catalog.delete_topic(&name)).await?;
    Ok(Json(json!({ "deleted": topic })))
}

// ---------------------------------------------------------------------------------------
// Records

async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    Params::new(query, &[])?;
    let entry = state.catalog.topic(&topic)?;
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let catalog = Arc::clone(&state.catalog);
    let landed = blocking(move || catalog.produce(&entry, &body)).await?;
    let mut out = Vec::with_capacity(16 + landed.len() * 32);
    out.extend_from_slice(b"{\"offsets\":[");
    for (i, l) in landed.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"partition\":");
        crate::records::push_u64(&mut out, u64::from(l.partition));
        out.extend_from_slice(b",\"offset\":");
        crate::records::push_u64(&mut out, l.offset);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(json_response(StatusCode::OK, out))
}

/// Parses where a plain (group-less) read starts.
fn start_of(params: &Params) -> Result<Start> {
    match (params.get("offset"), params.get("timestamp")) {
        (Some(_), Some(_)) => Err(Error::bad_request(
            "bad_query",
            "give offset or timestamp, not both",
        )),
        (Some("earliest"), None) | (None, None) => Ok(Start::Earliest),
        (Some("latest"), None) => Ok(Start::Latest),
        (Some(o), None) => o.parse::<u64>().map(Start::Offset).map_err(|_| {
            Error::bad_request(
                "bad_query",
                format!("offset must be a non-negative integer, earliest or latest, not {o:?}"),
            )
        }),
        (None, Some(t)) => parse_time(t, now_ms())
            .map(Start::Timestamp)
            .map_err(|e| Error::bad_request("bad_query", format!("timestamp: {e}"))),
    }
}

/// Reads, waiting up to `wait` for records when there are none yet.
async fn read_waiting(
    entry: &Arc<TopicEntry>,
    positions: Vec<(u32, u64)>,
    max: u64,
    format: ValueFormat,
    framing: Framing,
    wait: Duration,
) -> Result<FetchOutput> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Subscribe before reading, so an append between the read and the wait wakes us.
        let mut appended = entry.appended.subscribe();
        let e = Arc::clone(entry);
        let pos = positions.clone();
        let out = blocking(move || fetch::read(&e.topic, &pos, max, format, framing)).await?;
        if entry.is_deleted() {
            return Err(Error::Log(strata_log::Error::UnknownTopic(
                entry.topic.name().to_owned(),
            )));
        }
        if out.count > 0 || tokio::time::Instant::now() >= deadline {
            return Ok(out);
        }
        // Wake on an append through the node, or look again after APPEND_POLL for appends
        // the SQL engine made to the log directly.
        let poll = (tokio::time::Instant::now() + APPEND_POLL).min(deadline);
        match tokio::time::timeout_at(poll, appended.changed()).await {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(_)) => return Ok(out),
        }
    }
}

fn write_offsets(out: &mut Vec<u8>, name: &str, offsets: &[(u32, u64)]) {
    out.extend_from_slice(b"\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":[");
    for (i, (p, o)) in offsets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("{{\"partition\":{p},\"offset\":{o}}}").as_bytes());
    }
    out.push(b']');
}

fn fetch_response(entry: &TopicEntry, out: FetchOutput, group: Option<&str>) -> Response {
    let mut body = Vec::with_capacity(out.json.len() + 128);
    body.extend_from_slice(b"{");
    if let Some(g) = group {
        body.extend_from_slice(b"\"group\":");
        crate::records::write_str(&mut body, g);
        body.push(b',');
    }
    body.extend_from_slice(b"\"topic\":");
    crate::records::write_str(&mut body, entry.topic.name());
    body.extend_from_slice(b",\"records\":[");
    body.extend_from_slice(&out.json);
    body.extend_from_slice(format!("],\"count\":{},", out.count).as_bytes());
    write_offsets(&mut body, "next_offsets", &out.next);
    body.push(b'}');
    entry
        .counters
        .records_out
        .fetch_add(out.count, Ordering::Relaxed);
    entry
        .counters
        .bytes_out
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    json_response(StatusCode::OK, body)
}

async fn consume(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response> {
    let params = Params::new(
        query,
        &[
            "partition",
            "offset",
            "timestamp",
            "max",
            "wait_ms",
            "follow",
            "format",
        ],
    )?;
    let entry = state.catalog.topic(&topic)?;
    let start = start_of(&params)?;
    let partitions = params.partitions(&entry)?;
    let format = params.format()?;
    let follow = params.bool("follow", false)?;
    let wait = params.wait()?;
    let e = Arc::clone(&entry);
    let positions = blocking(move || fetch::resolve(&e.topic, &partitions, start)).await?;
    if follow {
        let max = params.u64_in("max", u64::MAX)?;
        return Ok(follow_response(&state, entry, positions, max, format));
    }
    let max = params.max(DEFAULT_FETCH_RECORDS)?;
    let out = read_waiting(&entry, positions, max, format, Framing::JsonArray, wait).await?;
    Ok(fetch_response(&entry, out, None))
}

struct Follow {
    entry: Arc<TopicEntry>,
    positions: Vec<(u32, u64)>,
    remaining: Option<u64>,
    format: ValueFormat,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// Streams records as NDJSON until the client disconnects, `max` records were sent, the
/// topic is deleted, or the node shuts down.
fn follow_response(
    state: &AppState,
    entry: Arc<TopicEntry>,
    positions: Vec<(u32, u64)>,
    max: Option<u64>,
    format: ValueFormat,
) -> Response {
    let st = Follow {
        entry,
        positions,
        remaining: max,
        format,
        shutdown: state.shutdown.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if st.done || st.remaining == Some(0) || *st.shutdown.borrow() || st.entry.is_deleted()
            {
                return None;
            }
            let mut appended = st.entry.appended.subscribe();
            let e = Arc::clone(&st.entry);
            let pos = st.positions.clone();
            let max = st.remaining.unwrap_or(u64::MAX).min(5_000);
            let format = st.format;
            let read =
                blocking(move || fetch::read(&e.topic, &pos, max, format, Framing::Ndjson)).await;
            match read {
                Ok(out) if out.count > 0 => {
                    st.positions = out.next;
                    st.remaining = st.remaining.map(|r| r.saturating_sub(out.count));
                    let c = &st.entry.counters;
                    c.records_out.fetch_add(out.count, Ordering::Relaxed);
                    c.bytes_out
                        .fetch_add(out.json.len() as u64, Ordering::Relaxed);
                    return Some((Ok::<_, Infallible>(Bytes::from(out.json)), st));
                }
                Ok(_) => {}
                Err(e) => {
                    st.done = true;
                    let (_, code, _) = e.classify();
                    let line = json!({ "error": { "code": code, "message": e.to_string() } });
                    return Some((Ok(Bytes::from(format!("{line}\n"))), st));
                }
            }
            tokio::select! {
                r = appended.changed() => if r.is_err() { return None },
                _ = st.shutdown.changed() => return None,
                // Appends the SQL engine made to the log directly notify nobody.
                () = tokio::time::sleep(APPEND_POLL) => {},
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    r
}

// ---------------------------------------------------------------------------------------
// Consumer groups

/// Where a group starts in a partition it has no usable commit for.
#[derive(Debug, Clone, Copy)]
enum Reset {
    Earliest,
    Latest,
}

/// The offsets a group reads from next: its commits, or `reset` where it has none (or the
/// commit is outside the partition's range, e.g. after retention).
fn committed_positions(
    catalog: &Catalog,
    group: &str,
    entry: &TopicEntry,
    partitions: &[u32],
    reset: Reset,
) -> Result<Vec<(u32, u64)>> {
    let groups = catalog.log().groups();
    partitions
        .iter()
        .map(|&p| {
            let part = entry.topic.partition(p)?;
            let (start, end) = (part.start_offset(), part.end_offset());
            let fallback = match reset {
                Reset::Earliest => start,
                Reset::Latest => end,
            };
            let offset = match groups.committed(group, entry.topic.name(), p) {
                Some(c) if (start..=end).contains(&c.offset) => c.offset,
                _ => fallback,
            };
            Ok((p, offset))
        })
        .collect()
}

async fn group_fetch(
    State(state): State<AppState>,
    Path((group, topic)): Path<(String, String)>,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response> {
    let params = Params::new(
        query,
        &[
            "partition",
            "max",
            "wait_ms",
            "auto_commit",
            "reset",
            "format",
        ],
    )?;
    check_group_name(&group)?;
    let entry = state.catalog.topic(&topic)?;
    let partitions = params.partitions(&entry)?;
    let format = params.format()?;
    let wait = params.wait()?;
    let max = params.max(DEFAULT_FETCH_RECORDS)?;
    let auto_commit = params.bool("auto_commit", true)?;
    let reset = match params.get("reset") {
        None | Some("earliest") => Reset::Earliest,
        Some("latest") => Reset::Latest,
        Some(v) => {
            return Err(Error::bad_request(
                "bad_query",
                format!("reset must be earliest or latest, not {v:?}"),
            ));
        }
    };
    let catalog = Arc::clone(&state.catalog);

    if !auto_commit {
        let (c, g, e) = (Arc::clone(&catalog), group.clone(), Arc::clone(&entry));
        let positions =
            blocking(move || committed_positions(&c, &g, &e, &partitions, reset)).await?;
        let out = read_waiting(&entry, positions, max, format, Framing::JsonArray, wait).await?;
        return Ok(fetch_response(&entry, out, Some(&group)));
    }

    // Kafka's auto-commit: a fetch commits what the previous fetches delivered (the client
    // coming back for more means it has processed them), then delivers the next records.
    let session = catalog.session(&group, &topic);
    let mut session = session.lock().await;
    if catalog.session_expired(session.last_fetch) {
        session.positions = None;
    }
    let all: Vec<u32> = (0..entry.topic.partition_count()).collect();
    let positions = match session.positions.clone() {
        Some(p) => p,
        None => {
            let (c, g, e) = (Arc::clone(&catalog), group.clone(), Arc::clone(&entry));
            blocking(move || committed_positions(&c, &g, &e, &all, reset))
                .await?
                .into_iter()
                .collect()
        }
    };
    {
        let (c, g, t) = (Arc::clone(&catalog), group.clone(), topic.clone());
        let to_commit: Vec<(u32, u64)> = positions.iter().map(|(p, o)| (*p, *o)).collect();
        blocking(move || {
            let groups = c.log().groups();
            let exists = groups.groups().contains(&g);
            let changed: Vec<(&str, u32, u64)> = to_commit
                .iter()
                .filter(|(p, o)| groups.committed(&g, &t, *p).map(|c| c.offset) != Some(*o))
                .map(|(p, o)| (t.as_str(), *p, *o))
                .collect();
            if !changed.is_empty() || !exists {
                groups.commit(&g, &changed)?;
            }
            Ok(())
        })
        .await?;
    }
    let read_from: Vec<(u32, u64)> = partitions
        .iter()
        .map(|p| (*p, positions.get(p).copied().unwrap_or(0)))
        .collect();
    let out = read_waiting(&entry, read_from, max, format, Framing::JsonArray, wait).await?;
    let mut positions = positions;
    for (p, o) in &out.next {
        positions.insert(*p, *o);
    }
    session.positions = Some(positions);
    session.last_fetch = Some(Instant::now());
    Ok(fetch_response(&entry, out, Some(&group)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitRequest {
    topic: String,
    offsets: Vec<PartitionOffset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionOffset {
    partition: u32,
    offset: u64,
}

async fn commit_offsets(
    State(state): State<AppState>,
    Path(group): Path<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<Value>> {
    check_group_name(&group)?;
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let req: CommitRequest = parse_json_body(
        &body,
        r#"{"topic": "orders", "offsets": [{"partition": 0, "offset": 42}]}"#,
    )?;
    let entry = state.catalog.topic(&req.topic)?;
    if req.offsets.is_empty() {
        return Err(Error::bad_request(
            "bad_json",
            "offsets is empty: list at least one {\"partition\": P, \"offset\": O}",
        ));
    }
    for o in &req.offsets {
        let part = entry.topic.partition(o.partition)?;
        let end = part.end_offset();
        if o.offset > end {
            return Err(Error::Log(strata_log::Error::OffsetOutOfRange {
                offset: o.offset,
                start: part.start_offset(),
                end,
            }));
        }
    }
    let catalog = Arc::clone(&state.catalog);
    let g = group.clone();
    let offsets: Vec<(u32, u64)> = req
        .offsets
        .iter()
        .map(|o| (o.partition, o.offset))
        .collect();
    let topic = req.topic.clone();
    let committed = offsets.clone();
    blocking(move || {
        let triples: Vec<(&str, u32, u64)> = offsets
            .iter()
            .map(|(p, o)| (topic.as_str(), *p, *o))
            .collect();
        catalog.log().groups().commit(&g, &triples)?;
        Ok(())
    })
    .await?;
    Ok(Json(json!({
        "group": group,
        "topic": req.topic,
        "committed": committed.iter().map(|(p, o)| json!({"partition": p, "offset": o})).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    topic: String,
    to: String,
    #[serde(default)]
    offset: Option<u64>,
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    partitions: Option<Vec<u32>>,
}

async fn reset_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<Value>> {
    check_group_name(&group)?;
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let example = r#"{"topic": "orders", "to": "earliest"} (or "to": "latest", "to": "offset" with "offset": N, "to": "timestamp" with "timestamp": "2024-05-01T00:00:00Z"; optional "partitions": [0, 1])"#;
    let req: ResetRequest = parse_json_body(&body, example)?;
    let entry = state.catalog.topic(&req.topic)?;
    let start = match (req.to.as_str(), req.offset, &req.timestamp) {
        ("earliest", None, None) => Start::Earliest,
        ("latest", None, None) => Start::Latest,
        ("offset", Some(o), None) => Start::Offset(o),
        ("timestamp", None, Some(t)) => {
            let ms = match t {
                Value::Number(n) => n.as_i64().ok_or_else(|| {
                    Error::bad_request("bad_json", format!("timestamp must be {TIME_FORMS}"))
                })?,
                Value::String(s) => parse_time(s, now_ms())
                    .map_err(|e| Error::bad_request("bad_json", format!("timestamp: {e}")))?,
                _ => {
                    return Err(Error::bad_request(
                        "bad_json",
                        format!("timestamp must be {TIME_FORMS}"),
                    ));
                }
            };
            Start::Timestamp(ms)
        }
        _ => {
            return Err(Error::bad_request(
                "bad_json",
                format!("cannot tell where to reset to; the body should look like {example}"),
            ));
        }
    };
    let partitions = match req.partitions {
        None => (0..entry.topic.partition_count()).collect(),
        Some(ps) => {
            for p in &ps {
                entry.topic.partition(*p)?;
            }
            ps
        }
    };
    let catalog = Arc::clone(&state.catalog);
    let (g, e) = (group.clone(), Arc::clone(&entry));
    let offsets = blocking(move || {
        let offsets = fetch::resolve(&e.topic, &partitions, start)?;
        let triples: Vec<(&str, u32, u64)> = offsets
            .iter()
            .map(|(p, o)| (e.topic.name(), *p, *o))
            .collect();
        catalog.log().groups().commit(&g, &triples)?;
        Ok(offsets)
    })
    .await?;
    state.catalog.forget_sessions(&group, Some(&req.topic));
    Ok(Json(json!({
        "group": group,
        "topic": req.topic,
        "committed": offsets.iter().map(|(p, o)| json!({"partition": p, "offset": o})).collect::<Vec<_>>(),
    })))
}

async fn list_groups(State(state): State<AppState>) -> Json<Value> {
    let log = state.catalog.log();
    let groups: Vec<Value> = log
        .groups()
        .groups()
        .into_iter()
        .map(|g| {
            let lags = log.group_lag(&g).unwrap_or_default();
            let topics: std::collections::BTreeSet<&str> =
                lags.iter().map(|l| l.topic.as_str()).collect();
            json!({
                "group": g,
                "topics": topics,
                "lag": lags.iter().map(|l| l.lag).sum::<u64>(),
            })
        })
        .collect();
    Json(json!({ "groups": groups }))
}

async fn describe_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Json<Value>> {
    check_group_name(&group)?;
    let log = state.catalog.log();
    let lags = log.group_lag(&group)?;
    let committed = log.groups().offsets(&group)?;
    let partitions: Vec<Value> = lags
        .iter()
        .map(|l| {
            let at = committed
                .iter()
                .find(|(t, p, _)| *t == l.topic && *p == l.partition)
                .map(|(_, _, c)| c.committed_at_ms);
            json!({
                "topic": l.topic,
                "partition": l.partition,
                "committed": l.committed,
                "end_offset": l.end_offset,
                "lag": l.lag,
                "committed_at_ms": at,
            })
        })
        .collect();
    Ok(Json(json!({
        "group": group,
        "lag": lags.iter().map(|l| l.lag).sum::<u64>(),
        "partitions": partitions,
    })))
}

async fn delete_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Json<Value>> {
    check_group_name(&group)?;
    let catalog = Arc::clone(&state.catalog);
    let g = group.clone();
    blocking(move || Ok(catalog.log().groups().delete_group(&g)?)).await?;
    state.catalog.forget_sessions(&group, None);
    Ok(Json(json!({ "deleted": group })))
}
