//! A node restarted on the same data directory keeps topics, configs, records and groups;
//! SIGTERM shuts down cleanly (the log's clean-shutdown marker is left behind).

mod common;

use serde_json::json;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn restart_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let node = Node::start_in(&dir, &[]);
    let c = node.client();
    create_topic(
        &c,
        "orders",
        2,
        json!({ "durability": "always", "retention_ms": "7d", "max_record_bytes": 4096 }),
    )
    .await;
    create_topic(&c, "other", 1, json!({ "durability": "never" })).await;
    let r = produce_raw(&c, "orders", r#"[{"key":"a","value":{"n":1},"headers":{"h":"v"}},{"key":"b","value":{"n":2}},{"value":3,"partition":1}]"#).await;
    assert_eq!(r.status, 200);
    c.call(
        hyper::Method::POST,
        "/v1/groups/g/offsets",
        Some(json!({ "topic": "orders", "offsets": [{ "partition": 1, "offset": 1 }] })),
    )
    .await
    .unwrap();
    let (_, before_topic) = get(&c, "/v1/topics/orders").await;
    let (_, before_records) = get(&c, "/v1/topics/orders/records").await;
    let (_, before_group) = get(&c, "/v1/groups/g").await;
    node.stop();
    assert!(
        dir.join(".clean-shutdown").exists(),
        "SIGTERM must close the log cleanly"
    );

    let node = Node::start_in(&dir, &[]);
    let c = node.client();
    let (_, topic) = get(&c, "/v1/topics/orders").await;
    assert_eq!(topic["config"], before_topic["config"]);
    assert_eq!(topic["config"]["retention_ms"], 7 * 86_400_000u64);
    assert_eq!(topic["partitions"], before_topic["partitions"]);
    let (_, records) = get(&c, "/v1/topics/orders/records").await;
    assert_eq!(records, before_records);
    let (_, group) = get(&c, "/v1/groups/g").await;
    assert_eq!(
        group["partitions"][0]["committed"],
        before_group["partitions"][0]["committed"]
    );
    let (_, topics) = get(&c, "/v1/topics").await;
    assert_eq!(topics["topics"].as_array().unwrap().len(), 2);
    // New appends continue the offsets.
    let r = produce_raw(&c, "orders", r#"[{"value":4,"partition":1}]"#).await;
    assert_eq!(parse(&r)["offsets"][0]["offset"], 1);
    // A group fetch resumes from the commit made before the restart.
    let (_, v) = get(&c, "/v1/groups/g/topics/orders/records?partition=1").await;
    assert_eq!(v["records"][0]["value"], 4);
    node.stop();
}
