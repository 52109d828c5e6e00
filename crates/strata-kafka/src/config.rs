//! How a Kafka listener behaves: limits, authentication, topic auto-creation, consumer-group
//! timeouts.

use std::time::Duration;

/// Configuration of the Kafka listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// Largest request accepted, in bytes (Kafka's `socket.request.max.bytes`). A larger size
    /// field closes the connection with a log line: no Kafka client sends one, so the stream
    /// is not a Kafka client's or its requests must be made smaller.
    pub max_request_bytes: usize,
    /// Create a topic when a client asks for its metadata or produces to it (Kafka's
    /// `auto.create.topics.enable`, on by default as in Kafka).
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic, and of `CreateTopics` with `num_partitions = -1`
    /// (Kafka's `num.partitions`).
    pub default_partitions: u32,
    /// The node id this broker reports in metadata and as group coordinator.
    pub node_id: i32,
    /// `host:port` advertised to clients in metadata; `None` advertises the address each
    /// client connected to (right for loopback and for one-address hosts).
    pub advertised: Option<(String, u16)>,
    /// Most connections served at once; a connection past it is closed at once with a log line.
    pub max_connections: usize,
    /// Smallest session timeout a consumer may ask for (Kafka's `group.min.session.timeout.ms`).
    pub group_min_session_timeout: Duration,
    /// Largest session timeout a consumer may ask for (Kafka's `group.max.session.timeout.ms`).
    pub group_max_session_timeout: Duration,
    /// How long a consumer group that has no members waits for more to join before it opens
    /// its first generation, started over by each member that joins meanwhile, at most the
    /// members' rebalance timeout (Kafka's `group.initial.rebalance.delay.ms`, same default).
    /// Consumers started together then share one generation instead of rebalancing once per
    /// member, and the leader assigns with the topics' metadata at hand. Zero opens the first
    /// generation at once.
    pub group_initial_rebalance_delay: Duration,
    /// How long a fetch may wait for data at most, whatever the client asks (bounds the time
    /// a connection is parked in a long poll).
    pub max_fetch_wait: Duration,
    /// When set, every connection must authenticate with SASL/PLAIN and this password (any
    /// user name) before anything but ApiVersions and the SASL requests is served; `None`
    /// serves plaintext clients as they come.
    pub auth_token: Option<AuthToken>,
    /// How long a connection may take to authenticate, when `auth_token` is set; then it is
    /// closed. Clients authenticate first thing, in a few round trips; without a deadline,
    /// peers that never try would hold the connection slots (`max_connections`) for ever.
    pub authentication_timeout: Duration,
}

/// The password SASL/PLAIN clients must present: the node's auth token. Its `Debug` does not
/// print it, so logging a configuration never leaks it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(String);

impl AuthToken {
    /// A token; an empty one would let any client in with an empty password, so callers
    /// treat "no token" as `None` rather than as `AuthToken::new("")`.
    pub fn new(token: impl Into<String>) -> AuthToken {
        AuthToken(token.into())
    }

    /// Whether `given` is the token, in time that does not depend on where they differ (so a
    /// client cannot find the token byte by byte by timing failed attempts). The length can
    /// show, as with the HTTP API's bearer token.
    pub(crate) fn matches(&self, given: &[u8]) -> bool {
        let token = self.0.as_bytes();
        token.len() == given.len()
            && token
                .iter()
                .zip(given)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            max_request_bytes: 100 * 1024 * 1024,
            auto_create_topics: true,
            default_partitions: 1,
            node_id: 0,
            advertised: None,
            max_connections: 1000,
            group_min_session_timeout: Duration::from_secs(6),
            group_max_session_timeout: Duration::from_secs(30 * 60),
            group_initial_rebalance_delay: Duration::from_secs(3),
            max_fetch_wait: Duration::from_secs(30),
            auth_token: None,
            authentication_timeout: Duration::from_secs(30),
        }
    }
}
