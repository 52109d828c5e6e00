//! Log records → Arrow batches, with a source's schema.
//!
//! Record values are JSON objects; a whole micro-batch is handed to arrow-json's decoder in
//! one buffer (the fast path). If any record fails (malformed JSON, a string where a number
//! belongs), the batch is decoded again record by record so that the bad ones are set aside
//! with their reason and the good ones still count: bad data is kept, never silently dropped.
//!
//! Every batch also carries the record's metadata: `rowtime` (the log timestamp, ksqlDB's
//! ROWTIME), `_partition`, `_offset` and `_key`.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_json::reader::{Decoder, ReaderBuilder};
use strata_log::RecordView;

use crate::error::Result;
pub use crate::expr::arrow_type;
use crate::operator::{ROWTIME, timestamp};
use crate::plan::SourceDef;

/// The metadata columns every decoded batch ends with.
pub fn metadata_fields() -> Vec<Field> {
    vec![
        Field::new(ROWTIME, timestamp(), false),
        Field::new("_partition", DataType::Int64, false),
        Field::new("_offset", DataType::Int64, false),
        Field::new("_key", DataType::Utf8, true),
    ]
}

/// The schema of a source's decoded batches: its value columns, then the metadata columns.
pub fn source_schema(source: &SourceDef) -> SchemaRef {
    let mut fields: Vec<Field> = value_fields(source);
    fields.extend(metadata_fields());
    Arc::new(Schema::new(fields))
}

fn value_fields(source: &SourceDef) -> Vec<Field> {
    source
        .columns
        .iter()
        .map(|c| Field::new(&c.name, arrow_type(c.data_type), true))
        .collect()
}

/// A record that did not match its source's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRecord {
    /// Its partition.
    pub partition: u32,
    /// Its offset.
    pub offset: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// A decoded micro-batch.
#[derive(Debug)]
pub struct Decoded {
    /// The rows that decoded, in input order.
    pub batch: RecordBatch,
    /// The records that did not.
    pub invalid: Vec<InvalidRecord>,
}

/// Decodes a source's records; reusable across micro-batches.
pub struct SourceDecoder {
    schema: SchemaRef,
    value_schema: SchemaRef,
    decoder: Decoder,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SourceDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceDecoder")
            .field("schema", &self.schema)
            .finish()
    }
}

/// Largest micro-batch decoded at once.
pub const MAX_BATCH_ROWS: usize = 64 * 1024;

impl SourceDecoder {
    /// A decoder for `source`.
    ///
    /// # Errors
    /// Arrow errors building the JSON decoder.
    pub fn new(source: &SourceDef) -> Result<Self> {
        let value_schema = Arc::new(Schema::new(value_fields(source)));
        Ok(SourceDecoder {
            schema: source_schema(source),
            decoder: Self::json_decoder(&value_schema)?,
            value_schema,
            buf: Vec::new(),
        })
    }

    fn json_decoder(schema: &SchemaRef) -> Result<Decoder> {
        Ok(ReaderBuilder::new(Arc::clone(schema))
            .with_batch_size(MAX_BATCH_ROWS)
            .with_coerce_primitive(true)
            .build_decoder()?)
    }

    /// The schema of decoded batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Decodes `records` (partition, record), at most [`MAX_BATCH_ROWS`] of them.
    ///
    /// # Errors
    /// Only internal Arrow errors; bad records are returned in [`Decoded::invalid`].
    pub fn decode(&mut self, records: &[(u32, RecordView<'_>)]) -> Result<Decoded> {
        debug_assert!(records.len() <= MAX_BATCH_ROWS);
        match self.decode_values(records.iter().map(|(_, r)| r.value)) {
            Ok(values) if values.num_rows() == records.len() => Ok(Decoded {
                batch: self.with_metadata(values, records)?,
                invalid: Vec::new(),
            }),
            _ => self.decode_one_by_one(records),
        }
    }

    fn decode_values<'v>(&mut self, values: impl Iterator<Item = &'v [u8]>) -> Result<RecordBatch> {
        self.buf.clear();
        for v in values {
            if v.iter().all(u8::is_ascii_whitespace) {
                // An empty value would decode to nothing and shift every later row.
                self.buf.extend_from_slice(b"\"\"");
            } else {
                self.buf.extend_from_slice(v);
            }
            self.buf.push(b'\n');
        }
        let result = (|| {
            let mut at = 0;
            while at < self.buf.len() {
                let read = self.decoder.decode(&self.buf[at..])?;
                if read == 0 {
                    break;
                }
                at += read;
            }
            self.decoder.flush()
        })();
        match result {
            Ok(Some(batch)) => Ok(batch),
            Ok(None) => Ok(RecordBatch::new_empty(Arc::clone(&self.value_schema))),
            Err(e) => {
                // The decoder may hold half a batch: start over with a fresh one.
                self.decoder = Self::json_decoder(&self.value_schema)?;
                Err(e.into())
            }
        }
    }

    fn decode_one_by_one(&mut self, records: &[(u32, RecordView<'_>)]) -> Result<Decoded> {
        let mut good_batches = Vec::new();
        let mut good_records = Vec::new();
        let mut invalid = Vec::new();
        for &(partition, record) in records {
            match self.decode_values(std::iter::once(record.value)) {
                Ok(b) if b.num_rows() == 1 => {
                    good_batches.push(b);
                    good_records.push((partition, record));
                }
                Ok(_) => invalid.push(InvalidRecord {
                    partition,
                    offset: record.offset,
                    reason: "value is not a JSON object".into(),
                }),
                Err(e) => invalid.push(InvalidRecord {
                    partition,
                    offset: record.offset,
                    reason: e.to_string(),
                }),
            }
        }
        let values = concat_batches(&self.value_schema, &good_batches)?;
        Ok(Decoded {
            batch: self.with_metadata(values, &good_records)?,
            invalid,
        })
    }

    fn with_metadata(
        &self,
        values: RecordBatch,
        records: &[(u32, RecordView<'_>)],
    ) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = values.columns().to_vec();
        columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
            records.iter().map(|(_, r)| r.timestamp),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            records.iter().map(|(p, _)| i64::from(*p)),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            records.iter().map(|(_, r)| r.offset as i64),
        )));
        columns.push(Arc::new(StringArray::from_iter(records.iter().map(
            |(_, r)| r.key.map(|k| String::from_utf8_lossy(k).into_owned()),
        ))));
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ColumnDef, SourceKind, SqlType, ValueFormat};
    use arrow::array::{Array, AsArray};
    use strata_log::{BatchView, EncodedBatch, Record};

    fn source() -> SourceDef {
        SourceDef {
            name: "orders".into(),
            topic: "orders".into(),
            kind: SourceKind::Stream,
            columns: vec![
                ColumnDef {
                    name: "product".into(),
                    data_type: SqlType::Varchar,
                },
                ColumnDef {
                    name: "amount".into(),
                    data_type: SqlType::Double,
                },
                ColumnDef {
                    name: "qty".into(),
                    data_type: SqlType::BigInt,
                },
                ColumnDef {
                    name: "order_time".into(),
                    data_type: SqlType::Timestamp,
                },
            ],
            format: ValueFormat::Json,
            timestamp_column: Some("order_time".into()),
            watermark_delay_ms: None,
            primary_key: None,
            properties: Vec::new(),
        }
    }

    fn decode(values: &[&str]) -> Decoded {
        let records: Vec<Record> = values
            .iter()
            .map(|v| Record::new(v.as_bytes().to_vec(), 7))
            .collect();
        let batch = EncodedBatch::from_records(&records).expect("batch");
        let view = BatchView::frame(batch.as_bytes()).expect("frame");
        let views: Vec<(u32, RecordView<'_>)> =
            view.records().map(|r| (3, r.expect("record"))).collect();
        SourceDecoder::new(&source())
            .expect("decoder")
            .decode(&views)
            .expect("decode")
    }

    #[test]
    fn decodes_typed_columns_and_all_timestamp_forms() {
        let d = decode(&[
            r#"{"product":"a","amount":1.5,"qty":2,"order_time":1000}"#,
            r#"{"product":"b","amount":2,"qty":3,"order_time":"2024-01-01T00:00:01Z"}"#,
            r#"{"product":"c","order_time":"2024-01-01 00:00:02.500","extra":true}"#,
        ]);
        assert!(d.invalid.is_empty(), "{:?}", d.invalid);
        let b = &d.batch;
        assert_eq!(b.num_rows(), 3);
        let ts = b
            .column_by_name("order_time")
            .expect("col")
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>();
        assert_eq!(ts.value(0), 1000);
        assert_eq!(ts.value(1), 1_704_067_201_000);
        assert_eq!(ts.value(2), 1_704_067_202_500);
        let qty = b
            .column_by_name("qty")
            .expect("col")
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert!(qty.is_null(2));
        let part = b
            .column_by_name("_partition")
            .expect("col")
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(part.value(0), 3);
        let offsets = b
            .column_by_name("_offset")
            .expect("col")
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(offsets.values().to_vec(), vec![0, 1, 2]);
    }

    #[test]
    fn bad_records_are_set_aside_with_a_reason_and_the_rest_still_decode() {
        let d = decode(&[
            r#"{"product":"a","qty":1}"#,
            r#"{"product":"b","qty":"many"}"#,
            r#"not json"#,
            r#"{"product":"d","qty":4}"#,
        ]);
        let bad: Vec<u64> = d.invalid.iter().map(|i| i.offset).collect();
        assert_eq!(bad, vec![1, 2]);
        assert!(!d.invalid[0].reason.is_empty());
        let offsets = d
            .batch
            .column_by_name("_offset")
            .expect("col")
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(offsets.values().to_vec(), vec![0, 3]);
        let products = d
            .batch
            .column_by_name("product")
            .expect("col")
            .as_string::<i32>();
        assert_eq!(products.value(1), "d");
    }
}
