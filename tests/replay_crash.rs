//! Replays survive kill -9: a view replay resumes from its version's checkpoint and a topic
//! replay from its cursor, and both end exact (the view equals a model of its definition; the
//! destination holds every selected record exactly once). Also `strata replay topic` from the
//! CLI with a time range and a predicate, and its bad input.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

const BASE_TS: i64 = 1_700_000_000_000;
const N: u64 = 60_000;

/// Event `i`: customer `c{i % 13}`, amount `i % 100`, 10 ms apart, partition `i % 2`.
fn event(i: u64) -> Value {
    json!({
        "value": { "customer": format!("c{}", i % 13), "amount": i % 100 },
        "timestamp": BASE_TS + i as i64 * 10,
        "partition": i % 2,
    })
}

async fn produce(c: &Client, range: std::ops::Range<u64>) {
    let events: Vec<Value> = range.map(event).collect();
    for chunk in events.chunks(2000) {
        let r = produce_raw(c, "orders", serde_json::to_vec(chunk).expect("json")).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
}

async fn setup(c: &Client) {
    c.call(
        Method::POST,
        "/v1/sql",
        Some(
            json!({ "sql": "CREATE STREAM orders (customer VARCHAR, amount BIGINT)
            WITH (kafka_topic='orders', value_format='JSON', partitions=2);
          CREATE TABLE totals AS SELECT customer, COUNT(*) AS n FROM orders GROUP BY customer;" }),
        ),
    )
    .await
    .expect("setup");
}

async fn replay(c: &Client, id: u64) -> Value {
    let (status, v) = get(c, &format!("/v1/replays/{id}")).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Polls the replay until `done(progress)`.
async fn wait_until(c: &Client, id: u64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let v = replay(c, id).await;
        if done(&v) {
            return v;
        }
        assert!(
            v["status"] != "failed",
            "replay {id} failed while waiting for {what}: {v}"
        );
        assert!(Instant::now() < deadline, "replay {id}: no {what}: {v}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_replay_killed_mid_way_resumes_and_is_exact() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let node = Node::start_in(&dir, &["--checkpoint-interval", "50ms"]);
    let c = node.client();
    setup(&c).await;
    produce(&c, 0..N).await;
    let out = ok(&node.cli(&[
        "replay", "view", "totals", "--detach", "--promote", "manual", "--output", "json",
        "--sql", "SELECT customer, COUNT(*) AS n, SUM(amount) AS total FROM orders WHERE amount >= 40 GROUP BY customer",
    ]));
    let id = serde_json::from_str::<Value>(&out).expect("json")["id"]
        .as_u64()
        .expect("id");
    // Past the first checkpoint, so the restart resumes from one rather than from the start.
    let at_kill = wait_until(&c, id, "progress", |v| v["processed"].as_u64() > Some(0)).await;
    node.kill9();
    eprintln!("killed at {}/{}", at_kill["processed"], at_kill["total"]);

    let node = Node::start_in(&dir, &["--checkpoint-interval", "50ms"]);
    let c = node.client();
    // Records that arrive after the restart are part of the new version too.
    produce(&c, N..N + 1000).await;
    let v = wait_until(&c, id, "catch-up", |v| v["status"] == "caught_up").await;
    assert_eq!(
        (v["processed"].as_u64(), v["total"].as_u64()),
        (Some(N), Some(N))
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, d) = get(&c, "/v1/views/totals_v2/definition").await;
        if d["stats"]["records_in"] == N + 1000 && d["stats"]["lag"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{d}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut model: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for i in 0..N + 1000 {
        if i % 100 >= 40 {
            let e = model.entry(format!("c{}", i % 13)).or_default();
            e.0 += 1;
            e.1 += i % 100;
        }
    }
    let (_, v) = get(&c, "/v1/views/totals_v2").await;
    let ours: BTreeMap<String, (u64, u64)> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["customer"].as_str().expect("customer").to_owned(),
                (
                    r["n"].as_u64().expect("n"),
                    r["total"].as_u64().expect("total"),
                ),
            )
        })
        .collect();
    assert_eq!(ours, model);
    node.stop();
}

/// The source event index each copied record came from (its timestamp says), checking that
/// it names its origin.
fn copied_events(records: &[Value]) -> Vec<u64> {
    let mut out: Vec<u64> = records
        .iter()
        .map(|r| {
            assert!(
                r["headers"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|h| h["key"] == "strata.replay")),
                "{r}"
            );
            (r["timestamp"].as_i64().expect("ts") - BASE_TS) as u64 / 10
        })
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topic_replay_killed_mid_way_resumes_without_duplicates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let node = Node::start_in(&dir, &[]);
    let c = node.client();
    setup(&c).await;
    produce(&c, 0..N).await;
    let out = ok(&node.cli(&[
        "replay",
        "topic",
        "orders",
        "--to",
        "big_orders",
        "--where",
        "amount >= 90",
        "--detach",
        "--output",
        "json",
    ]));
    let id = serde_json::from_str::<Value>(&out).expect("json")["id"]
        .as_u64()
        .expect("id");
    let at_kill = wait_until(&c, id, "progress", |v| v["processed"].as_u64() > Some(0)).await;
    node.kill9();
    eprintln!("killed at {}/{}", at_kill["processed"], at_kill["total"]);
    let node = Node::start_in(&dir, &[]);
    let c = node.client();
    let v = wait_until(&c, id, "the end", |v| v["status"] == "done").await;
    let expected: Vec<u64> = (0..N).filter(|i| i % 100 >= 90).collect();
    assert_eq!(
        v["counts"],
        json!({ "read": N, "copied": expected.len(), "filtered_out": N - expected.len() as u64, "invalid": 0 }),
        "{v}"
    );
    let copied = copied_events(&all_records(&c, "big_orders").await);
    assert_eq!(copied, expected, "every selected record exactly once");
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_topic_from_the_cli_counts_exactly_and_rejects_bad_input() {
    let node = Node::start(&[]);
    let c = node.client();
    setup(&c).await;
    produce(&c, 0..5000).await;
    let from = BASE_TS + 1000 * 10;
    let to = BASE_TS + 4000 * 10;
    let out = ok(&node.cli(&[
        "replay",
        "topic",
        "orders",
        "--to",
        "mid_orders",
        "--from-time",
        &from.to_string(),
        "--to-time",
        &to.to_string(),
        "--where",
        "amount < 30 AND customer <> 'c3'",
    ]));
    let expected: Vec<u64> = (1000..4000)
        .filter(|i| i % 100 < 30 && i % 13 != 3)
        .collect();
    assert!(out.contains("done"), "{out}");
    assert!(
        out.contains(&format!("copied {}", expected.len())),
        "exact counts at the end: {out}"
    );
    assert_eq!(
        copied_events(&all_records(&c, "mid_orders").await),
        expected
    );
    let (_, topic) = get(&c, "/v1/topics/mid_orders").await;
    assert_eq!(
        topic["partitions"].as_array().map(Vec::len),
        Some(2),
        "{topic}"
    );
    for (args, fix) in [
        (vec!["replay", "topic", "nosuch", "--to", "x"], "nosuch"),
        (
            vec!["replay", "topic", "orders", "--to", "orders"],
            "destination is the source",
        ),
        (
            vec![
                "replay",
                "topic",
                "orders",
                "--to",
                "x",
                "--where",
                "bogus > 1",
            ],
            "bogus",
        ),
        (
            vec![
                "replay",
                "topic",
                "orders",
                "--to",
                "x",
                "--from-time",
                "5",
                "--to-time",
                "4",
            ],
            "before",
        ),
        (
            vec![
                "replay",
                "topic",
                "orders",
                "--to",
                "x",
                "--from-time",
                "someday",
            ],
            "--from-time",
        ),
    ] {
        let o = node.cli(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(fix), "{args:?}: {}", stderr(&o));
    }
    // A topic without a declared schema can be copied, not filtered.
    create_topic(&c, "raw", 1, json!({})).await;
    produce_raw(&c, "raw", r#"[{"value":"x"},{"value":"y"}]"#).await;
    let o = node.cli(&["replay", "topic", "raw", "--to", "raw2", "--where", "a > 1"]);
    assert!(stderr(&o).contains("declare them first"), "{}", stderr(&o));
    let out = ok(&node.cli(&["replay", "topic", "raw", "--to", "raw2", "--output", "json"]));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["counts"]["copied"], 2, "{v}");
    assert_eq!(end_offsets(&c, "raw2").await, vec![2]);
    node.stop();
}
