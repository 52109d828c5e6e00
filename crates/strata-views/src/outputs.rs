//! Named outputs in the view manager: `INSERT INTO` queries (start, resume, terminate, list)
//! and the checks that a named output topic may be written by a view.
//!
//! An `INSERT INTO target SELECT …` runs as a view of its own, `insertquery_<n>`, whose plan
//! names `target`'s topic as its output: it has a private changelog like any view (what
//! makes it exactly-once) and copies what it commits into the target topic
//! ([`crate::forward`]). Such queries are kept in the catalog apart from views: they are not
//! served or listed as views, and they stop with [`Engine::terminate_query`].

use serde::Serialize;
use strata_engine::error::{Error, Result};
use strata_sql::plan::{SourceDef, ViewPlan, changelog_topic, late_topic};

use crate::catalog::{CatalogFile, InsertQuery};
use crate::engine::{Engine, Outcome};
use crate::output_checks::{check_named_output, fit_to_target};

/// A running `INSERT INTO` query, as `SHOW QUERIES` would list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryInfo {
    /// Its id (`insertquery_<n>`), what [`Engine::terminate_query`] takes.
    pub id: String,
    /// The stream or table it writes into.
    pub target: String,
    /// The topic it writes.
    pub topic: String,
    /// Why it is not running, if it failed.
    pub failure: Option<String>,
}

/// The prefix of `INSERT INTO` query ids (ksqlDB names them `INSERTQUERY_<n>`).
pub const INSERT_QUERY_PREFIX: &str = "insertquery_";

impl Engine {
    /// Starts `INSERT INTO target SELECT …` as a query of its own and records it.
    ///
    /// # Errors
    /// [`Error::Sql`] at the target for a query whose columns do not match the target's, or
    /// that would read the topic it writes; the query's own start errors.
    pub(crate) fn insert_into(&self, target: SourceDef, mut plan: ViewPlan) -> Result<Outcome> {
        fit_to_target(&mut plan, &target)?;
        let id = {
            let mut catalog = self.catalog.lock();
            let mut n = catalog.next_query.max(1);
            let taken = |c: &CatalogFile, id: &str| {
                c.views.contains_key(id) || c.sources.contains_key(id) || c.queries.contains_key(id)
            };
            while taken(&catalog, &format!("{INSERT_QUERY_PREFIX}{n}")) {
                n += 1;
            }
            plan.name = format!("{INSERT_QUERY_PREFIX}{n}");
            check_named_output(&self.log, &catalog, &plan)?;
            // Taken now, so a concurrent INSERT gets another id; saved with the query.
            catalog.next_query = n + 1;
            plan.name.clone()
        };
        let _ = std::fs::remove_dir_all(self.view_dir(&id));
        self.start_view(plan.clone())?;
        let topic = plan
            .sink
            .as_ref()
            .map(|s| s.topic.clone())
            .unwrap_or_default();
        let mut catalog = self.catalog.lock();
        catalog.queries.insert(
            id.clone(),
            InsertQuery {
                target: target.name.clone(),
                plan,
            },
        );
        self.save(&catalog)?;
        Ok(Outcome::InsertStarted {
            id,
            target: target.name,
            topic,
        })
    }

    /// Stops an `INSERT INTO` query for good: what it copied stays in the target topic; its
    /// private changelog and state go.
    ///
    /// # Errors
    /// [`Error::Plan`] when no query has this id; log and catalog errors.
    pub fn terminate_query(&self, id: &str) -> Result<()> {
        let id = id.to_lowercase();
        {
            let mut catalog = self.catalog.lock();
            if catalog.queries.remove(&id).is_none() {
                return Err(Error::plan(format!(
                    "no INSERT INTO query has the id {id}; the running ones are {}",
                    names(catalog.queries.keys())
                )));
            }
            self.save(&catalog)?;
        }
        if let Some(view) = self.running.lock().remove(&id) {
            view.stop();
        }
        self.not_running.lock().remove(&id);
        let _ = std::fs::remove_dir_all(self.view_dir(&id));
        for topic in [changelog_topic(&id), late_topic(&id)] {
            match self.log.delete_topic(&topic) {
                Ok(()) | Err(strata_log::Error::UnknownTopic(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The `INSERT INTO` queries, by id.
    pub fn insert_queries(&self) -> Vec<QueryInfo> {
        let queries: Vec<(String, InsertQuery)> = self
            .catalog
            .lock()
            .queries
            .iter()
            .map(|(id, q)| (id.clone(), q.clone()))
            .collect();
        queries
            .into_iter()
            .map(|(id, q)| QueryInfo {
                failure: self.failure(&id),
                topic: q.plan.sink.map(|s| s.topic).unwrap_or_default(),
                target: q.target,
                id,
            })
            .collect()
    }

    /// Starts the `INSERT INTO` queries of the catalog (each resumes from its checkpoint).
    pub(crate) fn resume_queries(&self) {
        let queries: Vec<InsertQuery> = self.catalog.lock().queries.values().cloned().collect();
        for q in queries {
            let id = q.plan.name.clone();
            if let Err(e) = self.start_view(q.plan) {
                tracing::error!(query = %id, error = %e, "INSERT INTO query could not resume");
                self.not_running
                    .lock()
                    .insert(id, format!("could not resume: {e}"));
            }
        }
    }

    /// Refuses to drop `name` while `INSERT INTO` queries write into it (as ksqlDB does).
    ///
    /// # Errors
    /// [`Error::Conflict`] naming the queries to terminate first.
    pub(crate) fn refuse_if_inserted(&self, name: &str) -> Result<()> {
        let catalog = self.catalog.lock();
        let writers: Vec<&String> = catalog
            .queries
            .iter()
            .filter(|(_, q)| q.target == name)
            .map(|(id, _)| id)
            .collect();
        if writers.is_empty() {
            return Ok(());
        }
        Err(Error::Conflict(format!(
            "{name} cannot be dropped while INSERT INTO queries write into it: terminate {} first (TERMINATE <id>)",
            names(writers)
        )))
    }
}

fn names<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    let ids: Vec<&str> = ids.into_iter().map(String::as_str).collect();
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}
