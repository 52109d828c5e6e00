//! Names of topics and groups: Kafka's rule, which also keeps them safe as directory names.

use crate::error::{Error, Result};

/// Longest allowed name (Kafka's limit).
pub const MAX_NAME_LEN: usize = 249;

/// Checks a topic or group name against Kafka's rule: 1 to 249 characters from
/// `[A-Za-z0-9._-]`, and not `.` or `..`. Such a name can never escape its directory.
///
/// # Errors
/// [`Error::InvalidName`] naming the rule that `name` breaks; `kind` ("topic", "group") is
/// only used in the message.
pub fn validate_name(kind: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("a name must not be empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("a name must be at most 249 characters")
    } else if name == "." || name == ".." {
        Some("a name must not be \".\" or \"..\"")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("a name may use only ASCII letters, digits, '.', '_' and '-'")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidName {
            kind,
            name: name.to_owned(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kafka_style_names() {
        for ok in ["a", "page_views", "orders-v2", "A.b_c-9", &"x".repeat(249)] {
            assert!(validate_name("topic", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_path_like_and_odd_names() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../etc",
            "a b",
            "ä",
            "a\0",
            "a\\b",
            &"x".repeat(250),
        ] {
            assert!(
                matches!(validate_name("topic", bad), Err(Error::InvalidName { .. })),
                "{bad:?}"
            );
        }
    }
}
