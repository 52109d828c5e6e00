//! `GET /health`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Liveness and basic facts of the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the node answers.
    pub status: String,
    /// The node's version.
    pub version: String,
    /// How many topics it has.
    pub topics: usize,
    /// Milliseconds since it started.
    pub uptime_ms: u64,
    /// Whether writes need a bearer token.
    pub auth: bool,
}
