//! Orders for the batch- and serving-layer tests: a second apart over five products, every
//! 7th one 3 minutes late (the speed layer drops those; the batch layer counts them), and the
//! per-(product, minute) totals they should add up to.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strata_server::client::Client;

use super::{parse, produce_raw};

/// A minute boundary (2023-11-14T22:14:00Z).
pub const T0: i64 = 1_700_000_040_000;
/// One minute in ms.
pub const MINUTE: i64 = 60_000;

/// One order: (product, amount, event time).
pub type Order = (String, i64, i64);

/// (product, window start) → (count, sum of amounts).
pub type Totals = BTreeMap<(String, i64), (i64, i64)>;

/// Orders `first..first + n`.
pub fn orders(first: usize, n: usize) -> Vec<Order> {
    (first..first + n)
        .map(|i| {
            let mut t = T0 + i as i64 * 1000;
            if i % 7 == 6 {
                t -= 3 * MINUTE;
            }
            (format!("p{}", i % 5), (i % 11) as i64 + 1, t)
        })
        .collect()
}

/// Produces orders to topic `orders` in batches of 100; returns where each landed:
/// (partition, offset).
pub async fn produce(c: &Client, orders: &[Order]) -> Vec<(u32, u64)> {
    let mut landed = Vec::new();
    for chunk in orders.chunks(100) {
        let body: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, (product, amount, t))| {
                // Keyed by order, so every partition gets records.
                json!({
                    "key": format!("o{}", landed.len() + i),
                    "value": { "product": product, "amount": amount },
                    "timestamp": t,
                })
            })
            .collect();
        let r = produce_raw(c, "orders", Value::Array(body).to_string()).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        for o in parse(&r)["offsets"].as_array().expect("offsets") {
            landed.push((
                o["partition"].as_u64().expect("partition") as u32,
                o["offset"].as_u64().expect("offset"),
            ));
        }
    }
    landed
}

/// Count and sum per (product, one-minute window).
pub fn oracle<'a>(orders: impl Iterator<Item = &'a Order>) -> Totals {
    let mut totals = Totals::new();
    for (product, amount, t) in orders {
        let e = totals
            .entry((product.clone(), t - t.rem_euclid(MINUTE)))
            .or_insert((0, 0));
        e.0 += 1;
        e.1 += amount;
    }
    totals
}
