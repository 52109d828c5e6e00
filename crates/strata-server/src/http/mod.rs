//! The HTTP API under `/v1`, plus `/health` and `/metrics`: one file per resource, each with
//! its own router, assembled here under the node's middleware.
//!
//! - `state`: what every handler shares; `extract`: query parameters, bodies, JSON
//!   responses and the blocking pool; `middleware`: metrics, auth and unknown routes.
//! - Resources: `health` (`/health`, `/metrics`, `/v1/openapi.json`), `topics`, `records`,
//!   `groups`, `sql`, `views`, `batch` (batch views and archiving), `replays` (replays and
//!   view versions); `reads` holds what records and groups share.
//!
//! Handlers only translate between HTTP and the node's parts (the catalog, the engine, the
//! batch and serving layers); everything that touches the log or the engine runs on the
//! blocking pool. The API is documented in `docs/http-api.md` and served as OpenAPI at
//! `/v1/openapi.json`.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;

mod batch;
mod extract;
mod groups;
mod health;
mod middleware;
mod reads;
mod records;
mod replays;
mod sql;
mod state;
mod topics;
mod views;

pub use extract::{DEFAULT_FETCH_RECORDS, MAX_FETCH_RECORDS, MAX_WAIT_MS};
pub use health::OPENAPI_JSON;
pub use state::{AppState, Shared};
pub use topics::topic_config_from_json;

/// Builds the router: every resource's routes, the body limit, auth and request metrics.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(health::router())
        .merge(topics::router())
        .merge(records::router())
        .merge(groups::router())
        .merge(sql::router())
        .merge(views::router())
        .merge(batch::router())
        .merge(replays::router())
        .fallback(middleware::no_route)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(Arc::clone(&state), middleware::auth))
        .layer(from_fn_with_state(Arc::clone(&state), middleware::observe))
        .with_state(state)
}
