//! A batch's rows as JSON lines: what changelogs, late topics and answers carry.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow_json::LineDelimitedWriter;

use crate::error::Result;

/// Each row of `batch` as compact JSON. Timestamps are written as epoch milliseconds, the
/// form every JSON reader (and strata's own decoder) takes without a format string.
///
/// # Errors
/// Arrow errors from the JSON writer.
pub fn json_lines(batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    let batch = timestamps_as_millis(batch)?;
    let mut buf = Vec::new();
    {
        let mut writer = LineDelimitedWriter::new(&mut buf);
        writer.write(&batch)?;
        writer.finish()?;
    }
    Ok(buf
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// `batch` with every timestamp column cast to Int64 epoch milliseconds.
fn timestamps_as_millis(batch: &RecordBatch) -> Result<RecordBatch> {
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Timestamp(..)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if matches!(field.data_type(), DataType::Timestamp(..)) {
            fields.push(Field::new(
                field.name(),
                DataType::Int64,
                field.is_nullable(),
            ));
            columns.push(arrow::compute::cast(column, &DataType::Int64)?);
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
