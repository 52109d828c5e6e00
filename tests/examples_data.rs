//! The samples in data/ are exactly what `strata gen` makes from the commands in
//! data/generate.sh (so they stay deterministic and reproducible), and `strata gen` rejects
//! bad settings with a message naming the flag.

mod common;

use std::process::Command;

use common::*;

#[test]
fn data_samples_are_what_strata_gen_makes() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let script = std::fs::read_to_string(root.join("generate.sh")).expect("data/generate.sh");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    for line in script.lines().filter(|l| l.starts_with("\"$STRATA\" gen ")) {
        let args: Vec<&str> = line["\"$STRATA\" ".len()..].split_whitespace().collect();
        let out_at = args.iter().position(|a| *a == "--out").expect("--out") + 1;
        let file = args[out_at];
        let mut args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        args[out_at] = tmp.path().join(file).display().to_string();
        let status = Command::new(BIN)
            .args(&args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run strata gen");
        assert!(status.success(), "{line}");
        let made = std::fs::read(tmp.path().join(file)).expect("generated");
        let committed = std::fs::read(root.join(file)).expect("committed sample");
        assert!(
            made == committed,
            "data/{file} differs from `{line}`; run data/generate.sh"
        );
        checked += 1;
    }
    assert_eq!(checked, 8, "one sample per dataset");
}

#[test]
fn gen_writes_record_objects_and_rejects_bad_settings() {
    let out = Command::new(BIN)
        .args(["gen", "transactions", "--events", "20", "--seed", "3"])
        .args(["--out", "-", "--format", "records"])
        .output()
        .expect("gen");
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 20);
    for r in &lines {
        assert_eq!(r["key"], r["value"]["card_id"]);
        assert_eq!(r["timestamp"], r["value"]["ts"]);
    }
    for (args, message) in [
        (
            vec!["gen", "nope", "--events", "1", "--out", "-"],
            "unknown dataset",
        ),
        (
            vec!["gen", "text", "--events", "0", "--out", "-"],
            "--events",
        ),
        (
            vec!["gen", "text", "--events", "5", "--rate", "0", "--out", "-"],
            "--rate",
        ),
        (
            vec![
                "gen",
                "text",
                "--events",
                "5",
                "--late-fraction",
                "3",
                "--out",
                "-",
            ],
            "--late-fraction",
        ),
        (
            vec![
                "gen",
                "text",
                "--events",
                "5",
                "--start",
                "yesterday",
                "--out",
                "-",
            ],
            "--start",
        ),
        (vec!["gen", "text", "--events", "5"], "--topic"),
    ] {
        let out = Command::new(BIN).args(&args).output().expect("gen");
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[test]
fn gen_produces_to_a_topic_through_the_http_api() {
    let node = Node::start(&[]);
    let out = node.cli(&[
        "gen",
        "orders",
        "--events",
        "2500",
        "--seed",
        "5",
        "--topic",
        "orders",
        "--partitions",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = Command::new(BIN)
        .args([
            "gen", "orders", "--events", "2500", "--seed", "5", "--out", "-",
        ])
        .output()
        .expect("gen");
    let mut want: Vec<String> = String::from_utf8_lossy(&file.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let consumed = node.cli(&["consume", "orders"]);
    let mut got: Vec<String> = String::from_utf8_lossy(&consumed.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got.len(), 2500);
    assert!(got == want, "the topic holds other records than the file");
}
