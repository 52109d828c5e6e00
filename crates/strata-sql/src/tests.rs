#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use super::*;
use crate::plan::{
    AggregateDef, AggregateFunction, BinaryOp, ColumnDef, EmitMode, Expr, Literal, SourceDef,
    SourceKind, SqlType, Statement, ViewPlan, WindowSpec,
};
use proptest::prelude::*;

fn col(n: &str) -> Expr {
    Expr::Column(n.into())
}

fn one(sql: &str, catalog: &dyn Catalog) -> Statement {
    let mut v = parse(sql, catalog).unwrap_or_else(|e| panic!("{sql}\n→ {e}"));
    assert_eq!(v.len(), 1, "{sql}");
    v.remove(0)
}

fn view(sql: &str, catalog: &dyn Catalog) -> ViewPlan {
    match one(sql, catalog) {
        Statement::CreateView { plan, .. }
        | Statement::Query(plan)
        | Statement::LimitedQuery { plan, .. } => plan,
        // A pull query's plan as a push query runs it (what these tests check).
        Statement::PullQuery(q) => q.push,
        other => panic!("not a view: {other:?}"),
    }
}

fn err(sql: &str, catalog: &dyn Catalog) -> String {
    match parse(sql, catalog) {
        Ok(v) => panic!("{sql} parsed: {v:?}"),
        Err(e) => e.to_string(),
    }
}

const PAGE_VIEWS: &str =
    "CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
  WITH (kafka_topic='page_views', value_format='JSON');";

const ORDERS: &str = "CREATE TABLE orders (order_id STRING, product STRING, amount DOUBLE, order_time TIMESTAMP(3),
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'localhost:9092',
  'properties.group.id' = 'order_consumer', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');";

const USERS: &str = "CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, region VARCHAR)
  WITH (kafka_topic='users', value_format='JSON');";

fn catalog() -> HashMap<String, SourceDef> {
    let mut m = HashMap::new();
    for sql in [PAGE_VIEWS, ORDERS, USERS] {
        if let Statement::CreateSource { source, .. } = one(sql, &EmptyCatalog) {
            m.insert(source.name.clone(), source);
        }
    }
    m
}

#[test]
fn issue_statements_parse_as_written() {
    let text = format!(
        "{PAGE_VIEWS}
CREATE TABLE page_view_counts AS
  SELECT pageid, COUNT(*) AS view_count FROM page_views
  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY pageid EMIT CHANGES;

{ORDERS}
SELECT window_start, window_end, product, SUM(amount) as total_amount, COUNT(*) as order_count
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' HOURS))
GROUP BY window_start, window_end, product;"
    );
    let stmts = parse(&text, &EmptyCatalog).unwrap();
    assert_eq!(stmts.len(), 4);

    let Statement::CreateSource {
        source: pv,
        if_not_exists: false,
    } = &stmts[0]
    else {
        panic!()
    };
    assert_eq!(pv.name, "page_views");
    assert_eq!(pv.topic, "page_views");
    assert_eq!(pv.kind, SourceKind::Stream);
    assert_eq!(pv.timestamp_column, None);
    assert_eq!(
        pv.columns[0],
        ColumnDef {
            name: "viewtime".into(),
            data_type: SqlType::BigInt
        }
    );
    assert_eq!(pv.columns.len(), 3);

    let Statement::CreateView { plan, .. } = &stmts[1] else {
        panic!()
    };
    assert_eq!(plan.name, "page_view_counts");
    assert_eq!(plan.window, Some(WindowSpec::Tumbling { size_ms: 60_000 }));
    assert_eq!(plan.emit, EmitMode::Changes);
    assert_eq!(plan.group_by, vec![("pageid".to_string(), col("pageid"))]);
    assert_eq!(
        plan.aggregates,
        vec![AggregateDef {
            function: AggregateFunction::Count,
            arg: None,
            name: "agg0".into()
        }]
    );
    assert_eq!(
        plan.output,
        vec![
            ("pageid".to_string(), col("pageid")),
            ("window_start".to_string(), col("window_start")),
            ("window_end".to_string(), col("window_end")),
            ("view_count".to_string(), col("agg0")),
        ]
    );

    let Statement::CreateSource { source: orders, .. } = &stmts[2] else {
        panic!()
    };
    assert_eq!(orders.kind, SourceKind::Stream);
    assert_eq!(orders.topic, "orders");
    assert_eq!(orders.timestamp_column.as_deref(), Some("order_time"));
    assert_eq!(orders.watermark_delay_ms, Some(5_000));
    assert_eq!(orders.columns[3].data_type, SqlType::Timestamp);
    assert_eq!(orders.columns[0].data_type, SqlType::Varchar);
    assert!(orders.properties.contains(&(
        "properties.bootstrap.servers".into(),
        "localhost:9092".into()
    )));
    assert!(
        orders
            .properties
            .contains(&("scan.startup.mode".into(), "earliest-offset".into()))
    );

    let Statement::Query(q) = &stmts[3] else {
        panic!()
    };
    assert_eq!(q.window, Some(WindowSpec::Tumbling { size_ms: 3_600_000 }));
    assert_eq!(q.source.name, "orders");
    assert_eq!(q.source.timestamp_column.as_deref(), Some("order_time"));
    assert_eq!(q.group_by, vec![("product".to_string(), col("product"))]);
    assert_eq!(q.emit, EmitMode::Final);
    assert_eq!(
        q.aggregates,
        vec![
            AggregateDef {
                function: AggregateFunction::Sum,
                arg: Some(col("amount")),
                name: "agg0".into()
            },
            AggregateDef {
                function: AggregateFunction::Count,
                arg: None,
                name: "agg1".into()
            },
        ]
    );
    assert_eq!(
        q.output,
        vec![
            ("window_start".to_string(), col("window_start")),
            ("window_end".to_string(), col("window_end")),
            ("product".to_string(), col("product")),
            ("total_amount".to_string(), col("agg0")),
            ("order_count".to_string(), col("agg1")),
        ]
    );
}

#[test]
fn ksql_table_source_with_primary_key() {
    let Statement::CreateSource { source, .. } = one(USERS, &EmptyCatalog) else {
        panic!()
    };
    assert_eq!(source.kind, SourceKind::Table);
    assert_eq!(source.primary_key.as_deref(), Some("id"));
    let e = err(
        "CREATE TABLE t (id VARCHAR, n BIGINT) WITH (kafka_topic='t', value_format='JSON')",
        &EmptyCatalog,
    );
    assert!(e.contains("PRIMARY KEY"), "{e}");
    // Flink upsert-kafka with a table-level key.
    let Statement::CreateSource { source, .. } = one(
        "CREATE TABLE u (id STRING, name STRING, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector'='upsert-kafka', 'topic'='u', 'value.format'='json')",
        &EmptyCatalog,
    ) else {
        panic!()
    };
    assert_eq!(source.kind, SourceKind::Table);
    assert_eq!(source.primary_key.as_deref(), Some("id"));
}

#[test]
fn source_validation() {
    let e = err(
        "CREATE TABLE t (a INT) WITH ('connector'='filesystem', 'format'='json')",
        &EmptyCatalog,
    );
    assert!(e.contains("connector 'filesystem' is not supported"), "{e}");
    let e = err(
        "CREATE TABLE t (a INT) WITH ('connector'='kafka', 'topic'='t', 'format'='avro')",
        &EmptyCatalog,
    );
    assert!(e.contains("'json'"), "{e}");
    let e = err(
        "CREATE STREAM s (a INT) WITH (kafka_topic='s', value_format='AVRO')",
        &EmptyCatalog,
    );
    assert!(e.contains("JSON"), "{e}");
    let e = err(
        "CREATE STREAM s (a MAP<VARCHAR, INT>) WITH (kafka_topic='s', value_format='JSON')",
        &EmptyCatalog,
    );
    assert!(e.contains("line 1, column 20") && e.contains("MAP"), "{e}");
    let e = err("CREATE STREAM s (a INT, a INT)", &EmptyCatalog);
    assert!(e.contains("twice"), "{e}");
    // ksqlDB timestamp property.
    let Statement::CreateSource { source, .. } = one(
        "CREATE STREAM pv (viewtime BIGINT, pageid VARCHAR) WITH (kafka_topic='pv', value_format='json', timestamp='viewtime')",
        &EmptyCatalog,
    ) else {
        panic!()
    };
    assert_eq!(source.timestamp_column.as_deref(), Some("viewtime"));
    let e = err(
        "CREATE STREAM pv (v VARCHAR) WITH (kafka_topic='pv', value_format='json', timestamp='v')",
        &EmptyCatalog,
    );
    assert!(e.contains("BIGINT"), "{e}");
    // No WITH at all: the topic is named after the stream.
    let Statement::CreateSource {
        source,
        if_not_exists,
    } = one(
        "CREATE STREAM IF NOT EXISTS clicks (url VARCHAR)",
        &EmptyCatalog,
    )
    else {
        panic!()
    };
    assert!(if_not_exists);
    assert_eq!(source.topic, "clicks");
}

#[test]
fn ksql_windows_grace_and_emit() {
    let c = catalog();
    let p = view(
        "CREATE TABLE h AS SELECT userid, COUNT(*) FROM page_views WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS, GRACE PERIOD 2 MINUTES) GROUP BY userid EMIT FINAL",
        &c,
    );
    assert_eq!(
        p.window,
        Some(WindowSpec::Hopping {
            size_ms: 30_000,
            advance_ms: 10_000
        })
    );
    assert_eq!(p.grace_ms, 120_000);
    assert_eq!(p.emit, EmitMode::Final);
    assert_eq!(p.output[3].0, "count");
    let p = view(
        "CREATE TABLE s AS SELECT userid, COUNT(*) AS n, WINDOWSTART AS ws FROM page_views WINDOW SESSION (30 MINUTES) GROUP BY userid",
        &c,
    );
    assert_eq!(p.window, Some(WindowSpec::Session { gap_ms: 1_800_000 }));
    assert_eq!(
        p.output,
        vec![
            ("userid".into(), col("userid")),
            ("n".into(), col("agg0")),
            ("ws".into(), col("window_start"))
        ]
    );
    let p = view(
        "CREATE TABLE t AS SELECT pageid, COUNT(*) FROM page_views WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES) GROUP BY pageid",
        &c,
    );
    assert_eq!(p.grace_ms, 600_000);
    let e = err("SELECT userid FROM page_views EMIT FINAL", &c);
    assert!(e.contains("EMIT FINAL needs a windowed"), "{e}");
    let e = err(
        "SELECT userid, COUNT(*) FROM page_views WINDOW TUMBLING (ADVANCE BY 1 SECOND) GROUP BY userid",
        &c,
    );
    assert!(e.contains("SIZE"), "{e}");
}

#[test]
fn flink_hop_takes_slide_then_size_and_session() {
    let c = catalog();
    let p = view(
        "SELECT window_start, product, MAX(amount) FROM TABLE(HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)) GROUP BY window_start, window_end, product",
        &c,
    );
    assert_eq!(
        p.window,
        Some(WindowSpec::Hopping {
            size_ms: 600_000,
            advance_ms: 300_000
        })
    );
    let p = view(
        "SELECT window_start, window_end, product, SUM(amount) FROM TABLE(SESSION(TABLE orders PARTITION BY product, DESCRIPTOR(order_time), INTERVAL '10' MINUTES)) GROUP BY window_start, window_end, product",
        &c,
    );
    assert_eq!(p.window, Some(WindowSpec::Session { gap_ms: 600_000 }));
    let p = view(
        "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(DATA => TABLE orders, TIMECOL => DESCRIPTOR(order_time), SIZE => INTERVAL '10' MINUTES)) GROUP BY window_start, window_end",
        &c,
    );
    assert_eq!(p.window, Some(WindowSpec::Tumbling { size_ms: 600_000 }));
    assert!(p.group_by.is_empty());
    assert_eq!(p.output[0], ("window_start".into(), col("window_start")));
    // Legacy group window functions.
    let p = view(
        "SELECT product, TUMBLE_START(order_time, INTERVAL '1' MINUTE) AS ws, COUNT(*) FROM orders GROUP BY TUMBLE(order_time, INTERVAL '1' MINUTE), product",
        &c,
    );
    assert_eq!(p.window, Some(WindowSpec::Tumbling { size_ms: 60_000 }));
    assert_eq!(p.output[1], ("ws".into(), col("window_start")));
}

#[test]
fn output_expressions_over_the_output_scope() {
    let c = catalog();
    let p = view(
        "SELECT product, SUM(amount)/COUNT(*) AS avg_amt, COUNT(*) + 1 AS n1, UPPER(product) AS up FROM orders GROUP BY product HAVING COUNT(*) > 2",
        &c,
    );
    use BinaryOp::*;
    let b = |op, l, r| Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    };
    assert_eq!(
        p.output[1],
        ("avg_amt".into(), b(Divide, col("agg0"), col("agg1")))
    );
    assert_eq!(
        p.output[2],
        (
            "n1".into(),
            b(Plus, col("agg1"), Expr::Literal(Literal::Int(1)))
        )
    );
    assert_eq!(
        p.output[3],
        (
            "up".into(),
            Expr::Function {
                name: "upper".into(),
                args: vec![col("product")]
            }
        )
    );
    assert_eq!(
        p.having,
        Some(b(Gt, col("agg1"), Expr::Literal(Literal::Int(2))))
    );
    assert_eq!(p.aggregates.len(), 2);
    assert_eq!(p.window, None);
    // HAVING may name a SELECT alias.
    let p = view(
        "SELECT pageid, COUNT(*) AS views FROM page_views GROUP BY pageid HAVING views > 10",
        &c,
    );
    assert_eq!(
        p.having,
        Some(b(Gt, col("agg0"), Expr::Literal(Literal::Int(10))))
    );
    assert_eq!(p.aggregates.len(), 1);
    // Expression keys, named by their SELECT alias; GROUP BY position.
    let p = view(
        "SELECT UPPER(product) AS p, COUNT(DISTINCT order_id) FROM orders GROUP BY 1",
        &c,
    );
    assert_eq!(
        p.group_by,
        vec![(
            "p".into(),
            Expr::Function {
                name: "upper".into(),
                args: vec![col("product")]
            }
        )]
    );
    assert_eq!(p.output[0], ("p".into(), col("p")));
    assert_eq!(p.aggregates[0].function, AggregateFunction::CountDistinct);
    let e = err(
        "SELECT product, amount, COUNT(*) FROM orders GROUP BY product",
        &c,
    );
    assert!(e.contains("amount must appear in GROUP BY"), "{e}");
    let e = err(
        "SELECT product, SUM(product) FROM orders GROUP BY product",
        &c,
    );
    assert!(e.contains("SUM needs a number"), "{e}");
    let e = err("SELECT COUNT(*) FROM orders WHERE SUM(amount) > 1", &c);
    assert!(e.contains("not allowed in WHERE"), "{e}");
}

#[test]
fn all_aggregates() {
    let c = catalog();
    let p = view(
        "SELECT userid, COUNT(*), COUNT(pageid), COUNT(DISTINCT pageid), APPROX_COUNT_DISTINCT(pageid), SUM(viewtime), MIN(viewtime), MAX(viewtime), AVG(viewtime), EARLIEST_BY_OFFSET(pageid), LATEST_BY_OFFSET(pageid) FROM page_views GROUP BY userid",
        &c,
    );
    use AggregateFunction::*;
    let fs: Vec<_> = p.aggregates.iter().map(|a| a.function).collect();
    assert_eq!(
        fs,
        vec![
            Count,
            Count,
            CountDistinct,
            ApproxCountDistinct,
            Sum,
            Min,
            Max,
            Avg,
            Earliest,
            Latest
        ]
    );
    assert_eq!(p.aggregates[1].arg, Some(col("pageid")));
    assert_eq!(p.emit, EmitMode::Changes);
}

#[test]
fn stateless_views_filters_and_functions() {
    let c = catalog();
    let p = view(
        "CREATE STREAM big AS SELECT order_id, amount * 1.1 AS gross, CASE WHEN amount > 100 THEN 'big' ELSE 'small' END AS size, ROWTIME FROM orders WHERE product LIKE 'a%' AND amount BETWEEN 1 AND 1000 AND order_id IS NOT NULL AND product IN ('a', 'b') EMIT CHANGES",
        &c,
    );
    assert!(!p.is_aggregating());
    assert_eq!(p.output.len(), 4);
    assert_eq!(p.output[3], ("rowtime".into(), col("rowtime")));
    assert!(p.filter.is_some());
    let p = view("SELECT * FROM page_views WHERE userid = 'u1'", &c);
    assert_eq!(
        p.output.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(),
        vec!["viewtime", "userid", "pageid"]
    );
    let p = view(
        "SELECT CAST(viewtime AS DOUBLE) / 1000, COALESCE(userid, 'anon'), TRIM(pageid), SUBSTRING(pageid FROM 2 FOR 3), ABS(viewtime), ROUND(viewtime / 3.0, 2), CONCAT(userid, '-', pageid), userid || pageid FROM page_views WHERE pageid IS NULL OR TRUE",
        &c,
    );
    let _ = p;
}

#[test]
fn stream_table_join() {
    let c = catalog();
    let p = view(
        "CREATE STREAM enriched AS SELECT pv.pageid, u.name, region FROM page_views pv LEFT JOIN users u ON pv.userid = u.id WHERE u.region <> 'eu'",
        &c,
    );
    let j = p.join.as_ref().unwrap();
    assert!(j.left);
    assert_eq!(j.alias, "u");
    assert_eq!(j.stream_key, col("userid"));
    assert_eq!(j.table.name, "users");
    assert_eq!(
        p.output,
        vec![
            ("pageid".into(), col("pageid")),
            ("name".into(), col("u.name")),
            ("region".into(), col("u.region"))
        ]
    );
    assert_eq!(p.source_alias.as_deref(), Some("pv"));
    let p = view(
        "SELECT u.region, COUNT(*) AS views FROM page_views JOIN users u ON u.id = page_views.userid GROUP BY u.region",
        &c,
    );
    assert!(!p.join.as_ref().unwrap().left);
    assert_eq!(p.group_by, vec![("region".into(), col("u.region"))]);
    let e = err(
        "SELECT * FROM page_views pv JOIN users u ON pv.userid = u.name",
        &c,
    );
    assert!(e.contains("PRIMARY KEY"), "{e}");
    let e = err(
        "SELECT * FROM page_views pv JOIN orders o ON pv.userid = o.order_id",
        &c,
    );
    assert!(e.contains("stream–stream"), "{e}");
}

#[test]
fn other_statements() {
    let c = catalog();
    use crate::commands::ShowKind;
    assert_eq!(one("SHOW STREAMS", &c), Statement::Show(ShowKind::Streams));
    assert_eq!(one("show tables;", &c), Statement::Show(ShowKind::Tables));
    assert_eq!(one("LIST STREAMS", &c), Statement::Show(ShowKind::Streams));
    assert_eq!(one("SHOW QUERIES", &c), Statement::Show(ShowKind::Queries));
    assert_eq!(
        one("SHOW ALL TOPICS", &c),
        Statement::Show(ShowKind::Topics)
    );
    assert_eq!(one("SHOW VIEWS", &c), Statement::Show(ShowKind::Views));
    assert_eq!(
        one("DESCRIBE page_views", &c),
        Statement::Describe {
            name: "page_views".into(),
            extended: false
        }
    );
    assert_eq!(
        one("DESCRIBE EXTENDED Page_Views;", &c),
        Statement::Describe {
            name: "page_views".into(),
            extended: true
        }
    );
    assert_eq!(
        one("DROP TABLE IF EXISTS x", &c),
        Statement::Drop {
            name: "x".into(),
            if_exists: true,
            delete_topic: false
        }
    );
    assert_eq!(
        one("DROP STREAM s DELETE TOPIC", &c),
        Statement::Drop {
            name: "s".into(),
            if_exists: false,
            delete_topic: true
        }
    );
    assert_eq!(
        one("DROP VIEW v", &c),
        Statement::Drop {
            name: "v".into(),
            if_exists: false,
            delete_topic: false
        }
    );
    assert!(parse(" ; ;; -- nothing\n", &c).unwrap().is_empty());
    let v = view(
        "CREATE VIEW IF NOT EXISTS v AS SELECT pageid, COUNT(*) FROM page_views GROUP BY pageid",
        &c,
    );
    assert_eq!(v.name, "v");
}

#[test]
fn errors_name_line_column_and_what_to_do() {
    let c = catalog();
    let e = parse("SELECT pageid\nFROM page_views\nWHERE nope = 1", &c)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 3, column 7") && e.contains("unknown column nope"),
        "{e}"
    );
    let e = parse("SELECT pageid FROM page_views ORDER BY pageid", &c).unwrap_err();
    assert!(matches!(e, Error::Sql { line: 1, .. }), "{e}");
    assert!(e.to_string().contains("ORDER BY"));
    let e = parse("SELECT FROM WHERE", &c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Sql {
                line: 1,
                column: 8..,
                ..
            }
        ),
        "{e}"
    );
    let e = parse("SELECT x FROM nowhere", &c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unknown {
                kind: NameKind::Stream,
                ..
            }
        ),
        "{e}"
    );
    let e = parse("INSERT INTO page_views VALUES (1, 'a', 'b')", &c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("produce records"), "{e}");
    let e = parse(
        "SELECT pageid, ROW_NUMBER() OVER (PARTITION BY pageid) FROM page_views",
        &c,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("OVER"), "{e}");
    let e = parse(
        "SELECT pageid FROM page_views WINDOW TUMBLING (SIZE 1 MINUTE)",
        &c,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("needs an aggregation"), "{e}");
    let e = parse("SELECT pageid + 1 FROM page_views", &c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1, column 8") && e.contains("CAST"), "{e}");
    let e = parse("SELECT 'unterminated FROM page_views", &c).unwrap_err();
    assert!(matches!(e, Error::Sql { line: 1, .. }), "{e}");
    let e = parse(
        "SELECT pageid, COUNT(*) FROM page_views WINDOW TUMBLING (SIZE 1 MONTH) GROUP BY pageid",
        &c,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("MONTH"), "{e}");
}

fn fragments() -> Vec<&'static str> {
    vec![
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "BY",
        "WINDOW",
        "TUMBLING",
        "HOPPING",
        "SESSION",
        "(",
        ")",
        ",",
        ";",
        "SIZE",
        "1",
        "MINUTE",
        "ADVANCE",
        "GRACE",
        "PERIOD",
        "EMIT",
        "CHANGES",
        "FINAL",
        "TABLE",
        "TUMBLE",
        "HOP",
        "DESCRIPTOR",
        "INTERVAL",
        "'5'",
        "SECOND",
        "CREATE",
        "STREAM",
        "WITH",
        "kafka_topic",
        "=",
        "'x'",
        "AS",
        "page_views",
        "orders",
        "users",
        "pageid",
        "amount",
        "COUNT",
        "*",
        "SUM",
        "JOIN",
        "LEFT",
        "ON",
        "u.id",
        "WATERMARK",
        "FOR",
        "PRIMARY",
        "KEY",
        "BIGINT",
        "VARCHAR",
        "-",
        "+",
        "/",
        "CASE",
        "WHEN",
        "THEN",
        "END",
        "HAVING",
        "DROP",
        "SHOW",
        "DESCRIBE",
        "=>",
        "DATA",
        "NULL",
        "'",
        "\"",
        "`",
        "\n",
        "--",
        "/*",
        "1e999",
        "99999999999999999999",
        "window_start",
        "DISTINCT",
        "IN",
        "BETWEEN",
        "AND",
        "OR",
        "NOT",
        "LIKE",
        "CAST",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(s in "\\PC{0,120}") {
        let _ = parse(&s, &catalog());
    }

    #[test]
    fn garbled_sql_never_panics(picks in proptest::collection::vec(0usize..1000, 0..40)) {
        let f = fragments();
        let text: Vec<&str> = picks.iter().map(|i| f[i % f.len()]).collect();
        let _ = parse(&text.join(" "), &catalog());
    }

    #[test]
    fn mutated_valid_sql_never_panics(cut in 0usize..400, del in 0usize..20, ins in 0usize..1000) {
        let base = "CREATE TABLE c AS SELECT pv.pageid, u.name, COUNT(*) AS n, SUM(viewtime)/COUNT(*) AS a FROM page_views pv LEFT JOIN users u ON pv.userid = u.id WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 10 SECONDS, GRACE PERIOD 5 SECONDS) WHERE pv.pageid LIKE 'x%' GROUP BY pv.pageid, u.name HAVING COUNT(*) > 1 EMIT FINAL; SELECT window_start, product, SUM(amount) FROM TABLE(HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '5' MINUTES, INTERVAL '10' MINUTES)) GROUP BY window_start, window_end, product";
        let f = fragments();
        let mut chars: Vec<char> = base.chars().collect();
        let at = cut.min(chars.len());
        let end = (at + del).min(chars.len());
        chars.drain(at..end);
        let s: String = chars.iter().collect();
        let (a, b) = s.split_at(s.char_indices().nth(at).map_or(s.len(), |(i, _)| i));
        let text = format!("{a} {} {b}", f[ins % f.len()]);
        let _ = parse(&text, &catalog());
    }
}

#[test]
fn documented_forms_plan() {
    let c = catalog();
    let p = view(
        "CREATE OR REPLACE TABLE v WITH (kafka_topic='v_out') AS SELECT product AS prod, COUNT(*) FROM orders
         WINDOW TUMBLING (SIZE 10 SECONDS) GRACE PERIOD 1 SECOND GROUP BY prod",
        &c,
    );
    assert_eq!(p.grace_ms, 1_000);
    assert_eq!(p.group_by, vec![("prod".into(), col("product"))]);
    assert_eq!(p.emit, EmitMode::Changes);
    // Backtick identifiers and a window over rowtime.
    let p = view(
        "SELECT `product`, COUNT(*) FROM TABLE(TUMBLE(TABLE `orders`, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE)) GROUP BY `product`",
        &c,
    );
    assert_eq!(p.source.timestamp_column, None);
    // Streaming keywords are still usable as column names.
    let mut c2 = c.clone();
    if let Statement::CreateSource { source, .. } = one(
        "CREATE STREAM k (emit BIGINT, size BIGINT, grace VARCHAR)",
        &EmptyCatalog,
    ) {
        c2.insert(source.name.clone(), source);
    }
    let p = view(
        "SELECT emit, size, grace FROM k WHERE emit > size EMIT CHANGES",
        &c2,
    );
    assert_eq!(p.output.len(), 3);
}

#[test]
fn selecting_from_a_table_keeps_the_latest_row_per_record_key() {
    let p = view(
        "CREATE TABLE v AS SELECT id, UPPER(name) AS n FROM users WHERE region = 'eu'",
        &catalog(),
    );
    assert!(p.reads_table());
    assert_eq!(p.group_by, vec![("_key".to_string(), col("_key"))]);
    assert_eq!(p.aggregates.len(), 2);
    assert!(
        p.aggregates
            .iter()
            .all(|a| a.function == AggregateFunction::Latest)
    );
    assert_eq!(p.aggregates[0].arg, Some(col("id")));
    assert!(
        matches!(&p.aggregates[1].arg, Some(Expr::Function { name, .. }) if name == "upper"),
        "{:?}",
        p.aggregates[1]
    );
    assert_eq!(
        p.output,
        vec![
            ("id".to_string(), col("agg0")),
            ("n".to_string(), col("agg1"))
        ]
    );
    // WHERE applies to the rows (the latest value of each key), before grouping.
    assert!(p.filter.is_some() && p.having.is_none());
    assert_eq!(p.emit, EmitMode::Changes);
    assert_eq!(p.serving, crate::plan::ServingMode::Kappa);
    assert!(!p.merges_batch());
}

#[test]
fn aggregating_a_table_is_a_running_aggregate_served_by_the_speed_layer() {
    let p = view(
        "CREATE TABLE by_region AS SELECT region, COUNT(*) AS n, SUM(LENGTH(name)) AS s, AVG(LENGTH(name)) AS a, COUNT(name) AS c FROM users GROUP BY region",
        &catalog(),
    );
    assert_eq!(p.group_by, vec![("region".to_string(), col("region"))]);
    let functions: Vec<AggregateFunction> = p.aggregates.iter().map(|a| a.function).collect();
    assert_eq!(
        functions,
        [
            AggregateFunction::Count,
            AggregateFunction::Sum,
            AggregateFunction::Avg,
            AggregateFunction::Count
        ]
    );
    assert!(p.window.is_none() && !p.merges_batch());
    // A view declared Kappa explicitly is fine; Lambda is not.
    view(
        "CREATE TABLE k WITH (serving='kappa') AS SELECT region, COUNT(*) FROM users GROUP BY region",
        &catalog(),
    );
}

#[test]
fn what_cannot_aggregate_a_table_is_an_error_naming_the_place_and_the_function() {
    let cat = catalog();
    for (sql, at, needle) in [
        (
            "SELECT region,\n  MIN(name) FROM users GROUP BY region",
            "line 2, column 3",
            "MIN cannot aggregate a table",
        ),
        (
            "SELECT region, APPROX_COUNT_DISTINCT(name) FROM users GROUP BY region",
            "line 1",
            "APPROX_COUNT_DISTINCT cannot aggregate a table",
        ),
        (
            "SELECT region, EARLIEST_BY_OFFSET(name) FROM users GROUP BY region",
            "line 1",
            "EARLIEST_BY_OFFSET cannot aggregate a table",
        ),
        (
            "SELECT region, COUNT(*) FROM users\nWINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region",
            "line 2",
            "a window over table users",
        ),
        (
            "SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE users, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end",
            "line 1",
            "a window over table users",
        ),
        (
            "SELECT region, COUNT(*) FROM users GROUP BY TUMBLE(rowtime, INTERVAL '1' MINUTE), region",
            "line 1",
            "a window over table users",
        ),
        (
            "SELECT u.id FROM users u JOIN users w ON u.id = w.id",
            "line 1",
            "as the driving input",
        ),
    ] {
        let e = err(sql, &cat);
        assert!(e.contains(at) && e.contains(needle), "{sql}: {e}");
    }
}

const TOP_ROWS: &str = "CREATE TABLE top_orders AS
SELECT order_id, amount, window_start, rk FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY amount DESC) AS rk
  FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE))
  WHERE amount > 0
) WHERE rk <= 3";

const TOP_GROUPS: &str = "CREATE TABLE hot_products AS
SELECT product, n, window_start, window_end FROM (
  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rownum
  FROM (
    SELECT product, COUNT(*) AS n, window_start, window_end
    FROM TABLE(HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '10' SECOND, INTERVAL '1' MINUTE))
    GROUP BY product, window_start, window_end
  )
) WHERE rownum = 1";

#[test]
fn a_window_top_n_statement_plans_as_a_ranked_view_served_kappa() {
    use crate::plan::{RankKind, ServingMode};
    let c = catalog();
    let plan = view(TOP_ROWS, &c);
    assert_eq!(plan.name, "top_orders");
    let rank = plan.rank.clone().expect("a ranked view");
    assert_eq!(rank.window, WindowSpec::Tumbling { size_ms: 60_000 });
    assert_eq!(rank.kind, RankKind::RowNumber);
    assert_eq!((rank.order_by.as_str(), rank.descending), ("amount", true));
    assert_eq!(rank.limit, 3);
    assert_eq!(rank.rank_column, "rk");
    assert_eq!(rank.output, ["order_id", "amount", "window_start", "rk"]);
    // The ranked rows: the stream's rows that pass WHERE, the rows' windows assigned later.
    assert!(!plan.is_aggregating());
    assert!(plan.filter.is_some());
    assert_eq!(plan.emit, EmitMode::Final);
    assert_eq!(plan.serving, ServingMode::Kappa);
    assert!(plan.is_ranked() && !plan.merges_batch());

    let plan = view(TOP_GROUPS, &c);
    let rank = plan.rank.clone().expect("a ranked view");
    assert_eq!((rank.kind, rank.limit), (RankKind::Rank, 1));
    assert_eq!(
        plan.window,
        Some(WindowSpec::Hopping {
            size_ms: 60_000,
            advance_ms: 10_000
        })
    );
    assert_eq!(plan.window, Some(rank.window));
    assert!(plan.is_aggregating() && !plan.merges_batch());

    // A bare SELECT of the same shape is a continuous query.
    let query = TOP_ROWS.replace("CREATE TABLE top_orders AS\n", "");
    match one(&query, &c) {
        Statement::Query(plan) => assert!(plan.is_ranked()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_ranked_plan_round_trips_through_the_catalog_and_old_plans_still_load() {
    let c = catalog();
    for sql in [TOP_ROWS, TOP_GROUPS] {
        let plan = view(sql, &c);
        let text = serde_json::to_string_pretty(&plan).unwrap();
        let back: ViewPlan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, plan);
    }
    // A plan written before views could rank has no `rank` field: it loads as unranked.
    let plan = view(
        "CREATE TABLE n AS SELECT pageid, COUNT(*) AS c FROM page_views GROUP BY pageid",
        &c,
    );
    let mut json: serde_json::Value = serde_json::to_value(&plan).unwrap();
    json.as_object_mut().unwrap().remove("rank");
    let old: ViewPlan = serde_json::from_value(json).unwrap();
    assert_eq!(old, plan);
    assert!(old.rank.is_none());
}

#[test]
fn top_n_shapes_that_do_not_fit_are_errors_with_their_place() {
    let c = catalog();
    let e = err(
        &TOP_ROWS.replace(
            "PARTITION BY window_start, window_end",
            "PARTITION BY product",
        ),
        &c,
    );
    assert!(
        e.contains("line 3, column") && e.contains("PARTITION BY window_start, window_end"),
        "{e}"
    );
    let e = err(&TOP_ROWS.replace("ROW_NUMBER()", "DENSE_RANK()"), &c);
    assert!(
        e.contains("line 3") && e.contains("use RANK() or ROW_NUMBER()"),
        "{e}"
    );
    let e = err(&TOP_ROWS.replace("rk <= 3", "rk > 3"), &c);
    assert!(
        e.contains("line 6, column 12") && e.contains("rownum <= N"),
        "{e}"
    );
    let e = err(&TOP_ROWS.replace("rk <= 3", "rk <= 0"), &c);
    assert!(e.contains("keeps no rank"), "{e}");
    let e = err(
        &TOP_ROWS.replace(
            "TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE)",
            "SESSION(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE)",
        ),
        &c,
    );
    assert!(e.contains("TUMBLE or HOP"), "{e}");
    let e = err(
        &TOP_GROUPS.replace(
            "HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '10' SECOND, INTERVAL '1' MINUTE)",
            "SESSION(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE)",
        ),
        &c,
    );
    assert!(e.contains("line 3") && e.contains("not SESSION"), "{e}");
    let e = err(&format!("{TOP_ROWS} WITH (serving='lambda')"), &c);
    assert!(e.contains("unexpected text"), "{e}");
    let e = err(
        &TOP_ROWS.replace(
            "CREATE TABLE top_orders AS",
            "CREATE TABLE top_orders WITH (serving='lambda') AS",
        ),
        &c,
    );
    assert!(
        e.contains("line 1, column 25") && e.contains("cannot serve a window Top-N"),
        "{e}"
    );
    // OVER without the subquery shape: the ordinary front end says what to write.
    let e = err(
        "SELECT pageid, RANK() OVER (PARTITION BY pageid ORDER BY viewtime) AS r FROM page_views",
        &c,
    );
    assert!(
        e.contains("window Top-N") && e.contains("line 1, column 16"),
        "{e}"
    );
}

#[test]
fn aggregate_filter_is_a_case_on_the_argument() {
    let cat = catalog();
    let p = view(
        "SELECT pageid,
           COUNT(*) FILTER (WHERE viewtime > 10) AS a,
           COUNT(userid) FILTER (WHERE viewtime > 10) AS b,
           COUNT(DISTINCT userid) FILTER (WHERE viewtime > 10) AS c,
           SUM(viewtime) FILTER (WHERE userid = 'u1') AS d,
           MAX(viewtime) FILTER (WHERE userid = 'u1') AS e,
           COUNT(*) FILTER (WHERE viewtime > 10) AS a2,
           COUNT(*) AS total
         FROM page_views GROUP BY pageid",
        &cat,
    );
    let when = |cond: Expr, then: Expr| Expr::Case {
        operand: None,
        branches: vec![(cond, then)],
        otherwise: None,
    };
    let late = Expr::Binary {
        op: BinaryOp::Gt,
        left: Box::new(col("viewtime")),
        right: Box::new(Expr::Literal(Literal::Int(10))),
    };
    let u1 = Expr::Binary {
        op: BinaryOp::Eq,
        left: Box::new(col("userid")),
        right: Box::new(Expr::Literal(Literal::String("u1".into()))),
    };
    let shapes: Vec<(AggregateFunction, Option<Expr>)> = p
        .aggregates
        .iter()
        .map(|a| (a.function, a.arg.clone()))
        .collect();
    assert_eq!(
        shapes,
        vec![
            (
                AggregateFunction::Count,
                Some(when(late.clone(), Expr::Literal(Literal::Int(1))))
            ),
            (
                AggregateFunction::Count,
                Some(when(late.clone(), col("userid")))
            ),
            (
                AggregateFunction::CountDistinct,
                Some(when(late.clone(), col("userid")))
            ),
            (
                AggregateFunction::Sum,
                Some(when(u1.clone(), col("viewtime")))
            ),
            (AggregateFunction::Max, Some(when(u1, col("viewtime")))),
            // The repeated COUNT(*) FILTER is the same aggregate; the plain COUNT(*) is not.
            (AggregateFunction::Count, None),
        ]
    );
    let names: Vec<&str> = p.output.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["pageid", "a", "b", "c", "d", "e", "a2", "total"]);
    // Over a table, FILTER on the aggregates that retract plans too.
    let t = view(
        "SELECT region, COUNT(*) FILTER (WHERE name LIKE 'a%') AS a, COUNT(*) AS n FROM users GROUP BY region",
        &cat,
    );
    assert_eq!(t.aggregates.len(), 2);
}

#[test]
fn aggregate_filter_errors_name_the_place() {
    let cat = catalog();
    for (sql, at, needle) in [
        (
            "SELECT pageid,\n  UPPER(pageid) FILTER (WHERE viewtime > 1) FROM page_views",
            "line 2, column 3",
            "FILTER (WHERE …) applies to aggregates",
        ),
        (
            "SELECT pageid, COUNT(*) FILTER (WHERE viewtime) FROM page_views GROUP BY pageid",
            "line 1",
            "needs a condition (BOOLEAN), got BIGINT",
        ),
        (
            "SELECT pageid, COUNT(*) FILTER (WHERE COUNT(*) > 1) FROM page_views GROUP BY pageid",
            "line 1",
            "not allowed in FILTER (WHERE …)",
        ),
        (
            "SELECT pageid, LATEST_BY_OFFSET(userid) FILTER (WHERE viewtime > 1) FROM page_views GROUP BY pageid",
            "line 1, column 16",
            "LATEST_BY_OFFSET(…) FILTER (WHERE …) is not supported",
        ),
        (
            "SELECT pageid, COUNT(*) FILTER (WHERE nope > 1) FROM page_views GROUP BY pageid",
            "line 1",
            "nope",
        ),
        (
            "SELECT region, MIN(name) FILTER (WHERE id > 'a') FROM users GROUP BY region",
            "line 1",
            "MIN cannot aggregate a table",
        ),
    ] {
        let e = err(sql, &cat);
        assert!(e.contains(at) && e.contains(needle), "{sql}: {e}");
    }
}

#[test]
fn date_format_plans_as_a_group_key_and_checks_its_pattern() {
    let cat = catalog();
    let p = view(
        "SELECT DATE_FORMAT(order_time, 'yyyy-MM-dd') AS day, MAX(DATE_FORMAT(order_time, 'HH:mm')) AS minute,
           COUNT(*) AS n FROM orders GROUP BY DATE_FORMAT(order_time, 'yyyy-MM-dd')",
        &cat,
    );
    assert_eq!(p.group_by.len(), 1);
    assert_eq!(p.aggregates[0].function, AggregateFunction::Max);
    for (sql, needle) in [
        (
            "SELECT DATE_FORMAT(order_time, 'yyyy-MM-dd SSS') FROM orders",
            "\"SSS\" in pattern",
        ),
        (
            "SELECT DATE_FORMAT(order_time, product) FROM orders",
            "must be a constant string",
        ),
        (
            "SELECT DATE_FORMAT(amount, 'yyyy') FROM orders",
            "argument 1 of DATE_FORMAT() must be TIMESTAMP",
        ),
        (
            "SELECT DATE_FORMAT(order_time) FROM orders",
            "takes 2 argument(s)",
        ),
    ] {
        let e = err(sql, &cat);
        assert!(e.contains(needle), "{sql}: {e}");
    }
}
