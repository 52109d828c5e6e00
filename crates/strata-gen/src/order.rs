//! Out-of-order and late arrival: each event is delayed, and events leave in the order of
//! event time + delay (ties in generation order), through a heap that holds only the events
//! whose arrival is still ahead of the newest event time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{Event, Payload};

/// Least extra delay of a late event, beyond the out-of-order bound: 1 minute.
pub const LATE_DELAY_MIN_MS: u64 = 60_000;
/// Largest extra delay of a late event, beyond the out-of-order bound: 10 minutes.
pub const LATE_DELAY_MAX_MS: u64 = 600_000;

/// An event waiting for its arrival, ordered by (arrival, sequence).
struct Pending {
    arrival_ms: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.arrival_ms, self.seq) == (other.arrival_ms, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.arrival_ms, self.seq).cmp(&(other.arrival_ms, other.seq))
    }
}

/// Delays events and releases them in arrival order.
pub(crate) struct Disorder {
    rng: ChaCha8Rng,
    bound_ms: u64,
    late_fraction: f64,
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    /// The newest event time pushed: no later event can arrive before it.
    newest_ms: i64,
}

impl Disorder {
    pub(crate) fn new(rng: ChaCha8Rng, bound_ms: u64, late_fraction: f64) -> Self {
        Disorder {
            rng,
            bound_ms,
            late_fraction,
            heap: BinaryHeap::new(),
            seq: 0,
            newest_ms: i64::MIN,
        }
    }

    /// Adds the next event (event times must not decrease).
    pub(crate) fn push(&mut self, key: Option<String>, ts: i64, payload: Payload) {
        // Both draws happen for every event so that the delays of the others do not depend
        // on the settings of this one.
        let u: f64 = self.rng.random();
        let late_draw: f64 = self.rng.random();
        let extra: u64 = self.rng.random_range(LATE_DELAY_MIN_MS..=LATE_DELAY_MAX_MS);
        let late = self.late_fraction > 0.0 && late_draw < self.late_fraction;
        let mut delay = (u * (self.bound_ms as f64 + 1.0)) as u64;
        delay = delay.min(self.bound_ms);
        if late {
            delay = self.bound_ms + extra;
        }
        let arrival_ms = ts.saturating_add(delay as i64);
        self.newest_ms = self.newest_ms.max(ts);
        self.heap.push(Reverse(Pending {
            arrival_ms,
            seq: self.seq,
            event: Event {
                key,
                timestamp_ms: ts,
                arrival_ms,
                late,
                payload,
            },
        }));
        self.seq += 1;
    }

    /// The next event whose arrival no future event can precede.
    pub(crate) fn pop_ready(&mut self) -> Option<Event> {
        let Reverse(top) = self.heap.peek()?;
        if top.arrival_ms <= self.newest_ms {
            self.heap.pop().map(|Reverse(p)| p.event)
        } else {
            None
        }
    }

    /// The next event in arrival order, ready or not (at the end of a finite stream).
    pub(crate) fn pop_any(&mut self) -> Option<Event> {
        self.heap.pop().map(|Reverse(p)| p.event)
    }
}
