//! Replay (Kappa) and view versions: starting a replay, its progress, an alias's versions,
//! promoting one and dropping one.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strata_views::replay as engine;
use utoipa::ToSchema;

use super::records::PartitionOffset;

/// `POST /v1/replays`: a view into a new version (`"kind": "view"`), or a topic's history
/// into another topic (`"kind": "topic"`). Times are ms since the epoch, RFC 3339, or
/// relative (`-1h`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReplayRequest {
    /// Rebuild a view (or alias) from its source's history into a new version.
    View {
        /// The view or alias.
        view: String,
        /// Start at each partition's beginning (the default).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        from_beginning: bool,
        /// Start at these offsets.
        #[serde(skip_serializing_if = "Option::is_none")]
        from_offsets: Option<Vec<PartitionOffset>>,
        /// Start at the first record at or after this time.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<String>)]
        from_time: Option<Value>,
        /// A new definition (a SELECT), when it changes.
        #[serde(skip_serializing_if = "Option::is_none")]
        sql: Option<String>,
        /// The new version's name.
        #[serde(rename = "as", skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// `auto` (default: promote once caught up) or `manual`.
        #[serde(skip_serializing_if = "Option::is_none")]
        promote: Option<String>,
        /// Promote automatically once the version's lag is under this many records.
        #[serde(skip_serializing_if = "Option::is_none")]
        promote_when_lag_under: Option<u64>,
    },
    /// Copy a topic's history (a time range, records matching a predicate) into another.
    Topic {
        /// The source topic.
        source: String,
        /// The destination topic.
        to: String,
        /// Only records at or after this time.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<String>)]
        from_time: Option<Value>,
        /// Only records before this time.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<String>)]
        to_time: Option<Value>,
        /// Only records matching this SQL predicate.
        #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
        predicate: Option<String>,
    },
}

/// `POST /v1/views/{view}/promote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// The version: its view name, its number (`2`) or `v2`.
    pub version: String,
}

/// `GET /v1/replays`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Replays {
    /// Every replay, finished ones too.
    pub replays: Vec<ReplayProgress>,
}

/// A replay and its progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReplayProgress {
    /// Its id.
    pub id: u64,
    /// What it does.
    #[serde(flatten)]
    pub spec: ReplaySpec,
    /// Where it is.
    pub status: ReplayStatus,
    /// History records read so far.
    pub processed: u64,
    /// History records to read.
    pub total: u64,
    /// `processed / total`, in percent.
    pub percent: f64,
    /// Records read per second over the last seconds.
    pub records_per_s: f64,
    /// Seconds until history is read at that rate, when known.
    pub eta_s: Option<f64>,
    /// A view replay's lag: source records its version has not read yet.
    pub lag: Option<u64>,
    /// A topic replay's counts so far.
    pub counts: Option<CopyCounts>,
    /// When it began (ms since the epoch).
    pub created_ms: i64,
    /// When it ended.
    pub finished_ms: Option<i64>,
    /// Why it failed or was cancelled.
    pub message: Option<String>,
}

/// What a replay does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplaySpec {
    /// A view into a new version.
    View {
        /// The alias.
        alias: String,
        /// The new version's view name.
        version: String,
        /// Promoted when its lag is under this many records; `null`: by command only.
        promote_when_lag_under: Option<u64>,
        /// Per partition, the first offset read.
        start: Vec<u64>,
        /// Per partition, the end offset when the replay began: history ends there.
        target: Vec<u64>,
        /// The new definition, when it changed.
        sql: Option<String>,
    },
    /// A topic into another.
    Topic {
        /// The source topic.
        source: String,
        /// The destination topic.
        dest: String,
        /// Only records at or after this time (ms).
        from_time: Option<i64>,
        /// Only records before this time (ms).
        to_time: Option<i64>,
        /// Only records matching this SQL predicate.
        predicate: Option<String>,
        /// Per source partition, the first offset read.
        start: Vec<u64>,
        /// Per source partition, the end offset when the replay began.
        end: Vec<u64>,
    },
}

/// Where a replay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayStatus {
    /// Reading history.
    Running,
    /// A view replay that has read the history and waits to be promoted.
    CaughtUp,
    /// A view replay whose version now answers for its alias.
    Promoted,
    /// A topic replay that copied everything.
    Done,
    /// Cancelled; an unpromoted version was dropped.
    Cancelled,
    /// Stopped by an error (see the message).
    Failed,
}

/// Exact counts of a topic replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CopyCounts {
    /// Source records read.
    pub read: u64,
    /// Records written to the destination.
    pub copied: u64,
    /// Records left out by the time range or the predicate.
    pub filtered_out: u64,
    /// Records left out because they do not match the source's schema.
    pub invalid: u64,
}

/// `GET /v1/views/{view}/versions`: an alias's versions and which one answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Versions {
    /// The alias (or the view's own name when it was never replayed).
    pub alias: String,
    /// The view of the current version.
    pub current: String,
    /// Every version, oldest first.
    pub versions: Vec<Version>,
}

/// A version of a view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Version {
    /// 1 for the view as first created, then 2, 3, …
    pub number: u32,
    /// The view that is this version.
    pub view: String,
    /// When it was made (ms since the epoch; 0 for the first version).
    pub created_ms: i64,
    /// Where it started reading its source.
    pub start: StartAt,
}

/// Where a version started reading its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Each partition's first retained record.
    Beginning,
    /// These `[partition, offset]` pairs.
    Offsets(Vec<(u32, u64)>),
    /// The first record at or after this time (ms).
    Time(i64),
}

/// `POST /v1/views/{view}/promote`: what the promotion switched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Promotion {
    /// The alias.
    pub alias: String,
    /// The version that answered before.
    pub from: String,
    /// The version that answers now.
    pub to: String,
}

/// `DELETE /v1/views/{view}/versions/{version}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DroppedVersion {
    /// The alias.
    pub alias: String,
    /// The version's view, dropped.
    pub dropped: String,
}

impl From<engine::ReplayProgress> for ReplayProgress {
    fn from(p: engine::ReplayProgress) -> Self {
        let engine::ReplayProgress {
            id,
            spec,
            status,
            processed,
            total,
            percent,
            records_per_s,
            eta_s,
            lag,
            counts,
            created_ms,
            finished_ms,
            message,
        } = p;
        ReplayProgress {
            id,
            spec: spec.into(),
            status: status.into(),
            processed,
            total,
            percent,
            records_per_s,
            eta_s,
            lag,
            counts: counts.map(Into::into),
            created_ms,
            finished_ms,
            message,
        }
    }
}

impl From<engine::ReplaySpec> for ReplaySpec {
    fn from(s: engine::ReplaySpec) -> Self {
        match s {
            engine::ReplaySpec::View {
                alias,
                version,
                promote_when_lag_under,
                start,
                target,
                sql,
            } => ReplaySpec::View {
                alias,
                version,
                promote_when_lag_under,
                start,
                target,
                sql,
            },
            engine::ReplaySpec::Topic {
                source,
                dest,
                from_time,
                to_time,
                predicate,
                start,
                end,
            } => ReplaySpec::Topic {
                source,
                dest,
                from_time,
                to_time,
                predicate,
                start,
                end,
            },
        }
    }
}

impl From<engine::ReplayStatus> for ReplayStatus {
    fn from(s: engine::ReplayStatus) -> Self {
        match s {
            engine::ReplayStatus::Running => ReplayStatus::Running,
            engine::ReplayStatus::CaughtUp => ReplayStatus::CaughtUp,
            engine::ReplayStatus::Promoted => ReplayStatus::Promoted,
            engine::ReplayStatus::Done => ReplayStatus::Done,
            engine::ReplayStatus::Cancelled => ReplayStatus::Cancelled,
            engine::ReplayStatus::Failed => ReplayStatus::Failed,
        }
    }
}

impl From<engine::CopyCounts> for CopyCounts {
    fn from(c: engine::CopyCounts) -> Self {
        let engine::CopyCounts {
            read,
            copied,
            filtered_out,
            invalid,
        } = c;
        CopyCounts {
            read,
            copied,
            filtered_out,
            invalid,
        }
    }
}

impl From<strata_views::versions::VersionsInfo> for Versions {
    fn from(v: strata_views::versions::VersionsInfo) -> Self {
        let strata_views::versions::VersionsInfo {
            alias,
            current,
            versions,
        } = v;
        Versions {
            alias,
            current,
            versions: versions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<strata_views::versions::Version> for Version {
    fn from(v: strata_views::versions::Version) -> Self {
        let strata_views::versions::Version {
            number,
            view,
            created_ms,
            start,
        } = v;
        Version {
            number,
            view,
            created_ms,
            start: match start {
                strata_views::start::StartAt::Beginning => StartAt::Beginning,
                strata_views::start::StartAt::Offsets(o) => StartAt::Offsets(o),
                strata_views::start::StartAt::Time(t) => StartAt::Time(t),
            },
        }
    }
}

impl From<strata_views::versions::Promotion> for Promotion {
    fn from(p: strata_views::versions::Promotion) -> Self {
        let strata_views::versions::Promotion { alias, from, to } = p;
        Promotion { alias, from, to }
    }
}
