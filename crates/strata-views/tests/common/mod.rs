//! Helpers shared by the engine's integration tests.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strata_log::{Log, LogOptions};
use strata_views::engine::{Engine, EngineConfig};
use strata_views::streaming::StreamingConfig;

/// A log in `dir/log` (no background maintenance) and an engine over it in `dir/engine` that
/// checkpoints every 50 ms and polls every 5 ms, so tests see results and restarts quickly.
pub fn open(dir: &Path) -> (Arc<Log>, Arc<Engine>) {
    open_on(dir, None)
}

/// As [`open`], over `log` when given (a restart of the engine alone).
pub fn open_on(dir: &Path, log: Option<Arc<Log>>) -> (Arc<Log>, Arc<Engine>) {
    let log = log.unwrap_or_else(|| {
        Log::open(
            dir.join("log"),
            LogOptions {
                maintenance_tick: None,
                ..LogOptions::default()
            },
        )
        .expect("log")
    });
    let config = EngineConfig {
        streaming: StreamingConfig {
            checkpoint_interval: Duration::from_millis(50),
            poll_interval: Duration::from_millis(5),
            ..StreamingConfig::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::open(Arc::clone(&log), &dir.join("engine"), config).expect("engine");
    (log, engine)
}
