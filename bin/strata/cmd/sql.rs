//! `strata sql`: send SQL to the node; print what each statement did, or stream the rows of a
//! continuous query until Ctrl-C or --limit.

use std::io::{Read, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use serde::Deserialize;
use serde_json::Value;
use strata_server::api::ErrorBody;
use strata_server::api::sql::{Outcome, Source, SqlResponse};
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
            Outcome::Listing { sources, views } => {
                let sources: Vec<Vec<String>> = sources
                    .iter()
                    .map(|s| vec![s.name.clone(), s.kind.clone(), s.topic.clone()])
                    .collect();
                print_table(&["SOURCE", "KIND", "TOPIC"], &sources)?;
                let views: Vec<Vec<String>> = views.iter().map(|v| vec![v.clone()]).collect();
                println!();
                print_table(&["VIEW"], &views)?;
            }
            Outcome::SourceDescription { source } => print_source(source)?,
            other => println!("{}", outcome_line(other)),
        }
    }
    Ok(())
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
        println!("primary key: {k}");
    }
    let columns: Vec<Vec<String>> = s
        .columns
        .iter()
        .map(|c| vec![c.name.clone(), c.data_type.to_uppercase()])
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
        Outcome::ViewDescription { plan, stats } => {
            /// The names in a plan this line shows.
            #[derive(Deserialize)]
            struct Names {
                name: Option<String>,
                source: Option<SourceName>,
            }
            #[derive(Deserialize)]
            struct SourceName {
                name: Option<String>,
            }
            let names = serde_json::from_str::<Names>(plan.get()).ok();
            let view = names.as_ref().and_then(|n| n.name.clone());
            let source = names.and_then(|n| n.source).and_then(|s| s.name);
            let stats = serde_json::from_str::<Value>(stats.get()).unwrap_or_default();
            format!("view {} reads {}; stats {stats}", opt(view), opt(source))
        }
        // Printed whole elsewhere (`print_outcomes`); here, before a query's rows, as JSON.
        Outcome::Listing { .. } | Outcome::SourceDescription { .. } => serde_json::to_value(o)
            .map(|v| v.to_string())
            .unwrap_or_default(),
    }
}
