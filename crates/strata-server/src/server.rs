//! Running a node: open the log, serve the API, shut down cleanly on a signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use strata_log::{Log, LogOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::catalog::Catalog;
use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::http::{Shared, router};
use crate::metrics::Metrics;

/// A node that has opened its log and bound its listen address, ready to serve.
#[derive(Debug)]
pub struct Node {
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown_tx: watch::Sender<bool>,
}

impl Node {
    /// Opens (recovering) the log in the configured data directory and binds the address.
    ///
    /// # Errors
    /// The log cannot be opened (I/O, corruption), or the address cannot be bound.
    pub async fn start(config: NodeConfig) -> Result<Node> {
        let dir = config.data_dir.clone();
        let log = tokio::task::spawn_blocking(move || Log::open(&dir, LogOptions::default()))
            .await
            .map_err(|e| Error::Unavailable(format!("opening the log failed: {e}")))??;
        if !log.was_clean() && !log.topics().is_empty() {
            tracing::warn!(dir = %config.data_dir.display(), "the last shutdown was not clean: recovered the log");
        }
        let listener = TcpListener::bind(config.http)
            .await
            .map_err(|source| Error::Io {
                context: format!(
                    "cannot listen on {} (is another node running there? pick another with --http)",
                    config.http
                ),
                source,
            })?;
        if config.auth_token.is_none() && !config.http.ip().is_loopback() {
            tracing::warn!(
                addr = %config.http,
                "listening beyond loopback without an auth token: anyone who can reach this address can write and delete; set --auth-token"
            );
        }
        let (shutdown_tx, shutdown) = watch::channel(false);
        let catalog = Arc::new(Catalog::new(log, config.group_session_timeout));
        Ok(Node {
            shared: Arc::new(Shared {
                catalog,
                config,
                metrics: Metrics::default(),
                shutdown,
                started: Instant::now(),
            }),
            listener,
            shutdown_tx,
        })
    }

    /// The bound address (the real port when the configured port was 0).
    ///
    /// # Errors
    /// When the socket cannot report its address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener.local_addr().map_err(|source| Error::Io {
            context: "cannot read the listen address".into(),
            source,
        })
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.shared.catalog
    }

    /// Serves until `signal` completes, then stops taking requests, ends follow streams,
    /// waits up to the shutdown timeout for open requests, and closes the log (flush and
    /// clean-shutdown marker).
    ///
    /// # Errors
    /// Serving or closing the log failed.
    pub async fn run(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Node {
            shared,
            listener,
            shutdown_tx,
        } = self;
        let app = router(Arc::clone(&shared));
        let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = shared.config.shutdown_timeout;
        let stop = async move {
            signal.await;
            tracing::info!("shutting down: no new requests, ending streams");
            let _ = shutdown_tx.send(true);
            let _ = drained_tx.send(());
        };
        let server = axum::serve(listener, app).with_graceful_shutdown(stop);
        let served = async {
            server.await.map_err(|source| Error::Io {
                context: "the HTTP server failed".into(),
                source,
            })
        };
        tokio::pin!(served);
        // Wait for the server; once shutdown began, give open requests `grace` to finish.
        let result = tokio::select! {
            r = &mut served => r,
            _ = async {
                let _ = drained_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "open requests did not finish in time; closing anyway");
                Ok(())
            }
        };
        let log = Arc::clone(shared.catalog.log());
        tokio::task::spawn_blocking(move || log.close())
            .await
            .map_err(|e| Error::Unavailable(format!("closing the log failed: {e}")))??;
        tracing::info!("log closed cleanly");
        result
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
