//! `DATE_FORMAT(ts, pattern)`: a timestamp as text, in UTC, with a Java `SimpleDateFormat`
//! pattern (what Flink's `DATE_FORMAT` takes): `yyyy-MM-dd`, `HH:mm`, ….
//!
//! The pattern is compiled once into chrono format items (calendar arithmetic is chrono's).
//! Letters: `y` (`yy` two-digit year, else the year, `yyyy` zero-padded to 4), `M` (`M`, `MM`,
//! `MMM` short name, `MMMM` full name), `d`, `H` (0–23), `h` (1–12), `m`, `s` (one letter
//! unpadded, two zero-padded), `a` (AM/PM), `E` (`E`–`EEE` short day name, `EEEE` full).
//! Text in single quotes is literal (`''` is a quote); every other non-letter is literal; any
//! other letter is an error, so a pattern never silently prints something else.
//!
//! Formatting a column remembers the last row's text: rows in the same second (or minute,
//! hour, day — the pattern's finest field) reuse it, so a column of one day's events formats
//! a date once per change rather than once per row.

use std::fmt::Write as _;

use arrow::array::{StringArray, StringBuilder, TimestampMillisecondArray};
use chrono::format::{Fixed, Item, Numeric, Pad};
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// A compiled `DATE_FORMAT` pattern.
#[derive(Debug, Clone)]
pub struct DatePattern {
    items: Vec<Item<'static>>,
    /// The length in ms of the pattern's finest field: two times in the same such interval
    /// (aligned to the epoch, UTC) format the same.
    granularity: i64,
}

fn unsupported(pattern: &str, letter: char, count: usize) -> Error {
    Error::plan(format!(
        "DATE_FORMAT(): {:?} in pattern {pattern:?} is not supported; use yyyy, yy, MM, M, MMM, MMMM, dd, d, HH, H, hh, h, mm, m, ss, s, a, E, EEEE, and quote literal text in '…'",
        std::iter::repeat_n(letter, count).collect::<String>()
    ))
}

impl DatePattern {
    /// Compiles a Java `SimpleDateFormat`-style pattern.
    ///
    /// # Errors
    /// [`Error::Plan`] naming the unsupported letter run, or an unclosed quote.
    pub fn parse(pattern: &str) -> Result<Self> {
        let mut items = Vec::new();
        let mut literal = String::new();
        let mut granularity = DAY;
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                // Quoted text up to the closing quote; '' inside is a quote.
                i += 1;
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => {
                            return Err(Error::plan(format!(
                                "DATE_FORMAT(): pattern {pattern:?} has an unclosed quote; write '' for a quote character"
                            )));
                        }
                        (Some('\''), Some('\'')) => {
                            literal.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => {
                            i += 1;
                            break;
                        }
                        (Some(&ch), _) => {
                            literal.push(ch);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal.push(c);
                i += 1;
                continue;
            }
            let count = chars[i..].iter().take_while(|&&x| x == c).count();
            i += count;
            let pad = |n: usize| if n == 1 { Pad::None } else { Pad::Zero };
            let number = |n: Numeric| -> Result<Item<'static>> {
                if count > 2 {
                    Err(unsupported(pattern, c, count))
                } else {
                    Ok(Item::Numeric(n, pad(count)))
                }
            };
            let (item, unit) = match c {
                'y' if count == 2 => (Item::Numeric(Numeric::YearMod100, Pad::Zero), DAY),
                'y' => (
                    Item::Numeric(
                        Numeric::Year,
                        if count >= 4 { Pad::Zero } else { Pad::None },
                    ),
                    DAY,
                ),
                'M' => match count {
                    1 | 2 => (Item::Numeric(Numeric::Month, pad(count)), DAY),
                    3 => (Item::Fixed(Fixed::ShortMonthName), DAY),
                    _ => (Item::Fixed(Fixed::LongMonthName), DAY),
                },
                'd' => (number(Numeric::Day)?, DAY),
                'E' if count <= 3 => (Item::Fixed(Fixed::ShortWeekdayName), DAY),
                'E' => (Item::Fixed(Fixed::LongWeekdayName), DAY),
                'H' => (number(Numeric::Hour)?, HOUR),
                'h' => (number(Numeric::Hour12)?, HOUR),
                'a' if count == 1 => (Item::Fixed(Fixed::UpperAmPm), HOUR),
                'm' => (number(Numeric::Minute)?, MINUTE),
                's' => (number(Numeric::Second)?, SECOND),
                _ => return Err(unsupported(pattern, c, count)),
            };
            if !literal.is_empty() {
                items.push(Item::OwnedLiteral(std::mem::take(&mut literal).into()));
            }
            items.push(item);
            granularity = granularity.min(unit);
        }
        if !literal.is_empty() {
            items.push(Item::OwnedLiteral(literal.into()));
        }
        Ok(DatePattern { items, granularity })
    }

    /// Formats one time (epoch ms, UTC) into `out`; false when the time is outside chrono's
    /// calendar (±262 000 years).
    fn format_into(&self, ms: i64, out: &mut String) -> std::result::Result<bool, std::fmt::Error> {
        out.clear();
        let Some(t) = DateTime::<Utc>::from_timestamp_millis(ms) else {
            return Ok(false);
        };
        write!(out, "{}", t.format_with_items(self.items.iter()))?;
        Ok(true)
    }

    /// Formats every time of `times`; NULL stays NULL, as does a time outside the calendar.
    ///
    /// # Errors
    /// `fmt::Error` if chrono cannot format a time (not expected for a valid pattern).
    pub fn format(
        &self,
        times: &TimestampMillisecondArray,
    ) -> std::result::Result<StringArray, std::fmt::Error> {
        let mut b = StringBuilder::with_capacity(times.len(), times.len() * 10);
        let mut text = String::new();
        // The interval (ms / granularity) `text` holds, and whether it was in the calendar.
        let mut last: Option<(i64, bool)> = None;
        for t in times.iter() {
            let Some(ms) = t else {
                b.append_null();
                continue;
            };
            let bucket = ms.div_euclid(self.granularity);
            let ok = match last {
                Some((l, ok)) if l == bucket => ok,
                _ => {
                    let ok = self.format_into(ms, &mut text)?;
                    last = Some((bucket, ok));
                    ok
                }
            };
            if ok {
                b.append_value(&text);
            } else {
                b.append_null();
            }
        }
        Ok(b.finish())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use super::*;

    /// 2024-03-05 07:08:09.010 UTC.
    const T: i64 = 1_709_622_489_010;

    fn fmt(pattern: &str, ms: i64) -> Option<String> {
        let p = DatePattern::parse(pattern).expect("pattern");
        let out = p
            .format(&TimestampMillisecondArray::from(vec![Some(ms)]))
            .expect("format");
        out.is_valid(0).then(|| out.value(0).to_string())
    }

    #[test]
    fn letters_and_literals() {
        assert_eq!(fmt("yyyy-MM-dd", T).as_deref(), Some("2024-03-05"));
        assert_eq!(fmt("HH:mm", T).as_deref(), Some("07:08"));
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss", T).as_deref(),
            Some("2024-03-05 07:08:09")
        );
        assert_eq!(fmt("yy/M/d H:m:s", T).as_deref(), Some("24/3/5 7:8:9"));
        assert_eq!(
            fmt("MMM MMMM E EEEE", T).as_deref(),
            Some("Mar March Tue Tuesday")
        );
        assert_eq!(fmt("hh a", T + 6 * HOUR).as_deref(), Some("01 PM"));
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH 'o''clock' ''", T).as_deref(),
            Some("2024-03-05T07 o'clock '")
        );
        assert_eq!(fmt("", T).as_deref(), Some(""));
        assert_eq!(fmt("-- : --", T).as_deref(), Some("-- : --"));
        // Before the epoch: days and hours count down from 1970-01-01 00:00 UTC.
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss", -1).as_deref(),
            Some("1969-12-31 23:59:59")
        );
        // Outside chrono's calendar: NULL.
        assert_eq!(fmt("yyyy", i64::MAX), None);
    }

    #[test]
    fn remembered_text_is_reused_only_within_the_finest_field() {
        let p = DatePattern::parse("yyyy-MM-dd HH:mm").expect("pattern");
        let day_end = (T / DAY + 1) * DAY;
        let times = TimestampMillisecondArray::from(vec![
            Some(T),
            Some(T + 1),
            None,
            Some(T + MINUTE),
            Some(day_end - 1),
            Some(day_end),
            Some(-1),
            Some(0),
        ]);
        let out = p.format(&times).expect("format");
        let got: Vec<Option<&str>> = out.iter().collect();
        assert_eq!(
            got,
            vec![
                Some("2024-03-05 07:08"),
                Some("2024-03-05 07:08"),
                None,
                Some("2024-03-05 07:09"),
                Some("2024-03-05 23:59"),
                Some("2024-03-06 00:00"),
                Some("1969-12-31 23:59"),
                Some("1970-01-01 00:00"),
            ]
        );
        // A day pattern: every time of one day, one text; the next day, the next.
        let p = DatePattern::parse("yyyy-MM-dd").expect("pattern");
        let out = p
            .format(&TimestampMillisecondArray::from(vec![day_end - 1, day_end]))
            .expect("format");
        assert_eq!(out.value(0), "2024-03-05");
        assert_eq!(out.value(1), "2024-03-06");
    }

    #[test]
    fn unsupported_letters_and_unclosed_quotes_are_errors() {
        for (pattern, shown) in [
            ("yyyy-MM-dd HH:mm:ss.SSS", "\"SSS\""),
            ("YYYY", "\"YYYY\""),
            ("ddd", "\"ddd\""),
            ("HHH", "\"HHH\""),
            ("aa", "\"aa\""),
            ("z", "\"z\""),
        ] {
            let e = DatePattern::parse(pattern).unwrap_err().to_string();
            assert!(
                e.contains(shown) && e.contains("not supported"),
                "{pattern}: {e}"
            );
        }
        let e = DatePattern::parse("yyyy 'at").unwrap_err().to_string();
        assert!(e.contains("unclosed quote"), "{e}");
    }
}
