//! The upsert stage of a view that reads a TABLE (ksqlDB semantics): each record replaces the
//! row of its key, a tombstone (a record with an empty value) deletes it.
//!
//! The stage keeps the last row of every key and turns a micro-batch of table records into a
//! batch of *changes*, each with a sign: the key's previous row as `-1` (if it had one), the
//! new row as `+1` (unless the record is a tombstone). The view operator then folds the
//! changes into retractable accumulators (COUNT, SUM, AVG: ksqlDB's "undo", Flink's
//! retraction), so an aggregate over a table always equals the aggregate over its current
//! rows. Several records of one key in a batch net out: only the key's row before the batch
//! is retracted and only its last row is added.
//!
//! The key of a record is its record key (ksqlDB: the PRIMARY KEY *is* the record key); a
//! record without one falls back to the value's primary-key column, and the primary-key
//! column is filled from the record key when the value lacks it. A view read as a table
//! (`FROM other_view`) is keyed by its changelog's record key, the group key.
//!
//! Rows are stored as arrow-row bytes (one conversion per batch, no per-cell allocation) and
//! checkpointed with the operator's state.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{CastOptions, cast, cast_with_options, concat_batches, is_null, take};
use arrow::datatypes::{DataType, SchemaRef};
use arrow_row::{RowConverter, SortField};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::plan::SourceDef;

/// Hash maps keyed by record keys: foldhash, much cheaper than SipHash for short keys (the
/// keys are the view's own input, and a per-process random seed keeps flooding at bay).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

pub use crate::plan::KEY_COLUMN;

/// What a table-reading view checkpoints besides its groups: the last row of each key and
/// the number of live rows in each group.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableInputState {
    /// Record key → the key's current row (arrow-row bytes of the input schema).
    rows: Map<String, Vec<u8>>,
    /// Per group id: how many current rows it aggregates (0 ⇒ the group is gone).
    counts: Vec<i64>,
}

impl TableInputState {
    /// Number of keys with a current row.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no key has a row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds `sign` to group `g`'s row count and returns the new count.
    pub(crate) fn add_to_group(&mut self, g: u32, sign: i8) -> i64 {
        let g = g as usize;
        if self.counts.len() <= g {
            self.counts.resize(g + 1, 0);
        }
        self.counts[g] += i64::from(sign);
        self.counts[g]
    }

    /// Forgets group `g`'s count (its id is being released for reuse).
    pub(crate) fn release_group(&mut self, g: u32) {
        if let Some(c) = self.counts.get_mut(g as usize) {
            *c = 0;
        }
    }

    /// The row count of group `g`.
    pub(crate) fn group_rows(&self, g: u32) -> i64 {
        self.counts.get(g as usize).copied().unwrap_or(0)
    }
}

/// The changes one batch of table records makes.
#[derive(Debug)]
pub(crate) struct Changes {
    /// Retracted rows first, then added rows; the input's schema.
    pub batch: RecordBatch,
    /// Per row of `batch`: `-1` retracted, `+1` added.
    pub signs: Vec<i8>,
    /// Input rows with neither a record key nor a primary-key value (they cannot be upserted).
    pub unkeyed: Vec<usize>,
}

/// The upsert stage of one view.
pub(crate) struct Upsert {
    schema: SchemaRef,
    converter: RowConverter,
    key: usize,
    /// The primary-key column, when the source declares one that is a value column.
    pk: Option<usize>,
}

impl Upsert {
    /// The stage for `source` read as a table, over batches of `schema`.
    ///
    /// # Errors
    /// [`Error::Plan`] when the schema has no `_key` column.
    pub fn new(schema: &SchemaRef, source: &SourceDef) -> Result<Self> {
        let key = schema.index_of(KEY_COLUMN).map_err(|_| {
            Error::plan(format!(
                "reading {} as a table needs the record key column {KEY_COLUMN}",
                source.name
            ))
        })?;
        let pk = source
            .primary_key
            .as_deref()
            .and_then(|pk| schema.index_of(pk).ok())
            .filter(|&i| i != key);
        let converter = RowConverter::new(
            schema
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        Ok(Upsert {
            schema: Arc::clone(schema),
            converter,
            key,
            pk,
        })
    }

    /// Applies `batch` (records in log order per key; `tombstones` are the row indexes of
    /// records with an empty value) to `state` and returns the changes it makes.
    ///
    /// # Errors
    /// Arrow errors converting rows.
    pub fn apply(
        &self,
        state: &mut TableInputState,
        batch: &RecordBatch,
        tombstones: &[usize],
    ) -> Result<Changes> {
        let batch = self.keyed(batch)?;
        let n = batch.num_rows();
        let keys = batch.column(self.key).as_string::<i32>().clone();
        let mut is_tombstone = vec![false; n];
        for &t in tombstones {
            if let Some(slot) = is_tombstone.get_mut(t) {
                *slot = true;
            }
        }
        // Per key touched by this batch: the row it ends with (`None`: deleted).
        let mut last: Map<&str, Option<usize>> = Map::with_capacity_and_hasher(
            n.min(state.rows.len().max(1024)),
            foldhash::fast::RandomState::default(),
        );
        let mut added = vec![false; n];
        let mut retracted: Vec<&str> = Vec::new();
        let mut unkeyed = Vec::new();
        for i in 0..n {
            if keys.is_null(i) {
                unkeyed.push(i);
                continue;
            }
            let key = keys.value(i);
            let now = (!is_tombstone[i]).then_some(i);
            added[i] = now.is_some();
            match last.entry(key) {
                Entry::Occupied(mut e) => {
                    // A row added earlier in this batch is replaced before anyone saw it.
                    if let Some(j) = e.insert(now) {
                        added[j] = false;
                    }
                }
                Entry::Vacant(e) => {
                    if state.rows.contains_key(key) {
                        retracted.push(key);
                    }
                    e.insert(now);
                }
            }
        }
        let parser = self.converter.parser();
        let old_columns = if retracted.is_empty() {
            None
        } else {
            Some(
                self.converter.convert_rows(
                    retracted
                        .iter()
                        .filter_map(|k| state.rows.get(*k))
                        .map(|bytes| parser.parse(bytes)),
                )?,
            )
        };
        let added_rows: Vec<u32> = (0..n as u32).filter(|&i| added[i as usize]).collect();
        let added_batch = if added_rows.len() == n {
            batch.clone()
        } else {
            let idx = UInt32Array::from(added_rows.clone());
            let columns = batch
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &idx, None))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            RecordBatch::try_new(Arc::clone(&self.schema), columns)?
        };
        // Store each touched key's final row: exactly the rows added (only those are encoded).
        if !added_rows.is_empty() {
            let rows = self.converter.convert_columns(added_batch.columns())?;
            // Row i of the batch is row `added_at[i]` of `rows`.
            let mut added_at = vec![0u32; n];
            for (at, &i) in added_rows.iter().enumerate() {
                added_at[i as usize] = at as u32;
            }
            for (key, row) in &last {
                match row {
                    Some(i) => {
                        let row = rows.row(added_at[*i] as usize);
                        let bytes = row.as_ref();
                        match state.rows.get_mut(*key) {
                            Some(stored) => {
                                stored.clear();
                                stored.extend_from_slice(bytes);
                            }
                            None => {
                                state.rows.insert((*key).to_owned(), bytes.to_vec());
                            }
                        }
                    }
                    None => {
                        state.rows.remove(*key);
                    }
                }
            }
        } else {
            for key in last.keys() {
                state.rows.remove(*key);
            }
        }
        let mut signs = Vec::with_capacity(retracted.len() + added_rows.len());
        signs.resize(retracted.len(), -1i8);
        signs.resize(retracted.len() + added_rows.len(), 1i8);
        let batch = match old_columns {
            None => added_batch,
            Some(columns) => {
                let old = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
                concat_batches(&self.schema, [&old, &added_batch])?
            }
        };
        Ok(Changes {
            batch,
            signs,
            unkeyed,
        })
    }

    /// `batch` with the record key falling back to the primary-key value, and the
    /// primary-key column filled from the record key where the value lacks it.
    fn keyed(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let Some(pk) = self.pk else {
            return Ok(batch.clone());
        };
        let key = batch.column(self.key);
        let value = batch.column(pk);
        if key.null_count() == 0 && value.null_count() == 0 {
            return Ok(batch.clone());
        }
        let safe = CastOptions {
            safe: true,
            ..Default::default()
        };
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        let value_as_key = cast(value, &DataType::Utf8)?;
        columns[self.key] = zip(&is_null(key)?, &value_as_key, key)?;
        let key_as_value = cast_with_options(key, value.data_type(), &safe)?;
        columns[pk] = zip(&is_null(value)?, &key_as_value, value)?;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ColumnDef, SourceKind, SqlType, ValueFormat};
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    fn source() -> SourceDef {
        SourceDef {
            name: "users".into(),
            topic: "users".into(),
            kind: SourceKind::Table,
            columns: vec![
                ColumnDef {
                    name: "id".into(),
                    data_type: SqlType::Varchar,
                },
                ColumnDef {
                    name: "x".into(),
                    data_type: SqlType::BigInt,
                },
            ],
            format: ValueFormat::Json,
            timestamp_column: None,
            watermark_delay_ms: None,
            primary_key: Some("id".into()),
            properties: Vec::new(),
            proctime_column: None,
        }
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("x", DataType::Int64, true),
            Field::new("_key", DataType::Utf8, true),
        ]))
    }

    fn batch(rows: &[(Option<&str>, Option<i64>, Option<&str>)]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .expect("batch")
    }

    fn xs(c: &Changes) -> Vec<(i8, Option<String>, Option<i64>)> {
        let ids = c.batch.column(0).as_string::<i32>();
        let x = c
            .batch
            .column(1)
            .as_primitive::<arrow::datatypes::Int64Type>();
        (0..c.batch.num_rows())
            .map(|i| {
                (
                    c.signs[i],
                    ids.is_valid(i).then(|| ids.value(i).to_string()),
                    x.is_valid(i).then(|| x.value(i)),
                )
            })
            .collect()
    }

    #[test]
    fn updates_retract_the_previous_row_and_tombstones_delete() {
        let up = Upsert::new(&schema(), &source()).expect("upsert");
        let mut state = TableInputState::default();
        let c = up
            .apply(
                &mut state,
                &batch(&[(Some("a"), Some(1), Some("a")), (None, Some(2), Some("b"))]),
                &[],
            )
            .expect("apply");
        // The PK of "b" comes from the record key.
        assert_eq!(
            xs(&c),
            vec![
                (1, Some("a".into()), Some(1)),
                (1, Some("b".into()), Some(2))
            ]
        );
        let c = up
            .apply(
                &mut state,
                &batch(&[
                    (Some("a"), None, Some("a")),
                    (None, None, Some("b")),
                    (Some("b"), Some(7), Some("b")),
                    (Some("c"), Some(3), None),
                ]),
                &[1],
            )
            .expect("apply");
        // a: 1 → NULL; b: deleted then written again in one batch; c: keyed by its PK.
        assert_eq!(
            xs(&c),
            vec![
                (-1, Some("a".into()), Some(1)),
                (-1, Some("b".into()), Some(2)),
                (1, Some("a".into()), None),
                (1, Some("b".into()), Some(7)),
                (1, Some("c".into()), Some(3)),
            ]
        );
        let c = up
            .apply(
                &mut state,
                &batch(&[(None, None, Some("c")), (None, Some(1), None)]),
                &[0],
            )
            .expect("apply");
        assert_eq!(xs(&c), vec![(-1, Some("c".into()), Some(3))]);
        assert_eq!(c.unkeyed, vec![1]);
        assert_eq!(state.len(), 2);
    }
}
