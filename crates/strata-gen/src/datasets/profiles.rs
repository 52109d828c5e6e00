//! User profiles: first every user's initial profile (users `u0001`.., as in the
//! clickstream), then updates — a new tier or a move to another city — of random users.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::id;
use crate::words::{CITIES, FIRST_NAMES, LAST_NAMES};
use crate::{Clock, Payload, Source};

const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

struct Profile {
    name: String,
    city: usize,
    tier: usize,
    version: u32,
}

pub(crate) struct Profiles {
    users: Vec<Option<Profile>>,
    created: usize,
}

impl Profiles {
    pub(crate) fn new(keys: u32) -> Self {
        Profiles {
            users: (0..keys).map(|_| None).collect(),
            created: 0,
        }
    }
}

impl Source for Profiles {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.poisson(rng);
        let u = if self.created < self.users.len() {
            self.created += 1;
            self.created - 1
        } else {
            rng.random_range(0..self.users.len())
        };
        let p = match &mut self.users[u] {
            Some(p) => {
                if rng.random_bool(0.5) {
                    p.tier = (p.tier + 1).min(TIERS.len() - 1);
                } else {
                    p.city = rng.random_range(0..CITIES.len());
                }
                p.version += 1;
                p
            }
            slot @ None => slot.insert(Profile {
                name: format!(
                    "{} {}",
                    FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
                    LAST_NAMES[rng.random_range(0..LAST_NAMES.len())]
                ),
                city: rng.random_range(0..CITIES.len()),
                tier: rng.random_range(0..2),
                version: 1,
            }),
        };
        let user_id = id("u", u as u32 + 1);
        let (city, country) = CITIES[p.city];
        let value = json!({
            "user_id": user_id,
            "name": p.name,
            "city": city,
            "country": country,
            "tier": TIERS[p.tier],
            "version": p.version,
            "updated_at": ts,
        });
        (Some(user_id), ts, Payload::Json(value))
    }
}
