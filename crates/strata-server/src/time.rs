//! Points in time as users write them: milliseconds since the epoch, RFC 3339, or relative
//! to now (`-1h`, `-30m`, `now`). Shared by the HTTP API and the CLI so both accept the same.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the accepted forms are, for error messages.
pub const TIME_FORMS: &str = "milliseconds since the Unix epoch (1700000000000), RFC 3339 (2024-05-01T12:00:00Z or with an offset like +02:00), or relative to now (-1h, -15m, -2d, now)";

pub use strata_log::now_ms;

/// Parses a point in time into milliseconds since the epoch; `now_ms` anchors relative forms.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Some(ago) = text.strip_prefix('-') {
        let d = humantime::parse_duration(ago).map_err(|e| {
            format!("cannot read {text:?} as a relative time ({e}); use {TIME_FORMS}")
        })?;
        return Ok(now_ms.saturating_sub(duration_ms(d)));
    }
    let t = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("cannot read {text:?} as a time ({e}); use {TIME_FORMS}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Parses a duration like `7d`, `10m`, `500ms`, `1h 30m` into milliseconds.
///
/// # Errors
/// A message with an example of the accepted form.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    if let Ok(ms) = text.trim().parse::<u64>() {
        return Ok(ms);
    }
    humantime::parse_duration(text.trim())
        .map(|d| duration_ms(d) as u64)
        .map_err(|e| {
            format!("cannot read {text:?} as a duration ({e}); write it like 500ms, 10m, 7d or 1h 30m (a bare number is milliseconds)")
        })
}

/// Parses a size like `16MiB`, `512KiB`, `1GB` or a plain number of bytes.
///
/// # Errors
/// A message with an example of the accepted form.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad =
        || format!("cannot read {text:?} as a size; write it like 1048576, 512KiB, 16MiB or 1GiB");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1 << 20,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        "t" | "tb" => 1000 * 1000 * 1000 * 1000,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Formats milliseconds since the epoch as RFC 3339 (UTC), for people.
pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("1700000000123", now), Ok(1_700_000_000_123));
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("-1h", now), Ok(now - 3_600_000));
        assert_eq!(parse_time("-1h 30m", now), Ok(now - 5_400_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-15T00:13:20+02:00", now),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5Z", now),
            Ok(1_700_000_000_500)
        );
        let err = parse_time("yesterday", now).unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
        assert!(parse_time("-1 fortnight", now).is_err());
    }

    #[test]
    fn parses_durations_and_sizes() {
        assert_eq!(parse_duration_ms("7d"), Ok(7 * 86_400_000));
        assert_eq!(parse_duration_ms("250"), Ok(250));
        assert!(parse_duration_ms("soon").is_err());
        assert_eq!(parse_bytes("16MiB"), Ok(16 << 20));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("2 KiB"), Ok(2048));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("99999999999999TiB").is_err());
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(format_ms(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }
}
