//! `strata batch archive|run`: the batch layer on demand, through the node (one archiver per
//! lake: the node's).

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Method;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_server::api::PartitionOffset;
use strata_server::api::batch::{Archived, BatchProgress, BatchRunLine};
use strata_server::client::{api_error, encode_path};
use strata_server::time::format_ms;

use super::ndjson::Lines;
use super::{Failure, Result, client, fail, human_bytes, print_json, print_table};
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
    let archived: Archived = super::read(&v)?;
    if a.output == Output::Json {
        print_json(&v)?;
    } else {
        let rows: Vec<Vec<String>> = archived
            .reports
            .iter()
            .map(|r| {
                vec![
                    r.topic.clone(),
                    r.segments.to_string(),
                    r.rows.to_string(),
                    r.invalid.to_string(),
                    r.files.to_string(),
                    human_bytes(r.bytes),
                    horizon_text(&r.horizon),
                ]
            })
            .collect();
        print_table(
            &[
                "TOPIC", "SEGMENTS", "ROWS", "INVALID", "FILES", "BYTES", "HORIZON",
            ],
            &rows,
        )?;
        for r in &archived.reports {
            for p in &r.problems {
                eprintln!("warning: {}: {p}", r.topic);
            }
        }
    }
    let errors = &archived.errors;
    if errors.is_empty() {
        return Ok(());
    }
    let each: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.topic, e.message))
        .collect();
    fail(format!(
        "archiving failed for {} topic(s):\n  {}",
        errors.len(),
        each.join("\n  ")
    ))
}

/// Per-partition horizon for people: `0:4711 1:4800`.
fn horizon_text(h: &[PartitionOffset]) -> String {
    let parts: Vec<String> = h
        .iter()
        .map(|p| format!("{}:{}", p.partition, p.offset))
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
    let mut lines = Lines::new(response.into_body());
    let result = loop {
        let Some(line) = lines.next().await? else {
            bar.finish_and_clear();
            return fail("the node ended the batch run without a result; see the node's log");
        };
        let line: BatchRunLine = serde_json::from_slice(&line)
            .map_err(|e| Failure(format!("the node sent a line that is not JSON: {e}")))?;
        match line {
            BatchRunLine::Progress(p) => show_progress(&bar, &p),
            BatchRunLine::Error(e) => {
                bar.finish_and_clear();
                return fail(format!("the batch run failed: {}", e.message));
            }
            BatchRunLine::Result(r) => break r,
        }
    };
    bar.finish_and_clear();
    if a.output == Output::Json {
        let v = serde_json::to_value(&result).map_err(|e| Failure(e.to_string()))?;
        return print_json(&v);
    }
    let lines = [
        ("view", result.view.clone()),
        ("epoch", result.epoch.to_string()),
        ("topic", result.topic.clone()),
        ("horizon", horizon_text(&result.horizon)),
        ("rows", result.rows.to_string()),
        ("input rows", result.input_rows.to_string()),
        ("created", format_ms(result.created_at_ms)),
    ];
    for (k, val) in lines {
        println!("{k:<11} {val}");
    }
    Ok(())
}

/// Turns the spinner into a bar over the input rows once the node says how many there are.
fn show_progress(bar: &ProgressBar, p: &BatchProgress) {
    let total = p.rows_total;
    if total > 0 && bar.length().is_none() {
        bar.set_length(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {human_pos}/{human_len} rows {msg} {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    bar.set_position(p.rows_read);
    bar.set_message(format!("({}/{} files)", p.files_done, p.files_total));
}
