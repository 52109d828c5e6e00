//! `strata sql`: send SQL to the node; print what each statement did, or stream the rows of a
//! continuous query until Ctrl-C or --limit.

use std::io::{Read, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::Value;
use strata_server::client::api_error;

use super::{Failure, Result, cell, client, fail, print_json, print_table};
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
        return print_outcomes(&v["outcomes"], a.output);
    }
    // A continuous query: the statements before it are in a header; its rows are the body.
    if let Some(earlier) = response
        .headers()
        .get("strata-outcomes")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
    {
        // To stderr, so that stdout holds only rows.
        for line in outcome_lines(&earlier) {
            eprintln!("{line}");
        }
    }
    let mut body = response.into_body();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut pending: Vec<u8> = Vec::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        // Returning drops the response, which closes the connection: the node then drops
        // the query's temporary view.
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = &mut ctrl_c => return Ok(()),
        };
        let Some(frame) = frame else {
            out.flush().ok();
            return Ok(());
        };
        let frame =
            frame.map_err(|e| Failure(format!("the stream from the node broke off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let line = &line[..line.len() - 1];
            if line.starts_with(b"{\"error\"") {
                let v: Value = serde_json::from_slice(line).unwrap_or_default();
                return fail(format!(
                    "the node ended the query: {}",
                    v["error"]["message"]
                        .as_str()
                        .unwrap_or(&String::from_utf8_lossy(line))
                ));
            }
            match out.write_all(line).and_then(|()| out.write_all(b"\n")) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        match out.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

fn print_outcomes(outcomes: &Value, output: Output) -> Result {
    if output == Output::Json {
        return print_json(outcomes);
    }
    for o in outcomes.as_array().map(Vec::as_slice).unwrap_or_default() {
        match o["kind"].as_str() {
            Some("listing") => {
                let sources: Vec<Vec<String>> = o["sources"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|s| vec![cell(&s["name"]), cell(&s["kind"]), cell(&s["topic"])])
                    .collect();
                print_table(&["SOURCE", "KIND", "TOPIC"], &sources)?;
                let views: Vec<Vec<String>> = o["views"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|v| vec![cell(v)])
                    .collect();
                println!();
                print_table(&["VIEW"], &views)?;
            }
            Some("source_description") => {
                let s = &o["source"];
                println!(
                    "{} {} on topic {}",
                    cell(&s["kind"]),
                    cell(&s["name"]),
                    cell(&s["topic"])
                );
                let event_time = match &s["timestamp_column"] {
                    Value::Null => "the record timestamp (ROWTIME)".to_owned(),
                    c => cell(c),
                };
                println!("event time: {event_time}");
                if let Some(k) = s["primary_key"].as_str() {
                    println!("primary key: {k}");
                }
                let columns: Vec<Vec<String>> = s["columns"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .map(|c| vec![cell(&c["name"]), cell(&c["data_type"]).to_uppercase()])
                    .collect();
                print_table(&["COLUMN", "TYPE"], &columns)?;
            }
            _ => {
                for line in outcome_lines(&Value::Array(vec![o.clone()])) {
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}

/// One line per outcome, for people.
fn outcome_lines(outcomes: &Value) -> Vec<String> {
    outcomes
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let name = cell(&o["name"]);
            match o["kind"].as_str().unwrap_or_default() {
                "source_created" => format!("created {name} on topic {}", cell(&o["topic"])),
                "view_created" => format!(
                    "created view {name}: `strata query {name}` reads it, its changes go to topic {}",
                    cell(&o["changelog"])
                ),
                "already_exists" => format!("{name} already exists: nothing done"),
                "dropped" => format!("dropped {name}"),
                "query_started" => format!("started query {name}"),
                "view_description" => {
                    let plan = &o["plan"];
                    format!(
                        "view {} reads {}; stats {}",
                        cell(&plan["name"]),
                        cell(&plan["source"]["name"]),
                        o["stats"]
                    )
                }
                _ => o.to_string(),
            }
        })
        .collect()
}
