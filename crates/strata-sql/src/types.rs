//! The types of plan expressions: SQL column types as Arrow types, and the result type of
//! every expression over a schema. The planner calls [`data_type`] so that type errors surface
//! at `CREATE` time rather than on the first record; the engine evaluates by the same rules.
//!
//! - column types: `BIGINT` → Int64, `DOUBLE` → Float64, `VARCHAR` → Utf8, `BOOLEAN` → Boolean,
//!   `TIMESTAMP` → `Timestamp(Millisecond, None)` (see [`arrow_type`]);
//! - Int64 ⊕ Float64 → Float64; NULL literals take the type of the other side;
//! - an interval literal is a number of milliseconds (Int64); timestamp ± Int64 → timestamp,
//!   timestamp − timestamp → Int64 milliseconds;
//! - a timestamp compares with a string (parsed as a timestamp) or an Int64 (epoch millis).

use arrow::datatypes::{DataType, Schema, TimeUnit};

use crate::date_format::DatePattern;
use crate::error::{Error, NameKind, Result};
use crate::plan::{BinaryOp, Expr, Literal, SqlType};

/// The Arrow type a column of `t` has in engine batches.
pub fn arrow_type(t: SqlType) -> DataType {
    match t {
        SqlType::Boolean => DataType::Boolean,
        SqlType::BigInt => DataType::Int64,
        SqlType::Double => DataType::Float64,
        SqlType::Varchar => DataType::Utf8,
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
    }
}

/// The SQL type of an Arrow type, if strata has one (`None` for the type of a bare `NULL`).
pub fn sql_type(t: &DataType) -> Option<SqlType> {
    match t {
        DataType::Boolean => Some(SqlType::Boolean),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Some(SqlType::BigInt),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(SqlType::Double),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(SqlType::Varchar),
        DataType::Timestamp(..) => Some(SqlType::Timestamp),
        _ => None,
    }
}

/// The SQL name of an Arrow type, for error messages.
pub fn type_name(t: &DataType) -> String {
    match sql_type(t) {
        Some(SqlType::Boolean) => "BOOLEAN".into(),
        Some(SqlType::BigInt) => "BIGINT".into(),
        Some(SqlType::Double) => "DOUBLE".into(),
        Some(SqlType::Varchar) => "VARCHAR".into(),
        Some(SqlType::Timestamp) => "TIMESTAMP".into(),
        None if *t == DataType::Null => "NULL".into(),
        None => t.to_string(),
    }
}

/// The Arrow type of a strata TIMESTAMP: milliseconds since the epoch, no zone.
pub const TS: DataType = DataType::Timestamp(TimeUnit::Millisecond, None);

/// The Arrow type `expr` evaluates to over batches with `schema`, checking operand types.
///
/// # Errors
/// [`Error::Unknown`] for an unknown column or function, [`Error::Plan`] for a type mismatch
/// (with what to write instead).
pub fn data_type(expr: &Expr, schema: &Schema) -> Result<DataType> {
    match expr {
        Expr::Column(name) => {
            column_index(schema, name).map(|i| schema.field(i).data_type().clone())
        }
        Expr::Literal(l) => Ok(literal_type(l)),
        Expr::Binary { op, left, right } => {
            let l = data_type(left, schema)?;
            let r = data_type(right, schema)?;
            Ok(binary_types(*op, &l, &r)?.result)
        }
        Expr::Not(e) => {
            expect_bool(&data_type(e, schema)?, "NOT")?;
            Ok(DataType::Boolean)
        }
        Expr::Negate(e) => {
            let t = data_type(e, schema)?;
            match t {
                DataType::Int64 | DataType::Float64 | DataType::Null => Ok(t),
                t => Err(Error::plan(format!(
                    "cannot negate a {} value",
                    type_name(&t)
                ))),
            }
        }
        Expr::IsNull { expr, .. } => {
            data_type(expr, schema)?;
            Ok(DataType::Boolean)
        }
        Expr::InList { expr, list, .. } => {
            let t = data_type(expr, schema)?;
            for e in list {
                binary_types(BinaryOp::Eq, &t, &data_type(e, schema)?)?;
            }
            Ok(DataType::Boolean)
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            let t = data_type(expr, schema)?;
            binary_types(BinaryOp::GtEq, &t, &data_type(low, schema)?)?;
            binary_types(BinaryOp::LtEq, &t, &data_type(high, schema)?)?;
            Ok(DataType::Boolean)
        }
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => {
            let op_t = operand.as_ref().map(|o| data_type(o, schema)).transpose()?;
            let mut out = DataType::Null;
            for (when, then) in branches {
                let w = data_type(when, schema)?;
                match &op_t {
                    Some(o) => {
                        binary_types(BinaryOp::Eq, o, &w)?;
                    }
                    None => expect_bool(&w, "CASE WHEN")?,
                }
                out = unify(&out, &data_type(then, schema)?, "CASE branches")?;
            }
            if let Some(e) = otherwise {
                out = unify(&out, &data_type(e, schema)?, "CASE branches")?;
            }
            Ok(out)
        }
        Expr::Cast { expr, to } => {
            let from = data_type(expr, schema)?;
            let to = arrow_type(*to);
            if from != DataType::Null && !arrow::compute::can_cast_types(&from, &to) {
                return Err(Error::plan(format!(
                    "cannot CAST {} to {}",
                    type_name(&from),
                    type_name(&to)
                )));
            }
            Ok(to)
        }
        Expr::Function { name, args } => {
            let types = args
                .iter()
                .map(|a| data_type(a, schema))
                .collect::<Result<Vec<_>>>()?;
            let t = function_type(name, &types)?;
            if name == "regexp_extract" {
                check_regexp_extract(args)?;
            }
            if name == "date_format" {
                check_date_format(args)?;
            }
            Ok(t)
        }
    }
}

/// Checks that `t` is BOOLEAN (or NULL), naming `what` in the error.
pub fn expect_bool(t: &DataType, what: &str) -> Result<()> {
    match t {
        DataType::Boolean | DataType::Null => Ok(()),
        t => Err(Error::plan(format!(
            "{what} needs a BOOLEAN, got {}",
            type_name(t)
        ))),
    }
}

/// The index of column `name` in `schema`, or [`Error::Unknown`] listing the columns there are.
pub fn column_index(schema: &Schema, name: &str) -> Result<usize> {
    if let Ok(i) = schema.index_of(name) {
        return Ok(i);
    }
    schema
        .fields()
        .iter()
        .position(|f| f.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::Unknown {
            kind: NameKind::Column,
            name: name.to_string(),
        })
}

/// The Arrow type of a literal.
pub fn literal_type(l: &Literal) -> DataType {
    match l {
        Literal::Null => DataType::Null,
        Literal::Boolean(_) => DataType::Boolean,
        Literal::Int(_) | Literal::IntervalMs(_) => DataType::Int64,
        Literal::Float(_) => DataType::Float64,
        Literal::String(_) => DataType::Utf8,
    }
}

/// True for BIGINT and DOUBLE.
pub fn is_numeric(t: &DataType) -> bool {
    matches!(t, DataType::Int64 | DataType::Float64)
}

/// True for TIMESTAMP.
pub fn is_ts(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(..))
}

/// The common type of two values that must agree (CASE branches, COALESCE, comparisons).
pub fn unify(a: &DataType, b: &DataType, what: &str) -> Result<DataType> {
    Ok(match (a, b) {
        (DataType::Null, t) | (t, DataType::Null) => t.clone(),
        (a, b) if a == b => a.clone(),
        (a, b) if is_numeric(a) && is_numeric(b) => DataType::Float64,
        (a, b) if is_ts(a) && is_ts(b) => TS,
        (a, b) => {
            return Err(Error::plan(format!(
                "{what} mix {} and {}; CAST one of them",
                type_name(a),
                type_name(b)
            )));
        }
    })
}

/// How a binary operator types: operands are cast to `left`/`right`, the result is `result`.
pub struct BinaryTypes {
    /// The type the left operand is cast to.
    pub left: DataType,
    /// The type the right operand is cast to.
    pub right: DataType,
    /// The result type.
    pub result: DataType,
}

/// The operand types `op` casts its sides to, and its result type.
///
/// # Errors
/// [`Error::Plan`] when the operands do not fit the operator, saying what would.
pub fn binary_types(op: BinaryOp, l: &DataType, r: &DataType) -> Result<BinaryTypes> {
    use BinaryOp::*;
    let sym = op_symbol(op);
    let mismatch = || {
        Error::plan(format!(
            "operator {sym} does not apply to {} and {}; CAST an operand",
            type_name(l),
            type_name(r)
        ))
    };
    // A bare NULL takes the type of the other side (or the natural operand type).
    let (l, r) = match (l, r) {
        (DataType::Null, DataType::Null) => {
            let t = match op {
                And | Or => DataType::Boolean,
                Concat | Like | NotLike => DataType::Utf8,
                _ => DataType::Int64,
            };
            (t.clone(), t)
        }
        (DataType::Null, r) => (r.clone(), r.clone()),
        (l, DataType::Null) => (l.clone(), l.clone()),
        (l, r) => (l.clone(), r.clone()),
    };
    let same = |t: DataType, result: DataType| BinaryTypes {
        left: t.clone(),
        right: t,
        result,
    };
    Ok(match op {
        Plus | Minus | Multiply | Divide | Modulo => match (&l, &r) {
            (DataType::Int64, DataType::Int64) => same(DataType::Int64, DataType::Int64),
            (a, b) if is_numeric(a) && is_numeric(b) => same(DataType::Float64, DataType::Float64),
            (a, DataType::Int64) if is_ts(a) && matches!(op, Plus | Minus) => BinaryTypes {
                left: TS,
                right: DataType::Int64,
                result: TS,
            },
            (DataType::Int64, b) if is_ts(b) && op == Plus => BinaryTypes {
                left: DataType::Int64,
                right: TS,
                result: TS,
            },
            (a, b) if is_ts(a) && is_ts(b) && op == Minus => BinaryTypes {
                left: TS,
                right: TS,
                result: DataType::Int64,
            },
            _ => return Err(mismatch()),
        },
        Eq | NotEq | Lt | LtEq | Gt | GtEq => {
            let t = match (&l, &r) {
                (a, b) if a == b => a.clone(),
                (a, b) if is_numeric(a) && is_numeric(b) => DataType::Float64,
                (a, b)
                    if is_ts(a) && (is_ts(b) || *b == DataType::Utf8 || *b == DataType::Int64) =>
                {
                    TS
                }
                (a, b) if is_ts(b) && (*a == DataType::Utf8 || *a == DataType::Int64) => TS,
                _ => return Err(mismatch()),
            };
            same(t, DataType::Boolean)
        }
        And | Or => {
            if l != DataType::Boolean || r != DataType::Boolean {
                return Err(mismatch());
            }
            same(DataType::Boolean, DataType::Boolean)
        }
        Concat => {
            // `||` renders anything as text, as in PostgreSQL.
            if l == DataType::Boolean && r == DataType::Boolean {
                return Err(mismatch());
            }
            same(DataType::Utf8, DataType::Utf8)
        }
        Like | NotLike => {
            if l != DataType::Utf8 || r != DataType::Utf8 {
                return Err(mismatch());
            }
            same(DataType::Utf8, DataType::Boolean)
        }
    })
}

/// How `op` is written in SQL (for messages).
pub fn op_symbol(op: BinaryOp) -> &'static str {
    use BinaryOp::*;
    match op {
        Plus => "+",
        Minus => "-",
        Multiply => "*",
        Divide => "/",
        Modulo => "%",
        Eq => "=",
        NotEq => "<>",
        Lt => "<",
        LtEq => "<=",
        Gt => ">",
        GtEq => ">=",
        And => "AND",
        Or => "OR",
        Concat => "||",
        Like => "LIKE",
        NotLike => "NOT LIKE",
    }
}

/// The result type of scalar function `name` applied to `args`.
pub fn function_type(name: &str, args: &[DataType]) -> Result<DataType> {
    let arity = |min: usize, max: usize| -> Result<()> {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            };
            return Err(Error::plan(format!(
                "{}() takes {want} argument(s), got {}",
                name.to_uppercase(),
                args.len()
            )));
        }
        Ok(())
    };
    let want = |i: usize, ok: fn(&DataType) -> bool, what: &str| -> Result<()> {
        let t = &args[i];
        if *t == DataType::Null || ok(t) {
            Ok(())
        } else {
            Err(Error::plan(format!(
                "argument {} of {}() must be {what}, got {}",
                i + 1,
                name.to_uppercase(),
                type_name(t)
            )))
        }
    };
    let string = |t: &DataType| *t == DataType::Utf8;
    let int = |t: &DataType| *t == DataType::Int64;
    let num = is_numeric;
    match name {
        "upper" | "ucase" | "lower" | "lcase" | "trim" | "ltrim" | "rtrim" => {
            arity(1, 1)?;
            want(0, string, "VARCHAR")?;
            Ok(DataType::Utf8)
        }
        "length" | "len" | "char_length" | "character_length" => {
            arity(1, 1)?;
            want(0, string, "VARCHAR")?;
            Ok(DataType::Int64)
        }
        "substring" | "substr" => {
            arity(2, 3)?;
            want(0, string, "VARCHAR")?;
            want(1, int, "BIGINT")?;
            if args.len() == 3 {
                want(2, int, "BIGINT")?;
            }
            Ok(DataType::Utf8)
        }
        "concat" => {
            arity(1, usize::MAX)?;
            Ok(DataType::Utf8)
        }
        "coalesce" | "ifnull" | "nvl" | "greatest" | "least" => {
            arity(
                if matches!(name, "ifnull" | "nvl") {
                    2
                } else {
                    1
                },
                usize::MAX,
            )?;
            if matches!(name, "ifnull" | "nvl") {
                arity(2, 2)?;
            }
            let mut t = DataType::Null;
            for a in args {
                t = unify(&t, a, &format!("arguments of {}()", name.to_uppercase()))?;
            }
            Ok(t)
        }
        "nullif" => {
            arity(2, 2)?;
            binary_types(BinaryOp::Eq, &args[0], &args[1])?;
            Ok(args[0].clone())
        }
        "abs" | "sign" => {
            arity(1, 1)?;
            want(0, num, "numeric")?;
            Ok(if args[0] == DataType::Null {
                DataType::Int64
            } else {
                args[0].clone()
            })
        }
        "round" => {
            arity(1, 2)?;
            want(0, num, "numeric")?;
            if args.len() == 2 {
                want(1, int, "BIGINT")?;
            }
            Ok(if args[0] == DataType::Int64 {
                DataType::Int64
            } else {
                DataType::Float64
            })
        }
        "floor" | "ceil" | "ceiling" => {
            arity(1, 1)?;
            want(0, num, "numeric")?;
            Ok(if args[0] == DataType::Int64 {
                DataType::Int64
            } else {
                DataType::Float64
            })
        }
        "sqrt" | "ln" | "log10" | "exp" => {
            arity(1, 1)?;
            want(0, num, "numeric")?;
            Ok(DataType::Float64)
        }
        "power" | "pow" => {
            arity(2, 2)?;
            want(0, num, "numeric")?;
            want(1, num, "numeric")?;
            Ok(DataType::Float64)
        }
        "mod" => {
            arity(2, 2)?;
            Ok(binary_types(BinaryOp::Modulo, &args[0], &args[1])?.result)
        }
        "hour" | "minute" | "second" => {
            arity(1, 1)?;
            want(0, is_ts, "TIMESTAMP")?;
            Ok(DataType::Int64)
        }
        "replace" => {
            arity(3, 3)?;
            for i in 0..3 {
                want(i, string, "VARCHAR")?;
            }
            Ok(DataType::Utf8)
        }
        "regexp_extract" => {
            arity(2, 3)?;
            want(0, string, "VARCHAR")?;
            want(1, string, "VARCHAR")?;
            if args.len() == 3 {
                want(2, int, "BIGINT")?;
            }
            Ok(DataType::Utf8)
        }
        "date_format" => {
            arity(2, 2)?;
            want(0, is_ts, "TIMESTAMP")?;
            want(1, string, "VARCHAR")?;
            Ok(DataType::Utf8)
        }
        "split_index" => {
            arity(3, 3)?;
            want(0, string, "VARCHAR")?;
            want(1, string, "VARCHAR")?;
            want(2, int, "BIGINT")?;
            Ok(DataType::Utf8)
        }
        _ => Err(Error::Unknown {
            kind: NameKind::Function,
            name: name.to_string(),
        }),
    }
}

/// The pattern and group of `REGEXP_EXTRACT(s, pattern [, group])`, checked when the view is
/// planned: both must be constants, the pattern must compile and have the group.
fn check_regexp_extract(args: &[Expr]) -> Result<()> {
    let pattern = match args.get(1) {
        Some(Expr::Literal(Literal::String(p))) => p,
        Some(Expr::Literal(Literal::Null)) | None => return Ok(()),
        Some(_) => {
            return Err(Error::plan(
                "the pattern (argument 2) of REGEXP_EXTRACT() must be a constant string",
            ));
        }
    };
    let re = compile_regex(pattern)?;
    match args.get(2) {
        None | Some(Expr::Literal(Literal::Null)) => Ok(()),
        Some(Expr::Literal(Literal::Int(g))) => check_group(&re, *g).map(|_| ()),
        Some(Expr::Negate(inner)) if matches!(**inner, Expr::Literal(Literal::Int(_))) => Err(
            Error::plan("the group (argument 3) of REGEXP_EXTRACT() must be 0 or more"),
        ),
        Some(_) => Err(Error::plan(
            "the group (argument 3) of REGEXP_EXTRACT() must be a constant integer",
        )),
    }
}

/// The pattern of `DATE_FORMAT(ts, pattern)`, checked when the view is planned: a constant
/// string (or NULL) of supported letters.
fn check_date_format(args: &[Expr]) -> Result<()> {
    match args.get(1) {
        Some(Expr::Literal(Literal::String(p))) => DatePattern::parse(p).map(|_| ()),
        Some(Expr::Literal(Literal::Null)) | None => Ok(()),
        Some(_) => Err(Error::plan(
            "the pattern (argument 2) of DATE_FORMAT() must be a constant string",
        )),
    }
}

/// Compiles a `REGEXP_EXTRACT` pattern.
///
/// # Errors
/// [`Error::Plan`] for an invalid regular expression.
pub fn compile_regex(pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| {
        Error::plan(format!(
            "REGEXP_EXTRACT(): invalid regular expression {pattern:?}: {e}"
        ))
    })
}

/// The capture group `group` of `re`, checked to exist.
///
/// # Errors
/// [`Error::Plan`] for a group the pattern does not have.
pub fn check_group(re: &regex::Regex, group: i64) -> Result<usize> {
    let groups = re.captures_len() - 1;
    match usize::try_from(group) {
        Ok(g) if g <= groups => Ok(g),
        _ => Err(Error::plan(format!(
            "REGEXP_EXTRACT(): group {group} does not exist: the pattern {:?} has groups 0 to {groups}",
            re.as_str()
        ))),
    }
}
