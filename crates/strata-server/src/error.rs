//! The one error type of the node, and its mapping to HTTP status codes and JSON bodies.
//!
//! Every failure a client can cause maps to a 4xx whose message says what to fix; only
//! failures of the node itself (I/O, corruption) are 5xx. The mapping lives in one
//! [`IntoResponse`] impl so that every endpoint answers alike:
//!
//! ```json
//! {"error": {"code": "unknown_topic", "message": "topic \"x\" does not exist ...", ...}}
//! ```

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Everything that can go wrong while serving a request or running the node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed; `code` is a stable machine-readable name.
    #[error("{message}")]
    BadRequest {
        /// Stable error code, e.g. `bad_json`.
        code: &'static str,
        /// What is wrong and how to fix it.
        message: String,
        /// Extra machine-readable context (e.g. the index of the bad record).
        details: Option<Value>,
    },

    /// A write or admin call without the right bearer token.
    #[error(
        "this call needs the node's auth token: send the header \"Authorization: Bearer <token>\" (the CLI reads --auth-token or STRATA_AUTH_TOKEN)"
    )]
    Unauthorized,

    /// The named resource (route, partition, ...) does not exist.
    #[error("{message}")]
    NotFound {
        /// Stable error code, e.g. `unknown_route`.
        code: &'static str,
        /// What was not found and where to look.
        message: String,
    },

    /// The request is valid but the node's state does not allow it yet (e.g. a batch run
    /// before anything was archived).
    #[error("{message}")]
    Conflict {
        /// Stable error code, e.g. `not_archived`.
        code: &'static str,
        /// What is missing and what to do first.
        message: String,
    },

    /// The request body is over the node's limit.
    #[error(
        "the request body is over this node's limit of {limit} bytes: send fewer records per request, or start the node with a larger --max-body-bytes"
    )]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },

    /// An error of the log, mapped by its kind.
    #[error(transparent)]
    Log(#[from] strata_log::Error),

    /// An error of the SQL engine (bad SQL, unknown view, a failed checkpoint), mapped by
    /// its kind.
    #[error(transparent)]
    Engine(#[from] strata_engine::Error),

    /// An error of the batch layer (archiving, batch views), mapped by its kind.
    #[error(transparent)]
    Batch(#[from] strata_batch::Error),

    /// A log error about one record of a produce request.
    #[error("record {index}: {source}")]
    Record {
        /// Index of the record in the request body.
        index: usize,
        /// What the log said.
        #[source]
        source: strata_log::Error,
    },

    /// The node is shutting down or a background task failed.
    #[error("{0}")]
    Unavailable(String),

    /// The node's configuration is invalid (startup only).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// An I/O error outside the log (binding the listen address, reading a file).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The node's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A 400 with a code and a message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// A 400 about one record of a produce request.
    pub fn bad_record(index: usize, message: impl std::fmt::Display) -> Self {
        Error::BadRequest {
            code: "bad_record",
            message: format!("record {index}: {message}"),
            details: Some(json!({ "record": index })),
        }
    }

    /// A 404 naming a view (or alias) that does not exist.
    pub(crate) fn unknown_view(name: &str) -> Self {
        Error::Engine(strata_engine::Error::Unknown {
            kind: strata_engine::NameKind::View,
            name: name.to_owned(),
        })
    }

    /// The line that ends a stream (NDJSON, Server-Sent Events) this error broke off: its
    /// code and message.
    pub(crate) fn stream_line(&self) -> String {
        let (_, code, _) = self.classify();
        serde_json::to_string(&crate::api::ErrorBody::new(code, self.to_string()))
            .unwrap_or_default()
    }

    /// The HTTP status, the stable code and extra details of this error.
    pub fn classify(&self) -> (StatusCode, &'static str, Option<Value>) {
        match self {
            Error::BadRequest { code, details, .. } => {
                (StatusCode::BAD_REQUEST, code, details.clone())
            }
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            Error::NotFound { code, .. } => (StatusCode::NOT_FOUND, code, None),
            Error::Conflict { code, .. } => (StatusCode::CONFLICT, code, None),
            Error::BodyTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                Some(json!({ "limit_bytes": limit })),
            ),
            Error::Record { index, source } => {
                let (status, code, _) = classify_log(source);
                (status, code, Some(json!({ "record": index })))
            }
            Error::Log(e) => classify_log(e),
            Error::Engine(e) => classify_engine(e),
            Error::Batch(e) => classify_batch(e),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            Error::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "config", None),
            Error::Io { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "io", None),
        }
    }
}

/// The serving layer's errors are the node's: its bad requests keep their codes, engine and
/// log errors their kinds.
impl From<strata_serving::Error> for Error {
    fn from(e: strata_serving::Error) -> Self {
        use strata_serving::Error as S;
        match e {
            S::BadRequest { code, message } => Error::bad_request(code, message),
            S::Engine(e) => Error::Engine(e),
            S::Log(e) => Error::Log(e),
            S::Unavailable(message) => Error::Unavailable(message),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

fn classify_log(e: &strata_log::Error) -> (StatusCode, &'static str, Option<Value>) {
    use strata_log::Error as L;
    match e {
        L::InvalidName { .. } => (StatusCode::BAD_REQUEST, "invalid_name", None),
        L::InvalidConfig(_) => (StatusCode::BAD_REQUEST, "invalid_config", None),
        L::EmptyBatch => (StatusCode::BAD_REQUEST, "empty_batch", None),
        L::RecordTooLarge { limit, .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "record_too_large",
            Some(json!({ "limit_bytes": limit })),
        ),
        L::BatchTooLarge { limit, .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            Some(json!({ "limit_bytes": limit })),
        ),
        L::OffsetOutOfRange { start, end, .. } => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            "offset_out_of_range",
            Some(json!({ "valid_range": { "start": start, "end": end } })),
        ),
        L::UnknownTopic(_) => (StatusCode::NOT_FOUND, "unknown_topic", None),
        L::TopicExists(_) => (StatusCode::CONFLICT, "topic_exists", None),
        L::UnknownPartition { partitions, .. } => (
            StatusCode::NOT_FOUND,
            "unknown_partition",
            Some(json!({ "partitions": partitions })),
        ),
        L::UnknownGroup(_) => (StatusCode::NOT_FOUND, "unknown_group", None),
        L::Closed => (StatusCode::SERVICE_UNAVAILABLE, "closed", None),
        // The partition is read-only until a restart: retrying here cannot succeed, but the
        // same request after the operator restarted the node can (nothing of it was kept).
        L::SyncFailed { .. } => (StatusCode::SERVICE_UNAVAILABLE, "sync_failed", None),
        L::Io { source, .. } if source.raw_os_error() == Some(28) => {
            // ENOSPC: the client can retry once an operator frees space.
            (StatusCode::INSUFFICIENT_STORAGE, "disk_full", None)
        }
        L::Corrupt { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "corrupt", None),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
    }
}

fn classify_engine(e: &strata_engine::Error) -> (StatusCode, &'static str, Option<Value>) {
    use strata_engine::Error as E;
    match e {
        E::Sql { line, column, .. } => (
            StatusCode::BAD_REQUEST,
            "sql_error",
            Some(json!({ "line": line, "column": column })),
        ),
        E::Plan(_) => (StatusCode::BAD_REQUEST, "plan_error", None),
        E::Eval(_) => (StatusCode::BAD_REQUEST, "eval_error", None),
        // Names inside a statement are the statement's fault, not a missing resource.
        E::Unknown {
            kind: strata_engine::NameKind::Column | strata_engine::NameKind::Function,
            ..
        } => (StatusCode::BAD_REQUEST, "unknown_name", None),
        E::Unknown {
            kind: strata_engine::NameKind::View,
            ..
        } => (StatusCode::NOT_FOUND, "unknown_view", None),
        E::Unknown {
            kind: strata_engine::NameKind::Replay,
            ..
        } => (StatusCode::NOT_FOUND, "unknown_replay", None),
        E::Unknown { .. } => (StatusCode::NOT_FOUND, "unknown_source", None),
        E::Log(l) => classify_log(l),
        E::Checkpoint { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "checkpoint", None),
        E::Stopped => (StatusCode::SERVICE_UNAVAILABLE, "view_stopped", None),
        E::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
    }
}

fn classify_batch(e: &strata_batch::Error) -> (StatusCode, &'static str, Option<Value>) {
    use strata_batch::Error as B;
    match e {
        B::Unsupported { .. } => (StatusCode::BAD_REQUEST, "batch_unsupported", None),
        // The operator must move files or pick a new lake: the request cannot succeed as is.
        B::SchemaChanged { .. } => (StatusCode::CONFLICT, "schema_changed", None),
        B::ForeignFiles { paths } => (
            StatusCode::CONFLICT,
            "foreign_files",
            Some(json!({ "paths": paths })),
        ),
        B::CorruptFile { path, .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_lake_file",
            Some(json!({ "path": path })),
        ),
        B::Metadata { path, .. } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt_metadata",
            Some(json!({ "path": path })),
        ),
        B::Io { source, path } if source.raw_os_error() == Some(28) => (
            StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            Some(json!({ "path": path })),
        ),
        B::Log(l) => classify_log(l),
        B::Engine(en) => classify_engine(en),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "batch_failed", None),
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code, details) = self.classify();
        let message = match &self {
            // Extra hints that the log's own messages cannot know about the HTTP API.
            Error::Log(strata_log::Error::UnknownTopic(_)) => {
                format!("{self}: create it first (POST /v1/topics, or `strata topic create`)")
            }
            Error::Log(strata_log::Error::UnknownGroup(_)) => {
                format!(
                    "{self}: a group exists once it has fetched or committed (GET /v1/groups lists them)"
                )
            }
            Error::Engine(strata_engine::Error::Unknown {
                kind: strata_engine::NameKind::View,
                ..
            }) => {
                format!("{self}: GET /v1/views (or `strata view list`) lists the views")
            }
            Error::Engine(strata_engine::Error::Unknown { .. }) => {
                format!(
                    "{self}: SHOW STREAMS lists the declared sources; declare it with CREATE STREAM … WITH (kafka_topic=…)"
                )
            }
            _ => self.to_string(),
        };
        if status.is_server_error() {
            tracing::error!(%status, code, error = %message, "request failed");
        }
        let mut error = json!({ "code": code, "message": message });
        if let (Some(Value::Object(extra)), Some(obj)) = (details, error.as_object_mut()) {
            obj.extend(extra);
        }
        (status, axum::Json(json!({ "error": error }))).into_response()
    }
}
