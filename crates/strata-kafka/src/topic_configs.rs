//! The Kafka topic configs that strata's [`TopicConfig`] can express, in one table read both
//! ways: CreateTopics sets a topic's fields from Kafka names ([`apply`]), DescribeConfigs reads
//! them back under the same names ([`TOPIC_CONFIGS`]). One table, so a config that can be set
//! can always be described, with the same spelling and the same units.

use strata_log::{Durability, TopicConfig};

/// Kafka's type of a config's value, as DescribeConfigs v3+ reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub(crate) enum ConfigType {
    /// `true` / `false`.
    Boolean = 1,
    /// Free text.
    String = 2,
    /// A 32-bit number.
    Int = 3,
    /// A 64-bit number.
    Long = 5,
    /// A comma-separated list.
    List = 7,
}

/// How a value is set from Kafka's text.
#[derive(Clone, Copy)]
pub(crate) enum Setter {
    /// Parsed into the topic's config; the error names what the value must be.
    Field(fn(&mut TopicConfig, &str) -> Result<(), String>),
    /// strata has one behaviour here: only its value is accepted (and changes nothing).
    Fixed(&'static str),
}

/// One Kafka topic config and the strata field behind it.
#[derive(Clone, Copy)]
pub(crate) struct TopicConfigEntry {
    /// The topic config's Kafka name.
    pub name: &'static str,
    /// The broker config that supplies its default in Kafka (its synonym), if Kafka has one.
    pub broker_name: Option<&'static str>,
    /// The value's type.
    pub kind: ConfigType,
    /// One line for DescribeConfigs' documentation field.
    pub doc: &'static str,
    /// The topic's value, written as Kafka writes it.
    pub get: fn(&TopicConfig) -> String,
    /// How CreateTopics sets it.
    pub set: Setter,
}

impl std::fmt::Debug for TopicConfigEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicConfigEntry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Kafka's "-1 = unlimited" spelling of an optional limit.
fn unlimited(v: Option<u64>) -> String {
    v.map_or_else(|| "-1".to_owned(), |n| n.to_string())
}

fn number(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .map_err(|_| format!("must be a number, not {value:?}"))
}

fn positive(value: &str) -> Result<u64, String> {
    u64::try_from(number(value)?).map_err(|_| "must not be negative".to_owned())
}

/// A negative number is Kafka's "unlimited".
fn or_unlimited(value: &str) -> Result<Option<u64>, String> {
    number(value).map(|n| u64::try_from(n).ok())
}

fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Always => "always",
        Durability::Interval => "interval",
        Durability::Never => "never",
    }
}

/// Every Kafka topic config strata understands. CreateTopics refuses any other name, so a
/// topic never silently ignores a setting.
pub(crate) const TOPIC_CONFIGS: &[TopicConfigEntry] = &[
    TopicConfigEntry {
        name: "cleanup.policy",
        broker_name: Some("log.cleanup.policy"),
        kind: ConfigType::List,
        doc: "Old segments are deleted by retention; strata does not compact.",
        get: |_| "delete".to_owned(),
        set: Setter::Fixed("delete"),
    },
    TopicConfigEntry {
        name: "compression.type",
        broker_name: Some("compression.type"),
        kind: ConfigType::String,
        doc: "Produced batches are decompressed and stored uncompressed, in strata's format.",
        get: |_| "uncompressed".to_owned(),
        set: Setter::Fixed("uncompressed"),
    },
    TopicConfigEntry {
        name: "flush.ms",
        broker_name: Some("log.flush.interval.ms"),
        kind: ConfigType::Long,
        doc: "Period of background fsyncs under strata.durability=interval (ms).",
        get: |c| c.flush_interval_ms.to_string(),
        set: Setter::Field(|c, v| {
            c.flush_interval_ms = positive(v)?;
            Ok(())
        }),
    },
    TopicConfigEntry {
        name: "index.interval.bytes",
        broker_name: Some("log.index.interval.bytes"),
        kind: ConfigType::Int,
        doc: "Bytes between two entries of a segment's sparse offset and time indexes.",
        get: |c| c.index_interval_bytes.to_string(),
        set: Setter::Field(|c, v| {
            c.index_interval_bytes = positive(v)?;
            Ok(())
        }),
    },
    TopicConfigEntry {
        name: "max.message.bytes",
        broker_name: Some("message.max.bytes"),
        kind: ConfigType::Int,
        doc: "Largest record accepted, encoded (strata checks each record; Kafka checks the batch).",
        get: |c| c.max_record_bytes.to_string(),
        set: Setter::Field(|c, v| {
            c.max_record_bytes = positive(v)?;
            Ok(())
        }),
    },
    TopicConfigEntry {
        name: "retention.bytes",
        broker_name: Some("log.retention.bytes"),
        kind: ConfigType::Long,
        doc: "Delete the oldest sealed segments while a partition is larger than this; -1 keeps all.",
        get: |c| unlimited(c.retention_bytes),
        set: Setter::Field(|c, v| {
            c.retention_bytes = or_unlimited(v)?;
            Ok(())
        }),
    },
    TopicConfigEntry {
        name: "retention.ms",
        broker_name: Some("log.retention.ms"),
        kind: ConfigType::Long,
        doc: "Delete sealed segments whose newest record is older than this (ms); -1 keeps all.",
        get: |c| unlimited(c.retention_ms),
        set: Setter::Field(|c, v| {
            c.retention_ms = or_unlimited(v)?;
            Ok(())
        }),
    },
    TopicConfigEntry {
        name: "segment.bytes",
        broker_name: Some("log.segment.bytes"),
        kind: ConfigType::Int,
        doc: "Roll the active segment when it would grow past this many bytes.",
        get: |c| c.segment_bytes.to_string(),
        set: Setter::Field(|c, v| {
            c.segment_bytes = positive(v)?;
            Ok(())
        }),
    },
    TopicConfigEntry {
        name: "segment.ms",
        broker_name: Some("log.roll.ms"),
        kind: ConfigType::Long,
        doc: "Roll the active segment when it is older than this (ms).",
        get: |c| c.segment_ms.to_string(),
        set: Setter::Field(|c, v| {
            c.segment_ms = positive(v)?;
            Ok(())
        }),
    },
    TopicConfigEntry {
        name: "strata.durability",
        broker_name: None,
        kind: ConfigType::String,
        doc: "When an append is fsynced: always (before acks=all is answered), interval or never.",
        get: |c| durability_name(c.durability).to_owned(),
        set: Setter::Field(|c, v| {
            c.durability = match v {
                "always" => Durability::Always,
                "interval" => Durability::Interval,
                "never" => Durability::Never,
                _ => return Err(format!("is always, interval or never, not {v:?}")),
            };
            Ok(())
        }),
    },
];

/// The table's entry for a Kafka topic config name.
pub(crate) fn entry(name: &str) -> Option<&'static TopicConfigEntry> {
    TOPIC_CONFIGS.iter().find(|e| e.name == name)
}

/// Applies one Kafka topic config to a strata [`TopicConfig`].
///
/// # Errors
/// A message naming the key and what it accepts, for unknown keys and bad values.
pub(crate) fn apply(config: &mut TopicConfig, key: &str, value: &str) -> Result<(), String> {
    let Some(e) = entry(key) else {
        let known: Vec<&str> = TOPIC_CONFIGS.iter().map(|e| e.name).collect();
        return Err(format!(
            "config {key}={value} is not supported; supported: {}",
            known.join(", ")
        ));
    };
    match e.set {
        Setter::Field(set) => set(config, value).map_err(|why| format!("{key} {why}")),
        Setter::Fixed(only) if value == only => Ok(()),
        Setter::Fixed(only) => Err(format!(
            "config {key}={value} is not supported: strata's {key} is always {only}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_configs_map_onto_strata_and_unknown_ones_are_named() {
        let mut c = TopicConfig::default();
        apply(&mut c, "retention.ms", "60000").expect("retention");
        apply(&mut c, "retention.bytes", "-1").expect("unlimited");
        apply(&mut c, "strata.durability", "never").expect("durability");
        apply(&mut c, "cleanup.policy", "delete").expect("the one policy");
        assert_eq!(c.retention_ms, Some(60_000));
        assert_eq!(c.retention_bytes, None);
        assert_eq!(c.durability, Durability::Never);
        let err = apply(&mut c, "cleanup.policy", "compact").expect_err("compaction");
        assert!(
            err.contains("cleanup.policy=compact is not supported"),
            "{err}"
        );
        let err = apply(&mut c, "segment.bytes", "-5").expect_err("negative");
        assert_eq!(err, "segment.bytes must not be negative");
        let err = apply(&mut c, "min.cleanable.dirty.ratio", "0.5").expect_err("unknown");
        assert!(err.contains("supported: cleanup.policy, "), "{err}");
    }

    /// Every settable config reads back as it was written: the two directions of the table
    /// cannot drift apart.
    #[test]
    fn every_config_reads_back_what_was_set() {
        let values = [
            ("flush.ms", "250"),
            ("index.interval.bytes", "8192"),
            ("max.message.bytes", "2048"),
            ("retention.bytes", "1000000"),
            ("retention.ms", "-1"),
            ("segment.bytes", "4096"),
            ("segment.ms", "60000"),
            ("strata.durability", "interval"),
            ("cleanup.policy", "delete"),
            ("compression.type", "uncompressed"),
        ];
        assert_eq!(values.len(), TOPIC_CONFIGS.len(), "a config without a case");
        let mut c = TopicConfig::default();
        for (key, value) in values {
            apply(&mut c, key, value).expect(key);
        }
        c.validate().expect("valid");
        for (key, value) in values {
            let e = entry(key).expect("in the table");
            assert_eq!((e.get)(&c), value, "{key}");
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, e) in TOPIC_CONFIGS.iter().enumerate() {
            assert!(
                TOPIC_CONFIGS[i + 1..].iter().all(|o| o.name != e.name),
                "{} twice",
                e.name
            );
        }
    }
}
