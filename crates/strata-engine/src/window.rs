//! Event-time window assignment for tumbling and hopping windows (sessions depend on the
//! other events of their key and live in the keyed state).

use crate::plan::WindowSpec;

/// The windows `[start, end)` that contain `ts`, oldest first.
///
/// Windows are aligned to the Unix epoch, as in Flink and ksqlDB. Sessions yield nothing here.
pub fn assign(spec: &WindowSpec, ts: i64, mut each: impl FnMut(i64, i64)) {
    match *spec {
        WindowSpec::Tumbling { size_ms } => {
            let start = ts - ts.rem_euclid(size_ms);
            each(start, start.saturating_add(size_ms));
        }
        WindowSpec::Hopping {
            size_ms,
            advance_ms,
        } => {
            let last_start = ts - ts.rem_euclid(advance_ms);
            // The oldest window that still contains ts starts after ts - size.
            let mut start = last_start;
            while start - advance_ms > ts - size_ms {
                start -= advance_ms;
            }
            while start <= last_start {
                each(start, start.saturating_add(size_ms));
                start += advance_ms;
            }
        }
        WindowSpec::Session { .. } => {}
    }
}

/// The latest window end among the windows containing `ts` (for lateness checks: a record
/// is late only when every window it belongs to has closed).
pub fn last_end(spec: &WindowSpec, ts: i64) -> i64 {
    match *spec {
        WindowSpec::Tumbling { .. } | WindowSpec::Hopping { .. } => {
            let mut end = i64::MIN;
            assign(spec, ts, |_, e| end = end.max(e));
            end
        }
        // A session holding ts ends no earlier than ts + gap.
        WindowSpec::Session { gap_ms } => ts.saturating_add(gap_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn windows(spec: WindowSpec, ts: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        assign(&spec, ts, |s, e| out.push((s, e)));
        out
    }

    #[test]
    fn tumbling_aligns_to_the_epoch_including_negative_times() {
        let t = WindowSpec::Tumbling { size_ms: 60_000 };
        assert_eq!(windows(t, 0), vec![(0, 60_000)]);
        assert_eq!(windows(t, 59_999), vec![(0, 60_000)]);
        assert_eq!(windows(t, 60_000), vec![(60_000, 120_000)]);
        assert_eq!(windows(t, -1), vec![(-60_000, 0)]);
    }

    #[test]
    fn hopping_gives_every_containing_window() {
        let h = WindowSpec::Hopping {
            size_ms: 10_000,
            advance_ms: 2_000,
        };
        assert_eq!(
            windows(h, 11_000),
            vec![
                (2_000, 12_000),
                (4_000, 14_000),
                (6_000, 16_000),
                (8_000, 18_000),
                (10_000, 20_000)
            ]
        );
        assert_eq!(last_end(&h, 11_000), 20_000);
    }

    proptest! {
        #[test]
        fn assigned_windows_are_exactly_those_containing_ts(
            ts in -1_000_000i64..1_000_000,
            size in 1i64..5_000,
            advance_div in 1i64..6,
        ) {
            let advance = (size / advance_div).max(1);
            let spec = WindowSpec::Hopping { size_ms: size, advance_ms: advance };
            let got = windows(spec, ts);
            // Brute force: every aligned start within reach.
            let mut expected = Vec::new();
            let mut s = (ts - size) - (ts - size).rem_euclid(advance);
            while s <= ts {
                if s <= ts && ts < s + size { expected.push((s, s + size)); }
                s += advance;
            }
            prop_assert_eq!(got, expected);
        }
    }
}
