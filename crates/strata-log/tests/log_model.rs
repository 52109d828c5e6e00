//! Property test: random appends, reads, time lookups, restarts (clean and crash-like) and
//! retention against a model that is just a `Vec` of records.

use proptest::prelude::*;
use strata_log::{
    Durability, EncodedBatch, Error, Log, LogOptions, ReadLimits, Record, TopicConfig,
};

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(u16, i64, bool)>),
    Read {
        offset: u64,
        max_records: u64,
        max_bytes: u64,
    },
    TimeLookup(i64),
    Reopen {
        clean: bool,
    },
    Retention,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0u16..300, 0i64..1000, any::<bool>()), 1..20).prop_map(Op::Append),
        4 => (0u64..1500, 1u64..50, prop_oneof![Just(1u64), Just(500), Just(u64::MAX)])
            .prop_map(|(offset, max_records, max_bytes)| Op::Read { offset, max_records, max_bytes }),
        2 => (-10i64..1100).prop_map(Op::TimeLookup),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => Just(Op::Retention),
    ]
}

fn record(offset: usize, (len, ts, keyed): (u16, i64, bool)) -> Record {
    let mut value = format!("{offset}:").into_bytes();
    value.resize(value.len() + usize::from(len), b'x');
    let r = Record::new(value, ts);
    if keyed {
        r.with_key(offset.to_string().into_bytes())
    } else {
        r
    }
}

fn config() -> TopicConfig {
    TopicConfig {
        segment_bytes: 8192,
        max_record_bytes: 1024,
        index_interval_bytes: 200,
        retention_bytes: Some(12_000),
        durability: Durability::Never,
        ..TopicConfig::default()
    }
}

fn options() -> LogOptions {
    LogOptions {
        maintenance_tick: None,
        ..LogOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn log_behaves_like_a_vec(ops in proptest::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = Log::open(dir.path(), options()).expect("open");
        log.create_topic("t", 1, config()).expect("create");
        let mut model: Vec<Record> = Vec::new();
        let mut batch_starts: Vec<u64> = Vec::new();
        let mut start = 0u64;

        for op in ops {
            let topic = log.topic("t").expect("topic");
            let p = topic.partition(0).expect("p0");
            match op {
                Op::Append(specs) => {
                    let records: Vec<Record> = specs.iter().enumerate()
                        .map(|(i, s)| record(model.len() + i, *s)).collect();
                    let batch = EncodedBatch::from_records(&records).expect("non-empty");
                    let info = p.append(batch).expect("append");
                    prop_assert_eq!(info.base_offset, model.len() as u64);
                    batch_starts.push(info.base_offset);
                    model.extend(records);
                    prop_assert_eq!(info.last_offset + 1, model.len() as u64);
                }
                Op::Read { offset, max_records, max_bytes } => {
                    let end = model.len() as u64;
                    match p.read(offset, ReadLimits { max_records, max_bytes }) {
                        Ok(fetch) => {
                            prop_assert!(offset >= start && offset <= end);
                            let got: Vec<Record> = fetch.records()
                                .map(|r| r.expect("record").to_owned_record().expect("headers")).collect();
                            let n = got.len() as u64;
                            prop_assert!(n <= max_records);
                            prop_assert!(offset == end || n > 0, "a read below the end makes progress");
                            prop_assert_eq!(&got[..], &model[offset as usize..(offset + n) as usize]);
                            prop_assert_eq!(fetch.next_offset(), offset + n);
                        }
                        Err(Error::OffsetOutOfRange { start: s, end: e, .. }) => {
                            prop_assert!(offset < start || offset > end);
                            prop_assert_eq!((s, e), (start, end));
                        }
                        Err(other) => prop_assert!(false, "unexpected error {other}"),
                    }
                }
                Op::TimeLookup(t) => {
                    let expected = model.iter().enumerate().skip(start as usize)
                        .find(|(_, r)| r.timestamp >= t).map(|(i, _)| i as u64);
                    prop_assert_eq!(p.offset_for_timestamp(t).expect("lookup"), expected);
                }
                Op::Reopen { clean } => {
                    if clean { log.close().expect("close"); }
                    drop(topic);
                    drop(log);
                    log = Log::open(dir.path(), options()).expect("reopen");
                    prop_assert_eq!(log.was_clean(), clean);
                    let p = log.topic("t").expect("topic");
                    let p = p.partition(0).expect("p0");
                    prop_assert_eq!(p.end_offset(), model.len() as u64);
                    prop_assert_eq!(p.start_offset(), start);
                }
                Op::Retention => {
                    let before = p.stats();
                    p.enforce_retention(0).expect("retention");
                    let after = p.stats();
                    prop_assert!(after.start_offset >= start);
                    prop_assert!(after.start_offset == 0 || batch_starts.contains(&after.start_offset),
                        "retention drops whole batches");
                    prop_assert_eq!(after.end_offset, before.end_offset);
                    // Only sealed segments go, and only while the partition is over its budget.
                    prop_assert!(after.size_bytes <= 12_000 || after.segments == 1 || after.start_offset == before.start_offset);
                    start = after.start_offset;
                }
            }
        }
    }
}

/// Operations of a pipelined producer under `durability = always`.
#[derive(Debug, Clone)]
enum PipelinedOp {
    /// `append_unacked` of a batch of records with these value lengths.
    Append(Vec<u16>),
    /// `wait_ack` of the outstanding append at this position (modulo how many there are).
    Ack(usize),
    /// Read everything from this offset (modulo the end + 1).
    Read(u64),
    /// Drop the log without closing it (a crash, except that the page cache survives).
    Reopen,
}

fn pipelined_op() -> impl Strategy<Value = PipelinedOp> {
    prop_oneof![
        5 => proptest::collection::vec(0u16..300, 1..12).prop_map(PipelinedOp::Append),
        3 => (0usize..8).prop_map(PipelinedOp::Ack),
        2 => (0u64..1000).prop_map(PipelinedOp::Read),
        1 => Just(PipelinedOp::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    /// `append_unacked` assigns offsets in call order like `append`, its records are readable
    /// at once, and `wait_ack` of any append leaves every earlier append durable too (the
    /// durable offset is a prefix of the log). Segments roll often, so acknowledgements also
    /// wait for sealed segments' background fsyncs.
    #[test]
    fn pipelined_appends_are_a_vec_and_acks_cover_a_prefix(
        ops in proptest::collection::vec(pipelined_op(), 1..40),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = TopicConfig {
            segment_bytes: 4096,
            durability: Durability::Always,
            ..config()
        };
        let mut log = Log::open(dir.path(), options()).expect("open");
        log.create_topic("t", 1, config).expect("create");
        let mut model: Vec<Record> = Vec::new();
        let mut outstanding = Vec::new();
        let mut acked_end = 0u64;

        for op in ops {
            let topic = log.topic("t").expect("topic");
            let p = topic.partition(0).expect("p0");
            match op {
                PipelinedOp::Append(lens) => {
                    let records: Vec<Record> = lens.iter().enumerate()
                        .map(|(i, len)| record(model.len() + i, (*len, 0, false))).collect();
                    let info = p.append_unacked(EncodedBatch::from_records(&records).expect("batch"))
                        .expect("append_unacked");
                    prop_assert_eq!(info.base_offset, model.len() as u64);
                    model.extend(records);
                    prop_assert_eq!(info.last_offset + 1, model.len() as u64);
                    prop_assert_eq!(p.end_offset(), model.len() as u64, "visible before the ack");
                    outstanding.push(info);
                }
                PipelinedOp::Ack(i) => {
                    if outstanding.is_empty() {
                        continue;
                    }
                    let info = outstanding.remove(i % outstanding.len());
                    p.wait_ack(&info).expect("wait_ack");
                    acked_end = acked_end.max(info.last_offset + 1);
                    prop_assert!(p.durable_offset() >= acked_end,
                        "durable {} < acknowledged {acked_end}", p.durable_offset());
                }
                PipelinedOp::Read(from) => {
                    let from = from % (model.len() as u64 + 1);
                    let mut got = Vec::new();
                    let mut offset = from;
                    while offset < model.len() as u64 {
                        let fetch = p.read(offset, ReadLimits::default()).expect("read");
                        got.extend(fetch.records().map(|r| r.expect("record").to_owned_record().expect("headers")));
                        offset = fetch.next_offset();
                    }
                    prop_assert_eq!(&got[..], &model[from as usize..]);
                }
                PipelinedOp::Reopen => {
                    drop(topic);
                    drop(log);
                    log = Log::open(dir.path(), options()).expect("reopen");
                    let p = log.topic("t").expect("topic");
                    let p = p.partition(0).expect("p0");
                    prop_assert_eq!(p.end_offset(), model.len() as u64);
                    // What recovery kept counts as durable; old tokens redeem at once.
                    prop_assert!(p.durable_offset() >= acked_end);
                }
            }
        }
        let topic = log.topic("t").expect("topic");
        let p = topic.partition(0).expect("p0");
        for info in outstanding {
            p.wait_ack(&info).expect("wait_ack");
        }
        prop_assert_eq!(p.durable_offset(), model.len() as u64);
        p.wait_sealed().expect("sealed");
        let segments = p.segments();
        prop_assert!(segments[..segments.len() - 1].iter().all(|s| s.sealed));
    }
}
