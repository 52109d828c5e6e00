//! What handlers take from a request and hand back: query parameters checked against the
//! names an endpoint takes ([`Params`]), request bodies within the node's limit, JSON bodies
//! with an example in their error, JSON responses, and the blocking pool for log and engine
//! work.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::catalog::TopicEntry;
use crate::error::{Error, Result};
use crate::records::ValueFormat;

/// Most records one fetch returns.
pub const MAX_FETCH_RECORDS: u64 = 100_000;
/// Records one fetch returns when `max` is not given.
pub const DEFAULT_FETCH_RECORDS: u64 = 500;
/// Longest long poll.
pub const MAX_WAIT_MS: u64 = 60_000;
/// Most rows a view query's or a continuous query's `limit` (or `top`) may ask for.
pub(crate) const MAX_LIMIT: u64 = 10_000_000;

/// A request's query string as handlers take it: its rejection becomes a 400 in
/// [`Params::new`], not axum's plain-text one.
pub(crate) type RawQuery = std::result::Result<Query<Vec<(String, String)>>, QueryRejection>;

/// A request's body as handlers take it: its rejection becomes the node's error in
/// [`body_bytes`].
pub(crate) type RawBody = std::result::Result<Bytes, BytesRejection>;

/// Runs blocking log or engine work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Unavailable(format!("a background task failed: {e}")))?
}

/// The request body, or why it could not be read (over `limit`: 413).
pub(crate) fn body_bytes(body: RawBody, limit: usize) -> Result<Bytes> {
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

/// A response with a JSON body already written.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A 200 answer of one of the API's types, its object keys sorted at every level: those
/// bodies used to be `serde_json` maps, which write keys sorted, and clients have seen that
/// order (the intermediate `Value` is what those maps cost as well).
pub(crate) fn json_sorted<T: Serialize>(body: &T) -> Result<Response> {
    let value = serde_json::to_value(body)
        .map_err(|e| Error::Unavailable(format!("cannot write the answer: {e}")))?;
    Ok(json_response(
        StatusCode::OK,
        value.to_string().into_bytes(),
    ))
}

/// A JSON request body; a 400 `bad_json` saying what it should look like (`example`).
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
    /// The query's parameters; a 400 naming the parameters taken for any other.
    pub(crate) fn new(query: RawQuery, allowed: &[&str]) -> Result<Self> {
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

    /// The last non-empty value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// An integer parameter up to `max`.
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

    /// A boolean parameter (`true`/`1`/`yes`, `false`/`0`/`no`).
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

    /// How fetched values are written (`format`).
    pub(crate) fn format(&self) -> Result<ValueFormat> {
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
    pub(crate) fn partitions(&self, entry: &TopicEntry) -> Result<Vec<u32>> {
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

    /// How long a fetch waits for records (`wait_ms`).
    pub(crate) fn wait(&self) -> Result<Duration> {
        Ok(Duration::from_millis(
            self.u64_in("wait_ms", MAX_WAIT_MS)?.unwrap_or(0),
        ))
    }

    /// Most records a fetch returns (`max`).
    pub(crate) fn max(&self, default: u64) -> Result<u64> {
        Ok(self.u64_in("max", MAX_FETCH_RECORDS)?.unwrap_or(default))
    }
}
