//! Stream–table joins: each stream record looks up the current row of a table by key.
//!
//! The table is a topic read as a changelog (ksqlDB's `CREATE TABLE … PRIMARY KEY`): each
//! record upserts the row of its key; a record with an empty value deletes it. Before every
//! micro-batch the driver applies the table records that have arrived, so a stream record is
//! enriched with the table as of processing time — a profile update that arrives after a
//! click does not change that click's enrichment (the semantics of ksqlDB and Kafka Streams).
//!
//! Joined batches carry the stream's columns followed by the table's, named `alias.column`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::decode::{SourceDecoder, arrow_type};
use crate::error::{Error, Result};
use crate::expr;
use crate::plan::JoinDef;
use crate::scalar::{Scalar, to_array};

/// The schema of joined batches.
pub fn joined_schema(stream: &SchemaRef, join: &JoinDef) -> SchemaRef {
    let mut fields: Vec<Field> = stream.fields().iter().map(|f| f.as_ref().clone()).collect();
    for c in &join.table.columns {
        fields.push(Field::new(
            format!("{}.{}", join.alias, c.name),
            arrow_type(c.data_type),
            true,
        ));
    }
    Arc::new(Schema::new(fields))
}

/// The current rows of a table source, by key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableState {
    /// Key → row (one value per table column).
    rows: HashMap<Scalar, Vec<Scalar>>,
}

impl TableState {
    /// Applies decoded table records in order: upsert by key, or delete on an empty value.
    ///
    /// # Errors
    /// When the key column is missing from the batch.
    pub fn apply(&mut self, join: &JoinDef, batch: &RecordBatch, deletes: &[Scalar]) -> Result<()> {
        let key_column = match &join.table.primary_key {
            Some(pk) => batch.column_by_name(pk),
            None => batch.column_by_name("_key"),
        }
        .ok_or_else(|| Error::plan(format!("table {} has no key column", join.table.name)))?;
        let columns: Vec<&ArrayRef> = join
            .table
            .columns
            .iter()
            .map(|c| {
                batch
                    .column_by_name(&c.name)
                    .ok_or_else(|| Error::plan(format!("table column {} missing", c.name)))
            })
            .collect::<Result<_>>()?;
        for i in 0..batch.num_rows() {
            let key = Scalar::from_array(key_column.as_ref(), i)?;
            if key.is_null() {
                continue;
            }
            let row = columns
                .iter()
                .map(|c| Scalar::from_array(c.as_ref(), i))
                .collect::<Result<Vec<_>>>()?;
            self.rows.insert(key, row);
        }
        for key in deletes {
            self.rows.remove(key);
        }
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// `stream` with the table's columns appended; rows without a match are dropped
    /// (inner join) or get NULLs (left join).
    ///
    /// # Errors
    /// Evaluation errors of the stream-side key expression.
    pub fn enrich(
        &self,
        join: &JoinDef,
        stream: &RecordBatch,
        schema: &SchemaRef,
    ) -> Result<RecordBatch> {
        let keys = expr::evaluate(&join.stream_key, stream)?;
        let mut matches: Vec<Option<&Vec<Scalar>>> = Vec::with_capacity(stream.num_rows());
        for i in 0..stream.num_rows() {
            let key = Scalar::from_array(keys.as_ref(), i)?;
            matches.push(if key.is_null() {
                None
            } else {
                self.rows.get(&key)
            });
        }
        let mut columns: Vec<ArrayRef> = stream.columns().to_vec();
        for (c, column) in join.table.columns.iter().enumerate() {
            let values = matches
                .iter()
                .map(|m| m.map_or(Scalar::Null, |row| row[c].clone()));
            columns.push(to_array(&arrow_type(column.data_type), values)?);
        }
        let joined = RecordBatch::try_new(Arc::clone(schema), columns)?;
        if join.left {
            return Ok(joined);
        }
        let keep = BooleanArray::from(matches.iter().map(Option::is_some).collect::<Vec<_>>());
        Ok(filter_record_batch(&joined, &keep)?)
    }
}

/// A table source being followed: its decoder and state.
pub struct TableFollower {
    /// The join it serves.
    pub join: JoinDef,
    decoder: SourceDecoder,
    /// The table's rows.
    pub state: TableState,
}

impl std::fmt::Debug for TableFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFollower")
            .field("table", &self.join.table.name)
            .field("rows", &self.state.len())
            .finish()
    }
}

impl TableFollower {
    /// Starts following `join`'s table with empty state.
    ///
    /// # Errors
    /// Arrow errors building the decoder.
    pub fn new(join: JoinDef) -> Result<Self> {
        Ok(TableFollower {
            decoder: SourceDecoder::new(&join.table)?,
            join,
            state: TableState::default(),
        })
    }

    /// Applies table records `(partition, record)` in log order; invalid ones are skipped
    /// and counted. A record whose value is empty (a tombstone) deletes its key's row.
    ///
    /// # Errors
    /// Arrow errors.
    pub fn apply(&mut self, records: &[(u32, strata_log::RecordView<'_>)]) -> Result<usize> {
        let mut invalid = 0;
        let mut run = 0;
        // Runs of upserts decode as one batch; a tombstone ends a run, so an upsert and a
        // delete of the same key in one micro-batch apply in the order they were written.
        for (i, (_, r)) in records.iter().enumerate() {
            if r.value.iter().all(u8::is_ascii_whitespace) {
                invalid += self.upsert(&records[run..i])?;
                if let Some(k) = r.key {
                    self.state
                        .rows
                        .remove(&Scalar::Str(String::from_utf8_lossy(k).into()));
                }
                run = i + 1;
            }
        }
        invalid += self.upsert(&records[run..])?;
        Ok(invalid)
    }

    fn upsert(&mut self, records: &[(u32, strata_log::RecordView<'_>)]) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let decoded = self.decoder.decode(records)?;
        self.state.apply(&self.join, &decoded.batch, &[])?;
        Ok(decoded.invalid.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::source_schema;
    use crate::plan::{ColumnDef, Expr, SourceDef, SourceKind, SqlType, ValueFormat};
    use arrow::array::{Int64Array, StringArray};

    fn table() -> SourceDef {
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
                    name: "city".into(),
                    data_type: SqlType::Varchar,
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

    fn join(left: bool) -> JoinDef {
        JoinDef {
            table: table(),
            alias: "u".into(),
            stream_key: Expr::Column("user".into()),
            left,
        }
    }

    fn table_batch(rows: &[(&str, &str)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", arrow::datatypes::DataType::Utf8, true),
            Field::new("city", arrow::datatypes::DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            ],
        )
        .expect("batch")
    }

    fn stream(users: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("user", arrow::datatypes::DataType::Utf8, true),
            Field::new("n", arrow::datatypes::DataType::Int64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(users.iter().copied())),
                Arc::new(Int64Array::from_iter_values(0..users.len() as i64)),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn inner_join_drops_unmatched_left_join_keeps_them_with_nulls() {
        let mut state = TableState::default();
        state
            .apply(
                &join(false),
                &table_batch(&[("a", "Oslo"), ("b", "Rome"), ("a", "Bonn")]),
                &[],
            )
            .expect("apply");
        assert_eq!(state.len(), 2, "the last value per key wins");
        let input = stream(&["a", "x", "b"]);
        let schema = joined_schema(&input.schema(), &join(false));
        let inner = state.enrich(&join(false), &input, &schema).expect("enrich");
        assert_eq!(inner.num_rows(), 2);
        let cities = inner
            .column_by_name("u.city")
            .expect("col")
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("str");
        assert_eq!(
            cities.iter().collect::<Vec<_>>(),
            vec![Some("Bonn"), Some("Rome")]
        );
        let left = state.enrich(&join(true), &input, &schema).expect("enrich");
        assert_eq!(left.num_rows(), 3);
        assert!(left.column_by_name("u.city").expect("col").is_null(1));
        state
            .apply(&join(false), &table_batch(&[]), &[Scalar::Str("a".into())])
            .expect("delete");
        assert_eq!(state.len(), 1);
        let _ = source_schema(&table());
    }

    #[test]
    fn a_follower_applies_upserts_and_tombstones_in_log_order() {
        use strata_log::{BatchView, EncodedBatch, Record};
        let record = |key: &str, value: &str| {
            let mut r = Record::new(value.as_bytes().to_vec(), 1);
            r.key = Some(key.as_bytes().to_vec());
            r
        };
        let records = vec![
            record("a", r#"{"id":"a","city":"Oslo"}"#),
            record("b", r#"{"id":"b","city":"Rome"}"#),
            record("a", ""),
            record("b", ""),
            record("b", r#"{"id":"b","city":"Bonn"}"#),
            record("c", r#"{"id":"c","city":7"#),
        ];
        let batch = EncodedBatch::from_records(&records).expect("batch");
        let view = BatchView::frame(batch.as_bytes()).expect("frame");
        let views: Vec<(u32, strata_log::RecordView<'_>)> =
            view.records().map(|r| (0, r.expect("record"))).collect();
        let mut follower = TableFollower::new(join(false)).expect("follower");
        assert_eq!(
            follower.apply(&views).expect("apply"),
            1,
            "one invalid record"
        );
        assert_eq!(
            follower.state.len(),
            1,
            "a deleted, b deleted then written again"
        );
        let row = follower
            .state
            .rows
            .get(&Scalar::Str("b".into()))
            .expect("b is back");
        assert_eq!(row[1], Scalar::Str("Bonn".into()));
    }
}
