//! The tutorial our users follow (`shared/seed/000_ab05634db2f08a14.txt`), against a node that
//! serves the Kafka protocol, with only the host changed: its real-time dashboard's consumer
//! loop (rewritten with kafka-python, since its pykafka cannot speak to Kafka 4 or strata:
//! docs/kafka-api.md, "Tutorial") and its Flink source table and TUMBLE query, fed by a
//! kafka-python producer with `'properties.bootstrap.servers'` naming the node's Kafka port.

mod common;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use common::flink_orders::*;
use common::kafka::{python, run, test_file};
use common::*;

/// Sends `values` (JSON documents) to `topic` with kafka-python, acks=all.
fn produce_json(bootstrap: &str, topic: &str, values: &[String]) {
    let out = run(
        Command::new("python3")
            .arg(test_file("kafka_tutorial/produce_json.py"))
            .args([bootstrap, topic]),
        values.join("\n").as_bytes(),
    );
    let acked = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        acked.trim(),
        values.len().to_string(),
        "records acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_route_returns_the_latest_100_metrics() {
    let node = Node::start(&["--kafka", "127.0.0.1:0"]);
    // 150 metrics, written as Python's json.dumps writes them, so that the route's answer
    // (json.dumps of the decoded values) can be compared byte for byte.
    let metrics: Vec<String> = (0..150)
        .map(|i| {
            format!(
                r#"{{"host": "web-{}", "metric": "cpu", "value": {}, "ts": {}}}"#,
                i % 3,
                (i * 37) % 101,
                1_714_557_600_000u64 + i * 1000
            )
        })
        .collect();
    produce_json(node.bootstrap(), "metrics", &metrics);
    // The topic was auto-created by the producer, as Kafka does; HTTP sees the same log.
    assert_eq!(end_offsets(&node.client(), "metrics").await, [150]);

    let shown = python("kafka_tutorial/dashboard_metrics.py", &[node.bootstrap()]);
    assert_eq!(shown, format!("[{}]\n", metrics[50..].join(", ")));

    // Fewer than 100 metrics: all of them, and the route still answers at once.
    let node = Node::start(&["--kafka", "127.0.0.1:0"]);
    produce_json(node.bootstrap(), "metrics", &metrics[..7]);
    let shown = python("kafka_tutorial/dashboard_metrics.py", &[node.bootstrap()]);
    assert_eq!(shown, format!("[{}]\n", metrics[..7].join(", ")));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flink_table_reads_what_a_kafka_producer_sends() {
    let node = Node::start(&["--kafka", "127.0.0.1:0"]);
    let c = node.client();
    // The tutorial's statements as written, `localhost:9092` replaced by the node's port.
    let ddl = orders_ddl(node.bootstrap());
    let r = sql(
        &c,
        &format!("{ddl};\nCREATE VIEW order_totals AS {ORDERS_SELECT}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let outcomes: Vec<Value> = parse(&r)["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| o["kind"].clone())
        .collect();
    assert_eq!(outcomes, ["source_created", "view_created"]);
    let (_, described) = get(&c, "/v1/views/order_totals/definition").await;
    assert_eq!(described["plan"]["source"]["topic"], "orders");

    // The orders go in over the Kafka protocol, as the tutorial's Python producers send them.
    let orders = orders();
    let values: Vec<String> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| order_json(i, o).to_string())
        .collect();
    produce_json(node.bootstrap(), "orders", &values);

    // `result.execute().print()`: the SELECT as a continuous query, whose rows are the
    // windows the watermark closed (the last order's hour stays open, as in Flink).
    let closed = order_totals(&orders[..orders.len() - 1]);
    let response = c
        .send(
            Method::POST,
            &format!("/v1/sql?limit={}", closed.len()),
            Some((Bytes::from(ORDERS_SELECT), "text/plain")),
        )
        .await
        .expect("query");
    assert_eq!(response.status(), 200);
    let rows = read_lines(
        &mut response.into_body(),
        usize::MAX,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(rows_as_totals(&rows), closed);
    assert_eq!(rows.len(), closed.len(), "one row per closed window");

    // The view holds every window, the open one too.
    let v = caught_up(&c, "order_totals", orders.len() as u64).await;
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows_as_totals(rows), order_totals(&orders));
}
