//! The SQL front end as the engine sees it: strata-sql's parser, where a view declared
//! earlier in the text is a source whose columns are what the engine's operators output.

use std::sync::Arc;

pub use strata_sql::commands::ShowKind;
pub use strata_sql::plan::PullQuery;
pub use strata_sql::{Catalog, EmptyCatalog, is_window_topn};

use crate::error::Result;
use crate::plan::{
    ColumnDef, SourceDef, SourceKind, Statement, TopNPlan, ValueFormat, ViewPlan, changelog_topic,
};

/// Parses and plans `sql` (see [`strata_sql::parse_with`]); a view declared in the text is a
/// source of the statements after it, as [`view_as_source`] types it.
///
/// # Errors
/// The SQL front end's errors: [`crate::Error::Sql`], [`crate::Error::Plan`],
/// [`crate::Error::Unknown`].
pub fn parse(sql: &str, catalog: &dyn Catalog) -> Result<Vec<Statement>> {
    Ok(strata_sql::parse_with(sql, catalog, &view_as_source)?)
}

/// Parses a window Top-N query (see [`strata_sql::parse_window_topn`]).
///
/// # Errors
/// As [`parse`].
pub fn parse_window_topn(sql: &str, catalog: &dyn Catalog) -> Result<TopNPlan> {
    Ok(strata_sql::parse_window_topn(sql, catalog)?)
}

/// A view read by another view (`FROM other_view`): its changelog topic (its named output
/// topic, when it has one), with the view's
/// output columns. An aggregating view (but a window Top-N) is a table keyed by its changelog's record key (the
/// group key), whose updates and tombstones upsert; a filter/projection view is a stream.
/// `None` when the view's output cannot be typed (it would not have started either).
pub fn view_as_source(plan: &ViewPlan) -> Option<SourceDef> {
    let mut input = crate::decode::source_schema(&plan.source);
    if let Some(join) = &plan.join {
        input = crate::join::joined_schema(&input, join);
    }
    let lateness = crate::operator::Lateness::Ignore;
    let schema = match crate::topn::TopNPlan::from_view(plan) {
        Some(topn) => Arc::clone(
            crate::topn::TopNOperator::new(topn, input, lateness)
                .ok()?
                .output_schema(),
        ),
        None => crate::operator::ViewOperator::new(plan.clone(), input, lateness)
            .ok()?
            .output_schema()
            .ok()?,
    };
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            Some(ColumnDef {
                name: f.name().clone(),
                data_type: strata_sql::types::sql_type(f.data_type())?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    // A view with a named output is read from it (`FROM s` sees what INSERT INTO s adds).
    let topic = plan
        .sink
        .as_ref()
        .map_or_else(|| changelog_topic(&plan.name), |s| s.topic.clone());
    Some(SourceDef {
        name: plan.name.clone(),
        topic: topic.clone(),
        // A window Top-N appends each window's ranked rows once: a stream.
        kind: if plan.is_aggregating() && !plan.is_ranked() {
            SourceKind::Table
        } else {
            SourceKind::Stream
        },
        columns,
        format: ValueFormat::Json,
        timestamp_column: None,
        watermark_delay_ms: None,
        primary_key: None,
        properties: vec![("kafka_topic".into(), topic)],
        proctime_column: None,
    })
}
