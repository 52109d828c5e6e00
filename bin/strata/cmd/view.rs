//! `strata view list|describe|drop` and `strata query`.

use hyper::Method;
use serde_json::Value;
use strata_server::api::views::{Answer, Dropped, ViewDefinition, Views, Window};
use strata_server::client::encode_path;
use strata_server::time::{format_ms, now_ms, parse_time};

use super::{Failure, Result, cell, client, list_command, opt, print_json, print_table, read};
use crate::args::{ListArgs, Output, QueryArgs, ViewNameArgs};

/// `strata view list`.
pub async fn list(a: ListArgs) -> Result {
    let header = [
        "VIEW",
        "SOURCE",
        "WINDOW",
        "EMIT",
        "STATUS",
        "RECORDS IN",
        "EMITTED",
        "LATE",
        "LAG",
        "WATERMARK",
    ];
    list_command(&a.server, a.output, "/v1/views", &header, |v: Views| {
        v.views
            .into_iter()
            .map(|v| {
                let s = v.stats.as_ref();
                vec![
                    v.name,
                    v.source,
                    window_text(v.window),
                    v.emit,
                    v.status,
                    opt(s.map(|s| s.records_in)),
                    opt(s.map(|s| s.emitted)),
                    opt(s.map(|s| s.late)),
                    opt(s.map(|s| s.lag)),
                    s.and_then(|s| s.watermark)
                        .map_or_else(|| "-".into(), format_ms),
                ]
            })
            .collect()
    })
    .await
}

/// A window for people: `tumbling 1m`, `hopping 1m every 10s`, `session gap 30m`.
fn window_text(w: Option<Window>) -> String {
    let d = |ms: i64| u64::try_from(ms).map_or_else(|_| "?".into(), duration_text);
    match w {
        Some(Window::Tumbling { size_ms }) => format!("tumbling {}", d(size_ms)),
        Some(Window::Hopping {
            size_ms,
            advance_ms,
        }) => format!("hopping {} every {}", d(size_ms), d(advance_ms)),
        Some(Window::Session { gap_ms }) => format!("session gap {}", d(gap_ms)),
        None => "-".into(),
    }
}

/// Milliseconds in the largest unit that divides them: `1h`, `90s`, `250ms`.
fn duration_text(ms: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1000, "s"),
    ];
    UNITS
        .iter()
        .find(|(unit, _)| ms > 0 && ms.is_multiple_of(*unit))
        .map_or_else(
            || format!("{ms}ms"),
            |(unit, name)| format!("{}{name}", ms / unit),
        )
}

/// `strata view describe`.
pub async fn describe(a: ViewNameArgs) -> Result {
    let path = format!("/v1/views/{}/definition", encode_path(&a.name));
    let v = client(&a.server)?.call(Method::GET, &path, None).await?;
    if a.output == Output::Json {
        return print_json(&v);
    }
    let v: ViewDefinition = read(&v)?;
    let v = v.summary;
    let s = v.stats.as_ref();
    let lines = [
        ("view", v.name.clone()),
        ("source", format!("{} (topic {})", v.source, v.source_topic)),
        ("window", window_text(v.window)),
        ("grace", format!("{} ms", v.grace_ms)),
        ("emit", v.emit.clone()),
        ("keys", v.keys.join(", ")),
        ("columns", v.columns.join(", ")),
        ("status", v.status.clone()),
        ("failure", opt(v.failure.as_ref())),
        (
            "changelog",
            format!(
                "topic {} (late records: topic {})",
                v.changelog_topic, v.late_topic
            ),
        ),
        ("records in", opt(s.map(|s| s.records_in))),
        ("emitted", opt(s.map(|s| s.emitted))),
        ("late", opt(s.map(|s| s.late))),
        ("invalid", opt(s.map(|s| s.invalid))),
        ("lag", opt(s.map(|s| s.lag))),
        (
            "watermark",
            s.and_then(|s| s.watermark)
                .map_or_else(|| "-".into(), format_ms),
        ),
        ("checkpoints", opt(s.map(|s| s.checkpoints))),
    ];
    for (k, val) in lines {
        println!("{k:<12} {val}");
    }
    Ok(())
}

/// `strata view drop`.
pub async fn drop(a: ViewNameArgs) -> Result {
    let path = format!("/v1/views/{}", encode_path(&a.name));
    let v = client(&a.server)?.call(Method::DELETE, &path, None).await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            let d: Dropped = read(&v)?;
            println!("dropped view {} and its output topics", d.dropped);
            Ok(())
        }
    }
}

/// `strata query`.
pub async fn query(a: QueryArgs) -> Result {
    let mut params: Vec<String> = Vec::new();
    let now = now_ms();
    if let Some(k) = &a.key {
        params.push(format!("key={}", encode_path(k)));
    }
    for (name, t) in [("from", &a.from), ("to", &a.to)] {
        if let Some(t) = t {
            let ms = parse_time(t, now).map_err(|e| Failure(format!("--{name}: {e}")))?;
            params.push(format!("{name}={ms}"));
        }
    }
    if let (Some(n), Some(by)) = (a.top, &a.by) {
        params.push(format!("top={n}&by={}", encode_path(by)));
    } else {
        if let Some(c) = &a.order_by {
            params.push(format!("order_by={}", encode_path(c)));
        }
        if a.desc {
            params.push("desc=true".into());
        }
        if let Some(n) = a.limit {
            params.push(format!("limit={n}"));
        }
    }
    let mut path = format!("/v1/views/{}", encode_path(&a.view));
    if !params.is_empty() {
        path.push('?');
        path.push_str(&params.join("&"));
    }
    let v = client(&a.server)?.call(Method::GET, &path, None).await?;
    if a.output == Output::Json {
        return print_json(&v);
    }
    let answer: Answer = read(&v)?;
    let rows: Vec<Vec<String>> = answer
        .rows
        .iter()
        .map(|r| {
            answer
                .columns
                .iter()
                .map(|c| match (r.get(&c.name), c.data_type.as_str()) {
                    (Some(Value::Number(n)), "timestamp") => {
                        n.as_i64().map_or_else(|| n.to_string(), format_ms)
                    }
                    (Some(other), _) => cell(other),
                    (None, _) => "-".into(),
                })
                .collect()
        })
        .collect();
    let header: Vec<String> = answer
        .columns
        .iter()
        .map(|c| c.name.to_uppercase())
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print_table(&header, &rows)?;
    let p = &answer.provenance;
    eprintln!(
        "({} rows; layers: {}; watermark {}; lag {})",
        answer.count,
        p.layers.join("+"),
        p.watermark.map_or_else(|| "-".into(), format_ms),
        p.lag
    );
    Ok(())
}
