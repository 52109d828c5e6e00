//! `strata-server`: the strata node — the log and the SQL engine behind an HTTP API.
//!
//! - [`config`]: defaults, `strata.toml`, `STRATA_*` variables and flags, resolved into a
//!   [`NodeConfig`].
//! - [`catalog`]: the node's index of topics and groups and the one place that appends.
//! - [`records`] and [`fetch`]: records on the wire (produce bodies in, JSON out).
//! - [`http`]: the axum router and handlers (`/v1/...`, `/health`, `/metrics`).
//! - `views`: the SQL engine over HTTP (`/v1/sql`, `/v1/views/...`); [`rows`]: picking a
//!   view's rows by key, time range and order; `lookup` and `row_json`: the fast path of a
//!   Lambda view's point lookup.
//! - `replays`: Kappa replay (`/v1/replays`) and view versions (`/v1/views/{v}/versions`,
//!   `/promote`).
//! - [`batch`]: the batch layer in the node — the lake, the continuous archiver, scheduled
//!   and on-demand batch views, and their endpoints.
//! - [`metrics`]: Prometheus text exposition.
//! - [`server`]: starting a [`Node`], serving, and shutting down cleanly.
//! - [`client`]: a small HTTP client of the API, used by the CLI, tests and benchmarks.
//! - [`time`]: points in time, durations and sizes as users write them.

pub mod batch;
pub mod catalog;
pub mod client;
pub mod config;
mod error;
pub mod fetch;
pub mod http;
mod lookup;
pub mod metrics;
pub mod records;
mod replays;
mod row_json;
pub mod rows;
pub mod server;
pub mod time;
mod views;

pub use config::{ConfigLayer, NodeConfig};
pub use error::{Error, Result};
pub use server::{Node, shutdown_signal};
