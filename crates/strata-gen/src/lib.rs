//! `strata-gen`: deterministic generators of realistic event streams — clickstream,
//! transactions, metrics, text, profiles, sensor readings, and the page views and orders of
//! the ksqlDB and Flink SQL examples — for strata's examples, demo and tests.
//!
//! A [`Generator`] is an iterator of [`Event`]s in *arrival* order. Each dataset produces
//! events at increasing event times (a Poisson process at [`Config::rate`] events per
//! second, or a fixed cadence for periodic sources such as metrics); then each event is
//! delayed by a random amount up to [`Config::out_of_order_ms`] and a fraction
//! [`Config::late_fraction`] of them by a further [`LATE_DELAY_MIN_MS`] ..
//! [`LATE_DELAY_MAX_MS`], and events arrive in the order of event time + delay. So event
//! times are out of order by at most `out_of_order_ms`, except for the late ones.
//!
//! Everything is a function of the [`Config`]: the same seed gives the same events, byte for
//! byte, on every machine (ChaCha8 streams; the content and the delays come from separate
//! streams, so changing the disorder settings does not change which events there are).

mod datasets;
mod error;
mod order;
mod words;

use std::fmt;

pub use datasets::Dataset;
pub use error::{GenError, Result};
pub use order::{LATE_DELAY_MAX_MS, LATE_DELAY_MIN_MS};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// The default start of event time: 2024-05-01T00:00:00Z.
pub const DEFAULT_START_MS: i64 = 1_714_521_600_000;

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How many events; `None` for an endless stream.
    pub events: Option<u64>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Events per second of event time (the mean over the whole stream).
    pub rate: f64,
    /// Event time of the first event, ms since the epoch.
    pub start_ms: i64,
    /// Largest delay of an on-time event, ms: the bound of the disorder.
    pub out_of_order_ms: u64,
    /// Fraction (0..=1) of events delayed beyond the bound, by
    /// [`LATE_DELAY_MIN_MS`]..[`LATE_DELAY_MAX_MS`] more.
    pub late_fraction: f64,
    /// How many distinct entities (users, cards, hosts, sensors); `None` for the dataset's
    /// default ([`Dataset::default_keys`]).
    pub keys: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            events: Some(1000),
            seed: 1,
            rate: 10.0,
            start_ms: DEFAULT_START_MS,
            out_of_order_ms: 0,
            late_fraction: 0.0,
            keys: None,
        }
    }
}

impl Config {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`GenError::BadSetting`] naming the flag to fix.
    pub fn validate(&self) -> Result<()> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1e9) {
            return Err(GenError::BadSetting {
                setting: "--rate",
                reason: format!(
                    "must be a number of events per second above 0 (at most 1e9), not {}",
                    self.rate
                ),
            });
        }
        if !(0.0..=1.0).contains(&self.late_fraction) {
            return Err(GenError::BadSetting {
                setting: "--late-fraction",
                reason: format!(
                    "must be between 0 and 1 (e.g. 0.05 for 5%), not {}",
                    self.late_fraction
                ),
            });
        }
        if self.keys == Some(0) {
            return Err(GenError::BadSetting {
                setting: "--keys",
                reason: "must be at least 1".into(),
            });
        }
        if self.out_of_order_ms > 7 * 24 * 3_600_000 {
            return Err(GenError::BadSetting {
                setting: "--out-of-order-ms",
                reason: "must be at most a week (604800000)".into(),
            });
        }
        Ok(())
    }
}

/// An event's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A JSON object (every dataset but text).
    Json(Value),
    /// A line of text (the text dataset).
    Text(String),
}

/// One generated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Record key (the entity: user, card, host, ...), if the dataset has one.
    pub key: Option<String>,
    /// Event time, ms since the epoch; also in the payload's time field.
    pub timestamp_ms: i64,
    /// When the event arrives, on the event-time axis: `timestamp_ms` + its delay.
    pub arrival_ms: i64,
    /// Whether it was delayed beyond `out_of_order_ms` (one of the late fraction).
    pub late: bool,
    /// The value.
    pub payload: Payload,
}

impl Event {
    /// The value as one line: the JSON object, or the text.
    pub fn value_line(&self) -> String {
        match &self.payload {
            Payload::Json(v) => v.to_string(),
            Payload::Text(t) => t.clone(),
        }
    }

    /// The event as a record object of strata's HTTP API (`POST /v1/topics/{t}/records`,
    /// `strata produce --format records`): key, value (or `value_text`) and timestamp.
    pub fn record_json(&self) -> Value {
        let mut obj = serde_json::Map::new();
        if let Some(k) = &self.key {
            obj.insert("key".into(), Value::String(k.clone()));
        }
        match &self.payload {
            Payload::Json(v) => obj.insert("value".into(), v.clone()),
            Payload::Text(t) => obj.insert("value_text".into(), Value::String(t.clone())),
        };
        obj.insert("timestamp".into(), Value::from(self.timestamp_ms));
        Value::Object(obj)
    }
}

/// What one dataset implements: the next event in event-time order.
trait Source {
    /// The next event; `clock` gives its event time.
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload);
}

/// Event time of a stream of events at a mean rate: Poisson arrivals, or a fixed cadence.
#[derive(Debug)]
struct Clock {
    start_ms: i64,
    /// Mean gap, ms.
    gap_ms: f64,
    /// Elapsed event time since start, ms (fractional).
    elapsed: f64,
    emitted: u64,
}

impl Clock {
    /// The time of the next event of a Poisson process.
    fn poisson(&mut self, rng: &mut ChaCha8Rng) -> i64 {
        use rand::Rng;
        let u: f64 = rng.random();
        self.elapsed += -(1.0 - u).ln() * self.gap_ms;
        self.tick()
    }

    /// The time of the next event at a fixed cadence (event n at n × gap).
    fn regular(&mut self) -> i64 {
        self.elapsed = self.emitted as f64 * self.gap_ms;
        self.tick()
    }

    fn tick(&mut self) -> i64 {
        self.emitted += 1;
        self.start_ms + self.elapsed as i64
    }
}

/// The events of a dataset, in arrival order.
pub struct Generator {
    source: Box<dyn Source + Send>,
    content_rng: ChaCha8Rng,
    clock: Clock,
    disorder: order::Disorder,
    remaining: Option<u64>,
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("clock", &self.clock)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl Generator {
    /// A generator of `dataset` under `config`.
    ///
    /// # Errors
    /// [`GenError::BadSetting`] when the config does not validate.
    pub fn new(dataset: Dataset, config: &Config) -> Result<Self> {
        config.validate()?;
        let keys = config.keys.unwrap_or_else(|| dataset.default_keys());
        let mut content_rng = ChaCha8Rng::seed_from_u64(config.seed);
        let source = datasets::source(dataset, keys, config, &mut content_rng);
        let delay_rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x9e37_79b9_7f4a_7c15);
        Ok(Generator {
            source,
            content_rng,
            clock: Clock {
                start_ms: config.start_ms,
                gap_ms: 1000.0 / config.rate,
                elapsed: 0.0,
                emitted: 0,
            },
            disorder: order::Disorder::new(delay_rng, config.out_of_order_ms, config.late_fraction),
            remaining: config.events,
        })
    }
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.disorder.pop_ready() {
                return Some(e);
            }
            if self.remaining == Some(0) {
                return self.disorder.pop_any();
            }
            let (key, ts, payload) = self.source.next(&mut self.content_rng, &mut self.clock);
            if let Some(n) = &mut self.remaining {
                *n -= 1;
            }
            self.disorder.push(key, ts, payload);
        }
    }
}

/// Formats ms since the epoch as SQL `YYYY-MM-DD HH:MM:SS.fff` (UTC).
pub(crate) fn sql_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn events(d: Dataset, c: &Config) -> Vec<Event> {
        Generator::new(d, c).expect("valid").collect()
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        for d in Dataset::ALL {
            let c = Config {
                events: Some(300),
                ..Config::default()
            };
            let a = events(d, &c);
            assert_eq!(a.len(), 300, "{d}");
            assert_eq!(a, events(d, &c), "{d}");
            let other = events(d, &Config { seed: 2, ..c });
            assert_ne!(a, other, "{d}");
        }
    }

    #[test]
    fn names_parse_back_and_unknown_names_list_the_choices() {
        for d in Dataset::ALL {
            assert_eq!(d.name().parse::<Dataset>().expect("parses"), d);
        }
        let e = "clicks".parse::<Dataset>().expect_err("unknown");
        assert!(e.to_string().contains("clickstream, transactions"), "{e}");
    }

    #[test]
    fn bad_settings_name_the_flag() {
        for (c, flag) in [
            (
                Config {
                    rate: 0.0,
                    ..Config::default()
                },
                "--rate",
            ),
            (
                Config {
                    late_fraction: 1.5,
                    ..Config::default()
                },
                "--late-fraction",
            ),
            (
                Config {
                    keys: Some(0),
                    ..Config::default()
                },
                "--keys",
            ),
        ] {
            let e = Generator::new(Dataset::Metrics, &c).expect_err("bad");
            assert!(e.to_string().starts_with(flag), "{e}");
        }
    }

    #[test]
    fn the_time_field_holds_the_event_time() {
        for d in Dataset::ALL {
            for e in events(
                d,
                &Config {
                    events: Some(50),
                    ..Config::default()
                },
            ) {
                let (Some(f), Payload::Json(v)) = (d.time_field(), &e.payload) else {
                    continue;
                };
                match &v[f] {
                    Value::Number(n) => assert_eq!(n.as_i64(), Some(e.timestamp_ms)),
                    Value::String(s) => assert_eq!(s, &sql_time(e.timestamp_ms)),
                    other => panic!("{d}: {f} is {other}"),
                }
            }
        }
    }

    #[test]
    fn the_rate_sets_the_span_of_event_time() {
        let c = Config {
            events: Some(2000),
            rate: 5.0,
            ..Config::default()
        };
        let ev = events(Dataset::Transactions, &c);
        let span = ev.iter().map(|e| e.timestamp_ms).max().unwrap_or(0) - DEFAULT_START_MS;
        // 2000 events at 5/s ≈ 400 s.
        assert!((360_000..440_000).contains(&span), "{span}");
    }

    #[test]
    fn sql_time_is_utc_with_millis() {
        assert_eq!(
            sql_time(DEFAULT_START_MS + 1_250),
            "2024-05-01 00:00:01.250"
        );
    }

    #[test]
    fn clickstream_users_rest_at_least_31_minutes_between_sessions() {
        // At 0.1 events/s 100 users are enough: nobody is called back early.
        let c = Config {
            events: Some(3000),
            rate: 0.1,
            ..Config::default()
        };
        let mut last: std::collections::HashMap<String, i64> = Default::default();
        let mut gaps = 0;
        for e in events(Dataset::Clickstream, &c) {
            let k = e.key.clone().expect("keyed");
            if let Some(prev) = last.insert(k, e.timestamp_ms) {
                let gap = e.timestamp_ms - prev;
                assert!(!(30 * 60_000..31 * 60_000).contains(&gap), "gap {gap}");
                gaps += usize::from(gap >= 31 * 60_000);
            }
        }
        assert!(gaps > 50, "sessions: {gaps}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Disorder changes only the order: the same events as without it, each late by at
        /// most the bound unless it is one of the late ones, arriving in arrival order.
        #[test]
        fn disorder_is_bounded_and_only_reorders(
            seed in 0u64..1000,
            bound in 0u64..120_000,
            late in 0.0f64..0.3,
            d in 0usize..Dataset::ALL.len(),
        ) {
            let d = Dataset::ALL[d];
            let base = Config { events: Some(400), seed, ..Config::default() };
            let sorted = events(d, &base);
            let shuffled = events(d, &Config { out_of_order_ms: bound, late_fraction: late, ..base });
            let mut max_seen = i64::MIN;
            let mut prev_arrival = i64::MIN;
            for e in &shuffled {
                prop_assert!(e.arrival_ms >= prev_arrival);
                prev_arrival = e.arrival_ms;
                if !e.late {
                    prop_assert!(max_seen.saturating_sub(e.timestamp_ms) <= bound as i64);
                }
                max_seen = max_seen.max(e.timestamp_ms);
            }
            let mut back = shuffled.clone();
            back.sort_by_key(|e| e.timestamp_ms);
            let strip = |v: &[Event]| v.iter().map(|e| (e.timestamp_ms, e.key.clone(), e.value_line())).collect::<Vec<_>>();
            let mut a = strip(&sorted);
            let mut b = strip(&back);
            a.sort();
            b.sort();
            prop_assert_eq!(a, b);
        }
    }
}
