//! `strata consume`: print a topic's records, once through or following; as a consumer
//! group, committing after each printed batch (at-least-once).

use std::io::Write;

use http_body_util::BodyExt;
use hyper::Method;
use serde_json::value::RawValue;
use strata_server::api::groups::CommitOffsets;
use strata_server::api::records::{Fetched, Record};
use strata_server::api::topics::Topic;
use strata_server::api::{ErrorBody, PartitionOffset};
use strata_server::client::{Client, api_error, encode_path};
use strata_server::time::{now_ms, parse_time};

use super::ndjson::Lines;
use super::{Failure, Result, client, fail, read};
use crate::args::{ConsumeArgs, RecordOutput};

/// Records per request.
const PAGE: u64 = 5_000;

/// `strata consume`.
pub async fn run(a: ConsumeArgs) -> Result {
    let client = client(&a.server)?;
    let topic = client
        .call(
            Method::GET,
            &format!("/v1/topics/{}", encode_path(&a.topic)),
            None,
        )
        .await?;
    let partitions = read::<Topic>(&topic)?.partition_count;
    if let Some(p) = a.partition.filter(|p| *p >= partitions) {
        return fail(format!(
            "--partition {p}: topic {} has partitions 0..={}",
            a.topic,
            partitions - 1
        ));
    }
    let mut printer = Printer {
        output: a.output,
        out: std::io::BufWriter::new(std::io::stdout().lock()),
        printed: 0,
    };
    let result = if let Some(group) = &a.group {
        consume_group(&client, &a, group, &mut printer).await
    } else if a.follow {
        follow(&client, &a, &mut printer).await
    } else {
        read_through(&client, &a, partitions, &mut printer).await
    };
    let flushed = printer.out.flush();
    match (result, flushed) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        (Ok(()), r) => Ok(r?),
    }
}

struct Printer<W: Write> {
    output: RecordOutput,
    out: W,
    printed: u64,
}

impl<W: Write> Printer<W> {
    /// Prints one record (its JSON exactly as the node sent it); `Ok(false)` when stdout is
    /// closed (e.g. piped into `head`).
    fn print(&mut self, r: &RawValue) -> Result<bool> {
        let written = match self.output {
            RecordOutput::Json => writeln!(self.out, "{}", r.get()),
            RecordOutput::Value => {
                let v: Record = serde_json::from_str(r.get())
                    .map_err(|e| Failure(format!("the node sent a record without a value: {e}")))?;
                match (v.value, v.value_text, v.value_b64) {
                    (Some(v), _, _) => writeln!(self.out, "{}", v.get()),
                    (None, Some(t), _) => writeln!(self.out, "{t}"),
                    (None, None, Some(b)) => writeln!(self.out, "{b}"),
                    (None, None, None) => writeln!(self.out),
                }
            }
        };
        match written {
            Ok(()) => {
                self.printed += 1;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn remaining(&self, max: Option<u64>) -> u64 {
        max.map_or(u64::MAX, |m| m.saturating_sub(self.printed))
    }
}

/// Where a group-less read starts, as query parameters.
fn start_params(a: &ConsumeArgs) -> Result<String> {
    if let Some(o) = a.offset {
        Ok(format!("offset={o}"))
    } else if let Some(t) = &a.from_time {
        let ms = parse_time(t, now_ms()).map_err(|e| Failure(format!("--from-time: {e}")))?;
        Ok(format!("timestamp={ms}"))
    } else if a.from_beginning || !a.follow {
        Ok("offset=earliest".into())
    } else {
        Ok("offset=latest".into())
    }
}

/// Reads each partition from its start position to the end it has now, then stops.
async fn read_through<W: Write>(
    client: &Client,
    a: &ConsumeArgs,
    partitions: u32,
    printer: &mut Printer<W>,
) -> Result {
    let list: Vec<u32> = a
        .partition
        .map_or_else(|| (0..partitions).collect(), |p| vec![p]);
    let base = format!("/v1/topics/{}/records", encode_path(&a.topic));
    for p in list {
        let mut start = start_params(a)?;
        loop {
            let max = printer.remaining(a.max).min(PAGE);
            if max == 0 {
                return Ok(());
            }
            let path = format!("{base}?partition={p}&{start}&max={max}");
            let reply = client.raw(Method::GET, &path, None).await?;
            if !reply.status.is_success() {
                return Err(api_error(reply.status, &reply.body).into());
            }
            let v = parse_fetch(&reply.body)?;
            for r in &v.records {
                if !printer.print(r)? {
                    return Ok(());
                }
            }
            if v.records.is_empty() {
                break;
            }
            let next = v
                .next_offsets
                .iter()
                .find(|n| n.partition == p)
                .map_or(0, |n| n.offset);
            start = format!("offset={next}");
        }
    }
    Ok(())
}

/// Streams new records (NDJSON) until Ctrl-C, --max, or the node ends the stream.
async fn follow<W: Write>(client: &Client, a: &ConsumeArgs, printer: &mut Printer<W>) -> Result {
    let mut path = format!(
        "/v1/topics/{}/records?follow=true&{}",
        encode_path(&a.topic),
        start_params(a)?
    );
    if let Some(p) = a.partition {
        path.push_str(&format!("&partition={p}"));
    }
    if let Some(m) = a.max {
        path.push_str(&format!("&max={m}"));
    }
    let response = client.send(Method::GET, &path, None).await?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(api_error(status, &body).into());
    }
    let mut lines = Lines::new(response.into_body());
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let line = tokio::select! {
            l = lines.next() => l?,
            _ = &mut ctrl_c => return Ok(()),
        };
        let Some(line) = line else {
            return Ok(());
        };
        let text = std::str::from_utf8(&line)
            .map_err(|e| Failure(format!("the node sent a line that is not UTF-8: {e}")))?;
        if text.starts_with("{\"error\"") {
            let message = serde_json::from_str::<ErrorBody>(text)
                .map_or_else(|_| text.to_owned(), |e| e.error.message);
            return fail(format!("the node ended the stream: {message}"));
        }
        let r: &RawValue = serde_json::from_str(text)
            .map_err(|e| Failure(format!("the node sent a line that is not JSON: {e}")))?;
        if !printer.print(r)? {
            return Ok(());
        }
        printer.out.flush().ok();
    }
}

/// Reads as a consumer group: from its committed offsets, committing after each batch is
/// printed. Without --follow it stops once a fetch comes back empty.
async fn consume_group<W: Write>(
    client: &Client,
    a: &ConsumeArgs,
    group: &str,
    printer: &mut Printer<W>,
) -> Result {
    let mut base = format!(
        "/v1/groups/{}/topics/{}/records?auto_commit=false",
        encode_path(group),
        encode_path(&a.topic)
    );
    if let Some(p) = a.partition {
        base.push_str(&format!("&partition={p}"));
    }
    if a.follow {
        base.push_str("&wait_ms=1000");
    }
    let commit_path = format!("/v1/groups/{}/offsets", encode_path(group));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let max = printer.remaining(a.max).min(PAGE);
        if max == 0 {
            return Ok(());
        }
        let path = format!("{base}&max={max}");
        let reply = tokio::select! {
            v = client.raw(Method::GET, &path, None) => v?,
            _ = &mut ctrl_c => return Ok(()),
        };
        if !reply.status.is_success() {
            return Err(api_error(reply.status, &reply.body).into());
        }
        let v = parse_fetch(&reply.body)?;
        let records = &v.records;
        let mut next: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
        let mut stopped = false;
        for r in records {
            if !printer.print(r)? {
                stopped = true;
                break;
            }
            if let Ok(pos) = serde_json::from_str::<Record>(r.get()) {
                next.insert(pos.partition, pos.offset + 1);
            }
        }
        printer.out.flush().ok();
        if !next.is_empty() {
            let commit = CommitOffsets {
                topic: a.topic.clone(),
                offsets: next
                    .iter()
                    .map(|(&partition, &offset)| PartitionOffset { partition, offset })
                    .collect(),
            };
            client
                .send_json(Method::POST, &commit_path, &commit)
                .await?;
        }
        if stopped || (records.is_empty() && !a.follow) {
            return Ok(());
        }
    }
}

fn parse_fetch(body: &[u8]) -> Result<Fetched<'_>> {
    serde_json::from_slice(body)
        .map_err(|e| Failure(format!("unexpected answer from the node: {e}")))
}
