//! kill -9 during a Kafka produce with acks=all on a `durability = always` topic: after the
//! node restarts on the same data directory, every record a client was told is acknowledged
//! is in the log exactly once, at the offset it was acknowledged at.
//!
//! The clients are real: confluent-kafka (librdkafka) prints each delivery report as it
//! arrives, kcat reports deliveries with their offsets at `-vvv`. Each round starts the node
//! on the same directory, streams records far faster than a round lasts, kills the node with
//! SIGKILL once some thousands are acknowledged (so requests are in flight at the kill), then
//! kills the client. The records are read back over HTTP: a path independent of the one that
//! wrote them.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::kafka::{python, test_file};
use common::*;

const TOPIC: &str = "acked";
const PARTITIONS: u32 = 3;
/// More records than any round gets through before its kill: the stream is always mid-way.
const STREAM: u64 = 2_000_000;

/// A record a client was told is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Acked {
    partition: u32,
    offset: u64,
    value: String,
}

/// How a client reports its acknowledgements.
enum Reports {
    /// One JSON object per line on stdout (`tests/kafka_clients/acked_producer.py`).
    JsonStdout,
    /// kcat's `% Message delivered to partition P (offset O)` on stderr, in send order: the
    /// n-th report is the n-th line of input (one partition, no retries before the kill).
    KcatStderr { tag: String },
}

/// Runs `client` against `node` until `kill_after` records are acknowledged, then kills the
/// node with SIGKILL, then the client; returns every acknowledgement the client reported,
/// including those that arrived between the count and the kill.
fn produce_until_killed(
    node: Node,
    mut client: Command,
    reports: Reports,
    stdin: Option<String>,
    kill_after: usize,
) -> Vec<Acked> {
    let mut child = client
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the Kafka client (scripts/deps.sh installs it)");
    if let Some(tag) = stdin {
        // kcat reads its records from stdin: feed a stream longer than the round.
        let mut pipe = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            for i in 0..STREAM {
                if writeln!(pipe, "{tag}-{i:08}").is_err() {
                    break; // the client was killed
                }
            }
        });
    }
    let (tx, rx) = mpsc::channel();
    let (report_pipe, other_pipe): (Box<dyn std::io::Read + Send>, Box<dyn std::io::Read + Send>) =
        match reports {
            Reports::JsonStdout => (
                Box::new(child.stdout.take().expect("stdout")),
                Box::new(child.stderr.take().expect("stderr")),
            ),
            Reports::KcatStderr { .. } => (
                Box::new(child.stderr.take().expect("stderr")),
                Box::new(child.stdout.take().expect("stdout")),
            ),
        };
    let reader = std::thread::spawn(move || {
        let mut n = 0u64;
        for line in BufReader::new(report_pipe).lines() {
            let Ok(line) = line else { break };
            let acked = match &reports {
                Reports::JsonStdout => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("{e}: not a delivery report: {line}"));
                    Some(Acked {
                        partition: v["partition"].as_u64().expect("partition") as u32,
                        offset: v["offset"].as_u64().expect("offset"),
                        value: v["value"].as_str().expect("value").to_owned(),
                    })
                }
                Reports::KcatStderr { tag } => parse_kcat_report(&line).map(|(p, o)| {
                    let value = format!("{tag}-{n:08}");
                    n += 1;
                    Acked {
                        partition: p,
                        offset: o,
                        value,
                    }
                }),
            };
            if let Some(a) = acked
                && tx.send(a).is_err()
            {
                break;
            }
        }
    });
    // The client's other stream, kept for the failure message.
    let other = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(other_pipe), &mut text);
        text
    });

    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < kill_after {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(a) => acked.push(a),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    panic!(
                        "the client ended ({status}) after {} acknowledgements: {}",
                        acked.len(),
                        other.join().unwrap_or_default()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "only {} acknowledgements in 60 s",
                    acked.len()
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the client closed its report stream: {acked:?}")
            }
        }
    }
    node.kill9();
    kill_client(&mut child);
    // Reports already written before the client died are still in the pipe: they count.
    reader.join().expect("report reader");
    acked.extend(rx.try_iter());
    acked
}

fn kill_client(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `% Message delivered to partition 0 (offset 6667) on broker 0` → `(0, 6667)`.
fn parse_kcat_report(line: &str) -> Option<(u32, u64)> {
    let rest = line.strip_prefix("% Message delivered to partition ")?;
    let (partition, rest) = rest.split_once(" (offset ")?;
    let (offset, _) = rest.split_once(')')?;
    Some((partition.parse().ok()?, offset.parse().ok()?))
}

/// Every record of `topic`, as `(partition, offset) → value`, read over HTTP page by page.
async fn read_back(c: &strata_server::client::Client) -> HashMap<(u32, u64), String> {
    let mut all = HashMap::new();
    for partition in 0..PARTITIONS {
        let mut offset = 0u64;
        loop {
            let (status, page) = get(
                c,
                &format!(
                    "/v1/topics/{TOPIC}/records?partition={partition}&offset={offset}&max=100000&format=text"
                ),
            )
            .await;
            assert_eq!(status, 200, "{page}");
            let records = page["records"].as_array().expect("records");
            if records.is_empty() {
                break;
            }
            for r in records {
                let at = r["offset"].as_u64().expect("offset");
                assert_eq!(at, offset, "offsets are dense");
                let value = r["value_text"].as_str().expect("text value").to_owned();
                all.insert((partition, at), value);
                offset += 1;
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_records_survive_kill_9_exactly_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let kafka = ["--kafka", "127.0.0.1:0"];

    // The topic is created over Kafka (CreateTopics with strata's durability config), and
    // the node agrees over HTTP that it fsyncs before acknowledging.
    let node = Node::start_in(&dir, &kafka);
    python(
        "kafka_clients/create_topic.py",
        &[
            node.bootstrap(),
            TOPIC,
            &PARTITIONS.to_string(),
            "strata.durability=always",
        ],
    );
    let (_, topic) = get(&node.client(), &format!("/v1/topics/{TOPIC}")).await;
    assert_eq!(topic["config"]["durability"], "always", "{topic}");

    let mut acked = Vec::new();
    let mut node = Some(node);
    // Three rounds of confluent-kafka over all partitions, then one of kcat on partition 0,
    // each killed at a different point; every round resumes on what the last one left.
    for (round, kill_after) in [3_000, 7_000, 1_500].into_iter().enumerate() {
        let n = node.take().unwrap_or_else(|| Node::start_in(&dir, &kafka));
        let tag = format!("ck{round}");
        let mut client = Command::new("python3");
        client
            .arg(test_file("kafka_clients/acked_producer.py"))
            .args([n.bootstrap(), TOPIC, &tag])
            .arg(PARTITIONS.to_string())
            .arg(STREAM.to_string());
        let got = produce_until_killed(n, client, Reports::JsonStdout, None, kill_after);
        eprintln!("round {round}: {} acknowledged before the kill", got.len());
        acked.extend(got);
    }
    let n = Node::start_in(&dir, &kafka);
    let mut client = Command::new("kcat");
    client.args([
        "-b",
        n.bootstrap(),
        "-P",
        "-t",
        TOPIC,
        "-p",
        "0",
        "-X",
        "acks=all",
        "-X",
        "linger.ms=2",
        "-v",
        "-v",
        "-v",
    ]);
    let tag = "kcat".to_owned();
    let got = produce_until_killed(
        n,
        client,
        Reports::KcatStderr { tag: tag.clone() },
        Some(tag),
        2_000,
    );
    eprintln!("kcat round: {} acknowledged before the kill", got.len());
    acked.extend(got);

    let node = Node::start_in(&dir, &kafka);
    let log = read_back(&node.client()).await;
    // Every acknowledged record is where its acknowledgement said.
    for a in &acked {
        assert_eq!(
            log.get(&(a.partition, a.offset)),
            Some(&a.value),
            "acknowledged {a:?}, the log holds another record or none there"
        );
    }
    // And only there: no value in the log twice (each was sent once and never retried to
    // a restarted node), acknowledged or not.
    let mut seen: HashMap<&str, (u32, u64)> = HashMap::new();
    for (at, value) in &log {
        if let Some(first) = seen.insert(value, *at) {
            panic!("{value} is in the log twice: at {first:?} and {at:?}");
        }
    }
    let unacked = log.len() - acked.len();
    eprintln!(
        "{} records acknowledged, {} in the log ({unacked} written but unacknowledged at a kill)",
        acked.len(),
        log.len()
    );
    // The node is whole after the crashes: a Kafka client still produces and reads back.
    let offset = common::kafka::kcat_round_trip(node.bootstrap(), TOPIC, "after the crashes");
    assert_eq!(
        offset,
        log.keys().filter(|(p, _)| *p == 0).count() as u64,
        "the next record lands at the partition's end"
    );
    node.stop();
}
