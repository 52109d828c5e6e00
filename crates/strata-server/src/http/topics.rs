//! Topics: `GET|POST /v1/topics`, `GET|DELETE /v1/topics/{topic}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use strata_log::TopicConfig;
use strata_log::names::validate_name;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{RawBody, blocking, body_bytes, json_sorted, parse_json_body};
use super::state::AppState;
use crate::api::ErrorBody;
use crate::api::topics::{CreateTopic, Deleted, Topic, TopicPartition, Topics};
use crate::catalog::TopicEntry;
use crate::error::{Error, Result};
use crate::time::{parse_bytes, parse_duration_ms};

/// The routes of topics.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_topics, create_topic))
        .routes(routes!(describe_topic, delete_topic))
}

/// List topics.
#[utoipa::path(get, path = "/v1/topics", tag = "topics",
    responses((status = 200, description = "Every topic.", body = Topics)))]
async fn list_topics(State(state): State<AppState>) -> Result<Response> {
    let topics = state.catalog.topics().iter().map(|e| describe(e)).collect();
    json_sorted(&Topics { topics })
}

/// Create a topic.
#[utoipa::path(post, path = "/v1/topics", tag = "topics", request_body = CreateTopic,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created: the topic, as `GET /v1/topics/{topic}` describes it.", body = Topic),
        (status = 400, description = "A bad name, partition count or config: the message says what to fix.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token (when the node has one).", body = ErrorBody),
        (status = 409, description = "The topic exists (`topic_exists`).", body = ErrorBody),
        (status = 413, description = "Body over the node's limit.", body = ErrorBody),
    ))]
async fn create_topic(State(state): State<AppState>, body: RawBody) -> Result<Response> {
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
    let mut r = json_sorted(&describe(&entry))?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

/// Describe a topic: config, per-partition offsets and sizes.
#[utoipa::path(get, path = "/v1/topics/{topic}", tag = "topics",
    params(("topic" = String, Path, description = "Topic name.")),
    responses(
        (status = 200, description = "The topic.", body = Topic),
        (status = 404, description = "No such topic (`unknown_topic`).", body = ErrorBody),
    ))]
async fn describe_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Response> {
    let entry = state.catalog.topic(&topic)?;
    json_sorted(&describe(&entry))
}

/// Delete a topic, its data and every group's offsets for it; follow streams on it end.
#[utoipa::path(delete, path = "/v1/topics/{topic}", tag = "topics",
    params(("topic" = String, Path, description = "Topic name.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted.", body = Deleted),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "No such topic.", body = ErrorBody),
    ))]
async fn delete_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Response> {
    let catalog = Arc::clone(&state.catalog);
    let name = topic.clone();
    blocking(move || catalog.delete_topic(&name)).await?;
    json_sorted(&Deleted { deleted: topic })
}

/// Reads a topic config, accepting `"7d"` for `*_ms` fields and `"256MiB"` for `*_bytes`.
///
/// # Errors
/// [`Error::BadRequest`] naming the field.
pub fn topic_config_from_json(mut map: Map<String, Value>) -> Result<TopicConfig> {
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

/// A topic as the API describes it.
fn describe(entry: &TopicEntry) -> Topic {
    let t = &entry.topic;
    let partitions: Vec<TopicPartition> = t
        .partitions()
        .iter()
        .map(|p| {
            let s = p.stats();
            TopicPartition {
                partition: p.id(),
                start_offset: s.start_offset,
                end_offset: s.end_offset,
                records: s.end_offset - s.start_offset,
                size_bytes: s.size_bytes,
                segments: s.segments as u64,
                durable_offset: s.durable_offset,
            }
        })
        .collect();
    Topic {
        name: t.name().to_owned(),
        partition_count: t.partition_count(),
        created_at_ms: t.created_at_ms(),
        config: match serde_json::to_value(t.config()) {
            Ok(Value::Object(config)) => config,
            _ => Map::new(),
        },
        records: partitions.iter().map(|p| p.records).sum(),
        size_bytes: partitions.iter().map(|p| p.size_bytes).sum(),
        partitions,
    }
}
