//! DescribeConfigs with confluent-kafka's AdminClient and kafka-python's KafkaAdminClient: a
//! topic's configs under Kafka's names with their sources and synonyms, the broker's, and an
//! unknown topic's error.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Broker, run};

#[test]
fn admin_clients_describe_topics_and_the_broker() {
    let broker = Broker::start();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/describe_configs.py");
    let out = run(
        Command::new("python3")
            .arg(script)
            .args([&broker.bootstrap(), "described"]),
        b"",
    );
    let json = String::from_utf8(out.stdout).expect("utf-8");
    let has = |needle: &str| assert!(json.contains(needle), "no {needle} in {json}");
    // confluent-kafka: every config, set ones from the topic (source 1), others defaults (5).
    has(r#""retention.ms": {"default": false, "read_only": true, "source": 1, "value": "60000"}"#);
    has(
        r#""strata.durability": {"default": false, "read_only": true, "source": 1, "value": "never"}"#,
    );
    has(
        r#""segment.bytes": {"default": true, "read_only": true, "source": 5, "value": "268435456"}"#,
    );
    has(
        r#""cleanup.policy": {"default": true, "read_only": true, "source": 5, "value": "delete"}"#,
    );
    has(r#""num.partitions": {"default": true, "read_only": true, "source": 5, "value": "1"}"#);
    has(
        r#""message.max.bytes": {"default": true, "read_only": true, "source": 5, "value": "1048576"}"#,
    );
    has(r#""confluent_unknown": "UNKNOWN_TOPIC_OR_PART""#);
    // kafka-python: its default filter keeps what differs from the defaults.
    has(r#""python_modified": {"retention.ms": "60000", "strata.durability": "never"}"#);
    // The key filter, synonyms and types (v3+).
    has(
        r#""python_filtered": {"retention.ms": {"source": "DYNAMIC_TOPIC_CONFIG", "synonyms": [["retention.ms", "60000", "DYNAMIC_TOPIC_CONFIG"], ["log.retention.ms", "-1", "DEFAULT_CONFIG"]], "type": "LONG", "value": "60000"}, "segment.bytes": {"source": "DEFAULT_CONFIG", "synonyms": [["log.segment.bytes", "268435456", "DEFAULT_CONFIG"]], "type": "INT", "value": "268435456"}}"#,
    );
    has(r#""auto.create.topics.enable": "true""#);
    has(r#""socket.request.max.bytes": "104857600""#);
    // The created topic is strata's, with the configs as given.
    let topic = broker.log.topic("described").expect("created");
    assert_eq!(topic.partition_count(), 2);
    assert_eq!(topic.config().retention_ms, Some(60_000));
    assert_eq!(topic.config().durability, strata_log::Durability::Never);
}
