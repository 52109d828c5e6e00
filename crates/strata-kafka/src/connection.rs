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
//!
//! When the node has an auth token, each connection carries a [`Session`]: until it has
//! authenticated, only ApiVersions and the SASL requests are read (at most
//! [`MAX_UNAUTHENTICATED_REQUEST`] bytes each, within the configured authentication
//! timeout), and a failed SASL step is answered, then the connection is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::broker::{Broker, Context};
use crate::codec::{Decoded, Prefix, decode, encode_response, error_response};
use crate::dispatch::{Reply, dispatch};
use crate::error::{Error, Result};
use crate::metadata::api_versions;
use crate::sasl::{MAX_UNAUTHENTICATED_REQUEST, Session};

/// Smallest possible request: api key, version, correlation id, client id length.
const MIN_REQUEST: usize = 10;

/// Responses of one connection that may wait to be written (pipelined produces waiting for
/// their fsync) before the connection stops reading requests.
const MAX_IN_FLIGHT: usize = 64;

/// The most memory a connection keeps between requests for reading them: a producer's batch
/// (librdkafka's `batch.size` is 1 MiB) with room to spare.
const KEPT_FRAME_BUFFER: usize = 2 << 20;

/// How long a connection stays open after its authentication failed (Kafka's
/// `connection.failed.authentication.delay.ms`, same value). Clients read the error answer
/// only if it arrives before the close: kafka-python reports a bare "socket disconnected"
/// otherwise. It also slows down password guessing.
const FAILED_AUTHENTICATION_DELAY: Duration = Duration::from_millis(100);

/// Serves one connection until the client closes it or sends something that ends it.
///
/// # Errors
/// Socket errors, a size field over the limit, a request that does not decode, a request
/// before authentication or a failed one (when the node has a token).
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
    read: OwnedReadHalf,
    replies: &mpsc::Sender<Reply>,
    peer: SocketAddr,
    local: SocketAddr,
) -> Result<()> {
    // A reply the writer cannot take means the writer stopped: its error is the connection's.
    let send = |reply| async move { replies.send(reply).await.is_ok() };
    let mut read = BufReader::with_capacity(64 * 1024, read);
    let mut frames = BytesMut::new();
    let mut session = Session::new(broker.config.auth_token.clone());
    let authentication_timeout = broker.config.authentication_timeout;
    let authentication_deadline = tokio::time::Instant::now() + authentication_timeout;
    let auth_failed = |reason: String| Error::Authentication {
        peer: peer.to_string(),
        reason,
    };
    loop {
        let next = read_frame(
            &mut read,
            &mut frames,
            broker.config.max_request_bytes,
            &session,
            peer,
        );
        let frame = if session.authenticated() {
            next.await?
        } else {
            tokio::time::timeout_at(authentication_deadline, next)
                .await
                .map_err(|_| {
                    auth_failed(format!(
                        "no SASL authentication within {} ms",
                        authentication_timeout.as_millis()
                    ))
                })??
        };
        let Some(frame) = frame else {
            return Ok(());
        };
        if session.expects_raw_token() {
            if let Some(answer) = session.raw_token(&frame)
                && !send(Reply::Now(Ok(answer))).await
            {
                return Ok(());
            }
            match session.take_close() {
                Some(reason) => {
                    tokio::time::sleep(FAILED_AUTHENTICATION_DELAY).await;
                    return Err(auth_failed(reason));
                }
                None => continue,
            }
        }
        let Some(prefix) = Prefix::peek(&frame) else {
            return Ok(());
        };
        // Checked before decoding: a client that has not authenticated reaches no decoder
        // but those of ApiVersions and SASL.
        if !session.admits(prefix.api_key) {
            return Err(Error::Unauthenticated {
                peer: peer.to_string(),
                api: prefix.api_name(),
            });
        }
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
                    &mut session,
                    prefix.api_version,
                    prefix.correlation_id,
                    request,
                )
                .await
            }
            // A client newer than this broker asks for ApiVersions at its own newest version
            // and falls back to the list in the answer (KIP-511): the normal handshake of
            // kafka-python 3, not worth a warning per connection.
            Ok(Decoded::Unsupported) if prefix.api_key == ApiKey::ApiVersions as i16 => {
                tracing::debug!(%peer, version = prefix.api_version, "ApiVersions past the newest supported: answered with the v0 fallback");
                Reply::Now(Ok(unsupported(prefix)?))
            }
            Ok(Decoded::Unsupported) => {
                tracing::warn!(%peer, api = %prefix.api_name(), version = prefix.api_version, "unsupported Kafka API or version: answered UNSUPPORTED_VERSION");
                Reply::Now(Ok(unsupported(prefix)?))
            }
            Err(reason) => {
                let answer = error_response(prefix.correlation_id, ResponseError::InvalidRequest);
                send(Reply::Now(Ok(answer))).await;
                return Err(Error::Decode {
                    peer: peer.to_string(),
                    api: prefix.api_name(),
                    version: prefix.api_version,
                    reason,
                });
            }
        };
        if !send(reply).await {
            return Ok(());
        }
        if let Some(reason) = session.take_close() {
            tokio::time::sleep(FAILED_AUTHENTICATION_DELAY).await;
            return Err(auth_failed(reason));
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

/// Reads the next frame (the bytes after its size field); `None` on a clean close between
/// requests. The size is checked first, against the limit for where `session` is, so an
/// oversized frame is never allocated. Frames are cut from `frames`, the connection's buffer,
/// whose memory is used again once the previous frames are dropped: no zeroing and no fresh
/// pages per request.
async fn read_frame(
    read: &mut BufReader<OwnedReadHalf>,
    frames: &mut BytesMut,
    limit: usize,
    session: &Session,
    peer: SocketAddr,
) -> Result<Option<Bytes>> {
    let io = |source| Error::Io {
        peer: peer.to_string(),
        source,
    };
    let size = match read.read_i32().await {
        Ok(size) => size,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let size = match usize::try_from(size) {
        Ok(s) if s > session.max_request_bytes(limit) && s <= limit => {
            return Err(Error::Authentication {
                peer: peer.to_string(),
                reason: format!(
                    "a request of {s} bytes before SASL authentication (at most {MAX_UNAUTHENTICATED_REQUEST} until then)"
                ),
            });
        }
        // A raw SASL token (after handshake v0) has no request header to be short of.
        Ok(s) if session.expects_raw_token() && s <= limit => s,
        Ok(s) if (MIN_REQUEST..=limit).contains(&s) => s,
        _ => {
            return Err(Error::FrameTooLarge {
                peer: peer.to_string(),
                size: i64::from(size),
                limit,
            });
        }
    };
    if frames.capacity() > KEPT_FRAME_BUFFER {
        // An idle connection keeps at most this much; larger requests get their own memory.
        *frames = BytesMut::new();
    }
    frames.clear();
    frames.reserve(size);
    let mut body = read.take(size as u64);
    while frames.len() < size {
        if body.read_buf(frames).await.map_err(io)? == 0 {
            return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(Some(frames.split_to(size).freeze()))
}

/// The answer to an unsupported request. ApiVersions gets Kafka's fallback (KIP-511): a v0
/// answer with the error and the supported versions, from which the client picks one.
fn unsupported(prefix: Prefix) -> Result<Bytes> {
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
