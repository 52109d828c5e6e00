//! The datasets: what each one's events look like, and the choice among them by name.

mod clickstream;
mod metrics;
mod orders;
mod pageviews;
mod profiles;
mod sensor;
mod text;
mod transactions;

use std::fmt;
use std::str::FromStr;

use rand_chacha::ChaCha8Rng;

use crate::{Config, GenError, Source};

/// A dataset the generators know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dataset {
    /// Page views and clicks of users on a shop's site, in sessions separated by 30+ minutes
    /// of inactivity. Key: `user_id`.
    Clickstream,
    /// Card payments with a category, amount and city; about 1% of cards are used again in
    /// another city within minutes (fraud). Key: `card_id`.
    Transactions,
    /// CPU and memory readings per host at a fixed cadence, with rare spikes. Key: `host`.
    Metrics,
    /// Lines of English-like text (Zipf-distributed words). No key.
    Text,
    /// User profiles: each user's first version, then updates of tier and city. Key:
    /// `user_id` (the same ids as the clickstream's).
    Profiles,
    /// Temperature, humidity and battery readings of IoT sensors. Key: `sensor_id`.
    Sensor,
    /// ksqlDB's `page_views` (`viewtime`, `userid`, `pageid`). No key.
    Pageviews,
    /// Flink SQL's `orders` (`order_id`, `product`, `amount`, `order_time` as SQL text).
    /// Key: `order_id`.
    Orders,
}

impl Dataset {
    /// Every dataset.
    pub const ALL: [Dataset; 8] = [
        Dataset::Clickstream,
        Dataset::Transactions,
        Dataset::Metrics,
        Dataset::Text,
        Dataset::Profiles,
        Dataset::Sensor,
        Dataset::Pageviews,
        Dataset::Orders,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Clickstream => "clickstream",
            Dataset::Transactions => "transactions",
            Dataset::Metrics => "metrics",
            Dataset::Text => "text",
            Dataset::Profiles => "profiles",
            Dataset::Sensor => "sensor",
            Dataset::Pageviews => "pageviews",
            Dataset::Orders => "orders",
        }
    }

    /// How many entities (users, cards, hosts, ...) when `--keys` is not given.
    pub fn default_keys(self) -> u32 {
        match self {
            Dataset::Clickstream | Dataset::Profiles | Dataset::Pageviews => 100,
            Dataset::Transactions => 500,
            Dataset::Metrics => 8,
            Dataset::Text => 1,
            Dataset::Sensor => 20,
            Dataset::Orders => 20,
        }
    }

    /// The name of the JSON field that holds the event time (`None` for text).
    pub fn time_field(self) -> Option<&'static str> {
        match self {
            Dataset::Text => None,
            Dataset::Pageviews => Some("viewtime"),
            Dataset::Orders => Some("order_time"),
            Dataset::Profiles => Some("updated_at"),
            _ => Some("ts"),
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dataset {
    type Err = GenError;

    fn from_str(s: &str) -> Result<Self, GenError> {
        Dataset::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| GenError::UnknownDataset {
                name: s.to_owned(),
                choices: Dataset::ALL.map(Dataset::name).join(", "),
            })
    }
}

/// The source of `dataset` with `keys` entities.
pub(crate) fn source(
    dataset: Dataset,
    keys: u32,
    config: &Config,
    rng: &mut ChaCha8Rng,
) -> Box<dyn Source + Send> {
    match dataset {
        Dataset::Clickstream => Box::new(clickstream::Clickstream::new(keys, config.start_ms)),
        Dataset::Transactions => Box::new(transactions::Transactions::new(keys, rng)),
        Dataset::Metrics => Box::new(metrics::Metrics::new(keys, rng)),
        Dataset::Text => Box::new(text::Text::new()),
        Dataset::Profiles => Box::new(profiles::Profiles::new(keys)),
        Dataset::Sensor => Box::new(sensor::Sensor::new(keys, rng)),
        Dataset::Pageviews => Box::new(pageviews::Pageviews::new(keys)),
        Dataset::Orders => Box::new(orders::Orders::new(keys)),
    }
}

/// `prefix` + `n` zero-padded to four digits (`u0042`).
pub(crate) fn id(prefix: &str, n: u32) -> String {
    format!("{prefix}{n:04}")
}

/// Rounds to cents.
pub(crate) fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Rounds to one decimal.
pub(crate) fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
