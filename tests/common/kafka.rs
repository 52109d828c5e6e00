//! Helpers of the tests that drive a node's Kafka listener (`strata serve --kafka`) with real
//! clients: kcat (librdkafka), kafka-python and confluent-kafka, installed by
//! `scripts/deps.sh`. The Python clients are files under `tests/`, beside the tests that run
//! them, so a user can run one by hand against `strata demo`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A file under `tests/`.
pub fn test_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(relative)
}

/// Runs a client command with `stdin`, failing the test with its output when it fails.
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {cmd:?} ({e}): scripts/deps.sh installs the Kafka test clients")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("client output");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// kcat against `bootstrap`, quiet.
pub fn kcat(bootstrap: &str) -> Command {
    let mut cmd = Command::new("kcat");
    cmd.args(["-b", bootstrap, "-q"]);
    cmd
}

/// Runs `python3 tests/<script> <args>` and returns its stdout.
pub fn python(script: &str, args: &[&str]) -> String {
    let out = run(
        Command::new("python3").arg(test_file(script)).args(args),
        b"",
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A Kafka client's whole round trip through the listener (metadata, produce with acks=all,
/// list offsets, fetch), by kcat: produces `value` to partition 0 of `topic` and reads the
/// partition's last record back. Returns its offset; proof that the listener still serves.
pub fn kcat_round_trip(bootstrap: &str, topic: &str, value: &str) -> u64 {
    run(
        kcat(bootstrap).args(["-P", "-t", topic, "-p", "0", "-X", "acks=all"]),
        format!("{value}\n").as_bytes(),
    );
    let out = run(
        kcat(bootstrap).args([
            "-C", "-t", topic, "-p", "0", "-o", "-1", "-e", "-f", "%o %s\\n",
        ]),
        b"",
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let (offset, read) = text
        .trim_end()
        .split_once(' ')
        .unwrap_or_else(|| panic!("kcat read nothing back from {topic}: {text:?}"));
    assert_eq!(read, value, "kcat read back another record");
    offset.parse().expect("offset")
}
