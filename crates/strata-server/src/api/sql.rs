//! SQL: `POST /v1/sql` and what each statement did.

use serde::{Deserialize, Serialize};
use strata_engine::plan::{SourceDef, SourceKind, SqlType, ValueFormat};
use strata_views::engine;
use utoipa::ToSchema;

/// `POST /v1/sql` as JSON (the SQL may also be sent as the body itself, `text/plain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One or more statements separated by `;` (docs/sql.md).
    pub sql: String,
}

/// The answer to SQL that does not end in a bare `SELECT`: what each statement did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SqlResponse {
    /// One per statement, in order.
    pub outcomes: Vec<Outcome>,
}

/// What one statement did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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
        /// Sources (of the kind shown).
        sources: Vec<Source>,
        /// View names (of the kind shown).
        views: Vec<String>,
        /// What was listed: `streams`, `tables`, `views` or `sources`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shown: Option<String>,
    },
    /// `SHOW QUERIES`.
    Queries {
        /// The running queries.
        queries: Vec<Query>,
    },
    /// `SHOW TOPICS`.
    Topics {
        /// The log's topics.
        topics: Vec<TopicSize>,
    },
    /// `DESCRIBE [EXTENDED] …` of a source.
    SourceDescription {
        /// The source.
        source: Source,
        /// With `EXTENDED`: its topic's size and the queries reading it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        statistics: Option<Statistics>,
    },
    /// `DESCRIBE [EXTENDED] …` of a view.
    ViewDescription {
        /// Its compiled plan, as the engine writes it.
        #[schema(value_type = Object)]
        plan: serde_json::Value,
        /// Its counters, as the engine keeps them (`watermark` is i64::MIN before any event).
        #[schema(value_type = Object)]
        stats: serde_json::Value,
        /// Its output as a source: columns, kind (a table for an aggregation), changelog topic,
        /// format.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Source>,
        /// The id of its query (`SHOW QUERIES`, `TERMINATE`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query_id: Option<String>,
        /// With `EXTENDED`: its changelog's size and the queries reading it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        statistics: Option<Statistics>,
    },
    /// `EXPLAIN …`.
    Explanation {
        /// The plan, one stage per line.
        text: String,
        /// The query's id, when it runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query_id: Option<String>,
        /// The plan, as the engine writes it.
        #[schema(value_type = Object)]
        plan: serde_json::Value,
    },
    /// `TERMINATE …`.
    Terminated {
        /// The ids of the queries stopped.
        queries: Vec<String>,
    },
    /// `SET …`: for the statements after it in the same request.
    PropertySet {
        /// The property.
        property: String,
        /// Its value.
        value: String,
    },
    /// A pull query's answer: the rows it selected, once.
    Rows {
        /// The table or view it read.
        source: String,
        /// `[{"name", "type"}]`, as view answers give them.
        #[schema(value_type = Object)]
        columns: serde_json::Value,
        /// The rows. (Here and in the other outcomes JSON is held as `Value`, never
        /// `RawValue`: a client cannot deserialize a `RawValue` inside an internally tagged
        /// enum — serde buffers the content first.)
        #[schema(value_type = Vec<Object>)]
        rows: Vec<serde_json::Value>,
        /// How many.
        count: usize,
    },
    /// `PRINT …`: the topic's records are the response.
    PrintStarted {
        /// The topic.
        topic: String,
        /// From each partition's first record (else only new ones).
        from_beginning: bool,
        /// Every n-th record.
        interval: u64,
        /// At most this many records.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u64>,
    },
    /// A push query (`SELECT … [EMIT CHANGES]`): a continuous query, whose rows are the
    /// response.
    QueryStarted {
        /// The temporary view's name (the query's id).
        name: String,
        /// The topic its rows go to.
        changelog: String,
        /// `LIMIT n`: the response ends after n rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// A running query, as `SHOW QUERIES` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Query {
    /// Its id: `CTAS_<VIEW>` / `CSAS_<VIEW>` for a view, the temporary view's name for a
    /// continuous query.
    pub id: String,
    /// `persistent` (a view's) or `push` (a continuous query's).
    pub kind: String,
    /// The view it maintains.
    pub view: String,
    /// The stream or table it reads.
    pub source: String,
    /// The topic its rows go to.
    pub sink: String,
    /// `running`, or `failed: …` / `terminated: …`.
    pub status: String,
}

/// A topic's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopicSize {
    /// Its name.
    pub name: String,
    /// Its partitions.
    pub partitions: u32,
    /// Records retained.
    pub records: u64,
    /// Each partition's first retained offset.
    pub start_offsets: Vec<u64>,
    /// Each partition's next offset.
    pub end_offsets: Vec<u64>,
}

/// What `DESCRIBE EXTENDED` adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Statistics {
    /// The topic's size (a view's: its changelog's).
    pub topic: TopicSize,
    /// Ids of the queries reading it.
    pub read_by: Vec<String>,
}

/// A declared stream or table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Source {
    /// The name SQL refers to it by.
    pub name: String,
    /// The topic holding its records.
    pub topic: String,
    /// `stream` or `table`.
    pub kind: String,
    /// Value columns, in declaration order.
    pub columns: Vec<SourceColumn>,
    /// Value encoding: `json`, `json_unwrapped` (`wrap_single_value=false`), `kafka` or
    /// `delimited`.
    pub format: String,
    /// The event-time column; `null`: the record's own timestamp.
    pub timestamp_column: Option<String>,
    /// Bounded out-of-orderness of event time (ms); `null`: the engine's default.
    pub watermark_delay_ms: Option<u64>,
    /// A table's primary-key column.
    pub primary_key: Option<String>,
    /// `WITH (…)` properties as given.
    pub properties: Vec<(String, String)>,
    /// The processing-time column (`pt AS PROCTIME()`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proctime_column: Option<String>,
}

/// A column of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceColumn {
    /// Its name.
    pub name: String,
    /// Its type: `boolean`, `big_int`, `double`, `varchar`, `timestamp` or `array<…>` of one
    /// of those.
    pub data_type: String,
}

impl TryFrom<engine::Outcome> for Outcome {
    type Error = serde_json::Error;

    fn try_from(o: engine::Outcome) -> Result<Self, Self::Error> {
        use engine::Outcome as E;
        Ok(match o {
            E::SourceCreated { name, topic } => Outcome::SourceCreated { name, topic },
            E::ViewCreated { name, changelog } => Outcome::ViewCreated { name, changelog },
            E::AlreadyExists { name } => Outcome::AlreadyExists { name },
            E::Dropped { name } => Outcome::Dropped { name },
            E::Listing {
                sources,
                views,
                shown,
            } => Outcome::Listing {
                sources: sources.into_iter().map(Into::into).collect(),
                views,
                shown: shown.map(mirror).transpose()?,
            },
            E::Queries { queries } => Outcome::Queries {
                queries: mirror(queries)?,
            },
            E::Topics { topics } => Outcome::Topics {
                topics: mirror(topics)?,
            },
            E::SourceDescription { source, statistics } => Outcome::SourceDescription {
                source: source.into(),
                statistics: statistics.map(mirror).transpose()?,
            },
            E::ViewDescription {
                plan,
                stats,
                output,
                query_id,
                statistics,
            } => Outcome::ViewDescription {
                plan: serde_json::to_value(&plan)?,
                stats: serde_json::to_value(&stats)?,
                output: output.map(Into::into),
                query_id,
                statistics: statistics.map(mirror).transpose()?,
            },
            E::Explanation {
                text,
                query_id,
                plan,
            } => Outcome::Explanation {
                text,
                query_id,
                plan: serde_json::to_value(&plan)?,
            },
            E::Terminated { queries } => Outcome::Terminated { queries },
            E::PropertySet { property, value } => Outcome::PropertySet { property, value },
            E::PrintStarted {
                topic,
                from_beginning,
                interval,
                limit,
            } => Outcome::PrintStarted {
                topic,
                from_beginning,
                interval,
                limit,
            },
            E::QueryStarted {
                name,
                changelog,
                limit,
            } => Outcome::QueryStarted {
                name,
                changelog,
                limit,
            },
            E::InsertStarted { id, target, topic } => Outcome::InsertStarted { id, target, topic },
        })
    }
}

/// The API's mirror of an engine value, through the JSON both write (they write the same).
fn mirror<T: Serialize, U: serde::de::DeserializeOwned>(value: T) -> Result<U, serde_json::Error> {
    serde_json::from_value(serde_json::to_value(value)?)
}

impl From<SourceDef> for Source {
    fn from(s: SourceDef) -> Self {
        let SourceDef {
            name,
            topic,
            kind,
            columns,
            format,
            timestamp_column,
            watermark_delay_ms,
            primary_key,
            properties,
            proctime_column,
        } = s;
        Source {
            name,
            topic,
            kind: match kind {
                SourceKind::Stream => "stream",
                SourceKind::Table => "table",
            }
            .to_owned(),
            columns: columns
                .into_iter()
                .map(|c| SourceColumn {
                    name: c.name,
                    data_type: sql_type_name(c.data_type),
                })
                .collect(),
            format: match format {
                ValueFormat::Json => "json",
                ValueFormat::JsonUnwrapped => "json_unwrapped",
                ValueFormat::Kafka => "kafka",
                ValueFormat::Delimited { .. } => "delimited",
            }
            .to_owned(),
            timestamp_column,
            watermark_delay_ms,
            primary_key,
            properties,
            proctime_column,
        }
    }
}

/// A type's name as the engine writes it.
fn sql_type_name(t: SqlType) -> String {
    match t {
        SqlType::Boolean => "boolean".into(),
        SqlType::BigInt => "big_int".into(),
        SqlType::Double => "double".into(),
        SqlType::Varchar => "varchar".into(),
        SqlType::Timestamp => "timestamp".into(),
        SqlType::Array(e) => format!("array<{}>", sql_type_name(e.sql())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mirror writes what the engine's outcome writes, in the same order (the
    /// `strata-outcomes` header is that text).
    #[test]
    fn outcomes_write_as_the_engine_writes_them() {
        let source = SourceDef {
            name: "s".into(),
            topic: "t".into(),
            kind: SourceKind::Table,
            columns: vec![strata_engine::plan::ColumnDef {
                name: "n".into(),
                data_type: SqlType::BigInt,
            }],
            format: ValueFormat::Json,
            timestamp_column: Some("ts".into()),
            watermark_delay_ms: None,
            primary_key: Some("n".into()),
            properties: vec![("kafka_topic".into(), "t".into())],
            proctime_column: Some("pt".into()),
        };
        for o in [
            engine::Outcome::Listing {
                sources: vec![source.clone()],
                views: vec!["v".into()],
                shown: Some(strata_engine::sql::ShowKind::Tables),
            },
            engine::Outcome::SourceDescription {
                statistics: Some(strata_views::Statistics {
                    topic: strata_views::TopicStats {
                        name: "t".into(),
                        partitions: 2,
                        records: 3,
                        start_offsets: vec![0, 1],
                        end_offsets: vec![2, 2],
                    },
                    read_by: vec!["CTAS_V".into()],
                }),
                source,
            },
            engine::Outcome::Terminated {
                queries: vec!["CTAS_V".into()],
            },
            engine::Outcome::PrintStarted {
                topic: "t".into(),
                from_beginning: true,
                interval: 1,
                limit: Some(3),
            },
            engine::Outcome::ViewCreated {
                name: "v".into(),
                changelog: "v-changelog".into(),
            },
            engine::Outcome::QueryStarted {
                name: "_query_1_0".into(),
                changelog: "_query_1_0-changelog".into(),
                limit: Some(5),
            },
            engine::Outcome::InsertStarted {
                id: "insertquery_1".into(),
                target: "s".into(),
                topic: "t".into(),
            },
        ] {
            let want = serde_json::to_string(&o).unwrap();
            let got = serde_json::to_string(&Outcome::try_from(o).unwrap()).unwrap();
            assert_eq!(got, want);
        }
    }
}
