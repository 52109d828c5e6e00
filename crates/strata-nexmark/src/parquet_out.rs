//! Events as Parquet files, one per stream — what an independent engine (DuckDB in the
//! tests) reads to check the queries' results. Times are written as BIGINT epoch ms and the
//! engine's metadata columns are left out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::columns::EventBatches;
use crate::error::{NexmarkError, Result};
use crate::model::Kind;
use crate::queries;

/// Writes `<dir>/person.parquet`, `auction.parquet` and `bid.parquet`; returns their paths
/// in [`Kind::ALL`] order.
///
/// # Errors
/// I/O, Arrow and Parquet errors.
pub fn write(dir: &Path, chunks: &[EventBatches]) -> Result<[PathBuf; 3]> {
    let streams = queries::streams()?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for kind in Kind::ALL {
        let def = &streams[kind as usize];
        let batches: Vec<RecordBatch> = chunks.iter().map(|c| c.of(kind).clone()).collect();
        let schema = chunks
            .first()
            .map(|c| c.of(kind).schema())
            .unwrap_or_else(|| strata_engine::decode::source_schema(def));
        let all = concat_batches(&schema, &batches)?;
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        for c in &def.columns {
            let column = all
                .column_by_name(&c.name)
                .ok_or_else(|| NexmarkError::BadSetting {
                    setting: "schema",
                    reason: format!("no column {}", c.name),
                })?;
            let column = match column.data_type() {
                DataType::Timestamp(..) => cast(column, &DataType::Int64)?,
                _ => Arc::clone(column),
            };
            fields.push(Field::new(&c.name, column.data_type().clone(), true));
            columns.push(column);
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        let path = dir.join(format!("{}.parquet", kind.name()));
        let file = std::fs::File::create(&path).map_err(|source| NexmarkError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None)?;
        writer.write(&batch)?;
        writer.close()?;
        paths.push(path);
    }
    let [p, a, b]: [PathBuf; 3] = paths.try_into().map_err(|_| NexmarkError::BadSetting {
        setting: "schema",
        reason: "three streams expected".into(),
    })?;
    Ok([p, a, b])
}
