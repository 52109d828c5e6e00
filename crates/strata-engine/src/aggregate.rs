//! Mergeable accumulators, stored column-wise by group id.
//!
//! Every aggregate is a monoid: `update` folds rows into a group, `merge` folds one group's
//! state into another (session merges, batch ⊕ speed in the serving layer), and the empty
//! state is the identity. State is plain data (serde), so checkpoints and the serving
//! layer's partials serialize it as is.
//!
//! Groups are dense `u32` ids handed out by the keyed state; the hot aggregates (COUNT, SUM,
//! AVG) update flat vectors in one pass over a batch.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use cardinality_estimator::CardinalityEstimator;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plan::AggregateFunction;
use crate::scalar::{Scalar, to_array};

/// A HyperLogLog-style sketch with a fixed hasher, so sketches from different processes
/// (batch and speed layer) merge.
type Sketch = CardinalityEstimator<Scalar>;

/// Ordering key of EARLIEST/LATEST: (partition, offset), log order, the same in every layer.
pub type Position = (i64, u64);

/// The values `COUNT(DISTINCT x)` has seen in one group: foldhash, much cheaper than SipHash
/// per inserted value (the set serializes as a sequence, whatever the hasher).
pub type DistinctSet = HashSet<Scalar, foldhash::fast::RandomState>;

/// The state of one aggregate for all groups of a view.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Accumulator {
    /// `COUNT(*)` (`star`) or `COUNT(x)`.
    Count {
        /// Counts rows regardless of NULLs.
        star: bool,
        /// Per group.
        counts: Vec<i64>,
    },
    /// `SUM` over integers; NULL when no non-null input.
    SumInt {
        /// Per group (wrapping on overflow).
        sums: Vec<i64>,
        /// Non-null inputs per group.
        counts: Vec<u64>,
    },
    /// `SUM` over floats, or `AVG` over anything numeric (`avg`).
    SumFloat {
        /// True for AVG.
        avg: bool,
        /// Per group.
        sums: Vec<f64>,
        /// Non-null inputs per group.
        counts: Vec<u64>,
    },
    /// `MIN` / `MAX`.
    Extreme {
        /// True for MAX.
        max: bool,
        /// Output type.
        #[serde(with = "data_type_serde")]
        data_type: DataType,
        /// Per group; NULL until a non-null input.
        values: Vec<Scalar>,
    },
    /// `COUNT(DISTINCT x)`, exact.
    Distinct {
        /// Per group.
        sets: Vec<DistinctSet>,
    },
    /// `APPROX_COUNT_DISTINCT(x)`.
    Approx {
        /// Per group.
        sketches: Vec<Sketch>,
    },
    /// `EARLIEST_BY_OFFSET` / `LATEST_BY_OFFSET`.
    Pick {
        /// True for LATEST.
        latest: bool,
        /// Output type.
        #[serde(with = "data_type_serde")]
        data_type: DataType,
        /// Per group: the chosen value and its position.
        values: Vec<Option<(Position, Scalar)>>,
    },
}

impl Accumulator {
    /// An empty accumulator for `function` over inputs of `input` type (`None` for COUNT(*)).
    ///
    /// # Errors
    /// [`Error::Plan`] when the function does not apply to the type (SUM of strings).
    pub fn new(function: AggregateFunction, input: Option<&DataType>) -> Result<Self> {
        let numeric = |t: Option<&DataType>| matches!(t, Some(DataType::Int64 | DataType::Float64));
        Ok(match function {
            AggregateFunction::Count => Accumulator::Count {
                star: input.is_none(),
                counts: Vec::new(),
            },
            AggregateFunction::Sum if input == Some(&DataType::Int64) => Accumulator::SumInt {
                sums: Vec::new(),
                counts: Vec::new(),
            },
            AggregateFunction::Sum | AggregateFunction::Avg if numeric(input) => {
                Accumulator::SumFloat {
                    avg: function == AggregateFunction::Avg,
                    sums: Vec::new(),
                    counts: Vec::new(),
                }
            }
            AggregateFunction::Sum | AggregateFunction::Avg => {
                return Err(Error::plan(format!(
                    "{function:?} needs a numeric argument, not {}",
                    input.map_or("*".to_string(), ToString::to_string)
                )));
            }
            AggregateFunction::Min | AggregateFunction::Max => Accumulator::Extreme {
                max: function == AggregateFunction::Max,
                data_type: input.cloned().unwrap_or(DataType::Int64),
                values: Vec::new(),
            },
            AggregateFunction::CountDistinct => Accumulator::Distinct { sets: Vec::new() },
            AggregateFunction::ApproxCountDistinct => Accumulator::Approx {
                sketches: Vec::new(),
            },
            AggregateFunction::Earliest | AggregateFunction::Latest => Accumulator::Pick {
                latest: function == AggregateFunction::Latest,
                data_type: input.cloned().unwrap_or(DataType::Int64),
                values: Vec::new(),
            },
        })
    }

    /// The type of the aggregate's result.
    pub fn output_type(&self) -> DataType {
        match self {
            Accumulator::Count { .. }
            | Accumulator::Distinct { .. }
            | Accumulator::Approx { .. } => DataType::Int64,
            Accumulator::SumInt { .. } => DataType::Int64,
            Accumulator::SumFloat { .. } => DataType::Float64,
            Accumulator::Extreme { data_type, .. } | Accumulator::Pick { data_type, .. } => {
                data_type.clone()
            }
        }
    }

    /// Makes room for group ids below `n`.
    pub fn ensure_groups(&mut self, n: usize) {
        match self {
            Accumulator::Count { counts, .. } => grow(counts, n, 0),
            Accumulator::SumInt { sums, counts } => {
                grow(sums, n, 0);
                grow(counts, n, 0);
            }
            Accumulator::SumFloat { sums, counts, .. } => {
                grow(sums, n, 0.0);
                grow(counts, n, 0);
            }
            Accumulator::Extreme { values, .. } => grow(values, n, Scalar::Null),
            Accumulator::Distinct { sets } => grow(sets, n, DistinctSet::default()),
            Accumulator::Approx { sketches } => {
                if sketches.len() < n {
                    sketches.resize_with(n, Sketch::new);
                }
            }
            Accumulator::Pick { values, .. } => grow(values, n, None),
        }
    }

    /// Resets group `g` to the empty state, so its id can be reused.
    pub fn reset(&mut self, g: u32) {
        let g = g as usize;
        match self {
            Accumulator::Count { counts, .. } => counts[g] = 0,
            Accumulator::SumInt { sums, counts } => {
                sums[g] = 0;
                counts[g] = 0;
            }
            Accumulator::SumFloat { sums, counts, .. } => {
                sums[g] = 0.0;
                counts[g] = 0;
            }
            Accumulator::Extreme { values, .. } => values[g] = Scalar::Null,
            Accumulator::Distinct { sets } => sets[g] = DistinctSet::default(),
            Accumulator::Approx { sketches } => sketches[g] = Sketch::new(),
            Accumulator::Pick { values, .. } => values[g] = None,
        }
    }

    /// Folds row `i` of `input` into group `groups[i]`, for every row. `input` is `None` only
    /// for COUNT(*); `positions` orders rows for EARLIEST/LATEST.
    ///
    /// # Errors
    /// [`Error::Eval`] when `input` has an unexpected type.
    pub fn update(
        &mut self,
        groups: &[u32],
        input: Option<&ArrayRef>,
        positions: &dyn Fn(usize) -> Position,
    ) -> Result<()> {
        match self {
            Accumulator::Count { star: true, counts } => {
                for &g in groups {
                    counts[g as usize] += 1;
                }
            }
            Accumulator::Count {
                star: false,
                counts,
            } => {
                let input = required(input)?;
                for (i, &g) in groups.iter().enumerate() {
                    if input.is_valid(i) {
                        counts[g as usize] += 1;
                    }
                }
            }
            Accumulator::SumInt { sums, counts } => {
                let input = required(input)?;
                let ints = as_i64(input)?;
                if ints.null_count() == 0 {
                    for (&g, &v) in groups.iter().zip(ints.values().iter()) {
                        let g = g as usize;
                        sums[g] = sums[g].wrapping_add(v);
                        counts[g] += 1;
                    }
                } else {
                    for (i, &g) in groups.iter().enumerate() {
                        if ints.is_valid(i) {
                            let g = g as usize;
                            sums[g] = sums[g].wrapping_add(ints.value(i));
                            counts[g] += 1;
                        }
                    }
                }
            }
            Accumulator::SumFloat { sums, counts, .. } => {
                let input = required(input)?;
                let floats = cast(input, &DataType::Float64)?;
                let floats = floats
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or_else(|| Error::Eval("SUM/AVG input is not numeric".into()))?;
                for (i, &g) in groups.iter().enumerate() {
                    if floats.is_valid(i) {
                        let g = g as usize;
                        sums[g] += floats.value(i);
                        counts[g] += 1;
                    }
                }
            }
            Accumulator::Extreme { max, values, .. } => {
                let input = required(input)?;
                if let Some(strings) = input.as_string_opt::<i32>() {
                    // Compare in place; a string is copied only when it becomes the extreme.
                    for (i, &g) in groups.iter().enumerate() {
                        if strings.is_valid(i) {
                            let v = strings.value(i);
                            let slot = &mut values[g as usize];
                            let better = match slot {
                                Scalar::Str(cur) => {
                                    if *max {
                                        v > &**cur
                                    } else {
                                        v < &**cur
                                    }
                                }
                                _ => true,
                            };
                            if better {
                                fold_extreme(slot, Scalar::Str(v.into()), *max);
                            }
                        }
                    }
                } else if let Some(ints) = input.as_primitive_opt::<Int64Type>() {
                    for (i, &g) in groups.iter().enumerate() {
                        if ints.is_valid(i) {
                            fold_extreme(&mut values[g as usize], Scalar::Int(ints.value(i)), *max);
                        }
                    }
                } else {
                    for (i, &g) in groups.iter().enumerate() {
                        let v = Scalar::from_array(input.as_ref(), i)?;
                        fold_extreme(&mut values[g as usize], v, *max);
                    }
                }
            }
            Accumulator::Distinct { sets } => {
                let input = required(input)?;
                if let Some(ints) = input.as_primitive_opt::<Int64Type>() {
                    for (i, &g) in groups.iter().enumerate() {
                        if ints.is_valid(i) {
                            sets[g as usize].insert(Scalar::Int(ints.value(i)));
                        }
                    }
                } else {
                    for (i, &g) in groups.iter().enumerate() {
                        let v = Scalar::from_array(input.as_ref(), i)?;
                        if !v.is_null() {
                            sets[g as usize].insert(v);
                        }
                    }
                }
            }
            Accumulator::Approx { sketches } => {
                let input = required(input)?;
                for (i, &g) in groups.iter().enumerate() {
                    let v = Scalar::from_array(input.as_ref(), i)?;
                    if !v.is_null() {
                        sketches[g as usize].insert(&v);
                    }
                }
            }
            Accumulator::Pick { latest, values, .. } => {
                let input = required(input)?;
                for (i, &g) in groups.iter().enumerate() {
                    let candidate = (positions(i), Scalar::from_array(input.as_ref(), i)?);
                    fold_pick(&mut values[g as usize], Some(candidate), *latest);
                }
            }
        }
        Ok(())
    }

    /// True when the aggregate can take a row back ([`Accumulator::update_signed`]): what
    /// aggregating a table needs, where an update retracts the key's previous row.
    pub fn retracts(function: AggregateFunction) -> bool {
        function.retracts()
    }

    /// As [`Accumulator::update`], with a sign per row: `+1` adds the row, `-1` takes back a
    /// row added earlier (a table row replaced or deleted). COUNT, SUM and AVG subtract;
    /// LATEST_BY_OFFSET ignores retractions, which is exact only when a group holds one live
    /// row at a time (a table's row view, grouped by the record key).
    ///
    /// # Errors
    /// [`Error::Plan`] for aggregates that cannot retract (MIN, MAX, COUNT(DISTINCT), …);
    /// [`Error::Eval`] when `input` has an unexpected type.
    pub fn update_signed(
        &mut self,
        groups: &[u32],
        input: Option<&ArrayRef>,
        positions: &dyn Fn(usize) -> Position,
        signs: &[i8],
    ) -> Result<()> {
        debug_assert_eq!(groups.len(), signs.len());
        match self {
            Accumulator::Count { star: true, counts } => {
                for (&g, &s) in groups.iter().zip(signs) {
                    counts[g as usize] += i64::from(s);
                }
            }
            Accumulator::Count {
                star: false,
                counts,
            } => {
                let input = required(input)?;
                for (i, (&g, &s)) in groups.iter().zip(signs).enumerate() {
                    if input.is_valid(i) {
                        counts[g as usize] += i64::from(s);
                    }
                }
            }
            Accumulator::SumInt { sums, counts } => {
                let ints = as_i64(required(input)?)?;
                for (i, (&g, &s)) in groups.iter().zip(signs).enumerate() {
                    if ints.is_valid(i) {
                        let g = g as usize;
                        sums[g] = sums[g].wrapping_add(ints.value(i).wrapping_mul(i64::from(s)));
                        counts[g] = counts[g].wrapping_add_signed(i64::from(s));
                    }
                }
            }
            Accumulator::SumFloat { sums, counts, .. } => {
                let floats = cast(required(input)?, &DataType::Float64)?;
                let floats = floats
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or_else(|| Error::Eval("SUM/AVG input is not numeric".into()))?;
                for (i, (&g, &s)) in groups.iter().zip(signs).enumerate() {
                    if floats.is_valid(i) {
                        let g = g as usize;
                        sums[g] += f64::from(s) * floats.value(i);
                        counts[g] = counts[g].wrapping_add_signed(i64::from(s));
                        if counts[g] == 0 {
                            // Nothing left to sum: drop the rounding residue of the retractions.
                            sums[g] = 0.0;
                        }
                    }
                }
            }
            Accumulator::Pick {
                latest: true,
                values,
                ..
            } => {
                let input = required(input)?;
                for (i, (&g, &s)) in groups.iter().zip(signs).enumerate() {
                    if s > 0 {
                        let candidate = (positions(i), Scalar::from_array(input.as_ref(), i)?);
                        fold_pick(&mut values[g as usize], Some(candidate), true);
                    }
                }
            }
            _ => {
                return Err(Error::plan(
                    "this aggregate cannot take rows back (only COUNT, SUM and AVG can aggregate a table)",
                ));
            }
        }
        Ok(())
    }

    /// Folds group `src` of `other` (the same kind of accumulator) into group `dst` of self.
    ///
    /// # Errors
    /// [`Error::Plan`] when the two accumulators are of different kinds.
    pub fn merge(&mut self, dst: u32, other: &Accumulator, src: u32) -> Result<()> {
        let (d, s) = (dst as usize, src as usize);
        match (self, other) {
            (Accumulator::Count { counts, .. }, Accumulator::Count { counts: o, .. }) => {
                counts[d] += o[s];
            }
            (
                Accumulator::SumInt { sums, counts },
                Accumulator::SumInt {
                    sums: os,
                    counts: oc,
                },
            ) => {
                sums[d] = sums[d].wrapping_add(os[s]);
                counts[d] += oc[s];
            }
            (
                Accumulator::SumFloat { sums, counts, .. },
                Accumulator::SumFloat {
                    sums: os,
                    counts: oc,
                    ..
                },
            ) => {
                sums[d] += os[s];
                counts[d] += oc[s];
            }
            (Accumulator::Extreme { max, values, .. }, Accumulator::Extreme { values: o, .. }) => {
                fold_extreme(&mut values[d], o[s].clone(), *max);
            }
            (Accumulator::Distinct { sets }, Accumulator::Distinct { sets: o }) => {
                let other = o[s].clone();
                sets[d].extend(other);
            }
            (Accumulator::Approx { sketches }, Accumulator::Approx { sketches: o }) => {
                let other = o[s].clone();
                sketches[d].merge(&other);
            }
            (Accumulator::Pick { latest, values, .. }, Accumulator::Pick { values: o, .. }) => {
                fold_pick(&mut values[d], o[s].clone(), *latest);
            }
            _ => return Err(Error::plan("cannot merge different aggregates")),
        }
        Ok(())
    }

    /// A one-group accumulator holding a copy of group `g`'s state (group 0 of the result):
    /// how a group is merged into another of the same accumulator, or shipped as a partial.
    pub fn extract(&self, g: u32) -> Accumulator {
        let g = g as usize;
        match self {
            Accumulator::Count { star, counts } => Accumulator::Count {
                star: *star,
                counts: vec![counts[g]],
            },
            Accumulator::SumInt { sums, counts } => Accumulator::SumInt {
                sums: vec![sums[g]],
                counts: vec![counts[g]],
            },
            Accumulator::SumFloat { avg, sums, counts } => Accumulator::SumFloat {
                avg: *avg,
                sums: vec![sums[g]],
                counts: vec![counts[g]],
            },
            Accumulator::Extreme {
                max,
                data_type,
                values,
            } => Accumulator::Extreme {
                max: *max,
                data_type: data_type.clone(),
                values: vec![values[g].clone()],
            },
            Accumulator::Distinct { sets } => Accumulator::Distinct {
                sets: vec![sets[g].clone()],
            },
            Accumulator::Approx { sketches } => Accumulator::Approx {
                sketches: vec![sketches[g].clone()],
            },
            Accumulator::Pick {
                latest,
                data_type,
                values,
            } => Accumulator::Pick {
                latest: *latest,
                data_type: data_type.clone(),
                values: vec![values[g].clone()],
            },
        }
    }

    /// Folds group `src` into group `dst` of the same accumulator.
    ///
    /// # Errors
    /// Never in practice (the kinds match); kept for symmetry with [`Accumulator::merge`].
    pub fn merge_groups(&mut self, dst: u32, src: u32) -> Result<()> {
        let single = self.extract(src);
        self.merge(dst, &single, 0)
    }

    /// The results of `groups`, as one column.
    ///
    /// # Errors
    /// Arrow errors building the column.
    pub fn evaluate(&self, groups: &[u32]) -> Result<ArrayRef> {
        let at = |g: &u32| *g as usize;
        Ok(match self {
            Accumulator::Count { counts, .. } => Arc::new(Int64Array::from_iter_values(
                groups.iter().map(|g| counts[at(g)]),
            )),
            Accumulator::SumInt { sums, counts } => Arc::new(Int64Array::from_iter(
                groups
                    .iter()
                    .map(|g| (counts[at(g)] > 0).then(|| sums[at(g)])),
            )),
            Accumulator::SumFloat { avg, sums, counts } => {
                Arc::new(Float64Array::from_iter(groups.iter().map(|g| {
                    let (s, c) = (sums[at(g)], counts[at(g)]);
                    (c > 0).then(|| if *avg { s / c as f64 } else { s })
                })))
            }
            Accumulator::Extreme {
                data_type, values, ..
            } => to_array(data_type, groups.iter().map(|g| values[at(g)].clone()))?,
            Accumulator::Distinct { sets } => Arc::new(Int64Array::from_iter_values(
                groups.iter().map(|g| sets[at(g)].len() as i64),
            )),
            Accumulator::Approx { sketches } => Arc::new(Int64Array::from_iter_values(
                groups.iter().map(|g| sketches[at(g)].estimate() as i64),
            )),
            Accumulator::Pick {
                data_type, values, ..
            } => to_array(
                data_type,
                groups.iter().map(|g| {
                    values[at(g)]
                        .as_ref()
                        .map_or(Scalar::Null, |(_, v)| v.clone())
                }),
            )?,
        })
    }
}

fn grow<T: Clone>(v: &mut Vec<T>, n: usize, fill: T) {
    if v.len() < n {
        v.resize(n, fill);
    }
}

fn required(input: Option<&ArrayRef>) -> Result<&ArrayRef> {
    input.ok_or_else(|| Error::plan("this aggregate needs an argument"))
}

fn as_i64(array: &ArrayRef) -> Result<&Int64Array> {
    array
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| Error::Eval("SUM input is not BIGINT".into()))
}

fn fold_extreme(current: &mut Scalar, candidate: Scalar, max: bool) {
    if candidate.is_null() {
        return;
    }
    let better = current.is_null()
        || if max {
            candidate > *current
        } else {
            candidate < *current
        };
    if better {
        *current = candidate;
    }
}

fn fold_pick(
    current: &mut Option<(Position, Scalar)>,
    candidate: Option<(Position, Scalar)>,
    latest: bool,
) {
    let Some(candidate) = candidate else { return };
    let better = match current {
        None => true,
        Some((pos, _)) => {
            if latest {
                candidate.0 > *pos
            } else {
                candidate.0 < *pos
            }
        }
    };
    if better {
        *current = Some(candidate);
    }
}

/// Arrow `DataType` is not serde; the accumulators only hold the few types SQL columns use.
mod data_type_serde {
    use arrow::datatypes::{DataType, TimeUnit};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &DataType, s: S) -> Result<S::Ok, S::Error> {
        let name = match t {
            DataType::Boolean => "boolean",
            DataType::Float64 => "double",
            DataType::Utf8 => "varchar",
            DataType::Timestamp(..) => "timestamp",
            _ => "bigint",
        };
        name.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DataType, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "boolean" => DataType::Boolean,
            "double" => DataType::Float64,
            "varchar" => DataType::Utf8,
            "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, None),
            _ => DataType::Int64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;
    use proptest::prelude::*;

    fn no_positions(i: usize) -> Position {
        (i as i64, i as u64)
    }

    #[test]
    fn count_sum_avg_min_max_over_groups() {
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), None, Some(7), Some(1)]));
        let groups = [0u32, 0, 1, 0];
        let mut results = Vec::new();
        for f in [
            AggregateFunction::Count,
            AggregateFunction::Sum,
            AggregateFunction::Avg,
            AggregateFunction::Min,
            AggregateFunction::Max,
            AggregateFunction::CountDistinct,
        ] {
            let mut acc = Accumulator::new(f, Some(&DataType::Int64)).expect("acc");
            acc.ensure_groups(2);
            acc.update(&groups, Some(&values), &no_positions)
                .expect("update");
            results.push(acc.evaluate(&[0, 1]).expect("eval"));
        }
        let ints = |a: &ArrayRef| -> Vec<Option<i64>> {
            a.as_any()
                .downcast_ref::<Int64Array>()
                .expect("i64")
                .iter()
                .collect()
        };
        assert_eq!(ints(&results[0]), vec![Some(2), Some(1)]);
        assert_eq!(ints(&results[1]), vec![Some(6), Some(7)]);
        let avg: Vec<Option<f64>> = results[2]
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64")
            .iter()
            .collect();
        assert_eq!(avg, vec![Some(3.0), Some(7.0)]);
        assert_eq!(ints(&results[3]), vec![Some(1), Some(7)]);
        assert_eq!(ints(&results[4]), vec![Some(5), Some(7)]);
        assert_eq!(ints(&results[5]), vec![Some(2), Some(1)]);
    }

    #[test]
    fn latest_and_earliest_follow_log_position_not_batch_order() {
        let values: ArrayRef = Arc::new(StringArray::from(vec!["b", "a", "c"]));
        let times = [20i64, 10, 15];
        let positions = |i: usize| (times[i], i as u64);
        let mut latest =
            Accumulator::new(AggregateFunction::Latest, Some(&DataType::Utf8)).expect("acc");
        let mut earliest =
            Accumulator::new(AggregateFunction::Earliest, Some(&DataType::Utf8)).expect("acc");
        for acc in [&mut latest, &mut earliest] {
            acc.ensure_groups(1);
            acc.update(&[0, 0, 0], Some(&values), &positions)
                .expect("update");
        }
        let s = |a: ArrayRef| {
            a.as_any()
                .downcast_ref::<StringArray>()
                .expect("s")
                .value(0)
                .to_string()
        };
        assert_eq!(s(latest.evaluate(&[0]).expect("eval")), "b");
        assert_eq!(s(earliest.evaluate(&[0]).expect("eval")), "a");
    }

    #[test]
    fn aggregates_that_cannot_retract_refuse_signed_rows() {
        let values: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
        for f in [
            AggregateFunction::Min,
            AggregateFunction::Max,
            AggregateFunction::CountDistinct,
            AggregateFunction::ApproxCountDistinct,
            AggregateFunction::Earliest,
        ] {
            assert!(!Accumulator::retracts(f));
            let mut acc = Accumulator::new(f, Some(&DataType::Int64)).expect("acc");
            acc.ensure_groups(1);
            let e = acc
                .update_signed(&[0, 0], Some(&values), &no_positions, &[1, -1])
                .expect_err("cannot retract");
            assert!(e.to_string().contains("cannot take rows back"), "{e}");
        }
    }

    #[test]
    fn sum_of_strings_is_a_plan_error() {
        assert!(Accumulator::new(AggregateFunction::Sum, Some(&DataType::Utf8)).is_err());
    }

    proptest! {
        /// Retraction is exact: adding rows, then taking some of them back (in any order, in
        /// any batch), gives the aggregate of the rows that remain.
        #[test]
        fn retracting_rows_equals_aggregating_what_remains(
            values in proptest::collection::vec(proptest::option::of(-1000i64..1000), 1..40),
            taken_back in proptest::collection::vec(any::<bool>(), 40),
            f in prop_oneof![
                Just(AggregateFunction::Count), Just(AggregateFunction::Sum),
                Just(AggregateFunction::Avg),
            ],
            star in any::<bool>(),
        ) {
            let input = if star && f == AggregateFunction::Count { None } else { Some(DataType::Int64) };
            let removed: Vec<Option<i64>> = values
                .iter()
                .zip(&taken_back)
                .filter(|(_, t)| **t)
                .map(|(v, _)| *v)
                .collect();
            let kept: Vec<Option<i64>> = values
                .iter()
                .zip(&taken_back)
                .filter(|(_, t)| !**t)
                .map(|(v, _)| *v)
                .collect();
            // All rows in, then the removed ones out, in reverse order, as a second batch.
            let mut signed = Accumulator::new(f, input.as_ref()).expect("acc");
            signed.ensure_groups(1);
            let all: ArrayRef = Arc::new(Int64Array::from(values.clone()));
            signed
                .update_signed(&vec![0; values.len()], input.as_ref().map(|_| &all), &no_positions, &vec![1; values.len()])
                .expect("add");
            let back: Vec<Option<i64>> = removed.iter().rev().copied().collect();
            let out: ArrayRef = Arc::new(Int64Array::from(back.clone()));
            signed
                .update_signed(&vec![0; back.len()], input.as_ref().map(|_| &out), &no_positions, &vec![-1; back.len()])
                .expect("retract");
            let mut plain = Accumulator::new(f, input.as_ref()).expect("acc");
            plain.ensure_groups(1);
            let rest: ArrayRef = Arc::new(Int64Array::from(kept.clone()));
            plain
                .update(&vec![0; kept.len()], input.as_ref().map(|_| &rest), &no_positions)
                .expect("update");
            let (a, b) = (signed.evaluate(&[0]).expect("eval"), plain.evaluate(&[0]).expect("eval"));
            if f == AggregateFunction::Avg {
                let a = a.as_any().downcast_ref::<Float64Array>().expect("f64");
                let b = b.as_any().downcast_ref::<Float64Array>().expect("f64");
                prop_assert_eq!(a.is_null(0), b.is_null(0));
                if !a.is_null(0) { prop_assert!((a.value(0) - b.value(0)).abs() < 1e-9); }
            } else {
                prop_assert_eq!(a.to_data(), b.to_data());
            }
        }

        /// MIN, MAX and COUNT(DISTINCT) over strings and integers (their typed fast paths)
        /// equal a per-group model, NULLs skipped, over several batches.
        #[test]
        fn extremes_and_distinct_counts_equal_a_model(
            rows in proptest::collection::vec(
                (0u32..4, proptest::option::of(0i64..30)), 1..80),
            cut in 1usize..20,
        ) {
            type Model = std::collections::BTreeMap<u32, Vec<i64>>;
            let mut model = Model::new();
            for (g, v) in &rows {
                let seen = model.entry(*g).or_default();
                seen.extend(v);
            }
            let text = |v: i64| format!("s{v:02}");
            for (f, strings) in [
                (AggregateFunction::Min, true), (AggregateFunction::Max, true),
                (AggregateFunction::CountDistinct, true), (AggregateFunction::Min, false),
                (AggregateFunction::Max, false), (AggregateFunction::CountDistinct, false),
            ] {
                let t = if strings { DataType::Utf8 } else { DataType::Int64 };
                let mut acc = Accumulator::new(f, Some(&t)).expect("acc");
                acc.ensure_groups(4);
                for chunk in rows.chunks(cut) {
                    let groups: Vec<u32> = chunk.iter().map(|(g, _)| *g).collect();
                    let input: ArrayRef = if strings {
                        Arc::new(StringArray::from(
                            chunk.iter().map(|(_, v)| v.map(text)).collect::<Vec<_>>(),
                        ))
                    } else {
                        Arc::new(Int64Array::from(chunk.iter().map(|(_, v)| *v).collect::<Vec<_>>()))
                    };
                    acc.update(&groups, Some(&input), &no_positions).expect("update");
                }
                let out = acc.evaluate(&[0, 1, 2, 3]).expect("eval");
                for g in 0..4u32 {
                    let seen = model.get(&g).cloned().unwrap_or_default();
                    let got = Scalar::from_array(out.as_ref(), g as usize).expect("scalar");
                    let pick = |v: Option<&i64>| match v {
                        None => Scalar::Null,
                        Some(v) if strings => Scalar::Str(text(*v).into()),
                        Some(v) => Scalar::Int(*v),
                    };
                    let want = match f {
                        AggregateFunction::Min => pick(seen.iter().min()),
                        AggregateFunction::Max => pick(seen.iter().max()),
                        _ => Scalar::Int(seen.iter().collect::<std::collections::BTreeSet<_>>().len() as i64),
                    };
                    prop_assert_eq!(got, want, "{:?} strings={} group {}", f, strings, g);
                }
            }
        }

        /// Merge is what makes batch ⊕ speed exact: splitting the input anywhere and merging
        /// the halves gives the result over the whole input.
        #[test]
        fn merging_partials_equals_aggregating_everything(
            values in proptest::collection::vec(proptest::option::of(-1000i64..1000), 1..60),
            split in 0usize..60,
            f in prop_oneof![
                Just(AggregateFunction::Count), Just(AggregateFunction::Sum),
                Just(AggregateFunction::Avg), Just(AggregateFunction::Min),
                Just(AggregateFunction::Max), Just(AggregateFunction::CountDistinct),
                Just(AggregateFunction::ApproxCountDistinct),
                Just(AggregateFunction::Earliest), Just(AggregateFunction::Latest),
            ],
        ) {
            let split = split.min(values.len());
            let all: ArrayRef = Arc::new(Int64Array::from(values.clone()));
            let left: ArrayRef = Arc::new(Int64Array::from(values[..split].to_vec()));
            let right: ArrayRef = Arc::new(Int64Array::from(values[split..].to_vec()));
            let positions = |i: usize| (i as i64 % 7, i as u64);
            let right_positions = |i: usize| positions(i + split);

            let mut whole = Accumulator::new(f, Some(&DataType::Int64)).expect("acc");
            whole.ensure_groups(1);
            whole.update(&vec![0; values.len()], Some(&all), &positions).expect("update");

            let mut a = Accumulator::new(f, Some(&DataType::Int64)).expect("acc");
            let mut b = a.clone();
            a.ensure_groups(1);
            b.ensure_groups(1);
            a.update(&vec![0; split], Some(&left), &positions).expect("update");
            b.update(&vec![0; values.len() - split], Some(&right), &right_positions).expect("update");
            a.merge(0, &b, 0).expect("merge");

            let expected = whole.evaluate(&[0]).expect("eval");
            let merged = a.evaluate(&[0]).expect("eval");
            if f == AggregateFunction::Avg {
                let e = expected.as_any().downcast_ref::<Float64Array>().expect("f64");
                let m = merged.as_any().downcast_ref::<Float64Array>().expect("f64");
                prop_assert_eq!(e.is_null(0), m.is_null(0));
                if !e.is_null(0) { prop_assert!((e.value(0) - m.value(0)).abs() < 1e-9); }
            } else {
                prop_assert_eq!(expected.to_data(), merged.to_data());
            }
        }
    }
}
