//! The numeric functions: absolute value, sign, rounding, roots, logarithms, powers, modulo.

use std::sync::Arc;

use arrow::array::{AsArray, Float64Array, Int64Array, new_null_array};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::error::Result;
use crate::plan::BinaryOp;
use crate::types::binary_types;

use super::entry::{ArgType, ArgTypes, Arity, Call, ScalarFunction, returns_double};
use super::value::{Val, align, map_f64, scalar_i64};

use ArgType::{BigInt, Numeric};

/// The numeric functions' registry entries.
pub(super) static FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "abs",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: same_as_first,
        check: None,
        kernel: abs,
        signature: "`ABS(x)`",
        doc: "The absolute value, of `x`'s type (BIGINT wraps: `ABS` of the least BIGINT is itself)",
    },
    ScalarFunction {
        name: "sign",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: same_as_first,
        check: None,
        kernel: sign,
        signature: "`SIGN(x)`",
        doc: "-1, 0 or 1, of `x`'s type",
    },
    ScalarFunction {
        name: "round",
        aliases: &[],
        arity: Arity::between(1, 2),
        args: &[Numeric, BigInt],
        returns: integer_if_integer,
        check: None,
        kernel: round,
        signature: "`ROUND(x [, digits])`",
        doc: "`x` rounded half away from zero to `digits` decimal places (default 0; negative rounds to tens, hundreds, …); `digits` must be a constant",
    },
    ScalarFunction {
        name: "floor",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: integer_if_integer,
        check: None,
        kernel: floor,
        signature: "`FLOOR(x)`",
        doc: "The greatest whole number not above `x`",
    },
    ScalarFunction {
        name: "ceil",
        aliases: &["ceiling"],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: integer_if_integer,
        check: None,
        kernel: ceil,
        signature: "`CEIL(x)` / `CEILING(x)`",
        doc: "The least whole number not below `x`",
    },
    ScalarFunction {
        name: "sqrt",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: returns_double,
        check: None,
        kernel: sqrt,
        signature: "`SQRT(x)`",
        doc: "DOUBLE: the square root (NaN below 0)",
    },
    ScalarFunction {
        name: "ln",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: returns_double,
        check: None,
        kernel: ln,
        signature: "`LN(x)`",
        doc: "DOUBLE: the natural logarithm",
    },
    ScalarFunction {
        name: "log10",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: returns_double,
        check: None,
        kernel: log10,
        signature: "`LOG10(x)`",
        doc: "DOUBLE: the base-10 logarithm",
    },
    ScalarFunction {
        name: "exp",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Numeric],
        returns: returns_double,
        check: None,
        kernel: exp,
        signature: "`EXP(x)`",
        doc: "DOUBLE: e to the power `x`",
    },
    ScalarFunction {
        name: "power",
        aliases: &["pow"],
        arity: Arity::exactly(2),
        args: &[Numeric, Numeric],
        returns: returns_double,
        check: None,
        kernel: power,
        signature: "`POWER(x, y)` / `POW(x, y)`",
        doc: "DOUBLE: `x` to the power `y`",
    },
    ScalarFunction {
        name: "mod",
        aliases: &[],
        arity: Arity::exactly(2),
        args: &[],
        returns: modulo_type,
        check: None,
        kernel: modulo,
        signature: "`MOD(a, b)`",
        doc: "`a % b`: BIGINT for BIGINTs, else DOUBLE; NULL when `b` is 0",
    },
];

/// `x`'s type (BIGINT for a NULL).
fn same_as_first(call: &ArgTypes<'_>) -> Result<DataType> {
    Ok(if call.types[0] == DataType::Null {
        DataType::Int64
    } else {
        call.types[0].clone()
    })
}

/// BIGINT for a BIGINT `x`, else DOUBLE.
fn integer_if_integer(call: &ArgTypes<'_>) -> Result<DataType> {
    Ok(if call.types[0] == DataType::Int64 {
        DataType::Int64
    } else {
        DataType::Float64
    })
}

/// The type `a % b` has.
fn modulo_type(call: &ArgTypes<'_>) -> Result<DataType> {
    Ok(binary_types(BinaryOp::Modulo, &call.types[0], &call.types[1])?.result)
}

fn abs(call: Call<'_>) -> Result<Val> {
    let v = call.arg(0, &call.return_type)?;
    match call.return_type {
        DataType::Int64 => v.map(|a| {
            let out: Int64Array =
                arrow::compute::unary(a.as_primitive::<Int64Type>(), i64::wrapping_abs);
            Ok(Arc::new(out))
        }),
        _ => map_f64(v, f64::abs),
    }
}

fn sign(call: Call<'_>) -> Result<Val> {
    let v = call.arg(0, &call.return_type)?;
    match call.return_type {
        DataType::Int64 => v.map(|a| {
            let out: Int64Array = arrow::compute::unary(a.as_primitive::<Int64Type>(), i64::signum);
            Ok(Arc::new(out))
        }),
        _ => map_f64(v, |x| {
            if x == 0.0 || x.is_nan() {
                x
            } else {
                x.signum()
            }
        }),
    }
}

fn round(call: Call<'_>) -> Result<Val> {
    let out_t = &call.return_type;
    let digits = if call.args.len() == 2 {
        scalar_i64(&call.args[1], "the second argument of ROUND")?
    } else {
        Some(0)
    };
    let Some(digits) = digits else {
        return Ok(Val::scalar(new_null_array(out_t, 1)));
    };
    let v = call.args[0].clone();
    if *out_t == DataType::Int64 {
        if digits >= 0 {
            return v.cast(&DataType::Int64);
        }
        let p = 10f64.powi(
            i32::try_from(digits.saturating_neg())
                .unwrap_or(i32::MAX)
                .min(300),
        );
        return map_f64(v, |x| (x / p).round() * p)?.cast(&DataType::Int64);
    }
    let p = 10f64.powi(i32::try_from(digits).unwrap_or(i32::MAX).clamp(-300, 300));
    map_f64(v, |x| (x * p).round() / p)
}

/// `f` over DOUBLE; a BIGINT is already whole.
fn whole(call: Call<'_>, f: fn(f64) -> f64) -> Result<Val> {
    let v = call.args[0].clone();
    if call.return_type == DataType::Int64 {
        return v.cast(&DataType::Int64);
    }
    map_f64(v, f)
}

fn floor(call: Call<'_>) -> Result<Val> {
    whole(call, f64::floor)
}

fn ceil(call: Call<'_>) -> Result<Val> {
    whole(call, f64::ceil)
}

fn sqrt(call: Call<'_>) -> Result<Val> {
    map_f64(call.args[0].clone(), f64::sqrt)
}

fn ln(call: Call<'_>) -> Result<Val> {
    map_f64(call.args[0].clone(), f64::ln)
}

fn log10(call: Call<'_>) -> Result<Val> {
    map_f64(call.args[0].clone(), f64::log10)
}

fn exp(call: Call<'_>) -> Result<Val> {
    map_f64(call.args[0].clone(), f64::exp)
}

fn power(call: Call<'_>) -> Result<Val> {
    let a = call.arg(0, &DataType::Float64)?;
    let b = call.arg(1, &DataType::Float64)?;
    let (a, b, scalar) = align(a, b, call.len);
    let out: Float64Array = arrow::compute::binary(
        a.array.as_primitive::<Float64Type>(),
        b.array.as_primitive::<Float64Type>(),
        f64::powf,
    )?;
    Ok(Val {
        array: Arc::new(out),
        scalar,
    })
}

fn modulo(call: Call<'_>) -> Result<Val> {
    let (a, b) = (call.args[0].clone(), call.args[1].clone());
    call.operators.binary(BinaryOp::Modulo, a, b, call.len)
}
