//! The batch layer's benchmark (docs/benchmarks.md, "Batch layer"), in release mode, each
//! number beside a DuckDB baseline measured in the same run on the same data (CONVENTIONS.md
//! §8: the machine is shared and noisy; judge medians and same-run ratios).
//!
//! 1. Archiving: `STRATA_BENCH_ROWS` (default 10 M) JSON orders in 4 partitions of a log are
//!    archived into a fresh lake by one thread (records/s = per core). Baseline: DuckDB on one
//!    thread converting the same JSON values (a JSON-lines file) to zstd Parquet.
//! 2. A batch view over that lake: tumbling 1-minute windows, `COUNT(*)` and `SUM(amount)` by
//!    product (100 products), with 1 decoding thread and with all cores. Baseline: DuckDB's
//!    equivalent SQL over the same Parquet files with `threads=1` and with all cores.
//!
//! Every case runs `STRATA_BENCH_REPS` (default 5) times; the median is reported. Data comes
//! from a seeded RNG, under `STRATA_BENCH_DIR` or Cargo's target tmp dir.
//! Run: `cargo bench --bench batch_layer` (needs python3 with `duckdb` and `pyarrow`).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_batch::{ArchiveConfig, Archiver, BatchMetrics, run_bounded};
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::plan::{AggregateFunction, SourceDef, SqlType, WindowSpec};
use strata_log::{BatchBuilder, Durability, Log, LogOptions, TopicConfig};

type BenchResult<T> = Result<T, Box<dyn Error>>;

const PARTITIONS: u32 = 4;
const PRODUCTS: u32 = 100;
/// 2024-03-10T00:00:00Z.
const T0: i64 = 1_710_028_800_000;
const SEED: u64 = 0x5354_5241_5441;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn source() -> SourceDef {
    SourceDef::stream("orders")
        .column("product", SqlType::Varchar)
        .column("amount", SqlType::Double)
        .column("qty", SqlType::BigInt)
        .column("order_time", SqlType::Timestamp)
        .event_time("order_time")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Writes `rows` orders (spread over 6 hours of event time, ±30 s out of order) to the log
/// and the same values to `json` (one per line, for DuckDB's baseline).
fn produce(log: &Log, rows: usize, json: &Path) -> BenchResult<()> {
    use std::io::Write;
    let config = TopicConfig {
        segment_bytes: 64 * 1024 * 1024,
        durability: Durability::Never,
        ..TopicConfig::default()
    };
    let topic = log.create_topic("orders", PARTITIONS, config)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(json)?);
    let mut rng = StdRng::seed_from_u64(SEED);
    let per_partition = rows / PARTITIONS as usize;
    let span_ms = 6 * 3_600_000i64;
    let mut value = Vec::with_capacity(128);
    for p in 0..PARTITIONS {
        let mut batch = BatchBuilder::with_capacity(1 << 20);
        for i in 0..per_partition {
            let t = T0
                + (i as i64 * span_ms) / per_partition as i64
                + rng.random_range(-30_000..30_000);
            value.clear();
            write!(
                value,
                r#"{{"product":"p{}","amount":{}.{:02},"qty":{},"order_time":{t}}}"#,
                rng.random_range(0..PRODUCTS),
                rng.random_range(0..1000),
                rng.random_range(0..100),
                rng.random_range(1..20)
            )?;
            out.write_all(&value)?;
            out.write_all(b"\n")?;
            batch.push(None, &value, t, std::iter::empty());
            if batch.len() == 2000 {
                let full = std::mem::replace(&mut batch, BatchBuilder::with_capacity(1 << 20));
                topic.append(p, full.finish().ok_or("empty batch")?)?;
            }
        }
        if let Some(last) = batch.finish() {
            topic.append(p, last)?;
        }
        topic.partition(p)?.roll_now()?;
    }
    out.flush()?;
    Ok(())
}

fn python(script: &str) -> BenchResult<serde_json::Value> {
    let out = Command::new("python3").arg("-c").arg(script).output()?;
    if !out.status.success() {
        return Err(format!(
            "python3 failed (the baseline needs `python3 -m pip install duckdb pyarrow`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    // The last line is the result (DuckDB may print progress above it).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().ok_or("python printed nothing")?;
    Ok(serde_json::from_str(last)?)
}

fn main() -> BenchResult<()> {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) is a dry run.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let rows = env_usize("STRATA_BENCH_ROWS", 10_000_000);
    let reps = env_usize("STRATA_BENCH_REPS", 5).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let base: PathBuf = std::env::var_os("STRATA_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_TMPDIR").map(PathBuf::from))
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::tempdir_in(&base)?;
    println!(
        "batch layer bench: {rows} rows, {reps} reps, {cores} cores, data in {}",
        dir.path().display()
    );
    let log = Log::open(
        dir.path().join("log"),
        LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        },
    )?;
    let json = dir.path().join("orders.jsonl");
    let t = Instant::now();
    produce(&log, rows, &json)?;
    println!("produced in {:.1} s", t.elapsed().as_secs_f64());
    let rows = (rows / PARTITIONS as usize) * PARTITIONS as usize;

    // 1. Archiving, one thread.
    let lake = dir.path().join("lake");
    let mut archive_rates = Vec::new();
    for _ in 0..reps {
        let _ = std::fs::remove_dir_all(&lake);
        let mut config = ArchiveConfig::new(&lake);
        config.lambda = false;
        let archiver = Archiver::new(config, Arc::new(BatchMetrics::default()))?;
        let t = Instant::now();
        let report = archiver.archive_topic(&log, "orders", Some(&source()))?;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(report.rows as usize, rows);
        archive_rates.push(rows as f64 / secs);
    }
    let files = walk_parquet(&lake.join("orders"))?;
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let duck_archive = python(&format!(
        r#"
import duckdb, json, time, statistics, os
con = duckdb.connect(); con.execute("SET threads=1"); con.execute("SET enable_progress_bar=false")
times = []
for _ in range({reps}):
    out = {out:?}
    t = time.perf_counter()
    con.execute("COPY (SELECT * FROM read_json('{json}', columns={{'product':'VARCHAR','amount':'DOUBLE','qty':'BIGINT','order_time':'BIGINT'}}, format='newline_delimited')) TO '" + out + "' (FORMAT parquet, COMPRESSION zstd)")
    times.append(time.perf_counter() - t)
    os.remove(out)
print(json.dumps({{"median_s": statistics.median(times)}}))
"#,
        out = dir.path().join("duck.parquet").display().to_string(),
        json = json.display(),
    ))?;
    let duck_archive_rate = rows as f64 / duck_archive["median_s"].as_f64().ok_or("median")?;

    // 2. Tumbling SUM/COUNT by key over the lake.
    let plan = ViewBuilder::new("sales_per_minute", source())
        .window(WindowSpec::Tumbling { size_ms: 60_000 })
        .group_by("product", col("product"))
        .aggregate("n", AggregateFunction::Count, None)
        .aggregate("total", AggregateFunction::Sum, Some(col("amount")))
        .build();
    let view = |threads: usize| -> BenchResult<(f64, usize)> {
        let mut rates = Vec::new();
        let mut groups = 0;
        for _ in 0..reps {
            let t = Instant::now();
            let result = run_bounded(&plan, &lake, threads, &mut |_| {})?;
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(result.input_rows as usize, rows);
            groups = result.rows.num_rows();
            rates.push(rows as f64 / secs);
        }
        Ok((median(rates), groups))
    };
    let (view_1, groups) = view(1)?;
    let (view_n, _) = view(cores)?;
    let glob = format!("{}/orders/**/*.parquet", lake.display());
    let duck_view = python(&format!(
        r#"
import duckdb, json, time, statistics
res = {{}}
for threads in (1, {cores}):
    con = duckdb.connect(); con.execute(f"SET threads={{threads}}"); con.execute("SET enable_progress_bar=false")
    times = []
    for _ in range({reps}):
        t = time.perf_counter()
        r = con.execute("SELECT product, epoch_ms(order_time) // 60000 * 60000 AS window_start, count(*) AS n, sum(amount) AS total FROM read_parquet('{glob}') GROUP BY ALL")
        tbl = r.to_arrow_table() if hasattr(r, "to_arrow_table") else r.fetch_arrow_table()
        times.append(time.perf_counter() - t)
    res[str(threads)] = {{"median_s": statistics.median(times), "groups": tbl.num_rows}}
print(json.dumps(res))
"#
    ))?;
    let duck_1 = rows as f64 / duck_view["1"]["median_s"].as_f64().ok_or("median")?;
    let duck_n = rows as f64
        / duck_view[cores.to_string()]["median_s"]
            .as_f64()
            .ok_or("median")?;
    assert_eq!(duck_view["1"]["groups"].as_u64(), Some(groups as u64));

    let m = |r: f64| r / 1e6;
    println!();
    println!("| case | strata | DuckDB (same run) | strata / DuckDB |");
    println!("|---|---:|---:|---:|");
    println!(
        "| archive JSON → Parquet, 1 thread | {:.2} M rec/s | {:.2} M rec/s | {:.2} |",
        m(median(archive_rates.clone())),
        m(duck_archive_rate),
        median(archive_rates.clone()) / duck_archive_rate
    );
    println!(
        "| tumbling COUNT/SUM by key, 1 thread | {:.1} M rows/s | {:.1} M rows/s | {:.2} |",
        m(view_1),
        m(duck_1),
        view_1 / duck_1
    );
    println!(
        "| tumbling COUNT/SUM by key, {cores} threads | {:.1} M rows/s | {:.1} M rows/s | {:.2} |",
        m(view_n),
        m(duck_n),
        view_n / duck_n
    );
    println!();
    println!(
        "lake: {} files, {:.1} MiB ({:.1} B/row); view: {groups} groups",
        files.len(),
        bytes as f64 / (1024.0 * 1024.0),
        bytes as f64 / rows as f64
    );
    Ok(())
}

fn walk_parquet(dir: &Path) -> BenchResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk_parquet(&path)?);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(out)
}
