//! A failed fsync, injected with libfiu into the real binary (`fiu-run -x`, switched on and
//! off at run time with `fiu-ctrl`; Debian's `fiu-utils`, installed by `scripts/deps.sh`):
//! the produce whose fsync failed is answered 503 `sync_failed` (Kafka: KAFKA_STORAGE_ERROR),
//! the partition then takes nothing more — not even after the disk "recovers" — while reads
//! and other partitions go on; after a restart every acknowledged record is there and the
//! partition takes writes again.

mod common;

use std::process::Command;

use serde_json::{Value, json};

use common::*;

/// The fsyncs the log uses: `sync_data` (segments) is fdatasync, `sync_all` is fsync.
const SYNC_FAILURES: &str = "name=posix/io/sync/fdatasync,failinfo=5";
const FSYNC_FAILURES: &str = "name=posix/io/sync/fsync,failinfo=5";

/// `fiu-ctrl -c <command> <pid>`, asserting success.
fn fiu_ctrl(node: &Node, command: &str) {
    let out = Command::new("fiu-ctrl")
        .args(["-c", command, &node.child.id().to_string()])
        .output()
        .expect("fiu-ctrl (Debian package fiu-utils; scripts/deps.sh installs it)");
    assert!(
        out.status.success(),
        "fiu-ctrl -c {command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn body(from: u64, n: u64) -> String {
    let records: Vec<Value> = (from..from + n)
        .map(|i| json!({ "key": format!("k{i}"), "value": { "i": i } }))
        .collect();
    Value::Array(records).to_string()
}

/// Every `i` in partition 0 of `topic`, in offset order.
async fn stored(c: &strata_server::client::Client, topic: &str) -> Vec<u64> {
    let (status, v) = get(
        c,
        &format!("/v1/topics/{topic}/records?partition=0&max=100000"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["value"]["i"].as_u64().expect("i"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_fsync_makes_the_partition_read_only_until_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let node = Node::start_wrapped(&["fiu-run", "-x"], &dir, &[]);
    let c = node.client();
    create_topic(&c, "t", 1, json!({ "durability": "always" })).await;
    create_topic(&c, "other", 1, json!({ "durability": "never" })).await;

    let mut acknowledged = Vec::new();
    for round in 0..5 {
        let r = produce_raw(&c, "t", body(round * 10, 10)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        acknowledged.extend(round * 10..round * 10 + 10);
    }

    fiu_ctrl(&node, &format!("enable {SYNC_FAILURES}"));
    fiu_ctrl(&node, &format!("enable {FSYNC_FAILURES}"));
    let r = produce_raw(&c, "t", body(50, 10)).await;
    let message = expect_error(&r, 503);
    assert_eq!(parse(&r)["error"]["code"], "sync_failed", "{message}");
    assert!(message.contains("restart"), "says what to do: {message}");
    let end_after_failure = end_offsets(&c, "t").await;

    // Read-only from now on: refused before anything is written, with the same code.
    let r = produce_raw(&c, "t", body(60, 10)).await;
    expect_error(&r, 503);
    assert_eq!(parse(&r)["error"]["code"], "sync_failed");
    assert_eq!(end_offsets(&c, "t").await, end_after_failure);

    // The disk "recovers": a later fsync would succeed but proves nothing about the pages the
    // failed one dropped, so the partition stays read-only until a restart.
    fiu_ctrl(&node, &format!("disable {SYNC_FAILURES}"));
    fiu_ctrl(&node, "disable name=posix/io/sync/fsync");
    let r = produce_raw(&c, "t", body(70, 10)).await;
    expect_error(&r, 503);
    assert_eq!(end_offsets(&c, "t").await, end_after_failure);

    // Reads go on, and a partition whose fsyncs did not fail takes writes.
    let seen = stored(&c, "t").await;
    assert_eq!(&seen[..acknowledged.len()], &acknowledged[..]);
    let r = produce_raw(&c, "other", body(0, 3)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    node.kill9();
    let node = Node::start_in(&dir, &[]);
    let c = node.client();
    let after = stored(&c, "t").await;
    assert_eq!(
        &after[..acknowledged.len()],
        &acknowledged[..],
        "every acknowledged record survives, in order"
    );
    assert!(
        after.iter().all(|i| *i < 60),
        "nothing offered after the failure was kept: {after:?}"
    );
    let r = produce_raw(&c, "t", body(100, 10)).await;
    assert_eq!(
        r.status,
        200,
        "a restart makes the partition writable again: {}",
        String::from_utf8_lossy(&r.body)
    );
}
