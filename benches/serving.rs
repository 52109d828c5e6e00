//! The serving layer's benchmark (docs/benchmarks.md, "Serving layer"): the real node
//! (release binary) over loopback, queried by this runner while it ingests.
//!
//! Setup: topic `clicks` (2 partitions); a Lambda view `clicks_per_minute` = COUNT and SUM by
//! user in tumbling one-minute windows; a day of history for `STRATA_BENCH_USERS` (default
//! 200) users, one event per user and minute (so a user has 1 440 windows), archived and
//! covered by a batch run; a speed layer of whatever arrives after.
//!
//! Cases, each `STRATA_BENCH_REPS` (default 5) runs of `STRATA_BENCH_SECONDS` (default 3) s
//! with `STRATA_BENCH_CONNECTIONS` (default 8) concurrent clients:
//! 1. point lookups (`/v1/views/v/keys/{user}`, a random user's 1 440 windows cut to the last
//!    5 by `from`) with the node idle — the same-run baseline;
//! 2. the same lookups while `STRATA_BENCH_INGEST` (default 100 000) events/s are produced
//!    and processed;
//! 3. range queries: one user's whole day of one-minute windows (1 440 rows), while ingesting.
//!
//! Reported: requests/s (median of runs), p50 and p99 latency (of all requests of the median
//! run), the ingest rate achieved, and the rate at which the view read (processed) records
//! during the run (its `records_in`, before and after). Run: `cargo bench --bench serving`.
//!
//! The lookups are sent by lean keep-alive HTTP/1.1 connections of this process (client,
//! node and producer share the machine's cores, so a heavy client would be measured instead
//! of the node). `STRATA_BENCH_LOADGEN=wrk` sends them with wrk instead (`STRATA_BENCH_WRK_THREADS`
//! threads, default 1; the same connections and requests, p50/p99 from its `--latency` report), as an independent
//! cross-check; the producer stays in this process.

use std::error::Error;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_server::client::Client;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Builds a request path from the client's RNG.
type PathFn = Arc<dyn Fn(&mut StdRng) -> String + Send + Sync>;

const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The node under test; killed when dropped.
struct Node {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node() -> BenchResult<Node> {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--http", "127.0.0.1:0", "--log", "error"])
        .args(["--archive-interval", "1h", "--batch-interval", "0"])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("no address in {line:?}"))?
        .to_owned();
    Ok(Node {
        child,
        url,
        _dir: dir,
    })
}

async fn call(c: &Client, method: Method, path: &str, body: Option<String>) -> BenchResult<()> {
    let body = body.map(|b| (Bytes::from(b), "application/json"));
    let r = c.raw(method, path, body).await?;
    if !r.status.is_success() {
        return Err(format!("{path}: {} {}", r.status, String::from_utf8_lossy(&r.body)).into());
    }
    Ok(())
}

/// One JSON produce body: `n` clicks of random users at event times from `t`.
fn clicks(rng: &mut StdRng, users: u64, n: usize, t: i64) -> String {
    let mut body = String::with_capacity(n * 80);
    body.push('[');
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        let user = rng.random_range(0..users);
        body.push_str(&format!(
            r#"{{"key":"u{user}","value":{{"uid":"u{user}","ms":{}}},"timestamp":{}}}"#,
            rng.random_range(1..500),
            t + i as i64
        ));
    }
    body.push(']');
    body
}

/// Loads the day of history, archives it and runs the batch view.
async fn setup(c: &Client, users: u64, day_start: i64) -> BenchResult<()> {
    call(
        c,
        Method::POST,
        "/v1/topics",
        Some(r#"{"name":"clicks","partitions":2,"config":{"segment_bytes":"8MiB","segment_ms":1000}}"#.into()),
    )
    .await?;
    let sql = "CREATE STREAM clicks (uid VARCHAR, ms BIGINT) WITH (kafka_topic='clicks', value_format='JSON');
      CREATE TABLE clicks_per_minute AS SELECT uid, COUNT(*) AS n, SUM(ms) AS total_ms FROM clicks
      WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY uid EMIT CHANGES;";
    call(
        c,
        Method::POST,
        "/v1/sql",
        Some(serde_json::json!({ "sql": sql }).to_string()),
    )
    .await?;
    let mut body = String::new();
    let mut in_body = 0;
    for minute in 0..DAY / MINUTE {
        for user in 0..users {
            if in_body > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                r#"{{"key":"u{user}","value":{{"uid":"u{user}","ms":{}}},"timestamp":{}}}"#,
                (minute as u64 + user) % 400 + 1,
                day_start + minute * MINUTE + user as i64
            ));
            in_body += 1;
            if in_body == 5_000 {
                let full = format!("[{}]", std::mem::take(&mut body));
                call(c, Method::POST, "/v1/topics/clicks/records", Some(full)).await?;
                in_body = 0;
            }
        }
    }
    if in_body > 0 {
        call(
            c,
            Method::POST,
            "/v1/topics/clicks/records",
            Some(format!("[{body}]")),
        )
        .await?;
    }
    let expected = (DAY / MINUTE) as u64 * users;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let r = c
            .raw(Method::GET, "/v1/views/clicks_per_minute?limit=0", None)
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        if v["provenance"]["records_in"].as_u64() == Some(expected) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the view did not catch up: {}", v["provenance"]).into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Quiet topic: the active segments roll by age, then everything is archived and covered.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    call(c, Method::POST, "/v1/batch/archive?topic=clicks", None).await?;
    call(c, Method::POST, "/v1/views/clicks_per_minute/batch", None).await?;
    Ok(())
}

/// A lean HTTP/1.1 keep-alive connection for the lookup loops: one request at a time,
/// written from a reused buffer, the response read into another. The pooled hyper client
/// costs the shared 2 cores about half of what the node spends per lookup; this keeps the
/// load generator from being what is measured. Only what the node sends is handled: a
/// status line, headers with `content-length`, and that many bytes of body.
struct Conn {
    stream: tokio::net::TcpStream,
    host: String,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(url: &str) -> BenchResult<Conn> {
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let stream = tokio::net::TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host,
            request: Vec::with_capacity(256),
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// GETs `path`; returns the status and the body's length.
    async fn get(&mut self, path: &str) -> BenchResult<(u16, usize)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.request.clear();
        self.request.extend_from_slice(b"GET ");
        self.request.extend_from_slice(path.as_bytes());
        self.request.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        self.request.extend_from_slice(self.host.as_bytes());
        self.request.extend_from_slice(b"\r\n\r\n");
        self.stream.write_all(&self.request).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err("the node closed the connection".into());
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end])?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line in {head:?}"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| format!("no content-length in {head:?}"))?;
        while self.buf.len() < head_end + length {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err("the node closed the connection mid-body".into());
            }
        }
        if self.buf.len() != head_end + length {
            return Err("bytes after the response (the node does not pipeline)".into());
        }
        Ok((status, length))
    }
}

/// Result of one timed run.
struct Run {
    requests_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    ingested_per_s: f64,
    processed_per_s: f64,
}

/// Source records the view has read so far (from a point lookup's provenance: cheap, unlike
/// an answer over all groups).
async fn records_in(c: &Client) -> BenchResult<u64> {
    let r = c
        .raw(
            Method::GET,
            "/v1/views/clicks_per_minute/keys/u0?from=9000000000000",
            None,
        )
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    v["provenance"]["records_in"]
        .as_u64()
        .ok_or_else(|| format!("no records_in in {v}").into())
}

/// What sends the timed requests.
#[derive(Clone)]
enum Load {
    /// `connections` lean clients in this process, requests built by the closure.
    Clients(PathFn),
    /// wrk (`STRATA_BENCH_LOADGEN=wrk`), one thread, requests built by this Lua script: an
    /// independent load generator to cross-check the in-process clients.
    Wrk(PathBuf),
}

/// Runs wrk against `url` for `seconds`: (requests/s, p50 ms, p99 ms).
async fn wrk(
    url: &str,
    connections: usize,
    seconds: f64,
    script: &std::path::Path,
) -> BenchResult<(f64, f64, f64)> {
    let threads = env_u64("STRATA_BENCH_WRK_THREADS", 1);
    let out = tokio::process::Command::new("wrk")
        .args([format!("-t{threads}"), format!("-c{connections}")])
        .arg(format!("-d{}s", seconds.round().max(1.0)))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .await
        .map_err(|e| format!("cannot run wrk (apt-get install wrk): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("wrk: {text}{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let ms = |v: &str| -> Option<f64> {
        let (n, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = n.parse().ok()?;
        Some(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            _ => return None,
        })
    };
    let field = |label: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(str::trim))
    };
    let parsed = (|| {
        Some((
            field("Requests/sec:")?.parse().ok()?,
            ms(field("50%")?)?,
            ms(field("99%")?)?,
        ))
    })();
    parsed.ok_or_else(|| format!("cannot read wrk's output: {text}").into())
}

/// `connections` clients send requests built by `path` for `seconds`; with `ingest` > 0 a
/// producer sends that many events/s meanwhile.
async fn timed_run(
    url: &str,
    connections: usize,
    seconds: f64,
    ingest: u64,
    users: u64,
    live_time: Arc<AtomicU64>,
    load: Load,
) -> BenchResult<Run> {
    let stop = Arc::new(AtomicBool::new(false));
    let ingested = Arc::new(AtomicU64::new(0));
    let probe = Client::new(url, None)?;
    let read_before = records_in(&probe).await?;
    let producer = (ingest > 0).then(|| {
        let (c, stop, ingested, live_time) = (
            Client::new(url, None),
            Arc::clone(&stop),
            Arc::clone(&ingested),
            Arc::clone(&live_time),
        );
        tokio::spawn(async move {
            let c = c?;
            let mut rng = StdRng::seed_from_u64(7);
            // Batches of 2 000 at a steady pace.
            let per_batch = 2_000u64;
            let interval = Duration::from_secs_f64(per_batch as f64 / ingest as f64);
            let mut next = Instant::now();
            while !stop.load(Ordering::Acquire) {
                let t = live_time.fetch_add(per_batch, Ordering::AcqRel) as i64;
                let body = clicks(&mut rng, users, per_batch as usize, t);
                call(&c, Method::POST, "/v1/topics/clicks/records", Some(body)).await?;
                ingested.fetch_add(per_batch, Ordering::AcqRel);
                next += interval;
                tokio::time::sleep_until(next.into()).await;
            }
            BenchResult::Ok(())
        })
    });
    let started = Instant::now();
    let path = match load {
        Load::Clients(path) => path,
        Load::Wrk(script) => {
            let (requests_per_s, p50_ms, p99_ms) = wrk(url, connections, seconds, &script).await?;
            stop.store(true, Ordering::Release);
            let elapsed = started.elapsed().as_secs_f64();
            if let Some(p) = producer {
                p.await??;
            }
            let read = records_in(&probe).await? - read_before;
            return Ok(Run {
                requests_per_s,
                p50_ms,
                p99_ms,
                ingested_per_s: ingested.load(Ordering::Acquire) as f64 / elapsed,
                processed_per_s: read as f64 / elapsed,
            });
        }
    };
    let mut clients = Vec::new();
    for i in 0..connections {
        let (mut c, stop, path) = (Conn::open(url).await?, Arc::clone(&stop), Arc::clone(&path));
        clients.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(i as u64);
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Acquire) {
                let p = path(&mut rng);
                let sent = Instant::now();
                let (status, length) = c.get(&p).await?;
                if status != 200 || length < 100 {
                    return Err(format!("{p}: HTTP {status}, {length} bytes").into());
                }
                latencies.push(sent.elapsed().as_micros() as u64);
            }
            BenchResult::Ok(latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Release);
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies_us = Vec::new();
    for c in clients {
        latencies_us.extend(c.await??);
    }
    if let Some(p) = producer {
        p.await??;
    }
    let read = records_in(&probe).await? - read_before;
    latencies_us.sort_unstable();
    Ok(Run {
        processed_per_s: read as f64 / elapsed,
        requests_per_s: latencies_us.len() as f64 / elapsed,
        p50_ms: percentile(&latencies_us, 0.50),
        p99_ms: percentile(&latencies_us, 0.99),
        ingested_per_s: ingested.load(Ordering::Acquire) as f64 / elapsed,
    })
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() -> BenchResult<()> {
    let users = env_u64("STRATA_BENCH_USERS", 200);
    let reps = env_u64("STRATA_BENCH_REPS", 5) as usize;
    let seconds = env_u64("STRATA_BENCH_SECONDS", 3) as f64;
    let connections = env_u64("STRATA_BENCH_CONNECTIONS", 8) as usize;
    let ingest = env_u64("STRATA_BENCH_INGEST", 100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let node = start_node()?;
    let scripts = tempfile::tempdir()?;
    runtime.block_on(async {
        let c = Client::new(&node.url, None)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let day_start = now - now.rem_euclid(MINUTE) - DAY;
        let loading = Instant::now();
        setup(&c, users, day_start).await?;
        println!(
            "setup: {} users × 1 440 minutes loaded, archived and batch-covered in {:.1} s",
            users,
            loading.elapsed().as_secs_f64()
        );
        let live_time = Arc::new(AtomicU64::new((day_start + DAY) as u64));
        let last_minutes = day_start + DAY - 5 * MINUTE;
        let point: PathFn = Arc::new(move |rng| {
            format!(
                "/v1/views/clicks_per_minute/keys/u{}?from={last_minutes}",
                rng.random_range(0..users)
            )
        });
        let range: PathFn = Arc::new(move |rng| {
            format!(
                "/v1/views/clicks_per_minute/keys/u{}?from={day_start}&to={}",
                rng.random_range(0..users),
                day_start + DAY
            )
        });
        let (point, range) = if std::env::var("STRATA_BENCH_LOADGEN").as_deref() == Ok("wrk") {
            // The same requests as Lua for wrk: a random user's path per request.
            let lua = |query: String| -> BenchResult<Load> {
                let script = scripts.path().join(format!("{}.lua", query.len()));
                std::fs::write(
                    &script,
                    format!(
                        "math.randomseed(7)\nrequest = function()\n  return wrk.format(\"GET\", \"/v1/views/clicks_per_minute/keys/u\" .. math.random(0, {}) .. \"{query}\")\nend\n",
                        users - 1
                    ),
                )?;
                Ok(Load::Wrk(script))
            };
            (
                lua(format!("?from={last_minutes}"))?,
                lua(format!("?from={day_start}&to={}", day_start + DAY))?,
            )
        } else {
            (Load::Clients(point), Load::Clients(range))
        };
        let cases: [(&str, u64, &Load); 3] = [
            ("point lookups, idle node (baseline)", 0, &point),
            ("point lookups while ingesting", ingest, &point),
            (
                "range queries (1 440 windows) while ingesting",
                ingest,
                &range,
            ),
        ];
        println!(
            "{:<48} {:>10} {:>9} {:>9} {:>12} {:>12} {:>7}",
            "case", "req/s", "p50 ms", "p99 ms", "ingest ev/s", "read ev/s", "ratio"
        );
        let mut baseline = None;
        for (name, rate, path) in cases {
            let mut runs = Vec::new();
            for _ in 0..reps {
                runs.push(
                    timed_run(
                        &node.url,
                        connections,
                        seconds,
                        rate,
                        users,
                        Arc::clone(&live_time),
                        path.clone(),
                    )
                    .await?,
                );
            }
            runs.sort_by(|a, b| a.requests_per_s.total_cmp(&b.requests_per_s));
            let median = &runs[runs.len() / 2];
            let base = *baseline.get_or_insert(median.requests_per_s);
            println!(
                "{:<48} {:>10.0} {:>9.2} {:>9.2} {:>12.0} {:>12.0} {:>7.2}",
                name,
                median.requests_per_s,
                median.p50_ms,
                median.p99_ms,
                median.ingested_per_s,
                median.processed_per_s,
                median.requests_per_s / base
            );
        }
        BenchResult::Ok(())
    })?;
    drop(node);
    Ok(())
}
