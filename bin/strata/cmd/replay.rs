//! `strata replay view|topic|list|status|cancel` and `strata view versions|promote|drop-version`:
//! Kappa replay through the node, with a progress bar fed by `GET /v1/replays/{id}`.

use std::time::Duration;

use hyper::Method;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use strata_server::client::{Client, encode_path};
use strata_server::time::{format_ms, now_ms, parse_time};

use super::{Failure, Result, cell, client, fail, list_command, print_json, print_table};
use crate::args::{
    ListArgs, Output, PromoteMode, ReplayIdArgs, ReplayTopicArgs, ReplayViewArgs, ViewNameArgs,
    ViewVersionArgs,
};

/// How often the progress bar asks the node.
const POLL: Duration = Duration::from_millis(200);

/// `--from-offset 0:120,1:98` as JSON offsets.
fn offsets(text: &str) -> Result<Value> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part.split_once(':').and_then(|(p, o)| {
            Some((p.trim().parse::<u32>().ok()?, o.trim().parse::<u64>().ok()?))
        });
        let Some((partition, offset)) = parsed else {
            return fail(format!(
                "--from-offset: {part:?} is not PARTITION:OFFSET (e.g. --from-offset 0:120,1:98)"
            ));
        };
        out.push(json!({ "partition": partition, "offset": offset }));
    }
    if out.is_empty() {
        return fail("--from-offset: give PARTITION:OFFSET pairs, e.g. 0:120,1:98");
    }
    Ok(Value::Array(out))
}

fn time_arg(name: &str, t: Option<&String>) -> Result<Option<i64>> {
    t.map(|t| parse_time(t, now_ms()).map_err(|e| Failure(format!("--{name}: {e}"))))
        .transpose()
}

/// `strata replay view`.
pub async fn view(a: ReplayViewArgs) -> Result {
    let mut body = json!({ "kind": "view", "view": a.view });
    if a.from_beginning {
        body["from_beginning"] = json!(true);
    }
    if let Some(o) = &a.from_offset {
        body["from_offsets"] = offsets(o)?;
    }
    if let Some(t) = time_arg("from-time", a.from_time.as_ref())? {
        body["from_time"] = json!(t);
    }
    if let Some(sql) = &a.sql {
        body["sql"] = json!(sql);
    }
    if let Some(n) = &a.name {
        body["as"] = json!(n);
    }
    match a.promote {
        PromoteMode::Auto => body["promote_when_lag_under"] = json!(a.promote_when_lag_under),
        PromoteMode::Manual => body["promote"] = json!("manual"),
    }
    let c = client(&a.server)?;
    let started = c.call(Method::POST, "/v1/replays", Some(body)).await?;
    let manual = a.promote == PromoteMode::Manual;
    let end = if a.detach {
        started
    } else {
        follow(&c, &started, |s| {
            matches!(s, "promoted" | "failed" | "cancelled") || (manual && s == "caught_up")
        })
        .await?
    };
    finish(&end, a.output)
}

/// `strata replay topic`.
pub async fn topic(a: ReplayTopicArgs) -> Result {
    let mut body = json!({ "kind": "topic", "source": a.source, "to": a.to });
    if let Some(t) = time_arg("from-time", a.from_time.as_ref())? {
        body["from_time"] = json!(t);
    }
    if let Some(t) = time_arg("to-time", a.to_time.as_ref())? {
        body["to_time"] = json!(t);
    }
    if let Some(w) = &a.predicate {
        body["where"] = json!(w);
    }
    let c = client(&a.server)?;
    let started = c.call(Method::POST, "/v1/replays", Some(body)).await?;
    let end = if a.detach {
        started
    } else {
        follow(&c, &started, |s| {
            matches!(s, "done" | "failed" | "cancelled")
        })
        .await?
    };
    finish(&end, a.output)
}

/// Shows a progress bar until `ended(status)`; returns the last progress.
async fn follow(c: &Client, started: &Value, ended: impl Fn(&str) -> bool) -> Result<Value> {
    let id = started["id"]
        .as_u64()
        .ok_or_else(|| Failure("the node sent no replay id".into()))?;
    let bar = ProgressBar::with_draw_target(
        Some(started["total"].as_u64().unwrap_or(0)),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {human_pos}/{human_len} records {percent}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut p = started.clone();
    loop {
        bar.set_position(p["processed"].as_u64().unwrap_or(0));
        bar.set_message(progress_text(&p));
        if ended(p["status"].as_str().unwrap_or("")) {
            bar.finish_and_clear();
            return Ok(p);
        }
        tokio::time::sleep(POLL).await;
        p = match c
            .call(Method::GET, &format!("/v1/replays/{id}"), None)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                bar.finish_and_clear();
                return fail(format!(
                    "lost the node while following replay {id} ({e}); the replay goes on there: strata replay status {id}"
                ));
            }
        };
    }
}

/// `1.2 M rec/s eta 12s lag 40 running`.
fn progress_text(p: &Value) -> String {
    let rate = p["records_per_s"].as_f64().unwrap_or(0.0);
    let mut parts = vec![format!("{} rec/s", human_count(rate))];
    if let Some(eta) = p["eta_s"].as_f64() {
        parts.push(format!("eta {}", human_seconds(eta)));
    }
    if let Some(lag) = p["lag"].as_u64() {
        parts.push(format!("lag {lag}"));
    }
    parts.push(cell(&p["status"]));
    parts.join(" ")
}

fn human_count(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn human_seconds(s: f64) -> String {
    if s >= 3600.0 {
        format!("{:.1}h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1}m", s / 60.0)
    } else {
        format!("{s:.1}s")
    }
}

/// Prints a replay's last state; failed and cancelled replays exit non-zero.
fn finish(p: &Value, output: Output) -> Result {
    if output == Output::Json {
        print_json(p)?;
    } else {
        describe(p);
    }
    match p["status"].as_str() {
        Some("failed") => fail(format!(
            "replay {} failed: {}",
            cell(&p["id"]),
            cell(&p["message"])
        )),
        Some("cancelled") => fail(format!(
            "replay {} was cancelled: {}",
            cell(&p["id"]),
            cell(&p["message"])
        )),
        _ => Ok(()),
    }
}

fn what(p: &Value) -> String {
    match p["kind"].as_str() {
        Some("view") => format!("view {} → {}", cell(&p["alias"]), cell(&p["version"])),
        _ => {
            let mut s = format!("topic {} → {}", cell(&p["source"]), cell(&p["dest"]));
            if let Some(w) = p["predicate"].as_str() {
                s.push_str(&format!(" where {w}"));
            }
            s
        }
    }
}

fn describe(p: &Value) {
    let mut lines = vec![
        ("replay", cell(&p["id"])),
        ("what", what(p)),
        ("status", cell(&p["status"])),
        (
            "progress",
            format!(
                "{}/{} records ({:.1}%)",
                cell(&p["processed"]),
                cell(&p["total"]),
                p["percent"].as_f64().unwrap_or(0.0)
            ),
        ),
        ("rate", progress_text(p)),
        (
            "started",
            p["created_ms"]
                .as_i64()
                .map_or_else(|| "-".into(), format_ms),
        ),
    ];
    if let Some(ms) = p["finished_ms"].as_i64() {
        lines.push(("finished", format_ms(ms)));
    }
    if p["kind"] == "view" {
        let promote = p["promote_when_lag_under"].as_u64().map_or_else(
            || "manual (strata view promote)".into(),
            |n| format!("when lag < {n}"),
        );
        lines.push(("promote", promote));
    }
    if let Some(c) = p["counts"].as_object() {
        lines.push((
            "counts",
            format!(
                "read {}, copied {}, filtered out {}, invalid {}",
                cell(&c["read"]),
                cell(&c["copied"]),
                cell(&c["filtered_out"]),
                cell(&c["invalid"])
            ),
        ));
    }
    if !p["message"].is_null() {
        lines.push(("message", cell(&p["message"])));
    }
    for (k, v) in lines {
        println!("{k:<9} {v}");
    }
}

/// `strata replay list`.
pub async fn list(a: ListArgs) -> Result {
    let header = [
        "ID",
        "WHAT",
        "STATUS",
        "PROCESSED",
        "TOTAL",
        "PERCENT",
        "REC/S",
        "ETA",
    ];
    list_command(
        &a.server,
        a.output,
        "/v1/replays",
        "replays",
        &header,
        |p| {
            vec![
                cell(&p["id"]),
                what(p),
                cell(&p["status"]),
                cell(&p["processed"]),
                cell(&p["total"]),
                format!("{:.1}", p["percent"].as_f64().unwrap_or(0.0)),
                human_count(p["records_per_s"].as_f64().unwrap_or(0.0)),
                p["eta_s"]
                    .as_f64()
                    .map_or_else(|| "-".into(), human_seconds),
            ]
        },
    )
    .await
}

/// `strata replay status`.
pub async fn status(a: ReplayIdArgs) -> Result {
    let p = client(&a.server)?
        .call(Method::GET, &format!("/v1/replays/{}", a.id), None)
        .await?;
    if a.output == Output::Json {
        return print_json(&p);
    }
    describe(&p);
    Ok(())
}

/// `strata replay cancel`.
pub async fn cancel(a: ReplayIdArgs) -> Result {
    let p = client(&a.server)?
        .call(Method::DELETE, &format!("/v1/replays/{}", a.id), None)
        .await?;
    if a.output == Output::Json {
        return print_json(&p);
    }
    describe(&p);
    Ok(())
}

/// `strata view versions`.
pub async fn versions(a: ViewNameArgs) -> Result {
    let v = client(&a.server)?
        .call(
            Method::GET,
            &format!("/v1/views/{}/versions", encode_path(&a.name)),
            None,
        )
        .await?;
    if a.output == Output::Json {
        return print_json(&v);
    }
    let current = v["current"].as_str().unwrap_or_default();
    let rows: Vec<Vec<String>> = v["versions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|x| {
            vec![
                format!("v{}", cell(&x["number"])),
                cell(&x["view"]),
                if x["view"] == current {
                    "*".into()
                } else {
                    String::new()
                },
                x["created_ms"]
                    .as_i64()
                    .filter(|ms| *ms > 0)
                    .map_or_else(|| "-".into(), format_ms),
            ]
        })
        .collect();
    print_table(&["VERSION", "VIEW", "CURRENT", "CREATED"], &rows)
}

/// `strata view promote`.
pub async fn promote(a: ViewVersionArgs) -> Result {
    let v = client(&a.server)?
        .call(
            Method::POST,
            &format!("/v1/views/{}/promote", encode_path(&a.view)),
            Some(json!({ "version": a.which })),
        )
        .await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            println!(
                "{} now answers with {} (was {}); roll back with: strata view promote {} {}",
                cell(&v["alias"]),
                cell(&v["to"]),
                cell(&v["from"]),
                cell(&v["alias"]),
                cell(&v["from"])
            );
            Ok(())
        }
    }
}

/// `strata view drop-version`.
pub async fn drop_version(a: ViewVersionArgs) -> Result {
    let v = client(&a.server)?
        .call(
            Method::DELETE,
            &format!(
                "/v1/views/{}/versions/{}",
                encode_path(&a.view),
                encode_path(&a.which)
            ),
            None,
        )
        .await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            println!(
                "dropped version {} of {} with its state and output topics",
                cell(&v["dropped"]),
                cell(&v["alias"])
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_or_say_how() {
        assert_eq!(
            offsets("0:120, 1:98").unwrap(),
            json!([{"partition": 0, "offset": 120}, {"partition": 1, "offset": 98}])
        );
        for bad in ["", "0", "a:1", "0:-1", "0:1,x"] {
            assert!(
                offsets(bad).unwrap_err().0.contains("PARTITION:OFFSET"),
                "{bad}"
            );
        }
    }
}
