//! The documented SQL forms (docs/sql.md) planned by strata-sql and evaluated by the engine's
//! expressions over a batch with the decoder's source scope.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use strata_engine::plan::{SourceDef, SqlType, Statement, ViewPlan};
use strata_engine::sql::{EmptyCatalog, parse};

const ORDERS: &str =
    "CREATE TABLE orders (order_id STRING, product STRING, amount DOUBLE, order_time TIMESTAMP(3),
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'orders', 'format' = 'json');";

fn catalog() -> HashMap<String, SourceDef> {
    let mut m = HashMap::new();
    if let Statement::CreateSource { source, .. } = parse(ORDERS, &EmptyCatalog).unwrap().remove(0)
    {
        m.insert(source.name.clone(), source);
    }
    m
}

fn view(sql: &str, catalog: &HashMap<String, SourceDef>) -> ViewPlan {
    match parse(sql, catalog).unwrap().remove(0) {
        Statement::CreateView { plan, .. } => plan,
        other => other
            .into_select()
            .unwrap_or_else(|| panic!("not a view: {sql}")),
    }
}

/// A batch with the source scope of `orders` (as the decoder builds it).
fn orders_batch() -> arrow::array::RecordBatch {
    use arrow::array::{Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;
    let c = catalog();
    let o = &c["orders"];
    let mut fields: Vec<Field> = o
        .columns
        .iter()
        .map(|c| {
            Field::new(
                c.name.clone(),
                strata_engine::expr::arrow_type(c.data_type),
                true,
            )
        })
        .collect();
    fields.push(Field::new(
        "rowtime",
        strata_engine::expr::arrow_type(SqlType::Timestamp),
        false,
    ));
    fields.push(Field::new(
        "_partition",
        arrow::datatypes::DataType::Int64,
        false,
    ));
    fields.push(Field::new(
        "_offset",
        arrow::datatypes::DataType::Int64,
        false,
    ));
    fields.push(Field::new("_key", arrow::datatypes::DataType::Utf8, true));
    let ts = |v: Vec<i64>| Arc::new(TimestampMillisecondArray::from(v));
    arrow::array::RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        vec![
            Arc::new(StringArray::from(vec!["o1", "o2", "o3"])),
            Arc::new(StringArray::from(vec![Some(" Apple "), Some("pear"), None])),
            Arc::new(Float64Array::from(vec![10.0, 250.0, 99.5])),
            ts(vec![1_704_067_200_000, 1_704_070_800_000, 0]),
            ts(vec![0, 0, 0]),
            Arc::new(Int64Array::from(vec![0, 0, 1])),
            Arc::new(Int64Array::from(vec![0, 1, 0])),
            Arc::new(StringArray::from(vec![Some("k"), None, Some("k")])),
        ],
    )
    .unwrap()
}

#[test]
fn documented_forms_evaluate() {
    use arrow::array::{Array, AsArray};
    let c = catalog();
    let b = orders_batch();
    let p = view(
        "SELECT TRIM(LEADING FROM product) AS p, order_time + INTERVAL '1' HOUR AS later, MOD(_offset, 2) AS m,
                CAST(amount AS STRING) AS s, amount != 10 AS ne, product ILIKE '%APPLE%' AS il
         FROM orders
         WHERE order_time >= TIMESTAMP '2024-01-01 00:00:00' AND order_time < '2024-01-02 00:00:00'
           AND (amount > 5) IS TRUE AND INTERVAL '5 seconds' = 5000",
        &c,
    );
    let mask = strata_engine::expr::evaluate_predicate(p.filter.as_ref().unwrap(), &b).unwrap();
    assert_eq!(
        mask.iter().collect::<Vec<_>>(),
        vec![Some(true), Some(true), Some(false)]
    );
    let out: Vec<_> = p
        .output
        .iter()
        .map(|(_, e)| strata_engine::expr::evaluate(e, &b).unwrap())
        .collect();
    assert_eq!(out[0].as_string::<i32>().value(0), "Apple ");
    assert_eq!(
        out[1]
            .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
            .value(0),
        1_704_067_200_000 + 3_600_000
    );
    assert_eq!(out[3].as_string::<i32>().value(1), "250.0");
    assert!(!out[4].as_boolean().value(0));
    assert!(out[5].as_boolean().value(0) && !out[5].as_boolean().value(1) && out[5].is_null(2));
}
