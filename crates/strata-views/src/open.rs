//! Opening a node's view manager: the catalog and its views, then the replays in flight.

use std::path::Path;
use std::sync::Arc;

use strata_log::Log;

use crate::engine::{Engine, EngineConfig};
use crate::replay;
use strata_engine::error::Result;

impl Engine {
    /// Opens the engine's catalog in `dir`, resumes every view from its checkpoint, then
    /// resumes the unfinished replays and starts their monitor.
    ///
    /// # Errors
    /// An unreadable catalog; a view that cannot resume is logged and left stopped.
    pub fn open(log: Arc<Log>, dir: &Path, config: EngineConfig) -> Result<Arc<Engine>> {
        let engine = Engine::load(log, dir, config)?;
        replay::resume(&engine);
        Ok(engine)
    }
}
