//! One SQL value, for the few places that hold values row by row (MIN/MAX over strings,
//! COUNT DISTINCT sets, EARLIEST/LATEST). Hot numeric paths stay columnar.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int64Array,
    Int64Builder, StringArray, StringBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A single value. Floats compare and hash by their total order, so they can live in sets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Scalar {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (also timestamps, in ms).
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(Box<str>),
}

impl Scalar {
    /// Reads row `i` of `array` (Boolean, Int64, Float64, Utf8 or Timestamp(ms)).
    ///
    /// # Errors
    /// [`Error::Eval`] for other column types.
    pub fn from_array(array: &dyn Array, i: usize) -> Result<Scalar> {
        if array.is_null(i) {
            return Ok(Scalar::Null);
        }
        let any = array.as_any();
        Ok(match array.data_type() {
            DataType::Boolean => Scalar::Bool(downcast::<BooleanArray>(any)?.value(i)),
            DataType::Int64 => Scalar::Int(downcast::<Int64Array>(any)?.value(i)),
            DataType::Float64 => Scalar::Float(downcast::<Float64Array>(any)?.value(i)),
            DataType::Utf8 => Scalar::Str(downcast::<StringArray>(any)?.value(i).into()),
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                Scalar::Int(downcast::<TimestampMillisecondArray>(any)?.value(i))
            }
            other => return Err(Error::Eval(format!("unsupported column type {other}"))),
        })
    }

    /// True for NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    fn rank(&self) -> u8 {
        match self {
            Scalar::Null => 0,
            Scalar::Bool(_) => 1,
            Scalar::Int(_) | Scalar::Float(_) => 2,
            Scalar::Str(_) => 3,
        }
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scalar {}

impl PartialOrd for Scalar {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scalar {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Scalar::Bool(a), Scalar::Bool(b)) => a.cmp(b),
            (Scalar::Int(a), Scalar::Int(b)) => a.cmp(b),
            (Scalar::Float(a), Scalar::Float(b)) => a.total_cmp(b),
            (Scalar::Int(a), Scalar::Float(b)) => (*a as f64).total_cmp(b),
            (Scalar::Float(a), Scalar::Int(b)) => a.total_cmp(&(*b as f64)),
            (Scalar::Str(a), Scalar::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Scalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Scalar::Null => 0u8.hash(state),
            Scalar::Bool(b) => b.hash(state),
            // Integers and integral floats compare equal, so they must hash alike.
            Scalar::Int(i) => (*i as f64).to_bits().hash(state),
            Scalar::Float(f) => f.to_bits().hash(state),
            Scalar::Str(s) => s.hash(state),
        }
    }
}

/// Builds a column of `data_type` from scalars (NULL where the type does not fit).
pub fn to_array(data_type: &DataType, values: impl Iterator<Item = Scalar>) -> Result<ArrayRef> {
    Ok(match data_type {
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            values.for_each(|v| {
                b.append_option(if let Scalar::Bool(x) = v {
                    Some(x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            values.for_each(|v| {
                b.append_option(if let Scalar::Int(x) = v {
                    Some(x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::new();
            values.for_each(|v| {
                b.append_option(match v {
                    Scalar::Float(x) => Some(x),
                    Scalar::Int(x) => Some(x as f64),
                    _ => None,
                })
            });
            Arc::new(b.finish())
        }
        DataType::Utf8 => {
            let mut b = StringBuilder::new();
            values.for_each(|v| {
                b.append_option(if let Scalar::Str(x) = v {
                    Some(x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let mut b = TimestampMillisecondBuilder::new();
            values.for_each(|v| {
                b.append_option(if let Scalar::Int(x) = v {
                    Some(x)
                } else {
                    None
                })
            });
            Arc::new(b.finish())
        }
        other => return Err(Error::Eval(format!("unsupported column type {other}"))),
    })
}

fn downcast<T: 'static>(any: &dyn std::any::Any) -> Result<&T> {
    any.downcast_ref::<T>()
        .ok_or_else(|| Error::Eval("column type does not match its declared type".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_hashes_consistently_across_int_and_float() {
        use std::collections::HashSet;
        assert_eq!(Scalar::Int(2), Scalar::Float(2.0));
        let set: HashSet<Scalar> = [Scalar::Int(2), Scalar::Float(2.0), Scalar::Str("a".into())]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 2);
        assert!(Scalar::Null < Scalar::Int(i64::MIN));
        assert!(Scalar::Str("a".into()) < Scalar::Str("b".into()));
    }

    #[test]
    fn round_trips_through_arrays() {
        let values = vec![Scalar::Int(1), Scalar::Null, Scalar::Int(-5)];
        let array = to_array(&DataType::Int64, values.clone().into_iter()).expect("array");
        let back: Vec<Scalar> = (0..3)
            .map(|i| Scalar::from_array(array.as_ref(), i).expect("scalar"))
            .collect();
        assert_eq!(back, values);
    }
}
