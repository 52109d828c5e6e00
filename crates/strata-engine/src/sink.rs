//! Encoding a view's rows for a named output topic (`WITH (kafka_topic=…) AS`, `INSERT
//! INTO`), and checking, when the view is created, that its rows can be written in the
//! declared formats.
//!
//! The one seam where an output format plugs in: [`OutputEncoder::encode`] turns a changelog
//! record — its key, the JSON object of the view's key columns, and its value, the row as a
//! JSON object (empty for a tombstone) — into the named topic's record. Values are JSON, so
//! they pass through untouched; a key is re-encoded only when the declared format differs
//! from the changelog's (a single string key is written as the plain string, as ksqlDB
//! writes it). A later value format (ksqlDB `KAFKA`, `DELIMITED`) adds one arm to
//! [`OutputEncoder::encode_value`] and one to [`check_value_format`].

use std::borrow::Cow;
use std::sync::Arc;

use arrow::datatypes::DataType;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::operator::{Lateness, ViewOperator};
use crate::plan::{EmitMode, KeyFormat, SinkDef, ValueFormat, ViewPlan};

/// A named-output record's key (`None`: no key) and value, borrowed from the changelog
/// record where the format leaves them as they are.
pub type Encoded<'a> = (Option<Cow<'a, [u8]>>, Cow<'a, [u8]>);

/// How one changelog record becomes a record of the named topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputEncoder {
    key: KeyEncoding,
    value: ValueFormat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyEncoding {
    /// No key.
    None,
    /// The changelog key as it is: the JSON object of the view's key.
    Changelog,
    /// These columns, from the changelog key or else from the row, as a JSON object.
    Json(Vec<String>),
    /// This column, from the changelog key or else from the row, as Kafka serializes it.
    Kafka(String),
}

impl OutputEncoder {
    /// The named topic's key and value for a changelog record (`value` empty: a tombstone,
    /// which stays one).
    ///
    /// # Errors
    /// [`Error::Eval`] for a record that is not what the view writes (a key that is not a
    /// JSON object, a key column of a type the format cannot hold).
    pub fn encode<'a>(&self, key: Option<&'a [u8]>, value: &'a [u8]) -> Result<Encoded<'a>> {
        Ok((self.encode_key(key, value)?, self.encode_value(value)))
    }

    fn encode_value<'a>(&self, value: &'a [u8]) -> Cow<'a, [u8]> {
        match self.value {
            // `output_encoder` built this encoder only for a format `check_value_format`
            // accepts; the changelog's values are already JSON objects.
            ValueFormat::Json
            | ValueFormat::JsonUnwrapped
            | ValueFormat::Kafka
            | ValueFormat::Delimited { .. } => Cow::Borrowed(value),
        }
    }

    fn encode_key<'a>(&self, key: Option<&'a [u8]>, value: &[u8]) -> Result<Option<Cow<'a, [u8]>>> {
        let columns: &[String] = match &self.key {
            KeyEncoding::None => return Ok(None),
            KeyEncoding::Changelog => return Ok(key.map(Cow::Borrowed)),
            KeyEncoding::Json(columns) => columns,
            KeyEncoding::Kafka(column) => {
                // The common case, a view's one string key, without a JSON parse (profiled:
                // the parse was most of a copied record's cost).
                if let Some(text) = key.and_then(|k| plain_string_field(k, column)) {
                    return Ok(Some(Cow::Borrowed(text)));
                }
                std::slice::from_ref(column)
            }
        };
        let key_object = key.map(object).transpose()?;
        let mut row = None;
        let mut picked = Vec::with_capacity(columns.len());
        for column in columns {
            let v = match key_object.as_ref().and_then(|k| k.get(column)) {
                Some(v) => v.clone(),
                None => {
                    if row.is_none() && !value.is_empty() {
                        row = Some(object(value)?);
                    }
                    row.as_ref()
                        .and_then(|r| r.get(column))
                        .cloned()
                        .unwrap_or(Value::Null)
                }
            };
            picked.push((column, v));
        }
        if let (KeyEncoding::Kafka(column), [(_, v)]) = (&self.key, picked.as_slice()) {
            return kafka_bytes(column, v).map(|k| k.map(Cow::Owned));
        }
        // By hand, in the declared order (serde_json's map would sort the columns).
        let mut out = vec![b'{'];
        for (i, (column, v)) in picked.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(Value::String((*column).clone()).to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(v.to_string().as_bytes());
        }
        out.push(b'}');
        Ok(Some(Cow::Owned(out)))
    }
}

/// The text of `{"<column>":"<text>"}` when `key` is exactly that and the text has no escape;
/// `None` for anything else (which takes the general path).
fn plain_string_field<'a>(key: &'a [u8], column: &str) -> Option<&'a [u8]> {
    let rest = key.strip_prefix(b"{\"")?;
    let rest = rest.strip_prefix(column.as_bytes())?;
    let text = rest.strip_prefix(b"\":\"")?.strip_suffix(b"\"}")?;
    (!text.iter().any(|&b| b == b'\\' || b == b'"')).then_some(text)
}

fn object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(Error::Eval(format!(
            "a changelog record is not a JSON object: {}",
            String::from_utf8_lossy(bytes)
        ))),
    }
}

/// One key column as Kafka's serializers write it; a NULL key is no key.
fn kafka_bytes(column: &str, v: &Value) -> Result<Option<Vec<u8>>> {
    Ok(match v {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(i.to_be_bytes().to_vec()),
            None => Some(n.as_f64().unwrap_or(f64::NAN).to_be_bytes().to_vec()),
        },
        other => {
            return Err(Error::Eval(format!(
                "key column {column} holds {other}, which key_format KAFKA cannot write"
            )));
        }
    })
}

/// Checks that `plan`'s rows can be written to its named output as declared, and returns
/// how to encode them.
///
/// # Errors
/// [`Error::Sql`] at the statement's `WITH` (or INSERT target) for a key format the key
/// cannot take, a key column the query does not produce, or an updating query written into
/// a stream; [`Error::Plan`] for a plan without a named output.
pub fn output_encoder(plan: &ViewPlan) -> Result<OutputEncoder> {
    let sink = plan
        .sink
        .as_ref()
        .ok_or_else(|| Error::plan(format!("view {} has no named output", plan.name)))?;
    let err = |message: String| Error::Sql {
        line: sink.at.0,
        column: sink.at.1,
        message,
    };
    let view_key = view_key_fields(plan)?;
    let updating = plan.is_aggregating() && plan.emit == EmitMode::Changes && !plan.is_ranked();
    let (columns, from_view) = match &sink.key_columns {
        None => (view_key.clone(), true),
        Some(cols) => (
            key_columns_of(plan, sink, cols, &view_key, updating).map_err(err)?,
            false,
        ),
    };
    // A target without key columns is a stream (a sink table has its PRIMARY KEY).
    if updating && sink.target.is_some() && sink.key_columns.is_none() {
        return Err(err(format!(
            "the query aggregates, so its rows update, and {} is a stream, whose rows are only appended: INSERT a query without GROUP BY (or a windowed one with EMIT FINAL), or write CREATE TABLE … WITH (kafka_topic='{}') AS SELECT …",
            sink.target.as_deref().unwrap_or_default(),
            sink.topic
        )));
    }
    check_value_format(sink.value_format).map_err(err)?;
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let key = match resolve_key_format(sink.key_format, &columns).map_err(err)? {
        KeyFormat::None => KeyEncoding::None,
        KeyFormat::Json if from_view => KeyEncoding::Changelog,
        KeyFormat::Json => KeyEncoding::Json(names),
        KeyFormat::Kafka => KeyEncoding::Kafka(names[0].clone()),
    };
    Ok(OutputEncoder {
        key,
        value: sink.value_format,
    })
}

/// The value formats an output can be written in (each must have an arm in
/// [`OutputEncoder::encode_value`]): JSON objects, the changelog's own values. The source
/// formats (ksqlDB `KAFKA`, `DELIMITED`, a bare JSON value) are read, not written yet; the
/// parser refuses them for outputs, and a plan that reaches here with one is refused too.
fn check_value_format(format: ValueFormat) -> std::result::Result<(), String> {
    match format {
        ValueFormat::Json => Ok(()),
        ValueFormat::JsonUnwrapped | ValueFormat::Kafka | ValueFormat::Delimited { .. } => Err(
            format!("value format {format:?} cannot be written to an output yet; use JSON"),
        ),
    }
}

/// The format a key is written in: as declared, or by default a plain string for one
/// VARCHAR column (as ksqlDB writes it), a JSON object for other keys, none without one.
fn resolve_key_format(
    declared: Option<KeyFormat>,
    columns: &[(String, DataType)],
) -> std::result::Result<KeyFormat, String> {
    let format = match declared {
        _ if columns.is_empty() => KeyFormat::None,
        Some(f) => f,
        None if columns.len() == 1 && columns[0].1 == DataType::Utf8 => KeyFormat::Kafka,
        None => KeyFormat::Json,
    };
    if format != KeyFormat::Kafka {
        return Ok(format);
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    match columns {
        [(_, DataType::Utf8 | DataType::Int64 | DataType::Float64 | DataType::Timestamp(..))] => {
            Ok(KeyFormat::Kafka)
        }
        [(name, t)] => Err(format!(
            "key_format KAFKA cannot write key column {name} of type {}; use key_format='JSON'",
            strata_sql::types::type_name(t)
        )),
        _ => Err(format!(
            "key_format KAFKA writes one key column, and the key is ({}); use key_format='JSON' (a JSON object)",
            names.join(", ")
        )),
    }
}

/// The key columns a sink declares (a Flink sink's PRIMARY KEY), with their types; an
/// updating query must be keyed by exactly them.
fn key_columns_of(
    plan: &ViewPlan,
    sink: &SinkDef,
    cols: &[String],
    view_key: &[(String, DataType)],
    updating: bool,
) -> std::result::Result<Vec<(String, DataType)>, String> {
    let target = sink.target.as_deref().unwrap_or(&plan.name);
    let grouped: Vec<&str> = view_key
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != crate::operator::WINDOW_START)
        .collect();
    if updating && grouped != cols.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(format!(
            "{target}'s PRIMARY KEY ({}) must be the query's GROUP BY key, and the query groups by ({}): name the key as the column (`SELECT w AS {} … GROUP BY w`)",
            cols.join(", "),
            grouped.join(", "),
            cols.first().map_or("key", String::as_str)
        ));
    }
    let output = crate::sql::view_as_source(plan)
        .map(|s| s.columns)
        .unwrap_or_default();
    cols.iter()
        .map(|c| {
            view_key
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, t)| t.clone())
                .or_else(|| {
                    output
                        .iter()
                        .find(|o| o.name == *c)
                        .map(|o| strata_sql::types::arrow_type(o.data_type))
                })
                .map(|t| (c.clone(), t))
                .ok_or_else(|| format!("{target}'s key column {c} is not a column of the query"))
        })
        .collect()
}

/// The view's own key — its group key columns and, windowed, `window_start` — with their
/// types; empty for a view whose rows have none (filter/projection, window Top-N).
fn view_key_fields(plan: &ViewPlan) -> Result<Vec<(String, DataType)>> {
    if !plan.is_aggregating() || plan.is_ranked() {
        return Ok(Vec::new());
    }
    let mut input = crate::decode::source_schema(&plan.source);
    if let Some(join) = &plan.join {
        input = crate::join::joined_schema(&input, join);
    }
    let mut scratch = plan.clone();
    scratch.sink = None;
    let op = ViewOperator::new(scratch, Arc::clone(&input), Lateness::Ignore)?;
    let (keys, _) = op.snapshot_with_keys()?;
    Ok(keys
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder(key: KeyEncoding) -> OutputEncoder {
        OutputEncoder {
            key,
            value: ValueFormat::Json,
        }
    }

    #[test]
    fn a_string_key_is_written_plain_and_values_pass_through() {
        let e = encoder(KeyEncoding::Kafka("word".into()));
        let (k, v) = e
            .encode(Some(br#"{"word":"h\u00e9"}"#), br#"{"n":1}"#)
            .unwrap();
        assert_eq!(k.unwrap().as_ref(), "hé".as_bytes());
        assert_eq!(v.as_ref(), br#"{"n":1}"#);
        // A tombstone keeps its key and stays empty.
        let (k, v) = e.encode(Some(br#"{"word":"a"}"#), b"").unwrap();
        assert_eq!(k.unwrap().as_ref(), b"a");
        assert!(v.is_empty());
    }

    #[test]
    fn the_plain_string_shortcut_agrees_with_the_parse() {
        assert_eq!(
            plain_string_field(br#"{"w":"abc"}"#, "w"),
            Some(b"abc".as_slice())
        );
        assert_eq!(
            plain_string_field(br#"{"w":""}"#, "w"),
            Some(b"".as_slice())
        );
        for other in [
            br#"{"w":"a\"b"}"#.as_slice(),
            br#"{"w":"a\u00e9"}"#,
            br#"{"w":"a","x":"b"}"#,
            br#"{"wx":"a"}"#,
            br#"{"w":1}"#,
            br#"{"w":null}"#,
        ] {
            assert_eq!(
                plain_string_field(other, "w"),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
        }
        let e = encoder(KeyEncoding::Kafka("w".into()));
        for key in [
            br#"{"w":"a\"b"}"#.as_slice(),
            br#"{"w":"a\u00e9"}"#,
            br#"{"w":"plain"}"#,
        ] {
            let want = match serde_json::from_slice::<Value>(key).unwrap()["w"].clone() {
                Value::String(s) => s.into_bytes(),
                other => panic!("{other}"),
            };
            assert_eq!(
                e.encode(Some(key), b"{}").unwrap().0.unwrap().as_ref(),
                want
            );
        }
    }

    #[test]
    fn numbers_are_big_endian_and_null_is_no_key() {
        let e = encoder(KeyEncoding::Kafka("k".into()));
        let (k, _) = e.encode(Some(br#"{"k":258}"#), b"{}").unwrap();
        assert_eq!(k.unwrap().as_ref(), 258i64.to_be_bytes());
        let (k, _) = e.encode(Some(br#"{"k":1.5}"#), b"{}").unwrap();
        assert_eq!(k.unwrap().as_ref(), 1.5f64.to_be_bytes());
        let (k, _) = e.encode(Some(br#"{"k":null}"#), b"{}").unwrap();
        assert!(k.is_none());
        assert!(e.encode(Some(br#"{"k":true}"#), b"{}").is_err());
        assert!(e.encode(Some(b"[1]"), b"{}").is_err());
    }

    #[test]
    fn key_columns_come_from_the_key_or_else_the_row() {
        let e = encoder(KeyEncoding::Json(vec!["word".into(), "lang".into()]));
        let (k, _) = e
            .encode(Some(br#"{"word":"a"}"#), br#"{"lang":"en","n":2}"#)
            .unwrap();
        assert_eq!(k.unwrap().as_ref(), br#"{"word":"a","lang":"en"}"#);
        let (k, _) = e.encode(None, br#"{"word":"b","lang":"fr"}"#).unwrap();
        assert_eq!(k.unwrap().as_ref(), br#"{"word":"b","lang":"fr"}"#);
        let (k, _) = encoder(KeyEncoding::Changelog)
            .encode(Some(br#"{"a":1}"#), b"{}")
            .unwrap();
        assert_eq!(k.unwrap().as_ref(), br#"{"a":1}"#);
        let (k, _) = encoder(KeyEncoding::None)
            .encode(Some(br#"{"a":1}"#), b"{}")
            .unwrap();
        assert!(k.is_none());
    }

    #[test]
    fn default_key_formats_follow_the_key() {
        let s = |n: &str| (n.to_owned(), DataType::Utf8);
        let i = |n: &str| (n.to_owned(), DataType::Int64);
        assert_eq!(resolve_key_format(None, &[s("w")]), Ok(KeyFormat::Kafka));
        assert_eq!(resolve_key_format(None, &[i("w")]), Ok(KeyFormat::Json));
        assert_eq!(
            resolve_key_format(None, &[s("w"), i("x")]),
            Ok(KeyFormat::Json)
        );
        assert_eq!(
            resolve_key_format(Some(KeyFormat::Json), &[]),
            Ok(KeyFormat::None)
        );
        assert_eq!(
            resolve_key_format(Some(KeyFormat::Kafka), &[i("w")]),
            Ok(KeyFormat::Kafka)
        );
        let e =
            resolve_key_format(Some(KeyFormat::Kafka), &[s("w"), i("window_start")]).unwrap_err();
        assert!(e.contains("key_format='JSON'"), "{e}");
        let e = resolve_key_format(Some(KeyFormat::Kafka), &[("b".into(), DataType::Boolean)])
            .unwrap_err();
        assert!(e.contains("column b"), "{e}");
    }
}
