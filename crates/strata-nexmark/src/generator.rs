//! The event generator: event `n`'s kind follows from `n` modulo the proportions (1 person,
//! 3 auctions, 46 bids in every 50 events by default), its time from `n` and the rate, and
//! its ids from `n` too — persons and auctions are numbered densely, so bids and auctions
//! can refer to them by arithmetic. Bids favour a hot auction and a hot bidder, auctions a
//! hot seller, exactly in the reference's proportions; random references stay within the
//! recently active persons and in-flight auctions, plus a small lead into the future.
//!
//! The random choices come from one ChaCha8 stream seeded by [`NexmarkConfig::seed`], so a
//! seed gives the same events on every machine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{
    AUCTION_ID_LEAD, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID, HOT_BATCH,
    NUM_CATEGORIES, NexmarkConfig, PERSON_ID_LEAD,
};
use crate::error::Result;
use crate::model::{Auction, Bid, Event, Person};
use crate::strings::{
    FIRST_NAMES, LAST_NAMES, US_CITIES, US_STATES, next_extra, next_price, next_string,
};

/// An iterator of Nexmark events in event-id (and event-time) order.
#[derive(Debug, Clone)]
pub struct NexmarkGenerator {
    config: NexmarkConfig,
    rng: ChaCha8Rng,
    next_id: u64,
    end: Option<u64>,
    scratch: String,
}

impl NexmarkGenerator {
    /// A generator of `events` events (`None`: endless).
    ///
    /// # Errors
    /// [`crate::NexmarkError::BadSetting`] when the config is invalid.
    pub fn new(config: NexmarkConfig, events: Option<u64>) -> Result<Self> {
        config.validate()?;
        Ok(NexmarkGenerator {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            config,
            next_id: 0,
            end: events,
            scratch: String::new(),
        })
    }

    /// The config.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// Id of the next event.
    pub fn next_event_id(&self) -> u64 {
        self.next_id
    }

    fn next_person(&mut self, id: u64, ts: i64) -> Person {
        let c = &self.config;
        let rng = &mut self.rng;
        let name = format!(
            "{} {}",
            FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
            LAST_NAMES[rng.random_range(0..LAST_NAMES.len())]
        );
        let mut email = String::new();
        next_string(rng, 7, &mut email);
        email.push('@');
        next_string(rng, 5, &mut self.scratch);
        email.push_str(&self.scratch);
        email.push_str(".com");
        let mut credit_card = String::with_capacity(19);
        for i in 0..4 {
            if i > 0 {
                credit_card.push(' ');
            }
            let digits: u32 = rng.random_range(0..10_000);
            credit_card.push_str(&format!("{digits:04}"));
        }
        let city = US_CITIES[rng.random_range(0..US_CITIES.len())].to_owned();
        let state = US_STATES[rng.random_range(0..US_STATES.len())].to_owned();
        let current = 8 + name.len() + email.len() + credit_card.len() + city.len() + state.len();
        let mut extra = String::new();
        next_extra(rng, current, c.avg_person_bytes, &mut extra);
        Person {
            id: c.last_base0_person_id(id) + FIRST_PERSON_ID,
            name,
            email_address: email,
            credit_card,
            city,
            state,
            date_time: ts,
            extra,
        }
    }

    /// A random person (base 0) among the active ones, or up to the lead beyond the last.
    fn random_person(&mut self, id: u64) -> i64 {
        let people = self.config.last_base0_person_id(id) + 1;
        let active = people.min(self.config.num_active_people);
        let n = self.rng.random_range(0..active + PERSON_ID_LEAD);
        people - active + n
    }

    fn next_auction(&mut self, id: u64, ts: i64) -> Auction {
        let c = self.config.clone();
        let seller = if self.rng.random_range(0..c.hot_sellers_ratio) > 0 {
            // The first person of the latest batch of HOT_BATCH: the hot seller.
            (c.last_base0_person_id(id) / HOT_BATCH) * HOT_BATCH
        } else {
            self.random_person(id)
        };
        let category = FIRST_CATEGORY_ID + self.rng.random_range(0..NUM_CATEGORIES);
        let initial_bid = next_price(&mut self.rng);
        // Auctions last on average until num_in_flight_auctions more have been created.
        let events_for_auctions =
            (c.num_in_flight_auctions * c.total_proportion()) / c.auction_proportion;
        let horizon = c.timestamp_for_event(id + events_for_auctions as u64) - ts;
        let expires = ts + 1 + self.rng.random_range(0..(horizon * 2).max(1));
        let mut item_name = String::new();
        next_string(&mut self.rng, 20, &mut item_name);
        let mut description = String::new();
        next_string(&mut self.rng, 100, &mut description);
        let reserve = initial_bid + next_price(&mut self.rng);
        let current = 8 + item_name.len() + description.len() + 8 + 8 + 8 + 8 + 8;
        let mut extra = String::new();
        next_extra(&mut self.rng, current, c.avg_auction_bytes, &mut extra);
        Auction {
            id: c.last_base0_auction_id(id) + FIRST_AUCTION_ID,
            item_name,
            description,
            initial_bid,
            reserve,
            date_time: ts,
            expires,
            seller: seller + FIRST_PERSON_ID,
            category,
            extra,
        }
    }

    fn next_bid(&mut self, id: u64, ts: i64) -> Bid {
        let c = &self.config;
        let last_auction = c.last_base0_auction_id(id);
        let auction = if self.rng.random_range(0..c.hot_auction_ratio) > 0 {
            // The first auction of the latest batch of HOT_BATCH: the hot auction.
            (last_auction / HOT_BATCH) * HOT_BATCH
        } else {
            let min = (last_auction - c.num_in_flight_auctions).max(0);
            min + self
                .rng
                .random_range(0..last_auction - min + 1 + AUCTION_ID_LEAD)
        };
        let bidder = if self.rng.random_range(0..c.hot_bidders_ratio) > 0 {
            // The second person of the latest batch, so hot bidders are not hot sellers.
            (c.last_base0_person_id(id) / HOT_BATCH) * HOT_BATCH + 1
        } else {
            self.random_person(id)
        };
        let price = next_price(&mut self.rng);
        let (channel, url) = if self.rng.random_range(0..HOT_CHANNELS_RATIO) > 0 {
            let i = self.rng.random_range(0..HOT_CHANNELS.len());
            (HOT_CHANNELS[i].to_owned(), HOT_URLS[i].to_owned())
        } else {
            channel_and_url(self.config.seed, self.rng.random_range(0..CHANNELS))
        };
        let mut extra = String::new();
        next_extra(
            &mut self.rng,
            8 + 8 + 8 + 8 + channel.len() + url.len(),
            self.config.avg_bid_bytes,
            &mut extra,
        );
        Bid {
            auction: auction + FIRST_AUCTION_ID,
            bidder: bidder + FIRST_PERSON_ID,
            price,
            channel,
            url,
            date_time: ts,
            extra,
        }
    }
}

/// One bid in this many comes from a `channel-N` channel, the rest from a hot channel.
const HOT_CHANNELS_RATIO: u32 = 100;
/// The number of `channel-N` channels.
const CHANNELS: u32 = 10_000;
/// The hot channels and their pages.
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const HOT_URLS: [&str; 4] = [
    "https://www.nexmark.com/googl/item.htm?query=1",
    "https://www.nexmark.com/meta/item.htm?query=1",
    "https://www.nexmark.com/bidu/item.htm?query=1",
    "https://www.nexmark.com/aapl/item.htm?query=1",
];

/// Channel `n`'s name and page: three random path segments, and nine times in ten a
/// `channel_id` parameter (`n`'s bits reversed, as a 32-bit integer). Drawn from a stream of
/// its own seeded by `seed` and `n`, so a channel keeps its page (the reference caches it).
fn channel_and_url(seed: u64, n: u32) -> (String, String) {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (u64::from(n) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut url = String::from("https://www.nexmark.com");
    let mut segment = String::new();
    for _ in 0..3 {
        next_string(&mut rng, 5, &mut segment);
        url.push('/');
        url.extend(segment.chars().map(|c| if c == ' ' { '_' } else { c }));
    }
    url.push_str("/item.htm?query=1");
    if rng.random_range(0..10) > 0 {
        url.push_str(&format!("&channel_id={}", (n as i32).reverse_bits()));
    }
    (format!("channel-{n}"), url)
}

impl Iterator for NexmarkGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        if self.end.is_some_and(|end| self.next_id >= end) {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let ts = self.config.timestamp_for_event(id);
        let rem = id as i64 % self.config.total_proportion();
        Some(if rem < self.config.person_proportion {
            Event::Person(self.next_person(id, ts))
        } else if rem < self.config.person_proportion + self.config.auction_proportion {
            Event::Auction(self.next_auction(id, ts))
        } else {
            Event::Bid(self.next_bid(id, ts))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    fn events(n: u64, seed: u64) -> Vec<Event> {
        NexmarkGenerator::new(
            NexmarkConfig {
                seed,
                ..NexmarkConfig::default()
            },
            Some(n),
        )
        .expect("config")
        .collect()
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        assert_eq!(events(2000, 3), events(2000, 3));
        assert_ne!(events(2000, 3), events(2000, 4));
    }

    #[test]
    fn proportions_sizes_and_references_match_the_reference() {
        let all = events(100_000, 1);
        let count = |k: Kind| all.iter().filter(|e| e.kind() == k).count();
        assert_eq!(count(Kind::Person), 2000);
        assert_eq!(count(Kind::Auction), 6000);
        assert_eq!(count(Kind::Bid), 92_000);
        let mut sizes = [0usize; 3];
        let (mut hot_auction_bids, mut bids, mut hot_channel_bids) = (0, 0, 0);
        let mut last_person = FIRST_PERSON_ID - 1;
        let mut last_auction = FIRST_AUCTION_ID - 1;
        let mut prev_ts = i64::MIN;
        for e in &all {
            assert!(e.date_time() >= prev_ts, "event time never goes back");
            prev_ts = e.date_time();
            match e {
                Event::Person(p) => {
                    assert_eq!(p.id, last_person + 1, "persons are numbered densely");
                    last_person = p.id;
                    sizes[0] += 8
                        + p.name.len()
                        + p.email_address.len()
                        + p.credit_card.len()
                        + p.city.len()
                        + p.state.len()
                        + p.extra.len();
                }
                Event::Auction(a) => {
                    assert_eq!(a.id, last_auction + 1);
                    last_auction = a.id;
                    assert!(a.seller <= last_person + PERSON_ID_LEAD);
                    assert!((10..15).contains(&a.category));
                    assert!(a.expires > a.date_time && a.reserve >= a.initial_bid);
                    sizes[1] += 8 + a.item_name.len() + a.description.len() + 40 + a.extra.len();
                }
                Event::Bid(b) => {
                    bids += 1;
                    assert!(b.auction <= last_auction + AUCTION_ID_LEAD);
                    assert!(b.bidder <= last_person + PERSON_ID_LEAD);
                    if b.auction == ((last_auction - FIRST_AUCTION_ID) / 100) * 100 + 1000 {
                        hot_auction_bids += 1;
                    }
                    sizes[2] += 32 + b.channel.len() + b.url.len() + b.extra.len();
                    if HOT_CHANNELS.contains(&b.channel.as_str()) {
                        hot_channel_bids += 1;
                    }
                }
            }
        }
        let avg = |i: usize, n: usize| sizes[i] as f64 / n as f64;
        assert!((avg(0, 2000) - 200.0).abs() < 10.0, "{}", avg(0, 2000));
        assert!((avg(1, 6000) - 500.0).abs() < 15.0, "{}", avg(1, 6000));
        assert!((avg(2, 92_000) - 100.0).abs() < 3.0, "{}", avg(2, 92_000));
        // Half the bids go to the hot auction (hot ratio 2), plus random hits on it.
        let hot = hot_auction_bids as f64 / bids as f64;
        assert!((0.49..0.53).contains(&hot), "{hot}");
        // 99 in 100 bids come from the four hot channels.
        let hot = hot_channel_bids as f64 / bids as f64;
        assert!((0.985..0.995).contains(&hot), "{hot}");
    }

    #[test]
    fn a_channel_keeps_its_page_and_mostly_names_its_id() {
        assert_eq!(channel_and_url(1, 7), channel_and_url(1, 7));
        let with_id = (0..1000)
            .filter(|&n| {
                let (channel, url) = channel_and_url(1, n);
                assert_eq!(channel, format!("channel-{n}"));
                assert!(url.starts_with("https://www.nexmark.com/"), "{url}");
                assert_eq!(url.split('/').count(), 7, "{url}");
                url.contains("&channel_id=")
            })
            .count();
        assert!((850..950).contains(&with_id), "{with_id}");
        // Integer.reverse: channel 2's id is bit 30.
        let two = channel_and_url(3, 2).1;
        assert!(two.ends_with("&channel_id=1073741824") || !two.contains("channel_id"));
    }
}
