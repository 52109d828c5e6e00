//! `strata sql`: send SQL to the node; print what each statement did (a pull query's rows,
//! SHOW's lists, DESCRIBE, EXPLAIN as tables and text), or stream the rows of a push query or
//! the records of a PRINT until Ctrl-C, --limit or the statement's LIMIT.

use std::io::{Read, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::Value;
use strata_server::api::ErrorBody;
use strata_server::api::sql::{Outcome, Source, SqlResponse, Statistics};
use strata_server::client::api_error;

use super::ndjson::Lines;
use super::{Failure, Result, client, fail, opt, print_json, print_table, read};
use crate::args::{Output, SqlArgs};

/// `strata sql`.
pub async fn run(a: SqlArgs) -> Result {
    let text = match (&a.sql, &a.file) {
        (Some(sql), None) => sql.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure(format!("cannot read SQL from stdin: {e}")))?;
            s
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?,
        _ => return fail("give the SQL as an argument or with --file, not both"),
    };
    let client = client(&a.server)?;
    let path = match a.limit {
        Some(n) => format!("/v1/sql?limit={n}"),
        None => "/v1/sql".to_owned(),
    };
    let response = client
        .send(
            Method::POST,
            &path,
            Some((Bytes::from(text), "text/plain; charset=utf-8")),
        )
        .await?;
    let status = response.status();
    let streaming = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    if !status.is_success() || !streaming {
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure(format!("the answer broke off: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(api_error(status, &body).into());
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| Failure(format!("the node's answer is not JSON: {e}")))?;
        let answer: SqlResponse = read(&v)?;
        return print_outcomes(&answer.outcomes, a.output);
    }
    // A continuous query: the statements before it are in a header; its rows are the body.
    if let Some(earlier) = response
        .headers()
        .get("strata-outcomes")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<Vec<Outcome>>(v).ok())
    {
        // To stderr, so that stdout holds only rows.
        for o in &earlier {
            eprintln!("{}", outcome_line(o));
        }
    }
    let mut lines = Lines::new(response.into_body());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        // Returning drops the response, which closes the connection: the node then drops
        // the query's temporary view.
        let line = tokio::select! {
            l = lines.next() => l?,
            _ = &mut ctrl_c => return Ok(()),
        };
        let Some(line) = line else {
            out.flush().ok();
            return Ok(());
        };
        if line.starts_with(b"{\"error\"") {
            let message = serde_json::from_slice::<ErrorBody>(&line).map_or_else(
                |_| String::from_utf8_lossy(&line).into_owned(),
                |e| e.error.message,
            );
            return fail(format!("the node ended the query: {message}"));
        }
        // Flushed once the lines that arrived together are written.
        let written = out.write_all(&line).and_then(|()| out.write_all(b"\n"));
        let written = written.and_then(|()| {
            if lines.has_line() {
                Ok(())
            } else {
                out.flush()
            }
        });
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

fn print_outcomes(outcomes: &[Outcome], output: Output) -> Result {
    if output == Output::Json {
        let v = serde_json::to_value(outcomes).map_err(|e| Failure(e.to_string()))?;
        return print_json(&v);
    }
    for o in outcomes {
        match o {
            Outcome::Listing { sources, views, .. } => {
                let sources: Vec<Vec<String>> = sources
                    .iter()
                    .map(|s| vec![s.name.clone(), s.kind.clone(), s.topic.clone()])
                    .collect();
                print_table(&["SOURCE", "KIND", "TOPIC"], &sources)?;
                let views: Vec<Vec<String>> = views.iter().map(|v| vec![v.clone()]).collect();
                println!();
                print_table(&["VIEW"], &views)?;
            }
            Outcome::SourceDescription { source, statistics } => {
                print_source(source)?;
                if let Some(s) = statistics {
                    print_statistics(s);
                }
            }
            Outcome::ViewDescription {
                output: Some(output),
                query_id,
                statistics,
                ..
            } => {
                print_source(output)?;
                println!("query: {}", opt(query_id.clone()));
                if let Some(s) = statistics {
                    print_statistics(s);
                }
            }
            Outcome::Queries { queries } => {
                let rows: Vec<Vec<String>> = queries
                    .iter()
                    .map(|q| {
                        vec![
                            q.id.clone(),
                            q.kind.clone(),
                            q.source.clone(),
                            q.sink.clone(),
                            q.status.clone(),
                        ]
                    })
                    .collect();
                print_table(&["QUERY", "KIND", "READS", "WRITES", "STATUS"], &rows)?;
            }
            Outcome::Topics { topics } => {
                let rows: Vec<Vec<String>> = topics
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.partitions.to_string(),
                            t.records.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["TOPIC", "PARTITIONS", "RECORDS"], &rows)?;
            }
            Outcome::Explanation { text, .. } => println!("{text}"),
            Outcome::Rows { columns, rows, .. } => print_rows(columns, rows)?,
            other => println!("{}", outcome_line(other)),
        }
    }
    Ok(())
}

/// A pull query's rows as a table, columns in the answer's order.
fn print_rows(columns: &Value, rows: &[Value]) -> Result {
    let names: Vec<String> = columns
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let header: Vec<String> = names.iter().map(|n| n.to_uppercase()).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|v| {
            names
                .iter()
                .map(|n| match &v[n] {
                    Value::String(s) => s.clone(),
                    Value::Null => "null".to_owned(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    print_table(&header, &cells)
}

/// What `DESCRIBE EXTENDED` adds.
fn print_statistics(s: &Statistics) {
    println!(
        "topic {}: {} partition(s), {} record(s); read by {}",
        s.topic.name,
        s.topic.partitions,
        s.topic.records,
        if s.read_by.is_empty() {
            "no query".to_owned()
        } else {
            s.read_by.join(", ")
        }
    );
}

/// `DESCRIBE` of a stream or table.
fn print_source(s: &Source) -> Result {
    println!("{} {} on topic {}", s.kind, s.name, s.topic);
    let event_time = match &s.timestamp_column {
        None => "the record timestamp (ROWTIME)".to_owned(),
        Some(c) => c.clone(),
    };
    println!("event time: {event_time}");
    if let Some(k) = &s.primary_key {
        // A stream's KEY column is read from the record key as a table's primary key is.
        let what = if s.kind == "table" {
            "primary key"
        } else {
            "key"
        };
        println!("{what}: {k} (read from the record key)");
    }
    if let Some(pt) = &s.proctime_column {
        println!("processing time: {pt}");
    }
    println!("format: {}", s.format);
    let columns: Vec<Vec<String>> = s
        .columns
        .iter()
        .map(|c| {
            // The API's type names are snake_case (`big_int`); SQL spells them `BIGINT`.
            vec![c.name.clone(), c.data_type.replace('_', "").to_uppercase()]
        })
        .collect();
    print_table(&["COLUMN", "TYPE"], &columns)
}

/// One line for people about an outcome.
fn outcome_line(o: &Outcome) -> String {
    match o {
        Outcome::SourceCreated { name, topic } => format!("created {name} on topic {topic}"),
        Outcome::ViewCreated { name, changelog } => format!(
            "created view {name}: `strata query {name}` reads it, its changes go to topic {changelog}"
        ),
        Outcome::AlreadyExists { name } => format!("{name} already exists: nothing done"),
        Outcome::Dropped { name } => format!("dropped {name}"),
        Outcome::QueryStarted { name, .. } => format!("started query {name}"),
        Outcome::InsertStarted { id, target, topic } => {
            format!("started query {id}: INSERT INTO {target} (topic {topic})")
        }
        Outcome::Terminated { queries } => format!("terminated {}", queries.join(", ")),
        Outcome::PropertySet { property, value } => {
            format!("set {property} = {value} for the statements after it")
        }
        Outcome::PrintStarted { topic, .. } => format!("printing topic {topic}"),
        Outcome::ViewDescription { plan, stats, .. } => {
            let name = |v: &Value| v["name"].as_str().map(str::to_owned);
            let (view, source) = (name(plan), name(&plan["source"]));
            format!("view {} reads {}; stats {stats}", opt(view), opt(source))
        }
        // Printed whole elsewhere (`print_outcomes`); here, before a query's rows, as JSON.
        Outcome::Listing { .. }
        | Outcome::SourceDescription { .. }
        | Outcome::Queries { .. }
        | Outcome::Topics { .. }
        | Outcome::Explanation { .. }
        | Outcome::Rows { .. } => serde_json::to_value(o)
            .map(|v| v.to_string())
            .unwrap_or_default(),
    }
}
