//! Replay (Kappa): rebuild a view from the log into a new version, and copy (or filter) a
//! topic's history into another topic.
//!
//! **A view replay** makes a new version of a view ([`crate::versions`]): a streaming view of
//! the (possibly changed) definition that starts at a chosen position in the source and,
//! like every view, never stops. History and new records are read by the same loop over the
//! same per-partition positions, so the moment it "goes live" is not a hand-over at all: the
//! record after the last historical one is simply the next one it reads (no gap, no
//! duplicate, by construction). A monitor thread watches each replay: once the version has
//! read every record that was in the log when the replay began, and its lag is under the
//! replay's bound, the alias is switched to it (or it waits for `promote`). The old version
//! keeps running until it is dropped. A crash resumes the version from its own checkpoint,
//! like any view; the replay record is in the catalog.
//!
//! **A topic replay** copies the records of a source topic that were there when it began,
//! from a time on and before a time, optionally only those matching a SQL predicate over the
//! source's declared columns, into a destination topic, on a thread of its own. It keeps a
//! durable cursor (`<engine>/replays/<id>/cursor.bin`): after each step its output is fsynced,
//! then the cursor. Every copied record carries a `strata.replay` header naming its origin,
//! so a step cut short by a crash is redone without copying any record twice.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array};
use serde::{Deserialize, Serialize};
use strata_log::{BatchBuilder, ReadLimits, RecordView, Topic};

use crate::engine::Engine;
use crate::start::StartAt;
use strata_engine::codec;
use strata_engine::decode::SourceDecoder;
use strata_engine::error::{Error, NameKind, Result};
use strata_engine::expr::evaluate_predicate;
use strata_sql::plan::Expr;
use strata_sql::plan::changelog_topic;
use strata_sql::plan::{SourceDef, Statement, ViewPlan};

/// The header naming a copied record's origin: `<replay id>:<topic>/<partition>/<offset>`.
pub const ORIGIN_HEADER: &str = "strata.replay";

/// Lag bound under which a replayed version is promoted when the request names none.
pub const DEFAULT_PROMOTE_LAG: u64 = 1_000;

/// How often the monitor looks at the replays.
const TICK: Duration = Duration::from_millis(100);

/// Records a topic replay reads from one partition per step.
const COPY_STEP_RECORDS: u64 = 8 * 1024;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

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
struct CopyState {
    read: AtomicU64,
    copied: AtomicU64,
    filtered_out: AtomicU64,
    invalid: AtomicU64,
    cancel: AtomicBool,
    /// Set by the thread when it ends by itself: the counts, or why it failed.
    outcome: Mutex<Option<std::result::Result<CopyCounts, String>>>,
}

impl CopyState {
    fn counts(&self) -> CopyCounts {
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
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    copies: Mutex<HashMap<u64, Arc<CopyState>>>,
    /// Recent `(when, processed)` per replay, for the rate.
    samples: Mutex<HashMap<u64, VecDeque<(Instant, u64)>>>,
}

impl Jobs {
    /// Stops the monitor and the topic replays (each after its current step) and waits.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }

    fn spawn(&self, name: String, f: impl FnOnce() + Send + 'static) -> Result<()> {
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(f)
            .map_err(|e| Error::plan(format!("cannot start a replay thread: {e}")))?;
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }

    /// Records a sample and returns the recent rate (records/s).
    fn rate(&self, id: u64, processed: u64) -> f64 {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
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

/// Starts the monitor and resumes the unfinished topic replays (at engine open).
pub(crate) fn resume(engine: &Arc<Engine>) {
    let weak = Arc::downgrade(engine);
    let stop = Arc::clone(&engine.replays.stop);
    if let Err(e) = engine.replays.spawn("replay-monitor".into(), move || {
        monitor(&weak, &stop);
    }) {
        tracing::error!(error = %e, "replays will not be promoted automatically");
    }
    let unfinished: Vec<ReplayRecord> = {
        let catalog = engine.catalog.lock().unwrap_or_else(|e| e.into_inner());
        catalog
            .versions
            .replays
            .values()
            .filter(|r| r.status.is_active() && matches!(r.spec, ReplaySpec::Topic { .. }))
            .cloned()
            .collect()
    };
    for r in unfinished {
        if let Err(e) = engine.start_copy(&r) {
            tracing::error!(replay = r.id, error = %e, "topic replay could not resume");
            engine.finish(r.id, ReplayStatus::Failed, Some(e.to_string()), None);
        }
    }
}

fn monitor(engine: &Weak<Engine>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        engine.tick();
        drop(engine);
        std::thread::sleep(TICK);
    }
}

impl Engine {
    /// Starts a replay of a view into a new version (see the module docs).
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown view; SQL and planning errors of a new definition;
    /// [`Error::Plan`] for a version name that is taken or not a valid name; log errors.
    pub fn replay_view(&self, req: ViewReplayRequest) -> Result<ReplayProgress> {
        let now = now_ms();
        let (record, plan) = {
            let mut catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
            let name = req.view.to_lowercase();
            let versions = &catalog.versions;
            let (alias, base) = if let Some(a) = versions.aliases.get(&name) {
                (name.clone(), a.current.clone())
            } else if let Some(a) = versions.alias_of(&name) {
                (a.to_owned(), name.clone())
            } else if catalog.views.contains_key(&name) && !name.starts_with("_query_") {
                (name.clone(), name.clone())
            } else {
                return Err(Error::Unknown {
                    kind: NameKind::View,
                    name,
                });
            };
            let base_plan = catalog
                .views
                .get(&base)
                .cloned()
                .ok_or_else(|| Error::Unknown {
                    kind: NameKind::View,
                    name: base.clone(),
                })?;
            let version = match &req.name {
                Some(n) => n.to_lowercase(),
                None => format!("{alias}_v{}", versions.next_number(&alias)),
            };
            check_version_name(&version)?;
            if catalog.views.contains_key(&version)
                || catalog.sources.contains_key(&version)
                || catalog.versions.aliases.contains_key(&version)
            {
                return Err(Error::plan(format!(
                    "{version:?} is taken; name the new version with --as NAME"
                )));
            }
            let mut plan = match &req.sql {
                Some(text) => definition(text, &*catalog)?,
                None => base_plan,
            };
            plan.name.clone_from(&version);
            let topic = self.log.topic(&plan.source.topic)?;
            let start = req.from.positions(&topic)?;
            let target: Vec<u64> = topic.partitions().iter().map(|p| p.end_offset()).collect();
            let total = target
                .iter()
                .zip(&start)
                .map(|(t, s)| t.saturating_sub(*s))
                .sum();
            let id = catalog.versions.next_replay.max(1);
            let record = ReplayRecord {
                id,
                spec: ReplaySpec::View {
                    alias: alias.clone(),
                    version: version.clone(),
                    promote_when_lag_under: req.promote_when_lag_under,
                    start: start.clone(),
                    target,
                    sql: req.sql.clone(),
                },
                status: ReplayStatus::Running,
                created_ms: now,
                finished_ms: None,
                total,
                counts: None,
                message: None,
            };
            let mut next = catalog.versions.clone();
            next.next_replay = id + 1;
            // Fixed offsets, not the request's time: a restart before the first checkpoint
            // starts at the very same records.
            let offsets = (0u32..).zip(start).collect();
            next.add_version(&alias, &version, StartAt::Offsets(offsets), now);
            next.replays.insert(id, record.clone());
            let previous = std::mem::replace(&mut catalog.versions, next);
            if let Err(e) = self.save(&catalog) {
                catalog.versions = previous;
                return Err(e);
            }
            (record, plan)
        };
        if let Err(e) = self.create_view(plan, false) {
            let mut catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
            catalog.versions.replays.remove(&record.id);
            if let (Some(alias), Some(version)) = (record.alias(), record.version()) {
                if let Some(entry) = catalog.versions.aliases.get_mut(alias) {
                    entry.versions.retain(|v| v.view != version);
                }
                catalog.versions.forget(version);
            }
            self.save(&catalog)?;
            return Err(e);
        }
        tracing::info!(replay = record.id, version = ?record.version(), total = record.total, "view replay started");
        Ok(self.progress_of(&record))
    }

    /// Starts copying a topic's history into another (see the module docs).
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown source topic; [`Error::Plan`] for a predicate on a
    /// topic without a declared schema, a bad predicate, a destination that is the source,
    /// or an empty time range; log errors.
    pub fn replay_topic(&self, req: TopicReplayRequest) -> Result<ReplayProgress> {
        let record = {
            let mut catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
            let source_topic = catalog
                .sources
                .get(&req.source.to_lowercase())
                .map_or_else(|| req.source.clone(), |s| s.topic.clone());
            let topic = self.log.topic(&source_topic)?;
            if req.dest == source_topic {
                return Err(Error::plan(
                    "the destination is the source topic; name another topic with --to",
                ));
            }
            if let (Some(from), Some(to)) = (req.from_time, req.to_time)
                && from >= to
            {
                return Err(Error::plan(format!(
                    "--from-time ({from}) must be before --to-time ({to})"
                )));
            }
            if let Some(p) = &req.predicate {
                compile_predicate(&catalog.sources, &source_topic, p)?;
            }
            strata_log::names::validate_name("topic", &req.dest)?;
            match self.log.create_topic(
                &req.dest,
                topic.partition_count(),
                strata_log::TopicConfig::default(),
            ) {
                Ok(_) | Err(strata_log::Error::TopicExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let from = req.from_time.map_or(StartAt::Beginning, StartAt::Time);
            let start = from.positions(&topic)?;
            let end: Vec<u64> = topic.partitions().iter().map(|p| p.end_offset()).collect();
            let total = end
                .iter()
                .zip(&start)
                .map(|(e, s)| e.saturating_sub(*s))
                .sum();
            let id = catalog.versions.next_replay.max(1);
            let record = ReplayRecord {
                id,
                spec: ReplaySpec::Topic {
                    source: source_topic,
                    dest: req.dest.clone(),
                    from_time: req.from_time,
                    to_time: req.to_time,
                    predicate: req.predicate.clone(),
                    start,
                    end,
                },
                status: ReplayStatus::Running,
                created_ms: now_ms(),
                finished_ms: None,
                total,
                counts: None,
                message: None,
            };
            let mut next = catalog.versions.clone();
            next.next_replay = id + 1;
            next.replays.insert(id, record.clone());
            let previous = std::mem::replace(&mut catalog.versions, next);
            if let Err(e) = self.save(&catalog) {
                catalog.versions = previous;
                return Err(e);
            }
            record
        };
        if let Err(e) = self.start_copy(&record) {
            self.finish(record.id, ReplayStatus::Failed, Some(e.to_string()), None);
            return Err(e);
        }
        tracing::info!(
            replay = record.id,
            total = record.total,
            "topic replay started"
        );
        Ok(self.progress_of(&record))
    }

    /// Every replay, newest last, with its live figures.
    pub fn replays(&self) -> Vec<ReplayProgress> {
        let records: Vec<ReplayRecord> = {
            let catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
            catalog.versions.replays.values().cloned().collect()
        };
        records.iter().map(|r| self.progress_of(r)).collect()
    }

    /// One replay with its live figures.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown id.
    pub fn replay(&self, id: u64) -> Result<ReplayProgress> {
        let record = self.replay_record(id)?;
        Ok(self.progress_of(&record))
    }

    /// Cancels a replay: a view replay's unpromoted version is dropped; a topic replay stops
    /// after its current step (what it copied stays).
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown id; [`Error::Conflict`] for a replay that ended;
    /// log errors.
    pub fn cancel_replay(&self, id: u64) -> Result<ReplayProgress> {
        let record = self.replay_record(id)?;
        if !record.status.is_active() {
            let hint = match record.status {
                ReplayStatus::Promoted => {
                    " (its version is promoted: promote the old one back, then drop-version)"
                }
                _ => "",
            };
            return Err(Error::Conflict(format!(
                "replay {id} already ended ({:?}){hint}",
                record.status
            )));
        }
        match &record.spec {
            ReplaySpec::View { alias, version, .. } => {
                // Drop first: the monitor must not promote what is being cancelled.
                self.finish(
                    id,
                    ReplayStatus::Cancelled,
                    Some("cancelled; its version was dropped".into()),
                    None,
                );
                self.drop_one_view(version)?;
                self.forget_version(alias, version)?;
            }
            ReplaySpec::Topic { .. } => {
                let state = self
                    .replays
                    .copies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&id)
                    .cloned();
                if let Some(s) = &state {
                    s.cancel.store(true, Ordering::Release);
                }
                self.finish(
                    id,
                    ReplayStatus::Cancelled,
                    Some("cancelled; the records copied before stay in the destination".into()),
                    state.map(|s| s.counts()),
                );
            }
        }
        self.replay(id)
    }

    fn replay_record(&self, id: u64) -> Result<ReplayRecord> {
        let catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
        catalog
            .versions
            .replays
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Unknown {
                kind: NameKind::Replay,
                name: id.to_string(),
            })
    }

    fn progress_of(&self, r: &ReplayRecord) -> ReplayProgress {
        let (processed, lag, counts) = match &r.spec {
            ReplaySpec::View { version, .. } => match self.stats(version) {
                Ok(s) => (s.records_in, Some(s.lag), None),
                Err(_) => (0, None, None),
            },
            ReplaySpec::Topic { .. } => {
                let live = self
                    .replays
                    .copies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&r.id)
                    .map(|s| s.counts());
                let counts = if r.status.is_active() {
                    live.or(r.counts)
                } else {
                    r.counts.or(live)
                };
                (counts.map_or(0, |c| c.read), None, counts)
            }
        };
        let active = r.status.is_active();
        let rate = if active {
            self.replays.rate(r.id, processed)
        } else {
            0.0
        };
        let done = if active {
            processed.min(r.total)
        } else if r.status == ReplayStatus::Promoted || r.status == ReplayStatus::Done {
            r.total
        } else {
            processed.min(r.total)
        };
        let percent = if r.total == 0 {
            100.0
        } else {
            done as f64 * 100.0 / r.total as f64
        };
        let remaining = r.total - done;
        let eta_s = if remaining == 0 {
            Some(0.0)
        } else if active && rate > 0.0 {
            Some(remaining as f64 / rate)
        } else {
            None
        };
        ReplayProgress {
            id: r.id,
            spec: r.spec.clone(),
            status: r.status,
            processed: done,
            total: r.total,
            percent,
            records_per_s: rate,
            eta_s,
            lag,
            counts,
            created_ms: r.created_ms,
            finished_ms: r.finished_ms,
            message: r.message.clone(),
        }
    }

    /// Sets a replay's final status (only while it is active).
    fn finish(
        &self,
        id: u64,
        status: ReplayStatus,
        message: Option<String>,
        counts: Option<CopyCounts>,
    ) {
        self.set_status(id, status, message, counts, true);
    }

    fn set_status(
        &self,
        id: u64,
        status: ReplayStatus,
        message: Option<String>,
        counts: Option<CopyCounts>,
        finished: bool,
    ) {
        let mut catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
        let Some(r) = catalog.versions.replays.get_mut(&id) else {
            return;
        };
        if !r.status.is_active() {
            return;
        }
        r.status = status;
        r.message = message.or(r.message.take());
        r.counts = counts.or(r.counts);
        if finished {
            r.finished_ms = Some(now_ms());
        }
        if let Err(e) = self.save(&catalog) {
            tracing::error!(replay = id, error = %e, "cannot record a replay's status");
        }
    }

    /// One look at every active view replay: catch-up, failure, automatic promotion.
    fn tick(&self) {
        let active: Vec<ReplayRecord> = {
            let catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
            catalog
                .versions
                .replays
                .values()
                .filter(|r| r.status.is_active())
                .cloned()
                .collect()
        };
        for r in active {
            let ReplaySpec::View {
                alias,
                version,
                promote_when_lag_under,
                ..
            } = &r.spec
            else {
                let state = self
                    .replays
                    .copies
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&r.id)
                    .cloned();
                let Some(state) = state else {
                    continue;
                };
                self.replays.rate(r.id, state.read.load(Ordering::Relaxed));
                let outcome = state
                    .outcome
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                match outcome {
                    Some(Ok(counts)) => {
                        tracing::info!(replay = r.id, ?counts, "topic replay done");
                        self.finish(r.id, ReplayStatus::Done, None, Some(counts));
                    }
                    Some(Err(why)) => self.finish(r.id, ReplayStatus::Failed, Some(why), None),
                    None => {}
                }
                continue;
            };
            if let Some(why) = self.failure(version) {
                self.finish(r.id, ReplayStatus::Failed, Some(why), None);
                continue;
            }
            let Ok(stats) = self.stats(version) else {
                continue;
            };
            self.replays.rate(r.id, stats.records_in);
            if stats.records_in < r.total {
                continue;
            }
            if r.status == ReplayStatus::Running {
                tracing::info!(replay = r.id, %version, "replay caught up");
                self.set_status(r.id, ReplayStatus::CaughtUp, None, None, false);
            }
            if let Some(bound) = promote_when_lag_under
                && stats.lag < *bound
            {
                match self.promote(alias, version) {
                    Ok(_) => self.finish(r.id, ReplayStatus::Promoted, None, None),
                    Err(e) => {
                        tracing::warn!(replay = r.id, error = %e, "cannot promote the replayed version yet");
                    }
                }
            }
        }
    }

    /// Starts (or resumes) the thread of a topic replay.
    fn start_copy(&self, r: &ReplayRecord) -> Result<()> {
        let ReplaySpec::Topic {
            source,
            dest,
            from_time,
            to_time,
            predicate,
            start,
            end,
        } = &r.spec
        else {
            return Err(Error::plan("not a topic replay"));
        };
        let filter = match predicate {
            Some(p) => {
                let catalog = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
                Some(compile_predicate(&catalog.sources, source, p)?)
            }
            None => None,
        };
        let state = Arc::new(CopyState::default());
        let mut copier = Copier {
            id: r.id,
            source: self.log.topic(source)?,
            dest: self.log.topic(dest)?,
            from_time: *from_time,
            to_time: *to_time,
            filter,
            end: end.clone(),
            cursor_path: self.replay_dir(r.id).join("cursor.bin"),
            cursor: Cursor {
                positions: start.clone(),
                dest_ends: Vec::new(),
                counts: CopyCounts::default(),
            },
            done_before: HashSet::new(),
            state: Arc::clone(&state),
        };
        copier.restore()?;
        self.replays
            .copies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(r.id, state);
        let stop = Arc::clone(&self.replays.stop);
        let id = r.id;
        self.replays.spawn(format!("replay-{id}"), move || {
            // The monitor records the outcome in the catalog.
            let outcome = match copier.run(&stop) {
                Ok(Some(counts)) => Ok(counts),
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(replay = id, error = %e, "topic replay failed");
                    Err(e.to_string())
                }
            };
            *copier
                .state
                .outcome
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        })
    }

    fn replay_dir(&self, id: u64) -> PathBuf {
        self.dir.join("replays").join(id.to_string())
    }
}

/// A replay's definition: one `SELECT` (or `CREATE TABLE … AS SELECT`) statement.
fn definition(text: &str, catalog: &dyn strata_engine::sql::Catalog) -> Result<ViewPlan> {
    let mut statements = strata_engine::sql::parse(text, catalog)?;
    match (statements.pop(), statements.is_empty()) {
        (Some(Statement::Query(plan) | Statement::CreateView { plan, .. }), true) => Ok(plan),
        _ => Err(Error::plan(
            "a replay's new definition is one SELECT statement (or CREATE TABLE … AS SELECT …), over a declared stream",
        )),
    }
}

fn check_version_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        return Err(Error::plan(format!(
            "{name:?} is not a valid view name: use letters, digits and _ (not starting with a digit), e.g. counts_v2"
        )));
    }
    strata_log::names::validate_name("topic", &changelog_topic(name))?;
    Ok(())
}

/// The filter of `SELECT * FROM <source over topic> WHERE <predicate>`, with the source.
fn compile_predicate(
    sources: &std::collections::BTreeMap<String, SourceDef>,
    topic: &str,
    predicate: &str,
) -> Result<(SourceDef, Expr)> {
    let source = sources
        .values()
        .find(|s| s.topic == topic)
        .cloned()
        .ok_or_else(|| {
            Error::plan(format!(
                "--where needs the columns of topic {topic:?}: declare them first, e.g. CREATE STREAM {topic} (…) WITH (kafka_topic='{topic}', value_format='JSON')"
            ))
        })?;
    struct One<'a>(&'a SourceDef);
    impl strata_engine::sql::Catalog for One<'_> {
        fn source(&self, name: &str) -> Option<SourceDef> {
            (name == self.0.name).then(|| self.0.clone())
        }
    }
    let text = format!("SELECT * FROM {} WHERE {predicate}", source.name);
    let plan = definition(&text, &One(&source)).map_err(|e| match e {
        Error::Sql { message, .. } => {
            Error::plan(format!("in the predicate {predicate:?}: {message}"))
        }
        other => other,
    })?;
    let filter = plan
        .filter
        .ok_or_else(|| Error::plan(format!("{predicate:?} is not a predicate")))?;
    Ok((source, filter))
}

/// A topic replay's durable cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    /// Per source partition, the next offset to read.
    positions: Vec<u64>,
    /// Per destination partition, its end when the cursor was written.
    dest_ends: Vec<u64>,
    counts: CopyCounts,
}

struct Copier {
    id: u64,
    source: Arc<Topic>,
    dest: Arc<Topic>,
    from_time: Option<i64>,
    to_time: Option<i64>,
    filter: Option<(SourceDef, Expr)>,
    end: Vec<u64>,
    cursor_path: PathBuf,
    cursor: Cursor,
    /// Source records found in the destination past the cursor: a step cut short by a crash.
    done_before: HashSet<(u32, u64)>,
    state: Arc<CopyState>,
}

impl Copier {
    /// Loads the cursor and finds what a step cut short already copied.
    fn restore(&mut self) -> Result<()> {
        match std::fs::read(&self.cursor_path) {
            Ok(bytes) => {
                self.cursor = codec::decode(&bytes).map_err(|message| Error::Checkpoint {
                    path: self.cursor_path.clone(),
                    message,
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = self.cursor_path.parent().unwrap_or(&self.cursor_path);
                std::fs::create_dir_all(dir).map_err(|e| Error::Checkpoint {
                    path: dir.to_owned(),
                    message: e.to_string(),
                })?;
                self.cursor.dest_ends = self.dest_ends();
            }
            Err(e) => {
                return Err(Error::Checkpoint {
                    path: self.cursor_path.clone(),
                    message: e.to_string(),
                });
            }
        }
        let prefix = format!("{}:{}/", self.id, self.source.name());
        for p in self.dest.partitions() {
            let mut at = self
                .cursor
                .dest_ends
                .get(p.id() as usize)
                .copied()
                .unwrap_or(0)
                .max(p.start_offset());
            while at < p.end_offset() {
                let fetch = p.read(
                    at,
                    ReadLimits {
                        max_records: 64 * 1024,
                        max_bytes: 16 << 20,
                    },
                )?;
                for r in fetch.records() {
                    if let Some(origin) = origin_of(&r?, &prefix) {
                        self.done_before.insert(origin);
                    }
                }
                at = fetch.next_offset();
            }
        }
        let c = self.cursor.counts;
        self.state.read.store(c.read, Ordering::Relaxed);
        self.state.copied.store(c.copied, Ordering::Relaxed);
        self.state
            .filtered_out
            .store(c.filtered_out, Ordering::Relaxed);
        self.state.invalid.store(c.invalid, Ordering::Relaxed);
        Ok(())
    }

    fn dest_ends(&self) -> Vec<u64> {
        self.dest
            .partitions()
            .iter()
            .map(|p| p.end_offset())
            .collect()
    }

    /// Copies until done (`Some(counts)`), cancelled or stopped (`None`).
    fn run(&mut self, stop: &AtomicBool) -> Result<Option<CopyCounts>> {
        let mut decoder = match &self.filter {
            Some((source, _)) => Some(SourceDecoder::new(source)?),
            None => None,
        };
        loop {
            if stop.load(Ordering::Acquire) || self.state.cancel.load(Ordering::Acquire) {
                return Ok(None);
            }
            if self.step(decoder.as_mut())? {
                return Ok(Some(self.cursor.counts));
            }
        }
    }

    /// One step: up to a slice of every source partition. Returns true when all is copied.
    fn step(&mut self, mut decoder: Option<&mut SourceDecoder>) -> Result<bool> {
        let mut outputs: Vec<BatchBuilder> = (0..self.dest.partition_count())
            .map(|_| BatchBuilder::new())
            .collect();
        let mut finished = true;
        for p in self.source.partitions() {
            let i = p.id() as usize;
            let (pos, end) = (self.cursor.positions[i], self.end[i]);
            if pos >= end {
                continue;
            }
            finished = false;
            let fetch = p.read(
                pos,
                ReadLimits {
                    max_records: COPY_STEP_RECORDS.min(end - pos),
                    max_bytes: 8 << 20,
                },
            )?;
            let records: Vec<(u32, RecordView<'_>)> = fetch
                .records()
                .map(|r| r.map(|r| (p.id(), r)))
                .filter(|r| r.as_ref().map_or(true, |(_, r)| r.offset < end))
                .collect::<strata_log::Result<_>>()?;
            let keep = self.select(&records, decoder.as_deref_mut())?;
            let mut counts = self.cursor.counts;
            counts.read += records.len() as u64;
            for ((_, r), keep) in records.iter().zip(keep) {
                match keep {
                    Keep::Yes => {
                        counts.copied += 1;
                        if self.done_before.contains(&(p.id(), r.offset)) {
                            continue;
                        }
                        let to = self.dest_partition(p.id(), r.key);
                        let origin =
                            format!("{}:{}/{}/{}", self.id, self.source.name(), p.id(), r.offset);
                        let headers = r
                            .headers()
                            .filter_map(std::result::Result::ok)
                            .chain(std::iter::once((ORIGIN_HEADER, origin.as_bytes())));
                        outputs[to as usize].push(
                            r.key,
                            r.value,
                            r.timestamp,
                            headers.collect::<Vec<_>>().into_iter(),
                        );
                        if outputs[to as usize].size_bytes() > 4 << 20 {
                            let full =
                                std::mem::replace(&mut outputs[to as usize], BatchBuilder::new());
                            if let Some(b) = full.finish() {
                                self.dest.append(to, b)?;
                            }
                        }
                    }
                    Keep::Filtered => counts.filtered_out += 1,
                    Keep::Invalid => counts.invalid += 1,
                }
            }
            self.cursor.positions[i] = fetch.next_offset().min(end);
            self.cursor.counts = counts;
        }
        for (to, builder) in outputs.into_iter().enumerate() {
            if let Some(b) = builder.finish() {
                self.dest.append(to as u32, b)?;
            }
        }
        // Output first, then the cursor that says it is there.
        for p in self.dest.partitions() {
            p.flush()?;
        }
        self.cursor.dest_ends = self.dest_ends();
        let bytes = codec::encode(&self.cursor).map_err(|message| Error::Checkpoint {
            path: self.cursor_path.clone(),
            message,
        })?;
        strata_log::fsutil::write_atomically(&self.cursor_path, &bytes)?;
        let c = self.cursor.counts;
        self.state.read.store(c.read, Ordering::Relaxed);
        self.state.copied.store(c.copied, Ordering::Relaxed);
        self.state
            .filtered_out
            .store(c.filtered_out, Ordering::Relaxed);
        self.state.invalid.store(c.invalid, Ordering::Relaxed);
        Ok(finished)
    }

    /// Which records of one partition's slice to copy.
    fn select(
        &self,
        records: &[(u32, RecordView<'_>)],
        decoder: Option<&mut SourceDecoder>,
    ) -> Result<Vec<Keep>> {
        let in_time = |r: &RecordView<'_>| {
            self.from_time.is_none_or(|t| r.timestamp >= t)
                && self.to_time.is_none_or(|t| r.timestamp < t)
        };
        let mut keep: Vec<Keep> = records
            .iter()
            .map(|(_, r)| {
                if in_time(r) {
                    Keep::Yes
                } else {
                    Keep::Filtered
                }
            })
            .collect();
        let (Some((_, filter)), Some(decoder)) = (&self.filter, decoder) else {
            return Ok(keep);
        };
        let index: HashMap<u64, usize> = records
            .iter()
            .enumerate()
            .map(|(i, (_, r))| (r.offset, i))
            .collect();
        for chunk in records.chunks(strata_engine::decode::MAX_BATCH_ROWS) {
            let decoded = decoder.decode(chunk)?;
            for bad in &decoded.invalid {
                if let Some(&i) = index.get(&bad.offset)
                    && keep[i] == Keep::Yes
                {
                    keep[i] = Keep::Invalid;
                }
            }
            let mask = evaluate_predicate(filter, &decoded.batch)?;
            let offsets = decoded
                .batch
                .column_by_name("_offset")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
                .ok_or_else(|| Error::Eval("decoded records carry no offsets".into()))?;
            for row in 0..mask.len() {
                if !mask.value(row)
                    && let Some(&i) = index.get(&(offsets.value(row) as u64))
                    && keep[i] == Keep::Yes
                {
                    keep[i] = Keep::Filtered;
                }
            }
        }
        Ok(keep)
    }

    /// Same partition when the counts match; else by key (Kafka's murmur2), or the source
    /// partition modulo the count for records without a key.
    fn dest_partition(&self, from: u32, key: Option<&[u8]>) -> u32 {
        let n = self.dest.partition_count();
        if n == self.source.partition_count() {
            return from;
        }
        match key {
            Some(k) => strata_log::partitioner::partition_for_key(k, n),
            None => from % n,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Yes,
    Filtered,
    Invalid,
}

/// The source position a copied record names in its origin header, when it is this replay's.
fn origin_of(r: &RecordView<'_>, prefix: &str) -> Option<(u32, u64)> {
    let value = r
        .headers()
        .filter_map(std::result::Result::ok)
        .filter(|(name, _)| *name == ORIGIN_HEADER)
        .last()?
        .1;
    let rest = std::str::from_utf8(value).ok()?.strip_prefix(prefix)?;
    let (p, o) = rest.split_once('/')?;
    Some((p.parse().ok()?, o.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_are_checked() {
        assert!(check_version_name("counts_v2").is_ok());
        for bad in ["", "Counts", "2x", "a-b", "a b"] {
            assert!(check_version_name(bad).is_err(), "{bad:?}");
        }
    }

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
