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

use arrow::datatypes::{DataType, Field, Schema};
use sqlparser::ast::{
    self, BinaryOperator, CeilFloorKind, DateTimeField, DuplicateTreatment, FunctionArg,
    FunctionArgExpr, FunctionArguments, GroupByExpr, JoinConstraint, JoinOperator, SelectItem,
    SelectItemQualifiedWildcardKind, SetExpr, Spanned, TableFactor, UnaryOperator, Value,
};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::catalog::Catalog;
use crate::error::{Error, NameKind, Result};
use crate::functions;
use crate::plan::{
    AggregateDef, AggregateFunction, BinaryOp, EmitMode, Expr, JoinDef, Literal, SourceDef,
    SourceKind, SqlType, ViewPlan, WindowSpec,
};
use crate::tokens::{TYPE_HINT, dialect, plan_err, sql_err, sql_type_named};
use crate::types::arrow_type;
use crate::typing::data_type;
use crate::window::{self, Extracted};

const PH: char = '\0';
const WINDOW_START: &str = "window_start";
const WINDOW_END: &str = "window_end";

/// Plans the query in `toks` (a whole SELECT, streaming clauses included) as view `name`.
pub(crate) fn plan_query(
    toks: &[TokenWithSpan],
    end: Location,
    name: &str,
    catalog: &dyn Catalog,
) -> Result<ViewPlan> {
    let ex = window::prepass(toks, end)?;
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

fn loc_of(e: &impl Spanned, fallback: Location) -> Location {
    let s = e.span().start;
    if s.line == 0 { fallback } else { s }
}

fn unsupported(loc: Location, what: &str, instead: &str) -> Error {
    sql_err(loc, format!("{what} is not supported; {instead}"))
}

/// Where a name resolved to.
enum Resolved {
    Column(String),
    WindowStart,
    WindowEnd,
    WindowTime,
}

/// The names a query can see.
struct Scope {
    stream: SourceDef,
    stream_quals: Vec<String>,
    table: Option<(SourceDef, String)>,
    windowed: bool,
    /// The source-scope schema, for type checks.
    schema: Schema,
}

const SYSTEM: [(&str, SqlType); 4] = [
    ("rowtime", SqlType::Timestamp),
    ("_partition", SqlType::BigInt),
    ("_offset", SqlType::BigInt),
    ("_key", SqlType::Varchar),
];

impl Scope {
    fn new(
        stream: SourceDef,
        alias: Option<String>,
        table: Option<(SourceDef, String)>,
        windowed: bool,
    ) -> Scope {
        let mut fields: Vec<Field> = stream
            .columns
            .iter()
            .map(|c| Field::new(c.name.clone(), arrow_type(c.data_type), true))
            .collect();
        for (n, t) in SYSTEM {
            if !stream.columns.iter().any(|c| c.name == n) {
                fields.push(Field::new(n, arrow_type(t), true));
            }
        }
        if let Some((t, a)) = &table {
            for c in &t.columns {
                fields.push(Field::new(
                    format!("{a}.{}", c.name),
                    arrow_type(c.data_type),
                    true,
                ));
            }
        }
        let mut stream_quals = vec![stream.name.clone()];
        stream_quals.extend(alias);
        Scope {
            stream,
            stream_quals,
            table,
            windowed,
            schema: Schema::new(fields),
        }
    }

    fn stream_has(&self, col: &str) -> bool {
        self.stream.columns.iter().any(|c| c.name == col) || SYSTEM.iter().any(|(n, _)| *n == col)
    }

    fn window_name(&self, col: &str) -> Option<Resolved> {
        if !self.windowed {
            return None;
        }
        match col {
            "window_start" | "windowstart" => Some(Resolved::WindowStart),
            "window_end" | "windowend" => Some(Resolved::WindowEnd),
            "window_time" => Some(Resolved::WindowTime),
            _ => None,
        }
    }

    fn resolve(&self, parts: &[ast::Ident], loc: Location) -> Result<Resolved> {
        let parts: Vec<String> = parts.iter().map(|p| p.value.to_lowercase()).collect();
        match parts.as_slice() {
            [col] => {
                let in_stream = self.stream_has(col);
                let in_table = self
                    .table
                    .as_ref()
                    .is_some_and(|(t, _)| t.columns.iter().any(|c| c.name == *col));
                match (in_stream, in_table) {
                    (true, true) => {
                        let a = self.table.as_ref().map_or("", |(_, a)| a.as_str());
                        Err(plan_err(
                            loc,
                            format!(
                                "column {col} is in both the stream and the table; write {}.{col} or {a}.{col}",
                                self.stream_quals.last().map_or("", |s| s.as_str())
                            ),
                        ))
                    }
                    (true, false) => Ok(Resolved::Column(col.clone())),
                    (false, true) => {
                        let a = self.table.as_ref().map_or("", |(_, a)| a.as_str());
                        Ok(Resolved::Column(format!("{a}.{col}")))
                    }
                    (false, false) => self.window_name(col).ok_or_else(|| self.unknown(col, loc)),
                }
            }
            [q, col] => {
                if self.stream_quals.contains(q) {
                    if self.stream_has(col) {
                        return Ok(Resolved::Column(col.clone()));
                    }
                    return self
                        .window_name(col)
                        .ok_or_else(|| self.unknown(&format!("{q}.{col}"), loc));
                }
                if let Some((t, a)) = &self.table
                    && (q == a || *q == t.name)
                {
                    if t.columns.iter().any(|c| c.name == *col) {
                        return Ok(Resolved::Column(format!("{a}.{col}")));
                    }
                    return Err(self.unknown(&format!("{q}.{col}"), loc));
                }
                Err(plan_err(
                    loc,
                    format!(
                        "unknown qualifier {q} in {q}.{col}; the query reads {}",
                        self.names()
                    ),
                ))
            }
            _ => Err(plan_err(
                loc,
                format!(
                    "cannot resolve {}; write column or alias.column",
                    parts.join(".")
                ),
            )),
        }
    }

    fn names(&self) -> String {
        let mut s = self.stream_quals.join(" / ");
        if let Some((t, a)) = &self.table {
            s.push_str(&format!(" and {} / {a}", t.name));
        }
        s
    }

    fn unknown(&self, col: &str, loc: Location) -> Error {
        let mut cols: Vec<String> = self.stream.columns.iter().map(|c| c.name.clone()).collect();
        if let Some((t, a)) = &self.table {
            cols.extend(t.columns.iter().map(|c| format!("{a}.{}", c.name)));
        }
        let extra = if self.windowed {
            ", window_start, window_end"
        } else {
            ""
        };
        plan_err(
            loc,
            format!(
                "unknown column {col}; available: {}, rowtime{extra}",
                cols.join(", ")
            ),
        )
    }
}

/// Converting sqlparser expressions into plan expressions.
struct Conv<'a> {
    scope: &'a Scope,
    /// `Some` where aggregates are allowed (SELECT list, HAVING): they are collected here.
    aggs: Option<&'a mut Vec<AggregateDef>>,
    /// What is being converted, for messages ("WHERE", "GROUP BY", …).
    clause: &'static str,
    fallback: Location,
    /// SELECT aliases HAVING may use (`HAVING view_count > 10`), as first-pass expressions.
    aliases: &'a [(String, Expr)],
}

fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "sum"
            | "min"
            | "max"
            | "avg"
            | "count_distinct"
            | "approx_count_distinct"
            | "earliest_by_offset"
            | "latest_by_offset"
            | "first_value"
            | "last_value"
    )
}

fn window_function(name: &str) -> Option<Resolved> {
    match name {
        "tumble_start" | "hop_start" | "session_start" => Some(Resolved::WindowStart),
        "tumble_end" | "hop_end" | "session_end" => Some(Resolved::WindowEnd),
        "tumble_rowtime" | "hop_rowtime" | "session_rowtime" => Some(Resolved::WindowTime),
        _ => None,
    }
}

fn lit(l: Literal) -> Expr {
    Expr::Literal(l)
}

fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    }
}

fn func(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function {
        name: name.into(),
        args,
    }
}

/// The SQL type a CAST target names.
fn cast_type(t: &ast::DataType, loc: Location) -> Result<SqlType> {
    let text = t.to_string();
    let base: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    sql_type_named(&base).ok_or_else(|| unsupported(loc, &format!("type {text}"), TYPE_HINT))
}

fn number(n: &str, loc: Location) -> Result<Literal> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Literal::Int(i));
    }
    n.parse::<f64>()
        .map(Literal::Float)
        .map_err(|_| sql_err(loc, format!("{n} is not a number strata can hold")))
}

/// A literal value.
fn literal(v: &Value, loc: Location) -> Result<Literal> {
    Ok(match v {
        Value::Number(n, _) => number(n, loc)?,
        Value::SingleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::NationalStringLiteral(s) => Literal::String(s.clone()),
        Value::Boolean(b) => Literal::Boolean(*b),
        Value::Null => Literal::Null,
        other => {
            return Err(unsupported(
                loc,
                &format!("literal {other}"),
                "use a number, 'string', TRUE/FALSE or NULL",
            ));
        }
    })
}

/// The plan operator of a SQL binary operator.
fn binary_op(op: &BinaryOperator, loc: Location) -> Result<BinaryOp> {
    Ok(match op {
        BinaryOperator::Plus => BinaryOp::Plus,
        BinaryOperator::Minus => BinaryOp::Minus,
        BinaryOperator::Multiply => BinaryOp::Multiply,
        BinaryOperator::Divide => BinaryOp::Divide,
        BinaryOperator::Modulo => BinaryOp::Modulo,
        BinaryOperator::Eq => BinaryOp::Eq,
        BinaryOperator::NotEq => BinaryOp::NotEq,
        BinaryOperator::Lt => BinaryOp::Lt,
        BinaryOperator::LtEq => BinaryOp::LtEq,
        BinaryOperator::Gt => BinaryOp::Gt,
        BinaryOperator::GtEq => BinaryOp::GtEq,
        BinaryOperator::And => BinaryOp::And,
        BinaryOperator::Or => BinaryOp::Or,
        BinaryOperator::StringConcat => BinaryOp::Concat,
        other => {
            return Err(unsupported(
                loc,
                &format!("operator {other}"),
                "use + - * / % = <> < <= > >= AND OR ||",
            ));
        }
    })
}

impl Conv<'_> {
    fn window_ref(&self, r: Resolved, loc: Location) -> Result<Expr> {
        if self.aggs.is_none() {
            return Err(plan_err(
                loc,
                format!(
                    "window bounds are not known in {}; filter on them in HAVING",
                    self.clause
                ),
            ));
        }
        Ok(match r {
            Resolved::Column(c) => Expr::Column(c),
            Resolved::WindowStart => Expr::Column(format!("{PH}{WINDOW_START}")),
            Resolved::WindowEnd => Expr::Column(format!("{PH}{WINDOW_END}")),
            // Flink's window_time: the last millisecond inside the window.
            Resolved::WindowTime => bin(
                BinaryOp::Minus,
                Expr::Column(format!("{PH}{WINDOW_END}")),
                lit(Literal::Int(1)),
            ),
        })
    }

    fn convert(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let loc = loc_of(e, self.fallback);
        Ok(match e {
            E::Identifier(id) => match self.scope.resolve(std::slice::from_ref(id), loc) {
                Ok(r) => self.resolved(r, loc)?,
                Err(e) => {
                    let name = id.value.to_lowercase();
                    match self.aliases.iter().find(|(a, _)| *a == name) {
                        Some((_, x)) => x.clone(),
                        None => return Err(e),
                    }
                }
            },
            E::CompoundIdentifier(ids) => {
                let r = self.scope.resolve(ids, loc)?;
                self.resolved(r, loc)?
            }
            E::Nested(inner) => self.convert(inner)?,
            E::Value(v) => lit(literal(&v.value, loc)?),
            E::TypedString(ts) => {
                let to = cast_type(&ts.data_type, loc)?;
                let s = match &ts.value.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                Expr::Cast {
                    expr: Box::new(lit(Literal::String(s))),
                    to,
                }
            }
            E::Interval(iv) => lit(Literal::IntervalMs(interval(iv, loc)?)),
            E::BinaryOp { left, op, right } => bin(
                binary_op(op, loc)?,
                self.convert(left)?,
                self.convert(right)?,
            ),
            E::UnaryOp { op, expr } => self.unary(op, expr, loc)?,
            E::IsNull(x) => Expr::IsNull {
                expr: Box::new(self.convert(x)?),
                negated: false,
            },
            E::IsNotNull(x) => Expr::IsNull {
                expr: Box::new(self.convert(x)?),
                negated: true,
            },
            E::IsTrue(x) | E::IsNotFalse(x) | E::IsFalse(x) | E::IsNotTrue(x) => {
                self.truth(e, x)?
            }
            E::In {
                target:
                    ast::InTarget::Subquery(_) | ast::InTarget::Unnest(_) | ast::InTarget::Table { .. },
                ..
            } => {
                return Err(unsupported(
                    loc,
                    "IN (subquery)",
                    "list the values: x IN (1, 2, 3)",
                ));
            }
            E::In {
                expr,
                target: ast::InTarget::List(list),
                negated,
                ..
            } => Expr::InList {
                expr: Box::new(self.convert(expr)?),
                list: self.convert_all(list)?,
                negated: *negated,
            },
            E::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between {
                expr: Box::new(self.convert(expr)?),
                low: Box::new(self.convert(low)?),
                high: Box::new(self.convert(high)?),
                negated: *negated,
            },
            E::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            }
            | E::ILike {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => self.like(e, *negated, *any, expr, pattern, escape_char.is_some())?,
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref())?,
            E::Cast {
                expr,
                data_type,
                format,
                ..
            } => {
                if format.is_some() {
                    return Err(unsupported(loc, "CAST … FORMAT", "CAST without FORMAT"));
                }
                Expr::Cast {
                    expr: Box::new(self.convert(expr)?),
                    to: cast_type(data_type, loc)?,
                }
            }
            E::Substring { .. }
            | E::Trim { .. }
            | E::Ceil { .. }
            | E::Floor { .. }
            | E::Extract { .. } => self.function_syntax(e, loc)?,
            E::Function(f) => self.function(f, loc)?,
            E::Subquery(_) | E::Exists { .. } => {
                return Err(unsupported(
                    loc,
                    "a subquery",
                    "join a table (`JOIN t ON s.k = t.pk`) or create a view",
                ));
            }
            E::Wildcard(_) | E::QualifiedWildcard(..) => {
                return Err(unsupported(loc, "* here", "use COUNT(*) or SELECT *"));
            }
            other => {
                let text = other.to_string();
                let short: String = text.chars().take(40).collect();
                return Err(unsupported(
                    loc,
                    &format!("the expression `{short}`"),
                    "see docs/sql.md for the operators and functions strata has",
                ));
            }
        })
    }

    /// Every expression of `list`, converted.
    fn convert_all(&mut self, list: &[ast::Expr]) -> Result<Vec<Expr>> {
        list.iter().map(|x| self.convert(x)).collect()
    }

    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Result<Expr> {
        Ok(Expr::Case {
            operand: operand.map(|o| self.convert(o).map(Box::new)).transpose()?,
            branches: conditions
                .iter()
                .map(|w| Ok((self.convert(&w.condition)?, self.convert(&w.result)?)))
                .collect::<Result<_>>()?,
            otherwise: else_result
                .map(|o| self.convert(o).map(Box::new))
                .transpose()?,
        })
    }

    /// `NOT x`, `+x`, `-x` (a negated number literal folds).
    fn unary(&mut self, op: &UnaryOperator, expr: &ast::Expr, loc: Location) -> Result<Expr> {
        Ok(match op {
            UnaryOperator::Not => Expr::Not(Box::new(self.convert(expr)?)),
            UnaryOperator::Plus => self.convert(expr)?,
            UnaryOperator::Minus => match self.convert(expr)? {
                Expr::Literal(Literal::Int(i)) => lit(Literal::Int(i.wrapping_neg())),
                Expr::Literal(Literal::Float(f)) => lit(Literal::Float(-f)),
                Expr::Literal(Literal::IntervalMs(i)) => lit(Literal::IntervalMs(-i)),
                other => Expr::Negate(Box::new(other)),
            },
            other => {
                return Err(unsupported(
                    loc,
                    &format!("operator {other}"),
                    "use NOT or -",
                ));
            }
        })
    }

    /// `x IS [NOT] TRUE/FALSE`: `COALESCE(x = want, FALSE)`, negated for the NOT forms.
    fn truth(&mut self, e: &ast::Expr, x: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let want = matches!(e, E::IsTrue(_) | E::IsNotTrue(_));
        let is = func(
            "coalesce",
            vec![
                bin(BinaryOp::Eq, self.convert(x)?, lit(Literal::Boolean(want))),
                lit(Literal::Boolean(false)),
            ],
        );
        Ok(if matches!(e, E::IsNotTrue(_) | E::IsNotFalse(_)) {
            Expr::Not(Box::new(is))
        } else {
            is
        })
    }

    /// `x [NOT] LIKE p`; ILIKE compares the lower-case forms.
    fn like(
        &mut self,
        e: &ast::Expr,
        negated: bool,
        any: bool,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: bool,
    ) -> Result<Expr> {
        use ast::Expr as E;
        let loc = loc_of(e, self.fallback);
        if any || escape {
            return Err(unsupported(
                loc,
                "LIKE ANY / ESCAPE",
                "write a plain `x LIKE 'pattern'` (% and _ wildcards, \\ escapes)",
            ));
        }
        let (mut l, mut r) = (self.convert(expr)?, self.convert(pattern)?);
        if matches!(e, E::ILike { .. }) {
            l = func("lower", vec![l]);
            r = func("lower", vec![r]);
        }
        let op = if negated {
            BinaryOp::NotLike
        } else {
            BinaryOp::Like
        };
        Ok(bin(op, l, r))
    }

    /// SQL's function-call syntax forms (`SUBSTRING(s FROM a FOR n)`, `TRIM(LEADING FROM s)`,
    /// `CEIL(x)`, `EXTRACT(HOUR FROM ts)`) as calls of the registered functions.
    fn function_syntax(&mut self, e: &ast::Expr, loc: Location) -> Result<Expr> {
        use ast::Expr as E;
        Ok(match e {
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.convert(expr)?];
                args.push(match substring_from {
                    Some(f) => self.convert(f)?,
                    None => lit(Literal::Int(1)),
                });
                if let Some(f) = substring_for {
                    args.push(self.convert(f)?);
                }
                func("substring", args)
            }
            E::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters,
            } => {
                if trim_what.is_some() || trim_characters.is_some() {
                    return Err(unsupported(
                        loc,
                        "TRIM of given characters",
                        "TRIM(x) removes whitespace",
                    ));
                }
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "trim",
                };
                func(name, vec![self.convert(expr)?])
            }
            E::Ceil { expr, field } | E::Floor { expr, field } => {
                let name = if matches!(e, E::Ceil { .. }) {
                    "ceil"
                } else {
                    "floor"
                };
                match field {
                    CeilFloorKind::DateTimeField(DateTimeField::NoDateTime) => {
                        func(name, vec![self.convert(expr)?])
                    }
                    _ => {
                        return Err(unsupported(
                            loc,
                            &format!("{}(x TO unit) or with a scale", name.to_uppercase()),
                            "use a window to bucket time",
                        ));
                    }
                }
            }
            E::Extract { field, expr, .. } => {
                let name = match field {
                    DateTimeField::Hour => "hour",
                    DateTimeField::Minute => "minute",
                    DateTimeField::Second => "second",
                    _ => {
                        return Err(unsupported(
                            loc,
                            &format!("EXTRACT({field} FROM …)"),
                            "EXTRACT takes HOUR, MINUTE or SECOND",
                        ));
                    }
                };
                func(name, vec![self.convert(expr)?])
            }
            other => {
                return Err(unsupported(
                    loc,
                    &format!("the expression `{other}`"),
                    "see docs/sql.md for the operators and functions strata has",
                ));
            }
        })
    }

    fn resolved(&self, r: Resolved, loc: Location) -> Result<Expr> {
        match r {
            Resolved::Column(c) => Ok(Expr::Column(c)),
            w => self.window_ref(w, loc),
        }
    }

    fn function(&mut self, f: &ast::Function, loc: Location) -> Result<Expr> {
        let name = f
            .name
            .0
            .last()
            .map(|p| p.to_string().to_lowercase())
            .unwrap_or_default();
        let name = name.trim_matches(|c| c == '"' || c == '`').to_string();
        if f.over.is_some() {
            return Err(unsupported(
                loc,
                "OVER (…) window functions",
                "aggregate with GROUP BY over a window instead, or rank rows per window with a window Top-N: SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY c DESC) AS rn FROM TABLE(TUMBLE(…))) WHERE rn <= 3",
            ));
        }
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(unsupported(
                loc,
                &format!("{}(…) with WITHIN GROUP / NULLS", name.to_uppercase()),
                "filter in WHERE or with CASE",
            ));
        }
        if f.filter.is_some() && !is_aggregate(&name) {
            return Err(plan_err(
                loc,
                format!(
                    "FILTER (WHERE …) applies to aggregates (COUNT, SUM, MIN, MAX, AVG, …); {}(…) is not one: use CASE WHEN … THEN … END",
                    name.to_uppercase()
                ),
            ));
        }
        let (distinct, args): (bool, Vec<&FunctionArg>) = match &f.args {
            FunctionArguments::None => (false, vec![]),
            FunctionArguments::List(l) => {
                if !l.clauses.is_empty() {
                    return Err(unsupported(
                        loc,
                        &format!("clauses inside {}(…)", name.to_uppercase()),
                        "pass plain arguments",
                    ));
                }
                (
                    matches!(l.duplicate_treatment, Some(DuplicateTreatment::Distinct)),
                    l.args.iter().collect(),
                )
            }
            FunctionArguments::Subquery(_) => {
                return Err(unsupported(
                    loc,
                    "a subquery argument",
                    "pass columns or expressions",
                ));
            }
        };
        let mut star = false;
        let mut exprs = Vec::new();
        for a in &args {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => exprs.push(x),
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                _ => {
                    return Err(unsupported(
                        loc,
                        &format!("this argument form in {}(…)", name.to_uppercase()),
                        "pass positional arguments",
                    ));
                }
            }
        }
        if is_aggregate(&name) {
            return self.aggregate(&name, distinct, star, &exprs, f.filter.as_deref(), loc);
        }
        if distinct || star {
            return Err(unsupported(
                loc,
                &format!(
                    "{}(DISTINCT …) / {}(*)",
                    name.to_uppercase(),
                    name.to_uppercase()
                ),
                "DISTINCT and * go in COUNT",
            ));
        }
        if let Some(w) = window_function(&name) {
            return self.window_ref(w, loc);
        }
        if matches!(name.as_str(), "tumble" | "hop" | "session") {
            return Err(plan_err(
                loc,
                format!(
                    "{}(…) belongs in GROUP BY (group window) or in FROM TABLE({}(TABLE t, DESCRIPTOR(ts), …))",
                    name.to_uppercase(),
                    name.to_uppercase()
                ),
            ));
        }
        let args = exprs
            .iter()
            .map(|x| self.convert(x))
            .collect::<Result<Vec<_>>>()?;
        Ok(func(functions::plan_name(&name), args))
    }

    fn aggregate(
        &mut self,
        name: &str,
        distinct: bool,
        star: bool,
        exprs: &[&ast::Expr],
        filter: Option<&ast::Expr>,
        loc: Location,
    ) -> Result<Expr> {
        let upper = name.to_uppercase();
        let function = match (name, distinct) {
            ("count", true) | ("count_distinct", false) => AggregateFunction::CountDistinct,
            ("count", false) => AggregateFunction::Count,
            ("sum", false) => AggregateFunction::Sum,
            ("min", _) => AggregateFunction::Min,
            ("max", _) => AggregateFunction::Max,
            ("avg", false) => AggregateFunction::Avg,
            ("approx_count_distinct", _) => AggregateFunction::ApproxCountDistinct,
            ("earliest_by_offset" | "first_value", false) => AggregateFunction::Earliest,
            ("latest_by_offset" | "last_value", false) => AggregateFunction::Latest,
            _ => {
                return Err(unsupported(
                    loc,
                    &format!("{upper}(DISTINCT …)"),
                    "DISTINCT works with COUNT: COUNT(DISTINCT x)",
                ));
            }
        };
        let clause = self.clause;
        if self.scope.stream.kind == SourceKind::Table && !function.retracts() {
            let shown = if function == AggregateFunction::CountDistinct {
                "COUNT(DISTINCT …)".to_string()
            } else {
                upper.clone()
            };
            return Err(plan_err(
                loc,
                format!(
                    "{shown} cannot aggregate a table: an update of a row in {} takes back the old row, which {shown} cannot undo; use COUNT, SUM or AVG, or aggregate the stream instead",
                    self.scope.stream.name
                ),
            ));
        }
        if self.aggs.is_none() {
            return Err(plan_err(
                loc,
                format!(
                    "aggregate {upper}(…) is not allowed in {clause}; aggregates go in SELECT or HAVING"
                ),
            ));
        }
        let arg = if star {
            if function != AggregateFunction::Count || !exprs.is_empty() {
                return Err(plan_err(
                    loc,
                    format!("{upper}(*) is not defined; only COUNT(*) counts rows"),
                ));
            }
            None
        } else {
            if exprs.len() != 1 {
                return Err(plan_err(
                    loc,
                    format!("{upper}(…) takes one argument, got {}", exprs.len()),
                ));
            }
            let mut inner = Conv {
                scope: self.scope,
                aggs: None,
                clause: "an aggregate's argument",
                fallback: loc,
                aliases: &[],
            };
            let arg = inner.convert(exprs[0]).map_err(|e| match e {
                Error::Plan(m) if m.contains("not allowed in an aggregate") => {
                    plan_err(loc, "aggregates cannot be nested")
                }
                e => e,
            })?;
            let t = check(&arg, &self.scope.schema, loc)?;
            if matches!(function, AggregateFunction::Sum | AggregateFunction::Avg)
                && !matches!(t, DataType::Int64 | DataType::Float64)
            {
                return Err(plan_err(
                    loc,
                    format!("{upper} needs a number, its argument is {}", type_label(&t)),
                ));
            }
            Some(arg)
        };
        // COUNT(1), COUNT('x'): every row counts, as COUNT(*).
        let arg = match (function, arg) {
            (AggregateFunction::Count, Some(Expr::Literal(l))) if l != Literal::Null => None,
            (_, a) => a,
        };
        let arg = match filter {
            None => arg,
            Some(cond) => Some(self.filtered(function, &upper, arg, cond, loc)?),
        };
        let aggs = self
            .aggs
            .as_deref_mut()
            .ok_or_else(|| plan_err(loc, "aggregate not allowed here"))?;
        let existing = aggs
            .iter()
            .find(|a| a.function == function && a.arg == arg)
            .map(|a| a.name.clone());
        let name = match existing {
            Some(n) => n,
            None => {
                let n = format!("agg{}", aggs.len());
                aggs.push(AggregateDef {
                    function,
                    arg,
                    name: n.clone(),
                });
                n
            }
        };
        Ok(Expr::Column(format!("{PH}{name}")))
    }
}

impl Conv<'_> {
    /// The argument of `agg(arg) FILTER (WHERE cond)`: `CASE WHEN cond THEN arg END` (`THEN 1`
    /// for `COUNT(*)`). The aggregates that take FILTER skip NULL inputs, and return what they
    /// return over no rows when every row is filtered out (COUNT 0, the others NULL), so the
    /// rewrite is the filter. It depends on the row's values only, so a retracted table row
    /// takes back exactly what it added.
    fn filtered(
        &self,
        function: AggregateFunction,
        upper: &str,
        arg: Option<Expr>,
        cond: &ast::Expr,
        loc: Location,
    ) -> Result<Expr> {
        if matches!(
            function,
            AggregateFunction::Earliest | AggregateFunction::Latest
        ) {
            return Err(plan_err(
                loc,
                format!(
                    "{upper}(…) FILTER (WHERE …) is not supported: {upper} keeps NULL values, so a filtered-out row would still count; filter the rows in WHERE instead"
                ),
            ));
        }
        let l = loc_of(cond, loc);
        let mut inner = Conv {
            scope: self.scope,
            aggs: None,
            clause: "FILTER (WHERE …)",
            fallback: l,
            aliases: &[],
        };
        let cond = inner.convert(cond)?;
        let t = check(&cond, &self.scope.schema, l)?;
        if !matches!(t, DataType::Boolean | DataType::Null) {
            return Err(plan_err(
                l,
                format!(
                    "FILTER (WHERE …) of {upper}(…) needs a condition (BOOLEAN), got {}",
                    type_label(&t)
                ),
            ));
        }
        Ok(Expr::Case {
            operand: None,
            branches: vec![(cond, arg.unwrap_or(Expr::Literal(Literal::Int(1))))],
            otherwise: None,
        })
    }
}

fn type_label(t: &DataType) -> String {
    crate::types::sql_type(t)
        .map_or_else(|| "NULL".to_string(), |s| format!("{s:?}").to_uppercase())
}

/// Type-checks `e`, with the location in the message.
fn check(e: &Expr, schema: &Schema, loc: Location) -> Result<DataType> {
    data_type(e, schema).map_err(|err| match err {
        Error::Plan(m) => plan_err(loc, m),
        Error::Unknown { kind, name } => plan_err(loc, format!("unknown {kind} {name}")),
        e => e,
    })
}

/// `INTERVAL '5' SECOND` in milliseconds.
fn interval(iv: &ast::Interval, loc: Location) -> Result<i64> {
    if iv.last_field.is_some() {
        return Err(unsupported(
            loc,
            "INTERVAL … TO …",
            "write a single unit, e.g. INTERVAL '90' SECOND",
        ));
    }
    let text = match iv.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s.clone(),
            Value::Number(n, _) => n.clone(),
            other => other.to_string(),
        },
        other => {
            return Err(unsupported(
                loc,
                &format!("INTERVAL {other}"),
                "write INTERVAL '5' SECOND",
            ));
        }
    };
    let unit = iv.leading_field.as_ref().map(|f| f.to_string());
    let (n, unit) = match unit {
        Some(u) => (text, u),
        None => {
            let mut p = text.split_whitespace();
            match (p.next(), p.next(), p.next()) {
                (Some(n), Some(u), None) => (n.to_string(), u.to_string()),
                _ => {
                    return Err(sql_err(
                        loc,
                        format!("cannot read INTERVAL '{text}'; write e.g. INTERVAL '5' SECOND"),
                    ));
                }
            }
        }
    };
    window::scaled(&n, &unit, loc, "INTERVAL")
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
        let s = select_of(q, start)?;
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
