-- Flink SQL's hourly order totals, as written for Flink (issue 4). The source statement
-- is Flink's, connector properties included (strata reads its own log; the broker address
-- and group id are accepted and have no effect).
CREATE TABLE orders (order_id STRING, product STRING, amount DOUBLE, order_time TIMESTAMP(3),
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'orders', 'properties.bootstrap.servers' = 'localhost:9092',
  'properties.group.id' = 'order_consumer', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');

-- The query of issue 4, kept as a view so its rows can be queried (`strata query`); run
-- query.sql to stream the same rows as a continuous query instead.
CREATE VIEW hourly_order_totals AS
SELECT window_start, window_end, product, SUM(amount) as total_amount, COUNT(*) as order_count
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' HOURS))
GROUP BY window_start, window_end, product;
