//! What wraps every route: request metrics, the bearer token of writes and admin calls,
//! and the answers to unknown routes and methods.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::AppState;
use crate::error::Error;

/// Counts every request and its duration by method, route and status.
pub(crate) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(req).await;
    state.metrics.observe(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Writes and admin calls need the bearer token when one is configured: every method but
/// GET, and group fetches (they commit offsets).
pub(crate) async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.config.auth_token.as_deref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD)
        || (path.starts_with("/v1/groups/") && path.contains("/topics/"));
    if !writes {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        next.run(req).await
    } else {
        let mut r = Error::Unauthorized.into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    }
}

/// A 404 for a path no route serves.
pub(crate) async fn no_route(method: Method, uri: Uri) -> Error {
    Error::NotFound {
        code: "unknown_route",
        message: format!(
            "there is no {method} {}: the API is under /v1 (GET /v1/openapi.json lists every route)",
            uri.path()
        ),
    }
}

/// A 405 for a method a route does not take.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let e = Error::bad_request(
        "method_not_allowed",
        format!(
            "{} does not take {method} (GET /v1/openapi.json lists the methods of every route)",
            uri.path()
        ),
    );
    let mut r = e.into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// Compares in time independent of where the inputs differ (a token must not leak through
/// the answer's timing).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
