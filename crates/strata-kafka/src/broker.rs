//! The broker: what every connection shares (the log, the configuration, the group
//! coordinator) and the dispatch of a decoded request to its API's handler.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};
use strata_log::{Log, Topic, TopicConfig};

use crate::codec::{Request, encode_response};
use crate::config::KafkaConfig;
use crate::coordinator::Coordinator;
use crate::error::log_error_code;
use crate::idempotence::Producers;
use crate::{fetch, groups, metadata, offsets, produce, topics};
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

    /// Handles one request; `None` when no response is due (produce with `acks = 0`).
    ///
    /// # Errors
    /// The encoder's reason when the response cannot be encoded for `version`.
    pub async fn dispatch(
        self: &Arc<Self>,
        ctx: &Context,
        version: i16,
        correlation_id: i32,
        request: Request,
    ) -> Result<Option<Bytes>, (ApiKey, String)> {
        fn enc<T: Encodable>(
            key: ApiKey,
            version: i16,
            correlation_id: i32,
            body: &T,
        ) -> Result<Option<Bytes>, (ApiKey, String)> {
            encode_response(key, version, correlation_id, body)
                .map(Some)
                .map_err(|e| (key, e))
        }
        let c = correlation_id;
        match request {
            Request::ApiVersions(_) => enc(
                ApiKey::ApiVersions,
                version,
                c,
                &metadata::api_versions(None),
            ),
            Request::Metadata(r) => {
                let body = metadata::metadata(self, ctx, version, r).await;
                enc(ApiKey::Metadata, version, c, &body)
            }
            Request::Produce(r) => match produce::produce(self, version, r).await {
                Some(body) => enc(ApiKey::Produce, version, c, &body),
                None => Ok(None),
            },
            Request::Fetch(r) => {
                let body = fetch::fetch(self, version, r).await;
                enc(ApiKey::Fetch, version, c, &body)
            }
            Request::ListOffsets(r) => {
                let body = offsets::list_offsets(self, version, r).await;
                enc(ApiKey::ListOffsets, version, c, &body)
            }
            Request::OffsetCommit(r) => {
                let body = offsets::offset_commit(self, version, r).await;
                enc(ApiKey::OffsetCommit, version, c, &body)
            }
            Request::OffsetFetch(r) => {
                let body = offsets::offset_fetch(self, version, r);
                enc(ApiKey::OffsetFetch, version, c, &body)
            }
            Request::FindCoordinator(r) => {
                let body = groups::find_coordinator(self, ctx, version, r);
                enc(ApiKey::FindCoordinator, version, c, &body)
            }
            Request::JoinGroup(r) => {
                let body = groups::join_group(self, ctx, version, r).await;
                enc(ApiKey::JoinGroup, version, c, &body)
            }
            Request::SyncGroup(r) => {
                let body = groups::sync_group(self, version, r).await;
                enc(ApiKey::SyncGroup, version, c, &body)
            }
            Request::Heartbeat(r) => {
                let body = groups::heartbeat(self, r);
                enc(ApiKey::Heartbeat, version, c, &body)
            }
            Request::LeaveGroup(r) => {
                let body = groups::leave_group(self, version, r);
                enc(ApiKey::LeaveGroup, version, c, &body)
            }
            Request::ListGroups(r) => {
                let body = groups::list_groups(self, r);
                enc(ApiKey::ListGroups, version, c, &body)
            }
            Request::DescribeGroups(r) => {
                let body = groups::describe_groups(self, r);
                enc(ApiKey::DescribeGroups, version, c, &body)
            }
            Request::CreateTopics(r) => {
                let body = topics::create_topics(self, version, r).await;
                enc(ApiKey::CreateTopics, version, c, &body)
            }
            Request::InitProducerId(r) => {
                let body = self.producers.init(&r);
                enc(ApiKey::InitProducerId, version, c, &body)
            }
            Request::DeleteTopics(r) => {
                let body = topics::delete_topics(self, version, r).await;
                enc(ApiKey::DeleteTopics, version, c, &body)
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
