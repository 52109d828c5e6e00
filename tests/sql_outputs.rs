//! Named outputs through the real binary: `CREATE STREAM … WITH (kafka_topic) AS`,
//! `CREATE TABLE … WITH (kafka_topic) AS` with plain string keys (read back by kcat, as a
//! Kafka consumer sees them), `INSERT INTO` from two queries into one stream, a Flink sink
//! table with `INSERT INTO`, the bad input, and kill -9 while views write a named topic: each
//! expected row exactly once, against a model.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

const PAGEVIEWS: &str = "CREATE STREAM pageviews (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
  WITH (kafka_topic='pageviews', value_format='JSON', partitions=2);";

fn pageview(i: u64) -> Value {
    json!({
        "value": { "viewtime": i, "userid": format!("User_{}", i % 5), "pageid": format!("Page_{}", i % 4) },
        "partition": i % 2,
    })
}

async fn produce(c: &Client, topic: &str, values: Vec<Value>) {
    for chunk in values.chunks(2000) {
        let r = produce_raw(c, topic, serde_json::to_vec(chunk).expect("json")).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
}

async fn run(c: &Client, text: &str) -> Value {
    let r = sql(c, text).await;
    assert_eq!(
        r.status,
        200,
        "{text}: {}",
        String::from_utf8_lossy(&r.body)
    );
    parse(&r)
}

/// Polls `topic` until it holds `n` records (then checks a little longer that no more come).
async fn wait_for(c: &Client, topic: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = all_records(c, topic).await;
        assert!(
            got.len() <= n,
            "{topic}: {} records, more than {n}",
            got.len()
        );
        if got.len() == n {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let again = all_records(c, topic).await;
            assert_eq!(again.len(), n, "{topic} kept growing");
            return again;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: {} of {n} records",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The writer of a named-output record (`strata.query: <writer>:<offset>`).
fn writer(r: &Value) -> String {
    let h = r["headers"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["key"] == "strata.query"))
        .unwrap_or_else(|| panic!("no strata.query header: {r}"));
    let v = h["value"].as_str().expect("text");
    v.rsplit_once(':').expect("writer:offset").0.to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn create_stream_with_kafka_topic_as_writes_the_named_topic() {
    let node = Node::start(&["--checkpoint-interval", "50ms"]);
    let c = node.client();
    let out = run(
        &c,
        &format!(
            "{PAGEVIEWS}
             CREATE STREAM page_1_views WITH (kafka_topic='page_1_views', value_format='JSON', partitions=3) AS
               SELECT viewtime, userid FROM pageviews WHERE pageid = 'Page_1';"
        ),
    )
    .await;
    assert_eq!(out["outcomes"][1]["kind"], "view_created", "{out}");
    produce(&c, "pageviews", (0..400).map(pageview).collect()).await;
    let got = wait_for(&c, "page_1_views", 100).await;
    assert_eq!(end_offsets(&c, "page_1_views").await.len(), 3);
    let mut times: Vec<u64> = got
        .iter()
        .map(|r| {
            assert_eq!(writer(r), "page_1_views");
            assert_eq!(r["key"], Value::Null, "a stream's rows are unkeyed: {r}");
            r["value"]["viewtime"].as_u64().expect("viewtime")
        })
        .collect();
    times.sort_unstable();
    assert_eq!(times, (0..400).filter(|i| i % 4 == 1).collect::<Vec<_>>());
    // The view's own changelog is still written, as for any view.
    let (status, _) = get(&c, "/v1/views/page_1_views/definition").await;
    assert_eq!(status, 200);
    assert_eq!(all_records(&c, "page_1_views-changelog").await.len(), 100);
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn create_table_as_keys_its_topic_by_the_plain_string_key() {
    let node = Node::start(&["--checkpoint-interval", "50ms", "--kafka", "127.0.0.1:0"]);
    let c = node.client();
    run(
        &c,
        &format!(
            "{PAGEVIEWS}
             CREATE TABLE pageviews_per_region WITH (kafka_topic='views_per_page', partitions=2) AS
               SELECT pageid, COUNT(*) AS views FROM pageviews GROUP BY pageid;"
        ),
    )
    .await;
    produce(&c, "pageviews", (0..200).map(pageview).collect()).await;
    caught_up(&c, "pageviews_per_region", 200).await;
    // As a Kafka consumer reads it: the key is the page id itself, the value the row.
    let bootstrap = node.bootstrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = common::kafka::run(
            common::kafka::kcat(&bootstrap).args([
                "-C",
                "-t",
                "views_per_page",
                "-o",
                "beginning",
                "-e",
                "-f",
                "%k\t%s\n",
            ]),
            b"",
        );
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let mut latest: BTreeMap<String, u64> = BTreeMap::new();
        for line in text.lines() {
            let (key, value) = line.split_once('\t').expect("key\tvalue");
            let v: Value = serde_json::from_str(value).expect("json value");
            assert_eq!(v["pageid"], key, "{line}");
            let n = v["views"].as_u64().expect("views");
            let before = latest.insert(key.to_owned(), n);
            assert!(before.is_none_or(|b| b < n), "{key}: {before:?} then {n}");
        }
        let want: BTreeMap<String, u64> = (0..4).map(|p| (format!("Page_{p}"), 50)).collect();
        if latest == want {
            break;
        }
        assert!(Instant::now() < deadline, "{latest:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_into_from_two_queries_writes_the_union_each_once() {
    let node = Node::start(&["--checkpoint-interval", "50ms"]);
    let c = node.client();
    let out = run(
        &c,
        &format!(
            "{PAGEVIEWS}
             CREATE STREAM clicks (viewtime BIGINT, userid VARCHAR, pageid VARCHAR) WITH (kafka_topic='clicks', partitions=2);
             CREATE STREAM all_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR) WITH (kafka_topic='all_views');
             INSERT INTO all_views SELECT * FROM pageviews;
             INSERT INTO all_views SELECT viewtime + 1000000 AS viewtime, userid, pageid FROM clicks WHERE pageid <> 'Page_0';"
        ),
    )
    .await;
    let ids: Vec<&str> = out["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .filter(|o| o["kind"] == "insert_started")
        .map(|o| {
            assert_eq!(o["topic"], "all_views");
            o["id"].as_str().expect("id")
        })
        .collect();
    assert_eq!(ids, ["insertquery_1", "insertquery_2"]);
    produce(&c, "pageviews", (0..300).map(pageview).collect()).await;
    produce(&c, "clicks", (0..100).map(pageview).collect()).await;
    let got = wait_for(&c, "all_views", 300 + 75).await;
    let mut by_writer: HashMap<String, Vec<u64>> = HashMap::new();
    for r in &got {
        by_writer
            .entry(writer(r))
            .or_default()
            .push(r["value"]["viewtime"].as_u64().expect("viewtime"));
    }
    for v in by_writer.values_mut() {
        v.sort_unstable();
    }
    assert_eq!(by_writer["insertquery_1"], (0..300).collect::<Vec<_>>());
    let clicks: Vec<u64> = (0..100)
        .filter(|i| i % 4 != 0)
        .map(|i| i + 1_000_000)
        .collect();
    assert_eq!(by_writer["insertquery_2"], clicks);
    // The stream cannot be dropped while queries write into it.
    let m = expect_error(&sql(&c, "DROP STREAM all_views;").await, 409);
    assert!(m.contains("insertquery_1, insertquery_2"), "{m}");
    // SHOW QUERIES lists them, EXPLAIN shows one, TERMINATE stops one, and then the stream
    // has one writer fewer.
    let shown = run(&c, "SHOW QUERIES;").await;
    let queries = shown["outcomes"][0]["queries"]
        .as_array()
        .expect("queries")
        .clone();
    let inserts: Vec<&Value> = queries.iter().filter(|q| q["kind"] == "insert").collect();
    assert_eq!(inserts.len(), 2, "{shown}");
    assert!(inserts.iter().all(|q| q["sink"] == "all_views"), "{shown}");
    let explained = run(&c, "EXPLAIN insertquery_2;").await;
    assert_eq!(
        explained["outcomes"][0]["query_id"], "insertquery_2",
        "{explained}"
    );
    let done = run(&c, "TERMINATE insertquery_2;").await;
    assert_eq!(
        done["outcomes"][0]["queries"],
        json!(["insertquery_2"]),
        "{done}"
    );
    let m = expect_error(&sql(&c, "DROP STREAM all_views;").await, 409);
    assert!(
        m.contains("insertquery_1") && !m.contains("insertquery_2"),
        "{m}"
    );
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flink_sink_table_receives_insert_into() {
    let node = Node::start(&["--checkpoint-interval", "50ms"]);
    let c = node.client();
    run(
        &c,
        "CREATE TABLE page_views (user_id STRING, page STRING, ts TIMESTAMP(3),
           WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
         ) WITH ('connector' = 'kafka', 'topic' = 'page_views', 'format' = 'json',
           'properties.bootstrap.servers' = 'localhost:9092');
         CREATE TABLE page_counts (page STRING, n BIGINT, PRIMARY KEY (page) NOT ENFORCED)
           WITH ('connector' = 'strata', 'topic' = 'page_counts', 'format' = 'json');
         INSERT INTO page_counts SELECT page, COUNT(*) FROM page_views GROUP BY page;",
    )
    .await;
    let values = (0..90u64)
        .map(|i| json!({"value": {"user_id": format!("u{i}"), "page": format!("/p{}", i % 3), "ts": 1_700_000_000_000u64 + i}}))
        .collect();
    produce(&c, "page_views", values).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut latest: BTreeMap<String, u64> = BTreeMap::new();
        for r in all_records(&c, "page_counts").await {
            let key = r["key"].as_str().expect("a string key").to_owned();
            assert_eq!(r["value"]["page"], key.as_str(), "{r}");
            latest.insert(key, r["value"]["n"].as_u64().expect("n, the sink's name"));
        }
        if latest == (0..3).map(|p| (format!("/p{p}"), 30)).collect() {
            break;
        }
        assert!(Instant::now() < deadline, "{latest:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_named_outputs_are_400_with_line_and_column() {
    let node = Node::start(&[]);
    let c = node.client();
    run(
        &c,
        &format!(
            "{PAGEVIEWS}
             CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR) WITH (kafka_topic='users');"
        ),
    )
    .await;
    let cases = [
        (
            "INSERT INTO\n  nowhere SELECT * FROM pageviews;",
            (2, 3),
            "unknown stream nowhere",
        ),
        (
            "INSERT INTO users SELECT userid, pageid FROM pageviews;",
            (1, 13),
            "users is a table",
        ),
        (
            "CREATE STREAM s2 (viewtime BIGINT, userid VARCHAR) WITH (kafka_topic='s2');\nINSERT INTO s2 SELECT viewtime, CAST(viewtime AS DOUBLE) AS userid FROM pageviews;",
            (2, 13),
            "column 2 of the query, userid DOUBLE, does not match column userid VARCHAR of s2",
        ),
        (
            "CREATE STREAM copy WITH (kafka_topic='users') AS SELECT * FROM pageviews;",
            (1, 20),
            "topic users belongs to table users",
        ),
        (
            "CREATE TABLE t (a STRING) WITH ('connector' = 'kafka',\n  'properties.bootstrap.servers' = 'kafka.example.com:9092');",
            (1, 27),
            "names another Kafka cluster",
        ),
    ];
    for (text, (line, column), needle) in cases {
        let r = sql(&c, text).await;
        let m = expect_error(&r, 400);
        let v = parse(&r);
        assert_eq!(v["error"]["code"], "sql_error", "{text}: {v}");
        assert_eq!(
            (v["error"]["line"].as_u64(), v["error"]["column"].as_u64()),
            (Some(line), Some(column)),
            "{text}: {m}"
        );
        assert!(m.contains(needle), "{text}: {m}");
    }
    // A topic holding text, not JSON.
    create_topic(&c, "lines", 1, json!({})).await;
    let r = produce_raw(&c, "lines", r#"[{"value_text": "hello world"}]"#).await;
    assert_eq!(r.status, 200);
    let m = expect_error(
        &sql(
            &c,
            "CREATE STREAM s WITH (kafka_topic='lines') AS SELECT * FROM pageviews;",
        )
        .await,
        400,
    );
    assert!(m.contains("not JSON objects"), "{m}");
    node.stop();
}

const EVENTS: u64 = 30_000;

fn event(i: u64) -> Value {
    json!({ "value": { "i": i, "k": format!("k{}", i % 11) }, "partition": i % 2 })
}

/// kill -9 at random moments while two queries write one named stream and a table writes
/// its named topic: after the restarts each expected row is there exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn kill9_while_writing_named_topics_leaves_each_row_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let args = ["--checkpoint-interval", "30ms"];
    let mut node = Node::start_in(&dir, &args);
    run(
        &node.client(),
        "CREATE STREAM events (i BIGINT, k VARCHAR) WITH (kafka_topic='events', partitions=2);
         CREATE STREAM picked WITH (kafka_topic='picked', partitions=2) AS
           SELECT i, k FROM events WHERE i % 3 <> 0;
         INSERT INTO picked SELECT i + 1000000 AS i, k FROM events WHERE i % 5 = 0;
         CREATE TABLE counts WITH (kafka_topic='counts') AS SELECT k, COUNT(*) AS n FROM events GROUP BY k;",
    )
    .await;
    let mut rng = Rng(0x5eed_0017);
    let rounds = 4;
    let step = EVENTS / rounds;
    for round in 0..rounds {
        let c = node.client();
        produce(
            &c,
            "events",
            (round * step..(round + 1) * step).map(event).collect(),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        node.kill9();
        node = Node::start_in(&dir, &args);
    }
    let c = node.client();
    let mut want: Vec<u64> = (0..EVENTS).filter(|i| i % 3 != 0).collect();
    want.extend((0..EVENTS).filter(|i| i % 5 == 0).map(|i| i + 1_000_000));
    want.sort_unstable();
    let got = wait_for(&c, "picked", want.len()).await;
    let mut is: Vec<u64> = got
        .iter()
        .map(|r| r["value"]["i"].as_u64().expect("i"))
        .collect();
    is.sort_unstable();
    assert_eq!(is, want, "each picked row exactly once");
    // The table's topic: per key, counts only grow (a row copied twice, or a row a crash took
    // back, would repeat or fall back) and end at the model's.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut latest: BTreeMap<String, u64> = BTreeMap::new();
        for r in all_records(&c, "counts").await {
            let key = r["key"].as_str().expect("string key").to_owned();
            let n = r["value"]["n"].as_u64().expect("n");
            let before = latest.insert(key.clone(), n);
            assert!(before.is_none_or(|b| b < n), "{key}: {before:?} then {n}");
        }
        let model: BTreeMap<String, u64> = (0..11)
            .map(|k| {
                (
                    format!("k{k}"),
                    (0..EVENTS).filter(|i| i % 11 == k).count() as u64,
                )
            })
            .collect();
        if latest == model {
            break;
        }
        assert!(Instant::now() < deadline, "{latest:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.stop();
}
