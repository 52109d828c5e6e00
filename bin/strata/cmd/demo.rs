//! `strata demo`: a node with embedded defaults, live demo data flowing through a few views,
//! and a printout of what to query and where. Everything runs in this one process; Ctrl-C
//! stops it.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use strata_gen::{Config, Dataset, Generator};
use strata_server::api::sql::{SqlRequest, SqlResponse};
use strata_server::client::Client;
use strata_server::time::now_ms;
use strata_server::{ConfigLayer, Node, shutdown_signal};
use tracing_subscriber::EnvFilter;

use super::{Failure, Result, r#gen};
use crate::args::DemoArgs;

/// The demo's sources and views (ksqlDB dialect; see docs/sql.md).
pub const DEMO_SQL: &str = "
CREATE STREAM transactions (txn_id VARCHAR, ts BIGINT, card_id VARCHAR, merchant VARCHAR,
  category VARCHAR, amount DOUBLE, city VARCHAR, country VARCHAR)
  WITH (kafka_topic='transactions', value_format='JSON', timestamp='ts');
CREATE TABLE sales_by_category AS
  SELECT category, ROUND(SUM(amount), 2) AS total_sales, COUNT(*) AS transactions
  FROM transactions WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 10 SECONDS)
  GROUP BY category EMIT CHANGES;
CREATE TABLE card_alerts AS
  SELECT card_id, COUNT(DISTINCT city) AS cities, COUNT(*) AS payments
  FROM transactions WINDOW HOPPING (SIZE 10 MINUTES, ADVANCE BY 5 MINUTES)
  GROUP BY card_id HAVING COUNT(DISTINCT city) > 1 EMIT CHANGES;
CREATE STREAM clickstream (ts BIGINT, user_id VARCHAR, page VARCHAR, action VARCHAR,
  referrer VARCHAR, device VARCHAR)
  WITH (kafka_topic='clickstream', value_format='JSON', timestamp='ts');
CREATE TABLE page_views_per_minute AS
  SELECT page, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
  FROM clickstream WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY page EMIT CHANGES;
CREATE TABLE user_sessions AS
  SELECT user_id, COUNT(*) AS pages, (MAX(ts) - MIN(ts)) / 1000 AS duration_s
  FROM clickstream WINDOW SESSION (30 MINUTES) GROUP BY user_id EMIT CHANGES;
";

/// `strata demo`.
pub async fn run(a: DemoArgs) -> Result {
    let filter = EnvFilter::try_new(&a.log)
        .map_err(|e| Failure(format!("--log {:?} is not a log filter ({e})", a.log)))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let data_dir = a.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("strata-demo-{}", std::process::id()))
    });
    let layer = ConfigLayer {
        data_dir: Some(data_dir.clone()),
        http: Some(a.http.clone()),
        kafka: Some(a.kafka.clone()),
        ..ConfigLayer::default()
    };
    let config = ConfigLayer::default().overlay(layer).resolve()?;
    let node = Node::start(config).await.map_err(|e| {
        Failure(format!(
            "cannot start the demo node on {} (Kafka on {}): {e}; if a port is taken, try --http 127.0.0.1:0 --kafka 127.0.0.1:0",
            a.http, a.kafka
        ))
    })?;
    let addr = node.local_addr()?;
    let url = format!("http://{addr}");
    let kafka = node.kafka_addr()?;
    let client = Client::new(&url, None)?;
    // Once a signal stops the node, the generators' failed requests are expected: quiet.
    let stopping = Arc::new(AtomicBool::new(false));
    let signal = {
        let stopping = Arc::clone(&stopping);
        async move {
            shutdown_signal().await;
            stopping.store(true, Ordering::SeqCst);
        }
    };
    let running = tokio::spawn(node.run(signal));

    let reply = client
        .send_json(
            hyper::Method::POST,
            "/v1/sql",
            &SqlRequest {
                sql: DEMO_SQL.to_owned(),
            },
        )
        .await?;
    let created = super::read::<SqlResponse>(&reply)?.outcomes.len();
    // Live data from now on: clicks and payments at --rate each, slightly out of order,
    // 1% of payments up to minutes late (they land in sales_by_category-late).
    for (dataset, topic, keys, late) in [
        (Dataset::Transactions, "transactions", 500, 0.01),
        (
            Dataset::Clickstream,
            "clickstream",
            (a.rate * 750.0).ceil() as u32,
            0.0,
        ),
    ] {
        let config = Config {
            events: None,
            seed: a.seed,
            rate: a.rate,
            start_ms: now_ms(),
            out_of_order_ms: 2_000,
            late_fraction: late,
            keys: Some(keys.max(1)),
        };
        let events = Generator::new(dataset, &config).map_err(|e| Failure(e.to_string()))?;
        let client = client.clone();
        r#gen::ensure_topic(&client, topic, 1).await?;
        let start = config.start_ms;
        let stopping = Arc::clone(&stopping);
        tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            if let Err(e) = r#gen::produce(&client, topic, events, Some((t0, start))).await
                && !stopping.load(Ordering::SeqCst)
            {
                eprintln!("demo data for {topic} stopped: {}", e.0);
            }
        });
    }
    print_guide(
        &url,
        kafka,
        &data_dir.display().to_string(),
        created,
        a.rate,
    )?;
    match running.await {
        Ok(result) => result.map_err(|e| Failure(e.to_string())),
        Err(e) => Err(Failure(format!("the node stopped: {e}"))),
    }
}

fn print_guide(
    url: &str,
    kafka: Option<std::net::SocketAddr>,
    data_dir: &str,
    statements: usize,
    rate: f64,
) -> Result {
    let exe = std::env::args().next().unwrap_or_else(|| "strata".into());
    let cli = if exe.contains("target/") {
        "target/release/strata".to_owned()
    } else {
        "strata".to_owned()
    };
    let text = format!(
        "strata {version} demo: a node at {url} (data in {data_dir})
{statements} SQL statements ran (see `{cli} view list`); live payments and clicks arrive at {rate}/s each.

Try, from another terminal:
  export STRATA_SERVER={url}
  {cli} view list
  {cli} query sales_by_category --from -5m            # sales per category, 1-minute windows
  {cli} query page_views_per_minute --top 10 --by views
  {cli} query user_sessions --top 5 --by pages         # sessions: 30 minutes of inactivity end one
  {cli} query card_alerts                              # cards used in 2+ cities within minutes
  {cli} consume sales_by_category-late --output json   # payments too late for their window
  {cli} sql \"SELECT category, COUNT(*) AS n FROM transactions GROUP BY category\" --limit 20
  curl -s {url}/v1/views/sales_by_category?order_by=total_sales\\&desc=true\\&limit=5
  curl -N {url}/v1/views/page_views_per_minute/changes   # every update, as Server-Sent Events
  curl -s {url}/metrics | grep strata_view
{kafka_lines}
More: examples/README.md (the classic exercises), docs/concepts.md. Ctrl-C stops the demo.
",
        version = env!("CARGO_PKG_VERSION"),
        kafka_lines = kafka.map_or(String::new(), |k| format!(
            "
Kafka clients use bootstrap.servers={k} (docs/kafka-api.md):
  kcat -b {k} -C -t transactions -o -5 -e
"
        )),
    );
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
