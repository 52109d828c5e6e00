//! The serving layer end to end through the real binary: a Lambda view's answer is the batch
//! view ⊕ the speed layer's partials of the generations the batch view has not covered.
//!
//! - Oracle (plain Rust, and DuckDB once the log is covered): before any batch run the answer
//!   equals the aggregate of every record except those the speed layer sent to `<view>-late`;
//!   once a batch run covers the whole log it equals the aggregate of every record, late ones
//!   included; after more records arrive, it differs only by the late records above the
//!   horizon.
//! - Concurrency: while records flow and batch epochs are handed over, concurrent readers see
//!   a COUNT that never goes down and never exceeds what was produced.
//! - Bad input: unknown view → 404; bad ranges and top-N by a non-aggregate → 400.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};
use strata_server::client::Client;

use common::orders::*;
use common::*;

const SQL: &str = "CREATE STREAM orders (product VARCHAR, amount BIGINT)
  WITH (kafka_topic='orders', value_format='JSON');
CREATE TABLE order_totals AS
  SELECT product, COUNT(*) AS n, SUM(amount) AS total, AVG(amount) AS mean FROM orders
  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY product EMIT CHANGES;";

/// The same aggregate computed by DuckDB over the orders written as JSON lines.
fn duckdb_totals(orders: &[Order]) -> Totals {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orders.ndjson");
    let lines: Vec<String> = orders
        .iter()
        .map(|(product, amount, t)| {
            json!({"product": product, "amount": amount, "ts": t}).to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("write");
    duckdb(&format!(
        "SELECT product, ts // 60000 * 60000, count(*), sum(amount) FROM read_json_auto('{}') GROUP BY ALL",
        file.display()
    ))
    .iter()
    .map(|r| {
        (
            (r[0].as_str().expect("product").to_owned(), r[1].as_i64().expect("ws")),
            (r[2].as_i64().expect("count"), r[3].as_f64().expect("sum") as i64),
        )
    })
    .collect()
}

fn totals(rows: &Value) -> Totals {
    let mut out = Totals::new();
    for r in rows.as_array().expect("rows") {
        let (n, total) = (
            r["n"].as_i64().expect("n"),
            r["total"].as_i64().expect("total"),
        );
        let mean = r["mean"].as_f64().expect("mean");
        assert!(
            (mean - total as f64 / n as f64).abs() < 1e-9,
            "AVG merges exactly: {r}"
        );
        out.insert(
            (
                r["product"].as_str().expect("product").to_owned(),
                r["window_start"].as_i64().expect("window_start"),
            ),
            (n, total),
        );
    }
    out
}

/// The positions (partition, offset) of the source records in the view's late topic.
async fn late_positions(c: &Client) -> BTreeSet<(u32, u64)> {
    let (status, v) = get(c, "/v1/topics/order_totals-late/records?max=100000").await;
    assert_eq!(status, 200, "{v}");
    v["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let origin = r["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .find(|h| h["key"] == "strata.origin")
                .and_then(|h| h["value"].as_str())
                .expect("origin header")
                .to_owned();
            let mut parts = origin.rsplitn(3, '/');
            let offset = parts.next().expect("offset").parse().expect("offset");
            let partition = parts.next().expect("partition").parse().expect("partition");
            (partition, offset)
        })
        .collect()
}

/// Waits until the view has read everything produced.
async fn caught_up(c: &Client, produced: u64) -> Value {
    for _ in 0..400 {
        let (status, v) = get(c, "/v1/views/order_totals").await;
        assert_eq!(status, 200, "{v}");
        if v["provenance"]["records_in"].as_u64() == Some(produced)
            && v["provenance"]["lag"].as_u64() == Some(0)
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the view did not catch up");
}

/// Seals the active segments (they roll by age on a quiet topic), archives the topic and
/// runs the batch view; returns the batch view's horizon.
async fn archive_and_run(c: &Client) -> BTreeMap<u32, u64> {
    archive_and_run_view(c, "order_totals", Duration::from_millis(1_300)).await
}

/// The last event per (product, window) of `GET /v1/views/order_totals/changes` from the
/// beginning, once `emitted` events arrived.
async fn merged_changes(c: &Client, emitted: u64) -> Totals {
    let path = "/v1/views/order_totals/changes?offset=earliest";
    let rows = sse_events(c, path, emitted as usize).await;
    totals(&Value::Array(
        rows.into_iter().map(|(_, row)| row).collect(),
    ))
}

fn without<'a>(
    all: &'a [Order],
    landed: &'a [(u32, u64)],
    dropped: impl Fn(&(u32, u64)) -> bool + 'a,
) -> impl Iterator<Item = &'a Order> + 'a {
    all.iter()
        .zip(landed)
        .filter(move |(_, pos)| !dropped(pos))
        .map(|(o, _)| o)
}

#[tokio::test(flavor = "multi_thread")]
async fn merged_answers_equal_the_oracle_before_and_after_batch_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let node = Node::start_in(&dir, &["--archive-interval", "1h", "--batch-interval", "0"]);
    let c = node.client();
    create_topic(
        &c,
        "orders",
        2,
        json!({ "segment_bytes": "16KiB", "segment_ms": 1000, "max_record_bytes": 1024 }),
    )
    .await;
    let r = sql(&c, SQL).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Speed layer only: everything but the records it set aside as late.
    let mut all = orders(0, 2000);
    let mut landed = produce(&c, &all).await;
    let v = caught_up(&c, all.len() as u64).await;
    let late = late_positions(&c).await;
    assert!(!late.is_empty(), "the data has late records");
    assert_eq!(v["provenance"]["mode"], "lambda", "{}", v["provenance"]);
    assert_eq!(v["provenance"]["layers"], json!(["speed"]));
    assert_eq!(v["provenance"]["batch"], Value::Null);
    assert_eq!(
        totals(&v["rows"]),
        oracle(without(&all, &landed, |p| late.contains(p)))
    );

    // A batch run covering the whole log: every record, late ones included.
    let horizon = archive_and_run(&c).await;
    let covered = |(p, o): &(u32, u64)| horizon.get(p).is_some_and(|h| o < h);
    assert!(landed.iter().all(covered), "the batch view covers the log");
    let (status, v) = get(&c, "/v1/views/order_totals").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["provenance"]["batch"]["epoch"], 1, "{}", v["provenance"]);
    assert_eq!(totals(&v["rows"]), oracle(all.iter()));
    assert_eq!(totals(&v["rows"]), duckdb_totals(&all), "DuckDB agrees");

    // Server-Sent Events of merged updates: each changelog row's group as merged now, so
    // windows whose late records the batch run counted show them.
    let events = merged_changes(&c, v["provenance"]["emitted"].as_u64().expect("emitted")).await;
    let everything = oracle(all.iter());
    let speed_only = oracle(without(&all, &landed, |p| late.contains(p)));
    assert!(
        events.iter().any(|(k, v)| speed_only.get(k) != Some(v)),
        "some window's merged value includes late records"
    );
    for (group, value) in &events {
        assert_eq!(everything.get(group), Some(value), "{group:?}");
    }

    // More records: batch below the horizon, speed partials above it; only late records
    // above the horizon are missing.
    let more = orders(2000, 1500);
    landed.extend(produce(&c, &more).await);
    all.extend(more);
    let v = caught_up(&c, all.len() as u64).await;
    let late = late_positions(&c).await;
    let layers = v["provenance"]["layers"].clone();
    assert_eq!(layers, json!(["batch", "speed"]), "{}", v["provenance"]);
    let missing = |pos: &(u32, u64)| late.contains(pos) && !covered(pos);
    assert!(
        landed.iter().any(missing),
        "some late records are above the horizon"
    );
    assert_eq!(totals(&v["rows"]), oracle(without(&all, &landed, missing)));

    // Point lookup and a window range agree with the full answer.
    let expected = oracle(without(&all, &landed, missing));
    let (status, v) = get(&c, "/v1/views/order_totals/keys/p3").await;
    assert_eq!(status, 200, "{v}");
    let p3: Totals = expected
        .iter()
        .filter(|((p, _), _)| p == "p3")
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(totals(&v["rows"]), p3);
    let (from, to) = (T0 + 10 * MINUTE, T0 + 20 * MINUTE);
    let (status, v) = get(
        &c,
        &format!("/v1/views/order_totals?key=p1&from={from}&to={to}"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let p1_range: Totals = expected
        .iter()
        .filter(|((p, start), _)| p == "p1" && *start >= from && *start < to)
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(p1_range.len(), 10);
    assert_eq!(totals(&v["rows"]), p1_range);

    // Top N by an aggregate.
    let (status, v) = get(&c, "/v1/views/order_totals?top=3&by=total").await;
    assert_eq!(status, 200, "{v}");
    let mut best: Vec<i64> = expected.values().map(|(_, t)| *t).collect();
    best.sort_unstable_by(|a, b| b.cmp(a));
    let got: Vec<i64> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["total"].as_i64().expect("total"))
        .collect();
    assert_eq!(got, best[..3]);

    // A second epoch covering everything again; then a restart: the answer is the same
    // (the speed layer remembers its horizon, the node attaches the batch view again).
    archive_and_run(&c).await;
    let (_, v) = get(&c, "/v1/views/order_totals").await;
    assert_eq!(v["provenance"]["batch"]["epoch"], 2, "{}", v["provenance"]);
    assert_eq!(totals(&v["rows"]), oracle(all.iter()));
    node.stop();
    let node = Node::start_in(&dir, &["--archive-interval", "1h", "--batch-interval", "0"]);
    let c = node.client();
    let (status, v) = get(&c, "/v1/views/order_totals").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["provenance"]["batch"]["epoch"], 2, "{}", v["provenance"]);
    assert_eq!(totals(&v["rows"]), oracle(all.iter()));
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_readers_never_see_a_count_go_down_or_overshoot() {
    let node = Node::start(&["--archive-interval", "1h", "--batch-interval", "0"]);
    let c = node.client();
    create_topic(
        &c,
        "orders",
        2,
        json!({ "segment_bytes": "8KiB", "segment_ms": 300, "max_record_bytes": 1024 }),
    )
    .await;
    let view = "CREATE STREAM orders (product VARCHAR, amount BIGINT)
      WITH (kafka_topic='orders', value_format='JSON');
    CREATE TABLE all_orders AS SELECT COUNT(*) AS n FROM orders;";
    let r = sql(&c, view).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let produced = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (c, produced, done) = (node.client(), produced.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let (mut last, mut reads) = (0, 0u64);
            while !done.load(Ordering::Acquire) {
                // Read the bound first: whatever the answer counts was produced before it.
                let (status, v) = get(&c, "/v1/views/all_orders").await;
                let bound = produced.load(Ordering::Acquire);
                assert_eq!(status, 200, "{v}");
                let n = v["rows"][0]["n"].as_u64().unwrap_or(0);
                assert!(
                    n >= last,
                    "COUNT went down: {last} then {n} ({})",
                    v["provenance"]
                );
                assert!(n <= bound, "COUNT {n} exceeds the {bound} records produced");
                last = n;
                reads += 1;
            }
            reads
        }));
    }
    let mut next = 0;
    for round in 0..6 {
        let batch = orders(next, 400);
        next += batch.len();
        // Counted before the records exist: a reader's bound is never too low.
        produced.fetch_add(batch.len() as u64, Ordering::AcqRel);
        produce(&c, &batch).await;
        if round % 2 == 1 {
            archive_and_run_view(&c, "all_orders", Duration::from_millis(400)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    done.store(true, Ordering::Release);
    let mut total_reads = 0;
    for r in readers {
        total_reads += r.await.expect("reader");
    }
    assert!(total_reads > 20, "readers ran: {total_reads}");
    let (_, v) = get(&c, "/v1/views/all_orders").await;
    assert_eq!(v["rows"][0]["n"].as_u64(), Some(next as u64), "{v}");
    node.stop();
}

/// Waits `roll` (segments roll by age), archives `orders` and runs `view`'s batch view;
/// returns its horizon.
async fn archive_and_run_view(c: &Client, view: &str, roll: Duration) -> BTreeMap<u32, u64> {
    tokio::time::sleep(roll).await;
    let r = c
        .raw(Method::POST, "/v1/batch/archive?topic=orders", None)
        .await
        .expect("archive");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = c
        .raw(Method::POST, &format!("/v1/views/{view}/batch"), None)
        .await
        .expect("batch run");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    parse(&r)["horizon"]
        .as_array()
        .expect("horizon")
        .iter()
        .map(|h| {
            (
                h["partition"].as_u64().expect("p") as u32,
                h["offset"].as_u64().expect("o"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_get_4xx_that_say_what_to_fix() {
    let node = Node::start(&["--batch-interval", "0"]);
    let c = node.client();
    create_topic(&c, "orders", 1, json!({})).await;
    let r = sql(&c, SQL).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let (status, v) = get(&c, "/v1/views/nope").await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "unknown_view");
    let (status, v) = get(&c, "/v1/views/nope/keys/p1").await;
    assert_eq!(status, 404, "{v}");

    let (status, v) = get(&c, "/v1/views/order_totals?from=2000&to=1000").await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("before"),
        "{v}"
    );
    let (status, v) = get(&c, "/v1/views/order_totals?from=yesterday-ish").await;
    assert_eq!(status, 400, "{v}");

    let (status, v) = get(&c, "/v1/views/order_totals?top=3&by=product").await;
    assert_eq!(status, 400, "{v}");
    let msg = v["error"]["message"].as_str().expect("msg");
    assert!(msg.contains("n, total, mean"), "{msg}");
    let (status, v) = get(&c, "/v1/views/order_totals?top=3&by=nosuch").await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = get(&c, "/v1/views/order_totals?top=3").await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("together"),
        "{v}"
    );
    let (status, v) = get(&c, "/v1/views/order_totals?top=-1&by=n").await;
    assert_eq!(status, 400, "{v}");

    // A key of the wrong type for a numeric key column matches nothing (not an error).
    let numeric =
        "CREATE TABLE by_amount AS SELECT amount, COUNT(*) AS n FROM orders GROUP BY amount;";
    let r = sql(&c, numeric).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (status, v) = get(&c, "/v1/views/by_amount/keys/twelve").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["count"], 0);
    node.stop();
}
