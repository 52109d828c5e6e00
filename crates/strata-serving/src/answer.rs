//! The general answer to a view query: the view's current rows (merged for a Lambda view),
//! selected as asked, written as the answer's JSON body with their provenance.

use arrow::array::RecordBatch;
use strata_engine::ViewPlan;
use strata_engine::json_lines;
use strata_views::engine::Engine;

use crate::body::{Provenance, write_head, write_tail};
use crate::error::{Error, Result};
use crate::merge::{self, Selection};
use crate::rows::{self, RowQuery};

/// The JSON body answering `q` on view (or alias) `asked`:
/// `{"view", "version", "columns", "rows", "count", "provenance"}`.
///
/// # Errors
/// [`Error::BadRequest`] for a question the view cannot answer (naming what it can),
/// [`Error::Engine`] for an unknown view, [`Error::Unavailable`] for a view that is not
/// running or not ready yet.
pub fn answer(engine: &Engine, asked: &str, q: &RowQuery) -> Result<Vec<u8>> {
    // One resolution per answer: an alias's current version answers it whole, so a
    // promotion during the request never mixes two versions.
    let view = engine
        .resolve(asked)
        .ok_or_else(|| Error::unknown_view(asked))?;
    let plan = engine
        .plan(&view)
        .ok_or_else(|| Error::unknown_view(asked))?;
    let (rows, stats) = match (current_rows(engine, &plan, q), engine.stats(&view)) {
        (Ok(b), Ok(s)) => (b, s),
        (Err(Error::Engine(strata_engine::Error::Unknown { .. })), _)
        | (_, Err(strata_engine::Error::Unknown { .. })) => {
            let why = engine
                .failure(&view)
                .unwrap_or_else(|| "it could not resume; see the node's log".into());
            return Err(Error::Unavailable(format!(
                "view {view} is not running: {why}"
            )));
        }
        (Err(e), _) => return Err(e),
        (_, Err(e)) => return Err(e.into()),
    };
    let (snapshot, served) = rows;
    if let Some(by) = &q.top_by {
        check_aggregate(&plan, by)?;
    }
    let selected = rows::select(&snapshot, &plan, q)?;
    let lines = json_lines(&selected)?;
    let provenance = Provenance::new(&plan, served.as_ref(), &stats, engine.failure(&view));
    let mut body = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 512);
    let columns = rows::columns_json(&selected).to_string();
    write_head(&mut body, asked, &plan.name, columns.as_bytes());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(line);
    }
    write_tail(&mut body, lines.len(), &provenance);
    Ok(body)
}

/// Rejects a top-N ranking by something that is not one of the view's aggregate columns.
fn check_aggregate(plan: &ViewPlan, by: &str) -> Result<()> {
    let aggregates: Vec<&str> = plan
        .output
        .iter()
        .filter(|(name, _)| !plan.group_by.iter().any(|(g, _)| g == name))
        .filter(|(name, _)| !rows::WINDOW_START_COLUMNS.contains(&name.as_str()))
        .filter(|(name, _)| !matches!(name.as_str(), "window_end" | "windowend"))
        .map(|(name, _)| name.as_str())
        .collect();
    if aggregates.contains(&by) {
        return Ok(());
    }
    Err(Error::bad_request(
        "bad_top",
        format!(
            "top-N ranks by an aggregate, and {by:?} is not one of view {}; its aggregates are {}",
            plan.name,
            if aggregates.is_empty() {
                "none".to_owned()
            } else {
                aggregates.join(", ")
            }
        ),
    ))
}

/// The view's rows to select from: for a Lambda view the merge of its batch view and the
/// speed layer's partials (narrowed to the asked key and window range before merging), with
/// where they come from; else the speed layer's current rows.
pub(crate) fn current_rows(
    engine: &Engine,
    plan: &ViewPlan,
    q: &RowQuery,
) -> Result<(RecordBatch, Option<merge::Provenance>)> {
    if !plan.merges_batch() {
        return Ok((engine.snapshot(&plan.name)?, None));
    }
    let selection = Selection {
        key: q.key.as_deref().and_then(|k| rows::key_values(plan, k)),
        from: q.from,
        to: q.to,
    };
    let answer = merge::query(engine, plan, &selection)?;
    Ok((answer.rows, Some(answer.provenance)))
}
