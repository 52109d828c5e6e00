//! Fetched records as JSON: one object per record (`partition`, `offset`, `timestamp`, the
//! key, the value as JSON, text or base64, the headers), written straight into bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::IgnoredAny;
use strata_log::RecordView;

/// How fetched values are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// `value` when the bytes are JSON, else `value_text` when UTF-8 text (no control
    /// characters but tab and line breaks), else `value_b64`.
    Auto,
    /// Always `value_b64`.
    Base64,
    /// `value_text` when UTF-8, else `value_b64`.
    Text,
}

/// Writes one record as a JSON object (no trailing newline).
pub fn write_record(out: &mut Vec<u8>, partition: u32, r: &RecordView<'_>, format: ValueFormat) {
    out.extend_from_slice(b"{\"partition\":");
    push_u64(out, u64::from(partition));
    out.extend_from_slice(b",\"offset\":");
    push_u64(out, r.offset);
    out.extend_from_slice(b",\"timestamp\":");
    if r.timestamp < 0 {
        out.push(b'-');
    }
    push_u64(out, r.timestamp.unsigned_abs());
    out.push(b',');
    match r.key {
        None => out.extend_from_slice(b"\"key\":null,"),
        Some(k) => match std::str::from_utf8(k) {
            Ok(s) => {
                out.extend_from_slice(b"\"key\":");
                write_str(out, s);
                out.push(b',');
            }
            Err(_) => {
                out.extend_from_slice(b"\"key_b64\":\"");
                out.extend_from_slice(B64.encode(k).as_bytes());
                out.extend_from_slice(b"\",");
            }
        },
    }
    write_value(out, r.value, format);
    out.extend_from_slice(b",\"headers\":[");
    for (i, h) in r.headers().enumerate() {
        let Ok((k, v)) = h else { break };
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_str(out, k);
        out.push(b',');
        match std::str::from_utf8(v) {
            Ok(s) => {
                out.extend_from_slice(b"\"value\":");
                write_str(out, s);
            }
            Err(_) => {
                out.extend_from_slice(b"\"value_b64\":\"");
                out.extend_from_slice(B64.encode(v).as_bytes());
                out.push(b'"');
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// Writes `"value": <json>` / `"value_text": ".."` / `"value_b64": ".."` (no separator).
fn write_value(out: &mut Vec<u8>, v: &[u8], format: ValueFormat) {
    // A tombstone reads back as it is produced: `"value": null`.
    if format == ValueFormat::Auto && v.is_empty() {
        out.extend_from_slice(b"\"value\":null");
        return;
    }
    if format == ValueFormat::Auto && is_json(v) {
        out.extend_from_slice(b"\"value\":");
        if v.contains(&b'\n') || v.contains(&b'\r') {
            out.extend_from_slice(&minify(v));
        } else {
            out.extend_from_slice(v);
        }
        return;
    }
    let text = match format {
        ValueFormat::Base64 => None,
        ValueFormat::Text => std::str::from_utf8(v).ok(),
        // Control characters other than line breaks and tabs mean bytes, not text.
        ValueFormat::Auto => std::str::from_utf8(v).ok().filter(|s| {
            s.bytes()
                .all(|b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'))
        }),
    };
    if let Some(s) = text {
        out.extend_from_slice(b"\"value_text\":");
        write_str(out, s);
        return;
    }
    out.extend_from_slice(b"\"value_b64\":\"");
    out.extend_from_slice(B64.encode(v).as_bytes());
    out.push(b'"');
}

/// Appends the decimal digits of `n` (`write!` costs a formatter call per number, which
/// shows in profiles of large fetches and produce responses).
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// True when `v` is one complete JSON value.
pub fn is_json(v: &[u8]) -> bool {
    match v.first() {
        // Fast reject: most non-JSON text starts with a letter other than t/f/n.
        None => false,
        Some(b) if b.is_ascii_alphabetic() && !matches!(b, b't' | b'f' | b'n') => false,
        _ => serde_json::from_slice::<IgnoredAny>(v).is_ok(),
    }
}

/// Writes a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let needs_escape = s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    if needs_escape {
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Removes insignificant whitespace from valid JSON text.
pub(super) fn minify(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !b.is_ascii_whitespace() {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_picks_json_text_or_base64() {
        let write = |v: &[u8]| {
            let mut out = Vec::new();
            write_value(&mut out, v, ValueFormat::Auto);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(write(b"{\"a\":1}"), r#""value":{"a":1}"#);
        assert_eq!(write(b"{\n\"a\": 1\n}"), r#""value":{"a":1}"#);
        assert_eq!(write(b"hello \"you\""), r#""value_text":"hello \"you\"""#);
        assert_eq!(write(b"\x00\x01"), r#""value_b64":"AAE=""#);
        assert_eq!(write(b"\xff"), r#""value_b64":"/w==""#);
        assert_eq!(write(b""), r#""value":null"#, "a tombstone");
        let mut n = Vec::new();
        for x in [0, 7, 10, 1_234_567_890, u64::MAX] {
            n.clear();
            push_u64(&mut n, x);
            assert_eq!(n, x.to_string().as_bytes());
        }
        assert!(is_json(b"true") && is_json(b" 12 ") && !is_json(b"hello") && !is_json(b"{"));
    }
}
