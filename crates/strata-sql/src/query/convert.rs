//! Converting sqlparser expressions into plan expressions: names resolved in a [`Scope`],
//! SQL's syntax forms (`IS TRUE`, `ILIKE`, `EXTRACT`, `TRIM(LEADING …)`) written as the
//! operators and registered functions they mean, aggregates collected as placeholder columns
//! (with `FILTER (WHERE …)` folded into their argument).

use arrow::datatypes::DataType;
use sqlparser::ast::{
    self, BinaryOperator, CeilFloorKind, DateTimeField, DuplicateTreatment, FunctionArg,
    FunctionArgExpr, FunctionArguments, UnaryOperator, Value,
};
use sqlparser::tokenizer::Location;

use crate::error::{Error, Result};
use crate::functions;
use crate::plan::{AggregateDef, AggregateFunction, BinaryOp, Expr, Literal, SourceKind, SqlType};
use crate::tokens::{TYPE_HINT, plan_err, sql_err, sql_type_named};
use crate::window;

use super::scope::{
    PH, Resolved, Scope, WINDOW_END, WINDOW_START, check, loc_of, type_label, unsupported,
};

/// Converting sqlparser expressions into plan expressions.
pub(super) struct Conv<'a> {
    pub(super) scope: &'a Scope,
    /// `Some` where aggregates are allowed (SELECT list, HAVING): they are collected here.
    pub(super) aggs: Option<&'a mut Vec<AggregateDef>>,
    /// What is being converted, for messages ("WHERE", "GROUP BY", …).
    pub(super) clause: &'static str,
    pub(super) fallback: Location,
    /// SELECT aliases HAVING may use (`HAVING view_count > 10`), as first-pass expressions.
    pub(super) aliases: &'a [(String, Expr)],
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

pub(super) fn lit(l: Literal) -> Expr {
    Expr::Literal(l)
}

pub(super) fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    }
}

pub(super) fn func(name: &str, args: Vec<Expr>) -> Expr {
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

    pub(super) fn convert(&mut self, e: &ast::Expr) -> Result<Expr> {
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
        if matches!(name.as_str(), "explode" | "unnest") {
            return Err(plan_err(
                loc,
                format!(
                    "{}(…) is a table function: write it as a whole SELECT item, once per query (`SELECT EXPLODE(SPLIT(line, ' ')) AS word FROM lines`), or join it: `FROM lines CROSS JOIN UNNEST(SPLIT(line, ' ')) AS t(word)`",
                    name.to_uppercase()
                ),
            ));
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

/// `INTERVAL '5' SECOND` in milliseconds.
pub(super) fn interval(iv: &ast::Interval, loc: Location) -> Result<i64> {
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
