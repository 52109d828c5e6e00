//! `strata-log`: the segmented, append-only, crash-safe log at the bottom of strata.
//!
//! A [`Log`] holds topics; a [`Topic`] holds partitions; a [`Partition`] is a directory of
//! segments named by their 20-digit base offset (`.log`, `.index`, `.timeindex`). One writer
//! appends record batches ([`BatchBuilder`]) to the active segment; many readers read whole,
//! published batches, zero-copy, from memory maps ([`Fetch`]). Durability is a per-topic policy
//! ([`Durability`]), recovery truncates torn tails and rebuilds indexes, retention drops whole
//! segments, and consumer groups keep durable committed offsets ([`GroupStore`]).
//!
//! The on-disk format is specified in `docs/format.md`; the publication protocol between the
//! writer and readers lives in [`publish`], group commit (how appends become durable and are
//! acknowledged) in [`commit`]; both are model-checked with loom (`tests/loom_*.rs`).

pub mod batch;
pub mod clock;
pub mod commit;
pub mod config;
mod error;
mod files;
pub mod fsutil;
pub mod groups;
mod index;
mod log;
mod maintenance;
pub mod names;
mod partition;
pub mod partitioner;
pub mod publish;
mod segment;
pub mod sync;
mod topic;

pub use batch::{BatchBuilder, BatchView, EncodedBatch, Header, Record, RecordView};
pub use clock::now_ms;
pub use config::{Durability, TopicConfig};
pub use error::{Error, Result};
pub use groups::{CommittedOffset, GroupStore};
pub use log::{GroupLag, Log, LogOptions};
pub use partition::{
    AppendInfo, Fetch, Partition, PartitionStats, ReadLimits, Records, SegmentInfo,
};
pub use topic::Topic;
