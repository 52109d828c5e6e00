//! Where a view without a checkpoint starts reading its source: the beginning (what every
//! view created by SQL does), given offsets, or a point in time. Replay (Kappa) starts new
//! view versions this way; a view with a checkpoint always resumes from the checkpoint.

use serde::{Deserialize, Serialize};
use strata_log::Topic;

use strata_engine::error::Result;

/// A start position in a source topic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Each partition's first retained record.
    #[default]
    Beginning,
    /// These offsets, as `(partition, offset)`; partitions not named start at their
    /// beginning.
    Offsets(Vec<(u32, u64)>),
    /// In each partition, the first record whose timestamp is at or after this time (ms);
    /// the end of a partition that has none yet.
    Time(i64),
}

impl StartAt {
    /// The offset to start at in each partition of `topic`, each kept within the partition's
    /// retained range (an offset below the start is moved up to it, one past the end down to
    /// the end).
    ///
    /// # Errors
    /// A batch that fails its CRC on the way to a time.
    pub fn positions(&self, topic: &Topic) -> Result<Vec<u64>> {
        topic
            .partitions()
            .iter()
            .map(|p| {
                let wanted = match self {
                    StartAt::Beginning => p.start_offset(),
                    StartAt::Offsets(offsets) => offsets
                        .iter()
                        .find(|(id, _)| *id == p.id())
                        .map_or(p.start_offset(), |(_, o)| *o),
                    StartAt::Time(ms) => p.offset_for_timestamp(*ms)?.unwrap_or(p.end_offset()),
                };
                Ok(wanted.clamp(p.start_offset(), p.end_offset()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_log::{BatchBuilder, Durability, Log, LogOptions, TopicConfig};

    #[test]
    fn positions_follow_the_spec_and_stay_in_range() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(
            dir.path(),
            LogOptions {
                maintenance_tick: None,
                ..LogOptions::default()
            },
        )
        .unwrap();
        let topic = log
            .create_topic(
                "t",
                2,
                TopicConfig {
                    durability: Durability::Never,
                    ..TopicConfig::default()
                },
            )
            .unwrap();
        for p in 0..2u32 {
            let mut b = BatchBuilder::new();
            for i in 0..10i64 {
                b.push(None, b"{}", 1000 + i * 10, std::iter::empty());
            }
            topic.append(p, b.finish().unwrap()).unwrap();
        }
        assert_eq!(StartAt::Beginning.positions(&topic).unwrap(), vec![0, 0]);
        assert_eq!(
            StartAt::Offsets(vec![(1, 4), (0, 99)])
                .positions(&topic)
                .unwrap(),
            vec![10, 4]
        );
        assert_eq!(StartAt::Time(1035).positions(&topic).unwrap(), vec![4, 4]);
        assert_eq!(StartAt::Time(5000).positions(&topic).unwrap(), vec![10, 10]);
        assert_eq!(StartAt::Time(0).positions(&topic).unwrap(), vec![0, 0]);
    }
}
