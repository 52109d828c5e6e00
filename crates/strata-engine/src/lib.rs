//! `strata-engine`: one engine, two drivers.
//!
//! A view is declared in SQL ([`sql`]) or with the Rust builder and compiled to one
//! serializable [`plan::ViewPlan`]. Data moves as Arrow `RecordBatch`es: log records are
//! decoded with the source's schema ([`decode`]); expressions are evaluated column-wise
//! ([`expr`]); records are assigned to event-time windows ([`window`]) and aggregated by key
//! into mergeable accumulators ([`aggregate`]). The streaming driver (speed layer) adds
//! watermarks, lateness, emission and checkpoints; the bounded driver (batch layer, replay)
//! runs the same operators over a finite input.

pub mod aggregate;
pub mod builder;
pub mod codec;
pub mod decode;
pub mod engine;
pub mod error;
pub mod expr;
pub mod generations;
pub mod groups;
pub mod join;
mod keys;
mod loom;
pub mod operator;
pub mod plan;
pub mod replay;
pub mod scalar;
pub mod sql;
pub mod start;
pub mod streaming;
pub mod topn;
pub mod upsert;
pub mod versions;
pub mod watermark;
pub mod window;

pub use error::{Error, Result};
pub use plan::ViewPlan;
