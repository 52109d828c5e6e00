//! Processing time: the wall-clock time a record is read, as Flink's `PROCTIME()` attribute
//! (`pt AS PROCTIME()` in a source's columns) and the `NOW()` / `PROCTIME()` /
//! `CURRENT_TIMESTAMP` functions give it. One clock serves both, and it never goes back
//! within a process, so a view windowed on processing time never sees a late record: each
//! record's time is at or after every time the watermark was made from.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::Result;
use crate::plan::{ColumnDef, SqlType};
use crate::tokens::{Cursor, sql_err};

static LAST: AtomicI64 = AtomicI64::new(i64::MIN);

/// Now, in ms since the epoch, never before a time this function returned earlier (a clock
/// stepped back holds at the last time until it catches up).
pub fn processing_time_ms() -> i64 {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let before = LAST.fetch_max(wall, Ordering::AcqRel);
    before.max(wall)
}

/// A computed column of a source, `name AS PROCTIME()` — the only one strata has.
///
/// # Errors
/// Any other computed column, saying where to compute it instead.
pub(crate) fn computed_column(c: &mut Cursor<'_>) -> Result<ColumnDef> {
    let name = c.ident("a column name")?;
    c.expect_kw("AS", "")?;
    let loc = c.loc();
    let proctime = c.eat_kw("PROCTIME")
        && c.eat(&sqlparser::tokenizer::Token::LParen)
        && c.eat(&sqlparser::tokenizer::Token::RParen)
        && c.at_end();
    if !proctime {
        return Err(sql_err(
            loc,
            format!(
                "computed column {name} is not supported: the one computed column is `{name} AS PROCTIME()` (processing time); compute other values in the view's SELECT"
            ),
        ));
    }
    Ok(ColumnDef {
        name,
        data_type: SqlType::Timestamp,
    })
}
