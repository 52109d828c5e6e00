//! Records: `POST /v1/topics/{topic}/records` (produce) and `GET /v1/topics/{topic}/records`
//! (read from an offset or a time, long-poll, or follow as NDJSON).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{
    DEFAULT_FETCH_RECORDS, Params, RawBody, RawQuery, blocking, body_bytes, json_response,
};
use super::reads::{fetch_response, read_waiting};
use super::state::AppState;
use crate::api::ErrorBody;
use crate::api::records::{Fetched, NewRecord, Produced, Record};
use crate::catalog::{APPEND_POLL, TopicEntry};
use crate::error::{Error, Result};
use crate::fetch::{self, Framing, Start};
use crate::records::ValueFormat;
use crate::time::{now_ms, parse_time};

/// The routes of records.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(produce, consume))
}

/// Produce records: a JSON array of record objects, or NDJSON. The whole body is parsed,
/// validated and encoded before anything is appended; errors name the record.
#[utoipa::path(post, path = "/v1/topics/{topic}/records", tag = "records",
    params(("topic" = String, Path, description = "Topic name.")),
    request_body(content(
        (Vec<NewRecord> = "application/json"),
        (NewRecord = "application/x-ndjson"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Where each record landed, in request order (written by hand: `{\"partition\", \"offset\"}` each).", body = Produced),
        (status = 400, description = "A bad record (`bad_record`, `bad_json`, `no_records`, `unknown_partition`), naming its index.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "No such topic.", body = ErrorBody),
        (status = 413, description = "Body over the node's limit, or a record over the topic's `max_record_bytes`.", body = ErrorBody),
    ))]
async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    query: RawQuery,
    body: RawBody,
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

/// Read records from an offset or a time (JSON), long-poll for them, or follow them (NDJSON
/// until the client disconnects, `max` records, the topic is deleted or the node stops; an
/// error ends the stream with a line `{"error": …}`).
#[utoipa::path(get, path = "/v1/topics/{topic}/records", tag = "records",
    params(
        ("topic" = String, Path, description = "Topic name."),
        ("partition" = Option<u32>, Query, description = "Read only this partition (default: all)."),
        ("offset" = Option<String>, Query, description = "`earliest` (default), `latest`, or an offset (in every partition read)."),
        ("timestamp" = Option<String>, Query, description = "Start at the first record at or after this time (ms, RFC 3339, or `-1h`); instead of `offset`."),
        ("max" = Option<u64>, Query, description = "Most records (default 500, at most 100000; with `follow`: stop after this many)."),
        ("wait_ms" = Option<u64>, Query, description = "Long-poll up to this long (at most 60000) when there is nothing to read."),
        ("follow" = Option<bool>, Query, description = "Stream NDJSON records."),
        ("format" = Option<String>, Query, description = "`auto` (default: `value` / `value_text` / `value_b64` by content), `text` or `base64`."),
    ),
    responses(
        (status = 200, description = "The records and where to read on; with `follow`, one record per line.", content(
            (Fetched = "application/json"),
            (Record = "application/x-ndjson"),
        )),
        (status = 400, description = "A bad parameter (`bad_query`).", body = ErrorBody),
        (status = 404, description = "No such topic or partition.", body = ErrorBody),
        (status = 416, description = "Offset outside the partition's range (`valid_range` says which).", body = ErrorBody),
    ))]
async fn consume(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    query: RawQuery,
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
                    let line = e.stream_line();
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
