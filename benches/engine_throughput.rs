//! Speed-layer throughput, in-process, one core: the engine's pipeline (what every driver
//! runs) over pre-decoded Arrow batches (tumbling COUNT/SUM by key, HOP, SESSION), and the
//! whole path from JSON records in the log. Beside each figure, a baseline measured in the same run: a plain `HashMap`
//! aggregation over the same columns (what a hand-written loop does with no engine at all).
//!
//! Event time advances 1 ms every 100 events (a 100 k events/s stream).
//!
//! Run: `cargo bench --bench engine_throughput` (release). `STRATA_BENCH_EVENTS` scales the
//! input (default 10 M events); `STRATA_BENCH_RUNS` the repetitions (default 5, median shown);
//! `STRATA_BENCH_ONLY=<text>` runs only the cases whose name contains it (for profiling).
//!
//! The TABLE case reads a ksqlDB table (10 000 keys upserting, one record in 20 a tombstone)
//! and aggregates it by a 100-value column with retraction; it is reported with its ratio to
//! the tumbling case of the same run.
//!
//! The JSON-from-log case runs twice: with strata's schema-driven decoder and, as its own
//! same-run baseline, with the arrow-json decoder strata used before (reproduced here).
//!
//! The word-count case reads lines of plain text (10 words each, from 10 000 distinct words)
//! from the log as a `value_format='KAFKA'` stream and counts
//! `EXPLODE(SPLIT(LCASE(line), ' '))` by word — decode, split, explode and aggregate; its
//! rate is in words/s, and it runs interleaved with the tumbling JSON-from-log case, whose
//! events/s it is compared with.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::Schema;
use rand::{Rng, SeedableRng};
use strata_engine::builder::{ViewBuilder, col};
use strata_engine::decode::source_schema;
use strata_engine::pipeline::{Output, Pipeline, PipelineOptions};
use strata_engine::plan::{AggregateFunction, EmitMode, SourceDef, SqlType, ViewPlan, WindowSpec};
use strata_log::{BatchBuilder, Durability, Log, LogOptions, ReadLimits, RecordView, TopicConfig};

const BATCH_ROWS: usize = 64 * 1024;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn source() -> SourceDef {
    SourceDef::stream("events")
        .column("k", SqlType::BigInt)
        .column("v", SqlType::BigInt)
        .column("ts", SqlType::Timestamp)
        .event_time("ts")
}

fn plan(window: WindowSpec) -> ViewPlan {
    ViewBuilder::new("bench", source())
        .window(window)
        .group_by("k", col("k"))
        .aggregate("n", AggregateFunction::Count, None)
        .aggregate("total", AggregateFunction::Sum, Some(col("v")))
        .emit(EmitMode::Final)
        .build()
}

/// Event-time density: 100 events per millisecond, a stream of 100 k events/s (10 M events
/// span 100 s of event time). Keys and values are random.
const EVENTS_PER_MS: i64 = 100;

fn events(n: usize, keys: u64, seed: u64) -> Vec<(i64, i64, i64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let ts = 1_700_000_000_000 + i as i64 / EVENTS_PER_MS;
            (
                rng.random_range(0..keys) as i64,
                rng.random_range(0..1000),
                ts,
            )
        })
        .collect()
}

fn batches(events: &[(i64, i64, i64)]) -> Vec<RecordBatch> {
    let schema = source_schema(&source());
    events
        .chunks(BATCH_ROWS)
        .enumerate()
        .map(|(b, chunk)| {
            let n = chunk.len();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from_iter_values(chunk.iter().map(|e| e.0))),
                Arc::new(Int64Array::from_iter_values(chunk.iter().map(|e| e.1))),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    chunk.iter().map(|e| e.2),
                )),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    chunk.iter().map(|e| e.2),
                )),
                Arc::new(Int64Array::from_iter_values(std::iter::repeat_n(0, n))),
                Arc::new(Int64Array::from_iter_values(
                    (0..n as i64).map(|i| (b * BATCH_ROWS) as i64 + i),
                )),
                Arc::new(StringArray::from_iter(std::iter::repeat_n(None::<&str>, n))),
            ];
            RecordBatch::try_new(Arc::clone(&schema), columns).expect("batch")
        })
        .collect()
}

/// A ksqlDB table `users(k BIGINT PRIMARY KEY, g BIGINT, v BIGINT)`, keyed by `k`.
fn table_source() -> SourceDef {
    SourceDef::table("users", "k")
        .column("k", SqlType::BigInt)
        .column("g", SqlType::BigInt)
        .column("v", SqlType::BigInt)
}

/// Table records as decoded batches: key `k` (10 000 keys) upserting rows whose `g` takes
/// 100 values, one record in 20 a tombstone; with each batch, its tombstone rows.
fn table_batches(n: usize, keys: u64) -> Vec<(RecordBatch, Vec<usize>)> {
    let schema = source_schema(&table_source());
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let rows: Vec<(i64, i64, i64, bool)> = (0..n)
        .map(|_| {
            (
                rng.random_range(0..keys) as i64,
                rng.random_range(0..100),
                rng.random_range(0..1000),
                rng.random_range(0..20) == 0,
            )
        })
        .collect();
    rows.chunks(BATCH_ROWS)
        .enumerate()
        .map(|(b, chunk)| {
            let n = chunk.len();
            let value = |f: fn(&(i64, i64, i64, bool)) -> i64| -> ArrayRef {
                Arc::new(Int64Array::from_iter(
                    chunk.iter().map(|r| (!r.3).then(|| f(r))),
                ))
            };
            let columns: Vec<ArrayRef> = vec![
                value(|r| r.0),
                value(|r| r.1),
                value(|r| r.2),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    std::iter::repeat_n(1_700_000_000_000, n),
                )),
                Arc::new(Int64Array::from_iter_values(std::iter::repeat_n(0, n))),
                Arc::new(Int64Array::from_iter_values(
                    (0..n as i64).map(|i| (b * BATCH_ROWS) as i64 + i),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|r| r.0.to_string()),
                )),
            ];
            let tombstones = (0..n).filter(|&i| chunk[i].3).collect();
            (
                RecordBatch::try_new(Arc::clone(&schema), columns).expect("batch"),
                tombstones,
            )
        })
        .collect()
}

/// The table aggregation: `SELECT g, COUNT(*), SUM(v) FROM users GROUP BY g`, each batch's
/// changed groups emitted (EMIT CHANGES).
fn run_table(input: &[(RecordBatch, Vec<usize>)]) -> usize {
    let plan = ViewBuilder::new("bench_table", table_source())
        .group_by("g", col("g"))
        .aggregate("n", AggregateFunction::Count, None)
        .aggregate("total", AggregateFunction::Sum, Some(col("v")))
        .emit(EmitMode::Changes)
        .build();
    let mut pipeline = Pipeline::new(plan, PipelineOptions::streaming()).expect("pipeline");
    let mut emitted = 0;
    for (batch, tombstones) in input {
        emitted += pipeline
            .process(batch, tombstones)
            .expect("process")
            .row_count();
    }
    emitted
}

/// Streams the batches through the pipeline, moving the watermark after each batch.
fn run_operator(window: WindowSpec, input: &[RecordBatch]) -> usize {
    let mut pipeline = Pipeline::new(plan(window), PipelineOptions::streaming()).expect("pipeline");
    let mut emitted = 0;
    for batch in input {
        emitted += pipeline.process(batch, &[]).expect("process").row_count();
        let ts = batch
            .column(2)
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .expect("ts");
        let closed = pipeline
            .advance(ts.value(ts.len() - 1) - 5_000)
            .expect("advance");
        emitted += closed.row_count();
    }
    emitted + pipeline.advance(i64::MAX).expect("finish").row_count()
}

/// The baseline: the same tumbling aggregation as a plain loop into a HashMap.
fn run_hashmap(size_ms: i64, input: &[RecordBatch]) -> usize {
    let mut groups: HashMap<(i64, i64), (i64, i64)> = HashMap::new();
    for batch in input {
        let k = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("k");
        let v = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("v");
        let ts = batch
            .column(2)
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .expect("ts");
        for i in 0..batch.num_rows() {
            let t = ts.value(i);
            let e = groups
                .entry((k.value(i), t - t.rem_euclid(size_ms)))
                .or_default();
            e.0 += 1;
            e.1 += v.value(i);
        }
    }
    groups.len()
}

fn median_rate(runs: usize, events: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut rates = Vec::new();
    let mut out = 0;
    for _ in 0..runs {
        let start = Instant::now();
        out = std::hint::black_box(f());
        rates.push(events as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], out)
}

/// A log whose topic `topic` holds `values`, each with its timestamp.
fn log_of(dir: &std::path::Path, topic: &str, values: &[(Vec<u8>, i64)]) -> Arc<Log> {
    let log = Log::open(
        dir,
        LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        },
    )
    .expect("log");
    let t = log
        .create_topic(
            topic,
            1,
            TopicConfig {
                durability: Durability::Never,
                ..TopicConfig::default()
            },
        )
        .expect("topic");
    for chunk in values.chunks(4096) {
        let mut b = BatchBuilder::with_capacity(chunk.iter().map(|v| v.0.len() + 16).sum());
        for (value, ts) in chunk {
            b.push(None, value, *ts, std::iter::empty());
        }
        t.append(0, b.finish().expect("batch")).expect("append");
    }
    log
}

/// Lines of 10 words drawn from 10 000 distinct ones (some capitalized, as text is), one
/// line per millisecond.
fn lines(n: usize) -> Vec<(Vec<u8>, i64)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    (0..n)
        .map(|i| {
            let words: Vec<String> = (0..10)
                .map(|w| {
                    let k: u32 = rng.random_range(0..10_000);
                    if w == 0 {
                        format!("Word{k}")
                    } else {
                        format!("word{k}")
                    }
                })
                .collect();
            (words.join(" ").into_bytes(), 1_700_000_000_000 + i as i64)
        })
        .collect()
}

/// `SELECT EXPLODE(SPLIT(LCASE(line), ' ')) AS word, COUNT(*) … GROUP BY word` over a KAFKA
/// stream of lines, planned from SQL as a node plans it.
fn word_count_plan() -> ViewPlan {
    let sql = "CREATE STREAM lines (line VARCHAR) WITH (kafka_topic='lines', value_format='KAFKA');
        CREATE TABLE word_counts AS SELECT EXPLODE(SPLIT(LCASE(line), ' ')) AS word, COUNT(*) AS n
        FROM lines GROUP BY word EMIT CHANGES;";
    let statements =
        strata_engine::sql::parse(sql, &strata_engine::sql::EmptyCatalog).expect("parse");
    statements
        .into_iter()
        .find_map(|s| match s {
            strata_engine::plan::Statement::CreateView { plan, .. } => Some(plan),
            _ => None,
        })
        .expect("a view")
}

/// The word count: lines read from the log, decoded, split, exploded and counted (each
/// batch's changed counts emitted); returns the number of words counted.
fn run_word_count(log: &Log, plan: &ViewPlan) -> usize {
    let p = Arc::clone(log.topic("lines").expect("topic").partition(0).expect("p0"));
    let mut pipeline = Pipeline::new(plan.clone(), PipelineOptions::streaming()).expect("pipeline");
    let (mut offset, mut words) = (0, 0);
    while offset < p.end_offset() {
        let limits = ReadLimits {
            max_records: 8192,
            max_bytes: 64 << 20,
        };
        let fetch = p.read(offset, limits).expect("read");
        let records: Vec<_> = fetch
            .records()
            .map(|r| (0u32, r.expect("record")))
            .collect();
        let step = pipeline.process_records(&records).expect("process");
        assert!(step.invalid.is_empty());
        words += records.len() * 10;
        std::hint::black_box(step.output.row_count());
        offset = fetch.next_offset();
    }
    words
}

fn json_log(dir: &std::path::Path, events: &[(i64, i64, i64)]) -> Arc<Log> {
    let log = Log::open(
        dir,
        LogOptions {
            maintenance_tick: None,
            ..LogOptions::default()
        },
    )
    .expect("log");
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
    for chunk in events.chunks(4096) {
        let mut b = BatchBuilder::with_capacity(chunk.len() * 48);
        for e in chunk {
            let value = format!(r#"{{"k":{},"v":{},"ts":{}}}"#, e.0, e.1, e.2);
            b.push(None, value.as_bytes(), e.2, std::iter::empty());
        }
        topic.append(0, b.finish().expect("batch")).expect("append");
    }
    log
}

/// The whole speed-layer path: read records from the log, decode JSON and aggregate them with
/// `step` (the pipeline's own decoder, or another decoder's batch handed to the pipeline).
fn run_from_log(
    log: &Log,
    window: WindowSpec,
    mut step: impl FnMut(&mut Pipeline, &[(u32, RecordView<'_>)]) -> Output,
) -> usize {
    let p = Arc::clone(
        log.topic("events")
            .expect("topic")
            .partition(0)
            .expect("p0"),
    );
    let mut pipeline = Pipeline::new(plan(window), PipelineOptions::streaming()).expect("pipeline");
    let mut offset = 0;
    let mut emitted = 0;
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
        emitted += step(&mut pipeline, &records).row_count();
        let last = records.last().expect("non-empty").1.timestamp;
        emitted += pipeline.advance(last - 5_000).expect("advance").row_count();
        offset = fetch.next_offset();
    }
    emitted
}

/// Only the decoding part of [`run_from_log`]: read records, decode JSON with `decode`.
fn decode_log(log: &Log, mut decode: impl FnMut(&[(u32, RecordView<'_>)]) -> RecordBatch) -> usize {
    let p = Arc::clone(
        log.topic("events")
            .expect("topic")
            .partition(0)
            .expect("p0"),
    );
    let (mut offset, mut rows) = (0, 0);
    while offset < p.end_offset() {
        let limits = ReadLimits {
            max_records: 8192,
            max_bytes: 64 << 20,
        };
        let fetch = p.read(offset, limits).expect("read");
        let records: Vec<_> = fetch
            .records()
            .map(|r| (0u32, r.expect("record")))
            .collect();
        rows += decode(&records).num_rows();
        offset = fetch.next_offset();
    }
    rows
}

/// The decoder strata used before its schema-driven one: a micro-batch's values joined by
/// newlines into one buffer for arrow-json's tape decoder, then the metadata columns.
struct ArrowJsonDecoder {
    decoder: arrow::json::reader::Decoder,
    buf: Vec<u8>,
}

impl ArrowJsonDecoder {
    fn new() -> Self {
        let values = Arc::new(Schema::new(source_schema(&source()).fields()[..3].to_vec()));
        ArrowJsonDecoder {
            decoder: arrow::json::ReaderBuilder::new(values)
                .with_batch_size(BATCH_ROWS)
                .with_coerce_primitive(true)
                .build_decoder()
                .expect("decoder"),
            buf: Vec::new(),
        }
    }

    fn decode(&mut self, records: &[(u32, RecordView<'_>)]) -> RecordBatch {
        self.buf.clear();
        for (_, r) in records {
            self.buf.extend_from_slice(r.value);
            self.buf.push(b'\n');
        }
        let mut at = 0;
        while at < self.buf.len() {
            at += self.decoder.decode(&self.buf[at..]).expect("decode");
        }
        let values = self.decoder.flush().expect("flush").expect("rows");
        let mut columns: Vec<ArrayRef> = values.columns().to_vec();
        columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
            records.iter().map(|(_, r)| r.timestamp),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            records.iter().map(|(p, _)| i64::from(*p)),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            records.iter().map(|(_, r)| r.offset as i64),
        )));
        columns.push(Arc::new(StringArray::from_iter(records.iter().map(
            |(_, r)| r.key.map(|k| String::from_utf8_lossy(k).into_owned()),
        ))));
        RecordBatch::try_new(source_schema(&source()), columns).expect("batch")
    }
}

fn main() {
    let n = env("STRATA_BENCH_EVENTS", 10_000_000);
    let runs = env("STRATA_BENCH_RUNS", 5);
    println!("speed layer, one core, {n} events, median of {runs} runs\n");
    println!(
        "{:<52} {:>14} {:>10} {:>12}",
        "case", "events/s", "vs loop", "target"
    );
    let tumbling = WindowSpec::Tumbling { size_ms: 60_000 };
    let small_keys = batches(&events(n, 10_000, 1));
    let (baseline, _) = median_rate(runs, n, || run_hashmap(60_000, &small_keys));
    let only = std::env::var("STRATA_BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| name.contains(only.as_str());
    let row = |name: &str, rate: f64, target: f64| {
        let verdict = if rate >= target { "PASS" } else { "MISS" };
        println!(
            "{name:<52} {:>12.2} M {:>9.2}x {:>7.1} M {verdict}",
            rate / 1e6,
            rate / baseline,
            target / 1e6
        );
    };
    println!(
        "{:<52} {:>12.2} M {:>9.2}x",
        "baseline: HashMap loop, tumbling 1 min, 10k keys",
        baseline / 1e6,
        1.0
    );
    let name = "tumbling 1 min COUNT+SUM by key (10k keys), Arrow";
    let mut tumbling_rate = None;
    if wanted(name) {
        let (rate, _) = median_rate(runs, n, || run_operator(tumbling, &small_keys));
        row(name, rate, 20e6);
        tumbling_rate = Some(rate);
    }
    let name = "TABLE upserts (10k keys) COUNT+SUM by g (100), Arrow";
    if wanted(name) {
        let input = table_batches(n, 10_000);
        let (rate, _) = median_rate(runs, n, || run_table(&input));
        println!(
            "{name:<52} {:>12.2} M {:>9.2}x   {}",
            rate / 1e6,
            rate / baseline,
            tumbling_rate.map_or(String::new(), |t| format!(
                "{:.2}x the tumbling case",
                rate / t
            ))
        );
    }
    let name = "HOP 10 s / 2 s COUNT+SUM by key (10k keys), Arrow";
    if wanted(name) {
        let hop = WindowSpec::Hopping {
            size_ms: 10_000,
            advance_ms: 2_000,
        };
        let (rate, _) = median_rate(runs, n, || run_operator(hop, &small_keys));
        row(name, rate, 5e6);
    }
    let name = "SESSION 10 s COUNT+SUM by key (100k keys), Arrow";
    if wanted(name) {
        let many_keys = batches(&events(n, 100_000, 2));
        let session = WindowSpec::Session { gap_ms: 10_000 };
        let (rate, _) = median_rate(runs, n, || run_operator(session, &many_keys));
        row(name, rate, 3e6);
    }
    let json_case = "tumbling 1 min, JSON records read from the log";
    if wanted(json_case) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_n = n.min(env("STRATA_BENCH_LOG_EVENTS", 5_000_000));
        let log = json_log(dir.path(), &events(log_n, 10_000, 3));
        let mut decoder = strata_engine::decode::SourceDecoder::new(&source()).expect("decoder");
        let mut before = ArrowJsonDecoder::new();
        // Runs alternate between the two decoders, so that both see the same load.
        let [new, old] = interleaved(
            runs,
            log_n,
            [
                &mut || {
                    run_from_log(&log, tumbling, |pipeline, records| {
                        let step = pipeline.process_records(records).expect("process");
                        assert!(step.invalid.is_empty());
                        step.output
                    })
                },
                &mut || {
                    run_from_log(&log, tumbling, |pipeline, records| {
                        let batch = before.decode(records);
                        pipeline.process(&batch, &[]).expect("process")
                    })
                },
            ],
        );
        assert_eq!(new.out, old.out, "both decoders give the same result");
        row(json_case, new.wall, 5e6);
        println!(
            "{:<52} {:>12.2} M {:>9.2}x",
            "  same, arrow-json decoder (before)",
            old.wall / 1e6,
            old.wall / baseline
        );
        println!(
            "  schema-driven vs arrow-json decoder, same run: {:.2}x (wall), {:.2}x (on-CPU)",
            new.wall / old.wall,
            new.cpu / old.cpu
        );
        println!(
            "  per core, on-CPU time: {:.2} M/s schema-driven, {:.2} M/s arrow-json",
            new.cpu / 1e6,
            old.cpu / 1e6
        );
        let [new, old] = interleaved(
            runs,
            log_n,
            [
                &mut || {
                    decode_log(&log, |records| {
                        decoder.decode(records).expect("decode").batch
                    })
                },
                &mut || decode_log(&log, |records| before.decode(records)),
            ],
        );
        assert_eq!(new.out, old.out);
        println!(
            "  read + decode only: {:.2} M/s schema-driven, {:.2} M/s arrow-json: {:.2}x (wall)",
            new.wall / 1e6,
            old.wall / 1e6,
            new.wall / old.wall
        );
    }
    let name = "word count: KAFKA lines from the log, EXPLODE(SPLIT)";
    if wanted(name) {
        word_count_case(name, n, runs, tumbling);
    }
}

/// The word-count case and, interleaved with it, the tumbling JSON-from-log case it is
/// compared with: rates in words/s and events/s, and their ratio.
fn word_count_case(name: &str, n: usize, runs: usize, tumbling: WindowSpec) {
    let line_n = (n / 10)
        .min(env("STRATA_BENCH_LOG_EVENTS", 5_000_000) / 10)
        .max(1);
    let lines_dir = tempfile::tempdir().expect("tempdir");
    let lines_log = log_of(lines_dir.path(), "lines", &lines(line_n));
    let json_dir = tempfile::tempdir().expect("tempdir");
    let json_n = line_n * 10;
    let json = json_log(json_dir.path(), &events(json_n, 10_000, 3));
    let plan = word_count_plan();
    // Rates per one event: multiplied by the words or records each case handles.
    let [words, records] = interleaved(
        runs,
        1,
        [&mut || run_word_count(&lines_log, &plan), &mut || {
            run_from_log(&json, tumbling, |pipeline, records| {
                pipeline.process_records(records).expect("process").output
            })
        }],
    );
    assert_eq!(words.out, line_n * 10, "every word is counted");
    let (words_wall, words_cpu) = (words.wall * json_n as f64, words.cpu * json_n as f64);
    let json_wall = records.wall * json_n as f64;
    let verdict = if words_cpu >= 5e6 { "PASS" } else { "MISS" };
    println!(
        "{name:<52} {:>12.2} M {:>10} {:>7.1} M {verdict} (words/s)",
        words_wall / 1e6,
        "",
        5.0
    );
    println!(
        "  {} lines of 10 words (10k distinct); on-CPU {:.2} M words/s; same run, tumbling JSON from the log: {:.2} M events/s — ratio {:.2}x",
        line_n,
        words_cpu / 1e6,
        json_wall / 1e6,
        words_wall / json_wall
    );
}

/// Median rates of one case over `runs` runs.
struct Rates {
    /// Events per second of wall time.
    wall: f64,
    /// Events per second of this thread's on-CPU time (`/proc/thread-self/schedstat`):
    /// what one core does, whatever else the machine runs. Equal to `wall` where the
    /// kernel does not report it.
    cpu: f64,
    /// The case's result, to check that the cases agree.
    out: usize,
}

/// Runs the cases in turn, `runs` times, and gives each one's median rates.
fn interleaved<const N: usize>(
    runs: usize,
    events: usize,
    mut cases: [&mut dyn FnMut() -> usize; N],
) -> [Rates; N] {
    let mut wall = vec![Vec::new(); N];
    let mut cpu = vec![Vec::new(); N];
    let mut out = [0; N];
    for _ in 0..runs {
        for (c, case) in cases.iter_mut().enumerate() {
            let (start, start_cpu) = (Instant::now(), on_cpu_ns());
            out[c] = std::hint::black_box(case());
            let secs = start.elapsed().as_secs_f64();
            wall[c].push(events as f64 / secs);
            let cpu_secs = match (start_cpu, on_cpu_ns()) {
                (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
                _ => secs,
            };
            cpu[c].push(events as f64 / cpu_secs);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    std::array::from_fn(|c| Rates {
        wall: median(&mut wall[c]),
        cpu: median(&mut cpu[c]),
        out: out[c],
    })
}

/// Nanoseconds this thread has run on a CPU, if the kernel says.
fn on_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}
