//! kafka-python and confluent-kafka against the Kafka listener: round trips under every
//! compression, and consumer groups of two that split the partitions, hand them over when
//! one leaves, and commit offsets into strata's group store (surviving a restart).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Broker, run};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

fn python(name: &str, args: &[&str]) -> Vec<serde_like::Line> {
    let out = run(Command::new("python3").arg(script(name)).args(args), b"");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(serde_like::Line::parse)
        .collect()
}

/// Just enough JSON reading for the scripts' one-line summaries, without a JSON dependency.
mod serde_like {
    #[derive(Debug)]
    pub struct Line(pub String);

    impl Line {
        pub fn parse(s: &str) -> Line {
            Line(s.to_owned())
        }

        /// The raw text of a field's value.
        pub fn get(&self, key: &str) -> &str {
            let pat = format!("\"{key}\": ");
            let start = self
                .0
                .find(&pat)
                .unwrap_or_else(|| panic!("no {key} in {}", self.0))
                + pat.len();
            let rest = &self.0[start..];
            let mut depth = 0;
            for (i, c) in rest.char_indices() {
                match c {
                    '[' | '{' => depth += 1,
                    ']' | '}' if depth > 0 => depth -= 1,
                    ',' | '}' if depth == 0 => return &rest[..i],
                    _ => {}
                }
            }
            rest
        }
    }
}

fn seed(broker: &Broker, topic: &str, partitions: u32, records: usize) {
    let t = broker
        .log
        .create_topic(topic, partitions, strata_log::TopicConfig::default())
        .expect("topic");
    for i in 0..records {
        let p = i as u32 % partitions;
        let batch = strata_log::EncodedBatch::from_records(&[strata_log::Record::new(
            format!("r{i}"),
            1_700_000_000_000,
        )
        .with_key(format!("k{i}"))])
        .expect("batch");
        t.append(p, batch).expect("append");
    }
}

#[test]
fn kafka_python_round_trips_under_every_compression() {
    let broker = Broker::start();
    let lines = python("kafka_python_roundtrip.py", &[&broker.bootstrap()]);
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in &lines {
        assert_eq!(line.get("acked"), "true", "{line:?}");
        assert_eq!(line.get("consumed"), "200", "{line:?}");
        assert_eq!(line.get("intact"), "true", "{line:?}");
    }
}

#[test]
fn confluent_kafka_round_trips_under_every_compression_and_commits() {
    let broker = Broker::start();
    let lines = python("confluent_roundtrip.py", &[&broker.bootstrap()]);
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in &lines {
        assert_eq!(line.get("errors"), "[]", "{line:?}");
        assert_eq!(line.get("delivered"), "300", "{line:?}");
        assert_eq!(line.get("consumed"), "300", "{line:?}");
        assert_eq!(line.get("intact"), "true", "{line:?}");
    }
    // The commit landed in strata's group store: the HTTP API's groups see the same lag.
    let lag = broker.log.group_lag("ck-zstd-reader").expect("group");
    assert_eq!(lag.len(), 1);
    assert_eq!((lag[0].committed, lag[0].lag), (300, 0));
}

#[test]
fn confluent_kafka_group_of_two_splits_then_hands_over_and_offsets_survive_a_restart() {
    let broker = Broker::start();
    broker
        .log
        .create_topic("split", 4, strata_log::TopicConfig::default())
        .expect("topic");
    let out = python(
        "confluent_group.py",
        &[&broker.bootstrap(), "split", "pair"],
    );
    let summary = &out[0];
    assert_eq!(
        summary.get("split"),
        "{\"a\": [0, 1], \"b\": [2, 3]}",
        "{summary:?}"
    );
    assert_eq!(summary.get("alone"), "[0, 1, 2, 3]", "{summary:?}");
    assert_eq!(summary.get("distinct"), "400", "{summary:?}");
    let committed = |log: &strata_log::Log| {
        let mut offsets: Vec<_> = log
            .groups()
            .offsets("pair")
            .expect("group")
            .into_iter()
            .map(|(t, p, c)| (t, p, c.offset))
            .collect();
        offsets.sort();
        offsets
    };
    let before = committed(&broker.log);
    assert_eq!(
        before,
        (0..4)
            .map(|p| ("split".to_owned(), p, 100))
            .collect::<Vec<_>>()
    );
    // Restart: the node's store reopens with the same offsets, and a Kafka client reads them.
    let dir = broker.stop();
    let broker = Broker::open(dir, strata_kafka::KafkaConfig::default());
    assert_eq!(committed(&broker.log), before);
    let check = "import sys\nfrom confluent_kafka import Consumer, TopicPartition\n\
        c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'pair'})\n\
        print(sorted(tp.offset for tp in c.committed([TopicPartition('split', p) for p in range(4)], timeout=10)))\n";
    assert_eq!(
        support::python(check, &[&broker.bootstrap()]).trim(),
        "[100, 100, 100, 100]"
    );
}

#[test]
fn kafka_python_group_of_two_splits_then_hands_over() {
    let broker = Broker::start();
    seed(&broker, "halves", 4, 400);
    let out = python(
        "kafka_python_group.py",
        &[&broker.bootstrap(), "halves", "py-pair"],
    );
    let summary = &out[0];
    assert_ne!(summary.get("split"), "null", "{summary:?}");
    assert_eq!(summary.get("alone"), "[0, 1, 2, 3]", "{summary:?}");
    assert_eq!(summary.get("distinct"), "400", "{summary:?}");
    let total: u64 = broker
        .log
        .group_lag("py-pair")
        .expect("group")
        .iter()
        .map(|l| l.committed)
        .sum();
    assert_eq!(total, 400);
}
