//! Growable typed columns that can drop the rows of a record that turned out bad.
//!
//! A record's values are converted column by column, each appended as soon as it is
//! converted; when a later column of the same record fails, the columns are truncated back
//! to the last whole row. (Arrow's builders cannot take a row back, which forced a copy of
//! every row into a staging area first: measurably slower.) `finish` hands the buffers to
//! Arrow arrays without copying them. An `ARRAY<t>` column is list offsets over a column of
//! its elements.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, StringArray,
    TimestampMillisecondArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::Field;
use arrow::error::ArrowError;

use crate::plan::SqlType;

/// One column's values and validity.
#[derive(Debug)]
pub(super) struct Column {
    data: Data,
    valid: Vec<bool>,
}

#[derive(Debug)]
enum Data {
    Boolean(Vec<bool>),
    /// BIGINT, or TIMESTAMP (epoch millis) when `timestamp`.
    Int {
        values: Vec<i64>,
        timestamp: bool,
    },
    Double(Vec<f64>),
    Varchar {
        offsets: Vec<i32>,
        bytes: Vec<u8>,
    },
    /// ARRAY: row `i`'s elements are `items[offsets[i]..offsets[i + 1]]`.
    List {
        offsets: Vec<i32>,
        items: Box<Column>,
    },
}

/// A value for [`Column::push`], already of the column's type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value<'a> {
    /// NULL.
    Null,
    /// A BOOLEAN.
    Bool(bool),
    /// A BIGINT or TIMESTAMP.
    Int(i64),
    /// A DOUBLE.
    Float(f64),
    /// A VARCHAR.
    Text(&'a str),
    /// An ARRAY's elements, each of the element type.
    List(&'a [Value<'a>]),
}

impl Column {
    /// An empty column of type `t`.
    pub(super) fn new(t: SqlType) -> Self {
        let data = match t {
            SqlType::Boolean => Data::Boolean(Vec::new()),
            SqlType::BigInt => Data::Int {
                values: Vec::new(),
                timestamp: false,
            },
            SqlType::Timestamp => Data::Int {
                values: Vec::new(),
                timestamp: true,
            },
            SqlType::Double => Data::Double(Vec::new()),
            SqlType::Varchar => Data::Varchar {
                offsets: vec![0],
                bytes: Vec::new(),
            },
            SqlType::Array(e) => Data::List {
                offsets: vec![0],
                items: Box::new(Column::new(e.sql())),
            },
        };
        Column {
            data,
            valid: Vec::new(),
        }
    }

    /// Appends `value`, which must be of the column's type (anything else appends NULL).
    ///
    /// # Errors
    /// When the column's text would pass Arrow's 2 GiB limit of a string array.
    pub(super) fn push(&mut self, value: Value<'_>) -> Result<(), String> {
        let valid = !matches!(value, Value::Null);
        match (&mut self.data, value) {
            (Data::Boolean(v), Value::Bool(b)) => v.push(b),
            (Data::Boolean(v), _) => v.push(false),
            (Data::Int { values, .. }, Value::Int(i)) => values.push(i),
            (Data::Int { values, .. }, _) => values.push(0),
            (Data::Double(v), Value::Float(f)) => v.push(f),
            (Data::Double(v), _) => v.push(0.0),
            (Data::Varchar { offsets, bytes }, value) => {
                if let Value::Text(s) = value {
                    bytes.extend_from_slice(s.as_bytes());
                }
                let end = i32::try_from(bytes.len()).map_err(|_| {
                    "the micro-batch's text in this column passes 2 GiB".to_string()
                })?;
                offsets.push(end);
            }
            (Data::List { offsets, items }, value) => {
                if let Value::List(values) = value {
                    for v in values {
                        items.push(*v)?;
                    }
                }
                let end = i32::try_from(items.valid.len()).map_err(|_| {
                    "the micro-batch's arrays in this column pass 2³¹ elements".to_string()
                })?;
                offsets.push(end);
            }
        }
        self.valid.push(valid);
        Ok(())
    }

    /// Drops the rows from `len` on.
    pub(super) fn truncate(&mut self, len: usize) {
        if self.valid.len() <= len {
            return;
        }
        self.valid.truncate(len);
        match &mut self.data {
            Data::Boolean(v) => v.truncate(len),
            Data::Int { values, .. } => values.truncate(len),
            Data::Double(v) => v.truncate(len),
            Data::Varchar { offsets, bytes } => {
                offsets.truncate(len + 1);
                bytes.truncate(offsets.last().map_or(0, |&o| o as usize));
            }
            Data::List { offsets, items } => {
                offsets.truncate(len + 1);
                items.truncate(offsets.last().map_or(0, |&o| o as usize));
            }
        }
    }

    /// The rows appended so far as an Arrow array; the column is empty again after.
    ///
    /// # Errors
    /// Arrow's checks of the string array (they hold by construction).
    pub(super) fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let valid = std::mem::take(&mut self.valid);
        let nulls = valid.contains(&false).then(|| NullBuffer::from(valid));
        Ok(match &mut self.data {
            Data::Boolean(v) => Arc::new(BooleanArray::new(std::mem::take(v).into(), nulls)),
            Data::Int {
                values,
                timestamp: false,
            } => Arc::new(Int64Array::new(
                ScalarBuffer::from(std::mem::take(values)),
                nulls,
            )),
            Data::Int {
                values,
                timestamp: true,
            } => Arc::new(TimestampMillisecondArray::new(
                ScalarBuffer::from(std::mem::take(values)),
                nulls,
            )),
            Data::Double(v) => Arc::new(Float64Array::new(
                ScalarBuffer::from(std::mem::take(v)),
                nulls,
            )),
            Data::Varchar { offsets, bytes } => {
                let offsets = std::mem::replace(offsets, vec![0]);
                Arc::new(StringArray::try_new(
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    Buffer::from_vec(std::mem::take(bytes)),
                    nulls,
                )?)
            }
            Data::List { offsets, items } => {
                let offsets = std::mem::replace(offsets, vec![0]);
                let values = items.finish()?;
                Arc::new(ListArray::try_new(
                    Arc::new(Field::new_list_field(values.data_type().clone(), true)),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    values,
                    nulls,
                )?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn truncate_takes_back_whole_rows_only() {
        let mut text = Column::new(SqlType::Varchar);
        let mut ints = Column::new(SqlType::BigInt);
        for (s, i) in [("ab", 1), ("c", 2), ("def", 3)] {
            text.push(Value::Text(s)).expect("push");
            ints.push(Value::Int(i)).expect("push");
        }
        text.push(Value::Null).expect("push");
        text.truncate(2);
        ints.truncate(2);
        text.push(Value::Text("x")).expect("push");
        ints.push(Value::Null).expect("push");
        let text = text.finish().expect("finish");
        let text = text.as_string::<i32>();
        assert_eq!(
            text.iter().collect::<Vec<_>>(),
            vec![Some("ab"), Some("c"), Some("x")]
        );
        let ints = ints.finish().expect("finish");
        assert_eq!(ints.null_count(), 1);
        assert_eq!(ints.len(), 3);
    }

    #[test]
    fn finish_empties_the_column() {
        let mut c = Column::new(SqlType::Timestamp);
        c.push(Value::Int(5)).expect("push");
        assert_eq!(c.finish().expect("finish").len(), 1);
        assert_eq!(c.finish().expect("finish").len(), 0);
        assert_eq!(c.finish().expect("finish").null_count(), 0);
    }
}
