//! `strata bench nexmark`: the Nexmark queries on this machine's one core, in-process over
//! Arrow batches or as JSON through the log, beside the per-core targets and Flink's
//! published figures.

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use super::{Failure, Result, fail, print_json};
use crate::args::{BenchNexmarkArgs, Output};

/// Flink 1.13's published per-core throughput (nexmark/nexmark README: 8 × 1-slot
/// TaskManagers, RocksDB), events/s.
fn flink_per_core(query: &str) -> Option<f64> {
    match query {
        "q0" => Some(155e3),
        "q1" => Some(158e3),
        "q5" => Some(22.1e3),
        "q7" => Some(12.3e3),
        "q8" => Some(146e3),
        "q11" => Some(39.7e3),
        _ => None,
    }
}

/// strata's per-core targets (issue 9), events/s.
fn nexmark_target(query: &str, from_log: bool) -> Option<f64> {
    if from_log {
        return Some(1e6);
    }
    match query {
        "q0" | "q1" | "q2" => Some(10e6),
        "q5" => Some(2.2e6),
        "q7" => Some(1.2e6),
        "q8" => Some(1.5e6),
        "q11" => Some(4e6),
        _ => None,
    }
}

/// `strata bench nexmark`: each query `--runs` times over the same events, median shown.
/// The runner is single-threaded, so events/s per core is events/s.
pub fn run(a: BenchNexmarkArgs) -> Result {
    use strata_nexmark::runner::{
        RunStats, fill_log, generate_batches, run_from_log, run_in_process,
    };
    let names: Vec<String> = match &a.query {
        Some(q) => {
            strata_nexmark::queries::sql_of(q).map_err(|e| Failure(e.to_string()))?;
            vec![q.to_lowercase()]
        }
        None => strata_nexmark::queries::names()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    };
    if a.events == 0 || a.runs == 0 || a.chunk == 0 {
        return fail("--events, --runs and --chunk must be at least 1");
    }
    let config = strata_nexmark::NexmarkConfig {
        seed: a.seed,
        rate: a.rate,
        ..strata_nexmark::NexmarkConfig::default()
    };
    config.validate().map_err(|e| Failure(e.to_string()))?;
    let nx = |e: strata_nexmark::NexmarkError| Failure(e.to_string());
    let started = Instant::now();
    let dir = tempfile_dir()?;
    let (chunks, log) = if a.from_log {
        (
            Vec::new(),
            Some(fill_log(dir.path(), &config, a.events).map_err(nx)?),
        )
    } else {
        (
            generate_batches(&config, a.events, a.chunk).map_err(nx)?,
            None,
        )
    };
    eprintln!(
        "generated {} events ({}) in {:.1} s",
        a.events,
        if a.from_log { "JSON in a log" } else { "Arrow" },
        started.elapsed().as_secs_f64()
    );
    let mut rows = Vec::new();
    for name in &names {
        let mut runs: Vec<RunStats> = Vec::new();
        for _ in 0..a.runs {
            let (stats, _) = match &log {
                Some(log) => run_from_log(name, log, a.events, false),
                None => run_in_process(name, &chunks, false),
            }
            .map_err(nx)?;
            runs.push(stats);
        }
        runs.sort_by(|x, y| x.events_per_sec().total_cmp(&y.events_per_sec()));
        let median = runs.swap_remove(runs.len() / 2);
        let rate = median.events_per_sec();
        let p99 = median.latency_quantile(0.99);
        let target = nexmark_target(name, a.from_log);
        let flink = flink_per_core(name);
        rows.push(json!({
            "query": name,
            "events": median.events,
            "events_per_sec": rate,
            "events_per_sec_per_core": rate,
            "p99_latency_ms": p99.map(|d| d.as_secs_f64() * 1e3),
            "rows_out": median.rows_out,
            "target_per_core": target,
            "flink_1_13_per_core": flink,
            "vs_flink": flink.map(|f| rate / f),
            "pass": target.map(|t| rate >= t),
            "from_log": a.from_log,
        }));
    }
    if a.output == Output::Json {
        return print_json(&Value::Array(rows));
    }
    println!(
        "Nexmark, {} events, {}, 1 core, median of {} run(s)\n",
        a.events,
        if a.from_log {
            "JSON through the log"
        } else {
            "in-process Arrow"
        },
        a.runs
    );
    println!(
        "{:<5} {:>12} {:>14} {:>12} {:>10} {:>12} {:>12} {:>9} {:>6}",
        "query",
        "events/s",
        "events/s/core",
        "p99 latency",
        "rows out",
        "target/core",
        "Flink/core",
        "x Flink",
        ""
    );
    let m = |v: &Value| {
        v.as_f64()
            .map_or("-".to_owned(), |x| format!("{:.2} M", x / 1e6))
    };
    for r in &rows {
        println!(
            "{:<5} {:>12} {:>14} {:>12} {:>10} {:>12} {:>12} {:>9} {:>6}",
            r["query"].as_str().unwrap_or(""),
            m(&r["events_per_sec"]),
            m(&r["events_per_sec_per_core"]),
            r["p99_latency_ms"]
                .as_f64()
                .map_or("-".to_owned(), |x| format!("{x:.2} ms")),
            r["rows_out"],
            m(&r["target_per_core"]),
            r["flink_1_13_per_core"]
                .as_f64()
                .map_or("-".to_owned(), |x| format!("{:.1} K", x / 1e3)),
            r["vs_flink"]
                .as_f64()
                .map_or("-".to_owned(), |x| format!("{x:.0}x")),
            match r["pass"].as_bool() {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "",
            }
        );
    }
    Ok(())
}

/// A directory under the system's temp dir, removed on drop.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch directory for this process's log.
fn tempfile_dir() -> Result<ScratchDir> {
    let dir = std::env::temp_dir().join(format!("strata-nexmark-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure(format!("cannot create {}: {e}", dir.display())))?;
    Ok(ScratchDir(dir))
}
