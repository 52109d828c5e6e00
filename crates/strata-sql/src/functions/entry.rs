//! What one registry entry is: a scalar function's names, arity, argument types, return-type
//! rule, plan-time check, kernel and documentation — everything strata knows about it, in one
//! value (the shape of DataFusion's `ScalarUDFImpl`, as plain data and function pointers).

use arrow::datatypes::DataType;

use crate::error::{Error, Result};
use crate::plan::{BinaryOp, Expr};
use crate::types::{is_numeric, is_ts, type_name};

use super::value::Val;

/// A return-type rule: the type of a call, given its argument types.
pub type ReturnType = fn(&ArgTypes<'_>) -> Result<DataType>;

/// A plan-time check of a call's argument expressions.
pub type Check = fn(&[Expr]) -> Result<()>;

/// A kernel: the call's result over a batch.
pub type Kernel = fn(Call<'_>) -> Result<Val>;

/// A scalar function: one entry of the registry.
pub struct ScalarFunction {
    /// The name plans use, lower case.
    pub name: &'static str,
    /// Other names SQL accepts for it (lower case); the planner writes [`Self::name`] in
    /// their place, so error messages name the function as plans do.
    pub aliases: &'static [&'static str],
    /// How many arguments it takes.
    pub arity: Arity,
    /// The type argument `i` must have (NULL always fits; arguments past the list are free).
    pub args: &'static [ArgType],
    /// The result type, once the arity and argument types are checked; may check more
    /// (arguments that must agree).
    pub returns: ReturnType,
    /// A plan-time check of the call's argument expressions (constant arguments that must be
    /// valid, such as a regular expression), so that mistakes surface at `CREATE` time.
    pub check: Option<Check>,
    /// The computation over Arrow arrays.
    pub kernel: Kernel,
    /// How a call is written, for the documentation: ``"`SUBSTRING(s, start [, len])`"``.
    pub signature: &'static str,
    /// What it returns, one line of `docs/sql.md`'s function table.
    pub doc: &'static str,
}

impl ScalarFunction {
    /// True when `name` (lower case) names this function.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    /// The result type of a call written as `name` (the name or an alias: messages use it)
    /// with arguments of `types`.
    ///
    /// # Errors
    /// [`Error::Plan`] for a wrong number of arguments or an argument of the wrong type,
    /// saying what the function takes.
    pub fn return_type(&self, name: &str, types: &[DataType]) -> Result<DataType> {
        let call = ArgTypes { name, types };
        call.arity(self.arity.min, self.arity.max)?;
        for (i, want) in self.args.iter().enumerate().take(types.len()) {
            call.want(i, *want)?;
        }
        (self.returns)(&call)
    }
}

/// The number of arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arity {
    /// The fewest.
    pub min: usize,
    /// The most (`usize::MAX`: any number).
    pub max: usize,
}

impl Arity {
    /// Exactly `n` arguments.
    pub const fn exactly(n: usize) -> Arity {
        Arity { min: n, max: n }
    }

    /// `min` to `max` arguments.
    pub const fn between(min: usize, max: usize) -> Arity {
        Arity { min, max }
    }

    /// `min` or more arguments.
    pub const fn at_least(min: usize) -> Arity {
        Arity {
            min,
            max: usize::MAX,
        }
    }
}

/// The type an argument must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// VARCHAR.
    Varchar,
    /// BIGINT.
    BigInt,
    /// BIGINT or DOUBLE.
    Numeric,
    /// TIMESTAMP.
    Timestamp,
    /// An `ARRAY<…>` of any element type.
    Array,
}

impl ArgType {
    fn fits(self, t: &DataType) -> bool {
        match self {
            ArgType::Varchar => *t == DataType::Utf8,
            ArgType::BigInt => *t == DataType::Int64,
            ArgType::Numeric => is_numeric(t),
            ArgType::Timestamp => is_ts(t),
            ArgType::Array => crate::types::element_of(t).is_some(),
        }
    }

    fn what(self) -> &'static str {
        match self {
            ArgType::Varchar => "VARCHAR",
            ArgType::BigInt => "BIGINT",
            ArgType::Numeric => "numeric",
            ArgType::Timestamp => "TIMESTAMP",
            ArgType::Array => "an ARRAY",
        }
    }
}

/// A call's argument types, as the return-type rule sees them.
pub struct ArgTypes<'a> {
    /// The name the call is written with (the function's name or an alias).
    pub name: &'a str,
    /// The argument types, in order.
    pub types: &'a [DataType],
}

impl ArgTypes<'_> {
    /// Checks that there are `min` to `max` arguments.
    ///
    /// # Errors
    /// [`Error::Plan`] saying how many the function takes.
    pub fn arity(&self, min: usize, max: usize) -> Result<()> {
        let n = self.types.len();
        if n < min || n > max {
            let want = if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            };
            return Err(Error::plan(format!(
                "{}() takes {want} argument(s), got {n}",
                self.name.to_uppercase(),
            )));
        }
        Ok(())
    }

    /// Checks that argument `i` is of type `want` (or NULL).
    ///
    /// # Errors
    /// [`Error::Plan`] naming the argument, the type it must have and the one it has.
    pub fn want(&self, i: usize, want: ArgType) -> Result<()> {
        let t = &self.types[i];
        if *t == DataType::Null || want.fits(t) {
            Ok(())
        } else {
            Err(Error::plan(format!(
                "argument {} of {}() must be {}, got {}",
                i + 1,
                self.name.to_uppercase(),
                want.what(),
                type_name(t)
            )))
        }
    }
}

/// A return-type rule: always VARCHAR.
pub fn returns_varchar(_: &ArgTypes<'_>) -> Result<DataType> {
    Ok(DataType::Utf8)
}

/// A return-type rule: always BIGINT.
pub fn returns_bigint(_: &ArgTypes<'_>) -> Result<DataType> {
    Ok(DataType::Int64)
}

/// A return-type rule: always DOUBLE.
pub fn returns_double(_: &ArgTypes<'_>) -> Result<DataType> {
    Ok(DataType::Float64)
}

/// What a kernel is called with.
pub struct Call<'a> {
    /// The argument values, in order (of the types the entry's rule accepted).
    pub args: Vec<Val>,
    /// The number of rows in the batch (a constant result stays one element).
    pub len: usize,
    /// The type the entry's rule gave the call.
    pub return_type: DataType,
    /// The expression language's operators, for functions defined by one (`MOD` is `%`).
    pub operators: &'a dyn Operators,
}

impl Call<'_> {
    /// Argument `i` cast to `t` (a NULL argument takes the type the function wants).
    ///
    /// # Errors
    /// [`Error::Arrow`] when the value cannot be cast.
    pub fn arg(&self, i: usize, t: &DataType) -> Result<Val> {
        self.args[i].clone().cast(t)
    }
}

/// The binary operators, as the evaluator runs them. A few functions are an operator under
/// another name (`MOD(a, b)` is `a % b`, `NULLIF` compares with `=`, `CONCAT` joins with `||`);
/// their kernels call back here so each operator is evaluated in one place — the engine's
/// evaluator, which implements this trait (strata-sql cannot depend on it).
pub trait Operators {
    /// `left op right` over `len` rows, by the operator's type rules
    /// (`types::binary_types`).
    ///
    /// # Errors
    /// [`Error::Plan`] for operands the operator does not take, [`Error::Arrow`] when a
    /// kernel fails.
    fn binary(&self, op: BinaryOp, left: Val, right: Val, len: usize) -> Result<Val>;
}
