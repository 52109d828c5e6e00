//! Every bad input gets a 4xx whose message says what to fix, and leaves the log unchanged.

mod common;

use bytes::Bytes;
use hyper::Method;
use serde_json::json;

use common::*;

/// Produces a body that must be rejected with `status`; checks the message mentions every
/// `needles` and that no partition moved.
async fn rejected(
    c: &strata_server::client::Client,
    topic: &str,
    body: &str,
    status: u16,
    needles: &[&str],
) {
    let before = end_offsets(c, topic).await;
    let r = produce_raw(c, topic, body.to_owned()).await;
    let msg = expect_error(&r, status);
    for n in needles {
        assert!(
            msg.contains(n),
            "message {msg:?} should mention {n:?} (body {body})"
        );
    }
    assert_eq!(
        end_offsets(c, topic).await,
        before,
        "a rejected request appended records: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_produce_bodies_append_nothing() {
    let node = Node::start(&["--max-body-bytes", "64KiB"]);
    let c = node.client();
    create_topic(
        &c,
        "t",
        2,
        json!({ "durability": "never", "segment_bytes": "64KiB", "max_record_bytes": 1000 }),
    )
    .await;
    produce_raw(
        &c,
        "t",
        r#"[{"value":"seed","partition":0},{"value":"seed","partition":1}]"#,
    )
    .await;

    // Malformed JSON: the record index and the problem.
    rejected(&c, "t", r#"[{"value":1},{"value":2,}]"#, 400, &["record 1"]).await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"value":2}"#,
        400,
        &["record 2", "truncated"],
    )
    .await;
    rejected(
        &c,
        "t",
        "{\"value\":1}\n{\"value\":oops}\n",
        400,
        &["record 1"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"valeu":2}]"#,
        400,
        &["record 1", "valeu"],
    )
    .await;
    rejected(&c, "t", r#"[{"value":1},[1,2]]"#, 400, &["record 1"]).await;
    rejected(&c, "t", r#""just a string""#, 400, &["JSON array"]).await;
    rejected(&c, "t", "", 400, &["empty"]).await;
    rejected(&c, "t", "[]", 400, &["no records"]).await;
    // Semantic problems, found before anything is appended even when earlier records are fine.
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"key":"k"}]"#,
        400,
        &["record 1", "needs a value"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"value":1,"value_b64":"AA=="}]"#,
        400,
        &["record 1", "exactly one"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"value_b64":"not base64!"}]"#,
        400,
        &["record 1", "base64"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"key":5,"value":1}]"#,
        400,
        &["record 1", "key must be a JSON string"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"value":1,"timestamp":"yesterday"}]"#,
        400,
        &["record 1", "RFC 3339"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"value":1,"timestamp":true}]"#,
        400,
        &["record 1", "timestamp"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"value":1,"headers":{"h":1}}]"#,
        400,
        &["record 1", "header"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1,"partition":0},{"value":1,"partition":7}]"#,
        400,
        &["record 1", "partitions 0..=1"],
    )
    .await;
    rejected(
        &c,
        "t",
        r#"[{"value":1},{"value":1,"partition":-1}]"#,
        400,
        &["record 1", "partition"],
    )
    .await;
    // Over the topic's max_record_bytes: 413 naming the record and the limit.
    let big = format!(r#"[{{"value":1}},{{"value_text":"{}"}}]"#, "x".repeat(2000));
    rejected(&c, "t", &big, 413, &["record 1", "max_record_bytes"]).await;
    // Over the node's body limit: 413 saying what to do.
    let huge = format!(r#"[{{"value_text":"{}"}}]"#, "y".repeat(70 * 1024));
    rejected(&c, "t", &huge, 413, &["limit", "fewer records"]).await;

    // Unknown topic: 404 saying how to create it.
    let r = produce_raw(&c, "missing", r#"[{"value":1}]"#).await;
    assert!(expect_error(&r, 404).contains("create it first"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_topics_groups_offsets_and_queries() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "t", 2, json!({ "durability": "never" })).await;
    produce_raw(
        &c,
        "t",
        r#"[{"value":1,"partition":0},{"value":2,"partition":0}]"#,
    )
    .await;
    let post = |body: serde_json::Value| {
        let c = c.clone();
        async move {
            c.raw(
                Method::POST,
                "/v1/topics",
                Some((Bytes::from(body.to_string()), "application/json")),
            )
            .await
            .unwrap()
        }
    };
    // Bad topic names: 400 naming the rule; nothing is created.
    for name in ["a/b", "..", "", "sp ace", &"x".repeat(250)] {
        let msg = expect_error(&post(json!({ "name": name })).await, 400);
        assert!(msg.contains("name"), "{msg}");
    }
    let msg = expect_error(&post(json!({ "name": "ok", "partitions": 0 })).await, 400);
    assert!(msg.contains("partitions must be between"), "{msg}");
    let msg = expect_error(
        &post(json!({ "name": "ok", "config": { "segment_size": 5 } })).await,
        400,
    );
    assert!(
        msg.contains("segment_size") && msg.contains("segment_bytes"),
        "{msg}"
    );
    let msg = expect_error(
        &post(json!({ "name": "ok", "config": { "retention_ms": "soon" } })).await,
        400,
    );
    assert!(msg.contains("retention_ms"), "{msg}");
    let msg = expect_error(
        &post(json!({ "name": "ok", "config": { "durability": "sometimes" } })).await,
        400,
    );
    assert!(msg.contains("durability"), "{msg}");
    let r = c
        .raw(
            Method::POST,
            "/v1/topics",
            Some((Bytes::from("{nope"), "application/json")),
        )
        .await
        .unwrap();
    assert!(expect_error(&r, 400).contains("should look like"));
    let msg = expect_error(&post(json!({ "name": "t" })).await, 409);
    assert!(msg.contains("already exists"), "{msg}");
    let (_, topics) = get(&c, "/v1/topics").await;
    assert_eq!(
        topics["topics"].as_array().unwrap().len(),
        1,
        "a rejected create left a topic"
    );

    // Unknown topic / group / partition / route: 404.
    let r = c.raw(Method::GET, "/v1/topics/nope", None).await.unwrap();
    expect_error(&r, 404);
    let r = c
        .raw(Method::DELETE, "/v1/topics/nope", None)
        .await
        .unwrap();
    expect_error(&r, 404);
    let r = c.raw(Method::GET, "/v1/groups/nobody", None).await.unwrap();
    assert!(expect_error(&r, 404).contains("nobody"));
    let r = c
        .raw(Method::GET, "/v1/topics/t/records?partition=9", None)
        .await
        .unwrap();
    assert!(expect_error(&r, 404).contains("partitions 0..2"));
    let r = c.raw(Method::GET, "/v2/whatever", None).await.unwrap();
    assert!(expect_error(&r, 404).contains("openapi"));
    let r = c.raw(Method::PUT, "/v1/topics", None).await.unwrap();
    expect_error(&r, 405);

    // Bad offsets: 416 with the valid range.
    let r = c
        .raw(
            Method::GET,
            "/v1/topics/t/records?partition=0&offset=3",
            None,
        )
        .await
        .unwrap();
    let msg = expect_error(&r, 416);
    assert!(msg.contains("0..=2"), "{msg}");
    assert_eq!(
        parse(&r)["error"]["valid_range"],
        json!({ "start": 0, "end": 2 })
    );
    let r = c
        .raw(Method::GET, "/v1/topics/t/records?offset=-1", None)
        .await
        .unwrap();
    expect_error(&r, 400);
    let commit = |body: serde_json::Value| {
        let c = c.clone();
        async move {
            c.raw(
                Method::POST,
                "/v1/groups/g/offsets",
                Some((Bytes::from(body.to_string()), "application/json")),
            )
            .await
            .unwrap()
        }
    };
    let r = commit(json!({ "topic": "t", "offsets": [{ "partition": 0, "offset": 99 }] })).await;
    assert!(expect_error(&r, 416).contains("0..=2"));
    let r = commit(json!({ "topic": "t", "offsets": [{ "partition": 5, "offset": 0 }] })).await;
    expect_error(&r, 404);
    let r = commit(json!({ "topic": "t", "offset": 1 })).await;
    expect_error(&r, 400);
    let r = c
        .raw(
            Method::POST,
            "/v1/groups/bad%20name/reset",
            Some((Bytes::from("{}"), "application/json")),
        )
        .await
        .unwrap();
    assert!(r.status.is_client_error());
    let r = c
        .raw(
            Method::POST,
            "/v1/groups/g/reset",
            Some((
                Bytes::from(r#"{"topic":"t","to":"offset"}"#),
                "application/json",
            )),
        )
        .await
        .unwrap();
    assert!(expect_error(&r, 400).contains("\"offset\": N"));
    let r = c
        .raw(
            Method::POST,
            "/v1/groups/g/reset",
            Some((
                Bytes::from(r#"{"topic":"t","to":"offset","offset":50}"#),
                "application/json",
            )),
        )
        .await
        .unwrap();
    expect_error(&r, 416);
    // None of the rejected calls created the group.
    let (_, groups) = get(&c, "/v1/groups").await;
    assert_eq!(groups["groups"], json!([]));

    // Bad query parameters: 400 naming them.
    for (q, needle) in [
        ("ofset=1", "unknown query parameter"),
        ("max=lots", "max must be an integer"),
        ("max=100001", "max must be an integer"),
        ("wait_ms=99999999", "wait_ms"),
        ("follow=maybe", "follow must be true or false"),
        ("offset=1&timestamp=2", "not both"),
        ("timestamp=someday", "RFC 3339"),
        ("format=xml", "format must be"),
    ] {
        let r = c
            .raw(Method::GET, &format!("/v1/topics/t/records?{q}"), None)
            .await
            .unwrap();
        let msg = expect_error(&r, 400);
        assert!(msg.contains(needle), "{q}: {msg}");
    }
    assert_eq!(end_offsets(&c, "t").await, [2, 0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_token_guards_writes_and_admin() {
    let node = Node::start(&["--auth-token", "s3cret"]);
    let anon = node.anonymous();
    let c = node.client();
    create_topic(&c, "t", 1, json!({ "durability": "never" })).await;
    produce_raw(&c, "t", r#"[{"value":1}]"#).await;

    let r = produce_raw(&anon, "t", r#"[{"value":2}]"#).await;
    assert!(expect_error(&r, 401).contains("Authorization: Bearer"));
    assert_eq!(r.status, 401);
    let wrong = strata_server::client::Client::new(&node.url, Some("guess".into())).unwrap();
    expect_error(&produce_raw(&wrong, "t", r#"[{"value":2}]"#).await, 401);
    let r = anon
        .raw(Method::DELETE, "/v1/topics/t", None)
        .await
        .unwrap();
    expect_error(&r, 401);
    let r = anon
        .raw(
            Method::POST,
            "/v1/topics",
            Some((Bytes::from(r#"{"name":"x"}"#), "application/json")),
        )
        .await
        .unwrap();
    expect_error(&r, 401);
    let r = anon
        .raw(Method::GET, "/v1/groups/g/topics/t/records", None)
        .await
        .unwrap();
    expect_error(&r, 401);
    assert_eq!(end_offsets(&c, "t").await, [1]);
    // Reads stay open.
    let (s, v) = get(&anon, "/v1/topics/t/records").await;
    assert_eq!((s, v["count"].as_u64()), (200, Some(1)));
    let (s, _) = get(&anon, "/health").await;
    assert_eq!(s, 200);
}
