//! The SQL front end: ksqlDB- and Flink-flavoured SQL text → [`Statement`]s with compiled
//! [`ViewPlan`](crate::plan::ViewPlan)s.
//!
//! sqlparser's tokenizer splits the text (keeping every token's line and column). Statement
//! heads that sqlparser does not know — `CREATE STREAM`, `CREATE TABLE … WITH (…)` with
//! `WATERMARK FOR` — are read here, token by token (ksqlDB's commands, `SHOW`, `DESCRIBE`,
//! `PRINT`, … in `statements`; whether a SELECT is a pull or a push query in `pull`). In queries, a
//! pre-pass ([`window`]) lifts out the streaming clauses (`WINDOW TUMBLING (…)`, `EMIT …`,
//! `TABLE(TUMBLE(…))`) and hands sqlparser the plain SQL that remains, with the original token
//! locations, so its errors still point at the user's text. [`query`] resolves names against
//! the catalog and plans the SELECT. The dialect is documented in `docs/sql.md`.

use std::collections::HashMap;

use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::plan::{
    ColumnDef, KeyFormat, ServingMode, SourceDef, SourceKind, SqlType, Statement, ViewPlan,
};
use crate::select::plan_view;
use crate::tokens::{
    Cursor, Stmt, TYPE_HINT, is_kw, split_commas, split_statements, sql_err, sql_type_named,
    tokenize,
};
use crate::{formats, sink, statements, window};

/// How a view declared earlier in the same text is read by the statements after it
/// (`FROM other_view`): the source its output is, or `None` when its output cannot be typed.
/// The engine knows this (it depends on the operators' output schemas), so it is passed in.
pub type ViewAsSource<'a> = &'a dyn Fn(&ViewPlan) -> Option<SourceDef>;

/// Parses and plans `sql`, one or more `;`-separated statements, where a view declared in the
/// text is not a source of the statements after it (use [`parse_with`] for that).
///
/// # Errors
/// As [`parse_with`].
pub fn parse(sql: &str, catalog: &dyn Catalog) -> Result<Vec<Statement>> {
    parse_with(sql, catalog, &|_| None)
}

/// Parses and plans `sql`, one or more `;`-separated statements. A source declared by an
/// earlier statement of the same text (a `CREATE STREAM`/`TABLE`, or a view, as
/// `view_as_source` reads it) is visible to the later ones.
///
/// # Errors
/// [`Error::Sql`] (line, column, what to write instead) for text that does not parse or uses
/// an unsupported construct; [`Error::Plan`] for unknown columns and type errors;
/// [`Error::Unknown`] for a stream or table neither in `catalog` nor declared earlier.
pub fn parse_with(
    sql: &str,
    catalog: &dyn Catalog,
    view_as_source: ViewAsSource<'_>,
) -> Result<Vec<Statement>> {
    let tokens = tokenize(sql)?;
    let mut declared: HashMap<String, SourceDef> = HashMap::new();
    let mut out = Vec::new();
    for stmt in split_statements(tokens) {
        let scope = Layered {
            declared: &declared,
            base: catalog,
        };
        let statement = parse_statement(stmt, &scope)?;
        if let Statement::CreateSource { source, .. } = &statement {
            declared.insert(source.name.clone(), source.clone());
        }
        // A view is a source of the statements after it (`FROM other_view`).
        if let Statement::CreateView { plan, .. } = &statement
            && let Some(source) = view_as_source(plan)
        {
            declared.insert(source.name.clone(), source);
        }
        out.push(statement);
    }
    Ok(out)
}

/// Sources declared earlier in the text, in front of the caller's catalog.
struct Layered<'a> {
    declared: &'a HashMap<String, SourceDef>,
    base: &'a dyn Catalog,
}

impl Catalog for Layered<'_> {
    fn source(&self, name: &str) -> Option<SourceDef> {
        self.declared
            .get(name)
            .cloned()
            .or_else(|| self.base.source(name))
    }

    fn kafka_listener(&self) -> Option<String> {
        self.base.kafka_listener()
    }
}
fn parse_statement(stmt: Stmt, catalog: &dyn Catalog) -> Result<Statement> {
    let toks = &stmt.tokens;
    let mut c = Cursor::new(toks, stmt.end);
    let first = c.peek().map(|t| t.token.clone()).unwrap_or(Token::EOF);
    // EXPLAIN CREATE … AS parses a CREATE: handed down, so `statements` need not import us.
    let parse_create = |toks: &[TokenWithSpan], end: Location| parse_one(toks, end, catalog);
    if let Some(command) = statements::command(toks, stmt.end, catalog, &parse_create)? {
        return Ok(command);
    }
    if is_kw(&first, "CREATE") {
        return create(&mut c, catalog);
    }
    if is_kw(&first, "SELECT") || first == Token::LParen {
        return crate::pull::query_statement(toks, stmt.end, catalog);
    }
    if is_kw(&first, "INSERT") {
        return sink::insert(&mut c, catalog, &|toks, end| {
            plan_view(toks, end, "insert", catalog)
        });
    }
    let loc = c.loc();
    let hint = if is_kw(&first, "WITH") {
        "WITH (common table expressions) is not supported: create a view and select from its source instead"
    } else {
        "expected CREATE, SELECT, INSERT, DROP, SHOW, DESCRIBE, EXPLAIN, PRINT, SET or TERMINATE"
    };
    Err(sql_err(
        loc,
        format!("`{first}` does not start a statement strata supports: {hint}"),
    ))
}

fn create(c: &mut Cursor<'_>, catalog: &dyn Catalog) -> Result<Statement> {
    c.next(); // CREATE
    let or_replace = c.eat_kws(&["OR", "REPLACE"]);
    if c.peek_kw("TEMPORARY") || c.peek_kw("TEMP") {
        c.next();
    }
    c.eat_kw("SOURCE"); // ksqlDB `CREATE SOURCE STREAM|TABLE`: read-only, as all sources are here
    let kind_loc = c.loc();
    let kind = if c.eat_kw("STREAM") {
        "stream"
    } else if c.eat_kw("TABLE") {
        "table"
    } else if c.eat_kw("VIEW") || c.eat_kws(&["MATERIALIZED", "VIEW"]) {
        "view"
    } else {
        return Err(sql_err(
            kind_loc,
            format!("expected STREAM, TABLE or VIEW after CREATE, {}", c.found()),
        ));
    };
    let if_not_exists = c.eat_kws(&["IF", "NOT", "EXISTS"]);
    if or_replace && if_not_exists {
        return Err(sql_err(
            kind_loc,
            "write either OR REPLACE or IF NOT EXISTS, not both",
        ));
    }
    let name_loc = c.loc();
    let name = c.object_name("a name")?;
    let mut columns = None;
    if c.peek().is_some_and(|t| t.token == Token::LParen) {
        let open = c.loc();
        c.next();
        columns = Some((open, c.until_close(open)?));
    }
    let mut props = None;
    if c.peek_kw("WITH") && c.peek_at(1).is_some_and(|t| t.token == Token::LParen) {
        let with_loc = c.loc();
        c.next();
        let open = c.loc();
        c.next();
        let properties = parse_properties(c.until_close(open)?, open)?;
        let servers = properties
            .iter()
            .find(|(k, _)| k == "properties.bootstrap.servers");
        sink::check_bootstrap(servers.map(|(_, v)| v.as_str()), catalog, with_loc)?;
        props = Some((with_loc, properties));
    }
    if c.eat_kw("AS") {
        if let Some((open, _)) = columns {
            return Err(sql_err(
                open,
                "a view's columns come from its SELECT: drop the column list, or rename with `AS` in the SELECT",
            ));
        }
        let rest = &c.toks[c.pos..];
        if rest.is_empty() {
            return Err(sql_err(c.end, "expected a SELECT after AS"));
        }
        let mut plan = plan_view(rest, c.end, &name, catalog)?;
        // ksqlDB's `kafka_topic` names an output topic the view writes besides its changelog.
        if let Some((with_loc, props)) = &props {
            plan.sink = sink::view_output(&name, *with_loc, props)?;
        }
        if let Some((with_loc, props)) = props
            && let Some((_, mode)) = props.iter().find(|(k, _)| k == "serving")
        {
            plan.serving = match mode.to_lowercase().as_str() {
                "lambda" if plan.is_ranked() => {
                    return Err(sql_err(
                        with_loc,
                        format!(
                            "serving = 'lambda' cannot serve a window Top-N: {name} ranks rows, which the batch layer does not; drop the setting (Top-N views are served Kappa)"
                        ),
                    ));
                }
                "lambda" if plan.reads_table() => {
                    return Err(sql_err(
                        with_loc,
                        format!(
                            "serving = 'lambda' needs a STREAM: {name} reads table {}, which only the speed layer has upsert semantics for; drop the setting (such views are served Kappa)",
                            plan.source.name
                        ),
                    ));
                }
                "lambda" => ServingMode::Lambda,
                "kappa" => ServingMode::Kappa,
                other => {
                    return Err(sql_err(
                        with_loc,
                        format!(
                            "serving = '{other}' is not a serving mode: use 'lambda' (batch view merged with the speed layer) or 'kappa' (speed layer only)"
                        ),
                    ));
                }
            };
        }
        return Ok(Statement::CreateView {
            plan,
            if_not_exists,
        });
    }
    if kind == "view" {
        return Err(sql_err(
            c.loc(),
            format!(
                "expected AS SELECT … after CREATE VIEW {name}, {}",
                c.found()
            ),
        ));
    }
    c.expect_end("the source definition")?;
    let Some((open, cols)) = columns else {
        return Err(sql_err(
            name_loc,
            format!(
                "CREATE {} {name} needs its columns, e.g. `CREATE STREAM {name} (id VARCHAR, amount DOUBLE) WITH (kafka_topic='{name}', value_format='JSON')`",
                kind.to_uppercase()
            ),
        ));
    };
    let source = source_def(kind, name, name_loc, open, cols, props)?;
    Ok(Statement::CreateSource {
        source,
        if_not_exists,
    })
}

/// Plans one `CREATE …` statement in `toks` (what `EXPLAIN CREATE …` explains).
pub(crate) fn parse_one(
    toks: &[TokenWithSpan],
    end: Location,
    catalog: &dyn Catalog,
) -> Result<Statement> {
    create(&mut Cursor::new(toks, end), catalog)
}

/// `WITH (k = v, …)` properties: keys lower-cased, values as written.
fn parse_properties(toks: &[TokenWithSpan], open: Location) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in split_commas(toks) {
        let loc = part.first().map_or(open, |t| t.span.start);
        let mut c = Cursor::new(part, loc);
        // A key is a quoted string ('properties.group.id') or dotted words (kafka_topic).
        let key = match c.next().map(|t| &t.token) {
            Some(Token::SingleQuotedString(s)) | Some(Token::DoubleQuotedString(s)) => {
                s.to_lowercase()
            }
            Some(Token::Word(w)) => {
                let mut k = w.value.to_lowercase();
                while c.eat(&Token::Period) {
                    k.push('.');
                    k.push_str(&c.ident("a property name")?);
                }
                k
            }
            _ => return Err(sql_err(loc, "expected a property `name = 'value'`")),
        };
        c.expect(&Token::Eq, " in WITH (…); write `name = 'value'`")?;
        let vloc = c.loc();
        let value = match c.next().map(|t| &t.token) {
            Some(Token::SingleQuotedString(s)) | Some(Token::DoubleQuotedString(s)) => s.clone(),
            Some(Token::Number(n, _)) => n.clone(),
            Some(Token::Word(w)) => w.value.clone(),
            _ => {
                return Err(sql_err(
                    vloc,
                    format!("expected a value for property {key}, e.g. '{key}'"),
                ));
            }
        };
        c.expect_end("a property value")?;
        if out.iter().any(|(k, _)| *k == key) {
            return Err(sql_err(loc, format!("property {key} is given twice")));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Reads a column type: a name, optional `(n[, m])`, and the modifiers that do not change it.
fn column_type(c: &mut Cursor<'_>) -> Result<SqlType> {
    let loc = c.loc();
    let name = match c.next().map(|t| &t.token) {
        Some(Token::Word(w)) => w.value.clone(),
        _ => return Err(sql_err(loc, format!("expected a column type; {TYPE_HINT}"))),
    };
    if name.eq_ignore_ascii_case("ARRAY") {
        return formats::array_type(c, loc);
    }
    let mut t = sql_type_named(&name).ok_or_else(|| {
        sql_err(
            loc,
            format!("type {} is not supported; {TYPE_HINT}", name.to_uppercase()),
        )
    })?;
    if name.eq_ignore_ascii_case("DOUBLE") {
        c.eat_kw("PRECISION");
    }
    if name.eq_ignore_ascii_case("CHARACTER") {
        c.eat_kw("VARYING");
    }
    if c.peek().is_some_and(|x| x.token == Token::LParen) {
        let open = c.loc();
        c.next();
        c.until_close(open)?;
    }
    if t == SqlType::Timestamp {
        // Zone qualifiers do not change the type: strata's timestamps are UTC instants.
        let _ = c.eat_kws(&["WITH", "LOCAL", "TIME", "ZONE"])
            || c.eat_kws(&["WITHOUT", "TIME", "ZONE"])
            || c.eat_kws(&["WITH", "TIME", "ZONE"]);
        t = SqlType::Timestamp;
    }
    Ok(t)
}

/// A source's column list, read: the columns, the PRIMARY KEY and the WATERMARK (each with
/// where it was declared).
struct ColumnList {
    columns: Vec<ColumnDef>,
    primary_key: Option<(Location, String)>,
    watermark: Option<(Location, String, u64)>,
    proctime: Option<String>,
}

fn source_def(
    kind: &str,
    name: String,
    name_loc: Location,
    open: Location,
    cols: &[TokenWithSpan],
    props: Option<(Location, Vec<(String, String)>)>,
) -> Result<SourceDef> {
    let ColumnList {
        columns,
        mut primary_key,
        watermark,
        proctime,
    } = column_list(open, cols)?;
    let (with_loc, properties) = props.unwrap_or((name_loc, Vec::new()));
    let prop = |k: &str| {
        properties
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let has_key = primary_key.is_some();
    let flink = prop("connector").is_some();
    let (source_kind, topic) = if flink {
        flink_connector(kind, &name, with_loc, has_key, &prop)?
    } else {
        ksql_properties(kind, &name, name_loc, has_key, &prop)?
    };
    // Flink's `'key.fields'` reads a column from the record key, as ksqlDB's KEY marker does.
    if let Some(k) = formats::key_format(&prop, with_loc)?
        && primary_key.as_ref().is_none_or(|(_, p)| *p != k)
    {
        set_key(&mut primary_key, with_loc, k)?;
    }
    if topic.is_empty() || topic.contains('/') || topic == "." || topic == ".." {
        return Err(sql_err(with_loc, format!("invalid topic name {topic:?}")));
    }
    let find = |col: &str, loc: Location| -> Result<SqlType> {
        columns
            .iter()
            .find(|c| c.name == col)
            .map(|c| c.data_type)
            .ok_or_else(|| sql_err(loc, format!("column {col} is not declared in {name}")))
    };
    let (timestamp_column, watermark_delay_ms) =
        event_time(watermark, prop("timestamp"), with_loc, &find)?;
    if let Some((loc, key)) = &primary_key {
        find(key, *loc)?;
    }
    let format = value_format(flink, &prop, &columns, &primary_key, with_loc)?;
    if source_kind == SourceKind::Table && !has_key {
        return Err(sql_err(
            name_loc,
            "a table source needs a PRIMARY KEY column",
        ));
    }
    Ok(SourceDef {
        name,
        topic,
        kind: source_kind,
        columns,
        format,
        timestamp_column,
        watermark_delay_ms,
        primary_key: primary_key.map(|(_, k)| k),
        properties,
        proctime_column: proctime,
    })
}

/// The parenthesized column list of `CREATE STREAM|TABLE`: columns, `PRIMARY KEY (k)`,
/// `WATERMARK FOR ts AS …`.
fn column_list(open: Location, cols: &[TokenWithSpan]) -> Result<ColumnList> {
    let mut out = ColumnList {
        columns: Vec::new(),
        primary_key: None,
        watermark: None,
        proctime: None,
    };
    for part in split_commas(cols) {
        let loc = part.first().map_or(open, |t| t.span.start);
        let end = part.last().map_or(open, |t| t.span.end);
        let mut c = Cursor::new(part, end);
        if c.at_end() {
            return Err(sql_err(
                loc,
                "empty column definition; remove the extra comma",
            ));
        }
        if c.eat_kw("WATERMARK") {
            c.expect_kw(
                "FOR",
                " (write `WATERMARK FOR ts AS ts - INTERVAL '5' SECOND`)",
            )?;
            let col = c.ident("the event-time column")?;
            c.expect_kw(
                "AS",
                " (write `WATERMARK FOR ts AS ts - INTERVAL '5' SECOND`)",
            )?;
            let delay = window::watermark_delay(&part[c.pos..], &col, c.loc())?;
            if out.watermark.is_some() {
                return Err(sql_err(loc, "only one WATERMARK per source"));
            }
            out.watermark = Some((loc, col, delay));
            continue;
        }
        if c.eat_kw("CONSTRAINT") {
            c.ident("a constraint name")?;
        }
        if c.eat_kws(&["PRIMARY", "KEY"]) {
            let key = primary_key_clause(&mut c)?;
            set_key(&mut out.primary_key, loc, key)?;
            continue;
        }
        let col = if part.get(1).is_some_and(|t| is_kw(&t.token, "AS")) {
            let col = crate::proctime::computed_column(&mut c)?;
            if out.proctime.replace(col.name.clone()).is_some() {
                return Err(sql_err(loc, "only one PROCTIME() column per source"));
            }
            col
        } else {
            column(&mut c, loc, &mut out.primary_key)?
        };
        if out.columns.iter().any(|x| x.name == col.name) {
            return Err(sql_err(
                loc,
                format!("column {} is declared twice", col.name),
            ));
        }
        out.columns.push(col);
    }
    if out.columns.is_empty() {
        return Err(sql_err(open, "a source needs at least one column"));
    }
    Ok(out)
}

/// `PRIMARY KEY (column) [NOT ENFORCED]`, after `PRIMARY KEY`: the key column.
fn primary_key_clause(c: &mut Cursor<'_>) -> Result<String> {
    let open = c.loc();
    c.expect(&Token::LParen, " (write `PRIMARY KEY (column)`)")?;
    let inner = c.until_close(open)?;
    let keys = split_commas(inner);
    if keys.len() != 1 || keys[0].len() != 1 {
        return Err(sql_err(open, "a PRIMARY KEY is one column in strata"));
    }
    let key = match &keys[0][0].token {
        Token::Word(w) => w.value.to_lowercase(),
        _ => return Err(sql_err(open, "expected a column name in PRIMARY KEY (…)")),
    };
    c.eat_kws(&["NOT", "ENFORCED"]);
    c.expect_end("PRIMARY KEY (…)")?;
    Ok(key)
}

/// One column definition, `name type [PRIMARY KEY] [NOT NULL] [KEY]`, declared at `loc`; an
/// inline PRIMARY KEY is set in `primary_key`.
fn column(
    c: &mut Cursor<'_>,
    loc: Location,
    primary_key: &mut Option<(Location, String)>,
) -> Result<ColumnDef> {
    let col = c.ident("a column name")?;
    if matches!(
        col.as_str(),
        "rowtime"
            | "_partition"
            | "_offset"
            | "_key"
            | "window_start"
            | "window_end"
            | "windowstart"
            | "windowend"
    ) {
        return Err(sql_err(
            loc,
            format!("column name {col} is reserved (strata provides it); rename the column"),
        ));
    }
    let data_type = column_type(c)?;
    while !c.at_end() {
        let oloc = c.loc();
        if c.eat_kws(&["PRIMARY", "KEY"]) {
            c.eat_kws(&["NOT", "ENFORCED"]);
            set_key(primary_key, oloc, col.clone())?;
        } else if c.eat_kw("KEY") {
            // ksqlDB's `id VARCHAR KEY`: the stream's key column, read from the record key.
            set_key(primary_key, oloc, col.clone())?;
        } else if c.eat_kws(&["NOT", "NULL"]) || c.eat_kw("NULL") {
            // NOT NULL is not enforced (JSON may omit a field).
        } else if c.peek_kw("METADATA") {
            return Err(sql_err(
                oloc,
                "METADATA columns are not supported; the record timestamp is the ROWTIME column, the key _key",
            ));
        } else {
            return Err(sql_err(
                oloc,
                format!(
                    "unexpected `{}` in the definition of column {col}",
                    c.peek().map_or(Token::EOF, |t| t.token.clone())
                ),
            ));
        }
    }
    Ok(ColumnDef {
        name: col,
        data_type,
    })
}

/// Flink's `WITH ('connector' = …, 'topic' = …, 'format' = …)`: the kind of source and its
/// topic.
fn flink_connector<'p>(
    kind: &str,
    name: &str,
    with_loc: Location,
    has_key: bool,
    prop: &dyn Fn(&str) -> Option<&'p str>,
) -> Result<(SourceKind, String)> {
    let mut source_kind = if kind == "stream" {
        SourceKind::Stream
    } else {
        SourceKind::Table
    };
    let connector = prop("connector").unwrap_or_default().to_ascii_lowercase();
    match connector.as_str() {
        "kafka" | "strata" => {
            if kind == "table" && !has_key {
                // Flink's `CREATE TABLE … 'connector'='kafka'` is an append-only stream.
                source_kind = SourceKind::Stream;
            }
        }
        "upsert-kafka" => {
            if !has_key {
                return Err(sql_err(
                    with_loc,
                    "'upsert-kafka' needs a PRIMARY KEY (col) NOT ENFORCED",
                ));
            }
            source_kind = SourceKind::Table;
        }
        other => {
            return Err(sql_err(
                with_loc,
                format!(
                    "connector '{other}' is not supported: strata reads its own log through 'connector' = 'kafka'"
                ),
            ));
        }
    }
    let topic = prop("topic").map_or_else(|| name.to_string(), str::to_string);
    if let Some(t) = prop("topic")
        && t.contains(';')
    {
        return Err(sql_err(
            with_loc,
            "one topic per source; 'topic' lists are not supported",
        ));
    }
    Ok((source_kind, topic))
}

/// ksqlDB's `WITH (kafka_topic = …)`: the kind of source and its topic (the formats are
/// read by `formats`).
fn ksql_properties<'p>(
    kind: &str,
    name: &str,
    name_loc: Location,
    has_key: bool,
    prop: &dyn Fn(&str) -> Option<&'p str>,
) -> Result<(SourceKind, String)> {
    let topic = prop("kafka_topic")
        .or(prop("topic"))
        .map_or_else(|| name.to_string(), str::to_string);
    if kind == "table" && !has_key {
        return Err(sql_err(
            name_loc,
            format!(
                "a ksqlDB TABLE needs a PRIMARY KEY column (e.g. `id VARCHAR PRIMARY KEY`); for an event stream write CREATE STREAM {name}"
            ),
        ));
    }
    let source_kind = if kind == "stream" {
        SourceKind::Stream
    } else {
        SourceKind::Table
    };
    Ok((source_kind, topic))
}

/// The value format of the source's value columns: every column but the one read from the
/// record key (unless the key format is NONE).
fn value_format<'p>(
    flink: bool,
    prop: &(dyn Fn(&str) -> Option<&'p str> + 'p),
    columns: &[ColumnDef],
    primary_key: &Option<(Location, String)>,
    with_loc: Location,
) -> Result<crate::plan::ValueFormat> {
    let key_format = KeyFormat::from_property(prop("key_format").or(prop("key.format")));
    let key = primary_key
        .as_ref()
        .filter(|_| key_format != KeyFormat::None)
        .map(|(_, k)| k.as_str());
    let values: Vec<&ColumnDef> = columns
        .iter()
        .filter(|c| Some(c.name.as_str()) != key)
        .collect();
    if flink {
        formats::flink_value_format(prop, &values, with_loc)
    } else {
        formats::ksql_value_format(prop, &values, with_loc)
    }
}

/// The event-time column and the watermark delay, from `WATERMARK FOR` and the `timestamp`
/// property (which must agree); `find` gives a declared column's type.
fn event_time(
    watermark: Option<(Location, String, u64)>,
    timestamp: Option<&str>,
    with_loc: Location,
    find: &dyn Fn(&str, Location) -> Result<SqlType>,
) -> Result<(Option<String>, Option<u64>)> {
    let mut timestamp_column = None;
    let mut watermark_delay_ms = None;
    if let Some((loc, col, delay)) = watermark {
        let t = find(&col, loc)?;
        if t != SqlType::Timestamp && t != SqlType::BigInt {
            return Err(sql_err(
                loc,
                format!("the WATERMARK column {col} must be TIMESTAMP(3) (or BIGINT epoch millis)"),
            ));
        }
        timestamp_column = Some(col);
        watermark_delay_ms = Some(delay);
    }
    if let Some(ts) = timestamp {
        let col = ts.to_lowercase();
        let t = find(&col, with_loc)?;
        if t != SqlType::Timestamp && t != SqlType::BigInt {
            return Err(sql_err(
                with_loc,
                format!("the timestamp column {col} must be BIGINT (epoch millis) or TIMESTAMP"),
            ));
        }
        if timestamp_column.as_ref().is_some_and(|c| *c != col) {
            return Err(sql_err(
                with_loc,
                "the WATERMARK column and the timestamp property name different columns",
            ));
        }
        timestamp_column = Some(col);
    }
    Ok((timestamp_column, watermark_delay_ms))
}

fn set_key(slot: &mut Option<(Location, String)>, loc: Location, key: String) -> Result<()> {
    if slot.is_some() {
        return Err(sql_err(loc, "only one PRIMARY KEY per table"));
    }
    *slot = Some((loc, key));
    Ok(())
}
