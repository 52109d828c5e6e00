//! Consumer groups are one store: what a Kafka consumer group commits is the lag that
//! `strata group list|describe` and `/v1/groups` show, and `strata group reset` moves where
//! the Kafka consumer resumes (kafka-python against the real binary).

mod common;

use serde_json::{Value, json};

use common::kafka::python;
use common::*;

/// Produces `n` records over HTTP to `partition` of `topic`, values `"<prefix><i>"`.
async fn produce(
    c: &strata_server::client::Client,
    topic: &str,
    partition: u32,
    prefix: &str,
    n: usize,
) {
    let records: Vec<Value> = (0..n)
        .map(|i| json!({ "value": format!("{prefix}{i}"), "partition": partition }))
        .collect();
    let r = produce_raw(c, topic, serde_json::to_vec(&records).expect("json")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// `partition offset value` lines, as the consumer script prints them (values are the JSON
/// text produced over HTTP, so a string keeps its quotes).
fn consume(node: &Node, group: &str, count: usize) -> Vec<String> {
    python(
        "kafka_groups/consume_commit.py",
        &[node.bootstrap(), "clicks", group, &count.to_string()],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_commits_show_as_lag_and_a_reset_moves_the_kafka_consumer() {
    let node = Node::start(&["--kafka", "127.0.0.1:0"]);
    let c = node.client();
    create_topic(&c, "clicks", 2, json!({})).await;
    produce(&c, "clicks", 0, "a", 6).await;
    produce(&c, "clicks", 1, "b", 4).await;

    // A Kafka consumer group reads everything and commits.
    let read = consume(&node, "dashboard", 10);
    assert_eq!(read.len(), 10, "{read:?}");
    assert_eq!(read[0], r#"0 0 "a0""#);
    assert_eq!(read[9], r#"1 3 "b3""#);

    // Five more records: the group's lag, as strata sees it, is exactly those.
    produce(&c, "clicks", 0, "a", 2).await;
    produce(&c, "clicks", 1, "c", 3).await;
    let (status, groups) = get(&c, "/v1/groups").await;
    assert_eq!(status, 200);
    let dashboard = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == "dashboard")
        .unwrap_or_else(|| panic!("the Kafka group is listed: {groups}"));
    assert_eq!(dashboard["lag"], 5, "{dashboard}");
    assert_eq!(dashboard["topics"], json!(["clicks"]));
    let (_, described) = get(&c, "/v1/groups/dashboard").await;
    let committed: Vec<(u64, u64, u64)> = described["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            (
                p["committed"].as_u64().expect("committed"),
                p["end_offset"].as_u64().expect("end"),
                p["lag"].as_u64().expect("lag"),
            )
        })
        .collect();
    assert_eq!(committed, [(6, 8, 2), (4, 7, 3)]);
    let listed = ok(&node.cli(&["group", "list"]));
    let line = listed
        .lines()
        .find(|l| l.contains("dashboard"))
        .unwrap_or_else(|| panic!("strata group list shows the Kafka group: {listed}"));
    assert!(
        line.split_whitespace().any(|w| w == "5"),
        "its lag is 5: {line:?}"
    );

    // The Kafka consumer resumes where it committed: only the five new records.
    let read = consume(&node, "dashboard", 5);
    assert_eq!(
        read,
        [
            r#"0 6 "a0""#,
            r#"0 7 "a1""#,
            r#"1 4 "c0""#,
            r#"1 5 "c1""#,
            r#"1 6 "c2""#
        ]
    );

    // strata moves the group back: partition 1 to offset 2, partition 0 to the beginning.
    ok(&node.cli(&[
        "group",
        "reset",
        "dashboard",
        "--topic",
        "clicks",
        "--partition",
        "1",
        "--to-offset",
        "2",
    ]));
    ok(&node.cli(&[
        "group",
        "reset",
        "dashboard",
        "--topic",
        "clicks",
        "--partition",
        "0",
        "--to-earliest",
    ]));
    let read = consume(&node, "dashboard", 8 + 5);
    assert_eq!(read.len(), 13, "{read:?}");
    assert_eq!(read[0], r#"0 0 "a0""#);
    assert_eq!(read[8], r#"1 2 "b2""#);
    assert_eq!(read[12], r#"1 6 "c2""#);
    let (_, described) = get(&c, "/v1/groups/dashboard").await;
    assert_eq!(described["lag"], 0, "{described}");
}
