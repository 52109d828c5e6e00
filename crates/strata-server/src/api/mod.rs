//! The API's request and response bodies, one file per resource: what the node's handlers
//! write and read, what the CLI (and any Rust client) reads and sends, and what
//! `GET /v1/openapi.json` describes (each type derives `utoipa::ToSchema`).
//!
//! Wire compatibility: the names and meaning of every field are those of the bodies the node
//! wrote before these types existed. Most of those bodies were `serde_json` maps, which write
//! their keys sorted; the handlers keep that by writing these types through a
//! `serde_json::Value` (`http::extract::json_sorted`). Bodies that were written from a struct
//! (a replay's progress, a view's versions, a promotion) keep that struct's field order, which
//! their types here repeat. Some bodies are written by hand on hot paths (a produce's offsets,
//! fetched records, a view's answer): their types here are what clients read them as.
//!
//! Engine-owned shapes (a statement's outcome, a source, a replay) are mirrored field by field
//! with conversions that destructure the engine's types, so a field the engine adds is a
//! compile error here rather than a field that silently goes missing from the API.

pub mod batch;
pub mod error;
pub mod groups;
pub mod health;
pub mod records;
pub mod replays;
pub mod sql;
pub mod topics;
pub mod views;

pub use error::{ApiError, ErrorBody};
pub use records::PartitionOffset;
