//! The scalar functions as the evaluator runs them (kernels from strata-sql's registry):
//! results, NULLs, constant folding and the errors of wrong arguments.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::tests::{batch, bin, bools, col, float, floats, func, int, ints, string, strings};
use super::*;
use crate::NameKind;
use crate::plan::SqlType;

#[test]
fn strings_like_and_functions() {
    assert_eq!(
        bools(&bin(BinaryOp::Like, col("s"), string("H%"))),
        vec![Some(true), Some(false), None, Some(false)]
    );
    assert_eq!(
        bools(&bin(BinaryOp::NotLike, col("s"), string("%llo"))),
        vec![Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        strings(&func("upper", vec![col("s")]))[3].as_deref(),
        Some("HÉLLO")
    );
    assert_eq!(
        strings(&func("trim", vec![col("s")]))[1].as_deref(),
        Some("x")
    );
    assert_eq!(
        ints(&func("length", vec![col("s")])),
        vec![Some(5), Some(3), None, Some(5)]
    );
    assert_eq!(
        strings(&func("substring", vec![col("s"), int(2), int(3)]))[0].as_deref(),
        Some("ell")
    );
    assert_eq!(
        strings(&func("substring", vec![col("s"), int(0), int(3)]))[0].as_deref(),
        Some("He")
    );
    assert_eq!(
        strings(&func("substring", vec![col("s"), int(4)]))[3].as_deref(),
        Some("lo")
    );
    assert_eq!(
        strings(&func("concat", vec![col("s"), string("-"), col("a")])),
        vec![
            Some("Hello-1".into()),
            Some(" x -0".into()),
            Some("-".into()),
            Some("héllo--7".into())
        ]
    );
    assert_eq!(strings(&bin(BinaryOp::Concat, col("s"), col("a")))[2], None);
    assert_eq!(
        strings(&func(
            "coalesce",
            vec![col("u.name"), col("s"), string("?")]
        )),
        vec![
            Some("ann".into()),
            Some(" x ".into()),
            Some("bo".into()),
            Some("cy".into())
        ]
    );
    assert_eq!(
        floats(&func("round", vec![float(2.345), int(2)]))[0],
        Some(2.35)
    );
    assert_eq!(
        ints(&func("round", vec![int(1234), int(-2)]))[0],
        Some(1200)
    );
    assert_eq!(
        ints(&func("round", vec![int(1234), int(i64::MIN)]))[0],
        Some(0)
    );
    assert_eq!(floats(&func("floor", vec![col("b")]))[0], Some(1.0));
    assert_eq!(floats(&func("ceil", vec![col("b")]))[0], Some(2.0));
    assert_eq!(ints(&func("abs", vec![col("a")]))[3], Some(7));
    assert_eq!(floats(&func("sqrt", vec![int(16)]))[0], Some(4.0));
    assert_eq!(floats(&func("power", vec![int(2), col("a")]))[0], Some(2.0));
    assert_eq!(
        floats(&func("greatest", vec![col("a"), col("b")])),
        vec![Some(1.5), Some(0.0), Some(2.0), Some(-7.0)]
    );
    assert_eq!(
        ints(&func("least", vec![col("a"), int(0)])),
        vec![Some(0), Some(0), Some(0), Some(-7)]
    );
    assert_eq!(
        ints(&func("nullif", vec![col("a"), int(0)])),
        vec![Some(1), None, None, Some(-7)]
    );
    assert!(matches!(
        evaluate(&func("nope", vec![]), &batch()),
        Err(Error::Unknown {
            kind: NameKind::Function,
            ..
        })
    ));
}

#[test]
fn date_format_of_timestamps_nulls_and_pattern_errors() {
    // t: 1 s, 60 s, NULL, epoch.
    assert_eq!(
        strings(&func(
            "date_format",
            vec![col("t"), string("yyyy-MM-dd HH:mm:ss")]
        )),
        vec![
            Some("1970-01-01 00:00:01".into()),
            Some("1970-01-01 00:01:00".into()),
            None,
            Some("1970-01-01 00:00:00".into())
        ]
    );
    // A constant time stays a constant; 2024-01-01 19:30:00 UTC.
    let ts = Expr::Cast {
        expr: Box::new(int(1_704_137_400_000)),
        to: SqlType::Timestamp,
    };
    assert_eq!(
        strings(&func("date_format", vec![ts, string("HH:mm")])),
        vec![Some("19:30".into()); 4]
    );
    // NULL time or NULL pattern: NULL.
    assert_eq!(
        strings(&func(
            "date_format",
            vec![Expr::Literal(Literal::Null), string("yyyy")]
        )),
        vec![None; 4]
    );
    assert_eq!(
        strings(&func(
            "date_format",
            vec![col("t"), Expr::Literal(Literal::Null)]
        )),
        vec![None; 4]
    );
    let schema = batch().schema();
    for (args, needle) in [
        (vec![col("t"), string("yyyy-ww")], "\"ww\" in pattern"),
        (vec![col("t"), string("'open")], "unclosed quote"),
        (vec![col("t"), col("s")], "must be a constant string"),
        (vec![col("s"), string("yyyy")], "must be TIMESTAMP"),
        (vec![col("t")], "takes 2 argument(s)"),
    ] {
        let e = data_type(&func("date_format", args), &schema).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
    // Evaluated without planning, a column pattern is refused too.
    let e = evaluate(&func("date_format", vec![col("t"), col("s")]), &batch()).unwrap_err();
    assert!(e.to_string().contains("constant string"), "{e}");
}

#[test]
fn hour_minute_second_of_timestamps() {
    // t: 1 s, 60 s, NULL, epoch.
    assert_eq!(
        ints(&func("hour", vec![col("t")])),
        vec![Some(0), Some(0), None, Some(0)]
    );
    assert_eq!(
        ints(&func("minute", vec![col("t")])),
        vec![Some(0), Some(1), None, Some(0)]
    );
    assert_eq!(
        ints(&func("second", vec![col("t")])),
        vec![Some(1), Some(0), None, Some(0)]
    );
    // 2024-01-01 19:30:00 UTC and one before the epoch (1969-12-31 23:59:59).
    let ts = Expr::Cast {
        expr: Box::new(int(1_704_137_400_000)),
        to: SqlType::Timestamp,
    };
    assert_eq!(ints(&func("hour", vec![ts.clone()])), vec![Some(19); 4]);
    assert_eq!(ints(&func("minute", vec![ts])), vec![Some(30); 4]);
    let before = Expr::Cast {
        expr: Box::new(int(-1_000)),
        to: SqlType::Timestamp,
    };
    assert_eq!(ints(&func("hour", vec![before])), vec![Some(23); 4]);
    assert_eq!(
        ints(&func("hour", vec![Expr::Literal(Literal::Null)])),
        vec![None; 4]
    );
    let schema = batch().schema();
    let err = data_type(&func("hour", vec![col("a")]), &schema).unwrap_err();
    assert!(err.to_string().contains("must be TIMESTAMP"), "{err}");
    let err = data_type(&func("hour", vec![col("t"), col("t")]), &schema).unwrap_err();
    assert!(err.to_string().contains("takes 1 argument"), "{err}");
}

#[test]
fn replace_and_a_character_count() {
    assert_eq!(
        strings(&func("replace", vec![col("s"), string("l"), string("L")])),
        vec![
            Some("HeLLo".into()),
            Some(" x ".into()),
            None,
            Some("héLLo".into())
        ]
    );
    assert_eq!(
        strings(&func("lower", vec![col("s")])),
        vec![
            Some("hello".into()),
            Some(" x ".into()),
            None,
            Some("héllo".into())
        ]
    );
    assert_eq!(
        strings(&func("upper", vec![string("ÉtÉ ß")]))[0].as_deref(),
        Some("ÉTÉ SS")
    );
    // An empty search string leaves the text as it is; a NULL argument gives NULL.
    assert_eq!(
        strings(&func("replace", vec![col("s"), string(""), string("-")]))[0].as_deref(),
        Some("Hello")
    );
    assert_eq!(
        strings(&func(
            "replace",
            vec![col("s"), Expr::Literal(Literal::Null), string("-")]
        )),
        vec![None; 4]
    );
    // The number of 'l's: LENGTH(s) - LENGTH(REPLACE(s, 'l', '')).
    let count = bin(
        BinaryOp::Minus,
        func("length", vec![col("s")]),
        func(
            "length",
            vec![func("replace", vec![col("s"), string("l"), string("")])],
        ),
    );
    assert_eq!(ints(&count), vec![Some(2), Some(0), None, Some(2)]);
    // Column arguments, row by row.
    assert_eq!(
        strings(&func("replace", vec![col("u.name"), string("o"), col("s")])),
        vec![Some("ann".into()), None, None, Some("cy".into())]
    );
    let schema = batch().schema();
    let err = data_type(
        &func("replace", vec![col("s"), col("a"), string("")]),
        &schema,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("argument 2 of REPLACE() must be VARCHAR"),
        "{err}"
    );
    let err = data_type(&func("replace", vec![col("s"), string("")]), &schema).unwrap_err();
    assert!(err.to_string().contains("takes 3 argument"), "{err}");
}

fn url_batch() -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("url", DataType::Utf8, true),
        Field::new("i", DataType::Int64, true),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from(vec![
                Some("https://www.nexmark.com/abc/de/f/item.htm?query=1&channel_id=42"),
                Some("https://www.nexmark.com/googl/item.htm?query=1"),
                None,
                Some("channel_id=7&x=1"),
            ])),
            Arc::new(Int64Array::from(vec![Some(3), Some(5), Some(0), None])),
        ],
    )
    .unwrap()
}

fn url_strings(e: &Expr) -> Vec<Option<String>> {
    let a = evaluate(e, &url_batch()).unwrap();
    a.as_string::<i32>()
        .iter()
        .map(|x| x.map(str::to_owned))
        .collect()
}

#[test]
fn regexp_extract_groups_misses_and_errors() {
    let pattern = string("(&|^)channel_id=([^&]*)");
    assert_eq!(
        url_strings(&func(
            "regexp_extract",
            vec![col("url"), pattern.clone(), int(2)]
        )),
        vec![Some("42".into()), None, None, Some("7".into())]
    );
    // Group 0 (the default) is the whole match; an unmatched group is NULL.
    assert_eq!(
        url_strings(&func(
            "regexp_extract",
            vec![col("url"), string("[a-z]+\\.htm")]
        )),
        vec![Some("item.htm".into()), Some("item.htm".into()), None, None]
    );
    assert_eq!(
        url_strings(&func(
            "regexp_extract",
            vec![col("url"), string("(z)|(c)"), int(1)]
        ))[0],
        None
    );
    // NULL pattern or group: NULL.
    assert_eq!(
        url_strings(&func(
            "regexp_extract",
            vec![col("url"), Expr::Literal(Literal::Null)]
        )),
        vec![None; 4]
    );
    let schema = url_batch().schema();
    let plan_err = |args: Vec<Expr>| {
        data_type(&func("regexp_extract", args), &schema)
            .unwrap_err()
            .to_string()
    };
    let e = plan_err(vec![col("url"), pattern.clone(), int(3)]);
    assert!(
        e.contains("group 3 does not exist") && e.contains("0 to 2"),
        "{e}"
    );
    let e = plan_err(vec![col("url"), string("(unclosed")]);
    assert!(e.contains("invalid regular expression"), "{e}");
    let e = plan_err(vec![col("url"), col("url")]);
    assert!(e.contains("must be a constant string"), "{e}");
    let e = plan_err(vec![col("url"), pattern.clone(), col("i")]);
    assert!(e.contains("must be a constant integer"), "{e}");
    let e = plan_err(vec![col("url"), pattern, Expr::Negate(Box::new(int(1)))]);
    assert!(e.contains("0 or more"), "{e}");
    let e = plan_err(vec![col("i"), string("x")]);
    assert!(
        e.contains("argument 1 of REGEXP_EXTRACT() must be VARCHAR"),
        "{e}"
    );
    let e = plan_err(vec![col("url")]);
    assert!(e.contains("takes 2 to 3 argument"), "{e}");
}

#[test]
fn split_index_pieces_and_nulls() {
    let piece = |i: Expr| url_strings(&func("split_index", vec![col("url"), string("/"), i]));
    assert_eq!(
        piece(int(3)),
        vec![Some("abc".into()), Some("googl".into()), None, None]
    );
    assert_eq!(
        piece(int(0))[0].as_deref(),
        Some("https:"),
        "pieces count from 0"
    );
    assert_eq!(piece(int(1))[0].as_deref(), Some(""), "empty pieces count");
    assert_eq!(
        piece(int(5)),
        vec![Some("f".into()), None, None, None],
        "past the last piece: NULL"
    );
    assert_eq!(piece(Expr::Negate(Box::new(int(1)))), vec![None; 4]);
    // Index from a column, row by row; a NULL index gives NULL.
    assert_eq!(piece(col("i")), vec![Some("abc".into()), None, None, None]);
    // A multi-character separator; an empty one does not split.
    assert_eq!(
        url_strings(&func(
            "split_index",
            vec![col("url"), string("://"), int(1)]
        ))[1]
            .as_deref(),
        Some("www.nexmark.com/googl/item.htm?query=1")
    );
    assert_eq!(
        url_strings(&func("split_index", vec![col("url"), string(""), int(0)]))[3].as_deref(),
        Some("channel_id=7&x=1")
    );
    // Constant arguments fold to a constant.
    assert_eq!(
        url_strings(&func(
            "split_index",
            vec![string("a,b"), string(","), int(1)]
        )),
        vec![Some("b".into()); 4]
    );
    let schema = url_batch().schema();
    let e = data_type(
        &func("split_index", vec![col("url"), string("/"), string("3")]),
        &schema,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("argument 3 of SPLIT_INDEX() must be BIGINT"),
        "{e}"
    );
}
