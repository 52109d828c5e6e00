//! The time functions: fields of a TIMESTAMP (in UTC: timestamps carry no zone) and a
//! TIMESTAMP as text.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, new_null_array};
use arrow::datatypes::{DataType, TimestampMillisecondType};

use crate::date_format::DatePattern;
use crate::error::{Error, Result};
use crate::plan::{Expr, Literal};
use crate::types::TS;

use super::entry::{ArgType, Arity, Call, ScalarFunction, returns_bigint, returns_varchar};
use super::value::Val;

use ArgType::{Timestamp, Varchar};

/// The time functions' registry entries.
pub(super) static FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "hour",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Timestamp],
        returns: returns_bigint,
        check: None,
        kernel: hour,
        signature: "`HOUR(ts)`, `EXTRACT(HOUR FROM ts)`",
        doc: "BIGINT 0–23: the hour of a TIMESTAMP, in UTC (timestamps carry no zone)",
    },
    ScalarFunction {
        name: "minute",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Timestamp],
        returns: returns_bigint,
        check: None,
        kernel: minute,
        signature: "`MINUTE(ts)`, `EXTRACT(MINUTE FROM ts)`",
        doc: "BIGINT 0–59: the minute of a TIMESTAMP",
    },
    ScalarFunction {
        name: "second",
        aliases: &[],
        arity: Arity::exactly(1),
        args: &[Timestamp],
        returns: returns_bigint,
        check: None,
        kernel: second,
        signature: "`SECOND(ts)`, `EXTRACT(SECOND FROM ts)`",
        doc: "BIGINT 0–59: the second of a TIMESTAMP",
    },
    ScalarFunction {
        name: "now",
        aliases: &["proctime", "current_timestamp", "localtimestamp"],
        arity: Arity::exactly(0),
        args: &[],
        returns: returns_timestamp,
        check: None,
        kernel: now,
        signature: "`NOW()`, `PROCTIME()`, `CURRENT_TIMESTAMP()` (or without `()`), `LOCALTIMESTAMP()`",
        doc: "TIMESTAMP: processing time — the wall-clock time (UTC) the row is computed, one value per batch; it never goes back within a run. Not deterministic: a replay computes other times (event time is `ROWTIME` or the source's timestamp column)",
    },
    ScalarFunction {
        name: "date_format",
        aliases: &[],
        arity: Arity::exactly(2),
        args: &[Timestamp, Varchar],
        returns: returns_varchar,
        check: Some(check_date_format),
        kernel: date_format,
        signature: "`DATE_FORMAT(ts, pattern)`",
        doc: "VARCHAR: the TIMESTAMP `ts` as text in UTC, with a Java `SimpleDateFormat` pattern as in Flink: `DATE_FORMAT(ts, 'yyyy-MM-dd')` → `2024-03-05`, `'HH:mm'` → `07:08`. Letters: `yyyy` (`yy` two digits), `MM`/`M`, `MMM`/`MMMM` (month name), `dd`/`d`, `HH`/`H` (0–23), `hh`/`h` (1–12), `mm`/`m`, `ss`/`s`, `a` (AM/PM), `E`/`EEEE` (day name); text in single quotes is literal (`''` is a quote), other non-letters are literal. `pattern` must be a constant and is checked when the view is created: any other letter (`SSS`, `YYYY`, `z`, …) is an error naming it. Group by a day with `GROUP BY DATE_FORMAT(ts, 'yyyy-MM-dd')`",
    },
];

fn returns_timestamp(_: &super::ArgTypes<'_>) -> Result<DataType> {
    Ok(TS)
}

/// Processing time, as one constant for the batch (every row of a batch is computed at once).
fn now(_: Call<'_>) -> Result<Val> {
    let now =
        arrow::array::TimestampMillisecondArray::from(vec![crate::proctime::processing_time_ms()]);
    Ok(Val::scalar(Arc::new(now)))
}

fn hour(call: Call<'_>) -> Result<Val> {
    time_field(call, 3_600_000, 24)
}

fn minute(call: Call<'_>) -> Result<Val> {
    time_field(call, 60_000, 60)
}

fn second(call: Call<'_>) -> Result<Val> {
    time_field(call, 1_000, 60)
}

/// The number of whole `unit`s (in ms) of a time, modulo `modulus`.
fn time_field(call: Call<'_>, unit: i64, modulus: i64) -> Result<Val> {
    call.arg(0, &TS)?.map(|a| {
        let out: Int64Array =
            arrow::compute::unary(a.as_primitive::<TimestampMillisecondType>(), |ms: i64| {
                ms.div_euclid(unit).rem_euclid(modulus)
            });
        Ok(Arc::new(out))
    })
}

fn date_format(call: Call<'_>) -> Result<Val> {
    if !call.args[1].scalar {
        return Err(Error::plan(
            "the pattern (argument 2) of DATE_FORMAT() must be a constant string",
        ));
    }
    let pattern = call.arg(1, &DataType::Utf8)?;
    let pattern = pattern.array.as_string::<i32>();
    let ts = call.arg(0, &TS)?;
    if pattern.is_null(0) {
        return Ok(Val {
            array: new_null_array(&DataType::Utf8, ts.array.len()),
            scalar: ts.scalar,
        });
    }
    let pattern = DatePattern::parse(pattern.value(0))?;
    ts.map(|a| {
        let text = pattern
            .format(a.as_primitive())
            .map_err(|_| Error::Eval("DATE_FORMAT(): chrono cannot format a time".into()))?;
        Ok(Arc::new(text))
    })
}

/// The pattern of `DATE_FORMAT(ts, pattern)`, checked when the view is planned: a constant
/// string (or NULL) of supported letters.
fn check_date_format(args: &[Expr]) -> Result<()> {
    match args.get(1) {
        Some(Expr::Literal(Literal::String(p))) => DatePattern::parse(p).map(|_| ()),
        Some(Expr::Literal(Literal::Null)) | None => Ok(()),
        Some(_) => Err(Error::plan(
            "the pattern (argument 2) of DATE_FORMAT() must be a constant string",
        )),
    }
}
