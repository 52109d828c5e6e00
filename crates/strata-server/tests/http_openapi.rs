//! The generated OpenAPI document against the node that serves it and the people's docs:
//! every documented (method, path) is served, every other method on a documented path is a
//! 405, and docs/http-api.md names exactly the documented routes.

// The node's helpers below are test code too (`allow-unwrap-in-tests` covers `#[test]`s only).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use hyper::Method;
use serde_json::Value;
use strata_server::client::Client;
use strata_server::{Node, NodeConfig};

/// A node on an ephemeral port, in-process, until `stop` is sent.
struct Running {
    client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<strata_server::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(NodeConfig {
        data_dir: dir.path().join("data"),
        http: "127.0.0.1:0".parse().unwrap(),
        batch_interval: None,
        ..NodeConfig::default()
    })
    .await
    .unwrap();
    let client = Client::new(&node.local_addr().unwrap().to_string(), None).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(node.run(async {
        let _ = stopped.await;
    }));
    Running {
        client,
        stop,
        served,
        _dir: dir,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.served.await.unwrap().unwrap();
    }
}

/// The generated document, as a node serves it.
async fn document(c: &Client) -> Value {
    c.call(Method::GET, "/v1/openapi.json", None).await.unwrap()
}

/// The methods a route may have.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `/v1/topics/{topic}` → `/v1/topics/{}`: documents name their parameters differently.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// (method, path) of every operation in the OpenAPI document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, ops)| {
            let ops = ops.as_object().expect("operations");
            ops.keys()
                .map(|m| m.to_uppercase())
                .filter(|m| METHODS.contains(&m.as_str()))
                .map(move |m| (m, path.clone()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_is_documented_and_every_documented_route_is_served() {
    let node = start().await;
    let c = &node.client;
    let doc = document(c).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented = documented(&doc);
    assert!(documented.len() >= 30, "{documented:?}");
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        // Parameters that name nothing: every served route answers with its own 4xx (or a
        // 200), never the router's unknown route or method.
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "nothing" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let r = c
                .raw(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &concrete,
                    None,
                )
                .await
                .expect("request");
            let code = serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
            let served = r.status != 405 && code.as_deref() != Some("unknown_route");
            let doc_says = documented.contains(&(method.to_owned(), path.clone()));
            assert_eq!(
                served,
                doc_says,
                "{method} {concrete} ({path}): the node says {} {code:?}, the document {}",
                r.status,
                if doc_says { "has it" } else { "does not" }
            );
        }
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_docs_name_exactly_the_documented_routes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/http-api.md");
    let text = std::fs::read_to_string(path).expect("docs/http-api.md");
    // Routes appear in the docs as `METHOD /path` (maybe with `?query`).
    let mut in_docs = BTreeSet::new();
    for piece in text.split('`').skip(1).step_by(2) {
        let Some((method, rest)) = piece.split_once(' ') else {
            continue;
        };
        if METHODS.contains(&method) && rest.starts_with('/') {
            let path = rest.split(['?', ' ']).next().unwrap_or(rest);
            in_docs.insert((method.to_owned(), shape(path)));
        }
    }
    let node = start().await;
    let doc = document(&node.client).await;
    node.stop().await;
    let generated: BTreeSet<(String, String)> = documented(&doc)
        .into_iter()
        .map(|(m, p)| (m, shape(&p)))
        .collect();
    assert_eq!(
        in_docs, generated,
        "docs/http-api.md and /v1/openapi.json list different routes"
    );
}
