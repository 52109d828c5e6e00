//! `strata-engine`: the dataflow — view plans run as Arrow operators over record batches.
//!
//! Log records are decoded with the source's schema ([`decode`]), processing time stamped
//! ([`proctime`]); expressions are evaluated
//! column-wise ([`expr`]); records are assigned to event-time windows (`window`) and
//! aggregated by key into mergeable accumulators (`aggregate`, `groups`) by the view operator
//! ([`operator`]); tables upsert and retract ([`upsert`]), streams join tables ([`join`]),
//! window Top-N ranks ([`topn`]); rows are encoded for named output topics ([`sink`]); watermarks ([`watermark`]) say when windows close; operator
//! state is checkpointed with one codec ([`codec`]); the speed layer's per-generation
//! partials are handed to the serving layer ([`generations`]). Every operator implements one
//! trait, and every driver runs a view through one chain, decode → join → operator
//! ([`pipeline`]). Plans come from `strata-sql`
//! (re-exported as [`plan`] and, with views typed by these operators, [`sql`]); the view
//! manager (`strata-views`) and the batch layer (`strata-batch`) drive the operators.

mod aggregate;
pub mod builder;
pub mod codec;
pub mod decode;
pub mod error;
pub mod expr;
pub mod generations;
mod groups;
pub mod join;
mod json_rows;
mod keys;
mod loom;
pub mod operator;
pub mod pipeline;
pub mod proctime;
mod rows;
mod scalar;
pub mod sink;
pub mod sql;
mod stages;
pub mod topn;
mod unnest;
pub mod upsert;
pub mod watermark;
mod window;

pub use error::{Error, NameKind, Result};
pub use json_rows::json_lines;
pub use strata_sql::plan;
pub use strata_sql::plan::ViewPlan;
