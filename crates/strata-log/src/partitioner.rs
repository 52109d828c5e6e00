//! Kafka-compatible placement of keyed records on partitions.
//!
//! A producer that sends the same key to strata and to Kafka must land on the same partition
//! number, or per-key ordering breaks when traffic moves between the two. So this module
//! reproduces the Java client's default partitioner bit for bit: [`murmur2()`] is
//! `org.apache.kafka.common.utils.Utils.murmur2`, and [`partition_for_key`] is
//! `Utils.toPositive(murmur2(key)) % partitions`.

/// Kafka's murmur2 hash of `key`, as the signed 32-bit value the Java client returns.
///
/// This is MurmurHash2 with Kafka's seed `0x9747b28c`, reading 4-byte blocks little-endian
/// regardless of the host (the `murmur2` crate's endianness-neutral variant, which is what
/// Java's explicit byte shifts compute). Comparing with values logged by a Java client works
/// directly, because the result keeps Java's sign.
#[must_use]
pub fn murmur2(key: &[u8]) -> i32 {
    // Reinterpret, not convert: Java's int and this u32 hold the same 32 bits.
    ::murmur2::murmur2(key, ::murmur2::KAFKA_SEED) as i32
}

/// The partition, in `0..partitions`, that Kafka's default partitioner picks for `key`.
///
/// # Panics
///
/// If `partitions` is 0: a topic always has at least one partition, so a 0 here is a bug in
/// the caller.
#[must_use]
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    assert!(partitions > 0, "a topic has at least one partition");
    to_positive(murmur2(key)) % partitions
}

/// Kafka's `Utils.toPositive`: clears the sign bit.
///
/// Not `abs`: `i32::MIN.abs()` overflows, and any other mapping of negative hashes would
/// place keys on different partitions than Kafka does.
fn to_positive(hash: i32) -> u32 {
    (hash & 0x7fff_ffff) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Apache Kafka's `UtilsTest.testMurmur2`
    /// (`clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java`).
    const KAFKA_VECTORS: &[(&[u8], i32)] = &[
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107),
    ];

    /// A line-by-line port of Kafka's `Utils.murmur2`, kept as the model the crate-backed
    /// implementation is checked against. The Kafka vectors above only have inputs of length
    /// 2, 3 or 0 (mod 4); this port covers a one-byte tail and every other length too.
    fn kafka_reference(data: &[u8]) -> i32 {
        const SEED: i32 = 0x9747_b28c_u32 as i32;
        const M: i32 = 0x5bd1_e995;
        const R: u32 = 24;
        let length = data.len();
        let mut h = SEED ^ length as i32;
        for block in data.chunks_exact(4) {
            let mut k = i32::from_le_bytes([block[0], block[1], block[2], block[3]]);
            k = k.wrapping_mul(M);
            k ^= ((k as u32) >> R) as i32;
            k = k.wrapping_mul(M);
            h = h.wrapping_mul(M);
            h ^= k;
        }
        // Java's fall-through switch on `length % 4`.
        let tail = length & !3;
        let rest = length % 4;
        if rest >= 3 {
            h ^= i32::from(data[tail + 2]) << 16;
        }
        if rest >= 2 {
            h ^= i32::from(data[tail + 1]) << 8;
        }
        if rest >= 1 {
            h ^= i32::from(data[tail]);
            h = h.wrapping_mul(M);
        }
        h ^= ((h as u32) >> 13) as i32;
        h = h.wrapping_mul(M);
        h ^= ((h as u32) >> 15) as i32;
        h
    }

    #[test]
    fn murmur2_matches_kafka_test_vectors() {
        for &(key, expected) in KAFKA_VECTORS {
            assert_eq!(
                murmur2(key),
                expected,
                "murmur2({:?})",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn reference_port_matches_kafka_test_vectors() {
        // Validates the model itself, so the differential proptest below means something.
        for &(key, expected) in KAFKA_VECTORS {
            assert_eq!(kafka_reference(key), expected);
        }
    }

    #[test]
    fn partition_masks_the_sign_bit_like_kafka() {
        // murmur2("foobar") = -790332482; -790332482 & 0x7fffffff = 1357151166.
        assert_eq!(partition_for_key(b"foobar", 10), 1_357_151_166 % 10);
        // murmur2("abc") = 479470107 is already positive and passes through unchanged.
        assert_eq!(partition_for_key(b"abc", 7), 479_470_107 % 7);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), 0x7fff_ffff);
    }

    #[test]
    fn a_single_partition_takes_every_key() {
        for &(key, _) in KAFKA_VECTORS {
            assert_eq!(partition_for_key(key, 1), 0);
        }
    }

    #[test]
    #[should_panic(expected = "at least one partition")]
    fn zero_partitions_is_a_caller_bug() {
        let _ = partition_for_key(b"k", 0);
    }

    proptest! {
        #[test]
        fn partition_is_always_in_range(
            key in proptest::collection::vec(any::<u8>(), 0..64),
            partitions in 1u32..=u32::MAX,
        ) {
            prop_assert!(partition_for_key(&key, partitions) < partitions);
        }

        #[test]
        fn murmur2_matches_the_kafka_reference_port(
            key in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            prop_assert_eq!(murmur2(&key), kafka_reference(&key));
        }
    }
}
