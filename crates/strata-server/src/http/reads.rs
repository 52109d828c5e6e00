//! Reading records for an answer, shared by plain reads ([`super::records`]) and group
//! fetches ([`super::groups`]): waiting for records up to a deadline, and the fetch body.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;

use super::extract::{blocking, json_response};
use crate::catalog::{APPEND_POLL, TopicEntry};
use crate::error::{Error, Result};
use crate::fetch::{self, FetchOutput, Framing};
use crate::records::ValueFormat;

/// Reads, waiting up to `wait` for records when there are none yet.
pub(crate) async fn read_waiting(
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

/// The answer to a fetch: `{"group"?, "topic", "records", "count", "next_offsets"}`; counts
/// what goes out in the topic's counters.
pub(crate) fn fetch_response(
    entry: &TopicEntry,
    out: FetchOutput,
    group: Option<&str>,
) -> Response {
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

/// Writes `"name":[{"partition":P,"offset":O},…]`.
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
