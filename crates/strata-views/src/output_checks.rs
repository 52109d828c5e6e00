//! Checks of named outputs that need no running view: whether a view may write its named
//! topic (`check_named_output`), whether an `INSERT INTO` query's columns fit its target
//! (`fit_to_target`), and the catalog as SQL sees it with the node's Kafka listener
//! (`NodeCatalog`). A leaf below the engine: `engine.rs` and `outputs.rs` both use it.

use strata_engine::error::{Error, Result};
use strata_engine::sink::output_encoder;
use strata_engine::sql::{Catalog, view_as_source};
use strata_log::Log;
use strata_sql::plan::SqlType;
use strata_sql::plan::{ColumnDef, SinkDef, SourceDef, ViewPlan};
use strata_sql::types::{arrow_type, type_name};

use crate::catalog::CatalogFile;

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
pub(crate) fn fit_to_target(plan: &mut ViewPlan, target: &SourceDef) -> Result<()> {
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
