//! Event-time window assignment for tumbling and hopping windows (sessions depend on the
//! other events of their key and live in the keyed state).

use crate::plan::WindowSpec;

/// The windows `[start, end)` that contain `ts`, oldest first.
///
/// Windows are aligned to the Unix epoch, as in Flink and ksqlDB. Sessions yield nothing here.
#[inline]
pub fn assign(spec: &WindowSpec, ts: i64, each: impl FnMut(i64, i64)) {
    let cell = step(spec).map_or(ts, |step| align_down(ts, step));
    assign_in_cell(spec, ts, cell, each);
}

/// The grid windows start on: the size of tumbling windows, the advance of hopping ones
/// (`None` for sessions).
pub fn step(spec: &WindowSpec) -> Option<i64> {
    match *spec {
        WindowSpec::Tumbling { size_ms } => Some(size_ms),
        WindowSpec::Hopping { advance_ms, .. } => Some(advance_ms),
        WindowSpec::Session { .. } => None,
    }
}

/// [`assign`] given `cell = align_down(ts, step(spec))`, which a caller can compute for a
/// whole batch in one tight loop (where the divisions overlap) before the per-row work.
#[inline]
pub fn assign_in_cell(spec: &WindowSpec, ts: i64, cell: i64, mut each: impl FnMut(i64, i64)) {
    match *spec {
        WindowSpec::Tumbling { size_ms } => {
            each(cell, cell.saturating_add(size_ms));
        }
        WindowSpec::Hopping {
            size_ms,
            advance_ms,
        } => {
            let last_start = cell;
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

/// `ts - ts.rem_euclid(step)` for `step > 0`: the multiple of `step` at or below `ts`.
///
/// Every row needs this, and a 64-bit integer division is several times slower than a
/// floating-point one on x86; the float estimate of the quotient is off by at most one step
/// (both operands are exact as `f64` below 2^52), which a comparison corrects. Larger values
/// divide.
#[inline]
pub fn align_down(ts: i64, step: i64) -> i64 {
    const EXACT: u64 = 1 << 52;
    if ts.unsigned_abs() < EXACT && step.unsigned_abs() < EXACT && step > 0 {
        // The quotient rounded toward zero (`floor` is a libm call on baseline x86-64) is at
        // most one above or below the floor; |quotient| < 2^52, so the product stays within
        // ±(|ts| + step): no overflow.
        let mut start = ((ts as f64) / (step as f64)) as i64 * step;
        if start > ts {
            start -= step;
        } else if ts - start >= step {
            start += step;
        }
        start
    } else {
        // (Wrapping: a NULL row's slot may hold any value, and its cell is never used.)
        ts.wrapping_sub(ts.rem_euclid(step))
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
        /// The float shortcut agrees with integer division everywhere: small and huge
        /// values, negative times, steps of any size, and exact multiples.
        #[test]
        fn align_down_is_the_multiple_at_or_below(
            ts in prop_oneof![any::<i64>(), -(1i64 << 53)..(1i64 << 53), -100_000i64..100_000],
            step in prop_oneof![1i64..100_000, 1i64..i64::MAX],
            exact in any::<bool>(),
        ) {
            let ts = if exact { ts.saturating_sub(ts.rem_euclid(step)) } else { ts };
            // (Below i64::MIN's own multiple there is nothing to align to.)
            let expected = ts.checked_sub(ts.rem_euclid(step));
            prop_assume!(expected.is_some());
            prop_assert_eq!(Some(align_down(ts, step)), expected);
        }

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
