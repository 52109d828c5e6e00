//! The value decoders of the formats a source may declare, behind one type: JSON objects
//! ([`JsonRows`], the fast schema-driven path), bare JSON values (`wrap_single_value=false`),
//! KAFKA / raw and DELIMITED / csv ([`super::text`]). Each appends a record's row to its
//! columns, or leaves them as they were and says why the record is invalid.

use arrow::array::ArrayRef;
use arrow::error::ArrowError;

use super::json::{JsonRows, Slots};
use super::text::{DelimitedRows, KafkaRows};
use crate::plan::{ColumnDef, ValueFormat};

/// A source's value decoder.
#[derive(Debug)]
pub(super) enum ValueRows {
    /// One JSON object per value.
    Json(JsonRows),
    /// The bare JSON value of the one value column.
    Bare(JsonRows),
    /// The whole value is the one value column.
    Kafka(KafkaRows),
    /// Delimited fields.
    Delimited(DelimitedRows),
}

impl ValueRows {
    /// The decoder of `columns` (the value columns) in `format`.
    ///
    /// # Errors
    /// None in practice (time-zone setup); a format whose columns do not fit it (refused by
    /// the SQL front end) is an Arrow schema error.
    pub(super) fn new(format: ValueFormat, columns: &[&ColumnDef]) -> Result<Self, ArrowError> {
        let owned: Vec<ColumnDef> = columns.iter().map(|c| (*c).clone()).collect();
        let one = || match columns {
            [one] => Ok(*one),
            _ => Err(ArrowError::SchemaError(format!(
                "{format:?} values hold one column, not {}",
                columns.len()
            ))),
        };
        Ok(match format {
            ValueFormat::Json => ValueRows::Json(JsonRows::new(&owned)?),
            ValueFormat::JsonUnwrapped => {
                ValueRows::Bare(JsonRows::new(std::slice::from_ref(one()?))?)
            }
            ValueFormat::Kafka => ValueRows::Kafka(KafkaRows::new(one()?)?),
            ValueFormat::Delimited { delimiter } => {
                ValueRows::Delimited(DelimitedRows::new(columns, delimiter)?)
            }
        })
    }

    /// Empty slots for the JSON object path (`None` for the other formats).
    pub(super) fn slots<'de>(&self) -> Option<Slots<'de>> {
        match self {
            ValueRows::Json(rows) => Some(rows.slots()),
            _ => None,
        }
    }

    /// Appends the row of `value` (a row of NULLs for a `tombstone`); `slots` are the JSON
    /// path's, from [`ValueRows::slots`].
    ///
    /// # Errors
    /// Why the value is not a row of the source; the columns are then as before.
    pub(super) fn push<'de>(
        &mut self,
        value: &'de [u8],
        tombstone: bool,
        slots: &mut Option<Slots<'de>>,
    ) -> Result<(), String> {
        match (self, slots) {
            (ValueRows::Json(rows), Some(slots)) => {
                let value: &'de [u8] = if tombstone { b"{}" } else { value };
                rows.parse(value, slots)?;
                rows.push(slots)
            }
            (ValueRows::Json(rows) | ValueRows::Bare(rows), _) if tombstone => rows.push_nulls(),
            (ValueRows::Json(_), None) => Err("internal: JSON rows without slots".into()),
            (ValueRows::Bare(rows), _) => rows.push_bare(value),
            (ValueRows::Kafka(rows), _) if tombstone => rows.push_nulls(),
            (ValueRows::Kafka(rows), _) => rows.push(value),
            (ValueRows::Delimited(rows), _) if tombstone => rows.push_nulls(),
            (ValueRows::Delimited(rows), _) => rows.push(value),
        }
    }

    /// The value columns of the rows appended since the last call.
    ///
    /// # Errors
    /// Arrow's checks of the arrays.
    pub(super) fn finish(&mut self) -> Result<Vec<ArrayRef>, ArrowError> {
        match self {
            ValueRows::Json(rows) | ValueRows::Bare(rows) => rows.finish(),
            ValueRows::Kafka(rows) => rows.finish(),
            ValueRows::Delimited(rows) => rows.finish(),
        }
    }
}
