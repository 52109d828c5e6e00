//! `strata topic create|list|describe|delete`.

use hyper::Method;
use serde_json::{Map, Value, json};
use strata_server::client::encode_path;

use super::{Result, cell, client, human_bytes, list_command, print_json, print_table};
use crate::args::{ListArgs, Output, TopicCreateArgs, TopicNameArgs};

/// `strata topic create`.
pub async fn create(a: TopicCreateArgs) -> Result {
    let mut config = Map::new();
    let mut set = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            config.insert(k.to_owned(), Value::String(v));
        }
    };
    set("retention_ms", a.retention);
    set("retention_bytes", a.retention_bytes);
    set("durability", a.durability);
    set("flush_interval_ms", a.flush_interval);
    set("segment_bytes", a.segment_bytes);
    set("segment_ms", a.segment_age);
    set("max_record_bytes", a.max_record_bytes);
    let body = json!({ "name": a.name, "partitions": a.partitions, "config": config });
    let topic = client(&a.server)?
        .call(Method::POST, "/v1/topics", Some(body))
        .await?;
    match a.output {
        Output::Json => print_json(&topic),
        Output::Table => {
            println!(
                "created topic {} with {} partition(s), durability {}",
                a.name,
                a.partitions,
                cell(&topic["config"]["durability"])
            );
            Ok(())
        }
    }
}

/// `strata topic list`.
pub async fn list(a: ListArgs) -> Result {
    let header = ["TOPIC", "PARTITIONS", "RECORDS", "SIZE", "DURABILITY"];
    list_command(&a.server, a.output, "/v1/topics", "topics", &header, |t| {
        vec![
            cell(&t["name"]),
            cell(&t["partition_count"]),
            cell(&t["records"]),
            human_bytes(t["size_bytes"].as_u64().unwrap_or(0)),
            cell(&t["config"]["durability"]),
        ]
    })
    .await
}

/// `strata topic describe`.
pub async fn describe(a: TopicNameArgs) -> Result {
    let path = format!("/v1/topics/{}", encode_path(&a.name));
    let t = client(&a.server)?.call(Method::GET, &path, None).await?;
    match a.output {
        Output::Json => print_json(&t),
        Output::Table => {
            println!("topic:       {}", cell(&t["name"]));
            println!("partitions:  {}", cell(&t["partition_count"]));
            println!("records:     {}", cell(&t["records"]));
            println!(
                "size:        {}",
                human_bytes(t["size_bytes"].as_u64().unwrap_or(0))
            );
            println!(
                "created:     {}",
                strata_server::time::format_ms(t["created_at_ms"].as_i64().unwrap_or(0))
            );
            if let Some(config) = t["config"].as_object() {
                let text: Vec<String> = config
                    .iter()
                    .map(|(k, v)| format!("{k}={}", cell(v)))
                    .collect();
                println!("config:      {}", text.join(" "));
            }
            println!();
            let rows: Vec<Vec<String>> = t["partitions"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    vec![
                        cell(&p["partition"]),
                        cell(&p["start_offset"]),
                        cell(&p["end_offset"]),
                        cell(&p["records"]),
                        human_bytes(p["size_bytes"].as_u64().unwrap_or(0)),
                        cell(&p["segments"]),
                    ]
                })
                .collect();
            print_table(
                &["PARTITION", "START", "END", "RECORDS", "SIZE", "SEGMENTS"],
                &rows,
            )
        }
    }
}

/// `strata topic delete`.
pub async fn delete(a: TopicNameArgs) -> Result {
    let path = format!("/v1/topics/{}", encode_path(&a.name));
    let v = client(&a.server)?.call(Method::DELETE, &path, None).await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            println!("deleted topic {}", a.name);
            Ok(())
        }
    }
}
