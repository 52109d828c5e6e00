//! The string functions: case, trimming, length, substrings, concatenation, replacement,
//! regular-expression extraction and splitting.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, StringArray, StringBuilder, new_null_array};
use arrow::datatypes::{DataType, Int64Type};

use crate::error::{Error, Result};
use crate::plan::{BinaryOp, Expr, Literal};

use super::conditional::coalesce_values;
use super::entry::{ArgType, Arity, Call, ScalarFunction, returns_bigint, returns_varchar};
use super::value::{Val, broadcast, map_str, scalar_i64};

use ArgType::{BigInt, Varchar};

/// The string functions' registry entries.
pub(super) static FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "upper",
        aliases: &["ucase"],
        arity: Arity::exactly(1),
        args: &[Varchar],
        returns: returns_varchar,
        check: None,
        kernel: upper,
        signature: "`UPPER(s)` / `UCASE(s)`",
        doc: "`s` in upper case (Unicode rules: `'ß'` → `'SS'`)",
    },
    ScalarFunction {
        name: "lower",
        aliases: &["lcase"],
        arity: Arity::exactly(1),
        args: &[Varchar],
        returns: returns_varchar,
        check: None,
        kernel: lower,
        signature: "`LOWER(s)` / `LCASE(s)`",
        doc: "`s` in lower case",
    },
    ScalarFunction {
        name: "trim",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Varchar],
        returns: returns_varchar,
        check: None,
        kernel: trim,
        signature: "`TRIM(s)`, `TRIM(BOTH FROM s)`",
        doc: "`s` without leading and trailing whitespace",
    },
    ScalarFunction {
        name: "ltrim",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Varchar],
        returns: returns_varchar,
        check: None,
        kernel: ltrim,
        signature: "`LTRIM(s)`, `TRIM(LEADING FROM s)`",
        doc: "`s` without leading whitespace",
    },
    ScalarFunction {
        name: "rtrim",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Varchar],
        returns: returns_varchar,
        check: None,
        kernel: rtrim,
        signature: "`RTRIM(s)`, `TRIM(TRAILING FROM s)`",
        doc: "`s` without trailing whitespace",
    },
    ScalarFunction {
        name: "length",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Varchar],
        returns: returns_bigint,
        check: None,
        kernel: char_length,
        signature: "`LENGTH(s)`",
        doc: "BIGINT: the number of characters (not bytes) in `s`",
    },
    ScalarFunction {
        name: "char_length",
        aliases: &["character_length", "len"],
        arity: Arity::exactly(1),
        args: &[Varchar],
        returns: returns_bigint,
        check: None,
        kernel: char_length,
        signature: "`CHAR_LENGTH(s)` / `CHARACTER_LENGTH(s)` / `LEN(s)`",
        doc: "as `LENGTH(s)`",
    },
    ScalarFunction {
        name: "substring",
        aliases: &["substr"],
        arity: Arity::between(2, 3),
        args: &[Varchar, BigInt, BigInt],
        returns: returns_varchar,
        check: None,
        kernel: substring,
        signature: "`SUBSTRING(s, start [, len])` / `SUBSTRING(s FROM start [FOR len])` / `SUBSTR(s, start [, len])`",
        doc: "`len` characters (default: the rest) of `s` from `start`, 1-based, in characters; a `start` before 1 eats into `len`, as the standard says",
    },
    ScalarFunction {
        name: "concat",
        aliases: &[],
        arity: Arity::at_least(1),
        args: &[],
        returns: returns_varchar,
        check: None,
        kernel: concat,
        signature: "`CONCAT(a, b, …)`",
        doc: "the arguments rendered as text and joined; NULLs are skipped (unlike `a || b`, which is NULL if either is)",
    },
    ScalarFunction {
        name: "replace",
        aliases: &[],
        arity: Arity::exactly(3),
        args: &[Varchar, Varchar, Varchar],
        returns: returns_varchar,
        check: None,
        kernel: replace,
        signature: "`REPLACE(s, from, to)`",
        doc: "`s` with every `from` replaced by `to`; an empty `from` leaves `s` as it is. Count a character: `LENGTH(s) - LENGTH(REPLACE(s, 'c', ''))`",
    },
    ScalarFunction {
        name: "regexp_extract",
        aliases: &[],
        arity: Arity::between(2, 3),
        args: &[Varchar, Varchar, BigInt],
        returns: returns_varchar,
        check: Some(check_regexp_extract),
        kernel: regexp_extract,
        signature: "`REGEXP_EXTRACT(s, pattern [, group])`",
        doc: "The text of capture group `group` (default 0: the whole match) in the first match of `pattern` in `s`; NULL when nothing matches or the group took no part. `pattern` and `group` must be constants and are checked when the view is created (a bad pattern or a group the pattern lacks is an error). Syntax: Rust's `regex` crate (Perl-like, no look-around or back-references)",
    },
    ScalarFunction {
        name: "split_index",
        aliases: &[],
        arity: Arity::exactly(3),
        args: &[Varchar, Varchar, BigInt],
        returns: returns_varchar,
        check: None,
        kernel: split_index,
        signature: "`SPLIT_INDEX(s, sep, i)`",
        doc: "The `i`-th piece (from 0) of `s` split at every `sep` (a string); NULL when `i` is negative or past the last piece. An empty `sep` does not split (`s` is piece 0)",
    },
];

fn upper(call: Call<'_>) -> Result<Val> {
    map_str(&call.arg(0, &DataType::Utf8)?, |x, out| {
        change_case(x, out, true);
    })
}

fn lower(call: Call<'_>) -> Result<Val> {
    map_str(&call.arg(0, &DataType::Utf8)?, |x, out| {
        change_case(x, out, false);
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

fn trim(call: Call<'_>) -> Result<Val> {
    map_str(&call.arg(0, &DataType::Utf8)?, |x, out| {
        out.push_str(x.trim());
    })
}

fn ltrim(call: Call<'_>) -> Result<Val> {
    map_str(&call.arg(0, &DataType::Utf8)?, |x, out| {
        out.push_str(x.trim_start());
    })
}

fn rtrim(call: Call<'_>) -> Result<Val> {
    map_str(&call.arg(0, &DataType::Utf8)?, |x, out| {
        out.push_str(x.trim_end());
    })
}

fn char_length(call: Call<'_>) -> Result<Val> {
    call.arg(0, &DataType::Utf8)?.map(|a| {
        let s = a.as_string::<i32>();
        let out: Int64Array = s
            .iter()
            .map(|x| x.map(|x| x.chars().count() as i64))
            .collect();
        Ok(Arc::new(out))
    })
}

fn substring(call: Call<'_>) -> Result<Val> {
    let s = call.arg(0, &DataType::Utf8)?;
    let start = call.arg(1, &DataType::Int64)?;
    let count = if call.args.len() == 3 {
        Some(call.arg(2, &DataType::Int64)?)
    } else {
        None
    };
    let scalar = s.scalar && start.scalar && count.as_ref().is_none_or(|c| c.scalar);
    let n = if scalar { 1 } else { call.len };
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

/// CONCAT skips NULLs (PostgreSQL, ksqlDB); `||` propagates them.
fn concat(call: Call<'_>) -> Result<Val> {
    let len = call.len;
    let empty = || Val::scalar(Arc::new(StringArray::from(vec![""])));
    let mut acc = empty();
    for a in call.args {
        let a = a.cast(&DataType::Utf8)?;
        let a = coalesce_values(vec![a, empty()], &DataType::Utf8, len)?;
        acc = call.operators.binary(BinaryOp::Concat, acc, a, len)?;
    }
    Ok(acc)
}

fn replace(call: Call<'_>) -> Result<Val> {
    let (cols, n, scalar) = broadcast(call.args, &DataType::Utf8, call.len)?;
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

/// `REGEXP_EXTRACT(s, pattern [, group])`: the text of capture group `group` (0 = the
/// whole match) in the first match of `pattern` in `s`; NULL when there is no match, the
/// group took no part in it, or an argument is NULL.
fn regexp_extract(call: Call<'_>) -> Result<Val> {
    let args = &call.args;
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

/// Compiles a `REGEXP_EXTRACT` pattern.
fn compile_regex(pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| {
        Error::plan(format!(
            "REGEXP_EXTRACT(): invalid regular expression {pattern:?}: {e}"
        ))
    })
}

/// The capture group `group` of `re`, checked to exist.
fn check_group(re: &regex::Regex, group: i64) -> Result<usize> {
    let groups = re.captures_len() - 1;
    match usize::try_from(group) {
        Ok(g) if g <= groups => Ok(g),
        _ => Err(Error::plan(format!(
            "REGEXP_EXTRACT(): group {group} does not exist: the pattern {:?} has groups 0 to {groups}",
            re.as_str()
        ))),
    }
}

fn split_index(mut call: Call<'_>) -> Result<Val> {
    let index = call.arg(2, &DataType::Int64)?;
    let scalar = call.args.iter().all(|a| a.scalar);
    let n = if scalar { 1 } else { call.len };
    let index = index.into_array(n);
    call.args.truncate(2);
    let (cols, _, _) = broadcast(
        call.args
            .into_iter()
            .map(|a| Val::column(a.into_array(n)))
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
        b.append_option(split_piece(s.value(i), sep.value(i), index.value(i)));
    }
    Ok(Val {
        array: Arc::new(b.finish()),
        scalar,
    })
}

/// `SPLIT_INDEX(s, sep, i)`: the `i`-th (0-based) piece of `s` split at every `sep`; NULL
/// when `i` is negative or past the last piece. An empty separator does not split.
fn split_piece<'a>(s: &'a str, sep: &str, index: i64) -> Option<&'a str> {
    let index = usize::try_from(index).ok()?;
    if sep.is_empty() {
        return (index == 0).then_some(s);
    }
    s.split(sep).nth(index)
}
