-- Real-time aggregation: total sales per category in 5-minute windows of event time (the
-- `ts` field). A transaction up to 2 minutes late (GRACE PERIOD) still updates its window,
-- which is emitted again (EMIT CHANGES); later than that, it goes to
-- sales_by_category-late. Without a WATERMARK clause the watermark trails the newest event
-- by the engine's default of 5 s.
CREATE STREAM transactions (txn_id VARCHAR, ts BIGINT, card_id VARCHAR, merchant VARCHAR,
  category VARCHAR, amount DOUBLE, city VARCHAR, country VARCHAR)
  WITH (kafka_topic='transactions', value_format='JSON', timestamp='ts');

CREATE TABLE sales_by_category AS
  SELECT category, ROUND(SUM(amount), 2) AS total_sales, COUNT(*) AS transactions
  FROM transactions
  WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 2 MINUTES)
  GROUP BY category
  EMIT CHANGES;
