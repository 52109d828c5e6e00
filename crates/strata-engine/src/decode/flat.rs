//! The fast path of JSON decoding: a flat object of scalars, the shape almost every event
//! has (`{"k":1234,"v":567,"ts":1700000000000}`).
//!
//! Why not serde_json alone: measured on the speed-layer benchmark, serde_json's visitor
//! machinery per record (key strings validated and matched through a seed, each value
//! scanned once as a raw value and again to convert it) cost as much as arrow-json's tape
//! decoder. This scanner accepts only a strict subset of JSON — keys of printable ASCII
//! without escapes, values that are numbers (the JSON grammar, exactly), strings without
//! escapes or control characters, `true`, `false`, `null` — and hands back the raw text of
//! each value, exactly the text serde_json's `RawValue` gives. Anything else (an escape, a
//! nested value, malformed input) makes it decline, and serde_json decides the record: so
//! every error message still comes from serde_json, and the property test of the parent
//! module checks that both paths agree.

/// The raw JSON text of a value, and its integer value when the scanner read one on the
/// way (a plain integer of at most 18 digits, which cannot overflow).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Raw<'de> {
    /// The value as written.
    pub(super) text: &'de str,
    /// Its value, if a plain integer the scanner read.
    pub(super) int: Option<i64>,
}

/// Scans `value`; on success `raw[c]` holds the last value of column `c` (as found by
/// `column`), and the value is valid JSON. Returns `false` (with `raw` in an unspecified
/// state) when the value is not a flat object of simple scalars.
pub(super) fn scan<'de>(
    value: &'de [u8],
    mut column: impl FnMut(&[u8]) -> Option<usize>,
    raw: &mut [Option<Raw<'de>>],
) -> bool {
    // Checked once for the whole value; every slice below starts and ends at ASCII
    // delimiters, so each is valid UTF-8 on its own.
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let v = text.as_bytes();
    let mut i = skip_ws(v, 0);
    if v.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_ws(v, i + 1);
    if v.get(i) == Some(&b'}') {
        return skip_ws(v, i + 1) == v.len();
    }
    loop {
        // A key: printable ASCII, no escapes.
        if v.get(i) != Some(&b'"') {
            return false;
        }
        let key_start = i + 1;
        let mut j = key_start;
        loop {
            match v.get(j) {
                Some(b'"') => break,
                Some(&b) if (0x20..0x80).contains(&b) && b != b'\\' => j += 1,
                _ => return false,
            }
        }
        let key = &v[key_start..j];
        i = skip_ws(v, j + 1);
        if v.get(i) != Some(&b':') {
            return false;
        }
        i = skip_ws(v, i + 1);
        let start = i;
        let mut int = None;
        i = match v.get(i) {
            Some(b'"') => match string_end(v, i + 1) {
                Some(end) => end,
                None => return false,
            },
            Some(b't') if v[i..].starts_with(b"true") => i + 4,
            Some(b'f') if v[i..].starts_with(b"false") => i + 5,
            Some(b'n') if v[i..].starts_with(b"null") => i + 4,
            Some(b'-' | b'0'..=b'9') => match number(v, i) {
                Some((end, value)) => {
                    int = value;
                    end
                }
                None => return false,
            },
            _ => return false,
        };
        if let Some(c) = column(key) {
            raw[c] = Some(Raw {
                text: &text[start..i],
                int,
            });
        }
        i = skip_ws(v, i);
        match v.get(i) {
            Some(b',') => i = skip_ws(v, i + 1),
            Some(b'}') => return skip_ws(v, i + 1) == v.len(),
            _ => return false,
        }
    }
}

/// JSON whitespace.
fn skip_ws(v: &[u8], mut i: usize) -> usize {
    while matches!(v.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (past the closing quote) of a string whose contents start at `i`, if it has no
/// escapes and no control characters.
fn string_end(v: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match v.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => return None,
            &b if b < 0x20 => return None,
            _ => i += 1,
        }
    }
}

/// The end of the number starting at `i`, if it follows JSON's grammar
/// (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`), and its value if it is an
/// integer of at most 18 digits: read while scanning, so the digits are walked once.
fn number(v: &[u8], mut i: usize) -> Option<(usize, Option<i64>)> {
    let digits = |mut i: usize| {
        let from = i;
        while v.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        (i > from).then_some(i)
    };
    let negative = v.get(i) == Some(&b'-');
    if negative {
        i += 1;
    }
    let from = i;
    let mut n: i64 = 0;
    match v.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => {
            // Eight digits at a time while there are (epoch millis have 13).
            while let Some(eight) = eight_digits(v, i) {
                n = n.wrapping_mul(100_000_000).wrapping_add(eight);
                i += 8;
            }
            while let Some(&d) = v.get(i).filter(|d| d.is_ascii_digit()) {
                // Wraps only past 18 digits, whose value is then not used.
                n = n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
                i += 1;
            }
        }
        _ => return None,
    }
    let mut integer = i - from <= 18;
    if v.get(i) == Some(&b'.') {
        i = digits(i + 1)?;
        integer = false;
    }
    if matches!(v.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(v.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i)?;
        integer = false;
    }
    Some((i, integer.then(|| if negative { -n } else { n })))
}

/// The value of the eight ASCII digits at `v[i..i + 8]`, if they are all digits: checked
/// and combined as one 64-bit word (the SWAR method of Lemire, "Fast numerical parsing").
fn eight_digits(v: &[u8], i: usize) -> Option<i64> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let chunk: [u8; 8] = v.get(i..i + 8)?.try_into().ok()?;
    let x = u64::from_le_bytes(chunk);
    // Every byte 0x30..=0x3F, and adding 6 to each stays below 0x40: 0x30..=0x39.
    if x & HIGH != ZEROS || x.wrapping_add(0x0606_0606_0606_0606) & HIGH != ZEROS {
        return None;
    }
    let d = x - ZEROS;
    // Pairs of digits, then fours, then all eight (first digit in the lowest byte).
    let d = (d.wrapping_mul(10) + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    let d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_FFFF_0000_FFFF;
    let d = d.wrapping_mul(10_000) + (d >> 32);
    Some((d & 0xFFFF_FFFF) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_ab(value: &str) -> Option<Vec<Option<&str>>> {
        let mut raw = vec![None; 2];
        let column = |k: &[u8]| match k {
            b"a" => Some(0),
            b"b" => Some(1),
            _ => None,
        };
        scan(value.as_bytes(), column, &mut raw)
            .then(|| raw.iter().map(|r| r.map(|r| r.text)).collect())
    }

    #[test]
    fn integers_are_read_on_the_way() {
        let int = |v: &str| {
            let mut raw = vec![None];
            assert!(scan(v.as_bytes(), |_| Some(0), &mut raw), "{v}");
            raw[0].and_then(|r| r.int)
        };
        assert_eq!(int(r#"{"a":0}"#), Some(0));
        assert_eq!(int(r#"{"a":-0}"#), Some(0));
        assert_eq!(int(r#"{"a":1700000000000}"#), Some(1_700_000_000_000));
        assert_eq!(
            int(r#"{"a":-999999999999999999}"#),
            Some(-999_999_999_999_999_999)
        );
        assert_eq!(int(r#"{"a":1000000000000000000}"#), None, "19 digits");
        assert_eq!(int(r#"{"a":12345678}"#), Some(12_345_678));
        assert_eq!(
            int(r#"{"a":9087654321234567}"#),
            Some(9_087_654_321_234_567)
        );
        assert_eq!(
            int(r#"{"a":10000000900000009}"#),
            Some(10_000_000_900_000_009)
        );
        assert_eq!(int(r#"{"a":-12345670}"#), Some(-12_345_670));
        assert_eq!(int(r#"{"a":1.0}"#), None);
        assert_eq!(int(r#"{"a":1e3}"#), None);
        assert_eq!(int(r#"{"a":"1"}"#), None);
    }

    #[test]
    fn flat_objects_give_raw_values() {
        assert_eq!(
            scan_ab(r#" { "a" : -1.5e+3 , "x":"q", "b":"s t" } "#),
            Some(vec![Some("-1.5e+3"), Some(r#""s t""#)])
        );
        assert_eq!(
            scan_ab(r#"{"a":true,"a":null}"#),
            Some(vec![Some("null"), None])
        );
        assert_eq!(scan_ab("{}"), Some(vec![None, None]));
        assert_eq!(scan_ab(r#"{"b":"é"}"#), Some(vec![None, Some(r#""é""#)]));
    }

    #[test]
    fn eight_digits_at_once() {
        assert_eq!(eight_digits(b"12345678", 0), Some(12_345_678));
        assert_eq!(eight_digits(b"x00000000", 1), Some(0));
        assert_eq!(eight_digits(b"99999999", 0), Some(99_999_999));
        for bad in [
            &b"1234567"[..],
            b"1234567a",
            b"123:5678",
            b"/2345678",
            b"1234 678",
        ] {
            assert_eq!(eight_digits(bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_serde_json() {
        for v in [
            "",
            "[]",
            "{",
            "{}}",
            "{} x",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":+1}"#,
            r#"{"a":"x\"y"}"#,
            r#"{"a\u0062":1}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":tru}"#,
            r#"{"a":nulls}"#,
            r#"{"a":1 2}"#,
            "{\"a\":\"\t\"}",
            r#"{a:1}"#,
            r#"{"é":1}"#,
        ] {
            assert_eq!(scan_ab(v), None, "{v:?}");
        }
        let mut raw = vec![None; 2];
        assert!(!scan(b"{\"a\":\"\xff\"}", |_| Some(0), &mut raw));
    }
}
