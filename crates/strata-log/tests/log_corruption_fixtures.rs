//! Recovery against committed on-disk fixtures: a torn tail, a flipped byte in a sealed
//! segment, missing and garbage indexes. The fixtures live in `tests/fixtures/`; they were
//! made by `cargo test -p strata-log --test log_corruption_fixtures -- --ignored regenerate`,
//! and are copied to a temp dir before each test so the committed bytes never change.

use std::fs;
use std::path::{Path, PathBuf};

use strata_log::{
    Durability, EncodedBatch, Error, Log, LogOptions, ReadLimits, Record, TopicConfig,
};

const RECORDS: u64 = 300;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn options() -> LogOptions {
    LogOptions {
        maintenance_tick: None,
        ..LogOptions::default()
    }
}

fn record(i: u64) -> Record {
    Record::new(
        format!("record-{i:04}-{}", "z".repeat((i % 13) as usize)).into_bytes(),
        10_000 + i as i64 * 10,
    )
}

/// A clean log with one topic `t`, one partition, several sealed segments and an active one.
fn write_healthy(dir: &Path) {
    let log = Log::open(dir, options()).expect("open");
    let config = TopicConfig {
        segment_bytes: 2048,
        max_record_bytes: 512,
        index_interval_bytes: 128,
        durability: Durability::Never,
        ..TopicConfig::default()
    };
    let topic = log.create_topic("t", 1, config).expect("create");
    let p = topic.partition(0).expect("p0");
    for start in (0..RECORDS).step_by(5) {
        let records: Vec<Record> = (start..start + 5).map(record).collect();
        p.append(EncodedBatch::from_records(&records).expect("batch"))
            .expect("append");
    }
    log.close().expect("close");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join(name), dir.path());
    dir
}

fn partition_dir(root: &Path) -> PathBuf {
    root.join("topics/t/0")
}

fn segment_logs(root: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = fs::read_dir(partition_dir(root))
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}

fn read_everything(log: &Log) -> Result<Vec<Record>, Error> {
    let topic = log.topic("t")?;
    let p = topic.partition(0)?;
    let mut out = Vec::new();
    let mut offset = p.start_offset();
    while offset < p.end_offset() {
        let fetch = p.read(offset, ReadLimits::default())?;
        for r in fetch.records() {
            out.push(r?.to_owned_record().expect("headers"));
        }
        offset = fetch.next_offset();
    }
    Ok(out)
}

#[test]
#[ignore = "writes the committed fixtures; run by hand after a format change"]
fn regenerate() {
    let root = fixtures();
    let _ = fs::remove_dir_all(&root);

    let healthy = root.join("healthy");
    write_healthy(&healthy);

    // Torn tail: half of a batch after the last whole one, and no clean-shutdown marker.
    let torn = root.join("torn-tail");
    copy_dir(&healthy, &torn);
    fs::remove_file(torn.join(".clean-shutdown")).expect("unmark");
    let last = segment_logs(&torn).pop().expect("active segment");
    let mut bytes = fs::read(&last).expect("read");
    let extra = EncodedBatch::from_records(&[record(999), record(1000)]).expect("batch");
    bytes.extend_from_slice(&extra.as_bytes()[..extra.as_bytes().len() / 2]);
    fs::write(&last, bytes).expect("write");

    // A flipped byte in the middle of the first (sealed) segment's third batch.
    let flipped = root.join("flipped-byte");
    copy_dir(&healthy, &flipped);
    let first = segment_logs(&flipped).remove(0);
    let mut bytes = fs::read(&first).expect("read");
    let batch_len = bytes.len() / 8;
    bytes[batch_len * 2 + 50] ^= 0x01;
    fs::write(&first, bytes).expect("write");

    // Missing indexes of one sealed segment, garbage indexes of another, no marker.
    let missing = root.join("missing-index");
    copy_dir(&healthy, &missing);
    fs::remove_file(missing.join(".clean-shutdown")).expect("unmark");
    let logs = segment_logs(&missing);
    fs::remove_file(logs[0].with_extension("index")).expect("rm");
    fs::remove_file(logs[0].with_extension("timeindex")).expect("rm");
    fs::write(logs[1].with_extension("index"), b"not an index at all").expect("garbage");
    fs::write(logs[1].with_extension("timeindex"), [0xffu8; 24]).expect("garbage");
}

#[test]
fn healthy_fixture_reads_back_every_record() {
    let dir = fixture("healthy");
    let log = Log::open(dir.path(), options()).expect("open");
    assert!(log.was_clean());
    assert_eq!(
        read_everything(&log).expect("read"),
        (0..RECORDS).map(record).collect::<Vec<_>>()
    );
    assert!(
        segment_logs(dir.path()).len() > 3,
        "the fixture must span several segments"
    );
}

#[test]
fn torn_tail_is_truncated_to_the_last_whole_batch() {
    let dir = fixture("torn-tail");
    let last = segment_logs(dir.path()).pop().expect("active");
    let torn_len = fs::metadata(&last).expect("meta").len();
    let log = Log::open(dir.path(), options()).expect("open");
    assert!(!log.was_clean());
    assert_eq!(
        read_everything(&log).expect("read"),
        (0..RECORDS).map(record).collect::<Vec<_>>()
    );
    assert!(
        fs::metadata(&last).expect("meta").len() < torn_len,
        "tail cut off on disk"
    );
    // Appends continue right after the last whole batch.
    let topic = log.topic("t").expect("topic");
    let info = topic
        .append(
            0,
            EncodedBatch::from_records(&[record(RECORDS)]).expect("batch"),
        )
        .expect("append");
    assert_eq!(info.base_offset, RECORDS);
}

#[test]
fn flipped_byte_in_a_sealed_segment_is_reported_never_served() {
    let dir = fixture("flipped-byte");
    let first = segment_logs(dir.path()).remove(0);
    let log = Log::open(dir.path(), options()).expect("a trusted sealed segment opens");
    let err = read_everything(&log).expect_err("the damaged batch must not be served");
    match &err {
        Error::Corrupt { path, position, .. } => {
            assert_eq!(path, &first);
            assert!(*position > 0);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("00000000000000000000.log") && message.contains("CRC"),
        "{message}"
    );
    // Records in other segments are still served.
    let topic = log.topic("t").expect("topic");
    let p = topic.partition(0).expect("p0");
    let late = p
        .read(RECORDS - 10, ReadLimits::default())
        .expect("later segment is fine");
    assert_eq!(late.records().count(), 10);
}

#[test]
fn flipped_byte_found_by_a_recovery_scan_fails_the_open_naming_file_and_position() {
    let dir = fixture("flipped-byte");
    // Without the marker and the recovery point, recovery scans every segment.
    fs::remove_file(dir.path().join(".clean-shutdown")).expect("unmark");
    fs::remove_file(partition_dir(dir.path()).join("recovery-point")).expect("rm");
    let err = Log::open(dir.path(), options()).expect_err("corruption in a sealed segment");
    match err {
        Error::Corrupt {
            path,
            position,
            reason,
        } => {
            assert!(
                path.ends_with("00000000000000000000.log"),
                "{}",
                path.display()
            );
            assert!(position > 0, "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn missing_and_garbage_indexes_are_rebuilt() {
    let dir = fixture("missing-index");
    let logs = segment_logs(dir.path());
    let log = Log::open(dir.path(), options()).expect("open");
    assert_eq!(
        read_everything(&log).expect("read"),
        (0..RECORDS).map(record).collect::<Vec<_>>()
    );
    let topic = log.topic("t").expect("topic");
    let p = topic.partition(0).expect("p0");
    assert_eq!(
        p.offset_for_timestamp(10_000 + 57 * 10).expect("lookup"),
        Some(57)
    );
    for log_file in &logs[..2] {
        let index = fs::read(log_file.with_extension("index")).expect("index rebuilt");
        assert!(!index.is_empty() && index.len() % 8 == 0);
    }
}
