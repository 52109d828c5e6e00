//! Named outputs in the view manager: `INSERT INTO` queries (start, resume, terminate, list)
//! and the checks that a named output topic may be written by a view.
//!
//! An `INSERT INTO target SELECT …` runs as a view of its own, `insertquery_<n>`, whose plan
//! names `target`'s topic as its output: it has a private changelog like any view (what
//! makes it exactly-once) and copies what it commits into the target topic
//! ([`crate::forward`]). Such queries are kept in the catalog apart from views: they are not
//! served or listed as views, and they stop with [`Engine::terminate_query`].

use serde::{Deserialize, Serialize};
use strata_engine::error::{Error, Result};
use strata_engine::sink::output_encoder;
use strata_engine::sql::{Catalog, view_as_source};
use strata_log::Log;
use strata_sql::plan::SqlType;
use strata_sql::plan::{ColumnDef, SinkDef, SourceDef, ViewPlan, changelog_topic, late_topic};
use strata_sql::types::{arrow_type, type_name};

use crate::catalog::CatalogFile;
use crate::engine::{Engine, Outcome};

/// An `INSERT INTO` query as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct InsertQuery {
    /// The stream (or sink table) it writes into.
    pub(crate) target: String,
    /// Its plan; the name is the query's id, the sink the target's topic.
    pub(crate) plan: ViewPlan,
}

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

/// The catalog as SQL sees it, with the node's Kafka listener (which
/// `'properties.bootstrap.servers'` may name).
pub(crate) struct NodeCatalog<'a> {
    pub(crate) file: &'a CatalogFile,
    pub(crate) kafka_listener: Option<&'a str>,
}

impl Catalog for NodeCatalog<'_> {
    fn source(&self, name: &str) -> Option<SourceDef> {
        self.file.source(name)
    }

    fn kafka_listener(&self) -> Option<String> {
        self.kafka_listener.map(str::to_owned)
    }
}

/// An error at the statement's named output (its `WITH`, or INSERT's target).
fn at(sink: &SinkDef, message: String) -> Error {
    Error::Sql {
        line: sink.at.0,
        column: sink.at.1,
        message,
    }
}

fn sink_of(plan: &ViewPlan) -> Result<&SinkDef> {
    plan.sink
        .as_ref()
        .ok_or_else(|| Error::plan(format!("{} has no named output", plan.name)))
}

fn query_columns(plan: &ViewPlan) -> Result<Vec<ColumnDef>> {
    view_as_source(plan)
        .map(|s| s.columns)
        .ok_or_else(|| Error::plan("the query's output columns cannot be typed"))
}

fn sql_type_name(t: SqlType) -> String {
    type_name(&arrow_type(t))
}

fn show(c: &ColumnDef) -> String {
    format!("{} {}", c.name, sql_type_name(c.data_type))
}

/// Checks `plan`'s columns against `target`'s, by position (as Flink's INSERT INTO does):
/// same count, same types. The query's columns are then named as the target's, which is how
/// its rows are written.
///
/// # Errors
/// [`Error::Sql`] at the target naming the first column that differs and both types.
fn fit_to_target(plan: &mut ViewPlan, target: &SourceDef) -> Result<()> {
    let sink = sink_of(plan)?.clone();
    let ours = query_columns(plan)?;
    let theirs = &target.columns;
    let list = |cols: &[ColumnDef]| cols.iter().map(show).collect::<Vec<_>>().join(", ");
    if ours.len() != theirs.len() {
        return Err(at(
            &sink,
            format!(
                "the query gives {} columns ({}) and {} has {} ({}): select {}'s columns, in its order",
                ours.len(),
                list(&ours),
                target.name,
                theirs.len(),
                list(theirs),
                target.name
            ),
        ));
    }
    for (i, (q, t)) in ours.iter().zip(theirs).enumerate() {
        if q.data_type != t.data_type {
            return Err(at(
                &sink,
                format!(
                    "column {} of the query, {}, does not match column {} of {}: CAST it (CAST(… AS {}))",
                    i + 1,
                    show(q),
                    show(t),
                    target.name,
                    sql_type_name(t.data_type)
                ),
            ));
        }
    }
    if plan.is_ranked() {
        if let Some((q, t)) = ours.iter().zip(theirs).find(|(q, t)| q.name != t.name) {
            return Err(at(
                &sink,
                format!(
                    "a ranked query keeps its column names: name {} as {} in the outer SELECT",
                    q.name, t.name
                ),
            ));
        }
        return Ok(());
    }
    for ((name, _), t) in plan.output.iter_mut().zip(theirs) {
        name.clone_from(&t.name);
    }
    Ok(())
}

/// Checks that `plan` may write its named output topic: not a topic it reads, not another
/// view's named output, and — for a view naming its own topic — not a topic declared or
/// filled with another schema, nor one with another partition count.
///
/// # Errors
/// [`Error::Sql`] at the statement's `WITH` (or INSERT target) saying what to write instead.
pub(crate) fn check_named_output(log: &Log, catalog: &CatalogFile, plan: &ViewPlan) -> Result<()> {
    let sink = sink_of(plan)?;
    // The formats first: a key the declared format cannot hold is the first thing to fix.
    output_encoder(plan)?;
    let topic = &sink.topic;
    let reads = std::iter::once(&plan.source.topic).chain(plan.join.iter().map(|j| &j.table.topic));
    if let Some(read) = reads.into_iter().find(|t| *t == topic) {
        return Err(at(
            sink,
            format!(
                "the query reads topic {read}, which it would write: its output would come back as its input; write into another stream"
            ),
        ));
    }
    if sink.target.is_some() {
        return Ok(());
    }
    if let Some(v) = catalog
        .views
        .values()
        .find(|v| v.name != plan.name && v.sink.as_ref().is_some_and(|s| s.topic == *topic))
    {
        return Err(at(
            sink,
            format!(
                "topic {topic} is the named output of {0}; to add rows to it write INSERT INTO {0} SELECT …, or name another kafka_topic",
                v.name
            ),
        ));
    }
    let ours = query_columns(plan)?;
    for source in catalog.sources.values().filter(|s| s.topic == *topic) {
        if source.columns != ours {
            let list = |cols: &[ColumnDef]| cols.iter().map(show).collect::<Vec<_>>().join(", ");
            return Err(at(
                sink,
                format!(
                    "topic {topic} belongs to {} {}, whose columns are ({}), and this view writes ({}): name another kafka_topic, or INSERT INTO {} a query with its columns",
                    match source.kind {
                        strata_sql::plan::SourceKind::Stream => "stream",
                        strata_sql::plan::SourceKind::Table => "table",
                    },
                    source.name,
                    list(&source.columns),
                    list(&ours),
                    source.name
                ),
            ));
        }
    }
    check_existing_topic(log, sink, &ours)
}

/// An existing topic a view would name as its output: same partition count when one is
/// given, and its latest records JSON objects with the view's columns.
fn check_existing_topic(log: &Log, sink: &SinkDef, ours: &[ColumnDef]) -> Result<()> {
    let Ok(topic) = log.topic(&sink.topic) else {
        return Ok(());
    };
    let name = &sink.topic;
    if let Some(n) = sink.partitions
        && n != topic.partition_count()
    {
        return Err(at(
            sink,
            format!(
                "topic {name} exists with {} partitions, not {n}: drop partitions=…, or name a new kafka_topic",
                topic.partition_count()
            ),
        ));
    }
    for p in topic.partitions() {
        let Some((offset, value)) = last_value(p)? else {
            continue;
        };
        let fields = match serde_json::from_slice::<serde_json::Value>(&value) {
            Ok(serde_json::Value::Object(o)) => o.keys().cloned().collect::<Vec<_>>(),
            _ => {
                return Err(at(
                    sink,
                    format!(
                        "topic {name} holds records that are not JSON objects (partition {}, offset {offset}), and the view writes JSON: name a new kafka_topic",
                        p.id()
                    ),
                ));
            }
        };
        if let Some(other) = fields.iter().find(|f| !ours.iter().any(|c| c.name == **f)) {
            return Err(at(
                sink,
                format!(
                    "topic {name} holds records of another schema (partition {}, offset {offset} has field {other}; the view writes {}): name a new kafka_topic",
                    p.id(),
                    ours.iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The last record of a partition with a value (tombstones say nothing of a schema).
fn last_value(p: &strata_log::Partition) -> Result<Option<(u64, Vec<u8>)>> {
    let end = p.end_offset();
    let from = end.saturating_sub(16).max(p.start_offset());
    if from >= end {
        return Ok(None);
    }
    let fetch = p.read(
        from,
        strata_log::ReadLimits {
            max_records: 16,
            max_bytes: 1 << 20,
        },
    )?;
    let mut last = None;
    for r in fetch.records() {
        let r = r?;
        if !r.value.is_empty() {
            last = Some((r.offset, r.value.to_vec()));
        }
    }
    Ok(last)
}
