//! The type rules of plan expressions: SQL column types as Arrow types, how operands of an
//! operator are cast and what it returns, how values that must agree unify. The type of a whole
//! expression (`typing::data_type`) and of function calls (the `functions` registry) is
//! built from these; the engine evaluates by the same rules.
//!
//! - column types: `BIGINT` → Int64, `DOUBLE` → Float64, `VARCHAR` → Utf8, `BOOLEAN` → Boolean,
//!   `TIMESTAMP` → `Timestamp(Millisecond, None)` (see [`arrow_type`]);
//! - Int64 ⊕ Float64 → Float64; NULL literals take the type of the other side;
//! - an interval literal is a number of milliseconds (Int64); timestamp ± Int64 → timestamp,
//!   timestamp − timestamp → Int64 milliseconds;
//! - a timestamp compares with a string (parsed as a timestamp) or an Int64 (epoch millis).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::error::{Error, NameKind, Result};
use crate::plan::{BinaryOp, Literal, ScalarType, SqlType};

/// The Arrow type a column of `t` has in engine batches; an `ARRAY<t>` is a `List` of
/// nullable elements in arrow's default `item` field (what `SPLIT` returns and the decoder
/// builds, so the two compare equal).
pub fn arrow_type(t: SqlType) -> DataType {
    match t {
        SqlType::Boolean => DataType::Boolean,
        SqlType::BigInt => DataType::Int64,
        SqlType::Double => DataType::Float64,
        SqlType::Varchar => DataType::Utf8,
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        SqlType::Array(e) => list_of(arrow_type(e.sql())),
    }
}

/// The Arrow type of an array whose elements are of `element`.
pub fn list_of(element: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(element, true)))
}

/// The element type of an array type (`None` for other types).
pub fn element_of(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) => Some(f.data_type()),
        _ => None,
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
        DataType::List(f) | DataType::LargeList(f) => {
            Some(SqlType::Array(ScalarType::of(sql_type(f.data_type())?)?))
        }
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
        Some(SqlType::Array(e)) => format!("ARRAY<{}>", type_name(&arrow_type(e.sql()))),
        None if *t == DataType::Null => "NULL".into(),
        None => t.to_string(),
    }
}

/// The Arrow type of a strata TIMESTAMP: milliseconds since the epoch, no zone.
pub const TS: DataType = DataType::Timestamp(TimeUnit::Millisecond, None);

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
