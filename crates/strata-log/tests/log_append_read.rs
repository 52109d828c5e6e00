//! Behaviour of the log through its public API: append, read, roll, time lookup, retention,
//! limits, restarts, groups and concurrent readers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use strata_log::{
    Durability, EncodedBatch, Error, Log, LogOptions, ReadLimits, Record, TopicConfig,
};

fn options() -> LogOptions {
    LogOptions {
        maintenance_tick: None,
        ..LogOptions::default()
    }
}

fn small_segments() -> TopicConfig {
    TopicConfig {
        segment_bytes: 4096,
        max_record_bytes: 1024,
        index_interval_bytes: 256,
        durability: Durability::Never,
        ..TopicConfig::default()
    }
}

fn record(i: u64) -> Record {
    Record::new(format!("value-{i}").into_bytes(), 1_000 + i as i64)
        .with_key(format!("key-{}", i % 7).into_bytes())
        .with_header("seq", i.to_le_bytes().to_vec())
}

fn batch(from: u64, n: u64) -> EncodedBatch {
    let records: Vec<Record> = (from..from + n).map(record).collect();
    EncodedBatch::from_records(&records).expect("non-empty")
}

fn read_all(p: &strata_log::Partition, from: u64) -> Vec<Record> {
    let mut out = Vec::new();
    let mut offset = from;
    loop {
        let fetch = p.read(offset, ReadLimits::default()).expect("read");
        for r in fetch.records() {
            let r = r.expect("record");
            assert_eq!(r.offset, offset + out.len() as u64 - (offset - from));
            out.push(r.to_owned_record().expect("headers"));
        }
        if fetch.next_offset() == offset {
            return out;
        }
        offset = fetch.next_offset();
    }
}

#[test]
fn appends_get_consecutive_offsets_and_read_back_across_segment_rolls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 1, small_segments()).expect("create");
    let p = topic.partition(0).expect("p0");
    let mut next = 0;
    for n in [1u64, 5, 17, 3, 40, 1, 9] {
        for _ in 0..5 {
            let info = p.append(batch(next, n)).expect("append");
            assert_eq!((info.base_offset, info.last_offset), (next, next + n - 1));
            next += n;
        }
    }
    assert_eq!(p.end_offset(), next);
    assert!(p.stats().segments > 3, "small segments must have rolled");
    let all = read_all(p, 0);
    assert_eq!(all, (0..next).map(record).collect::<Vec<_>>());
    // Reading from the middle of a batch starts exactly at the offset asked for.
    let fetch = p
        .read(
            7,
            ReadLimits {
                max_records: 3,
                max_bytes: u64::MAX,
            },
        )
        .expect("read");
    let offsets: Vec<u64> = fetch.records().map(|r| r.expect("ok").offset).collect();
    assert_eq!(offsets, vec![7, 8, 9]);
    assert_eq!(fetch.next_offset(), 10);
}

#[test]
fn max_bytes_bounds_a_read_but_always_returns_one_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 1, small_segments()).expect("create");
    let p = topic.partition(0).expect("p0");
    for i in 0..10 {
        p.append(batch(i * 10, 10)).expect("append");
    }
    let one = p
        .read(
            0,
            ReadLimits {
                max_records: u64::MAX,
                max_bytes: 1,
            },
        )
        .expect("read");
    assert_eq!(
        one.records().count(),
        10,
        "one whole batch despite max_bytes = 1"
    );
    let all = p
        .read(
            0,
            ReadLimits {
                max_records: u64::MAX,
                max_bytes: u64::MAX,
            },
        )
        .expect("read");
    let sizes: Vec<u64> = all.batches().map(|b| b.size() as u64).collect();
    assert_eq!(sizes.len(), 10);
    let three_batches = sizes[..3].iter().sum::<u64>();
    for (max_bytes, records) in [(three_batches, 30), (three_batches + sizes[3] - 1, 30)] {
        let fetch = p
            .read(
                0,
                ReadLimits {
                    max_records: u64::MAX,
                    max_bytes,
                },
            )
            .expect("read");
        assert_eq!(fetch.records().count(), records, "max_bytes {max_bytes}");
    }
}

#[test]
fn offsets_outside_the_log_are_out_of_range_with_the_valid_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let p = log.create_topic("t", 1, small_segments()).expect("create");
    let p = p.partition(0).expect("p0");
    p.append(batch(0, 5)).expect("append");
    let empty = p
        .read(5, ReadLimits::default())
        .expect("the end offset is readable");
    assert_eq!(empty.records().count(), 0);
    match p.read(6, ReadLimits::default()) {
        Err(Error::OffsetOutOfRange {
            offset: 6,
            start: 0,
            end: 5,
        }) => {}
        other => panic!("expected out of range, got {other:?}"),
    }
    let message = p
        .read(6, ReadLimits::default())
        .expect_err("range")
        .to_string();
    assert!(message.contains("0..=5"), "{message}");
}

#[test]
fn timestamp_lookup_finds_the_first_offset_at_or_after_t_in_log_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let p = log.create_topic("t", 1, small_segments()).expect("create");
    let p = p.partition(0).expect("p0");
    // Out-of-order event times, spread over many segments.
    let timestamps: Vec<i64> = (0..400).map(|i| (i * 37 % 101) * 10 + i / 4).collect();
    for chunk in timestamps.chunks(7) {
        let records: Vec<Record> = chunk
            .iter()
            .map(|&t| Record::new(vec![1u8; 40], t))
            .collect();
        p.append(EncodedBatch::from_records(&records).expect("batch"))
            .expect("append");
    }
    for t in [-5, 0, 1, 10, 333, 500, 999, 1010, 1099, 1100, 5000] {
        let expected = timestamps.iter().position(|&x| x >= t).map(|i| i as u64);
        assert_eq!(
            p.offset_for_timestamp(t).expect("lookup"),
            expected,
            "t = {t}"
        );
    }
}

#[test]
fn bad_input_is_rejected_and_appends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    for bad in ["", ".", "..", "a/b", "../x", "sp ace", &"x".repeat(250)] {
        assert!(
            matches!(
                log.create_topic(bad, 1, TopicConfig::default()),
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        log.create_topic("zero", 0, TopicConfig::default()),
        Err(Error::InvalidConfig(_))
    ));
    let topic = log.create_topic("t", 2, small_segments()).expect("create");
    assert!(matches!(
        log.create_topic("t", 1, small_segments()),
        Err(Error::TopicExists(_))
    ));
    let p = topic.partition(0).expect("p0");
    let huge = EncodedBatch::from_records(&[
        Record::new(vec![0u8; 10], 1),
        Record::new(vec![0u8; 2000], 1),
    ])
    .expect("batch");
    assert!(
        matches!(p.append(huge), Err(Error::RecordTooLarge { index: 1, .. })),
        "the error names the record that is too large"
    );
    let many: Vec<Record> = (0..20).map(|_| Record::new(vec![0u8; 500], 1)).collect();
    let too_big = EncodedBatch::from_records(&many).expect("batch");
    assert!(matches!(
        p.append(too_big),
        Err(Error::BatchTooLarge { .. })
    ));
    assert!(
        EncodedBatch::from_records(&[]).is_none(),
        "an empty batch cannot be built"
    );
    assert!(matches!(
        topic.partition(2),
        Err(Error::UnknownPartition { .. })
    ));
    assert!(matches!(log.topic("nope"), Err(Error::UnknownTopic(_))));
    assert_eq!(p.end_offset(), 0);
    assert_eq!(p.stats().size_bytes, 0);
}

#[test]
fn retention_by_bytes_and_time_drops_whole_sealed_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let by_size = TopicConfig {
        retention_bytes: Some(8192),
        ..small_segments()
    };
    let p = log.create_topic("size", 1, by_size).expect("create");
    let p = p.partition(0).expect("p0");
    for i in 0..200 {
        p.append(batch(i * 5, 5)).expect("append");
    }
    let before = p.stats();
    let deleted = p.enforce_retention(0).expect("retention");
    let after = p.stats();
    assert!(deleted > 0);
    assert!(after.size_bytes <= 8192 + 4096, "{after:?}");
    assert!(after.start_offset > 0 && after.end_offset == before.end_offset);
    match p.read(0, ReadLimits::default()) {
        Err(Error::OffsetOutOfRange { start, .. }) => assert_eq!(start, after.start_offset),
        other => panic!("expected out of range, got {other:?}"),
    }
    let rest = read_all(p, after.start_offset);
    assert_eq!(rest.len() as u64, after.end_offset - after.start_offset);

    let by_time = TopicConfig {
        retention_ms: Some(1_000),
        ..small_segments()
    };
    let q = log.create_topic("time", 1, by_time).expect("create");
    let q = q.partition(0).expect("p0");
    for i in 0..100 {
        q.append(batch(i * 5, 5)).expect("append"); // timestamps 1000..1500
    }
    assert_eq!(
        q.enforce_retention(1_500).expect("nothing is old enough"),
        0
    );
    let deleted = q
        .enforce_retention(1_000_000)
        .expect("all sealed segments are old");
    assert_eq!(
        deleted + 1,
        q.stats().segments + deleted,
        "only the active segment stays"
    );
    assert_eq!(q.stats().segments, 1);

    // A retention floor (the archiver's position) holds segments back.
    let r = log.create_topic(
        "floor",
        1,
        TopicConfig {
            retention_ms: Some(1),
            ..small_segments()
        },
    );
    let r = r.expect("create");
    let r = r.partition(0).expect("p0");
    for i in 0..100 {
        r.append(batch(i * 5, 5)).expect("append");
    }
    r.set_retention_floor(0);
    assert_eq!(r.enforce_retention(1_000_000).expect("retention"), 0);
    r.set_retention_floor(u64::MAX);
    assert!(r.enforce_retention(1_000_000).expect("retention") > 0);
}

#[test]
fn clean_and_unclean_restarts_keep_every_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut next = 0;
    for round in 0..4 {
        let log = Log::open(dir.path(), options()).expect("open");
        assert_eq!(log.was_clean(), round % 2 == 0 && round > 0);
        let topic = match log.topic("t") {
            Ok(t) => t,
            Err(_) => log.create_topic("t", 3, small_segments()).expect("create"),
        };
        for p in topic.partitions() {
            assert_eq!(read_all(p, 0).len() as u64, next);
        }
        for p in topic.partitions() {
            for i in 0..30 {
                p.append(batch(next + i * 3, 3)).expect("append");
            }
        }
        next += 90;
        if round % 2 == 1 {
            log.close().expect("close");
        } // else: dropped without close, as after a crash
    }
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.topic("t").expect("topic");
    for p in topic.partitions() {
        assert_eq!(read_all(p, 0), (0..next).map(record).collect::<Vec<_>>());
    }
}

#[test]
fn deleted_topics_are_gone_and_can_be_recreated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 1, small_segments()).expect("create");
    topic.append(0, batch(0, 5)).expect("append");
    log.groups().commit("g", &[("t", 0, 3)]).expect("commit");
    log.delete_topic("t").expect("delete");
    assert!(matches!(log.topic("t"), Err(Error::UnknownTopic(_))));
    assert!(log.groups().committed("g", "t", 0).is_none());
    let again = log
        .create_topic("t", 1, small_segments())
        .expect("recreate");
    assert_eq!(again.partition(0).expect("p0").end_offset(), 0);
    drop(log);
    let log = Log::open(dir.path(), options()).expect("reopen");
    assert_eq!(log.topics().len(), 1);
}

#[test]
fn group_lag_is_end_minus_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 2, small_segments()).expect("create");
    topic.append(0, batch(0, 10)).expect("append");
    topic.append(1, batch(0, 4)).expect("append");
    log.groups()
        .commit("g", &[("t", 0, 6), ("t", 1, 4)])
        .expect("commit");
    let lag = log.group_lag("g").expect("lag");
    let lags: Vec<(u32, u64, u64)> = lag
        .iter()
        .map(|l| (l.partition, l.committed, l.lag))
        .collect();
    assert_eq!(lags, vec![(0, 6, 4), (1, 4, 0)]);
    assert!(matches!(
        log.group_lag("nobody"),
        Err(Error::UnknownGroup(_))
    ));
    drop(log);
    let log = Log::open(dir.path(), options()).expect("reopen");
    assert_eq!(
        log.group_lag("g").expect("lag").len(),
        2,
        "commits are durable"
    );
}

#[test]
fn keyed_records_use_kafka_partitioning_and_unkeyed_round_robin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 4, small_segments()).expect("create");
    let p = topic.choose_partition(Some(b"foobar"));
    assert_eq!(p, strata_log::partitioner::partition_for_key(b"foobar", 4));
    let spread: std::collections::BTreeSet<u32> =
        (0..8).map(|_| topic.choose_partition(None)).collect();
    assert_eq!(spread.len(), 4);
}

#[test]
fn readers_running_beside_the_writer_only_ever_see_whole_batches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 1, small_segments()).expect("create");
    let p = Arc::clone(topic.partition(0).expect("p0"));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let p = Arc::clone(&p);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut offset = 0;
                while !done.load(Ordering::Acquire) || offset < p.end_offset() {
                    let limits = ReadLimits {
                        max_records: u64::MAX,
                        max_bytes: 4096,
                    };
                    let fetch = p.read(offset, limits).expect("read");
                    assert!(
                        fetch.next_offset() <= fetch.end_offset(),
                        "a read must not run past the end it saw"
                    );
                    for r in fetch.records() {
                        let r = r.expect("whole record");
                        assert_eq!(r.offset, offset);
                        assert_eq!(r.value, format!("value-{offset}").as_bytes());
                        offset += 1;
                    }
                    // Batches are 7 records and only max_bytes limits the read: it ends on a batch boundary.
                    assert_eq!(offset % 7, 0);
                }
                offset
            })
        })
        .collect();
    for i in 0..1_000 {
        p.append(batch(i * 7, 7)).expect("append");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert_eq!(r.join().expect("reader"), 7_000);
    }
}

#[test]
fn concurrent_always_appends_share_fsyncs_and_all_become_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let config = TopicConfig {
        durability: Durability::Always,
        ..TopicConfig::default()
    };
    let topic = log.create_topic("t", 1, config).expect("create");
    let p = Arc::clone(topic.partition(0).expect("p0"));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let info = p.append(batch(0, 10)).expect("append");
                    assert!(
                        p.stats().durable_offset > info.last_offset,
                        "acked before durable"
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    assert_eq!(p.end_offset(), 2_000);
    assert_eq!(p.stats().durable_offset, 2_000);
}

#[test]
fn long_poll_wakes_on_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 1, small_segments()).expect("create");
    let p = Arc::clone(topic.partition(0).expect("p0"));
    let waiter = {
        let p = Arc::clone(&p);
        std::thread::spawn(move || p.wait_for_data(0, Duration::from_secs(30)))
    };
    std::thread::sleep(Duration::from_millis(50));
    p.append(batch(0, 3)).expect("append");
    assert_eq!(waiter.join().expect("waiter"), 3);
    assert_eq!(
        p.wait_for_data(3, Duration::from_millis(10)),
        3,
        "times out"
    );
}

#[test]
fn truncation_cuts_back_to_a_batch_boundary_and_survives_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 1, small_segments()).expect("create");
    let p = topic.partition(0).expect("p0");
    for i in 0..100 {
        p.append(batch(i * 5, 5)).expect("append");
    }
    let segments_before = p.stats().segments;
    let held = p
        .read(
            0,
            ReadLimits {
                max_records: u64::MAX,
                max_bytes: u64::MAX,
            },
        )
        .expect("read");
    assert!(matches!(
        p.truncate_to(102),
        Err(Error::NotBatchBoundary { offset: 102 })
    ));
    assert!(matches!(
        p.truncate_to(501),
        Err(Error::OffsetOutOfRange { .. })
    ));
    p.truncate_to(100).expect("truncate");
    assert_eq!(p.end_offset(), 100);
    assert!(p.stats().segments < segments_before);
    assert_eq!(read_all(p, 0), (0..100).map(record).collect::<Vec<_>>());
    // A fetch taken before the truncation still reads its (old) bytes.
    assert_eq!(held.records().count(), 500);
    let info = p.append(batch(100, 5)).expect("append after truncation");
    assert_eq!(info.base_offset, 100);
    drop(log);
    let log = Log::open(dir.path(), options()).expect("reopen after a crash");
    let p = log.topic("t").expect("t");
    let p = p.partition(0).expect("p0");
    assert_eq!(read_all(p, 0), (0..105).map(record).collect::<Vec<_>>());
    p.truncate_to(0).expect("truncate everything");
    assert_eq!(p.end_offset(), 0);
    log.close().expect("close");
    let log = Log::open(dir.path(), options()).expect("reopen clean");
    assert_eq!(
        log.topic("t")
            .expect("t")
            .partition(0)
            .expect("p0")
            .end_offset(),
        0
    );
}

#[test]
fn segments_are_listed_oldest_first_and_roll_now_seals_the_active_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), options()).expect("open");
    let topic = log.create_topic("t", 1, small_segments()).expect("create");
    let p = topic.partition(0).expect("p0");
    assert!(!p.roll_now().expect("empty active segment does not roll"));
    for i in 0..30 {
        p.append(batch(i * 5, 5)).expect("append");
    }
    p.wait_sealed().expect("sealed");
    let before = p.segments();
    assert!(before.len() > 1);
    assert!(before[..before.len() - 1].iter().all(|s| s.sealed));
    assert!(!before.last().expect("active").sealed);
    for pair in before.windows(2) {
        assert_eq!(pair[0].next_offset, pair[1].base_offset);
    }
    assert!(p.roll_now().expect("roll"));
    let after = p.segments();
    assert_eq!(after.len(), before.len() + 1);
    assert!(after[before.len() - 1].sealed);
    assert_eq!(after.last().expect("active").base_offset, 150);
}
