//! The issue's SQL, as users of ksqlDB and Flink write it, run by the engine over a real log:
//! declared sources, materialized views, a continuous query, a stream–table join, restarts.

mod common;

use common::open;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use strata_engine::json_lines;
use strata_log::{EncodedBatch, Log, Record};
use strata_views::engine::{Engine, EngineConfig, Outcome};

fn produce(log: &Log, topic: &str, records: &[(Option<&str>, String, i64)]) {
    let records: Vec<Record> = records
        .iter()
        .map(|(k, v, ts)| {
            let r = Record::new(v.clone().into_bytes(), *ts);
            match k {
                Some(k) => r.with_key(k.as_bytes().to_vec()),
                None => r,
            }
        })
        .collect();
    let t = log.topic(topic).expect("topic");
    t.append(0, EncodedBatch::from_records(&records).expect("batch"))
        .expect("append");
}

fn rows(batch: &RecordBatch) -> Vec<serde_json::Value> {
    json_lines(batch)
        .expect("json")
        .iter()
        .map(|l| serde_json::from_slice(l).expect("json"))
        .collect()
}

/// Waits until the view has read its whole source.
fn caught_up(engine: &Engine, view: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = engine.stats(view).expect("stats");
        if stats.lag == 0 && stats.records_in > 0 {
            return;
        }
        assert!(engine.failure(view).is_none(), "{:?}", engine.failure(view));
        assert!(
            Instant::now() < deadline,
            "{view} did not catch up: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ksqldb_page_view_counts_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    let outcomes = engine
        .execute(
            "CREATE STREAM page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)
               WITH (kafka_topic='page_views', value_format='JSON');
             CREATE TABLE page_view_counts AS
               SELECT pageid, COUNT(*) AS view_count FROM page_views
               WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY pageid EMIT CHANGES;",
        )
        .expect("execute");
    assert!(matches!(outcomes[0], Outcome::SourceCreated { .. }));
    assert!(matches!(outcomes[1], Outcome::ViewCreated { .. }));
    // Record timestamps (ROWTIME) are the event time: two minutes of views.
    let views: Vec<(Option<&str>, String, i64)> = (0..120)
        .map(|i| {
            let page = ["home", "cart", "about"][i % 3];
            (
                None,
                format!(r#"{{"viewtime":{i},"userid":"u{i}","pageid":"{page}"}}"#),
                60_000 * (i as i64 / 60) + i as i64,
            )
        })
        .collect();
    produce(&log, "page_views", &views);
    caught_up(&engine, "page_view_counts");
    let got = rows(&engine.snapshot("page_view_counts").expect("snapshot"));
    assert_eq!(got.len(), 6, "3 pages × 2 minutes: {got:?}");
    for row in &got {
        assert_eq!(row["view_count"], 20, "{row}");
        assert!(row["window_start"].is_i64());
    }
    // The catalog and the view survive a restart.
    engine.shutdown();
    drop(engine);
    let config = EngineConfig::default();
    let engine =
        Engine::open(Arc::clone(&log), &dir.path().join("engine"), config).expect("reopen");
    assert_eq!(engine.views(), vec!["page_view_counts".to_string()]);
    let again = rows(&engine.snapshot("page_view_counts").expect("snapshot"));
    assert_eq!(again, got);
}

#[test]
fn flink_hourly_order_totals_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    engine
        .execute(
            "CREATE TABLE orders (order_id STRING, product STRING, amount DOUBLE, order_time TIMESTAMP(3),
               WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
             ) WITH ('connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'localhost:9092',
               'properties.group.id' = 'order_consumer', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');",
        )
        .expect("create source");
    let outcomes = engine
        .execute(
            "SELECT window_start, window_end, product, SUM(amount) as total_amount, COUNT(*) as order_count
             FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' HOURS))
             GROUP BY window_start, window_end, product;",
        )
        .expect("query");
    let Outcome::QueryStarted {
        name, changelog, ..
    } = &outcomes[0]
    else {
        panic!("a bare SELECT is a continuous query: {outcomes:?}")
    };
    let orders: Vec<(Option<&str>, String, i64)> = (0..10)
        .map(|i| {
            let t = format!("2024-05-01 {:02}:{:02}:00", 10 + i / 5, i * 7 % 60);
            (
                None,
                format!(
                    r#"{{"order_id":"o{i}","product":"{}","amount":{}.5,"order_time":"{t}"}}"#,
                    ["tea", "jam"][i % 2],
                    i
                ),
                0,
            )
        })
        .collect();
    produce(&log, "orders", &orders);
    // One more order an hour later moves the watermark past the first two windows.
    produce(
        &log,
        "orders",
        &[(
            None,
            r#"{"order_id":"late","product":"tea","amount":1,"order_time":"2024-05-01 13:00:00"}"#
                .into(),
            0,
        )],
    );
    caught_up(&engine, name);
    let deadline = Instant::now() + Duration::from_secs(10);
    let results = loop {
        let t = log.topic(changelog).expect("changelog");
        if t.partition(0).expect("p0").end_offset() >= 4 || Instant::now() > deadline {
            break rows(&engine.snapshot(name).expect("snapshot"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Hour 10: orders 0-4 (tea 0,2,4 → 0.5+2.5+4.5; jam 1,3 → 1.5+3.5); hour 11: 5-9.
    let find = |product: &str, hour: i64| {
        results
            .iter()
            .find(|r| {
                r["product"] == product
                    && r["window_start"].as_i64().expect("ms") % 86_400_000 / 3_600_000 == hour
            })
            .unwrap_or_else(|| panic!("no row for {product} at {hour}: {results:?}"))
            .clone()
    };
    assert_eq!(find("tea", 10)["total_amount"], 7.5);
    assert_eq!(find("tea", 10)["order_count"], 3);
    assert_eq!(find("jam", 10)["total_amount"], 5.0);
    assert_eq!(find("jam", 11)["order_count"], 3);
    let emitted = log
        .topic(changelog)
        .expect("changelog")
        .partition(0)
        .expect("p0")
        .end_offset();
    assert_eq!(
        emitted, 4,
        "EMIT FINAL (Flink's default for windows): one row per closed window"
    );
    engine.drop_view(name).expect("drop the query");
    assert!(
        log.topic(changelog).is_err(),
        "a finished query leaves no topics behind"
    );
}

#[test]
fn stream_table_join_enriches_with_the_current_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    engine
        .execute(
            "CREATE TABLE users (id VARCHAR PRIMARY KEY, city VARCHAR) WITH (kafka_topic='users', value_format='JSON');
             CREATE STREAM clicks (user_id VARCHAR, page VARCHAR) WITH (kafka_topic='clicks', value_format='JSON');",
        )
        .expect("sources");
    produce(
        &log,
        "users",
        &[
            (Some("a"), r#"{"id":"a","city":"Oslo"}"#.into(), 1),
            (Some("b"), r#"{"id":"b","city":"Rome"}"#.into(), 1),
        ],
    );
    engine
        .execute(
            "CREATE TABLE clicks_by_city AS SELECT u.city AS city, COUNT(*) AS clicks
             FROM clicks c LEFT JOIN users u ON c.user_id = u.id GROUP BY u.city EMIT CHANGES;",
        )
        .expect("view");
    produce(
        &log,
        "clicks",
        &[
            (None, r#"{"user_id":"a","page":"x"}"#.into(), 10),
            (None, r#"{"user_id":"b","page":"y"}"#.into(), 11),
            (None, r#"{"user_id":"zz","page":"z"}"#.into(), 12),
            (None, r#"{"user_id":"a","page":"z"}"#.into(), 13),
        ],
    );
    caught_up(&engine, "clicks_by_city");
    let mut got: Vec<(Option<String>, i64)> =
        rows(&engine.snapshot("clicks_by_city").expect("snapshot"))
            .iter()
            .map(|r| {
                (
                    r["city"].as_str().map(str::to_owned),
                    r["clicks"].as_i64().expect("clicks"),
                )
            })
            .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (None, 1),
            (Some("Oslo".into()), 2),
            (Some("Rome".into()), 1)
        ]
    );
}

#[test]
fn bad_sql_is_an_error_with_a_location_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_log, engine) = open(dir.path());
    let err = engine.execute("CREATE STREAM s (a BIGINT) WITH (kafka_topic='s', value_format='JSON');\nSELECT nope FROM s;").expect_err("unknown column");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = engine.execute("SELEKT 1").expect_err("syntax");
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = engine
        .execute("CREATE STREAM t (a BIGINT) WITH (kafka_topic='t', value_format='JSON');\nSELECT a FROM")
        .expect_err("ends too early");
    assert!(
        err.to_string().contains("line 2"),
        "an error at the end points at the end: {err}"
    );
    assert!(engine.execute("SELECT * FROM missing").is_err());
    assert!(engine.views().is_empty());
}
