//! The operators of the expression language over whole arrays, with arrow's compute kernels:
//! arithmetic (wrapping on overflow, as BIGINT does on the JVM; `x / 0` is NULL), comparison
//! (with `-0.0 = 0.0`), three-valued logic, `||`, `LIKE`. Operands are cast by
//! [`binary_types`] first, the rule the planner typed them with. Constants stay constants.
//!
//! The same operators serve the functions defined by one (`MOD`, `NULLIF`, `CONCAT`), through
//! [`EvalOperators`], so each is evaluated in one place.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Datum, Int64Array, Scalar};
use arrow::compute::kernels::{boolean, cmp, numeric};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::error::ArrowError;

use strata_sql::functions::{Operators, Val, align};
use strata_sql::types::{TS, binary_types, is_ts, op_symbol, type_name};
use strata_sql::{Error, Result};

use crate::plan::BinaryOp;

/// The evaluator's operators, for the function kernels that call back to them.
pub(super) struct EvalOperators;

impl Operators for EvalOperators {
    fn binary(&self, op: BinaryOp, left: Val, right: Val, len: usize) -> Result<Val> {
        binary(op, left, right, len)
    }
}

/// `l op r` over `len` rows.
pub(super) fn binary(op: BinaryOp, l: Val, r: Val, len: usize) -> Result<Val> {
    use BinaryOp::*;
    let types = binary_types(op, l.data_type(), r.data_type())?;
    let l = l.cast(&types.left)?;
    let r = r.cast(&types.right)?;
    match op {
        Plus | Minus if types.result == TS || is_ts(&types.left) => {
            // Timestamp arithmetic in epoch milliseconds.
            let li = l.cast(&DataType::Int64)?;
            let ri = r.cast(&DataType::Int64)?;
            let out = arith(op, li, ri, len)?;
            out.cast(&types.result)
        }
        Plus | Minus | Multiply | Divide | Modulo => arith(op, l, r, len),
        Eq | NotEq | Lt | LtEq | Gt | GtEq if types.left == DataType::Float64 => {
            // arrow compares floats by total order, where -0.0 < 0.0; SQL says they are equal.
            let l = l.map(|a| Ok(positive_zero(a)))?;
            let r = r.map(|a| Ok(positive_zero(a)))?;
            compare(op, &l, &r)
        }
        Eq | NotEq | Lt | LtEq | Gt | GtEq => compare(op, &l, &r),
        And | Or => {
            let (l, r, scalar) = align(l, r, len);
            let (lb, rb) = (l.booleans()?, r.booleans()?);
            let out = if op == And {
                boolean::and_kleene(lb, rb)?
            } else {
                boolean::or_kleene(lb, rb)?
            };
            Ok(Val {
                array: Arc::new(out),
                scalar,
            })
        }
        Concat => {
            let (l, r, scalar) = align(l, r, len);
            let out = arrow::compute::kernels::concat_elements::concat_elements_utf8(
                l.array.as_string::<i32>(),
                r.array.as_string::<i32>(),
            )?;
            Ok(Val {
                array: Arc::new(out),
                scalar,
            })
        }
        Like => kernel2(&l, &r, arrow::compute::kernels::comparison::like),
        NotLike => kernel2(&l, &r, arrow::compute::kernels::comparison::nlike),
    }
}

/// `NOT v`, three-valued.
pub(super) fn not(v: Val) -> Result<Val> {
    let out = boolean::not(v.booleans()?)?;
    Ok(Val {
        array: Arc::new(out),
        scalar: v.scalar,
    })
}

/// The two operands as arrow `Datum`s: a constant as a `Scalar`, so the kernel broadcasts it.
fn datums(
    l: &Val,
    r: &Val,
    f: impl FnOnce(&dyn Datum, &dyn Datum) -> std::result::Result<ArrayRef, ArrowError>,
) -> Result<Val> {
    let ls;
    let rs;
    let ld: &dyn Datum = if l.scalar {
        ls = Scalar::new(l.array.clone());
        &ls
    } else {
        &l.array
    };
    let rd: &dyn Datum = if r.scalar {
        rs = Scalar::new(r.array.clone());
        &rs
    } else {
        &r.array
    };
    Ok(Val {
        array: f(ld, rd)?,
        scalar: l.scalar && r.scalar,
    })
}

/// Applies a Datum kernel that returns a typed array, keeping constants constant.
fn kernel2<T: Array + 'static>(
    l: &Val,
    r: &Val,
    f: impl Fn(&dyn Datum, &dyn Datum) -> std::result::Result<T, ArrowError>,
) -> Result<Val> {
    datums(l, r, |a, b| Ok(Arc::new(f(a, b)?) as ArrayRef))
}

fn compare(op: BinaryOp, l: &Val, r: &Val) -> Result<Val> {
    use BinaryOp::*;
    match op {
        Eq => kernel2(l, r, cmp::eq),
        NotEq => kernel2(l, r, cmp::neq),
        Lt => kernel2(l, r, cmp::lt),
        LtEq => kernel2(l, r, cmp::lt_eq),
        Gt => kernel2(l, r, cmp::gt),
        GtEq => kernel2(l, r, cmp::gt_eq),
        _ => Err(Error::plan(format!(
            "{} is not a comparison",
            op_symbol(op)
        ))),
    }
}

fn positive_zero(a: &ArrayRef) -> ArrayRef {
    let f = a.as_primitive::<Float64Type>();
    Arc::new(arrow::compute::unary::<_, _, Float64Type>(f, |x| x + 0.0))
}

/// Arithmetic on two Int64 or two Float64 values.
fn arith(op: BinaryOp, l: Val, r: Val, len: usize) -> Result<Val> {
    use BinaryOp::*;
    match op {
        Plus => datums(&l, &r, numeric::add_wrapping),
        Minus => datums(&l, &r, numeric::sub_wrapping),
        Multiply => datums(&l, &r, numeric::mul_wrapping),
        Divide | Modulo => divide(op == Modulo, l, r, len),
        _ => Err(Error::plan(format!("{} is not arithmetic", op_symbol(op)))),
    }
}

/// Division and modulo with SQL's "x / 0 is NULL" (arrow would fail the whole batch).
fn divide(modulo: bool, l: Val, r: Val, len: usize) -> Result<Val> {
    let (l, r, scalar) = align(l, r, len);
    let out: ArrayRef = match l.data_type() {
        DataType::Int64 => {
            let a = l.array.as_primitive::<Int64Type>();
            let b = r.array.as_primitive::<Int64Type>();
            let op = |x: i64, y: i64| -> Option<i64> {
                if y == 0 {
                    None
                } else if modulo {
                    Some(x.wrapping_rem(y))
                } else {
                    Some(x.wrapping_div(y))
                }
            };
            let out: Int64Array = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| match (x, y) {
                    (Some(x), Some(y)) => op(x, y),
                    _ => None,
                })
                .collect();
            Arc::new(out)
        }
        DataType::Float64 => {
            let a = l.array.as_primitive::<Float64Type>();
            let b = r.array.as_primitive::<Float64Type>();
            let q = if modulo {
                numeric::rem(a, b)?
            } else {
                numeric::div(a, b)?
            };
            // `y == 0.0` rather than arrow's `eq`, whose total order tells -0.0 from 0.0.
            let zero = BooleanArray::from_unary(b, |y| y == 0.0);
            arrow::compute::nullif(&q, &zero)?
        }
        t => {
            return Err(Error::plan(format!(
                "cannot divide {} values",
                type_name(t)
            )));
        }
    };
    Ok(Val { array: out, scalar })
}
