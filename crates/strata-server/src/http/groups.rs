//! Consumer groups: `GET /v1/groups`, `GET|DELETE /v1/groups/{group}`, committing and
//! resetting offsets, and group fetches (`GET /v1/groups/{group}/topics/{topic}/records`,
//! with Kafka's auto-commit).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;
use strata_log::names::validate_name;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{
    DEFAULT_FETCH_RECORDS, Params, RawBody, RawQuery, blocking, body_bytes, json_sorted,
    parse_json_body,
};
use super::reads::{fetch_response, read_waiting};
use super::state::AppState;
use crate::api::groups::{
    CommitOffsets, Committed, Group, GroupPartition, GroupSummary, Groups, ResetGroup,
};
use crate::api::records::Fetched;
use crate::api::topics::Deleted;
use crate::api::{ErrorBody, PartitionOffset};
use crate::catalog::{Catalog, TopicEntry};
use crate::error::{Error, Result};
use crate::fetch::{self, Framing, Start};
use crate::time::{TIME_FORMS, now_ms, parse_time};

/// The routes of consumer groups.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups))
        .routes(routes!(describe_group, delete_group))
        .routes(routes!(commit_offsets))
        .routes(routes!(reset_group))
        .routes(routes!(group_fetch))
}

/// List consumer groups with the topics they read and their total lag.
#[utoipa::path(get, path = "/v1/groups", tag = "groups",
    responses((status = 200, description = "Every group.", body = Groups)))]
async fn list_groups(State(state): State<AppState>) -> Result<Response> {
    let log = state.catalog.log();
    let groups = log
        .groups()
        .groups()
        .into_iter()
        .map(|g| {
            let lags = log.group_lag(&g).unwrap_or_default();
            let topics: std::collections::BTreeSet<&str> =
                lags.iter().map(|l| l.topic.as_str()).collect();
            GroupSummary {
                topics: topics.into_iter().map(str::to_owned).collect(),
                lag: lags.iter().map(|l| l.lag).sum(),
                group: g,
            }
        })
        .collect();
    json_sorted(&Groups { groups })
}

/// A group's committed offset and lag per partition.
#[utoipa::path(get, path = "/v1/groups/{group}", tag = "groups",
    params(("group" = String, Path, description = "Consumer group name.")),
    responses(
        (status = 200, description = "The group.", body = Group),
        (status = 404, description = "No such group (`unknown_group`).", body = ErrorBody),
    ))]
async fn describe_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Response> {
    check_group_name(&group)?;
    let log = state.catalog.log();
    let lags = log.group_lag(&group)?;
    let committed = log.groups().offsets(&group)?;
    let partitions = lags
        .iter()
        .map(|l| GroupPartition {
            topic: l.topic.clone(),
            partition: l.partition,
            committed: l.committed,
            end_offset: l.end_offset,
            lag: l.lag,
            committed_at_ms: committed
                .iter()
                .find(|(t, p, _)| *t == l.topic && *p == l.partition)
                .map(|(_, _, c)| c.committed_at_ms),
        })
        .collect();
    json_sorted(&Group {
        lag: lags.iter().map(|l| l.lag).sum(),
        group,
        partitions,
    })
}

/// Delete a group and its committed offsets.
#[utoipa::path(delete, path = "/v1/groups/{group}", tag = "groups",
    params(("group" = String, Path, description = "Consumer group name.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted.", body = Deleted),
        (status = 404, description = "No such group.", body = ErrorBody),
    ))]
async fn delete_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Response> {
    check_group_name(&group)?;
    let catalog = Arc::clone(&state.catalog);
    let g = group.clone();
    blocking(move || Ok(catalog.log().groups().delete_group(&g)?)).await?;
    state.catalog.forget_sessions(&group, None);
    json_sorted(&Deleted { deleted: group })
}

/// Commit offsets: per partition, the next offset the group reads.
#[utoipa::path(post, path = "/v1/groups/{group}/offsets", tag = "groups",
    params(("group" = String, Path, description = "Consumer group name.")),
    request_body = CommitOffsets,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Committed.", body = Committed),
        (status = 400, description = "Bad input: the message says what to fix.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "No such topic or partition.", body = ErrorBody),
        (status = 416, description = "An offset past the end.", body = ErrorBody),
    ))]
async fn commit_offsets(
    State(state): State<AppState>,
    Path(group): Path<String>,
    body: RawBody,
) -> Result<Response> {
    check_group_name(&group)?;
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let req: CommitOffsets = parse_json_body(
        &body,
        r#"{"topic": "orders", "offsets": [{"partition": 0, "offset": 42}]}"#,
    )?;
    let entry = state.catalog.topic(&req.topic)?;
    if req.offsets.is_empty() {
        return Err(Error::bad_request(
            "bad_json",
            "offsets is empty: list at least one {\"partition\": P, \"offset\": O}",
        ));
    }
    for o in &req.offsets {
        let part = entry.topic.partition(o.partition)?;
        let end = part.end_offset();
        if o.offset > end {
            return Err(Error::Log(strata_log::Error::OffsetOutOfRange {
                offset: o.offset,
                start: part.start_offset(),
                end,
            }));
        }
    }
    let catalog = Arc::clone(&state.catalog);
    let g = group.clone();
    let offsets = req.offsets.clone();
    let topic = req.topic.clone();
    blocking(move || {
        let triples: Vec<(&str, u32, u64)> = offsets
            .iter()
            .map(|o| (topic.as_str(), o.partition, o.offset))
            .collect();
        catalog.log().groups().commit(&g, &triples)?;
        Ok(())
    })
    .await?;
    json_sorted(&Committed {
        group,
        topic: req.topic,
        committed: req.offsets,
    })
}

/// Move a group's offsets to `earliest`, `latest`, an offset or a time; its auto-commit
/// position restarts from them.
#[utoipa::path(post, path = "/v1/groups/{group}/reset", tag = "groups",
    params(("group" = String, Path, description = "Consumer group name.")),
    request_body = ResetGroup,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The offsets committed.", body = Committed),
        (status = 400, description = "Bad input: the message says what to fix.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "No such topic or partition.", body = ErrorBody),
        (status = 416, description = "Offset outside the range.", body = ErrorBody),
    ))]
async fn reset_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
    body: RawBody,
) -> Result<Response> {
    check_group_name(&group)?;
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let req: ResetGroup = parse_json_body(&body, RESET_EXAMPLE)?;
    let entry = state.catalog.topic(&req.topic)?;
    let start = reset_start(&req)?;
    let partitions = match req.partitions {
        None => (0..entry.topic.partition_count()).collect(),
        Some(ps) => {
            for p in &ps {
                entry.topic.partition(*p)?;
            }
            ps
        }
    };
    let catalog = Arc::clone(&state.catalog);
    let (g, e) = (group.clone(), Arc::clone(&entry));
    let offsets = blocking(move || {
        let offsets = fetch::resolve(&e.topic, &partitions, start)?;
        let triples: Vec<(&str, u32, u64)> = offsets
            .iter()
            .map(|(p, o)| (e.topic.name(), *p, *o))
            .collect();
        catalog.log().groups().commit(&g, &triples)?;
        Ok(offsets)
    })
    .await?;
    state.catalog.forget_sessions(&group, Some(&req.topic));
    json_sorted(&Committed {
        group,
        topic: req.topic,
        committed: offsets
            .into_iter()
            .map(|(partition, offset)| PartitionOffset { partition, offset })
            .collect(),
    })
}

/// Fetch as a consumer group. With `auto_commit` (the default) a fetch first commits what
/// the group's earlier fetches delivered, like Kafka's auto-commit; without, it reads from
/// the committed offsets and the client commits.
#[utoipa::path(get, path = "/v1/groups/{group}/topics/{topic}/records", tag = "groups",
    params(
        ("group" = String, Path, description = "Consumer group name."),
        ("topic" = String, Path, description = "Topic name."),
        ("partition" = Option<u32>, Query, description = "Only this partition."),
        ("max" = Option<u64>, Query, description = "Most records (default 500, at most 100000)."),
        ("wait_ms" = Option<u64>, Query, description = "Long-poll up to this long (at most 60000)."),
        ("auto_commit" = Option<bool>, Query, description = "Default true."),
        ("reset" = Option<String>, Query, description = "Where to start without a usable commit: `earliest` (default) or `latest`."),
        ("format" = Option<String>, Query, description = "`auto`, `text` or `base64`."),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The records, with `group`.", body = Fetched),
        (status = 400, description = "Bad input: the message says what to fix.", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token (group fetches commit).", body = ErrorBody),
        (status = 404, description = "No such topic or partition.", body = ErrorBody),
    ))]
async fn group_fetch(
    State(state): State<AppState>,
    Path((group, topic)): Path<(String, String)>,
    query: RawQuery,
) -> Result<Response> {
    let params = Params::new(
        query,
        &[
            "partition",
            "max",
            "wait_ms",
            "auto_commit",
            "reset",
            "format",
        ],
    )?;
    check_group_name(&group)?;
    let entry = state.catalog.topic(&topic)?;
    let partitions = params.partitions(&entry)?;
    let format = params.format()?;
    let wait = params.wait()?;
    let max = params.max(DEFAULT_FETCH_RECORDS)?;
    let auto_commit = params.bool("auto_commit", true)?;
    let reset = reset_of(&params)?;
    let catalog = Arc::clone(&state.catalog);

    if !auto_commit {
        let (c, g, e) = (Arc::clone(&catalog), group.clone(), Arc::clone(&entry));
        let positions =
            blocking(move || committed_positions(&c, &g, &e, &partitions, reset)).await?;
        let out = read_waiting(&entry, positions, max, format, Framing::JsonArray, wait).await?;
        return Ok(fetch_response(&entry, out, Some(&group)));
    }

    // Kafka's auto-commit: a fetch commits what the previous fetches delivered (the client
    // coming back for more means it has processed them), then delivers the next records.
    let session = catalog.session(&group, &topic);
    let mut session = session.lock().await;
    if catalog.session_expired(session.last_fetch) {
        session.positions = None;
    }
    let all: Vec<u32> = (0..entry.topic.partition_count()).collect();
    let positions = match session.positions.clone() {
        Some(p) => p,
        None => {
            let (c, g, e) = (Arc::clone(&catalog), group.clone(), Arc::clone(&entry));
            blocking(move || committed_positions(&c, &g, &e, &all, reset))
                .await?
                .into_iter()
                .collect()
        }
    };
    let delivered: Vec<(u32, u64)> = positions.iter().map(|(p, o)| (*p, *o)).collect();
    commit_delivered(&catalog, &group, &topic, delivered).await?;
    let read_from: Vec<(u32, u64)> = partitions
        .iter()
        .map(|p| (*p, positions.get(p).copied().unwrap_or(0)))
        .collect();
    let out = read_waiting(&entry, read_from, max, format, Framing::JsonArray, wait).await?;
    let mut positions = positions;
    for (p, o) in &out.next {
        positions.insert(*p, *o);
    }
    session.positions = Some(positions);
    session.last_fetch = Some(Instant::now());
    Ok(fetch_response(&entry, out, Some(&group)))
}

/// Where a group starts in a partition it has no usable commit for.
#[derive(Debug, Clone, Copy)]
enum Reset {
    Earliest,
    Latest,
}

const RESET_EXAMPLE: &str = r#"{"topic": "orders", "to": "earliest"} (or "to": "latest", "to": "offset" with "offset": N, "to": "timestamp" with "timestamp": "2024-05-01T00:00:00Z"; optional "partitions": [0, 1])"#;

/// Where a reset moves the group to.
fn reset_start(req: &ResetGroup) -> Result<Start> {
    Ok(match (req.to.as_str(), req.offset, &req.timestamp) {
        ("earliest", None, None) => Start::Earliest,
        ("latest", None, None) => Start::Latest,
        ("offset", Some(o), None) => Start::Offset(o),
        ("timestamp", None, Some(t)) => {
            let ms = match t {
                Value::Number(n) => n.as_i64().ok_or_else(|| {
                    Error::bad_request("bad_json", format!("timestamp must be {TIME_FORMS}"))
                })?,
                Value::String(s) => parse_time(s, now_ms())
                    .map_err(|e| Error::bad_request("bad_json", format!("timestamp: {e}")))?,
                _ => {
                    return Err(Error::bad_request(
                        "bad_json",
                        format!("timestamp must be {TIME_FORMS}"),
                    ));
                }
            };
            Start::Timestamp(ms)
        }
        _ => {
            return Err(Error::bad_request(
                "bad_json",
                format!("cannot tell where to reset to; the body should look like {RESET_EXAMPLE}"),
            ));
        }
    })
}

/// Where a group fetch starts in a partition without a usable commit (`reset`).
fn reset_of(params: &Params) -> Result<Reset> {
    match params.get("reset") {
        None | Some("earliest") => Ok(Reset::Earliest),
        Some("latest") => Ok(Reset::Latest),
        Some(v) => Err(Error::bad_request(
            "bad_query",
            format!("reset must be earliest or latest, not {v:?}"),
        )),
    }
}

/// Commits the positions the previous fetches of a session delivered up to, where they
/// differ from the group's commits (and creates the group on its first fetch).
async fn commit_delivered(
    catalog: &Arc<Catalog>,
    group: &str,
    topic: &str,
    delivered: Vec<(u32, u64)>,
) -> Result<()> {
    let (c, g, t) = (Arc::clone(catalog), group.to_owned(), topic.to_owned());
    blocking(move || {
        let groups = c.log().groups();
        let exists = groups.groups().contains(&g);
        let changed: Vec<(&str, u32, u64)> = delivered
            .iter()
            .filter(|(p, o)| groups.committed(&g, &t, *p).map(|c| c.offset) != Some(*o))
            .map(|(p, o)| (t.as_str(), *p, *o))
            .collect();
        if !changed.is_empty() || !exists {
            groups.commit(&g, &changed)?;
        }
        Ok(())
    })
    .await
}

/// The offsets a group reads from next: its commits, or `reset` where it has none (or the
/// commit is outside the partition's range, e.g. after retention).
fn committed_positions(
    catalog: &Catalog,
    group: &str,
    entry: &TopicEntry,
    partitions: &[u32],
    reset: Reset,
) -> Result<Vec<(u32, u64)>> {
    let groups = catalog.log().groups();
    partitions
        .iter()
        .map(|&p| {
            let part = entry.topic.partition(p)?;
            let (start, end) = (part.start_offset(), part.end_offset());
            let fallback = match reset {
                Reset::Earliest => start,
                Reset::Latest => end,
            };
            let offset = match groups.committed(group, entry.topic.name(), p) {
                Some(c) if (start..=end).contains(&c.offset) => c.offset,
                _ => fallback,
            };
            Ok((p, offset))
        })
        .collect()
}

/// A 400 for a group name the log would not take.
fn check_group_name(group: &str) -> Result<()> {
    validate_name("group", group).map_err(Error::Log)
}
