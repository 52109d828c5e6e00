//! The evaluator's tests: operators, three-valued logic, CASE, IN, BETWEEN, casts, the
//! memoisation of repeated calls, and a row-at-a-time model of the arithmetic; the fixtures
//! here serve [`super::function_tests`] too.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use proptest::prelude::*;
use strata_sql::types::TS;

use super::*;
use crate::plan::SqlType;

pub(super) fn col(n: &str) -> Expr {
    Expr::Column(n.into())
}
pub(super) fn int(i: i64) -> Expr {
    Expr::Literal(Literal::Int(i))
}
pub(super) fn float(f: f64) -> Expr {
    Expr::Literal(Literal::Float(f))
}
pub(super) fn string(s: &str) -> Expr {
    Expr::Literal(Literal::String(s.into()))
}
pub(super) fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    }
}
pub(super) fn func(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function {
        name: name.into(),
        args,
    }
}

pub(super) fn batch() -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("t", TS, true),
        Field::new("f", DataType::Boolean, true),
        Field::new("u.name", DataType::Utf8, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Int64Array::from(vec![Some(1), Some(0), None, Some(-7)])),
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(0.0),
                Some(2.0),
                None,
            ])),
            Arc::new(StringArray::from(vec![
                Some("Hello"),
                Some(" x "),
                None,
                Some("héllo"),
            ])),
            Arc::new(arrow::array::TimestampMillisecondArray::from(vec![
                Some(1_000),
                Some(60_000),
                None,
                Some(0),
            ])),
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])),
            Arc::new(StringArray::from(vec![
                Some("ann"),
                None,
                Some("bo"),
                Some("cy"),
            ])),
        ],
    )
    .unwrap()
}

pub(super) fn ints(e: &Expr) -> Vec<Option<i64>> {
    let a = evaluate(e, &batch()).unwrap();
    a.as_primitive::<Int64Type>().iter().collect()
}
pub(super) fn floats(e: &Expr) -> Vec<Option<f64>> {
    let a = evaluate(e, &batch()).unwrap();
    a.as_primitive::<Float64Type>().iter().collect()
}
pub(super) fn strings(e: &Expr) -> Vec<Option<String>> {
    let a = evaluate(e, &batch()).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}
pub(super) fn bools(e: &Expr) -> Vec<Option<bool>> {
    let a = evaluate(e, &batch()).unwrap();
    a.as_boolean().iter().collect()
}

#[test]
fn arithmetic_promotes_and_divides_by_zero_to_null() {
    assert_eq!(
        ints(&bin(BinaryOp::Plus, col("a"), int(1))),
        vec![Some(2), Some(1), None, Some(-6)]
    );
    assert_eq!(
        floats(&bin(BinaryOp::Multiply, col("a"), col("b"))),
        vec![Some(1.5), Some(0.0), None, None]
    );
    assert_eq!(
        ints(&bin(BinaryOp::Divide, int(10), col("a"))),
        vec![Some(10), None, None, Some(-1)]
    );
    assert_eq!(
        ints(&bin(BinaryOp::Modulo, int(10), col("a"))),
        vec![Some(0), None, None, Some(3)]
    );
    assert_eq!(
        floats(&bin(BinaryOp::Divide, float(3.0), col("b"))),
        vec![Some(2.0), None, Some(1.5), None]
    );
    assert_eq!(
        ints(&bin(BinaryOp::Divide, int(7), int(2))),
        vec![Some(3); 4]
    );
    assert_eq!(
        ints(&bin(BinaryOp::Plus, int(i64::MAX), int(1))),
        vec![Some(i64::MIN); 4]
    );
    assert_eq!(
        ints(&Expr::Negate(Box::new(col("a")))),
        vec![Some(-1), Some(0), None, Some(7)]
    );
    assert_eq!(
        data_type(&bin(BinaryOp::Plus, col("a"), col("b")), &batch().schema()).unwrap(),
        DataType::Float64
    );
}

#[test]
fn timestamps_and_intervals() {
    let plus = bin(
        BinaryOp::Plus,
        col("t"),
        Expr::Literal(Literal::IntervalMs(500)),
    );
    let a = evaluate(&plus, &batch()).unwrap();
    assert_eq!(a.data_type(), &TS);
    let v: Vec<_> = a
        .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
        .iter()
        .collect();
    assert_eq!(v, vec![Some(1_500), Some(60_500), None, Some(500)]);
    let diff = bin(BinaryOp::Minus, col("t"), col("t"));
    assert_eq!(ints(&diff), vec![Some(0), Some(0), None, Some(0)]);
    let cmp = bin(BinaryOp::Gt, col("t"), string("1970-01-01 00:00:30"));
    assert_eq!(
        bools(&cmp),
        vec![Some(false), Some(true), None, Some(false)]
    );
    let cmp = bin(BinaryOp::GtEq, col("t"), int(1000));
    assert_eq!(bools(&cmp), vec![Some(true), Some(true), None, Some(false)]);
}

#[test]
fn comparisons_and_logic_are_three_valued() {
    let gt = bin(BinaryOp::Gt, col("a"), col("b"));
    assert_eq!(bools(&gt), vec![Some(false), Some(false), None, None]);
    let null = Expr::Literal(Literal::Null);
    let or = bin(BinaryOp::Or, col("f"), null.clone());
    assert_eq!(bools(&or), vec![Some(true), None, None, Some(true)]);
    let and = bin(BinaryOp::And, col("f"), null);
    assert_eq!(bools(&and), vec![None, Some(false), None, None]);
    let not = Expr::Not(Box::new(col("f")));
    assert_eq!(
        bools(&not),
        vec![Some(false), Some(true), None, Some(false)]
    );
}

#[test]
fn predicate_treats_null_as_false() {
    let e = bin(BinaryOp::Gt, col("a"), int(0));
    let p = evaluate_predicate(&e, &batch()).unwrap();
    assert_eq!(
        p.iter().collect::<Vec<_>>(),
        vec![Some(true), Some(false), Some(false), Some(false)]
    );
    let e = Expr::Literal(Literal::Null);
    assert_eq!(evaluate_predicate(&e, &batch()).unwrap().true_count(), 0);
    assert!(evaluate_predicate(&col("a"), &batch()).is_err());
}

#[test]
fn case_in_between_cast_isnull() {
    let case = Expr::Case {
        operand: None,
        branches: vec![
            (bin(BinaryOp::Gt, col("a"), int(0)), string("pos")),
            (bin(BinaryOp::Lt, col("a"), int(0)), string("neg")),
        ],
        otherwise: Some(Box::new(string("zero"))),
    };
    assert_eq!(
        strings(&case),
        vec![
            Some("pos".into()),
            Some("zero".into()),
            Some("zero".into()),
            Some("neg".into())
        ]
    );
    let simple = Expr::Case {
        operand: Some(Box::new(col("a"))),
        branches: vec![(int(1), float(1.5)), (int(0), int(0))],
        otherwise: None,
    };
    assert_eq!(floats(&simple), vec![Some(1.5), Some(0.0), None, None]);
    let inl = Expr::InList {
        expr: Box::new(col("a")),
        list: vec![int(1), int(-7)],
        negated: false,
    };
    assert_eq!(bools(&inl), vec![Some(true), Some(false), None, Some(true)]);
    let notin = Expr::InList {
        expr: Box::new(col("a")),
        list: vec![int(1), Expr::Literal(Literal::Null)],
        negated: true,
    };
    assert_eq!(bools(&notin), vec![Some(false), None, None, None]);
    let btw = Expr::Between {
        expr: Box::new(col("b")),
        low: Box::new(int(1)),
        high: Box::new(float(2.0)),
        negated: false,
    };
    assert_eq!(bools(&btw), vec![Some(true), Some(false), Some(true), None]);
    let cast = Expr::Cast {
        expr: Box::new(col("b")),
        to: SqlType::BigInt,
    };
    assert_eq!(ints(&cast), vec![Some(1), Some(0), Some(2), None]);
    let cast = Expr::Cast {
        expr: Box::new(string("12x")),
        to: SqlType::BigInt,
    };
    assert_eq!(ints(&cast), vec![None; 4]);
    let isn = Expr::IsNull {
        expr: Box::new(col("s")),
        negated: true,
    };
    assert_eq!(
        bools(&isn),
        vec![Some(true), Some(true), Some(false), Some(true)]
    );
}

#[test]
fn an_empty_batch_gives_empty_columns_of_the_type() {
    let empty = batch().slice(0, 0);
    let case = Expr::Case {
        operand: None,
        branches: vec![(col("f"), string("yes"))],
        otherwise: Some(Box::new(string("no"))),
    };
    let out = evaluate(&case, &empty).unwrap();
    assert_eq!((out.len(), out.data_type()), (0, &DataType::Utf8));
    let out = evaluate(&func("hour", vec![col("t")]), &empty).unwrap();
    assert_eq!((out.len(), out.data_type()), (0, &DataType::Int64));
    assert!(evaluate(&bin(BinaryOp::Plus, col("s"), int(1)), &empty).is_err());
}

#[test]
fn repeated_calls_in_one_expression_are_evaluated_once_and_kept_apart() {
    let eq = |e: Expr, v: &str| bin(BinaryOp::Eq, e, string(v));
    let case = Expr::Case {
        operand: None,
        branches: vec![
            (
                eq(func("lower", vec![col("s")]), "hello"),
                func("upper", vec![col("s")]),
            ),
            (
                eq(func("lower", vec![col("u.name")]), "bo"),
                func("lower", vec![col("s")]),
            ),
        ],
        otherwise: Some(Box::new(func("lower", vec![col("u.name")]))),
    };
    assert_eq!(
        strings(&case),
        vec![Some("HELLO".into()), None, None, Some("cy".into())]
    );
}

#[test]
fn case_nullif_greatest_with_conditions_that_have_no_nulls() {
    // IS NOT NULL never yields NULL: the mask has no null buffer.
    let present = Expr::IsNull {
        expr: Box::new(col("a")),
        negated: true,
    };
    let absent = Expr::IsNull {
        expr: Box::new(col("a")),
        negated: false,
    };
    let case = Expr::Case {
        operand: None,
        branches: vec![(present, string("set")), (absent, string("unset"))],
        otherwise: Some(Box::new(string("never"))),
    };
    assert_eq!(
        strings(&case),
        vec![
            Some("set".into()),
            Some("set".into()),
            Some("unset".into()),
            Some("set".into())
        ]
    );
    assert_eq!(
        ints(&func(
            "nullif",
            vec![func("coalesce", vec![col("a"), int(0)]), int(0)]
        )),
        vec![Some(1), None, None, Some(-7)]
    );
    assert_eq!(
        ints(&func(
            "greatest",
            vec![func("coalesce", vec![col("a"), int(0)]), int(-1)]
        )),
        vec![Some(1), Some(0), Some(0), Some(-1)]
    );
}

#[test]
fn type_errors_surface_from_data_type() {
    let schema = batch().schema();
    assert!(data_type(&bin(BinaryOp::Plus, col("s"), int(1)), &schema).is_err());
    assert!(data_type(&bin(BinaryOp::And, col("a"), col("f")), &schema).is_err());
    assert!(data_type(&func("upper", vec![col("a")]), &schema).is_err());
    assert!(matches!(
        data_type(&col("zz"), &schema),
        Err(strata_sql::Error::Unknown { .. })
    ));
    assert_eq!(
        data_type(&func("coalesce", vec![col("a"), col("b")]), &schema).unwrap(),
        DataType::Float64
    );
}

/// A row-at-a-time model of the arithmetic and comparison subset.
#[derive(Debug, Clone)]
enum M {
    A,
    B,
    I(i64),
    Op(BinaryOp, Box<M>, Box<M>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum V {
    I(i64),
    F(f64),
    B(bool),
}

fn model(m: &M, a: Option<i64>, b: Option<f64>) -> Option<V> {
    match m {
        M::A => a.map(V::I),
        M::B => b.map(V::F),
        M::I(i) => Some(V::I(*i)),
        M::Op(op, l, r) => {
            let l = model(l, a, b)?;
            let r = model(r, a, b)?;
            let f = |v: V| match v {
                V::I(i) => i as f64,
                V::F(f) => f,
                V::B(_) => f64::NAN,
            };
            use BinaryOp::*;
            match (op, l, r) {
                (Plus, V::I(x), V::I(y)) => Some(V::I(x.wrapping_add(y))),
                (Minus, V::I(x), V::I(y)) => Some(V::I(x.wrapping_sub(y))),
                (Multiply, V::I(x), V::I(y)) => Some(V::I(x.wrapping_mul(y))),
                (Divide, V::I(x), V::I(y)) => (y != 0).then(|| V::I(x.wrapping_div(y))),
                (Modulo, V::I(x), V::I(y)) => (y != 0).then(|| V::I(x.wrapping_rem(y))),
                (Plus, l, r) => Some(V::F(f(l) + f(r))),
                (Minus, l, r) => Some(V::F(f(l) - f(r))),
                (Multiply, l, r) => Some(V::F(f(l) * f(r))),
                (Divide, l, r) => (f(r) != 0.0).then(|| V::F(f(l) / f(r))),
                (Modulo, l, r) => (f(r) != 0.0).then(|| V::F(f(l) % f(r))),
                (Eq, V::I(x), V::I(y)) => Some(V::B(x == y)),
                (Lt, V::I(x), V::I(y)) => Some(V::B(x < y)),
                (Eq, l, r) => Some(V::B(f(l) == f(r))),
                (Lt, l, r) => Some(V::B(f(l) < f(r))),
                _ => None,
            }
        }
    }
}

fn to_expr(m: &M) -> Expr {
    match m {
        M::A => col("a"),
        M::B => col("b"),
        M::I(i) => int(*i),
        M::Op(op, l, r) => bin(*op, to_expr(l), to_expr(r)),
    }
}

fn arb_m() -> impl Strategy<Value = M> {
    let leaf = prop_oneof![
        Just(M::A),
        Just(M::B),
        (-5i64..5).prop_map(M::I),
        any::<i64>().prop_map(M::I)
    ];
    leaf.prop_recursive(3, 16, 2, |inner| {
        (
            prop_oneof![
                Just(BinaryOp::Plus),
                Just(BinaryOp::Minus),
                Just(BinaryOp::Multiply),
                Just(BinaryOp::Divide),
                Just(BinaryOp::Modulo)
            ],
            inner.clone(),
            inner,
        )
            .prop_map(|(op, l, r)| M::Op(op, Box::new(l), Box::new(r)))
    })
}

fn same(x: Option<V>, y: Option<V>) -> bool {
    match (x, y) {
        (Some(V::F(a)), Some(V::F(b))) => a == b || (a.is_nan() && b.is_nan()),
        (x, y) => x == y,
    }
}

proptest! {
    #[test]
    fn arithmetic_and_comparison_match_a_row_model(
        m in arb_m(),
        cmp_op in prop_oneof![Just(None), Just(Some(BinaryOp::Eq)), Just(Some(BinaryOp::Lt))],
        rows in proptest::collection::vec((proptest::option::of(-20i64..20), proptest::option::of(-4.0f64..4.0)), 0..20),
    ) {
        let m = match cmp_op {
            Some(op) => M::Op(op, Box::new(m), Box::new(M::A)),
            None => m,
        };
        let schema = Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Float64, true),
        ]);
        let a: Int64Array = rows.iter().map(|r| r.0).collect();
        let b: Float64Array = rows.iter().map(|r| r.1).collect();
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(a), Arc::new(b)]).unwrap();
        let out = evaluate(&to_expr(&m), &batch).unwrap();
        prop_assert_eq!(out.len(), rows.len());
        for (i, (a, b)) in rows.iter().enumerate() {
            let want = model(&m, *a, *b);
            let got = if out.is_null(i) {
                None
            } else {
                match out.data_type() {
                    DataType::Int64 => Some(V::I(out.as_primitive::<Int64Type>().value(i))),
                    DataType::Float64 => Some(V::F(out.as_primitive::<Float64Type>().value(i))),
                    DataType::Boolean => Some(V::B(out.as_boolean().value(i))),
                    t => panic!("unexpected type {t}"),
                }
            };
            prop_assert!(same(want, got), "row {}: model {:?} engine {:?}", i, want, got);
        }
    }
}
