//! The type of an expression over a schema, checking operand types as it goes. The planner
//! calls [`data_type`] so that type errors surface at `CREATE` time rather than on the first
//! record; the engine's evaluator applies the same rules ([`crate::types`] for operators,
//! [`crate::functions`] for function calls).

use arrow::datatypes::{DataType, Schema};

use crate::error::{Error, Result};
use crate::functions;
use crate::plan::{BinaryOp, Expr};
use crate::types::{
    arrow_type, binary_types, column_index, expect_bool, literal_type, type_name, unify,
};

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
            functions::check_call(name, args, &types)
        }
    }
}
