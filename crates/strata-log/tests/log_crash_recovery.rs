//! Crash test: a child process (this test binary, re-run) appends with `durability = always`
//! and reports each acknowledged batch; the parent kills it with SIGKILL at a random moment,
//! reopens the log, and checks that every acknowledged record is there and that no partial
//! batch is visible. Twenty rounds on the same data directory; in every other round the child
//! is a pipelined producer (`append_unacked`, up to four batches in flight, acknowledged after
//! `wait_ack`), so the background flusher's fsyncs are what the acknowledgements rest on.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use strata_log::{Durability, EncodedBatch, Log, LogOptions, ReadLimits, Record, TopicConfig};

const CHILD_ENV: &str = "STRATA_CRASH_CHILD_DIR";
/// Set (to anything) for a pipelined child.
const PIPELINED_ENV: &str = "STRATA_CRASH_CHILD_PIPELINED";
/// Batches a pipelined child keeps written but not yet acknowledged.
const IN_FLIGHT: usize = 4;

fn config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 64 * 1024,
        max_record_bytes: 1024,
        durability: Durability::Always,
        ..TopicConfig::default()
    }
}

/// Value of the record at `offset` in a batch of `len` records, position `i`: the parent
/// can check each record's place and that its batch is whole.
fn value(offset: u64, len: usize, i: usize) -> Vec<u8> {
    let mut v = format!("{offset}:{len}:{i}:").into_bytes();
    v.resize(v.len() + (offset as usize * 31) % 200, b'#');
    v
}

/// The child: appends until killed, printing `ACK <last offset>` after each acknowledged batch.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // Run as a normal test: nothing to do.
    };
    let options = LogOptions {
        maintenance_tick: None,
        ..LogOptions::default()
    };
    let log = Log::open(&dir, options).expect("child open");
    let topic = log
        .topic("t")
        .or_else(|_| log.create_topic("t", 1, config()))
        .expect("topic");
    let p = topic.partition(0).expect("p0");
    let pipelined = std::env::var_os(PIPELINED_ENV).is_some();
    let mut rng = rand::rngs::StdRng::seed_from_u64(p.end_offset());
    let mut out = std::io::stdout().lock();
    let mut in_flight = std::collections::VecDeque::new();
    loop {
        let base = p.end_offset();
        let len = rng.random_range(1..40);
        let records: Vec<Record> = (0..len)
            .map(|i| Record::new(value(base + i as u64, len, i), base as i64))
            .collect();
        let batch = EncodedBatch::from_records(&records).expect("batch");
        let acked = if pipelined {
            let info = p.append_unacked(batch).expect("append_unacked");
            assert_eq!(info.base_offset, base);
            in_flight.push_back(info);
            if in_flight.len() > IN_FLIGHT {
                in_flight.pop_front()
            } else {
                None
            }
        } else {
            let info = p.append(batch).expect("append");
            assert_eq!(info.base_offset, base);
            // Already acknowledged by `append`; `wait_ack` then returns at once.
            Some(info)
        };
        if let Some(info) = acked {
            p.wait_ack(&info).expect("wait_ack");
            writeln!(out, "ACK {}", info.last_offset).expect("stdout");
            out.flush().expect("flush");
        }
    }
}

#[test]
fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut acked_end = 0u64;
    for round in 0..20 {
        let mut command = Command::new(&exe);
        if round % 2 == 1 {
            command.env(PIPELINED_ENV, "1");
        }
        let mut child = command
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ACK ") {
                    last = Some(n.trim().parse::<u64>().expect("offset"));
                }
            }
            last
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(30..300)));
        child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        child.wait().expect("reap");
        if let Some(last) = reader.join().expect("reader") {
            acked_end = acked_end.max(last + 1);
        }

        let options = LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        };
        let log = Log::open(dir.path(), options).expect("reopen after crash");
        assert!(!log.was_clean());
        let Ok(topic) = log.topic("t") else {
            assert_eq!(
                acked_end, 0,
                "round {round}: acknowledged records but no topic"
            );
            continue;
        };
        let p = topic.partition(0).expect("p0");
        assert!(
            p.end_offset() >= acked_end,
            "round {round}: end {} < acknowledged {acked_end}",
            p.end_offset()
        );
        verify_whole_batches(p);
    }
    assert!(acked_end > 0, "the child never acknowledged anything");
}

fn verify_whole_batches(p: &strata_log::Partition) {
    let mut offset = 0;
    while offset < p.end_offset() {
        let fetch = p
            .read(
                offset,
                ReadLimits {
                    max_records: 10_000,
                    max_bytes: 1 << 20,
                },
            )
            .expect("read after recovery");
        for batch in fetch.batches() {
            let n = batch.record_count() as usize;
            for (i, r) in batch.records().enumerate() {
                let r = r.expect("record");
                assert_eq!(
                    r.value,
                    value(r.offset, n, i).as_slice(),
                    "offset {}",
                    r.offset
                );
            }
        }
        assert!(fetch.next_offset() > offset);
        offset = fetch.next_offset();
    }
}
