//! What every handler shares: the node's catalog, engine, batch layer, configuration and
//! counters, behind one [`AppState`].

use std::sync::Arc;
use std::time::Instant;

use strata_serving::Lookups;
use strata_views::engine::Engine;
use tokio::sync::watch;

use crate::batch::BatchLayer;
use crate::catalog::Catalog;
use crate::config::NodeConfig;
use crate::metrics::Metrics;

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    /// Topics and groups.
    pub catalog: Arc<Catalog>,
    /// Sources and views (blocking: call it from the blocking pool).
    pub engine: Arc<Engine>,
    /// The node's configuration.
    pub config: NodeConfig,
    /// Request metrics.
    pub metrics: Metrics,
    /// The batch layer: archiver and batch views.
    pub batch: Arc<BatchLayer>,
    /// Becomes `true` when the node shuts down; follow streams end.
    pub shutdown: watch::Receiver<bool>,
    /// When the node started.
    pub started: Instant,
    /// Kept state of Lambda views' point lookups.
    pub lookups: Lookups,
}

/// Handle on [`Shared`] given to handlers.
pub type AppState = Arc<Shared>;
