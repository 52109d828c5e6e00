//! The array functions: strings split into arrays (`SPLIT`, `REGEXP_SPLIT_TO_ARRAY`) — what
//! `EXPLODE` / `UNNEST` turn into rows — and the length of an array.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, StringArray, new_null_array};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field};

use crate::error::{Error, Result};
use crate::plan::{Expr, Literal};
use crate::types::list_of;

use super::entry::{ArgType, ArgTypes, Arity, Call, ScalarFunction, returns_bigint};
use super::value::{Val, broadcast};

/// The array functions' registry entries.
pub(super) static FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "split",
        aliases: &[],
        arity: Arity::exactly(2),
        args: &[ArgType::Varchar, ArgType::Varchar],
        returns: returns_varchar_array,
        check: None,
        kernel: split,
        signature: "`SPLIT(s, delimiter)`",
        doc: "ARRAY<VARCHAR>: the pieces of `s` between occurrences of `delimiter`, as ksqlDB splits: a delimiter at either end or twice in a row gives an empty piece, a missing one gives `[s]`, an empty `delimiter` splits `s` into its characters. Make rows of them with `EXPLODE(SPLIT(s, ' '))` or `CROSS JOIN UNNEST(SPLIT(s, ' ')) AS t(word)`",
    },
    ScalarFunction {
        name: "regexp_split_to_array",
        aliases: &[],
        arity: Arity::exactly(2),
        args: &[ArgType::Varchar, ArgType::Varchar],
        returns: returns_varchar_array,
        check: Some(check_regexp_split),
        kernel: regexp_split,
        signature: "`REGEXP_SPLIT_TO_ARRAY(s, pattern)`",
        doc: "ARRAY<VARCHAR>: the pieces of `s` between matches of `pattern` (`'\\s+'` splits at runs of whitespace); empty pieces are kept as in `SPLIT`, an empty pattern splits into characters. `pattern` must be a constant and is checked when the view is created; syntax as `REGEXP_EXTRACT`",
    },
    ScalarFunction {
        name: "array_length",
        aliases: &["cardinality"],
        arity: Arity::exactly(1),
        args: &[ArgType::Array],
        returns: returns_bigint,
        check: None,
        kernel: array_length,
        signature: "`ARRAY_LENGTH(a)` / `CARDINALITY(a)`",
        doc: "BIGINT: the number of elements of the array `a`",
    },
];

/// A return-type rule: `ARRAY<VARCHAR>`.
fn returns_varchar_array(_: &ArgTypes<'_>) -> Result<DataType> {
    Ok(list_of(DataType::Utf8))
}

/// Builds an `ARRAY<VARCHAR>` column of pieces of the input strings without copying a piece
/// twice: every piece's bytes go straight into one value buffer.
struct Pieces {
    list_offsets: Vec<i32>,
    list_valid: Vec<bool>,
    offsets: Vec<i32>,
    bytes: Vec<u8>,
}

impl Pieces {
    fn with_capacity(rows: usize, bytes: usize) -> Pieces {
        let mut list_offsets = Vec::with_capacity(rows + 1);
        list_offsets.push(0);
        let mut offsets = Vec::with_capacity(rows * 4 + 1);
        offsets.push(0);
        Pieces {
            list_offsets,
            list_valid: Vec::with_capacity(rows),
            offsets,
            bytes: Vec::with_capacity(bytes),
        }
    }

    fn piece(&mut self, s: &str) -> Result<()> {
        self.bytes.extend_from_slice(s.as_bytes());
        self.offsets.push(offset(self.bytes.len())?);
        Ok(())
    }

    fn end_row(&mut self, valid: bool) -> Result<()> {
        self.list_offsets.push(offset(self.offsets.len() - 1)?);
        self.list_valid.push(valid);
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef> {
        let values = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(self.offsets)),
            Buffer::from_vec(self.bytes),
            None,
        )?;
        let nulls = self
            .list_valid
            .contains(&false)
            .then(|| NullBuffer::from(self.list_valid));
        Ok(Arc::new(ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            OffsetBuffer::new(ScalarBuffer::from(self.list_offsets)),
            Arc::new(values),
            nulls,
        )?))
    }
}

fn offset(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::plan("an array column of a micro-batch passes 2 GiB"))
}

/// `SPLIT(s, delimiter)`: as ksqlDB (and Rust's `str::split`), but an empty delimiter
/// splits into characters.
fn split(call: Call<'_>) -> Result<Val> {
    let (cols, n, scalar) = broadcast(call.args, &DataType::Utf8, call.len)?;
    let (s, delimiter) = (cols[0].as_string::<i32>(), cols[1].as_string::<i32>());
    let mut out = Pieces::with_capacity(n, s.value_data().len());
    for i in 0..n {
        if s.is_null(i) || delimiter.is_null(i) {
            out.end_row(false)?;
            continue;
        }
        let (s, d) = (s.value(i), delimiter.value(i));
        match d.as_bytes() {
            [] => {
                for (at, c) in s.char_indices() {
                    out.piece(&s[at..at + c.len_utf8()])?;
                }
            }
            // One byte (a space, a comma): a byte scan, the word count's hot loop. An ASCII
            // byte never occurs inside a multi-byte UTF-8 character, so the cuts are on
            // character boundaries.
            [b] if b.is_ascii() => {
                let mut from = 0;
                for (at, _) in s.bytes().enumerate().filter(|(_, x)| x == b) {
                    out.piece(&s[from..at])?;
                    from = at + 1;
                }
                out.piece(&s[from..])?;
            }
            _ => {
                for p in s.split(d) {
                    out.piece(p)?;
                }
            }
        }
        out.end_row(true)?;
    }
    Ok(Val {
        array: out.finish()?,
        scalar,
    })
}

/// `REGEXP_SPLIT_TO_ARRAY(s, pattern)`.
fn regexp_split(call: Call<'_>) -> Result<Val> {
    let pattern = &call.args[1];
    if !pattern.scalar {
        return Err(Error::plan(
            "the pattern (argument 2) of REGEXP_SPLIT_TO_ARRAY() must be a constant",
        ));
    }
    let pattern = pattern.clone().cast(&DataType::Utf8)?;
    let pattern = pattern.array.as_string::<i32>();
    let s = call.args[0].clone().cast(&DataType::Utf8)?;
    if pattern.is_null(0) {
        return Ok(Val {
            array: new_null_array(&list_of(DataType::Utf8), s.array.len()),
            scalar: s.scalar,
        });
    }
    let re = if pattern.value(0).is_empty() {
        None
    } else {
        Some(compile(pattern.value(0))?)
    };
    let strings = s.array.as_string::<i32>();
    let mut out = Pieces::with_capacity(strings.len(), strings.value_data().len());
    for x in strings.iter() {
        let Some(x) = x else {
            out.end_row(false)?;
            continue;
        };
        match &re {
            Some(re) => {
                for p in re.split(x) {
                    out.piece(p)?;
                }
            }
            None => {
                for (at, c) in x.char_indices() {
                    out.piece(&x[at..at + c.len_utf8()])?;
                }
            }
        }
        out.end_row(true)?;
    }
    Ok(Val {
        array: out.finish()?,
        scalar: s.scalar,
    })
}

/// The pattern of `REGEXP_SPLIT_TO_ARRAY`, checked when the view is planned.
fn check_regexp_split(args: &[Expr]) -> Result<()> {
    match args.get(1) {
        Some(Expr::Literal(Literal::String(p))) if p.is_empty() => Ok(()),
        Some(Expr::Literal(Literal::String(p))) => compile(p).map(|_| ()),
        Some(Expr::Literal(Literal::Null)) | None => Ok(()),
        Some(_) => Err(Error::plan(
            "the pattern (argument 2) of REGEXP_SPLIT_TO_ARRAY() must be a constant string",
        )),
    }
}

fn compile(pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| {
        Error::plan(format!(
            "REGEXP_SPLIT_TO_ARRAY(): invalid regular expression {pattern:?}: {e}"
        ))
    })
}

/// `ARRAY_LENGTH(a)`: arrow's list-length kernel, as BIGINT.
fn array_length(call: Call<'_>) -> Result<Val> {
    let a = &call.args[0];
    if a.data_type() == &DataType::Null {
        return Ok(Val {
            array: new_null_array(&DataType::Int64, a.array.len()),
            scalar: a.scalar,
        });
    }
    a.map(|array| {
        let lengths = arrow::compute::kernels::length::length(array)?;
        Ok(arrow::compute::cast(&lengths, &DataType::Int64)?)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::functions::{Operators, lookup};
    use crate::plan::BinaryOp;
    use proptest::prelude::*;

    struct NoOperators;

    impl Operators for NoOperators {
        fn binary(&self, _: BinaryOp, _: Val, _: Val, _: usize) -> Result<Val> {
            Err(Error::plan("not used"))
        }
    }

    /// Runs registry function `name` over one column of strings and a constant second
    /// argument; the result's rows as vectors.
    fn run(name: &str, rows: &[Option<&str>], arg: &str) -> Vec<Option<Vec<String>>> {
        let f = lookup(name).unwrap();
        let column = Val::column(Arc::new(StringArray::from(rows.to_vec())));
        let constant = Val::scalar(Arc::new(StringArray::from(vec![arg])));
        let out = (f.kernel)(Call {
            args: vec![column, constant],
            len: rows.len(),
            return_type: list_of(DataType::Utf8),
            operators: &NoOperators,
        })
        .unwrap();
        let list = out.array.as_list::<i32>();
        (0..list.len())
            .map(|i| {
                (!list.is_null(i)).then(|| {
                    let v = list.value(i);
                    v.as_string::<i32>()
                        .iter()
                        .map(|x| x.unwrap().to_string())
                        .collect()
                })
            })
            .collect()
    }

    fn owned(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| (*s).to_string()).collect())
    }

    #[test]
    fn split_follows_ksqldb() {
        let got = run(
            "split",
            &[
                Some("a b  c"),
                Some(" x "),
                Some(""),
                None,
                Some("héllo wörld"),
            ],
            " ",
        );
        assert_eq!(
            got,
            vec![
                owned(&["a", "b", "", "c"]),
                owned(&["", "x", ""]),
                owned(&[""]),
                None,
                owned(&["héllo", "wörld"]),
            ]
        );
        assert_eq!(
            run("split", &[Some("aéb")], ""),
            vec![owned(&["a", "é", "b"])]
        );
        assert_eq!(
            run("split", &[Some("a::b:c")], "::"),
            vec![owned(&["a", "b:c"])]
        );
    }

    #[test]
    fn regexp_split_cuts_at_matches_and_checks_its_pattern() {
        let got = run("regexp_split_to_array", &[Some("a  b\tc"), None], r"\s+");
        assert_eq!(got, vec![owned(&["a", "b", "c"]), None]);
        assert_eq!(
            run("regexp_split_to_array", &[Some("ab")], ""),
            vec![owned(&["a", "b"])]
        );
        let bad = check_regexp_split(&[
            Expr::Column("s".into()),
            Expr::Literal(Literal::String("(".into())),
        ]);
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("invalid regular expression")
        );
        let column = check_regexp_split(&[Expr::Column("s".into()), Expr::Column("p".into())]);
        assert!(column.unwrap_err().to_string().contains("constant"));
    }

    proptest! {
        /// SPLIT equals Rust's `str::split` (characters for an empty delimiter).
        #[test]
        fn split_equals_rust_split(
            rows in proptest::collection::vec("[ab ,é]{0,12}", 0..8),
            delimiter in prop::sample::select(vec![" ", ",", "ab", "é", ""]),
        ) {
            let input: Vec<Option<&str>> = rows.iter().map(|s| Some(s.as_str())).collect();
            let got = run("split", &input, delimiter);
            let want: Vec<Option<Vec<String>>> = rows
                .iter()
                .map(|s| {
                    Some(if delimiter.is_empty() {
                        s.chars().map(String::from).collect()
                    } else {
                        s.split(delimiter).map(str::to_string).collect()
                    })
                })
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
