//! The scalar-function registry: every scalar function strata has is one [`ScalarFunction`]
//! entry — its names, arity, argument types, return-type rule, plan-time check, kernel and
//! documentation line — in one of the tables below (strings, arrays, numbers, conditionals, time).
//!
//! The planner (`typing`) types calls and checks their constant arguments with the
//! entry; the engine's evaluator looks the same entry up and runs its kernel over Arrow arrays;
//! `docs/sql.md`'s function table is rendered from the entries ([`doc_table`]) and a test keeps
//! the file in step. To add a function, add its entry (and kernel) to the table of its kind;
//! nothing else names it.
//!
//! The kernels live here, below the engine, because the layering puts strata-sql under
//! strata-engine and the type rules must be known at plan time; they are pure computations
//! over Arrow arrays ([`Val`]: a column, or a constant kept as one element) with no view state.
//! The few functions that are an operator under another name (`MOD`, `NULLIF`, `CONCAT`) call
//! back to the evaluator's operators through [`Operators`].

mod array;
mod conditional;
mod entry;
mod math;
mod string;
mod time;
mod value;

use arrow::datatypes::DataType;

use crate::error::{Error, NameKind, Result};
use crate::plan::Expr;

pub use entry::{
    ArgType, ArgTypes, Arity, Call, Check, Kernel, Operators, ReturnType, ScalarFunction,
    returns_bigint, returns_double, returns_varchar,
};
pub use value::{Val, align};

/// The tables of entries, by kind, in the order the documentation lists them.
static TABLES: [&[ScalarFunction]; 5] = [
    string::FUNCTIONS,
    array::FUNCTIONS,
    math::FUNCTIONS,
    conditional::FUNCTIONS,
    time::FUNCTIONS,
];

/// Every registered scalar function.
pub fn registry() -> impl Iterator<Item = &'static ScalarFunction> {
    TABLES.iter().flat_map(|t| t.iter())
}

/// The function `name` (lower case, its name or an alias) names.
pub fn lookup(name: &str) -> Option<&'static ScalarFunction> {
    registry().find(|f| f.answers_to(name))
}

/// The name plans use for a function written as `name` (lower case): an alias becomes the
/// function's name; anything else, known or not, stays as it is.
pub fn plan_name(name: &str) -> &str {
    match lookup(name) {
        Some(f) => f.name,
        None => name,
    }
}

/// The entry for `name`, or [`Error::Unknown`].
///
/// # Errors
/// [`Error::Unknown`] for a name no function answers to.
pub fn function(name: &str) -> Result<&'static ScalarFunction> {
    lookup(name).ok_or_else(|| Error::Unknown {
        kind: NameKind::Function,
        name: name.to_string(),
    })
}

/// The result type of scalar function `name` applied to arguments of `types`.
///
/// # Errors
/// [`Error::Unknown`] for an unknown function, [`Error::Plan`] for a wrong number or type of
/// arguments.
pub fn return_type(name: &str, types: &[DataType]) -> Result<DataType> {
    function(name)?.return_type(name, types)
}

/// The type of the call `name(args)`, whose arguments have `types`, with the function's
/// plan-time check of its argument expressions.
///
/// # Errors
/// As [`return_type`], and what the function's check finds (an invalid constant argument).
pub fn check_call(name: &str, args: &[Expr], types: &[DataType]) -> Result<DataType> {
    let f = function(name)?;
    let t = f.return_type(name, types)?;
    if let Some(check) = f.check {
        check(args)?;
    }
    Ok(t)
}

/// `docs/sql.md`'s table of scalar functions, rendered from the registry.
pub fn doc_table() -> String {
    let mut out = String::from("| Function | Result |\n|---|---|\n");
    for f in registry() {
        out.push_str(&format!(
            "| {} | {} |\n",
            f.signature.replace('|', "\\|"),
            f.doc.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const BEGIN: &str = "<!-- scalar functions: generated from strata-sql's registry -->\n";
    const END: &str = "<!-- end of scalar functions -->";

    /// Every name and alias is taken once, in lower case, and every entry's documentation
    /// names the function and each alias as SQL writes them.
    #[test]
    fn names_are_unique_lower_case_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for f in registry() {
            for n in std::iter::once(&f.name).chain(f.aliases) {
                assert_eq!(*n, n.to_lowercase());
                assert!(seen.insert(*n), "{n} is registered twice");
                assert!(
                    f.signature.contains(&format!("`{}(", n.to_uppercase())),
                    "the signature of {} does not show {}(…): {}",
                    f.name,
                    n.to_uppercase(),
                    f.signature
                );
            }
            assert!(f.arity.min <= f.arity.max, "{}", f.name);
            assert!(!f.doc.is_empty(), "{}", f.name);
        }
        assert_eq!(plan_name("ucase"), "upper");
        assert_eq!(plan_name("length"), "length");
        assert_eq!(plan_name("no_such"), "no_such");
    }

    /// `docs/sql.md` holds the table the registry renders; `UPDATE_DOCS=1 cargo test -p
    /// strata-sql` rewrites it after a function is added or changed.
    #[test]
    fn docs_sql_md_lists_the_registered_functions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/sql.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("docs/sql.md lacks the markers {BEGIN:?} … {END:?} around the function table");
        };
        let current = &text[b + BEGIN.len()..e];
        let want = doc_table();
        if current != want {
            if std::env::var_os("UPDATE_DOCS").is_some() {
                let updated = format!("{}{want}{}", &text[..b + BEGIN.len()], &text[e..]);
                std::fs::write(&path, updated).unwrap();
                return;
            }
            panic!(
                "docs/sql.md's function table is not the registry's: run `UPDATE_DOCS=1 cargo test -p strata-sql docs_sql_md` to regenerate it.\nwant:\n{want}\nfound:\n{current}"
            );
        }
    }
}
