//! Table functions and text formats end to end through the real binary: the word count in
//! SQL alone (lines in with `strata produce --format lines`, counted by ksqlDB's
//! `EXPLODE(SPLIT(…))` and Flink's `CROSS JOIN UNNEST` / `LATERAL TABLE`, equal to a plain Rust
//! count of the input), a KAFKA stream of numbers, a DELIMITED stream whose KEY column is the
//! record key, a bare JSON value (`wrap_single_value=false`), an `ARRAY<VARCHAR>` column of
//! JSON values — with bad records counted invalid — and the 400s bad table functions and
//! formats get from `POST /v1/sql`, each naming its line and column.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_server::client::Client;

use common::*;

/// Waits until `view` has read `records` records with no lag; returns its stats.
async fn read_all(c: &Client, view: &str, records: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = get(c, &format!("/v1/views/{view}/definition")).await;
        if status == 200 && v["stats"]["records_in"] == records && v["stats"]["lag"] == 0 {
            return v["stats"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{view} did not read {records}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The rows of `view` as `key column → value column`.
async fn counts(c: &Client, view: &str, key: &str, value: &str) -> BTreeMap<String, Value> {
    let (status, v) = get(c, &format!("/v1/views/{view}")).await;
    assert_eq!(status, 200, "{v}");
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let k = match &r[key] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k, r[value].clone())
        })
        .collect()
}

async fn ok_sql(c: &Client, text: &str) {
    let r = sql(c, text).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// Lines of 1 to 12 words from a small vocabulary, some capitalized, some with two spaces.
fn lines(n: usize) -> Vec<String> {
    const WORDS: [&str; 12] = [
        "the", "of", "stream", "Log", "window", "and", "river", "é", "Kafka", "flink", "sql", "a",
    ];
    let mut rng = Rng(7);
    (0..n)
        .map(|_| {
            let k = 1 + rng.below(12) as usize;
            let mut line = String::new();
            for i in 0..k {
                if i > 0 {
                    line.push_str(if rng.below(20) == 0 { "  " } else { " " });
                }
                line.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
            }
            line
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn word_count_in_sql_equals_a_rust_count_of_the_lines() {
    let node = Node::start(&[]);
    let c = node.client();
    ok_sql(
        &c,
        "CREATE STREAM lines (line VARCHAR) WITH (kafka_topic='lines', value_format='KAFKA');
         CREATE TABLE ksql_words AS
           SELECT EXPLODE(SPLIT(LCASE(line), ' ')) AS word, COUNT(*) AS n
           FROM lines GROUP BY word;
         CREATE TABLE flink_words AS
           SELECT word, COUNT(*) AS n
           FROM lines CROSS JOIN UNNEST(SPLIT(LOWER(line), ' ')) AS t(word)
           GROUP BY word;
         CREATE TABLE lateral_words AS
           SELECT t.w AS word, COUNT(*) AS n
           FROM lines, LATERAL TABLE(SPLIT(LOWER(line), ' ')) AS t(w)
           WHERE w <> '' GROUP BY t.w;",
    )
    .await;
    let input = lines(400);
    let text = input.join("\n") + "\n";
    ok(&node.cli_stdin(
        &["produce", "lines", "--format", "lines"],
        Some(text.as_bytes()),
    ));
    let mut want: BTreeMap<String, Value> = BTreeMap::new();
    for line in &input {
        for w in line.to_lowercase().split(' ') {
            let n = want.entry(w.to_owned()).or_insert(json!(0));
            *n = json!(n.as_i64().expect("count") + 1);
        }
    }
    assert!(want.contains_key(""), "double spaces give empty words");
    for view in ["ksql_words", "flink_words", "lateral_words"] {
        let stats = read_all(&c, view, input.len() as u64).await;
        assert_eq!(stats["invalid"], 0, "{stats}");
    }
    assert_eq!(counts(&c, "ksql_words", "word", "n").await, want);
    assert_eq!(counts(&c, "flink_words", "word", "n").await, want);
    want.remove("");
    assert_eq!(counts(&c, "lateral_words", "word", "n").await, want);
}

/// Produces records `(key, value text)` to `topic` as raw text values.
async fn produce_text(c: &Client, topic: &str, records: &[(Option<&str>, &str)]) {
    let body: Vec<Value> = records
        .iter()
        .map(|(k, v)| match k {
            Some(k) => json!({"key": k, "value_text": v}),
            None => json!({"value_text": v}),
        })
        .collect();
    let r = produce_raw(c, topic, Value::Array(body).to_string()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_delimited_bare_json_and_key_columns() {
    let node = Node::start(&[]);
    let c = node.client();
    ok_sql(
        &c,
        "CREATE STREAM temps (celsius DOUBLE) WITH (kafka_topic='temps', value_format='KAFKA');
         CREATE TABLE temp_stats AS SELECT COUNT(*) AS n, SUM(celsius) AS total FROM temps;
         CREATE STREAM orders (id VARCHAR KEY, product VARCHAR, qty BIGINT)
           WITH (kafka_topic='orders', value_format='DELIMITED');
         CREATE TABLE order_qty AS SELECT id, LATEST_BY_OFFSET(product) AS product,
           SUM(qty) AS qty FROM orders GROUP BY id;
         CREATE STREAM names (name VARCHAR)
           WITH (kafka_topic='names', value_format='JSON', wrap_single_value=false);
         CREATE TABLE name_counts AS SELECT name, COUNT(*) AS n FROM names GROUP BY name;
         CREATE TABLE posts (id BIGINT, tags ARRAY<VARCHAR>)
           WITH ('connector'='kafka', 'topic'='posts', 'format'='json');
         CREATE TABLE tag_counts AS SELECT tag, COUNT(*) AS n, SUM(ARRAY_LENGTH(tags)) AS sizes
           FROM posts CROSS JOIN UNNEST(tags) AS t(tag) GROUP BY tag;",
    )
    .await;

    produce_text(
        &c,
        "temps",
        &[(None, "21.5"), (None, "not a number"), (None, "-1.5")],
    )
    .await;
    let stats = read_all(&c, "temp_stats", 3).await;
    assert_eq!(
        stats["invalid"], 1,
        "a value that is not a DOUBLE is invalid"
    );
    let (_, v) = get(&c, "/v1/views/temp_stats").await;
    assert_eq!(v["rows"], json!([{"n": 2, "total": 20.0}]), "{v}");

    produce_text(
        &c,
        "orders",
        &[
            (Some("o1"), "widget,3"),
            (Some("o2"), "\"gadget, large\",1"),
            (Some("o1"), "widget,4"),
            (Some("o3"), "only one field"),
            (Some("o4"), "bolt,many"),
        ],
    )
    .await;
    let stats = read_all(&c, "order_qty", 5).await;
    assert_eq!(
        stats["invalid"], 2,
        "a short line and a bad number: {stats}"
    );
    assert_eq!(
        counts(&c, "order_qty", "id", "qty").await,
        BTreeMap::from([("o1".into(), json!(7)), ("o2".into(), json!(1))])
    );
    assert_eq!(
        counts(&c, "order_qty", "id", "product").await["o2"],
        json!("gadget, large")
    );

    let bare: Vec<Value> = ["\"ann\"", "\"bob\"", "\"ann\"", "{\"name\":\"x\"}"]
        .iter()
        .map(|v| json!({"value": serde_json::from_str::<Value>(v).expect("json")}))
        .collect();
    let r = produce_raw(&c, "names", Value::Array(bare).to_string()).await;
    assert_eq!(r.status, 200);
    let stats = read_all(&c, "name_counts", 4).await;
    assert_eq!(stats["invalid"], 1, "an object is not a bare VARCHAR");
    assert_eq!(
        counts(&c, "name_counts", "name", "n").await,
        BTreeMap::from([("ann".into(), json!(2)), ("bob".into(), json!(1))])
    );

    let posts: Vec<Value> = [
        json!({"id": 1, "tags": ["rust", "sql"]}),
        json!({"id": 2, "tags": ["sql"]}),
        json!({"id": 3, "tags": []}),
        json!({"id": 4, "tags": null}),
        json!({"id": 5, "tags": "rust"}),
    ]
    .into_iter()
    .map(|v| json!({"value": v}))
    .collect();
    let r = produce_raw(&c, "posts", Value::Array(posts).to_string()).await;
    assert_eq!(r.status, 200);
    let stats = read_all(&c, "tag_counts", 5).await;
    assert_eq!(stats["invalid"], 1, "a string is not an ARRAY: {stats}");
    assert_eq!(
        counts(&c, "tag_counts", "tag", "n").await,
        BTreeMap::from([("rust".into(), json!(1)), ("sql".into(), json!(2))])
    );
    assert_eq!(
        counts(&c, "tag_counts", "tag", "sizes").await["sql"],
        json!(3)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_table_functions_and_formats_are_400s_with_a_place() {
    let node = Node::start(&[]);
    let c = node.client();
    ok_sql(
        &c,
        "CREATE STREAM lines (line VARCHAR, n BIGINT) WITH (kafka_topic='lines', value_format='JSON');",
    )
    .await;
    let cases = [
        (
            "SELECT\n  EXPLODE(line) AS w FROM lines;",
            "line 2, column 3",
            "EXPLODE needs an ARRAY, got VARCHAR",
        ),
        (
            "SELECT w FROM lines\n  CROSS JOIN UNNEST(SPLIT(line, ' '));",
            "line 2",
            "UNNEST needs an alias",
        ),
        (
            "SELECT SPLIT(line) AS parts FROM lines;",
            "line 1, column 8",
            "SPLIT() takes 2 argument(s), got 1",
        ),
        (
            "CREATE STREAM two (a VARCHAR, b VARCHAR)\n  WITH (kafka_topic='two', value_format='KAFKA');",
            "line 2, column 3",
            "holds one value column",
        ),
        (
            "SELECT UPPER(EXPLODE(SPLIT(line, ' '))) FROM lines;",
            "line 1, column 14",
            "is a table function",
        ),
        (
            "CREATE STREAM j (a VARCHAR, b BIGINT)\n  WITH (kafka_topic='j', value_format='JSON', wrap_single_value=false);",
            "line 2",
            "wrap_single_value=false holds one value column",
        ),
    ];
    for (text, place, needle) in cases {
        let r = sql(&c, text).await;
        let message = expect_error(&r, 400);
        assert!(
            message.contains(place) && message.contains(needle),
            "{text:?}: {message:?} should name {place:?} and say {needle:?}"
        );
    }
}
