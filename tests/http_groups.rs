//! Consumer groups over HTTP: Kafka-style auto-commit, explicit commits, lag, resets,
//! session expiry (redelivery), and deletion.

mod common;

use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};

use common::*;

fn offsets_of(v: &Value) -> Vec<u64> {
    v["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["offset"].as_u64().expect("offset"))
        .collect()
}

async fn post(c: &strata_server::client::Client, path: &str, body: Value) -> Value {
    c.call(Method::POST, path, Some(body)).await.expect(path)
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_commit_commits_what_earlier_fetches_delivered() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "t", 1, json!({ "durability": "never" })).await;
    produce_raw(
        &c,
        "t",
        r#"[{"value":0},{"value":1},{"value":2},{"value":3}]"#,
    )
    .await;

    let (s, v) = get(&c, "/v1/groups/g/topics/t/records?max=2").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(offsets_of(&v), [0, 1]);
    let (_, g) = get(&c, "/v1/groups/g").await;
    assert_eq!(
        g["lag"], 4,
        "the first fetch commits only the starting position: {g}"
    );

    let (_, v) = get(&c, "/v1/groups/g/topics/t/records?max=2").await;
    assert_eq!(offsets_of(&v), [2, 3]);
    let (_, g) = get(&c, "/v1/groups/g").await;
    assert_eq!(g["partitions"][0]["committed"], 2);
    assert_eq!(g["lag"], 2);

    let (_, v) = get(&c, "/v1/groups/g/topics/t/records?max=2").await;
    assert_eq!(v["count"], 0);
    let (_, g) = get(&c, "/v1/groups/g").await;
    assert_eq!(g["lag"], 0);
    let (_, list) = get(&c, "/v1/groups").await;
    assert_eq!(
        list["groups"],
        json!([{ "group": "g", "topics": ["t"], "lag": 0 }])
    );

    // Lag grows with new records; metrics export it.
    produce_raw(&c, "t", r#"[{"value":4}]"#).await;
    let (_, g) = get(&c, "/v1/groups/g").await;
    assert_eq!(g["lag"], 1);
    let m = c.raw(Method::GET, "/metrics", None).await.unwrap();
    let text = String::from_utf8(m.body.to_vec()).unwrap();
    assert!(
        text.contains("strata_group_lag{group=\"g\",topic=\"t\",partition=\"0\"} 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_session_redelivers_from_the_commit() {
    let node = Node::start(&["--group-session-timeout", "200ms"]);
    let c = node.client();
    create_topic(&c, "t", 1, json!({ "durability": "never" })).await;
    produce_raw(&c, "t", r#"[{"value":0},{"value":1},{"value":2}]"#).await;
    let (_, v) = get(&c, "/v1/groups/g/topics/t/records?max=2").await;
    assert_eq!(offsets_of(&v), [0, 1]);
    // The consumer went away without coming back: at-least-once means 0 and 1 come again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, v) = get(&c, "/v1/groups/g/topics/t/records?max=2").await;
    assert_eq!(offsets_of(&v), [0, 1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_commits_resets_and_delete() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "t", 2, json!({ "durability": "never" })).await;
    let mut body = String::new();
    for i in 0..10 {
        body.push_str(&format!(
            "{{\"value\":{i},\"partition\":{},\"timestamp\":{}}}\n",
            i % 2,
            1000 * i
        ));
    }
    produce_raw(&c, "t", body).await;

    // Without auto-commit, fetches read from the commit until the client commits.
    let (_, v) = get(
        &c,
        "/v1/groups/m/topics/t/records?auto_commit=false&partition=0&max=3",
    )
    .await;
    assert_eq!(offsets_of(&v), [0, 1, 2]);
    let (_, v) = get(
        &c,
        "/v1/groups/m/topics/t/records?auto_commit=false&partition=0&max=3",
    )
    .await;
    assert_eq!(offsets_of(&v), [0, 1, 2]);
    let (s, _) = get(&c, "/v1/groups/m").await;
    assert_eq!(s, 404, "no commit yet, so no group");
    post(
        &c,
        "/v1/groups/m/offsets",
        json!({ "topic": "t", "offsets": [{ "partition": 0, "offset": 3 }] }),
    )
    .await;
    let (_, v) = get(
        &c,
        "/v1/groups/m/topics/t/records?auto_commit=false&partition=0&max=3",
    )
    .await;
    assert_eq!(offsets_of(&v), [3, 4]);
    let (_, g) = get(&c, "/v1/groups/m").await;
    assert_eq!(g["partitions"][0]["lag"], 2);

    // reset=latest for partitions without a commit.
    let (_, v) = get(
        &c,
        "/v1/groups/m/topics/t/records?auto_commit=false&partition=1&reset=latest",
    )
    .await;
    assert_eq!(v["count"], 0);

    // Resets: earliest, latest, offset, timestamp; one partition or all.
    let r = post(
        &c,
        "/v1/groups/m/reset",
        json!({ "topic": "t", "to": "latest" }),
    )
    .await;
    assert_eq!(
        r["committed"],
        json!([{ "partition": 0, "offset": 5 }, { "partition": 1, "offset": 5 }])
    );
    let (_, g) = get(&c, "/v1/groups/m").await;
    assert_eq!(g["lag"], 0);
    post(
        &c,
        "/v1/groups/m/reset",
        json!({ "topic": "t", "to": "earliest", "partitions": [1] }),
    )
    .await;
    let (_, g) = get(&c, "/v1/groups/m").await;
    assert_eq!(g["lag"], 5);
    // Records 6 and 8 (t = 6000, 8000) are on partition 0 at offsets 3, 4.
    let r = post(
        &c,
        "/v1/groups/m/reset",
        json!({ "topic": "t", "to": "timestamp", "timestamp": 5500, "partitions": [0] }),
    )
    .await;
    assert_eq!(r["committed"], json!([{ "partition": 0, "offset": 3 }]));
    let r = post(
        &c,
        "/v1/groups/m/reset",
        json!({ "topic": "t", "to": "offset", "offset": 1 }),
    )
    .await;
    assert_eq!(
        r["committed"],
        json!([{ "partition": 0, "offset": 1 }, { "partition": 1, "offset": 1 }])
    );
    // An auto-commit session restarts from a reset.
    let (_, v) = get(&c, "/v1/groups/m/topics/t/records?partition=0&max=1").await;
    assert_eq!(offsets_of(&v), [1]);

    let r = c.raw(Method::DELETE, "/v1/groups/m", None).await.unwrap();
    assert_eq!(r.status, 200);
    let (s, _) = get(&c, "/v1/groups/m").await;
    assert_eq!(s, 404);
    let r = c.raw(Method::DELETE, "/v1/groups/m", None).await.unwrap();
    expect_error(&r, 404);

    // Deleting a topic drops it from groups.
    post(
        &c,
        "/v1/groups/k/offsets",
        json!({ "topic": "t", "offsets": [{ "partition": 0, "offset": 1 }] }),
    )
    .await;
    let r = c.raw(Method::DELETE, "/v1/topics/t", None).await.unwrap();
    assert_eq!(r.status, 200);
    let (_, g) = get(&c, "/v1/groups/k").await;
    assert_eq!(g["partitions"], json!([]));
    let r = c
        .raw(Method::GET, "/v1/groups/k/topics/t/records", None)
        .await
        .unwrap();
    expect_error(&r, 404);
}
