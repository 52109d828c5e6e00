//! `strata replay view|topic|list|status|cancel` and `strata view versions|promote|drop-version`:
//! Kappa replay through the node, with a progress bar fed by `GET /v1/replays/{id}`.

use std::time::Duration;

use hyper::Method;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use strata_server::api::PartitionOffset;
use strata_server::api::replays::{
    DroppedVersion, PromoteRequest, Promotion, ReplayProgress, ReplayRequest, ReplaySpec,
    ReplayStatus, Replays, Versions,
};
use strata_server::client::{Client, encode_path};
use strata_server::time::{format_ms, now_ms, parse_time};

use super::{Failure, Result, client, fail, list_command, opt, print_json, print_table, read};
use crate::args::{
    ListArgs, Output, PromoteMode, ReplayIdArgs, ReplayTopicArgs, ReplayViewArgs, ViewNameArgs,
    ViewVersionArgs,
};

/// How often the progress bar asks the node.
const POLL: Duration = Duration::from_millis(200);

/// `--from-offset 0:120,1:98` as offsets.
fn offsets(text: &str) -> Result<Vec<PartitionOffset>> {
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
        out.push(PartitionOffset { partition, offset });
    }
    if out.is_empty() {
        return fail("--from-offset: give PARTITION:OFFSET pairs, e.g. 0:120,1:98");
    }
    Ok(out)
}

fn time_arg(name: &str, t: Option<&String>) -> Result<Option<i64>> {
    t.map(|t| parse_time(t, now_ms()).map_err(|e| Failure(format!("--{name}: {e}"))))
        .transpose()
}

/// `strata replay view`.
pub async fn view(a: ReplayViewArgs) -> Result {
    let manual = a.promote == PromoteMode::Manual;
    let body = ReplayRequest::View {
        view: a.view.clone(),
        from_beginning: a.from_beginning,
        from_offsets: a.from_offset.as_deref().map(offsets).transpose()?,
        from_time: time_arg("from-time", a.from_time.as_ref())?.map(Value::from),
        sql: a.sql.clone(),
        name: a.name.clone(),
        promote: manual.then(|| "manual".to_owned()),
        promote_when_lag_under: (!manual).then_some(a.promote_when_lag_under),
    };
    let c = client(&a.server)?;
    let started = c.send_json(Method::POST, "/v1/replays", &body).await?;
    let end = if a.detach {
        started
    } else {
        follow(&c, &started, |s| {
            matches!(
                s,
                ReplayStatus::Promoted | ReplayStatus::Failed | ReplayStatus::Cancelled
            ) || (manual && s == ReplayStatus::CaughtUp)
        })
        .await?
    };
    finish(&end, a.output)
}

/// `strata replay topic`.
pub async fn topic(a: ReplayTopicArgs) -> Result {
    let body = ReplayRequest::Topic {
        source: a.source.clone(),
        to: a.to.clone(),
        from_time: time_arg("from-time", a.from_time.as_ref())?.map(Value::from),
        to_time: time_arg("to-time", a.to_time.as_ref())?.map(Value::from),
        predicate: a.predicate.clone(),
    };
    let c = client(&a.server)?;
    let started = c.send_json(Method::POST, "/v1/replays", &body).await?;
    let end = if a.detach {
        started
    } else {
        follow(&c, &started, |s| {
            matches!(
                s,
                ReplayStatus::Done | ReplayStatus::Failed | ReplayStatus::Cancelled
            )
        })
        .await?
    };
    finish(&end, a.output)
}

/// Shows a progress bar until `ended(status)`; returns the last progress as the node wrote
/// it.
async fn follow(
    c: &Client,
    started: &Value,
    ended: impl Fn(ReplayStatus) -> bool,
) -> Result<Value> {
    let first: ReplayProgress = read(started)?;
    let id = first.id;
    let bar = ProgressBar::with_draw_target(Some(first.total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {human_pos}/{human_len} records {percent}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut raw, mut p) = (started.clone(), first);
    loop {
        bar.set_position(p.processed);
        bar.set_message(progress_text(&p));
        if ended(p.status) {
            bar.finish_and_clear();
            return Ok(raw);
        }
        tokio::time::sleep(POLL).await;
        raw = match c
            .call(Method::GET, &format!("/v1/replays/{id}"), None)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                bar.finish_and_clear();
                return fail(format!(
                    "lost the node while following replay {id} ({e}); the replay goes on there: strata replay status {id}"
                ));
            }
        };
        p = read(&raw)?;
    }
}

/// `1.2 M rec/s eta 12s lag 40 running`.
fn progress_text(p: &ReplayProgress) -> String {
    let mut parts = vec![format!("{} rec/s", human_count(p.records_per_s))];
    if let Some(eta) = p.eta_s {
        parts.push(format!("eta {}", human_seconds(eta)));
    }
    if let Some(lag) = p.lag {
        parts.push(format!("lag {lag}"));
    }
    parts.push(status_text(p.status).to_owned());
    parts.join(" ")
}

/// A status as the API writes it.
fn status_text(s: ReplayStatus) -> &'static str {
    match s {
        ReplayStatus::Running => "running",
        ReplayStatus::CaughtUp => "caught_up",
        ReplayStatus::Promoted => "promoted",
        ReplayStatus::Done => "done",
        ReplayStatus::Cancelled => "cancelled",
        ReplayStatus::Failed => "failed",
    }
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
fn finish(raw: &Value, output: Output) -> Result {
    let p: ReplayProgress = read(raw)?;
    if output == Output::Json {
        print_json(raw)?;
    } else {
        describe(&p);
    }
    match p.status {
        ReplayStatus::Failed => fail(format!(
            "replay {} failed: {}",
            p.id,
            opt(p.message.as_ref())
        )),
        ReplayStatus::Cancelled => fail(format!(
            "replay {} was cancelled: {}",
            p.id,
            opt(p.message.as_ref())
        )),
        _ => Ok(()),
    }
}

fn what(p: &ReplayProgress) -> String {
    match &p.spec {
        ReplaySpec::View { alias, version, .. } => format!("view {alias} → {version}"),
        ReplaySpec::Topic {
            source,
            dest,
            predicate,
            ..
        } => {
            let mut s = format!("topic {source} → {dest}");
            if let Some(w) = predicate {
                s.push_str(&format!(" where {w}"));
            }
            s
        }
    }
}

fn describe(p: &ReplayProgress) {
    let mut lines = vec![
        ("replay", p.id.to_string()),
        ("what", what(p)),
        ("status", status_text(p.status).to_owned()),
        (
            "progress",
            format!("{}/{} records ({:.1}%)", p.processed, p.total, p.percent),
        ),
        ("rate", progress_text(p)),
        ("started", format_ms(p.created_ms)),
    ];
    if let Some(ms) = p.finished_ms {
        lines.push(("finished", format_ms(ms)));
    }
    if let ReplaySpec::View {
        promote_when_lag_under,
        ..
    } = &p.spec
    {
        let promote = promote_when_lag_under.map_or_else(
            || "manual (strata view promote)".into(),
            |n| format!("when lag < {n}"),
        );
        lines.push(("promote", promote));
    }
    if let Some(c) = &p.counts {
        lines.push((
            "counts",
            format!(
                "read {}, copied {}, filtered out {}, invalid {}",
                c.read, c.copied, c.filtered_out, c.invalid
            ),
        ));
    }
    if let Some(m) = &p.message {
        lines.push(("message", m.clone()));
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
    list_command(&a.server, a.output, "/v1/replays", &header, |r: Replays| {
        r.replays
            .iter()
            .map(|p| {
                vec![
                    p.id.to_string(),
                    what(p),
                    status_text(p.status).to_owned(),
                    p.processed.to_string(),
                    p.total.to_string(),
                    format!("{:.1}", p.percent),
                    human_count(p.records_per_s),
                    p.eta_s.map_or_else(|| "-".into(), human_seconds),
                ]
            })
            .collect()
    })
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
    describe(&read(&p)?);
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
    describe(&read(&p)?);
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
    let v: Versions = read(&v)?;
    let rows: Vec<Vec<String>> = v
        .versions
        .iter()
        .map(|x| {
            vec![
                format!("v{}", x.number),
                x.view.clone(),
                if x.view == v.current {
                    "*".into()
                } else {
                    String::new()
                },
                Some(x.created_ms)
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
        .send_json(
            Method::POST,
            &format!("/v1/views/{}/promote", encode_path(&a.view)),
            &PromoteRequest {
                version: a.which.clone(),
            },
        )
        .await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            let p: Promotion = read(&v)?;
            println!(
                "{} now answers with {} (was {}); roll back with: strata view promote {} {}",
                p.alias, p.to, p.from, p.alias, p.from
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
            let d: DroppedVersion = read(&v)?;
            println!(
                "dropped version {} of {} with its state and output topics",
                d.dropped, d.alias
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
            [
                PartitionOffset {
                    partition: 0,
                    offset: 120
                },
                PartitionOffset {
                    partition: 1,
                    offset: 98
                }
            ]
        );
        for bad in ["", "0", "a:1", "0:-1", "0:1,x"] {
            assert!(
                offsets(bad).unwrap_err().0.contains("PARTITION:OFFSET"),
                "{bad}"
            );
        }
    }
}
