//! Named outputs through the engine over a real log: `CREATE TABLE … WITH (kafka_topic) AS`
//! writes the view's rows to the named topic (plain string keys), exactly once across
//! restarts; `INSERT INTO` from two queries into one stream; Flink sink tables; and the
//! statements that must be refused, with line and column.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{open, open_on};
use strata_engine::Error;
use strata_log::{EncodedBatch, Log, ReadLimits, Record};
use strata_views::engine::{Engine, Outcome};

fn produce(log: &Log, topic: &str, values: &[String]) {
    let records: Vec<Record> = values
        .iter()
        .map(|v| Record::new(v.clone().into_bytes(), 1_700_000_000_000))
        .collect();
    let t = log.topic(topic).expect("topic");
    t.append(0, EncodedBatch::from_records(&records).expect("batch"))
        .expect("append");
}

/// Every record of a topic: (key, value, the `strata.query` header).
fn records(log: &Log, topic: &str) -> Vec<(Option<Vec<u8>>, Vec<u8>, String)> {
    let t = log.topic(topic).expect("topic");
    let mut out = Vec::new();
    for p in t.partitions() {
        let fetch = p
            .read(
                p.start_offset(),
                ReadLimits {
                    max_records: 1_000_000,
                    max_bytes: 1 << 30,
                },
            )
            .expect("read");
        for r in fetch.records() {
            let r = r.expect("record");
            let query = r
                .headers()
                .filter_map(Result::ok)
                .find(|(k, _)| *k == "strata.query")
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            out.push((r.key.map(<[u8]>::to_vec), r.value.to_vec(), query));
        }
    }
    out
}

/// Waits until `topic` holds `n` records.
fn wait_for(
    log: &Log,
    engine: &Engine,
    topic: &str,
    n: usize,
) -> Vec<(Option<Vec<u8>>, Vec<u8>, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = records(log, topic);
        if got.len() >= n {
            assert_eq!(got.len(), n, "more records than expected in {topic}");
            return got;
        }
        for v in engine.views() {
            assert!(
                engine.failure(&v).is_none(),
                "{v}: {:?}",
                engine.failure(&v)
            );
        }
        assert!(
            Instant::now() < deadline,
            "{topic} holds {} records, not {n}",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn words(range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!(r#"{{"word":"w{}","n":{i}}}"#, i % 7))
        .collect()
}

fn sql_error(engine: &Engine, sql: &str) -> (u64, u64, String) {
    match engine.execute(sql) {
        Err(Error::Sql {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("expected a SQL error for {sql}: {other:?}"),
    }
}

const LINES: &str =
    "CREATE STREAM lines (word VARCHAR, n BIGINT) WITH (kafka_topic='lines', value_format='JSON');";

#[test]
fn a_table_with_kafka_topic_writes_its_changelog_there_once_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    engine
        .execute(&format!(
            "{LINES} CREATE TABLE counts WITH (kafka_topic='word_counts', partitions=2) AS
               SELECT word, COUNT(*) AS c FROM lines GROUP BY word;"
        ))
        .expect("create");
    assert_eq!(
        log.topic("word_counts").expect("topic").partition_count(),
        2
    );
    produce(&log, "lines", &words(0..70));
    // Each of the 7 words once per micro-batch: the last update of each says 10.
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.stats("counts").expect("stats").records_in < 70 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // A restart (the engine alone, over the same log) resumes the copy where it stood.
    engine.shutdown();
    drop(engine);
    let (log, engine) = open_on(dir.path(), Some(log));
    produce(&log, "lines", &words(70..140));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let changelog = records(&log, "counts-changelog");
        let out = records(&log, "word_counts");
        if out.len() == changelog.len() && engine.stats("counts").expect("stats").records_in == 140
        {
            // The named topic is the changelog, re-keyed: the same rows, each once.
            let mut latest: BTreeMap<String, u64> = BTreeMap::new();
            let mut seen = std::collections::HashSet::new();
            for (key, value, query) in &out {
                assert!(seen.insert(query.clone()), "copied twice: {query}");
                assert!(query.starts_with("counts:"), "{query}");
                let word = String::from_utf8(key.clone().expect("key")).expect("utf8");
                let v: serde_json::Value = serde_json::from_slice(value).expect("json");
                assert_eq!(v["word"], word.as_str(), "a plain string key: {word}");
                let c = v["c"].as_u64().expect("c");
                let last = latest.insert(word.clone(), c);
                assert!(last.is_none_or(|l| l < c), "{word}: {last:?} then {c}");
            }
            let want: BTreeMap<String, u64> = (0..7).map(|i| (format!("w{i}"), 20)).collect();
            if latest == want {
                break;
            }
        }
        assert!(Instant::now() < deadline, "{out:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Another view reads the named topic (ksqlDB: the table *is* its topic).
    engine
        .execute("CREATE TABLE total AS SELECT COUNT(*) AS words, SUM(c) AS n FROM counts;")
        .expect("reader");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows =
            strata_engine::json_lines(&engine.snapshot("total").expect("snapshot")).expect("json");
        if rows
            .first()
            .is_some_and(|r| r.as_slice() == br#"{"words":7,"n":140}"#)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}",
            rows.iter()
                .map(|r| String::from_utf8_lossy(r))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn insert_into_from_two_queries_writes_the_union_each_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    let outcomes = engine
        .execute(&format!(
            "{LINES}
             CREATE STREAM evens WITH (kafka_topic='picked') AS SELECT word, n FROM lines WHERE n % 2 = 0;
             INSERT INTO evens SELECT UPPER(word) AS word, n * 1000 FROM lines WHERE n % 3 = 0;
             CREATE STREAM more (word VARCHAR, n BIGINT) WITH (kafka_topic='more');
             INSERT INTO evens SELECT * FROM more;"
        ))
        .expect("create");
    let ids: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::InsertStarted { id, topic, target } => {
                assert_eq!((topic.as_str(), target.as_str()), ("picked", "evens"));
                Some(id.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["insertquery_1", "insertquery_2"]);
    produce(&log, "lines", &words(0..60));
    produce(&log, "more", &[r#"{"word":"x","n":-1}"#.to_owned()]);
    let want = 30 + 20 + 1;
    let got = wait_for(&log, &engine, "picked", want);
    let mut by_query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value, query) in &got {
        assert_eq!(key, &None, "a stream's rows have no key");
        let (writer, _) = query.rsplit_once(':').expect("writer:offset");
        by_query
            .entry(writer.to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value).into_owned());
    }
    assert_eq!(by_query["evens"].len(), 30);
    assert_eq!(by_query["insertquery_1"].len(), 20);
    assert!(by_query["insertquery_1"].contains(&r#"{"word":"W3","n":3000}"#.to_owned()));
    assert_eq!(by_query["insertquery_2"], [r#"{"word":"x","n":-1}"#]);
    // The inserts are queries: listed, not views; the target cannot go while they write.
    assert_eq!(engine.insert_queries().len(), 2);
    assert!(!engine.views().iter().any(|v| v.starts_with("insertquery")));
    let Err(Error::Conflict(m)) = engine.execute("DROP STREAM evens") else {
        panic!("dropped a stream that queries write into")
    };
    assert!(m.contains("insertquery_1, insertquery_2"), "{m}");
    // A reader of the stream sees the union.
    engine
        .execute("CREATE TABLE n_all AS SELECT COUNT(*) AS n FROM evens;")
        .expect("reader");
    // Terminated, a query stops writing and its private topics go; the stream stays.
    engine.terminate_query("insertquery_1").expect("terminate");
    assert!(log.topic("insertquery_1-changelog").is_err());
    produce(&log, "lines", &words(60..66));
    let got = wait_for(&log, &engine, "picked", want + 3);
    assert!(
        !got[want..]
            .iter()
            .any(|(_, _, q)| q.starts_with("insertquery_1:"))
    );
    assert!(engine.terminate_query("insertquery_1").is_err());
    // Resumed after a restart, the remaining query keeps its id and writes once.
    engine.shutdown();
    drop(engine);
    let (log, engine) = open_on(dir.path(), Some(log));
    assert_eq!(engine.insert_queries()[0].id, "insertquery_2");
    produce(&log, "more", &[r#"{"word":"y","n":-2}"#.to_owned()]);
    wait_for(&log, &engine, "picked", want + 4);
}

#[test]
fn a_flink_sink_table_takes_an_upserting_insert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    engine
        .execute(&format!(
            "{LINES}
             CREATE TABLE sink (word STRING, total BIGINT, PRIMARY KEY (word) NOT ENFORCED)
               WITH ('connector'='strata', 'topic'='sums', 'format'='json', 'key.format'='json');
             INSERT INTO sink SELECT word, SUM(n) FROM lines GROUP BY word;"
        ))
        .expect("create");
    produce(&log, "lines", &words(0..7));
    let got = wait_for(&log, &engine, "sums", 7);
    for (key, value, _) in got {
        let v: serde_json::Value = serde_json::from_slice(&value).expect("json");
        // Named as the sink's columns; keyed by its PRIMARY KEY, as a JSON object.
        let key: serde_json::Value = serde_json::from_slice(&key.expect("key")).expect("json");
        assert_eq!(key, serde_json::json!({ "word": v["word"] }));
        assert!(v["total"].is_i64(), "{v}");
    }
}

#[test]
fn named_outputs_that_cannot_work_are_refused_where_they_are_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    engine
        .execute(&format!(
            "{LINES}
             CREATE STREAM other (a BOOLEAN) WITH (kafka_topic='other');
             CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR) WITH (kafka_topic='users');
             CREATE TABLE sink (word STRING, c BIGINT, PRIMARY KEY (word) NOT ENFORCED)
               WITH ('connector'='kafka', 'topic'='sink');"
        ))
        .expect("sources");
    // INSERT with another schema names the column and both types.
    let (line, column, m) = sql_error(
        &engine,
        "INSERT INTO lines\n  SELECT word, CAST(n AS DOUBLE) AS n FROM lines",
    );
    assert_eq!((line, column), (1, 13));
    assert!(
        m.contains("column 2 of the query, n DOUBLE, does not match column n BIGINT of lines"),
        "{m}"
    );
    let (_, _, m) = sql_error(&engine, "INSERT INTO other SELECT word, n FROM lines");
    assert!(
        m.contains("2 columns (word VARCHAR, n BIGINT) and other has 1 (a BOOLEAN)"),
        "{m}"
    );
    // Into its own input: a loop.
    let (_, _, m) = sql_error(&engine, "INSERT INTO lines SELECT word, n FROM lines");
    assert!(m.contains("reads topic lines, which it would write"), "{m}");
    let (line, column, m) = sql_error(
        &engine,
        "CREATE STREAM s WITH (kafka_topic='lines') AS SELECT word FROM lines",
    );
    assert_eq!((line, column), (1, 17));
    assert!(m.contains("reads topic lines"), "{m}");
    // A topic declared, or filled, with another schema.
    let (_, _, m) = sql_error(
        &engine,
        "CREATE STREAM s WITH (kafka_topic='other') AS SELECT word FROM lines",
    );
    assert!(
        m.contains("topic other belongs to stream other, whose columns are (a BOOLEAN)"),
        "{m}"
    );
    log.create_topic("raw", 1, strata_log::TopicConfig::default())
        .expect("topic");
    produce(&log, "raw", &["hello".to_owned()]);
    let (_, _, m) = sql_error(
        &engine,
        "CREATE STREAM s WITH (kafka_topic='raw') AS SELECT word FROM lines",
    );
    assert!(
        m.contains("not JSON objects (partition 0, offset 0)"),
        "{m}"
    );
    produce(&log, "raw", &[r#"{"x":1}"#.to_owned()]);
    let (_, _, m) = sql_error(
        &engine,
        "CREATE STREAM s WITH (kafka_topic='raw') AS SELECT word FROM lines",
    );
    assert!(
        m.contains("another schema (partition 0, offset 1 has field x"),
        "{m}"
    );
    let (_, _, m) = sql_error(
        &engine,
        "CREATE STREAM s WITH (kafka_topic='raw', partitions=3) AS SELECT word FROM lines",
    );
    assert!(m.contains("exists with 1 partitions, not 3"), "{m}");
    // An aggregation into a stream; a sink keyed by something the query does not group by.
    engine
        .execute("CREATE STREAM words2 (word VARCHAR, n BIGINT) WITH (kafka_topic='words2');")
        .expect("source");
    let (_, _, m) = sql_error(
        &engine,
        "INSERT INTO lines SELECT word, COUNT(*) FROM words2 GROUP BY word",
    );
    assert!(m.contains("rows update, and lines is a stream"), "{m}");
    let (_, _, m) = sql_error(
        &engine,
        "INSERT INTO sink SELECT UPPER(word) AS w, COUNT(*) FROM lines GROUP BY UPPER(word)",
    );
    assert!(
        m.contains("PRIMARY KEY (word) must be the query's GROUP BY key"),
        "{m}"
    );
    let (_, _, m) = sql_error(&engine, "INSERT INTO users SELECT word, word FROM lines");
    assert!(m.contains("users is a table"), "{m}");
    let (_, _, m) = sql_error(
        &engine,
        "CREATE TABLE t WITH (kafka_topic='t_out', key_format='KAFKA') AS SELECT word, n, COUNT(*) FROM lines GROUP BY word, n",
    );
    assert!(m.contains("key_format KAFKA writes one key column"), "{m}");
    // A second view into another view's named output is pointed at INSERT INTO.
    engine
        .execute("CREATE STREAM picked WITH (kafka_topic='picked') AS SELECT word, n FROM lines;")
        .expect("view");
    let (_, _, m) = sql_error(
        &engine,
        "CREATE STREAM again WITH (kafka_topic='picked') AS SELECT word, n FROM lines",
    );
    assert!(m.contains("INSERT INTO picked SELECT"), "{m}");
    // Nothing refused was left behind.
    assert_eq!(engine.views(), ["picked"]);
    assert!(engine.insert_queries().is_empty());
    assert!(log.topic("t_out").is_err());
}
