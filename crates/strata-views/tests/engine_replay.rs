//! Replay in the engine: a view replayed into a new version equals the live view (unchanged
//! definition) or a model of its new definition, goes on live with no gap, switches its alias
//! by promotion, and all of it survives a restart; a topic replay copies exactly what its
//! time range and predicate select.

mod common;

use common::open;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use strata_engine::json_lines;
use strata_log::{EncodedBatch, Log, Record};
use strata_views::engine::Engine;
use strata_views::replay::{ReplayStatus, TopicReplayRequest, ViewReplayRequest};
use strata_views::start::StartAt;

/// Event `i`: user `u{i % 7}`, amount `i % 10`, one event per 100 ms of event time.
fn event(i: u64) -> (u32, Record) {
    let value = format!(r#"{{"customer":"u{}","amount":{}}}"#, i % 7, i % 10);
    (
        (i % 2) as u32,
        Record::new(value.into_bytes(), 1_000_000 + i as i64 * 100),
    )
}

fn produce(log: &Log, range: std::ops::Range<u64>) {
    let t = log.topic("orders").expect("topic");
    let mut by_partition: BTreeMap<u32, Vec<Record>> = BTreeMap::new();
    for i in range {
        let (p, r) = event(i);
        by_partition.entry(p).or_default().push(r);
    }
    for (p, records) in by_partition {
        for chunk in records.chunks(300) {
            t.append(p, EncodedBatch::from_records(chunk).expect("batch"))
                .expect("append");
        }
    }
}

fn setup(engine: &Engine) {
    engine
        .execute(
            "CREATE STREAM orders (customer VARCHAR, amount BIGINT)
               WITH (kafka_topic='orders', value_format='JSON', partitions=2);
             CREATE TABLE totals AS
               SELECT customer, COUNT(*) AS n, SUM(amount) AS total FROM orders
               WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY customer EMIT CHANGES;",
        )
        .expect("setup");
}

/// The rows of a view as sorted JSON text.
fn rows(engine: &Engine, view: &str) -> Vec<String> {
    let mut rows: Vec<String> = json_lines(&engine.snapshot(view).expect("snapshot"))
        .expect("json")
        .into_iter()
        .map(|l| String::from_utf8(l).expect("utf8"))
        .collect();
    rows.sort();
    rows
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_all(engine: &Engine, view: &str, records: u64) {
    wait_for(view, || {
        assert!(engine.failure(view).is_none(), "{:?}", engine.failure(view));
        let s = engine.stats(view).expect("stats");
        s.records_in == records && s.lag == 0
    });
}

#[test]
fn an_unchanged_replay_equals_the_live_view_then_goes_on_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    setup(&engine);
    produce(&log, 0..3000);
    read_all(&engine, "totals", 3000);
    let started = engine
        .replay_view(ViewReplayRequest {
            view: "totals".into(),
            ..ViewReplayRequest::default()
        })
        .expect("replay");
    assert_eq!(started.total, 3000);
    assert_eq!(started.status, ReplayStatus::Running);
    let version = "totals_v2";
    // Records that arrive during and after the catch-up are read exactly once.
    produce(&log, 3000..3500);
    read_all(&engine, version, 3500);
    read_all(&engine, "totals", 3500);
    assert_eq!(rows(&engine, version), rows(&engine, "totals"));
    wait_for("caught up", || {
        engine.replay(started.id).expect("replay").status == ReplayStatus::CaughtUp
    });
    let r = engine.replay(started.id).expect("replay");
    assert_eq!((r.processed, r.percent), (3000, 100.0));
    // Promoted by command only (no bound given): the alias still answers with version 1.
    assert_eq!(engine.resolve("totals").as_deref(), Some("totals"));
    assert_eq!(engine.resolve("TOTALS_V2").as_deref(), Some(version));
    let p = engine.promote("totals", "v2").expect("promote");
    assert_eq!((p.from.as_str(), p.to.as_str()), ("totals", version));
    assert_eq!(engine.resolve("totals").as_deref(), Some(version));
    assert_eq!(
        engine.replay(started.id).expect("replay").status,
        ReplayStatus::Promoted
    );
    let refused = engine.drop_version("totals", version).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("promote another version first"),
        "{refused}"
    );
    assert!(
        engine.drop_view(version).is_err(),
        "the current version stays"
    );
    // Rollback, then forward again, survive a restart.
    engine.promote("totals", "1").expect("rollback");
    assert_eq!(engine.resolve("totals").as_deref(), Some("totals"));
    engine.promote("totals", version).expect("forward");
    engine.shutdown();
    drop(engine);
    let (log, engine) = open(dir.path());
    assert_eq!(engine.resolve("totals").as_deref(), Some(version));
    assert_eq!(
        engine.versions("totals").expect("versions").versions.len(),
        2
    );
    produce(&log, 3500..3600);
    read_all(&engine, version, 3600);
    read_all(&engine, "totals", 3600);
    assert_eq!(rows(&engine, version), rows(&engine, "totals"));
    // Version 1 goes; the alias keeps answering with version 2.
    assert_eq!(
        engine.drop_version("totals", "1").expect("drop v1"),
        "totals"
    );
    assert!(engine.stats("totals").is_err());
    assert_eq!(engine.resolve("totals").as_deref(), Some(version));
    assert!(log.topic("totals-changelog").is_err());
    // Dropping the alias drops its versions.
    engine.drop_view("totals").expect("drop alias");
    assert_eq!(engine.resolve("totals"), None);
    assert!(engine.stats(version).is_err());
    engine.shutdown();
}

#[test]
fn a_changed_definition_from_an_offset_is_promoted_when_caught_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    setup(&engine);
    produce(&log, 0..2000);
    // Events 0..2000 alternate partitions: offset 250 in each is event 500 / 501.
    let started = engine
        .replay_view(ViewReplayRequest {
            view: "totals".into(),
            from: StartAt::Offsets(vec![(0, 250), (1, 250)]),
            sql: Some(
                "SELECT customer, COUNT(*) AS n FROM orders WHERE amount >= 5
                 WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY customer"
                    .into(),
            ),
            name: Some("big_orders".into()),
            promote_when_lag_under: Some(100),
        })
        .expect("replay");
    assert_eq!(started.total, 1500);
    wait_for("promotion", || {
        engine.replay(started.id).expect("replay").status == ReplayStatus::Promoted
    });
    assert_eq!(engine.resolve("totals").as_deref(), Some("big_orders"));
    produce(&log, 2000..2200);
    read_all(&engine, "big_orders", 1700);
    // The model: events 500..2200 with amount ≥ 5, by user and minute.
    let mut model: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for i in 500..2200u64 {
        if i % 10 >= 5 {
            let ts = 1_000_000 + i as i64 * 100;
            *model
                .entry((format!("u{}", i % 7), ts - ts.rem_euclid(60_000)))
                .or_default() += 1;
        }
    }
    let got: BTreeMap<(String, i64), u64> =
        json_lines(&engine.snapshot_with_keys("big_orders").expect("snapshot").1)
            .expect("json")
            .iter()
            .zip(
                json_lines(&engine.snapshot_with_keys("big_orders").expect("snapshot").0)
                    .expect("json")
                    .iter(),
            )
            .map(|(values, keys)| {
                let v: serde_json::Value = serde_json::from_slice(values).expect("json");
                let k: serde_json::Value = serde_json::from_slice(keys).expect("json");
                (
                    (
                        k["customer"].as_str().expect("customer").to_owned(),
                        k["window_start"].as_i64().expect("window"),
                    ),
                    v["n"].as_u64().expect("n"),
                )
            })
            .collect();
    assert_eq!(got, model);
    // Cancelling a finished replay is refused; an unknown view cannot be replayed.
    assert!(engine.cancel_replay(started.id).is_err());
    assert!(
        engine
            .replay_view(ViewReplayRequest {
                view: "nope".into(),
                ..ViewReplayRequest::default()
            })
            .is_err()
    );
    engine.shutdown();
}

#[test]
fn a_cancelled_replay_drops_its_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    setup(&engine);
    produce(&log, 0..100);
    let r = engine
        .replay_view(ViewReplayRequest {
            view: "totals".into(),
            ..ViewReplayRequest::default()
        })
        .expect("replay");
    let bad = engine.replay_view(ViewReplayRequest {
        view: "totals".into(),
        name: Some("totals_v2".into()),
        ..ViewReplayRequest::default()
    });
    assert!(bad.unwrap_err().to_string().contains("taken"));
    let c = engine.cancel_replay(r.id).expect("cancel");
    assert_eq!(c.status, ReplayStatus::Cancelled);
    assert!(engine.stats("totals_v2").is_err());
    assert!(log.topic("totals_v2-changelog").is_err());
    assert_eq!(
        engine.versions("totals").expect("versions").versions.len(),
        1
    );
    assert_eq!(engine.resolve("totals").as_deref(), Some("totals"));
    engine.shutdown();
}

#[test]
fn a_topic_replay_copies_exactly_what_it_selects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    setup(&engine);
    produce(&log, 0..5000);
    let from = 1_000_000 + 1000 * 100;
    let to = 1_000_000 + 4000 * 100;
    let r = engine
        .replay_topic(TopicReplayRequest {
            source: "orders".into(),
            dest: "orders_big".into(),
            from_time: Some(from),
            to_time: Some(to),
            predicate: Some("amount >= 7 AND customer <> 'u3'".into()),
        })
        .expect("replay");
    wait_for("the copy", || {
        engine.replay(r.id).expect("replay").status == ReplayStatus::Done
    });
    let done = engine.replay(r.id).expect("replay");
    let expected: Vec<u64> = (1000..4000).filter(|i| i % 10 >= 7 && i % 7 != 3).collect();
    let counts = done.counts.expect("counts");
    assert_eq!(counts.copied, expected.len() as u64);
    assert_eq!(counts.read, 4000, "{counts:?}");
    assert_eq!(
        counts.read,
        counts.copied + counts.filtered_out + counts.invalid
    );
    let dest = log.topic("orders_big").expect("dest");
    let mut copied = Vec::new();
    for p in dest.partitions() {
        let fetch = p
            .read(
                0,
                strata_log::ReadLimits {
                    max_records: 100_000,
                    max_bytes: 64 << 20,
                },
            )
            .expect("read");
        for rec in fetch.records() {
            let rec = rec.expect("record");
            copied.push((rec.timestamp - 1_000_000) as u64 / 100);
        }
    }
    copied.sort_unstable();
    assert_eq!(copied, expected);
    // Bad requests say what to fix.
    let e = engine
        .replay_topic(TopicReplayRequest {
            source: "orders".into(),
            dest: "x".into(),
            predicate: Some("nosuch > 1".into()),
            ..TopicReplayRequest::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("nosuch"), "{e}");
    engine.shutdown();
}
