//! `strata demo`: one command brings up a node whose demo views fill with live data, and
//! prints where to query them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use hyper::Method;
use strata_server::client::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_views_fill_with_live_data() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--http",
            "127.0.0.1:0",
            "--kafka",
            "127.0.0.1:0",
            "--rate",
            "50",
            "--data-dir",
        ])
        .arg(tmp.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn strata demo");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut guide = String::new();
    while !guide.contains("Ctrl-C stops the demo") {
        assert!(
            out.read_line(&mut guide).expect("read") > 0,
            "demo ended: {guide}"
        );
    }
    let url = guide
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the node's URL")
        .to_owned();
    assert!(guide.contains("query sales_by_category"), "{guide}");
    assert!(
        guide.contains(&format!("curl -s {url}/v1/views/")),
        "{guide}"
    );
    let client = Client::new(&url, None).expect("client");
    let views = [
        "sales_by_category",
        "card_alerts",
        "page_views_per_minute",
        "user_sessions",
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut pending: Vec<&str> = views.to_vec();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for v in pending {
            let stats = client
                .call(Method::GET, &format!("/v1/views/{v}/definition"), None)
                .await
                .expect("view exists");
            if stats["stats"]["records_in"].as_u64().unwrap_or(0) < 50 {
                still.push(v);
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        pending.is_empty(),
        "views without data after 30 s: {pending:?}"
    );
    let rows = client
        .call(Method::GET, "/v1/views/sales_by_category", None)
        .await
        .expect("rows");
    assert!(rows["count"].as_u64().unwrap_or(0) > 0, "{rows}");
    signal(&child, "TERM");
    let status = wait_timeout(&mut child, Duration::from_secs(20)).expect("demo stops");
    assert!(status.success(), "{status}");
}
