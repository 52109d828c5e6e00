//! `strata topic create|list|describe|delete`.

use hyper::Method;
use serde_json::{Map, Value};
use strata_server::api::topics::{CreateTopic, Topic, Topics};
use strata_server::client::encode_path;

use super::{Result, cell, client, human_bytes, list_command, print_json, print_table, read};
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
    let body = CreateTopic {
        name: a.name.clone(),
        partitions: a.partitions,
        config: Some(config),
    };
    let v = client(&a.server)?
        .send_json(Method::POST, "/v1/topics", &body)
        .await?;
    match a.output {
        Output::Json => print_json(&v),
        Output::Table => {
            let topic: Topic = read(&v)?;
            println!(
                "created topic {} with {} partition(s), durability {}",
                a.name,
                a.partitions,
                durability(&topic)
            );
            Ok(())
        }
    }
}

/// `strata topic list`.
pub async fn list(a: ListArgs) -> Result {
    let header = ["TOPIC", "PARTITIONS", "RECORDS", "SIZE", "DURABILITY"];
    list_command(&a.server, a.output, "/v1/topics", &header, |t: Topics| {
        t.topics
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.partition_count.to_string(),
                    t.records.to_string(),
                    human_bytes(t.size_bytes),
                    durability(t),
                ]
            })
            .collect()
    })
    .await
}

/// `strata topic describe`.
pub async fn describe(a: TopicNameArgs) -> Result {
    let path = format!("/v1/topics/{}", encode_path(&a.name));
    let v = client(&a.server)?.call(Method::GET, &path, None).await?;
    if a.output == Output::Json {
        return print_json(&v);
    }
    let t: Topic = read(&v)?;
    println!("topic:       {}", t.name);
    println!("partitions:  {}", t.partition_count);
    println!("records:     {}", t.records);
    println!("size:        {}", human_bytes(t.size_bytes));
    println!(
        "created:     {}",
        strata_server::time::format_ms(t.created_at_ms)
    );
    let config: Vec<String> = t
        .config
        .iter()
        .map(|(k, v)| format!("{k}={}", cell(v)))
        .collect();
    println!("config:      {}", config.join(" "));
    println!();
    let rows: Vec<Vec<String>> = t
        .partitions
        .iter()
        .map(|p| {
            vec![
                p.partition.to_string(),
                p.start_offset.to_string(),
                p.end_offset.to_string(),
                p.records.to_string(),
                human_bytes(p.size_bytes),
                p.segments.to_string(),
            ]
        })
        .collect();
    print_table(
        &["PARTITION", "START", "END", "RECORDS", "SIZE", "SEGMENTS"],
        &rows,
    )
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

/// A topic's durability for people.
fn durability(t: &Topic) -> String {
    t.config.get("durability").map_or_else(|| "-".into(), cell)
}
