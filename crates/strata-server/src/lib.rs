//! `strata-server`: the strata node — the log and the SQL engine behind an HTTP API.
//!
//! - [`config`]: defaults, `strata.toml`, `STRATA_*` variables and flags, resolved into a
//!   [`NodeConfig`].
//! - [`catalog`]: the node's index of topics and groups and the one place that appends.
//! - [`records`] and [`fetch`]: records on the wire (produce bodies in, JSON out).
//! - [`api`]: the request and response bodies of the API, shared with the CLI; they and the
//!   routes generate `/v1/openapi.json`.
//! - [`http`]: the axum router, one file per resource (`/v1/...`, `/health`, `/metrics`);
//!   view answers come from the serving layer (`strata-serving`).
//! - [`batch`]: the batch layer in the node — the lake, the continuous archiver, scheduled
//!   batch views.
//! - [`metrics`]: Prometheus text exposition.
//! - [`server`]: starting a [`Node`], serving, and shutting down cleanly.
//! - [`client`]: a small HTTP client of the API, used by the CLI, tests and benchmarks.
//! - [`time`]: points in time, durations and sizes as users write them.

pub mod api;
pub mod batch;
pub mod catalog;
pub mod client;
pub mod config;
mod error;
pub mod fetch;
pub mod http;
pub mod metrics;
pub mod records;
pub mod server;
pub mod time;

pub use config::{ConfigLayer, NodeConfig};
pub use error::{Error, Result};
pub use server::{Node, shutdown_signal};
