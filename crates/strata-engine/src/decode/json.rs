//! JSON record values straight into Arrow columns of a source's declared columns.
//!
//! serde_json walks each value (one JSON object) with a visitor that knows the schema: a key
//! that names a declared column has its value taken as raw JSON text and converted to the
//! column's type; any other key's value is skipped without being built. A record that fails
//! leaves no trace in the columns. Flat objects take a faster path ([`super::flat`]).
//!
//! The conversions are those of arrow-json's decoder with `coerce_primitive` (what strata
//! used before): numbers and numeric strings into BIGINT/DOUBLE (a fractional number into a
//! BIGINT is truncated, one out of range is an error), any scalar into VARCHAR as its JSON
//! text, epoch millis, RFC 3339 or `YYYY-MM-DD HH:MM:SS[.fff]` into TIMESTAMP, only
//! `true`/`false` into BOOLEAN; `null` and missing keys are NULL; with duplicate keys the
//! last one wins. Numbers and strings are parsed with the same arrow-cast parsers. The tests
//! of the parent module compare the two decoders on random JSON.

use std::borrow::Cow;
use std::fmt;

use arrow::array::ArrayRef;
use arrow::array::timezone::Tz;
use arrow::compute::kernels::cast_utils::{Parser, string_to_datetime};
use arrow::datatypes::{Float64Type, Int64Type};
use arrow::error::ArrowError;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::columns::{Column, Value};
use super::flat::{self, Raw};
use crate::plan::{ColumnDef, SqlType};

/// One column's value in the row being parsed, already in the column's type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Slot<'de> {
    /// `null`.
    Null,
    /// A BOOLEAN.
    Bool(bool),
    /// A BIGINT or a TIMESTAMP (epoch millis).
    Int(i64),
    /// A DOUBLE.
    Float(f64),
    /// A VARCHAR, borrowed from the record when it has no escapes.
    Text(Cow<'de, str>),
    /// An ARRAY's elements (pushed by [`push_slot`]).
    List(Vec<Slot<'de>>),
}

/// The row being parsed: each column's raw JSON text (the last of duplicate keys).
#[derive(Debug)]
pub(super) struct Slots<'de> {
    raw: Vec<Option<Raw<'de>>>,
}

impl<'de> Slot<'de> {
    fn value(&self) -> Value<'_> {
        match self {
            Slot::Null => Value::Null,
            Slot::Bool(b) => Value::Bool(*b),
            Slot::Int(i) => Value::Int(*i),
            Slot::Float(f) => Value::Float(*f),
            Slot::Text(s) => Value::Text(s),
            // Elements are scalars; a whole list goes through `push_slot`.
            Slot::List(_) => Value::Null,
        }
    }
}

/// Appends `slot` to `column` (of the slot's type).
fn push_slot(column: &mut Column, slot: &Slot<'_>) -> Result<(), String> {
    match slot {
        Slot::List(items) => {
            let values: Vec<Value<'_>> = items.iter().map(Slot::value).collect();
            column.push(Value::List(&values))
        }
        s => column.push(s.value()),
    }
}

/// Parses record values of one source into its value columns; reusable across batches.
pub(super) struct JsonRows {
    names: Vec<String>,
    types: Vec<SqlType>,
    columns: Vec<Column>,
    /// Whole rows in `columns`.
    rows: usize,
    utc: Tz,
}

impl fmt::Debug for JsonRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonRows")
            .field("names", &self.names)
            .finish()
    }
}

impl JsonRows {
    /// A parser for `columns`.
    ///
    /// # Errors
    /// None in practice: the UTC time zone parses.
    pub(super) fn new(columns: &[ColumnDef]) -> Result<Self, ArrowError> {
        Ok(JsonRows {
            names: columns.iter().map(|c| c.name.clone()).collect(),
            types: columns.iter().map(|c| c.data_type).collect(),
            columns: columns.iter().map(|c| Column::new(c.data_type)).collect(),
            rows: 0,
            utc: "+00:00".parse()?,
        })
    }

    /// Empty slots for [`JsonRows::parse`], one per column.
    pub(super) fn slots<'de>(&self) -> Slots<'de> {
        Slots {
            raw: vec![None; self.names.len()],
        }
    }

    /// Parses one record value into `slots` (overwritten).
    ///
    /// # Errors
    /// Why the value is not a row of the source (malformed JSON, not one object), as a
    /// message for the user.
    pub(super) fn parse<'de>(
        &self,
        value: &'de [u8],
        slots: &mut Slots<'de>,
    ) -> Result<(), String> {
        slots.raw.fill(None);
        let mut hint = 0;
        let column = |key: &[u8]| self.column_of(key, &mut hint);
        if !flat::scan(value, column, &mut slots.raw) {
            if value.iter().all(u8::is_ascii_whitespace) {
                return Err("the value is empty, not a JSON object".into());
            }
            slots.raw.fill(None);
            self.scan_with_serde(value, &mut slots.raw)?;
        }
        Ok(())
    }

    /// Converts the row that [`JsonRows::parse`] left in `slots` to the columns' types and
    /// appends it; only now, so that of duplicate keys only the last value counts.
    ///
    /// # Errors
    /// A value that does not convert to its column's type; the columns are then as before.
    pub(super) fn push(&mut self, slots: &Slots<'_>) -> Result<(), String> {
        for (c, raw) in slots.raw.iter().enumerate() {
            let pushed = match raw {
                None => self.columns[c].push(Value::Null),
                Some(raw) => self
                    .convert(c, *raw)
                    .and_then(|slot| push_slot(&mut self.columns[c], &slot)),
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

    /// Appends a value that is the bare JSON value of the only column (ksqlDB's
    /// `wrap_single_value=false`): `"text"`, `42`, `[…]`.
    ///
    /// # Errors
    /// Malformed JSON, or a value that does not convert to the column's type; the column is
    /// then as before.
    pub(super) fn push_bare(&mut self, value: &[u8]) -> Result<(), String> {
        let text =
            std::str::from_utf8(value).map_err(|e| format!("the value is not UTF-8: {e}"))?;
        let raw: &RawValue = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let slot = self.convert(
            0,
            Raw {
                text: raw.get(),
                int: None,
            },
        )?;
        push_slot(&mut self.columns[0], &slot)?;
        self.rows += 1;
        Ok(())
    }

    /// Drops the rows from `len` on.
    pub(super) fn truncate(&mut self, len: usize) {
        for column in &mut self.columns {
            column.truncate(len);
        }
        self.rows = self.rows.min(len);
    }

    /// Appends a row of NULLs (a table's tombstone).
    pub(super) fn push_nulls(&mut self) -> Result<(), String> {
        for column in &mut self.columns {
            column.push(Value::Null)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The general path: serde_json walks the value and leaves in `raw[c]` the raw text of
    /// the last value of column `c`.
    ///
    /// # Errors
    /// serde_json's message for malformed JSON or a value that is not one object.
    pub(super) fn scan_with_serde<'de>(
        &self,
        value: &'de [u8],
        raw: &mut [Option<Raw<'de>>],
    ) -> Result<(), String> {
        let mut de = serde_json::Deserializer::from_slice(value);
        de::Deserializer::deserialize_map(&mut de, RowVisitor { rows: self, raw })
            .and_then(|()| de.end())
            .map_err(|e| e.to_string())
    }

    /// The columns of the rows appended since the last call.
    ///
    /// # Errors
    /// Arrow's checks of the arrays (they hold by construction).
    pub(super) fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        self.rows = 0;
        self.columns.iter_mut().map(Column::finish).collect()
    }

    /// The column named `key`.
    fn column(&self, key: &str) -> Option<usize> {
        self.names.iter().position(|n| n == key)
    }

    /// The column named `key`, trying `hint` first: keys mostly come in schema order, so
    /// the column after the last one found is usually the next.
    fn column_of(&self, key: &[u8], hint: &mut usize) -> Option<usize> {
        // Names are short: comparing inline beats a call to `memcmp` (measured).
        let same = |n: &String| {
            let n = n.as_bytes();
            n.len() == key.len() && n.iter().zip(key).all(|(a, b)| a == b)
        };
        let c = match self.names.get(*hint) {
            Some(n) if same(n) => *hint,
            _ => self.names.iter().position(same)?,
        };
        *hint = c + 1;
        Some(c)
    }

    /// Converts the raw JSON text of a value into column `c`'s type.
    fn convert<'de>(&self, c: usize, raw: Raw<'de>) -> Result<Slot<'de>, String> {
        self.convert_as(&self.names[c], self.types[c], raw)
    }

    /// Converts the raw JSON text of a value of column `name` into type `t`.
    fn convert_as<'de>(&self, name: &str, t: SqlType, raw: Raw<'de>) -> Result<Slot<'de>, String> {
        let Raw { text: raw, int } = raw;
        let fail = |what: &str| {
            Err(format!(
                "column {name:?}: cannot read {what} as {}",
                type_name(t)
            ))
        };
        if let SqlType::Array(e) = t {
            return match raw.as_bytes().first() {
                Some(b'n') => Ok(Slot::Null),
                Some(b'[') => {
                    let items: Vec<&'de RawValue> =
                        serde_json::from_str(raw).map_err(|e| e.to_string())?;
                    let element = |item: &'de RawValue| {
                        let raw = Raw {
                            text: item.get(),
                            int: None,
                        };
                        self.convert_as(name, e.sql(), raw)
                    };
                    Ok(Slot::List(
                        items.into_iter().map(element).collect::<Result<_, _>>()?,
                    ))
                }
                Some(b'{') => fail("an object"),
                _ => fail(raw),
            };
        }
        match raw.as_bytes().first() {
            Some(b'n') => Ok(Slot::Null),
            Some(b't' | b'f') => {
                let v = raw == "true";
                match t {
                    SqlType::Boolean => Ok(Slot::Bool(v)),
                    SqlType::Varchar => Ok(Slot::Text(Cow::Borrowed(raw))),
                    _ => fail(raw),
                }
            }
            Some(b'{') => fail("an object"),
            Some(b'[') => fail("an array"),
            Some(b'"') => {
                let s = unquote(raw)?;
                let parsed = match t {
                    SqlType::Varchar => return Ok(Slot::Text(s)),
                    SqlType::Boolean => None,
                    SqlType::BigInt => Int64Type::parse(&s).map(Slot::Int),
                    SqlType::Double => Float64Type::parse(&s).map(Slot::Float),
                    SqlType::Timestamp => string_to_datetime(&self.utc, &s)
                        .ok()
                        .map(|d| Slot::Int(d.timestamp_millis())),
                    SqlType::Array(_) => None,
                };
                parsed.map_or_else(|| fail(&format!("{s:?}")), Ok)
            }
            // A number, as written (serde_json has checked its syntax).
            _ => {
                let parsed = match t {
                    SqlType::Varchar => return Ok(Slot::Text(Cow::Borrowed(raw))),
                    SqlType::Boolean => None,
                    SqlType::BigInt => int
                        .or_else(|| Int64Type::parse(raw))
                        .or_else(|| Float64Type::parse(raw).and_then(f64_to_i64))
                        .map(Slot::Int),
                    SqlType::Double => Float64Type::parse(raw).map(Slot::Float),
                    // Saturating, as arrow-json does.
                    SqlType::Timestamp => int
                        .or_else(|| Int64Type::parse(raw))
                        .or_else(|| Float64Type::parse(raw).map(|f| f as i64))
                        .map(Slot::Int),
                    SqlType::Array(_) => None,
                };
                parsed.map_or_else(|| fail(raw), Ok)
            }
        }
    }
}

/// The SQL name of a column type, for messages.
pub(super) fn type_name(t: SqlType) -> &'static str {
    match t {
        SqlType::Boolean => "BOOLEAN",
        SqlType::BigInt => "BIGINT",
        SqlType::Double => "DOUBLE",
        SqlType::Varchar => "VARCHAR",
        SqlType::Timestamp => "TIMESTAMP",
        SqlType::Array(_) => "ARRAY",
    }
}

/// A float to an integer when it is in range (fraction truncated), as `num_traits::NumCast`
/// does for arrow-json: strictly between −2⁶³−1 and 2⁶³ in f64 arithmetic.
fn f64_to_i64(f: f64) -> Option<i64> {
    const MIN_M1: f64 = i64::MIN as f64 - 1.0;
    const MAX_P1: f64 = i64::MAX as f64 + 1.0;
    (f > MIN_M1 && f < MAX_P1).then_some(f as i64)
}

/// The contents of a JSON string literal: borrowed unless it has escapes.
fn unquote(raw: &str) -> Result<Cow<'_, str>, String> {
    let inner = &raw[1..raw.len() - 1];
    if inner.as_bytes().contains(&b'\\') {
        serde_json::from_str::<String>(raw)
            .map(Cow::Owned)
            .map_err(|e| e.to_string())
    } else {
        Ok(Cow::Borrowed(inner))
    }
}

/// Visits the top-level object of a value.
struct RowVisitor<'r, 's, 'de> {
    rows: &'r JsonRows,
    raw: &'s mut [Option<Raw<'de>>],
}

impl<'de> Visitor<'de> for RowVisitor<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(column) = map.next_key_seed(KeySeed(self.rows))? {
            match column {
                Some(c) => {
                    let raw: &'de RawValue = map.next_value()?;
                    self.raw[c] = Some(Raw {
                        text: raw.get(),
                        int: None,
                    });
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads a key as the index of the column it names, if any.
struct KeySeed<'r>(&'r JsonRows);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.column(key))
    }
}
