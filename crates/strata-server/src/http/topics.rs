//! Topics: `GET|POST /v1/topics`, `GET|DELETE /v1/topics/{topic}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use strata_log::TopicConfig;
use strata_log::names::validate_name;

use super::extract::{RawBody, blocking, body_bytes, parse_json_body};
use super::state::AppState;
use crate::catalog::TopicEntry;
use crate::error::{Error, Result};
use crate::time::{parse_bytes, parse_duration_ms};

/// The routes of topics.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/topics", get(list_topics).post(create_topic))
        .route(
            "/v1/topics/{topic}",
            get(describe_topic).delete(delete_topic),
        )
}

async fn list_topics(State(state): State<AppState>) -> Json<Value> {
    let topics: Vec<Value> = state.catalog.topics().iter().map(|e| describe(e)).collect();
    Json(json!({ "topics": topics }))
}

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
    Ok((StatusCode::CREATED, Json(describe(&entry))).into_response())
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
