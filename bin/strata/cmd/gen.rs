//! `strata gen`: a deterministic dataset (crates/strata-gen) into a topic — through the
//! node's HTTP API, batched like `strata produce`, one request in flight so records keep
//! their arrival order — or into a file.

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata_gen::{Config, Dataset, Event, Generator};
use strata_server::api::topics::CreateTopic;
use strata_server::client::{Client, ClientError, encode_path};
use strata_server::time::{now_ms, parse_time};

use super::{Failure, Result, client, fail};
use crate::args::{GenArgs, GenFormat};

/// Records per produce request.
const BATCH: usize = 1000;
/// In --live mode, events due within this much of now go in the current request.
const LIVE_SLACK: Duration = Duration::from_millis(100);

/// What was generated, for the summary line.
#[derive(Debug, Default)]
pub(super) struct Summary {
    events: u64,
    late: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

impl Summary {
    fn add(&mut self, e: &Event) {
        self.events += 1;
        self.late += u64::from(e.late);
        self.first_ms = Some(
            self.first_ms
                .map_or(e.timestamp_ms, |m| m.min(e.timestamp_ms)),
        );
        self.last_ms = Some(
            self.last_ms
                .map_or(e.timestamp_ms, |m| m.max(e.timestamp_ms)),
        );
    }

    fn describe(&self, dataset: Dataset, to: &str) -> String {
        let span = match (self.first_ms, self.last_ms) {
            (Some(a), Some(b)) => format!(
                "; event time {} .. {}",
                strata_server::time::format_ms(a),
                strata_server::time::format_ms(b)
            ),
            _ => String::new(),
        };
        format!(
            "generated {} {dataset} event(s) ({} late) to {to}{span}",
            self.events, self.late
        )
    }
}

/// The generator's config from the arguments.
fn config(a: &GenArgs) -> Result<(Dataset, Config)> {
    let dataset: Dataset = a.dataset.parse().map_err(|e| Failure(format!("{e}")))?;
    if a.events == 0 {
        return fail("--events must be at least 1");
    }
    let start_ms = parse_time(&a.start, now_ms()).map_err(|e| Failure(format!("--start: {e}")))?;
    let config = Config {
        events: Some(a.events),
        seed: a.seed,
        rate: a.rate,
        start_ms,
        out_of_order_ms: a.out_of_order_ms,
        late_fraction: a.late_fraction,
        keys: a.keys,
    };
    config.validate().map_err(|e| Failure(e.to_string()))?;
    Ok((dataset, config))
}

/// `strata gen`.
pub async fn run(a: GenArgs) -> Result {
    if a.dataset.eq_ignore_ascii_case("nexmark") {
        return super::gen_nexmark::run(a).await;
    }
    let (dataset, config) = config(&a)?;
    let events = Generator::new(dataset, &config).map_err(|e| Failure(e.to_string()))?;
    if let Some(path) = &a.out {
        let to = path.display().to_string();
        let summary = if to == "-" {
            write_lines(events, a.format, std::io::stdout().lock())?
        } else {
            let file = std::fs::File::create(path)
                .map_err(|e| Failure(format!("cannot create --out {to}: {e}")))?;
            write_lines(events, a.format, std::io::BufWriter::new(file))?
        };
        eprintln!("{}", summary.describe(dataset, &to));
        return Ok(());
    }
    let Some(topic) = a.topic.as_deref() else {
        return fail("give --topic TOPIC or --out FILE");
    };
    let client = client(&a.server)?;
    ensure_topic(&client, topic, a.partitions).await?;
    let summary = produce(
        &client,
        topic,
        events,
        a.live.then(|| (Instant::now(), config.start_ms)),
    )
    .await?;
    eprintln!("{}", summary.describe(dataset, &format!("topic {topic}")));
    Ok(())
}

/// Writes one line per event.
fn write_lines(events: Generator, format: GenFormat, mut out: impl Write) -> Result<Summary> {
    let mut summary = Summary::default();
    for e in events {
        summary.add(&e);
        let line = match format {
            GenFormat::Values => e.value_line(),
            GenFormat::Records => e.record_json().to_string(),
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(summary)
}

/// Creates the topic unless it exists.
pub(super) async fn ensure_topic(client: &Client, topic: &str, partitions: u32) -> Result {
    let path = format!("/v1/topics/{}", encode_path(topic));
    match client.call(hyper::Method::GET, &path, None).await {
        Ok(_) => Ok(()),
        Err(ClientError::Api { status, .. }) if status == hyper::StatusCode::NOT_FOUND => {
            let create = CreateTopic {
                name: topic.to_owned(),
                partitions,
                config: None,
            };
            client
                .send_json(hyper::Method::POST, "/v1/topics", &create)
                .await?;
            eprintln!("created topic {topic} ({partitions} partition(s))");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Produces the events in batches; with `live = (t0, start_ms)` each event is sent when the
/// wall clock reaches `t0 + (arrival − start_ms)`.
pub(super) async fn produce(
    client: &Client,
    topic: &str,
    events: Generator,
    live: Option<(Instant, i64)>,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let mut batch: Vec<String> = Vec::with_capacity(BATCH);
    for e in events {
        if let Some((t0, start_ms)) = live {
            let offset = u64::try_from(e.arrival_ms.saturating_sub(start_ms)).unwrap_or(0);
            let due = t0 + Duration::from_millis(offset);
            if due > Instant::now() + LIVE_SLACK {
                send(client, topic, &mut batch, &summary).await?;
                tokio::time::sleep_until(due.into()).await;
            }
        }
        summary.add(&e);
        batch.push(e.record_json().to_string());
        if batch.len() >= BATCH {
            send(client, topic, &mut batch, &summary).await?;
        }
    }
    send(client, topic, &mut batch, &summary).await?;
    Ok(summary)
}

async fn send(client: &Client, topic: &str, batch: &mut Vec<String>, summary: &Summary) -> Result {
    if batch.is_empty() {
        return Ok(());
    }
    let body = format!("[{}]", batch.join(","));
    let sent = batch.len() as u64;
    client
        .produce(topic, Bytes::from(body))
        .await
        .map_err(|e| {
            Failure(format!(
                "{e}; {} event(s) were produced before this batch of {sent}",
                summary.events - sent
            ))
        })?;
    batch.clear();
    Ok(())
}
