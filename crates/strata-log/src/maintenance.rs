//! The log's background thread: interval fsyncs, age-based rolls, retention.
//!
//! It is a plain thread, not an async task, because all of its work is blocking file I/O.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clock::now_ms;
use crate::config::{Durability, TopicConfig};
use crate::error::Result;
use crate::partition::Partition;

/// Handle on the running background thread.
#[derive(Debug)]
pub(crate) struct Maintenance {
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Maintenance {
    /// Starts the thread: every `tick` it calls `round(now_ms, retention)`, with `retention`
    /// true once per `retention_every`. It ends when stopped or when `round` returns false
    /// (the log it tends was dropped). The log passes its round in (rather than this module
    /// knowing the log), so that the thread sits below the log it serves.
    pub fn start(
        tick: Duration,
        retention_every: Duration,
        mut round: impl FnMut(i64, bool) -> bool + Send + 'static,
    ) -> Self {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("strata-log-maintenance".into())
            .spawn(move || {
                let mut last_retention = Instant::now();
                while !flag.load(Ordering::Acquire) {
                    std::thread::sleep(tick);
                    let retention = last_retention.elapsed() >= retention_every;
                    if retention {
                        last_retention = Instant::now();
                    }
                    if !round(now_ms(), retention) {
                        break;
                    }
                }
            })
            .ok();
        Maintenance { stop, thread }
    }

    /// Stops the thread and waits for it (unless called from it).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}

/// One partition's share of a maintenance round.
pub(crate) fn tend(
    p: &Partition,
    config: &TopicConfig,
    now_ms: i64,
    retention: bool,
) -> Result<()> {
    if config.durability == Durability::Interval && p.flush_due(config.flush_interval_ms) {
        p.flush()?;
    }
    p.roll_if_aged()?;
    if retention {
        p.enforce_retention(now_ms)?;
    }
    Ok(())
}
