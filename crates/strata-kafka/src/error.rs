//! The crate's error type, and the one place where failures become Kafka error codes.
//!
//! Request handlers answer bad input with a Kafka error code inside the response (the
//! connection stays open); [`Error`] is for what ends a connection or the server: I/O on the
//! socket, a frame that cannot be a request, a request that does not decode.

use kafka_protocol::ResponseError;

/// Everything that can end a Kafka connection or stop the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading from or writing to a client's socket failed (it went away, mostly).
    #[error("I/O error on the Kafka connection from {peer}: {source}")]
    Io {
        /// The client's address.
        peer: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A frame's size field is negative or larger than the limit: the stream cannot be a
    /// Kafka client's, or the client must be configured to send smaller requests.
    #[error(
        "a request of {size} bytes from {peer} is over the limit of {limit} bytes (--kafka-max-request-bytes); the connection is closed"
    )]
    FrameTooLarge {
        /// The client's address.
        peer: String,
        /// The size field as read.
        size: i64,
        /// The configured limit.
        limit: usize,
    },

    /// A request's header or body could not be decoded for its API key and version.
    #[error("cannot decode {api} v{version} request from {peer}: {reason}")]
    Decode {
        /// The client's address.
        peer: String,
        /// The API's name (or its numeric key).
        api: String,
        /// The request's version.
        version: i16,
        /// What the decoder said.
        reason: String,
    },

    /// A response could not be encoded (a field out of range for the version).
    #[error("cannot encode the {api} v{version} response: {reason}")]
    Encode {
        /// The API's name.
        api: String,
        /// The response's version.
        version: i16,
        /// What the encoder said.
        reason: String,
    },

    /// A connection that has not authenticated sent a request other than ApiVersions or the
    /// SASL ones, while the node requires SASL/PLAIN.
    #[error(
        "{api} from {peer} before SASL authentication: the node has an auth token, so clients must use SASL/PLAIN with the token as the password (security.protocol=SASL_PLAINTEXT, sasl.mechanism=PLAIN); the connection is closed"
    )]
    Unauthenticated {
        /// The client's address.
        peer: String,
        /// The API's name (or its numeric key).
        api: String,
    },

    /// A SASL step failed (wrong password, unsupported mechanism, steps out of order); the
    /// client was answered with the error first.
    #[error("{reason} (client {peer}); the connection is closed")]
    Authentication {
        /// The client's address.
        peer: String,
        /// What failed, without the password.
        reason: String,
    },

    /// Binding or accepting on the listener failed.
    #[error("the Kafka listener failed: {0}")]
    Listener(#[source] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The Kafka error code for a failure of the log, as close to Kafka's meaning as strata's
/// errors allow; what is left is `UNKNOWN_SERVER_ERROR` (and logged by the caller).
pub(crate) fn log_error_code(e: &strata_log::Error) -> ResponseError {
    use strata_log::Error as E;
    match e {
        E::UnknownTopic(_) | E::UnknownPartition { .. } => ResponseError::UnknownTopicOrPartition,
        E::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        E::InvalidName { kind: "group", .. } => ResponseError::InvalidGroupId,
        E::InvalidName { .. } => ResponseError::InvalidTopicException,
        E::TopicExists(_) => ResponseError::TopicAlreadyExists,
        E::InvalidConfig(_) => ResponseError::InvalidConfig,
        E::RecordTooLarge { .. } => ResponseError::MessageTooLarge,
        E::BatchTooLarge { .. } => ResponseError::RecordListTooLarge,
        E::Corrupt { .. } => ResponseError::CorruptMessage,
        E::EmptyBatch => ResponseError::InvalidRecord,
        E::UnknownGroup(_) => ResponseError::GroupIdNotFound,
        E::Closed => ResponseError::NotLeaderOrFollower,
        // Kafka's answer for a log directory that failed: clients retry, as they would
        // against a broker whose disk went offline.
        E::SyncFailed { .. } => ResponseError::KafkaStorageError,
        _ => ResponseError::UnknownServerError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_errors_map_to_kafka_codes() {
        let unknown = strata_log::Error::UnknownTopic("t".into());
        assert_eq!(log_error_code(&unknown).code(), 3);
        let range = strata_log::Error::OffsetOutOfRange {
            offset: 9,
            start: 0,
            end: 1,
        };
        assert_eq!(log_error_code(&range).code(), 1);
        let too_large = strata_log::Error::RecordTooLarge {
            index: 0,
            size: 10,
            limit: 1,
        };
        assert_eq!(log_error_code(&too_large).code(), 10);
        let bad_name = strata_log::names::validate_name("topic", "a b").expect_err("invalid");
        assert_eq!(log_error_code(&bad_name).code(), 17);
        let sync_failed = strata_log::Error::SyncFailed {
            path: "p/00000000000000000000.log".into(),
            reason: "Input/output error".into(),
        };
        assert_eq!(
            log_error_code(&sync_failed).code(),
            56,
            "KAFKA_STORAGE_ERROR"
        );
    }
}
