//! Which kind of query a bare `SELECT` is, as ksqlDB decides it: a **pull query** — answered
//! once from current rows, then done — or a **push query**, which streams changes until it is
//! stopped (or `LIMIT n` rows were sent).
//!
//! - `EMIT CHANGES` (or `EMIT FINAL`) makes a push query.
//! - Without `EMIT`, a filter/projection of a TABLE or of a view that is a table (an
//!   aggregating view) is a pull query.
//! - Without `EMIT`, a filter/projection of a stream declared the ksqlDB way (`CREATE STREAM
//!   … WITH (kafka_topic=…)`) is a pull query too, as in ksqlDB since 0.23: the stream's
//!   records from its first to its current end, then done.
//! - Everything else stays a push query, as before: a SELECT over a Flink table (Flink has
//!   no `EMIT` and runs every SELECT continuously) or a stream view, and an aggregation,
//!   window or join, which only a continuous query can answer (ksqlDB would ask for `EMIT
//!   CHANGES` there; strata runs it, as it always has).
//!
//! A trailing `LIMIT n` (after `EMIT CHANGES`, as ksqlDB writes it, or before) ends either
//! kind after `n` rows.

use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::plan::PullQuery;
use crate::plan::{SourceDef, SourceKind, Statement};
use crate::tokens::positive;
use crate::tokens::{Cursor, is_kw};

/// The statement a bare SELECT in `toks` is: [`Statement::PullQuery`], [`Statement::Query`]
/// or [`Statement::LimitedQuery`].
///
/// # Errors
/// The query's planning errors; a `LIMIT` without a positive number.
pub(crate) fn query_statement(
    toks: &[TokenWithSpan],
    end: Location,
    catalog: &dyn Catalog,
) -> Result<Statement> {
    let (toks, limit) = split_limit(toks, end)?;
    let push = crate::select::plan_view(&toks, end, "query", catalog)?;
    let as_push = |plan| match limit {
        Some(limit) => Statement::LimitedQuery { plan, limit },
        None => Statement::Query(plan),
    };
    if has_emit(&toks) || push.is_ranked() {
        return Ok(as_push(push));
    }
    if declared_ksqldb_stream(&push.source) {
        if push.is_aggregating() || push.window.is_some() || push.join.is_some() {
            return Ok(as_push(push));
        }
        return Ok(Statement::PullQuery(Box::new(PullQuery {
            rows: push.clone(),
            push,
            limit,
        })));
    }
    if !push.reads_table() {
        return Ok(as_push(push));
    }
    let rows_of = AsRows {
        name: push.source.name.clone(),
        base: catalog,
    };
    let rows = crate::select::plan_view(&toks, end, "query", &rows_of)?;
    if rows.is_aggregating() || rows.window.is_some() || rows.join.is_some() || rows.is_ranked() {
        return Ok(as_push(push));
    }
    Ok(Statement::PullQuery(Box::new(PullQuery {
        rows,
        push,
        limit,
    })))
}

/// True for a stream bound to its topic by ksqlDB's `CREATE STREAM … WITH (kafka_topic=…)`
/// (not a Flink `'connector'` table, not a view): ksqlDB answers a bare SELECT over it once.
fn declared_ksqldb_stream(source: &SourceDef) -> bool {
    let has = |key: &str| source.properties.iter().any(|(k, _)| k == key);
    source.kind == SourceKind::Stream && has("kafka_topic") && !has("connector")
}

/// The tokens without a top-level `LIMIT n`, and `n`.
fn split_limit(toks: &[TokenWithSpan], end: Location) -> Result<(Vec<TokenWithSpan>, Option<u64>)> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth == 0 && is_kw(&t.token, "LIMIT") => {
                let mut c = Cursor::new(&toks[i + 1..], end);
                let n = positive(&mut c, "LIMIT")?;
                let mut rest = toks[..i].to_vec();
                rest.extend_from_slice(&toks[i + 2..]);
                return Ok((rest, Some(n)));
            }
            _ => {}
        }
    }
    Ok((toks.to_vec(), None))
}

/// True when the query says `EMIT CHANGES` or `EMIT FINAL` (outside parentheses).
fn has_emit(toks: &[TokenWithSpan]) -> bool {
    let mut depth = 0usize;
    toks.iter().enumerate().any(|(i, t)| {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth == 0
            && is_kw(&t.token, "EMIT")
            && toks
                .get(i + 1)
                .is_some_and(|n| is_kw(&n.token, "CHANGES") || is_kw(&n.token, "FINAL"))
    })
}

/// The catalog with one table (or view) read as the stream of its current rows: what a pull
/// query filters and projects.
struct AsRows<'a> {
    name: String,
    base: &'a dyn Catalog,
}

impl Catalog for AsRows<'_> {
    fn source(&self, name: &str) -> Option<SourceDef> {
        let mut source = self.base.source(name)?;
        if source.name == self.name {
            source.kind = SourceKind::Stream;
        }
        Some(source)
    }
}
