//! `strata group list|describe|reset|delete`.

use hyper::Method;
use serde_json::Value;
use strata_server::api::groups::{Committed, Group, GroupPartition, Groups, ResetGroup};
use strata_server::client::encode_path;
use strata_server::time::{format_ms, now_ms, parse_time};

use super::{Failure, Result, client, list_command, print_json, print_table, read};
use crate::args::{GroupNameArgs, GroupResetArgs, ListArgs, Output};

/// `strata group list`.
pub async fn list(a: ListArgs) -> Result {
    list_command(
        &a.server,
        a.output,
        "/v1/groups",
        &["GROUP", "LAG", "TOPICS"],
        |g: Groups| {
            g.groups
                .into_iter()
                .map(|g| vec![g.group, g.lag.to_string(), g.topics.join(",")])
                .collect()
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
            let g: Group = read(&v)?;
            println!("group {} (total lag {})", a.group, g.lag);
            print_partitions(&g.partitions)
        }
    }
}

fn print_partitions(partitions: &[GroupPartition]) -> Result {
    let rows: Vec<Vec<String>> = partitions
        .iter()
        .map(|p| {
            vec![
                p.topic.clone(),
                p.partition.to_string(),
                p.committed.to_string(),
                p.end_offset.to_string(),
                p.lag.to_string(),
                p.committed_at_ms.map_or_else(|| "-".into(), format_ms),
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
    let mut body = ResetGroup {
        topic: a.topic.clone(),
        to: String::new(),
        offset: None,
        timestamp: None,
        partitions: a.partition.map(|p| vec![p]),
    };
    if a.to_earliest {
        body.to = "earliest".into();
    } else if a.to_latest {
        body.to = "latest".into();
    } else if let Some(o) = a.to_offset {
        body.to = "offset".into();
        body.offset = Some(o);
    } else if let Some(t) = &a.to_time {
        let ms = parse_time(t, now_ms()).map_err(|e| Failure(format!("--to-time: {e}")))?;
        body.to = "timestamp".into();
        body.timestamp = Some(Value::from(ms));
    }
    let path = format!("/v1/groups/{}/reset", encode_path(&a.group));
    let v = client(&a.server)?
        .send_json(Method::POST, &path, &body)
        .await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            let c: Committed = read(&v)?;
            let moved: Vec<String> = c
                .committed
                .iter()
                .map(|c| format!("{}:{}", c.partition, c.offset))
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
