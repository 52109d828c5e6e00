//! Flink SQL's `orders (order_id STRING, product STRING, amount DOUBLE, order_time
//! TIMESTAMP(3))`, with `order_time` written as SQL text (`2024-05-01 00:00:01.250`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::cents;
use crate::{Clock, Payload, Source, sql_time};

const PRODUCTS: &[(&str, f64)] = &[
    ("laptop", 1200.0),
    ("phone", 800.0),
    ("headphones", 150.0),
    ("keyboard", 90.0),
    ("mouse", 35.0),
    ("monitor", 300.0),
    ("charger", 25.0),
    ("camera", 650.0),
    ("tablet", 500.0),
    ("speaker", 120.0),
    ("watch", 250.0),
    ("printer", 180.0),
    ("router", 110.0),
    ("webcam", 70.0),
    ("microphone", 95.0),
    ("drive", 140.0),
    ("cable", 12.0),
    ("desk", 350.0),
    ("chair", 280.0),
    ("lamp", 45.0),
];

pub(crate) struct Orders {
    products: usize,
    seq: u64,
}

impl Orders {
    pub(crate) fn new(keys: u32) -> Self {
        Orders {
            products: (keys as usize).clamp(1, PRODUCTS.len()),
            seq: 0,
        }
    }
}

impl Source for Orders {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.poisson(rng);
        self.seq += 1;
        let (product, price) = PRODUCTS[rng.random_range(0..self.products)];
        let qty = if rng.random_bool(0.8) {
            1.0
        } else {
            f64::from(rng.random_range(2..=4))
        };
        let amount = cents(price * qty * rng.random_range(0.85..1.1));
        let order_id = format!("o-{:06}", self.seq);
        let value = json!({
            "order_id": order_id,
            "product": product,
            "amount": amount,
            "order_time": sql_time(ts),
        });
        (Some(order_id), ts, Payload::Json(value))
    }
}
