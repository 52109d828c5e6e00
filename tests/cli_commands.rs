//! The CLI against a real node: topics, produce (ndjson, lines, records, files), consume
//! (offsets, time, partitions, follow, groups), group commands, and failures that exit
//! non-zero with a message saying what to fix.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use common::*;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn topics_produce_and_consume() {
    let node = Node::start(&[]);
    let out = ok(&node.cli(&[
        "topic",
        "create",
        "clicks",
        "--partitions",
        "3",
        "--durability",
        "never",
        "--retention",
        "7d",
    ]));
    assert!(out.contains("created topic clicks"), "{out}");
    let v: Value = serde_json::from_str(&ok(
        &node.cli(&["topic", "describe", "clicks", "--output", "json"])
    ))
    .unwrap();
    assert_eq!(v["config"]["retention_ms"], 7 * 86_400_000u64);
    assert_eq!(v["partition_count"], 3);

    let input = b"{\"user\":\"ann\",\"n\":1,\"at\":\"2024-01-01T00:00:00Z\"}\n\n{\"user\":\"bob\",\"n\":2,\"at\":1700000000000}\n{\"user\":\"ann\",\"n\":3,\"at\":1700000000001}\n";
    let o = node.cli_stdin(
        &[
            "produce",
            "clicks",
            "--key-field",
            "user",
            "--timestamp-field",
            "at",
        ],
        Some(input),
    );
    ok(&o);
    assert!(
        stderr(&o).contains("produced 3 record(s)"),
        "{}",
        stderr(&o)
    );

    let recs = json_lines(&ok(&node.cli(&["consume", "clicks", "--output", "json"])));
    assert_eq!(recs.len(), 3);
    let ann: Vec<&Value> = recs.iter().filter(|r| r["key"] == "ann").collect();
    assert_eq!(ann.len(), 2);
    assert_eq!(
        ann[0]["partition"], ann[1]["partition"],
        "same key, same partition"
    );
    assert_eq!(ann[0]["timestamp"], 1_704_067_200_000i64);
    assert_eq!(ann[1]["value"]["n"], 3);

    // Values only, limited, from one partition and offset, and by time.
    let p = ann[0]["partition"].as_u64().unwrap().to_string();
    let out = ok(&node.cli(&["consume", "clicks", "--partition", &p, "--offset", "1"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [r#"{"user":"ann","n":3,"at":1700000000001}"#]
    );
    let out = ok(&node.cli(&["consume", "clicks", "--max", "1"]));
    assert_eq!(out.lines().count(), 1);
    // By time: ann's partition from its first record at or after T (then onward, in log
    // order, like Kafka's offsetsForTimes); bob's record is older than T.
    let out = ok(&node.cli(&["consume", "clicks", "--from-time", "2023-12-31T00:00:00Z"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(!out.contains("bob"), "{out}");

    // Lines from a file, a constant key, a partition; records format with headers.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("words.txt");
    std::fs::write(&file, "the quick brown fox\njumps over\n\nthe lazy dog\n").unwrap();
    let f = file.to_str().unwrap();
    ok(&node.cli(&["topic", "create", "lines"]));
    ok(&node.cli(&[
        "produce",
        "lines",
        "--format",
        "lines",
        "--file",
        f,
        "--key",
        "k",
        "--batch-size",
        "2",
    ]));
    let out = ok(&node.cli(&["consume", "lines"]));
    assert_eq!(out, "the quick brown fox\njumps over\nthe lazy dog\n");
    let recs = json_lines(&ok(&node.cli(&["consume", "lines", "--output", "json"])));
    assert!(
        recs.iter()
            .all(|r| r["key"] == "k" && r["value_text"].is_string())
    );
    ok(&node.cli_stdin(
        &["produce", "lines", "--format", "records"],
        Some(b"{\"key\":\"h\",\"value_b64\":\"AAE=\",\"headers\":{\"trace\":\"t1\"}}\n"),
    ));
    let recs = json_lines(&ok(
        &node.cli(&["consume", "lines", "--offset", "3", "--output", "json"])
    ));
    assert_eq!(recs[0]["value_b64"], "AAE=");
    assert_eq!(recs[0]["headers"][0]["value"], "t1");

    let list = ok(&node.cli(&["topic", "list"]));
    assert!(list.contains("clicks") && list.contains("lines"), "{list}");
    ok(&node.cli(&["topic", "delete", "lines"]));
    let list: Value =
        serde_json::from_str(&ok(&node.cli(&["topic", "list", "--output", "json"]))).unwrap();
    assert_eq!(list["topics"].as_array().unwrap().len(), 1);
}

#[test]
fn groups_commit_lag_and_reset() {
    let node = Node::start(&[]);
    ok(&node.cli(&["topic", "create", "t", "--durability", "never"]));
    let input: String = (0..10).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    ok(&node.cli_stdin(&["produce", "t"], Some(input.as_bytes())));

    let out = ok(&node.cli(&["consume", "t", "--group", "g", "--max", "4"]));
    assert_eq!(out.lines().count(), 4);
    let d: Value = serde_json::from_str(&ok(
        &node.cli(&["group", "describe", "g", "--output", "json"])
    ))
    .unwrap();
    assert_eq!(d["lag"], 6, "the CLI commits what it printed: {d}");
    let out = ok(&node.cli(&["consume", "t", "--group", "g"]));
    assert_eq!(out.lines().next(), Some(r#"{"i":4}"#));
    assert_eq!(out.lines().count(), 6);
    let table = ok(&node.cli(&["group", "describe", "g"]));
    assert!(table.contains("total lag 0"), "{table}");
    assert!(ok(&node.cli(&["group", "list"])).contains('g'));

    ok(&node.cli(&["group", "reset", "g", "--topic", "t", "--to-earliest"]));
    let d: Value = serde_json::from_str(&ok(
        &node.cli(&["group", "describe", "g", "--output", "json"])
    ))
    .unwrap();
    assert_eq!(d["lag"], 10);
    ok(&node.cli(&["group", "reset", "g", "--topic", "t", "--to-offset", "8"]));
    assert_eq!(
        ok(&node.cli(&["consume", "t", "--group", "g"]))
            .lines()
            .count(),
        2
    );
    ok(&node.cli(&["group", "reset", "g", "--topic", "t", "--to-time", "-1h"]));
    let d: Value = serde_json::from_str(&ok(
        &node.cli(&["group", "describe", "g", "--output", "json"])
    ))
    .unwrap();
    assert_eq!(d["lag"], 10);
    ok(&node.cli(&["group", "reset", "g", "--topic", "t", "--to-latest"]));
    assert_eq!(ok(&node.cli(&["consume", "t", "--group", "g"])), "");
    let o = node.cli(&["group", "reset", "g", "--topic", "t"]);
    assert!(!o.status.success());
    ok(&node.cli(&["group", "delete", "g"]));
    let o = node.cli(&["group", "describe", "g"]);
    assert!(
        !o.status.success() && stderr(&o).contains("does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn follow_prints_new_records() {
    let node = Node::start(&[]);
    ok(&node.cli(&[
        "topic",
        "create",
        "f",
        "--partitions",
        "2",
        "--durability",
        "never",
    ]));
    ok(&node.cli_stdin(&["produce", "f"], Some(b"\"old\"\n")));
    let mut child = Command::new(BIN)
        .args(["consume", "f", "--follow", "--max", "2"])
        .env("STRATA_SERVER", &node.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    ok(&node.cli_stdin(&["produce", "f"], Some(b"\"new 1\"\n\"new 2\"\n")));
    let status =
        wait_timeout(&mut child, Duration::from_secs(20)).expect("follow stops after --max");
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        stdout(&out),
        "\"new 1\"\n\"new 2\"\n",
        "follow starts at the end"
    );

    let out = Command::new(BIN)
        .args(["consume", "f", "--follow", "--from-beginning", "--max", "3"])
        .env("STRATA_SERVER", &node.url)
        .output()
        .unwrap();
    assert_eq!(stdout(&out).lines().count(), 3);
}

/// CLI arguments, stdin, and what stderr must say.
type Case<'a> = (&'a [&'a str], Option<&'a [u8]>, &'a str);

#[test]
fn failures_exit_nonzero_with_a_message() {
    let node = Node::start(&[]);
    let cases: [Case; 6] = [
        (&["topic", "create", "bad/name"], None, "may use only"),
        (
            &["topic", "create", "t", "--durability", "sometimes"],
            None,
            "durability",
        ),
        (&["topic", "describe", "missing"], None, "does not exist"),
        (&["produce", "missing"], Some(b"1\n"), "create it first"),
        (&["consume", "missing"], None, "does not exist"),
        (&["group", "describe", "nobody"], None, "does not exist"),
    ];
    for (args, stdin, needle) in cases {
        let o = node.cli_stdin(args, stdin);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    }
    ok(&node.cli(&["topic", "create", "t"]));
    let o = node.cli_stdin(&["produce", "t"], Some(b"{\"ok\":1}\nnot json\n"));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("line 2") && stderr(&o).contains("--format lines"),
        "{}",
        stderr(&o)
    );
    let o = node.cli(&["consume", "t", "--partition", "4"]);
    assert!(
        !o.status.success() && stderr(&o).contains("partitions 0..=0"),
        "{}",
        stderr(&o)
    );
    let o = node.cli(&["consume", "t", "--from-time", "someday"]);
    assert!(
        !o.status.success() && stderr(&o).contains("RFC 3339"),
        "{}",
        stderr(&o)
    );

    // Nothing listening: says so and how to point elsewhere.
    let o = Command::new(BIN)
        .args(["topic", "list", "--server", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("cannot reach strata") && stderr(&o).contains("STRATA_SERVER"),
        "{}",
        stderr(&o)
    );
    // Bad flags: clap's usage error.
    let o = Command::new(BIN).args(["consume"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    // A broken config file stops serve with the reason.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("strata.toml");
    std::fs::File::create(&cfg)
        .unwrap()
        .write_all(b"htp = \"x\"\n")
        .unwrap();
    let o = Command::new(BIN)
        .args(["serve", "--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown field"), "{}", stderr(&o));
}
