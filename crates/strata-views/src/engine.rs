//! The engine of a node: the catalog of sources and views, and the views it keeps running.
//!
//! The catalog (`<dir>/catalog.json`, replaced atomically) survives restarts; on open every
//! view resumes from its own checkpoint (`<dir>/views/<name>/`). SQL text goes in through
//! [`Engine::execute`], one outcome per statement.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_log::sync::unmodelled::Mutex;

use arrow::array::RecordBatch;
use serde::Serialize;
use strata_log::{Log, TopicConfig};

use crate::catalog::{self, CatalogFile};
use crate::output_checks::{NodeCatalog, check_named_output};
use crate::query_ids::{QueryInfo, TRANSIENT_PREFIX};
use crate::replay_jobs::Jobs;
pub use crate::session::Session;
use crate::session::{Statistics, TopicStats};
use crate::start::StartAt;
use crate::streaming::{StreamingConfig, StreamingView, ViewStats};
use strata_engine::error::{Error, NameKind, Result};
use strata_engine::sql::{self, Catalog, view_as_source};
use strata_sql::commands::{OffsetReset, ShowKind};
use strata_sql::plan::{SourceDef, Statement, ViewPlan};
use strata_sql::plan::{changelog_topic, late_topic};

/// The names a statement can read: declared sources, and views (as [`view_as_source`]).
impl Catalog for Engine {
    fn source(&self, name: &str) -> Option<SourceDef> {
        self.catalog.lock().source(name)
    }

    fn kafka_listener(&self) -> Option<String> {
        self.config.kafka_listener.clone()
    }
}

/// What one statement did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// A source was declared (its topic created if it was missing).
    SourceCreated {
        /// Source name.
        name: String,
        /// Its topic.
        topic: String,
    },
    /// A view was created and is running.
    ViewCreated {
        /// View name.
        name: String,
        /// Its changelog topic.
        changelog: String,
    },
    /// Nothing was done because the object exists (`IF NOT EXISTS`).
    AlreadyExists {
        /// Its name.
        name: String,
    },
    /// A source or view was dropped.
    Dropped {
        /// Its name.
        name: String,
    },
    /// `SHOW STREAMS|TABLES|VIEWS|SOURCES`.
    Listing {
        /// Sources.
        sources: Vec<SourceDef>,
        /// View names.
        views: Vec<String>,
        /// What was listed.
        #[serde(skip_serializing_if = "Option::is_none")]
        shown: Option<ShowKind>,
    },
    /// `SHOW QUERIES`.
    Queries {
        /// The running queries.
        queries: Vec<QueryInfo>,
    },
    /// `SHOW TOPICS`.
    Topics {
        /// The log's topics.
        topics: Vec<TopicStats>,
    },
    /// `DESCRIBE …` of a source.
    SourceDescription {
        /// The source.
        source: SourceDef,
        /// `DESCRIBE EXTENDED`: its topic's size and who reads it.
        #[serde(skip_serializing_if = "Option::is_none")]
        statistics: Option<Statistics>,
    },
    /// `DESCRIBE …` of a view.
    ViewDescription {
        /// Its plan.
        plan: Box<ViewPlan>,
        /// Its counters.
        stats: ViewStats,
        /// Its output as a source: columns, kind (stream or table), topic, format.
        #[serde(skip_serializing_if = "Option::is_none")]
        output: Option<SourceDef>,
        /// The id of its query.
        #[serde(skip_serializing_if = "Option::is_none")]
        query_id: Option<String>,
        /// `DESCRIBE EXTENDED`: its changelog's size and who reads it.
        #[serde(skip_serializing_if = "Option::is_none")]
        statistics: Option<Statistics>,
    },
    /// `EXPLAIN …`.
    Explanation {
        /// The plan, one stage per line.
        text: String,
        /// The query's id, for a query that runs.
        #[serde(skip_serializing_if = "Option::is_none")]
        query_id: Option<String>,
        /// The plan itself.
        plan: Box<ViewPlan>,
    },
    /// `TERMINATE …`.
    Terminated {
        /// The ids of the queries stopped.
        queries: Vec<String>,
    },
    /// `SET …`.
    PropertySet {
        /// The property.
        property: String,
        /// Its value now.
        value: String,
    },
    /// `PRINT …`: the caller streams the topic's records.
    PrintStarted {
        /// The topic.
        topic: String,
        /// From each partition's first record (else from its end).
        from_beginning: bool,
        /// Every n-th record.
        interval: u64,
        /// At most this many records.
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u64>,
    },
    /// A bare `SELECT`: a continuous query, started as a temporary view whose changelog the
    /// caller tails and then drops with [`Engine::drop_view`].
    QueryStarted {
        /// The temporary view's name (the query's id).
        name: String,
        /// The topic its result rows go to.
        changelog: String,
        /// `LIMIT n`: the query ends after n rows.
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u64>,
    },
    /// `INSERT INTO`: a query writing into a stream's topic is running.
    InsertStarted {
        /// The query's id (what stops it).
        id: String,
        /// The stream or table written into.
        target: String,
        /// Its topic.
        topic: String,
    },
}

/// Configuration of the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Tuning of every streaming view.
    pub streaming: StreamingConfig,
    /// The node's Kafka listener (`host:port`), which `'properties.bootstrap.servers'` may
    /// name besides loopback addresses.
    pub kafka_listener: Option<String>,
}

/// The engine of a node.
pub struct Engine {
    pub(crate) log: Arc<Log>,
    pub(crate) dir: PathBuf,
    config: EngineConfig,
    pub(crate) catalog: Mutex<CatalogFile>,
    pub(crate) running: Mutex<BTreeMap<String, StreamingView>>,
    /// Views of the catalog that could not start (or were terminated), and why.
    pub(crate) not_running: Mutex<BTreeMap<String, String>>,
    query_seq: std::sync::atomic::AtomicU64,
    /// Replays in progress: their monitor and topic-copy threads.
    pub(crate) replays: Jobs,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("dir", &self.dir).finish()
    }
}

impl Engine {
    /// Loads the catalog in `dir` and resumes every view (replays are resumed by
    /// [`Engine::open`], which calls this first).
    ///
    /// # Errors
    /// An unreadable catalog; a view that cannot resume is logged and left stopped.
    pub(crate) fn load(log: Arc<Log>, dir: &Path, config: EngineConfig) -> Result<Arc<Engine>> {
        let catalog = catalog::load(dir)?;
        let engine = Arc::new(Engine {
            log,
            dir: dir.to_owned(),
            config,
            catalog: Mutex::new(catalog.clone()),
            running: Mutex::new(BTreeMap::new()),
            not_running: Mutex::new(BTreeMap::new()),
            query_seq: std::sync::atomic::AtomicU64::new(0),
            replays: Jobs::default(),
        });
        for (name, plan) in catalog.views {
            if name.starts_with(TRANSIENT_PREFIX) {
                // A continuous query whose client is gone: nobody will read it again.
                let _ = engine.drop_view(&name);
                continue;
            }
            if catalog.terminated.contains(&name) {
                let why =
                    "terminated by TERMINATE; drop the view and create it again to restart it";
                engine.not_running.lock().insert(name, why.into());
                continue;
            }
            if let Err(e) = engine.start_view(plan) {
                tracing::error!(view = %name, error = %e, "view could not resume");
                engine
                    .not_running
                    .lock()
                    .insert(name, format!("could not resume: {e}"));
            }
        }
        engine.resume_queries();
        Ok(engine)
    }

    /// Runs the statements of `sql` in order; stops at the first failing one.
    ///
    /// # Errors
    /// SQL and planning errors (with line and column), name clashes, log errors.
    pub fn execute(&self, sql_text: &str) -> Result<Vec<Outcome>> {
        let statements = {
            let catalog = self.catalog.lock();
            let catalog = NodeCatalog {
                file: &catalog,
                kafka_listener: self.config.kafka_listener.as_deref(),
            };
            sql::parse(sql_text, &catalog)?
        };
        let mut session = Session::default();
        statements
            .into_iter()
            .map(|s| self.run(s, &mut session))
            .collect()
    }

    /// Runs one statement of a request; `session` carries what `SET` changed for the
    /// statements after it.
    ///
    /// # Errors
    /// As [`Engine::execute`]; [`Error::Plan`] for a pull query, which the serving layer
    /// answers (`strata_serving::pull`).
    pub fn run(&self, statement: Statement, session: &mut Session) -> Result<Outcome> {
        match statement {
            Statement::CreateSource {
                source,
                if_not_exists,
            } => self.create_source(source, if_not_exists),
            Statement::CreateView {
                plan,
                if_not_exists,
            } => self.create_view(plan, if_not_exists),
            Statement::Insert { target, plan } => self.insert_into(target, *plan),
            Statement::Query(plan) => self.start_query(plan, None, session),
            Statement::LimitedQuery { plan, limit } => self.start_query(plan, Some(limit), session),
            Statement::PullQuery(_) => Err(Error::plan(
                "a pull query is answered by the serving layer: send it to POST /v1/sql",
            )),
            Statement::Drop {
                name,
                if_exists,
                delete_topic,
            } => match self.drop_any(&name, delete_topic) {
                Err(Error::Unknown { .. }) if if_exists => Ok(Outcome::Dropped { name }),
                other => other,
            },
            Statement::Show(kind) => self.show(kind),
            Statement::Describe { name, extended } => self.describe(&name, extended),
            Statement::Print(spec) => self.print(spec),
            Statement::Set { property, value } => {
                session.set(&property, &value)?;
                Ok(Outcome::PropertySet { property, value })
            }
            Statement::Terminate(target) => self.terminate(target),
            Statement::Explain(target) => self.explain(target),
        }
    }

    /// Starts a continuous query as a temporary view, reading from where the session says.
    fn start_query(
        &self,
        mut plan: ViewPlan,
        limit: Option<u64>,
        session: &Session,
    ) -> Result<Outcome> {
        let n = self
            .query_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        plan.name = format!("{TRANSIENT_PREFIX}{}_{n}", std::process::id());
        let name = plan.name.clone();
        let from = match session.offset_reset {
            OffsetReset::Earliest => StartAt::Beginning,
            OffsetReset::Latest => {
                let topic = self.log.topic(&plan.source.topic)?;
                StartAt::Offsets(
                    topic
                        .partitions()
                        .iter()
                        .map(|p| (p.id(), p.end_offset()))
                        .collect(),
                )
            }
        };
        self.create_view_at(plan, false, Some(from))?;
        Ok(Outcome::QueryStarted {
            changelog: changelog_topic(&name),
            name,
            limit,
        })
    }

    fn create_source(&self, source: SourceDef, if_not_exists: bool) -> Result<Outcome> {
        let mut catalog = self.catalog.lock();
        if catalog.sources.contains_key(&source.name) || catalog.views.contains_key(&source.name) {
            return if if_not_exists {
                Ok(Outcome::AlreadyExists { name: source.name })
            } else {
                Err(Error::plan(format!(
                    "{:?} already exists; drop it first or use CREATE … IF NOT EXISTS",
                    source.name
                )))
            };
        }
        if self.log.topic(&source.topic).is_err() {
            let partitions = source
                .properties
                .iter()
                .find(|(k, _)| k == "partitions")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1);
            match self
                .log
                .create_topic(&source.topic, partitions, TopicConfig::default())
            {
                Ok(_) | Err(strata_log::Error::TopicExists(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let outcome = Outcome::SourceCreated {
            name: source.name.clone(),
            topic: source.topic.clone(),
        };
        catalog.sources.insert(source.name.clone(), source);
        self.save(&catalog)?;
        Ok(outcome)
    }

    pub(crate) fn create_view(&self, plan: ViewPlan, if_not_exists: bool) -> Result<Outcome> {
        self.create_view_at(plan, if_not_exists, None)
    }

    /// Creates a view that starts at `from` (`None`: where its version says, else the
    /// beginning).
    fn create_view_at(
        &self,
        plan: ViewPlan,
        if_not_exists: bool,
        from: Option<StartAt>,
    ) -> Result<Outcome> {
        let name = plan.name.clone();
        {
            let catalog = self.catalog.lock();
            if catalog.views.contains_key(&name)
                || catalog.sources.contains_key(&name)
                || catalog.versions.aliases.contains_key(&name)
                || catalog.queries.contains_key(&name)
            {
                return if if_not_exists {
                    Ok(Outcome::AlreadyExists { name })
                } else {
                    Err(Error::plan(format!(
                        "{name:?} already exists; drop it first, or replay it into a new version"
                    )))
                };
            }
        }
        if plan.sink.is_some() {
            check_named_output(&self.log, &self.catalog.lock(), &plan)?;
        }
        // Start first: a plan that cannot run never enters the catalog.
        let _ = std::fs::remove_dir_all(self.view_dir(&name));
        self.start_view_at(plan.clone(), from)?;
        let mut catalog = self.catalog.lock();
        catalog.views.insert(name.clone(), plan);
        self.save(&catalog)?;
        Ok(Outcome::ViewCreated {
            changelog: changelog_topic(&name),
            name,
        })
    }

    pub(crate) fn start_view(&self, plan: ViewPlan) -> Result<()> {
        self.start_view_at(plan, None)
    }

    fn start_view_at(&self, plan: ViewPlan, from: Option<StartAt>) -> Result<()> {
        let name = plan.name.clone();
        // Versions made by a replay start where the replay said; a continuous query where its
        // session said; every other view at the beginning. Either way a view with a checkpoint
        // resumes from it.
        let from = from.unwrap_or_else(|| self.catalog.lock().versions.start_of(&name));
        let view = StreamingView::start_from(
            Arc::clone(&self.log),
            plan,
            &self.view_dir(&name),
            self.config.streaming.clone(),
            &from,
        )?;
        self.running.lock().insert(name, view);
        Ok(())
    }

    fn drop_any(&self, name: &str, delete_topic: bool) -> Result<Outcome> {
        let name = name.to_lowercase();
        let is_view = {
            let catalog = self.catalog.lock();
            catalog.views.contains_key(&name) || catalog.versions.aliases.contains_key(&name)
        };
        if is_view {
            self.drop_view(&name)?;
            return Ok(Outcome::Dropped { name });
        }
        self.refuse_if_inserted(&name)?;
        let mut catalog = self.catalog.lock();
        if !catalog.sources.contains_key(&name) {
            return Err(Error::Unknown {
                kind: NameKind::Relation,
                name,
            });
        }
        if let Some(user) = catalog.views.values().find(|v| v.source.name == name) {
            return Err(Error::plan(format!(
                "view {:?} reads {name:?}; drop the view first",
                user.name
            )));
        }
        let Some(source) = catalog.sources.remove(&name) else {
            return Ok(Outcome::Dropped { name });
        };
        self.save(&catalog)?;
        drop(catalog);
        if delete_topic {
            self.delete_source_topic(&source)?;
        }
        Ok(Outcome::Dropped { name })
    }

    /// Stops a view and deletes it, its state and its output topics. An alias goes with
    /// every one of its versions; a version that is not its alias's current one goes alone.
    ///
    /// # Errors
    /// [`Error::Unknown`] for a name that is not a view; [`Error::Conflict`] for the current
    /// version of an alias (promote another first, or drop the alias); [`Error::Plan`] while
    /// another view reads it (`FROM this_view`); log errors.
    pub fn drop_view(&self, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        let targets = self.catalog.lock().versions.drop_targets(&name)?;
        self.refuse_if_read(&targets)?;
        self.refuse_if_inserted(&name)?;
        for view in targets {
            self.drop_one_view(&view)?;
        }
        let mut catalog = self.catalog.lock();
        if catalog.versions.forget_dropped(&name) {
            self.save(&catalog)?;
        }
        Ok(())
    }

    /// Refuses to drop `targets` while a view outside them reads one (`FROM other_view`
    /// reads its changelog, which dropping deletes).
    pub(crate) fn refuse_if_read(&self, targets: &[String]) -> Result<()> {
        let catalog = self.catalog.lock();
        for target in targets {
            let topic = changelog_topic(target);
            if let Some(user) = catalog
                .views
                .values()
                .find(|v| !targets.contains(&v.name) && v.source.topic == topic)
            {
                return Err(Error::plan(format!(
                    "view {:?} reads {target:?}; drop it first",
                    user.name
                )));
            }
        }
        Ok(())
    }

    /// Stops one view and deletes it, its state and its output topics.
    pub(crate) fn drop_one_view(&self, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        let view = self.running.lock().remove(&name);
        let known = {
            let mut catalog = self.catalog.lock();
            let known = catalog.views.remove(&name).is_some();
            catalog.terminated.remove(&name);
            self.save(&catalog)?;
            known
        };
        let failed = self.not_running.lock().remove(&name).is_some();
        if view.is_none() && !known && !failed {
            return Err(Error::Unknown {
                kind: NameKind::View,
                name,
            });
        }
        if let Some(v) = view {
            v.stop();
        }
        let _ = std::fs::remove_dir_all(self.view_dir(&name));
        for topic in [changelog_topic(&name), late_topic(&name)] {
            match self.log.delete_topic(&topic) {
                Ok(()) | Err(strata_log::Error::UnknownTopic(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The current rows of a view.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown view.
    pub fn snapshot(&self, name: &str) -> Result<RecordBatch> {
        let running = self.running.lock();
        let view = running
            .get(&name.to_lowercase())
            .ok_or_else(|| Error::Unknown {
                kind: NameKind::View,
                name: name.to_owned(),
            })?;
        view.snapshot()
    }

    /// A view's counters.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown view.
    pub fn stats(&self, name: &str) -> Result<ViewStats> {
        let running = self.running.lock();
        running
            .get(&name.to_lowercase())
            .map(StreamingView::stats)
            .ok_or_else(|| Error::Unknown {
                kind: NameKind::View,
                name: name.to_owned(),
            })
    }

    /// Why a view is not running, if it failed or could not resume.
    pub fn failure(&self, name: &str) -> Option<String> {
        let name = name.to_lowercase();
        if let Some(why) = self.not_running.lock().get(&name) {
            return Some(why.clone());
        }
        let running = self.running.lock();
        running.get(&name).and_then(StreamingView::failure)
    }

    /// The current rows of a view with, beside each, its identity: the group key columns and
    /// (for windowed views) `window_start` — what lookups by key need even when the view's
    /// output leaves the key out.
    ///
    /// # Errors
    /// [`Error::Unknown`] for an unknown view; [`Error::Plan`] for a window Top-N view;
    /// evaluation errors.
    pub fn snapshot_with_keys(&self, name: &str) -> Result<(RecordBatch, RecordBatch)> {
        let running = self.running.lock();
        let view = running
            .get(&name.to_lowercase())
            .ok_or_else(|| Error::Unknown {
                kind: NameKind::View,
                name: name.to_owned(),
            })?;
        view.with_operator(|op| op.snapshot_with_keys())
            .unwrap_or_else(|| {
                Err(Error::plan(format!(
                    "view {name} is a window Top-N: its rows have no group keys; read its rows instead"
                )))
            })
    }

    /// A running view's speed-layer partials per generation (`None` inside for views not
    /// merged with a batch view), for the serving layer.
    ///
    /// # Errors
    /// [`Error::Unknown`] when no view of that name is running.
    pub fn partials(&self, name: &str) -> Result<Option<Arc<crate::streaming::SpeedPartials>>> {
        let running = self.running.lock();
        running
            .get(&name.to_lowercase())
            .map(StreamingView::partials)
            .ok_or_else(|| Error::Unknown {
                kind: NameKind::View,
                name: name.to_owned(),
            })
    }

    /// A view's plan.
    pub fn plan(&self, name: &str) -> Option<ViewPlan> {
        let catalog = self.catalog.lock();
        catalog.views.get(&name.to_lowercase()).cloned()
    }

    /// The names of a view's output columns, in order (a window Top-N's are its outer
    /// SELECT's, not its plan's `output`, which is what it ranks); `None` for an unknown view.
    pub fn columns(&self, name: &str) -> Option<Vec<String>> {
        let plan = self.plan(name)?;
        match view_as_source(&plan) {
            Some(source) => Some(source.columns.into_iter().map(|c| c.name).collect()),
            None => Some(plan.output.into_iter().map(|(n, _)| n).collect()),
        }
    }

    /// Names of the views (continuous queries left out).
    pub fn views(&self) -> Vec<String> {
        let catalog = self.catalog.lock();
        catalog
            .views
            .keys()
            .filter(|v| !v.starts_with(TRANSIENT_PREFIX))
            .cloned()
            .collect()
    }

    /// Stops a view's query and keeps the view, marked terminated (`why`), so that it does
    /// not resume on restart; its rows stay unavailable until it is dropped.
    pub(crate) fn stop_view(&self, name: &str, why: &str) -> Result<()> {
        let view = self.running.lock().remove(name);
        if let Some(v) = view {
            v.stop();
        }
        self.not_running
            .lock()
            .insert(name.to_owned(), why.to_owned());
        let mut catalog = self.catalog.lock();
        catalog.terminated.insert(name.to_owned());
        self.save(&catalog)
    }

    /// The declared sources.
    pub fn sources(&self) -> Vec<SourceDef> {
        let catalog = self.catalog.lock();
        catalog.sources.values().cloned().collect()
    }

    /// Stops every view after a final checkpoint.
    pub fn shutdown(&self) {
        self.replays.stop();
        let views = std::mem::take(&mut *self.running.lock());
        for (_, view) in views {
            view.stop();
        }
    }

    pub(crate) fn view_dir(&self, name: &str) -> PathBuf {
        self.dir.join("views").join(name)
    }

    pub(crate) fn save(&self, catalog: &CatalogFile) -> Result<()> {
        catalog::save(&self.dir, catalog)
    }
}
