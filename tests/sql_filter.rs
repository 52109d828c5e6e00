//! `agg(…) FILTER (WHERE …)` and `DATE_FORMAT` end to end through the real binary: a Nexmark
//! q17-like view per auction and day over a stream, a filtered count and sum over a table
//! whose updates retract, both read back with `GET /v1/views/{v}`, and the 400s a wrong
//! FILTER or pattern gets from `POST /v1/sql`.

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

const SCHEMA: &str = "
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, datetime TIMESTAMP)
  WITH (kafka_topic='bid', value_format='JSON', timestamp='datetime');
CREATE TABLE users (id VARCHAR PRIMARY KEY, region VARCHAR, x BIGINT)
  WITH (kafka_topic='users', value_format='JSON');
CREATE TABLE auction_days AS SELECT auction, DATE_FORMAT(datetime, 'yyyy-MM-dd') AS day,
    COUNT(*) AS total,
    COUNT(*) FILTER (WHERE price < 100) AS cheap,
    COUNT(DISTINCT bidder) FILTER (WHERE price >= 100) AS dear_bidders,
    SUM(price) FILTER (WHERE price < 100) AS cheap_sum,
    MAX(DATE_FORMAT(datetime, 'HH:mm')) AS last_minute
  FROM bid GROUP BY auction, DATE_FORMAT(datetime, 'yyyy-MM-dd');
CREATE TABLE big_by_region AS SELECT region, COUNT(*) AS n,
    COUNT(*) FILTER (WHERE x > 5) AS big, SUM(x) FILTER (WHERE x > 5) AS big_sum
  FROM users GROUP BY region;";

/// 2024-03-05 00:00:00 UTC, epoch ms.
const DAY0: i64 = 1_709_596_800_000;
const HOUR: i64 = 3_600_000;

async fn produce(c: &Client, topic: &str, records: &[(&str, Value)]) {
    let body: Vec<Value> = records
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
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

fn bid(auction: i64, bidder: i64, price: i64, at: i64) -> (&'static str, Value) {
    (
        "",
        json!({"auction": auction, "bidder": bidder, "price": price, "datetime": at}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn filtered_aggregates_and_date_format_over_http() {
    let node = Node::start(&[]);
    let c = node.client();
    let r = sql(&c, SCHEMA).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    produce(
        &c,
        "bid",
        &[
            bid(1, 7, 10, DAY0 + HOUR),
            bid(1, 8, 30, DAY0 + 2 * HOUR),
            bid(1, 7, 500, DAY0 + 10 * HOUR + 30 * 60_000),
            bid(1, 9, 40, DAY0 + 24 * HOUR + 60_000),
            bid(2, 5, 300, DAY0 + 23 * HOUR + 59 * 60_000),
            bid(2, 6, 200, DAY0 + 5 * HOUR),
        ],
    )
    .await;
    // Day 2 of auction 1 has no bid of 100 or more: its distinct count is 0; auction 2 has no
    // cheap bid, so its cheap_sum is NULL (left out of the row).
    rows_become(
        &c,
        "auction_days",
        json!([
            {"auction": 1, "day": "2024-03-05", "total": 3, "cheap": 2, "dear_bidders": 1,
             "cheap_sum": 40, "last_minute": "10:30"},
            {"auction": 1, "day": "2024-03-06", "total": 1, "cheap": 1, "dear_bidders": 0,
             "cheap_sum": 40, "last_minute": "00:01"},
            {"auction": 2, "day": "2024-03-05", "total": 2, "cheap": 0, "dear_bidders": 2,
             "last_minute": "23:59"},
        ]),
    )
    .await;

    produce(
        &c,
        "users",
        &[
            ("a", json!({"id": "a", "region": "us", "x": 1})),
            ("b", json!({"id": "b", "region": "us", "x": 7})),
        ],
    )
    .await;
    rows_become(
        &c,
        "big_by_region",
        json!([{"region": "us", "n": 2, "big": 1, "big_sum": 7}]),
    )
    .await;
    // b falls below the filter, a rises above it: each update takes back what the old row added.
    produce(
        &c,
        "users",
        &[
            ("b", json!({"id": "b", "region": "us", "x": 2})),
            ("a", json!({"id": "a", "region": "us", "x": 9})),
        ],
    )
    .await;
    rows_become(
        &c,
        "big_by_region",
        json!([{"region": "us", "n": 2, "big": 1, "big_sum": 9}]),
    )
    .await;

    for (text, needle) in [
        (
            "SELECT auction,\n  UPPER('x') FILTER (WHERE price > 1) FROM bid;",
            "line 2, column 3",
        ),
        (
            "SELECT auction, LATEST_BY_OFFSET(price) FILTER (WHERE price > 1) FROM bid GROUP BY auction;",
            "is not supported",
        ),
        (
            "SELECT DATE_FORMAT(datetime, 'yyyy-MM-dd HH:mm:ss.SSS') FROM bid;",
            "\"SSS\" in pattern",
        ),
    ] {
        let r = sql(&c, text).await;
        let message = expect_error(&r, 400);
        assert!(message.contains(needle), "{text}: {message}");
    }
}
