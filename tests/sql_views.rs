//! SQL views end to end through the real binary: the issue's ksqlDB and Flink statements as
//! written, records produced over HTTP, and the views' rows over HTTP compared with an
//! independent computation here in the test; a bare SELECT streaming its rows; views that
//! survive SIGTERM and `kill -9`; bad SQL and unknown views.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};
use strata_server::client::{Client, Reply};

use common::flink_orders::*;
use common::*;

const PAGE_VIEWS_SQL: &str =
    "CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
  WITH (kafka_topic='page_views', value_format='JSON');
CREATE TABLE page_view_counts AS
  SELECT pageid, COUNT(*) AS view_count FROM page_views
  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY pageid EMIT CHANGES;";

/// A minute boundary (2023-11-14T22:14:00Z).
const T0: i64 = 1_700_000_040_000;
const MINUTE: i64 = 60_000;

/// POSTs SQL as text and reads the whole answer.
async fn sql(c: &Client, text: &str) -> Reply {
    c.raw(
        Method::POST,
        "/v1/sql",
        Some((Bytes::from(text.to_owned()), "text/plain")),
    )
    .await
    .expect("request")
}

/// A page view: (pageid, event time).
type View = (String, i64);

/// `n` page views from `start`, 300 ms apart with up to 2 s of disorder (within the default
/// 5 s watermark bound, so none is late), over 7 pages.
fn page_views(rng: &mut Rng, start: i64, n: usize) -> Vec<View> {
    (0..n)
        .map(|i| {
            let page = format!("p{}", rng.below(7));
            (page, start + i as i64 * 300 + rng.below(2000) as i64)
        })
        .collect()
}

async fn produce_views(c: &Client, views: &[View]) {
    let body: Vec<Value> = views
        .iter()
        .enumerate()
        .map(|(i, (page, ts))| {
            json!({
                "value": { "viewtime": ts, "userid": format!("u{}", i % 13), "pageid": page },
                "timestamp": ts,
            })
        })
        .collect();
    let r = produce_raw(c, "page_views", Value::Array(body).to_string()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// The oracle of page_view_counts: views per (pageid, minute).
fn count_views(views: &[View]) -> BTreeMap<(String, i64), i64> {
    let mut counts = BTreeMap::new();
    for (page, ts) in views {
        *counts
            .entry((page.clone(), ts - ts.rem_euclid(MINUTE)))
            .or_insert(0) += 1;
    }
    counts
}

/// page_view_counts rows as the oracle's map, checking window_end on the way.
fn view_counts(rows: &Value) -> BTreeMap<(String, i64), i64> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let start = r["window_start"].as_i64().expect("window_start");
            assert_eq!(r["window_end"].as_i64(), Some(start + MINUTE), "{r}");
            (
                (r["pageid"].as_str().expect("pageid").to_owned(), start),
                r["view_count"].as_i64().expect("view_count"),
            )
        })
        .collect()
}

/// Names of the node's topics.
async fn topic_names(c: &Client) -> Vec<String> {
    let (_, v) = get(c, "/v1/topics").await;
    v["topics"]
        .as_array()
        .expect("topics")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Waits until no continuous query's topics are left.
async fn queries_dropped(c: &Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names = topic_names(c).await;
        if !names.iter().any(|n| n.starts_with("_query_")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the continuous query was not dropped: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ksqldb_page_view_counts_over_http_equal_the_oracle() {
    let node = Node::start(&[]);
    let c = node.client();
    let r = sql(&c, PAGE_VIEWS_SQL).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let outcomes = parse(&r)["outcomes"].clone();
    assert_eq!(outcomes[0]["kind"], "source_created");
    assert_eq!(outcomes[0]["topic"], "page_views");
    assert_eq!(outcomes[1]["kind"], "view_created");
    assert_eq!(outcomes[1]["changelog"], "page_view_counts-changelog");

    let mut rng = Rng(0x5eed);
    let views = page_views(&mut rng, T0, 600);
    produce_views(&c, &views[..300]).await;
    produce_views(&c, &views[300..]).await;
    let v = caught_up(&c, "page_view_counts", 600).await;
    let oracle = count_views(&views);
    assert_eq!(view_counts(&v["rows"]), oracle);
    assert_eq!(v["count"], oracle.len());
    assert_eq!(v["provenance"]["layers"], json!(["speed"]));
    assert!(v["provenance"]["watermark"].as_i64().expect("watermark") > T0);
    let columns: Vec<&str> = v["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        columns,
        ["pageid", "window_start", "window_end", "view_count"]
    );

    // A record later than the watermark minus the (zero) grace period goes to the late topic
    // and changes nothing.
    produce_views(&c, &[("p0".to_owned(), T0 + 5)]).await;
    let v = caught_up(&c, "page_view_counts", 601).await;
    assert_eq!(v["provenance"]["late"], 1);
    assert_eq!(view_counts(&v["rows"]), oracle);
    assert_eq!(end_offsets(&c, "page_view_counts-late").await, [1]);

    // Filters: a key, a time range, top-N by an aggregate.
    let (s, v) = get(&c, "/v1/views/page_view_counts?key=p3").await;
    assert_eq!(s, 200, "{v}");
    let p3: BTreeMap<_, _> = oracle
        .iter()
        .filter(|((p, _), _)| p == "p3")
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    assert!(!p3.is_empty());
    assert_eq!(view_counts(&v["rows"]), p3);
    let (_, by_path) = get(&c, "/v1/views/page_view_counts/keys/p3").await;
    assert_eq!(by_path["rows"], v["rows"]);
    let (from, to) = (T0 + MINUTE, T0 + 2 * MINUTE);
    let (s, v) = get(
        &c,
        &format!("/v1/views/page_view_counts?from={from}&to=2023-11-14T22:16:00Z"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let minute: BTreeMap<_, _> = oracle
        .iter()
        .filter(|((_, w), _)| (from..to).contains(w))
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    assert_eq!(view_counts(&v["rows"]), minute);
    let (s, v) = get(
        &c,
        "/v1/views/page_view_counts?order_by=view_count&desc=true&limit=3",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let mut counts: Vec<i64> = oracle.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: Vec<i64> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["view_count"].as_i64().expect("count"))
        .collect();
    assert_eq!(top, counts[..3]);

    // Bad filters say what is wrong.
    let bad = |path: &'static str| {
        let c = c.clone();
        async move {
            let r = c.raw(Method::GET, path, None).await.expect("request");
            expect_error(&r, 400)
        }
    };
    let m = bad("/v1/views/page_view_counts?order_by=nope").await;
    assert!(m.contains("view_count"), "{m}");
    let m = bad("/v1/views/page_view_counts?from=2000&to=1000").await;
    assert!(m.contains("before"), "{m}");
    let m = bad("/v1/views/page_view_counts?from=yesterday").await;
    assert!(m.contains("RFC 3339"), "{m}");
    bad("/v1/views/page_view_counts?limit=-1").await;
    bad("/v1/views/page_view_counts?colour=red").await;

    // The changelog as Server-Sent Events: the last event of each row is the row.
    let emitted = v["provenance"]["emitted"].as_u64().expect("emitted") as usize;
    let events = sse_events(
        &c,
        "/v1/views/page_view_counts/changes?offset=earliest",
        emitted,
    )
    .await;
    let mut last: BTreeMap<(String, i64), Value> = BTreeMap::new();
    let mut ids = Vec::new();
    for (id, row) in events {
        ids.push(id.expect("id"));
        let key = (
            row["pageid"].as_str().expect("pageid").to_owned(),
            row["window_start"].as_i64().expect("start"),
        );
        last.insert(key, row);
    }
    assert_eq!(ids, (0..emitted as u64).collect::<Vec<_>>());
    assert_eq!(
        view_counts(&Value::Array(last.into_values().collect())),
        oracle
    );

    // Listing, metrics, the CLI.
    let (_, list) = get(&c, "/v1/views").await;
    let entry = &list["views"][0];
    assert_eq!(entry["name"], "page_view_counts");
    assert_eq!(entry["source"], "page_views");
    assert_eq!(
        entry["window"],
        json!({ "kind": "tumbling", "size_ms": 60_000 })
    );
    assert_eq!(entry["emit"], "changes");
    assert_eq!(entry["stats"]["records_in"], 601);
    let metrics = c.raw(Method::GET, "/metrics", None).await.expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        metrics.contains("strata_view_records_in_total{view=\"page_view_counts\"} 601"),
        "{metrics}"
    );
    assert!(metrics.contains("strata_view_late_total{view=\"page_view_counts\"} 1"));
    assert!(metrics.contains("strata_view_lag{view=\"page_view_counts\"} 0"));

    let out = ok(&node.cli(&["query", "page_view_counts", "--key", "p3"]));
    assert!(out.starts_with("PAGEID"), "{out}");
    assert_eq!(out.lines().count(), 1 + p3.len(), "{out}");
    let out = ok(&node.cli(&[
        "query",
        "page_view_counts",
        "--top",
        "3",
        "--by",
        "view_count",
        "--output",
        "json",
    ]));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(3));
    let out = ok(&node.cli(&["view", "list"]));
    assert!(
        out.contains("page_view_counts") && out.contains("tumbling 1m"),
        "{out}"
    );
    let out = ok(&node.cli(&["view", "describe", "page_view_counts"]));
    assert!(out.contains("keys         pageid"), "{out}");
    // A pull query on the stream (its records so far), capped by --limit: a header and 5 rows.
    let out = ok(&node.cli(&["sql", "SELECT pageid FROM page_views;", "--limit", "5"]));
    assert_eq!(out.lines().count(), 6, "{out}");
    assert_eq!(out.lines().next().map(str::trim), Some("PAGEID"), "{out}");
    let out = ok(&node.cli(&[
        "sql",
        "SELECT pageid FROM page_views EMIT CHANGES;",
        "--limit",
        "5",
    ]));
    assert_eq!(out.lines().count(), 5, "a push query's rows: {out}");
    queries_dropped(&c).await;
    let out = ok(&node.cli(&["view", "drop", "page_view_counts"]));
    assert!(out.contains("dropped"), "{out}");
    let (s, _) = get(&c, "/v1/views/page_view_counts").await;
    assert_eq!(s, 404);
    let names = topic_names(&c).await;
    assert_eq!(names, ["page_views"], "the view's topics go with it");
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn flink_orders_query_streams_closed_windows_equal_to_the_oracle() {
    let node = Node::start(&[]);
    let c = node.client();
    let r = c
        .raw(
            Method::POST,
            "/v1/sql",
            Some((
                Bytes::from(json!({ "sql": orders_ddl("localhost:9092") }).to_string()),
                "application/json",
            )),
        )
        .await
        .expect("request");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(parse(&r)["outcomes"][0]["kind"], "source_created");
    let r = sql(&c, &format!("CREATE VIEW order_totals AS {ORDERS_SELECT}")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let orders = orders();
    let closed = order_totals(&orders[..orders.len() - 1]);
    let body: Vec<Value> = orders
        .iter()
        .enumerate()
        .map(|(i, order)| json!({ "value": order_json(i, order) }))
        .collect();
    let r = produce_raw(&c, "orders", Value::Array(body).to_string()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // The SELECT exactly as written: a continuous query whose rows are the closed windows
    // (EMIT FINAL is Flink's behaviour for window table functions).
    let response = c
        .send(
            Method::POST,
            &format!("/v1/sql?limit={}", closed.len()),
            Some((Bytes::from(ORDERS_SELECT), "text/plain")),
        )
        .await
        .expect("query");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert!(
        response.headers()["strata-query"]
            .to_str()
            .expect("name")
            .starts_with("_query_")
    );
    let mut body = response.into_body();
    let rows = read_lines(&mut body, usize::MAX, Duration::from_secs(30)).await;
    assert_eq!(rows_as_totals(&rows), closed);
    assert_eq!(rows.len(), closed.len(), "one row per closed window");
    queries_dropped(&c).await;

    // The view holds every window, the open one too.
    let v = caught_up(&c, "order_totals", orders.len() as u64).await;
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows_as_totals(rows), order_totals(&orders));
    let (_, v) = get(&c, "/v1/views/order_totals?key=jam&order_by=total_amount").await;
    let jam: Vec<f64> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["total_amount"].as_f64().expect("total"))
        .collect();
    let mut want: Vec<f64> = closed
        .iter()
        .filter(|((p, _), _)| p == "jam")
        .map(|(_, (t, _))| *t)
        .collect();
    want.sort_by(f64::total_cmp);
    assert_eq!(jam, want);

    // A continuous query ends when its client goes away: the temporary view is dropped.
    let response = c
        .send(
            Method::POST,
            "/v1/sql",
            Some((
                Bytes::from("SELECT order_id, amount * 2 AS double_amount FROM orders WHERE product = 'tea';"),
                "text/plain",
            )),
        )
        .await
        .expect("query");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let rows = read_lines(&mut body, 3, Duration::from_secs(20)).await;
    assert_eq!(
        rows[0]["double_amount"].as_f64(),
        Some(orders.iter().find(|o| o.0 == "tea").expect("tea").2 * 2.0)
    );
    assert!(
        topic_names(&c)
            .await
            .iter()
            .any(|n| n.starts_with("_query_"))
    );
    drop(body);
    queries_dropped(&c).await;
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn views_survive_sigterm_and_kill_9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let node = Node::start_in(&dir, &[]);
    let c = node.client();
    assert_eq!(sql(&c, PAGE_VIEWS_SQL).await.status, 200);
    let mut rng = Rng(7);
    let mut all = page_views(&mut rng, T0, 2000);
    produce_views(&c, &all).await;
    let before = caught_up(&c, "page_view_counts", 2000).await;
    assert_eq!(view_counts(&before["rows"]), count_views(&all));
    // A continuous query left open across the shutdown does not come back.
    let response = c
        .send(
            Method::POST,
            "/v1/sql",
            Some((Bytes::from("SELECT * FROM page_views;"), "text/plain")),
        )
        .await
        .expect("query");
    let mut query = response.into_body();
    read_lines(&mut query, 1, Duration::from_secs(20)).await;
    node.stop();
    drop(query);

    let node = Node::start_in(&dir, &[]);
    let c = node.client();
    let (s, after) = get(&c, "/v1/views/page_view_counts").await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(
        after["rows"], before["rows"],
        "same rows after a SIGTERM restart"
    );
    assert_eq!(after["provenance"]["records_in"], 2000);
    let (_, list) = get(&c, "/v1/views").await;
    assert_eq!(list["views"].as_array().map(Vec::len), Some(1), "{list}");
    assert!(
        !topic_names(&c)
            .await
            .iter()
            .any(|n| n.starts_with("_query_"))
    );

    // kill -9 at random moments while the view works through new records and checkpoints
    // every 100 ms; each batch is acknowledged (fsynced) before the kill, so the oracle
    // knows every record.
    node.stop();
    let fast = ["--checkpoint-interval", "100ms"];
    let mut node = Node::start_in(&dir, &fast);
    for round in 0..10 {
        let c = node.client();
        // 4000 views span 20 minutes; each round continues where the last one ended.
        let start = T0 + (10 + 20 * round) * MINUTE;
        let batch = page_views(&mut rng, start, 4000);
        produce_views(&c, &batch).await;
        all.extend(batch);
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        drop(node); // SIGKILL
        node = Node::start_in(&dir, &fast);
    }
    let c = node.client();
    let v = caught_up(&c, "page_view_counts", all.len() as u64).await;
    assert_eq!(view_counts(&v["rows"]), count_views(&all));
    assert_eq!(v["provenance"]["late"], 0);
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_sql_is_400_with_line_and_column_and_unknown_views_are_404() {
    let node = Node::start(&[]);
    let c = node.client();
    assert_eq!(sql(&c, PAGE_VIEWS_SQL).await.status, 200);

    let r = sql(
        &c,
        "CREATE TABLE per_user AS\n  SELECT userid, COUNT(*) FROM page_views\n  WINDOW TUMBLING (SIZ 1 MINUTE) GROUP BY userid;",
    )
    .await;
    let m = expect_error(&r, 400);
    let v = parse(&r);
    assert_eq!(v["error"]["code"], "sql_error");
    assert_eq!(v["error"]["line"], 3, "{v}");
    assert!(v["error"]["column"].as_u64().expect("column") > 0);
    assert!(m.contains("line 3, column"), "{m}");
    let m = expect_error(&sql(&c, "SELECT nope FROM page_views;").await, 400);
    assert!(m.contains("line 1") && m.contains("nope"), "{m}");
    let m = expect_error(&sql(&c, "SELECT * FROM nowhere;").await, 404);
    assert!(m.contains("nowhere"), "{m}");
    let m = expect_error(
        &sql(&c, "SELECT * FROM page_views EMIT CHANGES; SHOW VIEWS;").await,
        400,
    );
    assert!(m.contains("last statement"), "{m}");
    expect_error(&sql(&c, "   ").await, 400);
    let r = c
        .raw(
            Method::POST,
            "/v1/sql",
            Some((
                Bytes::from(r#"{"sql": "SHOW VIEWS", "x": 1}"#),
                "application/json",
            )),
        )
        .await
        .expect("request");
    assert!(expect_error(&r, 400).contains("unknown field"));
    assert_eq!(topic_names(&c).await.len(), 3, "nothing ran");

    for path in [
        "/v1/views/nope",
        "/v1/views/nope/keys/a",
        "/v1/views/nope/changes",
        "/v1/views/nope/definition",
    ] {
        let r = c.raw(Method::GET, path, None).await.expect("request");
        let m = expect_error(&r, 404);
        assert!(
            m.contains("nope") && m.contains("GET /v1/views"),
            "{path}: {m}"
        );
        assert_eq!(parse(&r)["error"]["code"], "unknown_view");
    }
    let r = c
        .raw(Method::DELETE, "/v1/views/nope", None)
        .await
        .expect("request");
    expect_error(&r, 404);

    let o = node.cli(&[
        "sql",
        "SELECT pageid\nFROM page_views WINDOW TUMBLING (SIZ 1 MINUTE);",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 2, column"), "{}", stderr(&o));
    let o = node.cli(&["query", "nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown view"), "{}", stderr(&o));
    node.stop();
}
