//! Views that read a TABLE (ksqlDB semantics): the latest row per key, tombstones deleting,
//! and aggregates over a table that retract what an update replaces. Operator-level tests
//! feed decoded log records micro-batch by micro-batch; a property test checks any sequence
//! of upserts and tombstones against a `HashMap` model.

mod common;

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use proptest::prelude::*;
use serde_json::{Value, json};
use strata_engine::decode::{SourceDecoder, source_schema};
use strata_engine::json_lines;
use strata_engine::operator::{Lateness, Processed, ViewOperator};
use strata_engine::plan::{SourceDef, Statement, ViewPlan};
use strata_engine::sql;
use strata_log::{BatchView, EncodedBatch, Record, RecordView};

const USERS: &str =
    "CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, region VARCHAR, x BIGINT)
  WITH (kafka_topic='users', value_format='JSON');";

fn catalog() -> HashMap<String, SourceDef> {
    let mut m = HashMap::new();
    for s in sql::parse(USERS, &sql::EmptyCatalog).expect("users") {
        if let Statement::CreateSource { source, .. } = s {
            m.insert(source.name.clone(), source);
        }
    }
    m
}

fn plan(text: &str) -> ViewPlan {
    match sql::parse(text, &catalog()).expect("sql").remove(0) {
        Statement::CreateView { plan, .. } => plan,
        other => panic!("not a view: {other:?}"),
    }
}

/// A view operator with its decoder, fed like the streaming driver feeds it.
struct Table {
    op: ViewOperator,
    decoder: SourceDecoder,
    offset: u64,
}

impl Table {
    fn new(text: &str) -> Table {
        let plan = plan(text);
        let decoder = SourceDecoder::new(&plan.source)
            .expect("decoder")
            .keeping_tombstones();
        let op = ViewOperator::new(plan.clone(), source_schema(&plan.source), Lateness::Enforce)
            .expect("operator");
        Table {
            op,
            decoder,
            offset: 0,
        }
    }

    /// One micro-batch of (record key, value) records; `None` is a tombstone.
    fn batch(&mut self, records: &[(&str, Option<Value>)]) -> Processed {
        let records: Vec<Record> = records
            .iter()
            .map(|(k, v)| {
                let value = v.as_ref().map(|v| v.to_string()).unwrap_or_default();
                Record::new(value.into_bytes(), 1_000).with_key(k.as_bytes().to_vec())
            })
            .collect();
        let encoded = EncodedBatch::from_records(&records).expect("encode");
        let view = BatchView::frame(encoded.as_bytes()).expect("frame");
        let base = self.offset;
        let views: Vec<(u32, RecordView<'_>)> = view
            .records()
            .map(|r| {
                let mut r = r.expect("record");
                r.offset += base;
                (0, r)
            })
            .collect();
        self.offset += records.len() as u64;
        let decoded = self.decoder.decode(&views).expect("decode");
        assert!(decoded.invalid.is_empty(), "{:?}", decoded.invalid);
        self.op
            .process_with_tombstones(&decoded.batch, &decoded.tombstones)
            .expect("process")
    }

    fn rows(&self) -> Vec<Value> {
        to_json(&self.op.snapshot().expect("snapshot"))
    }
}

fn to_json(batch: &RecordBatch) -> Vec<Value> {
    json_lines(batch)
        .expect("json")
        .iter()
        .map(|l| serde_json::from_slice(l).expect("json"))
        .collect()
}

fn user(id: &str, name: Option<&str>, region: &str, x: i64) -> Option<Value> {
    Some(json!({"id": id, "name": name, "region": region, "x": x}))
}

#[test]
fn latest_row_per_key_with_updates_to_null_tombstones_and_filters() {
    let mut t = Table::new(
        "CREATE TABLE v AS SELECT id, name, x * 2 AS x2 FROM users WHERE region <> 'eu'",
    );
    t.batch(&[
        ("a", user("a", Some("Ann"), "us", 1)),
        ("b", user("b", Some("Bob"), "us", 2)),
        ("c", user("c", Some("Cid"), "eu", 3)),
    ]);
    assert_eq!(
        t.rows(),
        vec![
            json!({"id": "a", "name": "Ann", "x2": 2}),
            json!({"id": "b", "name": "Bob", "x2": 4}),
        ]
    );
    // a: name set to NULL (the whole row is replaced); b: moves to eu and leaves the view;
    // c: moves out of eu and enters it; the PK of d comes from the record key.
    let p = t.batch(&[
        ("a", user("a", None, "us", 5)),
        ("b", user("b", Some("Bob"), "eu", 2)),
        ("c", user("c", Some("Cid"), "us", 3)),
        ("d", Some(json!({"name": "Dee", "region": "us", "x": 7}))),
    ]);
    assert_eq!(
        t.rows(),
        vec![
            json!({"id": "a", "x2": 10}),
            json!({"id": "c", "name": "Cid", "x2": 6}),
            json!({"id": "d", "name": "Dee", "x2": 14}),
        ]
    );
    let removed = to_json(&p.removed.expect("b left the view"));
    assert_eq!(removed, vec![json!({"_key": "b"})]);
    // A tombstone deletes; a delete and a re-insert in one micro-batch keeps the new row.
    let p = t.batch(&[
        ("c", None),
        ("d", None),
        ("d", user("d", Some("Dora"), "us", 8)),
        ("zz", None),
    ]);
    assert_eq!(
        t.rows(),
        vec![
            json!({"id": "a", "x2": 10}),
            json!({"id": "d", "name": "Dora", "x2": 16}),
        ]
    );
    assert_eq!(
        to_json(&p.removed.expect("c deleted")),
        vec![json!({"_key": "c"})]
    );
    assert_eq!(t.op.group_count(), 2, "deleted keys free their groups");
}

#[test]
fn aggregates_over_a_table_retract_the_replaced_row() {
    let mut t = Table::new(
        "CREATE TABLE by_region AS SELECT region, COUNT(*) AS n, SUM(x) AS s, AVG(x) AS a, COUNT(name) AS named
         FROM users GROUP BY region",
    );
    t.batch(&[
        ("a", user("a", Some("Ann"), "us", 1)),
        ("b", user("b", None, "us", 2)),
        ("c", user("c", Some("Cid"), "eu", 4)),
    ]);
    assert_eq!(
        t.rows(),
        vec![
            json!({"region": "eu", "n": 1, "s": 4, "a": 4.0, "named": 1}),
            json!({"region": "us", "n": 2, "s": 3, "a": 1.5, "named": 1}),
        ]
    );
    // c moves from eu to us: eu has no row left and disappears; a is updated in place.
    let p = t.batch(&[
        ("c", user("c", Some("Cid"), "us", 4)),
        ("a", user("a", Some("Ann"), "us", 10)),
    ]);
    assert_eq!(
        t.rows(),
        vec![json!({"region": "us", "n": 3, "s": 16, "a": 16.0 / 3.0, "named": 2})]
    );
    assert_eq!(
        to_json(&p.removed.expect("eu is gone")),
        vec![json!({"region": "eu"})]
    );
    // Deleting every row of a group removes it; the table is empty again.
    t.batch(&[("a", None), ("b", None), ("c", None)]);
    assert!(t.rows().is_empty());
    assert_eq!(t.op.group_count(), 0);
}

#[test]
fn filtered_aggregates_over_a_table_take_back_what_the_replaced_row_added() {
    let mut t = Table::new(
        "CREATE TABLE by_region AS SELECT region, COUNT(*) AS n,
           COUNT(*) FILTER (WHERE x > 5) AS big, SUM(x) FILTER (WHERE x > 5) AS big_sum,
           AVG(x) FILTER (WHERE name IS NOT NULL) AS named_avg
         FROM users GROUP BY region",
    );
    t.batch(&[
        ("a", user("a", Some("Ann"), "us", 1)),
        ("b", user("b", None, "us", 7)),
        ("c", user("c", Some("Cid"), "eu", 9)),
    ]);
    assert_eq!(
        t.rows(),
        vec![
            json!({"region": "eu", "n": 1, "big": 1, "big_sum": 9, "named_avg": 9.0}),
            json!({"region": "us", "n": 2, "big": 1, "big_sum": 7, "named_avg": 1.0}),
        ]
    );
    // b drops below the filter, c moves to us and a becomes big: each update takes back
    // exactly what the old row added (b's 7 in big/big_sum, c's 9 from eu).
    t.batch(&[
        ("b", user("b", None, "us", 2)),
        ("c", user("c", Some("Cid"), "us", 9)),
        ("a", user("a", None, "us", 6)),
    ]);
    assert_eq!(
        t.rows(),
        vec![json!({"region": "us", "n": 3, "big": 2, "big_sum": 15, "named_avg": 9.0})]
    );
    // Only rows the filter drops are left: the count is 0, the SUM and AVG NULL (left out).
    t.batch(&[("c", None), ("a", None)]);
    assert_eq!(t.rows(), vec![json!({"region": "us", "n": 1, "big": 0})]);
}

#[test]
fn aggregates_that_cannot_retract_and_windows_are_rejected_with_a_location() {
    let cat = catalog();
    for (text, needle) in [
        (
            "SELECT region, MIN(x) FROM users GROUP BY region",
            "MIN cannot aggregate a table",
        ),
        (
            "SELECT region, MAX(x) FROM users GROUP BY region",
            "MAX cannot aggregate a table",
        ),
        (
            "SELECT region, COUNT(DISTINCT name) FROM users GROUP BY region",
            "COUNT(DISTINCT …) cannot aggregate a table",
        ),
        (
            "SELECT region, LATEST_BY_OFFSET(name) FROM users GROUP BY region",
            "LATEST_BY_OFFSET cannot aggregate a table",
        ),
        (
            "SELECT region, COUNT(*) FROM users WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY region",
            "a window over table users",
        ),
    ] {
        let e = sql::parse(text, &cat).expect_err(text).to_string();
        assert!(e.contains(needle), "{text}: {e}");
        assert!(e.contains("line 1, column"), "{text}: {e}");
    }
    let e = sql::parse(
        "CREATE TABLE v WITH (serving='lambda') AS SELECT region, COUNT(*) FROM users GROUP BY region",
        &cat,
    )
    .expect_err("lambda")
    .to_string();
    assert!(e.contains("serving = 'lambda' needs a STREAM"), "{e}");
}

/// What the model says the two views hold after a sequence of upserts and tombstones.
fn model(ops: &[(u8, Option<(u8, i64)>)]) -> (Vec<Value>, Vec<Value>) {
    let mut rows: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for (k, v) in ops {
        let key = format!("k{k}");
        match v {
            Some((r, x)) => {
                rows.insert(key, (format!("r{r}"), *x));
            }
            None => {
                rows.remove(&key);
            }
        }
    }
    let latest = rows
        .iter()
        .filter(|(_, (_, x))| *x >= 0)
        .map(|(k, (r, x))| json!({"id": k, "region": r, "x": x}))
        .collect();
    let mut groups: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (r, x) in rows.values() {
        if *x % 3 != 0 {
            let g = groups.entry(r.clone()).or_default();
            g.0 += 1;
            g.1 += x;
        }
    }
    let agg = groups
        .into_iter()
        .map(|(r, (n, s))| json!({"region": r, "n": n, "s": s}))
        .collect();
    (latest, agg)
}

/// What `COUNT(*)`, `COUNT(*) FILTER (WHERE x % 3 <> 0)` and `SUM(x) FILTER (…)` per region
/// hold after the sequence (a NULL sum is left out of the row).
fn filtered_model(ops: &[(u8, Option<(u8, i64)>)]) -> Vec<Value> {
    let mut rows: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for (k, v) in ops {
        match v {
            Some((r, x)) => {
                rows.insert(format!("k{k}"), (format!("r{r}"), *x));
            }
            None => {
                rows.remove(&format!("k{k}"));
            }
        }
    }
    let mut groups: BTreeMap<String, (i64, i64, Option<i64>)> = BTreeMap::new();
    for (r, x) in rows.values() {
        let g = groups.entry(r.clone()).or_default();
        g.0 += 1;
        if *x % 3 != 0 {
            g.1 += 1;
            g.2 = Some(g.2.unwrap_or(0) + x);
        }
    }
    groups
        .into_iter()
        .map(|(r, (all, n, s))| match s {
            Some(s) => json!({"region": r, "all": all, "n": n, "s": s}),
            None => json!({"region": r, "all": all, "n": n}),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any sequence of upserts and tombstones over a few keys, cut into micro-batches
    /// anywhere: the row view equals the latest row per key (filtered), and the aggregate
    /// equals COUNT/SUM per region over those rows.
    #[test]
    fn table_views_equal_a_hashmap_model(
        ops in proptest::collection::vec(
            (0u8..5, proptest::option::weighted(0.75, (0u8..3, -3i64..10))),
            1..60,
        ),
        cuts in proptest::collection::vec(1usize..8, 1..20),
    ) {
        let mut rows = Table::new("CREATE TABLE v AS SELECT id, region, x FROM users WHERE x >= 0");
        let mut agg = Table::new(
            "CREATE TABLE g AS SELECT region, COUNT(*) AS n, SUM(x) AS s FROM users WHERE x % 3 <> 0 GROUP BY region",
        );
        let mut filtered = Table::new(
            "CREATE TABLE f AS SELECT region, COUNT(*) AS \"all\", COUNT(*) FILTER (WHERE x % 3 <> 0) AS n,
               SUM(x) FILTER (WHERE x % 3 <> 0) AS s FROM users GROUP BY region",
        );
        let records: Vec<(String, Option<Value>)> = ops
            .iter()
            .map(|(k, v)| {
                let key = format!("k{k}");
                let value = v.map(|(r, x)| json!({"id": key, "region": format!("r{r}"), "x": x}));
                (key, value)
            })
            .collect();
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < records.len() {
            let end = (at + cut.next().copied().unwrap_or(1)).min(records.len());
            let chunk: Vec<(&str, Option<Value>)> =
                records[at..end].iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            rows.batch(&chunk);
            agg.batch(&chunk);
            filtered.batch(&chunk);
            at = end;
        }
        let (want_rows, want_agg) = model(&ops);
        prop_assert_eq!(rows.rows(), want_rows);
        prop_assert_eq!(agg.rows(), want_agg);
        prop_assert_eq!(filtered.rows(), filtered_model(&ops));
    }
}

#[test]
fn the_upsert_state_survives_a_checkpoint() {
    let text = "CREATE TABLE by_region AS SELECT region, COUNT(*) AS n, SUM(x) AS s FROM users GROUP BY region";
    let mut t = Table::new(text);
    t.batch(&[
        ("a", user("a", None, "us", 1)),
        ("b", user("b", None, "eu", 2)),
    ]);
    let group_state = strata_engine::codec::encode(t.op.state()).expect("encode");
    let table_state =
        strata_engine::codec::encode(t.op.table_state().expect("table")).expect("encode");
    let mut reopened = Table::new(text);
    reopened.offset = t.offset;
    reopened
        .op
        .restore(strata_engine::codec::decode(&group_state).expect("decode"))
        .expect("restore");
    reopened
        .op
        .restore_table_state(strata_engine::codec::decode(&table_state).expect("decode"))
        .expect("restore");
    // The update of b retracts its old row, which only the restored upsert state knows.
    reopened.batch(&[("b", user("b", None, "us", 5))]);
    assert_eq!(
        reopened.rows(),
        vec![json!({"region": "us", "n": 2, "s": 6})]
    );
}

mod through_the_engine {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use serde_json::{Value, json};
    use strata_views::engine::Engine;

    use strata_log::{EncodedBatch, Log, ReadLimits, Record};

    fn open(dir: &std::path::Path, log: Option<Arc<Log>>) -> (Arc<Log>, Arc<Engine>) {
        super::common::open_on(dir, log)
    }

    fn produce(log: &Log, records: &[(&str, Option<Value>)]) {
        produce_to(log, "users", records);
    }

    fn produce_to(log: &Log, topic: &str, records: &[(&str, Option<Value>)]) {
        let records: Vec<Record> = records
            .iter()
            .map(|(k, v)| {
                let value = v.as_ref().map(|v| v.to_string()).unwrap_or_default();
                Record::new(value.into_bytes(), 1_000).with_key(k.as_bytes().to_vec())
            })
            .collect();
        let t = log.topic(topic).expect("topic");
        t.append(0, EncodedBatch::from_records(&records).expect("batch"))
            .expect("append");
    }

    /// Waits until the view's snapshot is `want`.
    fn eventually(engine: &Engine, view: &str, want: &[Value]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = super::to_json(&engine.snapshot(view).expect("snapshot"));
            if got == want {
                return;
            }
            assert!(engine.failure(view).is_none(), "{:?}", engine.failure(view));
            assert!(Instant::now() < deadline, "{view}: {got:?}, want {want:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn changelog(log: &Log, view: &str) -> Vec<(String, String)> {
        let t = log.topic(&format!("{view}-changelog")).expect("changelog");
        let p = t.partition(0).expect("partition");
        let fetch = p
            .read(
                p.start_offset(),
                ReadLimits {
                    max_records: 10_000,
                    max_bytes: 1 << 20,
                },
            )
            .expect("read");
        fetch
            .records()
            .map(|r| {
                let r = r.expect("record");
                (
                    String::from_utf8_lossy(r.key.unwrap_or_default()).into_owned(),
                    String::from_utf8_lossy(r.value).into_owned(),
                )
            })
            .collect()
    }

    fn user(region: &str, x: i64) -> Option<Value> {
        Some(json!({"region": region, "x": x}))
    }

    #[test]
    fn table_views_over_a_restart_with_tombstones_and_a_view_over_a_view() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, engine) = open(dir.path(), None);
        engine
            .execute(&format!(
                "{}
                 CREATE TABLE by_region AS SELECT region, COUNT(*) AS n, SUM(x) AS s FROM users GROUP BY region;
                 CREATE TABLE latest AS SELECT id, region FROM users WHERE x > 0;",
                super::USERS
            ))
            .expect("views");
        // A view reading a view: the group rows of by_region, as a table keyed by region.
        engine
            .execute("CREATE TABLE overall AS SELECT COUNT(*) AS regions, SUM(n) AS users, AVG(s) AS avg_s FROM by_region")
            .expect("view over a view");
        produce(
            &log,
            &[
                ("a", user("us", 1)),
                ("b", user("us", 2)),
                ("c", user("eu", 4)),
            ],
        );
        eventually(
            &engine,
            "by_region",
            &[
                json!({"region": "eu", "n": 1, "s": 4}),
                json!({"region": "us", "n": 2, "s": 3}),
            ],
        );
        eventually(
            &engine,
            "overall",
            &[json!({"regions": 2, "users": 3, "avg_s": 3.5})],
        );
        // Restart: the upsert state must come back, or the updates below could not retract.
        engine.shutdown();
        drop(engine);
        let (log, engine) = open(dir.path(), Some(log));
        produce(
            &log,
            &[("c", user("us", 4)), ("b", None), ("a", user("us", -1))],
        );
        eventually(
            &engine,
            "by_region",
            &[json!({"region": "us", "n": 2, "s": 3})],
        );
        eventually(&engine, "latest", &[json!({"id": "c", "region": "us"})]);
        eventually(
            &engine,
            "overall",
            &[json!({"regions": 1, "users": 2, "avg_s": 3.0})],
        );
        // The changelogs carry tombstones (key, empty value) for what disappeared.
        let by_region = changelog(&log, "by_region");
        assert!(
            by_region.contains(&(r#"{"region":"eu"}"#.into(), String::new())),
            "{by_region:?}"
        );
        // by_region's changelog is overall's input: it cannot go first.
        let e = engine.drop_view("by_region").expect_err("read by overall");
        assert!(e.to_string().contains("\"overall\" reads"), "{e}");
        engine.drop_view("overall").expect("drop the reader");
        engine
            .drop_view("by_region")
            .expect("then the view it read");
        let latest = changelog(&log, "latest");
        for gone in ["a", "b"] {
            let key = format!(r#"{{"_key":"{gone}"}}"#);
            assert_eq!(
                latest.last_key_value(&key),
                Some(String::new()),
                "{gone} deleted: {latest:?}"
            );
        }
        engine.shutdown();
    }

    /// Nexmark q4's shape: the highest bid per auction (a join view whose MAX changes), then
    /// the average of those per category, which must follow each auction's current maximum.
    #[test]
    fn an_average_over_a_changing_max_follows_the_current_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, engine) = open(dir.path(), None);
        engine
            .execute(
                "CREATE TABLE auction (id BIGINT PRIMARY KEY, category BIGINT) WITH (kafka_topic='auction', value_format='JSON');
                 CREATE STREAM bid (auction BIGINT, price BIGINT) WITH (kafka_topic='bid', value_format='JSON');",
            )
            .expect("sources");
        produce_to(
            &log,
            "auction",
            &[
                ("1", Some(json!({"id": 1, "category": 10}))),
                ("2", Some(json!({"id": 2, "category": 10}))),
                ("3", Some(json!({"id": 3, "category": 20}))),
            ],
        );
        engine
            .execute(
                "CREATE TABLE q4_inner AS SELECT A.id AS id, A.category AS category, MAX(B.price) AS final
                   FROM bid AS B JOIN auction AS A ON B.auction = A.id GROUP BY A.id, A.category;
                 CREATE TABLE q4 AS SELECT category, AVG(final) AS avg_final FROM q4_inner GROUP BY category;",
            )
            .expect("views");
        let bids = |pairs: &[(i64, i64)]| -> Vec<(String, Option<Value>)> {
            pairs
                .iter()
                .map(|(a, p)| (a.to_string(), Some(json!({"auction": a, "price": p}))))
                .collect()
        };
        let first = bids(&[(1, 5), (2, 7), (3, 4)]);
        let refs: Vec<(&str, Option<Value>)> =
            first.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        produce_to(&log, "bid", &refs);
        eventually(
            &engine,
            "q4",
            &[
                json!({"category": 10, "avg_final": 6.0}),
                json!({"category": 20, "avg_final": 4.0}),
            ],
        );
        // Auction 1's maximum rises to 9: its old maximum 5 is retracted, not averaged in.
        let second = bids(&[(1, 9), (3, 1)]);
        let refs: Vec<(&str, Option<Value>)> = second
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        produce_to(&log, "bid", &refs);
        eventually(
            &engine,
            "q4",
            &[
                json!({"category": 10, "avg_final": 8.0}),
                json!({"category": 20, "avg_final": 4.0}),
            ],
        );
        engine.shutdown();
    }

    #[test]
    fn a_row_having_turns_away_is_a_tombstone_and_leaves_a_reader() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, engine) = open(dir.path(), None);
        engine
            .execute(&format!(
                "{}
                 CREATE TABLE crowded AS SELECT region, COUNT(*) AS n FROM users GROUP BY region HAVING COUNT(*) > 1;
                 CREATE TABLE crowded_total AS SELECT COUNT(*) AS regions, SUM(n) AS users FROM crowded;",
                super::USERS
            ))
            .expect("views");
        produce(
            &log,
            &[
                ("a", user("us", 1)),
                ("b", user("us", 2)),
                ("c", user("eu", 3)),
            ],
        );
        eventually(&engine, "crowded", &[json!({"region": "us", "n": 2})]);
        eventually(
            &engine,
            "crowded_total",
            &[json!({"regions": 1, "users": 2})],
        );
        produce(&log, &[("b", None)]);
        eventually(&engine, "crowded", &[]);
        eventually(&engine, "crowded_total", &[]);
        let written = changelog(&log, "crowded");
        assert_eq!(
            written.last_key_value(r#"{"region":"us"}"#),
            Some(String::new()),
            "{written:?}"
        );
        engine.shutdown();
    }

    /// `FROM alias` reads the alias's current version; that version cannot be dropped while
    /// read, the others can.
    #[test]
    fn a_view_over_an_alias_reads_its_current_version() {
        use strata_views::replay::{ReplayStatus, ViewReplayRequest};
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, engine) = open(dir.path(), None);
        engine
            .execute(&format!(
                "{}
                 CREATE TABLE by_region AS SELECT region, COUNT(*) AS n FROM users GROUP BY region;",
                super::USERS
            ))
            .expect("view");
        produce(&log, &[("a", user("us", 1)), ("b", user("eu", 2))]);
        eventually(
            &engine,
            "by_region",
            &[
                json!({"region": "eu", "n": 1}),
                json!({"region": "us", "n": 1}),
            ],
        );
        let replay = engine
            .replay_view(ViewReplayRequest {
                view: "by_region".into(),
                ..ViewReplayRequest::default()
            })
            .expect("replay");
        let deadline = Instant::now() + Duration::from_secs(30);
        while engine.replay(replay.id).expect("replay").status != ReplayStatus::CaughtUp {
            assert!(Instant::now() < deadline, "the replay did not catch up");
            std::thread::sleep(Duration::from_millis(10));
        }
        engine.promote("by_region", "v2").expect("promote");
        engine
            .execute("CREATE TABLE regions AS SELECT COUNT(*) AS regions, SUM(n) AS users FROM by_region")
            .expect("view over the alias");
        produce(&log, &[("c", user("us", 3)), ("b", None)]);
        eventually(&engine, "regions", &[json!({"regions": 1, "users": 2})]);
        let e = engine
            .drop_version("by_region", "by_region_v2")
            .expect_err("current");
        assert!(!e.to_string().is_empty());
        engine.promote("by_region", "1").expect("back to v1");
        let e = engine
            .drop_version("by_region", "by_region_v2")
            .expect_err("read by regions");
        assert!(e.to_string().contains("\"regions\" reads"), "{e}");
        engine.promote("by_region", "v2").expect("forward");
        engine
            .drop_version("by_region", "1")
            .expect("v1 is not read");
        engine.shutdown();
    }

    trait LastValue {
        fn last_key_value(&self, key: &str) -> Option<String>;
    }

    impl LastValue for Vec<(String, String)> {
        fn last_key_value(&self, key: &str) -> Option<String> {
            self.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        }
    }
}
