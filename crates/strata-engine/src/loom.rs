//! Sync primitives through one door: strata-log's, which are std's (poison-free) or, under
//! `--cfg loom`, loom's model-checked ones (`tests/loom_generations.rs`).

pub(crate) use strata_log::sync::{Arc, Mutex, MutexGuard};
