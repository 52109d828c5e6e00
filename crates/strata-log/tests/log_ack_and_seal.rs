//! Acknowledgements apart from appends (`append_unacked` + `wait_ack`) and sealed segments
//! fsynced off the append path: what becomes durable when, what counts as sealed, and how
//! recovery treats a sealed segment whose fsync a crash cut short.

use std::fs;
use std::path::{Path, PathBuf};

use strata_log::{
    Durability, EncodedBatch, Error, Log, LogOptions, Partition, ReadLimits, Record, TopicConfig,
};

fn options() -> LogOptions {
    LogOptions {
        maintenance_tick: None,
        ..LogOptions::default()
    }
}

fn config(durability: Durability) -> TopicConfig {
    TopicConfig {
        segment_bytes: 4096,
        max_record_bytes: 1024,
        index_interval_bytes: 256,
        durability,
        ..TopicConfig::default()
    }
}

fn record(i: u64) -> Record {
    Record::new(
        format!("record-{i:05}-{}", "v".repeat(40)).into_bytes(),
        i as i64,
    )
}

fn batch(from: u64, n: u64) -> EncodedBatch {
    let records: Vec<Record> = (from..from + n).map(record).collect();
    EncodedBatch::from_records(&records).expect("batch")
}

fn read_all(p: &Partition) -> Vec<Record> {
    let mut out = Vec::new();
    let mut offset = p.start_offset();
    while offset < p.end_offset() {
        let fetch = p.read(offset, ReadLimits::default()).expect("read");
        for r in fetch.records() {
            out.push(r.expect("record").to_owned_record().expect("headers"));
        }
        offset = fetch.next_offset();
    }
    out
}

#[test]
fn wait_ack_makes_always_appends_durable_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log
        .create_topic("t", 1, config(Durability::Always))
        .expect("create");
    let p = topic.partition(0).expect("p0");
    let infos: Vec<_> = (0..40)
        .map(|i| p.append_unacked(batch(i * 5, 5)).expect("append_unacked"))
        .collect();
    assert_eq!(p.end_offset(), 200, "written and visible before any ack");
    assert_eq!(read_all(p).len(), 200);
    // Redeeming the last append covers all earlier ones: the durable offset is a prefix.
    p.wait_ack(&infos[39]).expect("ack");
    assert_eq!(p.durable_offset(), 200);
    for info in &infos {
        assert!(p.is_acknowledged(info), "durable, so no wait is needed");
        p.wait_ack(info).expect("earlier acks are immediate");
    }
    // The topic rolled several times: those segments were fsynced before the ack.
    let segments = p.segments();
    assert!(segments.len() > 2);
    assert!(
        segments[..segments.len() - 1].iter().all(|s| s.sealed),
        "{segments:?}"
    );
}

#[test]
fn under_never_wait_ack_does_not_fsync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log
        .create_topic("t", 1, config(Durability::Never))
        .expect("create");
    let p = topic.partition(0).expect("p0");
    let info = p.append_unacked(batch(0, 3)).expect("append");
    assert!(p.is_acknowledged(&info), "never: nothing to wait for");
    p.wait_ack(&info).expect("ack");
    assert_eq!(
        p.durable_offset(),
        0,
        "never: the ack does not wait for an fsync"
    );
    p.flush().expect("flush");
    assert_eq!(p.durable_offset(), 3);
}

#[test]
fn an_ack_after_its_records_were_truncated_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log
        .create_topic("t", 1, config(Durability::Always))
        .expect("create");
    let p = topic.partition(0).expect("p0");
    let kept = p.append(batch(0, 5)).expect("append");
    let cut = p.append_unacked(batch(5, 5)).expect("append_unacked");
    p.truncate_to(5).expect("truncate");
    assert!(
        !p.is_acknowledged(&cut),
        "truncated away: never acknowledged"
    );
    p.wait_ack(&kept)
        .expect("records below the cut stay acknowledged");
    match p.wait_ack(&cut) {
        Err(Error::Truncated { offset: 5 }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
    // The partition goes on from the cut.
    let next = p.append(batch(5, 2)).expect("append");
    assert_eq!(next.base_offset, 5);
    assert_eq!(p.durable_offset(), 7);
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

fn recovery_point(root: &Path) -> u64 {
    fs::read_to_string(partition_dir(root).join("recovery-point"))
        .expect("recovery point")
        .trim()
        .parse()
        .expect("number")
}

/// A `never` topic over several segments, closed cleanly: 200 records.
fn write_segments(root: &Path) {
    let log = Log::open(root, options()).expect("open");
    let topic = log
        .create_topic("t", 1, config(Durability::Never))
        .expect("create");
    let p = topic.partition(0).expect("p0");
    for i in 0..40 {
        p.append(batch(i * 5, 5)).expect("append");
    }
    // Sealing completes in the background; wait_sealed waits for it.
    p.wait_sealed().expect("sealed");
    let segments = p.segments();
    assert!(segments.len() >= 4, "{segments:?}");
    assert!(segments[..segments.len() - 1].iter().all(|s| s.sealed));
    assert!(!segments[segments.len() - 1].sealed);
    assert_eq!(
        recovery_point(root),
        segments[segments.len() - 2].next_offset,
        "the recovery point moves past every fsynced sealed segment"
    );
    log.close().expect("close");
}

/// As a crash before the fsync of segments rolled after offset 0 would leave it: recovery
/// point 0, no clean-shutdown marker, and the second segment's tail never written.
fn crash_before_seal_fsync(root: &Path) -> PathBuf {
    fs::remove_file(root.join(".clean-shutdown")).expect("unmark");
    fs::write(partition_dir(root).join("recovery-point"), "0").expect("recovery point");
    let second = segment_logs(root)[1].clone();
    let len = fs::metadata(&second).expect("meta").len();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&second)
        .expect("open");
    f.set_len(len / 2).expect("cut");
    second
}

#[test]
fn a_sealed_segment_whose_fsync_a_crash_cut_short_ends_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_segments(dir.path());
    let before = segment_logs(dir.path());
    let second = crash_before_seal_fsync(dir.path());

    let log = Log::open(dir.path(), options()).expect("recovery cuts the log");
    let topic = log.topic("t").expect("topic");
    let p = topic.partition(0).expect("p0");
    assert_eq!(
        segment_logs(dir.path()),
        before[..2],
        "later segments removed"
    );
    let end = p.end_offset();
    assert!(end > 0 && end < 200, "end {end}");
    let records = read_all(p);
    assert_eq!(records, (0..end).map(record).collect::<Vec<_>>());
    // The cut segment is the active one now, and appends continue from its end.
    assert!(second.exists());
    let info = p.append(batch(end, 5)).expect("append");
    assert_eq!(info.base_offset, end);
    // The surviving sealed segment was fsynced at open: it is sealed again.
    let segments = p.segments();
    assert!(segments[0].sealed && !segments[1].sealed, "{segments:?}");
    assert_eq!(recovery_point(dir.path()), segments[0].next_offset);
}

#[test]
fn without_a_recovery_point_the_same_damage_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_segments(dir.path());
    let second = crash_before_seal_fsync(dir.path());
    // With the recovery point lost nothing says the segment may be torn: report, never cut.
    fs::remove_file(partition_dir(dir.path()).join("recovery-point")).expect("rm");
    match Log::open(dir.path(), options()) {
        Err(Error::Corrupt { path, .. }) => assert_eq!(path, second),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
