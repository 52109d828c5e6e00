//! The statements that do not define anything, read token by token: `SHOW`/`LIST`,
//! `DESCRIBE [EXTENDED]`, `DROP … [DELETE TOPIC]`, `PRINT`, `SET`, `TERMINATE` and `EXPLAIN`
//! (ksqlDB's session commands; the data they compile to is in [`crate::commands`]).

use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::catalog::Catalog;
use crate::commands::{PrintSpec, SESSION_PROPERTIES, ShowKind, TerminateTarget};
use crate::error::Result;
use crate::plan::ExplainTarget;
use crate::plan::Statement;
use crate::tokens::{Cursor, is_kw, positive, sql_err};

/// Parses a `CREATE …` statement (the parser's own, handed down for `EXPLAIN CREATE … AS`).
pub(crate) type ParseCreate<'a> = dyn Fn(&[TokenWithSpan], Location) -> Result<Statement> + 'a;

/// The statement in `toks` when it is one of this module's, else `None`.
///
/// # Errors
/// A malformed command, with its line and column and what to write.
pub(crate) fn command(
    toks: &[TokenWithSpan],
    end: Location,
    catalog: &dyn Catalog,
    parse_create: &ParseCreate<'_>,
) -> Result<Option<Statement>> {
    let mut c = Cursor::new(toks, end);
    let Some(first) = c.peek().map(|t| t.token.clone()) else {
        return Ok(None);
    };
    let statement = if is_kw(&first, "SHOW") || is_kw(&first, "LIST") {
        c.next();
        show(&mut c)?
    } else if is_kw(&first, "DESCRIBE") || is_kw(&first, "DESC") {
        c.next();
        let mut extended = c.eat_kw("EXTENDED");
        let name = c.object_name("the name of a stream, table or view")?;
        extended |= c.eat_kw("EXTENDED");
        c.expect_end("DESCRIBE")?;
        Statement::Describe { name, extended }
    } else if is_kw(&first, "DROP") {
        c.next();
        drop_statement(&mut c)?
    } else if is_kw(&first, "PRINT") {
        c.next();
        Statement::Print(print(&mut c)?)
    } else if is_kw(&first, "SET") {
        c.next();
        set(&mut c)?
    } else if is_kw(&first, "TERMINATE") {
        c.next();
        terminate(&mut c)?
    } else if is_kw(&first, "EXPLAIN") {
        c.next();
        explain(&mut c, catalog, parse_create)?
    } else {
        return Ok(None);
    };
    Ok(Some(statement))
}

fn show(c: &mut Cursor<'_>) -> Result<Statement> {
    let loc = c.loc();
    c.eat_kw("ALL"); // ksqlDB's `SHOW ALL TOPICS` (internal topics too: strata has none hidden)
    let kinds = [
        ("STREAMS", ShowKind::Streams),
        ("TABLES", ShowKind::Tables),
        ("VIEWS", ShowKind::Views),
        ("SOURCES", ShowKind::Sources),
        ("QUERIES", ShowKind::Queries),
        ("TOPICS", ShowKind::Topics),
    ];
    let Some(kind) = kinds
        .iter()
        .find(|(k, _)| c.eat_kw(k))
        .map(|(_, kind)| *kind)
    else {
        return Err(sql_err(
            loc,
            format!(
                "expected SHOW STREAMS, TABLES, VIEWS, SOURCES, QUERIES or TOPICS, {}",
                c.found()
            ),
        ));
    };
    c.eat_kw("EXTENDED");
    c.expect_end("SHOW")?;
    Ok(Statement::Show(kind))
}

fn drop_statement(c: &mut Cursor<'_>) -> Result<Statement> {
    let kind_loc = c.loc();
    if !(c.eat_kw("STREAM") || c.eat_kw("TABLE") || c.eat_kw("VIEW")) {
        return Err(sql_err(
            kind_loc,
            format!("expected STREAM, TABLE or VIEW after DROP, {}", c.found()),
        ));
    }
    let if_exists = c.eat_kws(&["IF", "EXISTS"]);
    let name = c.object_name("a name to drop")?;
    let delete_topic = c.eat_kws(&["DELETE", "TOPIC"]);
    c.eat_kw("CASCADE");
    c.expect_end("DROP")?;
    Ok(Statement::Drop {
        name,
        if_exists,
        delete_topic,
    })
}

/// `PRINT topic [FROM BEGINNING] [INTERVAL n | SAMPLE n] [LIMIT n]`, after PRINT.
fn print(c: &mut Cursor<'_>) -> Result<PrintSpec> {
    let loc = c.loc();
    let topic = match c.peek().map(|t| &t.token) {
        Some(Token::SingleQuotedString(s)) | Some(Token::DoubleQuotedString(s)) => {
            c.next();
            s.clone()
        }
        _ => name_until(c, &["FROM", "INTERVAL", "SAMPLE", "LIMIT"]),
    };
    if topic.is_empty() {
        return Err(sql_err(
            loc,
            format!(
                "expected a topic after PRINT (`PRINT 'page_views' FROM BEGINNING LIMIT 10`), {}",
                c.found()
            ),
        ));
    }
    let mut spec = PrintSpec {
        topic,
        from_beginning: false,
        interval: 1,
        limit: None,
    };
    if c.eat_kw("FROM") {
        c.expect_kw("BEGINNING", " (write `PRINT topic FROM BEGINNING`)")?;
        spec.from_beginning = true;
    }
    if c.eat_kw("INTERVAL") || c.eat_kw("SAMPLE") {
        spec.interval = positive(c, "INTERVAL")?;
    }
    if c.eat_kw("LIMIT") {
        spec.limit = Some(positive(c, "LIMIT")?);
    }
    c.expect_end("PRINT")?;
    Ok(spec)
}

/// Tokens up to one of `stops` (or the end) glued into one name: topic names and query ids
/// may hold `-` and `.`, which the tokenizer splits.
fn name_until(c: &mut Cursor<'_>, stops: &[&str]) -> String {
    let mut name = String::new();
    while let Some(t) = c.peek() {
        if stops.iter().any(|s| is_kw(&t.token, s)) {
            break;
        }
        match &t.token {
            Token::Word(w) => name.push_str(&w.value),
            other => name.push_str(&other.to_string()),
        }
        c.next();
    }
    name
}

/// `SET 'property' = 'value'`, after SET.
fn set(c: &mut Cursor<'_>) -> Result<Statement> {
    let loc = c.loc();
    let known = || {
        SESSION_PROPERTIES
            .iter()
            .map(|(p, values)| format!("'{p}' ({})", values.join(" or ")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let property = match c.next().map(|t| &t.token) {
        Some(Token::SingleQuotedString(s)) | Some(Token::DoubleQuotedString(s)) => s.to_lowercase(),
        _ => {
            return Err(sql_err(
                loc,
                format!(
                    "expected a quoted property after SET, e.g. `SET 'auto.offset.reset' = 'earliest';` (strata knows {})",
                    known()
                ),
            ));
        }
    };
    let Some((_, values)) = SESSION_PROPERTIES.iter().find(|(p, _)| *p == property) else {
        return Err(sql_err(
            loc,
            format!(
                "unknown property '{property}': SET knows {}; anything else would be ignored, so it is refused",
                known()
            ),
        ));
    };
    c.expect(
        &Token::Eq,
        " (write `SET 'auto.offset.reset' = 'earliest'`)",
    )?;
    let vloc = c.loc();
    let value = match c.next().map(|t| &t.token) {
        Some(Token::SingleQuotedString(s)) | Some(Token::DoubleQuotedString(s)) => s.to_lowercase(),
        Some(Token::Word(w)) => w.value.to_lowercase(),
        _ => String::new(),
    };
    if !values.contains(&value.as_str()) {
        return Err(sql_err(
            vloc,
            format!(
                "'{property}' is {}, not {value:?}",
                values
                    .iter()
                    .map(|v| format!("'{v}'"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    c.expect_end("SET")?;
    Ok(Statement::Set { property, value })
}

/// `TERMINATE id` / `TERMINATE ALL` (ksqlDB also writes `TERMINATE QUERY id`), after TERMINATE.
fn terminate(c: &mut Cursor<'_>) -> Result<Statement> {
    let loc = c.loc();
    if c.eat_kw("ALL") {
        c.expect_end("TERMINATE ALL")?;
        return Ok(Statement::Terminate(TerminateTarget::All));
    }
    if c.peek_kw("QUERY") && c.peek_at(1).is_some() {
        c.next();
    }
    let at = c.loc();
    let id = name_until(c, &[]);
    if id.is_empty() {
        return Err(sql_err(
            loc,
            "expected a query id after TERMINATE (SHOW QUERIES lists them), or ALL",
        ));
    }
    Ok(Statement::Terminate(TerminateTarget::Query {
        id,
        at: (at.line, at.column),
    }))
}

/// `EXPLAIN SELECT …`, `EXPLAIN CREATE … AS SELECT …` or `EXPLAIN name`, after EXPLAIN.
fn explain(
    c: &mut Cursor<'_>,
    catalog: &dyn Catalog,
    parse_create: &ParseCreate<'_>,
) -> Result<Statement> {
    let loc = c.loc();
    let rest = &c.toks[c.pos..];
    let Some(first) = rest.first() else {
        return Err(sql_err(
            loc,
            "expected a query, a view or a query id after EXPLAIN (`EXPLAIN SELECT …`, `EXPLAIN page_view_counts`)",
        ));
    };
    if is_kw(&first.token, "SELECT") || first.token == Token::LParen {
        let plan = crate::select::plan_view(rest, c.end, "explain", catalog)?;
        return Ok(Statement::Explain(ExplainTarget::Plan(Box::new(plan))));
    }
    if is_kw(&first.token, "CREATE") {
        let stmt = parse_create(rest, c.end)?;
        return match stmt {
            Statement::CreateView { plan, .. } => {
                Ok(Statement::Explain(ExplainTarget::Plan(Box::new(plan))))
            }
            _ => Err(sql_err(
                loc,
                "EXPLAIN explains queries: a CREATE STREAM or TABLE without AS SELECT declares a source (DESCRIBE shows it)",
            )),
        };
    }
    let name = name_until(c, &[]);
    Ok(Statement::Explain(ExplainTarget::Named(name)))
}
