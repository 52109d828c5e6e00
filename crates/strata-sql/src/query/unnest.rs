//! Table functions: one row per element of an array. ksqlDB writes `EXPLODE(arr)` as a SELECT
//! item; Flink joins the stream with `UNNEST(arr) AS t(x)` (`CROSS JOIN`, a comma, or `JOIN …
//! ON TRUE`) or with `LATERAL TABLE(arr) AS t(x)`, which [`rewrite_lateral`] turns into the
//! same UNNEST before sqlparser sees it.
//!
//! Whichever the form, the query plans as if the stream had one more column, the element
//! ([`UnnestDef::column`]): the SELECT item or the join is taken out of the query
//! ([`take_table_function`]) and the scope gains the column ([`extend_scope`]), so WHERE,
//! GROUP BY (`GROUP BY word`), aggregates and the SELECT list read the element like any
//! column. The engine explodes each batch before the view's filter.

use sqlparser::ast::{
    self, FunctionArg, FunctionArgExpr, FunctionArguments, JoinConstraint, JoinOperator,
    SelectItem, TableFactor,
};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Word};

use crate::error::Result;
use crate::plan::{ColumnDef, UnnestDef};
use crate::tokens::{is_kw, plan_err, sql_err};
use crate::types::{element_of, sql_type, type_name};

use super::convert::Conv;
use super::scope::{Scope, check, loc_of, unsupported};

/// A table function found in a query, before its array is planned.
pub(super) struct TableFunction {
    /// The array expression.
    array: ast::Expr,
    /// The element column's name.
    column: String,
    /// Flink's table alias (`AS t(x)`: `t`), which may qualify the column.
    qualifier: Option<String>,
    /// Where the function is written.
    loc: Location,
    /// How it was written, for messages: `EXPLODE` or `UNNEST`.
    what: &'static str,
}

/// Flink's `LATERAL TABLE(f(…))` as `UNNEST(f(…))`, keeping the locations of the tokens (so
/// errors still point at the user's text): strata's table functions are arrays made rows.
pub(crate) fn rewrite_lateral(toks: &[TokenWithSpan]) -> Vec<TokenWithSpan> {
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let lateral_table = is_kw(&toks[i].token, "LATERAL")
            && toks.get(i + 1).is_some_and(|t| is_kw(&t.token, "TABLE"))
            && toks.get(i + 2).is_some_and(|t| t.token == Token::LParen);
        if lateral_table {
            out.push(TokenWithSpan::new(
                Token::Word(Word {
                    value: "UNNEST".into(),
                    quote_style: None,
                    keyword: Keyword::UNNEST,
                }),
                toks[i + 1].span,
            ));
            i += 2;
        } else {
            out.push(toks[i].clone());
            i += 1;
        }
    }
    out
}

/// Takes the query's table function out of `s`: an `EXPLODE(…)` SELECT item becomes a
/// reference to the element column, an `UNNEST(…)` relation leaves the FROM clause.
///
/// # Errors
/// More than one table function, UNNEST without `AS t(x)`, forms strata does not run.
pub(super) fn take_table_function(
    s: &mut ast::Select,
    start: Location,
) -> Result<Option<TableFunction>> {
    let mut found = explode_item(s, start)?;
    if let Some(f) = from_unnest(s, start)? {
        if let Some(first) = &found {
            return Err(one_per_query(f.loc, first));
        }
        found = Some(f);
    }
    Ok(found)
}

fn one_per_query(loc: Location, first: &TableFunction) -> crate::error::Error {
    plan_err(
        loc,
        format!(
            "a query has one table function, and {} is already one; explode one array per view (a second view can read the first)",
            first.what
        ),
    )
}

/// `SELECT …, EXPLODE(arr) [AS x], …`.
fn explode_item(s: &mut ast::Select, start: Location) -> Result<Option<TableFunction>> {
    let mut found: Option<TableFunction> = None;
    for item in &mut s.projection {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.to_lowercase())),
            _ => continue,
        };
        let ast::Expr::Function(f) = &*expr else {
            continue;
        };
        let name = f.name.to_string().to_lowercase();
        if name != "explode" && name != "unnest" {
            continue;
        }
        let loc = loc_of(&*expr, start);
        if let Some(first) = &found {
            return Err(one_per_query(loc, first));
        }
        let array = single_argument(f, loc)?;
        let column = alias.clone().unwrap_or_else(|| name.clone());
        let ident = ast::Ident::new(column.clone());
        *item = SelectItem::ExprWithAlias {
            expr: ast::Expr::Identifier(ident.clone()),
            alias: ident,
        };
        found = Some(TableFunction {
            array,
            column,
            qualifier: None,
            loc,
            what: "EXPLODE",
        });
    }
    Ok(found)
}

/// The one argument of `EXPLODE(arr)`.
fn single_argument(f: &ast::Function, loc: Location) -> Result<ast::Expr> {
    let args: Vec<&ast::Expr> = match &f.args {
        FunctionArguments::List(l) if l.duplicate_treatment.is_none() && l.clauses.is_empty() => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    match args.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(plan_err(
            loc,
            "EXPLODE takes one array: `EXPLODE(SPLIT(line, ' ')) AS word`",
        )),
    }
}

/// `FROM s CROSS JOIN UNNEST(arr) AS t(x)`, `FROM s, UNNEST(arr) AS t(x)` or `… JOIN
/// UNNEST(arr) AS t(x) ON TRUE`.
fn from_unnest(s: &mut ast::Select, start: Location) -> Result<Option<TableFunction>> {
    let mut found = None;
    // A comma: `FROM s, UNNEST(…) AS t(x)`.
    if s.from.len() == 2 && is_unnest(&s.from[1].relation) {
        let second = s.from.remove(1);
        if !second.joins.is_empty() {
            return Err(unsupported(
                loc_of(&second.relation, start),
                "a join after UNNEST",
                "join the table before the UNNEST",
            ));
        }
        found = Some(unnest_relation(&second.relation, start)?);
    }
    let Some(first) = s.from.first_mut() else {
        return Ok(found);
    };
    let Some(i) = first.joins.iter().position(|j| is_unnest(&j.relation)) else {
        return Ok(found);
    };
    let j = first.joins.remove(i);
    let loc = loc_of(&j.relation, start);
    let f = unnest_relation(&j.relation, start)?;
    if let Some(earlier) = &found {
        return Err(one_per_query(loc, earlier));
    }
    match &j.join_operator {
        JoinOperator::CrossJoin(JoinConstraint::None)
        | JoinOperator::CrossJoin(JoinConstraint::Natural) => {}
        JoinOperator::Join(c) | JoinOperator::Inner(c) if on_true(c) => {}
        JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => {
            return Err(unsupported(
                loc,
                "LEFT JOIN with UNNEST (keeping rows whose array is empty)",
                "write CROSS JOIN UNNEST(…) AS t(x): a row whose array is empty or NULL gives no rows",
            ));
        }
        _ => {
            return Err(unsupported(
                loc,
                "this join with UNNEST",
                "write CROSS JOIN UNNEST(arr) AS t(x), or JOIN … ON TRUE",
            ));
        }
    }
    Ok(Some(f))
}

fn is_unnest(t: &TableFactor) -> bool {
    matches!(t, TableFactor::UNNEST { .. })
}

fn on_true(c: &JoinConstraint) -> bool {
    matches!(c, JoinConstraint::On(ast::Expr::Value(v)) if v.value == ast::Value::Boolean(true))
}

/// `UNNEST(arr) AS t(x)`: the array and the names.
fn unnest_relation(t: &TableFactor, start: Location) -> Result<TableFunction> {
    let loc = loc_of(t, start);
    let TableFactor::UNNEST {
        alias,
        array_exprs,
        with_offset,
        with_ordinality,
        ..
    } = t
    else {
        return Err(sql_err(loc, "expected UNNEST(…)"));
    };
    if *with_offset || *with_ordinality {
        return Err(unsupported(
            loc,
            "UNNEST … WITH ORDINALITY / WITH OFFSET",
            "unnest the array alone",
        ));
    }
    let array = match array_exprs.as_slice() {
        [one] => one.clone(),
        _ => {
            return Err(plan_err(
                loc,
                "UNNEST takes one array here: CROSS JOIN UNNEST(arr) AS t(x)",
            ));
        }
    };
    let name_hint =
        "UNNEST needs an alias naming its column: CROSS JOIN UNNEST(arr) AS t(x), then select x";
    let Some(alias) = alias else {
        return Err(sql_err(loc, name_hint));
    };
    let column = match alias.columns.as_slice() {
        [one] => one.name.value.to_lowercase(),
        [] => return Err(sql_err(loc, name_hint)),
        _ => {
            return Err(plan_err(
                loc,
                "UNNEST of one array has one column: write AS t(x)",
            ));
        }
    };
    Ok(TableFunction {
        array,
        column,
        qualifier: Some(alias.name.value.to_lowercase()),
        loc,
        what: "UNNEST",
    })
}

/// Plans the table function's array over `scope` (the stream's columns and the joined
/// table's) and returns the scope with the element column added, and the plan's part.
///
/// # Errors
/// An array that is not one (`EXPLODE of VARCHAR`), a table as the input, a name the stream
/// already has.
pub(super) fn extend_scope(
    scope: Scope,
    f: TableFunction,
    reads_table: bool,
) -> Result<(Scope, UnnestDef)> {
    if reads_table {
        return Err(unsupported(
            f.loc,
            &format!("{} over table {}", f.what, scope.stream.name),
            "a table's rows are current values; explode the rows of a STREAM",
        ));
    }
    let array = Conv {
        scope: &scope,
        aggs: None,
        clause: "an EXPLODE / UNNEST argument",
        fallback: f.loc,
        aliases: &[],
    }
    .convert(&f.array)?;
    let t = check(&array, &scope.schema, f.loc)?;
    let Some(element) = element_of(&t).and_then(sql_type) else {
        return Err(plan_err(
            f.loc,
            format!(
                "{} needs an ARRAY, got {}; make one from text with SPLIT(s, ' ') or REGEXP_SPLIT_TO_ARRAY(s, '\\s+')",
                f.what,
                type_name(&t)
            ),
        ));
    };
    if scope.stream_has(&f.column)
        || scope
            .table
            .as_ref()
            .is_some_and(|(t, _)| t.columns.iter().any(|c| c.name == f.column))
    {
        return Err(plan_err(
            f.loc,
            format!(
                "the {} column {} has the name of a column of the input; name it otherwise (AS …)",
                f.what, f.column
            ),
        ));
    }
    let mut stream = scope.stream.clone();
    stream.columns.push(ColumnDef {
        name: f.column.clone(),
        data_type: element,
    });
    let mut quals = scope.stream_quals.clone();
    quals.extend(f.qualifier);
    let mut extended = Scope::new(stream, None, scope.table.clone(), scope.windowed);
    extended.stream_quals = quals;
    Ok((
        extended,
        UnnestDef {
            array,
            column: f.column,
        },
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::plan::{Expr, Literal, Statement, ViewPlan};
    use crate::{EmptyCatalog, parse};

    const LINES: &str = "CREATE STREAM lines (line VARCHAR, n BIGINT) WITH (kafka_topic='lines', value_format='JSON');";

    fn plan(query: &str) -> ViewPlan {
        let text = format!("{LINES}\n{query}");
        match parse(&text, &EmptyCatalog)
            .unwrap_or_else(|e| panic!("{query}\n→ {e}"))
            .pop()
        {
            Some(Statement::CreateView { plan: p, .. }) => p,
            Some(other) => other.into_select().expect("a SELECT"),
            None => panic!("no statement"),
        }
    }

    fn err(query: &str) -> String {
        parse(&format!("{LINES}\n{query}"), &EmptyCatalog)
            .unwrap_err()
            .to_string()
    }

    fn split_line() -> Expr {
        Expr::Function {
            name: "split".into(),
            args: vec![
                Expr::Function {
                    name: "lower".into(),
                    args: vec![Expr::Column("line".into())],
                },
                Expr::Literal(Literal::String(" ".into())),
            ],
        }
    }

    #[test]
    fn explode_unnest_and_lateral_table_plan_alike() {
        let forms = [
            "SELECT EXPLODE(SPLIT(LCASE(line), ' ')) AS word, COUNT(*) AS n FROM lines GROUP BY word;",
            "SELECT word, COUNT(*) AS n FROM lines CROSS JOIN UNNEST(SPLIT(LOWER(line), ' ')) AS t(word) GROUP BY word;",
            "SELECT t.word, COUNT(*) AS n FROM lines, UNNEST(SPLIT(LOWER(line), ' ')) AS t(word) GROUP BY t.word;",
            "SELECT word, COUNT(*) AS n FROM lines JOIN LATERAL TABLE(SPLIT(LOWER(line), ' ')) AS t(word) ON TRUE GROUP BY word;",
            "SELECT word, COUNT(*) AS n FROM lines, LATERAL TABLE(SPLIT(LOWER(line), ' ')) AS t(word) GROUP BY 1;",
        ];
        for q in forms {
            let p = plan(q);
            let u = p.unnest.as_ref().unwrap_or_else(|| panic!("{q}"));
            assert_eq!(u.array, split_line(), "{q}");
            assert_eq!(u.column, "word", "{q}");
            assert_eq!(
                p.group_by,
                vec![("word".into(), Expr::Column("word".into()))],
                "{q}"
            );
            assert!(
                p.source.columns.iter().all(|c| c.name != "word"),
                "the source is as declared"
            );
        }
    }

    #[test]
    fn the_element_is_a_column_of_the_stateless_view_and_its_filter() {
        let p = plan("SELECT n, EXPLODE(SPLIT(line, ',')) FROM lines WHERE explode <> '';");
        assert_eq!(p.unnest.as_ref().unwrap().column, "explode");
        let names: Vec<&str> = p.output.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["n", "explode"]);
        assert!(p.filter.is_some());
        let p = plan("SELECT * FROM lines CROSS JOIN UNNEST(SPLIT(line, ',')) AS t(part);");
        let names: Vec<&str> = p.output.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["line", "n", "part"]);
    }

    #[test]
    fn mistakes_are_named_where_they_are() {
        let cases = [
            (
                "SELECT EXPLODE(line) FROM lines;",
                "line 2, column 8",
                "needs an ARRAY, got VARCHAR",
            ),
            (
                "SELECT x FROM lines CROSS JOIN UNNEST(SPLIT(line, ' '));",
                "line 2",
                "UNNEST needs an alias",
            ),
            (
                "SELECT x FROM lines CROSS JOIN UNNEST(SPLIT(line, ' ')) AS t;",
                "line 2",
                "UNNEST needs an alias",
            ),
            (
                "SELECT EXPLODE(SPLIT(line, ' ')) AS a, EXPLODE(SPLIT(line, ',')) AS b FROM lines;",
                "line 2, column 40",
                "one table function",
            ),
            (
                "SELECT LENGTH(EXPLODE(SPLIT(line, ' '))) FROM lines;",
                "line 2, column 15",
                "table function",
            ),
            (
                "SELECT EXPLODE(SPLIT(line, ' ')) AS n FROM lines;",
                "line 2",
                "has the name of a column",
            ),
            (
                "SELECT x FROM lines LEFT JOIN UNNEST(SPLIT(line, ' ')) AS t(x) ON TRUE;",
                "line 2",
                "CROSS JOIN UNNEST",
            ),
            (
                "SELECT EXPLODE(SPLIT(line)) FROM lines;",
                "line 2",
                "SPLIT() takes 2 argument(s), got 1",
            ),
        ];
        for (q, place, needle) in cases {
            let e = err(q);
            assert!(e.contains(place) && e.contains(needle), "{q}\n→ {e}");
        }
        let table = "CREATE TABLE users (id VARCHAR PRIMARY KEY, tags ARRAY<VARCHAR>) WITH (kafka_topic='u');
            SELECT EXPLODE(tags) AS tag FROM users;";
        let e = parse(table, &EmptyCatalog).unwrap_err().to_string();
        assert!(e.contains("over table users"), "{e}");
        let p = plan("SELECT EXPLODE(SPLIT(line, ' ')) AS w FROM lines;");
        assert_eq!(p.output[0].0, "w");
    }
}
