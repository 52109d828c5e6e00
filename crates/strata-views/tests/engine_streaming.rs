//! The streaming driver end to end over a real log: results, late records, restarts, and a
//! crash test — the view's process is killed with SIGKILL at random moments (≥ 10 times) and
//! its changelog and late topics must equal those of a run that was never interrupted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::plan::{AggregateFunction, EmitMode, SourceDef, SqlType, ViewPlan, WindowSpec};
use strata_log::{Durability, EncodedBatch, Log, LogOptions, ReadLimits, Record, TopicConfig};
use strata_views::streaming::{StreamingConfig, StreamingView, changelog_topic, late_topic};

const CHILD_ENV: &str = "STRATA_VIEW_CRASH_CHILD";
const EVENTS: u64 = 30_000;

fn source() -> SourceDef {
    SourceDef::stream("clicks")
        .column("user", SqlType::Varchar)
        .column("ms", SqlType::BigInt)
        .column("ts", SqlType::Timestamp)
        .event_time("ts")
        .watermark_delay_ms(1_000)
}

fn plan() -> ViewPlan {
    ViewBuilder::new("per_user", source())
        .window(WindowSpec::Tumbling { size_ms: 10_000 })
        .group_by("user", col("user"))
        .aggregate("clicks", AggregateFunction::Count, None)
        .aggregate("total_ms", AggregateFunction::Sum, Some(col("ms")))
        .emit(EmitMode::Final)
        .build()
}

fn options() -> LogOptions {
    LogOptions {
        maintenance_tick: None,
        ..LogOptions::default()
    }
}

fn config() -> StreamingConfig {
    StreamingConfig {
        checkpoint_interval: Duration::from_millis(30),
        max_records_per_partition: 500,
        idle_timeout: Duration::from_secs(3_600),
        poll_interval: Duration::from_millis(5),
    }
}

/// Deterministic events: mostly in order, some out of order, a few very late.
fn event(i: u64) -> Record {
    let mut ts = 1_000_000 + i as i64 * 7;
    if i.is_multiple_of(97) {
        ts -= 600; // out of order, within the watermark delay
    }
    if i % 1_000 == 999 {
        ts -= 50_000; // far too late
    }
    let value = format!(r#"{{"user":"u{}","ms":{},"ts":{ts}}}"#, i % 13, i % 100);
    Record::new(value.into_bytes(), ts)
}

fn fill(dir: &Path) {
    let log = Log::open(dir, options()).expect("open");
    let topic = log
        .create_topic(
            "clicks",
            1,
            TopicConfig {
                durability: Durability::Never,
                ..TopicConfig::default()
            },
        )
        .expect("topic");
    for start in (0..EVENTS).step_by(1_000) {
        let records: Vec<Record> = (start..start + 1_000).map(event).collect();
        topic
            .append(0, EncodedBatch::from_records(&records).expect("batch"))
            .expect("append");
    }
    log.close().expect("close");
}

fn topic_values(log: &Log, topic: &str) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    let Ok(t) = log.topic(topic) else {
        return Vec::new();
    };
    let p = t.partition(0).expect("p0");
    let mut out = Vec::new();
    let mut offset = p.start_offset();
    while offset < p.end_offset() {
        let fetch = p
            .read(
                offset,
                ReadLimits {
                    max_records: 10_000,
                    max_bytes: 1 << 24,
                },
            )
            .expect("read");
        for r in fetch.records() {
            let r = r.expect("record");
            out.push((r.key.map(<[u8]>::to_vec), r.value.to_vec()));
        }
        offset = fetch.next_offset();
    }
    out
}

/// Runs the view until it has read everything and closed every window it can.
fn run_to_end(dir: &Path) {
    let log = Log::open(dir, options()).expect("open");
    let view = StreamingView::start(Arc::clone(&log), plan(), &dir.join("state"), config())
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    while view.stats().lag > 0 || view.stats().records_in == 0 {
        assert!(
            Instant::now() < deadline,
            "view did not catch up: {:?}",
            view.stats()
        );
        assert!(view.failure().is_none(), "{:?}", view.failure());
        std::thread::sleep(Duration::from_millis(10));
    }
    view.stop();
    log.close().expect("close");
}

#[test]
fn view_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let log = Log::open(&dir, options()).expect("open");
    let _view = StreamingView::start(
        Arc::clone(&log),
        plan(),
        &Path::new(&dir).join("state"),
        config(),
    )
    .expect("start");
    std::thread::sleep(Duration::from_secs(60)); // killed long before
}

#[test]
fn results_late_records_and_a_clean_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path());
    run_to_end(dir.path());
    let log = Log::open(dir.path(), options()).expect("open");
    let changelog = topic_values(&log, &changelog_topic("per_user"));
    let late = topic_values(&log, &late_topic("per_user"));
    // 30 events are 50 s late: past the 1 s delay and 0 grace, so late.
    assert_eq!(late.len(), 30, "late records go to the late topic");
    // An independent model: every on-time event, in windows that the final watermark
    // (largest event time - 1 s delay) has closed.
    let mut model = std::collections::BTreeMap::<(String, i64), (i64, i64)>::new();
    let max_ts = (0..EVENTS)
        .map(|i| 1_000_000 + i as i64 * 7)
        .max()
        .expect("events");
    let watermark = max_ts - 1_000;
    for i in (0..EVENTS).filter(|i| i % 1_000 != 999) {
        let v: serde_json::Value = serde_json::from_slice(&event(i).value).expect("json");
        let ts = v["ts"].as_i64().expect("ts");
        let start = ts - ts.rem_euclid(10_000);
        if start + 10_000 <= watermark {
            let e = model
                .entry((v["user"].as_str().expect("user").to_owned(), start))
                .or_default();
            e.0 += 1;
            e.1 += v["ms"].as_i64().expect("ms");
        }
    }
    let mut got = std::collections::BTreeMap::new();
    for (_, value) in &changelog {
        let r: serde_json::Value = serde_json::from_slice(value).expect("json");
        let start = r["window_start"]
            .as_i64()
            .expect("window_start in epoch ms");
        let key = (r["user"].as_str().expect("user").to_owned(), start);
        let previous = got.insert(
            key,
            (
                r["clicks"].as_i64().expect("clicks"),
                r["total_ms"].as_i64().expect("total"),
            ),
        );
        assert!(previous.is_none(), "EMIT FINAL emits each window once");
    }
    assert_eq!(got, model);
    drop(log);
    // A restart resumes from the checkpoint and adds nothing twice.
    run_to_end(dir.path());
    let log = Log::open(dir.path(), options()).expect("open");
    assert_eq!(topic_values(&log, &changelog_topic("per_user")), changelog);
    assert_eq!(topic_values(&log, &late_topic("per_user")), late);
}

#[test]
fn sigkill_during_a_run_changes_nothing_in_the_outputs() {
    // The reference: one uninterrupted run.
    let reference = tempfile::tempdir().expect("tempdir");
    fill(reference.path());
    run_to_end(reference.path());
    let log = Log::open(reference.path(), options()).expect("open");
    let expected_changelog = topic_values(&log, &changelog_topic("per_user"));
    let expected_late = topic_values(&log, &late_topic("per_user"));
    drop(log);
    assert!(!expected_changelog.is_empty());

    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path());
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for _ in 0..12 {
        let mut child = Command::new(&exe)
            .args(["--exact", "view_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(rng.random_range(20..250)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }
    run_to_end(dir.path());
    let log = Log::open(dir.path(), options()).expect("open");
    let changelog = topic_values(&log, &changelog_topic("per_user"));
    let late = topic_values(&log, &late_topic("per_user"));
    assert_eq!(
        changelog.len(),
        expected_changelog.len(),
        "no duplicate, nothing lost"
    );
    assert_eq!(changelog, expected_changelog);
    assert_eq!(late, expected_late);
}
