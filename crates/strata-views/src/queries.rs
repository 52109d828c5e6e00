//! Queries by id, in one place: every view runs one persistent query, and every continuous
//! query (a bare `SELECT` streaming to a client) is a temporary view. `SHOW QUERIES` lists
//! them, `TERMINATE` and `EXPLAIN` find them here by id.
//!
//! Ids follow ksqlDB's: `CTAS_<VIEW>` for a view whose output is a table (it aggregates),
//! `CSAS_<VIEW>` for one whose output is a stream; a continuous query's id is its temporary
//! view's name (`_query_<pid>_<n>`, also in the `strata-query` response header); an `INSERT
//! INTO` query's is `insertquery_<n>` (kept in the catalog apart from views, `outputs`). To
//! add a kind of query, add it to [`QueryKind`] and to [`Engine::queries`].

use crate::engine::Engine;
use crate::query_ids::TRANSIENT_PREFIX;
pub use crate::query_ids::{QueryInfo, QueryKind, query_id};
use strata_sql::plan::{ViewPlan, changelog_topic};

impl Engine {
    /// Every query: the views' and the continuous queries', ordered by id.
    pub fn queries(&self) -> Vec<QueryInfo> {
        let plans: Vec<ViewPlan> = self.catalog.lock().views.values().cloned().collect();
        let mut out: Vec<QueryInfo> = plans
            .iter()
            .map(|plan| QueryInfo {
                id: query_id(plan),
                kind: if plan.name.starts_with(TRANSIENT_PREFIX) {
                    QueryKind::Push
                } else {
                    QueryKind::Persistent
                },
                view: plan.name.clone(),
                source: plan.source.name.clone(),
                sink: changelog_topic(&plan.name),
                status: match self.failure(&plan.name) {
                    None => "running".to_owned(),
                    Some(why) if self.is_terminated(&plan.name) => format!("terminated: {why}"),
                    Some(why) => format!("failed: {why}"),
                },
            })
            .collect();
        let inserts: Vec<(String, crate::catalog::InsertQuery)> = self
            .catalog
            .lock()
            .queries
            .iter()
            .map(|(id, q)| (id.clone(), q.clone()))
            .collect();
        out.extend(inserts.into_iter().map(|(id, q)| {
            QueryInfo {
                kind: QueryKind::Insert,
                view: id.clone(),
                source: q.plan.source.name.clone(),
                sink: q
                    .plan
                    .sink
                    .as_ref()
                    .map(|s| s.topic.clone())
                    .unwrap_or_default(),
                status: match self.failure(&id) {
                    None => "running".to_owned(),
                    Some(why) => format!("failed: {why}"),
                },
                id,
            }
        }));
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The query `id` names (case-insensitive), if any.
    pub fn query(&self, id: &str) -> Option<QueryInfo> {
        self.queries()
            .into_iter()
            .find(|q| q.id.eq_ignore_ascii_case(id))
    }

    /// True when view `name`'s query was stopped by `TERMINATE`.
    pub fn is_terminated(&self, name: &str) -> bool {
        self.catalog.lock().terminated.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_sql::plan::{AggregateDef, AggregateFunction, SourceDef};

    fn plan(name: &str, aggregating: bool) -> ViewPlan {
        let mut plan =
            strata_engine::builder::ViewBuilder::new(name, SourceDef::stream("s")).build();
        if aggregating {
            plan.aggregates.push(AggregateDef {
                function: AggregateFunction::Count,
                arg: None,
                name: "agg0".into(),
            });
        }
        plan
    }

    #[test]
    fn ids_are_ksqldb_s() {
        assert_eq!(query_id(&plan("counts", true)), "CTAS_COUNTS");
        assert_eq!(query_id(&plan("big_ones", false)), "CSAS_BIG_ONES");
        assert_eq!(query_id(&plan("_query_12_3", false)), "_query_12_3");
    }
}
