//! SQL: `POST /v1/sql` runs statements; a text ending in a push query (`SELECT … [EMIT
//! CHANGES]`) or a `PRINT` streams its rows back as NDJSON. Statements run in order with one
//! session (`SET` applies to the statements after it); a pull query is answered by the
//! serving layer, in its place among them.
//!
//! Engine calls block (locks held by view threads, file I/O for catalog changes): they run on
//! the blocking pool. The engine creates and deletes topics in the log itself, so after each
//! call that may have done so the node's topic index is brought up to date
//! ([`Catalog::sync`]).
//!
//! A continuous query is a temporary view owned by its HTTP response: when the response
//! ends — the client went away, `limit` rows were sent, the node shuts down — a guard drops
//! the view with its topics.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use strata_engine::plan::Statement;
use strata_engine::sql::PullQuery;
use strata_log::Topic;
use strata_views::Session;
use strata_views::engine::Engine;
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{
    MAX_LIMIT, Params, RawBody, RawQuery, blocking, body_bytes, json_sorted, parse_json_body,
};
use super::sql_print::{Print, print_response};
use super::state::AppState;
use crate::api::ErrorBody;
use crate::api::sql::{Outcome, SqlRequest, SqlResponse};
use crate::catalog::{APPEND_POLL, Catalog};
use crate::error::{Error, Result};

/// The route of SQL.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sql))
}

/// Run SQL: one or more statements separated by `;` (docs/sql.md).
///
/// A text ending in a push query (`SELECT … [EMIT CHANGES] [LIMIT n]`) starts a continuous
/// query and answers with its rows as NDJSON until the client disconnects or `limit` (or
/// `LIMIT n`) rows were sent; its temporary view is then dropped. A text ending in `PRINT
/// topic …` answers with the topic's records as NDJSON. Otherwise the answer is
/// `{"outcomes": [...]}`, one per statement; a pull query's outcome holds its rows.
#[utoipa::path(post, path = "/v1/sql", tag = "sql",
    params(("limit" = Option<u64>, Query, description = "End a continuous query (or `PRINT`) after this many rows; answer a pull query with at most this many.")),
    request_body(content(
        (SqlRequest = "application/json"),
        (String = "text/plain"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The outcomes (a pull query's: `rows`), or the rows of a push query or a PRINT, one JSON object per line (header `strata-query` names a push query's temporary view, its id; `strata-outcomes` holds the outcomes of the statements before it, as JSON). A query that fails while streaming ends with a line `{\"error\": …}`.", content(
            (SqlResponse = "application/json"),
            (Object = "application/x-ndjson"),
        )),
        (status = 400, description = "The SQL does not parse (`sql_error`, with `line` and `column`: also an unknown SET property, a feature not supported yet), cannot be planned or run (`plan_error`, `unknown_name`: also TERMINATE of an unknown query id), a pull query asks for what the rows lack (`bad_query`), or holds a push query or PRINT that is not the last statement (`one_query`).", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token.", body = ErrorBody),
        (status = 404, description = "A statement names an unknown stream, table, view or topic (`unknown_source`, `unknown_view`).", body = ErrorBody),
        (status = 503, description = "A pull query reads a view that is not running (terminated or failed).", body = ErrorBody),
    ))]
async fn sql(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: RawQuery,
    body: RawBody,
) -> Result<Response> {
    let params = Params::new(query, &["limit"])?;
    let limit = params.u64_in("limit", MAX_LIMIT)?;
    let body = body_bytes(body, state.config.max_body_bytes)?;
    let text = sql_text(&headers, &body)?;
    let engine = Arc::clone(&state.engine);
    let catalog = Arc::clone(&state.catalog);
    let outcomes = blocking(move || {
        let statements = check_statements(&engine, &text)?;
        let outcomes = run_statements(&engine, statements, limit);
        // Even a failed text may have run (and created topics for) earlier statements.
        catalog.sync();
        outcomes
    })
    .await?;
    let earlier = outcomes.len().saturating_sub(1);
    match outcomes.last() {
        Some(Outcome::QueryStarted {
            name,
            changelog,
            limit: sql_limit,
        }) => {
            let limit = tighter(limit, *sql_limit);
            let (name, changelog) = (name.clone(), changelog.clone());
            query_response(&state, name, &changelog, limit, &outcomes[..earlier])
        }
        Some(Outcome::PrintStarted {
            topic,
            from_beginning,
            interval,
            limit: sql_limit,
        }) => {
            let print = Print {
                topic: topic.clone(),
                from_beginning: *from_beginning,
                interval: *interval,
                limit: tighter(limit, *sql_limit),
            };
            let mut r = print_response(&state, print)?;
            set_outcomes_header(&mut r, &outcomes[..earlier]);
            Ok(r)
        }
        _ => json_sorted(&SqlResponse { outcomes }),
    }
}

/// The smaller of the request's `limit` and the statement's `LIMIT`, either may be absent.
fn tighter(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Runs `statements` in order with one session, stopping at the first that fails: the
/// engine runs each, the serving layer answers pull queries (at most `limit` rows each, the
/// request's `limit` parameter).
fn run_statements(
    engine: &Engine,
    statements: Vec<Statement>,
    limit: Option<u64>,
) -> Result<Vec<Outcome>> {
    let mut session = Session::default();
    let mut outcomes = Vec::with_capacity(statements.len());
    for statement in statements {
        let outcome = match statement {
            Statement::PullQuery(mut q) => {
                q.limit = tighter(q.limit, limit);
                pull_outcome(engine, &q)?
            }
            other => Outcome::try_from(engine.run(other, &mut session)?)
                .map_err(|e| Error::Unavailable(format!("cannot write the outcomes: {e}")))?,
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// A pull query's rows, as its outcome.
fn pull_outcome(engine: &Engine, q: &PullQuery) -> Result<Outcome> {
    let answer = strata_serving::pull(engine, q)?;
    let rows = answer
        .rows
        .into_iter()
        .map(|row| {
            serde_json::from_slice(&row)
                .map_err(|e| Error::Unavailable(format!("a pull query's row is not JSON: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Outcome::Rows {
        source: q.rows.source.name.clone(),
        columns: answer.columns,
        count: rows.len(),
        rows,
    })
}

/// The SQL of a request: `{"sql": "..."}` when the body is JSON, else the body as text.
fn sql_text(headers: &HeaderMap, body: &[u8]) -> Result<String> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // SQL never starts with `{`, so a JSON object is recognised without a content type.
    let looks_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let text = if json_type || looks_json {
        parse_json_body::<SqlRequest>(
            body,
            r#"{"sql": "SELECT * FROM page_views;"} (or send the SQL itself as text/plain)"#,
        )?
        .sql
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| {
            Error::bad_request("bad_body", "the SQL text is not UTF-8; send it as UTF-8")
        })?
    };
    if text.trim().is_empty() {
        return Err(Error::bad_request(
            "bad_body",
            r#"no SQL in the request: send {"sql": "..."} or the SQL text itself"#,
        ));
    }
    Ok(text)
}

/// Parses `text`, rejecting before anything runs a text whose push query or PRINT is not
/// its last statement: its rows are the response, so nothing may come after it.
fn check_statements(engine: &Engine, text: &str) -> Result<Vec<Statement>> {
    // The engine resolves views too (a view may read another view).
    let statements = strata_engine::sql::parse(text, engine)?;
    let streams = |s: &Statement| {
        matches!(
            s,
            Statement::Query(_) | Statement::LimitedQuery { .. } | Statement::Print(_)
        )
    };
    let queries = statements.iter().filter(|s| streams(s)).count();
    let last_is_query = statements.last().is_some_and(streams);
    if queries > 1 || (queries == 1 && !last_is_query) {
        return Err(Error::bad_request(
            "one_query",
            "a request may run one push query (SELECT … EMIT CHANGES, or a SELECT over a stream) or PRINT, as its last statement (its rows stream back as the response); send the others in requests of their own, or make them views with CREATE TABLE v AS SELECT …",
        ));
    }
    Ok(statements)
}

/// Streams a continuous query's rows (its changelog's values, one JSON object per line).
/// Headers name the temporary view (`strata-query`) and the statements that ran before it
/// (`strata-outcomes`, JSON).
fn query_response(
    state: &AppState,
    name: String,
    changelog: &str,
    limit: Option<u64>,
    earlier: &[Outcome],
) -> Result<Response> {
    let guard = QueryGuard {
        engine: Arc::clone(&state.engine),
        catalog: Arc::clone(&state.catalog),
        name: name.clone(),
    };
    let topic = state.catalog.log().topic(changelog)?;
    let st = QueryStream {
        guard,
        topic,
        next: 0,
        remaining: limit,
        shutdown: state.shutdown.clone(),
        done: false,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if st.done || st.remaining == Some(0) || *st.shutdown.borrow() {
                return None;
            }
            let (topic, next) = (Arc::clone(&st.topic), st.next);
            let max = st
                .remaining
                .unwrap_or(u64::MAX)
                .min(strata_serving::TAIL_BATCH);
            let engine = Arc::clone(&st.guard.engine);
            let view = st.guard.name.clone();
            let read = blocking(move || {
                let rows = strata_serving::read_rows(&topic, next, max)?;
                if rows.is_empty() {
                    if let Some(failure) = engine.failure(&view) {
                        return Err(Error::Unavailable(format!("the query stopped: {failure}")));
                    }
                    // TERMINATE dropped the query's view: the response ends.
                    if engine.plan(&view).is_none() {
                        return Ok(None);
                    }
                }
                Ok(Some(rows))
            })
            .await;
            match read {
                Ok(None) => return None,
                Ok(Some(rows)) if !rows.is_empty() => {
                    let mut out = Vec::with_capacity(rows.iter().map(|r| r.1.len() + 1).sum());
                    for (offset, value) in &rows {
                        out.extend_from_slice(value);
                        out.push(b'\n');
                        st.next = offset + 1;
                    }
                    st.remaining = st.remaining.map(|r| r.saturating_sub(rows.len() as u64));
                    return Some((Ok::<_, Infallible>(Bytes::from(out)), st));
                }
                Ok(_) => {}
                Err(e) => {
                    st.done = true;
                    let line = e.stream_line();
                    return Some((Ok(Bytes::from(format!("{line}\n"))), st));
                }
            }
            // The view thread appends to the log directly: look again shortly.
            tokio::select! {
                _ = st.shutdown.changed() => return None,
                () = tokio::time::sleep(APPEND_POLL) => {},
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert("strata-query", v);
    }
    set_outcomes_header(&mut r, earlier);
    Ok(r)
}

/// Puts the outcomes of the statements before a streaming one in the `strata-outcomes` header.
fn set_outcomes_header(r: &mut Response, earlier: &[Outcome]) {
    if !earlier.is_empty()
        && let Ok(text) = serde_json::to_string(earlier)
        && let Ok(v) = HeaderValue::from_str(&ascii_json(&text))
    {
        r.headers_mut().insert("strata-outcomes", v);
    }
}

struct QueryStream {
    guard: QueryGuard,
    topic: Arc<Topic>,
    next: u64,
    remaining: Option<u64>,
    shutdown: watch::Receiver<bool>,
    done: bool,
}

/// Drops a continuous query's temporary view when its response ends, however it ends.
struct QueryGuard {
    engine: Arc<Engine>,
    catalog: Arc<Catalog>,
    name: String,
}

impl Drop for QueryGuard {
    fn drop(&mut self) {
        let engine = Arc::clone(&self.engine);
        let catalog = Arc::clone(&self.catalog);
        let name = std::mem::take(&mut self.name);
        let drop_view = move || {
            match engine.drop_view(&name) {
                Ok(()) | Err(strata_engine::Error::Unknown { .. }) => {}
                Err(e) => {
                    tracing::warn!(query = %name, error = %e, "cannot drop a finished continuous query; the next start drops it")
                }
            }
            catalog.sync();
        };
        // Stopping the view joins its thread: not on an async worker.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(drop_view);
            }
            Err(_) => drop_view(),
        }
    }
}

/// JSON text with every non-ASCII character escaped, so it fits in a header.
fn ascii_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn outcomes_fit_in_a_header() {
        let text = ascii_json(r#"{"name":"vüe","x":"😀"}"#);
        assert!(text.is_ascii());
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["name"], "vüe");
        assert_eq!(back["x"], "😀");
    }

    #[test]
    fn sql_comes_as_json_or_text() {
        let mut h = HeaderMap::new();
        assert_eq!(sql_text(&h, b"SELECT 1").unwrap(), "SELECT 1");
        assert_eq!(
            sql_text(&h, br#" {"sql": "SHOW VIEWS"}"#).unwrap(),
            "SHOW VIEWS"
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(sql_text(&h, br#"{"sql": "x", "extra": 1}"#).is_err());
        assert!(sql_text(&HeaderMap::new(), b"  ").is_err());
    }
}
