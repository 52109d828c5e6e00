//! The code of each command; the arguments are in `crate::args`.

mod batch;
mod bench;
mod bench_nexmark;
mod consume;
mod demo;
mod r#gen;
mod gen_nexmark;
mod group;
mod ndjson;
mod produce;
mod replay;
mod serve;
mod sql;
mod topic;
mod view;

use std::io::Write;

use serde::de::DeserializeOwned;
use serde_json::Value;
use strata_server::client::Client;

use crate::args::{
    BatchCommand, BenchCommand, Cli, Command, GroupCommand, ReplayCommand, ServerArgs,
    TopicCommand, ViewCommand,
};

/// A failure to report: a message that says what went wrong and what to do.
#[derive(Debug)]
pub struct Failure(pub String);

/// Every command's result.
pub type Result<T = ()> = std::result::Result<T, Failure>;

impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// A failure with a message.
pub fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(Failure(message.into()))
}

/// Runs a command.
pub async fn run(cli: Cli) -> Result {
    match cli.command {
        Command::Serve(a) => serve::run(a).await,
        Command::Topic(TopicCommand::Create(a)) => topic::create(a).await,
        Command::Topic(TopicCommand::List(a)) => topic::list(a).await,
        Command::Topic(TopicCommand::Describe(a)) => topic::describe(a).await,
        Command::Topic(TopicCommand::Delete(a)) => topic::delete(a).await,
        Command::Produce(a) => produce::run(a).await,
        Command::Consume(a) => consume::run(a).await,
        Command::Group(GroupCommand::List(a)) => group::list(a).await,
        Command::Group(GroupCommand::Describe(a)) => group::describe(a).await,
        Command::Group(GroupCommand::Reset(a)) => group::reset(a).await,
        Command::Group(GroupCommand::Delete(a)) => group::delete(a).await,
        Command::Sql(a) => sql::run(a).await,
        Command::View(ViewCommand::List(a)) => view::list(a).await,
        Command::View(ViewCommand::Describe(a)) => view::describe(a).await,
        Command::View(ViewCommand::Drop(a)) => view::drop(a).await,
        Command::View(ViewCommand::Versions(a)) => replay::versions(a).await,
        Command::View(ViewCommand::Promote(a)) => replay::promote(a).await,
        Command::View(ViewCommand::DropVersion(a)) => replay::drop_version(a).await,
        Command::Replay(ReplayCommand::View(a)) => replay::view(a).await,
        Command::Replay(ReplayCommand::Topic(a)) => replay::topic(a).await,
        Command::Replay(ReplayCommand::List(a)) => replay::list(a).await,
        Command::Replay(ReplayCommand::Status(a)) => replay::status(a).await,
        Command::Replay(ReplayCommand::Cancel(a)) => replay::cancel(a).await,
        Command::Query(a) => view::query(a).await,
        Command::Batch(BatchCommand::Archive(a)) => batch::archive(a).await,
        Command::Batch(BatchCommand::Run(a)) => batch::run(a).await,
        Command::Bench(BenchCommand::Http(a)) => bench::http(a).await,
        Command::Bench(BenchCommand::Nexmark(a)) => bench_nexmark::run(a),
        Command::Gen(a) => r#gen::run(a).await,
        Command::Demo(a) => demo::run(a).await,
    }
}

/// A client of the node the arguments name.
fn client(server: &ServerArgs) -> Result<Client> {
    Ok(Client::new(&server.server, server.auth_token.clone())?)
}

/// The `list` commands: fetch `path` and print it as JSON (as the node wrote it), or read it
/// as the API type `T` and print `rows` of it as a table.
async fn list_command<T: DeserializeOwned>(
    server: &ServerArgs,
    output: crate::args::Output,
    path: &str,
    header: &[&str],
    rows: impl Fn(T) -> Vec<Vec<String>>,
) -> Result {
    let v = client(server)?.call(hyper::Method::GET, path, None).await?;
    match output {
        crate::args::Output::Json => print_json(&v),
        crate::args::Output::Table => print_table(header, &rows(read(&v)?)),
    }
}

/// A node's JSON answer read as one of the API's types (`strata_server::api`).
fn read<T: DeserializeOwned>(answer: &Value) -> Result<T> {
    Ok(strata_server::client::read(answer)?)
}

/// Prints JSON, pretty, to stdout.
fn print_json(v: &Value) -> Result {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v).map_err(|e| Failure(e.to_string()))?;
    writeln!(out)?;
    Ok(())
}

/// Prints rows as aligned columns under a header.
fn print_table(header: &[&str], rows: &[Vec<String>]) -> Result {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s
    };
    writeln!(
        out,
        "{}",
        line(header.iter().map(|h| (*h).to_owned()).collect())
    )?;
    for row in rows {
        writeln!(out, "{}", line(row.clone()))?;
    }
    Ok(())
}

/// A JSON value as text for a table cell (`-` for null, strings without quotes).
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An optional field as text for a table cell (`-` when absent).
fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// Human-readable byte count.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
