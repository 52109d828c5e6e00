//! The HTTP API under `/v1`, plus `/health` and `/metrics`: one file per resource, each with
//! its own router, assembled here under the node's middleware; the OpenAPI document is
//! generated from the same routers (each handler's `#[utoipa::path]` and the [`crate::api`]
//! types), so a route cannot be served undocumented.
//!
//! - `state`: what every handler shares; `extract`: query parameters, bodies, JSON
//!   responses and the blocking pool; `middleware`: metrics, auth and unknown routes.
//! - Resources: `health` (`/health`, `/metrics`), `topics`, `records`, `groups`, `sql` (and
//!   `sql_print`, its PRINT stream), `views`, `batch` (batch views and archiving), `replays` (replays and view versions);
//!   `reads` holds what records and groups share; `/v1/openapi.json` is served here.
//!
//! Handlers only translate between HTTP and the node's parts (the catalog, the engine, the
//! batch and serving layers); everything that touches the log or the engine runs on the
//! blocking pool. The API is documented for people in `docs/http-api.md`.

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod batch;
mod extract;
mod groups;
mod health;
mod middleware;
mod reads;
mod records;
mod replays;
mod sql;
mod sql_print;
mod state;
mod topics;
mod views;

pub use extract::{DEFAULT_FETCH_RECORDS, MAX_FETCH_RECORDS, MAX_WAIT_MS};
pub use state::{AppState, Shared};
pub use topics::topic_config_from_json;

/// Builds the router: every resource's routes, the body limit, auth and request metrics.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let (routes, _) = api().split_for_parts();
    routes
        .fallback(middleware::no_route)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(Arc::clone(&state), middleware::auth))
        .layer(from_fn_with_state(Arc::clone(&state), middleware::observe))
        .with_state(state)
}

/// The OpenAPI 3.1 document of this API (`GET /v1/openapi.json`), generated from the routes
/// the router serves and the [`crate::api`] types.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// Every route with its documentation.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .merge(health::router())
        .merge(topics::router())
        .merge(records::router())
        .merge(groups::router())
        .merge(sql::router())
        .merge(views::router())
        .merge(batch::router())
        .merge(replays::router())
}

/// The document's frame: what the API is, its tags, and the bearer token of writes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "strata HTTP API",
        version = "1",
        description = "Topics, produce, consume, consumer groups, SQL and views, the batch layer (archive, batch views) and replay of a strata node. Errors are JSON: {\"error\": {\"code\", \"message\", ...}}. When the node has an auth token, every call but GET (and group fetches, which commit) needs Authorization: Bearer <token>. See docs/http-api.md."
    ),
    modifiers(&BearerToken),
    tags(
        (name = "node", description = "Health, metrics and this document."),
        (name = "topics", description = "Topics and their partitions."),
        (name = "records", description = "Producing and reading records."),
        (name = "groups", description = "Consumer groups and their offsets."),
        (name = "sql", description = "Statements and continuous queries."),
        (name = "views", description = "Views: rows, definitions, change streams."),
        (name = "batch", description = "The batch layer: the lake and batch views."),
        (name = "replays", description = "Replay (Kappa) and view versions."),
    )
)]
struct ApiDoc;

/// The `bearer` security scheme that write operations name.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "node",
    responses((status = 200, description = "OpenAPI 3.1.", content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    // Generated once: the routes do not change while the node runs.
    static DOCUMENT: LazyLock<Vec<u8>> =
        LazyLock::new(|| openapi().to_json().unwrap_or_default().into_bytes());
    extract::json_response(StatusCode::OK, DOCUMENT.clone())
}
