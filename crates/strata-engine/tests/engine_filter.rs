//! Aggregates with `FILTER (WHERE …)` grouped by a `DATE_FORMAT` day, over a stream, fed in
//! micro-batches cut anywhere: the view's rows equal a per-group model of the same bids
//! (COUNT 0 and SUM/AVG/MIN/MAX NULL where the filter keeps no row of a group).
//! FILTER over a table (retractions) is in engine_tables.rs.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use proptest::prelude::*;
use serde_json::{Value, json};
use strata_engine::decode::source_schema;
use strata_engine::json_lines;
use strata_engine::operator::{Lateness, ViewOperator};
use strata_engine::plan::{SourceDef, Statement};
use strata_engine::sql;

const DAY: i64 = 86_400_000;
/// 2024-03-05 00:00:00 UTC.
const START: i64 = 1_709_596_800_000;

fn catalog() -> HashMap<String, SourceDef> {
    let ddl = "CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, datetime TIMESTAMP) \
               WITH (kafka_topic='bid', value_format='JSON', timestamp='datetime');";
    sql::parse(ddl, &sql::EmptyCatalog)
        .unwrap()
        .into_iter()
        .filter_map(|s| match s {
            Statement::CreateSource { source, .. } => Some((source.name.clone(), source)),
            _ => None,
        })
        .collect()
}

const VIEW: &str =
    "CREATE TABLE stats AS SELECT auction, DATE_FORMAT(datetime, 'yyyy-MM-dd') AS day,
    COUNT(*) AS total,
    COUNT(*) FILTER (WHERE price < 100) AS cheap,
    COUNT(price) FILTER (WHERE price >= 100 AND bidder <> 0) AS dear,
    COUNT(DISTINCT bidder) FILTER (WHERE price >= 100) AS dear_bidders,
    SUM(price) FILTER (WHERE price < 100) AS cheap_sum,
    AVG(price) FILTER (WHERE price < 100) AS cheap_avg,
    MIN(price) FILTER (WHERE price >= 100) AS dear_min,
    MAX(DATE_FORMAT(datetime, 'HH:mm')) FILTER (WHERE price >= 100) AS dear_last
  FROM bid GROUP BY auction, DATE_FORMAT(datetime, 'yyyy-MM-dd')";

/// (auction, bidder, price, ms since START).
type Bid = (i64, i64, i64, i64);

fn batch(schema: &arrow::datatypes::SchemaRef, bids: &[Bid], offset: i64) -> RecordBatch {
    let n = bids.len();
    let times: Vec<i64> = bids.iter().map(|b| START + b.3).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(bids.iter().map(|b| b.0))),
        Arc::new(Int64Array::from_iter_values(bids.iter().map(|b| b.1))),
        Arc::new(Int64Array::from_iter_values(bids.iter().map(|b| b.2))),
        Arc::new(TimestampMillisecondArray::from(times.clone())),
        Arc::new(TimestampMillisecondArray::from(times)),
        Arc::new(Int64Array::from(vec![0i64; n])),
        Arc::new(Int64Array::from_iter_values(offset..offset + n as i64)),
        Arc::new(StringArray::new_null(n)),
    ];
    RecordBatch::try_new(Arc::clone(schema), columns).unwrap()
}

fn hhmm(ms: i64) -> String {
    let m = ms.rem_euclid(DAY) / 60_000;
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The rows the view should hold, written per group without the engine.
fn model(bids: &[Bid]) -> Vec<Value> {
    #[derive(Default)]
    struct G {
        total: i64,
        cheap: i64,
        dear: i64,
        dear_bidders: BTreeSet<i64>,
        cheap_prices: Vec<i64>,
        dear_min: Option<i64>,
        dear_last: Option<String>,
    }
    let mut groups: BTreeMap<(i64, i64), G> = BTreeMap::new();
    for &(auction, bidder, price, t) in bids {
        let g = groups.entry((auction, t.div_euclid(DAY))).or_default();
        g.total += 1;
        if price < 100 {
            g.cheap += 1;
            g.cheap_prices.push(price);
        } else {
            if bidder != 0 {
                g.dear += 1;
            }
            g.dear_bidders.insert(bidder);
            g.dear_min = Some(g.dear_min.map_or(price, |m| m.min(price)));
            g.dear_last = g.dear_last.take().max(Some(hhmm(t)));
        }
    }
    groups
        .into_iter()
        .map(|((auction, day), g)| {
            let sum: i64 = g.cheap_prices.iter().sum();
            let n = g.cheap_prices.len();
            json!({
                "auction": auction,
                "day": format!("2024-03-{:02}", 5 + day),
                "total": g.total,
                "cheap": g.cheap,
                "dear": g.dear,
                "dear_bidders": g.dear_bidders.len(),
                "cheap_sum": (n > 0).then_some(sum),
                "cheap_avg": (n > 0).then(|| sum as f64 / n as f64),
                "dear_min": g.dear_min,
                "dear_last": g.dear_last,
            })
        })
        .map(without_nulls)
        .collect()
}

/// A row as the view serves it: a NULL column is left out of its JSON.
fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !x.is_null());
    }
    v
}

fn rows(op: &ViewOperator) -> Vec<Value> {
    let mut out: Vec<Value> = json_lines(&op.snapshot().unwrap())
        .unwrap()
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    out.sort_by_key(|v| (v["auction"].as_i64(), v["day"].as_str().map(str::to_owned)));
    out
}

fn run(bids: &[Bid], cuts: &[usize]) -> Vec<Value> {
    let plan = match sql::parse(VIEW, &catalog()).unwrap().remove(0) {
        Statement::CreateView { plan, .. } => plan,
        other => panic!("not a view: {other:?}"),
    };
    let schema = source_schema(&plan.source);
    let mut op = ViewOperator::new(plan, Arc::clone(&schema), Lateness::Enforce).unwrap();
    let (mut at, mut cut) = (0, cuts.iter().cycle());
    while at < bids.len() {
        let end = (at + cut.next().copied().unwrap_or(1)).min(bids.len());
        op.process(&batch(&schema, &bids[at..end], at as i64))
            .unwrap();
        at = end;
    }
    rows(&op)
}

/// JSON numbers from the engine and the model compare as numbers (AVG is a float).
fn same(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let (Value::Object(x), Value::Object(y)) = (x, y) else {
                return false;
            };
            x.len() == y.len()
                && x.iter().all(|(k, v)| match (v, &y[k]) {
                    (Value::Number(p), Value::Number(q)) => {
                        (p.as_f64().unwrap() - q.as_f64().unwrap()).abs() < 1e-9
                    }
                    (p, q) => p == q,
                })
        })
}

#[test]
fn filtered_aggregates_per_day_by_hand() {
    // Auction 1: two cheap bids on day 0, one dear bid at 10:30 on day 0, one cheap bid on
    // day 1. Auction 2: only dear bids (its cheap SUM/AVG are NULL, its cheap count 0).
    let bids = [
        (1, 7, 10, 3_600_000),
        (1, 8, 30, 7_200_000),
        (1, 7, 500, 37_800_000),
        (1, 9, 40, DAY + 60_000),
        (2, 0, 100, 0),
        (2, 5, 300, 60_000),
    ];
    let got = run(&bids, &[4]);
    let nulls_left_out: Vec<Value> = [
        json!({"auction": 1, "day": "2024-03-05", "total": 3, "cheap": 2, "dear": 1,
                   "dear_bidders": 1, "cheap_sum": 40, "cheap_avg": 20.0, "dear_min": 500,
                   "dear_last": "10:30"}),
        json!({"auction": 1, "day": "2024-03-06", "total": 1, "cheap": 1, "dear": 0,
                   "dear_bidders": 0, "cheap_sum": 40, "cheap_avg": 40.0, "dear_min": null,
                   "dear_last": null}),
        json!({"auction": 2, "day": "2024-03-05", "total": 2, "cheap": 0, "dear": 1,
                   "dear_bidders": 2, "cheap_sum": null, "cheap_avg": null, "dear_min": 100,
                   "dear_last": "00:01"}),
    ]
    .into_iter()
    .map(without_nulls)
    .collect();
    assert_eq!(got, nulls_left_out);
    assert!(same(&got, &model(&bids)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn filtered_aggregates_equal_a_per_group_model(
        bids in proptest::collection::vec(
            (0i64..4, 0i64..5, 0i64..200, 0i64..3 * DAY),
            1..80,
        ),
        cuts in proptest::collection::vec(1usize..10, 1..10),
    ) {
        let got = run(&bids, &cuts);
        let want = model(&bids);
        prop_assert!(same(&got, &want), "got {got:?}\nwant {want:?}");
    }
}
