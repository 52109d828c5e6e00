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
use crate::outputs::{NodeCatalog, check_named_output};
use crate::replay_jobs::Jobs;
use crate::streaming::{StreamingConfig, StreamingView, ViewStats};
use strata_engine::error::{Error, NameKind, Result};
use strata_engine::sql::{self, Catalog, view_as_source};
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
    /// `SHOW …`.
    Listing {
        /// Sources.
        sources: Vec<SourceDef>,
        /// View names.
        views: Vec<String>,
    },
    /// `DESCRIBE …` of a source.
    SourceDescription {
        /// The source.
        source: SourceDef,
    },
    /// `DESCRIBE …` of a view.
    ViewDescription {
        /// Its plan.
        plan: Box<ViewPlan>,
        /// Its counters.
        stats: ViewStats,
    },
    /// A bare `SELECT`: a continuous query, started as a temporary view whose changelog the
    /// caller tails and then drops with [`Engine::drop_view`].
    QueryStarted {
        /// The temporary view's name.
        name: String,
        /// The topic its result rows go to.
        changelog: String,
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
    /// Views of the catalog that could not start, and why.
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
            if name.starts_with("_query_") {
                // A continuous query whose client is gone: nobody will read it again.
                let _ = engine.drop_view(&name);
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
        statements
            .into_iter()
            .map(|s| self.run_statement(s))
            .collect()
    }

    fn run_statement(&self, statement: Statement) -> Result<Outcome> {
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
            Statement::Query(mut plan) => {
                let n = self
                    .query_seq
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                plan.name = format!("_query_{}_{n}", std::process::id());
                let name = plan.name.clone();
                self.create_view(plan, false)?;
                Ok(Outcome::QueryStarted {
                    changelog: changelog_topic(&name),
                    name,
                })
            }
            Statement::Drop { name, if_exists } => match self.drop_any(&name) {
                Err(Error::Unknown { .. }) if if_exists => Ok(Outcome::Dropped { name }),
                other => other,
            },
            Statement::Show => {
                let catalog = self.catalog.lock();
                Ok(Outcome::Listing {
                    sources: catalog.sources.values().cloned().collect(),
                    views: catalog
                        .views
                        .keys()
                        .filter(|v| !v.starts_with("_query_"))
                        .cloned()
                        .collect(),
                })
            }
            Statement::Describe(name) => {
                let name = name.to_lowercase();
                let catalog = self.catalog.lock();
                if let Some(source) = catalog.sources.get(&name) {
                    return Ok(Outcome::SourceDescription {
                        source: source.clone(),
                    });
                }
                let plan = catalog
                    .views
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| Error::Unknown {
                        kind: NameKind::Relation,
                        name: name.clone(),
                    })?;
                drop(catalog);
                Ok(Outcome::ViewDescription {
                    plan: Box::new(plan),
                    stats: self.stats(&name).unwrap_or_default(),
                })
            }
        }
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
        self.start_view(plan.clone())?;
        let mut catalog = self.catalog.lock();
        catalog.views.insert(name.clone(), plan);
        self.save(&catalog)?;
        Ok(Outcome::ViewCreated {
            changelog: changelog_topic(&name),
            name,
        })
    }

    pub(crate) fn start_view(&self, plan: ViewPlan) -> Result<()> {
        let name = plan.name.clone();
        // Versions made by a replay start where the replay said; every other view at the
        // beginning. Either way a view with a checkpoint resumes from it.
        let from = self.catalog.lock().versions.start_of(&name);
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

    fn drop_any(&self, name: &str) -> Result<Outcome> {
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
        catalog.sources.remove(&name);
        self.save(&catalog)?;
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
            .filter(|v| !v.starts_with("_query_"))
            .cloned()
            .collect()
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
