//! Query ids as ksqlDB names them (`CTAS_<VIEW>`, `CSAS_<VIEW>`, a push query's temporary
//! view name) and what `SHOW QUERIES` lists of a query: plain data below the engine, which
//! `engine.rs`, `queries.rs` and `statements.rs` all use.

use serde::Serialize;

use strata_sql::plan::ViewPlan;

/// The prefix of a continuous query's temporary view.
pub(crate) const TRANSIENT_PREFIX: &str = "_query_";

/// What kind of query an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// A view's query (`CREATE TABLE|STREAM … AS SELECT`): runs until terminated or dropped.
    Persistent,
    /// A continuous query: its rows are an HTTP response; it ends with the response.
    Push,
    /// An `INSERT INTO` query: writes into a stream's topic until terminated.
    Insert,
}

/// One query, as `SHOW QUERIES` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryInfo {
    /// Its id (what `TERMINATE` and `EXPLAIN` take).
    pub id: String,
    /// Persistent or push.
    pub kind: QueryKind,
    /// The view it maintains (a push query's temporary view).
    pub view: String,
    /// The stream or table it reads.
    pub source: String,
    /// The topic its rows go to.
    pub sink: String,
    /// `running`, `terminated` or `failed`, with why when not running.
    pub status: String,
}

/// The id of view `name`'s query.
pub fn query_id(plan: &ViewPlan) -> String {
    if plan.name.starts_with(TRANSIENT_PREFIX) {
        return plan.name.clone();
    }
    let prefix = if plan.is_aggregating() && !plan.is_ranked() {
        "CTAS"
    } else {
        "CSAS"
    };
    format!("{prefix}_{}", plan.name.to_uppercase())
}
