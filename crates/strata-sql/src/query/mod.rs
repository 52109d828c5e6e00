//! Planning a SELECT: name resolution against the source (and joined table), aggregate
//! extraction, GROUP BY analysis and type checking, producing a [`ViewPlan`].
//!
//! Aggregating views are planned in two scopes. WHERE, GROUP BY keys and aggregate arguments
//! are over the *source scope* (stream columns, `rowtime`, `_partition`, `_offset`, `_key`,
//! joined `alias.col`). The SELECT list and HAVING are over the *output scope*: group-key
//! names, `window_start`, `window_end` and the aggregates `agg0`, `agg1`, … While converting,
//! aggregates and window bounds become placeholder columns (prefixed with `\0`, which no SQL
//! identifier can contain); then every subexpression equal to a group key becomes that key's
//! column, and a source column left over is a "must appear in GROUP BY" error.
//!
//! Files: `scope` (the names a query can see, and the helpers every step shares), `convert`
//! (sqlparser expressions → plan expressions, aggregates collected), and this one: the
//! planner's phases, in the order [`plan_query`] runs them — the SELECT and its FROM, windows,
//! WHERE, the SELECT list, then a projection or an aggregation with its outputs and HAVING.

mod convert;
mod scope;
mod unnest;

use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast::{
    self, BinaryOperator, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    JoinConstraint, JoinOperator, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    TableFactor, Value,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::catalog::Catalog;
use crate::error::{Error, NameKind, Result};
use crate::plan::{
    AggregateDef, AggregateFunction, BinaryOp, EmitMode, Expr, JoinDef, SourceDef, SourceKind,
    SqlType, ViewPlan, WindowSpec,
};
use crate::tokens::{dialect, plan_err, sql_err};
use crate::types::arrow_type;
use crate::window::{self, Extracted};

use convert::{Conv, bin, interval};
use scope::{
    PH, Resolved, Scope, WINDOW_END, WINDOW_START, check, loc_of, type_label, unsupported,
};

/// Plans the query in `toks` (a whole SELECT, streaming clauses included) as view `name`.
pub(crate) fn plan_query(
    toks: &[TokenWithSpan],
    end: Location,
    name: &str,
    catalog: &dyn Catalog,
) -> Result<ViewPlan> {
    let toks = unnest::rewrite_lateral(toks);
    let ex = window::prepass(&toks, end)?;
    let start = toks.first().map_or(end, |t| t.span.start);
    let d = dialect();
    let mut parser = Parser::new(&d).with_tokens_with_locations(ex.tokens.clone());
    let q = parser.parse_query().map_err(|e| parser_error(e, end))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(sql_err(
            next.span.start,
            format!(
                "unexpected `{}` after the query; end the statement with `;`",
                next.token
            ),
        ));
    }
    Planner::new(name, catalog, ex, start)?.plan(&q)
}

/// sqlparser's error, with the location it appends moved into the fields; an error without
/// one (the text ended too early) points at `end`, the end of the statement.
fn parser_error(e: ParserError, end: Location) -> Error {
    let msg = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => {
            return Error::Sql {
                line: end.line,
                column: end.column,
                message: "the query nests too deeply".into(),
            };
        }
    };
    if let Some(i) = msg.rfind(" at Line: ") {
        let (text, at) = msg.split_at(i);
        let mut nums = at.trim_start_matches(" at Line: ").split(", Column: ");
        if let (Some(l), Some(c)) = (nums.next(), nums.next())
            && let (Ok(line), Ok(column)) = (l.trim().parse(), c.trim().parse())
        {
            return Error::Sql {
                line,
                column,
                message: text.to_string(),
            };
        }
    }
    Error::Sql {
        line: end.line,
        column: end.column,
        message: msg,
    }
}

struct Planner<'a> {
    name: String,
    catalog: &'a dyn Catalog,
    ex: Extracted,
    start: Location,
}

/// A SELECT item after the first pass.
struct Item {
    name: String,
    explicit: bool,
    expr: Expr,
    loc: Location,
}

impl<'a> Planner<'a> {
    fn new(name: &str, catalog: &'a dyn Catalog, ex: Extracted, start: Location) -> Result<Self> {
        Ok(Planner {
            name: name.to_string(),
            catalog,
            ex,
            start,
        })
    }

    fn plan(mut self, q: &ast::Query) -> Result<ViewPlan> {
        let start = self.start;
        // A table function leaves the query here, to come back as a column of the scope.
        let mut select = select_of(q, start)?.clone();
        let table_fn = unnest::take_table_function(&mut select, start)?;
        let s = &select;
        let from = self.read_from(s, start)?;
        let reads_table = from.stream.kind == SourceKind::Table;
        let tvf_window = self.ex.tvf.is_some();
        let group_exprs = group_exprs(s, start)?;
        let group_window_fn = self.group_windows(&group_exprs, start)?;
        let windowed = self.ex.window.is_some();
        if reads_table && let Some((l, _)) = &self.ex.window {
            return Err(unsupported(
                *l,
                &format!("a window over table {}", from.stream.name),
                "a table's rows are current values, not events in time; window the stream instead",
            ));
        }
        let mut stream = from.stream;
        self.set_time_column(&mut stream, group_window_fn.clone())?;

        let scope = Scope::new(
            stream.clone(),
            from.alias.clone(),
            from.table.clone(),
            windowed,
        );
        let join = match (&from.table, from.join_on) {
            (Some((t, a)), Some((left, on))) => Some(self.join(&scope, t, a, left, on)?),
            _ => None,
        };
        let (scope, unnest) = match table_fn {
            Some(f) => {
                let (scope, unnest) = unnest::extend_scope(scope, f, reads_table)?;
                (scope, Some(unnest))
            }
            None => (scope, None),
        };
        let filter = where_clause(&scope, s, start)?;
        let select = select_list(&scope, s, start)?;
        let aggregating = !select.aggs.is_empty() || !group_exprs.is_empty();
        let emit = self.emit_mode(windowed, tvf_window || group_window_fn.is_some())?;
        let grace_ms = self.ex.grace_ms.unwrap_or(0);
        if self.ex.grace_ms.is_some() && !windowed {
            return Err(sql_err(
                start,
                "GRACE PERIOD needs a window: WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 10 SECONDS)",
            ));
        }
        let plan = ViewPlan {
            name: self.name.clone(),
            source: stream,
            source_alias: from.alias,
            join,
            filter,
            window: self.ex.window.map(|(_, w)| w),
            grace_ms,
            group_by: Vec::new(),
            aggregates: Vec::new(),
            having: None,
            output: Vec::new(),
            emit,
            // The batch layer has no table semantics: a view of a table is served by the
            // speed layer alone.
            serving: if reads_table {
                crate::plan::ServingMode::Kappa
            } else {
                crate::plan::ServingMode::default()
            },
            rank: None,
            unnest,
            sink: None,
        };
        if !aggregating {
            let window_loc = self.ex.window.map(|(l, _)| l);
            return project(plan, select, &scope, reads_table, window_loc);
        }
        let group = Grouping {
            windowed,
            // ksqlDB's windowed tables carry their window bounds, as WINDOWSTART and WINDOWEND
            // do; Flink's windows (table functions, group windows) select theirs.
            add_bounds: windowed && !tvf_window && group_window_fn.is_none(),
            start,
        };
        aggregate(plan, select, &scope, &group_exprs, &group)
    }

    /// FROM: one stream, at most one table join.
    fn read_from<'q>(&self, s: &'q ast::Select, start: Location) -> Result<FromClause<'q>> {
        let from = match s.from.as_slice() {
            [one] => one,
            [] => return Err(sql_err(start, "a query needs FROM <stream>")),
            [_, second, ..] => {
                return Err(unsupported(
                    loc_of(&second.relation, start),
                    "a comma join",
                    "write `JOIN t ON s.k = t.pk` against a table",
                ));
            }
        };
        let (stream, alias) = self.relation(&from.relation, start)?;
        // A table as the driving input (ksqlDB): each record upserts its key's row, and the
        // view holds the latest rows, or running aggregates over them that retract what an
        // update replaces. Windows and joins do not apply to it.
        if stream.kind == SourceKind::Table {
            let window_loc = self.ex.tvf.as_ref().map(|t| t.loc).or(self
                .ex
                .window
                .as_ref()
                .map(|(l, _)| *l));
            if let Some(l) = window_loc {
                return Err(unsupported(
                    l,
                    &format!("a window over table {}", stream.name),
                    "a table's rows are current values, not events in time; window the stream instead",
                ));
            }
            if let Some(j) = from.joins.first() {
                return Err(unsupported(
                    loc_of(&j.relation, start),
                    &format!("a join with table {} as the driving input", stream.name),
                    "join a table to a STREAM",
                ));
            }
        }
        if let Some(t) = &self.ex.tvf
            && t.source != stream.name
        {
            return Err(plan_err(
                t.loc,
                format!(
                    "the window table function reads {} but FROM names {}",
                    t.source, stream.name
                ),
            ));
        }
        let (table, join_on) = match from.joins.as_slice() {
            [] => (None, None),
            [j] => {
                let (table, on) = self.joined_table(j, &stream, alias.as_deref(), start)?;
                (Some(table), Some(on))
            }
            [_, j, ..] => {
                return Err(unsupported(
                    loc_of(&j.relation, start),
                    "more than one JOIN",
                    "join one table per view",
                ));
            }
        };
        Ok(FromClause {
            stream,
            alias,
            table,
            join_on,
        })
    }

    /// `JOIN t [alias] ON …` / `LEFT JOIN …`: the table with its alias, and whether the join
    /// is a left join with its ON condition.
    fn joined_table<'q>(
        &self,
        j: &'q ast::Join,
        stream: &SourceDef,
        alias: Option<&str>,
        start: Location,
    ) -> Result<((SourceDef, String), JoinOn<'q>)> {
        let jl = loc_of(&j.relation, start);
        let (t, talias) = self.relation(&j.relation, start)?;
        if t.kind != SourceKind::Table {
            return Err(unsupported(
                jl,
                &format!("joining stream {} (stream–stream join)", t.name),
                "join a TABLE (a source with a PRIMARY KEY)",
            ));
        }
        let (left, on) = match &j.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => (false, c),
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, c),
            _ => {
                return Err(unsupported(
                    jl,
                    "this kind of join",
                    "use JOIN or LEFT JOIN",
                ));
            }
        };
        let JoinConstraint::On(on) = on else {
            return Err(unsupported(
                jl,
                "a join without ON",
                "write `JOIN t ON s.key = t.pk`",
            ));
        };
        let a = talias.unwrap_or_else(|| t.name.clone());
        if alias == Some(a.as_str()) || (alias.is_none() && a == stream.name) {
            return Err(plan_err(
                jl,
                "the stream and the table need different aliases",
            ));
        }
        Ok(((t, a), (left, on)))
    }

    /// Flink legacy group windows, `GROUP BY TUMBLE(ts, INTERVAL …)`: the window becomes the
    /// query's; the time column it names is returned.
    fn group_windows(
        &mut self,
        group_exprs: &[&ast::Expr],
        start: Location,
    ) -> Result<Option<(String, Location)>> {
        let mut group_window_fn = None;
        for g in group_exprs {
            if let ast::Expr::Function(f) = g {
                let n = f.name.to_string().to_lowercase();
                if matches!(n.as_str(), "tumble" | "hop" | "session") {
                    let l = loc_of(*g, start);
                    if self.ex.window.is_some() || group_window_fn.is_some() {
                        return Err(plan_err(l, "a query has one window"));
                    }
                    let (spec, col) = group_window(&n, f, l)?;
                    self.ex.window = Some((l, spec));
                    group_window_fn = Some((col, l));
                }
            }
        }
        Ok(group_window_fn)
    }

    /// The event-time column a Flink window names overrides the source's.
    fn set_time_column(
        &self,
        stream: &mut SourceDef,
        group_window_fn: Option<(String, Location)>,
    ) -> Result<()> {
        let time_col = self
            .ex
            .tvf
            .as_ref()
            .map(|t| (t.time_column.clone(), t.loc))
            .or(group_window_fn);
        let Some((col, l)) = time_col else {
            return Ok(());
        };
        if col == "rowtime" {
            stream.timestamp_column = None;
            return Ok(());
        }
        match stream.columns.iter().find(|c| c.name == col) {
            Some(c) if matches!(c.data_type, SqlType::Timestamp | SqlType::BigInt) => {}
            Some(_) => {
                return Err(plan_err(
                    l,
                    format!("window time column {col} must be TIMESTAMP (or BIGINT epoch millis)"),
                ));
            }
            None => {
                return Err(plan_err(
                    l,
                    format!("unknown window time column {col} in {}", stream.name),
                ));
            }
        }
        stream.timestamp_column = Some(col);
        Ok(())
    }

    /// EMIT CHANGES / FINAL, or the default: a Flink window (`flink_window`) emits each
    /// window once, when it closes; anything else emits changes.
    fn emit_mode(&self, windowed: bool, flink_window: bool) -> Result<EmitMode> {
        Ok(match self.ex.emit {
            Some((l, EmitMode::Final)) if !windowed => {
                return Err(plan_err(
                    l,
                    "EMIT FINAL needs a windowed aggregation (a window closes; a running aggregate never does); use EMIT CHANGES",
                ));
            }
            Some((_, m)) => m,
            None if flink_window => EmitMode::Final,
            None => EmitMode::Changes,
        })
    }

    /// A FROM or JOIN relation: the source and its alias.
    fn relation(&self, r: &TableFactor, start: Location) -> Result<(SourceDef, Option<String>)> {
        let l = loc_of(r, start);
        match r {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    return Err(unsupported(
                        l,
                        &format!("table function {name}(…)"),
                        "window with TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL …)) or WINDOW TUMBLING (…)",
                    ));
                }
                let n = name.0.last().map(|p| p.to_string()).unwrap_or_default();
                let n = n.trim_matches(|c| c == '"' || c == '`').to_lowercase();
                let source = self.catalog.source(&n).ok_or(Error::Unknown {
                    kind: NameKind::Stream,
                    name: n,
                })?;
                if let Some(a) = alias
                    && !a.columns.is_empty()
                {
                    return Err(unsupported(
                        l,
                        "column aliases on a table alias",
                        "rename columns with AS in the SELECT list",
                    ));
                }
                Ok((source, alias.as_ref().map(|a| a.name.value.to_lowercase())))
            }
            TableFactor::Derived { .. } => Err(unsupported(
                l,
                "a subquery in FROM",
                "create a view and select from its source, or join a table",
            )),
            _ => Err(unsupported(
                l,
                "this FROM item",
                "read a stream: FROM my_stream [alias]",
            )),
        }
    }

    /// `ON <stream expr> = t.pk`.
    fn join(
        &self,
        scope: &Scope,
        t: &SourceDef,
        alias: &str,
        left: bool,
        on: &ast::Expr,
    ) -> Result<JoinDef> {
        let l = loc_of(on, self.start);
        let pk = t.primary_key.clone().unwrap_or_default();
        let pk_col = Expr::Column(format!("{alias}.{pk}"));
        let hint = format!(
            "the join condition must be `<stream column or expression> = {alias}.{pk}` (the table's PRIMARY KEY)"
        );
        let ast::Expr::BinaryOp {
            left: a,
            op: BinaryOperator::Eq,
            right: b,
        } = on
        else {
            return Err(plan_err(l, hint));
        };
        let conv = |e: &ast::Expr| {
            Conv {
                scope,
                aggs: None,
                clause: "ON",
                fallback: l,
                aliases: &[],
            }
            .convert(e)
        };
        let (a, b) = (conv(a)?, conv(b)?);
        let stream_key = if a == pk_col {
            b
        } else if b == pk_col {
            a
        } else {
            return Err(plan_err(l, hint));
        };
        if mentions_prefix(&stream_key, &format!("{alias}.")) {
            return Err(plan_err(l, hint));
        }
        check(
            &bin(BinaryOp::Eq, stream_key.clone(), pk_col),
            &scope.schema,
            l,
        )?;
        Ok(JoinDef {
            table: t.clone(),
            alias: alias.to_string(),
            stream_key,
            left,
        })
    }
}

/// The FROM clause, resolved: the stream read, its alias, and the joined table (with its
/// alias) with whether the join is a left join and its ON condition.
struct FromClause<'q> {
    stream: SourceDef,
    alias: Option<String>,
    table: Option<(SourceDef, String)>,
    join_on: Option<JoinOn<'q>>,
}

/// Whether a join is a left join, and its ON condition.
type JoinOn<'q> = (bool, &'q ast::Expr);

/// The SELECT list and HAVING after the first pass: aggregates and window bounds are
/// placeholder columns, the aggregates collected in `aggs`.
struct SelectList<'q> {
    items: Vec<Item>,
    /// The written items with their aliases, for `GROUP BY 1` and `GROUP BY alias`.
    raw: Vec<(Option<String>, &'q ast::Expr)>,
    /// Where a `*` is, if there is one.
    star: Option<Location>,
    aggs: Vec<AggregateDef>,
    having: Option<(Expr, Location)>,
}

/// What an aggregating query's output depends on besides its SELECT list.
struct Grouping {
    windowed: bool,
    /// Whether the window bounds become output columns without being selected (ksqlDB).
    add_bounds: bool,
    start: Location,
}

/// The SELECT of a query, refusing what a continuous query cannot do.
fn select_of(q: &ast::Query, start: Location) -> Result<&ast::Select> {
    if let Some(w) = &q.with {
        return Err(unsupported(
            loc_of(w, start),
            "WITH (common table expressions)",
            "create a view per step",
        ));
    }
    if let Some(o) = &q.order_by {
        return Err(unsupported(
            loc_of(o, start),
            "ORDER BY on a continuous query",
            "sort when reading the view (GET /v1/views/{v})",
        ));
    }
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(unsupported(
            start,
            "LIMIT / FETCH on a continuous query",
            "stop reading when you have enough rows",
        ));
    }
    let select = match q.body.as_ref() {
        SetExpr::Select(s) => s,
        SetExpr::Query(_) => {
            return Err(unsupported(
                start,
                "a parenthesized query",
                "write the SELECT directly",
            ));
        }
        SetExpr::SetOperation { op, .. } => {
            return Err(unsupported(
                start,
                &format!("{op}"),
                "create one view per SELECT",
            ));
        }
        other => {
            return Err(unsupported(
                start,
                &format!(
                    "`{}`",
                    other.to_string().chars().take(30).collect::<String>()
                ),
                "write a SELECT",
            ));
        }
    };
    check_select_clauses(select, start)?;
    Ok(select)
}

/// Refuses the SELECT clauses strata does not have.
fn check_select_clauses(s: &ast::Select, start: Location) -> Result<()> {
    if s.distinct.is_some() {
        return Err(unsupported(
            start,
            "SELECT DISTINCT",
            "GROUP BY the columns instead",
        ));
    }
    if s.top.is_some()
        || s.into.is_some()
        || !s.lateral_views.is_empty()
        || s.prewhere.is_some()
        || !s.connect_by.is_empty()
        || !s.cluster_by.is_empty()
        || !s.distribute_by.is_empty()
        || !s.sort_by.is_empty()
        || s.qualify.is_some()
    {
        return Err(unsupported(
            start,
            "this SELECT clause (TOP/INTO/LATERAL VIEW/QUALIFY/…)",
            "see docs/sql.md for the SELECT strata supports",
        ));
    }
    if let Some(w) = s.named_window.first() {
        return Err(unsupported(
            loc_of(w, start),
            "WINDOW w AS (…) named windows",
            "write WINDOW TUMBLING (SIZE …), HOPPING (SIZE …, ADVANCE BY …) or SESSION (…) after FROM",
        ));
    }
    Ok(())
}

/// The GROUP BY expressions as written.
fn group_exprs(s: &ast::Select, start: Location) -> Result<Vec<&ast::Expr>> {
    match &s.group_by {
        GroupByExpr::Expressions(v, mods) => {
            if !mods.is_empty() {
                return Err(unsupported(
                    start,
                    "GROUP BY modifiers (ROLLUP/CUBE/…)",
                    "group by plain expressions",
                ));
            }
            Ok(v.iter().collect())
        }
        GroupByExpr::All(_) => Err(unsupported(start, "GROUP BY ALL", "list the group keys")),
    }
}

/// WHERE, over the source scope: a condition.
fn where_clause(scope: &Scope, s: &ast::Select, start: Location) -> Result<Option<Expr>> {
    let Some(w) = &s.selection else {
        return Ok(None);
    };
    let l = loc_of(w, start);
    let e = Conv {
        scope,
        aggs: None,
        clause: "WHERE",
        fallback: l,
        aliases: &[],
    }
    .convert(w)?;
    let t = check(&e, &scope.schema, l)?;
    if !matches!(t, DataType::Boolean | DataType::Null) {
        return Err(plan_err(
            l,
            format!("WHERE needs a condition, this is {}", type_label(&t)),
        ));
    }
    Ok(Some(e))
}

/// The SELECT list and HAVING, first pass: converted with aggregates and window bounds as
/// placeholders.
fn select_list<'q>(scope: &Scope, s: &'q ast::Select, start: Location) -> Result<SelectList<'q>> {
    let mut out = SelectList {
        items: Vec::new(),
        raw: Vec::new(),
        star: None,
        aggs: Vec::new(),
        having: None,
    };
    for (i, it) in s.projection.iter().enumerate() {
        select_item(scope, it, i, start, &mut out)?;
    }
    let aliases: Vec<(String, Expr)> = out
        .items
        .iter()
        .filter(|it| it.explicit)
        .map(|it| (it.name.clone(), it.expr.clone()))
        .collect();
    if let Some(h) = s.having.as_ref() {
        let l = loc_of(h, start);
        let e = Conv {
            scope,
            aggs: Some(&mut out.aggs),
            clause: "HAVING",
            fallback: l,
            aliases: &aliases,
        }
        .convert(h)?;
        out.having = Some((e, l));
    }
    Ok(out)
}

/// SELECT item `i`, first pass, added to `out`.
fn select_item<'q>(
    scope: &Scope,
    it: &'q SelectItem,
    i: usize,
    start: Location,
    out: &mut SelectList<'q>,
) -> Result<()> {
    let l = loc_of(it, start);
    let star = |out: &mut SelectList<'q>, cols: Vec<(String, Expr)>| {
        out.star.get_or_insert(l);
        for (name, expr) in cols {
            out.items.push(Item {
                name,
                explicit: false,
                expr,
                loc: l,
            });
        }
    };
    match it {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            let alias = match it {
                SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_lowercase()),
                _ => None,
            };
            let expr = Conv {
                scope,
                aggs: Some(&mut out.aggs),
                clause: "SELECT",
                fallback: l,
                aliases: &[],
            }
            .convert(e)?;
            let explicit = alias.is_some();
            let name = alias.clone().unwrap_or_else(|| derived_name(e, i));
            out.raw.push((alias, e));
            out.items.push(Item {
                name,
                explicit,
                expr,
                loc: l,
            });
        }
        SelectItem::Wildcard(_) => star(out, star_columns(scope, None)),
        SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
            let q = n.to_string().to_lowercase();
            let q = q
                .rsplit('.')
                .next()
                .unwrap_or("")
                .trim_matches('"')
                .to_string();
            let cols = star_columns(scope, Some(&q));
            out.star.get_or_insert(l);
            if cols.is_empty() {
                return Err(plan_err(l, format!("unknown qualifier {q} in {q}.*")));
            }
            star(out, cols);
        }
        other => {
            return Err(unsupported(
                l,
                &format!("select item {other}"),
                "select columns and expressions",
            ));
        }
    }
    Ok(())
}

/// A query without aggregates: each SELECT item an output column; over a table, the latest
/// row per key.
fn project(
    mut plan: ViewPlan,
    select: SelectList<'_>,
    scope: &Scope,
    reads_table: bool,
    window_loc: Option<Location>,
) -> Result<ViewPlan> {
    if let Some(wl) = window_loc {
        return Err(plan_err(
            wl,
            "a window needs an aggregation: add aggregates (COUNT(*), SUM(x), …) and GROUP BY",
        ));
    }
    if let Some((_, l)) = select.having {
        return Err(plan_err(
            l,
            "HAVING needs GROUP BY or aggregates; use WHERE",
        ));
    }
    let mut out = Vec::new();
    for it in select.items {
        check(&it.expr, &scope.schema, it.loc)?;
        push_output(&mut out, it)?;
    }
    if reads_table {
        // The latest row per key: GROUP BY the record key, each output column the key's
        // latest value of its expression (NULLs kept: an update replaces the whole row); a
        // deleted key's group disappears.
        let key = crate::plan::KEY_COLUMN.to_string();
        plan.group_by = vec![(key.clone(), Expr::Column(key))];
        for (i, (name, e)) in out.into_iter().enumerate() {
            let agg = format!("agg{i}");
            plan.aggregates.push(AggregateDef {
                function: AggregateFunction::Latest,
                arg: Some(e),
                name: agg.clone(),
            });
            plan.output.push((name, Expr::Column(agg)));
        }
        return Ok(plan);
    }
    plan.output = out;
    Ok(plan)
}

/// An aggregating query: group keys, then the output columns and HAVING over the output
/// scope (keys, window bounds, aggregates).
fn aggregate(
    mut plan: ViewPlan,
    select: SelectList<'_>,
    scope: &Scope,
    group_exprs: &[&ast::Expr],
    group: &Grouping,
) -> Result<ViewPlan> {
    if let Some(l) = select.star {
        return Err(plan_err(
            l,
            "SELECT * cannot be aggregated; list the group keys and aggregates",
        ));
    }
    let keys = group_keys(scope, group_exprs, &select, group.start)?;
    let out_schema = output_schema(scope, &keys, &select.aggs, group)?;
    let key_exprs: Vec<(String, Expr)> = keys
        .iter()
        .map(|(n, e, _)| (n.clone(), e.clone()))
        .collect();
    let out = aggregate_outputs(select.items, &key_exprs, &out_schema, group)?;
    if let Some((h, l)) = select.having {
        let e = to_output(&h, &key_exprs).map_err(|c| {
            plan_err(
                l,
                format!("HAVING can use group keys and aggregates; {c} is neither"),
            )
        })?;
        let t = check(&e, &out_schema, l)?;
        if !matches!(t, DataType::Boolean | DataType::Null) {
            return Err(plan_err(
                l,
                format!("HAVING needs a condition, this is {}", type_label(&t)),
            ));
        }
        plan.having = Some(e);
    }
    plan.group_by = key_exprs;
    plan.aggregates = select.aggs;
    plan.output = out;
    Ok(plan)
}

/// The GROUP BY keys over the source scope, named; window bounds are not keys.
fn group_keys(
    scope: &Scope,
    group_exprs: &[&ast::Expr],
    select: &SelectList<'_>,
    start: Location,
) -> Result<Vec<(String, Expr, Location)>> {
    let mut keys: Vec<(String, Expr, Location)> = Vec::new();
    for (ki, g) in group_exprs.iter().enumerate() {
        let l = loc_of(*g, start);
        if let ast::Expr::Function(f) = g
            && matches!(
                f.name.to_string().to_lowercase().as_str(),
                "tumble" | "hop" | "session"
            )
        {
            continue;
        }
        let target = group_target(scope, g, &select.raw, l)?;
        // Flink puts the window bounds in GROUP BY; they identify the window, not a key.
        let ident_parts: Option<Vec<ast::Ident>> = match target {
            ast::Expr::Identifier(id) => Some(vec![id.clone()]),
            ast::Expr::CompoundIdentifier(ids) => Some(ids.clone()),
            _ => None,
        };
        if let Some(parts) = ident_parts
            && let Ok(r) = scope.resolve(&parts, l)
            && !matches!(r, Resolved::Column(_))
        {
            continue;
        }
        let e = Conv {
            scope,
            aggs: None,
            clause: "GROUP BY",
            fallback: l,
            aliases: &[],
        }
        .convert(target)?;
        check(&e, &scope.schema, l)?;
        if keys.iter().any(|(_, k, _)| *k == e) {
            continue;
        }
        let named = select
            .items
            .iter()
            .find(|it| it.explicit && it.expr == e)
            .map(|it| it.name.clone());
        let name = match (named, &e) {
            (Some(n), _) => n,
            (None, Expr::Column(c)) => c.rsplit('.').next().unwrap_or(c).to_string(),
            _ => format!("key{ki}"),
        };
        if keys.iter().any(|(n, _, _)| *n == name) {
            return Err(plan_err(
                l,
                format!("two group keys are named {name}; alias one in the SELECT list"),
            ));
        }
        keys.push((name, e, l));
    }
    Ok(keys)
}

/// What GROUP BY item `g` groups by: `GROUP BY 1` and `GROUP BY alias` name a SELECT item.
fn group_target<'q>(
    scope: &Scope,
    g: &'q ast::Expr,
    raw: &[(Option<String>, &'q ast::Expr)],
    l: Location,
) -> Result<&'q ast::Expr> {
    if let Some(n) = group_position(g) {
        let i: usize = n
            .parse()
            .map_err(|_| plan_err(l, format!("GROUP BY {n}: not a SELECT position")))?;
        return match raw.get(i.wrapping_sub(1)) {
            Some((_, e)) if i >= 1 => Ok(e),
            _ => Err(plan_err(
                l,
                format!("GROUP BY {n}: the SELECT list has {} items", raw.len()),
            )),
        };
    }
    if let ast::Expr::Identifier(id) = g
        && scope.resolve(std::slice::from_ref(id), l).is_err()
    {
        let a = id.value.to_lowercase();
        return Ok(
            match raw.iter().find(|(al, _)| al.as_deref() == Some(a.as_str())) {
                Some((_, e)) => e,
                None => g,
            },
        );
    }
    Ok(g)
}

/// The output scope: keys, window bounds, aggregates.
fn output_schema(
    scope: &Scope,
    keys: &[(String, Expr, Location)],
    aggs: &[AggregateDef],
    group: &Grouping,
) -> Result<Schema> {
    let start = group.start;
    let mut fields: Vec<Field> = Vec::new();
    for (n, e, l) in keys {
        fields.push(Field::new(n.clone(), check(e, &scope.schema, *l)?, true));
    }
    if group.windowed {
        for n in [WINDOW_START, WINDOW_END] {
            if keys.iter().any(|(k, _, _)| k == n) {
                return Err(plan_err(
                    start,
                    format!("a group key is named {n}, which the window's bound uses; alias it"),
                ));
            }
            fields.push(Field::new(n, arrow_type(SqlType::Timestamp), true));
        }
    }
    for a in aggs {
        if keys.iter().any(|(k, _, _)| *k == a.name) {
            return Err(plan_err(
                start,
                format!(
                    "a group key is named {}, which strata uses for an aggregate; alias it",
                    a.name
                ),
            ));
        }
        let t = match (a.function, &a.arg) {
            (
                AggregateFunction::Count
                | AggregateFunction::CountDistinct
                | AggregateFunction::ApproxCountDistinct,
                _,
            ) => DataType::Int64,
            (AggregateFunction::Avg, _) => DataType::Float64,
            (_, Some(arg)) => match check(arg, &scope.schema, start)? {
                DataType::Null => DataType::Int64,
                t => t,
            },
            (_, None) => DataType::Int64,
        };
        fields.push(Field::new(a.name.clone(), t, true));
    }
    Ok(Schema::new(fields))
}

/// The SELECT items over the output scope, with the window bounds where ksqlDB puts them.
fn aggregate_outputs(
    items: Vec<Item>,
    key_exprs: &[(String, Expr)],
    out_schema: &Schema,
    group: &Grouping,
) -> Result<Vec<(String, Expr)>> {
    let mut out: Vec<(String, Expr)> = Vec::new();
    let mut refs_window = false;
    for it in items {
        let e = to_output(&it.expr, key_exprs).map_err(|c| {
            plan_err(it.loc, format!("column {c} must appear in GROUP BY or inside an aggregate (e.g. LATEST_BY_OFFSET({c}))"))
        })?;
        refs_window |= mentions_window(&e);
        check(&e, out_schema, it.loc)?;
        push_output(&mut out, Item { expr: e, ..it })?;
    }
    // ksqlDB's windowed tables carry their window bounds, as WINDOWSTART and WINDOWEND do.
    if group.add_bounds && !refs_window {
        let at = out
            .iter()
            .take_while(
                |(_, e)| matches!(e, Expr::Column(c) if key_exprs.iter().any(|(k, _)| k == c)),
            )
            .count();
        for (i, n) in [WINDOW_START, WINDOW_END].iter().enumerate() {
            if out.iter().any(|(o, _)| o == n) {
                return Err(plan_err(
                    group.start,
                    format!("output column {n} would collide with the window bound; alias it"),
                ));
            }
            out.insert(at + i, (n.to_string(), Expr::Column(n.to_string())));
        }
    }
    Ok(out)
}

/// `GROUP BY 3`: the number, if the item is one.
fn group_position(g: &ast::Expr) -> Option<&str> {
    match g {
        ast::Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// `GROUP BY TUMBLE(ts, INTERVAL '1' HOUR)` (Flink's legacy group windows).
fn group_window(name: &str, f: &ast::Function, l: Location) -> Result<(WindowSpec, String)> {
    let FunctionArguments::List(list) = &f.args else {
        return Err(plan_err(
            l,
            format!("{}(ts, INTERVAL …) needs arguments", name.to_uppercase()),
        ));
    };
    let mut exprs = Vec::new();
    for a in &list.args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => exprs.push(e),
            _ => {
                return Err(plan_err(
                    l,
                    format!(
                        "{}(ts, INTERVAL …) takes positional arguments",
                        name.to_uppercase()
                    ),
                ));
            }
        }
    }
    let col = match exprs.first() {
        Some(ast::Expr::Identifier(id)) => id.value.to_lowercase(),
        Some(ast::Expr::CompoundIdentifier(ids)) => ids
            .last()
            .map(|i| i.value.to_lowercase())
            .unwrap_or_default(),
        _ => {
            return Err(plan_err(
                l,
                format!(
                    "the first argument of {}(…) is the time column",
                    name.to_uppercase()
                ),
            ));
        }
    };
    let iv = |i: usize| -> Result<i64> {
        match exprs.get(i) {
            Some(ast::Expr::Interval(iv)) => interval(iv, l),
            _ => Err(plan_err(
                l,
                format!("{}(…) needs INTERVAL arguments", name.to_uppercase()),
            )),
        }
    };
    let spec = match (name, exprs.len()) {
        ("tumble", 2) => WindowSpec::Tumbling { size_ms: iv(1)? },
        ("hop", 3) => {
            let (slide, size) = (iv(1)?, iv(2)?);
            if slide > size {
                return Err(plan_err(l, "HOP's slide is larger than its size"));
            }
            WindowSpec::Hopping {
                size_ms: size,
                advance_ms: slide,
            }
        }
        ("session", 2) => WindowSpec::Session { gap_ms: iv(1)? },
        _ => {
            return Err(plan_err(
                l,
                format!("wrong number of arguments to {}(…)", name.to_uppercase()),
            ));
        }
    };
    if matches!(
        spec,
        WindowSpec::Tumbling { size_ms: 0 }
            | WindowSpec::Session { gap_ms: 0 }
            | WindowSpec::Hopping { advance_ms: 0, .. }
    ) {
        return Err(plan_err(l, "a window must be longer than zero"));
    }
    Ok((spec, col))
}

/// The name of an unaliased SELECT item: a column's name, a function's name, or `expr<i>`.
fn derived_name(e: &ast::Expr, i: usize) -> String {
    match e {
        ast::Expr::Identifier(id) => id.value.to_lowercase(),
        ast::Expr::CompoundIdentifier(ids) => ids
            .last()
            .map(|x| x.value.to_lowercase())
            .unwrap_or_default(),
        ast::Expr::Nested(inner) => derived_name(inner, i),
        ast::Expr::Function(f) => {
            let n = f
                .name
                .0
                .last()
                .map(|p| p.to_string().to_lowercase())
                .unwrap_or_default();
            match n.as_str() {
                "windowstart" | "tumble_start" | "hop_start" | "session_start" => {
                    WINDOW_START.into()
                }
                "windowend" | "tumble_end" | "hop_end" | "session_end" => WINDOW_END.into(),
                _ => n.trim_matches(|c| c == '"' || c == '`').to_string(),
            }
        }
        ast::Expr::Cast { expr, .. } => derived_name(expr, i),
        _ => format!("expr{i}"),
    }
}

/// Appends an output column; derived names that repeat get `_1`, `_2`, …; given ones may not.
fn push_output(out: &mut Vec<(String, Expr)>, it: Item) -> Result<()> {
    let mut name = it.name.clone();
    if out.iter().any(|(n, _)| *n == name) {
        if it.explicit {
            return Err(plan_err(
                it.loc,
                format!("two output columns are named {name}; rename one with AS"),
            ));
        }
        let mut k = 1;
        while out.iter().any(|(n, _)| *n == format!("{}_{k}", it.name)) {
            k += 1;
        }
        name = format!("{}_{k}", it.name);
    }
    out.push((name, it.expr));
    Ok(())
}

/// `*` or `q.*`: stream columns (by name), then table columns (`alias.col`, named by `col`
/// unless the stream has it too, then `alias_col`).
fn star_columns(scope: &Scope, qual: Option<&str>) -> Vec<(String, Expr)> {
    let mut out = Vec::new();
    if qual.is_none_or(|q| scope.stream_quals.iter().any(|s| s == q)) {
        for c in &scope.stream.columns {
            out.push((c.name.clone(), Expr::Column(c.name.clone())));
        }
    }
    if let Some((t, a)) = &scope.table
        && qual.is_none_or(|q| q == a || q == t.name)
    {
        for c in &t.columns {
            let name = if scope.stream_has(&c.name) {
                format!("{a}_{}", c.name)
            } else {
                c.name.clone()
            };
            out.push((name, Expr::Column(format!("{a}.{}", c.name))));
        }
    }
    out
}

/// Rewrites a first-pass expression into the output scope: group keys become their names,
/// placeholders lose their marker, any other column is returned as the error.
fn to_output(e: &Expr, keys: &[(String, Expr)]) -> std::result::Result<Expr, String> {
    if let Some((n, _)) = keys.iter().find(|(_, k)| k == e) {
        return Ok(Expr::Column(n.clone()));
    }
    let f = |x: &Expr| to_output(x, keys).map(Box::new);
    Ok(match e {
        Expr::Column(c) => match c.strip_prefix(PH) {
            Some(p) => Expr::Column(p.to_string()),
            None => return Err(c.clone()),
        },
        Expr::Literal(_) => e.clone(),
        Expr::Binary { op, left, right } => Expr::Binary {
            op: *op,
            left: f(left)?,
            right: f(right)?,
        },
        Expr::Not(x) => Expr::Not(f(x)?),
        Expr::Negate(x) => Expr::Negate(f(x)?),
        Expr::IsNull { expr, negated } => Expr::IsNull {
            expr: f(expr)?,
            negated: *negated,
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => Expr::InList {
            expr: f(expr)?,
            list: list
                .iter()
                .map(|x| to_output(x, keys))
                .collect::<std::result::Result<_, _>>()?,
            negated: *negated,
        },
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => Expr::Between {
            expr: f(expr)?,
            low: f(low)?,
            high: f(high)?,
            negated: *negated,
        },
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => Expr::Case {
            operand: operand.as_deref().map(f).transpose()?,
            branches: branches
                .iter()
                .map(|(w, t)| Ok((to_output(w, keys)?, to_output(t, keys)?)))
                .collect::<std::result::Result<_, String>>()?,
            otherwise: otherwise.as_deref().map(f).transpose()?,
        },
        Expr::Cast { expr, to } => Expr::Cast {
            expr: f(expr)?,
            to: *to,
        },
        Expr::Function { name, args } => Expr::Function {
            name: name.clone(),
            args: args
                .iter()
                .map(|x| to_output(x, keys))
                .collect::<std::result::Result<_, _>>()?,
        },
    })
}

fn mentions_window(e: &Expr) -> bool {
    mentions(e, &|c| c == WINDOW_START || c == WINDOW_END)
}

fn mentions_prefix(e: &Expr, prefix: &str) -> bool {
    mentions(e, &|c| c.starts_with(prefix))
}

fn mentions(e: &Expr, p: &dyn Fn(&str) -> bool) -> bool {
    match e {
        Expr::Column(c) => p(c),
        Expr::Literal(_) => false,
        Expr::Binary { left, right, .. } => mentions(left, p) || mentions(right, p),
        Expr::Not(x)
        | Expr::Negate(x)
        | Expr::IsNull { expr: x, .. }
        | Expr::Cast { expr: x, .. } => mentions(x, p),
        Expr::InList { expr, list, .. } => mentions(expr, p) || list.iter().any(|x| mentions(x, p)),
        Expr::Between {
            expr, low, high, ..
        } => mentions(expr, p) || mentions(low, p) || mentions(high, p),
        Expr::Case {
            operand,
            branches,
            otherwise,
        } => {
            operand.as_deref().is_some_and(|x| mentions(x, p))
                || branches
                    .iter()
                    .any(|(w, t)| mentions(w, p) || mentions(t, p))
                || otherwise.as_deref().is_some_and(|x| mentions(x, p))
        }
        Expr::Function { args, .. } => args.iter().any(|x| mentions(x, p)),
    }
}
