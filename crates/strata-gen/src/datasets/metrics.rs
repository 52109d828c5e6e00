//! Server metrics: every host reports CPU and memory in turn at a fixed cadence (all hosts
//! once per `keys / rate` seconds). CPU follows the host's own baseline with an hourly swing
//! and noise; about 0.5% of readings are spikes to 85–100%.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::tenths;
use crate::{Clock, Payload, Source};

const ROLES: &[&str] = &["web", "api", "db", "cache"];

pub(crate) struct Metrics {
    /// (name, cpu baseline, memory baseline)
    hosts: Vec<(String, f64, f64)>,
    next: usize,
}

impl Metrics {
    pub(crate) fn new(keys: u32, rng: &mut ChaCha8Rng) -> Self {
        let hosts = (0..keys as usize)
            .map(|i| {
                let name = format!("{}-{:02}", ROLES[i % ROLES.len()], i / ROLES.len() + 1);
                (
                    name,
                    rng.random_range(15.0..45.0),
                    rng.random_range(35.0..70.0),
                )
            })
            .collect();
        Metrics { hosts, next: 0 }
    }
}

impl Source for Metrics {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.regular();
        let (host, cpu_base, mem_base) = &self.hosts[self.next];
        self.next = (self.next + 1) % self.hosts.len();
        let phase = (ts as f64 / 3_600_000.0) * std::f64::consts::TAU;
        let spike = rng.random_bool(0.005);
        let noise: f64 = rng.random_range(-4.0..4.0);
        let cpu = if spike {
            rng.random_range(85.0..100.0)
        } else {
            (cpu_base + 8.0 * phase.sin() + noise).clamp(0.0, 100.0)
        };
        let memory =
            (mem_base + 5.0 * (phase / 4.0).sin() + rng.random_range(-2.0..2.0)).clamp(0.0, 100.0);
        let value = json!({
            "ts": ts,
            "host": host,
            "cpu": tenths(cpu),
            "memory": tenths(memory),
        });
        (Some(host.clone()), ts, Payload::Json(value))
    }
}
