//! The one place that knows about bincode (pinned at 2.0.1, unmaintained): state in, bytes
//! out, inside a checked envelope so that a damaged file is reported, not misread.
//!
//! Envelope: `b"STRA"`, format version (u32 LE), CRC-32 of the payload (u32 LE), payload
//! length (u64 LE), payload (bincode, standard config, via serde).

use serde::Serialize;
use serde::de::DeserializeOwned;

const MAGIC: &[u8; 4] = b"STRA";
const VERSION: u32 = 1;
const HEADER: usize = 4 + 4 + 4 + 8;

/// Encodes `value` into an enveloped byte vector.
///
/// # Errors
/// When serde cannot serialize the value (a bug: state types are plain data).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let payload = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes an envelope written by [`encode`].
///
/// # Errors
/// A message naming what is wrong: magic, version, length, CRC, or the payload itself.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, _) =
        bincode::serde::decode_from_slice(payload(bytes)?, bincode::config::standard())
            .map_err(|e| e.to_string())?;
    Ok(value)
}

/// The checked payload of an envelope.
fn payload(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return Err("not a strata state file (bad magic)".into());
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if word(4) != VERSION {
        return Err(format!("unsupported state format version {}", word(4)));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len) as usize;
    let payload = bytes
        .get(HEADER..HEADER + len)
        .ok_or("state file is truncated")?;
    if crc32fast::hash(payload) != word(8) {
        return Err("state file fails its CRC".into());
    }
    Ok(payload)
}

/// Encodes `value` followed by `tail` in one envelope. A reader that knows only `value`'s
/// type ([`decode`]) still reads it; [`decode_with_tail`] reads both. This is how state
/// grows without breaking checkpoints written before: new parts go in the tail.
///
/// # Errors
/// As [`encode`].
pub fn encode_with_tail<T: Serialize, U: Serialize>(
    value: &T,
    tail: &U,
) -> Result<Vec<u8>, String> {
    encode(&(value, tail))
}

/// Decodes an envelope written by [`encode_with_tail`] (the tail) or by [`encode`] (no tail:
/// `None`).
///
/// # Errors
/// As [`decode`].
pub fn decode_with_tail<T: DeserializeOwned, U: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, Option<U>), String> {
    let mut parts = parts(bytes)?;
    let value = parts.read()?.ok_or("the state is empty")?;
    let tail = parts.read().map_err(|e| format!("the state's tail: {e}"))?;
    Ok((value, tail))
}

/// The values of an envelope, read one after another: what [`encode`] wrote of a tuple
/// `(a, b, c)` reads as `a`, then `b`, then `c`, then `None` ([`Parts::read`]). State grows by parts appended
/// at the end; a reader gets `None` for the parts an older writer did not write.
///
/// # Errors
/// As [`decode`], for the envelope.
pub fn parts(bytes: &[u8]) -> Result<Parts<'_>, String> {
    Ok(Parts {
        rest: payload(bytes)?,
    })
}

/// A reader of an envelope's values ([`parts`]).
#[derive(Debug)]
pub struct Parts<'a> {
    rest: &'a [u8],
}

impl Parts<'_> {
    /// The next value; `None` once every byte has been read.
    ///
    /// # Errors
    /// A message when the bytes do not decode as a `T`.
    pub fn read<T: DeserializeOwned>(&mut self) -> Result<Option<T>, String> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (value, read) =
            bincode::serde::decode_from_slice(self.rest, bincode::config::standard())
                .map_err(|e| e.to_string())?;
        self.rest = &self.rest[read..];
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let value = (vec![1u64, 2, 3], "state".to_string(), -5i64);
        let bytes = encode(&value).expect("encode");
        assert_eq!(
            decode::<(Vec<u64>, String, i64)>(&bytes).expect("decode"),
            value
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(
            decode::<(Vec<u64>, String, i64)>(&flipped)
                .unwrap_err()
                .contains("CRC")
        );
        assert!(
            decode::<(Vec<u64>, String, i64)>(&bytes[..bytes.len() - 1])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(decode::<(Vec<u64>, String, i64)>(b"nope").is_err());
    }

    #[test]
    fn a_tail_is_optional_for_old_readers_and_old_files() {
        let with = encode_with_tail(&(7u64, "s".to_string()), &Some(vec![1u8, 2])).expect("encode");
        let without = encode(&(7u64, "s".to_string())).expect("encode");
        let (v, tail) = decode_with_tail::<(u64, String), Option<Vec<u8>>>(&with).expect("decode");
        assert_eq!((v, tail), ((7, "s".into()), Some(Some(vec![1, 2]))));
        let (_, tail) =
            decode_with_tail::<(u64, String), Option<Vec<u8>>>(&without).expect("decode");
        assert_eq!(tail, None);
        assert_eq!(
            decode::<(u64, String)>(&with).expect("old reader"),
            (7, "s".to_string())
        );
    }

    #[test]
    fn parts_read_in_order_and_end_with_none() {
        let bytes = encode(&(7u64, "s".to_string(), Some(vec![1u8]))).expect("encode");
        let mut parts = parts(&bytes).expect("envelope");
        assert_eq!(parts.read::<u64>().expect("first"), Some(7));
        assert_eq!(parts.read::<String>().expect("second"), Some("s".into()));
        assert_eq!(
            parts.read::<Option<Vec<u8>>>().expect("third"),
            Some(Some(vec![1]))
        );
        assert_eq!(parts.read::<u64>().expect("past the end"), None);
        // What an older writer wrote (two parts) reads with None for the third.
        let old = encode(&(7u64, "s".to_string())).expect("encode");
        let mut parts = super::parts(&old).expect("envelope");
        parts.read::<u64>().expect("first");
        parts.read::<String>().expect("second");
        assert_eq!(parts.read::<Option<Vec<u8>>>().expect("absent"), None);
    }
}
