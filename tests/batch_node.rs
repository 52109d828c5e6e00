//! The batch layer in the node, end to end through the real binary: a source and a windowed
//! view declared with SQL, records produced over HTTP into small segments (late ones
//! included), `strata batch archive` and `strata batch run` through the CLI, and the batch
//! view's rows over HTTP compared with an independent computation here in the test; the lake
//! holds the Parquet files; bad input (unknown view, a batch run before any archive) gets a
//! 4xx that says what to do.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use hyper::Method;
use serde_json::{Value, json};

use common::orders::*;
use common::*;

// Event time is the record timestamp. (`timestamp='col'` on a BIGINT column makes the
// archiver panic in strata-batch, `SegmentWriter::event_times`: reported, not covered here.)
const SQL: &str = "CREATE STREAM orders (product VARCHAR, amount BIGINT)
  WITH (kafka_topic='orders', value_format='JSON');
CREATE TABLE order_totals AS
  SELECT product, COUNT(*) AS n, SUM(amount) AS total FROM orders
  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY product EMIT CHANGES;";

fn view_totals(rows: &Value) -> Totals {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let start = r["window_start"].as_i64().expect("window_start");
            (
                (r["product"].as_str().expect("product").to_owned(), start),
                (
                    r["n"].as_i64().expect("n"),
                    r["total"].as_i64().expect("total"),
                ),
            )
        })
        .collect()
}

/// Every `.parquet` file under `dir`.
fn parquet_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(parquet_files(&p));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_archive_and_batch_run_equal_the_oracle() {
    // The schedules are out of the way: the test drives the batch layer through the CLI.
    let node = Node::start(&["--archive-interval", "1h", "--batch-interval", "0"]);
    let c = node.client();
    create_topic(
        &c,
        "orders",
        2,
        json!({ "segment_bytes": "16KiB", "max_record_bytes": 1024 }),
    )
    .await;
    let r = sql(&c, SQL).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // Before anything is archived: no batch view, and a run says to archive first.
    let (status, v) = get(&c, "/v1/views/order_totals/batch").await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "no_batch_view");
    let out = node.cli(&["batch", "run", "order_totals"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("strata batch archive orders"),
        "{}",
        stderr(&out)
    );

    let all = orders(0, 3000);
    let landed = produce(&c, &all).await;
    assert_eq!(landed.len(), all.len());

    let out = ok(&node.cli(&["batch", "archive", "orders", "--output", "json"]));
    let v: Value = serde_json::from_str(&out).expect("json");
    let report = &v["reports"][0];
    assert_eq!(report["topic"], "orders", "{v}");
    let horizon: BTreeMap<u32, u64> = report["horizon"]
        .as_array()
        .expect("horizon")
        .iter()
        .map(|p| {
            (
                p["partition"].as_u64().expect("p") as u32,
                p["offset"].as_u64().expect("o"),
            )
        })
        .collect();
    let archived: Vec<&Order> = all
        .iter()
        .zip(&landed)
        .filter(|(_, (p, o))| horizon.get(p).is_some_and(|h| o < h))
        .map(|(order, _)| order)
        .collect();
    // Small segments: most records are in sealed segments, and some are still active.
    assert!(archived.len() > all.len() / 2, "{v}");
    assert!(archived.len() < all.len(), "{v}");
    assert_eq!(report["rows"].as_u64(), Some(archived.len() as u64), "{v}");
    let files = parquet_files(&node.dir.join("lake").join("orders"));
    assert_eq!(files.len() as u64, report["files"].as_u64().expect("files"));
    assert!(!files.is_empty());
    assert!(node.dir.join("lake/orders/_manifest.json").is_file());

    // Human output of the same command: nothing left to archive in sealed segments.
    let text = ok(&node.cli(&["batch", "archive"]));
    assert!(text.contains("TOPIC") && text.contains("orders"), "{text}");

    let out = ok(&node.cli(&["batch", "run", "order_totals", "--output", "json"]));
    let run: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(run["epoch"], 1, "{run}");
    assert_eq!(run["input_rows"].as_u64(), Some(archived.len() as u64));

    let (status, v) = get(&c, "/v1/views/order_totals/batch").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["batch"]["epoch"], 1);
    // The batch horizon lists the partitions it read; the archiver's, every partition.
    for p in v["batch"]["horizon"].as_array().expect("horizon") {
        let part = p["partition"].as_u64().expect("p") as u32;
        assert_eq!(p["offset"].as_u64(), horizon.get(&part).copied(), "{p}");
    }
    assert!(horizon.values().all(|&h| h > 0), "{horizon:?}");
    let expected = oracle(archived.iter().copied());
    assert_eq!(v["count"].as_u64(), Some(expected.len() as u64));
    assert_eq!(view_totals(&v["rows"]), expected);
    assert_eq!(v["batch"]["rows"].as_u64(), Some(expected.len() as u64));

    // A second run over the same lake is the next epoch, with the same rows.
    let text = ok(&node.cli(&["batch", "run", "order_totals"]));
    assert!(text.contains("epoch") && text.contains('2'), "{text}");
    let (_, v) = get(&c, "/v1/views/order_totals/batch").await;
    assert_eq!(v["batch"]["epoch"], 2);
    assert_eq!(view_totals(&v["rows"]), expected);

    let (status, metrics) = {
        let r = c.raw(Method::GET, "/metrics", None).await.expect("metrics");
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    };
    assert_eq!(status, 200);
    assert!(metrics.contains("strata_batch_"), "{metrics}");
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_batch_requests_get_4xx_with_a_hint() {
    let node = Node::start(&["--batch-interval", "0"]);
    let c = node.client();

    let (status, v) = get(&c, "/v1/views/nope/batch").await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "unknown_view");
    let r = c
        .raw(Method::POST, "/v1/views/nope/batch", None)
        .await
        .expect("request");
    let msg = expect_error(&r, 404);
    assert!(msg.contains("nope"), "{msg}");
    let out = node.cli(&["batch", "run", "nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));

    let r = c
        .raw(Method::POST, "/v1/batch/archive?topic=missing", None)
        .await
        .expect("request");
    expect_error(&r, 404);
    let r = c
        .raw(Method::POST, "/v1/batch/archive?bogus=1", None)
        .await
        .expect("request");
    expect_error(&r, 400);

    let (_, api) = get(&c, "/v1/openapi.json").await;
    for path in ["/v1/batch/archive", "/v1/views/{view}/batch"] {
        assert!(
            api["paths"][path]["post"].is_object(),
            "{path} not documented"
        );
    }

    // A view whose topic was never archived: 409 naming the command to run first.
    create_topic(&c, "orders", 1, json!({})).await;
    let r = sql(&c, SQL).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = c
        .raw(Method::POST, "/v1/views/order_totals/batch", None)
        .await
        .expect("request");
    let msg = expect_error(&r, 409);
    assert!(msg.contains("strata batch archive orders"), "{msg}");
    // Archiving with nothing sealed is fine and archives nothing.
    let out = ok(&node.cli(&["batch", "archive", "--output", "json"]));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["errors"], json!([]), "{v}");
    node.stop();
}
