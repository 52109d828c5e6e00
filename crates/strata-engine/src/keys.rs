//! The group keys of one input batch, turned into key ids of the [`GroupTable`] row by row.
//!
//! Keys are arrow-row bytes. A batch whose single key column is dictionary-encoded (as Parquet
//! string columns decode) has its distinct values encoded and looked up once per batch, and
//! each row costs an index, instead of encoding, hashing and comparing every row's string.
//! Both paths give the same bytes, so the same key gets the same id either way.

use arrow::array::{Array, ArrayRef, AsArray, new_null_array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::Field;
use arrow_row::{RowConverter, Rows};

use crate::error::Result;
use crate::groups::GroupTable;

/// A key id not looked up yet.
const UNKNOWN: u32 = u32::MAX;

/// The keys of one batch's rows.
pub(crate) enum BatchKeys {
    /// No GROUP BY: every row has the empty key.
    Empty,
    /// Each row's key, encoded.
    Rows(Rows),
    /// One dictionary-encoded key column.
    Dictionary {
        /// Each dictionary value encoded, then the NULL key.
        values: Rows,
        /// Per row, its value's index in `values`.
        slots: Vec<usize>,
        /// Rows whose dictionary key is NULL.
        nulls: Option<NullBuffer>,
        /// Per value of `values`, its key id once looked up.
        ids: Vec<u32>,
    },
}

impl BatchKeys {
    /// Encodes the key columns `keys` (one per field of `fields`) with `converter`.
    ///
    /// # Errors
    /// Arrow errors when a column does not have its field's type.
    pub(crate) fn new(
        converter: &RowConverter,
        fields: &[Field],
        keys: &[ArrayRef],
    ) -> Result<Self> {
        let ([field], [column]) = (fields, keys) else {
            return Ok(if keys.is_empty() {
                BatchKeys::Empty
            } else {
                BatchKeys::Rows(converter.convert_columns(keys)?)
            });
        };
        let Some(dictionary) = column.as_any_dictionary_opt() else {
            return Ok(BatchKeys::Rows(converter.convert_columns(keys)?));
        };
        if dictionary.values().data_type() != field.data_type() {
            // The generic path reports the type mismatch.
            return Ok(BatchKeys::Rows(converter.convert_columns(keys)?));
        }
        let values = arrow::compute::concat(&[
            dictionary.values().as_ref(),
            new_null_array(field.data_type(), 1).as_ref(),
        ])?;
        let values = converter.convert_columns(&[values])?;
        Ok(BatchKeys::Dictionary {
            ids: vec![UNKNOWN; values.num_rows()],
            values,
            slots: dictionary.normalized_keys(),
            nulls: dictionary.keys().nulls().cloned(),
        })
    }

    /// The key id of row `i`, adding the key to `table` if new.
    pub(crate) fn key_id(&mut self, i: usize, table: &mut GroupTable) -> u32 {
        match self {
            BatchKeys::Empty => table.key_id(&[]),
            BatchKeys::Rows(rows) => table.key_id(rows.row(i).data()),
            BatchKeys::Dictionary {
                values,
                slots,
                nulls,
                ids,
            } => {
                let slot = match nulls {
                    Some(n) if n.is_null(i) => ids.len() - 1,
                    _ => slots[i],
                };
                let id = ids[slot];
                if id != UNKNOWN {
                    return id;
                }
                let id = table.key_id(values.row(slot).data());
                ids[slot] = id;
                id
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{DictionaryArray, Int32Array, StringArray};
    use arrow::datatypes::{DataType, Int32Type};
    use arrow_row::SortField;
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A dictionary-encoded key column yields the ids its plain strings yield, NULL keys
        /// (in the dictionary's keys or its values) included.
        #[test]
        fn dictionary_keys_get_the_ids_of_their_strings(
            values in proptest::collection::vec(proptest::option::of("[a-c]{0,3}"), 1..6),
            picks in proptest::collection::vec(proptest::option::of(0usize..6), 0..40),
        ) {
            let field = Field::new("k", DataType::Utf8, true);
            let converter = RowConverter::new(vec![SortField::new(DataType::Utf8)]).expect("converter");
            let keys: Int32Array = picks.iter().map(|p| p.map(|p| (p % values.len()) as i32)).collect();
            let dictionary: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::try_new(
                keys,
                Arc::new(StringArray::from(values.clone())),
            ).expect("dictionary"));
            let plain: ArrayRef = Arc::new(StringArray::from(
                picks.iter().map(|p| p.and_then(|p| values[p % values.len()].clone())).collect::<Vec<_>>(),
            ));
            let fields = [field];
            let mut table = GroupTable::default();
            let mut by_plain = BatchKeys::new(&converter, &fields, &[plain]).expect("plain");
            prop_assert!(matches!(by_plain, BatchKeys::Rows(_)), "plain strings take the generic path");
            let expected: Vec<u32> = (0..picks.len()).map(|i| by_plain.key_id(i, &mut table)).collect();
            let mut by_dictionary = BatchKeys::new(&converter, &fields, &[dictionary]).expect("dictionary");
            let is_dictionary = matches!(by_dictionary, BatchKeys::Dictionary { .. });
            prop_assert!(is_dictionary, "a dictionary takes its own path");
            let found: Vec<u32> = (0..picks.len()).map(|i| by_dictionary.key_id(i, &mut table)).collect();
            prop_assert_eq!(found, expected);
        }
    }
}
