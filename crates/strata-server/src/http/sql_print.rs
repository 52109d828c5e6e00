//! `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]` (a statement of `POST /v1/sql`): the
//! topic's raw records as NDJSON, one object per record — `partition`, `offset`, `timestamp`,
//! `key`, and the value (`value` when it is JSON, `value_text` when text, `value_b64`
//! otherwise), as `GET /v1/topics/{t}/records` writes them — until the client goes away,
//! `LIMIT` records were sent, or the node shuts down.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use strata_log::Topic;
use tokio::sync::watch;

use super::extract::blocking;
use super::state::AppState;
use crate::catalog::APPEND_POLL;
use crate::error::Result;
use crate::fetch::{self, Framing, Start};
use crate::records::ValueFormat;

/// What to print.
pub(super) struct Print {
    pub topic: String,
    pub from_beginning: bool,
    pub interval: u64,
    pub limit: Option<u64>,
}

struct PrintStream {
    topic: Arc<Topic>,
    positions: Vec<(u32, u64)>,
    /// Records seen so far (INTERVAL keeps every n-th).
    seen: u64,
    interval: u64,
    remaining: Option<u64>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// The streaming response of a PRINT; `headers` are set on it (the earlier outcomes).
pub(super) fn print_response(state: &AppState, p: Print) -> Result<Response> {
    let topic = state.catalog.log().topic(&p.topic)?;
    let partitions: Vec<u32> = (0..topic.partition_count()).collect();
    let start = if p.from_beginning {
        Start::Earliest
    } else {
        Start::Latest
    };
    let st = PrintStream {
        positions: fetch::resolve(&topic, &partitions, start)?,
        topic,
        seen: 0,
        interval: p.interval.max(1),
        remaining: p.limit,
        shutdown: state.shutdown.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if st.done || st.remaining == Some(0) || *st.shutdown.borrow() {
                return None;
            }
            let budget = st
                .remaining
                .map_or(strata_serving::TAIL_BATCH, |r| {
                    r.saturating_mul(st.interval)
                })
                .min(strata_serving::TAIL_BATCH);
            let (topic, positions) = (Arc::clone(&st.topic), st.positions.clone());
            let read = blocking(move || {
                fetch::read(
                    &topic,
                    &positions,
                    budget,
                    ValueFormat::Auto,
                    Framing::Ndjson,
                )
            })
            .await;
            match read {
                Ok(out) if out.count > 0 => {
                    st.positions = out.next;
                    let lines = keep(&out.json, &mut st.seen, st.interval, &mut st.remaining);
                    if !lines.is_empty() {
                        return Some((Ok::<_, Infallible>(Bytes::from(lines)), st));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    st.done = true;
                    return Some((Ok(Bytes::from(format!("{}\n", e.stream_line()))), st));
                }
            }
            tokio::select! {
                _ = st.shutdown.changed() => return None,
                () = tokio::time::sleep(APPEND_POLL) => {},
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(r)
}

/// The lines of `ndjson` that INTERVAL and LIMIT keep: every `interval`-th record counted
/// from the first (`seen` carries the count across reads), at most `remaining`. A JSON line
/// holds no raw newline, so lines are records.
fn keep(ndjson: &[u8], seen: &mut u64, interval: u64, remaining: &mut Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(ndjson.len());
    for line in ndjson.split_inclusive(|&b| b == b'\n') {
        let n = *seen;
        *seen += 1;
        if !n.is_multiple_of(interval) || *remaining == Some(0) {
            continue;
        }
        out.extend_from_slice(line);
        if let Some(r) = remaining {
            *r -= 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_and_limit_pick_lines() {
        let text = b"a\nb\nc\nd\ne\n";
        let (mut seen, mut remaining) = (0, None);
        assert_eq!(keep(text, &mut seen, 2, &mut remaining), b"a\nc\ne\n");
        assert_eq!(seen, 5);
        // The count goes on across reads: the 6th record (index 5) is skipped, the 7th kept.
        assert_eq!(keep(b"f\ng\n", &mut seen, 2, &mut remaining), b"g\n");
        let (mut seen, mut remaining) = (0, Some(2));
        assert_eq!(keep(text, &mut seen, 1, &mut remaining), b"a\nb\n");
        assert_eq!(remaining, Some(0));
    }
}
