//! The broker: what every connection shares (the log, the configuration, the group
//! coordinator, idempotent producers) and the helpers every API's handler uses.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;
use strata_log::{Log, Topic, TopicConfig};

use crate::config::KafkaConfig;
use crate::coordinator::Coordinator;
use crate::error::log_error_code;
use crate::idempotence::Producers;
use kafka_protocol::ResponseError;

/// What every connection of one listener shares.
#[derive(Debug)]
pub(crate) struct Broker {
    /// The log every API reads and writes.
    pub log: Arc<Log>,
    /// The listener's configuration.
    pub config: KafkaConfig,
    /// Consumer groups' membership and generations.
    pub coordinator: Coordinator,
    /// Idempotent producers' ids and sequence numbers.
    pub producers: Producers,
}

/// Who sent a request, over which connection.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local end of the connection: the address advertised by default.
    pub local: SocketAddr,
    /// The client id of the request's header.
    pub client_id: String,
}

impl Broker {
    /// A broker over `log`.
    pub fn new(log: Arc<Log>, config: KafkaConfig) -> Arc<Broker> {
        let coordinator = Coordinator::new(
            config.group_min_session_timeout,
            config.group_max_session_timeout,
            config.group_initial_rebalance_delay,
        );
        Arc::new(Broker {
            log,
            config,
            coordinator,
            producers: Producers::new(),
        })
    }

    /// The `(host, port)` clients are told to connect to.
    pub fn advertised(&self, ctx: &Context) -> (StrBytes, i32) {
        match &self.config.advertised {
            Some((host, port)) => (StrBytes::from_string(host.clone()), i32::from(*port)),
            None => (
                StrBytes::from_string(ctx.local.ip().to_string()),
                i32::from(ctx.local.port()),
            ),
        }
    }

    /// Looks a topic up, creating it when `create` and the listener auto-creates topics
    /// (Kafka's `auto.create.topics.enable`). Runs file I/O: call off the async workers.
    ///
    /// # Errors
    /// The Kafka error code for an unknown topic (auto-creation off), an invalid name, or a
    /// failed creation (logged).
    pub fn topic_or_create(&self, name: &str, create: bool) -> Result<Arc<Topic>, ResponseError> {
        match self.log.topic(name) {
            Ok(t) => return Ok(t),
            Err(strata_log::Error::UnknownTopic(_)) if create && self.config.auto_create_topics => {
            }
            Err(e) => return Err(log_error_code(&e)),
        }
        let partitions = self.config.default_partitions;
        match self
            .log
            .create_topic(name, partitions, TopicConfig::default())
        {
            Ok(t) => {
                tracing::info!(
                    topic = name,
                    partitions,
                    "auto-created a topic for a Kafka client"
                );
                Ok(t)
            }
            // Created by a concurrent request meanwhile: use it.
            Err(strata_log::Error::TopicExists(_)) => {
                self.log.topic(name).map_err(|e| log_error_code(&e))
            }
            Err(e) => {
                let code = log_error_code(&e);
                if code == ResponseError::UnknownServerError {
                    tracing::error!(topic = name, error = %e, "auto-creating a topic failed");
                }
                Err(code)
            }
        }
    }
}

/// A topic name for a response.
pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// Runs blocking work (file I/O, fsync, long scans) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ResponseError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "a Kafka request's blocking work panicked");
        ResponseError::UnknownServerError
    })
}
