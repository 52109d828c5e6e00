//! The wall clock, read in one place.
//!
//! Record timestamps, commit times and retention all count milliseconds since the Unix epoch
//! as an `i64` (Kafka's convention). Every layer reads the clock through [`now_ms`], so that
//! they agree on the unit and on what a clock set before 1970 means.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now (0 when the system clock is set before the epoch).
///
/// This is wall-clock time: it can jump back and forth when the clock is set. Measure
/// durations with [`std::time::Instant`] instead.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_milliseconds_since_the_epoch() {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        let ms = now_ms();
        // Within a second or two of the seconds read just before.
        assert!(
            (secs * 1000..=(secs + 2) * 1000).contains(&ms),
            "{ms} vs {secs}s"
        );
    }
}
