//! SQL: `POST /v1/sql` and what each statement did.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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
    /// `SHOW …`.
    Listing {
        /// Sources.
        sources: Vec<Source>,
        /// View names.
        views: Vec<String>,
    },
    /// `DESCRIBE …` of a source.
    SourceDescription {
        /// The source.
        source: Source,
    },
    /// `DESCRIBE …` of a view.
    ViewDescription {
        /// Its compiled plan, as the engine writes it.
        #[schema(value_type = Object)]
        plan: Box<RawValue>,
        /// Its counters, as the engine keeps them (`watermark` is i64::MIN before any event).
        #[schema(value_type = Object)]
        stats: Box<RawValue>,
    },
    /// A bare `SELECT`: a continuous query, whose rows are the response.
    QueryStarted {
        /// The temporary view's name.
        name: String,
        /// The topic its rows go to.
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
    /// Value encoding (`json`).
    pub format: String,
    /// The event-time column; `null`: the record's own timestamp.
    pub timestamp_column: Option<String>,
    /// Bounded out-of-orderness of event time (ms); `null`: the engine's default.
    pub watermark_delay_ms: Option<u64>,
    /// A table's primary-key column.
    pub primary_key: Option<String>,
    /// `WITH (…)` properties as given.
    pub properties: Vec<(String, String)>,
}

/// A column of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourceColumn {
    /// Its name.
    pub name: String,
    /// Its type: `boolean`, `big_int`, `double`, `varchar` or `timestamp`.
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
            E::Listing { sources, views } => Outcome::Listing {
                sources: sources.into_iter().map(Into::into).collect(),
                views,
            },
            E::SourceDescription { source } => Outcome::SourceDescription {
                source: source.into(),
            },
            E::ViewDescription { plan, stats } => Outcome::ViewDescription {
                plan: serde_json::value::to_raw_value(&plan)?,
                stats: serde_json::value::to_raw_value(&stats)?,
            },
            E::QueryStarted { name, changelog } => Outcome::QueryStarted { name, changelog },
            E::InsertStarted { id, target, topic } => Outcome::InsertStarted { id, target, topic },
        })
    }
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
                    data_type: sql_type_name(c.data_type).to_owned(),
                })
                .collect(),
            format: match format {
                ValueFormat::Json => "json",
            }
            .to_owned(),
            timestamp_column,
            watermark_delay_ms,
            primary_key,
            properties,
        }
    }
}

/// A type's name as the engine writes it.
fn sql_type_name(t: SqlType) -> &'static str {
    match t {
        SqlType::Boolean => "boolean",
        SqlType::BigInt => "big_int",
        SqlType::Double => "double",
        SqlType::Varchar => "varchar",
        SqlType::Timestamp => "timestamp",
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
        };
        for o in [
            engine::Outcome::Listing {
                sources: vec![source.clone()],
                views: vec!["v".into()],
            },
            engine::Outcome::SourceDescription { source },
            engine::Outcome::ViewCreated {
                name: "v".into(),
                changelog: "v-changelog".into(),
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
