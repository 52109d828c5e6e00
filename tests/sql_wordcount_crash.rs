//! The word count in SQL alone, into a named output topic, through kill -9: lines arrive with
//! `strata produce --format lines` in rounds, the node is killed (SIGKILL) while the view
//! counts, restarted on the same data directory, and at the end the topic `word_counts` —
//! what a Kafka consumer of the result reads — holds, for every word, counts that only grow
//! (no update written twice, none taken back) and end at a plain Rust count of the input.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use strata_server::client::Client;

use common::*;

const VIEWS: &str =
    "CREATE STREAM lines (line VARCHAR) WITH (kafka_topic='lines', value_format='KAFKA');
CREATE TABLE word_counts WITH (kafka_topic='word_counts', partitions=2) AS
  SELECT EXPLODE(SPLIT(LCASE(line), ' ')) AS word, COUNT(*) AS n
  FROM lines GROUP BY word;";

/// Lines of 10 words from a vocabulary of 300, deterministic per round.
fn round_lines(round: u64, n: usize) -> Vec<String> {
    let mut rng = Rng(round + 1);
    (0..n)
        .map(|_| {
            (0..10)
                .map(|_| format!("w{}", rng.below(300)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Per word (the record key, a plain string), the counts the topic holds, in order.
async fn updates(c: &Client) -> BTreeMap<String, Vec<u64>> {
    let mut by_word: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in all_records(c, "word_counts").await {
        let word = r["key"].as_str().expect("a plain string key").to_owned();
        assert_eq!(r["value"]["word"], word.as_str(), "{r}");
        let n = r["value"]["n"].as_u64().expect("n");
        by_word.entry(word).or_default().push(n);
    }
    by_word
}

fn produce_lines(node: &Node, lines: &[String]) {
    let text = lines.join("\n") + "\n";
    ok(&node.cli_stdin(
        &["produce", "lines", "--format", "lines"],
        Some(text.as_bytes()),
    ));
}

fn start(dir: &Path) -> Node {
    Node::start_in(dir, &["--checkpoint-interval", "50ms"])
}

#[tokio::test(flavor = "multi_thread")]
async fn word_count_into_a_named_topic_is_exactly_once_through_kill9() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut node = start(&dir);
    let r = sql(&node.client(), VIEWS).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for round in 0..6 {
        let lines = round_lines(round, 5_000);
        for line in &lines {
            for w in line.split(' ') {
                *want.entry(w.to_owned()).or_default() += 1;
            }
        }
        produce_lines(&node, &lines);
        if round % 2 == 1 {
            // Killed while the view is (most likely) still counting and copying this round:
            // at once after the produce, or a few checkpoints into it.
            tokio::time::sleep(Duration::from_millis(if round == 1 { 0 } else { 120 })).await;
            node.kill9();
            node = start(&dir);
        }
    }

    let c = node.client();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got = updates(&c).await;
        for (word, ns) in &got {
            assert!(
                ns.windows(2).all(|p| p[0] < p[1]),
                "{word}: counts must only grow in the output topic (an update written twice or taken back): {ns:?}"
            );
        }
        let last: BTreeMap<String, u64> = got
            .iter()
            .map(|(w, ns)| (w.clone(), *ns.last().expect("an update")))
            .collect();
        if last == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the output topic did not reach the Rust count: {} words of {}",
            last.iter().filter(|(w, n)| want.get(*w) == Some(n)).count(),
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    node.stop();
}
