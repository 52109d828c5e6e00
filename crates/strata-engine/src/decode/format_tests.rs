//! The decoder over the formats other than JSON objects, key columns and arrays: each format
//! fills the declared columns in order, a record that does not decode is set aside with a
//! reason naming the problem, and the rest still count.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use strata_log::{BatchView, EncodedBatch, Record, RecordView};

use super::{Decoded, SourceDecoder};
use crate::plan::{KeyFormat, ScalarType, SourceDef, SqlType, ValueFormat};

/// Decodes `(key, value)` records of `source`.
fn decode(source: &SourceDef, records: &[(Option<&[u8]>, &[u8])]) -> Decoded {
    let records: Vec<Record> = records
        .iter()
        .map(|(k, v)| {
            let mut r = Record::new(v.to_vec(), 7);
            r.key = k.map(<[u8]>::to_vec);
            r
        })
        .collect();
    let batch = EncodedBatch::from_records(&records).expect("batch");
    let view = BatchView::frame(batch.as_bytes()).expect("frame");
    let views: Vec<(u32, RecordView<'_>)> =
        view.records().map(|r| (0, r.expect("record"))).collect();
    SourceDecoder::new(source)
        .expect("decoder")
        .decode(&views)
        .expect("decode")
}

fn strings(d: &Decoded, column: &str) -> Vec<Option<String>> {
    let c = d
        .batch
        .column_by_name(column)
        .expect("column")
        .as_string::<i32>();
    c.iter().map(|s| s.map(str::to_owned)).collect()
}

fn ints(d: &Decoded, column: &str) -> Vec<Option<i64>> {
    let c = d.batch.column_by_name(column).expect("column");
    c.as_primitive::<Int64Type>().iter().collect()
}

fn bad(d: &Decoded) -> Vec<(u64, String)> {
    d.invalid
        .iter()
        .map(|i| (i.offset, i.reason.clone()))
        .collect()
}

#[test]
fn kafka_values_are_the_whole_value() {
    let s = SourceDef::stream("lines")
        .column("line", SqlType::Varchar)
        .format(ValueFormat::Kafka);
    let d = decode(
        &s,
        &[(None, b"To be, or not"), (None, b"\xff\xfe"), (None, b"")],
    );
    assert_eq!(
        strings(&d, "line"),
        [Some("To be, or not".into()), Some(String::new())]
    );
    assert_eq!(d.invalid.len(), 1);
    assert!(d.invalid[0].reason.contains("not UTF-8"), "{:?}", d.invalid);
    let s = SourceDef::stream("n")
        .column("celsius", SqlType::Double)
        .format(ValueFormat::Kafka);
    let d = decode(
        &s,
        &[
            (None, b"21.5"),
            (None, &2.0f64.to_be_bytes()),
            (None, b"warm"),
        ],
    );
    let c = d.batch.column(0).as_primitive::<Float64Type>();
    assert_eq!(c.values().to_vec(), [21.5, 2.0]);
    assert!(bad(&d)[0].1.contains("\"warm\" as DOUBLE"), "{:?}", bad(&d));
}

#[test]
fn delimited_fields_fill_the_value_columns_and_the_key_column_comes_from_the_key() {
    let s = SourceDef::stream("orders")
        .column("id", SqlType::Varchar)
        .column("product", SqlType::Varchar)
        .column("qty", SqlType::BigInt)
        .format(ValueFormat::Delimited { delimiter: ',' });
    let s = SourceDef {
        primary_key: Some("id".into()),
        ..s
    };
    let d = decode(
        &s,
        &[
            (Some(b"o1"), b"widget,3"),
            (Some(b"o2"), b"\"gadget, large\",\n"),
            (None, b"bolt,1\r\n"),
            (Some(b"o4"), b"one field"),
            (Some(b"o5"), b"nut,many"),
            (Some(b"o6"), b"a,1,2"),
        ],
    );
    assert_eq!(
        strings(&d, "id"),
        [Some("o1".into()), Some("o2".into()), None]
    );
    assert_eq!(
        strings(&d, "product"),
        [
            Some("widget".into()),
            Some("gadget, large".into()),
            Some("bolt".into())
        ]
    );
    assert_eq!(ints(&d, "qty"), [Some(3), None, Some(1)]);
    let reasons = bad(&d);
    assert_eq!(reasons.iter().map(|r| r.0).collect::<Vec<_>>(), [3, 4, 5]);
    assert!(reasons[0].1.contains("expected 2 fields"), "{reasons:?}");
    assert!(reasons[1].1.contains("\"many\" as BIGINT"), "{reasons:?}");
    // The metadata columns follow the kept rows.
    assert_eq!(ints(&d, "_offset"), [Some(0), Some(1), Some(2)]);
}

#[test]
fn key_formats_read_the_key_column_and_a_bad_key_is_invalid() {
    let stream = |format: KeyFormat| {
        let mut s = SourceDef::stream("s")
            .column("id", SqlType::BigInt)
            .column("v", SqlType::Varchar);
        s.primary_key = Some("id".into());
        let name = match format {
            KeyFormat::Kafka => "KAFKA",
            KeyFormat::Json => "JSON",
            KeyFormat::None => "NONE",
        };
        s.properties.push(("key_format".into(), name.into()));
        s
    };
    let records: [(Option<&[u8]>, &[u8]); 5] = [
        (Some(b"7"), br#"{"v":"a"}"#),
        (Some(br#"{"id":8}"#), br#"{"v":"b"}"#),
        (Some(b"x"), br#"{"v":"c"}"#),
        (None, br#"{"id":9,"v":"d"}"#),
        (Some(b"10"), br#"{"id":11,"v":"e"}"#),
    ];
    let d = decode(&stream(KeyFormat::Kafka), &records);
    assert_eq!(
        d.invalid.iter().map(|i| i.offset).collect::<Vec<_>>(),
        [1, 2]
    );
    // A JSON value's own field wins; the key fills in where it is missing.
    assert_eq!(ints(&d, "id"), [Some(7), Some(9), Some(11)]);
    assert_eq!(strings(&d, "v").len(), 3);
    let d = decode(&stream(KeyFormat::Json), &records);
    assert_eq!(d.invalid.iter().map(|i| i.offset).collect::<Vec<_>>(), [2]);
    assert_eq!(ints(&d, "id"), [Some(7), Some(8), Some(9), Some(11)]);
    let d = decode(&stream(KeyFormat::None), &records);
    assert!(d.invalid.is_empty());
    assert_eq!(ints(&d, "id"), [None, None, None, Some(9), Some(11)]);
}

#[test]
fn json_arrays_and_bare_values() {
    let s = SourceDef::stream("posts")
        .column("tags", SqlType::Array(ScalarType::Varchar))
        .column("n", SqlType::Array(ScalarType::BigInt));
    let d = decode(
        &s,
        &[
            (None, br#"{"tags":["a","b"],"n":[1,"2",null]}"#),
            (None, br#"{"tags":[],"n":null}"#),
            (None, br#"{"tags":"a"}"#),
            (None, br#"{"n":[1.5e40]}"#),
            (None, br#"{"tags":[["nested"]]}"#),
            (None, br#"{}"#),
        ],
    );
    assert_eq!(
        d.invalid.iter().map(|i| i.offset).collect::<Vec<_>>(),
        [2, 3, 4]
    );
    let tags = d.batch.column(0).as_list::<i32>();
    assert_eq!(tags.len(), 3);
    let first = tags.value(0);
    let first: Vec<_> = first.as_string::<i32>().iter().flatten().collect();
    assert_eq!(first, ["a", "b"]);
    assert_eq!(tags.value(1).len(), 0);
    assert!(tags.is_null(2));
    let n = d.batch.column(1).as_list::<i32>();
    let n0 = n.value(0);
    let n0: Vec<_> = n0.as_primitive::<Int64Type>().iter().collect();
    assert_eq!(n0, [Some(1), Some(2), None]);
    assert!(n.is_null(1));
    assert_eq!(
        d.batch.schema().field(0).data_type(),
        &crate::expr::arrow_type(SqlType::Array(ScalarType::Varchar))
    );

    let s = SourceDef::stream("names")
        .column("name", SqlType::Varchar)
        .format(ValueFormat::JsonUnwrapped);
    let d = decode(
        &s,
        &[
            (None, br#""ann""#),
            (None, b" 42 "),
            (None, br#"{"name":"x"}"#),
            (None, b""),
        ],
    );
    assert_eq!(strings(&d, "name"), [Some("ann".into()), Some("42".into())]);
    assert_eq!(d.invalid.len(), 2);
}

#[test]
fn a_tables_tombstones_are_rows_of_nulls_in_every_format() {
    let mut s = SourceDef::table("t", "id")
        .column("id", SqlType::Varchar)
        .column("v", SqlType::BigInt)
        .format(ValueFormat::Delimited { delimiter: ';' });
    s.properties.push(("key_format".into(), "KAFKA".into()));
    let records: Vec<Record> = [(b"a", &b"5"[..]), (b"a", &b""[..])]
        .iter()
        .map(|(k, v)| {
            let mut r = Record::new(v.to_vec(), 1);
            r.key = Some(k.to_vec());
            r
        })
        .collect();
    let batch = EncodedBatch::from_records(&records).expect("batch");
    let view = BatchView::frame(batch.as_bytes()).expect("frame");
    let views: Vec<(u32, RecordView<'_>)> =
        view.records().map(|r| (0, r.expect("record"))).collect();
    let d = SourceDecoder::new(&s)
        .expect("decoder")
        .keeping_tombstones()
        .decode(&views)
        .expect("decode");
    assert!(d.invalid.is_empty(), "{:?}", d.invalid);
    assert_eq!(d.tombstones, [1]);
    assert_eq!(strings(&d, "id"), [Some("a".into()), Some("a".into())]);
    assert_eq!(ints(&d, "v"), [Some(5), None]);
}
