-- The continuous query of issue 4, as written: each hour's rows stream back once the
-- watermark passes the hour (EMIT FINAL, Flink's behaviour).
SELECT window_start, window_end, product, SUM(amount) as total_amount, COUNT(*) as order_count
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' HOURS))
GROUP BY window_start, window_end, product;
