//! The node itself: `GET /health` and `GET /metrics` (Prometheus text).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{blocking, json_sorted};
use super::state::AppState;
use crate::api::health::Health;
use crate::error::Result;

/// The routes of the node itself.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
}

/// Liveness and basic facts.
#[utoipa::path(get, path = "/health", tag = "node",
    responses((status = 200, description = "The node is up.", body = Health)))]
async fn health(State(state): State<AppState>) -> Result<Response> {
    json_sorted(&Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        topics: state.catalog.topics().len(),
        uptime_ms: state.started.elapsed().as_millis() as u64,
        auth: state.config.auth_token.is_some(),
    })
}

/// Prometheus metrics: topics, partitions, groups, views, the batch layer, HTTP requests.
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "Text exposition format 0.0.4.",
        content_type = "text/plain", body = String)))]
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
