//! Evaluation of plan expressions ([`Expr`]) over Arrow record batches, a column at a time.
//!
//! Every operator works on whole arrays with arrow's compute kernels (arithmetic, comparison,
//! boolean, `LIKE`, cast, zip: `operators`); a function call runs the kernel of its entry in
//! strata-sql's scalar-function registry ([`strata_sql::functions`]), where its type rule
//! lives too. Values are [`Val`]s: constants stay one-element "scalars" until something needs a
//! full column, so `x * 2` costs one pass; a call that occurs twice in one expression is
//! computed once.
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

mod operators;

#[cfg(test)]
mod function_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, NullArray, RecordBatch,
    StringArray,
};
use arrow::compute::kernels::boolean;
use arrow::compute::prep_null_mask_filter;
use arrow::datatypes::DataType;

use crate::error::{Error, Result};
use crate::plan::{BinaryOp, Expr, Literal};

pub use strata_sql::types::{arrow_type, sql_type};
pub use strata_sql::typing::data_type;

use operators::{EvalOperators, binary, not};
use strata_sql::functions::{self, Call, Val};
use strata_sql::types::{column_index, type_name, unify};

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

/// One evaluation's batch, and the function calls already evaluated in it: a call that
/// occurs again in the expression (`CASE WHEN LOWER(c) = 'a' … WHEN LOWER(c) = 'b' …`) is
/// computed once.
struct Cx<'e, 'b> {
    batch: &'b RecordBatch,
    memo: Vec<(&'e Expr, Val)>,
}

/// Evaluates `expr`. The evaluator speaks the SQL layer's error type internally (the function
/// kernels return it); [`evaluate`] converts it, keeping the variant.
fn eval<'e>(expr: &'e Expr, cx: &mut Cx<'e, '_>) -> strata_sql::Result<Val> {
    let len = cx.batch.num_rows();
    match expr {
        Expr::Column(name) => {
            let i = column_index(cx.batch.schema_ref(), name)?;
            Ok(Val::column(cx.batch.column(i).clone()))
        }
        Expr::Literal(l) => Ok(Val::scalar(literal_array(l))),
        Expr::Binary { op, left, right } => {
            let l = eval(left, cx)?;
            let r = eval(right, cx)?;
            binary(*op, l, r, len)
        }
        Expr::Not(e) => not(eval(e, cx)?.cast(&DataType::Boolean)?),
        Expr::Negate(e) => negate(eval(e, cx)?),
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
        } => in_list(expr, list, *negated, cx),
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
        Expr::Cast { expr, to } => eval(expr, cx)?.cast(&arrow_type(*to)),
        Expr::Function { name, args } => call(expr, name, args, cx),
    }
}

fn negate(v: Val) -> strata_sql::Result<Val> {
    match v.data_type() {
        DataType::Int64 | DataType::Float64 => {
            v.map(|a| Ok(arrow::compute::kernels::numeric::neg_wrapping(a)?))
        }
        DataType::Null => Ok(v),
        t => Err(strata_sql::Error::plan(format!(
            "cannot negate a {} value",
            type_name(t)
        ))),
    }
}

/// `expr [NOT] IN (list)`: `expr = item` ORed over the list, three-valued.
fn in_list<'e>(
    expr: &'e Expr,
    list: &'e [Expr],
    negated: bool,
    cx: &mut Cx<'e, '_>,
) -> strata_sql::Result<Val> {
    let len = cx.batch.num_rows();
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
    if negated { not(acc) } else { Ok(acc) }
}

/// A function call: the registry entry's kernel over the evaluated arguments, once per
/// evaluation for calls that repeat.
fn call<'e>(
    expr: &'e Expr,
    name: &str,
    args: &'e [Expr],
    cx: &mut Cx<'e, '_>,
) -> strata_sql::Result<Val> {
    if let Some((_, v)) = cx.memo.iter().find(|(e, _)| *e == expr) {
        return Ok(v.clone());
    }
    let vals = args
        .iter()
        .map(|a| eval(a, cx))
        .collect::<strata_sql::Result<Vec<_>>>()?;
    let f = functions::function(name)?;
    let types: Vec<DataType> = vals.iter().map(|a| a.data_type().clone()).collect();
    let return_type = f.return_type(name, &types)?;
    let v = (f.kernel)(Call {
        args: vals,
        len: cx.batch.num_rows(),
        return_type,
        operators: &EvalOperators,
    })?;
    cx.memo.push((expr, v.clone()));
    Ok(v)
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

/// `CASE`: the first branch whose condition is true (NULL counts as false) picks the row's
/// value; the values are then gathered in one pass.
fn case<'e>(
    operand: Option<&'e Expr>,
    branches: &'e [(Expr, Expr)],
    otherwise: Option<&'e Expr>,
    cx: &mut Cx<'e, '_>,
) -> strata_sql::Result<Val> {
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
    let values: Vec<Val> = thens
        .into_iter()
        .chain(std::iter::once(els))
        .map(|v| v.cast(&out_t))
        .collect::<strata_sql::Result<_>>()?;
    gather(&conds, &values, len)
}

/// Row `i` of the result is row `i` of `values[b]`, for the first `b` whose condition
/// `conds[b]` is true there, or of the last value (the ELSE) when none is.
fn gather(conds: &[Val], values: &[Val], len: usize) -> strata_sql::Result<Val> {
    let otherwise = conds.len();
    let scalar = conds.iter().all(|c| c.scalar) && values.iter().all(|v| v.scalar);
    let n = if scalar { 1 } else { len };
    let mut chosen = vec![otherwise; n];
    let mut open = n;
    for (b, c) in conds.iter().enumerate() {
        if open == 0 {
            break;
        }
        let c = c.booleans()?;
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
