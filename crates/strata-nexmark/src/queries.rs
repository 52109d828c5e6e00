//! The Nexmark queries in strata SQL (`benches/nexmark/*.sql`), compiled against the three
//! streams declared in `benches/nexmark/schema.sql`.

use std::collections::HashMap;

use strata_engine::plan::{SourceDef, Statement, ViewPlan};
use strata_engine::sql;

use crate::error::{NexmarkError, Result};
use crate::model::Kind;

/// The schema: the `person`, `auction` and `bid` streams and the keyed tables.
pub const SCHEMA_SQL: &str = include_str!("../../../benches/nexmark/schema.sql");

/// Every query: name and SQL text.
pub const QUERIES: &[(&str, &str)] = &[
    ("q0", include_str!("../../../benches/nexmark/q0.sql")),
    ("q1", include_str!("../../../benches/nexmark/q1.sql")),
    ("q2", include_str!("../../../benches/nexmark/q2.sql")),
    ("q3", include_str!("../../../benches/nexmark/q3.sql")),
    ("q4", include_str!("../../../benches/nexmark/q4.sql")),
    ("q5", include_str!("../../../benches/nexmark/q5.sql")),
    ("q7", include_str!("../../../benches/nexmark/q7.sql")),
    ("q8", include_str!("../../../benches/nexmark/q8.sql")),
    ("q11", include_str!("../../../benches/nexmark/q11.sql")),
    ("q13", include_str!("../../../benches/nexmark/q13.sql")),
    ("q14", include_str!("../../../benches/nexmark/q14.sql")),
    ("q15", include_str!("../../../benches/nexmark/q15.sql")),
    ("q16", include_str!("../../../benches/nexmark/q16.sql")),
    ("q17", include_str!("../../../benches/nexmark/q17.sql")),
    ("q20", include_str!("../../../benches/nexmark/q20.sql")),
    ("q21", include_str!("../../../benches/nexmark/q21.sql")),
    ("q22", include_str!("../../../benches/nexmark/q22.sql")),
];

/// The sources of [`SCHEMA_SQL`] by name.
///
/// # Errors
/// [`NexmarkError::Engine`] if the schema does not compile (a bug in the schema file).
pub fn catalog() -> Result<HashMap<String, SourceDef>> {
    let statements =
        sql::parse(SCHEMA_SQL, &sql::EmptyCatalog).map_err(|source| NexmarkError::Engine {
            query: "schema.sql".into(),
            source,
        })?;
    Ok(statements
        .into_iter()
        .filter_map(|s| match s {
            Statement::CreateSource { source, .. } => Some((source.name.clone(), source)),
            _ => None,
        })
        .collect())
}

/// The `person`, `auction` and `bid` stream definitions, in [`Kind::ALL`] order.
///
/// # Errors
/// As [`catalog`].
pub fn streams() -> Result<[SourceDef; 3]> {
    let catalog = catalog()?;
    let get = |k: Kind| {
        catalog
            .get(k.name())
            .cloned()
            .ok_or_else(|| NexmarkError::Engine {
                query: "schema.sql".into(),
                source: strata_engine::Error::Unknown {
                    kind: strata_engine::NameKind::Stream,
                    name: k.name().into(),
                },
            })
    };
    Ok([get(Kind::Person)?, get(Kind::Auction)?, get(Kind::Bid)?])
}

/// The SQL text of query `name`.
///
/// # Errors
/// [`NexmarkError::UnknownQuery`] listing the names that exist.
pub fn sql_of(name: &str) -> Result<&'static str> {
    QUERIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, s)| *s)
        .ok_or_else(|| NexmarkError::UnknownQuery {
            name: name.into(),
            choices: names().join(", "),
        })
}

/// The names of every query.
pub fn names() -> Vec<&'static str> {
    QUERIES.iter().map(|(n, _)| *n).collect()
}

/// Compiles a plain (non-Top-N) query to its view plans: the views it declares first
/// (`CREATE TABLE v AS SELECT …;`, each a source of the statements after it), then its
/// `SELECT`, in order — each plan after the first reads the one before it as a table.
///
/// # Errors
/// [`NexmarkError::Engine`] with the front end's message, or when the file is not such a
/// chain.
pub fn plans(name: &str, text: &str) -> Result<Vec<ViewPlan>> {
    let engine = |source| NexmarkError::Engine {
        query: name.into(),
        source,
    };
    let shape = || {
        engine(strata_engine::Error::plan(
            "a Nexmark query file holds a SELECT, optionally after the views it reads \
             (CREATE TABLE v AS SELECT …), each reading the one before",
        ))
    };
    let catalog = catalog()?;
    let mut statements = sql::parse(text, &catalog).map_err(engine)?;
    let Some(last) = statements.pop().and_then(Statement::into_select) else {
        return Err(shape());
    };
    let mut plans = Vec::with_capacity(statements.len() + 1);
    for statement in statements {
        match statement {
            Statement::CreateView { plan, .. } => plans.push(plan),
            _ => return Err(shape()),
        }
    }
    plans.push(last);
    let chained = plans
        .windows(2)
        .all(|pair| pair[1].source.name == pair[0].name && pair[1].join.is_none());
    if !chained {
        return Err(shape());
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_compiles() {
        let catalog = catalog().expect("schema");
        for (name, text) in QUERIES {
            if sql::is_window_topn(text) {
                sql::parse_window_topn(text, &catalog).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else {
                plans(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        assert!(matches!(
            sql_of("q99"),
            Err(NexmarkError::UnknownQuery { choices, .. }) if choices.contains("q22")
        ));
    }
}
