//! The values kernels take and return: a full column, or a constant held as a one-element
//! array — so `UPPER('x')` or `x * 2`'s `2` costs one element, not one per row — and the typed
//! loops over Arrow arrays that the kernels share (arrow has no kernel for `UPPER`, `ROUND`, …;
//! these are loops over the typed array, never a per-row `match` over dynamic values).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, StringBuilder, UInt32Array,
    new_null_array,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::error::{Error, Result};
use crate::types::type_name;

/// A value during evaluation: a full column, or a constant held as a one-element array.
#[derive(Clone, Debug)]
pub struct Val {
    /// The values: one per row, or one in all for a constant.
    pub array: ArrayRef,
    /// True for a constant (a one-element `array` that stands for every row).
    pub scalar: bool,
}

impl Val {
    /// A constant: `array` has one element, which every row shares.
    #[inline]
    pub fn scalar(array: ArrayRef) -> Val {
        Val {
            array,
            scalar: true,
        }
    }

    /// A full column, one value per row.
    #[inline]
    pub fn column(array: ArrayRef) -> Val {
        Val {
            array,
            scalar: false,
        }
    }

    /// The Arrow type of the values.
    #[inline]
    pub fn data_type(&self) -> &DataType {
        self.array.data_type()
    }

    /// The value as a column of `len` rows.
    pub fn into_array(self, len: usize) -> ArrayRef {
        if !self.scalar || self.array.len() == len {
            return self.array;
        }
        if self.array.is_null(0) {
            return new_null_array(self.array.data_type(), len);
        }
        let idx = UInt32Array::from(vec![0u32; len]);
        // Taking index 0 of a one-element array cannot fail.
        arrow::compute::take(&self.array, &idx, None)
            .unwrap_or_else(|_| new_null_array(self.array.data_type(), len))
    }

    /// The value cast to `to` (a value that does not convert becomes NULL), still a constant
    /// if it was one.
    ///
    /// # Errors
    /// [`Error::Arrow`] when arrow has no cast between the types.
    pub fn cast(self, to: &DataType) -> Result<Val> {
        if self.data_type() == to {
            return Ok(self);
        }
        let options = CastOptions {
            safe: true,
            ..Default::default()
        };
        Ok(Val {
            array: cast_with_options(&self.array, to, &options)?,
            scalar: self.scalar,
        })
    }

    /// The values as BOOLEAN.
    ///
    /// # Errors
    /// [`Error::Plan`] when they are of another type.
    pub fn booleans(&self) -> Result<&BooleanArray> {
        self.array.as_boolean_opt().ok_or_else(|| {
            Error::plan(format!(
                "expected BOOLEAN, got {}",
                type_name(self.data_type())
            ))
        })
    }

    /// `f` applied to the array, keeping a constant a constant.
    ///
    /// # Errors
    /// What `f` returns.
    pub fn map(&self, f: impl FnOnce(&ArrayRef) -> Result<ArrayRef>) -> Result<Val> {
        Ok(Val {
            array: f(&self.array)?,
            scalar: self.scalar,
        })
    }
}

/// A UTF-8 map over a string column (no arrow kernel exists for these): `f` writes row
/// `x`'s result into a buffer reused across rows.
pub(super) fn map_str(v: &Val, f: impl Fn(&str, &mut String)) -> Result<Val> {
    v.map(|a| {
        let s = a.as_string::<i32>();
        let mut b = StringBuilder::with_capacity(s.len(), s.value_data().len());
        let mut buf = String::new();
        for x in s.iter() {
            match x {
                Some(x) => {
                    buf.clear();
                    f(x, &mut buf);
                    b.append_value(&buf);
                }
                None => b.append_null(),
            }
        }
        Ok(Arc::new(b.finish()))
    })
}

/// `f` over the value as DOUBLE.
pub(super) fn map_f64(v: Val, f: impl Fn(f64) -> f64) -> Result<Val> {
    let v = v.cast(&DataType::Float64)?;
    v.map(|a| {
        let out: PrimitiveArray<Float64Type> =
            arrow::compute::unary(a.as_primitive::<Float64Type>(), f);
        Ok(Arc::new(out))
    })
}

/// The BIGINT value of a constant (`None` for NULL); `what` names it in the error when `v`
/// is a column.
pub(super) fn scalar_i64(v: &Val, what: &str) -> Result<Option<i64>> {
    if !v.scalar {
        return Err(Error::plan(format!("{what} must be a constant")));
    }
    let v = v.clone().cast(&DataType::Int64)?;
    let a = v.array.as_primitive::<Int64Type>();
    Ok(if a.is_null(0) { None } else { Some(a.value(0)) })
}

/// Casts `args` to `t` and makes them arrays of one length: 1 when every one is a constant
/// (the result is a constant too), else the batch's `len`.
pub(super) fn broadcast(
    args: Vec<Val>,
    t: &DataType,
    len: usize,
) -> Result<(Vec<ArrayRef>, usize, bool)> {
    let scalar = args.iter().all(|a| a.scalar);
    let n = if scalar { 1 } else { len };
    let cols = args
        .into_iter()
        .map(|a| Ok(a.cast(t)?.into_array(n)))
        .collect::<Result<Vec<_>>>()?;
    Ok((cols, n, scalar))
}

/// Brings two values to a common length (both constants, or both full columns of `len`);
/// the flag says whether the result of combining them is a constant.
pub fn align(l: Val, r: Val, len: usize) -> (Val, Val, bool) {
    if l.scalar && r.scalar {
        (l, r, true)
    } else {
        (
            Val::column(l.into_array(len)),
            Val::column(r.into_array(len)),
            false,
        )
    }
}
