//! Log records → Arrow batches, with a source's schema.
//!
//! Record values are decoded in the source's value format ([`values`]): JSON objects are
//! parsed straight into Arrow builders of the source's declared columns ([`json`]), keys of
//! other fields skipped unbuilt; bare JSON values, KAFKA (the whole value is one column) and
//! DELIMITED fields ([`text`]) likewise fill typed columns. A `KEY` / PRIMARY KEY column is
//! read from the record key ([`key`]). A record that fails (malformed JSON, a string where a
//! number belongs, a line with too few fields, a key that is not a number) is set aside with
//! its reason while the others still count: bad data is kept, never silently dropped.
//!
//! Every batch also carries the record's metadata: `rowtime` (the log timestamp, ksqlDB's
//! ROWTIME), `_partition`, `_offset` and `_key`.

mod columns;
mod flat;
#[cfg(test)]
mod format_tests;
mod json;
mod key;
#[cfg(test)]
mod reference;
mod text;
mod values;

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringBuilder, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use strata_log::RecordView;

use crate::error::Result;
pub use crate::expr::arrow_type;
use crate::operator::{ROWTIME, timestamp};
use crate::plan::{ColumnDef, SourceDef, ValueFormat};
use key::KeyColumn;
use values::ValueRows;

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
    /// Rows of `batch` that are tombstones (records with an empty value; only when the
    /// decoder keeps them, see [`SourceDecoder::keeping_tombstones`]): every value column NULL.
    pub tombstones: Vec<usize>,
}

/// Decodes a source's records; reusable across micro-batches.
pub struct SourceDecoder {
    schema: SchemaRef,
    values: ValueRows,
    /// The key column's decoder and its index among the columns, when the source has one
    /// and a key format that reads it.
    key: Option<(KeyColumn, usize)>,
    /// For each column, its index among the value decoder's columns (`None`: the key column
    /// of a format whose values do not hold it).
    value_index: Vec<Option<usize>>,
    tombstones: bool,
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
    /// Arrow errors setting up the timestamp parser.
    pub fn new(source: &SourceDef) -> Result<Self> {
        let key_at = source
            .primary_key
            .as_ref()
            .and_then(|k| source.columns.iter().position(|c| c.name == *k));
        let key = match key_at {
            Some(i) => KeyColumn::new(&source.columns[i], source.key_format())?.map(|k| (k, i)),
            None => None,
        };
        // A JSON object may hold the key column too (tables have always read it from there
        // when the record has no key); the other formats' values hold the other columns.
        let key_in_value = key.is_none() || source.format == ValueFormat::Json;
        let mut value_index = Vec::with_capacity(source.columns.len());
        let mut value_columns: Vec<&ColumnDef> = Vec::new();
        for (i, c) in source.columns.iter().enumerate() {
            if key_in_value || key.as_ref().is_none_or(|(_, k)| *k != i) {
                value_index.push(Some(value_columns.len()));
                value_columns.push(c);
            } else {
                value_index.push(None);
            }
        }
        Ok(SourceDecoder {
            schema: source_schema(source),
            values: ValueRows::new(source.format, &value_columns)?,
            key,
            value_index,
            tombstones: false,
        })
    }

    /// Decodes records with an empty value as tombstones (a row of NULL values, listed in
    /// [`Decoded::tombstones`]) instead of setting them aside: what a view reading a table
    /// needs, where such a record deletes its key.
    #[must_use]
    pub fn keeping_tombstones(mut self) -> Self {
        self.tombstones = true;
        self
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
        let mut slots = self.values.slots();
        let mut invalid = Vec::new();
        // Indexes of the records that decoded, once one did not.
        let mut kept: Option<Vec<usize>> = None;
        let mut tombstones = Vec::new();
        for (i, (partition, record)) in records.iter().enumerate() {
            let tombstone = self.tombstones && record.value.is_empty();
            let good = kept.as_ref().map_or(i, Vec::len);
            let mut row = match &mut self.key {
                Some((key, _)) => key.push(record.key),
                None => Ok(()),
            };
            if row.is_ok() {
                row = self.values.push(record.value, tombstone, &mut slots);
                if row.is_err()
                    && let Some((key, _)) = &mut self.key
                {
                    key.truncate(good);
                }
            }
            match row {
                Ok(()) => {
                    if tombstone {
                        tombstones.push(kept.as_ref().map_or(i, Vec::len));
                    }
                    if let Some(kept) = &mut kept {
                        kept.push(i);
                    }
                }
                Err(reason) => {
                    kept.get_or_insert_with(|| (0..i).collect());
                    invalid.push(InvalidRecord {
                        partition: *partition,
                        offset: record.offset,
                        reason,
                    });
                }
            }
        }
        let columns = self.columns()?;
        let batch = match kept {
            None => self.with_metadata(columns, records.iter())?,
            Some(kept) => self.with_metadata(columns, kept.iter().map(|&i| &records[i]))?,
        };
        Ok(Decoded {
            batch,
            invalid,
            tombstones,
        })
    }

    /// The declared columns of the rows decoded since the last call: the value decoder's,
    /// with the key column from the record keys. Where a JSON value holds the key column
    /// too, its field wins and the record key fills it in when it is missing, as tables have
    /// always read it.
    fn columns(&mut self) -> Result<Vec<ArrayRef>> {
        let values = self.values.finish()?;
        let key = match &mut self.key {
            Some((k, at)) => Some((k.finish()?, *at)),
            None => None,
        };
        let mut out = Vec::with_capacity(self.value_index.len());
        for (i, v) in self.value_index.iter().enumerate() {
            let column = match (v, &key) {
                (Some(v), Some((k, at))) if *at == i => {
                    let from_value = &values[*v];
                    let has = arrow::compute::is_not_null(from_value)?;
                    arrow::compute::kernels::zip::zip(&has, from_value, k)?
                }
                (Some(v), _) => Arc::clone(&values[*v]),
                (None, Some((k, _))) => Arc::clone(k),
                (None, None) => {
                    return Err(crate::error::Error::plan(
                        "internal: a column without a decoder",
                    ));
                }
            };
            out.push(column);
        }
        Ok(out)
    }

    fn with_metadata<'a, 'r: 'a>(
        &self,
        mut columns: Vec<ArrayRef>,
        records: impl ExactSizeIterator<Item = &'a (u32, RecordView<'r>)> + Clone,
    ) -> Result<RecordBatch> {
        columns.push(Arc::new(TimestampMillisecondArray::from_iter_values(
            records.clone().map(|(_, r)| r.timestamp),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            records.clone().map(|(p, _)| i64::from(*p)),
        )));
        columns.push(Arc::new(Int64Array::from_iter_values(
            records.clone().map(|(_, r)| r.offset as i64),
        )));
        let mut keys = StringBuilder::with_capacity(records.len(), 0);
        for (_, r) in records {
            match r.key {
                Some(k) => keys.append_value(String::from_utf8_lossy(k)),
                None => keys.append_null(),
            }
        }
        columns.push(Arc::new(keys.finish()));
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
            proctime_column: None,
        }
    }

    fn decode(values: &[&str]) -> Decoded {
        decode_with(&source(), values, None)
    }

    /// Decodes `values` as records of partition 3 (key `key` on each, if given).
    fn decode_with(source: &SourceDef, values: &[&str], key: Option<&[u8]>) -> Decoded {
        let records: Vec<Record> = values
            .iter()
            .map(|v| {
                let mut r = Record::new(v.as_bytes().to_vec(), 7);
                r.key = key.map(<[u8]>::to_vec);
                r
            })
            .collect();
        let batch = EncodedBatch::from_records(&records).expect("batch");
        let view = BatchView::frame(batch.as_bytes()).expect("frame");
        let views: Vec<(u32, RecordView<'_>)> =
            view.records().map(|r| (3, r.expect("record"))).collect();
        SourceDecoder::new(source)
            .expect("decoder")
            .decode(&views)
            .expect("decode")
    }

    #[test]
    fn empty_values_are_tombstones_only_when_kept() {
        let records: Vec<Record> = ["{\"product\":\"a\"}", "oops", "", "{}"]
            .iter()
            .map(|v| {
                let mut r = Record::new(v.as_bytes().to_vec(), 7);
                r.key = Some(b"k".to_vec());
                r
            })
            .collect();
        let batch = EncodedBatch::from_records(&records).expect("batch");
        let view = BatchView::frame(batch.as_bytes()).expect("frame");
        let views: Vec<(u32, RecordView<'_>)> =
            view.records().map(|r| (0, r.expect("record"))).collect();
        let plain = SourceDecoder::new(&source())
            .expect("decoder")
            .decode(&views)
            .expect("decode");
        assert_eq!(plain.invalid.len(), 2);
        assert!(plain.tombstones.is_empty());
        let kept = SourceDecoder::new(&source())
            .expect("decoder")
            .keeping_tombstones()
            .decode(&views)
            .expect("decode");
        // "oops" is still invalid; the empty value is row 1 of the batch (after the skip).
        assert_eq!(kept.invalid.len(), 1);
        assert_eq!(kept.batch.num_rows(), 3);
        assert_eq!(kept.tombstones, vec![1]);
        assert!(kept.batch.column(0).is_null(1));
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

    #[test]
    fn coercions_nulls_duplicates_and_unknown_fields() {
        let d = decode(&[
            // Numeric strings into numbers, numbers into text, a fraction truncated.
            r#"{"product":12.50,"amount":"2.5","qty":"7","order_time":"2024-01-01"}"#,
            r#"{"product":true,"amount":3,"qty":9.9,"order_time":1.5e3}"#,
            // The last of duplicate keys wins; nested unknown fields are skipped.
            r#"{"product":"x","product":"y\"z","nested":{"a":[1,{"b":2}]},"qty":null}"#,
            " { } ",
        ]);
        assert!(d.invalid.is_empty(), "{:?}", d.invalid);
        let b = &d.batch;
        let product = b.column_by_name("product").expect("col").as_string::<i32>();
        assert_eq!(product.value(0), "12.50", "a number keeps its JSON text");
        assert_eq!(product.value(1), "true");
        assert_eq!(product.value(2), "y\"z");
        assert!(product.is_null(3));
        let amount = b
            .column_by_name("amount")
            .expect("col")
            .as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(amount.value(0), 2.5);
        assert_eq!(amount.value(1), 3.0);
        let qty = b
            .column_by_name("qty")
            .expect("col")
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!((qty.value(0), qty.value(1)), (7, 9));
        assert!(qty.is_null(2) && qty.is_null(3));
        let ts = b
            .column_by_name("order_time")
            .expect("col")
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>();
        assert_eq!(ts.value(0), 1_704_067_200_000);
        assert_eq!(ts.value(1), 1500);
    }

    #[test]
    fn every_kind_of_bad_record_has_a_reason_that_names_the_problem() {
        let bad = [
            (r#"{"qty":"many"}"#, "qty"),
            (r#"{"qty":1e30}"#, "BIGINT"),
            (r#"{"amount":[1]}"#, "array"),
            (r#"{"product":{"a":1}}"#, "object"),
            (r#"{"order_time":"yesterday"}"#, "TIMESTAMP"),
            (r#"{"qty":true}"#, "BIGINT"),
            ("[1,2]", "JSON object"),
            ("null", "JSON object"),
            ("42", "JSON object"),
            (r#"{"qty":1}{"qty":2}"#, "trailing"),
            (r#"{"qty":1"#, "EOF"),
            (r#"{"qty":01}"#, ""),
            ("", "empty"),
            ("  \n", "empty"),
        ];
        let values: Vec<&str> = bad.iter().map(|b| b.0).collect();
        let d = decode(&values);
        assert_eq!(d.batch.num_rows(), 0);
        assert_eq!(d.invalid.len(), bad.len());
        for (invalid, (value, needle)) in d.invalid.iter().zip(bad) {
            assert!(
                !invalid.reason.is_empty() && invalid.reason.contains(needle),
                "{value:?}: {:?} should mention {needle:?}",
                invalid.reason
            );
            assert_eq!(invalid.partition, 3);
        }
    }

    #[test]
    fn keys_become_the_key_column_and_invalid_utf8_is_replaced() {
        let d = decode_with(&source(), &[r#"{"qty":1}"#], Some(b"user-1"));
        let keys = d
            .batch
            .column_by_name("_key")
            .expect("col")
            .as_string::<i32>();
        assert_eq!(keys.value(0), "user-1");
        let d = decode_with(&source(), &[r#"{"qty":1}"#], Some(b"a\xffb"));
        let keys = d
            .batch
            .column_by_name("_key")
            .expect("col")
            .as_string::<i32>();
        assert_eq!(keys.value(0), "a\u{fffd}b");
        let d = decode(&[r#"{"qty":1}"#]);
        assert!(d.batch.column_by_name("_key").expect("col").is_null(0));
    }

    #[test]
    fn a_decoder_is_reused_across_batches() {
        let mut decoder = SourceDecoder::new(&source()).expect("decoder");
        for round in 0..3i64 {
            let records: Vec<Record> = (0..5)
                .map(|i| Record::new(format!(r#"{{"qty":{}}}"#, round * 10 + i), 1))
                .collect();
            let batch = EncodedBatch::from_records(&records).expect("batch");
            let view = BatchView::frame(batch.as_bytes()).expect("frame");
            let views: Vec<(u32, RecordView<'_>)> =
                view.records().map(|r| (0, r.expect("record"))).collect();
            let d = decoder.decode(&views).expect("decode");
            let qty = d
                .batch
                .column_by_name("qty")
                .expect("col")
                .as_primitive::<arrow::datatypes::Int64Type>();
            assert_eq!(
                qty.values().to_vec(),
                (0..5).map(|i| round * 10 + i).collect::<Vec<_>>()
            );
        }
    }

    mod model {
        //! The schema-driven decoder against arrow-json's ([`super::super::reference`]) on
        //! random JSON: the same records are invalid and the rest decode to equal columns.

        use super::*;
        use proptest::prelude::*;

        const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

        fn sql_type() -> impl Strategy<Value = SqlType> {
            prop_oneof![
                Just(SqlType::Boolean),
                Just(SqlType::BigInt),
                Just(SqlType::Double),
                Just(SqlType::Varchar),
                Just(SqlType::Timestamp),
            ]
        }

        fn columns() -> impl Strategy<Value = Vec<ColumnDef>> {
            proptest::collection::vec(sql_type(), 1..=4).prop_map(|types| {
                types
                    .into_iter()
                    .enumerate()
                    .map(|(i, data_type)| ColumnDef {
                        name: NAMES[i].into(),
                        data_type,
                    })
                    .collect()
            })
        }

        /// JSON text of a value: every JSON type, numbers as other writers print them,
        /// strings that read as numbers, timestamps or nothing in particular.
        fn json_value() -> impl Strategy<Value = String> {
            let scalar = prop_oneof![
                Just("null".to_string()),
                any::<bool>().prop_map(|b| b.to_string()),
                any::<i64>().prop_map(|i| i.to_string()),
                (-2000i64..2000).prop_map(|i| i.to_string()),
                (0u32..19, any::<i64>())
                    .prop_map(|(digits, i)| { (i % 10i64.pow(digits).max(1)).to_string() }),
                any::<u64>().prop_map(|i| i.to_string()),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(|f| serde_json::to_string(&f).expect("f64")),
                (-1e4f64..1e4).prop_map(|f| serde_json::to_string(&f).expect("f64")),
                prop::sample::select(vec![
                    "1.50",
                    "1E3",
                    "-0",
                    "0.0",
                    "1e400",
                    "-1e-400",
                    "12345678901234567890",
                    "9223372036854775807",
                    "-9223372036854775808",
                    "9.3e18",
                    "2.5e-3",
                ])
                .prop_map(str::to_string),
                prop::sample::select(vec![
                    "",
                    "42",
                    " 42",
                    "42 ",
                    "-7",
                    "1.5",
                    "abc",
                    "true",
                    "1e3",
                    "2024-01-01",
                    "2024-01-01T00:00:01Z",
                    "2024-01-01T00:00:01.123+02:00",
                    "2024-01-01 00:00:02.500",
                    "2024-13-01",
                    "a\"b",
                    "caf\u{e9}",
                    "tab\t",
                ])
                .prop_map(|s| serde_json::to_string(s).expect("str")),
                // Escapes as other writers leave them.
                prop::sample::select(vec![
                    r#""caf\u00e9""#,
                    r#""a\/b""#,
                    r#""\ud83d\ude00""#,
                    r#""\u0034\u0032""#,
                ])
                .prop_map(str::to_string),
                "[a-z0-9 .:-]{0,12}".prop_map(|s| serde_json::to_string(&s).expect("str")),
            ];
            scalar.prop_recursive(2, 8, 3, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..3)
                        .prop_map(|v| format!("[{}]", v.join(","))),
                    proptest::collection::vec(inner, 0..3).prop_map(|v| {
                        let fields: Vec<String> = v
                            .iter()
                            .enumerate()
                            .map(|(i, x)| format!("\"n{i}\":{x}"))
                            .collect();
                        format!("{{{}}}", fields.join(","))
                    }),
                ]
            })
        }

        /// A record value: mostly an object whose keys are declared columns, unknown keys
        /// or repeats, sometimes something that is not one object.
        fn record_value() -> impl Strategy<Value = String> {
            let key = prop::sample::select(vec!["a", "b", "c", "d", "e", "zz", "A"]);
            let object = (
                proptest::collection::vec((key, json_value()), 0..6),
                prop::sample::select(vec!["", " ", "\n"]),
            )
                .prop_map(|(fields, ws)| {
                    let fields: Vec<String> = fields
                        .iter()
                        .map(|(k, v)| format!("{ws}\"{k}\":{ws}{v}"))
                        .collect();
                    format!("{ws}{{{}}}{ws}", fields.join(","))
                });
            prop_oneof![
                8 => object,
                1 => json_value(),
                1 => prop::sample::select(vec![
                    "", " ", "{", "{\"a\":1}{\"a\":2}", "{\"a\":}", "{\"a\" 1}", "nul",
                ])
                .prop_map(str::to_string),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn schema_driven_decoder_equals_arrow_json(
                columns in columns(),
                values in proptest::collection::vec(record_value(), 1..12),
            ) {
                let source = SourceDef { columns, ..source() };
                let texts: Vec<&str> = values.iter().map(String::as_str).collect();
                let decoded = decode_with(&source, &texts, None);
                let bytes: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
                let (expected, bad) = reference::decode(&source, &bytes);
                let invalid: Vec<usize> =
                    decoded.invalid.iter().map(|i| i.offset as usize).collect();
                prop_assert_eq!(invalid, bad);
                let n = source.columns.len();
                let got: Vec<ArrayRef> = decoded.batch.columns()[..n].to_vec();
                prop_assert_eq!(got.as_slice(), expected.columns());
            }

            #[test]
            fn the_flat_fast_path_agrees_with_serde_json(
                columns in columns(),
                value in record_value(),
            ) {
                let rows = json::JsonRows::new(&columns).expect("rows");
                let n = columns.len();
                let lookup = |k: &[u8]| columns.iter().position(|c| c.name.as_bytes() == k);
                let mut fast = vec![None; n];
                if flat::scan(value.as_bytes(), lookup, &mut fast) {
                    let mut slow = vec![None; n];
                    prop_assert_eq!(rows.scan_with_serde(value.as_bytes(), &mut slow), Ok(()));
                    let text = |raw: &[Option<flat::Raw<'_>>]| -> Vec<Option<String>> {
                        raw.iter().map(|r| r.map(|r| r.text.to_string())).collect()
                    };
                    prop_assert_eq!(text(&fast), text(&slow));
                    for r in fast.iter().flatten() {
                        if let Some(int) = r.int {
                            prop_assert_eq!(Some(int), r.text.parse::<i64>().ok());
                        }
                    }
                }
            }
        }
    }
}
