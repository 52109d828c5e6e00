//! Running a node: open the log, the SQL engine over it and the batch layer, serve the API,
//! shut down cleanly on a signal (the batch jobs stop, views checkpoint, then the log closes).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use strata_log::{Log, LogOptions};
use strata_views::engine::{Engine, EngineConfig};
use strata_views::streaming::StreamingConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::batch::BatchLayer;
use crate::catalog::Catalog;
use crate::config::NodeConfig;
use crate::error::{Error, Result};
use crate::http::{Shared, router};
use crate::metrics::Metrics;

/// Where the SQL engine keeps its catalog and view checkpoints, under the data directory.
pub const ENGINE_DIR: &str = "engine";

/// A node that has opened its log and bound its listen address, ready to serve.
#[derive(Debug)]
pub struct Node {
    shared: Arc<Shared>,
    listener: TcpListener,
    /// The Kafka protocol listener, when configured.
    kafka: Option<TcpListener>,
    shutdown_tx: watch::Sender<bool>,
}

impl Node {
    /// Opens (recovering) the log in the configured data directory, opens the SQL engine
    /// over it (`<data-dir>/engine`; every view resumes from its checkpoint), and binds the
    /// address.
    ///
    /// # Errors
    /// The log or the engine's catalog cannot be opened (I/O, corruption), or the address
    /// cannot be bound.
    pub async fn start(config: NodeConfig) -> Result<Node> {
        let dir = config.data_dir.clone();
        let log = tokio::task::spawn_blocking(move || Log::open(&dir, LogOptions::default()))
            .await
            .map_err(|e| Error::Unavailable(format!("opening the log failed: {e}")))??;
        if !log.was_clean() && !log.topics().is_empty() {
            tracing::warn!(dir = %config.data_dir.display(), "the last shutdown was not clean: recovered the log");
        }
        let engine_dir = config.data_dir.join(ENGINE_DIR);
        let engine_log = Arc::clone(&log);
        let engine_config = EngineConfig {
            streaming: StreamingConfig {
                checkpoint_interval: config.checkpoint_interval,
                ..StreamingConfig::default()
            },
            kafka_listener: config.kafka.map(|a| a.to_string()),
        };
        let engine = tokio::task::spawn_blocking(move || {
            Engine::open(engine_log, &engine_dir, engine_config)
        })
        .await
        .map_err(|e| Error::Unavailable(format!("opening the SQL engine failed: {e}")))?;
        let engine = match engine {
            Ok(engine) => engine,
            Err(e) => {
                // Leave the log as cleanly as we found it.
                let _ = tokio::task::spawn_blocking(move || log.close()).await;
                return Err(e.into());
            }
        };
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
        let kafka = match config.kafka {
            None => None,
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| Error::Io {
                context: format!(
                    "cannot listen for Kafka clients on {addr} (is a Kafka broker or another node running there? pick another with --kafka, or --kafka off)"
                ),
                source,
            })?),
        };
        let (shutdown_tx, shutdown) = watch::channel(false);
        // Built after the engine opened: resuming views may have created their topics.
        let catalog = Arc::new(Catalog::new(log, config.group_session_timeout));
        // Before retention's first pass (30 s after the log opened): unarchived segments
        // must never be deleted.
        let batch_catalog = Arc::clone(&catalog);
        let batch_dir = config.data_dir.clone();
        let batch =
            tokio::task::spawn_blocking(move || BatchLayer::open(&batch_dir, &batch_catalog))
                .await
                .map_err(|e| Error::Unavailable(format!("opening the batch layer failed: {e}")))?;
        let batch = match batch {
            Ok(b) => Arc::new(b),
            Err(e) => {
                let log = Arc::clone(catalog.log());
                let _ = tokio::task::spawn_blocking(move || {
                    engine.shutdown();
                    log.close()
                })
                .await;
                return Err(e);
            }
        };
        // Before the node answers: Lambda views answer only once their batch view is back.
        let (serving_batch, serving_engine) = (Arc::clone(&batch), Arc::clone(&engine));
        tokio::task::spawn_blocking(move || serving_batch.serve_latest(&serving_engine))
            .await
            .map_err(|e| Error::Unavailable(format!("serving the batch views failed: {e}")))?;
        batch.start_jobs(
            &catalog,
            &engine,
            config.archive_interval,
            config.batch_interval,
        );
        Ok(Node {
            shared: Arc::new(Shared {
                catalog,
                engine,
                config,
                metrics: Metrics::default(),
                batch,
                shutdown,
                started: Instant::now(),
                lookups: Default::default(),
            }),
            listener,
            kafka,
            shutdown_tx,
        })
    }

    /// The Kafka listener's bound address, when the node serves the Kafka protocol.
    ///
    /// # Errors
    /// When the socket cannot report its address.
    pub fn kafka_addr(&self) -> Result<Option<SocketAddr>> {
        self.kafka
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()
            .map_err(|source| Error::Io {
                context: "cannot read the Kafka listen address".into(),
                source,
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

    /// The SQL engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.shared.engine
    }

    /// Serves until `signal` completes, then stops taking requests, ends follow streams and
    /// continuous queries, waits up to the shutdown timeout for open requests, stops every
    /// view after a final checkpoint, and closes the log (flush and clean-shutdown marker).
    ///
    /// # Errors
    /// Serving or closing the log failed.
    pub async fn run(self, signal: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Node {
            shared,
            listener,
            kafka,
            shutdown_tx,
        } = self;
        // The Kafka listener serves the same log until shutdown begins.
        let kafka = kafka.map(|listener| {
            let log = Arc::clone(shared.catalog.log());
            let config = strata_kafka::KafkaConfig {
                auto_create_topics: shared.config.kafka_auto_create,
                // The same token as the HTTP API's: Kafka clients present it as their
                // SASL/PLAIN password.
                auth_token: shared
                    .config
                    .auth_token
                    .clone()
                    .map(strata_kafka::AuthToken::new),
                ..strata_kafka::KafkaConfig::default()
            };
            let mut stopping = shared.shutdown.clone();
            tokio::spawn(strata_kafka::serve(listener, log, config, async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }))
        });
        let app = router(Arc::clone(&shared));
        let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = shared.config.shutdown_timeout;
        let stop = async move {
            signal.await;
            tracing::info!("shutting down: no new requests, ending streams");
            let _ = shutdown_tx.send(true);
            let _ = drained_tx.send(());
        };
        // Answers leave at once: a large answer's last partial segment would otherwise wait
        // (Nagle) for the client's acknowledgement of the ones before, which may be delayed.
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
            }
        });
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
        if let Some(kafka) = kafka {
            // Its connections close before the log does.
            let _ = kafka.await;
        }
        // The batch layer's jobs read the log and the engine's plans: stop them first
        // (waiting for a run in progress; an interrupted one would be redone anyway).
        let batch = Arc::clone(&shared.batch);
        tokio::task::spawn_blocking(move || batch.stop_jobs())
            .await
            .map_err(|e| Error::Unavailable(format!("stopping the batch layer failed: {e}")))?;
        tracing::info!("archiver and scheduled batch views stopped");
        // Views next: their final checkpoints name output offsets that must be on disk
        // when the log closes.
        let engine = Arc::clone(&shared.engine);
        tokio::task::spawn_blocking(move || engine.shutdown())
            .await
            .map_err(|e| Error::Unavailable(format!("stopping the views failed: {e}")))?;
        tracing::info!("views stopped after a final checkpoint");
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
