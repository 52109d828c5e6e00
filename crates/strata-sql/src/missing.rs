//! Errors for what tutorials write that strata does not do yet. Each names the feature and
//! the nearest thing that works, at the line and column of its first token, before the query
//! reaches sqlparser (whose own message would be a confusing "expected …").

use sqlparser::tokenizer::{Token, TokenWithSpan};

use crate::error::Result;
use crate::tokens::{is_kw, sql_err};

/// Fails on the first construct of `toks` that strata does not support yet.
///
/// # Errors
/// [`crate::Error::Sql`] naming the construct and what to write instead.
pub(crate) fn check(toks: &[TokenWithSpan]) -> Result<()> {
    for (i, t) in toks.iter().enumerate() {
        let next_is = |n: usize, kw: &str| toks.get(i + n).is_some_and(|x| is_kw(&x.token, kw));
        let message = if is_kw(&t.token, "WINDOW") && next_is(1, "SLIDING") {
            "WINDOW SLIDING is not supported yet: use WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 10 SECONDS) (Flink: HOP), whose windows slide by a fixed step"
        } else if is_kw(&t.token, "FOR") && next_is(1, "SYSTEM_TIME") {
            "FOR SYSTEM_TIME AS OF (a temporal join) is not supported yet (issue 19): join the stream to a table with `JOIN t ON s.k = t.pk`, which looks up the table's current row when each record arrives"
        } else if is_kw(&t.token, "MATCH_RECOGNIZE") {
            "MATCH_RECOGNIZE (pattern matching) is not supported yet: count the events of a pattern per key in a window, e.g. `COUNT(*) FILTER (WHERE status = 'failed')` with WINDOW SESSION or HOPPING, and filter with HAVING"
        } else if is_kw(&t.token, "OVER") && over_aggregation(&toks[i + 1..]) {
            "OVER aggregations (ROWS/RANGE BETWEEN … PRECEDING) are not supported yet: aggregate over a sliding window with WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 1 MINUTE) or HOP(…), or rank rows per window with a window Top-N (docs/sql.md)"
        } else {
            continue;
        };
        return Err(sql_err(t.span.start, message));
    }
    Ok(())
}

/// True when the tokens after `OVER` are a frame (`(… ROWS|RANGE BETWEEN …)`) or a named
/// window (`OVER w`): an OVER aggregation, not a ranking.
fn over_aggregation(after: &[TokenWithSpan]) -> bool {
    match after.first().map(|t| &t.token) {
        Some(Token::LParen) => {
            let mut depth = 0usize;
            for t in after {
                match t.token {
                    Token::LParen => depth += 1,
                    Token::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            return false;
                        }
                    }
                    _ if depth == 1 && (is_kw(&t.token, "ROWS") || is_kw(&t.token, "RANGE")) => {
                        return true;
                    }
                    _ => {}
                }
            }
            false
        }
        Some(Token::Word(_)) => true,
        _ => false,
    }
}
