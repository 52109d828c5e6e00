//! ksqlDB's statements and processing time, through [`crate::parse`]: pull or push queries,
//! LIMIT, PRINT, SET, TERMINATE, EXPLAIN, `PROCTIME()` columns and functions, and the errors
//! for what is not supported yet (each with its line and column).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use proptest::prelude::*;

use crate::commands::{OffsetReset, PrintSpec, TerminateTarget};
use crate::plan::ExplainTarget;
use crate::plan::{SourceDef, SourceKind, SqlType, Statement, ViewPlan};
use crate::{Catalog, EmptyCatalog, Error, parse};

const SOURCES: &str = "
CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
  WITH (kafka_topic='page_views', value_format='JSON');
CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, region VARCHAR)
  WITH (kafka_topic='users', value_format='JSON');
CREATE TABLE clicks (url STRING, pt AS PROCTIME()) WITH ('connector' = 'kafka', 'topic' = 'clicks');";

/// The sources above, and view `counts` (a table: an aggregation) read as a source.
fn catalog() -> HashMap<String, SourceDef> {
    let mut m: HashMap<String, SourceDef> = parse(SOURCES, &EmptyCatalog)
        .unwrap()
        .into_iter()
        .filter_map(|s| match s {
            Statement::CreateSource { source, .. } => Some((source.name.clone(), source)),
            _ => None,
        })
        .collect();
    let counts = SourceDef::table("counts", "pageid")
        .topic("counts-changelog")
        .column("pageid", SqlType::Varchar)
        .column("n", SqlType::BigInt);
    m.insert(
        "counts".into(),
        SourceDef {
            primary_key: None,
            ..counts
        },
    );
    m
}

fn one(sql: &str, c: &dyn Catalog) -> Statement {
    let mut v = parse(sql, c).unwrap_or_else(|e| panic!("{sql}\n→ {e}"));
    assert_eq!(v.len(), 1);
    v.remove(0)
}

/// The error of `sql`, with its line and column.
fn sql_error(sql: &str, c: &dyn Catalog) -> (u64, u64, String) {
    match parse(sql, c) {
        Err(Error::Sql {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn a_select_of_a_table_without_emit_is_a_pull_query() {
    let c = catalog();
    let Statement::PullQuery(q) = one("SELECT pageid, n FROM counts WHERE pageid = 'p1';", &c)
    else {
        panic!("not a pull query")
    };
    // Over the rows: a filter and projection of the view's columns, no upserts.
    assert!(!q.rows.is_aggregating());
    assert_eq!(q.rows.source.kind, SourceKind::Stream);
    assert!(q.rows.filter.is_some());
    assert_eq!(q.limit, None);
    // As a push query: the table read with upserts.
    assert!(q.push.reads_table());
    let Statement::PullQuery(q) = one("SELECT * FROM users LIMIT 3", &c) else {
        panic!("not a pull query")
    };
    assert_eq!(q.limit, Some(3));
    let names: Vec<&str> = q.rows.output.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["id", "name", "region"]);
}

#[test]
fn emit_changes_streams_and_limit_ends_a_push_query() {
    let c = catalog();
    assert!(matches!(
        one("SELECT * FROM users EMIT CHANGES", &c),
        Statement::Query(p) if p.reads_table()
    ));
    // ksqlDB writes LIMIT after EMIT CHANGES; before it works too.
    for sql in [
        "SELECT * FROM users EMIT CHANGES LIMIT 2;",
        "SELECT * FROM users LIMIT 2 EMIT CHANGES",
    ] {
        assert!(
            matches!(one(sql, &c), Statement::LimitedQuery { limit: 2, .. }),
            "{sql}"
        );
    }
    // A ksqlDB stream without EMIT is a pull query over its records so far (ksqlDB ≥ 0.23);
    // with EMIT CHANGES a push query; an aggregation over it stays a push query.
    assert!(matches!(
        one("SELECT pageid FROM page_views", &c),
        Statement::PullQuery(q) if q.limit.is_none() && !q.push.reads_table()
    ));
    assert!(matches!(
        one("SELECT pageid FROM page_views LIMIT 5", &c),
        Statement::PullQuery(q) if q.limit == Some(5)
    ));
    assert!(matches!(
        one("SELECT pageid FROM page_views EMIT CHANGES LIMIT 5", &c),
        Statement::LimitedQuery { limit: 5, .. }
    ));
    assert!(matches!(
        one(
            "SELECT pageid, COUNT(*) FROM page_views GROUP BY pageid",
            &c
        ),
        Statement::Query(_)
    ));
    // An aggregation over a table can only run continuously: still a push query.
    assert!(matches!(
        one("SELECT region, COUNT(*) FROM users GROUP BY region", &c),
        Statement::Query(_)
    ));
    let (line, column, m) = sql_error("SELECT * FROM users\nLIMIT 0", &c);
    assert_eq!((line, column), (2, 7));
    assert!(m.contains("at least 1"), "{m}");
}

#[test]
fn print_set_terminate_and_explain() {
    let c = catalog();
    assert_eq!(
        one("PRINT 'page_views' FROM BEGINNING LIMIT 3", &c),
        Statement::Print(PrintSpec {
            topic: "page_views".into(),
            from_beginning: true,
            interval: 1,
            limit: Some(3),
        })
    );
    assert_eq!(
        one("PRINT counts-changelog INTERVAL 2", &c),
        Statement::Print(PrintSpec {
            topic: "counts-changelog".into(),
            from_beginning: false,
            interval: 2,
            limit: None,
        })
    );
    assert_eq!(
        one("SET 'auto.offset.reset' = 'Earliest';", &c),
        Statement::Set {
            property: "auto.offset.reset".into(),
            value: "earliest".into()
        }
    );
    assert_eq!(OffsetReset::default(), OffsetReset::Earliest);
    let (line, column, m) = sql_error("SET 'auto.offset.resets'='earliest'", &c);
    assert_eq!((line, column), (1, 5));
    assert!(
        m.contains("unknown property") && m.contains("'auto.offset.reset'"),
        "{m}"
    );
    let (_, _, m) = sql_error("SET 'auto.offset.reset'='newest'", &c);
    assert!(m.contains("'earliest' or 'latest'"), "{m}");
    assert_eq!(
        one("TERMINATE CTAS_COUNTS_0", &c),
        Statement::Terminate(TerminateTarget::Query {
            id: "CTAS_COUNTS_0".into(),
            at: (1, 11)
        })
    );
    assert_eq!(
        one("TERMINATE ALL", &c),
        Statement::Terminate(TerminateTarget::All)
    );
    assert_eq!(
        one("EXPLAIN CTAS_COUNTS", &c),
        Statement::Explain(ExplainTarget::Named("CTAS_COUNTS".into()))
    );
    let Statement::Explain(ExplainTarget::Plan(plan)) = one(
        "EXPLAIN CREATE TABLE v AS SELECT pageid, COUNT(*) AS n FROM page_views WHERE userid <> 'bot' GROUP BY pageid",
        &c,
    ) else {
        panic!()
    };
    let text = crate::explain::explain(&plan);
    for want in [
        "Source: page_views — stream, topic page_views",
        "Filter: (userid <> 'bot')",
        "Group by: pageid",
        "Aggregates: agg0 := COUNT(*)",
        "Project: pageid, n := agg0",
        "Output: v-changelog",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
}

#[test]
fn proctime_columns_and_functions() {
    let c = catalog();
    let clicks = c.source("clicks").unwrap();
    assert_eq!(clicks.proctime_column.as_deref(), Some("pt"));
    assert_eq!(clicks.columns[1].data_type, SqlType::Timestamp);
    let plan: ViewPlan = match one(
        "SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(pt), INTERVAL '1' SECOND)) GROUP BY window_start, window_end",
        &c,
    ) {
        Statement::Query(p) => p,
        other => panic!("{other:?}"),
    };
    assert!(plan.on_processing_time());
    assert!(
        !plan.merges_batch(),
        "processing time is served by the speed layer alone"
    );
    // NOW(), PROCTIME(), CURRENT_TIMESTAMP are one function.
    for f in ["NOW()", "PROCTIME()", "CURRENT_TIMESTAMP", "LOCALTIMESTAMP"] {
        let Statement::Query(p) = one(&format!("SELECT url, {f} AS t FROM clicks"), &c) else {
            panic!()
        };
        assert_eq!(
            p.output[1].1,
            crate::plan::Expr::Function {
                name: "now".into(),
                args: vec![]
            },
            "{f}"
        );
    }
    let (line, column, m) = sql_error(
        "CREATE STREAM s (a BIGINT,\n  b AS a + 1) WITH (kafka_topic='s')",
        &EmptyCatalog,
    );
    assert_eq!((line, column), (2, 8));
    assert!(m.contains("PROCTIME()"), "{m}");
}

#[test]
fn what_is_missing_says_what_to_use() {
    let c = catalog();
    for (sql, at, says) in [
        (
            "SELECT pageid, COUNT(*) FROM page_views\n  WINDOW SLIDING (SIZE 1 MINUTE) GROUP BY pageid",
            (2, 3),
            "WINDOW HOPPING",
        ),
        (
            "SELECT * FROM page_views AS p JOIN users FOR SYSTEM_TIME AS OF p.viewtime ON p.userid = users.id",
            (1, 42),
            "issue 19",
        ),
        (
            "SELECT * FROM page_views MATCH_RECOGNIZE (PARTITION BY userid)",
            (1, 26),
            "MATCH_RECOGNIZE",
        ),
        (
            "SELECT pageid, COUNT(*) OVER (PARTITION BY pageid ORDER BY viewtime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) FROM page_views",
            (1, 25),
            "HOP",
        ),
    ] {
        let (line, column, m) = sql_error(sql, &c);
        assert_eq!((line, column), at, "{sql}: {m}");
        assert!(m.contains(says), "{sql}: {m}");
    }
}

proptest! {
    /// Any positive LIMIT, written after EMIT CHANGES or before it, is the query's limit.
    #[test]
    fn limit_is_read_wherever_it_is_written(n in 1u64..u64::MAX, after in any::<bool>()) {
        let c = catalog();
        let sql = if after {
            format!("SELECT * FROM page_views EMIT CHANGES LIMIT {n}")
        } else {
            format!("SELECT * FROM page_views LIMIT {n} EMIT CHANGES")
        };
        let limit = match one(&sql, &c) {
            Statement::LimitedQuery { limit, .. } => limit,
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(limit, n);
    }
}
