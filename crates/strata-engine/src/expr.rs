//! Evaluation of plan expressions ([`Expr`]) over Arrow record batches, a column at a time.
//!
//! Every operator works on whole arrays with arrow's compute kernels (arithmetic, comparison,
//! boolean, `LIKE`, cast, zip); where arrow has no kernel (`UPPER`, `ROUND`, …) the function
//! is a typed loop over the array, never a per-row `match` over dynamic values. Constants stay
//! one-element "scalars" until something needs a full column, so `x * 2` costs one pass.
//!
//! The same typing rules serve [`data_type`] (used by the planner, so type errors surface at
//! `CREATE` time rather than on the first record) and [`evaluate`]:
//! - column types: `BIGINT` → Int64, `DOUBLE` → Float64, `VARCHAR` → Utf8, `BOOLEAN` → Boolean,
//!   `TIMESTAMP` → `Timestamp(Millisecond, None)` (see [`arrow_type`]);
//! - Int64 ⊕ Float64 → Float64; NULL literals take the type of the other side;
//! - integer arithmetic wraps on overflow (as BIGINT does in Flink and ksqlDB, which run on the
//!   JVM); division or modulo by zero gives NULL, for integers and floats alike;
//! - an interval literal is a number of milliseconds (Int64); timestamp ± Int64 → timestamp,
//!   timestamp − timestamp → Int64 milliseconds;
//! - a timestamp compares with a string (parsed as a timestamp) or an Int64 (epoch millis).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Datum, Float64Array, Int64Array, NullArray,
    PrimitiveArray, RecordBatch, Scalar, StringArray, StringBuilder, UInt32Array, new_null_array,
};
use arrow::compute::kernels::{boolean, cmp, numeric};
use arrow::compute::{CastOptions, cast_with_options, prep_null_mask_filter};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType};
use arrow::error::ArrowError;

use crate::error::{Error, NameKind, Result};
use crate::plan::{BinaryOp, Expr, Literal};

use strata_sql::date_format::DatePattern;
use strata_sql::types::{
    TS, binary_types, check_group, column_index, compile_regex, function_type, is_ts, op_symbol,
    type_name, unify,
};
pub use strata_sql::types::{arrow_type, data_type, sql_type};

/// Evaluates `expr` over `batch`; the result has one value per row.
///
/// # Errors
/// [`Error::Unknown`] for a column the batch lacks or an unknown function, [`Error::Plan`]
/// for operands of the wrong type, [`Error::Arrow`] when a kernel fails.
pub fn evaluate(expr: &Expr, batch: &RecordBatch) -> Result<ArrayRef> {
    if batch.num_rows() == 0 {
        // Some kernels (zip under CASE) do not take empty arrays with one-element constants.
        return Ok(arrow::array::new_empty_array(&data_type(
            expr,
            batch.schema_ref(),
        )?));
    }
    let mut cx = Cx {
        batch,
        memo: Vec::new(),
    };
    let v = eval(expr, &mut cx)?;
    Ok(v.into_array(batch.num_rows()))
}

/// `b` with NULL as false (arrow's `prep_null_mask_filter` needs a null buffer).
fn null_as_false(b: &BooleanArray) -> BooleanArray {
    if b.null_count() > 0 {
        prep_null_mask_filter(b)
    } else {
        BooleanArray::new(b.values().clone(), None)
    }
}

/// Evaluates a boolean `expr` over `batch` as a filter: NULL counts as false.
///
/// # Errors
/// As [`evaluate`], and [`Error::Plan`] when the expression is not boolean.
pub fn evaluate_predicate(expr: &Expr, batch: &RecordBatch) -> Result<BooleanArray> {
    let a = evaluate(expr, batch)?;
    match a.data_type() {
        DataType::Boolean => {
            let b = a.as_boolean();
            Ok(if b.null_count() > 0 {
                prep_null_mask_filter(b)
            } else {
                b.clone()
            })
        }
        DataType::Null => Ok(BooleanArray::from(vec![false; a.len()])),
        t => Err(Error::plan(format!(
            "a condition must be BOOLEAN, this one is {}",
            type_name(t)
        ))),
    }
}

/// A value during evaluation: a full column, or a constant held as a one-element array.
#[derive(Clone)]
struct Val {
    array: ArrayRef,
    scalar: bool,
}

impl Val {
    fn scalar(array: ArrayRef) -> Val {
        Val {
            array,
            scalar: true,
        }
    }

    fn column(array: ArrayRef) -> Val {
        Val {
            array,
            scalar: false,
        }
    }

    fn data_type(&self) -> &DataType {
        self.array.data_type()
    }

    /// The value as a column of `len` rows.
    fn into_array(self, len: usize) -> ArrayRef {
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

    fn cast(self, to: &DataType) -> Result<Val> {
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

    fn map(&self, f: impl FnOnce(&ArrayRef) -> Result<ArrayRef>) -> Result<Val> {
        Ok(Val {
            array: f(&self.array)?,
            scalar: self.scalar,
        })
    }
}

/// Applies a Datum kernel, keeping scalars scalar.
fn kernel2<T: Array + 'static>(
    l: &Val,
    r: &Val,
    f: impl Fn(&dyn Datum, &dyn Datum) -> std::result::Result<T, ArrowError>,
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
    let out = f(ld, rd)?;
    Ok(Val {
        array: Arc::new(out),
        scalar: l.scalar && r.scalar,
    })
}

fn kernel2_ref(
    l: &Val,
    r: &Val,
    f: impl Fn(&dyn Datum, &dyn Datum) -> std::result::Result<ArrayRef, ArrowError>,
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

/// Brings two values to a common length (both scalar, or both full columns of `len`).
fn align(l: Val, r: Val, len: usize) -> (Val, Val, bool) {
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

fn bool_of(v: &Val) -> Result<&BooleanArray> {
    v.array.as_boolean_opt().ok_or_else(|| {
        Error::plan(format!(
            "expected BOOLEAN, got {}",
            type_name(v.data_type())
        ))
    })
}

/// One evaluation's batch, and the function calls already evaluated in it: a call that
/// occurs again in the expression (`CASE WHEN LOWER(c) = 'a' … WHEN LOWER(c) = 'b' …`) is
/// computed once.
struct Cx<'e, 'b> {
    batch: &'b RecordBatch,
    memo: Vec<(&'e Expr, Val)>,
}

fn eval<'e>(expr: &'e Expr, cx: &mut Cx<'e, '_>) -> Result<Val> {
    let batch = cx.batch;
    let len = batch.num_rows();
    match expr {
        Expr::Column(name) => {
            let i = column_index(batch.schema_ref(), name)?;
            Ok(Val::column(batch.column(i).clone()))
        }
        Expr::Literal(l) => Ok(Val::scalar(literal_array(l))),
        Expr::Binary { op, left, right } => {
            let l = eval(left, cx)?;
            let r = eval(right, cx)?;
            binary(*op, l, r, len)
        }
        Expr::Not(e) => {
            let v = eval(e, cx)?.cast(&DataType::Boolean)?;
            let out = boolean::not(bool_of(&v)?)?;
            Ok(Val {
                array: Arc::new(out),
                scalar: v.scalar,
            })
        }
        Expr::Negate(e) => {
            let v = eval(e, cx)?;
            match v.data_type() {
                DataType::Int64 | DataType::Float64 => v.map(|a| Ok(numeric::neg_wrapping(a)?)),
                DataType::Null => Ok(v),
                t => Err(Error::plan(format!(
                    "cannot negate a {} value",
                    type_name(t)
                ))),
            }
        }
        Expr::IsNull { expr, negated } => {
            let v = eval(expr, cx)?;
            let out = if *negated {
                boolean::is_not_null(&v.array)?
            } else {
                boolean::is_null(&v.array)?
            };
            Ok(Val {
                array: Arc::new(out),
                scalar: v.scalar,
            })
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let v = eval(expr, cx)?;
            let mut acc: Option<Val> = None;
            for item in list {
                let eq = binary(BinaryOp::Eq, v.clone(), eval(item, cx)?, len)?;
                acc = Some(match acc {
                    None => eq,
                    Some(a) => binary(BinaryOp::Or, a, eq, len)?,
                });
            }
            let acc = match acc {
                Some(a) => a,
                None => Val::scalar(Arc::new(BooleanArray::from(vec![false]))),
            };
            if *negated { not(acc) } else { Ok(acc) }
        }
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let v = eval(expr, cx)?;
            let ge = binary(BinaryOp::GtEq, v.clone(), eval(low, cx)?, len)?;
            let le = binary(BinaryOp::LtEq, v, eval(high, cx)?, len)?;
            let both = binary(BinaryOp::And, ge, le, len)?;
            if *negated { not(both) } else { Ok(both) }
        }
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => case(operand.as_deref(), branches, otherwise.as_deref(), cx),
        Expr::Cast { expr, to } => {
            let v = eval(expr, cx)?;
            v.cast(&arrow_type(*to))
        }
        Expr::Function { name, args } => {
            if let Some((_, v)) = cx.memo.iter().find(|(e, _)| *e == expr) {
                return Ok(v.clone());
            }
            let vals = args
                .iter()
                .map(|a| eval(a, cx))
                .collect::<Result<Vec<_>>>()?;
            let v = function(name, vals, len)?;
            cx.memo.push((expr, v.clone()));
            Ok(v)
        }
    }
}

fn not(v: Val) -> Result<Val> {
    let out = boolean::not(bool_of(&v)?)?;
    Ok(Val {
        array: Arc::new(out),
        scalar: v.scalar,
    })
}

fn literal_array(l: &Literal) -> ArrayRef {
    match l {
        Literal::Null => Arc::new(NullArray::new(1)),
        Literal::Boolean(b) => Arc::new(BooleanArray::from(vec![*b])),
        Literal::Int(i) | Literal::IntervalMs(i) => Arc::new(Int64Array::from(vec![*i])),
        Literal::Float(f) => Arc::new(Float64Array::from(vec![*f])),
        Literal::String(s) => Arc::new(StringArray::from(vec![s.as_str()])),
    }
}

fn binary(op: BinaryOp, l: Val, r: Val, len: usize) -> Result<Val> {
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
            let (lb, rb) = (bool_of(&l)?, bool_of(&r)?);
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
        Plus => kernel2_ref(&l, &r, numeric::add_wrapping),
        Minus => kernel2_ref(&l, &r, numeric::sub_wrapping),
        Multiply => kernel2_ref(&l, &r, numeric::mul_wrapping),
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

fn case<'e>(
    operand: Option<&'e Expr>,
    branches: &'e [(Expr, Expr)],
    otherwise: Option<&'e Expr>,
    cx: &mut Cx<'e, '_>,
) -> Result<Val> {
    let len = cx.batch.num_rows();
    let operand = operand.map(|o| eval(o, cx)).transpose()?;
    let mut conds = Vec::with_capacity(branches.len());
    let mut thens = Vec::with_capacity(branches.len());
    let mut out_t = DataType::Null;
    for (when, then) in branches {
        let w = eval(when, cx)?;
        let c = match &operand {
            Some(o) => binary(BinaryOp::Eq, o.clone(), w, len)?,
            None => w.cast(&DataType::Boolean)?,
        };
        conds.push(c);
        let t = eval(then, cx)?;
        out_t = unify(&out_t, t.data_type(), "CASE branches")?;
        thens.push(t);
    }
    let els = match otherwise {
        Some(e) => eval(e, cx)?,
        None => Val::scalar(Arc::new(NullArray::new(1))),
    };
    out_t = unify(&out_t, els.data_type(), "CASE branches")?;
    if out_t == DataType::Null {
        return Ok(Val::scalar(Arc::new(NullArray::new(1))));
    }
    // The first branch whose condition is true (NULL counts as false) picks the row's value;
    // the values are then gathered in one pass.
    let values: Vec<Val> = thens
        .into_iter()
        .chain(std::iter::once(els))
        .map(|v| v.cast(&out_t))
        .collect::<Result<_>>()?;
    let otherwise = branches.len();
    let scalar = conds.iter().all(|c| c.scalar) && values.iter().all(|v| v.scalar);
    let n = if scalar { 1 } else { len };
    let mut chosen = vec![otherwise; n];
    let mut open = n;
    for (b, c) in conds.iter().enumerate() {
        if open == 0 {
            break;
        }
        let c = bool_of(c)?;
        let at = |i: usize| if c.len() == 1 { 0 } else { i };
        for (i, pick) in chosen.iter_mut().enumerate() {
            if *pick == otherwise && c.is_valid(at(i)) && c.value(at(i)) {
                *pick = b;
                open -= 1;
            }
        }
    }
    let arrays: Vec<&dyn Array> = values.iter().map(|v| v.array.as_ref()).collect();
    let indices: Vec<(usize, usize)> = chosen
        .iter()
        .enumerate()
        .map(|(i, &b)| (b, if values[b].scalar { 0 } else { i }))
        .collect();
    Ok(Val {
        array: arrow::compute::interleave(&arrays, &indices)?,
        scalar,
    })
}

/// A UTF-8 map over a string column (no arrow kernel exists for these): `f` writes row
/// `x`'s result into a buffer reused across rows.
fn map_str(v: &Val, f: impl Fn(&str, &mut String)) -> Result<Val> {
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

/// Upper or lower case: ASCII in place in the buffer, other text by Unicode's rules.
fn change_case(x: &str, out: &mut String, upper: bool) {
    if x.is_ascii() {
        out.push_str(x);
        if upper {
            out.make_ascii_uppercase();
        } else {
            out.make_ascii_lowercase();
        }
    } else if upper {
        out.push_str(&x.to_uppercase());
    } else {
        out.push_str(&x.to_lowercase());
    }
}

fn map_f64(v: Val, f: impl Fn(f64) -> f64) -> Result<Val> {
    let v = v.cast(&DataType::Float64)?;
    v.map(|a| {
        let out: PrimitiveArray<Float64Type> =
            arrow::compute::unary(a.as_primitive::<Float64Type>(), f);
        Ok(Arc::new(out))
    })
}

fn scalar_i64(v: &Val, what: &str) -> Result<Option<i64>> {
    if !v.scalar {
        return Err(Error::plan(format!("{what} must be a constant")));
    }
    let v = v.clone().cast(&DataType::Int64)?;
    let a = v.array.as_primitive::<Int64Type>();
    Ok(if a.is_null(0) { None } else { Some(a.value(0)) })
}

fn function(name: &str, args: Vec<Val>, len: usize) -> Result<Val> {
    let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
    let out_t = function_type(name, &types)?;
    let mut args = args;
    // A NULL argument of a string or numeric function: cast it to the type the function wants.
    let arg =
        |args: &mut Vec<Val>, i: usize, t: &DataType| -> Result<Val> { args[i].clone().cast(t) };
    match name {
        "upper" | "ucase" => map_str(&arg(&mut args, 0, &DataType::Utf8)?, |x, out| {
            change_case(x, out, true);
        }),
        "lower" | "lcase" => map_str(&arg(&mut args, 0, &DataType::Utf8)?, |x, out| {
            change_case(x, out, false);
        }),
        "trim" => map_str(&arg(&mut args, 0, &DataType::Utf8)?, |x, out| {
            out.push_str(x.trim());
        }),
        "ltrim" => map_str(&arg(&mut args, 0, &DataType::Utf8)?, |x, out| {
            out.push_str(x.trim_start());
        }),
        "rtrim" => map_str(&arg(&mut args, 0, &DataType::Utf8)?, |x, out| {
            out.push_str(x.trim_end());
        }),
        "length" | "len" | "char_length" | "character_length" => {
            let v = arg(&mut args, 0, &DataType::Utf8)?;
            v.map(|a| {
                let s = a.as_string::<i32>();
                let out: Int64Array = s
                    .iter()
                    .map(|x| x.map(|x| x.chars().count() as i64))
                    .collect();
                Ok(Arc::new(out))
            })
        }
        "substring" | "substr" => {
            let s = arg(&mut args, 0, &DataType::Utf8)?;
            let start = arg(&mut args, 1, &DataType::Int64)?;
            let count = if args.len() == 3 {
                Some(arg(&mut args, 2, &DataType::Int64)?)
            } else {
                None
            };
            let scalar = s.scalar && start.scalar && count.as_ref().is_none_or(|c| c.scalar);
            let n = if scalar { 1 } else { len };
            let s = s.into_array(n);
            let start = start.into_array(n);
            let count = count.map(|c| c.into_array(n));
            let s = s.as_string::<i32>();
            let st = start.as_primitive::<Int64Type>();
            let ct = count.as_ref().map(|c| c.as_primitive::<Int64Type>());
            let mut b = StringBuilder::with_capacity(n, s.value_data().len());
            for i in 0..n {
                if s.is_null(i) || st.is_null(i) || ct.is_some_and(|c| c.is_null(i)) {
                    b.append_null();
                    continue;
                }
                b.append_value(sql_substring(
                    s.value(i),
                    st.value(i),
                    ct.map(|c| c.value(i)),
                ));
            }
            Ok(Val {
                array: Arc::new(b.finish()),
                scalar,
            })
        }
        "concat" => {
            // CONCAT skips NULLs (PostgreSQL, ksqlDB); `||` propagates them.
            let mut acc = Val::scalar(Arc::new(StringArray::from(vec![""])));
            for a in args {
                let a = a.cast(&DataType::Utf8)?;
                let empty = Val::scalar(Arc::new(StringArray::from(vec![""])));
                let a = function("coalesce", vec![a, empty], len)?;
                acc = binary(BinaryOp::Concat, acc, a, len)?;
            }
            Ok(acc)
        }
        "coalesce" | "ifnull" | "nvl" => {
            if out_t == DataType::Null {
                return Ok(Val::scalar(Arc::new(NullArray::new(1))));
            }
            let mut it = args.into_iter().rev();
            let mut acc = match it.next() {
                Some(v) => v.cast(&out_t)?,
                None => return Err(Error::plan("COALESCE() needs arguments")),
            };
            for v in it {
                let v = v.cast(&out_t)?;
                let present = boolean::is_not_null(&v.array)?;
                let (v, acc2, scalar) = align(v, acc, len);
                let mask = if v.array.len() == present.len() {
                    present
                } else {
                    boolean::is_not_null(&v.array)?
                };
                acc = Val {
                    array: arrow::compute::kernels::zip::zip(&mask, &v.array, &acc2.array)?,
                    scalar,
                };
            }
            Ok(acc)
        }
        "nullif" => {
            let a = args[0].clone();
            let eq = binary(BinaryOp::Eq, a.clone(), args[1].clone(), len)?;
            let (a, eq, scalar) = align(a, eq, len);
            let mask = null_as_false(bool_of(&eq)?);
            Ok(Val {
                array: arrow::compute::nullif(&a.array, &mask)?,
                scalar,
            })
        }
        "greatest" | "least" => {
            if out_t == DataType::Null {
                return Ok(Val::scalar(Arc::new(NullArray::new(1))));
            }
            // NULL arguments are ignored, as in PostgreSQL.
            let mut acc: Option<Val> = None;
            for v in args {
                let v = v.cast(&out_t)?;
                acc = Some(match acc {
                    None => v,
                    Some(a) => {
                        let (a, v, scalar) = align(a, v, len);
                        let better = if name == "greatest" {
                            cmp::gt(&v.array, &a.array)?
                        } else {
                            cmp::lt(&v.array, &a.array)?
                        };
                        // Take v where it is better, or where the accumulator is NULL.
                        let a_null = boolean::is_null(&a.array)?;
                        let take_v = boolean::or(&null_as_false(&better), &a_null)?;
                        Val {
                            array: arrow::compute::kernels::zip::zip(&take_v, &v.array, &a.array)?,
                            scalar,
                        }
                    }
                });
            }
            acc.ok_or_else(|| Error::plan(format!("{}() needs arguments", name.to_uppercase())))
        }
        "abs" => {
            let v = arg(&mut args, 0, &out_t)?;
            match out_t {
                DataType::Int64 => v.map(|a| {
                    let out: Int64Array =
                        arrow::compute::unary(a.as_primitive::<Int64Type>(), i64::wrapping_abs);
                    Ok(Arc::new(out))
                }),
                _ => map_f64(v, f64::abs),
            }
        }
        "sign" => {
            let v = arg(&mut args, 0, &out_t)?;
            match out_t {
                DataType::Int64 => v.map(|a| {
                    let out: Int64Array =
                        arrow::compute::unary(a.as_primitive::<Int64Type>(), i64::signum);
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
        "round" => {
            let digits = if args.len() == 2 {
                scalar_i64(&args[1], "the second argument of ROUND")?
            } else {
                Some(0)
            };
            let Some(digits) = digits else {
                return Ok(Val::scalar(new_null_array(&out_t, 1)));
            };
            let v = args[0].clone();
            if out_t == DataType::Int64 {
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
        "floor" | "ceil" | "ceiling" => {
            let v = args[0].clone();
            if out_t == DataType::Int64 {
                return v.cast(&DataType::Int64);
            }
            if name == "floor" {
                map_f64(v, f64::floor)
            } else {
                map_f64(v, f64::ceil)
            }
        }
        "sqrt" => map_f64(args[0].clone(), f64::sqrt),
        "ln" => map_f64(args[0].clone(), f64::ln),
        "log10" => map_f64(args[0].clone(), f64::log10),
        "exp" => map_f64(args[0].clone(), f64::exp),
        "power" | "pow" => {
            let a = args[0].clone().cast(&DataType::Float64)?;
            let b = args[1].clone().cast(&DataType::Float64)?;
            let (a, b, scalar) = align(a, b, len);
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
        "mod" => binary(BinaryOp::Modulo, args[0].clone(), args[1].clone(), len),
        "hour" | "minute" | "second" => {
            let (unit, modulus) = match name {
                "hour" => (3_600_000, 24),
                "minute" => (60_000, 60),
                _ => (1_000, 60),
            };
            let v = arg(
                &mut args,
                0,
                &DataType::Timestamp(TimeUnit::Millisecond, None),
            )?;
            v.map(|a| {
                let out: Int64Array = arrow::compute::unary(
                    a.as_primitive::<TimestampMillisecondType>(),
                    |ms: i64| ms.div_euclid(unit).rem_euclid(modulus),
                );
                Ok(Arc::new(out))
            })
        }
        "replace" => {
            let (cols, n, scalar) = broadcast(args, &DataType::Utf8, len)?;
            let (s, from, to) = (
                cols[0].as_string::<i32>(),
                cols[1].as_string::<i32>(),
                cols[2].as_string::<i32>(),
            );
            let mut b = StringBuilder::with_capacity(n, s.value_data().len());
            for i in 0..n {
                if s.is_null(i) || from.is_null(i) || to.is_null(i) {
                    b.append_null();
                } else if from.value(i).is_empty() {
                    b.append_value(s.value(i));
                } else {
                    b.append_value(s.value(i).replace(from.value(i), to.value(i)));
                }
            }
            Ok(Val {
                array: Arc::new(b.finish()),
                scalar,
            })
        }
        "regexp_extract" => regexp_extract(&args),
        "date_format" => {
            if !args[1].scalar {
                return Err(Error::plan(
                    "the pattern (argument 2) of DATE_FORMAT() must be a constant string",
                ));
            }
            let pattern = arg(&mut args, 1, &DataType::Utf8)?;
            let pattern = pattern.array.as_string::<i32>();
            let ts = arg(
                &mut args,
                0,
                &DataType::Timestamp(TimeUnit::Millisecond, None),
            )?;
            if pattern.is_null(0) {
                return Ok(Val {
                    array: new_null_array(&DataType::Utf8, ts.array.len()),
                    scalar: ts.scalar,
                });
            }
            let pattern = DatePattern::parse(pattern.value(0))?;
            ts.map(|a| {
                let text = pattern.format(a.as_primitive()).map_err(|_| {
                    Error::Eval("DATE_FORMAT(): chrono cannot format a time".into())
                })?;
                Ok(Arc::new(text))
            })
        }
        "split_index" => {
            let index = arg(&mut args, 2, &DataType::Int64)?;
            let scalar = args.iter().all(|a| a.scalar);
            let n = if scalar { 1 } else { len };
            let index = index.into_array(n);
            let (cols, _, _) = broadcast(
                args[..2]
                    .iter()
                    .map(|a| Val::column(a.clone().into_array(n)))
                    .collect(),
                &DataType::Utf8,
                n,
            )?;
            let (s, sep) = (cols[0].as_string::<i32>(), cols[1].as_string::<i32>());
            let index = index.as_primitive::<Int64Type>();
            let mut b = StringBuilder::with_capacity(n, s.value_data().len() / 4);
            for i in 0..n {
                if s.is_null(i) || sep.is_null(i) || index.is_null(i) {
                    b.append_null();
                    continue;
                }
                b.append_option(split_index(s.value(i), sep.value(i), index.value(i)));
            }
            Ok(Val {
                array: Arc::new(b.finish()),
                scalar,
            })
        }
        _ => Err(Error::Unknown {
            kind: NameKind::Function,
            name: name.to_string(),
        }),
    }
}

/// Casts `args` to `t` and makes them arrays of one length: 1 when every one is a constant
/// (the result is a constant too), else the batch's `len`.
fn broadcast(args: Vec<Val>, t: &DataType, len: usize) -> Result<(Vec<ArrayRef>, usize, bool)> {
    let scalar = args.iter().all(|a| a.scalar);
    let n = if scalar { 1 } else { len };
    let cols = args
        .into_iter()
        .map(|a| Ok(a.cast(t)?.into_array(n)))
        .collect::<Result<Vec<_>>>()?;
    Ok((cols, n, scalar))
}

/// `SPLIT_INDEX(s, sep, i)`: the `i`-th (0-based) piece of `s` split at every `sep`; NULL
/// when `i` is negative or past the last piece. An empty separator does not split.
fn split_index<'a>(s: &'a str, sep: &str, index: i64) -> Option<&'a str> {
    let index = usize::try_from(index).ok()?;
    if sep.is_empty() {
        return (index == 0).then_some(s);
    }
    s.split(sep).nth(index)
}

/// whole match) in the first match of `pattern` in `s`; NULL when there is no match, the
/// group took no part in it, or an argument is NULL.
fn regexp_extract(args: &[Val]) -> Result<Val> {
    let constant = |v: &Val, what: &str| -> Result<()> {
        if v.scalar {
            Ok(())
        } else {
            Err(Error::plan(format!(
                "the {what} of REGEXP_EXTRACT() must be a constant"
            )))
        }
    };
    constant(&args[1], "pattern (argument 2)")?;
    let pattern = args[1].clone().cast(&DataType::Utf8)?;
    let pattern = pattern.array.as_string::<i32>();
    let group = match args.get(2) {
        Some(g) => {
            constant(g, "group (argument 3)")?;
            scalar_i64(g, "the group (argument 3) of REGEXP_EXTRACT()")?
        }
        None => Some(0),
    };
    let s = args[0].clone().cast(&DataType::Utf8)?;
    let (Some(group), false) = (group, pattern.is_null(0)) else {
        return Ok(Val {
            array: new_null_array(&DataType::Utf8, s.array.len()),
            scalar: s.scalar,
        });
    };
    let re = compile_regex(pattern.value(0))?;
    let group = check_group(&re, group)?;
    s.map(|a| {
        let s = a.as_string::<i32>();
        let mut locations = re.capture_locations();
        let mut b = StringBuilder::with_capacity(s.len(), s.value_data().len() / 4);
        for x in s.iter() {
            let found = x.and_then(|x| {
                re.captures_read(&mut locations, x)?;
                let (from, to) = locations.get(group)?;
                Some(&x[from..to])
            });
            b.append_option(found);
        }
        Ok(Arc::new(b.finish()))
    })
}

/// SQL `SUBSTRING(s FROM start FOR count)`: 1-based, in characters; a start before 1 eats
/// into the count, as the standard says.
fn sql_substring(s: &str, start: i64, count: Option<i64>) -> String {
    let end = count.map(|c| start.saturating_add(c.max(0)));
    let from = start.max(1);
    let take = match end {
        Some(e) if e <= from => return String::new(),
        Some(e) => usize::try_from(e - from).unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    let skip = usize::try_from(from - 1).unwrap_or(usize::MAX);
    s.chars().skip(skip).take(take).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::plan::SqlType;
    use arrow::datatypes::{Field, Schema};
    use proptest::prelude::*;

    fn col(n: &str) -> Expr {
        Expr::Column(n.into())
    }
    fn int(i: i64) -> Expr {
        Expr::Literal(Literal::Int(i))
    }
    fn float(f: f64) -> Expr {
        Expr::Literal(Literal::Float(f))
    }
    fn string(s: &str) -> Expr {
        Expr::Literal(Literal::String(s.into()))
    }
    fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
        }
    }
    fn func(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Function {
            name: name.into(),
            args,
        }
    }

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("t", TS, true),
            Field::new("f", DataType::Boolean, true),
            Field::new("u.name", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), Some(0), None, Some(-7)])),
                Arc::new(Float64Array::from(vec![
                    Some(1.5),
                    Some(0.0),
                    Some(2.0),
                    None,
                ])),
                Arc::new(StringArray::from(vec![
                    Some("Hello"),
                    Some(" x "),
                    None,
                    Some("héllo"),
                ])),
                Arc::new(arrow::array::TimestampMillisecondArray::from(vec![
                    Some(1_000),
                    Some(60_000),
                    None,
                    Some(0),
                ])),
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("ann"),
                    None,
                    Some("bo"),
                    Some("cy"),
                ])),
            ],
        )
        .unwrap()
    }

    fn ints(e: &Expr) -> Vec<Option<i64>> {
        let a = evaluate(e, &batch()).unwrap();
        a.as_primitive::<Int64Type>().iter().collect()
    }
    fn floats(e: &Expr) -> Vec<Option<f64>> {
        let a = evaluate(e, &batch()).unwrap();
        a.as_primitive::<Float64Type>().iter().collect()
    }
    fn strings(e: &Expr) -> Vec<Option<String>> {
        let a = evaluate(e, &batch()).unwrap();
        a.as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }
    fn bools(e: &Expr) -> Vec<Option<bool>> {
        let a = evaluate(e, &batch()).unwrap();
        a.as_boolean().iter().collect()
    }

    #[test]
    fn arithmetic_promotes_and_divides_by_zero_to_null() {
        assert_eq!(
            ints(&bin(BinaryOp::Plus, col("a"), int(1))),
            vec![Some(2), Some(1), None, Some(-6)]
        );
        assert_eq!(
            floats(&bin(BinaryOp::Multiply, col("a"), col("b"))),
            vec![Some(1.5), Some(0.0), None, None]
        );
        assert_eq!(
            ints(&bin(BinaryOp::Divide, int(10), col("a"))),
            vec![Some(10), None, None, Some(-1)]
        );
        assert_eq!(
            ints(&bin(BinaryOp::Modulo, int(10), col("a"))),
            vec![Some(0), None, None, Some(3)]
        );
        assert_eq!(
            floats(&bin(BinaryOp::Divide, float(3.0), col("b"))),
            vec![Some(2.0), None, Some(1.5), None]
        );
        assert_eq!(
            ints(&bin(BinaryOp::Divide, int(7), int(2))),
            vec![Some(3); 4]
        );
        assert_eq!(
            ints(&bin(BinaryOp::Plus, int(i64::MAX), int(1))),
            vec![Some(i64::MIN); 4]
        );
        assert_eq!(
            ints(&Expr::Negate(Box::new(col("a")))),
            vec![Some(-1), Some(0), None, Some(7)]
        );
        assert_eq!(
            data_type(&bin(BinaryOp::Plus, col("a"), col("b")), &batch().schema()).unwrap(),
            DataType::Float64
        );
    }

    #[test]
    fn timestamps_and_intervals() {
        let plus = bin(
            BinaryOp::Plus,
            col("t"),
            Expr::Literal(Literal::IntervalMs(500)),
        );
        let a = evaluate(&plus, &batch()).unwrap();
        assert_eq!(a.data_type(), &TS);
        let v: Vec<_> = a
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
            .iter()
            .collect();
        assert_eq!(v, vec![Some(1_500), Some(60_500), None, Some(500)]);
        let diff = bin(BinaryOp::Minus, col("t"), col("t"));
        assert_eq!(ints(&diff), vec![Some(0), Some(0), None, Some(0)]);
        let cmp = bin(BinaryOp::Gt, col("t"), string("1970-01-01 00:00:30"));
        assert_eq!(
            bools(&cmp),
            vec![Some(false), Some(true), None, Some(false)]
        );
        let cmp = bin(BinaryOp::GtEq, col("t"), int(1000));
        assert_eq!(bools(&cmp), vec![Some(true), Some(true), None, Some(false)]);
    }

    #[test]
    fn comparisons_and_logic_are_three_valued() {
        let gt = bin(BinaryOp::Gt, col("a"), col("b"));
        assert_eq!(bools(&gt), vec![Some(false), Some(false), None, None]);
        let null = Expr::Literal(Literal::Null);
        let or = bin(BinaryOp::Or, col("f"), null.clone());
        assert_eq!(bools(&or), vec![Some(true), None, None, Some(true)]);
        let and = bin(BinaryOp::And, col("f"), null);
        assert_eq!(bools(&and), vec![None, Some(false), None, None]);
        let not = Expr::Not(Box::new(col("f")));
        assert_eq!(
            bools(&not),
            vec![Some(false), Some(true), None, Some(false)]
        );
    }

    #[test]
    fn predicate_treats_null_as_false() {
        let e = bin(BinaryOp::Gt, col("a"), int(0));
        let p = evaluate_predicate(&e, &batch()).unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![Some(true), Some(false), Some(false), Some(false)]
        );
        let e = Expr::Literal(Literal::Null);
        assert_eq!(evaluate_predicate(&e, &batch()).unwrap().true_count(), 0);
        assert!(evaluate_predicate(&col("a"), &batch()).is_err());
    }

    #[test]
    fn strings_like_and_functions() {
        assert_eq!(
            bools(&bin(BinaryOp::Like, col("s"), string("H%"))),
            vec![Some(true), Some(false), None, Some(false)]
        );
        assert_eq!(
            bools(&bin(BinaryOp::NotLike, col("s"), string("%llo"))),
            vec![Some(false), Some(true), None, Some(false)]
        );
        assert_eq!(
            strings(&func("upper", vec![col("s")]))[3].as_deref(),
            Some("HÉLLO")
        );
        assert_eq!(
            strings(&func("trim", vec![col("s")]))[1].as_deref(),
            Some("x")
        );
        assert_eq!(
            ints(&func("length", vec![col("s")])),
            vec![Some(5), Some(3), None, Some(5)]
        );
        assert_eq!(
            strings(&func("substring", vec![col("s"), int(2), int(3)]))[0].as_deref(),
            Some("ell")
        );
        assert_eq!(
            strings(&func("substring", vec![col("s"), int(0), int(3)]))[0].as_deref(),
            Some("He")
        );
        assert_eq!(
            strings(&func("substring", vec![col("s"), int(4)]))[3].as_deref(),
            Some("lo")
        );
        assert_eq!(
            strings(&func("concat", vec![col("s"), string("-"), col("a")])),
            vec![
                Some("Hello-1".into()),
                Some(" x -0".into()),
                Some("-".into()),
                Some("héllo--7".into())
            ]
        );
        assert_eq!(strings(&bin(BinaryOp::Concat, col("s"), col("a")))[2], None);
        assert_eq!(
            strings(&func(
                "coalesce",
                vec![col("u.name"), col("s"), string("?")]
            )),
            vec![
                Some("ann".into()),
                Some(" x ".into()),
                Some("bo".into()),
                Some("cy".into())
            ]
        );
        assert_eq!(
            floats(&func("round", vec![float(2.345), int(2)]))[0],
            Some(2.35)
        );
        assert_eq!(
            ints(&func("round", vec![int(1234), int(-2)]))[0],
            Some(1200)
        );
        assert_eq!(
            ints(&func("round", vec![int(1234), int(i64::MIN)]))[0],
            Some(0)
        );
        assert_eq!(floats(&func("floor", vec![col("b")]))[0], Some(1.0));
        assert_eq!(floats(&func("ceil", vec![col("b")]))[0], Some(2.0));
        assert_eq!(ints(&func("abs", vec![col("a")]))[3], Some(7));
        assert_eq!(floats(&func("sqrt", vec![int(16)]))[0], Some(4.0));
        assert_eq!(floats(&func("power", vec![int(2), col("a")]))[0], Some(2.0));
        assert_eq!(
            floats(&func("greatest", vec![col("a"), col("b")])),
            vec![Some(1.5), Some(0.0), Some(2.0), Some(-7.0)]
        );
        assert_eq!(
            ints(&func("least", vec![col("a"), int(0)])),
            vec![Some(0), Some(0), Some(0), Some(-7)]
        );
        assert_eq!(
            ints(&func("nullif", vec![col("a"), int(0)])),
            vec![Some(1), None, None, Some(-7)]
        );
        assert!(matches!(
            evaluate(&func("nope", vec![]), &batch()),
            Err(Error::Unknown {
                kind: NameKind::Function,
                ..
            })
        ));
    }

    #[test]
    fn case_in_between_cast_isnull() {
        let case = Expr::Case {
            operand: None,
            branches: vec![
                (bin(BinaryOp::Gt, col("a"), int(0)), string("pos")),
                (bin(BinaryOp::Lt, col("a"), int(0)), string("neg")),
            ],
            otherwise: Some(Box::new(string("zero"))),
        };
        assert_eq!(
            strings(&case),
            vec![
                Some("pos".into()),
                Some("zero".into()),
                Some("zero".into()),
                Some("neg".into())
            ]
        );
        let simple = Expr::Case {
            operand: Some(Box::new(col("a"))),
            branches: vec![(int(1), float(1.5)), (int(0), int(0))],
            otherwise: None,
        };
        assert_eq!(floats(&simple), vec![Some(1.5), Some(0.0), None, None]);
        let inl = Expr::InList {
            expr: Box::new(col("a")),
            list: vec![int(1), int(-7)],
            negated: false,
        };
        assert_eq!(bools(&inl), vec![Some(true), Some(false), None, Some(true)]);
        let notin = Expr::InList {
            expr: Box::new(col("a")),
            list: vec![int(1), Expr::Literal(Literal::Null)],
            negated: true,
        };
        assert_eq!(bools(&notin), vec![Some(false), None, None, None]);
        let btw = Expr::Between {
            expr: Box::new(col("b")),
            low: Box::new(int(1)),
            high: Box::new(float(2.0)),
            negated: false,
        };
        assert_eq!(bools(&btw), vec![Some(true), Some(false), Some(true), None]);
        let cast = Expr::Cast {
            expr: Box::new(col("b")),
            to: SqlType::BigInt,
        };
        assert_eq!(ints(&cast), vec![Some(1), Some(0), Some(2), None]);
        let cast = Expr::Cast {
            expr: Box::new(string("12x")),
            to: SqlType::BigInt,
        };
        assert_eq!(ints(&cast), vec![None; 4]);
        let isn = Expr::IsNull {
            expr: Box::new(col("s")),
            negated: true,
        };
        assert_eq!(
            bools(&isn),
            vec![Some(true), Some(true), Some(false), Some(true)]
        );
    }

    #[test]
    fn an_empty_batch_gives_empty_columns_of_the_type() {
        let empty = batch().slice(0, 0);
        let case = Expr::Case {
            operand: None,
            branches: vec![(col("f"), string("yes"))],
            otherwise: Some(Box::new(string("no"))),
        };
        let out = evaluate(&case, &empty).unwrap();
        assert_eq!((out.len(), out.data_type()), (0, &DataType::Utf8));
        let out = evaluate(&func("hour", vec![col("t")]), &empty).unwrap();
        assert_eq!((out.len(), out.data_type()), (0, &DataType::Int64));
        assert!(evaluate(&bin(BinaryOp::Plus, col("s"), int(1)), &empty).is_err());
    }

    #[test]
    fn repeated_calls_in_one_expression_are_evaluated_once_and_kept_apart() {
        let eq = |e: Expr, v: &str| bin(BinaryOp::Eq, e, string(v));
        let case = Expr::Case {
            operand: None,
            branches: vec![
                (
                    eq(func("lower", vec![col("s")]), "hello"),
                    func("upper", vec![col("s")]),
                ),
                (
                    eq(func("lower", vec![col("u.name")]), "bo"),
                    func("lower", vec![col("s")]),
                ),
            ],
            otherwise: Some(Box::new(func("lower", vec![col("u.name")]))),
        };
        assert_eq!(
            strings(&case),
            vec![Some("HELLO".into()), None, None, Some("cy".into())]
        );
    }

    #[test]
    fn case_nullif_greatest_with_conditions_that_have_no_nulls() {
        // IS NOT NULL never yields NULL: the mask has no null buffer.
        let present = Expr::IsNull {
            expr: Box::new(col("a")),
            negated: true,
        };
        let absent = Expr::IsNull {
            expr: Box::new(col("a")),
            negated: false,
        };
        let case = Expr::Case {
            operand: None,
            branches: vec![(present, string("set")), (absent, string("unset"))],
            otherwise: Some(Box::new(string("never"))),
        };
        assert_eq!(
            strings(&case),
            vec![
                Some("set".into()),
                Some("set".into()),
                Some("unset".into()),
                Some("set".into())
            ]
        );
        assert_eq!(
            ints(&func(
                "nullif",
                vec![func("coalesce", vec![col("a"), int(0)]), int(0)]
            )),
            vec![Some(1), None, None, Some(-7)]
        );
        assert_eq!(
            ints(&func(
                "greatest",
                vec![func("coalesce", vec![col("a"), int(0)]), int(-1)]
            )),
            vec![Some(1), Some(0), Some(0), Some(-1)]
        );
    }

    #[test]
    fn date_format_of_timestamps_nulls_and_pattern_errors() {
        // t: 1 s, 60 s, NULL, epoch.
        assert_eq!(
            strings(&func(
                "date_format",
                vec![col("t"), string("yyyy-MM-dd HH:mm:ss")]
            )),
            vec![
                Some("1970-01-01 00:00:01".into()),
                Some("1970-01-01 00:01:00".into()),
                None,
                Some("1970-01-01 00:00:00".into())
            ]
        );
        // A constant time stays a constant; 2024-01-01 19:30:00 UTC.
        let ts = Expr::Cast {
            expr: Box::new(int(1_704_137_400_000)),
            to: SqlType::Timestamp,
        };
        assert_eq!(
            strings(&func("date_format", vec![ts, string("HH:mm")])),
            vec![Some("19:30".into()); 4]
        );
        // NULL time or NULL pattern: NULL.
        assert_eq!(
            strings(&func(
                "date_format",
                vec![Expr::Literal(Literal::Null), string("yyyy")]
            )),
            vec![None; 4]
        );
        assert_eq!(
            strings(&func(
                "date_format",
                vec![col("t"), Expr::Literal(Literal::Null)]
            )),
            vec![None; 4]
        );
        let schema = batch().schema();
        for (args, needle) in [
            (vec![col("t"), string("yyyy-ww")], "\"ww\" in pattern"),
            (vec![col("t"), string("'open")], "unclosed quote"),
            (vec![col("t"), col("s")], "must be a constant string"),
            (vec![col("s"), string("yyyy")], "must be TIMESTAMP"),
            (vec![col("t")], "takes 2 argument(s)"),
        ] {
            let e = data_type(&func("date_format", args), &schema).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
        // Evaluated without planning, a column pattern is refused too.
        let e = evaluate(&func("date_format", vec![col("t"), col("s")]), &batch()).unwrap_err();
        assert!(e.to_string().contains("constant string"), "{e}");
    }

    #[test]
    fn hour_minute_second_of_timestamps() {
        // t: 1 s, 60 s, NULL, epoch.
        assert_eq!(
            ints(&func("hour", vec![col("t")])),
            vec![Some(0), Some(0), None, Some(0)]
        );
        assert_eq!(
            ints(&func("minute", vec![col("t")])),
            vec![Some(0), Some(1), None, Some(0)]
        );
        assert_eq!(
            ints(&func("second", vec![col("t")])),
            vec![Some(1), Some(0), None, Some(0)]
        );
        // 2024-01-01 19:30:00 UTC and one before the epoch (1969-12-31 23:59:59).
        let ts = Expr::Cast {
            expr: Box::new(int(1_704_137_400_000)),
            to: SqlType::Timestamp,
        };
        assert_eq!(ints(&func("hour", vec![ts.clone()])), vec![Some(19); 4]);
        assert_eq!(ints(&func("minute", vec![ts])), vec![Some(30); 4]);
        let before = Expr::Cast {
            expr: Box::new(int(-1_000)),
            to: SqlType::Timestamp,
        };
        assert_eq!(ints(&func("hour", vec![before])), vec![Some(23); 4]);
        assert_eq!(
            ints(&func("hour", vec![Expr::Literal(Literal::Null)])),
            vec![None; 4]
        );
        let schema = batch().schema();
        let err = data_type(&func("hour", vec![col("a")]), &schema).unwrap_err();
        assert!(err.to_string().contains("must be TIMESTAMP"), "{err}");
        let err = data_type(&func("hour", vec![col("t"), col("t")]), &schema).unwrap_err();
        assert!(err.to_string().contains("takes 1 argument"), "{err}");
    }

    #[test]
    fn replace_and_a_character_count() {
        assert_eq!(
            strings(&func("replace", vec![col("s"), string("l"), string("L")])),
            vec![
                Some("HeLLo".into()),
                Some(" x ".into()),
                None,
                Some("héLLo".into())
            ]
        );
        assert_eq!(
            strings(&func("lower", vec![col("s")])),
            vec![
                Some("hello".into()),
                Some(" x ".into()),
                None,
                Some("héllo".into())
            ]
        );
        assert_eq!(
            strings(&func("upper", vec![string("ÉtÉ ß")]))[0].as_deref(),
            Some("ÉTÉ SS")
        );
        // An empty search string leaves the text as it is; a NULL argument gives NULL.
        assert_eq!(
            strings(&func("replace", vec![col("s"), string(""), string("-")]))[0].as_deref(),
            Some("Hello")
        );
        assert_eq!(
            strings(&func(
                "replace",
                vec![col("s"), Expr::Literal(Literal::Null), string("-")]
            )),
            vec![None; 4]
        );
        // The number of 'l's: LENGTH(s) - LENGTH(REPLACE(s, 'l', '')).
        let count = bin(
            BinaryOp::Minus,
            func("length", vec![col("s")]),
            func(
                "length",
                vec![func("replace", vec![col("s"), string("l"), string("")])],
            ),
        );
        assert_eq!(ints(&count), vec![Some(2), Some(0), None, Some(2)]);
        // Column arguments, row by row.
        assert_eq!(
            strings(&func("replace", vec![col("u.name"), string("o"), col("s")])),
            vec![Some("ann".into()), None, None, Some("cy".into())]
        );
        let schema = batch().schema();
        let err = data_type(
            &func("replace", vec![col("s"), col("a"), string("")]),
            &schema,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("argument 2 of REPLACE() must be VARCHAR"),
            "{err}"
        );
        let err = data_type(&func("replace", vec![col("s"), string("")]), &schema).unwrap_err();
        assert!(err.to_string().contains("takes 3 argument"), "{err}");
    }

    fn url_batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("url", DataType::Utf8, true),
            Field::new("i", DataType::Int64, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("https://www.nexmark.com/abc/de/f/item.htm?query=1&channel_id=42"),
                    Some("https://www.nexmark.com/googl/item.htm?query=1"),
                    None,
                    Some("channel_id=7&x=1"),
                ])),
                Arc::new(Int64Array::from(vec![Some(3), Some(5), Some(0), None])),
            ],
        )
        .unwrap()
    }

    fn url_strings(e: &Expr) -> Vec<Option<String>> {
        let a = evaluate(e, &url_batch()).unwrap();
        a.as_string::<i32>()
            .iter()
            .map(|x| x.map(str::to_owned))
            .collect()
    }

    #[test]
    fn regexp_extract_groups_misses_and_errors() {
        let pattern = string("(&|^)channel_id=([^&]*)");
        assert_eq!(
            url_strings(&func(
                "regexp_extract",
                vec![col("url"), pattern.clone(), int(2)]
            )),
            vec![Some("42".into()), None, None, Some("7".into())]
        );
        // Group 0 (the default) is the whole match; an unmatched group is NULL.
        assert_eq!(
            url_strings(&func(
                "regexp_extract",
                vec![col("url"), string("[a-z]+\\.htm")]
            )),
            vec![Some("item.htm".into()), Some("item.htm".into()), None, None]
        );
        assert_eq!(
            url_strings(&func(
                "regexp_extract",
                vec![col("url"), string("(z)|(c)"), int(1)]
            ))[0],
            None
        );
        // NULL pattern or group: NULL.
        assert_eq!(
            url_strings(&func(
                "regexp_extract",
                vec![col("url"), Expr::Literal(Literal::Null)]
            )),
            vec![None; 4]
        );
        let schema = url_batch().schema();
        let plan_err = |args: Vec<Expr>| {
            data_type(&func("regexp_extract", args), &schema)
                .unwrap_err()
                .to_string()
        };
        let e = plan_err(vec![col("url"), pattern.clone(), int(3)]);
        assert!(
            e.contains("group 3 does not exist") && e.contains("0 to 2"),
            "{e}"
        );
        let e = plan_err(vec![col("url"), string("(unclosed")]);
        assert!(e.contains("invalid regular expression"), "{e}");
        let e = plan_err(vec![col("url"), col("url")]);
        assert!(e.contains("must be a constant string"), "{e}");
        let e = plan_err(vec![col("url"), pattern.clone(), col("i")]);
        assert!(e.contains("must be a constant integer"), "{e}");
        let e = plan_err(vec![col("url"), pattern, Expr::Negate(Box::new(int(1)))]);
        assert!(e.contains("0 or more"), "{e}");
        let e = plan_err(vec![col("i"), string("x")]);
        assert!(
            e.contains("argument 1 of REGEXP_EXTRACT() must be VARCHAR"),
            "{e}"
        );
        let e = plan_err(vec![col("url")]);
        assert!(e.contains("takes 2 to 3 argument"), "{e}");
    }

    #[test]
    fn split_index_pieces_and_nulls() {
        let piece = |i: Expr| url_strings(&func("split_index", vec![col("url"), string("/"), i]));
        assert_eq!(
            piece(int(3)),
            vec![Some("abc".into()), Some("googl".into()), None, None]
        );
        assert_eq!(
            piece(int(0))[0].as_deref(),
            Some("https:"),
            "pieces count from 0"
        );
        assert_eq!(piece(int(1))[0].as_deref(), Some(""), "empty pieces count");
        assert_eq!(
            piece(int(5)),
            vec![Some("f".into()), None, None, None],
            "past the last piece: NULL"
        );
        assert_eq!(piece(Expr::Negate(Box::new(int(1)))), vec![None; 4]);
        // Index from a column, row by row; a NULL index gives NULL.
        assert_eq!(piece(col("i")), vec![Some("abc".into()), None, None, None]);
        // A multi-character separator; an empty one does not split.
        assert_eq!(
            url_strings(&func(
                "split_index",
                vec![col("url"), string("://"), int(1)]
            ))[1]
                .as_deref(),
            Some("www.nexmark.com/googl/item.htm?query=1")
        );
        assert_eq!(
            url_strings(&func("split_index", vec![col("url"), string(""), int(0)]))[3].as_deref(),
            Some("channel_id=7&x=1")
        );
        // Constant arguments fold to a constant.
        assert_eq!(
            url_strings(&func(
                "split_index",
                vec![string("a,b"), string(","), int(1)]
            )),
            vec![Some("b".into()); 4]
        );
        let schema = url_batch().schema();
        let e = data_type(
            &func("split_index", vec![col("url"), string("/"), string("3")]),
            &schema,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("argument 3 of SPLIT_INDEX() must be BIGINT"),
            "{e}"
        );
    }

    #[test]
    fn type_errors_surface_from_data_type() {
        let schema = batch().schema();
        assert!(data_type(&bin(BinaryOp::Plus, col("s"), int(1)), &schema).is_err());
        assert!(data_type(&bin(BinaryOp::And, col("a"), col("f")), &schema).is_err());
        assert!(data_type(&func("upper", vec![col("a")]), &schema).is_err());
        assert!(matches!(
            data_type(&col("zz"), &schema),
            Err(strata_sql::Error::Unknown { .. })
        ));
        assert_eq!(
            data_type(&func("coalesce", vec![col("a"), col("b")]), &schema).unwrap(),
            DataType::Float64
        );
    }

    /// A row-at-a-time model of the arithmetic and comparison subset.
    #[derive(Debug, Clone)]
    enum M {
        A,
        B,
        I(i64),
        Op(BinaryOp, Box<M>, Box<M>),
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum V {
        I(i64),
        F(f64),
        B(bool),
    }

    fn model(m: &M, a: Option<i64>, b: Option<f64>) -> Option<V> {
        match m {
            M::A => a.map(V::I),
            M::B => b.map(V::F),
            M::I(i) => Some(V::I(*i)),
            M::Op(op, l, r) => {
                let l = model(l, a, b)?;
                let r = model(r, a, b)?;
                let f = |v: V| match v {
                    V::I(i) => i as f64,
                    V::F(f) => f,
                    V::B(_) => f64::NAN,
                };
                use BinaryOp::*;
                match (op, l, r) {
                    (Plus, V::I(x), V::I(y)) => Some(V::I(x.wrapping_add(y))),
                    (Minus, V::I(x), V::I(y)) => Some(V::I(x.wrapping_sub(y))),
                    (Multiply, V::I(x), V::I(y)) => Some(V::I(x.wrapping_mul(y))),
                    (Divide, V::I(x), V::I(y)) => (y != 0).then(|| V::I(x.wrapping_div(y))),
                    (Modulo, V::I(x), V::I(y)) => (y != 0).then(|| V::I(x.wrapping_rem(y))),
                    (Plus, l, r) => Some(V::F(f(l) + f(r))),
                    (Minus, l, r) => Some(V::F(f(l) - f(r))),
                    (Multiply, l, r) => Some(V::F(f(l) * f(r))),
                    (Divide, l, r) => (f(r) != 0.0).then(|| V::F(f(l) / f(r))),
                    (Modulo, l, r) => (f(r) != 0.0).then(|| V::F(f(l) % f(r))),
                    (Eq, V::I(x), V::I(y)) => Some(V::B(x == y)),
                    (Lt, V::I(x), V::I(y)) => Some(V::B(x < y)),
                    (Eq, l, r) => Some(V::B(f(l) == f(r))),
                    (Lt, l, r) => Some(V::B(f(l) < f(r))),
                    _ => None,
                }
            }
        }
    }

    fn to_expr(m: &M) -> Expr {
        match m {
            M::A => col("a"),
            M::B => col("b"),
            M::I(i) => int(*i),
            M::Op(op, l, r) => bin(*op, to_expr(l), to_expr(r)),
        }
    }

    fn arb_m() -> impl Strategy<Value = M> {
        let leaf = prop_oneof![
            Just(M::A),
            Just(M::B),
            (-5i64..5).prop_map(M::I),
            any::<i64>().prop_map(M::I)
        ];
        leaf.prop_recursive(3, 16, 2, |inner| {
            (
                prop_oneof![
                    Just(BinaryOp::Plus),
                    Just(BinaryOp::Minus),
                    Just(BinaryOp::Multiply),
                    Just(BinaryOp::Divide),
                    Just(BinaryOp::Modulo)
                ],
                inner.clone(),
                inner,
            )
                .prop_map(|(op, l, r)| M::Op(op, Box::new(l), Box::new(r)))
        })
    }

    fn same(x: Option<V>, y: Option<V>) -> bool {
        match (x, y) {
            (Some(V::F(a)), Some(V::F(b))) => a == b || (a.is_nan() && b.is_nan()),
            (x, y) => x == y,
        }
    }

    proptest! {
        #[test]
        fn arithmetic_and_comparison_match_a_row_model(
            m in arb_m(),
            cmp_op in prop_oneof![Just(None), Just(Some(BinaryOp::Eq)), Just(Some(BinaryOp::Lt))],
            rows in proptest::collection::vec((proptest::option::of(-20i64..20), proptest::option::of(-4.0f64..4.0)), 0..20),
        ) {
            let m = match cmp_op {
                Some(op) => M::Op(op, Box::new(m), Box::new(M::A)),
                None => m,
            };
            let schema = Schema::new(vec![
                Field::new("a", DataType::Int64, true),
                Field::new("b", DataType::Float64, true),
            ]);
            let a: Int64Array = rows.iter().map(|r| r.0).collect();
            let b: Float64Array = rows.iter().map(|r| r.1).collect();
            let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(a), Arc::new(b)]).unwrap();
            let out = evaluate(&to_expr(&m), &batch).unwrap();
            prop_assert_eq!(out.len(), rows.len());
            for (i, (a, b)) in rows.iter().enumerate() {
                let want = model(&m, *a, *b);
                let got = if out.is_null(i) {
                    None
                } else {
                    match out.data_type() {
                        DataType::Int64 => Some(V::I(out.as_primitive::<Int64Type>().value(i))),
                        DataType::Float64 => Some(V::F(out.as_primitive::<Float64Type>().value(i))),
                        DataType::Boolean => Some(V::B(out.as_boolean().value(i))),
                        t => panic!("unexpected type {t}"),
                    }
                };
                prop_assert!(same(want, got), "row {}: model {:?} engine {:?}", i, want, got);
            }
        }
    }
}
