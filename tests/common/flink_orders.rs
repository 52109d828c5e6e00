//! The Flink orders example of the tutorial our users follow (`shared/seed`, "Flink Table
//! API"): its source table and TUMBLE query as written there, orders for it, and the oracle
//! of the query's answer. Used by the SQL tests (records over HTTP) and the Kafka tutorial
//! test (records over the Kafka protocol, `bootstrap.servers` naming the node).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Rng;

/// One hour in ms: the query's window.
pub const HOUR: i64 = 3_600_000;

/// The tutorial's source table as written there, with `bootstrap` as its
/// `'properties.bootstrap.servers'` (the tutorial's is `localhost:9092`).
pub fn orders_ddl(bootstrap: &str) -> String {
    format!(
        "CREATE TABLE orders (
        order_id STRING,
        product STRING,
        amount DOUBLE,
        order_time TIMESTAMP(3),
        WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
    ) WITH (
        'connector' = 'kafka',
        'topic' = 'orders',
        'properties.bootstrap.servers' = '{bootstrap}',
        'properties.group.id' = 'order_consumer',
        'format' = 'json',
        'scan.startup.mode' = 'earliest-offset'
    )"
    )
}

/// The tutorial's query, as written there.
pub const ORDERS_SELECT: &str = "SELECT 
        window_start, 
        window_end, 
        product, 
        SUM(amount) as total_amount,
        COUNT(*) as order_count
    FROM TABLE(
        TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' HOURS)
    )
    GROUP BY window_start, window_end, product";

/// An order: (product, order_time ms, amount).
pub type Order = (&'static str, i64, f64);

/// 200 orders from 2024-05-01 10:00 to 14:00, a few seconds out of order, then one at 15:00
/// that moves the watermark (order_time - 5 s) past the end of every earlier window. The
/// windows of the first 200 are the ones a continuous query emits (closed).
pub fn orders() -> Vec<Order> {
    let ten = 1_714_557_600_000; // 2024-05-01T10:00:00Z
    let mut rng = Rng(42);
    let products = ["tea", "jam", "bun"];
    let mut orders: Vec<Order> = (0..200)
        .map(|i| {
            (
                products[rng.below(3) as usize],
                ten + i * 72_000 + rng.below(3000) as i64,
                rng.below(100) as f64 + 0.25,
            )
        })
        .collect();
    orders.push(("tea", ten + 5 * HOUR, 1.0));
    orders
}

/// The order as the JSON a producer sends: `order_time` as SQL text, which Flink's JSON
/// format reads for a TIMESTAMP(3).
pub fn order_json(i: usize, (product, t, amount): &Order) -> Value {
    serde_json::json!({ "order_id": format!("o{i}"), "product": product,
                        "amount": amount, "order_time": sql_time(*t) })
}

/// `ms` as `2024-05-01 HH:MM:SS` (every order is on that day).
pub fn sql_time(ms: i64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // 2024-05-01 is day 19844 since the epoch.
    assert_eq!(days, 19_844);
    format!(
        "2024-05-01 {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The oracle of the orders query: (product, window start) → (total, count).
pub fn order_totals(orders: &[Order]) -> BTreeMap<(String, i64), (f64, i64)> {
    let mut totals = BTreeMap::new();
    for (product, t, amount) in orders {
        let e = totals
            .entry(((*product).to_owned(), t - t.rem_euclid(HOUR)))
            .or_insert((0.0, 0));
        e.0 += amount;
        e.1 += 1;
    }
    totals
}

/// The query's rows in the oracle's shape (checking each window is an hour long).
pub fn rows_as_totals(rows: &[Value]) -> BTreeMap<(String, i64), (f64, i64)> {
    rows.iter()
        .map(|r| {
            let start = r["window_start"].as_i64().expect("window_start");
            assert_eq!(r["window_end"].as_i64(), Some(start + HOUR), "{r}");
            (
                (r["product"].as_str().expect("product").to_owned(), start),
                (
                    r["total_amount"].as_f64().expect("total"),
                    r["order_count"].as_i64().expect("count"),
                ),
            )
        })
        .collect()
}
