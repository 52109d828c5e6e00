//! The Kafka protocol through the real node (`strata serve --kafka`), beside the HTTP path and
//! the log in-process, in one run (CONVENTIONS.md §8: the machine is shared and noisy, so
//! what we judge is medians and same-run ratios).
//!
//! Cases, 100-byte records, one partition, each `STRATA_BENCH_RUNS` times (default 3), median:
//! - produce with librdkafka (one producer, linger 5 ms, batch 1 MiB, acks=all) into a
//!   `never` and an `always` topic, twice: through `kcat -P` (lines from a file) and through
//!   [`rdkafka`] (a small program on the `rdkafka` crate: librdkafka without kcat's per-record
//!   parsing and formatting); then with this bench's own protocol client
//!   ([`client`]: one pre-encoded 1 MiB batch sent over and over, 4 requests in flight,
//!   acks=-1), which leaves the node as the only thing working: its capacity;
//! - consume from the beginning with librdkafka (`kcat -C … -e`, and [`rdkafka`]'s consumer)
//!   and with the bench client
//!   (records counted from batch headers, 16 MiB fetches);
//! - the log in-process: the same records encoded into batches of the same size and appended
//!   by one thread, then read back (`never` and `always`);
//! - the HTTP path: `strata bench http --output json` (its own node) in the same run;
//! - produce latency p50/p99 at `STRATA_BENCH_RATE` records/s (default 10 000), acks=all,
//!   through librdkafka (confluent-kafka, `benches/kafka/latency.py`), into `always` and
//!   `never` topics.
//!
//! Every case also reports the node's CPU seconds (from /proc), so a figure limited by the
//! client (kcat formats and copies every record; on 2 cores the client and the node share
//! the machine) is told apart from one limited by the node.
//!
//! Run: `cargo bench --bench kafka` (needs kcat and confluent-kafka: `scripts/deps.sh`).
//! `STRATA_BENCH_RECORDS` (default 2 000 000) sets the records per case,
//! `STRATA_BENCH_IN_FLIGHT` (default 4) the bench client's produce requests in flight.

mod client;
mod rdkafka;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use client::{Connection, Result};
use strata_log::{BatchBuilder, Durability, Log, LogOptions, ReadLimits, TopicConfig};

/// Bytes of every record's value.
const VALUE_BYTES: usize = 100;
/// Records per batch: about 1 MiB of 100-byte records (librdkafka's `batch.size` here).
const PER_BATCH: usize = 9_000;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A 100-byte JSON value; `i` makes values differ.
fn value(i: usize) -> Vec<u8> {
    let head = format!("{{\"id\":{i},\"user\":\"user-{}\",\"pad\":\"", i % 1000);
    let mut v = head.into_bytes();
    v.resize(VALUE_BYTES - 2, b'x');
    v.extend_from_slice(b"\"}");
    v
}

/// The node under test, killed on drop.
struct Node {
    child: Child,
    kafka: String,
}

impl Node {
    fn start(dir: &Path) -> Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["serve", "--http", "127.0.0.1:0", "--kafka", "127.0.0.1:0"])
            .args(["--log", "warn", "--data-dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let mut kafka = None;
        for line in BufReader::new(out).lines().take(10) {
            let line = line?;
            if let Some(rest) = line.strip_prefix("Kafka protocol on ") {
                kafka = rest.split_whitespace().next().map(str::to_owned);
                break;
            }
        }
        let kafka = kafka.ok_or("the node did not say where its Kafka listener is")?;
        Ok(Self { child, kafka })
    }

    /// The node's CPU seconds so far (user + system).
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.child.id())
    }

    /// Runs a case (`work` returns its seconds) and adds it to `case` with the node's CPU
    /// seconds it took.
    fn timed(
        &self,
        case: &mut Case,
        records: u64,
        work: impl FnOnce() -> Result<f64>,
    ) -> Result<()> {
        let cpu = self.cpu_seconds();
        let seconds = work()?;
        case.add(records, seconds, self.cpu_seconds() - cpu);
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds of process `pid` (clock ticks of 1/100 s, Linux's `USER_HZ`).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// One measured case: records/s and the node's CPU seconds per million records.
#[derive(Default)]
struct Case {
    rates: Vec<f64>,
    node_cpu_per_m: Vec<f64>,
}

impl Case {
    fn add(&mut self, records: u64, seconds: f64, node_cpu: f64) {
        self.rates.push(records as f64 / seconds);
        self.node_cpu_per_m.push(node_cpu / (records as f64 / 1e6));
    }
}

fn check_tools() -> Result<()> {
    let kcat = Command::new("kcat").arg("-V").output();
    let confluent = Command::new("python3")
        .args(["-c", "import confluent_kafka"])
        .output();
    match (kcat, confluent) {
        (Ok(k), Ok(c)) if k.status.success() && c.status.success() => Ok(()),
        _ => Err("this benchmark drives librdkafka through kcat and confluent-kafka: run scripts/deps.sh".into()),
    }
}

fn main() -> Result<()> {
    check_tools()?;
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run `cargo bench --bench kafka`");
    }
    let records = env_or("STRATA_BENCH_RECORDS", 2_000_000);
    let runs = env_or("STRATA_BENCH_RUNS", 3);
    let rate = env_or("STRATA_BENCH_RATE", 10_000);
    let in_flight = usize::try_from(env_or("STRATA_BENCH_IN_FLIGHT", 4))
        .unwrap_or(4)
        .max(1);
    let tmp = PathBuf::from(
        std::env::var("STRATA_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").into()),
    )
    .join(format!("kafka-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let result = run(&tmp, records, runs, rate, in_flight);
    let _ = fs::remove_dir_all(&tmp);
    result
}

/// The cases' names, in the order the table prints them.
const CASES: [&str; 12] = [
    "produce never: kcat (librdkafka)",
    "produce never: rdkafka (librdkafka)",
    "produce never: bench client",
    "produce never: log in-process",
    "produce always: kcat (librdkafka)",
    "produce always: rdkafka (librdkafka)",
    "produce always: bench client",
    "produce always: log in-process",
    "consume: kcat (librdkafka)",
    "consume: rdkafka (librdkafka)",
    "consume: bench client",
    "consume: log in-process",
];
/// A path's index in [`CASES`]: its produce-`never` case; `+ ALWAYS` is its produce-`always`
/// case, `+ CONSUME` its consume case.
const KCAT: usize = 0;
const RDKAFKA: usize = 1;
const CLIENT: usize = 2;
const IN_PROCESS: usize = 3;
const ALWAYS: usize = 4;
const CONSUME: usize = 8;

fn run(tmp: &Path, records: u64, runs: u64, rate: u64, in_flight: usize) -> Result<()> {
    let values: Vec<Vec<u8>> = (0..PER_BATCH).map(value).collect();
    let lines = tmp.join("records.txt");
    write_lines(&lines, &values, records)?;
    let batch = client::record_batch(&values)?;
    let rdkafka_client = rdkafka::build()?;
    let node = Node::start(&tmp.join("node"))?;
    let mut conn = Connection::open(&node.kafka)?;
    let mut cases: Vec<Case> = CASES.iter().map(|_| Case::default()).collect();

    for run in 0..runs {
        for durability in ["never", "always"] {
            let (always, consume) = (durability == "always", durability == "never");
            let produce_case = |path: usize| path + if always { ALWAYS } else { 0 };
            // librdkafka through kcat, then through the rdkafka crate.
            let topic = format!("kcat-{durability}-{run}");
            conn.create_topic(&topic, durability)?;
            node.timed(&mut cases[produce_case(KCAT)], records, || {
                kcat_produce(&node.kafka, &topic, &lines)
            })?;
            if consume {
                node.timed(&mut cases[KCAT + CONSUME], records, || {
                    kcat_consume(&node.kafka, &topic, records)
                })?;
            }
            conn.delete_topic(&topic)?;
            let topic = format!("rdkafka-{durability}-{run}");
            conn.create_topic(&topic, durability)?;
            node.timed(&mut cases[produce_case(RDKAFKA)], records, || {
                rdkafka::produce(&rdkafka_client, &node.kafka, &topic, records, VALUE_BYTES)
            })?;
            if consume {
                node.timed(&mut cases[RDKAFKA + CONSUME], records, || {
                    rdkafka::consume(&rdkafka_client, &node.kafka, &topic, records)
                })?;
            }
            conn.delete_topic(&topic)?;
            // the bench client
            let topic = format!("raw-{durability}-{run}");
            conn.create_topic(&topic, durability)?;
            let produced = records.div_ceil(PER_BATCH as u64) * PER_BATCH as u64;
            node.timed(&mut cases[produce_case(CLIENT)], produced, || {
                conn.produce(&topic, &batch, PER_BATCH as u64, records, in_flight, -1)
            })?;
            if consume {
                node.timed(&mut cases[CLIENT + CONSUME], produced, || {
                    conn.consume(&topic, produced, 16 << 20)
                })?;
            }
            conn.delete_topic(&topic)?;
            // the log in-process
            let dir = tmp.join(format!("direct-{durability}-{run}"));
            let (append, read) = in_process(&dir, &values, records, always)?;
            cases[produce_case(IN_PROCESS)].add(records, append, 0.0);
            if consume {
                cases[IN_PROCESS + CONSUME].add(records, read, 0.0);
            }
            let _ = fs::remove_dir_all(&dir);
        }
    }
    let latency = [
        latency(&mut conn, &node.kafka, "always", rate)?,
        latency(&mut conn, &node.kafka, "never", rate)?,
    ];
    drop(conn);
    drop(node);
    let http = http_bench()?;

    println!(
        "strata Kafka benchmark: {records} records of {VALUE_BYTES} B per case, {runs} runs, medians; {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<36} {:>14} {:>22}",
        "case", "records/s", "node CPU s / M records"
    );
    for (name, case) in CASES.iter().zip(&cases) {
        let cpu = median(case.node_cpu_per_m.clone());
        let cpu = if cpu > 0.0 {
            format!("{cpu:.3}")
        } else {
            "-".to_owned()
        };
        println!("{name:<36} {:>14.0} {cpu:>22}", median(case.rates.clone()));
    }
    let ratio =
        |a: usize, b: usize| median(cases[a].rates.clone()) / median(cases[b].rates.clone());
    for (label, offset) in [
        ("produce never", 0),
        ("produce always", ALWAYS),
        ("consume", CONSUME),
    ] {
        let base = IN_PROCESS + offset;
        println!(
            "ratios to the log in-process, {label}: kcat {:.2}, rdkafka {:.2}, bench client {:.2}",
            ratio(KCAT + offset, base),
            ratio(RDKAFKA + offset, base),
            ratio(CLIENT + offset, base)
        );
    }
    for (durability, l) in ["always", "never"].iter().zip(&latency) {
        println!(
            "latency acks=all durability={durability} at {rate}/s (confluent-kafka): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, achieved {:.0}/s, failed {}",
            l["p50_ms"].as_f64().unwrap_or(0.0),
            l["p99_ms"].as_f64().unwrap_or(0.0),
            l["max_ms"].as_f64().unwrap_or(0.0),
            l["achieved_rate"].as_f64().unwrap_or(0.0),
            l["failed"]
        );
    }
    println!(
        "HTTP path, same run (strata bench http: 1 client, 1000 JSON records/request, durability never): produce {:.0}/s, consume {:.0}/s, single-record produce p99 {:.3} ms at 10000/s",
        http["produce"]["http_records_per_s"]
            .as_f64()
            .unwrap_or(0.0),
        http["consume"]["http_records_per_s"]
            .as_f64()
            .unwrap_or(0.0),
        http["latency"]["produce_p99_ms"].as_f64().unwrap_or(0.0)
    );
    Ok(())
}

/// `records` lines, cycling through `values`, for kcat to produce.
fn write_lines(path: &Path, values: &[Vec<u8>], records: u64) -> Result<()> {
    let mut out = std::io::BufWriter::new(fs::File::create(path)?);
    for i in 0..records as usize {
        out.write_all(&values[i % values.len()])?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// `kcat -P` of every line of `lines`, acks=all; seconds until kcat exits (it waits for
/// every delivery report).
fn kcat_produce(kafka: &str, topic: &str, lines: &Path) -> Result<f64> {
    let started = Instant::now();
    let status = Command::new("kcat")
        .args(["-P", "-b", kafka, "-t", topic, "-p", "0"])
        .args([
            "-X",
            "acks=all",
            "-X",
            "linger.ms=5",
            "-X",
            "batch.size=1048576",
        ])
        .args(["-X", "queue.buffering.max.messages=1000000"])
        .args(["-X", "queue.buffering.max.kbytes=1048576"])
        .arg("-l")
        .arg(lines)
        .status()?;
    if !status.success() {
        return Err(format!("kcat -P failed: {status}").into());
    }
    Ok(started.elapsed().as_secs_f64())
}

/// `kcat -C` from the beginning to the end; checks the count, returns seconds. The consumer
/// queue is raised so that kcat's own formatting, not a full queue, paces the fetches.
fn kcat_consume(kafka: &str, topic: &str, records: u64) -> Result<f64> {
    let started = Instant::now();
    let out = Command::new("kcat")
        .args([
            "-C",
            "-b",
            kafka,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .args(["-f", "%o\n"])
        .args(["-X", "queued.min.messages=1000000"])
        .args(["-X", "queued.max.messages.kbytes=1048576"])
        .args(["-X", "fetch.max.bytes=104857600"])
        .args(["-X", "max.partition.fetch.bytes=16777216"])
        .output()?;
    let secs = started.elapsed().as_secs_f64();
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .and_then(|l| l.parse::<u64>().ok());
    if last != Some(records - 1) {
        return Err(format!(
            "kcat -C read up to offset {last:?}, expected {}",
            records - 1
        )
        .into());
    }
    Ok(secs)
}

/// The same records into the log in-process, one thread encoding and appending batches of
/// [`PER_BATCH`]; then read back value by value. Returns (append seconds, read seconds).
fn in_process(dir: &Path, values: &[Vec<u8>], records: u64, always: bool) -> Result<(f64, f64)> {
    let log = Log::open(dir, LogOptions::default())?;
    let config = TopicConfig {
        durability: if always {
            Durability::Always
        } else {
            Durability::Never
        },
        segment_bytes: 1 << 30,
        ..TopicConfig::default()
    };
    let topic = log.create_topic("direct", 1, config)?;
    let started = Instant::now();
    let mut left = records as usize;
    while left > 0 {
        let n = left.min(values.len());
        let mut b = BatchBuilder::with_capacity(n * (VALUE_BYTES + 16));
        for v in &values[..n] {
            b.push(None, v, 1_700_000_000_000, std::iter::empty());
        }
        let batch = b.finish().ok_or("empty batch")?;
        topic.append(0, batch)?;
        left -= n;
    }
    let append = started.elapsed().as_secs_f64();

    let part = topic.partition(0)?;
    let started = Instant::now();
    let mut offset = part.start_offset();
    let mut sink = 0usize;
    let mut read = 0u64;
    while read < records {
        let fetch = part.read(
            offset,
            ReadLimits {
                max_records: u64::MAX,
                max_bytes: 16 << 20,
            },
        )?;
        for r in fetch.records().flatten() {
            sink = sink.wrapping_add(r.value.len());
            read += 1;
        }
        offset = fetch.next_offset();
    }
    std::hint::black_box(sink);
    let read_secs = started.elapsed().as_secs_f64();
    log.close()?;
    Ok((append, read_secs))
}

/// Produce latency through confluent-kafka into a fresh topic of `durability`.
fn latency(
    conn: &mut Connection,
    kafka: &str,
    durability: &str,
    rate: u64,
) -> Result<serde_json::Value> {
    let topic = format!("latency-{durability}");
    conn.create_topic(&topic, durability)?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/kafka/latency.py");
    let out = Command::new("python3")
        .arg(script)
        .args([kafka, &topic, &rate.to_string(), "5"])
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("latency.py failed: {}", out.status).into());
    }
    conn.delete_topic(&topic)?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// `strata bench http` in the same run, for the HTTP path's figures.
fn http_bench() -> Result<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "bench",
            "http",
            "--output",
            "json",
            "--runs",
            "3",
            "--seconds",
            "2",
        ])
        .args(["--clients", "1", "--rate", "10000"])
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("strata bench http failed: {}", out.status).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}
