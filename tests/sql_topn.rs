//! Window Top-N views (Flink's window Top-N, Nexmark q7's shape) end to end through the real
//! binary: created with `POST /v1/sql`, bids produced over HTTP, the ranked rows of closed
//! windows read back with `GET /v1/views/{v}`, the listing, SSE changes, a late bid in the
//! late topic, a continuous Top-N query, errors; and the view after kill -9 at random moments
//! compared with a model of an uninterrupted run.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

const SCHEMA: &str = "
CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, datetime TIMESTAMP(3),
  WATERMARK FOR datetime AS datetime - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'bid', 'properties.bootstrap.servers' = 'localhost:9092',
  'format' = 'json', 'scan.startup.mode' = 'earliest-offset');";

/// Nexmark q7: the highest bids of each 10-second window.
const HIGHEST_BIDS: &str = "
CREATE TABLE highest_bids AS
SELECT auction, bidder, price, datetime, window_start FROM (
  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND))
) WHERE rownum <= 1;";

/// Bids as (auction, bidder, price, event time ms).
async fn produce(c: &Client, bids: &[(i64, i64, i64, i64)]) {
    let body: Vec<Value> = bids
        .iter()
        .map(|(a, b, p, t)| {
            json!({"value": {"auction": a, "bidder": b, "price": p, "datetime": t}, "timestamp": t})
        })
        .collect();
    let r = produce_raw(c, "bid", Value::Array(body).to_string()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Waits until `GET /v1/views/{view}` answers `want` as its rows; returns the answer.
async fn rows_become(c: &Client, view: &str, want: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = get(c, &format!("/v1/views/{view}")).await;
        assert_eq!(status, 200, "{v}");
        if v["rows"] == *want {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{view}: {} rather than {want}",
            v["rows"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn row(auction: i64, bidder: i64, price: i64, datetime: i64) -> Value {
    json!({"auction": auction, "bidder": bidder, "price": price, "datetime": datetime,
           "window_start": datetime / 10_000 * 10_000})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_q7_top_n_view_over_http() {
    let node = Node::start(&[]);
    let c = node.client();
    let r = sql(&c, &format!("{SCHEMA}{HIGHEST_BIDS}")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Window [0, 10 s): two bids of 9 tie for the highest. [10 s, 20 s): 6 wins.
    produce(
        &c,
        &[
            (1, 10, 5, 1_000),
            (2, 11, 9, 2_000),
            (3, 12, 9, 3_000),
            (4, 13, 8, 4_000),
            (1, 14, 3, 11_000),
            (2, 15, 6, 12_000),
        ],
    )
    .await;
    let first = json!([row(2, 11, 9, 2_000), row(3, 12, 9, 3_000)]);
    let answer = rows_become(&c, "highest_bids", &first).await;
    assert_eq!(answer["provenance"]["mode"], "kappa", "{answer}");
    // A bid of the closed first window is late: set aside with its reason.
    produce(&c, &[(9, 16, 100, 5_000)]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while end_offsets(&c, "highest_bids-late").await != [1] {
        assert!(Instant::now() < deadline, "the late bid was not set aside");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A bid at 25 s closes the second window.
    produce(&c, &[(5, 17, 1, 25_000)]).await;
    let all = json!([
        row(2, 11, 9, 2_000),
        row(3, 12, 9, 3_000),
        row(2, 15, 6, 12_000)
    ]);
    rows_become(&c, "highest_bids", &all).await;

    // The listing and DESCRIBE show the ranking.
    let (_, list) = get(&c, "/v1/views").await;
    let entry = &list["views"][0];
    assert_eq!(entry["name"], "highest_bids");
    assert_eq!(
        entry["window"],
        json!({"kind": "tumbling", "size_ms": 10_000})
    );
    assert_eq!(entry["emit"], "final");
    assert_eq!(
        entry["columns"],
        json!(["auction", "bidder", "price", "datetime", "window_start"])
    );
    assert_eq!(entry["rank"]["limit"], 1, "{entry}");
    assert_eq!(entry["rank"]["kind"], "rank", "{entry}");
    assert_eq!(entry["stats"]["late"], 1, "{entry}");
    let r = sql(&c, "DESCRIBE highest_bids;").await;
    assert_eq!(r.status, 200);
    let described = parse(&r);
    assert_eq!(
        described["outcomes"][0]["plan"]["rank"]["order_by"], "price",
        "{described}"
    );

    // The changelog as Server-Sent Events: each closed window's rows once.
    let events = sse_events(&c, "/v1/views/highest_bids/changes?offset=earliest", 3).await;
    let data: Vec<Value> = events.into_iter().map(|(_, d)| d).collect();
    assert_eq!(Value::Array(data), all);

    // A continuous Top-N query streams each window's rows when it closes. It reads the
    // history in one micro-batch, so bidder 16's bid is not late there: it wins window 0.
    let query = HIGHEST_BIDS.replace("CREATE TABLE highest_bids AS", "");
    let response = c
        .send(
            hyper::Method::POST,
            "/v1/sql",
            Some((bytes::Bytes::from(query), "text/plain")),
        )
        .await
        .expect("query");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    assert_eq!(
        read_lines(&mut body, 2, Duration::from_secs(30)).await,
        [row(9, 16, 100, 5_000), row(2, 15, 6, 12_000)]
    );
    drop(body);

    // Shapes that do not fit are 400s naming the place.
    let bad = HIGHEST_BIDS
        .replace("RANK()", "DENSE_RANK()")
        .replace("highest_bids", "b");
    let message = expect_error(&sql(&c, &bad).await, 400);
    assert!(
        message.contains("line 4") && message.contains("use RANK() or ROW_NUMBER()"),
        "{message}"
    );
    let lambda = HIGHEST_BIDS.replace("highest_bids AS", "l WITH (serving='lambda') AS");
    let message = expect_error(&sql(&c, &lambda).await, 400);
    assert!(message.contains("cannot serve a window Top-N"), "{message}");
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_top_n_view_is_exact_after_kill_9_at_random_moments() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let fast = ["--checkpoint-interval", "100ms"];
    let mut node = Node::start_in(&dir, &fast);
    let r = sql(&node.client(), &format!("{SCHEMA}{HIGHEST_BIDS}")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Event time moves forward ~40 ms a bid, out of order by under the watermark's 1 s, so
    // no bid is ever late however the log is cut into micro-batches: the uninterrupted
    // run's result is a function of the bids alone. Prices repeat, so ties happen.
    let mut bids = Vec::new();
    let mut rng = Rng(0x70b_5eed);
    let mut clock = 0i64;
    for _ in 0..6 {
        let c = node.client();
        let mut round = Vec::new();
        for _ in 0..250 {
            clock += 40;
            let t = clock - rng.below(900) as i64;
            let bid = (
                rng.below(50) as i64,
                bids.len() as i64,
                rng.below(200) as i64,
                t.max(0),
            );
            round.push(bid);
            bids.push(bid);
        }
        produce(&c, &round).await;
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        drop(node); // SIGKILL
        node = Node::start_in(&dir, &fast);
    }
    // A last bid far ahead closes every window of the run.
    let c = node.client();
    produce(&c, &[(0, -1, 0, clock + 60_000)]).await;
    // The model: per window, every bid of the highest price, in log order.
    let mut windows: BTreeMap<i64, Vec<(i64, i64, i64, i64)>> = BTreeMap::new();
    for &b in &bids {
        windows.entry(b.3 / 10_000).or_default().push(b);
    }
    let mut want = Vec::new();
    for rows in windows.values() {
        let max = rows.iter().map(|b| b.2).max().expect("a bid");
        want.extend(
            rows.iter()
                .filter(|b| b.2 == max)
                .map(|&(a, b, p, t)| row(a, b, p, t)),
        );
    }
    let want = Value::Array(want);
    rows_become(&c, "highest_bids", &want).await;
    // The changelog holds those rows exactly once: no duplicate, nothing lost.
    let written = end_offsets(&c, "highest_bids-changelog").await[0] as usize;
    assert_eq!(written, want.as_array().map_or(0, Vec::len));
    let events = sse_events(
        &c,
        "/v1/views/highest_bids/changes?offset=earliest",
        written,
    )
    .await;
    let data: Vec<Value> = events.into_iter().map(|(_, d)| d).collect();
    assert_eq!(Value::Array(data), want);
    assert_eq!(end_offsets(&c, "highest_bids-late").await, [0]);
    node.stop();
}
