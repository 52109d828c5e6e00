//! One client connection: size-prefixed frames in, responses out, in order.
//!
//! Requests of a connection are handled in order, one at a time, up to the point where only
//! waiting remains: a produce is appended, then its acknowledgement (the fsync of a
//! `durability = always` topic) is awaited by the writer half while the next requests are
//! read and appended, so that one fsync covers several pipelined requests (group commit).
//! Kafka's brokers mute a connection until its response is sent, which with librdkafka's
//! pipelining and one fsync per request would queue requests behind each other's fsyncs.
//! Responses are written in request order, as the protocol requires; at most
//! [`MAX_IN_FLIGHT`] wait at a time, then reading pauses.
//!
//! Bad input never takes the node down and is never silently dropped: an unknown API or
//! version is answered with `UNSUPPORTED_VERSION` and the connection stays usable; a body
//! that does not decode is answered with `INVALID_REQUEST`, then the connection is closed
//! (its framing can no longer be trusted); a size field over the limit or too short for a
//! header closes the connection with a log line.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use crate::broker::{Broker, Context};
use crate::codec::{Decoded, Prefix, decode, encode_response, error_response};
use crate::dispatch::{Reply, dispatch};
use crate::error::{Error, Result};
use crate::metadata::api_versions;

/// Smallest possible request: api key, version, correlation id, client id length.
const MIN_REQUEST: usize = 10;

/// Responses of one connection that may wait to be written (pipelined produces waiting for
/// their fsync) before the connection stops reading requests.
const MAX_IN_FLIGHT: usize = 64;

/// Serves one connection until the client closes it or sends something that ends it.
///
/// # Errors
/// Socket errors, a size field over the limit, a request that does not decode.
pub(crate) async fn serve_connection(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<()> {
    let io = |source| Error::Io {
        peer: peer.to_string(),
        source,
    };
    let local = stream.local_addr().map_err(io)?;
    // Produce and fetch answers go out at once: Nagle would hold small ones back.
    stream.set_nodelay(true).map_err(io)?;
    let (read, write) = stream.into_split();
    let (replies, queue) = mpsc::channel(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_replies(write, queue, peer));
    let reading = read_requests(&broker, read, &replies, peer, local).await;
    // The writer sends what is still due (a final error answer too), then ends.
    drop(replies);
    let writing = writer.await.unwrap_or_else(|e| {
        Err(Error::Io {
            peer: peer.to_string(),
            source: std::io::Error::other(e),
        })
    });
    reading.and(writing)
}

/// Reads and handles requests in order, handing their replies to the writer.
async fn read_requests(
    broker: &Arc<Broker>,
    read: tokio::net::tcp::OwnedReadHalf,
    replies: &mpsc::Sender<Reply>,
    peer: SocketAddr,
    local: SocketAddr,
) -> Result<()> {
    let io = |source| Error::Io {
        peer: peer.to_string(),
        source,
    };
    let mut read = BufReader::with_capacity(64 * 1024, read);
    loop {
        let size = match read.read_i32().await {
            Ok(size) => size,
            // A clean close between requests.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let limit = broker.config.max_request_bytes;
        let size = match usize::try_from(size) {
            Ok(s) if (MIN_REQUEST..=limit).contains(&s) => s,
            _ => {
                return Err(Error::FrameTooLarge {
                    peer: peer.to_string(),
                    size: i64::from(size),
                    limit,
                });
            }
        };
        let mut frame = BytesMut::zeroed(size);
        read.read_exact(&mut frame).await.map_err(io)?;
        let frame = frame.freeze();
        let Some(prefix) = Prefix::peek(&frame) else {
            return Ok(());
        };
        let reply = match decode(frame, prefix) {
            Ok(Decoded::Request { header, request }) => {
                let ctx = Context {
                    peer,
                    local,
                    client_id: header.client_id.map(|c| c.to_string()).unwrap_or_default(),
                };
                dispatch(
                    broker,
                    &ctx,
                    prefix.api_version,
                    prefix.correlation_id,
                    request,
                )
                .await
            }
            Ok(Decoded::Unsupported) => {
                tracing::warn!(%peer, api = %prefix.api_name(), version = prefix.api_version, "unsupported Kafka API or version: answered UNSUPPORTED_VERSION");
                Reply::Now(Ok(unsupported(prefix)?))
            }
            Err(reason) => {
                let answer = error_response(prefix.correlation_id, ResponseError::InvalidRequest);
                let _ = replies.send(Reply::Now(Ok(answer))).await;
                return Err(Error::Decode {
                    peer: peer.to_string(),
                    api: prefix.api_name(),
                    version: prefix.api_version,
                    reason,
                });
            }
        };
        if replies.send(reply).await.is_err() {
            // The writer stopped (its error is the connection's): stop reading.
            return Ok(());
        }
    }
}

/// Writes the replies in the order their requests came, each once it is ready.
async fn write_replies(
    mut write: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Reply>,
    peer: SocketAddr,
) -> Result<()> {
    while let Some(reply) = queue.recv().await {
        let encoded = match reply {
            Reply::None => continue,
            Reply::Now(encoded) => encoded,
            Reply::Later(pending) => pending.await,
        };
        let response = encoded.map_err(|(key, version, reason)| Error::Encode {
            api: format!("{key:?}"),
            version,
            reason,
        })?;
        write
            .write_all(&response)
            .await
            .map_err(|source| Error::Io {
                peer: peer.to_string(),
                source,
            })?;
    }
    Ok(())
}

/// The answer to an unsupported request. ApiVersions gets Kafka's fallback (KIP-511): a v0
/// answer with the error and the supported versions, from which the client picks one.
fn unsupported(prefix: Prefix) -> Result<bytes::Bytes> {
    if prefix.api_key == ApiKey::ApiVersions as i16 {
        let body = api_versions(Some(ResponseError::UnsupportedVersion));
        return encode_response(ApiKey::ApiVersions, 0, prefix.correlation_id, &body).map_err(
            |reason| Error::Encode {
                api: "ApiVersions".into(),
                version: 0,
                reason,
            },
        );
    }
    Ok(error_response(
        prefix.correlation_id,
        ResponseError::UnsupportedVersion,
    ))
}
