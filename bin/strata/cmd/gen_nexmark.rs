//! `strata gen nexmark`: the Nexmark generator's persons, auctions and bids
//! (crates/strata-nexmark) into the three topics the Nexmark queries read
//! (benches/nexmark/schema.sql), through the node's HTTP API — or, with --out, one line per
//! event tagged with its kind (`{"event_type":2,"bid":{…}}`, the reference's format).
//!
//! As fast as possible by default; with `--live`, paced to `--rate` events per second (every
//! kind counts, as in the reference's rate): event `n` is sent when `n / rate` seconds have
//! passed, until `--events` or Ctrl-C (which sends what is pending and stops).

use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strata_nexmark::{Kind, NexmarkConfig, NexmarkGenerator, json};
use strata_server::time::{now_ms, parse_time};

use super::{Failure, Result, client, fail};
use crate::args::GenArgs;

/// Records per produce request.
const BATCH: usize = 1000;
/// With `--live`, sleep only when the next event is due this much later (sending what is
/// pending first): requests stay batched at high rates.
const LIVE_SLACK: Duration = Duration::from_millis(50);

/// The topic of `kind`: `--topic nexmark` means the plain names (person, auction, bid);
/// any other value is a prefix.
fn topic_name(prefix: &str, kind: Kind) -> String {
    if prefix == "nexmark" {
        kind.name().to_owned()
    } else {
        format!("{prefix}{}", kind.name())
    }
}

/// `strata gen nexmark`.
pub async fn run(a: GenArgs) -> Result {
    if a.events == 0 {
        return fail("--events must be at least 1");
    }
    if a.out_of_order_ms > 0 || a.late_fraction > 0.0 || a.keys.is_some() {
        return fail(
            "nexmark takes --events, --seed, --rate, --start and --live (its events are in event-time order, at the rate); drop --out-of-order-ms, --late-fraction and --keys",
        );
    }
    let base_time_ms =
        parse_time(&a.start, now_ms()).map_err(|e| Failure(format!("--start: {e}")))?;
    let config = NexmarkConfig {
        seed: a.seed,
        rate: a.rate,
        base_time_ms,
        ..NexmarkConfig::default()
    };
    let events =
        NexmarkGenerator::new(config, Some(a.events)).map_err(|e| Failure(e.to_string()))?;
    if let Some(path) = &a.out {
        let to = path.display().to_string();
        let out: Box<dyn Write> = if to == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(path)
                    .map_err(|e| Failure(format!("cannot create --out {to}: {e}")))?,
            ))
        };
        let mut out = out;
        for e in events {
            writeln!(out, "{}", json::tagged(&e))?;
        }
        out.flush()?;
        eprintln!("generated {} nexmark event(s) to {to}", a.events);
        return Ok(());
    }
    let Some(prefix) = a.topic.as_deref() else {
        return fail(
            "give --topic nexmark (topics person, auction, bid), --topic PREFIX, or --out FILE",
        );
    };
    let client = client(&a.server)?;
    let topics = Kind::ALL.map(|k| topic_name(prefix, k));
    for t in &topics {
        super::r#gen::ensure_topic(&client, t, a.partitions).await?;
    }
    let mut batches: [Vec<String>; 3] = Default::default();
    let mut counts = [0u64; 3];
    let mut value = String::new();
    let started = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut interrupted = false;
    for e in events {
        if a.live {
            // Event time advances 1/rate per event from --start: pace by it.
            let offset = u64::try_from(e.date_time() - base_time_ms).unwrap_or(0);
            let due = started + Duration::from_millis(offset);
            if due > Instant::now() + LIVE_SLACK {
                for k in 0..3 {
                    send(&client, &topics[k], &mut batches[k]).await?;
                }
                tokio::select! {
                    () = tokio::time::sleep_until(due.into()) => {}
                    _ = &mut ctrl_c => {
                        interrupted = true;
                        break;
                    }
                }
            }
        }
        let k = e.kind() as usize;
        value.clear();
        json::write_value(&e, &mut value);
        batches[k].push(format!(
            "{{\"value\":{value},\"timestamp\":{}}}",
            e.date_time()
        ));
        counts[k] += 1;
        if batches[k].len() >= BATCH {
            send(&client, &topics[k], &mut batches[k]).await?;
        }
    }
    for k in 0..3 {
        send(&client, &topics[k], &mut batches[k]).await?;
    }
    let sent: u64 = counts.iter().sum();
    eprintln!(
        "generated {sent} nexmark event(s): {} to {}, {} to {}, {} to {}{}",
        counts[0],
        topics[0],
        counts[1],
        topics[1],
        counts[2],
        topics[2],
        if a.live {
            format!(
                " in {:.1} s ({:.0} events/s, target {}){}",
                started.elapsed().as_secs_f64(),
                sent as f64 / started.elapsed().as_secs_f64().max(1e-9),
                a.rate,
                if interrupted {
                    "; stopped by Ctrl-C"
                } else {
                    ""
                }
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn send(
    client: &strata_server::client::Client,
    topic: &str,
    batch: &mut Vec<String>,
) -> Result {
    if batch.is_empty() {
        return Ok(());
    }
    let body = format!("[{}]", batch.join(","));
    client.produce(topic, Bytes::from(body)).await?;
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_plain_or_prefixed() {
        assert_eq!(topic_name("nexmark", Kind::Bid), "bid");
        assert_eq!(topic_name("nx.", Kind::Person), "nx.person");
    }
}
