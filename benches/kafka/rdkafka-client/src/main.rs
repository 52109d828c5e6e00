//! librdkafka as a plain producer or consumer, timed: the Kafka benchmark's client.
//!
//! `strata-bench-rdkafka produce <brokers> <topic> <records> <value-bytes>` sends `records`
//! values to partition 0 (acks=all, linger 5 ms, batch 1 MiB, no compression) and waits for
//! every delivery report; `strata-bench-rdkafka consume <brokers> <topic> <records>` reads
//! partition 0 from the beginning until `records` messages arrived. Either prints the seconds
//! it took on stdout and fails (exit 1, message on stderr) if a record was not delivered or
//! not read in order.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["produce", brokers, topic, records, value_bytes] => {
            produce(brokers, topic, records.parse().unwrap_or(0), value_bytes.parse().unwrap_or(100))
        }
        ["consume", brokers, topic, records] => consume(brokers, topic, records.parse().unwrap_or(0)),
        _ => Err("usage: strata-bench-rdkafka produce <brokers> <topic> <records> <value-bytes> | consume <brokers> <topic> <records>".into()),
    };
    match outcome {
        Ok(seconds) => {
            println!("{seconds:.6}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("strata-bench-rdkafka: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Counts delivery reports, so that a failed delivery fails the run instead of being lost in
/// librdkafka's default (silent) handler.
#[derive(Default)]
struct Deliveries {
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let counter = if result.is_ok() {
            &self.delivered
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn produce(brokers: &str, topic: &str, records: u64, value_bytes: usize) -> Result<f64> {
    let producer: BaseProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1048576")
        .set("compression.type", "none")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create_with_context(Deliveries::default())?;
    let mut value = vec![b'x'; value_bytes];
    let started = Instant::now();
    for i in 0..records {
        // A distinct value per record, as real data has, without a formatting cost.
        let n = value.len().min(8);
        value[..n].copy_from_slice(&i.to_le_bytes()[..n]);
        let mut record = BaseRecord::<(), [u8]>::to(topic)
            .payload(&value)
            .partition(0);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if i % 4096 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let seconds = started.elapsed().as_secs_f64();
    let context = producer.context();
    let (delivered, failed) = (
        context.delivered.load(Ordering::Relaxed),
        context.failed.load(Ordering::Relaxed),
    );
    if delivered != records || failed != 0 {
        return Err(format!("{delivered} of {records} records delivered, {failed} failed").into());
    }
    Ok(seconds)
}

fn consume(brokers: &str, topic: &str, records: u64) -> Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "strata-bench-rdkafka")
        .set("enable.auto.commit", "false")
        .set("queued.min.messages", "1000000")
        .set("queued.max.messages.kbytes", "1048576")
        .set("fetch.max.bytes", "104857600")
        .set("max.partition.fetch.bytes", "16777216")
        .create()?;
    let started = Instant::now();
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&partitions)?;
    let mut expected = 0;
    while expected < records {
        let Some(message) = consumer.poll(Duration::from_secs(10)) else {
            return Err(format!("no message for 10 s after offset {expected} of {records}").into());
        };
        let offset = message?.offset();
        if offset != expected as i64 {
            return Err(format!("read offset {offset}, expected {expected}").into());
        }
        expected += 1;
    }
    Ok(started.elapsed().as_secs_f64())
}
