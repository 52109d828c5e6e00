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

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use crate::engine::Engine;
pub use crate::replay_jobs::{
    CopyCounts, DEFAULT_PROMOTE_LAG, Jobs, ReplayProgress, ReplayRecord, ReplaySpec, ReplayStatus,
    TopicReplayRequest, ViewReplayRequest,
};
use crate::replay_jobs::{CopyState, TICK};
use crate::start::StartAt;
pub use crate::topic_copy::ORIGIN_HEADER;
use crate::topic_copy::{Copier, Cursor};
use strata_engine::error::{Error, NameKind, Result};
use strata_log::now_ms;
use strata_sql::plan::{Expr, SourceDef, Statement, ViewPlan, changelog_topic};

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
        let catalog = engine.catalog.lock();
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
            let mut catalog = self.catalog.lock();
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
            if let Some(sink) = &plan.sink {
                return Err(Error::Conflict(format!(
                    "{alias} writes the named output topic {}: a replayed version would write its rows there a second time; create a new view with another kafka_topic instead",
                    sink.topic
                )));
            }
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
            let mut catalog = self.catalog.lock();
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
            let mut catalog = self.catalog.lock();
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
            let catalog = self.catalog.lock();
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
                let mut catalog = self.catalog.lock();
                catalog.versions.forget_version(alias, version);
                self.save(&catalog)?;
            }
            ReplaySpec::Topic { .. } => {
                let state = self.replays.copies.lock().get(&id).cloned();
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
        let catalog = self.catalog.lock();
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
                let live = self.replays.copies.lock().get(&r.id).map(|s| s.counts());
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
        let mut catalog = self.catalog.lock();
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
            let catalog = self.catalog.lock();
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
                let state = self.replays.copies.lock().get(&r.id).cloned();
                let Some(state) = state else {
                    continue;
                };
                self.replays.rate(r.id, state.read.load(Ordering::Relaxed));
                let outcome = state.outcome.lock().take();
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
                let catalog = self.catalog.lock();
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
        self.replays.copies.lock().insert(r.id, state);
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
            *copier.state.outcome.lock() = Some(outcome);
        })
    }

    fn replay_dir(&self, id: u64) -> PathBuf {
        self.dir.join("replays").join(id.to_string())
    }
}

/// A replay's definition: one `SELECT` (or `CREATE TABLE … AS SELECT`) statement.
fn definition(text: &str, catalog: &dyn strata_engine::sql::Catalog) -> Result<ViewPlan> {
    let mut statements = strata_engine::sql::parse(text, catalog)?;
    let last = statements.pop().map(|s| match s {
        Statement::CreateView { plan, .. } => Some(plan),
        other => other.into_select(),
    });
    match (last.flatten(), statements.is_empty()) {
        (Some(plan), true) => Ok(plan),
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
}
