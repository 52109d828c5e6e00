//! How a source's records are encoded, from its `WITH (…)` properties: the value format
//! (ksqlDB `value_format` JSON / KAFKA / DELIMITED with `wrap_single_value` and
//! `value_delimiter`; Flink `'format'` json / raw / csv with `'csv.field-delimiter'`), the key
//! format (`key_format`, `'key.format'`) and Flink's `'key.fields'`, each checked against the
//! declared columns so that a format that cannot hold them is refused at `CREATE` time with
//! what to write instead. Also the `ARRAY<t>` column type, which only JSON values can carry.
//!
//! The engine's decoders (`strata-engine`'s `decode`) read what is decided here.

use sqlparser::tokenizer::{Location, Token};

use crate::error::Result;
use crate::plan::{ColumnDef, ScalarType, SqlType, ValueFormat};
use crate::tokens::{Cursor, TYPE_HINT, sql_err, sql_type_named};

/// A source's properties, looked up by (lower-case) name.
pub(crate) type Props<'p> = dyn Fn(&str) -> Option<&'p str> + 'p;

/// Reads `<t>` after `ARRAY` in a column type: `ARRAY<VARCHAR>`, `ARRAY<BIGINT>`, …
///
/// # Errors
/// [`crate::Error::Sql`] for a missing `<…>`, an unknown element type or a nested array.
pub(crate) fn array_type(c: &mut Cursor<'_>, loc: Location) -> Result<SqlType> {
    let hint =
        " (write ARRAY<VARCHAR>, ARRAY<BIGINT>, ARRAY<DOUBLE>, ARRAY<BOOLEAN> or ARRAY<TIMESTAMP>)";
    c.expect(&Token::Lt, hint)?;
    let eloc = c.loc();
    let name = match c.next().map(|t| &t.token) {
        Some(Token::Word(w)) => w.value.clone(),
        _ => return Err(sql_err(eloc, format!("expected an element type{hint}"))),
    };
    let element = sql_type_named(&name)
        .and_then(ScalarType::of)
        .ok_or_else(|| {
            let what = if name.eq_ignore_ascii_case("ARRAY") {
                "arrays of arrays are not supported".to_string()
            } else {
                format!("type {} is not supported; {TYPE_HINT}", name.to_uppercase())
            };
            sql_err(eloc, format!("{what}{hint}"))
        })?;
    if c.peek().is_some_and(|t| t.token == Token::LParen) {
        let open = c.loc();
        c.next();
        c.until_close(open)?;
    }
    if !c.eat(&Token::Gt) {
        return Err(sql_err(
            loc,
            format!("expected `>` to close ARRAY<…>{hint}"),
        ));
    }
    Ok(SqlType::Array(element))
}

/// The value format a ksqlDB `WITH (value_format = …, wrap_single_value = …,
/// value_delimiter = …)` declares for `columns` (the value columns: a KEY column read from
/// the record key is not among them).
///
/// # Errors
/// [`crate::Error::Sql`] at `at` for a format strata does not read, options that do not apply
/// to it, or columns the format cannot hold.
pub(crate) fn ksql_value_format(
    prop: &Props<'_>,
    columns: &[&ColumnDef],
    at: Location,
) -> Result<ValueFormat> {
    let name = prop("value_format")
        .or(prop("format"))
        .unwrap_or("JSON")
        .to_ascii_uppercase();
    let wrap = wrap_single_value(prop, at)?;
    let delimiter = prop("value_delimiter");
    if delimiter.is_some() && name != "DELIMITED" {
        return Err(sql_err(
            at,
            format!(
                "value_delimiter applies to value_format='DELIMITED', not {name}; drop it or use DELIMITED"
            ),
        ));
    }
    match name.as_str() {
        "JSON" => match wrap {
            Some(false) => {
                single(
                    columns,
                    at,
                    "value_format='JSON' with wrap_single_value=false",
                )?;
                Ok(ValueFormat::JsonUnwrapped)
            }
            _ => Ok(ValueFormat::Json),
        },
        "KAFKA" => {
            no_wrap(wrap, "KAFKA", at)?;
            kafka(columns, at, "value_format='KAFKA'")
        }
        "DELIMITED" => {
            no_wrap(wrap, "DELIMITED", at)?;
            let delimiter = match delimiter {
                Some(d) => delimiter_char(d, at, "value_delimiter")?,
                None => ',',
            };
            delimited(columns, at, "value_format='DELIMITED'", delimiter)
        }
        other => Err(sql_err(
            at,
            format!(
                "value_format '{other}' is not supported; use JSON, KAFKA (the whole value is one column) or DELIMITED (comma-separated fields)"
            ),
        )),
    }
}

/// The value format a Flink `WITH ('format' = …)` (or `'value.format'`) declares for
/// `columns`.
///
/// # Errors
/// As [`ksql_value_format`].
pub(crate) fn flink_value_format(
    prop: &Props<'_>,
    columns: &[&ColumnDef],
    at: Location,
) -> Result<ValueFormat> {
    let name = prop("format")
        .or(prop("value.format"))
        .unwrap_or("json")
        .to_ascii_lowercase();
    match name.as_str() {
        "json" => Ok(ValueFormat::Json),
        "raw" => kafka(columns, at, "'format' = 'raw'"),
        "csv" => {
            let delimiter = match prop("csv.field-delimiter") {
                Some(d) => delimiter_char(d, at, "'csv.field-delimiter'")?,
                None => ',',
            };
            delimited(columns, at, "'format' = 'csv'", delimiter)
        }
        other => Err(sql_err(
            at,
            format!(
                "format '{other}' is not supported; use 'json', 'raw' (the whole value is one column) or 'csv'"
            ),
        )),
    }
}

/// The column `'key.fields'` (Flink) or a `KEY` marker names is read from the record key in
/// this key format; checks the format is one strata reads.
///
/// # Errors
/// [`crate::Error::Sql`] at `at` for a key format strata does not read, or more than one key
/// field.
pub(crate) fn key_format(prop: &Props<'_>, at: Location) -> Result<Option<String>> {
    if let Some(f) = prop("key_format").or(prop("key.format"))
        && !["kafka", "json", "none", "raw"]
            .iter()
            .any(|k| f.eq_ignore_ascii_case(k))
    {
        return Err(sql_err(
            at,
            format!(
                "key format '{f}' is not supported; use KAFKA (the key's bytes are the key column, as text) or JSON"
            ),
        ));
    }
    match prop("key.fields") {
        None => Ok(None),
        Some(f) if f.contains(';') || f.contains(',') => Err(sql_err(
            at,
            "'key.fields' names one column in strata (keys are one column)",
        )),
        Some(f) => Ok(Some(f.trim().to_lowercase())),
    }
}

/// `wrap_single_value`, if given.
fn wrap_single_value(prop: &Props<'_>, at: Location) -> Result<Option<bool>> {
    match prop("wrap_single_value") {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(sql_err(
            at,
            format!("wrap_single_value must be true or false, not '{v}'"),
        )),
    }
}

fn no_wrap(wrap: Option<bool>, format: &str, at: Location) -> Result<()> {
    if wrap.is_some() {
        return Err(sql_err(
            at,
            format!(
                "wrap_single_value applies to value_format='JSON'; a {format} value is never wrapped: drop the property"
            ),
        ));
    }
    Ok(())
}

/// The one value column a single-value format needs.
fn single<'c>(columns: &[&'c ColumnDef], at: Location, what: &str) -> Result<&'c ColumnDef> {
    match columns {
        [one] => Ok(one),
        _ => Err(sql_err(
            at,
            format!(
                "{what} holds one value column, and {} are declared ({}); declare one column (a KEY column is read from the record key), or use value_format='DELIMITED' or 'JSON' for several",
                columns.len(),
                names(columns)
            ),
        )),
    }
}

/// KAFKA / raw: one VARCHAR, BIGINT or DOUBLE column.
fn kafka(columns: &[&ColumnDef], at: Location, what: &str) -> Result<ValueFormat> {
    let c = single(columns, at, what)?;
    match c.data_type {
        SqlType::Varchar | SqlType::BigInt | SqlType::Double => Ok(ValueFormat::Kafka),
        t => Err(sql_err(
            at,
            format!(
                "{what} reads column {} as VARCHAR (UTF-8 text), BIGINT or DOUBLE, not {}; change its type or use JSON",
                c.name,
                type_label(t)
            ),
        )),
    }
}

/// DELIMITED / csv: scalar columns, one field each.
fn delimited(
    columns: &[&ColumnDef],
    at: Location,
    what: &str,
    delimiter: char,
) -> Result<ValueFormat> {
    if let Some(c) = columns
        .iter()
        .find(|c| ScalarType::of(c.data_type).is_none())
    {
        return Err(sql_err(
            at,
            format!(
                "{what} cannot hold column {} of type {}: a field is one value; use value_format='JSON' for arrays",
                c.name,
                type_label(c.data_type)
            ),
        ));
    }
    if columns.is_empty() {
        return Err(sql_err(at, format!("{what} needs a value column")));
    }
    Ok(ValueFormat::Delimited { delimiter })
}

/// A delimiter property: one character, or ksqlDB's `TAB` / `SPACE`.
fn delimiter_char(v: &str, at: Location, what: &str) -> Result<char> {
    if v.eq_ignore_ascii_case("TAB") || v == "\\t" {
        return Ok('\t');
    }
    if v.eq_ignore_ascii_case("SPACE") {
        return Ok(' ');
    }
    let mut chars = v.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c != '"' && c != '\n' && c != '\r' => Ok(c),
        _ => Err(sql_err(
            at,
            format!(
                "{what} must be one character (or TAB / SPACE), not '{v}'; quotes and line breaks cannot separate fields"
            ),
        )),
    }
}

fn names(columns: &[&ColumnDef]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_label(t: SqlType) -> String {
    crate::types::type_name(&crate::types::arrow_type(t))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::plan::{KeyFormat, ScalarType, SourceDef, Statement};
    use crate::{EmptyCatalog, parse};

    use super::*;

    fn source(sql: &str) -> SourceDef {
        match parse(sql, &EmptyCatalog)
            .unwrap_or_else(|e| panic!("{sql}\n→ {e}"))
            .remove(0)
        {
            Statement::CreateSource { source, .. } => source,
            other => panic!("not a source: {other:?}"),
        }
    }

    fn err(sql: &str) -> String {
        parse(sql, &EmptyCatalog).unwrap_err().to_string()
    }

    #[test]
    fn each_dialect_names_each_format() {
        let s =
            source("CREATE STREAM l (line VARCHAR) WITH (kafka_topic='l', value_format='KAFKA')");
        assert_eq!(s.format, ValueFormat::Kafka);
        let s = source(
            "CREATE STREAM o (id VARCHAR KEY, p VARCHAR, q BIGINT) WITH (kafka_topic='o', value_format='delimited', value_delimiter='|', key_format='KAFKA')",
        );
        assert_eq!(s.format, ValueFormat::Delimited { delimiter: '|' });
        assert_eq!(s.primary_key.as_deref(), Some("id"));
        assert_eq!(s.key_format(), KeyFormat::Kafka);
        let s = source(
            "CREATE STREAM n (name VARCHAR) WITH (kafka_topic='n', value_format='JSON', wrap_single_value=false)",
        );
        assert_eq!(s.format, ValueFormat::JsonUnwrapped);
        let s = source(
            "CREATE TABLE r (id STRING, v DOUBLE) WITH ('connector'='kafka', 'topic'='r', 'format'='csv', 'csv.field-delimiter'=';', 'key.format'='raw', 'key.fields'='id')",
        );
        assert_eq!(s.format, ValueFormat::Delimited { delimiter: ';' });
        assert_eq!(s.primary_key.as_deref(), Some("id"));
        let s = source("CREATE TABLE raw (t STRING) WITH ('connector'='kafka', 'format'='raw')");
        assert_eq!(s.format, ValueFormat::Kafka);
        let s = source(
            "CREATE STREAM a (tags ARRAY<VARCHAR>, n ARRAY<BIGINT>) WITH (kafka_topic='a', key_format='JSON')",
        );
        assert_eq!(s.columns[0].data_type, SqlType::Array(ScalarType::Varchar));
        assert_eq!(s.columns[1].data_type, SqlType::Array(ScalarType::BigInt));
        assert_eq!(s.key_format(), KeyFormat::Json);
    }

    #[test]
    fn formats_that_cannot_hold_the_columns_are_refused_with_what_to_write() {
        let cases = [
            (
                "CREATE STREAM s (a VARCHAR, b VARCHAR) WITH (kafka_topic='s', value_format='KAFKA')",
                "holds one value column",
            ),
            (
                "CREATE STREAM s (a BOOLEAN) WITH (kafka_topic='s', value_format='KAFKA')",
                "VARCHAR (UTF-8 text), BIGINT or DOUBLE",
            ),
            (
                "CREATE STREAM s (a VARCHAR) WITH (kafka_topic='s', value_format='KAFKA', wrap_single_value=false)",
                "never wrapped",
            ),
            (
                "CREATE STREAM s (a ARRAY<VARCHAR>) WITH (kafka_topic='s', value_format='DELIMITED')",
                "use value_format='JSON' for arrays",
            ),
            (
                "CREATE STREAM s (a VARCHAR) WITH (kafka_topic='s', value_format='DELIMITED', value_delimiter='ab')",
                "one character",
            ),
            (
                "CREATE STREAM s (a VARCHAR) WITH (kafka_topic='s', value_delimiter=',')",
                "applies to value_format='DELIMITED'",
            ),
            (
                "CREATE STREAM s (a VARCHAR) WITH (kafka_topic='s', value_format='AVRO')",
                "value_format 'AVRO' is not supported",
            ),
            (
                "CREATE TABLE t (a INT) WITH ('connector'='kafka', 'topic'='t', 'format'='avro')",
                "format 'avro' is not supported",
            ),
            (
                "CREATE STREAM s (a VARCHAR) WITH (kafka_topic='s', key_format='AVRO')",
                "key format 'AVRO' is not supported",
            ),
            (
                "CREATE STREAM s (a ARRAY<ARRAY<INT>>) WITH (kafka_topic='s')",
                "arrays of arrays",
            ),
            (
                "CREATE STREAM s (a ARRAY) WITH (kafka_topic='s')",
                "ARRAY<VARCHAR>",
            ),
        ];
        for (sql, needle) in cases {
            let e = err(sql);
            assert!(e.contains(needle) && e.contains("line 1"), "{sql}\n→ {e}");
        }
    }

    #[test]
    fn a_key_column_is_not_a_value_column() {
        // KAFKA holds one value column: `id` comes from the key.
        let s = source(
            "CREATE STREAM s (id BIGINT KEY, line VARCHAR) WITH (kafka_topic='s', value_format='KAFKA')",
        );
        assert_eq!(s.format, ValueFormat::Kafka);
        // …unless the key is not read.
        let e = err(
            "CREATE STREAM s (id BIGINT KEY, line VARCHAR) WITH (kafka_topic='s', value_format='KAFKA', key_format='NONE')",
        );
        assert!(e.contains("2 are declared (id, line)"), "{e}");
    }
}
