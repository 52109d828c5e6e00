//! A view's changelog as clients read it: its rows from an offset on, with tombstones as
//! deletions and a Lambda view's rows as the serving layer answers them now.

use std::collections::HashMap;

use serde_json::Value;
use strata_engine::ViewPlan;
use strata_engine::json_lines;
use strata_engine::plan::WindowSpec;
use strata_log::{ReadLimits, Topic};
use strata_views::engine::Engine;

use crate::error::Result;
use crate::merge::{self, Selection};

/// Most changelog records one read of a stream that tails a changelog takes.
pub const TAIL_BATCH: u64 = 5_000;

/// A changelog record: offset, key (the group key and window start, as JSON), value.
type ChangelogRow = (u64, Option<Vec<u8>>, Vec<u8>);

/// One change of a view's rows, as a change stream sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A row, new or updated: its changelog offset and the row as a JSON object.
    Update {
        /// Its changelog offset.
        offset: u64,
        /// The row, a JSON object.
        row: Vec<u8>,
    },
    /// A row that is gone (a view reading a table): its changelog offset and its key.
    Delete {
        /// Its changelog offset.
        offset: u64,
        /// The row's key, as JSON.
        key: Vec<u8>,
    },
}

impl Change {
    /// Its changelog offset.
    pub fn offset(&self) -> u64 {
        match self {
            Change::Update { offset, .. } | Change::Delete { offset, .. } => *offset,
        }
    }
}

/// Up to `max` changes of view `plan` from changelog offset `next` on (nothing while `next`
/// is past the end: the view cut its output back to a checkpoint and will write the same
/// rows again). A Lambda view's updates carry its group as the serving layer answers it now.
///
/// # Errors
/// Reading the changelog fails, or merging a Lambda view's group does.
pub fn read_changes(
    engine: &Engine,
    plan: &ViewPlan,
    changelog: &Topic,
    next: u64,
    max: u64,
) -> Result<Vec<Change>> {
    let rows = read_keyed(changelog, next, max)?;
    // Tombstones (a key, an empty value): a group that is gone, sent as its key.
    let deleted: HashMap<u64, Vec<u8>> = rows
        .iter()
        .filter(|(_, _, value)| value.is_empty())
        .filter_map(|(offset, key, _)| Some((*offset, key.clone()?)))
        .collect();
    Ok(merged_updates(engine, plan, rows)?
        .into_iter()
        .map(|(offset, row)| match deleted.get(&offset) {
            Some(key) => Change::Delete {
                offset,
                key: key.clone(),
            },
            None => Change::Update { offset, row },
        })
        .collect())
}

/// Up to `max` values of a changelog from `next` on, as (offset, JSON object); a tombstone
/// (a row that is gone, from a view reading a table) becomes its key with
/// `"_deleted": true`, so every value is a JSON object.
///
/// # Errors
/// Reading the changelog fails.
pub fn read_rows(changelog: &Topic, next: u64, max: u64) -> Result<Vec<(u64, Vec<u8>)>> {
    let rows = read_keyed(changelog, next, max)?;
    Ok(rows
        .into_iter()
        .map(|(offset, key, value)| match key {
            Some(key) if value.is_empty() => {
                let mut deleted = match serde_json::from_slice::<Value>(&key) {
                    Ok(Value::Object(fields)) => fields,
                    _ => serde_json::Map::new(),
                };
                deleted.insert("_deleted".into(), Value::Bool(true));
                (offset, Value::Object(deleted).to_string().into_bytes())
            }
            _ => (offset, value),
        })
        .collect())
}

/// Up to `max` changelog records from `next` on; nothing while `next` is past the end.
fn read_keyed(topic: &Topic, next: u64, max: u64) -> Result<Vec<ChangelogRow>> {
    let part = topic.partition(0)?;
    if next >= part.end_offset() {
        return Ok(Vec::new());
    }
    let fetch = part.read(
        next.max(part.start_offset()),
        ReadLimits {
            max_records: max,
            max_bytes: 4 * 1024 * 1024,
        },
    )?;
    fetch
        .records()
        .map(|r| {
            let r = r?;
            Ok((r.offset, r.key.map(<[u8]>::to_vec), r.value.to_vec()))
        })
        .collect()
}

/// For a Lambda view, each changelog row's group as the serving layer answers it now (batch
/// view ⊕ speed partials; the speed layer's row differs from it by the late records a batch
/// run has counted since). Rows of other views, session windows (a session's extent may
/// change in the merge) and rows whose group no longer passes HAVING stay as written.
fn merged_updates(
    engine: &Engine,
    plan: &ViewPlan,
    rows: Vec<ChangelogRow>,
) -> Result<Vec<(u64, Vec<u8>)>> {
    let sessions = matches!(plan.window, Some(WindowSpec::Session { .. }));
    if !plan.merges_batch() || sessions {
        return Ok(rows.into_iter().map(|(o, _, v)| (o, v)).collect());
    }
    let mut merged: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (offset, key, value) in rows {
        let Some(key) = key else {
            out.push((offset, value));
            continue;
        };
        if !merged.contains_key(&key) {
            let now = merged_row(engine, plan, &key)?;
            merged.insert(key.clone(), now);
        }
        let row = merged.get(&key).cloned().flatten().unwrap_or(value);
        out.push((offset, row));
    }
    Ok(out)
}

/// The merged row of the group a changelog key names (`None` when it has none).
fn merged_row(engine: &Engine, plan: &ViewPlan, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let Ok(Value::Object(key)) = serde_json::from_slice::<Value>(key) else {
        return Ok(None);
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let values: Option<Vec<String>> = plan
        .group_by
        .iter()
        .map(|(name, _)| key.get(name).map(text))
        .collect();
    let start = key.get("window_start").and_then(Value::as_i64);
    let selection = Selection {
        key: values,
        from: start,
        to: start.map(|s| s.saturating_add(1)),
    };
    let answer = merge::query(engine, plan, &selection)?;
    Ok(json_lines(&answer.rows)?.into_iter().next())
}
