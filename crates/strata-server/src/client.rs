//! A small HTTP client of the strata API (HTTP/1.1 over a keep-alive pool), shared by the
//! CLI, the end-to-end tests and the benchmark runner.
//!
//! It has its own error type rather than the node's [`crate::Error`]: a client's failures
//! (cannot connect, the node said 4xx) are different facts from a node's, and the CLI turns
//! them into messages for people.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::ErrorBody;

/// What can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server URL is not usable.
    #[error("bad server URL {url:?}: {reason}; write it like http://127.0.0.1:8080")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why it is bad.
        reason: String,
    },
    /// No answer from the node.
    #[error(
        "cannot reach strata at {url}: {source}; is `strata serve` running there? (point the CLI elsewhere with --server or STRATA_SERVER)"
    )]
    Connect {
        /// The node's URL.
        url: String,
        /// The transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The node answered with an error.
    #[error("{message} (HTTP {status}, {code})")]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// The node's error code.
        code: String,
        /// The node's message.
        message: String,
    },
    /// The node's answer could not be read.
    #[error("unexpected answer from the node: {0}")]
    Protocol(String),
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

impl Client {
    /// A client of the node at `url` (`http://host:port`, or just `host:port`).
    ///
    /// # Errors
    /// [`ClientError::BadUrl`].
    pub fn new(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let trimmed = url.trim().trim_end_matches('/');
        let base = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("http://{trimmed}")
        };
        if base.starts_with("https://") {
            return Err(ClientError::BadUrl {
                url: url.into(),
                reason: "the node speaks plain HTTP (put a TLS proxy in front for HTTPS)".into(),
            });
        }
        base.parse::<Uri>().map_err(|e| ClientError::BadUrl {
            url: url.into(),
            reason: e.to_string(),
        })?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Client {
            base,
            token: token.filter(|t| !t.is_empty()),
            http,
        })
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request and returns the response head with its body unread (for streams).
    ///
    /// # Errors
    /// [`ClientError::Connect`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
        let uri = format!("{}{path}", self.base);
        let mut req = Request::builder().method(method).uri(&uri);
        if let Some(token) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((bytes, content_type)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                Full::new(bytes)
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body).map_err(|e| ClientError::BadUrl {
            url: uri.clone(),
            reason: e.to_string(),
        })?;
        self.http
            .request(req)
            .await
            .map_err(|e| ClientError::Connect {
                url: self.base.clone(),
                source: Box::new(e),
            })
    }

    /// Sends a request and reads the whole response, whatever its status.
    ///
    /// # Errors
    /// [`ClientError::Connect`], or a body that breaks off.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<Reply, ClientError> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Protocol(format!("the response body broke off: {e}")))?
            .to_bytes();
        Ok(Reply { status, body })
    }

    /// Sends a request and parses a successful JSON answer.
    ///
    /// # Errors
    /// [`ClientError::Api`] for a non-2xx answer, with the node's message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let body = body.map(|v| (Bytes::from(v.to_string()), "application/json"));
        let reply = self.raw(method, path, body).await?;
        reply.json()
    }

    /// Sends one of the API's request bodies ([`crate::api`]) and parses a successful JSON
    /// answer.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn send_json<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<Value, ClientError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| ClientError::Protocol(format!("cannot write the request: {e}")))?;
        let reply = self
            .raw(method, path, Some((Bytes::from(body), "application/json")))
            .await?;
        reply.json()
    }

    /// Posts a produce body (JSON array or NDJSON) to a topic.
    ///
    /// # Errors
    /// As [`Client::call`].
    pub async fn produce(&self, topic: &str, body: Bytes) -> Result<Value, ClientError> {
        let path = format!("/v1/topics/{}/records", encode_path(topic));
        self.raw(Method::POST, &path, Some((body, "application/json")))
            .await?
            .json()
    }
}

impl Reply {
    /// The body as JSON if the status is 2xx, else the node's error.
    ///
    /// # Errors
    /// [`ClientError::Api`] or [`ClientError::Protocol`].
    pub fn json(self) -> Result<Value, ClientError> {
        if !self.status.is_success() {
            return Err(api_error(self.status, &self.body));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ClientError::Protocol(format!("the body is not JSON: {e}")))
    }
}

/// Reads a node's JSON answer as one of the API's types ([`crate::api`]).
///
/// # Errors
/// [`ClientError::Protocol`] when the answer is not of that type.
pub fn read<T: DeserializeOwned>(answer: &Value) -> Result<T, ClientError> {
    T::deserialize(answer)
        .map_err(|e| ClientError::Protocol(format!("the answer is not what the API says: {e}")))
}

/// Turns an error response into [`ClientError::Api`].
pub fn api_error(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => ClientError::Api {
            status,
            code: error.code,
            message: error.message,
        },
        Err(_) => ClientError::Api {
            status,
            code: "http_error".into(),
            message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}

/// Percent-encodes a path segment (topic and group names are `[A-Za-z0-9._-]`, so this
/// only matters for names the node will reject anyway, which must still reach it intact).
pub fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
