//! Decompression of produced record batches, bounded in output size.
//!
//! A compressed batch is a few bytes that may say "a gigabyte of zeros": decompressing it
//! whole before looking at the size would let one request under the 100 MiB request limit
//! take any amount of memory. So every codec is read as a stream through [`Read::take`],
//! one byte past the caller's budget, and stops there; snappy, whose blocks state their
//! decompressed length up front, is checked against the budget before any block is
//! allocated. The codecs are the crates the `kafka-protocol` crate itself uses (flate2,
//! zstd, lz4, snap), whose own decompressors have no bound.

use std::io::Read;

use kafka_protocol::records::Compression;

/// Why a batch did not decompress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// It expands past the budget.
    TooLarge,
    /// The codec could not read it.
    Corrupt(String),
}

/// Decompresses `input` with `codec`, refusing output over `budget` bytes. Memory stays
/// within about twice the budget (the output buffer grows by doubling), plus the codec's own
/// window (at most 128 MiB for zstd, as in Kafka's broker; a few MiB for the others).
///
/// # Errors
/// [`Refusal::TooLarge`] past the budget, [`Refusal::Corrupt`] for data the codec rejects.
pub(crate) fn decompress(
    codec: Compression,
    input: &[u8],
    budget: usize,
) -> Result<Vec<u8>, Refusal> {
    let corrupt = |e: std::io::Error| Refusal::Corrupt(e.to_string());
    match codec {
        Compression::None => bounded(input, budget),
        // Several gzip members may follow each other, as Java's GZIPInputStream reads them.
        Compression::Gzip => bounded(flate2::read::MultiGzDecoder::new(input), budget),
        Compression::Zstd => bounded(
            zstd::stream::read::Decoder::with_buffer(input).map_err(corrupt)?,
            budget,
        ),
        Compression::Lz4 => bounded(lz4::Decoder::new(input).map_err(corrupt)?, budget),
        Compression::Snappy => snappy(input, budget),
    }
}

/// Reads `reader` to its end, or to one byte past `budget`.
fn bounded(reader: impl Read, budget: usize) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    let limit = u64::try_from(budget).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| Refusal::Corrupt(e.to_string()))?;
    if out.len() > budget {
        return Err(Refusal::TooLarge);
    }
    Ok(out)
}

/// Kafka's snappy: the xerial (snappy-java) framing of length-prefixed raw snappy blocks, or
/// one raw snappy block for clients that skip the framing (as Kafka's Java reader accepts).
fn snappy(input: &[u8], budget: usize) -> Result<Vec<u8>, Refusal> {
    /// snappy-java's stream header: magic, then format version 1 and compatible version 1.
    const XERIAL: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";
    let mut out = Vec::new();
    let Some(mut rest) = input.strip_prefix(XERIAL) else {
        raw_snappy(input, budget, &mut out)?;
        return Ok(out);
    };
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| Refusal::Corrupt("snappy block length cut short".into()))?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            return Err(Refusal::Corrupt(format!(
                "snappy block of {len} bytes, {} left",
                tail.len()
            )));
        }
        let (block, tail) = tail.split_at(len);
        raw_snappy(block, budget - out.len(), &mut out)?;
        rest = tail;
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, if its stated length fits in `budget`.
fn raw_snappy(block: &[u8], budget: usize, out: &mut Vec<u8>) -> Result<(), Refusal> {
    let corrupt = |e: snap::Error| Refusal::Corrupt(e.to_string());
    let len = snap::raw::decompress_len(block).map_err(corrupt)?;
    if len > budget {
        return Err(Refusal::TooLarge);
    }
    let start = out.len();
    out.resize(start + len, 0);
    let n = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(corrupt)?;
    out.truncate(start + n);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};

    /// `data` compressed as a Kafka client would (the `kafka-protocol` crate's encoders).
    fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        let put = |b: &mut BytesMut| {
            b.extend_from_slice(data);
            Ok(())
        };
        match codec {
            Compression::None => out.extend_from_slice(data),
            Compression::Gzip => Gzip::compress(&mut out, put).unwrap(),
            Compression::Snappy => Snappy::compress(&mut out, put).unwrap(),
            Compression::Lz4 => Lz4::compress(&mut out, put).unwrap(),
            Compression::Zstd => Zstd::compress(&mut out, put).unwrap(),
        }
        out.to_vec()
    }

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    #[test]
    fn every_codec_round_trips_up_to_the_budget_exactly() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for codec in CODECS {
            let packed = compress(codec, &data);
            assert_eq!(
                decompress(codec, &packed, data.len()).as_deref(),
                Ok(&data[..]),
                "{codec:?} at the budget"
            );
            assert_eq!(
                decompress(codec, &packed, data.len() - 1),
                Err(Refusal::TooLarge),
                "{codec:?} one byte over"
            );
        }
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let got = decompress(codec, b"definitely not compressed data", 1 << 20);
            assert!(
                matches!(got, Err(Refusal::Corrupt(_))),
                "{codec:?}: {got:?}"
            );
        }
        // Framed snappy whose block length runs past the end.
        let mut cut = compress(Compression::Snappy, &[7; 1000]);
        cut.truncate(cut.len() - 1);
        assert!(matches!(
            decompress(Compression::Snappy, &cut, 1 << 20),
            Err(Refusal::Corrupt(_))
        ));
    }

    #[test]
    fn several_gzip_members_and_snappy_blocks_are_read_whole() {
        let mut two = Vec::new();
        for part in [&b"first "[..], b"second"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            two.extend(e.finish().unwrap());
        }
        assert_eq!(
            decompress(Compression::Gzip, &two, 100).as_deref(),
            Ok(&b"first second"[..])
        );
        // snappy-java frames in 32 KiB blocks: the budget spans them all.
        let data = vec![3u8; 100 * 1024];
        let framed = compress(Compression::Snappy, &data);
        assert_eq!(
            decompress(Compression::Snappy, &framed, data.len()),
            Ok(data)
        );
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"raw block")
            .unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 9).as_deref(),
            Ok(&b"raw block"[..])
        );
        assert_eq!(
            decompress(Compression::Snappy, &raw, 8),
            Err(Refusal::TooLarge)
        );
    }
}
