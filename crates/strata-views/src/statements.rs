//! The engine's side of ksqlDB's commands: `SHOW` by kind, `DESCRIBE [EXTENDED]`,
//! `EXPLAIN`, `TERMINATE`, `PRINT` (checked here, streamed by the node), `SET` (a
//! [`Session`] lasting one request) and `DROP … DELETE TOPIC`.

use strata_engine::error::{Error, NameKind, Result};
use strata_engine::sql::view_as_source;
use strata_sql::commands::{PrintSpec, ShowKind, TerminateTarget};
use strata_sql::plan::ExplainTarget;
use strata_sql::plan::{SourceDef, SourceKind, ViewPlan};

use crate::engine::{Engine, Outcome};
use crate::query_ids::{QueryInfo, QueryKind, TRANSIENT_PREFIX, query_id};
use crate::session::{Statistics, TopicStats};

impl Engine {
    /// The log the engine's sources and views live in.
    pub fn log(&self) -> &std::sync::Arc<strata_log::Log> {
        &self.log
    }

    /// `SHOW …`.
    pub(crate) fn show(&self, kind: ShowKind) -> Result<Outcome> {
        match kind {
            ShowKind::Queries => {
                return Ok(Outcome::Queries {
                    queries: self
                        .queries()
                        .into_iter()
                        .filter(|q: &QueryInfo| !q.status.starts_with("terminated"))
                        .collect(),
                });
            }
            ShowKind::Topics => {
                let mut topics: Vec<TopicStats> =
                    self.log.topics().iter().map(|t| topic_stats(t)).collect();
                topics.sort_by(|a, b| a.name.cmp(&b.name));
                return Ok(Outcome::Topics { topics });
            }
            _ => {}
        }
        let catalog = self.catalog.lock();
        let views: Vec<&ViewPlan> = catalog
            .views
            .values()
            .filter(|v| !v.name.starts_with(TRANSIENT_PREFIX))
            .collect();
        let wants = |k: SourceKind| match kind {
            ShowKind::Streams => k == SourceKind::Stream,
            ShowKind::Tables => k == SourceKind::Table,
            _ => true,
        };
        let sources = match kind {
            ShowKind::Views => Vec::new(),
            _ => catalog
                .sources
                .values()
                .filter(|s| wants(s.kind))
                .cloned()
                .collect(),
        };
        let views = match kind {
            ShowKind::Sources => Vec::new(),
            _ => views
                .into_iter()
                .filter(|v| wants(view_kind(v)))
                .map(|v| v.name.clone())
                .collect(),
        };
        Ok(Outcome::Listing {
            sources,
            views,
            shown: Some(kind),
        })
    }

    /// `DESCRIBE [EXTENDED] name`.
    pub(crate) fn describe(&self, name: &str, extended: bool) -> Result<Outcome> {
        let name = name.to_lowercase();
        let catalog = self.catalog.lock();
        if let Some(source) = catalog.sources.get(&name).cloned() {
            drop(catalog);
            let statistics = extended
                .then(|| self.statistics(&source.topic))
                .transpose()?;
            return Ok(Outcome::SourceDescription { source, statistics });
        }
        let view = catalog
            .versions
            .resolve(&name, &catalog.views)
            .ok_or_else(|| Error::Unknown {
                kind: NameKind::Relation,
                name: name.clone(),
            })?;
        let plan = catalog
            .views
            .get(&view)
            .cloned()
            .ok_or_else(|| Error::Unknown {
                kind: NameKind::Relation,
                name: name.clone(),
            })?;
        drop(catalog);
        let output = view_as_source(&plan);
        let statistics = match (&output, extended) {
            (Some(o), true) => Some(self.statistics(&o.topic)?),
            _ => None,
        };
        Ok(Outcome::ViewDescription {
            query_id: Some(query_id(&plan)),
            output,
            stats: self.stats(&view).unwrap_or_default(),
            plan: Box::new(plan),
            statistics,
        })
    }

    fn statistics(&self, topic: &str) -> Result<Statistics> {
        let t = self.log.topic(topic)?;
        let read_by = self
            .catalog
            .lock()
            .views
            .values()
            .filter(|v| {
                v.source.topic == topic || v.join.as_ref().is_some_and(|j| j.table.topic == topic)
            })
            .map(query_id)
            .collect();
        Ok(Statistics {
            topic: topic_stats(&t),
            read_by,
        })
    }

    /// `EXPLAIN …`: the plan as text, with the query's id when it exists.
    pub(crate) fn explain(&self, target: ExplainTarget) -> Result<Outcome> {
        let (plan, query_id) = match target {
            ExplainTarget::Plan(plan) => (*plan, None),
            ExplainTarget::Named(name) => {
                let query = self.query(&name);
                if let Some(q) = query.as_ref().filter(|q| q.kind == QueryKind::Insert) {
                    // An INSERT INTO query's plan lives with the queries, not the views.
                    let insert = self.catalog.lock().queries.get(&q.view).cloned();
                    if let Some(insert) = insert {
                        return Ok(Outcome::Explanation {
                            text: strata_sql::explain::explain(&insert.plan),
                            query_id: Some(q.id.clone()),
                            plan: Box::new(insert.plan),
                        });
                    }
                }
                let view = match query {
                    Some(q) => q.view,
                    None => self.resolve(&name).ok_or_else(|| Error::Unknown {
                        kind: NameKind::View,
                        name: name.to_lowercase(),
                    })?,
                };
                let plan = self.plan(&view).ok_or_else(|| Error::Unknown {
                    kind: NameKind::View,
                    name: name.to_lowercase(),
                })?;
                let id = query_id(&plan);
                (plan, Some(id))
            }
        };
        Ok(Outcome::Explanation {
            text: strata_sql::explain::explain(&plan),
            query_id,
            plan: Box::new(plan),
        })
    }

    /// `TERMINATE id` / `TERMINATE ALL`: a view's query stops (the view stays, answering
    /// "not running" until dropped; it does not resume on restart); a continuous query ends
    /// (its temporary view is dropped, which ends its response).
    pub(crate) fn terminate(&self, target: TerminateTarget) -> Result<Outcome> {
        let targets: Vec<QueryInfo> = match target {
            TerminateTarget::All => self
                .queries()
                .into_iter()
                .filter(|q| !self.is_terminated(&q.view))
                .collect(),
            TerminateTarget::Query { id, at } => {
                let q = self.query(&id).ok_or_else(|| {
                    let known: Vec<String> = self.queries().into_iter().map(|q| q.id).collect();
                    Error::Sql {
                        line: at.0,
                        column: at.1,
                        message: format!(
                            "no query has id {id:?}; SHOW QUERIES lists them ({})",
                            if known.is_empty() {
                                "none is running".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    }
                })?;
                vec![q]
            }
        };
        let mut ids = Vec::with_capacity(targets.len());
        for q in targets {
            match q.kind {
                QueryKind::Push => self.drop_view(&q.view)?,
                QueryKind::Insert => self.terminate_query(&q.id)?,
                QueryKind::Persistent => {
                    self.stop_view(&q.view, &format!("terminated by TERMINATE {}", q.id))?;
                }
            }
            ids.push(q.id);
        }
        Ok(Outcome::Terminated { queries: ids })
    }

    /// `PRINT …`: checks the topic (as written, else lower-cased) and says what to stream.
    pub(crate) fn print(&self, mut spec: PrintSpec) -> Result<Outcome> {
        if self.log.topic(&spec.topic).is_err() {
            let lower = spec.topic.to_lowercase();
            self.log.topic(&lower).map_err(|_| Error::Unknown {
                kind: NameKind::Relation,
                name: format!("topic {}", spec.topic),
            })?;
            spec.topic = lower;
        }
        Ok(Outcome::PrintStarted {
            topic: spec.topic,
            from_beginning: spec.from_beginning,
            interval: spec.interval,
            limit: spec.limit,
        })
    }

    /// `DROP STREAM|TABLE name DELETE TOPIC` of a source: its topic goes after it, unless
    /// another source still reads it.
    pub(crate) fn delete_source_topic(&self, source: &SourceDef) -> Result<()> {
        let shared = self
            .catalog
            .lock()
            .sources
            .values()
            .any(|s| s.topic == source.topic && s.name != source.name);
        if shared {
            return Err(Error::plan(format!(
                "topic {} is also the topic of another source; drop that source first, or drop {} without DELETE TOPIC",
                source.topic, source.name
            )));
        }
        match self.log.delete_topic(&source.topic) {
            Ok(()) | Err(strata_log::Error::UnknownTopic(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether a view's output is a table (an aggregation: keyed, upserted) or a stream.
fn view_kind(plan: &ViewPlan) -> SourceKind {
    view_as_source(plan).map_or(SourceKind::Stream, |s| s.kind)
}

fn topic_stats(t: &strata_log::Topic) -> TopicStats {
    let parts = t.partitions();
    let start_offsets: Vec<u64> = parts.iter().map(|p| p.start_offset()).collect();
    let end_offsets: Vec<u64> = parts.iter().map(|p| p.end_offset()).collect();
    TopicStats {
        name: t.name().to_owned(),
        partitions: t.partition_count(),
        records: end_offsets
            .iter()
            .zip(&start_offsets)
            .map(|(e, s)| e.saturating_sub(*s))
            .sum(),
        start_offsets,
        end_offsets,
    }
}
