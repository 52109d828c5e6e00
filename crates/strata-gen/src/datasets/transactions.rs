//! Card payments. Each card has a home city and pays there; now and then (about 1% of
//! payments) a card is used again within 30 seconds to 5 minutes in another city — the
//! pattern a fraud detector flags.

use std::collections::VecDeque;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::{cents, id};
use crate::words::CITIES;
use crate::{Clock, Payload, Source};

/// Categories with their typical amount range.
pub(crate) const CATEGORIES: &[(&str, f64, f64)] = &[
    ("electronics", 40.0, 900.0),
    ("books", 5.0, 60.0),
    ("groceries", 8.0, 150.0),
    ("clothing", 15.0, 250.0),
    ("home", 10.0, 400.0),
    ("toys", 5.0, 120.0),
    ("sports", 10.0, 300.0),
    ("beauty", 5.0, 90.0),
];

const MERCHANTS: &[&str] = &[
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Initech",
    "Globex",
    "Umbrella",
    "Acme",
    "Hooli",
    "Vandelay",
    "Wonka",
];

/// A fraudulent second use of a card, due at an event time.
struct Pending {
    due_ms: i64,
    card: u32,
    city: usize,
}

pub(crate) struct Transactions {
    home: Vec<usize>,
    pending: VecDeque<Pending>,
    seq: u64,
}

impl Transactions {
    pub(crate) fn new(keys: u32, rng: &mut ChaCha8Rng) -> Self {
        let home = (0..keys)
            .map(|_| rng.random_range(0..CITIES.len()))
            .collect();
        Transactions {
            home,
            pending: VecDeque::new(),
            seq: 0,
        }
    }
}

impl Source for Transactions {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.poisson(rng);
        let (card, city) = match self.pending.front() {
            Some(p) if p.due_ms <= ts => {
                let (card, city) = (p.card, p.city);
                self.pending.pop_front();
                (card, city)
            }
            _ => {
                let card = rng.random_range(0..self.home.len() as u32);
                let city = self.home[card as usize];
                if rng.random_bool(0.01) {
                    let mut other = rng.random_range(0..CITIES.len() - 1);
                    if other >= city {
                        other += 1;
                    }
                    let due_ms = ts + rng.random_range(30_000..=300_000);
                    // Keep the queue ordered by due time.
                    let at = self.pending.partition_point(|p| p.due_ms <= due_ms);
                    self.pending.insert(
                        at,
                        Pending {
                            due_ms,
                            card,
                            city: other,
                        },
                    );
                }
                (card, city)
            }
        };
        self.seq += 1;
        let (category, lo, hi) = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
        // Skewed toward small amounts: the square of a uniform draw.
        let u: f64 = rng.random();
        let amount = cents(lo + (hi - lo) * u * u);
        let card_id = id("c", card + 1);
        let (city_name, country) = CITIES[city];
        let value = json!({
            "txn_id": format!("t{:07}", self.seq),
            "ts": ts,
            "card_id": card_id,
            "merchant": MERCHANTS[rng.random_range(0..MERCHANTS.len())],
            "category": category,
            "amount": amount,
            "city": city_name,
            "country": country,
        });
        (Some(card_id), ts, Payload::Json(value))
    }
}
