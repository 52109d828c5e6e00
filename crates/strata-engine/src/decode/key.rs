//! The key column: a stream's `KEY` column (ksqlDB `id VARCHAR KEY`) or a table's PRIMARY
//! KEY, read from the record key in the source's key format — the key's bytes as the column's
//! value (KAFKA), or JSON: the bare value, or an object holding the column by name (how
//! strata's changelogs key their rows). A record without a key leaves the column NULL (the
//! value's field of that name, if it has one, then stands in).

use arrow::array::ArrayRef;
use arrow::array::timezone::Tz;
use arrow::error::ArrowError;

use super::columns::{Column, Value};
use super::json::JsonRows;
use super::text::whole;
use crate::plan::{ColumnDef, KeyFormat, SqlType};

/// Decodes record keys into the key column.
#[derive(Debug)]
pub(super) enum KeyColumn {
    /// KAFKA: the key's bytes.
    Kafka {
        name: String,
        t: SqlType,
        column: Column,
        utc: Tz,
    },
    /// JSON, through the JSON decoder's conversions.
    Json { name: String, rows: JsonRows },
}

impl KeyColumn {
    /// A decoder of `column` from keys in `format` (`None` for [`KeyFormat::None`]).
    ///
    /// # Errors
    /// None in practice: the UTC time zone parses.
    pub(super) fn new(column: &ColumnDef, format: KeyFormat) -> Result<Option<Self>, ArrowError> {
        Ok(match format {
            KeyFormat::None => None,
            KeyFormat::Kafka => Some(KeyColumn::Kafka {
                name: column.name.clone(),
                t: column.data_type,
                column: Column::new(column.data_type),
                utc: "+00:00".parse()?,
            }),
            KeyFormat::Json => Some(KeyColumn::Json {
                name: column.name.clone(),
                rows: JsonRows::new(std::slice::from_ref(column))?,
            }),
        })
    }

    /// Appends the key column's value for a record with `key`.
    ///
    /// # Errors
    /// A key that is not a value of the column's type; nothing is appended then.
    pub(super) fn push(&mut self, key: Option<&[u8]>) -> Result<(), String> {
        let key_error = |e: String| format!("the record key: {e}");
        match (self, key) {
            (KeyColumn::Kafka { column, .. }, None) => column.push(Value::Null),
            (KeyColumn::Json { rows, .. }, None) => rows.push_nulls(),
            (
                KeyColumn::Kafka {
                    name,
                    t,
                    column,
                    utc,
                },
                Some(k),
            ) => {
                let v = whole(name, *t, k, utc).map_err(key_error)?;
                column.push(v)
            }
            (KeyColumn::Json { name, rows }, Some(k)) => {
                let first = k.iter().find(|b| !b.is_ascii_whitespace());
                if first != Some(&b'{') {
                    return rows.push_bare(k).map_err(key_error);
                }
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(k).map_err(|e| key_error(e.to_string()))?;
                match object.get(name.as_str()) {
                    Some(v) => rows.push_bare(v.to_string().as_bytes()).map_err(key_error),
                    None => rows.push_nulls(),
                }
            }
        }
    }

    /// Drops the rows from `len` on (the record's value then turned out bad).
    pub(super) fn truncate(&mut self, len: usize) {
        match self {
            KeyColumn::Kafka { column, .. } => column.truncate(len),
            KeyColumn::Json { rows, .. } => rows.truncate(len),
        }
    }

    /// The column of the rows appended since the last call.
    ///
    /// # Errors
    /// Arrow's checks of the array.
    pub(super) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        match self {
            KeyColumn::Kafka { column, .. } => column.finish(),
            KeyColumn::Json { rows, .. } => {
                let mut columns = rows.finish()?;
                Ok(columns.remove(0))
            }
        }
    }
}
