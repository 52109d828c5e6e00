//! The clickstream: users visit in sessions (a handful of pages a few seconds to minutes
//! apart); after a session a user stays away at least 31 minutes, so sessions closed by 30
//! minutes of inactivity are what the data holds — as long as there are enough users for
//! the rate: a user makes about 6 pages per 75 minutes, so about `rate × 750` users (`--keys`)
//! are needed; with fewer, the user back soonest returns early and two sessions may merge.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::id;
use crate::{Clock, Payload, Source};

const PAGES: &[&str] = &["/", "/search", "/cart", "/checkout", "/account", "/deals"];
const REFERRERS: &[&str] = &["direct", "google", "newsletter", "facebook", "partner"];
/// How long a session may sit idle before its next page is forced, ms.
const STALE_MS: i64 = 10 * 60_000;
const DEVICES: &[&str] = &["mobile", "desktop", "tablet"];

/// A user's state.
struct User {
    /// Pages left in the current session; 0 when away.
    left: u32,
    /// Away until this event time.
    away_until: i64,
    /// Time of the user's last event.
    last_ms: i64,
    device: &'static str,
    referrer: &'static str,
}

pub(crate) struct Clickstream {
    users: Vec<User>,
}

impl Clickstream {
    pub(crate) fn new(keys: u32, start_ms: i64) -> Self {
        let users = (0..keys)
            .map(|i| User {
                left: 0,
                away_until: start_ms,
                last_ms: start_ms,
                device: DEVICES[i as usize % DEVICES.len()],
                referrer: REFERRERS[0],
            })
            .collect();
        Clickstream { users }
    }

    fn page(rng: &mut ChaCha8Rng) -> String {
        match rng.random_range(0..10) {
            0..=4 => format!("/products/{}", rng.random_range(1..=60)),
            5 => format!(
                "/category/{}",
                super::transactions::CATEGORIES[rng.random_range(0..8)].0
            ),
            _ => (*PAGES.choose(rng).unwrap_or(&"/")).to_owned(),
        }
    }
}

impl Source for Clickstream {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.poisson(rng);
        let active: Vec<usize> = (0..self.users.len())
            .filter(|&i| self.users[i].left > 0)
            .collect();
        let available: Vec<usize> = (0..self.users.len())
            .filter(|&i| self.users[i].left == 0 && self.users[i].away_until <= ts)
            .collect();
        // A session idle for 10 minutes goes on now, so that its pages stay well within the
        // 30 minutes of inactivity that would end it.
        let stale = active
            .iter()
            .copied()
            .filter(|&i| ts - self.users[i].last_ms >= STALE_MS)
            .min_by_key(|&i| self.users[i].last_ms);
        let start_new = stale.is_none()
            && (active.is_empty() || (!available.is_empty() && rng.random_bool(0.25)));
        let (u, first) = if let Some(u) = stale {
            (u, false)
        } else if start_new {
            let u = match available.choose(rng) {
                Some(&u) => u,
                // Everyone is away: the one back soonest comes back early.
                None => (0..self.users.len())
                    .min_by_key(|&i| self.users[i].away_until)
                    .unwrap_or(0),
            };
            // Session length: 1 + geometric with mean ~6 pages, at most 40.
            let mut pages = 1;
            while pages < 40 && rng.random_bool(0.83) {
                pages += 1;
            }
            self.users[u].left = pages;
            self.users[u].referrer = REFERRERS.choose(rng).copied().unwrap_or("direct");
            (u, true)
        } else {
            (*active.choose(rng).unwrap_or(&0), false)
        };
        let user = &mut self.users[u];
        user.left -= 1;
        user.last_ms = ts;
        if user.left == 0 {
            user.away_until = ts + rng.random_range(31 * 60_000..=120 * 60_000);
        }
        let page = if first {
            "/".to_owned()
        } else {
            Self::page(rng)
        };
        let action = match rng.random_range(0..20) {
            0 => "purchase",
            1..=3 => "add_to_cart",
            4..=9 => "click",
            _ => "view",
        };
        let user_id = id("u", u as u32 + 1);
        let value = json!({
            "ts": ts,
            "user_id": user_id,
            "page": page,
            "action": action,
            "referrer": if first { user.referrer } else { "internal" },
            "device": user.device,
        });
        (Some(user_id), ts, Payload::Json(value))
    }
}
