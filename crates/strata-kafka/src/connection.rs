//! One client connection: size-prefixed frames in, responses out, in order.
//!
//! Requests of a connection are handled one at a time, as Kafka's brokers do (a connection
//! is muted until its response is sent), so responses never need reordering; a client gets
//! parallelism from its several connections and from the batches inside each request.
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
use tokio::net::tcp::OwnedReadHalf;

use crate::broker::{Broker, Context};
use crate::codec::{Decoded, Prefix, decode, encode_response, error_response};
use crate::dispatch::dispatch;
use crate::error::{Error, Result};
use crate::metadata::api_versions;
use crate::sasl::{MAX_UNAUTHENTICATED_REQUEST, Session};

/// Smallest possible request: api key, version, correlation id, client id length.
const MIN_REQUEST: usize = 10;

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
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::with_capacity(64 * 1024, read);
    let mut session = Session::new(broker.config.auth_token.clone());
    let authentication_timeout = broker.config.authentication_timeout;
    let authentication_deadline = tokio::time::Instant::now() + authentication_timeout;
    let auth_failed = |reason: String| Error::Authentication {
        peer: peer.to_string(),
        reason,
    };
    loop {
        let next = read_frame(&mut read, broker.config.max_request_bytes, &session, peer);
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
            if let Some(answer) = session.raw_token(&frame) {
                write.write_all(&answer).await.map_err(io)?;
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
        let response = match decode(frame, prefix) {
            Ok(Decoded::Request { header, request }) => {
                let ctx = Context {
                    peer,
                    local,
                    client_id: header.client_id.map(|c| c.to_string()).unwrap_or_default(),
                };
                match dispatch(
                    &broker,
                    &ctx,
                    &mut session,
                    prefix.api_version,
                    prefix.correlation_id,
                    request,
                )
                .await
                {
                    Ok(r) => r,
                    Err((key, reason)) => {
                        return Err(Error::Encode {
                            api: format!("{key:?}"),
                            version: prefix.api_version,
                            reason,
                        });
                    }
                }
            }
            Ok(Decoded::Unsupported) => {
                tracing::warn!(%peer, api = %prefix.api_name(), version = prefix.api_version, "unsupported Kafka API or version: answered UNSUPPORTED_VERSION");
                Some(unsupported(prefix)?)
            }
            Err(reason) => {
                let answer = error_response(prefix.correlation_id, ResponseError::InvalidRequest);
                let _ = write.write_all(&answer).await;
                return Err(Error::Decode {
                    peer: peer.to_string(),
                    api: prefix.api_name(),
                    version: prefix.api_version,
                    reason,
                });
            }
        };
        if let Some(response) = response {
            write.write_all(&response).await.map_err(io)?;
        }
        if let Some(reason) = session.take_close() {
            tokio::time::sleep(FAILED_AUTHENTICATION_DELAY).await;
            return Err(auth_failed(reason));
        }
    }
}

/// Reads the next frame (the bytes after its size field); `None` on a clean close between
/// requests. The size is checked first, against the limit for where `session` is, so an
/// oversized frame is never allocated.
async fn read_frame(
    read: &mut BufReader<OwnedReadHalf>,
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
    let mut frame = BytesMut::zeroed(size);
    read.read_exact(&mut frame).await.map_err(io)?;
    Ok(Some(frame.freeze()))
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
