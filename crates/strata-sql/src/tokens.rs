//! The lexical layer of the SQL front end: sqlparser's tokens with their locations, split into
//! statements, read with a cursor; errors that point at the user's text.

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Word};

use crate::error::{Error, Result};
use crate::plan::SqlType;

pub(crate) fn dialect() -> GenericDialect {
    GenericDialect {}
}

pub(crate) fn tokenize(sql: &str) -> Result<Vec<TokenWithSpan>> {
    let d = dialect();
    let tokens = Tokenizer::new(&d, sql)
        .tokenize_with_location()
        .map_err(|e| Error::Sql {
            line: e.location.line,
            column: e.location.column,
            message: e.message,
        })?;
    Ok(tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect())
}

/// One statement's tokens (no `;`, no whitespace), and where it ends.
pub(crate) struct Stmt {
    pub(crate) tokens: Vec<TokenWithSpan>,
    pub(crate) end: Location,
}

pub(crate) fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Stmt> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for t in tokens {
        match t.token {
            Token::SemiColon => {
                if !cur.is_empty() {
                    out.push(Stmt {
                        tokens: std::mem::take(&mut cur),
                        end: t.span.start,
                    });
                }
            }
            Token::EOF => {}
            _ => cur.push(t),
        }
    }
    if let Some(last) = cur.last() {
        let end = last.span.end;
        out.push(Stmt { tokens: cur, end });
    }
    out
}

/// An [`Error::Sql`] at `loc`.
pub(crate) fn sql_err(loc: Location, message: impl Into<String>) -> Error {
    Error::Sql {
        line: loc.line,
        column: loc.column,
        message: message.into(),
    }
}

/// An [`Error::Plan`] whose message starts with the location, when there is one.
pub(crate) fn plan_err(loc: Location, message: impl std::fmt::Display) -> Error {
    if loc.line == 0 {
        Error::Plan(message.to_string())
    } else {
        Error::Plan(format!(
            "line {}, column {}: {message}",
            loc.line, loc.column
        ))
    }
}

/// True for an unquoted word equal (ignoring case) to `kw`.
pub(crate) fn is_kw(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(Word { value, quote_style: None, .. }) if value.eq_ignore_ascii_case(kw))
}

/// A cursor over one statement's tokens.
pub(crate) struct Cursor<'a> {
    pub(crate) toks: &'a [TokenWithSpan],
    pub(crate) pos: usize,
    pub(crate) end: Location,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(toks: &'a [TokenWithSpan], end: Location) -> Self {
        Cursor { toks, pos: 0, end }
    }

    pub(crate) fn peek(&self) -> Option<&'a TokenWithSpan> {
        self.toks.get(self.pos)
    }

    pub(crate) fn peek_at(&self, n: usize) -> Option<&'a TokenWithSpan> {
        self.toks.get(self.pos + n)
    }

    pub(crate) fn next(&mut self) -> Option<&'a TokenWithSpan> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// Where the next token is (or the end of the statement).
    pub(crate) fn loc(&self) -> Location {
        self.peek().map_or(self.end, |t| t.span.start)
    }

    pub(crate) fn peek_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| is_kw(&t.token, kw))
    }

    pub(crate) fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let all = kws
            .iter()
            .enumerate()
            .all(|(i, kw)| self.peek_at(i).is_some_and(|t| is_kw(&t.token, kw)));
        if all {
            self.pos += kws.len();
        }
        all
    }

    pub(crate) fn eat(&mut self, tok: &Token) -> bool {
        if self.peek().is_some_and(|t| t.token == *tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn found(&self) -> String {
        match self.peek() {
            Some(t) => format!("found `{}`", t.token),
            None => "found the end of the statement".to_string(),
        }
    }

    pub(crate) fn expect_kw(&mut self, kw: &str, hint: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(sql_err(
                self.loc(),
                format!("expected {kw}, {}{hint}", self.found()),
            ))
        }
    }

    pub(crate) fn expect(&mut self, tok: &Token, hint: &str) -> Result<()> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(sql_err(
                self.loc(),
                format!("expected `{tok}`, {}{hint}", self.found()),
            ))
        }
    }

    /// An identifier (quoted or not), lower-cased.
    pub(crate) fn ident(&mut self, what: &str) -> Result<String> {
        match self.peek().map(|t| &t.token) {
            Some(Token::Word(w)) => {
                self.pos += 1;
                Ok(w.value.to_lowercase())
            }
            _ => Err(sql_err(
                self.loc(),
                format!("expected {what}, {}", self.found()),
            )),
        }
    }

    /// A possibly qualified name (`db.schema.name`); strata has one namespace, so the last part.
    pub(crate) fn object_name(&mut self, what: &str) -> Result<String> {
        let mut name = self.ident(what)?;
        while self.peek().is_some_and(|t| t.token == Token::Period) {
            self.pos += 1;
            name = self.ident(what)?;
        }
        Ok(name)
    }

    pub(crate) fn expect_end(&mut self, what: &str) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(sql_err(
                t.span.start,
                format!(
                    "unexpected `{}` after {what}; end the statement with `;`",
                    t.token
                ),
            )),
        }
    }

    /// The tokens up to the `)` that closes an already consumed `(`; the cursor moves past it.
    pub(crate) fn until_close(&mut self, open: Location) -> Result<&'a [TokenWithSpan]> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(t) = self.next() {
            match t.token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => return Ok(&self.toks[start..self.pos - 1]),
                Token::RParen => depth -= 1,
                _ => {}
            }
        }
        Err(sql_err(open, "this `(` is never closed"))
    }
}

/// Splits tokens at top-level commas.
pub(crate) fn split_commas(toks: &[TokenWithSpan]) -> Vec<&[TokenWithSpan]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < toks.len() || !out.is_empty() {
        out.push(&toks[start..]);
    }
    out
}

/// Maps a type name (`BIGINT`, `VARCHAR`, `TIMESTAMP_LTZ`, …) to strata's type.
pub(crate) fn sql_type_named(name: &str) -> Option<SqlType> {
    Some(match name.to_ascii_uppercase().as_str() {
        "BOOLEAN" | "BOOL" => SqlType::Boolean,
        "BIGINT" | "INT" | "INTEGER" | "SMALLINT" | "TINYINT" | "INT64" | "INT8" | "INT4"
        | "INT2" | "LONG" => SqlType::BigInt,
        "DOUBLE" | "FLOAT" | "REAL" | "DECIMAL" | "NUMERIC" | "FLOAT64" | "FLOAT8" | "FLOAT4"
        | "DEC" => SqlType::Double,
        "VARCHAR" | "STRING" | "TEXT" | "CHAR" | "CHARACTER" | "NVARCHAR" => SqlType::Varchar,
        "TIMESTAMP" | "TIMESTAMP_LTZ" | "DATETIME" | "TIMESTAMPTZ" => SqlType::Timestamp,
        _ => return None,
    })
}

pub(crate) const TYPE_HINT: &str = "strata's types are BOOLEAN, BIGINT (and INT…), DOUBLE (and FLOAT, DECIMAL), VARCHAR (and STRING), TIMESTAMP, ARRAY<type>";

/// A whole number of at least 1, after `what`.
pub(crate) fn positive(c: &mut Cursor<'_>, what: &str) -> Result<u64> {
    let loc = c.loc();
    match c.next().map(|t| &t.token) {
        Some(Token::Number(n, _)) => match n.parse::<u64>() {
            Ok(v) if v > 0 => Ok(v),
            _ => Err(sql_err(
                loc,
                format!("{what} takes a whole number of at least 1, not {n}"),
            )),
        },
        _ => Err(sql_err(
            loc,
            format!("expected a number after {what} (e.g. `{what} 10`)"),
        )),
    }
}
