//! IoT sensor readings: each sensor's temperature and humidity wander (random walks around a
//! site's level), and its battery drains slowly. Sensors report in turn at a fixed cadence.
//!
//! A reading carries its event time twice: `ts` (epoch milliseconds, what strata's own
//! examples declare as BIGINT) and `event_time` (the same instant as a SQL timestamp string
//! in UTC, `2024-03-01 12:00:00.250`), which the ksqlDB and Flink sensor tutorials declare as
//! `event_time TIMESTAMP` / `TIMESTAMP(3)` (docs/sql.md shows the DDL).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::tenths;
use crate::{Clock, Payload, Source};

const SITES: &[&str] = &["warehouse", "office", "greenhouse", "cold-room", "lab"];

struct State {
    name: String,
    site: &'static str,
    temperature: f64,
    humidity: f64,
    battery: f64,
}

pub(crate) struct Sensor {
    sensors: Vec<State>,
    next: usize,
}

impl Sensor {
    pub(crate) fn new(keys: u32, rng: &mut ChaCha8Rng) -> Self {
        let sensors = (0..keys as usize)
            .map(|i| {
                let site = SITES[i % SITES.len()];
                let temperature = if site == "cold-room" { 4.0 } else { 21.0 };
                State {
                    name: format!("s-{:03}", i + 1),
                    site,
                    temperature: temperature + rng.random_range(-1.0..1.0),
                    humidity: rng.random_range(35.0..60.0),
                    battery: rng.random_range(70.0..100.0),
                }
            })
            .collect();
        Sensor { sensors, next: 0 }
    }
}

impl Source for Sensor {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.regular();
        let n = self.sensors.len();
        let s = &mut self.sensors[self.next];
        self.next = (self.next + 1) % n;
        s.temperature += rng.random_range(-0.3..0.3);
        s.humidity = (s.humidity + rng.random_range(-0.8..0.8)).clamp(5.0, 95.0);
        s.battery = (s.battery - rng.random_range(0.0..0.02)).max(0.0);
        let value = json!({
            "ts": ts,
            "event_time": crate::sql_time(ts),
            "sensor_id": s.name,
            "site": s.site,
            "temperature": tenths(s.temperature),
            "humidity": tenths(s.humidity),
            "battery": tenths(s.battery),
        });
        (Some(s.name.clone()), ts, Payload::Json(value))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Dataset, Generator, Payload};

    #[test]
    fn event_time_is_ts_as_a_sql_timestamp() {
        let config = Config {
            events: Some(50),
            ..Config::default()
        };
        for e in Generator::new(Dataset::Sensor, &config).expect("sensor") {
            let Payload::Json(v) = &e.payload else {
                panic!("sensor readings are JSON")
            };
            assert_eq!(v["ts"], e.timestamp_ms);
            assert_eq!(v["event_time"], crate::sql_time(e.timestamp_ms).as_str());
        }
        assert_eq!(
            crate::sql_time(1_709_294_400_250),
            "2024-03-01 12:00:00.250"
        );
    }
}
