//! The pattern examples (examples/anomaly-detection, sessions, stream-table-join,
//! fraud-detection) run through the real binary, and their views and output topics equal a
//! computation in plain Rust over the input each script fed.

mod common;
mod examples_support;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::*;
use examples_support::*;

const MINUTE: i64 = 60_000;

/// Per (key, hopping window start of 10 min every 5 min): the values of `field`.
fn hopping<'a>(
    input: &'a [Record],
    key: &str,
    field: &str,
) -> BTreeMap<(String, i64), Vec<(i64, &'a serde_json::Value)>> {
    let mut out: BTreeMap<(String, i64), Vec<(i64, &serde_json::Value)>> = BTreeMap::new();
    for r in input {
        for s in hops(r.timestamp, 10 * MINUTE, 5 * MINUTE) {
            out.entry((text(&r.value, key), s))
                .or_default()
                .push((r.timestamp, &r.value[field]));
        }
    }
    out
}

#[test]
fn anomaly_alerts_are_the_windows_with_a_reading_far_above_the_baseline() {
    let node = Node::start(&[]);
    let run = run_example(
        &node,
        "anomaly-detection",
        &[],
        &[("EVENTS", "2400"), ("CHUNK", "400")],
    );
    let input = run.records("metrics.ndjson");
    let newest = input.iter().map(|r| r.timestamp).max().expect("input");
    let watermark = newest - 5_000;
    // (host, window start) → (avg, max, count), alerts only.
    let mut alerts: BTreeMap<(String, i64), (f64, f64, i64)> = BTreeMap::new();
    for (k, vals) in hopping(&input, "host", "cpu") {
        let cpu: Vec<f64> = vals.iter().map(|(_, v)| v.as_f64().expect("cpu")).collect();
        let avg = cpu.iter().sum::<f64>() / cpu.len() as f64;
        let max = cpu.iter().copied().fold(f64::MIN, f64::max);
        if max > avg + 30.0 {
            alerts.insert(k, (avg, max, cpu.len() as i64));
        }
    }
    assert!(!alerts.is_empty(), "the run should have spikes");
    let rows = view_rows(&node, "cpu_alerts");
    let got = rows_by(&rows, |r| (text(r, "host"), int(r, "window_start")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        alerts.keys().collect::<Vec<_>>()
    );
    for (k, (avg, max, n)) in &alerts {
        assert!(close(num(&got[k], "baseline"), *avg), "{k:?}");
        assert_eq!(num(&got[k], "peak"), *max, "{k:?}");
        assert_eq!(int(&got[k], "readings"), *n, "{k:?}");
    }
    // The alerts topic holds each closed alert window once (EMIT FINAL).
    let topic: Vec<(String, i64)> = topic_records(&node, "alerts")
        .iter()
        .map(|r| (text(&r["value"], "host"), int(&r["value"], "window_start")))
        .collect();
    let closed: Vec<(String, i64)> = alerts
        .keys()
        .filter(|(_, s)| s + 10 * MINUTE <= watermark)
        .cloned()
        .collect();
    let mut sorted = topic.clone();
    sorted.sort();
    assert_eq!(sorted, closed);
    assert_eq!(topic.len(), closed.len(), "each window once");
}

#[test]
fn sessions_end_after_30_minutes_of_inactivity() {
    let node = Node::start(&[]);
    let run = run_example(
        &node,
        "sessions",
        &[],
        &[("EVENTS", "800"), ("CHUNK", "100")],
    );
    let input = run.records("clickstream.ndjson");
    // Per user, clicks in arrival order (for EARLIEST_BY_OFFSET), then sessions by time.
    let mut by_user: BTreeMap<String, Vec<(i64, usize)>> = BTreeMap::new();
    for (i, r) in input.iter().enumerate() {
        by_user
            .entry(text(&r.value, "user_id"))
            .or_default()
            .push((r.timestamp, i));
    }
    let mut want: BTreeMap<(String, i64), (i64, i64, i64, String)> = BTreeMap::new();
    for (user, mut clicks) in by_user {
        clicks.sort();
        let mut sessions: Vec<Vec<(i64, usize)>> = Vec::new();
        for c in clicks {
            match sessions.last_mut() {
                Some(s) if c.0 - s.last().expect("nonempty").0 <= 30 * MINUTE => s.push(c),
                _ => sessions.push(vec![c]),
            }
        }
        for s in sessions {
            let first = s[0].0;
            let last = s[s.len() - 1].0;
            let pages: BTreeSet<String> = s
                .iter()
                .map(|(_, i)| text(&input[*i].value, "page"))
                .collect();
            let earliest = s.iter().map(|(_, i)| *i).min().expect("nonempty");
            want.insert(
                (user.clone(), first),
                (
                    s.len() as i64,
                    pages.len() as i64,
                    (last - first) / 1000,
                    text(&input[earliest].value, "referrer"),
                ),
            );
        }
    }
    let rows = view_rows(&node, "user_sessions");
    let got = rows_by(&rows, |r| (text(r, "user_id"), int(r, "window_start")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, (pages, distinct, duration, referrer)) in &want {
        let r = &got[k];
        assert_eq!(
            (
                int(r, "pages"),
                int(r, "distinct_pages"),
                int(r, "duration_s"),
                text(r, "referrer")
            ),
            (*pages, *distinct, *duration, referrer.clone()),
            "{k:?}"
        );
    }
    assert!(want.len() > 100, "sessions: {}", want.len());
}

#[test]
fn clicks_are_enriched_with_the_profiles_there_when_they_are_processed() {
    let node = Node::start(&[]);
    let run = run_example(&node, "stream-table-join", &[], &[("EVENTS", "400")]);
    let profiles = run.records("profiles.ndjson");
    let clicks = run.records("clicks.ndjson");
    let half = clicks.len() / 2;
    let table = |n: usize| -> HashMap<String, serde_json::Value> {
        profiles[..n]
            .iter()
            .map(|p| (text(&p.value, "user_id"), p.value.clone()))
            .collect()
    };
    let (before, after) = (table(60), table(profiles.len()));
    let mut want_tiers: BTreeMap<String, i64> = BTreeMap::new();
    let mut want_rows: Vec<(i64, String, Option<String>, Option<i64>)> = Vec::new();
    for (i, c) in clicks.iter().enumerate() {
        let t = if i < half { &before } else { &after };
        let user = text(&c.value, "user_id");
        let p = t.get(&user);
        let tier = p.map(|p| text(p, "tier"));
        *want_tiers
            .entry(tier.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
        want_rows.push((c.timestamp, user, tier, p.map(|p| int(p, "version"))));
    }
    assert!(
        want_tiers.contains_key("unknown"),
        "some clicks come before their profile"
    );
    let got_tiers: BTreeMap<String, i64> = view_rows(&node, "clicks_by_tier")
        .iter()
        .map(|r| (text(r, "tier"), int(r, "clicks")))
        .collect();
    assert_eq!(got_tiers, want_tiers);
    let got_rows: Vec<(i64, String, Option<String>, Option<i64>)> =
        topic_records(&node, "enriched_clicks-changelog")
            .iter()
            .map(|r| {
                let v = &r["value"];
                (
                    int(v, "ts"),
                    text(v, "user_id"),
                    v["tier"].as_str().map(str::to_owned),
                    v["version"].as_i64(),
                )
            })
            .collect();
    assert_eq!(got_rows, want_rows);
}

#[test]
fn fraud_alerts_flag_cards_in_two_cities_within_minutes() {
    let node = Node::start(&[]);
    let run = run_example(
        &node,
        "fraud-detection",
        &[],
        &[("EVENTS", "1500"), ("CHUNK", "300")],
    );
    let input = run.records("payments.ndjson");
    let mut want: BTreeMap<(String, i64), (i64, i64, f64)> = BTreeMap::new();
    let amounts = hopping(&input, "card_id", "amount");
    for (k, cities) in hopping(&input, "card_id", "city") {
        let distinct: BTreeSet<&str> = cities.iter().filter_map(|(_, v)| v.as_str()).collect();
        if distinct.len() > 1 {
            let total: f64 = amounts[&k]
                .iter()
                .map(|(_, v)| v.as_f64().expect("amount"))
                .sum();
            want.insert(k, (distinct.len() as i64, cities.len() as i64, total));
        }
    }
    assert!(!want.is_empty(), "the run should have fraud");
    let rows = view_rows(&node, "card_alerts");
    let got = rows_by(&rows, |r| (text(r, "card_id"), int(r, "window_start")));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, (cities, n, total)) in &want {
        assert_eq!(
            (int(&got[k], "cities"), int(&got[k], "payments")),
            (*cities, *n),
            "{k:?}"
        );
        assert!((num(&got[k], "total") - total).abs() < 0.006, "{k:?}");
    }
    // Every card used in two cities within 5 minutes is flagged.
    let mut last: HashMap<String, (i64, String)> = HashMap::new();
    let flagged: BTreeSet<&String> = want.keys().map(|(c, _)| c).collect();
    for r in &input {
        let card = text(&r.value, "card_id");
        let city = text(&r.value, "city");
        if let Some((t, c)) = last.get(&card)
            && *c != city
            && r.timestamp - t <= 5 * MINUTE
        {
            assert!(flagged.contains(&card), "{card} not flagged");
        }
        last.insert(card, (r.timestamp, city));
    }
}
