//! ksqlDB's statements end to end through the real binary: pull queries that answer once and
//! end, push queries that end after `LIMIT n` rows, `SET 'auto.offset.reset'`, `PRINT`,
//! `SHOW` by kind, `DESCRIBE EXTENDED`, `EXPLAIN`, `TERMINATE` (of a view's query and of a
//! push query), `DROP … DELETE TOPIC`, a processing-time window that counts every row and
//! never reports one late, and the 400s (with line and column) for what is wrong or missing.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

const SCHEMA: &str = "
CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
  WITH (kafka_topic='page_views', value_format='JSON', partitions=2);
CREATE TABLE page_view_counts AS
  SELECT pageid, COUNT(*) AS view_count FROM page_views GROUP BY pageid EMIT CHANGES;
CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, region VARCHAR)
  WITH (kafka_topic='users', value_format='JSON');";

/// Produces page views `from..to` (page `p<i % 3>`), keyed by user.
async fn produce_views(c: &Client, from: u64, to: u64) {
    let body: Vec<Value> = (from..to)
        .map(|i| {
            json!({"key": format!("u{}", i % 5),
                   "value": {"viewtime": i, "userid": format!("u{}", i % 5), "pageid": format!("p{}", i % 3)}})
        })
        .collect();
    let r = produce_raw(c, "page_views", Value::Array(body).to_string()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// The outcomes of a JSON answer.
fn outcomes(r: &strata_server::client::Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    parse(r)["outcomes"].as_array().expect("outcomes").clone()
}

/// Runs SQL whose answer must end within 30 s (a pull query, SHOW, …).
async fn sql_ends(c: &Client, text: &str) -> strata_server::client::Reply {
    tokio::time::timeout(Duration::from_secs(30), sql(c, text))
        .await
        .unwrap_or_else(|_| panic!("{text}: the answer did not end"))
}

/// A streaming SQL request's headers and body.
async fn stream(c: &Client, text: &str) -> (hyper::HeaderMap, hyper::body::Incoming) {
    let r = c
        .send(
            Method::POST,
            "/v1/sql",
            Some((Bytes::from(text.to_owned()), "text/plain")),
        )
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "{text}");
    let (parts, body) = r.into_parts();
    (parts.headers, body)
}

/// The SQL error of a 400: its message, which must hold `line L, column C`.
fn error_at(r: &strata_server::client::Reply, line: u64, column: u64) -> String {
    let m = expect_error(r, 400);
    let v = parse(r);
    assert_eq!(
        (v["error"]["line"].as_u64(), v["error"]["column"].as_u64()),
        (Some(line), Some(column)),
        "{v}"
    );
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_queries_answer_once_and_push_queries_end_after_limit() {
    let node = Node::start(&[]);
    let c = node.client();
    outcomes(&sql(&c, SCHEMA).await);
    produce_views(&c, 0, 30).await;
    caught_up(&c, "page_view_counts", 30).await;

    // A pull query on a view: its current rows, filtered, and the response ends.
    let o = outcomes(&sql_ends(&c, "SELECT * FROM page_view_counts WHERE pageid = 'p1';").await);
    assert_eq!(o[0]["kind"], "rows");
    assert_eq!(o[0]["rows"], json!([{"pageid": "p1", "view_count": 10}]));
    assert_eq!(o[0]["count"], 1);
    // Without WHERE, with other predicates, with LIMIT.
    let o = outcomes(&sql_ends(&c, "SELECT pageid FROM page_view_counts;").await);
    let mut pages: Vec<&str> = o[0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["pageid"].as_str().expect("pageid"))
        .collect();
    pages.sort_unstable();
    assert_eq!(pages, ["p0", "p1", "p2"]);
    let o = outcomes(
        &sql_ends(
            &c,
            "SELECT pageid, view_count * 2 AS twice FROM page_view_counts WHERE view_count >= 10 AND pageid <> 'p0' LIMIT 1;",
        )
        .await,
    );
    assert_eq!(o[0]["count"], 1);
    assert_eq!(o[0]["rows"][0]["twice"], 20);

    // A pull query on a table source: its rows now (upserts and deletions applied).
    let users = json!([
        {"key": "a", "value": {"id": "a", "name": "Ann", "region": "eu"}},
        {"key": "b", "value": {"id": "b", "name": "Bob", "region": "eu"}},
        {"key": "a", "value": {"id": "a", "name": "Ann", "region": "us"}},
        {"key": "c", "value": {"id": "c", "name": "Cy", "region": "eu"}},
        {"key": "c", "value": null},
    ]);
    assert_eq!(
        produce_raw(&c, "users", users.to_string()).await.status,
        200
    );
    let o = outcomes(&sql_ends(&c, "SELECT id, name FROM users WHERE region = 'eu';").await);
    assert_eq!(o[0]["rows"], json!([{"id": "b", "name": "Bob"}]));

    // EMIT CHANGES makes a push query; LIMIT ends it after n rows.
    let (headers, mut body) =
        stream(&c, "SELECT * FROM page_view_counts EMIT CHANGES LIMIT 2;").await;
    assert!(headers.contains_key("strata-query"));
    let rows = read_lines(&mut body, 5, Duration::from_secs(30)).await;
    assert_eq!(
        rows.len(),
        2,
        "the response ends after LIMIT rows: {rows:?}"
    );
    let (_, mut body) = stream(&c, "SELECT pageid FROM page_views EMIT CHANGES LIMIT 4;").await;
    assert_eq!(
        read_lines(&mut body, 10, Duration::from_secs(30))
            .await
            .len(),
        4
    );

    // A pull query on a stream (ksqlDB ≥ 0.23): its records so far, filtered, then the end.
    let o = outcomes(
        &sql_ends(
            &c,
            "SELECT viewtime, pageid FROM page_views WHERE pageid = 'p2';",
        )
        .await,
    );
    let mut times: Vec<u64> = o[0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            assert_eq!(r["pageid"], "p2");
            r["viewtime"].as_u64().expect("viewtime")
        })
        .collect();
    times.sort_unstable();
    let expected: Vec<u64> = (0..30).filter(|i| i % 3 == 2).collect();
    assert_eq!(times, expected, "every p2 view produced so far, once");
    let o = outcomes(&sql_ends(&c, "SELECT pageid FROM page_views LIMIT 4;").await);
    assert_eq!(o[0]["count"], 4, "LIMIT caps a stream's pull query");

    // SET 'auto.offset.reset' = 'latest': the push query after it sees only new records.
    let (headers, mut body) = stream(
        &c,
        "SET 'auto.offset.reset' = 'latest';\nSELECT viewtime, pageid FROM page_views EMIT CHANGES;",
    )
    .await;
    let earlier: Value =
        serde_json::from_str(headers["strata-outcomes"].to_str().expect("ascii")).expect("json");
    assert_eq!(earlier[0]["kind"], "property_set");
    // The query starts at the end of each partition once its view runs: produce until a row
    // arrives, and every row is a new one.
    let mut next = 1000;
    let first = loop {
        produce_views(&c, next, next + 1).await;
        next += 1;
        let got = tokio::time::timeout(
            Duration::from_millis(500),
            read_lines(&mut body, 1, Duration::from_secs(60)),
        )
        .await;
        if let Ok(rows) = got {
            break rows;
        }
        assert!(next < 1100, "the push query never saw a new record");
    };
    assert!(
        first[0]["viewtime"].as_u64().expect("viewtime") >= 1000,
        "{first:?}"
    );
    drop(body);

    // What is wrong or missing: 400s with the line and column.
    let m = error_at(
        &sql(&c, "SHOW TABLES;\nSET 'auto.offset.resets' = 'earliest';").await,
        2,
        5,
    );
    assert!(
        m.contains("unknown property") && m.contains("auto.offset.reset"),
        "{m}"
    );
    let m = error_at(
        &sql(&c, "SELECT pageid, COUNT(*) FROM page_views\n  WINDOW SLIDING (SIZE 1 MINUTE) GROUP BY pageid;").await,
        2,
        3,
    );
    assert!(m.contains("WINDOW HOPPING"), "{m}");
    let m = error_at(&sql(&c, "TERMINATE CTAS_NOPE;").await, 1, 11);
    assert!(
        m.contains("SHOW QUERIES") && m.contains("CTAS_PAGE_VIEW_COUNTS"),
        "{m}"
    );
    let m = expect_error(&sql(&c, "SELECT rowtime FROM page_view_counts;").await, 400);
    assert!(m.contains("view_count"), "{m}");
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn print_show_describe_explain_terminate_and_drop() {
    let node = Node::start(&[]);
    let c = node.client();
    outcomes(&sql(&c, SCHEMA).await);
    produce_views(&c, 0, 30).await;
    caught_up(&c, "page_view_counts", 30).await;

    // PRINT … FROM BEGINNING LIMIT n: n raw records, and the response ends.
    let (_, mut body) = stream(&c, "PRINT 'page_views' FROM BEGINNING LIMIT 3;").await;
    let records = read_lines(&mut body, 10, Duration::from_secs(30)).await;
    assert_eq!(records.len(), 3, "{records:?}");
    for r in &records {
        for field in ["partition", "offset", "timestamp", "key", "value"] {
            assert!(r.get(field).is_some(), "{field} missing in {r}");
        }
        assert!(r["value"]["pageid"].is_string(), "{r}");
    }
    let out = ok(&node.cli(&["sql", "PRINT page_views FROM BEGINNING INTERVAL 10 LIMIT 2"]));
    assert_eq!(out.lines().count(), 2, "{out}");

    // SHOW, filtered by kind.
    let o = outcomes(&sql(&c, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES; SHOW TOPICS;").await);
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("list")
            .iter()
            .map(|s| {
                s["name"]
                    .as_str()
                    .map_or_else(|| s.to_string(), str::to_owned)
            })
            .collect()
    };
    assert_eq!(names(&o[0]["sources"]), ["page_views"]);
    assert_eq!(o[0]["views"], json!([]));
    assert_eq!(names(&o[1]["sources"]), ["users"]);
    assert_eq!(o[1]["views"], json!(["page_view_counts"]));
    assert_eq!(o[2]["queries"][0]["id"], "CTAS_PAGE_VIEW_COUNTS");
    assert_eq!(o[2]["queries"][0]["status"], "running");
    let topics = names(&o[3]["topics"]);
    assert!(
        topics.contains(&"page_view_counts-changelog".to_owned()),
        "{topics:?}"
    );
    let out = ok(&node.cli(&["sql", "SHOW QUERIES"]));
    assert!(
        out.contains("CTAS_PAGE_VIEW_COUNTS") && out.contains("running"),
        "{out}"
    );

    // DESCRIBE [EXTENDED].
    let o = outcomes(
        &sql(
            &c,
            "DESCRIBE EXTENDED page_views; DESCRIBE page_view_counts;",
        )
        .await,
    );
    assert_eq!(o[0]["statistics"]["topic"]["records"], 30);
    assert_eq!(o[0]["statistics"]["topic"]["partitions"], 2);
    assert_eq!(
        o[0]["statistics"]["read_by"],
        json!(["CTAS_PAGE_VIEW_COUNTS"])
    );
    assert_eq!(o[1]["output"]["kind"], "table");
    assert_eq!(o[1]["output"]["topic"], "page_view_counts-changelog");
    assert_eq!(o[1]["query_id"], "CTAS_PAGE_VIEW_COUNTS");
    assert!(o[1].get("statistics").is_none());

    // EXPLAIN a running query, and a query that is not running.
    let o = outcomes(
        &sql(
            &c,
            "EXPLAIN CTAS_PAGE_VIEW_COUNTS; EXPLAIN SELECT userid FROM page_views WHERE pageid = 'p1';",
        )
        .await,
    );
    let text = o[0]["text"].as_str().expect("text");
    assert!(
        text.contains("Group by: pageid") && text.contains("COUNT(*)"),
        "{text}"
    );
    let text = o[1]["text"].as_str().expect("text");
    assert!(text.contains("Filter: (pageid = 'p1')"), "{text}");

    // TERMINATE a push query from another request: its response ends.
    let (headers, mut body) = stream(&c, "SELECT * FROM page_views EMIT CHANGES;").await;
    let id = headers["strata-query"].to_str().expect("id").to_owned();
    read_lines(&mut body, 1, Duration::from_secs(30)).await;
    let o = outcomes(&sql(&c, &format!("TERMINATE {id};")).await);
    assert_eq!(o[0]["queries"], json!([id]));
    let rest = read_lines(&mut body, 1000, Duration::from_secs(30)).await;
    assert!(rest.len() < 1000, "the terminated query's response ended");

    // TERMINATE a view's query: it stops (new records do not count), the view stays until
    // dropped, and it says why it is not running.
    let o = outcomes(&sql(&c, "TERMINATE CTAS_PAGE_VIEW_COUNTS;").await);
    assert_eq!(o[0]["queries"], json!(["CTAS_PAGE_VIEW_COUNTS"]));
    produce_views(&c, 30, 40).await;
    let (status, v) = get(&c, "/v1/views/page_view_counts").await;
    assert_eq!(status, 503, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("TERMINATE"),
        "{v}"
    );
    let o = outcomes(&sql(&c, "SHOW QUERIES;").await);
    assert_eq!(o[0]["queries"], json!([]));

    // DROP … DELETE TOPIC removes the source's topic; without it the topic stays.
    outcomes(
        &sql(
            &c,
            "DROP TABLE page_view_counts; DROP STREAM page_views DELETE TOPIC; DROP TABLE users;",
        )
        .await,
    );
    let (status, _) = get(&c, "/v1/topics/page_views").await;
    assert_eq!(status, 404, "DELETE TOPIC deleted page_views");
    let (status, _) = get(&c, "/v1/topics/users").await;
    assert_eq!(status, 200, "users' topic stays");
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_processing_time_window_counts_every_row_and_none_is_late() {
    let node = Node::start(&[]);
    let c = node.client();
    outcomes(
        &sql(
            &c,
            "CREATE TABLE clicks (url STRING, pt AS PROCTIME()) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
CREATE TABLE clicks_per_second AS
  SELECT window_start, window_end, COUNT(*) AS n
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(pt), INTERVAL '1' SECOND))
  GROUP BY window_start, window_end;",
        )
        .await,
    );
    let o = outcomes(&sql(&c, "DESCRIBE clicks;").await);
    assert_eq!(o[0]["source"]["proctime_column"], "pt");
    // Records whose own timestamps go far back and forth: on event time most would be late;
    // on processing time none is, and every one is counted once its window closes.
    let mut rng = Rng(3);
    let mut produced = 0u64;
    let started = strata_now();
    for batch in 0..6 {
        let body: Vec<Value> = (0..25)
            .map(|i| {
                json!({"value": {"url": format!("/{i}")},
                       "timestamp": 1_000_000 + rng.below(1_000_000_000) as i64})
            })
            .collect();
        produced += body.len() as u64;
        assert_eq!(
            produce_raw(&c, "clicks", Value::Array(body).to_string())
                .await
                .status,
            200
        );
        if batch % 2 == 0 {
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }
    // Windows close with the clock (EMIT FINAL): wait for every row to be counted.
    let deadline = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let (status, v) = get(&c, "/v1/views/clicks_per_second").await;
        assert_eq!(status, 200, "{v}");
        let counted: u64 = v["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["n"].as_u64().expect("n"))
            .sum();
        if counted == produced {
            break v["rows"].clone();
        }
        assert!(counted < produced, "{v}");
        assert!(
            Instant::now() < deadline,
            "only {counted} of {produced} counted: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The windows are of processing time: now, not the records' timestamps.
    let mut windows = BTreeMap::new();
    for r in rows.as_array().expect("rows") {
        let start = r["window_start"].as_i64().expect("window_start");
        assert!(start >= started - 1000, "{r}");
        assert_eq!(r["window_end"].as_i64(), Some(start + 1000), "{r}");
        windows.insert(start, r["n"].as_u64());
    }
    assert!(
        windows.len() >= 2,
        "the batches fell in several seconds: {windows:?}"
    );
    let (_, list) = get(&c, "/v1/views").await;
    assert_eq!(list["views"][0]["stats"]["late"], 0, "{list}");
    node.stop();
}

/// The wall clock now, in ms since the epoch.
fn strata_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("ms fit")
}
