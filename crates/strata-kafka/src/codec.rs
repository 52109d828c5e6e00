//! Glue between frames and the generated messages of the `kafka-protocol` crate: which APIs
//! and versions this broker speaks, decoding a request frame into a [`Request`], and encoding
//! a response with its header.
//!
//! The versions are the intersection of what the handlers implement and what the codec
//! decodes (Kafka 4's schemas, whose oldest versions were removed upstream): they cover what
//! kafka-python, librdkafka 2.x (kcat, confluent-kafka) and the Java client 3.x negotiate.
//! Versions past the maximum are left out on purpose where they would need something strata
//! does not have: topic ids instead of names (Fetch 13+, Produce 13+, DeleteTopics 6+), the
//! new consumer protocol's member epochs (OffsetCommit 9+), batched groups (OffsetFetch 8+).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeGroupsRequest, FetchRequest, FindCoordinatorRequest, HeartbeatRequest,
    InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest,
    ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, ProduceRequest,
    RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslHandshakeRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};

/// The APIs this broker answers, with the versions it supports (inclusive).
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 10),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 6),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    // v0 too: librdkafka enables SASL only when it is listed (see `crate::sasl`).
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::SaslAuthenticate, 0, 2),
];

/// The version range of `key` this broker supports, if it supports the API at all.
pub(crate) fn supported(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, min, max)| (min, max))
}

/// The fixed start of every request header: enough to answer even a request that cannot be
/// decoded (its correlation id) and to choose the body's decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prefix {
    /// The raw API key (unknown keys included).
    pub api_key: i16,
    /// The requested version.
    pub api_version: i16,
    /// Echoed in the response so the client can match it.
    pub correlation_id: i32,
}

impl Prefix {
    /// Reads the prefix of a frame; `None` when the frame is shorter than 8 bytes.
    pub fn peek(frame: &[u8]) -> Option<Prefix> {
        let mut b = frame.get(..8)?;
        Some(Prefix {
            api_key: b.get_i16(),
            api_version: b.get_i16(),
            correlation_id: b.get_i32(),
        })
    }

    /// The API's name for logs, or its number when unknown.
    pub fn api_name(&self) -> String {
        match ApiKey::try_from(self.api_key) {
            Ok(k) => format!("{k:?}"),
            Err(()) => format!("API key {}", self.api_key),
        }
    }
}

/// A decoded request of a supported API.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    Produce(ProduceRequest),
    Fetch(FetchRequest),
    ListOffsets(ListOffsetsRequest),
    Metadata(MetadataRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    FindCoordinator(FindCoordinatorRequest),
    JoinGroup(JoinGroupRequest),
    Heartbeat(HeartbeatRequest),
    LeaveGroup(LeaveGroupRequest),
    SyncGroup(SyncGroupRequest),
    DescribeGroups(DescribeGroupsRequest),
    ListGroups(ListGroupsRequest),
    SaslHandshake(SaslHandshakeRequest),
    ApiVersions(ApiVersionsRequest),
    CreateTopics(CreateTopicsRequest),
    DeleteTopics(DeleteTopicsRequest),
    InitProducerId(InitProducerIdRequest),
    DescribeConfigs(DescribeConfigsRequest),
    SaslAuthenticate(SaslAuthenticateRequest),
}

/// What a frame turned out to be.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one request lives at a time per connection; boxing buys nothing"
)]
pub(crate) enum Decoded {
    /// A supported request at a supported version.
    Request {
        /// The decoded header (client id, …).
        header: RequestHeader,
        /// The decoded body.
        request: Request,
    },
    /// An API this broker does not know or does not serve, or a version outside its range:
    /// answered with `UNSUPPORTED_VERSION`.
    Unsupported,
}

/// Decodes one request frame (the bytes after the size field).
///
/// # Errors
/// The reason, when the header or body is malformed for its (supported) API and version.
pub(crate) fn decode(frame: Bytes, prefix: Prefix) -> Result<Decoded, String> {
    let Ok(key) = ApiKey::try_from(prefix.api_key) else {
        return Ok(Decoded::Unsupported);
    };
    let Some((min, max)) = supported(key) else {
        return Ok(Decoded::Unsupported);
    };
    let version = prefix.api_version;
    if version < min || version > max {
        return Ok(Decoded::Unsupported);
    }
    let mut buf = frame;
    let header_version = key.request_header_version(version);
    let header = RequestHeader::decode(&mut buf, header_version).map_err(|e| e.to_string())?;
    fn body<T: Decodable>(buf: &mut Bytes, version: i16) -> Result<T, String> {
        T::decode(buf, version).map_err(|e| e.to_string())
    }
    let request = match key {
        ApiKey::Produce => Request::Produce(body(&mut buf, version)?),
        ApiKey::Fetch => Request::Fetch(body(&mut buf, version)?),
        ApiKey::ListOffsets => Request::ListOffsets(body(&mut buf, version)?),
        ApiKey::Metadata => Request::Metadata(body(&mut buf, version)?),
        ApiKey::OffsetCommit => Request::OffsetCommit(body(&mut buf, version)?),
        ApiKey::OffsetFetch => Request::OffsetFetch(body(&mut buf, version)?),
        ApiKey::FindCoordinator => Request::FindCoordinator(body(&mut buf, version)?),
        ApiKey::JoinGroup => Request::JoinGroup(body(&mut buf, version)?),
        ApiKey::Heartbeat => Request::Heartbeat(body(&mut buf, version)?),
        ApiKey::LeaveGroup => Request::LeaveGroup(body(&mut buf, version)?),
        ApiKey::SyncGroup => Request::SyncGroup(body(&mut buf, version)?),
        ApiKey::DescribeGroups => Request::DescribeGroups(body(&mut buf, version)?),
        ApiKey::ListGroups => Request::ListGroups(body(&mut buf, version)?),
        ApiKey::SaslHandshake => Request::SaslHandshake(body(&mut buf, version)?),
        ApiKey::ApiVersions => Request::ApiVersions(body(&mut buf, version)?),
        ApiKey::CreateTopics => Request::CreateTopics(body(&mut buf, version)?),
        ApiKey::DeleteTopics => Request::DeleteTopics(body(&mut buf, version)?),
        ApiKey::InitProducerId => Request::InitProducerId(body(&mut buf, version)?),
        ApiKey::DescribeConfigs => Request::DescribeConfigs(body(&mut buf, version)?),
        ApiKey::SaslAuthenticate => Request::SaslAuthenticate(body(&mut buf, version)?),
        // `supported` listed it, so a match arm must exist: keep the two in step.
        _ => return Ok(Decoded::Unsupported),
    };
    // Clients send exact frames: bytes past the body mean the size field was wrong, so the
    // stream's framing is off and the request must not be acted on (a produce would append).
    if buf.has_remaining() {
        return Err(format!(
            "{} bytes after the request body: the frame's size field does not match its request",
            buf.remaining()
        ));
    }
    Ok(Decoded::Request { header, request })
}

/// Encodes a response frame: size, header (v0 or flexible v1 as the API's version says),
/// then the body.
///
/// # Errors
/// The encoder's reason, when a field does not fit the version.
pub(crate) fn encode_response<T: Encodable>(
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Result<Bytes, String> {
    // Sized up front: a fetch answer carries megabytes of records, and growing the buffer
    // by doubling would copy them again and fault in fresh pages at every step.
    let body_size = body.compute_size(version).map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(4 + 8 + body_size);
    buf.put_i32(0); // size, patched below
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    header
        .encode(&mut buf, key.response_header_version(version))
        .map_err(|e| e.to_string())?;
    body.encode(&mut buf, version).map_err(|e| e.to_string())?;
    patch_size(&mut buf);
    Ok(buf.freeze())
}

/// The answer to a request that cannot be served: the correlation id and an error code
/// (`UNSUPPORTED_VERSION` for an unknown API or version, `INVALID_REQUEST` for a body that
/// does not decode). For every response schema that starts with an error code this is the
/// error a client expects to read; for the others it is still an answer that names the
/// problem, instead of a silent close.
pub(crate) fn error_response(correlation_id: i32, error: kafka_protocol::ResponseError) -> Bytes {
    let mut buf = BytesMut::with_capacity(10);
    buf.put_i32(6);
    buf.put_i32(correlation_id);
    buf.put_i16(error.code());
    buf.freeze()
}

fn patch_size(buf: &mut BytesMut) {
    let size = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&size.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::StrBytes;

    fn frame<T: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &T) -> Bytes {
        let mut buf = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("test")));
        header
            .encode(&mut buf, key.request_header_version(version))
            .expect("header");
        body.encode(&mut buf, version).expect("body");
        buf.freeze()
    }

    #[test]
    fn every_supported_range_is_within_the_codecs() {
        for &(key, min, max) in SUPPORTED {
            let codec = key.valid_versions();
            assert!(
                codec.min <= min && max <= codec.max,
                "{key:?} {min}..={max} outside {codec}"
            );
        }
    }

    #[test]
    fn decodes_a_supported_request_with_its_header() {
        let body = MetadataRequest::default();
        let bytes = frame(ApiKey::Metadata, 9, 42, &body);
        let prefix = Prefix::peek(&bytes).expect("prefix");
        assert_eq!(prefix.correlation_id, 42);
        match decode(bytes, prefix).expect("decodes") {
            Decoded::Request { header, request } => {
                assert_eq!(header.client_id.as_deref(), Some("test"));
                assert!(matches!(request, Request::Metadata(_)));
            }
            Decoded::Unsupported => panic!("Metadata v9 is supported"),
        }
    }

    #[test]
    fn unknown_keys_and_versions_are_unsupported_not_errors() {
        let body = MetadataRequest::default();
        let bytes = frame(ApiKey::Metadata, 13, 1, &body);
        let prefix = Prefix::peek(&bytes).expect("prefix");
        assert!(matches!(decode(bytes, prefix), Ok(Decoded::Unsupported)));
        let unknown = Bytes::from_static(&[0x7f, 0x00, 0, 1, 0, 0, 0, 9]);
        let prefix = Prefix::peek(&unknown).expect("prefix");
        assert_eq!(prefix.api_name(), "API key 32512");
        assert!(matches!(decode(unknown, prefix), Ok(Decoded::Unsupported)));
        let answer = error_response(9, kafka_protocol::ResponseError::UnsupportedVersion);
        assert_eq!(&answer[..], &[0, 0, 0, 6, 0, 0, 0, 9, 0, 35]);
    }

    #[test]
    fn a_truncated_body_is_a_decode_error() {
        let body = ProduceRequest::default().with_acks(1).with_timeout_ms(5);
        let bytes = frame(ApiKey::Produce, 7, 3, &body);
        let cut = bytes.slice(..bytes.len() - 3);
        let prefix = Prefix::peek(&cut).expect("prefix");
        assert!(decode(cut, prefix).is_err());
    }

    #[test]
    fn bytes_after_the_body_are_a_decode_error() {
        let body = ProduceRequest::default().with_acks(1).with_timeout_ms(5);
        let mut bytes = BytesMut::from(&frame(ApiKey::Produce, 7, 3, &body)[..]);
        bytes.extend_from_slice(&[0, 0, 0, 9]);
        let bytes = bytes.freeze();
        let prefix = Prefix::peek(&bytes).expect("prefix");
        let err = decode(bytes, prefix).expect_err("trailing bytes");
        assert!(err.contains("4 bytes after the request body"), "{err}");
    }

    #[test]
    fn an_absurd_array_count_is_a_decode_error_not_a_huge_allocation() {
        // The fuzz target's first find (crates/strata-kafka/fuzz, request_decode): Metadata v0
        // whose topic array claims 168 M entries in a 17-byte frame asked for 12 GB up front.
        let found = Bytes::from_static(&[0, 3, 0, 0, 0, 243, 0, 243, 0, 0, 10, 6, 0, 1, 0, 6, 249]);
        let prefix = Prefix::peek(&found).expect("prefix");
        assert!(decode(found, prefix).is_err());
        // The same with i32::MAX topics in a Produce (~200 GB): more than any machine's memory,
        // so an unbounded reservation fails and aborts this test binary.
        let body = ProduceRequest::default().with_acks(1).with_timeout_ms(5);
        let mut bytes = BytesMut::from(&frame(ApiKey::Produce, 7, 3, &body)[..]);
        let count_at = bytes.len() - 4; // the empty topic array's count ends the frame
        bytes[count_at..].copy_from_slice(&i32::MAX.to_be_bytes());
        let bytes = bytes.freeze();
        let prefix = Prefix::peek(&bytes).expect("prefix");
        let err = decode(bytes, prefix).expect_err("no such array");
        assert!(err.contains("Not enough bytes"), "{err}");
    }

    #[test]
    fn responses_carry_size_and_correlation_id() {
        let body = kafka_protocol::messages::HeartbeatResponse::default();
        let bytes = encode_response(ApiKey::Heartbeat, 4, 77, &body).expect("encode");
        let size = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        assert_eq!(size as usize, bytes.len() - 4);
        assert_eq!(&bytes[4..8], &77i32.to_be_bytes());
    }
}
