//! `strata bench http`: end-to-end throughput and latency of the HTTP API on loopback, each
//! reported beside a baseline measured in the same run, because this machine is noisy:
//!
//! - produce (records/s, N records per request, C clients) vs. appending the same batches
//!   to the log in-process from C threads (encoding included);
//! - consume (records/s, C clients, one partition each) vs. reading and decoding the same
//!   records in-process;
//! - single-record produce latency (p50/p99) at a fixed request rate, open loop (latency is
//!   measured from when a request was due, so a stall is not hidden), vs. `GET /health` at
//!   the same rate.
//!
//! Every loop is bounded by time; each measurement runs `--runs` times and reports the median.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};
use strata_log::{BatchBuilder, Durability, Log, LogOptions, ReadLimits, TopicConfig};
use strata_server::api::topics::CreateTopic;
use strata_server::client::Client;

use super::{Failure, Result, fail, print_json};
use crate::args::{BenchHttpArgs, Output};

/// The node under test, stopped on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Result<Server> {
    use std::io::BufRead;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--log",
            "warn",
            "--data-dir",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        std::io::BufReader::new(out).read_line(&mut line)?;
    }
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| Failure(format!("the node did not say where it listens: {line:?}")))?
        .to_owned();
    Ok(Server { child, url })
}

/// A topic config of text settings.
fn config(settings: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// A JSON value of about `bytes` bytes; `i` makes values differ.
fn value_json(bytes: usize, i: usize) -> String {
    let head = format!("{{\"id\":{i},\"user\":\"user-{}\",\"pad\":\"", i % 1000);
    let pad = bytes.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad))
}

/// `strata bench http`.
pub async fn http(a: BenchHttpArgs) -> Result {
    if a.clients == 0 || a.batch == 0 || a.runs == 0 || a.rate == 0 || a.seconds <= 0.0 {
        return fail("--clients, --batch, --runs, --rate and --seconds must be positive");
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; numbers mean little (cargo build --release && target/release/strata bench http)"
        );
    }
    let tmp = std::env::temp_dir().join(format!("strata-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let result = run_all(&a, &tmp).await;
    let _ = std::fs::remove_dir_all(&tmp);
    let report = result?;
    match a.output {
        Output::Json => print_json(&report),
        Output::Table => {
            print_report(&report);
            Ok(())
        }
    }
}

async fn run_all(a: &BenchHttpArgs, tmp: &Path) -> Result<Value> {
    let server = start_server(&tmp.join("node"))?;
    let admin = Client::new(&server.url, None)?;
    let window = Duration::from_secs_f64(a.seconds);
    let partitions = a.clients as u32;

    // Produce: one body reused by every request (the node parses it every time).
    let mut body = String::from("[");
    for i in 0..a.batch {
        if i > 0 {
            body.push(',');
        }
        body.push_str("{\"value\":");
        body.push_str(&value_json(a.record_bytes, i));
        body.push('}');
    }
    body.push(']');
    let body = Bytes::from(body);
    let mut http_produce = Vec::new();
    let mut direct_produce = Vec::new();
    let mut http_consume = Vec::new();
    let mut direct_consume = Vec::new();
    for run in 0..a.runs {
        let topic = format!("bench-{run}");
        let create = CreateTopic {
            name: topic.clone(),
            partitions,
            config: Some(config(&[
                ("durability", "never"),
                ("segment_bytes", "1GiB"),
            ])),
        };
        admin.send_json(Method::POST, "/v1/topics", &create).await?;
        let (records, secs) =
            produce_http(&server.url, &topic, a.clients, &body, a.batch, window).await?;
        http_produce.push(records as f64 / secs);
        let consumed = consume_http(&server.url, &topic, partitions, window).await?;
        http_consume.push(consumed.0 as f64 / consumed.1);
        let dir = tmp.join(format!("direct-{run}"));
        let (p, c) = direct(&dir, a, window).await?;
        direct_produce.push(p);
        direct_consume.push(c);
        admin
            .call(Method::DELETE, &format!("/v1/topics/{topic}"), None)
            .await?;
        let _ = std::fs::remove_dir_all(&dir);
    }

    // Latency: single-record produce vs. GET /health, at the same rate.
    let create = CreateTopic {
        name: "bench-latency".into(),
        partitions: 1,
        config: Some(config(&[("durability", "never")])),
    };
    admin.send_json(Method::POST, "/v1/topics", &create).await?;
    let one = Bytes::from(format!("[{{\"value\":{}}}]", value_json(a.record_bytes, 0)));
    let mut produce_lat = Vec::new();
    let mut health_lat = Vec::new();
    for _ in 0..a.runs {
        produce_lat.push(
            open_loop(
                &server.url,
                Some(("/v1/topics/bench-latency/records", one.clone())),
                a.rate,
                window,
            )
            .await?,
        );
        health_lat.push(open_loop(&server.url, None, a.rate, window).await?);
    }
    let pick = |runs: &[Latency], f: fn(&Latency) -> f64| median(runs.iter().map(f).collect());
    let report = json!({
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "settings": { "clients": a.clients, "batch": a.batch, "record_bytes": a.record_bytes, "seconds": a.seconds, "runs": a.runs, "rate": a.rate },
        "produce": {
            "http_records_per_s": median(http_produce.clone()),
            "direct_records_per_s": median(direct_produce.clone()),
            "ratio": median(http_produce.clone()) / median(direct_produce.clone()),
            "runs_http": http_produce, "runs_direct": direct_produce,
        },
        "consume": {
            "http_records_per_s": median(http_consume.clone()),
            "direct_records_per_s": median(direct_consume.clone()),
            "ratio": median(http_consume.clone()) / median(direct_consume.clone()),
            "runs_http": http_consume, "runs_direct": direct_consume,
        },
        "latency": {
            "rate": a.rate,
            "produce_p50_ms": pick(&produce_lat, |l| l.p50),
            "produce_p99_ms": pick(&produce_lat, |l| l.p99),
            "produce_max_ms": pick(&produce_lat, |l| l.max),
            "produce_achieved_rate": pick(&produce_lat, |l| l.achieved),
            "produce_errors": produce_lat.iter().map(|l| l.errors).sum::<u64>(),
            "produce_late_sends": produce_lat.iter().map(|l| l.late).sum::<u64>(),
            "health_p50_ms": pick(&health_lat, |l| l.p50),
            "health_p99_ms": pick(&health_lat, |l| l.p99),
            "p99_ratio": pick(&produce_lat, |l| l.p99) / pick(&health_lat, |l| l.p99).max(1e-9),
        },
    });
    drop(server);
    Ok(report)
}

fn print_report(r: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let s = &r["settings"];
    println!(
        "strata bench http: {} clients, {} records/request, {}-byte JSON values, {} runs of {}s, medians; {} CPUs",
        s["clients"], s["batch"], s["record_bytes"], s["runs"], s["seconds"], r["machine"]["cpus"]
    );
    println!(
        "produce  {:>12.0} records/s over HTTP   baseline (log in-process) {:>12.0} records/s   ratio {:.2}",
        f(&r["produce"]["http_records_per_s"]),
        f(&r["produce"]["direct_records_per_s"]),
        f(&r["produce"]["ratio"])
    );
    println!(
        "consume  {:>12.0} records/s over HTTP   baseline (log in-process) {:>12.0} records/s   ratio {:.2}",
        f(&r["consume"]["http_records_per_s"]),
        f(&r["consume"]["direct_records_per_s"]),
        f(&r["consume"]["ratio"])
    );
    let l = &r["latency"];
    println!(
        "latency  single-record produce at {} req/s (achieved {:.0}): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, errors {}, late sends {}   baseline GET /health: p50 {:.3} ms, p99 {:.3} ms   p99 ratio {:.2}",
        l["rate"],
        f(&l["produce_achieved_rate"]),
        f(&l["produce_p50_ms"]),
        f(&l["produce_p99_ms"]),
        f(&l["produce_max_ms"]),
        l["produce_errors"],
        l["produce_late_sends"],
        f(&l["health_p50_ms"]),
        f(&l["health_p99_ms"]),
        f(&l["p99_ratio"])
    );
}

/// `clients` loops POSTing `body` for `window`; returns (records acknowledged, seconds).
async fn produce_http(
    url: &str,
    topic: &str,
    clients: usize,
    body: &Bytes,
    per_request: usize,
    window: Duration,
) -> Result<(u64, f64)> {
    let started = Instant::now();
    let deadline = started + window;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = Client::new(url, None)?;
        let body = body.clone();
        let topic = topic.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let r = client.produce(&topic, body.clone()).await?;
                if r.get("offsets").is_none() {
                    return Err(strata_server::client::ClientError::Protocol(
                        "no offsets".into(),
                    ));
                }
                n += per_request as u64;
            }
            Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.map_err(|e| Failure(e.to_string()))??;
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

/// One client per partition reads from offset 0 until the end or `window`; returns
/// (records, seconds).
async fn consume_http(
    url: &str,
    topic: &str,
    partitions: u32,
    window: Duration,
) -> Result<(u64, f64)> {
    let started = Instant::now();
    let deadline = started + window;
    let mut tasks = Vec::new();
    for p in 0..partitions {
        let client = Client::new(url, None)?;
        let topic = topic.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut offset = 0u64;
            let mut n = 0u64;
            while Instant::now() < deadline {
                let path =
                    format!("/v1/topics/{topic}/records?partition={p}&offset={offset}&max=10000");
                let reply = client.raw(Method::GET, &path, None).await?;
                // Read only the tail ("count" and "next_offsets"): parsing every record
                // would measure this client, not the node.
                let body = &reply.body;
                let Some(at) = find_last(body, b"],\"count\":") else {
                    return Err(strata_server::client::api_error(reply.status, body));
                };
                let mut tail = b"{".to_vec();
                tail.extend_from_slice(&body[at + 2..]);
                let tail: FetchTail = serde_json::from_slice(&tail)
                    .map_err(|e| strata_server::client::ClientError::Protocol(e.to_string()))?;
                if tail.count == 0 {
                    break;
                }
                n += tail.count;
                offset = tail.next_offsets.first().map_or(offset, |p| p.offset);
            }
            Ok::<_, strata_server::client::ClientError>(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.map_err(|e| Failure(e.to_string()))??;
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

/// The end of a fetch answer ([`strata_server::api::records::Fetched`] without its records).
#[derive(serde::Deserialize)]
struct FetchTail {
    count: u64,
    next_offsets: Vec<strata_server::api::PartitionOffset>,
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// The in-process baseline: the same records, encoded into the same batches and appended
/// from `clients` threads; then read back and decoded. Returns (append/s, read/s).
async fn direct(dir: &Path, a: &BenchHttpArgs, window: Duration) -> Result<(f64, f64)> {
    let dir = dir.to_owned();
    let clients = a.clients;
    let batch = a.batch;
    let values: Arc<Vec<String>> =
        Arc::new((0..batch).map(|i| value_json(a.record_bytes, i)).collect());
    tokio::task::spawn_blocking(move || -> Result<(f64, f64)> {
        let log = Log::open(&dir, LogOptions::default())?;
        let config = TopicConfig {
            durability: Durability::Never,
            segment_bytes: 1 << 30,
            ..TopicConfig::default()
        };
        let topic = log.create_topic("direct", clients as u32, config)?;
        let started = Instant::now();
        let deadline = started + window;
        let appended: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients)
                .map(|p| {
                    let topic = Arc::clone(&topic);
                    let values = Arc::clone(&values);
                    s.spawn(move || {
                        let mut n = 0u64;
                        while Instant::now() < deadline {
                            let mut b =
                                BatchBuilder::with_capacity(values.len() * (values[0].len() + 16));
                            let ts = strata_server::time::now_ms();
                            for v in values.iter() {
                                b.push(None, v.as_bytes(), ts, std::iter::empty());
                            }
                            let Some(batch) = b.finish() else { break };
                            if topic.append(p as u32, batch).is_err() {
                                break;
                            }
                            n += values.len() as u64;
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        let append_rate = appended as f64 / started.elapsed().as_secs_f64();

        let started = Instant::now();
        let deadline = started + window;
        let read: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients)
                .map(|p| {
                    let topic = Arc::clone(&topic);
                    s.spawn(move || {
                        let Ok(part) = topic.partition(p as u32) else {
                            return 0;
                        };
                        let mut offset = part.start_offset();
                        let mut n = 0u64;
                        let mut sink = 0usize;
                        while Instant::now() < deadline {
                            let Ok(fetch) = part.read(
                                offset,
                                ReadLimits {
                                    max_records: 10_000,
                                    max_bytes: 4 << 20,
                                },
                            ) else {
                                break;
                            };
                            if fetch.record_count() == 0 {
                                break;
                            }
                            for r in fetch.records().flatten() {
                                sink = sink.wrapping_add(r.value.len());
                                n += 1;
                            }
                            offset = fetch.next_offset();
                        }
                        std::hint::black_box(sink);
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        let read_rate = read as f64 / started.elapsed().as_secs_f64();
        log.close()?;
        Ok((append_rate, read_rate))
    })
    .await
    .map_err(|e| Failure(e.to_string()))?
}

/// Latency percentiles of one open-loop run, in ms.
#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
    achieved: f64,
    errors: u64,
    /// Requests sent more than 2 ms behind schedule (their latency counts from the schedule).
    late: u64,
}

/// Sends requests at `rate` per second for `window` (POST `body` to `path`, or GET /health)
/// from enough connections that one slow answer does not hold up the schedule; latency
/// counts from when each request was due.
async fn open_loop(
    url: &str,
    post: Option<(&str, Bytes)>,
    rate: u64,
    window: Duration,
) -> Result<Latency> {
    const CONNECTIONS: u64 = 16;
    let interval = Duration::from_secs_f64(CONNECTIONS as f64 / rate as f64);
    let started = tokio::time::Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let client = Client::new(url, None)?;
        let post = post.as_ref().map(|(p, b)| ((*p).to_owned(), b.clone()));
        let first = started + Duration::from_secs_f64(c as f64 / rate as f64);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut late = 0u64;
            let mut due = first;
            while due < started + window {
                tokio::time::sleep_until(due).await;
                // Timers fire up to a millisecond late; count from the later of the due time
                // and the actual send, unless the send is behind schedule because an earlier
                // answer was slow (then from the due time, so the stall is not hidden).
                let sent = tokio::time::Instant::now();
                let behind = sent.duration_since(due) > Duration::from_millis(2);
                if behind {
                    late += 1;
                }
                let from = if behind { due } else { sent };
                let reply = match &post {
                    Some((path, body)) => {
                        client
                            .raw(Method::POST, path, Some((body.clone(), "application/json")))
                            .await
                    }
                    None => client.raw(Method::GET, "/health", None).await,
                };
                match reply {
                    Ok(r) if r.status.is_success() => lat.push(from.elapsed().as_secs_f64() * 1e3),
                    _ => errors += 1,
                }
                due += interval;
            }
            (lat, errors, late)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut late = 0;
    for t in tasks {
        let (l, e, behind) = t.await.map_err(|e| Failure(e.to_string()))?;
        all.extend(l);
        errors += e;
        late += behind;
    }
    all.sort_by(f64::total_cmp);
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Latency {
        p50: at(0.50),
        p99: at(0.99),
        max: all.last().copied().unwrap_or(0.0),
        achieved: all.len() as f64 / window.as_secs_f64(),
        errors,
        late,
    })
}
