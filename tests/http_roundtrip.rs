//! Produce → consume over raw HTTP: keys, headers, timestamps, JSON/text/binary values,
//! NDJSON bodies, reads by offset and time, long polls, follow streams, metrics.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{Value, json};

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn records_round_trip_with_keys_headers_timestamps_and_binary_values() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "events", 3, json!({ "durability": "never" })).await;

    let bin: Vec<u8> = (0..=255u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bin);
    let body = json!([
        { "key": "user-1", "value": { "n": 1, "s": "é\n\"q\"" }, "timestamp": 1_700_000_000_000i64,
          "headers": { "source": "web", "trace": "abc" } },
        { "key_b64": base64::engine::general_purpose::STANDARD.encode([0xff, 0x00]), "value_b64": b64, "partition": 0,
          "headers": [{ "key": "h", "value_b64": base64::engine::general_purpose::STANDARD.encode([0x80]) }, { "key": "h", "value": "again" }] },
        { "value_text": "plain words", "timestamp": "2023-11-14T22:13:21Z", "partition": 1 },
        { "value": null, "partition": 1 },
        { "value": "a json string", "partition": 1 },
    ]);
    let r = produce_raw(&c, "events", body.to_string()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let offsets = parse(&r)["offsets"].clone();
    assert_eq!(offsets.as_array().unwrap().len(), 5);
    let p0 = offsets[0]["partition"].as_u64().unwrap();
    // Kafka's murmur2 places "user-1" on the same partition every time.
    let again = produce_raw(&c, "events", r#"{"key":"user-1","value":2}"#).await;
    assert_eq!(parse(&again)["offsets"][0]["partition"].as_u64(), Some(p0));
    assert_eq!(
        p0,
        u64::from(strata_log::partitioner::partition_for_key(b"user-1", 3))
    );
    assert_eq!(
        p0, 2,
        "the test places other records beside user-1's partition"
    );
    assert_eq!(offsets[1], json!({ "partition": 0, "offset": 0 }));
    assert_eq!(offsets[2], json!({ "partition": 1, "offset": 0 }));
    assert_eq!(offsets[4], json!({ "partition": 1, "offset": 2 }));

    // Keyed JSON value with headers and an explicit timestamp.
    let (s, v) = get(&c, &format!("/v1/topics/events/records?partition={p0}")).await;
    assert_eq!(s, 200, "{v}");
    let rec = &v["records"][0];
    assert_eq!(rec["key"], "user-1");
    assert_eq!(rec["value"], json!({ "n": 1, "s": "é\n\"q\"" }));
    assert_eq!(rec["timestamp"], 1_700_000_000_000i64);
    assert_eq!(
        rec["headers"],
        json!([{ "key": "source", "value": "web" }, { "key": "trace", "value": "abc" }])
    );

    // Binary key, value and header come back as base64, byte for byte.
    let (_, v) = get(&c, "/v1/topics/events/records?partition=0").await;
    let rec = &v["records"][0];
    assert_eq!(rec["value_b64"], b64.as_str());
    assert_eq!(rec["key_b64"], "/wA=");
    assert_eq!(
        rec["headers"][0],
        json!({ "key": "h", "value_b64": "gA==" })
    );
    assert_eq!(rec["headers"][1], json!({ "key": "h", "value": "again" }));
    assert!(rec["timestamp"].as_i64().unwrap() > 1_700_000_000_000);

    // Text, null and JSON string values; RFC 3339 timestamps.
    let (_, v) = get(&c, "/v1/topics/events/records?partition=1").await;
    let recs = v["records"].as_array().unwrap();
    assert_eq!(recs[0]["value_text"], "plain words");
    assert_eq!(recs[0]["timestamp"], 1_700_000_001_000i64);
    assert_eq!(recs[0]["key"], Value::Null);
    assert_eq!(recs[1]["value"], Value::Null);
    assert!(
        recs[1].as_object().unwrap().contains_key("value"),
        "a tombstone reads back as \"value\": null: {}",
        recs[1]
    );
    assert_eq!(recs[2]["value"], "a json string");
    assert_eq!(v["next_offsets"], json!([{ "partition": 1, "offset": 3 }]));

    // format=base64 forces bytes out.
    let (_, v) = get(
        &c,
        "/v1/topics/events/records?partition=1&format=base64&max=1",
    )
    .await;
    assert_eq!(v["records"][0]["value_b64"], "cGxhaW4gd29yZHM=");
    assert_eq!(v["count"], 1);

    // `"value": null` stored a tombstone: no bytes at all (Kafka's null value).
    let (_, v) = get(
        &c,
        "/v1/topics/events/records?partition=1&format=base64&offset=1&max=1",
    )
    .await;
    assert_eq!(v["records"][0]["value_b64"], "");
}

#[tokio::test(flavor = "multi_thread")]
async fn ndjson_bodies_offsets_timestamps_and_paging() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "t", 1, json!({ "durability": "never" })).await;
    let mut body = String::new();
    for i in 0..100 {
        body.push_str(&format!(
            "{{\"value\":{{\"i\":{i}}},\"timestamp\":{}}}\n",
            1000 + i * 10
        ));
    }
    let r = produce_raw(&c, "t", body).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        parse(&r)["offsets"][99],
        json!({ "partition": 0, "offset": 99 })
    );

    let (_, v) = get(&c, "/v1/topics/t/records?offset=40&max=5").await;
    let is: Vec<u64> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"]["i"].as_u64().unwrap())
        .collect();
    assert_eq!(is, [40, 41, 42, 43, 44]);
    assert_eq!(v["next_offsets"][0]["offset"], 45);

    // By time: the first record at or after t=1505 is i=51 (t=1510).
    let (_, v) = get(&c, "/v1/topics/t/records?timestamp=1505&max=1").await;
    assert_eq!(v["records"][0]["offset"], 51);
    // Past every record: nothing, positioned at the end.
    let (_, v) = get(&c, "/v1/topics/t/records?timestamp=999999").await;
    assert_eq!(v["count"], 0);
    assert_eq!(v["next_offsets"][0]["offset"], 100);
    // latest = the end.
    let (_, v) = get(&c, "/v1/topics/t/records?offset=latest").await;
    assert_eq!(v["count"], 0);

    // Paging through everything returns every record once.
    let mut offset = 0;
    let mut seen = 0;
    loop {
        let (_, v) = get(&c, &format!("/v1/topics/t/records?offset={offset}&max=7")).await;
        let n = v["count"].as_u64().unwrap();
        if n == 0 {
            break;
        }
        seen += n;
        offset = v["next_offsets"][0]["offset"].as_u64().unwrap();
    }
    assert_eq!(seen, 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn long_poll_wakes_on_produce() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "lp", 2, json!({ "durability": "never" })).await;
    let c2 = c.clone();
    let started = Instant::now();
    let waiter =
        tokio::spawn(
            async move { get(&c2, "/v1/topics/lp/records?offset=latest&wait_ms=10000").await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = produce_raw(&c, "lp", r#"[{"value":"wake up","partition":1}]"#).await;
    assert_eq!(r.status, 200);
    let (status, v) = waiter.await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["records"][0]["value"], "wake up");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the poll waited for its timeout"
    );

    // With nothing to read, it returns empty after wait_ms.
    let t = Instant::now();
    let (_, v) = get(&c, "/v1/topics/lp/records?offset=latest&wait_ms=300").await;
    assert_eq!(v["count"], 0);
    assert!(t.elapsed() >= Duration::from_millis(250));
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_streams_ndjson_until_max() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "f", 2, json!({ "durability": "never" })).await;
    produce_raw(&c, "f", r#"[{"value":0,"partition":0}]"#).await;
    let response = c
        .send(
            Method::GET,
            "/v1/topics/f/records?follow=true&offset=earliest&max=5",
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let c2 = c.clone();
    tokio::spawn(async move {
        for i in 1..5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            produce_raw(
                &c2,
                "f",
                format!("[{{\"value\":{i},\"partition\":{}}}]", i % 2),
            )
            .await;
        }
    });
    let body = tokio::time::timeout(Duration::from_secs(20), response.into_body().collect())
        .await
        .expect("the stream ends after max records")
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let values: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["value"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(values, [0, 1, 2, 3, 4], "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_and_openapi() {
    let node = Node::start(&[]);
    let c = node.client();
    create_topic(&c, "m", 1, json!({ "durability": "never" })).await;
    produce_raw(&c, "m", r#"[{"value":1},{"value":2}]"#).await;
    get(&c, "/v1/topics/m/records").await;
    let (s, v) = get(&c, "/health").await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    let r = c.raw(Method::GET, "/metrics", None).await.unwrap();
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    for needle in [
        "strata_topic_records_in_total{topic=\"m\"} 2",
        "strata_topic_records_out_total{topic=\"m\"} 2",
        "strata_partition_end_offset{topic=\"m\",partition=\"0\"} 2",
        "strata_http_requests_total{method=\"POST\",route=\"/v1/topics/{topic}/records\",status=\"200\"} 1",
        "strata_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/topics/{topic}/records\",le=\"+Inf\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let (s, v) = get(&c, "/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/topics",
        "/v1/topics/{topic}/records",
        "/v1/groups/{group}/topics/{topic}/records",
    ] {
        assert!(
            v["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
}
