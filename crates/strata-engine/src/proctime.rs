//! Processing time in decoded batches: a source's `PROCTIME()` column (Flink's `pt AS
//! PROCTIME()`) is filled with the time the batch is read, by the one processing-time clock
//! ([`strata_sql::proctime::processing_time_ms`], never going back), whatever the record holds.

use std::sync::Arc;

use arrow::array::{RecordBatch, TimestampMillisecondArray};

use crate::error::Result;
use crate::plan::SourceDef;

/// `batch` with `source`'s processing-time column (if it has one) set to now in every row.
///
/// # Errors
/// Only internal Arrow errors.
pub fn stamp(batch: RecordBatch, source: &SourceDef) -> Result<RecordBatch> {
    let Some(column) = &source.proctime_column else {
        return Ok(batch);
    };
    let Ok(index) = batch.schema().index_of(column) else {
        return Ok(batch);
    };
    let now = strata_sql::proctime::processing_time_ms();
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(TimestampMillisecondArray::from_value(now, batch.num_rows()));
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray, Int64Array, new_null_array};
    use arrow::datatypes::{DataType, Field, Schema, TimestampMillisecondType};

    use super::*;
    use crate::plan::SqlType;

    fn batch() -> RecordBatch {
        let ts = crate::operator::timestamp();
        let schema = Schema::new(vec![
            Field::new("v", DataType::Int64, true),
            Field::new("pt", ts.clone(), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                new_null_array(&ts, 3),
            ],
        )
        .unwrap()
    }

    #[test]
    fn the_proctime_column_is_now_and_never_goes_back() {
        let mut source = SourceDef::stream("s")
            .column("v", SqlType::BigInt)
            .column("pt", SqlType::Timestamp);
        // Without a PROCTIME() column the batch is as it was.
        assert_eq!(stamp(batch(), &source).unwrap(), batch());
        source.proctime_column = Some("pt".into());
        let mut last = i64::MIN;
        for _ in 0..100 {
            let before = strata_sql::proctime::processing_time_ms();
            let out = stamp(batch(), &source).unwrap();
            let pt = out.column(1).as_primitive::<TimestampMillisecondType>();
            assert_eq!(pt.null_count(), 0);
            assert!(pt.values().iter().all(|&t| t >= before && t >= last));
            last = pt.value(2);
            assert_eq!(out.column(0), batch().column(0));
        }
    }
}
