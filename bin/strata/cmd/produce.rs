//! `strata produce`: read lines from stdin, a file or TCP clients, turn each into a record,
//! and send them in batched requests, one request in flight at a time (so records keep
//! their input order within a partition).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use strata_server::api::records::Produced;
use strata_server::client::{Client, encode_path};
use strata_server::records::write_str;
use strata_server::time::parse_duration_ms;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

use super::{Failure, Result, client, fail, print_json};
use crate::args::{InputFormat, Output, ProduceArgs};

/// Turns input lines into record objects of the HTTP API.
#[derive(Debug, Clone)]
struct Converter {
    format: InputFormat,
    key: Option<String>,
    key_field: Option<String>,
    timestamp_field: Option<String>,
    partition: Option<u32>,
}

/// What the readers hand the sender.
enum Item {
    Record(String),
    Bad(String),
}

impl Converter {
    /// One record object for `line` (without its newline); `Ok(None)` for a blank line.
    fn convert(&self, line: &[u8]) -> std::result::Result<Option<String>, String> {
        let line = trim_newline(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let mut out = String::with_capacity(line.len() + 32);
        match self.format {
            InputFormat::Lines => {
                match std::str::from_utf8(line) {
                    Ok(text) => {
                        let mut buf = Vec::with_capacity(text.len() + 16);
                        buf.extend_from_slice(b"{\"value_text\":");
                        write_str(&mut buf, text);
                        out.push_str(&String::from_utf8_lossy(&buf));
                    }
                    Err(_) => {
                        out.push_str("{\"value_b64\":\"");
                        out.push_str(&base64::engine::general_purpose::STANDARD.encode(line));
                        out.push('"');
                    }
                }
                self.push_common(&mut out, self.key.as_deref(), None);
                out.push('}');
            }
            InputFormat::Ndjson => {
                let text = std::str::from_utf8(line)
                    .map_err(|_| "not UTF-8 text (use --format lines for raw text)".to_owned())?;
                let (key, ts) = if self.key_field.is_some() || self.timestamp_field.is_some() {
                    let v: Value = serde_json::from_str(text).map_err(|e| {
                        format!("not JSON ({e}); use --format lines to send plain text")
                    })?;
                    let key = match &self.key_field {
                        None => self.key.clone(),
                        Some(f) => Some(field_text(&v, f).ok_or_else(|| {
                            format!("has no field {f:?} to take the key from (--key-field)")
                        })?),
                    };
                    let ts = match &self.timestamp_field {
                        None => None,
                        Some(f) => Some(v.get(f).cloned().ok_or_else(|| {
                            format!(
                                "has no field {f:?} to take the timestamp from (--timestamp-field)"
                            )
                        })?),
                    };
                    (key, ts)
                } else {
                    serde_json::from_str::<&RawValue>(text).map_err(|e| {
                        format!("not JSON ({e}); use --format lines to send plain text")
                    })?;
                    (self.key.clone(), None)
                };
                out.push_str("{\"value\":");
                out.push_str(text.trim());
                self.push_common(&mut out, key.as_deref(), ts.as_ref());
                out.push('}');
            }
            InputFormat::Records => {
                let text = std::str::from_utf8(line).map_err(|_| "not UTF-8 text".to_owned())?;
                let mut obj: Map<String, Value> = serde_json::from_str(text).map_err(|e| {
                    format!("not a record object ({e}); each line should look like {{\"key\": \"k\", \"value\": {{...}}}}")
                })?;
                if let Some(k) = &self.key {
                    obj.insert("key".into(), Value::String(k.clone()));
                }
                if let Some(f) = &self.key_field {
                    let k = obj
                        .get("value")
                        .and_then(|v| field_text(v, f))
                        .ok_or_else(|| {
                            format!(
                                "its value has no field {f:?} to take the key from (--key-field)"
                            )
                        })?;
                    obj.insert("key".into(), Value::String(k));
                }
                if let Some(f) = &self.timestamp_field {
                    let t = obj.get("value").and_then(|v| v.get(f)).cloned().ok_or_else(|| {
                        format!("its value has no field {f:?} to take the timestamp from (--timestamp-field)")
                    })?;
                    obj.insert("timestamp".into(), t);
                }
                if let Some(p) = self.partition {
                    obj.insert("partition".into(), p.into());
                }
                out.push_str(&Value::Object(obj).to_string());
            }
        }
        Ok(Some(out))
    }

    fn push_common(&self, out: &mut String, key: Option<&str>, ts: Option<&Value>) {
        if let Some(k) = key {
            out.push_str(",\"key\":");
            out.push_str(&Value::String(k.to_owned()).to_string());
        }
        if let Some(t) = ts {
            out.push_str(",\"timestamp\":");
            out.push_str(&t.to_string());
        }
        if let Some(p) = self.partition {
            out.push_str(&format!(",\"partition\":{p}"));
        }
    }
}

/// A field of a JSON object as key text: strings as they are, other values as JSON.
fn field_text(v: &Value, field: &str) -> Option<String> {
    match v.get(field)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Totals for the summary.
#[derive(Debug, Default)]
struct Totals {
    records: u64,
    requests: u64,
    /// Lowest and highest offset written, per partition.
    ranges: BTreeMap<u64, (u64, u64)>,
}

/// `strata produce`.
pub async fn run(a: ProduceArgs) -> Result {
    if a.batch_size == 0 || a.batch_size > 100_000 {
        return fail("--batch-size must be between 1 and 100000");
    }
    if a.key_field.is_some() && a.format == InputFormat::Lines {
        return fail(
            "--key-field reads a field of a JSON value: use it with --format ndjson or records (or give a constant --key)",
        );
    }
    if a.timestamp_field.is_some() && a.format == InputFormat::Lines {
        return fail(
            "--timestamp-field reads a field of a JSON value: use it with --format ndjson or records",
        );
    }
    let linger = Duration::from_millis(
        parse_duration_ms(&a.linger).map_err(|e| Failure(format!("--linger: {e}")))?,
    );
    let client = client(&a.server)?;
    // Fail before reading any input when the topic is missing or the node is down.
    client
        .call(
            hyper::Method::GET,
            &format!("/v1/topics/{}", encode_path(&a.topic)),
            None,
        )
        .await?;
    let conv = Converter {
        format: a.format,
        key: a.key.clone(),
        key_field: a.key_field.clone(),
        timestamp_field: a.timestamp_field.clone(),
        partition: a.partition,
    };
    let (tx, rx) = mpsc::channel::<Item>(16 * 1024);
    let started = Instant::now();
    let mut progress = None;
    let listening = a.listen.is_some();
    if let Some(addr) = &a.listen {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Failure(format!(
                "--listen {addr}: cannot listen there ({e}); give a free HOST:PORT like 127.0.0.1:9999"
            ))
        })?;
        let local = listener.local_addr()?;
        eprintln!(
            "listening on {local}: each line a TCP client sends becomes a record of {} (try: nc {} {}); Ctrl-C to stop",
            a.topic,
            local.ip(),
            local.port()
        );
        tokio::spawn(accept_loop(listener, conv, tx));
    } else {
        let bytes_read = Arc::new(AtomicU64::new(0));
        let input: Box<dyn Read + Send> = match &a.file {
            Some(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| Failure(format!("cannot open --file {}: {e}", path.display())))?;
                let len = file.metadata().map(|m| m.len()).unwrap_or(0);
                let bar = ProgressBar::with_draw_target(
                    Some(len),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                progress = Some((bar, Arc::clone(&bytes_read)));
                Box::new(file)
            }
            None => Box::new(std::io::stdin()),
        };
        std::thread::spawn(move || read_lines(input, &conv, &tx, &bytes_read));
    }
    let totals = send_loop(&client, &a, rx, linger, listening, progress.as_ref()).await;
    if let Some((bar, _)) = &progress {
        bar.finish_and_clear();
    }
    let totals = totals?;
    let elapsed = started.elapsed().as_secs_f64();
    let rate = if elapsed > 0.0 {
        totals.records as f64 / elapsed
    } else {
        0.0
    };
    match a.output {
        Output::Json => print_json(&json!({
            "topic": a.topic,
            "records": totals.records,
            "requests": totals.requests,
            "seconds": elapsed,
            "records_per_second": rate,
            "partitions": totals.ranges.iter().map(|(p, (lo, hi))| json!({"partition": p, "first_offset": lo, "last_offset": hi})).collect::<Vec<_>>(),
        })),
        Output::Table => {
            let ranges: Vec<String> = totals
                .ranges
                .iter()
                .map(|(p, (lo, hi))| format!("partition {p}: offsets {lo}..={hi}"))
                .collect();
            eprintln!(
                "produced {} record(s) to {} in {:.2}s ({:.0} records/s, {} request(s)){}{}",
                totals.records,
                a.topic,
                elapsed,
                rate,
                totals.requests,
                if ranges.is_empty() { "" } else { "; " },
                ranges.join(", ")
            );
            Ok(())
        }
    }
}

/// Reads lines on a plain thread (stdin and files block), converting as it goes.
fn read_lines(
    input: Box<dyn Read + Send>,
    conv: &Converter,
    tx: &mpsc::Sender<Item>,
    bytes_read: &AtomicU64,
) {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(n) => {
                number += 1;
                bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                let item = match conv.convert(&line) {
                    Ok(None) => continue,
                    Ok(Some(r)) => Item::Record(r),
                    Err(e) => Item::Bad(format!("line {number}: {e}")),
                };
                let stop = matches!(item, Item::Bad(_));
                if tx.blocking_send(item).is_err() || stop {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Item::Bad(format!("cannot read the input: {e}")));
                return;
            }
        }
    }
}

/// Accepts TCP clients; every line any of them sends becomes a record.
async fn accept_loop(listener: tokio::net::TcpListener, conv: Converter, tx: mpsc::Sender<Item>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let conv = conv.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            eprintln!("client {peer} connected");
            let mut reader = tokio::io::BufReader::new(stream);
            let mut line = Vec::new();
            let mut number = 0u64;
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        number += 1;
                        match conv.convert(&line) {
                            Ok(None) => {}
                            Ok(Some(r)) => {
                                if tx.send(Item::Record(r)).await.is_err() {
                                    break;
                                }
                            }
                            // One client's bad line must not stop the others: skip it.
                            Err(e) => eprintln!("client {peer}, line {number}: {e} (skipped)"),
                        }
                    }
                }
            }
            eprintln!("client {peer} disconnected");
        });
    }
}

/// Batches records and sends them; returns the totals, or the first failure.
async fn send_loop(
    client: &Client,
    a: &ProduceArgs,
    mut rx: mpsc::Receiver<Item>,
    linger: Duration,
    listening: bool,
    progress: Option<&(ProgressBar, Arc<AtomicU64>)>,
) -> Result<Totals> {
    let mut totals = Totals::default();
    let mut batch: Vec<String> = Vec::with_capacity(a.batch_size);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let next = tokio::select! {
            item = rx.recv() => Some(item),
            () = tokio::time::sleep(linger), if !batch.is_empty() => None,
            _ = &mut ctrl_c, if listening => {
                flush(client, &a.topic, &mut batch, &mut totals).await?;
                return Ok(totals);
            }
        };
        match next {
            // Linger expired with a partial batch.
            None => flush(client, &a.topic, &mut batch, &mut totals).await?,
            Some(None) => {
                flush(client, &a.topic, &mut batch, &mut totals).await?;
                return Ok(totals);
            }
            Some(Some(Item::Record(r))) => {
                batch.push(r);
                if batch.len() >= a.batch_size {
                    flush(client, &a.topic, &mut batch, &mut totals).await?;
                }
            }
            Some(Some(Item::Bad(msg))) => {
                flush(client, &a.topic, &mut batch, &mut totals).await?;
                return fail(format!(
                    "{msg}; stopped there after producing {} record(s)",
                    totals.records
                ));
            }
        }
        if let Some((bar, read)) = progress {
            bar.set_position(read.load(Ordering::Relaxed));
            bar.set_message(format!("{} records", totals.records));
        }
    }
}

async fn flush(
    client: &Client,
    topic: &str,
    batch: &mut Vec<String>,
    totals: &mut Totals,
) -> Result {
    if batch.is_empty() {
        return Ok(());
    }
    let mut body = String::with_capacity(batch.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    body.push('[');
    for (i, r) in batch.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(r);
    }
    body.push(']');
    let sent = batch.len() as u64;
    let reply = client
        .produce(topic, Bytes::from(body))
        .await
        .map_err(|e| {
            Failure(format!(
                "{e}; {} record(s) were produced before this batch of {sent}",
                totals.records
            ))
        })?;
    batch.clear();
    totals.records += sent;
    totals.requests += 1;
    let produced: Produced = super::read(&reply)?;
    for o in produced.offsets {
        let range = totals
            .ranges
            .entry(u64::from(o.partition))
            .or_insert((o.offset, o.offset));
        range.0 = range.0.min(o.offset);
        range.1 = range.1.max(o.offset);
    }
    Ok(())
}
