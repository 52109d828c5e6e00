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
    let (value, _) = bincode::serde::decode_from_slice(payload, bincode::config::standard())
        .map_err(|e| e.to_string())?;
    Ok(value)
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
}
