//! kcat (librdkafka) against the Kafka listener: produce with keys and headers and consume
//! back byte for byte, metadata (`-L`), offsets for times (`-Q`).

mod support;

use std::process::Command;

use support::{Broker, run};

fn kcat(broker: &Broker) -> Command {
    let mut cmd = Command::new("kcat");
    cmd.arg("-b").arg(broker.bootstrap()).arg("-q");
    cmd
}

#[test]
fn keys_values_and_headers_round_trip_byte_for_byte() {
    let broker = Broker::start();
    let input = "alpha:{\"n\":1}\nbeta:{\"n\":2}\n:no key\ngamma:tab\there\n";
    run(
        kcat(&broker).args([
            "-P",
            "-t",
            "events",
            "-K:",
            "-H",
            "source=kcat",
            "-H",
            "trace=a,b",
        ]),
        input.as_bytes(),
    );
    let out = run(
        kcat(&broker).args([
            "-C",
            "-t",
            "events",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%k|%s|%h|%o\\n",
        ]),
        b"",
    );
    let got = String::from_utf8(out.stdout).expect("utf-8");
    let want = "alpha|{\"n\":1}|source=kcat,trace=a,b|0\n\
                beta|{\"n\":2}|source=kcat,trace=a,b|1\n\
                |no key|source=kcat,trace=a,b|2\n\
                gamma|tab\there|source=kcat,trace=a,b|3\n";
    assert_eq!(got, want);

    // The records are strata's: the log holds them with the same keys and headers.
    let topic = broker.log.topic("events").expect("auto-created");
    let fetch = topic.partitions()[0]
        .read(0, strata_log::ReadLimits::default())
        .expect("read");
    let records: Vec<_> = fetch
        .records()
        .map(|r| r.expect("record").to_owned_record().expect("owned"))
        .collect();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].key.as_deref(), Some(&b"alpha"[..]));
    assert_eq!(
        records[2].key.as_deref(),
        Some(&b""[..]),
        "kcat sends an empty key, not none"
    );
    assert_eq!(records[1].headers[1].key, "trace");
    assert_eq!(records[1].headers[1].value, b"a,b");
}

#[test]
fn binary_values_round_trip() {
    let broker = Broker::start();
    let value: Vec<u8> = (0..=255u8).collect();
    run(
        kcat(&broker).args(["-P", "-t", "bin", "-D", "END-OF-RECORD"]),
        &value,
    );
    let out = run(
        kcat(&broker).args(["-C", "-t", "bin", "-o", "beginning", "-e", "-D", ""]),
        b"",
    );
    assert_eq!(out.stdout, value);
}

#[test]
fn metadata_lists_the_topics_and_their_partitions() {
    let broker = Broker::start();
    broker
        .log
        .create_topic("orders", 3, strata_log::TopicConfig::default())
        .expect("topic");
    let out = run(kcat(&broker).args(["-L", "-J"]), b"");
    let json = String::from_utf8(out.stdout).expect("utf-8");
    assert!(json.contains("\"topic\":\"orders\""), "{json}");
    assert!(json.contains("\"partition\":2"), "{json}");
    assert!(!json.contains("\"partition\":3"), "{json}");
    assert!(
        json.contains(&format!("\"name\":\"{}\"", broker.bootstrap())),
        "{json}"
    );
}

#[test]
fn offsets_for_times() {
    let broker = Broker::start();
    // Three records with timestamps 1000, 2000, 3000, appended to the log directly.
    let topic = broker
        .log
        .create_topic("timed", 1, strata_log::TopicConfig::default())
        .expect("topic");
    let records: Vec<_> = [1000, 2000, 3000]
        .iter()
        .map(|&t| strata_log::Record::new(format!("at {t}"), t))
        .collect();
    topic
        .append(
            0,
            strata_log::EncodedBatch::from_records(&records).expect("batch"),
        )
        .expect("append");
    let query = |spec: &str| {
        let out = run(kcat(&broker).args(["-Q", "-t", spec]), b"");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert!(
        query("timed:0:1500").contains("offset 1"),
        "{}",
        query("timed:0:1500")
    );
    assert!(query("timed:0:3000").contains("offset 2"));
    assert!(query("timed:0:500").contains("offset 0"));
    // After the newest record: no offset (Kafka answers -1, kcat prints the end).
    let late = query("timed:0:9000");
    assert!(
        late.contains("offset -1") || late.contains("offset 3"),
        "{late}"
    );
}
