//! Every Nexmark query, run by strata in-process (Arrow) and through a log (JSON), gives
//! exactly what DuckDB computes with the reference semantics over the same events written
//! as Parquet.

use std::process::Command;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use strata_nexmark::NexmarkConfig;
use strata_nexmark::runner::{fill_log, generate_batches, run_from_log, run_in_process};

const EVENTS: u64 = 6000;

fn config() -> NexmarkConfig {
    // 200 events/s: 6000 events span 30 s of event time, several windows of each kind.
    NexmarkConfig {
        seed: 42,
        rate: 200.0,
        ..NexmarkConfig::default()
    }
}

/// The reference query of each Nexmark query, in DuckDB SQL over `person`, `auction`, `bid`
/// (times are BIGINT epoch ms).
fn reference(query: &str) -> &'static str {
    match query {
        "q0" => "SELECT auction, bidder, price, datetime, extra FROM bid",
        "q1" => "SELECT auction, bidder, 0.908 * price, datetime, extra FROM bid",
        "q2" => "SELECT auction, price FROM bid WHERE auction % 123 = 0",
        "q3" => {
            "SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id \
             WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')"
        }
        "q4" => {
            "SELECT Q.category, AVG(Q.final) FROM \
               (SELECT MAX(B.price) AS final, A.category FROM auction A JOIN bid B ON A.id = B.auction \
                WHERE B.datetime BETWEEN A.datetime AND A.expires GROUP BY A.id, A.category) Q \
             GROUP BY Q.category"
        }
        "q5" => {
            "WITH w AS (SELECT auction, (datetime // 2000) * 2000 - k * 2000 AS ws \
                        FROM bid, range(5) t(k)), \
                  c AS (SELECT auction, ws, count(*) AS num FROM w GROUP BY auction, ws), \
                  m AS (SELECT ws, max(num) AS mx FROM c GROUP BY ws) \
             SELECT c.auction, c.num, c.ws, c.ws + 10000 FROM c JOIN m ON c.ws = m.ws AND c.num = m.mx"
        }
        "q7" => {
            "WITH w AS (SELECT *, (datetime // 10000) * 10000 AS ws FROM bid), \
                  m AS (SELECT ws, max(price) AS mx FROM w GROUP BY ws) \
             SELECT auction, price, bidder, datetime, extra FROM w JOIN m USING (ws) WHERE price = mx"
        }
        "q8" => {
            "SELECT P.id, P.name, P.ws FROM \
               (SELECT DISTINCT id, name, (datetime // 10000) * 10000 AS ws FROM person) P \
             JOIN (SELECT DISTINCT seller, (datetime // 10000) * 10000 AS ws FROM auction) A \
               ON P.id = A.seller AND P.ws = A.ws"
        }
        "q11" => {
            // Sessions: a bid more than 10 s after the bidder's previous one starts a new one.
            "WITH o AS (SELECT bidder, datetime AS ts, \
                          lag(datetime) OVER (PARTITION BY bidder ORDER BY datetime) AS prev FROM bid), \
                  g AS (SELECT bidder, ts, sum(CASE WHEN prev IS NULL OR ts - prev > 10000 THEN 1 ELSE 0 END) \
                          OVER (PARTITION BY bidder ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM o) \
             SELECT bidder, count(*), min(ts), max(ts) + 10000 FROM g GROUP BY bidder, sid"
        }
        "q13" => {
            "SELECT B.auction, B.bidder, B.price, B.datetime, S.value FROM bid B \
             JOIN (SELECT range AS key, CAST(range AS VARCHAR) AS value FROM range(10000)) S \
               ON B.auction % 10000 = S.key"
        }
        "q14" => {
            "SELECT auction, bidder, 0.908 * price, \
               CASE WHEN h >= 8 AND h <= 18 THEN 'dayTime' \
                    WHEN h <= 6 OR h >= 20 THEN 'nightTime' ELSE 'otherTime' END, \
               datetime, extra, length(extra) - length(replace(extra, 'c', '')) \
             FROM (SELECT *, (datetime // 3600000) % 24 AS h FROM bid) \
             WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000"
        }
        "q15" => {
            "SELECT strftime(epoch_ms(datetime), '%Y-%m-%d') AS day, count(*), \
               count(*) FILTER (WHERE price < 10000), \
               count(*) FILTER (WHERE price >= 10000 AND price < 1000000), \
               count(*) FILTER (WHERE price >= 1000000), \
               count(DISTINCT bidder), \
               count(DISTINCT bidder) FILTER (WHERE price < 10000), \
               count(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000), \
               count(DISTINCT bidder) FILTER (WHERE price >= 1000000), \
               count(DISTINCT auction), \
               count(DISTINCT auction) FILTER (WHERE price < 10000), \
               count(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000), \
               count(DISTINCT auction) FILTER (WHERE price >= 1000000) \
             FROM bid GROUP BY day"
        }
        "q16" => {
            "SELECT channel, strftime(epoch_ms(datetime), '%Y-%m-%d') AS day, \
               max(strftime(epoch_ms(datetime), '%H:%M')), count(*), \
               count(*) FILTER (WHERE price < 10000), \
               count(*) FILTER (WHERE price >= 10000 AND price < 1000000), \
               count(*) FILTER (WHERE price >= 1000000), \
               count(DISTINCT bidder), \
               count(DISTINCT bidder) FILTER (WHERE price < 10000), \
               count(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000), \
               count(DISTINCT bidder) FILTER (WHERE price >= 1000000), \
               count(DISTINCT auction), \
               count(DISTINCT auction) FILTER (WHERE price < 10000), \
               count(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000), \
               count(DISTINCT auction) FILTER (WHERE price >= 1000000) \
             FROM bid GROUP BY channel, day"
        }
        "q17" => {
            "SELECT auction, strftime(epoch_ms(datetime), '%Y-%m-%d') AS day, count(*), \
               count(*) FILTER (WHERE price < 10000), \
               count(*) FILTER (WHERE price >= 10000 AND price < 1000000), \
               count(*) FILTER (WHERE price >= 1000000), \
               min(price), max(price), avg(price), sum(price) \
             FROM bid GROUP BY auction, day"
        }
        "q20" => {
            "SELECT B.auction, B.bidder, B.price, B.channel, B.url, B.datetime, B.extra, \
               A.itemname, A.description, A.initialbid, A.reserve, A.datetime, A.expires, \
               A.seller, A.category, A.extra \
             FROM bid B JOIN auction A ON B.auction = A.id WHERE A.category = 10"
        }
        "q21" => {
            // DuckDB's regexp_extract gives '' where nothing matches; Flink and strata NULL.
            "SELECT auction, bidder, price, channel, \
               CASE lower(channel) WHEN 'apple' THEN '0' WHEN 'google' THEN '1' \
                 WHEN 'facebook' THEN '2' WHEN 'baidu' THEN '3' ELSE id END \
             FROM (SELECT *, nullif(regexp_extract(url, '(&|^)channel_id=([^&]*)', 2), '') AS id \
                   FROM bid) \
             WHERE id IS NOT NULL OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')"
        }
        "q22" => {
            // string_split counts from 1 and gives NULL past the end.
            "SELECT auction, bidder, price, channel, string_split(url, '/')[4], \
               string_split(url, '/')[5], string_split(url, '/')[6] FROM bid"
        }
        other => panic!("no reference for {other}"),
    }
}

/// Rows as sorted `a|b|c` lines: integers and times (ms) as integers, floats to 4 places.
fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let columns: Vec<_> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(..) => cast(c, &DataType::Int64).expect("cast"),
                _ => c.clone(),
            })
            .collect();
        for i in 0..b.num_rows() {
            let fields: Vec<String> = columns
                .iter()
                .map(|c| {
                    if c.is_null(i) {
                        return "null".into();
                    }
                    match c.data_type() {
                        DataType::Int64 => c.as_primitive::<Int64Type>().value(i).to_string(),
                        DataType::Float64 => {
                            format!("{:.4}", c.as_primitive::<Float64Type>().value(i))
                        }
                        DataType::Utf8 => c.as_string::<i32>().value(i).to_owned(),
                        other => panic!("unexpected output type {other}"),
                    }
                })
                .collect();
            out.push(fields.join("|"));
        }
    }
    out.sort();
    out
}

fn duckdb(dir: &std::path::Path, sql: &str) -> Vec<String> {
    let script = format!(
        "import duckdb\n\
         con = duckdb.connect()\n\
         for t in ['person', 'auction', 'bid']:\n\
         \x20   con.execute(f\"CREATE VIEW {{t}} AS SELECT * FROM read_parquet('{dir}/{{t}}.parquet')\")\n\
         def conv(v):\n\
         \x20   if v is None: return 'null'\n\
         \x20   if isinstance(v, float): return '%.4f' % v\n\
         \x20   if hasattr(v, 'as_integer_ratio') and not isinstance(v, int): return '%.4f' % float(v)\n\
         \x20   return str(v)\n\
         for row in con.execute({sql:?}).fetchall():\n\
         \x20   print('|'.join(conv(v) for v in row))\n",
        dir = dir.display()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows: Vec<String> = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(str::to_owned)
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_query_matches_duckdb_in_process_and_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chunks = generate_batches(&config(), EVENTS, 1000).expect("events");
    strata_nexmark::parquet_out::write(dir.path(), &chunks).expect("parquet");
    let log_dir = tempfile::tempdir().expect("tempdir");
    let log = fill_log(log_dir.path(), &config(), EVENTS).expect("log");
    for name in strata_nexmark::queries::names() {
        let expected = duckdb(dir.path(), reference(name));
        assert!(
            !expected.is_empty(),
            "{name}: the input should give results"
        );
        let (stats, run) = run_in_process(name, &chunks, true).expect(name);
        let got = lines(&run.results().expect("results"));
        assert_eq!(got.len(), expected.len(), "{name}: row count (in-process)");
        assert_eq!(got, expected, "{name}: rows (in-process)");
        assert_eq!(stats.events, EVENTS);
        let (_, run) = run_from_log(name, &log, EVENTS, true).expect(name);
        let got = lines(&run.results().expect("results"));
        assert_eq!(got, expected, "{name}: rows (from the log)");
        println!("{name}: {} rows match", expected.len());
    }
}
