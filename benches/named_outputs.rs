//! The cost of a named output (`WITH (kafka_topic=…) AS`): the same view with and without
//! one, measured in the same run, in-process, release mode, through the node's own path — the
//! streaming driver (`strata-views`), which is what writes outputs (`engine_throughput` runs
//! the pipeline alone and writes nothing).
//!
//! Input: JSON events `{"w","v","ts"}` already in the log (one partition), `w` one of 10 000
//! strings. Cases, each a view created over the whole topic and timed until it has read every
//! event, checkpointed after that and — with a named output — copied every changelog record
//! into the named topic:
//! - **table**: `SELECT w, COUNT(*) AS n, SUM(v) AS total … GROUP BY w` (EMIT CHANGES: about
//!   one changelog row per event, since 8 K-event micro-batches touch most of 10 k keys — the
//!   most output an aggregation writes; the named topic re-keys each by the plain string `w`);
//! - **stream**: `SELECT w, v … WHERE v % 2 = 0` (half the events out).
//!
//! Cost is the CPU time of the view's thread (`/proc/self/task`), per event; the ratio is
//! named / changelog-only. Medians of `STRATA_BENCH_RUNS` (default 5); `STRATA_BENCH_EVENTS`
//! sets the events (default 1 M). Run: `cargo bench --bench named_outputs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use strata_log::{BatchBuilder, Durability, Log, LogOptions, TopicConfig};
use strata_views::engine::{Engine, EngineConfig};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SOURCE: &str = "CREATE STREAM events (w VARCHAR, v BIGINT, ts BIGINT)
    WITH (kafka_topic='events', value_format='JSON', timestamp='ts');";

/// (case, changelog-only view, the same view with a named output).
const CASES: [(&str, &str, &str); 2] = [
    (
        "table: GROUP BY w (10 k keys), EMIT CHANGES",
        "CREATE TABLE pt AS SELECT w, COUNT(*) AS n, SUM(v) AS total FROM events GROUP BY w;",
        "CREATE TABLE nt WITH (kafka_topic='nt_out') AS SELECT w, COUNT(*) AS n, SUM(v) AS total FROM events GROUP BY w;",
    ),
    (
        "stream: WHERE v % 2 = 0 (half out)",
        "CREATE STREAM ps AS SELECT w, v FROM events WHERE v % 2 = 0;",
        "CREATE STREAM ns WITH (kafka_topic='ns_out') AS SELECT w, v FROM events WHERE v % 2 = 0;",
    ),
];

fn fill(log: &Log, n: usize) {
    let topic = log
        .create_topic(
            "events",
            1,
            TopicConfig {
                durability: Durability::Never,
                ..TopicConfig::default()
            },
        )
        .expect("topic");
    let mut rng = rand::rngs::StdRng::seed_from_u64(17);
    let mut b = BatchBuilder::with_capacity(4096 * 48);
    for i in 0..n {
        let ts = 1_700_000_000_000 + i as i64 / 100;
        let value = format!(
            r#"{{"w":"w{}","v":{},"ts":{ts}}}"#,
            rng.random_range(0..10_000u32),
            rng.random_range(0..1000u32)
        );
        b.push(None, value.as_bytes(), ts, std::iter::empty());
        if b.len() == 4096 {
            let full = std::mem::replace(&mut b, BatchBuilder::with_capacity(4096 * 48));
            topic
                .append(0, full.finish().expect("batch"))
                .expect("append");
        }
    }
    if let Some(last) = b.finish() {
        topic.append(0, last).expect("append");
    }
}

/// utime + stime of a `/proc/.../stat` line, in seconds.
fn stat_cpu(stat: &str) -> f64 {
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| -> f64 {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .unwrap_or(f64::NAN)
    };
    (field(11) + field(12)) / 100.0 // USER_HZ on Linux
}

/// CPU seconds of this process's thread named `name`.
fn thread_cpu(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            if std::env::var_os("STRATA_BENCH_SYS").is_some() {
                let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                let sys = after
                    .split_whitespace()
                    .nth(12)
                    .and_then(|f| f.parse::<f64>().ok());
                eprintln!(
                    "{name}: {:.2} s CPU, {:.2} s of it in the kernel",
                    stat_cpu(&stat),
                    sys.unwrap_or(f64::NAN) / 100.0
                );
            }
            return stat_cpu(&stat);
        }
    }
    f64::NAN
}

fn end(log: &Log, topic: &str) -> u64 {
    log.topic(topic)
        .map(|t| t.partitions().iter().map(|p| p.end_offset()).sum())
        .unwrap_or(0)
}

/// Runs one view to the end of the input; the CPU seconds of its thread.
fn measure(log: &Log, engine: &Engine, sql: &str, n: u64) -> f64 {
    let outcomes = engine.execute(sql).expect("create");
    let Some(strata_views::Outcome::ViewCreated { name: view, .. }) = outcomes.last() else {
        panic!("not a view: {outcomes:?}")
    };
    let view = view.clone();
    let named = engine.plan(&view).and_then(|p| p.sink).map(|s| s.topic);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut read_at = None;
    loop {
        let s = engine.stats(&view).expect("stats");
        assert!(
            engine.failure(&view).is_none(),
            "{:?}",
            engine.failure(&view)
        );
        assert!(Instant::now() < deadline, "{view} stuck at {s:?}");
        if s.records_in >= n && read_at.is_none() {
            read_at = Some(s.checkpoints);
        }
        // Done: read everything, checkpointed since, and copied all of it.
        let copied = named
            .as_ref()
            .is_none_or(|t| end(log, t) == end(log, &format!("{view}-changelog")));
        if read_at.is_some_and(|c| s.checkpoints > c) && copied {
            let cpu = thread_cpu(&format!("view-{view}"));
            engine.drop_view(&view).expect("drop");
            if let Some(t) = &named {
                log.delete_topic(t).expect("delete the named topic");
            }
            return cpu;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n = env("STRATA_BENCH_EVENTS", 1_000_000);
    let runs = env("STRATA_BENCH_RUNS", 5);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(
        dir.path().join("log"),
        LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        },
    )
    .expect("log");
    fill(&log, n);
    let engine = Engine::open(
        Arc::clone(&log),
        &dir.path().join("engine"),
        EngineConfig::default(),
    )
    .expect("engine");
    engine.execute(SOURCE).expect("source");
    println!(
        "named output vs changelog only, one view thread, {n} events, median of {runs} runs\n"
    );
    println!(
        "{:<46} {:>16} {:>16} {:>7}",
        "case", "changelog only", "named output", "ratio"
    );
    let mut worst: f64 = 0.0;
    for (case, plain, named) in CASES {
        let (mut p, mut q) = (Vec::new(), Vec::new());
        for run in 0..runs {
            // Alternate which goes first, so neither always runs on a warmer cache.
            if run % 2 == 0 {
                p.push(measure(&log, &engine, plain, n as u64));
                q.push(measure(&log, &engine, named, n as u64));
            } else {
                q.push(measure(&log, &engine, named, n as u64));
                p.push(measure(&log, &engine, plain, n as u64));
            }
        }
        let (p, q) = (median(p), median(q));
        let rate = |cpu: f64| n as f64 / cpu / 1e6;
        println!(
            "{case:<46} {:>10.2} M/s {:>10.2} M/s {:>6.2}x",
            rate(p),
            rate(q),
            q / p
        );
        worst = worst.max(q / p);
    }
    println!(
        "\nworst cost ratio (CPU per event, named / changelog only): {worst:.2}x  {}",
        if worst <= 1.2 {
            "PASS (≤ 1.2x)"
        } else {
            "MISS (> 1.2x)"
        }
    );
    engine.shutdown();
}
