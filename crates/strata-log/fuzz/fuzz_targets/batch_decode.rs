//! Feeds arbitrary bytes to the batch decoder: framing, CRC check, records and headers must
//! never panic, loop forever, or read out of bounds, whatever a damaged file holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_log::BatchView;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(view) = BatchView::frame(rest) {
        let _ = view.crc_ok();
        for record in view.records() {
            let Ok(record) = record else { break };
            for header in record.headers() {
                if header.is_err() {
                    break;
                }
            }
            let _ = record.to_owned_record();
        }
        rest = &rest[view.size()..];
    }
});
