//! The speed layer's partial results per *generation*, and their hand-off to the batch layer.
//!
//! A generation is one segment of one source partition: `(partition, segment base offset)`.
//! The speed layer folds every record into the partial of its generation. A batch view
//! covers every offset below its horizon, and a horizon is always a segment boundary, so the
//! exact merged answer is `batch ⊕ Σ partials of generations at or above the horizon`.
//!
//! The ledger keeps those partials and the batch view they complement behind one lock, so a
//! reader sees either (old batch view, generations it lacks) or (new batch view, generations
//! it lacks) — never a new batch view with generations it already counts (a double count), nor
//! an old one after those generations were dropped (a miss). Records that reach the speed
//! layer after a batch view already covers their offsets are not folded at all. The protocol
//! is model-checked in `tests/loom_generations.rs`.

use std::collections::BTreeMap;

use crate::loom::{Arc, Mutex};

/// A published batch view as the serving layer merges it: its epoch, when it was made, and the
/// aggregation state its rows were computed from (implemented by the batch layer's epochs).
pub trait BatchView: Send + Sync + std::fmt::Debug {
    /// The epoch number.
    fn epoch(&self) -> u64;
    /// When the epoch was published (ms since the epoch).
    fn created_at_ms(&self) -> i64;
    /// The groups with their mergeable accumulators, for an exact merge with the speed layer's
    /// partials; `None` for a view the batch layer does not keep state for.
    fn state(&self) -> Option<&crate::operator::ViewOperator>;
}

/// `(partition, base offset of the segment)`.
pub type Generation = (u32, u64);

/// Per partition, the offset below which a batch view counts every record.
pub type Horizon = Vec<(u32, u64)>;

/// A published batch view as the speed layer sees it: what it covers, and the view itself
/// (opaque here: the batch layer's type).
#[derive(Debug)]
pub struct Coverage<B> {
    /// The batch view's epoch.
    pub epoch: u64,
    /// Per partition, the offset below which the batch view counts every record.
    pub horizon: Vec<(u32, u64)>,
    /// The batch view.
    pub batch: B,
}

impl<B> Coverage<B> {
    /// The covered offset of partition `p` (0: nothing covered).
    pub fn offset(&self, p: u32) -> u64 {
        horizon_offset(&self.horizon, p)
    }
}

fn horizon_offset(horizon: &[(u32, u64)], p: u32) -> u64 {
    horizon.iter().find(|(q, _)| *q == p).map_or(0, |(_, o)| *o)
}

/// Why a batch view was not handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleCoverage {
    /// The partition whose horizon would go backwards.
    pub partition: u32,
    /// What is covered already.
    pub covered: u64,
    /// What the refused batch view covers.
    pub offered: u64,
}

struct Inner<P, B> {
    gens: BTreeMap<Generation, P>,
    coverage: Option<Arc<Coverage<B>>>,
    /// The horizon handed over last; survives restarts (in the view's checkpoint) even
    /// though the batch view itself must be attached again.
    covered: Vec<(u32, u64)>,
}

/// The per-generation partials of one view and the batch view they complement.
pub struct Ledger<P, B> {
    inner: Mutex<Inner<P, B>>,
}

impl<P, B> Default for Ledger<P, B> {
    fn default() -> Self {
        Ledger {
            inner: Mutex::new(Inner {
                gens: BTreeMap::new(),
                coverage: None,
                covered: Vec::new(),
            }),
        }
    }
}

impl<P, B> std::fmt::Debug for Ledger<P, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("Ledger")
            .field("generations", &inner.gens.keys().collect::<Vec<_>>())
            .field("covered", &inner.covered)
            .finish()
    }
}

/// What a reader gets: the batch view (if one is attached), the horizon handed over last, and
/// the partials the batch view lacks.
pub struct Partials<'a, P, B> {
    /// The attached batch view.
    pub coverage: Option<&'a Arc<Coverage<B>>>,
    /// The horizon handed over last (non-empty with no `coverage` after a restart, until the
    /// batch view is attached again).
    pub covered: &'a [(u32, u64)],
    /// Partials by generation, all at or above the horizon.
    pub generations: &'a BTreeMap<Generation, P>,
}

impl<P, B> Ledger<P, B> {
    fn lock(&self) -> crate::loom::MutexGuard<'_, Inner<P, B>> {
        self.inner.lock()
    }

    /// Folds into the partial of `generation` (created by `create` when new) with `f`, unless
    /// a batch view already covers the generation: then returns `Ok(None)` and changes
    /// nothing.
    ///
    /// # Errors
    /// Those of `create` and `f`.
    pub fn fold<R, E>(
        &self,
        generation: Generation,
        create: impl FnOnce() -> Result<P, E>,
        f: impl FnOnce(&mut P) -> Result<R, E>,
    ) -> Result<Option<R>, E> {
        let mut inner = self.lock();
        if generation.1 < horizon_offset(&inner.covered, generation.0) {
            return Ok(None);
        }
        let partial = match inner.gens.entry(generation) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(create()?),
        };
        f(partial).map(Some)
    }

    /// Applies `f` to every partial (e.g. to move their watermark).
    pub fn for_each(&self, mut f: impl FnMut(&mut P)) {
        for p in self.lock().gens.values_mut() {
            f(p);
        }
    }

    /// Hands a batch view over: attaches it and drops the generations it covers, in one step
    /// as far as readers can tell. Returns the dropped generations.
    ///
    /// # Errors
    /// [`StaleCoverage`] when the batch view covers less of some partition than the one
    /// handed over before (the generations between were dropped already; merging it would
    /// miss them). Nothing changes then.
    pub fn cover(&self, coverage: Coverage<B>) -> Result<Vec<Generation>, StaleCoverage> {
        let mut inner = self.lock();
        for &(partition, covered) in &inner.covered {
            let offered = coverage.offset(partition);
            if offered < covered {
                return Err(StaleCoverage {
                    partition,
                    covered,
                    offered,
                });
            }
        }
        let dropped: Vec<Generation> = inner
            .gens
            .keys()
            .copied()
            .filter(|&(p, base)| base < coverage.offset(p))
            .collect();
        for g in &dropped {
            inner.gens.remove(g);
        }
        inner.covered.clone_from(&coverage.horizon);
        inner.coverage = Some(Arc::new(coverage));
        Ok(dropped)
    }

    /// Runs `f` on a consistent view of the batch view and the partials it lacks.
    pub fn read<R>(&self, f: impl FnOnce(Partials<'_, P, B>) -> R) -> R {
        let inner = self.lock();
        f(Partials {
            coverage: inner.coverage.as_ref(),
            covered: &inner.covered,
            generations: &inner.gens,
        })
    }

    /// The horizon handed over last and every partial, for a checkpoint.
    pub fn export<T>(&self, mut f: impl FnMut(&P) -> T) -> (Horizon, Vec<(Generation, T)>) {
        let inner = self.lock();
        let gens = inner.gens.iter().map(|(g, p)| (*g, f(p))).collect();
        (inner.covered.clone(), gens)
    }

    /// Replaces everything with checkpointed partials; the batch view must be attached again.
    pub fn restore(
        &self,
        covered: Vec<(u32, u64)>,
        gens: impl IntoIterator<Item = (Generation, P)>,
    ) {
        let mut inner = self.lock();
        inner.gens = gens.into_iter().collect();
        inner.covered = covered;
        inner.coverage = None;
    }

    /// Number of generations held.
    pub fn len(&self) -> usize {
        self.lock().gens.len()
    }

    /// True when no generation is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn add(ledger: &Ledger<u64, u64>, generation: Generation, n: u64) -> Option<()> {
        ledger
            .fold(
                generation,
                || Ok(0),
                |c| {
                    *c += n;
                    Ok::<_, Infallible>(())
                },
            )
            .unwrap_or_else(|e| match e {})
    }

    fn coverage(epoch: u64, horizon: &[(u32, u64)], batch: u64) -> Coverage<u64> {
        Coverage {
            epoch,
            horizon: horizon.to_vec(),
            batch,
        }
    }

    fn total(ledger: &Ledger<u64, u64>) -> u64 {
        ledger.read(|r| r.coverage.map_or(0, |c| c.batch) + r.generations.values().sum::<u64>())
    }

    #[test]
    fn covered_generations_are_dropped_and_never_refilled() {
        let ledger: Ledger<u64, u64> = Ledger::default();
        for (generation, n) in [((0, 0), 3), ((0, 10), 2), ((1, 0), 4)] {
            add(&ledger, generation, n);
        }
        assert_eq!(total(&ledger), 9);
        let dropped = ledger
            .cover(coverage(1, &[(0, 10), (1, 0)], 3))
            .expect("covers");
        assert_eq!(dropped, vec![(0, 0)]);
        assert_eq!(total(&ledger), 9, "the batch view replaces what it covers");
        assert_eq!(
            add(&ledger, (0, 0), 1),
            None,
            "a covered generation takes no more records"
        );
        assert_eq!(ledger.len(), 2);
    }

    #[test]
    fn a_horizon_never_goes_backwards() {
        let ledger: Ledger<u64, u64> = Ledger::default();
        ledger.cover(coverage(2, &[(0, 20)], 5)).expect("covers");
        let err = ledger
            .cover(coverage(1, &[(0, 10)], 3))
            .expect_err("stale batch view refused");
        assert_eq!(
            err,
            StaleCoverage {
                partition: 0,
                covered: 20,
                offered: 10
            }
        );
        assert_eq!(ledger.read(|r| r.coverage.map(|c| c.epoch)), Some(2));
    }

    #[test]
    fn restore_keeps_the_horizon_but_not_the_batch_view() {
        let ledger: Ledger<u64, u64> = Ledger::default();
        add(&ledger, (0, 20), 7);
        ledger.cover(coverage(1, &[(0, 20)], 5)).expect("covers");
        let (covered, gens) = ledger.export(|p| *p);
        let restored: Ledger<u64, u64> = Ledger::default();
        restored.restore(covered, gens);
        restored.read(|r| {
            assert!(r.coverage.is_none());
            assert_eq!(r.covered, &[(0, 20)]);
            assert_eq!(r.generations.get(&(0, 20)), Some(&7));
        });
        assert_eq!(add(&restored, (0, 0), 1), None);
    }
}
