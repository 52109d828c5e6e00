//! Helpers of the end-to-end tests: start the real `strata` binary on an ephemeral port in a
//! temporary data directory, talk to it over HTTP, and run CLI commands against it.

#![allow(dead_code, reason = "each test file uses a different subset")]

pub mod flink_orders;
pub mod kafka;
pub mod orders;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};
use strata_server::client::{Client, Reply};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_strata");

/// A running node.
pub struct Node {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub token: Option<String>,
    /// `host:port` of the Kafka listener, when started with `--kafka`.
    pub kafka: Option<String>,
    /// Everything the node wrote to stderr so far, when started with [`Node::start_logged`].
    stderr: Option<Arc<Mutex<String>>>,
}

impl Node {
    /// Starts a node in a fresh temporary directory.
    pub fn start(extra: &[&str]) -> Node {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let mut node = Node::start_in(&dir, extra);
        node._tmp = Some(tmp);
        node
    }

    /// Starts a node on `dir` (kept when the node stops, for restart tests).
    pub fn start_in(dir: &Path, extra: &[&str]) -> Node {
        Node::spawn(&[], dir, extra, false)
    }

    /// Starts a node on `dir` through a wrapper command that execs the binary (the same
    /// process), e.g. `["fiu-run", "-x"]` for fault injection; its stderr is kept.
    pub fn start_wrapped(wrapper: &[&str], dir: &Path, extra: &[&str]) -> Node {
        Node::spawn(wrapper, dir, extra, true)
    }

    /// Starts a node in a fresh temporary directory, keeping its stderr (its log) for
    /// [`Node::log`]; the log is still echoed to the test's stderr.
    pub fn start_logged(extra: &[&str]) -> Node {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut node = Node::spawn(&[], &tmp.path().join("data"), extra, true);
        node._tmp = Some(tmp);
        node
    }

    fn spawn(wrapper: &[&str], dir: &Path, extra: &[&str], capture: bool) -> Node {
        let mut command = match wrapper {
            [program, args @ ..] => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
            [] => Command::new(BIN),
        };
        let mut child = command
            .arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args(["--http", "127.0.0.1:0", "--log", "warn"])
            .args(extra)
            .env_remove("STRATA_AUTH_TOKEN")
            .env_remove("STRATA_SERVER")
            .env_remove("STRATA_KAFKA")
            .stdout(Stdio::piped())
            .stderr(if capture {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("spawn strata serve through {wrapper:?}: {e}"));
        let stderr = child.stderr.take().map(|pipe| {
            let kept = Arc::new(Mutex::new(String::new()));
            let sink = Arc::clone(&kept);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("{line}");
                    let mut all = sink.lock().unwrap_or_else(|e| e.into_inner());
                    all.push_str(&line);
                    all.push('\n');
                }
            });
            kept
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the listen line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        let token = flag(extra, "--auth-token").map(str::to_owned);
        // `strata serve` names the Kafka listener's bound address on its second line.
        let kafka = flag(extra, "--kafka").filter(|a| *a != "off").map(|_| {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read the Kafka line");
            line.strip_prefix("Kafka protocol on ")
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("no Kafka address in {line:?}"))
                .to_owned()
        });
        Node {
            child,
            url,
            dir: dir.to_owned(),
            _tmp: None,
            token,
            kafka,
            stderr,
        }
    }

    /// Waits up to `limit` until `count` log lines contain `needle` (the log reaches the
    /// test through a pipe and a thread: what the node has written may not be here yet).
    pub fn wait_for_log_count(&self, needle: &str, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let seen = self.log().lines().filter(|l| l.contains(needle)).count();
            if seen >= count {
                assert_eq!(seen, count, "more log lines with {needle:?} than expected");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{seen} of {count} log lines with {needle:?} in {limit:?}; the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The Kafka listener's `host:port` (the node must have been started with `--kafka`).
    pub fn bootstrap(&self) -> &str {
        self.kafka
            .as_deref()
            .expect("the node was started without --kafka")
    }

    /// What the node logged so far (the node must have been started with
    /// [`Node::start_logged`]).
    pub fn log(&self) -> String {
        let kept = self.stderr.as_ref().expect("started with start_logged");
        kept.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits up to `limit` for a log line containing `needle`, returning that line.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} in {limit:?}; the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A client (with the node's token, if any).
    pub fn client(&self) -> Client {
        Client::new(&self.url, self.token.clone()).expect("client")
    }

    /// A client without a token.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, None).expect("client")
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) {
        signal(&self.child, "TERM");
        let status = wait_timeout(&mut self.child, Duration::from_secs(20)).expect("node exits");
        assert!(status.success(), "node exited with {status}");
    }

    /// Kills the node with SIGKILL (no shutdown of any kind: the crash tests' fault) and
    /// waits for it to be gone.
    pub fn kill9(mut self) {
        signal(&self.child, "KILL");
        wait_timeout(&mut self.child, Duration::from_secs(10)).expect("killed");
    }

    /// Runs a CLI command against this node.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_stdin(args, None)
    }

    /// Runs a CLI command with `stdin` as input.
    pub fn cli_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("STRATA_SERVER", &self.url)
            .env_remove("STRATA_AUTH_TOKEN")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = &self.token {
            cmd.env("STRATA_AUTH_TOKEN", t);
        }
        let mut child = cmd.spawn().expect("spawn cli");
        if let Some(input) = stdin {
            use std::io::Write;
            let mut si = child.stdin.take().expect("stdin");
            si.write_all(input).expect("write stdin");
        }
        child.wait_with_output().expect("cli output")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value after `name` in a command line.
fn flag<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == name)
        .and_then(|i| args.get(i + 1).copied())
}

/// Sends a signal by name to a child.
pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for a child with a deadline.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Creates a topic, asserting success.
pub async fn create_topic(c: &Client, name: &str, partitions: u32, config: Value) -> Value {
    c.call(
        Method::POST,
        "/v1/topics",
        Some(json!({ "name": name, "partitions": partitions, "config": config })),
    )
    .await
    .expect("create topic")
}

/// POSTs a raw produce body.
pub async fn produce_raw(c: &Client, topic: &str, body: impl Into<Bytes>) -> Reply {
    c.raw(
        Method::POST,
        &format!("/v1/topics/{topic}/records"),
        Some((body.into(), "application/json")),
    )
    .await
    .expect("request")
}

/// GETs a path and parses the JSON, whatever the status.
pub async fn get(c: &Client, path: &str) -> (u16, Value) {
    let r = c.raw(Method::GET, path, None).await.expect("request");
    (r.status.as_u16(), parse(&r))
}

/// Parses a reply body as JSON (Null if it is not).
pub fn parse(r: &Reply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// The end offset of every partition of a topic: the fingerprint of "the log is unchanged".
pub async fn end_offsets(c: &Client, topic: &str) -> Vec<u64> {
    let (status, v) = get(c, &format!("/v1/topics/{topic}")).await;
    assert_eq!(status, 200, "{v}");
    v["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| p["end_offset"].as_u64().expect("end"))
        .collect()
}

/// Every record of a topic (all partitions) as the HTTP API returns them.
pub async fn all_records(c: &Client, topic: &str) -> Vec<Value> {
    let ends = end_offsets(c, topic).await;
    let mut out = Vec::new();
    for (p, end) in ends.iter().enumerate() {
        let mut offset = 0;
        while offset < *end {
            let (status, v) = get(
                c,
                &format!("/v1/topics/{topic}/records?partition={p}&offset={offset}&max=100000"),
            )
            .await;
            assert_eq!(status, 200, "{v}");
            let records = v["records"].as_array().expect("records");
            assert!(!records.is_empty());
            offset = records.last().expect("last")["offset"]
                .as_u64()
                .expect("offset")
                + 1;
            out.extend(records.iter().cloned());
        }
    }
    out
}

/// Asserts that a reply is an error with this status, and returns its message.
pub fn expect_error(r: &Reply, status: u16) -> String {
    let v = parse(r);
    assert_eq!(
        r.status.as_u16(),
        status,
        "expected {status}, got {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {v}"))
        .to_owned()
}

/// stdout of a CLI run as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr of a CLI run as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that a CLI run succeeded.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}\nstdout: {}",
        stderr(o),
        stdout(o)
    );
    stdout(o)
}

/// Rows of a DuckDB query (python3 with `duckdb`; CI installs it with pip), each a JSON array;
/// DECIMALs (SUM of integers) come back as numbers. DuckDB is the independent oracle of
/// aggregates over the records a test produced.
pub fn duckdb(sql: &str) -> Vec<Value> {
    let script = format!(
        "import duckdb, json, decimal\n\
         con = duckdb.connect()\n\
         conv = lambda v: float(v) if isinstance(v, decimal.Decimal) else v\n\
         for row in con.execute({sql:?}).fetchall():\n\
         \x20   print(json.dumps([conv(v) for v in row]))\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 (CI installs duckdb with pip)");
    assert!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json row"))
        .collect()
}

/// GETs a view until it has read `records` source records and caught up; returns the answer.
pub async fn caught_up(c: &Client, view: &str, records: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = get(c, &format!("/v1/views/{view}")).await;
        assert_eq!(status, 200, "{v}");
        let p = &v["provenance"];
        if p["records_in"].as_u64() == Some(records) && p["lag"] == 0 {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{view} did not catch up to {records} records: {p}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs SQL text (`POST /v1/sql`, as text/plain), whatever the answer.
pub async fn sql(c: &Client, text: &str) -> Reply {
    c.raw(
        Method::POST,
        "/v1/sql",
        Some((Bytes::from(text.to_owned()), "text/plain")),
    )
    .await
    .expect("request")
}

/// The first `n` Server-Sent Events of `GET path` (waiting up to 30 s): each event's `id` and
/// its `data` parsed as JSON.
pub async fn sse_events(c: &Client, path: &str, n: usize) -> Vec<(Option<u64>, Value)> {
    use http_body_util::BodyExt;
    let response = c.send(Method::GET, path, None).await.expect("events");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while text.matches("\ndata: ").count() + usize::from(text.starts_with("data: ")) < n {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("events in time")
            .expect("open")
            .expect("frame");
        if let Ok(d) = frame.into_data() {
            text.push_str(std::str::from_utf8(&d).expect("utf-8"));
        }
    }
    text.split("\n\n")
        .filter(|e| e.contains("data: "))
        .map(|event| {
            let mut id = None;
            let mut data = Value::Null;
            for line in event.lines() {
                if let Some(i) = line.strip_prefix("id: ") {
                    id = Some(i.parse().expect("id"));
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).expect("data");
                }
            }
            (id, data)
        })
        .collect()
}

/// xorshift64*: reproducible data without a dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next pseudo-random number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A pseudo-random number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Reads NDJSON lines (each a JSON value) of a streaming response until `n` lines or the end
/// of the body; panics when `limit` passes first.
pub async fn read_lines(body: &mut hyper::body::Incoming, n: usize, limit: Duration) -> Vec<Value> {
    use http_body_util::BodyExt;
    let mut lines = Vec::new();
    let mut pending = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while lines.len() < n {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(f)) => f.expect("frame"),
            Ok(None) => break,
            Err(_) => panic!("only {} of {n} lines in time: {lines:?}", lines.len()),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            lines.push(serde_json::from_slice(&line).expect("a JSON line"));
        }
    }
    lines
}
