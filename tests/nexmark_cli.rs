//! `strata gen nexmark` and `strata bench nexmark` through the real binary: deterministic
//! events in the reference's proportions to a file and to the three topics of a node, a
//! small benchmark run with JSON output, and bad input that exits non-zero with a message.

mod common;

use std::process::Command;

use serde_json::Value;

use common::*;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("STRATA_SERVER")
        .output()
        .expect("run strata")
}

#[test]
fn gen_nexmark_to_a_file_is_deterministic_and_in_proportion() {
    let args = [
        "gen", "nexmark", "--events", "500", "--seed", "3", "--out", "-",
    ];
    let first = ok(&run(&args));
    assert_eq!(first, ok(&run(&args)), "same seed, same events");
    let other = ok(&run(&[
        "gen", "nexmark", "--events", "500", "--seed", "4", "--out", "-",
    ]));
    assert_ne!(first, other);
    let mut kinds = [0; 3];
    for line in first.lines() {
        let v: Value = serde_json::from_str(line).expect("json line");
        let t = v["event_type"].as_u64().expect("event_type") as usize;
        let body = &v[["person", "auction", "bid"][t]];
        assert!(body["datetime"].as_i64().is_some(), "{line}");
        kinds[t] += 1;
    }
    assert_eq!(kinds, [10, 30, 460]);
}

#[test]
fn gen_nexmark_fills_the_three_topics_of_a_node() {
    let node = Node::start(&[]);
    let out = node.cli(&[
        "gen", "nexmark", "--events", "1000", "--rate", "1000", "--topic", "nexmark",
    ]);
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("20 to person, 60 to auction, 920 to bid"),
        "{text}"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let c = node.client();
    for (topic, n) in [("person", 20), ("auction", 60), ("bid", 920)] {
        assert_eq!(rt.block_on(end_offsets(&c, topic)), vec![n], "{topic}");
    }
    let bad = node.cli(&[
        "gen", "nexmark", "--events", "10", "--keys", "5", "--topic", "nexmark",
    ]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("drop --out-of-order-ms"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn gen_nexmark_live_paces_to_the_rate() {
    let node = Node::start(&[]);
    let started = std::time::Instant::now();
    // 400 events at 200 events/s: the last is due 1.995 s after the first.
    let out = node.cli(&[
        "gen", "nexmark", "--events", "400", "--rate", "200", "--live", "--topic", "live.",
    ]);
    let took = started.elapsed();
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("8 to live.person, 24 to live.auction, 368 to live.bid"),
        "{text}"
    );
    assert!(
        took >= std::time::Duration::from_millis(1500),
        "paced to 200 events/s, 400 events took only {took:?}"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let c = node.client();
    for (topic, n) in [("live.person", 8), ("live.auction", 24), ("live.bid", 368)] {
        assert_eq!(rt.block_on(end_offsets(&c, topic)), vec![n], "{topic}");
    }
    // Endless in practice: Ctrl-C (SIGINT) sends what is pending, reports and exits 0.
    let mut child = std::process::Command::new(BIN)
        .args([
            "gen", "nexmark", "--events", "1000000", "--rate", "200", "--live", "--topic", "stop.",
        ])
        .env("STRATA_SERVER", &node.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn gen");
    std::thread::sleep(std::time::Duration::from_millis(1200));
    signal(&child, "INT");
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(20)).expect("gen stops");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut text)
        .expect("stderr");
    assert!(status.success(), "{status}: {text}");
    assert!(text.contains("stopped by Ctrl-C"), "{text}");
    let total: u64 = ["stop.person", "stop.auction", "stop.bid"]
        .iter()
        .map(|t| rt.block_on(end_offsets(&c, t))[0])
        .sum();
    assert!(
        text.contains(&format!("generated {total} nexmark event(s)")),
        "every reported event is in the topics ({total}): {text}"
    );
    assert!((50..1000).contains(&total), "about 200/s for ~1 s: {total}");
}

#[test]
fn bench_nexmark_reports_rates_latency_and_rows() {
    for extra in [&[][..], &["--from-log"][..]] {
        let mut args = vec![
            "bench", "nexmark", "--query", "q7", "--events", "30000", "--rate", "1000", "--runs",
            "1", "--output", "json",
        ];
        args.extend_from_slice(extra);
        let out = ok(&run(&args));
        let v: Value = serde_json::from_str(&out).expect("json");
        let row = &v[0];
        assert_eq!(row["query"], "q7");
        assert_eq!(row["events"], 30000);
        assert!(row["events_per_sec"].as_f64().expect("rate") > 0.0);
        // 30 s of event time: three 10-second windows, each with its highest bid(s).
        assert!(row["rows_out"].as_u64().expect("rows") >= 3, "{row}");
        assert!(row["p99_latency_ms"].as_f64().is_some(), "{row}");
        assert_eq!(row["flink_1_13_per_core"], 12300.0);
    }
    let bad = run(&["bench", "nexmark", "--query", "q99", "--events", "10"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown Nexmark query"),
        "{}",
        stderr(&bad)
    );
}
