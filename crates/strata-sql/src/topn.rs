//! Flink's window Top-N, the one subquery shape strata plans:
//!
//! ```sql
//! SELECT <cols | *> FROM (
//!   SELECT <cols | *>, RANK() OVER (PARTITION BY window_start, window_end ORDER BY c DESC) AS rk
//!   FROM ( <a windowed aggregation> )            -- Top-N over the window's groups
//!     |  TABLE(TUMBLE|HOP(TABLE s, DESCRIPTOR(t), …)) [WHERE …]   -- Top-N over its rows
//! ) [alias] WHERE rk <= N          -- or rk < N, rk = 1
//! ```
//!
//! The inner aggregation is planned by the ordinary front end; a window table function over
//! rows is planned as a filter/projection of the stream plus the window, read off the table
//! function by planning it as a windowed `COUNT(*)`. `ROW_NUMBER()` keeps exactly N rows per
//! window (ties by arrival), `RANK()` every row ranked N or better (ties kept).

use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Word};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::plan::{EmitMode, RankKind, RankSpec, ServingMode, WindowSpec};
use crate::plan::{TopNPlan, ViewPlan};
use crate::query::plan_query;
use crate::tokens::{is_kw, sql_err, tokenize};

/// True when `sql` looks like a window Top-N — it ranks with `OVER (…)` and selects from a
/// subquery (`SELECT … FROM (`): what [`parse_window_topn`] plans.
pub fn is_window_topn(sql: &str) -> bool {
    tokenize(sql).is_ok_and(|toks| tokens_are_window_topn(&toks))
}

/// [`is_window_topn`] of a statement's tokens.
pub(crate) fn tokens_are_window_topn(toks: &[TokenWithSpan]) -> bool {
    let ranks = toks
        .windows(2)
        .any(|w| is_kw(&w[0].token, "OVER") && w[1].token == Token::LParen);
    let mut depth = 0usize;
    let mut from_subquery = false;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth == 0 && is_kw(&t.token, "FROM") => {
                from_subquery = toks.get(i + 1).is_some_and(|n| n.token == Token::LParen);
                break;
            }
            _ => {}
        }
    }
    ranks && from_subquery
}

/// Plans a window Top-N query (see the module docs) against `catalog`.
///
/// # Errors
/// [`crate::Error::Sql`] pointing at what does not fit the shape, with what to write instead;
/// the inner query's own planning errors.
pub fn parse_window_topn(sql: &str, catalog: &dyn Catalog) -> Result<TopNPlan> {
    let mut toks = tokenize(sql)?;
    while toks
        .last()
        .is_some_and(|t| matches!(t.token, Token::SemiColon | Token::EOF))
    {
        toks.pop();
    }
    let end = toks.last().map_or(Location::new(1, 1), |t| t.span.end);
    plan_window_topn(&toks, end, "query", catalog)
}

/// Plans the tokens of a window Top-N query (no `;`) as view `name`; `end` is where the
/// statement ends (for errors at its end).
///
/// # Errors
/// As [`parse_window_topn`].
pub(crate) fn plan_window_topn(
    toks: &[TokenWithSpan],
    end: Location,
    name: &str,
    catalog: &dyn Catalog,
) -> Result<TopNPlan> {
    let mut c = Cur { toks, pos: 0, end };
    c.kw("SELECT")?;
    let outer = c.items_until_from()?;
    c.expect(&Token::LParen, "`(` (a subquery ranking rows per window)")?;
    let close = c.matching_paren()?;
    let middle = &toks[c.pos..close];
    c.pos = close + 1;
    c.alias();
    c.kw("WHERE")?;
    let (rank_name, loc, limit) = rank_filter(&mut c)?;

    let mut m = Cur {
        toks: middle,
        pos: 0,
        end: toks[close].span.start,
    };
    m.kw("SELECT")?;
    let middle_items = m.items_until_from()?;
    let mut rank: Option<(RankKind, String, bool, String)> = None;
    for item in &middle_items {
        if item.iter().any(|t| is_kw(&t.token, "OVER")) {
            rank = Some(rank_item(item, m.end)?);
        } else if !(item.len() == 1 && item[0].token == Token::Mul) {
            return Err(sql_err(
                item[0].span.start,
                "the ranking subquery selects `*` and the RANK() item only",
            ));
        }
    }
    let Some((kind, order_by, descending, rank_column)) = rank else {
        return Err(sql_err(
            middle[0].span.start,
            "expected `RANK() OVER (PARTITION BY window_start, window_end ORDER BY col DESC) AS rownum`",
        ));
    };
    if rank_column != rank_name {
        return Err(sql_err(
            loc,
            format!("filter on the rank column {rank_column}, not {rank_name}"),
        ));
    }
    let (mut inner, window) = if m.peek() == Some(&Token::LParen) {
        ranked_aggregation(&mut m, middle, name, catalog)?
    } else {
        ranked_rows(&mut m, middle, name, catalog)?
    };
    let output = outer_columns(&outer)?;
    // Rows of a window are emitted once, when the watermark closes it.
    inner.emit = EmitMode::Final;
    // The batch layer does not rank: the speed layer alone serves a Top-N.
    inner.serving = ServingMode::Kappa;
    Ok(TopNPlan {
        inner,
        rank: RankSpec {
            window,
            order_by,
            descending,
            limit,
            kind,
            rank_column,
            output,
        },
    })
}

/// The outer `WHERE rownum <= N` (`< N`, `= 1`): the rank column it names, where its
/// operator is, and how many ranks it keeps.
fn rank_filter(c: &mut Cur<'_>) -> Result<(String, Location, usize)> {
    let rank_name = c.ident("the rank column")?;
    let loc = c.loc();
    let op = c.next_token();
    let n_loc = c.loc();
    let n: usize = match c.next_token() {
        Some(Token::Number(text, _)) => text
            .parse()
            .map_err(|_| sql_err(n_loc, "the rank bound must be a whole number"))?,
        _ => return Err(sql_err(n_loc, "expected a number: `WHERE rownum <= 3`")),
    };
    let limit = match op {
        Some(Token::LtEq) => n,
        Some(Token::Lt) => n.saturating_sub(1),
        Some(Token::Eq) if n == 1 => 1,
        _ => {
            return Err(sql_err(
                loc,
                "a window Top-N is filtered by `rownum <= N`, `rownum < N` or `rownum = 1`",
            ));
        }
    };
    if limit == 0 {
        return Err(sql_err(
            n_loc,
            "the filter keeps no rank: use rownum <= 1 or more",
        ));
    }
    if !c.at_end() {
        return Err(sql_err(c.loc(), "unexpected text after the rank filter"));
    }
    Ok((rank_name, loc, limit))
}

/// `FROM (SELECT … GROUP BY window_start, window_end, …) [alias]`: the groups of a TUMBLE or
/// HOP aggregation, ranked per window.
fn ranked_aggregation(
    m: &mut Cur<'_>,
    middle: &[TokenWithSpan],
    name: &str,
    catalog: &dyn Catalog,
) -> Result<(ViewPlan, WindowSpec)> {
    m.pos += 1;
    let close = m.matching_paren()?;
    let inner = plan_query(
        &middle[m.pos..close],
        middle[close].span.start,
        name,
        catalog,
    )?;
    m.pos = close + 1;
    m.alias();
    if !m.at_end() {
        return Err(sql_err(
            m.loc(),
            "unexpected text after the aggregation subquery",
        ));
    }
    let Some(window) = inner.window else {
        return Err(sql_err(
            middle[0].span.start,
            "the ranked subquery must be a windowed aggregation (GROUP BY window_start, window_end, …)",
        ));
    };
    if matches!(window, WindowSpec::Session { .. }) {
        // Sessions of different keys close at different times and share no bounds: there
        // is no window whose groups could be ranked together.
        return Err(sql_err(
            middle[0].span.start,
            "a window Top-N ranks the groups of TUMBLE or HOP windows, not SESSION",
        ));
    }
    Ok((inner, window))
}

/// `FROM TABLE(TUMBLE(…)) [alias] [WHERE …]`: rows, ranked per window.
fn ranked_rows(
    m: &mut Cur<'_>,
    middle: &[TokenWithSpan],
    name: &str,
    catalog: &dyn Catalog,
) -> Result<(ViewPlan, WindowSpec)> {
    let tvf_start = m.pos;
    m.kw("TABLE")?;
    m.expect(&Token::LParen, "`(`")?;
    let close = m.matching_paren()?;
    let tvf = &middle[tvf_start..=close];
    m.pos = close + 1;
    m.alias();
    let filter = if m.peek_kw("WHERE") {
        &middle[m.pos..]
    } else if m.at_end() {
        &[]
    } else {
        return Err(sql_err(
            m.loc(),
            "expected WHERE or the end of the subquery",
        ));
    };
    let mut probe = words(&["SELECT", "COUNT"]);
    probe.extend([tok(Token::LParen), tok(Token::Mul), tok(Token::RParen)]);
    probe.extend(words(&["FROM"]));
    probe.extend_from_slice(tvf);
    probe.extend(words(&["GROUP", "BY", "window_start"]));
    probe.push(tok(Token::Comma));
    probe.extend(words(&["window_end"]));
    let windowed = plan_query(&probe, m.end, "query", catalog)?;
    let Some(window) = windowed
        .window
        .filter(|w| !matches!(w, WindowSpec::Session { .. }))
    else {
        return Err(sql_err(
            tvf[0].span.start,
            "a window Top-N over rows needs TUMBLE or HOP",
        ));
    };
    let mut rows = words(&["SELECT"]);
    rows.push(tok(Token::Mul));
    rows.extend(words(&["FROM", &windowed.source.name]));
    rows.extend_from_slice(filter);
    let mut inner = plan_query(&rows, m.end, name, catalog)?;
    // The event time is the table function's DESCRIPTOR column.
    inner.source = windowed.source;
    Ok((inner, window))
}

/// The outer SELECT's columns (`*` or names of the subquery's columns).
fn outer_columns(outer: &[Vec<TokenWithSpan>]) -> Result<Vec<String>> {
    outer
        .iter()
        .map(|item| match item.as_slice() {
            [t] if t.token == Token::Mul => Ok("*".to_owned()),
            [t] => word(&t.token).ok_or_else(|| sql_err(t.span.start, "expected a column name")),
            _ => Err(sql_err(
                item[0].span.start,
                "the outer SELECT of a window Top-N lists columns of the subquery",
            )),
        })
        .collect()
}

/// `RANK() OVER (PARTITION BY window_start, window_end ORDER BY col [ASC|DESC]) [AS] name`.
fn rank_item(item: &[TokenWithSpan], end: Location) -> Result<(RankKind, String, bool, String)> {
    let mut c = Cur {
        toks: item,
        pos: 0,
        end,
    };
    let loc = c.loc();
    let kind = match c.ident("RANK or ROW_NUMBER")?.as_str() {
        "rank" => RankKind::Rank,
        "row_number" => RankKind::RowNumber,
        other => {
            return Err(sql_err(
                loc,
                format!("{other}() is not supported in a window Top-N; use RANK() or ROW_NUMBER()"),
            ));
        }
    };
    c.expect(&Token::LParen, "`(`")?;
    c.expect(&Token::RParen, "`)`")?;
    c.kw("OVER")?;
    c.expect(&Token::LParen, "`(`")?;
    c.kw("PARTITION")?;
    c.kw("BY")?;
    let mut partition = vec![c.ident("window_start")?];
    while c.peek() == Some(&Token::Comma) {
        c.pos += 1;
        partition.push(c.ident("window_end")?);
    }
    partition.sort();
    if partition != ["window_end", "window_start"] {
        return Err(sql_err(
            loc,
            "a window Top-N partitions by the window: PARTITION BY window_start, window_end",
        ));
    }
    c.kw("ORDER")?;
    c.kw("BY")?;
    let order_by = c.ident("the column to rank by")?;
    let descending = if c.peek_kw("DESC") {
        c.pos += 1;
        true
    } else {
        if c.peek_kw("ASC") {
            c.pos += 1;
        }
        false
    };
    c.expect(&Token::RParen, "`)` closing OVER (…)")?;
    c.alias_required()
        .map(|name| (kind, order_by, descending, name))
}

fn tok(token: Token) -> TokenWithSpan {
    TokenWithSpan::wrap(token)
}

fn words(ws: &[&str]) -> Vec<TokenWithSpan> {
    ws.iter().map(|w| tok(Token::make_word(w, None))).collect()
}

fn word(t: &Token) -> Option<String> {
    match t {
        Token::Word(Word { value, .. }) => Some(value.to_lowercase()),
        _ => None,
    }
}

/// A cursor over tokens.
struct Cur<'a> {
    toks: &'a [TokenWithSpan],
    pos: usize,
    end: Location,
}

impl Cur<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.pos).map(|t| &t.token)
    }

    fn peek_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| is_kw(t, kw))
    }

    fn next_token(&mut self) -> Option<Token> {
        let t = self.peek().cloned();
        self.pos += 1;
        t
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn loc(&self) -> Location {
        self.toks.get(self.pos).map_or(self.end, |t| t.span.start)
    }

    fn kw(&mut self, kw: &str) -> Result<()> {
        if self.peek_kw(kw) {
            self.pos += 1;
            Ok(())
        } else {
            Err(sql_err(self.loc(), format!("expected {kw} (window Top-N)")))
        }
    }

    fn expect(&mut self, t: &Token, what: &str) -> Result<()> {
        if self.peek() == Some(t) {
            self.pos += 1;
            Ok(())
        } else {
            Err(sql_err(self.loc(), format!("expected {what}")))
        }
    }

    fn ident(&mut self, what: &str) -> Result<String> {
        let loc = self.loc();
        match self.next_token().as_ref().and_then(word) {
            Some(w) => Ok(w),
            None => Err(sql_err(loc, format!("expected {what}"))),
        }
    }

    /// An optional `[AS] alias`.
    fn alias(&mut self) {
        if self.peek_kw("AS") {
            self.pos += 1;
        }
        if self.peek().is_some_and(|t| word(t).is_some()) && !self.peek_kw("WHERE") {
            self.pos += 1;
        }
    }

    fn alias_required(&mut self) -> Result<String> {
        if self.peek_kw("AS") {
            self.pos += 1;
        }
        self.ident("a name for the rank: `AS rownum`")
    }

    /// The index of the `)` closing the `(` just consumed.
    fn matching_paren(&self) -> Result<usize> {
        let mut depth = 1;
        for (i, t) in self.toks.iter().enumerate().skip(self.pos) {
            match t.token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(i);
                    }
                }
                _ => {}
            }
        }
        Err(sql_err(self.end, "a `(` is not closed"))
    }

    /// Comma-separated items up to the top-level FROM (consumed).
    fn items_until_from(&mut self) -> Result<Vec<Vec<TokenWithSpan>>> {
        let mut items = vec![Vec::new()];
        let mut depth = 0;
        while let Some(t) = self.toks.get(self.pos) {
            self.pos += 1;
            match &t.token {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                Token::Comma if depth == 0 => {
                    items.push(Vec::new());
                    continue;
                }
                tk if depth == 0 && is_kw(tk, "FROM") => {
                    if items.iter().any(Vec::is_empty) {
                        return Err(sql_err(t.span.start, "an empty SELECT item"));
                    }
                    return Ok(items);
                }
                _ => {}
            }
            if let Some(last) = items.last_mut() {
                last.push(t.clone());
            }
        }
        Err(sql_err(self.end, "expected FROM"))
    }
}
