//! `strata-kafka`: the Kafka wire protocol over strata's log, so that every Kafka client,
//! tool and tutorial produces to and consumes from a strata node unchanged, as with Redpanda.
//!
//! [`serve`] runs a TCP listener that speaks the protocol's APIs for producing, fetching,
//! offsets, consumer groups and topic administration (the list with versions and error codes
//! is `docs/kafka-api.md`), over the same topics, partitions, offsets, timestamps, keys,
//! headers and committed group offsets as the HTTP API.
//!
//! Modules: [`codec`](crate::codec) (frames ↔ the `kafka-protocol` crate's generated messages,
//! the supported versions), `connection` (framing, limits, one connection's loop), `sasl`
//! (SASL/PLAIN when the node has a token), `broker` (shared state), `dispatch` (a request to
//! its handler), `records` (Kafka record batches v2 ↔ strata batches, with `decompress`
//! bounding what a compressed batch may expand to), then one file per API family:
//! `metadata`, `produce` (with `idempotence`), `fetch`, `offsets`, `groups` (with the
//! `coordinator` state machine), `topics` and `configs` (with `topic_configs`, the one table
//! of Kafka topic configs).

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod broker;
mod codec;
mod config;
mod configs;
mod connection;
mod coordinator;
mod decompress;
mod dispatch;
mod error;
mod fetch;
mod groups;
mod idempotence;
mod metadata;
mod offsets;
mod produce;
mod records;
mod sasl;
mod topic_configs;
mod topics;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_log::Log;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use config::{AuthToken, KafkaConfig};
pub use error::{Error, Result};

/// How often group sessions and rebalance deadlines are checked.
const COORDINATOR_TICK: Duration = Duration::from_millis(250);

/// Serves the Kafka protocol on `listener` over `log` until `shutdown` completes; then every
/// connection is closed (requests in flight are abandoned: an unacknowledged produce may
/// or may not have been appended, as with any broker that goes away).
///
/// # Errors
/// None in practice: failed accepts (out of file descriptors, …) are logged and retried, and
/// a connection's errors end only that connection (logged).
pub async fn serve(
    listener: TcpListener,
    log: Arc<Log>,
    config: KafkaConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let broker = broker::Broker::new(log, config);
    let mut connections = JoinSet::new();
    let mut tick = tokio::time::interval(COORDINATOR_TICK);
    tokio::pin!(shutdown);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving the Kafka protocol");
    }
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => {
                broker.coordinator.tick(Instant::now());
                broker.producers.expire(Instant::now());
            }
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::error!(error = %e, "accepting a Kafka connection failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::warn!(%peer, limit = broker.config.max_connections, "too many Kafka connections: closing the new one");
                    continue;
                };
                let broker = Arc::clone(&broker);
                connections.spawn(async move {
                    match connection::serve_connection(broker, stream, peer).await {
                        Ok(()) => tracing::debug!(%peer, "Kafka client disconnected"),
                        Err(Error::Io { .. }) => tracing::debug!(%peer, "Kafka connection dropped"),
                        Err(e) => tracing::warn!(%peer, error = %e, "closed a Kafka connection"),
                    }
                    drop(slot);
                });
            }
        }
    }
    connections.shutdown().await;
    Ok(())
}

/// Entry points of the fuzz targets (`crates/strata-kafka/fuzz`), compiled only under
/// `cfg(fuzzing)`, which cargo-fuzz sets: not part of the crate's API.
#[cfg(fuzzing)]
pub mod fuzzing {
    use bytes::Bytes;

    /// Decodes one request frame (the bytes after its size field) as a connection does: the
    /// fixed prefix, then header and body for a supported API and version.
    pub fn decode_request(frame: &[u8]) {
        let frame = Bytes::copy_from_slice(frame);
        if let Some(prefix) = crate::codec::Prefix::peek(&frame) {
            let _ = crate::codec::decode(frame, prefix);
        }
    }

    /// Converts the `records` field of one partition of a produce request as the produce path
    /// does: framing, CRC-32C, decompression (within the default node's budget), records,
    /// headers.
    pub fn produced_records(records: &[u8]) {
        let budget = crate::KafkaConfig::default().max_request_bytes;
        let _ = crate::records::produced_to_strata(&Bytes::copy_from_slice(records), 0, budget);
    }
}
