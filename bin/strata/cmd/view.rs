//! `strata view list|describe|drop` and `strata query`.

use hyper::Method;
use serde_json::Value;
use strata_server::client::encode_path;
use strata_server::time::{format_ms, now_ms, parse_time};

use super::{Failure, Result, cell, client, list_command, print_json, print_table};
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
    list_command(&a.server, a.output, "/v1/views", "views", &header, |v| {
        let s = &v["stats"];
        vec![
            cell(&v["name"]),
            cell(&v["source"]),
            window_text(&v["window"]),
            cell(&v["emit"]),
            cell(&v["status"]),
            cell(&s["records_in"]),
            cell(&s["emitted"]),
            cell(&s["late"]),
            cell(&s["lag"]),
            s["watermark"]
                .as_i64()
                .map_or_else(|| "-".into(), format_ms),
        ]
    })
    .await
}

/// A window for people: `tumbling 1m`, `hopping 1m every 10s`, `session gap 30m`.
fn window_text(w: &Value) -> String {
    let d = |f: &str| w[f].as_u64().map_or_else(|| "?".into(), duration_text);
    match w["kind"].as_str() {
        Some("tumbling") => format!("tumbling {}", d("size_ms")),
        Some("hopping") => format!("hopping {} every {}", d("size_ms"), d("advance_ms")),
        Some("session") => format!("session gap {}", d("gap_ms")),
        _ => "-".into(),
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
    let list = |f: &str| {
        v[f].as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(cell)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let s = &v["stats"];
    let lines = [
        ("view", cell(&v["name"])),
        (
            "source",
            format!(
                "{} (topic {})",
                cell(&v["source"]),
                cell(&v["source_topic"])
            ),
        ),
        ("window", window_text(&v["window"])),
        ("grace", format!("{} ms", cell(&v["grace_ms"]))),
        ("emit", cell(&v["emit"])),
        ("keys", list("keys")),
        ("columns", list("columns")),
        ("status", cell(&v["status"])),
        ("failure", cell(&v["failure"])),
        (
            "changelog",
            format!(
                "topic {} (late records: topic {})",
                cell(&v["changelog_topic"]),
                cell(&v["late_topic"])
            ),
        ),
        ("records in", cell(&s["records_in"])),
        ("emitted", cell(&s["emitted"])),
        ("late", cell(&s["late"])),
        ("invalid", cell(&s["invalid"])),
        ("lag", cell(&s["lag"])),
        (
            "watermark",
            s["watermark"]
                .as_i64()
                .map_or_else(|| "-".into(), format_ms),
        ),
        ("checkpoints", cell(&s["checkpoints"])),
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
            println!("dropped view {} and its output topics", cell(&v["dropped"]));
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
    let columns: Vec<(String, String)> = v["columns"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| (cell(&c["name"]), cell(&c["type"])))
        .collect();
    let rows: Vec<Vec<String>> = v["rows"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|(name, ty)| match (&r[name], ty.as_str()) {
                    (Value::Number(n), "timestamp") => {
                        n.as_i64().map_or_else(|| n.to_string(), format_ms)
                    }
                    (other, _) => cell(other),
                })
                .collect()
        })
        .collect();
    let header: Vec<String> = columns.iter().map(|(n, _)| n.to_uppercase()).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print_table(&header, &rows)?;
    let p = &v["provenance"];
    let layers: Vec<String> = p["layers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(cell)
        .collect();
    eprintln!(
        "({} rows; layers: {}; watermark {}; lag {})",
        cell(&v["count"]),
        layers.join("+"),
        p["watermark"]
            .as_i64()
            .map_or_else(|| "-".into(), format_ms),
        cell(&p["lag"])
    );
    Ok(())
}
