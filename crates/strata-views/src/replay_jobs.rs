//! Replay jobs as data: what the catalog keeps of each replay (its spec, status and counts),
//! the requests that start one, the live figures a caller sees, and the threads that run them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use strata_log::sync::unmodelled::Mutex;

use serde::{Deserialize, Serialize};

use crate::start::StartAt;
use strata_engine::error::{Error, Result};

/// Lag bound under which a replayed version is promoted when the request names none.
pub const DEFAULT_PROMOTE_LAG: u64 = 1_000;

/// How often the monitor looks at the replays.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// Where a replay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayStatus {
    /// Reading history.
    Running,
    /// A view replay that has read all the history and waits to be promoted (its lag is
    /// over the bound, or it is promoted by command only).
    CaughtUp,
    /// A view replay whose version is now its alias's current one.
    Promoted,
    /// A topic replay that copied everything.
    Done,
    /// Cancelled; an unpromoted version was dropped.
    Cancelled,
    /// Stopped by an error (see the message).
    Failed,
}

impl ReplayStatus {
    /// Still running (or waiting to be promoted).
    pub fn is_active(self) -> bool {
        matches!(self, ReplayStatus::Running | ReplayStatus::CaughtUp)
    }
}

/// What a replay does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplaySpec {
    /// A view into a new version.
    View {
        /// The alias.
        alias: String,
        /// The new version's view name.
        version: String,
        /// Promote when the version's lag is under this many records; `None`: by command only.
        promote_when_lag_under: Option<u64>,
        /// Per partition, the first offset read.
        start: Vec<u64>,
        /// Per partition, the end offset when the replay began: history ends there.
        target: Vec<u64>,
        /// The new definition, when it changed.
        sql: Option<String>,
    },
    /// A topic into another.
    Topic {
        /// The source topic.
        source: String,
        /// The destination topic.
        dest: String,
        /// Only records at or after this time (ms).
        from_time: Option<i64>,
        /// Only records before this time (ms).
        to_time: Option<i64>,
        /// Only records matching this SQL predicate.
        predicate: Option<String>,
        /// Per source partition, the first offset read.
        start: Vec<u64>,
        /// Per source partition, the end offset when the replay began.
        end: Vec<u64>,
    },
}

/// Exact counts of a topic replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyCounts {
    /// Source records read.
    pub read: u64,
    /// Records written to the destination.
    pub copied: u64,
    /// Records left out by the time range or the predicate.
    pub filtered_out: u64,
    /// Records left out because they do not match the source's schema (with a predicate).
    pub invalid: u64,
}

/// A replay as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRecord {
    /// Its id.
    pub id: u64,
    /// What it does.
    pub spec: ReplaySpec,
    /// Where it is.
    pub status: ReplayStatus,
    /// When it began (ms).
    pub created_ms: i64,
    /// When it ended (ms).
    pub finished_ms: Option<i64>,
    /// Records of history to read.
    pub total: u64,
    /// Final counts of a finished topic replay.
    pub counts: Option<CopyCounts>,
    /// Why it failed or was cancelled.
    pub message: Option<String>,
}

impl ReplayRecord {
    /// The version a view replay makes.
    pub fn version(&self) -> Option<&str> {
        match &self.spec {
            ReplaySpec::View { version, .. } => Some(version),
            ReplaySpec::Topic { .. } => None,
        }
    }

    /// The alias a view replay makes a version of.
    pub fn alias(&self) -> Option<&str> {
        match &self.spec {
            ReplaySpec::View { alias, .. } => Some(alias),
            ReplaySpec::Topic { .. } => None,
        }
    }
}

/// A request to replay a view.
#[derive(Debug, Clone, Default)]
pub struct ViewReplayRequest {
    /// The view or alias.
    pub view: String,
    /// Where in the source to start.
    pub from: StartAt,
    /// A new definition (`SELECT …`, or `CREATE TABLE … AS SELECT …` whose name is ignored);
    /// `None` keeps the current version's.
    pub sql: Option<String>,
    /// The new version's name; `None`: `<alias>_v<N>`.
    pub name: Option<String>,
    /// Promote when the lag is under this many records; `None`: by command only.
    pub promote_when_lag_under: Option<u64>,
}

/// A request to replay a topic into another.
#[derive(Debug, Clone, Default)]
pub struct TopicReplayRequest {
    /// The source topic (or the name of a stream declared over it).
    pub source: String,
    /// The destination topic; made with the source's partition count when missing.
    pub dest: String,
    /// Only records at or after this time (ms).
    pub from_time: Option<i64>,
    /// Only records before this time (ms).
    pub to_time: Option<i64>,
    /// Only records matching this SQL predicate over the source's declared columns.
    pub predicate: Option<String>,
}

/// A replay with its live figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayProgress {
    /// Its id.
    pub id: u64,
    /// What it does.
    #[serde(flatten)]
    pub spec: ReplaySpec,
    /// Where it is.
    pub status: ReplayStatus,
    /// History records read so far.
    pub processed: u64,
    /// History records to read.
    pub total: u64,
    /// `processed / total`, in percent (100 when there is nothing to read).
    pub percent: f64,
    /// Records read per second over the last seconds.
    pub records_per_s: f64,
    /// Seconds until history is read at that rate; `None` while it is unknown.
    pub eta_s: Option<f64>,
    /// A view replay's lag: source records its version has not read yet.
    pub lag: Option<u64>,
    /// A topic replay's counts so far (exact once it is done).
    pub counts: Option<CopyCounts>,
    /// When it began (ms).
    pub created_ms: i64,
    /// When it ended (ms).
    pub finished_ms: Option<i64>,
    /// Why it failed or was cancelled.
    pub message: Option<String>,
}

/// Live state of a topic replay's thread.
#[derive(Debug, Default)]
pub(crate) struct CopyState {
    pub(crate) read: AtomicU64,
    pub(crate) copied: AtomicU64,
    pub(crate) filtered_out: AtomicU64,
    pub(crate) invalid: AtomicU64,
    pub(crate) cancel: AtomicBool,
    /// Set by the thread when it ends by itself: the counts, or why it failed.
    pub(crate) outcome: Mutex<Option<std::result::Result<CopyCounts, String>>>,
}

impl CopyState {
    pub(crate) fn counts(&self) -> CopyCounts {
        CopyCounts {
            read: self.read.load(Ordering::Relaxed),
            copied: self.copied.load(Ordering::Relaxed),
            filtered_out: self.filtered_out.load(Ordering::Relaxed),
            invalid: self.invalid.load(Ordering::Relaxed),
        }
    }
}

/// The engine's replay threads and live figures.
#[derive(Debug, Default)]
pub struct Jobs {
    pub(crate) stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) copies: Mutex<HashMap<u64, Arc<CopyState>>>,
    /// Recent `(when, processed)` per replay, for the rate.
    samples: Mutex<HashMap<u64, VecDeque<(Instant, u64)>>>,
}

impl Jobs {
    /// Stops the monitor and the topic replays (each after its current step) and waits.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
    }

    pub(crate) fn spawn(&self, name: String, f: impl FnOnce() + Send + 'static) -> Result<()> {
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .map_err(|e| Error::plan(format!("cannot start a replay thread: {e}")))?;
        let mut threads = self.threads.lock();
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }

    /// Records a sample and returns the recent rate (records/s).
    pub(crate) fn rate(&self, id: u64, processed: u64) -> f64 {
        let mut samples = self.samples.lock();
        let s = samples.entry(id).or_default();
        let now = Instant::now();
        if s.back()
            .is_none_or(|(t, _)| now.duration_since(*t) >= TICK / 2)
        {
            s.push_back((now, processed));
        }
        while s.len() > 2
            && s.front()
                .is_some_and(|(t, _)| now.duration_since(*t) > Duration::from_secs(3))
        {
            s.pop_front();
        }
        match (s.front(), s.back()) {
            (Some((t0, p0)), Some((t1, p1))) if t1 > t0 => {
                p1.saturating_sub(*p0) as f64 / t1.duration_since(*t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_say_whether_a_replay_is_active() {
        assert!(ReplayStatus::Running.is_active());
        assert!(ReplayStatus::CaughtUp.is_active());
        for s in [
            ReplayStatus::Promoted,
            ReplayStatus::Done,
            ReplayStatus::Cancelled,
            ReplayStatus::Failed,
        ] {
            assert!(!s.is_active());
        }
    }
}
