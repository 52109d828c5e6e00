//! `strata group list|describe|reset|delete`.

use hyper::Method;
use serde_json::{Value, json};
use strata_server::client::encode_path;
use strata_server::time::{format_ms, now_ms, parse_time};

use super::{Failure, Result, cell, client, items, list_command, print_json, print_table};
use crate::args::{GroupNameArgs, GroupResetArgs, ListArgs, Output};

/// `strata group list`.
pub async fn list(a: ListArgs) -> Result {
    list_command(
        &a.server,
        a.output,
        "/v1/groups",
        "groups",
        &["GROUP", "LAG", "TOPICS"],
        |g| {
            let topics: Vec<String> = items(&g["topics"]).iter().map(cell).collect();
            vec![cell(&g["group"]), cell(&g["lag"]), topics.join(",")]
        },
    )
    .await
}

/// `strata group describe`.
pub async fn describe(a: GroupNameArgs) -> Result {
    let path = format!("/v1/groups/{}", encode_path(&a.group));
    let v = client(&a.server)?.call(Method::GET, &path, None).await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            println!("group {} (total lag {})", a.group, cell(&v["lag"]));
            print_partitions(&v["partitions"])
        }
    }
}

fn print_partitions(partitions: &Value) -> Result {
    let rows: Vec<Vec<String>> = partitions
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            vec![
                cell(&p["topic"]),
                cell(&p["partition"]),
                cell(&p["committed"]),
                cell(&p["end_offset"]),
                cell(&p["lag"]),
                p["committed_at_ms"]
                    .as_i64()
                    .map_or_else(|| "-".into(), format_ms),
            ]
        })
        .collect();
    print_table(
        &[
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "END",
            "LAG",
            "COMMITTED AT",
        ],
        &rows,
    )
}

/// `strata group reset`.
pub async fn reset(a: GroupResetArgs) -> Result {
    let mut body = json!({ "topic": a.topic });
    if a.to_earliest {
        body["to"] = "earliest".into();
    } else if a.to_latest {
        body["to"] = "latest".into();
    } else if let Some(o) = a.to_offset {
        body["to"] = "offset".into();
        body["offset"] = o.into();
    } else if let Some(t) = &a.to_time {
        let ms = parse_time(t, now_ms()).map_err(|e| Failure(format!("--to-time: {e}")))?;
        body["to"] = "timestamp".into();
        body["timestamp"] = ms.into();
    }
    if let Some(p) = a.partition {
        body["partitions"] = json!([p]);
    }
    let path = format!("/v1/groups/{}/reset", encode_path(&a.group));
    let v = client(&a.server)?
        .call(Method::POST, &path, Some(body))
        .await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            let moved: Vec<String> = v["committed"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|c| format!("{}:{}", cell(&c["partition"]), cell(&c["offset"])))
                .collect();
            println!(
                "group {} on topic {} now at (partition:offset) {}",
                a.group,
                a.topic,
                moved.join(" ")
            );
            Ok(())
        }
    }
}

/// `strata group delete`.
pub async fn delete(a: GroupNameArgs) -> Result {
    let path = format!("/v1/groups/{}", encode_path(&a.group));
    let v = client(&a.server)?.call(Method::DELETE, &path, None).await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            println!("deleted group {}", a.group);
            Ok(())
        }
    }
}
