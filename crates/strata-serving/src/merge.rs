//! The merge itself: a scratch operator of the view's plan absorbs the speed layer's partials
//! and the batch view's state, selecting one key's groups (or a range of windows) first, so a
//! point lookup touches only that key's groups in each layer.

use std::collections::HashMap;
use std::sync::Arc;

use strata_log::sync::unmodelled::Mutex;

use arrow::array::RecordBatch;
use strata_batch::BatchEpoch;
use strata_engine::decode::source_schema;
use strata_engine::generations::{Coverage, Generation, Horizon};
use strata_engine::operator::{GroupFilter, GroupState, Lateness, ViewOperator};
use strata_engine::plan::ViewPlan;
use strata_views::engine::Engine;
use strata_views::streaming::{BatchHandle, SpeedPartials};

use crate::error::{Error, Result};

/// What a query selects before merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// One group key: a value per group key column, as text.
    pub key: Option<Vec<String>>,
    /// Windows starting at or after this (ms).
    pub from: Option<i64>,
    /// Windows starting before this (ms).
    pub to: Option<i64>,
}

/// The batch view an answer includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchSource {
    /// Its epoch.
    pub epoch: u64,
    /// Per partition, the offset below which it counts every record.
    pub horizon: Horizon,
    /// When its run finished (ms since the epoch).
    pub created_at_ms: i64,
}

/// Where an answer's numbers come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Provenance {
    /// The batch view merged in, if any.
    pub batch: Option<BatchSource>,
    /// The speed layer's generations merged in (partition, segment base offset).
    pub generations: Vec<Generation>,
}

impl Provenance {
    /// The layers that contributed: `batch` when a batch view was merged in, `speed` when
    /// speed-layer partials were (or no batch view exists yet).
    pub(crate) fn layers(&self) -> Vec<&'static str> {
        let mut layers = Vec::new();
        if self.batch.is_some() {
            layers.push("batch");
        }
        if !self.generations.is_empty() || self.batch.is_none() {
            layers.push("speed");
        }
        layers
    }
}

/// A merged answer.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The view's rows (HAVING applied after the merge), ordered by window then key.
    pub rows: RecordBatch,
    /// Where they come from.
    pub provenance: Provenance,
}

/// Hands a newly published batch view to its view's speed layer, which drops the
/// generations it covers. Returns false (and changes nothing) when the view is gone, is not
/// served as a Lambda view, was redefined since the batch run, or already has a batch view
/// covering more.
///
/// # Errors
/// [`Error::Engine`] only for engine failures other than an unknown view.
pub fn attach(engine: &Engine, epoch: &Arc<BatchEpoch>) -> Result<bool> {
    let horizon = epoch.horizon();
    let Some(plan) = engine.plan(&horizon.view) else {
        return Ok(false);
    };
    if !plan.merges_batch() || horizon.plan != plan {
        return Ok(false);
    }
    let partials = match engine.partials(&plan.name) {
        Ok(Some(p)) => p,
        Ok(None) | Err(strata_engine::Error::Unknown { .. }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let coverage = Coverage {
        epoch: epoch.epoch(),
        horizon: horizon
            .partitions
            .iter()
            .map(|h| (h.partition, h.offset))
            .collect(),
        batch: Arc::clone(epoch) as BatchHandle,
    };
    match partials.cover(coverage) {
        Ok(dropped) => {
            tracing::info!(view = %plan.name, epoch = epoch.epoch(), dropped = dropped.len(), "batch view handed over to the serving layer");
            Ok(true)
        }
        Err(stale) => {
            tracing::warn!(view = %plan.name, epoch = epoch.epoch(), ?stale, "batch view covers less than the one served; kept the served one");
            Ok(false)
        }
    }
}

/// The merged rows of a Lambda view (`plan.merges_batch()`) that `selection` asks for:
/// batch view ⊕ the partials of the generations it has not covered. Compiles a scratch
/// operator for this one answer; [`Scratch`] keeps them for a view's repeated lookups.
///
/// # Errors
/// [`Error::Unavailable`] right after a restart, until the batch view the speed layer had
/// handed over is attached again; [`Error::Engine`] for an unknown or stopped view and
/// evaluation errors.
pub(crate) fn query(engine: &Engine, plan: &ViewPlan, selection: &Selection) -> Result<Answer> {
    let partials = speed_partials(engine, plan)?;
    let mut merged = fresh_operator(plan)?;
    let provenance = merge_into(&mut merged, plan, &partials, selection)?;
    Ok(Answer {
        rows: merged.snapshot()?,
        provenance,
    })
}

/// A view's compiled scratch operators, kept for its next answers: compiling one (plan
/// checks, key converter, schemas) and dropping it cost more than a point lookup's merge.
/// An operator is emptied before each use, so an answer never sees another's groups.
pub(crate) struct Scratch {
    plan: Arc<ViewPlan>,
    empty: GroupState,
    pool: Mutex<Vec<ViewOperator>>,
    /// Keys asked recently, as arrow-row bytes (`None`: a value not of its column's type):
    /// converting a key's text goes through Arrow casts and a row converter each time.
    keys: Mutex<HashMap<Vec<String>, Option<Vec<u8>>>>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch")
            .field("view", &self.plan.name)
            .finish_non_exhaustive()
    }
}

/// Most idle scratch operators a view keeps (more than the node's concurrent lookups of one
/// view would need).
const POOL: usize = 16;

/// Most converted keys a view keeps; the cache starts over when full.
const KEYS: usize = 16_384;

impl Scratch {
    /// Scratch operators of `plan` (a Lambda view's).
    ///
    /// # Errors
    /// [`Error::Engine`] when the plan does not compile.
    pub(crate) fn new(plan: Arc<ViewPlan>) -> Result<Self> {
        let first = fresh_operator(&plan)?;
        Ok(Scratch {
            empty: first.state().clone(),
            pool: Mutex::new(vec![first]),
            plan,
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// The plan the operators were compiled from.
    pub(crate) fn plan(&self) -> &Arc<ViewPlan> {
        &self.plan
    }

    /// Like [`query`], with a kept operator: `f` reads the merged operator (its
    /// [`ViewOperator::snapshot`] is the answer's rows) and the answer's provenance.
    ///
    /// # Errors
    /// As [`query`], and what `f` returns.
    pub(crate) fn query<T>(
        &self,
        engine: &Engine,
        selection: &Selection,
        f: impl FnOnce(&ViewOperator, Provenance) -> Result<T>,
    ) -> Result<T> {
        let partials = speed_partials(engine, &self.plan)?;
        let taken = self.pool.lock().pop();
        let mut merged = match taken {
            Some(mut op) => {
                op.restore(self.empty.clone())?;
                op
            }
            None => fresh_operator(&self.plan)?,
        };
        let key = match &selection.key {
            Some(values) if values.len() == self.plan.group_by.len() => {
                let known = self.keys.lock().get(values).cloned();
                let row = match known {
                    Some(row) => row,
                    None => {
                        let row = merged.key_row_from_text(values)?;
                        let mut keys = self.keys.lock();
                        if keys.len() >= KEYS {
                            keys.clear();
                        }
                        keys.insert(values.clone(), row.clone());
                        row
                    }
                };
                Key::Row(row)
            }
            _ => Key::Text,
        };
        let provenance = merge_keyed(&mut merged, &self.plan, &partials, selection, key)?;
        let out = f(&merged, provenance);
        let mut pool = self.pool.lock();
        if pool.len() < POOL {
            pool.push(merged);
        }
        out
    }
}

fn speed_partials(engine: &Engine, plan: &ViewPlan) -> Result<Arc<SpeedPartials>> {
    engine.partials(&plan.name)?.ok_or_else(|| {
        Error::Unavailable(format!(
            "view {} is served from the speed layer alone (kappa)",
            plan.name
        ))
    })
}

/// An empty operator of `plan` that keeps every window it absorbs.
fn fresh_operator(plan: &ViewPlan) -> Result<ViewOperator> {
    let mut op = ViewOperator::new(plan.clone(), source_schema(&plan.source), Lateness::Ignore)?;
    op.set_retention_ms(i64::MAX);
    Ok(op)
}

/// Folds what `selection` asks for into the empty operator `merged`: the partials of the
/// generations the batch view has not covered (under the ledger's lock, so a hand-over is
/// seen whole or not at all), then the batch view's state.
fn merge_into(
    merged: &mut ViewOperator,
    plan: &ViewPlan,
    partials: &SpeedPartials,
    selection: &Selection,
) -> Result<Provenance> {
    let key = match &selection.key {
        Some(values) if values.len() == plan.group_by.len() => {
            Key::Row(merged.key_row_from_text(values)?)
        }
        _ => Key::Text,
    };
    merge_keyed(merged, plan, partials, selection, key)
}

/// How an answer's key selects groups before merging.
enum Key {
    /// A key with one value per group key column, as arrow-row bytes; `None` for a value not
    /// of its column's type (no group can match).
    Row(Option<Vec<u8>>),
    /// No key, or one matched on the merged rows (a view whose output leaves a key column
    /// out): every group is merged.
    Text,
}

/// [`merge_into`] with the selection's key converted.
fn merge_keyed(
    merged: &mut ViewOperator,
    plan: &ViewPlan,
    partials: &SpeedPartials,
    selection: &Selection,
    key: Key,
) -> Result<Provenance> {
    let key = match key {
        Key::Row(Some(row)) => Some(row),
        Key::Row(None) => return Ok(Provenance::default()),
        Key::Text => None,
    };
    let filter = GroupFilter {
        key,
        from: selection.from,
        to: selection.to,
    };
    let (coverage, generations) = partials.read(|r| {
        if r.coverage.is_none() && !r.covered.is_empty() {
            return Err(Error::Unavailable(format!(
                "view {} is attaching its batch view again after a restart; retry in a moment",
                plan.name
            )));
        }
        for partial in r.generations.values() {
            merged.absorb(partial, &filter)?;
        }
        Ok((
            r.coverage.cloned(),
            r.generations.keys().copied().collect::<Vec<_>>(),
        ))
    })?;
    let mut provenance = Provenance {
        batch: None,
        generations,
    };
    if let Some(coverage) = coverage {
        let batch = &coverage.batch;
        if let Some(state) = batch.state() {
            merged.absorb(state, &filter)?;
        }
        provenance.batch = Some(BatchSource {
            epoch: batch.epoch(),
            horizon: coverage.horizon.clone(),
            created_at_ms: batch.created_at_ms(),
        });
    }
    Ok(provenance)
}
