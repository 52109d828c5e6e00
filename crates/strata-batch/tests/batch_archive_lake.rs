//! The archiver against the lake contract: Hive layout, manifest, invalid records, retention
//! floor, raw topics, leftovers and foreign files — checked with DuckDB as the reader.

mod common;

use std::sync::Arc;

use common::*;
use strata_batch::{ArchiveConfig, Archiver, BatchMetrics, Manifest, REASON_HEADER, invalid_topic};
use strata_log::{ReadLimits, Record};

const HOUR: i64 = 3_600_000;
/// 2024-03-10T00:00:00Z.
const T0: i64 = 1_710_028_800_000;

fn archiver(lake: &std::path::Path) -> Archiver {
    Archiver::new(ArchiveConfig::new(lake), Arc::new(BatchMetrics::default())).expect("archiver")
}

/// 3 partitions × 400 orders spread over 3 hours, out of order, every 50th one invalid.
fn produce_orders(log: &strata_log::Log) -> (u64, f64, u64) {
    log.create_topic("orders", 3, small_segments())
        .expect("topic");
    let (mut valid, mut sum, mut invalid) = (0u64, 0.0f64, 0u64);
    for p in 0..3u32 {
        let records: Vec<Record> = (0..400i64)
            .map(|i| {
                let time = T0 + ((i * 7919 + i64::from(p) * 13) % (3 * HOUR / 1000)) * 1000;
                let amount = (i % 17) as f64 + 0.25;
                if i % 50 == 49 {
                    invalid += 1;
                    Record::new(b"{\"product\":\"x\",\"qty\":\"many\"}".to_vec(), time)
                        .with_key(format!("k{i}"))
                } else {
                    valid += 1;
                    sum += amount;
                    Record::new(order(&format!("prod{}", i % 5), amount, i, time), T0)
                        .with_key(format!("k{i}"))
                }
            })
            .collect();
        append(log, "orders", p, &records, 25);
        log.topic("orders")
            .expect("t")
            .partition(p)
            .expect("p")
            .roll_now()
            .expect("roll");
    }
    (valid, sum, invalid)
}

#[test]
fn archived_orders_open_in_duckdb_with_the_right_counts_sums_and_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    let lake = dir.path().join("lake");
    let (valid, sum, invalid) = produce_orders(&log);
    let archiver = archiver(&lake);
    let report = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    assert_eq!(report.rows, valid);
    assert_eq!(report.invalid, invalid);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.horizon, vec![(0, 400), (1, 400), (2, 400)]);

    // The invalid topic holds the bad records with their reason.
    let bad = log.topic(&invalid_topic("orders")).expect("invalid topic");
    let mut reasons = 0;
    for p in bad.partitions() {
        let fetch = p
            .read(
                0,
                ReadLimits {
                    max_records: 1000,
                    max_bytes: u64::MAX,
                },
            )
            .expect("read");
        for r in fetch.records() {
            let r = r.expect("record");
            assert!(r.headers().any(|h| h.expect("h").0 == REASON_HEADER));
            reasons += 1;
        }
    }
    assert_eq!(reasons, invalid);
    assert_eq!(
        archiver
            .metrics()
            .invalid_records
            .load(std::sync::atomic::Ordering::Relaxed),
        invalid
    );

    // Hive layout by event time: three hours of one date.
    let glob = format!("{}/orders/**/*.parquet", lake.display());
    let rows = duckdb(&format!(
        "SELECT count(*), sum(amount), count(DISTINCT (_partition, _offset)), min(date)::VARCHAR, count(DISTINCT hour) \
         FROM read_parquet('{glob}', hive_partitioning=true)"
    ));
    assert_eq!(rows[0][0].as_u64(), Some(valid));
    assert!((rows[0][1].as_f64().expect("sum") - sum).abs() < 1e-6);
    assert_eq!(rows[0][2].as_u64(), Some(valid));
    assert_eq!(rows[0][3].as_str(), Some("2024-03-10"));
    assert_eq!(rows[0][4].as_u64(), Some(3));
    // Every row sits in the directory of its event-time hour.
    let misplaced = duckdb(&format!(
        "SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true) \
         WHERE strftime(order_time, '%Y-%m-%d') <> date::VARCHAR OR hour(order_time) <> hour::INT"
    ));
    assert_eq!(misplaced[0][0].as_u64(), Some(0));
    let schema = duckdb(&format!(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('{glob}', hive_partitioning=false))"
    ));
    let schema: Vec<(String, String)> = schema
        .iter()
        .map(|r| {
            (
                r[0].as_str().expect("n").into(),
                r[1].as_str().expect("t").into(),
            )
        })
        .collect();
    let expected = [
        ("product", "VARCHAR"),
        ("amount", "DOUBLE"),
        ("qty", "BIGINT"),
        ("order_time", "TIMESTAMP"),
        ("_timestamp", "TIMESTAMP"),
        ("_partition", "BIGINT"),
        ("_offset", "BIGINT"),
        ("_key", "VARCHAR"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).into(), (*b).into()))
        .collect();
    assert_eq!(schema, expected);

    // zstd and row-group statistics, as written.
    let meta = duckdb(&format!(
        "SELECT DISTINCT compression, stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL FROM parquet_metadata('{glob}') WHERE path_in_schema = 'amount'"
    ));
    assert_eq!(meta.len(), 1, "{meta:?}");
    assert_eq!(meta[0][0].as_str(), Some("ZSTD"));
    assert_eq!(meta[0][1].as_bool(), Some(true));

    // A second run finds nothing new.
    let again = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("again");
    assert_eq!((again.segments, again.rows), (0, 0));
}

#[test]
fn retention_deletes_only_archived_segments_in_lambda_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    let config = strata_log::TopicConfig {
        retention_ms: Some(1),
        ..small_segments()
    };
    let topic = log.create_topic("orders", 1, config).expect("topic");
    let records: Vec<Record> = (0..600)
        .map(|i| Record::new(order("a", 1.0, i, T0 + i), T0))
        .collect();
    append(&log, "orders", 0, &records, 20);
    let p = topic.partition(0).expect("p");
    p.roll_now().expect("roll");
    let archiver = archiver(&dir.path().join("lake"));
    // At startup the node protects what is not archived yet.
    archiver.protect(&log).expect("protect");
    assert_eq!(p.enforce_retention(i64::MAX / 2).expect("retention"), 0);
    assert_eq!(p.start_offset(), 0);

    let report = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    assert_eq!(report.rows, 600);
    // Everything sealed is archived now, so retention may drop it.
    assert!(p.enforce_retention(i64::MAX / 2).expect("retention") > 0);
    assert_eq!(p.start_offset(), 600);

    // New records in a new segment: protected until archived.
    let more: Vec<Record> = (600..700)
        .map(|i| Record::new(order("a", 1.0, i, T0 + i), T0))
        .collect();
    append(&log, "orders", 0, &more, 20);
    p.roll_now().expect("roll");
    assert_eq!(p.enforce_retention(i64::MAX / 2).expect("retention"), 0);
    assert_eq!(p.start_offset(), 600);

    // A topic created after the node started is protected from its first record on, before
    // any archiver pass; a view's changelog, which is never archived, is not.
    for (name, protected) in [("clicks", true), ("v-changelog", false)] {
        let config = strata_log::TopicConfig {
            retention_ms: Some(1),
            ..small_segments()
        };
        let t = log.create_topic(name, 1, config).expect("topic");
        let r: Vec<Record> = (0..100)
            .map(|i| Record::new(order("a", 1.0, i, T0 + i), T0))
            .collect();
        append(&log, name, 0, &r, 20);
        let p = t.partition(0).expect("p");
        p.roll_now().expect("roll");
        let deleted = p.enforce_retention(i64::MAX / 2).expect("retention");
        assert_eq!(
            deleted == 0,
            protected,
            "{name}: {deleted} segments deleted"
        );
    }
}

#[test]
fn topics_without_a_schema_are_archived_raw_and_read_by_duckdb() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    log.create_topic("raw", 2, small_segments()).expect("topic");
    for p in 0..2u32 {
        let records: Vec<Record> = (0..300i64)
            .map(|i| {
                let mut r = Record::new(format!("v{i}").into_bytes(), T0 + i * 60_000);
                if i % 3 == 0 {
                    r = r.with_key(format!("k{i}")).with_header("h", b"x".to_vec());
                }
                r
            })
            .collect();
        append(&log, "raw", p, &records, 30);
        log.topic("raw")
            .expect("t")
            .partition(p)
            .expect("p")
            .roll_now()
            .expect("roll");
    }
    let lake = dir.path().join("lake");
    let report = archiver(&lake)
        .archive_topic(&log, "raw", None)
        .expect("archive");
    assert_eq!(report.rows, 600);
    let glob = format!("{}/raw/**/*.parquet", lake.display());
    let rows = duckdb(&format!(
        "SELECT count(*), count(_key), sum(len(_headers)), count(DISTINCT (_partition, _offset)), \
         max(epoch_ms(_timestamp)) FROM read_parquet('{glob}', hive_partitioning=true)"
    ));
    assert_eq!(
        rows[0],
        serde_json::json!([600, 200, 200, 600, T0 + 299 * 60_000])
    );
    let value = duckdb(&format!(
        "SELECT _value::VARCHAR FROM read_parquet('{glob}') WHERE _partition = 1 AND _offset = 42"
    ));
    assert_eq!(value[0][0].as_str(), Some("v42"));
}

#[test]
fn leftovers_of_a_crash_are_replaced_and_foreign_files_are_reported_by_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    let lake = dir.path().join("lake");
    produce_orders(&log);
    // A crashed run left a partial temp file and a whole file it never committed.
    let hour_dir = lake.join("orders/date=2024-03-10/hour=00");
    std::fs::create_dir_all(&hour_dir).expect("mkdir");
    std::fs::write(
        hour_dir.join(".p0-00000000000000000000.parquet.tmp"),
        b"partial",
    )
    .expect("w");
    std::fs::write(
        hour_dir.join("p0-00000000000000000000.parquet"),
        b"uncommitted",
    )
    .expect("w");
    // Someone copied a file of their own into the lake.
    std::fs::write(hour_dir.join("notes.parquet"), b"PAR1 not really").expect("w");

    let archiver = archiver(&lake);
    let report = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    assert_eq!(
        report.leftovers_removed.len(),
        2,
        "{:?}",
        report.leftovers_removed
    );
    assert_eq!(report.problems.len(), 1);
    assert!(
        report.problems[0].contains("notes.parquet"),
        "{:?}",
        report.problems
    );
    assert_eq!(
        archiver
            .metrics()
            .lake_problems
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // The leftover name was rewritten by this run and is in the manifest.
    let manifest = Manifest::load(&lake, "orders")
        .expect("load")
        .expect("manifest");
    assert!(
        manifest
            .files()
            .any(|(_, f)| f.path == "date=2024-03-10/hour=00/p0-00000000000000000000.parquet")
    );
    std::fs::remove_file(hour_dir.join("notes.parquet")).expect("rm");
    let glob = format!("{}/orders/**/*.parquet", lake.display());
    let rows = duckdb(&format!(
        "SELECT count(*) - count(DISTINCT (_partition, _offset)) FROM read_parquet('{glob}')"
    ));
    assert_eq!(rows[0][0].as_u64(), Some(0));
}

#[test]
fn a_failing_write_leaves_the_manifest_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    let lake = dir.path().join("lake");
    log.create_topic("orders", 1, small_segments())
        .expect("topic");
    let first: Vec<Record> = (0..200)
        .map(|i| Record::new(order("a", 1.0, i, T0 + i), T0))
        .collect();
    append(&log, "orders", 0, &first, 20);
    let p = Arc::clone(log.topic("orders").expect("t").partition(0).expect("p"));
    p.roll_now().expect("roll");
    let archiver = archiver(&lake);
    archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    let manifest_path = Manifest::path(&lake, "orders");
    let before = std::fs::read(&manifest_path).expect("manifest");

    // The next segment's records fall in hour 05; its file cannot be created there (a
    // directory squats its temp name), so the run fails midway.
    let next_base = p.end_offset();
    let second: Vec<Record> = (0..200)
        .map(|i| Record::new(order("b", 2.0, i, T0 + 5 * HOUR + i), T0))
        .collect();
    append(&log, "orders", 0, &second, 20);
    p.roll_now().expect("roll");
    let hour_dir = lake.join("orders/date=2024-03-10/hour=05");
    let squatter = hour_dir.join(format!(".p0-{next_base:020}.parquet.tmp"));
    std::fs::create_dir_all(&squatter).expect("mkdir");
    let err = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect_err("cannot write");
    assert!(
        err.to_string().contains(&format!("p0-{next_base:020}")),
        "{err}"
    );
    assert_eq!(std::fs::read(&manifest_path).expect("manifest"), before);
    let manifest = Manifest::load(&lake, "orders")
        .expect("load")
        .expect("manifest");
    assert_eq!(manifest.partition(0).expect("p0").archived_to, next_base);
    assert_eq!(
        archiver
            .metrics()
            .archive_errors
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // The obstacle is gone: the run completes.
    std::fs::remove_dir(&squatter).expect("rmdir");
    let report = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    assert_eq!(report.rows, 200);
    let glob = format!("{}/orders/**/*.parquet", lake.display());
    let rows = duckdb(&format!(
        "SELECT count(*), count(DISTINCT _offset) FROM read_parquet('{glob}')"
    ));
    assert_eq!(rows[0], serde_json::json!([400, 400]));
}

#[test]
fn a_bigint_event_time_column_is_read_as_epoch_millis() {
    // ksqlDB's `timestamp='viewtime'` names a BIGINT column of epoch millis.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    let mut source = orders_source();
    source.name = "views".into();
    source.topic = "views".into();
    source.columns = vec![strata_engine::plan::ColumnDef {
        name: "viewtime".into(),
        data_type: strata_engine::plan::SqlType::BigInt,
    }];
    source.timestamp_column = Some("viewtime".into());
    log.create_topic("views", 1, small_segments())
        .expect("topic");
    let records: Vec<Record> = (0..100i64)
        .map(|i| {
            Record::new(
                format!(r#"{{"viewtime":{}}}"#, T0 + i * HOUR / 10).into_bytes(),
                0,
            )
        })
        .collect();
    append(&log, "views", 0, &records, 10);
    log.topic("views")
        .expect("t")
        .partition(0)
        .expect("p")
        .roll_now()
        .expect("roll");
    let lake = dir.path().join("lake");
    let report = archiver(&lake)
        .archive_topic(&log, "views", Some(&source))
        .expect("archive");
    assert_eq!(report.rows, 100);
    // 100 events 6 minutes apart span 10 hours of event time: one Hive directory per hour.
    let hours = std::fs::read_dir(lake.join("views"))
        .expect("lake")
        .flat_map(|d| {
            std::fs::read_dir(d.expect("date").path())
                .into_iter()
                .flatten()
        })
        .count();
    assert_eq!(
        hours, 10,
        "partitioned by the BIGINT event time, not the record time"
    );
}

#[test]
fn the_invalid_topic_appears_with_the_first_invalid_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open_log(&dir.path().join("log"));
    let topic = log
        .create_topic("orders", 2, small_segments())
        .expect("topic");
    let valid: Vec<Record> = (0..100)
        .map(|i| Record::new(order("a", 1.0, i, T0 + i), T0))
        .collect();
    for p in 0..2 {
        append(&log, "orders", p, &valid, 20);
        topic.partition(p).expect("p").roll_now().expect("roll");
    }
    let archiver = archiver(&dir.path().join("lake"));
    let report = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    assert_eq!((report.rows, report.invalid), (200, 0));
    assert!(
        log.topic(&invalid_topic("orders")).is_err(),
        "no invalid record, no invalid topic"
    );

    // Partition 1 gets a bad record: the topic is created, and the record lands in it.
    let bad = [Record::new(b"{not json".to_vec(), T0)];
    append(&log, "orders", 1, &bad, 1);
    append(&log, "orders", 1, &valid[..10], 10);
    topic.partition(1).expect("p").roll_now().expect("roll");
    let report = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    assert_eq!((report.rows, report.invalid), (10, 1));
    let invalid = log.topic(&invalid_topic("orders")).expect("created");
    assert_eq!(invalid.partition_count(), 2);
    let ends: Vec<u64> = invalid
        .partitions()
        .iter()
        .map(|p| p.end_offset())
        .collect();
    assert_eq!(ends, vec![0, 1]);

    // Later runs find it and append after what the manifest recorded.
    append(&log, "orders", 1, &bad, 1);
    topic.partition(1).expect("p").roll_now().expect("roll");
    let report = archiver
        .archive_topic(&log, "orders", Some(&orders_source()))
        .expect("archive");
    assert_eq!(report.invalid, 1);
    let ends: Vec<u64> = invalid
        .partitions()
        .iter()
        .map(|p| p.end_offset())
        .collect();
    assert_eq!(ends, vec![0, 2]);
    let manifest = Manifest::load(&dir.path().join("lake"), "orders")
        .expect("load")
        .expect("manifest");
    assert_eq!(manifest.partition(1).expect("p1").invalid_end, 2);
}
