//! Replay throughput (Kappa): a view rebuilt from the log into a new version, against live
//! processing of the same records, measured in the same run, in-process, release mode.
//!
//! Rows (all the same view: tumbling 1 min COUNT+SUM by key over 10 k keys, JSON events
//! `{"k","v","ts"}`, event time 100 events/ms, one partition):
//! - **live, streaming view**: the view exists first; a producer thread appends the events
//!   (pre-encoded 4096-record batches) as fast as it can and the view tails them — the speed
//!   layer at saturation. Timed from the first append until the view has read them all.
//! - **replay**: `Engine::replay_view` into a new version over the same records, now history.
//!   Timed from the call until the version has read them all (catch-up).
//! - **live engine loop** (the `engine_throughput` bench's "JSON records read from the log"
//!   case, the same code): read, decode, aggregate, no driver — the ceiling of both.
//!
//! Events/s per core divide by the CPU time of the thread doing the work (the view's own
//! thread, from `/proc/self/task`; the loop's thread), so the producer's core is not counted. Medians of `STRATA_BENCH_RUNS` (default 5).
//! Run: `cargo bench --bench replay`; `STRATA_BENCH_EVENTS` sets the events (default 2 M).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::decode::SourceDecoder;
use strata_engine::operator::{Lateness, ViewOperator};
use strata_engine::plan::{AggregateFunction, EmitMode, WindowSpec};
use strata_log::{
    BatchBuilder, Durability, EncodedBatch, Log, LogOptions, ReadLimits, TopicConfig,
};
use strata_views::engine::{Engine, EngineConfig};
use strata_views::replay::ViewReplayRequest;
use strata_views::streaming::StreamingConfig;

const EVENTS_PER_MS: i64 = 100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The events, pre-encoded in 4096-record batches (as `engine_throughput` writes them).
fn batches(n: usize, seed: u64) -> Vec<EncodedBatch> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut b = BatchBuilder::with_capacity(4096 * 48);
    let mut in_batch = 0;
    for i in 0..n {
        let ts = 1_700_000_000_000 + i as i64 / EVENTS_PER_MS;
        let value = format!(
            r#"{{"k":{},"v":{},"ts":{ts}}}"#,
            rng.random_range(0..10_000u64),
            rng.random_range(0..1000u64)
        );
        b.push(None, value.as_bytes(), ts, std::iter::empty());
        in_batch += 1;
        if in_batch == 4096 {
            out.push(
                std::mem::replace(&mut b, BatchBuilder::with_capacity(4096 * 48))
                    .finish()
                    .expect("batch"),
            );
            in_batch = 0;
        }
    }
    if let Some(last) = b.finish() {
        out.push(last);
    }
    out
}

const SQL: &str = "CREATE STREAM events (k BIGINT, v BIGINT, ts BIGINT)
    WITH (kafka_topic='events', value_format='JSON', timestamp='ts');
  CREATE TABLE bench AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM events
    WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY k EMIT FINAL;";

fn open(dir: &std::path::Path) -> (Arc<Log>, Arc<Engine>) {
    let log = Log::open(
        dir.join("log"),
        LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        },
    )
    .expect("log");
    log.create_topic(
        "events",
        1,
        TopicConfig {
            durability: Durability::Never,
            ..TopicConfig::default()
        },
    )
    .expect("topic");
    let engine = Engine::open(
        Arc::clone(&log),
        &dir.join("engine"),
        EngineConfig {
            streaming: StreamingConfig::default(),
            ..EngineConfig::default()
        },
    )
    .expect("engine");
    engine.execute(SQL).expect("sql");
    (log, engine)
}

/// CPU seconds (user + system) of the calling thread.
fn own_cpu() -> f64 {
    stat_cpu(&std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default())
}

/// utime + stime of a `/proc/.../stat` line, in seconds.
fn stat_cpu(stat: &str) -> f64 {
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name, state is [0]; utime and stime (stat fields 14, 15) are [11] and [12].
    let field = |i: usize| -> f64 {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .unwrap_or(f64::NAN)
    };
    (field(11) + field(12)) / 100.0 // USER_HZ on Linux
}

/// CPU seconds (user + system) of this process's thread named `name`.
fn thread_cpu(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        // comm is cut at 15 bytes.
        if !name.starts_with(comm.trim()) || comm.trim().is_empty() {
            continue;
        }
        return stat_cpu(&std::fs::read_to_string(task.path().join("stat")).unwrap_or_default());
    }
    f64::NAN
}

fn wait_read(engine: &Engine, view: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let s = engine.stats(view).expect("stats");
        if s.records_in >= n {
            return;
        }
        assert!(engine.failure(view).is_none(), "{:?}", engine.failure(view));
        assert!(Instant::now() < deadline, "{view} stuck at {s:?}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// (wall events/s, events/s per CPU second of the view thread) of live and replay.
fn run_once(input: &[EncodedBatch], n: usize) -> ((f64, f64), (f64, f64)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    let topic = log.topic("events").expect("topic");
    let cpu0 = thread_cpu("view-bench");
    let start = Instant::now();
    let producer = {
        let topic = Arc::clone(&topic);
        let input = input.to_vec();
        std::thread::spawn(move || {
            for b in input {
                topic.append(0, b).expect("append");
            }
        })
    };
    wait_read(&engine, "bench", n as u64);
    let live_wall = start.elapsed().as_secs_f64();
    let live_cpu = thread_cpu("view-bench") - cpu0;
    producer.join().expect("producer");

    let start = Instant::now();
    engine
        .replay_view(ViewReplayRequest {
            view: "bench".into(),
            name: Some("r".into()),
            ..ViewReplayRequest::default()
        })
        .expect("replay");
    wait_read(&engine, "r", n as u64);
    let replay_wall = start.elapsed().as_secs_f64();
    let replay_cpu = thread_cpu("view-r");
    engine.shutdown();
    let n = n as f64;
    (
        (n / live_wall, n / live_cpu),
        (n / replay_wall, n / replay_cpu),
    )
}

/// `engine_throughput`'s "JSON records read from the log" path, over the same records.
fn engine_loop(log: &Log) -> usize {
    let p = Arc::clone(
        log.topic("events")
            .expect("topic")
            .partition(0)
            .expect("p0"),
    );
    let source = strata_engine::sql::parse(SQL, &strata_engine::sql::EmptyCatalog)
        .expect("sql")
        .into_iter()
        .find_map(|s| match s {
            strata_engine::plan::Statement::CreateSource { source, .. } => Some(source),
            _ => None,
        })
        .expect("source");
    let plan = ViewBuilder::new("loop", source.clone())
        .window(WindowSpec::Tumbling { size_ms: 60_000 })
        .group_by("k", col("k"))
        .aggregate("n", AggregateFunction::Count, None)
        .aggregate("total", AggregateFunction::Sum, Some(col("v")))
        .emit(EmitMode::Final)
        .build();
    let mut decoder = SourceDecoder::new(&source).expect("decoder");
    let mut op =
        ViewOperator::new(plan, Arc::clone(decoder.schema()), Lateness::Enforce).expect("operator");
    let (mut offset, mut emitted) = (0, 0);
    while offset < p.end_offset() {
        let fetch = p
            .read(
                offset,
                ReadLimits {
                    max_records: 8192,
                    max_bytes: 64 << 20,
                },
            )
            .expect("read");
        let records: Vec<_> = fetch
            .records()
            .map(|r| (0u32, r.expect("record")))
            .collect();
        let decoded = decoder.decode(&records).expect("decode");
        op.process(&decoded.batch).expect("process");
        let last = records.last().expect("non-empty").1.timestamp;
        let closed = op.advance_watermark(last - 5_000);
        emitted += op.output(&closed).expect("output").num_rows();
        offset = fetch.next_offset();
    }
    emitted
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n = env("STRATA_BENCH_EVENTS", 2_000_000);
    let runs = env("STRATA_BENCH_RUNS", 5);
    let input = batches(n, 7);
    println!("replay vs live, one view thread, {n} events, median of {runs} runs\n");
    let (mut lw, mut lc, mut rw, mut rc) = (vec![], vec![], vec![], vec![]);
    let (mut el, mut ec) = (vec![], vec![]);
    for _ in 0..runs {
        let ((a, b), (c, d)) = run_once(&input, n);
        lw.push(a);
        lc.push(b);
        rw.push(c);
        rc.push(d);
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, engine) = open(dir.path());
        engine.shutdown();
        let topic = log.topic("events").expect("topic");
        for b in &input {
            topic.append(0, b.clone()).expect("append");
        }
        let (start, cpu) = (Instant::now(), own_cpu());
        std::hint::black_box(engine_loop(&log));
        el.push(n as f64 / start.elapsed().as_secs_f64());
        ec.push(n as f64 / (own_cpu() - cpu));
    }
    let (lw, lc, rw, rc) = (median(lw), median(lc), median(rw), median(rc));
    let (el, ec) = (median(el), median(ec));
    println!(
        "{:<52} {:>12} {:>16} {:>10}",
        "case", "events/s", "events/s/core", "vs live"
    );
    let row = |name: &str, wall: f64, core: f64| {
        println!(
            "{name:<52} {:>10.2} M {:>14.2} M {:>9.2}x",
            wall / 1e6,
            core / 1e6,
            core / lc
        );
    };
    row("live: streaming view tailing a producer", lw, lc);
    row("replay: new version from the log (catch-up)", rw, rc);
    row(
        "live engine loop (engine_throughput, JSON from log)",
        el,
        ec,
    );
    println!(
        "\nreplay / live (per core): {:.2}x  {}",
        rc / lc,
        if rc >= lc {
            "PASS (replay ≥ live)"
        } else {
            "MISS (replay < live)"
        }
    );
    println!("replay / live engine loop (per core): {:.2}x", rc / ec);
}
