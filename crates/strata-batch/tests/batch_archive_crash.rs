//! Crash test: a child process (this test binary, re-run) archives a topic with tiny
//! segments while the parent kills it with SIGKILL at random moments, at least ten times;
//! then a last run completes, and DuckDB counts every (`_partition`, `_offset`) exactly once
//! and the invalid topic holds each bad record exactly once.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rand::{Rng, SeedableRng};
use strata_batch::{ArchiveConfig, Archiver, BatchMetrics, Manifest, invalid_topic};
use strata_log::{ReadLimits, Record};

const CHILD_ENV: &str = "STRATA_BATCH_CRASH_CHILD_DIR";
const PARTITIONS: u32 = 3;
const RECORDS: i64 = 6_000;
/// 2024-03-10T00:00:00Z.
const T0: i64 = 1_710_028_800_000;

fn archive_once(dir: &std::path::Path) -> strata_batch::ArchiveReport {
    let log = open_log(&dir.join("log"));
    let archiver = Archiver::new(
        ArchiveConfig::new(dir.join("lake")),
        Arc::new(BatchMetrics::default()),
    )
    .expect("archiver");
    archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive")
}

/// The child: archives (and is killed somewhere in the middle).
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // Run as a normal test: nothing to do.
    };
    archive_once(std::path::Path::new(&dir));
    println!("DONE");
}

#[test]
fn every_offset_is_archived_exactly_once_across_sigkills() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = open_log(&dir.path().join("log"));
        log.create_topic("orders", PARTITIONS, small_segments())
            .expect("topic");
        for p in 0..PARTITIONS {
            let records: Vec<Record> = (0..RECORDS)
                .map(|i| {
                    let t = T0 + ((i * 7_919) % 14_400) * 1_000;
                    if i % 97 == 0 {
                        Record::new(b"{\"qty\":\"bad\"}".to_vec(), t)
                    } else {
                        Record::new(order("p", 1.0, i, t), t)
                    }
                })
                .collect();
            append(&log, "orders", p, &records, 10);
            log.topic("orders")
                .expect("t")
                .partition(p)
                .expect("p")
                .roll_now()
                .expect("roll");
        }
        log.close().expect("close");
    }
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut kills = 0;
    let mut rounds = 0;
    // Kills that left the lake half archived (the interesting case).
    let mut midway = 0;
    while kills < 12 {
        rounds += 1;
        assert!(
            rounds < 200,
            "the child finished every time before it could be killed"
        );
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        std::thread::sleep(Duration::from_millis(rng.random_range(5..120)));
        if child.try_wait().expect("wait").is_none() {
            child.kill().expect("SIGKILL");
            kills += 1;
        }
        child.wait().expect("reap");
        let archived: u64 = Manifest::load(&dir.path().join("lake"), "orders")
            .expect("manifest")
            .map_or(0, |m| m.partitions.iter().map(|p| p.archived_to).sum());
        if archived > 0 && archived < RECORDS as u64 * u64::from(PARTITIONS) {
            midway += 1;
        }
        if let Some(m) = Manifest::load(&dir.path().join("lake"), "orders").expect("manifest")
            && m.partitions.len() == PARTITIONS as usize
            && m.partitions.iter().all(|p| p.archived_to == RECORDS as u64)
        {
            // Finished before we got ten kills: start over from an empty lake.
            std::fs::remove_dir_all(dir.path().join("lake")).expect("rm lake");
        }
    }
    assert!(
        midway >= 3,
        "only {midway} of {kills} kills hit a half-archived lake"
    );
    // A last, uninterrupted run finishes the job.
    archive_once(dir.path());

    let lake = dir.path().join("lake");
    let glob = format!("{}/orders/**/*.parquet", lake.display());
    let invalid_per_partition = (0..RECORDS).filter(|i| i % 97 == 0).count() as u64;
    let valid = (RECORDS as u64 - invalid_per_partition) * u64::from(PARTITIONS);
    let rows = duckdb(&format!(
        "SELECT count(*), count(DISTINCT (_partition, _offset)), \
         (SELECT count(*) FROM (SELECT _partition, _offset FROM read_parquet('{glob}') GROUP BY ALL HAVING count(*) > 1)) \
         FROM read_parquet('{glob}', hive_partitioning=true)"
    ));
    assert_eq!(
        rows[0],
        serde_json::json!([valid, valid, 0]),
        "{kills} kills"
    );

    // Each bad record is in the invalid topic exactly once.
    let log = open_log(&dir.path().join("log"));
    let bad = log.topic(&invalid_topic("orders")).expect("invalid");
    let mut seen = std::collections::BTreeSet::new();
    for p in bad.partitions() {
        let fetch = p
            .read(
                p.start_offset(),
                ReadLimits {
                    max_records: u64::MAX,
                    max_bytes: u64::MAX,
                },
            )
            .expect("read");
        for r in fetch.records() {
            let r = r.expect("record");
            let header = |name: &str| {
                r.headers()
                    .map(|h| h.expect("h"))
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    .expect("header")
            };
            let id = (
                header(strata_batch::SOURCE_PARTITION_HEADER),
                header(strata_batch::SOURCE_OFFSET_HEADER),
            );
            assert!(seen.insert(id.clone()), "{id:?} twice in the invalid topic");
        }
    }
    assert_eq!(
        seen.len() as u64,
        invalid_per_partition * u64::from(PARTITIONS)
    );
}
