//! How a Kafka listener behaves: limits, topic auto-creation, consumer-group timeouts.

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
    /// How long a fetch may wait for data at most, whatever the client asks (bounds the time
    /// a connection is parked in a long poll).
    pub max_fetch_wait: Duration,
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
            max_fetch_wait: Duration::from_secs(30),
        }
    }
}
