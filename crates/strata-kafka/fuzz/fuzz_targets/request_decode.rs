//! Feeds arbitrary bytes to the request decoder, as one frame after its size field: the
//! prefix (API key, version, correlation id), then the header and body of every supported API
//! and version, must never panic, abort or allocate beyond the input, whatever a client sends.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    strata_kafka::fuzzing::decode_request(frame);
});
