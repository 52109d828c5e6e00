//! `strata replay view` through the real binary: an unchanged replay equals the live view; a
//! changed definition equals DuckDB over the same records; queries on the alias keep
//! answering, each from one version, while the replay runs and the alias switches; promote,
//! rollback and drop-version from the CLI; the replay endpoints over HTTP.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

const BASE_TS: i64 = 1_700_000_000_000;

/// Event `i`: customer `c{i % 13}`, amount `i % 100`, 50 ms apart, partition `i % 2`.
fn event(i: u64) -> Value {
    json!({
        "value": { "customer": format!("c{}", i % 13), "amount": i % 100, "ts": BASE_TS + i as i64 * 50 },
        "timestamp": BASE_TS + i as i64 * 50,
        "partition": i % 2,
    })
}

async fn produce(c: &Client, range: std::ops::Range<u64>) {
    let events: Vec<Value> = range.map(event).collect();
    for chunk in events.chunks(1000) {
        let r = produce_raw(c, "orders", serde_json::to_vec(chunk).expect("json")).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
}

async fn sql(c: &Client, text: &str) -> Value {
    c.call(Method::POST, "/v1/sql", Some(json!({ "sql": text })))
        .await
        .expect("sql")
}

const SETUP: &str = "CREATE STREAM orders (customer VARCHAR, amount BIGINT, ts BIGINT)
      WITH (kafka_topic='orders', value_format='JSON', partitions=2);
    CREATE TABLE totals AS
      SELECT customer, COUNT(*) AS n, SUM(amount) AS total FROM orders
      WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY customer EMIT CHANGES;";

/// Waits until `view` has read `records` records and has no lag.
async fn read_all(c: &Client, view: &str, records: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = get(c, &format!("/v1/views/{view}/definition")).await;
        if status == 200 && v["stats"]["records_in"] == records && v["stats"]["lag"] == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{view} did not read {records}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A view's rows, sorted, as JSON text.
async fn rows(c: &Client, view: &str) -> Vec<String> {
    let (status, v) = get(c, &format!("/v1/views/{view}")).await;
    assert_eq!(status, 200, "{v}");
    let mut rows: Vec<String> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(Value::to_string)
        .collect();
    rows.sort();
    rows
}

async fn replay_status(c: &Client, id: u64) -> Value {
    let (status, v) = get(c, &format!("/v1/replays/{id}")).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn wait_status(c: &Client, id: u64, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = replay_status(c, id).await;
        if v["status"] == wanted {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "replay {id} is not {wanted}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_replay_equals_the_live_view_and_versions_are_managed_from_the_cli() {
    let node = Node::start(&["--checkpoint-interval", "200ms"]);
    let c = node.client();
    sql(&c, SETUP).await;
    produce(&c, 0..6000).await;
    read_all(&c, "totals", 6000).await;
    let out = ok(&node.cli(&[
        "replay",
        "view",
        "totals",
        "--promote",
        "manual",
        "--output",
        "json",
    ]));
    let started: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(started["status"], "caught_up", "{started}");
    assert_eq!(started["version"], "totals_v2");
    assert_eq!(
        (started["processed"].as_u64(), started["total"].as_u64()),
        (Some(6000), Some(6000))
    );
    assert_eq!(started["percent"], 100.0);
    let id = started["id"].as_u64().expect("id");
    // New records after the catch-up are read once by both versions: no gap, no duplicate.
    produce(&c, 6000..7000).await;
    read_all(&c, "totals", 7000).await;
    read_all(&c, "totals_v2", 7000).await;
    assert_eq!(rows(&c, "totals_v2").await, rows(&c, "totals").await);

    // Versions, promotion, rollback and drop-version from the CLI.
    let out = ok(&node.cli(&["view", "versions", "totals"]));
    assert!(out.contains("totals_v2") && out.contains("v2"), "{out}");
    let refused = node.cli(&["view", "drop-version", "totals", "1"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("promote another version first"),
        "{}",
        stderr(&refused)
    );
    let out = ok(&node.cli(&["view", "promote", "totals", "v2"]));
    assert!(out.contains("now answers with totals_v2"), "{out}");
    assert_eq!(replay_status(&c, id).await["status"], "promoted");
    let out = ok(&node.cli(&["view", "promote", "totals", "totals", "--output", "json"]));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        (v["from"].as_str(), v["to"].as_str()),
        (Some("totals_v2"), Some("totals"))
    );
    ok(&node.cli(&["view", "promote", "totals", "2"]));
    let out = ok(&node.cli(&["view", "drop-version", "totals", "1", "--output", "json"]));
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json")["dropped"],
        "totals"
    );
    let (_, versions) = get(&c, "/v1/views/totals/versions").await;
    assert_eq!(versions["current"], "totals_v2", "{versions}");
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(1));
    let (_, topics) = get(&c, "/v1/topics").await;
    assert!(
        !topics.to_string().contains("\"totals-changelog\""),
        "{topics}"
    );
    // Bad input says what to fix.
    let bad = node.cli(&["view", "promote", "totals", "v7"]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("its versions are"),
        "{}",
        stderr(&bad)
    );
    let bad = node.cli(&["replay", "view", "nope"]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("nope"),
        "{}",
        stderr(&bad)
    );
    let bad = node.cli(&["replay", "view", "totals", "--from-offset", "zero"]);
    assert!(
        stderr(&bad).contains("PARTITION:OFFSET"),
        "{}",
        stderr(&bad)
    );
    let bad = node.cli(&["replay", "view", "totals", "--as", "Bad-Name"]);
    assert!(
        stderr(&bad).contains("not a valid view name"),
        "{}",
        stderr(&bad)
    );
    let bad = node.cli(&[
        "replay",
        "view",
        "totals",
        "--sql",
        "SELECT nosuch FROM orders",
    ]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("nosuch"),
        "{}",
        stderr(&bad)
    );
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_definition_equals_duckdb_and_queries_never_fail_or_mix_versions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let node = Node::start(&["--checkpoint-interval", "200ms"]);
    let c = node.client();
    sql(&c, SETUP).await;
    produce(&c, 0..10_000).await;
    read_all(&c, "totals", 10_000).await;

    // Readers of the alias throughout the replay and the switch.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (c, stop) = (node.client(), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut seen: BTreeMap<String, u64> = BTreeMap::new();
            while !stop.load(Ordering::Acquire) {
                let (status, v) = get(&c, "/v1/views/totals").await;
                assert_eq!(status, 200, "a query on the alias failed: {v}");
                assert_eq!(v["view"], "totals", "{v}");
                let view = v["version"].as_str().expect("version").to_owned();
                // Version 1 has `n`, version 2 `n2`: every row of one answer has the same.
                let column = if view == "totals" { "n" } else { "n2" };
                for row in v["rows"].as_array().expect("rows") {
                    assert!(
                        row[column].is_u64(),
                        "{view} answered with a row of another version: {row}"
                    );
                }
                *seen.entry(view).or_default() += 1;
            }
            seen
        })
    };
    let new_sql = "SELECT customer, COUNT(*) AS n2, SUM(amount) AS total FROM orders \
                   WHERE amount >= 40 WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY customer";
    let cli = {
        let url = node.url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(BIN)
                .args([
                    "replay",
                    "view",
                    "totals",
                    "--sql",
                    new_sql,
                    "--promote-when-lag-under",
                    "50",
                    "--output",
                    "json",
                ])
                .env("STRATA_SERVER", url)
                .output()
                .expect("cli")
        })
    };
    // Records keep arriving during the replay.
    produce(&c, 10_000..12_000).await;
    let out = cli.await.expect("cli");
    let done: Value = serde_json::from_str(&ok(&out)).expect("json");
    assert_eq!(done["status"], "promoted", "{done}");
    read_all(&c, "totals_v2", 12_000).await;
    // Until the readers have seen the new version answer for the alias.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = get(&c, "/v1/views/totals").await;
        if v["version"] == "totals_v2" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the alias still answers with {}",
            v["version"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Release);
    let seen = reader.await.expect("reader");
    assert!(seen.get("totals").copied().unwrap_or(0) > 0, "{seen:?}");
    assert!(seen.get("totals_v2").copied().unwrap_or(0) > 0, "{seen:?}");

    // The oracle: DuckDB over the same 12 000 records.
    let file = tmp.path().join("orders.ndjson");
    let lines: Vec<String> = (0..12_000).map(|i| event(i)["value"].to_string()).collect();
    std::fs::write(&file, lines.join("\n")).expect("write");
    let theirs = duckdb(&format!(
        "SELECT customer, ts // 60000 * 60000 AS ws, count(*), sum(amount) FROM read_json_auto('{}') \
         WHERE amount >= 40 GROUP BY ALL",
        file.display()
    ));
    let theirs: BTreeMap<(String, i64), (u64, u64)> = theirs
        .iter()
        .map(|r| {
            (
                (
                    r[0].as_str().expect("customer").to_owned(),
                    r[1].as_i64().expect("ws"),
                ),
                (
                    r[2].as_u64().expect("count"),
                    r[3].as_f64().expect("sum") as u64,
                ),
            )
        })
        .collect();
    let (_, v) = get(&c, "/v1/views/totals_v2").await;
    let ours: BTreeMap<(String, i64), (u64, u64)> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                (
                    r["customer"].as_str().expect("customer").to_owned(),
                    r["window_start"].as_i64().expect("window_start"),
                ),
                (
                    r["n2"].as_u64().expect("n2"),
                    r["total"].as_u64().expect("total"),
                ),
            )
        })
        .collect();
    assert!(!theirs.is_empty());
    assert_eq!(ours, theirs);
    node.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_replay_endpoints_report_and_cancel() {
    let node = Node::start(&[]);
    let c = node.client();
    sql(&c, SETUP).await;
    produce(&c, 0..2000).await;
    let r = c
        .raw(
            Method::POST,
            "/v1/replays",
            Some((
                serde_json::to_vec(&json!({
                    "kind": "view", "view": "TOTALS", "from_offsets": [{"partition": 0, "offset": 500}],
                    "as": "totals_half", "promote": "manual"
                }))
                .expect("json")
                .into(),
                "application/json",
            )),
        )
        .await
        .expect("request");
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let v = parse(&r);
    // Partition 0 from offset 500 (of 1000), partition 1 from the beginning.
    assert_eq!(v["total"], 1500, "{v}");
    assert_eq!(v["start"], json!([500, 0]));
    let id = v["id"].as_u64().expect("id");
    let v = wait_status(&c, id, "caught_up").await;
    assert_eq!(
        (v["processed"].as_u64(), v["percent"].as_f64()),
        (Some(1500), Some(100.0))
    );
    let (_, list) = get(&c, "/v1/replays").await;
    assert_eq!(list["replays"][0]["id"], id);
    let out = ok(&node.cli(&["replay", "list"]));
    assert!(
        out.contains("totals → totals_half") && out.contains("caught_up"),
        "{out}"
    );
    let out = ok(&node.cli(&["replay", "status", &id.to_string()]));
    assert!(out.contains("1500/1500"), "{out}");
    // Cancel drops the unpromoted version.
    let r = c
        .raw(Method::DELETE, &format!("/v1/replays/{id}"), None)
        .await
        .expect("request");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(parse(&r)["status"], "cancelled");
    let (status, _) = get(&c, "/v1/views/totals_half/definition").await;
    assert_eq!(status, 404);
    let r = c
        .raw(Method::DELETE, &format!("/v1/replays/{id}"), None)
        .await
        .expect("request");
    assert!(expect_error(&r, 409).contains("already ended"));
    // Bad requests.
    let (status, v) = get(&c, "/v1/replays/99").await;
    assert_eq!(status, 404, "{v}");
    let (status, _) = get(&c, "/v1/replays/abc").await;
    assert_eq!(status, 404);
    for (body, fix) in [
        (json!({"kind": "view"}), "view"),
        (
            json!({"kind": "view", "view": "totals", "from_time": "soon"}),
            "from_time",
        ),
        (
            json!({"kind": "view", "view": "totals", "promote": "never"}),
            "manual",
        ),
        (json!({"kind": "movie", "view": "totals"}), "kind"),
    ] {
        let r = c
            .raw(
                Method::POST,
                "/v1/replays",
                Some((
                    serde_json::to_vec(&body).expect("json").into(),
                    "application/json",
                )),
            )
            .await
            .expect("request");
        assert!(expect_error(&r, 400).contains(fix), "{body}");
    }
    let r = c
        .raw(
            Method::POST,
            "/v1/views/totals/promote",
            Some((b"{\"version\": \"2\"}".to_vec().into(), "application/json")),
        )
        .await
        .expect("request");
    assert!(expect_error(&r, 409).contains("never replayed"));
    let (_, api) = get(&c, "/v1/openapi.json").await;
    for (path, method) in [
        ("/v1/replays", "post"),
        ("/v1/replays/{id}", "delete"),
        ("/v1/views/{view}/promote", "post"),
        ("/v1/views/{view}/versions/{version}", "delete"),
    ] {
        assert!(
            api["paths"][path][method].is_object(),
            "{method} {path} not documented"
        );
    }
    node.stop();
}
