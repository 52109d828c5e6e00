//! The generator's settings: the reference generator's defaults (nexmark/nexmark,
//! `NexmarkConfiguration` and `GeneratorConfig`), plus the seed and the event-time rate.

use crate::error::{NexmarkError, Result};

/// Person ids start here (as in the reference), so small runs still find matches.
pub const FIRST_PERSON_ID: i64 = 1000;
/// Auction ids start here.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// Categories are `FIRST_CATEGORY_ID .. FIRST_CATEGORY_ID + NUM_CATEGORIES`.
pub const FIRST_CATEGORY_ID: i64 = 10;
/// Number of auction categories (kept small so queries find results on small inputs).
pub const NUM_CATEGORIES: i64 = 5;
/// Person ids up to this many beyond the last generated one may be referenced: a bid or an
/// auction can name a person whose registration comes a little later.
pub const PERSON_ID_LEAD: i64 = 10;
/// Likewise for auction ids referenced by bids.
pub const AUCTION_ID_LEAD: i64 = 10;
/// Hot sellers, bidders and auctions are picked from batches of this many ids.
pub const HOT_BATCH: i64 = 100;

/// How events are generated. [`NexmarkConfig::default`] is the reference's default.
#[derive(Debug, Clone, PartialEq)]
pub struct NexmarkConfig {
    /// Seed of every random choice: the same seed gives the same events.
    pub seed: u64,
    /// Event time of event 0, ms since the epoch.
    pub base_time_ms: i64,
    /// Events per second of event time: event `n` is at `base_time + n * 1e6 / rate` µs.
    pub rate: f64,
    /// Out of every `person + auction + bid` events, this many are persons…
    pub person_proportion: i64,
    /// …this many auctions…
    pub auction_proportion: i64,
    /// …and this many bids.
    pub bid_proportion: i64,
    /// A bid is for the current hot auction with probability `1 - 1/hot_auction_ratio`.
    pub hot_auction_ratio: u32,
    /// An auction is by the current hot seller with probability `1 - 1/hot_sellers_ratio`.
    pub hot_sellers_ratio: u32,
    /// A bid is by the current hot bidder with probability `1 - 1/hot_bidders_ratio`.
    pub hot_bidders_ratio: u32,
    /// Random sellers and bidders are drawn from the latest this many persons.
    pub num_active_people: i64,
    /// Random auctions are drawn from the latest this many auctions; also sets auction length.
    pub num_in_flight_auctions: i64,
    /// Average size of a person, bytes (the `extra` field pads to it).
    pub avg_person_bytes: usize,
    /// Average size of an auction, bytes.
    pub avg_auction_bytes: usize,
    /// Average size of a bid, bytes.
    pub avg_bid_bytes: usize,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        NexmarkConfig {
            seed: 1,
            // 2024-05-01T00:00:00Z, as strata-gen's datasets.
            base_time_ms: 1_714_521_600_000,
            rate: 1_000_000.0,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            avg_person_bytes: 200,
            avg_auction_bytes: 500,
            avg_bid_bytes: 100,
        }
    }
}

impl NexmarkConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`NexmarkError::BadSetting`] naming the setting to fix.
    pub fn validate(&self) -> Result<()> {
        let bad = |setting: &'static str, reason: String| {
            Err(NexmarkError::BadSetting { setting, reason })
        };
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1e10) {
            return bad(
                "--rate",
                format!(
                    "must be events per second of event time, above 0 and at most 1e10, not {}",
                    self.rate
                ),
            );
        }
        if self.person_proportion < 1 || self.auction_proportion < 1 || self.bid_proportion < 1 {
            return bad(
                "proportions",
                "persons, auctions and bids each need a proportion of at least 1".into(),
            );
        }
        if self.hot_auction_ratio < 1 || self.hot_sellers_ratio < 1 || self.hot_bidders_ratio < 1 {
            return bad("hot ratios", "must be at least 1".into());
        }
        if self.num_active_people < 1 || self.num_in_flight_auctions < 1 {
            return bad(
                "active people / in-flight auctions",
                "must be at least 1".into(),
            );
        }
        Ok(())
    }

    /// `person + auction + bid` proportions.
    pub fn total_proportion(&self) -> i64 {
        self.person_proportion + self.auction_proportion + self.bid_proportion
    }

    /// Event time of event number `n`, ms.
    pub fn timestamp_for_event(&self, n: u64) -> i64 {
        // Whole microseconds, then ms, as the reference does (it truncates twice too).
        let delay_us = 1e6 / self.rate;
        self.base_time_ms + ((n as f64 * delay_us) as i64) / 1000
    }

    /// The id (base 0) of the last person generated at or before event `event_id`.
    pub fn last_base0_person_id(&self, event_id: u64) -> i64 {
        let total = self.total_proportion();
        let epoch = event_id as i64 / total;
        let offset = (event_id as i64 % total).min(self.person_proportion - 1);
        epoch * self.person_proportion + offset
    }

    /// The id (base 0) of the last auction generated at or before event `event_id`; −1 before
    /// the first.
    pub fn last_base0_auction_id(&self, event_id: u64) -> i64 {
        let total = self.total_proportion();
        let mut epoch = event_id as i64 / total;
        let mut offset = event_id as i64 % total;
        if offset < self.person_proportion {
            // A person is due: the last auction is the last one of the previous epoch.
            epoch -= 1;
            offset = self.auction_proportion - 1;
        } else if offset >= self.person_proportion + self.auction_proportion {
            // A bid is due: the last auction is the last one of this epoch.
            offset = self.auction_proportion - 1;
        } else {
            offset -= self.person_proportion;
        }
        epoch * self.auction_proportion + offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_proportions() {
        let c = NexmarkConfig::default();
        // Event 0 is a person (id 0), 1..=3 auctions (0..=2), 4..=49 bids.
        assert_eq!(c.last_base0_person_id(0), 0);
        assert_eq!(c.last_base0_person_id(49), 0);
        assert_eq!(c.last_base0_person_id(50), 1);
        assert_eq!(c.last_base0_auction_id(0), -1);
        assert_eq!(c.last_base0_auction_id(1), 0);
        assert_eq!(c.last_base0_auction_id(3), 2);
        assert_eq!(c.last_base0_auction_id(10), 2);
        assert_eq!(c.last_base0_auction_id(50), 2);
        assert_eq!(c.last_base0_auction_id(51), 3);
    }

    #[test]
    fn timestamps_follow_the_rate() {
        let c = NexmarkConfig {
            rate: 1000.0,
            ..NexmarkConfig::default()
        };
        assert_eq!(c.timestamp_for_event(0), c.base_time_ms);
        assert_eq!(c.timestamp_for_event(1), c.base_time_ms + 1);
        assert_eq!(c.timestamp_for_event(1500), c.base_time_ms + 1500);
        assert!(
            NexmarkConfig {
                rate: 0.0,
                ..c.clone()
            }
            .validate()
            .is_err()
        );
        assert!(c.validate().is_ok());
    }
}
