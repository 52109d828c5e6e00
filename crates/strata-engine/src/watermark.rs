//! Event-time progress: a watermark per source partition, and the view's watermark as the
//! minimum over partitions that are not idle.
//!
//! A partition's watermark is the largest event time it has delivered minus the bounded
//! out-of-orderness. A partition that has delivered nothing for `idle_timeout_ms` of
//! processing time stops holding the view back (Kafka Streams' known stall, avoided).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Default bounded out-of-orderness when a source declares no `WATERMARK FOR`.
pub const DEFAULT_DELAY_MS: i64 = 5_000;
/// Default idle timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-partition event-time progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatermarkTracker {
    delay_ms: i64,
    max_event_time: Vec<i64>,
    #[serde(skip)]
    last_progress: Vec<Option<Instant>>,
    #[serde(skip, default = "default_idle")]
    idle_timeout: Duration,
}

fn default_idle() -> Duration {
    DEFAULT_IDLE_TIMEOUT
}

impl WatermarkTracker {
    /// A tracker for `partitions` partitions.
    pub fn new(partitions: usize, delay_ms: i64, idle_timeout: Duration) -> Self {
        WatermarkTracker {
            delay_ms,
            max_event_time: vec![i64::MIN; partitions],
            last_progress: vec![None; partitions],
            idle_timeout,
        }
    }

    /// Restores the processing-time parts that a checkpoint does not hold.
    pub fn resume(&mut self, partitions: usize, idle_timeout: Duration, now: Instant) {
        self.max_event_time.resize(partitions, i64::MIN);
        self.last_progress = vec![Some(now); partitions];
        self.idle_timeout = idle_timeout;
    }

    /// Records that partition `p` delivered events up to `max_event_time` at `now`.
    pub fn observe(&mut self, p: usize, max_event_time: i64, now: Instant) {
        self.max_event_time[p] = self.max_event_time[p].max(max_event_time);
        self.last_progress[p] = Some(now);
    }

    /// Marks every partition as heard from at `now` (the start of a run).
    pub fn start(&mut self, now: Instant) {
        for p in &mut self.last_progress {
            if p.is_none() {
                *p = Some(now);
            }
        }
    }

    /// The view's watermark at `now`: the minimum over active partitions, or, when all are
    /// idle, the maximum over all (so output never stalls).
    pub fn watermark(&self, now: Instant) -> i64 {
        let partition = |p: usize| self.max_event_time[p].saturating_sub(self.delay_ms);
        let active: Vec<usize> = (0..self.max_event_time.len())
            .filter(|&p| {
                self.last_progress[p].is_none_or(|t| now.duration_since(t) < self.idle_timeout)
            })
            .collect();
        if active.is_empty() {
            (0..self.max_event_time.len())
                .map(partition)
                .max()
                .unwrap_or(i64::MIN)
        } else {
            active.into_iter().map(partition).min().unwrap_or(i64::MIN)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowest_active_partition_holds_the_watermark() {
        let t0 = Instant::now();
        let mut w = WatermarkTracker::new(2, 100, Duration::from_secs(10));
        w.start(t0);
        w.observe(0, 5_000, t0);
        assert_eq!(
            w.watermark(t0),
            i64::MIN,
            "partition 1 has said nothing yet"
        );
        w.observe(1, 1_000, t0);
        assert_eq!(w.watermark(t0), 900);
    }

    #[test]
    fn idle_partitions_stop_holding_it_back() {
        let t0 = Instant::now();
        let mut w = WatermarkTracker::new(2, 100, Duration::from_secs(10));
        w.start(t0);
        w.observe(1, 1_000, t0);
        let later = t0 + Duration::from_secs(11);
        w.observe(0, 5_000, later);
        assert_eq!(w.watermark(later), 4_900);
        let much_later = later + Duration::from_secs(11);
        assert_eq!(w.watermark(much_later), 4_900, "all idle: the max");
    }
}
