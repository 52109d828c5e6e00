//! ksqlDB's quickstart stream `page_views (viewtime BIGINT, userid VARCHAR, pageid VARCHAR)`:
//! users `User_1`.. viewing pages `Page_1`.., the popular pages more often.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::{Clock, Payload, Source};

pub(crate) struct Pageviews {
    users: u32,
}

impl Pageviews {
    pub(crate) fn new(keys: u32) -> Self {
        Pageviews { users: keys }
    }
}

impl Source for Pageviews {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.poisson(rng);
        // Pages 1..=90, skewed toward low numbers.
        let u: f64 = rng.random();
        let page = 1 + (u * u * 90.0) as u32;
        let value = json!({
            "viewtime": ts,
            "userid": format!("User_{}", rng.random_range(1..=self.users)),
            "pageid": format!("Page_{page}"),
        });
        (None, ts, Payload::Json(value))
    }
}
