//! Views that read a TABLE, end to end through the real binary: keyed records produced over
//! HTTP to a ksqlDB table's topic, upserts and tombstones (empty values), the latest row per
//! key and an aggregate with retraction read back with `GET /v1/views/{v}`, and a view that
//! reads another view (a count per key, then a sum and an average over those counts).

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

const SCHEMA: &str = "
CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, region VARCHAR, x BIGINT)
  WITH (kafka_topic='users', value_format='JSON');
CREATE STREAM clicks (userid VARCHAR, page VARCHAR) WITH (kafka_topic='clicks', value_format='JSON');
CREATE TABLE latest_users AS SELECT id, name, region FROM users WHERE x >= 0;
CREATE TABLE by_region AS SELECT region, COUNT(*) AS n, SUM(x) AS s, AVG(x) AS a FROM users GROUP BY region;
CREATE TABLE clicks_per_user AS SELECT userid, COUNT(*) AS n FROM clicks GROUP BY userid;";

/// Produces keyed records; a `None` value is a tombstone, sent in both forms the API takes
/// (`"value": null` as Kafka's REST proxy has it, and an empty `value_text`).
async fn produce(c: &Client, topic: &str, records: &[(&str, Option<Value>)]) {
    let body: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v))| match v {
            Some(v) => json!({"key": k, "value": v}),
            None if i % 2 == 0 => json!({"key": k, "value": null}),
            None => json!({"key": k, "value_text": ""}),
        })
        .collect();
    let r = produce_raw(c, topic, Value::Array(body).to_string()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Waits until `GET /v1/views/{view}` answers `want` as its rows.
async fn rows_become(c: &Client, view: &str, want: Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = get(c, &format!("/v1/views/{view}")).await;
        assert_eq!(status, 200, "{v}");
        if v["rows"] == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{view}: {} rather than {want}",
            v["rows"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn user(id: Option<&str>, name: Option<&str>, region: &str, x: i64) -> Option<Value> {
    let mut v = json!({"name": name, "region": region, "x": x});
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    Some(v)
}

#[tokio::test(flavor = "multi_thread")]
async fn table_views_upsert_delete_retract_and_read_views_over_http() {
    let node = Node::start(&[]);
    let c = node.client();
    let r = sql(&c, SCHEMA).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // A view over a view: clicks_per_user's rows, upserted by user, summed and averaged.
    let r = sql(
        &c,
        "CREATE TABLE click_stats AS SELECT COUNT(*) AS users, SUM(n) AS clicks, AVG(n) AS per_user FROM clicks_per_user;",
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    produce(
        &c,
        "users",
        &[
            ("a", user(Some("a"), Some("Ann"), "us", 1)),
            ("b", user(None, Some("Bob"), "us", 2)), // the PK comes from the record key
            ("c", user(Some("c"), Some("Cid"), "eu", 4)),
        ],
    )
    .await;
    rows_become(
        &c,
        "latest_users",
        json!([
            {"id": "a", "name": "Ann", "region": "us"},
            {"id": "b", "name": "Bob", "region": "us"},
            {"id": "c", "name": "Cid", "region": "eu"},
        ]),
    )
    .await;
    // a: name set to NULL; b: deleted; c: moves to us; d: filtered out by WHERE.
    produce(
        &c,
        "users",
        &[
            ("a", user(Some("a"), None, "us", 3)),
            ("b", None),
            ("c", user(Some("c"), Some("Cid"), "us", 5)),
            ("d", user(Some("d"), Some("Dee"), "eu", -1)),
        ],
    )
    .await;
    rows_become(
        &c,
        "latest_users",
        json!([
            {"id": "a", "region": "us"},
            {"id": "c", "name": "Cid", "region": "us"},
        ]),
    )
    .await;
    rows_become(
        &c,
        "by_region",
        json!([
            {"region": "eu", "n": 1, "s": -1, "a": -1.0},
            {"region": "us", "n": 2, "s": 8, "a": 4.0},
        ]),
    )
    .await;
    produce(&c, "users", &[("d", None)]).await;
    rows_become(
        &c,
        "by_region",
        json!([{"region": "us", "n": 2, "s": 8, "a": 4.0}]),
    )
    .await;
    // The changelog, as Server-Sent Events: eu's deletion is a `delete` event carrying its key.
    let written = end_offsets(&c, "by_region-changelog").await[0] as usize;
    let events = sse_events(&c, "/v1/views/by_region/changes?offset=earliest", written).await;
    let eu: Vec<&Value> = events
        .iter()
        .map(|(_, data)| data)
        .filter(|data| data["region"] == "eu")
        .collect();
    assert_eq!(
        eu.last(),
        Some(&&json!({"region": "eu"})),
        "eu's last event is its deletion: {events:?}"
    );

    let clicks: Vec<(&str, Option<Value>)> = ["u1", "u2", "u1", "u3", "u1", "u2"]
        .iter()
        .map(|u| (*u, Some(json!({"userid": u, "page": "/"}))))
        .collect();
    produce(&c, "clicks", &clicks).await;
    rows_become(
        &c,
        "click_stats",
        json!([{"users": 3, "clicks": 6, "per_user": 2.0}]),
    )
    .await;

    // A continuous query over the table streams rows, and a deletion as the key with
    // "_deleted": true.
    let response = c
        .send(
            hyper::Method::POST,
            "/v1/sql",
            Some((
                bytes::Bytes::from("SELECT id, region FROM users WHERE x >= 0 EMIT CHANGES;"),
                "text/plain",
            )),
        )
        .await
        .expect("query");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let first = read_lines(&mut body, 2, Duration::from_secs(30)).await;
    assert_eq!(
        first,
        [
            json!({"id": "a", "region": "us"}),
            json!({"id": "c", "region": "us"})
        ]
    );
    produce(&c, "users", &[("c", None)]).await;
    let next = read_lines(&mut body, 1, Duration::from_secs(30)).await;
    assert_eq!(next, [json!({"_key": "c", "_deleted": true})]);
    drop(body);

    // Aggregates that cannot retract, and Lambda serving, are 400s that say why.
    let r = sql(
        &c,
        "CREATE TABLE m AS SELECT region, MAX(x) FROM users GROUP BY region;",
    )
    .await;
    let message = expect_error(&r, 400);
    assert!(
        message.contains("MAX cannot aggregate a table"),
        "{message}"
    );
    let r = sql(
        &c,
        "CREATE TABLE l WITH (serving='lambda') AS SELECT region, COUNT(*) FROM users GROUP BY region;",
    )
    .await;
    let message = expect_error(&r, 400);
    assert!(message.contains("needs a STREAM"), "{message}");
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn table_views_are_exact_after_kill_9_at_random_moments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let fast = ["--checkpoint-interval", "100ms"];
    let mut node = Node::start_in(&dir, &fast);
    let r = sql(&node.client(), SCHEMA).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // The model: the latest (region, x) per key.
    let mut model: std::collections::BTreeMap<String, (String, i64)> = Default::default();
    let mut rng = Rng(0x7ab1e);
    for _ in 0..6 {
        let c = node.client();
        let mut records = Vec::new();
        for _ in 0..300 {
            let key = format!("k{:02}", rng.below(40));
            if rng.below(6) == 0 {
                model.remove(&key);
                records.push((key, None));
            } else {
                let region = format!("r{}", rng.below(4));
                let x = rng.below(100) as i64;
                model.insert(key.clone(), (region.clone(), x));
                records.push((key, user(None, None, &region, x)));
            }
        }
        let refs: Vec<(&str, Option<Value>)> = records
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        produce(&c, "users", &refs).await;
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        drop(node); // SIGKILL
        node = Node::start_in(&dir, &fast);
    }
    let c = node.client();
    let latest: Vec<Value> = model
        .iter()
        .map(|(k, (r, _))| json!({"id": k, "region": r}))
        .collect();
    rows_become(&c, "latest_users", Value::Array(latest)).await;
    let mut groups: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    for (r, x) in model.values() {
        let g = groups.entry(r).or_default();
        g.0 += 1;
        g.1 += x;
    }
    let by_region: Vec<Value> = groups
        .iter()
        .map(|(r, (n, s))| json!({"region": r, "n": n, "s": s, "a": *s as f64 / *n as f64}))
        .collect();
    rows_become(&c, "by_region", Value::Array(by_region)).await;
    node.stop();
}
