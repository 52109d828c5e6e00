//! The token-level pre-pass over a query: lifts out the streaming clauses sqlparser does not
//! know and leaves plain SQL behind.
//!
//! - ksqlDB `WINDOW TUMBLING (SIZE 1 MINUTE [, GRACE PERIOD …] [, RETENTION …])`,
//!   `WINDOW HOPPING (SIZE …, ADVANCE BY …)`, `WINDOW SESSION (30 MINUTES)`, `GRACE PERIOD …`,
//!   and `EMIT CHANGES|FINAL` are removed and recorded;
//! - Flink `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' HOUR))` (and `HOP`, `SESSION`,
//!   positional or with `DATA =>`, `TIMECOL =>`, `SIZE =>`, `SLIDE =>`, `GAP =>` names) becomes the
//!   bare table name `t`, keeping the `TABLE` token's location.
//!
//! Removed tokens simply disappear; the ones left keep their original spans, so sqlparser's
//! errors still point into the user's text.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Word};

use crate::error::Result;
use crate::plan::{EmitMode, WindowSpec};
use crate::tokens::{Cursor, is_kw, split_commas, sql_err};

/// A Flink windowing table function in FROM.
pub(crate) struct Tvf {
    /// Where `TABLE(` starts.
    pub loc: Location,
    /// The source it windows.
    pub source: String,
    /// `DESCRIPTOR(col)`, lower-cased.
    pub time_column: String,
}

/// What the pre-pass found, and the tokens left for sqlparser.
pub(crate) struct Extracted {
    pub window: Option<(Location, WindowSpec)>,
    pub grace_ms: Option<i64>,
    pub emit: Option<(Location, EmitMode)>,
    pub tvf: Option<Tvf>,
    pub tokens: Vec<TokenWithSpan>,
}

pub(crate) fn prepass(toks: &[TokenWithSpan], end: Location) -> Result<Extracted> {
    let mut out = Extracted {
        window: None,
        grace_ms: None,
        emit: None,
        tvf: None,
        tokens: Vec::with_capacity(toks.len()),
    };
    let mut c = Cursor::new(toks, end);
    while let Some(t) = c.peek() {
        let next_is = |n: usize, kw: &str| c.peek_at(n).is_some_and(|x| is_kw(&x.token, kw));
        let loc = t.span.start;
        if is_kw(&t.token, "WINDOW")
            && (next_is(1, "TUMBLING") || next_is(1, "HOPPING") || next_is(1, "SESSION"))
        {
            c.next();
            if out.window.is_some() || out.tvf.is_some() {
                return Err(sql_err(loc, "a query has one window"));
            }
            let (spec, grace) = ksql_window(&mut c)?;
            out.window = Some((loc, spec));
            if grace.is_some() {
                out.grace_ms = grace;
            }
        } else if is_kw(&t.token, "GRACE") && next_is(1, "PERIOD") {
            c.next();
            c.next();
            out.grace_ms = Some(interval_ms(&mut c, "GRACE PERIOD")?);
        } else if is_kw(&t.token, "EMIT") && (next_is(1, "CHANGES") || next_is(1, "FINAL")) {
            c.next();
            let mode = if c.eat_kw("CHANGES") {
                EmitMode::Changes
            } else if c.eat_kw("FINAL") {
                EmitMode::Final
            } else {
                return Err(sql_err(
                    c.loc(),
                    format!("expected EMIT CHANGES or EMIT FINAL, {}", c.found()),
                ));
            };
            if out.emit.is_some() {
                return Err(sql_err(loc, "EMIT is given twice"));
            }
            out.emit = Some((loc, mode));
        } else if is_kw(&t.token, "TABLE")
            && c.peek_at(1).is_some_and(|x| x.token == Token::LParen)
            && c.peek_at(2)
                .is_some_and(|x| matches!(&x.token, Token::Word(_)))
            && c.peek_at(3).is_some_and(|x| x.token == Token::LParen)
        {
            c.next();
            let open = c.loc();
            c.next();
            let inner = c.until_close(open)?;
            if out.window.is_some() || out.tvf.is_some() {
                return Err(sql_err(loc, "a query has one window"));
            }
            let (tvf, spec) = table_function(inner, loc)?;
            out.tokens.push(TokenWithSpan::new(
                Token::Word(Word {
                    value: tvf.source.clone(),
                    quote_style: Some('"'),
                    keyword: Keyword::NoKeyword,
                }),
                t.span,
            ));
            out.window = Some((loc, spec));
            out.tvf = Some(tvf);
        } else {
            out.tokens.push(t.clone());
            c.next();
        }
    }
    Ok(out)
}

/// `TUMBLING (SIZE …)`, `HOPPING (SIZE …, ADVANCE BY …)`, `SESSION (…)` plus options.
fn ksql_window(c: &mut Cursor<'_>) -> Result<(WindowSpec, Option<i64>)> {
    let kind_loc = c.loc();
    let kind = c.ident("TUMBLING, HOPPING or SESSION")?;
    let open = c.loc();
    c.expect(
        &Token::LParen,
        &format!(" after WINDOW {}", kind.to_uppercase()),
    )?;
    let inner = c.until_close(open)?;
    let mut size = None;
    let mut advance = None;
    let mut gap = None;
    let mut grace = None;
    for (i, part) in split_commas(inner).into_iter().enumerate() {
        let ploc = part.first().map_or(open, |t| t.span.start);
        let pend = part.last().map_or(open, |t| t.span.end);
        let mut p = Cursor::new(part, pend);
        if p.eat_kw("SIZE") {
            size = Some(interval_ms(&mut p, "SIZE")?);
        } else if p.eat_kws(&["ADVANCE", "BY"]) {
            advance = Some(interval_ms(&mut p, "ADVANCE BY")?);
        } else if p.eat_kws(&["GRACE", "PERIOD"]) {
            grace = Some(interval_ms(&mut p, "GRACE PERIOD")?);
        } else if p.eat_kw("RETENTION") {
            // How long ksqlDB keeps old windows; strata keeps what checkpoints and the
            // serving layer need, so the setting is accepted and has no effect.
            interval_ms(&mut p, "RETENTION")?;
        } else if i == 0 && kind == "session" {
            gap = Some(interval_ms(&mut p, "SESSION")?);
        } else {
            return Err(sql_err(
                ploc,
                format!(
                    "unexpected {} in WINDOW {}; write SIZE …, ADVANCE BY …, GRACE PERIOD … or RETENTION …",
                    p.found().trim_start_matches("found "),
                    kind.to_uppercase()
                ),
            ));
        }
        p.expect_end("the window option")?;
    }
    let spec = match kind.as_str() {
        "tumbling" => {
            let size = size.ok_or_else(|| {
                sql_err(
                    open,
                    "WINDOW TUMBLING needs a SIZE: `WINDOW TUMBLING (SIZE 1 MINUTE)`",
                )
            })?;
            if advance.is_some() {
                return Err(sql_err(open, "ADVANCE BY belongs to WINDOW HOPPING"));
            }
            WindowSpec::Tumbling { size_ms: size }
        }
        "hopping" => {
            let size = size.ok_or_else(|| sql_err(open, "WINDOW HOPPING needs a SIZE: `WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 10 SECONDS)`"))?;
            let advance = advance.ok_or_else(|| sql_err(open, "WINDOW HOPPING needs ADVANCE BY: `WINDOW HOPPING (SIZE 1 MINUTE, ADVANCE BY 10 SECONDS)`"))?;
            hopping(size, advance, open)?
        }
        "session" => {
            let gap = gap.ok_or_else(|| {
                sql_err(
                    open,
                    "WINDOW SESSION needs its inactivity gap: `WINDOW SESSION (30 MINUTES)`",
                )
            })?;
            if size.is_some() || advance.is_some() {
                return Err(sql_err(
                    open,
                    "a SESSION window has a gap, not a SIZE: `WINDOW SESSION (30 MINUTES)`",
                ));
            }
            WindowSpec::Session { gap_ms: gap }
        }
        _ => return Err(sql_err(kind_loc, "expected TUMBLING, HOPPING or SESSION")),
    };
    Ok((spec, grace))
}

fn hopping(size: i64, advance: i64, loc: Location) -> Result<WindowSpec> {
    if advance > size {
        return Err(sql_err(
            loc,
            format!(
                "the hop ({advance} ms) is larger than the window ({size} ms), so records between windows would be lost; make the hop at most the size"
            ),
        ));
    }
    Ok(WindowSpec::Hopping {
        size_ms: size,
        advance_ms: advance,
    })
}

/// The inside of `TABLE(…)`: `TUMBLE(…)`, `HOP(…)` or `SESSION(…)`.
fn table_function(inner: &[TokenWithSpan], loc: Location) -> Result<(Tvf, WindowSpec)> {
    let end = inner.last().map_or(loc, |t| t.span.end);
    let mut c = Cursor::new(inner, end);
    let fn_loc = c.loc();
    let func = c.ident("TUMBLE, HOP or SESSION")?;
    let open = c.loc();
    c.expect(&Token::LParen, "")?;
    let args_toks = c.until_close(open)?;
    c.expect_end(&format!("{}(…)", func.to_uppercase()))?;
    let names: &[&str] = match func.as_str() {
        "tumble" => &["data", "timecol", "size", "offset"],
        "hop" => &["data", "timecol", "slide", "size", "offset"],
        "session" => &["data", "timecol", "gap"],
        "cumulate" => {
            return Err(sql_err(
                fn_loc,
                "CUMULATE windows are not supported; use TUMBLE, HOP or SESSION",
            ));
        }
        _ => {
            return Err(sql_err(
                fn_loc,
                format!(
                    "table function {}() is not supported; use TUMBLE, HOP or SESSION",
                    func.to_uppercase()
                ),
            ));
        }
    };
    let mut args: Vec<Option<&[TokenWithSpan]>> = vec![None; names.len()];
    for (i, arg) in split_commas(args_toks).into_iter().enumerate() {
        let aloc = arg.first().map_or(open, |t| t.span.start);
        let named = match (arg.first().map(|t| &t.token), arg.get(1).map(|t| &t.token)) {
            (Some(Token::Word(w)), Some(Token::RArrow)) => Some(w.value.to_lowercase()),
            _ => None,
        };
        let (slot, toks) = match named {
            Some(n) => {
                let slot = names.iter().position(|x| *x == n).ok_or_else(|| {
                    sql_err(
                        aloc,
                        format!(
                            "{}() has no argument {}; its arguments are {}",
                            func.to_uppercase(),
                            n.to_uppercase(),
                            names.join(", ").to_uppercase()
                        ),
                    )
                })?;
                (slot, &arg[2..])
            }
            None if i < names.len() => (i, arg),
            None => {
                return Err(sql_err(
                    aloc,
                    format!("too many arguments to {}()", func.to_uppercase()),
                ));
            }
        };
        if args[slot].is_some() {
            return Err(sql_err(
                aloc,
                format!(
                    "argument {} of {}() is given twice",
                    names[slot].to_uppercase(),
                    func.to_uppercase()
                ),
            ));
        }
        args[slot] = Some(toks);
    }
    let get = |n: &str| -> Result<&[TokenWithSpan]> {
        let i = names.iter().position(|x| *x == n).unwrap_or(0);
        args[i].ok_or_else(|| {
            sql_err(
                open,
                format!(
                    "{}() needs its {} argument: {}",
                    func.to_uppercase(),
                    n.to_uppercase(),
                    usage(&func)
                ),
            )
        })
    };
    // DATA: `TABLE t` or `t` (SESSION may add `PARTITION BY k`, which GROUP BY implies here).
    let data = get("data")?;
    let mut d = Cursor::new(data, data.last().map_or(open, |t| t.span.end));
    d.eat_kw("TABLE");
    let source = d.object_name("the table to window")?;
    if d.eat_kws(&["PARTITION", "BY"]) {
        while d.next().is_some() {}
    }
    d.expect_end("the windowed table")?;
    // TIMECOL: DESCRIPTOR(col)
    let tc = get("timecol")?;
    let mut t = Cursor::new(tc, tc.last().map_or(open, |t| t.span.end));
    t.expect_kw("DESCRIPTOR", " (write DESCRIPTOR(event_time_column))")?;
    let dopen = t.loc();
    t.expect(&Token::LParen, "")?;
    let inner = t.until_close(dopen)?;
    let mut ic = Cursor::new(inner, dopen);
    let time_column = ic.ident("the event-time column")?;
    ic.expect_end("DESCRIPTOR(column)")?;
    t.expect_end("DESCRIPTOR(…)")?;
    let interval = |n: &str| -> Result<i64> {
        let toks = get(n)?;
        let mut ic = Cursor::new(toks, toks.last().map_or(open, |t| t.span.end));
        let v = interval_ms(&mut ic, &n.to_uppercase())?;
        ic.expect_end("the interval")?;
        Ok(v)
    };
    if names.contains(&"offset") && args[names.len() - 1].is_some() && interval("offset")? != 0 {
        return Err(sql_err(
            open,
            "window OFFSET is not supported; windows are aligned to the epoch",
        ));
    }
    let spec = match func.as_str() {
        "tumble" => WindowSpec::Tumbling {
            size_ms: interval("size")?,
        },
        // Flink's HOP takes the slide before the size.
        "hop" => hopping(interval("size")?, interval("slide")?, open)?,
        _ => WindowSpec::Session {
            gap_ms: interval("gap")?,
        },
    };
    Ok((
        Tvf {
            loc,
            source,
            time_column,
        },
        spec,
    ))
}

fn usage(func: &str) -> &'static str {
    match func {
        "tumble" => "TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE)",
        "hop" => {
            "HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND /* slide */, INTERVAL '1' MINUTE /* size */)"
        }
        _ => "SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL '30' MINUTE)",
    }
}

/// Milliseconds in one `unit`, or `None` for units of no fixed length.
pub(crate) fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "millisecond" | "milliseconds" | "ms" => 1,
        "second" | "seconds" | "s" | "sec" | "secs" => 1_000,
        "minute" | "minutes" | "m" | "min" | "mins" => 60_000,
        "hour" | "hours" | "h" => 3_600_000,
        "day" | "days" | "d" => 86_400_000,
        "week" | "weeks" => 7 * 86_400_000,
        _ => return None,
    })
}

/// `n * unit` in whole milliseconds, checked.
pub(crate) fn scaled(n: &str, unit: &str, loc: Location, what: &str) -> Result<i64> {
    let ms = unit_ms(unit).ok_or_else(|| {
        sql_err(loc, format!("{what}: unit {} is not supported (months and years have no fixed length); use MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS", unit.to_uppercase()))
    })?;
    let v: f64 = n
        .trim()
        .parse()
        .map_err(|_| sql_err(loc, format!("{what}: {n:?} is not a number")))?;
    let total = v * ms as f64;
    if !total.is_finite() || !(0.0..=1e15).contains(&total) {
        return Err(sql_err(loc, format!("{what}: {n} {unit} is out of range")));
    }
    Ok(total.round() as i64)
}

/// An interval at token level: `INTERVAL '5' SECOND`, `INTERVAL '5 SECONDS'`, `5 SECONDS`.
pub(crate) fn interval_ms(c: &mut Cursor<'_>, what: &str) -> Result<i64> {
    let loc = c.loc();
    c.eat_kw("INTERVAL");
    let value = match c.next().map(|t| &t.token) {
        Some(Token::Number(n, _)) => n.clone(),
        Some(Token::SingleQuotedString(s)) => s.clone(),
        _ => {
            return Err(sql_err(
                loc,
                format!("{what} needs a duration like `10 SECONDS` or INTERVAL '10' SECOND"),
            ));
        }
    };
    let mut parts = value.split_whitespace();
    let (n, unit) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(u), None) => (n.to_string(), u.to_string()),
        (Some(n), None, None) => {
            let uloc = c.loc();
            let unit = c.ident("a time unit").map_err(|_| {
                sql_err(
                    uloc,
                    format!("{what}: {n} what? add a unit, e.g. {n} SECONDS"),
                )
            })?;
            (n.to_string(), unit)
        }
        _ => {
            return Err(sql_err(
                loc,
                format!(
                    "{what}: cannot read the duration {value:?}; write e.g. INTERVAL '10' SECOND"
                ),
            ));
        }
    };
    let ms = scaled(&n, &unit, loc, what)?;
    // `SECOND(3)`-style precision.
    if c.peek().is_some_and(|t| t.token == Token::LParen) {
        let open = c.loc();
        c.next();
        c.until_close(open)?;
    }
    if ms == 0 && ["SIZE", "ADVANCE BY", "SESSION", "SLIDE", "GAP"].contains(&what) {
        return Err(sql_err(loc, format!("{what} must be longer than zero")));
    }
    Ok(ms)
}

/// `WATERMARK FOR col AS <this>`: `col` or `col - INTERVAL …`; the bound in milliseconds.
pub(crate) fn watermark_delay(toks: &[TokenWithSpan], col: &str, loc: Location) -> Result<u64> {
    let end = toks.last().map_or(loc, |t| t.span.end);
    let mut c = Cursor::new(toks, end);
    let hint = format!(
        "write `WATERMARK FOR {col} AS {col} - INTERVAL '5' SECOND` (bounded out-of-orderness)"
    );
    let at = c.loc();
    let name = c
        .ident("the event-time column")
        .map_err(|_| sql_err(at, hint.clone()))?;
    if name != col {
        return Err(sql_err(
            at,
            format!("the watermark expression must use {col}: {hint}"),
        ));
    }
    if c.at_end() {
        return Ok(0);
    }
    if !c.eat(&Token::Minus) {
        return Err(sql_err(
            c.loc(),
            format!("unsupported watermark expression: {hint}"),
        ));
    }
    let ms = interval_ms(&mut c, "WATERMARK")?;
    c.expect_end("the watermark interval")?;
    u64::try_from(ms).map_err(|_| sql_err(at, hint))
}
