//! Helpers shared by the batch layer's integration tests: a log with an `orders` topic, the
//! `orders` schema, and DuckDB (through python3) as the independent oracle.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use strata_batch::{ArchiveConfig, ArchiveReport, Archiver, BatchMetrics};
use strata_engine::plan::{SourceDef, SqlType};
use strata_log::{EncodedBatch, Log, LogOptions, Record, TopicConfig};

/// The `orders` source: product, amount, qty, order_time (event time).
pub fn orders_source() -> SourceDef {
    SourceDef::stream("orders")
        .column("product", SqlType::Varchar)
        .column("amount", SqlType::Double)
        .column("qty", SqlType::BigInt)
        .column("order_time", SqlType::Timestamp)
        .event_time("order_time")
}

/// A log without background maintenance.
pub fn open_log(dir: &Path) -> Arc<Log> {
    Log::open(
        dir,
        LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        },
    )
    .expect("open log")
}

/// Small segments, so that a test has many of them.
pub fn small_segments() -> TopicConfig {
    TopicConfig {
        segment_bytes: 16 * 1024,
        max_record_bytes: 4 * 1024,
        durability: strata_log::Durability::Never,
        ..TopicConfig::default()
    }
}

/// Appends `records` to partition `p` of `topic` in batches of `batch` records.
pub fn append(log: &Log, topic: &str, p: u32, records: &[Record], batch: usize) {
    let t = log.topic(topic).expect("topic");
    for chunk in records.chunks(batch) {
        t.append(p, EncodedBatch::from_records(chunk).expect("batch"))
            .expect("append");
    }
}

/// An order as JSON.
pub fn order(product: &str, amount: f64, qty: i64, time: i64) -> Vec<u8> {
    format!(r#"{{"product":"{product}","amount":{amount},"qty":{qty},"order_time":{time}}}"#)
        .into_bytes()
}

/// Runs `script` with python3 and returns its stdout. DuckDB is the tests' oracle: when it is
/// missing the test fails and says how to install it, rather than passing without checking.
pub fn python(script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 is needed by the batch layer's tests (the DuckDB oracle)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'duckdb'") || stderr.contains("No module named 'pyarrow'") {
        panic!(
            "the batch layer's tests check the lake with DuckDB: run `python3 -m pip install duckdb pyarrow`\n{stderr}"
        );
    }
    assert!(out.status.success(), "python failed:\n{script}\n{stderr}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `sql` in DuckDB (all rows as JSON arrays, one line per row).
pub fn duckdb(sql: &str) -> Vec<serde_json::Value> {
    let script = format!(
        "import duckdb, json, datetime, decimal\n\
         con = duckdb.connect()\n\
         def conv(v):\n\
         \x20   if isinstance(v, datetime.datetime): return (v.replace(tzinfo=None) - datetime.datetime(1970, 1, 1)) // datetime.timedelta(milliseconds=1)\n\
         \x20   if isinstance(v, decimal.Decimal): return float(v)\n\
         \x20   if isinstance(v, (bytes, bytearray)): return v.decode('latin-1')\n\
         \x20   return v\n\
         for row in con.execute({sql:?}).fetchall():\n\
         \x20   print(json.dumps([conv(v) for v in row]))\n"
    );
    python(&script)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json row"))
        .collect()
}

/// Seals every partition of `orders` (rolls its active segment) and archives the topic into a
/// fresh lake `<dir>/lake`; returns the lake and the archiver's report.
pub fn seal_and_archive_orders(log: &Log, dir: &Path) -> (PathBuf, ArchiveReport) {
    let topic = log.topic("orders").expect("orders");
    for p in topic.partitions() {
        p.roll_now().expect("roll");
    }
    let lake = dir.join("lake");
    let archiver =
        Archiver::new(ArchiveConfig::new(&lake), Arc::new(BatchMetrics::default())).expect("a");
    let report = archiver
        .archive_topic(log, "orders", Some(&orders_source()))
        .expect("archive");
    (lake, report)
}
