//! Helpers of the examples' tests (tests/examples_*.rs): run an example's `run.sh` against a
//! node of the real binary, read the input it fed, and read the views' rows over HTTP, so
//! each test can compare a view with its own computation over that input.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hyper::Method;
use serde_json::Value;

use crate::common::{BIN, Node};

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a run of an example left.
pub struct Run {
    /// What the script printed.
    pub stdout: String,
    /// Its scratch directory (the input files it fed).
    pub work: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Run {
    /// The record objects of a file the script fed (one per line).
    pub fn records(&self, file: &str) -> Vec<Record> {
        read_records(&self.work.join(file))
    }
}

/// Runs `examples/<name>/run.sh [args]` against `node` with `env`, and checks it succeeded.
pub fn run_example(node: &Node, name: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path().to_owned();
    let out = Command::new("bash")
        .arg(repo().join("examples").join(name).join("run.sh"))
        .args(args)
        .env("STRATA", BIN)
        .env("STRATA_SERVER", &node.url)
        .env("WORK", &work)
        .env_remove("STRATA_AUTH_TOKEN")
        .envs(env.iter().copied())
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "examples/{name}/run.sh failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        stdout,
        work,
        _tmp: tmp,
    }
}

/// One input record: its key, timestamp and value.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Option<String>,
    pub timestamp: i64,
    pub value: Value,
}

/// Reads record objects (`{"key", "value", "timestamp"}`), one per line.
pub fn read_records(path: &Path) -> Vec<Record> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a record object");
            Record {
                key: v["key"].as_str().map(str::to_owned),
                timestamp: v["timestamp"].as_i64().expect("timestamp"),
                value: if v.get("value_text").is_some() {
                    v["value_text"].clone()
                } else {
                    v["value"].clone()
                },
            }
        })
        .collect()
}

/// The current rows of a view, over HTTP.
pub fn view_rows(node: &Node, view: &str) -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let v = rt
        .block_on(
            node.client()
                .call(Method::GET, &format!("/v1/views/{view}"), None),
        )
        .unwrap_or_else(|e| panic!("GET /v1/views/{view}: {e}"));
    v["rows"].as_array().cloned().unwrap_or_default()
}

/// A view's stats (`records_in`, `late`, ...), over HTTP.
pub fn view_stats(node: &Node, view: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let v = rt
        .block_on(node.client().call(Method::GET, "/v1/views", None))
        .expect("GET /v1/views");
    v["views"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == view))
        .map(|x| x["stats"].clone())
        .unwrap_or_else(|| panic!("no view {view}"))
}

/// The values of every record of a topic, through `strata consume --output json`.
pub fn topic_records(node: &Node, topic: &str) -> Vec<Value> {
    let out = node.cli(&["consume", topic, "--output", "json"]);
    assert!(
        out.status.success(),
        "consume {topic}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON record"))
        .collect()
}

/// Start of the tumbling window of `size` holding `ts` (windows align to the epoch).
pub fn tumble(ts: i64, size: i64) -> i64 {
    ts.div_euclid(size) * size
}

/// Starts of the hopping windows of `size` every `advance` holding `ts`.
pub fn hops(ts: i64, size: i64, advance: i64) -> Vec<i64> {
    let last = tumble(ts, advance);
    let mut starts = Vec::new();
    let mut s = last;
    while s > ts - size {
        starts.push(s);
        s -= advance;
    }
    starts.reverse();
    starts
}

/// Which records of each chunk a windowed view sets aside as late, simulating the
/// watermark as the view keeps it: one micro-batch per chunk, the watermark before a chunk
/// is (newest event time of the chunks before) − `delay`, and a record is late when the
/// last window holding it ends (`last_end`) no later than watermark − grace.
pub fn late_flags(
    chunks: &[&[Record]],
    delay: i64,
    grace: i64,
    last_end: impl Fn(i64) -> i64,
) -> Vec<bool> {
    let mut newest = i64::MIN;
    let mut flags = Vec::new();
    for chunk in chunks {
        let watermark = newest.saturating_sub(delay);
        for r in *chunk {
            flags.push(last_end(r.timestamp).saturating_add(grace) <= watermark);
        }
        for r in *chunk {
            newest = newest.max(r.timestamp);
        }
    }
    flags
}

/// Groups a view's rows by a key made of some fields.
pub fn rows_by<K: Ord>(rows: &[Value], key: impl Fn(&Value) -> K) -> BTreeMap<K, Value> {
    let mut out = BTreeMap::new();
    for r in rows {
        assert!(out.insert(key(r), r.clone()).is_none(), "duplicate row {r}");
    }
    out
}

/// A field as i64 (panics with the row when missing).
pub fn int(row: &Value, field: &str) -> i64 {
    row[field]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer {field} in {row}"))
}

/// A field as f64.
pub fn num(row: &Value, field: &str) -> f64 {
    row[field]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {field} in {row}"))
}

/// A field as text.
pub fn text(row: &Value, field: &str) -> String {
    row[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {row}"))
        .to_owned()
}

/// Whether two sums agree to rounding.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}
