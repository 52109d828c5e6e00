//! The body of every error answer: `{"error": {"code", "message", …details}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// An error answer (any 4xx or 5xx), and the last line of a stream that fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ApiError,
}

/// What went wrong: a stable code, a message that says what to do, and details some codes
/// carry (`record` for a bad record, `valid_range` for an offset out of range, `line` and
/// `column` for SQL, `limit_bytes`, `partitions`, `paths`, `path`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `unknown_topic` (docs/http-api.md lists them).
    pub code: String,
    /// What is wrong and what to do next.
    pub message: String,
    /// Extra machine-readable context, beside `code` and `message`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

impl ErrorBody {
    /// An error with a code and a message and no details.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ApiError {
                code: code.into(),
                message: message.into(),
                details: Map::new(),
            },
        }
    }
}
