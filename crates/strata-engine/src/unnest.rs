//! The table-function stage: each input row becomes one row per element of an array (ksqlDB
//! `EXPLODE`, Flink `CROSS JOIN UNNEST` / `LATERAL TABLE`), the element a column named by the
//! plan ([`UnnestDef`]).
//!
//! The array is evaluated once per batch (a `ListArray`); its offsets say how many rows each
//! input row becomes, so the other columns are repeated with one `take` by parent index and
//! the elements are the list's values as they are (a slice, when no array is NULL). Only the
//! columns the rest of the plan reads are carried over: repeating a line of text for each of
//! its ten words would cost more than splitting it.
//!
//! The stage runs inside [`crate::operator::ViewOperator`], before the filter, as the upsert
//! stage does for tables — so every driver of the one pipeline (streaming, bounded, the
//! serving layer's merge, the benchmark) explodes the same way, and an operator's input is
//! still the source's batch, whose rows late records are reported against.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::expr;
use crate::plan::{Expr, UnnestDef, ViewPlan};
use crate::rows::{LateRow, ROWTIME};

/// A compiled table function: the array, the columns carried over, the exploded schema.
#[derive(Debug)]
pub(crate) struct UnnestStage {
    array: Expr,
    /// Indexes of the input columns the exploded rows keep.
    carried: Vec<usize>,
    schema: SchemaRef,
}

impl UnnestStage {
    /// Compiles `unnest` of `plan` against batches of `input`.
    ///
    /// # Errors
    /// [`Error::Plan`] when the array expression does not type, is not an array, or its
    /// column's name is taken.
    pub(crate) fn new(plan: &ViewPlan, unnest: &UnnestDef, input: &SchemaRef) -> Result<Self> {
        let t = expr::data_type(&unnest.array, input)?;
        let element = match &t {
            DataType::List(f) => f.data_type().clone(),
            other => {
                return Err(Error::plan(format!(
                    "EXPLODE / UNNEST needs an ARRAY, got {}",
                    strata_sql::types::type_name(other)
                )));
            }
        };
        if input.index_of(&unnest.column).is_ok() {
            return Err(Error::plan(format!(
                "the element column {} has the name of an input column",
                unnest.column
            )));
        }
        let read = columns_read(plan);
        let carried: Vec<usize> = (0..input.fields().len())
            .filter(|&i| read.contains(input.field(i).name().as_str()))
            .collect();
        let mut fields: Vec<Field> = carried
            .iter()
            .map(|&i| input.field(i).as_ref().clone())
            .collect();
        fields.push(Field::new(&unnest.column, element, true));
        Ok(UnnestStage {
            array: unnest.array.clone(),
            carried,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The schema of exploded batches.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// One row per element of each row's array (none for an empty or NULL array), and for
    /// each of them the row of `batch` it came from.
    ///
    /// # Errors
    /// Evaluation errors of the array expression.
    pub(crate) fn apply(&self, batch: &RecordBatch) -> Result<(RecordBatch, Vec<u32>)> {
        let arrays = expr::evaluate(&self.array, batch)?;
        let Some(list) = arrays.as_list_opt::<i32>() else {
            // A NULL literal's type: no array, no rows.
            return Ok((RecordBatch::new_empty(Arc::clone(&self.schema)), Vec::new()));
        };
        let offsets = list.value_offsets();
        let mut parents: Vec<u32> = Vec::with_capacity(list.values().len());
        let mut elements: Option<Vec<u32>> = list.nulls().map(|_| Vec::new());
        for i in 0..list.len() {
            if list.is_null(i) {
                continue; // a NULL array's offsets may still span values: skip them
            }
            let (from, to) = (offsets[i] as u32, offsets[i + 1] as u32);
            parents.extend(std::iter::repeat_n(i as u32, (to - from) as usize));
            if let Some(e) = &mut elements {
                e.extend(from..to);
            }
        }
        let element: ArrayRef = match elements {
            Some(e) => take(list.values().as_ref(), &UInt32Array::from(e), None)?,
            None => {
                let first = offsets[0] as usize;
                let len = offsets[list.len()] as usize - first;
                list.values().slice(first, len)
            }
        };
        let index = UInt32Array::from(parents.clone());
        let mut columns = Vec::with_capacity(self.carried.len() + 1);
        for &c in &self.carried {
            columns.push(take(batch.column(c).as_ref(), &index, None)?);
        }
        columns.push(element);
        let options = RecordBatchOptions::new().with_row_count(Some(parents.len()));
        let exploded =
            RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)?;
        Ok((exploded, parents))
    }
}

/// Late rows of the exploded batch as the input rows they came from, each once (the rows of
/// one input row share its event time, so they are late together).
pub(crate) fn input_rows(late: Vec<LateRow>, parents: &[u32]) -> Vec<LateRow> {
    let mut seen = BTreeSet::new();
    late.into_iter()
        .filter_map(|l| {
            let row = parents[l.row] as usize;
            seen.insert(row).then_some(LateRow { row, ..l })
        })
        .collect()
}

/// The input columns the view reads after the stage: those its expressions name, its event
/// time, and the log position (EARLIEST/LATEST_BY_OFFSET order by it).
fn columns_read(plan: &ViewPlan) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let exprs = plan
        .filter
        .iter()
        .chain(plan.group_by.iter().map(|(_, e)| e))
        .chain(plan.aggregates.iter().filter_map(|a| a.arg.as_ref()))
        .chain(plan.output.iter().map(|(_, e)| e));
    for e in exprs {
        names(e, &mut out);
    }
    out.insert(
        plan.source
            .timestamp_column
            .clone()
            .unwrap_or_else(|| ROWTIME.to_owned()),
    );
    out.insert("_partition".into());
    out.insert("_offset".into());
    out
}

/// Every column `e` names.
fn names(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::Column(c) => {
            out.insert(c.clone());
        }
        Expr::Literal(_) => {}
        Expr::Binary { left, right, .. } => {
            names(left, out);
            names(right, out);
        }
        Expr::Not(x)
        | Expr::Negate(x)
        | Expr::IsNull { expr: x, .. }
        | Expr::Cast { expr: x, .. } => {
            names(x, out);
        }
        Expr::InList { expr, list, .. } => {
            names(expr, out);
            list.iter().for_each(|x| names(x, out));
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            names(expr, out);
            names(low, out);
            names(high, out);
        }
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => {
            operand.iter().for_each(|x| names(x, out));
            for (w, t) in branches {
                names(w, out);
                names(t, out);
            }
            otherwise.iter().for_each(|x| names(x, out));
        }
        Expr::Function { args, .. } => args.iter().for_each(|x| names(x, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{ViewBuilder, col};
    use crate::plan::{SourceDef, SqlType};
    use arrow::array::{Int64Array, ListArray, StringArray};
    use arrow::datatypes::Int64Type;
    use proptest::prelude::*;

    fn plan() -> ViewPlan {
        let source = SourceDef::stream("s")
            .column("id", SqlType::BigInt)
            .column("tags", SqlType::Array(crate::plan::ScalarType::BigInt))
            .column("unused", SqlType::Varchar);
        let mut plan = ViewBuilder::new("v", source)
            .output(vec![("id".into(), col("id")), ("tag".into(), col("tag"))])
            .build();
        plan.unnest = Some(UnnestDef {
            array: col("tags"),
            column: "tag".into(),
        });
        plan
    }

    fn batch(rows: &[Option<Vec<i64>>]) -> RecordBatch {
        let schema = crate::decode::source_schema(&plan().source);
        let n = rows.len();
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
        let tags: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
            rows.iter().map(|r| {
                r.as_ref()
                    .map(|v| v.iter().map(|x| Some(*x)).collect::<Vec<_>>())
            }),
        ));
        let mut columns = vec![
            ids,
            tags,
            Arc::new(StringArray::from(vec!["x"; n])) as ArrayRef,
        ];
        for f in crate::decode::metadata_fields() {
            columns.push(match f.name().as_str() {
                "_key" => Arc::new(StringArray::from(vec![None::<&str>; n])),
                _ => arrow::compute::cast(
                    &(Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef),
                    f.data_type(),
                )
                .expect("cast"),
            });
        }
        RecordBatch::try_new(schema, columns).expect("batch")
    }

    #[test]
    fn carries_only_the_columns_read_and_skips_null_arrays() {
        let b = batch(&[Some(vec![1, 2]), None, Some(vec![]), Some(vec![3])]);
        let stage = UnnestStage::new(
            &plan(),
            plan().unnest.as_ref().expect("unnest"),
            &b.schema(),
        )
        .expect("stage");
        let names: Vec<&str> = stage
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["id", "rowtime", "_partition", "_offset", "tag"]);
        let (out, parents) = stage.apply(&b).expect("apply");
        assert_eq!(parents, [0, 0, 3]);
        let tag = out
            .column_by_name("tag")
            .expect("tag")
            .as_primitive::<Int64Type>();
        assert_eq!(tag.values().to_vec(), [1, 2, 3]);
    }

    /// A windowed word count from SQL: each record's words count in its window, and a late
    /// record is reported once (as the input row it is), not once per word.
    #[test]
    fn an_exploding_view_counts_words_and_reports_late_records_once() {
        use crate::pipeline::{Pipeline, PipelineOptions};
        use crate::plan::Statement;
        use strata_log::{BatchView, EncodedBatch, Record, RecordView};
        let sql =
            "CREATE STREAM s (line VARCHAR, ts BIGINT) WITH (kafka_topic='s', timestamp='ts');
            CREATE TABLE c AS SELECT EXPLODE(SPLIT(line, ' ')) AS w, COUNT(*) AS n FROM s
            WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY w EMIT CHANGES;";
        let plan = match crate::sql::parse(sql, &crate::sql::EmptyCatalog)
            .expect("parse")
            .pop()
        {
            Some(Statement::CreateView { plan, .. }) => plan,
            other => panic!("{other:?}"),
        };
        let mut pipeline = Pipeline::new(plan, PipelineOptions::streaming()).expect("pipeline");
        let run = |pipeline: &mut Pipeline, values: &[&str]| {
            let records: Vec<Record> = values
                .iter()
                .map(|v| Record::new(v.as_bytes().to_vec(), 0))
                .collect();
            let batch = EncodedBatch::from_records(&records).expect("batch");
            let view = BatchView::frame(batch.as_bytes()).expect("frame");
            let views: Vec<(u32, RecordView<'_>)> =
                view.records().map(|r| (0, r.expect("record"))).collect();
            pipeline.process_records(&views).expect("process")
        };
        let step = run(
            &mut pipeline,
            &[
                r#"{"line":"a b a","ts":100000}"#,
                r#"{"line":"b","ts":100001}"#,
            ],
        );
        assert_eq!(step.output.row_count(), 2, "groups a and b changed");
        assert_eq!(step.batch.num_rows(), 2, "the step's batch is the input's");
        pipeline.advance(200_000).expect("advance");
        let step = run(
            &mut pipeline,
            &[r#"{"line":"b","ts":200001}"#, r#"{"line":"c c c","ts":1}"#],
        );
        let late: Vec<usize> = step.output.late.iter().map(|l| l.row).collect();
        assert_eq!(late, [1], "the late record, once");
        let rows = pipeline.current_rows().expect("rows");
        let n: i64 = rows
            .column_by_name("n")
            .expect("n")
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .sum();
        assert_eq!(n, 5, "a a b b, then b");
    }

    proptest! {
        /// Exploding random arrays equals a flat map over the rows.
        #[test]
        fn explode_equals_a_flat_map(
            rows in proptest::collection::vec(
                proptest::option::weighted(0.9, proptest::collection::vec(-5i64..5, 0..5)),
                0..20,
            ),
        ) {
            let b = batch(&rows);
            let stage = UnnestStage::new(&plan(), plan().unnest.as_ref().expect("unnest"), &b.schema())
                .expect("stage");
            let (out, parents) = stage.apply(&b).expect("apply");
            let want: Vec<(i64, i64)> = rows
                .iter()
                .enumerate()
                .flat_map(|(i, r)| r.iter().flatten().map(move |x| (i as i64, *x)))
                .collect();
            let ids = out.column_by_name("id").expect("id").as_primitive::<Int64Type>();
            let tags = out.column_by_name("tag").expect("tag").as_primitive::<Int64Type>();
            let got: Vec<(i64, i64)> = (0..out.num_rows()).map(|i| (ids.value(i), tags.value(i))).collect();
            prop_assert_eq!(&got, &want);
            let want_parents: Vec<u32> = want.iter().map(|(i, _)| *i as u32).collect();
            prop_assert_eq!(parents, want_parents);
        }
    }
}
