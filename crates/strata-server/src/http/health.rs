//! The node itself: `GET /health`, `GET /metrics` (Prometheus text) and
//! `GET /v1/openapi.json` (the API's description).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{blocking, json_response};
use super::state::AppState;
use crate::error::Result;

/// The OpenAPI 3.1 description of this API.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// The routes of the node itself.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
}

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
