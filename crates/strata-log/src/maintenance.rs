//! The log's background thread: interval fsyncs, age-based rolls, retention.
//!
//! It is a plain thread, not an async task, because all of its work is blocking file I/O.

use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clock::now_ms;
use crate::config::{Durability, TopicConfig};
use crate::error::Result;
use crate::log::Log;
use crate::partition::Partition;

/// Handle on the running background thread.
#[derive(Debug)]
pub(crate) struct Maintenance {
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Maintenance {
    /// Starts the thread; it ends when stopped or when the log is dropped.
    pub fn start(log: Weak<Log>, tick: Duration, retention_every: Duration) -> Self {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("strata-log-maintenance".into())
            .spawn(move || {
                let mut last_retention = Instant::now();
                while !flag.load(Ordering::Acquire) {
                    std::thread::sleep(tick);
                    let Some(log) = log.upgrade() else { break };
                    let retention = last_retention.elapsed() >= retention_every;
                    if retention {
                        last_retention = Instant::now();
                    }
                    log.run_maintenance(now_ms(), retention);
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
