//! Values that are text, not JSON: ksqlDB's KAFKA format (and Flink's raw), where the whole
//! record value — or key — is one column, and DELIMITED / csv, where it is a line of fields.
//!
//! A field is converted by its column's type with the parsers the JSON decoder uses for a
//! string: VARCHAR as it is, BIGINT and DOUBLE by arrow-cast's number parsers, TIMESTAMP as
//! epoch milliseconds or a date-time string, BOOLEAN from `true`/`false` (any case). A KAFKA
//! number may also be Kafka's own serialization (what `LongSerializer` and
//! `DoubleSerializer` write: 8 bytes, big-endian), told from text by what text never holds:
//! a byte that is not UTF-8 or an ASCII control character (the zero bytes of any small
//! number). Eight bytes of text (`{"id":8}`) are text, and not a number.

use arrow::array::ArrayRef;
use arrow::array::timezone::Tz;
use arrow::compute::kernels::cast_utils::{Parser, string_to_datetime};
use arrow::datatypes::{Float64Type, Int64Type};
use arrow::error::ArrowError;

use super::columns::{Column, Value};
use crate::plan::{ColumnDef, SqlType};

/// The value of a field written as `text`, in type `t`; `None` when it does not convert.
pub(super) fn field<'a>(t: SqlType, text: &'a str, utc: &Tz) -> Option<Value<'a>> {
    let number = text.trim_matches(|c: char| c.is_ascii_whitespace());
    Some(match t {
        SqlType::Varchar => Value::Text(text),
        SqlType::BigInt => Value::Int(Int64Type::parse(number)?),
        SqlType::Double => Value::Float(Float64Type::parse(number)?),
        SqlType::Boolean if number.eq_ignore_ascii_case("true") => Value::Bool(true),
        SqlType::Boolean if number.eq_ignore_ascii_case("false") => Value::Bool(false),
        SqlType::Boolean => return None,
        SqlType::Timestamp => match Int64Type::parse(number) {
            Some(ms) => Value::Int(ms),
            None => Value::Int(string_to_datetime(utc, number).ok()?.timestamp_millis()),
        },
        SqlType::Array(_) => return None,
    })
}

/// A whole value (or key) `bytes` in type `t`, the KAFKA format: text, or for BIGINT and
/// DOUBLE Kafka's 8-byte big-endian serialization.
///
/// # Errors
/// Why the bytes are not a value of `t`, naming the column.
pub(super) fn whole<'a>(
    name: &str,
    t: SqlType,
    bytes: &'a [u8],
    utc: &Tz,
) -> Result<Value<'a>, String> {
    let fail = |what: &str| {
        format!(
            "column {name:?}: cannot read {what} as {}",
            super::json::type_name(t)
        )
    };
    let text = std::str::from_utf8(bytes);
    if let Ok(text) = text
        && let Some(v) = field(t, text, utc)
    {
        return Ok(v);
    }
    let binary = text.is_err() || bytes.iter().any(u8::is_ascii_control);
    if binary && let Ok(eight) = <[u8; 8]>::try_from(bytes) {
        match t {
            SqlType::BigInt => return Ok(Value::Int(i64::from_be_bytes(eight))),
            SqlType::Double => return Ok(Value::Float(f64::from_be_bytes(eight))),
            _ => {}
        }
    }
    Err(match text {
        Ok(text) => fail(&format!("{:?}", shorten(text))),
        Err(_) => fail("bytes that are not UTF-8 text"),
    })
}

fn shorten(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// KAFKA / raw values: the whole value is the one column.
#[derive(Debug)]
pub(super) struct KafkaRows {
    name: String,
    t: SqlType,
    column: Column,
    utc: Tz,
}

impl KafkaRows {
    /// A decoder of values of `column`.
    ///
    /// # Errors
    /// None in practice: the UTC time zone parses.
    pub(super) fn new(column: &ColumnDef) -> Result<Self, ArrowError> {
        Ok(KafkaRows {
            name: column.name.clone(),
            t: column.data_type,
            column: Column::new(column.data_type),
            utc: "+00:00".parse()?,
        })
    }

    /// Appends the row of `value`.
    ///
    /// # Errors
    /// A value that is not one of the column's type; nothing is appended then.
    pub(super) fn push(&mut self, value: &[u8]) -> Result<(), String> {
        let v = whole(&self.name, self.t, value, &self.utc)?;
        self.column.push(v)
    }

    /// Appends a NULL (a table's tombstone).
    pub(super) fn push_nulls(&mut self) -> Result<(), String> {
        self.column.push(Value::Null)
    }

    /// The column of the rows appended since the last call.
    ///
    /// # Errors
    /// Arrow's checks of the array.
    pub(super) fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        Ok(vec![self.column.finish()?])
    }
}

/// DELIMITED / csv values: one field per column, in order.
#[derive(Debug)]
pub(super) struct DelimitedRows {
    names: Vec<String>,
    types: Vec<SqlType>,
    columns: Vec<Column>,
    rows: usize,
    delimiter: char,
    /// The unquoted text of the current value's fields (reused).
    fields: Vec<String>,
    utc: Tz,
}

impl DelimitedRows {
    /// A decoder of `columns` separated by `delimiter`.
    ///
    /// # Errors
    /// None in practice: the UTC time zone parses.
    pub(super) fn new(columns: &[&ColumnDef], delimiter: char) -> Result<Self, ArrowError> {
        Ok(DelimitedRows {
            names: columns.iter().map(|c| c.name.clone()).collect(),
            types: columns.iter().map(|c| c.data_type).collect(),
            columns: columns.iter().map(|c| Column::new(c.data_type)).collect(),
            rows: 0,
            delimiter,
            fields: Vec::new(),
            utc: "+00:00".parse()?,
        })
    }

    /// Appends the row of `value`: as many fields as columns; an empty field is NULL
    /// (`""` is the empty string); a line break at the end is not part of the last field.
    ///
    /// # Errors
    /// Not UTF-8, the wrong number of fields, a bad quote, a field that does not convert;
    /// nothing is appended then.
    pub(super) fn push(&mut self, value: &[u8]) -> Result<(), String> {
        let text =
            std::str::from_utf8(value).map_err(|e| format!("the value is not UTF-8: {e}"))?;
        let text = text.trim_end_matches(['\n', '\r']);
        let quoted = split_fields(text, self.delimiter, &mut self.fields)?;
        if self.fields.len() != self.columns.len() {
            return Err(format!(
                "expected {} fields separated by {:?} ({}), got {}",
                self.columns.len(),
                self.delimiter,
                self.names.join(", "),
                self.fields.len()
            ));
        }
        for c in 0..self.columns.len() {
            let f = self.fields[c].as_str();
            let v = if f.is_empty() && quoted & (1u64 << c.min(63)) == 0 {
                Some(Value::Null)
            } else {
                field(self.types[c], f, &self.utc)
            };
            let pushed = match v {
                Some(v) => self.columns[c].push(v),
                None => Err(format!(
                    "column {:?}: cannot read {:?} as {}",
                    self.names[c],
                    shorten(f),
                    super::json::type_name(self.types[c])
                )),
            };
            if let Err(e) = pushed {
                for column in &mut self.columns[..c] {
                    column.truncate(self.rows);
                }
                return Err(e);
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Appends a row of NULLs (a table's tombstone).
    pub(super) fn push_nulls(&mut self) -> Result<(), String> {
        for column in &mut self.columns {
            column.push(Value::Null)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The columns of the rows appended since the last call.
    ///
    /// # Errors
    /// Arrow's checks of the arrays.
    pub(super) fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        self.rows = 0;
        self.columns.iter_mut().map(Column::finish).collect()
    }
}

/// Splits `text` at `delimiter` into `out` (cleared), RFC 4180 quoting: a field that starts
/// with `"` runs to the next lone `"`, and `""` inside it is one quote. Returns a bit per
/// field (the first 64) that was quoted, so that `""` can be told from an empty field.
///
/// # Errors
/// An unclosed quote, or text after a closing quote.
pub(super) fn split_fields(
    text: &str,
    delimiter: char,
    out: &mut Vec<String>,
) -> Result<u64, String> {
    out.clear();
    let mut quoted = 0u64;
    let mut rest = text;
    loop {
        let mut field = String::new();
        if let Some(inner) = rest.strip_prefix('"') {
            quoted |= 1u64 << out.len().min(63);
            let mut chars = inner.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c != '"' {
                    field.push(c);
                } else if inner[i + 1..].starts_with('"') {
                    field.push('"');
                    chars.next();
                } else {
                    end = Some(i + 1);
                    break;
                }
            }
            let end = end.ok_or_else(|| format!("field {} has no closing quote", out.len() + 1))?;
            rest = &inner[end..];
            out.push(field);
            match rest.strip_prefix(delimiter) {
                Some(r) => rest = r,
                None if rest.is_empty() => return Ok(quoted),
                None => {
                    return Err(format!(
                        "field {} has text after its closing quote",
                        out.len()
                    ));
                }
            }
        } else {
            match rest.split_once(delimiter) {
                Some((f, r)) => {
                    field.push_str(f);
                    out.push(field);
                    rest = r;
                }
                None => {
                    field.push_str(rest);
                    out.push(field);
                    return Ok(quoted);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc() -> Tz {
        "+00:00".parse().expect("utc")
    }

    #[test]
    fn kafka_numbers_are_text_or_kafkas_big_endian_bytes() {
        let u = utc();
        assert_eq!(whole("n", SqlType::BigInt, b"42", &u), Ok(Value::Int(42)));
        assert_eq!(
            whole("n", SqlType::BigInt, b" 42\n", &u),
            Ok(Value::Int(42))
        );
        assert_eq!(
            whole("n", SqlType::BigInt, &7i64.to_be_bytes(), &u),
            Ok(Value::Int(7))
        );
        assert_eq!(
            whole("n", SqlType::Double, &2.5f64.to_be_bytes(), &u),
            Ok(Value::Float(2.5))
        );
        assert_eq!(
            whole("n", SqlType::BigInt, b"12345678", &u),
            Ok(Value::Int(12_345_678))
        );
        let bad = whole("n", SqlType::BigInt, b"many", &u).expect_err("not a number");
        assert!(bad.contains("\"many\"") && bad.contains("BIGINT"), "{bad}");
        assert_eq!(
            whole("s", SqlType::Varchar, b" a b ", &u),
            Ok(Value::Text(" a b "))
        );
        assert!(whole("s", SqlType::Varchar, b"\xff", &u).is_err());
    }

    #[test]
    fn quoted_fields_keep_delimiters_and_quotes() {
        let mut out = Vec::new();
        let q = split_fields(r#"a,"b,c","say ""hi""",,"""#, ',', &mut out).expect("split");
        assert_eq!(out, ["a", "b,c", "say \"hi\"", "", ""]);
        assert_eq!(q, 0b10110);
        assert!(split_fields(r#""open"#, ',', &mut out).is_err());
        assert!(split_fields(r#""a"b,c"#, ',', &mut out).is_err());
    }

    proptest! {
        /// Fields written with RFC 4180 quoting read back as they were.
        #[test]
        fn quoting_round_trips(fields in proptest::collection::vec("[a-z,\" ]{0,6}", 1..6)) {
            let line: Vec<String> = fields
                .iter()
                .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
                .collect();
            let mut out = Vec::new();
            split_fields(&line.join(","), ',', &mut out).expect("split");
            prop_assert_eq!(out, fields);
        }
    }
}
