//! Window Top-N views (Flink's `ROW_NUMBER()/RANK() OVER (PARTITION BY window_start,
//! window_end ORDER BY …) … WHERE rk <= N`) created through `Engine::execute` and run by the
//! streaming driver over a real log: rows per window worked out by hand (ties under RANK vs
//! ROW_NUMBER, a ranked aggregation), a late row set aside, the changelog, a restart from the
//! checkpoint with a window still open, a replay into a new version.

mod common;

use common::open;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_engine::json_lines;
use strata_log::{EncodedBatch, Log, ReadLimits, Record};
use strata_views::engine::{Engine, Outcome};
use strata_views::replay::{ReplayStatus, ViewReplayRequest};

/// Bids as (auction, bidder, price, event time ms).
fn produce(log: &Log, bids: &[(i64, i64, i64, i64)]) {
    let records: Vec<Record> = bids
        .iter()
        .map(|(a, b, p, t)| {
            Record::new(
                format!(r#"{{"auction":{a},"bidder":{b},"price":{p},"datetime":{t}}}"#)
                    .into_bytes(),
                *t,
            )
        })
        .collect();
    log.topic("bid")
        .expect("topic")
        .append(0, EncodedBatch::from_records(&records).expect("batch"))
        .expect("append");
}

const SCHEMA: &str =
    "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, datetime TIMESTAMP(3),
  WATERMARK FOR datetime AS datetime - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'bid', 'properties.bootstrap.servers' = 'localhost:9092',
  'format' = 'json', 'scan.startup.mode' = 'earliest-offset');";

/// Nexmark q7's shape with RANK: ties share rank 1, so a window may keep more than N rows.
const TOP_BIDS: &str = "CREATE TABLE top_bids AS
SELECT auction, bidder, price, window_start, rownum FROM (
  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND))
) WHERE rownum <= 2;";

/// The same with ROW_NUMBER: exactly N rows, ties by arrival.
const FIRST_BIDS: &str = "CREATE TABLE first_bids AS
SELECT bidder, price, window_start, rn FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND))
  WHERE price > 1
) WHERE rn <= 2;";

/// Nexmark q5's shape: the auctions with the most bids per window.
const HOT_ITEMS: &str = "CREATE TABLE hot_items AS
SELECT auction, num, window_start FROM (
  SELECT *, RANK() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rk
  FROM (
    SELECT auction, COUNT(*) AS num, window_start, window_end
    FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(datetime), INTERVAL '10' SECOND))
    GROUP BY auction, window_start, window_end
  )
) WHERE rk = 1;";

const VIEWS: [&str; 3] = ["top_bids", "first_bids", "hot_items"];

fn rows(engine: &Engine, view: &str) -> Vec<Value> {
    json_lines(&engine.snapshot(view).expect("snapshot"))
        .expect("json")
        .iter()
        .map(|l| serde_json::from_slice(l).expect("json"))
        .collect()
}

fn changelog(log: &Log, view: &str) -> Vec<Value> {
    let topic = log.topic(&format!("{view}-changelog")).expect("changelog");
    let part = topic.partition(0).expect("partition");
    let fetch = part
        .read(
            part.start_offset(),
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
            assert!(r.key.is_none(), "Top-N rows are unkeyed");
            serde_json::from_slice(r.value).expect("json")
        })
        .collect()
}

fn late_count(log: &Log, view: &str) -> u64 {
    log.topic(&format!("{view}-late"))
        .expect("late topic")
        .partition(0)
        .expect("partition")
        .end_offset()
}

/// Waits until every view has read `records` source records and reached `watermark`.
fn settle(engine: &Engine, records: u64, watermark: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for view in VIEWS {
        loop {
            let stats = engine.stats(view).expect("stats");
            if stats.records_in >= records && stats.lag == 0 && stats.watermark >= watermark {
                break;
            }
            assert!(engine.failure(view).is_none(), "{:?}", engine.failure(view));
            assert!(
                Instant::now() < deadline,
                "{view} did not settle: {stats:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn bid(auction: i64, bidder: i64, price: i64, window_start: i64, rank: i64) -> Value {
    json!({"auction": auction, "bidder": bidder, "price": price, "window_start": window_start, "rownum": rank})
}

fn first(bidder: i64, price: i64, window_start: i64, rn: i64) -> Value {
    json!({"bidder": bidder, "price": price, "window_start": window_start, "rn": rn})
}

/// The rows of a view sorted by their JSON text (for ties whose order is not specified).
fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(Value::to_string);
    v
}

#[test]
fn top_n_views_rank_each_window_when_it_closes_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    let outcomes = engine
        .execute(&format!("{SCHEMA}{TOP_BIDS}{FIRST_BIDS}{HOT_ITEMS}"))
        .expect("execute");
    assert_eq!(outcomes.len(), 4);
    assert!(
        outcomes[1..]
            .iter()
            .all(|o| matches!(o, Outcome::ViewCreated { .. }))
    );
    match &engine.execute("DESCRIBE top_bids").expect("describe")[0] {
        Outcome::ViewDescription { plan, .. } => {
            let rank = plan.rank.as_ref().expect("ranked");
            assert_eq!((rank.limit, rank.order_by.as_str()), (2, "price"));
            assert!(!plan.merges_batch());
        }
        other => panic!("{other:?}"),
    }

    // Window [0, 10 s): three bids of 9 tie for rank 1; the 8 ranks fourth.
    // Window [10 s, 20 s): 6, then 4, then 3.
    produce(
        &log,
        &[
            (1, 10, 5, 1_000),
            (2, 11, 9, 2_000),
            (3, 12, 9, 3_000),
            (1, 13, 7, 4_000),
            (2, 14, 9, 5_000),
            (4, 15, 8, 6_000),
            (1, 16, 3, 11_000),
            (2, 17, 6, 12_000),
            (1, 18, 4, 13_000),
        ],
    );
    // The watermark (13 s - 1 s) has closed the first window only.
    settle(&engine, 9, 12_000);
    assert_eq!(
        rows(&engine, "top_bids"),
        vec![
            bid(2, 11, 9, 0, 1),
            bid(3, 12, 9, 0, 1),
            bid(2, 14, 9, 0, 1)
        ]
    );
    assert_eq!(
        rows(&engine, "first_bids"),
        vec![first(11, 9, 0, 1), first(12, 9, 0, 2)]
    );
    // Auctions 1 and 2 have two bids each: both rank 1.
    assert_eq!(
        sorted(rows(&engine, "hot_items")),
        vec![
            json!({"auction": 1, "num": 2, "window_start": 0}),
            json!({"auction": 2, "num": 2, "window_start": 0}),
        ]
    );

    // A bid of the closed window arrives late: set aside, not ranked. A bid at 25 s closes
    // the second window.
    produce(&log, &[(9, 19, 100, 9_000)]);
    settle(&engine, 10, 12_000);
    produce(&log, &[(5, 20, 1, 25_000)]);
    settle(&engine, 11, 24_000);
    let top_bids = vec![
        bid(2, 11, 9, 0, 1),
        bid(3, 12, 9, 0, 1),
        bid(2, 14, 9, 0, 1),
        bid(2, 17, 6, 10_000, 1),
        bid(1, 18, 4, 10_000, 2),
    ];
    assert_eq!(rows(&engine, "top_bids"), top_bids);
    let first_bids = vec![
        first(11, 9, 0, 1),
        first(12, 9, 0, 2),
        first(17, 6, 10_000, 1),
        first(18, 4, 10_000, 2),
    ];
    assert_eq!(rows(&engine, "first_bids"), first_bids);
    let hot = vec![
        json!({"auction": 1, "num": 2, "window_start": 0}),
        json!({"auction": 2, "num": 2, "window_start": 0}),
        json!({"auction": 1, "num": 2, "window_start": 10_000}),
    ];
    assert_eq!(sorted(rows(&engine, "hot_items")), sorted(hot.clone()));
    for view in VIEWS {
        assert_eq!(late_count(&log, view), 1, "{view}");
        assert_eq!(engine.stats(view).expect("stats").late, 1, "{view}");
    }
    // The changelog holds each closed window's rows once, in the order emitted.
    assert_eq!(changelog(&log, "top_bids"), top_bids);
    assert_eq!(changelog(&log, "first_bids"), first_bids);
    // Window-keyed lookups do not apply to ranked rows.
    let e = engine.snapshot_with_keys("top_bids").unwrap_err();
    assert!(e.to_string().contains("window Top-N"), "{e}");

    // Restart: the open window [20 s, 30 s) holds bidder 20's bid in the checkpoint.
    engine.shutdown();
    drop(engine);
    let (log, engine) = {
        drop(log);
        open(dir.path())
    };
    assert_eq!(rows(&engine, "top_bids"), top_bids);
    assert_eq!(rows(&engine, "first_bids"), first_bids);
    assert_eq!(sorted(rows(&engine, "hot_items")), sorted(hot.clone()));
    produce(&log, &[(6, 21, 2, 31_000)]);
    settle(&engine, 12, 30_000);
    let mut top_bids = top_bids;
    top_bids.extend([bid(5, 20, 1, 20_000, 1)]);
    assert_eq!(rows(&engine, "top_bids"), top_bids);
    assert_eq!(
        changelog(&log, "top_bids"),
        top_bids,
        "no duplicate, nothing lost"
    );
    // `price > 1` keeps bidder 20's bid out of first_bids: its window has no row.
    assert_eq!(rows(&engine, "first_bids"), first_bids);
    let mut hot = hot;
    hot.push(json!({"auction": 5, "num": 1, "window_start": 20_000}));
    assert_eq!(sorted(rows(&engine, "hot_items")), sorted(hot));

    // A replay into a new version ranks the same history the same way.
    let started = engine
        .replay_view(ViewReplayRequest {
            view: "top_bids".into(),
            ..ViewReplayRequest::default()
        })
        .expect("replay");
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.replay(started.id).expect("replay").status == ReplayStatus::Running {
        assert!(Instant::now() < deadline, "the replay did not catch up");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The replay reads the history at once, in one micro-batch: the watermark has not
    // passed the first window when bidder 19's bid of 100 comes, so it ranks first there
    // and the three 9s share rank 2.
    let replayed = vec![
        bid(9, 19, 100, 0, 1),
        bid(2, 11, 9, 0, 2),
        bid(3, 12, 9, 0, 2),
        bid(2, 14, 9, 0, 2),
        bid(2, 17, 6, 10_000, 1),
        bid(1, 18, 4, 10_000, 2),
        bid(5, 20, 1, 20_000, 1),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&engine, "top_bids_v2").len() < replayed.len() {
        assert!(Instant::now() < deadline, "the replay did not rank");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rows(&engine, "top_bids_v2"), replayed);
    engine.shutdown();
}

#[test]
fn a_continuous_top_n_query_streams_its_rows_to_a_temporary_changelog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    engine.execute(SCHEMA).expect("schema");
    let query = TOP_BIDS.replace("CREATE TABLE top_bids AS\n", "");
    let outcome = engine.execute(&query).expect("query");
    let Some(Outcome::QueryStarted { name, .. }) = outcome.last() else {
        panic!("{outcome:?}");
    };
    produce(
        &log,
        &[(1, 1, 5, 1_000), (2, 2, 7, 2_000), (3, 3, 1, 12_000)],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while changelog(&log, name).len() < 2 {
        assert!(Instant::now() < deadline, "no rows");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        changelog(&log, name),
        vec![bid(2, 2, 7, 0, 1), bid(1, 1, 5, 0, 2)]
    );
    engine.drop_view(name).expect("drop");
    // The batch layer does not rank: a Top-N view cannot be served Lambda.
    let lambda = TOP_BIDS.replace("top_bids AS", "tb WITH (serving='lambda') AS");
    let e = engine.execute(&lambda).unwrap_err().to_string();
    assert!(e.contains("cannot serve a window Top-N"), "{e}");
    engine.shutdown();
}

#[test]
fn a_view_reads_a_top_n_views_rows_as_a_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, engine) = open(dir.path());
    engine
        .execute(&format!(
            "{SCHEMA}{TOP_BIDS}
             CREATE TABLE winners AS SELECT auction, COUNT(*) AS wins, MAX(price) AS best
               FROM top_bids GROUP BY auction;"
        ))
        .expect("execute");
    // Window 0: auctions 2 and 3 tie at 9 (both rank 1), 1 ranks third; window 10 s: 2 wins,
    // 1 second. The bid at 25 s closes both.
    produce(
        &log,
        &[
            (1, 1, 5, 1_000),
            (2, 2, 9, 2_000),
            (3, 3, 9, 3_000),
            (2, 4, 6, 12_000),
            (1, 5, 4, 13_000),
            (7, 6, 1, 25_000),
        ],
    );
    let want = vec![
        json!({"auction": 1, "wins": 1, "best": 4}),
        json!({"auction": 2, "wins": 2, "best": 9}),
        json!({"auction": 3, "wins": 1, "best": 9}),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    while sorted(rows(&engine, "winners")) != want {
        assert!(
            engine.failure("winners").is_none(),
            "{:?}",
            engine.failure("winners")
        );
        assert!(
            Instant::now() < deadline,
            "winners: {:?}",
            rows(&engine, "winners")
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The Top-N view cannot go first while a view reads it.
    let e = engine.drop_view("top_bids").unwrap_err().to_string();
    assert!(e.contains("winners"), "{e}");
    engine.shutdown();
}
