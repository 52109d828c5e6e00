//! `strata-views`: the view manager — the node's catalog of sources and views, their versions
//! and aliases, Kappa replay, and the streaming driver that keeps each view running.
//!
//! [`engine::Engine`] owns the catalog (`catalog.json`) and the running views; SQL goes in
//! through [`engine::Engine::execute`]. Each view runs in a [`streaming::StreamingView`]: a
//! thread that tails the source topic, drives the engine's operators, and checkpoints state
//! with source offsets and output positions. [`versions`] keeps aliases and view versions;
//! [`replay`] rebuilds a view into a new version (or copies a topic) and promotes it;
//! [`start`] says where a new view starts reading; [`queries`] names every running query by
//! id, and `statements` runs ksqlDB's commands (SHOW, DESCRIBE, EXPLAIN, TERMINATE, PRINT,
//! SET); [`outputs`] runs `INSERT INTO` queries and checks named output topics, which
//! `forward` writes exactly once.

mod catalog;
pub mod engine;
mod forward;
mod open;
mod output_checks;
pub mod outputs;
pub mod queries;
mod query_ids;
pub mod replay;
mod replay_jobs;
mod session;
pub mod start;
mod statements;
pub mod streaming;
mod topic_copy;
mod version_ops;
pub mod versions;

pub use engine::{Engine, EngineConfig, Outcome, Session};
pub use session::{Statistics, TopicStats};
pub use strata_engine::{Error, NameKind, Result};
