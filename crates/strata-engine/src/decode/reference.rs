//! The decoder strata used before the schema-driven one: arrow-json's, with
//! `coerce_primitive`, one record at a time. The tests compare the two on random JSON.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::Schema;
use arrow_json::reader::ReaderBuilder;

use super::value_fields;
use crate::plan::SourceDef;

/// The value columns of the records that decode, and the indexes of those that do not.
pub(super) fn decode(source: &SourceDef, values: &[&[u8]]) -> (RecordBatch, Vec<usize>) {
    let schema = Arc::new(Schema::new(value_fields(source)));
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let mut decoder = ReaderBuilder::new(Arc::clone(&schema))
            .with_coerce_primitive(true)
            .build_decoder()
            .expect("decoder");
        let mut buf = if v.iter().all(u8::is_ascii_whitespace) {
            b"\"\"".to_vec()
        } else {
            v.to_vec()
        };
        buf.push(b'\n');
        let result = decoder.decode(&buf).and_then(|read| {
            assert_eq!(read, buf.len(), "one record fits a batch");
            decoder.flush()
        });
        match result {
            Ok(Some(b)) if b.num_rows() == 1 => good.push(b),
            _ => bad.push(i),
        }
    }
    (concat_batches(&schema, &good).expect("concat"), bad)
}
