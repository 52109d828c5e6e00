//! The conditional functions: the first non-NULL value, NULL on a match, the greatest and the
//! least of values.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, NullArray};
use arrow::compute::kernels::{boolean, cmp, zip};
use arrow::compute::prep_null_mask_filter;
use arrow::datatypes::DataType;

use crate::error::{Error, Result};
use crate::plan::BinaryOp;
use crate::types::{binary_types, unify};

use super::entry::{ArgTypes, Arity, Call, ScalarFunction};
use super::value::{Val, align};

/// The conditional functions' registry entries.
pub(super) static FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "coalesce",
        aliases: &["ifnull", "nvl"],
        arity: Arity::at_least(1),
        args: &[],
        returns: common_type,
        check: None,
        kernel: coalesce,
        signature: "`COALESCE(a, b, …)`, `IFNULL(a, b)` / `NVL(a, b)`",
        doc: "The first argument that is not NULL (NULL if all are); the arguments must have a common type",
    },
    ScalarFunction {
        name: "nullif",
        aliases: &[],
        arity: Arity::exactly(2),
        args: &[],
        returns: first_if_comparable,
        check: None,
        kernel: nullif,
        signature: "`NULLIF(a, b)`",
        doc: "NULL where `a = b`, else `a` (`NULLIF(a, NULL)` is `a`)",
    },
    ScalarFunction {
        name: "greatest",
        aliases: &[],
        arity: Arity::at_least(1),
        args: &[],
        returns: common_type,
        check: None,
        kernel: greatest,
        signature: "`GREATEST(a, b, …)`",
        doc: "The greatest argument; NULL arguments are ignored (NULL if all are), as in PostgreSQL",
    },
    ScalarFunction {
        name: "least",
        aliases: &[],
        arity: Arity::at_least(1),
        args: &[],
        returns: common_type,
        check: None,
        kernel: least,
        signature: "`LEAST(a, b, …)`",
        doc: "The least argument; NULL arguments are ignored (NULL if all are)",
    },
];

/// The type all arguments unify to. `IFNULL` and `NVL`, written by name in a plan (the
/// planner writes `COALESCE` for them), take exactly two.
fn common_type(call: &ArgTypes<'_>) -> Result<DataType> {
    if matches!(call.name, "ifnull" | "nvl") {
        call.arity(2, usize::MAX)?;
        call.arity(2, 2)?;
    }
    let mut t = DataType::Null;
    for a in call.types {
        t = unify(
            &t,
            a,
            &format!("arguments of {}()", call.name.to_uppercase()),
        )?;
    }
    Ok(t)
}

/// `NULLIF(a, b)`: `a`'s type, when `a = b` is defined.
fn first_if_comparable(call: &ArgTypes<'_>) -> Result<DataType> {
    binary_types(BinaryOp::Eq, &call.types[0], &call.types[1])?;
    Ok(call.types[0].clone())
}

/// `b` with NULL as false (arrow's `prep_null_mask_filter` needs a null buffer).
fn null_as_false(b: &BooleanArray) -> BooleanArray {
    if b.null_count() > 0 {
        prep_null_mask_filter(b)
    } else {
        BooleanArray::new(b.values().clone(), None)
    }
}

fn coalesce(call: Call<'_>) -> Result<Val> {
    coalesce_values(call.args, &call.return_type, call.len)
}

/// The first of `args` (cast to `out_t`) that is not NULL, row by row.
pub(super) fn coalesce_values(args: Vec<Val>, out_t: &DataType, len: usize) -> Result<Val> {
    if *out_t == DataType::Null {
        return Ok(Val::scalar(Arc::new(NullArray::new(1))));
    }
    let mut it = args.into_iter().rev();
    let mut acc = match it.next() {
        Some(v) => v.cast(out_t)?,
        None => return Err(Error::plan("COALESCE() needs arguments")),
    };
    for v in it {
        let v = v.cast(out_t)?;
        let present = boolean::is_not_null(&v.array)?;
        let (v, acc2, scalar) = align(v, acc, len);
        let mask = if v.array.len() == present.len() {
            present
        } else {
            boolean::is_not_null(&v.array)?
        };
        acc = Val {
            array: zip::zip(&mask, &v.array, &acc2.array)?,
            scalar,
        };
    }
    Ok(acc)
}

fn nullif(call: Call<'_>) -> Result<Val> {
    let len = call.len;
    let a = call.args[0].clone();
    let eq = call
        .operators
        .binary(BinaryOp::Eq, a.clone(), call.args[1].clone(), len)?;
    let (a, eq, scalar) = align(a, eq, len);
    let mask = null_as_false(eq.booleans()?);
    Ok(Val {
        array: arrow::compute::nullif(&a.array, &mask)?,
        scalar,
    })
}

fn greatest(call: Call<'_>) -> Result<Val> {
    extreme(call, "GREATEST", true)
}

fn least(call: Call<'_>) -> Result<Val> {
    extreme(call, "LEAST", false)
}

/// The greatest (or least) argument per row; NULL arguments are ignored, as in PostgreSQL.
fn extreme(call: Call<'_>, upper: &str, greatest: bool) -> Result<Val> {
    let (out_t, len) = (call.return_type, call.len);
    if out_t == DataType::Null {
        return Ok(Val::scalar(Arc::new(NullArray::new(1))));
    }
    let mut acc: Option<Val> = None;
    for v in call.args {
        let v = v.cast(&out_t)?;
        acc = Some(match acc {
            None => v,
            Some(a) => {
                let (a, v, scalar) = align(a, v, len);
                let better = if greatest {
                    cmp::gt(&v.array, &a.array)?
                } else {
                    cmp::lt(&v.array, &a.array)?
                };
                // Take v where it is better, or where the accumulator is NULL.
                let a_null = boolean::is_null(&a.array)?;
                let take_v = boolean::or(&null_as_false(&better), &a_null)?;
                Val {
                    array: zip::zip(&take_v, &v.array, &a.array)?,
                    scalar,
                }
            }
        });
    }
    acc.ok_or_else(|| Error::plan(format!("{upper}() needs arguments")))
}
