-- Session analysis: a user's session ends after 30 minutes without a click. Per session:
-- how many pages, how many distinct pages, how long (first to last click), and where the
-- user came from. Event time is the `ts` field.
CREATE STREAM clickstream (ts BIGINT, user_id VARCHAR, page VARCHAR, action VARCHAR,
  referrer VARCHAR, device VARCHAR)
  WITH (kafka_topic='clickstream', value_format='JSON', timestamp='ts');

CREATE TABLE user_sessions AS
  SELECT user_id,
         COUNT(*) AS pages,
         COUNT(DISTINCT page) AS distinct_pages,
         (MAX(ts) - MIN(ts)) / 1000 AS duration_s,
         EARLIEST_BY_OFFSET(referrer) AS referrer
  FROM clickstream
  WINDOW SESSION (30 MINUTES)
  GROUP BY user_id
  EMIT CHANGES;
