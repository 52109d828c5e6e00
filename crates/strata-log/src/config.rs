//! Per-topic configuration: segment sizing, retention, durability and record limits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// When an append is made durable (fsynced) relative to its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// fsync before the append returns; concurrent appenders share one fsync (group commit).
    /// An acknowledged record survives kill -9 and power loss.
    #[default]
    Always,
    /// fsync in the background every `flush_interval_ms`. Survives kill -9 (the page cache
    /// outlives the process); a power loss may lose the last interval.
    Interval,
    /// Never fsync except when a segment rolls; the OS writes back when it likes.
    Never,
}

/// Configuration of one topic, fixed at creation and stored beside its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicConfig {
    /// Roll the active segment when it would grow past this many bytes.
    pub segment_bytes: u64,
    /// Roll the active segment when it is older than this (ms), so sealed segments arrive
    /// at a steady cadence even on a quiet topic.
    pub segment_ms: u64,
    /// Delete sealed segments whose newest record is older than this (ms); `None` keeps all.
    pub retention_ms: Option<u64>,
    /// Delete the oldest sealed segments while the partition is larger than this; `None` keeps all.
    pub retention_bytes: Option<u64>,
    /// The fsync policy.
    pub durability: Durability,
    /// Period of background fsyncs under [`Durability::Interval`] (ms).
    pub flush_interval_ms: u64,
    /// Largest accepted record, encoded (bytes).
    pub max_record_bytes: u64,
    /// Bytes between two sparse index entries.
    pub index_interval_bytes: u64,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            segment_bytes: 256 * 1024 * 1024,
            segment_ms: 10 * 60 * 1000,
            retention_ms: None,
            retention_bytes: None,
            durability: Durability::Always,
            flush_interval_ms: 1000,
            max_record_bytes: 1024 * 1024,
            index_interval_bytes: 4096,
        }
    }
}

/// Smallest segment accepted: tests use tiny segments to exercise rolls.
pub const MIN_SEGMENT_BYTES: u64 = 1024;
/// Largest segment: index entries hold 32-bit file positions.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 31;

impl TopicConfig {
    /// Checks that every value is in range.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field and its valid range.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidConfig(msg));
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            return bad(format!(
                "segment_bytes must be between {MIN_SEGMENT_BYTES} and {MAX_SEGMENT_BYTES}, not {}",
                self.segment_bytes
            ));
        }
        if self.segment_ms == 0 {
            return bad("segment_ms must be at least 1".into());
        }
        if self.flush_interval_ms == 0 {
            return bad("flush_interval_ms must be at least 1".into());
        }
        if self.max_record_bytes == 0 || self.max_record_bytes > self.segment_bytes {
            return bad(format!(
                "max_record_bytes must be between 1 and segment_bytes ({}), not {}; a record must fit in a segment",
                self.segment_bytes, self.max_record_bytes
            ));
        }
        if self.index_interval_bytes == 0 {
            return bad("index_interval_bytes must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_as_json() {
        let config = TopicConfig::default();
        config.validate().expect("defaults valid");
        let json = serde_json::to_string(&config).expect("serialize");
        let back: TopicConfig = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, config);
    }

    #[test]
    fn partial_json_fills_defaults_and_unknown_fields_are_rejected() {
        let c: TopicConfig =
            serde_json::from_str(r#"{"durability":"never","retention_ms":5}"#).expect("parse");
        assert_eq!(c.durability, Durability::Never);
        assert_eq!(c.retention_ms, Some(5));
        assert_eq!(c.segment_bytes, TopicConfig::default().segment_bytes);
        assert!(serde_json::from_str::<TopicConfig>(r#"{"segment_size":5}"#).is_err());
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let tiny = TopicConfig {
            segment_bytes: 10,
            ..TopicConfig::default()
        };
        assert!(tiny.validate().is_err());
        let huge_record = TopicConfig {
            segment_bytes: 4096,
            max_record_bytes: 4097,
            ..TopicConfig::default()
        };
        assert!(huge_record.validate().is_err());
    }
}
