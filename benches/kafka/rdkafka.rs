//! librdkafka without kcat: `benches/kafka/rdkafka-client`, a small program on the `rdkafka`
//! crate, built here on first use (its own Cargo project, so librdkafka's C build is paid by
//! this benchmark only) and run as a child process per case.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::client::Result;

/// The client's executable, built in release mode under the target dir if it is missing or
/// stale (cargo decides).
pub fn build() -> Result<PathBuf> {
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/kafka/rdkafka-client/Cargo.toml"
    );
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rdkafka-client");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path", manifest])
        .arg("--target-dir")
        .arg(&target)
        .status()?;
    if !status.success() {
        return Err(format!("building {manifest} failed: {status}").into());
    }
    Ok(target.join("release/strata-bench-rdkafka"))
}

/// Seconds for librdkafka to produce `records` values of `value_bytes` to partition 0 of
/// `topic` and receive every delivery report (acks=all, linger 5 ms, batch 1 MiB).
pub fn produce(
    client: &PathBuf,
    kafka: &str,
    topic: &str,
    records: u64,
    value_bytes: usize,
) -> Result<f64> {
    let (records, value_bytes) = (records.to_string(), value_bytes.to_string());
    run(client, &["produce", kafka, topic, &records, &value_bytes])
}

/// Seconds for librdkafka to read `records` messages of partition 0 of `topic` from the
/// beginning (the client checks that every offset arrives, in order).
pub fn consume(client: &PathBuf, kafka: &str, topic: &str, records: u64) -> Result<f64> {
    run(client, &["consume", kafka, topic, &records.to_string()])
}

fn run(client: &PathBuf, args: &[&str]) -> Result<f64> {
    let out = Command::new(client)
        .args(args)
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("{} {args:?} failed: {}", client.display(), out.status).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}
