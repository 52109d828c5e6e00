//! Feeds arbitrary bytes to the produce path's record-batch parser (framing, CRC-32C,
//! decompression, records, headers): it must refuse what is malformed without panicking,
//! aborting or looping, and never read out of bounds.
//!
//! Random bytes almost never carry a valid CRC-32C, which would stop every input at the
//! checksum; so each batch's CRC is recomputed first, as a producer would, and the fuzzer
//! reaches the records behind it. (The CRC check itself is the `kafka-protocol` crate's, and
//! tests/kafka_bad_input.rs sends a batch with a bad one to the real binary.)
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Bytes of a v2 batch header before the records; the CRC is at 17..21 and covers 21...
const HEADER: usize = 61;

fuzz_target!(|data: &[u8]| {
    let mut data = data.to_vec();
    let mut at = 0;
    while data.len() >= at + HEADER {
        let length = i32::from_be_bytes([data[at + 8], data[at + 9], data[at + 10], data[at + 11]]);
        let Some(end) = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_add(at + 12))
            .filter(|&end| end >= at + HEADER && end <= data.len())
        else {
            break;
        };
        let crc = crc32c::crc32c(&data[at + 21..end]);
        data[at + 17..at + 21].copy_from_slice(&crc.to_be_bytes());
        at = end;
    }
    strata_kafka::fuzzing::produced_records(&data);
});
