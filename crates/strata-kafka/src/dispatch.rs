//! The dispatch of a decoded request to its API's handler, and the encoding of the answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;

use crate::broker::{Broker, Context};
use crate::codec::{Request, encode_response};
use crate::sasl::Session;
use crate::{configs, fetch, groups, metadata, offsets, produce, topics};

/// An encoded response, or why the encoder refused it (the API, its version, the reason).
pub(crate) type Encoded = Result<Bytes, (ApiKey, i16, String)>;

/// What a request gets back.
pub(crate) enum Reply {
    /// Nothing (produce with `acks = 0`).
    None,
    /// A response, ready to send.
    Now(Encoded),
    /// A response once its work completes (a produce waiting for its fsync). The request's
    /// in-order part is done; later requests of the connection may proceed meanwhile.
    Later(Pin<Box<dyn Future<Output = Encoded> + Send>>),
}

/// Handles one request: its in-order part now, and what may wait as [`Reply::Later`]. The
/// SASL requests move the connection's `session` on; whether the request may be served at
/// all was decided before it was decoded ([`Session::admits`]).
pub(crate) async fn dispatch(
    broker: &Arc<Broker>,
    ctx: &Context,
    session: &mut Session,
    version: i16,
    correlation_id: i32,
    request: Request,
) -> Reply {
    fn enc<T: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &T) -> Reply {
        Reply::Now(encode(key, version, correlation_id, body))
    }
    fn encode<T: Encodable>(key: ApiKey, version: i16, correlation_id: i32, body: &T) -> Encoded {
        encode_response(key, version, correlation_id, body).map_err(|e| (key, version, e))
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
            let body = metadata::metadata(broker, ctx, version, r).await;
            enc(ApiKey::Metadata, version, c, &body)
        }
        Request::Produce(r) => {
            let appended = produce::append(broker, r).await;
            if appended.unanswered() {
                return Reply::None;
            }
            Reply::Later(Box::pin(async move {
                let body = appended.acknowledged(version).await;
                encode(ApiKey::Produce, version, c, &body)
            }))
        }
        Request::Fetch(r) => {
            let body = fetch::fetch(broker, version, r).await;
            enc(ApiKey::Fetch, version, c, &body)
        }
        Request::ListOffsets(r) => {
            let body = offsets::list_offsets(broker, version, r).await;
            enc(ApiKey::ListOffsets, version, c, &body)
        }
        Request::OffsetCommit(r) => {
            let body = offsets::offset_commit(broker, version, r).await;
            enc(ApiKey::OffsetCommit, version, c, &body)
        }
        Request::OffsetFetch(r) => {
            let body = offsets::offset_fetch(broker, version, r);
            enc(ApiKey::OffsetFetch, version, c, &body)
        }
        Request::FindCoordinator(r) => {
            let body = groups::find_coordinator(broker, ctx, version, r);
            enc(ApiKey::FindCoordinator, version, c, &body)
        }
        Request::JoinGroup(r) => {
            let body = groups::join_group(broker, ctx, version, r).await;
            enc(ApiKey::JoinGroup, version, c, &body)
        }
        Request::SyncGroup(r) => {
            let body = groups::sync_group(broker, version, r).await;
            enc(ApiKey::SyncGroup, version, c, &body)
        }
        Request::Heartbeat(r) => {
            let body = groups::heartbeat(broker, r);
            enc(ApiKey::Heartbeat, version, c, &body)
        }
        Request::LeaveGroup(r) => {
            let body = groups::leave_group(broker, version, r);
            enc(ApiKey::LeaveGroup, version, c, &body)
        }
        Request::ListGroups(r) => {
            let body = groups::list_groups(broker, r);
            enc(ApiKey::ListGroups, version, c, &body)
        }
        Request::DescribeGroups(r) => {
            let body = groups::describe_groups(broker, r);
            enc(ApiKey::DescribeGroups, version, c, &body)
        }
        Request::CreateTopics(r) => {
            let body = topics::create_topics(broker, version, r).await;
            enc(ApiKey::CreateTopics, version, c, &body)
        }
        Request::InitProducerId(r) => {
            let body = broker.producers.init(&r);
            enc(ApiKey::InitProducerId, version, c, &body)
        }
        Request::DeleteTopics(r) => {
            let body = topics::delete_topics(broker, version, r).await;
            enc(ApiKey::DeleteTopics, version, c, &body)
        }
        Request::DescribeConfigs(r) => {
            let body = configs::describe_configs(broker, version, r);
            enc(ApiKey::DescribeConfigs, version, c, &body)
        }
        Request::SaslHandshake(r) => {
            let body = session.handshake(version, &r);
            enc(ApiKey::SaslHandshake, version, c, &body)
        }
        Request::SaslAuthenticate(r) => {
            let body = session.authenticate(&r);
            enc(ApiKey::SaslAuthenticate, version, c, &body)
        }
    }
}
