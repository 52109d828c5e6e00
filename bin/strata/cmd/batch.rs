//! `strata batch archive|run`: the batch layer on demand, through the node (one archiver per
//! lake: the node's).

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Method;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use strata_server::client::{api_error, encode_path};
use strata_server::time::format_ms;

use super::{Failure, Result, cell, client, fail, human_bytes, print_json, print_table};
use crate::args::{BatchArchiveArgs, BatchRunArgs, Output};

/// `strata batch archive [TOPIC]`.
pub async fn archive(a: BatchArchiveArgs) -> Result {
    let mut path = "/v1/batch/archive".to_owned();
    if let Some(t) = &a.topic {
        path.push_str(&format!("?topic={}", encode_path(t)));
    }
    let spinner = spinner("archiving");
    let v = client(&a.server)?.call(Method::POST, &path, None).await;
    spinner.finish_and_clear();
    let v = v?;
    let errors = v["errors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if a.output == Output::Json {
        print_json(&v)?;
    } else {
        let rows: Vec<Vec<String>> = v["reports"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|r| {
                vec![
                    cell(&r["topic"]),
                    cell(&r["segments"]),
                    cell(&r["rows"]),
                    cell(&r["invalid"]),
                    cell(&r["files"]),
                    human_bytes(r["bytes"].as_u64().unwrap_or(0)),
                    horizon_text(&r["horizon"]),
                ]
            })
            .collect();
        print_table(
            &[
                "TOPIC", "SEGMENTS", "ROWS", "INVALID", "FILES", "BYTES", "HORIZON",
            ],
            &rows,
        )?;
        for r in v["reports"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            for p in r["problems"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                eprintln!("warning: {}: {}", cell(&r["topic"]), cell(p));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let each: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", cell(&e["topic"]), cell(&e["message"])))
        .collect();
    fail(format!(
        "archiving failed for {} topic(s):\n  {}",
        errors.len(),
        each.join("\n  ")
    ))
}

/// Per-partition horizon for people: `0:4711 1:4800`.
fn horizon_text(h: &Value) -> String {
    let parts: Vec<String> = h
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| format!("{}:{}", cell(&p["partition"]), cell(&p["offset"])))
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

/// A spinner on stderr (hidden when stderr is not a terminal).
fn spinner(message: &'static str) -> ProgressBar {
    let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    s.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    s.set_message(message);
    s.enable_steady_tick(Duration::from_millis(100));
    s
}

/// `strata batch run VIEW`: the node streams its progress (`?progress=true`) and the result.
pub async fn run(a: BatchRunArgs) -> Result {
    let path = format!("/v1/views/{}/batch?progress=true", encode_path(&a.view));
    let response = client(&a.server)?.send(Method::POST, &path, None).await?;
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
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("batch view {}", a.view));
    bar.enable_steady_tick(Duration::from_millis(100));
    let mut body = response.into_body();
    let mut pending: Vec<u8> = Vec::new();
    let result = loop {
        let Some(frame) = body.frame().await else {
            bar.finish_and_clear();
            return fail("the node ended the batch run without a result; see the node's log");
        };
        let frame =
            frame.map_err(|e| Failure(format!("the stream from the node broke off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        let mut done = None;
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let v: Value = serde_json::from_slice(&line)
                .map_err(|e| Failure(format!("the node sent a line that is not JSON: {e}")))?;
            if let Some(p) = v.get("progress") {
                show_progress(&bar, p);
            } else if let Some(e) = v.get("error") {
                bar.finish_and_clear();
                return fail(format!("the batch run failed: {}", cell(&e["message"])));
            } else if let Some(r) = v.get("result") {
                done = Some(r.clone());
            }
        }
        if let Some(r) = done {
            break r;
        }
    };
    bar.finish_and_clear();
    if a.output == Output::Json {
        return print_json(&result);
    }
    let lines = [
        ("view", cell(&result["view"])),
        ("epoch", cell(&result["epoch"])),
        ("topic", cell(&result["topic"])),
        ("horizon", horizon_text(&result["horizon"])),
        ("rows", cell(&result["rows"])),
        ("input rows", cell(&result["input_rows"])),
        (
            "created",
            result["created_at_ms"]
                .as_i64()
                .map_or_else(|| "-".into(), format_ms),
        ),
    ];
    for (k, val) in lines {
        println!("{k:<11} {val}");
    }
    Ok(())
}

/// Turns the spinner into a bar over the input rows once the node says how many there are.
fn show_progress(bar: &ProgressBar, p: &Value) {
    let total = p["rows_total"].as_u64().unwrap_or(0);
    if total > 0 && bar.length().is_none() {
        bar.set_length(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {human_pos}/{human_len} rows {msg} {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    bar.set_position(p["rows_read"].as_u64().unwrap_or(0));
    bar.set_message(format!(
        "({}/{} files)",
        cell(&p["files_done"]),
        cell(&p["files_total"])
    ));
}
